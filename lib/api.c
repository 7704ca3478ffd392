/* The public API: argument checking, options, the context's sequence
 * bookkeeping, and error reporting. Everything below it (model, kernels,
 * threads, sampler) is reached only from here. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "core/err.h"
#include "core/mem.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "phi4.h"
#include "runtime/pool.h"
#include "runtime/sampler.h"
#include "api_ctx.h"

#if PHI4_VERSION_NUMBER != PHI_MESON_VERSION_NUMBER
#error "phi4.h version macros disagree with meson.build's project version"
#endif

enum { DEFAULT_N_CTX = 4096, DEFAULT_N_BATCH = 256 };

static const options default_options = {
    .n_threads = 0, .n_ctx = 0, .n_batch = DEFAULT_N_BATCH, .use_mmap = 1, .logits_all = 0,
    .kernel = PHI_KERNEL_AUTO, .log_level = PHI_LOG_WARN, .kv_type = PHI_KV_F16, .seed = -1,
    .top_k = 40, .repeat_last_n = 64, .max_tokens = 0, .chat_format = PHI_CHAT_FORMAT_AUTO,
    .split_thinking = 1, .temperature = 0.8, .top_p = 0.95, .min_p = 0.05,
    .repeat_penalty = 1.0, .presence_penalty = 0.0, .frequency_penalty = 0.0,
};

/* ---- errors and logging ------------------------------------------------ */

int32_t api_fail(phi_ctx *ctx, int32_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    phi_err_vset(&ctx->err, code, fmt, ap);
    va_end(ap);
    return code;
}

/* Adopt an error a lower layer reported. */
int32_t api_fail_with(phi_ctx *ctx, const phi_err *e)
{
    if (e != &ctx->err)
        ctx->err = *e;
    return ctx->err.code ? ctx->err.code : (ctx->err.code = PHI_E_INTERNAL);
}

