/*
 * Field-level encryption of JSON documents (docs/FORMAT.md section 11):
 * values named by RFC 6901 pointers become "aios:f1:" || base64url-nopad
 * of an R record (random mode) or a D record (deterministic mode), sealed
 * under a session with the field associated data FAD (11.2) over a typed
 * plaintext (11.1).  Decryption walks the whole document and restores
 * every "aios:f1:" string with the session its record names.
 *
 * JSON is Jansson's (the library never calls json_set_alloc_funcs, so
 * Jansson's allocations use malloc and are outside allocator hooks).
 * Plaintext that passes through our hands is wiped: the typed plaintexts,
 * the original values replaced at encryption (their string bytes), and at
 * decryption every string, number and key of the tree before it is freed;
 * the output is dumped straight into a secure buffer.  Jansson's own
 * parser scratch (for "j" values) is beyond reach.
 *
 * Error messages name the pointer, never a value.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "session.h"
#include "../core/internal.h"

#define FIELD_PREFIX      "aios:f1:"
#define FIELD_PREFIX_LEN  8
#define FIELD_PT_MAX      ((size_t)1 << 20)                     /* typed plaintext */
#define FIELD_RECORD_MAX  (FIELD_PT_MAX + AIOS__ENV_R_OVERHEAD)  /* decoded record */
#define PTR_MAX           1024
#define RID_MAX           256
#define FAD_LABEL         "aios fle v1"
#define FAD_LABEL_LEN     11
#define FAD_MAX           (FAD_LABEL_LEN + 4 + PTR_MAX + 4 + RID_MAX)

#define TAG_STRING 0x73   /* s */
#define TAG_INT    0x69   /* i */
#define TAG_TRUE   0x74   /* t */
#define TAG_FALSE  0x66   /* f */
#define TAG_NULL   0x6e   /* n */
#define TAG_JSON   0x6a   /* j */

#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)
#define J_FLAGS    (JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER)
#define LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

static const size_t fields_opt_sizes[] = { sizeof(aios_envelope_fields_options) };

int aios_envelope_fields_options_init(aios_envelope_fields_options *opts, unsigned int version)
{
    AIOS__CHECK_ARG(opts != NULL, "opts is NULL");
    if (version != AIOS_ENVELOPE_FIELDS_OPTIONS_VERSION)
        return aios__fail(AIOS_E_VERSION, "aios_envelope_fields_options version %u is not "
                          "supported (this library knows %d)", version,
                          AIOS_ENVELOPE_FIELDS_OPTIONS_VERSION);
    memset(opts, 0, sizeof(*opts));
    opts->version = version;
    return AIOS_OK;
}

static int opts_get(aios_envelope_fields_options *o, const aios_envelope_fields_options *opts,
                    const char *fn)
{
    const uint32_t known = AIOS_ENVELOPE_FIELDS_DETERMINISTIC | AIOS_ENVELOPE_FIELDS_SKIP_MISSING;
    int rc = aios__options_copy(o, sizeof(*o), opts, fields_opt_sizes, 1,
                                "aios_envelope_fields_options");
    if (rc != AIOS_OK)
        return rc;
    if (o->flags & ~known)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn,
                          (unsigned)(o->flags & ~known));
    if (o->record_id == NULL && o->record_id_len > 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: record_id is NULL with a length of %zu",
                          fn, o->record_id_len);
    if (o->record_id_len > RID_MAX)
        return aios__fail(AIOS_E_LIMIT, "%s: a record id of %zu bytes is over %d", fn,
                          o->record_id_len, RID_MAX);
    return AIOS_OK;
}

