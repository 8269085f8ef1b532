/*
 * The keyring's public API: create and open, every lifecycle operation and
 * its error statuses, handles that follow state changes, the listing, the
 * provider, read-only opening, the writer lock (in this process and in a
 * child), reload, usage counters, and rollback when a write fails.
 */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "test_keyring_util.h"

static int64_t fixed_now = 1700000000;
static int64_t test_clock(void)
{
    return fixed_now;
}

typedef struct fx {
    char *dir;
    const char *path;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = kt_tmpdir();
    f->path = strdup(kt_path(f->dir, "keys.aioskr", 0));
    aios__key_set_clock_for_testing(test_clock);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    aios__kr_fail_write_for_testing(0);
    aios__key_set_clock_for_testing(NULL);
    kt_rmtree(f->dir);
    free((void *)f->path);
    free(f);
    return 0;
}

static aios_keyring *new_raw(const fx *f)
{
    aios_keyring_options o = kt_raw();
    aios_keyring *kr = NULL;
    tu_assert_ok(aios_keyring_create(&kr, f->path, &o));
    return kr;
}

static aios_keyring *open_raw(const fx *f, uint32_t flags)
{
    aios_keyring_options o = kt_raw();
    aios_keyring *kr = NULL;
    o.flags = flags;
    tu_assert_ok(aios_keyring_open(&kr, f->path, &o));
    return kr;
}

static void add_aes(aios_keyring *kr, const char *id)
{
    tu_assert_ok(aios_keyring_add(kr, NULL, id, AIOS_KEY_AES256, NULL));
}

/* Wrap a fixed data key with k, unwrap it with u: the status of unwrap. */
static int roundtrip(const aios_key *k, const aios_key *u)
{
    static const uint8_t dk[32] = { 1, 2, 3 };
    aios_buffer *w = NULL, *back = NULL;
    int rc = aios_key_wrap(k, &w, dk, sizeof(dk), (const uint8_t *)"ad", 2);
    if (rc != AIOS_OK)
        return rc;
    rc = aios_key_unwrap(u, &back, aios_buffer_data(w), aios_buffer_len(w),
                         (const uint8_t *)"ad", 2);
    if (rc == AIOS_OK) {
        assert_int_equal(aios_buffer_len(back), sizeof(dk));
        assert_memory_equal(aios_buffer_data(back), dk, sizeof(dk));
    }
    aios_buffer_free(w);
    aios_buffer_free(back);
    return rc;
}

/* ---------------------------------------------------------- options */

static void test_options_init(void **state)
{
    (void)state;
    aios_keyring_options o, m = AIOS_KEYRING_OPTIONS_INIT;
    aios_key_spec s, ms = AIOS_KEY_SPEC_INIT;
    memset(&o, 0xa5, sizeof(o));
    tu_assert_ok(aios_keyring_options_init(&o, AIOS_KEYRING_OPTIONS_VERSION));
    /* Member by member: the macro leaves padding unspecified. */
    assert_int_equal(o.version, m.version);
    assert_int_equal(o.unlock, m.unlock);
    assert_int_equal(o.unlock, AIOS_KEYRING_UNLOCK_PASSPHRASE);
    assert_null(o.secret);
    assert_int_equal(o.secret_len, 0);
    assert_null(o.pkcs11_module);
    assert_null(o.pkcs11_uri);
    assert_null(o.pkcs11_pin);
    assert_int_equal(o.argon2_opslimit, 0);
    assert_int_equal(o.argon2_memlimit, 0);
    assert_int_equal(o.flags, 0);
    assert_int_equal(o.lock_timeout_ms, 0);
    tu_assert_status(aios_keyring_options_init(&o, 0), AIOS_E_VERSION);
    tu_assert_status(aios_keyring_options_init(&o, AIOS_KEYRING_OPTIONS_VERSION + 1),
                     AIOS_E_VERSION);
    tu_assert_status(aios_keyring_options_init(NULL, 1), AIOS_E_INVALID_ARGUMENT);
    memset(&s, 0xa5, sizeof(s));
    tu_assert_ok(aios_key_spec_init(&s, AIOS_KEY_SPEC_VERSION));
    assert_int_equal(s.version, ms.version);
    assert_int_equal(s.purposes, 0);
    assert_int_equal(s.exportable, 0);
    assert_null(s.attributes);
    assert_int_equal(s.attribute_count, 0);
    assert_int_equal(s.max_uses, 0);
    assert_int_equal(s.not_after, 0);
    tu_assert_status(aios_key_spec_init(&s, 2), AIOS_E_VERSION);
    tu_assert_status(aios_key_spec_init(NULL, 1), AIOS_E_INVALID_ARGUMENT);
}

static void test_option_errors(void **state)
{
    fx *f = *state;
    aios_keyring *kr = NULL;
    aios_keyring_options o = kt_raw();

    tu_assert_status(aios_keyring_create(NULL, f->path, &o), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_create(&kr, NULL, &o), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_create(&kr, "", &o), AIOS_E_INVALID_ARGUMENT);
    /* NULL options: a passphrase keyring with no passphrase. */
    tu_assert_status(aios_keyring_create(&kr, f->path, NULL), AIOS_E_INVALID_ARGUMENT);
    o.secret_len = 31;
    tu_assert_status(aios_keyring_create(&kr, f->path, &o), AIOS_E_INVALID_ARGUMENT);
    o = kt_raw();
    o.secret = NULL;
    tu_assert_status(aios_keyring_create(&kr, f->path, &o), AIOS_E_INVALID_ARGUMENT);
    o = kt_pass("");
    tu_assert_status(aios_keyring_create(&kr, f->path, &o), AIOS_E_INVALID_ARGUMENT);
    o = kt_pass("pw");
    o.argon2_opslimit = 65;
    tu_assert_status(aios_keyring_create(&kr, f->path, &o), AIOS_E_INVALID_ARGUMENT);
    o = kt_pass("pw");
    o.argon2_memlimit = 4096;
    tu_assert_status(aios_keyring_create(&kr, f->path, &o), AIOS_E_INVALID_ARGUMENT);
    o = kt_pass("pw");
    o.argon2_memlimit = ((uint64_t)4 << 30) + 1;
    tu_assert_status(aios_keyring_create(&kr, f->path, &o), AIOS_E_INVALID_ARGUMENT);
    o = kt_raw();
    o.unlock = (aios_keyring_unlock)9;
    tu_assert_status(aios_keyring_create(&kr, f->path, &o), AIOS_E_INVALID_ARGUMENT);
    o = kt_raw();
    o.unlock = AIOS_KEYRING_UNLOCK_PKCS11;
    tu_assert_status(aios_keyring_create(&kr, f->path, &o), AIOS_E_INVALID_ARGUMENT);
    o = kt_raw();
    o.flags = 0x8;
    tu_assert_status(aios_keyring_create(&kr, f->path, &o), AIOS_E_INVALID_ARGUMENT);
    o = kt_raw();
    o.flags = AIOS_KEYRING_READ_ONLY;
    tu_assert_status(aios_keyring_create(&kr, f->path, &o), AIOS_E_INVALID_ARGUMENT);
    o = kt_raw();
    o.version = 2;
    tu_assert_status(aios_keyring_create(&kr, f->path, &o), AIOS_E_VERSION);
    assert_null(kr);
    /* Nothing was left behind by the refusals. */
    assert_false(kt_exists(f->path));
    assert_false(kt_exists(kt_path(f->dir, "keys.aioskr.lock", 1)));
}

/* ------------------------------------------------------ create, open */