void api_log(phi_ctx *ctx, int32_t level, const char *fmt, ...)
{
    if (!ctx->log_cb || level > ctx->opt.log_level)
        return;
    char msg[PHI_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctx->log_cb(ctx->log_user, level, msg);
}

/* Every entry point that takes a ctx starts here: a fresh error slot and a
 * cleared interrupt request. */
void api_begin_call(phi_ctx *ctx)
{
    phi_err_clear(&ctx->err);
    atomic_store_explicit(&ctx->interrupt, 0, memory_order_relaxed);
}

void api_continue_call(phi_ctx *ctx)
{
    phi_err_clear(&ctx->err);
}

const char *phi_strerror(int32_t status)
{
    switch (status) {
    case PHI_OK: return "success";
    case PHI_DONE: return "generation finished";
    case PHI_E_INVALID_ARG: return "invalid argument";
    case PHI_E_NOMEM: return "out of memory";
    case PHI_E_IO: return "input/output error";
    case PHI_E_FORMAT: return "malformed model file";
    case PHI_E_UNSUPPORTED: return "unsupported model or feature";
    case PHI_E_STATE: return "call not valid in the current state";
    case PHI_E_BUFFER_TOO_SMALL: return "output buffer too small";
    case PHI_E_CONTEXT_FULL: return "context is full";
    case PHI_E_INTERRUPTED: return "interrupted";
    case PHI_E_VERSION: return "unsupported version";
    case PHI_E_INTERNAL: return "internal error in libphi4";
    default: return "unknown status";
    }
}

const char *phi_errmsg(const phi_ctx *ctx)
{
    return ctx ? ctx->err.msg : "no context (NULL phi_ctx)";
}

int32_t phi_errcode(const phi_ctx *ctx)
{
    return ctx ? ctx->err.code : PHI_E_INVALID_ARG;
}

/* ---- version ----------------------------------------------------------- */

int32_t phi_version_number(void)
{
    return PHI4_VERSION_NUMBER;
}

const char *phi_version_string(void)
{
    return PHI4_VERSION_STRING;
}

int32_t phi_abi_version(void)
{
    return PHI4_ABI_VERSION;
}

const char *phi_build_info(void)
{
    return "libphi4 " PHI4_VERSION_STRING "; compiler " __VERSION__ "; kernels " PHI_BUILD_KERNELS;
}

/* ---- lifecycle --------------------------------------------------------- */

static int32_t ctx_create(const phi_mem *mem, phi_ctx **out)
{
    phi_ctx *ctx = phi_alloc_zero(mem, sizeof *ctx);
    if (!ctx)
        return PHI_E_NOMEM;
    ctx->mem = *mem;
    ctx->opt = default_options;
    atomic_init(&ctx->interrupt, 0);
    *out = ctx;
    return PHI_OK;
}

int32_t phi_ctx_new(phi_ctx **out)
{
    if (!out)
        return PHI_E_INVALID_ARG;
    *out = NULL;
    phi_mem mem;
    phi_mem_init_default(&mem);
    return ctx_create(&mem, out);
}

int32_t phi_ctx_new_with_allocator(const phi_allocator *a, phi_ctx **out)
{
    if (!out)
        return PHI_E_INVALID_ARG;
    *out = NULL;
    if (!a || a->struct_size < offsetof(phi_allocator, free) + sizeof a->free || !a->alloc ||
        !a->free)
        return PHI_E_INVALID_ARG;
    phi_mem mem = {.user = a->user, .alloc = a->alloc, .free = a->free};
    return ctx_create(&mem, out);
}

static void release_runtime(phi_ctx *ctx)
{
    if (ctx->state)
        ctx->model->arch->state_free(ctx->model, ctx->state);
    phi_pool_free(ctx->pool);
    phi_sampler_free(ctx->sampler);
    phi_free(&ctx->mem, ctx->tokens);
    phi_free(&ctx->mem, ctx->logits);
    phi_free(&ctx->mem, ctx->queue.buf);
    memset(&ctx->queue, 0, sizeof ctx->queue);
    phi_model_release(ctx->model);
    ctx->state = NULL;
    ctx->pool = NULL;
    ctx->sampler = NULL;
    ctx->tokens = NULL;
    ctx->logits = NULL;
    ctx->model = NULL;
}

void phi_ctx_free(phi_ctx *ctx)
{
    if (!ctx)
        return;
    release_runtime(ctx);
    phi_mem mem = ctx->mem;
    phi_free(&mem, ctx);
}

static int online_cpus(void)
{
    long n = 1;
#ifdef _SC_NPROCESSORS_ONLN
    n = sysconf(_SC_NPROCESSORS_ONLN);
#endif
    return n < 1 ? 1 : n > PHI_MAX_THREADS ? PHI_MAX_THREADS : (int)n;
}

static int32_t ensure_pool(phi_ctx *ctx)
{
    int want = ctx->opt.n_threads > 0 ? (int)ctx->opt.n_threads : online_cpus();
    if (ctx->pool && ctx->pool_threads == want)
        return PHI_OK;
    phi_pool_free(ctx->pool);
    ctx->pool = NULL;
    phi_err e = {0};
    if (phi_pool_new(&ctx->mem, want, &ctx->pool, &e) != PHI_OK)
        return api_fail_with(ctx, &e);
    ctx->pool_threads = want;
    return PHI_OK;
}

/* Buffers and state for a context that has a model. */
static int32_t setup_runtime(phi_ctx *ctx)
{
    const phi_model *m = ctx->model;
    phi_err e = {0};
    phi_state_config cfg = {.n_ctx = ctx->n_ctx, .n_batch = (int32_t)ctx->opt.n_batch,
                            .kv_type = ctx->opt.kv_type == PHI_KV_F32 ? PHI_DT_F32 : PHI_DT_F16};
    if (cfg.n_batch > cfg.n_ctx)
        cfg.n_batch = cfg.n_ctx;
    ctx->opt.n_batch = cfg.n_batch;
    if (m->arch->state_new(m, &cfg, &ctx->state, &e) != PHI_OK)
        return api_fail_with(ctx, &e);
    if (phi_sampler_new(&ctx->mem, (int32_t)m->hp.n_vocab, &ctx->sampler, &e) != PHI_OK)
        return api_fail_with(ctx, &e);
    phi_sampler_seed(ctx->sampler, ctx->opt.seed);
    ctx->tokens = phi_alloc_array(&ctx->mem, (size_t)ctx->n_ctx, sizeof *ctx->tokens);
    ctx->logits = phi_alloc_array(&ctx->mem, (size_t)m->hp.n_vocab, sizeof *ctx->logits);
    if (!ctx->tokens || !ctx->logits)
        return api_fail(ctx, PHI_E_NOMEM, "out of memory for the token and logit buffers");
    ctx->logit_rows_cap = 1;
    return ensure_pool(ctx);
}

/* The load's progress, [0,1], to the callback; true when the load must stop:
 * the callback said so, or phi_interrupt was called. */
static bool load_should_stop(phi_ctx *ctx, double fraction)
{
    bool stop = ctx->progress_cb && ctx->progress_cb(ctx->progress_user, fraction);
    return stop || atomic_load_explicit(&ctx->interrupt, memory_order_relaxed);
}

#define LOAD_STOPPED "loading stopped by the progress callback or phi_interrupt"

static int read_progress(void *user, size_t done, size_t total)
{
    return load_should_stop(user, (double)done / (double)total);
}

/* Whether tensor t's bytes are still read from the mapped file f (a packed
 * copy is not; its pages of the file were released). */
static bool reads_file(const phi_mapped_file *f, const phi_tensor *t)
{
    uintptr_t p = (uintptr_t)t->data, start = (uintptr_t)f->data;
    return p >= start && p - start < f->size;
}

/* With a progress callback, fault the mapped weights in now (reporting as we
 * go) so the first token does not pay for reading the file: the tensors
 * still read from the mapping, not the file's pages packed copies released.
 * A file read into memory reported its progress while it was read. */
static int32_t warm_up(phi_ctx *ctx)
{
    const phi_source *src = ctx->model->src;
    const phi_mapped_file *f = &src->file;
    if (!ctx->progress_cb || !f->mapped)
        return PHI_OK;
    size_t total = 0, done = 0, next_report = 0;
    for (size_t i = 0; i < src->n_tensors; i++)
        total += reads_file(f, &src->tensors[i]) ? src->tensors[i].nbytes : 0;
    if (total == 0)
        return PHI_OK;
    const size_t step = (size_t)64 << 20;
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < src->n_tensors; i++) {
        const phi_tensor *t = &src->tensors[i];
        if (!reads_file(f, t))
            continue;
        const unsigned char *p = t->data;
        for (size_t at = 0; at < t->nbytes; at += 4096)
            sink ^= p[at];
        done += t->nbytes;
        if (done >= next_report || done == total) {
            next_report = done + step;
            if (load_should_stop(ctx, (double)done / (double)total))
                return api_fail(ctx, PHI_E_INTERRUPTED, LOAD_STOPPED);
        }
    }
    (void)sink;
    return PHI_OK;
}

