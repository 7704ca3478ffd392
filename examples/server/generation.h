/* Slots and generation for phi4-server. A slot is one phi_ctx (the loaded
 * context or a fork of it: the weights are shared) with its own KV cache and
 * threads; a generation request holds one for its whole run. Requests that
 * find every slot busy wait in a bounded queue; beyond it they are refused
 * (503), and so are requests when the server stops.
 *
 * While a slot runs, a watcher (slots_watch, called by the accept thread a
 * few times a second) looks at its client's socket: when the client has hung
 * up, or the server is stopping, the generation is interrupted and ends. */
#ifndef PHI4_SERVER_GENERATION_H
#define PHI4_SERVER_GENERATION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phi4.h"

#define GEN_MAX_STOP 8

/* Sampling and length settings: the server's defaults (from its flags), which
 * a request's fields override. */
typedef struct gen_settings {
    double temperature, top_p;
    int64_t top_k;
    int64_t seed;       /* -1: from the clock */
    int64_t max_tokens; /* 0: until the model ends its turn or the context is full */
} gen_settings;

typedef struct gen_params {
    gen_settings settings;
    /* A chat (messages) or, when messages is NULL, a raw prompt to continue. */
    const phi_chat_message *messages;
    size_t n_messages;
    const char *prompt;
    size_t prompt_len;
    /* Answer text that ends generation; it and what follows are not sent. */
    const char *stop[GEN_MAX_STOP];
    size_t n_stop;
    bool keep_thinking; /* false: a reasoning model's thinking is dropped */
} gen_params;

/* Receives the generated text piece by piece; returns nonzero when the
 * client is gone (generation then stops). */
typedef int (*gen_emit_fn)(void *user, int32_t channel, const char *text, size_t len);

typedef struct gen_result {
    int32_t status;            /* PHI_OK or the library's error */
    char message[512];         /* the error, when status < 0 */
    bool cancelled;            /* the client left or the server stopped */
    const char *finish_reason; /* "stop" or "length" */
    int64_t prompt_tokens, completion_tokens;
    int64_t prompt_ns, generation_ns;
} gen_result;

typedef struct slot {
    phi_ctx *ctx;
    bool busy;
    int client_fd;      /* the connection the slot serves, while busy */
    atomic_bool cancel; /* set by the watcher */
} slot;

typedef struct slot_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    slot *slots;
    size_t n_slots;
    size_t waiting, max_waiting;
    atomic_bool stopping;
} slot_pool;

/* n_slots contexts: base (loaded) and n_slots - 1 forks of it, each with
 * threads_per_slot threads. base stays owned by the caller. Returns PHI_OK
 * or the fork's error (the message in err). */
int32_t slots_init(slot_pool *pool, phi_ctx *base, size_t n_slots, int threads_per_slot,
                   size_t max_waiting, char *err, size_t err_cap);
void slots_free(slot_pool *pool);

typedef enum slot_wait {
    SLOT_TAKEN,
    SLOT_QUEUE_FULL, /* too many requests wait already: answer 503 */
    SLOT_STOPPING,   /* the server stops */
    SLOT_CLIENT_GONE,
} slot_wait;

/* Take a free slot for the client on client_fd, waiting for one. */
slot_wait slots_acquire(slot_pool *pool, int client_fd, slot **out);
void slots_release(slot_pool *pool, slot *s);
/* Slots generating now. */
size_t slots_busy(slot_pool *pool);
/* The watcher's pass: interrupt every running generation whose client has
 * hung up, and all of them once stopping is set. */
void slots_watch(slot_pool *pool);
/* Stop: refuse new requests, interrupt running ones. */
void slots_stop(slot_pool *pool);

/* Run one generation on s with p, sending text to emit. */
void gen_run(slot *s, const gen_params *p, gen_emit_fn emit, void *user, gen_result *r);

#endif
