/* The tokenizer.json reader. The fixtures' vocabularies are converted to
 * tokenizer.json files shaped like Phi-4's and Phi-4-mini's
 * (fixtures/make_tokenizer_json.py, run here: the files are 4 and 15 MB);
 * read back, they must give the same vocabulary, and a tokenizer built from
 * them must reproduce js-tiktoken's ids on the whole corpus. Then a small
 * file, and variants of it for every unsupported or malformed case, and
 * every allocation failure.
 * Usage: test_hf_tokenizer FIXTURE_DIR PYTHON make_tokenizer_json.py
 *        test_hf_tokenizer --write-corpus DIR   (the fuzz target's seeds) */
#define _POSIX_C_SOURCE 200809L /* popen, clock_gettime */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "failing_mem.h"
#include "format/json.h"
#include "phi4.h"
#include "text/hf_tokenizer.h"
#include "text/tokenizer.h"
#include "tokenizer_corpus.h"

static phi_mem mem;
static const char *python, *script;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The script's output for a fixture vocabulary. */
static char *make_json(const char *flavor, const char *vocab, size_t *len)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' '%s' %s '%s/%s'", python, script, flavor, fixture_dir, vocab);
    FILE *f = popen(cmd, "r");
    size_t cap = 1 << 24, n = 0, got;
    char *buf = malloc(cap);
    while (f && buf && (got = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap)
            buf = realloc(buf, cap *= 2);
    if (!f || !buf || pclose(f) != 0 || n == 0) {
        fprintf(stderr, "%s failed\n", cmd);
        exit(2);
    }
    *len = n;
    return buf;
}

/* ---- the real vocabularies ---- */

static const char *const mini_role_tokens[] = {"<|system|>", "<|user|>", "<|assistant|>", "<|end|>"};

static bool is_one_of(phi_str s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (phi_str_eq(s, list[i]))
            return true;
    return false;
}

/* The fixture's vocabulary, read through tokenizer.json: the same tokens
 * and merges; specials as control tokens, but Phi-4-mini's tool tokens as
 * user-defined ones and its role tokens with rstrip. */
static void compare_desc(const phi_vocab_desc *hf, const vocab_file *v, bool mini)
{
    static const char *const tool_tokens[] = {"<|tool|>", "<|/tool|>", "<|tool_call|>", "<|/tool_call|>",
                                              "<|tool_response|>"};
    CHECK_EQ(hf->n_tokens, v->desc.n_tokens);
    CHECK_EQ(hf->n_merges, v->desc.n_merges);
    CHECK(phi_str_eq(hf->pre, v->pre));
    size_t same_tokens = 0, same_merges = 0, user_defined = 0, rstrip = 0;
    for (int64_t i = 0; i < hf->n_tokens && i < v->desc.n_tokens; i++) {
        phi_str a = hf->tokens[i], b = v->tokens[i];
        bool tool = mini && is_one_of(b, tool_tokens, 5), role = mini && is_one_of(b, mini_role_tokens, 4);
        int32_t want_type = v->types[i] == PHI_TOKEN_CONTROL && tool ? PHI_TOKEN_USER_DEFINED : v->types[i];
        uint8_t want_attrs = role ? PHI_TOKEN_ATTR_RSTRIP : 0;
        same_tokens += a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0 && hf->types[i] == want_type &&
                       hf->attrs[i] == want_attrs;
        user_defined += hf->types[i] == PHI_TOKEN_USER_DEFINED;
        rstrip += hf->attrs[i] == PHI_TOKEN_ATTR_RSTRIP;
    }
    for (int64_t i = 0; i < hf->n_merges && i < v->desc.n_merges; i++)
        same_merges += hf->merges[i].len == v->merges[i].len &&
                       memcmp(hf->merges[i].ptr, v->merges[i].ptr, v->merges[i].len) == 0;
    printf("  same as the fixture: %zu/%lld tokens (with types and attrs), %zu/%lld merges; %zu user-defined, "
           "%zu rstrip\n", same_tokens, (long long)v->desc.n_tokens, same_merges, (long long)v->desc.n_merges,
           user_defined, rstrip);
    CHECK_EQ(same_tokens, v->desc.n_tokens);
    CHECK_EQ(same_merges, v->desc.n_merges);
    CHECK_EQ(user_defined, mini ? 5 : 0);
    CHECK_EQ(rstrip, mini ? 4 : 0);
}

