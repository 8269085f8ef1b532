/*
 * Backend initialisation, CPU feature detection and version strings.
 */
#include <string.h>

#include <sodium.h>
#include <mbedtls/version.h>

#include "crypto.h"
#include "sha256.h"
#include "gcm_vaes.h"
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

#if defined(__x86_64__) || defined(__i386__)
/* XCR0, the state components the OS saves on context switches (XGETBV
 * with ECX = 0; only valid when CPUID.1:ECX.OSXSAVE is set). */
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* VAES and VPCLMULQDQ on ymm (gcm_vaes.c) need, from CPUID: leaf 1 ECX
 * AES-NI (25), PCLMULQDQ (1), OSXSAVE (27), AVX (28); leaf 7 EBX AVX2
 * (5), ECX VAES (9) and VPCLMULQDQ (10); and XCR0 with the SSE (bit 1)
 * and AVX (bit 2) state enabled, else the first ymm instruction faults.
 * AVX-512: leaf 7 EBX F (16), BW (30), VL (31), and XCR0 opmask, ZMM_Hi256
 * and Hi16_ZMM (bits 5-7) too.  Valgrind's synthetic CPUID reports no
 * VAES (nor AVX-512), so code run under it takes the other backends. */
static void detect_vaes(void)
{
    unsigned int a, b, c, d, b7, c7;
    uint64_t xcr0;

    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    if (!((c >> 25) & 1) || !((c >> 1) & 1) || !((c >> 27) & 1) || !((c >> 28) & 1))
        return;
    if (__get_cpuid_max(0, NULL) < 7 || !__get_cpuid_count(7, 0, &a, &b7, &c7, &d))
        return;
    xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6)
        return;
    cpu.vaes = ((b7 >> 5) & 1) && ((c7 >> 9) & 1) && ((c7 >> 10) & 1);
    cpu.avx512 = ((b7 >> 16) & 1) && ((b7 >> 30) & 1) && ((b7 >> 31) & 1) &&
                 (xcr0 & 0xe6) == 0xe6;
}
#endif

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
    detect_vaes();
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
    aios__gcm_vaes_select(); /* AES-256-GCM on VAES, if the CPU has it */
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
