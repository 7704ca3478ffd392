#include "text/gpt2_bytes.h"

#include "text/unicode.h"

static bool stands_for_itself(uint32_t b)
{
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

/* The byte that code point cp stands for, or -1. The shifted bytes are
 * 0..32, 127..160 and 173, in that order, from U+0100 on. */
static int byte_of(uint32_t cp)
{
    if (cp < 256)
        return stands_for_itself(cp) ? (int)cp : -1;
    uint32_t k = cp - 256;
    if (k < 33)
        return (int)k;
    if (k < 67)
        return (int)(127 + k - 33);
    if (k == 67)
        return 173;
    return -1;
}

bool phi_gpt2_decode(const char *s, size_t len, uint8_t *out, size_t *out_len)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t clen;
        uint32_t cp = phi_utf8_decode(p + i, len - i, &clen);
        int b = cp == PHI_UTF8_INVALID ? -1 : byte_of(cp);
        if (b < 0)
            return false;
        out[n++] = (uint8_t)b;
        i += clen;
    }
    *out_len = n;
    return true;
}
