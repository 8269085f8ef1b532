/*
 * lib/envelope: the v1 wire format (docs/FORMAT.md), private.
 *
 *   - the 10-byte prefix of every object (section 3.2),
 *   - the header of messages (M) and session headers (S): length-prefixed
 *     canonical protobuf core and recipient list, commitment C and header
 *     tag T (sections 3.3, 3.4, 6, 7), encoded and strictly decoded with
 *     every bound of section 13 checked before anything is allocated,
 *   - the key schedule (section 5): PRK, Kc, C, Kh, Ks, Kr, the core digest
 *     D and the header tag T,
 *   - the header checks after a data key is unwrapped (commitment, then
 *     tag), aios__env_header_verify.
 *
 * Statuses: the existing codes of section 12.1 (AIOS_E_FORMAT,
 * AIOS_E_VERSION, AIOS_E_LIMIT, AIOS_E_AUTH) and, from the envelope block
 * of section 12.4, AIOS_E_ENVELOPE_TRAILING_DATA (bytes after a session
 * header) and AIOS_E_ENVELOPE_COMMITMENT (a data key that does not match
 * the commitment).
 *
 * Nothing here includes protobuf-c: the generated code is private to
 * format.c.
 */
#ifndef AIOS_LIB_ENVELOPE_FORMAT_H
#define AIOS_LIB_ENVELOPE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "aios/core.h"
#include "proto/proto.h"

/* ---- prefix (section 3.2) */

#define AIOS__ENV_PREFIX_LEN   10
#define AIOS__ENV_VERSION      0x01
#define AIOS__ENV_TYPE_M       0x4d   /* 'M' message */
#define AIOS__ENV_TYPE_S       0x53   /* 'S' session header */
#define AIOS__ENV_TYPE_R       0x52   /* 'R' session record */
#define AIOS__ENV_TYPE_D       0x44   /* 'D' deterministic record */

/* Which types a decoder takes (aios__env_prefix_decode's accept). */
#define AIOS__ENV_ACCEPT_M 0x1u
#define AIOS__ENV_ACCEPT_S 0x2u
#define AIOS__ENV_ACCEPT_R 0x4u
#define AIOS__ENV_ACCEPT_D 0x8u
/* aios__env_header_decode only: the bytes are a header this process has
 * just encoded (aios__env_header_encode), decoded for its views.  Skips
 * the protobuf-c validation pass (unpack and canonical re-encoding) of
 * the core and the recipient list; every other check still runs.  Never
 * for bytes read from outside. */
#define AIOS__ENV_DECODE_OWN 0x100u
/* aios__env_header_decode only, for tests and the differential fuzz
 * target: judge the canonical encoding of the core and the recipient list
 * (FORMATS.md rule 4) with protobuf-c's unpack and re-pack, the reference,
 * instead of the library's own walk of the fields (the default; it
 * allocates nothing and accepts exactly the same bytes). */
#define AIOS__ENV_DECODE_PBC 0x200u

/* Suites (section 4). */
#define AIOS__ENV_SUITE_AES256GCM        0x0001
#define AIOS__ENV_SUITE_XCHACHA20POLY1305 0x0002
#define AIOS__ENV_SUITE_AES256SIV        0x0003

#define AIOS__ENV_FLAG_DETERMINISTIC 0x0001   /* S only */

/* ---- sizes and limits (sections 3.3, 5, 6, 7, 13) */

#define AIOS__ENV_ID_LEN          32          /* message id */
#define AIOS__ENV_DK_LEN          32          /* data key */
#define AIOS__ENV_KEY_LEN         32          /* PRK, Kc, C, Kh, Kr, D, T */
#define AIOS__ENV_SIV_KEY_LEN     64          /* Ks */
#define AIOS__ENV_RECORD_ID_LEN   16          /* r */
#define AIOS__ENV_CORE_MIN        34
#define AIOS__ENV_CORE_MAX        32768
#define AIOS__ENV_RECIPIENTS_MAX_LEN 131072
#define AIOS__ENV_HEADER_MAX      (AIOS__ENV_PREFIX_LEN + 4 + AIOS__ENV_CORE_MAX + 4 + \
                                   AIOS__ENV_RECIPIENTS_MAX_LEN + 2 * AIOS__ENV_KEY_LEN)