int32_t phi_load(phi_ctx *ctx, const char *path)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    if (!path)
        return api_fail(ctx, PHI_E_INVALID_ARG, "path is NULL");
    if (ctx->model)
        return api_fail(ctx, PHI_E_STATE, "this context already has a model; use a new context");
    phi_err e = {0};
    if (phi_kernels_get((int32_t)ctx->opt.kernel, &ctx->kernels, &e) != PHI_OK)
        return api_fail_with(ctx, &e);
    if (load_should_stop(ctx, 0.0))
        return api_fail(ctx, PHI_E_INTERRUPTED, LOAD_STOPPED);
    phi_read_progress progress = {read_progress, ctx};
    if (phi_model_load(&ctx->mem, path, ctx->opt.use_mmap != 0, &progress, ctx->kernels,
                       &ctx->model, &e) != PHI_OK) {
        if (e.code == PHI_E_INTERRUPTED)
            return api_fail(ctx, PHI_E_INTERRUPTED, LOAD_STOPPED);
        phi_err_prefix(&e, "loading '%s'", path);
        return api_fail_with(ctx, &e);
    }
    int64_t train = ctx->model->hp.n_ctx_train, want = ctx->opt.n_ctx;
    if (want == 0)
        want = train < DEFAULT_N_CTX ? train : DEFAULT_N_CTX;
    if (want > train) {
        api_log(ctx, PHI_LOG_WARN, "n_ctx %lld exceeds the trained context %lld; using %lld",
                (long long)want, (long long)train, (long long)train);
        want = train;
    }
    ctx->n_ctx = (int32_t)want;
    ctx->opt.n_ctx = want;
    int32_t rc = setup_runtime(ctx);
    if (rc == PHI_OK)
        rc = warm_up(ctx);
    if (rc != PHI_OK) {
        release_runtime(ctx);
        return rc;
    }
    api_log(ctx, PHI_LOG_INFO, "loaded %s: %s, %lld layers, %lld parameters, kernels %s", path,
            ctx->model->arch->name, (long long)ctx->model->hp.n_layer,
            (long long)ctx->model->hp.n_params, ctx->kernels->name);
    return PHI_OK;
}

int32_t phi_ctx_fork(phi_ctx *src, uint32_t flags, phi_ctx **out)
{
    if (!src || !out)
        return PHI_E_INVALID_ARG;
    *out = NULL;
    api_begin_call(src);
    if (!src->model)
        return api_fail(src, PHI_E_STATE, "phi_ctx_fork needs a loaded context");
    if (flags & ~PHI_FORK_COPY_STATE)
        return api_fail(src, PHI_E_INVALID_ARG, "unknown fork flags 0x%x", (unsigned)flags);
    phi_ctx *ctx;
    if (ctx_create(&src->mem, &ctx) != PHI_OK)
        return api_fail(src, PHI_E_NOMEM, "out of memory");
    ctx->opt = src->opt;
    ctx->log_cb = src->log_cb;
    ctx->log_user = src->log_user;
    ctx->model = src->model;
    phi_model_retain(ctx->model);
    ctx->kernels = src->kernels;
    ctx->n_ctx = src->n_ctx;
    int32_t rc = setup_runtime(ctx);
    if (rc != PHI_OK) {
        src->err = ctx->err;
        phi_ctx_free(ctx);
        return rc;
    }
    if (flags & PHI_FORK_COPY_STATE) {
        const phi_model *m = src->model;
        m->arch->state_copy(m, ctx->state, src->state, src->n_cached);
        memcpy(ctx->tokens, src->tokens, (size_t)src->n_tokens * sizeof *ctx->tokens);
        ctx->n_tokens = src->n_tokens;
        ctx->n_cached = src->n_cached;
        phi_sampler_copy_rng(ctx->sampler, src->sampler);
        if (src->n_logit_rows) {
            /* Only the last row: a fork starts with phi_logits(), not a batch. */
            size_t nv = (size_t)m->hp.n_vocab;
            memcpy(ctx->logits, src->logits + (src->n_logit_rows - 1) * nv, nv * sizeof(float));
            ctx->n_logit_rows = 1;
        }
    }
    *out = ctx;
    return PHI_OK;
}

