/*
 * protobuf-c glue: the allocator bridge, shared validation, and the
 * known-answer test of the wire encoding.
 */
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "proto.h"
#include "../core/internal.h"
#include "../crypto/crypto.h"
#include "aios_common.pb-c.h"

/* protobuf-c's unpack returns NULL both for malformed input and for a
 * failed allocation; this per-thread flag tells the two apart. */
static _Thread_local int proto_alloc_failed;

static void *proto_alloc(void *data, size_t size)
{
    void *p;
    (void)data;
    p = aios__malloc(size);
    if (!p)
        proto_alloc_failed = 1;
    return p;
}

static void proto_free(void *data, void *ptr);
static ProtobufCAllocator proto_allocator = { proto_alloc, proto_free, NULL };

/* Unpack through our allocator; NULL with the error recorded. */
static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                                size_t len, const char *what)
{
    ProtobufCMessage *msg;
    proto_alloc_failed = 0;
    msg = protobuf_c_message_unpack(desc, &proto_allocator, len, data);
    if (!msg) {
        if (proto_alloc_failed)
            aios__nomem(what);
        else
            aios__fail(AIOS_E_FORMAT, "%s: not a valid protobuf message", what);
    }
    return msg;
}

static void proto_free(void *data, void *ptr)
{
    (void)data;
    aios__free(ptr);
}


int aios__proto_init(void)
{
    return AIOS_OK;
}

void *aios__proto_allocator(void)
{
    return &proto_allocator;
}

const char *aios__proto_version(void)
{
    return protobuf_c_version();
}

/* ------------------------------------------------------------- KeyRef */

int aios__keyref_check(const char *provider, const char *key_id, uint32_t version)
{
    size_t plen = provider ? strlen(provider) : 0;
    size_t klen = key_id ? strlen(key_id) : 0;

    if (plen == 0 || plen > AIOS__PROVIDER_MAX)
        return aios__fail(AIOS_E_FORMAT, "key reference: provider name must be 1..%d bytes",
                          AIOS__PROVIDER_MAX);
    if (!aios__utf8_valid((const uint8_t *)provider, plen))
        return aios__fail(AIOS_E_FORMAT, "key reference: provider name is not valid UTF-8");
    if (klen == 0 || klen > AIOS__KEY_ID_MAX)
        return aios__fail(AIOS_E_FORMAT, "key reference: key id must be 1..%d bytes",
                          AIOS__KEY_ID_MAX);
    if (!aios__utf8_valid((const uint8_t *)key_id, klen))
        return aios__fail(AIOS_E_FORMAT, "key reference: key id is not valid UTF-8");
    if (version == 0)
        return aios__fail(AIOS_E_FORMAT, "key reference: version must be at least 1");
    return AIOS_OK;
}

int aios__keyref_encode(aios_buffer **out, const aios__keyref *ref)
{
    Aios__V1__KeyRef msg = AIOS__V1__KEY_REF__INIT;
    size_t n;
    int rc;

    *out = NULL;
    if ((rc = aios__keyref_check(ref->provider, ref->key_id, ref->version)) != AIOS_OK)
        return rc;
    /* protobuf-c takes char *, but does not write through it. */
    msg.provider = (char *)(uintptr_t)ref->provider;
    msg.key_id = (char *)(uintptr_t)ref->key_id;
    msg.version = ref->version;
    n = aios__v1__key_ref__get_packed_size(&msg);
    if ((rc = aios__buffer_new(out, n, 0)) != AIOS_OK)
        return rc;
    if (aios__v1__key_ref__pack(&msg, aios_buffer_data_mut(*out)) != n) {
        aios_buffer_free(*out);
        *out = NULL;
        return aios__fail(AIOS_E_INTERNAL, "key reference: packed size mismatch");
    }
    return AIOS_OK;
}

/* Every decoder here insists on the canonical encoding: packing the
 * decoded message again must give back the input byte for byte.  That one
 * check rejects what protobuf-c would otherwise accept silently: a string
 * with an embedded NUL (read as a shorter C string), a field given twice
 * (last one wins), non-minimal varints and fields out of order, so one
 * value has exactly one encoding.  Unknown fields survive (protobuf-c
 * keeps and re-packs them), which keeps newer writers readable. */