/* The corpus's white space is ASCII, so that is what the role tokens'
 * rstrip has to swallow here (test_tokenizer covers Unicode White_Space). */
static bool strip_after_roles(phi_str text, char *out, size_t *out_len)
{
    size_t n = 0;
    bool changed = false;
    for (size_t i = 0; i < text.len;) {
        size_t role = 0;
        for (size_t r = 0; r < 4; r++) {
            size_t len = strlen(mini_role_tokens[r]);
            if (len <= text.len - i && memcmp(text.ptr + i, mini_role_tokens[r], len) == 0)
                role = len;
        }
        if (!role) {
            out[n++] = text.ptr[i++];
            continue;
        }
        memcpy(out + n, text.ptr + i, role);
        n += role, i += role;
        for (; i < text.len && strchr(" \t\n\r\f\v", text.ptr[i]); i++)
            changed = true;
    }
    *out_len = n;
    return changed;
}

static void run_vocab(const char *flavor, const char *name, const char *specials[], const int32_t ids[],
                      size_t n_specials)
{
    bool mini = strcmp(flavor, "phi-4-mini") == 0;
    char vocab_name[64], expected_name[64];
    snprintf(vocab_name, sizeof vocab_name, "%s.vocab", name);
    size_t len;
    double t0 = now();
    char *json = make_json(flavor, vocab_name, &len);
    double t1 = now();
    phi_json *doc;
    phi_err err = {0};
    CHECK_EQ(phi_json_parse(&mem, json, len, &doc, &err), PHI_OK);
    double t2 = now();
    phi_json_free(doc);
    phi_hf_tokenizer *hf;
    int rc = phi_hf_tokenizer_read(&mem, json, len, &hf, &err);
    double t3 = now();
    free(json); /* nothing points into the text */
    if (rc != PHI_OK) {
        fprintf(stderr, "%s: %s\n", flavor, err.msg);
        CHECK_EQ(rc, PHI_OK);
        return;
    }
    printf("%s tokenizer.json (%s, %.1f MB, written in %.2f s): JSON parsed in %.3f s, read in %.3f s\n", flavor,
           name, len / 1e6, t1 - t0, t2 - t1, t3 - t2);

    vocab_file v;
    load_vocab(&v, vocab_name);
    compare_desc(phi_hf_tokenizer_desc(hf), &v, mini);
    phi_tokenizer *t, *oracle;
    CHECK_EQ(phi_tokenizer_new(&mem, phi_hf_tokenizer_desc(hf), &t, &err), PHI_OK);
    CHECK_EQ(phi_tokenizer_new(&mem, &v.desc, &oracle, &err), PHI_OK);
    for (size_t i = 0; i < n_specials; i++)
        CHECK_EQ(phi_hf_tokenizer_added_id(hf, specials[i], strlen(specials[i])), ids[i]);
    CHECK_EQ(phi_hf_tokenizer_added_id(hf, "hello", 5), -1);          /* a model.vocab token */
    CHECK_EQ(phi_hf_tokenizer_added_id(hf, "<|endoftext|", 12), -1);  /* a prefix of one */
    phi_hf_tokenizer_free(hf); /* the tokenizer holds a copy */

    char label[64];
    snprintf(label, sizeof label, "%s (tokenizer.json)", name);
    snprintf(expected_name, sizeof expected_name, "%s.expected", name);
    test_corpus(t, label, "corpus.txt", expected_name, false, NULL);
    snprintf(expected_name, sizeof expected_name, "%s.special.expected", name);
    corpus_strip strip = {strip_after_roles, oracle};
    test_corpus(t, label, "corpus_special.txt", expected_name, true, mini ? &strip : NULL);
    if (mini) {
        CHECK(same_ids(t, "<|user|>\n Hi", "<|user|>Hi", true));
        CHECK(same_ids(t, "Hi<|end|>\n<|assistant|>  x", "Hi<|end|><|assistant|>x", true));
        CHECK(!same_ids(t, "Hi \n<|end|>", "Hi<|end|>", true));     /* rstrip only */
        CHECK(!same_ids(t, "<|user|>\n Hi", "<|user|>Hi", false));  /* only where specials are parsed */
        CHECK(same_ids(t, "<|tool|>", "<|tool|>", true));
        size_t n;
        int32_t *tool = encode(t, "<|tool|>", 8, true, &n);            /* special: false, still whole */
        CHECK(n == 1 && tool[0] == 200023);
        free(tool);
    }
    phi_tokenizer_free(t);
    phi_tokenizer_free(oracle);
    free_vocab(&v);
}

