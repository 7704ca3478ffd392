#include "text/hf_tokenizer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "format/json.h"
#include "phi4.h"

struct phi_hf_tokenizer {
    phi_mem mem;
    phi_json *doc;       /* the tokens and "a b" merges point into its strings */
    phi_str *tokens;
    int32_t *types;
    uint8_t *attrs;
    phi_str *merges;
    char *pair_merges;   /* "a b" spellings of merges given as ["a", "b"] */
    phi_vocab_desc desc;
};

/* The split patterns of the two vocabularies, exactly as tiktoken defines
 * them and tokenizer.json spells them (after JSON unescaping), and the
 * pre-tokenizer names the tokenizer knows them by. */
static const struct {
    const char *regex, *pre;
} split_patterns[] = {
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
     "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "dbrx"},
    {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|"
     "'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|"
     "'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "gpt-4o"},
};

/* A string in a message: at most 40 bytes of it (strings here are not
 * NUL-terminated). */
#define SHOWN(s) (int)((s).len > 40 ? 40 : (s).len), (s).ptr

static int fail(phi_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(phi_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    phi_err_vset(err, code, fmt, ap);
    va_end(ap);
    phi_err_prefix(err, "tokenizer.json");
    return code;
}

/* How a value reads in a message: a component's 'type', or its JSON kind. */
static const char *describe(const phi_json_value *v, char *buf, size_t size)
{
    phi_str type;
    if (phi_json_string(phi_json_member(v, "type"), &type))
        snprintf(buf, size, "'%.*s'", SHOWN(type));
    else
        snprintf(buf, size, "%s", phi_json_kind(v));
    return buf;
}

/* A boolean member, absent meaning fallback; FORMAT if it is not a boolean. */
static int read_flag(const phi_json_value *obj, const char *key, bool fallback, bool *out, const char *where,
                     phi_err *err)
{
    const phi_json_value *v = phi_json_member(obj, key);
    *out = fallback;
    if (v && !phi_json_bool(v, out))
        return fail(err, PHI_E_FORMAT, "%s.%s is %s, not a boolean", where, key,
                    phi_json_kind(v));
    return PHI_OK;
}

static bool is_null(const phi_json_value *v)
{
    phi_json_type t = phi_json_type_of(v);
    return t == PHI_JSON_NULL || t == PHI_JSON_MISSING;
}

static int check_model(const phi_json_value *model, phi_err *err)
{
    if (phi_json_type_of(model) != PHI_JSON_OBJECT)
        return fail(err, PHI_E_FORMAT, "model is %s, not an object", phi_json_kind(model));
    phi_str type;
    if (!phi_json_string(phi_json_member(model, "type"), &type))
        return fail(err, PHI_E_UNSUPPORTED, "model has no type; only BPE is supported");
    if (!phi_str_eq(type, "BPE"))
        return fail(err, PHI_E_UNSUPPORTED, "model type '%.*s' is not supported; only BPE is", SHOWN(type));
    if (!is_null(phi_json_member(model, "dropout")))
        return fail(err, PHI_E_UNSUPPORTED, "model.dropout is set (random merges); only null is supported");
    /* GPT-2-style files spell "none" as "". */
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (size_t i = 0; i < sizeof affixes / sizeof affixes[0]; i++) {
        const phi_json_value *affix = phi_json_member(model, affixes[i]);
        if (!is_null(affix) && !phi_json_string_is(affix, ""))
            return fail(err, PHI_E_UNSUPPORTED, "model.%s is set; byte-level BPE as Phi uses it has none",
                        affixes[i]);
    }
    bool flag;
    int rc = read_flag(model, "ignore_merges", false, &flag, "model", err);
    if (rc == PHI_OK)
        rc = read_flag(model, "byte_fallback", false, &flag, "model", err);
    return rc;
}

/* Sequence[Split(pattern, Isolated), ByteLevel(no prefix space, no regex)],
 * or the same with the Split spelled Removed, invert: true (Phi-4-mini's
 * file): for these patterns the two split alike, as every character starts
 * a match, so there is nothing between matches to remove. */
static int check_pre_tokenizer(const phi_json_value *pre, const char **name, phi_err *err)
{
    char what[64], what2[64];
    const phi_json_value *steps = phi_json_member(pre, "pretokenizers");
    if (!phi_json_string_is(phi_json_member(pre, "type"), "Sequence") || phi_json_count(steps) != 2) {
        if (phi_json_string_is(phi_json_member(pre, "type"), "ByteLevel")) {
            bool use_regex = true; /* HF's default */
            phi_json_bool(phi_json_member(pre, "use_regex"), &use_regex);
            return fail(err, PHI_E_UNSUPPORTED, "pre_tokenizer is ByteLevel alone, %s; supported: a Sequence of "
                        "Split (cl100k or o200k pattern) and ByteLevel",
                        use_regex ? "splitting on its own regex (GPT-2's pattern)" : "splitting nothing");
        }
        if (phi_json_string_is(phi_json_member(pre, "type"), "Sequence"))
            return fail(err, PHI_E_UNSUPPORTED, "pre_tokenizer is a Sequence of %zu steps; supported: Split "
                        "(cl100k or o200k pattern) then ByteLevel", phi_json_count(steps));
        return fail(err, PHI_E_UNSUPPORTED, "pre_tokenizer %s is not supported; supported: a Sequence of Split "
                    "(cl100k or o200k pattern) and ByteLevel", describe(pre, what, sizeof what));
    }
    const phi_json_value *split = phi_json_element(steps, 0), *byte_level = phi_json_element(steps, 1);
    if (!phi_json_string_is(phi_json_member(split, "type"), "Split") ||
        !phi_json_string_is(phi_json_member(byte_level, "type"), "ByteLevel"))
        return fail(err, PHI_E_UNSUPPORTED, "pre_tokenizer is a Sequence of %s and %s; supported: Split then "
                    "ByteLevel", describe(split, what, sizeof what),
                    describe(byte_level, what2, sizeof what2));

    phi_str regex;
    if (!phi_json_string(phi_json_member(phi_json_member(split, "pattern"), "Regex"), &regex))
        return fail(err, PHI_E_UNSUPPORTED, "the pre_tokenizer's Split has no Regex pattern (a literal String "
                    "pattern is not supported)");
    *name = NULL;
    for (size_t i = 0; i < sizeof split_patterns / sizeof split_patterns[0]; i++)
        if (phi_str_eq(regex, split_patterns[i].regex))
            *name = split_patterns[i].pre;
    if (!*name)
        return fail(err, PHI_E_UNSUPPORTED, "the pre_tokenizer's Split regex is neither the cl100k nor the o200k "
                    "pattern: '%.*s'%s", (int)(regex.len > 120 ? 120 : regex.len), regex.ptr,
                    regex.len > 120 ? "..." : "");
    bool invert;
    int rc = read_flag(split, "invert", false, &invert, "pre_tokenizer's Split", err);
    if (rc != PHI_OK)
        return rc;
    const phi_json_value *behavior = phi_json_member(split, "behavior");
    if (!(invert ? phi_json_string_is(behavior, "Removed") : phi_json_string_is(behavior, "Isolated"))) {
        phi_str b = {"(none)", 6};
        phi_json_string(behavior, &b);
        return fail(err, PHI_E_UNSUPPORTED, "the pre_tokenizer's Split has behavior '%.*s' with invert %s; "
                    "supported: Isolated (invert false) or Removed (invert true)",
                    SHOWN(b), invert ? "true" : "false");
    }

    /* HF's defaults when absent: add_prefix_space and use_regex true. */
    bool prefix_space = true, use_regex = true;
    phi_json_bool(phi_json_member(byte_level, "add_prefix_space"), &prefix_space);
    phi_json_bool(phi_json_member(byte_level, "use_regex"), &use_regex);
    if (prefix_space || use_regex)
        return fail(err, PHI_E_UNSUPPORTED, "the pre_tokenizer's ByteLevel has %s; supported: both false",
                    prefix_space && use_regex ? "add_prefix_space and use_regex"
                    : prefix_space            ? "add_prefix_space"
                                              : "use_regex (GPT-2's pattern on top of the Split)");
    return PHI_OK;
}

static int check_pipeline(const phi_json_value *root, const char **pre, phi_err *err)
{
    char what[64];
    const phi_json_value *normalizer = phi_json_member(root, "normalizer");
    if (!is_null(normalizer))
        return fail(err, PHI_E_UNSUPPORTED, "normalizer %s is not supported (byte-level BPE as Phi uses it has "
                    "none)", describe(normalizer, what, sizeof what));
    int rc = check_pre_tokenizer(phi_json_member(root, "pre_tokenizer"), pre, err);
    if (rc != PHI_OK)
        return rc;
    const phi_json_value *decoder = phi_json_member(root, "decoder");
    if (!phi_json_string_is(phi_json_member(decoder, "type"), "ByteLevel"))
        return fail(err, PHI_E_UNSUPPORTED, "decoder %s is not supported; only ByteLevel is",
                    describe(decoder, what, sizeof what));
    return PHI_OK;
}

/* A token id: an integer in [0, INT32_MAX). */
static bool read_id(const phi_json_value *v, int64_t *id)
{
    return phi_json_int64(v, id) && *id >= 0 && *id < INT32_MAX;
}

/* The largest id, and whether there are enough entries to cover 0..max
 * (checked before anything of that size is allocated). */
static int count_ids(const phi_json_value *vocab, const phi_json_value *added, int64_t *n_tokens, phi_err *err)
{
    int64_t max = -1, id;
    phi_str key;
    const phi_json_value *value;
    for (size_t i = 0; phi_json_member_at(vocab, i, &key, &value); i++) {
        if (!read_id(value, &id))
            return fail(err, PHI_E_FORMAT, "model.vocab entry %zu ('%.*s'): the id is not an integer from 0 to %d",
                        i, SHOWN(key), INT32_MAX - 1);
        max = id > max ? id : max;
    }
    for (size_t i = 0; i < phi_json_count(added); i++) {
        const phi_json_value *token = phi_json_element(added, i);
        if (phi_json_type_of(token) != PHI_JSON_OBJECT)
            return fail(err, PHI_E_FORMAT, "added_tokens[%zu] is %s, not an object", i,
                        phi_json_kind(token));
        if (!read_id(phi_json_member(token, "id"), &id))
            return fail(err, PHI_E_FORMAT, "added_tokens[%zu]: the id is not an integer from 0 to %d", i,
                        INT32_MAX - 1);
        max = id > max ? id : max;
    }
    if (max < 0)
        return fail(err, PHI_E_FORMAT, "model.vocab and added_tokens hold no tokens");
    size_t entries = phi_json_count(vocab) + phi_json_count(added);
    if ((uint64_t)max >= entries)
        return fail(err, PHI_E_FORMAT, "ids go up to %lld but there are only %zu entries, so some ids have no "
                    "token", (long long)max, entries);
    *n_tokens = max + 1;
    return PHI_OK;
}

static int read_vocab(phi_hf_tokenizer *t, const phi_json_value *vocab, phi_err *err)
{
    phi_str key;
    const phi_json_value *value;
    for (size_t i = 0; phi_json_member_at(vocab, i, &key, &value); i++) {
        int64_t id;
        phi_json_int64(value, &id);
        if (key.len == 0)
            return fail(err, PHI_E_FORMAT, "model.vocab has an empty token (id %lld)", (long long)id);
        if (t->tokens[id].ptr)
            return fail(err, PHI_E_FORMAT, "model.vocab gives id %lld to both '%.*s' and '%.*s'",
                        (long long)id, SHOWN(t->tokens[id]), SHOWN(key));
        t->tokens[id] = key;
        t->types[id] = PHI_TOKEN_NORMAL;
    }
    return PHI_OK;
}

static int read_added(phi_hf_tokenizer *t, const phi_json_value *added, phi_err *err)
{
    for (size_t i = 0; i < phi_json_count(added); i++) {
        const phi_json_value *token = phi_json_element(added, i);
        int64_t id;
        phi_json_int64(phi_json_member(token, "id"), &id);
        phi_str content;
        if (!phi_json_string(phi_json_member(token, "content"), &content) || content.len == 0)
            return fail(err, PHI_E_FORMAT, "added_tokens[%zu] (id %lld) has no content", i, (long long)id);
        /* normalized is read for its type only: without a normalizer,
         * normalized and raw text are the same. */
        bool special, lstrip, rstrip, single_word, normalized;
        char where[48];
        snprintf(where, sizeof where, "added_tokens[%zu]", i);
        int rc = PHI_OK;
        if ((rc = read_flag(token, "special", false, &special, where, err)) != PHI_OK ||
            (rc = read_flag(token, "lstrip", false, &lstrip, where, err)) != PHI_OK ||
            (rc = read_flag(token, "rstrip", false, &rstrip, where, err)) != PHI_OK ||
            (rc = read_flag(token, "normalized", false, &normalized, where, err)) != PHI_OK ||
            (rc = read_flag(token, "single_word", false, &single_word, where, err)) != PHI_OK)
            return rc;
        if (single_word)
            return fail(err, PHI_E_UNSUPPORTED, "added token '%.*s' (id %lld) has single_word, which Phi does "
                        "not use and is not supported", SHOWN(content), (long long)id);
        if (t->types[id] == PHI_TOKEN_CONTROL || t->types[id] == PHI_TOKEN_USER_DEFINED)
            return fail(err, PHI_E_FORMAT, "added_tokens gives id %lld twice ('%.*s' and '%.*s')",
                        (long long)id, SHOWN(t->tokens[id]), SHOWN(content));
        t->tokens[id] = content;
        t->types[id] = special ? PHI_TOKEN_CONTROL : PHI_TOKEN_USER_DEFINED;
        t->attrs[id] = (uint8_t)((lstrip ? PHI_TOKEN_ATTR_LSTRIP : 0) | (rstrip ? PHI_TOKEN_ATTR_RSTRIP : 0));
    }
    return PHI_OK;
}

static int read_tokens(phi_hf_tokenizer *t, const phi_json_value *root, phi_err *err)
{
    const phi_json_value *vocab = phi_json_member(phi_json_member(root, "model"), "vocab");
    const phi_json_value *added = phi_json_member(root, "added_tokens");
    if (phi_json_type_of(vocab) != PHI_JSON_OBJECT)
        return fail(err, PHI_E_FORMAT, "model.vocab is %s, not an object", phi_json_kind(vocab));
    if (!is_null(added) && phi_json_type_of(added) != PHI_JSON_ARRAY)
        return fail(err, PHI_E_FORMAT, "added_tokens is %s, not an array", phi_json_kind(added));
    int64_t n = 0;
    int rc = count_ids(vocab, added, &n, err);
    if (rc != PHI_OK)
        return rc;
    t->tokens = phi_alloc_array(&t->mem, (size_t)n, sizeof *t->tokens);
    t->types = phi_alloc_array(&t->mem, (size_t)n, sizeof *t->types);
    t->attrs = phi_alloc_array(&t->mem, (size_t)n, sizeof *t->attrs);
    if (!t->tokens || !t->types || !t->attrs)
        return fail(err, PHI_E_NOMEM, "out of memory for %lld tokens", (long long)n);
    memset(t->tokens, 0, (size_t)n * sizeof *t->tokens);
    memset(t->types, 0, (size_t)n * sizeof *t->types);
    memset(t->attrs, 0, (size_t)n * sizeof *t->attrs);
    if ((rc = read_vocab(t, vocab, err)) != PHI_OK || (rc = read_added(t, added, err)) != PHI_OK)
        return rc;
    for (int64_t id = 0; id < n; id++)
        if (!t->tokens[id].ptr)
            return fail(err, PHI_E_FORMAT, "token id %lld has no entry in model.vocab or added_tokens",
                        (long long)id);
    t->desc.tokens = t->tokens;
    t->desc.n_tokens = n;
    t->desc.types = t->types;
    t->desc.attrs = t->attrs;
    return PHI_OK;
}

/* One side of a merge in the pair form: a non-empty token without a space
 * (byte-level tokens spell a space 'Ġ', so a literal one cannot occur and
 * would make the "a b" spelling ambiguous). */
static bool pair_side(const phi_json_value *v, phi_str *out)
{
    return phi_json_string(v, out) && out->len > 0 && !memchr(out->ptr, ' ', out->len);
}

/* Merges as "a b" strings (the older spelling) or ["a", "b"] pairs
 * (tokenizers 0.20 and later); either way the desc gets "a b". */
static int read_merges(phi_hf_tokenizer *t, const phi_json_value *model, phi_err *err)
{
    const phi_json_value *merges = phi_json_member(model, "merges");
    if (phi_json_type_of(merges) != PHI_JSON_ARRAY)
        return fail(err, PHI_E_FORMAT, "model.merges is %s, not an array",
                    phi_json_kind(merges));
    size_t n = phi_json_count(merges), text_len = 0;
    for (size_t i = 0; i < n; i++) {
        const phi_json_value *m = phi_json_element(merges, i);
        phi_str s, left, right;
        if (phi_json_string(m, &s)) {
            const char *space = memchr(s.ptr, ' ', s.len);
            if (!space || space == s.ptr || space == s.ptr + s.len - 1 ||
                memchr(space + 1, ' ', (size_t)(s.ptr + s.len - space - 1)))
                return fail(err, PHI_E_FORMAT, "model.merges[%zu] ('%.*s') is not two tokens separated by one "
                            "space", i, SHOWN(s));
        } else if (phi_json_count(m) == 2 && phi_json_type_of(m) == PHI_JSON_ARRAY &&
                   pair_side(phi_json_element(m, 0), &left) && pair_side(phi_json_element(m, 1), &right)) {
            text_len += left.len + 1 + right.len;
        } else {
            return fail(err, PHI_E_FORMAT, "model.merges[%zu] is neither \"a b\" nor a pair [\"a\", \"b\"] of "
                        "tokens without spaces", i);
        }
    }
    t->merges = phi_alloc_array(&t->mem, n ? n : 1, sizeof *t->merges);
    t->pair_merges = phi_alloc(&t->mem, text_len ? text_len : 1);
    if (!t->merges || !t->pair_merges)
        return fail(err, PHI_E_NOMEM, "out of memory for %zu merges", n);
    char *at = t->pair_merges;
    for (size_t i = 0; i < n; i++) {
        const phi_json_value *m = phi_json_element(merges, i);
        phi_str left, right;
        if (phi_json_string(m, &t->merges[i]))
            continue;
        phi_json_string(phi_json_element(m, 0), &left);
        phi_json_string(phi_json_element(m, 1), &right);
        t->merges[i] = (phi_str){at, left.len + 1 + right.len};
        memcpy(at, left.ptr, left.len);
        at[left.len] = ' ';
        memcpy(at + left.len + 1, right.ptr, right.len);
        at += t->merges[i].len;
    }
    t->desc.merges = t->merges;
    t->desc.n_merges = (int64_t)n;
    return PHI_OK;
}

int phi_hf_tokenizer_read(const phi_mem *mem, const char *json, size_t len, phi_hf_tokenizer **out,
                          phi_err *err)
{
    *out = NULL;
    phi_hf_tokenizer *t = phi_alloc_zero(mem, sizeof *t);
    if (!t)
        return fail(err, PHI_E_NOMEM, "out of memory");
    t->mem = *mem;
    int rc = phi_json_parse(mem, json, len, &t->doc, err);
    if (rc != PHI_OK) {
        phi_err_prefix(err, "tokenizer.json");
        phi_hf_tokenizer_free(t);
        return rc;
    }
    const phi_json_value *root = phi_json_root(t->doc);
    const char *pre = NULL;
    if (phi_json_type_of(root) != PHI_JSON_OBJECT)
        rc = fail(err, PHI_E_FORMAT, "the document is %s, not an object",
                  phi_json_kind(root));
    if (rc == PHI_OK)
        rc = check_model(phi_json_member(root, "model"), err);
    if (rc == PHI_OK)
        rc = check_pipeline(root, &pre, err);
    if (rc == PHI_OK)
        rc = read_tokens(t, root, err);
    if (rc == PHI_OK)
        rc = read_merges(t, phi_json_member(root, "model"), err);
    if (rc != PHI_OK) {
        phi_hf_tokenizer_free(t);
        return rc;
    }
    t->desc.pre = (phi_str){pre, strlen(pre)};
    *out = t;
    return PHI_OK;
}

void phi_hf_tokenizer_free(phi_hf_tokenizer *t)
{
    if (!t)
        return;
    phi_mem mem = t->mem;
    phi_json_free(t->doc);
    phi_free(&mem, t->tokens);
    phi_free(&mem, t->types);
    phi_free(&mem, t->attrs);
    phi_free(&mem, t->merges);
    phi_free(&mem, t->pair_merges);
    phi_free(&mem, t);
}

const phi_vocab_desc *phi_hf_tokenizer_desc(const phi_hf_tokenizer *t) { return &t->desc; }

int32_t phi_hf_tokenizer_added_id(const phi_hf_tokenizer *t, const char *text, size_t len)
{
    const phi_json_value *added = phi_json_member(phi_json_root(t->doc), "added_tokens");
    for (size_t i = 0; i < phi_json_count(added); i++) {
        const phi_json_value *token = phi_json_element(added, i);
        phi_str content;
        int64_t id;
        if (phi_json_string(phi_json_member(token, "content"), &content) && content.len == len &&
            memcmp(content.ptr, text, len) == 0 && phi_json_int64(phi_json_member(token, "id"), &id))
            return (int32_t)id;
    }
    return -1;
}
