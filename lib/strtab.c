#include "strtab.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Multiply-xorshift over 8-byte words: pre-tokens are short, so a simple
 * word-at-a-time hash beats byte-wise FNV by several times. */
uint64_t str_hash(const uint8_t *s, size_t n)
{
    const uint64_t m = 0x9E3779B97F4A7C15ull;
    uint64_t h = (uint64_t)n * m;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * m;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        for (size_t i = 0; i < n; i++) w |= (uint64_t)s[i] << (8 * i);
        h = (h ^ w) * m;
        h ^= h >> 29;
    }
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

void strtab_init(StrTab *t, size_t min_slots)
{
    size_t n = 1024;
    while (n < min_slots) n <<= 1;
    t->slots = xcalloc(n, sizeof *t->slots);
    t->mask = n - 1;
    t->count = 0;
    t->arena_cap = 1 << 16;
    t->arena = xmalloc(t->arena_cap);
    t->arena_used = 0;
}

void strtab_free(StrTab *t)
{
    free(t->slots);
    free(t->arena);
    memset(t, 0, sizeof *t);
}

void strtab_clear(StrTab *t)
{
    memset(t->slots, 0, (t->mask + 1) * sizeof *t->slots);
    t->count = 0;
    t->arena_used = 0;
}

StrEntry *strtab_find(const StrTab *t, const uint8_t *s, size_t n, uint64_t h)
{
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        StrEntry *e = &t->slots[i];
        if (!e->len) return NULL;
        if (e->hash == (uint32_t)(h >> 32) && e->len == n && !memcmp(t->arena + e->off, s, n)) return e;
    }
}

static void grow(StrTab *t)
{
    size_t old_n = t->mask + 1, n = old_n * 2;
    StrEntry *old = t->slots;
    t->slots = xcalloc(n, sizeof *t->slots);
    t->mask = n - 1;
    for (size_t i = 0; i < old_n; i++) {
        if (!old[i].len) continue;
        size_t j = str_hash(t->arena + old[i].off, old[i].len) & t->mask;
        while (t->slots[j].len) j = (j + 1) & t->mask;
        t->slots[j] = old[i];
    }
    free(old);
}

StrEntry *strtab_insert(StrTab *t, const uint8_t *s, size_t n, uint64_t h, int *created)
{
    *created = 0;
    size_t i = h & t->mask;
    for (;; i = (i + 1) & t->mask) {
        StrEntry *e = &t->slots[i];
        if (!e->len) break;
        if (e->hash == (uint32_t)(h >> 32) && e->len == n && !memcmp(t->arena + e->off, s, n)) return e;
    }
    if ((t->count + 1) * 4 > (t->mask + 1) * 3) {  /* keep load under 3/4 */
        grow(t);
        return strtab_insert(t, s, n, h, created);
    }
    if (t->arena_used + n > t->arena_cap) {
        while (t->arena_used + n > t->arena_cap) t->arena_cap *= 2;
        t->arena = xrealloc(t->arena, t->arena_cap);
    }
    StrEntry *e = &t->slots[i];
    memcpy(t->arena + t->arena_used, s, n);
    e->hash = (uint32_t)(h >> 32);
    e->off = (uint32_t)t->arena_used;
    e->len = (uint32_t)n;
    e->val = 0;
    t->arena_used += n;
    t->count++;
    *created = 1;
    return e;
}

size_t strtab_filter(StrTab *t, int (*keep)(const StrEntry *e, void *ctx), void *ctx)
{
    size_t n = t->mask + 1;
    StrEntry *old = t->slots;
    uint8_t *old_arena = t->arena;
    t->slots = xcalloc(n, sizeof *t->slots);
    t->arena = xmalloc(t->arena_cap);
    t->arena_used = 0;
    t->count = 0;
    for (size_t i = 0; i < n; i++) {
        StrEntry e = old[i];
        if (!e.len || !keep(&e, ctx)) continue;
        size_t j = str_hash(old_arena + e.off, e.len) & t->mask;
        while (t->slots[j].len) j = (j + 1) & t->mask;
        memcpy(t->arena + t->arena_used, old_arena + e.off, e.len);
        e.off = (uint32_t)t->arena_used;
        t->arena_used += e.len;
        t->slots[j] = e;
        t->count++;
    }
    free(old);
    free(old_arena);
    return t->count;
}