/* ---- a small file and its variants ---- */

static uint32_t gpt2_char(int byte)
{
    int shifted = 0;
    for (int b = 0; b <= byte; b++) {
        bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        if (b == byte)
            return printable ? (uint32_t)b : 256u + (uint32_t)shifted;
        shifted += !printable;
    }
    return 0;
}

#define O200K_JSON                                                                                        \
    "[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?[\\\\p{Lu}\\\\p{Lt}\\\\p{Lm}\\\\p{Lo}\\\\p{M}]*[\\\\p{Ll}\\\\p{Lm}\\\\p{Lo}"        \
    "\\\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?[\\\\p{Lu}\\\\p{Lt}\\\\p{Lm}\\\\p{Lo}" \
    "\\\\p{M}]+[\\\\p{Ll}\\\\p{Lm}\\\\p{Lo}\\\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\\\p{N}{1,3}| ?[^\\\\s"       \
    "\\\\p{L}\\\\p{N}]+[\\\\r\\\\n/]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"
#define CL100K_JSON                                                                                       \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}"          \
    "\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"
#define SPLIT(regex, behavior, invert)                                                                  \
    "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"" regex "\"}, \"behavior\": \"" behavior            \
    "\", \"invert\": " invert "}"
#define BYTE_LEVEL_STEP "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, " \
                        "\"use_regex\": false}"

/* The parts of the small file; a variant replaces some. */
typedef struct parts {
    const char *added, *normalizer, *pre, *post, *decoder, *model, *vocab, *merges;
} parts;

static const parts small = {
    .added = "[{\"id\": 259, \"content\": \"<|end|>\", \"single_word\": false, \"lstrip\": false, \"rstrip\": true, "
             "\"normalized\": false, \"special\": true}, {\"id\": 260, \"content\": \"<|tool|>\", \"special\": "
             "false}]",
    .normalizer = "null",
    .pre = "{\"type\": \"Sequence\", \"pretokenizers\": [" SPLIT(O200K_JSON, "Removed", "true") ", "
           BYTE_LEVEL_STEP "]}",
    .post = "null",
    .decoder = "{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true}",
    .model = "\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": null, "
             "\"end_of_word_suffix\": null, \"fuse_unk\": false, \"byte_fallback\": false, \"ignore_merges\": false",
    .vocab = ", \"he\": 256, \"ll\": 257, \"hell\": 258",
    .merges = "[\"h e\", [\"l\", \"l\"], [\"he\", \"ll\"]]",
};

/* A part given as OMIT is left out of the document. */
static const char OMIT[] = "omit";

static void append(char **s, size_t *n, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char **s, size_t *n, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int len = vsnprintf(*s + *n, *cap - *n, fmt, ap);
        va_end(ap);
        if ((size_t)len < *cap - *n) {
            *n += (size_t)len;
            return;
        }
        *s = realloc(*s, *cap *= 2);
    }
}

/* The document: the parts, the vocabulary starting with the 256 byte tokens
 * (ids = byte values, spelled with \u escapes). The model is left out when
 * all three of its parts are. */
static char *small_json(const parts *p, size_t *len)
{
    size_t cap = 1024, n = 0;
    char *s = malloc(cap);
    append(&s, &n, &cap, "{\"version\": \"1.0\"");
    const char *keys[] = {"added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder"};
    const char *values[] = {p->added, p->normalizer, p->pre, p->post, p->decoder};
    for (size_t i = 0; i < 5; i++)
        if (values[i] != OMIT)
            append(&s, &n, &cap, ", \"%s\": %s", keys[i], values[i]);
    if (p->model != OMIT || p->vocab != OMIT || p->merges != OMIT) {
        append(&s, &n, &cap, ", \"model\": {");
        const char *sep = "";
        if (p->model != OMIT)
            append(&s, &n, &cap, "%s", p->model), sep = ", ";
        if (p->vocab != OMIT) {
            append(&s, &n, &cap, "%s\"vocab\": {", sep), sep = ", ";
            for (int b = 0; b < 256; b++)
                append(&s, &n, &cap, "%s\"\\u%04X\": %d", b ? ", " : "", gpt2_char(b), b);
            append(&s, &n, &cap, "%s}", p->vocab);
        }
        if (p->merges != OMIT)
            append(&s, &n, &cap, "%s\"merges\": %s", sep, p->merges);
        append(&s, &n, &cap, "}");
    }
    append(&s, &n, &cap, "}");
    *len = n;
    return s;
}