static void test_create_open_metadata(void **state)
{
    fx *f = *state;
    static const aios_key_attribute_pair attrs[] = {
        { "tenant", "acme" }, { "region", "eu-west-1" }, { "class", "pii" }
    };
    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    aios_keyring *kr = new_raw(f);
    aios_key *k = NULL, *g = NULL;
    const char *n, *v;
    struct stat st;

    spec.attributes = attrs;
    spec.attribute_count = 3;
    tu_assert_ok(aios_keyring_add(kr, &k, "tenant/acme/kek", AIOS_KEY_AES256, &spec));
    assert_string_equal(aios_key_id(k), "tenant/acme/kek");
    assert_int_equal(aios_key_version(k), 1);
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_AES256);
    assert_int_equal(aios_key_purposes(k), AIOS_KEY_USE_WRAP);
    assert_int_equal(aios_key_get_state(k), AIOS_KEY_ACTIVE);
    assert_string_equal(aios_key_provider_name(k), "local");
    assert_int_equal(aios_key_created_at(k), fixed_now);
    assert_int_equal(aios_key_exportable(k), 0);
    assert_int_equal(aios_key_attribute_count(k), 3);
    tu_assert_ok(aios_key_attribute_at(k, 0, &n, &v));
    assert_string_equal(n, "class");
    assert_string_equal(aios_key_attribute(k, "tenant"), "acme");
    aios_keyring_free(kr);

    /* The file is private, and nothing else is left beside it but the lock. */
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_false(kt_exists(kt_path(f->dir, "keys.aioskr.tmp", 1)));

    kr = open_raw(f, 0);
    tu_assert_ok(aios_keyring_get(kr, &g, "tenant/acme/kek", 0));
    assert_int_equal(aios_key_version(g), 1);
    assert_int_equal(aios_key_created_at(g), fixed_now);
    assert_string_equal(aios_key_attribute(g, "region"), "eu-west-1");
    /* A handle from before the reopen and one after are the same key. */
    tu_assert_ok(roundtrip(k, g));
    tu_assert_ok(roundtrip(g, k));
    aios_key_unref(g);
    tu_assert_ok(aios_keyring_get(kr, &g, "tenant/acme/kek", 1));
    aios_key_unref(g);
    tu_assert_status(aios_keyring_get(kr, &g, "tenant/acme/kek", 2), AIOS_E_KEY_VERSION_NOT_FOUND);
    assert_non_null(strstr(aios_last_error_message(), "tenant/acme/kek"));
    tu_assert_status(aios_keyring_get(kr, &g, "nope", 0), AIOS_E_KEY_NOT_FOUND);
    assert_non_null(strstr(aios_last_error_message(), "'nope'"));
    assert_non_null(strstr(aios_last_error_message(), f->path));
    assert_null(g);
    tu_assert_status(aios_keyring_get(kr, &g, "", 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_get(kr, NULL, "x", 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_get(NULL, &g, "x", 0), AIOS_E_INVALID_ARGUMENT);
    aios_key_unref(k);
    aios_keyring_free(kr);
    aios_keyring_free(NULL);
}

static void test_create_exists_open_missing(void **state)
{
    fx *f = *state;
    aios_keyring_options o = kt_raw();
    aios_keyring *kr = new_raw(f), *kr2 = NULL;
    const char *other = kt_path(f->dir, "other", 2);

    tu_assert_status(aios_keyring_create(&kr2, f->path, &o), AIOS_E_KEY_EXISTS);
    aios_keyring_free(kr);
    tu_assert_status(aios_keyring_create(&kr2, f->path, &o), AIOS_E_KEY_EXISTS);
    /* Any file at all is never replaced by create. */
    kt_write(other, (const uint8_t *)"hello", 5);
    tu_assert_status(aios_keyring_create(&kr2, other, &o), AIOS_E_KEY_EXISTS);
    assert_null(kr2);
    /* Open: a missing file, a missing folder, a folder, not a keyring. */
    tu_assert_status(aios_keyring_open(&kr2, kt_path(f->dir, "missing", 1), &o), AIOS_E_NOT_FOUND);
    assert_non_null(strstr(aios_last_error_message(), "missing"));
    assert_false(kt_exists(kt_path(f->dir, "missing.lock", 1)));
    tu_assert_status(aios_keyring_open(&kr2, kt_path(f->dir, "no/such/dir/k", 1), &o),
                     AIOS_E_NOT_FOUND);
    assert_int_equal(mkdir(kt_path(f->dir, "sub", 1), 0700), 0);
    tu_assert_status(aios_keyring_open(&kr2, kt_path(f->dir, "sub", 1), &o), AIOS_E_KEYRING_CORRUPT);
    assert_non_null(strstr(aios_last_error_message(), "not a regular file"));
    tu_assert_status(aios_keyring_open(&kr2, other, &o), AIOS_E_KEYRING_CORRUPT);
    /* Create in a folder that does not exist: an I/O error naming it. */
    tu_assert_status(aios_keyring_create(&kr2, kt_path(f->dir, "no/such/k", 1), &o), AIOS_E_IO);
    assert_non_null(strstr(aios_last_error_message(), "no/such/k"));
    assert_null(kr2);
}

static void test_passphrase_and_master_key(void **state)
{
    fx *f = *state;
    aios_keyring_options o = kt_pass("correct horse battery staple");
    aios_keyring *kr = NULL;
    uint8_t wrong[32];

    tu_assert_ok(aios_keyring_create(&kr, f->path, &o));
    add_aes(kr, "k");
    aios_keyring_free(kr);
    kr = NULL;
    tu_assert_ok(aios_keyring_open(&kr, f->path, &o));
    assert_int_equal(kt_primary(kr, "k"), 1);
    aios_keyring_free(kr);
    kr = NULL;

    o = kt_pass("correct horse battery stapler");
    tu_assert_status(aios_keyring_open(&kr, f->path, &o), AIOS_E_KEYRING_PASSPHRASE);
    assert_null(strstr(aios_last_error_message(), "stapler"));
    assert_non_null(strstr(aios_last_error_message(), "passphrase"));
    assert_null(kr);
    /* The kind of secret must match the keyring's. */
    o = kt_raw();
    tu_assert_status(aios_keyring_open(&kr, f->path, &o), AIOS_E_KEYRING_PASSPHRASE);
    assert_non_null(strstr(aios_last_error_message(), "passphrase"));
    /* The failed opens released the lock. */
    o = kt_pass("correct horse battery staple");
    tu_assert_ok(aios_keyring_open(&kr, f->path, &o));
    aios_keyring_free(kr);

    /* A raw master key: right, wrong. */
    free((void *)f->path);
    f->path = strdup(kt_path(f->dir, "raw.aioskr", 1));
    kr = new_raw(f);
    aios_keyring_free(kr);
    kr = NULL;
    memcpy(wrong, kt_master, 32);
    wrong[31] ^= 1;
    o = kt_raw();
    o.secret = wrong;
    tu_assert_status(aios_keyring_open(&kr, f->path, &o), AIOS_E_KEYRING_PASSPHRASE);
    assert_non_null(strstr(aios_last_error_message(), "master key"));
    o = kt_pass("x");
    tu_assert_status(aios_keyring_open(&kr, f->path, &o), AIOS_E_KEYRING_PASSPHRASE);
    assert_null(kr);
}

/* ----------------------------------------------------------- add, import */

static void test_add_errors(void **state)
{
    fx *f = *state;
    aios_keyring *kr = new_raw(f);
    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    aios_key_attribute_pair many[65], dup[2] = { { "a", "1" }, { "a", "2" } };
    char longid[300], longval[1100];
    aios_key *k = NULL;
    static const uint8_t raw[32] = { 9 };

    tu_assert_status(aios_keyring_add(kr, &k, "", AIOS_KEY_AES256, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_add(kr, &k, NULL, AIOS_KEY_AES256, NULL), AIOS_E_INVALID_ARGUMENT);
    memset(longid, 'a', sizeof(longid));
    longid[257] = '\0';
    tu_assert_status(aios_keyring_add(kr, &k, longid, AIOS_KEY_AES256, NULL), AIOS_E_INVALID_ARGUMENT);
    longid[256] = '\0';
    tu_assert_ok(aios_keyring_add(kr, NULL, longid, AIOS_KEY_AES256, NULL));   /* the limit */
    tu_assert_status(aios_keyring_add(kr, &k, "bad\xff", AIOS_KEY_AES256, NULL),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_add(kr, &k, "tab\there", AIOS_KEY_AES256, NULL),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_add(kr, &k, "k", (aios_key_type)99, NULL), AIOS_E_INVALID_ARGUMENT);
    /* An ECDSA P-521 key is imported from PEM or DER, never from raw bytes. */
    tu_assert_status(aios_keyring_import(kr, &k, "p521", AIOS_KEY_ECDSA_P521, raw, sizeof(raw),
                                         NULL), AIOS_E_FORMAT);
    assert_non_null(strstr(aios_last_error_message(), "ecdsa-p521"));
    assert_null(k);
    tu_assert_status(aios_keyring_get(kr, &k, "p521", 0), AIOS_E_KEY_NOT_FOUND);
    tu_assert_status(aios_keyring_add(NULL, &k, "k", AIOS_KEY_AES256, NULL), AIOS_E_INVALID_ARGUMENT);
    spec.purposes = AIOS_KEY_USE_SIGN;
    tu_assert_status(aios_keyring_add(kr, &k, "k", AIOS_KEY_AES256, &spec), AIOS_E_KEY_USAGE);
    spec = (aios_key_spec)AIOS_KEY_SPEC_INIT;
    spec.exportable = 2;
    tu_assert_status(aios_keyring_add(kr, &k, "k", AIOS_KEY_AES256, &spec), AIOS_E_INVALID_ARGUMENT);
    spec = (aios_key_spec)AIOS_KEY_SPEC_INIT;
    spec.not_after = -1;
    tu_assert_status(aios_keyring_add(kr, &k, "k", AIOS_KEY_AES256, &spec), AIOS_E_INVALID_ARGUMENT);
    spec = (aios_key_spec)AIOS_KEY_SPEC_INIT;
    for (int i = 0; i < 65; i++) {
        static char names[65][8];
        snprintf(names[i], sizeof(names[i]), "n%02d", i);
        many[i].name = names[i];
        many[i].value = "v";
    }
    spec.attributes = many;
    spec.attribute_count = 65;
    tu_assert_status(aios_keyring_add(kr, &k, "k", AIOS_KEY_AES256, &spec), AIOS_E_LIMIT);
    spec.attribute_count = 64;
    tu_assert_ok(aios_keyring_add(kr, NULL, "k64", AIOS_KEY_AES256, &spec));
    spec.attributes = dup;
    spec.attribute_count = 2;
    tu_assert_status(aios_keyring_add(kr, &k, "k", AIOS_KEY_AES256, &spec), AIOS_E_INVALID_ARGUMENT);
    memset(longval, 'v', sizeof(longval));
    longval[1025] = '\0';
    dup[1].name = "b";
    dup[1].value = longval;
    tu_assert_status(aios_keyring_add(kr, &k, "k", AIOS_KEY_AES256, &spec), AIOS_E_LIMIT);
    spec.attribute_count = 1;
    dup[0].name = "";
    tu_assert_status(aios_keyring_add(kr, &k, "k", AIOS_KEY_AES256, &spec), AIOS_E_INVALID_ARGUMENT);
    spec = (aios_key_spec)AIOS_KEY_SPEC_INIT;
    spec.version = 7;
    tu_assert_status(aios_keyring_add(kr, &k, "k", AIOS_KEY_AES256, &spec), AIOS_E_VERSION);

    /* Import: wrong sizes and types, NULL material. */
    tu_assert_status(aios_keyring_import(kr, &k, "i", AIOS_KEY_AES256, raw, 31, NULL), AIOS_E_FORMAT);
    tu_assert_status(aios_keyring_import(kr, &k, "i", AIOS_KEY_AES256, NULL, 32, NULL),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_import(kr, &k, "i", AIOS_KEY_ED25519, raw, 32, NULL), AIOS_E_FORMAT);
    assert_null(k);

    /* RSA keys live only in a PKCS#11 token: neither generated nor imported. */
    tu_assert_status(aios_keyring_add(kr, &k, "r", AIOS_KEY_RSA, NULL), AIOS_E_UNSUPPORTED);
    assert_non_null(strstr(aios_last_error_message(), "PKCS#11"));
    assert_non_null(strstr(aios_last_error_message(), "'r'"));
    assert_null(k);
    spec = (aios_key_spec)AIOS_KEY_SPEC_INIT;
    spec.purposes = AIOS_KEY_USE_WRAP;
    tu_assert_status(aios_keyring_add(kr, &k, "r", AIOS_KEY_RSA, &spec), AIOS_E_UNSUPPORTED);
    tu_assert_status(aios_keyring_import(kr, &k, "r", AIOS_KEY_RSA, raw, 32, NULL),
                     AIOS_E_UNSUPPORTED);
    assert_non_null(strstr(aios_last_error_message(), "import"));
    assert_null(k);
    spec = (aios_key_spec)AIOS_KEY_SPEC_INIT;
    tu_assert_status(aios_keyring_get(kr, &k, "r", 0), AIOS_E_KEY_NOT_FOUND);

    /* An id is taken once; a failed add changed nothing. */
    add_aes(kr, "k");
    tu_assert_status(aios_keyring_add(kr, &k, "k", AIOS_KEY_HMAC_SHA256, NULL), AIOS_E_KEY_EXISTS);
    assert_non_null(strstr(aios_last_error_message(), "'k'"));
    tu_assert_status(aios_keyring_import(kr, &k, "k", AIOS_KEY_AES256, raw, 32, NULL),
                     AIOS_E_KEY_EXISTS);
    assert_null(k);
    aios_keyring_free(kr);
    kr = open_raw(f, 0);
    tu_assert_ok(aios_keyring_get(kr, &k, "k", 0));
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_AES256);
    aios_key_unref(k);
    tu_assert_status(aios_keyring_get(kr, &k, "i", 0), AIOS_E_KEY_NOT_FOUND);
    aios_keyring_free(kr);
}

static void test_every_type(void **state)
{
    fx *f = *state;
    static const aios_key_type types[] = {
        AIOS_KEY_AES256, AIOS_KEY_HMAC_SHA256, AIOS_KEY_BLAKE2B, AIOS_KEY_ED25519,
        AIOS_KEY_ECDSA_P256, AIOS_KEY_ECDSA_P384, AIOS_KEY_ECDSA_P521, AIOS_KEY_X25519
    };
    aios_keyring *kr = new_raw(f);
    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    uint8_t mac1[32], mac2[32];
    char id[32];

    spec.exportable = 1;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        snprintf(id, sizeof(id), "%s", aios_key_type_name(types[i]));
        tu_assert_ok(aios_keyring_add(kr, NULL, id, types[i], &spec));
    }
    aios_keyring_free(kr);
    kr = open_raw(f, 0);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        aios_key *k = NULL, *imp = NULL;
        aios_buffer *sig = NULL, *secret = NULL, *pub1 = NULL, *pub2 = NULL;
        snprintf(id, sizeof(id), "%s", aios_key_type_name(types[i]));
        tu_assert_ok(aios_keyring_get(kr, &k, id, 0));
        assert_int_equal(aios_key_get_type(k), types[i]);
        assert_int_equal(aios_key_purposes(k), aios__key_type_natural(types[i]));
        switch (types[i]) {
        case AIOS_KEY_AES256:
            tu_assert_ok(roundtrip(k, k));
            break;
        case AIOS_KEY_HMAC_SHA256:
        case AIOS_KEY_BLAKE2B:
            tu_assert_ok(aios_key_mac(k, mac1, (const uint8_t *)"m", 1));
            tu_assert_ok(aios_key_mac(k, mac2, (const uint8_t *)"m", 1));
            assert_memory_equal(mac1, mac2, 32);
            break;
        case AIOS_KEY_ED25519:
        case AIOS_KEY_ECDSA_P256:
        case AIOS_KEY_ECDSA_P384:
        case AIOS_KEY_ECDSA_P521:
            tu_assert_ok(aios_key_sign(k, &sig, (const uint8_t *)"m", 1));
            tu_assert_ok(aios_key_verify(k, aios_buffer_data(sig), aios_buffer_len(sig),
                                         (const uint8_t *)"m", 1));
            break;
        case AIOS_KEY_X25519: {
            aios_buffer *s = NULL;
            tu_assert_ok(aios_key_public_raw(k, &pub1));
            tu_assert_ok(aios_key_agree(k, &s, aios_buffer_data(pub1), aios_buffer_len(pub1)));
            aios_buffer_free(s);
            aios_buffer_free(pub1);
            pub1 = NULL;
            break;
        }
        default:
            fail();
        }
        /* Export, import under another id: the same key. */
        tu_assert_ok(aios_key_export(k, &secret));
        snprintf(id, sizeof(id), "imported-%s", aios_key_type_name(types[i]));
        tu_assert_ok(aios_keyring_import(kr, &imp, id, types[i], aios_buffer_data(secret),
                                         aios_buffer_len(secret), &spec));
        if (types[i] == AIOS_KEY_AES256 || types[i] == AIOS_KEY_HMAC_SHA256 ||
            types[i] == AIOS_KEY_BLAKE2B) {
            if (types[i] == AIOS_KEY_AES256) {
                tu_assert_ok(roundtrip(k, imp));
            } else {
                tu_assert_ok(aios_key_mac(imp, mac2, (const uint8_t *)"m", 1));
                assert_memory_equal(mac1, mac2, 32);
            }
        } else {
            tu_assert_ok(aios_key_public_raw(k, &pub1));
            tu_assert_ok(aios_key_public_raw(imp, &pub2));
            assert_int_equal(aios_buffer_len(pub1), aios_buffer_len(pub2));
            assert_memory_equal(aios_buffer_data(pub1), aios_buffer_data(pub2),
                                aios_buffer_len(pub1));
        }
        aios_buffer_free(sig);
        aios_buffer_free(secret);
        aios_buffer_free(pub1);
        aios_buffer_free(pub2);
        aios_key_unref(imp);
        aios_key_unref(k);
    }
    aios_keyring_free(kr);
}

