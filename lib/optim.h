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
/* sqrt(sum g^2) over the whole gradient block, summed in double. */
double grad_norm(const Model *m);
/* One AdamW update with the gradients multiplied by grad_scale (for
 * clipping); t is the 1-based update count (bias correction). */
void adamw_update(Model *m, const OptimConfig *o, float lr, float grad_scale, uint64_t t);

#endif
