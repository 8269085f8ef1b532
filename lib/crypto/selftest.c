/*
 * Known-answer tests of the crypto seam (aios__crypto_selftest).
 *
 * Every vector below is published: FIPS 180-4 / NIST examples, RFC 4231,
 * RFC 5869, the GCM specification (McGrew and Viega, test case 16),
 * RFC 8439, draft-irtf-cfrg-xchacha A.3.1, RFC 7693, RFC 8032, RFC 7748,
 * RFC 6979, RFC 4648, RFC 3394, RFC 5649, RFC 5297, RFC 9180 (A.2.1), and
 * libsodium's own Argon2id test suite.  None is derived from this code.
 *
 * Test names are stable (hosts may log or match them):
 *   fast: sha256 sha384 sha512 hmac-sha256 hkdf-sha256 aead-aes256gcm
 *         aead-chacha20poly1305 aead-xchacha20poly1305
 *   full: the above, then hmac-sha512 blake2b argon2id ed25519 x25519
 *         ecdsa-p256 ecdsa-p384 base64 hex aes-kw aes-kwp aes-siv hpke-x25519
 * aead-aes256gcm runs (and is reported) only where aios__aead_available()
 * says AES-256-GCM can run.  Every test runs even after one fails; the
 * first failure is returned.
 */
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "../core/internal.h"

/* Decode a hex literal of at most cap bytes; returns its length (the
 * literals are ours, so a decoding failure is a bug in this file, caught
 * by the comparison that follows: the buffer is left zeroed). */
static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t len = 0;
    memset(out, 0, cap);
    if (sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &len, NULL) != 0)
        return 0;
    return len;
}

static int eq(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n) == 0;    /* public test data: no need for constant time */
}

/* Each test returns NULL on success or a short reason. */
typedef const char *(*kat_fn)(void);

/* ================================================================ hashes */

