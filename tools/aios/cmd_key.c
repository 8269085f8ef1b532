/*
 * aios key: keyrings and their keys.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "aios/key.h"

static const char usage[] =
    "Usage: aios key <action> <keyring> [args] [options]\n"
    "\n"
    "Manage a keyring file: keys encrypted at rest, with versions and states.\n"
    "\n"
    "Actions:\n"
    "  create <keyring>                       create an empty keyring\n"
    "  add <keyring> <id> --type T            generate a new key (version 1, primary)\n"
    "  import <keyring> <id> --type T --file F\n"
    "                                         import 32 raw bytes (aes256, hmac-sha256,\n"
    "                                         blake2b) or a PKCS#8/SEC1 PEM private key\n"
    "  rotate <keyring> <id>                  new primary version; the old one decrypt-only\n"
    "  add-version <keyring> <id>             two-phase rotation: add a pending version\n"
    "  import-version <keyring> <id> --file F [--pending]\n"
    "                                         rotate to your own material (format as for\n"
    "                                         import); --pending: add it pending instead\n"
    "  promote <keyring> <id> <version>       make a version primary\n"
    "  disable <keyring> <id> <version>       a disabled version does nothing\n"
    "  enable <keyring> <id> <version>        back to decrypt-only (or active)\n"
    "  destroy <keyring> <id> <version>       wipe a version's material for good\n"
    "  min-version <keyring> <id> <version>   older versions no longer decrypt\n"
    "  list <keyring>                         every key and version (no secrets)\n"
    "  show <keyring> <id> [--version V]      one key version's metadata\n"
    "  export-public <keyring> <id> [--version V]\n"
    "                                         the public key as PEM\n"
    "\n"
    "Key types: aes256 (wrap), hmac-sha256, blake2b (mac), ed25519, ecdsa-p256,\n"
    "ecdsa-p384, ecdsa-p521 (sign), x25519 (recipient).\n"
    "\n"
    "Unlocking (the secret is read from a file, a file descriptor or the\n"
    "terminal with echo off; never from the command line or the environment):\n"
    "  --passphrase-file F    passphrase in file F (one trailing newline dropped)\n"
    "  --passphrase-fd N      passphrase read from file descriptor N\n"
    "  --master-key-file F    a raw 32-byte master key instead of a passphrase\n"
    "  (none of these)        ask on the terminal\n"
    "  --argon2-ops N, --argon2-mem BYTES   create: Argon2id cost (default 3, 64 MiB)\n"
    "  --lock-timeout MS      wait for another writer's lock (default: fail at once)\n"
    "\n"
    "Options for add and import:\n"
    "  --type T               key type (see above)\n"
    "  --exportable           allow the secret to be exported later\n"
    "  --attr NAME=VALUE      an attribute for policy (repeatable, up to 64)\n"
    "  --max-uses N           wrap/sign/mac operations per version\n"
    "  --not-after UNIXTIME   after this the version only decrypts/verifies\n"
    "\n"
    "  --json                 one JSON document on stdout\n";

typedef struct key_args {
    const char *passphrase_file;
    int passphrase_fd;
    const char *master_key_file;
    uint64_t argon2_ops, argon2_mem;
    uint32_t lock_timeout_ms;
    const char *type;
    int exportable;
    int pending;
    aios_key_attribute_pair attrs[64];
    char *attr_copies[64];
    size_t nattrs;
    uint64_t max_uses;
    int64_t not_after;
    uint32_t version;
    const char *file;
} key_args;

static int key_type_from(const char *name, aios_key_type *out)
{
    for (int t = 1; t <= AIOS_KEY_ECDSA_P521; t++) {
        const char *n = aios_key_type_name((aios_key_type)t);
        if (n && strcmp(n, name) == 0) {
            *out = (aios_key_type)t;
            return 0;
        }
    }
    return -1;
}

/* Open (or create) the keyring with the unlock options given. */
static int keyring_open(cli_ctx *ctx, const key_args *a, const char *path, int create,
                        int read_only, aios_keyring **kr)
{
    aios_keyring_options o = AIOS_KEYRING_OPTIONS_INIT;
    aios_buffer *secret = NULL;
    int rc;

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
    o.argon2_opslimit = a->argon2_ops;
    o.argon2_memlimit = a->argon2_mem;
    o.lock_timeout_ms = a->lock_timeout_ms;
    o.flags = read_only ? AIOS_KEYRING_READ_ONLY : 0;
    rc = create ? aios_keyring_create(kr, path, &o) : aios_keyring_open(kr, path, &o);
    aios_buffer_free(secret);     /* wipes */
    if (rc != AIOS_OK)
        return cli_fail(ctx, "key", rc);
    return CLI_EXIT_OK;
}

