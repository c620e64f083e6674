#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "packed.h"
#include "pretok.h"
#include "tokstream.h"
#include "util.h"

/* The cache is dropped and refilled when it holds this many pre-tokens:
 * enough for the working vocabulary of a large corpus (a few million distinct
 * words), bounded so encoding never grows without limit. */
#define CACHE_MAX_ENTRIES (1u << 21)

static void build_pieces(Tokenizer *t)
{
    t->piece_off = xmalloc((t->n_vocab + 1) * sizeof *t->piece_off);
    size_t total = 256;
    uint32_t *len = xmalloc(t->n_vocab * sizeof *len);
    for (uint32_t i = 0; i < 256; i++) len[i] = 1;
    len[TOK_EOD] = 0;
    for (uint32_t m = 0; m < t->n_merges; m++) {
        len[TOK_FIRST_MERGE + m] = len[t->merges[2 * m]] + len[t->merges[2 * m + 1]];
        total += len[TOK_FIRST_MERGE + m];
    }
    t->pieces = xmalloc(total);
    uint32_t off = 0;
    for (uint32_t i = 0; i < t->n_vocab; i++) {
        t->piece_off[i] = off;
        if (i < 256) {
            t->pieces[off] = (uint8_t)i;
        } else if (i >= TOK_FIRST_MERGE) {
            uint32_t a = t->merges[2 * (i - TOK_FIRST_MERGE)], b = t->merges[2 * (i - TOK_FIRST_MERGE) + 1];
            uint32_t la = len[a];
            memcpy(t->pieces + off, t->pieces + t->piece_off[a], la);
            memcpy(t->pieces + off + la, t->pieces + t->piece_off[b], len[b]);
        }
        off += len[i];
    }
    t->piece_off[t->n_vocab] = off;
    free(len);
}

static uint32_t rank_slot(uint32_t key, uint32_t mask) { return (key * 0x9E3779B1u) >> 7 & mask; }

static void build_ranks(Tokenizer *t)
{
    uint32_t n = 16;
    while (n < 2 * t->n_merges) n <<= 1;
    t->rank_mask = n - 1;
    t->rank_key = xmalloc(n * sizeof *t->rank_key);
    t->rank_val = xmalloc(n * sizeof *t->rank_val);
    memset(t->rank_key, 0xff, n * sizeof *t->rank_key);  /* 0xffffffff: empty */
    for (uint32_t m = 0; m < t->n_merges; m++) {
        uint32_t key = (uint32_t)t->merges[2 * m] << 16 | t->merges[2 * m + 1];
        uint32_t i = rank_slot(key, t->rank_mask);
        while (t->rank_key[i] != 0xffffffffu && t->rank_key[i] != key) i = (i + 1) & t->rank_mask;
        if (t->rank_key[i] == key) continue;  /* duplicate merge: the first rank wins */
        t->rank_key[i] = key;
        t->rank_val[i] = m;
    }
}

static uint32_t rank_of(const Tokenizer *t, uint32_t a, uint32_t b)
{
    uint32_t key = a << 16 | b;
    for (uint32_t i = rank_slot(key, t->rank_mask);; i = (i + 1) & t->rank_mask) {
        if (t->rank_key[i] == key) return t->rank_val[i];
        if (t->rank_key[i] == 0xffffffffu) return UINT32_MAX;
    }
}

static void finish_init(Tokenizer *t)
{
    build_pieces(t);
    build_ranks(t);
    strtab_init(&t->cache, 1 << 12);
    t->cache_ids_cap = 1 << 14;
    t->cache_ids = xmalloc(t->cache_ids_cap * sizeof *t->cache_ids);
    t->cache_ids_used = 0;
}

void tok_init_bytes(Tokenizer *t)
{
    memset(t, 0, sizeof *t);
    t->kind = TOK_KIND_BYTES;
    t->n_vocab = TOK_FIRST_MERGE;
    finish_init(t);
}

int tok_init_bpe(Tokenizer *t, const uint16_t *merges, uint32_t n_merges, const char *name)
{
    memset(t, 0, sizeof *t);
    if (n_merges > TOK_MAX_VOCAB - TOK_FIRST_MERGE)
        return l1b_error("%s: %u merges exceed the 65536-token vocabulary", name, n_merges);
    /* learned tokens never span more than one pre-token, so a merge longer
     * than PRETOK_MAX bytes marks a crafted file (and chains of such merges
     * would grow exponentially) */
    uint8_t *len = xmalloc(TOK_FIRST_MERGE + n_merges);
    memset(len, 1, 256);
    len[TOK_EOD] = 0;
    for (uint32_t m = 0; m < n_merges; m++) {
        uint32_t a = merges[2 * m], b = merges[2 * m + 1], id = TOK_FIRST_MERGE + m;
        if (a >= id || b >= id || a == TOK_EOD || b == TOK_EOD) {
            free(len);
            return l1b_error("%s: merge %u joins invalid tokens %u and %u", name, m, a, b);
        }
        if (len[a] + len[b] > PRETOK_MAX) {
            free(len);
            return l1b_error("%s: merge %u makes a token longer than %d bytes", name, m, PRETOK_MAX);
        }
        len[id] = (uint8_t)(len[a] + len[b]);
    }
    free(len);
    t->kind = TOK_KIND_BPE;
    t->n_merges = n_merges;
    t->n_vocab = TOK_FIRST_MERGE + n_merges;
    t->merges = xmalloc((2 * (size_t)n_merges + 1) * sizeof *t->merges);
    memcpy(t->merges, merges, 2 * (size_t)n_merges * sizeof *merges);
    finish_init(t);
    return 0;
}

