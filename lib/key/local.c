/*
 * Operations on key material held in this process: keys from a keyring
 * and public-only keys.  The dispatcher in key.c has checked state,
 * purpose and limits and holds the version's material lock.
 *
 * Material layouts (also what the keyring stores):
 *   AES256, HMAC_SHA256, BLAKE2B   32 random bytes
 *   ED25519                        libsodium's 64-byte seed || public key
 *   X25519                         the 32-byte scalar
 *   ECDSA_P256 / P384 / P521       the big-endian scalar (32 / 48 / 66 bytes)
 */
#include <string.h>

#include "key_internal.h"
#include "../crypto/crypto.h"

static aios__ec_curve ec_curve(aios_key_type type)
{
    return type == AIOS_KEY_ECDSA_P521 ? AIOS__EC_P521
         : type == AIOS_KEY_ECDSA_P384 ? AIOS__EC_P384 : AIOS__EC_P256;
}

static int keyenc_alg(aios_key_type type)
{
    switch (type) {
    case AIOS_KEY_ED25519:    return AIOS__KEYENC_ED25519;
    case AIOS_KEY_X25519:     return AIOS__KEYENC_X25519;
    case AIOS_KEY_ECDSA_P256: return AIOS__KEYENC_P256;
    case AIOS_KEY_ECDSA_P384: return AIOS__KEYENC_P384;
    case AIOS_KEY_ECDSA_P521: return AIOS__KEYENC_P521;
    default:                  return 0;
    }
}

static int is_symmetric(aios_key_type type)
{
    return type == AIOS_KEY_AES256 || type == AIOS_KEY_HMAC_SHA256 || type == AIOS_KEY_BLAKE2B;
}

/* ---------------------------------------------------------- generate */

int aios__local_generate(aios_key_type type, uint8_t *material, size_t *material_len,
                         uint8_t *public_raw, size_t *public_len)
{
    int rc = AIOS_OK;
    *material_len = 0;
    *public_len = 0;
    if (aios__key_type_valid(type) && !aios__key_type_local(type))
        return aios__fail(AIOS_E_UNSUPPORTED, "%s keys are never generated here: they live "
                          "only in a PKCS#11 token", aios_key_type_name(type));
    switch (type) {
    case AIOS_KEY_AES256:
    case AIOS_KEY_HMAC_SHA256:
    case AIOS_KEY_BLAKE2B:
        aios__random_bytes(material, 32);
        *material_len = 32;
        return AIOS_OK;
    case AIOS_KEY_ED25519:
        rc = aios__ed25519_keypair(public_raw, material);
        *material_len = AIOS__ED25519_SK_LEN;
        *public_len = AIOS__ED25519_PK_LEN;
        break;
    case AIOS_KEY_X25519:
        rc = aios__x25519_keypair(public_raw, material);
        *material_len = AIOS__X25519_LEN;
        *public_len = AIOS__X25519_LEN;
        break;
    case AIOS_KEY_ECDSA_P256:
    case AIOS_KEY_ECDSA_P384:
    case AIOS_KEY_ECDSA_P521:
        rc = aios__ecdsa_keypair(ec_curve(type), material, public_raw);
        *material_len = aios__ec_scalar_len(ec_curve(type));
        *public_len = aios__ec_point_len(ec_curve(type));
        break;
    default:
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown key type %d", (int)type);
    }
    if (rc != AIOS_OK) {
        aios__wipe(material, AIOS__MATERIAL_MAX);
        *material_len = *public_len = 0;
    }
    return rc;
}

