/* The plain driver of a fuzz target, for any C compiler and no libFuzzer:
 * replays every file named on the command line and every file of every
 * directory named there (in name order), each once, through
 * LLVMFuzzerTestOneInput, then prints "N inputs replayed". A broken check
 * aborts naming the input (common.h); exit 1 if an input cannot be read.
 *
 *   replay-TARGET DIR|FILE...                  (make fuzz-replay) */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

static uint8_t *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (!b) break;
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *nb = realloc(b, cap *= 2);
        if (!nb) { free(b); b = NULL; }
        else b = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(b); return NULL; }
    *size = n;
    return b;
}

static int replay_file(const char *path)
{
    size_t size = 0;
    uint8_t *data = read_whole(path, &size);
    if (!data) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fuzz_input_name = path;
    LLVMFuzzerTestOneInput(data, size);
    fuzz_input_name = NULL;
    free(data);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
    long n = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (replay_file(argv[i]) < 0) rc = 1;
            else n++;
            continue;
        }
        struct dirent **list;
        int k = scandir(argv[i], &list, NULL, by_name);
        if (k < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
            continue;
        }
        for (int j = 0; j < k; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], list[j]->d_name);
            if (list[j]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                if (replay_file(path) < 0) rc = 1;
                else n++;
            }
            free(list[j]);
        }
        free(list);
    }
    printf("%ld inputs replayed\n", n);
    return rc;
}
