#define _POSIX_C_SOURCE 200809L
#include "format/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "phi4.h"

/* Bytes read between two progress reports: small enough to report often on
 * a slow disk, large enough that the calls cost nothing. */
enum { READ_CHUNK = 16 << 20 };

/* 0, an errno value, or -1 when progress asked to stop. */
static int read_all(int fd, unsigned char *dst, size_t size, const phi_read_progress *progress)
{
    size_t done = 0, reported = 0;
    while (done < size) {
        size_t want = size - done < READ_CHUNK ? size - done : READ_CHUNK;
        ssize_t n = read(fd, dst + done, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? EIO : errno;
        done += (size_t)n;
        if (progress && (done - reported >= READ_CHUNK || done == size)) {
            reported = done;
            if (progress->fn(progress->user, done, size))
                return -1;
        }
    }
    return 0;
}

int phi_mapped_file_open(const phi_mem *mem, const char *path, bool use_mmap,
                         const phi_read_progress *progress, phi_mapped_file *out, phi_err *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return phi_err_set(err, PHI_E_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return phi_err_set(err, PHI_E_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return phi_err_set(err, PHI_E_IO, "'%s' is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size == 0) {
        close(fd);
        return phi_err_set(err, PHI_E_FORMAT, "'%s' is empty", path);
    }
    if (use_mmap) {
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        int e = errno;
        close(fd);
        if (p == MAP_FAILED)
            return phi_err_set(err, PHI_E_IO, "cannot map '%s': %s", path, strerror(e));
        out->data = p;
        out->size = size;
        out->mapped = true;
        return PHI_OK;
    }
    size_t cap;
    if (phi_add_overflows(size, PHI_MAPPED_FILE_SLACK, &cap)) {
        close(fd);
        return phi_err_set(err, PHI_E_NOMEM, "'%s' is too large to read into memory", path);
    }
    unsigned char *buf = phi_alloc_bulk(mem, cap);
    if (!buf) {
        close(fd);
        return phi_err_set(err, PHI_E_NOMEM, "cannot allocate %zu bytes to read '%s'", size, path);
    }
    int e = read_all(fd, buf, size, progress);
    close(fd);
    if (e) {
        phi_free(mem, buf);
        if (e < 0)
            return phi_err_set(err, PHI_E_INTERRUPTED, "reading '%s' stopped", path);
        return phi_err_set(err, PHI_E_IO, "cannot read '%s': %s", path, strerror(e));
    }
    out->data = buf;
    out->size = size;
    out->mapped = false;
    out->cap = cap;
    return PHI_OK;
}

size_t phi_mapped_file_align_tail(phi_mapped_file *f, size_t offset, size_t align)
{
    if (f->mapped || offset > f->size || align > PHI_MAPPED_FILE_SLACK)
        return 0;
    uintptr_t at = (uintptr_t)f->data + offset;
    size_t shift = (size_t)((align - at % align) % align);
    if (f->cap < f->size || f->cap - f->size < shift)
        return 0;
    if (shift) {
        unsigned char *data = (unsigned char *)f->data;
        memmove(data + offset + shift, data + offset, f->size - offset);
    }
    return shift;
}

void phi_mapped_file_close(const phi_mem *mem, phi_mapped_file *f)
{
    if (!f->data)
        return;
    if (f->mapped)
        munmap((void *)f->data, f->size);
    else
        phi_free(mem, (void *)f->data);
    f->data = NULL;
    f->size = 0;
}

void phi_mapped_file_release(const phi_mapped_file *f, const void *p, size_t n)
{
    if (!f->mapped || n == 0)
        return;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t size = page > 0 ? (uintptr_t)page : 4096;
    uintptr_t lo = ((uintptr_t)p + size - 1) & ~(size - 1), hi = ((uintptr_t)p + n) & ~(size - 1);
    if (lo < hi)
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED); /* only a hint: the pages stay valid */
}