#define AIOS__ENV_RECIPIENTS_MAX  64
#define AIOS__ENV_RECIPIENT_MAX_LEN 2048
#define AIOS__ENV_WRAPPED_MAX     1024
#define AIOS__ENV_HPKE_CT_LEN     48
#define AIOS__ENV_X25519_LEN      32
#define AIOS__ENV_LABEL_MAX       256
#define AIOS__ENV_KEYREF_MAX      336
#define AIOS__ENV_CTX_ENTRIES_MAX 128
#define AIOS__ENV_CTX_KEY_MAX     256
#define AIOS__ENV_CTX_VALUE_MAX   4096
#define AIOS__ENV_CTX_MAX         16384
#define AIOS__ENV_CHUNK_MIN       4096u
#define AIOS__ENV_CHUNK_MAX       16777216u
#define AIOS__ENV_CHUNK_DEFAULT   65536u

#define AIOS__ENV_KIND_KEK    1
#define AIOS__ENV_KIND_X25519 2

/* The reserved context-key prefix (section 7.2). */
#define AIOS__ENV_RESERVED_PREFIX     "aios."
#define AIOS__ENV_RESERVED_PREFIX_LEN 5

/* A byte string borrowed from elsewhere (p may be NULL when len is 0). */
typedef struct aios__env_bytes {
    const uint8_t *p;
    size_t         len;
} aios__env_bytes;

typedef struct aios__env_prefix {
    uint8_t  type;    /* AIOS__ENV_TYPE_* */
    uint16_t suite;
    uint16_t flags;
} aios__env_prefix;

/* Write the 10 prefix bytes.  Cannot fail (no validation: callers encode
 * what they built). */
void aios__env_prefix_encode(uint8_t out[AIOS__ENV_PREFIX_LEN], const aios__env_prefix *p);
/* Steps 1-5 of section 12.1 / 12.2 / 12.3 on data[0..len): AIOS_E_FORMAT
 * (short, bad magic, a known type not in accept, suite 3 outside D, suite
 * 1..2 in D, DETERMINISTIC outside S), AIOS_E_VERSION (version, unknown
 * type, unknown suite, reserved flag bit). */
int aios__env_prefix_decode(aios__env_prefix *out, const uint8_t *data, size_t len,
                            unsigned accept);

/* ---- the encryption context (section 7) */

typedef struct aios__env_ctx_entry {
    aios__env_bytes key;
    aios__env_bytes value;
} aios__env_ctx_entry;

/* Reader rules of section 7.1 on a decoded (or to-be-encoded) entry list:
 * strictly ascending keys, key 1..256 bytes of strict UTF-8 without
 * control characters, value 0..4096 bytes of strict UTF-8 without NUL
 * (AIOS_E_FORMAT); more than 128 entries (AIOS_E_LIMIT).  Reserved keys are
 * allowed (a reader accepts them, section 7.2). */
int aios__env_context_check(const aios__env_ctx_entry *e, size_t n);
/* Writer side: sort a caller's entries in place (byte-wise by key), then
 * check them: duplicate keys and reserved "aios." keys are
 * AIOS_E_INVALID_ARGUMENT, as are the other rule violations of 7.1 (the
 * caller's input, not a message, is at fault); more than 128 entries or a
 * canonical encoding over 16 384 bytes AIOS_E_LIMIT. */
int aios__env_context_canonicalize(aios__env_ctx_entry *e, size_t n);
/* The canonical context encoding ctx (an EncryptionContext, section 7.1)
 * of checked entries; empty for n == 0 (a buffer of length 0).
 * AIOS_E_FORMAT / AIOS_E_LIMIT as aios__env_context_check, plus
 * AIOS_E_LIMIT for an encoding over 16 384 bytes. */