void tok_free(Tokenizer *t)
{
    free(t->merges);
    free(t->sym_ids);
    free(t->piece_off);
    free(t->pieces);
    free(t->rank_key);
    free(t->rank_val);
    strtab_free(&t->cache);
    free(t->cache_ids);
    memset(t, 0, sizeof *t);
}

/* ---- user symbols ----------------------------------------------------- */

static const Tokenizer *sort_tok;
static int cmp_symbols(const void *x, const void *y)
{
    uint32_t a = *(const uint16_t *)x, b = *(const uint16_t *)y;
    size_t la, lb;
    const uint8_t *pa = tok_bytes(sort_tok, a, &la), *pb = tok_bytes(sort_tok, b, &lb);
    if (pa[0] != pb[0]) return pa[0] < pb[0] ? -1 : 1;
    if (la != lb) return la > lb ? -1 : 1;  /* longest first */
    return (a > b) - (a < b);
}

int tok_add_symbols(Tokenizer *t, const uint8_t *const *s, const size_t *len, uint32_t n, const char *name)
{
    if (n == 0) return 0;
    if (t->n_symbols) return l1b_error("%s: the tokenizer already has user symbols", name);
    if (n > TOK_MAX_SYMBOLS) return l1b_error("%s: %u user symbols (at most %u)", name, n, TOK_MAX_SYMBOLS);
    if (t->n_vocab + n > TOK_MAX_VOCAB)
        return l1b_error("%s: %u tokens and %u user symbols exceed the 65536-token vocabulary", name,
                         t->n_vocab, n);
    size_t total = t->piece_off[t->n_vocab];
    for (uint32_t j = 0; j < n; j++) {
        if (len[j] == 0 || len[j] > TOK_SYMBOL_MAX)
            return l1b_error("%s: user symbol %u is %zu bytes long (1 to %u)", name, j + 1, len[j],
                             TOK_SYMBOL_MAX);
        for (uint32_t i = 0; i < j; i++)
            if (len[i] == len[j] && !memcmp(s[i], s[j], len[j]))
                return l1b_error("%s: user symbol %u repeats symbol %u", name, j + 1, i + 1);
        total += len[j];
    }
    uint32_t first = t->n_vocab;
    t->piece_off = xrealloc(t->piece_off, (first + n + 1) * sizeof *t->piece_off);
    t->pieces = xrealloc(t->pieces, total ? total : 1);
    uint32_t off = t->piece_off[first];
    for (uint32_t j = 0; j < n; j++) {
        t->piece_off[first + j] = off;
        memcpy(t->pieces + off, s[j], len[j]);
        off += (uint32_t)len[j];
    }
    t->piece_off[first + n] = off;
    t->n_vocab = first + n;
    t->n_symbols = n;

    t->sym_ids = xmalloc(n * sizeof *t->sym_ids);
    for (uint32_t j = 0; j < n; j++) t->sym_ids[j] = (uint16_t)(first + j);
    sort_tok = t;
    qsort(t->sym_ids, n, sizeof *t->sym_ids, cmp_symbols);
    uint32_t k = 0;
    for (uint32_t c = 0; c < 256; c++) {
        t->sym_first[c] = k;
        while (k < n && t->pieces[t->piece_off[t->sym_ids[k]]] == c) k++;
    }
    t->sym_first[256] = n;
    return 0;
}

/* The longest user symbol that p[0..n) begins with: its length, id in *id;
 * 0 if none. */
static size_t match_symbol(const Tokenizer *t, const uint8_t *p, size_t n, uint32_t *id)
{
    for (uint32_t k = t->sym_first[p[0]]; k < t->sym_first[p[0] + 1]; k++) {
        size_t len;
        const uint8_t *b = tok_bytes(t, t->sym_ids[k], &len);
        if (len <= n && !memcmp(b, p, len)) {
            *id = t->sym_ids[k];
            return len;
        }
    }
    return 0;
}

