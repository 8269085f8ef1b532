/*
 * The "pkcs11" provider against a real SoftHSM2 token.
 *
 * The group setup builds everything in a fresh temporary directory: a
 * softhsm2.conf (SOFTHSM2_CONF), two tokens initialised through the
 * module's own API (C_InitToken, C_InitPIN), and the keys the tests use:
 *
 *   kek           AES-256, encrypt/decrypt/wrap/unwrap, not extractable,
 *                 CKA_ID a1 01: wraps with AES-GCM
 *   kek-wraponly  AES-256, wrap/unwrap only: wraps with AES key wrap with
 *                 padding (RFC 5649), the fallback, without any test hook
 *   kek-known     AES-256 of known bytes: pins both wrapped formats to
 *                 their specification (docs/PKCS11.md) with libaios' own
 *                 AES-GCM and RFC 5649 code
 *   kek128        AES-128 (refused), hmac (a generic secret: refused),
 *   dup           two AES keys with one label (refused),
 *   signer        ECDSA P-256 key pair,   signer384  ECDSA P-384 key pair,
 *   lonely        an EC private key without its public key object,
 *   rsa-kek       RSA-2048 key pair (decrypt / encrypt): wraps with RSA-OAEP,
 *   rsa-lonely    RSA-2048 private key without its public key object (wraps
 *                 through a session object made from its modulus and exponent),
 *   rsa-small, rsa-8184, rsa-8192, rsa-nodecrypt
 *                 RSA private keys of made-up numbers (1024, 8184 and 8192
 *                 bits; 2048 bits without CKA_DECRYPT) for get_key's checks.
 *
 * The module is found through AIOS_TEST_SOFTHSM2_MODULE, p11-kit's module
 * directory and the usual install paths; its absence fails the test (it
 * is a test dependency, scripts/install-deps installs it).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "testutil.h"
#include "aios/key.h"
#include "key/key_internal.h"
#include "key/p11.h"
#include "crypto/crypto.h"

#define USER_PIN "1234"
#define SO_PIN   "0000"
#define TOKEN    "aios-test"
#define TOKEN2   "aios-other"

static char tmpdir[64];
static char module[512];
static void *dl;                        /* the test's own handle on the module */
static CK_FUNCTION_LIST_PTR fl;
static const uint8_t known_kek[32] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* ---------------------------------------------------------- the module */

static int file_exists(const char *p)
{
    return p != NULL && access(p, R_OK) == 0;
}

static int find_module(void)
{
    const char *env = getenv("AIOS_TEST_SOFTHSM2_MODULE");
    static const char *const candidates[] = {
#ifdef AIOS_TEST_P11_MODULE_DIR
        AIOS_TEST_P11_MODULE_DIR "/libsofthsm2.so",
#endif
#ifdef AIOS_TEST_MULTIARCH
        "/usr/lib/" AIOS_TEST_MULTIARCH "/softhsm/libsofthsm2.so",
#endif
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib64/softhsm/libsofthsm2.so",
        "/usr/lib64/pkcs11/libsofthsm2.so",
        "/usr/lib/pkcs11/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    };
    size_t i;
    if (env != NULL && env[0] != '\0') {
        if (!file_exists(env)) {
            fprintf(stderr, "AIOS_TEST_SOFTHSM2_MODULE=%s: no such file\n", env);
            return -1;
        }
        snprintf(module, sizeof(module), "%s", env);
        return 0;
    }
    for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        if (file_exists(candidates[i])) {
            snprintf(module, sizeof(module), "%s", candidates[i]);
            return 0;
        }
    }
    fprintf(stderr, "SoftHSM2 not found: install it (scripts/install-deps installs softhsm2) "
                    "or set AIOS_TEST_SOFTHSM2_MODULE to libsofthsm2.so\n");
    return -1;
}

static int rm_tree(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* cmocka skips the group teardown when the setup fails: clean up here. */
static int setup_fail(int line)
{
    fprintf(stderr, "%s:%d: SoftHSM2 test setup failed\n", __FILE__, line);
    if (tmpdir[0] != '\0')
        rm_tree();
    return -1;
}

#define CKCHECK(call) do {                                                   \
        CK_RV rv_ = (call);                                                  \
        if (rv_ != CKR_OK) {                                                 \
            fprintf(stderr, "%s:%d: %s -> 0x%lx\n", __FILE__, __LINE__,      \
                    #call, (unsigned long)rv_);                              \
            return setup_fail(__LINE__);                                     \
        }                                                                    \
    } while (0)

static void pad32(CK_UTF8CHAR out[32], const char *s)
{
    memset(out, ' ', 32);
    memcpy(out, s, strlen(s));
}

/* The slot whose token is labelled label, or an uninitialised one. */
static int find_token_slot(const char *label, CK_SLOT_ID *slot)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16, i;
    CK_RV rv = fl->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK)
        return -1;
    for (i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        CK_UTF8CHAR want[32];
        if (fl->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        if (label == NULL ? !(ti.flags & CKF_TOKEN_INITIALIZED)
                          : ((ti.flags & CKF_TOKEN_INITIALIZED) &&
                             (pad32(want, label), memcmp(ti.label, want, 32) == 0))) {
            *slot = slots[i];
            return 0;
        }
    }
    return -1;
}

/* Initialise the free token as label with the SO and user PINs. */
static int init_token(const char *label)
{
    CK_SLOT_ID slot = 0;
    CK_UTF8CHAR l32[32];
    CK_SESSION_HANDLE s;

    if (find_token_slot(NULL, &slot) != 0)
        return setup_fail(__LINE__);
    pad32(l32, label);
    CKCHECK(fl->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, 4, l32));
    /* SoftHSM2 gives the initialised token a new slot id. */
    if (find_token_slot(label, &slot) != 0)
        return setup_fail(__LINE__);
    CKCHECK(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    CKCHECK(fl->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, 4));
    CKCHECK(fl->C_InitPIN(s, (CK_UTF8CHAR_PTR)USER_PIN, 4));
    CKCHECK(fl->C_CloseSession(s));
    /* SoftHSM2 offers a new free token only when initialised again. */
    CKCHECK(fl->C_Finalize(NULL));
    CKCHECK(fl->C_Initialize(NULL));
    return 0;
}

/* A user session on the token labelled label. */
static int user_session(const char *label, CK_SESSION_HANDLE *out)
{
    CK_SLOT_ID slot = 0;
    if (find_token_slot(label, &slot) != 0)
        return setup_fail(__LINE__);
    CKCHECK(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, out));
    CKCHECK(fl->C_Login(*out, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 4));
    return 0;
}

static int gen_aes(CK_SESSION_HANDLE s, const char *label, CK_ULONG bytes, CK_BBOOL crypt,
                   const uint8_t *id, size_t id_len)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, &yes, 1 },
        { CKA_PRIVATE, &yes, 1 },
        { CKA_SENSITIVE, &yes, 1 },
        { CKA_EXTRACTABLE, &no, 1 },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_VALUE_LEN, &bytes, sizeof(bytes) },
        { CKA_ENCRYPT, &crypt, 1 },
        { CKA_DECRYPT, &crypt, 1 },
        { CKA_WRAP, &yes, 1 },
        { CKA_UNWRAP, &yes, 1 },
        { CKA_ID, (void *)id, id_len },
    };
    CKCHECK(fl->C_GenerateKey(s, &mech, t, id_len > 0 ? 13 : 12, &h));
    return 0;
}

static int create_secret(CK_SESSION_HANDLE s, const char *label, CK_KEY_TYPE kt,
                         const uint8_t *value, size_t len)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, &yes, 1 },
        { CKA_PRIVATE, &yes, 1 },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_VALUE, (void *)value, len },
        { CKA_ENCRYPT, &yes, 1 },
        { CKA_DECRYPT, &yes, 1 },
        { CKA_WRAP, &yes, 1 },
        { CKA_UNWRAP, &yes, 1 },
    };
    CKCHECK(fl->C_CreateObject(s, t, kt == CKK_AES ? 10 : 6, &h));
    return 0;
}

