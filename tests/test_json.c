/* The JSON reader: valid documents of every kind, escapes and surrogate
 * pairs, numbers at the int64 and double edges, every class of malformed
 * input (code and message), the depth limit, every truncation of a sample,
 * and every allocation failure. */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "failing_mem.h"
#include "format/json.h"
#include "phi4.h"

static phi_mem mem;

static phi_json *parse_ok(const char *text, size_t len)
{
    phi_json *doc = NULL;
    phi_err err = {0};
    int rc = phi_json_parse(&mem, text, len, &doc, &err);
    if (rc != PHI_OK)
        fprintf(stderr, "unexpected failure on %.60s: %s\n", text, err.msg);
    CHECK_EQ(rc, PHI_OK);
    return doc;
}

static phi_json *parse_str(const char *text) { return parse_ok(text, strlen(text)); }

/* The document must fail with code, and the message must hold phrase. */
static void parse_fails(const char *text, size_t len, int code, const char *phrase)
{
    phi_json *doc = (phi_json *)1;
    phi_err err = {0};
    int rc = phi_json_parse(&mem, text, len, &doc, &err);
    bool ok = rc == code && err.code == code && doc == NULL && strstr(err.msg, phrase) != NULL;
    if (!ok)
        fprintf(stderr, "input %.60s: rc %d, message \"%s\", wanted %d with \"%s\"\n", text, rc, err.msg, code,
                phrase);
    CHECK(ok);
}

static void fails(const char *text, const char *phrase) { parse_fails(text, strlen(text), PHI_E_FORMAT, phrase); }

static bool str_is(const phi_json_value *v, const char *want, size_t len)
{
    phi_str s;
    return phi_json_string(v, &s) && s.len == len && memcmp(s.ptr, want, len) == 0;
}

static void test_kinds(void)
{
    static const struct {
        const char *text;
        phi_json_type type;
    } scalars[] = {{"null", PHI_JSON_NULL}, {"true", PHI_JSON_TRUE},    {"false", PHI_JSON_FALSE},
                   {" 0 ", PHI_JSON_NUMBER}, {"\"\"", PHI_JSON_STRING}, {"\t[ ]\r\n", PHI_JSON_ARRAY},
                   {"{ }", PHI_JSON_OBJECT}};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        phi_json *doc = parse_str(scalars[i].text);
        CHECK_EQ(phi_json_type_of(phi_json_root(doc)), scalars[i].type);
        CHECK_EQ(phi_json_count(phi_json_root(doc)), 0);
        phi_json_free(doc);
    }

    const char *text = "{\"a\": [1, \"two\", {\"b\": null}, [], {}], \"c\": true, \"a\": 2, \"\": false}";
    phi_json *doc = parse_str(text);
    const phi_json_value *root = phi_json_root(doc);
    CHECK_EQ(phi_json_type_of(root), PHI_JSON_OBJECT);
    CHECK_EQ(phi_json_count(root), 4);                       /* duplicate keys are kept */
    const phi_json_value *a = phi_json_member(root, "a");   /* the first "a" */
    CHECK_EQ(phi_json_type_of(a), PHI_JSON_ARRAY);
    CHECK_EQ(phi_json_count(a), 5);
    int64_t i64;
    CHECK(phi_json_int64(phi_json_element(a, 0), &i64) && i64 == 1);
    CHECK(str_is(phi_json_element(a, 1), "two", 3));
    CHECK_EQ(phi_json_type_of(phi_json_member(phi_json_element(a, 2), "b")), PHI_JSON_NULL);
    CHECK_EQ(phi_json_type_of(phi_json_element(a, 3)), PHI_JSON_ARRAY);
    CHECK_EQ(phi_json_type_of(phi_json_element(a, 4)), PHI_JSON_OBJECT);
    CHECK(phi_json_element(a, 5) == NULL);
    bool b;
    CHECK(phi_json_bool(phi_json_member(root, "c"), &b) && b);
    CHECK(phi_json_bool(phi_json_member(root, ""), &b) && !b);
    CHECK(phi_json_member(root, "missing") == NULL);
    CHECK(phi_json_member(a, "a") == NULL);                  /* not an object */
    CHECK(phi_json_element(root, 0) == NULL);                /* not an array */
    phi_str key;
    const phi_json_value *value;
    CHECK(phi_json_member_at(root, 2, &key, &value) && phi_str_eq(key, "a") && phi_json_int64(value, &i64) &&
          i64 == 2);
    CHECK(!phi_json_member_at(root, 4, &key, &value));
    /* Everything takes NULL. */
    CHECK_EQ(phi_json_type_of(phi_json_member(phi_json_member(root, "x"), "y")), PHI_JSON_MISSING);
    CHECK_EQ(phi_json_count(NULL), 0);
    CHECK(!phi_json_int64(NULL, &i64) && !phi_json_bool(phi_json_member(root, "a"), &b));
    CHECK(strcmp(phi_json_kind(phi_json_member(root, "c")), "a boolean") == 0);
    CHECK(strcmp(phi_json_kind(a), "an array") == 0);
    CHECK(strcmp(phi_json_kind(NULL), "missing") == 0);
    phi_json_free(doc);

    /* The document owns its strings: the input may go right after. */
    char *copy = strdup("[\"kept\"]");
    doc = parse_str(copy);
    memset(copy, 'x', strlen(copy));
    free(copy);
    CHECK(str_is(phi_json_element(phi_json_root(doc), 0), "kept", 4));
    phi_json_free(doc);

    /* Not NUL-terminated: only len bytes are read. */
    doc = parse_ok("[1]garbage", 3);
    CHECK_EQ(phi_json_count(phi_json_root(doc)), 1);
    phi_json_free(doc);
}

