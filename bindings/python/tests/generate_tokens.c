/* generate-tokens: what the C API generates, for the Python binding's tests
 * to compare with. Loads MODEL, sets the seed, temperature and token limit,
 * runs phi_generate_begin/next over the prompt's token ids and prints the
 * ids of the generated tokens (the evaluated ones: not a final
 * end-of-generation token) on one line:
 *
 *   generate-tokens MODEL SEED TEMPERATURE MAX_TOKENS ID... */
#include <stdio.h>
#include <stdlib.h>

#include "phi4.h"

static int fail(phi_ctx *ctx, const char *what)
{
    fprintf(stderr, "generate-tokens: %s: %s\n", what, phi_errmsg(ctx));
    phi_ctx_free(ctx);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: generate-tokens MODEL SEED TEMPERATURE MAX_TOKENS ID...\n");
        return 2;
    }
    size_t n_prompt = (size_t)argc - 5;
    phi_token *prompt = malloc(n_prompt * sizeof *prompt);
    phi_ctx *ctx;
    if (!prompt || phi_ctx_new(&ctx) != PHI_OK) {
        free(prompt);
        return 1;
    }
    for (size_t i = 0; i < n_prompt; i++)
        prompt[i] = (phi_token)atol(argv[5 + i]);
    int rc = 1;
    if (phi_set_int(ctx, PHI_OPT_SEED, atoll(argv[2])) != PHI_OK ||
        phi_set_float(ctx, PHI_OPT_TEMPERATURE, atof(argv[3])) != PHI_OK ||
        phi_set_int(ctx, PHI_OPT_MAX_TOKENS, atoll(argv[4])) != PHI_OK)
        rc = fail(ctx, "options");
    else if (phi_load(ctx, argv[1]) != PHI_OK)
        rc = fail(ctx, "load");
    else if (phi_generate_begin(ctx, prompt, n_prompt) != PHI_OK)
        rc = fail(ctx, "prompt");
    else {
        phi_token token;
        int32_t status;
        const char *sep = "";
        while ((status = phi_generate_next(ctx, &token)) == PHI_OK) {
            printf("%s%d", sep, (int)token);
            sep = " ";
        }
        printf("\n");
        rc = status == PHI_DONE ? 0 : fail(ctx, "generate");
        if (rc == 0)
            phi_ctx_free(ctx);
    }
    free(prompt);
    return rc;
}
