/*
 * The keyring file (docs/KEYRING.md): framing, the header and its check,
 * the master key and the data key, the encrypted body and its canonical,
 * bounded decoding and validation, and the atomic, durable write.
 *
 *   "AIOSKR" | 0x01 | u32be header_len | KeyringHeader | SHA-256(all before)
 *   | XChaCha20-Poly1305(data key, body_nonce, Keyring, ad = all before) | tag
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "keyring_internal.h"
#include "../proto/proto.h"
#include "keyring.pb-c.h"

/* Labels: associated data of the wrapped data key and HKDF infos. */
static const char DK_AD_LABEL[]   = "AIOSKR data key v1";
static const char KEK_INFO[]      = "AIOSKR key wrap v1";
static const char KCV_INFO[]      = "AIOSKR key check v1";

/* ------------------------------------------------------------ testing */

static void (*kr_random_fn)(uint8_t *out, size_t len) = NULL;
static int (*kr_generate_fn)(aios_key_type, uint8_t *, size_t *, uint8_t *, size_t *) = NULL;
static atomic_int kr_fail_step;

void aios__kr_set_random_for_testing(void (*fn)(uint8_t *out, size_t len))
{
    kr_random_fn = fn;
}

void aios__kr_set_generate_for_testing(int (*fn)(aios_key_type type, uint8_t *material,
                                                 size_t *material_len, uint8_t *public_raw,
                                                 size_t *public_len))
{
    kr_generate_fn = fn;
}

void aios__kr_fail_write_for_testing(int step)
{
    atomic_store(&kr_fail_step, step);
}

void aios__kr_random(uint8_t *out, size_t len)
{
    if (kr_random_fn)
        kr_random_fn(out, len);
    else
        aios__random_bytes(out, len);
}

int aios__kr_generate(aios_key_type type, uint8_t *material, size_t *material_len,
                      uint8_t *public_raw, size_t *public_len)
{
    if (kr_generate_fn)
        return kr_generate_fn(type, material, material_len, public_raw, public_len);
    return aios__local_generate(type, material, material_len, public_raw, public_len);
}

/* ------------------------------------------------------------ helpers */

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void be64_put(uint8_t *p, uint64_t v)
{
    be32_put(p, (uint32_t)(v >> 32));
    be32_put(p + 4, (uint32_t)v);
}

/* Record status with the current message (which a lower layer wrote),
 * prefixed.  The message is copied first: it lives in the buffer that
 * aios__fail writes. */
static int recast(int status, const char *path, const char *what)
{
    char old[AIOS__ERROR_MESSAGE_MAX];
    const char *m = aios_last_error_message();
    size_t n = strlen(m);
    if (n >= sizeof(old))
        n = sizeof(old) - 1;
    memcpy(old, m, n);
    old[n] = '\0';
    return aios__fail(status, "keyring %s: %s: %s", path, what, old);
}

size_t aios__kr_material_len(aios_key_type type)
{
    switch (type) {
    case AIOS_KEY_AES256:
    case AIOS_KEY_HMAC_SHA256:
    case AIOS_KEY_BLAKE2B:
    case AIOS_KEY_X25519:
    case AIOS_KEY_ECDSA_P256:  return 32;
    case AIOS_KEY_ECDSA_P384:  return 48;
    case AIOS_KEY_ECDSA_P521:  return 66;
    case AIOS_KEY_ED25519:     return AIOS__ED25519_SK_LEN;
    case AIOS_KEY_RSA:                      /* never in a keyring */
    case AIOS_KEY_TYPE__FORCE32: break;
    }
    return 0;
}

size_t aios__kr_public_len(aios_key_type type)
{
    switch (type) {
    case AIOS_KEY_ED25519:
    case AIOS_KEY_X25519:      return 32;
    case AIOS_KEY_ECDSA_P256:  return 65;
    case AIOS_KEY_ECDSA_P384:  return 97;
    case AIOS_KEY_ECDSA_P521:  return 133;
    case AIOS_KEY_AES256:
    case AIOS_KEY_HMAC_SHA256:
    case AIOS_KEY_BLAKE2B:
    case AIOS_KEY_RSA:
    case AIOS_KEY_TYPE__FORCE32: break;
    }
    return 0;
}

/* ------------------------------------------------------------- header */

static int header_validate(aios__kr_header *h, const Aios__V1__KeyringHeader *msg,
                           const char *path)
{
    const Aios__V1__KeyringArgon2id *a = msg->argon2id;
    int keyed = msg->unlock == AIOS_KEYRING_UNLOCK_PASSPHRASE ||
                msg->unlock == AIOS_KEYRING_UNLOCK_RAW_KEY;

    if (msg->unlock < AIOS_KEYRING_UNLOCK_PASSPHRASE || msg->unlock > AIOS_KEYRING_UNLOCK_PKCS11)
        return aios__fail(AIOS_E_VERSION, "keyring %s: unlock method %u is not one this "
                          "library knows (1..3)", path, msg->unlock);
    h->unlock = msg->unlock;
    if (msg->unlock == AIOS_KEYRING_UNLOCK_PASSPHRASE) {
        if (!a)
            return aios__fail(AIOS_E_KEYRING_CORRUPT,
                              "keyring %s: a passphrase keyring without Argon2id parameters",
                              path);
        if (a->salt.len != AIOS__KR_SALT_LEN)
            return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: Argon2id salt of %zu bytes, "
                              "not %d", path, a->salt.len, AIOS__KR_SALT_LEN);
        if (a->opslimit < 1 || a->opslimit > AIOS__KR_OPSLIMIT_MAX)
            return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: Argon2id opslimit %llu is "
                              "outside 1..%d", path, (unsigned long long)a->opslimit,
                              AIOS__KR_OPSLIMIT_MAX);
        if (a->memlimit < AIOS__KR_MEMLIMIT_MIN || a->memlimit > AIOS__KR_MEMLIMIT_MAX)
            return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: Argon2id memlimit %llu is "
                              "outside %d..%llu bytes", path, (unsigned long long)a->memlimit,
                              AIOS__KR_MEMLIMIT_MIN, (unsigned long long)AIOS__KR_MEMLIMIT_MAX);
        memcpy(h->salt, a->salt.data, AIOS__KR_SALT_LEN);
        h->opslimit = a->opslimit;
        h->memlimit = a->memlimit;
        if (a->base.n_unknown_fields)
            h->has_unknown = 1;
    } else if (a) {
        return aios__fail(AIOS_E_KEYRING_CORRUPT,
                          "keyring %s: Argon2id parameters in a keyring without a passphrase",
                          path);
    }
    if (keyed) {
        if (msg->data_key_nonce.len != AIOS__KR_NONCE_LEN ||
            msg->wrapped_data_key.len != AIOS__KR_WRAPPED_DK_LEN ||
            msg->key_check.len != AIOS__KR_KEY_CHECK_LEN)
            return aios__fail(AIOS_E_KEYRING_CORRUPT,
                              "keyring %s: the wrapped data key or key check has the wrong size",
                              path);
        memcpy(h->dk_nonce, msg->data_key_nonce.data, AIOS__KR_NONCE_LEN);
        memcpy(h->key_check, msg->key_check.data, AIOS__KR_KEY_CHECK_LEN);
    } else {
        if (msg->data_key_nonce.len != 0 || msg->key_check.len != 0 ||
            msg->wrapped_data_key.len == 0 ||
            msg->wrapped_data_key.len > AIOS__KR_PKCS11_WRAPPED_MAX)
            return aios__fail(AIOS_E_KEYRING_CORRUPT,
                              "keyring %s: the token-wrapped data key has the wrong size", path);
    }
    memcpy(h->wrapped_dk, msg->wrapped_data_key.data, msg->wrapped_data_key.len);
    h->wrapped_dk_len = msg->wrapped_data_key.len;
    if (msg->body_nonce.len != AIOS__KR_NONCE_LEN)
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: body nonce of %zu bytes, not %d",
                          path, msg->body_nonce.len, AIOS__KR_NONCE_LEN);
    memcpy(h->body_nonce, msg->body_nonce.data, AIOS__KR_NONCE_LEN);
    if (msg->body_len > AIOS__KR_BODY_MAX)
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: a body of %llu bytes is over the "
                          "limit of %zu", path, (unsigned long long)msg->body_len,
                          AIOS__KR_BODY_MAX);
    h->body_len = msg->body_len;
    if (msg->base.n_unknown_fields)
        h->has_unknown = 1;
    return AIOS_OK;
}

