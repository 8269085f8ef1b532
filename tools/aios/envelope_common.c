/*
 * Shared pieces of the envelope verbs: option parsing, keyring unlocking,
 * recipients and key sets, input files, atomic output files.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envelope_cli.h"

/* ------------------------------------------------------------ messages */

int env_fail(cli_ctx *ctx, const char *verb, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cli_fail_msg(ctx, verb, status, msg);
}

const char *env_lib_msg(int status)
{
    const char *m = aios_last_error_message();
    return m && m[0] ? m : aios_status_str(status);
}

/* ------------------------------------------------------------ parsing */


/* A byte count with an optional K/M suffix (KiB and MiB: 1024-based). */
static int parse_size(const char *s, uint64_t *out)
{
    char buf[32];
    size_t n = strlen(s);
    uint64_t mult = 1, v;
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n + 1);
    if (n > 3 && (!strcmp(buf + n - 3, "KiB") || !strcmp(buf + n - 3, "MiB"))) {
        mult = buf[n - 3] == 'K' ? 1024u : 1024u * 1024u;
        buf[n - 3] = '\0';
    } else if (n > 1 && strchr("kKmM", buf[n - 1])) {
        mult = (buf[n - 1] == 'k' || buf[n - 1] == 'K') ? 1024u : 1024u * 1024u;
        buf[n - 1] = '\0';
    }
    if (cli_parse_u64(buf, &v) || v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

int env_parse_key_ref(const char *ref, char *id, size_t id_cap, uint32_t *version)
{
    const char *at = strrchr(ref, '@');
    size_t idlen = strlen(ref);
    uint64_t v = 0;
    *version = 0;
    if (at && at[1] && cli_parse_u64(at + 1, &v) == 0) {
        if (v == 0 || v > UINT32_MAX)
            return -1;
        idlen = (size_t)(at - ref);
        *version = (uint32_t)v;
    }
    if (idlen == 0 || idlen >= id_cap)
        return -1;
    memcpy(id, ref, idlen);
    id[idlen] = '\0';
    return 0;
}

/* "k=v" into an entry; the key is copied (the value points into arg). */
static const char *add_pair(env_args *a, aios_envelope_context_entry *arr, size_t *n,
                            const char *arg, const char *opt)
{
    static char why[96];
    const char *eq = strchr(arg, '=');
    char *key;
    if (!eq || eq == arg) {
        snprintf(why, sizeof(why), "%s needs KEY=VALUE", opt);
        return why;
    }
    if (*n == ENV_MAX_CONTEXT || a->ncopies == sizeof(a->copies) / sizeof(a->copies[0])) {
        snprintf(why, sizeof(why), "at most %u %s entries", ENV_MAX_CONTEXT, opt);
        return why;
    }
    key = strndup(arg, (size_t)(eq - arg));
    if (!key)
        return "out of memory";
    a->copies[a->ncopies++] = key;
    arr[*n].key = key;
    arr[*n].value = eq + 1;
    (*n)++;
    return NULL;
}

static const char *add_str(const char **arr, size_t *n, size_t cap, const char *v, const char *opt)
{
    static char why[96];
    if (*n == cap) {
        snprintf(why, sizeof(why), "%s may be given at most %zu times", opt, cap);
        return why;
    }
    arr[(*n)++] = v;
    return NULL;
}

void env_args_free(env_args *a)
{
    for (size_t i = 0; i < a->ncopies; i++)
        free(a->copies[i]);
    a->ncopies = 0;
}

int env_parse(cli_ctx *ctx, const cli_command *cmd, unsigned sets, int argc, char **argv,
              env_args *a)
{
    enum { O_KEYRING = 256, O_PFILE, O_PFD, O_MKEY, O_TO, O_TOPUB, O_CONTEXT, O_SUITE,
           O_CHUNK, O_THREADS, O_FORCE, O_IDENTITY, O_EXPECT, O_EXPECT_MODE, O_REMOVE,
           O_REMOVE_PUB, O_REPLACE_ALL, O_IN_PLACE, O_POINTER, O_SESSION, O_DETERMINISTIC,
           O_SKIP_MISSING, O_LINES, O_RECORD_ID, O_RECORD_ID_PTR, O_JSON, O_QUIET, O_HELP };
    static const struct option longopts[] = {
        { "keyring", required_argument, NULL, O_KEYRING },
        { "passphrase-file", required_argument, NULL, O_PFILE },
        { "passphrase-fd", required_argument, NULL, O_PFD },
        { "master-key-file", required_argument, NULL, O_MKEY },
        { "to", required_argument, NULL, O_TO },
        { "to-public", required_argument, NULL, O_TOPUB },
        { "context", required_argument, NULL, O_CONTEXT },
        { "suite", required_argument, NULL, O_SUITE },
        { "chunk-size", required_argument, NULL, O_CHUNK },
        { "threads", required_argument, NULL, O_THREADS },
        { "output", required_argument, NULL, 'o' },
        { "force", no_argument, NULL, O_FORCE },
        { "identity", required_argument, NULL, O_IDENTITY },
        { "expect", required_argument, NULL, O_EXPECT },
        { "expect-mode", required_argument, NULL, O_EXPECT_MODE },
        { "remove", required_argument, NULL, O_REMOVE },
        { "remove-public", required_argument, NULL, O_REMOVE_PUB },
        { "replace-all", no_argument, NULL, O_REPLACE_ALL },
        { "in-place", no_argument, NULL, O_IN_PLACE },
        { "pointer", required_argument, NULL, O_POINTER },
        { "session", required_argument, NULL, O_SESSION },
        { "deterministic", no_argument, NULL, O_DETERMINISTIC },
        { "skip-missing", no_argument, NULL, O_SKIP_MISSING },
        { "lines", no_argument, NULL, O_LINES },
        { "record-id", required_argument, NULL, O_RECORD_ID },
        { "record-id-pointer", required_argument, NULL, O_RECORD_ID_PTR },
        { "json", no_argument, NULL, O_JSON },
        { "quiet", no_argument, NULL, O_QUIET },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 }
    };
    int c, expect_mode_given = 0;
    uint64_t u;

    memset(a, 0, sizeof(*a));
    a->passphrase_fd = -1;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:fqh", longopts, NULL)) != -1) {
        const char *bad = NULL;
        unsigned need = 0;
        switch (c) {
        case O_KEYRING: case O_PFILE: case O_PFD: case O_MKEY: need = ENV_OPT_KEYRING; break;
        case O_TO: case O_TOPUB: need = ENV_OPT_TO; break;
        case O_CONTEXT: need = ENV_OPT_CONTEXT; break;
        case O_SUITE: case O_CHUNK: need = ENV_OPT_SEAL; break;
        case O_THREADS: need = ENV_OPT_THREADS; break;
        case 'o': case 'f': case O_FORCE: need = ENV_OPT_OUTPUT; break;
        case O_IDENTITY: case O_EXPECT: case O_EXPECT_MODE: need = ENV_OPT_OPEN; break;
        case O_REMOVE: case O_REMOVE_PUB: case O_REPLACE_ALL: case O_IN_PLACE:
            need = ENV_OPT_REWRAP; break;
        case O_POINTER: case O_SESSION: case O_DETERMINISTIC: case O_SKIP_MISSING:
        case O_LINES: case O_RECORD_ID: case O_RECORD_ID_PTR:
            need = ENV_OPT_FIELDS; break;
        default: break;
        }
        if (need && !(sets & need))
            return cli_usage_error(ctx, cmd->name, "option '%s' does not apply here",
                                   /* "--opt value": the option is one word back */
                                   optarg && optind >= 2 && argv[optind - 1] == optarg
                                       ? argv[optind - 2] : argv[optind - 1]);
        switch (c) {
        case O_KEYRING: a->keyring = optarg; break;
        case O_PFILE: a->passphrase_file = optarg; break;
        case O_PFD:
            if (cli_parse_u64(optarg, &u) || u > 1024)
                bad = "--passphrase-fd needs a descriptor number";
            else
                a->passphrase_fd = (int)u;
            break;
        case O_MKEY: a->master_key_file = optarg; break;
        case O_TO:
            bad = add_str(a->to, &a->nto, ENV_MAX_RECIPIENTS, optarg, "--to");
            break;
        case O_TOPUB:
            bad = add_str(a->to_public, &a->nto_public, ENV_MAX_RECIPIENTS, optarg, "--to-public");
            break;
        case O_CONTEXT:
            bad = add_pair(a, a->context, &a->ncontext, optarg, "--context");
            break;
        case O_SUITE:
            if (!strcmp(optarg, "auto"))
                a->suite = AIOS_ENVELOPE_SUITE_AUTO;
            else if (!strcmp(optarg, "aes256gcm"))
                a->suite = AIOS_ENVELOPE_SUITE_AES256GCM;
            else if (!strcmp(optarg, "xchacha20poly1305"))
                a->suite = AIOS_ENVELOPE_SUITE_XCHACHA20POLY1305;
            else if (!strcmp(optarg, "portable"))
                a->suite = AIOS_ENVELOPE_SUITE_PORTABLE;
            else
                bad = "--suite is one of auto, aes256gcm, xchacha20poly1305, portable";
            break;
        case O_CHUNK:
            if (parse_size(optarg, &u) || u < AIOS_ENVELOPE_CHUNK_SIZE_MIN ||
                u > AIOS_ENVELOPE_CHUNK_SIZE_MAX)
                bad = "--chunk-size needs a size from 4096 (4K) to 16777216 (16M)";
            else
                a->chunk_size = (uint32_t)u;
            break;
        case O_THREADS:
            if (cli_parse_u64(optarg, &u) || u == 0 || u > 64)
                bad = "--threads needs a number from 1 to 64";
            else
                a->threads = (uint32_t)u;
            break;
        case 'o': a->output = optarg; break;
        case 'f': case O_FORCE: a->force = 1; break;
        case O_IDENTITY:
            bad = add_str(a->identity, &a->nidentity, ENV_MAX_IDENTITIES, optarg, "--identity");
            break;
        case O_EXPECT:
            bad = add_pair(a, a->expect, &a->nexpect, optarg, "--expect");
            break;
        case O_EXPECT_MODE:
            expect_mode_given = 1;
            if (!strcmp(optarg, "exact"))
                a->expect_mode = AIOS_ENVELOPE_CONTEXT_EXACT;
            else if (!strcmp(optarg, "subset"))
                a->expect_mode = AIOS_ENVELOPE_CONTEXT_SUBSET;
            else
                bad = "--expect-mode is exact or subset";
            break;
        case O_REMOVE:
            bad = add_str(a->remove, &a->nremove, ENV_MAX_RECIPIENTS, optarg, "--remove");
            break;
        case O_REMOVE_PUB:
            bad = add_str(a->remove_public, &a->nremove_public, ENV_MAX_RECIPIENTS, optarg,
                          "--remove-public");
            break;
        case O_REPLACE_ALL: a->replace_all = 1; break;
        case O_IN_PLACE: a->in_place = 1; break;
        case O_POINTER:
            bad = add_str(a->pointers, &a->npointers, ENV_MAX_POINTERS, optarg, "--pointer");
            break;
        case O_SESSION:
            bad = add_str(a->sessions, &a->nsessions, ENV_MAX_SESSIONS, optarg, "--session");
            break;
        case O_DETERMINISTIC: a->deterministic = 1; break;
        case O_SKIP_MISSING: a->skip_missing = 1; break;
        case O_LINES: a->lines = 1; break;
        case O_RECORD_ID: a->record_id = optarg; break;
        case O_RECORD_ID_PTR: a->record_id_pointer = optarg; break;
        case O_JSON: ctx->json = 1; break;
        case 'q': case O_QUIET: ctx->quiet = 1; break;
        case 'h': case O_HELP:
            fputs(cmd->usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(ctx, cmd->name, "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
        if (bad)
            return cli_usage_error(ctx, cmd->name, "%s", bad);
    }
    while (optind < argc) {
        if (a->noperands == sizeof(a->operands) / sizeof(a->operands[0]))
            return cli_usage_error(ctx, cmd->name, "too many arguments");
        a->operands[a->noperands++] = argv[optind++];
    }
    if (a->nexpect > 0 && !expect_mode_given)
        a->expect_mode = AIOS_ENVELOPE_CONTEXT_EXACT;
    if ((a->passphrase_file != NULL) + (a->passphrase_fd >= 0) + (a->master_key_file != NULL) > 1)
        return cli_usage_error(ctx, cmd->name, "give one of --passphrase-file, --passphrase-fd, "
                               "--master-key-file");
    if (a->record_id && a->record_id_pointer)
        return cli_usage_error(ctx, cmd->name, "give --record-id or --record-id-pointer, not both");
    return -1;
}

/* ------------------------------------------------------------ keyring */

int env_keyring_open(cli_ctx *ctx, const char *verb, const env_args *a, aios_keyring **kr)
{
    aios_keyring_options o = AIOS_KEYRING_OPTIONS_INIT;
    aios_buffer *secret = NULL;
    int rc;

    *kr = NULL;
    if (a->master_key_file) {
        rc = cli_read_key_file(a->master_key_file, &secret, "master key");
        o.unlock = AIOS_KEYRING_UNLOCK_RAW_KEY;
    } else if (a->passphrase_file) {
        rc = cli_read_secret_file(a->passphrase_file, &secret, "passphrase");
    } else if (a->passphrase_fd >= 0) {
        rc = cli_read_secret_fd(a->passphrase_fd, &secret, "passphrase");
    } else {
        rc = cli_read_secret_tty("Keyring passphrase: ", &secret);
    }
    if (rc != AIOS_OK) {
        aios_buffer_free(secret);
        return cli_exit(rc);
    }
    o.secret = aios_buffer_data(secret);
    o.secret_len = aios_buffer_len(secret);
    /* Read-only: no writer lock, so any number of seal/open runs (and one
     * `aios key` writer) can use the keyring at once. */
    o.flags = AIOS_KEYRING_READ_ONLY;
    rc = aios_keyring_open(kr, a->keyring, &o);
    aios_buffer_free(secret);     /* wipes */
    if (rc != AIOS_OK)
        return cli_fail(ctx, verb, rc);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ keys */

void env_keys_release(aios_key **keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        aios_key_unref(keys[i]);
        keys[i] = NULL;
    }
}

static int public_key_from_file(cli_ctx *ctx, const char *verb, const char *path, aios_key **k)
{
    uint8_t *pem = NULL;
    size_t len = 0;
    int fd, rc;

    *k = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return env_fail(ctx, verb, AIOS_E_IO, "cannot open the public key file %s: %s", path,
                        strerror(errno));
    rc = env_read_all(fd, 1u << 20, &pem, &len);
    close(fd);
    if (rc != AIOS_OK) {
        free(pem);
        return env_fail(ctx, verb, rc, "cannot read the public key file %s: %s", path,
                        rc == AIOS_E_LIMIT ? "larger than 1 MiB" : strerror(errno));
    }
    rc = aios_key_from_public_pem(k, NULL, (const char *)pem, len);
    free(pem);
    if (rc != AIOS_OK)
        return env_fail(ctx, verb, rc, "%s: %s", path, env_lib_msg(rc));
    return CLI_EXIT_OK;
}

int env_collect_keys(cli_ctx *ctx, const char *verb, aios_keyring *kr,
                     const char *const *refs, size_t nrefs,
                     const char *const *pems, size_t npems,
                     aios_key **keys, size_t *n)
{
    char id[512];
    uint32_t version;
    int rc;

    *n = 0;
    for (size_t i = 0; i < nrefs; i++) {
        if (env_parse_key_ref(refs[i], id, sizeof(id), &version) != 0) {
            rc = cli_usage_error(ctx, verb, "'%s' is not KEY_ID or KEY_ID@VERSION", refs[i]);
            goto fail;
        }
        if (!kr) {
            rc = cli_usage_error(ctx, verb, "'%s' names a keyring key: give --keyring", refs[i]);
            goto fail;
        }
        rc = aios_keyring_get(kr, &keys[*n], id, version);
        if (rc != AIOS_OK) {
            rc = cli_fail(ctx, verb, rc);
            goto fail;
        }
        (*n)++;
    }
    for (size_t i = 0; i < npems; i++) {
        rc = public_key_from_file(ctx, verb, pems[i], &keys[*n]);
        if (rc != CLI_EXIT_OK)
            goto fail;
        (*n)++;
    }
    return CLI_EXIT_OK;
fail:
    env_keys_release(keys, *n);
    *n = 0;
    return rc;
}

/* Add every usable version of every X25519 key of the keyring. */
static int add_all_identities(cli_ctx *ctx, const char *verb, aios_keyring *kr,
                              aios_envelope_keys *set)
{
    aios_buffer *js = NULL;
    json_error_t err;
    json_t *doc, *key, *ver;
    size_t i, j, added = 0;
    int rc = aios_keyring_list_json(kr, &js);
    if (rc != AIOS_OK)
        return cli_fail(ctx, verb, rc);
    doc = json_loadb((const char *)aios_buffer_data(js), aios_buffer_len(js), 0, &err);
    aios_buffer_free(js);
    if (!doc)
        return env_fail(ctx, verb, AIOS_E_INTERNAL, "the keyring listing is not JSON: %s",
                        err.text);
    json_array_foreach(json_object_get(doc, "keys"), i, key) {
        const char *type = json_string_value(json_object_get(key, "type"));
        const char *id = json_string_value(json_object_get(key, "id"));
        if (!type || !id || strcmp(type, "x25519") != 0)
            continue;
        json_array_foreach(json_object_get(key, "versions"), j, ver) {
            const char *state = json_string_value(json_object_get(ver, "state"));
            json_int_t v = json_integer_value(json_object_get(ver, "version"));
            aios_key *k = NULL;
            if (!state || !strcmp(state, "destroyed") || !strcmp(state, "disabled") ||
                v <= 0 || v > (json_int_t)UINT32_MAX)
                continue;
            if (added == ENV_MAX_IDENTITIES)
                break;
            if (aios_keyring_get(kr, &k, id, (uint32_t)v) != AIOS_OK)
                continue;   /* not usable: the message may not need it */
            rc = aios_envelope_keys_add_key(set, k);
            aios_key_unref(k);
            if (rc != AIOS_OK) {
                json_decref(doc);
                return cli_fail(ctx, verb, rc);
            }
            added++;
        }
    }
    json_decref(doc);
    return CLI_EXIT_OK;
}

int env_build_keyset(cli_ctx *ctx, const char *verb, aios_keyring *kr, const env_args *a,
                     aios_envelope_keys **out)
{
    aios_envelope_keys *set = NULL;
    char id[512];
    uint32_t version;
    int rc = aios_envelope_keys_new(&set);

    *out = NULL;
    if (rc != AIOS_OK)
        return cli_fail(ctx, verb, rc);
    rc = aios_envelope_keys_add_provider(set, aios_keyring_provider(kr));
    if (rc != AIOS_OK) {
        rc = cli_fail(ctx, verb, rc);
        goto fail;
    }
    if (a->nidentity == 0) {
        if ((rc = add_all_identities(ctx, verb, kr, set)) != CLI_EXIT_OK)
            goto fail;
    }
    for (size_t i = 0; i < a->nidentity; i++) {
        aios_key *k = NULL;
        if (env_parse_key_ref(a->identity[i], id, sizeof(id), &version) != 0) {
            rc = cli_usage_error(ctx, verb, "'%s' is not KEY_ID or KEY_ID@VERSION",
                                 a->identity[i]);
            goto fail;
        }
        rc = aios_keyring_get(kr, &k, id, version);
        if (rc == AIOS_OK) {
            rc = aios_envelope_keys_add_key(set, k);
            aios_key_unref(k);
        }
        if (rc != AIOS_OK) {
            rc = cli_fail(ctx, verb, rc);
            goto fail;
        }
    }
    *out = set;
    return CLI_EXIT_OK;
fail:
    aios_envelope_keys_free(set);
    return rc;
}

/* ------------------------------------------------------------ input */

int env_check_stdin(cli_ctx *ctx, const char *verb, const env_args *a, const char *path)
{
    if ((!path || !strcmp(path, "-")) && a->passphrase_fd == STDIN_FILENO)
        return cli_usage_error(ctx, verb, "standard input carries the passphrase "
                               "(--passphrase-fd 0): give the input as a file");
    return -1;
}

int env_open_input(cli_ctx *ctx, const char *verb, const env_args *a, const char *path, int *fd)
{
    struct stat st;
    *fd = -1;
    if (!path || !strcmp(path, "-")) {
        if (a && env_check_stdin(ctx, verb, a, path) >= 0)
            return CLI_EXIT_USAGE;
        *fd = STDIN_FILENO;
        return CLI_EXIT_OK;
    }
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return env_fail(ctx, verb, AIOS_E_IO, "cannot open %s: %s", path, strerror(errno));
    if (fstat(*fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(*fd);
        *fd = -1;
        return env_fail(ctx, verb, AIOS_E_IO, "%s is a directory", path);
    }
    return CLI_EXIT_OK;
}

int env_read_all(int fd, size_t max, uint8_t **out, size_t *out_len)
{
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc(cap + 1);
    *out = NULL;
    *out_len = 0;
    if (!buf)
        return AIOS_E_NOMEM;
    for (;;) {
        ssize_t r;
        if (n == cap) {
            uint8_t *nb;
            if (cap >= max) {
                aios_wipe(buf, n);
                free(buf);
                return AIOS_E_LIMIT;
            }
            cap = cap * 2 > max ? max : cap * 2;
            nb = malloc(cap + 1);       /* no realloc: the old copy is wiped */
            if (!nb) {
                aios_wipe(buf, n);
                free(buf);
                return AIOS_E_NOMEM;
            }
            memcpy(nb, buf, n);
            aios_wipe(buf, n);
            free(buf);
            buf = nb;
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            aios_wipe(buf, n);
            free(buf);
            errno = e;
            return AIOS_E_IO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            aios_wipe(buf, n);
            free(buf);
            return AIOS_E_LIMIT;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return AIOS_OK;
}

/* Read exactly len bytes; returns the count read (less at end of input) or
 * -1 on error. */
static ssize_t read_full(int fd, uint8_t *p, size_t len)
{
    size_t n = 0;
    while (n < len) {
        ssize_t r = read(fd, p + n, len - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    return (ssize_t)n;
}

int env_read_header(int fd, uint8_t **out, size_t *out_len, const char **why)
{
    size_t have = 0, want = 18, hlen = 0;
    uint8_t *buf = malloc(AIOS_ENVELOPE_HEADER_MAX);
    int rc;

    *out = NULL;
    *out_len = 0;
    *why = NULL;
    if (!buf)
        return AIOS_E_NOMEM;
    for (;;) {
        ssize_t r = read_full(fd, buf + have, want - have);
        if (r < 0) {
            *why = strerror(errno);
            free(buf);
            return AIOS_E_IO;
        }
        have += (size_t)r;
        if (have < want) {
            *why = have == 0 ? "the input is empty" : "the input ends inside the header";
            free(buf);
            return have < 18 ? AIOS_E_FORMAT : AIOS_E_ENVELOPE_TRUNCATED;
        }
        rc = aios_envelope_header_len(&hlen, buf, have);
        if (rc == AIOS_OK)
            break;
        if (rc != AIOS_E_BUFFER_TOO_SMALL || hlen <= have || hlen > AIOS_ENVELOPE_HEADER_MAX) {
            free(buf);
            return rc == AIOS_E_BUFFER_TOO_SMALL ? AIOS_E_FORMAT : rc;
        }
        want = hlen;
    }
    if (hlen > have) {      /* header_len answered OK from a prefix: read the rest */
        ssize_t r = read_full(fd, buf + have, hlen - have);
        if (r < 0 || (size_t)r != hlen - have) {
            *why = r < 0 ? strerror(errno) : "the input ends inside the header";
            free(buf);
            return r < 0 ? AIOS_E_IO : AIOS_E_ENVELOPE_TRUNCATED;
        }
        have = hlen;
    }
    *out = buf;
    *out_len = have;
    return AIOS_OK;
}

/* ------------------------------------------------------------ output */

/* The temporary file being written, removed if a signal ends the run. */
static char signal_tmp[PATH_MAX];
static volatile sig_atomic_t signal_tmp_set;

static void on_signal(int sig)
{
    if (signal_tmp_set)
        (void)unlink(signal_tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void watch_tmp(const char *path)
{
    static int installed;
    if (path) {
        size_t n = strlen(path);
        if (n >= sizeof(signal_tmp))
            return;
        signal_tmp_set = 0;
        memcpy(signal_tmp, path, n + 1);
        signal_tmp_set = 1;
        if (!installed) {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_handler = on_signal;
            sigemptyset(&sa.sa_mask);
            sigaction(SIGINT, &sa, NULL);
            sigaction(SIGTERM, &sa, NULL);
            sigaction(SIGHUP, &sa, NULL);
            installed = 1;
        }
    } else {
        signal_tmp_set = 0;
    }
}

int env_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int env_out_begin(cli_ctx *ctx, const char *verb, env_out *o, const char *path,
                  mode_t new_mode, int binary, int force)
{
    struct stat st;
    const char *slash, *base;
    size_t dirlen;
    mode_t mask;

    memset(o, 0, sizeof(*o));
    o->fd = -1;
    if (!path || !strcmp(path, "-")) {
        if (binary && !force && isatty(STDOUT_FILENO))
            return env_fail(ctx, verb, AIOS_E_STATE, "refusing to write binary output to a "
                            "terminal: redirect it, give -o FILE, or pass --force");
        o->fd = STDOUT_FILENO;
        o->direct = 1;
        return CLI_EXIT_OK;
    }
    o->path = path;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return env_fail(ctx, verb, AIOS_E_IO, "%s is a directory", path);
        if (!S_ISREG(st.st_mode)) {
            /* A device or pipe (/dev/null, a FIFO): cannot rename over it. */
            o->fd = open(path, O_WRONLY | O_CLOEXEC);
            if (o->fd < 0)
                return env_fail(ctx, verb, AIOS_E_IO, "cannot open %s: %s", path,
                                strerror(errno));
            o->direct = 1;
            return CLI_EXIT_OK;
        }
        new_mode = st.st_mode & 07777;        /* a replaced file keeps its mode */
    } else {
        mask = umask(0);
        umask(mask);
        new_mode &= ~mask;
    }
    slash = strrchr(path, '/');
    base = slash ? slash + 1 : path;
    dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    o->tmp = malloc(dirlen + strlen(base) + 32);
    if (!o->tmp)
        return env_fail(ctx, verb, AIOS_E_NOMEM, "out of memory");
    memcpy(o->tmp, path, dirlen);
    sprintf(o->tmp + dirlen, ".%s.aios-XXXXXX", base);
    o->fd = mkostemp(o->tmp, O_CLOEXEC);       /* created 0600 */
    if (o->fd < 0) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        return env_fail(ctx, verb, AIOS_E_IO, "cannot create a temporary file beside %s: %s",
                        path, strerror(e));
    }
    watch_tmp(o->tmp);
    if (fchmod(o->fd, new_mode) != 0) {
        int e = errno;
        env_out_abort(o);
        return env_fail(ctx, verb, AIOS_E_IO, "cannot set the mode of %s: %s", path,
                        strerror(e));
    }
    return CLI_EXIT_OK;
}

int env_out_commit(cli_ctx *ctx, const char *verb, env_out *o)
{
    if (o->direct) {
        o->fd = -1;
        return CLI_EXIT_OK;
    }
    if (fsync(o->fd) != 0 || close(o->fd) != 0) {
        int e = errno;
        o->fd = -1;
        env_out_abort(o);
        return env_fail(ctx, verb, AIOS_E_IO, "cannot write %s: %s", o->path, strerror(e));
    }
    o->fd = -1;
    if (rename(o->tmp, o->path) != 0) {
        int e = errno;
        env_out_abort(o);
        return env_fail(ctx, verb, AIOS_E_IO, "cannot rename into %s: %s", o->path,
                        strerror(e));
    }
    watch_tmp(NULL);
    {
        /* Make the rename durable. */
        const char *slash = strrchr(o->path, '/');
        char *dir = slash ? strndup(o->path, slash == o->path ? 1 : (size_t)(slash - o->path))
                          : strdup(".");
        if (dir) {
            int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
            }
            free(dir);
        }
    }
    free(o->tmp);
    o->tmp = NULL;
    return CLI_EXIT_OK;
}

void env_out_abort(env_out *o)
{
    if (o->direct) {
        o->fd = -1;
        return;
    }
    if (o->fd >= 0) {
        if (ftruncate(o->fd, 0) != 0) {
            /* unlinked below anyway */
        }
        close(o->fd);
        o->fd = -1;
    }
    if (o->tmp) {
        (void)unlink(o->tmp);
        watch_tmp(NULL);
        free(o->tmp);
        o->tmp = NULL;
    }
}
