/* Serving a generation: the part of a completion request both APIs share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

void utc_timestamp(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%09ldZ", date, (long)ts.tv_nsec);
}

/* Send g->line as one piece of the stream, opening the stream first. */
static int send_line(gen_reply *g)
{
    http_conn *conn = &g->ex->conn;
    int rc = json_writer_ok(&g->line) ? http_send_chunk(conn, g->line.buf, g->line.len) : -1;
    json_writer_reset(&g->line);
    return rc;
}

static int open_stream(gen_reply *g)
{
    if (g->started)
        return 0;
    g->started = true;
    g->ex->status = 200;
    if (http_begin_stream(&g->ex->conn, 200, g->fmt->stream_type))
        return -1;
    if (!g->fmt->stream_open)
        return 0;
    g->fmt->stream_open(g);
    return send_line(g);
}

static int emit_piece(void *user, int32_t channel, const char *text, size_t len)
{
    gen_reply *g = user;
    if (!g->stream) {
        json_append_raw(channel == PHI_CHANNEL_THINKING ? &g->thinking : &g->answer, text, len);
        return 0;
    }
    if (open_stream(g))
        return 1;
    g->fmt->stream_piece(g, channel, text, len);
    return send_line(g) != 0;
}

/* The HTTP status for a failed generation: the request's fault or ours. */
static int failure_status(int32_t rc)
{
    return rc == PHI_E_INVALID_ARG || rc == PHI_E_CONTEXT_FULL ? 400 : 500;
}

void serve_generation(exchange *ex, const gen_params *p, const reply_format *fmt, bool stream,
                      bool chat)
{
    server *srv = ex->srv;
    slot *s;
    slot_wait wait = slots_acquire(&srv->pool, ex->conn.fd, &s);
    if (wait == SLOT_QUEUE_FULL) {
        reply_error(ex, 503, "server_busy", NULL,
                    "all %zu slots are busy and %zu requests wait already; try again later",
                    srv->pool.n_slots, srv->pool.max_waiting);
        return;
    }
    if (wait == SLOT_STOPPING) {
        reply_error(ex, 503, "server_busy", NULL, "the server is shutting down");
        return;
    }
    if (wait == SLOT_CLIENT_GONE) {
        ex->cancelled = true;
        ex->status = 499; /* nginx's "client closed request", for the log only */
        return;
    }

    gen_reply g = {.ex = ex, .fmt = fmt, .stream = stream, .chat = chat,
                   .created = (int64_t)time(NULL)};
    snprintf(g.id, sizeof g.id, "%s-%llu", chat ? "chatcmpl" : "cmpl",
             (unsigned long long)atomic_fetch_add(&srv->next_id, 1));
    json_writer_init(&g.line);
    json_writer_init(&g.answer);
    json_writer_init(&g.thinking);

    gen_result r;
    gen_run(s, p, emit_piece, &g, &r);
    slots_release(&srv->pool, s);
    ex->prompt_tokens = r.prompt_tokens;
    ex->completion_tokens = r.completion_tokens;
    ex->cancelled = r.cancelled;

    if (r.cancelled && !g.started && atomic_load(&srv->pool.stopping) &&
        !http_peer_gone(ex->conn.fd)) {
        reply_error(ex, 503, "server_busy", NULL, "the server is shutting down");
    } else if (r.cancelled && (ex->conn.broken || !g.started)) {
        if (!g.started)
            ex->status = 499;
    } else if (r.status < 0 && !g.started) {
        reply_error(ex, failure_status(r.status), r.status == PHI_E_CONTEXT_FULL
                    ? "invalid_request_error" : "server_error",
                    r.status == PHI_E_CONTEXT_FULL ? "context_length_exceeded" : NULL,
                    "%s", r.message);
    } else if (stream) {
        if (!open_stream(&g)) {
            if (r.status < 0)
                fmt->stream_error(&g, r.message);
            else
                fmt->stream_close(&g, &r);
            if (!send_line(&g))
                http_end_stream(&ex->conn);
        }
    } else {
        json_writer out;
        json_writer_init(&out);
        if (json_writer_ok(&g.answer) && json_writer_ok(&g.thinking))
            fmt->whole(&g, &r, &out);
        else
            out.failed = true;
        reply_json(ex, 200, &out);
        json_writer_free(&out);
    }
    json_writer_free(&g.line);
    json_writer_free(&g.answer);
    json_writer_free(&g.thinking);
}

void serve_chat(exchange *ex, const reply_format *fmt, params_reader read_params)
{
    phi_json *doc = request_json(ex);
    if (!doc)
        return;
    const phi_json_value *root = phi_json_root(doc);
    gen_params p = {0};
    chat_messages messages = {0};
    char *stop_storage = NULL;
    bool stream;
    if (request_model_ok(ex, root) && request_messages(ex, root, &messages) &&
        read_params(ex, root, &p, &stream, &stop_storage)) {
        p.messages = messages.items;
        p.n_messages = messages.n;
        serve_generation(ex, &p, fmt, stream, true);
    }
    free(stop_storage);
    chat_messages_free(&messages);
    phi_json_free(doc);
}
