/* A byte string that is not NUL-terminated: it points into a file or a
 * parsed document and may hold NUL bytes. */
#ifndef PHI_CORE_STR_H
#define PHI_CORE_STR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct phi_str {
    const char *ptr;
    uint64_t len;
} phi_str;

/* True when a holds exactly the C string b. */
static inline bool phi_str_eq(phi_str a, const char *b)
{
    size_t n = strlen(b);
    return a.len == n && memcmp(a.ptr, b, n) == 0;
}

#endif