int aios__kr_header_parse(aios__kr_header *h, const uint8_t *file, size_t len, const char *path)
{
    Aios__V1__KeyringHeader *msg;
    uint8_t digest[AIOS__SHA256_LEN];
    uint32_t hlen;
    size_t body_room;
    int rc;

    memset(h, 0, sizeof(*h));
    if (len == 0)
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: the file is empty", path);
    if (memcmp(file, AIOS__KR_MAGIC, len < AIOS__KR_MAGIC_LEN ? len : AIOS__KR_MAGIC_LEN) != 0)
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: not a keyring file (no AIOSKR "
                          "magic)", path);
    if (len < AIOS__KR_PREFIX_LEN)
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: truncated at %zu bytes", path, len);
    if (file[AIOS__KR_MAGIC_LEN] != AIOS__KR_FORMAT_V1)
        return aios__fail(AIOS_E_VERSION, "keyring %s: format version %u is not supported (this "
                          "library reads version %d)", path, file[AIOS__KR_MAGIC_LEN],
                          AIOS__KR_FORMAT_V1);
    hlen = be32_get(file + AIOS__KR_MAGIC_LEN + 1);
    if (hlen == 0 || hlen > AIOS__KR_HEADER_MAX)
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: header length %u is outside 1..%d",
                          path, hlen, AIOS__KR_HEADER_MAX);
    if (len - AIOS__KR_PREFIX_LEN < (size_t)hlen + AIOS__KR_CHECK_LEN)
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: truncated at %zu bytes", path, len);
    /* The check tells a changed header apart from a wrong passphrase before
     * any Argon2id runs on parameters that may have been damaged. */
    aios__sha256(digest, file, AIOS__KR_PREFIX_LEN + (size_t)hlen);
    if (!aios__ct_equal(digest, file + AIOS__KR_PREFIX_LEN + hlen, AIOS__KR_CHECK_LEN))
        return aios__fail(AIOS_E_KEYRING_TAMPERED, "keyring %s: the header check failed: the "
                          "file was changed", path);
    msg = aios__proto_unpack(&aios__v1__keyring_header__descriptor, file + AIOS__KR_PREFIX_LEN,
                             hlen, "keyring header");
    if (!msg) {
        rc = aios_last_error_status();
        return rc == AIOS_E_NOMEM ? rc : recast(AIOS_E_KEYRING_CORRUPT, path, "header");
    }
    rc = aios__proto_check_canonical(msg, file + AIOS__KR_PREFIX_LEN, hlen, "keyring header", 0);
    if (rc == AIOS_E_FORMAT)
        rc = recast(AIOS_E_KEYRING_CORRUPT, path, "header");
    if (rc == AIOS_OK)
        rc = header_validate(h, msg, path);
    aios__v1__keyring_header__free_unpacked(msg, aios__proto_allocator());
    if (rc != AIOS_OK)
        return rc;
    h->ad_len = AIOS__KR_PREFIX_LEN + (size_t)hlen + AIOS__KR_CHECK_LEN;
    body_room = len - h->ad_len;
    if (body_room < AIOS__KR_TAG_LEN || body_room - AIOS__KR_TAG_LEN < h->body_len)
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: truncated at %zu bytes (%llu "
                          "expected)", path, len,
                          (unsigned long long)(h->ad_len + h->body_len + AIOS__KR_TAG_LEN));
    if (body_room - AIOS__KR_TAG_LEN > h->body_len)
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: %zu bytes after the end of the "
                          "keyring", path, (size_t)(body_room - AIOS__KR_TAG_LEN - h->body_len));
    return AIOS_OK;
}

/* prefix || header || check into out (cap AIOS__KR_PREFIX_LEN +
 * AIOS__KR_HEADER_MAX + AIOS__KR_CHECK_LEN). */
