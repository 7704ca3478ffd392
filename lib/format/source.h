/* A model source: what a file format yields, in terms that know nothing of
 * any format or model. Metadata is a list of typed key/value pairs and the
 * weights a list of named tensors pointing into memory owned by the source.
 *
 * GGUF's vocabulary is the canonical one: GGUF fills a source as it reads;
 * other formats (Hugging Face folders) translate their config keys and tensor
 * names into GGUF's before the architectures see them. Architectures read
 * sources only through the accessors below. */
#ifndef PHI_FORMAT_SOURCE_H
#define PHI_FORMAT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/str.h"
#include "format/mapfile.h"

/* Metadata value types: GGUF's codes. */
enum phi_meta_type {
    PHI_META_U8 = 0,
    PHI_META_I8 = 1,
    PHI_META_U16 = 2,
    PHI_META_I16 = 3,
    PHI_META_U32 = 4,
    PHI_META_I32 = 5,
    PHI_META_F32 = 6,
    PHI_META_BOOL = 7,
    PHI_META_STRING = 8,
    PHI_META_ARRAY = 9,
    PHI_META_U64 = 10,
    PHI_META_I64 = 11,
    PHI_META_F64 = 12,
    PHI_META_TYPE_COUNT = 13
};

typedef struct phi_meta {
    phi_str key;
    uint32_t type;
    uint32_t elem_type;   /* for arrays */
    uint64_t count;       /* for arrays: number of elements */
    union {
        uint64_t u;       /* U8..U64, BOOL (0/1) */
        int64_t i;        /* I8..I64 */
        double f;         /* F32, F64 */
        phi_str s;        /* STRING */
    } v;
    const uint8_t *elems; /* numeric arrays: packed little-endian elements */
    const phi_str *strs;  /* string arrays: one phi_str per element */
} phi_meta;

#define PHI_TENSOR_NAME_MAX 96

typedef struct phi_tensor {
    char name[PHI_TENSOR_NAME_MAX]; /* NUL-terminated */
    uint32_t type;                  /* enum phi_dtype */
    uint32_t n_dims;
    int64_t ne[4];                  /* ne[0] varies fastest; missing dims are 1 */
    size_t nbytes;
    const void *data;
    /* Rows [0, packed_rows) are in the kernels' packed layout
     * (kernels/packed.h), whole groups of PHI_PACK_ROWS (64); the rest in
     * the format's row layout. 0 as read: an architecture packs what its
     * kernels want. */
    int64_t packed_rows;
} phi_tensor;

typedef struct phi_source {
    phi_mem mem;
    phi_mapped_file file;
    const char *format;    /* "gguf" */
    uint32_t version;      /* the format's version */
    size_t n_meta;
    phi_meta *meta;
    size_t n_tensors;
    phi_tensor *tensors;
    void *owned;           /* reader-private allocations freed with the source */
    void (*free_owned)(const phi_mem *mem, void *owned);
} phi_source;

void phi_source_free(phi_source *src);

const phi_meta *phi_source_meta(const phi_source *src, const char *key);
const phi_tensor *phi_source_tensor(const phi_source *src, const char *name);

/* Typed getters: false when the key is absent. A key of the wrong type is a
 * format error reported through err (and also returns false); check
 * err->code. Integer getters accept every integer width and range-check. */
bool phi_meta_int(const phi_source *src, const char *key, int64_t *out, phi_err *err);
bool phi_meta_float(const phi_source *src, const char *key, double *out, phi_err *err);
bool phi_meta_str(const phi_source *src, const char *key, phi_str *out, phi_err *err);
/* An array of the given element kind: PHI_META_STRING, or any numeric type
 * (then elements are read with phi_meta_elem_int / _float). */
bool phi_meta_array(const phi_source *src, const char *key, const phi_meta **out, phi_err *err);
int64_t phi_meta_elem_int(const phi_meta *arr, uint64_t i);
double phi_meta_elem_float(const phi_meta *arr, uint64_t i);

/* An n-byte little-endian unsigned integer at p (formats are little-endian
 * whatever the host is). */
static inline uint64_t phi_load_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#endif
