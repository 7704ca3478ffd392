/* The smallest chat with libphi4: one question, the answer streamed.
 *
 *   cc chat.c $(pkg-config --cflags --libs phi4) -o chat
 *   ./chat model.gguf "Why is the sky blue?"
 */
#include <phi4.h>
#include <stdio.h>

/* Each piece of the answer as it is generated. A reasoning model's thinking
 * comes on PHI_CHANNEL_THINKING; this program leaves it out. */
static int print_piece(void *user, int32_t channel, const char *text, size_t len)
{
    (void)user;
    if (channel == PHI_CHANNEL_ANSWER) {
        fwrite(text, 1, len, stdout);
        fflush(stdout);
    }
    return 0; /* nonzero would stop the answer */
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.gguf PROMPT\n", argv[0]);
        return 1;
    }
    phi_ctx *ctx;
    if (phi_ctx_new(&ctx) != PHI_OK) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    /* Greedy decoding (the same answer every time), at most 256 tokens. */
    int32_t rc = phi_set_float(ctx, PHI_OPT_TEMPERATURE, 0.0);
    if (rc == PHI_OK)
        rc = phi_set_int(ctx, PHI_OPT_MAX_TOKENS, 256);
    if (rc == PHI_OK)
        rc = phi_load(ctx, argv[1]);
    if (rc == PHI_OK) {
        phi_chat_message chat[] = {{"user", argv[2]}};
        rc = phi_generate_chat(ctx, chat, 1, NULL, 0, print_piece, NULL);
        printf("\n");
    }
    if (rc != PHI_OK)
        fprintf(stderr, "%s: %s\n", phi_strerror(rc), phi_errmsg(ctx));
    phi_ctx_free(ctx);
    return rc == PHI_OK ? 0 : 1;
}
