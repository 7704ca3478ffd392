/* A whole file in memory: mapped read-only, or read into an allocation. */
#ifndef PHI_FORMAT_MAPFILE_H
#define PHI_FORMAT_MAPFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/mem.h"

typedef struct phi_mapped_file {
    const unsigned char *data;
    size_t size;
    bool mapped;      /* munmap on close, else phi_free */
} phi_mapped_file;

/* Told after each chunk of a file read into memory (not when mapped): bytes
 * done of total. Nonzero stops the read with PHI_E_INTERRUPTED, so a big
 * model read from a slow disk can show progress and be stopped. */
typedef struct phi_read_progress {
    int (*fn)(void *user, size_t done, size_t total);
    void *user;
} phi_read_progress;

/* PHI_E_IO with the path and the system's reason on failure; progress may be
 * NULL. */
int phi_mapped_file_open(const phi_mem *mem, const char *path, bool use_mmap,
                         const phi_read_progress *progress, phi_mapped_file *out, phi_err *err);
void phi_mapped_file_close(const phi_mem *mem, phi_mapped_file *f);

#endif
