/* Ollama's API: POST /api/chat, POST /api/generate (NDJSON streams, on by
 * default), GET /api/tags, GET /api/version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

/* The request fields both endpoints take; think defaults to the server's
 * setting (a reasoning model's thinking goes to "thinking", or is dropped
 * with think false). */
static bool read_params(exchange *ex, const phi_json_value *root, gen_params *p, bool *stream,
                        char **stop_storage)
{
    const phi_json_value *opts = phi_json_member(root, "options");
    gen_settings *g = &p->settings;
    *g = ex->srv->defaults;
    *stream = true;
    p->keep_thinking = ex->srv->keep_thinking;
    int64_t num_predict = g->max_tokens;
    if (opts && phi_json_type_of(opts) != PHI_JSON_OBJECT) {
        reply_error(ex, 400, "invalid_request_error", NULL, "\"options\" must be an object, not %s",
                    phi_json_kind(opts));
        return false;
    }
    bool ok = field_bool(ex, root, "stream", stream) &&
              field_bool(ex, root, "think", &p->keep_thinking) &&
              field_double(ex, opts, "temperature", 0, 100, &g->temperature) &&
              field_double(ex, opts, "top_p", 1e-9, 1, &g->top_p) &&
              field_int(ex, opts, "top_k", 0, INT32_MAX, &g->top_k) &&
              field_int(ex, opts, "seed", -1, INT64_MAX, &g->seed) &&
              field_int(ex, opts, "num_predict", -2, INT32_MAX, &num_predict) &&
              field_stop(ex, opts, "stop", p, stop_storage);
    /* Ollama: -1 is "no limit", -2 "fill the context"; both are ours 0. */
    g->max_tokens = num_predict < 0 ? 0 : num_predict;
    return ok;
}

static void write_head(gen_reply *g, json_writer *w)
{
    char created[48];
    utc_timestamp(created, sizeof created);
    json_begin_object(w);
    json_key(w, "model");
    json_cstring(w, g->ex->srv->model_id);
    json_key(w, "created_at");
    json_cstring(w, created);
}

/* The text of a chat's "message" or a generation's "response"/"thinking". */
static void write_text(gen_reply *g, json_writer *w, const char *answer, size_t answer_len,
                       const char *thinking, size_t thinking_len)
{
    if (g->chat) {
        json_key(w, "message");
        json_begin_object(w);
        json_key(w, "role");
        json_cstring(w, "assistant");
    }
    json_key(w, g->chat ? "content" : "response");
    json_string(w, answer, answer_len);
    if (thinking_len) {
        json_key(w, "thinking");
        json_string(w, thinking, thinking_len);
    }
    if (g->chat)
        json_end_object(w);
}

static void write_done(json_writer *w, const gen_result *r)
{
    json_key(w, "done");
    json_bool(w, true);
    json_key(w, "done_reason");
    json_cstring(w, r->finish_reason);
    json_key(w, "total_duration");
    json_int(w, r->prompt_ns + r->generation_ns);
    json_key(w, "load_duration");
    json_int(w, 0);
    json_key(w, "prompt_eval_count");
    json_int(w, r->prompt_tokens);
    json_key(w, "prompt_eval_duration");
    json_int(w, r->prompt_ns);
    json_key(w, "eval_count");
    json_int(w, r->completion_tokens);
    json_key(w, "eval_duration");
    json_int(w, r->generation_ns);
    json_end_object(w);
}

static void stream_piece(gen_reply *g, int32_t channel, const char *text, size_t len)
{
    json_writer *w = &g->line;
    bool thinking = channel == PHI_CHANNEL_THINKING;
    write_head(g, w);
    write_text(g, w, thinking ? "" : text, thinking ? 0 : len, text, thinking ? len : 0);
    json_key(w, "done");
    json_bool(w, false);
    json_end_object(w);
    json_append_raw(w, "\n", 1);
}

static void stream_close(gen_reply *g, const gen_result *r)
{
    write_head(g, &g->line);
    write_text(g, &g->line, "", 0, "", 0);
    write_done(&g->line, r);
    json_append_raw(&g->line, "\n", 1);
}

static void stream_error(gen_reply *g, const char *message)
{
    json_begin_object(&g->line);
    json_key(&g->line, "error");
    json_cstring(&g->line, message);
    json_end_object(&g->line);
    json_append_raw(&g->line, "\n", 1);
}

static void whole(gen_reply *g, const gen_result *r, json_writer *w)
{
    write_head(g, w);
    write_text(g, w, g->answer.buf, g->answer.len, g->thinking.buf, g->thinking.len);
    write_done(w, r);
}

