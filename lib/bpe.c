#include "bpe.h"

#include <stdlib.h>
#include <string.h>

#include "strtab.h"
#include "util.h"

struct BpeCounter {
    StrTab words;   /* pre-token -> count (saturating at UINT32_MAX) */
    unsigned prunes;
    uint32_t prune_below;
};

BpeCounter *bpe_counter_new(void)
{
    BpeCounter *c = xcalloc(1, sizeof *c);
    strtab_init(&c->words, 1 << 16);
    c->prune_below = 2;
    return c;
}

void bpe_counter_free(BpeCounter *c)
{
    if (!c) return;
    strtab_free(&c->words);
    free(c);
}

size_t bpe_counter_words(const BpeCounter *c) { return c->words.count; }
unsigned bpe_counter_prunes(const BpeCounter *c) { return c->prunes; }

static int keep_frequent(const StrEntry *e, void *ctx) { return e->val >= *(uint32_t *)ctx; }

void bpe_counter_add(BpeCounter *c, const uint8_t *s, size_t n)
{
    int created;
    StrEntry *e = strtab_insert(&c->words, s, n, str_hash(s, n), &created);
    if (e->val != UINT32_MAX) e->val++;
    if (created && c->words.count >= BPE_MAX_WORDS) {
        while (strtab_filter(&c->words, keep_frequent, &c->prune_below) > BPE_MAX_WORDS / 2)
            c->prune_below *= 2;
        c->prunes++;
    }
}

/* ---- learning -------------------------------------------------------- */

typedef struct {
    uint32_t key;      /* left << 16 | right; UINT32_MAX marks an empty slot */
    uint32_t n_words, cap_words;
    int64_t count;     /* occurrences weighted by word frequency */
    uint32_t *words;   /* words that contained the pair (may hold stale ids) */
} Pair;

typedef struct {
    Pair *slots;
    uint32_t mask, used;
} PairTab;

typedef struct {
    int64_t count;
    uint32_t key;
} HeapItem;

typedef struct {
    HeapItem *items;
    size_t n, cap;
} Heap;

typedef struct {
    uint32_t n_words;
    uint16_t *syms;       /* every word's symbols, back to back */
    uint32_t *sym_off;    /* (n_words) start of word w in syms */
    uint8_t *len;         /* (n_words) current length in symbols */
    uint32_t *freq;       /* (n_words) */
    uint32_t *seen;       /* (n_words) last merge that visited the word, + 1 */
    const StrEntry **src; /* (n_words) the counter entry, for the bytes */
    PairTab pairs;
    Heap heap;
    uint32_t *touched;    /* pairs involving the new token, pushed after a merge */
    size_t n_touched, cap_touched;
} Learner;

static uint32_t pair_slot(uint32_t key, uint32_t mask) { return (key * 0x9E3779B1u) >> 5 & mask; }

static void pairs_init(PairTab *p, size_t expect)
{
    uint32_t n = 1024;
    while (n < 2 * expect) n <<= 1;
    p->slots = xmalloc(n * sizeof *p->slots);
    for (uint32_t i = 0; i < n; i++) p->slots[i] = (Pair){UINT32_MAX, 0, 0, 0, NULL};
    p->mask = n - 1;
    p->used = 0;
}

static Pair *pair_get(PairTab *p, uint32_t key);

static void pairs_grow(PairTab *p)
{
    Pair *old = p->slots;
    uint32_t old_n = p->mask + 1, n = old_n * 2;
    p->slots = xmalloc(n * sizeof *p->slots);
    for (uint32_t i = 0; i < n; i++) p->slots[i] = (Pair){UINT32_MAX, 0, 0, 0, NULL};
    p->mask = n - 1;
    for (uint32_t i = 0; i < old_n; i++) {
        if (old[i].key == UINT32_MAX) continue;
        uint32_t j = pair_slot(old[i].key, p->mask);
        while (p->slots[j].key != UINT32_MAX) j = (j + 1) & p->mask;
        p->slots[j] = old[i];
    }
    free(old);
}

static Pair *pair_get(PairTab *p, uint32_t key)
{
    uint32_t i = pair_slot(key, p->mask);
    for (; p->slots[i].key != UINT32_MAX; i = (i + 1) & p->mask)
        if (p->slots[i].key == key) return &p->slots[i];
    if ((p->used + 1) * 4 > (p->mask + 1) * 3) {
        pairs_grow(p);
        return pair_get(p, key);
    }
    p->slots[i].key = key;
    p->used++;
    return &p->slots[i];
}

