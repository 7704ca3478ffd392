/* phi4-bench: how fast libphi4 runs a model of the real Phi-4 shapes on this
 * machine, next to what the machine can do. It can write the model itself
 * (random weights, real shapes, nothing to download) and runs it through
 * the public API only.
 *
 *   phi4-bench --make phi4-mini --type q4_0 [--out FILE] [-t 2] [-p 512] [-n 128] [-r 3]
 *   phi4-bench -m model.gguf [--json]
 *
 * See usage() for what each figure means and how it is counted. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/fake_model.h"
#include "bench/gguf_file.h"
#include "bench/machine.h"
#include "phi4.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: phi4-bench (-m MODEL.gguf | --make SHAPE [make options]) [options]\n"
"\n"
"Make a model (random weights, the real shapes and GGUF layout, no download):\n"
"  --make SHAPE    phi4-mini: 32 layers, n_embd 3072, n_ff 8192, 24/8 heads, vocab 200064,\n"
"                  partial rotary 96/128, LongRoPE factors, tied embeddings (3.8 B params);\n"
"                  phi4: 40 layers, n_embd 5120, n_ff 17920, 40/10 heads, vocab 100352,\n"
"                  full rotary, untied output (14.7 B params)\n"
"  --type T        q4_0 (default), q8_0, f16, q4_k_m or q5_k_m;\n"
"                  %s\n"
"  --out FILE      write it there and keep it (default: a temporary file, removed at exit)\n"
"  --layers N      only N layers (default: the real count)\n"
"  --vocab N       only N vocabulary rows (default: the real size)\n"
"  --seed N        seed of the random weights (default 1)\n"
"  --make-only     write the file and stop\n"
"\n"
"Measure:\n"
"  -m FILE         an existing GGUF model instead of --make\n"
"  -t N            threads, for the model and the machine figures (default: all CPUs)\n"
"  -p N            prompt tokens (default 512)\n"
"  -n N            generated tokens (default 128)\n"
"  -r N            repetitions (default 3), after one untimed warm-up\n"
"  -b N            tokens per forward chunk, PHI_OPT_N_BATCH (default: the library's)\n"
"  -c N            context length (default: p + n)\n"
"  --kernel NAME   auto, scalar, avx2, avx512, neon, neon-dotprod (default auto)\n"
"  --kv-type T     f16 or f32: what the K/V cache stores (default: the library's, f16)\n"
"  --no-mmap       read the weights into memory instead of mapping them (mapped file\n"
"                  pages and private memory may stream at different speeds: try both)\n"
"  --no-machine    skip the peak FLOP/s and STREAM measurements\n"
"  --stream-mib N  size of each of the three STREAM arrays (default 256)\n"
"  --json          one JSON object on stdout instead of the table\n"
"\n"
"What is measured (wall clock, CLOCK_MONOTONIC; mean ± sample sd over the repetitions):\n"
"  load      phi_load, with a progress callback installed so the mapped weights are\n"
"            faulted in during the load and not during the first prompt\n"
"  pp        prompt tokens / seconds of phi_eval over the whole prompt (empty context)\n"
"  GFLOP/s   of pp: 2 x (parameters of every layer matrix) x prompt tokens, + 2 x the\n"
"            output matrix once (logits of the last token only), + attention\n"
"            (4 x head_dim x visible positions per head, layer and token); norms,\n"
"            RoPE and SwiGLU are left out\n"
"  peak      FLOP/s of independent FMA chains on every thread (f32, widest vectors\n"
"            the CPU has), and on x86 the same for the int8 dot products that\n"
"            quantized weights run on (VNNI vpdpbusd, or AVX2 maddubs + madd: 2\n"
"            operations per byte product); pp is set against both\n"
"  TTFT      prompt evaluation + sampling the first token (load excluded)\n"
"  tg        generated tokens / seconds: after the prompt, n times phi_eval(1 token) +\n"
"            phi_sample, greedy, never stopping on an end token\n"
"  GB/s      weight bytes a decode step streams x tg tokens/s, where the bytes are\n"
"            every layer's matrices (attn_qkv, attn_output, ffn_up, ffn_down) + the\n"
"            output matrix (token_embd when tied), read from the file's tensor table;\n"
"            norms (converted to f32 at load) and the one embedding row are left out.\n"
"            Also shown with the K/V cache reads added (the cache's type, mean position).\n"
"  STREAM    copy, triad and a read-only sum over 3 arrays, same thread count, best\n"
"            of 5 passes after the model run; the reference is the highest of the three.\n"
"            Also one pass of each before the first repetition and after every one:\n"
"            each repetition's GB/s against the mean of the passes around it, averaged\n"
"            (the bandwidth the machine gave at about that time)\n"
"  memory    peak RSS (getrusage ru_maxrss, before the machine figures run) and the\n"
"            K/V cache size (K and V of the cache's type for n_ctx positions)\n",
            fake_model_k_m_rule);
}

/* ---- options ------------------------------------------------------------ */

