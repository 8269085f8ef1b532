/*
 * lib/envelope: recipient records of kind 1 (symmetric KEK) and kind 2
 * (X25519 HPKE), record selection when opening, and the expected-context
 * check (docs/FORMAT.md sections 6.1, 6.2, 6.3, 6.4, 7.3).  Private; not
 * installed.
 *
 *   - aios__env_kek_wad: the wrap associated data WAD of section 6.1,
 *   - aios__env_kek_wrap / aios__env_kek_unwrap: one kind-1 record,
 *   - aios__env_x25519_xad: the HPKE associated data XAD of section 6.2,
 *   - aios__env_x25519_wrap / aios__env_x25519_unwrap: one kind-2 record,
 *   - aios__env_select_unwrap: section 6.4 over a decoded recipient list,
 *     with a caller's key resolver (kind 1), key matcher (kind 2) and an
 *     optional per-attempt check (the commitment check of section 5, done
 *     by the header layer),
 *   - aios__env_context_expect: section 7.3, exact and subset modes.
 *
 * Statuses from the envelope block (section 12.4):
 * AIOS_E_ENVELOPE_NO_RECIPIENT (selection: no record matched) and
 * AIOS_E_ENVELOPE_CONTEXT_MISMATCH (the expected context).
 */
#ifndef AIOS_LIB_ENVELOPE_RECIPIENT_H
#define AIOS_LIB_ENVELOPE_RECIPIENT_H

#include <stddef.h>
#include <stdint.h>

#include "aios/key.h"
#include "envelope/format.h"

/* The label that starts WAD (section 5's table): 20 bytes. */
#define AIOS__ENV_KEK_LABEL     "aios envelope v1 kek"
#define AIOS__ENV_KEK_LABEL_LEN 20
/* HPKE's info, and the label that starts XAD (section 5's table): 23 bytes. */
#define AIOS__ENV_X25519_LABEL     "aios envelope v1 x25519"
#define AIOS__ENV_X25519_LABEL_LEN 23

/* Unwrap attempts per open (section 6.4, section 13). */
#define AIOS__ENV_ATTEMPTS_DEFAULT 8u
#define AIOS__ENV_ATTEMPTS_MAX     64u

/* What every wrap of one message binds: the encoded prefix, the message
 * id and the canonical context bytes (section 7.1; empty for an empty
 * context).  mid and ctx are borrowed. */
typedef struct aios__env_binding {
    uint8_t         prefix[AIOS__ENV_PREFIX_LEN];
    const uint8_t  *mid;                 /* AIOS__ENV_ID_LEN bytes */
    aios__env_bytes ctx;
} aios__env_binding;

/* The binding of a decoded header (its views must outlive the binding). */
void aios__env_binding_from_header(aios__env_binding *b, const aios__env_header *h);

/* WAD = "aios envelope v1 kek" || prefix || mid || u32be(len(ctx)) || ctx
 *       || u32be(1) || u32be(len(keyref)) || keyref
 * into a new (plain) buffer; keyref is the KeyRef payload as on the wire
 * (a record's field 2).  AIOS_E_INVALID_ARGUMENT for a NULL argument, a
 * context over 16 384 bytes or a key reference over 336 bytes. */
int aios__env_kek_wad(aios_buffer **out, const aios__env_binding *b,
                      const uint8_t *keyref, size_t keyref_len);

/* A kind-1 record made by aios__env_kek_wrap: rec's key and wrapped_key
 * point into the two owned buffers (rec can go straight into an
 * aios__env_header's recipient array). */
typedef struct aios__env_kek_record {
    aios__env_recipient rec;
    aios_buffer        *keyref;    /* the encoded KeyRef */
    aios_buffer        *wrapped;   /* aios_key_wrap's output */
} aios__env_kek_record;

/* Wrap the data key dk for kek (purpose WRAP, any provider): the key
 * reference is the handle's provider name, id and version; the wrap binds
 * WAD.  The key's own failures pass through (AIOS_E_KEY_USAGE,
 * AIOS_E_KEY_DECRYPT_ONLY, AIOS_E_KEY_DISABLED, ...).  A wrapped key of
 * more than 1024 bytes is AIOS_E_LIMIT.  On failure *out is cleared. */
int aios__env_kek_wrap(aios__env_kek_record *out, const aios__env_binding *b,
                       const aios_key *kek, const uint8_t dk[AIOS__ENV_DK_LEN]);
