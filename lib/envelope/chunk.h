/*
 * libaios envelope: the STREAM chunk layer of docs/FORMAT.md section 8
 * (private; not installed).
 *
 * A message's payload is cut into chunks of cs = core.chunk_size bytes
 * (the last one 1..cs, empty only for an empty message), and chunk i is
 *
 *     nonce_i = zeros(N - 5) || u32be(i) || u8(final)   N = 12 or 24
 *     chunk_i = Seal(Kc, nonce_i, aad = D, P_i) = ct_i || tag_i
 *
 * with Kc the message's content key (an aios__aead_key: AES-256-GCM for
 * suite 1, XChaCha20-Poly1305 for suite 2) and D the 32-byte core digest.
 *
 * Threads: sealing and opening single chunks touch nothing but the
 * read-only key object and the caller's buffers, so any number of threads
 * may seal or open different indices of one message at once.  An opener
 * (the streaming state machine) is used by one thread at a time.
 *
 * Status codes (section 12.4): a stream that ends before its final chunk
 * is AIOS_E_ENVELOPE_TRUNCATED, bytes after the final chunk
 * AIOS_E_ENVELOPE_TRAILING_DATA, a chunk that does not verify AIOS_E_AUTH.
 */
#ifndef AIOS_LIB_ENVELOPE_CHUNK_H
#define AIOS_LIB_ENVELOPE_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

#define AIOS__CHUNK_TAG_LEN      16
#define AIOS__CHUNK_DIGEST_LEN   32                        /* D */
#define AIOS__CHUNK_SIZE_MIN     4096u                     /* section 13 */
#define AIOS__CHUNK_SIZE_MAX     16777216u
#define AIOS__CHUNK_SIZE_DEFAULT 65536u
#define AIOS__CHUNK_COUNT_MAX    ((uint64_t)1 << 32)       /* chunks per message */
#define AIOS__CHUNK_PLAINTEXT_MAX ((uint64_t)1 << 48)      /* bytes per message */

/* ------------------------------------------------------- cutting (8.1) */

/* AIOS_OK if cs is a valid chunk size (4096..16 777 216), else
 * AIOS_E_FORMAT (section 13). */
int aios__chunk_size_check(uint32_t cs);

/* Number of chunks of a plaintext of pt_len bytes: max(1, ceil(pt_len /
 * cs)).  AIOS_E_LIMIT above 2^48 bytes or 2^32 chunks; AIOS_E_FORMAT for a
 * bad cs. */
int aios__chunk_count(uint64_t *n_out, uint64_t pt_len, uint32_t cs);

/* Plaintext offset and length of chunk i of a pt_len-byte plaintext, and
 * whether it is the final one.  AIOS_E_INVALID_ARGUMENT if i >= n. */
int aios__chunk_span(uint64_t *off_out, size_t *len_out, int *final_out,
                     uint64_t pt_len, uint32_t cs, uint64_t i);

/* The chunk holding plaintext byte x (x < pt_len) and x's offset inside
 * it, for random access.  AIOS_E_INVALID_ARGUMENT if x >= pt_len. */
int aios__chunk_locate(uint64_t *i_out, size_t *within_out,
                       uint64_t pt_len, uint32_t cs, uint64_t x);

/* Payload length (sum of the sealed chunks) of a pt_len-byte plaintext:
 * pt_len + 16 * n.  Same errors as aios__chunk_count. */
int aios__chunk_payload_len(uint64_t *out, uint64_t pt_len, uint32_t cs);

/* Section 8.5: from a payload length, the chunk count and the plaintext
 * length it implies.  A length no writer produces (0, or a last piece
 * shorter than 17 bytes after a full chunk, or shorter than 16) is
 * AIOS_E_ENVELOPE_TRUNCATED; over the limits AIOS_E_LIMIT. */
int aios__chunk_layout(uint64_t *n_out, uint64_t *pt_len_out, uint64_t payload_len,
                       uint32_t cs);

/* --------------------------------------------------- one chunk (8.2) */

/* The nonce of chunk i: zeros(N - 5) || u32be(i) || u8(final), N =
 * nonce_len (12 or 24).  AIOS_E_INVALID_ARGUMENT for another N or
 * i >= 2^32. */
int aios__chunk_nonce(uint8_t *nonce, size_t nonce_len, uint64_t i, int final);

