/* The public text API on a generated model (whose vocabulary is a real,
 * tiny byte-level BPE with the family's special tokens and chat template):
 * tokenize / detokenize / token pieces with the two-call convention, chat
 * prompts, text generation (pull and callback) against the token-level API,
 * prefix reuse across chat turns, and the errors.
 * With a fixture directory and vocabulary name, the model carries a real
 * vocabulary (cl100k or o200k, made with make_model.py --vocab) and the
 * test corpus must tokenize, through the public API, to js-tiktoken's ids.
 * Usage: test_api_text MODEL.gguf EXPECTED_CHAT_FORMAT [FIXTURE_DIR VOCAB] */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture_file.h"
#include "phi4.h"

static const char *model_path;
static int64_t expected_format;

static phi_ctx *open_model(void)
{
    phi_ctx *ctx = NULL;
    CHECK_EQ(phi_ctx_new(&ctx), PHI_OK);
    CHECK_EQ(phi_set_int(ctx, PHI_OPT_N_THREADS, 2), PHI_OK);
    CHECK_EQ(phi_set_int(ctx, PHI_OPT_N_CTX, 256), PHI_OK);
    int32_t rc = phi_load(ctx, model_path);
    CHECK_EQ(rc, PHI_OK);
    if (rc != PHI_OK)
        fprintf(stderr, "load: %s\n", phi_errmsg(ctx));
    return ctx;
}

static phi_token *tokenize(phi_ctx *ctx, const char *text, uint32_t flags, size_t *n)
{
    size_t len = strlen(text);
    CHECK(phi_tokenize(ctx, text, len, flags, NULL, 0, n) == (*n ? PHI_E_BUFFER_TOO_SMALL : PHI_OK));
    phi_token *t = malloc((*n + 1) * sizeof *t);
    CHECK_EQ(phi_tokenize(ctx, text, len, flags, t, *n, n), PHI_OK);
    return t;
}

static char *detokenize(phi_ctx *ctx, const phi_token *t, size_t n, uint32_t flags)
{
    size_t len;
    CHECK_EQ(phi_detokenize(ctx, t, n, flags, NULL, 0, &len), PHI_E_BUFFER_TOO_SMALL);
    char *s = malloc(len + 1);
    CHECK_EQ(phi_detokenize(ctx, t, n, flags, s, len + 1, &len), PHI_OK);
    CHECK_EQ(strlen(s), len);
    return s;
}

