/*
 * lib/envelope: sessions (docs/FORMAT.md 9.2) and their records, R
 * (section 3.5) and D (section 3.6), shared by the session API
 * (session.c) and JSON field encryption (fields.c).  Private.
 *
 * A session owns its S header (an aios__env_hdr: bytes, decoded view, C,
 * D, suite) and, in guarded read-only memory, the PRK's HMAC-SHA-256 state
 * precomputed (so each record key Kr costs two SHA-256 compressions) and,
 * for a DETERMINISTIC session, the SIV key Ks.  Immutable after creation
 * apart from two atomics (the reference count and the writer's record
 * count), so any number of threads may seal and open at once.
 */
#ifndef AIOS_LIB_ENVELOPE_SESSION_H
#define AIOS_LIB_ENVELOPE_SESSION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope/message.h"

#define AIOS__ENV_R_HEAD_LEN   58          /* prefix || C || r */
#define AIOS__ENV_D_HEAD_LEN   42          /* prefix || C */
#define AIOS__ENV_R_OVERHEAD   74          /* R head + tag */
#define AIOS__ENV_D_OVERHEAD   58          /* D head + V */
#define AIOS__ENV_R_PT_MAX     16777216u   /* R plaintext (section 13) */
#define AIOS__ENV_R_AD_MAX     65536u      /* R associated data */
#define AIOS__ENV_RECORDS_MAX  ((uint64_t)1 << 32)   /* per writer session */

/* Key material of a session, in one guarded allocation. */
typedef struct aios__env_session_keys {
    aios__hmac_sha256_key prk;                        /* HMAC state keyed with PRK */
    uint8_t               ks[AIOS__ENV_SIV_KEY_LEN];  /* Ks (deterministic sessions) */
} aios__env_session_keys;

struct aios_envelope_session {
    atomic_size_t            refs;
    atomic_uint_fast64_t     sealed;        /* R records sealed (writers) */
    aios__env_hdr            hdr;           /* the S header, C, D, suite */
    aios__env_session_keys  *keys;          /* guarded, read-only */
    aios__aead_alg           alg;
    uint64_t                 max_records;   /* writers; 0 for readers */
    int                      writer;
    int                      deterministic;
    int                      soft_ok;       /* AES-GCM open may use the software path */
};

/* Make a session from an S header with its PRK (hdr is taken over and
 * cleared whatever happens).  writer: may seal R records, at most
 * max_records of them (1..2^32).  soft_ok: whether opening AES-256-GCM
 * records may use the software path on CPUs without AES-NI. */
int aios__env_session_adopt(aios_envelope_session **out, aios__env_hdr *hdr, int writer,
                            uint64_t max_records, int soft_ok);

/* Seal an R record of len bytes into out (len + 74 bytes), counting it
 * against max_records: AIOS_E_STATE for a reader, AIOS_E_LIMIT past the
 * count.  Lengths are the caller's to check (pt <= 16 MiB, ad <= 64 KiB). */
int aios__env_session_seal_r(aios_envelope_session *s, uint8_t *out,
                             const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen);

/* The structural steps 1-6 of FORMAT.md 12.2 / 12.3 for a record of
 * either type in accept (AIOS__ENV_ACCEPT_R and/or _D): AIOS_E_FORMAT,
 * AIOS_E_VERSION, AIOS_E_LIMIT (R ciphertext over 16 MiB). */
int aios__env_record_check(aios__env_prefix *p, const uint8_t *rec, size_t len, unsigned accept);

/* Step 7 of 12.2 / 12.3 against one session, for a record that passed
 * aios__env_record_check: AIOS_E_ENVELOPE_UNKNOWN_SESSION (another C),
 * AIOS_E_FORMAT (R: suite differs), AIOS_E_ENVELOPE_MODE (D under a
 * session without DETERMINISTIC). */
int aios__env_session_match(const aios_envelope_session *s, const aios__env_prefix *p,
                            const uint8_t *rec);

/* Open a checked, matched R record into out (len - 74 bytes):
 * AIOS_E_AUTH (out wiped). */
int aios__env_session_open_r(const aios_envelope_session *s, uint8_t *out,
                             const uint8_t *rec, size_t len, const uint8_t *ad, size_t adlen);

/* D records (deterministic session only): seal writes len + 58 bytes;
 * open writes len - 58 bytes (AIOS_E_AUTH, out wiped).  The associated
 * data is the field's FAD (A3); A1 and A2 are the session's. */
int aios__env_session_seal_d(const aios_envelope_session *s, uint8_t *out,
                             const uint8_t *pt, size_t len, const uint8_t *fad, size_t fadlen);
int aios__env_session_open_d(const aios_envelope_session *s, uint8_t *out,
                             const uint8_t *rec, size_t len, const uint8_t *fad, size_t fadlen);

#endif /* AIOS_LIB_ENVELOPE_SESSION_H */