/* Release and clear; NULL and cleared records are fine. */
void aios__env_kek_record_clear(aios__env_kek_record *r);

/* Unwrap a decoded kind-1 record r with kek, binding WAD (built from r's
 * key bytes as on the wire), into a new secure buffer of exactly 32 bytes.
 * Whether kek is the key r names is the caller's business (a key that
 * does not match fails as any wrong key does: AIOS_E_AUTH).  The key's
 * failures pass through; an unwrapped key that is not 32 bytes is
 * AIOS_E_FORMAT (and wiped); a record that is not kind 1 is
 * AIOS_E_INVALID_ARGUMENT. */
int aios__env_kek_unwrap(aios_buffer **dk_out, const aios__env_binding *b,
                         const aios__env_recipient *r, const aios_key *kek);

/* XAD = "aios envelope v1 x25519" || prefix || mid || u32be(len(ctx)) || ctx
 *       || u32be(2) || pkR || u32be(len(label)) || label
 * into a new (plain) buffer (section 6.2).  AIOS_E_INVALID_ARGUMENT for a
 * NULL argument, a context over 16 384 bytes or a label over 256 bytes. */
int aios__env_x25519_xad(aios_buffer **out, const aios__env_binding *b,
                         const uint8_t pk[AIOS__ENV_X25519_LEN],
                         const uint8_t *label, size_t label_len);

/* A kind-2 record made by aios__env_x25519_wrap.  rec's wrapped_key,
 * recipient_public and ephemeral_public point into this struct's own
 * arrays and its label into the owned buffer: rec can go straight into an
 * aios__env_header's recipient array, but the struct must stay where it
 * was wrapped (do not copy or move it while rec is in use). */
typedef struct aios__env_x25519_record {
    aios__env_recipient rec;
    uint8_t             wrapped[AIOS__ENV_HPKE_CT_LEN];   /* HPKE ct: dk and tag */
    uint8_t             pk[AIOS__ENV_X25519_LEN];         /* pkR */
    uint8_t             enc[AIOS__ENV_X25519_LEN];        /* enc = pkE */
    aios_buffer        *label;                            /* NULL when empty */
} aios__env_x25519_record;

/* Wrap the data key dk for the X25519 key `recipient` (a public-only
 * handle from aios_key_from_public_pem or any X25519 handle): pkR is
 * aios_key_public_raw, the label aios_key_id (which must meet the label
 * rule: at most 256 bytes of UTF-8 without control characters, else
 * AIOS_E_INVALID_ARGUMENT), and (enc, ct) = SealBase(pkR, info, XAD, dk)
 * with a fresh ephemeral key pair (wiped inside the HPKE layer).
 * AIOS_E_KEY_USAGE for a key that is not X25519 or not for DERIVE;
 * AIOS_E_KEY_DESTROYED, AIOS_E_KEY_DISABLED, AIOS_E_KEY_DECRYPT_ONLY for a
 * key in such a state (sealing to it is a new use); AIOS_E_INVALID_ARGUMENT
 * for a public key of small order.  On failure *out is cleared. */
int aios__env_x25519_wrap(aios__env_x25519_record *out, const aios__env_binding *b,
                          const aios_key *recipient, const uint8_t dk[AIOS__ENV_DK_LEN]);
/* Release and clear; NULL and cleared records are fine. */
void aios__env_x25519_record_clear(aios__env_x25519_record *r);

/* Unwrap a kind-2 record r with the X25519 key `key` holding a private
 * part, into a new secure buffer of exactly 32 bytes.  The private key
 * never leaves its handle: dh = aios_key_agree(key, enc), then
 * ExtractAndExpand(dh, enc || pkR) with pkR the key's own public key,
 * KeySchedule and Open with XAD (built from r's recipient_public and
 * label as on the wire).  A key that is not the record's recipient, a
 * changed binding, record or label, a low-order enc: AIOS_E_AUTH.  The
 * key's failures pass through (AIOS_E_KEY_USAGE for a public-only or
 * non-X25519 key, AIOS_E_KEY_DISABLED, AIOS_E_KEY_DESTROYED); a record that
 * is not a well-formed kind-2 record is AIOS_E_INVALID_ARGUMENT. */
int aios__env_x25519_unwrap(aios_buffer **dk_out, const aios__env_binding *b,
                            const aios__env_recipient *r, const aios_key *key);