static void test_small(void)
{
    size_t len;
    char *json = small_json(&small, &len);
    phi_hf_tokenizer *hf;
    phi_err err = {0};
    CHECK_EQ(phi_hf_tokenizer_read(&mem, json, len, &hf, &err), PHI_OK);
    free(json);
    if (!hf)
        return;
    const phi_vocab_desc *d = phi_hf_tokenizer_desc(hf);
    CHECK_EQ(d->n_tokens, 261);
    CHECK(phi_str_eq(d->pre, "gpt-4o"));
    CHECK(phi_str_eq(d->tokens[0x20], "\xC4\xA0")); /* the space, 'Ġ' */
    CHECK(phi_str_eq(d->tokens[259], "<|end|>") && d->types[259] == PHI_TOKEN_CONTROL &&
          d->attrs[259] == PHI_TOKEN_ATTR_RSTRIP);
    CHECK(phi_str_eq(d->tokens[260], "<|tool|>") && d->types[260] == PHI_TOKEN_USER_DEFINED && d->attrs[260] == 0);
    CHECK(d->types[258] == PHI_TOKEN_NORMAL);
    CHECK_EQ(d->n_merges, 3);
    CHECK(phi_str_eq(d->merges[0], "h e") && phi_str_eq(d->merges[1], "l l") && phi_str_eq(d->merges[2], "he ll"));
    CHECK_EQ(phi_hf_tokenizer_added_id(hf, "<|tool|>", 8), 260);

    phi_tokenizer *t;
    CHECK_EQ(phi_tokenizer_new(&mem, d, &t, &err), PHI_OK);
    phi_hf_tokenizer_free(hf);
    size_t n;
    int32_t *ids = encode(t, "hello<|end|> \nhell<|tool|>", 26, true, &n);
    int32_t want[] = {258, 'o', 259, 258, 260};
    CHECK(n == 5 && memcmp(ids, want, sizeof want) == 0);
    free(ids);
    phi_tokenizer_free(t);
}

typedef struct variant {
    const char *what;
    parts p;
    int code;         /* PHI_OK: accepted */
    const char *phrase;
} variant;

#define GPT2_JSON "'s|'t|'re|'ve|'m|'ll|'d| ?\\\\p{L}+| ?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)"
#define SEQ(a, b) "{\"type\": \"Sequence\", \"pretokenizers\": [" a ", " b "]}"
#define MODEL_WITH(extra) "\"type\": \"BPE\", " extra
#define ADDED_ONE(fields) "[{\"id\": 259, \"content\": \"<|end|>\", " fields "}, {\"id\": 260, \"content\": \"x\"}]"

