/* Generated tokens to text, as they arrive: each token's bytes (control
 * tokens have none), held back until they form whole UTF-8 characters, then
 * split into the reasoning models' thinking (between <think> and </think>
 * at the start of the reply, tags removed) and the answer. Whatever the
 * tokens, the output is valid UTF-8 and does not depend on how the text was
 * cut into tokens. */
#ifndef PHI_TEXT_TEXT_STREAM_H
#define PHI_TEXT_TEXT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"
#include "text/utf8_stream.h"

/* Receives text in order; a nonzero return is passed back to the caller. */
typedef int (*phi_text_sink)(void *user, int32_t channel, const char *text, size_t len);

enum { PHI_THINK_TAG_MAX = 40 };

typedef struct phi_text_stream {
    phi_utf8_stream utf8;
    bool split_thinking;
    int32_t phase;                  /* see text_stream.c */
    char held[PHI_THINK_TAG_MAX];   /* text not yet known to be tag or text */
    size_t n_held;
} phi_text_stream;

void phi_text_stream_init(phi_text_stream *s, bool split_thinking);
/* Feed one generated token. */
int phi_text_stream_token(phi_text_stream *s, const phi_tokenizer *t, int32_t token,
                          phi_text_sink sink, void *user);
/* Feed text directly (bytes, any split). */
int phi_text_stream_bytes(phi_text_stream *s, const uint8_t *bytes, size_t len,
                          phi_text_sink sink, void *user);
/* End of generation: send everything held back. */
int phi_text_stream_finish(phi_text_stream *s, phi_text_sink sink, void *user);

#endif
