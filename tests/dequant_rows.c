/* phi4-dequant: the C dequantizer of one weight type on raw blocks, for the
 * bit-exact comparison with the numpy decoders (tests/ref/check_dequant.py):
 *
 *   phi4-dequant TYPE N IN.bin OUT.bin
 *
 * TYPE is the ggml type code; IN.bin holds rows of N elements of that type
 * back to back; OUT.bin gets them as little-endian float32. Every kernel
 * level this CPU has must give the same floats (it exits 1 if not). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "phi4.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: phi4-dequant TYPE N IN.bin OUT.bin\n");
        return 2;
    }
    uint32_t type = (uint32_t)strtoul(argv[1], NULL, 10);
    int64_t n = strtoll(argv[2], NULL, 10);
    size_t row = 0;
    phi_err err;
    const phi_kernels *scalar;
    if (phi_kernels_get(PHI_KERNEL_SCALAR, &scalar, &err) != PHI_OK || n <= 0 ||
        !phi_dtype_row_bytes(type, n, &row) || !scalar->dequant[type]) {
        fprintf(stderr, "phi4-dequant: type %u with rows of %lld cannot be dequantized\n", type,
                (long long)n);
        return 1;
    }
    FILE *in = fopen(argv[3], "rb"), *out = fopen(argv[4], "wb");
    unsigned char *src = malloc(row);
    float *want = malloc((size_t)n * sizeof(float)), *got = malloc((size_t)n * sizeof(float));
    int status = in && out && src && want && got ? 0 : 1;
    while (status == 0 && fread(src, 1, row, in) == row) {
        scalar->dequant[type](src, want, n);
        for (int32_t level = PHI_KERNEL_AVX2; level <= PHI_KERNEL_NEON_DOTPROD; level++) {
            const phi_kernels *k;
            if (phi_kernels_get(level, &k, &err) != PHI_OK)
                continue;
            k->dequant[type](src, got, n);
            if (memcmp(got, want, (size_t)n * sizeof(float)) != 0) {
                fprintf(stderr, "phi4-dequant: level %s differs from scalar\n", k->name);
                status = 1;
            }
        }
        if (fwrite(want, sizeof(float), (size_t)n, out) != (size_t)n)
            status = 1;
    }
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        status = 1;
    free(src);
    free(want);
    free(got);
    return status;
}
