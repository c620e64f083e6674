/* optim: AdamW with a warmup + cosine learning-rate schedule and global
 * gradient-norm clipping.
 *
 *   lr(s)  = lr * (s+1)/warmup                          s < warmup
 *          = min + (lr-min) * (1 + cos(pi * p)) / 2     p = (s-warmup)/(total-warmup)
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   w -= lr * (m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd * w)
 * Weight decay is decoupled and applies only to the matrices (the BitLinear
 * weights and the output head), not to norms or the embedding. */
#ifndef L1B_OPTIM_H
#define L1B_OPTIM_H

#include <stdint.h>

#include "model.h"

typedef struct {
    float lr, min_lr;
    uint32_t warmup;
    uint64_t total_steps;
    float beta1, beta2, eps;
    float wd;
    float clip;       /* 0: no clipping */
} OptimConfig;

/* The learning rate for step s (0-based). */
float lr_at(const OptimConfig *o, uint64_t s);
/* sqrt(sum g^2) over the whole gradient block, summed in double: the
 * squares in blocks of PARALLEL_BLOCK values (threads.h), each block in
 * order, then the blocks' sums in order. */
double grad_norm(const Model *m);
/* The blocks' sums of squares of g (n values): sums[b] for values
 * [b*PARALLEL_BLOCK, (b+1)*PARALLEL_BLOCK), the same bits as grad_norm's. A
 * data-parallel trainer sums its shard (which starts at a block boundary)
 * and adds all shards' blocks in order: grad_norm, to the bit. */
void grad_square_sums(const float *g, size_t n, double *sums);
/* One AdamW update with the gradients multiplied by grad_scale (for
 * clipping); t is the 1-based update count (bias correction). */
void adamw_update(Model *m, const OptimConfig *o, float lr, float grad_scale, uint64_t t);
/* The same update for the parameters [lo, hi) of the block only (a rank's
 * shard, ZeRO stage 1): w is the whole parameter block; g, mom1 and mom2
 * hold the gradients and the two moments of [lo, hi) alone (their [0] is
 * lo's). Every value gets the bits adamw_update gives it, whatever lo and
 * hi: the kernel sees each value in the same place of a SIMD vector or of
 * the scalar tail as in the whole update. */
void adamw_update_range(const Model *m, float *w, const float *g, float *mom1, float *mom2, size_t lo, size_t hi,
                        const OptimConfig *o, float lr, float grad_scale, uint64_t t);

#endif
