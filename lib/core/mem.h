/* Memory: every allocation of the library goes through a phi_mem, so a
 * caller's allocator (phi_allocator) sees all of it and tests can make any
 * allocation fail. Sizes are checked for overflow before they reach it. */
#ifndef PHI_CORE_MEM_H
#define PHI_CORE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct phi_mem {
    void *user;
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *ptr);
} phi_mem;

/* Alignment of every phi_alloc block: a cache line, enough for AVX-512. */
#define PHI_ALIGN 64

/* libc-backed hooks (aligned_alloc). */
void phi_mem_init_default(phi_mem *mem);

void *phi_alloc(const phi_mem *mem, size_t size);
void *phi_alloc_zero(const phi_mem *mem, size_t size);
/* n * size bytes, NULL on overflow or exhaustion. */
void *phi_alloc_array(const phi_mem *mem, size_t n, size_t size);
/* A big block the kernels stream through (weights read into memory, the KV
 * cache): phi_alloc, then the system is asked to back it with huge pages.
 * With 4 KiB pages, streaming gigabytes of weights misses the TLB every page
 * and the fault per page makes reading the file several times slower. */
void *phi_alloc_bulk(const phi_mem *mem, size_t size);
void phi_free(const phi_mem *mem, void *ptr);
/* A NUL-terminated copy of len bytes. */
char *phi_strndup(const phi_mem *mem, const char *s, size_t len);

static inline bool phi_mul_overflows(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}
static inline bool phi_add_overflows(size_t a, size_t b, size_t *out)
{
    return __builtin_add_overflow(a, b, out);
}

#endif
