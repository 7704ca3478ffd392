#include "json_write.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_writer_init(json_writer *w)
{
    memset(w, 0, sizeof *w);
}

void json_writer_free(json_writer *w)
{
    free(w->buf);
    json_writer_init(w);
}

void json_writer_reset(json_writer *w)
{
    char *buf = w->buf;
    size_t cap = w->cap;
    json_writer_init(w);
    w->buf = buf, w->cap = cap;
    if (buf)
        buf[0] = '\0';
}

bool json_writer_ok(const json_writer *w)
{
    return !w->failed && w->depth == 0 && !w->after_key;
}

static void append(json_writer *w, const char *s, size_t n)
{
    if (w->failed)
        return;
    if (w->cap - w->len <= n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len <= n) {
            if (cap > SIZE_MAX / 2) {
                w->failed = true;
                return;
            }
            cap *= 2;
        }
        char *buf = realloc(w->buf, cap);
        if (!buf) {
            w->failed = true;
            return;
        }
        w->buf = buf, w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void json_append_raw(json_writer *w, const char *s, size_t len)
{
    append(w, s, len);
}

/* Called before every value and key: the separator it needs, and a check that
 * a value does not stand where an object wants a key. */
static void before_item(json_writer *w, bool is_key)
{
    if (w->failed)
        return;
    if (w->after_key) {
        if (is_key)
            w->failed = true;
        w->after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    int top = w->depth - 1;
    if (w->is_object[top] != is_key) {
        w->failed = true;
        return;
    }
    if (w->has_item[top])
        append(w, ",", 1);
    w->has_item[top] = true;
}

static void begin(json_writer *w, bool object)
{
    before_item(w, false);
    if (w->failed)
        return;
    if (w->depth == JSON_WRITER_MAX_DEPTH) {
        w->failed = true;
        return;
    }
    w->is_object[w->depth] = object;
    w->has_item[w->depth] = false;
    w->depth++;
    append(w, object ? "{" : "[", 1);
}

static void end(json_writer *w, bool object)
{
    if (w->failed)
        return;
    if (w->depth == 0 || w->is_object[w->depth - 1] != object || w->after_key) {
        w->failed = true;
        return;
    }
    w->depth--;
    append(w, object ? "}" : "]", 1);
}

void json_begin_object(json_writer *w) { begin(w, true); }
void json_end_object(json_writer *w) { end(w, true); }
void json_begin_array(json_writer *w) { begin(w, false); }
void json_end_array(json_writer *w) { end(w, false); }

/* Length of the well-formed UTF-8 character at s[0..n) (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0 if there is
 * none; then *bad is the length of the maximal ill-formed prefix, which
 * becomes one U+FFFD as the WHATWG decoder does. */
static size_t utf8_char_len(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c < 0x80)
        return 1;
    else if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    size_t i = 1;
    for (; i < need && i < n; i++) {
        unsigned char b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            break;
    }
    if (i == need)
        return need;
    *bad = i;
    return 0;
}

static void write_quoted(json_writer *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    append(w, "\"", 1);
    if (len == 0) { /* s may be NULL: an empty buffer */
        append(w, "\"", 1);
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0; /* bytes copied as they are, written in one go */
    for (size_t i = 0; i < len && !w->failed;) {
        unsigned char c = p[i];
        size_t bad = 0, n = c >= 0x20 && c != '"' && c != '\\' ? utf8_char_len(p + i, len - i, &bad) : 0;
        if (n) {
            run += n, i += n;
            continue;
        }
        append(w, (const char *)p + i - run, run);
        run = 0;
        if (bad) {
            append(w, "\xEF\xBF\xBD", 3);
            i += bad;
            continue;
        }
        char esc[7] = {'\\', 0};
        size_t esc_len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
            esc_len = 6;
        }
        append(w, esc, esc_len);
        i++;
    }
    append(w, (const char *)p + len - run, run);
    append(w, "\"", 1);
}

void json_string(json_writer *w, const char *s, size_t len)
{
    before_item(w, false);
    write_quoted(w, s, len);
}

void json_cstring(json_writer *w, const char *s)
{
    json_string(w, s, strlen(s));
}

void json_key(json_writer *w, const char *key)
{
    before_item(w, true);
    write_quoted(w, key, strlen(key));
    append(w, ":", 1);
    w->after_key = !w->failed;
}

void json_int(json_writer *w, int64_t v)
{
    char num[24];
    before_item(w, false);
    append(w, num, (size_t)snprintf(num, sizeof num, "%" PRId64, v));
}

void json_double(json_writer *w, double v)
{
    if (!isfinite(v)) {
        json_null(w);
        return;
    }
    char num[32];
    before_item(w, false);
    /* The fewest digits that read back as the same double. */
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(num, sizeof num, "%.*g", prec, v);
        if (strtod(num, NULL) == v)
            break;
    }
    append(w, num, (size_t)n);
}

void json_bool(json_writer *w, bool v)
{
    before_item(w, false);
    append(w, v ? "true" : "false", v ? 4 : 5);
}

void json_null(json_writer *w)
{
    before_item(w, false);
    append(w, "null", 4);
}
