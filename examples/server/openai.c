/* OpenAI's API: POST /v1/chat/completions, POST /v1/completions,
 * GET /v1/models. A reasoning model's thinking goes into reasoning_content,
 * as DeepSeek's API and llama.cpp's server do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* The request fields both endpoints take. */
static bool read_params(exchange *ex, const phi_json_value *root, gen_params *p, bool *stream,
                        char **stop_storage)
{
    *stream = false;
    gen_settings *g = &p->settings;
    *g = ex->srv->defaults;
    p->keep_thinking = ex->srv->keep_thinking;
    return field_bool(ex, root, "stream", stream) &&
           field_int(ex, root, "max_tokens", 0, INT32_MAX, &g->max_tokens) &&
           field_int(ex, root, "max_completion_tokens", 0, INT32_MAX, &g->max_tokens) &&
           field_double(ex, root, "temperature", 0, 100, &g->temperature) &&
           field_double(ex, root, "top_p", 1e-9, 1, &g->top_p) &&
           field_int(ex, root, "top_k", 0, INT32_MAX, &g->top_k) &&
           field_int(ex, root, "seed", -1, INT64_MAX, &g->seed) &&
           field_stop(ex, root, "stop", p, stop_storage);
}

static void write_head(gen_reply *g, json_writer *w, const char *object)
{
    json_key(w, "id");
    json_cstring(w, g->id);
    json_key(w, "object");
    json_cstring(w, object);
    json_key(w, "created");
    json_int(w, g->created);
    json_key(w, "model");
    json_cstring(w, g->ex->srv->model_id);
}

static void write_usage(json_writer *w, const gen_result *r)
{
    json_key(w, "usage");
    json_begin_object(w);
    json_key(w, "prompt_tokens");
    json_int(w, r->prompt_tokens);
    json_key(w, "completion_tokens");
    json_int(w, r->completion_tokens);
    json_key(w, "total_tokens");
    json_int(w, r->prompt_tokens + r->completion_tokens);
    json_end_object(w);
}

/* "data: {chunk with one choice" — the caller writes the choice's fields,
 * then end_chunk closes it. */
static void begin_chunk(gen_reply *g)
{
    json_writer *w = &g->line;
    json_append_raw(w, "data: ", 6);
    json_begin_object(w);
    write_head(g, w, g->chat ? "chat.completion.chunk" : "text_completion");
    json_key(w, "choices");
    json_begin_array(w);
    json_begin_object(w);
    json_key(w, "index");
    json_int(w, 0);
}

static void end_chunk(gen_reply *g, const gen_result *r)
{
    json_writer *w = &g->line;
    json_key(w, "finish_reason");
    if (r)
        json_cstring(w, r->finish_reason);
    else
        json_null(w);
    json_end_object(w);
    json_end_array(w);
    if (r)
        write_usage(w, r);
    json_end_object(w);
    json_append_raw(w, "\n\n", 2);
}

static void stream_open(gen_reply *g)
{
    if (!g->chat)
        return;
    begin_chunk(g);
    json_key(&g->line, "delta");
    json_begin_object(&g->line);
    json_key(&g->line, "role");
    json_cstring(&g->line, "assistant");
    json_key(&g->line, "content");
    json_cstring(&g->line, "");
    json_end_object(&g->line);
    end_chunk(g, NULL);
}

static void stream_piece(gen_reply *g, int32_t channel, const char *text, size_t len)
{
    json_writer *w = &g->line;
    begin_chunk(g);
    if (g->chat) {
        json_key(w, "delta");
        json_begin_object(w);
        json_key(w, channel == PHI_CHANNEL_THINKING ? "reasoning_content" : "content");
        json_string(w, text, len);
        json_end_object(w);
    } else {
        json_key(w, "text"); /* raw continuations have no thinking channel */
        json_string(w, text, len);
    }
    end_chunk(g, NULL);
}

