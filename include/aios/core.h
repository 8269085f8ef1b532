/*
 * libaios core: initialisation, versions, status codes and error details,
 * allocator hooks, library-owned byte buffers (plain or secure), constant-
 * time comparison and wiping.  Every other module builds on this header.
 *
 * Thread safety
 *   - aios_init(), aios_selftest() and every function in this header that
 *     takes no handle may be called from any thread at any time, except
 *     aios_set_allocator(), which must run before the first aios_init()
 *     (it fails with AIOS_E_STATE afterwards).
 *   - Error details are per thread: aios_last_error_*() describe the last
 *     failure on the calling thread only.
 *   - An aios_buffer has no lock: do not use one buffer from two threads at
 *     once when either of them writes to it or frees it.  A buffer may move
 *     between threads.
 */
#ifndef AIOS_CORE_H
#define AIOS_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "aios/export.h"
#include "aios/version.h"

AIOS_BEGIN_DECLS

/* ------------------------------------------------------------------ status
 *
 * Every fallible function returns int: AIOS_OK (0) or a negative
 * aios_status.  Numbers are stable forever: never renumbered, never reused.
 * Each module owns a block of one hundred codes:
 *
 *   core -1..-99   key -100..-199   envelope -200..-299   manifest -300..-399
 *   policy -400..-499   telemetry -500..-599   audit -600..-699
 *
 * Callers that do not care about the exact code branch on its kind
 * (aios_status_kind()).  docs/ERRORS.md lists every code.
 */
