/* The phi3 architecture: Phi-4 (14B), Phi-4-reasoning(-plus), Phi-4-mini and
 * Phi-4-mini-reasoning. A pre-norm decoder: RMSNorm, fused QKV, NEOX RoPE on
 * the first n_rot dims of each head (LongRoPE factors and attn_factor for the
 * mini models), grouped-query attention over a KV cache, fused gate‖up
 * SwiGLU, tied or untied output. Spec: ../shared/docs/gguf-and-quants.md §4
 * and phi4-family.md §1–2. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/ops.h"
#include "phi4.h"

enum factor_set { FACTORS_SHORT = 0, FACTORS_LONG = 1 };

typedef struct {
    float *attn_norm;            /* [n_embd] */
    const phi_tensor *attn_qkv;  /* [n_embd] -> [q_dim + 2 kv_dim], rows Q, K, V */
    const phi_tensor *attn_out;  /* [q_dim] -> [n_embd] */
    float *ffn_norm;             /* [n_embd] */
    const phi_tensor *ffn_up;    /* [n_embd] -> [2 n_ff], rows gate then up */
    const phi_tensor *ffn_down;  /* [n_ff] -> [n_embd] */
} phi3_layer;

typedef struct {
    int32_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_rot, n_vocab;
    int32_t q_dim, kv_dim;
    float eps;
    double freq_base;
    float attn_factor;           /* multiplies cos and sin (rotated dims only) */
    int32_t n_ctx_orig;          /* LongRoPE switches factor sets beyond this */
    bool has_factors;
    float *inv_freq[2];          /* [n_rot/2] per factor set: 1 / (f_i base^(2i/n_rot)) */

    const phi_tensor *tok_embd;  /* [n_embd] x n_vocab */
    const phi_tensor *output;    /* tok_embd when tied */
    float *output_norm;
    phi3_layer *layers;
    void *owned;                 /* one allocation behind every float vector above */
    void *packed;                /* packed copies of mapped matrices (phi_op_pack_matrices) */
} phi3_weights;

/* ---- loading ---------------------------------------------------------- */

static bool get_int(const phi_source *src, const char *key, bool required, int64_t min,
                    int64_t max, int64_t *out, phi_err *err)
{
    char full[128];
    snprintf(full, sizeof full, "phi3.%s", key);
    if (!phi_meta_int(src, full, out, err)) {
        if (err->code)
            return false;
        if (required) {
            phi_err_set(err, PHI_E_FORMAT, "missing required metadata '%s'", full);
            return false;
        }
        return true;
    }
    if (*out < min || *out > max) {
        phi_err_set(err, PHI_E_FORMAT, "metadata '%s' = %lld is outside [%lld, %lld]", full,
                    (long long)*out, (long long)min, (long long)max);
        return false;
    }
    return true;
}

static bool get_float(const phi_source *src, const char *key, bool required, double *out,
                      phi_err *err)
{
    char full[128];
    snprintf(full, sizeof full, "phi3.%s", key);
    if (phi_meta_float(src, full, out, err))
        return true;
    if (!err->code && required)
        phi_err_set(err, PHI_E_FORMAT, "missing required metadata '%s'", full);
    return !err->code;
}

/* A mapped matrix packed into a copy: its pages of the file can go. */
static void release_mapped(void *file, const void *data, size_t bytes)
{
    phi_mapped_file_release(file, data, bytes);
}

/* A tensor that must exist with exactly the given shape and a type the
 * kernels can multiply (matrices) or convert (vectors). */
