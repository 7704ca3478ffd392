/* Loading a model: open the file in the format it is in, find its
 * architecture, let the architecture bind the weights, read the vocabulary's
 * facts. */
#include "model/model.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "format/gguf.h"
#include "phi4.h"
#include "text/chat.h"
#include "text/tokenizer.h"

static int open_source(const phi_mem *mem, const char *path, bool use_mmap,
                       const phi_read_progress *progress, phi_source **out, phi_err *err)
{
    phi_mapped_file file;
    int rc = phi_mapped_file_open(mem, path, use_mmap, progress, &file, err);
    if (rc)
        return rc;
    if (phi_gguf_sniff(file.data, file.size))
        return phi_gguf_parse(mem, &file, out, err);
    phi_mapped_file_close(mem, &file);
    return phi_err_set(err, PHI_E_FORMAT, "'%s' is not a GGUF file (bad magic)", path);
}

static int32_t special_id(const phi_source *src, const char *key, int64_t n_tokens, phi_err *err)
{
    int64_t id;
    if (!phi_meta_int(src, key, &id, err))
        return -1;
    if (id < 0 || id >= n_tokens) {
        phi_err_set(err, PHI_E_FORMAT, "'%s' = %lld is not a token id (vocabulary has %lld)", key,
                    (long long)id, (long long)n_tokens);
        return -1;
    }
    return (int32_t)id;
}

static void add_eog(phi_vocab *v, int32_t id)
{
    if (id < 0 || v->n_eog == PHI_MAX_EOG)
        return;
    for (int i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id)
            return;
    v->eog[v->n_eog++] = id;
}

/* Tokens that end generation in the Phi chat formats, found by their text;
 * the end-of-turn ones also stand in for a missing eot_token_id. */
static const struct {
    const char *text;
    bool ends_turn;
} eog_texts[] = {
    {"<|im_end|>", true},     /* Phi-4, Phi-4-reasoning */
    {"<|end|>", true},        /* Phi-4-mini family */
    {"<|endoftext|>", false},
};

static int read_vocab(phi_model *m, phi_err *err)
{
    const phi_source *src = m->src;
    phi_vocab *v = &m->vocab;
    const phi_meta *tokens;
    v->bos = v->eos = v->eot = v->pad = -1;
    if (!phi_meta_array(src, "tokenizer.ggml.tokens", &tokens, err))
        return err->code ? err->code
                         : phi_err_set(err, PHI_E_FORMAT,
                                       "missing required metadata 'tokenizer.ggml.tokens'");
    if (tokens->elem_type != PHI_META_STRING)
        return phi_err_set(err, PHI_E_FORMAT, "'tokenizer.ggml.tokens' must hold strings");
    if ((int64_t)tokens->count > m->hp.n_vocab)
        return phi_err_set(err, PHI_E_FORMAT,
                           "the vocabulary has %llu tokens but the embedding only %lld rows",
                           (unsigned long long)tokens->count, (long long)m->hp.n_vocab);
    v->n_tokens = (int64_t)tokens->count;
    v->tokens = tokens->strs;
    const phi_meta *types;
    if (phi_meta_array(src, "tokenizer.ggml.token_type", &types, err)) {
        if (types->count != tokens->count || types->elem_type == PHI_META_STRING ||
            types->elem_type == PHI_META_F32 || types->elem_type == PHI_META_F64)
            return phi_err_set(err, PHI_E_FORMAT,
                               "'tokenizer.ggml.token_type' must hold one integer per token");
        v->types = types;
    } else if (err->code)
        return err->code;

    v->bos = special_id(src, "tokenizer.ggml.bos_token_id", v->n_tokens, err);
    v->eos = special_id(src, "tokenizer.ggml.eos_token_id", v->n_tokens, err);
    v->eot = special_id(src, "tokenizer.ggml.eot_token_id", v->n_tokens, err);
    v->pad = special_id(src, "tokenizer.ggml.padding_token_id", v->n_tokens, err);
    if (err->code)
        return err->code;
    add_eog(v, v->eos);
    add_eog(v, v->eot);
    for (int64_t i = 0; i < v->n_tokens; i++)
        for (size_t e = 0; e < sizeof eog_texts / sizeof eog_texts[0]; e++)
            if (phi_str_eq(v->tokens[i], eog_texts[e].text)) {
                add_eog(v, (int32_t)i);
                if (v->eot < 0 && eog_texts[e].ends_turn)
                    v->eot = (int32_t)i;
            }
    return PHI_OK;
}

/* Hugging Face's Phi-4-mini (and Phi-3) tokenizer.json marks the role
 * tokens rstrip; GGUF has no field for it, so they are known by their text. */
static const char *const rstrip_tokens[] = {"<|system|>", "<|user|>", "<|assistant|>", "<|end|>"};

/* Record why the text calls will be unavailable; the load goes on (PHI_OK). */
static int tokenizer_unsupported(phi_model *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int tokenizer_unsupported(phi_model *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->tokenizer_error, sizeof m->tokenizer_error, fmt, ap);
    va_end(ap);
    return PHI_OK;
}

/* Build the tokenizer from tokenizer.ggml.*. A tokenizer this build does
 * not run leaves m->tokenizer NULL with the reason (token-level calls still
 * work); a malformed one fails the load. */
