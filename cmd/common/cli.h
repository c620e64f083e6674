/* cli: what every program's main() shares — start-up, messages on
 * stderr ("prog: message"), option values, --version, the profile table.
 * Program side: these print and exit, which lib/ never does.
 * Exit codes: 0 success, 1 failure, 2 misuse. */
#ifndef L1B_CLI_H
#define L1B_CLI_H

#include <stdint.h>

#include "util.h"

#ifdef __GNUC__
#define L1B_PRINTF(i, j) __attribute__((format(printf, i, j)))
#define L1B_NORETURN __attribute__((noreturn))
#else
#define L1B_PRINTF(i, j)
#define L1B_NORETURN
#endif

/* Start-up, the only place the environment is read: the program's name for
 * messages, the kernels (L1B_SIMD; a warning if it cannot be honoured),
 * the temporary directory ($TMPDIR) and an out-of-memory message. */
void cli_start(const char *argv0);
const char *cli_progname(void);

/* "prog: message" on stderr; die exits 1; die_last prints the message the
 * library recorded with l1b_error(). */
void cli_warn(const char *fmt, ...) L1B_PRINTF(1, 2);
void cli_die(const char *fmt, ...) L1B_PRINTF(1, 2) L1B_NORETURN;
void cli_die_last(void) L1B_NORETURN;

/* Print "prog VERSION (simd LEVEL; cpu FEATURES)" to stdout. */
void cli_version(void);
/* The last lines of every --help: the version, where to read more and
 * where to report bugs (L1B_VERSION, L1B_BUGREPORT in lib/util.h). */
void cli_help_footer(void);
/* Print "prog: message" and "Try 'prog --help'." to stderr, exit 2. */
void cli_usage_error(const char *fmt, ...) L1B_PRINTF(1, 2) L1B_NORETURN;
/* Parse an unsigned option value within [min, max], or exit 2 naming opt. */
uint64_t cli_uint(const char *opt, const char *value, uint64_t min, uint64_t max);
/* The same for a real number. */
float cli_float(const char *opt, const char *value, float min, float max);
/* The value a name table (util.h) gives value, or exit 2 listing the
 * names: "--ffn-act: 'x' is not swiglu or relu2". */
int cli_choice(const char *opt, const char *value, const NameValue *names);

/* The terminal on descriptor fd: its width in columns (TIOCGWINSZ, else
 * $COLUMNS as read at start-up, else 80), and whether it redraws a line in
 * place (\r and ESC [K): $TERM set and not "dumb". */
int cli_term_columns(int fd);
int cli_term_redraws(void);

/* Profiling (lib/profile.h): on when asked (--profile) or L1B_PROFILE is
 * set to anything but "0"; cli_profile_report prints the table, if on. */
void cli_profile_start(int asked);
void cli_profile_report(void);

#endif
