/*
 * bench_key: what key operations cost, in ns/op.
 *
 *   build/bench/bench_key [seconds-per-case]
 *
 * Cases: a handle lookup in a keyring (get + unref), wrap and unwrap of a
 * 32-byte data key through the local provider, the same through SoftHSM2
 * (a token this program initialises in a temporary directory with
 * softhsm2-util), and a data-key cache hit (get + release).  Figures go
 * to docs/PERFORMANCE.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dlfcn.h>

#include <p11-kit/pkcs11.h>

#include "aios/aios.h"
#include "bench_util.h"

#define CHECK(expr) do { int rc_ = (expr); if (rc_ != AIOS_OK) { \
    fprintf(stderr, "%s: %s: %s\n", #expr, aios_status_name(rc_), aios_last_error_message()); \
    exit(1); } } while (0)

typedef struct ctx {
    aios_keyring *kr;
    aios_key *key;
    aios_buffer *wrapped;
    aios_dkcache *cache;
    uint8_t dk[32];
} ctx;

static void get_key(void *p)
{
    ctx *c = p;
    aios_key *k = NULL;
    CHECK(aios_keyring_get(c->kr, &k, "kek", 0));
    aios_key_unref(k);
}

static void wrap(void *p)
{
    ctx *c = p;
    aios_buffer *w = NULL;
    CHECK(aios_key_wrap(c->key, &w, c->dk, 32, (const uint8_t *)"ctx", 3));
    aios_buffer_free(w);
}

static void unwrap(void *p)
{
    ctx *c = p;
    aios_buffer *dk = NULL;
    CHECK(aios_key_unwrap(c->key, &dk, aios_buffer_data(c->wrapped), aios_buffer_len(c->wrapped),
                          (const uint8_t *)"ctx", 3));
    aios_buffer_free(dk);
}

static void cache_hit(void *p)
{
    ctx *c = p;
    aios_dkcache_entry *e = NULL;
    CHECK(aios_dkcache_get(c->cache, &e, c->key, (const uint8_t *)"tenant=acme", 11, 1, 1024));
    aios_dkcache_entry_release(e);
}

static void row(const char *name, double ns)
{
    if (ns >= 10000)
        printf("%-44s %12.1f us/op\n", name, ns / 1000);
    else
        printf("%-44s %12.1f ns/op\n", name, ns);
}

static void bench_key_ops(const char *label, ctx *c)
{
    char name[96];
    CHECK(aios_key_wrap(c->key, &c->wrapped, c->dk, 32, (const uint8_t *)"ctx", 3));
    snprintf(name, sizeof(name), "wrap 32 B data key (%s)", label);
    row(name, bench_measure(wrap, c));
    snprintf(name, sizeof(name), "unwrap 32 B data key (%s)", label);
    row(name, bench_measure(unwrap, c));
    aios_buffer_free(c->wrapped);
    c->wrapped = NULL;
}

/* Generate AES-256 "kek" in the token through PKCS#11 itself (a key made
 * by the token has every attribute a real HSM's would). */
static int gen_token_aes(const char *module)
{
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    CK_FUNCTION_LIST_PTR fl;
    CK_SLOT_ID slots[16];
    CK_ULONG nslots = 16;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG len = 32;
    CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
    char label[] = "kek";
    CK_ATTRIBUTE t[] = {
        { CKA_TOKEN, &yes, sizeof(yes) }, { CKA_LABEL, label, 3 },
        { CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_ENCRYPT, &yes, sizeof(yes) },
        { CKA_DECRYPT, &yes, sizeof(yes) }, { CKA_WRAP, &yes, sizeof(yes) },
        { CKA_UNWRAP, &yes, sizeof(yes) }, { CKA_EXTRACTABLE, &no, sizeof(no) },
        { CKA_SENSITIVE, &yes, sizeof(yes) },
    };
    void *dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    int ok;
    if (!dl)
        return -1;
    *(void **)&get_list = dlsym(dl, "C_GetFunctionList");
    if (!get_list || get_list(&fl) != CKR_OK || fl->C_Initialize(NULL) != CKR_OK)
        return -1;
    ok = fl->C_GetSlotList(CK_TRUE, slots, &nslots) == CKR_OK && nslots > 0 &&
         fl->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) == CKR_OK &&
         fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)"1234", 4) == CKR_OK &&
         fl->C_GenerateKey(s, &mech, t, sizeof(t) / sizeof(t[0]), &h) == CKR_OK;
    fl->C_Finalize(NULL);      /* libaios initialises the module again itself */
    return ok ? 0 : -1;
}

