/*
 * Fuzz the RFC 7512 PKCS#11 URI parser (lib/key/p11uri.c): any bytes must
 * give AIOS_OK or AIOS_E_FORMAT, never a crash or leak.  What parses must
 * hold valid fields (text is strict UTF-8 without NUL and within its
 * limit), and must survive a round trip: written out again with every
 * byte percent-encoded, it parses to the same fields.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "core/internal.h"
#include "key/p11.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct text_field {
    const char *name;
    size_t offset;
    size_t max;
    int query;
} text_field;

#define F(n, m, max, q) { n, offsetof(aios__p11uri, m), max, q }
static const text_field fields[] = {
    F("token", token, 32, 0),
    F("manufacturer", manufacturer, 32, 0),
    F("serial", serial, 16, 0),
    F("model", model, 16, 0),
    F("library-manufacturer", library_manufacturer, 32, 0),
    F("library-description", library_description, 32, 0),
    F("slot-description", slot_description, 64, 0),
    F("slot-manufacturer", slot_manufacturer, 32, 0),
    F("object", object, AIOS__P11URI_LABEL_MAX, 0),
    F("pin-source", pin_source, AIOS__P11URI_PATH_MAX, 1),
    F("module-name", module_name, AIOS__P11URI_NAME_MAX, 1),
    F("module-path", module_path, AIOS__P11URI_PATH_MAX, 1),
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const char *field(const aios__p11uri *u, size_t i)
{
    const char *const *p = (const char *const *)(const void *)((const unsigned char *)u +
                                                               fields[i].offset);
    return *p;
}

/* A growing output buffer; aborts on overflow (inputs are bounded). */
typedef struct out_buf {
    char *p;
    size_t len, cap;
} out_buf;

static void put(out_buf *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap)
        abort();
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void put_s(out_buf *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_enc(out_buf *o, const uint8_t *v, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;
    for (i = 0; i < n; i++) {
        char e[3] = { '%', hex[v[i] >> 4], hex[v[i] & 15] };
        put(o, e, 3);
    }
}

static void put_attr(out_buf *o, int *first, char sep, const char *name, const uint8_t *v,
                     size_t n)
{
    char s[2] = { sep, 0 };
    if (!*first)
        put_s(o, s);
    *first = 0;
    put_s(o, name);
    put_s(o, "=");
    put_enc(o, v, n);
}

static void check_fields(const aios__p11uri *u)
{
    size_t i;
    for (i = 0; i < NFIELDS; i++) {
        const char *v = field(u, i);
        size_t n;
        if (v == NULL)
            continue;
        n = strlen(v);
        if (n > fields[i].max || !aios__utf8_valid((const uint8_t *)v, n))
            abort();
    }
    if (u->pin_value != NULL && (u->pin_value_len > AIOS__P11URI_PIN_MAX ||
                                 memchr(u->pin_value, 0, u->pin_value_len) != NULL ||
                                 u->pin_value[u->pin_value_len] != '\0'))
        abort();
    if (u->pin_value != NULL && u->pin_source != NULL)
        abort();
    if (u->has_id != (u->id != NULL) || u->id_len > AIOS__P11URI_ID_MAX)
        abort();
    if ((unsigned)u->type > AIOS__P11_TYPE_DATA)
        abort();
}

static int same(const aios__p11uri *a, const aios__p11uri *b)
{
    size_t i;
    for (i = 0; i < NFIELDS; i++) {
        const char *x = field(a, i), *y = field(b, i);
        if ((x == NULL) != (y == NULL) || (x != NULL && strcmp(x, y) != 0))
            return 0;
    }
    if ((a->pin_value == NULL) != (b->pin_value == NULL) ||
        (a->pin_value != NULL && (a->pin_value_len != b->pin_value_len ||
                                  memcmp(a->pin_value, b->pin_value, a->pin_value_len) != 0)))
        return 0;
    if (a->has_id != b->has_id ||
        (a->has_id && (a->id_len != b->id_len || memcmp(a->id, b->id, a->id_len) != 0)))
        return 0;
    return a->type == b->type && a->has_slot_id == b->has_slot_id &&
           a->slot_id == b->slot_id && a->has_library_version == b->has_library_version &&
           a->library_version_major == b->library_version_major &&
           a->library_version_minor == b->library_version_minor &&
           strcmp(a->vendor_path_attr, b->vendor_path_attr) == 0;
}

static void round_trip(const aios__p11uri *u)
{
    static const char *const types[] = { NULL, "public", "private", "cert", "secret-key", "data" };
    aios__p11uri again;
    out_buf o;
    char num[32];
    int first = 1;
    size_t i;

    o.cap = 3 * AIOS__P11URI_MAX_LEN + 1024;
    o.len = 0;
    o.p = malloc(o.cap);
    if (o.p == NULL)
        abort();
    o.p[0] = '\0';
    put_s(&o, "pkcs11:");
    for (i = 0; i < NFIELDS; i++) {
        const char *v = field(u, i);
        if (v != NULL && !fields[i].query)
            put_attr(&o, &first, ';', fields[i].name, (const uint8_t *)v, strlen(v));
    }
    if (u->has_library_version) {
        snprintf(num, sizeof(num), "%u.%u", u->library_version_major, u->library_version_minor);
        put_s(&o, first ? "" : ";");
        put_s(&o, "library-version=");
        put_s(&o, num);
        first = 0;
    }
    if (u->has_slot_id) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)u->slot_id);
        put_s(&o, first ? "" : ";");
        put_s(&o, "slot-id=");
        put_s(&o, num);
        first = 0;
    }
    if (u->type != AIOS__P11_TYPE_ANY) {
        put_s(&o, first ? "" : ";");
        put_s(&o, "type=");
        put_s(&o, types[u->type]);
        first = 0;
    }
    if (u->has_id)
        put_attr(&o, &first, ';', "id", u->id, u->id_len);
    if (u->vendor_path_attr[0] != '\0')
        put_attr(&o, &first, ';', u->vendor_path_attr, (const uint8_t *)"", 0);
    put_s(&o, "?");
    first = 1;
    for (i = 0; i < NFIELDS; i++) {
        const char *v = field(u, i);
        if (v != NULL && fields[i].query)
            put_attr(&o, &first, '&', fields[i].name, (const uint8_t *)v, strlen(v));
    }
    if (u->pin_value != NULL)
        put_attr(&o, &first, '&', "pin-value", (const uint8_t *)u->pin_value, u->pin_value_len);

    /* The encoded form may exceed the length limit: then only the format
     * error is checked. */
    {
        int rc = aios__p11uri_parse(&again, o.p, o.len);
        if (rc == AIOS_OK) {
            if (!same(u, &again))
                abort();
            aios__p11uri_clear(&again);
        } else if (rc != AIOS_E_FORMAT || o.len <= AIOS__P11URI_MAX_LEN) {
            abort();
        }
    }
    free(o.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aios__p11uri u;
    int rc;

    if (aios_init() != AIOS_OK)
        abort();
    rc = aios__p11uri_parse(&u, (const char *)data, size);
    if (rc != AIOS_OK) {
        if (rc != AIOS_E_FORMAT)
            abort();
        /* A failed parse leaves nothing behind. */
        if (u.token != NULL || u.pin_value != NULL || u.id != NULL || u.module_path != NULL)
            abort();
        return 0;
    }
    check_fields(&u);
    round_trip(&u);
    aios__p11uri_clear(&u);
    return 0;
}
