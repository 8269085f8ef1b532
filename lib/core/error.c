/*
 * Per-thread error details and the status table.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* --------------------------------------------------------------- table */

typedef struct status_entry {
    int             status;
    const char     *name;
    const char     *text;
    aios_error_kind kind;
} status_entry;

/* One row per code, in numeric order within each module block.  A retired
 * code keeps its row (renamed "..._RETIRED") so its number is never
 * reused.  tests/unit/test_status.c checks this table against core.h and
 * docs/ERRORS.md. */
static const status_entry status_table[] = {
    { AIOS_OK,                 "AIOS_OK",                 "success",                          AIOS_KIND_NONE },
    { AIOS_E_INVALID_ARGUMENT, "AIOS_E_INVALID_ARGUMENT", "invalid argument",                 AIOS_KIND_INVALID },
    { AIOS_E_NOMEM,            "AIOS_E_NOMEM",            "out of memory",                    AIOS_KIND_RESOURCE },
    { AIOS_E_BUFFER_TOO_SMALL, "AIOS_E_BUFFER_TOO_SMALL", "buffer too small",                 AIOS_KIND_INVALID },
    { AIOS_E_STATE,            "AIOS_E_STATE",            "not allowed in the current state", AIOS_KIND_STATE },
    { AIOS_E_UNSUPPORTED,      "AIOS_E_UNSUPPORTED",      "not supported",                    AIOS_KIND_INVALID },
    { AIOS_E_FORMAT,           "AIOS_E_FORMAT",           "malformed or corrupt data",        AIOS_KIND_INVALID },
    { AIOS_E_VERSION,          "AIOS_E_VERSION",          "unknown version",                  AIOS_KIND_INVALID },
    { AIOS_E_AUTH,             "AIOS_E_AUTH",             "authentication failed",            AIOS_KIND_AUTH },
    { AIOS_E_NOT_FOUND,        "AIOS_E_NOT_FOUND",        "not found",                        AIOS_KIND_NOT_FOUND },
    { AIOS_E_DENIED,           "AIOS_E_DENIED",           "denied by policy",                 AIOS_KIND_DENIED },
    { AIOS_E_IO,               "AIOS_E_IO",               "I/O error",                        AIOS_KIND_IO },
    { AIOS_E_LIMIT,            "AIOS_E_LIMIT",            "limit exceeded",                   AIOS_KIND_LIMIT },
    { AIOS_E_CALLBACK,         "AIOS_E_CALLBACK",         "host callback failed",             AIOS_KIND_CALLBACK },
    { AIOS_E_CANCELLED,        "AIOS_E_CANCELLED",        "cancelled by the host",            AIOS_KIND_CALLBACK },
    { AIOS_E_INTERNAL,         "AIOS_E_INTERNAL",         "internal error",                   AIOS_KIND_INTERNAL },
    { AIOS_E_SELFTEST,         "AIOS_E_SELFTEST",         "cryptographic self-test failed",   AIOS_KIND_INTERNAL },
    /* key */
    { AIOS_E_KEY_NOT_FOUND,         "AIOS_E_KEY_NOT_FOUND",         "no such key",                       AIOS_KIND_NOT_FOUND },
    { AIOS_E_KEY_VERSION_NOT_FOUND, "AIOS_E_KEY_VERSION_NOT_FOUND", "no such key version",               AIOS_KIND_NOT_FOUND },
    { AIOS_E_KEY_EXISTS,            "AIOS_E_KEY_EXISTS",            "key already exists",                AIOS_KIND_STATE },
    { AIOS_E_KEY_DESTROYED,         "AIOS_E_KEY_DESTROYED",         "key version destroyed",             AIOS_KIND_STATE },
    { AIOS_E_KEY_DISABLED,          "AIOS_E_KEY_DISABLED",          "key version disabled",              AIOS_KIND_STATE },
    { AIOS_E_KEY_DECRYPT_ONLY,      "AIOS_E_KEY_DECRYPT_ONLY",      "key version is decrypt-only",       AIOS_KIND_STATE },
    { AIOS_E_KEY_USAGE,             "AIOS_E_KEY_USAGE",             "key purpose does not allow this",   AIOS_KIND_INVALID },
    { AIOS_E_KEY_USAGE_LIMIT,       "AIOS_E_KEY_USAGE_LIMIT",       "key usage limit reached",           AIOS_KIND_LIMIT },
    { AIOS_E_KEY_NOT_EXPORTABLE,    "AIOS_E_KEY_NOT_EXPORTABLE",    "key is not exportable",             AIOS_KIND_STATE },
    { AIOS_E_KEY_EXPIRED,           "AIOS_E_KEY_EXPIRED",           "key version expired",               AIOS_KIND_STATE },
    { AIOS_E_KEYRING_PASSPHRASE,    "AIOS_E_KEYRING_PASSPHRASE",    "wrong keyring passphrase or master key", AIOS_KIND_AUTH },
    { AIOS_E_KEYRING_TAMPERED,      "AIOS_E_KEYRING_TAMPERED",      "keyring file tampered with",        AIOS_KIND_AUTH },
    { AIOS_E_KEYRING_CORRUPT,       "AIOS_E_KEYRING_CORRUPT",       "keyring file corrupt",              AIOS_KIND_INVALID },
    { AIOS_E_KEYRING_LOCKED,        "AIOS_E_KEYRING_LOCKED",        "keyring locked by another writer",  AIOS_KIND_STATE },
    { AIOS_E_PKCS11,                "AIOS_E_PKCS11",                "PKCS#11 module or token error",     AIOS_KIND_IO },
    { AIOS_E_PKCS11_PIN,            "AIOS_E_PKCS11_PIN",            "PKCS#11 PIN refused",               AIOS_KIND_AUTH },
    { AIOS_E_PROVIDER_TIMEOUT,      "AIOS_E_PROVIDER_TIMEOUT",      "key provider timed out",            AIOS_KIND_CALLBACK },
    /* envelope */
    { AIOS_E_ENVELOPE_NO_RECIPIENT,     "AIOS_E_ENVELOPE_NO_RECIPIENT",     "no recipient matches the keys given",       AIOS_KIND_NOT_FOUND },
    { AIOS_E_ENVELOPE_COMMITMENT,       "AIOS_E_ENVELOPE_COMMITMENT",       "data key does not match the key commitment", AIOS_KIND_AUTH },
    { AIOS_E_ENVELOPE_CONTEXT_MISMATCH, "AIOS_E_ENVELOPE_CONTEXT_MISMATCH", "encryption context mismatch",               AIOS_KIND_AUTH },
    { AIOS_E_ENVELOPE_TRUNCATED,        "AIOS_E_ENVELOPE_TRUNCATED",        "envelope truncated",                        AIOS_KIND_AUTH },
    { AIOS_E_ENVELOPE_TRAILING_DATA,    "AIOS_E_ENVELOPE_TRAILING_DATA",    "data after the end of the envelope",        AIOS_KIND_INVALID },
    { AIOS_E_ENVELOPE_UNKNOWN_SESSION,  "AIOS_E_ENVELOPE_UNKNOWN_SESSION",  "record of a session that is not open",      AIOS_KIND_NOT_FOUND },
    { AIOS_E_ENVELOPE_MODE,             "AIOS_E_ENVELOPE_MODE",             "deterministic record under a random-only session", AIOS_KIND_INVALID },
    { AIOS_E_MANIFEST_MISMATCH, "AIOS_E_MANIFEST_MISMATCH", "model files differ from the manifest", AIOS_KIND_AUTH },
    { AIOS_E_MANIFEST_KEY_MISMATCH, "AIOS_E_MANIFEST_KEY_MISMATCH", "bundle names another key", AIOS_KIND_AUTH },
    { AIOS_E_MANIFEST_CHAIN, "AIOS_E_MANIFEST_CHAIN", "certificate chain does not verify", AIOS_KIND_AUTH },
    { AIOS_E_MANIFEST_CERT_USAGE, "AIOS_E_MANIFEST_CERT_USAGE", "certificate not for signing", AIOS_KIND_AUTH },
    { AIOS_E_MANIFEST_ROOT_DIGEST, "AIOS_E_MANIFEST_ROOT_DIGEST", "root digest does not match", AIOS_KIND_AUTH },
    { AIOS_E_MANIFEST_PREDICATE, "AIOS_E_MANIFEST_PREDICATE", "not a model signing statement", AIOS_KIND_INVALID },
    { AIOS_E_MANIFEST_PATH, "AIOS_E_MANIFEST_PATH", "path is not canonical", AIOS_KIND_INVALID },
    { AIOS_E_MANIFEST_DUPLICATE, "AIOS_E_MANIFEST_DUPLICATE", "duplicate resource name", AIOS_KIND_INVALID },
    { AIOS_E_MANIFEST_SIGNATURES, "AIOS_E_MANIFEST_SIGNATURES", "not exactly one signature", AIOS_KIND_INVALID },
    { AIOS_E_MANIFEST_SYMLINK, "AIOS_E_MANIFEST_SYMLINK", "symlink not allowed", AIOS_KIND_INVALID },
    { AIOS_E_MANIFEST_SPECIAL_FILE, "AIOS_E_MANIFEST_SPECIAL_FILE", "special file in the model", AIOS_KIND_INVALID },
    { AIOS_E_MANIFEST_NOT_SIGNED, "AIOS_E_MANIFEST_NOT_SIGNED", "file not named by the manifest", AIOS_KIND_NOT_FOUND },
    { AIOS_E_MANIFEST_UNVERIFIED, "AIOS_E_MANIFEST_UNVERIFIED", "manifest not verified", AIOS_KIND_STATE },
    { AIOS_E_MANIFEST_CHANGED, "AIOS_E_MANIFEST_CHANGED", "file changed while hashed", AIOS_KIND_IO },
    { AIOS_E_MANIFEST_EMPTY, "AIOS_E_MANIFEST_EMPTY", "empty manifest", AIOS_KIND_INVALID },
    { AIOS_E_MANIFEST_METHOD, "AIOS_E_MANIFEST_METHOD", "wrong verification method", AIOS_KIND_INVALID },
};

