/* A strict JSON (RFC 8259) reader: bytes in, an immutable tree out, every
 * allocation through a phi_mem. Strict means it accepts exactly the grammar:
 * no comments, no trailing commas, no leading zeros, no byte order mark, no
 * invalid UTF-8, no lone surrogates in \u escapes, nothing after the value.
 * Nesting is limited to PHI_JSON_MAX_DEPTH levels and parsing uses no
 * recursion, so no input can exhaust the stack.
 *
 * Used for tokenizer.json and config.json; it is generic: objects keep their
 * members in document order (duplicate keys included) and lookups by key are
 * linear, which is what reading a few known keys wants. */
#ifndef PHI_FORMAT_JSON_H
#define PHI_FORMAT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/str.h"

#define PHI_JSON_MAX_DEPTH 512

typedef enum phi_json_type {
    PHI_JSON_MISSING = 0, /* what the accessors report for a NULL value */
    PHI_JSON_NULL,
    PHI_JSON_FALSE,
    PHI_JSON_TRUE,
    PHI_JSON_NUMBER,
    PHI_JSON_STRING,
    PHI_JSON_ARRAY,
    PHI_JSON_OBJECT,
} phi_json_type;

typedef struct phi_json phi_json;             /* a parsed document, owning all of it */
typedef struct phi_json_value phi_json_value; /* one value inside a document */

/* Parse text[0..len) (need not be NUL-terminated; the document does not
 * point into it afterwards). PHI_E_FORMAT with the byte offset, line and
 * column of the first error and what was expected there; PHI_E_NOMEM. */
int phi_json_parse(const phi_mem *mem, const char *text, size_t len, phi_json **out, phi_err *err);
void phi_json_free(phi_json *doc);

const phi_json_value *phi_json_root(const phi_json *doc);

/* Every accessor takes NULL (PHI_JSON_MISSING), so lookups chain:
 * phi_json_member(phi_json_member(root, "model"), "type"). */
phi_json_type phi_json_type_of(const phi_json_value *v);
/* What v is, for messages: "an object", "an array", "a string", "a number",
 * "a boolean", "null" or "missing". */
const char *phi_json_kind(const phi_json_value *v);

/* Elements of an array or members of an object; 0 for anything else. */
size_t phi_json_count(const phi_json_value *v);
/* Element i of an array; NULL if v is not an array or i is out of range. */
const phi_json_value *phi_json_element(const phi_json_value *v, size_t i);
/* The first member of an object whose key is key (a C string); NULL if
 * there is none or v is not an object. */
const phi_json_value *phi_json_member(const phi_json_value *v, const char *key);
/* Member i of an object, in document order: its key and its value. */
bool phi_json_member_at(const phi_json_value *v, size_t i, phi_str *key, const phi_json_value **value);

/* Typed reads: false when v is not of that kind. Strings come unescaped
 * (they may hold NUL bytes, so use the length). A number reads as int64 only
 * if its value is an integer in range, computed exactly from the digits
 * ("3", "3.0", "3e0" all read as 3); as a double if it is finite. */
bool phi_json_string(const phi_json_value *v, phi_str *out);
bool phi_json_bool(const phi_json_value *v, bool *out);
bool phi_json_int64(const phi_json_value *v, int64_t *out);
bool phi_json_double(const phi_json_value *v, double *out);

/* True when v is a string equal to the C string s. */
bool phi_json_string_is(const phi_json_value *v, const char *s);

#endif