typedef struct {
    const char *model;
    fake_model_spec make;
    bool making, make_only, json, machine, use_mmap;
    const char *out;
    long threads, prompt, gen, reps, batch, ctx, stream_mib;
    int kernel;
    int kv_type;        /* PHI_KV_*, or -1: the library's default */
} options;

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    if (!s)
        return false;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int kernel_of(const char *name)
{
    if (!name)
        return -1;
    static const char *const names[] = {"auto", "scalar", "avx2", "avx512", "neon", "neon-dotprod"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(name, names[i]))
            return i; /* PHI_KERNEL_* follow this order */
    return -1;
}

static int kv_type_of(const char *name)
{
    if (!name)
        return -1;
    return !strcmp(name, "f16") ? PHI_KV_F16 : !strcmp(name, "f32") ? PHI_KV_F32 : -1;
}

static int parse_options(int argc, char **argv, options *o)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (options){.make = {.type = "q4_0", .seed = 1}, .machine = true, .use_mmap = true,
                   .threads = online > 0 ? online : 1, .prompt = 512, .gen = 128, .reps = 3,
                   .stream_mib = 256, .kv_type = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        const struct {
            const char *name;
            bool *field, value;
        } flags[] = {{"--make-only", &o->make_only, true}, {"--json", &o->json, true},
                     {"--no-machine", &o->machine, false}, {"--no-mmap", &o->use_mmap, false}};
        bool is_flag = false;
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++)
            if (!strcmp(a, flags[f].name)) {
                *flags[f].field = flags[f].value;
                is_flag = true;
            }
        if (is_flag)
            continue;
        i += v != NULL;
        bool ok = v != NULL;
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "--make")) o->make.shape = v, o->making = true;
        else if (!strcmp(a, "--type")) o->make.type = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--layers")) ok = parse_long(v, 1, 1000, &n), o->make.n_layer = (int)n;
        else if (!strcmp(a, "--vocab")) ok = parse_long(v, 1, INT32_MAX, &n), o->make.n_vocab = n;
        else if (!strcmp(a, "--seed")) ok = parse_long(v, 0, INT32_MAX, &n), o->make.seed = (uint64_t)n;
        else if (!strcmp(a, "-t")) ok = parse_long(v, 1, 1024, &o->threads);
        else if (!strcmp(a, "-p")) ok = parse_long(v, 1, 1 << 20, &o->prompt);
        else if (!strcmp(a, "-n")) ok = parse_long(v, 1, 1 << 20, &o->gen);
        else if (!strcmp(a, "-r")) ok = parse_long(v, 1, 1000, &o->reps);
        else if (!strcmp(a, "-b")) ok = parse_long(v, 1, 65536, &o->batch);
        else if (!strcmp(a, "-c")) ok = parse_long(v, 1, INT32_MAX, &o->ctx);
        else if (!strcmp(a, "--stream-mib")) ok = parse_long(v, 1, 1 << 16, &o->stream_mib);
        else if (!strcmp(a, "--kernel")) ok = (o->kernel = kernel_of(v)) >= 0;
        else if (!strcmp(a, "--kv-type")) ok = (o->kv_type = kv_type_of(v)) >= 0;
        else {
            fprintf(stderr, "phi4-bench: unknown option %s (see --help)\n", a);
            return -1;
        }
        if (!v) {
            fprintf(stderr, "phi4-bench: %s needs a value (see --help)\n", a);
            return -1;
        }
        if (!ok) {
            fprintf(stderr, "phi4-bench: bad value '%s' for %s\n", v, a);
            return -1;
        }
    }
    if (!o->model == !o->making) {
        fprintf(stderr, "phi4-bench: give either -m FILE or --make SHAPE (see --help)\n");
        return -1;
    }
    if (!o->making && (o->out || o->make_only || o->make.n_layer || o->make.n_vocab)) {
        fprintf(stderr, "phi4-bench: --out, --make-only, --layers and --vocab go with --make\n");
        return -1;
    }
    if (o->make_only && !o->out) {
        fprintf(stderr, "phi4-bench: --make-only needs --out FILE\n");
        return -1;
    }
    return 0;
}

/* ---- the temporary model file ------------------------------------------- */

static char temp_path[4096];

static void remove_temp(void)
{
    if (temp_path[0])
        unlink(temp_path);
}

