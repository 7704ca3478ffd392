/* Test helper: a whole fixture file in memory, NUL-terminated; exits 2 (a
 * broken test setup, not a failure) when it cannot be read. Header-only and
 * public-API-free, so tests of the installed library can use it too. */
#ifndef PHI_TESTS_FIXTURE_FILE_H
#define PHI_TESTS_FIXTURE_FILE_H

#include <stdio.h>
#include <stdlib.h>

static inline char *read_fixture(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    buf[size] = 0;
    *len = (size_t)size;
    return buf;
}

#endif
