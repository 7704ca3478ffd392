#define _POSIX_C_SOURCE 200809L
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Exactly the size asked for (posix_memalign takes any size, unlike
 * aligned_alloc), so AddressSanitizer sees a read one byte past a block. */
static void *default_alloc(void *user, size_t size, size_t align)
{
    (void)user;
    void *p = NULL;
    return posix_memalign(&p, align, size) == 0 ? p : NULL;
}

static void default_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

void phi_mem_init_default(phi_mem *mem)
{
    mem->user = NULL;
    mem->alloc = default_alloc;
    mem->free = default_free;
}

void *phi_alloc(const phi_mem *mem, size_t size)
{
    return mem->alloc(mem->user, size ? size : 1, PHI_ALIGN);
}

void *phi_alloc_bulk(const phi_mem *mem, size_t size)
{
    void *p = phi_alloc(mem, size);
#ifdef MADV_HUGEPAGE
    /* Only whole huge pages inside the block: advice is per page, and the
     * pages around the block may belong to other allocations. Failure (a
     * kernel without THP, a caller's allocator handing out memory that is
     * not anonymous) leaves the block as it is, which is only slower. */
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (p && size >= 2 * huge) {
        uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
        uintptr_t hi = ((uintptr_t)p + size) & ~(huge - 1);
        if (hi > lo)
            (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
#endif
    return p;
}

void *phi_alloc_zero(const phi_mem *mem, size_t size)
{
    void *p = phi_alloc(mem, size);
    if (p)
        memset(p, 0, size);
    return p;
}

void *phi_alloc_array(const phi_mem *mem, size_t n, size_t size)
{
    size_t total;
    if (phi_mul_overflows(n, size, &total))
        return NULL;
    return phi_alloc(mem, total);
}

void phi_free(const phi_mem *mem, void *ptr)
{
    if (ptr)
        mem->free(mem->user, ptr);
}

char *phi_strndup(const phi_mem *mem, const char *s, size_t len)
{
    size_t total;
    if (phi_add_overflows(len, 1, &total))
        return NULL;
    char *p = phi_alloc(mem, total);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}