int aios__env_context_encode(aios_buffer **out, const aios__env_ctx_entry *e, size_t n);

/* ---- the core and the recipients (sections 3.3, 3.4, 6) */

typedef struct aios__env_core {
    uint8_t                    message_id[AIOS__ENV_ID_LEN];
    const aios__env_ctx_entry *entries;     /* sorted; NULL when nentries is 0 */
    size_t                     nentries;
    uint32_t                   chunk_size;  /* M only; 0 in S */
    aios__env_bytes            unknown;     /* fields from a newer writer, as on the wire */
} aios__env_core;

typedef struct aios__env_recipient {
    uint32_t        kind;               /* 1 kek, 2 x25519-hpke, other: skipped */
    int             has_key;            /* field 2 present (it may be empty) */
    aios__env_bytes key;                /* the KeyRef payload, as on the wire (WAD binds it) */
    aios__env_bytes wrapped_key;
    aios__env_bytes recipient_public;
    aios__env_bytes ephemeral_public;
    aios__env_bytes label;
    aios__env_bytes unknown;            /* fields from a newer writer, as on the wire */
    /* decode only */
    aios__keyref    keyref;             /* kind 1: the decoded key reference */
    aios__env_bytes raw;                /* the whole record, as on the wire */
} aios__env_recipient;

/* A header (M or S).  Encoding reads prefix, core, recipients, nrecipients,
 * list_unknown, commitment and tag.  Decoding fills everything; its byte
 * strings (and the entries and recipients arrays' contents) point into the
 * input, which must outlive the header; the arrays are owned and released
 * by aios__env_header_clear. */
typedef struct aios__env_header {
    aios__env_prefix           prefix;
    aios__env_core             core;
    const aios__env_recipient *recipients;
    size_t                     nrecipients;
    aios__env_bytes            list_unknown;   /* RecipientList's unknown fields */
    const uint8_t             *commitment;     /* C, 32 bytes */
    const uint8_t             *tag;            /* T, 32 bytes */
    /* decode only: views into the input */
    aios__env_bytes            core_raw;       /* the core, Lc bytes */
    aios__env_bytes            recipients_raw; /* the recipient list, Lr bytes */
    aios__env_bytes            ctx;            /* canonical context bytes (7.1), maybe empty */
    aios__env_bytes            raw;            /* the whole header, 82 + Lc + Lr bytes */
    /* owned */
    aios__env_ctx_entry       *entries_owned;
    aios__env_recipient       *recipients_owned;
} aios__env_header;

/* The record rules of section 6 (kinds 1 and 2; generic bounds for others):
 * AIOS_E_FORMAT. */
int aios__env_recipient_check(aios__env_recipient *r);

/* Encode a header (prefix, Lc, core, Lr, recipients, C, T) into a new
 * buffer, after checking everything the decoder checks (AIOS_E_FORMAT,
 * AIOS_E_LIMIT).  T is HMAC(kh, ...) when kh is not NULL, else h->tag is
 * copied (re-encoding a decoded header).  The result decodes to h. */
int aios__env_header_encode(aios_buffer **out, const aios__env_header *h,
                            const uint8_t *kh);

/* Decode the header at data[0..len) (steps 1-8 of section 12.1, and 13 for
 * an S): AIOS_E_FORMAT, AIOS_E_VERSION or AIOS_E_LIMIT (AIOS_E_NOMEM).
 * accept is a mask of AIOS__ENV_ACCEPT_M / _S.  An M may be followed by
 * its chunks (h->raw.len tells where they start); an S may not.  On
 * failure *h is cleared (nothing to release). */
int aios__env_header_decode(aios__env_header *h, const uint8_t *data, size_t len,
                            unsigned accept);
/* Release what decode allocated; NULL and cleared headers are fine. */
void aios__env_header_clear(aios__env_header *h);

