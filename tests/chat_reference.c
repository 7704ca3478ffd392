/* What the C API answers, for comparing the example programs with:
 *
 *   chat_reference MODEL N_PREDICT [-s SYSTEM] USER_MESSAGE...
 *       a conversation on one context, greedy, each turn through
 *       phi_generate_chat; prints each answer (answer channel) and "\n";
 *   chat_reference MODEL N_PREDICT --raw TEXT
 *       the plain continuation of TEXT through phi_generate (tokens),
 *       detokenized, and "\n". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phi4.h"

#define MAX_TURNS 16

typedef struct answer {
    char text[65536];
    size_t len;
} answer;

static int keep_answer(void *user, int32_t channel, const char *text, size_t len)
{
    answer *a = user;
    if (channel != PHI_CHANNEL_ANSWER)
        return 0;
    if (a->len + len >= sizeof a->text)
        return 1;
    memcpy(a->text + a->len, text, len);
    a->len += len;
    a->text[a->len] = '\0';
    return 0;
}

static phi_token generated[65536];
static size_t n_generated;

static int keep_token(void *user, phi_token token)
{
    phi_ctx *ctx = user;
    if (!phi_token_is_eog(ctx, token) && n_generated < sizeof generated / sizeof generated[0])
        generated[n_generated++] = token;
    return 0;
}

static int fail(phi_ctx *ctx, const char *what)
{
    fprintf(stderr, "chat_reference: %s: %s\n", what, phi_errmsg(ctx));
    phi_ctx_free(ctx);
    return 1;
}

static int raw(phi_ctx *ctx, const char *text)
{
    static phi_token prompt[65536];
    static char out[1 << 20];
    size_t n;
    if (phi_tokenize(ctx, text, strlen(text), PHI_TOKENIZE_ADD_BOS, prompt, 65536, &n) != PHI_OK ||
        phi_generate(ctx, prompt, n, keep_token, ctx) != PHI_OK ||
        phi_detokenize(ctx, generated, n_generated, PHI_DETOKENIZE_SKIP_SPECIAL, out, sizeof out, &n) != PHI_OK)
        return fail(ctx, "raw");
    printf("%s\n", out);
    phi_ctx_free(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    phi_ctx *ctx;
    if (argc < 4 || phi_ctx_new(&ctx) != PHI_OK)
        return 2;
    if (phi_set_float(ctx, PHI_OPT_TEMPERATURE, 0) != PHI_OK ||
        phi_set_int(ctx, PHI_OPT_MAX_TOKENS, atoi(argv[2])) != PHI_OK ||
        phi_load(ctx, argv[1]) != PHI_OK)
        return fail(ctx, "load");
    if (!strcmp(argv[3], "--raw"))
        return raw(ctx, argv[4]);
    phi_chat_message msgs[2 * MAX_TURNS + 1];
    static answer answers[MAX_TURNS];
    size_t n = 0, turn = 0;
    int i = 3;
    if (!strcmp(argv[i], "-s")) {
        msgs[n++] = (phi_chat_message){"system", argv[i + 1]};
        i += 2;
    }
    for (; i < argc && turn < MAX_TURNS; i++, turn++) {
        msgs[n++] = (phi_chat_message){"user", argv[i]};
        if (phi_generate_chat(ctx, msgs, n, NULL, 0, keep_answer, &answers[turn]) != PHI_OK)
            return fail(ctx, "chat");
        msgs[n++] = (phi_chat_message){"assistant", answers[turn].text};
        printf("%s\n", answers[turn].text);
    }
    phi_ctx_free(ctx);
    return 0;
}
