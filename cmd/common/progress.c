#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

#define MAX_FIELDS 32

void progress_init(Progress *p, int verbose, int quiet)
{
    p->tty = !quiet && isatty(STDERR_FILENO);
    p->live = p->tty && cli_term_redraws();
    p->verbose = verbose && !quiet;
    p->quiet = quiet;
    p->last = 0;
    p->drawn = 0;
}

int progress_width(const Progress *p)
{
    (void)p;
    int w = cli_term_columns(STDERR_FILENO) - 1;
    return w < 20 ? 20 : w;
}

/* Show a status line already fitted to the width, if it is time. */
static void show(Progress *p, const char *line)
{
    double t = now_seconds();
    if (t - p->last < (p->live ? 0.1 : PROGRESS_PLAIN_SECONDS)) return;
    p->last = t;
    if (p->live) {
        fprintf(stderr, "\r\033[K%s: %s", cli_progname(), line);
        p->drawn = 1;
    } else {
        fprintf(stderr, "%s: %s\n", cli_progname(), line);
    }
    fflush(stderr);
}

void progress_status(Progress *p, const ProgressField *f, int n)
{
    if (!p->tty || n <= 0) return;
    if (n > MAX_FIELDS) n = MAX_FIELDS;
    if (now_seconds() - p->last < (p->live ? 0.1 : PROGRESS_PLAIN_SECONDS)) return;
    int on[MAX_FIELDS], room = progress_width(p) - (int)strlen(cli_progname()) - 2;
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        on[i] = 1;
        len += strlen(f[i].text) + (i ? 2 : 0);
    }
    /* drop the least kept field until the line fits; one field stays */
    for (int left = n; (int)len > room && left > 1; left--) {
        int drop = -1;
        for (int i = 0; i < n; i++)
            if (on[i] && (drop < 0 || f[i].keep <= f[drop].keep)) drop = i;
        on[drop] = 0;
        len -= strlen(f[drop].text) + 2;
    }
    char line[512];
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (!on[i]) continue;
        k += (size_t)snprintf(line + k, k < sizeof line ? sizeof line - k : 0, "%s%s", k ? "  " : "", f[i].text);
        if (k >= sizeof line) k = sizeof line - 1;
    }
    if (room > 0 && k > (size_t)room) line[room] = 0;  /* the one field left is wider than the terminal */
    show(p, line);
}

void progress_update(Progress *p, const char *fmt, ...)
{
    if (!p->tty) return;
    if (now_seconds() - p->last < (p->live ? 0.1 : PROGRESS_PLAIN_SECONDS)) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    int room = progress_width(p) - (int)strlen(cli_progname()) - 2;
    if (room > 0 && strlen(line) > (size_t)room) {
        size_t cut = (size_t)room;
        for (size_t i = (size_t)room; i > 0; i--)
            if (line[i - 1] == ' ' && i >= 2 && (line[i - 2] == ',' || line[i - 2] == ' ')) {
                cut = i - 2;
                break;
            }
        line[cut] = 0;
    }
    show(p, line);
}

void progress_print(Progress *p, const char *const *fields, int n)
{
    if (p->quiet) return;
    progress_clear(p);
    int width = p->tty ? progress_width(p) : 0, indent = (int)strlen(cli_progname()) + 2;
    int col = fprintf(stderr, "%s:", cli_progname());
    for (int i = 0; i < n; i++) {
        int w = (int)strlen(fields[i]);
        if (i && width && col + 2 + w > width) {
            fprintf(stderr, "\n%*s%s", indent, "", fields[i]);
            col = indent + w;
        } else {
            fprintf(stderr, "%s%s", i ? "  " : " ", fields[i]);
            col += (i ? 2 : 1) + w;
        }
    }
    fputc('\n', stderr);
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
