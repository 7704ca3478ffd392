/* Tokenizer tests against fixtures made by js-tiktoken, the reference
 * (tools/tokenizer-fixtures/gen_fixtures.js): every corpus string must encode
 * to exactly the reference ids, and everything must round-trip.
 * Usage: test_tokenizer FIXTURE_DIR */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "failing_mem.h"
#include "core/mem.h"
#include "phi4.h"
#include "text/tokenizer.h"
#include "text/unicode.h"
#include "text/utf8_stream.h"
#include "tokenizer_corpus.h"

static phi_mem mem;

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next_random(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
    return (uint32_t)(rng >> 16);
}

static bool valid_utf8(const uint8_t *s, size_t n)
{
    for (size_t i = 0, len; i < n; i += len)
        if (phi_utf8_decode(s + i, n - i, &len) == PHI_UTF8_INVALID)
            return false;
    return true;
}

/* Stream bytes through phi_utf8_stream in pieces cut at random points. */
static uint8_t *stream_text(const uint8_t *bytes, size_t n, bool random_splits, size_t *out_len)
{
    uint8_t *out = malloc(PHI_UTF8_STREAM_MAX_OUT(n));
    phi_utf8_stream s;
    phi_utf8_stream_init(&s);
    size_t w = 0;
    for (size_t at = 0; at < n;) {
        size_t step = random_splits ? 1 + next_random() % 5 : n;
        if (step > n - at)
            step = n - at;
        w += phi_utf8_stream_feed(&s, bytes + at, step, out + w);
        at += step;
    }
    w += phi_utf8_stream_flush(&s, out + w);
    *out_len = w;
    return out;
}

/* ---- tests ---- */

static void test_streaming(const phi_tokenizer *t)
{
    corpus c;
    load_corpus(&c, "corpus.txt");
    size_t same = 0, tested = 0;
    for (size_t i = 0; i < c.n; i += 7) {
        size_t n, len, whole_len, split_len;
        int32_t *ids = encode(t, c.items[i].ptr, c.items[i].len, false, &n);
        uint8_t *bytes = decode(t, ids, n, &len);
        uint8_t *whole = stream_text(bytes, len, false, &whole_len);
        /* Feed token by token too, as generation does. */
        uint8_t *split = stream_text(bytes, len, true, &split_len);
        same += whole_len == split_len && memcmp(whole, split, whole_len) == 0 &&
                whole_len == c.items[i].len && memcmp(whole, c.items[i].ptr, whole_len) == 0;
        tested++;
        free(ids), free(bytes), free(whole), free(split);
    }
    printf("streaming decode: %zu/%zu random splittings equal the whole text\n", same, tested);
    CHECK_EQ(same, tested);
    free_corpus(&c);

    /* Ill-formed input: replaced, never passed on, independent of splits. */
    static const struct { const char *in, *out; } cases[] = {
        {"a\x80z", "a\xEF\xBF\xBDz"},
        {"\xE2\x82", "\xEF\xBF\xBD"},                          /* truncated at the end */
        {"\xE2\x82z", "\xEF\xBF\xBDz"},                         /* one maximal subpart */
        {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate */
        {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},                /* overlong */
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xF0\x9F\x98", "\xEF\xBF\xBD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int split = 0; split < 2; split++) {
            size_t len;
            uint8_t *out = stream_text((const uint8_t *)cases[i].in, strlen(cases[i].in), split, &len);
            CHECK(len == strlen(cases[i].out) && memcmp(out, cases[i].out, len) == 0);
            free(out);
        }
    }
}

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (unsigned v; sscanf(hex, "%2x", &v) == 1 && hex[0] != ' '; hex += 2)
        out[n++] = (uint8_t)v;
    return n;
}

