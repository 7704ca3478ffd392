#include "gguf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *name;
    uint32_t block, bytes;
} types[] = {
    [0] = {"F32", 1, 4},        [1] = {"F16", 1, 2},        [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},     [6] = {"Q5_0", 32, 22},     [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},     [9] = {"Q8_1", 32, 36},     [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},  [12] = {"Q4_K", 256, 144},  [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},  [15] = {"Q8_K", 256, 292},  [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74}, [18] = {"IQ3_XXS", 256, 98}, [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},  [21] = {"IQ3_S", 256, 110}, [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136}, [24] = {"I8", 1, 1},       [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},       [27] = {"I64", 1, 8},       [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},  [30] = {"BF16", 1, 2},      [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},  [39] = {"MXFP4", 32, 17},
};

bool gguf_type_geometry(uint32_t type, uint32_t *block, uint32_t *block_bytes)
{
    if (type >= sizeof types / sizeof types[0] || !types[type].name)
        return false;
    *block = types[type].block;
    *block_bytes = types[type].bytes;
    return true;
}

const char *gguf_type_name(uint32_t type)
{
    return type < sizeof types / sizeof types[0] && types[type].name ? types[type].name : "?";
}

uint64_t gguf_tensor_bytes(uint32_t type, uint64_t n_elements)
{
    uint32_t block, bytes;
    if (!gguf_type_geometry(type, &block, &bytes) || n_elements % block)
        return 0;
    return n_elements / block * bytes;
}

/* ---- writing ------------------------------------------------------------ */

int gguf_out_open(gguf_out *o, const char *path, size_t cap)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->buf = malloc(cap);
    if (!o->buf)
        return ENOMEM;
    o->cap = cap;
    o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o->fd < 0) {
        int e = errno;
        free(o->buf);
        o->buf = NULL;
        return e;
    }
    return 0;
}

