#include "profile.h"

#include <string.h>

int prof_enabled;
double prof_seconds[PROF_CATEGORIES];
static double prof_t0;

const char *const prof_names[PROF_CATEGORIES] = {
    "matmul forward", "matmul backward", "attention", "norms", "quantisation",
    "elementwise", "optimizer", "data loading", "I/O",
};

void prof_start(int enabled)
{
    prof_enabled = enabled;
    memset(prof_seconds, 0, sizeof prof_seconds);
    prof_t0 = now_seconds();
}

double prof_wall_seconds(void) { return now_seconds() - prof_t0; }
