/*
 * The AES-256-GCM kernel on VAES + VPCLMULQDQ (lib/crypto/gcm_vaes.c):
 *
 *   - detection and dispatch: the kernel is enabled exactly where CPUID
 *     (and XCR0) report VAES, the test switch accepts or refuses it
 *     accordingly, and the automatic choice names it;
 *   - McGrew-Viega GCM test cases 13 to 16 (256-bit key, 96-bit IV),
 *     through the kernel and through every backend of the seam;
 *   - Wycheproof aes_gcm_test.json, every 256-bit-key, 96-bit-IV,
 *     128-bit-tag case, valid and invalid, through the kernel (in place,
 *     out of place, misaligned) and the seam forced to it;
 *   - differential against libsodium and OpenSSL (the other backends,
 *     forced through the seam): random keys, nonces, AD of 0..300 bytes,
 *     every length 0..600 then a spread to 5000, 64 KiB, 1 MiB + 17,
 *     misaligned buffers, in place and out of place;
 *   - every tag bit flip and ciphertext byte flips refused with the output
 *     wiped (in place too), and nothing written past the end.
 *
 * Where the CPU lacks VAES (and under valgrind, whose CPUID hides it) the
 * kernel-specific parts say so loudly and only the dispatch is checked.
 */
#include "test_crypto_util.h"
#include "crypto/gcm_vaes.h"

static int have_vaes(const char *what)
{
    if (aios__gcm_vaes_capable())
        return 1;
    printf("*** %s: SKIPPED, the VAES AES-256-GCM kernel cannot run on this CPU "
           "(cpu.vaes = %d%s); only the dispatch is tested ***\n", what,
           aios__crypto_cpu()->vaes, tu_under_valgrind() ? ", under valgrind" : "");
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------ detection, dispatch */

static void test_detection_and_dispatch(void **state)
{
    const aios__cpu_features *cpu = aios__crypto_cpu();
    uint8_t key[32], nonce[12], pt[100], ct[100], tag[16], out[100];
    aios__aead_key *k = NULL;
    (void)state;

    printf("cpu: aesni %d pclmul %d avx2 %d vaes %d avx512 %d; kernel enabled %d; "
           "AES-256-GCM backend \"%s\"\n", cpu->aesni, cpu->pclmul, cpu->avx2, cpu->vaes,
           cpu->avx512, aios__gcm_vaes_capable(), aios__aead_gcm_backend());
    /* Enabled exactly where the CPU has it (and it passed its start-up
     * known answers, which it must on such a CPU). */
    assert_int_equal(aios__gcm_vaes_capable(), cpu->vaes);
    if (cpu->vaes) {
        assert_true(cpu->aesni && cpu->pclmul && cpu->avx2);
        tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_VAES));
        assert_string_equal(aios__aead_gcm_backend(), "vaes");
    } else {
        have_vaes("dispatch");
        assert_int_equal(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_VAES), AIOS_E_UNSUPPORTED);
        assert_string_not_equal(aios__aead_gcm_backend(), "vaes");
    }
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
    if (tu_under_valgrind())
        assert_false(aios__gcm_vaes_capable());
    /* aios_build_info() reports the feature and the backend. */
    {
        json_error_t jerr;
        json_t *root = json_loads(aios_build_info(), 0, &jerr);
        json_t *jcpu = json_object_get(root, "cpu");
        assert_non_null(root);
        assert_true(json_is_boolean(json_object_get(jcpu, "vaes")));
        assert_true(json_is_boolean(json_object_get(jcpu, "avx512")));
        assert_int_equal(json_is_true(json_object_get(jcpu, "vaes")), cpu->vaes != 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(root, "uses"),
                                                              "aes256gcm_backend")),
                            aios__aead_gcm_backend());
        json_decref(root);
    }

    /* Whatever was chosen, the automatic path works and agrees with the
     * one-shot call (and with libsodium when forced). */
    if (!aios__aead_available(AIOS__AEAD_AES256GCM)) {
        printf("no hardware AES here: AES-256-GCM dispatch not exercised\n");
        return;
    }
    aios__random_bytes(key, sizeof(key));
    aios__random_bytes(nonce, sizeof(nonce));
    aios__random_bytes(pt, sizeof(pt));
    tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key));
    tu_assert_ok(aios__aead_seal(k, ct, tag, pt, sizeof(pt), NULL, 0, nonce));
    tu_assert_ok(aios__aead_open_once(AIOS__AEAD_AES256GCM, key, out, ct, sizeof(ct), tag, NULL,
                                      0, nonce, 0));
    assert_memory_equal(out, pt, sizeof(pt));
    if (aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_LIBSODIUM) == AIOS_OK) {
        uint8_t ct2[100], tag2[16];
        tu_assert_ok(aios__aead_seal(k, ct2, tag2, pt, sizeof(pt), NULL, 0, nonce));
        tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
        assert_memory_equal(ct2, ct, sizeof(ct));
        assert_memory_equal(tag2, tag, sizeof(tag));
    }
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
    aios__aead_key_free(k);
}

