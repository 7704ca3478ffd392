/* A fixed set of worker threads owned by one context. phi_pool_run hands a
 * function to all of them (the calling thread takes part as thread 0) and
 * returns when every thread has finished: no allocation, no thread creation
 * per call. */
#ifndef PHI_RUNTIME_POOL_H
#define PHI_RUNTIME_POOL_H

#include "core/err.h"
#include "core/mem.h"

typedef struct phi_pool phi_pool;

/* Most threads a pool runs. Callers that keep per-thread buffers size them
 * by this, so the pool refuses more. */
#define PHI_MAX_THREADS 256

/* fn(arg, ith, nth): thread ith of nth. */
typedef void (*phi_pool_fn)(void *arg, int ith, int nth);

/* n_threads in [1, PHI_MAX_THREADS]; PHI_E_INVALID_ARG otherwise. */
int phi_pool_new(const phi_mem *mem, int n_threads, phi_pool **out, phi_err *err);
void phi_pool_free(phi_pool *pool);
int phi_pool_size(const phi_pool *pool);
void phi_pool_run(phi_pool *pool, phi_pool_fn fn, void *arg);

/* Split [0, n) into nth nearly equal parts; part ith is [*begin, *end). */
static inline void phi_split_range(long n, int ith, int nth, long *begin, long *end)
{
    long per = n / nth, extra = n % nth;
    *begin = ith * per + (ith < extra ? ith : extra);
    *end = *begin + per + (ith < extra ? 1 : 0);
}

#endif
