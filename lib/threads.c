#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE  /* sched_getaffinity, CPU_COUNT */
#endif
#include "threads.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* How long a waiting thread spins before sleeping: long enough to span the
 * serial code between the parallel loops of a training step, short enough
 * not to matter on a shared machine. 0 disables spinning. */
#ifndef L1B_SPIN_US
#define L1B_SPIN_US 50
#endif

/* The ticket is one atomic word: 64 bits where the CPU swaps those
 * without a lock, else 32 (32-bit PowerPC, where they would need
 * libatomic), gen above the chunk index. A job has at most
 * L1B_MAX_THREADS * PARALLEL_CHUNKS_PER_THREAD chunks, and the index
 * reaches the count: 10 bits hold it (asserted below). */
#if ATOMIC_LLONG_LOCK_FREE == 2 && !defined(L1B_TICKET32)
typedef uint64_t Ticket;
#define CHUNK_BITS 32
#else
typedef uint32_t Ticket;
#define CHUNK_BITS 10
#endif
_Static_assert(L1B_MAX_THREADS * PARALLEL_CHUNKS_PER_THREAD < (1 << 10) - 1, "chunk index fits the ticket, below CLOSED");

/* One job at a time, cut into chunks that the threads claim.
 *
 * ticket = gen << CHUNK_BITS | next chunk. A thread claims chunk i by
 * moving next from i to i + 1 with a compare-and-swap of the whole word,
 * after reading the job's fields (fn, ctx, n_items, n_chunks) and checking
 * i < n_chunks. The caller changes the fields only while the ticket is
 * closed: it first swaps in a new gen whose next is CLOSED (above any
 * chunk count), writes the fields, then publishes the job as the gen after
 * that with next = 0. So if a claim's swap succeeds, the ticket had not
 * changed since the thread loaded it, the fields it read in between were
 * those of that ticket's job, and i was one of its chunks. (Without the
 * closing, a thread holding the finished job's ticket, next = n_chunks,
 * could read the next job's larger n_chunks while the caller was still
 * writing the fields, and claim a chunk of neither: it ran once more later
 * and counted twice, or ran with a context from a job that had returned.)
 * A gen is never reused, unless it went all the way round while one
 * thread sat between the load and the swap: 2^31 jobs, or 2^21 where the
 * ticket is 32 bits, far more than run in the time slices of a descheduled
 * thread. done counts finished chunks; the caller returns when it reaches
 * n_chunks. The counters that different sides write sit on separate cache
 * lines. */
static struct {
    _Alignas(64) _Atomic Ticket ticket;
    _Atomic(ParallelFn) fn;
    _Atomic(void *) ctx;
    _Atomic size_t n_items;
    _Atomic uint32_t n_chunks;
    atomic_int active;              /* threads 0..active-1 claim chunks */
    atomic_int stop;                /* with a gen bump: workers exit */
    int n_threads;                  /* T of this pool */
    int spin;                       /* spin before sleeping */
    int n_cpus;                     /* threads_available() at creation */
    int n_online;                   /* the machine's online CPUs, all users' */
    int n_active;                   /* threads that take part: follow_load() */
    double load_checked, others;    /* when, and the others' runnable tasks, averaged */
    _Alignas(64) _Atomic uint32_t done;    /* chunks finished */
    _Alignas(64) atomic_int n_sleeping;    /* workers blocked on wake */
    atomic_int caller_waiting;             /* caller blocked on done */
    pthread_mutex_t lock;           /* guards sleeping on wake and done */
    pthread_cond_t wake, done_cond;
    pthread_t workers[L1B_MAX_THREADS];
} pool = {
    .n_threads = 1,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done_cond = PTHREAD_COND_INITIALIZER,
};

/* Serialises top-level parallel_for calls and pool (re)creation. */
static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;
/* Whether the threads taking part follow the load (threads_follow_load). */
static int following = 1;
/* Thread count read without call_lock by the one-thread fast path. */
static atomic_int count = 1;
/* Index of this thread inside a running job, -1 outside one. */
static _Thread_local int self_thread = -1;

/* next while the caller rewrites the job: no chunk count reaches it */
#define CLOSED ((((Ticket)1) << CHUNK_BITS) - 1)

static uint32_t gen_of(Ticket ticket) { return (uint32_t)(ticket >> CHUNK_BITS); }
static Ticket ticket_of(uint32_t gen) { return (Ticket)gen << CHUNK_BITS; }
/* the gen after this one, as gen_of will read it back */
static uint32_t gen_next(uint32_t gen) { return gen_of(ticket_of(gen + 1)); }

