/* Reading a request's JSON body and answering errors, for both APIs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

void reply_json(exchange *ex, int status, json_writer *w)
{
    ex->status = status;
    if (!json_writer_ok(w)) {
        static const char oom[] = "{\"error\":\"out of memory writing the response\"}";
        ex->status = 500;
        http_send_response(&ex->conn, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    json_append_raw(w, "\n", 1);
    http_send_response(&ex->conn, status, "application/json", w->buf, w->len);
}

void reply_error(exchange *ex, int status, const char *type, const char *code, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    json_writer w;
    json_writer_init(&w);
    json_begin_object(&w);
    json_key(&w, "error");
    if (ex->ollama) {
        json_cstring(&w, message);
    } else {
        json_begin_object(&w);
        json_key(&w, "message");
        json_cstring(&w, message);
        json_key(&w, "type");
        json_cstring(&w, type);
        json_key(&w, "code");
        if (code)
            json_cstring(&w, code);
        else
            json_null(&w);
        json_end_object(&w);
    }
    json_end_object(&w);
    reply_json(ex, status, &w);
    json_writer_free(&w);
}

phi_json *request_json(exchange *ex)
{
    phi_mem mem;
    phi_mem_init_default(&mem);
    phi_err err = {0};
    phi_json *doc = NULL;
    const char *body = ex->req.body ? ex->req.body : "";
    int32_t rc = phi_json_parse(&mem, body, ex->req.body_len, &doc, &err);
    if (rc == PHI_E_NOMEM)
        reply_error(ex, 500, "server_error", NULL, "out of memory reading the request");
    else if (rc != PHI_OK)
        reply_error(ex, 400, "invalid_request_error", "invalid_json",
                    "the request body is not valid JSON: %s", err.msg);
    else if (phi_json_type_of(phi_json_root(doc)) != PHI_JSON_OBJECT) {
        reply_error(ex, 400, "invalid_request_error", "invalid_json",
                    "the request body must be a JSON object, not %s",
                    phi_json_kind(phi_json_root(doc)));
        phi_json_free(doc);
        doc = NULL;
    }
    return rc == PHI_OK ? doc : NULL;
}

bool request_model_ok(exchange *ex, const phi_json_value *root)
{
    const phi_json_value *v = phi_json_member(root, "model");
    phi_str name;
    if (!v || phi_json_type_of(v) == PHI_JSON_NULL)
        return true;
    if (!phi_json_string(v, &name)) {
        reply_error(ex, 400, "invalid_request_error", "invalid_type",
                    "\"model\" must be a string, not %s", phi_json_kind(v));
        return false;
    }
    const server *srv = ex->srv;
    size_t id_len = strlen(srv->model_id);
    bool tagless = !strchr(srv->model_id, ':');
    if (name.len == 0 || phi_str_eq(name, srv->model_id) ||
        (srv->model_title[0] && phi_str_eq(name, srv->model_title)) ||
        (tagless && name.len == id_len + 7 && !memcmp(name.ptr, srv->model_id, id_len) &&
         !memcmp(name.ptr + id_len, ":latest", 7)))
        return true;
    reply_error(ex, 404, "invalid_request_error", "model_not_found",
                "model \"%.*s\" not found: this server runs \"%s\"",
                (int)(name.len > 200 ? 200 : name.len), name.ptr, srv->model_id);
    return false;
}

/* A message's content: a string, or OpenAI's content parts, of which the
 * text ones are joined. Sets *len (and copies into dst when not NULL);
 * false with a message in why for anything else. */
