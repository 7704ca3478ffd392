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
    size_t cap;       /* read into memory: bytes allocated (0: size) */
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

/* Bytes [p, p + n) of a mapped file will not be read again (their tensor
 * was copied): the whole pages among them leave the process's memory; the
 * kernel keeps them in its page cache. Nothing for a file read into memory. */
void phi_mapped_file_release(const phi_mapped_file *f, const void *p, size_t n);

/* The bytes a file read into memory has room for past its end, so that its
 * tail can move (phi_mapped_file_align_tail). */
#define PHI_MAPPED_FILE_SLACK 64

/* For a file read into memory: moves bytes [offset, size) forward so that
 * data + offset + shift is a multiple of `align` (a power of two, at most
 * PHI_MAPPED_FILE_SLACK) and returns shift; the bytes before offset stay,
 * so views into them remain valid. A mapped file, or one without room past
 * its end (cap), cannot move: 0. Format
 * readers use it to put weights on cache lines (the kernels stream a third
 * slower from rows that start 32 bytes off one). */
size_t phi_mapped_file_align_tail(phi_mapped_file *f, size_t offset, size_t align);

#endif
