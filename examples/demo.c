/*
 * The libaios demo: what `scripts/demo` runs.
 *
 * It shows the foundation every module stands on (which libaios and which
 * cryptography a host process is running, and known-answer tests proving
 * that this cryptography computes what the standards say), then keys: a
 * keyring, a key-encryption key, a wrapped data key, rotation and
 * destruction; then envelopes: a record sealed to several recipients,
 * opened under an expected context, tampering refused, a key rotated by
 * rewrapping a header.  Later modules grow it into the full pipeline: a
 * signed model, policy decisions and an audit log.
 *
 * Build: cc demo.c $(pkg-config --cflags --libs aios)
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <aios/aios.h>

static int failures;

static int on_test(const char *name, int status, void *payload)
{
    (void)payload;
    if (status != AIOS_OK)
        failures++;
    printf("  %-28s %s\n", name, status == AIOS_OK ? "ok" : aios_status_name(status));
    return AIOS_OK;     /* go on; a negative status would stop the run */
}

#define TRY(call) do { int rc_ = (call); if (rc_ != AIOS_OK) { \
    fprintf(stderr, "%s: %s (%s)\n", #call, aios_last_error_message(), \
            aios_status_name(rc_)); return 1; } } while (0)

/* 4. Keys: a keyring under a master key, a key-encryption key, a data key
 *    wrapped to a context, rotation, destruction. */
static int keys_demo(void)
{
    char path[128], lock[160];
    uint8_t master[32], data_key[32];
    const uint8_t ctx[] = "tenant=acme;purpose=demo";
    aios_keyring_options o = AIOS_KEYRING_OPTIONS_INIT;
    aios_keyring *kr = NULL;
    aios_key *v1 = NULL, *v2 = NULL;
    aios_buffer *wrapped = NULL, *back = NULL;
    int rc;

    snprintf(path, sizeof(path), "/tmp/aios-demo-%ld.aioskr", (long)getpid());
    snprintf(lock, sizeof(lock), "%s.lock", path);
    memset(master, 0x5a, sizeof(master));      /* a host would fetch this from its KMS */
    memset(data_key, 0xd4, sizeof(data_key));
    o.unlock = AIOS_KEYRING_UNLOCK_RAW_KEY;
    o.secret = master;
    o.secret_len = sizeof(master);

    printf("\nkeys:\n");
    TRY(aios_keyring_create(&kr, path, &o));
    TRY(aios_keyring_add(kr, &v1, "demo-kek", AIOS_KEY_AES256, NULL));
    TRY(aios_key_wrap(v1, &wrapped, data_key, sizeof(data_key), ctx, sizeof(ctx) - 1));
    printf("  wrapped a data key under '%s' v%u: %zu bytes, bound to \"%s\"\n",
           aios_key_id(v1), aios_key_version(v1), aios_buffer_len(wrapped), ctx);
    rc = aios_key_unwrap(v1, &back, aios_buffer_data(wrapped), aios_buffer_len(wrapped),
                         (const uint8_t *)"tenant=other", 12);
    printf("  unwrap under another context: %s\n", aios_status_name(rc));
    TRY(aios_keyring_rotate(kr, &v2, "demo-kek"));
    printf("  rotated: v%u is primary, v%u is %s\n", aios_key_version(v2),
           aios_key_version(v1), aios_key_state_name(aios_key_get_state(v1)));
    TRY(aios_key_unwrap(v1, &back, aios_buffer_data(wrapped), aios_buffer_len(wrapped),
                        ctx, sizeof(ctx) - 1));
    printf("  v1 still unwraps old data: %s\n",
           aios_ct_equal(aios_buffer_data(back), data_key, 32) ? "yes" : "NO");
    aios_buffer_free(back);
    back = NULL;
    TRY(aios_keyring_destroy(kr, "demo-kek", 1));
    rc = aios_key_unwrap(v1, &back, aios_buffer_data(wrapped), aios_buffer_len(wrapped),
                         ctx, sizeof(ctx) - 1);
    printf("  after destroying v1: %s\n", aios_status_name(rc));

    aios_buffer_free(wrapped);
    aios_key_unref(v1);
    aios_key_unref(v2);
    aios_keyring_free(kr);
    aios_wipe(master, sizeof(master));
    unlink(path);
    unlink(lock);
    return rc == AIOS_E_KEY_DESTROYED ? 0 : 1;
}

/* 5. Envelopes: a record sealed to a key-encryption key and to an X25519
 *    public key, its context readable by a router, opened only with the
 *    context the reader expects; tampering refused; a key rotation costs a
 *    new header, not a re-encryption. */
