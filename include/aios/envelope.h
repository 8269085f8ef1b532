/*
 * libaios envelope: envelope encryption (docs/FORMAT.md).
 *
 * A message is sealed under a fresh random data key, wrapped for one or
 * more recipients of mixed kinds:
 *
 *   - a symmetric key-encryption key (any key handle of type AES-256 or
 *     RSA with purpose WRAP, from any provider: local keyring, PKCS#11,
 *     host KMS callback), or
 *   - an X25519 public key (a handle from aios_key_from_public_pem, or any
 *     X25519 handle): HPKE (RFC 9180), so a producer holding no secret can
 *     seal to a service.
 *
 * The encryption context (a map of UTF-8 strings) is readable without a
 * key, bound to everything, and can be required when opening.  Every
 * message is key-committing: whoever opens it, with whichever key, reads
 * the same bytes or fails.
 *
 * Shapes:
 *   - one-shot:      aios_envelope_seal / aios_envelope_open;
 *   - streaming:     aios_envelope_sealer / aios_envelope_opener (constant
 *                    memory, chunks sealed and opened on several threads),
 *                    and the file-descriptor loops aios_envelope_seal_fd /
 *                    aios_envelope_open_fd;
 *   - random access: aios_envelope_reader (read any byte range of a sealed
 *                    file or buffer; only the chunks it touches are
 *                    decrypted);
 *   - rewrap:        aios_envelope_rewrap (new recipients, payload untouched);
 *   - sessions:      aios_envelope_session, one wrapped data key for many
 *                    small records at nearly the cost of the bare AEAD;
 *   - JSON fields:   aios_envelope_fields_encrypt / _decrypt (RFC 6901
 *                    pointers; random, or explicitly deterministic, mode).
 *
 * Keys for opening are collected once in an aios_envelope_keys set (key
 * handles, and providers that resolve the key references a message names).
 *
 * Threads: an aios_envelope_keys set is immutable once shared and may be
 * used by any number of threads; so may a session (sealing and opening
 * records concurrently) and a reader.  A sealer or opener is used by one
 * thread at a time (it may run its own worker threads).  Plaintext never
 * appears in error messages.
 */
#ifndef AIOS_ENVELOPE_H
#define AIOS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "aios/core.h"
#include "aios/export.h"
#include "aios/key.h"

AIOS_BEGIN_DECLS

/* ============================================================ constants */

/* Suites (docs/FORMAT.md section 4).  AUTO picks AES-256-GCM where the CPU
 * has AES-NI and PCLMUL, XChaCha20-Poly1305 otherwise; PORTABLE is
 * XChaCha20-Poly1305 always (for readers without AES instructions). */
typedef enum aios_envelope_suite {
    AIOS_ENVELOPE_SUITE_AUTO              = 0,
    AIOS_ENVELOPE_SUITE_AES256GCM         = 1,
    AIOS_ENVELOPE_SUITE_XCHACHA20POLY1305 = 2,
    AIOS_ENVELOPE_SUITE_AES256SIV         = 3,  /* deterministic records only */
    AIOS_ENVELOPE_SUITE_PORTABLE          = 0x100,
    AIOS_ENVELOPE_SUITE__FORCE32          = 0x7fffffff
} aios_envelope_suite;

/* "aes256gcm", "xchacha20poly1305", "aes256siv", "auto", "portable";
 * "unknown" otherwise. */
AIOS_API const char *aios_envelope_suite_name(aios_envelope_suite suite);

#define AIOS_ENVELOPE_CHUNK_SIZE_MIN     4096u
#define AIOS_ENVELOPE_CHUNK_SIZE_MAX     16777216u
#define AIOS_ENVELOPE_CHUNK_SIZE_DEFAULT 65536u
#define AIOS_ENVELOPE_HEADER_MAX         163922u   /* largest M or S header */
#define AIOS_ENVELOPE_RECIPIENTS_MAX     64u
#define AIOS_ENVELOPE_CONTEXT_MAX        128u      /* entries */
#define AIOS_ENVELOPE_RECORD_OVERHEAD    74u       /* session record: 10+32+16 + tag 16 */
#define AIOS_ENVELOPE_RECORD_MAX         16777216u /* session record plaintext */
#define AIOS_ENVELOPE_RECORD_AD_MAX      65536u
#define AIOS_ENVELOPE_SESSION_ID_LEN     32u       /* the session's commitment C */
/* The same constants as functions, for bindings. */
AIOS_API size_t aios_envelope_header_max(void);
AIOS_API size_t aios_envelope_record_overhead(void);

