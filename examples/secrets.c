/*
 * Handling secrets with libaios: secure buffers, constant-time compare,
 * wiping, and reading errors.
 *
 * Build: cc secrets.c $(pkg-config --cflags --libs aios)
 */
#include <stdio.h>
#include <string.h>

#include <aios/aios.h>

int main(void)
{
    aios_buffer *key = NULL;
    uint8_t copy[32];
    int rc;

    if (aios_init() != AIOS_OK) {
        fprintf(stderr, "aios_init: %s\n", aios_last_error_message());
        return 1;
    }

    /* A secure buffer: guard pages, canary, locked in RAM, not in core
     * dumps, wiped when freed. */
    rc = aios_buffer_new(&key, 32, AIOS_BUFFER_SECURE);
    if (rc != AIOS_OK) {
        fprintf(stderr, "aios_buffer_new: %s\n", aios_last_error_message());
        return 1;
    }
    memset(aios_buffer_data_mut(key), 0x42, aios_buffer_len(key));   /* stand-in key */

    /* Make it read-only while it is only read; no access at all while idle. */
    if (aios_buffer_protect(key, AIOS_PROTECT_READONLY) != AIOS_OK)
        return 1;
    memcpy(copy, aios_buffer_data(key), sizeof(copy));
    if (aios_buffer_protect(key, AIOS_PROTECT_NOACCESS) != AIOS_OK)
        return 1;

    /* Secrets are compared in constant time, never with memcmp. */
    if (aios_buffer_protect(key, AIOS_PROTECT_READONLY) != AIOS_OK)
        return 1;
    printf("copy matches: %s\n",
           aios_ct_equal(copy, aios_buffer_data(key), sizeof(copy)) ? "yes" : "no");

    /* Wipe stack copies yourself; aios_buffer_free wipes the buffer. */
    aios_wipe(copy, sizeof(copy));
    aios_buffer_free(key);

    /* Errors: a status you can branch on by kind, and a message for people. */
    rc = aios_buffer_new(&key, 16, 0x80 /* not a valid flag */);
    printf("expected failure: %s [%s, kind %s]: %s\n", aios_status_name(rc),
           aios_status_str(rc), aios_error_kind_name(aios_status_kind(rc)),
           aios_last_error_message());
    return rc == AIOS_E_INVALID_ARGUMENT ? 0 : 1;
}
