/* A loaded model: the source it came from, the architecture that runs it, its
 * facts and its vocabulary. Immutable once loaded and shared (reference
 * counted) by every context forked from the one that loaded it. */
#ifndef PHI_MODEL_H
#define PHI_MODEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "format/source.h"

struct phi_arch;
struct phi_kernels;
struct phi_tokenizer;

/* Facts every architecture reports (phi_info_int). */
typedef struct phi_hparams {
    int64_t n_vocab;
    int64_t n_ctx_train;
    int64_t n_embd;
    int64_t n_layer;
    int64_t n_head;
    int64_t n_head_kv;
    int64_t head_dim;
    int64_t n_ff;
    int64_t n_rot;
    int64_t n_params;
} phi_hparams;

#define PHI_MAX_EOG 8

typedef struct phi_vocab {
    int64_t n_tokens;
    const phi_str *tokens;   /* byte-level BPE strings, views into the source */
    const phi_meta *types;   /* tokenizer.ggml.token_type, or NULL */
    int32_t bos, eos, eot, pad;  /* -1 when absent */
    int32_t eog[PHI_MAX_EOG];    /* tokens that end generation */
    int n_eog;
} phi_vocab;

typedef struct phi_model {
    atomic_int refs;
    phi_mem mem;
    phi_source *src;
    const struct phi_arch *arch;
    void *weights;         /* architecture-owned */
    phi_hparams hp;
    phi_vocab vocab;
    struct phi_tokenizer *tokenizer;  /* NULL when this build can't run the file's tokenizer: */
    char tokenizer_error[PHI_ERRMSG_MAX]; /* ... this says why */
    phi_str chat_template;            /* tokenizer.chat_template, or empty */
    int chat_format;                  /* PHI_CHAT_FORMAT_* it names; AUTO when none */
    char name[128];        /* general.name */
    size_t weight_bytes;
} phi_model;

/* Open a model file (format sniffed), pick its architecture, validate and
 * bind; progress (may be NULL) follows a read into memory. The model starts
 * with one reference. */
int phi_model_load(const phi_mem *mem, const char *path, bool use_mmap,
                   const phi_read_progress *progress, const struct phi_kernels *k,
                   phi_model **out, phi_err *err);
void phi_model_retain(phi_model *m);
void phi_model_release(phi_model *m);
bool phi_model_is_eog(const phi_model *m, int32_t token);

#endif