typedef enum aios_status {
    AIOS_OK                 = 0,
    AIOS_E_INVALID_ARGUMENT = -1,  /* a NULL, out-of-range or contradictory argument */
    AIOS_E_NOMEM            = -2,  /* an allocation failed */
    AIOS_E_BUFFER_TOO_SMALL = -3,  /* caller buffer too small; the size needed is reported */
    AIOS_E_STATE            = -4,  /* not allowed in the current state */
    AIOS_E_UNSUPPORTED      = -5,  /* not supported by this build, platform or CPU */
    AIOS_E_FORMAT           = -6,  /* malformed or corrupt input data */
    AIOS_E_VERSION          = -7,  /* unknown format, suite or options version */
    AIOS_E_AUTH             = -8,  /* authentication or signature verification failed */
    AIOS_E_NOT_FOUND        = -9,  /* the named object does not exist */
    AIOS_E_DENIED           = -10, /* denied by policy */
    AIOS_E_IO               = -11, /* an operating-system I/O call failed */
    AIOS_E_LIMIT            = -12, /* a size, count or usage limit was exceeded */
    AIOS_E_CALLBACK         = -13, /* a host callback failed; its error is passed through */
    AIOS_E_CANCELLED        = -14, /* a host callback asked to stop */
    AIOS_E_INTERNAL         = -15, /* a bug or an unexpected failure of a dependency */
    AIOS_E_SELFTEST         = -16, /* a cryptographic self-test failed: do not use this build */

    /* key (key.h) */
    AIOS_E_KEY_NOT_FOUND         = -100, /* no key with that id */
    AIOS_E_KEY_VERSION_NOT_FOUND = -101, /* the key has no such version */
    AIOS_E_KEY_EXISTS            = -102, /* a key (or keyring file) with that name exists */
    AIOS_E_KEY_DESTROYED         = -103, /* the version was destroyed: its material is gone */
    AIOS_E_KEY_DISABLED          = -104, /* the version is disabled, or below the minimum */
    AIOS_E_KEY_DECRYPT_ONLY      = -105, /* the version may only unwrap or verify */
    AIOS_E_KEY_USAGE             = -106, /* the key's type or purposes do not allow this */
    AIOS_E_KEY_USAGE_LIMIT       = -107, /* the version has used up its operations */
    AIOS_E_KEY_NOT_EXPORTABLE    = -108, /* the key may not leave its provider */
    AIOS_E_KEY_EXPIRED           = -109, /* past the version's not-after time */
    AIOS_E_KEYRING_PASSPHRASE    = -110, /* wrong passphrase or master key */
    AIOS_E_KEYRING_TAMPERED      = -111, /* the keyring file was changed */
    AIOS_E_KEYRING_CORRUPT       = -112, /* the keyring file is truncated or malformed */
    AIOS_E_KEYRING_LOCKED        = -113, /* another writer holds the keyring */
    AIOS_E_PKCS11                = -114, /* a PKCS#11 module or token failed */
    AIOS_E_PKCS11_PIN            = -115, /* the token refused the PIN */
    AIOS_E_PROVIDER_TIMEOUT      = -116, /* a provider did not answer in time */

    /* envelope (-200..-299; docs/FORMAT.md section 12.4) */
    AIOS_E_ENVELOPE_NO_RECIPIENT     = -200, /* no recipient record matches a key the caller holds */
    AIOS_E_ENVELOPE_COMMITMENT       = -201, /* the data key does not match the key commitment */
    AIOS_E_ENVELOPE_CONTEXT_MISMATCH = -202, /* the encryption context is not the one expected */
    AIOS_E_ENVELOPE_TRUNCATED        = -203, /* the payload ended before its final chunk */
    AIOS_E_ENVELOPE_TRAILING_DATA    = -204, /* bytes follow the final chunk or the header */
    AIOS_E_ENVELOPE_UNKNOWN_SESSION  = -205, /* a record names a session that is not open */
    AIOS_E_ENVELOPE_MODE             = -206, /* a deterministic record under a session not made for them */
    /* manifest (-300..-399; docs/MANIFEST.md section 13) */
    AIOS_E_MANIFEST_MISMATCH     = -300, /* the model's files differ from the signed manifest (the diff says how) */
    AIOS_E_MANIFEST_KEY_MISMATCH = -301, /* the bundle names another key, or a certificate does not hold the signing key */
    AIOS_E_MANIFEST_CHAIN        = -302, /* the certificate chain does not verify to a trust anchor at the policy time */
    AIOS_E_MANIFEST_CERT_USAGE   = -303, /* the leaf certificate allows neither digitalSignature nor code signing */
    AIOS_E_MANIFEST_ROOT_DIGEST  = -304, /* the subject digest does not match the resource digests */
    AIOS_E_MANIFEST_PREDICATE    = -305, /* not an OMS statement: payload type, predicate type or legacy pairing */
    AIOS_E_MANIFEST_PATH         = -306, /* a name or ignore path is not a canonical relative UTF-8 path */
    AIOS_E_MANIFEST_DUPLICATE    = -307, /* two resources have the same name */
    AIOS_E_MANIFEST_SIGNATURES   = -308, /* the envelope does not hold exactly one signature */
    AIOS_E_MANIFEST_SYMLINK      = -309, /* a symlink where none is allowed, or one that leaves the model, dangles or loops */
    AIOS_E_MANIFEST_SPECIAL_FILE = -310, /* a FIFO, socket or device inside the model */
    AIOS_E_MANIFEST_NOT_SIGNED   = -311, /* the file or range is not named by the manifest */
    AIOS_E_MANIFEST_UNVERIFIED   = -312, /* the operation needs a verified manifest; this one was only parsed */
    AIOS_E_MANIFEST_CHANGED      = -313, /* a file changed or was truncated while it was hashed */
    AIOS_E_MANIFEST_EMPTY        = -314, /* no resources, or nothing to sign */
    AIOS_E_MANIFEST_METHOD       = -315, /* the bundle's verification material is not the method the caller trusts */
    AIOS_STATUS__FORCE32    = 0x7fffffff
} aios_status;

/* The coarse kinds callers branch on; bindings map each to one exception
 * class or sentinel error. */
typedef enum aios_error_kind {
    AIOS_KIND_NONE      = 0,  /* AIOS_OK */
    AIOS_KIND_INVALID   = 1,  /* invalid input: arguments, malformed or unsupported data */
    AIOS_KIND_AUTH      = 2,  /* authentication or verification failed */
    AIOS_KIND_NOT_FOUND = 3,  /* no such key, file, version, ... */
    AIOS_KIND_DENIED    = 4,  /* denied by policy */
    AIOS_KIND_IO        = 5,  /* the operating system reported an I/O error */
    AIOS_KIND_LIMIT     = 6,  /* a size, count or usage limit was exceeded */
    AIOS_KIND_STATE     = 7,  /* wrong state or usage (not initialised, destroyed key, ...) */
    AIOS_KIND_RESOURCE  = 8,  /* out of memory */
    AIOS_KIND_CALLBACK  = 9,  /* a host callback failed or cancelled the operation */
    AIOS_KIND_INTERNAL  = 10, /* a bug in libaios or a dependency; report it */
    AIOS_KIND__FORCE32  = 0x7fffffff
} aios_error_kind;

