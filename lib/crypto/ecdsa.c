/*
 * ECDSA over P-256/SHA-256, P-384/SHA-384 and P-521/SHA-512 (and, for
 * verifying legacy OMS bundles only, P-256 or P-384 with SHA-256).
 *
 * Signing and key generation use mbedTLS 2.28, with deterministic nonces
 * (RFC 6979, mbedtls_ecdsa_sign_det_ext) and libsodium's randombytes for
 * mbedTLS's side-channel blinding.  DER signatures are written and parsed
 * here, strictly (DER, not BER: minimal lengths and integers, no negative
 * values, no trailing bytes), since mbedTLS's and OpenSSL's own parsers
 * are laxer than X.509 verifiers must be.  Every mbedTLS object is freed
 * (which zeroizes it) on every path.
 *
 * Verification runs on OpenSSL 3's libcrypto, already linked for AES-GCM
 * (gcm_ossl.c): it verifies 18x (P-256, OpenSSL's nistz256 code), 3.3 to
 * 3.5x (P-384) and 6.4x (P-521) faster than mbedTLS 2.28's bignum arithmetic
 * (bench_crypto --only ecdsa), which dominated the Sigstore keyless check:
 * four of its five signatures come here (the fifth, the Fulcio chain's,
 * is mbedtls_x509_crt_verify's, x509.c).  mbedTLS stays as the fallback.
 * The rules of gcm_ossl.c's header hold here too: nothing global is set,
 * the EC key manager and the ECDSA signature are fetched once, lazily,
 * from the default library context, as the readiness test (then released:
 * see ossl_fetch); if the system's
 * configuration refuses them (a FIPS-only openssl.cnf without the FIPS
 * provider) every verification stays on mbedTLS; and any failure clears
 * this thread's OpenSSL error queue.
 *
 * The verdicts are ours, not OpenSSL's leniency's.  The DER signature is
 * parsed by our strict der_to_raw first and OpenSSL only ever sees the
 * canonical DER we re-encode from r || s; the public key's shape (length,
 * the 0x04 prefix) is checked before OpenSSL sees it, and OpenSSL's import
 * checks the coordinates are below p and the point is on the curve, as
 * mbedtls_ecp_check_pubkey does; both check 1 <= r, s < n and use a hash
 * shorter than the order as is (SEC 1 4.1.4).  Whenever OpenSSL does not
 * answer "valid" or "invalid" (the import refuses the key, the operation
 * cannot start, or the verification reports an error rather than a
 * mismatch, as OpenSSL 3.0 does when u1 G + u2 Q is the point at
 * infinity), the same call is decided by mbedTLS: so a bad key is still
 * AIOS_E_FORMAT with mbedTLS's words, and no error of OpenSSL's ever
 * turns into a verdict.  Tests force either path (aios__ecdsa_test_backend)
 * and check both agree on every Wycheproof vector and on random valid,
 * tampered and out-of-range signatures and keys.
 *
 * Nothing per key is cached.  Importing a P-256 key (EVP_PKEY_fromdata)
 * costs about 20 us next to 60 us for the verification, but the keys of
 * one Sigstore check are three (Rekor's twice, the CT log's, the leaf's),
 * so a cache of imported keys would save one import in a 3.3 ms check,
 * for a shared, locked structure holding keys from every caller.
 */
#include <pthread.h>
#include <string.h>

#include <sodium.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "crypto.h"
#include "../core/internal.h"

/* mbedTLS's f_rng: the OS CSPRNG through libsodium. */
static int ec_rng(void *unused, unsigned char *buf, size_t len)
{
    (void)unused;
    randombytes_buf(buf, len);
    return 0;
}

size_t aios__ec_scalar_len(aios__ec_curve curve)
{
    switch (curve) {
    case AIOS__EC_P256: return 32;
    case AIOS__EC_P384: return 48;
    case AIOS__EC_P521: return 66;   /* 521 bits */
    }
    return 0;
}

