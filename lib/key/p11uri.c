/*
 * A strict parser of RFC 7512 PKCS#11 URIs, and the pin-source reader.
 *
 *   pkcs11:<path attributes, ';'-separated>[?<query attributes, '&'-separated>]
 *
 * Strict means: only the characters the RFC's grammar allows, percent
 * escapes that are complete, every standard attribute at most once and in
 * its own component, no unknown attribute unless it is a vendor one
 * ("x-..."), values no longer than the PKCS#11 field they are matched
 * against, and no NUL byte in any decoded text.  Failures are AIOS_E_FORMAT
 * naming the attribute and the byte offset, never the value (a value may be
 * a PIN).  docs/PKCS11.md lists the rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p11.h"
#include "../core/internal.h"
#include "../crypto/crypto.h"

/* ----------------------------------------------------------- the table */

typedef enum attr_kind {
    KIND_TEXT,      /* UTF-8 text, stored as a string */
    KIND_ID,        /* bytes */
    KIND_TYPE,      /* one of five names */
    KIND_SLOT_ID,   /* 1*DIGIT */
    KIND_LIBVER,    /* 1*DIGIT [ "." 1*DIGIT ] */
    KIND_PIN        /* secret text: secure memory, never in a message */
} attr_kind;

typedef struct attr_def {
    const char *name;
    int query;          /* 0: path component, 1: query component */
    attr_kind kind;
    size_t max;         /* decoded bytes */
    size_t field;       /* offset of the char * member (KIND_TEXT) */
} attr_def;

#define FIELD(m) offsetof(aios__p11uri, m)

static const attr_def attr_defs[] = {
    { "token",                0, KIND_TEXT,    32, FIELD(token) },
    { "manufacturer",         0, KIND_TEXT,    32, FIELD(manufacturer) },
    { "serial",               0, KIND_TEXT,    16, FIELD(serial) },
    { "model",                0, KIND_TEXT,    16, FIELD(model) },
    { "library-manufacturer", 0, KIND_TEXT,    32, FIELD(library_manufacturer) },
    { "library-description",  0, KIND_TEXT,    32, FIELD(library_description) },
    { "library-version",      0, KIND_LIBVER,  0,  0 },
    { "slot-description",     0, KIND_TEXT,    64, FIELD(slot_description) },
    { "slot-manufacturer",    0, KIND_TEXT,    32, FIELD(slot_manufacturer) },
    { "slot-id",              0, KIND_SLOT_ID, 0,  0 },
    { "object",               0, KIND_TEXT,    AIOS__P11URI_LABEL_MAX, FIELD(object) },
    { "type",                 0, KIND_TYPE,    0,  0 },
    { "id",                   0, KIND_ID,      AIOS__P11URI_ID_MAX, 0 },
    { "pin-source",           1, KIND_TEXT,    AIOS__P11URI_PATH_MAX, FIELD(pin_source) },
    { "pin-value",            1, KIND_PIN,     AIOS__P11URI_PIN_MAX, 0 },
    { "module-name",          1, KIND_TEXT,    AIOS__P11URI_NAME_MAX, FIELD(module_name) },
    { "module-path",          1, KIND_TEXT,    AIOS__P11URI_PATH_MAX, FIELD(module_path) },
};

#define NDEFS (sizeof(attr_defs) / sizeof(attr_defs[0]))

static const char *const type_names[] = {
    NULL, "public", "private", "cert", "secret-key", "data"
};

/* Attribute names: 1*(ALPHA / DIGIT / "-" / "_") (pk11-v-attr-nm-char;
 * the standard names fit too).  Longer names cannot be ours. */
#define NAME_MAX_LEN 64

/* ------------------------------------------------------- characters */

static int is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* pk11-pchar (query == 0) or pk11-qchar (query == 1), without the '%'
 * of pct-encoded, which the decoder handles. */
static int is_value_char(unsigned char c, int query)
{
    if (is_alpha(c) || is_digit(c))
        return 1;
    switch (c) {
    case '-': case '.': case '_': case '~':                     /* unreserved */
    case ':': case '[': case ']': case '@': case '!': case '$':
    case '\'': case '(': case ')': case '*': case '+': case ',':
    case '=':                                                    /* pk11-res-avail */
        return 1;
    case '&':
        return !query;                                           /* path only */
    case '/': case '?': case '|':
        return query;                                            /* query only */
    default:
        return 0;
    }
}

