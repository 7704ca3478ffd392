/* The Phi-4 chat formats: which one a model's chat template names, and a
 * conversation written in it. Rendering produces segments, each either
 * format markers (tokenized with special tokens recognised) or message text
 * (never), so the same walk gives the prompt text and its tokens. */
#ifndef PHI_TEXT_CHAT_H
#define PHI_TEXT_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "phi4.h"
#include "text/tokenizer.h"

/* The format a chat template names (PHI_CHAT_FORMAT_*), or
 * PHI_CHAT_FORMAT_AUTO when it is none of them. The template is matched by
 * the markers it writes, not run: Jinja is not interpreted here. */
int phi_chat_detect(const char *tmpl, size_t len);

/* The format a vocabulary's special tokens imply, for models that ship no
 * template; AUTO when they imply none. */
int phi_chat_detect_from_vocab(const phi_tokenizer *t);

/* The first marker of `format` that is not a special token of t, or NULL
 * when the vocabulary has them all. */
const char *phi_chat_missing_marker(int format, const phi_tokenizer *t);

/* Called once per segment, in order; a nonzero return stops the walk and is
 * returned by phi_chat_render. */
typedef int (*phi_chat_sink)(void *user, const char *text, size_t len, bool markers);

/* Walk a conversation in `format` (not AUTO). flags: PHI_CHAT_*. Errors:
 * PHI_E_INVALID_ARG for a NULL or non-UTF-8 role/content/tools, a role the
 * format has no place for, or tools in a format without them. */
int phi_chat_render(int format, const phi_chat_message *msgs, size_t n, const char *tools,
                    uint32_t flags, phi_chat_sink sink, void *user, phi_err *err);

/* The conversation's tokens: markers with special tokens recognised, text
 * without, and white space next to a marker token with lstrip/rstrip dropped
 * as it would be if the whole prompt were tokenized at once. Two-call
 * convention (PHI_E_BUFFER_TOO_SMALL with *n_out = the count needed). */
int phi_chat_encode(const phi_tokenizer *t, const phi_mem *mem, int format,
                    const phi_chat_message *msgs, size_t n, const char *tools, uint32_t flags,
                    int32_t *out, size_t cap, size_t *n_out, phi_err *err);

/* The recommended system prompt of a reasoning format, or NULL. */
const char *phi_chat_default_system(int format);

#endif