int32_t phi_set_log_callback(phi_ctx *ctx, phi_log_cb cb, void *user)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    ctx->log_cb = cb;
    ctx->log_user = user;
    return PHI_OK;
}

int32_t phi_set_progress_callback(phi_ctx *ctx, phi_progress_cb cb, void *user)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    ctx->progress_cb = cb;
    ctx->progress_user = user;
    return PHI_OK;
}

/* ---- options ----------------------------------------------------------- */

typedef struct {
    int32_t key;
    bool is_float, load_only;
    double min, max;
    size_t offset;
} option_spec;

#define INT_OPT(k, field, lo, hi, load) {k, false, load, lo, hi, offsetof(options, field)}
#define FLOAT_OPT(k, field, lo, hi) {k, true, false, lo, hi, offsetof(options, field)}

static const option_spec option_specs[] = {
    INT_OPT(PHI_OPT_N_THREADS, n_threads, 0, PHI_MAX_THREADS, false),
    INT_OPT(PHI_OPT_N_CTX, n_ctx, 0, INT32_MAX, true),
    INT_OPT(PHI_OPT_N_BATCH, n_batch, 1, 65536, true),
    INT_OPT(PHI_OPT_USE_MMAP, use_mmap, 0, 1, true),
    INT_OPT(PHI_OPT_LOGITS_ALL, logits_all, 0, 1, false),
    INT_OPT(PHI_OPT_KERNEL, kernel, 0, 5, true),
    INT_OPT(PHI_OPT_LOG_LEVEL, log_level, 0, 4, false),
    INT_OPT(PHI_OPT_KV_TYPE, kv_type, PHI_KV_F32, PHI_KV_F16, true),
    INT_OPT(PHI_OPT_SEED, seed, -1, 9.2e18, false),
    INT_OPT(PHI_OPT_TOP_K, top_k, 0, INT32_MAX, false),
    INT_OPT(PHI_OPT_REPEAT_LAST_N, repeat_last_n, -1, INT32_MAX, false),
    INT_OPT(PHI_OPT_MAX_TOKENS, max_tokens, 0, 9.2e18, false),
    INT_OPT(PHI_OPT_CHAT_FORMAT, chat_format, 0, PHI_CHAT_FORMAT_PHI4_MINI_REASONING, false),
    INT_OPT(PHI_OPT_SPLIT_THINKING, split_thinking, 0, 1, false),
    FLOAT_OPT(PHI_OPT_TEMPERATURE, temperature, -1e9, 1e9),
    FLOAT_OPT(PHI_OPT_TOP_P, top_p, 1e-9, 1.0),
    FLOAT_OPT(PHI_OPT_MIN_P, min_p, 0.0, 1.0 - 1e-9),
    FLOAT_OPT(PHI_OPT_REPEAT_PENALTY, repeat_penalty, 1e-9, 1e9),
    FLOAT_OPT(PHI_OPT_PRESENCE_PENALTY, presence_penalty, -1e9, 1e9),
    FLOAT_OPT(PHI_OPT_FREQUENCY_PENALTY, frequency_penalty, -1e9, 1e9),
};

static const option_spec *find_option(phi_ctx *ctx, int32_t key, bool is_float)
{
    for (size_t i = 0; i < sizeof option_specs / sizeof option_specs[0]; i++) {
        if (option_specs[i].key != key)
            continue;
        if (option_specs[i].is_float != is_float) {
            api_fail(ctx, PHI_E_INVALID_ARG, "option %d is %s-valued; use phi_%s_%s", (int)key,
                 is_float ? "integer" : "float", "set", is_float ? "int" : "float");
            return NULL;
        }
        return &option_specs[i];
    }
    api_fail(ctx, PHI_E_INVALID_ARG, "unknown option key %d", (int)key);
    return NULL;
}

