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
/* Only the wire-format part of that judgement: AIOS_OK when data is a
 * KeyRef in canonical encoding, whatever its values (a key reference in a
 * record of a kind the reader does not know). */
int aios__keyref_canonical(const uint8_t *data, size_t len);
/* aios__keyref_decode with protobuf-c's unpack and re-pack as the
 * judge of the encoding instead of the library's own walk (below): the
 * reference the differential fuzz target and tests hold it to. */
int aios__keyref_decode_pbc(aios__keyref *out, const uint8_t *data, size_t len);

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

/* The canonical-encoding rule without protobuf-c, field by field: what
 * packing protobuf-c's unpacked message again gives back unchanged, for
 * proto3 messages of string, bytes, uint32 and message fields.  A decoder
 * that also takes the known fields in strictly ascending order (each
 * once; a repeated field's elements one after another) and checks what
 * follows them with aios__proto_tail_canonical accepts exactly the
 * encodings the re-pack check accepts (tests/fuzz: differential targets).
 *
 * field_canonical: f, read by aios__proto_next_field from data[start..],
 * has the wire type of type, a minimal key and a minimal length or value
 * varint; a string or bytes field is not empty (proto3 writes no empty
 * field), a string holds no NUL (protobuf-c would cut it there), a uint32
 * is not 0 and fits 32 bits.  A message field may be empty: its contents
 * are checked by the caller.  1 if so, else 0 (nothing recorded). */
#define AIOS__PROTO_STRING  1
#define AIOS__PROTO_BYTES   2
#define AIOS__PROTO_UINT32  3
#define AIOS__PROTO_MESSAGE 4
int aios__proto_field_canonical(const uint8_t *data, size_t start, const aios__proto_field *f,
                                int type);
/* The fields a newer writer added (data[0..len), after the known ones):
 * each with a number above max_known and a minimal key; their values are
 * kept as they are, as protobuf-c keeps unknown fields.  AIOS_OK, or
 * AIOS_E_FORMAT ("<what>: not in canonical encoding", or a malformed
 * field) recorded. */
int aios__proto_tail_canonical(const uint8_t *data, size_t len, uint32_t max_known,
                               const char *what);
/* Every field of data[0..len) well-formed for aios__proto_next_field
 * (field numbers 1..2^29-1, varints of at most 10 bytes that fit 64 bits,
 * no groups, nothing past the end): AIOS_OK or AIOS_E_FORMAT.  With
 * protobuf-c's judgement, the reference the walk above is held to:
 * protobuf-c also takes a few encodings that are not valid protobuf
 * (field numbers up to 2^32-1, varints that overflow 64 bits) in fields
 * it does not know, which every decoder here refuses. */
int aios__proto_wire_valid(const uint8_t *data, size_t len, const char *what);

#endif /* AIOS_LIB_PROTO_PROTO_H */
