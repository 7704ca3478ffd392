#include "render.h"

#include "phi4.h"

#define STYLE_FAINT "\033[2m"
#define STYLE_RESET "\033[0m"

void text_render_init(text_render *r, FILE *out, bool hide_thinking, bool terminal)
{
    *r = (text_render){out, hide_thinking, terminal, false};
}

void text_render_end(text_render *r)
{
    if (r->in_thinking)
        fputs(r->terminal ? STYLE_RESET : "</think>", r->out);
    r->in_thinking = false;
    fflush(r->out);
}

void text_render_piece(text_render *r, int32_t channel, const char *text, size_t len)
{
    bool thinking = channel == PHI_CHANNEL_THINKING;
    if (thinking && r->hide_thinking)
        return;
    if (thinking && !r->in_thinking)
        fputs(r->terminal ? STYLE_FAINT : "<think>", r->out);
    if (!thinking)
        text_render_end(r);
    r->in_thinking = thinking;
    fwrite(text, 1, len, r->out);
    fflush(r->out);
}