static const status_entry *status_find(int status)
{
    size_t i;
    for (i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++) {
        if (status_table[i].status == status)
            return &status_table[i];
    }
    return NULL;
}

const char *aios_status_name(int status)
{
    const status_entry *e = status_find(status);
    return e ? e->name : "AIOS_E_UNKNOWN";
}

const char *aios_status_str(int status)
{
    const status_entry *e = status_find(status);
    return e ? e->text : "unknown status";
}

aios_error_kind aios_status_kind(int status)
{
    const status_entry *e = status_find(status);
    return e ? e->kind : AIOS_KIND_INTERNAL;
}

const char *aios_error_kind_name(aios_error_kind kind)
{
    switch (kind) {
    case AIOS_KIND_NONE:      return "none";
    case AIOS_KIND_INVALID:   return "invalid";
    case AIOS_KIND_AUTH:      return "auth";
    case AIOS_KIND_NOT_FOUND: return "not_found";
    case AIOS_KIND_DENIED:    return "denied";
    case AIOS_KIND_IO:        return "io";
    case AIOS_KIND_LIMIT:     return "limit";
    case AIOS_KIND_STATE:     return "state";
    case AIOS_KIND_RESOURCE:  return "resource";
    case AIOS_KIND_CALLBACK:  return "callback";
    case AIOS_KIND_INTERNAL:  return "internal";
    case AIOS_KIND__FORCE32:  break;
    }
    return "unknown";
}