int32_t phi_set_int(phi_ctx *ctx, int32_t key, int64_t value)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    const option_spec *o = find_option(ctx, key, false);
    if (!o)
        return ctx->err.code;
    if (o->load_only && ctx->model)
        return api_fail(ctx, PHI_E_STATE, "option %d takes effect at load; set it before phi_load",
                    (int)key);
    if ((double)value < o->min || (double)value > o->max)
        return api_fail(ctx, PHI_E_INVALID_ARG, "option %d: %lld is outside [%.0f, %.0f]", (int)key,
                    (long long)value, o->min, o->max);
    *(int64_t *)((char *)&ctx->opt + o->offset) = value;
    if (key == PHI_OPT_SEED && ctx->sampler)
        phi_sampler_seed(ctx->sampler, value);
    return PHI_OK;
}

int32_t phi_set_float(phi_ctx *ctx, int32_t key, double value)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    const option_spec *o = find_option(ctx, key, true);
    if (!o)
        return ctx->err.code;
    if (!isfinite(value) || value < o->min || value > o->max)
        return api_fail(ctx, PHI_E_INVALID_ARG, "option %d: %g is outside [%g, %g]", (int)key, value,
                    o->min, o->max);
    *(double *)((char *)&ctx->opt + o->offset) = value;
    return PHI_OK;
}

/* The option's storage, or NULL with the error set. */
static const void *option_value(phi_ctx *ctx, int32_t key, bool is_float, const void *out)
{
    api_begin_call(ctx);
    if (!out) {
        api_fail(ctx, PHI_E_INVALID_ARG, "out is NULL");
        return NULL;
    }
    const option_spec *o = find_option(ctx, key, is_float);
    return o ? (const char *)&ctx->opt + o->offset : NULL;
}

int32_t phi_get_int(phi_ctx *ctx, int32_t key, int64_t *out)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    const void *value = option_value(ctx, key, false, out);
    if (!value)
        return ctx->err.code;
    *out = *(const int64_t *)value;
    if (key == PHI_OPT_N_THREADS && *out == 0)
        *out = ctx->pool ? ctx->pool_threads : online_cpus();
    return PHI_OK;
}

int32_t phi_get_float(phi_ctx *ctx, int32_t key, double *out)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    const void *value = option_value(ctx, key, true, out);
    if (!value)
        return ctx->err.code;
    *out = *(const double *)value;
    return PHI_OK;
}

/* ---- model facts ------------------------------------------------------- */

int32_t phi_info_int(phi_ctx *ctx, int32_t key, int64_t *out)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    if (!out)
        return api_fail(ctx, PHI_E_INVALID_ARG, "out is NULL");
    if (!ctx->model)
        return api_fail(ctx, PHI_E_STATE, "no model loaded");
    const phi_model *m = ctx->model;
    const phi_hparams *hp = &m->hp;
    switch (key) {
    case PHI_INFO_ARCH: *out = m->arch->id; break;
    case PHI_INFO_N_PARAMS: *out = hp->n_params; break;
    case PHI_INFO_N_VOCAB: *out = hp->n_vocab; break;
    case PHI_INFO_N_CTX_TRAIN: *out = hp->n_ctx_train; break;
    case PHI_INFO_N_CTX: *out = ctx->n_ctx; break;
    case PHI_INFO_N_EMBD: *out = hp->n_embd; break;
    case PHI_INFO_N_LAYER: *out = hp->n_layer; break;
    case PHI_INFO_N_HEAD: *out = hp->n_head; break;
    case PHI_INFO_N_HEAD_KV: *out = hp->n_head_kv; break;
    case PHI_INFO_HEAD_DIM: *out = hp->head_dim; break;
    case PHI_INFO_N_FF: *out = hp->n_ff; break;
    case PHI_INFO_N_ROT: *out = hp->n_rot; break;
    case PHI_INFO_TOKEN_BOS: *out = m->vocab.bos; break;
    case PHI_INFO_TOKEN_EOS: *out = m->vocab.eos; break;
    case PHI_INFO_TOKEN_EOT: *out = m->vocab.eot; break;
    case PHI_INFO_TOKEN_PAD: *out = m->vocab.pad; break;
    case PHI_INFO_FILE_VERSION: *out = m->src->version; break;
    case PHI_INFO_WEIGHT_BYTES: *out = (int64_t)m->weight_bytes; break;
    case PHI_INFO_CHAT_FORMAT: *out = m->chat_format; break;
    default:
        return api_fail(ctx, PHI_E_INVALID_ARG, "unknown integer info key %d", (int)key);
    }
    return PHI_OK;
}

int32_t api_copy_out(phi_ctx *ctx, const char *text, size_t n, char *buf, size_t cap,
                     size_t *n_out)
{
    if (n_out)
        *n_out = n;
    if (!buf || cap < n + 1)
        return api_fail(ctx, PHI_E_BUFFER_TOO_SMALL, "the text needs %zu bytes with its NUL", n + 1);
    if (n)
        memcpy(buf, text, n);
    buf[n] = '\0';
    return PHI_OK;
}

