/*
 * Backend initialisation, CPU feature detection and version strings.
 */
#include <string.h>

#include <sodium.h>
#include <mbedtls/version.h>

#include "crypto.h"
#include "sha256.h"
#include "../core/internal.h"

#if defined(__x86_64__) || defined(__i386__)
#  include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#  include <sys/auxv.h>
#  include <asm/hwcap.h>
#endif

static aios__cpu_features cpu;
static char mbedtls_version[32];

static void detect_cpu(void)
{
    memset(&cpu, 0, sizeof(cpu));
    /* libsodium's own detection decides what its AEADs may use. */
    cpu.aesni = sodium_runtime_has_aesni();
    cpu.pclmul = sodium_runtime_has_pclmul();
    cpu.avx = sodium_runtime_has_avx();
    cpu.avx2 = sodium_runtime_has_avx2();
#if defined(__x86_64__) || defined(__i386__)
    {
        unsigned int a, b, c, d;
        /* CPUID leaf 7, sub-leaf 0: EBX bit 29 is SHA.  The SHA-256
         * kernel (sha256.c) also needs SSSE3 (PSHUFB) and SSE4.1
         * (PBLENDW): report SHA only with them, as every CPU that has it
         * does. */
        if (__get_cpuid_max(0, NULL) >= 7 && __get_cpuid_count(7, 0, &a, &b, &c, &d))
            cpu.sha_ni = ((b >> 29) & 1) && sodium_runtime_has_ssse3() &&
                         sodium_runtime_has_sse41();
    }
#endif
#if defined(__aarch64__) && defined(__linux__)
    {
        unsigned long hw = getauxval(AT_HWCAP);
        cpu.arm_aes = (hw & HWCAP_AES) != 0;
        cpu.arm_sha2 = (hw & HWCAP_SHA2) != 0;
    }
#endif
}

int aios__crypto_init(void)
{
    /* 0: initialised now, 1: already initialised (by the host), -1: failed. */
    if (sodium_init() < 0)
        return aios__fail(AIOS_E_INTERNAL, "libsodium failed to initialise");
    detect_cpu();
    aios__sha256_select();   /* SHA-256 kernel for the features just found */
    mbedtls_version_get_string(mbedtls_version);
    return AIOS_OK;
}

const aios__cpu_features *aios__crypto_cpu(void)
{
    return &cpu;
}

const char *aios__crypto_sodium_version(void)
{
    return sodium_version_string();
}

const char *aios__crypto_mbedtls_version(void)
{
    return mbedtls_version[0] ? mbedtls_version : MBEDTLS_VERSION_STRING;
}
