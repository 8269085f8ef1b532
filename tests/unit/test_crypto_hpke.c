/*
 * RFC 9180 HPKE base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 /
 * ChaCha20Poly1305 (lib/crypto/hpke.c): the published vector of RFC 9180
 * appendix A.2.1 (shared_secret, key, base_nonce and the sequence-0
 * ciphertext, through the deterministic encap with the RFC's skEm), round
 * trips with random keys, every kind of tampering refused with the output
 * wiped, and low-order keys refused.  The split recipient path (the DH
 * computed elsewhere, then aios__hpke_decap_from_dh and
 * aios__hpke_open_base_shared) is held to the same vector.
 */
#include "test_crypto_util.h"

/* RFC 9180 appendix A.2.1 "Base Setup Information" and A.2.1.1
 * "Encryptions", sequence number 0, copied from the RFC text. */
static const char A21_INFO[]   = "4f6465206f6e2061204772656369616e2055726e";
static const char A21_PKEM[]   = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
static const char A21_SKEM[]   = "f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600";
static const char A21_PKRM[]   = "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a";
static const char A21_SKRM[]   = "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb";
static const char A21_ENC[]    = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
static const char A21_SHARED[] = "0bbe78490412b4bbea4812666f7916932b828bba79942424abb65244930d69a7";
static const char A21_KEY[]    = "ad2744de8e17f4ebba575b3f5f5a8fa1f69c2a07f6e7500bc60ca6e3e3ec1c91";
static const char A21_NONCE[]  = "5c4d98150661b848853b547f";
static const char A21_PT[]     = "4265617574792069732074727574682c20747275746820626561757479";
static const char A21_AAD[]    = "436f756e742d30";
static const char A21_CT[]     = "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db"
                                 "21993c62ce81883d2dd1b51a28";

