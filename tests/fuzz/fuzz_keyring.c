/*
 * Fuzz the keyring file's parsers (docs/KEYRING.md).  The first byte picks
 * what the rest is:
 *   0  a whole file: framing, header check, header decoding, validation
 *   1  u16be n, then a header: framed here with a valid header check and n
 *      zero bytes of body, so the fuzzer reaches the protobuf decoder and
 *      the field validation; a raw-key header is then unlocked with a
 *      fixed master key (passphrase headers are not: Argon2id would run)
 *   2  a body plaintext: the bounded scan, canonical decoding, validation
 *      and model building; what decodes must encode back to the input
 *      (unless it holds fields from a newer writer)
 * Only the documented statuses may come back; no crash, no leak.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE     /* pthread_rwlock_t in key_internal.h under -std=c11 */
#endif
#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "key/keyring_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void header_mode(const uint8_t *data, size_t size)
{
    static const uint8_t master[32] = { 1, 2, 3, 4 };
    aios_keyring_options o = AIOS_KEYRING_OPTIONS_INIT;
    aios__kr_header h;
    aios__aead_key *dk = NULL;
    uint8_t *file;
    size_t n, hlen, len;
    int rc;

    if (size < 2)
        return;
    n = ((size_t)data[0] << 8) | data[1];
    hlen = size - 2;
    len = AIOS__KR_PREFIX_LEN + hlen + AIOS__KR_CHECK_LEN + n;
    file = calloc(1, len);
    if (!file)
        abort();
    memcpy(file, "AIOSKR\x01", 7);
    file[7] = (uint8_t)(hlen >> 24);
    file[8] = (uint8_t)(hlen >> 16);
    file[9] = (uint8_t)(hlen >> 8);
    file[10] = (uint8_t)hlen;
    memcpy(file + AIOS__KR_PREFIX_LEN, data + 2, hlen);
    aios__sha256(file + AIOS__KR_PREFIX_LEN + hlen, file, AIOS__KR_PREFIX_LEN + hlen);
    rc = aios__kr_header_parse(&h, file, len, "fuzz");
    if (rc != AIOS_OK && rc != AIOS_E_KEYRING_CORRUPT && rc != AIOS_E_VERSION &&
        rc != AIOS_E_NOMEM)
        abort();
    if (rc == AIOS_OK && h.unlock == AIOS_KEYRING_UNLOCK_RAW_KEY) {
        o.unlock = AIOS_KEYRING_UNLOCK_RAW_KEY;
        o.secret = master;
        o.secret_len = sizeof(master);
        rc = aios__kr_unlock_open(&dk, &h, &o, "fuzz");
        if (rc != AIOS_OK && rc != AIOS_E_KEYRING_PASSPHRASE && rc != AIOS_E_KEYRING_TAMPERED &&
            rc != AIOS_E_NOMEM)
            abort();
        if (rc == AIOS_OK) {
            aios__kr_model m;
            rc = aios__kr_file_decode(&m, &h, dk, file, len, "fuzz");
            if (rc == AIOS_OK)
                aios__kr_model_clear(&m);
            else if (rc != AIOS_E_KEYRING_TAMPERED && rc != AIOS_E_KEYRING_CORRUPT &&
                     rc != AIOS_E_NOMEM)
                abort();
        }
        aios__aead_key_free(dk);
    }
    free(file);
}

static void body_mode(const uint8_t *data, size_t size)
{
    aios__kr_model m;
    aios_buffer *enc = NULL;
    int rc = aios__kr_body_decode(&m, data, size, "fuzz");

    if (rc != AIOS_OK) {
        if (rc != AIOS_E_KEYRING_CORRUPT && rc != AIOS_E_NOMEM)
            abort();
        if (m.nkeys != 0 || m.keys != NULL)
            abort();
        return;
    }
    if (!m.has_unknown) {
        if (aios__kr_body_encode(&enc, &m) != AIOS_OK)
            abort();
        if (aios_buffer_len(enc) != size || memcmp(aios_buffer_data(enc), data, size) != 0)
            abort();
        aios_buffer_free(enc);
    }
    aios__kr_model_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aios__kr_header h;
    int rc;

    if (aios_init() != AIOS_OK)
        abort();
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        rc = aios__kr_header_parse(&h, data + 1, size - 1, "fuzz");
        if (rc != AIOS_OK && rc != AIOS_E_KEYRING_CORRUPT && rc != AIOS_E_KEYRING_TAMPERED &&
            rc != AIOS_E_VERSION && rc != AIOS_E_NOMEM)
            abort();
        break;
    case 1:
        header_mode(data + 1, size - 1);
        break;
    default:
        body_mode(data + 1, size - 1);
        break;
    }
    return 0;
}
