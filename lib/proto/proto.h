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

#endif /* AIOS_LIB_PROTO_PROTO_H */
