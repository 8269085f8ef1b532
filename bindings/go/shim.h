/*
 * The C half of the Go binding: one small shim per fallible libaios
 * function, plus the trampolines that carry C callbacks into Go.
 *
 * Why shims.  libaios keeps error details per OS thread
 * (aios_last_error_message()).  A goroutine may move to another thread
 * between two cgo calls, so Go must never read those details in a second
 * cgo call.  Each shim therefore clears the record, calls the function and,
 * when it fails, copies status, name, kind and message into a caller-owned
 * aiosgo_err, all inside the single cgo call.
 *
 * Pattern for a new function (copy it for key handles, envelopes, ...):
 *
 *   int aiosgo_<module>_<verb>(<args>, aiosgo_err *err)
 *   {
 *       int rc;
 *       aiosgo_begin();
 *       rc = aios_<module>_<verb>(<args>);
 *       return aiosgo_end(rc, err);
 *   }
 *
 * Callbacks.  A Go callback context is a runtime/cgo.Handle; it crosses C
 * as a uintptr_t (Go code never turns an integer into unsafe.Pointer) and
 * becomes the libaios `void *payload` here.  Each C callback type gets one
 * static trampoline in shim.c that calls an //export-ed Go function with the
 * handle.  Callbacks that return a status hand back what the Go side
 * returned: AIOS_OK to go on, AIOS_E_CALLBACK when the Go code failed (or
 * panicked), AIOS_E_CANCELLED when it asked to stop; Go keeps the error
 * itself and attaches it to the result of the outer call.
 *
 * Nothing here is public API: names start with aiosgo_.
 */
#ifndef AIOSGO_SHIM_H
#define AIOSGO_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include <aios/core.h>
#include <aios/envelope.h>
#include <aios/key.h>
#include <aios/manifest.h>

/* Room for the per-thread message (libaios keeps 512 bytes, NUL included);
 * a longer message is cut at a UTF-8 boundary. */
#define AIOSGO_MESSAGE_MAX 1024

/* What a failed call left behind on its thread.  Filled only on failure. */
typedef struct aiosgo_err {
    int status;                     /* the returned status */
    int kind;                       /* aios_status_kind(status) */
    const char *name;               /* aios_status_name(status): static text */
    char message[AIOSGO_MESSAGE_MAX];
} aiosgo_err;

/* Clear this thread's error record before a call. */
void aiosgo_begin(void);
/* After a call: on failure fill *err (if not NULL); returns rc. */
int aiosgo_end(int rc, aiosgo_err *err);

/* ---- core.h */
int aiosgo_init(aiosgo_err *err);
/* Selftest with the Go trampoline as callback and handle as payload; the
 * trampoline returns what the Go callback returned, which may stop the run. */
int aiosgo_selftest(uintptr_t handle, aiosgo_err *err);
/* Install the Go allocator bridge with handle as payload; 0 restores the
 * default allocator. */
int aiosgo_set_allocator(uintptr_t handle, aiosgo_err *err);
int aiosgo_buffer_new(aios_buffer **out, size_t len, uint32_t flags, aiosgo_err *err);
int aiosgo_buffer_from_bytes(aios_buffer **out, const uint8_t *data, size_t len,
                             uint32_t flags, aiosgo_err *err);
int aiosgo_buffer_protect(aios_buffer *buf, int prot, aiosgo_err *err);

/* ---- key.h
 *
 * Options structs are filled here with the library's _options_init
 * functions, so Go never depends on a struct layout beyond the fields it
 * sets.  Byte inputs are Go memory passed for the duration of the call. */

/* Keyring unlock secrets (passphrase, master key, PIN) are copied into
 * secure libaios buffers for the call and wiped after it.  has_pin: pin
 * is set (it may be empty); the copy is NUL-terminated. */
int aiosgo_keyring_open(int create, aios_keyring **out, const char *path, int unlock,
                        const uint8_t *secret, size_t secret_len,
                        const char *pkcs11_module, const char *pkcs11_uri,
                        const uint8_t *pin, size_t pin_len, int has_pin,
                        uint64_t argon2_ops, uint64_t argon2_mem, uint32_t flags,
                        uint32_t lock_timeout_ms, aiosgo_err *err);
int aiosgo_keyring_reload(aios_keyring *kr, aiosgo_err *err);