/* The last chunk carries finish_reason and, as llama.cpp's does, usage
 * (whether or not stream_options.include_usage asks for it). */
static void stream_close(gen_reply *g, const gen_result *r)
{
    json_writer *w = &g->line;
    begin_chunk(g);
    json_key(w, g->chat ? "delta" : "text");
    if (g->chat) {
        json_begin_object(w);
        json_end_object(w);
    } else {
        json_cstring(w, "");
    }
    end_chunk(g, r);
    json_append_raw(w, "data: [DONE]\n\n", 14);
}

static void stream_error(gen_reply *g, const char *message)
{
    json_writer *w = &g->line;
    json_append_raw(w, "data: ", 6);
    json_begin_object(w);
    json_key(w, "error");
    json_begin_object(w);
    json_key(w, "message");
    json_cstring(w, message);
    json_key(w, "type");
    json_cstring(w, "server_error");
    json_end_object(w);
    json_end_object(w);
    json_append_raw(w, "\n\n", 2);
}

static void whole(gen_reply *g, const gen_result *r, json_writer *w)
{
    json_begin_object(w);
    write_head(g, w, g->chat ? "chat.completion" : "text_completion");
    json_key(w, "choices");
    json_begin_array(w);
    json_begin_object(w);
    json_key(w, "index");
    json_int(w, 0);
    if (g->chat) {
        json_key(w, "message");
        json_begin_object(w);
        json_key(w, "role");
        json_cstring(w, "assistant");
        json_key(w, "content");
        json_string(w, g->answer.buf, g->answer.len);
        if (g->thinking.len) {
            json_key(w, "reasoning_content");
            json_string(w, g->thinking.buf, g->thinking.len);
        }
        json_end_object(w);
    } else {
        json_key(w, "text");
        json_string(w, g->answer.buf, g->answer.len);
    }
    json_key(w, "logprobs");
    json_null(w);
    json_key(w, "finish_reason");
    json_cstring(w, r->finish_reason);
    json_end_object(w);
    json_end_array(w);
    write_usage(w, r);
    json_end_object(w);
}

static const reply_format openai_format = {
    .stream_type = "text/event-stream",
    .stream_open = stream_open,
    .stream_piece = stream_piece,
    .stream_close = stream_close,
    .stream_error = stream_error,
    .whole = whole,
};

void openai_chat_completions(exchange *ex)
{
    serve_chat(ex, &openai_format, read_params);
}

void openai_completions(exchange *ex)
{
    phi_json *doc = request_json(ex);
    if (!doc)
        return;
    const phi_json_value *root = phi_json_root(doc);
    gen_params p = {0};
    char *prompt = NULL, *stop_storage = NULL;
    bool stream;
    if (request_model_ok(ex, root) && field_string(ex, root, "prompt", &prompt) &&
        read_params(ex, root, &p, &stream, &stop_storage)) {
        if (!prompt) {
            reply_error(ex, 400, "invalid_request_error", "missing_required_parameter",
                        "\"prompt\" is required (a string)");
        } else {
            p.prompt = prompt;
            p.prompt_len = strlen(prompt);
            serve_generation(ex, &p, &openai_format, stream, false);
        }
    }
    free(prompt);
    free(stop_storage);
    phi_json_free(doc);
}

void openai_models(exchange *ex)
{
    json_writer w;
    json_writer_init(&w);
    json_begin_object(&w);
    json_key(&w, "object");
    json_cstring(&w, "list");
    json_key(&w, "data");
    json_begin_array(&w);
    json_begin_object(&w);
    json_key(&w, "id");
    json_cstring(&w, ex->srv->model_id);
    json_key(&w, "object");
    json_cstring(&w, "model");
    json_key(&w, "created");
    json_int(&w, ex->srv->started);
    json_key(&w, "owned_by");
    json_cstring(&w, "libphi4");
    json_end_object(&w);
    json_end_array(&w);
    json_end_object(&w);
    reply_json(ex, 200, &w);
    json_writer_free(&w);
}