/* ------------------------------------------------------- per-thread record */

typedef struct error_record {
    int  status;
    char message[AIOS__ERROR_MESSAGE_MAX];
} error_record;

static _Thread_local error_record tls_error;

/* Cut s (of buffer size cap) so it ends on a UTF-8 boundary with "...". */
static void mark_truncated(char *s, size_t cap)
{
    size_t end = cap - 4;          /* room for "..." and NUL */
    /* Step back over UTF-8 continuation bytes so no character is split. */
    while (end > 0 && ((unsigned char)s[end] & 0xC0u) == 0x80u)
        end--;
    memcpy(s + end, "...", 4);
}

int aios__failv(int status, const char *fmt, va_list ap)
{
    int n;
    tls_error.status = status;
    n = vsnprintf(tls_error.message, sizeof(tls_error.message), fmt, ap);
    if (n < 0)
        tls_error.message[0] = '\0';
    else if ((size_t)n >= sizeof(tls_error.message))
        mark_truncated(tls_error.message, sizeof(tls_error.message));
    return status;
}

int aios__fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    aios__failv(status, fmt, ap);
    va_end(ap);
    return status;
}

int aios__fail_errno(int status, int errnum, const char *fmt, ...)
{
    char errbuf[128];
    char head[AIOS__ERROR_MESSAGE_MAX];
    const char *etext;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    if (n < 0)
        head[0] = '\0';
    /* GNU strerror_r returns the text, which may not be errbuf. */
    etext = strerror_r(errnum, errbuf, sizeof(errbuf));
    return aios__fail(status, "%s: %s", head, etext ? etext : "unknown error");
}

int aios__error_prefix(const char *fmt, ...)
{
    char prefix[AIOS__ERROR_MESSAGE_MAX];
    char old[AIOS__ERROR_MESSAGE_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (n < 0)
        return tls_error.status;
    memcpy(old, tls_error.message, sizeof(old));
    return aios__fail(tls_error.status, "%s: %s", prefix, old);
}

int aios__nomem(const char *what)
{
    return aios__fail(AIOS_E_NOMEM, "out of memory allocating %s", what);
}

const char *aios_last_error_message(void)
{
    return tls_error.message;
}

int aios_last_error_status(void)
{
    return tls_error.status;
}

int aios_error_set(int status, const char *message)
{
    if (status >= 0)
        status = AIOS_E_CALLBACK;
    return aios__fail(status, "%s", message ? message : aios_status_str(status));
}

void aios_error_clear(void)
{
    tls_error.status = AIOS_OK;
    tls_error.message[0] = '\0';
}