/* ------------------------------------- McGrew-Viega test cases 13..16 */

typedef struct mv_case {
    int tc;
    const char *key, *iv, *pt, *ad, *ct, *tag;
} mv_case;

/* "The Galois/Counter Mode of Operation (GCM)", McGrew and Viega,
 * appendix B: the AES-256 cases with 96-bit IVs (17 and 18 use 64- and
 * 480-bit IVs, which this seam does not take). */
static const mv_case mv_cases[] = {
    { 13,
      "0000000000000000000000000000000000000000000000000000000000000000",
      "000000000000000000000000", "", "", "",
      "530f8afbc74536b9a963b4f1c4cb738b" },
    { 14,
      "0000000000000000000000000000000000000000000000000000000000000000",
      "000000000000000000000000", "00000000000000000000000000000000", "",
      "cea7403d4d606b6e074ec5d3baf39d18",
      "d0d1c8a799996bf0265b98b5d48ab919" },
    { 15,
      "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
      "cafebabefacedbaddecaf888",
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
      "",
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
      "b094dac5d93471bdec1a502270e3cc6c" },
    { 16,
      "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
      "cafebabefacedbaddecaf888",
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
      "b16aedf5aa0de657ba637b39",
      "feedfacedeadbeeffeedfacedeadbeefabaddad2",
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
      "76fc6ece0f4e1768cddf8853bb2d551b" },
};

static const int all_backends[] = { AIOS__GCM_BACKEND_AUTO, AIOS__GCM_BACKEND_LIBSODIUM,
                                    AIOS__GCM_BACKEND_OPENSSL, AIOS__GCM_BACKEND_VAES };