/* The replacement rule against TextDecoder's, for whole and split feeds. */
static void test_replacement_like_text_decoder(void)
{
    size_t len;
    char *text = read_file("utf8_replacement.txt", &len), *p = text;
    size_t same = 0, tested = 0;
    while (*p) {
        char *line = next_line(&p), *space = strchr(line, ' ');
        uint8_t in[64], want[256];
        size_t n_in = unhex(line, in), n_want = unhex(space + 1, want);
        for (int split = 0; split < 2; split++) {
            size_t n_got;
            uint8_t *got = stream_text(in, n_in, split, &n_got);
            same += n_got == n_want && memcmp(got, want, n_got) == 0;
            tested++;
            free(got);
        }
    }
    printf("U+FFFD replacement: %zu/%zu byte strings stream like TextDecoder\n", same, tested);
    CHECK_EQ(same, tested);
    free(text);
}

static void test_specials(const phi_tokenizer *t, const char *text, int32_t id)
{
    size_t n;
    int32_t *ids = encode(t, text, strlen(text), true, &n);
    CHECK(n == 1 && ids[0] == id);
    free(ids);
    ids = encode(t, text, strlen(text), false, &n);
    CHECK(n > 1);
    for (size_t i = 0; i < n; i++)
        CHECK(ids[i] != id);
    free(ids);
}

/* Hugging Face's rstrip/lstrip (the Phi-4-mini role tokens have rstrip):
 * White_Space next to the matched token goes with it, and only when the
 * token is matched as a special one. */
static void test_strip(const vocab_file *v, int32_t rstrip_id, int32_t lstrip_id)
{
    uint8_t *attrs = calloc((size_t)v->desc.n_tokens, 1);
    attrs[rstrip_id] = PHI_TOKEN_ATTR_RSTRIP;
    attrs[lstrip_id] = PHI_TOKEN_ATTR_LSTRIP;
    phi_vocab_desc d = v->desc;
    d.attrs = attrs;
    phi_tokenizer *t;
    phi_err err = {0};
    CHECK_EQ(phi_tokenizer_new(&mem, &d, &t, &err), PHI_OK);
    free(attrs);
    if (!t)
        return;
    CHECK(same_ids(t, "<|user|>\n \t Hi", "<|user|>Hi", true));
    CHECK(same_ids(t, "<|user|>\xe3\x80\x80\xc2\x85Hi", "<|user|>Hi", true));  /* U+3000, U+0085 */
    CHECK(!same_ids(t, "<|user|>\xef\xbb\xbfHi", "<|user|>Hi", true));         /* U+FEFF is not White_Space */
    CHECK(same_ids(t, "<|user|> ", "<|user|>", true));
    CHECK(same_ids(t, "Hi \n\xe3\x80\x80<|end|>x", "Hi<|end|>x", true));
    CHECK(same_ids(t, "  <|end|>", "<|end|>", true));
    CHECK(!same_ids(t, "Hi<|end|> x", "Hi<|end|>x", true));                       /* lstrip only */
    CHECK(!same_ids(t, "Hi <|user|>", "Hi<|user|>", true));                       /* rstrip only */
    size_t n;
    int32_t *cut = encode(t, "<|user|>\xe3\x80", 10, true, &n);         /* truncated U+3000: kept */
    CHECK(n >= 2 && cut[0] == 200021);
    free(cut);
    int32_t *plain = encode(t, "<|user|> Hi", 11, false, &n);
    CHECK(n > 3);                                                         /* no special, no strip */
    free(plain);
    phi_tokenizer_free(t);
}

/* User-defined tokens (GGUF type 4: Hugging Face's non-special added
 * tokens, such as Phi-4-mini's tool markers) are matched whether or not
 * special tokens are parsed; control tokens only when they are. */