/* FAD = "aios fle v1" || u32be(len(ptr)) || ptr || u32be(len(rid)) || rid */
static size_t fad_build(uint8_t fad[FAD_MAX], const char *ptr, size_t plen,
                        const uint8_t *rid, size_t rlen)
{
    size_t n = 0;
    memcpy(fad, FAD_LABEL, FAD_LABEL_LEN);
    n = FAD_LABEL_LEN;
    fad[n++] = (uint8_t)(plen >> 24);
    fad[n++] = (uint8_t)(plen >> 16);
    fad[n++] = (uint8_t)(plen >> 8);
    fad[n++] = (uint8_t)plen;
    memcpy(fad + n, ptr, plen);
    n += plen;
    fad[n++] = (uint8_t)(rlen >> 24);
    fad[n++] = (uint8_t)(rlen >> 16);
    fad[n++] = (uint8_t)(rlen >> 8);
    fad[n++] = (uint8_t)rlen;
    if (rlen)
        memcpy(fad + n, rid, rlen);
    return n + rlen;
}

/* ------------------------------------------------------------ wiping */

/* Overwrite a value's plaintext in place before Jansson frees it: string
 * bytes, numbers and (deep) object keys.  Only for trees about to be
 * released: keys are zeroed in the hashtable, so no lookup may follow. */
