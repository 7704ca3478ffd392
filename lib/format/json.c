#include "format/json.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phi4.h"
#include "core/utf8.h"

struct phi_json_value {
    uint32_t type;
    uint32_t is_integer; /* numbers: n.integer holds the exact value */
    union {
        size_t len;      /* string bytes, array elements, object members */
        int64_t integer;
    } n;
    union {
        const char *str;
        const phi_json_value *items; /* arrays: len; objects: 2 * len, key then value */
        double number;
    } u;
};

/* Containers' children live in blocks that are never moved, so the tree's
 * pointers stay valid; the blocks go when the document goes. */
typedef struct node_block {
    struct node_block *next;
    size_t used, cap;
    phi_json_value nodes[];
} node_block;

#define NODE_BLOCK_CAP 8192

struct phi_json {
    phi_mem mem;
    char *strings;       /* every string, unescaped, back to back */
    node_block *blocks;
    phi_json_value root;
};

typedef struct frame {
    size_t base;         /* where this container's children start on the stack */
    bool is_object;
} frame;

typedef struct parser {
    phi_json *doc;
    const uint8_t *s;
    size_t len, pos;
    size_t strings_used;
    phi_json_value *stack; /* finished values whose container is still open */
    size_t n_stack, cap_stack;
    frame frames[PHI_JSON_MAX_DEPTH];
    size_t depth;
    phi_err *err;
} parser;

/* ---- errors ---- */

static void describe_byte(const parser *p, size_t at, char *buf, size_t size)
{
    if (at >= p->len)
        snprintf(buf, size, "the end of the input");
    else if (p->s[at] > 0x20 && p->s[at] < 0x7F)
        snprintf(buf, size, "'%c'", p->s[at]);
    else
        snprintf(buf, size, "byte 0x%02X", p->s[at]);
}

