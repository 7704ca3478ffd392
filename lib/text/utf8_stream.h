/* Turning detokenized bytes into text as they arrive. Tokens can end in the
 * middle of a character, and a model can emit byte tokens that never form
 * one, so the stream holds back an incomplete tail and replaces ill-formed
 * bytes with U+FFFD, one per maximal ill-formed subpart (the Unicode / WHATWG
 * practice, as TextDecoder does). What comes out is always valid UTF-8, and
 * it does not depend on how the input was split into feeds. */
#ifndef PHI_TEXT_UTF8_STREAM_H
#define PHI_TEXT_UTF8_STREAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct phi_utf8_stream {
    uint8_t held[4];    /* the incomplete character so far */
    uint8_t n_held;
    uint8_t n_needed;   /* continuation bytes still expected */
    uint8_t lo, hi;     /* allowed range of the next continuation byte */
} phi_utf8_stream;

/* Output never exceeds this for n input bytes (with what the stream held). */
#define PHI_UTF8_STREAM_MAX_OUT(n) (3 * ((size_t)(n) + 4))

void phi_utf8_stream_init(phi_utf8_stream *s);
/* Feed n bytes; writes the complete text they finish to out, which must have
 * room for PHI_UTF8_STREAM_MAX_OUT(n) bytes. Returns the bytes written. */
size_t phi_utf8_stream_feed(phi_utf8_stream *s, const uint8_t *in, size_t n, uint8_t *out);
/* End of input: an incomplete tail becomes U+FFFD (at most 3 bytes). */
size_t phi_utf8_stream_flush(phi_utf8_stream *s, uint8_t *out);

#endif
