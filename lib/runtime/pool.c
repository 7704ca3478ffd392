/* Workers wait for a new generation number: they spin briefly first, because
 * during decoding a new job arrives every few microseconds and a sleep/wake
 * round trip would cost more than the job, then sleep on a condition
 * variable so an idle context burns no CPU. */
#include "runtime/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "phi4.h"

enum { SPIN_ROUNDS = 20000 };

struct phi_pool {
    phi_mem mem;
    int n_threads;
    int n_started;
    pthread_t *threads;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    atomic_uint generation;
    atomic_int pending;
    atomic_bool stop;
    phi_pool_fn fn;
    void *arg;
};

typedef struct {
    phi_pool *pool;
    int ith;
} worker_arg;

static unsigned wait_for_work(phi_pool *p, unsigned seen)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load_explicit(&p->stop, memory_order_acquire))
            return g;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    pthread_mutex_lock(&p->mutex);
    unsigned g;
    while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
           !atomic_load_explicit(&p->stop, memory_order_acquire))
        pthread_cond_wait(&p->wake, &p->mutex);
    pthread_mutex_unlock(&p->mutex);
    return g;
}

static void *worker_main(void *opaque)
{
    phi_pool *p = ((worker_arg *)opaque)->pool;
    int ith = ((worker_arg *)opaque)->ith;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_work(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_acquire))
            return NULL;
        p->fn(p->arg, ith, p->n_threads);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
    }
}

int phi_pool_new(const phi_mem *mem, int n_threads, phi_pool **out, phi_err *err)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > PHI_MAX_THREADS)
        return phi_err_set(err, PHI_E_INVALID_ARG, "a pool runs 1 to %d threads, not %d",
                           PHI_MAX_THREADS, n_threads);
    phi_pool *p = phi_alloc_zero(mem, sizeof *p);
    if (!p)
        return phi_err_set(err, PHI_E_NOMEM, "out of memory creating the thread pool");
    p->mem = *mem;
    p->n_threads = n_threads;
    /* Worker args live right after the thread handles. */
    size_t bytes = (size_t)n_threads * (sizeof(pthread_t) + sizeof(worker_arg));
    p->threads = phi_alloc_zero(mem, bytes);
    if (!p->threads) {
        phi_free(mem, p);
        return phi_err_set(err, PHI_E_NOMEM, "out of memory creating the thread pool");
    }
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    worker_arg *args = (worker_arg *)(p->threads + n_threads);
    for (int i = 1; i < n_threads; i++) {
        args[i].pool = p;
        args[i].ith = i;
        int rc = pthread_create(&p->threads[i], NULL, worker_main, &args[i]);
        if (rc != 0) {
            phi_pool_free(p);
            return phi_err_set(err, PHI_E_NOMEM, "cannot start worker thread %d: %s", i,
                               strerror(rc));
        }
        p->n_started = i;
    }
    *out = p;
    return PHI_OK;
}

void phi_pool_free(phi_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mutex);
    atomic_store_explicit(&p->stop, true, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    for (int i = 1; i <= p->n_started; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->wake);
    phi_mem mem = p->mem;
    phi_free(&mem, p->threads);
    phi_free(&mem, p);
}

int phi_pool_size(const phi_pool *p)
{
    return p->n_threads;
}

void phi_pool_run(phi_pool *p, phi_pool_fn fn, void *arg)
{
    if (p->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->pending, p->n_threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mutex);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    fn(arg, 0, p->n_threads);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0)
        sched_yield();
}