/* X25519 points of small order (the DH output with any scalar is zero). */
static const char *const LOW_ORDER[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",   /* 0 */
    "0100000000000000000000000000000000000000000000000000000000000000",   /* 1 */
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",   /* order 8 */
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",   /* order 8 */
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",   /* p - 1 */
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void unhex_exact(uint8_t *out, size_t len, const char *hex)
{
    size_t n = 0;
    tu_assert_ok(aios__hex_decode(out, len, &n, hex, strlen(hex)));
    assert_int_equal(n, len);
}

typedef struct a21 {
    uint8_t info[20], pkEm[32], skEm[32], pkRm[32], skRm[32], enc[32], shared[32], key[32],
            nonce[12], pt[29], aad[7], ct[45];
} a21;

static void load_a21(a21 *v)
{
    unhex_exact(v->info, sizeof(v->info), A21_INFO);
    unhex_exact(v->pkEm, sizeof(v->pkEm), A21_PKEM);
    unhex_exact(v->skEm, sizeof(v->skEm), A21_SKEM);
    unhex_exact(v->pkRm, sizeof(v->pkRm), A21_PKRM);
    unhex_exact(v->skRm, sizeof(v->skRm), A21_SKRM);
    unhex_exact(v->enc, sizeof(v->enc), A21_ENC);
    unhex_exact(v->shared, sizeof(v->shared), A21_SHARED);
    unhex_exact(v->key, sizeof(v->key), A21_KEY);
    unhex_exact(v->nonce, sizeof(v->nonce), A21_NONCE);
    unhex_exact(v->pt, sizeof(v->pt), A21_PT);
    unhex_exact(v->aad, sizeof(v->aad), A21_AAD);
    unhex_exact(v->ct, sizeof(v->ct), A21_CT);
}

static void test_rfc9180_a21(void **state)
{
    a21 v;
    uint8_t pk[32], shared[32], enc[32], key[32], nonce[12], ct[45], pt[29];
    (void)state;
    load_a21(&v);

    /* The key pairs are consistent (the RFC's pkEm, pkRm from skEm, skRm). */
    tu_assert_ok(aios__x25519_public(pk, v.skEm));
    assert_memory_equal(pk, v.pkEm, 32);
    tu_assert_ok(aios__x25519_public(pk, v.skRm));
    assert_memory_equal(pk, v.pkRm, 32);

    /* Encap with the RFC's ephemeral key, Decap with the recipient's. */
    memset(shared, 0xcc, sizeof(shared));
    tu_assert_ok(aios__hpke_encap_derand(shared, enc, v.pkRm, v.skEm));
    assert_memory_equal(enc, v.enc, 32);
    assert_memory_equal(shared, v.shared, 32);
    memset(shared, 0xcc, sizeof(shared));
    tu_assert_ok(aios__hpke_decap(shared, v.enc, v.skRm));
    assert_memory_equal(shared, v.shared, 32);

    /* KeySchedule(mode_base). */
    tu_assert_ok(aios__hpke_key_schedule_base(key, nonce, v.shared, v.info, sizeof(v.info)));
    assert_memory_equal(key, v.key, 32);
    assert_memory_equal(nonce, v.nonce, 12);

    /* The sequence-0 encryption, whole (enc, ct) exactly. */
    memset(enc, 0, sizeof(enc));
    tu_assert_ok(aios__hpke_seal_base_derand(enc, ct, v.pkRm, v.info, sizeof(v.info), v.aad,
                                             sizeof(v.aad), v.pt, sizeof(v.pt), v.skEm));
    assert_memory_equal(enc, v.enc, 32);
    assert_memory_equal(ct, v.ct, 45);

    /* And the published ciphertext opens. */
    tu_assert_ok(aios__hpke_open_base(pt, v.enc, v.skRm, v.info, sizeof(v.info), v.aad,
                                      sizeof(v.aad), v.ct, sizeof(v.ct)));
    assert_memory_equal(pt, v.pt, 29);
    printf("RFC 9180 A.2.1: shared_secret, key, base_nonce, enc and sequence-0 ct match\n");
}

static void test_rfc9180_a21_in_place(void **state)
{
    a21 v;
    uint8_t enc[32], buf[45];
    (void)state;
    load_a21(&v);
    memcpy(buf, v.pt, sizeof(v.pt));
    tu_assert_ok(aios__hpke_seal_base_derand(enc, buf, v.pkRm, v.info, sizeof(v.info), v.aad,
                                             sizeof(v.aad), buf, sizeof(v.pt), v.skEm));
    assert_memory_equal(buf, v.ct, 45);
    tu_assert_ok(aios__hpke_open_base(buf, enc, v.skRm, v.info, sizeof(v.info), v.aad,
                                      sizeof(v.aad), buf, sizeof(buf)));
    assert_memory_equal(buf, v.pt, 29);
}

/* The recipient whose private key stays in a handle: DH done outside,
 * then ExtractAndExpand(dh, enc || pkR), KeySchedule and Open. */
static void test_rfc9180_a21_split(void **state)
{
    a21 v;
    uint8_t dh[32], shared[32], pt[29], bad[45], pk2[32], sk2[32];
    (void)state;
    load_a21(&v);

    tu_assert_ok(aios__x25519(dh, v.skRm, v.enc));
    memset(shared, 0xcc, sizeof(shared));
    tu_assert_ok(aios__hpke_decap_from_dh(shared, dh, v.enc, v.pkRm));
    assert_memory_equal(shared, v.shared, 32);
    memset(pt, 0xcc, sizeof(pt));
    tu_assert_ok(aios__hpke_open_base_shared(pt, v.shared, v.info, sizeof(v.info), v.aad,
                                             sizeof(v.aad), v.ct, sizeof(v.ct)));
    assert_memory_equal(pt, v.pt, 29);
    /* In place. */
    memcpy(bad, v.ct, sizeof(bad));
    tu_assert_ok(aios__hpke_open_base_shared(bad, v.shared, v.info, sizeof(v.info), v.aad,
                                             sizeof(v.aad), bad, sizeof(bad)));
    assert_memory_equal(bad, v.pt, 29);

    /* kem_context binds enc and pkR: either one changed gives another
     * shared secret, and the ciphertext does not open with it. */
    tu_assert_ok(aios__x25519_keypair(pk2, sk2));
    tu_assert_ok(aios__hpke_decap_from_dh(shared, dh, v.enc, pk2));
    assert_memory_not_equal(shared, v.shared, 32);
    memset(pt, 0xcc, sizeof(pt));
    assert_int_equal(aios__hpke_open_base_shared(pt, shared, v.info, sizeof(v.info), v.aad,
                                                 sizeof(v.aad), v.ct, sizeof(v.ct)),
                     AIOS_E_AUTH);
    assert_true(tc_is_zero(pt, sizeof(pt)));
    tu_assert_ok(aios__hpke_decap_from_dh(shared, dh, pk2, v.pkRm));
    assert_memory_not_equal(shared, v.shared, 32);
    /* So does another DH value. */
    dh[0] ^= 1;
    tu_assert_ok(aios__hpke_decap_from_dh(shared, dh, v.enc, v.pkRm));
    assert_memory_not_equal(shared, v.shared, 32);

    /* Open with the right shared secret refuses changed info, aad, ct. */
    memcpy(bad, v.ct, sizeof(bad));
    bad[44] ^= 0x40;
    assert_int_equal(aios__hpke_open_base_shared(pt, v.shared, v.info, sizeof(v.info), v.aad,
                                                 sizeof(v.aad), bad, sizeof(bad)),
                     AIOS_E_AUTH);
    assert_int_equal(aios__hpke_open_base_shared(pt, v.shared, v.info, sizeof(v.info) - 1,
                                                 v.aad, sizeof(v.aad), v.ct, sizeof(v.ct)),
                     AIOS_E_AUTH);
    assert_int_equal(aios__hpke_open_base_shared(pt, v.shared, v.info, sizeof(v.info), NULL,
                                                 0, v.ct, sizeof(v.ct)),
                     AIOS_E_AUTH);
    assert_true(tc_is_zero(pt, sizeof(pt)));

    /* An all-zero DH (what a low-order enc gives) is refused, output wiped. */
    memset(dh, 0, sizeof(dh));
    memset(shared, 0xcc, sizeof(shared));
    assert_int_equal(aios__hpke_decap_from_dh(shared, dh, v.enc, v.pkRm), AIOS_E_AUTH);
    assert_true(tc_is_zero(shared, 32));

    /* Arguments. */
    assert_int_equal(aios__hpke_decap_from_dh(NULL, dh, v.enc, v.pkRm), AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_decap_from_dh(shared, NULL, v.enc, v.pkRm),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_decap_from_dh(shared, dh, NULL, v.pkRm), AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_decap_from_dh(shared, dh, v.enc, NULL), AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_open_base_shared(pt, NULL, NULL, 0, NULL, 0, v.ct, sizeof(v.ct)),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_open_base_shared(pt, v.shared, NULL, 0, NULL, 0, v.ct, 15),
                     AIOS_E_FORMAT);
    assert_int_equal(aios__hpke_open_base_shared(NULL, v.shared, NULL, 0, NULL, 0, v.ct,
                                                 sizeof(v.ct)), AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_open_base_shared(pt, v.shared, NULL, 1, NULL, 0, v.ct,
                                                 sizeof(v.ct)), AIOS_E_INVALID_ARGUMENT);
}

static void test_round_trips(void **state)
{
    static const size_t lens[] = { 0, 1, 15, 16, 32, 33, 64, 1000, 4096 };
    uint8_t pkR[32], skR[32], enc[32], enc2[32], info[40], aad[70];
    uint8_t *pt, *ct, *ct2, *back;
    size_t i;
    (void)state;
    pt = malloc(4096);
    ct = malloc(4096 + 16);
    ct2 = malloc(4096 + 16);
    back = malloc(4096);
    assert_non_null(pt); assert_non_null(ct); assert_non_null(ct2); assert_non_null(back);

    for (i = 0; i < N(lens); i++) {
        size_t n = lens[i], info_len = i * 4 % sizeof(info), aad_len = i * 7 % sizeof(aad);
        tu_assert_ok(aios__x25519_keypair(pkR, skR));
        aios__random_bytes(pt, n);
        aios__random_bytes(info, sizeof(info));
        aios__random_bytes(aad, sizeof(aad));
        tu_assert_ok(aios__hpke_seal_base(enc, ct, pkR, info, info_len, aad, aad_len, pt, n));
        memset(back, 0xcc, n);
        tu_assert_ok(aios__hpke_open_base(back, enc, skR, info, info_len, aad, aad_len, ct,
                                          n + 16));
        assert_memory_equal(back, pt, n);

        /* A fresh ephemeral key every time: a second seal differs. */
        tu_assert_ok(aios__hpke_seal_base(enc2, ct2, pkR, info, info_len, aad, aad_len, pt, n));
        assert_memory_not_equal(enc, enc2, 32);
        assert_memory_not_equal(ct + n, ct2 + n, 16);
        tu_assert_ok(aios__hpke_open_base(back, enc2, skR, info, info_len, aad, aad_len, ct2,
                                          n + 16));
        assert_memory_equal(back, pt, n);
    }

    /* Random encap / decap agree. */
    {
        uint8_t s1[32], s2[32];
        tu_assert_ok(aios__x25519_keypair(pkR, skR));
        tu_assert_ok(aios__hpke_encap(s1, enc, pkR));
        tu_assert_ok(aios__hpke_decap(s2, enc, skR));
        assert_memory_equal(s1, s2, 32);
        assert_false(tc_is_zero(s1, 32));
    }
    free(pt); free(ct); free(ct2); free(back);
}

/* Open must fail with AIOS_E_AUTH and leave the output wiped. */
static void expect_auth(const uint8_t *enc, const uint8_t *skR, const uint8_t *info,
                        size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                        size_t ct_len)
{
    uint8_t out[128];
    size_t n = ct_len - 16;
    assert_true(n <= sizeof(out));
    memset(out, 0xcc, sizeof(out));
    assert_int_equal(aios__hpke_open_base(out, enc, skR, info, info_len, aad, aad_len, ct,
                                          ct_len), AIOS_E_AUTH);
    assert_true(tc_is_zero(out, n));
}

static void test_tampering(void **state)
{
    uint8_t pkR[32], skR[32], pk2[32], sk2[32], enc[32], bad_enc[32], info[24], aad[40];
    uint8_t pt[64], ct[80], bad[80];
    size_t i;
    (void)state;
    tu_assert_ok(aios__x25519_keypair(pkR, skR));
    tu_assert_ok(aios__x25519_keypair(pk2, sk2));
    aios__random_bytes(info, sizeof(info));
    aios__random_bytes(aad, sizeof(aad));
    aios__random_bytes(pt, sizeof(pt));
    tu_assert_ok(aios__hpke_seal_base(enc, ct, pkR, info, sizeof(info), aad, sizeof(aad), pt,
                                      sizeof(pt)));

    /* Wrong recipient key. */
    expect_auth(enc, sk2, info, sizeof(info), aad, sizeof(aad), ct, sizeof(ct));
    assert_non_null(strstr(aios_last_error_message(), "HPKE open"));

    /* Changed enc: every bit of the first and last byte, and another valid key. */
    for (i = 0; i < 8; i++) {
        memcpy(bad_enc, enc, 32);
        bad_enc[0] ^= (uint8_t)(1u << i);
        expect_auth(bad_enc, skR, info, sizeof(info), aad, sizeof(aad), ct, sizeof(ct));
        memcpy(bad_enc, enc, 32);
        bad_enc[31] ^= (uint8_t)(1u << (i % 7));   /* the top bit is masked by X25519 */
        expect_auth(bad_enc, skR, info, sizeof(info), aad, sizeof(aad), ct, sizeof(ct));
    }
    expect_auth(pk2, skR, info, sizeof(info), aad, sizeof(aad), ct, sizeof(ct));

    /* Changed ciphertext or tag, at every byte. */
    for (i = 0; i < sizeof(ct); i++) {
        memcpy(bad, ct, sizeof(ct));
        bad[i] ^= 0x01;
        expect_auth(enc, skR, info, sizeof(info), aad, sizeof(aad), bad, sizeof(ct));
    }
    /* Truncated (a shorter message with a misplaced tag). */
    expect_auth(enc, skR, info, sizeof(info), aad, sizeof(aad), ct, sizeof(ct) - 1);

    /* Changed, shortened, empty aad. */
    memcpy(bad, aad, sizeof(aad));
    bad[sizeof(aad) - 1] ^= 0x80;
    expect_auth(enc, skR, info, sizeof(info), bad, sizeof(aad), ct, sizeof(ct));
    expect_auth(enc, skR, info, sizeof(info), aad, sizeof(aad) - 1, ct, sizeof(ct));
    expect_auth(enc, skR, info, sizeof(info), NULL, 0, ct, sizeof(ct));

    /* Changed, shortened, empty info. */
    memcpy(bad, info, sizeof(info));
    bad[0] ^= 0x01;
    expect_auth(enc, skR, bad, sizeof(info), aad, sizeof(aad), ct, sizeof(ct));
    expect_auth(enc, skR, info, sizeof(info) - 1, aad, sizeof(aad), ct, sizeof(ct));
    expect_auth(enc, skR, NULL, 0, aad, sizeof(aad), ct, sizeof(ct));

    /* Untouched, it still opens. */
    memset(bad, 0, sizeof(bad));
    tu_assert_ok(aios__hpke_open_base(bad, enc, skR, info, sizeof(info), aad, sizeof(aad), ct,
                                      sizeof(ct)));
    assert_memory_equal(bad, pt, sizeof(pt));
}

static void test_low_order(void **state)
{
    uint8_t pkR[32], skR[32], skE[32], lo[32], enc[32], shared[32], ct[32], pt[16];
    size_t i, n;
    (void)state;
    tu_assert_ok(aios__x25519_keypair(pkR, skR));
    aios__random_bytes(skE, sizeof(skE));
    aios__random_bytes(pt, sizeof(pt));
    for (i = 0; i < N(LOW_ORDER); i++) {
        tu_assert_ok(aios__hex_decode(lo, sizeof(lo), &n, LOW_ORDER[i], 64));

        /* As the recipient's key: encap and seal refuse it. */
        memset(shared, 0xcc, sizeof(shared));
        memset(enc, 0xcc, sizeof(enc));
        assert_int_equal(aios__hpke_encap(shared, enc, lo), AIOS_E_AUTH);
        assert_true(tc_is_zero(shared, 32));
        assert_true(tc_is_zero(enc, 32));
        memset(shared, 0xcc, sizeof(shared));
        assert_int_equal(aios__hpke_encap_derand(shared, enc, lo, skE), AIOS_E_AUTH);
        assert_true(tc_is_zero(shared, 32));
        memset(enc, 0xcc, sizeof(enc));
        assert_int_equal(aios__hpke_seal_base(enc, ct, lo, NULL, 0, NULL, 0, pt, sizeof(pt)),
                         AIOS_E_AUTH);
        assert_true(tc_is_zero(enc, 32));

        /* As enc: decap and open refuse it. */
        memset(shared, 0xcc, sizeof(shared));
        assert_int_equal(aios__hpke_decap(shared, lo, skR), AIOS_E_AUTH);
        assert_true(tc_is_zero(shared, 32));
        assert_non_null(strstr(aios_last_error_message(), "small order"));
        memset(ct, 0x5a, sizeof(ct));
        expect_auth(lo, skR, NULL, 0, NULL, 0, ct, sizeof(ct));
    }
}

static void test_bad_arguments(void **state)
{
    uint8_t pkR[32], skR[32], enc[32], ct[32], pt[16], shared[32], key[32], nonce[12];
    (void)state;
    tu_assert_ok(aios__x25519_keypair(pkR, skR));
    memset(pt, 1, sizeof(pt));
    tu_assert_ok(aios__hpke_seal_base(enc, ct, pkR, NULL, 0, NULL, 0, pt, sizeof(pt)));

    /* A ciphertext shorter than the tag. */
    assert_int_equal(aios__hpke_open_base(pt, enc, skR, NULL, 0, NULL, 0, ct, 15), AIOS_E_FORMAT);
    /* NULL with a nonzero length. */
    assert_int_equal(aios__hpke_seal_base(enc, ct, pkR, NULL, 3, NULL, 0, pt, sizeof(pt)),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_seal_base(enc, ct, pkR, NULL, 0, NULL, 3, pt, sizeof(pt)),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_seal_base(enc, ct, pkR, NULL, 0, NULL, 0, NULL, 1),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_seal_base(enc, NULL, pkR, NULL, 0, NULL, 0, pt, 0),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_seal_base(NULL, ct, pkR, NULL, 0, NULL, 0, pt, 0),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_seal_base(enc, ct, NULL, NULL, 0, NULL, 0, pt, 0),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_seal_base_derand(enc, ct, pkR, NULL, 0, NULL, 0, pt, 0, NULL),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_open_base(NULL, enc, skR, NULL, 0, NULL, 0, ct, sizeof(ct)),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_open_base(pt, NULL, skR, NULL, 0, NULL, 0, ct, sizeof(ct)),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_open_base(pt, enc, NULL, NULL, 0, NULL, 0, ct, sizeof(ct)),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_open_base(pt, enc, skR, NULL, 1, NULL, 0, ct, sizeof(ct)),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_encap(NULL, enc, pkR), AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_decap(shared, NULL, skR), AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__hpke_key_schedule_base(key, nonce, shared, NULL, 1),
                     AIOS_E_INVALID_ARGUMENT);

    /* An empty message seals to the tag alone, and opens. */
    tu_assert_ok(aios__hpke_seal_base(enc, ct, pkR, NULL, 0, NULL, 0, NULL, 0));
    tu_assert_ok(aios__hpke_open_base(NULL, enc, skR, NULL, 0, NULL, 0, ct, 16));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc9180_a21),
        cmocka_unit_test(test_rfc9180_a21_in_place),
        cmocka_unit_test(test_rfc9180_a21_split),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_low_order),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