static const reply_format ollama_format = {
    .stream_type = "application/x-ndjson",
    .stream_piece = stream_piece,
    .stream_close = stream_close,
    .stream_error = stream_error,
    .whole = whole,
};

void ollama_chat(exchange *ex)
{
    serve_chat(ex, &ollama_format, read_params);
}

/* An empty prompt only loads the model in Ollama; it is loaded already. */
static void reply_loaded(exchange *ex)
{
    json_writer w;
    gen_reply g = {.ex = ex};
    json_writer_init(&w);
    write_head(&g, &w);
    write_text(&g, &w, "", 0, "", 0);
    json_key(&w, "done");
    json_bool(&w, true);
    json_key(&w, "done_reason");
    json_cstring(&w, "load");
    json_end_object(&w);
    reply_json(ex, 200, &w);
    json_writer_free(&w);
}

void ollama_generate(exchange *ex)
{
    phi_json *doc = request_json(ex);
    if (!doc)
        return;
    const phi_json_value *root = phi_json_root(doc);
    gen_params p = {0};
    char *prompt = NULL, *system = NULL, *stop_storage = NULL;
    bool stream, raw = false;
    if (request_model_ok(ex, root) && field_string(ex, root, "prompt", &prompt) &&
        field_string(ex, root, "system", &system) && field_bool(ex, root, "raw", &raw) &&
        read_params(ex, root, &p, &stream, &stop_storage)) {
        phi_chat_message messages[2] = {{"system", system}, {"user", prompt}};
        if (!prompt || !prompt[0]) {
            reply_loaded(ex);
        } else if (raw) {
            p.prompt = prompt;
            p.prompt_len = strlen(prompt);
            serve_generation(ex, &p, &ollama_format, stream, false);
        } else {
            p.messages = system ? messages : messages + 1;
            p.n_messages = system ? 2 : 1;
            serve_generation(ex, &p, &ollama_format, stream, false);
        }
    }
    free(prompt);
    free(system);
    free(stop_storage);
    phi_json_free(doc);
}

/* "3.8B", "125M", "12K": Ollama's way of giving a parameter count. */
static void parameter_size(int64_t n, char *buf, size_t cap)
{
    if (n >= 1000000000)
        snprintf(buf, cap, "%.1fB", n / 1e9);
    else if (n >= 1000000)
        snprintf(buf, cap, "%.1fM", n / 1e6);
    else
        snprintf(buf, cap, "%.1fK", n / 1e3);
}

void ollama_tags(exchange *ex)
{
    const server *srv = ex->srv;
    int64_t n_params = 0;
    char size[32], arch[64] = "", modified[48];
    size_t n;
    phi_info_int(srv->model, PHI_INFO_N_PARAMS, &n_params);
    phi_info_str(srv->model, PHI_INFO_ARCH_NAME, arch, sizeof arch, &n);
    parameter_size(n_params, size, sizeof size);
    struct tm tm;
    time_t t = (time_t)srv->modified;
    gmtime_r(&t, &tm);
    strftime(modified, sizeof modified, "%Y-%m-%dT%H:%M:%SZ", &tm);

    json_writer w;
    json_writer_init(&w);
    json_begin_object(&w);
    json_key(&w, "models");
    json_begin_array(&w);
    json_begin_object(&w);
    json_key(&w, "name");
    json_cstring(&w, srv->model_id);
    json_key(&w, "model");
    json_cstring(&w, srv->model_id);
    json_key(&w, "modified_at");
    json_cstring(&w, modified);
    json_key(&w, "size");
    json_int(&w, srv->file_size);
    json_key(&w, "digest");
    json_cstring(&w, srv->digest);
    json_key(&w, "details");
    json_begin_object(&w);
    json_key(&w, "parent_model");
    json_cstring(&w, "");
    json_key(&w, "format");
    json_cstring(&w, "gguf");
    json_key(&w, "family");
    json_cstring(&w, arch);
    json_key(&w, "families");
    json_begin_array(&w);
    json_cstring(&w, arch);
    json_end_array(&w);
    json_key(&w, "parameter_size");
    json_cstring(&w, size);
    json_end_object(&w);
    json_end_object(&w);
    json_end_array(&w);
    json_end_object(&w);
    reply_json(ex, 200, &w);
    json_writer_free(&w);
}

void ollama_version(exchange *ex)
{
    json_writer w;
    json_writer_init(&w);
    json_begin_object(&w);
    json_key(&w, "version");
    json_cstring(&w, phi_version_string());
    json_end_object(&w);
    reply_json(ex, 200, &w);
    json_writer_free(&w);
}
