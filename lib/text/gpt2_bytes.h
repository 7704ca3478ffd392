/* GPT-2's byte-to-unicode mapping, in which byte-level BPE vocabularies
 * (GGUF "gpt2" model, Hugging Face ByteLevel) spell their tokens: printable
 * bytes stand for themselves, the other 68 bytes are shifted to U+0100..
 * U+0143 in byte order (so a space is 'Ġ' U+0120 and a newline 'Ċ' U+010A). */
#ifndef PHI_TEXT_GPT2_BYTES_H
#define PHI_TEXT_GPT2_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decode a token string to the bytes it stands for. out needs room for len
 * bytes (decoding never grows). False if the string is not in that form. */
bool phi_gpt2_decode(const char *s, size_t len, uint8_t *out, size_t *out_len);

#endif