static void test_strings(void)
{
    static const struct {
        const char *json, *want;
        size_t len;
    } cases[] = {
        {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8},
        {"\"\\u0041\\u00e9\\u20AC\\uFFFF\"", "A\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBF", 9},
        {"\"\\ud83d\\ude00\"", "\xF0\x9F\x98\x80", 4},                 /* surrogate pair */
        {"\"\\uDBFF\\uDFFF\"", "\xF4\x8F\xBF\xBF", 4},                 /* U+10FFFF */
        {"\"\\uD800\\uDC00\"", "\xF0\x90\x80\x80", 4},                 /* U+10000 */
        {"\"a\\u0000b\"", "a\0b", 3},                                  /* NUL inside */
        {"\"h\xC3\xA9llo \xE4\xB8\xAD \xF0\x9F\x98\x80\"", "h\xC3\xA9llo \xE4\xB8\xAD \xF0\x9F\x98\x80", 15},
        {"\"\xEF\xBB\xBF\"", "\xEF\xBB\xBF", 3},                       /* U+FEFF inside a string is fine */
        {"\"\\u002F\\/\"", "//", 2},
        {"\"\x7F\"", "\x7F", 1},                                       /* DEL needs no escape */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        phi_json *doc = parse_str(cases[i].json);
        bool same = str_is(phi_json_root(doc), cases[i].want, cases[i].len);
        if (!same)
            fprintf(stderr, "string case %zu differs\n", i);
        CHECK(same);
        phi_json_free(doc);
    }
    phi_json *doc = parse_str("{\"k\\u0065y\": 1}");
    CHECK(phi_json_member(phi_json_root(doc), "key") != NULL); /* keys are unescaped too */
    phi_json_free(doc);
    doc = parse_str("[\"a\\u0000\", \"ab\", 1]");
    const phi_json_value *root = phi_json_root(doc);
    CHECK(!phi_json_string_is(phi_json_element(root, 0), "a")); /* the NUL counts */
    CHECK(phi_json_string_is(phi_json_element(root, 1), "ab"));
    CHECK(!phi_json_string_is(phi_json_element(root, 1), "a"));
    CHECK(!phi_json_string_is(phi_json_element(root, 2), "1"));
    phi_json_free(doc);
}

static void number_is(const char *text, bool is_int, int64_t want_int, bool is_double, double want_double)
{
    phi_json *doc = parse_str(text);
    const phi_json_value *v = phi_json_root(doc);
    int64_t i = 0;
    double d = 0;
    bool got_int = phi_json_int64(v, &i), got_double = phi_json_double(v, &d);
    bool ok = got_int == is_int && (!is_int || i == want_int) && got_double == is_double &&
              (!is_double || (d == want_double && signbit(d) == signbit(want_double)));
    if (!ok)
        fprintf(stderr, "number %s: int %d %lld, double %d %.17g\n", text, got_int, (long long)i, got_double, d);
    CHECK(ok);
    phi_json_free(doc);
}