#define P521_DIR AIOS_TEST_SOURCE_DIR "/tests/vectors/key-p521"

/* A signature by k over msg verifies with the public key in pem. */
static void p521_check(const aios_key *k, const char *pem, size_t pem_len, const uint8_t *msg,
                       size_t msg_len)
{
    aios_key *pub = NULL;
    aios_buffer *sig = NULL;

    tu_assert_ok(aios_key_from_public_pem(&pub, "p521-pub", pem, pem_len));
    assert_int_equal(aios_key_get_type(pub), AIOS_KEY_ECDSA_P521);
    tu_assert_ok(aios_key_sign(k, &sig, msg, msg_len));
    /* DER ECDSA-SHA-512: a long-form SEQUENCE of two INTEGERs up to 66 bytes */
    assert_true(aios_buffer_len(sig) > 130 && aios_buffer_len(sig) <= 139);
    assert_int_equal(aios_buffer_data(sig)[0], 0x30);
    assert_int_equal(aios_buffer_data(sig)[1], 0x81);
    tu_assert_ok(aios_key_verify(pub, aios_buffer_data(sig), aios_buffer_len(sig), msg, msg_len));
    tu_assert_ok(aios_key_verify(k, aios_buffer_data(sig), aios_buffer_len(sig), msg, msg_len));
    tu_assert_status(aios_key_verify(pub, aios_buffer_data(sig), aios_buffer_len(sig), msg,
                                     msg_len - 1), AIOS_E_AUTH);
    aios_buffer_data_mut(sig)[10] ^= 0x40;
    tu_assert_status(aios_key_verify(pub, aios_buffer_data(sig), aios_buffer_len(sig), msg,
                                     msg_len), AIOS_E_AUTH);
    aios_buffer_free(sig);
    aios_key_unref(pub);
}

/* ECDSA P-521 in a keyring: generated (natural purposes SIGN|VERIFY,
 * 133-byte public key), signs DER ECDSA-SHA-512 that its public PEM
 * verifies, survives a reopen and signs again with the same key; OpenSSL's
 * PKCS#8 and SEC1 PEM import to the key OpenSSL's public PEM names, and
 * the export is OpenSSL's PKCS#8 byte for byte. */
static void test_p521_keyring(void **state)
{
    fx *f = *state;
    aios_keyring *kr = new_raw(f);
    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    aios_key *k = NULL, *again = NULL;
    aios_buffer *pem = NULL, *raw = NULL, *raw2 = NULL, *secret = NULL;
    static const uint8_t msg[] = "model manifest PAE";
    char *pkcs8, *sec1, *pub;
    size_t pkcs8_len = 0, sec1_len = 0, pub_len = 0;

    tu_assert_ok(aios_keyring_add(kr, &k, "p521", AIOS_KEY_ECDSA_P521, NULL));
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_ECDSA_P521);
    assert_int_equal(aios_key_purposes(k), AIOS_KEY_USE_SIGN | AIOS_KEY_USE_VERIFY);
    assert_false(aios_key_exportable(k));
    tu_assert_ok(aios_key_public_raw(k, &raw));
    assert_int_equal(aios_buffer_len(raw), 133);
    assert_int_equal(aios_buffer_data(raw)[0], 0x04);
    tu_assert_ok(aios_key_public_pem(k, &pem));
    assert_non_null(strstr((const char *)aios_buffer_data(pem), "-----BEGIN PUBLIC KEY-----"));
    p521_check(k, (const char *)aios_buffer_data(pem), aios_buffer_len(pem), msg, sizeof(msg));
    /* Not exportable unless asked: the private key stays in. */
    tu_assert_status(aios_key_export(k, &secret), AIOS_E_KEY_NOT_EXPORTABLE);
    aios_key_unref(k);
    k = NULL;
    aios_keyring_free(kr);

    /* Reopened from the file: the same key signs again. */
    kr = open_raw(f, 0);
    tu_assert_ok(aios_keyring_get(kr, &again, "p521", 0));
    assert_int_equal(aios_key_get_type(again), AIOS_KEY_ECDSA_P521);
    tu_assert_ok(aios_key_public_raw(again, &raw2));
    assert_int_equal(aios_buffer_len(raw2), 133);
    assert_memory_equal(aios_buffer_data(raw), aios_buffer_data(raw2), 133);
    p521_check(again, (const char *)aios_buffer_data(pem), aios_buffer_len(pem), msg, sizeof(msg));
    /* and rotates to a new P-521 version */
    aios_key_unref(again);
    again = NULL;
    tu_assert_ok(aios_keyring_rotate(kr, &again, "p521"));
    assert_int_equal(aios_key_version(again), 2);
    assert_int_equal(aios_key_get_type(again), AIOS_KEY_ECDSA_P521);
    aios_key_unref(again);
    again = NULL;
    aios_buffer_free(raw);
    aios_buffer_free(raw2);
    aios_buffer_free(pem);
    raw = raw2 = pem = NULL;

    /* OpenSSL's PEM, both forms. */
    pkcs8 = tu_read_file(P521_DIR "/p521-pkcs8.pem", &pkcs8_len);
    sec1 = tu_read_file(P521_DIR "/p521-sec1.pem", &sec1_len);
    pub = tu_read_file(P521_DIR "/p521-pub.pem", &pub_len);
    assert_non_null(strstr(sec1, "-----BEGIN EC PRIVATE KEY-----"));
    spec.exportable = 1;
    tu_assert_ok(aios_keyring_import(kr, &k, "p521-pkcs8", AIOS_KEY_ECDSA_P521,
                                     (const uint8_t *)pkcs8, pkcs8_len, &spec));
    tu_assert_ok(aios_keyring_import(kr, &again, "p521-sec1", AIOS_KEY_ECDSA_P521,
                                     (const uint8_t *)sec1, sec1_len, NULL));
    assert_int_equal(aios_key_purposes(again), AIOS_KEY_USE_SIGN | AIOS_KEY_USE_VERIFY);
    tu_assert_ok(aios_key_public_pem(k, &pem));
    assert_int_equal(aios_buffer_len(pem), pub_len);
    assert_memory_equal(aios_buffer_data(pem), pub, pub_len);
    aios_buffer_free(pem);
    tu_assert_ok(aios_key_public_pem(again, &pem));
    assert_int_equal(aios_buffer_len(pem), pub_len);
    assert_memory_equal(aios_buffer_data(pem), pub, pub_len);
    aios_buffer_free(pem);
    pem = NULL;
    p521_check(k, pub, pub_len, msg, sizeof(msg));
    p521_check(again, pub, pub_len, msg, sizeof(msg));
    tu_assert_ok(aios_key_export(k, &secret));
    assert_int_equal(aios_buffer_len(secret), pkcs8_len);
    assert_memory_equal(aios_buffer_data(secret), pkcs8, pkcs8_len);
    /* As another type: refused, naming the key's curve. */
    tu_assert_status(aios_keyring_import(kr, NULL, "p521-as-p384", AIOS_KEY_ECDSA_P384,
                                         (const uint8_t *)pkcs8, pkcs8_len, NULL),
                     AIOS_E_FORMAT);
    assert_non_null(strstr(aios_last_error_message(), "p521"));
    aios_key_unref(k);
    aios_key_unref(again);
    k = again = NULL;
    aios_keyring_free(kr);

    /* The imported keys are in the file too. */
    kr = open_raw(f, AIOS_KEYRING_READ_ONLY);
    tu_assert_ok(aios_keyring_get(kr, &k, "p521-sec1", 0));
    p521_check(k, pub, pub_len, msg, sizeof(msg));
    aios_key_unref(k);
    aios_keyring_free(kr);
    aios_buffer_free(secret);
    free(pkcs8);
    free(sec1);
    free(pub);
}