/* One entry of an encryption context: NUL-terminated UTF-8.  Keys are
 * 1..256 bytes without control characters and must not start with the
 * reserved "aios."; values 0..4096 bytes.  Order does not matter (the
 * library sorts); a key given twice is AIOS_E_INVALID_ARGUMENT. */
typedef struct aios_envelope_context_entry {
    const char *key;
    const char *value;
} aios_envelope_context_entry;

/* ============================================================ key sets
 *
 * What an opener holds: key handles (matched against the records by
 * provider, key id and version, or by X25519 public key) and providers
 * (asked for the key a KEK record names, by provider name).  Each add
 * takes a reference.  Add everything before sharing the set between
 * threads; after that it is read-only.
 */
typedef struct aios_envelope_keys aios_envelope_keys;

AIOS_API int aios_envelope_keys_new(aios_envelope_keys **out);
AIOS_API void aios_envelope_keys_free(aios_envelope_keys *keys);
/* AIOS_E_LIMIT beyond 256 keys or 16 providers. */
AIOS_API int aios_envelope_keys_add_key(aios_envelope_keys *keys, aios_key *key);
AIOS_API int aios_envelope_keys_add_provider(aios_envelope_keys *keys, aios_provider *provider);

/* ============================================================ options */

#define AIOS_ENVELOPE_SEAL_OPTIONS_VERSION 1
typedef struct aios_envelope_seal_options {
    unsigned int version;     /* AIOS_ENVELOPE_SEAL_OPTIONS_VERSION */
    aios_envelope_suite suite;/* 0: AUTO */
    uint32_t chunk_size;      /* 0: 65536; else 4096..16777216 */
    uint32_t threads;         /* worker threads for chunks (0: 1; at most 64) */
} aios_envelope_seal_options;
#define AIOS_ENVELOPE_SEAL_OPTIONS_INIT { AIOS_ENVELOPE_SEAL_OPTIONS_VERSION, AIOS_ENVELOPE_SUITE_AUTO, 0, 0 }
AIOS_API int aios_envelope_seal_options_init(aios_envelope_seal_options *opts, unsigned int version);

/* How an expected context is compared (FORMAT.md 7.3).  Reserved "aios."
 * entries are outside both comparisons. */
typedef enum aios_envelope_context_mode {
    AIOS_ENVELOPE_CONTEXT_ANY    = 0,  /* no check (the default) */
    AIOS_ENVELOPE_CONTEXT_EXACT  = 1,  /* the message's context is exactly the expected one */
    AIOS_ENVELOPE_CONTEXT_SUBSET = 2,  /* every expected pair is in the message's context */
    AIOS_ENVELOPE_CONTEXT__FORCE32 = 0x7fffffff
} aios_envelope_context_mode;

#define AIOS_ENVELOPE_OPEN_OPTIONS_VERSION 1
typedef struct aios_envelope_open_options {
    unsigned int version;                          /* AIOS_ENVELOPE_OPEN_OPTIONS_VERSION */
    const aios_envelope_context_entry *expected_context;
    size_t expected_context_count;
    aios_envelope_context_mode context_mode;       /* EXACT or SUBSET when a context is given */
    uint32_t max_unwrap_attempts;                  /* 0: 8; else 1..64 */
    uint32_t no_soft_gcm;                          /* 1: refuse the software AES-GCM path */
    uint32_t threads;                              /* worker threads for chunks (0: 1) */
} aios_envelope_open_options;
#define AIOS_ENVELOPE_OPEN_OPTIONS_INIT { AIOS_ENVELOPE_OPEN_OPTIONS_VERSION, NULL, 0, AIOS_ENVELOPE_CONTEXT_ANY, 0, 0, 0 }
AIOS_API int aios_envelope_open_options_init(aios_envelope_open_options *opts, unsigned int version);

