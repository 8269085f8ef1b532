/*
 * Run-time version queries and aios_build_info().
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "../crypto/crypto.h"
#include "../proto/proto.h"

#ifndef AIOS_BUILD_TYPE
#  define AIOS_BUILD_TYPE "unknown"
#endif

#if defined(AIOS_SANITIZER_ASAN)
#  define AIOS_SANITIZERS "address,undefined"
#elif defined(AIOS_SANITIZER_TSAN)
#  define AIOS_SANITIZERS "thread"
#else
#  define AIOS_SANITIZERS ""
#endif

#if defined(__clang__)
#  define AIOS_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#  define AIOS_COMPILER "gcc " __VERSION__
#else
#  define AIOS_COMPILER "unknown"
#endif

const char *aios_version_string(void)
{
    return AIOS_VERSION_STRING;
}

uint32_t aios_version_number(void)
{
    return (uint32_t)AIOS_VERSION_NUMBER;
}

uint32_t aios_abi_version(void)
{
    return AIOS_ABI_VERSION;
}

static char build_info[1024];

static const char *json_bool(int v)
{
    return v ? "true" : "false";
}

void aios__build_info_prepare(void)
{
    const aios__cpu_features *cpu = aios__crypto_cpu();
    const char *aead = aios__aead_available(AIOS__AEAD_AES256GCM)
                       ? aios__aead_name(AIOS__AEAD_AES256GCM)
                       : aios__aead_name(AIOS__AEAD_XCHACHA20POLY1305);
    int n = snprintf(build_info, sizeof(build_info),
        "{\"version\":\"%s\",\"abi\":%d,"
        "\"dependencies\":{\"libsodium\":\"%s\",\"mbedtls\":\"%s\",\"protobuf-c\":\"%s\","
        "\"openssl\":\"%s\"},"
        "\"cpu\":{\"aesni\":%s,\"pclmul\":%s,\"avx\":%s,\"avx2\":%s,\"sha_ni\":%s,"
        "\"arm_aes\":%s,\"arm_sha2\":%s,\"vaes\":%s,\"avx512\":%s},"
        "\"uses\":{\"bulk_aead\":\"%s\",\"aes256gcm_backend\":\"%s\",\"ecdsa_verify\":\"%s\"},"
        "\"tuning\":{\"aes256gcm_openssl_min\":%zu},"
        "\"build\":{\"type\":\"%s\",\"compiler\":\"%s\",\"sanitizers\":\"%s\"}}",
        AIOS_VERSION_STRING, AIOS_ABI_VERSION,
        aios__crypto_sodium_version(), aios__crypto_mbedtls_version(),
        aios__proto_version(), aios__crypto_openssl_version(),
        json_bool(cpu->aesni), json_bool(cpu->pclmul), json_bool(cpu->avx),
        json_bool(cpu->avx2), json_bool(cpu->sha_ni), json_bool(cpu->arm_aes),
        json_bool(cpu->arm_sha2), json_bool(cpu->vaes), json_bool(cpu->avx512), aead,
        aios__aead_gcm_backend(), aios__ecdsa_verify_backend(), aios__aead_gcm_openssl_min(),
        AIOS_BUILD_TYPE, AIOS_COMPILER, AIOS_SANITIZERS);
    if (n < 0 || (size_t)n >= sizeof(build_info))
        snprintf(build_info, sizeof(build_info),
                 "{\"version\":\"%s\",\"abi\":%d,\"error\":\"build info truncated\"}",
                 AIOS_VERSION_STRING, AIOS_ABI_VERSION);
}

const char *aios_build_info(void)
{
    /* Initialisation fills build_info even when init fails. */
    (void)aios__ensure_init();
    return build_info;
}
