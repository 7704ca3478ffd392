/* The public API's text side: tokenizing, chat prompts, and generation that
 * hands out text instead of tokens. */
#include <string.h>

#include "api_ctx.h"
#include "text/chat.h"
#include "text/tokenizer.h"
#include "text/utf8_stream.h"

static const phi_tokenizer *require_tokenizer(phi_ctx *ctx)
{
    if (api_require_model(ctx) != PHI_OK)
        return NULL;
    if (!ctx->model->tokenizer) {
        api_fail(ctx, PHI_E_UNSUPPORTED, "no tokenizer: %s", ctx->model->tokenizer_error);
        return NULL;
    }
    return ctx->model->tokenizer;
}

/* ---- tokens ------------------------------------------------------------- */

int32_t phi_tokenize(phi_ctx *ctx, const char *text, size_t len, uint32_t flags,
                     phi_token *tokens, size_t cap, size_t *n_out)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    if (!n_out || (!text && len) || (!tokens && cap))
        return api_fail(ctx, PHI_E_INVALID_ARG, "phi_tokenize: NULL text, tokens or n_out");
    if (flags & ~(PHI_TOKENIZE_SPECIAL | PHI_TOKENIZE_ADD_BOS))
        return api_fail(ctx, PHI_E_INVALID_ARG, "phi_tokenize: unknown flags 0x%x", (unsigned)flags);
    const phi_tokenizer *t = require_tokenizer(ctx);
    if (!t)
        return ctx->err.code;
    size_t lead = (flags & PHI_TOKENIZE_ADD_BOS) && ctx->model->vocab.bos >= 0;
    if (lead && cap)
        tokens[0] = ctx->model->vocab.bos;
    size_t n;
    phi_err e = {0};
    int rc = phi_tokenizer_encode(t, text, len, flags & PHI_TOKENIZE_SPECIAL,
                                  cap > lead ? tokens + lead : NULL, cap > lead ? cap - lead : 0,
                                  &n, &e);
    *n_out = n + lead;
    if (rc == PHI_E_BUFFER_TOO_SMALL || (rc == PHI_OK && n + lead > cap))
        return api_fail(ctx, PHI_E_BUFFER_TOO_SMALL, "the text is %zu tokens; the buffer holds %zu",
                        n + lead, cap);
    return rc == PHI_OK ? PHI_OK : api_fail_with(ctx, &e);
}

typedef struct text_out {
    char *buf;
    size_t cap, n;
} text_out;

static void put_text(text_out *o, const void *p, size_t len)
{
    if (len && o->n + len <= o->cap)
        memcpy(o->buf + o->n, p, len);
    o->n += len;
}

int32_t phi_detokenize(phi_ctx *ctx, const phi_token *tokens, size_t n, uint32_t flags,
                       char *text, size_t cap, size_t *n_out)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    if (!n_out || (!tokens && n) || (!text && cap))
        return api_fail(ctx, PHI_E_INVALID_ARG, "phi_detokenize: NULL tokens, text or n_out");
    if (flags & ~PHI_DETOKENIZE_SKIP_SPECIAL)
        return api_fail(ctx, PHI_E_INVALID_ARG, "phi_detokenize: unknown flags 0x%x", (unsigned)flags);
    const phi_tokenizer *t = require_tokenizer(ctx);
    if (!t)
        return ctx->err.code;
    /* Room for the NUL is kept out of the text's share of the buffer. */
    text_out o = {text, cap ? cap - 1 : 0, 0};
    phi_utf8_stream s;
    phi_utf8_stream_init(&s);
    uint8_t buf[PHI_UTF8_STREAM_MAX_OUT(64)];
    for (size_t i = 0; i < n; i++) {
        const uint8_t *bytes;
        size_t len;
        if (phi_tokenizer_piece(t, tokens[i], &bytes, &len) != PHI_OK)
            return api_fail(ctx, PHI_E_INVALID_ARG, "token %zu is %d, outside [0, %lld)", i,
                            (int)tokens[i], (long long)phi_tokenizer_n_tokens(t));
        if ((flags & PHI_DETOKENIZE_SKIP_SPECIAL) &&
            phi_tokenizer_type(t, tokens[i]) == PHI_TOKEN_CONTROL)
            continue;
        for (size_t at = 0; at < len; at += 64) {
            size_t k = len - at < 64 ? len - at : 64;
            put_text(&o, buf, phi_utf8_stream_feed(&s, bytes + at, k, buf));
        }
    }
    put_text(&o, buf, phi_utf8_stream_flush(&s, buf));
    *n_out = o.n;
    if (o.n + 1 > cap)
        return api_fail(ctx, PHI_E_BUFFER_TOO_SMALL, "the text needs %zu bytes with its NUL",
                        o.n + 1);
    text[o.n] = '\0';
    return PHI_OK;
}

