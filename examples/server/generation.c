#include "generation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

int32_t slots_init(slot_pool *pool, phi_ctx *base, size_t n_slots, int threads_per_slot,
                   size_t max_waiting, char *err, size_t err_cap)
{
    memset(pool, 0, sizeof *pool);
    pool->slots = calloc(n_slots, sizeof *pool->slots);
    if (!pool->slots) {
        snprintf(err, err_cap, "out of memory for %zu slots", n_slots);
        return PHI_E_NOMEM;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->freed, NULL);
    pool->max_waiting = max_waiting;
    atomic_init(&pool->stopping, false);
    /* The loaded context serves as the first slot: a fork would only add a
     * KV cache that nobody uses. */
    for (size_t i = 0; i < n_slots; i++) {
        slot *s = &pool->slots[i];
        int32_t rc = i == 0 ? PHI_OK : phi_ctx_fork(base, 0, &s->ctx);
        if (i == 0)
            s->ctx = base;
        if (rc == PHI_OK)
            rc = phi_set_int(s->ctx, PHI_OPT_N_THREADS, threads_per_slot);
        if (rc != PHI_OK) {
            snprintf(err, err_cap, "slot %zu: %s", i, phi_errmsg(s->ctx ? s->ctx : base));
            pool->n_slots = i + (s->ctx != NULL);
            slots_free(pool);
            return rc;
        }
        s->client_fd = -1;
        atomic_init(&s->cancel, false);
        pool->n_slots = i + 1;
    }
    return PHI_OK;
}

void slots_free(slot_pool *pool)
{
    /* Slot 0 is the caller's context. */
    for (size_t i = 1; i < pool->n_slots; i++)
        phi_ctx_free(pool->slots[i].ctx);
    free(pool->slots);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->freed);
    memset(pool, 0, sizeof *pool);
}

static slot *free_slot(slot_pool *pool)
{
    for (size_t i = 0; i < pool->n_slots; i++)
        if (!pool->slots[i].busy)
            return &pool->slots[i];
    return NULL;
}

slot_wait slots_acquire(slot_pool *pool, int client_fd, slot **out)
{
    *out = NULL;
    pthread_mutex_lock(&pool->lock);
    slot_wait result = SLOT_TAKEN;
    slot *s = pool->waiting == 0 ? free_slot(pool) : NULL;
    if (!s && pool->waiting >= pool->max_waiting)
        result = SLOT_QUEUE_FULL;
    if (!s && result == SLOT_TAKEN) {
        pool->waiting++;
        while (!(s = free_slot(pool))) {
            if (atomic_load(&pool->stopping)) {
                result = SLOT_STOPPING;
                break;
            }
            if (http_peer_gone(client_fd)) {
                result = SLOT_CLIENT_GONE;
                break;
            }
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 200 * 1000000L;
            if (until.tv_nsec >= 1000000000L)
                until.tv_sec++, until.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&pool->freed, &pool->lock, &until);
        }
        pool->waiting--;
    }
    if (s && atomic_load(&pool->stopping)) {
        s = NULL;
        result = SLOT_STOPPING;
    }
    if (s) {
        s->busy = true;
        s->client_fd = client_fd;
        atomic_store(&s->cancel, false);
    }
    pthread_mutex_unlock(&pool->lock);
    *out = s;
    return result;
}

void slots_release(slot_pool *pool, slot *s)
{
    pthread_mutex_lock(&pool->lock);
    s->busy = false;
    s->client_fd = -1;
    pthread_cond_signal(&pool->freed);
    pthread_mutex_unlock(&pool->lock);
}

