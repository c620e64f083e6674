#include "helpers.h"

#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

char *temp_file_with(const void *data, size_t n)
{
    /* a named file (tmpfile_create's are anonymous) */
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    size_t len = strlen(dir) + 32;
    char *path = xmalloc(len);
    snprintf(path, len, "%s/l1b-test.XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0 || write_full(fd, data, n, path) < 0) {
        fprintf(stderr, "temp_file_with: %s: %s\n", path, fd < 0 ? strerror(errno) : l1b_last_error());
        exit(2);
    }
    close(fd);
    return path;
}

unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, used = 0;
    unsigned char *buf = xmalloc(cap);
    size_t got;
    while ((got = fread(buf + used, 1, cap - used, f)) > 0) {
        used += got;
        if (used == cap) buf = xrealloc(buf, cap *= 2);
    }
    fclose(f);
    *n = used;
    return buf;
}

void plausible_train_state(TrainState *st)
{
    if (!st->batch) st->batch = 1;
    if (!st->accum) st->accum = 1;
    if (st->total_steps < st->step) st->total_steps = st->step;
    if (!st->total_steps) st->total_steps = 1;
    if (!st->rng_state) st->rng_state = 1;
}