/* curve: 0 P-256, 1 P-384, 2 P-521 */
static int gen_ec(CK_SESSION_HANDLE s, const char *label, int curve, int keep_public)
{
    static const uint8_t p256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
    static const uint8_t p384_oid[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
    static const uint8_t p521_oid[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
    const uint8_t *oid = curve == 2 ? p521_oid : curve == 1 ? p384_oid : p256_oid;
    size_t oid_len = curve == 2 ? sizeof(p521_oid) : curve == 1 ? sizeof(p384_oid)
                                                                : sizeof(p256_oid);
    CK_BBOOL yes = CK_TRUE, tok = keep_public ? CK_TRUE : CK_FALSE;
    CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE pub, priv;
    CK_ATTRIBUTE pt[] = {
        { CKA_TOKEN, &tok, 1 },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_EC_PARAMS, (void *)oid, oid_len },
        { CKA_VERIFY, &yes, 1 },
    };
    CK_ATTRIBUTE st[] = {
        { CKA_TOKEN, &yes, 1 },
        { CKA_PRIVATE, &yes, 1 },
        { CKA_SENSITIVE, &yes, 1 },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_SIGN, &yes, 1 },
    };
    CKCHECK(fl->C_GenerateKeyPair(s, &mech, pt, 4, st, 5, &pub, &priv));
    return 0;
}

static int gen_rsa(CK_SESSION_HANDLE s, const char *label, int keep_public)
{
    static const uint8_t e[] = { 0x01, 0x00, 0x01 };
    CK_BBOOL yes = CK_TRUE, tok = keep_public ? CK_TRUE : CK_FALSE;
    CK_ULONG bits = 2048;
    CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE pub, priv;
    CK_ATTRIBUTE pt[] = {
        { CKA_TOKEN, &tok, 1 },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_MODULUS_BITS, &bits, sizeof(bits) },
        { CKA_PUBLIC_EXPONENT, (void *)e, sizeof(e) },
        { CKA_ENCRYPT, &yes, 1 },
    };
    CK_ATTRIBUTE st[] = {
        { CKA_TOKEN, &yes, 1 },
        { CKA_PRIVATE, &yes, 1 },
        { CKA_SENSITIVE, &yes, 1 },
        { CKA_EXTRACTABLE, &yes, 1 },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_DECRYPT, &yes, 1 },
    };
    CKCHECK(fl->C_GenerateKeyPair(s, &mech, pt, 5, st, 6, &pub, &priv));
    return 0;
}

/* An RSA private key of made-up numbers, of mod_bytes bytes: enough for
 * get_key to read its size and flags. */
static int create_rsa_fake(CK_SESSION_HANDLE s, const char *label, size_t mod_bytes,
                           CK_BBOOL decrypt)
{
    static uint8_t n[1024], d[1024];
    static const uint8_t e[] = { 0x01, 0x00, 0x01 };
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, &yes, 1 },
        { CKA_PRIVATE, &yes, 1 },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_MODULUS, n, mod_bytes },
        { CKA_PUBLIC_EXPONENT, (void *)e, sizeof(e) },
        { CKA_PRIVATE_EXPONENT, d, mod_bytes },
        { CKA_DECRYPT, &decrypt, 1 },
    };
    memset(n, 0xc5, sizeof(n));
    memset(d, 0x3b, sizeof(d));
    CKCHECK(fl->C_CreateObject(s, t, 9, &h));
    return 0;
}

static int group_setup(void **state)
{
    char path[160];
    FILE *f;
    CK_C_GetFunctionList get_list;
    void *sym;
    CK_SESSION_HANDLE s, s2;
    static const uint8_t kek_id[] = { 0xa1, 0x01 };
    uint8_t hmac_key[32];
    (void)state;

    if (aios_init() != AIOS_OK || find_module() != 0)
        return setup_fail(__LINE__);
    strcpy(tmpdir, "/tmp/aios-p11-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return setup_fail(__LINE__);
    snprintf(path, sizeof(path), "%s/tokens", tmpdir);
    if (mkdir(path, 0700) != 0)
        return setup_fail(__LINE__);
    snprintf(path, sizeof(path), "%s/softhsm2.conf", tmpdir);
    f = fopen(path, "w");
    if (f == NULL)
        return setup_fail(__LINE__);
    fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
               "log.level = ERROR\nslots.removable = false\n", tmpdir);
    fclose(f);
    setenv("SOFTHSM2_CONF", path, 1);

    dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", module, dlerror());
        return setup_fail(__LINE__);
    }
    sym = dlsym(dl, "C_GetFunctionList");
    if (sym == NULL)
        return setup_fail(__LINE__);
    memcpy(&get_list, &sym, sizeof(get_list));
    CKCHECK(get_list(&fl));
    CKCHECK(fl->C_Initialize(NULL));

    if (init_token(TOKEN) != 0 || init_token(TOKEN2) != 0 ||
        user_session(TOKEN, &s) != 0 || user_session(TOKEN2, &s2) != 0)
        return setup_fail(__LINE__);
    aios__random_bytes(hmac_key, sizeof(hmac_key));
    if (gen_aes(s, "kek", 32, CK_TRUE, kek_id, sizeof(kek_id)) != 0 ||
        gen_aes(s, "kek-wraponly", 32, CK_FALSE, NULL, 0) != 0 ||
        gen_aes(s, "kek128", 16, CK_TRUE, NULL, 0) != 0 ||
        gen_aes(s, "dup", 32, CK_TRUE, NULL, 0) != 0 ||
        gen_aes(s, "dup", 32, CK_TRUE, NULL, 0) != 0 ||
        create_secret(s, "kek-known", CKK_AES, known_kek, sizeof(known_kek)) != 0 ||
        create_secret(s, "hmac", CKK_GENERIC_SECRET, hmac_key, sizeof(hmac_key)) != 0 ||
        gen_ec(s, "signer", 0, 1) != 0 ||
        gen_ec(s, "signer384", 1, 1) != 0 ||
        gen_ec(s, "signer521", 2, 1) != 0 ||
        gen_ec(s, "lonely", 0, 0) != 0 ||
        gen_rsa(s, "rsa-kek", 1) != 0 ||
        gen_rsa(s, "rsa-lonely", 0) != 0 ||
        create_rsa_fake(s, "rsa-small", 128, CK_TRUE) != 0 ||
        create_rsa_fake(s, "rsa-8184", 1023, CK_TRUE) != 0 ||
        create_rsa_fake(s, "rsa-8192", 1024, CK_TRUE) != 0 ||
        create_rsa_fake(s, "rsa-nodecrypt", 256, CK_FALSE) != 0)
        return setup_fail(__LINE__);
    /* The second token holds a "kek" too: a URI must say which token. */
    if (gen_aes(s2, "kek", 32, CK_TRUE, NULL, 0) != 0)
        return setup_fail(__LINE__);
    CKCHECK(fl->C_CloseSession(s));
    CKCHECK(fl->C_CloseSession(s2));
    /* Leave the module uninitialised: the provider initialises it. */
    CKCHECK(fl->C_Finalize(NULL));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (dl != NULL)
        dlclose(dl);
    return rm_tree();
}

/* Whether the module is initialised now (the test's own view of it). */
static int module_initialised(void)
{
    CK_INFO info;
    return fl->C_GetInfo(&info) == CKR_OK;
}

static int after_each(void **state)
{
    (void)state;
    aios__pkcs11_test_force_kwp(0);
    aios__pkcs11_test_hide_oaep(0);
    /* Every test releases what it opened: the module is finalised again. */
    return module_initialised() ? -1 : 0;
}

/* ------------------------------------------------------------ helpers */

static aios_provider *open_ok(const char *uri, const char *pin)
{
    aios_provider *p = NULL;
    aios_pkcs11_options o = AIOS_PKCS11_OPTIONS_INIT;
    o.pin = pin;
    tu_assert_ok(aios_provider_pkcs11(&p, module, uri, pin ? &o : NULL));
    assert_non_null(p);
    return p;
}

static aios_key *key_ok(aios_provider *p, const char *id)
{
    aios_key *k = NULL;
    tu_assert_ok(aios_provider_get_key(p, &k, id, 0));
    assert_non_null(k);
    return k;
}

#define URI      "pkcs11:token=" TOKEN "?pin-value=" USER_PIN

static void round_trip(const aios_key *k, size_t dk_len, const uint8_t *ad, size_t ad_len,
                       int format)
{
    uint8_t dk[AIOS_KEY_DATA_KEY_MAX];
    aios_buffer *w = NULL, *back = NULL;

    aios__random_bytes(dk, dk_len);
    tu_assert_ok(aios_key_wrap(k, &w, dk, dk_len, ad, ad_len));
    assert_int_equal(aios_buffer_data(w)[0], format);
    if (format == AIOS__P11_WRAP_GCM) {
        assert_int_equal(aios_buffer_len(w), 1 + 12 + dk_len + 16);
    } else if (format == AIOS__P11_WRAP_OAEP_SHA256 || format == AIOS__P11_WRAP_OAEP_SHA1) {
        assert_int_equal(aios_buffer_len(w), 1 + 256);      /* RSA-2048 */
    } else {
        assert_int_equal(aios_buffer_data(w)[1], dk_len);
        assert_int_equal(aios_buffer_len(w), 2 + (dk_len + 32 + 7) / 8 * 8 + 8);
    }
    tu_assert_ok(aios_key_unwrap(k, &back, aios_buffer_data(w), aios_buffer_len(w), ad, ad_len));
    assert_int_equal(aios_buffer_len(back), dk_len);
    assert_memory_equal(aios_buffer_data(back), dk, dk_len);
    assert_true(aios_buffer_flags(back) & AIOS_BUFFER_SECURE);
    aios_buffer_free(back);
    aios_buffer_free(w);
}