static void wipe_value(json_t *v)
{
    void *it;
    size_t i;

    switch (json_typeof(v)) {
    case JSON_STRING:
        if (json_string_length(v) > 0)
            aios__wipe((void *)(uintptr_t)json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        (void)json_integer_set(v, 0);
        break;
    case JSON_REAL:
        (void)json_real_set(v, 0.0);
        break;
    case JSON_OBJECT:
        for (it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            wipe_value(json_object_iter_value(it));
            if (json_object_iter_key_len(it) > 0)
                aios__wipe((void *)(uintptr_t)json_object_iter_key(it), json_object_iter_key_len(it));
        }
        break;
    case JSON_ARRAY:
        for (i = 0; i < json_array_size(v); i++)
            wipe_value(json_array_get(v, i));
        break;
    default:
        break;
    }
}

/* Dump root into a new buffer (secure when asked). */
static int dump(aios_buffer **out, const json_t *root, uint32_t flags, const char *fn)
{
    size_t n = json_dumpb(root, NULL, 0, DUMP_FLAGS), m;
    aios_buffer *b = NULL;
    int rc;

    if (n == 0)
        return aios__fail(AIOS_E_INTERNAL, "%s: the document cannot be serialised", fn);
    if ((rc = aios__buffer_new(&b, n, flags)) != AIOS_OK)
        return rc;
    m = json_dumpb(root, (char *)aios_buffer_data_mut(b), n, DUMP_FLAGS);
    if (m != n) {
        aios_buffer_free(b);
        return aios__fail(AIOS_E_INTERNAL, "%s: the document changed size while serialised", fn);
    }
    *out = b;
    return AIOS_OK;
}

static int load(json_t **root, const char *json, size_t len, const char *fn)
{
    json_error_t err;

    *root = json_loadb(json, len, LOAD_FLAGS, &err);
    if (*root == NULL) {
        /* Jansson's text may quote the document ("near '<token>'"), and
         * the document is plaintext: only the position and a fixed reason
         * go into the message. */
        const char *why;
        switch (json_error_code(&err)) {
        case json_error_duplicate_key:      why = "a key appears twice"; break;
        case json_error_invalid_utf8:       why = "invalid UTF-8"; break;
        case json_error_premature_end_of_input: why = "the text ends early"; break;
        case json_error_end_of_input_expected:  why = "text after the document"; break;
        case json_error_wrong_type:         why = "not an object or array"; break;
        case json_error_index_out_of_range: why = "nesting too deep"; break;
        default:                            why = "a syntax error"; break;
        }
        return aios__fail(AIOS_E_FORMAT, "%s: the document is not a JSON object or array "
                          "(line %d, column %d, byte %d: %s)", fn, err.line, err.column,
                          err.position, why);
    }
    return AIOS_OK;
}

/* ------------------------------------------------------------ pointers */

typedef struct located {
    json_t *parent;        /* NULL: not found */
    json_t *value;
    char    key[PTR_MAX];  /* object member name (unescaped) */
    size_t  key_len;
    size_t  index;         /* array element */
} located;

/* Resolve an RFC 6901 pointer (checked: 1..1024 bytes, begins with '/').
 * AIOS_E_NOT_FOUND when it does not resolve (a name where an array index
 * is, too), AIOS_E_INVALID_ARGUMENT for bad escapes and for array tokens
 * that look like indices but are not canonical ("-", leading zeros, empty):
 * a pointer names one place in exactly one way, so that decryption, which
 * computes pointers, binds the same bytes. */
static int ptr_resolve(located *loc, json_t *root, const char *ptr, size_t plen)
{
    json_t *cur = root;
    size_t i = 1;

    loc->parent = NULL;
    loc->value = NULL;
    while (i <= plen) {
        size_t start = i, klen = 0, j;
        while (i < plen && ptr[i] != '/')
            i++;
        for (j = start; j < i; j++) {
            char c = ptr[j];
            if (c == '~') {
                if (j + 1 >= i || (ptr[j + 1] != '0' && ptr[j + 1] != '1'))
                    return aios__fail(AIOS_E_INVALID_ARGUMENT, "pointer %s: '~' must be followed "
                                      "by 0 or 1 (RFC 6901)", ptr);
                c = ptr[j + 1] == '0' ? '~' : '/';
                j++;
            }
            loc->key[klen++] = c;
        }
        if (json_is_object(cur)) {
            json_t *next = json_object_getn(cur, loc->key, klen);
            if (next == NULL)
                return aios__fail(AIOS_E_NOT_FOUND, "pointer %s does not resolve", ptr);
            loc->parent = cur;
            loc->key_len = klen;
            cur = next;
        } else if (json_is_array(cur)) {
            size_t idx = 0, k;
            if (klen == 1 && loc->key[0] == '-')
                return aios__fail(AIOS_E_INVALID_ARGUMENT, "pointer %s: '-' (past the end of an "
                                  "array) names no value", ptr);
            for (k = 0; k < klen; k++)
                if (loc->key[k] < '0' || loc->key[k] > '9')
                    return aios__fail(AIOS_E_NOT_FOUND, "pointer %s does not resolve (a name "
                                      "where an array index is)", ptr);
            if (klen == 0 || (klen > 1 && loc->key[0] == '0'))
                goto bad_index;
            for (k = 0; k < klen && idx <= json_array_size(cur); k++)
                idx = idx * 10 + (size_t)(loc->key[k] - '0');
            if (idx >= json_array_size(cur))
                return aios__fail(AIOS_E_NOT_FOUND, "pointer %s does not resolve", ptr);
            loc->parent = cur;
            loc->index = idx;
            cur = json_array_get(cur, idx);
        } else {
            return aios__fail(AIOS_E_NOT_FOUND, "pointer %s does not resolve", ptr);
        }
        i++;   /* past the '/' (or the end) */
    }
    loc->value = cur;
    return AIOS_OK;
bad_index:
    return aios__fail(AIOS_E_INVALID_ARGUMENT, "pointer %s: an array index is digits without "
                      "leading zeros (RFC 6901)", ptr);
}

static int ptr_check(const char *ptr, size_t *len_out)
{
    size_t n;
    if (ptr == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "a pointer is NULL");
    n = strnlen(ptr, PTR_MAX + 1);
    if (n == 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "the root pointer \"\" cannot be encrypted "
                          "(a field is a value inside the document)");
    if (n > PTR_MAX)
        return aios__fail(AIOS_E_LIMIT, "a pointer is over %d bytes", PTR_MAX);
    if (ptr[0] != '/')
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "pointer %s does not begin with '/'", ptr);
    *len_out = n;
    return AIOS_OK;
}

/* ------------------------------------------------------------ typed plaintext (11.1) */

/* The typed plaintext of v into a new buffer (*pt, wiped and freed by the
 * caller with aios__free_secret(*pt, *cap)). */
