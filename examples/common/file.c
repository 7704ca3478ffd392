#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "phi4.h"

int32_t example_read_file(const char *path, size_t max_len, char **text, size_t *len,
                          phi_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return phi_err_set(err, PHI_E_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return phi_err_set(err, PHI_E_IO, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_len) {
        fclose(f);
        return phi_err_set(err, PHI_E_IO, "%s is larger than %zu bytes", path, max_len);
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        fclose(f);
        return phi_err_set(err, PHI_E_NOMEM, "out of memory reading %s", path);
    }
    size_t got = fread(buf, 1, size, f);
    int read_failed = ferror(f);
    fclose(f);
    if (read_failed || got != size) {
        free(buf);
        return phi_err_set(err, PHI_E_IO, "cannot read %s", path);
    }
    buf[size] = '\0';
    *text = buf;
    *len = size;
    return PHI_OK;
}
