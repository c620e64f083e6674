#include "optim.h"

#include <math.h>

#include <stdlib.h>
#include <string.h>

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

void grad_square_sums(const float *g, size_t n, double *sums)
{
    size_t blocks = (n + PARALLEL_BLOCK - 1) / PARALLEL_BLOCK;
    SquareSums s = {g, n, sums};
    parallel_for_min(blocks, blocks, 4, square_blocks, &s);
}

double grad_norm(const Model *m)
{
    size_t blocks = (m->n_params + PARALLEL_BLOCK - 1) / PARALLEL_BLOCK;
    double *sums = xmalloc(blocks * sizeof(double) + 1);
    grad_square_sums(m->grads, m->n_params, sums);
    double total = 0;
    for (size_t b = 0; b < blocks; b++) total += sums[b];
    free(sums);
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

static void adamw_consts(const OptimConfig *o, float lr, float grad_scale, uint64_t t, int decay, float k[8])
{
    float c1 = 1.0f - (float)pow(o->beta1, (double)t), c2 = 1.0f - (float)pow(o->beta2, (double)t);
    float v[8] = {o->beta1, o->beta2, o->eps, lr, decay ? o->wd : 0.0f, c1, c2, grad_scale};
    memcpy(k, v, sizeof v);
}

/* A multiple of every SIMD width, in floats: a kernel call that starts at
 * such an offset of a tensor treats every value as the whole tensor's call
 * does (vector body or scalar tail), as parallel_elements' cuts do. */
#define ADAMW_ALIGN 64

void adamw_update_range(const Model *m, float *w, const float *g, float *mom1, float *mom2, size_t lo, size_t hi,
                        const OptimConfig *o, float lr, float grad_scale, uint64_t t)
{
    for (int k = 0; k < N_TENSORS; k++) {
        const TensorInfo *ti = &m->info[k];
        size_t n = (size_t)ti->layers * ti->rows * ti->cols, off = ti->offset;
        if (off + n <= lo || off >= hi) continue;
        size_t a = lo > off ? lo - off : 0, b = hi < off + n ? hi - off : n;  /* within the tensor */
        float consts[8];
        adamw_consts(o, lr, grad_scale, t, ti->decay, consts);
        /* value j of the tensor: tw[j]; its gradient and moments sg[j - a], ... */
        float *tw = w + off;
        const float *sg = g + (off + a - lo);
        float *sm = mom1 + (off + a - lo), *sv = mom2 + (off + a - lo);
        for (size_t j = a; j < b;) {
            size_t w0 = j / ADAMW_ALIGN * ADAMW_ALIGN;
            if (j != w0 || (b - j < ADAMW_ALIGN && b != n)) {
                /* a shard's edge inside an aligned window: the whole window
                 * through the kernel on copies, the shard's part kept */
                size_t w1 = w0 + ADAMW_ALIGN < n ? w0 + ADAMW_ALIGN : n, e = b < w1 ? b : w1;
                float cw[ADAMW_ALIGN], cg[ADAMW_ALIGN], cm[ADAMW_ALIGN], cv[ADAMW_ALIGN];
                for (size_t i = w0; i < w1; i++) {
                    int in = i >= j && i < e;
                    cw[i - w0] = tw[i];
                    cg[i - w0] = in ? sg[i - a] : 0.0f;
                    cm[i - w0] = in ? sm[i - a] : 0.0f;
                    cv[i - w0] = in ? sv[i - a] : 0.0f;
                }
                kern.adamw_f32(cw, cg, cm, cv, w1 - w0, consts);
                for (size_t i = j; i < e; i++) {
                    tw[i] = cw[i - w0];
                    sm[i - a] = cm[i - w0];
                    sv[i - a] = cv[i - w0];
                }
                j = e;
            } else {
                size_t e = b == n ? b : b / ADAMW_ALIGN * ADAMW_ALIGN;
                AdamW aw = {tw + j, sm + (j - a), sv + (j - a), sg + (j - a), {0}};
                memcpy(aw.consts, consts, sizeof consts);
                parallel_elements(e - j, adamw_range, &aw);
                j = e;
            }
        }
    }
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