static int fail_at(parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(parser *p, size_t at, const char *fmt, ...)
{
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < at && i < p->len; i++)
        if (p->s[i] == '\n')
            line++, line_start = i + 1;
    char what[PHI_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return phi_err_set(p->err, PHI_E_FORMAT, "JSON: line %zu, column %zu (byte %zu): %s", line,
                       at - line_start + 1, at, what);
}

/* "expected X, found Y" at the current position. */
static int fail_expected(parser *p, const char *expected)
{
    char found[32];
    describe_byte(p, p->pos, found, sizeof found);
    return fail_at(p, p->pos, "expected %s, found %s", expected, found);
}

static int fail_nomem(parser *p)
{
    return phi_err_set(p->err, PHI_E_NOMEM, "JSON: out of memory at byte %zu of %zu", p->pos, p->len);
}

/* ---- memory ---- */

static phi_json_value *alloc_nodes(parser *p, size_t n)
{
    node_block *head = p->doc->blocks;
    if (head && head->cap - head->used >= n) {
        head->used += n;
        return head->nodes + head->used - n;
    }
    /* Big arrays get a block of their own, behind the current one. */
    size_t cap = n > NODE_BLOCK_CAP / 4 ? n : NODE_BLOCK_CAP, bytes;
    if (phi_mul_overflows(cap, sizeof(phi_json_value), &bytes) ||
        phi_add_overflows(bytes, sizeof(node_block), &bytes))
        return NULL;
    node_block *b = phi_alloc(&p->doc->mem, bytes);
    if (!b)
        return NULL;
    b->used = n;
    b->cap = cap;
    if (cap == n && head) {
        b->next = head->next;
        head->next = b;
    } else {
        b->next = head;
        p->doc->blocks = b;
    }
    return b->nodes;
}

static int push(parser *p, const phi_json_value *v)
{
    if (p->n_stack == p->cap_stack) {
        size_t cap = p->cap_stack ? p->cap_stack * 2 : 4096, bytes;
        if (phi_mul_overflows(cap, sizeof *p->stack, &bytes))
            return fail_nomem(p);
        phi_json_value *grown = phi_alloc(&p->doc->mem, bytes);
        if (!grown)
            return fail_nomem(p);
        if (p->n_stack)
            memcpy(grown, p->stack, p->n_stack * sizeof *p->stack);
        phi_free(&p->doc->mem, p->stack);
        p->stack = grown;
        p->cap_stack = cap;
    }
    p->stack[p->n_stack++] = *v;
    return PHI_OK;
}

/* ---- scalars ---- */

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static void skip_space(parser *p)
{
    while (p->pos < p->len) {
        uint8_t c = p->s[p->pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            break;
        p->pos++;
    }
}

static int hex4(parser *p, size_t at, uint32_t *out)
{
    uint32_t v = 0;
    for (size_t i = at; i < at + 4; i++) {
        uint8_t c = i < p->len ? p->s[i] : 0;
        uint32_t d = is_digit(c) ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : 16;
        if (d == 16) {
            p->pos = i;
            return fail_expected(p, "four hex digits after \\u");
        }
        v = v << 4 | d;
    }
    *out = v;
    return PHI_OK;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A \u escape at p->pos (the backslash), a surrogate pair taken whole. */
static int unicode_escape(parser *p, uint32_t *cp)
{
    size_t at = p->pos;
    int rc = hex4(p, at + 2, cp);
    if (rc != PHI_OK)
        return rc;
    p->pos = at + 6;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return fail_at(p, at, "lone low surrogate \\u%04X (it must follow a high surrogate \\uD800-\\uDBFF)",
                       (unsigned)*cp);
    if (*cp < 0xD800 || *cp > 0xDBFF)
        return PHI_OK;
    uint32_t low = 0;
    if (p->pos + 1 >= p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
        hex4(p, p->pos + 2, &low) != PHI_OK || low < 0xDC00 || low > 0xDFFF)
        return fail_at(p, at, "unpaired high surrogate \\u%04X (a low surrogate \\uDC00-\\uDFFF must follow)",
                       (unsigned)*cp);
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
    p->pos += 6;
    return PHI_OK;
}

/* The byte a one-letter escape stands for, or -1. */
static int simple_escape(uint8_t letter)
{
    switch (letter) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return -1;
    }
}

/* The string at p->pos (the opening quote), unescaped into the document's
 * string space: no string is longer than its JSON spelling, so the space
 * sized to the input always has room. */
static int parse_string(parser *p, phi_json_value *v)
{
    size_t open = p->pos++;
    char *out = p->doc->strings + p->strings_used;
    size_t n = 0;
    for (;;) {
        /* Plain ASCII, byte by byte: the strings are short (tokens), too
         * short for memcpy to pay. */
        while (p->pos < p->len && p->s[p->pos] >= 0x20 && p->s[p->pos] < 0x80 && p->s[p->pos] != '"' &&
               p->s[p->pos] != '\\')
            out[n++] = (char)p->s[p->pos++];
        if (p->pos >= p->len)
            return fail_at(p, open, "unterminated string (no closing quote before the end of the input)");
        uint8_t c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return fail_at(p, p->pos, "control character 0x%02X in a string (it must be escaped)", c);
        if (c >= 0x80) {
            size_t len;
            if (phi_utf8_decode(p->s + p->pos, p->len - p->pos, &len) == PHI_UTF8_INVALID)
                return fail_at(p, p->pos, "invalid UTF-8 (byte 0x%02X) in a string", c);
            memcpy(out + n, p->s + p->pos, len);
            n += len;
            p->pos += len;
            continue;
        }
        uint8_t e = p->pos + 1 < p->len ? p->s[p->pos + 1] : 0;
        int byte = simple_escape(e);
        if (byte >= 0) {
            out[n++] = (char)byte;
            p->pos += 2;
        } else if (e == 'u') {
            uint32_t cp = 0;
            int rc = unicode_escape(p, &cp);
            if (rc != PHI_OK)
                return rc;
            n += put_utf8(out + n, cp);
        } else {
            char found[32];
            describe_byte(p, p->pos + 1, found, sizeof found);
            return fail_at(p, p->pos, "invalid escape: a backslash followed by %s (valid: \\\" \\\\ \\/ \\b "
                           "\\f \\n \\r \\t \\uXXXX)", found);
        }
    }
    *v = (phi_json_value){.type = PHI_JSON_STRING, .n.len = n, .u.str = out};
    p->strings_used += n;
    return PHI_OK;
}

/* Digits as value = mantissa * 10^exp10 (at most 19 significant digits
 * kept; dropped_nonzero says whether a nonzero one was cut off). */
typedef struct decimal {
    bool negative;
    uint64_t mantissa;
    int digits;
    int64_t exp10;
    bool dropped_nonzero;
} decimal;

static void add_digit(decimal *d, int digit, bool fraction)
{
    if (d->digits == 0 && digit == 0) {
        d->exp10 -= fraction; /* a leading zero only scales */
    } else if (d->digits < 19) {
        d->mantissa = d->mantissa * 10 + (uint64_t)digit;
        d->digits++;
        d->exp10 -= fraction;
    } else {
        d->exp10 += !fraction;
        d->dropped_nonzero |= digit != 0;
    }
}

/* The exact value as an int64, if it is an integer in range. */
static bool decimal_integer(decimal d, int64_t *out)
{
    if (d.mantissa == 0) {
        *out = 0;
        return true;
    }
    if (d.dropped_nonzero) /* 20 or more significant digits: a fraction, or beyond 2^63 */
        return false;
    while (d.mantissa % 10 == 0)
        d.mantissa /= 10, d.exp10++;
    if (d.exp10 < 0)
        return false;
    uint64_t limit = d.negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, m = d.mantissa;
    for (int64_t i = 0; i < d.exp10; i++) {
        if (m > limit / 10)
            return false;
        m *= 10;
    }
    if (m > limit)
        return false;
    *out = d.negative ? (int64_t)(0 - m) : (int64_t)m;
    return true;
}

/* strtod, made independent of the caller's LC_NUMERIC by spelling the
 * decimal point the way the current locale wants it. */
static int slow_double(parser *p, size_t start, size_t end, double *out)
{
    const char *point = localeconv()->decimal_point;
    size_t point_len = point && *point ? strlen(point) : 1, need;
    if (phi_mul_overflows(end - start, point_len, &need) || phi_add_overflows(need, 1, &need))
        return fail_nomem(p);
    char local[128], *buf = need <= sizeof local ? local : phi_alloc(&p->doc->mem, need);
    if (!buf)
        return fail_nomem(p);
    size_t n = 0;
    for (size_t i = start; i < end; i++) {
        if (p->s[i] == '.' && point && *point) {
            memcpy(buf + n, point, point_len);
            n += point_len;
        } else {
            buf[n++] = (char)p->s[i];
        }
    }
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    if (buf != local)
        phi_free(&p->doc->mem, buf);
    return PHI_OK;
}

/* Correctly rounded when the mantissa and the power of ten are both exact
 * doubles (Clinger's fast path), which covers the numbers config files
 * hold; strtod otherwise. */
static int decimal_double(parser *p, const decimal *d, size_t start, size_t end, double *out)
{
    static const double powers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (d->mantissa == 0) {
        *out = d->negative ? -0.0 : 0.0;
        return PHI_OK;
    }
    if (!d->dropped_nonzero && d->mantissa <= (1ull << 53) && d->exp10 >= -22 && d->exp10 <= 22) {
        double m = (double)d->mantissa;
        m = d->exp10 >= 0 ? m * powers[d->exp10] : m / powers[-d->exp10];
        *out = d->negative ? -m : m;
        return PHI_OK;
    }
    return slow_double(p, start, end, out);
}

static int parse_number(parser *p, phi_json_value *v)
{
    size_t start = p->pos;
    decimal d = {0};
    if (p->s[p->pos] == '-')
        d.negative = true, p->pos++;
    if (p->pos >= p->len || !is_digit(p->s[p->pos]))
        return fail_expected(p, "a digit after '-'");
    if (p->s[p->pos] == '0' && p->pos + 1 < p->len && is_digit(p->s[p->pos + 1]))
        return fail_at(p, p->pos, "leading zeros are not allowed in a number");
    while (p->pos < p->len && is_digit(p->s[p->pos]))
        add_digit(&d, p->s[p->pos++] - '0', false);
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return fail_expected(p, "a digit after the decimal point");
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            add_digit(&d, p->s[p->pos++] - '0', true);
    }
    if (p->pos < p->len && (p->s[p->pos] | 0x20) == 'e') {
        p->pos++;
        bool negative = p->pos < p->len && p->s[p->pos] == '-';
        if (p->pos < p->len && (p->s[p->pos] == '-' || p->s[p->pos] == '+'))
            p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return fail_expected(p, "a digit in the exponent");
        int64_t e = 0;
        /* Past a billion the value is 0 or infinite whatever the digits. */
        while (p->pos < p->len && is_digit(p->s[p->pos])) {
            int digit = p->s[p->pos++] - '0';
            if (e < 1000000000)
                e = e * 10 + digit;
        }
        d.exp10 += negative ? -e : e;
    }
    *v = (phi_json_value){.type = PHI_JSON_NUMBER};
    int64_t integer;
    if (decimal_integer(d, &integer)) {
        v->is_integer = 1;
        v->n.integer = integer;
    }
    return decimal_double(p, &d, start, p->pos, &v->u.number);
}

static int parse_literal(parser *p, phi_json_value *v)
{
    static const struct {
        const char *text;
        phi_json_type type;
    } literals[] = {{"true", PHI_JSON_TRUE}, {"false", PHI_JSON_FALSE}, {"null", PHI_JSON_NULL}};
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        size_t n = strlen(literals[i].text);
        if (p->s[p->pos] != (uint8_t)literals[i].text[0])
            continue;
        if (p->len - p->pos < n || memcmp(p->s + p->pos, literals[i].text, n) != 0) {
            char expected[16];
            snprintf(expected, sizeof expected, "'%s'", literals[i].text);
            return fail_at(p, p->pos, "invalid literal (expected %s)", expected);
        }
        p->pos += n;
        *v = (phi_json_value){.type = literals[i].type};
        return PHI_OK;
    }
    return fail_expected(p, "a value (object, array, string, number, true, false or null)");
}

