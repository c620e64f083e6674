/* thread pool: the chunking, chunks claimed by whichever thread is free,
 * nesting, re-creating the pool, sums that do not depend on timing, the
 * default thread count.
 * Every test ends with threads_init(1) so the others run single-threaded. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE  /* sched_setaffinity */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "threads.h"

static const size_t sizes[] = {0, 1, 2, 3, 7, 17, 1000};

/* What one parallel_for saw: each chunk call appends its range to the list
 * under an atomic index, and counts the items it visited. */
typedef struct {
    atomic_int *visits;           /* (n) times each item was processed */
    size_t begin[256], end[256];  /* the chunk calls, in completion order */
    int thread[256];
    atomic_int n_calls;
    atomic_int calls_by[L1B_MAX_THREADS];
    atomic_int busy[L1B_MAX_THREADS];  /* a chunk is running on this index */
    atomic_int overlap;                /* two chunks ran on one index at once */
    atomic_int bad_thread;             /* calls with thread outside 0..T-1 */
    int n_threads;
} Record;

static void record_chunk(void *ctx, size_t begin, size_t end, int thread)
{
    Record *r = ctx;
    if (thread < 0 || thread >= r->n_threads) {
        atomic_fetch_add(&r->bad_thread, 1);
        return;
    }
    if (atomic_exchange(&r->busy[thread], 1)) atomic_fetch_add(&r->overlap, 1);
    int k = atomic_fetch_add(&r->n_calls, 1);
    if (k < 256) {
        r->begin[k] = begin;
        r->end[k] = end;
        r->thread[k] = thread;
    }
    atomic_fetch_add(&r->calls_by[thread], 1);
    for (size_t i = begin; i < end; i++) atomic_fetch_add(&r->visits[i], 1);
    sched_yield();  /* give the other threads a chance to overlap */
    atomic_store(&r->busy[thread], 0);
}

static size_t formula(size_t n, size_t c, size_t k) { return c * n / k; }

TEST(threads_visit_each_item_once_in_formula_chunks)
{
    threads_follow_load(0);  /* as main() does: every thread takes part */
    for (int T = 1; T <= 4; T++) {
        CHECK_EQ(threads_init(T), T);
        CHECK_EQ(threads_count(), T);
        for (int rep = 0; rep < 10; rep++)
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
                size_t n = sizes[si];
                Record *r = calloc(1, sizeof *r);
                r->n_threads = T;
                r->visits = calloc(n + 1, sizeof *r->visits);
                parallel_for(n, record_chunk, r);
                CHECK_EQ(atomic_load(&r->bad_thread), 0);
                CHECK_EQ(atomic_load(&r->overlap), 0);
                for (size_t i = 0; i < n; i++) CHECK_EQ(atomic_load(&r->visits[i]), 1);
                /* one call over everything on one thread; else the chunks
                 * of the formula, each called once, whoever ran it */
                size_t k = T == 1 ? (n > 0) : parallel_chunks(n, T);
                CHECK_EQ((size_t)atomic_load(&r->n_calls), k);
                for (int c = 0; c < atomic_load(&r->n_calls); c++) {
                    size_t b = r->begin[c];
                    size_t idx = 0;
                    while (idx < k && formula(n, idx, k) != b) idx++;
                    CHECK(idx < k);
                    CHECK_EQ(r->end[c], T == 1 ? n : formula(n, idx + 1, k));
                }
                free(r->visits);
                free(r);
            }
    }
    threads_init(1);
}

/* Many short jobs back to back, as a training step runs them, pool and
 * inline (below parallel_for_min's minimum) mixed, each over a context
 * that is marked dead when parallel_for returns and reused two jobs
 * later: a chunk that ran after its job returned would count as late or
 * land in another job's visits. */
typedef struct {
    atomic_int alive, visits, late;
} Job;

