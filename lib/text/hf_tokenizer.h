/* Hugging Face tokenizer.json, read into the format-neutral vocabulary
 * description the tokenizer is built from (text/tokenizer.h). What Phi-4
 * and Phi-4-mini ship is accepted: a byte-level BPE model whose
 * pre-tokenizer is a Split on the cl100k or o200k pattern followed by
 * ByteLevel without its own regex, no normalizer, a ByteLevel decoder.
 * Anything else that is well-formed is PHI_E_UNSUPPORTED with a message
 * naming what was found; malformed files are PHI_E_FORMAT.
 *
 * Token ids: model.vocab and added_tokens together must give every id from
 * 0 to the largest exactly once, except that an added token may take over
 * an id model.vocab also gives (the HF converters list specials in both).
 * Added tokens become control tokens (special: true) or user-defined ones
 * (special: false) spelled as their raw text, with lstrip/rstrip as
 * PHI_TOKEN_ATTR_*: both kinds are matched whole when the caller parses
 * special tokens, which is what Hugging Face does with added tokens.
 *
 * The model's ignore_merges is accepted either way: the tokenizer takes a
 * piece that is a token as a whole as that token (tiktoken's rule, HF's
 * ignore_merges: true), and with ignore_merges: false HF reaches the same
 * token by merging whenever every token's merges lead back to it, which
 * holds for every token of cl100k and o200k. byte_fallback is accepted: a
 * byte-level vocabulary has a token for every byte (the tokenizer checks),
 * so it never falls back. */
#ifndef PHI_TEXT_HF_TOKENIZER_H
#define PHI_TEXT_HF_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "text/tokenizer.h"

typedef struct phi_hf_tokenizer phi_hf_tokenizer;

/* Parse tokenizer.json from json[0..len) (the result does not point into
 * it). PHI_E_FORMAT, PHI_E_UNSUPPORTED, PHI_E_NOMEM; messages start with
 * "tokenizer.json: ". */
int phi_hf_tokenizer_read(const phi_mem *mem, const char *json, size_t len, phi_hf_tokenizer **out,
                          phi_err *err);
void phi_hf_tokenizer_free(phi_hf_tokenizer *t);

/* The vocabulary, for phi_tokenizer_new; valid while t lives. */
const phi_vocab_desc *phi_hf_tokenizer_desc(const phi_hf_tokenizer *t);

/* The id of the added token whose content is exactly text[0..len) (how
 * tokenizer_config.json names bos/eos/pad), or -1 if there is none. */
int32_t phi_hf_tokenizer_added_id(const phi_hf_tokenizer *t, const char *text, size_t len);

#endif
