/*
 * Versioned options structs (docs/ABI.md, "Growing a struct").
 */
#include <string.h>

#include "internal.h"

int aios__options_copy(void *dst, size_t dst_size, const void *src,
                       const size_t *sizes, unsigned int nversions,
                       const char *type_name)
{
    unsigned int version;

    memset(dst, 0, dst_size);
    if (src == NULL) {
        memcpy(dst, &nversions, sizeof(nversions));
        return AIOS_OK;
    }
    memcpy(&version, src, sizeof(version));
    if (version == 0 || version > nversions)
        return aios__fail(AIOS_E_VERSION,
            "%s: version %u is not one this library knows (1..%u); "
            "initialise it with %s_init() or the _INIT macro",
            type_name, version, nversions, type_name);
    if (sizes[version - 1] > dst_size)
        return aios__fail(AIOS_E_INTERNAL, "%s: size table is inconsistent", type_name);
    memcpy(dst, src, sizes[version - 1]);
    return AIOS_OK;
}

int aios__options_init(void *opts, unsigned int version, const size_t *sizes,
                       unsigned int nversions, const char *fn)
{
    AIOS__CHECK_ARG(opts != NULL, "opts is NULL");
    if (version == 0 || version > nversions)
        return aios__fail(AIOS_E_VERSION, "%s: version %u is not one this library knows (1..%u)",
                          fn, version, nversions);
    memset(opts, 0, sizes[version - 1]);
    *(unsigned int *)opts = version;
    return AIOS_OK;
}