/* Every changed byte, changed ad and truncation of one wrapped key. */
static void tamper_all(const aios_key *k, int format)
{
    static const uint8_t ad[] = "tenant=a;class=pii";
    uint8_t dk[32], buf[AIOS_KEY_WRAPPED_MAX];
    aios_buffer *w = NULL, *back = NULL;
    size_t len, i;

    aios__random_bytes(dk, sizeof(dk));
    tu_assert_ok(aios_key_wrap(k, &w, dk, sizeof(dk), ad, sizeof(ad) - 1));
    len = aios_buffer_len(w);
    memcpy(buf, aios_buffer_data(w), len);
    assert_int_equal(buf[0], format);

    /* Another ad, and no ad. */
    tu_assert_status(aios_key_unwrap(k, &back, buf, len, ad, sizeof(ad) - 2), AIOS_E_AUTH);
    assert_null(back);
    tu_assert_status(aios_key_unwrap(k, &back, buf, len, NULL, 0), AIOS_E_AUTH);
    /* Each byte after the format byte. */
    for (i = 1; i < len; i++) {
        buf[i] ^= 0x01;
        tu_assert_status(aios_key_unwrap(k, &back, buf, len, ad, sizeof(ad) - 1), AIOS_E_AUTH);
        assert_null(back);
        buf[i] ^= 0x01;
    }
    /* The format byte: an unknown one, and the other format. */
    buf[0] = 0x7f;
    tu_assert_status(aios_key_unwrap(k, &back, buf, len, ad, sizeof(ad) - 1), AIOS_E_VERSION);
    buf[0] = format;
    /* Truncated, and empty. */
    tu_assert_status(aios_key_unwrap(k, &back, buf, 12, ad, sizeof(ad) - 1), AIOS_E_FORMAT);
    tu_assert_status(aios_key_unwrap(k, &back, buf, 0, ad, sizeof(ad) - 1), AIOS_E_FORMAT);
    /* Intact, it still opens. */
    tu_assert_ok(aios_key_unwrap(k, &back, buf, len, ad, sizeof(ad) - 1));
    assert_memory_equal(aios_buffer_data(back), dk, sizeof(dk));
    aios_buffer_free(back);
    aios_buffer_free(w);
}

/* -------------------------------------------------------------- tests */

static void test_open_with_uri_pin(void **state)
{
    aios_provider *p;
    (void)state;
    p = open_ok(URI, NULL);
    assert_string_equal(aios_provider_name(p), "pkcs11");
    assert_true(module_initialised());
    aios_provider_unref(p);
    assert_false(module_initialised());
}

static void test_open_with_options_pin(void **state)
{
    aios_provider *p;
    aios_pkcs11_options o;
    (void)state;
    tu_assert_ok(aios_pkcs11_options_init(&o, AIOS_PKCS11_OPTIONS_VERSION));
    assert_int_equal(o.version, AIOS_PKCS11_OPTIONS_VERSION);
    assert_null(o.pin);
    /* options->pin wins over the URI's (here wrong) pin-value. */
    p = open_ok("pkcs11:token=" TOKEN "?pin-value=9999", USER_PIN);
    aios_provider_unref(p);
    p = open_ok("pkcs11:token=" TOKEN, USER_PIN);
    aios_provider_unref(p);
    /* By serial-free attributes too: model and manufacturer of SoftHSM2. */
    p = open_ok("pkcs11:model=SoftHSM%20v2;token=" TOKEN, USER_PIN);
    aios_provider_unref(p);
}

static void test_open_module_from_uri_and_pin_source(void **state)
{
    char uri[1024], pinfile[160];
    aios_provider *p = NULL;
    FILE *f;
    (void)state;

    /* module-path in the URI, module_path NULL. */
    snprintf(uri, sizeof(uri), "pkcs11:token=" TOKEN "?module-path=%s&pin-value=" USER_PIN,
             module);
    tu_assert_ok(aios_provider_pkcs11(&p, NULL, uri, NULL));
    aios_provider_unref(p);

    /* pin-source=file: */
    snprintf(pinfile, sizeof(pinfile), "%s/user.pin", tmpdir);
    f = fopen(pinfile, "w");
    assert_non_null(f);
    fputs(USER_PIN "\n", f);
    fclose(f);
    snprintf(uri, sizeof(uri), "pkcs11:token=" TOKEN "?pin-source=file://%s", pinfile);
    p = open_ok(uri, NULL);
    aios_provider_unref(p);
    snprintf(uri, sizeof(uri), "pkcs11:token=" TOKEN "?pin-source=file:%s/nope", tmpdir);
    tu_assert_status(aios_provider_pkcs11(&p, module, uri, NULL), AIOS_E_IO);
    assert_null(p);
}

static void test_wrong_pin(void **state)
{
    aios_provider *p = NULL, *good;
    aios_pkcs11_options o = AIOS_PKCS11_OPTIONS_INIT;
    (void)state;

    /* The token refuses it. */
    tu_assert_status(aios_provider_pkcs11(&p, module, "pkcs11:token=" TOKEN "?pin-value=9876",
                                          NULL), AIOS_E_PKCS11_PIN);
    assert_null(p);
    assert_non_null(strstr(aios_last_error_message(), "CKR_PIN_INCORRECT"));
    assert_null(strstr(aios_last_error_message(), "9876"));
    o.pin = "";
    tu_assert_status(aios_provider_pkcs11(&p, module, "pkcs11:token=" TOKEN, &o),
                     AIOS_E_PKCS11_PIN);
    assert_false(module_initialised());

    /* With the token already logged in by this process, a wrong PIN is
     * still refused (the token cannot tell: libaios does); the right one
     * is taken. */
    good = open_ok(URI, NULL);
    o.pin = "9876";
    tu_assert_status(aios_provider_pkcs11(&p, module, "pkcs11:token=" TOKEN, &o),
                     AIOS_E_PKCS11_PIN);
    assert_null(p);
    assert_null(strstr(aios_last_error_message(), "9876"));
    tu_assert_status(aios_provider_pkcs11(&p, module, "pkcs11:token=" TOKEN, NULL),
                     AIOS_E_INVALID_ARGUMENT);
    p = open_ok("pkcs11:token=" TOKEN, USER_PIN);
    aios_provider_unref(p);
    aios_provider_unref(good);

    /* No PIN at all for a token that needs one. */
    tu_assert_status(aios_provider_pkcs11(&p, module, "pkcs11:token=" TOKEN, NULL),
                     AIOS_E_INVALID_ARGUMENT);
    assert_non_null(strstr(aios_last_error_message(), "needs a PIN"));
}

static void test_token_selection(void **state)
{
    aios_provider *p = NULL;
    aios_key *a, *b;
    aios_buffer *w = NULL, *back = NULL;
    static const uint8_t dk[32] = { 7 };
    (void)state;

    /* An unknown token is AIOS_E_NOT_FOUND (kind "not_found"). */
    tu_assert_status(aios_provider_pkcs11(&p, module, "pkcs11:token=nope?pin-value=1234", NULL),
                     AIOS_E_NOT_FOUND);
    assert_non_null(strstr(aios_last_error_message(), "nope"));
    tu_assert_status(aios_provider_pkcs11(&p, module,
                                          "pkcs11:token=" TOKEN ";serial=0000?pin-value=1234",
                                          NULL), AIOS_E_NOT_FOUND);
    tu_assert_status(aios_provider_pkcs11(&p, module,
                                          "pkcs11:library-manufacturer=Nobody?pin-value=1234",
                                          NULL), AIOS_E_NOT_FOUND);
    /* Two initialised tokens match an empty URI: say which. */
    tu_assert_status(aios_provider_pkcs11(&p, module, "pkcs11:?pin-value=1234", NULL),
                     AIOS_E_INVALID_ARGUMENT);
    assert_non_null(strstr(aios_last_error_message(), "2 tokens"));
    assert_false(module_initialised());

    /* Two tokens, two "kek"s: each provider gets its own. */
    p = open_ok(URI, NULL);
    {
        aios_provider *p2 = open_ok("pkcs11:token=" TOKEN2 "?pin-value=" USER_PIN, NULL);
        a = key_ok(p, "kek");
        b = key_ok(p2, "kek");
        aios_provider_unref(p2);        /* the key holds its provider */
    }
    tu_assert_ok(aios_key_wrap(a, &w, dk, sizeof(dk), NULL, 0));
    tu_assert_status(aios_key_unwrap(b, &back, aios_buffer_data(w), aios_buffer_len(w), NULL, 0),
                     AIOS_E_AUTH);
    aios_buffer_free(w);
    aios_key_unref(a);
    aios_key_unref(b);
    aios_provider_unref(p);
}

