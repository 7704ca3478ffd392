/* Chat formats and the generated-text stream:
 *  - every conversation of tests/fixtures/chat/expected.txt, rendered there by
 *    Jinja2 from the family's chat templates (tools/chat-fixtures), comes out
 *    byte for byte, with the format detected from the template itself;
 *  - hand-written exact strings for what Jinja cannot express (flags);
 *  - chat tokens equal tokenizing the whole prompt at once (as Hugging Face
 *    does), including rstrip on Phi-4-mini's role tokens, while text inside
 *    messages never becomes a special token;
 *  - the text stream splits <think>...</think> from the answer the same way
 *    however the text is cut into tokens, and emits only valid UTF-8.
 * Usage: test_chat FIXTURE_DIR (tests/fixtures) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/mem.h"
#include "phi4.h"
#include "test_rand.h"
#include "text/chat.h"
#include "text/text_stream.h"
#include "text/unicode.h"
#include "text/tokenizer.h"
#include "vocab_fixture.h"

static phi_mem mem;

/* ---- rendering ---------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void buf_put(buf *b, const char *s, size_t len)
{
    if (b->n + len + 1 > b->cap) {
        b->cap = (b->n + len + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static int to_buf(void *user, const char *text, size_t len, bool markers)
{
    (void)markers;
    buf_put(user, text, len);
    return 0;
}

/* The rendered prompt (malloc'd), or NULL with *rc set. */
static char *render(int format, const phi_chat_message *m, size_t n, const char *tools,
                    uint32_t flags, int *rc)
{
    buf b = {malloc(1), 0, 1};
    b.p[0] = 0;
    phi_err err = {0};
    *rc = phi_chat_render(format, m, n, tools, flags, to_buf, &b, &err);
    if (*rc != PHI_OK) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static void check_render(int format, const phi_chat_message *m, size_t n, const char *tools,
                         uint32_t flags, const char *expect)
{
    int rc;
    char *got = render(format, m, n, tools, flags, &rc);
    CHECK_EQ(rc, PHI_OK);
    CHECK(got && strcmp(got, expect) == 0);
    if (got && strcmp(got, expect) != 0)
        fprintf(stderr, "  got:    %s\n  expect: %s\n", got, expect);
    free(got);
}

/* ---- the Jinja2 fixtures ----------------------------------------------- */

typedef struct fixture_case {
    int add_assistant;
    phi_chat_message msgs[8];
    size_t n;
    char *tools;
    char *expect;
} fixture_case;

/* "TAG LEN\n<LEN bytes>\n": the bytes (NUL-terminated in place), tag in tag. */
static char *record(char **p, char *tag, size_t tag_cap)
{
    char *line = next_line(p);
    char *sp = strrchr(line, ' ');
    if (!sp) {
        fprintf(stderr, "chat fixture: bad record '%s'\n", line);
        exit(2);
    }
    size_t len = strtoul(sp + 1, NULL, 10);
    snprintf(tag, tag_cap, "%.*s", (int)(sp - line), line);
    char *data = *p;
    data[len] = 0;
    *p = data + len + 1;
    return data;
}

static const struct {
    const char *name;
    int format;
} template_formats[] = {
    {"phi4", PHI_CHAT_FORMAT_PHI4},
    {"phi4-reasoning", PHI_CHAT_FORMAT_PHI4_REASONING},
    {"phi4-mini", PHI_CHAT_FORMAT_PHI4_MINI},
    {"phi4-mini-reasoning", PHI_CHAT_FORMAT_PHI4_MINI_REASONING},
};

/* Calls fn for every fixture case with the format its template names. */
static void for_each_fixture(void (*fn)(int format, const fixture_case *c, void *user), void *user)
{
    size_t len;
    char *text = read_file("chat/expected.txt", &len), *p = text;
    int format = -1;
    while (p < text + len) {
        char tag[64];
        if (strncmp(p, "template ", 9) == 0) {
            char *tmpl = record(&p, tag, sizeof tag);
            format = phi_chat_detect(tmpl, strlen(tmpl));
            int want = -2;
            for (size_t i = 0; i < sizeof template_formats / sizeof template_formats[0]; i++)
                if (strcmp(tag + 9, template_formats[i].name) == 0)
                    want = template_formats[i].format;
            CHECK_EQ(format, want);
            continue;
        }
        fixture_case c = {0};
        long tools_len;
        if (sscanf(next_line(&p), "case %d %zu %ld", &c.add_assistant, &c.n, &tools_len) != 3 ||
            c.n > 8) {
            fprintf(stderr, "chat fixture: bad case line\n");
            exit(2);
        }
        if (tools_len >= 0) {
            c.tools = p;
            p[tools_len] = 0;
            p += tools_len + 1;
        }
        for (size_t i = 0; i < c.n; i++) {
            char *content = record(&p, tag, sizeof tag);
            c.msgs[i].role = strdup(tag);
            c.msgs[i].content = content;
        }
        c.expect = record(&p, tag, sizeof tag);
        fn(format, &c, user);
        for (size_t i = 0; i < c.n; i++)
            free((char *)c.msgs[i].role);
    }
    free(text);
}

static void check_fixture(int format, const fixture_case *c, void *user)
{
    size_t *count = user;
    check_render(format, c->msgs, c->n, c->tools, c->add_assistant ? PHI_CHAT_ADD_ASSISTANT : 0,
                 c->expect);
    (*count)++;
}

/* ---- hand-written strings, flags and errors ---------------------------- */

static void test_exact_strings(void)
{
    const phi_chat_message hello[] = {{"system", "You are a helpful assistant."}, {"user", "Hello"}};
    check_render(PHI_CHAT_FORMAT_PHI4, hello, 2, NULL, PHI_CHAT_ADD_ASSISTANT,
                 "<|im_start|>system<|im_sep|>You are a helpful assistant.<|im_end|>"
                 "<|im_start|>user<|im_sep|>Hello<|im_end|><|im_start|>assistant<|im_sep|>");
    check_render(PHI_CHAT_FORMAT_PHI4_MINI, hello, 2, NULL, PHI_CHAT_ADD_ASSISTANT,
                 "<|system|>You are a helpful assistant.<|end|><|user|>Hello<|end|><|assistant|>");
    check_render(PHI_CHAT_FORMAT_PHI4_MINI, hello + 1, 1, "[{\"name\": \"f\"}]", 0,
                 "<|system|><|tool|>[{\"name\": \"f\"}]<|/tool|><|end|><|user|>Hello<|end|>"
                 "<|endoftext|>");
    check_render(PHI_CHAT_FORMAT_PHI4_MINI_REASONING, hello + 1, 1, NULL, PHI_CHAT_ADD_ASSISTANT,
                 "<|system|>Your name is Phi, an AI math expert developed by Microsoft.<|end|>"
                 "<|user|>Hello<|end|><|assistant|>");
    /* PHI_CHAT_NO_DEFAULT_SYSTEM: the reasoning formats become the plain ones. */
    check_render(PHI_CHAT_FORMAT_PHI4_MINI_REASONING, hello + 1, 1, NULL,
                 PHI_CHAT_ADD_ASSISTANT | PHI_CHAT_NO_DEFAULT_SYSTEM,
                 "<|user|>Hello<|end|><|assistant|>");
    check_render(PHI_CHAT_FORMAT_PHI4_REASONING, hello + 1, 1, NULL,
                 PHI_CHAT_ADD_ASSISTANT | PHI_CHAT_NO_DEFAULT_SYSTEM,
                 "<|im_start|>user<|im_sep|>Hello<|im_end|><|im_start|>assistant<|im_sep|>");
    int rc;
    char *r = render(PHI_CHAT_FORMAT_PHI4_REASONING, hello + 1, 1, NULL, PHI_CHAT_ADD_ASSISTANT, &rc);
    CHECK(r && strncmp(r, "<|im_start|>system<|im_sep|>You are Phi, a language model trained by "
                          "Microsoft to help users.", 91) == 0);
    CHECK(r && strstr(r, "<think> {Thought section} </think>") != NULL);
    CHECK(r && strstr(r, "through the above guidelines:<|im_end|><|im_start|>user<|im_sep|>Hello"));
    free(r);
}

static void check_error(int format, const phi_chat_message *m, size_t n, const char *tools,
                        uint32_t flags, int want, const char *phrase)
{
    phi_err err = {0};
    buf b = {NULL, 0, 0};
    int rc = phi_chat_render(format, m, n, tools, flags, to_buf, &b, &err);
    CHECK_EQ(rc, want);
    CHECK(strstr(err.msg, phrase) != NULL);
    if (!strstr(err.msg, phrase))
        fprintf(stderr, "  message: %s\n", err.msg);
    CHECK_EQ(b.n, (size_t)0); /* nothing written before the check */
    free(b.p);
}

static void test_errors(void)
{
    const phi_chat_message tool[] = {{"tool", "{}"}};
    const phi_chat_message bad_role[] = {{"user", "a"}, {"narrator", "b"}};
    const phi_chat_message null_content[] = {{"user", NULL}};
    const phi_chat_message null_role[] = {{NULL, "x"}};
    const phi_chat_message bad_utf8[] = {{"user", "caf\xc3"}};
    const phi_chat_message ok[] = {{"user", "a"}};
    check_error(PHI_CHAT_FORMAT_PHI4, tool, 1, NULL, 0, PHI_E_INVALID_ARG, "role 'tool'");
    check_error(PHI_CHAT_FORMAT_PHI4_MINI, bad_role, 2, NULL, 0, PHI_E_INVALID_ARG, "message 1");
    check_error(PHI_CHAT_FORMAT_PHI4, null_content, 1, NULL, 0, PHI_E_INVALID_ARG, "NULL content");
    check_error(PHI_CHAT_FORMAT_PHI4, null_role, 1, NULL, 0, PHI_E_INVALID_ARG, "NULL role");
    check_error(PHI_CHAT_FORMAT_PHI4, bad_utf8, 1, NULL, 0, PHI_E_INVALID_ARG, "not valid UTF-8");
    check_error(PHI_CHAT_FORMAT_PHI4, ok, 1, "[]", 0, PHI_E_UNSUPPORTED, "tool definitions");
    check_error(PHI_CHAT_FORMAT_PHI4_MINI, ok, 1, "\xff", 0, PHI_E_INVALID_ARG, "tool definitions");
    check_error(PHI_CHAT_FORMAT_AUTO, ok, 1, NULL, 0, PHI_E_INVALID_ARG, "unknown chat format");
    check_error(PHI_CHAT_FORMAT_PHI4, ok, 1, NULL, 0x80, PHI_E_INVALID_ARG, "unknown flags");
    check_error(PHI_CHAT_FORMAT_PHI4, NULL, 1, NULL, 0, PHI_E_INVALID_ARG, "messages is NULL");
}

static void test_detection(void)
{
    /* The first Phi-4 hub template (user turns open the assistant turn). */
    const char *phi4_original =
        "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system"
        "<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}"
        "{{'<|im_start|>user<|im_sep|>' + message['content'] + '<|im_end|><|im_start|>assistant"
        "<|im_sep|>'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + "
        "'<|im_end|>'}}{% endif %}{% endfor %}";
    const char *llama3 =
        "{% for message in messages %}{{'<|start_header_id|>' + message['role'] + "
        "'<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>'}}{% endfor %}";
    const char *chatml =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
        "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}";
    CHECK_EQ(phi_chat_detect(phi4_original, strlen(phi4_original)), PHI_CHAT_FORMAT_PHI4);
    CHECK_EQ(phi_chat_detect(llama3, strlen(llama3)), PHI_CHAT_FORMAT_AUTO);
    CHECK_EQ(phi_chat_detect(chatml, strlen(chatml)), PHI_CHAT_FORMAT_AUTO); /* no <|im_sep|> */
    CHECK_EQ(phi_chat_detect("", 0), PHI_CHAT_FORMAT_AUTO);
    CHECK_EQ(phi_chat_detect(NULL, 0), PHI_CHAT_FORMAT_AUTO);
}

/* ---- tokens ------------------------------------------------------------- */

typedef struct token_check {
    const phi_tokenizer *t;
    bool mini;
    size_t compared, markup;
} token_check;

static int32_t *encode_all(const phi_tokenizer *t, const char *s, bool special, size_t *n)
{
    size_t len = strlen(s), cap = len + 8;
    int32_t *ids = malloc(cap * sizeof *ids);
    phi_err err = {0};
    CHECK_EQ(phi_tokenizer_encode(t, s, len, special, ids, cap, n, &err), PHI_OK);
    return ids;
}

static bool has_markup(const fixture_case *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (strstr(c->msgs[i].content, "<|") || strstr(c->msgs[i].content, "<think>"))
            return true;
    return false;
}

/* Chat tokens equal the whole prompt tokenized with specials parsed, unless
 * a message contains special-token text, which must then stay text. */
static void check_fixture_tokens(int format, const fixture_case *c, void *user)
{
    token_check *tc = user;
    bool mini = format == PHI_CHAT_FORMAT_PHI4_MINI || format == PHI_CHAT_FORMAT_PHI4_MINI_REASONING;
    if (mini != tc->mini)
        return;
    uint32_t flags = c->add_assistant ? PHI_CHAT_ADD_ASSISTANT : 0;
    size_t n, n_whole;
    phi_err err = {0};
    CHECK_EQ(phi_chat_encode(tc->t, &mem, format, c->msgs, c->n, c->tools, flags, NULL, 0, &n, &err),
             n ? PHI_E_BUFFER_TOO_SMALL : PHI_OK);
    int32_t *ids = malloc((n + 1) * sizeof *ids);
    CHECK_EQ(phi_chat_encode(tc->t, &mem, format, c->msgs, c->n, c->tools, flags, ids, n, &n, &err),
             PHI_OK);
    int32_t *whole = encode_all(tc->t, c->expect, true, &n_whole);
    bool same = n == n_whole && memcmp(ids, whole, n * sizeof *ids) == 0;
    if (!has_markup(c)) {
        CHECK(same);
        if (!same)
            fprintf(stderr, "  chat tokens differ from the whole prompt's: %s\n", c->expect);
        tc->compared++;
    } else {
        CHECK(!same && n > n_whole); /* the markup-like text stayed text */
        tc->markup++;
    }
    free(ids);
    free(whole);
}

static void test_chat_tokens(void)
{
    for (int mini = 0; mini < 2; mini++) {
        phi_tokenizer *t = fixture_tokenizer(&mem, mini ? "tokenizer/o200k.vocab"
                                                         : "tokenizer/cl100k.vocab", mini);
        token_check tc = {t, mini, 0, 0};
        for_each_fixture(check_fixture_tokens, &tc);
        printf("%s: chat tokens of %zu prompts equal whole-prompt tokenization; %zu with markup "
               "text kept it as text\n", mini ? "o200k" : "cl100k", tc.compared, tc.markup);
        CHECK(tc.compared >= 20 && tc.markup >= 2);
        CHECK_EQ(phi_chat_detect_from_vocab(t), mini ? PHI_CHAT_FORMAT_PHI4_MINI : PHI_CHAT_FORMAT_PHI4);
        if (mini) {
            /* rstrip: white space after a role token goes with it, as in the
             * whole prompt; the text tokens start at "Hi". */
            const phi_chat_message m[] = {{"user", " \n Hi"}};
            size_t n;
            phi_err err = {0};
            int32_t ids[16];
            CHECK_EQ(phi_chat_encode(t, &mem, PHI_CHAT_FORMAT_PHI4_MINI, m, 1, NULL,
                                     PHI_CHAT_ADD_ASSISTANT, ids, 16, &n, &err), PHI_OK);
            size_t n2;
            int32_t *plain = encode_all(t, "<|user|>Hi<|end|><|assistant|>", true, &n2);
            CHECK(n == n2 && memcmp(ids, plain, n * sizeof *ids) == 0);
            free(plain);
        }
        phi_tokenizer_free(t);
    }
}

/* ---- text stream -------------------------------------------------------- */

typedef struct collected {
    buf text[2];
    size_t pieces;
    bool bad_utf8;
    int last_channel;
} collected;

static bool valid_utf8(const char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if (phi_utf8_decode((const uint8_t *)s + i, n - i, &k) == PHI_UTF8_INVALID)
            return false;
    return true;
}

static int collect(void *user, int32_t channel, const char *text, size_t len)
{
    collected *c = user;
    CHECK(channel == PHI_CHANNEL_ANSWER || channel == PHI_CHANNEL_THINKING);
    CHECK(len > 0);
    if (!valid_utf8(text, len))
        c->bad_utf8 = true;
    buf_put(&c->text[channel], text, len);
    c->pieces++;
    return 0;
}

/* Feed `in` cut at random places; compare both channels. */
static void check_stream(const char *in, size_t len, bool split, const char *answer,
                         const char *thinking)
{
    for (int trial = 0; trial < 20; trial++) {
        collected c = {0};
        buf_put(&c.text[0], "", 0);
        buf_put(&c.text[1], "", 0);
        phi_text_stream s;
        phi_text_stream_init(&s, split);
        for (size_t at = 0; at < len;) {
            size_t n = trial == 0 ? 1 : 1 + rand_u32() % 12;
            if (n > len - at)
                n = len - at;
            CHECK_EQ(phi_text_stream_bytes(&s, (const uint8_t *)in + at, n, collect, &c), 0);
            at += n;
        }
        CHECK_EQ(phi_text_stream_finish(&s, collect, &c), 0);
        bool ok = strcmp(c.text[0].p, answer) == 0 && strcmp(c.text[1].p, thinking) == 0;
        CHECK(ok);
        CHECK(!c.bad_utf8);
        if (!ok)
            fprintf(stderr, "  in '%s': answer '%s' thinking '%s'\n", in, c.text[0].p, c.text[1].p);
        free(c.text[0].p);
        free(c.text[1].p);
        if (!ok)
            break;
    }
}

static void test_text_stream(void)
{
    const struct {
        const char *in, *answer, *thinking;
    } cases[] = {
        {"<think>step 1\nstep 2</think>\n\nThe answer is 4.", "The answer is 4.", "step 1\nstep 2"},
        {"\n <think>\nhmm</think>42", "42", "hmm"},
        {"No thinking here.", "No thinking here.", ""},
        {"  indented code", "  indented code", ""},
        {"<thinking is not a tag", "<thinking is not a tag", ""},
        {"<think>a < b and </thin k></think>yes", "yes", "a < b and </thin k>"},
        {"<think><<</think>x", "x", "<<"},
        {"answer then <think>not a tag</think>", "answer then <think>not a tag</think>", ""},
        {"<think>unfinished thoughts </th", "", "unfinished thoughts </th"},
        {"<thi", "<thi", ""},
        {"<think>é</think>ü", "ü", "é"},
        {"\xf0\x9f\x99\x82<think>", "\xf0\x9f\x99\x82<think>", ""},
        {"<think>x</think>tail with </think> again", "tail with </think> again", "x"},
        {"<think>\xe4\xbd\xa0\xe5\xa5</think>ok", "ok", "\xe4\xbd\xa0\xef\xbf\xbd"},
        {"bad \xff byte", "bad \xef\xbf\xbd byte", ""},
        {"", "", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_stream(cases[i].in, strlen(cases[i].in), true, cases[i].answer, cases[i].thinking);
    /* Without splitting, everything is answer, tags included. */
    check_stream("<think>a</think>b", 17, false, "<think>a</think>b", "");
    /* Long leading white space: held up to a bound, then answer. */
    char spaces[100];
    memset(spaces, ' ', 99);
    spaces[99] = 0;
    check_stream(spaces, 99, true, spaces, "");
}

/* Tokens: control tokens have no text except the thinking tags. */
static void test_text_stream_tokens(void)
{
    vocab_file v;
    load_vocab(&v, "tokenizer/cl100k.vocab");
    /* Make two control tokens spell the tags, as a reasoning vocabulary may. */
    v.tokens[100280] = (phi_str){"<think>", 7};
    v.tokens[100281] = (phi_str){"</think>", 8};
    phi_tokenizer *t = NULL;
    phi_err err = {0};
    CHECK_EQ(phi_tokenizer_new(&mem, &v.desc, &t, &err), PHI_OK);
    if (t) {
        size_t n;
        int32_t *ids = encode_all(t, "<think>Let me see.</think>Yes.<|im_end|>", true, &n);
        CHECK(n > 4 && ids[0] == 100280 && ids[n - 1] == 100265);
        collected c = {0};
        buf_put(&c.text[0], "", 0);
        buf_put(&c.text[1], "", 0);
        phi_text_stream s;
        phi_text_stream_init(&s, true);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ(phi_text_stream_token(&s, t, ids[i], collect, &c), 0);
        CHECK_EQ(phi_text_stream_finish(&s, collect, &c), 0);
        CHECK(strcmp(c.text[0].p, "Yes.") == 0);        /* <|im_end|> has no text */
        CHECK(strcmp(c.text[1].p, "Let me see.") == 0);
        CHECK_EQ(phi_text_stream_token(&s, t, -1, collect, &c), PHI_E_INVALID_ARG);
        free(c.text[0].p);
        free(c.text[1].p);
        free(ids);
        phi_tokenizer_free(t);
    }
    free_vocab(&v);
}

int main(int argc, char **argv)
{
    fixture_dir = argc > 1 ? argv[1] : "tests/fixtures";
    phi_mem_init_default(&mem);
    size_t cases = 0;
    for_each_fixture(check_fixture, &cases);
    printf("chat: %zu Jinja2-rendered conversations reproduced exactly\n", cases);
    CHECK(cases >= 100);
    test_exact_strings();
    test_errors();
    test_detection();
    test_chat_tokens();
    test_text_stream();
    test_text_stream_tokens();
    return check_report("test_chat");
}
