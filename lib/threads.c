#include "threads.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "util.h"

/* How long a waiting thread spins before sleeping: long enough to span the
 * serial code between the parallel loops of a training step, short enough
 * not to matter on a shared machine. 0 disables spinning. */
#ifndef L1B_SPIN_US
#define L1B_SPIN_US 50
#endif

/* One job at a time. The caller publishes it by bumping gen; each worker
 * runs its chunk and decrements pending; the caller returns at pending == 0.
 * The counters that different sides write sit on separate cache lines. */
static struct {
    _Alignas(64) atomic_int gen;    /* written by the caller; wraps */
    atomic_int stop;                /* with gen: workers exit */
    ParallelFn fn;                  /* the job, valid from a gen bump until */
    void *ctx;                      /* pending reaches 0 */
    size_t n_items;
    int n_threads;                  /* T of this pool */
    int spin;                       /* spin before sleeping */
    _Alignas(64) atomic_int pending;       /* written by the workers */
    _Alignas(64) atomic_int n_sleeping;    /* workers blocked on wake */
    atomic_int caller_waiting;             /* caller blocked on done */
    pthread_mutex_t lock;           /* guards sleeping on wake and done */
    pthread_cond_t wake, done;
    pthread_t workers[L1B_MAX_THREADS];
} pool = {
    .n_threads = 1,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

/* Serialises top-level parallel_for calls and pool (re)creation. */
static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;
/* Thread count read without call_lock by the one-thread fast path. */
static atomic_int count = 1;
/* Index of this thread inside a running job, -1 outside one. */
static _Thread_local int self_thread = -1;

/* t*n/T without forming t*n, which can overflow size_t for large n. */
static size_t chunk_begin(size_t n, int t, int T)
{
    size_t q = n / (size_t)T, r = n % (size_t)T;
    return (size_t)t * q + (size_t)t * r / (size_t)T;
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

/* Wait for gen to move past seen; returns the new gen. Sleeping registers
 * in n_sleeping before the final check of gen, and the caller bumps gen
 * before reading n_sleeping (both sequentially consistent), so either the
 * worker sees the new gen or the caller sees the sleeper and broadcasts. */
static int wait_for_job(int seen)
{
    int g;
    if (pool.spin) {
        double deadline = 0;
        for (unsigned i = 0; (g = atomic_load(&pool.gen)) == seen; i++)
            if (spin_round(i, &deadline)) break;
        if (g != seen) return g;
    }
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add(&pool.n_sleeping, 1);
    while ((g = atomic_load(&pool.gen)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
    atomic_fetch_sub(&pool.n_sleeping, 1);
    pthread_mutex_unlock(&pool.lock);
    return g;
}

static void *worker_main(void *arg)
{
    int t = (int)(intptr_t)arg;
    int seen = 0;  /* gen is 0 when the pool starts */
    self_thread = t;
    for (;;) {
        seen = wait_for_job(seen);
        if (atomic_load(&pool.stop)) break;
        size_t n = pool.n_items;
        size_t begin = chunk_begin(n, t, pool.n_threads), end = chunk_begin(n, t + 1, pool.n_threads);
        if (begin < end) pool.fn(pool.ctx, begin, end, t);
        /* The last worker wakes the caller only if it went to sleep: the
         * mirror image of wait_for_job's handshake. */
        if (atomic_fetch_sub(&pool.pending, 1) == 1 && atomic_load(&pool.caller_waiting)) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    return NULL;
}

static void stop_workers(void)
{
    if (pool.n_threads == 1) return;
    pthread_mutex_lock(&pool.lock);
    atomic_store(&pool.stop, 1);
    atomic_fetch_add(&pool.gen, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int t = 1; t < pool.n_threads; t++) pthread_join(pool.workers[t], NULL);
    pool.n_threads = 1;
    atomic_store(&count, 1);
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > L1B_MAX_THREADS ? L1B_MAX_THREADS : (int)n;
}

static void start_workers(int n)
{
    atomic_store(&pool.gen, 0);
    atomic_store(&pool.stop, 0);
    atomic_store(&pool.pending, 0);
    atomic_store(&pool.n_sleeping, 0);
    atomic_store(&pool.caller_waiting, 0);
    pool.spin = n <= online_cpus();
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
    if (n <= 0) n = online_cpus();
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

/* Run one job on the workers and this thread; call_lock is held. */
static void run_on_pool(size_t n_items, ParallelFn fn, void *ctx)
{
    int T = pool.n_threads;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_items = n_items;
    atomic_store(&pool.pending, T - 1);
    atomic_fetch_add(&pool.gen, 1);
    if (atomic_load(&pool.n_sleeping)) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }

    size_t end0 = chunk_begin(n_items, 1, T);
    self_thread = 0;
    if (end0 > 0) fn(ctx, 0, end0, 0);
    self_thread = -1;

    /* Wait for the workers: spin, then sleep on done. caller_waiting is
     * set before the final check of pending, and the last worker decrements
     * pending before reading caller_waiting, so one sees the other. */
    if (pool.spin) {
        double deadline = 0;
        for (unsigned i = 0; atomic_load(&pool.pending); i++)
            if (spin_round(i, &deadline)) break;
    }
    if (atomic_load(&pool.pending)) {
        pthread_mutex_lock(&pool.lock);
        atomic_store(&pool.caller_waiting, 1);
        while (atomic_load(&pool.pending)) pthread_cond_wait(&pool.done, &pool.lock);
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
    if (pool.n_threads > 1) run_on_pool(n_items, fn, ctx);
    else run_inline(n_items, fn, ctx);  /* shut down since threads_count() */
    pthread_mutex_unlock(&call_lock);
}