static json_t *key_json(const aios_key *k)
{
    json_t *attrs = json_object(), *purposes = json_array();
    static const struct { uint32_t bit; const char *name; } uses[] = {
        { AIOS_KEY_USE_WRAP, "wrap" }, { AIOS_KEY_USE_SIGN, "sign" },
        { AIOS_KEY_USE_VERIFY, "verify" }, { AIOS_KEY_USE_MAC, "mac" },
        { AIOS_KEY_USE_DERIVE, "derive" },
    };
    for (size_t i = 0; i < aios_key_attribute_count(k); i++) {
        const char *n, *v;
        if (aios_key_attribute_at(k, i, &n, &v) == AIOS_OK)
            json_object_set_new(attrs, n, json_string(v));
    }
    for (size_t i = 0; i < sizeof(uses) / sizeof(uses[0]); i++)
        if (aios_key_purposes(k) & uses[i].bit)
            json_array_append_new(purposes, json_string(uses[i].name));
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:o, s:b, s:I, s:o}",
        "id", aios_key_id(k), "version", (int)aios_key_version(k),
        "type", aios_key_type_name(aios_key_get_type(k)),
        "state", aios_key_state_name(aios_key_get_state(k)),
        "provider", aios_key_provider_name(k), "purposes", purposes,
        "exportable", aios_key_exportable(k), "created_at", (json_int_t)aios_key_created_at(k),
        "attributes", attrs);
}

static int report_key(cli_ctx *ctx, const char *action, const aios_key *k)
{
    if (ctx->json) {
        cli_print_json(json_pack("{s:b, s:s, s:o}", "ok", 1, "command", action, "key", key_json(k)));
    } else if (!ctx->quiet) {
        printf("%s: key '%s' version %u (%s, %s)\n", action, aios_key_id(k), aios_key_version(k),
               aios_key_type_name(aios_key_get_type(k)),
               aios_key_state_name(aios_key_get_state(k)));
    }
    return CLI_EXIT_OK;
}

static int report_done(cli_ctx *ctx, const char *action, const char *id, uint32_t version)
{
    if (ctx->json)
        cli_print_json(json_pack("{s:b, s:s, s:s, s:i}", "ok", 1, "command", action, "id", id,
                                 "version", (int)version));
    else if (!ctx->quiet)
        printf("%s: key '%s' version %u\n", action, id, version);
    return CLI_EXIT_OK;
}

static int list_keys(cli_ctx *ctx, aios_keyring *kr)
{
    aios_buffer *js = NULL;
    json_error_t err;
    json_t *doc;
    int rc = aios_keyring_list_json(kr, &js);
    if (rc != AIOS_OK)
        return cli_fail(ctx, "key list", rc);
    doc = json_loadb((const char *)aios_buffer_data(js), aios_buffer_len(js),
                     JSON_REJECT_DUPLICATES, &err);
    aios_buffer_free(js);
    if (!doc) {
        fprintf(stderr, "aios key list: the library's listing is not JSON: %s\n", err.text);
        return CLI_EXIT_INTERNAL;
    }
    if (ctx->json) {
        json_object_set_new(doc, "ok", json_true());
        cli_print_json(doc);
        return CLI_EXIT_OK;
    }
    size_t i, j;
    json_t *key, *ver;
    printf("%-32s %-12s %-8s %-8s %s\n", "KEY", "TYPE", "VERSION", "PRIMARY", "STATE");
    json_array_foreach(json_object_get(doc, "keys"), i, key) {
        json_int_t primary = json_integer_value(json_object_get(key, "primary"));
        json_array_foreach(json_object_get(key, "versions"), j, ver) {
            json_int_t v = json_integer_value(json_object_get(ver, "version"));
            printf("%-32s %-12s %-8lld %-8s %s\n", json_string_value(json_object_get(key, "id")),
                   json_string_value(json_object_get(key, "type")), (long long)v,
                   v == primary ? "*" : "", json_string_value(json_object_get(ver, "state")));
        }
    }
    json_decref(doc);
    return CLI_EXIT_OK;
}

