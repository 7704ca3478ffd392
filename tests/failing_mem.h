/* An allocator that fails its n-th call (fail_at; 0: never) and counts the
 * blocks still live, so a test can walk every allocation failure of a
 * function and see that each is reported and nothing leaks. */
#ifndef PHI_TESTS_FAILING_MEM_H
#define PHI_TESTS_FAILING_MEM_H

#include "core/mem.h"

typedef struct failing_mem {
    long calls, fail_at, live;
} failing_mem;

static void *failing_alloc(void *user, size_t size, size_t align)
{
    failing_mem *f = user;
    if (++f->calls == f->fail_at)
        return NULL;
    phi_mem real;
    phi_mem_init_default(&real);
    void *p = real.alloc(real.user, size, align);
    f->live += p != NULL;
    return p;
}

static void failing_free(void *user, void *ptr)
{
    failing_mem *f = user;
    phi_mem real;
    phi_mem_init_default(&real);
    f->live--;
    real.free(real.user, ptr);
}

/* Hooks failing at call n (counting from 1), with the counters reset. */
static inline phi_mem failing_mem_arm(failing_mem *f, long n)
{
    *f = (failing_mem){0, n, 0};
    return (phi_mem){f, failing_alloc, failing_free};
}

#endif