static int header_encode(uint8_t *out, size_t *out_len, const aios__kr_header *h)
{
    Aios__V1__KeyringHeader msg = AIOS__V1__KEYRING_HEADER__INIT;
    Aios__V1__KeyringArgon2id a = AIOS__V1__KEYRING_ARGON2ID__INIT;
    size_t n;

    msg.unlock = h->unlock;
    if (h->unlock == AIOS_KEYRING_UNLOCK_PASSPHRASE) {
        /* protobuf-c takes uint8_t *, but does not write through it. */
        a.salt.data = (uint8_t *)(uintptr_t)h->salt;
        a.salt.len = AIOS__KR_SALT_LEN;
        a.opslimit = h->opslimit;
        a.memlimit = h->memlimit;
        msg.argon2id = &a;
    }
    if (h->unlock != AIOS_KEYRING_UNLOCK_PKCS11) {
        msg.data_key_nonce.data = (uint8_t *)(uintptr_t)h->dk_nonce;
        msg.data_key_nonce.len = AIOS__KR_NONCE_LEN;
        msg.key_check.data = (uint8_t *)(uintptr_t)h->key_check;
        msg.key_check.len = AIOS__KR_KEY_CHECK_LEN;
    }
    msg.wrapped_data_key.data = (uint8_t *)(uintptr_t)h->wrapped_dk;
    msg.wrapped_data_key.len = h->wrapped_dk_len;
    msg.body_nonce.data = (uint8_t *)(uintptr_t)h->body_nonce;
    msg.body_nonce.len = AIOS__KR_NONCE_LEN;
    msg.body_len = h->body_len;
    n = aios__v1__keyring_header__get_packed_size(&msg);
    if (n == 0 || n > AIOS__KR_HEADER_MAX)
        return aios__fail(AIOS_E_INTERNAL, "keyring header of %zu bytes", n);
    memcpy(out, AIOS__KR_MAGIC, AIOS__KR_MAGIC_LEN);
    out[AIOS__KR_MAGIC_LEN] = AIOS__KR_FORMAT_V1;
    be32_put(out + AIOS__KR_MAGIC_LEN + 1, (uint32_t)n);
    if (aios__v1__keyring_header__pack(&msg, out + AIOS__KR_PREFIX_LEN) != n)
        return aios__fail(AIOS_E_INTERNAL, "keyring header: packed size mismatch");
    aios__sha256(out + AIOS__KR_PREFIX_LEN + n, out, AIOS__KR_PREFIX_LEN + n);
    *out_len = AIOS__KR_PREFIX_LEN + n + AIOS__KR_CHECK_LEN;
    return AIOS_OK;
}

/* ------------------------------------------------- master and data keys */

/* The associated data bound to the wrapped data key: the label and the
 * header's unlock fields, which never change for the life of a keyring. */
static size_t dk_ad(uint8_t *ad, const aios__kr_header *h)
{
    size_t n = sizeof(DK_AD_LABEL) - 1;
    memcpy(ad, DK_AD_LABEL, n);
    be32_put(ad + n, h->unlock);
    n += 4;
    if (h->unlock == AIOS_KEYRING_UNLOCK_PASSPHRASE) {
        memcpy(ad + n, h->salt, AIOS__KR_SALT_LEN);
        n += AIOS__KR_SALT_LEN;
        be64_put(ad + n, h->opslimit);
        be64_put(ad + n + 8, h->memlimit);
        n += 16;
    }
    return n;
}

#define DK_AD_MAX (sizeof(DK_AD_LABEL) - 1 + 4 + AIOS__KR_SALT_LEN + 16)

/* The master key of a passphrase or raw-key keyring, in secure memory. */
static int master_key(uint8_t **out, const aios__kr_header *h, const aios_keyring_options *o,
                      const char *path)
{
    uint8_t *mk = aios__secure_malloc(AIOS__KR_DATA_KEY_LEN);
    int rc = AIOS_OK;

    *out = NULL;
    if (!mk)
        return aios__fail(AIOS_E_NOMEM, "keyring %s: cannot allocate secure memory", path);
    if (h->unlock == AIOS_KEYRING_UNLOCK_PASSPHRASE) {
        rc = aios__argon2id(mk, AIOS__KR_DATA_KEY_LEN, o->secret, o->secret_len, h->salt,
                            h->opslimit, (size_t)h->memlimit);
        if (rc != AIOS_OK)
            rc = aios__error_prefix("keyring %s", path);
    } else {
        memcpy(mk, o->secret, AIOS__KR_DATA_KEY_LEN);
    }
    if (rc != AIOS_OK) {
        aios__secure_free(mk);
        return rc;
    }
    *out = mk;
    return AIOS_OK;
}

/* kek and key check from the master key. */
static int derive(uint8_t kek[AIOS__AEAD_KEY_LEN], uint8_t kcv[AIOS__KR_KEY_CHECK_LEN],
                  const uint8_t *mk)
{
    int rc = aios__hkdf_sha256(kek, AIOS__AEAD_KEY_LEN, NULL, 0, mk, AIOS__KR_DATA_KEY_LEN,
                               (const uint8_t *)KEK_INFO, sizeof(KEK_INFO) - 1);
    if (rc == AIOS_OK)
        rc = aios__hkdf_sha256(kcv, AIOS__KR_KEY_CHECK_LEN, NULL, 0, mk, AIOS__KR_DATA_KEY_LEN,
                               (const uint8_t *)KCV_INFO, sizeof(KCV_INFO) - 1);
    return rc;
}

int aios__kr_unlock_create(aios__kr_header *h, aios__aead_key **dk_out,
                           const aios_keyring_options *o, const char *path)
{
    uint8_t *dk = NULL, *mk = NULL;
    uint8_t kek[AIOS__AEAD_KEY_LEN], ad[DK_AD_MAX];
    aios__aead_key *kek_key = NULL;
    aios_buffer *wrapped = NULL;
    size_t adlen;
    int rc;

    *dk_out = NULL;
    memset(h, 0, sizeof(*h));
    h->unlock = (uint32_t)o->unlock;
    if (h->unlock == AIOS_KEYRING_UNLOCK_PASSPHRASE) {
        aios__kr_random(h->salt, AIOS__KR_SALT_LEN);
        h->opslimit = o->argon2_opslimit;
        h->memlimit = o->argon2_memlimit;
    }
    dk = aios__secure_malloc(AIOS__KR_DATA_KEY_LEN);
    if (!dk)
        return aios__fail(AIOS_E_NOMEM, "keyring %s: cannot allocate secure memory", path);
    aios__kr_random(dk, AIOS__KR_DATA_KEY_LEN);
    adlen = dk_ad(ad, h);

    if (h->unlock == AIOS_KEYRING_UNLOCK_PKCS11) {
        rc = aios__pkcs11_unlock_wrap(o->pkcs11_module, o->pkcs11_uri, o->pkcs11_pin, dk,
                                      AIOS__KR_DATA_KEY_LEN, ad, adlen, &wrapped);
        if (rc != AIOS_OK) {
            rc = aios__error_prefix("keyring %s: wrapping the data key in the token", path);
            goto out;
        }
        if (aios_buffer_len(wrapped) == 0 ||
            aios_buffer_len(wrapped) > AIOS__KR_PKCS11_WRAPPED_MAX) {
            rc = aios__fail(AIOS_E_INTERNAL, "keyring %s: the token wrapped the data key into "
                            "%zu bytes", path, aios_buffer_len(wrapped));
            goto out;
        }
        memcpy(h->wrapped_dk, aios_buffer_data(wrapped), aios_buffer_len(wrapped));
        h->wrapped_dk_len = aios_buffer_len(wrapped);
    } else {
        if ((rc = master_key(&mk, h, o, path)) != AIOS_OK)
            goto out;
        if ((rc = derive(kek, h->key_check, mk)) != AIOS_OK)
            goto out;
        if ((rc = aios__aead_key_new(&kek_key, AIOS__AEAD_XCHACHA20POLY1305, kek)) != AIOS_OK)
            goto out;
        aios__kr_random(h->dk_nonce, AIOS__KR_NONCE_LEN);
        rc = aios__aead_seal(kek_key, h->wrapped_dk, h->wrapped_dk + AIOS__KR_DATA_KEY_LEN, dk,
                             AIOS__KR_DATA_KEY_LEN, ad, adlen, h->dk_nonce);
        if (rc != AIOS_OK)
            goto out;
        h->wrapped_dk_len = AIOS__KR_WRAPPED_DK_LEN;
    }
    rc = aios__aead_key_new(dk_out, AIOS__AEAD_XCHACHA20POLY1305, dk);
out:
    aios__wipe(kek, sizeof(kek));
    aios__aead_key_free(kek_key);
    aios__secure_free(mk);
    aios__secure_free(dk);
    aios_buffer_free(wrapped);
    return rc;
}

