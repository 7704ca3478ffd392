/* libFuzzer target for the JSON reader: parse arbitrary bytes (an
 * exact-size copy, so ASan sees a read one byte past the input); on success
 * touch every value, check that member lookup finds the first member of
 * each key, write the tree back out as JSON, parse that and check it is the
 * same tree. Failures must come with PHI_E_FORMAT and a message.
 * Build and run: see tests/fuzz/README.md. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/json.h"
#include "fuzz_input.h"
#include "phi4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct out {
    char *buf;
    size_t len, cap;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2;
        o->buf = realloc(o->buf, o->cap);
        if (!o->buf)
            abort();
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void put_string(out *o, phi_str s)
{
    put(o, "\"", 1);
    for (uint64_t i = 0; i < s.len; i++) {
        uint8_t c = (uint8_t)s.ptr[i];
        char esc[8];
        if (c < 0x20 || c == '"' || c == '\\') {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(o, esc, 6);
        } else {
            put(o, (const char *)&c, 1);
        }
    }
    put(o, "\"", 1);
}

/* Integers exactly; other numbers with enough digits to read back the same
 * double (an infinity as a numeral beyond the double range). */
static void put_number(out *o, const phi_json_value *v)
{
    char buf[64];
    int64_t i;
    double d;
    if (phi_json_int64(v, &i))
        snprintf(buf, sizeof buf, "%lld", (long long)i);
    else if (phi_json_double(v, &d))
        snprintf(buf, sizeof buf, "%.17g", d);
    else
        snprintf(buf, sizeof buf, "%s", "1e999");
    put(o, buf, strlen(buf));
}

static volatile uint64_t sink;

static void write_value(out *o, const phi_json_value *v)
{
    phi_str key;
    const phi_json_value *member;
    switch (phi_json_type_of(v)) {
    case PHI_JSON_NULL: put(o, "null", 4); break;
    case PHI_JSON_TRUE: put(o, "true", 4); break;
    case PHI_JSON_FALSE: put(o, "false", 5); break;
    case PHI_JSON_NUMBER: put_number(o, v); break;
    case PHI_JSON_STRING: {
        phi_str s;
        phi_json_string(v, &s);
        if (s.len)
            sink += (uint8_t)s.ptr[s.len - 1];
        put_string(o, s);
        break;
    }
    case PHI_JSON_ARRAY:
        put(o, "[", 1);
        for (size_t i = 0; i < phi_json_count(v); i++) {
            if (i)
                put(o, ",", 1);
            write_value(o, phi_json_element(v, i));
        }
        put(o, "]", 1);
        break;
    case PHI_JSON_OBJECT:
        put(o, "{", 1);
        for (size_t i = 0; phi_json_member_at(v, i, &key, &member); i++) {
            if (i)
                put(o, ",", 1);
            put_string(o, key);
            put(o, ":", 1);
            write_value(o, member);
            /* Lookup by key (if it has no NUL) finds the first such member. */
            if (!memchr(key.ptr, 0, key.len)) {
                char *k = strndup(key.ptr, key.len);
                const phi_json_value *found = phi_json_member(v, k), *first = NULL;
                phi_str other;
                for (size_t j = 0; !first && phi_json_member_at(v, j, &other, &first); j++)
                    if (!phi_str_eq(other, k))
                        first = NULL;
                if (found != first)
                    abort();
                free(k);
            }
        }
        put(o, "}", 1);
        break;
    default: abort();
    }
}

static bool same_tree(const phi_json_value *a, const phi_json_value *b)
{
    phi_json_type type = phi_json_type_of(a);
    if (type != phi_json_type_of(b) || phi_json_count(a) != phi_json_count(b))
        return false;
    phi_str sa, sb;
    int64_t ia, ib;
    double da, db;
    const phi_json_value *va, *vb;
    switch (type) {
    case PHI_JSON_STRING:
        phi_json_string(a, &sa), phi_json_string(b, &sb);
        return sa.len == sb.len && memcmp(sa.ptr, sb.ptr, sa.len) == 0;
    case PHI_JSON_NUMBER: {
        if (phi_json_int64(a, &ia))
            return phi_json_int64(b, &ib) && ia == ib;
        /* Written with %.17g, a double reads back to the same bits (and a
         * numeral that rounds to an integer may then read as one). */
        bool finite = phi_json_double(a, &da);
        return finite == phi_json_double(b, &db) && (!finite || memcmp(&da, &db, sizeof da) == 0);
    }
    case PHI_JSON_ARRAY:
        for (size_t i = 0; i < phi_json_count(a); i++)
            if (!same_tree(phi_json_element(a, i), phi_json_element(b, i)))
                return false;
        return true;
    case PHI_JSON_OBJECT:
        for (size_t i = 0; i < phi_json_count(a); i++) {
            phi_json_member_at(a, i, &sa, &va);
            phi_json_member_at(b, i, &sb, &vb);
            if (sa.len != sb.len || memcmp(sa.ptr, sb.ptr, sa.len) != 0 || !same_tree(va, vb))
                return false;
        }
        return true;
    default: return true;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    phi_mem mem; /* the default hooks allocate exact sizes, so ASan sees overreads */
    phi_mem_init_default(&mem);
    char *copy = fuzz_input_copy(data, size);
    if (!copy)
        return 0;
    phi_json *doc = NULL;
    phi_err err = {0};
    int rc = phi_json_parse(&mem, copy, size, &doc, &err);
    free(copy); /* the document must not point into the input */
    if (rc != PHI_OK) {
        if (rc != PHI_E_FORMAT || err.code != rc || strncmp(err.msg, "JSON: line ", 11) != 0 || doc)
            abort();
        return 0;
    }
    out o = {0};
    write_value(&o, phi_json_root(doc));
    phi_json *again = NULL;
    if (phi_json_parse(&mem, o.buf, o.len, &again, &err) != PHI_OK ||
        !same_tree(phi_json_root(doc), phi_json_root(again)))
        abort();
    phi_json_free(again);
    phi_json_free(doc);
    free(o.buf);
    return 0;
}
