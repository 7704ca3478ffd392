/* libFuzzer target for the GGUF reader: parse arbitrary bytes, and on
 * success touch everything the source exposes (metadata values, array
 * elements, tensor data) so ASan sees any pointer that escapes the image.
 * Build and run: see tests/fuzz/README.md. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/gguf.h"
#include "phi4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void touch(const phi_source *src)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < src->n_meta; i++) {
        const phi_meta *m = &src->meta[i];
        acc += (uint8_t)m->key.ptr[m->key.len - 1];
        if (m->type == PHI_META_STRING && m->v.s.len)
            acc += (uint8_t)m->v.s.ptr[m->v.s.len - 1];
        if (m->type != PHI_META_ARRAY || m->count == 0)
            continue;
        if (m->elem_type == PHI_META_STRING) {
            for (uint64_t j = 0; j < m->count; j++)
                if (m->strs[j].len)
                    acc += (uint8_t)m->strs[j].ptr[m->strs[j].len - 1];
        } else {
            acc += (uint64_t)phi_meta_elem_int(m, 0) + (uint64_t)phi_meta_elem_int(m, m->count - 1);
        }
    }
    for (size_t i = 0; i < src->n_tensors; i++) {
        const phi_tensor *t = &src->tensors[i];
        const uint8_t *d = t->data;
        acc += d[0] + d[t->nbytes - 1] + strlen(t->name);
    }
    sink = acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    phi_mem mem; /* the default hooks allocate exact sizes, so ASan sees overreads */
    phi_mem_init_default(&mem);
    /* A copy owned by the reader (mapped = false), as phi_gguf_parse wants. */
    uint8_t *copy = phi_alloc(&mem, size);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    phi_mapped_file file = {copy, size, false, 0};
    phi_source *src = NULL;
    phi_err err;
    if (phi_gguf_parse(&mem, &file, &src, &err) == PHI_OK) {
        touch(src);
        phi_source_free(src);
    }
    return 0;
}
