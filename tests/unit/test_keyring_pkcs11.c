/*
 * A keyring unlocked by an AES key in a PKCS#11 token (a real SoftHSM2
 * token, set up here in a temporary directory): create, open, the wrong
 * key or PIN, and damaged files.  Built only when lib/key/pkcs11.c exists.
 */
#include <dlfcn.h>

#include <p11-kit/pkcs11.h>

#include "test_keyring_util.h"

#define PIN    "4321"
#define SO_PIN "8765"
#define LABEL  "aios-keyring"
#define URI    "pkcs11:token=" LABEL ";object=kr-master"
#define URI2   "pkcs11:token=" LABEL ";object=kr-other"

static char *dir;
static char module[512];

static int find_module(void)
{
    const char *env = getenv("AIOS_TEST_SOFTHSM2_MODULE");
    const char *paths[] = {
        AIOS_TEST_P11_MODULE_DIR "/libsofthsm2.so",
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/" AIOS_TEST_MULTIARCH "/softhsm/libsofthsm2.so",
        "/usr/lib64/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    };
    if (env && *env) {
        snprintf(module, sizeof(module), "%s", env);
        return access(module, R_OK) == 0 ? 0 : -1;
    }
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (access(paths[i], R_OK) == 0) {
            snprintf(module, sizeof(module), "%s", paths[i]);
            return 0;
        }
    }
    fprintf(stderr, "SoftHSM2 not found (install softhsm2 or set AIOS_TEST_SOFTHSM2_MODULE)\n");
    return -1;
}

#define P11(call) do {                                                        \
        CK_RV rv_ = (call);                                                   \
        if (rv_ != CKR_OK) {                                                  \
            fprintf(stderr, "%s:%d: %s: 0x%lx\n", __FILE__, __LINE__, #call,  \
                    (unsigned long)rv_);                                      \
            return -1;                                                        \
        }                                                                     \
    } while (0)

static int aes_key(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 32;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE a[] = {
        { CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, &t, 1 }, { CKA_PRIVATE, &t, 1 }, { CKA_SENSITIVE, &t, 1 },
        { CKA_EXTRACTABLE, &f, 1 }, { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_ENCRYPT, &t, 1 }, { CKA_DECRYPT, &t, 1 },
        { CKA_WRAP, &t, 1 }, { CKA_UNWRAP, &t, 1 },
    };
    P11(fl->C_GenerateKey(s, &gen, a, sizeof(a) / sizeof(a[0]), &h));
    return 0;
}

/* A token labelled LABEL holding two AES-256 keys. */
static int make_token(void)
{
    CK_C_GetFunctionList get;
    CK_FUNCTION_LIST_PTR fl;
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    CK_UTF8CHAR label[32];
    CK_SESSION_HANDLE s;
    char conf[4200];
    void *dl, *sym;
    FILE *f;

    snprintf(conf, sizeof(conf), "%s/tokens", dir);
    if (mkdir(conf, 0700) != 0)
        return -1;
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
    f = fopen(conf, "w");
    if (!f)
        return -1;
    fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir);
    fclose(f);
    setenv("SOFTHSM2_CONF", conf, 1);
    if (!(dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) || !(sym = dlsym(dl, "C_GetFunctionList")))
        return -1;
    memcpy(&get, &sym, sizeof(get));
    P11(get(&fl));
    P11(fl->C_Initialize(NULL));
    P11(fl->C_GetSlotList(CK_TRUE, slots, &n));
    if (n < 1)
        return -1;
    memset(label, ' ', sizeof(label));
    memcpy(label, LABEL, strlen(LABEL));
    P11(fl->C_InitToken(slots[0], (CK_UTF8CHAR_PTR)SO_PIN, 4, label));
    n = 8;
    P11(fl->C_GetSlotList(CK_TRUE, slots, &n));
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (fl->C_GetTokenInfo(slots[i], &ti) == CKR_OK && (ti.flags & CKF_TOKEN_INITIALIZED) &&
            memcmp(ti.label, label, 32) == 0) {
            P11(fl->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
            P11(fl->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, 4));
            P11(fl->C_InitPIN(s, (CK_UTF8CHAR_PTR)PIN, 4));
            P11(fl->C_Logout(s));
            P11(fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)PIN, 4));
            if (aes_key(fl, s, "kr-master") != 0 || aes_key(fl, s, "kr-other") != 0)
                return -1;
            P11(fl->C_CloseSession(s));
            P11(fl->C_Finalize(NULL));
            dlclose(dl);
            return 0;
        }
    }
    return -1;
}

static int group_setup(void **state)
{
    (void)state;
    if (aios_init() != AIOS_OK || find_module() != 0)
        return -1;
    dir = kt_tmpdir();
    return make_token();
}