/* From a raw private key (seed for Ed25519) to material and public key. */
static int from_private(aios_key_type type, const uint8_t *priv, size_t priv_len,
                        uint8_t *material, size_t *material_len,
                        uint8_t *public_raw, size_t *public_len)
{
    int rc;
    switch (type) {
    case AIOS_KEY_ED25519:
        if (priv_len != AIOS__ED25519_SEED_LEN)
            return aios__fail(AIOS_E_FORMAT, "an Ed25519 private key is 32 bytes");
        rc = aios__ed25519_seed_keypair(public_raw, material, priv);
        *material_len = AIOS__ED25519_SK_LEN;
        *public_len = AIOS__ED25519_PK_LEN;
        return rc;
    case AIOS_KEY_X25519:
        if (priv_len != AIOS__X25519_LEN)
            return aios__fail(AIOS_E_FORMAT, "an X25519 private key is 32 bytes");
        memcpy(material, priv, priv_len);
        *material_len = priv_len;
        *public_len = AIOS__X25519_LEN;
        return aios__x25519_public(public_raw, material);
    case AIOS_KEY_ECDSA_P256:
    case AIOS_KEY_ECDSA_P384:
    case AIOS_KEY_ECDSA_P521:
        if (priv_len != aios__ec_scalar_len(ec_curve(type)))
            return aios__fail(AIOS_E_FORMAT, "an ECDSA %s private key is %zu bytes",
                              aios_key_type_name(type), aios__ec_scalar_len(ec_curve(type)));
        memcpy(material, priv, priv_len);
        *material_len = priv_len;
        *public_len = aios__ec_point_len(ec_curve(type));
        return aios__ecdsa_public(ec_curve(type), material, public_raw);
    default:
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "not an asymmetric key type");
    }
}

int aios__local_import(aios_key_type type, const uint8_t *in, size_t in_len,
                       uint8_t *material, size_t *material_len,
                       uint8_t *public_raw, size_t *public_len)
{
    uint8_t priv[AIOS__KEYENC_PRIV_MAX];
    size_t priv_len = 0;
    int alg = 0, rc;

    *material_len = 0;
    *public_len = 0;
    if (!aios__key_type_valid(type))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown key type %d", (int)type);
    if (!aios__key_type_local(type))
        return aios__fail(AIOS_E_UNSUPPORTED, "%s keys are never imported here: they live "
                          "only in a PKCS#11 token", aios_key_type_name(type));
    if (is_symmetric(type)) {
        if (in_len != 32)
            return aios__fail(AIOS_E_FORMAT, "a %s key is 32 raw bytes, not %zu",
                              aios_key_type_name(type), in_len);
        memcpy(material, in, 32);
        *material_len = 32;
        return AIOS_OK;
    }
    rc = aios__pkcs8_decode(in, in_len, &alg, priv, sizeof(priv), &priv_len);
    if (rc != AIOS_OK)
        return aios__error_prefix("importing a %s key", aios_key_type_name(type));
    if (alg != keyenc_alg(type)) {
        aios__wipe(priv, sizeof(priv));
        return aios__fail(AIOS_E_FORMAT, "the key is %s, not %s",
                          aios__keyenc_name((aios__keyenc_alg)alg), aios_key_type_name(type));
    }
    rc = from_private(type, priv, priv_len, material, material_len, public_raw, public_len);
    aios__wipe(priv, sizeof(priv));
    if (rc != AIOS_OK) {
        aios__wipe(material, AIOS__MATERIAL_MAX);
        *material_len = *public_len = 0;
    }
    return rc;
}

/* ------------------------------------------------------------- wrap */

/* The version's XChaCha20-Poly1305 key object, made on first use and kept
 * in the keyver (a key object costs a secure allocation: not per call). */
static const aios__aead_key *wrap_key(const aios_key *key)
{
    aios__keyver *v = key->ver;
    aios__aead_key *k = atomic_load(&v->wrap_key), *expected = NULL;
    if (k)
        return k;
    if (v->material_len != 32) {
        aios__fail(AIOS_E_INTERNAL, "key '%s': wrap key material is not 32 bytes", key->id);
        return NULL;
    }
    if (aios__aead_key_new(&k, AIOS__AEAD_XCHACHA20POLY1305, v->material) != AIOS_OK)
        return NULL;
    if (!atomic_compare_exchange_strong(&v->wrap_key, &expected, k)) {
        aios__aead_key_free(k);     /* another thread made it first */
        k = expected;
    }
    return k;
}

