/* thread pool: the fixed chunking, which thread runs what, nesting,
 * re-creating the pool, and a per-chunk sum that does not depend on timing.
 * Every test ends with threads_init(1) so the others run single-threaded. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "threads.h"

static const size_t sizes[] = {0, 1, 2, 3, 7, 1000};

/* What one parallel_for saw. Each chunk writes only its own slot and its
 * own items, so none of this needs locking (ThreadSanitizer checks that). */
typedef struct {
    int *visits;                  /* (n) times each item was processed */
    int *owner;                   /* (n) thread index that processed it */
    int calls[L1B_MAX_THREADS];   /* chunk calls per thread index */
    size_t begin[L1B_MAX_THREADS], end[L1B_MAX_THREADS];
    pthread_t self[L1B_MAX_THREADS];
    atomic_int bad_thread;        /* calls with thread outside 0..T-1 */
    int n_threads;
} Record;

static void record_chunk(void *ctx, size_t begin, size_t end, int thread)
{
    Record *r = ctx;
    if (thread < 0 || thread >= r->n_threads) {
        atomic_fetch_add(&r->bad_thread, 1);
        return;
    }
    r->calls[thread]++;
    r->begin[thread] = begin;
    r->end[thread] = end;
    r->self[thread] = pthread_self();
    for (size_t i = begin; i < end; i++) {
        r->visits[i]++;
        r->owner[i] = thread;
    }
}

static size_t formula(size_t n, int t, int T) { return (size_t)t * n / (size_t)T; }

/* the chunk that holds item i */
static int chunk_of(size_t i, size_t n, int T)
{
    int t = 0;
    while (formula(n, t + 1, T) <= i) t++;
    return t;
}

TEST(threads_visit_each_item_once_in_formula_chunks)
{
    pthread_t caller = pthread_self();
    for (int T = 1; T <= 4; T++) {
        CHECK_EQ(threads_init(T), T);
        CHECK_EQ(threads_count(), T);
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            Record r = {.n_threads = T};
            r.visits = calloc(n + 1, sizeof *r.visits);
            r.owner = calloc(n + 1, sizeof *r.owner);
            parallel_for(n, record_chunk, &r);
            CHECK_EQ(atomic_load(&r.bad_thread), 0);
            for (size_t i = 0; i < n; i++) CHECK_EQ(r.visits[i], 1);
            for (int t = 0; t < T; t++) {
                size_t b = formula(n, t, T), e = formula(n, t + 1, T);
                if (b == e) {  /* empty chunks are not called */
                    CHECK_EQ(r.calls[t], 0);
                    continue;
                }
                CHECK_EQ(r.calls[t], 1);
                CHECK_EQ(r.begin[t], b);
                CHECK_EQ(r.end[t], e);
                for (size_t i = b; i < e; i++) CHECK_EQ(r.owner[i], t);
                /* chunk 0 on the caller, every other on a worker of its own */
                CHECK(pthread_equal(r.self[t], caller) == (t == 0));
                for (int u = 1; u < t; u++)
                    if (r.calls[u]) CHECK(!pthread_equal(r.self[t], r.self[u]));
            }
            free(r.visits);
            free(r.owner);
        }
    }
    threads_init(1);
}

TEST(threads_chunks_of_1000_items_on_3_threads)
{
    /* the partition spelled out: 1000/3 splits as 333, 333, 334 */
    CHECK_EQ(threads_init(3), 3);
    Record r = {.n_threads = 3};
    r.visits = calloc(1000, sizeof *r.visits);
    r.owner = calloc(1000, sizeof *r.owner);
    parallel_for(1000, record_chunk, &r);
    CHECK_EQ(r.begin[0], 0);
    CHECK_EQ(r.end[0], 333);
    CHECK_EQ(r.begin[1], 333);
    CHECK_EQ(r.end[1], 666);
    CHECK_EQ(r.begin[2], 666);
    CHECK_EQ(r.end[2], 1000);
    /* 2 items on 3 threads: chunk 0 is [0, 0) and is skipped */
    Record s = {.n_threads = 3};
    s.visits = r.visits;
    s.owner = r.owner;
    parallel_for(2, record_chunk, &s);
    CHECK_EQ(s.calls[0], 0);
    CHECK_EQ(s.calls[1], 1);
    CHECK_EQ(s.calls[2], 1);
    CHECK_EQ(s.end[1], 1);
    CHECK_EQ(s.end[2], 2);
    free(r.visits);
    free(r.owner);
    threads_init(1);
}

/* Outer loop over rows; each row is filled by a nested parallel_for. */
typedef struct {
    int visits[5][10];
    int inner_thread[5];     /* thread index the nested call reported */
    int inner_calls[5];      /* nested fn calls per row */
    size_t inner_end[5];
    int outer_thread[5];
} Nest;

