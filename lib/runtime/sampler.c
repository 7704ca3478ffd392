#define _POSIX_C_SOURCE 200809L
#include "runtime/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phi4.h"

typedef struct {
    float logit;
    int32_t id;
} candidate;

struct phi_sampler {
    phi_mem mem;
    int32_t n_vocab;
    uint64_t rng[4];      /* xoshiro256** */
    candidate *cands;     /* [n_vocab] */
    int32_t *counts;      /* [n_vocab] occurrences in the penalty window */
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next_u64(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double next_unit(uint64_t s[4])
{
    return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0);
}

void phi_sampler_seed(phi_sampler *s, int64_t seed)
{
    uint64_t x;
    if (seed < 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        x = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)s;
    } else {
        x = (uint64_t)seed;
    }
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x);
}

void phi_sampler_copy_rng(phi_sampler *dst, const phi_sampler *src)
{
    memcpy(dst->rng, src->rng, sizeof dst->rng);
}

int phi_sampler_new(const phi_mem *mem, int32_t n_vocab, phi_sampler **out, phi_err *err)
{
    phi_sampler *s = phi_alloc_zero(mem, sizeof *s);
    if (s) {
        s->cands = phi_alloc_array(mem, (size_t)n_vocab, sizeof *s->cands);
        s->counts = phi_alloc_array(mem, (size_t)n_vocab, sizeof *s->counts);
    }
    if (!s || !s->cands || !s->counts) {
        if (s) {
            phi_free(mem, s->cands);
            phi_free(mem, s->counts);
        }
        phi_free(mem, s);
        return phi_err_set(err, PHI_E_NOMEM, "out of memory for the sampler");
    }
    s->mem = *mem;
    s->n_vocab = n_vocab;
    memset(s->counts, 0, (size_t)n_vocab * sizeof *s->counts);
    phi_sampler_seed(s, -1);
    *out = s;
    return PHI_OK;
}

void phi_sampler_free(phi_sampler *s)
{
    if (!s)
        return;
    phi_mem mem = s->mem;
    phi_free(&mem, s->cands);
    phi_free(&mem, s->counts);
    phi_free(&mem, s);
}

/* Descending by logit; ties by id, so the order never depends on qsort. */
static int by_logit_desc(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Move the k best candidates to the front (in order) and return k. */
static int32_t keep_top(candidate *c, int32_t n, int32_t k)
{
    if (k >= n) {
        qsort(c, (size_t)n, sizeof *c, by_logit_desc);
        return n;
    }
    /* Quickselect the k-th best, then sort the k in front. */
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        candidate pivot = c[lo + (hi - lo) / 2];
        int32_t i = lo, j = hi;
        while (i <= j) {
            while (by_logit_desc(&c[i], &pivot) < 0)
                i++;
            while (by_logit_desc(&c[j], &pivot) > 0)
                j--;
            if (i <= j) {
                candidate t = c[i];
                c[i++] = c[j];
                c[j--] = t;
            }
        }
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            break;
    }
    qsort(c, (size_t)k, sizeof *c, by_logit_desc);
    return k;
}

static void apply_penalties(phi_sampler *s, const phi_sampling *p, const int32_t *recent,
                            int32_t n_recent)
{
    if (p->repeat_penalty == 1.0 && p->presence_penalty == 0.0 && p->frequency_penalty == 0.0)
        return;
    for (int32_t i = 0; i < n_recent; i++)
        if (recent[i] >= 0 && recent[i] < s->n_vocab)
            s->counts[recent[i]]++;
    for (int32_t i = 0; i < n_recent; i++) {
        int32_t id = recent[i];
        if (id < 0 || id >= s->n_vocab || s->counts[id] == 0)
            continue;
        candidate *c = &s->cands[id];
        if (p->repeat_penalty != 1.0)
            c->logit = c->logit > 0 ? c->logit / (float)p->repeat_penalty
                                    : c->logit * (float)p->repeat_penalty;
        c->logit -= (float)(s->counts[id] * p->frequency_penalty + p->presence_penalty);
        s->counts[id] = 0; /* penalise each distinct token once */
    }
}

int32_t phi_sampler_sample(phi_sampler *s, const phi_sampling *p, const float *logits,
                           const int32_t *recent, int32_t n_recent)
{
    int32_t n = s->n_vocab;
    candidate *c = s->cands;
    for (int32_t i = 0; i < n; i++) {
        c[i].logit = isnan(logits[i]) ? -INFINITY : logits[i];
        c[i].id = i;
    }
    apply_penalties(s, p, recent, n_recent);

    if (p->temperature <= 0.0) {
        int32_t best = 0;
        for (int32_t i = 1; i < n; i++)
            if (c[i].logit > c[best].logit)
                best = i;
        return best;
    }

    int32_t k = p->top_k > 0 && p->top_k < n ? (int32_t)p->top_k : n;
    n = keep_top(c, n, k);

    /* Probabilities at this temperature, relative to the best candidate. */
    double inv_t = 1.0 / p->temperature, total = 0.0;
    float max = c[0].logit;
    if (max == -INFINITY)
        return c[0].id;
    for (int32_t i = 0; i < n; i++) {
        c[i].logit = (float)exp(((double)c[i].logit - max) * inv_t);
        total += c[i].logit;
    }
    if (p->top_p < 1.0) {
        double cum = 0.0;
        for (int32_t i = 0; i < n; i++) {
            cum += c[i].logit / total;
            if (cum >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (p->min_p > 0.0) {
        float floor = (float)p->min_p * c[0].logit;
        int32_t kept = 1;
        while (kept < n && c[kept].logit >= floor)
            kept++;
        n = kept;
    }
    total = 0.0;
    for (int32_t i = 0; i < n; i++)
        total += c[i].logit;
    double r = next_unit(s->rng) * total;
    for (int32_t i = 0; i < n; i++) {
        r -= c[i].logit;
        if (r < 0.0)
            return c[i].id;
    }
    return c[n - 1].id;
}