static void job_chunk(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    Job *j = ctx;
    if (!atomic_load(&j->alive)) atomic_fetch_add(&j->late, 1);
    atomic_fetch_add(&j->visits, (int)(end - begin));
}

TEST(threads_no_chunk_runs_after_its_job_returned)
{
    threads_follow_load(0);
    for (int T = 2; T <= 3; T++) {
        threads_init(T);
        Job jobs[2];
        for (int i = 0; i < 2; i++) atomic_init(&jobs[i].alive, 0), atomic_init(&jobs[i].visits, 0),
                                    atomic_init(&jobs[i].late, 0);
        int wrong = 0;
        for (int i = 0; i < 20000; i++) {
            Job *j = &jobs[i % 2];
            size_t n = 1 + (size_t)i % 13;
            atomic_store(&j->visits, 0);
            atomic_store(&j->alive, 1);
            if (i % 3 == 2) parallel_for_min(n, 0, 1, job_chunk, j);
            else parallel_for(n, job_chunk, j);
            atomic_store(&j->alive, 0);
            if ((size_t)atomic_load(&j->visits) != n) wrong++;
        }
        CHECK_EQ(wrong, 0);
        CHECK_EQ(atomic_load(&jobs[0].late) + atomic_load(&jobs[1].late), 0);
    }
    threads_init(1);
}

TEST(threads_active_counts_the_cpus_left_free)
{
    CHECK_EQ(threads_active(2, 2, 2, 0), 2);      /* idle */
    CHECK_EQ(threads_active(2, 2, 2, 0.4), 2);
    CHECK_EQ(threads_active(2, 2, 2, 0.6), 1);    /* a core's worth busy elsewhere */
    CHECK_EQ(threads_active(2, 2, 2, 1), 1);
    CHECK_EQ(threads_active(2, 2, 2, 5), 1);      /* never below one */
    CHECK_EQ(threads_active(8, 16, 16, 4), 8);    /* never above the pool */
    CHECK_EQ(threads_active(8, 8, 8, 3), 5);
    CHECK_EQ(threads_active(4, 2, 2, 0), 2);      /* more threads than CPUs */
    CHECK_EQ(threads_active(2, 2, 8, 6), 2);      /* taskset to 2 of 8, the others busy elsewhere */
    CHECK_EQ(threads_active(4, 4, 8, 6), 2);
}

TEST(threads_chunks_of_1000_items_on_3_threads)
{
    /* the partition spelled out: PARALLEL_CHUNKS_PER_THREAD chunks a
     * thread, 1000 items in chunks of 1000/K or one more */
    size_t K = 3 * PARALLEL_CHUNKS_PER_THREAD;
    CHECK_EQ(parallel_chunks(1000, 3), K);
    for (size_t c = 0; c < K; c++) {
        size_t len = parallel_chunk_begin(1000, c + 1, K) - parallel_chunk_begin(1000, c, K);
        CHECK(len == 1000 / K || len == 1000 / K + 1);
    }
    CHECK_EQ(parallel_chunk_begin(1000, 0, K), 0);
    CHECK_EQ(parallel_chunk_begin(1000, K, K), 1000);
    /* one chunk a thread: [0, 333), [333, 666), [666, 1000) */
    CHECK_EQ(parallel_chunk_begin(1000, 1, 3), 333);
    CHECK_EQ(parallel_chunk_begin(1000, 2, 3), 666);
    CHECK_EQ(parallel_chunk_begin(1000, 23, 24), 958);
    /* fewer items than chunks: one item each */
    CHECK_EQ(parallel_chunks(2, 3), 2);
    CHECK_EQ(parallel_chunks(0, 3), 0);
    CHECK_EQ(parallel_chunks(100, 1), PARALLEL_CHUNKS_PER_THREAD);
    /* no overflow where c*n would not fit */
    size_t big = (size_t)-1 / 2;
    CHECK_EQ(parallel_chunk_begin(big, 7, 8), big / 8 * 7 + (big % 8) * 7 / 8);
}

