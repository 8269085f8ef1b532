/*
 * Hashes of the crypto seam: FIPS 180-4 / NIST CSRC examples for SHA-256,
 * SHA-384 and SHA-512 (empty, "abc", the 448-bit and 896-bit messages, a
 * million 'a' through incremental updates), RFC 7693 BLAKE2b-512("abc"),
 * the BLAKE2 reference keyed KATs, and BLAKE2b's argument checks.  The
 * SHA-256 examples run on the kernel chosen for this CPU and again on the
 * portable one (test_crypto_sha256.c has the NIST CAVP files).
 */
#include "test_crypto_util.h"
#include "crypto/sha256.h"

static const char m448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char m896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

typedef struct hash_vec {
    const char *msg;   /* NULL: one million 'a' */
    const char *sha256, *sha384, *sha512;
} hash_vec;

static const hash_vec vecs[] = {
    { "",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
      "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e" },
    { "abc",
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f" },
    { m448,
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6b0455a8520bc4e6f5fe95b1fe3c8452b",
      "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c33596fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445" },
    { m896,
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
      "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039",
      "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909" },
    { NULL,
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
      "9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985",
      "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b" },
};

#define MILLION 1000000u

/* Feed a million 'a' in uneven pieces (1..997 bytes) to exercise every
 * buffer boundary of the incremental code. */
typedef void (*update_fn)(void *ctx, const uint8_t *in, size_t len);

static void feed_million(void *ctx, update_fn up)
{
    static uint8_t a[997];
    size_t done = 0, step = 1;
    memset(a, 'a', sizeof(a));
    while (done < MILLION) {
        size_t n = step;
        if (n > MILLION - done)
            n = MILLION - done;
        up(ctx, a, n);
        done += n;
        step = step % sizeof(a) + 13;
        if (step > sizeof(a))
            step = 1;
    }
}

static void up256(void *c, const uint8_t *in, size_t len) { aios__sha256_update(c, in, len); }
static void up384(void *c, const uint8_t *in, size_t len) { aios__sha384_update(c, in, len); }
static void up512(void *c, const uint8_t *in, size_t len) { aios__sha512_update(c, in, len); }

static void test_sha256(void **state)
{
    size_t i, n;
    (void)state;
    for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
        tc_bytes exp = tc_hex(vecs[i].sha256);
        uint8_t out[AIOS__SHA256_LEN];
        aios__sha256_ctx ctx;
        assert_int_equal(exp.n, AIOS__SHA256_LEN);
        aios__sha256_init(&ctx);
        if (vecs[i].msg == NULL) {
            feed_million(&ctx, up256);
        } else {
            n = strlen(vecs[i].msg);
            aios__sha256(out, (const uint8_t *)vecs[i].msg, n);
            assert_memory_equal(out, exp.p, exp.n);
            /* Incremental: byte by byte. */
            for (size_t j = 0; j < n; j++)
                aios__sha256_update(&ctx, (const uint8_t *)vecs[i].msg + j, 1);
        }
        aios__sha256_final(&ctx, out);
        assert_memory_equal(out, exp.p, exp.n);
        /* final wipes the context. */
        assert_true(tc_is_zero(ctx.opaque, sizeof(ctx.opaque)));
        free(exp.p);
    }
    /* NULL with length 0 is fine. */
    {
        uint8_t out[32];
        tc_bytes exp = tc_hex(vecs[0].sha256);
        aios__sha256(out, NULL, 0);
        assert_memory_equal(out, exp.p, 32);
        free(exp.p);
    }
}

/* The same examples on libsodium's portable kernel (where the CPU has an
 * accelerated one, test_sha256 above ran on that). */
static void test_sha256_portable_kernel(void **state)
{
    aios__sha256_test_force_portable(1);
    assert_string_equal(aios__sha256_kernel(), "libsodium");
    test_sha256(state);
    aios__sha256_test_force_portable(0);
}

static int reset_sha256_kernel(void **state)
{
    (void)state;
    aios__sha256_test_force_portable(0);
    return 0;
}

static void test_sha384(void **state)
{
    size_t i, n;
    (void)state;
    for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
        tc_bytes exp = tc_hex(vecs[i].sha384);
        uint8_t out[AIOS__SHA384_LEN];
        aios__sha512_ctx ctx;
        assert_int_equal(exp.n, AIOS__SHA384_LEN);
        aios__sha384_init(&ctx);
        if (vecs[i].msg == NULL) {
            feed_million(&ctx, up384);
        } else {
            n = strlen(vecs[i].msg);
            aios__sha384(out, (const uint8_t *)vecs[i].msg, n);
            assert_memory_equal(out, exp.p, exp.n);
            aios__sha384_update(&ctx, (const uint8_t *)vecs[i].msg, n / 2);
            aios__sha384_update(&ctx, (const uint8_t *)vecs[i].msg + n / 2, n - n / 2);
        }
        aios__sha384_final(&ctx, out);
        assert_memory_equal(out, exp.p, exp.n);
        assert_true(tc_is_zero(ctx.opaque, sizeof(ctx.opaque)));
        free(exp.p);
    }
}

