/*
 * Helpers shared by the keyring tests: a temporary directory per test,
 * files in and out, and options with cheap unlock parameters.
 */
#ifndef AIOS_TEST_KEYRING_UTIL_H
#define AIOS_TEST_KEYRING_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "key/keyring_internal.h"

/* A fixed master key for UNLOCK_RAW_KEY keyrings. */
static const uint8_t kt_master[32] = {
    0x6b, 0x72, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x2d, 0x6d, 0x61, 0x73, 0x74, 0x65, 0x72, 0x2d, 0x6b,
    0x65, 0x79, 0x2d, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63
};

/* A new empty directory under $TMPDIR (or /tmp); free() the result. */
static inline char *kt_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *d = malloc(4096);
    assert_non_null(d);
    snprintf(d, 4096, "%s/aios-keyring-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(d));
    return d;
}

/* Remove dir and the files in it (the keyring tests make no subfolders
 * except where they remove them themselves). */
static inline void kt_rmtree(char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4096];
    if (d) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            if (unlink(p) != 0)
                (void)rmdir(p);
        }
        closedir(d);
    }
    (void)rmdir(dir);
    free(dir);
}

/* dir/name in a static buffer per slot (0..3). */
static inline const char *kt_path(const char *dir, const char *name, int slot)
{
    static char buf[4][4096];
    snprintf(buf[slot], sizeof(buf[slot]), "%s/%s", dir, name);
    return buf[slot];
}

static inline aios_keyring_options kt_raw(void)
{
    aios_keyring_options o = AIOS_KEYRING_OPTIONS_INIT;
    o.unlock = AIOS_KEYRING_UNLOCK_RAW_KEY;
    o.secret = kt_master;
    o.secret_len = sizeof(kt_master);
    return o;
}

/* A passphrase keyring with the cheapest Argon2id parameters. */
static inline aios_keyring_options kt_pass(const char *pass)
{
    aios_keyring_options o = AIOS_KEYRING_OPTIONS_INIT;
    o.unlock = AIOS_KEYRING_UNLOCK_PASSPHRASE;
    o.secret = (const uint8_t *)pass;
    o.secret_len = strlen(pass);
    o.argon2_opslimit = 1;
    o.argon2_memlimit = 8192;
    return o;
}

static inline uint8_t *kt_read(const char *path, size_t *len)
{
    return (uint8_t *)tu_read_file(path, len);
}

static inline void kt_write(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot write %s", path);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static inline int kt_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* The state the keyring lists for id/version (through a fresh handle). */
static inline aios_key_state kt_state(aios_keyring *kr, const char *id, uint32_t version)
{
    aios_key *k = NULL;
    aios_key_state s;
    tu_assert_ok(aios_keyring_get(kr, &k, id, version));
    s = aios_key_get_state(k);
    aios_key_unref(k);
    return s;
}

static inline uint32_t kt_primary(aios_keyring *kr, const char *id)
{
    aios_key *k = NULL;
    uint32_t v;
    tu_assert_ok(aios_keyring_get(kr, &k, id, 0));
    v = aios_key_version(k);
    aios_key_unref(k);
    return v;
}

/* A listing as a NUL-terminated string (free()). */
static inline char *kt_list(aios_keyring *kr)
{
    aios_buffer *b = NULL;
    char *s;
    tu_assert_ok(aios_keyring_list_json(kr, &b));
    s = malloc(aios_buffer_len(b) + 1);
    assert_non_null(s);
    memcpy(s, aios_buffer_data(b), aios_buffer_len(b));
    s[aios_buffer_len(b)] = '\0';
    aios_buffer_free(b);
    return s;
}

#endif /* AIOS_TEST_KEYRING_UTIL_H */