static int parse_scalar(parser *p, phi_json_value *v)
{
    uint8_t c = p->s[p->pos];
    if (c == '"')
        return parse_string(p, v);
    if (c == '-' || is_digit(c))
        return parse_number(p, v);
    return parse_literal(p, v);
}

/* ---- structure ---- */

/* A member's key and the colon after it. */
static int parse_key(parser *p, const char *expected)
{
    skip_space(p);
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return fail_expected(p, expected);
    phi_json_value key;
    int rc = parse_string(p, &key);
    if (rc == PHI_OK)
        rc = push(p, &key);
    if (rc != PHI_OK)
        return rc;
    skip_space(p);
    if (p->pos >= p->len || p->s[p->pos] != ':')
        return fail_expected(p, "':' after an object key");
    p->pos++;
    return PHI_OK;
}

/* Move the innermost container's children from the stack into the tree. */
static int close_container(parser *p, phi_json_value *v)
{
    const frame *f = &p->frames[--p->depth];
    size_t n = p->n_stack - f->base;
    phi_json_value *items = NULL;
    if (n) {
        items = alloc_nodes(p, n);
        if (!items)
            return fail_nomem(p);
        memcpy(items, p->stack + f->base, n * sizeof *items);
    }
    p->n_stack = f->base;
    *v = (phi_json_value){.type = f->is_object ? PHI_JSON_OBJECT : PHI_JSON_ARRAY,
                          .n.len = f->is_object ? n / 2 : n,
                          .u.items = items};
    return PHI_OK;
}

