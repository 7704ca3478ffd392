/* Models Ollama has pulled, found through its manifest tree:
 *   <dir>/manifests/<host>/<namespace>/<name>/<tag>   a JSON manifest whose
 *       layer of mediaType application/vnd.ollama.image.model has the digest
 *       sha256:<hex> of the GGUF file,
 *   <dir>/blobs/sha256-<hex>                          that file,
 * where dir is $OLLAMA_MODELS, else $HOME/.ollama/models. */
#ifndef PHI_EXAMPLES_OLLAMA_H
#define PHI_EXAMPLES_OLLAMA_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "phi4.h"

/* "ollama:" */
#define EXAMPLE_OLLAMA_PREFIX "ollama:"

/* Whether a -m value names an Ollama model rather than a file. */
bool example_is_ollama_ref(const char *model);

/* The path of the model blob that ref (NAME[:TAG], after "ollama:") names,
 * in *path (free() it). NAME is name, namespace/name or
 * host/namespace/name (host registry.ollama.ai, namespace library and TAG
 * latest by default). PHI_E_INVALID_ARG for a malformed reference (empty
 * parts, "..", characters a name cannot have), PHI_E_IO (no models
 * directory known, manifest or blob missing), PHI_E_FORMAT (manifest not
 * JSON, no model layer, malformed digest), PHI_E_NOMEM; the message names
 * the path tried. */
int32_t example_ollama_resolve(const char *ref, char **path, phi_err *err);

#endif
