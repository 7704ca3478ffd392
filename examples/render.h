/* How phi4 writes generated text: the answer as it is; a reasoning model's
 * thinking dimmed on a terminal, between <think> and </think> elsewhere (as
 * the model wrote it), or left out. */
#ifndef PHI_EXAMPLES_RENDER_H
#define PHI_EXAMPLES_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct text_render {
    FILE *out;
    bool hide_thinking;
    bool terminal;   /* ANSI styles allowed */
    bool in_thinking; /* the last piece written was thinking */
} text_render;

void text_render_init(text_render *r, FILE *out, bool hide_thinking, bool terminal);
/* One piece of text on a PHI_CHANNEL_*. */
void text_render_piece(text_render *r, int32_t channel, const char *text, size_t len);
/* Close what a piece left open (the dim style, the </think>). */
void text_render_end(text_render *r);

#endif
