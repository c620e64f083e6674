#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels.h"
#include "util.h"

void cli_start(const char *argv0)
{
    l1b_set_progname(argv0);
    kernels_init();
}

void cli_version(void)
{
    printf("%s %s (simd %s; cpu %s)\n", l1b_progname(), L1B_VERSION, simd_name(kern.level),
           cpu_feature_string());
}

void cli_usage_error(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\nTry '%s --help'.\n", l1b_progname(), line, l1b_progname());
    exit(2);
}

uint64_t cli_uint(const char *opt, const char *value, uint64_t min, uint64_t max)
{
    uint64_t v;
    if (parse_u64(value, &v) < 0 || v < min || v > max)
        cli_usage_error("%s: '%s' is not a number from %llu to %llu", opt, value,
                        (unsigned long long)min, (unsigned long long)max);
    return v;
}

float cli_float(const char *opt, const char *value, float min, float max)
{
    char *end;
    float f = strtof(value, &end);
    if (end == value || *end || !(f >= min && f <= max))
        cli_usage_error("%s: '%s' is not a number from %g to %g", opt, value, min, max);
    return f;
}