static void test_tokens(phi_ctx *ctx)
{
    const char *texts[] = {"Hello world", "the quick brown fox, 12345!", "héllo wörld 你好 🙂",
                           "  spaces\tand\nnewlines\r\n", ""};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t n;
        phi_token *t = tokenize(ctx, texts[i], 0, &n);
        char *back = detokenize(ctx, t, n, 0);
        CHECK(strcmp(back, texts[i]) == 0);
        /* Pieces are the raw bytes; together they are the text. */
        char joined[256] = "";
        size_t at = 0;
        for (size_t k = 0; k < n; k++) {
            char piece[64];
            size_t len;
            CHECK_EQ(phi_token_piece(ctx, t[k], piece, sizeof piece, &len), PHI_OK);
            memcpy(joined + at, piece, len);
            at += len;
        }
        joined[at] = 0;
        CHECK(strcmp(joined, texts[i]) == 0);
        free(back);
        free(t);
    }
    /* Two-call convention: exactly n fits, n - 1 does not, and says n. */
    size_t n, n2;
    phi_token *t = tokenize(ctx, "Hello world", 0, &n);
    CHECK(n >= 2);
    phi_token small[64];
    CHECK_EQ(phi_tokenize(ctx, "Hello world", 11, 0, small, n - 1, &n2), PHI_E_BUFFER_TOO_SMALL);
    CHECK_EQ(n2, n);
    CHECK(strstr(phi_errmsg(ctx), "tokens") != NULL);
    char text[64];
    size_t len;
    CHECK_EQ(phi_detokenize(ctx, t, n, 0, text, 11, &len), PHI_E_BUFFER_TOO_SMALL); /* no room for NUL */
    CHECK_EQ(len, (size_t)11);
    CHECK_EQ(phi_detokenize(ctx, t, n, 0, text, 12, &len), PHI_OK);
    free(t);

    /* Special tokens only on request; BOS on request. */
    int64_t bos, eot;
    CHECK_EQ(phi_info_int(ctx, PHI_INFO_TOKEN_BOS, &bos), PHI_OK);
    CHECK_EQ(phi_info_int(ctx, PHI_INFO_TOKEN_EOT, &eot), PHI_OK);
    char eot_text[32];
    CHECK_EQ(phi_token_piece(ctx, (phi_token)eot, eot_text, sizeof eot_text, &len), PHI_OK);
    t = tokenize(ctx, eot_text, PHI_TOKENIZE_SPECIAL, &n);
    CHECK(n == 1 && t[0] == eot);
    free(t);
    t = tokenize(ctx, eot_text, 0, &n);
    CHECK(n > 1);
    for (size_t k = 0; k < n; k++)
        CHECK(t[k] != eot);
    free(t);
    t = tokenize(ctx, "Hi", PHI_TOKENIZE_ADD_BOS, &n);
    CHECK(n >= 2 && t[0] == bos);
    free(t);
    CHECK_EQ(phi_tokenize(ctx, "Hi", 2, PHI_TOKENIZE_ADD_BOS, NULL, 0, &n), PHI_E_BUFFER_TOO_SMALL);
    CHECK(n >= 2);

    /* Detokenize: invalid UTF-8 becomes U+FFFD; control tokens can be skipped. */
    phi_token seq[3];
    t = tokenize(ctx, "\xe4", 0, &n);                  /* the first byte of 你, alone */
    CHECK_EQ(n, (size_t)1);
    seq[0] = t[0];
    seq[1] = (phi_token)eot;
    char *s = detokenize(ctx, seq, 2, 0);
    CHECK(strncmp(s, "\xef\xbf\xbd", 3) == 0 && strstr(s, eot_text) != NULL);
    free(s);
    s = detokenize(ctx, seq, 2, PHI_DETOKENIZE_SKIP_SPECIAL);
    CHECK(strcmp(s, "\xef\xbf\xbd") == 0);
    free(s);
    free(t);

    /* Errors. */
    int64_t n_vocab;
    CHECK_EQ(phi_info_int(ctx, PHI_INFO_N_VOCAB, &n_vocab), PHI_OK);
    phi_token bad = (phi_token)n_vocab;
    CHECK_EQ(phi_token_piece(ctx, bad, text, sizeof text, &len), PHI_E_INVALID_ARG);
    CHECK_EQ(phi_detokenize(ctx, &bad, 1, 0, text, sizeof text, &len), PHI_E_INVALID_ARG);
    CHECK_EQ(phi_tokenize(ctx, "x", 1, 0x100, small, 64, &n), PHI_E_INVALID_ARG);
    CHECK_EQ(phi_detokenize(ctx, small, 1, 0x100, text, 64, &len), PHI_E_INVALID_ARG);
    CHECK_EQ(phi_tokenize(ctx, NULL, 1, 0, small, 64, &n), PHI_E_INVALID_ARG);
    CHECK_EQ(phi_tokenize(ctx, "x", 1, 0, small, 64, NULL), PHI_E_INVALID_ARG);
    CHECK_EQ(phi_tokenize(NULL, "x", 1, 0, small, 64, &n), PHI_E_INVALID_ARG);
    CHECK_EQ(phi_tokenize(ctx, NULL, 0, 0, small, 64, &n), PHI_OK); /* empty text */
    CHECK_EQ(n, (size_t)0);

    phi_ctx *unloaded;
    CHECK_EQ(phi_ctx_new(&unloaded), PHI_OK);
    CHECK_EQ(phi_tokenize(unloaded, "x", 1, 0, small, 64, &n), PHI_E_STATE);
    CHECK_EQ(phi_generate_next_text(unloaded, &(int32_t){0}, &(const char *){0}, &len), PHI_E_STATE);
    phi_ctx_free(unloaded);
}

static char *chat_text(phi_ctx *ctx, const phi_chat_message *m, size_t n, uint32_t flags)
{
    size_t len;
    int32_t rc = phi_chat_format(ctx, m, n, NULL, flags, NULL, 0, &len);
    CHECK_EQ(rc, PHI_E_BUFFER_TOO_SMALL);
    char *s = malloc(len + 1);
    CHECK_EQ(phi_chat_format(ctx, m, n, NULL, flags, s, len + 1, &len), PHI_OK);
    return s;
}

