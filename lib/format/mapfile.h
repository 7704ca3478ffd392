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

/* PHI_E_IO with the path and the system's reason on failure. */
int phi_mapped_file_open(const phi_mem *mem, const char *path, bool use_mmap,
                         phi_mapped_file *out, phi_err *err);
void phi_mapped_file_close(const phi_mem *mem, phi_mapped_file *f);

#endif