static void remove_temp_and_die(int sig)
{
    remove_temp();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int make_temp_path(void)
{
    const char *dir = getenv("TMPDIR");
    snprintf(temp_path, sizeof temp_path, "%s/phi4-bench-XXXXXX.gguf", dir && *dir ? dir : "/tmp");
    int fd = mkstemps(temp_path, 5);
    if (fd < 0) {
        fprintf(stderr, "phi4-bench: cannot create a temporary file in %s: %s\n",
                dir && *dir ? dir : "/tmp", strerror(errno));
        temp_path[0] = 0;
        return -1;
    }
    close(fd);
    atexit(remove_temp);
    signal(SIGINT, remove_temp_and_die);
    signal(SIGTERM, remove_temp_and_die);
    return 0;
}

/* ---- what a forward pass touches ---------------------------------------- */

typedef struct {
    uint64_t layer_bytes, layer_params;     /* blk.N matrices */
    uint64_t output_bytes, output_params;   /* output.weight, or token_embd when tied */
    bool tied;
    char types[160];                        /* "Q4_0 x193, F32 x65" */
} traffic;

static void describe_types(char *buf, size_t cap, const gguf_tensor_info *t, size_t n)
{
    uint32_t seen[64];
    size_t n_seen = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (size_t s = 0; s < n_seen; s++)
            known |= seen[s] == t[i].type;
        if (known || n_seen == 64)
            continue;
        seen[n_seen++] = t[i].type;
        size_t count = 0;
        for (size_t j = 0; j < n; j++)
            count += t[j].type == t[i].type;
        size_t len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%s x%zu", len ? ", " : "", gguf_type_name(t[i].type),
                 count);
    }
}

static int count_traffic(const char *path, traffic *tr)
{
    gguf_tensor_info *t;
    size_t n;
    char msg[512];
    if (gguf_read_tensors(path, &t, &n, msg, sizeof msg) != 0) {
        fprintf(stderr, "phi4-bench: %s\n", msg);
        return -1;
    }
    memset(tr, 0, sizeof *tr);
    const gguf_tensor_info *embd = NULL, *output = NULL;
    for (size_t i = 0; i < n; i++) {
        bool matrix = t[i].n_dims >= 2 && t[i].ne[1] > 1;
        if (!strcmp(t[i].name, "token_embd.weight"))
            embd = &t[i];
        else if (!strcmp(t[i].name, "output.weight"))
            output = &t[i];
        else if (matrix && !strncmp(t[i].name, "blk.", 4)) {
            tr->layer_bytes += t[i].nbytes;
            tr->layer_params += t[i].n_elements;
        }
    }
    tr->tied = !output;
    if (!output)
        output = embd;
    if (output) {
        tr->output_bytes = output->nbytes;
        tr->output_params = output->n_elements;
    }
    describe_types(tr->types, sizeof tr->types, t, n);
    free(t);
    return 0;
}

/* ---- measuring ---------------------------------------------------------- */

/* CPU seconds of the whole process (every thread), user + system. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

typedef struct {
    double mean, sd, min, max;
} stats;

/* Sample i: seconds[i], or per_second / seconds[i] for a rate. */
static double sample(const double *seconds, long i, double per_second)
{
    return per_second > 0 ? per_second / seconds[i] : seconds[i];
}

static stats stats_of(const double *seconds, long n, double per_second)
{
    double first = sample(seconds, 0, per_second);
    stats s = {0, 0, first, first};
    for (long i = 0; i < n; i++) {
        double x = sample(seconds, i, per_second);
        s.mean += x / (double)n;
        s.min = x < s.min ? x : s.min;
        s.max = x > s.max ? x : s.max;
    }
    for (long i = 0; n > 1 && i < n; i++) {
        double x = sample(seconds, i, per_second);
        s.sd += (x - s.mean) * (x - s.mean) / (double)(n - 1);
    }
    s.sd = sqrt(s.sd);
    return s;
}

typedef struct {
    int64_t n_layer, n_embd, n_head, n_head_kv, head_dim, n_vocab, n_ctx, n_params, batch;
    int64_t kv_type;                /* PHI_KV_*, as the library reports it after the load */
    char kernel[32];
    double load_s;
    double *pp_s, *ttft_s, *tg_s;   /* per repetition */
    /* With the machine figures: the best GB/s of one STREAM pass before the
     * first repetition and after each (reps + 1 values), so that each
     * repetition's generation can be set against the bandwidth the machine
     * gave at about that time (on a shared VM it moves by 2x within minutes). */
    double *stream_around;
    double pp_cpu_s, tg_cpu_s;      /* CPU seconds, summed over the repetitions */
    bool logits_finite;
    double peak_rss;                /* bytes */
} run;

