/* export: l1b models in another runtime's file format.
 *
 * llama2.c (github.com/karpathy/llama2.c, run.c) loads a "version 0"
 * checkpoint: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, seq_len; a negative vocab_size says the classifier is not
 * the embedding) and then float32 tensors, host byte order (we write
 * little-endian):
 *
 *   token_embedding_table (V,C)   rms_att_weight (L,C)
 *   wq wk wv wo (L,C,C)           rms_ffn_weight (L,C)
 *   w1 = gate (L,H,C)             w2 = down (L,C,H)        w3 = up (L,H,C)
 *   rms_final_weight (C)          2 x ctx*HS/2 floats run.c skips (the
 *                                 old freq_cis tables; written as zeros)
 *   wcls = head (V,C)
 *
 * BitLinear weights are written dequantised (q * scale); run.c does not
 * quantise activations, so only f32 models compute exactly what l1b does.
 * Ids 1 and 256 trade places: run.c starts every sequence with id 1 (its
 * BOS) and stops when it samples id 1, which is what l1b does with its
 * end-of-document token 256; byte 0x01 becomes id 256.
 *
 * tokenizer.bin: int32 max_token_length, then per id: float score, int32
 * length, the bytes. Score -rank for merge tokens, 0 for bytes and <eod>
 * (whose bytes are the text "<eod>", never produced by encoding; no token
 * is empty, which run.c's reader could not read). */
#ifndef L1B_EXPORT_H
#define L1B_EXPORT_H

#include <stdint.h>

/* The llama2.c id of l1b token id (and back: the map is its own inverse). */
uint32_t llama2c_id(uint32_t id);

/* Write the model in path as a llama2.c checkpoint model_out and, unless
 * NULL, its vocabulary as tok_out; both atomically. -1 with a message for
 * a model run.c cannot run (squared-ReLU feed-forward). */
int export_llama2c(const char *path, const char *model_out, const char *tok_out);

#endif
