/* packed: inference files, the kind-2 model files (man l1b-format(5)), and
 * PackedModel, the model for inference they hold, which l1b-sample,
 * l1b-ckpt and l1b-bench load either kind of model file into.
 *
 * An inference file has CONF, TOKZ and HIST as a training checkpoint
 * (ckpt.h) and, for a ternary model, instead of the parameters:
 *   FLTS  the float tensors (tok_emb, attn_norm, ffn_norm, final_norm,
 *         head) as f32, in tensor-table order, 4 * n_float bytes;
 *   TERN  the BitLinear weights after quantisation, as S layer slices in
 *         tensor-table order (wq[0..L-1], wk.., wv.., wo.., w_gate.. (SwiGLU
 *         only), w_up.., w_down..): S f32 scales, zero padding to a multiple
 *         of 64 bytes, then each slice packed as ternary.h packs it (rows x
 *         ceil(cols/64) blocks of 16 bytes, 2 bits a weight, code = w + 1,
 *         padding codes 1; for a sign model blocks of 8 bytes, 1 bit a
 *         weight, padding bits 0);
 *   TRIT  instead of TERN (l1b-ckpt convert --pack --bits 1.6, ternary
 *         schemes): the same with the slices in base-3 packing, rows x
 *         ceil(cols/80) blocks of 16 bytes, five weights a byte.
 * A float (--quant f32) model keeps PARM instead. No optimizer state, no
 * training state. */
#ifndef L1B_PACKED_H
#define L1B_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "q8.h"
#include "ternary.h"

/* A model for inference: what an inference file holds, or a training
 * checkpoint quantised in memory. */
typedef struct {
    ModelConfig cfg;
    uint8_t *tok_record;
    size_t tok_record_size;
    HistRow *hist;
    size_t n_hist;
    /* each float tensor in its own allocation of layers x rows x cols
     * floats; in a ternary model the BitLinear tensors are NULL here */
    float *t[N_TENSORS];
    /* ternary models: each BitLinear tensor as its L packed layer slices;
     * NULL for float tensors, a ReLU² model's w_gate, and f32 models */
    PackedTernary *packed[N_TENSORS];
    /* with PACKED_Q8_TABLES: tok_emb and head as int8 rows (layers x rows
     * of them), and NULL in t[] */
    Q8Matrix q8[N_TENSORS];
    uint32_t packing;  /* of every slice in packed[] (TernaryPacking) */
} PackedModel;

/* Read either kind, checked like ckpt_read (for an inference file also
 * that every ternary code is 0..2, padding codes are 1 and scales are
 * finite and >= 0); a training checkpoint is quantised with its scheme
 * (ckpt_pack, convert.h). kind and st may be NULL; st gets the training
 * state of a checkpoint and zeros for an inference file. Free with
 * packed_model_free. */
int packed_model_read(const char *path, PackedModel *pm, uint32_t *kind, TrainState *st, int flags);
/* packed_model_read flag: the embedding table and the output head arrive
 * as int8 rows (q8.h) in pm->q8, quantised row by row as they are read.
 * Such a PackedModel is for inference only, not for writing. */
#define PACKED_Q8_TABLES 1
/* Write pm as an inference file, atomically. */
int packed_model_write(const char *path, const PackedModel *pm);
void packed_model_free(PackedModel *pm);

/* Whether tensor ti of a model is held packed: a BitLinear weight of a
 * ternary or sign model that the shape has (a ReLU² model has no w_gate). */
int packed_tensor(const ModelConfig *c, const TensorInfo *ti);

/* Sizes in bytes of an inference file's FLTS section, and of its TERN or
 * TRIT section with the given packing. */
uint64_t packed_flts_size(const ModelConfig *c);
uint64_t packed_tern_size(const ModelConfig *c, uint32_t packing);

#endif
