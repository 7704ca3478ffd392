/* The sampler's filters one by one, on hand-made logits: each check would
 * fail if that filter were missing or applied wrongly. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "phi4.h"
#include "runtime/sampler.h"

enum { V = 8, DRAWS = 20000 };

static phi_sampling plain(double temperature)
{
    phi_sampling p = {.temperature = temperature, .top_k = 0, .top_p = 1.0, .min_p = 0.0,
                      .repeat_penalty = 1.0};
    return p;
}

/* How often each token is drawn. */
static void histogram(phi_sampler *s, const phi_sampling *p, const float *logits,
                      const int32_t *recent, int n_recent, int counts[V])
{
    memset(counts, 0, V * sizeof counts[0]);
    int out_of_range = 0;
    for (int i = 0; i < DRAWS; i++) {
        int32_t t = phi_sampler_sample(s, p, logits, recent, n_recent);
        if (t >= 0 && t < V)
            counts[t]++;
        else
            out_of_range++;
    }
    CHECK_EQ(out_of_range, 0);
}

int main(void)
{
    phi_mem mem;
    phi_mem_init_default(&mem);
    phi_sampler *s = NULL;
    phi_err err = {0};
    CHECK_EQ(phi_sampler_new(&mem, V, &s, &err), PHI_OK);
    phi_sampler_seed(s, 7);
    /* Probabilities at T=1: token 3 is best, then 5, 1, ... */
    const float logits[V] = {0.1f, 1.0f, -2.0f, 2.0f, 0.0f, 1.5f, -1.0f, 0.5f};
    int counts[V];

    /* Greedy: always the arg max, at T <= 0. */
    phi_sampling p = plain(0.0);
    for (int i = 0; i < 50; i++)
        CHECK_EQ(phi_sampler_sample(s, &p, logits, NULL, 0), 3);

    /* T = 1 with no filter: frequencies follow softmax (within 5 sigma). */
    p = plain(1.0);
    histogram(s, &p, logits, NULL, 0, counts);
    double z = 0;
    for (int i = 0; i < V; i++)
        z += exp(logits[i]);
    for (int i = 0; i < V; i++) {
        double prob = exp(logits[i]) / z, sd = sqrt(DRAWS * prob * (1 - prob));
        CHECK(fabs(counts[i] - DRAWS * prob) < 5 * sd + 1);
    }
    /* A higher temperature flattens: the best token is drawn less often. */
    int best_at_1 = counts[3];
    p = plain(3.0);
    histogram(s, &p, logits, NULL, 0, counts);
    CHECK(counts[3] < best_at_1 * 0.8);

    /* top-k 2: only tokens 3 and 5. */
    p = plain(1.0);
    p.top_k = 2;
    histogram(s, &p, logits, NULL, 0, counts);
    CHECK_EQ(counts[3] + counts[5], DRAWS);
    CHECK(counts[5] > 0);

    /* top-p: p(3)=0.39, p(5)=0.24, p(1)=0.14 at T=1: 0.5 keeps {3, 5}, 0.3 keeps {3}. */
    p = plain(1.0);
    p.top_p = 0.5;
    histogram(s, &p, logits, NULL, 0, counts);
    CHECK_EQ(counts[3] + counts[5], DRAWS);
    CHECK(counts[5] > 0);
    p.top_p = 0.3;
    histogram(s, &p, logits, NULL, 0, counts);
    CHECK_EQ(counts[3], DRAWS);

    /* min-p 0.5: keeps tokens with p >= 0.5 p(3): exp(1.5-2) = 0.61 passes, exp(-1) fails. */
    p = plain(1.0);
    p.min_p = 0.5;
    histogram(s, &p, logits, NULL, 0, counts);
    CHECK_EQ(counts[3] + counts[5], DRAWS);
    CHECK(counts[5] > 0);

    /* Repetition penalty: 3 in the window is divided down below 5 (2/2 = 1 < 1.5). */
    int32_t recent[] = {3, 3, 6};
    p = plain(0.0);
    p.repeat_penalty = 2.0;
    CHECK_EQ(phi_sampler_sample(s, &p, logits, recent, 3), 5);
    /* ... and a negative logit is multiplied (further down), never raised. */
    const float neg[V] = {-0.5f, -3, -3, -3, -3, -3, -0.6f, -3};
    int32_t r0[] = {0};
    CHECK_EQ(phi_sampler_sample(s, &p, neg, r0, 1), 6);
    /* Outside the window nothing changes. */
    CHECK_EQ(phi_sampler_sample(s, &p, logits, recent + 2, 1), 3);

    /* Presence: a flat amount once; frequency: per occurrence. */
    p = plain(0.0);
    p.presence_penalty = 0.6; /* 2.0 - 0.6 = 1.4 < 1.5 */
    CHECK_EQ(phi_sampler_sample(s, &p, logits, recent, 1), 5);
    p.presence_penalty = 0.0;
    p.frequency_penalty = 0.3; /* once: 1.7 > 1.5; twice: 1.4 < 1.5 */
    CHECK_EQ(phi_sampler_sample(s, &p, logits, recent, 1), 3);
    CHECK_EQ(phi_sampler_sample(s, &p, logits, recent, 2), 5);

    /* Seeds: the same seed repeats the same draws, another one does not. */
    int32_t a[64], b[64], c[64];
    p = plain(1.5);
    phi_sampler_seed(s, 123);
    for (int i = 0; i < 64; i++)
        a[i] = phi_sampler_sample(s, &p, logits, NULL, 0);
    phi_sampler_seed(s, 123);
    for (int i = 0; i < 64; i++)
        b[i] = phi_sampler_sample(s, &p, logits, NULL, 0);
    phi_sampler_seed(s, 124);
    for (int i = 0; i < 64; i++)
        c[i] = phi_sampler_sample(s, &p, logits, NULL, 0);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);

    /* NaN logits are never chosen; all -inf still returns a token. */
    const float with_nan[V] = {NAN, 0, 0, 0, 0, 0, 0, 5};
    p = plain(0.0);
    CHECK_EQ(phi_sampler_sample(s, &p, with_nan, NULL, 0), 7);
    const float all_inf[V] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                              -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    p = plain(1.0);
    int32_t t = phi_sampler_sample(s, &p, all_inf, NULL, 0);
    CHECK(t >= 0 && t < V);

    phi_sampler_free(s);
    return check_report("test_sampler");
}