static void test_sha512(void **state)
{
    size_t i, n;
    (void)state;
    for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
        tc_bytes exp = tc_hex(vecs[i].sha512);
        uint8_t out[AIOS__SHA512_LEN];
        aios__sha512_ctx ctx;
        assert_int_equal(exp.n, AIOS__SHA512_LEN);
        aios__sha512_init(&ctx);
        if (vecs[i].msg == NULL) {
            feed_million(&ctx, up512);
        } else {
            n = strlen(vecs[i].msg);
            aios__sha512(out, (const uint8_t *)vecs[i].msg, n);
            assert_memory_equal(out, exp.p, exp.n);
            for (size_t j = 0; j < n; j++)
                aios__sha512_update(&ctx, (const uint8_t *)vecs[i].msg + j, 1);
        }
        aios__sha512_final(&ctx, out);
        assert_memory_equal(out, exp.p, exp.n);
        assert_true(tc_is_zero(ctx.opaque, sizeof(ctx.opaque)));
        free(exp.p);
    }
}

static void test_blake2b_known_answers(void **state)
{
    (void)state;
    uint8_t out[64], key[64], msg[255];
    size_t i;
    aios__blake2b_ctx ctx;
    tc_bytes abc = tc_hex("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                          "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
    /* The BLAKE2 reference blake2b-kat.txt: key 00..3f, inputs "" and 00..fe. */
    tc_bytes k0 = tc_hex("10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786"
                         "b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568");
    tc_bytes k255 = tc_hex("142709d62e28fcccd0af97fad0f8465b971e82201dc51070faa0372aa43e9248"
                           "4be1c1e73ba10906d5d1853db6a4106e0a7bf9800d373d6dee2d46d62ef2a461");
    for (i = 0; i < 64; i++) key[i] = (uint8_t)i;
    for (i = 0; i < 255; i++) msg[i] = (uint8_t)i;

    /* RFC 7693 appendix A. */
    tu_assert_ok(aios__blake2b(out, 64, (const uint8_t *)"abc", 3, NULL, 0));
    assert_memory_equal(out, abc.p, 64);
    tu_assert_ok(aios__blake2b_init(&ctx, 64, NULL, 0));
    aios__blake2b_update(&ctx, (const uint8_t *)"a", 1);
    aios__blake2b_update(&ctx, (const uint8_t *)"bc", 2);
    tu_assert_ok(aios__blake2b_final(&ctx, out, 64));
    assert_memory_equal(out, abc.p, 64);
    assert_true(tc_is_zero(ctx.opaque, sizeof(ctx.opaque)));

    tu_assert_ok(aios__blake2b(out, 64, NULL, 0, key, 64));
    assert_memory_equal(out, k0.p, 64);
    tu_assert_ok(aios__blake2b(out, 64, msg, 255, key, 64));
    assert_memory_equal(out, k255.p, 64);
    tu_assert_ok(aios__blake2b_init(&ctx, 64, key, 64));
    for (i = 0; i < 255; i += 17)
        aios__blake2b_update(&ctx, msg + i, i + 17 <= 255 ? 17 : 255 - i);
    tu_assert_ok(aios__blake2b_final(&ctx, out, 64));
    assert_memory_equal(out, k255.p, 64);
    free(abc.p); free(k0.p); free(k255.p);
}

static void test_blake2b_lengths(void **state)
{
    (void)state;
    uint8_t out[64], out32[32], key[65] = { 0 };
    aios__blake2b_ctx ctx;
    /* BLAKE2b-256("abc"): the digest length is in the parameter block, so
     * it is not a prefix of BLAKE2b-512. */
    tc_bytes b256 = tc_hex("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
    tu_assert_ok(aios__blake2b(out32, 32, (const uint8_t *)"abc", 3, NULL, 0));
    assert_memory_equal(out32, b256.p, 32);
    free(b256.p);

    assert_int_equal(aios__blake2b(out, 15, (const uint8_t *)"x", 1, NULL, 0),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__blake2b(out, 65, (const uint8_t *)"x", 1, NULL, 0),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__blake2b(out, 64, (const uint8_t *)"x", 1, key, 65),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__blake2b(out, 64, (const uint8_t *)"x", 1, NULL, 5),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_ok(aios__blake2b(out, 16, (const uint8_t *)"x", 1, key, 64));

    /* final must be given the length init committed to. */
    tu_assert_ok(aios__blake2b_init(&ctx, 32, NULL, 0));
    aios__blake2b_update(&ctx, (const uint8_t *)"abc", 3);
    memset(out, 0x77, sizeof(out));
    assert_int_equal(aios__blake2b_final(&ctx, out, 64), AIOS_E_INVALID_ARGUMENT);
    assert_true(tc_is_zero(out, 64));
    assert_non_null(strstr(aios_last_error_message(), "differs"));
    /* The context is wiped: a second final is refused, not garbage. */
    assert_int_equal(aios__blake2b_final(&ctx, out, 32), AIOS_E_STATE);

    /* A failed init leaves a context that update and final refuse safely. */
    assert_int_equal(aios__blake2b_init(&ctx, 8, NULL, 0), AIOS_E_INVALID_ARGUMENT);
    aios__blake2b_update(&ctx, (const uint8_t *)"abc", 3);
    assert_int_equal(aios__blake2b_final(&ctx, out, 8), AIOS_E_STATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test_teardown(test_sha256_portable_kernel, reset_sha256_kernel),
        cmocka_unit_test(test_sha384),
        cmocka_unit_test(test_sha512),
        cmocka_unit_test(test_blake2b_known_answers),
        cmocka_unit_test(test_blake2b_lengths),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