static void test_mcgrew_viega(void **state)
{
    size_t i, b;
    (void)state;
    if (!aios__aead_available(AIOS__AEAD_AES256GCM)) {
        printf("McGrew-Viega: no hardware AES here\n");
        return;
    }
    for (i = 0; i < sizeof(mv_cases) / sizeof(mv_cases[0]); i++) {
        const mv_case *m = &mv_cases[i];
        tc_bytes key = tc_hex(m->key), iv = tc_hex(m->iv), pt = tc_hex(m->pt), ad = tc_hex(m->ad);
        tc_bytes ct = tc_hex(m->ct), tag = tc_hex(m->tag);
        uint8_t out[80], back[80], t[16];
        /* test case 16's plaintext is the first 60 bytes of 15's */
        if (m->tc == 16)
            pt.n = 60;
        assert_int_equal(pt.n, ct.n);
        assert_int_equal(key.n, 32);
        assert_int_equal(iv.n, 12);
        if (aios__gcm_vaes_capable()) {
            aios__gcm_vaes_key vk;
            aios__gcm_vaes_key_init(&vk, key.p);
            memset(out, 0x77, sizeof(out));
            aios__gcm_vaes_seal(&vk, out, t, pt.p, pt.n, ad.p, ad.n, iv.p);
            if (ct.n > 0)
                assert_memory_equal(out, ct.p, ct.n);
            assert_int_equal(out[ct.n], 0x77);
            assert_memory_equal(t, tag.p, 16);
            assert_int_equal(aios__gcm_vaes_open(&vk, back, ct.p, ct.n, tag.p, ad.p, ad.n, iv.p), 0);
            if (pt.n > 0)
                assert_memory_equal(back, pt.p, pt.n);
            t[15] ^= 0x01;
            assert_int_equal(aios__gcm_vaes_open(&vk, back, ct.p, ct.n, t, ad.p, ad.n, iv.p), 1);
            assert_true(tc_is_zero(back, ct.n));
            aios__gcm_vaes_key_wipe(&vk);
            assert_true(tc_is_zero((const uint8_t *)&vk, sizeof(vk)));
        } else {
            have_vaes("McGrew-Viega through the kernel");
        }
        for (b = 0; b < sizeof(all_backends) / sizeof(all_backends[0]); b++) {
            aios__aead_key *k = NULL;
            if (aios__aead_test_gcm_backend(all_backends[b]) != AIOS_OK)
                continue;
            tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key.p));
            tu_assert_ok(aios__aead_seal(k, out, t, pt.p, pt.n, ad.p, ad.n, iv.p));
            if (ct.n > 0)
                assert_memory_equal(out, ct.p, ct.n);
            assert_memory_equal(t, tag.p, 16);
            tu_assert_ok(aios__aead_open(k, back, ct.p, ct.n, tag.p, ad.p, ad.n, iv.p));
            if (pt.n > 0)
                assert_memory_equal(back, pt.p, pt.n);
            tu_assert_ok(aios__aead_seal_once(AIOS__AEAD_AES256GCM, key.p, out, t, pt.p, pt.n,
                                              ad.p, ad.n, iv.p));
            if (ct.n > 0)
                assert_memory_equal(out, ct.p, ct.n);
            assert_memory_equal(t, tag.p, 16);
            aios__aead_key_free(k);
        }
        tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
        printf("McGrew-Viega test case %d: ok\n", m->tc);
        free(key.p); free(iv.p); free(pt.p); free(ad.p); free(ct.p); free(tag.p);
    }
}

/* ------------------------------------------------------------ Wycheproof */

typedef struct walk {
    tc_counts c;
} walk;

