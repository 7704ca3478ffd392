/* phi4-generate: open a GGUF model and answer one prompt, streaming the
 * text as it is generated. The prompt is a user message in the model's chat
 * format (with --raw, plain text to continue); a reasoning model's thinking
 * goes to stderr.
 *
 *   phi4-generate -m model.gguf -p "Why is the sky blue?" [-s SYSTEM] [--raw]
 *                 [-n 256] [-t threads] [-c ctx] [--temp 0.8] [--top-k 40]
 *                 [--top-p 0.95] [--seed 42]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phi4.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: phi4-generate -m MODEL.gguf [options]\n"
            "  -m PATH       model file (GGUF)\n"
            "  -p TEXT       the prompt (a user message)\n"
            "  -s TEXT       a system message\n"
            "  --raw         -p is plain text to continue, not a chat message\n"
            "  -n N          tokens to generate at most (default 256)\n"
            "  -t N          threads (default: all CPUs)\n"
            "  -c N          context length (default: min(trained, 4096))\n"
            "  --temp X      temperature; 0 = greedy (default 0.8)\n"
            "  --top-k N     top-k (default 40)\n"
            "  --top-p X     top-p (default 0.95)\n"
            "  --seed N      random seed (default: from the clock)\n");
}

static int print_text(void *user, int32_t channel, const char *text, size_t len)
{
    (void)user;
    fwrite(text, 1, len, channel == PHI_CHANNEL_THINKING ? stderr : stdout);
    fflush(channel == PHI_CHANNEL_THINKING ? stderr : stdout);
    return 0;
}

static int check(phi_ctx *ctx, int32_t rc, const char *what)
{
    if (rc >= 0)
        return 0;
    fprintf(stderr, "phi4-generate: %s: %s (%s)\n", what, phi_errmsg(ctx), phi_strerror(rc));
    return 1;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *prompt = "", *system = NULL;
    long n_predict = 256;
    int raw = 0;
    phi_ctx *ctx;
    if (phi_ctx_new(&ctx) != PHI_OK) {
        fprintf(stderr, "phi4-generate: out of memory\n");
        return 1;
    }
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            phi_ctx_free(ctx);
            return 0;
        }
        if (!strcmp(a, "--raw")) {
            raw = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "phi4-generate: %s needs a value\n", a);
            bad = 1;
            break;
        }
        i++;
        if (!strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "-p")) prompt = v;
        else if (!strcmp(a, "-s")) system = v;
        else if (!strcmp(a, "-n")) n_predict = strtol(v, NULL, 10);
        else if (!strcmp(a, "-t")) bad = check(ctx, phi_set_int(ctx, PHI_OPT_N_THREADS, atoll(v)), a);
        else if (!strcmp(a, "-c")) bad = check(ctx, phi_set_int(ctx, PHI_OPT_N_CTX, atoll(v)), a);
        else if (!strcmp(a, "--temp")) bad = check(ctx, phi_set_float(ctx, PHI_OPT_TEMPERATURE, atof(v)), a);
        else if (!strcmp(a, "--top-k")) bad = check(ctx, phi_set_int(ctx, PHI_OPT_TOP_K, atoll(v)), a);
        else if (!strcmp(a, "--top-p")) bad = check(ctx, phi_set_float(ctx, PHI_OPT_TOP_P, atof(v)), a);
        else if (!strcmp(a, "--seed")) bad = check(ctx, phi_set_int(ctx, PHI_OPT_SEED, atoll(v)), a);
        else {
            fprintf(stderr, "phi4-generate: unknown option %s\n", a);
            bad = 1;
        }
    }
    if (!bad && !model) {
        usage(stderr);
        bad = 1;
    }
    if (!bad && n_predict < 0) {
        fprintf(stderr, "phi4-generate: -n must be >= 0\n");
        bad = 1;
    }
    if (!bad)
        bad = check(ctx, phi_set_int(ctx, PHI_OPT_MAX_TOKENS, n_predict), "-n") ||
              check(ctx, phi_load(ctx, model), "load");

    if (!bad && raw) {
        phi_token ids[4096];
        size_t n_ids;
        bad = check(ctx, phi_tokenize(ctx, prompt, strlen(prompt), PHI_TOKENIZE_ADD_BOS, ids,
                                      sizeof ids / sizeof ids[0], &n_ids), "prompt") ||
              check(ctx, phi_generate_begin(ctx, ids, n_ids), "generate");
        int32_t channel, rc = PHI_OK;
        const char *text;
        size_t len;
        while (!bad && (rc = phi_generate_next_text(ctx, &channel, &text, &len)) == PHI_OK)
            print_text(NULL, channel, text, len);
        bad = bad || check(ctx, rc, "generate");
    } else if (!bad) {
        phi_chat_message msgs[2] = {{"system", system}, {"user", prompt}};
        bad = check(ctx, phi_generate_chat(ctx, system ? msgs : msgs + 1, system ? 2 : 1, NULL, 0,
                                           print_text, NULL), "generate");
    }
    printf("\n");
    phi_ctx_free(ctx);
    return bad;
}
