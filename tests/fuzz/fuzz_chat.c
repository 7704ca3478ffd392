// libFuzzer target for the chat formatter and the generated-text stream.
//
// Input: byte 0 picks the format (bits 1-2: the four PHI_CHAT_FORMAT_*, each
// with its family's vocabulary: cl100k for Phi-4, o200k with rstrip role
// tokens for Phi-4-mini; bit 0 picks where the text stream input is cut),
// PHI_CHAT_ADD_ASSISTANT (bit 3), PHI_CHAT_NO_DEFAULT_SYSTEM (bit 4) and
// tools (bit 5: the first field is the tool definitions). The rest is cut at
// NUL bytes into fields; each message field's first byte picks the role
// (system, user, assistant, tool or an invalid one).
//
// Checked: rendering either succeeds or fails with a documented code; then
// the chat tokens are produced, the size query agrees with them, and when no
// field contains '<' they equal the whole prompt tokenized at once. The
// prompt fed to the text stream in two cuts equals feeding it whole, and all
// of it is valid UTF-8.
//
// Build and run (from the repository root):
//   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ilib -Itests
//     lib/core/*.c lib/format/*.c lib/text/*.c tests/fuzz/fuzz_chat.c -o /tmp/fuzz_chat
//   PHI_TOKENIZER_FIXTURES=tests/fixtures/tokenizer /tmp/fuzz_chat -max_len=2048 CORPUS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "phi4.h"
#include "text/chat.h"
#include "text/text_stream.h"
#include "text/tokenizer.h"
#include "text/unicode.h"
#include "vocab_fixture.h"

static phi_mem mem;
static phi_tokenizer *tokenizers[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fixture_dir = getenv("PHI_TOKENIZER_FIXTURES");
    if (!fixture_dir)
        fixture_dir = "tests/fixtures/tokenizer";
    phi_mem_init_default(&mem);
    tokenizers[0] = fixture_tokenizer(&mem, "cl100k.vocab", false);
    tokenizers[1] = fixture_tokenizer(&mem, "o200k.vocab", true);
    return 0;
}

typedef struct text {
    char *p;
    size_t n;
} text;

static int append(void *user, const char *s, size_t len, bool markers)
{
    (void)markers;
    text *t = user;
    t->p = realloc(t->p, t->n + len + 1);
    memcpy(t->p + t->n, s, len);
    t->n += len;
    t->p[t->n] = 0;
    return 0;
}

static int append_channel(void *user, int32_t channel, const char *s, size_t len)
{
    text *t = (text *)user + channel;
    for (size_t i = 0, k; i < len; i += k)
        if (phi_utf8_decode((const uint8_t *)s + i, len - i, &k) == PHI_UTF8_INVALID)
            abort();
    return append(t, s, len, false);
}

static void stream(const char *s, size_t len, size_t cut, text out[2])
{
    phi_text_stream st;
    phi_text_stream_init(&st, true);
    if (phi_text_stream_bytes(&st, (const uint8_t *)s, cut, append_channel, out) ||
        phi_text_stream_bytes(&st, (const uint8_t *)s + cut, len - cut, append_channel, out) ||
        phi_text_stream_finish(&st, append_channel, out))
        abort();
}

static bool same_text(const text *a, const text *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t ctl = data[0];
    int format = PHI_CHAT_FORMAT_PHI4 + ((ctl >> 1) & 3);
    const phi_tokenizer *tok = tokenizers[format >= PHI_CHAT_FORMAT_PHI4_MINI];
    uint32_t flags = (ctl & 8 ? PHI_CHAT_ADD_ASSISTANT : 0) | (ctl & 16 ? PHI_CHAT_NO_DEFAULT_SYSTEM : 0);

    /* Fields, NUL-terminated copies. */
    char *copy = malloc(size);
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = 0;
    char *fields[17];
    int n_fields = 0;
    for (char *p = copy; n_fields < 17 && p <= copy + size - 1;) {
        fields[n_fields++] = p;
        p += strlen(p) + 1;
    }
    const char *tools = NULL;
    int first = 0;
    if ((ctl & 32) && n_fields > 0)
        tools = fields[first++];
    static const char *roles[] = {"system", "user", "assistant", "tool", "narrator"};
    phi_chat_message msgs[16];
    size_t n = 0;
    bool angle = tools && strchr(tools, '<');
    for (int i = first; i < n_fields && n < 16; i++) {
        msgs[n].role = roles[(uint8_t)fields[i][0] % 5];
        msgs[n].content = fields[i][0] ? fields[i] + 1 : fields[i];
        angle = angle || strchr(msgs[n].content, '<');
        n++;
    }

    text prompt = {NULL, 0};
    phi_err err = {0};
    int rc = phi_chat_render(format, msgs, n, tools, flags, append, &prompt, &err);
    if (rc != PHI_OK) {
        if ((rc != PHI_E_INVALID_ARG && rc != PHI_E_UNSUPPORTED) || !err.msg[0])
            abort();
        free(prompt.p), free(copy);
        return 0;
    }
    size_t count, n_ids;
    int q = phi_chat_encode(tok, &mem, format, msgs, n, tools, flags, NULL, 0, &count, &err);
    if (q != (count ? PHI_E_BUFFER_TOO_SMALL : PHI_OK))
        abort();
    int32_t *ids = malloc((count + 1) * sizeof *ids);
    if (phi_chat_encode(tok, &mem, format, msgs, n, tools, flags, ids, count, &n_ids, &err) != PHI_OK ||
        n_ids != count)
        abort();
    if (!angle && prompt.n) {
        size_t n_whole;
        int32_t *whole = malloc((prompt.n + 1) * sizeof *whole);
        if (phi_tokenizer_encode(tok, prompt.p, prompt.n, true, whole, prompt.n + 1, &n_whole,
                                 &err) != PHI_OK ||
            n_whole != count || memcmp(whole, ids, count * sizeof *ids) != 0)
            abort();
        free(whole);
    }

    text whole[2] = {{NULL, 0}, {NULL, 0}}, cut[2] = {{NULL, 0}, {NULL, 0}};
    stream(prompt.p ? prompt.p : "", prompt.n, 0, whole);
    stream(prompt.p ? prompt.p : "", prompt.n, prompt.n ? (ctl & 1 ? prompt.n / 2 : prompt.n - 1) : 0, cut);
    if (!same_text(&whole[0], &cut[0]) || !same_text(&whole[1], &cut[1]))
        abort();
    for (int i = 0; i < 2; i++)
        free(whole[i].p), free(cut[i].p);
    free(ids), free(prompt.p), free(copy);
    return 0;
}
