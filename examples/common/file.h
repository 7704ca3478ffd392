/* Reading a small file whole, for the examples (prompts, Ollama manifests). */
#ifndef PHI_EXAMPLES_FILE_H
#define PHI_EXAMPLES_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "phi4.h"

/* The bytes of the file at path, NUL-terminated, in *text (free() it) and
 * their number in *len. PHI_E_IO (cannot open or read it, not a regular file,
 * larger than max_len bytes) or PHI_E_NOMEM, with the path in the message. */
int32_t example_read_file(const char *path, size_t max_len, char **text, size_t *len,
                          phi_err *err);

#endif