static const variant variants[] = {
    /* accepted */
    {"the small file", {0}, PHI_OK, NULL},
    {"ignore_merges true", {.model = MODEL_WITH("\"ignore_merges\": true")}, PHI_OK, NULL},
    {"byte_fallback true", {.model = MODEL_WITH("\"byte_fallback\": true")}, PHI_OK, NULL},
    {"GPT-2-style empty affixes", {.model = MODEL_WITH("\"continuing_subword_prefix\": \"\", "
                                                       "\"end_of_word_suffix\": \"\"")}, PHI_OK, NULL},
    {"post_processor TemplateProcessing",
     {.post = "{\"type\": \"TemplateProcessing\", \"single\": [], \"pair\": [], \"special_tokens\": {}}"},
     PHI_OK, NULL},
    {"post_processor ByteLevel", {.post = "{\"type\": \"ByteLevel\"}"}, PHI_OK, NULL},
    {"no post_processor, normalizer, added_tokens", {.post = OMIT, .normalizer = OMIT, .added = OMIT}, PHI_OK,
     NULL},
    {"cl100k, Isolated", {.pre = SEQ(SPLIT(CL100K_JSON, "Isolated", "false"), BYTE_LEVEL_STEP)}, PHI_OK, NULL},
    {"merges as strings", {.merges = "[\"h e\", \"l l\", \"he ll\"]"}, PHI_OK, NULL},
    {"empty merges", {.merges = "[]"}, PHI_OK, NULL},
    {"an added token taking over a vocab id",
     {.added = "[{\"id\": 258, \"content\": \"<|end|>\"}, {\"id\": 259, \"content\": \"a\"}, "
               "{\"id\": 260, \"content\": \"b\"}]"}, PHI_OK, NULL},

    /* unsupported */
    {"WordPiece", {.model = "\"type\": \"WordPiece\""}, PHI_E_UNSUPPORTED, "model type 'WordPiece' is not supported"},
    {"dropout", {.model = MODEL_WITH("\"dropout\": 0.1")}, PHI_E_UNSUPPORTED, "model.dropout is set"},
    {"subword prefix", {.model = MODEL_WITH("\"continuing_subword_prefix\": \"##\"")}, PHI_E_UNSUPPORTED,
     "model.continuing_subword_prefix is set"},
    {"word suffix", {.model = MODEL_WITH("\"end_of_word_suffix\": \"</w>\"")}, PHI_E_UNSUPPORTED,
     "model.end_of_word_suffix is set"},
    {"normalizer", {.normalizer = "{\"type\": \"NFC\"}"}, PHI_E_UNSUPPORTED, "normalizer 'NFC' is not supported"},
    {"GPT-2's ByteLevel", {.pre = "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}"},
     PHI_E_UNSUPPORTED, "ByteLevel alone, splitting on its own regex (GPT-2's pattern)"},
    {"ByteLevel, default regex", {.pre = "{\"type\": \"ByteLevel\", \"add_prefix_space\": false}"},
     PHI_E_UNSUPPORTED, "GPT-2's pattern"},
    {"ByteLevel without regex", {.pre = "{\"type\": \"ByteLevel\", \"use_regex\": false}"}, PHI_E_UNSUPPORTED,
     "ByteLevel alone, splitting nothing"},
    {"Metaspace", {.pre = "{\"type\": \"Metaspace\", \"replacement\": \"_\"}"}, PHI_E_UNSUPPORTED,
     "pre_tokenizer 'Metaspace' is not supported"},
    {"no pre_tokenizer", {.pre = "null"}, PHI_E_UNSUPPORTED, "pre_tokenizer null is not supported"},
    {"three steps",
     {.pre = "{\"type\": \"Sequence\", \"pretokenizers\": [" SPLIT(O200K_JSON, "Isolated", "false") ", "
             "{\"type\": \"Digits\"}, " BYTE_LEVEL_STEP "]}"}, PHI_E_UNSUPPORTED, "a Sequence of 3 steps"},
    {"steps swapped", {.pre = SEQ(BYTE_LEVEL_STEP, SPLIT(O200K_JSON, "Isolated", "false"))}, PHI_E_UNSUPPORTED,
     "a Sequence of 'ByteLevel' and 'Split'"},
    {"GPT-2 regex", {.pre = SEQ(SPLIT(GPT2_JSON, "Isolated", "false"), BYTE_LEVEL_STEP)}, PHI_E_UNSUPPORTED,
     "neither the cl100k nor the o200k pattern: ''s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+"},
    {"o200k off by one character",
     {.pre = SEQ(SPLIT("[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?", "Isolated", "false"), BYTE_LEVEL_STEP)},
     PHI_E_UNSUPPORTED, "neither the cl100k nor the o200k pattern"},
    {"String pattern",
     {.pre = SEQ("{\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": \"Isolated\", "
                 "\"invert\": false}", BYTE_LEVEL_STEP)}, PHI_E_UNSUPPORTED, "no Regex pattern (a literal String"},
    {"MergedWithPrevious", {.pre = SEQ(SPLIT(O200K_JSON, "MergedWithPrevious", "false"), BYTE_LEVEL_STEP)},
     PHI_E_UNSUPPORTED, "behavior 'MergedWithPrevious' with invert false"},
    {"Isolated inverted", {.pre = SEQ(SPLIT(O200K_JSON, "Isolated", "true"), BYTE_LEVEL_STEP)},
     PHI_E_UNSUPPORTED, "behavior 'Isolated' with invert true"},
    {"Removed not inverted", {.pre = SEQ(SPLIT(O200K_JSON, "Removed", "false"), BYTE_LEVEL_STEP)},
     PHI_E_UNSUPPORTED, "behavior 'Removed' with invert false"},
    {"invert not a boolean", {.pre = SEQ(SPLIT(O200K_JSON, "Removed", "1"), BYTE_LEVEL_STEP)}, PHI_E_FORMAT,
     "pre_tokenizer's Split.invert is a number, not a boolean"},
    {"no behavior",
     {.pre = SEQ("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"" O200K_JSON "\"}}", BYTE_LEVEL_STEP)},
     PHI_E_UNSUPPORTED, "behavior '(none)' with invert false"},
    {"prefix space",
     {.pre = SEQ(SPLIT(O200K_JSON, "Isolated", "false"),
                 "{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"use_regex\": false}")},
     PHI_E_UNSUPPORTED, "ByteLevel has add_prefix_space; supported: both false"},
    {"regex on top",
     {.pre = SEQ(SPLIT(O200K_JSON, "Isolated", "false"),
                 "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}")},
     PHI_E_UNSUPPORTED, "ByteLevel has use_regex (GPT-2's pattern on top of the Split)"},
    {"ByteLevel defaults", {.pre = SEQ(SPLIT(O200K_JSON, "Isolated", "false"), "{\"type\": \"ByteLevel\"}")},
     PHI_E_UNSUPPORTED, "ByteLevel has add_prefix_space and use_regex"},
    {"no decoder", {.decoder = "null"}, PHI_E_UNSUPPORTED, "decoder null is not supported; only ByteLevel is"},
    {"WordPiece decoder", {.decoder = "{\"type\": \"WordPiece\"}"}, PHI_E_UNSUPPORTED, "decoder 'WordPiece'"},
    {"single_word", {.added = ADDED_ONE("\"single_word\": true")}, PHI_E_UNSUPPORTED,
     "added token '<|end|>' (id 259) has single_word"},

    /* malformed */
    {"not JSON", {.merges = "[\"h e\",]"}, PHI_E_FORMAT, "tokenizer.json: JSON: line 1, column"},
    {"no model", {.model = OMIT, .vocab = OMIT, .merges = OMIT}, PHI_E_FORMAT, "model is missing, not an object"},
    {"model without type", {.model = OMIT}, PHI_E_UNSUPPORTED, "model has no type"},
    {"no vocab", {.vocab = OMIT}, PHI_E_FORMAT, "model.vocab is missing, not an object"},
    {"no merges", {.merges = OMIT}, PHI_E_FORMAT, "model.merges is missing, not an array"},
    {"merges an object", {.merges = "{}"}, PHI_E_FORMAT, "model.merges is an object, not an array"},
    {"added_tokens an object", {.added = "{}"}, PHI_E_FORMAT, "added_tokens is an object, not an array"},
    {"added token a number", {.added = "[5]"}, PHI_E_FORMAT, "added_tokens[0] is a number, not an object"},
    {"hole", {.added = "[{\"id\": 258, \"content\": \"<|end|>\"}, {\"id\": 259, \"content\": \"a\"}, "
                       "{\"id\": 261, \"content\": \"b\"}]"},
     PHI_E_FORMAT, "token id 260 has no entry in model.vocab or added_tokens"},
    {"ids beyond the entries", {.added = "[{\"id\": 2000000000, \"content\": \"<|end|>\"}]"}, PHI_E_FORMAT,
     "ids go up to 2000000000 but there are only 260 entries"},
    {"vocab id twice", {.vocab = ", \"he\": 256, \"ll\": 256, \"hell\": 257, \"o\": 258"}, PHI_E_FORMAT,
     "model.vocab gives id 256 to both 'he' and 'll'"},
    {"added id twice", {.added = "[{\"id\": 259, \"content\": \"<|a|>\"}, {\"id\": 259, \"content\": \"<|b|>\"}, "
                                 "{\"id\": 260, \"content\": \"c\"}]"},
     PHI_E_FORMAT, "added_tokens gives id 259 twice ('<|a|>' and '<|b|>')"},
    {"negative id", {.vocab = ", \"he\": -1"}, PHI_E_FORMAT, "model.vocab entry 256 ('he'): the id is not an integer"},
    {"fractional id", {.vocab = ", \"he\": 256.5"}, PHI_E_FORMAT, "the id is not an integer from 0 to 2147483646"},
    {"id too large", {.vocab = ", \"he\": 2147483647"}, PHI_E_FORMAT, "the id is not an integer"},
    {"id a string", {.added = "[{\"id\": \"259\", \"content\": \"<|end|>\"}]"}, PHI_E_FORMAT,
     "added_tokens[0]: the id is not an integer"},
    {"no id", {.added = "[{\"content\": \"<|end|>\"}]"}, PHI_E_FORMAT, "added_tokens[0]: the id is not"},
    {"empty vocab token", {.vocab = ", \"\": 256, \"ll\": 257, \"hell\": 258"}, PHI_E_FORMAT,
     "model.vocab has an empty token (id 256)"},
    {"no content", {.added = "[{\"id\": 259}, {\"id\": 260, \"content\": \"x\"}]"}, PHI_E_FORMAT,
     "added_tokens[0] (id 259) has no content"},
    {"empty content", {.added = "[{\"id\": 259, \"content\": \"\"}, {\"id\": 260, \"content\": \"x\"}]"},
     PHI_E_FORMAT, "added_tokens[0] (id 259) has no content"},
    {"flag not a boolean", {.added = ADDED_ONE("\"special\": \"yes\"")}, PHI_E_FORMAT,
     "added_tokens[0].special is a string, not a boolean"},
    {"ignore_merges not a boolean", {.model = MODEL_WITH("\"ignore_merges\": 0")}, PHI_E_FORMAT,
     "model.ignore_merges is a number, not a boolean"},
    {"merge without space", {.merges = "[\"he\"]"}, PHI_E_FORMAT,
     "model.merges[0] ('he') is not two tokens separated by one space"},
    {"merge with two spaces", {.merges = "[\"h e\", \"l  l\"]"}, PHI_E_FORMAT, "model.merges[1] ('l  l')"},
    {"merge starting with a space", {.merges = "[\" he\"]"}, PHI_E_FORMAT, "is not two tokens"},
    {"pair of one", {.merges = "[[\"h\"]]"}, PHI_E_FORMAT, "model.merges[0] is neither \"a b\" nor a pair"},
    {"pair of three", {.merges = "[[\"h\", \"e\", \"l\"]]"}, PHI_E_FORMAT, "neither"},
    {"pair with a space", {.merges = "[[\"h e\", \"l\"]]"}, PHI_E_FORMAT, "tokens without spaces"},
    {"pair with an empty side", {.merges = "[[\"\", \"l\"]]"}, PHI_E_FORMAT, "neither"},
    {"pair of numbers", {.merges = "[[1, 2]]"}, PHI_E_FORMAT, "neither"},
};

