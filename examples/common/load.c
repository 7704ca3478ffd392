#include "load.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ollama.h"

#define BAR_WIDTH 30

typedef struct progress {
    const char *program, *model;
    int shown; /* bar cells drawn so far, -1 before the first call */
} progress;

static int show_progress(void *user, double fraction)
{
    progress *p = user;
    int cells = (int)(fraction * BAR_WIDTH + 0.5);
    if (cells == p->shown)
        return 0;
    p->shown = cells;
    fprintf(stderr, "\r%s: loading %s [%-*.*s] %3d%%", p->program, p->model, BAR_WIDTH, cells,
            "##############################", (int)(fraction * 100 + 0.5));
    fflush(stderr);
    return 0;
}

static int32_t set_int(phi_ctx *ctx, int32_t key, int64_t value, const char *flag, phi_err *err)
{
    int32_t rc = phi_set_int(ctx, key, value);
    return rc == PHI_OK ? rc : phi_err_set(err, rc, "%s: %s", flag, phi_errmsg(ctx));
}

static int32_t set_float(phi_ctx *ctx, int32_t key, double value, const char *flag, phi_err *err)
{
    int32_t rc = phi_set_float(ctx, key, value);
    return rc == PHI_OK ? rc : phi_err_set(err, rc, "%s: %s", flag, phi_errmsg(ctx));
}

static int32_t apply_options(phi_ctx *ctx, const example_options *o, phi_err *err)
{
    int32_t rc;
    if ((rc = set_int(ctx, PHI_OPT_N_THREADS, o->threads, "--threads", err)) != PHI_OK ||
        (rc = set_int(ctx, PHI_OPT_N_CTX, o->ctx_size, "--ctx-size", err)) != PHI_OK ||
        (rc = set_int(ctx, PHI_OPT_USE_MMAP, !o->no_mmap, "--no-mmap", err)) != PHI_OK ||
        (rc = set_int(ctx, PHI_OPT_KV_TYPE, o->kv_type == EXAMPLE_KV_F32 ? PHI_KV_F32 : PHI_KV_F16,
                      "--kv-type", err)) != PHI_OK ||
        (rc = set_int(ctx, PHI_OPT_MAX_TOKENS, o->n_predict < 0 ? 0 : o->n_predict, "--n-predict",
                      err)) != PHI_OK ||
        (rc = set_int(ctx, PHI_OPT_TOP_K, o->top_k, "--top-k", err)) != PHI_OK ||
        (rc = set_int(ctx, PHI_OPT_SEED, o->seed, "--seed", err)) != PHI_OK ||
        (rc = set_float(ctx, PHI_OPT_TEMPERATURE, o->temp, "--temp", err)) != PHI_OK ||
        (rc = set_float(ctx, PHI_OPT_TOP_P, o->top_p, "--top-p", err)) != PHI_OK ||
        (rc = set_float(ctx, PHI_OPT_MIN_P, o->min_p, "--min-p", err)) != PHI_OK ||
        (rc = set_float(ctx, PHI_OPT_REPEAT_PENALTY, o->repeat_penalty, "--repeat-penalty",
                        err)) != PHI_OK)
        return rc;
    return PHI_OK;
}

int32_t example_open_model(const example_options *o, example_program program, phi_ctx **out,
                           phi_err *err)
{
    *out = NULL;
    char *blob = NULL;
    const char *path = o->model;
    int32_t rc = PHI_OK;
    if (example_is_ollama_ref(o->model)) {
        rc = example_ollama_resolve(o->model + sizeof EXAMPLE_OLLAMA_PREFIX - 1, &blob, err);
        path = blob;
    }
    phi_ctx *ctx = NULL;
    if (rc == PHI_OK && (rc = phi_ctx_new(&ctx)) != PHI_OK)
        phi_err_set(err, rc, "out of memory");
    if (rc == PHI_OK)
        rc = apply_options(ctx, o, err);
    progress bar = {example_program_name(program), o->model, -1};
    if (rc == PHI_OK) {
        if (isatty(STDERR_FILENO))
            phi_set_progress_callback(ctx, show_progress, &bar);
        else
            fprintf(stderr, "%s: loading %s\n", bar.program, o->model);
        rc = phi_load(ctx, path);
        if (bar.shown >= 0)
            fputc('\n', stderr);
        if (rc != PHI_OK)
            phi_err_set(err, rc, "%s: %s", o->model, phi_errmsg(ctx));
        phi_set_progress_callback(ctx, NULL, NULL);
    }
    free(blob);
    if (rc != PHI_OK) {
        phi_ctx_free(ctx);
        return rc;
    }
    *out = ctx;
    return PHI_OK;
}