/* aios_keyring_add, or aios_keyring_import when material is not NULL,
 * with a spec built from the fields.  attrs holds nattrs name/value pairs
 * packed as "name\0value\0name\0value\0" (names sorted). */
int aiosgo_keyring_add(aios_keyring *kr, aios_key **out, const char *key_id, int type,
                       const uint8_t *material, size_t material_len,
                       uint32_t purposes, uint32_t exportable, const char *attrs, size_t nattrs,
                       uint64_t max_uses, int64_t not_after, aiosgo_err *err);
int aiosgo_keyring_get(aios_keyring *kr, aios_key **out, const char *key_id, uint32_t version,
                       aiosgo_err *err);
int aiosgo_keyring_rotate(aios_keyring *kr, aios_key **out, const char *key_id, aiosgo_err *err);
int aiosgo_keyring_add_version(aios_keyring *kr, aios_key **out, const char *key_id,
                               aiosgo_err *err);
int aiosgo_keyring_promote(aios_keyring *kr, const char *key_id, uint32_t version, aiosgo_err *err);
int aiosgo_keyring_import_version(aios_keyring *kr, aios_key **out, const char *key_id,
                                  const uint8_t *material, size_t material_len, uint32_t flags,
                                  aiosgo_err *err);
int aiosgo_keyring_set_state(aios_keyring *kr, const char *key_id, uint32_t version, int state,
                             aiosgo_err *err);
int aiosgo_keyring_destroy(aios_keyring *kr, const char *key_id, uint32_t version, aiosgo_err *err);
int aiosgo_keyring_set_min_decrypt_version(aios_keyring *kr, const char *key_id,
                                           uint32_t version, aiosgo_err *err);
int aiosgo_keyring_list_json(aios_keyring *kr, aios_buffer **out, aiosgo_err *err);

int aiosgo_key_attribute_at(const aios_key *key, size_t index, const char **name,
                            const char **value, aiosgo_err *err);
int aiosgo_key_wrap(const aios_key *kek, aios_buffer **out, const uint8_t *data_key,
                    size_t data_key_len, const uint8_t *ad, size_t ad_len, aiosgo_err *err);
int aiosgo_key_unwrap(const aios_key *kek, aios_buffer **out, const uint8_t *wrapped,
                      size_t wrapped_len, const uint8_t *ad, size_t ad_len, aiosgo_err *err);
int aiosgo_key_sign(const aios_key *key, aios_buffer **out, const uint8_t *msg, size_t msg_len,
                    aiosgo_err *err);
int aiosgo_key_verify(const aios_key *key, const uint8_t *sig, size_t sig_len,
                      const uint8_t *msg, size_t msg_len, aiosgo_err *err);
int aiosgo_key_mac(const aios_key *key, uint8_t *out, const uint8_t *msg, size_t msg_len,
                   aiosgo_err *err);
int aiosgo_key_agree(const aios_key *key, aios_buffer **out, const uint8_t *peer, size_t peer_len,
                     aiosgo_err *err);
int aiosgo_key_public_pem(const aios_key *key, aios_buffer **out, aiosgo_err *err);
int aiosgo_key_public_raw(const aios_key *key, aios_buffer **out, aiosgo_err *err);
int aiosgo_key_export(const aios_key *key, aios_buffer **out, aiosgo_err *err);
int aiosgo_key_from_public_pem(aios_key **out, const char *key_id, const char *pem,
                               size_t pem_len, aiosgo_err *err);

int aiosgo_provider_get_key(aios_provider *p, aios_key **out, const char *key_id,
                            uint32_t version, aiosgo_err *err);
/* pin (pin_len bytes, copied NUL-terminated into a secure buffer for the
 * call) is used when has_pin; module may be NULL (the URI's module-path). */
int aiosgo_provider_pkcs11(aios_provider **out, const char *module, const char *uri,
                           const uint8_t *pin, size_t pin_len, int has_pin, aiosgo_err *err);

/* A callback provider whose table calls the //export-ed Go functions of
 * provider.go with handle as payload; ops->release deletes the handle. */
int aiosgo_provider_callback(aios_provider **out, const char *name, uint32_t capabilities,
                             uintptr_t handle, uint32_t timeout_ms, aiosgo_err *err);

/* What the Go describe function fills; the trampoline copies it into the
 * library's aios_provider_key_info as far as the library's info->size
 * goes. */