/* ------------------------------------------------------------ rotation */

static void test_rotate(void **state)
{
    fx *f = *state;
    aios_keyring *kr = new_raw(f);
    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    aios_key *v1 = NULL, *v2 = NULL, *cur = NULL;
    aios_buffer *w = NULL, *back = NULL;
    static const uint8_t dk[16] = { 7 };

    spec.max_uses = 1000;
    tu_assert_ok(aios_keyring_add(kr, &v1, "k", AIOS_KEY_AES256, &spec));
    tu_assert_ok(aios_key_wrap(v1, &w, dk, sizeof(dk), NULL, 0));
    fixed_now += 100;
    tu_assert_ok(aios_keyring_rotate(kr, &v2, "k"));
    assert_int_equal(aios_key_version(v2), 2);
    assert_int_equal(aios_key_created_at(v2), fixed_now);
    assert_int_equal(aios_key_get_state(v2), AIOS_KEY_ACTIVE);
    /* The handle taken before the rotation follows its version's state. */
    assert_int_equal(aios_key_get_state(v1), AIOS_KEY_DECRYPT_ONLY);
    tu_assert_status(roundtrip(v1, v1), AIOS_E_KEY_DECRYPT_ONLY);
    tu_assert_ok(aios_key_unwrap(v1, &back, aios_buffer_data(w), aios_buffer_len(w), NULL, 0));
    tu_assert_ok(roundtrip(v2, v2));
    /* The new version keeps the key's usage limit. */
    assert_int_equal(v2->ver->max_uses, 1000);
    tu_assert_ok(aios_keyring_get(kr, &cur, "k", 0));
    assert_int_equal(aios_key_version(cur), 2);
    aios_key_unref(cur);
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "k"));
    assert_int_equal(kt_primary(kr, "k"), 3);
    assert_int_equal(aios_key_get_state(v2), AIOS_KEY_DECRYPT_ONLY);
    tu_assert_status(aios_keyring_rotate(kr, &cur, "missing"), AIOS_E_KEY_NOT_FOUND);
    tu_assert_status(aios_keyring_rotate(kr, &cur, ""), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_rotate(NULL, &cur, "k"), AIOS_E_INVALID_ARGUMENT);
    assert_null(cur);
    aios_keyring_free(kr);
    kr = open_raw(f, 0);
    assert_int_equal(kt_primary(kr, "k"), 3);
    assert_int_equal(kt_state(kr, "k", 1), AIOS_KEY_DECRYPT_ONLY);
    assert_int_equal(kt_state(kr, "k", 2), AIOS_KEY_DECRYPT_ONLY);
    tu_assert_ok(aios_keyring_get(kr, &cur, "k", 1));
    aios_buffer_free(back);
    tu_assert_ok(aios_key_unwrap(cur, &back, aios_buffer_data(w), aios_buffer_len(w), NULL, 0));
    assert_memory_equal(aios_buffer_data(back), dk, sizeof(dk));
    aios_key_unref(cur);
    aios_buffer_free(back);
    aios_buffer_free(w);
    aios_key_unref(v1);
    aios_key_unref(v2);
    aios_keyring_free(kr);
}