static void flush(gguf_out *o)
{
    size_t done = 0;
    while (!o->error && done < o->len) {
        ssize_t k = write(o->fd, o->buf + done, o->len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            o->error = k < 0 ? errno : EIO;
        else
            done += (size_t)k;
    }
    o->len = 0;
}

unsigned char *gguf_out_reserve(gguf_out *o, size_t n)
{
    if (n > o->cap && !o->error)
        o->error = EINVAL;
    if (o->error)
        return NULL;
    if (o->cap - o->len < n)
        flush(o);
    return o->error ? NULL : o->buf + o->len;
}

void gguf_out_commit(gguf_out *o, size_t n)
{
    o->len += n;
    o->written += n;
}

void gguf_out_bytes(gguf_out *o, const void *p, size_t n)
{
    const unsigned char *src = p;
    while (n) {
        size_t k = n < o->cap ? n : o->cap;
        unsigned char *dst = gguf_out_reserve(o, k);
        if (!dst)
            return;
        memcpy(dst, src, k);
        gguf_out_commit(o, k);
        src += k;
        n -= k;
    }
}

static void out_le(gguf_out *o, uint64_t v, unsigned n)
{
    unsigned char b[8];
    for (unsigned i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    gguf_out_bytes(o, b, n);
}

void gguf_out_u32(gguf_out *o, uint32_t v) { out_le(o, v, 4); }
void gguf_out_u64(gguf_out *o, uint64_t v) { out_le(o, v, 8); }

void gguf_out_str(gguf_out *o, const char *s)
{
    size_t n = strlen(s);
    gguf_out_u64(o, n);
    gguf_out_bytes(o, s, n);
}

void gguf_out_pad(gguf_out *o, uint64_t align)
{
    static const unsigned char zeros[64];
    uint64_t n = (align - o->written % align) % align;
    while (n) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        gguf_out_bytes(o, zeros, k);
        n -= k;
    }
}

static void kv_head(gguf_out *o, const char *key, uint32_t type)
{
    gguf_out_str(o, key);
    gguf_out_u32(o, type);
}

void gguf_out_kv_u32(gguf_out *o, const char *key, uint32_t v)
{
    kv_head(o, key, GGUF_UINT32);
    gguf_out_u32(o, v);
}

void gguf_out_kv_f32(gguf_out *o, const char *key, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    kv_head(o, key, GGUF_FLOAT32);
    gguf_out_u32(o, bits);
}

void gguf_out_kv_bool(gguf_out *o, const char *key, bool v)
{
    unsigned char b = v ? 1 : 0;
    kv_head(o, key, GGUF_BOOL);
    gguf_out_bytes(o, &b, 1);
}

void gguf_out_kv_str(gguf_out *o, const char *key, const char *v)
{
    kv_head(o, key, GGUF_STRING);
    gguf_out_str(o, v);
}

void gguf_out_kv_array(gguf_out *o, const char *key, uint32_t elem_type, uint64_t count)
{
    kv_head(o, key, GGUF_ARRAY);
    gguf_out_u32(o, elem_type);
    gguf_out_u64(o, count);
}

int gguf_out_close(gguf_out *o)
{
    if (o->fd >= 0) {
        flush(o);
        if (close(o->fd) != 0 && !o->error)
            o->error = errno;
        o->fd = -1;
    }
    free(o->buf);
    o->buf = NULL;
    return o->error;
}

/* ---- reading the tensor table ------------------------------------------- */

typedef struct {
    FILE *f;
    bool failed;
} reader;

static uint64_t in_le(reader *r, unsigned n)
{
    unsigned char b[8] = {0};
    if (!r->failed && fread(b, 1, n, r->f) != n)
        r->failed = true;
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static void skip(reader *r, uint64_t n)
{
    char tmp[4096];
    while (n && !r->failed) {
        size_t k = n < sizeof tmp ? (size_t)n : sizeof tmp;
        if (fread(tmp, 1, k, r->f) != k)
            r->failed = true;
        n -= k;
    }
}

/* Bytes of a scalar metadata value; 0 for strings, arrays and unknown types. */
static unsigned scalar_size(uint32_t type)
{
    static const unsigned size[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return type < 13 ? size[type] : 0;
}

static bool skip_value(reader *r, uint32_t type)
{
    if (type == GGUF_STRING) {
        skip(r, in_le(r, 8));
        return true;
    }
    if (type == GGUF_ARRAY) {
        uint32_t elem = (uint32_t)in_le(r, 4);
        uint64_t count = in_le(r, 8);
        if (elem == GGUF_STRING) {
            for (uint64_t i = 0; i < count && !r->failed; i++)
                skip(r, in_le(r, 8));
            return true;
        }
        if (!scalar_size(elem) || count > (UINT64_MAX >> 4))
            return false;
        skip(r, count * scalar_size(elem));
        return true;
    }
    if (!scalar_size(type))
        return false;
    skip(r, scalar_size(type));
    return true;
}

int gguf_read_tensors(const char *path, gguf_tensor_info **out, size_t *n_out, char *msg,
                      size_t msg_cap)
{
    *out = NULL;
    *n_out = 0;
    reader r = {fopen(path, "rb"), false};
    if (!r.f) {
        snprintf(msg, msg_cap, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    gguf_tensor_info *t = NULL;
    const char *why = NULL;
    uint32_t magic = (uint32_t)in_le(&r, 4), version = (uint32_t)in_le(&r, 4);
    uint64_t n_tensors = in_le(&r, 8), n_kv = in_le(&r, 8);
    if (r.failed || magic != 0x46554747u)
        why = "not a GGUF file";
    else if (version < 2 || version > 3)
        why = "a GGUF version other than 2 or 3";
    else if (n_tensors > 1000000 || n_kv > 1000000)
        why = "an implausible tensor or metadata count";
    for (uint64_t i = 0; !why && i < n_kv; i++) {
        skip(&r, in_le(&r, 8));
        if (!skip_value(&r, (uint32_t)in_le(&r, 4)))
            why = "a metadata value of unknown type";
    }
    if (!why && !(t = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *t)))
        why = "out of memory";
    for (uint64_t i = 0; !why && !r.failed && i < n_tensors; i++) {
        gguf_tensor_info *ti = &t[i];
        uint64_t len = in_le(&r, 8);
        if (len >= GGUF_NAME_MAX) {
            why = "a tensor name of 64 bytes or more";
            break;
        }
        if (!r.failed && fread(ti->name, 1, (size_t)len, r.f) != len)
            r.failed = true;
        ti->n_dims = (uint32_t)in_le(&r, 4);
        if (ti->n_dims < 1 || ti->n_dims > 4) {
            why = "a tensor with other than 1 to 4 dimensions";
            break;
        }
        ti->n_elements = 1;
        for (uint32_t d = 0; d < 4; d++) {
            ti->ne[d] = d < ti->n_dims ? (int64_t)in_le(&r, 8) : 1;
            if (ti->ne[d] < 0 || (ti->ne[d] && ti->n_elements > INT64_MAX / (uint64_t)ti->ne[d])) {
                why = "a tensor with an implausible shape";
                break;
            }
            ti->n_elements *= (uint64_t)ti->ne[d];
        }
        ti->type = (uint32_t)in_le(&r, 4);
        in_le(&r, 8); /* offset: the library checks the layout */
        if (!why && !r.failed && !(ti->nbytes = gguf_tensor_bytes(ti->type, ti->n_elements)) &&
            ti->n_elements)
            why = "a tensor of unknown type or a partial block";
    }
    if (!why && r.failed)
        why = "the file ends inside its header";
    fclose(r.f);
    if (why) {
        snprintf(msg, msg_cap, "'%s': %s", path, why);
        free(t);
        return -1;
    }
    *out = t;
    *n_out = (size_t)n_tensors;
    return 0;
}