static void log_to_stderr(void *user, int32_t level, const char *message)
{
    (void)user;
    (void)level;
    fprintf(stderr, "phi4-bench: libphi4: %s\n", message);
}

static int fault_in_weights(void *user, double fraction)
{
    (void)user;
    (void)fraction;
    return 0;
}

static int fail(phi_ctx *ctx, int32_t rc, const char *what)
{
    if (rc >= 0)
        return 0;
    fprintf(stderr, "phi4-bench: %s: %s (%s)\n", what, phi_errmsg(ctx), phi_strerror(rc));
    return 1;
}

static bool logits_finite(phi_ctx *ctx, int64_t n_vocab)
{
    const float *l = phi_logits(ctx);
    if (!l)
        return false;
    for (int64_t i = 0; i < n_vocab; i++)
        if (!isfinite(l[i]))
            return false;
    return true;
}

typedef struct {
    double pp_s, ttft_s, tg_s, pp_cpu_s, tg_cpu_s;
} pass;

/* One pass: prompt, first token, n generated tokens. Returns 0 or 1. The
 * logits are checked outside the timed parts. */
static int run_once(phi_ctx *ctx, const phi_token *prompt, long n_prompt, long n_gen,
                    pass *out, bool *finite, int64_t n_vocab)
{
    phi_token tok;
    if (fail(ctx, phi_kv_clear(ctx), "clear"))
        return 1;
    double c0 = cpu_seconds(), t0 = machine_wall_seconds();
    if (fail(ctx, phi_eval(ctx, prompt, (size_t)n_prompt), "prompt"))
        return 1;
    double t1 = machine_wall_seconds(), c1 = cpu_seconds();
    if (fail(ctx, phi_sample(ctx, &tok), "sample"))
        return 1;
    double t2 = machine_wall_seconds();
    *finite &= logits_finite(ctx, n_vocab);
    double c2 = cpu_seconds(), t3 = machine_wall_seconds();
    for (long i = 0; i < n_gen; i++)
        if (fail(ctx, phi_eval(ctx, &tok, 1), "generate") ||
            fail(ctx, phi_sample(ctx, &tok), "sample"))
            return 1;
    double t4 = machine_wall_seconds(), c4 = cpu_seconds();
    *finite &= logits_finite(ctx, n_vocab);
    *out = (pass){t1 - t0, t2 - t0, t4 - t3, c1 - c0, c4 - c2};
    return 0;
}

static int info(phi_ctx *ctx, int32_t key, int64_t *out)
{
    return fail(ctx, phi_info_int(ctx, key, out), "info");
}

/* One STREAM pass (copy, triad, read once each) into *gbs; 0 or 1. */
static int stream_pass(const options *o, double *gbs)
{
    machine_stream s;
    char msg[256];
    if (machine_stream_bandwidth((int)o->threads, (size_t)o->stream_mib, 1, &s, msg, sizeof msg)) {
        fprintf(stderr, "phi4-bench: STREAM: %s\n", msg);
        return 1;
    }
    *gbs = s.best_gbs;
    return 0;
}

