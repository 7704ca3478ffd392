#include "text/utf8_stream.h"

#include <stdbool.h>
#include <string.h>

static size_t put_replacement(uint8_t *out)
{
    out[0] = 0xEF, out[1] = 0xBF, out[2] = 0xBD;
    return 3;
}

void phi_utf8_stream_init(phi_utf8_stream *s) { memset(s, 0, sizeof *s); }

/* Start a character with lead byte b: false if b cannot start one. */
static bool start(phi_utf8_stream *s, uint8_t b)
{
    s->lo = 0x80, s->hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        s->n_needed = 1;
    else if (b >= 0xE0 && b <= 0xEF)
        s->n_needed = 2;
    else if (b >= 0xF0 && b <= 0xF4)
        s->n_needed = 3;
    else
        return false;
    if (b == 0xE0) s->lo = 0xA0; /* overlong */
    if (b == 0xED) s->hi = 0x9F; /* surrogates */
    if (b == 0xF0) s->lo = 0x90; /* overlong */
    if (b == 0xF4) s->hi = 0x8F; /* above U+10FFFF */
    s->held[0] = b;
    s->n_held = 1;
    return true;
}

size_t phi_utf8_stream_feed(phi_utf8_stream *s, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = in[i];
        if (s->n_needed > 0) {
            if (b >= s->lo && b <= s->hi) {
                s->held[s->n_held++] = b;
                s->lo = 0x80, s->hi = 0xBF;
                if (--s->n_needed == 0) {
                    memcpy(out + w, s->held, s->n_held);
                    w += s->n_held;
                    s->n_held = 0;
                }
                continue;
            }
            /* The held bytes are a maximal ill-formed subpart; b starts afresh. */
            w += put_replacement(out + w);
            s->n_needed = 0;
            s->n_held = 0;
        }
        if (b < 0x80)
            out[w++] = b;
        else if (!start(s, b))
            w += put_replacement(out + w);
    }
    return w;
}

size_t phi_utf8_stream_flush(phi_utf8_stream *s, uint8_t *out)
{
    size_t w = 0;
    if (s->n_needed > 0)
        w = put_replacement(out);
    phi_utf8_stream_init(s);
    return w;
}