/* A SoftHSM2 token in a temporary directory with an AES-256 key "kek". */
static int softhsm_setup(char *dir, size_t dircap, const char **module)
{
    static const char *modules[] = { "/usr/lib/softhsm/libsofthsm2.so",
                                     "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                                     "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so" };
    char path[600], cmd[400];
    FILE *f;
    *module = NULL;
    for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
        if (access(modules[i], R_OK) == 0)
            *module = modules[i];
    if (!*module)
        return -1;
    snprintf(dir, dircap, "/tmp/aios-bench-p11.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/softhsm2.conf", dir);
    f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", dir);
    fclose(f);
    setenv("SOFTHSM2_CONF", path, 1);
    snprintf(cmd, sizeof(cmd),
             "softhsm2-util --init-token --free --label aios-bench --so-pin 0000 --pin 1234 "
             ">/dev/null");
    if (system(cmd) != 0)
        return -1;
    return gen_token_aes(*module);
}


int main(int argc, char **argv)
{
    char dir[] = "/tmp/aios-bench-kr.XXXXXX", path[600], p11dir[128];
    aios_keyring_options o = AIOS_KEYRING_OPTIONS_INIT;
    uint8_t master[32] = { 7 };
    const char *module;
    ctx c;

    if (argc > 1)
        bench_budget = atof(argv[1]);
    CHECK(aios_init());
    memset(&c, 0, sizeof(c));
    memset(c.dk, 0x42, sizeof(c.dk));
    printf("# libaios %s  bench_key  %.2f s per case (best of %d rounds)\n", aios_version_string(),
           bench_budget, BENCH_ROUNDS);

    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/bench.aioskr", dir);
    o.unlock = AIOS_KEYRING_UNLOCK_RAW_KEY;
    o.secret = master;
    o.secret_len = sizeof(master);
    CHECK(aios_keyring_create(&c.kr, path, &o));
    CHECK(aios_keyring_add(c.kr, NULL, "kek", AIOS_KEY_AES256, NULL));
    for (int i = 0; i < 99; i++) {        /* a keyring of 100 keys */
        char id[32];
        snprintf(id, sizeof(id), "other-%02d", i);
        CHECK(aios_keyring_add(c.kr, NULL, id, AIOS_KEY_AES256, NULL));
    }
    row("keyring get + unref (100 keys)", bench_measure(get_key, &c));
    CHECK(aios_keyring_get(c.kr, &c.key, "kek", 0));
    bench_key_ops("local provider", &c);

    CHECK(aios_dkcache_new(&c.cache, NULL));
    CHECK(aios_dkcache_put(c.cache, c.key, (const uint8_t *)"tenant=acme", 11, 1, c.dk, 32,
                           NULL, 0));
    row("data-key cache hit (get + release)", bench_measure(cache_hit, &c));
    aios_dkcache_free(c.cache);
    aios_key_unref(c.key);
    c.key = NULL;

    if (softhsm_setup(p11dir, sizeof(p11dir), &module) == 0) {
        aios_provider *p = NULL;
        CHECK(aios_provider_pkcs11(&p, module, "pkcs11:token=aios-bench?pin-value=1234", NULL));
        CHECK(aios_provider_get_key(p, &c.key, "kek", 0));
        bench_key_ops("SoftHSM2, AES-GCM in the token", &c);
        aios_key_unref(c.key);
        aios_provider_unref(p);
        snprintf(path, sizeof(path), "rm -rf '%s'", p11dir);
        if (system(path) != 0)
            fprintf(stderr, "could not remove %s\n", p11dir);
    } else {
        printf("%-44s %s\n", "SoftHSM2", "not installed: skipped");
    }
    aios_keyring_free(c.kr);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    return system(path) == 0 ? 0 : 1;
}
