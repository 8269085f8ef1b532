/*
 * lib/key: internal API shared by the key module's files (not installed).
 *
 *   key.c        handles (aios_key), the operation dispatcher, state and
 *                usage checks, the provider object (aios_provider)
 *   local.c      operations on material held in this process (keyring and
 *                public keys): wrap, unwrap, sign, verify, mac, agree,
 *                generate, public/secret encodings
 *   keyring.c    the "local" provider: the keyring file and its lifecycle
 *   pkcs11.c     the "pkcs11" provider
 *   callback.c   the "callback:<name>" provider (host functions)
 *   dkcache.c    the data-key cache
 *
 * Ownership
 *   An aios_key is immutable metadata plus a reference to an aios__keyver:
 *   the live record of one key version shared by every handle to it (its
 *   state, its use counter and, for keys held in this process, its material
 *   in secure memory).  A keyring changes a version's state or destroys its
 *   material through the keyver, so every handle sees it at its next
 *   operation.  Providers whose keys live elsewhere (a token, a host KMS)
 *   keep no material; their vtable runs the operations.
 */
#ifndef AIOS_LIB_KEY_INTERNAL_H
#define AIOS_LIB_KEY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "aios/key.h"
#include "../core/internal.h"

/* Limits (docs/KEYRING.md). */
#define AIOS__KEY_ID_MAX_LEN      256
#define AIOS__ATTR_NAME_MAX       64
#define AIOS__ATTR_VALUE_MAX      1024
#define AIOS__ATTR_COUNT_MAX      64
#define AIOS__PROVIDER_NAME_MAX   64
#define AIOS__MATERIAL_MAX        66     /* a P-521 scalar is the largest */
#define AIOS__PUBLIC_MAX          133    /* a P-521 uncompressed point */

/* ------------------------------------------------------------- keyver */

typedef struct aios__keyver {
    atomic_int       refs;
    pthread_rwlock_t lock;          /* readers: operations; writer: destroy */
    atomic_int       state;         /* aios_key_state */
    atomic_uint_fast64_t uses;      /* wrap/sign/mac operations so far */
    uint64_t         max_uses;      /* 0: no limit */
    int64_t          not_after;     /* 0: never */
    uint8_t         *material;      /* secure memory, or NULL (token, host, public) */
    size_t           material_len;
    uint8_t          public_raw[AIOS__PUBLIC_MAX];
    size_t           public_len;    /* 0 for symmetric keys or not yet known */
    /* WRAP keys: the AEAD key object, made on first use (local.c). */
    struct aios__aead_key *_Atomic wrap_key;
} aios__keyver;

/* A new record holding a copy of material (may be NULL/0) and of the
 * public key (may be NULL/0), with refs = 1. */
int  aios__keyver_new(aios__keyver **out, aios_key_state state,
                      const uint8_t *material, size_t material_len,
                      const uint8_t *public_raw, size_t public_len,
                      uint64_t max_uses, int64_t not_after);
aios__keyver *aios__keyver_ref(aios__keyver *v);
void aios__keyver_unref(aios__keyver *v);          /* last ref wipes */
void aios__keyver_set_state(aios__keyver *v, aios_key_state state);
/* Wipe and free the material under the writer lock; state DESTROYED. */
void aios__keyver_destroy(aios__keyver *v);

/* ----------------------------------------------------------- provider */

struct aios_provider;

/* What a provider implements.  NULL members mean "run locally on the
 * keyver's material" (wrap, unwrap, sign, mac, agree, export) or "use the
 * keyver's public_raw" (public key). */
typedef struct aios__provider_vt {
    /* Resolve id and version (0: current) to a new handle. */
    int  (*get_key)(struct aios_provider *p, aios_key **out, const char *key_id, uint32_t version);
    int  (*wrap)(const aios_key *key, aios_buffer **out, const uint8_t *dk, size_t dk_len,
                 const uint8_t *ad, size_t ad_len);
    int  (*unwrap)(const aios_key *key, aios_buffer **out, const uint8_t *wrapped, size_t wrapped_len,
                   const uint8_t *ad, size_t ad_len);
    int  (*sign)(const aios_key *key, aios_buffer **out, const uint8_t *msg, size_t msg_len);
    /* Free what the provider attached to one handle (aios_key.prov_data). */
    void (*key_free)(void *prov_data);
    /* Free the provider's own state; called once on the last unref. */
    void (*destroy)(struct aios_provider *p);
} aios__provider_vt;

struct aios_provider {
    atomic_int                refs;
    char                      name[AIOS__PROVIDER_NAME_MAX + 1];
    const aios__provider_vt  *vt;
    void                     *impl;
};

/* A provider with refs = 1 (name is copied). */
int aios__provider_new(aios_provider **out, const char *name, const aios__provider_vt *vt,
                       void *impl);

/* The static provider of public-only keys ("public"), never freed. */
aios_provider *aios__provider_public(void);

/* ---------------------------------------------------------------- key */

typedef struct aios__attr {
    char *name;
    char *value;
} aios__attr;

struct aios_key {
    atomic_int      refs;
    aios_provider  *provider;       /* a reference is held */
    char           *id;
    uint32_t        version;
    aios_key_type   type;
    uint32_t        purposes;
    int             exportable;
    int64_t         created_at;
    aios__attr     *attrs;          /* sorted by name */
    size_t          nattrs;
    aios__keyver   *ver;            /* a reference is held */
    void           *prov_data;      /* freed by provider->vt->key_free */
};