static const phi_tensor *bind(const phi_model *m, const phi_kernels *k, const char *name,
                              int64_t ne0, int64_t ne1, bool matrix, bool required,
                              phi_err *err)
{
    const phi_tensor *t = phi_source_tensor(m->src, name);
    if (!t) {
        if (required)
            phi_err_set(err, PHI_E_FORMAT, "missing tensor '%s'", name);
        return NULL;
    }
    int64_t want[4] = {ne0, ne1, 1, 1};
    if (memcmp(t->ne, want, sizeof want) != 0) {
        phi_err_set(err, PHI_E_FORMAT,
                    "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                    name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                    (long long)t->ne[3], (long long)ne0, (long long)ne1);
        return NULL;
    }
    bool runnable = matrix ? k->vec_dot[t->type] != NULL && phi_act_dtype(t->type) >= 0
                           : k->dequant[t->type] != NULL;
    if (!runnable) {
        phi_err_set(err, PHI_E_UNSUPPORTED, "tensor '%s' has type %s, which this build cannot run",
                    name, phi_dtype_name(t->type));
        return NULL;
    }
    if ((uintptr_t)t->data % 4 != 0) {
        phi_err_set(err, PHI_E_FORMAT, "tensor '%s' data is not 4-byte aligned", name);
        return NULL;
    }
    return t;
}

/* Vectors are converted to float once: they are tiny, read on every token,
 * and may be stored in any type the kernels can convert (F16 in some files). */
static bool bind_vector(const phi_model *m, const phi_kernels *k, const char *name, int64_t n,
                        bool required, float *dst, bool *found, phi_err *err)
{
    const phi_tensor *t = bind(m, k, name, n, 1, false, required, err);
    if (found)
        *found = t != NULL;
    if (!t)
        return !err->code;
    k->dequant[t->type](t->data, dst, n);
    return true;
}

static bool read_hparams(phi_model *m, phi3_weights *w, phi_err *err)
{
    const phi_source *src = m->src;
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, ctx_train, head_dim, n_rot, n_ctx_orig;
    const int64_t big = 1 << 20;
    if (!get_int(src, "embedding_length", true, 1, big, &n_embd, err) ||
        !get_int(src, "block_count", true, 1, 4096, &n_layer, err) ||
        !get_int(src, "attention.head_count", true, 1, 4096, &n_head, err) ||
        !get_int(src, "feed_forward_length", true, 1, big, &n_ff, err) ||
        !get_int(src, "context_length", true, 1, INT32_MAX, &ctx_train, err))
        return false;
    n_head_kv = n_head;
    head_dim = n_embd / n_head;
    if (!get_int(src, "attention.head_count_kv", false, 1, n_head, &n_head_kv, err) ||
        !get_int(src, "attention.key_length", false, 1, 65536, &head_dim, err))
        return false;
    if (n_head % n_head_kv != 0)
        return phi_err_set(err, PHI_E_FORMAT,
                           "head_count %lld is not a multiple of head_count_kv %lld",
                           (long long)n_head, (long long)n_head_kv), false;
    if (head_dim * n_head != n_embd && !phi_source_meta(src, "phi3.attention.key_length"))
        return phi_err_set(err, PHI_E_FORMAT,
                           "embedding_length %lld is not a multiple of head_count %lld",
                           (long long)n_embd, (long long)n_head), false;
    int64_t value_length = head_dim;
    if (!get_int(src, "attention.value_length", false, 1, 65536, &value_length, err))
        return false;
    if (value_length != head_dim)
        return phi_err_set(err, PHI_E_UNSUPPORTED,
                           "value_length %lld differs from key_length %lld",
                           (long long)value_length, (long long)head_dim), false;
    n_rot = head_dim;
    if (!get_int(src, "rope.dimension_count", false, 2, head_dim, &n_rot, err))
        return false;
    if (n_rot % 2)
        return phi_err_set(err, PHI_E_FORMAT, "rope.dimension_count %lld is odd",
                           (long long)n_rot), false;
    n_ctx_orig = ctx_train;
    if (!get_int(src, "rope.scaling.original_context_length", false, 1, INT32_MAX, &n_ctx_orig,
                 err))
        return false;

    double eps = 0, base = 10000.0, attn_factor = 1.0;
    if (!get_float(src, "attention.layer_norm_rms_epsilon", true, &eps, err) ||
        !get_float(src, "rope.freq_base", false, &base, err) ||
        !get_float(src, "rope.scaling.attn_factor", false, &attn_factor, err))
        return false;
    if (!(eps > 0 && eps < 1) || !(base > 1) || !(attn_factor > 0))
        return phi_err_set(err, PHI_E_FORMAT,
                           "implausible epsilon %g, rope.freq_base %g or attn_factor %g", eps,
                           base, attn_factor), false;
    phi_str scaling;
    if (phi_meta_str(src, "phi3.rope.scaling.type", &scaling, err) &&
        !phi_str_eq(scaling, "linear") && !phi_str_eq(scaling, "none") &&
        !phi_str_eq(scaling, "longrope"))
        return phi_err_set(err, PHI_E_UNSUPPORTED, "rope.scaling.type '%.*s' is not supported",
                           (int)(scaling.len > 32 ? 32 : scaling.len), scaling.ptr), false;
    if (err->code)
        return false;
    double scale_factor = 1.0;
    if (!get_float(src, "rope.scaling.factor", false, &scale_factor, err))
        return false;
    if (scale_factor != 1.0)
        return phi_err_set(err, PHI_E_UNSUPPORTED, "rope.scaling.factor %g is not supported",
                           scale_factor), false;

    w->n_embd = (int32_t)n_embd;
    w->n_layer = (int32_t)n_layer;
    w->n_head = (int32_t)n_head;
    w->n_head_kv = (int32_t)n_head_kv;
    w->head_dim = (int32_t)head_dim;
    w->n_ff = (int32_t)n_ff;
    w->n_rot = (int32_t)n_rot;
    w->q_dim = (int32_t)(n_head * head_dim);
    w->kv_dim = (int32_t)(n_head_kv * head_dim);
    w->eps = (float)eps;
    w->freq_base = base;
    w->attn_factor = (float)attn_factor;
    w->n_ctx_orig = (int32_t)n_ctx_orig;

    m->hp.n_ctx_train = ctx_train;
    m->hp.n_embd = n_embd;
    m->hp.n_layer = n_layer;
    m->hp.n_head = n_head;
    m->hp.n_head_kv = n_head_kv;
    m->hp.head_dim = head_dim;
    m->hp.n_ff = n_ff;
    m->hp.n_rot = n_rot;
    return true;
}

static void phi3_unload(phi_model *m)
{
    phi3_weights *w = m->weights;
    if (!w)
        return;
    phi_free(&m->mem, w->owned);
    phi_free(&m->mem, w->packed);
    phi_free(&m->mem, w->layers);
    phi_free(&m->mem, w);
    m->weights = NULL;
}

static int phi3_load(phi_model *m, const phi_kernels *k, phi_err *err)
{
    phi3_weights *w = phi_alloc_zero(&m->mem, sizeof *w);
    if (!w)
        return phi_err_set(err, PHI_E_NOMEM, "out of memory");
    m->weights = w;
    if (!read_hparams(m, w, err))
        return err->code;

    const phi_tensor *embd = phi_source_tensor(m->src, "token_embd.weight");
    if (!embd)
        return phi_err_set(err, PHI_E_FORMAT, "missing tensor 'token_embd.weight'");
    if (embd->ne[1] < 1 || embd->ne[1] > INT32_MAX)
        return phi_err_set(err, PHI_E_FORMAT, "token_embd.weight has %lld rows",
                           (long long)embd->ne[1]);
    w->n_vocab = (int32_t)embd->ne[1];
    m->hp.n_vocab = w->n_vocab;

    /* One allocation for every float vector: norms, then the two inv_freq tables. */
    int32_t half = w->n_rot / 2;
    size_t n_floats = (size_t)w->n_embd * (2 * (size_t)w->n_layer + 1) + 2 * (size_t)half;
    w->owned = phi_alloc_array(&m->mem, n_floats, sizeof(float));
    if (!w->owned)
        return phi_err_set(err, PHI_E_NOMEM, "out of memory for %zu norm weights", n_floats);
    float *f = w->owned;
    w->output_norm = f;
    f += w->n_embd;
    w->inv_freq[FACTORS_SHORT] = f;
    f += half;
    w->inv_freq[FACTORS_LONG] = f;
    f += half;

    phi3_layer *layers = phi_alloc_array(&m->mem, (size_t)w->n_layer, sizeof *layers);
    if (!layers)
        return phi_err_set(err, PHI_E_NOMEM, "out of memory");
    w->layers = layers;

    w->tok_embd = bind(m, k, "token_embd.weight", w->n_embd, w->n_vocab, true, true, err);
    if (!w->tok_embd)
        return err->code;
    w->output = bind(m, k, "output.weight", w->n_embd, w->n_vocab, true, false, err);
    if (err->code)
        return err->code;
    if (!w->output)
        w->output = w->tok_embd; /* tied embeddings (Phi-4-mini) */
    if (!bind_vector(m, k, "output_norm.weight", w->n_embd, true, w->output_norm, NULL, err))
        return err->code;

    /* RoPE frequencies; LongRoPE factor tensors divide them. */
    float *factors = phi_alloc_array(&m->mem, 2 * (size_t)half, sizeof(float));
    if (!factors)
        return phi_err_set(err, PHI_E_NOMEM, "out of memory");
    bool has_long = false, has_short = false;
    bool ok = bind_vector(m, k, "rope_factors_long.weight", half, false, factors, &has_long, err) &&
              bind_vector(m, k, "rope_factors_short.weight", half, false, factors + half,
                          &has_short, err);
    if (ok && has_long != has_short) {
        phi_err_set(err, PHI_E_FORMAT, "rope_factors_long.weight and rope_factors_short.weight "
                                        "must both be present or both absent");
        ok = false;
    }
    if (ok) {
        for (int32_t i = 0; i < half; i++) {
            double freq = pow(w->freq_base, -2.0 * i / w->n_rot);
            double f_long = has_long ? factors[i] : 1.0;
            double f_short = has_short ? factors[half + i] : 1.0;
            if (!(f_long > 0) || !(f_short > 0)) {
                phi_err_set(err, PHI_E_FORMAT, "rope factor %d is not positive", (int)i);
                ok = false;
                break;
            }
            w->inv_freq[FACTORS_LONG][i] = (float)(freq / f_long);
            w->inv_freq[FACTORS_SHORT][i] = (float)(freq / f_short);
        }
    }
    phi_free(&m->mem, factors);
    if (!ok)
        return err->code;
    w->has_factors = has_long;

    /* Layers' norm vectors follow output_norm and the frequency tables. */
    int64_t qkv_rows = (int64_t)w->q_dim + 2 * (int64_t)w->kv_dim;
    for (int32_t l = 0; l < w->n_layer; l++) {
        phi3_layer *L = &layers[l];
        char name[PHI_TENSOR_NAME_MAX];
        L->attn_norm = f;
        f += w->n_embd;
        L->ffn_norm = f;
        f += w->n_embd;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, (int)l), name)
        if (!bind_vector(m, k, NAME("attn_norm.weight"), w->n_embd, true, L->attn_norm, NULL,
                         err) ||
            !bind_vector(m, k, NAME("ffn_norm.weight"), w->n_embd, true, L->ffn_norm, NULL, err))
            return err->code;
        if (!(L->attn_qkv = bind(m, k, NAME("attn_qkv.weight"), w->n_embd, qkv_rows, true, true,
                                 err)) ||
            !(L->attn_out = bind(m, k, NAME("attn_output.weight"), w->q_dim, w->n_embd, true,
                                 true, err)) ||
            !(L->ffn_up = bind(m, k, NAME("ffn_up.weight"), w->n_embd, 2 * (int64_t)w->n_ff,
                               true, true, err)) ||
            !(L->ffn_down = bind(m, k, NAME("ffn_down.weight"), w->n_ff, w->n_embd, true, true,
                                 err)))
            return err->code;
#undef NAME
    }

    /* The matrices the kernels multiply, in the layout they want (the model
     * owns its source; loading is the one time its tensors change). */
    phi_tensor **mats = phi_alloc_array(&m->mem, 4 * (size_t)w->n_layer + 1, sizeof *mats);
    if (!mats)
        return phi_err_set(err, PHI_E_NOMEM, "out of memory");
    size_t n_mats = 0;
    mats[n_mats++] = (phi_tensor *)w->output;
    for (int32_t l = 0; l < w->n_layer; l++) {
        const phi3_layer *L = &layers[l];
        mats[n_mats++] = (phi_tensor *)L->attn_qkv;
        mats[n_mats++] = (phi_tensor *)L->attn_out;
        mats[n_mats++] = (phi_tensor *)L->ffn_up;
        mats[n_mats++] = (phi_tensor *)L->ffn_down;
    }
    phi_pack_release release = {release_mapped, &m->src->file};
    int rc = phi_op_pack_matrices(&m->mem, k, mats, n_mats, !m->src->file.mapped, &release,
                                  &w->packed, err);
    phi_free(&m->mem, mats);
    if (rc != PHI_OK)
        return rc;

    int64_t params = (int64_t)w->n_vocab * w->n_embd * (w->output == w->tok_embd ? 1 : 2) +
                     w->n_embd;
    for (int32_t l = 0; l < w->n_layer; l++)
        params += 2 * (int64_t)w->n_embd + (int64_t)w->n_embd * qkv_rows +
                  (int64_t)w->q_dim * w->n_embd + 3 * (int64_t)w->n_embd * w->n_ff;
    m->hp.n_params = params;
    return PHI_OK;
}

