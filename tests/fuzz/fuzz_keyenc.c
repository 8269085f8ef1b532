/*
 * Fuzz the key decoders (SubjectPublicKeyInfo; PKCS#8 and SEC1; DER and
 * PEM) with arbitrary bytes, each input decoded as both kinds.
 * Anything gives AIOS_OK, AIOS_E_FORMAT or AIOS_E_UNSUPPORTED; a failed
 * private decode leaves no byte in the output; what decodes re-encodes
 * (DER and PEM) to a canonical form that decodes to the same key and
 * re-encodes to the same bytes, and a decoded private key yields its
 * public key.
 */
#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int zeroed(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

static void check_rc(int rc, size_t size)
{
    if (rc == AIOS_OK || rc == AIOS_E_FORMAT || rc == AIOS_E_UNSUPPORTED)
        return;
    if (rc == AIOS_E_LIMIT && size > AIOS__KEYENC_INPUT_MAX)
        return;
    abort();
}

static void public_round_trip(int alg, const uint8_t *pub, size_t len)
{
    uint8_t der[AIOS__SPKI_DER_MAX], der2[AIOS__SPKI_DER_MAX], back[AIOS__KEYENC_PUB_MAX];
    char pem[AIOS__SPKI_PEM_MAX];
    size_t n = 0, n2 = 0, m = 0;
    int alg2 = 0;

    if (aios__keyenc_pub_len((aios__keyenc_alg)alg) != len)
        abort();
    if (aios__spki_encode_der(der, sizeof(der), &n, (aios__keyenc_alg)alg, pub, len) != AIOS_OK ||
        aios__spki_decode(der, n, &alg2, back, sizeof(back), &m) != AIOS_OK ||
        alg2 != alg || m != len || memcmp(back, pub, len) != 0)
        abort();
    if (aios__spki_encode_der(der2, sizeof(der2), &n2, (aios__keyenc_alg)alg2, back, m) != AIOS_OK ||
        n2 != n || memcmp(der, der2, n) != 0)
        abort();
    if (aios__spki_encode_pem(pem, sizeof(pem), &n, (aios__keyenc_alg)alg, pub, len) != AIOS_OK ||
        aios__spki_decode((const uint8_t *)pem, n, &alg2, back, sizeof(back), &m) != AIOS_OK ||
        alg2 != alg || m != len || memcmp(back, pub, len) != 0)
        abort();
}

static void private_round_trip(int alg, const uint8_t *priv, size_t len)
{
    uint8_t der[AIOS__PKCS8_DER_MAX], der2[AIOS__PKCS8_DER_MAX], back[AIOS__KEYENC_PRIV_MAX];
    uint8_t pub[AIOS__KEYENC_PUB_MAX];
    char pem[AIOS__PKCS8_PEM_MAX];
    size_t n = 0, n2 = 0, m = 0, publen = 0;
    int alg2 = 0;

    if (aios__keyenc_priv_len((aios__keyenc_alg)alg) != len)
        abort();
    if (aios__keyenc_public((aios__keyenc_alg)alg, priv, len, pub, sizeof(pub), &publen) != AIOS_OK)
        abort();
    public_round_trip(alg, pub, publen);
    if (aios__pkcs8_encode_der(der, sizeof(der), &n, (aios__keyenc_alg)alg, priv, len) != AIOS_OK ||
        aios__pkcs8_decode(der, n, &alg2, back, sizeof(back), &m) != AIOS_OK ||
        alg2 != alg || m != len || memcmp(back, priv, len) != 0)
        abort();
    if (aios__pkcs8_encode_der(der2, sizeof(der2), &n2, (aios__keyenc_alg)alg2, back, m) != AIOS_OK ||
        n2 != n || memcmp(der, der2, n) != 0)
        abort();
    if (aios__pkcs8_encode_pem(pem, sizeof(pem), &n, (aios__keyenc_alg)alg, priv, len) != AIOS_OK ||
        aios__pkcs8_decode((const uint8_t *)pem, n, &alg2, back, sizeof(back), &m) != AIOS_OK ||
        alg2 != alg || m != len || memcmp(back, priv, len) != 0)
        abort();
    aios__wipe(back, sizeof(back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t pub[AIOS__KEYENC_PUB_MAX], priv[AIOS__KEYENC_PRIV_MAX];
    size_t n = 0;
    int alg = 0, rc;

    if (aios_init() != AIOS_OK)
        abort();

    rc = aios__spki_decode(data, size, &alg, pub, sizeof(pub), &n);
    check_rc(rc, size);
    if (rc == AIOS_OK)
        public_round_trip(alg, pub, n);
    else if (alg != 0 || n != 0)
        abort();

    memset(priv, 0xa5, sizeof(priv));
    rc = aios__pkcs8_decode(data, size, &alg, priv, sizeof(priv), &n);
    check_rc(rc, size);
    if (rc == AIOS_OK)
        private_round_trip(alg, priv, n);
    else if (alg != 0 || n != 0 || !zeroed(priv, sizeof(priv)))
        abort();
    aios__wipe(priv, sizeof(priv));
    return 0;
}