static void test_two_phase_rotation(void **state)
{
    fx *f = *state;
    aios_keyring *kr = new_raw(f);
    aios_key *v2 = NULL, *v1 = NULL;

    tu_assert_ok(aios_keyring_add(kr, &v1, "k", AIOS_KEY_AES256, NULL));
    tu_assert_ok(aios_keyring_add_version(kr, &v2, "k"));
    assert_int_equal(aios_key_version(v2), 2);
    assert_int_equal(aios_key_get_state(v2), AIOS_KEY_PENDING);
    assert_int_equal(kt_primary(kr, "k"), 1);
    /* A pending version decrypts what the primary wraps, wraps nothing. */
    tu_assert_status(roundtrip(v2, v2), AIOS_E_KEY_DECRYPT_ONLY);
    tu_assert_status(aios_keyring_set_state(kr, "k", 2, AIOS_KEY_ACTIVE), AIOS_E_STATE);
    tu_assert_status(aios_keyring_set_state(kr, "k", 2, AIOS_KEY_DECRYPT_ONLY), AIOS_E_STATE);
    tu_assert_ok(aios_keyring_promote(kr, "k", 2));
    assert_int_equal(kt_primary(kr, "k"), 2);
    assert_int_equal(aios_key_get_state(v2), AIOS_KEY_ACTIVE);
    assert_int_equal(aios_key_get_state(v1), AIOS_KEY_DECRYPT_ONLY);
    tu_assert_ok(roundtrip(v2, v2));
    tu_assert_ok(aios_keyring_promote(kr, "k", 2));                     /* already */
    /* Roll back: the older version becomes primary again. */
    tu_assert_ok(aios_keyring_promote(kr, "k", 1));
    assert_int_equal(kt_primary(kr, "k"), 1);
    assert_int_equal(aios_key_get_state(v2), AIOS_KEY_DECRYPT_ONLY);
    tu_assert_status(aios_keyring_promote(kr, "k", 9), AIOS_E_KEY_VERSION_NOT_FOUND);
    tu_assert_status(aios_keyring_promote(kr, "k", 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_promote(kr, "x", 1), AIOS_E_KEY_NOT_FOUND);
    tu_assert_ok(aios_keyring_set_state(kr, "k", 2, AIOS_KEY_DISABLED));
    tu_assert_status(aios_keyring_promote(kr, "k", 2), AIOS_E_STATE);
    tu_assert_ok(aios_keyring_destroy(kr, "k", 2));
    tu_assert_status(aios_keyring_promote(kr, "k", 2), AIOS_E_KEY_DESTROYED);
    /* A pending version can be dropped (disabled). */
    tu_assert_ok(aios_keyring_add_version(kr, NULL, "k"));
    tu_assert_ok(aios_keyring_set_state(kr, "k", 3, AIOS_KEY_DISABLED));
    tu_assert_status(aios_keyring_add_version(kr, NULL, "x"), AIOS_E_KEY_NOT_FOUND);
    aios_keyring_free(kr);
    kr = open_raw(f, 0);
    assert_int_equal(kt_primary(kr, "k"), 1);
    assert_int_equal(kt_state(kr, "k", 2), AIOS_KEY_DESTROYED);
    assert_int_equal(kt_state(kr, "k", 3), AIOS_KEY_DISABLED);
    aios_keyring_free(kr);
    aios_key_unref(v1);
    aios_key_unref(v2);
}

/* ------------------------------------------------- import a version */

/* Bring-your-own-key rotation: known bytes as a new version, primary or
 * pending, interoperating with the same bytes imported elsewhere. */
static void test_import_version(void **state)
{
    fx *f = *state;
    aios_keyring *kr = new_raw(f), *other = NULL, *ro = NULL;
    aios_keyring_options o = kt_raw();
    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    aios_key *v1 = NULL, *v2 = NULL, *v3 = NULL, *twin2 = NULL, *twin3 = NULL, *k = NULL;
    aios_buffer *w = NULL, *back = NULL;
    uint8_t b[32], c[32], bad[33];
    static const uint8_t dk[24] = { 9, 8, 7 };
    char *list_before, *list_after;
    int64_t t2;

    for (int i = 0; i < 32; i++) {
        b[i] = (uint8_t)(0x20 + i);
        c[i] = (uint8_t)(0x40 + i);
    }
    memset(bad, 0x11, sizeof(bad));
    tu_assert_ok(aios_keyring_create(&other, kt_path(f->dir, "other.aioskr", 1), &o));
    tu_assert_ok(aios_keyring_import(other, &twin2, "twin2", AIOS_KEY_AES256, b, 32, NULL));
    tu_assert_ok(aios_keyring_import(other, &twin3, "twin3", AIOS_KEY_AES256, c, 32, NULL));

    spec.max_uses = 500;
    tu_assert_ok(aios_keyring_add(kr, &v1, "k", AIOS_KEY_AES256, &spec));
    tu_assert_ok(aios_key_wrap(v1, &w, dk, sizeof(dk), NULL, 0));

    /* Default: primary at once, the old primary decrypt-only. */
    fixed_now += 100;
    t2 = fixed_now;
    tu_assert_ok(aios_keyring_import_version(kr, &v2, "k", b, sizeof(b), 0));
    assert_int_equal(aios_key_version(v2), 2);
    assert_string_equal(aios_key_id(v2), "k");
    assert_int_equal(aios_key_get_type(v2), AIOS_KEY_AES256);
    assert_int_equal(aios_key_get_state(v2), AIOS_KEY_ACTIVE);
    assert_int_equal(aios_key_created_at(v2), fixed_now);
    assert_int_equal(v2->ver->max_uses, 500);
    assert_int_equal(v2->ver->not_after, 0);
    assert_int_equal(kt_primary(kr, "k"), 2);
    assert_int_equal(aios_key_get_state(v1), AIOS_KEY_DECRYPT_ONLY);
    tu_assert_ok(aios_key_unwrap(v1, &back, aios_buffer_data(w), aios_buffer_len(w), NULL, 0));
    aios_buffer_free(back);
    back = NULL;
    /* The same bytes, imported as a key of its own elsewhere: one key. */
    tu_assert_ok(roundtrip(v2, twin2));
    tu_assert_ok(roundtrip(twin2, v2));
    tu_assert_status(roundtrip(twin3, v2), AIOS_E_AUTH);

    /* Pending: decrypts, wraps nothing, until promoted. */
    fixed_now += 100;
    tu_assert_ok(aios_keyring_import_version(kr, &v3, "k", c, sizeof(c),
                                             AIOS_KEYRING_IMPORT_PENDING));
    assert_int_equal(aios_key_version(v3), 3);
    assert_int_equal(aios_key_get_state(v3), AIOS_KEY_PENDING);
    assert_int_equal(kt_primary(kr, "k"), 2);
    assert_int_equal(aios_key_get_state(v2), AIOS_KEY_ACTIVE);
    tu_assert_status(roundtrip(v3, v3), AIOS_E_KEY_DECRYPT_ONLY);
    tu_assert_ok(roundtrip(twin3, v3));
    tu_assert_ok(aios_keyring_promote(kr, "k", 3));
    assert_int_equal(kt_primary(kr, "k"), 3);
    assert_int_equal(aios_key_get_state(v3), AIOS_KEY_ACTIVE);
    assert_int_equal(aios_key_get_state(v2), AIOS_KEY_DECRYPT_ONLY);
    tu_assert_ok(roundtrip(v3, twin3));

    /* Mistakes change nothing, in memory or on disk. */
    list_before = kt_list(kr);
    k = (aios_key *)1;
    tu_assert_status(aios_keyring_import_version(kr, &k, "k", b, sizeof(b), 0),
                     AIOS_E_KEY_EXISTS);                     /* version 2's bytes */
    assert_null(k);
    assert_non_null(strstr(aios_last_error_message(), "version 2"));
    tu_assert_status(aios_keyring_import_version(kr, NULL, "k", c, sizeof(c),
                                                 AIOS_KEYRING_IMPORT_PENDING), AIOS_E_KEY_EXISTS);
    tu_assert_status(aios_keyring_import_version(kr, &k, "k", bad, 31, 0), AIOS_E_FORMAT);
    assert_non_null(strstr(aios_last_error_message(), "key 'k'"));
    tu_assert_status(aios_keyring_import_version(kr, &k, "k", bad, 33, 0), AIOS_E_FORMAT);
    tu_assert_status(aios_keyring_import_version(kr, &k, "k", bad, 0, 0), AIOS_E_FORMAT);
    tu_assert_status(aios_keyring_import_version(kr, &k, "k", NULL, 32, 0),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_import_version(kr, &k, "k", bad, 32, 0x2),
                     AIOS_E_INVALID_ARGUMENT);
    assert_non_null(strstr(aios_last_error_message(), "flags"));
    tu_assert_status(aios_keyring_import_version(kr, &k, "missing", bad, 32, 0),
                     AIOS_E_KEY_NOT_FOUND);
    tu_assert_status(aios_keyring_import_version(kr, &k, "", bad, 32, 0),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_import_version(kr, &k, NULL, bad, 32, 0),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_import_version(NULL, &k, "k", bad, 32, 0),
                     AIOS_E_INVALID_ARGUMENT);
    assert_null(k);
    list_after = kt_list(kr);
    assert_string_equal(list_before, list_after);
    free(list_before);
    free(list_after);

    /* A destroyed version is no obstacle to a new one. */
    tu_assert_ok(aios_keyring_destroy(kr, "k", 1));
    tu_assert_ok(aios_keyring_import_version(kr, NULL, "k", bad, 32, 0));
    assert_int_equal(kt_primary(kr, "k"), 4);
    assert_int_equal(kt_state(kr, "k", 1), AIOS_KEY_DESTROYED);
    assert_int_equal(kt_state(kr, "k", 3), AIOS_KEY_DECRYPT_ONLY);

    /* On disk: closed and opened again, every version is there with its
     * bytes and state. */
    aios_keyring_free(kr);
    kr = open_raw(f, 0);
    assert_int_equal(kt_primary(kr, "k"), 4);
    assert_int_equal(kt_state(kr, "k", 2), AIOS_KEY_DECRYPT_ONLY);
    assert_int_equal(kt_state(kr, "k", 3), AIOS_KEY_DECRYPT_ONLY);
    tu_assert_ok(aios_keyring_get(kr, &k, "k", 2));
    assert_int_equal(aios_key_created_at(k), t2);
    tu_assert_ok(roundtrip(twin2, k));
    aios_key_unref(k);
    tu_assert_ok(aios_keyring_get(kr, &k, "k", 3));
    tu_assert_ok(roundtrip(twin3, k));
    aios_key_unref(k);
    k = NULL;
    tu_assert_status(aios_keyring_import_version(kr, NULL, "k", b, sizeof(b), 0),
                     AIOS_E_KEY_EXISTS);
    aios_keyring_free(kr);

    /* Read-only: refused. */
    ro = open_raw(f, AIOS_KEYRING_READ_ONLY);
    memset(bad, 0x22, sizeof(bad));
    tu_assert_status(aios_keyring_import_version(ro, NULL, "k", bad, 32, 0), AIOS_E_STATE);
    assert_int_equal(kt_primary(ro, "k"), 4);
    aios_keyring_free(ro);

    aios_buffer_free(w);
    aios_key_unref(v1);
    aios_key_unref(v2);
    aios_key_unref(v3);
    aios_key_unref(twin2);
    aios_key_unref(twin3);
    aios_keyring_free(other);
}

/* Every local type: the format aios_keyring_import takes for it, and
 * material of another type refused. */
static void test_import_version_types(void **state)
{
    fx *f = *state;
    static const aios_key_type types[] = {
        AIOS_KEY_HMAC_SHA256, AIOS_KEY_BLAKE2B, AIOS_KEY_ED25519, AIOS_KEY_ECDSA_P256,
        AIOS_KEY_ECDSA_P384, AIOS_KEY_ECDSA_P521, AIOS_KEY_X25519
    };
    aios_keyring *kr = new_raw(f);
    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    aios_buffer *ed_pem = NULL, *x_pem = NULL;
    aios_key *tmp = NULL;

    spec.exportable = 1;
    /* PKCS#8 of another type, to offer every key the wrong one. */
    tu_assert_ok(aios_keyring_add(kr, &tmp, "pem-ed", AIOS_KEY_ED25519, &spec));
    tu_assert_ok(aios_key_export(tmp, &ed_pem));
    aios_key_unref(tmp);
    tu_assert_ok(aios_keyring_add(kr, &tmp, "pem-x", AIOS_KEY_X25519, &spec));
    tu_assert_ok(aios_key_export(tmp, &x_pem));
    aios_key_unref(tmp);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        aios_key *src = NULL, *nv = NULL, *old = NULL;
        aios_buffer *secret = NULL, *p1 = NULL, *p2 = NULL;
        uint8_t m1[32], m2[32];
        char id[48];
        int symmetric = types[i] == AIOS_KEY_HMAC_SHA256 || types[i] == AIOS_KEY_BLAKE2B;
        const aios_buffer *wrong = types[i] == AIOS_KEY_ED25519 ? x_pem : ed_pem;

        memset(m1, 0x5a, sizeof(m1));

        /* The material: another key's export, as a host would bring it. */
        snprintf(id, sizeof(id), "source-%s", aios_key_type_name(types[i]));
        tu_assert_ok(aios_keyring_add(kr, &src, id, types[i], &spec));
        tu_assert_ok(aios_key_export(src, &secret));
        snprintf(id, sizeof(id), "k-%s", aios_key_type_name(types[i]));
        tu_assert_ok(aios_keyring_add(kr, &old, id, types[i], NULL));
        /* The wrong format for this type. */
        tu_assert_status(aios_keyring_import_version(kr, NULL, id, aios_buffer_data(wrong),
                                                     aios_buffer_len(wrong), 0),
                         AIOS_E_FORMAT);
        if (!symmetric)
            tu_assert_status(aios_keyring_import_version(kr, NULL, id, m1, 32, 0), AIOS_E_FORMAT);
        assert_int_equal(kt_primary(kr, id), 1);

        tu_assert_ok(aios_keyring_import_version(kr, &nv, id, aios_buffer_data(secret),
                                                 aios_buffer_len(secret), 0));
        assert_int_equal(aios_key_version(nv), 2);
        assert_int_equal(aios_key_get_type(nv), types[i]);
        assert_int_equal(aios_key_get_state(old), AIOS_KEY_DECRYPT_ONLY);
        if (symmetric) {
            tu_assert_ok(aios_key_mac(src, m1, (const uint8_t *)"m", 1));
            tu_assert_ok(aios_key_mac(nv, m2, (const uint8_t *)"m", 1));
            assert_memory_equal(m1, m2, 32);
        } else {
            tu_assert_ok(aios_key_public_raw(src, &p1));
            tu_assert_ok(aios_key_public_raw(nv, &p2));
            assert_int_equal(aios_buffer_len(p1), aios_buffer_len(p2));
            assert_memory_equal(aios_buffer_data(p1), aios_buffer_data(p2), aios_buffer_len(p1));
            if (types[i] != AIOS_KEY_X25519) {
                aios_buffer *sig = NULL;
                tu_assert_ok(aios_key_sign(nv, &sig, (const uint8_t *)"m", 1));
                tu_assert_ok(aios_key_verify(src, aios_buffer_data(sig), aios_buffer_len(sig),
                                             (const uint8_t *)"m", 1));
                aios_buffer_free(sig);
            }
            /* A private key whose version was destroyed cannot come back
             * as a new version: its public key is still on record. */
            tu_assert_ok(aios_keyring_rotate(kr, NULL, id));
            tu_assert_ok(aios_keyring_destroy(kr, id, 2));
            tu_assert_status(aios_keyring_import_version(kr, NULL, id, aios_buffer_data(secret),
                                                         aios_buffer_len(secret),
                                                         AIOS_KEYRING_IMPORT_PENDING),
                             AIOS_E_KEY_EXISTS);
            assert_non_null(strstr(aios_last_error_message(), "version 2 (destroyed)"));
        }
        aios_buffer_free(secret);
        aios_buffer_free(p1);
        aios_buffer_free(p2);
        aios_key_unref(src);
        aios_key_unref(nv);
        aios_key_unref(old);
    }
    aios_buffer_free(ed_pem);
    aios_buffer_free(x_pem);
    aios_keyring_free(kr);
}

/* ------------------------------------------------------------- states */