/* The small file with a variant's parts instead of its own. */
static char *variant_json(const variant *v, size_t *len)
{
    parts p = small;
    const char **dst[] = {&p.added, &p.normalizer, &p.pre, &p.post, &p.decoder, &p.model, &p.vocab, &p.merges};
    const char *const src[] = {v->p.added, v->p.normalizer, v->p.pre, v->p.post,
                               v->p.decoder, v->p.model, v->p.vocab, v->p.merges};
    for (size_t k = 0; k < 8; k++)
        if (src[k])
            *dst[k] = src[k];
    return small_json(&p, len);
}

static void test_variants(void)
{
    size_t n_variants = sizeof variants / sizeof variants[0], passed = 0;
    for (size_t i = 0; i < n_variants; i++) {
        const variant *v = &variants[i];
        size_t len;
        char *json = variant_json(v, &len);
        phi_hf_tokenizer *hf = (phi_hf_tokenizer *)1;
        phi_err err = {0};
        int rc = phi_hf_tokenizer_read(&mem, json, len, &hf, &err);
        bool ok = rc == v->code && (rc == PHI_OK ? hf != NULL : hf == NULL && err.code == rc &&
                                                                  strstr(err.msg, "tokenizer.json: ") == err.msg &&
                                                                  strstr(err.msg, v->phrase) != NULL);
        if (rc == PHI_OK && hf) {
            phi_tokenizer *t = NULL;
            ok = ok && phi_tokenizer_new(&mem, phi_hf_tokenizer_desc(hf), &t, &err) == PHI_OK;
            phi_tokenizer_free(t);
            phi_hf_tokenizer_free(hf);
        }
        if (!ok)
            fprintf(stderr, "variant '%s': rc %d, \"%s\"; wanted %d with \"%s\"\n", v->what, rc, err.msg, v->code,
                    v->phrase ? v->phrase : "");
        passed += ok;
        free(json);
    }
    printf("tokenizer.json variants: %zu/%zu accepted or refused as they should be\n", passed, n_variants);
    CHECK_EQ(passed, n_variants);
}