size_t parallel_chunks(size_t n_items, int n_threads)
{
    size_t k = (size_t)(n_threads < 1 ? 1 : n_threads) * PARALLEL_CHUNKS_PER_THREAD;
    return n_items < k ? n_items : k;
}

size_t parallel_chunk_begin(size_t n, size_t c, size_t k)
{
    /* c*n/k without forming c*n, which can overflow size_t for large n */
    size_t q = n / k, r = n % k;
    return c * q + c * r / k;
}

/* One round of waiting for another thread; call with i = 0, 1, 2, ...;
 * true once the spin time has run out. Each round yields rather than
 * pausing, so that when the thread we wait for (or anybody else) needs
 * this CPU it gets it: on a 2-core machine shared with other jobs, a
 * pause loop made each call cost twice the spin time, as the two threads
 * took turns on one core spinning for each other. */
static int spin_round(unsigned i, double *deadline)
{
    if (L1B_SPIN_US <= 0) return 1;
    sched_yield();
    double now = now_seconds();
    if (i == 0) *deadline = now + L1B_SPIN_US * 1e-6;
    return now > *deadline;
}

/* Claim and run chunks of job gen until none is left (or another job has
 * begun); thread is the index passed to fn. */
static void run_chunks(uint32_t gen, int thread)
{
    Ticket t = atomic_load(&pool.ticket);
    for (;;) {
        if (gen_of(t) != gen) return;
        ParallelFn fn = atomic_load_explicit(&pool.fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&pool.ctx, memory_order_relaxed);
        size_t n = atomic_load_explicit(&pool.n_items, memory_order_relaxed);
        uint32_t k = atomic_load_explicit(&pool.n_chunks, memory_order_relaxed);
        if (thread >= atomic_load_explicit(&pool.active, memory_order_relaxed)) return;
        uint32_t c = (uint32_t)(t & (((Ticket)1 << CHUNK_BITS) - 1));
        if (c >= k) return;
        /* on failure t is reloaded and the fields are read again */
        if (!atomic_compare_exchange_weak(&pool.ticket, &t, t + 1)) continue;
        size_t begin = parallel_chunk_begin(n, c, k), end = parallel_chunk_begin(n, c + 1, k);
        fn(ctx, begin, end, thread);
        /* The last chunk wakes the caller only if it went to sleep:
         * caller_waiting is set before its final check of done, and done
         * is bumped before caller_waiting is read, so one sees the other. */
        if (atomic_fetch_add(&pool.done, 1) + 1 == k && atomic_load(&pool.caller_waiting)) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done_cond);
            pthread_mutex_unlock(&pool.lock);
        }
        t = atomic_load(&pool.ticket);
    }
}

/* Wait for gen to move past seen; returns the new gen. Sleeping registers
 * in n_sleeping before the final check of gen, and the caller bumps gen
 * before reading n_sleeping (both sequentially consistent), so either the
 * worker sees the new gen or the caller sees the sleeper and broadcasts. */
