/* phi4-logits: the C side of the reference comparison (tests/ref/). Runs a
 * plan of phi_eval / phi_kv_truncate steps over a token list through the
 * public API and writes every row of logits it gets, with the position and
 * the sequence length at which it was computed:
 *
 *   phi4-logits MODEL OUT.bin --tokens 5,17,3 --plan e2,t1,e2*3
 *               [--threads N] [--ctx N] [--batch N] [--kernel NAME] [--kv-type f32|f16]
 *               [--no-mmap]
 *
 * OUT.bin: "PHLG", u32 version 1, u32 n_vocab, u32 n_rows, then per row
 * i32 pos, i32 seq_len, i32 token, f32 logits[n_vocab]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phi4.h"

static int die(phi_ctx *ctx, const char *what)
{
    fprintf(stderr, "phi4-logits: %s: %s\n", what, ctx ? phi_errmsg(ctx) : "error");
    phi_ctx_free(ctx);
    return 1;
}

static size_t parse_list(const char *s, int32_t **out)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    int32_t *v = malloc(n * sizeof *v);
    size_t i = 0;
    for (char *end; *s; s = *end ? end + 1 : end)
        v[i++] = (int32_t)strtol(s, &end, 10);
    *out = v;
    return i;
}

static int kernel_level(const char *name)
{
    static const char *const names[] = {"auto", "scalar", "avx2", "avx512", "neon", "neon-dotprod"};
    for (int i = 0; i < 6; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: phi4-logits MODEL OUT.bin --tokens IDS --plan PLAN [...]\n");
        return 2;
    }
    phi_ctx *ctx;
    if (phi_ctx_new(&ctx) != PHI_OK)
        return 1;
    const char *tokens_arg = NULL, *plan = NULL;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        int32_t rc = PHI_OK;
        if (strcmp(a, "--no-mmap") != 0)
            i++;
        if (!strcmp(a, "--tokens")) tokens_arg = v;
        else if (!strcmp(a, "--plan")) plan = v;
        else if (!strcmp(a, "--threads")) rc = phi_set_int(ctx, PHI_OPT_N_THREADS, atoll(v));
        else if (!strcmp(a, "--ctx")) rc = phi_set_int(ctx, PHI_OPT_N_CTX, atoll(v));
        else if (!strcmp(a, "--batch")) rc = phi_set_int(ctx, PHI_OPT_N_BATCH, atoll(v));
        else if (!strcmp(a, "--kernel")) rc = phi_set_int(ctx, PHI_OPT_KERNEL, kernel_level(v));
        else if (!strcmp(a, "--kv-type"))
            rc = phi_set_int(ctx, PHI_OPT_KV_TYPE, !strcmp(v, "f32") ? PHI_KV_F32
                                                  : !strcmp(v, "f16") ? PHI_KV_F16 : -1);
        else if (!strcmp(a, "--no-mmap")) rc = phi_set_int(ctx, PHI_OPT_USE_MMAP, 0);
        else { fprintf(stderr, "phi4-logits: unknown option %s\n", a); return 2; }
        if (rc != PHI_OK)
            return die(ctx, a);
    }
    if (!tokens_arg || !plan) {
        fprintf(stderr, "phi4-logits: --tokens and --plan are required\n");
        return 2;
    }
    if (phi_set_int(ctx, PHI_OPT_LOGITS_ALL, 1) != PHI_OK || phi_load(ctx, argv[1]) != PHI_OK)
        return die(ctx, "load");
    int64_t n_vocab;
    phi_info_int(ctx, PHI_INFO_N_VOCAB, &n_vocab);
    int32_t *tokens;
    size_t n_tokens = parse_list(tokens_arg, &tokens);

    FILE *out = fopen(argv[2], "wb");
    if (!out)
        return die(ctx, "cannot open output");
    uint32_t header[4] = {0, 1, (uint32_t)n_vocab, 0};
    memcpy(header, "PHLG", 4);
    fwrite(header, sizeof header, 1, out);
    uint32_t n_rows = 0;
    size_t cursor = 0;
    for (const char *p = plan; *p;) {
        char op = *p++;
        char *end;
        long arg = strtol(p, &end, 10);
        long repeat = 1;
        if (*end == '*')
            repeat = strtol(end + 1, &end, 10);
        p = *end == ',' ? end + 1 : end;
        for (long r = 0; r < repeat; r++) {
            if (op == 't') {
                if (phi_kv_truncate(ctx, (int32_t)arg) != PHI_OK)
                    return die(ctx, "truncate");
                cursor = (size_t)arg;
                continue;
            }
            if (op != 'e' || cursor + (size_t)arg > n_tokens) {
                fprintf(stderr, "phi4-logits: bad plan step %c%ld at token %zu\n", op, arg, cursor);
                return 2;
            }
            if (phi_eval(ctx, tokens + cursor, (size_t)arg) != PHI_OK)
                return die(ctx, "eval");
            int32_t seq_len = phi_kv_pos(ctx);
            for (long i = 0; i < arg; i++) {
                const float *row = phi_logits_at(ctx, (size_t)i);
                if (!row)
                    return die(ctx, "logits");
                int32_t rec[3] = {(int32_t)(cursor + i), seq_len, tokens[cursor + i]};
                fwrite(rec, sizeof rec, 1, out);
                fwrite(row, sizeof(float), (size_t)n_vocab, out);
                n_rows++;
            }
            cursor += (size_t)arg;
        }
    }
    fseek(out, 12, SEEK_SET);
    fwrite(&n_rows, 4, 1, out);
    fclose(out);
    free(tokens);
    phi_ctx_free(ctx);
    return 0;
}