int aios__kr_unlock_open(aios__aead_key **dk_out, const aios__kr_header *h,
                         const aios_keyring_options *o, const char *path)
{
    uint8_t *mk = NULL, *dk = NULL;
    uint8_t kek[AIOS__AEAD_KEY_LEN], kcv[AIOS__KR_KEY_CHECK_LEN], ad[DK_AD_MAX];
    aios__aead_key *kek_key = NULL;
    aios_buffer *unwrapped = NULL;
    size_t adlen;
    int rc;

    *dk_out = NULL;
    adlen = dk_ad(ad, h);
    if (h->unlock == AIOS_KEYRING_UNLOCK_PKCS11) {
        rc = aios__pkcs11_unlock_unwrap(o->pkcs11_module, o->pkcs11_uri, o->pkcs11_pin,
                                        h->wrapped_dk, h->wrapped_dk_len, ad, adlen, &unwrapped);
        if (rc == AIOS_E_AUTH) {
            /* The header check held, so the wrapped key is as written: the
             * token's key is not the one that wrapped it. */
            rc = aios__fail(AIOS_E_KEYRING_PASSPHRASE, "keyring %s: the PKCS#11 key does not "
                            "open the data key (a different key or token?)", path);
            goto out;
        }
        if (rc != AIOS_OK) {
            rc = aios__error_prefix("keyring %s: unwrapping the data key in the token", path);
            goto out;
        }
        if (aios_buffer_len(unwrapped) != AIOS__KR_DATA_KEY_LEN) {
            rc = aios__fail(AIOS_E_KEYRING_TAMPERED, "keyring %s: the token unwrapped a data key "
                            "of %zu bytes", path, aios_buffer_len(unwrapped));
            goto out;
        }
        rc = aios__aead_key_new(dk_out, AIOS__AEAD_XCHACHA20POLY1305, aios_buffer_data(unwrapped));
        goto out;
    }
    if ((rc = master_key(&mk, h, o, path)) != AIOS_OK)
        goto out;
    if ((rc = derive(kek, kcv, mk)) != AIOS_OK)
        goto out;
    if (!aios__ct_equal(kcv, h->key_check, AIOS__KR_KEY_CHECK_LEN)) {
        rc = aios__fail(AIOS_E_KEYRING_PASSPHRASE, "keyring %s: wrong %s", path,
                        h->unlock == AIOS_KEYRING_UNLOCK_PASSPHRASE ? "passphrase" : "master key");
        goto out;
    }
    if ((rc = aios__aead_key_new(&kek_key, AIOS__AEAD_XCHACHA20POLY1305, kek)) != AIOS_OK)
        goto out;
    dk = aios__secure_malloc(AIOS__KR_DATA_KEY_LEN);
    if (!dk) {
        rc = aios__fail(AIOS_E_NOMEM, "keyring %s: cannot allocate secure memory", path);
        goto out;
    }
    rc = aios__aead_open(kek_key, dk, h->wrapped_dk, AIOS__KR_DATA_KEY_LEN,
                         h->wrapped_dk + AIOS__KR_DATA_KEY_LEN, ad, adlen, h->dk_nonce);
    if (rc == AIOS_E_AUTH) {
        rc = aios__fail(AIOS_E_KEYRING_TAMPERED, "keyring %s: the master key is right but the "
                        "wrapped data key does not open: the file was changed", path);
        goto out;
    }
    if (rc == AIOS_OK)
        rc = aios__aead_key_new(dk_out, AIOS__AEAD_XCHACHA20POLY1305, dk);
out:
    aios__wipe(kek, sizeof(kek));
    aios__wipe(kcv, sizeof(kcv));
    aios__aead_key_free(kek_key);
    aios__secure_free(mk);
    aios__secure_free(dk);
    aios_buffer_free(unwrapped);
    return rc;
}

int aios__kr_same_unlock(const aios__kr_header *a, const aios__kr_header *b)
{
    return a->unlock == b->unlock && a->opslimit == b->opslimit && a->memlimit == b->memlimit &&
           memcmp(a->salt, b->salt, sizeof(a->salt)) == 0 &&
           memcmp(a->dk_nonce, b->dk_nonce, sizeof(a->dk_nonce)) == 0 &&
           memcmp(a->key_check, b->key_check, sizeof(a->key_check)) == 0 &&
           a->wrapped_dk_len == b->wrapped_dk_len &&
           memcmp(a->wrapped_dk, b->wrapped_dk, a->wrapped_dk_len) == 0;
}

/* --------------------------------------------------------------- model */

static int key_cmp(const void *id, const void *elem)
{
    return strcmp((const char *)id, ((const aios__kr_key *)elem)->id);
}

aios__kr_key *aios__kr_find_key(const aios__kr_model *m, const char *id, size_t *pos_out)
{
    size_t lo = 0, hi = m->nkeys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(id, &m->keys[mid]);
        if (c == 0) {
            if (pos_out)
                *pos_out = mid;
            return &m->keys[mid];
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (pos_out)
        *pos_out = lo;
    return NULL;
}

aios__kr_version *aios__kr_find_version(const aios__kr_key *k, uint32_t version)
{
    size_t lo = 0, hi = k->nversions;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k->versions[mid].version == version)
            return &k->versions[mid];
        if (k->versions[mid].version > version)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void aios__kr_key_clear(aios__kr_key *k)
{
    for (size_t i = 0; i < k->nattrs; i++) {
        aios__free((void *)(uintptr_t)k->attrs[i].name);
        aios__free((void *)(uintptr_t)k->attrs[i].value);
    }
    aios__free(k->attrs);
    for (size_t i = 0; i < k->nversions; i++)
        aios__keyver_unref(k->versions[i].kv);
    aios__free(k->versions);
    aios__free(k->id);
    memset(k, 0, sizeof(*k));
}

void aios__kr_model_clear(aios__kr_model *m)
{
    for (size_t i = 0; i < m->nkeys; i++)
        aios__kr_key_clear(&m->keys[i]);
    aios__free(m->keys);
    memset(m, 0, sizeof(*m));
}

/* ----------------------------------------------------------- body: scan */

/* Count what protobuf-c would allocate, before it does: keys, attributes
 * and versions against their limits, fields at every level against
 * AIOS__KR_FIELDS_MAX.  The body's field numbers: Keyring.keys = 2,
 * KeyringKey.attributes = 5, KeyringKey.versions = 8. */
static int scan_msg(const uint8_t *p, size_t len, size_t *fields, const char *path)
{
    aios__proto_field f;
    size_t pos = 0;
    int r;
    while ((r = aios__proto_next_field(p, len, &pos, &f, "keyring body")) == 1) {
        if (++*fields > AIOS__KR_FIELDS_MAX)
            return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: more than %u protobuf fields",
                              path, AIOS__KR_FIELDS_MAX);
    }
    return r == 0 ? AIOS_OK : recast(AIOS_E_KEYRING_CORRUPT, path, "body");
}

