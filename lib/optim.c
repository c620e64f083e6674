#include "optim.h"

#include <math.h>

#include <stdlib.h>

#include "kernels.h"
#include "threads.h"
#include "util.h"

float lr_at(const OptimConfig *o, uint64_t s)
{
    if (s < o->warmup) return o->lr * (float)(s + 1) / (float)o->warmup;
    if (o->total_steps <= o->warmup || s >= o->total_steps) return o->min_lr;
    double p = (double)(s - o->warmup) / (double)(o->total_steps - o->warmup);
    return (float)(o->min_lr + (o->lr - o->min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * p)));
}

/* The sum of squares in blocks of PARALLEL_BLOCK, each summed in order,
 * then the block sums in order: the same bits whatever the thread count. */
typedef struct {
    const float *g;
    size_t n;
    double *sums;
} SquareSums;

static void square_blocks(void *ctx, size_t b0, size_t b1, int thread)
{
    (void)thread;
    const SquareSums *s = ctx;
    for (size_t b = b0; b < b1; b++) {
        size_t i1 = (b + 1) * PARALLEL_BLOCK < s->n ? (b + 1) * PARALLEL_BLOCK : s->n;
        double sum = 0;
        for (size_t i = b * PARALLEL_BLOCK; i < i1; i++) sum += (double)s->g[i] * s->g[i];
        s->sums[b] = sum;
    }
}

double grad_norm(const Model *m)
{
    size_t blocks = (m->n_params + PARALLEL_BLOCK - 1) / PARALLEL_BLOCK;
    SquareSums s = {m->grads, m->n_params, xmalloc(blocks * sizeof(double) + 1)};
    parallel_for_min(blocks, blocks, 4, square_blocks, &s);
    double total = 0;
    for (size_t b = 0; b < blocks; b++) total += s.sums[b];
    free(s.sums);
    return sqrt(total);
}

typedef struct {
    float *w, *m, *v;
    const float *g;
    float consts[8];
} AdamW;

static void adamw_range(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const AdamW *a = ctx;
    kern.adamw_f32(a->w + i0, a->g + i0, a->m + i0, a->v + i0, i1 - i0, a->consts);
}

void adamw_update(Model *m, const OptimConfig *o, float lr, float grad_scale, uint64_t t)
{
    float c1 = 1.0f - (float)pow(o->beta1, (double)t), c2 = 1.0f - (float)pow(o->beta2, (double)t);
    for (int k = 0; k < N_TENSORS; k++) {
        const TensorInfo *ti = &m->info[k];
        size_t n = (size_t)ti->layers * ti->rows * ti->cols, off = ti->offset;
        AdamW a = {m->params + off, m->m + off, m->v + off, m->grads + off,
                   {o->beta1, o->beta2, o->eps, lr, ti->decay ? o->wd : 0.0f, c1, c2, grad_scale}};
        parallel_elements(n, adamw_range, &a);
    }
}