/* The fuzz target's seeds (tests/fuzz/corpus_hf_tokenizer/), as variants. */
static int write_corpus(const char *dir)
{
    static const char *const seeds[][2] = {
        {"the small file", "small.json"},
        {"cl100k, Isolated", "cl100k_isolated.json"},
        {"an added token taking over a vocab id", "takeover.json"},
        {"GPT-2's ByteLevel", "gpt2_byte_level.json"},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        const variant *v = NULL;
        for (size_t k = 0; k < sizeof variants / sizeof variants[0]; k++)
            if (strcmp(variants[k].what, seeds[i][0]) == 0)
                v = &variants[k];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, seeds[i][1]);
        size_t len;
        char *json = variant_json(v, &len);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(json, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
        free(json);
        printf("wrote %s\n", path);
    }
    return 0;
}

/* Documents the small file's parts cannot spell. */
static void test_odd_documents(void)
{
    char json[4096];
    const char *cases[][2] = {
        {"[1]", "the document is an array, not an object"},
        {"{\"model\": [], \"decoder\": null}", "model is an array, not an object"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"added_tokens\": [], "
         "\"pre_tokenizer\": %s, \"decoder\": %s}", "model.vocab and added_tokens hold no tokens"},
        {"", "tokenizer.json: JSON: line 1, column 1 (byte 0): expected a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(json, sizeof json, cases[i][0], small.pre, small.decoder);
        phi_hf_tokenizer *hf = (phi_hf_tokenizer *)1;
        phi_err err = {0};
        int rc = phi_hf_tokenizer_read(&mem, json, strlen(json), &hf, &err);
        bool ok = rc == PHI_E_FORMAT && hf == NULL && strstr(err.msg, cases[i][1]) != NULL;
        if (!ok)
            fprintf(stderr, "document %zu: rc %d, \"%s\"\n", i, rc, err.msg);
        CHECK(ok);
    }
}

static void test_allocation_failures(void)
{
    size_t len;
    char *json = small_json(&small, &len);
    failing_mem f;
    long failures = 0;
    for (long n = 1;; n++) {
        phi_mem failing = failing_mem_arm(&f, n);
        phi_hf_tokenizer *hf = (phi_hf_tokenizer *)1;
        phi_err err = {0};
        int rc = phi_hf_tokenizer_read(&failing, json, len, &hf, &err);
        if (rc == PHI_OK) {
            CHECK(f.calls < n);
            CHECK_EQ(phi_hf_tokenizer_desc(hf)->n_tokens, 261);
            phi_hf_tokenizer_free(hf);
            CHECK_EQ(f.live, 0);
            break;
        }
        CHECK(rc == PHI_E_NOMEM && err.code == PHI_E_NOMEM && hf == NULL);
        CHECK(strstr(err.msg, "tokenizer.json: ") == err.msg && strstr(err.msg, "out of memory") != NULL);
        CHECK_EQ(f.live, 0);
        failures++;
    }
    printf("allocation failures: %ld failure points, each PHI_E_NOMEM without a leak\n", failures);
    CHECK(failures >= 8);
    free(json);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    if (argc != 4) {
        fprintf(stderr, "usage: test_hf_tokenizer FIXTURE_DIR PYTHON make_tokenizer_json.py\n"
                        "       test_hf_tokenizer --write-corpus DIR\n");
        return 2;
    }
    fixture_dir = argv[1];
    python = argv[2];
    script = argv[3];
    phi_mem_init_default(&mem);
    test_small();
    test_variants();
    test_odd_documents();
    test_allocation_failures();
    static const char *phi4_specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|im_sep|>",
                                          "<|dummy_85|>"};
    static const int32_t phi4_ids[] = {100257, 100264, 100265, 100266, 100349};
    static const char *mini_specials[] = {"<|endoftext|>", "<|end|>", "<|user|>", "<|assistant|>", "<|tool_call|>"};
    static const int32_t mini_ids[] = {199999, 200020, 200021, 200019, 200025};
    run_vocab("phi-4", "cl100k", phi4_specials, phi4_ids, 5);
    run_vocab("phi-4-mini", "o200k", mini_specials, mini_ids, 5);
    return check_report("test_hf_tokenizer");
}
