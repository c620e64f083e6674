#include "optim.h"

#include <math.h>

#include "kernels.h"

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
        const float consts[8] = {o->beta1, o->beta2, o->eps, lr, ti->decay ? o->wd : 0.0f, c1, c2, grad_scale};
        kern.adamw_f32(m->params + off, m->grads + off, m->m + off, m->v + off, n, consts);
    }
}