/* ============================================================ one-shot
 *
 * recipients: 1..64 key handles (KEK or X25519, mixed).  A KEK must allow
 * wrapping (its failures pass through: AIOS_E_KEY_DECRYPT_ONLY, ...).  On
 * any failure nothing is written to *out.
 */
AIOS_API int aios_envelope_seal(aios_buffer **out,
                                aios_key *const *recipients, size_t recipient_count,
                                const aios_envelope_context_entry *context, size_t context_count,
                                const uint8_t *plaintext, size_t plaintext_len,
                                const aios_envelope_seal_options *opts);
/* The same into caller memory (for foreign-function callers, as
 * aios_envelope_open_into): out has room for out_cap bytes and must not
 * overlap plaintext; *out_len receives the message's length.  When out_cap
 * is short: AIOS_E_BUFFER_TOO_SMALL with *out_len = the length needed and
 * nothing written (the fresh data key is discarded; a second call seals
 * with another).  The header's length depends on the recipients (their
 * key references and wrapped keys) and the context only, so a caller
 * sealing many messages to the same recipients and context can size out
 * exactly from the first.  32-bit lengths: messages over 4 GiB are
 * AIOS_E_LIMIT here (use aios_envelope_seal or a sealer).  Other statuses
 * as for aios_envelope_seal, with *out_len 0. */
AIOS_API int aios_envelope_seal_into(uint8_t *out, uint32_t out_cap, uint32_t *out_len,
                                     aios_key *const *recipients, uint32_t recipient_count,
                                     const aios_envelope_context_entry *context,
                                     uint32_t context_count,
                                     const uint8_t *plaintext, uint32_t plaintext_len,
                                     const aios_envelope_seal_options *opts);

/* Open a whole message into a new buffer (ordinary memory, so any size
 * fits; wiped by aios_buffer_free; copy small secrets into a secure buffer
 * if they must not be swapped).  Nothing is released unless every chunk
 * verified.  Statuses (FORMAT.md 12.1): AIOS_E_FORMAT,
 * AIOS_E_VERSION, AIOS_E_LIMIT, AIOS_E_ENVELOPE_CONTEXT_MISMATCH (checked
 * before any key is used), AIOS_E_ENVELOPE_NO_RECIPIENT, the first failed
 * unwrap's status (AIOS_E_AUTH, AIOS_E_KEY_DISABLED, ...),
 * AIOS_E_ENVELOPE_COMMITMENT, AIOS_E_AUTH (header tag, a chunk),
 * AIOS_E_ENVELOPE_TRUNCATED, AIOS_E_ENVELOPE_TRAILING_DATA,
 * AIOS_E_UNSUPPORTED. */
AIOS_NODISCARD AIOS_API int aios_envelope_open(aios_buffer **plaintext_out,
                                               const aios_envelope_keys *keys,
                                               const uint8_t *message, size_t message_len,
                                               const aios_envelope_open_options *opts);
/* The same into caller memory, for small messages and foreign-function
 * callers (ctypes, where a call that allocates, then three more to read and
 * free the buffer, cost more than opening a small message): out has room
 * for out_cap bytes and must not overlap message; *out_len receives the
 * plaintext's length, which is always less than message_len (so out_cap =
 * message_len always fits; out may be NULL when out_cap is 0).  The
 * lengths are 32-bit: messages of 4 GiB and more take aios_envelope_open
 * or the streaming calls.  Statuses as for aios_envelope_open, and
 * AIOS_E_BUFFER_TOO_SMALL with *out_len = the plaintext's length when
 * out_cap is short (out untouched).  On any other failure *out_len is 0
 * and, once the plaintext was found to fit, out[0..its length) is zeroed:
 * nothing is released unless every chunk verified. */
AIOS_NODISCARD AIOS_API int aios_envelope_open_into(const aios_envelope_keys *keys,
                                                    uint8_t *out, uint32_t out_cap,
                                                    uint32_t *out_len,
                                                    const uint8_t *message, uint32_t message_len,
                                                    const aios_envelope_open_options *opts);

