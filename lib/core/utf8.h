/* Strict UTF-8 decoding, shared by the readers (JSON) and the text code. */
#ifndef PHI_CORE_UTF8_H
#define PHI_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Returned for a byte that does not start a well-formed UTF-8 sequence. */
#define PHI_UTF8_INVALID 0xFFFFFFFFu

/* Decode one code point from s[0..n), n >= 1, strictly (no overlongs, no
 * surrogates, nothing above U+10FFFF, no truncation). Sets *len to the bytes
 * used: the sequence length, or 1 with PHI_UTF8_INVALID for a byte that is
 * not the start of a well-formed sequence. */
static inline uint32_t phi_utf8_decode(const uint8_t *s, size_t n, size_t *len)
{
    uint8_t b0 = s[0];
    *len = 1;
    if (b0 < 0x80)
        return b0;
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    uint32_t cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1, cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2, cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;       /* overlong */
        if (b0 == 0xED) hi = 0x9F;       /* surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3, cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;       /* overlong */
        if (b0 == 0xF4) hi = 0x8F;       /* above U+10FFFF */
    } else {
        return PHI_UTF8_INVALID;
    }
    if (n <= need || s[1] < lo || s[1] > hi)
        return PHI_UTF8_INVALID;
    for (size_t i = 1; i <= need; i++) {
        if (i > 1 && (s[i] & 0xC0) != 0x80)
            return PHI_UTF8_INVALID;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    *len = need + 1;
    return cp;
}

#endif