static int typed_encode(uint8_t **pt, size_t *len, size_t *cap, json_t *v, int deterministic,
                        const char *ptr)
{
    uint8_t *p;
    size_t n;

    *pt = NULL;
    *len = 0;
    *cap = 0;
    switch (json_typeof(v)) {
    case JSON_STRING:
        n = json_string_length(v);
        if (n > FIELD_PT_MAX - 1)
            return aios__fail(AIOS_E_LIMIT, "field %s: the value is over 1 MiB", ptr);
        if ((p = aios__malloc(n + 1)) == NULL)
            return aios__nomem("a field's plaintext");
        p[0] = TAG_STRING;
        memcpy(p + 1, json_string_value(v), n);
        *pt = p;
        *len = *cap = n + 1;
        return AIOS_OK;
    case JSON_INTEGER: {
        char d[32];
        int k = snprintf(d, sizeof(d), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        if (k <= 0 || (size_t)k >= sizeof(d))
            return aios__fail(AIOS_E_INTERNAL, "field %s: integer formatting failed", ptr);
        if ((p = aios__malloc((size_t)k + 1)) == NULL)
            return aios__nomem("a field's plaintext");
        p[0] = TAG_INT;
        memcpy(p + 1, d, (size_t)k);
        aios__wipe(d, sizeof(d));
        *pt = p;
        *len = *cap = (size_t)k + 1;
        return AIOS_OK;
    }
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        if ((p = aios__malloc(1)) == NULL)
            return aios__nomem("a field's plaintext");
        p[0] = json_is_true(v) ? TAG_TRUE : json_is_false(v) ? TAG_FALSE : TAG_NULL;
        *pt = p;
        *len = *cap = 1;
        return AIOS_OK;
    default:
        break;
    }
    /* A real, an object or an array: compact JSON, random mode only. */
    if (deterministic)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "field %s: a real, object or array cannot be "
                          "encrypted deterministically (its JSON text is not canonical)", ptr);
    n = json_dumpb(v, NULL, 0, J_FLAGS);
    if (n == 0)
        return aios__fail(AIOS_E_INTERNAL, "field %s: the value cannot be serialised", ptr);
    if (n > FIELD_PT_MAX - 1)
        return aios__fail(AIOS_E_LIMIT, "field %s: the value is over 1 MiB", ptr);
    if ((p = aios__malloc(n + 1)) == NULL)
        return aios__nomem("a field's plaintext");
    p[0] = TAG_JSON;
    if (json_dumpb(v, (char *)p + 1, n, J_FLAGS) != n) {
        aios__free_secret(p, n + 1);
        return aios__fail(AIOS_E_INTERNAL, "field %s: the value cannot be serialised", ptr);
    }
    *pt = p;
    *len = *cap = n + 1;
    return AIOS_OK;
}

/* Canonical int64 decimal: -?(0|[1-9][0-9]*), no "-0", in range. */
static int parse_int(json_int_t *out, const uint8_t *s, size_t n)
{
    uint64_t acc = 0, lim;
    size_t i = 0;
    int neg = 0;

    if (n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || n - i > 19)
        return 0;
    if (s[i] == '0' && (n - i > 1 || neg))
        return 0;
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        if (acc > (lim - (uint64_t)(s[i] - '0')) / 10)
            return 0;
        acc = acc * 10 + (uint64_t)(s[i] - '0');
    }
    if (neg)
        *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(json_int_t)acc;
    else
        *out = (json_int_t)acc;
    return 1;
}

static int typed_decode(json_t **out, const uint8_t *pt, size_t n, int deterministic,
                        const char *ptr)
{
    json_int_t iv = 0;
    json_error_t err;

    *out = NULL;
    if (n == 0)
        return aios__fail(AIOS_E_FORMAT, "field %s: empty plaintext (no type tag)", ptr);
    switch (pt[0]) {
    case TAG_STRING:
        if (!aios__utf8_valid(pt + 1, n - 1))
            return aios__fail(AIOS_E_FORMAT, "field %s: the string is not valid UTF-8", ptr);
        *out = json_stringn_nocheck((const char *)pt + 1, n - 1);
        break;
    case TAG_INT:
        if (!parse_int(&iv, pt + 1, n - 1))
            return aios__fail(AIOS_E_FORMAT, "field %s: the integer is not canonical decimal "
                              "within int64", ptr);
        *out = json_integer(iv);
        iv = 0;
        break;
    case TAG_TRUE:
    case TAG_FALSE:
    case TAG_NULL:
        if (n != 1)
            return aios__fail(AIOS_E_FORMAT, "field %s: true, false or null with a payload", ptr);
        *out = pt[0] == TAG_TRUE ? json_true() : pt[0] == TAG_FALSE ? json_false() : json_null();
        break;
    case TAG_JSON:
        if (deterministic)
            return aios__fail(AIOS_E_FORMAT, "field %s: a JSON-text value in a deterministic "
                              "record", ptr);
        *out = json_loadb((const char *)pt + 1, n - 1, JSON_DECODE_ANY | LOAD_FLAGS, &err);
        if (*out == NULL)
            return aios__fail(AIOS_E_FORMAT, "field %s: the JSON-text value does not parse", ptr);
        aios__wipe(&err, sizeof(err));
        return AIOS_OK;
    default:
        return aios__fail(AIOS_E_FORMAT, "field %s: unknown type tag 0x%02x", ptr, pt[0]);
    }
    if (*out == NULL)
        return aios__nomem("a decrypted field");
    return AIOS_OK;
}

