/* crc32: CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial value
 * and final xor 0xFFFFFFFF), as used by zlib and PNG. crc32_update chains:
 * crc32_update(crc32_update(0, a), b) == CRC of a followed by b. */
#ifndef L1B_CRC32_H
#define L1B_CRC32_H
#include <stddef.h>
#include <stdint.h>

uint32_t crc32_update(uint32_t crc, const void *data, size_t n);

#endif
