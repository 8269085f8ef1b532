/*
 * Key encodings of the crypto seam: SubjectPublicKeyInfo, PKCS#8 and SEC1,
 * DER and PEM, for Ed25519, X25519 and ECDSA P-256, P-384 and P-521.
 *
 * The fixtures were generated once with the OpenSSL 3.0 command line and
 * pasted here (they are test keys, used for nothing else):
 *   openssl genpkey -algorithm ed25519 | x25519 | ed448 | x448
 *   openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:1024
 *   openssl ecparam -name prime256v1 | secp384r1 -genkey      (the SEC1 files)
 *   openssl pkcs8 -topk8 -nocrypt -in <sec1>                 (the PKCS#8 forms)
 *   openssl pkey -in <key> -pubout                           (every PUBLIC KEY)
 *   openssl ec -in <sec1> -pubout -conv_form compressed
 *   openssl ec -in <sec1> -pubout -param_enc explicit
 *   openssl ec -in <sec1> -aes128                            (Proc-Type PEM)
 *   openssl ecparam -name secp521r1 | secp256k1 -genkey -noout | openssl pkey -pubout / pkcs8
 *   openssl pkcs8 -topk8 -v2 aes-128-cbc -in <ed25519>       (encrypted PKCS#8)
 *   openssl rsa -traditional                                 (RSA PRIVATE KEY)
 * RFC8410_PRIV is RFC 8410 section 10.3's example (OneAsymmetricKey v2 with
 * an attribute and the public key of section 10.1).
 *
 * Checked: our decoding gives the same key as OpenSSL's -pubout, our
 * encoding of each key is byte-identical to OpenSSL's, every other form
 * (SEC1 with and without its EC PARAMETERS block, DER, CRLF) decodes to the
 * same key, and malformed or foreign input is refused with the right
 * status and nothing left in the output.
 */
#include "test_crypto_util.h"

static const char ED25519_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIBU2D61V7LSt6PVdNVqvIUsgJUUtbOBg+rWnO1a9Fiwf\n"
    "-----END PRIVATE KEY-----\n";

static const char ED25519_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAgd8Tot0Ril3h9WsdxNWRxcmHJGUn8/1sr0oL04VpIYc=\n"
    "-----END PUBLIC KEY-----\n";

static const char X25519_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VuBCIEIIDsSy54JMnO2BecSOxbJb1ajaiOfofbAcItBbL+uk5s\n"
    "-----END PRIVATE KEY-----\n";

static const char X25519_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VuAyEA7X9RKGF8x9B9fJHNxPHSwXfydvkK63IuOL+al8BdQHc=\n"
    "-----END PUBLIC KEY-----\n";

static const char P256_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgYthFj+eXXOOJ+6kc\n"
    "Ly7pGGoAPQsCn7Tz4IdaG6Vv3pahRANCAASS98uzIAG45gCQWqP7W4G+e9M4AJ8U\n"
    "9XSsRL/Kv0LfOsX+1Gw7MJiGNFB+2b9PiBGbrhsCGAy2Uo+NRynZLK1v\n"
    "-----END PRIVATE KEY-----\n";

static const char P256_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkvfLsyABuOYAkFqj+1uBvnvTOACf\n"
    "FPV0rES/yr9C3zrF/tRsOzCYhjRQftm/T4gRm64bAhgMtlKPjUcp2Sytbw==\n"
    "-----END PUBLIC KEY-----\n";

static const char P256_SEC1[] =
    "-----BEGIN EC PARAMETERS-----\n"
    "BggqhkjOPQMBBw==\n"
    "-----END EC PARAMETERS-----\n"
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIGLYRY/nl1zjifupHC8u6RhqAD0LAp+08+CHWhulb96WoAoGCCqGSM49\n"
    "AwEHoUQDQgAEkvfLsyABuOYAkFqj+1uBvnvTOACfFPV0rES/yr9C3zrF/tRsOzCY\n"
    "hjRQftm/T4gRm64bAhgMtlKPjUcp2Sytbw==\n"
    "-----END EC PRIVATE KEY-----\n";

static const char P384_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCFAxUi0BggbTPT7S+l\n"
    "BymnjGdXUovqVykavARur+8YZwJCkr5/3BO86w55gAKD9dyhZANiAASCCKmZNwE+\n"
    "9vqTJ0/e/1X8Co/Ak1jM4fx0EacvHg7WoWJyKk5xA5i8APEGjbwFDmAKGKE+kWWJ\n"
    "XHcKBlrXy8XmBN7G26UikmwKHFvuCfTsJh6c0MSxxKRkfsJwOdGi+u4=\n"
    "-----END PRIVATE KEY-----\n";

static const char P384_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEggipmTcBPvb6kydP3v9V/AqPwJNYzOH8\n"
    "dBGnLx4O1qFicipOcQOYvADxBo28BQ5gChihPpFliVx3CgZa18vF5gTextulIpJs\n"
    "Chxb7gn07CYenNDEscSkZH7CcDnRovru\n"
    "-----END PUBLIC KEY-----\n";

static const char P384_SEC1[] =
    "-----BEGIN EC PARAMETERS-----\n"
    "BgUrgQQAIg==\n"
    "-----END EC PARAMETERS-----\n"
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MIGkAgEBBDCFAxUi0BggbTPT7S+lBymnjGdXUovqVykavARur+8YZwJCkr5/3BO8\n"
    "6w55gAKD9dygBwYFK4EEACKhZANiAASCCKmZNwE+9vqTJ0/e/1X8Co/Ak1jM4fx0\n"
    "EacvHg7WoWJyKk5xA5i8APEGjbwFDmAKGKE+kWWJXHcKBlrXy8XmBN7G26UikmwK\n"
    "HFvuCfTsJh6c0MSxxKRkfsJwOdGi+u4=\n"
    "-----END EC PRIVATE KEY-----\n";