/* ---- key schedule (section 5)
 *
 * dk is the data key (32 bytes; callers keep it in secure memory).  Every
 * output goes to a caller buffer (secure memory for Kc, Kh, Ks, Kr and
 * PRK); intermediates are wiped.  C, D and T are public. */

typedef enum aios__env_label {
    AIOS__ENV_LABEL_CONTENT    = 1,   /* Kc, 32 */
    AIOS__ENV_LABEL_COMMITMENT = 2,   /* C, 32 */
    AIOS__ENV_LABEL_HEADER     = 3,   /* Kh, 32 */
    AIOS__ENV_LABEL_SIV        = 4,   /* Ks, 64 */
    AIOS__ENV_LABEL_RECORD     = 5    /* Kr, 32, with a record id */
} aios__env_label;

/* PRK = HKDF-Extract(salt = mid, ikm = dk).  Cannot fail. */
void aios__env_prk(uint8_t prk[AIOS__ENV_KEY_LEN], const uint8_t dk[AIOS__ENV_DK_LEN],
                   const uint8_t mid[AIOS__ENV_ID_LEN]);
/* HKDF-Expand(PRK, label || u16be(suite) [|| r], L) with L = 64 for the
 * SIV key, else 32; r (16 bytes) only for AIOS__ENV_LABEL_RECORD.  out_len
 * must be that L (AIOS_E_INVALID_ARGUMENT otherwise; out then wiped). */
int aios__env_expand(uint8_t *out, size_t out_len, const uint8_t prk[AIOS__ENV_KEY_LEN],
                     aios__env_label label, uint16_t suite, const uint8_t *r);
/* Two 32-byte labels from one PRK: as two aios__env_expand calls, for
 * about the cost of one.  AIOS_E_INVALID_ARGUMENT (outputs wiped) for
 * LABEL_SIV or LABEL_RECORD, which it does not derive. */
int aios__env_expand2(uint8_t a[AIOS__ENV_KEY_LEN], aios__env_label la,
                      uint8_t b[AIOS__ENV_KEY_LEN], aios__env_label lb,
                      const uint8_t prk[AIOS__ENV_KEY_LEN], uint16_t suite);
/* Extract then expand, the PRK wiped: Kc, C, Kh, Ks, Kr from the data key. */
int aios__env_derive(uint8_t *out, size_t out_len, const uint8_t dk[AIOS__ENV_DK_LEN],
                     const uint8_t mid[AIOS__ENV_ID_LEN], aios__env_label label,
                     uint16_t suite, const uint8_t *r);

/* D = SHA-256("aios envelope v1 core digest" || prefix || u32be(Lc) || core || C). */
void aios__env_core_digest(uint8_t d[AIOS__ENV_KEY_LEN],
                           const uint8_t prefix[AIOS__ENV_PREFIX_LEN],
                           const uint8_t *core, size_t core_len,
                           const uint8_t commitment[AIOS__ENV_KEY_LEN]);
/* T = HMAC(Kh, bytes), bytes being the header up to (not including) T:
 * 0 .. 50+Lc+Lr. */
void aios__env_header_tag(uint8_t t[AIOS__ENV_KEY_LEN], const uint8_t kh[AIOS__ENV_KEY_LEN],
                          const uint8_t *bytes, size_t len);

/* The checks of section 5 / 12.1 steps 11-12 once a data key dk is in
 * hand, for a header h decoded from data (h's views point into it):
 * recompute C and compare in constant time (AIOS_E_ENVELOPE_COMMITMENT),
 * then recompute T and
 * compare in constant time (AIOS_E_AUTH).  prk_out (32 bytes of secure
 * memory, or NULL) receives the PRK on success, for deriving Kc, Ks or Kr;
 * it is wiped on failure. */
int aios__env_header_verify(const aios__env_header *h, const uint8_t dk[AIOS__ENV_DK_LEN],
                            uint8_t *prk_out);

#endif /* AIOS_LIB_ENVELOPE_FORMAT_H */
