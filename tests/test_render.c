#define _POSIX_C_SOURCE 200809L
/* How phi4 writes generated text (examples/render.c): a reasoning model's
 * thinking dimmed on a terminal, tagged elsewhere, or left out, and the
 * style always closed again. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "phi4.h"
#include "render.h"

typedef struct piece {
    int32_t channel;
    const char *text;
} piece;

/* What the renderer writes for the pieces (ending with a NULL text). */
static char *render(bool hide, bool terminal, const piece *pieces)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    text_render r;
    text_render_init(&r, f, hide, terminal);
    for (; pieces->text; pieces++)
        text_render_piece(&r, pieces->channel, pieces->text, strlen(pieces->text));
    text_render_end(&r);
    fclose(f);
    return out;
}

static void check_render(bool hide, bool terminal, const piece *pieces, const char *want)
{
    char *got = render(hide, terminal, pieces);
    if (strcmp(got, want))
        fprintf(stderr, "  hide=%d terminal=%d: got \"%s\", want \"%s\"\n", hide, terminal, got,
                want);
    CHECK(!strcmp(got, want));
    free(got);
}

#define T PHI_CHANNEL_THINKING
#define A PHI_CHANNEL_ANSWER
#define FAINT "\033[2m"
#define RESET "\033[0m"

int main(void)
{
    const piece reasoned[] = {{T, "Two"}, {T, " and two."}, {A, "Four"}, {A, "."}, {0, NULL}};
    check_render(false, true, reasoned, FAINT "Two and two." RESET "Four.");
    check_render(false, false, reasoned, "<think>Two and two.</think>Four.");
    check_render(true, true, reasoned, "Four.");
    check_render(true, false, reasoned, "Four.");

    /* Thinking that the answer never follows is closed at the end. */
    const piece cut[] = {{A, "So: "}, {T, "Hmm"}, {0, NULL}};
    check_render(false, true, cut, "So: " FAINT "Hmm" RESET);
    check_render(false, false, cut, "So: <think>Hmm</think>");
    check_render(true, true, cut, "So: ");

    /* An answer alone is written as it is, on any output. */
    const piece plain[] = {{A, "Hello"}, {A, ", world"}, {0, NULL}};
    check_render(false, true, plain, "Hello, world");
    check_render(false, false, plain, "Hello, world");
    check_render(true, true, plain, "Hello, world");

    /* Back and forth: each stretch of thinking is marked on its own. */
    const piece mixed[] = {{T, "a"}, {A, "b"}, {T, "c"}, {A, "d"}, {0, NULL}};
    check_render(false, true, mixed, FAINT "a" RESET "b" FAINT "c" RESET "d");
    check_render(false, false, mixed, "<think>a</think>b<think>c</think>d");
    check_render(true, false, mixed, "bd");
    return check_report("render");
}