static int read_tokenizer(phi_model *m, phi_err *err)
{
    const phi_source *src = m->src;
    const phi_vocab *v = &m->vocab;
    phi_str kind = {0}, pre = {0};
    const phi_meta *merges = NULL;
    if (!phi_meta_str(src, "tokenizer.ggml.model", &kind, err) && !err->code)
        return tokenizer_unsupported(m, "the file names no tokenizer ('tokenizer.ggml.model')");
    if (!err->code && !phi_str_eq(kind, "gpt2"))
        return tokenizer_unsupported(m, "tokenizer '%.*s' is not supported (libphi4 runs byte-level BPE, 'gpt2')",
                                     (int)(kind.len > 32 ? 32 : kind.len), kind.ptr);
    if (!err->code && !phi_meta_str(src, "tokenizer.ggml.pre", &pre, err) && !err->code)
        return tokenizer_unsupported(m, "the file names no pre-tokenizer ('tokenizer.ggml.pre')");
    if (!err->code && !phi_meta_array(src, "tokenizer.ggml.merges", &merges, err) && !err->code)
        return phi_err_set(err, PHI_E_FORMAT, "missing 'tokenizer.ggml.merges' for a BPE tokenizer");
    if (err->code)
        return err->code;
    if (merges->elem_type != PHI_META_STRING)
        return phi_err_set(err, PHI_E_FORMAT, "'tokenizer.ggml.merges' must hold strings");

    size_t n = (size_t)v->n_tokens;
    int32_t *types = v->types ? phi_alloc_array(&m->mem, n, sizeof *types) : NULL;
    uint8_t *attrs = phi_alloc_zero(&m->mem, n);
    int rc = PHI_OK;
    if ((v->types && !types) || !attrs) {
        rc = phi_err_set(err, PHI_E_NOMEM, "out of memory for the vocabulary");
        goto done;
    }
    for (size_t i = 0; v->types && i < n; i++) {
        int64_t t = phi_meta_elem_int(v->types, i);
        types[i] = t >= INT32_MIN && t <= INT32_MAX ? (int32_t)t : 0;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t r = 0; r < sizeof rstrip_tokens / sizeof rstrip_tokens[0]; r++)
            if (phi_str_eq(v->tokens[i], rstrip_tokens[r]))
                attrs[i] = PHI_TOKEN_ATTR_RSTRIP;
    phi_vocab_desc d = {pre, v->tokens, v->n_tokens, types, attrs, merges->strs,
                        (int64_t)merges->count};
    phi_err terr = {0};
    rc = phi_tokenizer_new(&m->mem, &d, &m->tokenizer, &terr);
    if (rc == PHI_E_UNSUPPORTED)
        rc = tokenizer_unsupported(m, "%s", terr.msg);
    else if (rc != PHI_OK)
        *err = terr;
done:
    phi_free(&m->mem, types);
    phi_free(&m->mem, attrs);
    return rc;
}

static void read_chat_template(phi_model *m)
{
    phi_err ignored = {0};
    if (phi_meta_str(m->src, "tokenizer.chat_template", &m->chat_template, &ignored))
        m->chat_format = phi_chat_detect(m->chat_template.ptr, (size_t)m->chat_template.len);
    else if (m->tokenizer)
        m->chat_format = phi_chat_detect_from_vocab(m->tokenizer);
}

int phi_model_load(const phi_mem *mem, const char *path, bool use_mmap,
                   const phi_read_progress *progress, const phi_kernels *k, phi_model **out,
                   phi_err *err)
{
    *out = NULL;
    phi_model *m = phi_alloc_zero(mem, sizeof *m);
    if (!m)
        return phi_err_set(err, PHI_E_NOMEM, "out of memory");
    m->mem = *mem;
    atomic_init(&m->refs, 1);
    int rc = open_source(mem, path, use_mmap, progress, &m->src, err);
    if (rc)
        goto fail;

    phi_str arch_name;
    if (!phi_meta_str(m->src, "general.architecture", &arch_name, err)) {
        rc = err->code ? err->code
                       : phi_err_set(err, PHI_E_FORMAT,
                                     "missing required metadata 'general.architecture'");
        goto fail;
    }
    m->arch = phi_arch_find(arch_name);
    if (!m->arch) {
        rc = phi_err_set(err, PHI_E_UNSUPPORTED, "architecture '%.*s' is not supported",
                         (int)(arch_name.len > 64 ? 64 : arch_name.len), arch_name.ptr);
        goto fail;
    }
    phi_str name;
    if (phi_meta_str(m->src, "general.name", &name, err)) {
        size_t n = name.len < sizeof m->name - 1 ? (size_t)name.len : sizeof m->name - 1;
        memcpy(m->name, name.ptr, n);
    }
    phi_err_clear(err);
    if ((rc = m->arch->load(m, k, err)) != PHI_OK)
        goto fail;
    if ((rc = read_vocab(m, err)) != PHI_OK || (rc = read_tokenizer(m, err)) != PHI_OK)
        goto fail;
    read_chat_template(m);
    for (size_t i = 0; i < m->src->n_tensors; i++)
        m->weight_bytes += m->src->tensors[i].nbytes;
    *out = m;
    return PHI_OK;

fail:
    phi_model_release(m);
    return rc;
}

void phi_model_retain(phi_model *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void phi_model_release(phi_model *m)
{
    if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (m->arch && m->arch->unload)
        m->arch->unload(m);
    phi_tokenizer_free(m->tokenizer);
    phi_source_free(m->src);
    phi_mem mem = m->mem;
    phi_free(&mem, m);
}

bool phi_model_is_eog(const phi_model *m, int32_t token)
{
    for (int i = 0; i < m->vocab.n_eog; i++)
        if (m->vocab.eog[i] == token)
            return true;
    return false;
}