static int is_name_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
}

/* --------------------------------------------------------- decoding */

/* Percent-decode raw[0..len) into out (capacity >= len); *out_len gets the
 * decoded length.  Offsets in messages count from the URI's start. */
static int decode_value(uint8_t *out, size_t *out_len, const char *raw, size_t len,
                        int query, const char *name, size_t base)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '%') {
            int hi, lo;
            if (len - i < 3)
                return aios__fail(AIOS_E_FORMAT,
                    "pkcs11 URI: attribute '%s': incomplete percent-encoding at offset %zu",
                    name, base + i);
            hi = hex_val((unsigned char)raw[i + 1]);
            lo = hex_val((unsigned char)raw[i + 2]);
            if (hi < 0 || lo < 0)
                return aios__fail(AIOS_E_FORMAT,
                    "pkcs11 URI: attribute '%s': malformed percent-encoding at offset %zu",
                    name, base + i);
            out[n++] = (uint8_t)((hi << 4) | lo);
            i += 2;
        } else if (is_value_char(c, query)) {
            out[n++] = c;
        } else {
            return aios__fail(AIOS_E_FORMAT,
                "pkcs11 URI: attribute '%s': character 0x%02x at offset %zu must be "
                "percent-encoded", name, (unsigned)c, base + i);
        }
    }
    *out_len = n;
    return AIOS_OK;
}

