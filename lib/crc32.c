#include "crc32.h"

/* Slicing-by-4: four 256-entry tables let the loop consume a 32-bit word
 * per step instead of a byte (about 3x the byte-wise speed). */
static uint32_t table[4][256];
static int table_ready;

static void crc32_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 4; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
    table_ready = 1;
}

uint32_t crc32_update(uint32_t crc, const void *data, size_t n)
{
    if (!table_ready) crc32_init();
    const uint8_t *p = data;
    uint32_t c = ~crc;
    for (; n >= 4; n -= 4, p += 4) {
        c ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        c = table[3][c & 0xff] ^ table[2][(c >> 8) & 0xff] ^ table[1][(c >> 16) & 0xff] ^ table[0][c >> 24];
    }
    while (n--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}
