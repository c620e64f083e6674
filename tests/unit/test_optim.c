/* the optimizer in pieces, as data-parallel training uses it (train.c,
 * dist.h): the gradient norm from block sums, AdamW on shards, and
 * gradients computed into another block */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "model.h"
#include "optim.h"
#include "test.h"
#include "threads.h"
#include "util.h"

/* a model whose parameter count is no multiple of PARALLEL_BLOCK, nor its
 * tensors' offsets of 64 (dim 40, vocab 257) */
static void odd_model(Model *m, uint32_t seed)
{
    ModelConfig c = {40, 2, 2, 100, 6, 257, FFN_SWIGLU, QUANT_ABSMEAN};
    model_init(m, &c, 2);
    Rng r;
    rng_seed(&r, seed);
    model_init_weights(m, &r);
    for (size_t i = 0; i < m->n_params; i++) {
        m->grads[i] = 0.01f * rng_normal(&r);
        m->m[i] = 0.001f * rng_normal(&r);
        m->v[i] = 1e-5f * rng_float(&r);
    }
}

TEST(grad_norm_from_shards_block_sums_is_grad_norm_to_the_bit)
{
    Model m;
    odd_model(&m, 3);
    size_t P = m.n_params, blocks = (P + PARALLEL_BLOCK - 1) / PARALLEL_BLOCK;
    CHECK(blocks >= 3);
    double *sums = calloc(blocks, sizeof *sums);
    /* shards of 1, then the rest, of the blocks: each summed on its own */
    size_t cut = PARALLEL_BLOCK;
    grad_square_sums(m.grads, cut, sums);
    grad_square_sums(m.grads + cut, P - cut, sums + 1);
    double total = 0;
    for (size_t b = 0; b < blocks; b++) total += sums[b];
    double whole = grad_norm(&m), pieces = sqrt(total);
    CHECK(memcmp(&whole, &pieces, sizeof whole) == 0);
    free(sums);
    model_free(&m);
}

TEST(adamw_on_shards_gives_the_whole_update_to_the_bit_at_every_level)
{
    OptimConfig oc = {1e-3f, 1e-4f, 10, 100, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    Kernels keep = kern;
    int n_levels;
    const SimdLevel *levels = simd_levels(&n_levels);
    for (int li = 0; li < n_levels; li++) {
        if (kernels_for_level(levels[li], &kern) < 0) continue;
        for (int threads = 1; threads <= 2; threads++) {
            threads_init(threads);
            Model whole, parts;
            odd_model(&whole, 5);
            odd_model(&parts, 5);
            size_t P = whole.n_params;
            adamw_update(&whole, &oc, 1e-3f, 0.7f, 3);
            /* cuts at block boundaries (inside tensors, off their 64-value
             * alignment) and at odd places: 1-value and tiny shards too */
            size_t cuts[] = {0, 1, 70, PARALLEL_BLOCK, PARALLEL_BLOCK + 1, 2 * PARALLEL_BLOCK, 2 * PARALLEL_BLOCK + 37,
                             P - 65, P - 1, P};
            size_t n_cuts = sizeof cuts / sizeof cuts[0];
            for (size_t k = 0; k + 1 < n_cuts; k++) {
                size_t lo = cuts[k], hi = cuts[k + 1];
                CHECK(lo < hi);
                float *g = malloc((hi - lo) * sizeof *g), *m1 = malloc((hi - lo) * sizeof *m1);
                float *m2 = malloc((hi - lo) * sizeof *m2);
                memcpy(g, parts.grads + lo, (hi - lo) * sizeof *g);
                memcpy(m1, parts.m + lo, (hi - lo) * sizeof *m1);
                memcpy(m2, parts.v + lo, (hi - lo) * sizeof *m2);
                adamw_update_range(&parts, parts.params, g, m1, m2, lo, hi, &oc, 1e-3f, 0.7f, 3);
                memcpy(parts.m + lo, m1, (hi - lo) * sizeof *m1);
                memcpy(parts.v + lo, m2, (hi - lo) * sizeof *m2);
                free(g);
                free(m1);
                free(m2);
            }
            size_t bad = 0;
            for (size_t i = 0; i < P; i++)
                if (memcmp(&whole.params[i], &parts.params[i], sizeof(float)) ||
                    memcmp(&whole.m[i], &parts.m[i], sizeof(float)) || memcmp(&whole.v[i], &parts.v[i], sizeof(float)))
                    if (bad++ < 3)
                        FAIL_AT("%s, %d threads: value %zu of %zu differs: w %.9g vs %.9g", simd_name(kern.level),
                                threads, i, P, whole.params[i], parts.params[i]);
            model_free(&whole);
            model_free(&parts);
        }
    }
    kern = keep;
    threads_init(1);
}

TEST(backward_into_a_swapped_block_leaves_grads_alone)
{
    static const int in[2 * 6] = {1, 7, 3, 256, 40, 9, 9, 2, 100, 5, 6, 7};
    static const int tg[2 * 6] = {7, 3, -1, 40, 2, 9, 2, 100, 5, 77, 7, 8};
    Model m;
    odd_model(&m, 7);
    size_t P = m.n_params;
    float *before = malloc(P * sizeof *before), *block = calloc(P, sizeof *block);
    memcpy(before, m.grads, P * sizeof *before);
    model_forward(&m, in, tg, 2, 6);
    float *grads = model_swap_grads(&m, block);
    CHECK(m.grads == block && m.g.t[0] == block);
    model_backward(&m, in, tg, 2, 6, 0.5f);
    CHECK(model_swap_grads(&m, grads) == block);
    CHECK(m.g.t[T_HEAD] == m.grads + m.info[T_HEAD].offset);
    CHECK(memcmp(before, m.grads, P * sizeof *before) == 0);
    /* the same gradient as computed in place from zero */
    model_zero_grads(&m);
    model_backward(&m, in, tg, 2, 6, 0.5f);
    CHECK(memcmp(block, m.grads, P * sizeof *block) == 0);
    size_t nonzero = 0;
    for (size_t i = 0; i < P; i++) nonzero += block[i] != 0;
    CHECK(nonzero > P / 2);
    free(before);
    free(block);
    model_free(&m);
}