static int32_t copy_str_out(phi_ctx *ctx, const char *text, char *buf, size_t cap, size_t *n_out)
{
    return api_copy_out(ctx, text, strlen(text), buf, cap, n_out);
}

int32_t phi_info_str(phi_ctx *ctx, int32_t key, char *buf, size_t cap, size_t *n_out)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    if (key == PHI_INFO_KERNEL_NAME) {
        const phi_kernels *k = ctx->kernels;
        phi_err e = {0};
        if (!k && phi_kernels_get((int32_t)ctx->opt.kernel, &k, &e) != PHI_OK)
            return api_fail_with(ctx, &e);
        return copy_str_out(ctx, k->name, buf, cap, n_out);
    }
    if (!ctx->model)
        return api_fail(ctx, PHI_E_STATE, "no model loaded");
    switch (key) {
    case PHI_INFO_ARCH_NAME: return copy_str_out(ctx, ctx->model->arch->name, buf, cap, n_out);
    case PHI_INFO_MODEL_NAME: return copy_str_out(ctx, ctx->model->name, buf, cap, n_out);
    case PHI_INFO_CHAT_TEMPLATE:
        return api_copy_out(ctx, ctx->model->chat_template.ptr,
                            (size_t)ctx->model->chat_template.len, buf, cap, n_out);
    default: return api_fail(ctx, PHI_E_INVALID_ARG, "unknown text info key %d", (int)key);
    }
}

/* ---- evaluation -------------------------------------------------------- */

int32_t api_require_model(phi_ctx *ctx)
{
    return ctx->model ? PHI_OK : api_fail(ctx, PHI_E_STATE, "no model loaded (call phi_load first)");
}

static int32_t reserve_logit_rows(phi_ctx *ctx, size_t rows)
{
    if (rows <= ctx->logit_rows_cap)
        return PHI_OK;
    size_t nv = (size_t)ctx->model->hp.n_vocab;
    float *grown = phi_alloc_array(&ctx->mem, rows, nv * sizeof(float));
    if (!grown)
        return api_fail(ctx, PHI_E_NOMEM, "out of memory for the logits of %zu tokens", rows);
    phi_free(&ctx->mem, ctx->logits);
    ctx->logits = grown;
    ctx->logit_rows_cap = rows;
    return PHI_OK;
}

/* Bring the state up to the whole sequence: evaluate positions from the
 * first one not cached (or from 0 when the architecture says the cache can
 * no longer serve this length), keeping logits for positions >= from. */
static int32_t sync_sequence(phi_ctx *ctx, int32_t from, bool all_rows)
{
    const phi_model *m = ctx->model;
    int32_t len = ctx->n_tokens;
    int32_t start = ctx->n_cached;
    if (m->arch->must_recompute(m, ctx->state, ctx->n_cached, len)) {
        api_log(ctx, PHI_LOG_DEBUG, "re-evaluating %d positions for length %d", (int)start,
                (int)len);
        start = 0;
    }
    if (start >= len) /* nothing new: evaluate the last position again for its logits */
        start = len - 1;
    if (from < start)
        from = start;
    ctx->n_logit_rows = 0;
    if (ensure_pool(ctx) != PHI_OK)
        return ctx->err.code;
    size_t rows = all_rows ? (size_t)(len - from) : 1;
    if (reserve_logit_rows(ctx, rows) != PHI_OK)
        return ctx->err.code;

    phi_runtime rt = {.k = ctx->kernels, .pool = ctx->pool, .interrupt = &ctx->interrupt};
    size_t nv = (size_t)m->hp.n_vocab;
    int32_t batch = (int32_t)ctx->opt.n_batch;
    ctx->n_cached = start < ctx->n_cached ? start : ctx->n_cached;
    for (int32_t pos = start; pos < len;) {
        /* Chunks never straddle `from`, so each either wants logits or not. */
        int32_t end = pos + batch < len ? pos + batch : len;
        if (pos < from && end > from)
            end = from;
        float *out = NULL;
        if (pos >= from && (all_rows || end == len))
            out = ctx->logits + (all_rows ? (size_t)(pos - from) * nv : 0);
        phi_err e = {0};
        int rc = m->arch->forward(m, ctx->state, &rt, ctx->tokens + pos, end - pos, pos, len, out,
                                  all_rows, &e);
        if (rc != PHI_OK)
            return api_fail_with(ctx, &e);
        pos = end;
        ctx->n_cached = pos;
    }
    ctx->n_logit_rows = rows;
    ctx->logits_all_rows = all_rows;
    return PHI_OK;
}

