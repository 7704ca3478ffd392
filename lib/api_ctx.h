/* The context behind the public handle, shared by the files of the API
 * layer: api.c (lifecycle, options, evaluation, generation) and api_text.c
 * (tokenizer, chat and text generation). */
#ifndef PHI_API_CTX_H
#define PHI_API_CTX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "phi4.h"
#include "runtime/pool.h"
#include "runtime/sampler.h"
#include "text/text_stream.h"

typedef struct options {
    int64_t n_threads, n_ctx, n_batch, use_mmap, logits_all, kernel, log_level, kv_type;
    int64_t seed, top_k, repeat_last_n, max_tokens, chat_format, split_thinking;
    double temperature, top_p, min_p, repeat_penalty, presence_penalty, frequency_penalty;
} options;

/* Text generated but not yet handed out by phi_generate_next_text: a few
 * pieces (one token yields at most three: see text_stream.c) in one buffer. */
enum { PHI_TEXT_QUEUE = 8 };

typedef struct text_queue {
    struct {
        int32_t channel;
        size_t off, len;
    } piece[PHI_TEXT_QUEUE];
    int n, head;
    char *buf;
    size_t len, cap;
} text_queue;

struct phi_ctx {
    phi_mem mem;
    phi_err err;
    options opt;
    phi_log_cb log_cb;
    void *log_user;
    phi_progress_cb progress_cb;
    void *progress_user;
    atomic_int interrupt;

    /* set by phi_load / phi_ctx_fork */
    phi_model *model;
    const phi_kernels *kernels;
    phi_pool *pool;
    int pool_threads;          /* threads the pool was made with */
    void *state;               /* the architecture's per-context state */
    phi_sampler *sampler;
    int32_t n_ctx;
    int32_t *tokens;           /* [n_ctx]: the sequence */
    int32_t n_tokens;          /* its length */
    int32_t n_cached;          /* leading positions the state holds (<= n_tokens) */
    float *logits;             /* [logit_rows_cap][n_vocab] */
    size_t logit_rows_cap;
    size_t n_logit_rows;       /* rows from the last evaluation; 0 = none valid */
    bool logits_all_rows;      /* the rows are one per token of the last phi_eval */
    bool generating;
    int64_t n_generated;

    /* text generation (phi_generate_next_text) */
    bool text_active;          /* this turn hands out text */
    bool text_finished;        /* generation ended and the stream was flushed */
    phi_text_stream text;
    text_queue queue;
};

/* Record an error on ctx and return its code. */
int32_t api_fail(phi_ctx *ctx, int32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A message to the context's log callback, if it wants this level. */
void api_log(phi_ctx *ctx, int32_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adopt an error a lower layer reported. */
int32_t api_fail_with(phi_ctx *ctx, const phi_err *e);
/* Every entry point that takes a ctx starts here: a fresh error slot and a
 * cleared interrupt request. */
void api_begin_call(phi_ctx *ctx);
/* The calls that continue a generation start here instead: an interrupt
 * requested between two of them still stops the generation. */
void api_continue_call(phi_ctx *ctx);
int32_t api_require_model(phi_ctx *ctx);
/* text[0..n) out, NUL-terminated, two-call convention. */
int32_t api_copy_out(phi_ctx *ctx, const char *text, size_t n, char *buf, size_t cap,
                     size_t *n_out);
/* Keep the first n tokens of the sequence. */
void api_truncate(phi_ctx *ctx, int32_t n);
int32_t api_generate_begin(phi_ctx *ctx, const phi_token *prompt, size_t n);
int32_t api_generate_step(phi_ctx *ctx, phi_token *token_out);
/* Forget the text of the turn (at begin and end). */
void api_text_reset(phi_ctx *ctx);

#endif