static void pair_add_word(Pair *pr, uint32_t w)
{
    if (pr->n_words && pr->words[pr->n_words - 1] == w) return;
    if (pr->n_words == pr->cap_words) {
        pr->cap_words = pr->cap_words ? pr->cap_words * 2 : 4;
        pr->words = xrealloc(pr->words, pr->cap_words * sizeof *pr->words);
    }
    pr->words[pr->n_words++] = w;
}

/* Max-heap on (count, then smaller key). */
static int heap_above(HeapItem a, HeapItem b) { return a.count > b.count || (a.count == b.count && a.key < b.key); }

static void heap_push(Heap *h, int64_t count, uint32_t key)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->items = xrealloc(h->items, h->cap * sizeof *h->items);
    }
    size_t i = h->n++;
    HeapItem it = {count, key};
    while (i > 0 && heap_above(it, h->items[(i - 1) / 2])) {
        h->items[i] = h->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->items[i] = it;
}

static HeapItem heap_pop(Heap *h)
{
    HeapItem top = h->items[0], last = h->items[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && heap_above(h->items[c + 1], h->items[c])) c++;
        if (!heap_above(h->items[c], last)) break;
        h->items[i] = h->items[c];
        i = c;
    }
    if (h->n) h->items[i] = last;
    return top;
}

static void count_change(Learner *L, uint16_t a, uint16_t b, int64_t delta, uint32_t w, uint16_t fresh)
{
    Pair *pr = pair_get(&L->pairs, (uint32_t)a << 16 | b);
    pr->count += delta;
    if (delta > 0 && (a == fresh || b == fresh)) {
        if (pr->n_words == 0 || pr->words[pr->n_words - 1] != w) {
            if (pr->n_words == 0) {  /* first sight this merge: push once */
                if (L->n_touched == L->cap_touched) {
                    L->cap_touched = L->cap_touched ? 2 * L->cap_touched : 1024;
                    L->touched = xrealloc(L->touched, L->cap_touched * sizeof *L->touched);
                }
                L->touched[L->n_touched++] = pr->key;
            }
            pair_add_word(pr, w);
        }
    }
}

/* Join every (a, b) in word w into c, left to right, keeping the pair
 * counts of its neighbours right. */
static void merge_word(Learner *L, uint32_t w, uint16_t a, uint16_t b, uint16_t c)
{
    uint16_t *s = L->syms + L->sym_off[w];
    size_t n = L->len[w];
    int64_t f = L->freq[w];
    size_t i = 0;
    while (i + 1 < n) {
        if (s[i] != a || s[i + 1] != b) { i++; continue; }
        if (i > 0) {
            count_change(L, s[i - 1], a, -f, w, c);
            count_change(L, s[i - 1], c, f, w, c);
        }
        if (i + 2 < n) {
            count_change(L, b, s[i + 2], -f, w, c);
            count_change(L, c, s[i + 2], f, w, c);
        }
        count_change(L, a, b, -f, w, c);
        s[i] = c;
        memmove(s + i + 1, s + i + 2, (n - i - 2) * sizeof *s);
        n--;
        i++;
    }
    L->len[w] = (uint8_t)n;
}

static const StrTab *sort_tab;
static int cmp_words(const void *x, const void *y)
{
    const StrEntry *a = *(const StrEntry *const *)x, *b = *(const StrEntry *const *)y;
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(sort_tab->arena + a->off, sort_tab->arena + b->off, n);
    if (r) return r;
    return (a->len > b->len) - (a->len < b->len);
}