static void test_set_state(void **state)
{
    fx *f = *state;
    aios_keyring *kr = new_raw(f);
    aios_key *v1 = NULL;

    tu_assert_ok(aios_keyring_add(kr, &v1, "k", AIOS_KEY_AES256, NULL));
    tu_assert_status(aios_keyring_set_state(kr, "k", 1, AIOS_KEY_DISABLED), AIOS_E_STATE);
    assert_non_null(strstr(aios_last_error_message(), "primary"));
    tu_assert_status(aios_keyring_set_state(kr, "k", 1, AIOS_KEY_DECRYPT_ONLY), AIOS_E_STATE);
    tu_assert_ok(aios_keyring_set_state(kr, "k", 1, AIOS_KEY_ACTIVE));   /* as it is */
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "k"));
    tu_assert_ok(aios_keyring_set_state(kr, "k", 1, AIOS_KEY_DISABLED));
    assert_int_equal(aios_key_get_state(v1), AIOS_KEY_DISABLED);
    tu_assert_status(roundtrip(v1, v1), AIOS_E_KEY_DISABLED);
    tu_assert_ok(aios_keyring_set_state(kr, "k", 1, AIOS_KEY_DECRYPT_ONLY));
    assert_int_equal(aios_key_get_state(v1), AIOS_KEY_DECRYPT_ONLY);
    /* A non-primary version may be made active again. */
    tu_assert_ok(aios_keyring_set_state(kr, "k", 1, AIOS_KEY_ACTIVE));
    tu_assert_ok(roundtrip(v1, v1));
    tu_assert_status(aios_keyring_set_state(kr, "k", 1, AIOS_KEY_DESTROYED), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_set_state(kr, "k", 1, AIOS_KEY_PENDING), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_set_state(kr, "k", 1, (aios_key_state)0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_set_state(kr, "k", 0, AIOS_KEY_DISABLED), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_set_state(kr, "k", 5, AIOS_KEY_DISABLED),
                     AIOS_E_KEY_VERSION_NOT_FOUND);
    tu_assert_status(aios_keyring_set_state(kr, "z", 1, AIOS_KEY_DISABLED), AIOS_E_KEY_NOT_FOUND);
    tu_assert_status(aios_keyring_set_state(NULL, "k", 1, AIOS_KEY_DISABLED),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_ok(aios_keyring_set_state(kr, "k", 1, AIOS_KEY_DISABLED));
    aios_keyring_free(kr);
    kr = open_raw(f, 0);
    assert_int_equal(kt_state(kr, "k", 1), AIOS_KEY_DISABLED);
    aios_keyring_free(kr);
    /* The old handle keeps the last state it was told. */
    assert_int_equal(aios_key_get_state(v1), AIOS_KEY_DISABLED);
    aios_key_unref(v1);
}

static void test_destroy(void **state)
{
    fx *f = *state;
    static const aios_key_attribute_pair attrs[] = { { "owner", "ops" } };
    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    aios_keyring *kr = new_raw(f);
    aios_key *v1 = NULL, *s1 = NULL, *again = NULL;
    aios_buffer *sig = NULL;
    uint8_t *file;
    size_t len;

    spec.attributes = attrs;
    spec.attribute_count = 1;
    tu_assert_ok(aios_keyring_add(kr, &v1, "k", AIOS_KEY_AES256, &spec));
    tu_assert_ok(aios_keyring_add(kr, &s1, "s", AIOS_KEY_ED25519, NULL));
    tu_assert_ok(aios_key_sign(s1, &sig, (const uint8_t *)"m", 1));
    tu_assert_status(aios_keyring_destroy(kr, "k", 1), AIOS_E_STATE);
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "k"));
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "s"));
    tu_assert_ok(aios_keyring_destroy(kr, "k", 1));
    tu_assert_ok(aios_keyring_destroy(kr, "s", 1));
    /* The handle handed out before: no material, metadata intact. */
    assert_int_equal(aios_key_get_state(v1), AIOS_KEY_DESTROYED);
    tu_assert_status(roundtrip(v1, v1), AIOS_E_KEY_DESTROYED);
    assert_string_equal(aios_key_id(v1), "k");
    assert_int_equal(aios_key_version(v1), 1);
    assert_string_equal(aios_key_attribute(v1, "owner"), "ops");
    assert_null(v1->ver->material);
    /* The public half of a destroyed key pair still verifies. */
    tu_assert_ok(aios_key_verify(s1, aios_buffer_data(sig), aios_buffer_len(sig),
                                 (const uint8_t *)"m", 1));
    {
        aios_buffer *sig2 = NULL;
        tu_assert_status(aios_key_sign(s1, &sig2, (const uint8_t *)"m", 1), AIOS_E_KEY_DESTROYED);
        assert_null(sig2);
    }
    tu_assert_ok(aios_keyring_destroy(kr, "k", 1));                     /* again: no-op */
    tu_assert_status(aios_keyring_set_state(kr, "k", 1, AIOS_KEY_ACTIVE), AIOS_E_KEY_DESTROYED);
    tu_assert_status(aios_keyring_destroy(kr, "k", 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_destroy(kr, "k", 3), AIOS_E_KEY_VERSION_NOT_FOUND);
    tu_assert_status(aios_keyring_destroy(kr, "q", 1), AIOS_E_KEY_NOT_FOUND);
    aios_keyring_free(kr);

    /* Reopened: still destroyed, and the body holds no material for it. */
    kr = open_raw(f, 0);
    tu_assert_ok(aios_keyring_get(kr, &again, "k", 1));
    assert_int_equal(aios_key_get_state(again), AIOS_KEY_DESTROYED);
    assert_null(again->ver->material);
    tu_assert_status(roundtrip(again, again), AIOS_E_KEY_DESTROYED);
    assert_string_equal(aios_key_attribute(again, "owner"), "ops");
    aios_key_unref(again);
    aios_keyring_free(kr);
    file = kt_read(f->path, &len);
    {
        aios__kr_header h;
        aios__aead_key *dk = NULL;
        aios__kr_model m;
        aios_keyring_options o = kt_raw();
        tu_assert_ok(aios__kr_header_parse(&h, file, len, f->path));
        tu_assert_ok(aios__kr_unlock_open(&dk, &h, &o, f->path));
        tu_assert_ok(aios__kr_file_decode(&m, &h, dk, file, len, f->path));
        assert_int_equal(m.nkeys, 2);
        assert_null(m.keys[0].versions[0].kv->material);
        assert_int_equal(m.keys[0].versions[0].state, AIOS_KEY_DESTROYED);
        assert_non_null(m.keys[0].versions[1].kv->material);
        aios__kr_model_clear(&m);
        aios__aead_key_free(dk);
    }
    free(file);
    aios_buffer_free(sig);
    aios_key_unref(v1);
    aios_key_unref(s1);
}

static void test_min_decrypt_version(void **state)
{
    fx *f = *state;
    aios_keyring *kr = new_raw(f);
    aios_key *v1 = NULL, *v2 = NULL;

    tu_assert_ok(aios_keyring_add(kr, &v1, "k", AIOS_KEY_AES256, NULL));
    tu_assert_ok(aios_keyring_rotate(kr, &v2, "k"));
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "k"));
    tu_assert_ok(aios_keyring_destroy(kr, "k", 1));
    tu_assert_status(roundtrip(v2, v2), AIOS_E_KEY_DECRYPT_ONLY);
    tu_assert_ok(aios_keyring_set_min_decrypt_version(kr, "k", 3));
    /* Below the minimum: disabled, not decrypting; destroyed stays destroyed. */
    assert_int_equal(aios_key_get_state(v2), AIOS_KEY_DISABLED);
    assert_int_equal(aios_key_get_state(v1), AIOS_KEY_DESTROYED);
    {
        static const uint8_t dk[8] = { 1 };
        aios_key *v3 = NULL;
        aios_buffer *w = NULL, *b = NULL;
        tu_assert_ok(aios_keyring_get(kr, &v3, "k", 0));
        tu_assert_ok(aios_key_wrap(v3, &w, dk, sizeof(dk), NULL, 0));
        tu_assert_status(aios_key_unwrap(v2, &b, aios_buffer_data(w), aios_buffer_len(w), NULL, 0),
                         AIOS_E_KEY_DISABLED);
        aios_buffer_free(w);
        aios_key_unref(v3);
    }
    tu_assert_status(aios_keyring_set_state(kr, "k", 2, AIOS_KEY_DECRYPT_ONLY), AIOS_E_STATE);
    assert_non_null(strstr(aios_last_error_message(), "minimum"));
    tu_assert_ok(aios_keyring_set_min_decrypt_version(kr, "k", 3));      /* as it is */
    tu_assert_status(aios_keyring_set_min_decrypt_version(kr, "k", 4), AIOS_E_KEY_VERSION_NOT_FOUND);
    tu_assert_ok(aios_keyring_add_version(kr, NULL, "k"));
    tu_assert_status(aios_keyring_set_min_decrypt_version(kr, "k", 4), AIOS_E_STATE);
    tu_assert_status(aios_keyring_set_min_decrypt_version(kr, "k", 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_set_min_decrypt_version(kr, "n", 1), AIOS_E_KEY_NOT_FOUND);
    aios_keyring_free(kr);
    kr = open_raw(f, 0);
    assert_int_equal(kt_state(kr, "k", 2), AIOS_KEY_DISABLED);
    /* Lowering the minimum lets versions be enabled again, one by one. */
    tu_assert_ok(aios_keyring_set_min_decrypt_version(kr, "k", 1));
    assert_int_equal(kt_state(kr, "k", 2), AIOS_KEY_DISABLED);
    tu_assert_ok(aios_keyring_set_state(kr, "k", 2, AIOS_KEY_DECRYPT_ONLY));
    assert_int_equal(kt_state(kr, "k", 2), AIOS_KEY_DECRYPT_ONLY);
    aios_keyring_free(kr);
    aios_key_unref(v1);
    aios_key_unref(v2);
}