typedef struct aiosgo_key_info {
    uint32_t version;
    int32_t type;
    uint32_t purposes;
    int32_t state;
    int64_t created_at;
} aiosgo_key_info;

/* The host operations after describe, for aiosgoProviderCall. */
enum {
    AIOSGO_OP_WRAP = 1,
    AIOSGO_OP_UNWRAP = 2,
    AIOSGO_OP_SIGN = 3,
    AIOSGO_OP_PUBLIC_KEY = 4
};

/* The calling OS thread, to recognise the library's retry of a host call
 * on the same worker thread. */
uint64_t aiosgo_thread_id(void);

int aiosgo_dkcache_new(aios_dkcache **out, uint32_t capacity, uint64_t max_age_ms,
                       uint64_t max_messages, uint64_t max_bytes, aiosgo_err *err);
int aiosgo_dkcache_put(aios_dkcache *cache, const aios_key *key, const uint8_t *context,
                       size_t context_len, uint32_t suite, const uint8_t *data_key,
                       size_t data_key_len, const uint8_t *wrapped, size_t wrapped_len,
                       aiosgo_err *err);
int aiosgo_dkcache_get(aios_dkcache *cache, aios_dkcache_entry **out, const aios_key *key,
                       const uint8_t *context, size_t context_len, uint32_t suite,
                       uint64_t bytes, aiosgo_err *err);
int aiosgo_dkcache_get_stats(aios_dkcache *cache, aios_dkcache_stats *stats, aiosgo_err *err);

/* ---- envelope.h
 *
 * Encryption contexts cross as an aiosgo_ctx: a C copy of the entries
 * made from "key\0value\0key\0value\0" text, owned by the Go value that
 * uses it (an opener or reader may keep pointers to it: the library
 * borrows an expected context), freed with aiosgo_ctx_free. */
typedef struct aiosgo_ctx aiosgo_ctx;
/* NULL when out of memory (count 0 gives an empty context). */
aiosgo_ctx *aiosgo_ctx_new(const char *packed, size_t packed_len, size_t count);
void aiosgo_ctx_free(aiosgo_ctx *c);

/* Options as scalars: the shim fills the library's struct with its
 * _options_init function and copies these in.  A NULL pointer means
 * defaults (NULL options).  No Go pointer is stored in them: byte and
 * key arrays go as separate arguments. */
typedef struct aiosgo_seal_opts {
    int32_t suite;
    uint32_t chunk_size;
    uint32_t threads;
} aiosgo_seal_opts;

typedef struct aiosgo_open_opts {
    const aiosgo_ctx *expected;   /* NULL: none */
    int32_t context_mode;
    uint32_t max_unwrap_attempts;
    uint32_t no_soft_gcm;
    uint32_t threads;
} aiosgo_open_opts;

typedef struct aiosgo_rewrap_opts {
    uint32_t flags;
    uint32_t max_unwrap_attempts;
} aiosgo_rewrap_opts;

typedef struct aiosgo_session_opts {
    int32_t suite;
    uint32_t flags;
    uint64_t max_records;
} aiosgo_session_opts;

int aiosgo_envelope_keys_new(aios_envelope_keys **out, aiosgo_err *err);
int aiosgo_envelope_keys_add_key(aios_envelope_keys *keys, aios_key *key, aiosgo_err *err);
int aiosgo_envelope_keys_add_provider(aios_envelope_keys *keys, aios_provider *provider,
                                      aiosgo_err *err);

int aiosgo_envelope_seal(aios_buffer **out, aios_key *const *recipients, size_t recipient_count,
                         const aiosgo_ctx *ctx, const uint8_t *plaintext, size_t plaintext_len,
                         const aiosgo_seal_opts *opts, aiosgo_err *err);
int aiosgo_envelope_open(aios_buffer **out, const aios_envelope_keys *keys,
                         const uint8_t *message, size_t message_len,
                         const aiosgo_open_opts *opts, aiosgo_err *err);
int aiosgo_envelope_seal_into(uint8_t *out, uint32_t out_cap, uint32_t *out_len,
                              aios_key *const *recipients, size_t recipient_count,
                              const aiosgo_ctx *ctx, const uint8_t *plaintext,
                              uint32_t plaintext_len, const aiosgo_seal_opts *opts,
                              aiosgo_err *err);