static const char P256_PUB_COMPRESSED[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADkvfLsyABuOYAkFqj+1uBvnvTOACf\n"
    "FPV0rES/yr9C3zo=\n"
    "-----END PUBLIC KEY-----\n";

static const char P256_PUB_EXPLICIT[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBSzCCAQMGByqGSM49AgEwgfcCAQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAA\n"
    "AAAAAAAAAAAA////////////////MFsEIP////8AAAABAAAAAAAAAAAAAAAA////\n"
    "///////////8BCBaxjXYqjqT57PrvVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSd\n"
    "NgiG5wSTamZ44ROdJreBn36QBEEEaxfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5\n"
    "RdiYwpZP40Li/hp/m47n60p8D54WK84zV2sxXs7LtkBoN79R9QIhAP////8AAAAA\n"
    "//////////+85vqtpxeehPO5ysL8YyVRAgEBA0IABJL3y7MgAbjmAJBao/tbgb57\n"
    "0zgAnxT1dKxEv8q/Qt86xf7UbDswmIY0UH7Zv0+IEZuuGwIYDLZSj41HKdksrW8=\n"
    "-----END PUBLIC KEY-----\n";

static const char P256_SEC1_ENCRYPTED[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "Proc-Type: 4,ENCRYPTED\n"
    "DEK-Info: AES-128-CBC,03102CC2FCA37EFC8D014D343DE5F4E4\n"
    "\n"
    "Smtic2LNNjD3YuzzopUhcmQ899iphbARtHjNUUDLhEy3UA08OxT+MYX66mZ5Gc9s\n"
    "uzc6agBZgq86mTyYFxaReqvrqK7ayl2sYA9u93ZbZrvJBuhjT36267tnWw2MXYLE\n"
    "alvxkSCQI3LX88hwkXzuC0xIZwmsuSEluUwC3jS90V4=\n"
    "-----END EC PRIVATE KEY-----\n";

static const char RSA_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAMvssVl9KjDKlZeV\n"
    "Yyslwk62osYzWzGl1kQeS6G+kbahoGchjpFgsgJRj/DlBGw0VlALx43dOiHwagqi\n"
    "Gb7uX0i/SfNfHCihVGHZgt9vuxkEYdvgfyObEPjpNrIh4wc/S/Qy7bLaM+ecKMlw\n"
    "bznlKe582llinXz0lg0XCR5WWsf3AgMBAAECgYEAgsfDXW7mFfB2S4ak2NEYcj6y\n"
    "2YWqIIcIiRscyhhbftLc+gcNVbK7trz0ITvewD44dJF5Y0PTulxixXr8I/Tf6bSI\n"
    "gVEYwJlxo7HPrVEF1DgZz06EkIf9/igoF1yxscprwihi7/heReg1Ph3Bv9OOhkxb\n"
    "QsXZoJ56Fy0vJblidpECQQDqrbMIyE6bEIlkQoQF5F5dMMMD+woQDjMJ7+6EqW11\n"
    "jstHkKcyS8eJmkI0azyZPjDj0J2yUcespe1Qh4jPsGX9AkEA3nOy+FteolMEYGyk\n"
    "pWBWzKzIQ8gdzaE4ap9KwQVTZqrSn3Chs/o2qrAchzbpa44G8FwTOFn+lx19vOSO\n"
    "M5jOAwJAGUm6XxnmjoMLqwgX3eKr4HLesNEeVniRO2LlWto+90n50a5etebAi61Z\n"
    "sPhVQVYYQpQ6SfrR/2Kp3eGc9nRVqQJBALdPFjrsaCZRTLj8rgyNP9m3w+t/G3gY\n"
    "k3nhO+OlNN3UhG3YjZfW53duWoPd7ymvRu6IoVn9Zvs11Sh0Gu5Py+sCQFtF9cMM\n"
    "j4kH1HJP8ESfoLJMTJRCC4Ew6ICeal6Svhg9iVW/IteArB9VnQ4Tpp4JPNX+G2uJ\n"
    "b6I01ZGFLw6oqlY=\n"
    "-----END PRIVATE KEY-----\n";

static const char RSA_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDL7LFZfSowypWXlWMrJcJOtqLG\n"
    "M1sxpdZEHkuhvpG2oaBnIY6RYLICUY/w5QRsNFZQC8eN3Toh8GoKohm+7l9Iv0nz\n"
    "XxwooVRh2YLfb7sZBGHb4H8jmxD46TayIeMHP0v0Mu2y2jPnnCjJcG855SnufNpZ\n"
    "Yp189JYNFwkeVlrH9wIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char RSA_TRADITIONAL[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIICXQIBAAKBgQDL7LFZfSowypWXlWMrJcJOtqLGM1sxpdZEHkuhvpG2oaBnIY6R\n"
    "YLICUY/w5QRsNFZQC8eN3Toh8GoKohm+7l9Iv0nzXxwooVRh2YLfb7sZBGHb4H8j\n"
    "mxD46TayIeMHP0v0Mu2y2jPnnCjJcG855SnufNpZYp189JYNFwkeVlrH9wIDAQAB\n"
    "AoGBAILHw11u5hXwdkuGpNjRGHI+stmFqiCHCIkbHMoYW37S3PoHDVWyu7a89CE7\n"
    "3sA+OHSReWND07pcYsV6/CP03+m0iIFRGMCZcaOxz61RBdQ4Gc9OhJCH/f4oKBdc\n"
    "sbHKa8IoYu/4XkXoNT4dwb/TjoZMW0LF2aCeehctLyW5YnaRAkEA6q2zCMhOmxCJ\n"
    "ZEKEBeReXTDDA/sKEA4zCe/uhKltdY7LR5CnMkvHiZpCNGs8mT4w49CdslHHrKXt\n"
    "UIeIz7Bl/QJBAN5zsvhbXqJTBGBspKVgVsysyEPIHc2hOGqfSsEFU2aq0p9wobP6\n"
    "NqqwHIc26WuOBvBcEzhZ/pcdfbzkjjOYzgMCQBlJul8Z5o6DC6sIF93iq+By3rDR\n"
    "HlZ4kTti5VraPvdJ+dGuXrXmwIutWbD4VUFWGEKUOkn60f9iqd3hnPZ0VakCQQC3\n"
    "TxY67GgmUUy4/K4MjT/Zt8Prfxt4GJN54TvjpTTd1IRt2I2X1ud3blqD3e8pr0bu\n"
    "iKFZ/Wb7NdUodBruT8vrAkBbRfXDDI+JB9RyT/BEn6CyTEyUQguBMOiAnmpekr4Y\n"
    "PYlVvyLXgKwfVZ0OE6aeCTzV/htriW+iNNWRhS8OqKpW\n"
    "-----END RSA PRIVATE KEY-----\n";

static const char ED448_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MEcCAQAwBQYDK2VxBDsEObPf7YEY34j8p1CeYFDtTelmcEDQSrt8Uq0k1vJjosdQ\n"
    "Bjj+OVmuz1Aj7LS/t021U7Cav/IseBxR2g==\n"
    "-----END PRIVATE KEY-----\n";

static const char ED448_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MEMwBQYDK2VxAzoA4RB1zE9NkML6TVAbuUbwqbGWCE7pZy1HXFlQ6+DBQ/631Lql\n"
    "dLiRLWSc9MBj0iP1EyRC8rSZ6J0A\n"
    "-----END PUBLIC KEY-----\n";

static const char X448_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MEYCAQAwBQYDK2VvBDoEOAClWr6/omCYZmhv5ZuVALLadWoGLpA6j9rl70tFCZjD\n"
    "WyapvrJBm4vWXCGthu0r8Yw/dS4K/pPg\n"
    "-----END PRIVATE KEY-----\n";

static const char P521_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQARkhNBWcN2uQ+j33srU3Z0zO/f0GB\n"
    "MBxdfLRklHZ/KJRk094shBEk2UV7bQDpZNRwfCDLd1Eo+fk1P0cr5/bQ578BeKoW\n"
    "Lyc7xOnFJ4Q5jIG0FPUKu0AN/4CJt+77mkLO1neO/ga64kr3swB01rjZE7TjICRt\n"
    "OAB+60DVd56nSFVbr8Y=\n"
    "-----END PUBLIC KEY-----\n";

static const char P521_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIAlELOkO0DU2xfMfBL\n"
    "pnGREM+dke/G89occ8HWhvEBwKtfusiqJsKbkh0MEq03+iRHvgXvht03ZAsCSoGt\n"
    "QB/nyVGhgYkDgYYABADOlLuivWjmJBJQJypQQOmmH9I50UbppOCG0FAqBHo8DbOw\n"
    "z14ay3ssukGtwJRNZR1LyvMkz1LP6BshTFCjnZcSlABK40kwaNf2LVvIh/7EBEyU\n"
    "cNg+EaqAaLiKnjiMdPktmcIWjBp0y1wV3wSPvzESEcqkE3CCzOc49hap/JTRgKf7\n"
    "Ww==\n"
    "-----END PRIVATE KEY-----\n";

/* The public key of P521_PRIV (`openssl pkey -pubout`). */
static const char P521_PRIV_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQAzpS7or1o5iQSUCcqUEDpph/SOdFG\n"
    "6aTghtBQKgR6PA2zsM9eGst7LLpBrcCUTWUdS8rzJM9Sz+gbIUxQo52XEpQASuNJ\n"
    "MGjX9i1byIf+xARMlHDYPhGqgGi4ip44jHT5LZnCFowadMtcFd8Ej78xEhHKpBNw\n"
    "gsznOPYWqfyU0YCn+1s=\n"
    "-----END PUBLIC KEY-----\n";

/* `openssl ecparam -name secp521r1 -genkey -noout`: SEC1, the curve in [0]. */
static const char P521_SEC1[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MIHcAgEBBEIAlELOkO0DU2xfMfBLpnGREM+dke/G89occ8HWhvEBwKtfusiqJsKb\n"
    "kh0MEq03+iRHvgXvht03ZAsCSoGtQB/nyVGgBwYFK4EEACOhgYkDgYYABADOlLui\n"
    "vWjmJBJQJypQQOmmH9I50UbppOCG0FAqBHo8DbOwz14ay3ssukGtwJRNZR1LyvMk\n"
    "z1LP6BshTFCjnZcSlABK40kwaNf2LVvIh/7EBEyUcNg+EaqAaLiKnjiMdPktmcIW\n"
    "jBp0y1wV3wSPvzESEcqkE3CCzOc49hap/JTRgKf7Ww==\n"
    "-----END EC PRIVATE KEY-----\n";

static const char SECP256K1_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQg8wP3gaxYFGoWInwjw/VT\n"
    "RhJnzBq8rD19orM+bLwwd86hRANCAAT/VdZJyqT/2fnibXBak/v6ohJCWM23vjy0\n"
    "0OUBqLNfEle7iDl/leccfFrT+JWPvrOSV5+NwuWbZg7yFBYQEMbX\n"
    "-----END PRIVATE KEY-----\n";

static const char ENCRYPTED_PRIV[] =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIGaMFYGCSqGSIb3DQEFDTBJMCgGCSqGSIb3DQEFDDAbBAgQgWb3aI1p/gIBATAM\n"
    "BggqhkiG9w0CCQUAMB0GCWCGSAFlAwQBAgQQq/dTQIqhv3VoR29q0lPW2gRAk9/Y\n"
    "j+t1bfzC4Ueoy1i1YM8CjEgxHyFRWJ/IbWPIBkJfeaSJvOosQVExJW9wnl4TTQDS\n"
    "BnKMR8txYQvNvRNx5Q==\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

static const char RFC8410_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MHICAQEwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
    "oB8wHQYKKoZIhvcNAQkJFDEPDA1DdXJkbGUgQ2hhaXJzgSEAGb9ECWmEzf6FQbrB\n"
    "Z9w7lshQhqowtrbLDFw4rXAxZuE=\n"
    "-----END PRIVATE KEY-----\n";

/* The P-256 base point (SEC 2), uncompressed. */
static const uint8_t P256_G[65] = {
    0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6,
    0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33,
    0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42,
    0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
    0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40,
    0x68, 0x37, 0xbf, 0x51, 0xf5,
};

/* ============================================================== helpers */

typedef struct fixture {
    aios__keyenc_alg alg;
    const char      *priv, *pub, *sec1;
} fixture;

static const fixture fixtures[] = {
    { AIOS__KEYENC_ED25519, ED25519_PRIV, ED25519_PUB, NULL },
    { AIOS__KEYENC_X25519, X25519_PRIV, X25519_PUB, NULL },
    { AIOS__KEYENC_P256, P256_PRIV, P256_PUB, P256_SEC1 },
    { AIOS__KEYENC_P384, P384_PRIV, P384_PUB, P384_SEC1 },
    { AIOS__KEYENC_P521, P521_PRIV, P521_PRIV_PUB, P521_SEC1 },
};
#define NFIX (sizeof(fixtures) / sizeof(fixtures[0]))

static const aios__keyenc_alg all_algs[] = {
    AIOS__KEYENC_ED25519, AIOS__KEYENC_X25519, AIOS__KEYENC_P256, AIOS__KEYENC_P384,
    AIOS__KEYENC_P521
};

static const uint8_t *U(const char *s)
{
    return (const uint8_t *)s;
}

/* The DER in the last PEM block of pem (our base64 decoder, whose own
 * tests are elsewhere); returns its length. */
static size_t pem_der(const char *pem, uint8_t *out, size_t cap)
{
    const char *b = NULL, *p = pem, *e;
    char *text = malloc(strlen(pem) + 1);
    size_t t = 0, n = 0;

    assert_non_null(text);
    while ((p = strstr(p, "-----BEGIN ")) != NULL)
        b = p++;
    assert_non_null(b);
    b = strchr(b, '\n') + 1;
    e = strstr(b, "-----END ");
    assert_non_null(e);
    for (p = b; p < e; p++)
        if (*p != '\n' && *p != '\r')
            text[t++] = *p;
    tu_assert_ok(aios__base64_decode(out, cap, &n, text, t, AIOS__B64_STANDARD));
    free(text);
    return n;
}

static int dec_pub(const uint8_t *in, size_t len, int *alg, uint8_t *pub, size_t *pub_len)
{
    return aios__spki_decode(in, len, alg, pub, AIOS__KEYENC_PUB_MAX, pub_len);
}

static int dec_priv(const uint8_t *in, size_t len, int *alg, uint8_t *priv, size_t *priv_len)
{
    return aios__pkcs8_decode(in, len, alg, priv, AIOS__KEYENC_PRIV_MAX, priv_len);
}

/* Decode as both kinds; rc must be one of the two statuses and nothing may
 * be left in the private output. */
static void expect_rejected(const uint8_t *in, size_t len, int status, int as_private)
{
    uint8_t out[AIOS__KEYENC_PUB_MAX];
    size_t n = 99;
    int alg = 99;

    memset(out, 0xaa, sizeof(out));
    if (as_private) {
        tu_assert_status(aios__pkcs8_decode(in, len, &alg, out, sizeof(out), &n), status);
        assert_true(tc_is_zero(out, sizeof(out)));
    } else {
        tu_assert_status(aios__spki_decode(in, len, &alg, out, sizeof(out), &n), status);
    }
    assert_int_equal(n, 0);
    assert_int_equal(alg, 0);
}

static void expect_rejected_str(const char *s, int status, int as_private)
{
    expect_rejected(U(s), strlen(s), status, as_private);
}

/* A copy of s with the first occurrence of from replaced by to. */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    char *r;
    assert_non_null(at);
    r = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
    assert_non_null(r);
    memcpy(r, s, (size_t)(at - s));
    strcpy(r + (at - s), to);
    strcat(r, at + strlen(from));
    return r;
}

/* ==================================================== OpenSSL interop */

static void test_openssl_fixtures(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < NFIX; i++) {
        const fixture *f = &fixtures[i];
        uint8_t priv[AIOS__KEYENC_PRIV_MAX], pub[AIOS__KEYENC_PUB_MAX], derived[AIOS__KEYENC_PUB_MAX];
        uint8_t der[512], enc[512], again[AIOS__KEYENC_PRIV_MAX];
        char pem[AIOS__PKCS8_PEM_MAX];
        size_t plen = 0, publen = 0, dlen = 0, n = 0, m = 0;
        int alg = 0, alg2 = 0;

        /* Decoding: the private key gives the public key OpenSSL wrote. */
        tu_assert_ok(dec_priv(U(f->priv), strlen(f->priv), &alg, priv, &plen));
        assert_int_equal(alg, f->alg);
        assert_int_equal(plen, aios__keyenc_priv_len(f->alg));
        tu_assert_ok(dec_pub(U(f->pub), strlen(f->pub), &alg2, pub, &publen));
        assert_int_equal(alg2, f->alg);
        assert_int_equal(publen, aios__keyenc_pub_len(f->alg));
        tu_assert_ok(aios__keyenc_public(f->alg, priv, plen, derived, sizeof(derived), &dlen));
        assert_int_equal(dlen, publen);
        assert_memory_equal(derived, pub, publen);

        /* Encoding: byte for byte what OpenSSL wrote, PEM and DER. */
        tu_assert_ok(aios__pkcs8_encode_pem(pem, sizeof(pem), &n, f->alg, priv, plen));
        assert_int_equal(n, strlen(f->priv));
        assert_string_equal(pem, f->priv);
        tu_assert_ok(aios__spki_encode_pem(pem, sizeof(pem), &n, f->alg, pub, publen));
        assert_int_equal(n, strlen(f->pub));
        assert_string_equal(pem, f->pub);

        n = pem_der(f->priv, der, sizeof(der));
        tu_assert_ok(aios__pkcs8_encode_der(enc, sizeof(enc), &m, f->alg, priv, plen));
        assert_int_equal(m, n);
        assert_memory_equal(enc, der, n);
        tu_assert_ok(dec_priv(der, n, &alg, again, &m));
        assert_int_equal(alg, f->alg);
        assert_memory_equal(again, priv, plen);

        n = pem_der(f->pub, der, sizeof(der));
        tu_assert_ok(aios__spki_encode_der(enc, sizeof(enc), &m, f->alg, pub, publen));
        assert_int_equal(m, n);
        assert_memory_equal(enc, der, n);
        tu_assert_ok(dec_pub(der, n, &alg, derived, &m));
        assert_memory_equal(derived, pub, publen);

        if (f->sec1 != NULL) {
            /* SEC1 as `openssl ecparam -genkey` writes it (EC PARAMETERS
             * first), the EC PRIVATE KEY block alone, its DER, and with
             * CRLF line ends: all the same key. */
            const char *block = strstr(f->sec1, "-----BEGIN EC PRIVATE KEY-----");
            char *crlf = malloc(2 * strlen(f->sec1) + 1);
            size_t k, c = 0;
            assert_non_null(block);
            assert_non_null(crlf);
            tu_assert_ok(dec_priv(U(f->sec1), strlen(f->sec1), &alg, again, &m));
            assert_int_equal(alg, f->alg);
            assert_memory_equal(again, priv, plen);
            tu_assert_ok(dec_priv(U(block), strlen(block), &alg, again, &m));
            assert_int_equal(alg, f->alg);
            assert_memory_equal(again, priv, plen);
            n = pem_der(f->sec1, der, sizeof(der));
            tu_assert_ok(dec_priv(der, n, &alg, again, &m));
            assert_int_equal(alg, f->alg);
            assert_memory_equal(again, priv, plen);
            for (k = 0; f->sec1[k] != '\0'; k++) {
                if (f->sec1[k] == '\n')
                    crlf[c++] = '\r';
                crlf[c++] = f->sec1[k];
            }
            tu_assert_ok(dec_priv(U(crlf), c, &alg, again, &m));
            assert_memory_equal(again, priv, plen);
            free(crlf);
        }
        aios__wipe(priv, sizeof(priv));
        aios__wipe(again, sizeof(again));
    }
}

static void test_rfc8410_example(void **state)
{
    uint8_t priv[32], der[256];
    size_t n = 0, len;
    int alg = 0;
    tc_bytes seed = tc_hex("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842");
    (void)state;

    /* v2, with an attribute (skipped) and the public key (checked). */
    tu_assert_ok(dec_priv(U(RFC8410_PRIV), strlen(RFC8410_PRIV), &alg, priv, &n));
    assert_int_equal(alg, AIOS__KEYENC_ED25519);
    assert_int_equal(n, 32);
    assert_memory_equal(priv, seed.p, 32);
    /* The same with a public key that is not this key's. */
    len = pem_der(RFC8410_PRIV, der, sizeof(der));
    der[len - 1] ^= 0x01;
    expect_rejected(der, len, AIOS_E_FORMAT, 1);
    assert_non_null(strstr(aios_last_error_message(), "does not match"));
    /* Version 0 may not carry a public key. */
    der[len - 1] ^= 0x01;
    der[4] = 0x00;
    expect_rejected(der, len, AIOS_E_FORMAT, 1);
    /* Version 2 does not exist. */
    der[4] = 0x02;
    expect_rejected(der, len, AIOS_E_FORMAT, 1);
    free(seed.p);
}

/* ========================================================= round trips */

static void random_key(aios__keyenc_alg alg, uint8_t *priv)
{
    uint8_t pk[AIOS__KEYENC_PUB_MAX], sk[AIOS__ED25519_SK_LEN];
    switch (alg) {
    case AIOS__KEYENC_ED25519:
        tu_assert_ok(aios__ed25519_keypair(pk, sk));
        memcpy(priv, sk, 32);    /* the seed half */
        break;
    case AIOS__KEYENC_X25519:
        tu_assert_ok(aios__x25519_keypair(pk, priv));
        break;
    case AIOS__KEYENC_P256:
        tu_assert_ok(aios__ecdsa_keypair(AIOS__EC_P256, priv, pk));
        break;
    case AIOS__KEYENC_P384:
        tu_assert_ok(aios__ecdsa_keypair(AIOS__EC_P384, priv, pk));
        break;
    case AIOS__KEYENC_P521:
        tu_assert_ok(aios__ecdsa_keypair(AIOS__EC_P521, priv, pk));
        break;
    }
    aios__wipe(sk, sizeof(sk));
}

static void test_round_trips(void **state)
{
    size_t a, i;
    (void)state;
    for (a = 0; a < sizeof(all_algs) / sizeof(all_algs[0]); a++) {
        aios__keyenc_alg alg = all_algs[a];
        size_t plen = aios__keyenc_priv_len(alg), publen = 0;
        for (i = 0; i < (tu_under_valgrind() ? 2u : 16u); i++) {
            uint8_t priv[AIOS__KEYENC_PRIV_MAX], pub[AIOS__KEYENC_PUB_MAX];
            uint8_t der[AIOS__PKCS8_DER_MAX], back[AIOS__KEYENC_PUB_MAX];
            char pem[AIOS__PKCS8_PEM_MAX];
            size_t n = 0, m = 0;
            int got = 0;

            random_key(alg, priv);
            tu_assert_ok(aios__keyenc_public(alg, priv, plen, pub, sizeof(pub), &publen));

            tu_assert_ok(aios__pkcs8_encode_der(der, sizeof(der), &n, alg, priv, plen));
            tu_assert_ok(dec_priv(der, n, &got, back, &m));
            assert_int_equal(got, alg);
            assert_int_equal(m, plen);
            assert_memory_equal(back, priv, plen);
            tu_assert_ok(aios__pkcs8_encode_pem(pem, sizeof(pem), &n, alg, priv, plen));
            assert_int_equal(n, strlen(pem));
            tu_assert_ok(dec_priv(U(pem), n, &got, back, &m));
            assert_int_equal(got, alg);
            assert_memory_equal(back, priv, plen);

            tu_assert_ok(aios__spki_encode_der(der, sizeof(der), &n, alg, pub, publen));
            tu_assert_ok(dec_pub(der, n, &got, back, &m));
            assert_int_equal(got, alg);
            assert_int_equal(m, publen);
            assert_memory_equal(back, pub, publen);
            tu_assert_ok(aios__spki_encode_pem(pem, sizeof(pem), &n, alg, pub, publen));
            tu_assert_ok(dec_pub(U(pem), n, &got, back, &m));
            assert_memory_equal(back, pub, publen);

            aios__wipe(priv, sizeof(priv));
            aios__wipe(back, sizeof(back));
        }
    }
}

/* The size constants are the P-521 sizes; short buffers report the need. */
static void test_sizes(void **state)
{
    uint8_t priv[48], pub[97], der[AIOS__PKCS8_DER_MAX], p521[AIOS__KEYENC_PUB_MAX];
    uint8_t priv521[AIOS__KEYENC_PRIV_MAX];
    char pem[AIOS__PKCS8_PEM_MAX];
    size_t n = 0, plen = 0, need, p521_len = 0;
    int alg = 0;
    (void)state;

    tu_assert_ok(dec_pub(U(P521_PUB), strlen(P521_PUB), &alg, p521, &p521_len));
    assert_int_equal(p521_len, AIOS__KEYENC_PUB_MAX);

    random_key(AIOS__KEYENC_P384, priv);
    tu_assert_ok(aios__keyenc_public(AIOS__KEYENC_P384, priv, 48, pub, sizeof(pub), &plen));
    tu_assert_ok(aios__pkcs8_encode_der(der, sizeof(der), &n, AIOS__KEYENC_P384, priv, 48));
    assert_int_equal(n, 185);
    tu_assert_ok(aios__pkcs8_encode_pem(pem, sizeof(pem), &n, AIOS__KEYENC_P384, priv, 48));
    assert_int_equal(n + 1, 307);
    random_key(AIOS__KEYENC_P521, priv521);
    assert_int_equal(aios__keyenc_priv_len(AIOS__KEYENC_P521), AIOS__KEYENC_PRIV_MAX);
    tu_assert_ok(aios__pkcs8_encode_der(der, sizeof(der), &n, AIOS__KEYENC_P521, priv521, 66));
    assert_int_equal(n, AIOS__PKCS8_DER_MAX);
    tu_assert_ok(aios__pkcs8_encode_pem(pem, sizeof(pem), &n, AIOS__KEYENC_P521, priv521, 66));
    assert_int_equal(n + 1, AIOS__PKCS8_PEM_MAX);
    tu_assert_ok(aios__spki_encode_der(der, sizeof(der), &n, AIOS__KEYENC_P384, pub, 97));
    assert_int_equal(n, 120);
    tu_assert_ok(aios__spki_encode_der(der, sizeof(der), &n, AIOS__KEYENC_P521, p521, p521_len));
    assert_int_equal(n, AIOS__SPKI_DER_MAX);
    tu_assert_ok(aios__spki_encode_pem(pem, sizeof(pem), &n, AIOS__KEYENC_P384, pub, 97));
    assert_int_equal(n + 1, 216);
    tu_assert_ok(aios__spki_encode_pem(pem, sizeof(pem), &n, AIOS__KEYENC_P521, p521, p521_len));
    assert_int_equal(n + 1, AIOS__SPKI_PEM_MAX);

    tu_assert_status(aios__pkcs8_encode_der(der, AIOS__PKCS8_DER_MAX - 1, &n,
                                            AIOS__KEYENC_P521, priv521, 66),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, AIOS__PKCS8_DER_MAX);
    tu_assert_status(aios__pkcs8_encode_pem(pem, AIOS__PKCS8_PEM_MAX - 1, &n,
                                            AIOS__KEYENC_P521, priv521, 66),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, AIOS__PKCS8_PEM_MAX);
    aios__wipe(priv521, sizeof(priv521));
    tu_assert_status(aios__spki_encode_pem(pem, AIOS__SPKI_PEM_MAX - 1, &n,
                                           AIOS__KEYENC_P521, p521, p521_len),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, AIOS__SPKI_PEM_MAX);
    tu_assert_status(aios__spki_encode_der(der, AIOS__SPKI_DER_MAX - 1, &n,
                                           AIOS__KEYENC_P521, p521, p521_len),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, AIOS__SPKI_DER_MAX);

    /* Decoders: a short output reports the size and leaves no key bytes. */
    tu_assert_ok(aios__pkcs8_encode_der(der, sizeof(der), &n, AIOS__KEYENC_P384, priv, 48));
    memset(pub, 0xaa, sizeof(pub));
    tu_assert_status(aios__pkcs8_decode(der, n, &alg, pub, 47, &need), AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(need, 48);
    assert_int_equal(alg, 0);
    assert_true(tc_is_zero(pub, 47));
    tu_assert_ok(aios__spki_encode_der(der, sizeof(der), &n, AIOS__KEYENC_P256,
                                       P256_G, sizeof(P256_G)));
    tu_assert_status(aios__spki_decode(der, n, &alg, pub, 64, &need), AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(need, 65);
    aios__wipe(priv, sizeof(priv));
}

/* P-521 public keys: OpenSSL's SPKI decodes to the 133-byte point and
 * re-encodes byte for byte (DER with long-form lengths); a point off the
 * curve or of the wrong size is refused.  P-521 private keys: OpenSSL's
 * PKCS#8 and SEC1 give the same 66-byte scalar, PKCS#8 re-encodes byte for
 * byte, and a scalar out of range is refused. */
static void test_p521_public(void **state)
{
    uint8_t pub[AIOS__KEYENC_PUB_MAX], der[AIOS__SPKI_DER_MAX], want[512], priv[66];
    char pem[AIOS__SPKI_PEM_MAX];
    size_t pub_len = 0, n = 0, wn;
    int alg = 0;
    (void)state;

    assert_string_equal(aios__keyenc_name(AIOS__KEYENC_P521), "p521");
    assert_int_equal(aios__keyenc_pub_len(AIOS__KEYENC_P521), 133);
    assert_int_equal(aios__keyenc_priv_len(AIOS__KEYENC_P521), 66);

    tu_assert_ok(dec_pub(U(P521_PUB), strlen(P521_PUB), &alg, pub, &pub_len));
    assert_int_equal(alg, AIOS__KEYENC_P521);
    assert_int_equal(pub_len, 133);
    assert_int_equal(pub[0], 0x04);
    wn = pem_der(P521_PUB, want, sizeof(want));
    assert_int_equal(wn, 158);
    assert_int_equal(want[1], 0x81);           /* long-form SEQUENCE length */
    tu_assert_ok(aios__spki_encode_der(der, sizeof(der), &n, AIOS__KEYENC_P521, pub, pub_len));
    assert_int_equal(n, wn);
    assert_memory_equal(der, want, wn);
    tu_assert_ok(aios__spki_encode_pem(pem, sizeof(pem), &n, AIOS__KEYENC_P521, pub, pub_len));
    assert_string_equal(pem, P521_PUB);
    /* DER in, same key out. */
    memset(der, 0, sizeof(der));
    tu_assert_ok(dec_pub(want, wn, &alg, der, &n));
    assert_int_equal(alg, AIOS__KEYENC_P521);
    assert_memory_equal(der, pub, 133);

    /* Off the curve; the wrong length for the curve; compressed. */
    want[wn - 1] ^= 0x01;
    expect_rejected(want, wn, AIOS_E_FORMAT, 0);
    want[wn - 1] ^= 0x01;
    pub[132] ^= 0x01;
    tu_assert_status(aios__spki_encode_der(der, sizeof(der), &n, AIOS__KEYENC_P521, pub, 133),
                     AIOS_E_FORMAT);
    pub[132] ^= 0x01;
    tu_assert_status(aios__spki_encode_der(der, sizeof(der), &n, AIOS__KEYENC_P521, pub, 97),
                     AIOS_E_FORMAT);
    pub[0] = 0x02;
    tu_assert_status(aios__spki_encode_der(der, sizeof(der), &n, AIOS__KEYENC_P521, pub, 67),
                     AIOS_E_UNSUPPORTED);
    pub[0] = 0x04;
    /* A P-384 point named P-521 (the curve OID swapped). */
    {
        uint8_t p384[512];
        size_t m = pem_der(P384_PUB, p384, sizeof(p384));
        /* secp384r1 (..00 22) -> secp521r1 (..00 23): the point no longer fits */
        for (size_t i = 0; i + 5 <= m; i++) {
            if (memcmp(p384 + i, "\x2b\x81\x04\x00\x22", 5) == 0) {
                p384[i + 4] = 0x23;
                break;
            }
        }
        expect_rejected(p384, m, AIOS_E_FORMAT, 0);
    }

    /* Private keys: PKCS#8 and SEC1, the same scalar; PKCS#8 as OpenSSL. */
    {
        uint8_t a[AIOS__KEYENC_PRIV_MAX], b[AIOS__KEYENC_PRIV_MAX];
        size_t an = 0, bn = 0;
        tu_assert_ok(dec_priv(U(P521_PRIV), strlen(P521_PRIV), &alg, a, &an));
        assert_int_equal(alg, AIOS__KEYENC_P521);
        assert_int_equal(an, 66);
        tu_assert_ok(dec_priv(U(P521_SEC1), strlen(P521_SEC1), &alg, b, &bn));
        assert_int_equal(alg, AIOS__KEYENC_P521);
        assert_int_equal(bn, 66);
        assert_memory_equal(a, b, 66);
        tu_assert_ok(aios__pkcs8_encode_pem((char *)want, sizeof(want), &n, AIOS__KEYENC_P521,
                                            a, 66));
        assert_string_equal((const char *)want, P521_PRIV);
        tu_assert_ok(aios__keyenc_public(AIOS__KEYENC_P521, a, 66, pub, sizeof(pub), &n));
        assert_int_equal(n, 133);
        tu_assert_ok(aios__spki_encode_pem(pem, sizeof(pem), &n, AIOS__KEYENC_P521, pub, 133));
        assert_string_equal(pem, P521_PRIV_PUB);
        /* 65 bytes (a P-521 scalar is 66) and a scalar >= n are refused */
        tu_assert_status(aios__pkcs8_encode_der(want, sizeof(want), &n, AIOS__KEYENC_P521, a, 65),
                         AIOS_E_INVALID_ARGUMENT);
        memset(priv, 0xff, sizeof(priv));
        tu_assert_status(aios__pkcs8_encode_der(want, sizeof(want), &n, AIOS__KEYENC_P521,
                                                priv, 66), AIOS_E_FORMAT);
        tu_assert_status(aios__keyenc_public(AIOS__KEYENC_P521, priv, 66, pub, sizeof(pub), &n),
                         AIOS_E_FORMAT);
        aios__wipe(a, sizeof(a));
        aios__wipe(b, sizeof(b));
    }
}

/* ============================================================= rejects */

static void test_reject_truncated(void **state)
{
    size_t i, k, n;
    uint8_t der[512];
    (void)state;
    for (i = 0; i < NFIX; i++) {
        const char *pems[3] = { fixtures[i].priv, fixtures[i].pub, fixtures[i].sec1 };
        for (k = 0; k < 3; k++) {
            size_t cut, len;
            int priv = k != 1;
            if (pems[k] == NULL)
                continue;
            n = pem_der(pems[k], der, sizeof(der));
            for (cut = 0; cut < n; cut++)
                expect_rejected(der, cut, AIOS_E_FORMAT, priv);
            /* PEM cut anywhere before the END line's closing dashes (only
             * the final newline may go). */
            len = strlen(pems[k]);
            for (cut = 0; cut + 1 < len; cut++)
                expect_rejected(U(pems[k]), cut, AIOS_E_FORMAT, priv);
        }
    }
}

static void test_reject_trailing(void **state)
{
    uint8_t der[512], pub[97], priv[48];
    size_t n, m = 0;
    int alg = 0;
    char *s;
    (void)state;

    n = pem_der(P256_PRIV, der, sizeof(der));
    der[n] = 0x00;
    expect_rejected(der, n + 1, AIOS_E_FORMAT, 1);
    assert_non_null(strstr(aios_last_error_message(), "unexpected bytes"));
    n = pem_der(ED25519_PUB, der, sizeof(der));
    der[n] = 0x30;
    expect_rejected(der, n + 1, AIOS_E_FORMAT, 0);
    /* Trailing bytes inside the outer SEQUENCE (its length grown). */
    n = pem_der(ED25519_PUB, der, sizeof(der));
    der[1]++;
    der[n] = 0x00;
    expect_rejected(der, n + 1, AIOS_E_FORMAT, 0);

    s = malloc(strlen(P256_PUB) + 8);
    assert_non_null(s);
    sprintf(s, "%sx", P256_PUB);
    expect_rejected_str(s, AIOS_E_FORMAT, 0);
    sprintf(s, "%s\n \t\r\n", P256_PUB);        /* whitespace is fine */
    tu_assert_ok(dec_pub(U(s), strlen(s), &alg, pub, &m));
    sprintf(s, "\n  %s", P256_PUB);
    tu_assert_ok(dec_pub(U(s), strlen(s), &alg, pub, &m));
    free(s);
    /* A second key after the first. */
    s = malloc(strlen(P256_PRIV) + strlen(P384_PRIV) + 1);
    assert_non_null(s);
    sprintf(s, "%s%s", P256_PRIV, P384_PRIV);
    expect_rejected_str(s, AIOS_E_FORMAT, 1);
    free(s);
    /* A NUL terminator counted in the length is trailing data too. */
    expect_rejected(U(P256_PRIV), strlen(P256_PRIV) + 1, AIOS_E_FORMAT, 1);
    tu_assert_ok(dec_priv(U(P256_PRIV), strlen(P256_PRIV), &alg, priv, &m));
    aios__wipe(priv, sizeof(priv));
}

static void test_reject_wrong_oid(void **state)
{
    uint8_t der[512];
    size_t n;
    (void)state;

    /* 1.3.101.112 -> 1.3.101.114: no such key algorithm. */
    n = pem_der(ED25519_PUB, der, sizeof(der));
    assert_int_equal(der[6], 0x2b);
    der[8] = 0x72;
    expect_rejected(der, n, AIOS_E_FORMAT, 0);
    assert_non_null(strstr(aios_last_error_message(), "unknown key algorithm OID 1.3.101.114"));
    n = pem_der(ED25519_PRIV, der, sizeof(der));
    assert_int_equal(der[9], 0x2b);
    der[11] = 0x72;
    expect_rejected(der, n, AIOS_E_FORMAT, 1);
    assert_non_null(strstr(aios_last_error_message(), "1.3.101.114"));
    /* A non-minimal OID sub-identifier. */
    n = pem_der(ED25519_PUB, der, sizeof(der));
    der[6] = 0x80;
    expect_rejected(der, n, AIOS_E_FORMAT, 0);
    /* X25519's OID on an Ed25519 private key still decodes (both are raw
     * 32-byte keys), but as X25519: the algorithm is what the OID says. */
    n = pem_der(ED25519_PRIV, der, sizeof(der));
    der[11] = 0x6e;
    {
        uint8_t priv[32];
        size_t m = 0;
        int alg = 0;
        tu_assert_ok(dec_priv(der, n, &alg, priv, &m));
        assert_int_equal(alg, AIOS__KEYENC_X25519);
        aios__wipe(priv, sizeof(priv));
    }
    /* prime256v1 -> 1.2.840.10045.3.1.8: a curve we do not have. */
    n = pem_der(P256_PUB, der, sizeof(der));
    assert_int_equal(der[22], 0x07);
    der[22] = 0x08;
    expect_rejected(der, n, AIOS_E_UNSUPPORTED, 0);
    assert_non_null(strstr(aios_last_error_message(), "1.2.840.10045.3.1.8"));
    /* Ed25519 with parameters (NULL) present. */
    {
        static const uint8_t with_null[] = {
            0x30, 0x2c, 0x30, 0x07, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x05, 0x00, 0x03, 0x21, 0x00,
            0x81, 0xdf, 0x13, 0xa2, 0xdd, 0x11, 0x8a, 0x5d, 0xe1, 0xf5, 0x6b, 0x1d, 0xc4, 0xd5,
            0x91, 0xc5, 0xc9, 0x87, 0x24, 0x65, 0x27, 0xf3, 0xfd, 0x6c, 0xaf, 0x4a, 0x0b, 0xd3,
            0x85, 0x69, 0x21, 0x87
        };
        expect_rejected(with_null, sizeof(with_null), AIOS_E_FORMAT, 0);
        assert_non_null(strstr(aios_last_error_message(), "must be absent"));
    }
}

static void test_reject_unsupported(void **state)
{
    static const struct { const char *pem; int as_private; } v[] = {
        { RSA_PUB, 0 }, { RSA_PRIV, 1 }, { RSA_TRADITIONAL, 1 }, { ED448_PUB, 0 },
        { ED448_PRIV, 1 }, { X448_PRIV, 1 }, { SECP256K1_PRIV, 1 },
        { ENCRYPTED_PRIV, 1 }, { P256_PUB_COMPRESSED, 0 }, { P256_PUB_EXPLICIT, 0 },
        { P256_SEC1_ENCRYPTED, 1 },
    };
    uint8_t der[1024];
    size_t i, n;
    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        expect_rejected_str(v[i].pem, AIOS_E_UNSUPPORTED, v[i].as_private);
        printf("  unsupported: %s\n", aios_last_error_message());
        /* The same in DER, except where PEM alone says what it is. */
        if (v[i].pem != RSA_TRADITIONAL && v[i].pem != P256_SEC1_ENCRYPTED) {
            n = pem_der(v[i].pem, der, sizeof(der));
            expect_rejected(der, n, AIOS_E_UNSUPPORTED, v[i].as_private);
        }
    }
    assert_non_null(strstr(aios_last_error_message(), "encrypted PEM"));
    expect_rejected_str(P256_PUB_COMPRESSED, AIOS_E_UNSUPPORTED, 0);
    assert_non_null(strstr(aios_last_error_message(), "compressed"));
    expect_rejected_str(RSA_PUB, AIOS_E_UNSUPPORTED, 0);
    assert_non_null(strstr(aios_last_error_message(), "RSA keys are not supported"));
}

static void test_reject_bad_base64(void **state)
{
    char *s;
    (void)state;
    s = replace(P256_PUB, "MFkw", "MF!w");
    expect_rejected_str(s, AIOS_E_FORMAT, 0);
    free(s);
    s = replace(ED25519_PUB, "IYc=", "IYc");          /* padding removed */
    expect_rejected_str(s, AIOS_E_FORMAT, 0);
    free(s);
    s = replace(ED25519_PUB, "IYc=", "IYc==");        /* too much */
    expect_rejected_str(s, AIOS_E_FORMAT, 0);
    free(s);
    s = replace(ED25519_PUB, "IYc=", "IYd=");         /* non-zero unused bits */
    expect_rejected_str(s, AIOS_E_FORMAT, 0);
    free(s);
    s = replace(P256_PRIV, "MIGHAgEA", "MIGH=gEA");   /* padding in the middle */
    expect_rejected_str(s, AIOS_E_FORMAT, 1);
    free(s);
    s = replace(P256_PRIV, "MIGHAgEA", "MIGHAgE\xc3\x81");   /* a byte >= 0x80 */
    expect_rejected_str(s, AIOS_E_FORMAT, 1);
    free(s);
    /* Boundaries: mismatched labels, no END line, headers, empty body. */
    s = replace(P256_PRIV, "-----END PRIVATE KEY-----", "-----END PUBLIC KEY-----");
    expect_rejected_str(s, AIOS_E_FORMAT, 1);
    free(s);
    s = replace(P256_PRIV, "-----END PRIVATE KEY-----", "");
    expect_rejected_str(s, AIOS_E_FORMAT, 1);
    free(s);
    s = replace(P256_PRIV, "-----BEGIN PRIVATE KEY-----\n", "-----BEGIN PRIVATE KEY-----\nComment: x\n");
    expect_rejected_str(s, AIOS_E_FORMAT, 1);
    free(s);
    expect_rejected_str("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n", AIOS_E_FORMAT, 0);
    expect_rejected_str("-----BEGIN PUBLIC KEY", AIOS_E_FORMAT, 0);
    expect_rejected_str("-----BEGIN -----\n", AIOS_E_FORMAT, 0);
    /* The wrong kind of block for the decoder. */
    expect_rejected_str(P256_PRIV, AIOS_E_FORMAT, 0);
    expect_rejected_str(P256_PUB, AIOS_E_FORMAT, 1);
    s = replace(P256_PUB, "PUBLIC KEY-----\n", "CERTIFICATE-----\n");
    expect_rejected_str(s, AIOS_E_FORMAT, 0);
    free(s);
}

static void test_reject_wrong_container(void **state)
{
    uint8_t der[512];
    size_t n;
    (void)state;
    n = pem_der(P256_PUB, der, sizeof(der));
    expect_rejected(der, n, AIOS_E_FORMAT, 1);
    n = pem_der(P256_PRIV, der, sizeof(der));
    expect_rejected(der, n, AIOS_E_FORMAT, 0);
    n = pem_der(P256_SEC1, der, sizeof(der));
    expect_rejected(der, n, AIOS_E_FORMAT, 0);
    /* A PKCS#8 inside an EC PRIVATE KEY block. */
    {
        char *s = replace(P256_PRIV, "BEGIN PRIVATE KEY", "BEGIN EC PRIVATE KEY");
        char *t = replace(s, "END PRIVATE KEY", "END EC PRIVATE KEY");
        expect_rejected_str(t, AIOS_E_FORMAT, 1);
        free(s);
        free(t);
    }
    expect_rejected(U(""), 0, AIOS_E_FORMAT, 0);
    expect_rejected(U(""), 0, AIOS_E_FORMAT, 1);
    expect_rejected(U("hello"), 5, AIOS_E_FORMAT, 1);
}

/* SEC1 / PKCS#8 ECPrivateKey whose parts disagree. */
static void put(uint8_t *der, size_t *n, const void *p, size_t len)
{
    memcpy(der + *n, p, len);
    *n += len;
}

/* SEC1 ECPrivateKey for P-256: scalar d, [0] curve OID (or none), [1] the
 * given public key bytes (or none). */
static size_t sec1_p256(uint8_t *der, const uint8_t *d, const uint8_t *curve, size_t curve_len,
                        const uint8_t *pub, size_t pub_len)
{
    static const uint8_t head[] = { 0x02, 0x01, 0x01, 0x04, 0x20 };
    size_t n = 2, content;
    put(der, &n, head, sizeof(head));
    put(der, &n, d, 32);
    if (curve != NULL) {
        uint8_t h[4] = { 0xa0, (uint8_t)(curve_len + 2), 0x06, (uint8_t)curve_len };
        put(der, &n, h, 4);
        put(der, &n, curve, curve_len);
    }
    if (pub != NULL) {
        uint8_t h[5] = { 0xa1, (uint8_t)(pub_len + 3), 0x03, (uint8_t)(pub_len + 1), 0x00 };
        put(der, &n, h, 5);
        put(der, &n, pub, pub_len);
    }
    content = n - 2;
    assert_true(content < 128);
    der[0] = 0x30;
    der[1] = (uint8_t)content;
    return n;
}

static const uint8_t OID_P256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t OID_P384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };

static void test_reject_sec1_mismatch(void **state)
{
    uint8_t d[32], pub[65], other_d[32], other[65], der[256], priv[48], comp[33];
    size_t n, m = 0, publen = 0;
    int alg = 0;
    (void)state;

    tu_assert_ok(dec_priv(U(P256_SEC1), strlen(P256_SEC1), &alg, d, &m));
    tu_assert_ok(aios__keyenc_public(AIOS__KEYENC_P256, d, 32, pub, sizeof(pub), &publen));
    random_key(AIOS__KEYENC_P256, other_d);
    tu_assert_ok(aios__keyenc_public(AIOS__KEYENC_P256, other_d, 32, other, sizeof(other), &publen));

    /* Our construction matches OpenSSL's SEC1 byte for byte. */
    n = sec1_p256(der, d, OID_P256, sizeof(OID_P256), pub, 65);
    {
        uint8_t ref[256];
        size_t rn = pem_der(P256_SEC1, ref, sizeof(ref));
        assert_int_equal(n, rn);
        assert_memory_equal(der, ref, n);
    }
    /* Another key's public key: refused. */
    n = sec1_p256(der, d, OID_P256, sizeof(OID_P256), other, 65);
    expect_rejected(der, n, AIOS_E_FORMAT, 1);
    assert_non_null(strstr(aios_last_error_message(), "does not match"));
    /* The compressed form of the right key is compared, and accepted; with
     * the wrong parity it is refused. */
    comp[0] = (uint8_t)(0x02 | (pub[64] & 1));
    memcpy(comp + 1, pub + 1, 32);
    n = sec1_p256(der, d, OID_P256, sizeof(OID_P256), comp, 33);
    tu_assert_ok(dec_priv(der, n, &alg, priv, &m));
    assert_memory_equal(priv, d, 32);
    comp[0] ^= 0x01;
    n = sec1_p256(der, d, OID_P256, sizeof(OID_P256), comp, 33);
    expect_rejected(der, n, AIOS_E_FORMAT, 1);
    /* No curve anywhere: refused; no public key: fine. */
    n = sec1_p256(der, d, NULL, 0, pub, 65);
    expect_rejected(der, n, AIOS_E_FORMAT, 1);
    n = sec1_p256(der, d, OID_P256, sizeof(OID_P256), NULL, 0);
    tu_assert_ok(dec_priv(der, n, &alg, priv, &m));
    assert_int_equal(alg, AIOS__KEYENC_P256);
    /* A 32-byte scalar that claims P-384. */
    n = sec1_p256(der, d, OID_P384, sizeof(OID_P384), NULL, 0);
    expect_rejected(der, n, AIOS_E_FORMAT, 1);
    /* EC PARAMETERS naming another curve than the key. */
    {
        char *s = replace(P256_SEC1, "BggqhkjOPQMBBw==", "BgUrgQQAIg==");
        expect_rejected_str(s, AIOS_E_FORMAT, 1);
        free(s);
    }
    /* Scalars out of range: 0 and n. */
    memset(d, 0, 32);
    n = sec1_p256(der, d, OID_P256, sizeof(OID_P256), NULL, 0);
    expect_rejected(der, n, AIOS_E_FORMAT, 1);
    {
        tc_bytes order = tc_hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        n = sec1_p256(der, order.p, OID_P256, sizeof(OID_P256), NULL, 0);
        expect_rejected(der, n, AIOS_E_FORMAT, 1);
        free(order.p);
    }
    /* A short (31-byte) scalar: RFC 5915 fixes the length. */
    n = sec1_p256(der, other_d, OID_P256, sizeof(OID_P256), NULL, 0);
    der[1]--;
    der[6] = 31;
    memmove(der + 7 + 31, der + 7 + 32, n - 7 - 32);
    expect_rejected(der, n - 1, AIOS_E_FORMAT, 1);
    aios__wipe(priv, sizeof(priv));
    aios__wipe(other_d, sizeof(other_d));
}

static void test_reject_bad_keys(void **state)
{
    uint8_t der[512], pub[97];
    size_t n;
    (void)state;

    /* A P-256 point off the curve. */
    n = pem_der(P256_PUB, der, sizeof(der));
    der[n - 1] ^= 0x01;
    expect_rejected(der, n, AIOS_E_FORMAT, 0);
    assert_non_null(strstr(aios_last_error_message(), "not a point on the curve"));
    /* An Ed25519 key of small order (the identity) and a non-canonical one. */
    n = pem_der(ED25519_PUB, der, sizeof(der));
    memset(der + 12, 0, 32);
    der[12] = 0x01;
    expect_rejected(der, n, AIOS_E_FORMAT, 0);
    memset(der + 12, 0xff, 32);
    der[12] = 0xed;
    der[43] = 0x7f;
    expect_rejected(der, n, AIOS_E_FORMAT, 0);
    /* Encoders check the same. */
    memset(pub, 0, sizeof(pub));
    pub[0] = 0x04;
    tu_assert_status(aios__spki_encode_der(der, sizeof(der), &n, AIOS__KEYENC_P256, pub, 65),
                     AIOS_E_FORMAT);
    tu_assert_status(aios__spki_encode_der(der, sizeof(der), &n, AIOS__KEYENC_P256, pub, 64),
                     AIOS_E_FORMAT);
    /* Non-minimal and indefinite lengths, and an unused-bits count. */
    n = pem_der(ED25519_PUB, der, sizeof(der));
    memmove(der + 3, der + 2, n - 2);
    der[1] = 0x81;
    der[2] = 0x2a;
    expect_rejected(der, n + 1, AIOS_E_FORMAT, 0);
    assert_non_null(strstr(aios_last_error_message(), "not minimal"));
    n = pem_der(ED25519_PUB, der, sizeof(der));
    der[1] = 0x80;
    expect_rejected(der, n, AIOS_E_FORMAT, 0);
    n = pem_der(ED25519_PUB, der, sizeof(der));
    der[11] = 0x01;
    expect_rejected(der, n, AIOS_E_FORMAT, 0);
    /* Ed25519 private key of 31 bytes. */
    n = pem_der(ED25519_PRIV, der, sizeof(der));
    der[1]--;
    der[13]--;
    der[15]--;
    expect_rejected(der, n - 1, AIOS_E_FORMAT, 1);
}

/* Every single-bit change of an ECDSA key's encodings is refused (the
 * private keys carry their public key, which pins the scalar). */
static void test_bit_flips(void **state)
{
    static const struct { const char *pem; int as_private; } v[] = {
        { P256_PRIV, 1 }, { P384_PRIV, 1 }, { P256_PUB, 0 }, { P384_PUB, 0 }, { P256_SEC1, 1 },
        { P384_SEC1, 1 },
    };
    uint8_t der[512], out[97], orig[97];
    size_t i, b, n, m, olen = 0, flips = 0, same = 0;
    /* Under valgrind every 53rd bit: each change to a scalar costs a
     * scalar multiplication, fifty times slower there. */
    size_t step = tu_under_valgrind() ? 53 : 1;
    int alg, rc;
    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        n = pem_der(v[i].pem, der, sizeof(der));
        rc = v[i].as_private ? aios__pkcs8_decode(der, n, &alg, orig, sizeof(orig), &olen)
                             : aios__spki_decode(der, n, &alg, orig, sizeof(orig), &olen);
        tu_assert_ok(rc);
        for (b = 0; b < 8 * n; b += step) {
            der[b / 8] ^= (uint8_t)(1u << (b % 8));
            aios_error_clear();
            rc = v[i].as_private ? aios__pkcs8_decode(der, n, &alg, out, sizeof(out), &m)
                                 : aios__spki_decode(der, n, &alg, out, sizeof(out), &m);
            if (rc == AIOS_OK) {
                /* Only PKCS#8 version 0 -> 1 is still valid: the same key. */
                if (m != olen || memcmp(out, orig, m) != 0 || b != 8 * 5)
                    fail_msg("private bit %zu: a different key was accepted", b);
                same++;
            } else if (rc != AIOS_E_FORMAT && rc != AIOS_E_UNSUPPORTED) {
                fail_msg("%s bit %zu: %s (%s)", v[i].as_private ? "private" : "public", b,
                         aios_status_name(rc), aios_last_error_message());
            } else {
                flips++;
            }
            der[b / 8] ^= (uint8_t)(1u << (b % 8));
        }
    }
    printf("  %zu single-bit changes refused, %zu decoded to the same key "
           "(PKCS#8 version 0 -> 1)\n", flips, same);
    assert_int_equal(same, step == 1 ? 2 : same);
    assert_true(flips > 0 && same <= 2);
    aios__wipe(orig, sizeof(orig));
    aios__wipe(out, sizeof(out));
}

static void test_wipe_on_failure(void **state)
{
    uint8_t zero[32], out[AIOS__PKCS8_DER_MAX], der[512];
    char pem[AIOS__PKCS8_PEM_MAX];
    size_t n = 0;
    (void)state;

    memset(zero, 0, sizeof(zero));
    memset(out, 0xaa, sizeof(out));
    tu_assert_status(aios__pkcs8_encode_der(out, sizeof(out), &n, AIOS__KEYENC_P256, zero, 32),
                     AIOS_E_FORMAT);
    assert_true(tc_is_zero(out, sizeof(out)));
    memset(pem, 'a', sizeof(pem));
    tu_assert_status(aios__pkcs8_encode_pem(pem, sizeof(pem), &n, AIOS__KEYENC_P256, zero, 32),
                     AIOS_E_FORMAT);
    assert_true(tc_is_zero((const uint8_t *)pem, sizeof(pem)));
    /* A key that fails late (mismatched embedded public key): the scalar
     * was copied out of the input before the check; nothing of it is left
     * in the output. */
    n = pem_der(P256_PRIV, der, sizeof(der));
    der[n - 1] ^= 0x01;
    expect_rejected(der, n, AIOS_E_FORMAT, 1);
}

static void test_arguments(void **state)
{
    uint8_t buf[AIOS__PKCS8_DER_MAX], key[48] = { 1 };
    char pem[AIOS__PKCS8_PEM_MAX];
    size_t n = 0;
    int alg = 0;
    uint8_t *big;
    (void)state;

    tu_assert_status(aios__spki_decode(U(P256_PUB), strlen(P256_PUB), NULL, buf, 97, &n),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__spki_decode(U(P256_PUB), strlen(P256_PUB), &alg, buf, 97, NULL),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__pkcs8_decode(NULL, 5, &alg, buf, 48, &n), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__pkcs8_decode(U(P256_PRIV), strlen(P256_PRIV), &alg, NULL, 48, &n),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__spki_encode_der(buf, sizeof(buf), &n, (aios__keyenc_alg)9, key, 32),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__pkcs8_encode_pem(pem, sizeof(pem), &n, AIOS__KEYENC_ED25519, key, 31),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__pkcs8_encode_der(buf, sizeof(buf), &n, AIOS__KEYENC_P384, key, 32),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__keyenc_public(AIOS__KEYENC_P256, key, 48, buf, sizeof(buf), &n),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__keyenc_public(AIOS__KEYENC_P256, key, 32, buf, 64, &n),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, 65);
    assert_int_equal(aios__keyenc_pub_len((aios__keyenc_alg)0), 0);
    assert_int_equal(aios__keyenc_priv_len((aios__keyenc_alg)5), 66);
    assert_int_equal(aios__keyenc_priv_len((aios__keyenc_alg)6), 0);
    assert_string_equal(aios__keyenc_name(AIOS__KEYENC_P384), "p384");
    assert_string_equal(aios__keyenc_name((aios__keyenc_alg)0), "unknown");

    big = calloc(1, AIOS__KEYENC_INPUT_MAX + 1);
    assert_non_null(big);
    tu_assert_status(aios__pkcs8_decode(big, AIOS__KEYENC_INPUT_MAX + 1, &alg, buf, 48, &n),
                     AIOS_E_LIMIT);
    tu_assert_status(aios__spki_decode(big, AIOS__KEYENC_INPUT_MAX + 1, &alg, buf, 97, &n),
                     AIOS_E_LIMIT);
    /* At the limit: parsed, and refused as malformed. */
    tu_assert_status(aios__spki_decode(big, AIOS__KEYENC_INPUT_MAX, &alg, buf, 97, &n),
                     AIOS_E_FORMAT);
    memset(big, ' ', AIOS__KEYENC_INPUT_MAX);
    memcpy(big + AIOS__KEYENC_INPUT_MAX - strlen(P256_PUB), P256_PUB, strlen(P256_PUB));
    tu_assert_ok(aios__spki_decode(big, AIOS__KEYENC_INPUT_MAX, &alg, buf, 97, &n));
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openssl_fixtures),
        cmocka_unit_test(test_rfc8410_example),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_p521_public),
        cmocka_unit_test(test_reject_truncated),
        cmocka_unit_test(test_reject_trailing),
        cmocka_unit_test(test_reject_wrong_oid),
        cmocka_unit_test(test_reject_unsupported),
        cmocka_unit_test(test_reject_bad_base64),
        cmocka_unit_test(test_reject_wrong_container),
        cmocka_unit_test(test_reject_sec1_mismatch),
        cmocka_unit_test(test_reject_bad_keys),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_wipe_on_failure),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
