#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "profile.h"
#include "util.h"

static const char *progname = "l1b";

const char *cli_progname(void) { return progname; }

static void vmessage(const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "%s: %s\n", progname, line);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
}

void cli_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    exit(1);
}

void cli_die_last(void) { cli_die("%s", l1b_last_error()); }

static void out_of_memory(size_t n)
{
    cli_die("out of memory (%zu bytes)", n);
}

void cli_start(const char *argv0)
{
    const char *s = strrchr(argv0, '/');
    progname = s ? s + 1 : argv0;
    alloc_on_failure(out_of_memory);
    tmpfile_set_dir(getenv("TMPDIR"));
    if (kernels_init(getenv("L1B_SIMD")) < 0) cli_warn("%s", l1b_last_error());
}

void cli_version(void)
{
    printf("%s %s (simd %s; cpu %s)\n", progname, L1B_VERSION, simd_name(kern.level), cpu_feature_string());
}

void cli_usage_error(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\nTry '%s --help'.\n", progname, line, progname);
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

int cli_choice(const char *opt, const char *value, const NameValue *names)
{
    int v;
    char list[256];
    if (name_value(names, value, &v) < 0)
        cli_usage_error("%s: '%s' is not %s", opt, value, name_choices(names, list, sizeof list));
    return v;
}

void cli_profile_start(int asked)
{
    const char *e = getenv("L1B_PROFILE");
    prof_start(asked || (e && *e && strcmp(e, "0")));
}

void cli_profile_report(void)
{
    if (!prof_enabled) return;
    double wall = prof_wall_seconds(), sum = 0;
    fprintf(stderr, "%s: profile (wall %.3f s)\n", progname, wall);
    for (int i = 0; i <= PROF_CATEGORIES; i++) {
        double t = i < PROF_CATEGORIES ? prof_seconds[i] : wall - sum;
        sum += t;
        fprintf(stderr, "  %-16s %9.3f s  %5.1f%%\n", i < PROF_CATEGORIES ? prof_names[i] : "other", t,
                wall > 0 ? 100.0 * t / wall : 0.0);
    }
}