/* An explicit stack of open containers instead of recursion: the depth
 * limit is a number, not the size of the C stack. */
static int parse_document(parser *p)
{
    if (p->len >= 3 && memcmp(p->s, "\xEF\xBB\xBF", 3) == 0)
        return fail_at(p, 0, "a byte order mark (EF BB BF) is not allowed before a JSON document");
    for (;;) {
        skip_space(p);
        if (p->pos >= p->len)
            return fail_expected(p, "a value");
        uint8_t c = p->s[p->pos];
        phi_json_value v;
        int rc;
        if (c == '{' || c == '[') {
            if (p->depth == PHI_JSON_MAX_DEPTH)
                return fail_at(p, p->pos, "nesting deeper than %d levels of arrays and objects",
                               PHI_JSON_MAX_DEPTH);
            p->frames[p->depth++] = (frame){p->n_stack, c == '{'};
            p->pos++;
            skip_space(p);
            if (p->pos >= p->len || p->s[p->pos] != (c == '{' ? '}' : ']')) {
                rc = c == '{' ? parse_key(p, "a string key or '}'") : PHI_OK;
                if (rc != PHI_OK)
                    return rc;
                continue;
            }
            p->pos++;
            rc = close_container(p, &v);
        } else {
            rc = parse_scalar(p, &v);
        }
        /* A value is complete: hand it to its container, and close every
         * container that ends right after it. */
        for (;;) {
            if (rc != PHI_OK)
                return rc;
            if (p->depth == 0) {
                p->doc->root = v;
                skip_space(p);
                return p->pos == p->len ? PHI_OK : fail_expected(p, "the end of the input after the value");
            }
            if ((rc = push(p, &v)) != PHI_OK)
                return rc;
            const frame *f = &p->frames[p->depth - 1];
            skip_space(p);
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                rc = f->is_object ? parse_key(p, "a string key after ','") : PHI_OK;
                if (rc != PHI_OK)
                    return rc;
                break;
            }
            if (p->pos >= p->len || p->s[p->pos] != (f->is_object ? '}' : ']'))
                return fail_expected(p, f->is_object ? "',' or '}' after an object member"
                                                     : "',' or ']' after an array element");
            p->pos++;
            rc = close_container(p, &v);
        }
    }
}

