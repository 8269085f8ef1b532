/*
 * Envelope encryption of a model file: seal it to a service's X25519
 * public key in constant memory (two threads), then let the loader read
 * only the slice it needs (random access: only the chunks touched are
 * decrypted and verified).
 *
 * Build: cc envelope.c $(pkg-config --cflags --libs aios)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <aios/aios.h>

#define TRY(call) do { int rc_ = (call); if (rc_ != AIOS_OK) { \
    fprintf(stderr, "%s: %s (%s)\n", #call, aios_last_error_message(), \
            aios_status_name(rc_)); return 1; } } while (0)

int main(void)
{
    char dir[] = "/tmp/aios-example-XXXXXX", plain[64], sealed[64], ring[64];
    const aios_envelope_context_entry ctx[] = { { "model", "resnet50" }, { "stage", "prod" } };
    aios_envelope_seal_options so = AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
    aios_keyring_options ko = AIOS_KEYRING_OPTIONS_INIT;
    uint8_t master[32], slice[1000];
    aios_keyring *kr = NULL;
    aios_key *service = NULL, *pub = NULL;
    aios_buffer *pem = NULL;
    aios_envelope_keys *keys = NULL;
    aios_envelope_reader *reader = NULL;
    size_t got = 0, i, n = (size_t)8 << 20;
    uint8_t *weights = malloc(n);
    int in, out, ok = 1;

    if (weights == NULL || mkdtemp(dir) == NULL)
        return 1;
    snprintf(plain, sizeof(plain), "%s/model.bin", dir);
    snprintf(sealed, sizeof(sealed), "%s/model.bin.aioe", dir);
    snprintf(ring, sizeof(ring), "%s/keys.aioskr", dir);
    for (i = 0; i < n; i++)
        weights[i] = (uint8_t)(i * 7 + (i >> 12));
    out = open(plain, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || write(out, weights, n) != (ssize_t)n)
        return 1;
    close(out);

    /* the service's key pair lives in its keyring; producers get the PEM */
    memset(master, 0x42, sizeof(master));
    ko.unlock = AIOS_KEYRING_UNLOCK_RAW_KEY;
    ko.secret = master;
    ko.secret_len = sizeof(master);
    TRY(aios_keyring_create(&kr, ring, &ko));
    TRY(aios_keyring_add(kr, &service, "model-loader", AIOS_KEY_X25519, NULL));
    TRY(aios_key_public_pem(service, &pem));
    TRY(aios_key_from_public_pem(&pub, NULL, (const char *)aios_buffer_data(pem),
                                 aios_buffer_len(pem)));

    /* producer: stream the file through the sealer, 2 threads */
    so.threads = 2;
    in = open(plain, O_RDONLY);
    out = open(sealed, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    TRY(aios_envelope_seal_fd(out, in, &pub, 1, ctx, 2, &so));
    close(in);
    close(out);

    /* loader: random access to bytes 5,000,000 .. 5,001,000 */
    TRY(aios_envelope_keys_new(&keys));
    TRY(aios_envelope_keys_add_key(keys, service));
    in = open(sealed, O_RDONLY);
    TRY(aios_envelope_reader_new_fd(&reader, keys, in, NULL));
    close(in);
    TRY(aios_envelope_reader_read(reader, 5000000, slice, sizeof(slice), &got));
    ok = got == sizeof(slice) && memcmp(slice, weights + 5000000, sizeof(slice)) == 0;
    printf("sealed %zu bytes; the reader proves a plaintext of %llu bytes and read %zu bytes "
           "at 5000000: %s\n", n, (unsigned long long)aios_envelope_reader_size(reader), got,
           ok ? "match" : "MISMATCH");

    aios_envelope_reader_free(reader);
    aios_envelope_keys_free(keys);
    aios_buffer_free(pem);
    aios_key_unref(pub);
    aios_key_unref(service);
    aios_keyring_free(kr);
    unlink(plain);
    unlink(sealed);
    unlink(ring);
    snprintf(ring, sizeof(ring), "%s/keys.aioskr.lock", dir);
    unlink(ring);
    rmdir(dir);
    free(weights);
    return ok ? 0 : 1;
}
