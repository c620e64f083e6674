#include "optim.h"

#include <math.h>

float lr_at(const OptimConfig *o, uint64_t s)
{
    if (s < o->warmup) return o->lr * (float)(s + 1) / (float)o->warmup;
    if (o->total_steps <= o->warmup || s >= o->total_steps) return o->min_lr;
    double p = (double)(s - o->warmup) / (double)(o->total_steps - o->warmup);
    return (float)(o->min_lr + (o->lr - o->min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * p)));
}

double grad_norm(const Model *m)
{
    double s = 0;
    for (size_t i = 0; i < m->n_params; i++) s += (double)m->grads[i] * m->grads[i];
    return sqrt(s);
}

void adamw_update(Model *m, const OptimConfig *o, float lr, float grad_scale, uint64_t t)
{
    float c1 = 1.0f - (float)pow(o->beta1, (double)t), c2 = 1.0f - (float)pow(o->beta2, (double)t);
    for (int k = 0; k < N_TENSORS; k++) {
        const TensorInfo *ti = &m->info[k];
        size_t n = (size_t)ti->layers * ti->rows * ti->cols, off = ti->offset;
        float wd = ti->decay ? o->wd : 0.0f;
        float *w = m->params + off, *g = m->grads + off, *mm = m->m + off, *vv = m->v + off;
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] * grad_scale;
            mm[i] = o->beta1 * mm[i] + (1.0f - o->beta1) * gi;
            vv[i] = o->beta2 * vv[i] + (1.0f - o->beta2) * gi * gi;
            float mhat = mm[i] / c1, vhat = vv[i] / c2;
            w[i] -= lr * (mhat / (sqrtf(vhat) + o->eps) + wd * w[i]);
        }
    }
}
