/* rng: the one random number generator (xorshift64*). Its whole state is
 * one u64, saved in checkpoints so a resumed run draws the same numbers. */
#ifndef L1B_RNG_H
#define L1B_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct { uint64_t s; } Rng;

static inline void rng_seed(Rng *r, uint64_t seed)
{
    /* splitmix64 of the seed: any seed, 0 included, gives a good state */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    r->s = z ? z : 1;
}

static inline uint64_t rng_u64(Rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

/* uniform in [0, n), n > 0 (multiply-shift: bias below 2^-32 for our n) */
static inline uint64_t rng_below(Rng *r, uint64_t n)
{
    return (uint64_t)(((rng_u64(r) >> 32) * (n & 0xffffffffull)) >> 32) + (n >> 32 ? (rng_u64(r) % (n >> 32)) << 32 : 0);
}

/* uniform float in [0, 1) with 24 random bits */
static inline float rng_float(Rng *r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

/* standard normal (Box-Muller; one of the pair is discarded for simplicity) */
static inline float rng_normal(Rng *r)
{
    float u1 = rng_float(r), u2 = rng_float(r);
    if (u1 < 1e-7f) u1 = 1e-7f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

#endif
