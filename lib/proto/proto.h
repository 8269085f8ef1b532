/*
 * lib/proto: the wire formats.  The .proto files here are compiled by
 * protoc-c at build time; only lib/proto/ and the modules that own a
 * format include the generated headers.  This header exposes what the
 * rest of the library needs without protobuf-c types.
 */
#ifndef AIOS_LIB_PROTO_PROTO_H
#define AIOS_LIB_PROTO_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "aios/core.h"

/* Route protobuf-c's allocations through the host allocator. */
int aios__proto_init(void);
/* The protobuf-c runtime version, static text. */
const char *aios__proto_version(void);
/* The allocator to pass to protobuf-c's unpack functions (a
 * ProtobufCAllocator *, typed void * here to keep protobuf-c out). */
void *aios__proto_allocator(void);
/* Known-answer test of the wire encoding. */
int aios__proto_selftest(aios_selftest_cb cb, void *payload);

/* Limits shared by every format. */
#define AIOS__PROVIDER_MAX 64
#define AIOS__KEY_ID_MAX   256

/* A decoded, validated aios.v1.KeyRef. */
typedef struct aios__keyref {
    char     provider[AIOS__PROVIDER_MAX + 1];
    char     key_id[AIOS__KEY_ID_MAX + 1];
    uint32_t version;
} aios__keyref;

/* Validate the fields of a key reference (what decode checks). */
int aios__keyref_check(const char *provider, const char *key_id, uint32_t version);
/* Encode into a new buffer. */
int aios__keyref_encode(aios_buffer **out, const aios__keyref *ref);
/* Decode untrusted bytes: AIOS_E_FORMAT for anything malformed, unknown
 * required values, bad UTF-8 or out-of-bound lengths. */
int aios__keyref_decode(aios__keyref *out, const uint8_t *data, size_t len);

/* ---- for modules that own a format (its generated code in their .c)
 *
 * Unpack through the host allocator: descriptor is the message's
 * const ProtobufCMessageDescriptor *.  NULL with AIOS_E_NOMEM or
 * AIOS_E_FORMAT ("<what>: not a valid protobuf message") recorded. */
void *aios__proto_unpack(const void *descriptor, const uint8_t *data, size_t len,
                         const char *what);
/* The canonical-encoding rule (docs/FORMATS.md, rule 4) for a message
 * unpacked from data[0..len): AIOS_OK if packing it again gives back the
 * input byte for byte, else AIOS_E_FORMAT.  msg is a const
 * ProtobufCMessage *.  secret != 0 when the message holds secrets: the
 * re-packed copy then lives in secure memory and is wiped. */
int aios__proto_check_canonical(const void *msg, const uint8_t *data, size_t len,
                                const char *what, int secret);

/* One field of the protobuf wire format, for decoders that must bound
 * counts before protobuf-c allocates. */
typedef struct aios__proto_field {
    uint32_t       number;      /* field number, >= 1 */
    uint32_t       wire_type;   /* 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
    uint64_t       varint;      /* wire type 0 */
    const uint8_t *data;        /* wire types 1, 2, 5: the payload */
    size_t         len;
} aios__proto_field;

/* Read the field at data[*pos] and advance *pos past it: 1 when a field
 * was read, 0 at the end of data, AIOS_E_FORMAT (recorded, naming what)
 * for a malformed key, varint, wire type (groups are refused) or a length
 * running past the end.  Never allocates. */
int aios__proto_next_field(const uint8_t *data, size_t len, size_t *pos,
                           aios__proto_field *f, const char *what);

#endif /* AIOS_LIB_PROTO_PROTO_H */
