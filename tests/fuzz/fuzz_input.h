/* The fuzz input as a block of exactly its size from malloc (NULL if that
 * fails), so ASan sees a read one byte past it and the target can free it
 * to prove that nothing keeps pointing into it. */
#ifndef PHI_TESTS_FUZZ_INPUT_H
#define PHI_TESTS_FUZZ_INPUT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline char *fuzz_input_copy(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (copy && size)
        memcpy(copy, data, size);
    return copy;
}

#endif
