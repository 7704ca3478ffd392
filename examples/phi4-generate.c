/* phi4-generate: open a GGUF model, evaluate a prompt of token ids and print
 * the generated token ids, one line. Text in and out arrives with the
 * tokenizer; until then this shows the whole token-level pipeline.
 *
 *   phi4-generate -m model.gguf [-p 1,2,3] [-n 32] [-t threads] [-c ctx]
 *                 [--temp 0.8] [--top-k 40] [--top-p 0.95] [--seed 42]
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
            "  -p IDS        prompt as comma-separated token ids (default: the BOS or EOS token)\n"
            "  -n N          tokens to generate (default 32)\n"
            "  -t N          threads (default: all CPUs)\n"
            "  -c N          context length (default: min(trained, 4096))\n"
            "  --temp X      temperature; 0 = greedy (default 0.8)\n"
            "  --top-k N     top-k (default 40)\n"
            "  --top-p X     top-p (default 0.95)\n"
            "  --seed N      random seed (default: from the clock)\n");
}

static int parse_ids(const char *s, phi_token *ids, size_t cap, size_t *n)
{
    *n = 0;
    while (*s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 0 || v > INT32_MAX || *n == cap)
            return -1;
        ids[(*n)++] = (phi_token)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return 0;
}

static int print_token(void *user, phi_token tok)
{
    int *count = user;
    printf("%s%d", (*count)++ ? " " : "", tok);
    fflush(stdout);
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
    const char *model = NULL, *prompt = NULL;
    long n_predict = 32;
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
        if (!v) {
            fprintf(stderr, "phi4-generate: %s needs a value\n", a);
            bad = 1;
            break;
        }
        i++;
        if (!strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "-p")) prompt = v;
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

    phi_token ids[4096];
    size_t n_ids = 0;
    if (!bad && prompt && parse_ids(prompt, ids, sizeof ids / sizeof ids[0], &n_ids) != 0) {
        fprintf(stderr, "phi4-generate: -p wants comma-separated token ids\n");
        bad = 1;
    }
    if (!bad && n_ids == 0) {
        int64_t bos = -1, eos = -1;
        phi_info_int(ctx, PHI_INFO_TOKEN_BOS, &bos);
        phi_info_int(ctx, PHI_INFO_TOKEN_EOS, &eos);
        ids[n_ids++] = (phi_token)(bos >= 0 ? bos : eos >= 0 ? eos : 0);
    }
    int count = 0;
    if (!bad && n_predict > 0) {
        bad = check(ctx, phi_generate(ctx, ids, n_ids, print_token, &count), "generate");
        printf("\n");
    }
    phi_ctx_free(ctx);
    return bad;
}