static void test_numbers(void)
{
    number_is("0", true, 0, true, 0.0);
    number_is("-0", true, 0, true, -0.0);
    number_is("-0.0e5", true, 0, true, -0.0);
    number_is("42", true, 42, true, 42.0);
    number_is("-17", true, -17, true, -17.0);
    number_is("9223372036854775807", true, INT64_MAX, true, 9223372036854775807.0);
    number_is("-9223372036854775808", true, INT64_MIN, true, -9223372036854775808.0);
    number_is("9223372036854775808", false, 0, true, 9223372036854775808.0);
    number_is("-9223372036854775809", false, 0, true, -9223372036854775809.0);
    number_is("18446744073709551616", false, 0, true, 18446744073709551616.0);
    number_is("92233720368547758070e-1", true, INT64_MAX, true, 9223372036854775807.0);
    number_is("922337203685477580.7e1", true, INT64_MAX, true, 9223372036854775807.0);
    number_is("0.0000000000000000000000000001e28", true, 1, true, 1.0);
    number_is("1.0", true, 1, true, 1.0);
    number_is("1e3", true, 1000, true, 1000.0);
    number_is("1E+3", true, 1000, true, 1000.0);
    number_is("12.50e1", true, 125, true, 125.0);
    number_is("1.5", false, 0, true, 1.5);
    number_is("1e-2", false, 0, true, 0.01);
    number_is("0.1", false, 0, true, 0.1);
    number_is("1e-05", false, 0, true, 1e-05);
    number_is("10000.0", true, 10000, true, 10000.0);
    number_is("2.5e-3", false, 0, true, 0.0025);
    number_is("123456789012345678901234567890", false, 0, true, 123456789012345678901234567890.0);
    number_is("0.12345678901234567890123456789", false, 0, true, 0.12345678901234567890123456789);
    number_is("4.9406564584124654e-324", false, 0, true, 4.9406564584124654e-324);
    number_is("1.7976931348623157e308", false, 0, true, 1.7976931348623157e308);
    number_is("1e400", false, 0, false, 0);           /* beyond double: no reading */
    number_is("-1e400", false, 0, false, 0);
    number_is("1e-400", false, 0, true, 0.0);         /* underflows to zero */
    number_is("1e99999999999999999999", false, 0, false, 0);
    number_is("1e-99999999999999999999", false, 0, true, 0.0);
    number_is("9007199254740993", true, 9007199254740993, true, 9007199254740992.0);

    /* A long numeral takes the heap path of the strtod fallback. */
    char big[400] = "0.";
    memset(big + 2, '3', 300);
    big[302] = '\0';
    number_is(big, false, 0, true, 1.0 / 3);

    phi_json *doc = parse_str("[\"1\", true, null]");
    int64_t i;
    double d;
    CHECK(!phi_json_int64(phi_json_element(phi_json_root(doc), 0), &i));
    CHECK(!phi_json_double(phi_json_element(phi_json_root(doc), 1), &d));
    phi_json_free(doc);
}

/* A caller's LC_NUMERIC must not change numbers (strtod follows it), where
 * a locale with a decimal comma is installed. */
static void test_locale(void)
{
    static const char *const comma_locales[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "de_DE"};
    const char *found = NULL;
    for (size_t i = 0; i < sizeof comma_locales / sizeof comma_locales[0] && !found; i++)
        if (setlocale(LC_NUMERIC, comma_locales[i]) && strcmp(localeconv()->decimal_point, ",") == 0)
            found = comma_locales[i];
    if (!found) {
        setlocale(LC_NUMERIC, "C");
        printf("locale: no decimal-comma locale installed, not checked\n");
        return;
    }
    CHECK(strtod("0.5", NULL) != 0.5); /* the hazard is real here */
    number_is("0.12345678901234567890123456789", false, 0, true, 0.12345678901234567890123456789);
    number_is("9007199254740993.5", false, 0, true, 9007199254740994.0);
    number_is("2.5e300", false, 0, true, 2.5e300);
    number_is("1.5", false, 0, true, 1.5);
    setlocale(LC_NUMERIC, "C");
    printf("locale: numbers read the same under %s\n", found);
}