int aios__local_wrap(const aios_key *key, aios_buffer **out, const uint8_t *dk, size_t dk_len,
                     const uint8_t *ad, size_t ad_len)
{
    const aios__aead_key *aead = wrap_key(key);
    uint8_t *p;
    int rc;

    if (!aead)
        return aios_last_error_status();
    rc = aios__buffer_new(out, AIOS__LOCAL_WRAP_OVERHEAD + dk_len, 0);
    if (rc == AIOS_OK) {
        p = aios_buffer_data_mut(*out);
        p[0] = AIOS__LOCAL_WRAP_V1;
        aios__random_bytes(p + 1, 24);
        rc = aios__aead_seal(aead, p + 25, p + 25 + dk_len, dk, dk_len, ad, ad_len, p + 1);
        if (rc != AIOS_OK) {
            aios_buffer_free(*out);
            *out = NULL;
        }
    }
    return rc;
}

int aios__local_unwrap(const aios_key *key, aios_buffer **out, const uint8_t *wrapped,
                       size_t wrapped_len, const uint8_t *ad, size_t ad_len)
{
    const aios__aead_key *aead;
    size_t dk_len;
    int rc;

    if (wrapped_len < AIOS__LOCAL_WRAP_OVERHEAD + 1 ||
        wrapped_len > AIOS__LOCAL_WRAP_OVERHEAD + AIOS_KEY_DATA_KEY_MAX)
        return aios__fail(AIOS_E_FORMAT, "key '%s': a locally wrapped key is %d..%d bytes, not %zu",
                          key->id, AIOS__LOCAL_WRAP_OVERHEAD + 1,
                          AIOS__LOCAL_WRAP_OVERHEAD + AIOS_KEY_DATA_KEY_MAX, wrapped_len);
    if (wrapped[0] != AIOS__LOCAL_WRAP_V1)
        return aios__fail(AIOS_E_VERSION, "key '%s': unknown wrapped-key format 0x%02x",
                          key->id, wrapped[0]);
    dk_len = wrapped_len - AIOS__LOCAL_WRAP_OVERHEAD;
    if ((aead = wrap_key(key)) == NULL)
        return aios_last_error_status();
    rc = aios__buffer_new(out, dk_len, AIOS_BUFFER_SECURE | AIOS__BUFFER_SLAB);
    if (rc == AIOS_OK) {
        rc = aios__aead_open(aead, aios_buffer_data_mut(*out), wrapped + 25, dk_len,
                             wrapped + 25 + dk_len, ad, ad_len, wrapped + 1);
        if (rc != AIOS_OK) {
            aios_buffer_free(*out);
            *out = NULL;
            if (rc == AIOS_E_AUTH)
                rc = aios__fail(AIOS_E_AUTH,
                                "key '%s' version %u: the wrapped key or its associated data "
                                "does not authenticate", key->id, key->version);
        }
    }
    return rc;
}

/* ------------------------------------------------------------- sign */

int aios__local_sign(const aios_key *key, aios_buffer **out, const uint8_t *msg, size_t msg_len)
{
    uint8_t sig[AIOS__EC_DER_SIG_MAX];
    size_t sig_len = 0;
    int rc;

    switch (key->type) {
    case AIOS_KEY_ED25519:
        rc = aios__ed25519_sign(sig, msg, msg_len, key->ver->material);
        sig_len = AIOS__ED25519_SIG_LEN;
        break;
    case AIOS_KEY_ECDSA_P256:
    case AIOS_KEY_ECDSA_P384:
    case AIOS_KEY_ECDSA_P521:
        rc = aios__ecdsa_sign_der(ec_curve(key->type), sig, sizeof(sig), &sig_len, msg, msg_len,
                                  key->ver->material);
        break;
    default:
        return aios__fail(AIOS_E_KEY_USAGE, "key '%s' (%s) cannot sign", key->id,
                          aios_key_type_name(key->type));
    }
    if (rc == AIOS_OK)
        rc = aios__buffer_new(out, sig_len, 0);
    if (rc == AIOS_OK)
        memcpy(aios_buffer_data_mut(*out), sig, sig_len);
    return rc;
}