static void test_chat_prompt(phi_ctx *ctx)
{
    int64_t format;
    CHECK_EQ(phi_info_int(ctx, PHI_INFO_CHAT_FORMAT, &format), PHI_OK);
    CHECK_EQ(format, expected_format);
    size_t len;
    char tmpl[4096];
    CHECK_EQ(phi_info_str(ctx, PHI_INFO_CHAT_TEMPLATE, tmpl, sizeof tmpl, &len), PHI_OK);
    const phi_chat_message m[] = {{"system", "Be brief."}, {"user", "Hello"}};
    if (format == PHI_CHAT_FORMAT_AUTO) {
        /* Unknown or missing: a clear error until the caller picks a format. */
        size_t n;
        CHECK_EQ(phi_chat_format(ctx, m, 2, NULL, 0, NULL, 0, &n), PHI_E_UNSUPPORTED);
        CHECK(strstr(phi_errmsg(ctx), "PHI_OPT_CHAT_FORMAT") != NULL);
        CHECK_EQ(phi_generate_begin_chat(ctx, m, 2, NULL, 0), PHI_E_UNSUPPORTED);
        CHECK(len > 0); /* the "other" template is there, just not ours */
        CHECK_EQ(phi_set_int(ctx, PHI_OPT_CHAT_FORMAT, PHI_CHAT_FORMAT_PHI4), PHI_OK);
        format = PHI_CHAT_FORMAT_PHI4;
    }
    CHECK_EQ(phi_set_int(ctx, PHI_OPT_CHAT_FORMAT, 99), PHI_E_INVALID_ARG);
    char *s = chat_text(ctx, m, 2, PHI_CHAT_ADD_ASSISTANT);
    const char *want = format == PHI_CHAT_FORMAT_PHI4
                           ? "<|im_start|>system<|im_sep|>Be brief.<|im_end|><|im_start|>user"
                             "<|im_sep|>Hello<|im_end|><|im_start|>assistant<|im_sep|>"
                           : "<|system|>Be brief.<|end|><|user|>Hello<|end|><|assistant|>";
    CHECK(strcmp(s, want) == 0);
    /* Chat tokens are the prompt's tokens with specials parsed. */
    size_t n, n_chat;
    phi_token *whole = tokenize(ctx, s, PHI_TOKENIZE_SPECIAL, &n);
    phi_token chat[256];
    CHECK_EQ(phi_chat_tokenize(ctx, m, 2, NULL, PHI_CHAT_ADD_ASSISTANT, chat, 256, &n_chat), PHI_OK);
    CHECK(n == n_chat && memcmp(whole, chat, n * sizeof *chat) == 0);
    CHECK_EQ(phi_chat_tokenize(ctx, m, 2, NULL, PHI_CHAT_ADD_ASSISTANT, chat, n_chat - 1, &n),
             PHI_E_BUFFER_TOO_SMALL);
    CHECK_EQ(n, n_chat);
    free(whole);
    free(s);
    /* A format whose markers the vocabulary lacks: text is fine, tokens are not. */
    int32_t other = format == PHI_CHAT_FORMAT_PHI4 ? PHI_CHAT_FORMAT_PHI4_MINI : PHI_CHAT_FORMAT_PHI4;
    CHECK_EQ(phi_set_int(ctx, PHI_OPT_CHAT_FORMAT, other), PHI_OK);
    CHECK_EQ(phi_chat_format(ctx, m, 2, NULL, 0, NULL, 0, &n), PHI_E_BUFFER_TOO_SMALL);
    CHECK_EQ(phi_chat_tokenize(ctx, m, 2, NULL, 0, chat, 256, &n), PHI_E_UNSUPPORTED);
    CHECK(strstr(phi_errmsg(ctx), other == PHI_CHAT_FORMAT_PHI4 ? "<|im_start|>" : "<|system|>"));
    CHECK_EQ(phi_set_int(ctx, PHI_OPT_CHAT_FORMAT, expected_format), PHI_OK);
    if (expected_format == PHI_CHAT_FORMAT_AUTO)
        CHECK_EQ(phi_set_int(ctx, PHI_OPT_CHAT_FORMAT, PHI_CHAT_FORMAT_PHI4), PHI_OK);
    /* Tools: only the mini format has a place for them. */
    int32_t rc = phi_chat_format(ctx, m, 2, "[]", 0, NULL, 0, &n);
    CHECK_EQ(rc, format == PHI_CHAT_FORMAT_PHI4 ? PHI_E_UNSUPPORTED : PHI_E_BUFFER_TOO_SMALL);
    const phi_chat_message bad[] = {{"user", "\xc3("}};
    CHECK_EQ(phi_chat_format(ctx, bad, 1, NULL, 0, NULL, 0, &n), PHI_E_INVALID_ARG);
    CHECK(strstr(phi_errmsg(ctx), "UTF-8") != NULL);
}