int aiosgo_envelope_open_into(const aios_envelope_keys *keys, uint8_t *out, uint32_t out_cap,
                              uint32_t *out_len, const uint8_t *message, uint32_t message_len,
                              const aiosgo_open_opts *opts, aiosgo_err *err);
int aiosgo_envelope_peek(aios_buffer **out, const uint8_t *data, size_t data_len, aiosgo_err *err);
int aiosgo_envelope_header_len(size_t *len_out, const uint8_t *data, size_t data_len,
                               aiosgo_err *err);

int aiosgo_envelope_sealer_new(aios_envelope_sealer **out, aios_key *const *recipients,
                               size_t recipient_count, const aiosgo_ctx *ctx,
                               const aiosgo_seal_opts *opts, aiosgo_err *err);
int aiosgo_envelope_sealer_update(aios_envelope_sealer *s, uint8_t *out, size_t out_cap,
                                  size_t *out_len, const uint8_t *in, size_t in_len,
                                  aiosgo_err *err);
int aiosgo_envelope_sealer_final(aios_envelope_sealer *s, uint8_t *out, size_t out_cap,
                                 size_t *out_len, aiosgo_err *err);
int aiosgo_envelope_opener_new(aios_envelope_opener **out, const aios_envelope_keys *keys,
                               const aiosgo_open_opts *opts, aiosgo_err *err);
int aiosgo_envelope_opener_update(aios_envelope_opener *o, uint8_t *out, size_t out_cap,
                                  size_t *out_len, const uint8_t *in, size_t in_len,
                                  aiosgo_err *err);
int aiosgo_envelope_opener_final(aios_envelope_opener *o, uint8_t *out, size_t out_cap,
                                 size_t *out_len, aiosgo_err *err);
int aiosgo_envelope_opener_info(const aios_envelope_opener *o, aios_buffer **out, aiosgo_err *err);
int aiosgo_envelope_seal_fd(int out_fd, int in_fd, aios_key *const *recipients,
                            size_t recipient_count, const aiosgo_ctx *ctx,
                            const aiosgo_seal_opts *opts, aiosgo_err *err);
int aiosgo_envelope_open_fd(int out_fd, int in_fd, const aios_envelope_keys *keys,
                            const aiosgo_open_opts *opts, aiosgo_err *err);

int aiosgo_envelope_reader_new_mem(aios_envelope_reader **out, const aios_envelope_keys *keys,
                                   const uint8_t *message, size_t message_len,
                                   const aiosgo_open_opts *opts, aiosgo_err *err);
int aiosgo_envelope_reader_new_fd(aios_envelope_reader **out, const aios_envelope_keys *keys,
                                  int fd, const aiosgo_open_opts *opts, aiosgo_err *err);
int aiosgo_envelope_reader_read(const aios_envelope_reader *r, uint64_t offset, uint8_t *out,
                                size_t len, size_t *out_len, aiosgo_err *err);
int aiosgo_envelope_reader_info(const aios_envelope_reader *r, aios_buffer **out, aiosgo_err *err);

int aiosgo_envelope_rewrap(aios_buffer **header_out, size_t *old_header_len_out,
                           const aios_envelope_keys *keys, const uint8_t *data, size_t data_len,
                           aios_key *const *add, size_t add_count,
                           aios_key *const *remove, size_t remove_count,
                           const aiosgo_rewrap_opts *opts, aiosgo_err *err);
int aiosgo_envelope_rewrap_fd(int out_fd, int in_fd, const aios_envelope_keys *keys,
                              aios_key *const *add, size_t add_count,
                              aios_key *const *remove, size_t remove_count,
                              const aiosgo_rewrap_opts *opts, aiosgo_err *err);

int aiosgo_envelope_session_new(aios_envelope_session **out, aios_key *const *recipients,
                                size_t recipient_count, const aiosgo_ctx *ctx,
                                const aiosgo_session_opts *opts, aiosgo_err *err);
int aiosgo_envelope_session_open(aios_envelope_session **out, const aios_envelope_keys *keys,
                                 const uint8_t *header, size_t header_len,
                                 const aiosgo_open_opts *opts, aiosgo_err *err);
int aiosgo_envelope_session_info(const aios_envelope_session *s, aios_buffer **out,
                                 aiosgo_err *err);
