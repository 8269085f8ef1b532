/*
 * Keys with libaios: a keyring, a key-encryption key, wrapping a data
 * key, rotation and what happens to the old version.
 *
 * Build: cc keys.c $(pkg-config --cflags --libs aios)
 * Run:   ./keys [keyring-path]     (default: a new file in /tmp)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <aios/aios.h>

#define CHECK(call) do { int rc_ = (call); if (rc_ != AIOS_OK) { \
    fprintf(stderr, "%s failed: %s (%s)\n", #call, aios_last_error_message(), \
            aios_status_name(rc_)); return 1; } } while (0)

int main(int argc, char **argv)
{
    char path[256];
    aios_keyring *kr = NULL;
    aios_key *kek = NULL, *kek2 = NULL;
    aios_buffer *wrapped = NULL, *dk = NULL;
    uint8_t data_key[32];
    const uint8_t ad[] = "tenant=acme;model=llm-7b";   /* bound to the wrapped key */

    if (argc > 1)
        snprintf(path, sizeof(path), "%s", argv[1]);
    else
        snprintf(path, sizeof(path), "/tmp/aios-example-%ld.aioskr", (long)getpid());

    /* 1. A keyring encrypted under a passphrase (Argon2id; small cost here
     *    so the example runs fast: use the defaults in production). */
    aios_keyring_options o = AIOS_KEYRING_OPTIONS_INIT;
    const char *pass = "an example passphrase: read it from a file or a prompt";
    o.secret = (const uint8_t *)pass;
    o.secret_len = strlen(pass);
    o.argon2_opslimit = 1;
    o.argon2_memlimit = 8u << 20;
    CHECK(aios_keyring_create(&kr, path, &o));

    /* 2. A key-encryption key, with attributes policy can read. */
    aios_key_attribute_pair attrs[] = { { "tenant", "acme" }, { "data_class", "pii" } };
    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    spec.attributes = attrs;
    spec.attribute_count = 2;
    CHECK(aios_keyring_add(kr, &kek, "model-kek", AIOS_KEY_AES256, &spec));
    printf("created key '%s' version %u (%s)\n", aios_key_id(kek), aios_key_version(kek),
           aios_key_state_name(aios_key_get_state(kek)));

    /* 3. Wrap a fresh data key; only this key and the same ad unwrap it. */
    aios_wipe(data_key, sizeof(data_key));
    memcpy(data_key, "a 32-byte data key for one file!", 32);
    CHECK(aios_key_wrap(kek, &wrapped, data_key, sizeof(data_key), ad, sizeof(ad) - 1));
    printf("wrapped a %zu-byte data key into %zu bytes\n", sizeof(data_key),
           aios_buffer_len(wrapped));

    /* 4. Rotate: version 2 wraps from now on; version 1 only unwraps. */
    CHECK(aios_keyring_rotate(kr, &kek2, "model-kek"));
    printf("rotated: primary is version %u; version 1 is %s\n", aios_key_version(kek2),
           aios_key_state_name(aios_key_get_state(kek)));
    CHECK(aios_key_unwrap(kek, &dk, aios_buffer_data(wrapped), aios_buffer_len(wrapped),
                          ad, sizeof(ad) - 1));
    printf("version 1 still unwraps: %s\n",
           aios_ct_equal(aios_buffer_data(dk), data_key, 32) ? "same data key" : "MISMATCH");
    aios_buffer_free(dk);
    dk = NULL;

    /* 5. Destroy version 1: its material is wiped for good, and old data
     *    says so instead of looking corrupt. */
    CHECK(aios_keyring_destroy(kr, "model-kek", 1));
    int rc = aios_key_unwrap(kek, &dk, aios_buffer_data(wrapped), aios_buffer_len(wrapped),
                             ad, sizeof(ad) - 1);
    printf("after destroy: %s (%s)\n", aios_status_name(rc), aios_last_error_message());

    aios_wipe(data_key, sizeof(data_key));
    aios_buffer_free(wrapped);
    aios_key_unref(kek);
    aios_key_unref(kek2);
    aios_keyring_free(kr);
    if (argc <= 1) {
        unlink(path);
        char lock[300];
        snprintf(lock, sizeof(lock), "%s.lock", path);
        unlink(lock);
    }
    return rc == AIOS_E_KEY_DESTROYED ? 0 : 1;
}
