/* packed: inference files, the kind-2 model files (man l1b-format(5)), and
 * PackedModel, the model for inference they hold, which l1b-sample,
 * l1b-ckpt and l1b-bench load either kind of model file into.
 *
 * An inference file has CONF, TOKZ and HIST as a training checkpoint
 * (ckpt.h) and, for a ternary model, instead of the parameters:
 *   FLTS  the float tensors (tok_emb, attn_norm, ffn_norm, final_norm,
 *         head) as f32, in tensor-table order, 4 * n_float bytes; with
 *         QTAB only attn_norm, ffn_norm and final_norm;
 *   QTAB  (l1b-ckpt convert --pack, unless --tables f32) tok_emb and head
 *         as int8 rows with an f32 scale each, the rows q8.h makes: the
 *         V scales of tok_emb, the V of head, zero padding to a multiple
 *         of 64 bytes, then tok_emb's V x C int8 values and head's;
 *         every scale > 0 with 127 x scale finite, every value
 *         -127..127;
 *   TERN  the BitLinear weights after quantisation, as S layer slices in
 *         tensor-table order (wq[0..L-1], wk.., wv.., wo.., w_gate.. (SwiGLU
 *         only), w_up.., w_down..): S f32 scales, zero padding to a multiple
 *         of 64 bytes, then each slice packed as ternary.h packs it (rows x
 *         ceil(cols/64) blocks of 16 bytes, 2 bits a weight, code = w + 1,
 *         padding codes 1; for a sign model blocks of 8 bytes, 1 bit a
 *         weight, padding bits 0);
 *   TRI5  instead of TERN (l1b-ckpt convert --pack --bits 1.6, ternary
 *         schemes): the same with the slices five weights a byte in base
 *         3, rows x ceil(cols/5) bytes, no blocks (ternary.h, "dense"),
 *         repacked into the blocks of PACK_BASE3 as they are read;
 *   TRIT  in files written before TRI5: the slices in PACK_BASE3's blocks,
 *         rows x ceil(cols/80) blocks of 16 bytes (read, never written).
 * A float (--quant f32) model keeps PARM instead (its tables always f32).
 * No optimizer state, no training state. Files without QTAB (written
 * before it, or with --tables f32) read as ever. */
#ifndef L1B_PACKED_H
#define L1B_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "q8.h"
#include "ternary.h"
#include "util.h"

/* How an inference file stores the embedding table and the output head
 * (l1b-ckpt convert --tables): floats (in FLTS or PARM), or int8 rows with
 * a scale each (QTAB). */
typedef enum {
    TABLES_F32 = 1,
    TABLES_INT8 = 2,
} TableFormat;
extern const NameValue table_format_names[];

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
    /* tok_emb and head as int8 rows (layers x rows of them), and NULL in
     * t[]: read so (PACKED_Q8_TABLES, or PACKED_STORED_TABLES from a file
     * with QTAB) or made so (packed_model_set_tables) */
    Q8Matrix q8[N_TENSORS];
    uint32_t packing;  /* of every slice in packed[] (TernaryPacking) */
    uint32_t tables;   /* TableFormat: how the file read stores the tables */
} PackedModel;

/* Read either kind, checked like ckpt_read (for an inference file also
 * that every ternary code is 0..2, padding codes are 1 and scales are
 * finite and >= 0, and QTAB as above); a training checkpoint is quantised
 * with its scheme (ckpt_pack, convert.h). kind and st may be NULL; st gets
 * the training state of a checkpoint and zeros for an inference file.
 * With flags 0 the tables arrive as floats in pm->t, and a file that holds
 * them as int8 rows is refused (after all its checks), with a message
 * that names the option that writes float tables. Free with
 * packed_model_free. */
int packed_model_read(const char *path, PackedModel *pm, uint32_t *kind, TrainState *st, int flags);
/* packed_model_read flags (one of them): the embedding table and the
 * output head arrive as int8 rows (q8.h) in pm->q8, quantised row by row
 * as they are read, or as the file stores them (QTAB) — the same rows; */
#define PACKED_Q8_TABLES 1
/* or as the file stores them, floats or int8 rows. */
#define PACKED_STORED_TABLES 2
/* The tables of pm as int8 rows (TABLES_INT8: q8_set_row of each float
 * row, what the sampler does on loading floats) or floats (TABLES_F32:
 * from int8 rows, dequantised: q x scale, with the row's largest values
 * nudged by an ulp or so where needed so that q8_set_row gives back the
 * same row, scale bit for bit); nothing if they are so. Returns the
 * number of rows that could not be given such floats (0 normally; they
 * hold q x scale). */
size_t packed_model_set_tables(PackedModel *pm, uint32_t tables);
/* Write pm as an inference file, atomically: a ternary model's tables as
 * pm holds them (int8 rows in QTAB, or floats in FLTS); a float (f32)
 * model's must be floats. */
int packed_model_write(const char *path, const PackedModel *pm);
void packed_model_free(PackedModel *pm);

/* Whether tensor ti of a model is held packed: a BitLinear weight of a
 * ternary or sign model that the shape has (a ReLU² model has no w_gate). */
int packed_tensor(const ModelConfig *c, const TensorInfo *ti);

/* Sizes in bytes of an inference file's FLTS section (with the tables in
 * the given TableFormat), its QTAB section, and its TERN or TRI5 section
 * with the given packing. */
uint64_t packed_flts_size(const ModelConfig *c, uint32_t tables);
uint64_t packed_qtab_size(const ModelConfig *c);
uint64_t packed_tern_size(const ModelConfig *c, uint32_t packing);

#endif