/* Static text, never NULL.  aios_status_name(AIOS_E_AUTH) is "AIOS_E_AUTH";
 * aios_status_str(AIOS_E_AUTH) is "authentication failed".  An unknown
 * code yields "AIOS_E_UNKNOWN" / "unknown status" (and kind INTERNAL). */
AIOS_API const char *aios_status_name(int status);
AIOS_API const char *aios_status_str(int status);
AIOS_API aios_error_kind aios_status_kind(int status);
/* "invalid", "auth", "not_found", ...: a stable token for scripts and logs. */
AIOS_API const char *aios_error_kind_name(aios_error_kind kind);

/* --------------------------------------------------------- error details
 *
 * When a function fails it records, for the calling thread, its status and
 * a message that says what failed and why, with context such as a file
 * name or a JSON pointer.  Messages never contain key bytes, plaintext,
 * passphrases or PINs.  A successful call leaves the record untouched, so
 * read it right after the failing call.
 */

/* The message of the last failure on this thread; "" if none.  Never NULL.
 * Valid until the next libaios call on this thread. */
AIOS_API const char *aios_last_error_message(void);
/* The status of the last failure on this thread; AIOS_OK if none. */
AIOS_API int aios_last_error_status(void);
/* Forget the last failure on this thread. */
AIOS_API void aios_error_clear(void);
/* Record a failure on this thread as libaios' own functions do: for host
 * callbacks (providers, sinks) about to return a failure.  When a host
 * function fails on a libaios worker thread, libaios carries its message
 * to the thread that called libaios (after a context prefix), so a
 * binding can put a token in it that names the host's own exception and
 * re-raise that exception when the call returns.  A status >= 0 records
 * AIOS_E_CALLBACK; message may be NULL.  Returns the status recorded. */
AIOS_API int aios_error_set(int status, const char *message);

/* ------------------------------------------------------ initialisation */

/* Initialise libaios and the libraries it links (libsodium, mbedTLS),
 * detect CPU features and run the power-on self-test once.  Idempotent and
 * thread-safe: the first call does the work, the others return its result.
 * Every function that needs it also calls it, so an explicit call is only
 * needed to fix the moment of initialisation or to check its result. */
AIOS_NODISCARD AIOS_API int aios_init(void);

/* Called once for each known-answer test aios_selftest() runs, with the
 * test's name and result.  Return AIOS_OK to go on.  Any other value stops
 * the run and becomes aios_selftest()'s result: return AIOS_E_CANCELLED to
 * stop, or AIOS_E_CALLBACK when the host's own code failed (a positive
 * value counts as AIOS_E_CANCELLED). */
typedef int (*aios_selftest_cb)(const char *name, int status, void *payload);

/* Run every known-answer test of the cryptography libaios links (hashes,
 * MACs, KDFs, AEADs, signatures, key agreement, wire encoding).  Calls cb
 * (if not NULL) once per test.  Returns AIOS_OK when all pass, else
 * AIOS_E_SELFTEST naming the first failing test, or what cb returned to
 * stop the run. */
AIOS_NODISCARD AIOS_API int aios_selftest(aios_selftest_cb cb, void *payload);

/* ------------------------------------------------------------ versions */

/* Run-time twins of AIOS_VERSION_STRING, AIOS_VERSION_NUMBER and
 * AIOS_ABI_VERSION.  They do not initialise the library, so a binding may
 * call them before aios_set_allocator(). */
AIOS_API const char *aios_version_string(void);
AIOS_API uint32_t aios_version_number(void);
AIOS_API uint32_t aios_abi_version(void);

/* A static JSON object describing this build: libaios version and ABI,
 * dependency versions (libsodium, mbedTLS, protobuf-c), the CPU features
 * detected and used (AES-NI, SHA-NI, AVX2, ...), compiler and sanitizers.
 * Never NULL; valid for the life of the process. */
AIOS_API const char *aios_build_info(void);

/* ---------------------------------------------------------- allocator */

typedef void *(*aios_malloc_cb)(size_t size, void *payload);
typedef void (*aios_free_cb)(void *ptr, void *payload);

