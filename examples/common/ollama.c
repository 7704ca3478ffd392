#include "ollama.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file.h"
#include "format/json.h"
#include "phi4.h"

/* A manifest lists a handful of layers; anything near this size is not one. */
#define MANIFEST_MAX (1u << 20)
#define MODEL_MEDIA_TYPE "application/vnd.ollama.image.model"
#define DIGEST_PREFIX "sha256:"
#define DIGEST_HEX_LEN 64

typedef struct model_name {
    const char *host, *namespace_, *name, *tag;
} model_name;

bool example_is_ollama_ref(const char *model)
{
    return !strncmp(model, EXAMPLE_OLLAMA_PREFIX, strlen(EXAMPLE_OLLAMA_PREFIX));
}

/* printf into a new string; NULL when out of memory. */
static char *format_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format_new(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n < 0 ? NULL : malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* A part becomes a path component: it must not be able to climb out of the
 * tree or name a hidden file, so only the characters Ollama's names use
 * (a host may also give a port after ':'). */
static int32_t check_part(const char *what, const char *part, const char *ref, phi_err *err)
{
    if (!*part)
        return phi_err_set(err, PHI_E_INVALID_ARG, "ollama:%s: the %s is empty", ref, what);
    if (part[0] == '.' || strstr(part, ".."))
        return phi_err_set(err, PHI_E_INVALID_ARG,
                           "ollama:%s: the %s '%s' may not start with '.' or hold '..'", ref, what,
                           part);
    bool is_host = !strcmp(what, "host");
    for (const char *c = part; *c; c++) {
        unsigned char ch = (unsigned char)*c;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.' ||
                  (is_host && ch == ':');
        if (!ok)
            return phi_err_set(err, PHI_E_INVALID_ARG,
                               "ollama:%s: the %s '%s' has a character a name cannot have ('%c')",
                               ref, what, part, ch);
    }
    return PHI_OK;
}

/* Split text (a writable copy of ref) into its parts, filling the defaults. */
static int32_t parse_name(char *text, const char *ref, model_name *out, phi_err *err)
{
    *out = (model_name){"registry.ollama.ai", "library", NULL, "latest"};
    char *last_slash = strrchr(text, '/');
    char *colon = strchr(last_slash ? last_slash + 1 : text, ':');
    if (colon) {
        *colon = '\0';
        out->tag = colon + 1;
    }
    char *parts[4];
    size_t n = 0;
    for (char *p = text;; n++) {
        if (n == 3)
            return phi_err_set(err, PHI_E_INVALID_ARG,
                               "ollama:%s: too many '/': give NAME, NAMESPACE/NAME or "
                               "HOST/NAMESPACE/NAME",
                               ref);
        parts[n] = p;
        char *slash = strchr(p, '/');
        if (!slash) {
            n++;
            break;
        }
        *slash = '\0';
        p = slash + 1;
    }
    out->name = parts[n - 1];
    if (n >= 2)
        out->namespace_ = parts[n - 2];
    if (n == 3)
        out->host = parts[0];
    int32_t rc;
    if ((rc = check_part("host", out->host, ref, err)) != PHI_OK ||
        (rc = check_part("namespace", out->namespace_, ref, err)) != PHI_OK ||
        (rc = check_part("name", out->name, ref, err)) != PHI_OK ||
        (rc = check_part("tag", out->tag, ref, err)) != PHI_OK)
        return rc;
    return PHI_OK;
}

static int32_t models_dir(const char **dir, const char **suffix, phi_err *err)
{
    const char *env = getenv("OLLAMA_MODELS");
    if (env && *env) {
        *dir = env;
        *suffix = "";
        return PHI_OK;
    }
    env = getenv("HOME");
    if (env && *env) {
        *dir = env;
        *suffix = "/.ollama/models";
        return PHI_OK;
    }
    return phi_err_set(err, PHI_E_IO,
                       "no Ollama models directory: neither OLLAMA_MODELS nor HOME is set");
}

/* The hex digits of the model layer's digest, validated, in manifest. */
static int32_t model_digest(const phi_json *manifest, const char *manifest_path, phi_str *hex,
                            phi_err *err)
{
    const phi_json_value *layers = phi_json_member(phi_json_root(manifest), "layers");
    const phi_json_value *layer = NULL;
    for (size_t i = 0; i < phi_json_count(layers) && !layer; i++)
        if (phi_json_string_is(phi_json_member(phi_json_element(layers, i), "mediaType"),
                               MODEL_MEDIA_TYPE))
            layer = phi_json_element(layers, i);
    if (!layer)
        return phi_err_set(err, PHI_E_FORMAT, "%s: no model layer (mediaType %s)", manifest_path,
                           MODEL_MEDIA_TYPE);
    phi_str digest;
    if (!phi_json_string(phi_json_member(layer, "digest"), &digest))
        return phi_err_set(err, PHI_E_FORMAT, "%s: the model layer has no digest string",
                           manifest_path);
    size_t prefix_len = strlen(DIGEST_PREFIX);
    bool ok = digest.len == prefix_len + DIGEST_HEX_LEN &&
              !memcmp(digest.ptr, DIGEST_PREFIX, prefix_len);
    for (size_t i = prefix_len; ok && i < digest.len; i++) {
        char c = digest.ptr[i];
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }
    if (!ok)
        return phi_err_set(err, PHI_E_FORMAT,
                           "%s: the model layer's digest '%.*s' is malformed (expected sha256: "
                           "and 64 hex digits)",
                           manifest_path, (int)(digest.len > 100 ? 100 : digest.len), digest.ptr);
    *hex = (phi_str){digest.ptr + prefix_len, DIGEST_HEX_LEN};
    return PHI_OK;
}

/* Read the manifest and build the blob's path from its model layer. */
static int32_t blob_of_manifest(const char *dir, const char *suffix, const char *manifest_path,
                                const char *ref, char **path, phi_err *err)
{
    char *text;
    size_t len;
    int32_t rc = example_read_file(manifest_path, MANIFEST_MAX, &text, &len, err);
    if (rc != PHI_OK) {
        if (rc == PHI_E_IO)
            phi_err_set(err, rc, "no Ollama manifest at %s (is the model pulled? ollama pull %s)",
                        manifest_path, ref);
        return rc;
    }
    phi_mem mem;
    phi_mem_init_default(&mem);
    phi_json *manifest = NULL;
    rc = phi_json_parse(&mem, text, len, &manifest, err);
    free(text);
    if (rc != PHI_OK) {
        phi_err_prefix(err, "%s is not a JSON manifest", manifest_path);
        return rc;
    }
    phi_str hex = {NULL, 0};
    rc = model_digest(manifest, manifest_path, &hex, err);
    if (rc == PHI_OK) {
        *path = format_new("%s%s/blobs/sha256-%.*s", dir, suffix, (int)hex.len, hex.ptr);
        if (!*path)
            rc = phi_err_set(err, PHI_E_NOMEM, "out of memory");
    }
    phi_json_free(manifest);
    return rc;
}

int32_t example_ollama_resolve(const char *ref, char **path, phi_err *err)
{
    *path = NULL;
    char *text = format_new("%s", ref);
    if (!text)
        return phi_err_set(err, PHI_E_NOMEM, "out of memory");
    model_name name;
    const char *dir = NULL, *suffix = NULL;
    int32_t rc = parse_name(text, ref, &name, err);
    if (rc == PHI_OK)
        rc = models_dir(&dir, &suffix, err);
    char *manifest_path = NULL;
    if (rc == PHI_OK) {
        manifest_path = format_new("%s%s/manifests/%s/%s/%s/%s", dir, suffix, name.host,
                                   name.namespace_, name.name, name.tag);
        rc = manifest_path ? blob_of_manifest(dir, suffix, manifest_path, ref, path, err)
                           : phi_err_set(err, PHI_E_NOMEM, "out of memory");
    }
    struct stat st;
    if (rc == PHI_OK && (stat(*path, &st) != 0 || !S_ISREG(st.st_mode))) {
        rc = phi_err_set(err, PHI_E_IO, "ollama:%s: the model blob %s (named by %s) is missing",
                         ref, *path, manifest_path);
        free(*path);
        *path = NULL;
    }
    free(manifest_path);
    free(text);
    return rc;
}