static void test_user_defined(const vocab_file *v, int32_t user_id, int32_t control_id)
{
    int32_t *types = malloc((size_t)v->desc.n_tokens * sizeof *types);
    memcpy(types, v->desc.types, (size_t)v->desc.n_tokens * sizeof *types);
    types[user_id] = PHI_TOKEN_USER_DEFINED;
    phi_vocab_desc d = v->desc;
    d.types = types;
    phi_tokenizer *t;
    phi_err err = {0};
    CHECK_EQ(phi_tokenizer_new(&mem, &d, &t, &err), PHI_OK);
    free(types);
    if (!t)
        return;
    const uint8_t *user, *control;
    size_t user_len, control_len;
    phi_tokenizer_piece(t, user_id, &user, &user_len);
    phi_tokenizer_piece(t, control_id, &control, &control_len);
    char text[128];
    int len = snprintf(text, sizeof text, "x%.*s y %.*s", (int)user_len, (const char *)user,
                       (int)control_len, (const char *)control);
    for (int special = 0; special < 2; special++) {
        size_t n;
        int32_t *ids = encode(t, text, (size_t)len, special, &n);
        bool has_user = false, has_control = false;
        for (size_t i = 0; i < n; i++)
            has_user |= ids[i] == user_id, has_control |= ids[i] == control_id;
        CHECK(has_user);
        CHECK(has_control == (special == 1));
        free(ids);
    }
    phi_tokenizer_free(t);
}

static void test_buffer_too_small(const phi_tokenizer *t)
{
    const char *text = "Hello, world! How's it going?";
    size_t n_all, n;
    int32_t *all = encode(t, text, strlen(text), false, &n_all);
    int32_t some[4];
    phi_err err = {0};
    CHECK_EQ(phi_tokenizer_encode(t, text, strlen(text), false, NULL, 0, &n, &err), PHI_E_BUFFER_TOO_SMALL);
    CHECK_EQ(n, n_all);
    CHECK_EQ(phi_tokenizer_encode(t, text, strlen(text), false, some, 4, &n, &err), PHI_E_BUFFER_TOO_SMALL);
    CHECK_EQ(n, n_all);
    CHECK(memcmp(some, all, sizeof some) == 0);
    uint8_t bytes[8];
    CHECK_EQ(phi_tokenizer_decode(t, all, n_all, bytes, sizeof bytes, &n, &err), PHI_E_BUFFER_TOO_SMALL);
    CHECK_EQ(n, strlen(text));
    int32_t bad = (int32_t)phi_tokenizer_n_tokens(t);
    CHECK_EQ(phi_tokenizer_decode(t, &bad, 1, bytes, sizeof bytes, &n, &err), PHI_E_INVALID_ARG);
    const uint8_t *piece;
    size_t len;
    CHECK_EQ(phi_tokenizer_piece(t, -1, &piece, &len), PHI_E_INVALID_ARG);
    CHECK_EQ(phi_tokenizer_piece(t, bad, &piece, &len), PHI_E_INVALID_ARG);
    free(all);
}

/* Random bytes, mostly not UTF-8: must encode, and decode to the same. */
static void test_invalid_utf8(const phi_tokenizer *t, const char *vocab)
{
    size_t ok = 0, tried = 0;
    static const char *alphabet[] = {"\x80", "\xff", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xed\xa0\x80",
                                     "\xc0\xaf", "a", " ", "'s", "\n", "\xc3\xa9", "1", "<|endoftext|>",
                                     "<|im_start|>", "<|end|>", "<|", "\r\n", "\xe4\xb8\xad"};
    for (int round = 0; round < 3000; round++) {
        uint8_t buf[256];
        size_t len = 0, target = next_random() % 200;
        while (len < target) {
            if (next_random() % 3 == 0) {
                buf[len++] = (uint8_t)next_random();
            } else {
                const char *a = alphabet[next_random() % (sizeof alphabet / sizeof alphabet[0])];
                size_t n = strlen(a);
                if (len + n > sizeof buf)
                    break;
                memcpy(buf + len, a, n);
                len += n;
            }
        }
        for (int special = 0; special < 2; special++) {
            size_t n, back_len, text_len;
            int32_t *ids = encode(t, (const char *)buf, len, special, &n);
            uint8_t *back = decode(t, ids, n, &back_len);
            ok += back_len == len && memcmp(back, buf, len) == 0;
            uint8_t *text = stream_text(back, back_len, true, &text_len);
            CHECK(valid_utf8(text, text_len));
            tried++;
            free(ids), free(back), free(text);
        }
    }
    printf("%s invalid UTF-8: %zu/%zu random byte strings round-trip\n", vocab, ok, tried);
    CHECK_EQ(ok, tried);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_unsupported(const vocab_file *v)
{
    phi_vocab_desc d = v->desc;
    d.pre = (phi_str){"qwen2", 5};
    phi_tokenizer *t;
    phi_err err = {0};
    CHECK_EQ(phi_tokenizer_new(&mem, &d, &t, &err), PHI_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "'qwen2'") != NULL);
    CHECK(t == NULL);
}