/* ---- per-context state ------------------------------------------------ */

typedef struct {
    int32_t n_ctx, n_batch;
    int32_t factors_in_cache;  /* the factor set the cached keys were made with */
    uint32_t kv_type;          /* PHI_DT_F32 or PHI_DT_F16 */
    size_t row_bytes;          /* one KV head's row at one position */
    /* [n_layer][n_head_kv][n_ctx][head_dim]: a KV head's rows are contiguous,
     * so attention streams through them */
    void *k_cache, *v_cache;
    /* activations for up to n_batch tokens */
    float *x;                  /* [n_batch][n_embd] residual stream */
    float *xn;                 /* [n_batch][n_embd] normed input */
    float *qkv;                /* [n_batch][q_dim + 2 kv_dim] */
    float *attn;               /* [n_batch][q_dim] */
    float *up;                 /* [n_batch][2 n_ff] */
    float *ffn;                /* [n_batch][n_ff] */
    float *rope;               /* [n_batch][n_rot] cos then sin, times attn_factor */
    float *attn_partials;      /* phi_op_attention's scratch */
    void *scratch;             /* matmul activations */
    void *block;               /* the single allocation behind everything above */
} phi3_state;

static size_t add_bytes(size_t *total, size_t n)
{
    size_t at = *total;
    *total += (n + PHI_ALIGN - 1) / PHI_ALIGN * PHI_ALIGN;
    return at;
}

