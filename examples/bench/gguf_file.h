/* GGUF as phi4-bench needs it, apart from the library: the block geometry of
 * ggml's tensor types, a buffered writer fast enough for multi-gigabyte
 * files, and a reader of the tensor table (names, shapes, types, sizes) so
 * the bench can count the bytes and operations a forward pass streams.
 * The reader is not a validating one: the library validates a file when it
 * loads it. Layout: /work/shared/docs/gguf-and-quants.md §1–2. */
#ifndef PHI4_BENCH_GGUF_FILE_H
#define PHI4_BENCH_GGUF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ggml type codes the bench writes (every code is known to the reader). */
enum {
    GGML_F32 = 0,
    GGML_F16 = 1,
    GGML_Q4_0 = 2,
    GGML_Q8_0 = 8,
    GGML_Q4_K = 12,
    GGML_Q5_K = 13,
    GGML_Q6_K = 14,
};

/* Metadata value types. */
enum {
    GGUF_UINT32 = 4,
    GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
};

#define GGUF_ALIGNMENT 32
#define GGUF_NAME_MAX 64

/* Elements per block and bytes per block of a tensor type; false for a code
 * that names no storable type. */
bool gguf_type_geometry(uint32_t type, uint32_t *block, uint32_t *block_bytes);
const char *gguf_type_name(uint32_t type);
/* Bytes of a tensor of n elements (0 when n is not a whole number of blocks). */
uint64_t gguf_tensor_bytes(uint32_t type, uint64_t n_elements);

/* ---- writing ------------------------------------------------------------ */

typedef struct gguf_out {
    int fd;
    unsigned char *buf;
    size_t len, cap;
    uint64_t written;   /* bytes handed to the writer so far */
    int error;          /* first errno; later writes are skipped */
} gguf_out;

/* Create (truncate) path for writing with a buffer of cap bytes. Returns 0
 * or an errno. */
int gguf_out_open(gguf_out *o, const char *path, size_t cap);
/* Room for n <= cap bytes at the end of the buffer (flushing first if
 * needed); the caller fills it and calls gguf_out_commit(o, n). NULL after
 * an error. */
unsigned char *gguf_out_reserve(gguf_out *o, size_t n);
void gguf_out_commit(gguf_out *o, size_t n);
void gguf_out_bytes(gguf_out *o, const void *p, size_t n);
void gguf_out_u32(gguf_out *o, uint32_t v);
void gguf_out_u64(gguf_out *o, uint64_t v);
void gguf_out_str(gguf_out *o, const char *s);
/* Zero bytes up to the next multiple of align (counted from the file start). */
void gguf_out_pad(gguf_out *o, uint64_t align);

/* Metadata pairs. An array's elements follow gguf_out_kv_array with
 * gguf_out_u32/gguf_out_str... one by one. */
void gguf_out_kv_u32(gguf_out *o, const char *key, uint32_t v);
void gguf_out_kv_f32(gguf_out *o, const char *key, float v);
void gguf_out_kv_bool(gguf_out *o, const char *key, bool v);
void gguf_out_kv_str(gguf_out *o, const char *key, const char *v);
void gguf_out_kv_array(gguf_out *o, const char *key, uint32_t elem_type, uint64_t count);

/* Flush, close, free the buffer. Returns the first errno met (0 = the file
 * is complete). */
int gguf_out_close(gguf_out *o);

/* ---- reading the tensor table ------------------------------------------- */

typedef struct gguf_tensor_info {
    char name[GGUF_NAME_MAX];
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[4];       /* missing dims are 1 */
    uint64_t n_elements;
    uint64_t nbytes;
} gguf_tensor_info;

/* Read the tensor infos of a GGUF v2/v3 file (the metadata is skipped).
 * *out is malloc'd (free it). Returns 0, or -1 with a sentence in msg. */
int gguf_read_tensors(const char *path, gguf_tensor_info **out, size_t *n_out, char *msg,
                      size_t msg_cap);

#endif
