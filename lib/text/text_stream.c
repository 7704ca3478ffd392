#include "text/text_stream.h"

#include <string.h>

#include "phi4.h"

/* Where the reply is. Tags are recognised only where a reasoning model
 * writes them: <think> first in the reply (after white space), </think>
 * anywhere in the thinking; an answer that mentions the tags later is text.
 * White space between the tags and the text on either side is dropped. */
enum {
    OPENING,      /* held: white space, then maybe part of "<think>" */
    THINK_LEAD,   /* after <think>: white space is dropped */
    THINKING,     /* held: maybe part of "</think>" */
    ANSWER_LEAD,  /* after </think>: white space is dropped */
    ANSWER,       /* everything passes */
};

static const char open_tag[] = "<think>", close_tag[] = "</think>";
#define OPEN_LEN (sizeof open_tag - 1)
#define CLOSE_LEN (sizeof close_tag - 1)

void phi_text_stream_init(phi_text_stream *s, bool split_thinking)
{
    memset(s, 0, sizeof *s);
    phi_utf8_stream_init(&s->utf8);
    s->split_thinking = split_thinking;
    s->phase = split_thinking ? OPENING : ANSWER;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int emit(phi_text_sink sink, void *user, int32_t channel, const char *p, size_t n)
{
    return n ? sink(user, channel, p, n) : 0;
}

/* One byte while the reply may still open with <think>; held never holds
 * more than PHI_THINK_TAG_MAX bytes. Returns true while the byte is held. */
static bool opening_byte(phi_text_stream *s, char b)
{
    if (s->n_held == PHI_THINK_TAG_MAX)
        return false;
    s->held[s->n_held++] = b;
    size_t ws = 0;
    while (ws < s->n_held && is_space(s->held[ws]))
        ws++;
    size_t n = s->n_held - ws;
    if (n <= OPEN_LEN && memcmp(s->held + ws, open_tag, n) == 0) {
        if (n == OPEN_LEN)
            s->n_held = 0, s->phase = THINK_LEAD;
        return true;
    }
    s->n_held--;
    return false;
}

/* Split valid UTF-8 text. Phases change only at ASCII bytes, so every piece
 * handed on is whole characters. `run` is where the text not yet handed on
 * starts (in the current phase's channel). */
static int split_text(phi_text_stream *s, const char *p, size_t n, phi_text_sink sink, void *user)
{
    size_t run = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char b = p[i];
        switch (s->phase) {
        case ANSWER:
            continue;
        case OPENING:
            if (opening_byte(s, b)) {
                run = i + 1;
            } else {
                rc = emit(sink, user, PHI_CHANNEL_ANSWER, s->held, s->n_held);
                s->n_held = 0, s->phase = ANSWER, run = i;
            }
            continue;
        case THINK_LEAD:
        case ANSWER_LEAD:
            if (is_space(b)) {
                run = i + 1;
                continue;
            }
            s->phase = s->phase == THINK_LEAD ? THINKING : ANSWER;
            run = i;
            if (s->phase == ANSWER)
                continue;
            break;
        default:
            break;
        }
        /* THINKING */
        if (s->n_held == 0 && b != '<')
            continue;
        if (s->n_held == 0)
            rc = emit(sink, user, PHI_CHANNEL_THINKING, p + run, i - run);
        s->held[s->n_held++] = b;
        run = i + 1;
        if (memcmp(s->held, close_tag, s->n_held) == 0) {
            if (s->n_held == CLOSE_LEN)
                s->n_held = 0, s->phase = ANSWER_LEAD;
            continue;
        }
        /* Not the tag after all: what was held is thinking. The new byte
         * may start the tag again ('<') or starts the next run. */
        if (rc == 0)
            rc = emit(sink, user, PHI_CHANNEL_THINKING, s->held, s->n_held - 1);
        if (b == '<') {
            s->held[0] = '<', s->n_held = 1;
        } else {
            s->n_held = 0;
            run = i;
        }
    }
    if (rc == 0 && run < n) {
        if (s->phase == ANSWER)
            rc = emit(sink, user, PHI_CHANNEL_ANSWER, p + run, n - run);
        else if (s->phase == THINKING && s->n_held == 0)
            rc = emit(sink, user, PHI_CHANNEL_THINKING, p + run, n - run);
    }
    return rc;
}

int phi_text_stream_bytes(phi_text_stream *s, const uint8_t *bytes, size_t len,
                          phi_text_sink sink, void *user)
{
    enum { SLICE = 256 };
    char text[PHI_UTF8_STREAM_MAX_OUT(SLICE)];
    for (size_t at = 0; at < len; at += SLICE) {
        size_t n = len - at < SLICE ? len - at : SLICE;
        size_t out = phi_utf8_stream_feed(&s->utf8, bytes + at, n, (uint8_t *)text);
        int rc = split_text(s, text, out, sink, user);
        if (rc)
            return rc;
    }
    return 0;
}

int phi_text_stream_token(phi_text_stream *s, const phi_tokenizer *t, int32_t token,
                          phi_text_sink sink, void *user)
{
    const uint8_t *bytes;
    size_t len;
    if (phi_tokenizer_piece(t, token, &bytes, &len) != PHI_OK)
        return PHI_E_INVALID_ARG;
    /* Control tokens are markup, not text, except the thinking tags, which
     * some vocabularies make control tokens. */
    bool tag = (len == OPEN_LEN && memcmp(bytes, open_tag, len) == 0) ||
               (len == CLOSE_LEN && memcmp(bytes, close_tag, len) == 0);
    if (phi_tokenizer_type(t, token) == PHI_TOKEN_CONTROL && !tag)
        return 0;
    return phi_text_stream_bytes(s, bytes, len, sink, user);
}

int phi_text_stream_finish(phi_text_stream *s, phi_text_sink sink, void *user)
{
    char tail[4];
    size_t n = phi_utf8_stream_flush(&s->utf8, (uint8_t *)tail);
    int rc = split_text(s, tail, n, sink, user);
    if (rc == 0 && s->n_held)
        rc = emit(sink, user, s->phase == THINKING ? PHI_CHANNEL_THINKING : PHI_CHANNEL_ANSWER,
                  s->held, s->n_held);
    s->n_held = 0;
    return rc;
}