static size_t add_floats(size_t *total, size_t n)
{
    return add_bytes(total, n * sizeof(float));
}

static int phi3_state_new(const phi_model *m, const phi_state_config *cfg, void **out,
                          phi_err *err)
{
    const phi3_weights *w = m->weights;
    phi3_state *s = phi_alloc_zero(&m->mem, sizeof *s);
    if (!s)
        return phi_err_set(err, PHI_E_NOMEM, "out of memory for the model state");
    s->n_ctx = cfg->n_ctx;
    s->n_batch = cfg->n_batch;
    s->factors_in_cache = FACTORS_SHORT;
    s->kv_type = cfg->kv_type;
    phi_dtype_row_bytes(cfg->kv_type, w->head_dim, &s->row_bytes);

    size_t nb = (size_t)cfg->n_batch;
    size_t kv = (size_t)w->n_layer * w->n_head_kv * cfg->n_ctx * s->row_bytes;
    size_t qkv_dim = (size_t)w->q_dim + 2 * (size_t)w->kv_dim;
    size_t total = 0;
    size_t o_k = add_bytes(&total, kv), o_v = add_bytes(&total, kv);
    size_t o_x = add_floats(&total, nb * w->n_embd), o_xn = add_floats(&total, nb * w->n_embd);
    size_t o_qkv = add_floats(&total, nb * qkv_dim), o_attn = add_floats(&total, nb * w->q_dim);
    size_t o_up = add_floats(&total, nb * 2 * w->n_ff), o_ffn = add_floats(&total, nb * w->n_ff);
    size_t o_rope = add_floats(&total, nb * w->n_rot);
    size_t o_partials = add_floats(&total, phi_op_attention_scratch(w->n_head, w->head_dim));
    /* Files mix types per tensor (Q4_K_M keeps some layers at Q6_K, others
     * keep layers in F16), so every matrix has its say in the scratch size. */
    size_t scratch = phi_op_matmul_scratch(w->output->type, w->output->ne[0], cfg->n_batch);
    for (int32_t l = 0; l < w->n_layer; l++) {
        const phi3_layer *L = &w->layers[l];
        const phi_tensor *mats[] = {L->attn_qkv, L->attn_out, L->ffn_up, L->ffn_down};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
            size_t need = phi_op_matmul_scratch(mats[i]->type, mats[i]->ne[0], cfg->n_batch);
            scratch = need > scratch ? need : scratch;
        }
    }
    size_t o_scratch = total;
    total += scratch;

    s->block = phi_alloc_bulk(&m->mem, total);
    if (!s->block) {
        phi_free(&m->mem, s);
        return phi_err_set(err, PHI_E_NOMEM,
                           "out of memory for the KV cache and activations (%zu MiB for %d "
                           "positions)", total >> 20, (int)cfg->n_ctx);
    }
    char *b = s->block;
    s->k_cache = b + o_k;
    s->v_cache = b + o_v;
    s->x = (float *)(b + o_x);
    s->xn = (float *)(b + o_xn);
    s->qkv = (float *)(b + o_qkv);
    s->attn = (float *)(b + o_attn);
    s->up = (float *)(b + o_up);
    s->ffn = (float *)(b + o_ffn);
    s->rope = (float *)(b + o_rope);
    s->attn_partials = (float *)(b + o_partials);
    s->scratch = b + o_scratch;
    *out = s;
    return PHI_OK;
}

