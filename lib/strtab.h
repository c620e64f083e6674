/* strtab: an open-addressing hash table from short byte strings to a
 * 32-bit value, with the strings kept in one arena. Used for
 * pre-token counts (value = count) and the encoder's cache (value = where
 * the ids are). No deletion: strtab_clear empties it, strtab_filter keeps
 * the entries a predicate likes and compacts the arena. */
#ifndef L1B_STRTAB_H
#define L1B_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct {     /* 16 bytes: millions of these fit in tens of MB */
    uint32_t hash;   /* high half of str_hash; the low half picks the slot */
    uint32_t off;    /* string at arena + off */
    uint32_t len;    /* 0 marks an empty slot */
    uint32_t val;
} StrEntry;

typedef struct {
    StrEntry *slots;
    size_t mask;      /* slots - 1; slots is a power of two */
    size_t count;
    uint8_t *arena;
    size_t arena_used, arena_cap;
} StrTab;

uint64_t str_hash(const uint8_t *s, size_t n);

void strtab_init(StrTab *t, size_t min_slots);
void strtab_free(StrTab *t);
void strtab_clear(StrTab *t);
/* The entry for s, or NULL. h must be str_hash(s, n). */
StrEntry *strtab_find(const StrTab *t, const uint8_t *s, size_t n, uint64_t h);
/* The entry for s, created with val 0 if absent (then *created = 1). */
StrEntry *strtab_insert(StrTab *t, const uint8_t *s, size_t n, uint64_t h, int *created);
static inline const uint8_t *strtab_str(const StrTab *t, const StrEntry *e) { return t->arena + e->off; }
/* Keep only entries with keep(e, ctx) != 0; returns how many remain. */
size_t strtab_filter(StrTab *t, int (*keep)(const StrEntry *e, void *ctx), void *ctx);

#endif