static void wp_case(json_t *group, json_t *test, void *arg)
{
    walk *w = arg;
    tc_bytes key, iv, aad, msg, ct, tag;
    aios__gcm_vaes_key vk;
    aios__aead_key *k = NULL;
    uint8_t t[16], *out, *mis, *src;
    int result = tu_result(test), rc;
    size_t off;

    if (!tc_aead_take(group, test, 96, &w->c, &key, &iv, &aad, &msg, &ct, &tag))
        return;
    assert_int_equal(ct.n, msg.n);
    out = malloc(ct.n + 64);
    src = malloc(ct.n + 64);
    assert_non_null(out);
    assert_non_null(src);
    aios__gcm_vaes_key_init(&vk, key.p);

    for (off = 0; off < 3; off++) {
        /* Out of place at offsets 0, 1 and 7 (unaligned loads/stores). */
        size_t o = off == 0 ? 0 : off == 1 ? 1 : 7;
        mis = out + o;
        memcpy(src + o, ct.p, ct.n);
        memset(out, 0xa5, ct.n + 64);
        rc = aios__gcm_vaes_open(&vk, mis, src + o, ct.n, tag.p, aad.p, aad.n, iv.p);
        if (result == 1) {
            TC_CHECK(&w->c, rc == 0 && memcmp(mis, msg.p, msg.n) == 0, test,
                     "kernel: valid ciphertext rejected or wrong plaintext");
            memset(out, 0xa5, ct.n + 64);
            memcpy(src + o, msg.p, msg.n);
            aios__gcm_vaes_seal(&vk, mis, t, src + o, msg.n, aad.p, aad.n, iv.p);
            TC_CHECK(&w->c, memcmp(mis, ct.p, ct.n) == 0 && memcmp(t, tag.p, 16) == 0, test,
                     "kernel: seal mismatch");
            TC_CHECK(&w->c, mis[ct.n] == 0xa5, test, "kernel: seal wrote past the end");
            /* In place. */
            aios__gcm_vaes_seal(&vk, src + o, t, src + o, msg.n, aad.p, aad.n, iv.p);
            TC_CHECK(&w->c, memcmp(src + o, ct.p, ct.n) == 0 && memcmp(t, tag.p, 16) == 0, test,
                     "kernel: in-place seal mismatch");
            rc = aios__gcm_vaes_open(&vk, src + o, src + o, ct.n, tag.p, aad.p, aad.n, iv.p);
            TC_CHECK(&w->c, rc == 0 && memcmp(src + o, msg.p, msg.n) == 0, test,
                     "kernel: in-place open mismatch");
        } else {
            TC_CHECK(&w->c, rc == 1, test, "kernel: invalid ciphertext accepted");
            TC_CHECK(&w->c, tc_is_zero(mis, ct.n), test, "kernel: rejected open left bytes");
            TC_CHECK(&w->c, mis[ct.n] == 0xa5, test, "kernel: open wrote past the end");
            rc = aios__gcm_vaes_open(&vk, src + o, src + o, ct.n, tag.p, aad.p, aad.n, iv.p);
            TC_CHECK(&w->c, rc == 1 && tc_is_zero(src + o, ct.n), test,
                     "kernel: in-place open of an invalid ciphertext");
        }
    }

    /* The seam forced to VAES: key object and one-shot. */
    tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key.p));
    memset(out, 0xa5, ct.n + 1);
    rc = aios__aead_open(k, out, ct.p, ct.n, tag.p, aad.p, aad.n, iv.p);
    if (result == 1) {
        TC_CHECK(&w->c, rc == AIOS_OK && memcmp(out, msg.p, msg.n) == 0, test,
                 "seam: valid ciphertext rejected");
        rc = aios__aead_seal_once(AIOS__AEAD_AES256GCM, key.p, out, t, msg.p, msg.n, aad.p,
                                  aad.n, iv.p);
        TC_CHECK(&w->c, rc == AIOS_OK && memcmp(out, ct.p, ct.n) == 0 &&
                        memcmp(t, tag.p, 16) == 0, test, "seam: one-shot seal mismatch");
    } else {
        TC_CHECK(&w->c, rc == AIOS_E_AUTH && tc_is_zero(out, ct.n) && out[ct.n] == 0xa5, test,
                 "seam: invalid ciphertext accepted or not wiped");
        memset(out, 0xa5, ct.n + 1);
        rc = aios__aead_open_once(AIOS__AEAD_AES256GCM, key.p, out, ct.p, ct.n, tag.p, aad.p,
                                  aad.n, iv.p, 0);
        TC_CHECK(&w->c, rc == AIOS_E_AUTH && tc_is_zero(out, ct.n), test,
                 "seam: one-shot open of an invalid ciphertext");
    }
    aios__aead_key_free(k);
    aios__gcm_vaes_key_wipe(&vk);
    free(out);
    free(src);
    free(key.p); free(iv.p); free(aad.p); free(msg.p); free(ct.p); free(tag.p);
}

static void test_wycheproof_vaes(void **state)
{
    walk w;
    json_t *root;
    size_t total;
    (void)state;
    if (!have_vaes("Wycheproof aes_gcm_test.json through the VAES kernel"))
        return;
    root = tu_wycheproof("aes_gcm_test.json");
    memset(&w, 0, sizeof(w));
    w.c.file = "aes_gcm_test.json (VAES kernel)";
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_VAES));
    total = tu_wycheproof_each(root, wp_case, &w);
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
    assert_int_equal(total, w.c.valid + w.c.invalid + w.c.acceptable + w.c.skipped);
    tc_report(&w.c);
    assert_true(w.c.invalid > 0);
    json_decref(root);
}