static void phi3_state_free(const phi_model *m, void *state)
{
    phi3_state *s = state;
    if (!s)
        return;
    phi_free(&m->mem, s->block);
    phi_free(&m->mem, s);
}

/* Byte offset of KV head g's rows in layer l of either cache. */
static size_t kv_head_offset(const phi3_weights *w, const phi3_state *s, int32_t l, int32_t g)
{
    return ((size_t)l * w->n_head_kv + (size_t)g) * s->n_ctx * s->row_bytes;
}

static void phi3_state_copy(const phi_model *m, void *dst_state, const void *src_state,
                            int32_t n_pos)
{
    const phi3_weights *w = m->weights;
    phi3_state *d = dst_state;
    const phi3_state *s = src_state;
    for (int32_t l = 0; l < w->n_layer; l++)
        for (int32_t g = 0; g < w->n_head_kv; g++) {
            size_t at = kv_head_offset(w, s, l, g), bytes = s->row_bytes * (size_t)n_pos;
            memcpy((char *)d->k_cache + at, (const char *)s->k_cache + at, bytes);
            memcpy((char *)d->v_cache + at, (const char *)s->v_cache + at, bytes);
        }
    d->factors_in_cache = s->factors_in_cache;
}

static int32_t factors_for(const phi3_weights *w, int32_t seq_len)
{
    return w->has_factors && seq_len > w->n_ctx_orig ? FACTORS_LONG : FACTORS_SHORT;
}