static int32_t check_tokens(phi_ctx *ctx, const phi_token *tokens, size_t n)
{
    if (n && !tokens)
        return api_fail(ctx, PHI_E_INVALID_ARG, "tokens is NULL");
    int64_t nv = ctx->model->hp.n_vocab;
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= nv)
            return api_fail(ctx, PHI_E_INVALID_ARG, "token %zu is %d, outside [0, %lld)", i,
                        (int)tokens[i], (long long)nv);
    if ((size_t)(ctx->n_ctx - ctx->n_tokens) < n)
        return api_fail(ctx, PHI_E_CONTEXT_FULL,
                    "%zu more tokens do not fit: the sequence holds %d of %d positions", n,
                    (int)ctx->n_tokens, (int)ctx->n_ctx);
    return PHI_OK;
}

/* Append and evaluate, keeping logits for every new token or only the last;
 * on failure the sequence is as it was. */
static int32_t append_and_eval(phi_ctx *ctx, const phi_token *tokens, size_t n, bool all_rows)
{
    if (check_tokens(ctx, tokens, n) != PHI_OK)
        return ctx->err.code;
    int32_t before = ctx->n_tokens;
    memcpy(ctx->tokens + before, tokens, n * sizeof *tokens);
    ctx->n_tokens = before + (int32_t)n;
    int32_t rc = sync_sequence(ctx, before, all_rows);
    if (rc != PHI_OK) {
        ctx->n_tokens = before;
        if (ctx->n_cached > before)
            ctx->n_cached = before;
        ctx->n_logit_rows = 0;
    }
    return rc;
}

int32_t phi_eval(phi_ctx *ctx, const phi_token *tokens, size_t n)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    if (api_require_model(ctx) != PHI_OK)
        return ctx->err.code;
    if (n == 0)
        return api_fail(ctx, PHI_E_INVALID_ARG, "no tokens to evaluate");
    return append_and_eval(ctx, tokens, n, ctx->opt.logits_all != 0);
}

const float *phi_logits(phi_ctx *ctx)
{
    if (!ctx)
        return NULL;
    api_begin_call(ctx);
    if (api_require_model(ctx) != PHI_OK)
        return NULL;
    if (!ctx->n_logit_rows) {
        api_fail(ctx, PHI_E_STATE, "no logits: evaluate tokens first");
        return NULL;
    }
    return ctx->logits + (ctx->n_logit_rows - 1) * (size_t)ctx->model->hp.n_vocab;
}

const float *phi_logits_at(phi_ctx *ctx, size_t i)
{
    if (!ctx)
        return NULL;
    api_begin_call(ctx);
    if (api_require_model(ctx) != PHI_OK)
        return NULL;
    if (!ctx->n_logit_rows || !ctx->logits_all_rows) {
        api_fail(ctx, PHI_E_STATE, "no per-token logits: set PHI_OPT_LOGITS_ALL before phi_eval");
        return NULL;
    }
    if (i >= ctx->n_logit_rows) {
        api_fail(ctx, PHI_E_INVALID_ARG, "row %zu is past the %zu tokens of the last evaluation", i,
             ctx->n_logit_rows);
        return NULL;
    }
    return ctx->logits + i * (size_t)ctx->model->hp.n_vocab;
}

static phi_sampling sampling_options(const options *o)
{
    phi_sampling p = {
        .temperature = o->temperature, .top_k = o->top_k, .top_p = o->top_p,
        .min_p = o->min_p, .repeat_penalty = o->repeat_penalty,
        .presence_penalty = o->presence_penalty, .frequency_penalty = o->frequency_penalty,
    };
    return p;
}

static phi_token sample_now(phi_ctx *ctx)
{
    const float *logits = ctx->logits + (ctx->n_logit_rows - 1) * (size_t)ctx->model->hp.n_vocab;
    int32_t window = ctx->opt.repeat_last_n < 0 || ctx->opt.repeat_last_n > ctx->n_tokens
                         ? ctx->n_tokens
                         : (int32_t)ctx->opt.repeat_last_n;
    phi_sampling p = sampling_options(&ctx->opt);
    return phi_sampler_sample(ctx->sampler, &p, logits, ctx->tokens + ctx->n_tokens - window,
                              window);
}

int32_t phi_sample(phi_ctx *ctx, phi_token *out)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    if (!out)
        return api_fail(ctx, PHI_E_INVALID_ARG, "out is NULL");
    if (api_require_model(ctx) != PHI_OK)
        return ctx->err.code;
    if (!ctx->n_logit_rows)
        return api_fail(ctx, PHI_E_STATE, "no logits to sample from: evaluate tokens first");
    *out = sample_now(ctx);
    return PHI_OK;
}

int phi_token_is_eog(const phi_ctx *ctx, phi_token token)
{
    return ctx && ctx->model && phi_model_is_eog(ctx->model, token);
}

/* ---- generation -------------------------------------------------------- */