/* ---------------------------------------------------------- differential */

/* Seal with a forced backend through the one-shot call. */
static void seal_by(int backend, const uint8_t *key, uint8_t *ct, uint8_t *tag, const uint8_t *pt,
                    size_t len, const uint8_t *ad, size_t adlen, const uint8_t *nonce)
{
    tu_assert_ok(aios__aead_test_gcm_backend(backend));
    tu_assert_ok(aios__aead_seal_once(AIOS__AEAD_AES256GCM, key, ct, tag, pt, len, ad, adlen,
                                      nonce));
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
}

static void diff_one(size_t len, size_t adlen, size_t off, uint8_t *buf, uint8_t *ref,
                     uint8_t *work, const uint8_t *ad)
{
    uint8_t key[32], nonce[12], tag_s[16], tag_o[16], tag_v[16], tag_i[16];
    uint8_t *pt = buf + off, *ct = work + ((off * 7 + 3) & 31);
    aios__gcm_vaes_key vk;
    aios__aead_key *k = NULL;

    aios__random_bytes(key, sizeof(key));
    aios__random_bytes(nonce, sizeof(nonce));
    aios__random_bytes(pt, len);

    /* References: libsodium's and OpenSSL's, which must agree. */
    seal_by(AIOS__GCM_BACKEND_LIBSODIUM, key, ref, tag_s, pt, len, ad, adlen, nonce);
    seal_by(AIOS__GCM_BACKEND_OPENSSL, key, ref + len + 32, tag_o, pt, len, ad, adlen, nonce);
    if (len > 0)
        assert_memory_equal(ref, ref + len + 32, len);
    assert_memory_equal(tag_s, tag_o, 16);

    /* The kernel, out of place at a misaligned output. */
    aios__gcm_vaes_key_init(&vk, key);
    ct[len] = 0x5c;
    aios__gcm_vaes_seal(&vk, ct, tag_v, pt, len, ad, adlen, nonce);
    if (len > 0 && memcmp(ct, ref, len) != 0)
        fail_msg("VAES ciphertext differs from libsodium's: len %zu adlen %zu off %zu", len,
                 adlen, off);
    if (memcmp(tag_v, tag_s, 16) != 0)
        fail_msg("VAES tag differs from libsodium's: len %zu adlen %zu off %zu", len, adlen, off);
    assert_int_equal(ct[len], 0x5c);
    /* Open out of place (into OpenSSL's copy, checked equal above), then
     * in place. */
    ref[len + 32 + len] = 0x33;
    assert_int_equal(aios__gcm_vaes_open(&vk, ref + len + 32, ct, len, tag_v, ad, adlen, nonce), 0);
    if (len > 0)
        assert_memory_equal(ref + len + 32, pt, len);
    assert_int_equal(ref[len + 32 + len], 0x33);
    assert_int_equal(aios__gcm_vaes_open(&vk, ct, ct, len, tag_v, ad, adlen, nonce), 0);
    if (len > 0)
        assert_memory_equal(ct, pt, len);
    /* In-place seal gives the same bytes. */
    aios__gcm_vaes_seal(&vk, ct, tag_i, ct, len, ad, adlen, nonce);
    if (len > 0)
        assert_memory_equal(ct, ref, len);
    assert_memory_equal(tag_i, tag_s, 16);
    assert_int_equal(ct[len], 0x5c);
    aios__gcm_vaes_key_wipe(&vk);

    /* The seam's key object on VAES opens libsodium's output. */
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_VAES));
    tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key));
    tu_assert_ok(aios__aead_open(k, ct, ref, len, tag_s, ad, adlen, nonce));
    if (len > 0)
        assert_memory_equal(ct, pt, len);
    aios__aead_key_free(k);
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
}