static void test_bad_arguments(void **state)
{
    aios_provider *p = (aios_provider *)1;
    aios_pkcs11_options o = AIOS_PKCS11_OPTIONS_INIT;
    char uri[600];
    (void)state;

    tu_assert_status(aios_provider_pkcs11(NULL, module, URI, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_provider_pkcs11(&p, module, NULL, NULL), AIOS_E_INVALID_ARGUMENT);
    assert_null(p);
    tu_assert_status(aios_provider_pkcs11(&p, module, "pkcs11:token=a%zz", NULL), AIOS_E_FORMAT);
    tu_assert_status(aios_provider_pkcs11(&p, module, "http://x", NULL), AIOS_E_FORMAT);
    /* No module anywhere; module-name alone; a relative module-path. */
    tu_assert_status(aios_provider_pkcs11(&p, NULL, URI, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_provider_pkcs11(&p, NULL, URI "&module-name=softhsm2", NULL),
                     AIOS_E_INVALID_ARGUMENT);
    assert_non_null(strstr(aios_last_error_message(), "softhsm2"));
    tu_assert_status(aios_provider_pkcs11(&p, NULL, URI "&module-path=libsofthsm2.so", NULL),
                     AIOS_E_INVALID_ARGUMENT);
    /* Not a module. */
    tu_assert_status(aios_provider_pkcs11(&p, "/nonexistent/libnope.so", URI, NULL),
                     AIOS_E_PKCS11);
    snprintf(uri, sizeof(uri), "%s", "/lib/x86_64-linux-gnu/libc.so.6");
    if (access(uri, R_OK) == 0) {
        tu_assert_status(aios_provider_pkcs11(&p, uri, URI, NULL), AIOS_E_PKCS11);
        assert_non_null(strstr(aios_last_error_message(), "C_GetFunctionList"));
    }
    /* A vendor path attribute narrows the match in a way we do not know. */
    tu_assert_status(aios_provider_pkcs11(&p, module, "pkcs11:token=" TOKEN ";x-slot-kind=hw"
                                          "?pin-value=1234", NULL), AIOS_E_UNSUPPORTED);
    /* Vendor query attributes are hints: ignored. */
    p = open_ok(URI "&x-hint=1", NULL);
    aios_provider_unref(p);
    /* Options. */
    o.flags = 1;
    tu_assert_status(aios_provider_pkcs11(&p, module, URI, &o), AIOS_E_INVALID_ARGUMENT);
    o.flags = 0;
    o.version = 2;
    tu_assert_status(aios_provider_pkcs11(&p, module, URI, &o), AIOS_E_VERSION);
    tu_assert_status(aios_pkcs11_options_init(&o, 0), AIOS_E_VERSION);
    tu_assert_status(aios_pkcs11_options_init(NULL, 1), AIOS_E_INVALID_ARGUMENT);
}

static void test_get_keys(void **state)
{
    aios_provider *p;
    aios_key *k = NULL;
    aios_buffer *buf = NULL;
    uint8_t mac[AIOS_KEY_MAC_LEN];
    (void)state;
    p = open_ok(URI, NULL);

    k = key_ok(p, "kek");
    assert_string_equal(aios_key_id(k), "kek");
    assert_int_equal(aios_key_version(k), 1);
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_AES256);
    assert_int_equal(aios_key_purposes(k), AIOS_KEY_USE_WRAP);
    assert_int_equal(aios_key_get_state(k), AIOS_KEY_ACTIVE);
    assert_int_equal(aios_key_exportable(k), 0);
    assert_string_equal(aios_key_provider_name(k), "pkcs11");
    tu_assert_status(aios_key_export(k, &buf), AIOS_E_KEY_NOT_EXPORTABLE);
    tu_assert_status(aios_key_sign(k, &buf, (const uint8_t *)"m", 1), AIOS_E_KEY_USAGE);
    tu_assert_status(aios_key_public_raw(k, &buf), AIOS_E_KEY_USAGE);
    aios_key_unref(k);
    k = NULL;

    /* Version 1 explicitly; no other version. */
    tu_assert_ok(aios_provider_get_key(p, &k, "kek", 1));
    aios_key_unref(k);
    tu_assert_status(aios_provider_get_key(p, &k, "kek", 2), AIOS_E_KEY_VERSION_NOT_FOUND);
    assert_null(k);

    k = key_ok(p, "signer");
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_ECDSA_P256);
    assert_int_equal(aios_key_purposes(k), AIOS_KEY_USE_SIGN | AIOS_KEY_USE_VERIFY);
    assert_int_equal(aios_key_exportable(k), 0);
    tu_assert_ok(aios_key_public_raw(k, &buf));
    assert_int_equal(aios_buffer_len(buf), 65);
    assert_int_equal(aios_buffer_data(buf)[0], 0x04);
    aios_buffer_free(buf);
    buf = NULL;
    tu_assert_ok(aios_key_public_pem(k, &buf));
    assert_non_null(strstr((const char *)aios_buffer_data(buf), "BEGIN PUBLIC KEY"));
    aios_buffer_free(buf);
    buf = NULL;
    tu_assert_status(aios_key_export(k, &buf), AIOS_E_KEY_NOT_EXPORTABLE);
    tu_assert_status(aios_key_mac(k, mac, (const uint8_t *)"m", 1), AIOS_E_KEY_USAGE);
    tu_assert_status(aios_key_wrap(k, &buf, mac, 16, NULL, 0), AIOS_E_KEY_USAGE);
    aios_key_unref(k);

    k = key_ok(p, "signer384");
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_ECDSA_P384);
    tu_assert_ok(aios_key_public_raw(k, &buf));
    assert_int_equal(aios_buffer_len(buf), 97);
    aios_buffer_free(buf);
    aios_key_unref(k);
    k = key_ok(p, "signer521");
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_ECDSA_P521);
    tu_assert_ok(aios_key_public_raw(k, &buf));
    assert_int_equal(aios_buffer_len(buf), 133);
    assert_int_equal(aios_buffer_data(buf)[0], 0x04);
    aios_buffer_free(buf);
    aios_key_unref(k);
    k = NULL;

    tu_assert_status(aios_provider_get_key(p, &k, "missing", 0), AIOS_E_KEY_NOT_FOUND);
    assert_non_null(strstr(aios_last_error_message(), "missing"));
    tu_assert_status(aios_provider_get_key(p, &k, "kek128", 0), AIOS_E_UNSUPPORTED);
    assert_non_null(strstr(aios_last_error_message(), "AES-256"));
    tu_assert_status(aios_provider_get_key(p, &k, "hmac", 0), AIOS_E_UNSUPPORTED);
    tu_assert_status(aios_provider_get_key(p, &k, "dup", 0), AIOS_E_PKCS11);
    assert_non_null(strstr(aios_last_error_message(), "several"));
    tu_assert_status(aios_provider_get_key(p, &k, "lonely", 0), AIOS_E_KEY_NOT_FOUND);
    assert_non_null(strstr(aios_last_error_message(), "public key"));
    tu_assert_status(aios_provider_get_key(p, &k, "", 0), AIOS_E_INVALID_ARGUMENT);
    assert_null(k);
    aios_provider_unref(p);
}

static void test_wrap_gcm(void **state)
{
    static const uint8_t ad[] = "context";
    aios_provider *p;
    aios_key *k;
    size_t n;
    (void)state;
    p = open_ok(URI, NULL);
    k = key_ok(p, "kek");
    for (n = 1; n <= AIOS_KEY_DATA_KEY_MAX; n += (n < 40 ? 1 : 7))
        round_trip(k, n, ad, sizeof(ad) - 1, AIOS__P11_WRAP_GCM);
    round_trip(k, AIOS_KEY_DATA_KEY_MAX, NULL, 0, AIOS__P11_WRAP_GCM);
    tamper_all(k, AIOS__P11_WRAP_GCM);
    aios_key_unref(k);
    aios_provider_unref(p);
}