static int envelope_demo(void)
{
    char path[128], lock[160];
    uint8_t master[32];
    const char record[] = "{\"patient\":\"Jane Roe\",\"diagnosis\":\"J45.909\"}";
    const aios_envelope_context_entry ctx[] = { { "tenant", "acme" }, { "purpose", "triage" } };
    const aios_envelope_context_entry wrong[] = { { "tenant", "globex" } };
    aios_keyring_options o = AIOS_KEYRING_OPTIONS_INIT;
    aios_envelope_open_options oo = AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
    aios_keyring *kr = NULL;
    aios_key *kek = NULL, *service = NULL, *service_pub = NULL, *kek2 = NULL;
    aios_buffer *msg = NULL, *info = NULL, *pt = NULL, *pem = NULL, *hdr = NULL;
    aios_envelope_keys *keys = NULL;
    size_t old_len = 0;
    int rc;

    snprintf(path, sizeof(path), "/tmp/aios-demo-env-%ld.aioskr", (long)getpid());
    snprintf(lock, sizeof(lock), "%s.lock", path);
    memset(master, 0x6b, sizeof(master));
    o.unlock = AIOS_KEYRING_UNLOCK_RAW_KEY;
    o.secret = master;
    o.secret_len = sizeof(master);

    printf("\nenvelopes:\n");
    TRY(aios_keyring_create(&kr, path, &o));
    TRY(aios_keyring_add(kr, &kek, "records-kek", AIOS_KEY_AES256, NULL));
    TRY(aios_keyring_add(kr, &service, "triage-service", AIOS_KEY_X25519, NULL));
    /* a producer only needs the service's public key */
    TRY(aios_key_public_pem(service, &pem));
    TRY(aios_key_from_public_pem(&service_pub, "triage-service", (const char *)aios_buffer_data(pem),
                                 aios_buffer_len(pem)));
    {
        aios_key *to[2] = { kek, service_pub };
        TRY(aios_envelope_seal(&msg, to, 2, ctx, 2, (const uint8_t *)record, sizeof(record) - 1,
                               NULL));
    }
    printf("  sealed a %zu-byte record to a KEK and an X25519 key: %zu bytes\n",
           sizeof(record) - 1, aios_buffer_len(msg));
    TRY(aios_envelope_peek(&info, aios_buffer_data(msg), aios_buffer_len(msg)));
    {
        /* the context and the recipients are readable without any key */
        const char *j = (const char *)aios_buffer_data(info);
        const char *c = strstr(j, "\"context\""), *e = c ? strstr(c, ",\"chunk_size\"") : NULL;
        const char *r = strstr(j, "\"recipients\"");
        printf("  a router reads, without keys: %.*s\n", c && e ? (int)(e - c) : 0, c ? c : "");
        printf("  and: %.*s...\n", r ? 62 : 0, r ? r : "");
    }

    /* the service opens with its private key, requiring tenant=acme */
    TRY(aios_envelope_keys_new(&keys));
    TRY(aios_envelope_keys_add_key(keys, service));
    oo.expected_context = ctx;
    oo.expected_context_count = 1;
    oo.context_mode = AIOS_ENVELOPE_CONTEXT_SUBSET;
    TRY(aios_envelope_open(&pt, keys, aios_buffer_data(msg), aios_buffer_len(msg), &oo));
    printf("  opened by the service: %.*s\n", (int)aios_buffer_len(pt),
           (const char *)aios_buffer_data(pt));
    aios_buffer_free(pt);
    pt = NULL;
    oo.expected_context = wrong;
    rc = aios_envelope_open(&pt, keys, aios_buffer_data(msg), aios_buffer_len(msg), &oo);
    printf("  opened expecting tenant=globex: %s\n", aios_status_name(rc));
    aios_buffer_data_mut(msg)[aios_buffer_len(msg) - 3] ^= 1;
    rc = aios_envelope_open(&pt, keys, aios_buffer_data(msg), aios_buffer_len(msg), NULL);
    printf("  one bit flipped in the ciphertext: %s\n", aios_status_name(rc));
    aios_buffer_data_mut(msg)[aios_buffer_len(msg) - 3] ^= 1;

    /* rotation: rewrap the header to v2, payload untouched */
    aios_envelope_keys_free(keys);
    keys = NULL;
    TRY(aios_envelope_keys_new(&keys));
    TRY(aios_envelope_keys_add_provider(keys, aios_keyring_provider(kr)));
    TRY(aios_keyring_rotate(kr, &kek2, "records-kek"));
    TRY(aios_envelope_rewrap(&hdr, &old_len, keys, aios_buffer_data(msg), aios_buffer_len(msg),
                             &kek2, 1, NULL));
    printf("  rotated the KEK and rewrapped: header %zu -> %zu bytes, %zu payload bytes untouched\n",
           old_len, aios_buffer_len(hdr), aios_buffer_len(msg) - old_len);

    aios_buffer_free(hdr);
    aios_buffer_free(info);
    aios_buffer_free(pem);
    aios_buffer_free(msg);
    aios_envelope_keys_free(keys);
    aios_key_unref(kek);
    aios_key_unref(kek2);
    aios_key_unref(service);
    aios_key_unref(service_pub);
    aios_keyring_free(kr);
    aios_wipe(master, sizeof(master));
    unlink(path);
    unlink(lock);
    return rc == AIOS_E_AUTH ? 0 : 1;
}

int main(void)
{
    int rc;

    /* 1. Initialise once; safe to call from any thread, any number of times. */
    rc = aios_init();
    if (rc != AIOS_OK) {
        fprintf(stderr, "aios_init: %s\n", aios_last_error_message());
        return 1;
    }

    /* 2. Headers and library must agree; the ABI promise covers the rest. */
    printf("libaios %s (headers %s)\n", aios_version_string(), AIOS_VERSION_STRING);
    if (aios_version_number() < AIOS_VERSION_NUMBER)
        printf("warning: the library is older than the headers this was built with\n");
    printf("build: %s\n\n", aios_build_info());

    /* 3. Known-answer tests of every primitive the library links. */
    printf("self-test of the linked cryptography:\n");
    rc = aios_selftest(on_test, NULL);
    if (rc != AIOS_OK) {
        fprintf(stderr, "self-test failed: %s\n", aios_last_error_message());
        return 1;
    }
    printf("\nall %s\n", failures == 0 ? "known answers match" : "FAILED");
    if (failures != 0)
        return 1;
    if (keys_demo() != 0)
        return 1;
    return envelope_demo();
}