/* A worker stalls inside its first chunk until every other chunk is done:
 * the job finishes only if the other threads claim the stalled worker's
 * share instead of waiting for it (a fixed split would wait forever; the
 * stall gives up after 10 s, and the check then fails). */
typedef struct {
    atomic_int by_caller, by_workers, others_done, gave_up;
    size_t k;
} Stall;

static void stall_chunk(void *ctx, size_t begin, size_t end, int thread)
{
    (void)begin, (void)end;
    Stall *s = ctx;
    if (thread != 0 && atomic_fetch_add(&s->by_workers, 1) == 0) {
        struct timespec pause = {0, 1000000};
        for (int i = 0; i < 10000 && (size_t)atomic_load(&s->others_done) < s->k - 1; i++) nanosleep(&pause, NULL);
        if ((size_t)atomic_load(&s->others_done) < s->k - 1) atomic_store(&s->gave_up, 1);
        return;
    }
    if (thread == 0) atomic_fetch_add(&s->by_caller, 1);
    atomic_fetch_add(&s->others_done, 1);
}

TEST(threads_caller_takes_over_a_stalled_workers_share)
{
    threads_follow_load(0);
    for (int T = 2; T <= 3; T++) {
        threads_init(T);
        for (int rep = 0; rep < 5; rep++) {
            Stall s = {.k = parallel_chunks(1000, T)};
            parallel_for(1000, stall_chunk, &s);
            CHECK_EQ(atomic_load(&s.gave_up), 0);
            CHECK_EQ((size_t)(atomic_load(&s.by_caller) + atomic_load(&s.by_workers)), s.k);
            CHECK((size_t)atomic_load(&s.others_done) == s.k - 1 || atomic_load(&s.by_workers) == 0);
        }
    }
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
            CHECK(s.outer_thread[i] >= 0 && s.outer_thread[i] < T);
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
    int want = threads_available();
    CHECK(want >= 1 && want <= online && want <= L1B_MAX_THREADS);
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

/* Sums the way l1b's reductions are written: items in blocks fixed by n
 * (16 here), each block summed in order into its own slot, the slots added
 * in order afterwards: the same bits on any thread count and any timing. */
typedef struct {
    float block[64];
} Sums;

static void block_sums(void *ctx, size_t b0, size_t b1, int thread)
{
    (void)thread;
    Sums *s = ctx;
    for (size_t b = b0; b < b1; b++) {
        float sum = 0;
        for (size_t i = 16 * b; i < 16 * b + 16; i++) sum += 1.0f / (float)(i + 1);
        s->block[b] = sum;
    }
}

TEST(threads_block_sums_added_in_order)
{
    float want = 0;
    for (size_t b = 0; b < 64; b++) {
        float part = 0;
        for (size_t i = 16 * b; i < 16 * b + 16; i++) part += 1.0f / (float)(i + 1);
        want += part;
    }
    for (int T = 1; T <= 4; T++) {
        threads_init(T);
        for (int rep = 0; rep < 20; rep++) {
            Sums s = {{0}};
            parallel_for(64, block_sums, &s);
            float total = 0;
            for (size_t b = 0; b < 64; b++) total += s.block[b];
            CHECK(total == want);
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

#ifdef __linux__
/* The default thread count follows the affinity mask (taskset -c 0 ...). */
TEST(threads_available_follows_the_affinity_mask)
{
    cpu_set_t old, one;
    CHECK_EQ(sched_getaffinity(0, sizeof old, &old), 0);
    CHECK(threads_available() <= CPU_COUNT(&old));
    int first = 0;
    while (!CPU_ISSET(first, &old)) first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    CHECK_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    CHECK_EQ(threads_available(), 1);
    CHECK_EQ(threads_init(0), 1);
    CHECK_EQ(sched_setaffinity(0, sizeof old, &old), 0);
    threads_init(1);
}
#endif