/* A new NUL-terminated copy of p[0..len). */
static char *dup_text(const uint8_t *p, size_t len)
{
    char *s = aios__malloc(len + 1);
    if (s != NULL) {
        if (len > 0)
            memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

/* 1*DIGIT into *v, at most max. */
static int parse_uint(const char *s, size_t len, uint64_t max, uint64_t *v)
{
    uint64_t acc = 0;
    size_t i;

    if (len == 0)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned d;
        if (!is_digit((unsigned char)s[i]))
            return 0;
        d = (unsigned)(s[i] - '0');
        if (acc > (max - d) / 10)
            return 0;
        acc = acc * 10 + d;
    }
    *v = acc;
    return 1;
}

/* ------------------------------------------------------- one attribute */

typedef struct parse_state {
    aios__p11uri *u;
    unsigned char seen[NDEFS];
    char vendor[2][AIOS__P11URI_MAX_ATTRS][NAME_MAX_LEN + 1];  /* per component */
    size_t nvendor[2];
} parse_state;

/* The value raw[0..raw_len) of attribute def, which starts at offset base
 * of the URI (its value at val_base). */
static int store_value(parse_state *st, const attr_def *def, const char *raw, size_t raw_len,
                       size_t base, size_t val_base)
{
    aios__p11uri *u = st->u;
    uint8_t *buf;
    size_t n = 0;
    int rc;

    /* Structured values are checked on their raw form: the grammar allows
     * no percent-encoding there. */
    if (def->kind == KIND_SLOT_ID) {
        uint64_t v;
        if (!parse_uint(raw, raw_len, (uint64_t)ULONG_MAX, &v))
            return aios__fail(AIOS_E_FORMAT,
                "pkcs11 URI: attribute 'slot-id' at offset %zu must be a decimal number "
                "that fits a CK_SLOT_ID", base);
        u->has_slot_id = 1;
        u->slot_id = v;
        return AIOS_OK;
    }
    if (def->kind == KIND_LIBVER) {
        const char *dot = memchr(raw, '.', raw_len);
        size_t mlen = dot != NULL ? (size_t)(dot - raw) : raw_len;
        uint64_t major = 0, minor = 0;
        if (!parse_uint(raw, mlen, 255, &major) ||
            (dot != NULL && !parse_uint(dot + 1, raw_len - mlen - 1, 255, &minor)))
            return aios__fail(AIOS_E_FORMAT,
                "pkcs11 URI: attribute 'library-version' at offset %zu must be "
                "<major>[.<minor>], each 0..255", base);
        u->has_library_version = 1;
        u->library_version_major = (uint8_t)major;
        u->library_version_minor = (uint8_t)minor;
        return AIOS_OK;
    }

    /* Decoded values are never longer than their raw form; PINs are
     * decoded straight into secure memory. */
    if (def->kind == KIND_PIN)
        buf = aios__secure_malloc(raw_len + 1);
    else
        buf = aios__malloc(raw_len + 1);
    if (buf == NULL)
        return aios__nomem("pkcs11 URI");
    rc = decode_value(buf, &n, raw, raw_len, def->query, def->name, val_base);
    if (rc != AIOS_OK)
        goto out;
    if (n > def->max && def->kind != KIND_TYPE) {
        rc = aios__fail(AIOS_E_FORMAT,
            "pkcs11 URI: attribute '%s' at offset %zu is %zu bytes long; at most %zu are "
            "allowed", def->name, base, n, def->max);
        goto out;
    }
    if (def->kind != KIND_ID && memchr(buf, 0, n) != NULL) {
        rc = aios__fail(AIOS_E_FORMAT,
            "pkcs11 URI: attribute '%s' at offset %zu holds a NUL byte (%%00)", def->name, base);
        goto out;
    }

    switch (def->kind) {
    case KIND_TEXT: {
        char **slot = (char **)(void *)((unsigned char *)u + def->field);
        if (!aios__utf8_valid(buf, n)) {
            rc = aios__fail(AIOS_E_FORMAT,
                "pkcs11 URI: attribute '%s' at offset %zu is not valid UTF-8", def->name, base);
            goto out;
        }
        *slot = dup_text(buf, n);
        if (*slot == NULL)
            rc = aios__nomem("pkcs11 URI");
        break;
    }
    case KIND_ID:
        u->id = aios__malloc(n > 0 ? n : 1);
        if (u->id == NULL) {
            rc = aios__nomem("pkcs11 URI");
            break;
        }
        if (n > 0)
            memcpy(u->id, buf, n);
        u->id_len = n;
        u->has_id = 1;
        break;
    case KIND_TYPE: {
        size_t t;
        for (t = 1; t < sizeof(type_names) / sizeof(type_names[0]); t++)
            if (strlen(type_names[t]) == n && strncasecmp((const char *)buf, type_names[t], n) == 0)
                break;
        if (t == sizeof(type_names) / sizeof(type_names[0])) {
            rc = aios__fail(AIOS_E_FORMAT,
                "pkcs11 URI: attribute 'type' at offset %zu must be public, private, cert, "
                "secret-key or data", base);
            break;
        }
        u->type = (aios__p11_objtype)t;
        break;
    }
    case KIND_PIN:
        buf[n] = '\0';
        u->pin_value = (char *)buf;
        u->pin_value_len = n;
        buf = NULL;             /* kept */
        break;
    case KIND_SLOT_ID:
    case KIND_LIBVER:
        break;                  /* handled above */
    }

out:
    if (buf != NULL) {
        if (def->kind == KIND_PIN) {
            aios__secure_free(buf);
        } else {
            aios__wipe(buf, raw_len + 1);
            aios__free(buf);
        }
    }
    return rc;
}

static int parse_attr(parse_state *st, const char *s, size_t len, size_t base, int query)
{
    const char *comp = query ? "query" : "path";
    const char *eq = memchr(s, '=', len);
    size_t nlen, i;
    char name[NAME_MAX_LEN + 1];
    const attr_def *def = NULL;
    size_t d;

    if (len == 0)
        return aios__fail(AIOS_E_FORMAT,
            "pkcs11 URI: empty %s attribute at offset %zu", comp, base);
    if (eq == NULL)
        return aios__fail(AIOS_E_FORMAT,
            "pkcs11 URI: %s attribute at offset %zu has no '='", comp, base);
    nlen = (size_t)(eq - s);
    if (nlen == 0 || nlen > NAME_MAX_LEN)
        return aios__fail(AIOS_E_FORMAT,
            "pkcs11 URI: malformed %s attribute name at offset %zu", comp, base);
    for (i = 0; i < nlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_name_char(c))
            return aios__fail(AIOS_E_FORMAT,
                "pkcs11 URI: malformed %s attribute name at offset %zu", comp, base);
        /* Attribute names are ABNF literals: case-insensitive. */
        name[i] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    }
    name[nlen] = '\0';

    for (d = 0; d < NDEFS; d++) {
        if (strcmp(attr_defs[d].name, name) == 0) {
            def = &attr_defs[d];
            break;
        }
    }

    if (def == NULL) {
        size_t v, comp_i = query ? 1 : 0;
        uint8_t *scratch;
        size_t n;
        int rc;

        if (nlen < 3 || name[0] != 'x' || name[1] != '-')
            return aios__fail(AIOS_E_FORMAT,
                "pkcs11 URI: unknown %s attribute '%s' at offset %zu (vendor attributes "
                "start with 'x-')", comp, name, base);
        for (v = 0; v < st->nvendor[comp_i]; v++)
            if (strcmp(st->vendor[comp_i][v], name) == 0)
                return aios__fail(AIOS_E_FORMAT,
                    "pkcs11 URI: attribute '%s' appears twice (offset %zu)", name, base);
        if (st->nvendor[comp_i] >= AIOS__P11URI_MAX_ATTRS)
            return aios__fail(AIOS_E_FORMAT, "pkcs11 URI: too many %s attributes", comp);
        memcpy(st->vendor[comp_i][st->nvendor[comp_i]++], name, nlen + 1);
        /* Check the value's syntax; it is not kept. */
        scratch = aios__malloc(len - nlen);
        if (scratch == NULL)
            return aios__nomem("pkcs11 URI");
        rc = decode_value(scratch, &n, eq + 1, len - nlen - 1, query, name, base + nlen + 1);
        aios__wipe(scratch, len - nlen);
        aios__free(scratch);
        if (rc != AIOS_OK)
            return rc;
        if (!query && st->u->vendor_path_attr[0] == '\0')
            memcpy(st->u->vendor_path_attr, name, nlen + 1);
        return AIOS_OK;
    }

    if (def->query != query)
        return aios__fail(AIOS_E_FORMAT,
            "pkcs11 URI: '%s' at offset %zu is a %s attribute; it belongs %s the '?'",
            name, base, def->query ? "query" : "path", def->query ? "after" : "before");
    if (st->seen[d])
        return aios__fail(AIOS_E_FORMAT,
            "pkcs11 URI: attribute '%s' appears twice (offset %zu)", name, base);
    st->seen[d] = 1;
    return store_value(st, def, eq + 1, len - nlen - 1, base, base + nlen + 1);
}