void bpe_learn(BpeCounter *counter, uint32_t n_merges, Tokenizer *out,
               void (*progress)(uint32_t done, uint32_t total, void *ctx), void *ctx)
{
    StrTab *tab = &counter->words;
    Learner L;
    memset(&L, 0, sizeof L);
    if (n_merges > TOK_MAX_VOCAB - TOK_FIRST_MERGE) n_merges = TOK_MAX_VOCAB - TOK_FIRST_MERGE;

    /* words in byte order, so nothing downstream depends on hash order */
    L.src = xmalloc((tab->count + 1) * sizeof *L.src);
    size_t total_syms = 0;
    for (size_t i = 0; i <= tab->mask; i++)
        if (tab->slots[i].len) {
            L.src[L.n_words++] = &tab->slots[i];
            total_syms += tab->slots[i].len;
        }
    sort_tab = tab;
    qsort(L.src, L.n_words, sizeof *L.src, cmp_words);

    L.syms = xmalloc((total_syms + 1) * sizeof *L.syms);
    L.sym_off = xmalloc((L.n_words + 1) * sizeof *L.sym_off);
    L.len = xmalloc(L.n_words + 1);
    L.freq = xmalloc((L.n_words + 1) * sizeof *L.freq);
    L.seen = xcalloc(L.n_words + 1, sizeof *L.seen);
    size_t off = 0;
    for (uint32_t w = 0; w < L.n_words; w++) {
        const uint8_t *b = strtab_str(tab, L.src[w]);
        L.sym_off[w] = (uint32_t)off;
        L.len[w] = (uint8_t)L.src[w]->len;
        L.freq[w] = L.src[w]->val;
        for (uint32_t k = 0; k < L.src[w]->len; k++) L.syms[off + k] = b[k];
        off += L.src[w]->len;
    }

    /* initial pair counts and word lists */
    pairs_init(&L.pairs, 1 << 16);
    for (uint32_t w = 0; w < L.n_words; w++) {
        const uint16_t *s = L.syms + L.sym_off[w];
        for (size_t i = 0; i + 1 < L.len[w]; i++) {
            Pair *pr = pair_get(&L.pairs, (uint32_t)s[i] << 16 | s[i + 1]);
            pr->count += L.freq[w];
            pair_add_word(pr, w);
        }
    }
    for (uint32_t i = 0; i <= L.pairs.mask; i++)
        if (L.pairs.slots[i].key != UINT32_MAX) heap_push(&L.heap, L.pairs.slots[i].count, L.pairs.slots[i].key);

    uint16_t *merges = xmalloc((2 * (size_t)n_merges + 1) * sizeof *merges);
    uint32_t done = 0;
    while (done < n_merges && L.heap.n) {
        HeapItem top = heap_pop(&L.heap);
        Pair *pr = pair_get(&L.pairs, top.key);
        if (pr->count != top.count) {  /* stale entry: requeue at its true count */
            if (pr->count > 0) heap_push(&L.heap, pr->count, top.key);
            continue;
        }
        if (top.count < 2) break;
        uint16_t a = (uint16_t)(top.key >> 16), b = (uint16_t)top.key;
        uint16_t c = (uint16_t)(TOK_FIRST_MERGE + done);
        merges[2 * done] = a;
        merges[2 * done + 1] = b;

        /* the pair's word list may move while merging (new pairs are added
         * to the table), so take it out first */
        uint32_t *words = pr->words, n_words = pr->n_words;
        pr->words = NULL;
        pr->n_words = pr->cap_words = 0;
        L.n_touched = 0;
        for (uint32_t k = 0; k < n_words; k++) {
            uint32_t w = words[k];
            if (L.seen[w] == done + 1u) continue;
            L.seen[w] = done + 1u;
            merge_word(&L, w, a, b, c);
        }
        free(words);
        for (size_t k = 0; k < L.n_touched; k++) {
            Pair *np = pair_get(&L.pairs, L.touched[k]);
            if (np->count > 0) heap_push(&L.heap, np->count, np->key);
        }
        done++;
        if (progress && (done % 64 == 0 || done == n_merges)) progress(done, n_merges, ctx);
    }

    /* merges learned here are always valid (ids in range, below the
     * vocabulary limit): a failure is a bug, not bad input */
    if (tok_init_bpe(out, merges, done, "bpe") < 0) abort();
    for (uint32_t w = 0; w < L.n_words; w++)
        tok_cache_put(out, strtab_str(tab, L.src[w]), L.src[w]->len, L.syms + L.sym_off[w], L.len[w]);

    free(merges);
    for (uint32_t i = 0; i <= L.pairs.mask; i++) free(L.pairs.slots[i].words);
    free(L.pairs.slots);
    free(L.heap.items);
    free(L.touched);
    free(L.syms); free(L.sym_off); free(L.len); free(L.freq); free(L.seen); free(L.src);
}