static bool phi3_must_recompute(const phi_model *m, const void *state, int32_t cached_len,
                                int32_t new_len)
{
    const phi3_state *s = state;
    return cached_len > 0 && factors_for(m->weights, new_len) != s->factors_in_cache;
}

/* ---- forward ---------------------------------------------------------- */

/* cos and sin of every rotated pair for each token, scaled by attn_factor. */
static void rope_tables(const phi3_weights *w, const float *inv_freq, int32_t pos0, int32_t n,
                        float *rope)
{
    int32_t half = w->n_rot / 2;
    for (int32_t t = 0; t < n; t++) {
        float *c = rope + (size_t)t * w->n_rot, *s = c + half;
        for (int32_t i = 0; i < half; i++) {
            double theta = (double)(pos0 + t) * inv_freq[i];
            c[i] = (float)cos(theta) * w->attn_factor;
            s[i] = (float)sin(theta) * w->attn_factor;
        }
    }
}

/* NEOX layout: element i rotates with element i + n_rot/2. */
static void rope_apply(float *head, const float *rope, int32_t n_rot)
{
    int32_t half = n_rot / 2;
    const float *c = rope, *s = rope + half;
    for (int32_t i = 0; i < half; i++) {
        float a = head[i], b = head[i + half];
        head[i] = a * c[i] - b * s[i];
        head[i + half] = a * s[i] + b * c[i];
    }
}

/* Values enter the cache in its type: an F16 cache rounds them here, keys
 * after RoPE. */
static void cache_row(const phi_kernels *k, const phi3_state *s, void *dst, const float *src,
                      int32_t n)
{
    if (s->kv_type == PHI_DT_F16)
        k->f32_to_f16(n, src, dst);
    else
        memcpy(dst, src, (size_t)n * sizeof(float));
}

