/* bench: l1b-bench's measurements — kernels at every SIMD level side by
 * side, training steps and decoding — as rows of a table the program
 * prints (cmd/l1b-bench.c). Times are medians over repetitions after a
 * warm-up, on the monotonic clock. */
#ifndef L1B_BENCH_H
#define L1B_BENCH_H

#include <stdint.h>

#include "cpu.h"
#include "model.h"

typedef struct {
    char bench[32];     /* e.g. "ternary_matvec", "train_step", "decode per token" */
    char shape[64];
    char simd[8];
    int threads;
    double median;      /* in `unit` */
    double spread;      /* (max - min) / median over the repetitions */
    const char *unit;   /* "us", "ms", "MB" */
    double rate;        /* GOP/s, tokens/s; NAN if none */
    const char *rate_unit;
    double speedup;     /* over the scalar level of the same bench; NAN if none */
} BenchRow;

typedef struct {
    BenchRow *rows;
    size_t n, cap;
} BenchTable;

typedef struct {
    int levels[SIMD_LEVELS];  /* which levels to run */
    int quick;
    ModelConfig shape;        /* train / sample shape; dim 0: the defaults */
    uint32_t batch;
    uint32_t packing;         /* sample: of the ternary weights; 0: 2 bits */
} BenchOptions;

void bench_kernels(const BenchOptions *o, BenchTable *t);
void bench_train(const BenchOptions *o, BenchTable *t);
void bench_sample(const BenchOptions *o, BenchTable *t);
void bench_table_free(BenchTable *t);

#endif