int aiosgo_envelope_session_seal(aios_envelope_session *s, uint8_t *out, size_t out_cap,
                                 size_t *out_len, const uint8_t *plaintext, size_t plaintext_len,
                                 const uint8_t *ad, size_t ad_len, aiosgo_err *err);
int aiosgo_envelope_session_open_record(const aios_envelope_session *s, uint8_t *out,
                                        size_t out_cap, size_t *out_len,
                                        const uint8_t *record, size_t record_len,
                                        const uint8_t *ad, size_t ad_len, aiosgo_err *err);
/* The exact-size forms (no out_len: nothing for Go to allocate per call). */
int aiosgo_envelope_session_seal_exact(aios_envelope_session *s, uint8_t *out,
                                       const uint8_t *plaintext, uint32_t plaintext_len,
                                       const uint8_t *ad, uint32_t ad_len, aiosgo_err *err);
int aiosgo_envelope_session_open_exact(const aios_envelope_session *s, uint8_t *out,
                                       const uint8_t *record, uint32_t record_len,
                                       const uint8_t *ad, uint32_t ad_len, aiosgo_err *err);
/* Batches: the C calls unchanged (Go packs and unpacks the records). */
int aiosgo_envelope_session_seal_batch(aios_envelope_session *s, uint8_t *out, size_t out_cap,
                                       size_t *out_len, const uint8_t *plaintexts,
                                       const size_t *plaintext_lens, size_t n,
                                       const uint8_t *ads, const size_t *ad_lens, aiosgo_err *err);
int aiosgo_envelope_session_open_batch(const aios_envelope_session *s, uint8_t *out,
                                       size_t out_cap, size_t *out_len, const uint8_t *records,
                                       const size_t *record_lens, size_t n, const uint8_t *ads,
                                       const size_t *ad_lens, size_t *failed_index_out,
                                       aiosgo_err *err);
int aiosgo_envelope_record_session_id(uint8_t *id_out, const uint8_t *record, size_t record_len,
                                      aiosgo_err *err);

/* pointers holds pointer_count NUL-terminated pointers back to back. */
int aiosgo_envelope_fields_encrypt(aios_buffer **out, aios_envelope_session *session,
                                   const char *json, size_t json_len,
                                   const char *pointers, size_t pointer_count, uint32_t flags,
                                   const uint8_t *record_id, size_t record_id_len,
                                   aiosgo_err *err);
int aiosgo_envelope_fields_decrypt(aios_buffer **out, aios_envelope_session *const *sessions,
                                   size_t session_count, const char *json, size_t json_len,
                                   uint32_t flags, const uint8_t *record_id,
                                   size_t record_id_len, aiosgo_err *err);

/* ---- manifest.h
 *
 * Options cross as scalars plus C memory that the Go side allocates for
 * the call (strings with C.CString, lists packed with C.CBytes) and frees
 * after it; the shim fills the library's structs with their _options_init
 * functions, so no Go pointer is ever stored in them.  A NULL options
 * pointer means defaults.  A Go progress function crosses as the
 * cgo.Handle of its state (0: none); the trampoline calls
 * aiosgoManifestProgress (manifest.go), on whatever thread the library
 * runs the callback. */
typedef struct aiosgo_mhash_opts {
    uint32_t threads;
    uint32_t read_size;
    uint32_t flags;
    const char *ignore;          /* ignore_count paths, each NUL-terminated, back to back */
    size_t ignore_count;
    uintptr_t progress;          /* cgo.Handle; 0: no callback */
} aiosgo_mhash_opts;

typedef struct aiosgo_msign_opts {
    int32_t profile;
    int32_t method;
    const char *hash_type;       /* NULL: the default */
    uint64_t shard_size;
    uint32_t allow_symlinks;
    const char *subject_name;    /* NULL: the default */
    const char *bundle_path;
    const char *provenance_json;
    const char *stat_cache_path;
    const uint8_t *chain;        /* chain_count DER certificates back to back, leaf first */
    const size_t *chain_lens;
    size_t chain_count;
    aiosgo_mhash_opts hash;
} aiosgo_msign_opts;

typedef struct aiosgo_mverify_opts {
    int32_t profile;
    int32_t time_policy;
    int64_t fixed_time;
    uint32_t flags;
    size_t bundle_max;
    const char *bundle_path;
    const char *stat_cache_path;
    aiosgo_mhash_opts hash;
} aiosgo_mverify_opts;

