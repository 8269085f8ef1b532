/*
 * aios_buffer: library-allocated bytes owned by the caller.  Plain buffers
 * use the host allocator; secure ones libsodium's guarded memory.
 */
#include <string.h>

#include "internal.h"
#include "../crypto/crypto.h"

struct aios_buffer {
    uint8_t        *data;
    size_t          len;
    uint32_t        flags;
    aios_protection prot;
};

static int check_flags(uint32_t flags, const char *fn)
{
    flags &= ~AIOS__BUFFER_SLAB;   /* set only by aios__buffer_new */
    if (flags & ~AIOS_BUFFER_SECURE)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: unknown flags 0x%x",
                          fn, (unsigned)(flags & ~AIOS_BUFFER_SECURE));
    return AIOS_OK;
}

static int check_len(size_t len, uint32_t flags, const char *fn)
{
    if ((flags & AIOS_BUFFER_SECURE) && (uint64_t)len > AIOS_BUFFER_SECURE_MAX_LEN)
        return aios__fail(AIOS_E_LIMIT,
                          "%s: %zu bytes is over the limit of 2^28 for a secure buffer", fn, len);
    if ((uint64_t)len > AIOS_BUFFER_MAX_LEN)
        return aios__fail(AIOS_E_LIMIT, "%s: %zu bytes is over the limit of 2^40", fn, len);
    return AIOS_OK;
}

static uint8_t *bytes_alloc(size_t len, uint32_t flags)
{
    uint8_t *p;
    /* One byte more than asked, kept zero: a NUL always follows the data,
     * so text outputs are C strings, and an empty buffer still has a valid
     * pointer. */
    size_t n = len + 1;
    if (flags & AIOS__BUFFER_SLAB)
        p = aios__secret_alloc(n);
    else if (flags & AIOS_BUFFER_SECURE)
        p = aios__secure_malloc(n);
    else
        p = aios__malloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

static void bytes_free(uint8_t *p, size_t len, uint32_t flags)
{
    if (!p)
        return;
    if (flags & AIOS__BUFFER_SLAB)
        aios__secret_free(p, len + 1);   /* wipes */
    else if (flags & AIOS_BUFFER_SECURE)
        aios__secure_free(p);            /* wipes */
    else
        aios__free_secret(p, len + 1);
}

static int buffer_make(aios_buffer **out, size_t len, uint32_t flags, const char *fn)
{
    aios_buffer *b;
    int rc;

    *out = NULL;
    if ((rc = check_flags(flags, fn)) != AIOS_OK)
        return rc;
    if ((rc = check_len(len, flags, fn)) != AIOS_OK)
        return rc;
    b = aios__malloc(sizeof(*b));
    if (!b)
        return aios__nomem("a buffer");
    b->data = bytes_alloc(len, flags);
    if (!b->data) {
        aios__free(b);
        return aios__fail(AIOS_E_NOMEM, "%s: cannot allocate %zu %sbytes", fn, len,
                          (flags & AIOS_BUFFER_SECURE) ? "secure " : "");
    }
    b->len = len;
    b->flags = flags;
    b->prot = AIOS_PROTECT_READWRITE;
    *out = b;
    return AIOS_OK;
}

int aios__buffer_new(aios_buffer **out, size_t len, uint32_t flags)
{
    if ((flags & AIOS__BUFFER_SLAB) && (!(flags & AIOS_BUFFER_SECURE) || len >= AIOS__SECRET_SLOT_MAX))
        flags &= ~AIOS__BUFFER_SLAB;
    return buffer_make(out, len, flags, "aios_buffer_new");
}

int aios_buffer_new(aios_buffer **out, size_t len, uint32_t flags)
{
    int rc;
    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if (flags & AIOS__BUFFER_SLAB)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_buffer_new: unknown flags 0x%x",
                          (unsigned)(flags & ~AIOS_BUFFER_SECURE));
    return buffer_make(out, len, flags, "aios_buffer_new");
}