/* Seal chunk i of a message with chunk size cs: out gets ct || tag, len +
 * 16 bytes; out may equal pt (in place).  The chunking rules are enforced:
 * a non-final chunk holds exactly cs bytes, a final one 1..cs, or 0 only
 * as chunk 0 (AIOS_E_INVALID_ARGUMENT otherwise).  A writer MUST seal each
 * index once (section 8.6). */
int aios__chunk_seal(const aios__aead_key *kc, const uint8_t d[AIOS__CHUNK_DIGEST_LEN],
                     uint32_t cs, uint64_t i, int final,
                     uint8_t *out, const uint8_t *pt, size_t len);

/* Open chunk i (chunk_len bytes, ct || tag) expecting the given final
 * flag; pt gets chunk_len - 16 bytes and may equal chunk (in place).  On
 * AIOS_E_AUTH every byte of pt is wiped.  A length that does not fit the
 * rules (a non-final chunk not cs + 16 bytes, a final one outside
 * 16..cs + 16, or 16 at i > 0): AIOS_E_INVALID_ARGUMENT (the caller cut
 * wrong; aios__chunk_layout() catches such payloads first). */
int aios__chunk_open(const aios__aead_key *kc, const uint8_t d[AIOS__CHUNK_DIGEST_LEN],
                     uint32_t cs, uint64_t i, int final,
                     uint8_t *pt, const uint8_t *chunk, size_t chunk_len);

/* ------------------------------------------------ streaming open (8.4) */

/* The streaming opener holds one chunk (cs + 16 bytes, allocated once)
 * and nothing else; plaintext goes to the caller's buffer.  It borrows kc
 * and copies d.
 *
 *   update(in, in_len, &used, out, out_cap, &out_len)
 *       consumes input until a chunk is complete AND at least one more
 *       byte follows (so it is known to be non-final), opens that chunk
 *       into out and returns (out_len = cs); otherwise consumes everything
 *       and sets out_len = 0.  Call again with in + used until used ==
 *       in_len.  out_cap must be >= cs.
 *   final(out, out_cap, &out_len)
 *       the input ended: opens the held piece as the final chunk.
 *
 * Statuses (8.4): AIOS_E_AUTH (a chunk does not verify, including a cut
 * inside a chunk), AIOS_E_ENVELOPE_TRUNCATED (the input ended with no
 * final chunk, or was cut at a chunk boundary),
 * AIOS_E_ENVELOPE_TRAILING_DATA (a full chunk that opens as final followed
 * by more input, or input after the final chunk), AIOS_E_LIMIT (2^32
 * chunks or 2^48 bytes without a final chunk).  An error is sticky: every
 * later call returns it.  No plaintext of a chunk is written to out before
 * its tag verifies, and out is wiped on failure; plaintext released by
 * earlier calls is provisional until final() returns AIOS_OK (section
 * 8.4). */
typedef struct aios__chunk_opener aios__chunk_opener;

/* first_index: the index of the first chunk fed (0 for a whole payload;
 * > 0 to read from a chunk boundary onwards). */
int  aios__chunk_opener_new(aios__chunk_opener **out, const aios__aead_key *kc,
                            const uint8_t d[AIOS__CHUNK_DIGEST_LEN], uint32_t cs,
                            uint64_t first_index);
void aios__chunk_opener_free(aios__chunk_opener *op);   /* NULL ok */
AIOS_NODISCARD
int  aios__chunk_opener_update(aios__chunk_opener *op, const uint8_t *in, size_t in_len,
                               size_t *used, uint8_t *out, size_t out_cap, size_t *out_len);
AIOS_NODISCARD
int  aios__chunk_opener_final(aios__chunk_opener *op, uint8_t *out, size_t out_cap,
                              size_t *out_len);
/* Bytes of input held right now (at most cs + 16), and bytes the opener
 * allocated (its struct and its one chunk buffer): for tests. */
size_t aios__chunk_opener_held(const aios__chunk_opener *op);
size_t aios__chunk_opener_footprint(const aios__chunk_opener *op);
/* Chunks opened so far (the next chunk's index minus first_index). */
uint64_t aios__chunk_opener_count(const aios__chunk_opener *op);

#endif /* AIOS_LIB_ENVELOPE_CHUNK_H */
