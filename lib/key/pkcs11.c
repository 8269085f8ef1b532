/*
 * The "pkcs11" provider: keys inside a PKCS#11 token (an HSM, SoftHSM2),
 * and the keyring's PKCS#11 master-key unlock.  docs/PKCS11.md is the
 * user-facing description; this comment is the implementer's.
 *
 * Objects
 *   p11_module  one dlopen'ed module, shared by every provider on it and
 *               reference counted, so C_Initialize and C_Finalize run once
 *               (C_Finalize only if our C_Initialize did the initialising:
 *               CKR_CRYPTOKI_ALREADY_INITIALIZED means another part of the
 *               process owns it).
 *   p11_token   one logged-in token of a module, shared by every provider
 *               (and keyring unlock) that names it.  PKCS#11 login state
 *               belongs to the application, not to a session, so the
 *               token keeps an "anchor" session that is never used for
 *               operations and holds the login for as long as the token
 *               object lives, plus a small pool of sessions for
 *               operations (a session runs one operation at a time).
 *   provider    impl = its p11_token.
 *   key         prov_data = p11_keydata: the object handle found at
 *               get_key time and how to use it (for an RSA key also its
 *               public key: an object, or modulus and exponent to make a
 *               session object from for each wrap).
 * Both registries (modules and their tokens) live under g_lock; a token's
 * session pool has its own mutex and condition variable.
 *
 * A second provider on a token that this process has already logged in to
 * cannot ask the token to check its PIN again (C_Login answers
 * CKR_USER_ALREADY_LOGGED_IN), so the first login records an HMAC of its
 * PIN under a random per-process key and later opens must present the
 * same PIN (AIOS_E_PKCS11_PIN otherwise).
 *
 * Errors: every CK_RV other than CKR_OK becomes AIOS_E_PKCS11 with the
 * CKR name in the message, except PIN errors (AIOS_E_PKCS11_PIN) and the
 * failures a token reports for a changed wrapped key (AIOS_E_AUTH).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "key_internal.h"
#include "p11.h"
#include "../crypto/crypto.h"

/* Mechanism numbers the p11-kit header names differently or not at all.
 * PKCS#11 v3.0 gives RFC 5649 its own number (CKM_AES_KEY_WRAP_KWP); the
 * older CKM_AES_KEY_WRAP_PAD is what SoftHSM2 (2.6) implements RFC 5649
 * under.  docs/PKCS11.md explains how both are used. */
#define P11_CKM_AES_KEY_WRAP_KWP  0x0000210BUL
#define P11_CKM_AES_KEY_WRAP_PAD  0x0000210AUL
#ifndef CKR_AEAD_DECRYPT_FAILED
#  define CKR_AEAD_DECRYPT_FAILED 0x00000035UL   /* PKCS#11 v3.0 */
#endif

#define P11_POOL_MAX     8       /* sessions for operations, per token */
#define P11_GCM_IV_LEN   12
#define P11_GCM_TAG_LEN  16
#define P11_HASH_LEN     AIOS__SHA256_LEN
#define P11_LABEL_LEN    32      /* CK_TOKEN_INFO.label */
#define P11_EC_PARAMS_MAX 64
#define P11_RSA_MIN_BITS  2048
/* The format byte and the ciphertext (the modulus' length) must fit
 * AIOS_KEY_WRAPPED_MAX: moduli up to 8184 bits. */
#define P11_RSA_MOD_MAX   (AIOS_KEY_WRAPPED_MAX - 1)
#define P11_RSA_ATTR_MAX  4096    /* CKA_MODULUS or CKA_PUBLIC_EXPONENT read at all */

/* The OID forms of CKA_EC_PARAMS for the two curves we take. */
static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t oid_p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };

/* ============================================================ errors */