size_t aios__ec_point_len(aios__ec_curve curve)
{
    size_t n = aios__ec_scalar_len(curve);
    return n ? 2 * n + 1 : 0;
}

size_t aios__ec_hash_len(aios__ec_curve curve)
{
    switch (curve) {
    case AIOS__EC_P256: return AIOS__SHA256_LEN;
    case AIOS__EC_P384: return AIOS__SHA384_LEN;
    case AIOS__EC_P521: return AIOS__SHA512_LEN;
    }
    return 0;
}

static const char *ec_name(aios__ec_curve curve)
{
    switch (curve) {
    case AIOS__EC_P256: return "P-256";
    case AIOS__EC_P384: return "P-384";
    case AIOS__EC_P521: return "P-521";
    }
    return "unknown curve";
}

static mbedtls_ecp_group_id ec_group_id(aios__ec_curve curve)
{
    switch (curve) {
    case AIOS__EC_P256: return MBEDTLS_ECP_DP_SECP256R1;
    case AIOS__EC_P384: return MBEDTLS_ECP_DP_SECP384R1;
    case AIOS__EC_P521: return MBEDTLS_ECP_DP_SECP521R1;
    }
    return MBEDTLS_ECP_DP_NONE;
}

static mbedtls_md_type_t ec_md(aios__ec_curve curve)
{
    switch (curve) {
    case AIOS__EC_P256: return MBEDTLS_MD_SHA256;
    case AIOS__EC_P384: return MBEDTLS_MD_SHA384;
    case AIOS__EC_P521: return MBEDTLS_MD_SHA512;
    }
    return MBEDTLS_MD_NONE;
}

_Static_assert(AIOS__EC_HASH_MAX == AIOS__SHA512_LEN, "largest ECDSA hash");
_Static_assert(AIOS__EC_DER_SIG_MAX == 3 + 2 * (2 + AIOS__EC_SCALAR_MAX),
               "largest DER signature: long-form SEQUENCE, two unpadded INTEGERs");

/* Everything one operation needs, freed in one place. */
typedef struct ec_ctx {
    mbedtls_ecp_group grp;
    mbedtls_ecp_point Q;
    mbedtls_mpi       d, r, s;
    size_t            n;       /* scalar length */
} ec_ctx;