static void test_usage_counters_and_limits(void **state)
{
    fx *f = *state;
    aios_keyring *kr = new_raw(f);
    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    aios_key *k = NULL;
    uint8_t mac[32];
    char *list;

    spec.max_uses = 3;
    tu_assert_ok(aios_keyring_add(kr, &k, "m", AIOS_KEY_HMAC_SHA256, &spec));
    tu_assert_ok(aios_key_mac(k, mac, (const uint8_t *)"a", 1));
    tu_assert_ok(aios_key_mac(k, mac, (const uint8_t *)"a", 1));
    /* Counted in memory at once, on disk at the next write. */
    list = kt_list(kr);
    assert_non_null(strstr(list, "\"uses\":2"));
    free(list);
    add_aes(kr, "other");                                      /* a write */
    aios_key_unref(k);
    aios_keyring_free(kr);
    kr = open_raw(f, 0);
    list = kt_list(kr);
    assert_non_null(strstr(list, "\"uses\":2,\"max_uses\":3"));
    free(list);
    tu_assert_ok(aios_keyring_get(kr, &k, "m", 0));
    tu_assert_ok(aios_key_mac(k, mac, (const uint8_t *)"a", 1));
    tu_assert_status(aios_key_mac(k, mac, (const uint8_t *)"a", 1), AIOS_E_KEY_USAGE_LIMIT);
    aios_key_unref(k);
    /* Expiry: the version only decrypts after not_after. */
    spec = (aios_key_spec)AIOS_KEY_SPEC_INIT;
    spec.not_after = fixed_now + 10;
    tu_assert_ok(aios_keyring_add(kr, &k, "e", AIOS_KEY_AES256, &spec));
    tu_assert_ok(roundtrip(k, k));
    fixed_now += 11;
    tu_assert_status(roundtrip(k, k), AIOS_E_KEY_EXPIRED);
    /* Rotation renews it: the new version has no expiry. */
    aios_key_unref(k);
    tu_assert_ok(aios_keyring_rotate(kr, &k, "e"));
    tu_assert_ok(roundtrip(k, k));
    aios_key_unref(k);
    aios_keyring_free(kr);
}

/* ------------------------------------------------------------ listing */

static void test_list_json(void **state)
{
    fx *f = *state;
    static const aios_key_attribute_pair attrs[] = {
        { "quote", "say \"hi\"\\ \t\n\x01 \x7f caf\xc3\xa9" }, { "a", "" }
    };
    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    aios_keyring *kr = new_raw(f);
    aios_buffer *b = NULL;
    json_t *root, *keys, *k0, *v;
    json_error_t err;
    const char *name;
    json_t *val;
    size_t n = 0;

    tu_assert_ok(aios_keyring_list_json(kr, &b));
    assert_int_equal(aios_buffer_len(b), strlen("{\"keys\":[]}"));
    assert_memory_equal(aios_buffer_data(b), "{\"keys\":[]}", aios_buffer_len(b));
    aios_buffer_free(b);
    spec.attributes = attrs;
    spec.attribute_count = 2;
    spec.exportable = 1;
    spec.max_uses = 5;
    tu_assert_ok(aios_keyring_add(kr, NULL, "z-key \"caf\xc3\xa9\"", AIOS_KEY_ED25519, &spec));
    add_aes(kr, "a-key");
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "a-key"));
    tu_assert_ok(aios_keyring_list_json(kr, &b));
    root = json_loadb((const char *)aios_buffer_data(b), aios_buffer_len(b), 0, &err);
    if (!root)
        fail_msg("listing is not JSON: %s", err.text);
    keys = json_object_get(root, "keys");
    assert_int_equal(json_array_size(keys), 2);
    k0 = json_array_get(keys, 0);
    assert_string_equal(tu_str(k0, "id"), "a-key");
    assert_string_equal(tu_str(k0, "type"), "aes256");
    assert_int_equal(json_integer_value(json_object_get(k0, "primary")), 2);
    assert_int_equal(json_integer_value(json_object_get(k0, "min_decrypt_version")), 1);
    assert_true(json_is_false(json_object_get(k0, "exportable")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(k0, "purposes"), 0)),
                        "wrap");
    v = json_object_get(k0, "versions");
    assert_int_equal(json_array_size(v), 2);
    assert_string_equal(tu_str(json_array_get(v, 0), "state"), "decrypt-only");
    assert_string_equal(tu_str(json_array_get(v, 1), "state"), "active");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 0), "created_at")),
                     fixed_now);
    /* Exactly the documented members: nothing secret can hide in others. */
    json_object_foreach(k0, name, val) {
        static const char *const ok[] = { "id", "type", "purposes", "exportable", "primary",
                                          "min_decrypt_version", "attributes", "versions" };
        int found = 0;
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
            found |= strcmp(ok[i], name) == 0;
        if (!found)
            fail_msg("unexpected member %s", name);
        n++;
    }
    assert_int_equal(n, 8);
    json_object_foreach(json_array_get(v, 0), name, val) {
        static const char *const ok[] = { "version", "state", "created_at", "uses", "max_uses",
                                          "not_after" };
        int found = 0;
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
            found |= strcmp(ok[i], name) == 0;
        if (!found)
            fail_msg("unexpected member %s", name);
    }
    k0 = json_array_get(keys, 1);
    assert_string_equal(tu_str(k0, "id"), "z-key \"caf\xc3\xa9\"");
    assert_string_equal(tu_str(json_object_get(k0, "attributes"), "quote"), attrs[0].value);
    assert_string_equal(tu_str(json_object_get(k0, "attributes"), "a"), "");
    assert_true(json_is_true(json_object_get(k0, "exportable")));
    assert_int_equal(json_array_size(json_object_get(k0, "purposes")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(
                         json_object_get(k0, "versions"), 0), "max_uses")), 5);
    json_decref(root);
    /* Escapes are the short ones where JSON has them. */
    {
        static const char esc[] = "say \\\"hi\\\"\\\\ \\t\\n\\u0001 \\u007f caf\xc3\xa9";
        assert_non_null(memmem(aios_buffer_data(b), aios_buffer_len(b), esc, sizeof(esc) - 1));
    }
    aios_buffer_free(b);
    tu_assert_status(aios_keyring_list_json(kr, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_keyring_list_json(NULL, &b), AIOS_E_INVALID_ARGUMENT);
    aios_keyring_free(kr);
}

/* ----------------------------------------------------------- provider */

static void test_provider(void **state)
{
    fx *f = *state;
    aios_keyring *kr = new_raw(f);
    aios_provider *p;
    aios_key *k = NULL, *k1 = NULL;

    add_aes(kr, "k");
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "k"));
    p = aios_keyring_provider(kr);
    assert_non_null(p);
    assert_null(aios_keyring_provider(NULL));
    assert_string_equal(aios_provider_name(p), "local");
    tu_assert_ok(aios_provider_get_key(p, &k, "k", 0));
    assert_int_equal(aios_key_version(k), 2);
    assert_string_equal(aios_key_provider_name(k), "local");
    tu_assert_ok(aios_provider_get_key(p, &k1, "k", 1));
    assert_int_equal(aios_key_get_state(k1), AIOS_KEY_DECRYPT_ONLY);
    aios_key_unref(k1);
    tu_assert_status(aios_provider_get_key(p, &k1, "none", 0), AIOS_E_KEY_NOT_FOUND);
    tu_assert_status(aios_provider_get_key(p, &k1, "k", 3), AIOS_E_KEY_VERSION_NOT_FOUND);
    /* Handles and a provider reference outlive the keyring. */
    aios_provider_ref(p);
    aios_keyring_free(kr);
    tu_assert_ok(roundtrip(k, k));
    assert_string_equal(aios_provider_name(p), "local");
    tu_assert_status(aios_provider_get_key(p, &k1, "k", 0), AIOS_E_STATE);
    assert_null(k1);
    aios_provider_unref(p);
    tu_assert_ok(roundtrip(k, k));
    aios_key_unref(k);
}

/* ------------------------------------------------ read-only and locks */

static void test_read_only(void **state)
{
    fx *f = *state;
    aios_keyring *w = new_raw(f), *r;
    aios_key *k = NULL;
    aios_buffer *b = NULL;

    add_aes(w, "k");
    /* Readers do not need (or take) the writer's lock. */
    r = open_raw(f, AIOS_KEYRING_READ_ONLY);
    tu_assert_ok(aios_keyring_get(r, &k, "k", 0));
    tu_assert_ok(roundtrip(k, k));
    aios_key_unref(k);
    tu_assert_ok(aios_keyring_list_json(r, &b));
    aios_buffer_free(b);
    tu_assert_status(aios_keyring_add(r, NULL, "n", AIOS_KEY_AES256, NULL), AIOS_E_STATE);
    assert_non_null(strstr(aios_last_error_message(), "read-only"));
    tu_assert_status(aios_keyring_import(r, NULL, "n", AIOS_KEY_AES256, kt_master, 32, NULL),
                     AIOS_E_STATE);
    tu_assert_status(aios_keyring_rotate(r, NULL, "k"), AIOS_E_STATE);
    tu_assert_status(aios_keyring_add_version(r, NULL, "k"), AIOS_E_STATE);
    tu_assert_status(aios_keyring_promote(r, "k", 1), AIOS_E_STATE);
    tu_assert_status(aios_keyring_set_state(r, "k", 1, AIOS_KEY_DISABLED), AIOS_E_STATE);
    tu_assert_status(aios_keyring_destroy(r, "k", 1), AIOS_E_STATE);
    tu_assert_status(aios_keyring_set_min_decrypt_version(r, "k", 1), AIOS_E_STATE);
    aios_keyring_free(r);
    aios_keyring_free(w);

    /* A read-only open makes no lock file. */
    assert_int_equal(unlink(kt_path(f->dir, "keys.aioskr.lock", 1)), 0);
    r = open_raw(f, AIOS_KEYRING_READ_ONLY);
    assert_false(kt_exists(kt_path(f->dir, "keys.aioskr.lock", 1)));
    aios_keyring_free(r);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_lock_same_process(void **state)
{
    fx *f = *state;
    aios_keyring_options o = kt_raw();
    aios_keyring *a = new_raw(f), *b = NULL;
    double t0;

    tu_assert_status(aios_keyring_open(&b, f->path, &o), AIOS_E_KEYRING_LOCKED);
    assert_non_null(strstr(aios_last_error_message(), ".lock"));
    o.lock_timeout_ms = 150;
    t0 = now_s();
    tu_assert_status(aios_keyring_open(&b, f->path, &o), AIOS_E_KEYRING_LOCKED);
    assert_true(now_s() - t0 >= 0.14);
    assert_null(b);
    aios_keyring_free(a);
    tu_assert_ok(aios_keyring_open(&b, f->path, &o));
    aios_keyring_free(b);
}

static void test_lock_other_process(void **state)
{
    fx *f = *state;
    aios_keyring_options o = kt_raw();
    aios_keyring *kr = new_raw(f), *b = NULL;
    int go[2], done[2], status;
    char c;
    pid_t pid;

    add_aes(kr, "k");
    /* A child tries while this process holds the lock. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        aios_keyring *x = NULL;
        int rc = aios_keyring_open(&x, f->path, &o);
        aios_keyring_free(x);
        _exit(rc == AIOS_E_KEYRING_LOCKED ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    aios_keyring_free(kr);

    /* The child holds it: LOCKED here, read-only still works, and the
     * lock is free again once the child is gone. */
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        aios_keyring *x = NULL;
        close(go[0]);
        close(done[1]);
        if (aios_keyring_open(&x, f->path, &o) != AIOS_OK)
            _exit(2);
        if (write(go[1], "g", 1) != 1)
            _exit(3);
        if (read(done[0], &c, 1) < 0)
            _exit(4);
        _exit(0);                    /* without freeing: the kernel drops the lock */
    }
    close(go[1]);
    close(done[0]);
    assert_int_equal(read(go[0], &c, 1), 1);
    tu_assert_status(aios_keyring_open(&b, f->path, &o), AIOS_E_KEYRING_LOCKED);
    b = open_raw(f, AIOS_KEYRING_READ_ONLY);
    assert_int_equal(kt_primary(b, "k"), 1);
    aios_keyring_free(b);
    b = NULL;
    assert_int_equal(write(done[1], "d", 1), 1);
    o.lock_timeout_ms = 5000;
    tu_assert_ok(aios_keyring_open(&b, f->path, &o));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    aios_keyring_free(b);
    close(go[0]);
    close(done[1]);
}

