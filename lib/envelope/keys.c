/*
 * lib/envelope: the opener's key set, the versioned options of seal, open
 * and rewrap, suite names and choice, and the constants as functions.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "envelope/message.h"

/* ------------------------------------------------------------ key sets */

int aios_envelope_keys_new(aios_envelope_keys **out)
{
    aios_envelope_keys *ks;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    ks = aios__calloc(1, sizeof(*ks));
    if (ks == NULL)
        return aios__fail(AIOS_E_NOMEM, "aios_envelope_keys_new: out of memory");
    *out = ks;
    return AIOS_OK;
}

void aios_envelope_keys_free(aios_envelope_keys *ks)
{
    size_t i;
    if (ks == NULL)
        return;
    for (i = 0; i < ks->nkeys; i++)
        aios_key_unref(ks->keys[i]);
    for (i = 0; i < ks->nproviders; i++)
        aios_provider_unref(ks->providers[i]);
    aios__free(ks);
}

int aios_envelope_keys_add_key(aios_envelope_keys *ks, aios_key *key)
{
    AIOS__CHECK_ARG(ks != NULL && key != NULL, "keys or key is NULL");
    if (ks->nkeys == AIOS__ENV_KEYS_MAX)
        return aios__fail(AIOS_E_LIMIT, "aios_envelope_keys_add_key: a key set holds at most %d keys",
                          AIOS__ENV_KEYS_MAX);
    ks->keys[ks->nkeys++] = aios_key_ref(key);
    return AIOS_OK;
}

int aios_envelope_keys_add_provider(aios_envelope_keys *ks, aios_provider *provider)
{
    AIOS__CHECK_ARG(ks != NULL && provider != NULL, "keys or provider is NULL");
    if (ks->nproviders == AIOS__ENV_PROVIDERS_MAX)
        return aios__fail(AIOS_E_LIMIT,
                          "aios_envelope_keys_add_provider: a key set holds at most %d providers",
                          AIOS__ENV_PROVIDERS_MAX);
    ks->providers[ks->nproviders++] = aios_provider_ref(provider);
    return AIOS_OK;
}

/* ------------------------------------------------------------ options */

static const size_t seal_sizes[] = { sizeof(aios_envelope_seal_options) };
static const size_t open_sizes[] = { sizeof(aios_envelope_open_options) };
static const size_t rewrap_sizes[] = { sizeof(aios_envelope_rewrap_options) };

int aios_envelope_seal_options_init(aios_envelope_seal_options *opts, unsigned int version)
{
    return aios__options_init(opts, version, seal_sizes, 1, "aios_envelope_seal_options_init");
}

int aios_envelope_open_options_init(aios_envelope_open_options *opts, unsigned int version)
{
    return aios__options_init(opts, version, open_sizes, 1, "aios_envelope_open_options_init");
}

int aios_envelope_rewrap_options_init(aios_envelope_rewrap_options *opts, unsigned int version)
{
    return aios__options_init(opts, version, rewrap_sizes, 1, "aios_envelope_rewrap_options_init");
}

int aios__env_seal_opts_get(aios__env_seal_opts *out, const aios_envelope_seal_options *opts)
{
    aios_envelope_seal_options o;
    int rc = aios__options_copy(&o, sizeof(o), opts, seal_sizes, 1, "aios_envelope_seal_options");
    if (rc != AIOS_OK)
        return rc;
    if ((rc = aios__env_suite_pick(&out->suite, o.suite)) != AIOS_OK)
        return rc;
    out->chunk_size = o.chunk_size ? o.chunk_size : AIOS_ENVELOPE_CHUNK_SIZE_DEFAULT;
    if (out->chunk_size < AIOS_ENVELOPE_CHUNK_SIZE_MIN || out->chunk_size > AIOS_ENVELOPE_CHUNK_SIZE_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "chunk_size %u is outside %u..%u", o.chunk_size,
                          AIOS_ENVELOPE_CHUNK_SIZE_MIN, AIOS_ENVELOPE_CHUNK_SIZE_MAX);
    if (o.threads > AIOS__ENV_THREADS_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "threads %u is over %d", o.threads,
                          AIOS__ENV_THREADS_MAX);
    out->threads = o.threads ? o.threads : 1;
    return AIOS_OK;
}

