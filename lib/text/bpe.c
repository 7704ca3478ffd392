#include "text/bpe.h"

#include <string.h>

#include "phi4.h"

struct phi_pair_slot {
    uint64_t key; /* left << 32 | right; EMPTY_PAIR if free */
    int32_t rank;
    int32_t merged;
};

#define EMPTY_PAIR UINT64_MAX

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h ^ (h >> 29);
}

static uint64_t hash_pair(uint64_t key)
{
    key ^= key >> 33; /* murmur3 finalizer */
    key *= 0xff51afd7ed558ccdu;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53u;
    return key ^ (key >> 33);
}

/* A power of two at least twice n, so probes stay short. */
static uint64_t table_size(uint64_t n)
{
    uint64_t size = 64;
    while (size < 2 * n)
        size *= 2;
    return size;
}

static const uint8_t *piece_of(const phi_pieces *p, int32_t id, size_t *len)
{
    *len = (size_t)(p->off[id + 1] - p->off[id]);
    return p->bytes + p->off[id];
}

int32_t phi_bpe_lookup(const phi_bpe *b, const uint8_t *bytes, size_t len)
{
    for (uint64_t i = hash_bytes(bytes, len) & b->token_mask;; i = (i + 1) & b->token_mask) {
        int32_t id = b->token_slots[i];
        if (id < 0)
            return -1;
        size_t n;
        const uint8_t *p = piece_of(b->pieces, id, &n);
        if (n == len && memcmp(p, bytes, len) == 0)
            return id;
    }
}

static const phi_pair_slot *find_pair(const phi_bpe *b, int32_t left, int32_t right)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (uint64_t i = hash_pair(key) & b->pair_mask;; i = (i + 1) & b->pair_mask) {
        const phi_pair_slot *s = &b->pair_slots[i];
        if (s->key == key || s->key == EMPTY_PAIR)
            return s;
    }
}

int phi_bpe_init(phi_bpe *b, const phi_mem *mem, const phi_pieces *pieces, const bool *is_bpe,
                 uint64_t n_merges, phi_err *err)
{
    memset(b, 0, sizeof *b);
    b->mem = *mem;
    b->pieces = pieces;
    uint64_t n_slots = table_size((uint64_t)pieces->n);
    uint64_t n_pair_slots = table_size(n_merges);
    b->token_slots = phi_alloc_array(mem, n_slots, sizeof *b->token_slots);
    b->pair_slots = phi_alloc_array(mem, n_pair_slots, sizeof *b->pair_slots);
    if (!b->token_slots || !b->pair_slots) {
        phi_bpe_free(b);
        return phi_err_set(err, PHI_E_NOMEM, "tokenizer: out of memory for the vocabulary tables");
    }
    b->token_mask = n_slots - 1;
    b->pair_mask = n_pair_slots - 1;
    memset(b->token_slots, 0xff, n_slots * sizeof *b->token_slots);
    for (uint64_t i = 0; i < n_pair_slots; i++)
        b->pair_slots[i] = (phi_pair_slot){EMPTY_PAIR, 0, 0};

    for (int32_t id = 0; id < pieces->n; id++) {
        if (!is_bpe[id])
            continue;
        size_t len;
        const uint8_t *p = piece_of(pieces, id, &len);
        uint64_t i = hash_bytes(p, len) & b->token_mask;
        while (b->token_slots[i] >= 0) {
            size_t n;
            const uint8_t *q = piece_of(pieces, b->token_slots[i], &n);
            if (n == len && memcmp(p, q, len) == 0)
                break; /* an earlier token spells the same */
            i = (i + 1) & b->token_mask;
        }
        if (b->token_slots[i] < 0)
            b->token_slots[i] = id;
    }
    for (int byte = 0; byte < 256; byte++) {
        uint8_t c = (uint8_t)byte;
        b->byte_token[byte] = phi_bpe_lookup(b, &c, 1);
        if (b->byte_token[byte] < 0) {
            phi_bpe_free(b);
            return phi_err_set(err, PHI_E_UNSUPPORTED,
                               "tokenizer: byte 0x%02x has no token; not a byte-level BPE vocabulary",
                               byte);
        }
    }
    return PHI_OK;
}

void phi_bpe_add_merge(phi_bpe *b, int32_t left, int32_t right, int32_t merged, int32_t rank)
{
    phi_pair_slot *s = (phi_pair_slot *)find_pair(b, left, right);
    if (s->key == EMPTY_PAIR)
        *s = (phi_pair_slot){(uint64_t)(uint32_t)left << 32 | (uint32_t)right, rank, merged};
}

void phi_bpe_free(phi_bpe *b)
{
    phi_free(&b->mem, b->token_slots);
    phi_free(&b->mem, b->pair_slots);
    b->token_slots = NULL;
    b->pair_slots = NULL;
}

/* ---- the merge loop ---- */

/* A symbol of the piece being merged, in a doubly linked list. */
struct phi_bpe_symbol {
    int32_t id;
    int32_t prev, next; /* -1 at the ends */
};