size_t tok_split(const Tokenizer *t, const uint8_t *p, size_t n, uint32_t *symbol)
{
    *symbol = 0;
    if (t->n_symbols == 0) return pretok_next(p, n);
    size_t len = match_symbol(t, p, n, symbol);
    if (len) return len;
    /* pretok_next decides on the bytes up to p[k + 1] at most (a run of
     * white space looks at the byte after it, and may give its last space
     * back): a symbol starting there is a cut, and the pre-token ends as
     * at the end of the input */
    size_t k = pretok_next(p, n);
    uint32_t id;
    for (size_t i = 1; i <= k + 1 && i < n; i++)
        if (t->sym_first[p[i]] != t->sym_first[p[i] + 1] && match_symbol(t, p + i, n - i, &id))
            return pretok_next(p, i);
    return k;
}

/* ---- the serialised record ------------------------------------------- */

size_t tok_record_size(const Tokenizer *t)
{
    size_t n = TOK_RECORD_FIXED + 4 * (size_t)t->n_merges;
    for (uint32_t j = 0; j < t->n_symbols; j++) {
        size_t len;
        tok_bytes(t, TOK_FIRST_MERGE + t->n_merges + j, &len);
        n += 2 + len;
    }
    return n;
}

void tok_record_write(const Tokenizer *t, uint8_t *out)
{
    put32(out, t->kind);
    put32(out + 4, PRETOK_VERSION);
    put32(out + 8, t->n_vocab);
    put32(out + 12, 1 + t->n_symbols);  /* n_special: end-of-document and the user symbols */
    put32(out + 16, t->n_merges);
    for (uint32_t m = 0; m < 2 * t->n_merges; m++) put16(out + TOK_RECORD_FIXED + 2 * m, t->merges[m]);
    out += TOK_RECORD_FIXED + 4 * (size_t)t->n_merges;
    for (uint32_t j = 0; j < t->n_symbols; j++) {
        size_t len;
        const uint8_t *b = tok_bytes(t, TOK_FIRST_MERGE + t->n_merges + j, &len);
        put16(out, (uint16_t)len);
        memcpy(out + 2, b, len);
        out += 2 + len;
    }
}

int tok_record_read(Tokenizer *t, const uint8_t *p, size_t n, const char *name)
{
    memset(t, 0, sizeof *t);
    if (n < TOK_RECORD_FIXED) return l1b_error("%s: tokenizer record truncated", name);
    uint32_t kind = le32(p), pretok = le32(p + 4), n_vocab = le32(p + 8);
    uint32_t n_special = le32(p + 12), n_merges = le32(p + 16);
    if (kind != TOK_KIND_BYTES && kind != TOK_KIND_BPE)
        return l1b_error("%s: unknown tokenizer kind %u", name, kind);
    if (pretok != PRETOK_VERSION)
        return l1b_error("%s: unknown pre-tokenizer version %u (this l1b knows %u)", name, pretok,
                         PRETOK_VERSION);
    if (n_special < 1 || n_special > 1 + TOK_MAX_SYMBOLS)
        return l1b_error("%s: unsupported special-token count %u", name, n_special);
    uint32_t n_symbols = n_special - 1;
    if (n_merges > TOK_MAX_VOCAB - TOK_FIRST_MERGE || n_vocab != TOK_FIRST_MERGE + n_merges + n_symbols)
        return l1b_error("%s: vocabulary size %u does not match %u merges and %u user symbols", name,
                         n_vocab, n_merges, n_symbols);
    if (n_vocab > TOK_MAX_VOCAB)
        return l1b_error("%s: vocabulary size %u exceeds 65536", name, n_vocab);
    if (kind == TOK_KIND_BYTES && n_merges)
        return l1b_error("%s: byte tokenizer with %u merges", name, n_merges);
    /* the user symbols after the merges: u16 length, bytes */
    size_t off = TOK_RECORD_FIXED + 4 * (size_t)n_merges;
    const uint8_t **sym = xmalloc((n_symbols + 1) * sizeof *sym);
    size_t *sym_len = xmalloc((n_symbols + 1) * sizeof *sym_len);
    for (uint32_t j = 0; j < n_symbols && off <= n; j++) {
        if (n - off < 2) { off = n + 1; break; }
        sym_len[j] = le16(p + off);
        sym[j] = p + off + 2;
        off += 2 + sym_len[j];
    }
    int rc = 0;
    if (n != off) {
        rc = l1b_error("%s: tokenizer record size %zu does not match %u merges%s", name, n, n_merges,
                       n_symbols ? " and its user symbols" : "");
    } else if (kind == TOK_KIND_BYTES) {
        tok_init_bytes(t);
    } else {
        uint16_t *m = xmalloc((2 * (size_t)n_merges + 1) * sizeof *m);
        for (uint32_t i = 0; i < 2 * n_merges; i++) m[i] = le16(p + TOK_RECORD_FIXED + 2 * i);
        rc = tok_init_bpe(t, m, n_merges, name);
        free(m);
    }
    if (rc == 0 && tok_add_symbols(t, sym, sym_len, n_symbols, name) < 0) {
        tok_free(t);
        rc = -1;
    }
    free(sym);
    free(sym_len);
    return rc;
}