static int body_scan(const uint8_t *pt, size_t len, const char *path)
{
    aios__proto_field f, g;
    size_t pos = 0, keys = 0, versions = 0, fields = 0;
    int r, rc;

    while ((r = aios__proto_next_field(pt, len, &pos, &f, "keyring body")) == 1) {
        size_t kpos = 0, kattrs = 0, kversions = 0;
        if (++fields > AIOS__KR_FIELDS_MAX)
            return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: more than %u protobuf fields",
                              path, AIOS__KR_FIELDS_MAX);
        if (f.number != 2 || f.wire_type != 2)
            continue;
        if (++keys > AIOS__KR_KEYS_MAX)
            return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: more than %d keys", path,
                              AIOS__KR_KEYS_MAX);
        while ((r = aios__proto_next_field(f.data, f.len, &kpos, &g, "keyring body")) == 1) {
            if (++fields > AIOS__KR_FIELDS_MAX)
                return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: more than %u protobuf "
                                  "fields", path, AIOS__KR_FIELDS_MAX);
            if (g.wire_type != 2 || (g.number != 5 && g.number != 8))
                continue;
            if (g.number == 5 && ++kattrs > AIOS__ATTR_COUNT_MAX)
                return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: a key with more than %d "
                                  "attributes", path, AIOS__ATTR_COUNT_MAX);
            if (g.number == 8 && (++kversions > AIOS__KR_VERSIONS_MAX ||
                                  ++versions > AIOS__KR_TOTAL_VERSIONS_MAX))
                return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: more than %d versions of "
                                  "a key or %d in all", path, AIOS__KR_VERSIONS_MAX,
                                  AIOS__KR_TOTAL_VERSIONS_MAX);
            if ((rc = scan_msg(g.data, g.len, &fields, path)) != AIOS_OK)
                return rc;
        }
        if (r != 0)
            return recast(AIOS_E_KEYRING_CORRUPT, path, "body");
    }
    return r == 0 ? AIOS_OK : recast(AIOS_E_KEYRING_CORRUPT, path, "body");
}

/* ------------------------------------------------------- body: validate */

static int bad(const char *path, const char *id, const char *what)
{
    return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: key '%s': %s", path, id, what);
}

static int attrs_build(aios__kr_key *k, const Aios__V1__KeyringKey *mk, const char *path)
{
    int rc;
    if (mk->n_attributes == 0)
        return AIOS_OK;
    k->attrs = aios__calloc(mk->n_attributes, sizeof(*k->attrs));
    if (!k->attrs)
        return aios__nomem("keyring attributes");
    for (size_t i = 0; i < mk->n_attributes; i++) {
        const Aios__V1__KeyringAttribute *a = mk->attributes[i];
        if (i > 0 && strcmp(mk->attributes[i - 1]->name, a->name) >= 0)
            return bad(path, k->id, "attributes not in strictly ascending order of name");
        k->attrs[i].name = aios__strdup(a->name);
        k->attrs[i].value = aios__strdup(a->value);
        k->nattrs = i + 1;
        if (!k->attrs[i].name || !k->attrs[i].value)
            return aios__nomem("keyring attributes");
    }
    if ((rc = aios__attrs_check(k->attrs, k->nattrs)) != AIOS_OK)
        return recast(AIOS_E_KEYRING_CORRUPT, path, "attributes");
    return AIOS_OK;
}

static int versions_build(aios__kr_key *k, const Aios__V1__KeyringKey *mk, const char *path)
{
    size_t want_mat = aios__kr_material_len(k->type), want_pub = aios__kr_public_len(k->type);
    int rc;

    if (mk->n_versions == 0)
        return bad(path, k->id, "no versions");
    k->versions = aios__calloc(mk->n_versions, sizeof(*k->versions));
    if (!k->versions)
        return aios__nomem("keyring versions");
    k->cap = mk->n_versions;
    for (size_t i = 0; i < mk->n_versions; i++) {
        const Aios__V1__KeyringVersion *v = mk->versions[i];
        aios__kr_version *kv = &k->versions[i];
        if (v->version == 0 || (i > 0 && v->version <= mk->versions[i - 1]->version))
            return bad(path, k->id, "versions not in strictly ascending order from 1");
        if (v->state < AIOS_KEY_ACTIVE || v->state > AIOS_KEY_PENDING)
            return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: key '%s' version %u: unknown "
                              "state %u", path, k->id, v->version, v->state);
        if (v->created_at < 0 || v->not_after < 0)
            return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: key '%s' version %u: a "
                              "negative time", path, k->id, v->version);
        if (v->state == AIOS_KEY_DESTROYED ? v->material.len != 0 : v->material.len != want_mat)
            return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: key '%s' version %u: material "
                              "of %zu bytes for a %s version", path, k->id, v->version,
                              v->material.len, aios_key_state_name((aios_key_state)v->state));
        if (v->public_key.len != want_pub)
            return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: key '%s' version %u: public "
                              "key of %zu bytes", path, k->id, v->version, v->public_key.len);
        if (v->version < mk->min_decrypt_version && v->state != AIOS_KEY_DISABLED &&
            v->state != AIOS_KEY_DESTROYED)
            return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: key '%s' version %u is below "
                              "the minimum decrypt version but not disabled", path, k->id,
                              v->version);
        rc = aios__keyver_new(&kv->kv, (aios_key_state)v->state, v->material.data,
                              v->material.len, v->public_key.data, v->public_key.len,
                              v->max_uses, v->not_after);
        if (rc != AIOS_OK)
            return rc;
        atomic_store(&kv->kv->uses, v->uses);
        kv->version = v->version;
        kv->state = (aios_key_state)v->state;
        kv->created_at = v->created_at;
        k->nversions = i + 1;
    }
    return AIOS_OK;
}