static int parse_component(parse_state *st, const char *s, size_t len, size_t base, int query)
{
    char sep = query ? '&' : ';';
    size_t start = 0, count = 0;

    if (len == 0)
        return AIOS_OK;
    for (;;) {
        const char *end = memchr(s + start, sep, len - start);
        size_t alen = end != NULL ? (size_t)(end - (s + start)) : len - start;
        int rc;

        if (++count > AIOS__P11URI_MAX_ATTRS)
            return aios__fail(AIOS_E_FORMAT, "pkcs11 URI: more than %d %s attributes",
                              AIOS__P11URI_MAX_ATTRS, query ? "query" : "path");
        rc = parse_attr(st, s + start, alen, base + start, query);
        if (rc != AIOS_OK)
            return rc;
        if (end == NULL)
            return AIOS_OK;
        start += alen + 1;
    }
}

/* --------------------------------------------------------------- API */

void aios__p11uri_clear(aios__p11uri *u)
{
    if (u == NULL)
        return;
    aios__free(u->token);
    aios__free(u->manufacturer);
    aios__free(u->serial);
    aios__free(u->model);
    aios__free(u->library_manufacturer);
    aios__free(u->library_description);
    aios__free(u->slot_description);
    aios__free(u->slot_manufacturer);
    aios__free(u->object);
    aios__free(u->id);
    aios__free(u->pin_source);
    aios__secure_free(u->pin_value);
    aios__free(u->module_name);
    aios__free(u->module_path);
    memset(u, 0, sizeof(*u));
}

