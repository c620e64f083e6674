#include "profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int prof_enabled;
double prof_seconds[PROF_CATEGORIES];
static double prof_start;

static const char *const names[PROF_CATEGORIES] = {
    "matmul forward", "matmul backward", "attention", "norms", "quantisation",
    "elementwise", "optimizer", "data loading", "I/O",
};

void prof_init(int force)
{
    const char *e = getenv("L1B_PROFILE");
    prof_enabled = force || (e && *e && strcmp(e, "0"));
    memset(prof_seconds, 0, sizeof prof_seconds);
    prof_start = now_seconds();
}

void prof_report(void)
{
    if (!prof_enabled) return;
    double wall = now_seconds() - prof_start, sum = 0;
    fprintf(stderr, "%s: profile (wall %.3f s)\n", l1b_progname(), wall);
    for (int i = 0; i < PROF_CATEGORIES; i++) {
        sum += prof_seconds[i];
        fprintf(stderr, "  %-16s %9.3f s  %5.1f%%\n", names[i], prof_seconds[i],
                wall > 0 ? 100.0 * prof_seconds[i] / wall : 0.0);
    }
    fprintf(stderr, "  %-16s %9.3f s  %5.1f%%\n", "other", wall - sum, wall > 0 ? 100.0 * (wall - sum) / wall : 0.0);
}
