#include "pretok.h"

enum { LETTER, DIGIT, SPACE, PUNCT };

static unsigned char byte_class[256];
static int classes_ready;

static void classes_init(void)
{
    for (int c = 0; c < 256; c++) {
        int k = PUNCT;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c >= 0x80) k = LETTER;
        else if (c >= '0' && c <= '9') k = DIGIT;
        else if (c == ' ' || (c >= '\t' && c <= '\r')) k = SPACE;
        byte_class[c] = (unsigned char)k;
    }
    classes_ready = 1;
}

size_t pretok_next(const uint8_t *p, size_t n)
{
    if (!classes_ready) classes_init();
    size_t limit = n < PRETOK_MAX ? n : PRETOK_MAX;
    size_t i = 0;
    int k = byte_class[p[0]];

    if (p[0] == ' ') {
        if (n > 1 && byte_class[p[1]] != SPACE) {  /* " word": the space leads */
            k = byte_class[p[1]];
            i = 1;
        }
    }
    if (k != SPACE) {
        while (i < limit && byte_class[p[i]] == k) i++;
        return i;
    }
    while (i < limit && byte_class[p[i]] == SPACE) i++;
    if (i < n && byte_class[p[i]] != SPACE && i > 1 && p[i - 1] == ' ')
        i--;  /* leave the last space to the word that follows */
    return i;
}
