/* threads: a persistent pool of worker threads for the heavy loops of
 * training and sampling.
 *
 * parallel_for(n, fn, ctx) cuts the items [0, n) into K contiguous chunks,
 * K = parallel_chunks(n, T) (one per thread, at most n):
 *
 *     chunk c = [c*n/K, (c+1)*n/K)      (exact, without overflow)
 *
 * and the T = threads_count() threads (the caller and T-1 workers) claim
 * chunks one at a time from a shared counter until none is left. What each
 * chunk computes is fixed; which thread runs it is not: a thread that the
 * system has descheduled (another program busy on its core) simply claims
 * fewer, and the others finish the job without waiting for it, except for
 * a chunk it has already begun. parallel_for returns when every chunk is
 * done (everything fn wrote is then visible to the caller). n == 0 calls
 * nothing. With T == 1 it is the plain call fn(ctx, 0, n, 0).
 *
 * Determinism: results are identical whatever the thread count and however
 * the chunks fall to threads, as long as every output element is computed
 * by exactly one chunk, the same way wherever the chunk boundaries lie, and
 * no value is reduced across chunks or threads. A sum over items must be
 * cut into pieces fixed by n alone (e.g. PARALLEL_BLOCK, or NORM_ROWS in
 * layers.c), each summed into its own slot, the slots added in order
 * afterwards. `thread` (0..T-1, distinct among chunks running at the same
 * time) is for per-thread scratch, never for deciding what to compute.
 *
 * Nesting: parallel_for called from inside fn runs serially in that thread,
 * as fn(ctx, 0, n, thread) with the enclosing chunk's thread index, so it
 * cannot deadlock (an inner fn must not use the outer one's scratch slot).
 *
 * Workers are created once (threads_init) and sleep on a condition variable
 * between calls, after a short bounded spin (50 us of sched_yield, only when
 * there are no more threads than usable CPUs) that catches the back-to-back
 * calls of a training step without a wake-up. The caller waits for chunks
 * still running elsewhere the same way.
 *
 * Callers: l1b drives the pool from its main thread. Calls from several
 * threads at once are safe, as jobs and re-creation of the pool are
 * serialised, except with one thread: there parallel_for takes no lock, so
 * concurrent callers all run as thread 0 at the same time. threads_init and
 * threads_shutdown called from inside fn change nothing. */
#ifndef L1B_THREADS_H
#define L1B_THREADS_H

#include <stddef.h>

#define L1B_MAX_THREADS 64

/* Process items [begin, end) of a loop; thread is 0..T-1, the index of the
 * pool thread running the chunk (0: the caller of parallel_for). */
typedef void (*ParallelFn)(void *ctx, size_t begin, size_t end, int thread);

/* Use n threads in all (the caller plus n-1 workers); n <= 0 means
 * threads_available(). Capped at L1B_MAX_THREADS. A different n than the
 * current one re-creates the pool. Returns the thread count, which is
 * smaller than asked only if the system refused to create threads. */
int threads_init(int n);
/* The CPUs this process may use: those of its affinity mask (taskset,
 * sched_getaffinity), fewer under a cgroup CPU quota (cpu.max, rounded
 * up), else the online CPUs; 1..L1B_MAX_THREADS. */
int threads_available(void);
/* Under load, fewer threads take part in each job than the pool has: the
 * machine's CPUs less the tasks other programs have ready to run (Linux's
 * /proc/loadavg, sampled every 50 ms and averaged), at least one; the
 * others sleep. On a machine whose every core is busy elsewhere a job then
 * runs on the calling thread alone, as with one thread, instead of taking
 * turns with the other programs and waiting for its descheduled workers.
 * Only who computes changes, never what. On by default; off, every thread
 * of the pool takes part (the tests of the chunking turn it off). */
void threads_follow_load(int on);
/* The threads that take part: the machine's n_online CPUs less others
 * (rounded), at most n_cpus (those this process may use) and n_threads,
 * at least 1. */
int threads_active(int n_threads, int n_cpus, int n_online, double others);
/* Current thread count: 1 before threads_init and after threads_shutdown. */
int threads_count(void);
/* Chunks per thread. One: a thread that is late (descheduled, or still
 * waking) has its chunk claimed by whoever comes first, and smaller
 * chunks cost more than they save. Measured at the nanoGPT training shape
 * on an idle 2-core VM, -j 2 step (median of 5): 16.2 ms with 1, 17.1
 * with 2, 20.1 with 8, against 24 ms at -j 1 (docs/BENCHMARKS.md, "A busy
 * machine"). Under a competing program follow_load (threads.c) lets
 * fewer threads take part, which is what keeps -j 2 from slowing down
 * there; finer chunks added nothing measurable on top. */
#define PARALLEL_CHUNKS_PER_THREAD 1
/* K for n items on T threads, and chunk c's first item of K. */
size_t parallel_chunks(size_t n_items, int n_threads);
size_t parallel_chunk_begin(size_t n_items, size_t c, size_t k);
/* Run fn over the chunks of [0, n_items) as described above. */
void parallel_for(size_t n_items, ParallelFn fn, void *ctx);
/* The same, unless the whole job is smaller than min_work (work and
 * min_work in the caller's units, e.g. multiply-adds): then fn(ctx, 0,
 * n_items, 0) on the calling thread, as waking the pool would cost more
 * than it saves. */
void parallel_for_min(size_t n_items, size_t work, size_t min_work, ParallelFn fn, void *ctx);
/* Element-wise passes over n values: fn(ctx, i0, i1, thread) on values
 * [i0, i1), cut only at multiples of PARALLEL_BLOCK, which depend on n
 * alone and are multiples of every SIMD width, so each value goes the same
 * way through a kernel (vector body or scalar tail) whatever the thread
 * count. Below 4 blocks it runs on the calling thread. */
#define PARALLEL_BLOCK 4096
void parallel_elements(size_t n, ParallelFn fn, void *ctx);
/* Join the workers; the count returns to 1. Never calling it is fine. */
void threads_shutdown(void);

#endif