int32_t phi_token_piece(phi_ctx *ctx, phi_token token, char *buf, size_t cap, size_t *n_out)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    if (!n_out || (!buf && cap))
        return api_fail(ctx, PHI_E_INVALID_ARG, "phi_token_piece: NULL buf or n_out");
    const phi_tokenizer *t = require_tokenizer(ctx);
    if (!t)
        return ctx->err.code;
    const uint8_t *bytes;
    size_t len;
    if (phi_tokenizer_piece(t, token, &bytes, &len) != PHI_OK)
        return api_fail(ctx, PHI_E_INVALID_ARG, "token %d is outside [0, %lld)", (int)token,
                        (long long)phi_tokenizer_n_tokens(t));
    return api_copy_out(ctx, (const char *)bytes, len, buf, cap, n_out);
}

/* ---- chat --------------------------------------------------------------- */

/* The chat format in effect, or AUTO with the error set. */
static int chat_format(phi_ctx *ctx)
{
    if (ctx->opt.chat_format != PHI_CHAT_FORMAT_AUTO)
        return (int)ctx->opt.chat_format;
    const phi_model *m = ctx->model;
    if (m->chat_format != PHI_CHAT_FORMAT_AUTO)
        return m->chat_format;
    if (m->chat_template.len)
        api_fail(ctx, PHI_E_UNSUPPORTED,
                 "the model's chat template is not one of the Phi-4 chat formats; choose one "
                 "with PHI_OPT_CHAT_FORMAT");
    else
        api_fail(ctx, PHI_E_UNSUPPORTED,
                 "the model has no chat template and its special tokens name no Phi-4 chat "
                 "format; choose one with PHI_OPT_CHAT_FORMAT");
    return PHI_CHAT_FORMAT_AUTO;
}

static int collect_text(void *user, const char *text, size_t len, bool markers)
{
    (void)markers;
    put_text(user, text, len);
    return 0;
}

int32_t phi_chat_format(phi_ctx *ctx, const phi_chat_message *messages, size_t n,
                        const char *tools, uint32_t flags, char *out, size_t cap, size_t *n_out)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    if (!n_out || (!out && cap))
        return api_fail(ctx, PHI_E_INVALID_ARG, "phi_chat_format: NULL out or n_out");
    if (api_require_model(ctx) != PHI_OK)
        return ctx->err.code;
    int format = chat_format(ctx);
    if (format == PHI_CHAT_FORMAT_AUTO)
        return ctx->err.code;
    text_out o = {out, cap ? cap - 1 : 0, 0};
    phi_err e = {0};
    if (phi_chat_render(format, messages, n, tools, flags, collect_text, &o, &e) != PHI_OK)
        return api_fail_with(ctx, &e);
    *n_out = o.n;
    if (o.n + 1 > cap)
        return api_fail(ctx, PHI_E_BUFFER_TOO_SMALL, "the prompt needs %zu bytes with its NUL",
                        o.n + 1);
    out[o.n] = '\0';
    return PHI_OK;
}