static void test_differential(void **state)
{
    const size_t max = ((size_t)1 << 20) + 17;
    uint8_t *buf = malloc(max + 64), *ref = malloc(2 * max + 64), *work = malloc(max + 64);
    uint8_t ad[301];
    size_t len, runs = 0, step = 1;
    uint32_t r;
    (void)state;
    assert_non_null(buf); assert_non_null(ref); assert_non_null(work);
    if (!have_vaes("differential VAES against libsodium and OpenSSL") ||
        aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_LIBSODIUM) != AIOS_OK ||
        aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_OPENSSL) != AIOS_OK) {
        tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
        goto done;
    }
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
    aios__random_bytes(ad, sizeof(ad));
    /* Every length 0..600, then a spread to 5000. */
    for (len = 0; len <= 5000; len += step) {
        aios__random_bytes((uint8_t *)&r, sizeof(r));
        diff_one(len, r % 301, (r >> 9) % 32, buf, ref, work, ad);
        runs++;
        if (len >= 600)
            step = 1 + (r >> 16) % 61;
    }
    /* AD lengths 0..300 at a few message lengths. */
    for (len = 0; len <= 300; len++) {
        aios__random_bytes((uint8_t *)&r, sizeof(r));
        diff_one((r >> 8) % 400, len, r % 32, buf, ref, work, ad);
        runs++;
    }
    diff_one(65536, 0, 0, buf, ref, work, ad);
    diff_one(65536, 13, 5, buf, ref, work, ad);
    diff_one(max, 300, 3, buf, ref, work, ad);
    diff_one(max - 17, 17, 31, buf, ref, work, ad);
    runs += 4;
    printf("differential: %zu runs agree with libsodium and OpenSSL\n", runs);
done:
    free(buf);
    free(ref);
    free(work);
}

/* -------------------------------------------------------------- tampering */

static void test_tampering(void **state)
{
    static const size_t sizes[] = { 0, 1, 16, 64, 100, 127, 128, 129, 300, 1000, 4101 };
    uint8_t key[32], nonce[12], ad[21], tag[16], t2[16];
    uint8_t *pt = malloc(4200), *ct = malloc(4200), *c2 = malloc(4200), *out = malloc(4200);
    aios__gcm_vaes_key vk;
    aios__aead_key *k = NULL;
    size_t s, bit, pos;
    (void)state;
    assert_non_null(pt); assert_non_null(ct); assert_non_null(c2); assert_non_null(out);
    if (!have_vaes("tampering through the VAES kernel"))
        goto done;
    aios__random_bytes(key, sizeof(key));
    aios__random_bytes(nonce, sizeof(nonce));
    aios__random_bytes(ad, sizeof(ad));
    aios__gcm_vaes_key_init(&vk, key);
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_VAES));
    tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key));
    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t len = sizes[s];
        aios__random_bytes(pt, len);
        aios__gcm_vaes_seal(&vk, ct, tag, pt, len, ad, sizeof(ad), nonce);
        /* Every bit of the tag. */
        for (bit = 0; bit < 128; bit++) {
            memcpy(t2, tag, 16);
            t2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            memset(out, 0xee, len + 1);
            assert_int_equal(aios__gcm_vaes_open(&vk, out, ct, len, t2, ad, sizeof(ad), nonce), 1);
            assert_true(tc_is_zero(out, len));
            assert_int_equal(out[len], 0xee);
        }
        /* Ciphertext bytes: first, one in the bulk, last; and each AD byte
         * flip through the seam. */
        for (pos = 0; len > 0 && pos < 3; pos++) {
            size_t at = pos == 0 ? 0 : pos == 1 ? len / 2 : len - 1;
            memcpy(c2, ct, len);
            c2[at] ^= 0x40;
            memset(out, 0xee, len + 1);
            assert_int_equal(aios__gcm_vaes_open(&vk, out, c2, len, tag, ad, sizeof(ad), nonce), 1);
            assert_true(tc_is_zero(out, len));
            assert_int_equal(out[len], 0xee);
            /* In place: wiped too. */
            assert_int_equal(aios__gcm_vaes_open(&vk, c2, c2, len, tag, ad, sizeof(ad), nonce), 1);
            assert_true(tc_is_zero(c2, len));
            /* The seam: AIOS_E_AUTH, wiped. */
            memcpy(c2, ct, len);
            c2[at] ^= 0x40;
            memset(out, 0xee, len + 1);
            assert_int_equal(aios__aead_open(k, out, c2, len, tag, ad, sizeof(ad), nonce),
                             AIOS_E_AUTH);
            assert_true(tc_is_zero(out, len));
            assert_int_equal(out[len], 0xee);
            assert_int_equal(aios__aead_open_once(AIOS__AEAD_AES256GCM, key, out, c2, len, tag,
                                                  ad, sizeof(ad), nonce, 0), AIOS_E_AUTH);
            assert_true(tc_is_zero(out, len));
        }
        /* Changed AD, nonce, or a shorter length. */
        {
            uint8_t ad2[21], n2[12];
            memcpy(ad2, ad, sizeof(ad));
            ad2[20] ^= 1;
            assert_int_equal(aios__gcm_vaes_open(&vk, out, ct, len, tag, ad2, sizeof(ad2), nonce), 1);
            assert_int_equal(aios__gcm_vaes_open(&vk, out, ct, len, tag, ad, sizeof(ad) - 1, nonce), 1);
            memcpy(n2, nonce, sizeof(n2));
            n2[11] ^= 1;
            assert_int_equal(aios__gcm_vaes_open(&vk, out, ct, len, tag, ad, sizeof(ad), n2), 1);
            if (len > 0)
                assert_int_equal(aios__gcm_vaes_open(&vk, out, ct, len - 1, tag, ad, sizeof(ad),
                                                     nonce), 1);
        }
        /* And the untouched message opens. */
        assert_int_equal(aios__gcm_vaes_open(&vk, out, ct, len, tag, ad, sizeof(ad), nonce), 0);
        if (len > 0)
            assert_memory_equal(out, pt, len);
    }
    aios__aead_key_free(k);
    aios__gcm_vaes_key_wipe(&vk);
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
done:
    free(pt); free(ct); free(c2); free(out);
}