int aios__public_verify(const aios_key *key, const uint8_t *sig, size_t sig_len,
                        const uint8_t *msg, size_t msg_len)
{
    int rc;
    switch (key->type) {
    case AIOS_KEY_ED25519:
        if (sig_len != AIOS__ED25519_SIG_LEN)
            return aios__fail(AIOS_E_AUTH, "key '%s': an Ed25519 signature is 64 bytes, not %zu",
                              key->id, sig_len);
        rc = aios__ed25519_verify(sig, msg, msg_len, key->ver->public_raw);
        break;
    case AIOS_KEY_ECDSA_P256:
    case AIOS_KEY_ECDSA_P384:
    case AIOS_KEY_ECDSA_P521:
        rc = aios__ecdsa_verify_der(ec_curve(key->type), sig, sig_len, msg, msg_len,
                                    key->ver->public_raw, key->ver->public_len);
        /* A malformed signature is a failed verification, not bad input. */
        if (rc == AIOS_E_FORMAT)
            rc = AIOS_E_AUTH;
        break;
    default:
        return aios__fail(AIOS_E_KEY_USAGE, "key '%s' (%s) cannot verify", key->id,
                          aios_key_type_name(key->type));
    }
    if (rc == AIOS_E_AUTH)
        return aios__fail(AIOS_E_AUTH, "key '%s' version %u: signature does not verify",
                          key->id, key->version);
    return rc;
}

/* -------------------------------------------------------------- mac */

int aios__local_mac(const aios_key *key, uint8_t out[AIOS_KEY_MAC_LEN], const uint8_t *msg,
                    size_t msg_len)
{
    switch (key->type) {
    case AIOS_KEY_HMAC_SHA256:
        aios__hmac_sha256(out, key->ver->material, key->ver->material_len, msg, msg_len);
        return AIOS_OK;
    case AIOS_KEY_BLAKE2B:
        return aios__blake2b(out, AIOS_KEY_MAC_LEN, msg, msg_len, key->ver->material,
                             key->ver->material_len);
    default:
        return aios__fail(AIOS_E_KEY_USAGE, "key '%s' (%s) cannot MAC", key->id,
                          aios_key_type_name(key->type));
    }
}

/* ------------------------------------------------------------ agree */