/* ------------------------------------------------------------ encrypt */

static int encrypt_one(json_t **field_out, aios_envelope_session *s, json_t *v, const char *ptr,
                       size_t plen, const aios_envelope_fields_options *o)
{
    int det = (o->flags & AIOS_ENVELOPE_FIELDS_DETERMINISTIC) != 0;
    uint8_t fad[FAD_MAX], *pt = NULL, *rec = NULL;
    size_t fad_len, pt_len, pt_cap, rec_len, b64_len;
    char *text = NULL;
    int rc;

    *field_out = NULL;
    if ((rc = typed_encode(&pt, &pt_len, &pt_cap, v, det, ptr)) != AIOS_OK)
        return rc;
    fad_len = fad_build(fad, ptr, plen, o->record_id, o->record_id_len);
    rec_len = pt_len + (det ? AIOS__ENV_D_OVERHEAD : AIOS__ENV_R_OVERHEAD);
    if ((rec = aios__malloc(rec_len)) == NULL) {
        rc = aios__nomem("a field record");
        goto done;
    }
    rc = det ? aios__env_session_seal_d(s, rec, pt, pt_len, fad, fad_len)
             : aios__env_session_seal_r(s, rec, pt, pt_len, fad, fad_len);
    if (rc != AIOS_OK) {
        aios__error_prefix("field %s", ptr);
        goto done;
    }
    b64_len = aios__base64_encoded_len(rec_len, AIOS__B64_URLSAFE_NOPAD);   /* NUL included */
    if ((text = aios__malloc(FIELD_PREFIX_LEN + b64_len)) == NULL) {
        rc = aios__nomem("a field string");
        goto done;
    }
    memcpy(text, FIELD_PREFIX, FIELD_PREFIX_LEN);
    if ((rc = aios__base64_encode(text + FIELD_PREFIX_LEN, b64_len, rec, rec_len,
                                  AIOS__B64_URLSAFE_NOPAD)) != AIOS_OK)
        goto done;
    *field_out = json_stringn_nocheck(text, FIELD_PREFIX_LEN + b64_len - 1);
    if (*field_out == NULL)
        rc = aios__nomem("a field string");
done:
    aios__free(text);
    aios__free(rec);
    if (pt)
        aios__free_secret(pt, pt_cap);
    aios__wipe(fad, sizeof(fad));
    return rc;
}

static int is_field(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) >= FIELD_PREFIX_LEN &&
           memcmp(json_string_value(v), FIELD_PREFIX, FIELD_PREFIX_LEN) == 0;
}

/* A value at a pointer to encrypt starts with "aios:f1:": AIOS_OK if it
 * is a well-formed record (R or D) naming this session, else
 * AIOS_E_INVALID_ARGUMENT (a plaintext that starts with the prefix cannot
 * be told from a field, and must not be left unencrypted). */
