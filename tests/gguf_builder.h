/* A tiny in-memory GGUF writer for tests: emits valid images by default, with
 * knobs to corrupt each field. Test-only code: it uses malloc directly and
 * treats running out of memory as a test failure (gb->oom). */
#ifndef PHI_TESTS_GGUF_BUILDER_H
#define PHI_TESTS_GGUF_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gb_buf {
    uint8_t *data;
    size_t len, cap;
    bool oom;
} gb_buf;

void gb_put(gb_buf *b, const void *p, size_t n);
void gb_u8(gb_buf *b, uint8_t v);
void gb_u16(gb_buf *b, uint16_t v);
void gb_u32(gb_buf *b, uint32_t v);
void gb_u64(gb_buf *b, uint64_t v);
void gb_f32(gb_buf *b, float v);
void gb_f64(gb_buf *b, double v);
/* u64 length + bytes */
void gb_str(gb_buf *b, const char *s);
void gb_strn(gb_buf *b, const void *s, size_t n);

#define GB_MAX_TENSORS 16
#define GB_MAX_DIMS 8

typedef struct gb_tensor {
    const char *name;
    size_t name_len;          /* 0: strlen(name) */
    uint32_t n_dims;          /* written as is; up to GB_MAX_DIMS dims are written */
    uint64_t dims[GB_MAX_DIMS];
    uint32_t type;
    bool offset_set;          /* else: back to back, each aligned */
    uint64_t offset;
    bool nbytes_set;          /* else: computed from the shape (0 for unknown types) */
    uint64_t nbytes;
} gb_tensor;

typedef struct gguf_builder {
    const char *magic;        /* default "GGUF" (4 bytes) */
    uint32_t version;         /* default 3 */
    bool kv_count_set, tensor_count_set;
    uint64_t kv_count, tensor_count; /* lies, when *_set */
    uint32_t alignment;       /* used for layout only; default 32 */
    bool pad_end;             /* pad the data section's end to the alignment (default true) */
    bool data_len_set;        /* else: up to the end of the last tensor (padded) */
    uint64_t data_len;        /* bytes written after the data section's start */
    gb_buf kv;                /* encoded KV pairs */
    uint64_t n_kv;
    gb_tensor tensors[GB_MAX_TENSORS];
    size_t n_tensors;
    /* Set by gb_build: where the data section starts, each tensor's offset
     * in it and its byte size. */
    size_t data_start;
    uint64_t offsets[GB_MAX_TENSORS];
    uint64_t nbytes[GB_MAX_TENSORS];
} gguf_builder;

void gb_init(gguf_builder *g);
void gb_free(gguf_builder *g);

/* Append a KV: the key and type, and (for the typed helpers) the value. */
void gb_kv_begin(gguf_builder *g, const char *key, uint32_t type); /* raw: value follows in g->kv */
void gb_kv_u8(gguf_builder *g, const char *key, uint8_t v);
void gb_kv_i8(gguf_builder *g, const char *key, int8_t v);
void gb_kv_u16(gguf_builder *g, const char *key, uint16_t v);
void gb_kv_i16(gguf_builder *g, const char *key, int16_t v);
void gb_kv_u32(gguf_builder *g, const char *key, uint32_t v);
void gb_kv_i32(gguf_builder *g, const char *key, int32_t v);
void gb_kv_u64(gguf_builder *g, const char *key, uint64_t v);
void gb_kv_i64(gguf_builder *g, const char *key, int64_t v);
void gb_kv_f32(gguf_builder *g, const char *key, float v);
void gb_kv_f64(gguf_builder *g, const char *key, double v);
void gb_kv_bool(gguf_builder *g, const char *key, uint8_t v);
void gb_kv_str(gguf_builder *g, const char *key, const char *v);
/* Numeric array: n elements of elem_size bytes each, already little-endian. */
void gb_kv_arr(gguf_builder *g, const char *key, uint32_t elem_type, const void *elems,
               size_t elem_size, uint64_t n);
void gb_kv_arr_str(gguf_builder *g, const char *key, const char *const *v, uint64_t n);

/* Add a tensor with 1..4 dims (n_dims of the dims given); returns it for
 * further corruption. */
gb_tensor *gb_tensor_add(gguf_builder *g, const char *name, uint32_t type, uint32_t n_dims,
                         uint64_t d0, uint64_t d1, uint64_t d2, uint64_t d3);

/* Emit the image (malloc'd, caller frees). Tensor data bytes are
 * (tensor index + 1 + byte index) & 0xff so tests can recognise them. */
uint8_t *gb_build(gguf_builder *g, size_t *len);

#endif
