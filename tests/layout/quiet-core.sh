#!/bin/sh
# The layout rule, checked on the compiled core: no object built from lib/
# may print to stdout/stderr, exit, or read the environment (README.md,
# "Layout"). Symbols, not source text, so a comment cannot fool it and a
# macro cannot hide a call. Usage: quiet-core.sh LIB_OBJECT...
set -eu
[ $# -gt 0 ] || { echo "usage: quiet-core.sh LIB_OBJECT..." >&2; exit 2; }
banned='^(stdout|stderr|printf|vprintf|fprintf|vfprintf|dprintf|vdprintf|puts|fputs|putchar|fputc|putc|fwrite|perror|psignal|err|errx|warn|warnx|verr|verrx|vwarn|vwarnx|error|exit|_exit|_Exit|quick_exit|getenv|secure_getenv|__printf_chk|__fprintf_chk|__vfprintf_chk|__vprintf_chk|__dprintf_chk)$'
n=0 bad=0
for o in "$@"; do
    n=$((n + 1))
    hits=$(nm -u "$o" | awk '{print $NF}' | sed 's/@.*//' | grep -E "$banned" | sort -u | paste -sd, -) || true
    if [ -n "$hits" ]; then
        echo "quiet-core: $(basename "$o" .o) uses $hits: the core computes and returns errors; printing, exiting and the environment belong in cmd/" >&2
        bad=$((bad + 1))
    fi
done
[ "$bad" -eq 0 ] || exit 1
echo "quiet-core: $n core objects print nothing, exit nowhere, read no environment"