typedef struct collected {
    char text[2][8192];
    size_t len[2];
    int pieces, stop_after;
} collected;

static int on_text(void *user, int32_t channel, const char *text, size_t len)
{
    collected *c = user;
    CHECK(channel == PHI_CHANNEL_ANSWER || channel == PHI_CHANNEL_THINKING);
    CHECK(len > 0);
    if (c->len[channel] + len < sizeof c->text[0]) {
        memcpy(c->text[channel] + c->len[channel], text, len);
        c->len[channel] += len;
        c->text[channel][c->len[channel]] = 0;
    }
    return ++c->pieces == c->stop_after;
}

static char last_log[1024];
static void on_log(void *user, int32_t level, const char *msg)
{
    (void)user, (void)level;
    if (strncmp(msg, "chat:", 5) == 0) /* other debug lines (e.g. LongRoPE) may follow */
        snprintf(last_log, sizeof last_log, "%s", msg);
}

static void greedy(phi_ctx *ctx, int64_t max_tokens)
{
    CHECK_EQ(phi_set_float(ctx, PHI_OPT_TEMPERATURE, 0.0), PHI_OK);
    CHECK_EQ(phi_set_int(ctx, PHI_OPT_MAX_TOKENS, max_tokens), PHI_OK);
    CHECK_EQ(phi_set_int(ctx, PHI_OPT_SPLIT_THINKING, 0), PHI_OK);
}

