/* A small JSON writer for the server's responses: values go into a growing
 * buffer, commas and colons are placed by the writer, strings are escaped
 * (control characters as \uXXXX, invalid UTF-8 as U+FFFD), so whatever the
 * model or the client handed us comes out as valid JSON.
 *
 * Errors are sticky: after an allocation failure or a misuse (a value where a
 * key belongs, too deep nesting, end without begin) every call is a no-op and
 * json_writer_ok() says false; the caller checks once at the end. */
#ifndef PHI4_SERVER_JSON_WRITE_H
#define PHI4_SERVER_JSON_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_WRITER_MAX_DEPTH 32

typedef struct json_writer {
    char *buf; /* NUL-terminated while ok */
    size_t len, cap;
    int depth;
    /* Per open container: whether it is an object, and whether it holds an
     * item already (a comma comes before the next one). */
    bool is_object[JSON_WRITER_MAX_DEPTH];
    bool has_item[JSON_WRITER_MAX_DEPTH];
    bool after_key; /* an object key was written; its value comes next */
    bool failed;
} json_writer;

void json_writer_init(json_writer *w);
void json_writer_free(json_writer *w);
/* Forget the text, keep the buffer (for writing the next line of a stream). */
void json_writer_reset(json_writer *w);
/* True when no error happened and every container is closed. */
bool json_writer_ok(const json_writer *w);

void json_begin_object(json_writer *w);
void json_end_object(json_writer *w);
void json_begin_array(json_writer *w);
void json_end_array(json_writer *w);
/* A member's key (a C string); its value is the next call. */
void json_key(json_writer *w, const char *key);

void json_string(json_writer *w, const char *s, size_t len);
void json_cstring(json_writer *w, const char *s);
void json_int(json_writer *w, int64_t v);
/* A finite double in shortest round-trip form; NaN and infinities are null
 * (JSON has no spelling for them). */
void json_double(json_writer *w, double v);
void json_bool(json_writer *w, bool v);
void json_null(json_writer *w);

/* Raw bytes after the value, outside the JSON grammar (e.g. "\n" ending an
 * NDJSON line). */
void json_append_raw(json_writer *w, const char *s, size_t len);

#endif