static int ec_setup(ec_ctx *c, aios__ec_curve curve)
{
    mbedtls_ecp_group_init(&c->grp);
    mbedtls_ecp_point_init(&c->Q);
    mbedtls_mpi_init(&c->d);
    mbedtls_mpi_init(&c->r);
    mbedtls_mpi_init(&c->s);
    c->n = aios__ec_scalar_len(curve);
    if (c->n == 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown ECDSA curve %d", (int)curve);
    if (mbedtls_ecp_group_load(&c->grp, ec_group_id(curve)) != 0)
        return aios__fail(AIOS_E_INTERNAL, "mbedTLS cannot load curve %s", ec_name(curve));
    return AIOS_OK;
}

static void ec_free(ec_ctx *c)
{
    mbedtls_mpi_free(&c->s);        /* each _free zeroizes before releasing */
    mbedtls_mpi_free(&c->r);
    mbedtls_mpi_free(&c->d);
    mbedtls_ecp_point_free(&c->Q);
    mbedtls_ecp_group_free(&c->grp);
}

/* Load a private scalar and check 1 <= d < n. */
static int ec_load_private(ec_ctx *c, const uint8_t *sk)
{
    if (mbedtls_mpi_read_binary(&c->d, sk, c->n) != 0)
        return aios__fail(AIOS_E_NOMEM, "ECDSA: cannot load the private key");
    if (mbedtls_ecp_check_privkey(&c->grp, &c->d) != 0)
        return aios__fail(AIOS_E_FORMAT, "ECDSA: the private key is out of range");
    return AIOS_OK;
}

/* Load an uncompressed SEC1 point and check it is on the curve. */
static int ec_load_public(ec_ctx *c, const uint8_t *pk, size_t pklen)
{
    if (pk == NULL || pklen != 2 * c->n + 1 || pk[0] != 0x04)
        return aios__fail(AIOS_E_FORMAT,
                          "ECDSA: the public key is not an uncompressed %zu-byte point",
                          2 * c->n + 1);
    if (mbedtls_ecp_point_read_binary(&c->grp, &c->Q, pk, pklen) != 0 ||
        mbedtls_ecp_check_pubkey(&c->grp, &c->Q) != 0)
        return aios__fail(AIOS_E_FORMAT, "ECDSA: the public key is not a valid point");
    return AIOS_OK;
}

static int ec_write_public(ec_ctx *c, uint8_t *pk)
{
    size_t olen = 0;
    if (mbedtls_ecp_point_write_binary(&c->grp, &c->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen,
                                       pk, 2 * c->n + 1) != 0 || olen != 2 * c->n + 1)
        return aios__fail(AIOS_E_INTERNAL, "ECDSA: cannot encode the public key");
    return AIOS_OK;
}

size_t aios__ec_hash(aios__ec_curve curve, uint8_t h[AIOS__EC_HASH_MAX], const uint8_t *msg,
                     size_t len)
{
    switch (curve) {
    case AIOS__EC_P256: aios__sha256(h, msg, len); break;
    case AIOS__EC_P384: aios__sha384(h, msg, len); break;
    case AIOS__EC_P521: aios__sha512(h, msg, len); break;
    }
    return aios__ec_hash_len(curve);
}

/* ------------------------------------------------------------------ keys */

int aios__ecdsa_keypair(aios__ec_curve curve, uint8_t *sk, uint8_t *pk)
{
    ec_ctx c;
    int rc;

    AIOS__CHECK_ARG(sk != NULL && pk != NULL, "sk or pk is NULL");
    if ((rc = ec_setup(&c, curve)) != AIOS_OK)
        goto done;
    if (mbedtls_ecp_gen_keypair(&c.grp, &c.d, &c.Q, ec_rng, NULL) != 0) {
        rc = aios__fail(AIOS_E_INTERNAL, "ECDSA %s key generation failed", ec_name(curve));
        goto done;
    }
    if (mbedtls_mpi_write_binary(&c.d, sk, c.n) != 0) {
        rc = aios__fail(AIOS_E_INTERNAL, "ECDSA: cannot encode the private key");
        goto done;
    }
    rc = ec_write_public(&c, pk);
done:
    if (rc != AIOS_OK && c.n != 0)
        mbedtls_platform_zeroize(sk, c.n);
    ec_free(&c);
    return rc;
}

int aios__ecdsa_public(aios__ec_curve curve, const uint8_t *sk, uint8_t *pk)
{
    ec_ctx c;
    int rc;

    AIOS__CHECK_ARG(sk != NULL && pk != NULL, "sk or pk is NULL");
    if ((rc = ec_setup(&c, curve)) != AIOS_OK || (rc = ec_load_private(&c, sk)) != AIOS_OK)
        goto done;
    if (mbedtls_ecp_mul(&c.grp, &c.Q, &c.d, &c.grp.G, ec_rng, NULL) != 0) {
        rc = aios__fail(AIOS_E_INTERNAL, "ECDSA %s public key computation failed",
                        ec_name(curve));
        goto done;
    }
    rc = ec_write_public(&c, pk);
done:
    ec_free(&c);
    return rc;
}

/* ------------------------------------------------------------------- DER */

/* Append INTEGER v (n big-endian bytes, leading zeros allowed) in DER. */
static size_t der_put_int(uint8_t *p, const uint8_t *v, size_t n)
{
    size_t skip = 0, len;
    while (skip < n - 1 && v[skip] == 0)
        skip++;
    len = n - skip;
    p[0] = 0x02;
    if (v[skip] & 0x80) {
        p[1] = (uint8_t)(len + 1);
        p[2] = 0x00;
        memcpy(p + 3, v + skip, len);
        return len + 3;
    }
    p[1] = (uint8_t)len;
    memcpy(p + 2, v + skip, len);
    return len + 2;
}

/* Parse one DER INTEGER holding a positive value of at most n bytes into
 * out (n bytes, big-endian, left-padded).  Returns the bytes consumed or 0. */
static size_t der_get_int(const uint8_t *p, size_t avail, uint8_t *out, size_t n)
{
    size_t len;
    if (avail < 2 || p[0] != 0x02)
        return 0;
    len = p[1];
    /* Short-form length only: no valid integer here needs 128 bytes. */
    if (len == 0 || len > 0x7f || len > avail - 2)
        return 0;
    p += 2;
    if (p[0] & 0x80)
        return 0;                          /* negative */
    if (p[0] == 0x00) {
        if (len == 1)
            return 0;                      /* zero is never a valid r or s */
        if (!(p[1] & 0x80))
            return 0;                      /* non-minimal leading zero */
        p++;
        len--;
        if (len > n)
            return 0;
        memset(out, 0, n - len);
        memcpy(out + n - len, p, len);
        return len + 3;
    }
    if (len > n)
        return 0;
    memset(out, 0, n - len);
    memcpy(out + n - len, p, len);
    return len + 2;
}

size_t aios__ecdsa_raw_to_der(aios__ec_curve curve, uint8_t der[AIOS__EC_DER_SIG_MAX],
                              const uint8_t *raw)
{
    uint8_t body[AIOS__EC_DER_SIG_MAX];
    size_t n = aios__ec_scalar_len(curve), blen, pos = 0;
    if (n == 0)
        return 0;
    blen = der_put_int(body, raw, n);
    blen += der_put_int(body + blen, raw + n, n);
    /* Only a P-521 r or s of 2^527 or more (top byte 0x80 or above, never
     * a valid one: n < 2^521) needs a padded 67-byte INTEGER, and one is
     * enough to pass AIOS__EC_DER_SIG_MAX: refuse rather than write past
     * der. */
    if ((blen > 0x7f ? 3 : 2) + blen > AIOS__EC_DER_SIG_MAX)
        return 0;
    der[pos++] = 0x30;
    if (blen > 0x7f)
        der[pos++] = 0x81;          /* P-521: long form, one length byte */
    der[pos++] = (uint8_t)blen;
    memcpy(der + pos, body, blen);
    return pos + blen;
}

/* Strict DER SEQUENCE { r INTEGER, s INTEGER } to r || s (2n bytes).
 * The SEQUENCE length is short form (content up to 127 bytes: every P-256
 * and P-384 signature) or 0x81 xx with xx >= 128 (P-521, up to 136
 * bytes); any other form (0x81 with a value under 128, 0x82 and longer,
 * indefinite 0x80) is not minimal DER, or too long to be a signature. */
static int der_to_raw(const uint8_t *sig, size_t siglen, uint8_t *raw, size_t n)
{
    size_t hl, content, used, used2;
    if (siglen < 2 || sig[0] != 0x30)
        return 0;
    if (sig[1] < 0x80) {
        content = sig[1];
        hl = 2;
    } else if (sig[1] == 0x81) {
        if (siglen < 3 || sig[2] < 0x80)
            return 0;
        content = sig[2];
        hl = 3;
    } else {
        return 0;
    }
    if (content != siglen - hl)
        return 0;
    used = der_get_int(sig + hl, siglen - hl, raw, n);
    if (used == 0)
        return 0;
    used2 = der_get_int(sig + hl + used, siglen - hl - used, raw + n, n);
    if (used2 == 0 || hl + used + used2 != siglen)
        return 0;
    return 1;
}

/* ------------------------------------------------------------ sign/verify */

int aios__ecdsa_sign_der(aios__ec_curve curve, uint8_t *sig, size_t sigcap, size_t *siglen,
                         const uint8_t *msg, size_t len, const uint8_t *sk)
{
    ec_ctx c;
    uint8_t h[AIOS__EC_HASH_MAX], raw[2 * AIOS__EC_SCALAR_MAX];
    uint8_t der[AIOS__EC_DER_SIG_MAX];
    size_t hlen, pos;
    int rc;

    AIOS__CHECK_ARG(siglen != NULL, "siglen is NULL");
    *siglen = 0;
    AIOS__CHECK_ARG(sig != NULL && sk != NULL, "sig or sk is NULL");
    AIOS__CHECK_ARG(msg != NULL || len == 0, "msg is NULL with a nonzero length");
    if ((rc = ec_setup(&c, curve)) != AIOS_OK || (rc = ec_load_private(&c, sk)) != AIOS_OK)
        goto done;
    hlen = aios__ec_hash(curve, h, msg, len);
    if (mbedtls_ecdsa_sign_det_ext(&c.grp, &c.r, &c.s, &c.d, h, hlen, ec_md(curve),
                                   ec_rng, NULL) != 0) {
        rc = aios__fail(AIOS_E_INTERNAL, "ECDSA %s signing failed", ec_name(curve));
        goto done;
    }
    if (mbedtls_mpi_write_binary(&c.r, raw, c.n) != 0 ||
        mbedtls_mpi_write_binary(&c.s, raw + c.n, c.n) != 0) {
        rc = aios__fail(AIOS_E_INTERNAL, "ECDSA: cannot encode the signature");
        goto done;
    }
    pos = aios__ecdsa_raw_to_der(curve, der, raw);
    if (pos > sigcap) {
        *siglen = pos;
        rc = aios__fail(AIOS_E_BUFFER_TOO_SMALL,
                        "ECDSA: the signature needs %zu bytes, the buffer has %zu", pos, sigcap);
        goto done;
    }
    memcpy(sig, der, pos);
    *siglen = pos;
done:
    ec_free(&c);
    mbedtls_platform_zeroize(h, sizeof(h));
    return rc;
}

/* ---------------------------------------------------- verify on OpenSSL */

static pthread_once_t ossl_once = PTHREAD_ONCE_INIT;
/* Written once under ossl_once, then read-only: 1 if the default library
 * context gives the EC key manager and ECDSA.  The fetched methods are
 * released at once: each verification names them (EVP_PKEY_CTX_new_from_name),
 * and OpenSSL's method store keeps them cached.  Holding our own
 * references for the life of the process would outlive OpenSSL's exit
 * cleanup and show as lost memory under valgrind. */
static int ossl_ok;

static void ossl_fetch(void)
{
    EVP_KEYMGMT *km = EVP_KEYMGMT_fetch(NULL, "EC", NULL);
    EVP_SIGNATURE *sig = km != NULL ? EVP_SIGNATURE_fetch(NULL, "ECDSA", NULL) : NULL;
    ossl_ok = sig != NULL;
    EVP_SIGNATURE_free(sig);
    EVP_KEYMGMT_free(km);
    if (!ossl_ok)
        ERR_clear_error();
}

static int ossl_ready(void)
{
    if (pthread_once(&ossl_once, ossl_fetch) != 0)
        return 0;
    return ossl_ok;
}

/* The test switch (crypto.h).  Set by tests while no other thread
 * verifies. */
static int forced_backend = AIOS__ECDSA_BACKEND_AUTO;

int aios__ecdsa_test_backend(int backend)
{
    switch (backend) {
    case AIOS__ECDSA_BACKEND_AUTO:
    case AIOS__ECDSA_BACKEND_MBEDTLS:
        break;
    case AIOS__ECDSA_BACKEND_OPENSSL:
        if (!ossl_ready())
            return aios__fail(AIOS_E_UNSUPPORTED, "OpenSSL's ECDSA cannot run here");
        break;
    default:
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown ECDSA backend %d", backend);
    }
    forced_backend = backend;
    return AIOS_OK;
}

const char *aios__ecdsa_verify_backend(void)
{
    return ossl_ready() ? "openssl" : "mbedtls";
}

static const char *ossl_group(aios__ec_curve curve)
{
    switch (curve) {
    case AIOS__EC_P256: return "prime256v1";
    case AIOS__EC_P384: return "secp384r1";
    case AIOS__EC_P521: return "secp521r1";
    }
    return NULL;
}

/* What OpenSSL said: an aios status, or OSSL_UNDECIDED when mbedTLS must
 * decide the call (see the header).  strict (the forced OpenSSL backend
 * of the tests) turns the undecided cases into verdicts instead: a key
 * OpenSSL does not import is AIOS_E_FORMAT, a verification error is
 * AIOS_E_AUTH, so that tests see what OpenSSL alone would answer. */
#define OSSL_UNDECIDED 1

static int ossl_verify(aios__ec_curve curve, const uint8_t *raw, const uint8_t *h, size_t hlen,
                       const uint8_t *pk, size_t pklen, int strict)
{
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *kctx = NULL, *vctx = NULL;
    EVP_PKEY *pkey = NULL;
    uint8_t der[AIOS__EC_DER_SIG_MAX];
    size_t derlen;
    int rc = OSSL_UNDECIDED, v;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)ossl_group(curve), 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pk, pklen);
    params[2] = OSSL_PARAM_construct_end();
    kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (kctx == NULL || EVP_PKEY_fromdata_init(kctx) != 1)
        goto done;
    if (EVP_PKEY_fromdata(kctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        if (strict)
            rc = aios__fail(AIOS_E_FORMAT, "ECDSA: the public key is not a valid point");
        goto done;
    }
    if (raw == NULL) {
        rc = aios__fail(AIOS_E_AUTH, "ECDSA %s: the signature is malformed", ec_name(curve));
        goto done;
    }
    vctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (vctx == NULL || EVP_PKEY_verify_init(vctx) != 1) {
        if (strict)
            rc = aios__fail(AIOS_E_INTERNAL, "ECDSA %s: OpenSSL cannot verify", ec_name(curve));
        goto done;
    }
    /* Canonical DER of r || s: OpenSSL's parser never meets the caller's
     * bytes.  No digest is set on the context, so OpenSSL takes the hash
     * at whatever length we give (the SHA-256 legacy form on P-384). */
    derlen = aios__ecdsa_raw_to_der(curve, der, raw);
    v = derlen == 0 ? 0 : EVP_PKEY_verify(vctx, der, derlen, h, hlen);   /* 0: r or s >= 2^527 */
    if (v == 1)
        rc = AIOS_OK;
    else if (v == 0 || strict)
        rc = aios__fail(AIOS_E_AUTH, "ECDSA %s signature verification failed", ec_name(curve));
done:
    EVP_PKEY_CTX_free(vctx);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(kctx);
    if (rc != AIOS_OK)
        ERR_clear_error();
    return rc;
}