static void test_generation(void)
{
    const phi_chat_message turn1[] = {{"user", "Tell me about the fox."}};
    /* Text generation (callback) equals token generation detokenized. */
    phi_ctx *a = open_model(), *b = open_model();
    greedy(a, 40);
    greedy(b, 40);
    collected c = {0};
    CHECK_EQ(phi_generate_chat(a, turn1, 1, NULL, 0, on_text, &c), PHI_OK);
    CHECK_EQ(phi_generate_begin_chat(b, turn1, 1, NULL, 0), PHI_OK);
    int32_t prompt_len = phi_kv_pos(b);
    phi_token toks[64];
    size_t n = 0;
    phi_token tok;
    int32_t rc;
    while ((rc = phi_generate_next(b, &tok)) == PHI_OK)
        toks[n++] = tok;
    CHECK_EQ(rc, PHI_DONE);
    CHECK(n > 0);
    char *want = detokenize(b, toks, n, PHI_DETOKENIZE_SKIP_SPECIAL);
    CHECK(strcmp(c.text[PHI_CHANNEL_ANSWER], want) == 0);
    CHECK_EQ(c.len[PHI_CHANNEL_THINKING], (size_t)0);
    CHECK_EQ(phi_kv_pos(a), phi_kv_pos(b));
    printf("generated %zu tokens: \"%s\"\n", n, want);

    /* The sequence's tokens are the prompt's, then the generated ones. */
    phi_token seq[256], prompt_tokens[256];
    size_t n_seq, n_prompt;
    CHECK_EQ(phi_chat_tokenize(b, turn1, 1, NULL, PHI_CHAT_ADD_ASSISTANT, prompt_tokens, 256,
                               &n_prompt), PHI_OK);
    CHECK_EQ(phi_kv_tokens(b, NULL, 0, &n_seq), PHI_E_BUFFER_TOO_SMALL);
    CHECK_EQ(n_seq, (size_t)phi_kv_pos(b));
    CHECK_EQ(phi_kv_tokens(b, seq, 256, &n_seq), PHI_OK);
    CHECK(n_seq >= n_prompt && memcmp(seq, prompt_tokens, n_prompt * sizeof *seq) == 0);
    CHECK(n_seq == n_prompt + n - 1 || n_seq == n_prompt + n); /* the end token is not evaluated */
    CHECK(memcmp(seq + n_prompt, toks, (n_seq - n_prompt) * sizeof *seq) == 0);

    /* An interrupt between two pulls stops the generation at the next one. */
    phi_ctx *q = open_model();
    greedy(q, 40);
    CHECK_EQ(phi_generate_begin_chat(q, turn1, 1, NULL, 0), PHI_OK);
    phi_interrupt(q);
    int32_t ch;
    const char *tx;
    size_t tl;
    CHECK_EQ(phi_generate_next_text(q, &ch, &tx, &tl), PHI_E_INTERRUPTED);
    CHECK_EQ(phi_generate_begin_chat(q, turn1, 1, NULL, 0), PHI_OK); /* usable again */
    CHECK_EQ(phi_generate_next_text(q, &ch, &tx, &tl) >= 0, 1);
    phi_ctx_free(q);

    /* The pull API gives the same text. */
    phi_ctx *p = open_model();
    greedy(p, 40);
    CHECK_EQ(phi_generate_begin_chat(p, turn1, 1, NULL, 0), PHI_OK);
    char pulled[8192] = "";
    size_t at = 0, len;
    int32_t channel;
    const char *text;
    while ((rc = phi_generate_next_text(p, &channel, &text, &len)) == PHI_OK) {
        CHECK(len > 0 && at + len < sizeof pulled);
        memcpy(pulled + at, text, len);
        at += len;
    }
    CHECK_EQ(rc, PHI_DONE);
    pulled[at] = 0;
    CHECK(strcmp(pulled, want) == 0);
    CHECK_EQ(phi_generate_next_text(p, &channel, &text, &len), PHI_DONE); /* stays done */
    CHECK_EQ(phi_generate_end(p), PHI_OK);
    CHECK_EQ(phi_generate_next_text(p, &channel, &text, &len), PHI_E_STATE);

    /* Second turn: the conversation so far is reused, not evaluated again, and
     * the result equals a fresh context's. */
    const phi_chat_message turn2[] = {{"user", "Tell me about the fox."}, {"assistant", want},
                                      {"user", "And the dog?"}};
    CHECK_EQ(phi_set_log_callback(a, on_log, NULL), PHI_OK);
    CHECK_EQ(phi_set_int(a, PHI_OPT_LOG_LEVEL, PHI_LOG_DEBUG), PHI_OK);
    CHECK_EQ(phi_generate_begin_chat(a, turn2, 3, NULL, 0), PHI_OK);
    unsigned reused = 0, total = 0;
    CHECK(sscanf(last_log, "chat: %u of %u prompt tokens", &reused, &total) == 2);
    CHECK((int32_t)reused >= prompt_len && total == (unsigned)phi_kv_pos(a));
    printf("turn 2: %u of %u prompt tokens reused\n", reused, total);
    phi_ctx *fresh = open_model();
    CHECK_EQ(phi_generate_begin_chat(fresh, turn2, 3, NULL, 0), PHI_OK);
    const float *la = phi_logits(a), *lf = phi_logits(fresh);
    int64_t nv;
    CHECK_EQ(phi_info_int(a, PHI_INFO_N_VOCAB, &nv), PHI_OK);
    double worst = 0;
    for (int64_t i = 0; la && lf && i < nv; i++)
        worst = fmax(worst, fabs((double)la[i] - lf[i]));
    CHECK(la && lf && worst < 1e-3);
    /* The same conversation again: everything is reused. */
    CHECK_EQ(phi_generate_begin_chat(a, turn2, 3, NULL, 0), PHI_OK);
    CHECK(sscanf(last_log, "chat: %u of %u prompt tokens", &reused, &total) == 2 && reused == total);

    /* A callback that stops after two pieces. */
    collected stop = {.stop_after = 2};
    CHECK_EQ(phi_generate_chat(fresh, turn1, 1, NULL, 0, on_text, &stop), PHI_OK);
    CHECK_EQ(stop.pieces, 2);

    /* Too long for the context: refused, sequence untouched. */
    char *big = malloc(20000);
    for (int i = 0; i < 19999; i++)
        big[i] = "abcdefghij "[i % 11];
    big[19999] = 0;
    const phi_chat_message huge[] = {{"user", big}};
    int32_t before = phi_kv_pos(fresh);
    CHECK_EQ(phi_generate_begin_chat(fresh, huge, 1, NULL, 0), PHI_E_CONTEXT_FULL);
    CHECK_EQ(phi_kv_pos(fresh), before);
    free(big);
    free(want);
    phi_ctx_free(a);
    phi_ctx_free(b);
    phi_ctx_free(p);
    phi_ctx_free(fresh);
}