int aios__env_open_opts_get(aios__env_open_opts *out, const aios_envelope_open_options *opts)
{
    aios_envelope_open_options o;
    int rc = aios__options_copy(&o, sizeof(o), opts, open_sizes, 1, "aios_envelope_open_options");
    if (rc != AIOS_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    if (o.expected_context_count > 0 && o.expected_context == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "expected_context is NULL but its count is %zu",
                          o.expected_context_count);
    if (o.context_mode != AIOS_ENVELOPE_CONTEXT_ANY && o.context_mode != AIOS_ENVELOPE_CONTEXT_EXACT &&
        o.context_mode != AIOS_ENVELOPE_CONTEXT_SUBSET)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "context_mode %d is not a known mode",
                          (int)o.context_mode);
    if (o.context_mode == AIOS_ENVELOPE_CONTEXT_ANY && o.expected_context_count > 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "an expected context needs context_mode EXACT or SUBSET");
    if (o.max_unwrap_attempts > 64)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "max_unwrap_attempts %u is over 64",
                          o.max_unwrap_attempts);
    if (o.threads > AIOS__ENV_THREADS_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "threads %u is over %d", o.threads,
                          AIOS__ENV_THREADS_MAX);
    out->expected = o.expected_context;
    out->nexpected = o.expected_context_count;
    out->mode = o.context_mode;
    out->max_attempts = o.max_unwrap_attempts ? o.max_unwrap_attempts : 8;
    out->no_soft_gcm = o.no_soft_gcm != 0;
    out->threads = o.threads ? o.threads : 1;
    return AIOS_OK;
}

int aios__env_rewrap_opts_get(aios_envelope_rewrap_options *out,
                              const aios_envelope_rewrap_options *opts)
{
    int rc = aios__options_copy(out, sizeof(*out), opts, rewrap_sizes, 1,
                                "aios_envelope_rewrap_options");
    if (rc != AIOS_OK)
        return rc;
    if (out->remove_count > 0 && out->remove == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "remove is NULL but its count is %zu",
                          out->remove_count);
    if ((out->flags & ~AIOS_ENVELOPE_REWRAP_REPLACE_ALL) != 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown rewrap flags 0x%x", out->flags);
    if (out->max_unwrap_attempts > 64)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "max_unwrap_attempts %u is over 64",
                          out->max_unwrap_attempts);
    return AIOS_OK;
}

/* ------------------------------------------------------------ suites */

const char *aios_envelope_suite_name(aios_envelope_suite suite)
{
    switch (suite) {
    case AIOS_ENVELOPE_SUITE_AUTO:              return "auto";
    case AIOS_ENVELOPE_SUITE_AES256GCM:         return "aes256gcm";
    case AIOS_ENVELOPE_SUITE_XCHACHA20POLY1305: return "xchacha20poly1305";
    case AIOS_ENVELOPE_SUITE_AES256SIV:         return "aes256siv";
    case AIOS_ENVELOPE_SUITE_PORTABLE:          return "portable";
    default:                                    return "unknown";
    }
}

int aios__env_suite_pick(uint16_t *suite_out, aios_envelope_suite req)
{
    switch (req) {
    case AIOS_ENVELOPE_SUITE_AUTO:
        *suite_out = aios__aead_available(AIOS__AEAD_AES256GCM) ? AIOS__ENV_SUITE_AES256GCM
                                                                 : AIOS__ENV_SUITE_XCHACHA20POLY1305;
        return AIOS_OK;
    case AIOS_ENVELOPE_SUITE_PORTABLE:
    case AIOS_ENVELOPE_SUITE_XCHACHA20POLY1305:
        *suite_out = AIOS__ENV_SUITE_XCHACHA20POLY1305;
        return AIOS_OK;
    case AIOS_ENVELOPE_SUITE_AES256GCM:
        if (!aios__aead_available(AIOS__AEAD_AES256GCM))
            return aios__fail(AIOS_E_UNSUPPORTED,
                              "suite aes256gcm needs AES-NI and PCLMUL, which this CPU lacks "
                              "(seal with suite auto or portable)");
        *suite_out = AIOS__ENV_SUITE_AES256GCM;
        return AIOS_OK;
    case AIOS_ENVELOPE_SUITE_AES256SIV:
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "suite aes256siv is only for deterministic fields, not messages or sessions");
    default:
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "suite %d is not a known suite", (int)req);
    }
}

aios__aead_alg aios__env_suite_alg(uint16_t suite)
{
    return suite == AIOS__ENV_SUITE_AES256GCM ? AIOS__AEAD_AES256GCM : AIOS__AEAD_XCHACHA20POLY1305;
}

size_t aios_envelope_header_max(void)
{
    return AIOS_ENVELOPE_HEADER_MAX;
}

size_t aios_envelope_record_overhead(void)
{
    return AIOS_ENVELOPE_RECORD_OVERHEAD;
}
