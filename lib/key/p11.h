/*
 * lib/key: the PKCS#11 provider's private API (p11uri.c, pkcs11.c).
 *
 * This header does not include the PKCS#11 header, so the URI parser and
 * its fuzz target build without it.  docs/PKCS11.md describes the URI
 * rules, the wrapped-key formats and the SoftHSM2 quirks handled here.
 */
#ifndef AIOS_LIB_KEY_P11_H
#define AIOS_LIB_KEY_P11_H

#include <stddef.h>
#include <stdint.h>

#include "aios/core.h"

/* ------------------------------------------------------ RFC 7512 URIs */

/* Limits.  Values longer than the PKCS#11 field they are matched against
 * can never match, so they are refused as malformed. */
#define AIOS__P11URI_MAX_LEN      8192   /* the whole URI, in bytes */
#define AIOS__P11URI_MAX_ATTRS    64     /* attributes per component */
#define AIOS__P11URI_LABEL_MAX    256    /* object= (CKA_LABEL) */
#define AIOS__P11URI_ID_MAX       256    /* id= (CKA_ID), bytes */
#define AIOS__P11URI_PIN_MAX      256    /* pin-value, or a pin-source file */
#define AIOS__P11URI_PATH_MAX     4096   /* module-path, pin-source */
#define AIOS__P11URI_NAME_MAX     255    /* module-name */

/* type= */
typedef enum aios__p11_objtype {
    AIOS__P11_TYPE_ANY        = 0,   /* absent */
    AIOS__P11_TYPE_PUBLIC     = 1,
    AIOS__P11_TYPE_PRIVATE    = 2,
    AIOS__P11_TYPE_CERT       = 3,
    AIOS__P11_TYPE_SECRET_KEY = 4,
    AIOS__P11_TYPE_DATA       = 5
} aios__p11_objtype;

/* A parsed URI.  Text attributes are percent-decoded, NUL-terminated,
 * strict UTF-8 without NUL bytes, and NULL when absent ("" when present
 * but empty).  id is raw bytes.  pin_value lives in secure memory. */
typedef struct aios__p11uri {
    /* path component: token */
    char *token;                     /* CK_TOKEN_INFO.label, <= 32 bytes */
    char *manufacturer;              /* CK_TOKEN_INFO.manufacturerID, <= 32 */
    char *serial;                    /* CK_TOKEN_INFO.serialNumber, <= 16 */
    char *model;                     /* CK_TOKEN_INFO.model, <= 16 */
    /* path component: library */
    char *library_manufacturer;      /* CK_INFO.manufacturerID, <= 32 */
    char *library_description;       /* CK_INFO.libraryDescription, <= 32 */
    int has_library_version;
    uint8_t library_version_major;   /* CK_INFO.libraryVersion */
    uint8_t library_version_minor;
    /* path component: slot */
    char *slot_description;          /* CK_SLOT_INFO.slotDescription, <= 64 */
    char *slot_manufacturer;         /* CK_SLOT_INFO.manufacturerID, <= 32 */
    int has_slot_id;
    uint64_t slot_id;
    /* path component: object */
    char *object;                    /* CKA_LABEL */
    aios__p11_objtype type;
    int has_id;
    uint8_t *id;                     /* CKA_ID */
    size_t id_len;
    /* The first vendor-specific ("x-...") path attribute, or "" if none:
     * a narrowing this library does not understand. */
    char vendor_path_attr[72];
    /* query component */
    char *pin_source;                /* as written, after percent-decoding */
    char *pin_value;                 /* secure memory */
    size_t pin_value_len;
    char *module_name;
    char *module_path;
} aios__p11uri;

/* Parse uri[0..len) (no NUL byte may occur in it).  On failure returns
 * AIOS_E_FORMAT with the offending attribute in the message (never its
 * value) and leaves *out cleared; on success the caller releases *out with
 * aios__p11uri_clear(). */
int aios__p11uri_parse(aios__p11uri *out, const char *uri, size_t len);
/* Free and wipe what a parse allocated; zeroes *u.  Safe on a zeroed or
 * cleared struct. */
void aios__p11uri_clear(aios__p11uri *u);

/* Read the PIN a pin-source names.  Only "file:" URIs with an absolute
 * path ("file:/p", "file:///p", "file://localhost/p") are supported
 * (AIOS_E_UNSUPPORTED otherwise).  One trailing newline ("\n" or "\r\n")
 * is stripped.  *pin_out is secure memory (aios__secure_free); the PIN is
 * never logged.  AIOS_E_IO if the file cannot be read, AIOS_E_FORMAT if it
 * is empty, holds a NUL byte or exceeds AIOS__P11URI_PIN_MAX bytes. */
int aios__p11uri_read_pin_source(const char *source, char **pin_out, size_t *pin_len_out);

/* ------------------------------------------------------ provider hooks */

/* Wrapped-key formats (docs/PKCS11.md). */
#define AIOS__P11_WRAP_GCM   0x02    /* 0x02 || iv(12) || ct || tag(16) */
#define AIOS__P11_WRAP_KWP   0x03    /* 0x03 || dk_len || KWP(dk || SHA-256(ad) || 0*) */
#define AIOS__P11_WRAP_OAEP_SHA256 0x04  /* 0x04 || RSA-OAEP(SHA-256, MGF1-SHA-256)(dk || SHA-256(ad)) */
#define AIOS__P11_WRAP_OAEP_SHA1   0x05  /* 0x05 || RSA-OAEP(SHA-1, MGF1-SHA-1)(dk || SHA-256(ad)) */

/* Tests only: when on, keys and keyring unlock use AES key wrap with
 * padding even where the token offers AES-GCM (process-wide). */
void aios__pkcs11_test_force_kwp(int on);
/* Tests only: when on, RSA keys wrap and unwrap as if no token offered
 * CKM_RSA_PKCS_OAEP (process-wide). */
void aios__pkcs11_test_hide_oaep(int on);

#endif /* AIOS_LIB_KEY_P11_H */