static void test_wrap_kwp_fallback(void **state)
{
    static const uint8_t ad[] = "context";
    aios_provider *p;
    aios_key *k;
    size_t n;
    (void)state;
    p = open_ok(URI, NULL);
    /* A key the token will not AES-GCM with: the RFC 5649 fallback. */
    k = key_ok(p, "kek-wraponly");
    for (n = 1; n <= AIOS_KEY_DATA_KEY_MAX; n++)
        round_trip(k, n, ad, sizeof(ad) - 1, AIOS__P11_WRAP_KWP);
    round_trip(k, 32, NULL, 0, AIOS__P11_WRAP_KWP);
    tamper_all(k, AIOS__P11_WRAP_KWP);
    aios_key_unref(k);

    /* The test hook forces the fallback on a key that could use GCM; the
     * key as looked up without it unwraps both formats. */
    aios__pkcs11_test_force_kwp(1);
    k = key_ok(p, "kek");
    aios__pkcs11_test_force_kwp(0);
    {
        aios_key *g = key_ok(p, "kek");
        uint8_t dk[32];
        aios_buffer *w = NULL, *back = NULL;
        aios__random_bytes(dk, sizeof(dk));
        tu_assert_ok(aios_key_wrap(k, &w, dk, sizeof(dk), ad, 3));
        assert_int_equal(aios_buffer_data(w)[0], AIOS__P11_WRAP_KWP);
        tu_assert_ok(aios_key_unwrap(g, &back, aios_buffer_data(w), aios_buffer_len(w), ad, 3));
        assert_memory_equal(aios_buffer_data(back), dk, sizeof(dk));
        aios_buffer_free(back);
        aios_buffer_free(w);
        tu_assert_ok(aios_key_wrap(g, &w, dk, sizeof(dk), ad, 3));
        assert_int_equal(aios_buffer_data(w)[0], AIOS__P11_WRAP_GCM);
        tu_assert_ok(aios_key_unwrap(k, &back, aios_buffer_data(w), aios_buffer_len(w), ad, 3));
        assert_memory_equal(aios_buffer_data(back), dk, sizeof(dk));
        aios_buffer_free(back);
        aios_buffer_free(w);
        aios_key_unref(g);
    }
    tamper_all(k, AIOS__P11_WRAP_KWP);
    aios_key_unref(k);
    aios_provider_unref(p);
}

/* The formats are what docs/PKCS11.md says, byte for byte: checked with a
 * token key of known value against libaios' own AES-GCM and RFC 5649. */
static void test_formats_known_key(void **state)
{
    static const uint8_t ad[] = "tenant=42";
    aios_provider *p;
    aios_key *k;
    aios_buffer *w = NULL;
    uint8_t dk[33], plain[104], expect[112], h[32];
    size_t n, plen, elen = 0;
    (void)state;

    aios__random_bytes(dk, sizeof(dk));
    p = open_ok(URI, NULL);

    /* 0x03 || len || RFC5649(K, dk || SHA-256(ad) || 0^pad) */
    aios__pkcs11_test_force_kwp(1);
    k = key_ok(p, "kek-known");
    aios__pkcs11_test_force_kwp(0);
    for (n = 1; n <= sizeof(dk); n += 8) {
        tu_assert_ok(aios_key_wrap(k, &w, dk, n, ad, sizeof(ad) - 1));
        plen = (n + 32 + 7) / 8 * 8;
        memset(plain, 0, sizeof(plain));
        memcpy(plain, dk, n);
        aios__sha256(h, ad, sizeof(ad) - 1);
        memcpy(plain + n, h, 32);
        tu_assert_ok(aios__aes_kwp_wrap(expect, sizeof(expect), &elen, known_kek, 32, plain, plen));
        assert_int_equal(aios_buffer_len(w), 2 + elen);
        assert_int_equal(aios_buffer_data(w)[1], n);
        assert_memory_equal(aios_buffer_data(w) + 2, expect, elen);
        aios_buffer_free(w);
        w = NULL;
    }
    aios_key_unref(k);

    /* 0x02 || iv || AES-256-GCM(K, iv, ad, dk) || tag */
    k = key_ok(p, "kek-known");
    tu_assert_ok(aios_key_wrap(k, &w, dk, sizeof(dk), ad, sizeof(ad) - 1));
    assert_int_equal(aios_buffer_data(w)[0], AIOS__P11_WRAP_GCM);
    if (aios__aead_available(AIOS__AEAD_AES256GCM)) {
        aios__aead_key *ak = NULL;
        const uint8_t *b = aios_buffer_data(w);
        tu_assert_ok(aios__aead_key_new(&ak, AIOS__AEAD_AES256GCM, known_kek));
        tu_assert_ok(aios__aead_open(ak, plain, b + 13, sizeof(dk), b + 13 + sizeof(dk),
                                     ad, sizeof(ad) - 1, b + 1));
        assert_memory_equal(plain, dk, sizeof(dk));
        aios__aead_key_free(ak);
    } else {
        print_message("AES-NI absent: the GCM known-key check needs libsodium's AES-GCM\n");
    }
    aios_buffer_free(w);
    aios_key_unref(k);
    aios_provider_unref(p);
}

static void sign_verify(aios_key *k, size_t max_der)
{
    static const uint8_t msg[] = "model manifest digest";
    aios_buffer *sig = NULL, *pub = NULL;
    uint8_t bad[AIOS__EC_DER_SIG_MAX];
    size_t len;
    aios__ec_curve curve = aios_key_get_type(k) == AIOS_KEY_ECDSA_P521   ? AIOS__EC_P521
                           : aios_key_get_type(k) == AIOS_KEY_ECDSA_P384 ? AIOS__EC_P384
                                                                         : AIOS__EC_P256;

    tu_assert_ok(aios_key_sign(k, &sig, msg, sizeof(msg) - 1));
    len = aios_buffer_len(sig);
    assert_true(len >= 8 && len <= max_der);
    assert_int_equal(aios_buffer_data(sig)[0], 0x30);
    tu_assert_ok(aios_key_verify(k, aios_buffer_data(sig), len, msg, sizeof(msg) - 1));
    /* The seam's verifier agrees, on the raw public key. */
    tu_assert_ok(aios_key_public_raw(k, &pub));
    tu_assert_ok(aios__ecdsa_verify_der(curve, aios_buffer_data(sig), len, msg, sizeof(msg) - 1,
                                        aios_buffer_data(pub), aios_buffer_len(pub)));
    /* Another message, a changed signature. */
    tu_assert_status(aios_key_verify(k, aios_buffer_data(sig), len, msg, sizeof(msg) - 2),
                     AIOS_E_AUTH);
    memcpy(bad, aios_buffer_data(sig), len);
    bad[len - 5] ^= 0x40;
    tu_assert_status(aios_key_verify(k, bad, len, msg, sizeof(msg) - 1), AIOS_E_AUTH);
    aios_buffer_free(pub);
    aios_buffer_free(sig);

    /* Empty message. */
    tu_assert_ok(aios_key_sign(k, &sig, NULL, 0));
    tu_assert_ok(aios_key_verify(k, aios_buffer_data(sig), aios_buffer_len(sig), NULL, 0));
    aios_buffer_free(sig);
}

static void test_sign_and_verify(void **state)
{
    aios_provider *p;
    aios_key *k;
    int i;
    (void)state;
    p = open_ok(URI, NULL);
    k = key_ok(p, "signer");
    /* Enough signatures that r or s with a high bit, or a short one, turn
     * up: the DER encoding of each must verify. */
    for (i = 0; i < 16; i++)
        sign_verify(k, 72);
    aios_key_unref(k);
    k = key_ok(p, "signer384");
    for (i = 0; i < 8; i++)
        sign_verify(k, 104);
    aios_key_unref(k);
    /* P-521 (SHA-512): the point's OCTET STRING and most signatures'
     * SEQUENCE take DER's long length form. */
    k = key_ok(p, "signer521");
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_ECDSA_P521);
    assert_true(aios_key_purposes(k) & AIOS_KEY_USE_SIGN);
    for (i = 0; i < 8; i++)
        sign_verify(k, AIOS__EC_DER_SIG_MAX);
    aios_key_unref(k);
    aios_provider_unref(p);
}

/* ---- RSA */

/* The format the token wraps with: 0x04 (RSA-OAEP with SHA-256) or, where
 * the token takes only SHA-1 parameters as SoftHSM2 2.6 does, 0x05. */