/* Describe a header (M or S) without keys, as JSON:
 *   {"type":"message"|"session","suite":"aes256gcm","suite_id":1,
 *    "flags":0,"deterministic":false,"message_id":"<hex>",
 *    "session_id":"<hex C>","context":{"k":"v",...},"chunk_size":65536,
 *    "header_len":N,"recipients":[{"kind":"kek","provider":"local",
 *    "key_id":"k","version":1} | {"kind":"x25519","public_key":"<hex>",
 *    "label":"..."} | {"kind":99}],"authenticated":false}
 * after the structural checks; nothing in it is authenticated yet.
 * data may be the first bytes of a longer message (at least the header). */
AIOS_API int aios_envelope_peek(aios_buffer **json_out, const uint8_t *data, size_t data_len);

/* The header's length from its first bytes (FORMAT.md 3.3): AIOS_OK with
 * *len_out once it can be told (after 18 + Lc bytes; the header itself may
 * not be complete yet), or AIOS_E_BUFFER_TOO_SMALL with *len_out = bytes
 * needed to go on (14 first, then 18 + Lc); AIOS_E_FORMAT / _VERSION /
 * _LIMIT for bytes that are not a header. */
AIOS_API int aios_envelope_header_len(size_t *len_out, const uint8_t *data, size_t data_len);

/* ============================================================ streaming
 *
 * A sealer holds at most one chunk of input (plus one chunk per worker
 * thread while sealing).  Output: the header first, then sealed chunks.
 * update consumes all its input; out_cap must be at least
 * aios_envelope_sealer_bound(s, in_len) (AIOS_E_BUFFER_TOO_SMALL
 * otherwise, nothing consumed).  final writes the rest (the last chunk).
 * After a failure or final, every call fails with AIOS_E_STATE.
 */
typedef struct aios_envelope_sealer aios_envelope_sealer;

AIOS_API int aios_envelope_sealer_new(aios_envelope_sealer **out,
                                      aios_key *const *recipients, size_t recipient_count,
                                      const aios_envelope_context_entry *context, size_t context_count,
                                      const aios_envelope_seal_options *opts);
AIOS_API void aios_envelope_sealer_free(aios_envelope_sealer *s);
/* Largest output of one update with in_len bytes of input, or of final
 * (in_len 0). */
AIOS_API size_t aios_envelope_sealer_bound(const aios_envelope_sealer *s, size_t in_len);
AIOS_API int aios_envelope_sealer_update(aios_envelope_sealer *s,
                                         uint8_t *out, size_t out_cap, size_t *out_len,
                                         const uint8_t *in, size_t in_len);
AIOS_API int aios_envelope_sealer_final(aios_envelope_sealer *s,
                                        uint8_t *out, size_t out_cap, size_t *out_len);

/* An opener reads a message as it arrives: the header, then chunks.  The
 * key is found once the header is complete.  update consumes all its
 * input; out_cap must be at least aios_envelope_opener_bound(o, in_len).
 * No plaintext of a chunk is written before its tag verifies, but the
 * plaintext of earlier chunks has been released when a later one fails:
 * treat output as provisional until final returns AIOS_OK (FORMAT.md 8.4).
 * Errors are sticky. */
typedef struct aios_envelope_opener aios_envelope_opener;

AIOS_API int aios_envelope_opener_new(aios_envelope_opener **out, const aios_envelope_keys *keys,
                                      const aios_envelope_open_options *opts);
AIOS_API void aios_envelope_opener_free(aios_envelope_opener *o);
AIOS_API size_t aios_envelope_opener_bound(const aios_envelope_opener *o, size_t in_len);
AIOS_NODISCARD AIOS_API int aios_envelope_opener_update(aios_envelope_opener *o,
                                                        uint8_t *out, size_t out_cap, size_t *out_len,
                                                        const uint8_t *in, size_t in_len);