size_t slots_busy(slot_pool *pool)
{
    size_t n = 0;
    pthread_mutex_lock(&pool->lock);
    for (size_t i = 0; i < pool->n_slots; i++)
        n += pool->slots[i].busy;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void slots_watch(slot_pool *pool)
{
    /* Under the lock a busy slot's client_fd stays open: the worker releases
     * the slot before it closes the connection. The interrupt is repeated on
     * every pass, as a call that starts after it would clear it. */
    pthread_mutex_lock(&pool->lock);
    bool stopping = atomic_load(&pool->stopping);
    for (size_t i = 0; i < pool->n_slots; i++) {
        slot *s = &pool->slots[i];
        if (s->busy && (stopping || atomic_load(&s->cancel) || http_peer_gone(s->client_fd))) {
            atomic_store(&s->cancel, true);
            phi_interrupt(s->ctx);
        }
    }
    pthread_mutex_unlock(&pool->lock);
}

void slots_stop(slot_pool *pool)
{
    atomic_store(&pool->stopping, true);
    pthread_mutex_lock(&pool->lock);
    pthread_cond_broadcast(&pool->freed);
    pthread_mutex_unlock(&pool->lock);
    slots_watch(pool);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Answer text on its way to the client, held back while its end could be
 * the start of a stop string. */
typedef struct stop_filter {
    const gen_params *p;
    char *held;
    size_t len, cap;
    bool hit; /* a stop string was found: nothing more is sent */
} stop_filter;

/* How many bytes at the end of text[0..len) could begin a stop string. */
static size_t possible_stop_start(const stop_filter *f, const char *text, size_t len)
{
    size_t longest = 0;
    for (size_t k = 0; k < f->p->n_stop; k++) {
        const char *stop = f->p->stop[k];
        size_t n = strlen(stop);
        for (size_t keep = n - 1 < len ? n - 1 : len; keep > longest; keep--)
            if (!memcmp(text + len - keep, stop, keep)) {
                longest = keep;
                break;
            }
    }
    return longest;
}

/* Add answer text; send what can no longer be part of a stop string.
 * Returns nonzero when the client is gone. */
static int filter_answer(stop_filter *f, const char *text, size_t len, gen_emit_fn emit, void *user)
{
    if (f->hit)
        return 0;
    if (f->p->n_stop == 0)
        return emit(user, PHI_CHANNEL_ANSWER, text, len);
    if (f->len + len + 1 > f->cap) {
        size_t cap = (f->len + len + 1) * 2;
        char *held = realloc(f->held, cap);
        if (!held) /* sending unfiltered beats failing a stream midway */
            return emit(user, PHI_CHANNEL_ANSWER, text, len);
        f->held = held, f->cap = cap;
    }
    memcpy(f->held + f->len, text, len);
    f->len += len;
    f->held[f->len] = '\0';
    size_t first = f->len;
    for (size_t k = 0; k < f->p->n_stop; k++) {
        const char *at = memmem(f->held, f->len, f->p->stop[k], strlen(f->p->stop[k]));
        if (at && (size_t)(at - f->held) < first)
            first = (size_t)(at - f->held);
    }
    size_t send = first < f->len ? first : f->len - possible_stop_start(f, f->held, f->len);
    f->hit = first < f->len;
    int gone = send ? emit(user, PHI_CHANNEL_ANSWER, f->held, send) : 0;
    memmove(f->held, f->held + send, f->len - send);
    f->len -= send;
    return gone;
}

static int32_t apply_settings(phi_ctx *ctx, const gen_params *p)
{
    const gen_settings *g = &p->settings;
    /* A raw continuation is plain text: <think> in it is not a channel. */
    int32_t rc = phi_set_int(ctx, PHI_OPT_SPLIT_THINKING, p->messages != NULL);
    if (rc == PHI_OK)
        rc = phi_set_float(ctx, PHI_OPT_TEMPERATURE, g->temperature);
    if (rc == PHI_OK)
        rc = phi_set_float(ctx, PHI_OPT_TOP_P, g->top_p);
    if (rc == PHI_OK)
        rc = phi_set_int(ctx, PHI_OPT_TOP_K, g->top_k);
    if (rc == PHI_OK)
        rc = phi_set_int(ctx, PHI_OPT_SEED, g->seed);
    if (rc == PHI_OK)
        rc = phi_set_int(ctx, PHI_OPT_MAX_TOKENS, g->max_tokens);
    return rc;
}

/* Start a raw continuation. The tokens the sequence already holds from an
 * earlier request are kept as far as they match. */
static int32_t begin_raw(phi_ctx *ctx, const char *prompt, size_t len)
{
    size_t n = 0, n_kept = 0;
    int32_t rc = phi_tokenize(ctx, prompt, len, PHI_TOKENIZE_ADD_BOS, NULL, 0, &n);
    if (rc != PHI_E_BUFFER_TOO_SMALL && rc != PHI_OK)
        return rc;
    phi_token *tokens = malloc((n ? n : 1) * sizeof *tokens);
    phi_token *held = malloc(((size_t)phi_kv_pos(ctx) + 1) * sizeof *held);
    if (!tokens || !held)
        rc = PHI_E_NOMEM;
    else
        rc = phi_tokenize(ctx, prompt, len, PHI_TOKENIZE_ADD_BOS, tokens, n, &n);
    if (rc == PHI_OK)
        rc = phi_kv_tokens(ctx, held, (size_t)phi_kv_pos(ctx), &n_kept);
    if (rc == PHI_OK) {
        size_t common = 0;
        while (common < n && common < n_kept && tokens[common] == held[common])
            common++;
        /* Generation needs one token to start from: the empty prompt of a
         * BOS-less model continues nothing. */
        if (n == 0)
            rc = PHI_E_INVALID_ARG;
        else
            rc = phi_kv_truncate(ctx, (int32_t)common);
        if (rc == PHI_OK)
            rc = phi_generate_begin(ctx, tokens + common, n - common);
    }
    free(tokens);
    free(held);
    return rc;
}

void gen_run(slot *s, const gen_params *p, gen_emit_fn emit, void *user, gen_result *r)
{
    memset(r, 0, sizeof *r);
    r->finish_reason = "stop";
    phi_ctx *ctx = s->ctx;
    int64_t t0 = now_ns();
    int32_t rc = apply_settings(ctx, p);
    if (rc == PHI_OK)
        rc = p->messages ? phi_generate_begin_chat(ctx, p->messages, p->n_messages, NULL, 0)
                         : begin_raw(ctx, p->prompt, p->prompt_len);
    if (rc == PHI_E_INVALID_ARG && !p->messages && p->prompt_len == 0)
        snprintf(r->message, sizeof r->message, "the prompt is empty and the model has no BOS token");
    else if (rc != PHI_OK)
        snprintf(r->message, sizeof r->message, "%s", phi_errmsg(ctx));
    int64_t t1 = now_ns();
    r->prompt_ns = t1 - t0;
    r->prompt_tokens = phi_kv_pos(ctx);

    stop_filter filter = {.p = p};
    bool gone = false;
    while (rc == PHI_OK && !gone && !filter.hit && !atomic_load(&s->cancel)) {
        int32_t channel;
        const char *text;
        size_t len;
        rc = phi_generate_next_text(ctx, &channel, &text, &len);
        if (rc == PHI_OK && channel == PHI_CHANNEL_ANSWER)
            gone = filter_answer(&filter, text, len, emit, user) != 0;
        else if (rc == PHI_OK && p->keep_thinking)
            gone = emit(user, channel, text, len) != 0;
        else if (rc < 0)
            snprintf(r->message, sizeof r->message, "%s", phi_errmsg(ctx));
    }
    if (rc == PHI_DONE) {
        rc = PHI_OK;
        if (!filter.hit && filter.len)
            gone = emit(user, PHI_CHANNEL_ANSWER, filter.held, filter.len) != 0;
    }
    free(filter.held);
    phi_generate_end(ctx);
    r->generation_ns = now_ns() - t1;
    r->completion_tokens = phi_kv_pos(ctx) - r->prompt_tokens;
    if (r->completion_tokens < 0)
        r->completion_tokens = 0;
    r->cancelled = gone || atomic_load(&s->cancel);
    if (rc == PHI_E_INTERRUPTED && r->cancelled)
        rc = PHI_OK;
    r->status = rc;
    int64_t n_ctx = 0;
    phi_info_int(ctx, PHI_INFO_N_CTX, &n_ctx);
    if (!filter.hit && ((p->settings.max_tokens && r->completion_tokens >= p->settings.max_tokens) ||
                        phi_kv_pos(ctx) >= n_ctx))
        r->finish_reason = "length";
}