static int key_build(aios__kr_key *k, const Aios__V1__KeyringKey *mk, const char *path)
{
    const aios__kr_version *p;
    int rc;

    if (aios__key_id_check(mk->id) != AIOS_OK)
        return recast(AIOS_E_KEYRING_CORRUPT, path, "key id");
    k->id = aios__strdup(mk->id);
    if (!k->id)
        return aios__nomem("a key id");
    if (!aios__key_type_valid((aios_key_type)mk->type))
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: key '%s': unknown type %u", path,
                          k->id, mk->type);
    if (!aios__key_type_local((aios_key_type)mk->type))
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: key '%s': type %u (%s) lives "
                          "only in a PKCS#11 token; a keyring cannot hold it", path, k->id,
                          mk->type, aios_key_type_name((aios_key_type)mk->type));
    k->type = (aios_key_type)mk->type;
    if (mk->purposes == 0 || (mk->purposes & ~aios__key_type_allowed(k->type)))
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: key '%s': purposes 0x%x do not "
                          "fit a %s key", path, k->id, mk->purposes, aios_key_type_name(k->type));
    k->purposes = mk->purposes;
    k->exportable = mk->exportable ? 1 : 0;
    if ((rc = attrs_build(k, mk, path)) != AIOS_OK)
        return rc;
    if (mk->min_decrypt_version < 1 || mk->min_decrypt_version > mk->primary_version)
        return bad(path, k->id, "minimum decrypt version outside 1..primary");
    if ((rc = versions_build(k, mk, path)) != AIOS_OK)
        return rc;
    k->primary = mk->primary_version;
    k->min_decrypt = mk->min_decrypt_version;
    p = aios__kr_find_version(k, k->primary);
    if (!p)
        return bad(path, k->id, "the primary version does not exist");
    if (p->state != AIOS_KEY_ACTIVE)
        return bad(path, k->id, "the primary version is not active");
    return AIOS_OK;
}

static int unknown_fields(const ProtobufCMessage *m)
{
    return m->n_unknown_fields != 0;
}

/* Wipe every copy of a secret protobuf-c made: material, and unknown
 * fields (which a newer writer's secrets could be in). */
static void wipe_unknown(ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        aios__wipe(m->unknown_fields[i].data, m->unknown_fields[i].len);
}

static void body_wipe(Aios__V1__Keyring *msg)
{
    wipe_unknown(&msg->base);
    for (size_t i = 0; i < msg->n_keys; i++) {
        Aios__V1__KeyringKey *k = msg->keys[i];
        wipe_unknown(&k->base);
        for (size_t j = 0; j < k->n_attributes; j++)
            wipe_unknown(&k->attributes[j]->base);
        for (size_t j = 0; j < k->n_versions; j++) {
            Aios__V1__KeyringVersion *v = k->versions[j];
            if (v->material.data)
                aios__wipe(v->material.data, v->material.len);
            wipe_unknown(&v->base);
        }
    }
}

static int model_build(aios__kr_model *m, const Aios__V1__Keyring *msg, const char *path)
{
    int rc;
    if (msg->generation == 0)
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: generation 0", path);
    m->generation = msg->generation;
    m->has_unknown = unknown_fields(&msg->base);
    if (msg->n_keys) {
        m->keys = aios__calloc(msg->n_keys, sizeof(*m->keys));
        if (!m->keys)
            return aios__nomem("keyring keys");
        m->cap = msg->n_keys;
    }
    for (size_t i = 0; i < msg->n_keys; i++) {
        const Aios__V1__KeyringKey *mk = msg->keys[i];
        if (i > 0 && strcmp(msg->keys[i - 1]->id, mk->id) >= 0)
            return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: keys not in strictly "
                              "ascending order of id", path);
        m->nkeys = i + 1;
        if ((rc = key_build(&m->keys[i], mk, path)) != AIOS_OK)
            return rc;
        m->total_versions += m->keys[i].nversions;
        if (unknown_fields(&mk->base))
            m->has_unknown = 1;
        for (size_t j = 0; j < mk->n_attributes; j++)
            m->has_unknown |= unknown_fields(&mk->attributes[j]->base);
        for (size_t j = 0; j < mk->n_versions; j++)
            m->has_unknown |= unknown_fields(&mk->versions[j]->base);
    }
    return AIOS_OK;
}

int aios__kr_body_decode(aios__kr_model *out, const uint8_t *pt, size_t len, const char *path)
{
    Aios__V1__Keyring *msg;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > AIOS__KR_BODY_MAX)
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: a body of %zu bytes is over the "
                          "limit of %zu", path, len, AIOS__KR_BODY_MAX);
    if ((rc = body_scan(pt, len, path)) != AIOS_OK)
        return rc;
    msg = aios__proto_unpack(&aios__v1__keyring__descriptor, pt, len, "keyring body");
    if (!msg) {
        rc = aios_last_error_status();
        return rc == AIOS_E_NOMEM ? rc : recast(AIOS_E_KEYRING_CORRUPT, path, "body");
    }
    rc = aios__proto_check_canonical(msg, pt, len, "keyring body", 1);
    if (rc == AIOS_E_FORMAT)
        rc = recast(AIOS_E_KEYRING_CORRUPT, path, "body");
    if (rc == AIOS_OK)
        rc = model_build(out, msg, path);
    body_wipe(msg);
    aios__v1__keyring__free_unpacked(msg, aios__proto_allocator());
    if (rc != AIOS_OK)
        aios__kr_model_clear(out);
    return rc;
}

/* --------------------------------------------------------- body: encode */