static int check_canonical(const ProtobufCMessage *msg, const uint8_t *data, size_t len,
                           const char *what)
{
    uint8_t stackbuf[512];
    uint8_t *buf = stackbuf;
    size_t n = protobuf_c_message_get_packed_size(msg);
    int same;

    if (n != len)
        return aios__fail(AIOS_E_FORMAT, "%s: not in canonical encoding", what);
    if (n > sizeof(stackbuf)) {
        buf = aios__malloc(n);
        if (!buf)
            return aios__nomem(what);
    }
    same = protobuf_c_message_pack(msg, buf) == n && memcmp(buf, data, n) == 0;
    if (buf != stackbuf)
        aios__free(buf);
    if (!same)
        return aios__fail(AIOS_E_FORMAT, "%s: not in canonical encoding", what);
    return AIOS_OK;
}

/* ------------------------------------------- helpers for format owners */

void *aios__proto_unpack(const void *descriptor, const uint8_t *data, size_t len,
                         const char *what)
{
    return unpack((const ProtobufCMessageDescriptor *)descriptor, data, len, what);
}

int aios__proto_check_canonical(const void *msg, const uint8_t *data, size_t len,
                                const char *what, int secret)
{
    const ProtobufCMessage *m = (const ProtobufCMessage *)msg;
    uint8_t *buf;
    size_t n;
    int same;

    if (!secret)
        return check_canonical(m, data, len, what);
    /* The re-packed copy holds the same secrets as the input: secure
     * memory, wiped by aios__secure_free. */
    n = protobuf_c_message_get_packed_size(m);
    if (n != len)
        return aios__fail(AIOS_E_FORMAT, "%s: not in canonical encoding", what);
    buf = aios__secure_malloc(n ? n : 1);
    if (!buf)
        return aios__nomem(what);
    same = protobuf_c_message_pack(m, buf) == n && aios__ct_equal(buf, data, n);
    aios__secure_free(buf);
    if (!same)
        return aios__fail(AIOS_E_FORMAT, "%s: not in canonical encoding", what);
    return AIOS_OK;
}

/* A varint of at most 10 bytes whose last byte fits the 64 bits. */
static int read_varint(const uint8_t *data, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    size_t i = *pos;

    while (i < len) {
        uint8_t b = data[i++];
        if (shift == 63 && (b & 0x7e) != 0)
            return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pos = i;
            *out = v;
            return 0;
        }
        shift += 7;
        if (shift > 63)
            return -1;
    }
    return -1;
}