static int oaep_format(const aios_key *k)
{
    static const uint8_t dk[16] = { 1 };
    aios_buffer *w = NULL;
    int f;
    tu_assert_ok(aios_key_wrap(k, &w, dk, sizeof(dk), NULL, 0));
    f = aios_buffer_data(w)[0];
    assert_true(f == AIOS__P11_WRAP_OAEP_SHA256 || f == AIOS__P11_WRAP_OAEP_SHA1);
    aios_buffer_free(w);
    return f;
}

static void test_rsa_get_key(void **state)
{
    static const uint8_t dk[32] = { 3 };
    aios_provider *p;
    aios_key *k = NULL;
    aios_buffer *buf = NULL, *w = NULL;
    uint8_t mac[AIOS_KEY_MAC_LEN] = { 0 };
    (void)state;
    p = open_ok(URI, NULL);

    k = key_ok(p, "rsa-kek");
    assert_string_equal(aios_key_id(k), "rsa-kek");
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_RSA);
    assert_string_equal(aios_key_type_name(aios_key_get_type(k)), "rsa");
    assert_int_equal(aios_key_purposes(k), AIOS_KEY_USE_WRAP);
    assert_int_equal(aios_key_version(k), 1);
    assert_int_equal(aios_key_get_state(k), AIOS_KEY_ACTIVE);
    assert_int_equal(aios_key_exportable(k), 0);
    assert_string_equal(aios_key_provider_name(k), "pkcs11");
    /* It wraps, and does nothing else. */
    tu_assert_status(aios_key_sign(k, &buf, (const uint8_t *)"m", 1), AIOS_E_KEY_USAGE);
    assert_null(buf);
    tu_assert_status(aios_key_verify(k, mac, 8, (const uint8_t *)"m", 1), AIOS_E_KEY_USAGE);
    tu_assert_status(aios_key_mac(k, mac, (const uint8_t *)"m", 1), AIOS_E_KEY_USAGE);
    tu_assert_status(aios_key_public_raw(k, &buf), AIOS_E_KEY_USAGE);
    tu_assert_status(aios_key_export(k, &buf), AIOS_E_KEY_NOT_EXPORTABLE);
    assert_null(buf);
    aios_key_unref(k);
    k = NULL;
    tu_assert_ok(aios_provider_get_key(p, &k, "rsa-kek", 1));
    aios_key_unref(k);
    k = NULL;
    tu_assert_status(aios_provider_get_key(p, &k, "rsa-kek", 2), AIOS_E_KEY_VERSION_NOT_FOUND);

    /* No public key object: each wrap makes a session object from the
     * private key's modulus and exponent. */
    k = key_ok(p, "rsa-lonely");
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_RSA);
    round_trip(k, 32, (const uint8_t *)"ad", 2, oaep_format(k));
    aios_key_unref(k);
    k = NULL;

    /* 8184 bits: the largest modulus whose wrapped keys fit. */
    k = key_ok(p, "rsa-8184");
    tu_assert_ok(aios_key_wrap(k, &w, dk, sizeof(dk), NULL, 0));
    assert_int_equal(aios_buffer_len(w), AIOS_KEY_WRAPPED_MAX);
    aios_buffer_free(w);
    aios_key_unref(k);
    k = NULL;

    tu_assert_status(aios_provider_get_key(p, &k, "rsa-8192", 0), AIOS_E_UNSUPPORTED);
    assert_non_null(strstr(aios_last_error_message(), "AIOS_KEY_WRAPPED_MAX"));
    tu_assert_status(aios_provider_get_key(p, &k, "rsa-small", 0), AIOS_E_UNSUPPORTED);
    assert_non_null(strstr(aios_last_error_message(), "1024 bits"));
    tu_assert_status(aios_provider_get_key(p, &k, "rsa-nodecrypt", 0), AIOS_E_UNSUPPORTED);
    assert_non_null(strstr(aios_last_error_message(), "CKA_DECRYPT"));
    assert_null(k);
    aios_provider_unref(p);
}

static void test_rsa_wrap(void **state)
{
    static const uint8_t ad[] = "tenant=7";
    static const uint8_t dk[32] = { 9, 8, 7 };
    aios_provider *p;
    aios_key *k, *other, *aes;
    aios_buffer *w = NULL, *w2 = NULL, *back = NULL;
    uint8_t buf[AIOS_KEY_WRAPPED_MAX];
    size_t n, len;
    int fmt, rc;
    (void)state;
    p = open_ok(URI, NULL);
    k = key_ok(p, "rsa-kek");
    fmt = oaep_format(k);
    if (fmt == AIOS__P11_WRAP_OAEP_SHA1)
        print_message("the token takes RSA-OAEP with SHA-1 only: format 0x05\n");
    for (n = 1; n <= AIOS_KEY_DATA_KEY_MAX; n += (n < 40 ? 3 : 8))
        round_trip(k, n, ad, sizeof(ad) - 1, fmt);
    round_trip(k, AIOS_KEY_DATA_KEY_MAX, NULL, 0, fmt);
    /* Another ad, no ad, every byte changed, unknown format, truncated. */
    tamper_all(k, fmt);

    /* Randomised: the same data key and ad wrap to other bytes each time. */
    tu_assert_ok(aios_key_wrap(k, &w, dk, sizeof(dk), ad, sizeof(ad) - 1));
    tu_assert_ok(aios_key_wrap(k, &w2, dk, sizeof(dk), ad, sizeof(ad) - 1));
    len = aios_buffer_len(w);
    assert_int_equal(aios_buffer_len(w2), len);
    assert_memory_not_equal(aios_buffer_data(w), aios_buffer_data(w2), len);
    aios_buffer_free(w2);

    /* The other OAEP format byte names another hash: it does not open (or
     * the token does not take SHA-256 at all). */
    memcpy(buf, aios_buffer_data(w), len);
    buf[0] = fmt == AIOS__P11_WRAP_OAEP_SHA256 ? AIOS__P11_WRAP_OAEP_SHA1
                                               : AIOS__P11_WRAP_OAEP_SHA256;
    rc = aios_key_unwrap(k, &back, buf, len, ad, sizeof(ad) - 1);
    assert_true(rc == AIOS_E_AUTH ||
                (buf[0] == AIOS__P11_WRAP_OAEP_SHA256 && rc == AIOS_E_UNSUPPORTED));
    assert_null(back);
    buf[0] = (uint8_t)fmt;
    /* A length other than the modulus'. */
    tu_assert_status(aios_key_unwrap(k, &back, buf, len - 1, ad, sizeof(ad) - 1), AIOS_E_FORMAT);
    buf[len] = 0;
    tu_assert_status(aios_key_unwrap(k, &back, buf, len + 1, ad, sizeof(ad) - 1), AIOS_E_FORMAT);
    assert_null(back);

    /* Another RSA key, an AES key: AIOS_E_AUTH, both ways. */
    other = key_ok(p, "rsa-lonely");
    tu_assert_status(aios_key_unwrap(other, &back, buf, len, ad, sizeof(ad) - 1), AIOS_E_AUTH);
    aes = key_ok(p, "kek");
    tu_assert_status(aios_key_unwrap(aes, &back, buf, len, ad, sizeof(ad) - 1), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "RSA"));
    aios_buffer_free(w);
    w = NULL;
    tu_assert_ok(aios_key_wrap(aes, &w, dk, sizeof(dk), ad, sizeof(ad) - 1));
    tu_assert_status(aios_key_unwrap(k, &back, aios_buffer_data(w), aios_buffer_len(w), ad,
                                     sizeof(ad) - 1), AIOS_E_AUTH);
    assert_null(back);
    aios_buffer_free(w);
    /* Intact, it still opens. */
    tu_assert_ok(aios_key_unwrap(k, &back, buf, len, ad, sizeof(ad) - 1));
    assert_memory_equal(aios_buffer_data(back), dk, sizeof(dk));
    aios_buffer_free(back);
    aios_key_unref(aes);
    aios_key_unref(other);
    aios_key_unref(k);
    aios_provider_unref(p);
}

static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE q[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_LABEL, (void *)label, strlen(label) },
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    assert_int_equal(fl->C_FindObjectsInit(s, q, 2), CKR_OK);
    assert_int_equal(fl->C_FindObjects(s, &h, 1, &n), CKR_OK);
    assert_int_equal(fl->C_FindObjectsFinal(s), CKR_OK);
    assert_int_equal(n, 1);
    return h;
}

/* The RSA formats are what docs/PKCS11.md says: the test opens a wrapped
 * key with the token itself, and makes wrapped keys of its own. */
