/*
 * The fixed sessions of fuzz_envelope_record and fuzz_envelope_field: a
 * writer session to an X25519 public key (RFC 8410's example), made once
 * with the CSPRNG replaced by a counter so its data key and message id,
 * hence its C, D and record keys, are the same in every run and the seed
 * records (made the same way) keep opening.  Suite 2 (any CPU).
 */
#ifndef AIOS_FUZZ_ENVELOPE_SESSION_H
#define AIOS_FUZZ_ENVELOPE_SESSION_H

#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "crypto/crypto.h"

static const char fuzz_x25519_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VuAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
    "-----END PUBLIC KEY-----\n";

static uint8_t fuzz_counter;

static void fuzz_random(uint8_t *out, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++)
        out[i] = fuzz_counter++;
}

/* flags: 0 or AIOS_ENVELOPE_SESSION_DETERMINISTIC.  Aborts on failure. */
static aios_envelope_session *fuzz_session(uint32_t flags)
{
    aios_envelope_session_options o = AIOS_ENVELOPE_SESSION_OPTIONS_INIT;
    aios_envelope_session *s = NULL;
    aios_key *k = NULL;
    if (aios_init() != AIOS_OK)
        abort();
    if (aios_key_from_public_pem(&k, "fuzz", fuzz_x25519_pem, strlen(fuzz_x25519_pem)) != AIOS_OK)
        abort();
    o.suite = AIOS_ENVELOPE_SUITE_PORTABLE;
    o.flags = flags;
    fuzz_counter = flags ? 0x80 : 0;
    aios__random_set_for_testing(fuzz_random);
    if (aios_envelope_session_new(&s, &k, 1, NULL, 0, &o) != AIOS_OK)
        abort();
    aios__random_set_for_testing(NULL);
    aios_key_unref(k);
    return s;
}

#endif /* AIOS_FUZZ_ENVELOPE_SESSION_H */
