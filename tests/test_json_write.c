/* phi4-server's JSON writer (examples/server/json_write.c): exact output for
 * escapes, control characters, invalid UTF-8 (each maximal ill-formed
 * subsequence becomes one U+FFFD), numbers and nesting; misuse is caught;
 * and whatever it writes, the library's strict reader accepts and reads back. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "format/json.h"
#include "json_write.h"
#include "phi4.h"

static json_writer w;

static int same(const char *expected)
{
    if (json_writer_ok(&w) && w.len == strlen(expected) && !memcmp(w.buf, expected, w.len))
        return 1;
    fprintf(stderr, "expected %s\n     got %s (ok=%d)\n", expected, w.buf ? w.buf : "(null)",
            json_writer_ok(&w));
    return 0;
}

/* A string value written and read back with the strict reader. */
static void check_string(const char *in, size_t len, const char *expected_json,
                         const char *expected_value)
{
    json_writer_reset(&w);
    json_string(&w, in, len);
    CHECK(same(expected_json));
    phi_mem mem;
    phi_mem_init_default(&mem);
    phi_json *doc = NULL;
    phi_err err = {0};
    CHECK_EQ(phi_json_parse(&mem, w.buf, w.len, &doc, &err), PHI_OK);
    phi_str s = {0};
    CHECK(phi_json_string(phi_json_root(doc), &s));
    CHECK(s.len == strlen(expected_value) && !memcmp(s.ptr, expected_value, s.len));
    phi_json_free(doc);
}

int main(void)
{
    json_writer_init(&w);

    check_string("plain", 5, "\"plain\"", "plain");
    check_string("", 0, "\"\"", "");
    check_string("q\"b\\s/", 6, "\"q\\\"b\\\\s/\"", "q\"b\\s/");
    check_string("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"", "\n\r\t\b\f");
    check_string("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"", "\x01\x1f\x7f");
    check_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\x8a", 14,
                 "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\x8a\"", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\x8a");
    /* Invalid UTF-8: a stray continuation byte, a truncated sequence, an
     * overlong form, a surrogate, a code point above U+10FFFF, a byte that
     * never occurs, and a lead byte at the very end. */
    check_string("a\x80z", 3, "\"a\xef\xbf\xbdz\"", "a\xef\xbf\xbdz");
    check_string("\xe2\x82z", 3, "\"\xef\xbf\xbdz\"", "\xef\xbf\xbdz");
    check_string("\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"", "\xef\xbf\xbd\xef\xbf\xbd");
    check_string("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
                 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    check_string("\xf4\x90\x80\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
                 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    check_string("\xff", 1, "\"\xef\xbf\xbd\"", "\xef\xbf\xbd");
    check_string("ok\xf0\x9f\xa6", 5, "\"ok\xef\xbf\xbd\"", "ok\xef\xbf\xbd");

    /* A NUL byte: written as \u0000 (check_string compares C strings). */
    json_writer_reset(&w);
    json_string(&w, "a\0b", 3);
    CHECK(same("\"a\\u0000b\""));

    /* Nesting, commas, keys, every scalar. */
    json_writer_reset(&w);
    json_begin_object(&w);
    json_key(&w, "a");
    json_begin_array(&w);
    json_int(&w, 1);
    json_int(&w, -9223372036854775807LL - 1);
    json_double(&w, 0.1);
    json_double(&w, 1e300);
    json_double(&w, NAN);
    json_bool(&w, true);
    json_bool(&w, false);
    json_null(&w);
    json_begin_object(&w);
    json_end_object(&w);
    json_begin_array(&w);
    json_end_array(&w);
    json_end_array(&w);
    json_key(&w, "k\"ey");
    json_cstring(&w, "v");
    json_end_object(&w);
    CHECK(same("{\"a\":[1,-9223372036854775808,0.1,1e+300,null,true,false,null,{},[]],"
               "\"k\\\"ey\":\"v\"}"));

    /* Deep nesting up to the limit, then one level too many. */
    json_writer_reset(&w);
    for (int i = 0; i < JSON_WRITER_MAX_DEPTH; i++)
        json_begin_array(&w);
    for (int i = 0; i < JSON_WRITER_MAX_DEPTH; i++)
        json_end_array(&w);
    CHECK(json_writer_ok(&w));
    CHECK_EQ(w.len, 2 * JSON_WRITER_MAX_DEPTH);
    json_writer_reset(&w);
    for (int i = 0; i <= JSON_WRITER_MAX_DEPTH; i++)
        json_begin_array(&w);
    CHECK(!json_writer_ok(&w));

    /* Misuse is caught and sticky: a value where a key belongs, a key in an
     * array, a mismatched end, an unclosed container, a key without value. */
    json_writer_reset(&w);
    json_begin_object(&w);
    json_int(&w, 1);
    json_end_object(&w);
    CHECK(!json_writer_ok(&w));
    json_writer_reset(&w);
    json_begin_array(&w);
    json_key(&w, "k");
    CHECK(!json_writer_ok(&w));
    json_writer_reset(&w);
    json_begin_array(&w);
    json_end_object(&w);
    CHECK(!json_writer_ok(&w));
    json_writer_reset(&w);
    json_begin_object(&w);
    CHECK(!json_writer_ok(&w));
    json_writer_reset(&w);
    json_begin_object(&w);
    json_key(&w, "k");
    json_end_object(&w);
    CHECK(!json_writer_ok(&w));
    /* Reset makes it usable again. */
    json_writer_reset(&w);
    json_begin_array(&w);
    json_end_array(&w);
    CHECK(same("[]"));

    /* A large string grows the buffer. */
    static char big[100000];
    memset(big, 'x', sizeof big);
    json_writer_reset(&w);
    json_string(&w, big, sizeof big);
    CHECK(json_writer_ok(&w));
    CHECK_EQ(w.len, sizeof big + 2);

    json_writer_free(&w);
    return check_report("json_write");
}
