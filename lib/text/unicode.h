/* Unicode character classes for the pre-tokenizer (strict UTF-8 decoding
 * comes with it, from core/utf8.h). The class tables are generated (tools/gen_unicode.py) from the
 * same engine the reference tokenizer runs on; see unicode_tables.c. */
#ifndef PHI_TEXT_UNICODE_H
#define PHI_TEXT_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/utf8.h"

/* General-category flags (exactly one of the L/M/N ones for an assigned
 * letter, mark or number) plus the regex \s, as ECMAScript defines it:
 * White_Space without U+0085 but with U+FEFF. */
enum {
    PHI_UC_LU = 1 << 0,
    PHI_UC_LL = 1 << 1,
    PHI_UC_LT = 1 << 2,
    PHI_UC_LM = 1 << 3,
    PHI_UC_LO = 1 << 4,
    PHI_UC_M = 1 << 5,
    PHI_UC_N = 1 << 6,
    PHI_UC_SPACE = 1 << 7,
    PHI_UC_L = PHI_UC_LU | PHI_UC_LL | PHI_UC_LT | PHI_UC_LM | PHI_UC_LO,
};

#define PHI_UNICODE_BLOCK 128
extern const uint16_t phi_unicode_block_index[0x110000 / PHI_UNICODE_BLOCK];
extern const uint8_t phi_unicode_blocks[][PHI_UNICODE_BLOCK];

/* Flags of a code point; 0 for unassigned ones and anything above U+10FFFF. */
static inline uint32_t phi_unicode_flags(uint32_t cp)
{
    if (cp >= 0x110000)
        return 0;
    return phi_unicode_blocks[phi_unicode_block_index[cp / PHI_UNICODE_BLOCK]][cp % PHI_UNICODE_BLOCK];
}

#endif