static int measure(const options *o, const char *path, run *r)
{
    phi_ctx *ctx;
    if (phi_ctx_new(&ctx) != PHI_OK) {
        fprintf(stderr, "phi4-bench: out of memory\n");
        return 1;
    }
    long n_ctx = o->ctx ? o->ctx : o->prompt + o->gen;
    phi_set_log_callback(ctx, log_to_stderr, NULL);
    phi_set_progress_callback(ctx, fault_in_weights, NULL);
    int bad = fail(ctx, phi_set_int(ctx, PHI_OPT_N_THREADS, o->threads), "-t") ||
              fail(ctx, phi_set_int(ctx, PHI_OPT_N_CTX, n_ctx), "-c") ||
              (o->batch && fail(ctx, phi_set_int(ctx, PHI_OPT_N_BATCH, o->batch), "-b")) ||
              fail(ctx, phi_set_int(ctx, PHI_OPT_KERNEL, o->kernel), "--kernel") ||
              (o->kv_type >= 0 && fail(ctx, phi_set_int(ctx, PHI_OPT_KV_TYPE, o->kv_type),
                                       "--kv-type")) ||
              fail(ctx, phi_set_int(ctx, PHI_OPT_USE_MMAP, o->use_mmap), "--no-mmap") ||
              fail(ctx, phi_set_float(ctx, PHI_OPT_TEMPERATURE, 0.0), "temperature");
    double t0 = machine_wall_seconds();
    bad = bad || fail(ctx, phi_load(ctx, path), "load");
    r->load_s = machine_wall_seconds() - t0;
    bad = bad || info(ctx, PHI_INFO_N_LAYER, &r->n_layer) || info(ctx, PHI_INFO_N_EMBD, &r->n_embd) ||
          info(ctx, PHI_INFO_N_HEAD, &r->n_head) || info(ctx, PHI_INFO_N_HEAD_KV, &r->n_head_kv) ||
          info(ctx, PHI_INFO_HEAD_DIM, &r->head_dim) || info(ctx, PHI_INFO_N_VOCAB, &r->n_vocab) ||
          info(ctx, PHI_INFO_N_CTX, &r->n_ctx) || info(ctx, PHI_INFO_N_PARAMS, &r->n_params) ||
          fail(ctx, phi_get_int(ctx, PHI_OPT_N_BATCH, &r->batch), "batch") ||
          fail(ctx, phi_get_int(ctx, PHI_OPT_KV_TYPE, &r->kv_type), "K/V type");
    size_t len;
    bad = bad || fail(ctx, phi_info_str(ctx, PHI_INFO_KERNEL_NAME, r->kernel, sizeof r->kernel,
                                        &len), "kernel name");

    /* A prompt of byte tokens (ids below 256 are bytes in both vocabularies),
     * none of which ends generation. */
    phi_token *prompt = bad ? NULL : malloc((size_t)o->prompt * sizeof *prompt);
    if (!bad && !prompt) {
        fprintf(stderr, "phi4-bench: out of memory\n");
        bad = 1;
    }
    int64_t ids = r->n_vocab < 256 ? r->n_vocab : 256;
    for (long i = 0, id = 11; !bad && i < o->prompt; i++) {
        do
            id = (id * 37 + 11) % ids;
        while (phi_token_is_eog(ctx, (phi_token)id) && ids > 1);
        prompt[i] = (phi_token)id;
    }

    r->logits_finite = true;
    pass p;
    long warm_prompt = o->prompt < 32 ? o->prompt : 32, warm_gen = o->gen < 4 ? o->gen : 4;
    bad = bad || run_once(ctx, prompt, warm_prompt, warm_gen, &p, &r->logits_finite, r->n_vocab);
    bad = bad || (o->machine && stream_pass(o, &r->stream_around[0]));
    for (long i = 0; !bad && i < o->reps; i++) {
        bad = run_once(ctx, prompt, o->prompt, o->gen, &p, &r->logits_finite, r->n_vocab) ||
              (o->machine && stream_pass(o, &r->stream_around[i + 1]));
        r->pp_s[i] = p.pp_s;
        r->ttft_s[i] = p.ttft_s;
        r->tg_s[i] = p.tg_s;
        r->pp_cpu_s += p.pp_cpu_s;
        r->tg_cpu_s += p.tg_cpu_s;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->peak_rss = (double)ru.ru_maxrss * 1024.0;
    free(prompt);
    phi_ctx_free(ctx);
    return bad;
}

/* ---- reporting ---------------------------------------------------------- */

typedef struct {
    const options *o;
    const char *path;
    uint64_t file_bytes;
    double make_s;              /* < 0: not made */
    traffic tr;
    run r;
    double load_before[3], load_after[3];
    bool have_machine;
    machine_peak peak;
    machine_stream stream;
} report;

typedef struct {
    double pp_flops;            /* one prompt */
    double weight_bytes;        /* one decode step */
    double kv_bytes;            /* K/V read by one decode step, at the mean position */
    double kv_cache_bytes;
    stats pp_tps, ttft_s, tg_tps;
    double pp_gflops, tg_gbs, tg_gbs_kv;
    double pp_cpu_share, tg_cpu_share; /* CPU time / (wall time x threads) */
    /* The mean over repetitions of the repetition's GB/s as a percentage of
     * the mean of the STREAM passes before and after it; and that mean. */
    double tg_around_pct, stream_around_gbs;
} figures;

static double kv_element_bytes(const run *r)
{
    return r->kv_type == PHI_KV_F16 ? 2.0 : 4.0;
}

static const char *kv_type_name(const run *r)
{
    return r->kv_type == PHI_KV_F16 ? "f16" : "f32";
}

static figures compute(const report *rp)
{
    const run *r = &rp->r;
    long p = rp->o->prompt, n = rp->o->gen, reps = rp->o->reps;
    figures f;
    double kv_dim = (double)(r->n_head_kv * r->head_dim);
    double kv_elem = kv_element_bytes(r);
    double attention = 4.0 * (double)r->head_dim * (double)r->n_head * (double)r->n_layer *
                       ((double)p * (double)(p + 1) / 2.0);
    f.pp_flops = 2.0 * (double)rp->tr.layer_params * (double)p + 2.0 * (double)rp->tr.output_params +
                 attention;
    f.weight_bytes = (double)(rp->tr.layer_bytes + rp->tr.output_bytes);
    /* generated token i (0-based) sees p + i + 1 positions */
    f.kv_bytes = 2.0 * (double)r->n_layer * kv_dim * kv_elem * ((double)p + (double)(n + 1) / 2.0);
    f.kv_cache_bytes = 2.0 * (double)r->n_layer * (double)r->n_ctx * kv_dim * kv_elem;
    f.pp_tps = stats_of(r->pp_s, reps, (double)p);
    f.tg_tps = stats_of(r->tg_s, reps, (double)n);
    f.ttft_s = stats_of(r->ttft_s, reps, 0);
    f.pp_gflops = f.pp_flops * f.pp_tps.mean / (double)p / 1e9;
    f.tg_gbs = f.weight_bytes * f.tg_tps.mean / 1e9;
    f.tg_gbs_kv = (f.weight_bytes + f.kv_bytes) * f.tg_tps.mean / 1e9;
    double pp_wall = 0, tg_wall = 0;
    for (long i = 0; i < reps; i++) {
        pp_wall += r->pp_s[i];
        tg_wall += r->tg_s[i];
    }
    f.pp_cpu_share = r->pp_cpu_s / (pp_wall * (double)rp->o->threads);
    f.tg_cpu_share = r->tg_cpu_s / (tg_wall * (double)rp->o->threads);
    f.tg_around_pct = f.stream_around_gbs = 0;
    if (rp->have_machine) {
        for (long i = 0; i < reps; i++) {
            double around = (r->stream_around[i] + r->stream_around[i + 1]) / 2.0;
            f.tg_around_pct += 100.0 * f.weight_bytes * (double)n / r->tg_s[i] / 1e9 / around;
            f.stream_around_gbs += around;
        }
        f.tg_around_pct /= (double)reps;
        f.stream_around_gbs /= (double)reps;
    }
    return f;
}

static void print_table(const report *rp, const figures *f)
{
    const options *o = rp->o;
    const run *r = &rp->r;
    printf("phi4-bench  %s\n", rp->path);
    if (rp->make_s >= 0)
        printf("  model      made: %s shapes, %s, %d layers%s (%.2f GB in %.1f s)\n",
               o->make.shape, o->make.type, (int)r->n_layer, o->make.n_vocab ? ", reduced vocab" : "",
               (double)rp->file_bytes / 1e9, rp->make_s);
    printf("  shape      %lld layers, n_embd %lld, %lld/%lld heads of %lld, vocab %lld, %.2f B params, "
           "%s embeddings\n",
           (long long)r->n_layer, (long long)r->n_embd, (long long)r->n_head,
           (long long)r->n_head_kv, (long long)r->head_dim, (long long)r->n_vocab,
           (double)r->n_params / 1e9, rp->tr.tied ? "tied" : "untied");
    printf("  tensors    %s\n", rp->tr.types);
    printf("  run        kernel %s, %ld threads, n_ctx %lld, batch %lld, %ld repetitions after a "
           "warm-up\n",
           r->kernel, o->threads, (long long)r->n_ctx, (long long)r->batch, o->reps);
    printf("  load avg   %.2f %.2f %.2f before, %.2f %.2f %.2f after (%ld CPUs)\n\n",
           rp->load_before[0], rp->load_before[1], rp->load_before[2], rp->load_after[0],
           rp->load_after[1], rp->load_after[2], sysconf(_SC_NPROCESSORS_ONLN));

    printf("  load          %10.3f s\n", r->load_s);
    printf("  pp%-6ld      %10.2f ± %.2f tok/s  %.1f GFLOP/s", o->prompt, f->pp_tps.mean,
           f->pp_tps.sd, f->pp_gflops);
    if (rp->have_machine) {
        printf(" = %.1f%% of peak %.1f GFLOP/s (%s FMA f32, %ld threads)",
               100.0 * f->pp_gflops / rp->peak.gflops, rp->peak.gflops, rp->peak.isa, o->threads);
        if (rp->peak.int8_gops > 0)
            printf("\n                                     = %.1f%% of int8 peak %.1f GOP/s (%s)",
                   100.0 * f->pp_gflops / rp->peak.int8_gops, rp->peak.int8_gops,
                   rp->peak.int8_isa);
    }
    printf("\n  TTFT          %10.3f ± %.3f s      (%ld-token prompt + first sample)\n",
           f->ttft_s.mean, f->ttft_s.sd, o->prompt);
    printf("  tg%-6ld      %10.2f ± %.2f tok/s\n", o->gen, f->tg_tps.mean, f->tg_tps.sd);
    printf("  CPU share     %9.0f%% pp, %.0f%% tg  (CPU time / wall time x threads: below 100%%,\n"
           "                                    other processes had the cores part of the time)\n",
           100.0 * f->pp_cpu_share, 100.0 * f->tg_cpu_share);
    printf("  weights/token %10.3f GB       (layer matrices %.3f + %s %.3f)\n",
           f->weight_bytes / 1e9, (double)rp->tr.layer_bytes / 1e9,
           rp->tr.tied ? "tied token_embd" : "output", (double)rp->tr.output_bytes / 1e9);
    printf("  bandwidth tg  %10.2f GB/s", f->tg_gbs);
    if (rp->have_machine) {
        printf("     = %.1f%% of STREAM %.2f GB/s (copy %.2f, triad %.2f, read %.2f; 3 x %zu MiB)",
               100.0 * f->tg_gbs / rp->stream.best_gbs, rp->stream.best_gbs, rp->stream.copy_gbs,
               rp->stream.triad_gbs, rp->stream.read_gbs, rp->stream.array_bytes >> 20);
        printf("\n                                    = %.1f%% of the STREAM passes around each "
               "repetition (%.2f GB/s on average)",
               f->tg_around_pct, f->stream_around_gbs);
    }
    printf("\n    + K/V reads %10.2f GB/s     (+%.3f GB/token at the mean position)\n",
           f->tg_gbs_kv, f->kv_bytes / 1e9);
    printf("  peak RSS      %10.3f GB\n", r->peak_rss / 1e9);
    printf("  K/V cache     %10.3f GB       (%s K and V, %lld positions)\n",
           f->kv_cache_bytes / 1e9, kv_type_name(r), (long long)r->n_ctx);
    printf("  logits        %10s\n", r->logits_finite ? "finite" : "NOT FINITE");
}

static void json_stats(const char *name, stats s, const double *seconds, long n,
                       double per_second)
{
    printf("  \"%s\": {\"mean\": %.6g, \"sd\": %.6g, \"min\": %.6g, \"max\": %.6g, \"samples\": [",
           name, s.mean, s.sd, s.min, s.max);
    for (long i = 0; i < n; i++)
        printf("%s%.6g", i ? ", " : "", sample(seconds, i, per_second));
    printf("]},\n");
}

static void json_string(const char *key, const char *v)
{
    printf("  \"%s\": \"", key);
    for (const char *c = v; *c; c++)
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if ((unsigned char)*c < 0x20)
            printf("\\u%04x", *c);
        else
            putchar(*c);
    printf("\",\n");
}

static void print_json(const report *rp, const figures *f)
{
    const options *o = rp->o;
    const run *r = &rp->r;
    printf("{\n");
    json_string("model", rp->path);
    if (rp->make_s >= 0) {
        json_string("made_shape", o->make.shape);
        json_string("made_type", o->make.type);
        printf("  \"make_s\": %.3f,\n", rp->make_s);
    }
    printf("  \"file_bytes\": %llu,\n", (unsigned long long)rp->file_bytes);
    json_string("tensor_types", rp->tr.types);
    json_string("kernel", r->kernel);
    json_string("kv_type", kv_type_name(r));
    printf("  \"n_layer\": %lld, \"n_embd\": %lld, \"n_head\": %lld, \"n_head_kv\": %lld, "
           "\"head_dim\": %lld, \"n_vocab\": %lld, \"n_params\": %lld, \"tied\": %s,\n",
           (long long)r->n_layer, (long long)r->n_embd, (long long)r->n_head,
           (long long)r->n_head_kv, (long long)r->head_dim, (long long)r->n_vocab,
           (long long)r->n_params, rp->tr.tied ? "true" : "false");
    printf("  \"threads\": %ld, \"n_ctx\": %lld, \"batch\": %lld, \"prompt_tokens\": %ld, "
           "\"gen_tokens\": %ld, \"reps\": %ld,\n",
           o->threads, (long long)r->n_ctx, (long long)r->batch, o->prompt, o->gen, o->reps);
    printf("  \"loadavg_before\": [%.2f, %.2f, %.2f], \"loadavg_after\": [%.2f, %.2f, %.2f],\n",
           rp->load_before[0], rp->load_before[1], rp->load_before[2], rp->load_after[0],
           rp->load_after[1], rp->load_after[2]);
    printf("  \"load_s\": %.6g,\n", r->load_s);
    json_stats("pp_tok_s", f->pp_tps, r->pp_s, o->reps, (double)o->prompt);
    json_stats("ttft_s", f->ttft_s, r->ttft_s, o->reps, 0);
    json_stats("tg_tok_s", f->tg_tps, r->tg_s, o->reps, (double)o->gen);
    printf("  \"pp_flops\": %.6g, \"pp_gflop_s\": %.6g,\n", f->pp_flops, f->pp_gflops);
    printf("  \"weight_bytes_per_token\": %.0f, \"kv_bytes_per_token\": %.0f,\n", f->weight_bytes,
           f->kv_bytes);
    printf("  \"tg_gb_s\": %.6g, \"tg_gb_s_with_kv\": %.6g,\n", f->tg_gbs, f->tg_gbs_kv);
    printf("  \"pp_cpu_share\": %.4g, \"tg_cpu_share\": %.4g,\n", f->pp_cpu_share,
           f->tg_cpu_share);
    if (rp->have_machine) {
        printf("  \"peak_gflop_s\": %.6g, \"peak_isa\": \"%s\", \"pp_peak_pct\": %.4g,\n",
               rp->peak.gflops, rp->peak.isa, 100.0 * f->pp_gflops / rp->peak.gflops);
        printf("  \"int8_peak_gop_s\": %.6g, \"int8_isa\": \"%s\",", rp->peak.int8_gops,
               rp->peak.int8_isa);
        if (rp->peak.int8_gops > 0)
            printf(" \"pp_int8_peak_pct\": %.4g,", 100.0 * f->pp_gflops / rp->peak.int8_gops);
        printf("\n");
        printf("  \"stream_gb_s\": {\"copy\": %.6g, \"triad\": %.6g, \"read\": %.6g, \"best\": %.6g, "
               "\"array_mib\": %zu},\n",
               rp->stream.copy_gbs, rp->stream.triad_gbs, rp->stream.read_gbs, rp->stream.best_gbs,
               rp->stream.array_bytes >> 20);
        printf("  \"tg_stream_pct\": %.4g,\n", 100.0 * f->tg_gbs / rp->stream.best_gbs);
        printf("  \"stream_around_gb_s\": [");
        for (long i = 0; i <= o->reps; i++)
            printf("%s%.6g", i ? ", " : "", r->stream_around[i]);
        printf("], \"tg_stream_around_pct\": %.4g,\n", f->tg_around_pct);
    }
    printf("  \"peak_rss_bytes\": %.0f, \"kv_cache_bytes\": %.0f,\n", r->peak_rss,
           f->kv_cache_bytes);
    printf("  \"logits_finite\": %s\n}\n", r->logits_finite ? "true" : "false");
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    report rp = {.o = &o, .path = o.model, .make_s = -1};

    if (o.making) {
        if (!o.out && make_temp_path() != 0)
            return 1;
        rp.path = o.out ? o.out : temp_path;
        char msg[512];
        double t0 = machine_wall_seconds();
        if (fake_model_write(&o.make, rp.path, &rp.file_bytes, msg, sizeof msg) != 0) {
            fprintf(stderr, "phi4-bench: %s\n", msg);
            return 1;
        }
        rp.make_s = machine_wall_seconds() - t0;
        if (!o.json)
            fprintf(stderr, "phi4-bench: wrote %s (%.2f GB) in %.1f s\n", rp.path,
                    (double)rp.file_bytes / 1e9, rp.make_s);
        if (o.make_only)
            return 0;
    }
    if (count_traffic(rp.path, &rp.tr) != 0)
        return 1;
    if (!rp.file_bytes) {
        FILE *f = fopen(rp.path, "rb");
        if (f && fseek(f, 0, SEEK_END) == 0)
            rp.file_bytes = (uint64_t)ftell(f);
        if (f)
            fclose(f);
    }

    double *samples = calloc(4 * (size_t)o.reps + 1, sizeof *samples);
    if (!samples) {
        fprintf(stderr, "phi4-bench: out of memory\n");
        return 1;
    }
    rp.r.pp_s = samples;
    rp.r.ttft_s = samples + o.reps;
    rp.r.tg_s = samples + 2 * o.reps;
    rp.r.stream_around = samples + 3 * o.reps;
    getloadavg(rp.load_before, 3);
    int bad = measure(&o, rp.path, &rp.r);
    if (!bad && o.machine) {
        char msg[256];
        if (machine_peak_flops((int)o.threads, &rp.peak, msg, sizeof msg) != 0 ||
            machine_stream_bandwidth((int)o.threads, (size_t)o.stream_mib, 5, &rp.stream, msg,
                                     sizeof msg) != 0) {
            fprintf(stderr, "phi4-bench: machine figures: %s\n", msg);
            bad = 1;
        }
        rp.have_machine = !bad;
    }
    getloadavg(rp.load_after, 3);
    if (!bad) {
        figures f = compute(&rp);
        if (o.json)
            print_json(&rp, &f);
        else
            print_table(&rp, &f);
        if (!rp.r.logits_finite) {
            fprintf(stderr, "phi4-bench: the logits are not all finite\n");
            bad = 1;
        }
    }
    free(samples);
    return bad;
}
