#include "gguf_builder.h"

#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"

void gb_put(gb_buf *b, const void *p, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->oom = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_le(gb_buf *b, uint64_t v, unsigned n)
{
    uint8_t tmp[8];
    for (unsigned i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    gb_put(b, tmp, n);
}

void gb_u8(gb_buf *b, uint8_t v) { put_le(b, v, 1); }
void gb_u16(gb_buf *b, uint16_t v) { put_le(b, v, 2); }
void gb_u32(gb_buf *b, uint32_t v) { put_le(b, v, 4); }
void gb_u64(gb_buf *b, uint64_t v) { put_le(b, v, 8); }

void gb_f32(gb_buf *b, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    gb_u32(b, bits);
}

void gb_f64(gb_buf *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    gb_u64(b, bits);
}

void gb_strn(gb_buf *b, const void *s, size_t n)
{
    gb_u64(b, n);
    gb_put(b, s, n);
}

void gb_str(gb_buf *b, const char *s) { gb_strn(b, s, strlen(s)); }

void gb_init(gguf_builder *g)
{
    memset(g, 0, sizeof *g);
    g->magic = "GGUF";
    g->version = 3;
    g->alignment = 32;
    g->pad_end = true;
}

void gb_free(gguf_builder *g)
{
    free(g->kv.data);
    g->kv.data = NULL;
}

void gb_kv_begin(gguf_builder *g, const char *key, uint32_t type)
{
    gb_str(&g->kv, key);
    gb_u32(&g->kv, type);
    g->n_kv++;
}

/* GGUF metadata type codes (the same as PHI_META_*). */
enum { U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 };

void gb_kv_u8(gguf_builder *g, const char *k, uint8_t v) { gb_kv_begin(g, k, U8); gb_u8(&g->kv, v); }
void gb_kv_i8(gguf_builder *g, const char *k, int8_t v) { gb_kv_begin(g, k, I8); gb_u8(&g->kv, (uint8_t)v); }
void gb_kv_u16(gguf_builder *g, const char *k, uint16_t v) { gb_kv_begin(g, k, U16); gb_u16(&g->kv, v); }
void gb_kv_i16(gguf_builder *g, const char *k, int16_t v) { gb_kv_begin(g, k, I16); gb_u16(&g->kv, (uint16_t)v); }
void gb_kv_u32(gguf_builder *g, const char *k, uint32_t v) { gb_kv_begin(g, k, U32); gb_u32(&g->kv, v); }
void gb_kv_i32(gguf_builder *g, const char *k, int32_t v) { gb_kv_begin(g, k, I32); gb_u32(&g->kv, (uint32_t)v); }
void gb_kv_u64(gguf_builder *g, const char *k, uint64_t v) { gb_kv_begin(g, k, U64); gb_u64(&g->kv, v); }
void gb_kv_i64(gguf_builder *g, const char *k, int64_t v) { gb_kv_begin(g, k, I64); gb_u64(&g->kv, (uint64_t)v); }
void gb_kv_f32(gguf_builder *g, const char *k, float v) { gb_kv_begin(g, k, F32); gb_f32(&g->kv, v); }
void gb_kv_f64(gguf_builder *g, const char *k, double v) { gb_kv_begin(g, k, F64); gb_f64(&g->kv, v); }
void gb_kv_bool(gguf_builder *g, const char *k, uint8_t v) { gb_kv_begin(g, k, BOOL); gb_u8(&g->kv, v); }
void gb_kv_str(gguf_builder *g, const char *k, const char *v) { gb_kv_begin(g, k, STR); gb_str(&g->kv, v); }

void gb_kv_arr(gguf_builder *g, const char *key, uint32_t elem_type, const void *elems,
               size_t elem_size, uint64_t n)
{
    gb_kv_begin(g, key, ARR);
    gb_u32(&g->kv, elem_type);
    gb_u64(&g->kv, n);
    gb_put(&g->kv, elems, elem_size * (size_t)n);
}

void gb_kv_arr_str(gguf_builder *g, const char *key, const char *const *v, uint64_t n)
{
    gb_kv_begin(g, key, ARR);
    gb_u32(&g->kv, STR);
    gb_u64(&g->kv, n);
    for (uint64_t i = 0; i < n; i++)
        gb_str(&g->kv, v[i]);
}

gb_tensor *gb_tensor_add(gguf_builder *g, const char *name, uint32_t type, uint32_t n_dims,
                         uint64_t d0, uint64_t d1, uint64_t d2, uint64_t d3)
{
    if (g->n_tensors == GB_MAX_TENSORS)
        return NULL;
    gb_tensor *t = &g->tensors[g->n_tensors++];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->type = type;
    t->n_dims = n_dims;
    uint64_t d[4] = {d0, d1, d2, d3};
    for (unsigned i = 0; i < 4; i++)
        t->dims[i] = d[i];
    return t;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return x + (a - x % a) % a; }

static uint64_t shape_bytes(const gb_tensor *t)
{
    if (t->nbytes_set)
        return t->nbytes;
    const phi_dtype_info *info = phi_dtype_get(t->type);
    if (!info || t->n_dims > 4)
        return 0;
    uint64_t n = 1;
    for (unsigned i = 0; i < t->n_dims; i++)
        n *= t->dims[i];
    return n / info->block * info->block_bytes;
}

uint8_t *gb_build(gguf_builder *g, size_t *len)
{
    gb_buf b = {0};
    gb_put(&b, g->magic, 4);
    gb_u32(&b, g->version);
    gb_u64(&b, g->tensor_count_set ? g->tensor_count : g->n_tensors);
    gb_u64(&b, g->kv_count_set ? g->kv_count : g->n_kv);
    gb_put(&b, g->kv.data, g->kv.len);

    uint64_t next = 0, data_end = 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        const gb_tensor *t = &g->tensors[i];
        g->nbytes[i] = shape_bytes(t);
        g->offsets[i] = t->offset_set ? t->offset : next;
        next = align_up(g->offsets[i] + g->nbytes[i], g->alignment);
        if (g->offsets[i] + g->nbytes[i] > data_end)
            data_end = g->offsets[i] + g->nbytes[i];
        gb_strn(&b, t->name, t->name_len ? t->name_len : strlen(t->name));
        gb_u32(&b, t->n_dims);
        for (unsigned d = 0; d < t->n_dims && d < GB_MAX_DIMS; d++)
            gb_u64(&b, t->dims[d]);
        gb_u32(&b, t->type);
        gb_u64(&b, g->offsets[i]);
    }
    g->data_start = (size_t)align_up(b.len, g->alignment);
    if (g->n_tensors > 0) {
        static const uint8_t zero[4096];
        while (b.len < g->data_start && !b.oom)
            gb_put(&b, zero, g->data_start - b.len > sizeof zero ? sizeof zero : g->data_start - b.len);
        if (g->pad_end)
            data_end = align_up(data_end, g->alignment);
        if (g->data_len_set)
            data_end = g->data_len;
        for (uint64_t i = 0; i < data_end; i++)
            gb_u8(&b, 0);
        for (size_t i = 0; i < g->n_tensors && !b.oom; i++)
            for (uint64_t j = 0; j < g->nbytes[i] && g->offsets[i] + j < data_end; j++)
                b.data[g->data_start + g->offsets[i] + j] = (uint8_t)(i + 1 + j);
    }
    if (b.oom || g->kv.oom) {
        free(b.data);
        *len = 0;
        return NULL;
    }
    *len = b.len;
    return b.data;
}