/* ------------------------------------------------------------- reload */

static void test_reload(void **state)
{
    fx *f = *state;
    aios_keyring *w = new_raw(f), *r;
    aios_key *r1 = NULL, *r2 = NULL;
    aios_buffer *w1 = NULL, *back = NULL;
    static const uint8_t dk[16] = { 5 };
    uint8_t *old;
    size_t oldlen;

    add_aes(w, "k");
    r = open_raw(f, AIOS_KEYRING_READ_ONLY);
    tu_assert_ok(aios_keyring_get(r, &r1, "k", 0));
    tu_assert_ok(aios_key_wrap(r1, &w1, dk, sizeof(dk), NULL, 0));
    tu_assert_ok(aios_keyring_reload(r));                       /* nothing changed */
    assert_int_equal(aios_key_get_state(r1), AIOS_KEY_ACTIVE);
    old = kt_read(f->path, &oldlen);

    /* The writer rotates: the reader sees it after reload, and its old
     * handle follows the state change. */
    tu_assert_ok(aios_keyring_rotate(w, NULL, "k"));
    assert_int_equal(kt_primary(r, "k"), 1);
    tu_assert_ok(aios_keyring_reload(r));
    assert_int_equal(kt_primary(r, "k"), 2);
    assert_int_equal(aios_key_get_state(r1), AIOS_KEY_DECRYPT_ONLY);
    tu_assert_ok(aios_keyring_get(r, &r2, "k", 0));
    tu_assert_ok(roundtrip(r2, r2));
    tu_assert_ok(aios_key_unwrap(r1, &back, aios_buffer_data(w1), aios_buffer_len(w1), NULL, 0));
    aios_buffer_free(back);
    /* New keys appear; a destroy reaches handles in the reader. */
    add_aes(w, "new");
    tu_assert_ok(aios_keyring_destroy(w, "k", 1));
    tu_assert_ok(aios_keyring_reload(r));
    assert_int_equal(aios_key_get_state(r1), AIOS_KEY_DESTROYED);
    assert_null(r1->ver->material);
    tu_assert_status(aios_key_unwrap(r1, &back, aios_buffer_data(w1), aios_buffer_len(w1),
                                     NULL, 0), AIOS_E_KEY_DESTROYED);
    aios_buffer_free(w1);
    assert_int_equal(kt_primary(r, "new"), 1);
    /* The writer can reload too. */
    tu_assert_ok(aios_keyring_reload(w));

    /* An older copy put back: refused, the reader keeps what it had. */
    kt_write(f->path, old, oldlen);
    tu_assert_status(aios_keyring_reload(r), AIOS_E_KEYRING_TAMPERED);
    assert_non_null(strstr(aios_last_error_message(), "generation"));
    assert_int_equal(kt_primary(r, "k"), 2);
    free(old);
    /* A damaged file: refused the same way open refuses it. */
    kt_write(f->path, (const uint8_t *)"AIOSKR", 6);
    tu_assert_status(aios_keyring_reload(r), AIOS_E_KEYRING_CORRUPT);
    assert_int_equal(unlink(f->path), 0);
    tu_assert_status(aios_keyring_reload(r), AIOS_E_NOT_FOUND);
    aios_keyring_free(w);
    /* Another keyring in its place (another data key): open it again. */
    w = new_raw(f);
    tu_assert_status(aios_keyring_reload(r), AIOS_E_STATE);
    assert_int_equal(kt_primary(r, "k"), 2);
    tu_assert_status(aios_keyring_reload(NULL), AIOS_E_INVALID_ARGUMENT);
    aios_keyring_free(w);
    aios_keyring_free(r);
    aios_key_unref(r1);
    aios_key_unref(r2);
}

/* ------------------------------------------------- write failures */

typedef int (*change_fn)(aios_keyring *kr);
static int ch_add(aios_keyring *kr) { return aios_keyring_add(kr, NULL, "n", AIOS_KEY_AES256, NULL); }
static int ch_import(aios_keyring *kr)
{
    return aios_keyring_import(kr, NULL, "n", AIOS_KEY_AES256, kt_master, 32, NULL);
}
static int ch_rotate(aios_keyring *kr) { return aios_keyring_rotate(kr, NULL, "k"); }
static int ch_addv(aios_keyring *kr) { return aios_keyring_add_version(kr, NULL, "k"); }
static int ch_import_version(aios_keyring *kr)
{
    return aios_keyring_import_version(kr, NULL, "k", kt_master, 32, 0);
}
static int ch_import_pending(aios_keyring *kr)
{
    return aios_keyring_import_version(kr, NULL, "k", kt_master, 32, AIOS_KEYRING_IMPORT_PENDING);
}
static int ch_promote(aios_keyring *kr) { return aios_keyring_promote(kr, "k", 2); }
static int ch_disable(aios_keyring *kr) { return aios_keyring_set_state(kr, "k", 2, AIOS_KEY_DISABLED); }
static int ch_destroy(aios_keyring *kr) { return aios_keyring_destroy(kr, "k", 2); }
static int ch_min(aios_keyring *kr) { return aios_keyring_set_min_decrypt_version(kr, "k", 3); }

static void test_write_failure_rolls_back(void **state)
{
    fx *f = *state;
    static const change_fn changes[] = {
        ch_add, ch_import, ch_rotate, ch_addv, ch_import_version, ch_import_pending, ch_promote,
        ch_disable, ch_destroy, ch_min
    };
    aios_keyring *kr = new_raw(f);
    aios_key *v2 = NULL;

    add_aes(kr, "k");
    tu_assert_ok(aios_keyring_rotate(kr, &v2, "k"));
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "k"));   /* v3 primary, v2 decrypt-only */
    for (size_t c = 0; c < sizeof(changes) / sizeof(changes[0]); c++) {
        for (int step = 1; step <= 4; step++) {
            size_t before_len, after_len;
            uint8_t *before = kt_read(f->path, &before_len), *after;
            char *list_before = kt_list(kr), *list_after;
            aios__kr_fail_write_for_testing(step);
            tu_assert_status(changes[c](kr), AIOS_E_IO);
            aios__kr_fail_write_for_testing(0);
            /* Memory, the file and the handles are as they were. */
            list_after = kt_list(kr);
            assert_string_equal(list_before, list_after);
            after = kt_read(f->path, &after_len);
            assert_int_equal(before_len, after_len);
            assert_memory_equal(before, after, before_len);
            assert_int_equal(aios_key_get_state(v2), AIOS_KEY_DECRYPT_ONLY);
            assert_non_null(v2->ver->material);
            assert_false(kt_exists(kt_path(f->dir, "keys.aioskr.tmp", 1)));
            free(before);
            free(after);
            free(list_before);
            free(list_after);
        }
    }
    /* A real obstacle: a folder where the temp file goes. */
    assert_int_equal(mkdir(kt_path(f->dir, "keys.aioskr.tmp", 1), 0700), 0);
    tu_assert_status(aios_keyring_rotate(kr, NULL, "k"), AIOS_E_IO);
    assert_non_null(strstr(aios_last_error_message(), "keys.aioskr.tmp"));
    assert_int_equal(kt_primary(kr, "k"), 3);
    assert_int_equal(rmdir(kt_path(f->dir, "keys.aioskr.tmp", 1)), 0);

    /* Failing to sync the folder after the rename: reported, but the
     * change is in place in memory and on disk alike. */
    aios__kr_fail_write_for_testing(5);
    tu_assert_status(aios_keyring_rotate(kr, NULL, "k"), AIOS_E_IO);
    assert_non_null(strstr(aios_last_error_message(), "synced"));
    aios__kr_fail_write_for_testing(0);
    assert_int_equal(kt_primary(kr, "k"), 4);
    /* After the failures, everything works and agrees with the disk. */
    tu_assert_ok(aios_keyring_destroy(kr, "k", 2));
    assert_int_equal(aios_key_get_state(v2), AIOS_KEY_DESTROYED);
    aios_keyring_free(kr);
    kr = open_raw(f, 0);
    assert_int_equal(kt_primary(kr, "k"), 4);
    assert_int_equal(kt_state(kr, "k", 2), AIOS_KEY_DESTROYED);
    aios_keyring_free(kr);
    aios_key_unref(v2);
}

/* A temp file a crashed writer left is no obstacle and is cleaned up. */
static void test_stale_temp_file(void **state)
{
    fx *f = *state;
    aios_keyring *kr = new_raw(f);
    const char *tmp = kt_path(f->dir, "keys.aioskr.tmp", 1);

    add_aes(kr, "k");
    kt_write(tmp, (const uint8_t *)"half a keyring", 14);
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "k"));
    assert_false(kt_exists(tmp));
    aios_keyring_free(kr);
    kt_write(tmp, (const uint8_t *)"half a keyring", 14);
    kr = open_raw(f, AIOS_KEYRING_READ_ONLY);                    /* readers leave it */
    assert_true(kt_exists(tmp));
    aios_keyring_free(kr);
    kr = open_raw(f, 0);                                         /* writers remove it */
    assert_false(kt_exists(tmp));
    assert_int_equal(kt_primary(kr, "k"), 2);
    aios_keyring_free(kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_init),
        cmocka_unit_test_setup_teardown(test_option_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_open_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_exists_open_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passphrase_and_master_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_p521_keyring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_phase_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_version_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_min_decrypt_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_counters_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provider, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_same_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_other_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_temp_file, setup, teardown),
    };
    if (aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