static int already_sealed(const aios_envelope_session *s, const json_t *v, const char *ptr)
{
    const char *b64 = json_string_value(v) + FIELD_PREFIX_LEN;
    size_t b64_len = json_string_length(v) - FIELD_PREFIX_LEN, cap, rec_len = 0;
    aios__env_prefix p;
    uint8_t *rec;
    int rc = AIOS_E_INVALID_ARGUMENT;

    if (b64_len <= aios__base64_encoded_len(FIELD_RECORD_MAX, AIOS__B64_URLSAFE_NOPAD) - 1) {
        cap = b64_len / 4 * 3 + 3;
        if ((rec = aios__malloc(cap)) == NULL)
            return aios__nomem("a field record");
        if (aios__base64_decode(rec, cap, &rec_len, b64, b64_len, AIOS__B64_URLSAFE_NOPAD) == AIOS_OK &&
            aios__env_record_check(&p, rec, rec_len, AIOS__ENV_ACCEPT_R | AIOS__ENV_ACCEPT_D) == AIOS_OK &&
            memcmp(rec + AIOS__ENV_PREFIX_LEN, aios_envelope_session_id(s), AIOS__ENV_KEY_LEN) == 0)
            rc = AIOS_OK;
        aios__free(rec);
    }
    aios_error_clear();
    if (rc != AIOS_OK)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "field %s: the value starts with \"aios:f1:\" "
                          "but is not a field of this session; it cannot be encrypted as is", ptr);
    return AIOS_OK;
}

int aios_envelope_fields_encrypt(aios_buffer **json_out, aios_envelope_session *session,
                                 const char *json, size_t json_len,
                                 const char *const *pointers, size_t pointer_count,
                                 const aios_envelope_fields_options *opts)
{
    static const char fn[] = "aios_envelope_fields_encrypt";
    aios_envelope_fields_options o;
    json_t *root = NULL, *field = NULL;
    located *loc = NULL;
    size_t i, plen = 0;
    int rc;

    AIOS__CHECK_ARG(json_out != NULL, "json_out is NULL");
    *json_out = NULL;
    AIOS__CHECK_ARG(session != NULL, "session is NULL");
    AIOS__CHECK_ARG(json != NULL, "json is NULL");
    AIOS__CHECK_ARG(pointers != NULL || pointer_count == 0, "pointers is NULL");
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = opts_get(&o, opts, fn)) != AIOS_OK)
        return rc;
    if ((o.flags & AIOS_ENVELOPE_FIELDS_DETERMINISTIC) && !session->deterministic)
        return aios__fail(AIOS_E_ENVELOPE_MODE, "%s: deterministic fields need a session made "
                          "with AIOS_ENVELOPE_SESSION_DETERMINISTIC", fn);
    if (!(o.flags & AIOS_ENVELOPE_FIELDS_DETERMINISTIC) && !session->writer)
        return aios__fail(AIOS_E_STATE, "%s: this session was opened from a header: readers do "
                          "not seal random-mode fields", fn);
    for (i = 0; i < pointer_count; i++)
        if ((rc = ptr_check(pointers[i], &plen)) != AIOS_OK)
            return rc;
    if ((loc = aios__malloc(sizeof(*loc))) == NULL)
        return aios__nomem("a pointer");
    if ((rc = load(&root, json, json_len, fn)) != AIOS_OK)
        goto done;

    for (i = 0; i < pointer_count; i++) {
        (void)ptr_check(pointers[i], &plen);
        rc = ptr_resolve(loc, root, pointers[i], plen);
        if (rc == AIOS_E_NOT_FOUND && (o.flags & AIOS_ENVELOPE_FIELDS_SKIP_MISSING))
            continue;
        if (rc != AIOS_OK)
            goto done;
        if (is_field(loc->value)) {
            /* Left as it is only if it really is a field of this session;
             * a plaintext that merely starts with the prefix must not stay
             * in the clear. */
            if ((rc = already_sealed(session, loc->value, pointers[i])) != AIOS_OK)
                goto done;
            continue;
        }
        if ((rc = encrypt_one(&field, session, loc->value, pointers[i], plen, &o)) != AIOS_OK)
            goto done;
        wipe_value(loc->value);
        if (json_is_object(loc->parent))
            rc = json_object_setn_new_nocheck(loc->parent, loc->key, loc->key_len, field);
        else
            rc = json_array_set_new(loc->parent, loc->index, field);
        field = NULL;
        if (rc != 0) {
            rc = aios__nomem("a field string");
            goto done;
        }
    }
    rc = dump(json_out, root, 0, fn);
