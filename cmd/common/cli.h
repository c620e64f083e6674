/* cli: what every program's main() shares — start-up (program name, SIMD
 * selection) and --version. Exit codes: 0 success, 1 failure, 2 misuse. */
#ifndef L1B_CLI_H
#define L1B_CLI_H

#include <stdint.h>

/* Set the name for messages and choose the kernels (honours L1B_SIMD). */
void cli_start(const char *argv0);
/* Print "prog VERSION (simd LEVEL; cpu FEATURES)" to stdout. */
void cli_version(void);
/* Print "prog: message" and "Try 'prog --help'." to stderr, exit 2. */
void cli_usage_error(const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;
/* Parse an unsigned option value within [min, max], or exit 2 naming opt. */
uint64_t cli_uint(const char *opt, const char *value, uint64_t min, uint64_t max);
/* The same for a real number. */
float cli_float(const char *opt, const char *value, float min, float max);

#endif