/* What a new handle is; the attributes are copied and sorted. */
typedef struct aios__key_desc {
    const char                    *key_id;
    uint32_t                       version;
    aios_key_type                  type;
    uint32_t                       purposes;
    int                            exportable;
    int64_t                        created_at;
    const aios_key_attribute_pair *attrs;
    size_t                         nattrs;
} aios__key_desc;

/* A new handle with refs = 1, taking a reference to provider and ver. */
int aios__key_new(aios_key **out, aios_provider *provider, const aios__key_desc *desc,
                  aios__keyver *ver, void *prov_data);

/* Check id, attributes and limits (AIOS_E_INVALID_ARGUMENT with context). */
int aios__key_id_check(const char *key_id);
int aios__attrs_check(const aios_key_attribute_pair *attrs, size_t n);

/* The purposes a type allows, and the ones it gets when spec says 0. */
uint32_t aios__key_type_allowed(aios_key_type type);
uint32_t aios__key_type_natural(aios_key_type type);
/* 1 for a known type. */
int aios__key_type_valid(aios_key_type type);
/* 1 for a type whose material this process can generate, import and hold
 * (a keyring); 0 for AIOS_KEY_RSA, which only a PKCS#11 token holds, and
 * for unknown types. */
int aios__key_type_local(aios_key_type type);

/* --------------------------------------------- local material (local.c) */

/* Generate material for a type: *material_len bytes into material (cap
 * AIOS__MATERIAL_MAX, caller wipes) and the public key (cap
 * AIOS__PUBLIC_MAX; length 0 for symmetric types). */
int aios__local_generate(aios_key_type type, uint8_t *material, size_t *material_len,
                         uint8_t *public_raw, size_t *public_len);
/* Import: raw 32 bytes for symmetric types, PKCS#8 / SEC1 PEM or DER for
 * asymmetric ones (the type must match the key's algorithm). */
int aios__local_import(aios_key_type type, const uint8_t *in, size_t in_len,
                       uint8_t *material, size_t *material_len,
                       uint8_t *public_raw, size_t *public_len);

/* Operations on material (the caller holds ver->lock for reading and has
 * checked state, purpose and limits). */
int aios__local_wrap(const aios_key *key, aios_buffer **out, const uint8_t *dk, size_t dk_len,
                     const uint8_t *ad, size_t ad_len);
int aios__local_unwrap(const aios_key *key, aios_buffer **out, const uint8_t *wrapped,
                       size_t wrapped_len, const uint8_t *ad, size_t ad_len);
int aios__local_sign(const aios_key *key, aios_buffer **out, const uint8_t *msg, size_t msg_len);
int aios__local_mac(const aios_key *key, uint8_t out[AIOS_KEY_MAC_LEN], const uint8_t *msg,
                    size_t msg_len);
int aios__local_agree(const aios_key *key, aios_buffer **out, const uint8_t *peer, size_t peer_len);
int aios__local_export(const aios_key *key, aios_buffer **out);
/* Verify needs only the public key, so it works for every provider. */
int aios__public_verify(const aios_key *key, const uint8_t *sig, size_t sig_len,
                        const uint8_t *msg, size_t msg_len);
int aios__public_pem(const aios_key *key, aios_buffer **out);

/* The format of a locally wrapped data key (docs/KEYRING.md):
 * 0x01 || nonce (24) || ciphertext || tag (16), XChaCha20-Poly1305 under
 * the version's key, with ad as associated data. */
#define AIOS__LOCAL_WRAP_V1       0x01
#define AIOS__LOCAL_WRAP_OVERHEAD (1 + 24 + 16)

/* ------------------------------------------ PKCS#11 for keyring unlock */

/* Wrap and unwrap a keyring's data key with the AES key that an RFC 7512
 * URI names in a PKCS#11 module (pkcs11.c; the keyring's
 * AIOS_KEYRING_UNLOCK_PKCS11).  ad is bound as for aios_key_wrap.
 * *out is a new (secure, for unwrap) buffer. */
int aios__pkcs11_unlock_wrap(const char *module_path, const char *uri, const char *pin,
                             const uint8_t *in, size_t in_len, const uint8_t *ad, size_t ad_len,
                             aios_buffer **out);
int aios__pkcs11_unlock_unwrap(const char *module_path, const char *uri, const char *pin,
                               const uint8_t *in, size_t in_len, const uint8_t *ad, size_t ad_len,
                               aios_buffer **out);

/* -------------------------------------------------------------- time */

/* Unix seconds now (CLOCK_REALTIME); tests may pin it with
 * aios__key_set_clock_for_testing. */
int64_t aios__key_now(void);

/* A message is being sealed to k's public key (an envelope X25519
 * recipient: no key operation runs).  It is a new use of the key, checked
 * as aios_key_wrap checks one: the state must allow new data (ACTIVE),
 * not past not_after, and one use is counted against max_uses.  The
 * caller checks the key type. */
int aios__key_use_seal_to(const aios_key *k);
void aios__key_set_clock_for_testing(int64_t (*clock_fn)(void));

#endif /* AIOS_LIB_KEY_INTERNAL_H */
