/* convert: between the two kinds of model file, a training checkpoint
 * (ckpt.h) and an inference file (packed.h). In memory: ckpt_pack
 * quantises and packs a checkpoint's weights, packed_model_repack changes
 * the packing, ckpt_unpack finds shadow weights that quantise back to the
 * packed ones exactly. */
#ifndef L1B_CONVERT_H
#define L1B_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "packed.h"

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

#endif