static bool message_text(const phi_json_value *content, char *dst, size_t *len, const char **why)
{
    phi_str s;
    *len = 0;
    if (phi_json_type_of(content) == PHI_JSON_NULL)
        return true; /* an assistant turn that only called tools */
    if (phi_json_string(content, &s)) {
        if (dst)
            memcpy(dst, s.ptr, s.len);
        *len = s.len;
        return true;
    }
    if (phi_json_type_of(content) != PHI_JSON_ARRAY) {
        *why = "\"content\" must be a string or an array of parts";
        return false;
    }
    for (size_t i = 0; i < phi_json_count(content); i++) {
        const phi_json_value *part = phi_json_element(content, i);
        if (!phi_json_string_is(phi_json_member(part, "type"), "text") ||
            !phi_json_string(phi_json_member(part, "text"), &s)) {
            *why = "only {\"type\":\"text\",\"text\":...} content parts are supported";
            return false;
        }
        if (dst)
            memcpy(dst + *len, s.ptr, s.len);
        *len += s.len;
    }
    return true;
}

bool request_messages(exchange *ex, const phi_json_value *root, chat_messages *out)
{
    static const char *const roles[] = {"system", "user", "assistant", "tool"};
    memset(out, 0, sizeof *out);
    const phi_json_value *list = phi_json_member(root, "messages");
    if (!list) {
        reply_error(ex, 400, "invalid_request_error", "missing_required_parameter",
                    "\"messages\" is required");
        return false;
    }
    size_t n = phi_json_count(list);
    if (phi_json_type_of(list) != PHI_JSON_ARRAY || n == 0) {
        reply_error(ex, 400, "invalid_request_error", "invalid_type",
                    "\"messages\" must be a non-empty array, not %s", phi_json_kind(list));
        return false;
    }
    /* First pass: check and measure; second: copy. */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const phi_json_value *m = phi_json_element(list, i);
        const phi_json_value *role = phi_json_member(m, "role");
        size_t r = 0;
        while (r < 4 && !phi_json_string_is(role, roles[r]))
            r++;
        const char *why = NULL;
        size_t len;
        if (phi_json_type_of(m) != PHI_JSON_OBJECT)
            why = "must be an object";
        else if (r == 4)
            why = "\"role\" must be \"system\", \"user\", \"assistant\" or \"tool\"";
        if (why || !message_text(phi_json_member(m, "content"), NULL, &len, &why)) {
            reply_error(ex, 400, "invalid_request_error", "invalid_value", "messages[%zu]: %s", i, why);
            return false;
        }
        total += len + 1;
    }
    out->items = calloc(n, sizeof *out->items);
    out->text = malloc(total);
    if (!out->items || !out->text) {
        chat_messages_free(out);
        reply_error(ex, 500, "server_error", NULL, "out of memory for the messages");
        return false;
    }
    char *at = out->text;
    for (size_t i = 0; i < n; i++) {
        const phi_json_value *m = phi_json_element(list, i);
        size_t len, r = 0;
        const char *why;
        while (!phi_json_string_is(phi_json_member(m, "role"), roles[r]))
            r++;
        message_text(phi_json_member(m, "content"), at, &len, &why);
        if (memchr(at, '\0', len)) {
            chat_messages_free(out);
            reply_error(ex, 400, "invalid_request_error", "invalid_value",
                        "messages[%zu]: the content holds a NUL character", i);
            return false;
        }
        at[len] = '\0';
        out->items[i].role = roles[r];
        out->items[i].content = at;
        at += len + 1;
    }
    out->n = n;
    return true;
}

void chat_messages_free(chat_messages *m)
{
    free(m->items);
    free(m->text);
    memset(m, 0, sizeof *m);
}

static bool bad_field(exchange *ex, const char *key, const char *expected, const phi_json_value *v)
{
    reply_error(ex, 400, "invalid_request_error", "invalid_value", "\"%s\" must be %s, not %s",
                key, expected, phi_json_kind(v));
    return false;
}

bool field_double(exchange *ex, const phi_json_value *obj, const char *key, double lo, double hi,
                  double *out)
{
    const phi_json_value *v = phi_json_member(obj, key);
    double d;
    if (!v || phi_json_type_of(v) == PHI_JSON_NULL)
        return true;
    if (!phi_json_double(v, &d))
        return bad_field(ex, key, "a number", v);
    if (d < lo || d > hi) {
        reply_error(ex, 400, "invalid_request_error", "invalid_value",
                    "\"%s\" must be between %g and %g, not %g", key, lo, hi, d);
        return false;
    }
    *out = d;
    return true;
}

