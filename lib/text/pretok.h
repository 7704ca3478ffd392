/* Pre-tokenization: splitting text into the pieces BPE works on, exactly as
 * tiktoken's split regexes do (leftmost match, alternatives tried in order,
 * backtracking), implemented by hand without a regex engine.
 *
 * Invalid UTF-8: each byte that does not start a well-formed sequence is one
 * "character" of its own that belongs to no class (not a letter, number or
 * space), i.e. it behaves like punctuation. Bytes are never replaced, so
 * every byte string splits into pieces that concatenate back to it. */
#ifndef PHI_TEXT_PRETOK_H
#define PHI_TEXT_PRETOK_H

#include <stddef.h>
#include <stdint.h>

typedef enum phi_pretok_kind {
    /* cl100k_base / llama3 / dbrx (Phi-4):
     * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
     *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
    PHI_PRETOK_CL100K,
    /* o200k_base / gpt-4o (Phi-4-mini):
     * [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|...|'d)?|
     * [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|...|'d)?|
     * \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
    PHI_PRETOK_O200K,
} phi_pretok_kind;

/* The reference is js-tiktoken on node 20 (V8 + ICU, Unicode 17.0), and
 * where the regex engines of other implementations read the patterns
 * differently, this follows it:
 * - contractions are case-insensitive over ASCII only, as js-tiktoken spells
 *   them out ('s|'S|...|'LL|...); Rust's (?i:) would also take "'\u017F";
 * - \s is ECMAScript's: U+FEFF is a space, U+0085 is not (Unicode
 *   White_Space, which Rust uses, says the opposite);
 * - letters, marks and numbers are Unicode 17.0's. */

/* Byte length (>= 1) of the piece starting at text[pos], pos < len, where
 * text[0..len) is the whole chunk (lookahead stops at len). */
size_t phi_pretok_next(phi_pretok_kind kind, const uint8_t *text, size_t len, size_t pos);

#endif