AIOS_NODISCARD AIOS_API int aios_envelope_opener_final(aios_envelope_opener *o,
                                                       uint8_t *out, size_t out_cap, size_t *out_len);
/* After the header was read: the JSON of aios_envelope_peek, now with
 * "authenticated":true and "opened_by":<index of the recipient record>.
 * AIOS_E_STATE before. */
AIOS_API int aios_envelope_opener_info(const aios_envelope_opener *o, aios_buffer **json_out);

/* Loops over file descriptors (files, pipes, sockets), constant memory:
 * read in_fd to its end, write to out_fd.  The descriptors are not closed.
 * On failure of open_fd, what was written to out_fd is not to be used.
 * AIOS_E_IO names the failing call. */
AIOS_API int aios_envelope_seal_fd(int out_fd, int in_fd,
                                   aios_key *const *recipients, size_t recipient_count,
                                   const aios_envelope_context_entry *context, size_t context_count,
                                   const aios_envelope_seal_options *opts);
AIOS_NODISCARD AIOS_API int aios_envelope_open_fd(int out_fd, int in_fd, const aios_envelope_keys *keys,
                                                  const aios_envelope_open_options *opts);

/* ============================================================ random access
 *
 * A reader over a whole sealed message in memory (borrowed, must outlive
 * the reader) or in a file (pread on a descriptor the reader dup()s).  On
 * creation it opens the header and verifies the final chunk, so the
 * plaintext length is proven.  read decrypts only the chunks the range
 * touches; any number of threads may read at once.
 */
typedef struct aios_envelope_reader aios_envelope_reader;

AIOS_API int aios_envelope_reader_new_mem(aios_envelope_reader **out, const aios_envelope_keys *keys,
                                          const uint8_t *message, size_t message_len,
                                          const aios_envelope_open_options *opts);
AIOS_API int aios_envelope_reader_new_fd(aios_envelope_reader **out, const aios_envelope_keys *keys,
                                         int fd, const aios_envelope_open_options *opts);
AIOS_API void aios_envelope_reader_free(aios_envelope_reader *r);
AIOS_API uint64_t aios_envelope_reader_size(const aios_envelope_reader *r);     /* plaintext bytes */
AIOS_API uint32_t aios_envelope_reader_chunk_size(const aios_envelope_reader *r);
/* Read len bytes of plaintext at offset into out; *out_len is less than
 * len only at the end.  AIOS_E_AUTH if a chunk fails (out wiped). */
AIOS_NODISCARD AIOS_API int aios_envelope_reader_read(const aios_envelope_reader *r, uint64_t offset,
                                                      uint8_t *out, size_t len, size_t *out_len);
AIOS_API int aios_envelope_reader_info(const aios_envelope_reader *r, aios_buffer **json_out);

/* ============================================================ rewrap
 *
 * Re-encrypt the recipient records of a message or session header:
 * payload, core, commitment untouched (FORMAT.md section 10).  keys must
 * open the header (it is authenticated first).  data holds at least the
 * header; *header_out gets the new header, to be followed by the old
 * payload (data[header_len..]) unchanged.
 *
 * The new recipient list: the old records, minus those of `remove` keys
 * (KEK records naming the same provider, id and version; X25519 records
 * with the same public key), minus, for each added KEK, the records of any
 * version of the same provider and key id (so adding version 2 of a key
 * replaces version 1), then the added recipients.  flags
 * AIOS_ENVELOPE_REWRAP_REPLACE_ALL drops every old record.  An empty
 * result is AIOS_E_INVALID_ARGUMENT.
 */
#define AIOS_ENVELOPE_REWRAP_REPLACE_ALL 0x1u

#define AIOS_ENVELOPE_REWRAP_OPTIONS_VERSION 1
typedef struct aios_envelope_rewrap_options {
    unsigned int version;                          /* AIOS_ENVELOPE_REWRAP_OPTIONS_VERSION */
    aios_key *const *remove;
    size_t remove_count;
    uint32_t flags;                                /* AIOS_ENVELOPE_REWRAP_* */
    uint32_t max_unwrap_attempts;                  /* 0: 8 */
} aios_envelope_rewrap_options;
#define AIOS_ENVELOPE_REWRAP_OPTIONS_INIT { AIOS_ENVELOPE_REWRAP_OPTIONS_VERSION, NULL, 0, 0, 0 }
AIOS_API int aios_envelope_rewrap_options_init(aios_envelope_rewrap_options *opts, unsigned int version);