done:
    if (root)
        json_decref(root);
    if (loc)
        aios__free_secret(loc, sizeof(*loc));
    return rc;
}

/* ------------------------------------------------------------ decrypt */

typedef struct walker {
    aios_envelope_session *const *sessions;
    size_t                        nsessions;
    const uint8_t                *rid;
    size_t                        rid_len;
    char                          ptr[PTR_MAX + 1];
    size_t                        plen;     /* may exceed PTR_MAX: then ptr is cut */
} walker;

static void ptr_push(walker *w, const char *tok, size_t n)
{
    size_t i;
#define PUT(c) do { if (w->plen < PTR_MAX) w->ptr[w->plen] = (c); w->plen++; } while (0)
    PUT('/');
    for (i = 0; i < n; i++) {
        if (tok[i] == '~') {
            PUT('~');
            PUT('0');
        } else if (tok[i] == '/') {
            PUT('~');
            PUT('1');
        } else {
            PUT(tok[i]);
        }
    }
#undef PUT
    w->ptr[w->plen < PTR_MAX ? w->plen : PTR_MAX] = '\0';
}

static void ptr_pop(walker *w, size_t plen)
{
    w->plen = plen;
    w->ptr[plen < PTR_MAX ? plen : PTR_MAX] = '\0';
}

static int decrypt_one(json_t **out, walker *w, const char *s, size_t n)
{
    const char *b64 = s + FIELD_PREFIX_LEN;
    size_t b64_len = n - FIELD_PREFIX_LEN, cap, rec_len = 0;
    uint8_t fad[FAD_MAX], *rec = NULL, *pt = NULL;
    aios_envelope_session *sess = NULL;
    aios__env_prefix p;
    size_t fad_len, pt_len = 0, i;
    int rc;

    *out = NULL;
    if (w->plen > PTR_MAX)
        return aios__fail(AIOS_E_LIMIT, "field %s...: its pointer is over %d bytes", w->ptr,
                          PTR_MAX);
    if (b64_len > aios__base64_encoded_len(FIELD_RECORD_MAX, AIOS__B64_URLSAFE_NOPAD) - 1)
        return aios__fail(AIOS_E_LIMIT, "field %s: the record is over 1 MiB + %d bytes", w->ptr,
                          AIOS__ENV_R_OVERHEAD);
    cap = b64_len / 4 * 3 + 3;
    if ((rec = aios__malloc(cap)) == NULL)
        return aios__nomem("a field record");
    if ((rc = aios__base64_decode(rec, cap, &rec_len, b64, b64_len,
                                  AIOS__B64_URLSAFE_NOPAD)) != AIOS_OK) {
        rc = aios__fail(AIOS_E_FORMAT, "field %s: not canonical base64url without padding",
                        w->ptr);
        goto done;
    }
    if ((rc = aios__env_record_check(&p, rec, rec_len,
                                     AIOS__ENV_ACCEPT_R | AIOS__ENV_ACCEPT_D)) != AIOS_OK)
        goto prefixed;
    for (i = 0; i < w->nsessions && sess == NULL; i++)
        if (memcmp(rec + AIOS__ENV_PREFIX_LEN, aios_envelope_session_id(w->sessions[i]),
                   AIOS__ENV_KEY_LEN) == 0)
            sess = w->sessions[i];
    if (sess == NULL) {
        rc = aios__fail(AIOS_E_ENVELOPE_UNKNOWN_SESSION, "field %s: the record names a session "
                        "not given", w->ptr);
        goto done;
    }
    if ((rc = aios__env_session_match(sess, &p, rec)) != AIOS_OK)
        goto prefixed;
    fad_len = fad_build(fad, w->ptr, w->plen, w->rid, w->rid_len);
    pt_len = rec_len - (p.type == AIOS__ENV_TYPE_R ? AIOS__ENV_R_OVERHEAD : AIOS__ENV_D_OVERHEAD);
    if ((pt = aios__malloc(pt_len + 1)) == NULL) {
        rc = aios__nomem("a field's plaintext");
        goto done;
    }
    rc = p.type == AIOS__ENV_TYPE_R
             ? aios__env_session_open_r(sess, pt, rec, rec_len, fad, fad_len)
             : aios__env_session_open_d(sess, pt, rec, rec_len, fad, fad_len);
    if (rc != AIOS_OK)
        goto prefixed;
    if (pt_len > FIELD_PT_MAX) {
        rc = aios__fail(AIOS_E_LIMIT, "field %s: the plaintext is over 1 MiB", w->ptr);
        goto done;
    }
    rc = typed_decode(out, pt, pt_len, p.type == AIOS__ENV_TYPE_D, w->ptr);
    goto done;
prefixed:
    aios__error_prefix("field %s", w->ptr);
done:
    if (pt)
        aios__free_secret(pt, pt_len + 1);
    aios__free(rec);
    aios__wipe(fad, sizeof(fad));
    return rc;
}