int aiosgo_manifest_sign(aios_buffer **bundle_out, aios_manifest **manifest_out,
                         const char *model_path, const aios_key *key,
                         const aiosgo_msign_opts *opts, aiosgo_err *err);
int aiosgo_manifest_hash(aios_manifest **out, const char *model_path,
                         const aiosgo_msign_opts *opts, aiosgo_err *err);
int aiosgo_manifest_verify_key(aios_manifest **out, const uint8_t *bundle, size_t bundle_len,
                               const aios_key *public_key, const aiosgo_mverify_opts *opts,
                               aiosgo_err *err);
/* anchors: anchor_count PEM or DER anchors back to back, their lengths in
 * anchor_lens (Go memory for the call; the shim builds the pointer array). */
int aiosgo_manifest_verify_certificate(aios_manifest **out, const uint8_t *bundle,
                                       size_t bundle_len, const uint8_t *anchors,
                                       const size_t *anchor_lens, size_t anchor_count,
                                       const aiosgo_mverify_opts *opts, aiosgo_err *err);
int aiosgo_manifest_verify_sigstore(aios_manifest **out, const uint8_t *bundle,
                                    size_t bundle_len, const uint8_t *root, size_t root_len,
                                    const char *identity, const char *oidc_issuer,
                                    const aiosgo_mverify_opts *opts, aiosgo_err *err);
int aiosgo_manifest_open(aios_manifest **out, const uint8_t *bundle, size_t bundle_len,
                         const aiosgo_mverify_opts *opts, aiosgo_err *err);
int aiosgo_manifest_read_bundle(aios_buffer **out, const char *path,
                                const aiosgo_mverify_opts *opts, aiosgo_err *err);
/* compare != 0: aios_manifest_compare_dir, else aios_manifest_verify_dir. */
int aiosgo_manifest_verify_dir(const aios_manifest *m, const char *model_path,
                               aios_manifest_diff **diff_out, const aiosgo_mverify_opts *opts,
                               int compare, aiosgo_err *err);
int aiosgo_manifest_verify_file(const aios_manifest *m, int root_dirfd, const char *rel_path,
                                const aiosgo_mhash_opts *opts, aiosgo_err *err);
int aiosgo_manifest_verify_range(const aios_manifest *m, int root_dirfd, const char *rel_path,
                                 uint64_t offset, uint64_t len, const aiosgo_mhash_opts *opts,
                                 aiosgo_err *err);
int aiosgo_manifest_resource_at(const aios_manifest *m, size_t i, const char **name_out,
                                uint64_t *start_out, uint64_t *end_out,
                                const uint8_t **digest_out, size_t *digest_len_out,
                                aiosgo_err *err);
/* which: 0 provenance, 1 signer, 2 the whole manifest (aios_manifest_to_json). */
int aiosgo_manifest_json(const aios_manifest *m, int which, aios_buffer **out, aiosgo_err *err);
int aiosgo_manifest_diff_at(const aios_manifest_diff *d, size_t i, int *kind_out,
                            const char **path_out, uint64_t *first_bad_offset_out,
                            aiosgo_err *err);
int aiosgo_manifest_diff_json(const aios_manifest_diff *d, aios_buffer **out, aiosgo_err *err);

int aiosgo_manifest_stream_open(aios_manifest_stream **out, const aios_manifest *m,
                                int root_dirfd, const char *rel_path, aiosgo_err *err);
int aiosgo_manifest_stream_new(aios_manifest_stream **out, const aios_manifest *m,
                               int root_dirfd, const char *rel_path, uint32_t threads,
                               aiosgo_err *err);
/* verified != 0: aios_manifest_stream_read_verified, else _read. */
int aiosgo_manifest_stream_read(aios_manifest_stream *s, int verified, uint8_t *buf, size_t cap,
                                size_t *len_out, aiosgo_err *err);
int aiosgo_manifest_stream_finish(aios_manifest_stream *s, aiosgo_err *err);

/* The C library's malloc and free, for CAllocator: cgo's own C.malloc
 * never returns NULL (it crashes the program instead), which an allocator
 * must be able to report. */
void *aiosgo_c_malloc(size_t size);
void aiosgo_c_free(void *ptr);

#endif /* AIOSGO_SHIM_H */
