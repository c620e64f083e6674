#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kernels.h"
#include "profile.h"
#include "util.h"

static const char *progname = "l1b";
static int failing;  /* exiting on an error already reported */
static int env_columns;  /* $COLUMNS, 0: unset or not a number */
static int env_redraws;  /* $TERM set and not "dumb" */

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
    failing = 1;
    exit(1);
}

void cli_die_last(void) { cli_die("%s", l1b_last_error()); }

static void out_of_memory(size_t n)
{
    cli_die("out of memory (%zu bytes)", n);
}

/* Descriptors 0-2 closed by the caller (2>&-) would be handed to the next
 * file the program opens, which would then receive its messages or be
 * read as input: give them /dev/null first. */
static void open_standard_descriptors(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int got = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (got >= 0 && got != fd) close(got);  /* cannot happen: the lowest free is fd */
        }
}

/* Whatever a program wrote to stdout (--help included) must have arrived:
 * a write error, seen at the latest when stdout is flushed at exit, makes
 * the exit status 1. */
static void check_stdout_at_exit(void)
{
    if (failing) return;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: stdout: write error%s%s\n", progname, errno ? ": " : "", errno ? strerror(errno) : "");
        _exit(1);
    }
}

void cli_start(const char *argv0)
{
    open_standard_descriptors();
    atexit(check_stdout_at_exit);
    const char *s = strrchr(argv0, '/');
    progname = s ? s + 1 : argv0;
    alloc_on_failure(out_of_memory);
    tmpfile_set_dir(getenv("TMPDIR"));
    const char *cols = getenv("COLUMNS"), *term = getenv("TERM");
    uint64_t n;
    env_columns = cols && parse_u64(cols, &n) == 0 && n > 0 && n < 100000 ? (int)n : 0;
    env_redraws = term && *term && strcmp(term, "dumb") != 0;
    if (kernels_init(getenv("L1B_SIMD")) < 0) cli_warn("%s", l1b_last_error());
}

void cli_version(void)
{
    printf("%s %s (simd %s; cpu %s)\n", progname, L1B_VERSION, simd_name(kern.level), cpu_feature_string());
}

void cli_help_footer(void)
{
    printf("\nl1b %s: tiny ternary language models for the shell; overview: man l1b\n"
           "Report bugs to %s\n", L1B_VERSION, L1B_BUGREPORT);
}

void cli_usage_error(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\nTry '%s --help'.\n", progname, line, progname);
    failing = 1;
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

int cli_term_columns(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return env_columns ? env_columns : 80;
}

int cli_term_redraws(void) { return env_redraws; }

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
