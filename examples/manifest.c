/*
 * Signed models: the publisher signs a model directory with an ECDSA key
 * (an OpenSSF Model Signing bundle, model.sig, that `model_signing verify
 * key` also accepts); the loader trusts only the publisher's public key,
 * verifies the bundle and the directory before loading, and then reads
 * the weights through the verifier, so that no byte is used before its
 * digest has matched the signed one (no time-of-check/time-of-use gap).
 *
 * Build: cc manifest.c $(pkg-config --cflags --libs aios)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <aios/aios.h>

#define TRY(call) do { int rc_ = (call); if (rc_ != AIOS_OK) { \
    fprintf(stderr, "%s: %s (%s)\n", #call, aios_last_error_message(), \
            aios_status_name(rc_)); return 1; } } while (0)

static int write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int ok = fd >= 0 && write(fd, p, n) == (ssize_t)n;
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

/* The loader: read rel_path of the model into memory, verified unit by
 * unit (shard by shard here).  Returns a status; *out only on AIOS_OK. */
static int load_verified(const aios_manifest *m, int model_fd, const char *rel_path,
                         uint8_t **out, size_t *out_len)
{
    aios_manifest_stream *s = NULL;
    uint8_t *buf;
    size_t size, got = 0, n = 0;
    int rc;

    *out = NULL;
    rc = aios_manifest_stream_open(&s, m, model_fd, rel_path);   /* unsigned file: refused */
    if (rc != AIOS_OK)
        return rc;
    size = (size_t)aios_manifest_stream_size(s);
    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        aios_manifest_stream_free(s);
        return AIOS_E_NOMEM;
    }
    /* Each call hands out whole verified shards; 0 bytes means the end. */
    do {
        rc = aios_manifest_stream_read_verified(s, buf + got, size - got, &n);
        got += n;
    } while (rc == AIOS_OK && n > 0);
    aios_manifest_stream_free(s);
    if (rc != AIOS_OK) {
        free(buf);            /* never used: it may hold bytes of a tampered file */
        return rc;
    }
    *out = buf;
    *out_len = got;
    return AIOS_OK;
}

int main(void)
{
    char dir[] = "/tmp/aios-example-XXXXXX", model[64], sig[96], path[128], ring[64];
    static const char config[] = "{\"layers\": 24, \"hidden\": 1024}\n";
    aios_keyring_options ko = AIOS_KEYRING_OPTIONS_INIT;
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_manifest_verify_options vo = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    aios_keyring *kr = NULL;
    aios_key *signer = NULL, *trusted = NULL;
    aios_buffer *pem = NULL, *bundle = NULL;
    aios_manifest *m = NULL;
    aios_manifest_diff *diff = NULL;
    uint8_t master[32], root[32], *weights = NULL, *loaded = NULL;
    size_t i, n = (size_t)3 << 20, loaded_len = 0;
    int model_fd, rc, ok;

    weights = malloc(n);
    if (weights == NULL || mkdtemp(dir) == NULL)
        return 1;
    for (i = 0; i < n; i++)
        weights[i] = (uint8_t)(i * 31 + (i >> 10));
    snprintf(model, sizeof(model), "%s/model", dir);
    snprintf(sig, sizeof(sig), "%s/model.sig", model);
    snprintf(ring, sizeof(ring), "%s/keys.aioskr", dir);
    if (mkdir(model, 0700) != 0)
        return 1;
    snprintf(path, sizeof(path), "%s/weights.bin", model);
    if (write_file(path, weights, n) != 0)
        return 1;
    snprintf(path, sizeof(path), "%s/config.json", model);
    if (write_file(path, config, sizeof(config) - 1) != 0)
        return 1;

    /* publisher: an ECDSA P-256 signing key in its keyring */
    memset(master, 0x42, sizeof(master));
    ko.unlock = AIOS_KEYRING_UNLOCK_RAW_KEY;
    ko.secret = master;
    ko.secret_len = sizeof(master);
    TRY(aios_keyring_create(&kr, ring, &ko));
    TRY(aios_keyring_add(kr, &signer, "model-signer", AIOS_KEY_ECDSA_P256, NULL));
    TRY(aios_key_public_pem(signer, &pem));           /* what loaders are given */

    /* sign: 1 MiB shards, so the loader can verify the weights piece by
     * piece; the bundle goes to model/model.sig (left out of the manifest) */
    so.method = AIOS_MANIFEST_SHARDS;
    so.shard_size = (uint64_t)1 << 20;
    so.bundle_path = sig;
    so.provenance_json = "{\"v\":1,\"model\":\"example\",\"version\":\"1.0.0\"}";
    TRY(aios_manifest_sign(NULL, NULL, model, signer, &so));

    /* loader: trust comes from the PEM only, never from the bundle */
    TRY(aios_key_from_public_pem(&trusted, "publisher", (const char *)aios_buffer_data(pem),
                                 aios_buffer_len(pem)));
    TRY(aios_manifest_read_bundle(&bundle, sig, NULL));
    TRY(aios_manifest_verify_key(&m, aios_buffer_data(bundle), aios_buffer_len(bundle),
                                 trusted, NULL));
    vo.bundle_path = sig;                             /* not an extra file */
    rc = aios_manifest_verify_dir(m, model, &diff, &vo);
    if (rc != AIOS_OK) {
        fprintf(stderr, "the model does not match its signature: %s\n",
                aios_last_error_message());
        return 1;
    }
    TRY(aios_manifest_root_digest(m, root));
    printf("verified %s: %zu resources, root digest ", model, aios_manifest_resource_count(m));
    for (i = 0; i < 32; i++)
        printf("%02x", root[i]);
    printf("\n");

    /* load the weights through the verifier, then use them */
    model_fd = open(model, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (model_fd < 0)
        return 1;
    TRY(load_verified(m, model_fd, "weights.bin", &loaded, &loaded_len));
    ok = loaded_len == n && memcmp(loaded, weights, n) == 0;
    printf("loaded weights.bin: %zu verified bytes, %s\n", loaded_len, ok ? "match" : "MISMATCH");
    free(loaded);
    loaded = NULL;

    /* someone changes one byte on disk: the loader gets an error, no bytes */
    {
        int fd;
        snprintf(path, sizeof(path), "%s/weights.bin", model);
        fd = open(path, O_WRONLY);
        if (fd < 0 || pwrite(fd, "X", 1, 2500000) != 1)
            return 1;
        close(fd);
    }
    rc = load_verified(m, model_fd, "weights.bin", &loaded, &loaded_len);
    printf("after tampering: %s (%s)\n", aios_status_name(rc), aios_last_error_message());
    ok = ok && rc == AIOS_E_MANIFEST_MISMATCH && loaded == NULL;
    close(model_fd);

    aios_manifest_diff_free(diff);
    aios_manifest_unref(m);
    aios_buffer_free(bundle);
    aios_buffer_free(pem);
    aios_key_unref(trusted);
    aios_key_unref(signer);
    aios_keyring_free(kr);
    unlink(sig);
    snprintf(path, sizeof(path), "%s/weights.bin", model);
    unlink(path);
    snprintf(path, sizeof(path), "%s/config.json", model);
    unlink(path);
    rmdir(model);
    unlink(ring);
    snprintf(path, sizeof(path), "%s.lock", ring);
    unlink(path);
    rmdir(dir);
    free(weights);
    return ok ? 0 : 1;
}
