/*
 * lib/envelope: recipient records of kind 1 (symmetric KEK), record
 * selection when opening, and the expected-context check (docs/FORMAT.md
 * sections 6.1, 6.3, 6.4, 7.3).  Private; not installed.
 *
 *   - aios__env_kek_wad: the wrap associated data WAD of section 6.1,
 *   - aios__env_kek_wrap / aios__env_kek_unwrap: one kind-1 record,
 *   - aios__env_select_unwrap: section 6.4 over a decoded recipient list,
 *     with a caller's key resolver and an optional per-attempt check (the
 *     commitment check of section 5, done by the header layer),
 *   - aios__env_context_expect: section 7.3, exact and subset modes.
 *
 * Kind 2 (X25519 HPKE, section 6.2) is not here yet: selection treats such
 * records as records the caller holds no key for.
 *
 * Statuses.  The envelope status block (section 12.4) is not in the public
 * header yet; until it is:
 *   AIOS_E_ENVELOPE_NO_RECIPIENT      -> AIOS_E_NOT_FOUND
 *   AIOS_E_ENVELOPE_CONTEXT_MISMATCH  -> AIOS_E_AUTH
 * each site marked "TODO(envelope status)" in recipient.c.
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

/* Resolve a key reference to a new handle the caller will unref:
 * AIOS_E_KEY_NOT_FOUND, AIOS_E_KEY_VERSION_NOT_FOUND or AIOS_E_NOT_FOUND
 * when the resolver holds no such key (no match: the next record is
 * tried); any other failure counts as a failed attempt. */
typedef int (*aios__env_resolve_fn)(void *arg, aios_key **out, const char *provider,
                                    const char *key_id, uint32_t version);

/* Called with each unwrapped data key (the commitment check); AIOS_OK
 * accepts it, a failure status makes the attempt fail with that status. */
typedef int (*aios__env_dk_check_fn)(void *arg, const uint8_t dk[AIOS__ENV_DK_LEN]);

typedef struct aios__env_selector {
    aios__env_resolve_fn  resolve;       /* required */
    void                 *resolve_arg;
    aios__env_dk_check_fn check;         /* optional */
    void                 *check_arg;
    uint32_t              max_attempts;  /* 0: 8; else 1..64 */
} aios__env_selector;

/* Section 6.4: walk recs[0..n) in order; skip kinds other than 1 (6.3; kind
 * 2 for now too) and records whose key the resolver does not hold; each
 * resolved record is an attempt (unwrap, then sel->check); the first
 * attempt that passes gives *dk_out (secure, 32 bytes) and *index_out (may
 * be NULL).  Otherwise:
 *   - no record matched: AIOS_E_NOT_FOUND (TODO(envelope status):
 *     AIOS_E_ENVELOPE_NO_RECIPIENT), the message naming the kinds seen;
 *   - max_attempts attempts failed and a later record could still have
 *     matched (a kind-1 record not yet looked at; it is not resolved):
 *     AIOS_E_LIMIT;
 *   - else the first failed attempt's status (AIOS_E_AUTH,
 *     AIOS_E_KEY_DESTROYED, AIOS_E_KEY_DISABLED, ...), the message saying
 *     how many attempts failed and quoting the first failure.
 * AIOS_E_INVALID_ARGUMENT for bad arguments (max_attempts over 64). */
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
 * unknown; a mismatch is AIOS_E_AUTH (TODO(envelope status):
 * AIOS_E_ENVELOPE_CONTEXT_MISMATCH), the message naming the first
 * differing key in byte order. */
int aios__env_context_expect(const aios__env_ctx_entry *have, size_t nhave,
                             const aios__env_ctx_entry *want, size_t nwant,
                             aios__env_ctx_mode mode);

#endif /* AIOS_LIB_ENVELOPE_RECIPIENT_H */
