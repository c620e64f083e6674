#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

void progress_init(Progress *p, int verbose, int quiet)
{
    p->tty = !quiet && isatty(STDERR_FILENO);
    p->verbose = verbose && !quiet;
    p->quiet = quiet;
    p->last = 0;
    p->drawn = 0;
}

void progress_update(Progress *p, const char *fmt, ...)
{
    if (!p->tty) return;
    double t = now_seconds();
    if (t - p->last < 0.1) return;
    p->last = t;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\r\033[K%s: ", cli_progname());
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    p->drawn = 1;
}

void progress_clear(Progress *p)
{
    if (p->drawn) fputs("\r\033[K", stderr);
    p->drawn = 0;
}

void progress_line(Progress *p, const char *fmt, ...)
{
    progress_clear(p);
    if (!p->verbose) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cli_progname());
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