static const struct { CK_RV rv; const char *name; } ckr_names[] = {
    { CKR_CANCEL, "CKR_CANCEL" },
    { CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
    { CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID" },
    { CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
    { CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
    { CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
    { CKR_CANT_LOCK, "CKR_CANT_LOCK" },
    { CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY" },
    { CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE" },
    { CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID" },
    { CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID" },
    { CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED" },
    { CKR_DATA_INVALID, "CKR_DATA_INVALID" },
    { CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE" },
    { CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
    { CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY" },
    { CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
    { CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID" },
    { CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE" },
    { CKR_AEAD_DECRYPT_FAILED, "CKR_AEAD_DECRYPT_FAILED" },
    { CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED" },
    { CKR_FUNCTION_NOT_PARALLEL, "CKR_FUNCTION_NOT_PARALLEL" },
    { CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED" },
    { CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
    { CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE" },
    { CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT" },
    { CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED" },
    { CKR_KEY_NOT_WRAPPABLE, "CKR_KEY_NOT_WRAPPABLE" },
    { CKR_KEY_UNEXTRACTABLE, "CKR_KEY_UNEXTRACTABLE" },
    { CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
    { CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
    { CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
    { CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE" },
    { CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED" },
    { CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
    { CKR_PIN_INVALID, "CKR_PIN_INVALID" },
    { CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
    { CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED" },
    { CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
    { CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED" },
    { CKR_SESSION_COUNT, "CKR_SESSION_COUNT" },
    { CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
    { CKR_SESSION_PARALLEL_NOT_SUPPORTED, "CKR_SESSION_PARALLEL_NOT_SUPPORTED" },
    { CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY" },
    { CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID" },
    { CKR_SIGNATURE_LEN_RANGE, "CKR_SIGNATURE_LEN_RANGE" },
    { CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE" },
    { CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT" },
    { CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
    { CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
    { CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED" },
    { CKR_UNWRAPPING_KEY_HANDLE_INVALID, "CKR_UNWRAPPING_KEY_HANDLE_INVALID" },
    { CKR_UNWRAPPING_KEY_SIZE_RANGE, "CKR_UNWRAPPING_KEY_SIZE_RANGE" },
    { CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT" },
    { CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN" },
    { CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
    { CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED" },
    { CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID" },
    { CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN" },
    { CKR_USER_TOO_MANY_TYPES, "CKR_USER_TOO_MANY_TYPES" },
    { CKR_WRAPPED_KEY_INVALID, "CKR_WRAPPED_KEY_INVALID" },
    { CKR_WRAPPED_KEY_LEN_RANGE, "CKR_WRAPPED_KEY_LEN_RANGE" },
    { CKR_WRAPPING_KEY_HANDLE_INVALID, "CKR_WRAPPING_KEY_HANDLE_INVALID" },
    { CKR_WRAPPING_KEY_SIZE_RANGE, "CKR_WRAPPING_KEY_SIZE_RANGE" },
    { CKR_WRAPPING_KEY_TYPE_INCONSISTENT, "CKR_WRAPPING_KEY_TYPE_INCONSISTENT" },
    { CKR_RANDOM_NO_RNG, "CKR_RANDOM_NO_RNG" },
    { CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID" },
    { CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED" },
    { CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL" },
    { CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
    { CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED" },
    { CKR_MUTEX_BAD, "CKR_MUTEX_BAD" },
    { CKR_MUTEX_NOT_LOCKED, "CKR_MUTEX_NOT_LOCKED" },
    { CKR_FUNCTION_REJECTED, "CKR_FUNCTION_REJECTED" },
};

/* "CKR_PIN_INCORRECT", or "CKR_0x..." (into buf) for a code without a
 * name here. */
static const char *ckr_name(CK_RV rv, char buf[48])
{
    size_t i;
    for (i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++)
        if (ckr_names[i].rv == rv)
            return ckr_names[i].name;
    if (rv & CKR_VENDOR_DEFINED)
        snprintf(buf, 48, "CKR_VENDOR_DEFINED+0x%lx", (unsigned long)(rv & ~CKR_VENDOR_DEFINED));
    else
        snprintf(buf, 48, "CKR_0x%lx", (unsigned long)rv);
    return buf;
}

static int ckr_status(CK_RV rv)
{
    switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
        return AIOS_E_PKCS11_PIN;
    default:
        return AIOS_E_PKCS11;
    }
}

/* What tokens answer when a wrapped key or its ad was changed.  SoftHSM2
 * 2.6 answers CKR_GENERAL_ERROR to a failed GCM tag or RFC 5649 integrity
 * check (other modules CKR_FUNCTION_FAILED), so those count here too: this
 * is only asked about C_Decrypt and C_UnwrapKey, after C_DecryptInit took
 * the key and mechanism, and the message keeps the CKR name. */
static int ckr_is_auth(CK_RV rv)
{
    switch (rv) {
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_AEAD_DECRYPT_FAILED:
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE:
    case CKR_GENERAL_ERROR:
    case CKR_FUNCTION_FAILED:
        return 1;
    default:
        return 0;
    }
}

/* aios__fail(<status for rv>, "<fmt>: <CKR name>"). */
static int p11_fail(CK_RV rv, const char *fmt, ...) AIOS__PRINTF(2, 3);
static int p11_fail(CK_RV rv, const char *fmt, ...)
{
    char what[AIOS__ERROR_MESSAGE_MAX];
    char nbuf[48];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return aios__fail(ckr_status(rv), "%s: %s", what, ckr_name(rv, nbuf));
}

/* ========================================================== registry */

typedef struct p11_token p11_token;

typedef struct p11_module {
    struct p11_module *next;
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    int refs;                       /* under g_lock */
    int finalize;                   /* our C_Initialize initialised it */
    p11_token *tokens;              /* under g_lock */
    char path[];
} p11_module;

struct p11_token {
    p11_token *next;                /* in mod->tokens, under g_lock */
    p11_module *mod;
    CK_SLOT_ID slot;
    int refs;                       /* under g_lock */
    CK_FLAGS session_flags;
    CK_SESSION_HANDLE anchor;       /* holds the login; never runs operations */
    int has_pin_tag;
    uint8_t pin_tag[AIOS__SHA256_LEN];
    int has_gcm;                    /* CKM_AES_GCM encrypt + decrypt */
    CK_MECHANISM_TYPE kwp;          /* RFC 5649 wrap + unwrap, or 0 */
    int has_oaep;                   /* CKM_RSA_PKCS_OAEP encrypt + decrypt */
    atomic_int oaep_sha1_only;      /* it refused OAEP with SHA-256 parameters */
    char label[P11_LABEL_LEN + 1];  /* for messages */
    /* the session pool */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t max_sessions, nopen, nidle;
    CK_SESSION_HANDLE idle[P11_POOL_MAX];
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static p11_module *g_modules;
static uint8_t g_pin_key[32];
static int g_pin_key_ready;
static atomic_int g_force_kwp;
static atomic_int g_hide_oaep;

void aios__pkcs11_test_force_kwp(int on)
{
    atomic_store(&g_force_kwp, on ? 1 : 0);
}

void aios__pkcs11_test_hide_oaep(int on)
{
    atomic_store(&g_hide_oaep, on ? 1 : 0);
}

/* g_lock held. */
static int module_acquire(const char *path, p11_module **out)
{
    CK_C_GetFunctionList get_list;
    CK_FUNCTION_LIST_PTR f = NULL;
    CK_C_INITIALIZE_ARGS args;
    p11_module *m;
    void *dl, *sym;
    size_t plen = strlen(path);
    CK_RV rv;

    *out = NULL;
    (void)dlerror();
    /* RTLD_NODELETE: many modules do not survive being unmapped (threads,
     * atexit handlers of the libraries they link); a finalized module
     * staying mapped costs nothing. */
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (dl == NULL) {
        const char *e = dlerror();
        return aios__fail(AIOS_E_PKCS11, "pkcs11: cannot load module %s: %s", path,
                          e != NULL ? e : "unknown error");
    }
    for (m = g_modules; m != NULL; m = m->next) {
        if (m->dl == dl) {
            dlclose(dl);            /* the module keeps its own reference */
            m->refs++;
            *out = m;
            return AIOS_OK;
        }
    }
    sym = dlsym(dl, "C_GetFunctionList");
    if (sym == NULL) {
        dlclose(dl);
        return aios__fail(AIOS_E_PKCS11, "pkcs11: %s is not a PKCS#11 module (no C_GetFunctionList)",
                          path);
    }
    _Static_assert(sizeof(get_list) == sizeof(sym), "function and object pointers differ");
    memcpy(&get_list, &sym, sizeof(get_list));
    rv = get_list(&f);
    if (rv != CKR_OK || f == NULL) {
        dlclose(dl);
        return p11_fail(rv != CKR_OK ? rv : CKR_GENERAL_ERROR, "pkcs11: C_GetFunctionList of %s",
                        path);
    }
    if (f->version.major < 2) {
        dlclose(dl);
        return aios__fail(AIOS_E_PKCS11, "pkcs11: %s implements Cryptoki %u.%u; 2.x or later "
                          "is needed", path, f->version.major, f->version.minor);
    }
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;     /* several threads call it at once */
    rv = f->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        dlclose(dl);
        return p11_fail(rv, "pkcs11: C_Initialize of %s", path);
    }
    m = aios__calloc(1, sizeof(*m) + plen + 1);
    if (m == NULL) {
        if (rv == CKR_OK)
            f->C_Finalize(NULL);
        dlclose(dl);
        return aios__nomem("a PKCS#11 module");
    }
    m->dl = dl;
    m->f = f;
    m->refs = 1;
    m->finalize = rv == CKR_OK;
    memcpy(m->path, path, plen + 1);
    m->next = g_modules;
    g_modules = m;
    *out = m;
    return AIOS_OK;
}

/* g_lock held. */
static void module_release(p11_module *m)
{
    p11_module **pp;

    if (m == NULL || --m->refs > 0)
        return;
    for (pp = &g_modules; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    if (m->finalize)
        m->f->C_Finalize(NULL);
    dlclose(m->dl);
    aios__free(m);
}

/* A blank-padded PKCS#11 text field equals want.  Some modules pad with
 * NUL bytes instead of blanks; both are trimmed. */
static int field_eq(const CK_UTF8CHAR *field, size_t flen, const char *want)
{
    size_t n = flen;
    while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0'))
        n--;
    return strlen(want) == n && memcmp(field, want, n) == 0;
}

static void field_copy(char *out, size_t cap, const CK_UTF8CHAR *field, size_t flen)
{
    size_t n = flen < cap - 1 ? flen : cap - 1;
    memcpy(out, field, n);
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
        n--;
    out[n] = '\0';
    if (!aios__utf8_valid((const uint8_t *)out, n))
        memcpy(out, "?", 2);
}

/* The one initialised token of the module that the URI names. */
static int find_slot(p11_module *m, const aios__p11uri *u, CK_SLOT_ID *slot_out,
                     CK_TOKEN_INFO *ti_out)
{
    CK_FUNCTION_LIST_PTR f = m->f;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0, i, matches = 0;
    CK_RV rv;
    int tries, rc = AIOS_OK;

    if (u->library_manufacturer || u->library_description || u->has_library_version) {
        CK_INFO info;
        rv = f->C_GetInfo(&info);
        if (rv != CKR_OK)
            return p11_fail(rv, "pkcs11: C_GetInfo of %s", m->path);
        if ((u->library_manufacturer &&
             !field_eq(info.manufacturerID, sizeof(info.manufacturerID), u->library_manufacturer)) ||
            (u->library_description &&
             !field_eq(info.libraryDescription, sizeof(info.libraryDescription),
                       u->library_description)) ||
            (u->has_library_version &&
             (info.libraryVersion.major != u->library_version_major ||
              info.libraryVersion.minor != u->library_version_minor)))
            return aios__fail(AIOS_E_NOT_FOUND,
                              "pkcs11: module %s does not match the URI's library attributes",
                              m->path);
    }

    for (tries = 0; tries < 4; tries++) {
        rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
        if (rv != CKR_OK)
            return p11_fail(rv, "pkcs11: C_GetSlotList of %s", m->path);
        aios__free(slots);
        slots = aios__calloc(n > 0 ? n : 1, sizeof(*slots));
        if (slots == NULL)
            return aios__nomem("a PKCS#11 slot list");
        rv = f->C_GetSlotList(CK_TRUE, slots, &n);
        if (rv != CKR_BUFFER_TOO_SMALL)
            break;                  /* a token appeared in between: again */
    }
    if (rv != CKR_OK) {
        rc = p11_fail(rv, "pkcs11: C_GetSlotList of %s", m->path);
        goto out;
    }

    for (i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (u->has_slot_id && (uint64_t)slots[i] != u->slot_id)
            continue;
        if (u->slot_description || u->slot_manufacturer) {
            CK_SLOT_INFO si;
            if (f->C_GetSlotInfo(slots[i], &si) != CKR_OK)
                continue;
            if (u->slot_description &&
                !field_eq(si.slotDescription, sizeof(si.slotDescription), u->slot_description))
                continue;
            if (u->slot_manufacturer &&
                !field_eq(si.manufacturerID, sizeof(si.manufacturerID), u->slot_manufacturer))
                continue;
        }
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;               /* removed in between */
        if (!(ti.flags & CKF_TOKEN_INITIALIZED))
            continue;
        if (u->token && !field_eq(ti.label, sizeof(ti.label), u->token))
            continue;
        if (u->manufacturer &&
            !field_eq(ti.manufacturerID, sizeof(ti.manufacturerID), u->manufacturer))
            continue;
        if (u->serial && !field_eq(ti.serialNumber, sizeof(ti.serialNumber), u->serial))
            continue;
        if (u->model && !field_eq(ti.model, sizeof(ti.model), u->model))
            continue;
        if (++matches == 1) {
            *slot_out = slots[i];
            *ti_out = ti;
        }
    }
    if (matches == 0) {
        if (u->token)
            rc = aios__fail(AIOS_E_NOT_FOUND,
                            "pkcs11: no initialised token labelled '%s' in module %s matches "
                            "the URI", u->token, m->path);
        else
            rc = aios__fail(AIOS_E_NOT_FOUND,
                            "pkcs11: no initialised token in module %s matches the URI", m->path);
    } else if (matches > 1) {
        rc = aios__fail(AIOS_E_INVALID_ARGUMENT,
                        "pkcs11: %lu tokens in module %s match the URI; name one with token=, "
                        "serial= or slot-id=", (unsigned long)matches, m->path);
    }
out:
    aios__free(slots);
    return rc;
}

static void pin_tag(uint8_t tag[AIOS__SHA256_LEN], const char *pin, size_t pin_len)
{
    if (!g_pin_key_ready) {
        aios__random_bytes(g_pin_key, sizeof(g_pin_key));
        g_pin_key_ready = 1;
    }
    aios__hmac_sha256(tag, g_pin_key, sizeof(g_pin_key), (const uint8_t *)pin, pin_len);
}

/* Which wrapping mechanisms the token offers.  g_lock held. */
static int probe_mechanisms(p11_token *t)
{
    CK_FUNCTION_LIST_PTR f = t->mod->f;
    CK_MECHANISM_TYPE *list = NULL;
    CK_MECHANISM_INFO mi;
    CK_ULONG n = 0, i;
    int have_kwp = 0, have_pad = 0;
    CK_RV rv;

    rv = f->C_GetMechanismList(t->slot, NULL, &n);
    if (rv == CKR_OK) {
        list = aios__calloc(n > 0 ? n : 1, sizeof(*list));
        if (list == NULL)
            return aios__nomem("a PKCS#11 mechanism list");
        rv = f->C_GetMechanismList(t->slot, list, &n);
    }
    if (rv != CKR_OK) {
        aios__free(list);
        return p11_fail(rv, "pkcs11: C_GetMechanismList of token '%s'", t->label);
    }
    for (i = 0; i < n; i++) {
        CK_MECHANISM_TYPE mt = list[i];
        if (mt != CKM_AES_GCM && mt != P11_CKM_AES_KEY_WRAP_KWP &&
            mt != P11_CKM_AES_KEY_WRAP_PAD && mt != CKM_RSA_PKCS_OAEP)
            continue;
        if (f->C_GetMechanismInfo(t->slot, mt, &mi) != CKR_OK)
            continue;
        if (mt == CKM_AES_GCM)
            t->has_gcm = (mi.flags & (CKF_ENCRYPT | CKF_DECRYPT)) == (CKF_ENCRYPT | CKF_DECRYPT);
        else if (mt == CKM_RSA_PKCS_OAEP)
            t->has_oaep = (mi.flags & (CKF_ENCRYPT | CKF_DECRYPT)) == (CKF_ENCRYPT | CKF_DECRYPT);
        else if ((mi.flags & (CKF_WRAP | CKF_UNWRAP)) == (CKF_WRAP | CKF_UNWRAP))
            *(mt == P11_CKM_AES_KEY_WRAP_KWP ? &have_kwp : &have_pad) = 1;
    }
    aios__free(list);
    /* The v3.0 number is unambiguous; the older one is RFC 5649 in the
     * modules we know (SoftHSM2).  Our inputs are always a multiple of 8
     * bytes (SoftHSM2 pads other lengths its own way), and wrap_with()
     * refuses an output length other than RFC 5649's (docs/PKCS11.md). */
    t->kwp = have_kwp ? P11_CKM_AES_KEY_WRAP_KWP : have_pad ? P11_CKM_AES_KEY_WRAP_PAD : 0;
    return AIOS_OK;
}

static void token_free(p11_token *t)
{
    CK_FUNCTION_LIST_PTR f = t->mod->f;
    size_t i;
    for (i = 0; i < t->nidle; i++)
        f->C_CloseSession(t->idle[i]);
    if (t->anchor != CK_INVALID_HANDLE)
        f->C_CloseSession(t->anchor);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    aios__free(t);
}

/* The logged-in token of module m that the URI names.  g_lock held. */
static int token_acquire(p11_module *m, const aios__p11uri *u, const char *pin, size_t pin_len,
                         p11_token **out)
{
    CK_FUNCTION_LIST_PTR f = m->f;
    CK_TOKEN_INFO ti;
    CK_SLOT_ID slot = 0;
    p11_token *t;
    CK_RV rv;
    int rc;

    *out = NULL;
    memset(&ti, 0, sizeof(ti));
    if ((rc = find_slot(m, u, &slot, &ti)) != AIOS_OK)
        return rc;

    for (t = m->tokens; t != NULL; t = t->next) {
        if (t->slot != slot)
            continue;
        /* The same answers as a first login would give. */
        if (pin == NULL && t->has_pin_tag)
            return aios__fail(AIOS_E_INVALID_ARGUMENT,
                              "pkcs11: token '%s' needs a PIN: set the options' pin, or "
                              "pin-value or pin-source in the URI", t->label);
        if (pin != NULL && t->has_pin_tag) {
            uint8_t tag[AIOS__SHA256_LEN];
            int same;
            pin_tag(tag, pin, pin_len);
            same = aios__ct_equal(tag, t->pin_tag, sizeof(tag));
            aios__wipe(tag, sizeof(tag));
            if (!same)
                return aios__fail(AIOS_E_PKCS11_PIN,
                                  "pkcs11: token '%s' is logged in by this process with "
                                  "another PIN", t->label);
        }
        t->refs++;
        *out = t;
        return AIOS_OK;
    }

    t = aios__calloc(1, sizeof(*t));
    if (t == NULL)
        return aios__nomem("a PKCS#11 token");
    t->mod = m;
    t->slot = slot;
    t->refs = 1;
    t->anchor = CK_INVALID_HANDLE;
    field_copy(t->label, sizeof(t->label), ti.label, sizeof(ti.label));
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->max_sessions = P11_POOL_MAX;
    /* One session of the token's limit is the anchor. */
    if (ti.ulMaxSessionCount != CK_EFFECTIVELY_INFINITE &&
        ti.ulMaxSessionCount != CK_UNAVAILABLE_INFORMATION &&
        ti.ulMaxSessionCount - 1 < t->max_sessions)
        t->max_sessions = ti.ulMaxSessionCount > 1 ? ti.ulMaxSessionCount - 1 : 1;
    if (ti.ulMaxRwSessionCount != CK_EFFECTIVELY_INFINITE &&
        ti.ulMaxRwSessionCount != CK_UNAVAILABLE_INFORMATION &&
        ti.ulMaxRwSessionCount - 1 < t->max_sessions)
        t->max_sessions = ti.ulMaxRwSessionCount > 1 ? ti.ulMaxRwSessionCount - 1 : 1;

    /* Read-write where the token allows (session objects need no more
     * than read-only, but some modules want RW for wrap and unwrap). */
    t->session_flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    rv = f->C_OpenSession(slot, t->session_flags, NULL, NULL, &t->anchor);
    if (rv == CKR_TOKEN_WRITE_PROTECTED) {
        t->session_flags = CKF_SERIAL_SESSION;
        rv = f->C_OpenSession(slot, t->session_flags, NULL, NULL, &t->anchor);
    }
    if (rv != CKR_OK) {
        t->anchor = CK_INVALID_HANDLE;
        rc = p11_fail(rv, "pkcs11: C_OpenSession on token '%s'", t->label);
        goto fail;
    }

    if (pin != NULL) {
        rv = f->C_Login(t->anchor, CKU_USER, (CK_UTF8CHAR_PTR)(uintptr_t)pin, (CK_ULONG)pin_len);
    } else if (ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH) {
        rv = f->C_Login(t->anchor, CKU_USER, NULL, 0);     /* the PIN pad asks */
    } else if (ti.flags & CKF_LOGIN_REQUIRED) {
        rc = aios__fail(AIOS_E_INVALID_ARGUMENT,
                        "pkcs11: token '%s' needs a PIN: set the options' pin, or pin-value or "
                        "pin-source in the URI", t->label);
        goto fail;
    } else {
        rv = CKR_OK;
    }
    if (rv == CKR_USER_ALREADY_LOGGED_IN) {
        /* Another part of this process logged in: its PIN cannot be
         * checked against ours (docs/PKCS11.md). */
        rv = CKR_OK;
    } else if (rv == CKR_OK && pin != NULL) {
        pin_tag(t->pin_tag, pin, pin_len);
        t->has_pin_tag = 1;
    }
    if (rv != CKR_OK) {
        rc = p11_fail(rv, "pkcs11: C_Login to token '%s'", t->label);
        goto fail;
    }
    if ((rc = probe_mechanisms(t)) != AIOS_OK)
        goto fail;

    t->next = m->tokens;
    m->tokens = t;
    m->refs++;                      /* released by token_release */
    *out = t;
    return AIOS_OK;

fail:
    token_free(t);
    return rc;
}

/* g_lock held. */
static void token_release(p11_token *t)
{
    p11_token **pp;
    p11_module *m;

    if (t == NULL || --t->refs > 0)
        return;
    m = t->mod;
    for (pp = &m->tokens; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    token_free(t);
    module_release(m);
}

static void token_unref(p11_token *t)
{
    pthread_mutex_lock(&g_lock);
    token_release(t);
    pthread_mutex_unlock(&g_lock);
}

/* ====================================================== session pool */

static int session_get(p11_token *t, CK_SESSION_HANDLE *out)
{
    CK_RV rv;

    pthread_mutex_lock(&t->lock);
    for (;;) {
        if (t->nidle > 0) {
            *out = t->idle[--t->nidle];
            pthread_mutex_unlock(&t->lock);
            return AIOS_OK;
        }
        if (t->nopen < t->max_sessions) {
            t->nopen++;
            pthread_mutex_unlock(&t->lock);
            rv = t->mod->f->C_OpenSession(t->slot, t->session_flags, NULL, NULL, out);
            if (rv == CKR_OK)
                return AIOS_OK;
            pthread_mutex_lock(&t->lock);
            t->nopen--;
            pthread_cond_signal(&t->cond);
            if (rv == CKR_SESSION_COUNT && t->nopen > 0) {
                /* The token allows fewer sessions than it said: make do
                 * with the ones open now. */
                t->max_sessions = t->nopen;
                continue;
            }
            pthread_mutex_unlock(&t->lock);
            return p11_fail(rv, "pkcs11: C_OpenSession on token '%s'", t->label);
        }
        pthread_cond_wait(&t->cond, &t->lock);
    }
}

/* Give a session back.  After a failed call its state is unknown (an
 * operation may still be active, or the session gone), so it is closed;
 * that also destroys any session object left in it. */
static void session_put(p11_token *t, CK_SESSION_HANDLE s, int ok)
{
    if (!ok)
        t->mod->f->C_CloseSession(s);
    pthread_mutex_lock(&t->lock);
    if (ok)
        t->idle[t->nidle++] = s;
    else
        t->nopen--;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

/* ========================================================== opening */

/* Parse the URI, load the module, log in to the token.  *u is the caller's
 * to clear, on success and failure. */
static int p11_open(const char *module_path, const char *uri, const char *pin_arg,
                    aios__p11uri *u, p11_token **out)
{
    const char *path, *pin = NULL;
    char *pin_file = NULL;
    size_t pin_len = 0;
    p11_module *m = NULL;
    int rc;

    *out = NULL;
    memset(u, 0, sizeof(*u));
    if (uri == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "pkcs11: the URI is NULL");
    if ((rc = aios__p11uri_parse(u, uri, strlen(uri))) != AIOS_OK)
        return rc;
    if (u->vendor_path_attr[0] != '\0')
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "pkcs11 URI: vendor attribute '%s' narrows the match in a way libaios "
                          "does not understand; remove it", u->vendor_path_attr);
    path = module_path != NULL ? module_path : u->module_path;
    if (path == NULL) {
        if (u->module_name != NULL)
            return aios__fail(AIOS_E_INVALID_ARGUMENT,
                              "pkcs11: the URI names module-name=%s but not where it is: pass "
                              "the module's path, or add module-path= to the URI",
                              u->module_name);
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "pkcs11: no module: pass the module's path, or add module-path= to "
                          "the URI");
    }
    if (path[0] == '\0')
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "pkcs11: the module path is empty");
    if (module_path == NULL && path[0] != '/')
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "pkcs11 URI: module-path must be an absolute path");

    if (pin_arg != NULL) {
        pin = pin_arg;
        pin_len = strlen(pin_arg);
    } else if (u->pin_value != NULL) {
        pin = u->pin_value;
        pin_len = u->pin_value_len;
    } else if (u->pin_source != NULL) {
        rc = aios__p11uri_read_pin_source(u->pin_source, &pin_file, &pin_len);
        if (rc != AIOS_OK)
            return rc;
        pin = pin_file;
    }

    pthread_mutex_lock(&g_lock);
    rc = module_acquire(path, &m);
    if (rc == AIOS_OK) {
        rc = token_acquire(m, u, pin, pin_len, out);
        module_release(m);          /* a token holds its own reference */
    }
    pthread_mutex_unlock(&g_lock);
    aios__secure_free(pin_file);
    return rc;
}

/* ========================================================== objects */

static int find_objects(p11_token *t, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                        CK_OBJECT_HANDLE *found, CK_ULONG cap, CK_ULONG *count)
{
    CK_FUNCTION_LIST_PTR f = t->mod->f;
    CK_RV rv, rv2;

    *count = 0;
    rv = f->C_FindObjectsInit(s, tmpl, n);
    if (rv != CKR_OK)
        return p11_fail(rv, "pkcs11: C_FindObjectsInit on token '%s'", t->label);
    rv = f->C_FindObjects(s, found, cap, count);
    rv2 = f->C_FindObjectsFinal(s);
    if (rv == CKR_OK)
        rv = rv2;
    if (rv != CKR_OK)
        return p11_fail(rv, "pkcs11: C_FindObjects on token '%s'", t->label);
    return AIOS_OK;
}

/* Read CK_ULONG / CK_BBOOL attributes; *present = 0 when the object does
 * not have one (a token may refuse single attributes). */
static int get_attrs(p11_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                     CK_ATTRIBUTE *a, CK_ULONG n)
{
    CK_RV rv = t->mod->f->C_GetAttributeValue(s, obj, a, n);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
        return p11_fail(rv, "pkcs11: C_GetAttributeValue on token '%s'", t->label);
    return AIOS_OK;
}

static int attr_present(const CK_ATTRIBUTE *a)
{
    return a->ulValueLen != CK_UNAVAILABLE_INFORMATION;
}

/* How a wrapping key is used. */
enum { MODE_NONE = 0, MODE_GCM = AIOS__P11_WRAP_GCM, MODE_KWP = AIOS__P11_WRAP_KWP };

typedef struct p11_keydata {
    CK_OBJECT_HANDLE obj;           /* the secret or private key */
    int mode;                       /* AES: MODE_GCM or MODE_KWP */
    aios__ec_curve curve;           /* ECDSA */
    /* RSA: the modulus' length (the ciphertext's), and the public key to
     * encrypt with: an object, or else (CK_INVALID_HANDLE) modulus ||
     * exponent to make a session object from. */
    size_t mod_len;
    CK_OBJECT_HANDLE pub;
    uint8_t *pub_parts;
    size_t exp_len;
} p11_keydata;

static void keydata_free(p11_keydata *kd)
{
    if (kd != NULL)
        aios__free(kd->pub_parts);
    aios__free(kd);
}

/* An AES key: check it is AES-256 and choose how it wraps. */
static int aes_key_mode(p11_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, const char *what,
                        int *mode)
{
    CK_KEY_TYPE kt = 0;
    CK_ULONG vlen = 0;
    CK_BBOOL enc = CK_FALSE, dec = CK_FALSE, wrap = CK_FALSE, unwrap = CK_FALSE;
    CK_ATTRIBUTE a[] = {
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_VALUE_LEN, &vlen, sizeof(vlen) },
        { CKA_ENCRYPT, &enc, sizeof(enc) },
        { CKA_DECRYPT, &dec, sizeof(dec) },
        { CKA_WRAP, &wrap, sizeof(wrap) },
        { CKA_UNWRAP, &unwrap, sizeof(unwrap) },
    };
    int rc, gcm, kwp;

    *mode = MODE_NONE;
    if ((rc = get_attrs(t, s, obj, a, 6)) != AIOS_OK)
        return rc;
    if (!attr_present(&a[0]) || kt != CKK_AES)
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "pkcs11: %s on token '%s' is a secret key but not an AES key", what,
                          t->label);
    if (!attr_present(&a[1]) || vlen != 32)
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "pkcs11: %s on token '%s' is not an AES-256 key (CKA_VALUE_LEN %lu)",
                          what, t->label, attr_present(&a[1]) ? (unsigned long)vlen : 0UL);
    gcm = t->has_gcm && attr_present(&a[2]) && enc && attr_present(&a[3]) && dec &&
          !atomic_load(&g_force_kwp);
    kwp = t->kwp != 0 && attr_present(&a[4]) && wrap && attr_present(&a[5]) && unwrap;
    if (gcm)
        *mode = MODE_GCM;
    else if (kwp)
        *mode = MODE_KWP;
    else
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "pkcs11: %s on token '%s' can do neither AES-GCM (the token's "
                          "CKM_AES_GCM and the key's CKA_ENCRYPT/CKA_DECRYPT) nor AES key wrap "
                          "with padding (CKM_AES_KEY_WRAP_PAD/_KWP and CKA_WRAP/CKA_UNWRAP)",
                          what, t->label);
    return AIOS_OK;
}

static int curve_of(const uint8_t *params, size_t len, aios__ec_curve *curve)
{
    if (len == sizeof(oid_p256) && memcmp(params, oid_p256, len) == 0) {
        *curve = AIOS__EC_P256;
        return 1;
    }
    if (len == sizeof(oid_p384) && memcmp(params, oid_p384, len) == 0) {
        *curve = AIOS__EC_P384;
        return 1;
    }
    if (len == sizeof(oid_p521) && memcmp(params, oid_p521, len) == 0) {
        *curve = AIOS__EC_P521;
        return 1;
    }
    return 0;
}

/* CKA_EC_POINT: a DER OCTET STRING holding the uncompressed point (the
 * standard; P-521's 133 bytes take the long length form 0x81 0x85), or
 * the bare point (what some modules return). */
static int ec_point(const uint8_t *v, size_t len, aios__ec_curve curve, uint8_t *out,
                    size_t *out_len)
{
    size_t plen = aios__ec_point_len(curve);
    if (plen < 0x80 && len == plen + 2 && v[0] == 0x04 && v[1] == plen && v[2] == 0x04) {
        memcpy(out, v + 2, plen);
    } else if (plen >= 0x80 && plen <= 0xff && len == plen + 3 && v[0] == 0x04 &&
               v[1] == 0x81 && v[2] == plen && v[3] == 0x04) {
        memcpy(out, v + 3, plen);
    } else if (len == plen && v[0] == 0x04) {
        memcpy(out, v, plen);
    } else {
        return 0;
    }
    *out_len = plen;
    return 1;
}

/* An EC private key: its curve, whether it signs, and its public point. */
static int ec_key_info(p11_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                       const char *label, aios__ec_curve *curve, int *can_sign,
                       uint8_t *pub, size_t *pub_len)
{
    CK_KEY_TYPE kt = 0;
    CK_BBOOL sign = CK_FALSE;
    uint8_t params[P11_EC_PARAMS_MAX], point[2 * AIOS__EC_POINT_MAX];
    uint8_t id[AIOS__P11URI_ID_MAX];
    CK_ATTRIBUTE a[] = {
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_EC_PARAMS, params, sizeof(params) },
        { CKA_SIGN, &sign, sizeof(sign) },
        { CKA_ID, id, sizeof(id) },
    };
    CK_ATTRIBUTE pa[] = { { CKA_EC_POINT, point, sizeof(point) } };
    CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY;
    CK_KEY_TYPE ec = CKK_EC;
    CK_ATTRIBUTE q[5];
    CK_OBJECT_HANDLE found[2];
    CK_ULONG nq = 0, count = 0;
    int rc;

    if ((rc = get_attrs(t, s, obj, a, 4)) != AIOS_OK)
        return rc;
    if (!attr_present(&a[0]) || kt != CKK_EC)
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "pkcs11: private key '%s' on token '%s' is neither an EC nor an RSA "
                          "key", label, t->label);
    if (!attr_present(&a[1]) || !curve_of(params, a[1].ulValueLen, curve))
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "pkcs11: EC key '%s' on token '%s' is on a curve other than P-256, "
                          "P-384 or P-521 (or names it other than by OID)", label, t->label);
    *can_sign = attr_present(&a[2]) && sign;

    /* Some modules give the point on the private key itself. */
    if (t->mod->f->C_GetAttributeValue(s, obj, pa, 1) == CKR_OK && attr_present(&pa[0]) &&
        ec_point(point, pa[0].ulValueLen, *curve, pub, pub_len))
        return AIOS_OK;

    /* Else the public key with the same label, curve and (if any) id. */
    q[nq].type = CKA_CLASS; q[nq].pValue = &pub_class; q[nq++].ulValueLen = sizeof(pub_class);
    q[nq].type = CKA_KEY_TYPE; q[nq].pValue = &ec; q[nq++].ulValueLen = sizeof(ec);
    q[nq].type = CKA_LABEL; q[nq].pValue = (void *)(uintptr_t)label;
    q[nq++].ulValueLen = strlen(label);
    q[nq].type = CKA_EC_PARAMS; q[nq].pValue = params; q[nq++].ulValueLen = a[1].ulValueLen;
    if (attr_present(&a[3]) && a[3].ulValueLen > 0) {
        q[nq].type = CKA_ID; q[nq].pValue = id; q[nq++].ulValueLen = a[3].ulValueLen;
    }
    if ((rc = find_objects(t, s, q, nq, found, 2, &count)) != AIOS_OK)
        return rc;
    if (count == 0)
        return aios__fail(AIOS_E_KEY_NOT_FOUND,
                          "pkcs11: EC key '%s' on token '%s' has no public key object (a "
                          "CKO_PUBLIC_KEY with the same label) to read its point from",
                          label, t->label);
    if (count > 1)
        return aios__fail(AIOS_E_PKCS11,
                          "pkcs11: token '%s' has several public keys labelled '%s'",
                          t->label, label);
    pa[0].ulValueLen = sizeof(point);
    if ((rc = get_attrs(t, s, found[0], pa, 1)) != AIOS_OK)
        return rc;
    if (!attr_present(&pa[0]) || !ec_point(point, pa[0].ulValueLen, *curve, pub, pub_len))
        return aios__fail(AIOS_E_PKCS11,
                          "pkcs11: the public key '%s' on token '%s' has no uncompressed "
                          "CKA_EC_POINT", label, t->label);
    return AIOS_OK;
}

/* A private key's CKA_KEY_TYPE (CK_UNAVAILABLE_INFORMATION if it shows none). */
static int private_key_type(p11_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                            CK_KEY_TYPE *kt)
{
    CK_ATTRIBUTE a[] = { { CKA_KEY_TYPE, kt, sizeof(*kt) } };
    int rc;

    *kt = CK_UNAVAILABLE_INFORMATION;
    if ((rc = get_attrs(t, s, obj, a, 1)) != AIOS_OK)
        return rc;
    if (!attr_present(&a[0]) || a[0].ulValueLen != sizeof(*kt))
        *kt = CK_UNAVAILABLE_INFORMATION;
    return AIOS_OK;
}

/* An RSA private key that wraps: it may decrypt; its modulus has 2048
 * bits or more and its wrapped keys fit AIOS_KEY_WRAPPED_MAX; and there
 * is a public key to encrypt with: a CKO_PUBLIC_KEY with the same modulus
 * that may encrypt (whatever its label), else the private key's
 * CKA_PUBLIC_EXPONENT, from which each wrap makes a session object. */
static int rsa_key_info(p11_token *t, CK_SESSION_HANDLE s, p11_keydata *kd, const char *label)
{
    CK_BBOOL dec = CK_FALSE, yes = CK_TRUE;
    CK_ATTRIBUTE a[] = {
        { CKA_DECRYPT, &dec, sizeof(dec) },
        { CKA_MODULUS, NULL, 0 },
        { CKA_PUBLIC_EXPONENT, NULL, 0 },
    };
    CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY;
    CK_KEY_TYPE rsa = CKK_RSA;
    CK_ATTRIBUTE q[4];
    CK_OBJECT_HANDLE found[1];
    CK_ULONG count = 0;
    uint8_t *buf = NULL;
    size_t raw_len, mod_len, exp_len, skip = 0, bits;
    unsigned int top;
    int rc;

    /* Lengths first (pValue NULL), then the values. */
    if ((rc = get_attrs(t, s, kd->obj, a, 3)) != AIOS_OK)
        return rc;
    if (!attr_present(&a[0]) || !dec)
        return aios__fail(AIOS_E_UNSUPPORTED, "pkcs11: RSA key '%s' on token '%s' may not "
                          "decrypt (CKA_DECRYPT), so it cannot unwrap", label, t->label);
    if (!attr_present(&a[1]) || a[1].ulValueLen == 0 || a[1].ulValueLen > P11_RSA_ATTR_MAX)
        return aios__fail(AIOS_E_UNSUPPORTED, "pkcs11: RSA key '%s' on token '%s' shows no "
                          "usable modulus (CKA_MODULUS)", label, t->label);
    raw_len = a[1].ulValueLen;
    exp_len = attr_present(&a[2]) && a[2].ulValueLen <= P11_RSA_ATTR_MAX ? a[2].ulValueLen : 0;
    buf = aios__calloc(1, raw_len + exp_len + 1);
    if (buf == NULL)
        return aios__nomem("an RSA public key");
    a[1].pValue = buf;
    a[2].pValue = buf + raw_len;
    if ((rc = get_attrs(t, s, kd->obj, a + 1, exp_len > 0 ? 2 : 1)) != AIOS_OK)
        goto out;
    if (!attr_present(&a[1]) || a[1].ulValueLen != raw_len) {
        rc = aios__fail(AIOS_E_PKCS11, "pkcs11: token '%s' gave the modulus of RSA key '%s' "
                        "with two lengths", t->label, label);
        goto out;
    }
    if (exp_len > 0 && (!attr_present(&a[2]) || a[2].ulValueLen != exp_len))
        exp_len = 0;

    /* A big-endian integer: leading zero bytes do not count. */
    while (skip < raw_len && buf[skip] == 0)
        skip++;
    mod_len = raw_len - skip;
    bits = mod_len * 8;
    for (top = mod_len > 0 ? buf[skip] : 0x80u; top != 0 && !(top & 0x80u); top <<= 1)
        bits--;
    if (mod_len == 0 || bits < P11_RSA_MIN_BITS) {
        rc = aios__fail(AIOS_E_UNSUPPORTED, "pkcs11: RSA key '%s' on token '%s' has %zu bits; "
                        "RSA keys that wrap have %d bits or more", label, t->label, bits,
                        P11_RSA_MIN_BITS);
        goto out;
    }
    if (mod_len > P11_RSA_MOD_MAX) {
        rc = aios__fail(AIOS_E_UNSUPPORTED, "pkcs11: RSA key '%s' on token '%s' has %zu bits: "
                        "its wrapped keys (%zu bytes) would exceed AIOS_KEY_WRAPPED_MAX (%d); "
                        "RSA keys that wrap have at most %d bits", label, t->label, bits,
                        1 + mod_len, AIOS_KEY_WRAPPED_MAX, P11_RSA_MOD_MAX * 8);
        goto out;
    }
    kd->mod_len = mod_len;

    /* The public key object: same modulus (as the token writes it), may
     * encrypt. */
    q[0].type = CKA_CLASS; q[0].pValue = &pub_class; q[0].ulValueLen = sizeof(pub_class);
    q[1].type = CKA_KEY_TYPE; q[1].pValue = &rsa; q[1].ulValueLen = sizeof(rsa);
    q[2].type = CKA_MODULUS; q[2].pValue = buf; q[2].ulValueLen = (CK_ULONG)raw_len;
    q[3].type = CKA_ENCRYPT; q[3].pValue = &yes; q[3].ulValueLen = sizeof(yes);
    if ((rc = find_objects(t, s, q, 4, found, 1, &count)) != AIOS_OK)
        goto out;
    if (count > 0) {
        kd->pub = found[0];
    } else if (exp_len > 0) {
        /* modulus (without leading zeros) || exponent, kept for wraps */
        memmove(buf, buf + skip, mod_len);
        memmove(buf + mod_len, buf + raw_len, exp_len);
        kd->pub = CK_INVALID_HANDLE;
        kd->pub_parts = buf;
        kd->exp_len = exp_len;
        buf = NULL;
    } else {
        rc = aios__fail(AIOS_E_KEY_NOT_FOUND, "pkcs11: RSA key '%s' on token '%s' has no public "
                        "key to wrap with: no CKO_PUBLIC_KEY with its modulus that may encrypt "
                        "(CKA_ENCRYPT), and no CKA_PUBLIC_EXPONENT on the private key", label,
                        t->label);
    }
out:
    aios__free(buf);
    return rc;
}

/* ================================================ wrap, unwrap, sign */

static const uint8_t empty_ad[1] = { 0 };

static void gcm_params(CK_GCM_PARAMS *gp, uint8_t *iv, const uint8_t *ad, size_t ad_len)
{
    memset(gp, 0, sizeof(*gp));
    gp->pIv = iv;
    gp->ulIvLen = P11_GCM_IV_LEN;
    gp->ulIvBits = P11_GCM_IV_LEN * 8;
    /* Some modules refuse a NULL pointer even with a zero length. */
    gp->pAAD = (CK_BYTE_PTR)(uintptr_t)(ad_len > 0 ? ad : empty_ad);
    gp->ulAADLen = (CK_ULONG)ad_len;
    gp->ulTagBits = P11_GCM_TAG_LEN * 8;
}

/* The KWP plaintext: dk || SHA-256(ad), zero-padded to a multiple of 8. */
static size_t kwp_plain_len(size_t dk_len)
{
    return (dk_len + P11_HASH_LEN + 7) / 8 * 8;
}

static int wrap_with(p11_token *t, CK_OBJECT_HANDLE kek, int mode, const char *what,
                     aios_buffer **out, const uint8_t *dk, size_t dk_len,
                     const uint8_t *ad, size_t ad_len)
{
    CK_FUNCTION_LIST_PTR f = t->mod->f;
    CK_SESSION_HANDLE s;
    uint8_t res[2 + AIOS__MATERIAL_MAX + P11_HASH_LEN + 8 + 8];
    size_t res_len = 0;
    CK_RV rv = CKR_OK;
    int rc, ok = 1;

    *out = NULL;
    if (dk_len == 0 || dk_len > AIOS_KEY_DATA_KEY_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "a data key is 1..%d bytes, not %zu",
                          AIOS_KEY_DATA_KEY_MAX, dk_len);
    if ((rc = session_get(t, &s)) != AIOS_OK)
        return rc;

    if (mode == MODE_GCM) {
        uint8_t *iv = res + 1;
        CK_GCM_PARAMS gp;
        CK_MECHANISM mech = { CKM_AES_GCM, &gp, sizeof(gp) };
        CK_ULONG ct_len = dk_len + P11_GCM_TAG_LEN;

        res[0] = AIOS__P11_WRAP_GCM;
        aios__random_bytes(iv, P11_GCM_IV_LEN);
        gcm_params(&gp, iv, ad, ad_len);
        rv = f->C_EncryptInit(s, &mech, kek);
        if (rv == CKR_OK)
            rv = f->C_Encrypt(s, (CK_BYTE_PTR)(uintptr_t)dk, (CK_ULONG)dk_len,
                              res + 1 + P11_GCM_IV_LEN, &ct_len);
        if (rv != CKR_OK) {
            ok = 0;
            rc = p11_fail(rv, "pkcs11: AES-GCM wrap with %s on token '%s'", what, t->label);
        } else if (ct_len != dk_len + P11_GCM_TAG_LEN) {
            rc = aios__fail(AIOS_E_PKCS11, "pkcs11: AES-GCM on token '%s' gave %lu bytes for "
                            "%zu", t->label, (unsigned long)ct_len, dk_len);
        } else {
            res_len = 1 + P11_GCM_IV_LEN + ct_len;
        }
    } else {
        size_t plen = kwp_plain_len(dk_len);
        uint8_t *plain = aios__secure_malloc(plen);
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
        CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
        CK_MECHANISM mech = { t->kwp, NULL, 0 };
        CK_OBJECT_HANDLE tmp = CK_INVALID_HANDLE;
        CK_ULONG wl = plen + 8;

        if (plain == NULL) {
            session_put(t, s, 1);
            return aios__nomem("a data key");
        }
        memset(plain, 0, plen);
        memcpy(plain, dk, dk_len);
        aios__sha256(plain + dk_len, ad_len > 0 ? ad : empty_ad, ad_len);
        {
            CK_ATTRIBUTE tmpl[] = {
                { CKA_CLASS, &cls, sizeof(cls) },
                { CKA_KEY_TYPE, &kt, sizeof(kt) },
                { CKA_TOKEN, &no, sizeof(no) },
                { CKA_SENSITIVE, &no, sizeof(no) },
                { CKA_EXTRACTABLE, &yes, sizeof(yes) },
                { CKA_VALUE, plain, (CK_ULONG)plen },
            };
            /* A session object holding the plaintext, wrapped, then
             * destroyed (closing the session destroys it too). */
            rv = f->C_CreateObject(s, tmpl, 6, &tmp);
        }
        aios__secure_free(plain);
        res[0] = AIOS__P11_WRAP_KWP;
        res[1] = (uint8_t)dk_len;
        if (rv == CKR_OK) {
            rv = f->C_WrapKey(s, &mech, kek, tmp, res + 2, &wl);
            if (f->C_DestroyObject(s, tmp) != CKR_OK)
                ok = 0;
        }
        if (rv != CKR_OK) {
            ok = 0;
            rc = p11_fail(rv, "pkcs11: AES key wrap with %s on token '%s'", what, t->label);
        } else if (wl != plen + 8) {
            rc = aios__fail(AIOS_E_PKCS11, "pkcs11: AES key wrap on token '%s' gave %lu bytes "
                            "for %zu", t->label, (unsigned long)wl, plen);
        } else {
            res_len = 2 + wl;
        }
    }
    session_put(t, s, ok);
    if (rc == AIOS_OK && (rc = aios__buffer_new(out, res_len, 0)) == AIOS_OK)
        memcpy(aios_buffer_data_mut(*out), res, res_len);
    return rc;
}

static int auth_fail(CK_RV rv, const char *what, const p11_token *t)
{
    char nbuf[48];
    return aios__fail(AIOS_E_AUTH,
                      "pkcs11: %s on token '%s': the wrapped key or its associated data does not "
                      "authenticate (%s)", what, t->label, ckr_name(rv, nbuf));
}

static int unwrap_with(p11_token *t, CK_OBJECT_HANDLE kek, const char *what, aios_buffer **out,
                       const uint8_t *w, size_t w_len, const uint8_t *ad, size_t ad_len)
{
    CK_FUNCTION_LIST_PTR f = t->mod->f;
    /* Room for the largest plaintext either way (the tokens write the
     * padded length, or the ciphertext length, before trimming). */
    const size_t cap = AIOS__MATERIAL_MAX + P11_HASH_LEN + 16;
    const size_t gcm_min = 1 + P11_GCM_IV_LEN + 1 + P11_GCM_TAG_LEN;
    const size_t kwp_min = 2 + kwp_plain_len(1) + 8;
    CK_SESSION_HANDLE s;
    uint8_t *plain = NULL;
    size_t dk_len = 0;
    CK_RV rv;
    int rc, ok = 1;

    *out = NULL;
    if (w_len == 0)
        return aios__fail(AIOS_E_FORMAT, "pkcs11: the wrapped key is empty");
    if (w[0] == AIOS__P11_WRAP_GCM) {
        if (w_len < gcm_min || w_len > gcm_min - 1 + AIOS_KEY_DATA_KEY_MAX)
            return aios__fail(AIOS_E_FORMAT, "pkcs11: an AES-GCM wrapped key is %zu..%zu bytes, "
                              "not %zu", gcm_min, gcm_min - 1 + AIOS_KEY_DATA_KEY_MAX, w_len);
    } else if (w[0] == AIOS__P11_WRAP_KWP) {
        size_t max = 2 + kwp_plain_len(AIOS_KEY_DATA_KEY_MAX) + 8;
        if (w_len < kwp_min || w_len > max)
            return aios__fail(AIOS_E_FORMAT, "pkcs11: an AES key wrap wrapped key is %zu..%zu "
                              "bytes, not %zu", kwp_min, max, w_len);
        dk_len = w[1];
        /* The length byte is bound too: a changed one moves the place of
         * the hash of ad, which then does not match. */
        if (dk_len == 0 || dk_len > AIOS_KEY_DATA_KEY_MAX ||
            w_len != 2 + kwp_plain_len(dk_len) + 8)
            return aios__fail(AIOS_E_AUTH, "pkcs11: %s on token '%s': the wrapped key was "
                              "changed (its length byte does not fit)", what, t->label);
    } else if (w[0] == AIOS__P11_WRAP_OAEP_SHA256 || w[0] == AIOS__P11_WRAP_OAEP_SHA1) {
        return aios__fail(AIOS_E_AUTH, "pkcs11: %s on token '%s' is an AES key, but an RSA key "
                          "wrapped this key (format 0x%02x)", what, t->label, w[0]);
    } else {
        return aios__fail(AIOS_E_VERSION, "pkcs11: unknown wrapped-key format 0x%02x", w[0]);
    }

    plain = aios__secure_malloc(cap);
    if (plain == NULL)
        return aios__nomem("a data key");
    if ((rc = session_get(t, &s)) != AIOS_OK) {
        aios__secure_free(plain);
        return rc;
    }

    if (w[0] == AIOS__P11_WRAP_GCM) {
        uint8_t iv[P11_GCM_IV_LEN];
        CK_GCM_PARAMS gp;
        CK_MECHANISM mech = { CKM_AES_GCM, &gp, sizeof(gp) };
        CK_ULONG pl = (CK_ULONG)cap;
        size_t ct_len = w_len - 1 - P11_GCM_IV_LEN;

        memcpy(iv, w + 1, sizeof(iv));
        gcm_params(&gp, iv, ad, ad_len);
        dk_len = ct_len - P11_GCM_TAG_LEN;
        rv = f->C_DecryptInit(s, &mech, kek);
        if (rv != CKR_OK) {
            ok = 0;
            rc = p11_fail(rv, "pkcs11: AES-GCM unwrap with %s on token '%s'", what, t->label);
        } else {
            rv = f->C_Decrypt(s, (CK_BYTE_PTR)(uintptr_t)(w + 1 + P11_GCM_IV_LEN),
                              (CK_ULONG)ct_len, plain, &pl);
            if (rv != CKR_OK) {
                ok = 0;
                rc = ckr_is_auth(rv) ? auth_fail(rv, what, t)
                                     : p11_fail(rv, "pkcs11: AES-GCM unwrap with %s on token "
                                                "'%s'", what, t->label);
            } else if (pl != dk_len) {
                rc = aios__fail(AIOS_E_PKCS11, "pkcs11: AES-GCM on token '%s' gave %lu bytes "
                                "for %zu", t->label, (unsigned long)pl, dk_len);
            }
        }
    } else {
        size_t plen = kwp_plain_len(dk_len);
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
        CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
        CK_MECHANISM mech = { t->kwp, NULL, 0 };
        CK_OBJECT_HANDLE tmp = CK_INVALID_HANDLE;
        CK_ATTRIBUTE tmpl[] = {
            { CKA_CLASS, &cls, sizeof(cls) },
            { CKA_KEY_TYPE, &kt, sizeof(kt) },
            { CKA_TOKEN, &no, sizeof(no) },
            { CKA_SENSITIVE, &no, sizeof(no) },
            { CKA_EXTRACTABLE, &yes, sizeof(yes) },
        };
        CK_ATTRIBUTE val = { CKA_VALUE, plain, (CK_ULONG)cap };
        uint8_t h[P11_HASH_LEN];

        if (t->kwp == 0) {
            rc = aios__fail(AIOS_E_UNSUPPORTED, "pkcs11: token '%s' offers no AES key wrap with "
                            "padding to unwrap this key with", t->label);
            goto done;
        }
        rv = f->C_UnwrapKey(s, &mech, kek, (CK_BYTE_PTR)(uintptr_t)(w + 2),
                            (CK_ULONG)(w_len - 2), tmpl, 5, &tmp);
        if (rv != CKR_OK) {
            ok = 0;
            rc = ckr_is_auth(rv) ? auth_fail(rv, what, t)
                                 : p11_fail(rv, "pkcs11: AES key unwrap with %s on token '%s'",
                                            what, t->label);
            goto done;
        }
        rv = f->C_GetAttributeValue(s, tmp, &val, 1);
        if (f->C_DestroyObject(s, tmp) != CKR_OK)
            ok = 0;
        if (rv != CKR_OK) {
            ok = 0;
            rc = p11_fail(rv, "pkcs11: reading the unwrapped key on token '%s'", t->label);
            goto done;
        }
        if (val.ulValueLen != plen) {
            rc = aios__fail(AIOS_E_AUTH, "pkcs11: %s on token '%s': the wrapped key was changed "
                            "(it unwraps to %lu bytes, not %zu)", what, t->label,
                            (unsigned long)val.ulValueLen, plen);
            goto done;
        }
        aios__sha256(h, ad_len > 0 ? ad : empty_ad, ad_len);
        /* Both checks run in full whatever the first finds. */
        if (!(aios__ct_equal(plain + dk_len, h, P11_HASH_LEN) &
              aios__ct_is_zero(plain + dk_len + P11_HASH_LEN, plen - dk_len - P11_HASH_LEN)))
            rc = aios__fail(AIOS_E_AUTH, "pkcs11: %s on token '%s': the wrapped key or its "
                            "associated data does not authenticate", what, t->label);
    }

done:
    session_put(t, s, ok);
    if (rc == AIOS_OK && (rc = aios__buffer_new(out, dk_len, AIOS_BUFFER_SECURE)) == AIOS_OK)
        memcpy(aios_buffer_data_mut(*out), plain, dk_len);
    aios__secure_free(plain);
    return rc;
}

/* RSA-OAEP: SHA-256 (format 0x04) or SHA-1 (0x05), MGF1 with the same
 * hash, and an empty label.  Not every token takes a label, so ad is
 * bound in the plaintext instead, as for AES key wrap: dk || SHA-256(ad). */
static void oaep_params(CK_RSA_PKCS_OAEP_PARAMS *op, int sha1)
{
    memset(op, 0, sizeof(*op));
    op->hashAlg = sha1 ? CKM_SHA_1 : CKM_SHA256;
    op->mgf = sha1 ? CKG_MGF1_SHA1 : CKG_MGF1_SHA256;
    op->source = CKZ_DATA_SPECIFIED;
    op->pSourceData = NULL;
    op->ulSourceDataLen = 0;
}

/* What a token answers to OAEP parameters it does not take: SoftHSM2 2.6
 * says CKR_ARGUMENTS_BAD to any hash but SHA-1.  Only asked about
 * C_EncryptInit and C_DecryptInit with a key that passed get_key. */
static int ckr_is_param(CK_RV rv)
{
    return rv == CKR_MECHANISM_PARAM_INVALID || rv == CKR_ARGUMENTS_BAD;
}

static int oaep_check(const p11_token *t, const char *what)
{
    if (t->has_oaep && !atomic_load(&g_hide_oaep))
        return AIOS_OK;
    return aios__fail(AIOS_E_UNSUPPORTED, "pkcs11: token '%s' does not offer CKM_RSA_PKCS_OAEP "
                      "(encryption and decryption), which RSA %s needs to wrap and unwrap",
                      t->label, what);
}

/* 0x04 || RSA-OAEP-SHA-256(pub, dk || SHA-256(ad)), or 0x05 and SHA-1
 * where the token takes no SHA-256 parameters (learned once per token). */
static int rsa_wrap(p11_token *t, const p11_keydata *kd, const char *what, aios_buffer **out,
                    const uint8_t *dk, size_t dk_len, const uint8_t *ad, size_t ad_len)
{
    CK_FUNCTION_LIST_PTR f = t->mod->f;
    CK_RSA_PKCS_OAEP_PARAMS op;
    CK_MECHANISM mech = { CKM_RSA_PKCS_OAEP, &op, sizeof(op) };
    CK_OBJECT_HANDLE key = kd->pub, tmp = CK_INVALID_HANDLE;
    uint8_t res[AIOS_KEY_WRAPPED_MAX];
    size_t plen = dk_len + P11_HASH_LEN;
    uint8_t *plain;
    CK_ULONG cl = 0;
    CK_SESSION_HANDLE s;
    CK_RV rv = CKR_OK;
    int rc, ok = 1, sha1 = atomic_load(&t->oaep_sha1_only);

    *out = NULL;
    if (dk_len == 0 || dk_len > AIOS_KEY_DATA_KEY_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "a data key is 1..%d bytes, not %zu",
                          AIOS_KEY_DATA_KEY_MAX, dk_len);
    if ((rc = oaep_check(t, what)) != AIOS_OK)
        return rc;
    plain = aios__secure_malloc(plen);
    if (plain == NULL)
        return aios__nomem("a data key");
    memcpy(plain, dk, dk_len);
    aios__sha256(plain + dk_len, ad_len > 0 ? ad : empty_ad, ad_len);
    if ((rc = session_get(t, &s)) != AIOS_OK) {
        aios__secure_free(plain);
        return rc;
    }

    if (key == CK_INVALID_HANDLE) {
        /* No public key object: a session object from the private key's
         * modulus and exponent (closing the session destroys it too). */
        CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
        CK_KEY_TYPE kt = CKK_RSA;
        CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
        CK_ATTRIBUTE tmpl[] = {
            { CKA_CLASS, &cls, sizeof(cls) },
            { CKA_KEY_TYPE, &kt, sizeof(kt) },
            { CKA_TOKEN, &no, sizeof(no) },
            { CKA_ENCRYPT, &yes, sizeof(yes) },
            { CKA_MODULUS, (void *)(uintptr_t)kd->pub_parts, (CK_ULONG)kd->mod_len },
            { CKA_PUBLIC_EXPONENT, (void *)(uintptr_t)(kd->pub_parts + kd->mod_len),
              (CK_ULONG)kd->exp_len },
        };
        rv = f->C_CreateObject(s, tmpl, 6, &tmp);
        if (rv != CKR_OK)
            rc = p11_fail(rv, "pkcs11: making a session object of the public key of RSA %s "
                          "on token '%s'", what, t->label);
        key = tmp;
    }
    if (rv == CKR_OK) {
        oaep_params(&op, sha1);
        rv = f->C_EncryptInit(s, &mech, key);
        if (!sha1 && ckr_is_param(rv)) {
            atomic_store(&t->oaep_sha1_only, 1);
            sha1 = 1;
            oaep_params(&op, sha1);
            rv = f->C_EncryptInit(s, &mech, key);
        }
        if (rv == CKR_OK) {
            cl = (CK_ULONG)(sizeof(res) - 1);
            rv = f->C_Encrypt(s, plain, (CK_ULONG)plen, res + 1, &cl);
        }
        if (rv != CKR_OK)
            rc = p11_fail(rv, "pkcs11: RSA-OAEP wrap with %s on token '%s'", what, t->label);
        else if (cl != kd->mod_len)
            rc = aios__fail(AIOS_E_PKCS11, "pkcs11: RSA-OAEP on token '%s' gave %lu bytes, not "
                            "the modulus' %zu", t->label, (unsigned long)cl, kd->mod_len);
    }
    if (rv != CKR_OK)
        ok = 0;
    if (tmp != CK_INVALID_HANDLE && f->C_DestroyObject(s, tmp) != CKR_OK)
        ok = 0;
    session_put(t, s, ok);
    aios__secure_free(plain);
    res[0] = sha1 ? AIOS__P11_WRAP_OAEP_SHA1 : AIOS__P11_WRAP_OAEP_SHA256;
    if (rc == AIOS_OK && (rc = aios__buffer_new(out, 1 + kd->mod_len, 0)) == AIOS_OK)
        memcpy(aios_buffer_data_mut(*out), res, 1 + kd->mod_len);
    return rc;
}

/* C_Decrypt in the token, then dk || SHA-256(ad) checked here. */
static int rsa_unwrap(p11_token *t, const p11_keydata *kd, const char *what, aios_buffer **out,
                      const uint8_t *w, size_t w_len, const uint8_t *ad, size_t ad_len)
{
    CK_FUNCTION_LIST_PTR f = t->mod->f;
    CK_RSA_PKCS_OAEP_PARAMS op;
    CK_MECHANISM mech = { CKM_RSA_PKCS_OAEP, &op, sizeof(op) };
    uint8_t h[P11_HASH_LEN];
    uint8_t *plain;
    size_t dk_len = 0;
    CK_ULONG pl;
    CK_SESSION_HANDLE s;
    CK_RV rv;
    int rc, ok = 1;

    *out = NULL;
    if (w_len == 0)
        return aios__fail(AIOS_E_FORMAT, "pkcs11: the wrapped key is empty");
    if (w[0] == AIOS__P11_WRAP_GCM || w[0] == AIOS__P11_WRAP_KWP)
        return aios__fail(AIOS_E_AUTH, "pkcs11: %s on token '%s' is an RSA key, but an AES key "
                          "wrapped this key (format 0x%02x)", what, t->label, w[0]);
    if (w[0] != AIOS__P11_WRAP_OAEP_SHA256 && w[0] != AIOS__P11_WRAP_OAEP_SHA1)
        return aios__fail(AIOS_E_VERSION, "pkcs11: unknown wrapped-key format 0x%02x", w[0]);
    if (w_len != 1 + kd->mod_len)
        return aios__fail(AIOS_E_FORMAT, "pkcs11: an RSA-OAEP wrapped key under %s is %zu "
                          "bytes, not %zu", what, 1 + kd->mod_len, w_len);
    if ((rc = oaep_check(t, what)) != AIOS_OK)
        return rc;
    plain = aios__secure_malloc(kd->mod_len);
    if (plain == NULL)
        return aios__nomem("a data key");
    if ((rc = session_get(t, &s)) != AIOS_OK) {
        aios__secure_free(plain);
        return rc;
    }

    oaep_params(&op, w[0] == AIOS__P11_WRAP_OAEP_SHA1);
    rv = f->C_DecryptInit(s, &mech, kd->obj);
    if (rv != CKR_OK) {
        ok = 0;
        if (w[0] == AIOS__P11_WRAP_OAEP_SHA256 && ckr_is_param(rv))
            rc = aios__fail(AIOS_E_UNSUPPORTED, "pkcs11: token '%s' does not take RSA-OAEP with "
                            "SHA-256, which this wrapped key (format 0x04) needs", t->label);
        else
            rc = p11_fail(rv, "pkcs11: RSA-OAEP unwrap with %s on token '%s'", what, t->label);
    } else {
        pl = (CK_ULONG)kd->mod_len;
        rv = f->C_Decrypt(s, (CK_BYTE_PTR)(uintptr_t)(w + 1), (CK_ULONG)kd->mod_len, plain, &pl);
        if (rv != CKR_OK) {
            ok = 0;
            rc = ckr_is_auth(rv) ? auth_fail(rv, what, t)
                                 : p11_fail(rv, "pkcs11: RSA-OAEP unwrap with %s on token '%s'",
                                            what, t->label);
        } else if (pl < 1 + P11_HASH_LEN || pl > AIOS_KEY_DATA_KEY_MAX + P11_HASH_LEN) {
            /* Only a holder of the public key makes such a ciphertext. */
            rc = aios__fail(AIOS_E_AUTH, "pkcs11: %s on token '%s': the wrapped key or its "
                            "associated data does not authenticate (it opens to %lu bytes)",
                            what, t->label, (unsigned long)pl);
        } else {
            dk_len = (size_t)pl - P11_HASH_LEN;
            aios__sha256(h, ad_len > 0 ? ad : empty_ad, ad_len);
            if (!aios__ct_equal(plain + dk_len, h, P11_HASH_LEN))
                rc = aios__fail(AIOS_E_AUTH, "pkcs11: %s on token '%s': the wrapped key or its "
                                "associated data does not authenticate", what, t->label);
        }
    }
    session_put(t, s, ok);
    if (rc == AIOS_OK && (rc = aios__buffer_new(out, dk_len, AIOS_BUFFER_SECURE)) == AIOS_OK)
        memcpy(aios_buffer_data_mut(*out), plain, dk_len);
    aios__secure_free(plain);
    return rc;
}

static int sign_with(p11_token *t, CK_OBJECT_HANDLE obj, aios__ec_curve curve, const char *what,
                     aios_buffer **out, const uint8_t *msg, size_t msg_len)
{
    CK_FUNCTION_LIST_PTR f = t->mod->f;
    CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
    uint8_t hash[AIOS__EC_HASH_MAX], raw[2 * AIOS__EC_SCALAR_MAX], der[AIOS__EC_DER_SIG_MAX];
    size_t hlen, n = aios__ec_scalar_len(curve), der_len;
    CK_ULONG raw_len = sizeof(raw);
    CK_SESSION_HANDLE s;
    CK_RV rv;
    int rc;

    *out = NULL;
    hlen = aios__ec_hash(curve, hash, msg_len > 0 ? msg : empty_ad, msg_len);
    if ((rc = session_get(t, &s)) != AIOS_OK)
        return rc;
    rv = f->C_SignInit(s, &mech, obj);
    if (rv == CKR_OK)
        rv = f->C_Sign(s, hash, (CK_ULONG)hlen, raw, &raw_len);
    session_put(t, s, rv == CKR_OK);
    if (rv != CKR_OK)
        return p11_fail(rv, "pkcs11: ECDSA signature with %s on token '%s'", what, t->label);
    if (raw_len != 2 * n)
        return aios__fail(AIOS_E_PKCS11, "pkcs11: token '%s' gave an ECDSA signature of %lu "
                          "bytes, not %zu", t->label, (unsigned long)raw_len, 2 * n);
    /* 0: an r or s no valid signature has (P-521, 2^527 or more), which
     * would not fit der. */
    if ((der_len = aios__ecdsa_raw_to_der(curve, der, raw)) == 0)
        return aios__fail(AIOS_E_PKCS11, "pkcs11: token '%s' gave an ECDSA signature out of "
                          "range", t->label);
    if ((rc = aios__buffer_new(out, der_len, 0)) == AIOS_OK)
        memcpy(aios_buffer_data_mut(*out), der, der_len);
    return rc;
}

/* ========================================================= provider */

static int p11_get_key(aios_provider *p, aios_key **out, const char *key_id, uint32_t version)
{
    p11_token *t = p->impl;
    CK_OBJECT_CLASS sec = CKO_SECRET_KEY, priv = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE q[2] = {
        { CKA_CLASS, &sec, sizeof(sec) },
        { CKA_LABEL, (void *)(uintptr_t)key_id, 0 },
    };
    CK_OBJECT_HANDLE found_s[2], found_p[2];
    CK_ULONG ns = 0, np = 0;
    CK_SESSION_HANDLE s;
    p11_keydata *kd = NULL;
    aios__keyver *ver = NULL;
    aios__key_desc desc;
    uint8_t pub[AIOS__EC_POINT_MAX];
    size_t pub_len = 0;
    char what[AIOS__KEY_ID_MAX_LEN + 8];
    int rc;

    *out = NULL;
    if ((rc = aios__key_id_check(key_id)) != AIOS_OK)
        return rc;
    if (version > 1)
        return aios__fail(AIOS_E_KEY_VERSION_NOT_FOUND,
                          "pkcs11: key '%s' has only version 1 (a token keeps one version of "
                          "a key), not %u", key_id, version);
    q[1].ulValueLen = strlen(key_id);
    snprintf(what, sizeof(what), "key '%s'", key_id);

    kd = aios__calloc(1, sizeof(*kd));
    if (kd == NULL)
        return aios__nomem("a PKCS#11 key");
    memset(&desc, 0, sizeof(desc));
    desc.key_id = key_id;
    desc.version = 1;

    if ((rc = session_get(t, &s)) != AIOS_OK) {
        aios__free(kd);
        return rc;
    }
    rc = find_objects(t, s, q, 2, found_s, 2, &ns);
    if (rc == AIOS_OK) {
        q[0].pValue = &priv;
        q[0].ulValueLen = sizeof(priv);
        rc = find_objects(t, s, q, 2, found_p, 2, &np);
    }
    if (rc == AIOS_OK && ns + np == 0)
        rc = aios__fail(AIOS_E_KEY_NOT_FOUND,
                        "pkcs11: token '%s' has no secret or private key labelled '%s'",
                        t->label, key_id);
    else if (rc == AIOS_OK && ns + np > 1)
        rc = aios__fail(AIOS_E_PKCS11,
                        "pkcs11: token '%s' has several keys labelled '%s'; labels must name "
                        "one key", t->label, key_id);
    if (rc == AIOS_OK && ns == 1) {
        kd->obj = found_s[0];
        rc = aes_key_mode(t, s, kd->obj, what, &kd->mode);
        desc.type = AIOS_KEY_AES256;
        desc.purposes = AIOS_KEY_USE_WRAP;
    } else if (rc == AIOS_OK) {
        CK_KEY_TYPE kt = CK_UNAVAILABLE_INFORMATION;
        kd->obj = found_p[0];
        rc = private_key_type(t, s, kd->obj, &kt);
        if (rc == AIOS_OK && kt == CKK_RSA) {
            rc = rsa_key_info(t, s, kd, key_id);
            desc.type = AIOS_KEY_RSA;
            desc.purposes = AIOS_KEY_USE_WRAP;
        } else if (rc == AIOS_OK) {
            int can_sign = 0;
            rc = ec_key_info(t, s, kd->obj, key_id, &kd->curve, &can_sign, pub, &pub_len);
            desc.type = kd->curve == AIOS__EC_P521   ? AIOS_KEY_ECDSA_P521
                        : kd->curve == AIOS__EC_P384 ? AIOS_KEY_ECDSA_P384
                                                     : AIOS_KEY_ECDSA_P256;
            desc.purposes = AIOS_KEY_USE_VERIFY | (can_sign ? AIOS_KEY_USE_SIGN : 0u);
        }
    }
    /* After a token error the session may be gone: do not keep it. */
    session_put(t, s, rc != AIOS_E_PKCS11 && rc != AIOS_E_PKCS11_PIN);

    if (rc == AIOS_OK)
        rc = aios__keyver_new(&ver, AIOS_KEY_ACTIVE, NULL, 0, pub_len ? pub : NULL, pub_len, 0, 0);
    if (rc == AIOS_OK) {
        rc = aios__key_new(out, p, &desc, ver, kd);
        aios__keyver_unref(ver);
        if (rc == AIOS_OK)
            return AIOS_OK;
    }
    keydata_free(kd);
    return rc;
}

static int p11_wrap(const aios_key *key, aios_buffer **out, const uint8_t *dk, size_t dk_len,
                    const uint8_t *ad, size_t ad_len)
{
    const p11_keydata *kd = key->prov_data;
    char what[AIOS__KEY_ID_MAX_LEN + 8];
    snprintf(what, sizeof(what), "key '%s'", key->id);
    if (key->type == AIOS_KEY_RSA)
        return rsa_wrap(key->provider->impl, kd, what, out, dk, dk_len, ad, ad_len);
    return wrap_with(key->provider->impl, kd->obj, kd->mode, what, out, dk, dk_len, ad, ad_len);
}

static int p11_unwrap(const aios_key *key, aios_buffer **out, const uint8_t *w, size_t w_len,
                      const uint8_t *ad, size_t ad_len)
{
    const p11_keydata *kd = key->prov_data;
    char what[AIOS__KEY_ID_MAX_LEN + 8];
    snprintf(what, sizeof(what), "key '%s'", key->id);
    if (key->type == AIOS_KEY_RSA)
        return rsa_unwrap(key->provider->impl, kd, what, out, w, w_len, ad, ad_len);
    return unwrap_with(key->provider->impl, kd->obj, what, out, w, w_len, ad, ad_len);
}

static int p11_sign(const aios_key *key, aios_buffer **out, const uint8_t *msg, size_t msg_len)
{
    const p11_keydata *kd = key->prov_data;
    char what[AIOS__KEY_ID_MAX_LEN + 8];
    if (key->type != AIOS_KEY_ECDSA_P256 && key->type != AIOS_KEY_ECDSA_P384 &&
        key->type != AIOS_KEY_ECDSA_P521)
        return aios__fail(AIOS_E_KEY_USAGE, "key '%s' (%s) cannot sign", key->id,
                          aios_key_type_name(key->type));
    snprintf(what, sizeof(what), "key '%s'", key->id);
    return sign_with(key->provider->impl, kd->obj, kd->curve, what, out, msg, msg_len);
}

static void p11_key_free(void *prov_data)
{
    keydata_free(prov_data);
}

static void p11_destroy(aios_provider *p)
{
    token_unref(p->impl);
    p->impl = NULL;
}

static const aios__provider_vt p11_vt = {
    p11_get_key, p11_wrap, p11_unwrap, p11_sign, p11_key_free, p11_destroy
};

static const size_t pkcs11_options_sizes[] = {
    sizeof(aios_pkcs11_options),            /* version 1 */
};
#define PKCS11_OPTIONS_NVERSIONS \
    (unsigned int)(sizeof(pkcs11_options_sizes) / sizeof(pkcs11_options_sizes[0]))

int aios_pkcs11_options_init(aios_pkcs11_options *opts, unsigned int version)
{
    AIOS__CHECK_ARG(opts != NULL, "opts is NULL");
    if (version == 0 || version > PKCS11_OPTIONS_NVERSIONS)
        return aios__fail(AIOS_E_VERSION, "aios_pkcs11_options_init: version %u is not one "
                          "this library knows (1..%u)", version, PKCS11_OPTIONS_NVERSIONS);
    memset(opts, 0, pkcs11_options_sizes[version - 1]);
    opts->version = version;
    return AIOS_OK;
}

int aios_provider_pkcs11(aios_provider **out, const char *module_path, const char *uri,
                         const aios_pkcs11_options *opts)
{
    aios_pkcs11_options o;
    aios__p11uri u;
    p11_token *t = NULL;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(uri != NULL, "uri is NULL");
    rc = aios__options_copy(&o, sizeof(o), opts, pkcs11_options_sizes, PKCS11_OPTIONS_NVERSIONS,
                            "aios_pkcs11_options");
    if (rc != AIOS_OK)
        return rc;
    if (o.flags != 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "aios_pkcs11_options: flags 0x%x are reserved and must be 0",
                          (unsigned)o.flags);

    rc = p11_open(module_path, uri, o.pin, &u, &t);
    aios__p11uri_clear(&u);
    if (rc != AIOS_OK)
        return rc;
    rc = aios__provider_new(out, "pkcs11", &p11_vt, t);
    if (rc != AIOS_OK)
        token_unref(t);
    return rc;
}

/* =================================================== keyring unlock */

/* The AES key that the URI's object= (CKA_LABEL) and/or id= (CKA_ID)
 * name, and how it wraps. */
static int unlock_key(p11_token *t, const aios__p11uri *u, CK_OBJECT_HANDLE *obj, int *mode,
                      char *what, size_t what_cap)
{
    CK_OBJECT_CLASS sec = CKO_SECRET_KEY;
    CK_ATTRIBUTE q[3];
    CK_OBJECT_HANDLE found[2];
    CK_ULONG nq = 0, count = 0;
    CK_SESSION_HANDLE s;
    int rc;

    if (u->object == NULL && !u->has_id)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "pkcs11 URI: name the keyring's AES key with object=<label> or id=");
    if (u->type != AIOS__P11_TYPE_ANY && u->type != AIOS__P11_TYPE_SECRET_KEY)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "pkcs11 URI: the keyring's key is a secret key; type= says otherwise");
    if (u->object != NULL)
        snprintf(what, what_cap, "key '%s'", u->object);
    else
        snprintf(what, what_cap, "the key with the URI's id");

    q[nq].type = CKA_CLASS; q[nq].pValue = &sec; q[nq++].ulValueLen = sizeof(sec);
    if (u->object != NULL) {
        q[nq].type = CKA_LABEL; q[nq].pValue = u->object; q[nq++].ulValueLen = strlen(u->object);
    }
    if (u->has_id) {
        q[nq].type = CKA_ID; q[nq].pValue = u->id; q[nq++].ulValueLen = u->id_len;
    }
    if ((rc = session_get(t, &s)) != AIOS_OK)
        return rc;
    rc = find_objects(t, s, q, nq, found, 2, &count);
    if (rc == AIOS_OK && count == 0)
        rc = aios__fail(AIOS_E_KEY_NOT_FOUND, "pkcs11: token '%s' has no secret key like %s",
                        t->label, what);
    else if (rc == AIOS_OK && count > 1)
        rc = aios__fail(AIOS_E_PKCS11, "pkcs11: several secret keys on token '%s' match the "
                        "URI; name one", t->label);
    if (rc == AIOS_OK) {
        *obj = found[0];
        rc = aes_key_mode(t, s, *obj, what, mode);
    }
    session_put(t, s, rc != AIOS_E_PKCS11 && rc != AIOS_E_PKCS11_PIN);
    return rc;
}

static int unlock_run(int wrap, const char *module_path, const char *uri, const char *pin,
                      const uint8_t *in, size_t in_len, const uint8_t *ad, size_t ad_len,
                      aios_buffer **out)
{
    aios__p11uri u;
    p11_token *t = NULL;
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
    char what[AIOS__P11URI_LABEL_MAX + 8];
    int rc, mode = MODE_NONE;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(in != NULL || in_len == 0, "in is NULL");
    AIOS__CHECK_ARG(ad != NULL || ad_len == 0, "ad is NULL with a nonzero length");
    rc = p11_open(module_path, uri, pin, &u, &t);
    if (rc == AIOS_OK)
        rc = unlock_key(t, &u, &obj, &mode, what, sizeof(what));
    aios__p11uri_clear(&u);
    if (rc == AIOS_OK) {
        if (wrap)
            rc = wrap_with(t, obj, mode, what, out, in, in_len, ad, ad_len);
        else
            rc = unwrap_with(t, obj, what, out, in, in_len, ad, ad_len);
    }
    if (t != NULL)
        token_unref(t);
    return rc;
}

int aios__pkcs11_unlock_wrap(const char *module_path, const char *uri, const char *pin,
                             const uint8_t *in, size_t in_len, const uint8_t *ad, size_t ad_len,
                             aios_buffer **out)
{
    return unlock_run(1, module_path, uri, pin, in, in_len, ad, ad_len, out);
}

int aios__pkcs11_unlock_unwrap(const char *module_path, const char *uri, const char *pin,
                               const uint8_t *in, size_t in_len, const uint8_t *ad, size_t ad_len,
                               aios_buffer **out)
{
    return unlock_run(0, module_path, uri, pin, in, in_len, ad, ad_len, out);
}
