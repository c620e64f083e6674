/* profile: where the time goes, by kernel category. Compiled in always:
 * when L1B_PROFILE is unset each probe is one predictable branch. With
 * L1B_PROFILE=1 (or a program's --profile) the program prints, at exit, the
 * seconds and share of wall time per category on stderr. Categories nest
 * nowhere: each probe wraps a leaf of the work. */
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

/* Turn on if L1B_PROFILE is set to anything but "0" or force is set. */
void prof_init(int force);
static inline double prof_begin(void) { return prof_enabled ? now_seconds() : 0; }
static inline void prof_end(int category, double t0)
{
    if (prof_enabled) prof_seconds[category] += now_seconds() - t0;
}
/* The table, if enabled: seconds, share of the wall time since prof_init. */
void prof_report(void);



/* PROFILED(PROF_NORM, rmsnorm_forward(...)); */
#define PROFILED(category, stmt)            \
    do {                                    \
        double prof_t0_ = prof_begin();     \
        stmt;                               \
        prof_end((category), prof_t0_);     \
    } while (0)
#endif
