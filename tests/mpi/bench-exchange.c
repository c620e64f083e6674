/* bench-exchange.c — the time of one step's exchange alone (lib/dist.c):
 * the ordered reduce-scatter of P gradients and the all-gather of P
 * weights, over the shards train.c cuts, repeated; rank 0 prints the
 * median, the 10th and 90th percentiles and the bytes each rank sends by
 * the formula 2 x 4P x (N-1)/N. A benchmark: it asserts nothing.
 *
 *   make MPI=1
 *   mpicc -O2 -Ilib tests/mpi/bench-exchange.c build-mpi/obj/lib/dist-mpi.o \
 *       build-mpi/libl1b.a -lm -lpthread -o build-mpi/bench-exchange
 *   mpirun -np 2 build-mpi/bench-exchange [P [REPEATS]]
 *
 * P defaults to 869760 (the default shape, nanoGPT's, with bytes). With
 * Open MPI, `--mca pml_monitoring_enable 2 --mca
 * pml_monitoring_enable_output 2` adds the bytes it saw each rank send. */
#include <stdio.h>
#include <stdlib.h>

#include "dist.h"
#include "threads.h"
#include "util.h"

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (dist_init(&argc, &argv) < 0) return 1;
    size_t P = argc > 1 ? strtoul(argv[1], NULL, 10) : 869760;
    int repeats = argc > 2 ? atoi(argv[2]) : 200, N = dist_size(), me = dist_rank();
    if (P < 1 || repeats < 1) return 2;
    size_t blocks = (P + PARALLEL_BLOCK - 1) / PARALLEL_BLOCK;
    size_t *off = xmalloc(2 * (size_t)N * sizeof *off), *len = off + N;
    for (int r = 0; r < N; r++) {  /* as train.c's share_model */
        size_t b0 = blocks * (size_t)r / (size_t)N, b1 = blocks * (size_t)(r + 1) / (size_t)N;
        size_t e0 = b0 * PARALLEL_BLOCK < P ? b0 * PARALLEL_BLOCK : P, e1 = b1 * PARALLEL_BLOCK < P ? b1 * PARALLEL_BLOCK : P;
        off[r] = e0;
        len[r] = e1 - e0;
    }
    float *g = xcalloc(P, sizeof *g), *w = xcalloc(P, sizeof *w);
    for (size_t i = 0; i < P; i++) g[i] = (float)i * 1e-7f;
    double *t = xmalloc((size_t)repeats * sizeof *t);
    for (int i = 0; i < repeats; i++) {
        double t0 = now_seconds();
        dist_reduce_scatter_ordered(g, g + off[me], off, len, N, 1);
        dist_allgather_f32(w, off, len);
        t[i] = now_seconds() - t0;
    }
    qsort(t, (size_t)repeats, sizeof *t, by_value);
    if (me == 0)
        printf("%d ranks, %zu parameters: exchange %.3f ms (p10 %.3f, p90 %.3f); %.3f MB sent per rank\n", N, P,
               1e3 * t[repeats / 2], 1e3 * t[repeats / 10], 1e3 * t[repeats * 9 / 10],
               8.0 * (double)P * (N - 1) / N / 1e6);
    free(t);
    free(g);
    free(w);
    free(off);
    dist_finalize();
    return 0;
}
