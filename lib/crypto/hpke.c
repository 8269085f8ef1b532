/*
 * RFC 9180 HPKE, base mode, single shot, for the one ciphersuite the
 * envelope's X25519 recipient uses (docs/FORMAT.md section 6.2):
 * DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20Poly1305.
 *
 * Written from the RFC's pseudocode (sections 4, 4.1, 5.1, 5.2, 6.1, 7.1)
 * on the seam's own X25519, HMAC/HKDF-SHA-256 and ChaCha20-Poly1305; no
 * backend header is needed here.  Section numbers below are RFC 9180's.
 */
#include <stdint.h>
#include <string.h>

#include "crypto.h"
#include "../core/internal.h"

/* "HPKE-v1", the version label of LabeledExtract/LabeledExpand (4). */
static const uint8_t hpke_v1[7] = { 'H', 'P', 'K', 'E', '-', 'v', '1' };

/* suite_id inside the KEM: concat("KEM", I2OSP(kem_id, 2)) (4.1). */
static const uint8_t kem_suite_id[5] = { 'K', 'E', 'M', 0x00, 0x20 };

/* suite_id of the key schedule: concat("HPKE", I2OSP(kem_id, 2),
 * I2OSP(kdf_id, 2), I2OSP(aead_id, 2)) (5.1). */