/* Resolve a key reference to a new handle the caller will unref:
 * AIOS_E_KEY_NOT_FOUND, AIOS_E_KEY_VERSION_NOT_FOUND or AIOS_E_NOT_FOUND
 * when the resolver holds no such key (no match: the next record is
 * tried); any other failure counts as a failed attempt. */
typedef int (*aios__env_resolve_fn)(void *arg, aios_key **out, const char *provider,
                                    const char *key_id, uint32_t version);

/* Called with each unwrapped data key (the commitment check); AIOS_OK
 * accepts it, a failure status makes the attempt fail with that status. */
typedef int (*aios__env_dk_check_fn)(void *arg, const uint8_t dk[AIOS__ENV_DK_LEN]);

/* Find the caller's X25519 key whose public key is pk (a kind-2 record's
 * recipient_public): AIOS_OK with a new reference the caller will unref,
 * or AIOS_E_NOT_FOUND when the caller holds no such key (no match: the
 * next record is tried); any other failure counts as a failed attempt. */
typedef int (*aios__env_match_x25519_fn)(void *arg, aios_key **out,
                                         const uint8_t pk[AIOS__ENV_X25519_LEN]);

typedef struct aios__env_selector {
    aios__env_resolve_fn  resolve;       /* kind 1; NULL: no kind-1 record matches */
    void                 *resolve_arg;
    aios__env_dk_check_fn check;         /* optional */
    void                 *check_arg;
    uint32_t              max_attempts;  /* 0: 8; else 1..64 */
    /* kind 2; NULL: no kind-2 record matches */
    aios__env_match_x25519_fn match_x25519;
    void                 *match_x25519_arg;
} aios__env_selector;

/* Section 6.4: walk recs[0..n) in order; skip kinds other than 1 and 2
 * (6.3), kind-1 records whose key the resolver does not hold and kind-2
 * records whose public key the matcher does not hold (a handle returned
 * for another key reference or public key, or a public-only X25519 handle,
 * is no match either); each
 * matched record, of either kind, is an attempt (unwrap, then sel->check);
 * the first attempt that passes gives *dk_out (secure, 32 bytes) and
 * *index_out (may be NULL).  Otherwise:
 *   - no record matched: AIOS_E_ENVELOPE_NO_RECIPIENT, the message naming
 *     the kinds seen;
 *   - max_attempts attempts failed and a later record could still have
 *     matched (a kind-1 record, with a resolver, or a kind-2 record, with
 *     a matcher, not yet looked at; it is not resolved): AIOS_E_LIMIT;
 *   - else the first failed attempt's status (AIOS_E_AUTH,
 *     AIOS_E_KEY_DESTROYED, AIOS_E_KEY_DISABLED, ...), the message saying
 *     how many attempts failed and quoting the first failure.
 * AIOS_E_INVALID_ARGUMENT for bad arguments (max_attempts over 64, neither
 * a resolver nor a matcher). */
int aios__env_select_unwrap(aios_buffer **dk_out, size_t *index_out,
                            const aios__env_binding *b, const aios__env_recipient *recs,
                            size_t n, const aios__env_selector *sel);

/* Section 7.3. */
typedef enum aios__env_ctx_mode {
    AIOS__ENV_CTX_EXACT  = 1,   /* the message's non-reserved entries are exactly want */
    AIOS__ENV_CTX_SUBSET = 2    /* every pair of want is in the message */
} aios__env_ctx_mode;

/* Compare a message's decoded context have[0..nhave) (sorted, checked, as
 * aios__env_header_decode gives it) with a caller's expected context
 * want[0..nwant) (any order).  Reserved "aios." entries of the message are
 * outside both comparisons.  Bytes are compared (not in constant time:
 * the context is public).  AIOS_E_INVALID_ARGUMENT when want names an
 * "aios." key, holds a key twice or more than 128 entries, or the mode is
 * unknown; a mismatch is AIOS_E_ENVELOPE_CONTEXT_MISMATCH, the message
 * naming the first differing key in byte order. */
int aios__env_context_expect(const aios__env_ctx_entry *have, size_t nhave,
                             const aios__env_ctx_entry *want, size_t nwant,
                             aios__env_ctx_mode mode);

#endif /* AIOS_LIB_ENVELOPE_RECIPIENT_H */