int aios__kr_body_encode(aios_buffer **out, const aios__kr_model *m)
{
    Aios__V1__Keyring msg = AIOS__V1__KEYRING__INIT;
    Aios__V1__KeyringKey *keys = NULL, **keyp = NULL;
    Aios__V1__KeyringAttribute *attrs = NULL, **attrp = NULL;
    Aios__V1__KeyringVersion *vers = NULL, **verp = NULL;
    size_t nattrs = 0, ai = 0, vi = 0, n;
    int rc = AIOS_OK;

    *out = NULL;
    for (size_t i = 0; i < m->nkeys; i++)
        nattrs += m->keys[i].nattrs;
    keys = aios__calloc(m->nkeys, sizeof(*keys));
    keyp = aios__calloc(m->nkeys, sizeof(*keyp));
    attrs = aios__calloc(nattrs, sizeof(*attrs));
    attrp = aios__calloc(nattrs, sizeof(*attrp));
    vers = aios__calloc(m->total_versions, sizeof(*vers));
    verp = aios__calloc(m->total_versions, sizeof(*verp));
    if (!keys || !keyp || !attrs || !attrp || !vers || !verp) {
        rc = aios__nomem("an encoded keyring");
        goto out;
    }
    msg.generation = m->generation;
    msg.n_keys = m->nkeys;
    msg.keys = keyp;
    for (size_t i = 0; i < m->nkeys; i++) {
        const aios__kr_key *k = &m->keys[i];
        Aios__V1__KeyringKey *mk = &keys[i];
        Aios__V1__KeyringKey init = AIOS__V1__KEYRING_KEY__INIT;
        *mk = init;
        keyp[i] = mk;
        mk->id = k->id;
        mk->type = (uint32_t)k->type;
        mk->purposes = k->purposes;
        mk->exportable = k->exportable ? 1 : 0;
        mk->primary_version = k->primary;
        mk->min_decrypt_version = k->min_decrypt;
        mk->n_attributes = k->nattrs;
        mk->attributes = attrp + ai;
        for (size_t j = 0; j < k->nattrs; j++, ai++) {
            Aios__V1__KeyringAttribute ainit = AIOS__V1__KEYRING_ATTRIBUTE__INIT;
            attrs[ai] = ainit;
            attrs[ai].name = (char *)(uintptr_t)k->attrs[j].name;
            attrs[ai].value = (char *)(uintptr_t)k->attrs[j].value;
            attrp[ai] = &attrs[ai];
        }
        mk->n_versions = k->nversions;
        mk->versions = verp + vi;
        for (size_t j = 0; j < k->nversions; j++, vi++) {
            const aios__kr_version *v = &k->versions[j];
            Aios__V1__KeyringVersion vinit = AIOS__V1__KEYRING_VERSION__INIT;
            Aios__V1__KeyringVersion *mv = &vers[vi];
            *mv = vinit;
            verp[vi] = mv;
            mv->version = v->version;
            mv->state = (uint32_t)v->state;
            mv->created_at = v->created_at;
            /* The material as stored unless this write destroys it.  The
             * keyring's lock is held, and only the keyring destroys. */
            if (v->state != AIOS_KEY_DESTROYED && v->kv->material) {
                mv->material.data = v->kv->material;
                mv->material.len = v->kv->material_len;
            }
            mv->public_key.data = (uint8_t *)(uintptr_t)v->kv->public_raw;
            mv->public_key.len = v->kv->public_len;
            mv->max_uses = v->kv->max_uses;
            mv->uses = atomic_load(&v->kv->uses);
            mv->not_after = v->kv->not_after;
        }
    }
    n = aios__v1__keyring__get_packed_size(&msg);
    if (n > AIOS__KR_BODY_MAX) {
        rc = aios__fail(AIOS_E_LIMIT, "the keyring would be %zu bytes, over the limit of %zu",
                        n, AIOS__KR_BODY_MAX);
        goto out;
    }
    if ((rc = aios__buffer_new(out, n, AIOS_BUFFER_SECURE)) != AIOS_OK)
        goto out;
    if (aios__v1__keyring__pack(&msg, aios_buffer_data_mut(*out)) != n) {
        aios_buffer_free(*out);
        *out = NULL;
        rc = aios__fail(AIOS_E_INTERNAL, "keyring body: packed size mismatch");
    }
out:
    aios__free(keys);
    aios__free(keyp);
    aios__free(attrs);
    aios__free(attrp);
    aios__free(vers);
    aios__free(verp);
    return rc;
}

/* ---------------------------------------------------------- file coding */

int aios__kr_file_seal(aios_buffer **out, aios__kr_header *h, const aios__aead_key *dk,
                       const uint8_t *pt, size_t len)
{
    uint8_t hdr[AIOS__KR_PREFIX_LEN + AIOS__KR_HEADER_MAX + AIOS__KR_CHECK_LEN];
    size_t hlen = 0;
    uint8_t *p;
    int rc;

    *out = NULL;
    aios__kr_random(h->body_nonce, AIOS__KR_NONCE_LEN);
    h->body_len = len;
    if ((rc = header_encode(hdr, &hlen, h)) != AIOS_OK)
        return rc;
    h->ad_len = hlen;
    if ((rc = aios__buffer_new(out, hlen + len + AIOS__KR_TAG_LEN, 0)) != AIOS_OK)
        return rc;
    p = aios_buffer_data_mut(*out);
    memcpy(p, hdr, hlen);
    rc = aios__aead_seal(dk, p + hlen, p + hlen + len, pt, len, hdr, hlen, h->body_nonce);
    if (rc != AIOS_OK) {
        aios_buffer_free(*out);
        *out = NULL;
    }
    return rc;
}

int aios__kr_file_encode(aios_buffer **out, aios__kr_header *h, const aios__aead_key *dk,
                         const aios__kr_model *m)
{
    aios_buffer *body = NULL;
    int rc;

    *out = NULL;
    if ((rc = aios__kr_body_encode(&body, m)) != AIOS_OK)
        return rc;
    rc = aios__kr_file_seal(out, h, dk, aios_buffer_data(body), aios_buffer_len(body));
    aios_buffer_free(body);
    return rc;
}

int aios__kr_file_decode(aios__kr_model *out, const aios__kr_header *h,
                         const aios__aead_key *dk, const uint8_t *file, size_t len,
                         const char *path)
{
    aios_buffer *pt = NULL;
    size_t blen = (size_t)h->body_len;
    int rc;

    memset(out, 0, sizeof(*out));
    if (h->ad_len + blen + AIOS__KR_TAG_LEN != len)
        return aios__fail(AIOS_E_INTERNAL, "keyring %s: header and file disagree", path);
    if ((rc = aios__buffer_new(&pt, blen, AIOS_BUFFER_SECURE)) != AIOS_OK)
        return rc;
    rc = aios__aead_open(dk, aios_buffer_data_mut(pt), file + h->ad_len, blen,
                         file + h->ad_len + blen, file, h->ad_len, h->body_nonce);
    if (rc == AIOS_E_AUTH)
        rc = aios__fail(AIOS_E_KEYRING_TAMPERED, "keyring %s: the keys do not authenticate: the "
                        "file was changed", path);
    if (rc == AIOS_OK)
        rc = aios__kr_body_decode(out, aios_buffer_data(pt), blen, path);
    aios_buffer_free(pt);
    return rc;
}

/* ------------------------------------------------------------------ I/O */

static int io_fail(int errnum, const char *what, const char *path)
{
    return aios__fail_errno(errnum == ENOENT ? AIOS_E_NOT_FOUND : AIOS_E_IO, errnum,
                            "keyring %s: %s", path, what);
}

