/* progress: status on stderr, in three manners chosen at start:
 * - live: stderr is a terminal that understands \r and ESC [K (TERM is set
 *   and not "dumb"): one line redrawn in place at most ten times a second,
 *   cleared when done;
 * - plain: a terminal without them (TERM=dumb or unset): the same line, but
 *   printed as a line of its own at most every PROGRESS_PLAIN_SECONDS;
 * - none: stderr is not a terminal (a log, a pipe, cron): no status line.
 * On a terminal every line fits its width (cli_term_columns: TIOCGWINSZ,
 * else $COLUMNS, else 80): a status line drops its least important fields,
 * a printed line (progress_print) wraps between fields. Elsewhere a printed
 * line is one line, whatever its length. Quiet mode (-q) prints nothing. */
#ifndef L1B_PROGRESS_H
#define L1B_PROGRESS_H

#define PROGRESS_PLAIN_SECONDS 10.0

typedef struct {
    int tty;        /* stderr is a terminal: lines fit its width */
    int live;       /* ... that redraws in place */
    int verbose;    /* print final lines even when not a terminal */
    int quiet;
    double last;    /* time of the last status line */
    int drawn;      /* a live line is on screen */
} Progress;

/* A field of a line and how long it stays when the line is too wide: the
 * lowest keep goes first (on ties the rightmost). */
typedef struct {
    const char *text;
    int keep;
} ProgressField;

void progress_init(Progress *p, int verbose, int quiet);
/* The widest line to write: the terminal's columns less one (a line that
 * fills the last column wraps early on some terminals). */
int progress_width(const Progress *p);
/* The status line, from fields separated by two spaces (rate-limited;
 * terminal only). */
void progress_status(Progress *p, const ProgressField *f, int n);
/* A status line of one text; when too wide it is cut after its last ", "
 * or "  " that fits. */
void progress_update(Progress *p, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A line that stays (a metric line): fields separated by two spaces,
 * continued on the next line, indented, where the terminal is too narrow;
 * printed unless quiet. */
void progress_print(Progress *p, const char *const *fields, int n);
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