static int32_t chat_tokens(phi_ctx *ctx, const phi_chat_message *messages, size_t n,
                           const char *tools, uint32_t flags, phi_token *tokens, size_t cap,
                           size_t *n_out)
{
    const phi_tokenizer *t = require_tokenizer(ctx);
    if (!t)
        return ctx->err.code;
    int format = chat_format(ctx);
    if (format == PHI_CHAT_FORMAT_AUTO)
        return ctx->err.code;
    const char *missing = phi_chat_missing_marker(format, t);
    if (missing)
        return api_fail(ctx, PHI_E_UNSUPPORTED,
                        "the chat format needs the special token %s, which this model's vocabulary "
                        "lacks; choose another with PHI_OPT_CHAT_FORMAT", missing);
    phi_err e = {0};
    int rc = phi_chat_encode(t, &ctx->mem, format, messages, n, tools, flags, tokens, cap, n_out, &e);
    return rc == PHI_OK ? PHI_OK : api_fail_with(ctx, &e);
}

int32_t phi_chat_tokenize(phi_ctx *ctx, const phi_chat_message *messages, size_t n,
                          const char *tools, uint32_t flags, phi_token *tokens, size_t cap,
                          size_t *n_out)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    if (!n_out || (!tokens && cap))
        return api_fail(ctx, PHI_E_INVALID_ARG, "phi_chat_tokenize: NULL tokens or n_out");
    return chat_tokens(ctx, messages, n, tools, flags, tokens, cap, n_out);
}

static int32_t begin_chat(phi_ctx *ctx, const phi_chat_message *messages, size_t n,
                          const char *tools, uint32_t flags)
{
    if (api_require_model(ctx) != PHI_OK)
        return ctx->err.code;
    /* A conversation longer than the context is refused anyway, so a buffer
     * of n_ctx tokens takes it in one pass. */
    size_t cap = (size_t)ctx->n_ctx, count;
    phi_token *tokens = phi_alloc_array(&ctx->mem, cap, sizeof *tokens);
    if (!tokens)
        return api_fail(ctx, PHI_E_NOMEM, "out of memory for %zu prompt tokens", cap);
    int32_t rc = chat_tokens(ctx, messages, n, tools, flags | PHI_CHAT_ADD_ASSISTANT, tokens, cap,
                             &count);
    if (rc == PHI_E_BUFFER_TOO_SMALL)
        rc = api_fail(ctx, PHI_E_CONTEXT_FULL,
                      "the conversation is %zu tokens; the context holds %d", count,
                      (int)ctx->n_ctx);
    if (rc == PHI_OK) {
        /* Keep what the sequence shares with the conversation. */
        size_t same = 0;
        while (same < count && same < (size_t)ctx->n_tokens && ctx->tokens[same] == tokens[same])
            same++;
        if (same < (size_t)ctx->n_tokens)
            api_truncate(ctx, (int32_t)same);
        api_log(ctx, PHI_LOG_DEBUG, "chat: %zu of %zu prompt tokens already evaluated", same,
                count);
        rc = api_generate_begin(ctx, tokens + same, count - same);
    }
    phi_free(&ctx->mem, tokens);
    return rc;
}

int32_t phi_generate_begin_chat(phi_ctx *ctx, const phi_chat_message *messages, size_t n,
                                const char *tools, uint32_t flags)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    return begin_chat(ctx, messages, n, tools, flags);
}

/* ---- text generation ---------------------------------------------------- */

void api_text_reset(phi_ctx *ctx)
{
    ctx->text_active = false;
    ctx->text_finished = false;
    ctx->queue.n = ctx->queue.head = 0;
    ctx->queue.len = 0;
}

