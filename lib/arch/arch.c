#include "arch/arch.h"

extern const phi_arch phi_arch_phi3;

static const phi_arch *const known[] = {
    &phi_arch_phi3,
};

const phi_arch *phi_arch_find(phi_str name)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (phi_str_eq(name, known[i]->name))
            return known[i];
    return NULL;
}
