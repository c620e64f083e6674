/* progress: status on stderr. On a terminal, one line redrawn in place at
 * most ten times a second and cleared when done; summary lines only when
 * asked for (-v), terminal or not. Quiet mode (-q) prints nothing at all. */
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
/* A finished step's summary: clears the live line; printed only when
 * verbose. */
void progress_line(Progress *p, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Clear the live line (before an error message, say). */
void progress_clear(Progress *p);

#endif
