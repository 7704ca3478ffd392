/* What an architecture provides: reading its facts and binding its weights
 * from a source, creating the per-context state (KV cache, recurrent state,
 * activations) and running the forward pass. The API layer knows models only
 * through this table; a new architecture is a new file and a new entry in
 * arch.c's list. */
#ifndef PHI_ARCH_H
#define PHI_ARCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "runtime/pool.h"

typedef struct phi_state_config {
    int32_t n_ctx;    /* positions the state must hold */
    int32_t n_batch;  /* most tokens in one forward call */
    uint32_t kv_type; /* element type of a KV cache: PHI_DT_F32 or PHI_DT_F16 */
} phi_state_config;

/* What a forward pass may use besides the model and its state. */
typedef struct phi_runtime {
    const phi_kernels *k;
    phi_pool *pool;
    const atomic_int *interrupt;  /* nonzero: stop at the next layer */
} phi_runtime;

typedef struct phi_arch {
    const char *name;   /* general.architecture */
    int32_t id;         /* PHI_ARCH_* */

    /* Read hyperparameters from m->src into m->hp, validate them, bind and
     * check every tensor (name, shape, supported type). */
    int (*load)(phi_model *m, const phi_kernels *k, phi_err *err);
    void (*unload)(phi_model *m);

    int (*state_new)(const phi_model *m, const phi_state_config *cfg, void **out, phi_err *err);
    void (*state_free)(const phi_model *m, void *state);
    /* Copy the first n_pos positions of src into dst (same config). */
    void (*state_copy)(const phi_model *m, void *dst, const void *src, int32_t n_pos);

    /* Evaluate n (<= n_batch) tokens at positions pos0 .. pos0+n-1 given that
     * positions < pos0 are cached. seq_len is the length of the sequence the
     * caller is building (>= pos0+n); position-dependent scaling follows it.
     * Logits go to `logits`: n_vocab floats for the last token, or for each
     * token when all_logits. Returns PHI_E_INTERRUPTED when asked to stop. */
    int (*forward)(const phi_model *m, void *state, const phi_runtime *rt,
                   const int32_t *tokens, int32_t n, int32_t pos0, int32_t seq_len,
                   float *logits, bool all_logits, phi_err *err);

    /* True when the cached_len positions in the state cannot serve a sequence
     * that is new_len long, and everything must be evaluated again (LongRoPE
     * switching factor sets; a recurrent state that cannot be truncated). */
    bool (*must_recompute)(const phi_model *m, const void *state, int32_t cached_len,
                           int32_t new_len);
} phi_arch;

/* The architecture named by general.architecture; NULL if unknown. */
const phi_arch *phi_arch_find(phi_str name);

#endif