int aios__local_agree(const aios_key *key, aios_buffer **out, const uint8_t *peer, size_t peer_len)
{
    int rc;
    if (key->type != AIOS_KEY_X25519)
        return aios__fail(AIOS_E_KEY_USAGE, "key '%s' (%s) cannot agree", key->id,
                          aios_key_type_name(key->type));
    if (peer_len != AIOS__X25519_LEN)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "an X25519 public key is 32 bytes, not %zu",
                          peer_len);
    if ((rc = aios__buffer_new(out, AIOS__X25519_LEN, AIOS_BUFFER_SECURE | AIOS__BUFFER_SLAB)) != AIOS_OK)
        return rc;
    rc = aios__x25519(aios_buffer_data_mut(*out), key->ver->material, peer);
    if (rc != AIOS_OK) {
        aios_buffer_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------- export */

int aios__local_export(const aios_key *key, aios_buffer **out)
{
    char pem[AIOS__PKCS8_PEM_MAX];
    size_t pem_len = 0;
    int rc;

    if (is_symmetric(key->type)) {
        if ((rc = aios__buffer_new(out, key->ver->material_len, AIOS_BUFFER_SECURE)) != AIOS_OK)
            return rc;
        memcpy(aios_buffer_data_mut(*out), key->ver->material, key->ver->material_len);
        return AIOS_OK;
    }
    /* Ed25519's private key is its 32-byte seed, the first half. */
    rc = aios__pkcs8_encode_pem(pem, sizeof(pem), &pem_len, (aios__keyenc_alg)keyenc_alg(key->type),
                                key->ver->material,
                                key->type == AIOS_KEY_ED25519 ? AIOS__ED25519_SEED_LEN
                                                              : key->ver->material_len);
    if (rc == AIOS_OK)
        rc = aios__buffer_new(out, pem_len, AIOS_BUFFER_SECURE);
    if (rc == AIOS_OK)
        memcpy(aios_buffer_data_mut(*out), pem, pem_len);
    aios__wipe(pem, sizeof(pem));
    return rc;
}

int aios__public_pem(const aios_key *key, aios_buffer **out)
{
    char pem[AIOS__SPKI_PEM_MAX];
    size_t pem_len = 0;
    int rc = aios__spki_encode_pem(pem, sizeof(pem), &pem_len,
                                   (aios__keyenc_alg)keyenc_alg(key->type),
                                   key->ver->public_raw, key->ver->public_len);
    if (rc != AIOS_OK)
        return rc;
    /* aios_buffer keeps a NUL after the data: the PEM is a C string. */
    if ((rc = aios__buffer_new(out, pem_len, 0)) != AIOS_OK)
        return rc;
    memcpy(aios_buffer_data_mut(*out), pem, pem_len);
    return AIOS_OK;
}

/* ------------------------------------------------- public-only keys */

static aios_key_type type_of_alg(int alg)
{
    switch (alg) {
    case AIOS__KEYENC_ED25519: return AIOS_KEY_ED25519;
    case AIOS__KEYENC_X25519:  return AIOS_KEY_X25519;
    case AIOS__KEYENC_P256:    return AIOS_KEY_ECDSA_P256;
    case AIOS__KEYENC_P384:    return AIOS_KEY_ECDSA_P384;
    case AIOS__KEYENC_P521:    return AIOS_KEY_ECDSA_P521;
    default:                   return (aios_key_type)0;
    }
}

int aios_key_from_public_pem(aios_key **out, const char *key_id, const char *pem, size_t pem_len)
{
    uint8_t pub[AIOS__KEYENC_PUB_MAX];
    size_t pub_len = 0;
    char fp[2 * AIOS__SHA256_LEN + 1];
    aios__keyver *ver = NULL;
    aios__key_desc desc;
    int alg = 0, rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(pem != NULL, "pem is NULL");
    rc = aios__spki_decode((const uint8_t *)pem, pem_len, &alg, pub, sizeof(pub), &pub_len);
    if (rc != AIOS_OK)
        return aios__error_prefix("aios_key_from_public_pem");
    if (key_id == NULL) {
        /* The SHA-256 of the SubjectPublicKeyInfo DER, as a stable name. */
        uint8_t der[AIOS__SPKI_DER_MAX], h[AIOS__SHA256_LEN];
        size_t der_len = 0;
        rc = aios__spki_encode_der(der, sizeof(der), &der_len, (aios__keyenc_alg)alg, pub, pub_len);
        if (rc != AIOS_OK)
            return rc;
        aios__sha256(h, der, der_len);
        if ((rc = aios__hex_encode(fp, sizeof(fp), h, sizeof(h))) != AIOS_OK)
            return rc;
        key_id = fp;
    }
    memset(&desc, 0, sizeof(desc));
    desc.key_id = key_id;
    desc.version = 1;
    desc.type = type_of_alg(alg);
    desc.purposes = desc.type == AIOS_KEY_X25519 ? AIOS_KEY_USE_DERIVE : AIOS_KEY_USE_VERIFY;
    if ((rc = aios__keyver_new(&ver, AIOS_KEY_ACTIVE, NULL, 0, pub, pub_len, 0, 0)) != AIOS_OK)
        return rc;
    rc = aios__key_new(out, aios__provider_public(), &desc, ver, NULL);
    aios__keyver_unref(ver);
    return rc;
}