static void test_allocation_failures(const vocab_file *v)
{
    failing_mem f;
    int failures = 0;
    for (long n = 1;; n++) {
        phi_mem failing = failing_mem_arm(&f, n);
        phi_tokenizer *t = NULL;
        phi_err err = {0};
        int rc = phi_tokenizer_new(&failing, &v->desc, &t, &err);
        if (rc == PHI_OK) {
            size_t n_ids;
            int32_t ids[64];
            f.fail_at = f.calls + 1; /* encode's scratch cannot be had either */
            CHECK_EQ(phi_tokenizer_encode(t, "hello world", 11, false, ids, 64, &n_ids, &err), PHI_E_NOMEM);
            phi_tokenizer_free(t);
            CHECK_EQ(f.live, 0);
            break;
        }
        CHECK_EQ(rc, PHI_E_NOMEM);
        CHECK(t == NULL);
        CHECK_EQ(f.live, 0);
        failures++;
    }
    printf("allocation failures: %d failure points handled\n", failures);
    CHECK(failures > 0);
}

static void run_vocab(const char *name, const char *vocab_file_name, const char *specials[],
                      const int32_t special_ids[], size_t n_specials)
{
    vocab_file v;
    load_vocab(&v, vocab_file_name);
    phi_tokenizer *t;
    phi_err err = {0};
    double t0 = now();
    int rc = phi_tokenizer_new(&mem, &v.desc, &t, &err);
    if (rc != PHI_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        CHECK_EQ(rc, PHI_OK);
        free_vocab(&v);
        return;
    }
    printf("%s: built from %lld tokens and %lld merges in %.3f s\n", name, (long long)v.desc.n_tokens,
           (long long)v.desc.n_merges, now() - t0);
    char expected_name[64];
    snprintf(expected_name, sizeof expected_name, "%s.expected", name);
    test_corpus(t, name, "corpus.txt", expected_name, false, NULL);
    snprintf(expected_name, sizeof expected_name, "%s.special.expected", name);
    test_corpus(t, name, "corpus_special.txt", expected_name, true, NULL);
    for (size_t i = 0; i < n_specials; i++)
        test_specials(t, specials[i], special_ids[i]);
    test_buffer_too_small(t);
    test_invalid_utf8(t, name);
    test_streaming(t);
    test_unsupported(&v);
    if (strcmp(name, "cl100k") == 0)
        test_allocation_failures(&v);
    else
        test_strip(&v, 200021 /* <|user|> */, 200020 /* <|end|> */);
    test_user_defined(&v, special_ids[n_specials - 2], special_ids[1]);
    phi_tokenizer_free(t);
    free_vocab(&v);
}

int main(int argc, char **argv)
{
    fixture_dir = argc > 1 ? argv[1] : "tests/fixtures/tokenizer";
    phi_mem_init_default(&mem);
    static const char *phi4_specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|im_sep|>",
                                          "<|endofprompt|>", "<|dummy_85|>"};
    static const int32_t phi4_ids[] = {100257, 100264, 100265, 100266, 100276, 100349};
    static const char *mini_specials[] = {"<|endoftext|>", "<|end|>", "<|user|>", "<|assistant|>",
                                          "<|tool_call|>", "<|tag|>"};
    static const int32_t mini_ids[] = {199999, 200020, 200021, 200019, 200025, 200028};
    run_vocab("cl100k", "cl100k.vocab", phi4_specials, phi4_ids, 6);
    run_vocab("o200k", "o200k.vocab", mini_specials, mini_ids, 6);
    test_replacement_like_text_decoder();
    return check_report("test_tokenizer");
}