static void test_rsa_format_pinned(void **state)
{
    static const uint8_t ad[] = "tenant=42";
    static const struct { size_t dk_len; int good_hash; int expect; } cases[] = {
        { 40, 1, AIOS_OK }, { 1, 1, AIOS_OK }, { 64, 1, AIOS_OK },
        { 40, 0, AIOS_E_AUTH },             /* another ad's hash */
        { 0, 1, AIOS_E_AUTH },              /* no data key */
        { 65, 1, AIOS_E_AUTH },             /* a data key over 64 bytes */
    };
    uint8_t dk[65], plain[512], ct[1 + 256], h[32];
    CK_RSA_PKCS_OAEP_PARAMS op;
    CK_MECHANISM mech = { CKM_RSA_PKCS_OAEP, &op, sizeof(op) };
    CK_SLOT_ID slot = 0;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE priv, pub;
    CK_ULONG pl, cl;
    aios_provider *p;
    aios_key *k;
    aios_buffer *w = NULL, *back = NULL;
    size_t i;
    int fmt;
    (void)state;

    aios__random_bytes(dk, sizeof(dk));
    aios__sha256(h, ad, sizeof(ad) - 1);
    p = open_ok(URI, NULL);
    k = key_ok(p, "rsa-kek");
    tu_assert_ok(aios_key_wrap(k, &w, dk, 40, ad, sizeof(ad) - 1));
    fmt = aios_buffer_data(w)[0];
    memset(&op, 0, sizeof(op));
    op.hashAlg = fmt == AIOS__P11_WRAP_OAEP_SHA256 ? CKM_SHA256 : CKM_SHA_1;
    op.mgf = fmt == AIOS__P11_WRAP_OAEP_SHA256 ? CKG_MGF1_SHA256 : CKG_MGF1_SHA1;
    op.source = CKZ_DATA_SPECIFIED;

    /* The test's own session on the token (libaios' login covers it). */
    assert_int_equal(find_token_slot(TOKEN, &slot), 0);
    assert_int_equal(fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
    priv = find_one(s, CKO_PRIVATE_KEY, "rsa-kek");
    pub = find_one(s, CKO_PUBLIC_KEY, "rsa-kek");

    /* fmt || RSA-OAEP(pub, dk || SHA-256(ad)) */
    assert_int_equal(aios_buffer_len(w), 1 + 256);
    pl = sizeof(plain);
    assert_int_equal(fl->C_DecryptInit(s, &mech, priv), CKR_OK);
    assert_int_equal(fl->C_Decrypt(s, (CK_BYTE_PTR)(uintptr_t)(aios_buffer_data(w) + 1), 256,
                                   plain, &pl), CKR_OK);
    assert_int_equal(pl, 40 + 32);
    assert_memory_equal(plain, dk, 40);
    assert_memory_equal(plain + 40, h, 32);
    aios_buffer_free(w);

    /* Wrapped keys the test makes: only dk || SHA-256(ad) with 1..64
     * bytes of data key opens. */
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = cases[i].dk_len;
        memcpy(plain, dk, n);
        memcpy(plain + n, h, 32);
        if (!cases[i].good_hash)
            plain[n + 31] ^= 0x01;
        cl = sizeof(ct) - 1;
        assert_int_equal(fl->C_EncryptInit(s, &mech, pub), CKR_OK);
        assert_int_equal(fl->C_Encrypt(s, plain, (CK_ULONG)(n + 32), ct + 1, &cl), CKR_OK);
        assert_int_equal(cl, 256);
        ct[0] = (uint8_t)fmt;
        if (cases[i].expect == AIOS_OK) {
            tu_assert_ok(aios_key_unwrap(k, &back, ct, sizeof(ct), ad, sizeof(ad) - 1));
            assert_int_equal(aios_buffer_len(back), n);
            assert_memory_equal(aios_buffer_data(back), dk, n);
            assert_true(aios_buffer_flags(back) & AIOS_BUFFER_SECURE);
            aios_buffer_free(back);
            back = NULL;
        } else {
            tu_assert_status(aios_key_unwrap(k, &back, ct, sizeof(ct), ad, sizeof(ad) - 1),
                             cases[i].expect);
            assert_null(back);
        }
    }
    assert_int_equal(fl->C_CloseSession(s), CKR_OK);
    aios_key_unref(k);
    aios_provider_unref(p);
}

/* A token without CKM_RSA_PKCS_OAEP: the key is found, but neither wraps
 * nor unwraps. */
static void test_rsa_without_oaep(void **state)
{
    static const uint8_t dk[32] = { 5 };
    aios_provider *p;
    aios_key *k;
    aios_buffer *w = NULL, *back = NULL;
    (void)state;
    p = open_ok(URI, NULL);
    k = key_ok(p, "rsa-kek");
    tu_assert_ok(aios_key_wrap(k, &w, dk, sizeof(dk), NULL, 0));
    aios_key_unref(k);

    aios__pkcs11_test_hide_oaep(1);
    k = key_ok(p, "rsa-kek");
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_RSA);
    tu_assert_status(aios_key_wrap(k, &back, dk, sizeof(dk), NULL, 0), AIOS_E_UNSUPPORTED);
    assert_non_null(strstr(aios_last_error_message(), "CKM_RSA_PKCS_OAEP"));
    assert_null(back);
    tu_assert_status(aios_key_unwrap(k, &back, aios_buffer_data(w), aios_buffer_len(w), NULL, 0),
                     AIOS_E_UNSUPPORTED);
    assert_non_null(strstr(aios_last_error_message(), "CKM_RSA_PKCS_OAEP"));
    assert_null(back);
    /* AES keys do not need it. */
    {
        aios_key *aes = key_ok(p, "kek");
        round_trip(aes, 32, NULL, 0, AIOS__P11_WRAP_GCM);
        aios_key_unref(aes);
    }
    aios__pkcs11_test_hide_oaep(0);
    tu_assert_ok(aios_key_unwrap(k, &back, aios_buffer_data(w), aios_buffer_len(w), NULL, 0));
    assert_memory_equal(aios_buffer_data(back), dk, sizeof(dk));
    aios_buffer_free(back);
    aios_buffer_free(w);
    aios_key_unref(k);
    aios_provider_unref(p);
}

/* ---- threads */

typedef struct thread_arg {
    aios_key *gcm, *kwp, *signer, *rsa;
    int failures;
    int seed;
} thread_arg;

static void *worker(void *v)
{
    thread_arg *a = v;
    int i;
    for (i = 0; i < 40; i++) {
        aios_key *k = i % 10 == 5 ? a->rsa : (i + a->seed) % 2 ? a->gcm : a->kwp;
        uint8_t dk[32], ad[8];
        aios_buffer *w = NULL, *back = NULL, *sig = NULL;
        aios__random_bytes(dk, sizeof(dk));
        memcpy(ad, &i, sizeof(i));
        memcpy(ad + 4, &a->seed, sizeof(a->seed));
        if (aios_key_wrap(k, &w, dk, sizeof(dk), ad, sizeof(ad)) != AIOS_OK ||
            aios_key_unwrap(k, &back, aios_buffer_data(w), aios_buffer_len(w), ad,
                            sizeof(ad)) != AIOS_OK ||
            aios_buffer_len(back) != sizeof(dk) ||
            memcmp(aios_buffer_data(back), dk, sizeof(dk)) != 0)
            a->failures++;
        /* A wrong ad fails cleanly while others use the same key. */
        aios_buffer_free(back);
        back = NULL;
        if (w != NULL && aios_key_unwrap(k, &back, aios_buffer_data(w), aios_buffer_len(w), ad,
                                         sizeof(ad) - 1) != AIOS_E_AUTH)
            a->failures++;
        if (i % 8 == 0 &&
            (aios_key_sign(a->signer, &sig, dk, sizeof(dk)) != AIOS_OK ||
             aios_key_verify(a->signer, aios_buffer_data(sig), aios_buffer_len(sig), dk,
                             sizeof(dk)) != AIOS_OK))
            a->failures++;
        aios_buffer_free(sig);
        aios_buffer_free(back);
        aios_buffer_free(w);
    }
    return NULL;
}

static void test_threads(void **state)
{
    aios_provider *p;
    thread_arg args[4];
    pthread_t th[4];
    aios_key *gcm, *kwp, *signer, *rsa;
    int i;
    (void)state;
    p = open_ok(URI, NULL);
    gcm = key_ok(p, "kek");
    kwp = key_ok(p, "kek-wraponly");
    signer = key_ok(p, "signer");
    rsa = key_ok(p, "rsa-kek");
    aios_provider_unref(p);             /* the keys keep it alive */
    for (i = 0; i < 4; i++) {
        args[i].gcm = gcm;
        args[i].kwp = kwp;
        args[i].signer = signer;
        args[i].rsa = rsa;
        args[i].failures = 0;
        args[i].seed = i;
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].failures, 0);
    }
    assert_true(module_initialised());
    aios_key_unref(gcm);
    aios_key_unref(kwp);
    aios_key_unref(signer);
    aios_key_unref(rsa);
}

