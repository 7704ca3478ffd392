/* Byte-level BPE: the vocabulary's lookup tables and the merge loop that
 * turns one pre-tokenized piece into token ids. */
#ifndef PHI_TEXT_BPE_H
#define PHI_TEXT_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"

/* The bytes every token stands for: token i is bytes[off[i] .. off[i+1]). */
typedef struct phi_pieces {
    uint8_t *bytes;
    uint64_t *off;
    int32_t n;
} phi_pieces;

typedef struct phi_pair_slot phi_pair_slot;

typedef struct phi_bpe {
    phi_mem mem;
    const phi_pieces *pieces;
    int32_t *token_slots;      /* open addressing, bytes -> id; -1 empty */
    uint64_t token_mask;
    phi_pair_slot *pair_slots; /* open addressing, (left, right) -> rank, merged */
    uint64_t pair_mask;
    int32_t byte_token[256];
} phi_bpe;

/* Index the tokens for which is_bpe[i] is true (the byte-level ones; the
 * first of equal spellings wins). Every single byte must be such a token. */
int phi_bpe_init(phi_bpe *b, const phi_mem *mem, const phi_pieces *pieces, const bool *is_bpe,
                 uint64_t n_merges, phi_err *err);
/* Register the merge of tokens left and right into token merged, with the
 * given rank (lower merges first). A pair already known keeps its rank. */
void phi_bpe_add_merge(phi_bpe *b, int32_t left, int32_t right, int32_t merged, int32_t rank);
void phi_bpe_free(phi_bpe *b);

/* The id of the token spelling bytes[0..len) exactly, or -1. */
int32_t phi_bpe_lookup(const phi_bpe *b, const uint8_t *bytes, size_t len);

/* Working memory of one encode call, grown as needed. */
typedef struct phi_bpe_scratch {
    const phi_mem *mem;
    struct phi_bpe_symbol *symbols;
    struct phi_bpe_candidate *heap;
    int32_t *ids;
    size_t cap;
} phi_bpe_scratch;

void phi_bpe_scratch_free(phi_bpe_scratch *s);

/* Encode one piece: repeatedly merge the adjacent pair of lowest rank (the
 * leftmost among equals), as tiktoken does; a piece that is a token as a
 * whole is that token. *ids points into the scratch until the next call. */
int phi_bpe_encode(const phi_bpe *b, phi_bpe_scratch *s, const uint8_t *piece, size_t len,
                   const int32_t **ids, size_t *n_ids, phi_err *err);

#endif
