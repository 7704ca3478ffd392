#include "fake_model.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf_file.h"

typedef struct {
    const char *name;
    int n_layer, n_embd, n_ff, n_head, n_head_kv, head_dim, n_rot;
    int64_t n_vocab;
    uint32_t context, context_orig, sliding_window;
    float freq_base;
    bool tied, longrope;
    const char *pre;                /* tokenizer.ggml.pre */
    const char *specials[6];        /* [0] is <|endoftext|> (BOS, pad); NULL-terminated */
    const char *end_of_turn;        /* EOS and EOT */
} shape;

static const shape shapes[] = {
    {"phi4-mini", 32, 3072, 8192, 24, 8, 128, 96, 200064, 131072, 4096, 262144, 10000.0f,
     true, true, "gpt-4o",
     {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>", NULL}, "<|end|>"},
    {"phi4", 40, 5120, 17920, 40, 10, 128, 128, 100352, 16384, 16384, 0, 250000.0f,
     false, false, "dbrx",
     {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|im_sep|>", NULL}, "<|im_end|>"},
};

/* Phi-4-mini-instruct's rope_scaling.long_factor; its short factors are all 1. */
static const float mini_long_factors[48] = {
    1.0f, 1.118320672f, 1.250641126f, 1.398617824f, 1.564103225f, 1.74916897f,
    1.956131817f, 2.187582649f, 2.446418898f, 2.735880826f, 3.059592084f, 3.421605075f,
    3.826451687f, 4.279200023f, 4.785517845f, 5.351743533f, 5.984965424f, 6.693110555f,
    7.485043894f, 8.370679318f, 9.36110372f, 10.4687158f, 11.70738129f, 13.09260651f,
    14.64173252f, 16.37415215f, 18.31155283f, 20.47818807f, 22.90118105f, 25.61086418f,
    28.64115884f, 32.03f, 32.1f, 32.13f, 32.23f, 32.6f, 32.61f, 32.64f,
    32.66f, 32.7f, 32.71f, 32.93f, 32.97f, 33.28f, 33.49f, 33.5f, 44.16f, 47.77f};

const char fake_model_k_m_rule[] =
    "llama.cpp's mixes for the phi3 layout: q4_k_m is Q6_K for the output matrix (token_embd\n"
    "                  when tied) and for ffn_down in the layers that get more bits (the first and\n"
    "                  last eighth, every third in between), Q5_K for attn_qkv, Q4_K for the rest;\n"
    "                  q5_k_m the same with Q6_K for attn_qkv and Q5_K for the rest";

/* ---- random numbers and half floats ------------------------------------- */

static uint64_t next_random(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static void random_bytes(uint64_t *rng, unsigned char *dst, size_t n)
{
    for (; n >= 8; n -= 8, dst += 8) {
        uint64_t r = next_random(rng);
        memcpy(dst, &r, 8);
    }
    uint64_t r = next_random(rng);
    memcpy(dst, &r, n);
}

/* IEEE binary16, round to nearest even, subnormals kept. */
static uint16_t half_of(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xff)
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u);
    uint32_t h, rem, halfway;
    if (e <= 0) {
        if (e < -10)
            return (uint16_t)sign;
        int shift = 14 - e;
        man |= 0x800000u;
        h = man >> shift;
        rem = man & ((1u << shift) - 1);
        halfway = 1u << (shift - 1);
    } else {
        h = ((uint32_t)e << 10) | (man >> 13);
        rem = man & 0x1fffu;
        halfway = 0x1000u;
    }
    if (rem > halfway || (rem == halfway && (h & 1)))
        h++; /* a carry into the exponent is the correct rounding */
    return (uint16_t)(sign | h);
}

/* ---- the tensors -------------------------------------------------------- */

enum fill { FILL_MATRIX, FILL_NORM, FILL_VALUES };

typedef struct {
    char name[GGUF_NAME_MAX];
    uint32_t type;
    uint32_t n_dims;
    int64_t ne0, ne1;
    enum fill fill;
    const float *values; /* FILL_VALUES: ne0 floats; NULL = all 1 */
    uint64_t nbytes;
} planned;

enum role { ROLE_EMBD, ROLE_OUTPUT, ROLE_QKV, ROLE_ATTN_OUT, ROLE_FFN_UP, ROLE_FFN_DOWN };

/* llama.cpp's use_more_bits(): the layers a K-quant mix gives more bits. */
static bool more_bits(int layer, int n_layer)
{
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

/* --type names with their llama_ftype (general.file_type) and, for the
 * single-type files, the tensor type; the K mixes pick per tensor. */
static const struct {
    const char *name;
    uint32_t file_type, matrix_type;
} model_types[] = {
    {"q4_0", 2, GGML_Q4_0}, {"q8_0", 7, GGML_Q8_0}, {"f16", 1, GGML_F16},
    {"q4_k_m", 15, GGML_Q4_K}, {"q5_k_m", 17, GGML_Q5_K},
};

static int model_type_index(const char *type)
{
    for (int i = 0; i < (int)(sizeof model_types / sizeof model_types[0]); i++)
        if (!strcmp(type, model_types[i].name))
            return i;
    return -1;
}

static uint32_t matrix_type(const char *type, enum role role, bool tied, int layer, int n_layer)
{
    uint32_t base = model_types[model_type_index(type)].matrix_type;
    if (base != GGML_Q4_K && base != GGML_Q5_K)
        return base;
    if (role == ROLE_OUTPUT || (role == ROLE_EMBD && tied))
        return GGML_Q6_K;
    if (role == ROLE_QKV)
        return base == GGML_Q4_K ? GGML_Q5_K : GGML_Q6_K;
    if (role == ROLE_FFN_DOWN && more_bits(layer, n_layer))
        return GGML_Q6_K;
    return base;
}

static uint32_t file_type(const char *type)
{
    return model_types[model_type_index(type)].file_type;
}

static void plan(planned *p, size_t *n, uint32_t type, int64_t ne0, int64_t ne1, enum fill fill,
                 const float *values, const char *fmt, int layer)
{
    planned *t = &p[(*n)++];
    snprintf(t->name, sizeof t->name, fmt, layer);
    t->type = type;
    t->n_dims = ne1 > 1 ? 2 : 1;
    t->ne0 = ne0;
    t->ne1 = ne1;
    t->fill = fill;
    t->values = values;
    t->nbytes = gguf_tensor_bytes(type, (uint64_t)ne0 * (uint64_t)ne1);
}

static size_t plan_tensors(const shape *s, const char *type, planned *p)
{
    size_t n = 0;
    int64_t E = s->n_embd, qkv = (int64_t)(s->n_head + 2 * s->n_head_kv) * s->head_dim;
    int L = s->n_layer;
    if (s->longrope) {
        plan(p, &n, GGML_F32, s->n_rot / 2, 1, FILL_VALUES, mini_long_factors,
             "rope_factors_long.weight", 0);
        plan(p, &n, GGML_F32, s->n_rot / 2, 1, FILL_VALUES, NULL, "rope_factors_short.weight", 0);
    }
    plan(p, &n, matrix_type(type, ROLE_EMBD, s->tied, 0, L), E, s->n_vocab, FILL_MATRIX, NULL,
         "token_embd.weight", 0);
    for (int l = 0; l < L; l++) {
        plan(p, &n, GGML_F32, E, 1, FILL_NORM, NULL, "blk.%d.attn_norm.weight", l);
        plan(p, &n, matrix_type(type, ROLE_QKV, s->tied, l, L), E, qkv, FILL_MATRIX, NULL,
             "blk.%d.attn_qkv.weight", l);
        plan(p, &n, matrix_type(type, ROLE_ATTN_OUT, s->tied, l, L),
             (int64_t)s->n_head * s->head_dim, E, FILL_MATRIX, NULL, "blk.%d.attn_output.weight", l);
        plan(p, &n, GGML_F32, E, 1, FILL_NORM, NULL, "blk.%d.ffn_norm.weight", l);
        plan(p, &n, matrix_type(type, ROLE_FFN_UP, s->tied, l, L), E, 2 * (int64_t)s->n_ff,
             FILL_MATRIX, NULL, "blk.%d.ffn_up.weight", l);
        plan(p, &n, matrix_type(type, ROLE_FFN_DOWN, s->tied, l, L), s->n_ff, E, FILL_MATRIX, NULL,
             "blk.%d.ffn_down.weight", l);
    }
    plan(p, &n, GGML_F32, E, 1, FILL_NORM, NULL, "output_norm.weight", 0);
    if (!s->tied)
        plan(p, &n, matrix_type(type, ROLE_OUTPUT, s->tied, 0, L), E, s->n_vocab, FILL_MATRIX,
             NULL, "output.weight", 0);
    return n;
}

/* ---- random blocks ------------------------------------------------------ */

/* Root mean square of a block's element value when its scale is 1: it turns
 * the wanted standard deviation into a scale. Q4_0: nibble - 8 uniform in
 * -8..7 (the scale's random sign, as quantizers produce it, cancels the
 * -0.5 mean). Q8_0: -127..127 (-128 becomes -127). Q4_K: 6-bit scales
 * 32..63, nibble - 7.5 (the min cancels the mean); Q5_K the same with
 * 5-bit quants - 15.5. Q6_K: int8 scales of magnitude 16 + (0..127 mod
 * 112), random sign; 6-bit quants - 32. */
static double unit_rms(uint32_t type)
{
    switch (type) {
    case GGML_Q4_0: return sqrt(21.5);
    case GGML_Q8_0: return sqrt(5460.4);
    case GGML_Q4_K: return sqrt(2341.5 * 21.25);
    case GGML_Q5_K: return sqrt(2341.5 * 85.25);
    case GGML_Q6_K: return sqrt(5459.5 * 341.5);
    default: return 1.0;
    }
}

/* A tensor's scales, drawn from 256 values spread over [0.5, 1.5] times the
 * scale its standard deviation asks for; F16 values from 4096 points spread
 * uniformly over [-a, a] with the same standard deviation. */
typedef struct {
    uint16_t scale[256];
    uint16_t scale_min[256]; /* dmin of Q4_K (8 d) and Q5_K (16 d): half the quant levels */
    uint16_t value[4096];
} block_tables;

static void make_tables(uint32_t type, double sigma, block_tables *bt)
{
    double d0 = sigma / unit_rms(type);
    for (int i = 0; i < 256; i++) {
        double d = d0 * (0.5 + (i + 0.5) / 256.0);
        bt->scale[i] = half_of((float)d);
        bt->scale_min[i] = half_of((float)((type == GGML_Q5_K ? 16.0 : 8.0) * d));
    }
    double a = sigma * sqrt(3.0);
    for (int i = 0; i < 4096; i++)
        bt->value[i] = half_of((float)(a * (2.0 * (i + 0.5) / 4096.0 - 1.0)));
}

static void put_half(unsigned char *dst, uint16_t h)
{
    dst[0] = (unsigned char)h;
    dst[1] = (unsigned char)(h >> 8);
}

static void fill_q4_0(uint64_t *rng, const block_tables *bt, unsigned char *b)
{
    uint64_t r = next_random(rng);
    put_half(b, (uint16_t)(bt->scale[r >> 56] | (r & 1) << 15));
    random_bytes(rng, b + 2, 16);
}

static void fill_q8_0(uint64_t *rng, const block_tables *bt, unsigned char *b)
{
    put_half(b, bt->scale[next_random(rng) >> 56]);
    random_bytes(rng, b + 2, 32);
    for (int i = 2; i < 34; i++)
        if (b[i] == 0x80)
            b[i] = 0x81;
}

/* d, dmin, then eight 6-bit scales and mins packed in 12 bytes
 * (gguf-and-quants.md §3.3, §3.4), for quants of `levels` values: with
 * dmin = levels/2 d, m = sc (levels - 1) / levels makes dmin m = d sc times
 * the quants' mean. */
static void fill_k_scales(uint64_t *rng, const block_tables *bt, unsigned levels,
                          unsigned char *b)
{
    uint64_t r = next_random(rng);
    unsigned i = (unsigned)(r >> 56);
    put_half(b, bt->scale[i]);
    put_half(b + 2, bt->scale_min[i]);
    unsigned sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = 32 + (unsigned)((r >> (5 * j)) & 31);
        m[j] = (sc[j] * (levels - 1) + levels / 2) / levels;
    }
    unsigned char *q = b + 4;
    for (int j = 0; j < 4; j++) {
        q[j] = (unsigned char)(sc[j] | ((sc[j + 4] >> 4) << 6));
        q[j + 4] = (unsigned char)(m[j] | ((m[j + 4] >> 4) << 6));
        q[j + 8] = (unsigned char)((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
    }
}

/* The scales, then 128 bytes of nibbles. */
static void fill_q4_k(uint64_t *rng, const block_tables *bt, unsigned char *b)
{
    fill_k_scales(rng, bt, 16, b);
    random_bytes(rng, b + 16, 128);
}

/* The scales, then qh[32] (the fifth bits) and qs[128]. */
static void fill_q5_k(uint64_t *rng, const block_tables *bt, unsigned char *b)
{
    fill_k_scales(rng, bt, 32, b);
    random_bytes(rng, b + 16, 160);
}

/* ql[128], qh[64], sixteen int8 scales, d (§3.5). */
static void fill_q6_k(uint64_t *rng, const block_tables *bt, unsigned char *b)
{
    random_bytes(rng, b, 192);
    uint64_t r[2] = {next_random(rng), next_random(rng)};
    for (int j = 0; j < 16; j++) {
        unsigned bits = (unsigned)(r[j / 8] >> (8 * (j % 8))) & 0xff;
        int mag = 16 + (int)((bits & 127) % 112);
        b[192 + j] = (unsigned char)(int8_t)(bits & 128 ? -mag : mag);
    }
    put_half(b + 208, bt->scale[next_random(rng) >> 56]);
}

static void fill_f16(uint64_t *rng, const block_tables *bt, unsigned char *b)
{
    uint64_t r = next_random(rng);
    for (int j = 0; j < 4; j++)
        put_half(b + 2 * j, bt->value[(r >> (16 * j)) & 4095]);
}

typedef void (*fill_fn)(uint64_t *rng, const block_tables *bt, unsigned char *block);

/* F16 is filled four elements (8 bytes) at a time. */
static fill_fn filler(uint32_t type, size_t *unit_bytes)
{
    switch (type) {
    case GGML_Q4_0: *unit_bytes = 18; return fill_q4_0;
    case GGML_Q8_0: *unit_bytes = 34; return fill_q8_0;
    case GGML_Q4_K: *unit_bytes = 144; return fill_q4_k;
    case GGML_Q5_K: *unit_bytes = 176; return fill_q5_k;
    case GGML_Q6_K: *unit_bytes = 210; return fill_q6_k;
    default: *unit_bytes = 8; return fill_f16;
    }
}

static void write_matrix(gguf_out *o, const planned *t, uint64_t *rng, block_tables *bt)
{
    make_tables(t->type, 1.0 / sqrt((double)t->ne0), bt);
    size_t unit;
    fill_fn fill = filler(t->type, &unit);
    uint64_t units = t->nbytes / unit;
    size_t per_chunk = o->cap / unit;
    while (units) {
        size_t k = units < per_chunk ? (size_t)units : per_chunk;
        unsigned char *dst = gguf_out_reserve(o, k * unit);
        if (!dst)
            return;
        for (size_t i = 0; i < k; i++)
            fill(rng, bt, dst + i * unit);
        gguf_out_commit(o, k * unit);
        units -= k;
    }
}

static void write_vector(gguf_out *o, const planned *t, uint64_t *rng)
{
    for (int64_t i = 0; i < t->ne0; i++) {
        float v = 1.0f;
        if (t->fill == FILL_NORM) /* gains ~1: 0.9 .. 1.1 */
            v = 0.9f + 0.2f * (float)(next_random(rng) >> 40) / (float)(1 << 24);
        else if (t->values)
            v = t->values[i];
        uint32_t bits;
        memcpy(&bits, &v, sizeof bits);
        gguf_out_u32(o, bits);
    }
}

/* ---- the vocabulary ----------------------------------------------------- */

/* Laid out like a real byte-level BPE vocabulary, so loading costs what a
 * real file's does: the 256 byte tokens, then ordinary tokens each made by
 * one merge (every two-letter word, then three letters, ...: as many merges
 * as tokens, as in the real files), the special tokens, and a few
 * <|dummy_k|> control tokens like the real files' unused rows. */
enum { TOKEN_NORMAL = 1, TOKEN_CONTROL = 3, REAL_DUMMIES = 88 };

typedef struct {
    int64_t n_words, first_special, first_dummy;
} vocab_layout;

static int n_specials(const shape *s)
{
    int n = 0;
    while (s->specials[n])
        n++;
    return n;
}

static vocab_layout layout_of(const shape *s)
{
    vocab_layout v;
    int64_t rest = s->n_vocab - 256 - n_specials(s);
    int64_t dummies = rest / 2 < REAL_DUMMIES ? rest / 2 : REAL_DUMMIES;
    v.n_words = rest - dummies;
    v.first_special = 256 + v.n_words;
    v.first_dummy = v.first_special + n_specials(s);
    return v;
}

/* The character GPT-2's byte-to-unicode map gives the byte at position i
 * of its canonical order (printable bytes first), as UTF-8. */
static void gpt2_byte_token(int i, char out[3])
{
    int printable = 0, other = 0, cp = -1;
    for (int b = 0; b < 256 && cp < 0; b++) {
        bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        if (keep && printable++ == i)
            cp = b;
        else if (!keep && 188 + other++ == i)
            cp = 256 + other - 1;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        out[2] = 0;
    }
}

/* Word k: "aa", "ab", ..., "zz", "aaa", ...; its merge joins all but its
 * last letter (an earlier word, or a byte) with the last letter. */
static size_t word_text(int64_t k, char *buf)
{
    size_t len = 2;
    int64_t count = 26 * 26;
    while (k >= count) {
        k -= count;
        len++;
        count *= 26;
    }
    for (size_t i = len; i-- > 0; k /= 26)
        buf[i] = (char)('a' + k % 26);
    buf[len] = 0;
    return len;
}

static void token_text(const shape *s, const vocab_layout *v, int64_t id, char *buf, size_t cap)
{
    if (id < 256)
        gpt2_byte_token((int)id, buf);
    else if (id < v->first_special)
        word_text(id - 256, buf);
    else if (id < v->first_dummy)
        snprintf(buf, cap, "%s", s->specials[id - v->first_special]);
    else
        snprintf(buf, cap, "<|dummy_%lld|>", (long long)(id - v->first_dummy));
}

static int64_t special_id(const shape *s, const char *text)
{
    for (int i = 0; s->specials[i]; i++)
        if (!strcmp(s->specials[i], text))
            return layout_of(s).first_special + i;
    return -1;
}

static void write_vocabulary(gguf_out *o, const shape *s)
{
    vocab_layout v = layout_of(s);
    char text[64];
    gguf_out_kv_array(o, "tokenizer.ggml.tokens", GGUF_STRING, (uint64_t)s->n_vocab);
    for (int64_t id = 0; id < s->n_vocab; id++) {
        token_text(s, &v, id, text, sizeof text);
        gguf_out_str(o, text);
    }
    gguf_out_kv_array(o, "tokenizer.ggml.token_type", GGUF_INT32, (uint64_t)s->n_vocab);
    for (int64_t id = 0; id < s->n_vocab; id++)
        gguf_out_u32(o, id < v.first_special ? TOKEN_NORMAL : TOKEN_CONTROL);
    gguf_out_kv_array(o, "tokenizer.ggml.merges", GGUF_STRING, (uint64_t)v.n_words);
    for (int64_t k = 0; k < v.n_words; k++) {
        size_t len = word_text(k, text);
        text[len] = text[len - 1];
        text[len - 1] = ' ';
        text[len + 1] = 0;
        gguf_out_str(o, text);
    }
}

/* ---- the file ----------------------------------------------------------- */

typedef struct {
    const char *key;
    uint32_t type;
    uint32_t u;
    float f;
    const char *s;
} scalar_kv;

enum { MAX_KV = 32, N_VOCAB_ARRAYS = 3 };

static size_t scalar_kvs(const shape *s, const char *type, const char *name, scalar_kv *kv)
{
    size_t n = 0;
#define KV_U32(k, v) kv[n++] = (scalar_kv){k, GGUF_UINT32, (uint32_t)(v), 0, NULL}
#define KV_F32(k, v) kv[n++] = (scalar_kv){k, GGUF_FLOAT32, 0, (float)(v), NULL}
#define KV_STR(k, v) kv[n++] = (scalar_kv){k, GGUF_STRING, 0, 0, v}
#define KV_BOOL(k, v) kv[n++] = (scalar_kv){k, GGUF_BOOL, (v), 0, NULL}
    KV_STR("general.architecture", "phi3");
    KV_STR("general.name", name);
    KV_U32("general.file_type", file_type(type));
    if (strcmp(type, "f16") != 0)
        KV_U32("general.quantization_version", 2);
    KV_U32("phi3.context_length", s->context);
    KV_U32("phi3.rope.scaling.original_context_length", s->context_orig);
    KV_U32("phi3.embedding_length", s->n_embd);
    KV_U32("phi3.feed_forward_length", s->n_ff);
    KV_U32("phi3.block_count", s->n_layer);
    KV_U32("phi3.attention.head_count", s->n_head);
    KV_U32("phi3.attention.head_count_kv", s->n_head_kv);
    KV_F32("phi3.attention.layer_norm_rms_epsilon", 1e-5);
    KV_U32("phi3.rope.dimension_count", s->n_rot);
    KV_F32("phi3.rope.freq_base", s->freq_base);
    KV_U32("phi3.attention.sliding_window", s->sliding_window);
    if (s->longrope) /* sqrt(1 + ln(scale) / ln(original context)) */
        KV_F32("phi3.rope.scaling.attn_factor",
               sqrt(1.0 + log((double)s->context / s->context_orig) / log((double)s->context_orig)));
    KV_STR("tokenizer.ggml.model", "gpt2");
    KV_STR("tokenizer.ggml.pre", s->pre);
    KV_U32("tokenizer.ggml.bos_token_id", special_id(s, "<|endoftext|>"));
    KV_U32("tokenizer.ggml.eos_token_id", special_id(s, s->end_of_turn));
    KV_U32("tokenizer.ggml.eot_token_id", special_id(s, s->end_of_turn));
    KV_U32("tokenizer.ggml.padding_token_id", special_id(s, "<|endoftext|>"));
    KV_BOOL("tokenizer.ggml.add_bos_token", false);
#undef KV_U32
#undef KV_F32
#undef KV_STR
#undef KV_BOOL
    return n;
}

static void write_header(gguf_out *o, const shape *s, const char *type, const char *name,
                         const planned *t, size_t n_tensors)
{
    scalar_kv kv[MAX_KV];
    size_t n_kv = scalar_kvs(s, type, name, kv);
    gguf_out_bytes(o, "GGUF", 4);
    gguf_out_u32(o, 3);
    gguf_out_u64(o, n_tensors);
    gguf_out_u64(o, n_kv + N_VOCAB_ARRAYS);
    for (size_t i = 0; i < n_kv; i++) {
        if (kv[i].type == GGUF_UINT32)
            gguf_out_kv_u32(o, kv[i].key, kv[i].u);
        else if (kv[i].type == GGUF_FLOAT32)
            gguf_out_kv_f32(o, kv[i].key, kv[i].f);
        else if (kv[i].type == GGUF_BOOL)
            gguf_out_kv_bool(o, kv[i].key, kv[i].u != 0);
        else
            gguf_out_kv_str(o, kv[i].key, kv[i].s);
    }
    write_vocabulary(o, s);

    uint64_t offset = 0;
    for (size_t i = 0; i < n_tensors; i++) {
        gguf_out_str(o, t[i].name);
        gguf_out_u32(o, t[i].n_dims);
        gguf_out_u64(o, (uint64_t)t[i].ne0);
        if (t[i].n_dims == 2)
            gguf_out_u64(o, (uint64_t)t[i].ne1);
        gguf_out_u32(o, t[i].type);
        gguf_out_u64(o, offset);
        offset += (t[i].nbytes + GGUF_ALIGNMENT - 1) / GGUF_ALIGNMENT * GGUF_ALIGNMENT;
    }
    gguf_out_pad(o, GGUF_ALIGNMENT);
}

static int check_spec(const fake_model_spec *spec, shape *s, char *msg, size_t msg_cap)
{
    const shape *base = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(spec->shape, shapes[i].name))
            base = &shapes[i];
    if (!base)
        return snprintf(msg, msg_cap, "unknown shape '%s' (phi4-mini or phi4)", spec->shape), -1;
    if (model_type_index(spec->type) < 0)
        return snprintf(msg, msg_cap, "unknown type '%s' (q4_0, q8_0, f16, q4_k_m or q5_k_m)",
                        spec->type), -1;
    *s = *base;
    int64_t min_vocab = 256 + n_specials(s);
    if (spec->n_layer < 0 || spec->n_layer > 1000)
        return snprintf(msg, msg_cap, "--layers must be 1 to 1000"), -1;
    if (spec->n_vocab && (spec->n_vocab < min_vocab || spec->n_vocab > INT32_MAX))
        return snprintf(msg, msg_cap, "--vocab must be at least %lld (the tokenizer's own tokens)",
                        (long long)min_vocab), -1;
    if (spec->n_layer)
        s->n_layer = spec->n_layer;
    if (spec->n_vocab)
        s->n_vocab = spec->n_vocab;
    return 0;
}

int fake_model_write(const fake_model_spec *spec, const char *path, uint64_t *bytes, char *msg,
                     size_t msg_cap)
{
    shape s;
    *bytes = 0;
    if (check_spec(spec, &s, msg, msg_cap) != 0)
        return -1;
    size_t max_tensors = 5 + 6 * (size_t)s.n_layer;
    planned *t = calloc(max_tensors, sizeof *t);
    block_tables *bt = malloc(sizeof *bt);
    if (!t || !bt) {
        free(t);
        free(bt);
        return snprintf(msg, msg_cap, "out of memory"), -1;
    }
    size_t n_tensors = plan_tensors(&s, spec->type, t);

    char name[128];
    snprintf(name, sizeof name, "phi4-bench random %s %s, %d layers", s.name, spec->type,
             s.n_layer);
    gguf_out o;
    int err = gguf_out_open(&o, path, (size_t)16 << 20);
    if (!err) {
        uint64_t rng = spec->seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
        rng += !rng; /* xorshift never leaves 0 */
        write_header(&o, &s, spec->type, name, t, n_tensors);
        for (size_t i = 0; i < n_tensors && !o.error; i++) {
            if (t[i].fill == FILL_MATRIX)
                write_matrix(&o, &t[i], &rng, bt);
            else
                write_vector(&o, &t[i], &rng);
            gguf_out_pad(&o, GGUF_ALIGNMENT);
        }
        *bytes = o.written;
        err = gguf_out_close(&o);
        if (err)
            unlink(path);
    }
    free(t);
    free(bt);
    if (err)
        return snprintf(msg, msg_cap, "cannot write '%s': %s", path, strerror(err)), -1;
    return 0;
}