/* A key object made while VAES is the automatic choice, used with
 * libsodium forced (its state then expanded per call), and the reverse:
 * the same bytes. */
static void test_forced_on_other_state(void **state)
{
    uint8_t key[32], nonce[12], pt[333], c1[333], c2[333], t1[16], t2[16];
    aios__aead_key *kv = NULL, *ks = NULL;
    (void)state;
    if (!have_vaes("forcing a backend on a key holding the other's state"))
        return;
    aios__random_bytes(key, sizeof(key));
    aios__random_bytes(nonce, sizeof(nonce));
    aios__random_bytes(pt, sizeof(pt));
    tu_assert_ok(aios__aead_key_new(&kv, AIOS__AEAD_AES256GCM, key));        /* VAES state */
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_LIBSODIUM));
    tu_assert_ok(aios__aead_key_new(&ks, AIOS__AEAD_AES256GCM, key));        /* libsodium's */
    tu_assert_ok(aios__aead_seal(kv, c1, t1, pt, sizeof(pt), pt, 17, nonce));
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_VAES));
    tu_assert_ok(aios__aead_seal(ks, c2, t2, pt, sizeof(pt), pt, 17, nonce));
    assert_memory_equal(c1, c2, sizeof(c1));
    assert_memory_equal(t1, t2, sizeof(t1));
    tu_assert_ok(aios__aead_open(ks, c2, c2, sizeof(c2), t2, pt, 17, nonce));
    assert_memory_equal(c2, pt, sizeof(pt));
    t1[0] ^= 1;
    assert_int_equal(aios__aead_open(ks, c2, c1, sizeof(c1), t1, pt, 17, nonce), AIOS_E_AUTH);
    assert_true(tc_is_zero(c2, sizeof(c2)));
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
    aios__aead_key_free(kv);
    aios__aead_key_free(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detection_and_dispatch),
        cmocka_unit_test(test_mcgrew_viega),
        cmocka_unit_test(test_wycheproof_vaes),
        cmocka_unit_test(test_differential),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_forced_on_other_state),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
