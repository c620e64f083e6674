/* profile: where the time goes, by kernel category. Compiled in always:
 * when off each probe is one predictable branch. A program turns it on
 * (--profile or L1B_PROFILE=1, cmd/common/cli.c) and prints the seconds
 * and share of wall time per category at exit. Categories nest nowhere:
 * each probe wraps a leaf of the work. */
#ifndef L1B_PROFILE_H
#define L1B_PROFILE_H

#include "util.h"

enum {
    PROF_MATMUL_FWD,   /* linear layers forward (float or ternary) */
    PROF_MATMUL_BWD,   /* linear layers backward */
    PROF_ATTENTION,
    PROF_NORM,         /* RMSNorm forward and backward */
    PROF_QUANT,        /* weight and activation quantisation */
    PROF_ELEMENTWISE,  /* embedding, RoPE, SwiGLU/ReLU², residuals, loss */
    PROF_OPTIMIZER,
    PROF_DATA,         /* batches from the token file */
    PROF_IO,           /* model loading and saving, output */
    PROF_CATEGORIES
};

extern int prof_enabled;
extern double prof_seconds[PROF_CATEGORIES];
extern const char *const prof_names[PROF_CATEGORIES];

/* Start counting from zero (if enabled); the wall time since then. */
void prof_start(int enabled);
double prof_wall_seconds(void);
static inline double prof_begin(void) { return prof_enabled ? now_seconds() : 0; }
static inline void prof_end(int category, double t0)
{
    if (prof_enabled) prof_seconds[category] += now_seconds() - t0;
}

/* PROFILED(PROF_NORM, rmsnorm_forward(...)); */
#define PROFILED(category, stmt)            \
    do {                                    \
        double prof_t0_ = prof_begin();     \
        stmt;                               \
        prof_end((category), prof_t0_);     \
    } while (0)
#endif
