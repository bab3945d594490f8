/* fuzz_png.c — libFuzzer harness for the PNG reader, fed from memory.
 *
 * Mutated chunks almost always fail their CRC, which stops libpng before it
 * looks at the contents; so the harness first rewrites every chunk's CRC to
 * match (the reader itself still checks them). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check_tensor.h"
#include "io/png.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walks the chunks after the 8-byte signature, fixing each CRC in place. */
static void fix_crcs(uint8_t *d, size_t n) {
  size_t pos = 8;
  while (pos + 12 <= n) {
    uint32_t len = be32(d + pos);
    if (len > n - pos - 12) break;
    uLong crc = crc32(0L, d + pos + 4, (uInt)len + 4);
    uint8_t *c = d + pos + 8 + len;
    c[0] = (uint8_t)(crc >> 24);
    c[1] = (uint8_t)(crc >> 16);
    c[2] = (uint8_t)(crc >> 8);
    c[3] = (uint8_t)crc;
    pos += 12 + (size_t)len;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char name[] = "fuzz.png";
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  fix_crcs(copy, size);
  cv_error err;
  err.msg[0] = '\0';
  cv_tensor *t = cv_png_load_from_memory(copy, size, name, &err);
  cv_fuzz_check_tensor(t, &err, name);
  free(copy);
  return 0;
}