static int group_teardown(void **state)
{
    char cmd[4200];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    free(dir);
    return system(cmd) == 0 ? 0 : -1;
}

static aios_keyring_options p11(const char *uri, const char *pin)
{
    aios_keyring_options o = AIOS_KEYRING_OPTIONS_INIT;
    o.unlock = AIOS_KEYRING_UNLOCK_PKCS11;
    o.pkcs11_module = module;
    o.pkcs11_uri = uri;
    o.pkcs11_pin = pin;
    return o;
}

static void test_create_open(void **state)
{
    (void)state;
    const char *path = kt_path(dir, "p11.aioskr", 0);
    aios_keyring_options o = p11(URI, PIN);
    aios_keyring *kr = NULL;
    aios_key *k = NULL, *g = NULL;
    aios_buffer *w = NULL, *back = NULL;
    aios__kr_header h;
    static const uint8_t dk[32] = { 42 };
    uint8_t *file;
    size_t len;

    tu_assert_ok(aios_keyring_create(&kr, path, &o));
    tu_assert_ok(aios_keyring_add(kr, &k, "k", AIOS_KEY_AES256, NULL));
    tu_assert_ok(aios_key_wrap(k, &w, dk, sizeof(dk), NULL, 0));
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "k"));
    aios_keyring_free(kr);
    kr = NULL;

    file = kt_read(path, &len);
    tu_assert_ok(aios__kr_header_parse(&h, file, len, path));
    assert_int_equal(h.unlock, AIOS_KEYRING_UNLOCK_PKCS11);
    assert_true(h.wrapped_dk_len > 32 && h.wrapped_dk_len <= AIOS__KR_PKCS11_WRAPPED_MAX);
    free(file);

    tu_assert_ok(aios_keyring_open(&kr, path, &o));
    assert_int_equal(kt_primary(kr, "k"), 2);
    tu_assert_ok(aios_keyring_get(kr, &g, "k", 1));
    tu_assert_ok(aios_key_unwrap(g, &back, aios_buffer_data(w), aios_buffer_len(w), NULL, 0));
    assert_memory_equal(aios_buffer_data(back), dk, sizeof(dk));
    aios_keyring_free(kr);
    kr = NULL;

    /* Another key of the same token, a wrong PIN, a key that is not there,
     * a passphrase: none opens it. */
    o = p11(URI2, PIN);
    tu_assert_status(aios_keyring_open(&kr, path, &o), AIOS_E_KEYRING_PASSPHRASE);
    assert_non_null(strstr(aios_last_error_message(), "PKCS#11"));
    o = p11(URI, "0000");
    tu_assert_status(aios_keyring_open(&kr, path, &o), AIOS_E_PKCS11_PIN);
    assert_null(strstr(aios_last_error_message(), "0000"));
    o = p11("pkcs11:token=" LABEL ";object=missing", PIN);
    assert_int_not_equal(aios_keyring_open(&kr, path, &o), AIOS_OK);
    o = kt_pass("pw");
    tu_assert_status(aios_keyring_open(&kr, path, &o), AIOS_E_KEYRING_PASSPHRASE);
    assert_null(kr);
    aios_buffer_free(w);
    aios_buffer_free(back);
    aios_key_unref(k);
    aios_key_unref(g);
}

static void test_damaged(void **state)
{
    (void)state;
    const char *path = kt_path(dir, "p11.aioskr", 0);
    const char *copy = kt_path(dir, "damaged.aioskr", 1);
    aios_keyring_options o = p11(URI, PIN);
    size_t len;
    uint8_t *orig = kt_read(path, &len), *buf = malloc(len);

    assert_non_null(buf);
    /* Every byte changed (every fifth under valgrind): corrupt, an unknown
     * version, or tampered. */
    for (size_t i = 0; i < len; i += tu_under_valgrind() ? 5 : 1) {
        aios_keyring *kr = NULL;
        int rc;
        memcpy(buf, orig, len);
        buf[i] ^= 0x5a;
        kt_write(copy, buf, len);
        rc = aios_keyring_open(&kr, copy, &o);
        if (rc != AIOS_E_KEYRING_CORRUPT && rc != AIOS_E_KEYRING_TAMPERED &&
            !(i == 6 && rc == AIOS_E_VERSION))
            fail_msg("byte %zu: %s (%s)", i, aios_status_name(rc), aios_last_error_message());
        assert_null(kr);
    }
    for (size_t n = 0; n < len; n += 7) {
        aios_keyring *kr = NULL;
        kt_write(copy, orig, n);
        tu_assert_status(aios_keyring_open(&kr, copy, &o), AIOS_E_KEYRING_CORRUPT);
    }
    free(orig);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_open),
        cmocka_unit_test(test_damaged),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