typedef struct { Nest *nest; int row; } NestRow;

static void fill_row(void *ctx, size_t begin, size_t end, int thread)
{
    NestRow *nr = ctx;
    Nest *s = nr->nest;
    s->inner_calls[nr->row]++;
    s->inner_thread[nr->row] = thread;
    s->inner_end[nr->row] = end;
    for (size_t j = begin; j < end; j++) s->visits[nr->row][j]++;
}

static void fill_rows(void *ctx, size_t begin, size_t end, int thread)
{
    for (size_t i = begin; i < end; i++) {
        NestRow nr = {ctx, (int)i};
        ((Nest *)ctx)->outer_thread[i] = thread;
        parallel_for(10, fill_row, &nr);
    }
}

TEST(threads_nested_parallel_for_runs_inline)
{
    for (int T = 1; T <= 3; T++) {
        threads_init(T);
        Nest s = {0};
        parallel_for(5, fill_rows, &s);
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 10; j++) CHECK_EQ(s.visits[i][j], 1);
            /* one serial call over the whole inner range, same thread index */
            CHECK_EQ(s.inner_calls[i], 1);
            CHECK_EQ(s.inner_end[i], 10);
            CHECK_EQ(s.outer_thread[i], chunk_of((size_t)i, 5, T));
            CHECK_EQ(s.inner_thread[i], s.outer_thread[i]);
        }
    }
    threads_init(1);
}

static void count_items(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    int *visits = ctx;
    for (size_t i = begin; i < end; i++) visits[i]++;
}

static int all_visited_once(size_t n)
{
    int *v = calloc(n, sizeof *v);
    parallel_for(n, count_items, v);
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok &= v[i] == 1;
    free(v);
    return ok;
}

TEST(threads_reinit_to_other_counts)
{
    CHECK_EQ(threads_init(3), 3);
    CHECK_EQ(threads_init(3), 3);  /* same count: pool kept */
    CHECK(all_visited_once(1000));
    CHECK_EQ(threads_init(2), 2);
    CHECK(all_visited_once(1000));
    CHECK_EQ(threads_init(4), 4);
    CHECK(all_visited_once(1000));

    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int want = online < 1 ? 1 : online > L1B_MAX_THREADS ? L1B_MAX_THREADS : (int)online;
    CHECK_EQ(threads_init(0), want);
    CHECK_EQ(threads_init(-1), want);
    CHECK(all_visited_once(1000));

    CHECK_EQ(threads_init(L1B_MAX_THREADS + 100), L1B_MAX_THREADS);
    CHECK(all_visited_once(1000));
    CHECK(all_visited_once(5));  /* most chunks empty */

    threads_shutdown();
    CHECK_EQ(threads_count(), 1);
    CHECK(all_visited_once(1000));
    threads_shutdown();  /* twice is fine */
    CHECK_EQ(threads_init(2), 2);
    CHECK(all_visited_once(1000));
    threads_init(1);
    CHECK_EQ(threads_count(), 1);
}

/* Sums of i and of 1/(i+1) over items, one partial per thread slot. */
typedef struct {
    long long isum[L1B_MAX_THREADS];
    float fsum[L1B_MAX_THREADS];
} Sums;

static void partial_sums(void *ctx, size_t begin, size_t end, int thread)
{
    Sums *s = ctx;
    for (size_t i = begin; i < end; i++) {
        s->isum[thread] += (long long)i;
        s->fsum[thread] += 1.0f / (float)(i + 1);
    }
}

TEST(threads_per_chunk_sums_added_in_thread_order)
{
    const size_t n = 1000;
    for (int T = 1; T <= 4; T++) {
        threads_init(T);
        for (int rep = 0; rep < 20; rep++) {  /* same bits whatever the timing */
            Sums s = {{0}, {0}};
            parallel_for(n, partial_sums, &s);
            long long itotal = 0;
            float ftotal = 0, want = 0;
            for (int t = 0; t < T; t++) {
                itotal += s.isum[t];
                ftotal += s.fsum[t];
                /* the same chunk sums, serially */
                float part = 0;
                for (size_t i = formula(n, t, T); i < formula(n, t + 1, T); i++)
                    part += 1.0f / (float)(i + 1);
                want += part;
            }
            CHECK_EQ(itotal, 499500);  /* 0 + 1 + ... + 999 */
            CHECK(ftotal == want);
        }
    }
    threads_init(1);
}

static void inner_init(void *ctx, size_t begin, size_t end, int thread)
{
    (void)begin, (void)end;
    if (thread == 0) *(int *)ctx = threads_init(4);
}

TEST(threads_init_inside_a_job_changes_nothing)
{
    threads_init(2);
    int got = 0;
    parallel_for(2, inner_init, &got);
    CHECK_EQ(got, 2);
    CHECK_EQ(threads_count(), 2);
    threads_init(1);
}