static void test_malformed(void)
{
    fails("", "expected a value");
    fails(" \n\t ", "line 2, column 3 (byte 4): expected a value");
    fails("[1,]", "expected a value (object, array, string, number, true, false or null), found ']'");
    fails("{\"a\":1,}", "expected a string key after ',', found '}'");
    fails("{a:1}", "expected a string key or '}', found 'a'");
    fails("{\"a\" 1}", "expected ':' after an object key, found '1'");
    fails("{\"a\"}", "expected ':' after an object key, found '}'");
    fails("{\"a\":}", "expected a value");
    fails("[1 2]", "expected ',' or ']' after an array element, found '2'");
    fails("{\"a\":1 \"b\":2}", "expected ',' or '}' after an object member, found '\"'");
    fails("[1,2", "expected ',' or ']' after an array element, found the end of the input");
    fails("[", "expected a value");
    fails("{", "expected a string key or '}', found the end of the input");
    fails("[}", "expected a value");
    fails("{]", "expected a string key or '}', found ']'");
    fails("[1}", "expected ',' or ']'");
    fails("01", "leading zeros are not allowed");
    fails("-01", "leading zeros are not allowed");
    fails("[00]", "leading zeros are not allowed");
    fails("-", "expected a digit after '-', found the end of the input");
    fails("-a", "expected a digit after '-', found 'a'");
    fails("1.", "expected a digit after the decimal point");
    fails("1.e5", "expected a digit after the decimal point");
    fails("1e", "expected a digit in the exponent");
    fails("1e+", "expected a digit in the exponent");
    fails("+1", "expected a value");
    fails(".5", "expected a value");
    fails("NaN", "expected a value");
    fails("Infinity", "expected a value");
    fails("tru", "invalid literal (expected 'true')");
    fails("nul", "invalid literal (expected 'null')");
    fails("falsy", "invalid literal (expected 'false')");
    fails("True", "expected a value");
    fails("truex", "expected the end of the input after the value, found 'x'");
    fails("'x'", "expected a value");
    fails("\"abc", "byte 0): unterminated string");
    fails("\"abc\\", "invalid escape: a backslash followed by the end of the input");
    fails("\"a\x01\"", "control character 0x01 in a string");
    fails("\"a\nb\"", "control character 0x0A in a string");
    fails("\"\\x\"", "invalid escape: a backslash followed by 'x'");
    fails("\"\\U0041\"", "invalid escape");
    fails("\"\\", "invalid escape: a backslash followed by the end of the input");
    fails("\"\\u12G4\"", "expected four hex digits after \\u, found 'G'");
    fails("\"\\u12", "expected four hex digits after \\u, found the end of the input");
    fails("\"\\ud800\"", "unpaired high surrogate \\uD800");
    fails("\"\\ud800\\u0041\"", "unpaired high surrogate");
    fails("\"\\ud800\\ud800\"", "unpaired high surrogate");
    fails("\"\\udbff\\n\"", "unpaired high surrogate");
    fails("\"\\udc00\"", "lone low surrogate \\uDC00");
    fails("\"\\udfff\\ud800\"", "lone low surrogate");
    fails("\"\xFF\"", "invalid UTF-8 (byte 0xFF) in a string");
    fails("\"\xC0\xAF\"", "invalid UTF-8 (byte 0xC0)");         /* overlong */
    fails("\"\xE0\x80\xAF\"", "invalid UTF-8");                 /* overlong */
    fails("\"\xED\xA0\x80\"", "invalid UTF-8 (byte 0xED)");     /* encoded surrogate */
    fails("\"\xE2\x82\"", "invalid UTF-8");                     /* truncated */
    fails("\"\xF4\x90\x80\x80\"", "invalid UTF-8");             /* above U+10FFFF */
    fails("\"\x80\"", "invalid UTF-8 (byte 0x80)");             /* stray continuation */
    fails("[1] x", "expected the end of the input after the value, found 'x'");
    fails("{} {}", "expected the end of the input after the value, found '{'");
    fails("1 2", "expected the end of the input");
    fails("\xEF\xBB\xBF{}", "a byte order mark (EF BB BF) is not allowed");
    fails("// c\n1", "expected a value");
    fails("/* c */ 1", "expected a value");
    fails("[1,\n 2,\n x]", "line 3, column 2 (byte 9): expected a value");
    fails("\x0C" "1", "expected a value (object, array, string, number, true, false or null), found byte 0x0C");  /* form feed is not JSON white space */
    fails("\xC2\xA0" "1", "found byte 0xC2");                /* nor is U+00A0 */
    parse_fails("[\"a\"\0]", 6, PHI_E_FORMAT, "found byte 0x00");
    parse_fails("\"a\0b\"", 5, PHI_E_FORMAT, "control character 0x00");
    parse_fails(NULL, 1, PHI_E_INVALID_ARG, "no text");
    parse_fails(NULL, 0, PHI_E_FORMAT, "expected a value, found the end of the input");
}