static const char *kat_sha256(void)
{
    uint8_t exp[32], out[32];
    aios__sha256_ctx ctx;
    unhex(exp, sizeof(exp), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    aios__sha256(out, (const uint8_t *)"abc", 3);
    if (!eq(out, exp, 32))
        return "SHA-256(\"abc\") mismatch";
    aios__sha256_init(&ctx);
    aios__sha256_update(&ctx, (const uint8_t *)"a", 1);
    aios__sha256_update(&ctx, (const uint8_t *)"bc", 2);
    aios__sha256_final(&ctx, out);
    if (!eq(out, exp, 32))
        return "incremental SHA-256(\"abc\") mismatch";
    /* FIPS 180-4 examples whose padding spills into an extra block (448
     * bits) and that span several blocks (896 bits): the kernel's block
     * loop and both padding branches, on whichever kernel was chosen. */
    unhex(exp, sizeof(exp), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    aios__sha256(out, (const uint8_t *)"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
    if (!eq(out, exp, 32))
        return "SHA-256(448-bit message) mismatch";
    unhex(exp, sizeof(exp), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    aios__sha256(out, (const uint8_t *)"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                                       "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112);
    if (!eq(out, exp, 32))
        return "SHA-256(896-bit message) mismatch";
    return NULL;
}

static const char *kat_sha384(void)
{
    uint8_t exp[48], out[48];
    aios__sha512_ctx ctx;
    unhex(exp, sizeof(exp), "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
                            "8086072ba1e7cc2358baeca134c825a7");
    aios__sha384(out, (const uint8_t *)"abc", 3);
    if (!eq(out, exp, 48))
        return "SHA-384(\"abc\") mismatch";
    aios__sha384_init(&ctx);
    aios__sha384_update(&ctx, (const uint8_t *)"ab", 2);
    aios__sha384_update(&ctx, (const uint8_t *)"c", 1);
    aios__sha384_final(&ctx, out);
    if (!eq(out, exp, 48))
        return "incremental SHA-384(\"abc\") mismatch";
    return NULL;
}

static const char *kat_sha512(void)
{
    uint8_t exp[64], out[64];
    aios__sha512_ctx ctx;
    unhex(exp, sizeof(exp), "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    aios__sha512(out, (const uint8_t *)"abc", 3);
    if (!eq(out, exp, 64))
        return "SHA-512(\"abc\") mismatch";
    aios__sha512_init(&ctx);
    aios__sha512_update(&ctx, (const uint8_t *)"a", 1);
    aios__sha512_update(&ctx, (const uint8_t *)"bc", 2);
    aios__sha512_final(&ctx, out);
    if (!eq(out, exp, 64))
        return "incremental SHA-512(\"abc\") mismatch";
    return NULL;
}

/* =========================================================== MAC and KDF */

static const char rfc4231_data[] = "what do ya want for nothing?";

static const char *kat_hmac_sha256(void)
{
    /* RFC 4231 test case 2. */
    uint8_t exp[32], out[32];
    aios__hmac_sha256_ctx ctx;
    unhex(exp, sizeof(exp), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    aios__hmac_sha256(out, (const uint8_t *)"Jefe", 4, (const uint8_t *)rfc4231_data,
                      sizeof(rfc4231_data) - 1);
    if (!eq(out, exp, 32))
        return "RFC 4231 case 2 mismatch";
    aios__hmac_sha256_init(&ctx, (const uint8_t *)"Jefe", 4);
    aios__hmac_sha256_update(&ctx, (const uint8_t *)rfc4231_data, 10);
    aios__hmac_sha256_update(&ctx, (const uint8_t *)rfc4231_data + 10, sizeof(rfc4231_data) - 11);
    aios__hmac_sha256_final(&ctx, out);
    if (!eq(out, exp, 32))
        return "incremental RFC 4231 case 2 mismatch";
    return NULL;
}

static const char *kat_hmac_sha512(void)
{
    /* RFC 4231 test case 2, HMAC-SHA-512. */
    uint8_t exp[64], out[64];
    unhex(exp, sizeof(exp), "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                            "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    aios__hmac_sha512(out, (const uint8_t *)"Jefe", 4, (const uint8_t *)rfc4231_data,
                      sizeof(rfc4231_data) - 1);
    return eq(out, exp, 64) ? NULL : "RFC 4231 case 2 mismatch";
}

static const char *kat_hkdf_sha256(void)
{
    /* RFC 5869 A.1 (test case 1). */
    uint8_t ikm[22], salt[13], info[10], prk_exp[32], okm_exp[42], prk[32], okm[42];
    memset(ikm, 0x0b, sizeof(ikm));
    unhex(salt, sizeof(salt), "000102030405060708090a0b0c");
    unhex(info, sizeof(info), "f0f1f2f3f4f5f6f7f8f9");
    unhex(prk_exp, sizeof(prk_exp),
          "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    unhex(okm_exp, sizeof(okm_exp),
          "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
          "34007208d5b887185865");
    aios__hkdf_sha256_extract(prk, salt, sizeof(salt), ikm, sizeof(ikm));
    if (!eq(prk, prk_exp, 32))
        return "RFC 5869 case 1 PRK mismatch";
    if (aios__hkdf_sha256(okm, sizeof(okm), salt, sizeof(salt), ikm, sizeof(ikm),
                          info, sizeof(info)) != AIOS_OK || !eq(okm, okm_exp, 42))
        return "RFC 5869 case 1 OKM mismatch";
    return NULL;
}

/* ================================================================= AEADs */

typedef struct aead_kat {
    aios__aead_alg alg;
    const char    *key, *nonce, *ad, *pt, *ct, *tag;
} aead_kat;

#define AEAD_KAT_MAX 128

static const char *run_aead_kat(const aead_kat *v)
{
    uint8_t key[32], nonce[24], ad[32], pt[AEAD_KAT_MAX], ct[AEAD_KAT_MAX], tag[16];
    uint8_t out[AEAD_KAT_MAX], outtag[16];
    size_t adlen, ptlen, i;
    aios__aead_key *k = NULL;
    const char *why = NULL;

    unhex(key, sizeof(key), v->key);
    unhex(nonce, sizeof(nonce), v->nonce);
    adlen = unhex(ad, sizeof(ad), v->ad);
    ptlen = unhex(pt, sizeof(pt), v->pt);
    if (unhex(ct, sizeof(ct), v->ct) != ptlen || unhex(tag, sizeof(tag), v->tag) != 16)
        return "bad vector";
    if (aios__aead_key_new(&k, v->alg, key) != AIOS_OK)
        return "key setup failed";
    if (aios__aead_seal(k, out, outtag, pt, ptlen, ad, adlen, nonce) != AIOS_OK)
        why = "seal failed";
    else if (!eq(out, ct, ptlen) || !eq(outtag, tag, 16))
        why = "seal output mismatch";
    else if (aios__aead_open(k, out, ct, ptlen, tag, ad, adlen, nonce) != AIOS_OK)
        why = "open of the known ciphertext failed";
    else if (!eq(out, pt, ptlen))
        why = "open output mismatch";
    else {
        tag[0] ^= 0x01;
        if (aios__aead_open(k, out, ct, ptlen, tag, ad, adlen, nonce) != AIOS_E_AUTH)
            why = "a forged tag was accepted";
        for (i = 0; why == NULL && i < ptlen; i++)
            if (out[i] != 0)
                why = "a failed open left plaintext behind";
    }
    aios__aead_key_free(k);
    return why;
}

static const char sunscreen[] =
    "4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
    "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
    "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
    "637265656e20776f756c642062652069742e";

static const char *kat_aes256gcm(void)
{
    /* The GCM specification, test case 16 (AES-256, 96-bit IV, with AD). */
    static const aead_kat v = {
        AIOS__AEAD_AES256GCM,
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b"
    };
    return run_aead_kat(&v);
}

static const char *kat_chacha20poly1305(void)
{
    /* RFC 8439 section 2.8.2. */
    static const aead_kat v = {
        AIOS__AEAD_CHACHA20POLY1305,
        "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        "070000004041424344454647",
        "50515253c0c1c2c3c4c5c6c7",
        sunscreen,
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
        "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
        "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
        "3ff4def08e4b7a9de576d26586cec64b6116",
        "1ae10b594f09e26a7e902ecbd0600691"
    };
    return run_aead_kat(&v);
}

static const char *kat_xchacha20poly1305(void)
{
    /* draft-irtf-cfrg-xchacha-03 A.3.1. */
    static const aead_kat v = {
        AIOS__AEAD_XCHACHA20POLY1305,
        "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        "404142434445464748494a4b4c4d4e4f5051525354555657",
        "50515253c0c1c2c3c4c5c6c7",
        sunscreen,
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
        "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
        "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
        "21f9664c97637da9768812f615c68b13b52e",
        "c0875924c1c7987947deafd8780acf49"
    };
    return run_aead_kat(&v);
}

/* ======================================================= full-only tests */

static const char *kat_blake2b(void)
{
    /* RFC 7693 appendix A: BLAKE2b-512("abc"). */
    uint8_t exp[64], out[64];
    unhex(exp, sizeof(exp), "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                            "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
    if (aios__blake2b(out, 64, (const uint8_t *)"abc", 3, NULL, 0) != AIOS_OK)
        return "BLAKE2b failed";
    return eq(out, exp, 64) ? NULL : "RFC 7693 \"abc\" mismatch";
}

static const char *kat_argon2id(void)
{
    /* libsodium test/default/pwhash_argon2id.c, tv() vector 6: one pass,
     * 1631659 bytes of memory, one lane, 231-byte output (the salt is the
     * first 16 bytes of the hex given there).  The same answer comes out
     * of OpenSSL's independent Argon2id, which reproduces RFC 9106 5.3. */
    uint8_t pass[34], salt[16], exp[231], out[231];
    const char *why = NULL;
    unhex(pass, sizeof(pass), "b540beb016a5366524d4605156493f9874514a5aa58818cd0c6dfffaa9e90205"
                              "f17b");
    unhex(salt, sizeof(salt), "44071f6d181561670bda728d43fb79b4");
    unhex(exp, sizeof(exp),
          "7fb72409b0987f8190c3729710e98c3f80c5a8727d425fdcde7f3644d467fe97"
          "3f5b5fee683bd3fce812cb9ae5e9921a2d06c2f1905e4e839692f2b934b682f1"
          "1a2fe2b90482ea5dd234863516dba6f52dc0702d324ec77d860c2e181f84472b"
          "d7104fedce071ffa93c5309494ad51623d214447a7b2b1462dc7d5d55a1f6fd5"
          "b54ce024118d86f0c6489d16545aaa87b6689dad9f2fb47fda9894f8e12b87d9"
          "78b483ccd4cc5fd9595cdc7a818452f915ce2f7df95ec12b1c72e3788d473441"
          "d884f9748eb14703c21b45d82fd667b85f5b2d98c13303b3fe76285531a826b6"
          "fc0fe8e3dddecf");
    if (aios__argon2id(out, sizeof(out), pass, sizeof(pass), salt, 1, 1631659) != AIOS_OK)
        why = "Argon2id failed (out of memory?)";
    else if (!eq(out, exp, sizeof(out)))
        why = "libsodium vector mismatch";
    aios__wipe(out, sizeof(out));
    return why;
}

static const char *kat_ed25519(void)
{
    /* RFC 8032 section 7.1, test 1 (empty message). */
    uint8_t seed[32], pk_exp[32], sig_exp[64], pk[32], sk[64], sig[64];
    const char *why = NULL;
    unhex(seed, sizeof(seed), "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    unhex(pk_exp, sizeof(pk_exp),
          "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    unhex(sig_exp, sizeof(sig_exp),
          "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
          "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    if (aios__ed25519_seed_keypair(pk, sk, seed) != AIOS_OK || !eq(pk, pk_exp, 32))
        why = "public key mismatch";
    else if (aios__ed25519_sign(sig, NULL, 0, sk) != AIOS_OK || !eq(sig, sig_exp, 64))
        why = "signature mismatch";
    else if (aios__ed25519_verify(sig_exp, NULL, 0, pk_exp) != AIOS_OK)
        why = "the known signature does not verify";
    else {
        sig[63] ^= 0x01;
        if (aios__ed25519_verify(sig, NULL, 0, pk_exp) != AIOS_E_AUTH)
            why = "a forged signature verifies";
    }
    aios__wipe(sk, sizeof(sk));
    return why;
}

static const char *kat_x25519(void)
{
    /* RFC 7748 section 6.1. */
    uint8_t a[32], b[32], apub_exp[32], bpub_exp[32], k_exp[32], pub[32], k[32], zero[32];
    const char *why = NULL;
    unhex(a, sizeof(a), "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    unhex(apub_exp, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    unhex(b, sizeof(b), "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    unhex(bpub_exp, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    unhex(k_exp, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    memset(zero, 0, sizeof(zero));
    if (aios__x25519_public(pub, a) != AIOS_OK || !eq(pub, apub_exp, 32))
        why = "Alice's public key mismatch";
    else if (aios__x25519_public(pub, b) != AIOS_OK || !eq(pub, bpub_exp, 32))
        why = "Bob's public key mismatch";
    else if (aios__x25519(k, a, bpub_exp) != AIOS_OK || !eq(k, k_exp, 32))
        why = "shared secret mismatch (Alice)";
    else if (aios__x25519(k, b, apub_exp) != AIOS_OK || !eq(k, k_exp, 32))
        why = "shared secret mismatch (Bob)";
    else if (aios__x25519(k, a, zero) != AIOS_E_AUTH)
        why = "a small-order peer key was accepted";
    aios__wipe(a, sizeof(a));
    aios__wipe(b, sizeof(b));
    aios__wipe(k, sizeof(k));
    return why;
}

typedef struct ecdsa_kat {
    aios__ec_curve curve;
    const char    *d, *q, *r, *s;
} ecdsa_kat;

/* RFC 6979 appendix A.2.5 (P-256) and A.2.6 (P-384), message "sample". */
static const char *run_ecdsa_kat(const ecdsa_kat *v)
{
    uint8_t d[48], q[97], raw[96], pub[97], der[AIOS__EC_DER_SIG_MAX], exp_der[AIOS__EC_DER_SIG_MAX];
    size_t n = aios__ec_scalar_len(v->curve), derlen = 0, explen, i;
    const char *why = NULL;
    static const uint8_t msg[] = "sample";

    unhex(d, sizeof(d), v->d);
    unhex(q, sizeof(q), v->q);
    unhex(raw, n, v->r);
    unhex(raw + n, n, v->s);
    /* The expected DER: r and s are both full-length with the top bit set
     * in these vectors, so each INTEGER carries one leading zero. */
    explen = 0;
    exp_der[explen++] = 0x30;
    exp_der[explen++] = (uint8_t)(2 * (n + 3));
    for (i = 0; i < 2; i++) {
        exp_der[explen++] = 0x02;
        exp_der[explen++] = (uint8_t)(n + 1);
        exp_der[explen++] = 0x00;
        memcpy(exp_der + explen, raw + i * n, n);
        explen += n;
    }
    if (!(raw[0] & 0x80) || !(raw[n] & 0x80))
        why = "bad vector";
    else if (aios__ecdsa_public(v->curve, d, pub) != AIOS_OK || !eq(pub, q, 2 * n + 1))
        why = "public key mismatch";
    else if (aios__ecdsa_sign_der(v->curve, der, sizeof(der), &derlen, msg, 6, d) != AIOS_OK ||
             derlen != explen || !eq(der, exp_der, explen))
        why = "deterministic signature mismatch";
    else if (aios__ecdsa_verify_der(v->curve, der, derlen, msg, 6, q, 2 * n + 1) != AIOS_OK)
        why = "own DER signature does not verify";
    else if (aios__ecdsa_verify_p1363(v->curve, raw, 2 * n, msg, 6, q, 2 * n + 1) != AIOS_OK)
        why = "the known r || s signature does not verify";
    else if (aios__ecdsa_verify_p1363(v->curve, raw, 2 * n, msg, 5, q, 2 * n + 1) != AIOS_E_AUTH)
        why = "a signature verifies for the wrong message";
    aios__wipe(d, sizeof(d));
    return why;
}

static const char *kat_ecdsa_p256(void)
{
    static const ecdsa_kat v = {
        AIOS__EC_P256,
        "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
        "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
        "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
        "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716",
        "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"
    };
    return run_ecdsa_kat(&v);
}

static const char *kat_ecdsa_p384(void)
{
    static const ecdsa_kat v = {
        AIOS__EC_P384,
        "6b9d3dad2e1b8c1c05b19875b6659f4de23c3b667bf297ba9aa47740787137d8"
        "96d5724e4c70a825f872c9ea60d2edf5",
        "04ec3a4e415b4e19a4568618029f427fa5da9a8bc4ae92e02e06aae5286b300c64"
        "def8f0ea9055866064a254515480bc138015d9b72d7d57244ea8ef9ac0c6218967"
        "08a59367f9dfb9f54ca84b3f1c9db1288b231c3ae0d4fe7344fd2533264720",
        "94edbb92a5ecb8aad4736e56c691916b3f88140666ce9fa73d64c4ea95ad133c"
        "81a648152e44acf96e36dd1e80fabe46",
        "99ef4aeb15f178cea1fe40db2603138f130e740a19624526203b6351d0a3a94f"
        "a329c145786e679e7b82c71a38628ac8"
    };
    return run_ecdsa_kat(&v);
}

static const char *kat_base64(void)
{
    /* RFC 4648 section 10, plus the URL-safe alphabet on 0xfb 0xff. */
    static const struct { const char *bin, *std, *nopad; } v[] = {
        { "f", "Zg==", "Zg" }, { "fo", "Zm8=", "Zm8" }, { "foo", "Zm9v", "Zm9v" },
        { "foobar", "Zm9vYmFy", "Zm9vYmFy" },
    };
    char enc[16];
    uint8_t dec[8];
    size_t i, n;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t len = strlen(v[i].bin);
        if (aios__base64_encode(enc, sizeof(enc), (const uint8_t *)v[i].bin, len,
                                AIOS__B64_STANDARD) != AIOS_OK || strcmp(enc, v[i].std) != 0)
            return "RFC 4648 encoding mismatch";
        if (aios__base64_encode(enc, sizeof(enc), (const uint8_t *)v[i].bin, len,
                                AIOS__B64_STANDARD_NOPAD) != AIOS_OK || strcmp(enc, v[i].nopad) != 0)
            return "unpadded encoding mismatch";
        if (aios__base64_decode(dec, sizeof(dec), &n, v[i].std, strlen(v[i].std),
                                AIOS__B64_STANDARD) != AIOS_OK || n != len || !eq(dec, v[i].bin, len))
            return "RFC 4648 decoding mismatch";
    }
    dec[0] = 0xfb;
    dec[1] = 0xff;
    if (aios__base64_encode(enc, sizeof(enc), dec, 2, AIOS__B64_URLSAFE_NOPAD) != AIOS_OK ||
        strcmp(enc, "-_8") != 0)
        return "URL-safe encoding mismatch";
    if (aios__base64_decode(dec, sizeof(dec), &n, "Zg=", 3, AIOS__B64_STANDARD) != AIOS_E_FORMAT)
        return "bad padding accepted";
    return NULL;
}

static const char *kat_hex(void)
{
    static const uint8_t bin[4] = { 0x00, 0x9f, 0xa0, 0xff };
    char enc[9];
    uint8_t dec[4];
    size_t n = 0;
    if (aios__hex_encode(enc, sizeof(enc), bin, 4) != AIOS_OK || strcmp(enc, "009fa0ff") != 0)
        return "encoding mismatch";
    if (aios__hex_decode(dec, sizeof(dec), &n, "009FA0ff", 8) != AIOS_OK || n != 4 ||
        !eq(dec, bin, 4))
        return "decoding mismatch";
    if (aios__hex_decode(dec, sizeof(dec), &n, "009g", 4) != AIOS_E_FORMAT)
        return "a bad digit was accepted";
    return NULL;
}

/* ============================================================== key wrap */

static const char *kat_aes_kw(void)
{
    /* RFC 3394 section 4.6: 256 bits of key data with a 256-bit KEK. */
    uint8_t kek[32], key[32], exp[40], out[40], back[32];
    size_t n = 0;
    const char *why = NULL;
    unhex(kek, sizeof(kek), "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    unhex(key, sizeof(key), "00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f");
    unhex(exp, sizeof(exp), "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326"
                            "cbc7f0e71a99f43bfb988b9b7a02dd21");
    if (aios__aes_kw_wrap(out, sizeof(out), &n, kek, 32, key, 32) != AIOS_OK || n != 40 ||
        !eq(out, exp, 40))
        why = "RFC 3394 4.6 wrap mismatch";
    else if (aios__aes_kw_unwrap(back, sizeof(back), &n, kek, 32, exp, 40) != AIOS_OK ||
             n != 32 || !eq(back, key, 32))
        why = "RFC 3394 4.6 unwrap mismatch";
    else {
        exp[0] ^= 0x01;
        if (aios__aes_kw_unwrap(back, sizeof(back), &n, kek, 32, exp, 40) != AIOS_E_AUTH)
            why = "an altered wrapped key was accepted";
        else if (!aios__ct_is_zero(back, sizeof(back)))
            why = "a failed unwrap left key bytes behind";
    }
    aios__wipe(back, sizeof(back));
    return why;
}

static const char *kat_aes_kwp(void)
{
    /* RFC 5649 section 6: both examples (20 and 7 bytes, 192-bit KEK). */
    static const struct { const char *key, *wrapped; } v[] = {
        { "c37b7e6492584340bed12207808941155068f738",
          "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a" },
        { "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f" },
    };
    uint8_t kek[24], key[20], exp[32], out[32], back[24];
    size_t i, n = 0, klen, wlen;
    const char *why = NULL;
    unhex(kek, sizeof(kek), "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
    for (i = 0; why == NULL && i < sizeof(v) / sizeof(v[0]); i++) {
        klen = unhex(key, sizeof(key), v[i].key);
        wlen = unhex(exp, sizeof(exp), v[i].wrapped);
        if (aios__aes_kwp_wrap(out, sizeof(out), &n, kek, 24, key, klen) != AIOS_OK ||
            n != wlen || !eq(out, exp, wlen))
            why = "RFC 5649 wrap mismatch";
        else if (aios__aes_kwp_unwrap(back, sizeof(back), &n, kek, 24, exp, wlen) != AIOS_OK ||
                 n != klen || !eq(back, key, klen))
            why = "RFC 5649 unwrap mismatch";
        else {
            exp[wlen - 1] ^= 0x80;
            if (aios__aes_kwp_unwrap(back, sizeof(back), &n, kek, 24, exp, wlen) != AIOS_E_AUTH)
                why = "an altered wrapped key was accepted";
            else if (!aios__ct_is_zero(back, sizeof(back)))
                why = "a failed unwrap left key bytes behind";
        }
    }
    aios__wipe(back, sizeof(back));
    return why;
}

/* =============================================================== AES-SIV */

static const char *kat_aes_siv(void)
{
    /* RFC 5297 appendix A.1, the deterministic example (AES-SIV-CMAC-256,
     * one associated data string). */
    uint8_t key[32], ad[24], pt[14], exp[30], out[30], back[14];
    aios__siv_ad a;
    size_t n = 0;
    const char *why = NULL;
    unhex(key, sizeof(key), "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    unhex(ad, sizeof(ad), "101112131415161718191a1b1c1d1e1f2021222324252627");
    unhex(pt, sizeof(pt), "112233445566778899aabbccddee");
    unhex(exp, sizeof(exp), "85632d07c6e8f37f950acd320a2ecc93"
                            "40c02b9690c4dc04daef7f6afe5c");
    a.p = ad;
    a.len = sizeof(ad);
    if (aios__aes_siv_seal(out, sizeof(out), &n, key, 32, &a, 1, pt, sizeof(pt)) != AIOS_OK ||
        n != sizeof(exp) || !eq(out, exp, sizeof(exp)))
        why = "RFC 5297 A.1 seal mismatch";
    else if (aios__aes_siv_open(back, sizeof(back), &n, key, 32, &a, 1, exp, sizeof(exp)) !=
                 AIOS_OK || n != sizeof(pt) || !eq(back, pt, sizeof(pt)))
        why = "RFC 5297 A.1 open mismatch";
    else {
        exp[sizeof(exp) - 1] ^= 0x01;
        if (aios__aes_siv_open(back, sizeof(back), &n, key, 32, &a, 1, exp, sizeof(exp)) !=
            AIOS_E_AUTH)
            why = "an altered ciphertext was accepted";
        else if (!aios__ct_is_zero(back, sizeof(back)))
            why = "a failed open left plaintext behind";
    }
    aios__wipe(back, sizeof(back));
    return why;
}

/* ================================================================== HPKE */

static const char *kat_hpke_x25519(void)
{
    /* RFC 9180 A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
     * ChaCha20Poly1305, mode_base, sequence number 0. */
    uint8_t info[20], skEm[32], pkRm[32], skRm[32], enc_exp[32], ss_exp[32], key_exp[32];
    uint8_t nonce_exp[12], pt[29], aad[7], ct_exp[45];
    uint8_t ss[32], enc[32], key[32], nonce[12], ct[45], back[29];
    const char *why = NULL;
    unhex(info, sizeof(info), "4f6465206f6e2061204772656369616e2055726e");
    unhex(skEm, sizeof(skEm), "f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600");
    unhex(pkRm, sizeof(pkRm), "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a");
    unhex(skRm, sizeof(skRm), "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb");
    unhex(enc_exp, sizeof(enc_exp),
          "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a");
    unhex(ss_exp, sizeof(ss_exp),
          "0bbe78490412b4bbea4812666f7916932b828bba79942424abb65244930d69a7");
    unhex(key_exp, sizeof(key_exp),
          "ad2744de8e17f4ebba575b3f5f5a8fa1f69c2a07f6e7500bc60ca6e3e3ec1c91");
    unhex(nonce_exp, sizeof(nonce_exp), "5c4d98150661b848853b547f");
    unhex(pt, sizeof(pt), "4265617574792069732074727574682c20747275746820626561757479");
    unhex(aad, sizeof(aad), "436f756e742d30");
    unhex(ct_exp, sizeof(ct_exp), "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db"
                                  "21993c62ce81883d2dd1b51a28");
    if (aios__hpke_encap_derand(ss, enc, pkRm, skEm) != AIOS_OK || !eq(enc, enc_exp, 32) ||
        !eq(ss, ss_exp, 32))
        why = "RFC 9180 A.2.1 encap mismatch";
    else if (aios__hpke_decap(ss, enc_exp, skRm) != AIOS_OK || !eq(ss, ss_exp, 32))
        why = "RFC 9180 A.2.1 decap mismatch";
    else if (aios__hpke_key_schedule_base(key, nonce, ss_exp, info, sizeof(info)) != AIOS_OK ||
             !eq(key, key_exp, 32) || !eq(nonce, nonce_exp, 12))
        why = "RFC 9180 A.2.1 key schedule mismatch";
    else if (aios__hpke_seal_base_derand(enc, ct, pkRm, info, sizeof(info), aad, sizeof(aad),
                                         pt, sizeof(pt), skEm) != AIOS_OK ||
             !eq(enc, enc_exp, 32) || !eq(ct, ct_exp, sizeof(ct)))
        why = "RFC 9180 A.2.1 seal mismatch";
    else if (aios__hpke_open_base(back, enc_exp, skRm, info, sizeof(info), aad, sizeof(aad),
                                  ct_exp, sizeof(ct_exp)) != AIOS_OK || !eq(back, pt, sizeof(pt)))
        why = "RFC 9180 A.2.1 open mismatch";
    else {
        ct_exp[0] ^= 0x01;
        if (aios__hpke_open_base(back, enc_exp, skRm, info, sizeof(info), aad, sizeof(aad),
                                 ct_exp, sizeof(ct_exp)) != AIOS_E_AUTH)
            why = "an altered ciphertext was accepted";
        else if (!aios__ct_is_zero(back, sizeof(back)))
            why = "a failed open left plaintext behind";
    }
    aios__wipe(skEm, sizeof(skEm));
    aios__wipe(skRm, sizeof(skRm));
    aios__wipe(ss, sizeof(ss));
    aios__wipe(key, sizeof(key));
    aios__wipe(back, sizeof(back));
    return why;
}

/* ================================================================ runner */

typedef struct selftest_run {
    aios_selftest_cb cb;
    void            *payload;
    const char      *first_name;   /* first failure, if any */
    const char      *first_why;
    int              stopped;      /* what cb returned to stop the run */
} selftest_run;

static void run_one(selftest_run *run, const char *name, kat_fn fn)
{
    const char *why;
    int status;
    if (run->stopped != AIOS_OK)
        return;
    why = fn();
    status = why == NULL ? AIOS_OK : AIOS_E_SELFTEST;
    if (why != NULL && run->first_name == NULL) {
        run->first_name = name;
        run->first_why = why;
    }
    if (run->cb != NULL)
        run->stopped = run->cb(name, status, run->payload);
}

int aios__crypto_selftest(int full, aios_selftest_cb cb, void *payload)
{
    selftest_run run;
    char saved_msg[AIOS__ERROR_MESSAGE_MAX];
    int saved_status = aios_last_error_status();

    /* The negative checks record errors; a passing self-test must leave
     * the caller's error record as it found it. */
    if (saved_status != AIOS_OK) {
        strncpy(saved_msg, aios_last_error_message(), sizeof(saved_msg) - 1);
        saved_msg[sizeof(saved_msg) - 1] = '\0';
    } else {
        saved_msg[0] = '\0';
    }

    memset(&run, 0, sizeof(run));
    run.cb = cb;
    run.payload = payload;

    run_one(&run, "sha256", kat_sha256);
    run_one(&run, "sha384", kat_sha384);
    run_one(&run, "sha512", kat_sha512);
    run_one(&run, "hmac-sha256", kat_hmac_sha256);
    run_one(&run, "hkdf-sha256", kat_hkdf_sha256);
    if (aios__aead_available(AIOS__AEAD_AES256GCM))
        run_one(&run, "aead-aes256gcm", kat_aes256gcm);
    run_one(&run, "aead-chacha20poly1305", kat_chacha20poly1305);
    run_one(&run, "aead-xchacha20poly1305", kat_xchacha20poly1305);
    if (full) {
        run_one(&run, "hmac-sha512", kat_hmac_sha512);
        run_one(&run, "blake2b", kat_blake2b);
        run_one(&run, "argon2id", kat_argon2id);
        run_one(&run, "ed25519", kat_ed25519);
        run_one(&run, "x25519", kat_x25519);
        run_one(&run, "ecdsa-p256", kat_ecdsa_p256);
        run_one(&run, "ecdsa-p384", kat_ecdsa_p384);
        run_one(&run, "base64", kat_base64);
        run_one(&run, "hex", kat_hex);
        run_one(&run, "aes-kw", kat_aes_kw);
        run_one(&run, "aes-kwp", kat_aes_kwp);
        run_one(&run, "aes-siv", kat_aes_siv);
        run_one(&run, "hpke-x25519", kat_hpke_x25519);
    }

    if (run.stopped != AIOS_OK)
        return aios__selftest_stopped(run.stopped);
    if (run.first_name != NULL)
        return aios__fail(AIOS_E_SELFTEST, "self-test %s: %s", run.first_name, run.first_why);
    if (saved_status != AIOS_OK)
        (void)aios__fail(saved_status, "%s", saved_msg);
    else
        aios_error_clear();
    return AIOS_OK;
}