/* Phi-4-mini's role tokens take the white space after them (Hugging Face's
 * rstrip, which tiktoken does not have): an item that differs must contain
 * such a token followed by white space, and tokenize as it does without
 * that white space. */
static bool explained_by_rstrip(phi_ctx *ctx, const char *item, size_t len, const phi_token *ids,
                                size_t n)
{
    static const char *const roles[] = {"<|system|>", "<|user|>", "<|assistant|>", "<|end|>"};
    char *stripped = malloc(len + 1);
    size_t m = 0;
    bool any = false;
    for (size_t i = 0; i < len;) {
        size_t role = 0;
        for (int r = 0; r < 4 && !role; r++)
            if (len - i >= strlen(roles[r]) && memcmp(item + i, roles[r], strlen(roles[r])) == 0)
                role = strlen(roles[r]);
        if (!role) {
            stripped[m++] = item[i++];
            continue;
        }
        memcpy(stripped + m, item + i, role);
        m += role, i += role;
        while (i < len && strchr(" \t\r\n", item[i]))
            i++, any = true;
    }
    phi_token *again = malloc((m + 2) * sizeof *again);
    size_t k;
    bool same = any && phi_tokenize(ctx, stripped, m, PHI_TOKENIZE_SPECIAL, again, m + 2, &k) == PHI_OK &&
                k == n && memcmp(again, ids, n * sizeof *ids) == 0;
    free(again);
    free(stripped);
    return same;
}

/* The corpus (items "LEN <bytes>\n") against the expected ids (a line of
 * ids per item), through phi_tokenize. */
static void test_corpus(phi_ctx *ctx, const char *dir, const char *corpus, const char *expected,
                        uint32_t flags)
{
    size_t clen, elen, compared = 0, mismatched = 0, rstripped = 0;
    char *text = read_fixture(dir, corpus, &clen), *exp = read_fixture(dir, expected, &elen);
    char *line = exp;
    phi_token *ids = malloc(65536 * sizeof *ids);
    for (char *p = text; p < text + clen;) {
        char *end;
        size_t len = strtoul(p, &end, 10);
        const char *item = end + 1;
        p = end + 1 + len + 1;
        char *nl = strchr(line, '\n');
        *nl = 0;
        size_t n;
        int32_t rc = phi_tokenize(ctx, item, len, flags, ids, 65536, &n);
        bool same = rc == PHI_OK;
        char *q = line;
        for (size_t i = 0; same && i < n; i++) {
            long v = strtol(q, &q, 10);
            same = v == ids[i];
        }
        same = same && strtol(q, &q, 10) == 0 && *q == 0; /* no ids left over */
        if (!same && rc == PHI_OK && (flags & PHI_TOKENIZE_SPECIAL) &&
            expected_format == PHI_CHAT_FORMAT_PHI4_MINI && explained_by_rstrip(ctx, item, len, ids, n))
            rstripped++;
        else if (!same)
            mismatched++;
        compared++;
        line = nl + 1;
    }
    printf("%s: %zu strings tokenized through the public API, %zu differ from js-tiktoken, "
           "%zu only by rstrip after a role token\n", corpus, compared, mismatched, rstripped);
    CHECK(compared >= 400);
    CHECK_EQ(mismatched, (size_t)0);
    free(ids);
    free(text);
    free(exp);
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: test_api_text MODEL.gguf EXPECTED_CHAT_FORMAT [FIXTURE_DIR VOCAB]\n");
        return 2;
    }
    model_path = argv[1];
    expected_format = atoi(argv[2]);
    phi_ctx *ctx = open_model();
    test_tokens(ctx);
    test_chat_prompt(ctx);
    if (argc == 5) {
        char name[64];
        snprintf(name, sizeof name, "%s.expected", argv[4]);
        test_corpus(ctx, argv[3], "corpus.txt", name, 0);
        snprintf(name, sizeof name, "%s.special.expected", argv[4]);
        test_corpus(ctx, argv[3], "corpus_special.txt", name, PHI_TOKENIZE_SPECIAL);
    }
    phi_ctx_free(ctx);
    if (expected_format != PHI_CHAT_FORMAT_AUTO && argc == 3)
        test_generation();
    return check_report("test_api_text");
}