AIOS_API int aios_envelope_rewrap(aios_buffer **header_out, size_t *old_header_len_out,
                                  const aios_envelope_keys *keys,
                                  const uint8_t *data, size_t data_len,
                                  aios_key *const *add, size_t add_count,
                                  const aios_envelope_rewrap_options *opts);
/* The same over descriptors: read the header from in_fd, write the new
 * header to out_fd, then copy the payload unread. */
AIOS_API int aios_envelope_rewrap_fd(int out_fd, int in_fd, const aios_envelope_keys *keys,
                                     aios_key *const *add, size_t add_count,
                                     const aios_envelope_rewrap_options *opts);

/* ============================================================ sessions
 *
 * A session (FORMAT.md section 9.2) is one data key, wrapped once in a
 * session header, for many small records.  A writer creates one and
 * stores or sends its header once; a reader opens the header once (one
 * unwrap) and then opens records at nearly the cost of the bare AEAD: no
 * wrap, no allocation, no system call per record.  Records of a session
 * name it by its 32-byte id (the commitment C).  Sessions are immutable
 * and may seal and open from any number of threads at once.
 */
typedef struct aios_envelope_session aios_envelope_session;

#define AIOS_ENVELOPE_SESSION_DETERMINISTIC 0x1u   /* allow deterministic fields */

#define AIOS_ENVELOPE_SESSION_OPTIONS_VERSION 1
typedef struct aios_envelope_session_options {
    unsigned int version;          /* AIOS_ENVELOPE_SESSION_OPTIONS_VERSION */
    aios_envelope_suite suite;     /* 0: AUTO */
    uint32_t flags;                /* AIOS_ENVELOPE_SESSION_* */
    uint64_t max_records;          /* records this writer may seal (0: 2^32, the most) */
} aios_envelope_session_options;
#define AIOS_ENVELOPE_SESSION_OPTIONS_INIT { AIOS_ENVELOPE_SESSION_OPTIONS_VERSION, AIOS_ENVELOPE_SUITE_AUTO, 0, 0 }
AIOS_API int aios_envelope_session_options_init(aios_envelope_session_options *opts, unsigned int version);

/* A new writing session: a fresh data key wrapped for the recipients. */
AIOS_API int aios_envelope_session_new(aios_envelope_session **out,
                                       aios_key *const *recipients, size_t recipient_count,
                                       const aios_envelope_context_entry *context, size_t context_count,
                                       const aios_envelope_session_options *opts);
/* Open a session header (as aios_envelope_open does a message header). */
AIOS_NODISCARD AIOS_API int aios_envelope_session_open(aios_envelope_session **out,
                                                       const aios_envelope_keys *keys,
                                                       const uint8_t *header, size_t header_len,
                                                       const aios_envelope_open_options *opts);
AIOS_API aios_envelope_session *aios_envelope_session_ref(aios_envelope_session *s);
AIOS_API void aios_envelope_session_unref(aios_envelope_session *s);
/* The session header (borrowed, lives as long as the session). */
AIOS_API const uint8_t *aios_envelope_session_header(const aios_envelope_session *s, size_t *len_out);
/* The session id C (32 bytes, borrowed). */
AIOS_API const uint8_t *aios_envelope_session_id(const aios_envelope_session *s);
/* The JSON of aios_envelope_peek for the session header, authenticated. */
AIOS_API int aios_envelope_session_info(const aios_envelope_session *s, aios_buffer **json_out);

/* Seal one record of len bytes (0..16 MiB) with associated data ad
 * (0..65536 bytes, not stored: it must be given again to open) into out:
 * exactly len + AIOS_ENVELOPE_RECORD_OVERHEAD bytes
 * (AIOS_E_BUFFER_TOO_SMALL otherwise); out_len may be NULL (the length
 * is always that).  AIOS_E_LIMIT once max_records records were sealed;
 * AIOS_E_STATE for a session opened from a header that was not made by
 * this process (readers do not write). */