static int walk(walker *w, json_t *v, json_t **repl)
{
    size_t plen = w->plen, i;
    json_t *r = NULL;
    void *it;
    int rc;

    *repl = NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (is_field(v))
            return decrypt_one(repl, w, json_string_value(v), json_string_length(v));
        return AIOS_OK;
    case JSON_OBJECT:
        for (it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            ptr_push(w, json_object_iter_key(it), json_object_iter_key_len(it));
            rc = walk(w, json_object_iter_value(it), &r);
            ptr_pop(w, plen);
            if (rc != AIOS_OK)
                return rc;
            if (r && json_object_iter_set_new(v, it, r) != 0) {
                wipe_value(r);
                json_decref(r);
                return aios__nomem("a decrypted field");
            }
        }
        return AIOS_OK;
    case JSON_ARRAY:
        for (i = 0; i < json_array_size(v); i++) {
            char d[24];
            int k = snprintf(d, sizeof(d), "%zu", i);
            ptr_push(w, d, (size_t)k);
            rc = walk(w, json_array_get(v, i), &r);
            ptr_pop(w, plen);
            if (rc != AIOS_OK)
                return rc;
            if (r && json_array_set_new(v, i, r) != 0) {
                wipe_value(r);
                json_decref(r);
                return aios__nomem("a decrypted field");
            }
        }
        return AIOS_OK;
    default:
        return AIOS_OK;
    }
}

int aios_envelope_fields_decrypt(aios_buffer **json_out,
                                 aios_envelope_session *const *sessions, size_t session_count,
                                 const char *json, size_t json_len,
                                 const aios_envelope_fields_options *opts)
{
    static const char fn[] = "aios_envelope_fields_decrypt";
    aios_envelope_fields_options o;
    json_t *root = NULL, *dummy = NULL;
    walker *w = NULL;
    size_t i;
    int rc;

    AIOS__CHECK_ARG(json_out != NULL, "json_out is NULL");
    *json_out = NULL;
    AIOS__CHECK_ARG(sessions != NULL || session_count == 0, "sessions is NULL");
    AIOS__CHECK_ARG(json != NULL, "json is NULL");
    for (i = 0; i < session_count; i++)
        if (sessions[i] == NULL)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: session %zu is NULL", fn, i);
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = opts_get(&o, opts, fn)) != AIOS_OK)
        return rc;
    if ((w = aios__calloc(1, sizeof(*w))) == NULL)
        return aios__nomem("a document walker");
    w->sessions = sessions;
    w->nsessions = session_count;
    w->rid = o.record_id;
    w->rid_len = o.record_id_len;
    if ((rc = load(&root, json, json_len, fn)) != AIOS_OK)
        goto done;
    if ((rc = walk(w, root, &dummy)) != AIOS_OK)
        goto done;
    rc = dump(json_out, root, AIOS_BUFFER_SECURE, fn);
done:
    if (root) {
        wipe_value(root);
        json_decref(root);
    }
    aios__free_secret(w, sizeof(*w));
    return rc;
}
