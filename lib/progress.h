/* progress: status on stderr. On a terminal, one line redrawn in place at
 * most ten times a second; elsewhere nothing but the final lines, and those
 * only when asked (-v). Quiet mode (-q) prints nothing at all. */
#ifndef L1B_PROGRESS_H
#define L1B_PROGRESS_H

typedef struct {
    int tty;        /* stderr is a terminal: redraw live */
    int verbose;    /* print final lines even when not a terminal */
    int quiet;
    double last;    /* time of the last redraw */
    int drawn;      /* a live line is on screen */
} Progress;

void progress_init(Progress *p, int verbose, int quiet);
/* Redraw the live line (terminal only, rate-limited). */
void progress_update(Progress *p, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A finished step: replaces the live line on a terminal; printed when on a
 * terminal or verbose. */
void progress_line(Progress *p, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Clear the live line (before an error message, say). */
void progress_clear(Progress *p);

#endif