int aios__proto_next_field(const uint8_t *data, size_t len, size_t *pos,
                           aios__proto_field *f, const char *what)
{
    uint64_t key, n;

    memset(f, 0, sizeof(*f));
    if (*pos >= len)
        return 0;
    if (read_varint(data, len, pos, &key) != 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
        return aios__fail(AIOS_E_FORMAT, "%s: bad field key at byte %zu", what, *pos);
    f->number = (uint32_t)(key >> 3);
    f->wire_type = (uint32_t)(key & 7);
    switch (f->wire_type) {
    case 0:
        if (read_varint(data, len, pos, &f->varint) != 0)
            return aios__fail(AIOS_E_FORMAT, "%s: bad varint in field %u", what, f->number);
        return 1;
    case 1:
    case 5:
        n = f->wire_type == 1 ? 8 : 4;
        break;
    case 2:
        if (read_varint(data, len, pos, &n) != 0)
            return aios__fail(AIOS_E_FORMAT, "%s: bad length in field %u", what, f->number);
        break;
    default:
        return aios__fail(AIOS_E_FORMAT, "%s: wire type %u of field %u is not supported",
                          what, f->wire_type, f->number);
    }
    if (n > len - *pos)
        return aios__fail(AIOS_E_FORMAT, "%s: field %u runs past the end", what, f->number);
    f->data = data + *pos;
    f->len = (size_t)n;
    *pos += (size_t)n;
    return 1;
}

/* A varint of n >= 1 bytes is minimal unless its last byte is 0x00 (then
 * it had a byte too many). */
static int varint_minimal(const uint8_t *p, size_t n)
{
    return n == 1 || p[n - 1] != 0;
}

/* Bytes of the varint at p (it was read whole before). */
static size_t varint_len(const uint8_t *p)
{
    size_t n = 1;
    while (p[n - 1] & 0x80)
        n++;
    return n;
}

int aios__proto_field_canonical(const uint8_t *data, size_t start, const aios__proto_field *f,
                                int type)
{
    const uint8_t *key = data + start;
    size_t klen = varint_len(key);

    if (!varint_minimal(key, klen))
        return 0;
    if (type == AIOS__PROTO_UINT32) {
        size_t vlen;
        if (f->wire_type != 0)
            return 0;
        vlen = varint_len(key + klen);
        return varint_minimal(key + klen, vlen) && f->varint != 0 && f->varint <= UINT32_MAX;
    }
    if (f->wire_type != 2)
        return 0;
    /* The length varint sits between the key and the payload. */
    if (!varint_minimal(key + klen, (size_t)(f->data - (key + klen))))
        return 0;
    switch (type) {
    case AIOS__PROTO_STRING:
        return f->len > 0 && memchr(f->data, 0, f->len) == NULL;
    case AIOS__PROTO_BYTES:
        return f->len > 0;
    case AIOS__PROTO_MESSAGE:
        return 1;
    default:
        return 0;
    }
}

int aios__proto_wire_valid(const uint8_t *data, size_t len, const char *what)
{
    aios__proto_field f;
    size_t pos = 0;
    int r;

    while ((r = aios__proto_next_field(data, len, &pos, &f, what)) == 1)
        ;
    return r;
}

int aios__proto_tail_canonical(const uint8_t *data, size_t len, uint32_t max_known,
                               const char *what)
{
    aios__proto_field f;
    size_t pos = 0, start;
    int r;

    for (;;) {
        start = pos;
        if ((r = aios__proto_next_field(data, len, &pos, &f, what)) != 1)
            return r;   /* AIOS_OK at the end, or AIOS_E_FORMAT */
        size_t klen = varint_len(data + start);
        /* A newer field: its key minimal (protobuf-c re-encodes it); its
         * value bytes stay as written, but a length takes at most 5 bytes
         * (protobuf-c reads no longer one). */
        if (f.number <= max_known || !varint_minimal(data + start, klen) ||
            (f.wire_type == 2 && (size_t)(f.data - (data + start + klen)) > 5))
            return aios__fail(AIOS_E_FORMAT, "%s: not in canonical encoding", what);
    }
}

#define KEYREF_MAX (4 + AIOS__PROVIDER_MAX + 4 + AIOS__KEY_ID_MAX + 8)

/* The library's own walk of a KeyRef: fields 1 provider (string), 2
 * key_id (string), 3 version (uint32), then unknown ones. */
static int keyref_walk(const uint8_t *data, size_t len, aios__proto_field fields[4])
{
    static const int types[4] = { 0, AIOS__PROTO_STRING, AIOS__PROTO_STRING, AIOS__PROTO_UINT32 };
    aios__proto_field f;
    size_t pos = 0, start;
    uint32_t last = 0;
    int r;

    memset(fields, 0, 4 * sizeof(fields[0]));
    for (;;) {
        start = pos;
        if ((r = aios__proto_next_field(data, len, &pos, &f, "key reference")) != 1)
            return r;
        if (f.number > 3)
            return aios__proto_tail_canonical(data + start, len - start, 3, "key reference");
        if (f.wire_type != (f.number == 3 ? 0u : 2u))
            return aios__fail(AIOS_E_FORMAT, "key reference: not a valid protobuf message");
        if (f.number <= last || !aios__proto_field_canonical(data, start, &f, types[f.number]))
            return aios__fail(AIOS_E_FORMAT, "key reference: not in canonical encoding");
        last = f.number;
        fields[f.number] = f;
    }
}

int aios__keyref_canonical(const uint8_t *data, size_t len)
{
    aios__proto_field fields[4];
    return keyref_walk(data, len, fields);
}

static int keyref_take(aios__keyref *out, const aios__proto_field *p, const aios__proto_field *k,
                       uint32_t version)
{
    /* The limits aios__keyref_check states, before the copies. */
    if (p->len > AIOS__PROVIDER_MAX)
        return aios__fail(AIOS_E_FORMAT, "key reference: provider name must be 1..%d bytes",
                          AIOS__PROVIDER_MAX);
    if (k->len > AIOS__KEY_ID_MAX)
        return aios__fail(AIOS_E_FORMAT, "key reference: key id must be 1..%d bytes",
                          AIOS__KEY_ID_MAX);
    if (p->len)
        memcpy(out->provider, p->data, p->len);
    out->provider[p->len] = '\0';
    if (k->len)
        memcpy(out->key_id, k->data, k->len);
    out->key_id[k->len] = '\0';
    out->version = version;
    return aios__keyref_check(out->provider, out->key_id, out->version);
}

int aios__keyref_decode(aios__keyref *out, const uint8_t *data, size_t len)
{
    aios__proto_field fields[4];
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > KEYREF_MAX)
        return aios__fail(AIOS_E_FORMAT, "key reference: %zu bytes is too long", len);
    if ((rc = keyref_walk(data, len, fields)) != AIOS_OK ||
        (rc = keyref_take(out, &fields[1], &fields[2], (uint32_t)fields[3].varint)) != AIOS_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

int aios__keyref_decode_pbc(aios__keyref *out, const uint8_t *data, size_t len)
{
    Aios__V1__KeyRef *msg;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > KEYREF_MAX)
        return aios__fail(AIOS_E_FORMAT, "key reference: %zu bytes is too long", len);
    if ((rc = aios__proto_wire_valid(data, len, "key reference")) != AIOS_OK)
        return rc;
    msg = (Aios__V1__KeyRef *)unpack(&aios__v1__key_ref__descriptor, data, len,
                                     "key reference");
    if (!msg)
        return aios_last_error_status();
    rc = check_canonical(&msg->base, data, len, "key reference");
    if (rc == AIOS_OK)
        rc = aios__keyref_check(msg->provider, msg->key_id, msg->version);
    if (rc == AIOS_OK) {
        memcpy(out->provider, msg->provider, strlen(msg->provider) + 1);
        memcpy(out->key_id, msg->key_id, strlen(msg->key_id) + 1);
        out->version = msg->version;
    }
    aios__v1__key_ref__free_unpacked(msg, aios__proto_allocator());
    return rc;
}

/* ---------------------------------------------------------- self-test */

int aios__proto_selftest(aios_selftest_cb cb, void *payload)
{
    /* provider "local", key id "k1", version 7, in canonical encoding. */
    static const uint8_t expect[] = {
        0x0a, 0x05, 'l', 'o', 'c', 'a', 'l', 0x12, 0x02, 'k', '1', 0x18, 0x07
    };
    aios__keyref ref, back;
    aios_buffer *enc = NULL;
    int rc;

    memset(&ref, 0, sizeof(ref));
    memcpy(ref.provider, "local", 6);
    memcpy(ref.key_id, "k1", 3);
    ref.version = 7;
    rc = aios__keyref_encode(&enc, &ref);
    if (rc == AIOS_OK && (aios_buffer_len(enc) != sizeof(expect) ||
                          memcmp(aios_buffer_data(enc), expect, sizeof(expect)) != 0))
        rc = aios__fail(AIOS_E_SELFTEST, "self-test proto-keyref: encoding differs");
    aios_buffer_free(enc);
    if (rc == AIOS_OK) {
        rc = aios__keyref_decode(&back, expect, sizeof(expect));
        if (rc == AIOS_OK && (strcmp(back.provider, "local") != 0 ||
                              strcmp(back.key_id, "k1") != 0 || back.version != 7))
            rc = aios__fail(AIOS_E_SELFTEST, "self-test proto-keyref: decoding differs");
    }
    if (rc != AIOS_OK && rc != AIOS_E_SELFTEST)
        rc = aios__fail(AIOS_E_SELFTEST, "self-test proto-keyref: %s", aios_last_error_message());
    if (cb) {
        int crc = cb("proto-keyref", rc, payload);
        /* A request to stop wins over a failed known answer, as in
         * aios__crypto_selftest(). */
        if (crc != AIOS_OK)
            rc = aios__selftest_stopped(crc);
    }
    return rc;
}