/* --------------------------------------------------- verify on mbedTLS */

static int mbed_verify(aios__ec_curve curve, const uint8_t *raw, const uint8_t *h, size_t hlen,
                       const uint8_t *pk, size_t pklen)
{
    ec_ctx c;
    int rc;

    if ((rc = ec_setup(&c, curve)) != AIOS_OK || (rc = ec_load_public(&c, pk, pklen)) != AIOS_OK)
        goto done;
    if (raw == NULL) {
        rc = aios__fail(AIOS_E_AUTH, "ECDSA %s: the signature is malformed", ec_name(curve));
        goto done;
    }
    if (mbedtls_mpi_read_binary(&c.r, raw, c.n) != 0 ||
        mbedtls_mpi_read_binary(&c.s, raw + c.n, c.n) != 0) {
        rc = aios__fail(AIOS_E_NOMEM, "ECDSA: cannot load the signature");
        goto done;
    }
    /* mbedtls_ecdsa_verify checks 1 <= r, s < n itself; a hash shorter
     * than the order is used as is (SEC 1 4.1.4, FIPS 186-4 6.4). */
    if (mbedtls_ecdsa_verify(&c.grp, h, hlen, &c.Q, &c.r, &c.s) != 0)
        rc = aios__fail(AIOS_E_AUTH, "ECDSA %s signature verification failed", ec_name(curve));
done:
    ec_free(&c);
    return rc;
}

