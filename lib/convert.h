/* convert: between the two kinds of model file, a training checkpoint
 * (ckpt.h) and an inference file (packed.h). In memory: ckpt_pack
 * quantises and packs a checkpoint's weights, packed_model_repack changes
 * the packing, ckpt_unpack finds shadow weights that quantise back to the
 * packed ones exactly. On files: convert_file, the work of
 * `l1b-ckpt convert`, which returns what happened in a report and prints
 * nothing. */
#ifndef L1B_CONVERT_H
#define L1B_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "packed.h"
#include "train.h"

/* Quantise and pack a checkpoint's weights (the conversion l1b-sample
 * does on loading, and convert --pack). Copies; ck is unchanged. */
void ckpt_pack(const Checkpoint *ck, PackedModel *pm);
/* A trainable checkpoint from pm: float tensors as they are; BitLinear
 * shadow weights w = q * m with m chosen per slice so that quantising w
 * again gives back exactly q and the stored scale (for absmean, m is
 * scale / (share of non-zero weights), rounded to fit: plain q * scale
 * would quantise to a smaller scale, a different model). Zero optimizer
 * moments, the training state st, the history kept. Returns the number of
 * slices whose scale could not be reproduced bit for bit (0 normally). */
size_t ckpt_unpack(const PackedModel *pm, const TrainState *st, Checkpoint *ck);
/* Every packed slice of pm in another packing of the same weights
 * (PACK_2BIT or PACK_BASE3, for a ternary scheme). */
void packed_model_repack(PackedModel *pm, uint32_t packing);

typedef struct {
    int unpack;        /* 0: --pack (to an inference file), 1: --unpack */
    /* --pack: PACK_2BIT or PACK_BASE3 (--bits 2 or 1.6), 0 if not given:
     * 2 bits, or for f32 and sign models their own */
    uint32_t packing;
    /* --pack: TABLES_INT8 or TABLES_F32 (--tables), 0 if not given: int8,
     * or for f32 models floats (the only choice there) */
    uint32_t tables;
    /* --unpack: the training settings the checkpoint stores (steps,
     * seed, lr, min_lr, wd, clip, warmup, batch, accum, batching,
     * val_frac; the rest is not read) */
    const TrainOptions *settings;
} ConvertOptions;

typedef struct {
    uint64_t in_bytes, out_bytes;  /* file sizes, OUT as written */
    /* --unpack: layer slices whose shadow weights quantise back to a scale
     * that differs from the stored one in the last bit (0 normally; set
     * even when writing OUT then fails) */
    size_t inexact;
    /* --unpack, or --pack --tables f32 from int8 tables: rows of the
     * embedding and head whose floats do not quantise back to exactly the
     * stored int8 row (0 normally) */
    size_t inexact_rows;
} ConvertReport;

/* Convert the model file in into out, written atomically: --pack reads
 * either kind and writes an inference file (a training checkpoint, or an
 * inference file in another packing or table format; the same ones are
 * refused), --unpack turns an inference file into a training checkpoint at
 * step 0 (int8 tables dequantised). -1 with
 * l1b_error on failure; r (may be NULL) is filled either way. */
int convert_file(const char *in, const char *out, const ConvertOptions *o, ConvertReport *r);

#endif
