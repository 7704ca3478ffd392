/* GGUF (versions 2 and 3, little-endian) → phi_source. */
#ifndef PHI_FORMAT_GGUF_H
#define PHI_FORMAT_GGUF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/mem.h"
#include "format/source.h"

/* Whether the bytes start with the GGUF magic. */
bool phi_gguf_sniff(const void *data, size_t size);

/* Parse and validate a GGUF image of `size` bytes. The source keeps pointers
 * into `file->data` and takes ownership of *file (also on failure: the
 * file is closed then). Every malformed input returns PHI_E_FORMAT (or
 * PHI_E_VERSION for an unknown version, PHI_E_NOMEM) with a message naming
 * the offending field, key or tensor; nothing is read outside the image. */
int phi_gguf_parse(const phi_mem *mem, phi_mapped_file *file, phi_source **out, phi_err *err);

/* Open a file (mapped or read) and parse it. */
int phi_gguf_open(const phi_mem *mem, const char *path, bool use_mmap, phi_source **out,
                  phi_err *err);

#endif