bool field_int(exchange *ex, const phi_json_value *obj, const char *key, int64_t lo, int64_t hi,
               int64_t *out)
{
    const phi_json_value *v = phi_json_member(obj, key);
    int64_t n;
    if (!v || phi_json_type_of(v) == PHI_JSON_NULL)
        return true;
    if (!phi_json_int64(v, &n))
        return bad_field(ex, key, "an integer", v);
    if (n < lo || n > hi) {
        reply_error(ex, 400, "invalid_request_error", "invalid_value",
                    "\"%s\" must be between %lld and %lld, not %lld", key, (long long)lo,
                    (long long)hi, (long long)n);
        return false;
    }
    *out = n;
    return true;
}

bool field_bool(exchange *ex, const phi_json_value *obj, const char *key, bool *out)
{
    const phi_json_value *v = phi_json_member(obj, key);
    if (!v || phi_json_type_of(v) == PHI_JSON_NULL)
        return true;
    return phi_json_bool(v, out) || bad_field(ex, key, "true or false", v);
}

bool field_string(exchange *ex, const phi_json_value *obj, const char *key, char **out)
{
    const phi_json_value *v = phi_json_member(obj, key);
    phi_str s;
    *out = NULL;
    if (!v || phi_json_type_of(v) == PHI_JSON_NULL)
        return true;
    if (!phi_json_string(v, &s))
        return bad_field(ex, key, "a string", v);
    if (memchr(s.ptr, '\0', s.len)) {
        reply_error(ex, 400, "invalid_request_error", "invalid_value",
                    "\"%s\" holds a NUL character", key);
        return false;
    }
    *out = malloc(s.len + 1);
    if (!*out) {
        reply_error(ex, 500, "server_error", NULL, "out of memory");
        return false;
    }
    memcpy(*out, s.ptr, s.len);
    (*out)[s.len] = '\0';
    return true;
}

bool field_stop(exchange *ex, const phi_json_value *obj, const char *key, gen_params *p,
                char **storage)
{
    const phi_json_value *v = phi_json_member(obj, key);
    bool one = phi_json_type_of(v) == PHI_JSON_STRING;
    size_t n = one ? 1 : phi_json_count(v);
    *storage = NULL;
    if (!v || phi_json_type_of(v) == PHI_JSON_NULL)
        return true;
    if (!one && phi_json_type_of(v) != PHI_JSON_ARRAY)
        return bad_field(ex, key, "a string or an array of strings", v);
    if (n > GEN_MAX_STOP) {
        reply_error(ex, 400, "invalid_request_error", "invalid_value",
                    "\"%s\" may hold at most %d strings", key, GEN_MAX_STOP);
        return false;
    }
    size_t total = 0;
    phi_str s;
    for (size_t i = 0; i < n; i++) {
        if (!phi_json_string(one ? v : phi_json_element(v, i), &s))
            return bad_field(ex, key, "a string or an array of strings", phi_json_element(v, i));
        if (memchr(s.ptr, '\0', s.len)) {
            reply_error(ex, 400, "invalid_request_error", "invalid_value",
                        "\"%s\" holds a NUL character", key);
            return false;
        }
        total += s.len + 1;
    }
    char *at = *storage = malloc(total ? total : 1);
    if (!at) {
        reply_error(ex, 500, "server_error", NULL, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        phi_json_string(one ? v : phi_json_element(v, i), &s);
        if (s.len == 0)
            continue;
        memcpy(at, s.ptr, s.len);
        at[s.len] = '\0';
        p->stop[p->n_stop++] = at;
        at += s.len + 1;
    }
    return true;
}
