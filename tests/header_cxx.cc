// phi4.h must compile as C++ (and link: the declarations are extern "C").
#include <phi4.h>

int main()
{
    phi_ctx *ctx = nullptr;
    if (phi_ctx_new(&ctx) != PHI_OK)
        return 1;
    int ok = phi_version_number() == PHI4_VERSION_NUMBER;
    phi_ctx_free(ctx);
    return ok ? 0 : 1;
}