static int queue_piece(void *user, int32_t channel, const char *text, size_t len)
{
    phi_ctx *ctx = user;
    text_queue *q = &ctx->queue;
    size_t need;
    if (phi_add_overflows(q->len, len, &need))
        return api_fail(ctx, PHI_E_NOMEM, "generated text too long");
    if (need > q->cap) {
        size_t cap = need > 2 * q->cap ? need : 2 * q->cap;
        char *grown = phi_alloc(&ctx->mem, cap);
        if (!grown)
            return api_fail(ctx, PHI_E_NOMEM, "out of memory for %zu bytes of text", cap);
        if (q->len)
            memcpy(grown, q->buf, q->len);
        phi_free(&ctx->mem, q->buf);
        q->buf = grown, q->cap = cap;
    }
    memcpy(q->buf + q->len, text, len);
    if (q->n > q->head && q->piece[q->n - 1].channel == channel) {
        q->piece[q->n - 1].len += len; /* same channel: one piece */
    } else {
        if (q->n == PHI_TEXT_QUEUE)
            return api_fail(ctx, PHI_E_INTERNAL, "text queue overflow");
        q->piece[q->n].channel = channel;
        q->piece[q->n].off = q->len;
        q->piece[q->n].len = len;
        q->n++;
    }
    q->len = need;
    return 0;
}

/* Generate until there is text to hand out or generation is over. */
static int32_t fill_queue(phi_ctx *ctx)
{
    text_queue *q = &ctx->queue;
    if (q->head == q->n)
        q->n = q->head = 0, q->len = 0;
    while (q->n == 0 && !ctx->text_finished) {
        phi_token tok;
        int32_t rc = ctx->generating ? api_generate_step(ctx, &tok) : PHI_DONE;
        if (rc < 0)
            return rc;
        if (rc == PHI_OK)
            rc = phi_text_stream_token(&ctx->text, ctx->model->tokenizer, tok, queue_piece, ctx);
        else {
            ctx->text_finished = true;
            rc = phi_text_stream_finish(&ctx->text, queue_piece, ctx);
        }
        if (rc != 0)
            return ctx->err.code ? ctx->err.code : api_fail(ctx, rc, "text output failed");
    }
    return PHI_OK;
}

static int32_t next_text(phi_ctx *ctx, int32_t *channel, const char **text, size_t *len)
{
    if (!ctx->text_active) {
        if (!ctx->generating)
            return api_fail(ctx, PHI_E_STATE,
                            "phi_generate_next_text without phi_generate_begin(_chat)");
        if (!require_tokenizer(ctx))
            return ctx->err.code;
        phi_text_stream_init(&ctx->text, ctx->opt.split_thinking != 0);
        ctx->text_active = true;
    }
    int32_t rc = fill_queue(ctx);
    if (rc != PHI_OK)
        return rc;
    text_queue *q = &ctx->queue;
    if (q->head == q->n)
        return PHI_DONE;
    *channel = q->piece[q->head].channel;
    *text = q->buf + q->piece[q->head].off;
    *len = q->piece[q->head].len;
    q->head++;
    return PHI_OK;
}

int32_t phi_generate_next_text(phi_ctx *ctx, int32_t *channel, const char **text, size_t *len)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_continue_call(ctx);
    if (!channel || !text || !len)
        return api_fail(ctx, PHI_E_INVALID_ARG, "phi_generate_next_text: NULL output pointer");
    *text = "", *len = 0, *channel = PHI_CHANNEL_ANSWER;
    return next_text(ctx, channel, text, len);
}

int32_t phi_generate_chat(phi_ctx *ctx, const phi_chat_message *messages, size_t n,
                          const char *tools, uint32_t flags, phi_text_cb cb, void *user)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    int32_t rc = begin_chat(ctx, messages, n, tools, flags);
    while (rc == PHI_OK) {
        int32_t channel;
        const char *text;
        size_t len;
        rc = next_text(ctx, &channel, &text, &len);
        if (rc == PHI_DONE || (rc == PHI_OK && cb && cb(user, channel, text, len))) {
            rc = PHI_OK;
            break;
        }
        if (rc == PHI_OK && atomic_load_explicit(&ctx->interrupt, memory_order_relaxed))
            rc = api_fail(ctx, PHI_E_INTERRUPTED, "interrupted");
    }
    ctx->generating = false;
    api_text_reset(ctx);
    return rc;
}