static int phi3_forward(const phi_model *m, void *state, const phi_runtime *rt,
                        const int32_t *tokens, int32_t n, int32_t pos0, int32_t seq_len,
                        float *logits, bool all_logits, phi_err *err)
{
    const phi3_weights *w = m->weights;
    phi3_state *s = state;
    if (n < 1 || n > s->n_batch || pos0 + n > s->n_ctx || seq_len < pos0 + n)
        return phi_err_set(err, PHI_E_INTERNAL, "phi3 forward called with n=%d pos0=%d", n, pos0);
    int32_t set = factors_for(w, seq_len);
    if (pos0 == 0)
        s->factors_in_cache = set;
    else if (set != s->factors_in_cache)
        return phi_err_set(err, PHI_E_INTERNAL, "rope factor set changed without recompute");

    int32_t D = w->n_embd, hd = w->head_dim;
    size_t qkv_dim = (size_t)w->q_dim + 2 * (size_t)w->kv_dim;
    for (int32_t t = 0; t < n; t++)
        phi_op_get_row(rt, w->tok_embd, tokens[t], s->x + (size_t)t * D);
    rope_tables(w, w->inv_freq[set], pos0, n, s->rope);
    float q_scale = 1.0f / sqrtf((float)hd);

    for (int32_t l = 0; l < w->n_layer; l++) {
        if (atomic_load_explicit(rt->interrupt, memory_order_relaxed))
            return phi_err_set(err, PHI_E_INTERRUPTED, "interrupted");
        const phi3_layer *L = &w->layers[l];

        /* attention */
        phi_op_rmsnorm(s->x, L->attn_norm, D, n, w->eps, s->xn);
        phi_op_matmul(rt, L->attn_qkv, s->xn, n, s->qkv, s->scratch);
        for (int32_t t = 0; t < n; t++) {
            float *q = s->qkv + t * qkv_dim, *kk = q + w->q_dim, *v = kk + w->kv_dim;
            const float *rope = s->rope + (size_t)t * w->n_rot;
            for (int32_t h = 0; h < w->n_head; h++) {
                rope_apply(q + (size_t)h * hd, rope, w->n_rot);
                rt->k->scale_f32(hd, q_scale, q + (size_t)h * hd);
            }
            for (int32_t g = 0; g < w->n_head_kv; g++) {
                rope_apply(kk + (size_t)g * hd, rope, w->n_rot);
                size_t at = kv_head_offset(w, s, l, g) + (size_t)(pos0 + t) * s->row_bytes;
                cache_row(rt->k, s, (char *)s->k_cache + at, kk + (size_t)g * hd, hd);
                cache_row(rt->k, s, (char *)s->v_cache + at, v + (size_t)g * hd, hd);
            }
        }
        size_t layer_at = kv_head_offset(w, s, l, 0);
        phi_attn_op attn = {
            .n_head = w->n_head, .n_head_kv = w->n_head_kv, .head_dim = hd,
            .kv_type = s->kv_type,
            .k = (const char *)s->k_cache + layer_at, .v = (const char *)s->v_cache + layer_at,
            .head_bytes = (size_t)s->n_ctx * s->row_bytes, .row_bytes = s->row_bytes,
            .q = s->qkv, .q_stride = qkv_dim, .out = s->attn, .out_stride = (size_t)w->q_dim,
            .n = n, .pos0 = pos0, .partials = s->attn_partials,
        };
        phi_op_attention(rt, &attn);
        phi_op_matmul(rt, L->attn_out, s->attn, n, s->xn, s->scratch);
        for (size_t i = 0; i < (size_t)n * D; i++)
            s->x[i] += s->xn[i];

        /* feed-forward: SiLU(gate) * up, gate being the first half */
        phi_op_rmsnorm(s->x, L->ffn_norm, D, n, w->eps, s->xn);
        phi_op_matmul(rt, L->ffn_up, s->xn, n, s->up, s->scratch);
        for (int32_t t = 0; t < n; t++) {
            const float *gate = s->up + (size_t)t * 2 * w->n_ff;
            rt->k->swiglu_f32(w->n_ff, gate, gate + w->n_ff, s->ffn + (size_t)t * w->n_ff);
        }
        phi_op_matmul(rt, L->ffn_down, s->ffn, n, s->xn, s->scratch);
        for (size_t i = 0; i < (size_t)n * D; i++)
            s->x[i] += s->xn[i];
    }

    if (!logits)
        return PHI_OK;
    int32_t first = all_logits ? 0 : n - 1, n_out = n - first;
    phi_op_rmsnorm(s->x + (size_t)first * D, w->output_norm, D, n_out, w->eps, s->xn);
    phi_op_matmul(rt, w->output, s->xn, n_out, logits, s->scratch);
    return PHI_OK;
}

const phi_arch phi_arch_phi3 = {
    .name = "phi3",
    .id = PHI_ARCH_PHI3,
    .load = phi3_load,
    .unload = phi3_unload,
    .state_new = phi3_state_new,
    .state_free = phi3_state_free,
    .state_copy = phi3_state_copy,
    .forward = phi3_forward,
    .must_recompute = phi3_must_recompute,
};