int phi_json_parse(const phi_mem *mem, const char *text, size_t len, phi_json **out, phi_err *err)
{
    *out = NULL;
    if (!text && len)
        return phi_err_set(err, PHI_E_INVALID_ARG, "JSON: no text");
    phi_json *doc = phi_alloc_zero(mem, sizeof *doc);
    parser *p = phi_alloc(mem, sizeof *p);
    if (!doc || !p) {
        phi_free(mem, doc);
        phi_free(mem, p);
        return phi_err_set(err, PHI_E_NOMEM, "JSON: out of memory");
    }
    doc->mem = *mem;
    *p = (parser){.doc = doc, .s = (const uint8_t *)text, .len = len, .err = err};
    doc->strings = phi_alloc(mem, len ? len : 1);
    int rc = doc->strings ? parse_document(p) : fail_nomem(p);
    phi_free(mem, p->stack);
    phi_free(mem, p);
    if (rc != PHI_OK) {
        phi_json_free(doc);
        return rc;
    }
    *out = doc;
    return PHI_OK;
}

void phi_json_free(phi_json *doc)
{
    if (!doc)
        return;
    phi_mem mem = doc->mem;
    for (node_block *b = doc->blocks, *next; b; b = next) {
        next = b->next;
        phi_free(&mem, b);
    }
    phi_free(&mem, doc->strings);
    phi_free(&mem, doc);
}

/* ---- access ---- */

const phi_json_value *phi_json_root(const phi_json *doc) { return doc ? &doc->root : NULL; }

phi_json_type phi_json_type_of(const phi_json_value *v) { return v ? (phi_json_type)v->type : PHI_JSON_MISSING; }

const char *phi_json_kind(const phi_json_value *v)
{
    switch (phi_json_type_of(v)) {
    case PHI_JSON_NULL: return "null";
    case PHI_JSON_FALSE:
    case PHI_JSON_TRUE: return "a boolean";
    case PHI_JSON_NUMBER: return "a number";
    case PHI_JSON_STRING: return "a string";
    case PHI_JSON_ARRAY: return "an array";
    case PHI_JSON_OBJECT: return "an object";
    default: return "missing";
    }
}

size_t phi_json_count(const phi_json_value *v)
{
    return v && (v->type == PHI_JSON_ARRAY || v->type == PHI_JSON_OBJECT) ? v->n.len : 0;
}

const phi_json_value *phi_json_element(const phi_json_value *v, size_t i)
{
    return v && v->type == PHI_JSON_ARRAY && i < v->n.len ? &v->u.items[i] : NULL;
}

bool phi_json_member_at(const phi_json_value *v, size_t i, phi_str *key, const phi_json_value **value)
{
    if (!v || v->type != PHI_JSON_OBJECT || i >= v->n.len)
        return false;
    const phi_json_value *k = &v->u.items[2 * i];
    *key = (phi_str){k->u.str, k->n.len};
    *value = k + 1;
    return true;
}

const phi_json_value *phi_json_member(const phi_json_value *v, const char *key)
{
    if (!v || v->type != PHI_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->n.len; i++) {
        const phi_json_value *k = &v->u.items[2 * i];
        if (phi_str_eq((phi_str){k->u.str, k->n.len}, key))
            return k + 1;
    }
    return NULL;
}

bool phi_json_string(const phi_json_value *v, phi_str *out)
{
    if (!v || v->type != PHI_JSON_STRING)
        return false;
    *out = (phi_str){v->u.str, v->n.len};
    return true;
}

bool phi_json_string_is(const phi_json_value *v, const char *s)
{
    phi_str str;
    return phi_json_string(v, &str) && phi_str_eq(str, s);
}

bool phi_json_bool(const phi_json_value *v, bool *out)
{
    if (!v || (v->type != PHI_JSON_TRUE && v->type != PHI_JSON_FALSE))
        return false;
    *out = v->type == PHI_JSON_TRUE;
    return true;
}

bool phi_json_int64(const phi_json_value *v, int64_t *out)
{
    if (!v || v->type != PHI_JSON_NUMBER || !v->is_integer)
        return false;
    *out = v->n.integer;
    return true;
}

bool phi_json_double(const phi_json_value *v, double *out)
{
    if (!v || v->type != PHI_JSON_NUMBER || !isfinite(v->u.number))
        return false;
    *out = v->u.number;
    return true;
}