AIOS_API int aios_envelope_session_seal(aios_envelope_session *s,
                                        uint8_t *out, size_t out_cap, size_t *out_len,
                                        const uint8_t *plaintext, size_t plaintext_len,
                                        const uint8_t *ad, size_t ad_len);
/* Open a record into out (record_len - AIOS_ENVELOPE_RECORD_OVERHEAD
 * bytes; out_len may be NULL, the length is always that).
 * AIOS_E_ENVELOPE_UNKNOWN_SESSION if it names another session; AIOS_E_AUTH
 * if it or ad was changed (out wiped). */
AIOS_NODISCARD AIOS_API int aios_envelope_session_open_record(const aios_envelope_session *s,
                                                              uint8_t *out, size_t out_cap, size_t *out_len,
                                                              const uint8_t *record, size_t record_len,
                                                              const uint8_t *ad, size_t ad_len);
/* The same two for foreign-function callers (ctypes, where each argument
 * costs more than a small record): out holds exactly plaintext_len +
 * AIOS_ENVELOPE_RECORD_OVERHEAD bytes (seal), or exactly record_len -
 * AIOS_ENVELOPE_RECORD_OVERHEAD bytes (open), as libsodium's AEAD calls
 * size their output; the lengths are 32-bit, which every record fits
 * (a record's limits are 16 MiB and 64 KiB of ad).  Statuses as for
 * aios_envelope_session_seal and aios_envelope_session_open_record. */
AIOS_API int aios_envelope_session_seal_exact(aios_envelope_session *s, uint8_t *out,
                                              const uint8_t *plaintext, uint32_t plaintext_len,
                                              const uint8_t *ad, uint32_t ad_len);
AIOS_NODISCARD AIOS_API int aios_envelope_session_open_exact(const aios_envelope_session *s,
                                                             uint8_t *out, const uint8_t *record,
                                                             uint32_t record_len,
                                                             const uint8_t *ad, uint32_t ad_len);
/* Seal n records in one call (for bindings, where a call costs more than
 * a small record).  Record i is plaintext_lens[i] bytes of plaintexts,
 * laid back to back, with associated data ad_lens[i] bytes of ads, also
 * back to back (ad_lens NULL: no associated data for any record).  out
 * receives the records back to back, record i being exactly what
 * aios_envelope_session_seal makes of it (plaintext_lens[i] +
 * AIOS_ENVELOPE_RECORD_OVERHEAD bytes, opened by
 * aios_envelope_session_open_record); *out_len is the total.  Limits as
 * for one record (each checked before anything is sealed; the message
 * names the record); sums that overflow a size_t are AIOS_E_LIMIT.
 * AIOS_E_BUFFER_TOO_SMALL with *out_len = the size needed, nothing sealed
 * and nothing counted.  The n records count against max_records at once:
 * AIOS_E_LIMIT, nothing sealed, if fewer than n remain.  n = 0 is AIOS_OK
 * with *out_len 0. */
AIOS_API int aios_envelope_session_seal_batch(aios_envelope_session *s,
                                              uint8_t *out, size_t out_cap, size_t *out_len,
                                              const uint8_t *plaintexts, const size_t *plaintext_lens,
                                              size_t n, const uint8_t *ads, const size_t *ad_lens);
/* Open n records (record i is record_lens[i] bytes of records, back to
 * back; associated data as for seal_batch) into out, the plaintexts back
 * to back (record_lens[i] - AIOS_ENVELOPE_RECORD_OVERHEAD bytes each);
 * *out_len is the total.  All or nothing: every record's structure and
 * session is checked before anything is written (AIOS_E_BUFFER_TOO_SMALL
 * with *out_len = the size needed after that), and if any record fails,
 * the statuses of aios_envelope_session_open_record (AIOS_E_AUTH,
 * AIOS_E_ENVELOPE_UNKNOWN_SESSION, AIOS_E_FORMAT, AIOS_E_LIMIT...) come
 * back with the plaintext written so far wiped, *out_len 0, the message
 * naming the record and *failed_index_out (may be NULL) = its index.
 * *failed_index_out is (size_t)-1 when no single record is at fault
 * (success, arguments, buffer size). */
