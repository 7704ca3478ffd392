/* What the parts of phi4-server share: the server (model, slots, defaults)
 * and an exchange (one request and its response on one connection). */
#ifndef PHI4_SERVER_SERVER_H
#define PHI4_SERVER_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "format/json.h"
#include "generation.h"
#include "http.h"
#include "json_write.h"
#include "phi4.h"

typedef struct server {
    phi_ctx *model;
    slot_pool pool;
    size_t max_body;
    gen_settings defaults;
    bool keep_thinking;    /* default for requests that do not say */
    char model_id[256];    /* the name clients use: ollama NAME[:TAG] or the file's stem */
    char model_title[256]; /* general.name from the file, or "" */
    char digest[80];       /* "sha256:<hex>" for an Ollama blob, else "" */
    int64_t file_size;
    int64_t modified;      /* the file's mtime, Unix time */
    int64_t started;       /* Unix time */
    atomic_uint_fast64_t next_id;
} server;

typedef struct exchange {
    server *srv;
    http_conn conn;
    http_request req;
    bool ollama;    /* an /api route: errors take Ollama's shape */
    /* For the log line. */
    int status;
    int64_t prompt_tokens, completion_tokens;
    bool cancelled;
} exchange;

/* Send w's document as the whole response. */
void reply_json(exchange *ex, int status, json_writer *w);
/* An error response in the route's API shape: OpenAI's
 * {"error":{"message","type","code"}} or Ollama's {"error":"..."}. type is
 * OpenAI's error type ("invalid_request_error", ...), code its code or NULL. */
void reply_error(exchange *ex, int status, const char *type, const char *code,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The request body as JSON; on failure answers 400 (saying where) or 500 and
 * returns NULL. Free with phi_json_free. */
phi_json *request_json(exchange *ex);
/* Whether the requested model name is the loaded one: absent, "", the
 * model id (with or without Ollama's ":latest" tag) or its general.name.
 * Otherwise answers 404 and returns false. */
bool request_model_ok(exchange *ex, const phi_json_value *root);

/* Messages of a chat request ([{"role","content"}], content a string or
 * OpenAI's array of {"type":"text","text"} parts), as C strings in one block. */
typedef struct chat_messages {
    phi_chat_message *items;
    size_t n;
    char *text;
} chat_messages;
/* Read root's "messages"; on failure answers 400 and returns false. */
bool request_messages(exchange *ex, const phi_json_value *root, chat_messages *out);
void chat_messages_free(chat_messages *m);

/* Typed optional fields: true when the member is absent (out untouched) or
 * valid (out set); otherwise answers 400 naming the field and returns false.
 * A number's range is [lo, hi]. */
bool field_double(exchange *ex, const phi_json_value *obj, const char *key, double lo,
                  double hi, double *out);
bool field_int(exchange *ex, const phi_json_value *obj, const char *key, int64_t lo,
               int64_t hi, int64_t *out);
bool field_bool(exchange *ex, const phi_json_value *obj, const char *key, bool *out);
/* A string without NUL bytes, into a malloc'ed C string (*out NULL if absent). */
bool field_string(exchange *ex, const phi_json_value *obj, const char *key, char **out);
/* "stop": a string or an array of up to GEN_MAX_STOP strings, into p as C
 * strings in *storage (free() it); empty ones are ignored. */
bool field_stop(exchange *ex, const phi_json_value *obj, const char *key, gen_params *p,
                char **storage);

/* How a generation's response is written in one API. Streamed responses are
 * lines (SSE events or NDJSON objects) that the callbacks put into g->line. */
typedef struct gen_reply gen_reply;
typedef struct reply_format {
    const char *stream_type; /* Content-Type of a stream */
    /* Before the first piece (may write nothing). */
    void (*stream_open)(gen_reply *g);
    void (*stream_piece)(gen_reply *g, int32_t channel, const char *text, size_t len);
    void (*stream_close)(gen_reply *g, const gen_result *r);
    void (*stream_error)(gen_reply *g, const char *message);
    /* The whole response object, from the collected text. */
    void (*whole)(gen_reply *g, const gen_result *r, json_writer *out);
} reply_format;

struct gen_reply {
    exchange *ex;
    const reply_format *fmt;
    bool stream;
    bool chat;     /* a chat (messages) rather than a completion (prompt) */
    char id[48];   /* "chatcmpl-N" / "cmpl-N" */
    int64_t created;
    json_writer line;            /* the streamed line being written */
    json_writer answer, thinking; /* without streaming: the text so far */
    bool started;                /* the stream's head is sent */
};

/* Run p in a slot and answer with fmt: take a slot (503 when the queue is
 * full), stream or collect the text, release the slot, log the counts. */
void serve_generation(exchange *ex, const gen_params *p, const reply_format *fmt, bool stream,
                      bool chat);

/* An API's reading of the generation fields of a request (root) into p:
 * sampling, stream, stop strings (in *stop_storage, to free()). On failure
 * it has answered 400 and returns false. */
typedef bool (*params_reader)(exchange *ex, const phi_json_value *root, gen_params *p,
                              bool *stream, char **stop_storage);
/* A chat route: read the body, check the model, read the messages and the
 * API's fields, serve the generation in fmt. */
void serve_chat(exchange *ex, const reply_format *fmt, params_reader read_params);

/* "2024-05-01T12:34:56.123456789Z" for now, into buf (at least 40 bytes). */
void utc_timestamp(char *buf, size_t cap);

/* Route handlers. */
void openai_chat_completions(exchange *ex);
void openai_completions(exchange *ex);
void openai_models(exchange *ex);
void ollama_chat(exchange *ex);
void ollama_generate(exchange *ex);
void ollama_tags(exchange *ex);
void ollama_version(exchange *ex);

#endif
