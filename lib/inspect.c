#include "inspect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokstream.h"
#include "util.h"

void slice_stats(const PackedTernary *p, SliceStats *s)
{
    s->minus = s->zero = s->plus = 0;
    s->scale = p->scale;
    for (uint32_t r = 0; r < p->rows; r++)
        for (uint32_t c = 0; c < p->cols; c++) {
            int w = ternary_get(p, r, c);
            if (w < 0) s->minus++;
            else if (w > 0) s->plus++;
            else s->zero++;
        }
}

/* ---- summary ---------------------------------------------------------- */

/* A clearer message than "bad magic" for a token stream given where a
 * model file is wanted. */
static int not_a_stream(const char *path, uint64_t *size)
{
    uint8_t magic[8];
    int got = file_magic(path, magic, size);
    if (got < 0) return -1;
    if (got == 8 && !memcmp(magic, TOKSTREAM_MAGIC, 8))
        return l1b_error("%s: a token stream, not a model file (vocab and verify read token streams)", path);
    return 0;
}

int model_summary_read(ModelSummary *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    if (not_a_stream(path, &s->file_bytes) < 0 ||
        packed_model_read(path, &s->pm, &s->kind, &s->st, PACKED_STORED_TABLES) < 0)
        return -1;
    if (tok_record_read(&s->tok, s->pm.tok_record, s->pm.tok_record_size, path) < 0) {
        packed_model_free(&s->pm);
        return -1;
    }
    const ModelConfig *c = &s->pm.cfg;
    s->n_params = model_tensor_table(c, s->info);
    for (int i = 0; i < N_TENSORS; i++)
        if (s->info[i].ternary && c->quant != QUANT_F32)
            s->n_ternary += (uint64_t)s->info[i].layers * s->info[i].rows * s->info[i].cols;
    const HistRow *h = s->pm.hist;
    size_t n = s->pm.n_hist;
    if (s->kind == CKPT_KIND_TRAIN) {
        s->have_step = s->have_total = 1;
        s->step = s->st.step;
        s->total_steps = s->st.total_steps;
        s->tokens_seen = s->st.tokens_seen;
    } else if (n) {
        /* whole numbers from 0 to 2^53: ckpt_read_common checked them */
        s->have_step = 1;
        s->step = (uint64_t)h[n - 1].v[H_STEP];
        s->tokens_seen = (uint64_t)h[n - 1].v[H_TOKENS];
    }
    s->train_loss = s->val_loss = s->val_bpb = s->train_step = s->val_step = NAN;
    if (n) {
        s->train_loss = h[n - 1].v[H_TRAIN_LOSS];
        s->train_step = h[n - 1].v[H_STEP];
    }
    /* validation runs every few steps: the last row that has it */
    for (size_t i = n; i-- > 0;)
        if (isfinite(h[i].v[H_VAL_LOSS])) {
            s->val_loss = h[i].v[H_VAL_LOSS];
            s->val_bpb = h[i].v[H_VAL_BPB];
            s->val_step = h[i].v[H_STEP];
            break;
        }
    return 0;
}

void model_summary_free(ModelSummary *s)
{
    tok_free(&s->tok);
    packed_model_free(&s->pm);
}

/* ---- verify ------------------------------------------------------------ */

static int verify_stream(const char *path)
{
    Tokenizer t;
    if (tok_load_file(path, &t) < 0) return -1;  /* reads and checks it all */
    tok_free(&t);
    return 0;
}

/* the readers check everything, finite weights and moments included */
static int verify_training(const char *path)
{
    Checkpoint ck;
    if (ckpt_read(path, &ck, 0) < 0) return -1;
    ckpt_free(&ck);
    return 0;
}

static int verify_inference(const char *path)
{
    PackedModel pm;
    if (packed_model_read(path, &pm, NULL, NULL, PACKED_STORED_TABLES) < 0) return -1;
    packed_model_free(&pm);
    return 0;
}

int inspect_verify(const char *path)
{
    uint8_t magic[8];
    int got = file_magic(path, magic, NULL);
    if (got < 0) return -1;
    if (got == 8 && !memcmp(magic, TOKSTREAM_MAGIC, 8)) return verify_stream(path);
    if (got < 8 || memcmp(magic, CKPT_MAGIC, 8))
        return l1b_error("%s: not an l1b model file or token stream (bad magic)", path);
    uint32_t kind;
    if (ckpt_kind(path, &kind) < 0) return -1;
    return kind == CKPT_KIND_TRAIN ? verify_training(path) : verify_inference(path);
}


int inspect_read_model(const char *path, PackedModel *pm)
{
    uint64_t size;
    if (not_a_stream(path, &size) < 0) return -1;
    return packed_model_read(path, pm, NULL, NULL, PACKED_STORED_TABLES);
}
