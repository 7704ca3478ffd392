/* A program built against the installed library through pkg-config. */
#include <phi4.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (phi_version_number() != PHI4_VERSION_NUMBER || phi_abi_version() != PHI4_ABI_VERSION) {
        fprintf(stderr, "header %s does not match library %s\n", PHI4_VERSION_STRING,
                phi_version_string());
        return 1;
    }
    phi_ctx *ctx;
    if (phi_ctx_new(&ctx) != PHI_OK)
        return 1;
    int rc = 0;
    if (argc > 1) {
        phi_token prompt[1] = {1}, next;
        rc = phi_load(ctx, argv[1]) != PHI_OK || phi_eval(ctx, prompt, 1) != PHI_OK ||
             phi_sample(ctx, &next) != PHI_OK;
        if (rc)
            fprintf(stderr, "consumer: %s\n", phi_errmsg(ctx));
        else
            printf("consumer: libphi4 %s, next token %d\n", phi_version_string(), next);
    }
    phi_ctx_free(ctx);
    return rc;
}