int32_t api_generate_begin(phi_ctx *ctx, const phi_token *prompt, size_t n)
{
    if (api_require_model(ctx) != PHI_OK)
        return ctx->err.code;
    ctx->generating = false;
    api_text_reset(ctx);
    int32_t rc;
    if (n > 0)
        rc = append_and_eval(ctx, prompt, n, ctx->opt.logits_all != 0);
    else if (ctx->n_tokens == 0)
        rc = api_fail(ctx, PHI_E_INVALID_ARG, "empty prompt and empty sequence: nothing to continue");
    else if (!ctx->n_logit_rows)
        rc = sync_sequence(ctx, ctx->n_tokens - 1, false);
    else
        rc = PHI_OK;
    if (rc != PHI_OK)
        return rc;
    ctx->generating = true;
    ctx->n_generated = 0;
    return PHI_OK;
}

int32_t api_generate_step(phi_ctx *ctx, phi_token *token_out)
{
    if (token_out)
        *token_out = -1;
    if (!ctx->generating)
        return api_fail(ctx, PHI_E_STATE, "phi_generate_next without phi_generate_begin");
    if ((ctx->opt.max_tokens && ctx->n_generated >= ctx->opt.max_tokens) ||
        ctx->n_tokens >= ctx->n_ctx) {
        ctx->generating = false;
        return PHI_DONE;
    }
    phi_token tok = sample_now(ctx);
    if (token_out)
        *token_out = tok;
    if (phi_model_is_eog(ctx->model, tok)) {
        ctx->generating = false;
        return PHI_DONE;
    }
    /* One token: its row is the last row either way. */
    int32_t rc = append_and_eval(ctx, &tok, 1, false);
    if (rc != PHI_OK) {
        ctx->generating = false;
        return rc;
    }
    ctx->n_generated++;
    return PHI_OK;
}

int32_t phi_generate_begin(phi_ctx *ctx, const phi_token *prompt, size_t n)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    return api_generate_begin(ctx, prompt, n);
}

int32_t phi_generate_next(phi_ctx *ctx, phi_token *token_out)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_continue_call(ctx);
    return api_generate_step(ctx, token_out);
}

int32_t phi_generate_end(phi_ctx *ctx)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    ctx->generating = false;
    api_text_reset(ctx);
    return PHI_OK;
}

int32_t phi_generate(phi_ctx *ctx, const phi_token *prompt, size_t n, phi_token_cb cb,
                     void *user)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    int32_t rc = api_generate_begin(ctx, prompt, n);
    while (rc == PHI_OK) {
        phi_token tok;
        rc = api_generate_step(ctx, &tok);
        if (rc < 0)
            break;
        bool stop_asked = tok >= 0 && cb && cb(user, tok);
        if (rc == PHI_DONE || stop_asked) {
            rc = PHI_OK;
            break;
        }
        if (atomic_load_explicit(&ctx->interrupt, memory_order_relaxed))
            rc = api_fail(ctx, PHI_E_INTERRUPTED, "interrupted");
    }
    ctx->generating = false;
    return rc;
}

/* ---- sequence ---------------------------------------------------------- */

int32_t phi_kv_pos(const phi_ctx *ctx)
{
    return ctx ? ctx->n_tokens : 0;
}

int32_t phi_kv_tokens(phi_ctx *ctx, phi_token *tokens, size_t cap, size_t *n_out)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    if (!n_out || (!tokens && cap))
        return api_fail(ctx, PHI_E_INVALID_ARG, "phi_kv_tokens: NULL tokens or n_out");
    size_t n = ctx->model ? (size_t)ctx->n_tokens : 0;
    *n_out = n;
    if (n > cap)
        return api_fail(ctx, PHI_E_BUFFER_TOO_SMALL, "the sequence is %zu tokens; the buffer holds %zu",
                        n, cap);
    if (n)
        memcpy(tokens, ctx->tokens, n * sizeof *tokens);
    return PHI_OK;
}

void api_truncate(phi_ctx *ctx, int32_t n)
{
    ctx->n_tokens = n;
    if (ctx->n_cached > n)
        ctx->n_cached = n;
    ctx->n_logit_rows = 0;
}

int32_t phi_kv_truncate(phi_ctx *ctx, int32_t n_pos)
{
    if (!ctx)
        return PHI_E_INVALID_ARG;
    api_begin_call(ctx);
    if (api_require_model(ctx) != PHI_OK)
        return ctx->err.code;
    if (n_pos < 0 || n_pos > ctx->n_tokens)
        return api_fail(ctx, PHI_E_INVALID_ARG, "cannot truncate a sequence of %d tokens to %d",
                    (int)ctx->n_tokens, (int)n_pos);
    api_truncate(ctx, n_pos);
    ctx->generating = false;
    api_text_reset(ctx);
    return PHI_OK;
}

int32_t phi_kv_clear(phi_ctx *ctx)
{
    return phi_kv_truncate(ctx, 0);
}

void phi_interrupt(phi_ctx *ctx)
{
    if (ctx)
        atomic_store_explicit(&ctx->interrupt, 1, memory_order_relaxed);
}