/* ---- module and token sharing */

static void test_module_refcount(void **state)
{
    aios_provider *p1, *p2;
    aios_key *k;
    (void)state;
    p1 = open_ok(URI, NULL);
    p2 = open_ok(URI, NULL);
    k = key_ok(p2, "kek");
    aios_provider_unref(p1);
    assert_true(module_initialised());      /* p2 still uses it */
    aios_provider_unref(p2);
    assert_true(module_initialised());      /* its key still does */
    round_trip(k, 32, (const uint8_t *)"x", 1, AIOS__P11_WRAP_GCM);
    aios_key_unref(k);
    assert_false(module_initialised());     /* finalised once, by the last user */
}

static void test_module_initialised_elsewhere(void **state)
{
    aios_provider *p;
    aios_key *k;
    (void)state;
    /* The host (here: the test) initialised the module itself: libaios
     * takes CKR_CRYPTOKI_ALREADY_INITIALIZED and leaves C_Finalize to it. */
    assert_int_equal(fl->C_Initialize(NULL), CKR_OK);
    p = open_ok(URI, NULL);
    k = key_ok(p, "kek");
    round_trip(k, 16, NULL, 0, AIOS__P11_WRAP_GCM);
    aios_key_unref(k);
    aios_provider_unref(p);
    assert_true(module_initialised());
    assert_int_equal(fl->C_Finalize(NULL), CKR_OK);
}

/* ---- keyring unlock */

static void test_unlock_wrap_unwrap(void **state)
{
    static const uint8_t ad[] = "keyring v1";
    uint8_t master[32];
    aios_buffer *w = NULL, *back = NULL;
    const char *uris[] = {
        "pkcs11:token=" TOKEN ";object=kek?pin-value=" USER_PIN,
        "pkcs11:token=" TOKEN ";id=%A1%01;type=secret-key?pin-value=" USER_PIN,
        "pkcs11:token=" TOKEN ";object=kek-wraponly?pin-value=" USER_PIN,
    };
    size_t i;
    (void)state;

    aios__random_bytes(master, sizeof(master));
    for (i = 0; i < 3; i++) {
        tu_assert_ok(aios__pkcs11_unlock_wrap(module, uris[i], NULL, master, sizeof(master), ad,
                                              sizeof(ad) - 1, &w));
        assert_int_equal(aios_buffer_data(w)[0], i < 2 ? AIOS__P11_WRAP_GCM : AIOS__P11_WRAP_KWP);
        assert_false(module_initialised());     /* one-shot: closed again */
        tu_assert_ok(aios__pkcs11_unlock_unwrap(module, uris[i], NULL, aios_buffer_data(w),
                                                aios_buffer_len(w), ad, sizeof(ad) - 1, &back));
        assert_int_equal(aios_buffer_len(back), sizeof(master));
        assert_memory_equal(aios_buffer_data(back), master, sizeof(master));
        assert_true(aios_buffer_flags(back) & AIOS_BUFFER_SECURE);
        aios_buffer_free(back);
        back = NULL;
        tu_assert_status(aios__pkcs11_unlock_unwrap(module, uris[i], NULL, aios_buffer_data(w),
                                                    aios_buffer_len(w), ad, sizeof(ad) - 2,
                                                    &back), AIOS_E_AUTH);
        assert_null(back);
        aios_buffer_free(w);
        w = NULL;
    }

    /* Forced KWP on a GCM-capable key, PIN given as an argument. */
    aios__pkcs11_test_force_kwp(1);
    tu_assert_ok(aios__pkcs11_unlock_wrap(module, "pkcs11:token=" TOKEN ";object=kek", USER_PIN,
                                          master, sizeof(master), ad, sizeof(ad) - 1, &w));
    aios__pkcs11_test_force_kwp(0);
    assert_int_equal(aios_buffer_data(w)[0], AIOS__P11_WRAP_KWP);
    tu_assert_ok(aios__pkcs11_unlock_unwrap(module, "pkcs11:token=" TOKEN ";object=kek",
                                            USER_PIN, aios_buffer_data(w), aios_buffer_len(w),
                                            ad, sizeof(ad) - 1, &back));
    assert_memory_equal(aios_buffer_data(back), master, sizeof(master));
    aios_buffer_free(back);
    back = NULL;
    /* Another token's "kek" cannot open it. */
    tu_assert_status(aios__pkcs11_unlock_unwrap(module, "pkcs11:token=" TOKEN2 ";object=kek",
                                                USER_PIN, aios_buffer_data(w),
                                                aios_buffer_len(w), ad, sizeof(ad) - 1, &back),
                     AIOS_E_AUTH);
    aios_buffer_free(w);
    w = NULL;

    /* What the URI must say. */
    tu_assert_status(aios__pkcs11_unlock_wrap(module, URI, NULL, master, 32, NULL, 0, &w),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__pkcs11_unlock_wrap(module, "pkcs11:token=" TOKEN ";object=nope",
                                              USER_PIN, master, 32, NULL, 0, &w),
                     AIOS_E_KEY_NOT_FOUND);
    tu_assert_status(aios__pkcs11_unlock_wrap(module, "pkcs11:token=" TOKEN ";object=kek;"
                                              "type=private", USER_PIN, master, 32, NULL, 0, &w),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__pkcs11_unlock_wrap(module, "pkcs11:token=" TOKEN ";object=kek",
                                              "4321", master, 32, NULL, 0, &w),
                     AIOS_E_PKCS11_PIN);
    tu_assert_status(aios__pkcs11_unlock_wrap(module, "pkcs11:token=" TOKEN ";object=kek",
                                              USER_PIN, master, 0, NULL, 0, &w),
                     AIOS_E_INVALID_ARGUMENT);
    assert_null(w);
    assert_false(module_initialised());
}

/* The unlock path shares a provider's login when both are open. */
static void test_unlock_with_provider_open(void **state)
{
    aios_provider *p;
    aios_buffer *w = NULL, *back = NULL;
    uint8_t master[32] = { 1, 2, 3 };
    (void)state;
    p = open_ok(URI, NULL);
    tu_assert_ok(aios__pkcs11_unlock_wrap(module, "pkcs11:token=" TOKEN ";object=kek", USER_PIN,
                                          master, 32, NULL, 0, &w));
    tu_assert_status(aios__pkcs11_unlock_unwrap(module, "pkcs11:token=" TOKEN ";object=kek",
                                                "0000", aios_buffer_data(w), aios_buffer_len(w),
                                                NULL, 0, &back), AIOS_E_PKCS11_PIN);
    aios_provider_unref(p);
    tu_assert_ok(aios__pkcs11_unlock_unwrap(module, "pkcs11:token=" TOKEN ";object=kek", USER_PIN,
                                            aios_buffer_data(w), aios_buffer_len(w), NULL, 0,
                                            &back));
    assert_memory_equal(aios_buffer_data(back), master, 32);
    aios_buffer_free(back);
    aios_buffer_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_open_with_uri_pin, after_each),
        cmocka_unit_test_teardown(test_open_with_options_pin, after_each),
        cmocka_unit_test_teardown(test_open_module_from_uri_and_pin_source, after_each),
        cmocka_unit_test_teardown(test_wrong_pin, after_each),
        cmocka_unit_test_teardown(test_token_selection, after_each),
        cmocka_unit_test_teardown(test_bad_arguments, after_each),
        cmocka_unit_test_teardown(test_get_keys, after_each),
        cmocka_unit_test_teardown(test_wrap_gcm, after_each),
        cmocka_unit_test_teardown(test_wrap_kwp_fallback, after_each),
        cmocka_unit_test_teardown(test_formats_known_key, after_each),
        cmocka_unit_test_teardown(test_sign_and_verify, after_each),
        cmocka_unit_test_teardown(test_rsa_get_key, after_each),
        cmocka_unit_test_teardown(test_rsa_wrap, after_each),
        cmocka_unit_test_teardown(test_rsa_format_pinned, after_each),
        cmocka_unit_test_teardown(test_rsa_without_oaep, after_each),
        cmocka_unit_test_teardown(test_threads, after_each),
        cmocka_unit_test_teardown(test_module_refcount, after_each),
        cmocka_unit_test_teardown(test_module_initialised_elsewhere, after_each),
        cmocka_unit_test_teardown(test_unlock_wrap_unwrap, after_each),
        cmocka_unit_test_teardown(test_unlock_with_provider_open, after_each),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