/* A plug-in table: it starts with its own size so it can grow.  Set size
 * to sizeof(aios_allocator).  Both functions are required and must be
 * thread-safe; malloc_fn is never asked for 0 bytes and returns memory
 * aligned for any type (like malloc), or NULL; free_fn is never given
 * NULL.  There is no realloc: libaios grows memory by copying, so the old
 * bytes can be wiped. */
typedef struct aios_allocator {
    size_t          size;
    aios_malloc_cb  malloc_fn;
    aios_free_cb    free_fn;
    void           *payload;
} aios_allocator;

/* Route libaios' own allocations and protobuf-c's through the host.  Call
 * before aios_init() (AIOS_E_STATE afterwards); NULL restores malloc.
 * libsodium's guarded memory (secure buffers) and mbedTLS's allocations
 * cannot be hooked with the Debian builds and keep their own allocators. */
AIOS_API int aios_set_allocator(const aios_allocator *allocator);

/* ------------------------------------------------------------- buffers
 *
 * A byte buffer that libaios allocates and the caller owns and releases
 * with aios_buffer_free(), which wipes it.  With AIOS_BUFFER_SECURE the
 * bytes live in libsodium's guarded memory: guard pages on both sides, a
 * canary, locked into RAM (never swapped) and excluded from core dumps.
 * Functions that return secrets (exported keys, decrypted data keys)
 * always return secure buffers.
 */
typedef struct aios_buffer aios_buffer;

#define AIOS_BUFFER_SECURE 0x1u

/* Largest buffer libaios will allocate: 2^40 bytes; a secure buffer (locked
 * RAM, meant for keys and other small secrets) at most 2^28 (256 MiB).
 * Larger requests fail with AIOS_E_LIMIT before anything is allocated. */
#define AIOS_BUFFER_MAX_LEN        ((uint64_t)1 << 40)
#define AIOS_BUFFER_SECURE_MAX_LEN ((uint64_t)1 << 28)

typedef enum aios_protection {
    AIOS_PROTECT_READWRITE = 0,
    AIOS_PROTECT_READONLY  = 1,
    AIOS_PROTECT_NOACCESS  = 2,
    AIOS_PROTECT__FORCE32  = 0x7fffffff
} aios_protection;

/* A zero-filled buffer of len bytes (len may be 0). */
AIOS_API int aios_buffer_new(aios_buffer **out, size_t len, uint32_t flags);
/* A buffer holding a copy of data[0..len). */
AIOS_API int aios_buffer_from_bytes(aios_buffer **out, const uint8_t *data,
                                    size_t len, uint32_t flags);
/* The bytes (never NULL for a valid buffer, even when empty) and their
 * count.  A NUL byte always follows the data (not counted in the length),
 * so a buffer holding text (PEM, JSON) is also a C string.  The pointer
 * lives as long as the buffer.  Getters accept NULL and then return NULL
 * or 0. */
AIOS_API const uint8_t *aios_buffer_data(const aios_buffer *buf);
AIOS_API uint8_t *aios_buffer_data_mut(aios_buffer *buf);
AIOS_API size_t aios_buffer_len(const aios_buffer *buf);
AIOS_API uint32_t aios_buffer_flags(const aios_buffer *buf);
/* The current protection (AIOS_PROTECT_READWRITE for a plain buffer). */
AIOS_API aios_protection aios_buffer_protection(const aios_buffer *buf);
/* The largest buffer aios_buffer_new() accepts with these flags:
 * AIOS_BUFFER_MAX_LEN, or AIOS_BUFFER_SECURE_MAX_LEN with
 * AIOS_BUFFER_SECURE (the macros' run-time twin, for bindings). */
AIOS_API uint64_t aios_buffer_max_len(uint32_t flags);
/* Change the page protection of a secure buffer while it is not in use;
 * touching a NOACCESS buffer kills the process.  AIOS_E_UNSUPPORTED for a
 * plain buffer. */
AIOS_API int aios_buffer_protect(aios_buffer *buf, aios_protection prot);
/* Wipe and release.  NULL is a no-op. */
AIOS_API void aios_buffer_free(aios_buffer *buf);

/* ------------------------------------------------------ secret helpers */

/* 1 if a[0..len) equals b[0..len), else 0, in time that depends only on
 * len. */
AIOS_NODISCARD AIOS_API int aios_ct_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* Overwrite p[0..len) with zeros in a way the compiler cannot elide. */
AIOS_API void aios_wipe(void *p, size_t len);

AIOS_END_DECLS

#endif /* AIOS_CORE_H */