static const uint8_t hpke_suite_id[10] = { 'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, 0x00, 0x03 };

#define HPKE_MODE_BASE 0x00
#define HPKE_NH        AIOS__SHA256_LEN

/* Every labeled_info this file builds is small and bounded: the largest
 * label is "shared_secret" (13) and the largest info the 65-byte
 * key_schedule_context. */
#define LABEL_MAX 16
#define LINFO_MAX (2 + sizeof(hpke_v1) + sizeof(hpke_suite_id) + LABEL_MAX + 1 + 2 * HPKE_NH)

_Static_assert(AIOS__HPKE_ENC_LEN == AIOS__X25519_LEN, "Nenc is an X25519 point");
_Static_assert(AIOS__HPKE_KEY_LEN == AIOS__AEAD_KEY_LEN, "Nk is the ChaCha20-Poly1305 key length");
_Static_assert(AIOS__HPKE_TAG_LEN == AIOS__AEAD_TAG_LEN, "Nt is the Poly1305 tag length");
_Static_assert(AIOS__HPKE_SECRET_LEN == HPKE_NH, "Nsecret is Nh for DHKEM(X25519, HKDF-SHA256)");

/* LabeledExtract(salt, label, ikm) =
 *   Extract(salt, concat("HPKE-v1", suite_id, label, ikm)), streamed into
 * HMAC so that ikm (the caller's info, for info_hash) may be any length.
 * An empty salt is Nh zero bytes (RFC 5869 2.2), as in kdf.c. */
static void labeled_extract(uint8_t prk[HPKE_NH], const uint8_t *salt, size_t salt_len,
                            const uint8_t *suite_id, size_t suite_id_len, const char *label,
                            const uint8_t *ikm, size_t ikm_len)
{
    static const uint8_t zero_salt[HPKE_NH];
    aios__hmac_sha256_ctx ctx;

    if (salt == NULL || salt_len == 0) {
        salt = zero_salt;
        salt_len = sizeof(zero_salt);
    }
    aios__hmac_sha256_init(&ctx, salt, salt_len);
    aios__hmac_sha256_update(&ctx, hpke_v1, sizeof(hpke_v1));
    aios__hmac_sha256_update(&ctx, suite_id, suite_id_len);
    aios__hmac_sha256_update(&ctx, (const uint8_t *)label, strlen(label));
    if (ikm_len > 0)
        aios__hmac_sha256_update(&ctx, ikm, ikm_len);
    aios__hmac_sha256_final(&ctx, prk);      /* wipes ctx */
}

/* LabeledExpand(prk, label, info, L) =
 *   Expand(prk, concat(I2OSP(L, 2), "HPKE-v1", suite_id, label, info), L). */
static int labeled_expand(uint8_t *out, size_t out_len, const uint8_t prk[HPKE_NH],
                          const uint8_t *suite_id, size_t suite_id_len, const char *label,
                          const uint8_t *info, size_t info_len)
{
    uint8_t linfo[LINFO_MAX];
    size_t label_len = strlen(label), n = 0;
    int rc;

    if (out_len > 0xffff || label_len > LABEL_MAX ||
        info_len > sizeof(linfo) - 2 - sizeof(hpke_v1) - suite_id_len - label_len) {
        aios__wipe(out, out_len);
        return aios__fail(AIOS_E_INTERNAL, "HPKE LabeledExpand: labeled_info too long");
    }
    linfo[n++] = (uint8_t)(out_len >> 8);
    linfo[n++] = (uint8_t)out_len;
    memcpy(linfo + n, hpke_v1, sizeof(hpke_v1));
    n += sizeof(hpke_v1);
    memcpy(linfo + n, suite_id, suite_id_len);
    n += suite_id_len;
    memcpy(linfo + n, label, label_len);
    n += label_len;
    if (info_len > 0)
        memcpy(linfo + n, info, info_len);
    n += info_len;
    rc = aios__hkdf_sha256_expand(out, out_len, prk, linfo, n);
    if (rc != AIOS_OK)
        aios__wipe(out, out_len);
    aios__wipe(linfo, sizeof(linfo));
    return rc;
}

/* ExtractAndExpand(dh, kem_context) (4.1), kem_context = enc || pkRm. */
static int extract_and_expand(uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                              const uint8_t dh[AIOS__X25519_LEN],
                              const uint8_t kem_context[2 * AIOS__X25519_LEN])
{
    uint8_t eae_prk[HPKE_NH];
    int rc;

    labeled_extract(eae_prk, NULL, 0, kem_suite_id, sizeof(kem_suite_id), "eae_prk",
                    dh, AIOS__X25519_LEN);
    rc = labeled_expand(shared_secret, AIOS__HPKE_SECRET_LEN, eae_prk, kem_suite_id,
                        sizeof(kem_suite_id), "shared_secret", kem_context,
                        2 * AIOS__X25519_LEN);
    aios__wipe(eae_prk, sizeof(eae_prk));
    return rc;
}

int aios__hpke_encap_derand(uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                            uint8_t enc[AIOS__HPKE_ENC_LEN],
                            const uint8_t pkR[AIOS__X25519_LEN],
                            const uint8_t skE[AIOS__X25519_LEN])
{
    uint8_t dh[AIOS__X25519_LEN], kem_context[2 * AIOS__X25519_LEN];
    int rc;

    AIOS__CHECK_ARG(shared_secret != NULL && enc != NULL, "shared_secret or enc is NULL");
    AIOS__CHECK_ARG(pkR != NULL && skE != NULL, "pkR or skE is NULL");

    /* enc = SerializePublicKey(pk(skE)); kem_context = concat(enc, pkRm). */
    rc = aios__x25519_public(kem_context, skE);
    if (rc == AIOS_OK) {
        memcpy(kem_context + AIOS__X25519_LEN, pkR, AIOS__X25519_LEN);
        /* DH(skE, pkR): an all-zero output is refused (7.1.4). */
        rc = aios__x25519(dh, skE, pkR);
    }
    if (rc == AIOS_OK)
        rc = extract_and_expand(shared_secret, dh, kem_context);
    if (rc == AIOS_OK) {
        memcpy(enc, kem_context, AIOS__HPKE_ENC_LEN);
    } else {
        aios__wipe(shared_secret, AIOS__HPKE_SECRET_LEN);
        aios__wipe(enc, AIOS__HPKE_ENC_LEN);
    }
    aios__wipe(dh, sizeof(dh));
    aios__wipe(kem_context, sizeof(kem_context));
    return rc;
}

int aios__hpke_encap(uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                     uint8_t enc[AIOS__HPKE_ENC_LEN],
                     const uint8_t pkR[AIOS__X25519_LEN])
{
    uint8_t skE[AIOS__X25519_LEN], pkE[AIOS__X25519_LEN];
    int rc;

    AIOS__CHECK_ARG(shared_secret != NULL && enc != NULL, "shared_secret or enc is NULL");
    AIOS__CHECK_ARG(pkR != NULL, "pkR is NULL");
    /* GenerateKeyPair(); encap_derand recomputes pkE from skE. */
    rc = aios__x25519_keypair(pkE, skE);
    if (rc == AIOS_OK)
        rc = aios__hpke_encap_derand(shared_secret, enc, pkR, skE);
    else {
        aios__wipe(shared_secret, AIOS__HPKE_SECRET_LEN);
        aios__wipe(enc, AIOS__HPKE_ENC_LEN);
    }
    aios__wipe(skE, sizeof(skE));
    aios__wipe(pkE, sizeof(pkE));
    return rc;
}

int aios__hpke_decap(uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                     const uint8_t enc[AIOS__HPKE_ENC_LEN],
                     const uint8_t skR[AIOS__X25519_LEN])
{
    uint8_t dh[AIOS__X25519_LEN], kem_context[2 * AIOS__X25519_LEN];
    int rc;

    AIOS__CHECK_ARG(shared_secret != NULL, "shared_secret is NULL");
    AIOS__CHECK_ARG(enc != NULL && skR != NULL, "enc or skR is NULL");

    /* kem_context = concat(enc, SerializePublicKey(pk(skR))). */
    memcpy(kem_context, enc, AIOS__HPKE_ENC_LEN);
    rc = aios__x25519_public(kem_context + AIOS__HPKE_ENC_LEN, skR);
    if (rc == AIOS_OK)
        rc = aios__x25519(dh, skR, enc);     /* refuses an all-zero DH (7.1.4) */
    if (rc == AIOS_OK)
        rc = extract_and_expand(shared_secret, dh, kem_context);
    if (rc != AIOS_OK)
        aios__wipe(shared_secret, AIOS__HPKE_SECRET_LEN);
    aios__wipe(dh, sizeof(dh));
    aios__wipe(kem_context, sizeof(kem_context));
    return rc;
}

int aios__hpke_decap_from_dh(uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                             const uint8_t dh[AIOS__X25519_LEN],
                             const uint8_t enc[AIOS__HPKE_ENC_LEN],
                             const uint8_t pkR[AIOS__X25519_LEN])
{
    uint8_t kem_context[2 * AIOS__X25519_LEN];
    int rc;

    AIOS__CHECK_ARG(shared_secret != NULL, "shared_secret is NULL");
    AIOS__CHECK_ARG(dh != NULL && enc != NULL && pkR != NULL, "dh, enc or pkR is NULL");

    /* The DH was computed elsewhere (a key handle's agree): refuse its
     * all-zero output here too (7.1.4), whatever computed it. */
    if (aios__ct_is_zero(dh, AIOS__X25519_LEN)) {
        aios__wipe(shared_secret, AIOS__HPKE_SECRET_LEN);
        return aios__fail(AIOS_E_AUTH, "HPKE decap: the DH output is all zeros (enc of small "
                          "order)");
    }
    /* kem_context = concat(enc, pkRm). */
    memcpy(kem_context, enc, AIOS__HPKE_ENC_LEN);
    memcpy(kem_context + AIOS__HPKE_ENC_LEN, pkR, AIOS__X25519_LEN);
    rc = extract_and_expand(shared_secret, dh, kem_context);
    if (rc != AIOS_OK)
        aios__wipe(shared_secret, AIOS__HPKE_SECRET_LEN);
    aios__wipe(kem_context, sizeof(kem_context));
    return rc;
}

int aios__hpke_key_schedule_base(uint8_t key[AIOS__HPKE_KEY_LEN],
                                 uint8_t base_nonce[AIOS__HPKE_NONCE_LEN],
                                 const uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                                 const uint8_t *info, size_t info_len)
{
    uint8_t ksc[1 + 2 * HPKE_NH], secret[HPKE_NH];
    int rc;

    AIOS__CHECK_ARG(key != NULL && base_nonce != NULL, "key or base_nonce is NULL");
    AIOS__CHECK_ARG(shared_secret != NULL, "shared_secret is NULL");
    AIOS__CHECK_ARG(info != NULL || info_len == 0, "info is NULL with a nonzero length");

    /* 5.1 KeySchedule with mode_base, psk = psk_id = "" (VerifyPSKInputs
     * holds trivially: neither is given).
     *   psk_id_hash = LabeledExtract("", "psk_id_hash", psk_id)
     *   info_hash   = LabeledExtract("", "info_hash", info)
     *   key_schedule_context = concat(mode, psk_id_hash, info_hash)
     *   secret      = LabeledExtract(shared_secret, "secret", psk) */
    ksc[0] = HPKE_MODE_BASE;
    labeled_extract(ksc + 1, NULL, 0, hpke_suite_id, sizeof(hpke_suite_id), "psk_id_hash",
                    NULL, 0);
    labeled_extract(ksc + 1 + HPKE_NH, NULL, 0, hpke_suite_id, sizeof(hpke_suite_id),
                    "info_hash", info, info_len);
    labeled_extract(secret, shared_secret, AIOS__HPKE_SECRET_LEN, hpke_suite_id,
                    sizeof(hpke_suite_id), "secret", NULL, 0);
    rc = labeled_expand(key, AIOS__HPKE_KEY_LEN, secret, hpke_suite_id, sizeof(hpke_suite_id),
                        "key", ksc, sizeof(ksc));
    if (rc == AIOS_OK)
        rc = labeled_expand(base_nonce, AIOS__HPKE_NONCE_LEN, secret, hpke_suite_id,
                            sizeof(hpke_suite_id), "base_nonce", ksc, sizeof(ksc));
    /* exporter_secret is not derived: the envelope exports nothing. */
    if (rc != AIOS_OK) {
        aios__wipe(key, AIOS__HPKE_KEY_LEN);
        aios__wipe(base_nonce, AIOS__HPKE_NONCE_LEN);
    }
    aios__wipe(secret, sizeof(secret));
    aios__wipe(ksc, sizeof(ksc));
    return rc;
}

/* The context's AEAD key and the sequence-0 nonce (5.2: ComputeNonce(0)
 * is base_nonce xor 0, i.e. base_nonce) from a KEM shared secret. */
static int context_key(aios__aead_key **k, uint8_t nonce[AIOS__HPKE_NONCE_LEN],
                       const uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                       const uint8_t *info, size_t info_len)
{
    uint8_t key[AIOS__HPKE_KEY_LEN];
    int rc;

    *k = NULL;
    rc = aios__hpke_key_schedule_base(key, nonce, shared_secret, info, info_len);
    if (rc == AIOS_OK)
        rc = aios__aead_key_new(k, AIOS__AEAD_CHACHA20POLY1305, key);
    aios__wipe(key, sizeof(key));
    return rc;
}

static int seal_args(const uint8_t *enc, const uint8_t *ct, const uint8_t *pkR,
                     const uint8_t *info, size_t info_len, const uint8_t *aad, size_t aad_len,
                     const uint8_t *pt, size_t pt_len)
{
    AIOS__CHECK_ARG(enc != NULL && ct != NULL, "enc or ct is NULL");
    AIOS__CHECK_ARG(pkR != NULL, "pkR is NULL");
    AIOS__CHECK_ARG(info != NULL || info_len == 0, "info is NULL with a nonzero length");
    AIOS__CHECK_ARG(aad != NULL || aad_len == 0, "aad is NULL with a nonzero length");
    AIOS__CHECK_ARG(pt != NULL || pt_len == 0, "pt is NULL with a nonzero length");
    if (pt_len > SIZE_MAX - AIOS__HPKE_TAG_LEN)
        return aios__fail(AIOS_E_LIMIT, "HPKE seal: a %zu-byte message is too long", pt_len);
    return AIOS_OK;
}

int aios__hpke_seal_base_derand(uint8_t enc[AIOS__HPKE_ENC_LEN], uint8_t *ct,
                                const uint8_t pkR[AIOS__X25519_LEN],
                                const uint8_t *info, size_t info_len,
                                const uint8_t *aad, size_t aad_len,
                                const uint8_t *pt, size_t pt_len,
                                const uint8_t skE[AIOS__X25519_LEN])
{
    uint8_t shared_secret[AIOS__HPKE_SECRET_LEN], nonce[AIOS__HPKE_NONCE_LEN];
    aios__aead_key *k = NULL;
    int rc;

    rc = seal_args(enc, ct, pkR, info, info_len, aad, aad_len, pt, pt_len);
    if (rc != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(skE != NULL, "skE is NULL");

    /* 6.1 SealBase: SetupBaseS(pkR, info), then ctx.Seal(aad, pt). */
    rc = aios__hpke_encap_derand(shared_secret, enc, pkR, skE);
    if (rc == AIOS_OK)
        rc = context_key(&k, nonce, shared_secret, info, info_len);
    aios__wipe(shared_secret, sizeof(shared_secret));
    if (rc == AIOS_OK)   /* wipes ct itself if the AEAD fails */
        rc = aios__aead_seal(k, ct, ct + pt_len, pt, pt_len, aad, aad_len, nonce);
    aios__aead_key_free(k);
    aios__wipe(nonce, sizeof(nonce));
    if (rc != AIOS_OK)
        aios__wipe(enc, AIOS__HPKE_ENC_LEN);
    return rc;
}

int aios__hpke_seal_base(uint8_t enc[AIOS__HPKE_ENC_LEN], uint8_t *ct,
                         const uint8_t pkR[AIOS__X25519_LEN],
                         const uint8_t *info, size_t info_len,
                         const uint8_t *aad, size_t aad_len,
                         const uint8_t *pt, size_t pt_len)
{
    uint8_t skE[AIOS__X25519_LEN], pkE[AIOS__X25519_LEN];
    int rc;

    rc = seal_args(enc, ct, pkR, info, info_len, aad, aad_len, pt, pt_len);
    if (rc != AIOS_OK)
        return rc;
    /* A fresh ephemeral key pair per message, wiped as soon as it is used. */
    rc = aios__x25519_keypair(pkE, skE);
    if (rc == AIOS_OK)
        rc = aios__hpke_seal_base_derand(enc, ct, pkR, info, info_len, aad, aad_len, pt, pt_len,
                                         skE);
    else
        aios__wipe(enc, AIOS__HPKE_ENC_LEN);
    aios__wipe(skE, sizeof(skE));
    aios__wipe(pkE, sizeof(pkE));
    return rc;
}

static int open_args(const uint8_t *pt, const uint8_t *info, size_t info_len,
                     const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len)
{
    AIOS__CHECK_ARG(ct != NULL, "ct is NULL");
    AIOS__CHECK_ARG(info != NULL || info_len == 0, "info is NULL with a nonzero length");
    AIOS__CHECK_ARG(aad != NULL || aad_len == 0, "aad is NULL with a nonzero length");
    if (ct_len < AIOS__HPKE_TAG_LEN)
        return aios__fail(AIOS_E_FORMAT, "HPKE open: a %zu-byte ciphertext is shorter than "
                          "the %d-byte tag", ct_len, AIOS__HPKE_TAG_LEN);
    AIOS__CHECK_ARG(pt != NULL || ct_len == AIOS__HPKE_TAG_LEN,
                    "pt is NULL with a nonzero length");
    return AIOS_OK;
}

int aios__hpke_open_base(uint8_t *pt, const uint8_t enc[AIOS__HPKE_ENC_LEN],
                         const uint8_t skR[AIOS__X25519_LEN],
                         const uint8_t *info, size_t info_len,
                         const uint8_t *aad, size_t aad_len,
                         const uint8_t *ct, size_t ct_len)
{
    uint8_t shared_secret[AIOS__HPKE_SECRET_LEN];
    int rc;

    AIOS__CHECK_ARG(enc != NULL && skR != NULL, "enc or skR is NULL");
    if ((rc = open_args(pt, info, info_len, aad, aad_len, ct, ct_len)) != AIOS_OK)
        return rc;

    /* 6.1 OpenBase: SetupBaseR(enc, skR, info), then ctx.Open(aad, ct). */
    rc = aios__hpke_decap(shared_secret, enc, skR);
    if (rc == AIOS_OK)
        rc = aios__hpke_open_base_shared(pt, shared_secret, info, info_len, aad, aad_len, ct,
                                         ct_len);
    else if (ct_len > AIOS__HPKE_TAG_LEN)
        aios__wipe(pt, ct_len - AIOS__HPKE_TAG_LEN);
    aios__wipe(shared_secret, sizeof(shared_secret));
    return rc;
}

int aios__hpke_open_base_shared(uint8_t *pt, const uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                                const uint8_t *info, size_t info_len,
                                const uint8_t *aad, size_t aad_len,
                                const uint8_t *ct, size_t ct_len)
{
    uint8_t nonce[AIOS__HPKE_NONCE_LEN];
    aios__aead_key *k = NULL;
    size_t pt_len;
    int rc;

    AIOS__CHECK_ARG(shared_secret != NULL, "shared_secret is NULL");
    if ((rc = open_args(pt, info, info_len, aad, aad_len, ct, ct_len)) != AIOS_OK)
        return rc;
    pt_len = ct_len - AIOS__HPKE_TAG_LEN;

    /* The rest of SetupBaseR (KeySchedule), then ctx.Open(aad, ct). */
    rc = context_key(&k, nonce, shared_secret, info, info_len);
    if (rc == AIOS_OK) {
        rc = aios__aead_open(k, pt, ct, pt_len, ct + pt_len, aad, aad_len, nonce);
        if (rc == AIOS_E_AUTH)
            rc = aios__fail(AIOS_E_AUTH, "HPKE open: authentication failed (wrong recipient "
                            "key, or altered enc, ciphertext, aad or info)");
    }
    aios__aead_key_free(k);
    aios__wipe(nonce, sizeof(nonce));
    if (rc != AIOS_OK && pt_len > 0)
        aios__wipe(pt, pt_len);
    return rc;
}