int aios_buffer_from_bytes(aios_buffer **out, const uint8_t *data, size_t len, uint32_t flags)
{
    int rc;
    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    if (data == NULL && len != 0) {
        *out = NULL;
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_buffer_from_bytes: data is NULL");
    }
    if ((rc = aios__ensure_init()) != AIOS_OK) {
        *out = NULL;
        return rc;
    }
    if (flags & AIOS__BUFFER_SLAB) {
        *out = NULL;
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_buffer_from_bytes: unknown flags 0x%x",
                          (unsigned)(flags & ~AIOS_BUFFER_SECURE));
    }
    rc = buffer_make(out, len, flags, "aios_buffer_from_bytes");
    if (rc == AIOS_OK && len)
        memcpy((*out)->data, data, len);
    return rc;
}

const uint8_t *aios_buffer_data(const aios_buffer *buf)
{
    return buf ? buf->data : NULL;
}

uint8_t *aios_buffer_data_mut(aios_buffer *buf)
{
    return buf ? buf->data : NULL;
}

size_t aios_buffer_len(const aios_buffer *buf)
{
    return buf ? buf->len : 0;
}

uint32_t aios_buffer_flags(const aios_buffer *buf)
{
    return buf ? (buf->flags & ~AIOS__BUFFER_SLAB) : 0;
}

aios_protection aios_buffer_protection(const aios_buffer *buf)
{
    return buf ? buf->prot : AIOS_PROTECT_READWRITE;
}

uint64_t aios_buffer_max_len(uint32_t flags)
{
    return (flags & AIOS_BUFFER_SECURE) ? AIOS_BUFFER_SECURE_MAX_LEN : AIOS_BUFFER_MAX_LEN;
}

int aios_buffer_protect(aios_buffer *buf, aios_protection prot)
{
    int rc;
    AIOS__CHECK_ARG(buf != NULL, "buf is NULL");
    if (prot != AIOS_PROTECT_READWRITE && prot != AIOS_PROTECT_READONLY &&
        prot != AIOS_PROTECT_NOACCESS)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "aios_buffer_protect: unknown protection %d", (int)prot);
    if (!(buf->flags & AIOS_BUFFER_SECURE))
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "aios_buffer_protect: only secure buffers can change protection");
    if (buf->flags & AIOS__BUFFER_SLAB)
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "aios_buffer_protect: this small secure buffer lives in the library's "
                          "locked slab and cannot change protection; copy it into a buffer from "
                          "aios_buffer_new(AIOS_BUFFER_SECURE)");
    rc = aios__secure_protect(buf->data, prot);
    if (rc == AIOS_OK)
        buf->prot = prot;
    return rc;
}

void aios_buffer_free(aios_buffer *buf)
{
    if (!buf)
        return;
    if ((buf->flags & AIOS_BUFFER_SECURE) && buf->prot != AIOS_PROTECT_READWRITE)
        (void)aios__secure_protect(buf->data, AIOS_PROTECT_READWRITE);
    bytes_free(buf->data, buf->len, buf->flags);
    aios__free(buf);
}

int aios__buffer_resize(aios_buffer *buf, size_t len)
{
    uint8_t *p;
    int rc;
    if ((rc = check_len(len, buf->flags, "aios__buffer_resize")) != AIOS_OK)
        return rc;
    if (buf->prot != AIOS_PROTECT_READWRITE)
        return aios__fail(AIOS_E_STATE, "cannot resize a buffer that is not read-write");
    if (len == buf->len)
        return AIOS_OK;
    /* Always copy, so the old bytes can be wiped: realloc would leave a
     * copy of them behind in freed memory. */
    p = bytes_alloc(len, buf->flags);
    if (!p)
        return aios__fail(AIOS_E_NOMEM, "cannot grow a buffer to %zu bytes", len);
    memcpy(p, buf->data, len < buf->len ? len : buf->len);
    bytes_free(buf->data, buf->len, buf->flags);
    buf->data = p;
    buf->len = len;
    return AIOS_OK;
}