/* ---- encoding -------------------------------------------------------- */

void tok_cache_put(Tokenizer *t, const uint8_t *s, size_t n, const uint16_t *ids, size_t n_ids)
{
    if (t->cache.count >= CACHE_MAX_ENTRIES) {
        strtab_clear(&t->cache);
        t->cache_ids_used = 0;
    }
    int created;
    StrEntry *e = strtab_insert(&t->cache, s, n, str_hash(s, n), &created);
    if (!created) return;
    if (t->cache_ids_used + n_ids + 1 > t->cache_ids_cap) {
        while (t->cache_ids_used + n_ids + 1 > t->cache_ids_cap) t->cache_ids_cap *= 2;
        t->cache_ids = xrealloc(t->cache_ids, t->cache_ids_cap * sizeof *t->cache_ids);
    }
    e->val = (uint32_t)t->cache_ids_used;
    t->cache_ids[t->cache_ids_used++] = (uint16_t)n_ids;
    memcpy(t->cache_ids + t->cache_ids_used, ids, n_ids * sizeof *ids);
    t->cache_ids_used += n_ids;
}

/* Apply the merges to one pre-token: repeatedly join every occurrence, left
 * to right, of the adjacent pair with the lowest merge rank. A pair created
 * by merge r only ever involves ids > 256 + r, so this reproduces the
 * segmentation training reached by applying merge 0, 1, 2, ... in turn. */
static size_t apply_merges(const Tokenizer *t, const uint8_t *s, size_t n, uint16_t *out)
{
    for (size_t i = 0; i < n; i++) out[i] = s[i];
    while (n > 1) {
        uint32_t best = UINT32_MAX;
        for (size_t i = 0; i + 1 < n; i++) {
            uint32_t r = rank_of(t, out[i], out[i + 1]);
            if (r < best) best = r;
        }
        if (best == UINT32_MAX) break;
        uint16_t a = t->merges[2 * best], b = t->merges[2 * best + 1];
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && out[i] == a && out[i + 1] == b) {
                out[j++] = (uint16_t)(TOK_FIRST_MERGE + best);
                i++;
            } else {
                out[j++] = out[i];
            }
        }
        n = j;
    }
    return n;
}

size_t tok_encode_piece(Tokenizer *t, const uint8_t *s, size_t n, uint16_t *out)
{
    if (t->n_merges == 0 || n == 1) {
        for (size_t i = 0; i < n; i++) out[i] = s[i];
        return n;
    }
    uint64_t h = str_hash(s, n);
    StrEntry *e = strtab_find(&t->cache, s, n, h);
    if (e) {
        const uint16_t *c = t->cache_ids + e->val;
        memcpy(out, c + 1, c[0] * sizeof *out);
        return c[0];
    }
    size_t k = apply_merges(t, s, n, out);
    tok_cache_put(t, s, n, out, k);
    return k;
}

size_t tok_encode_text(Tokenizer *t, const uint8_t *s, size_t n, uint16_t *out)
{
    size_t k = 0;
    for (size_t pos = 0; pos < n;) {
        uint32_t symbol;
        size_t len = tok_split(t, s + pos, n - pos, &symbol);
        if (symbol) out[k++] = (uint16_t)symbol;
        else k += tok_encode_piece(t, s + pos, len, out + k);
        pos += len;
    }
    return k;
}

/* ---- the tokenizer of a file ------------------------------------------------ */

int tokenizer_from_file(const char *path, Tokenizer *t)
{
    uint8_t magic[8];
    int got = file_magic(path, magic, NULL);
    if (got < 0) return -1;
    if (got != 8 || memcmp(magic, CKPT_MAGIC, 8)) return tok_load_file(path, t);
    /* a model file: only the tokenizer is needed, but checking the whole
     * file keeps one reading path */
    uint32_t kind;
    if (ckpt_kind(path, &kind) < 0) return -1;
    int rc;
    if (kind == CKPT_KIND_TRAIN) {
        Checkpoint ck;
        if (ckpt_read(path, &ck, CKPT_WEIGHTS_ONLY) < 0) return -1;
        rc = tok_record_read(t, ck.tok_record, ck.tok_record_size, path);
        ckpt_free(&ck);
    } else {
        PackedModel pm;
        if (packed_model_read(path, &pm, NULL, NULL, PACKED_STORED_TABLES) < 0) return -1;
        rc = tok_record_read(t, pm.tok_record, pm.tok_record_size, path);
        packed_model_free(&pm);
    }
    return rc;
}
