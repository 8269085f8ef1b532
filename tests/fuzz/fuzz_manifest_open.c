/*
 * Fuzz the public, trust-free manifest entry points and the stat cache:
 *   first byte even: aios_manifest_open (bundle, DSSE, statement, the
 *     manifest's path index), then every accessor, resource_at for every
 *     resource, to_json, signer_json and provenance_json; the profile is
 *     bit 1 of the first byte;
 *   first byte odd: the stat cache parser of incremental re-signing
 *     (lib/manifest/statcache.c) with the method, hash and shard size the
 *     first byte picks, then a lookup of a fixed entry.
 * Every call returns a status; nothing may crash, leak or read out of
 * bounds, and a manifest's resource count must agree with resource_at.
 */
#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "manifest/manifest_obj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use_manifest(aios_manifest *m)
{
    size_t n = aios_manifest_resource_count(m), i;
    uint8_t d[32];
    aios_buffer *b = NULL;
    for (i = 0; i < n; i++) {
        const char *name = NULL;
        const uint8_t *dig = NULL;
        size_t dl = 0;
        uint64_t s = 0, e = 0;
        if (aios_manifest_resource_at(m, i, &name, &s, &e, &dig, &dl) != AIOS_OK || !name ||
            !dig || (dl != 32 && dl != 64))
            abort();
    }
    if (aios_manifest_resource_at(m, n, NULL, NULL, NULL, NULL, NULL) == AIOS_OK)
        abort();
    (void)aios_manifest_root_digest(m, d);
    (void)aios_manifest_statement_digest(m, d);
    (void)aios_manifest_subject_name(m);
    (void)aios_manifest_hash_type(m);
    (void)aios_manifest_shard_size(m);
    if (aios_manifest_is_verified(m))
        abort();   /* open never verifies */
    if (aios_manifest_to_json(m, &b) != AIOS_OK)
        abort();
    aios_buffer_free(b);
    b = NULL;
    (void)aios_manifest_signer_json(m, &b);
    aios_buffer_free(b);
    b = NULL;
    (void)aios_manifest_provenance_json(m, &b);
    aios_buffer_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    uint8_t mode;
    if (!ready) {
        if (aios_init() != AIOS_OK)
            abort();
        ready = 1;
    }
    if (size < 1)
        return 0;
    mode = data[0];
    data++;
    size--;
    if ((mode & 1) == 0) {
        aios_manifest_verify_options o = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
        aios_manifest *m = NULL;
        o.profile = (mode & 2) ? AIOS_MANIFEST_PROFILE_OMS_1_0 : AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1;
        if (aios_manifest_open(&m, data, size, &o) == AIOS_OK) {
            use_manifest(m);
            aios_manifest_unref(m);
        } else if (m != NULL) {
            abort();
        }
    } else {
        aios__mf_statcache *c = NULL;
        aios__mf_entry e;
        size_t cnt = 0;
        aios__mf_method method = (mode & 2) ? AIOS__MF_SHARDS : AIOS__MF_FILES;
        aios__mf_hash_type ht = (mode & 4) ? AIOS__MF_BLAKE2B : AIOS__MF_SHA256;
        uint64_t shard = (mode & 8) ? 1048576 : 1;
        if (aios__mf_statcache_parse(&c, (const char *)data, size,
                                     (mode & 16) ? AIOS__MF_PROFILE_OMS_1_0
                                                 : AIOS__MF_PROFILE_MODEL_SIGNING_1,
                                     method, ht, shard) != AIOS_OK)
            return 0;
        memset(&e, 0, sizeof(e));
        e.path = "a";
        e.path_len = 1;
        e.size = 3;
        if (aios__mf_statcache_lookup(c, &e, &cnt) != NULL && cnt == 0)
            abort();
        aios__mf_statcache_free(c);
    }
    return 0;
}