int aios__p11uri_parse(aios__p11uri *out, const char *uri, size_t len)
{
    static const char scheme[] = "pkcs11:";
    const size_t slen = sizeof(scheme) - 1;
    parse_state *st;
    const char *q;
    size_t path_len;
    int rc;

    if (out == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios__p11uri_parse: out is NULL");
    memset(out, 0, sizeof(*out));
    if (uri == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "pkcs11 URI: the URI is NULL");
    if (len > AIOS__P11URI_MAX_LEN)
        return aios__fail(AIOS_E_FORMAT, "pkcs11 URI: %zu bytes long; at most %d are allowed",
                          len, AIOS__P11URI_MAX_LEN);
    if (len < slen || strncasecmp(uri, scheme, slen) != 0)
        return aios__fail(AIOS_E_FORMAT, "pkcs11 URI: it must start with 'pkcs11:'");
    if (memchr(uri, 0, len) != NULL)
        return aios__fail(AIOS_E_FORMAT, "pkcs11 URI: holds a NUL byte");

    st = aios__calloc(1, sizeof(*st));
    if (st == NULL)
        return aios__nomem("pkcs11 URI");
    st->u = out;

    q = memchr(uri + slen, '?', len - slen);
    path_len = q != NULL ? (size_t)(q - (uri + slen)) : len - slen;
    rc = parse_component(st, uri + slen, path_len, slen, 0);
    if (rc == AIOS_OK && q != NULL)
        rc = parse_component(st, q + 1, len - slen - path_len - 1, slen + path_len + 1, 1);
    if (rc == AIOS_OK && out->pin_value != NULL && out->pin_source != NULL)
        rc = aios__fail(AIOS_E_FORMAT,
            "pkcs11 URI: 'pin-value' and 'pin-source' are both given; use one");
    aios__free(st);
    if (rc != AIOS_OK)
        aios__p11uri_clear(out);
    return rc;
}

/* ---------------------------------------------------------- pin-source */

int aios__p11uri_read_pin_source(const char *source, char **pin_out, size_t *pin_len_out)
{
    const char *path;
    char *buf = NULL;
    size_t n = 0, cap = AIOS__P11URI_PIN_MAX + 2;   /* the PIN and "\r\n" */
    struct stat sb;
    int fd, rc;

    if (pin_out == NULL || pin_len_out == NULL || source == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "pin-source: NULL argument");
    *pin_out = NULL;
    *pin_len_out = 0;
    if (strncasecmp(source, "file:", 5) != 0)
        return aios__fail(AIOS_E_UNSUPPORTED,
            "pkcs11 URI: pin-source supports only file: URIs (file:/path or file:///path)");
    path = source + 5;
    if (path[0] == '/' && path[1] == '/') {
        const char *host = path + 2;
        const char *slash = strchr(host, '/');
        size_t hlen = slash != NULL ? (size_t)(slash - host) : strlen(host);
        if (hlen != 0 && !(hlen == 9 && strncasecmp(host, "localhost", 9) == 0))
            return aios__fail(AIOS_E_UNSUPPORTED,
                "pkcs11 URI: pin-source names a file on another host");
        path = host + hlen;
    }
    if (path[0] != '/')
        return aios__fail(AIOS_E_FORMAT,
            "pkcs11 URI: pin-source must name an absolute path (file:/path or file:///path)");

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return aios__fail_errno(AIOS_E_IO, errno, "pkcs11 URI: pin-source %s", path);
    if (fstat(fd, &sb) != 0) {
        rc = aios__fail_errno(AIOS_E_IO, errno, "pkcs11 URI: pin-source %s", path);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = aios__fail(AIOS_E_IO, "pkcs11 URI: pin-source %s is not a regular file", path);
        goto out;
    }
    if ((uint64_t)sb.st_size > (uint64_t)cap) {
        rc = aios__fail(AIOS_E_FORMAT,
            "pkcs11 URI: pin-source %s is larger than a PIN can be (%zu bytes)", path, cap);
        goto out;
    }
    /* One byte more than allowed, to notice a file that grew. */
    buf = aios__secure_malloc(cap + 1);
    if (buf == NULL) {
        rc = aios__nomem("pkcs11 pin-source");
        goto out;
    }
    while (n < cap + 1) {
        ssize_t r = read(fd, buf + n, cap + 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = aios__fail_errno(AIOS_E_IO, errno, "pkcs11 URI: pin-source %s", path);
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > cap) {
        rc = aios__fail(AIOS_E_FORMAT,
            "pkcs11 URI: pin-source %s is larger than a PIN can be (%zu bytes)", path, cap);
        goto out;
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
    }
    if (n == 0) {
        rc = aios__fail(AIOS_E_FORMAT, "pkcs11 URI: pin-source %s is empty", path);
        goto out;
    }
    if (n > AIOS__P11URI_PIN_MAX || memchr(buf, 0, n) != NULL) {
        rc = aios__fail(AIOS_E_FORMAT,
            "pkcs11 URI: pin-source %s does not hold a PIN (a NUL byte, or more than %d bytes)",
            path, AIOS__P11URI_PIN_MAX);
        goto out;
    }
    aios__wipe(buf + n, cap + 1 - n);
    buf[n] = '\0';
    *pin_out = buf;
    *pin_len_out = n;
    buf = NULL;
    rc = AIOS_OK;
out:
    aios__secure_free(buf);
    close(fd);
    return rc;
}