static int run(cli_ctx *ctx, int argc, char **argv)
{
    enum { O_PFILE = 256, O_PFD, O_MKEY, O_OPS, O_MEM, O_LOCK, O_TYPE, O_EXPORTABLE, O_ATTR,
           O_MAXUSES, O_NOTAFTER, O_VERSION, O_FILE, O_PENDING, O_JSON, O_QUIET, O_HELP };
    static const struct option longopts[] = {
        { "passphrase-file", required_argument, NULL, O_PFILE },
        { "passphrase-fd", required_argument, NULL, O_PFD },
        { "master-key-file", required_argument, NULL, O_MKEY },
        { "argon2-ops", required_argument, NULL, O_OPS },
        { "argon2-mem", required_argument, NULL, O_MEM },
        { "lock-timeout", required_argument, NULL, O_LOCK },
        { "type", required_argument, NULL, O_TYPE },
        { "exportable", no_argument, NULL, O_EXPORTABLE },
        { "attr", required_argument, NULL, O_ATTR },
        { "max-uses", required_argument, NULL, O_MAXUSES },
        { "not-after", required_argument, NULL, O_NOTAFTER },
        { "version", required_argument, NULL, O_VERSION },
        { "file", required_argument, NULL, O_FILE },
        { "pending", no_argument, NULL, O_PENDING },
        { "json", no_argument, NULL, O_JSON },
        { "quiet", no_argument, NULL, O_QUIET },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 }
    };
    key_args a;
    const char *action, *path, *id = NULL;
    aios_keyring *kr = NULL;
    aios_key *k = NULL;
    uint64_t u;
    int c, rc, exit_code = CLI_EXIT_OK;
    char cmdname[48];

    memset(&a, 0, sizeof(a));
    a.passphrase_fd = -1;
    opterr = 0;
    optind = 1;
    /* GNU getopt permutes: options may come before, between or after the
     * operands (action, keyring, id, version). */
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case O_PFILE: a.passphrase_file = optarg; break;
        case O_PFD:
            if (cli_parse_u64(optarg, &u) || u > 1024)
                bad = "--passphrase-fd needs a descriptor number";
            else
                a.passphrase_fd = (int)u;
            break;
        case O_MKEY: a.master_key_file = optarg; break;
        case O_OPS:
            if (cli_parse_u64(optarg, &a.argon2_ops))
                bad = "--argon2-ops needs a number";
            break;
        case O_MEM:
            if (cli_parse_u64(optarg, &a.argon2_mem))
                bad = "--argon2-mem needs a number of bytes";
            break;
        case O_LOCK:
            if (cli_parse_u64(optarg, &u) || u > 86400000)
                bad = "--lock-timeout needs milliseconds";
            else
                a.lock_timeout_ms = (uint32_t)u;
            break;
        case O_TYPE: a.type = optarg; break;
        case O_EXPORTABLE: a.exportable = 1; break;
        case O_ATTR: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                bad = "--attr needs NAME=VALUE";
            } else if (a.nattrs == 64) {
                bad = "at most 64 attributes";
            } else {
                a.attr_copies[a.nattrs] = strndup(optarg, (size_t)(eq - optarg));
                a.attrs[a.nattrs].name = a.attr_copies[a.nattrs];
                a.attrs[a.nattrs].value = eq + 1;
                a.nattrs++;
            }
            break;
        }
        case O_MAXUSES:
            if (cli_parse_u64(optarg, &a.max_uses))
                bad = "--max-uses needs a number";
            break;
        case O_NOTAFTER:
            if (cli_parse_u64(optarg, &u) || u > INT64_MAX)
                bad = "--not-after needs unix seconds";
            else
                a.not_after = (int64_t)u;
            break;
        case O_VERSION:
            if (cli_parse_u64(optarg, &u) || u == 0 || u > UINT32_MAX)
                bad = "--version needs a version number";
            else
                a.version = (uint32_t)u;
            break;
        case O_FILE: a.file = optarg; break;
        case O_PENDING: a.pending = 1; break;
        case O_JSON: ctx->json = 1; break;
        case O_QUIET: ctx->quiet = 1; break;
        case O_HELP:
            fputs(usage, stdout);
            rc = CLI_EXIT_OK;
            goto done_exit;
        default:
            rc = cli_usage_error(ctx, "key", "unknown option or missing value: '%s'",
                                 argv[optind - 1]);
            goto done_exit;
        }
        if (bad) {
            rc = cli_usage_error(ctx, "key", "%s", bad);
            goto done_exit;
        }
    }
    const char *ops[4];
    int nops = 0;
    while (optind < argc) {
        if (nops == 4) {
            rc = cli_usage_error(ctx, "key", "unexpected argument '%s'", argv[optind]);
            goto done_exit;
        }
        ops[nops++] = argv[optind++];
    }
    if (nops < 2) {
        rc = cli_usage_error(ctx, "key", "need an action and a keyring path");
        goto done_exit;
    }
    action = ops[0];
    path = ops[1];
    if (nops >= 3)
        id = ops[2];
    if (nops == 4) {
        if (cli_parse_u64(ops[3], &u) || u == 0 || u > UINT32_MAX) {
            rc = cli_usage_error(ctx, "key", "'%s' is not a version number", ops[3]);
            goto done_exit;
        }
        a.version = (uint32_t)u;
    }
    snprintf(cmdname, sizeof(cmdname), "key %s", action);

    int needs_id = strcmp(action, "create") != 0 && strcmp(action, "list") != 0;
    int needs_version = !strcmp(action, "promote") || !strcmp(action, "disable") ||
                        !strcmp(action, "enable") || !strcmp(action, "destroy") ||
                        !strcmp(action, "min-version");
    rc = -1;
    if (needs_id && !id)
        rc = cli_usage_error(ctx, "key", "%s needs a key id", action);
    else if (!needs_id && id)
        rc = cli_usage_error(ctx, "key", "unexpected argument '%s'", id);
    else if (needs_version && a.version == 0)
        rc = cli_usage_error(ctx, "key", "%s needs a version", action);
    else if (strcmp(action, "create") && strcmp(action, "add") && strcmp(action, "import") &&
             strcmp(action, "rotate") && strcmp(action, "add-version") &&
             strcmp(action, "import-version") && !needs_version &&
             strcmp(action, "list") && strcmp(action, "show") && strcmp(action, "export-public"))
        rc = cli_usage_error(ctx, "key", "unknown action '%s'", action);
    if (rc >= 0)
        goto done_exit;

    int create = strcmp(action, "create") == 0;
    int read_only = !strcmp(action, "list") || !strcmp(action, "show") ||
                    !strcmp(action, "export-public");
    if ((rc = keyring_open(ctx, &a, path, create, read_only, &kr)) != CLI_EXIT_OK)
        goto done_exit;

    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    spec.exportable = (uint32_t)a.exportable;
    spec.attributes = a.attrs;
    spec.attribute_count = a.nattrs;
    spec.max_uses = a.max_uses;
    spec.not_after = a.not_after;

    if (create) {
        if (ctx->json)
            cli_print_json(json_pack("{s:b, s:s, s:s}", "ok", 1, "command", cmdname, "path", path));
        else if (!ctx->quiet)
            printf("created keyring %s\n", path);
    } else if (!strcmp(action, "add") || !strcmp(action, "import")) {
        aios_key_type type;
        if (!a.type || key_type_from(a.type, &type)) {
            exit_code = cli_usage_error(ctx, "key", "%s needs --type (aes256, hmac-sha256, "
                                        "blake2b, ed25519, ecdsa-p256, ecdsa-p384, ecdsa-p521, "
                                        "x25519)", action);
            goto done;
        }
        if (!strcmp(action, "add")) {
            rc = aios_keyring_add(kr, &k, id, type, &spec);
        } else {
            aios_buffer *material = NULL;
            if (!a.file) {
                exit_code = cli_usage_error(ctx, "key", "import needs --file");
                goto done;
            }
            rc = cli_read_key_file(a.file, &material, "key");
            if (rc == AIOS_OK)
                rc = aios_keyring_import(kr, &k, id, type, aios_buffer_data(material),
                                         aios_buffer_len(material), &spec);
            aios_buffer_free(material);
        }
        exit_code = rc == AIOS_OK ? report_key(ctx, cmdname, k) : cli_fail(ctx, cmdname, rc);
    } else if (!strcmp(action, "rotate") || !strcmp(action, "add-version")) {
        rc = !strcmp(action, "rotate") ? aios_keyring_rotate(kr, &k, id)
                                       : aios_keyring_add_version(kr, &k, id);
        exit_code = rc == AIOS_OK ? report_key(ctx, cmdname, k) : cli_fail(ctx, cmdname, rc);
    } else if (!strcmp(action, "import-version")) {
        aios_buffer *material = NULL;
        if (!a.file) {
            exit_code = cli_usage_error(ctx, "key", "import-version needs --file");
            goto done;
        }
        rc = cli_read_key_file(a.file, &material, "key");
        if (rc == AIOS_OK)
            rc = aios_keyring_import_version(kr, &k, id, aios_buffer_data(material),
                                             aios_buffer_len(material),
                                             a.pending ? AIOS_KEYRING_IMPORT_PENDING : 0);
        aios_buffer_free(material);
        exit_code = rc == AIOS_OK ? report_key(ctx, cmdname, k) : cli_fail(ctx, cmdname, rc);
    } else if (needs_version) {
        if (!strcmp(action, "promote"))
            rc = aios_keyring_promote(kr, id, a.version);
        else if (!strcmp(action, "disable"))
            rc = aios_keyring_set_state(kr, id, a.version, AIOS_KEY_DISABLED);
        else if (!strcmp(action, "enable"))
            rc = aios_keyring_set_state(kr, id, a.version, AIOS_KEY_DECRYPT_ONLY);
        else if (!strcmp(action, "destroy"))
            rc = aios_keyring_destroy(kr, id, a.version);
        else
            rc = aios_keyring_set_min_decrypt_version(kr, id, a.version);
        exit_code = rc == AIOS_OK ? report_done(ctx, cmdname, id, a.version)
                                  : cli_fail(ctx, cmdname, rc);
    } else if (!strcmp(action, "list")) {
        exit_code = list_keys(ctx, kr);
    } else if (!strcmp(action, "show") || !strcmp(action, "export-public")) {
        rc = aios_keyring_get(kr, &k, id, a.version);
        if (rc != AIOS_OK) {
            exit_code = cli_fail(ctx, cmdname, rc);
        } else if (!strcmp(action, "show")) {
            exit_code = report_key(ctx, cmdname, k);
        } else {
            aios_buffer *pem = NULL;
            rc = aios_key_public_pem(k, &pem);
            if (rc != AIOS_OK) {
                exit_code = cli_fail(ctx, cmdname, rc);
            } else {
                if (ctx->json)
                    cli_print_json(json_pack("{s:b, s:s, s:o, s:s%}", "ok", 1, "command", cmdname,
                                             "key", key_json(k), "pem",
                                             (const char *)aios_buffer_data(pem),
                                             aios_buffer_len(pem)));
                else
                    fwrite(aios_buffer_data(pem), 1, aios_buffer_len(pem), stdout);
                aios_buffer_free(pem);
            }
        }
    } else {
        exit_code = cli_usage_error(ctx, "key", "unknown action '%s'", action);
    }

done:
    aios_key_unref(k);
    aios_keyring_free(kr);
    rc = exit_code;
done_exit:
    for (size_t i = 0; i < a.nattrs; i++)
        free(a.attr_copies[i]);
    return rc;
}

const cli_command cli_cmd_key = {
    "key", "create keyrings; add, rotate, disable, destroy and list keys", usage, run
};