static uint32_t wait_for_job(uint32_t seen)
{
    uint32_t g;
    if (pool.spin) {
        double deadline = 0;
        for (unsigned i = 0; (g = gen_of(atomic_load(&pool.ticket))) == seen; i++)
            if (spin_round(i, &deadline)) break;
        if (g != seen) return g;
    }
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add(&pool.n_sleeping, 1);
    while ((g = gen_of(atomic_load(&pool.ticket))) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
    atomic_fetch_sub(&pool.n_sleeping, 1);
    pthread_mutex_unlock(&pool.lock);
    return g;
}

static void *worker_main(void *arg)
{
    int t = (int)(intptr_t)arg;
    uint32_t seen = 0;  /* gen is 0 when the pool starts */
    self_thread = t;
    for (;;) {
        seen = wait_for_job(seen);
        if (atomic_load(&pool.stop)) break;
        run_chunks(seen, t);
    }
    return NULL;
}

/* Read a small text file into buf, NUL-terminated; -1 if unreadable. */
static int read_small_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t got = 0;
    while (got + 1 < size) {
        ssize_t r = read(fd, buf + got, size - 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    return 0;
}

/* A CPU quota as a count of CPUs, rounded up; 0 when there is none.
 * cgroup v2 writes "max 100000" or "QUOTA PERIOD" in cpu.max. */
static int quota_cpus_v2(const char *path)
{
    char buf[64];
    long long quota, period;
    if (read_small_file(path, buf, sizeof buf) < 0) return 0;
    if (sscanf(buf, "%lld %lld", &quota, &period) != 2 || quota <= 0 || period <= 0) return 0;
    return (int)((quota + period - 1) / period);
}

/* The smallest quota on the way from this process's cgroup (v2: the line
 * "0::/path" of /proc/self/cgroup) up to the root: a limit set on a parent
 * holds for its children. */
static int cgroup_cpus(void)
{
    char buf[4096];
    if (read_small_file("/proc/self/cgroup", buf, sizeof buf) < 0) return 0;
    char *line = strstr(buf, "0::/");
    if (!line || (line != buf && line[-1] != '\n')) return 0;
    char path[4200];
    int n = snprintf(path, sizeof path, "/sys/fs/cgroup%s", line + 3);
    if (n < 0 || (size_t)n >= sizeof path) return 0;
    char *nl = strchr(path, '\n');
    if (nl) *nl = 0;
    int best = 0;
    for (;;) {
        size_t len = strlen(path);
        if (len > 0 && path[len - 1] == '/') path[--len] = 0;
        char file[4300];
        snprintf(file, sizeof file, "%s/cpu.max", path);
        int q = quota_cpus_v2(file);
        if (q > 0 && (best == 0 || q < best)) best = q;
        char *slash = strrchr(path, '/');
        if (!slash || len <= strlen("/sys/fs/cgroup")) break;
        *slash = 0;
    }
    return best;
}

int threads_available(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) n = CPU_COUNT(&set);
#endif
    int quota = cgroup_cpus();
    if (quota > 0 && quota < n) n = quota;
    return n < 1 ? 1 : n > L1B_MAX_THREADS ? L1B_MAX_THREADS : (int)n;
}

static void stop_workers(void)
{
    if (pool.n_threads == 1) return;
    pthread_mutex_lock(&pool.lock);
    atomic_store(&pool.stop, 1);
    atomic_store(&pool.n_chunks, 0);
    atomic_store(&pool.ticket, ticket_of(gen_next(gen_of(atomic_load(&pool.ticket)))));
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int t = 1; t < pool.n_threads; t++) pthread_join(pool.workers[t], NULL);
    pool.n_threads = 1;
    atomic_store(&count, 1);
}

static void start_workers(int n)
{
    atomic_store(&pool.ticket, 0);
    atomic_store(&pool.n_chunks, 0);
    atomic_store(&pool.stop, 0);
    atomic_store(&pool.done, 0);
    atomic_store(&pool.n_sleeping, 0);
    atomic_store(&pool.caller_waiting, 0);
    pool.n_cpus = threads_available();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    pool.n_online = online < 1 ? 1 : online > 4096 ? 4096 : (int)online;
    pool.spin = n <= pool.n_cpus;
    pool.n_active = n;
    pool.load_checked = 0;
    pool.others = 0;
    /* Workers block the asynchronous signals, so handlers (temporary-file
     * clean-up) run on the main thread as they would without the pool. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int t = 1;
    for (; t < n; t++)
        if (pthread_create(&pool.workers[t], NULL, worker_main, (void *)(intptr_t)t)) break;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pool.n_threads = t;  /* fewer if the system refused threads */
    atomic_store(&count, t);
}

int threads_init(int n)
{
    if (self_thread >= 0) return threads_count();  /* inside a job */
    if (n <= 0) n = threads_available();
    if (n > L1B_MAX_THREADS) n = L1B_MAX_THREADS;
    pthread_mutex_lock(&call_lock);
    if (n != pool.n_threads) {
        stop_workers();
        start_workers(n);
    }
    int got = pool.n_threads;
    pthread_mutex_unlock(&call_lock);
    return got;
}

int threads_count(void)
{
    return atomic_load_explicit(&count, memory_order_relaxed);
}

void threads_shutdown(void)
{
    if (self_thread >= 0) return;
    pthread_mutex_lock(&call_lock);
    stop_workers();
    pthread_mutex_unlock(&call_lock);
}

/* One-thread path: no synchronisation, but nested calls still see a job. */
static void run_inline(size_t n_items, ParallelFn fn, void *ctx)
{
    self_thread = 0;
    fn(ctx, 0, n_items, 0);
    self_thread = -1;
}

/* How many threads should take part, from the tasks other programs have
 * ready to run: with every CPU busy elsewhere, a second thread of ours
 * only takes turns with theirs, and each job then waits for whichever of
 * ours was descheduled. Linux's /proc/loadavg gives the runnable tasks now
 * (4th field, "R/total"), ours included: this thread and the workers not
 * asleep. Sampled every 50 ms, averaged over the last few samples; the
 * threads that take part are the machine's CPUs less the others' tasks,
 * at most the CPUs this process may use, at least 1. Without /proc, all of them. What is computed does not change,
 * only who computes it. call_lock is held. */