/* Verify r || s (2n bytes) over msg against pk; raw == NULL means the
 * signature was malformed (reported after the key, so that a bad key is
 * always AIOS_E_FORMAT).  sha256 != 0 hashes with SHA-256 whatever the
 * curve (the legacy form of aios__ecdsa_verify_der_sha256). */
static int ec_verify_raw(aios__ec_curve curve, const uint8_t *raw, const uint8_t *msg, size_t len,
                         const uint8_t *pk, size_t pklen, int sha256)
{
    uint8_t h[AIOS__EC_HASH_MAX];
    size_t n = aios__ec_scalar_len(curve), hlen = 0;
    int backend = forced_backend, rc;

    if (n == 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown ECDSA curve %d", (int)curve);
    if (pk == NULL || pklen != 2 * n + 1 || pk[0] != 0x04)
        return aios__fail(AIOS_E_FORMAT,
                          "ECDSA: the public key is not an uncompressed %zu-byte point",
                          2 * n + 1);
    if (raw != NULL) {
        if (sha256) {
            aios__sha256(h, msg, len);
            hlen = AIOS__SHA256_LEN;
        } else {
            hlen = aios__ec_hash(curve, h, msg, len);
        }
    }
    if (backend == AIOS__ECDSA_BACKEND_OPENSSL ||
        (backend == AIOS__ECDSA_BACKEND_AUTO && ossl_ready())) {
        rc = ossl_verify(curve, raw, h, hlen, pk, pklen, backend == AIOS__ECDSA_BACKEND_OPENSSL);
        if (rc != OSSL_UNDECIDED)
            return rc;
    }
    return mbed_verify(curve, raw, h, hlen, pk, pklen);
}

int aios__ecdsa_verify_der(aios__ec_curve curve, const uint8_t *sig, size_t siglen,
                           const uint8_t *msg, size_t len, const uint8_t *pk, size_t pklen)
{
    uint8_t raw[2 * AIOS__EC_SCALAR_MAX];
    size_t n = aios__ec_scalar_len(curve);

    AIOS__CHECK_ARG(n != 0, "unknown curve");
    AIOS__CHECK_ARG(sig != NULL || siglen == 0, "sig is NULL with a nonzero length");
    AIOS__CHECK_ARG(msg != NULL || len == 0, "msg is NULL with a nonzero length");
    return ec_verify_raw(curve, der_to_raw(sig, siglen, raw, n) ? raw : NULL, msg, len,
                         pk, pklen, 0);
}

int aios__ecdsa_verify_der_sha256(aios__ec_curve curve, const uint8_t *sig, size_t siglen,
                                  const uint8_t *msg, size_t len, const uint8_t *pk,
                                  size_t pklen)
{
    uint8_t raw[2 * AIOS__EC_SCALAR_MAX];
    size_t n = aios__ec_scalar_len(curve);

    AIOS__CHECK_ARG(n != 0, "unknown curve");
    AIOS__CHECK_ARG(sig != NULL || siglen == 0, "sig is NULL with a nonzero length");
    AIOS__CHECK_ARG(msg != NULL || len == 0, "msg is NULL with a nonzero length");
    return ec_verify_raw(curve, der_to_raw(sig, siglen, raw, n) ? raw : NULL, msg, len,
                         pk, pklen, 1);
}

int aios__ecdsa_verify_p1363(aios__ec_curve curve, const uint8_t *sig, size_t siglen,
                             const uint8_t *msg, size_t len, const uint8_t *pk, size_t pklen)
{
    size_t n = aios__ec_scalar_len(curve);

    AIOS__CHECK_ARG(n != 0, "unknown curve");
    AIOS__CHECK_ARG(sig != NULL || siglen == 0, "sig is NULL with a nonzero length");
    AIOS__CHECK_ARG(msg != NULL || len == 0, "msg is NULL with a nonzero length");
    return ec_verify_raw(curve, siglen == 2 * n ? sig : NULL, msg, len, pk, pklen, 0);
}
