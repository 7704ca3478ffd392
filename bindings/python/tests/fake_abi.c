/* A shared library that says it is libphi4 of another ABI: the binding must
 * refuse it (tests/test_library.py). */
#include <stdint.h>

int32_t phi_abi_version(void);

int32_t phi_abi_version(void)
{
    return 2;
}