/* A possible merge of symbol `left` with its right neighbour. Entries go
 * stale when either side merges elsewhere; they are checked when popped. */
struct phi_bpe_candidate {
    int32_t rank;
    int32_t left;
    int32_t left_id, right_id, merged;
};

static bool before(const struct phi_bpe_candidate *a, const struct phi_bpe_candidate *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->left < b->left;
}

static void heap_push(struct phi_bpe_candidate *h, size_t *n, struct phi_bpe_candidate c)
{
    size_t i = (*n)++;
    while (i > 0 && before(&c, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = c;
}

static struct phi_bpe_candidate heap_pop(struct phi_bpe_candidate *h, size_t *n)
{
    struct phi_bpe_candidate top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *n)
            break;
        if (child + 1 < *n && before(&h[child + 1], &h[child]))
            child++;
        if (!before(&h[child], &last))
            break;
        h[i] = h[child];
        i = child;
    }
    if (*n > 0)
        h[i] = last;
    return top;
}

static void push_candidate(const phi_bpe *b, const struct phi_bpe_symbol *sym, int32_t left,
                           struct phi_bpe_candidate *heap, size_t *n_heap)
{
    if (left < 0 || sym[left].next < 0)
        return;
    int32_t right_id = sym[sym[left].next].id;
    const phi_pair_slot *s = find_pair(b, sym[left].id, right_id);
    if (s->key == EMPTY_PAIR)
        return;
    heap_push(heap, n_heap,
              (struct phi_bpe_candidate){s->rank, left, sym[left].id, right_id, s->merged});
}

static int reserve(phi_bpe_scratch *s, size_t n, phi_err *err)
{
    if (n <= s->cap)
        return PHI_OK;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < n)
        cap *= 2;
    phi_bpe_scratch grown = {s->mem, NULL, NULL, NULL, cap};
    grown.symbols = phi_alloc_array(s->mem, cap, sizeof *grown.symbols);
    grown.heap = phi_alloc_array(s->mem, 2 * cap, sizeof *grown.heap);
    grown.ids = phi_alloc_array(s->mem, cap, sizeof *grown.ids);
    if (!grown.symbols || !grown.heap || !grown.ids || cap > INT32_MAX) {
        phi_bpe_scratch_free(&grown);
        return phi_err_set(err, PHI_E_NOMEM, "tokenizer: out of memory for a %zu-byte piece", n);
    }
    phi_bpe_scratch_free(s);
    *s = grown;
    return PHI_OK;
}

void phi_bpe_scratch_free(phi_bpe_scratch *s)
{
    phi_free(s->mem, s->symbols);
    phi_free(s->mem, s->heap);
    phi_free(s->mem, s->ids);
    s->symbols = NULL;
    s->heap = NULL;
    s->ids = NULL;
    s->cap = 0;
}

int phi_bpe_encode(const phi_bpe *b, phi_bpe_scratch *s, const uint8_t *piece, size_t len,
                   const int32_t **ids, size_t *n_ids, phi_err *err)
{
    int rc = reserve(s, len > 0 ? len : 1, err);
    if (rc != PHI_OK)
        return rc;
    *ids = s->ids;
    int32_t whole = len > 1 ? phi_bpe_lookup(b, piece, len) : -1;
    if (len <= 1 || whole >= 0) {
        *n_ids = len == 0 ? 0 : 1;
        s->ids[0] = len == 1 ? b->byte_token[piece[0]] : whole;
        return PHI_OK;
    }

    struct phi_bpe_symbol *sym = s->symbols;
    for (size_t i = 0; i < len; i++)
        sym[i] = (struct phi_bpe_symbol){b->byte_token[piece[i]], (int32_t)i - 1,
                                         i + 1 < len ? (int32_t)i + 1 : -1};
    size_t n_heap = 0;
    for (size_t i = 0; i + 1 < len; i++)
        push_candidate(b, sym, (int32_t)i, s->heap, &n_heap);

    /* The heap starts with len - 1 entries and each of the at most len - 1
     * merges pops one and pushes two, so it holds fewer than 2 * len. */
    while (n_heap > 0) {
        struct phi_bpe_candidate c = heap_pop(s->heap, &n_heap);
        struct phi_bpe_symbol *l = &sym[c.left];
        if (l->id != c.left_id || l->next < 0 || sym[l->next].id != c.right_id)
            continue; /* stale */
        struct phi_bpe_symbol *r = &sym[l->next];
        l->id = c.merged;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = c.left;
        r->id = -1; /* dead: no candidate can match it again */
        push_candidate(b, sym, l->prev, s->heap, &n_heap);
        push_candidate(b, sym, c.left, s->heap, &n_heap);
    }
    size_t n = 0;
    for (int32_t i = 0; i >= 0; i = sym[i].next)
        s->ids[n++] = sym[i].id;
    *n_ids = n;
    return PHI_OK;
}