static void test_depth(void)
{
    size_t n = PHI_JSON_MAX_DEPTH;
    char *text = malloc(2 * n + 2);
    for (size_t i = 0; i < n; i++)
        text[i] = '[', text[2 * n - 1 - i] = ']';
    phi_json *doc = parse_ok(text, 2 * n);
    const phi_json_value *v = phi_json_root(doc);
    size_t depth = 0;
    for (; phi_json_type_of(v) == PHI_JSON_ARRAY; v = phi_json_element(v, 0))
        depth++;
    CHECK_EQ(depth, n);
    phi_json_free(doc);

    /* One more level: refused, at the bracket that opens it. */
    memmove(text + 1, text, 2 * n);
    text[0] = '[', text[2 * n + 1] = ']';
    char phrase[64];
    snprintf(phrase, sizeof phrase, "(byte %zu): nesting deeper than 512 levels", n);
    parse_fails(text, 2 * n + 2, PHI_E_FORMAT, phrase);
    free(text);

    /* Objects count too, and a million open brackets fail fast, not by
     * overflowing the C stack. */
    size_t big = 1000000;
    text = malloc(6 * big);
    for (size_t i = 0; i < big; i++)
        memcpy(text + 6 * i, "{\"a\":[", 6);
    parse_fails(text, 6 * big, PHI_E_FORMAT, "nesting deeper than 512 levels");
    free(text);
}

/* A document with every kind of value; every proper prefix must fail
 * cleanly (a prefix of a top-level object is never complete). */
static const char sample[] =
    "{\"name\": \"Phi \\u00e9\\ud83d\\ude00\\n\", \"n\": [0, -1.5e+3, 9223372036854775807, 1E-2, true, false, null],\n"
    " \"nested\": {\"a\": [[], {}], \"b\": {\"c\": [\"x\", \"\\\\\"]}}, \"utf8\": \"\xE4\xB8\xAD\xF0\x9F\x98\x80\"}";

static void test_truncations(void)
{
    size_t len = strlen(sample), failed = 0;
    for (size_t cut = 0; cut < len; cut++) {
        phi_json *doc = (phi_json *)1;
        phi_err err = {0};
        int rc = phi_json_parse(&mem, sample, cut, &doc, &err);
        bool ok = rc == PHI_E_FORMAT && doc == NULL && strstr(err.msg, "JSON: line ") != NULL;
        if (!ok)
            fprintf(stderr, "prefix of %zu bytes: rc %d (%s)\n", cut, rc, err.msg);
        failed += ok;
    }
    printf("truncations: %zu/%zu prefixes of the sample rejected\n", failed, len);
    CHECK_EQ(failed, len);
    phi_json *doc = parse_ok(sample, len);
    CHECK(str_is(phi_json_member(phi_json_root(doc), "name"), "Phi \xC3\xA9\xF0\x9F\x98\x80\n", 11));
    phi_json_free(doc);
}

/* A document that needs every kind of allocation: a value stack that grows,
 * several node blocks and one block of its own, and a numeral long enough
 * for the heap path of the number fallback. */
static char *allocation_sample(size_t *len)
{
    size_t cap = 1 << 20, n = 0;
    char *text = malloc(cap);
    n += (size_t)snprintf(text + n, cap - n, "{\"big\": [");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(text + n, cap - n, "%s[%d, \"s%d\"]", i ? "," : "", i, i);
    n += (size_t)snprintf(text + n, cap - n, "], \"long\": 0.");
    memset(text + n, '7', 200);
    n += 200;
    n += (size_t)snprintf(text + n, cap - n, "}");
    *len = n;
    return text;
}

static void test_allocation_failures(void)
{
    size_t len;
    char *text = allocation_sample(&len);
    failing_mem f;
    long n, failures = 0;
    bool done = false;
    for (n = 1; !done; n++) {
        phi_mem failing = failing_mem_arm(&f, n);
        phi_json *doc = (phi_json *)1;
        phi_err err = {0};
        int rc = phi_json_parse(&failing, text, len, &doc, &err);
        if (rc == PHI_OK) {
            done = true;
            CHECK(f.calls < n); /* nothing left to fail */
            CHECK_EQ(phi_json_count(phi_json_member(phi_json_root(doc), "big")), 5000);
            phi_json_free(doc);
        } else {
            failures++;
            CHECK(rc == PHI_E_NOMEM && err.code == PHI_E_NOMEM && doc == NULL);
            CHECK(strstr(err.msg, "out of memory") != NULL);
        }
        CHECK_EQ(f.live, 0);
    }
    printf("allocation failures: %ld failure points, each PHI_E_NOMEM without a leak\n", failures);
    CHECK(failures >= 8); /* document, parser, strings, stack and its growth, node blocks, numeral */
    free(text);
}

int main(void)
{
    phi_mem_init_default(&mem);
    test_kinds();
    test_strings();
    test_numbers();
    test_locale();
    test_malformed();
    test_depth();
    test_truncations();
    test_allocation_failures();
    return check_report("test_json");
}