static void follow_load(void)
{
    double now = now_seconds();
    if (now - pool.load_checked < 0.05) return;
    pool.load_checked = now;
    char buf[128];
    unsigned running, total;
    const char *f = read_small_file("/proc/loadavg", buf, sizeof buf) < 0 ? NULL : strchr(buf, '/');
    while (f && f > buf && f[-1] != ' ') f--;
    if (!f || sscanf(f, "%u/%u", &running, &total) != 2) {
        pool.n_active = pool.n_threads;
        return;
    }
    int awake = pool.n_threads - 1 - atomic_load(&pool.n_sleeping);
    double others = (double)running - 1 - awake;
    pool.others = 0.6 * pool.others + 0.4 * (others < 0 ? 0 : others);
    pool.n_active = threads_active(pool.n_threads, pool.n_cpus, pool.n_online, pool.others);
}

int threads_active(int n_threads, int n_cpus, int n_online, double others)
{
    int active = n_online - (int)(others + 0.5);
    if (active > n_cpus) active = n_cpus;
    return active < 1 ? 1 : active > n_threads ? n_threads : active;
}

void threads_follow_load(int on)
{
    pthread_mutex_lock(&call_lock);
    following = on;
    pool.n_active = pool.n_threads;
    pool.others = 0;
    pthread_mutex_unlock(&call_lock);
}

/* Run one job on the workers and this thread; call_lock is held. */
static void run_on_pool(size_t n_items, ParallelFn fn, void *ctx)
{
    uint32_t k = (uint32_t)parallel_chunks(n_items, pool.n_threads);
    /* close the ticket (an exchange, so that no write below moves before
     * it), rewrite the fields, publish */
    uint32_t closed = gen_next(gen_of(atomic_load(&pool.ticket)));
    atomic_exchange(&pool.ticket, ticket_of(closed) | CLOSED);
    uint32_t gen = gen_next(closed);
    atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&pool.n_items, n_items, memory_order_relaxed);
    atomic_store_explicit(&pool.n_chunks, k, memory_order_relaxed);
    atomic_store_explicit(&pool.active, pool.n_active, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    atomic_store(&pool.ticket, ticket_of(gen));  /* publishes the fields above */
    if (atomic_load(&pool.n_sleeping)) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }

    self_thread = 0;
    run_chunks(gen, 0);
    self_thread = -1;

    /* Every chunk is claimed; wait for the ones still running elsewhere:
     * spin, then sleep on done_cond (see run_chunks for the handshake). */
    if (pool.spin) {
        double deadline = 0;
        for (unsigned i = 0; atomic_load(&pool.done) != k; i++)
            if (spin_round(i, &deadline)) break;
    }
    if (atomic_load(&pool.done) != k) {
        pthread_mutex_lock(&pool.lock);
        atomic_store(&pool.caller_waiting, 1);
        while (atomic_load(&pool.done) != k) pthread_cond_wait(&pool.done_cond, &pool.lock);
        atomic_store(&pool.caller_waiting, 0);
        pthread_mutex_unlock(&pool.lock);
    }
}

void parallel_for_min(size_t n_items, size_t work, size_t min_work, ParallelFn fn, void *ctx)
{
    if (work < min_work) {
        if (n_items) fn(ctx, 0, n_items, self_thread >= 0 ? self_thread : 0);
    } else {
        parallel_for(n_items, fn, ctx);
    }
}

typedef struct {
    ParallelFn fn;
    void *ctx;
    size_t n;
} Blocks;

static void run_blocks(void *ctx, size_t b0, size_t b1, int thread)
{
    const Blocks *b = ctx;
    size_t i1 = b1 * PARALLEL_BLOCK;
    b->fn(b->ctx, b0 * PARALLEL_BLOCK, i1 < b->n ? i1 : b->n, thread);
}

void parallel_elements(size_t n, ParallelFn fn, void *ctx)
{
    Blocks b = {fn, ctx, n};
    size_t blocks = (n + PARALLEL_BLOCK - 1) / PARALLEL_BLOCK;
    parallel_for_min(blocks, blocks, 4, run_blocks, &b);
}

void parallel_for(size_t n_items, ParallelFn fn, void *ctx)
{
    if (n_items == 0) return;
    if (self_thread >= 0) {  /* nested: serially, in this thread */
        fn(ctx, 0, n_items, self_thread);
        return;
    }
    if (threads_count() == 1) {
        run_inline(n_items, fn, ctx);
        return;
    }
    pthread_mutex_lock(&call_lock);
    if (pool.n_threads > 1 && following) follow_load();
    if (pool.n_threads > 1 && pool.n_active > 1) run_on_pool(n_items, fn, ctx);
    else run_inline(n_items, fn, ctx);  /* one active, or shut down since threads_count() */
    pthread_mutex_unlock(&call_lock);
}