AIOS_NODISCARD AIOS_API int aios_envelope_session_open_batch(const aios_envelope_session *s,
                                                             uint8_t *out, size_t out_cap,
                                                             size_t *out_len,
                                                             const uint8_t *records,
                                                             const size_t *record_lens, size_t n,
                                                             const uint8_t *ads,
                                                             const size_t *ad_lens,
                                                             size_t *failed_index_out);
/* The id of the session a record (R or D) names, for finding it in a
 * table.  AIOS_E_FORMAT for bytes that are not a record. */
AIOS_API int aios_envelope_record_session_id(uint8_t id_out[AIOS_ENVELOPE_SESSION_ID_LEN],
                                             const uint8_t *record, size_t record_len);

/* ============================================================ JSON fields
 *
 * Encrypt chosen values of a JSON document (RFC 8259 text, UTF-8), named
 * by RFC 6901 pointers, in place: each becomes the string
 * "aios:f1:<base64url>", the rest stays readable (FORMAT.md section 11).
 * Strings, integers, true, false and null come back with their type;
 * reals, objects and arrays (random mode only) as their compact JSON.
 *
 * Random mode (default): equal values give unrelated strings.
 * Deterministic mode (AIOS_ENVELOPE_FIELDS_DETERMINISTIC, needs a session
 * made with AIOS_ENVELOPE_SESSION_DETERMINISTIC): AES-SIV (RFC 5297); the
 * same value at the same pointer (and record id) in the same session gives
 * the same string, so fields can be joined and searched for equality.
 * This REVEALS WHICH VALUES ARE EQUAL to anyone who can read the
 * documents; use it only for fields that must be joinable.
 *
 * record_id (optional, 0..256 bytes, e.g. the document's primary key) is
 * bound too, so a field cannot be moved to another document.
 *
 * A pointer that does not resolve is AIOS_E_NOT_FOUND (the message names
 * it) unless AIOS_ENVELOPE_FIELDS_SKIP_MISSING; a field already encrypted
 * is left as it is.  Output keeps the document's key order.
 */
#define AIOS_ENVELOPE_FIELDS_DETERMINISTIC 0x1u
#define AIOS_ENVELOPE_FIELDS_SKIP_MISSING  0x2u

#define AIOS_ENVELOPE_FIELDS_OPTIONS_VERSION 1
typedef struct aios_envelope_fields_options {
    unsigned int version;          /* AIOS_ENVELOPE_FIELDS_OPTIONS_VERSION */
    uint32_t flags;                /* AIOS_ENVELOPE_FIELDS_* */
    const uint8_t *record_id;
    size_t record_id_len;
} aios_envelope_fields_options;
#define AIOS_ENVELOPE_FIELDS_OPTIONS_INIT { AIOS_ENVELOPE_FIELDS_OPTIONS_VERSION, 0, NULL, 0 }
AIOS_API int aios_envelope_fields_options_init(aios_envelope_fields_options *opts, unsigned int version);

AIOS_API int aios_envelope_fields_encrypt(aios_buffer **json_out, aios_envelope_session *session,
                                          const char *json, size_t json_len,
                                          const char *const *pointers, size_t pointer_count,
                                          const aios_envelope_fields_options *opts);
/* Decrypt every "aios:f1:" string of the document with whichever of the
 * sessions it names (AIOS_E_ENVELOPE_UNKNOWN_SESSION naming the pointer if
 * none); record_id as at encryption.  Output into a secure buffer. */
AIOS_NODISCARD AIOS_API int aios_envelope_fields_decrypt(aios_buffer **json_out,
                                                         aios_envelope_session *const *sessions,
                                                         size_t session_count,
                                                         const char *json, size_t json_len,
                                                         const aios_envelope_fields_options *opts);

AIOS_END_DECLS

#endif /* AIOS_ENVELOPE_H */