int aios__kr_read_file(uint8_t **out, size_t *len_out, const char *path)
{
    struct stat st;
    uint8_t *buf;
    size_t len, got = 0;
    int fd, e;

    *out = NULL;
    *len_out = 0;
    do {
        /* O_NONBLOCK: a FIFO in its place must not hang the open. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return io_fail(errno, "cannot open", path);
    if (fstat(fd, &st) != 0) {
        e = errno;
        close(fd);
        return io_fail(e, "cannot stat", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: not a regular file", path);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > AIOS__KR_FILE_MAX) {
        close(fd);
        return aios__fail(AIOS_E_KEYRING_CORRUPT, "keyring %s: %lld bytes is over the limit of "
                          "%zu", path, (long long)st.st_size, (size_t)AIOS__KR_FILE_MAX);
    }
    len = (size_t)st.st_size;
    /* One byte more, to notice a file that grew since fstat. */
    buf = aios__malloc(len + 1);
    if (!buf) {
        close(fd);
        return aios__nomem("a keyring file");
    }
    for (;;) {
        ssize_t r = read(fd, buf + got, len + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno;
            aios__free(buf);
            close(fd);
            return io_fail(e, "cannot read", path);
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > len) {
            aios__free(buf);
            close(fd);
            return aios__fail(AIOS_E_IO, "keyring %s: the file grew while it was read", path);
        }
    }
    close(fd);
    *out = buf;
    *len_out = got;
    return AIOS_OK;
}

static char *path_with(const char *path, const char *suffix)
{
    size_t a = strlen(path), b = strlen(suffix);
    char *p = aios__malloc(a + b + 1);
    if (p) {
        memcpy(p, path, a);
        memcpy(p + a, suffix, b + 1);
    }
    return p;
}

/* The directory holding path ("." for a bare name). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n;
    char *d;
    if (!slash)
        return aios__strdup(".");
    n = slash == path ? 1 : (size_t)(slash - path);
    d = aios__malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* A step of the write that a test may make fail. */
static int step_fails(int step)
{
    if (atomic_load(&kr_fail_step) == step) {
        errno = EIO;
        return 1;
    }
    return 0;
}

static int sync_dir(const char *path, const char *dir)
{
    int fd, rc = AIOS_OK, e;
    do {
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0 || step_fails(5) || fsync(fd) != 0) {
        e = errno;
        rc = aios__fail_errno(AIOS_E_IO, e, "keyring %s: the change is written but its directory "
                              "%s could not be synced", path, dir);
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

int aios__kr_write_file(const char *path, const uint8_t *data, size_t len, int create,
                        int *committed)
{
    char *tmp = path_with(path, ".tmp"), *dir = dir_of(path);
    size_t done = 0;
    int fd = -1, rc = AIOS_OK, e;

    *committed = 0;
    /* Everything that can fail for want of memory, before the rename. */
    if (!tmp || !dir) {
        rc = aios__nomem("a path");
        goto out;
    }
    /* The writer lock is held, so a temp file is a crashed writer's. */
    if (unlink(tmp) != 0 && errno != ENOENT) {
        rc = aios__fail_errno(AIOS_E_IO, errno, "keyring %s: cannot remove the old temp file %s",
                              path, tmp);
        goto out;
    }
    do {
        fd = step_fails(1) ? -1 : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW |
                                       O_NOCTTY, 0600);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        rc = aios__fail_errno(AIOS_E_IO, errno, "keyring %s: cannot create %s", path, tmp);
        goto out;
    }
    while (done < len) {
        ssize_t w = step_fails(2) ? -1 : write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            e = w < 0 ? errno : EIO;
            rc = aios__fail_errno(AIOS_E_IO, e, "keyring %s: cannot write %s", path, tmp);
            goto fail;
        }
        done += (size_t)w;
    }
    if (step_fails(3) || fsync(fd) != 0) {
        rc = aios__fail_errno(AIOS_E_IO, errno, "keyring %s: cannot sync %s", path, tmp);
        goto fail;
    }
    e = close(fd);
    fd = -1;
    if (e != 0) {
        rc = aios__fail_errno(AIOS_E_IO, errno, "keyring %s: cannot close %s", path, tmp);
        goto fail;
    }
    if (create) {
        /* link() refuses an existing path: create never replaces a keyring.
         * Where the file system has no hard links, rename without
         * replacing does the same. */
        e = 0;
        if (step_fails(4) || link(tmp, path) != 0)
            e = errno;
#ifdef RENAME_NOREPLACE
        if (e == EPERM || e == ENOTSUP || e == ENOSYS)
            e = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0 ? 0 : errno;
#endif
        if (e != 0) {
            rc = e == EEXIST
                ? aios__fail(AIOS_E_KEY_EXISTS, "keyring %s: the file already exists", path)
                : aios__fail_errno(AIOS_E_IO, e, "keyring %s: cannot create it", path);
            goto fail;
        }
        *committed = 1;
        (void)unlink(tmp);
    } else {
        if (step_fails(4) || rename(tmp, path) != 0) {
            rc = aios__fail_errno(AIOS_E_IO, errno, "keyring %s: cannot replace it with %s",
                                  path, tmp);
            goto fail;
        }
        *committed = 1;
    }
    rc = sync_dir(path, dir);
    goto out;
fail:
    if (fd >= 0)
        close(fd);
    (void)unlink(tmp);
out:
    aios__free(tmp);
    aios__free(dir);
    return rc;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int aios__kr_lock(int *fd_out, const char *path, uint32_t timeout_ms)
{
    char *lp = path_with(path, ".lock");
    uint64_t start = now_ms();
    int fd, e;

    *fd_out = -1;
    if (!lp)
        return aios__nomem("a path");
    do {
        fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        e = errno;
        aios__fail_errno(AIOS_E_IO, e, "keyring %s: cannot open the lock file %s", path, lp);
        aios__free(lp);
        return AIOS_E_IO;
    }
    for (;;) {
        uint64_t waited;
        struct timespec ts = { 0, 10 * 1000000L };
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        e = errno;
        if (e == EINTR)
            continue;
        if (e != EWOULDBLOCK) {
            close(fd);
            aios__fail_errno(AIOS_E_IO, e, "keyring %s: cannot lock %s", path, lp);
            aios__free(lp);
            return AIOS_E_IO;
        }
        waited = now_ms() - start;
        if (waited >= timeout_ms) {
            close(fd);
            aios__fail(AIOS_E_KEYRING_LOCKED, "keyring %s: another writer holds %s (waited %u "
                       "ms)", path, lp, timeout_ms);
            aios__free(lp);
            return AIOS_E_KEYRING_LOCKED;
        }
        if (timeout_ms - waited < 10)
            ts.tv_nsec = (long)(timeout_ms - waited) * 1000000L;
        nanosleep(&ts, NULL);
    }
    aios__free(lp);
    *fd_out = fd;
    return AIOS_OK;
}

void aios__kr_remove_stale_temp(const char *path)
{
    char *tmp = path_with(path, ".tmp");
    if (tmp) {
        (void)unlink(tmp);
        aios__free(tmp);
    }
}
