/*
 * aios seal / open / peek / rewrap: envelope encryption of files and
 * streams (include/aios/envelope.h, docs/FORMAT.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envelope_cli.h"

#define KEYRING_HELP \
    "Keyring (the secret is read from a file, a file descriptor or the terminal\n" \
    "with echo off; never from the command line or the environment):\n" \
    "  --keyring PATH            the keyring file (opened read-only)\n" \
    "  --passphrase-file F       its passphrase, in file F (one trailing newline dropped)\n" \
    "  --passphrase-fd N         its passphrase, read from file descriptor N\n" \
    "  --master-key-file F       a raw 32-byte master key instead of a passphrase\n" \
    "  (none of these)           ask on the terminal\n"

static const char seal_usage[] =
    "Usage: aios seal [--keyring PATH] (--to KEY_ID[@VERSION] | --to-public PEMFILE)...\n"
    "                 [--context KEY=VALUE]... [options] [-o OUT] [IN]\n"
    "\n"
    "Encrypt IN (a file; standard input when absent or \"-\") under a fresh data\n"
    "key wrapped for every recipient, streaming in constant memory.  The output\n"
    "goes to OUT through a temporary file renamed over it once complete, or to\n"
    "standard output (never to a terminal unless --force).\n"
    "\n"
    "Recipients (at least one, at most 64 in all):\n"
    "  --to KEY_ID[@VERSION]     a key of the keyring: an aes256 KEK (its primary\n"
    "                            version unless @VERSION) or an x25519 key\n"
    "  --to-public PEMFILE       an X25519 public key in PEM (aios key export-public);\n"
    "                            needs no keyring and no secret\n"
    "\n"
    KEYRING_HELP
    "\n"
    "Options:\n"
    "  --context KEY=VALUE       an entry of the encryption context (repeatable, up to\n"
    "                            128); bound to the message, NOT secret: anyone can read\n"
    "                            it with 'aios peek'; 'aios open --expect' checks it\n"
    "  --suite S                 auto (default: AES-256-GCM with AES-NI, else\n"
    "                            XChaCha20-Poly1305), aes256gcm, xchacha20poly1305,\n"
    "                            portable (XChaCha20-Poly1305 always)\n"
    "  --chunk-size N            4K..16M (suffix K or M), default 64K\n"
    "  --threads N               worker threads for chunks, 1..64 (default 1)\n"
    "  -o, --output OUT          write to OUT instead of standard output\n"
    "  -f, --force               write binary output to a terminal anyway\n"
    "  --json                    with -o: a JSON summary with the new header on stdout\n"
    "  --quiet                   nothing on stderr but errors\n"
    "\n"
    "Example:\n"
    "  aios seal --keyring ring.aioskr --passphrase-file pass --to model-kek \\\n"
    "            --context tenant=acme -o model.bin.aiose model.bin\n";

static const char open_usage[] =
    "Usage: aios open --keyring PATH [--identity KEY_ID[@VERSION]]...\n"
    "                 [--expect KEY=VALUE]... [--expect-mode exact|subset] [options]\n"
    "                 [-o OUT] [IN]\n"
    "\n"
    "Decrypt and verify IN (a file; standard input when absent or \"-\").  Every\n"
    "KEK id and version a message names is looked up in the keyring, so a\n"
    "message sealed under an older (decrypt-only) version still opens; X25519\n"
    "recipients are matched against the keyring's x25519 keys (every usable\n"
    "version of each, or only those named with --identity).\n"
    "\n"
    "With -o OUT the plaintext goes to a temporary file beside OUT (mode 0600 for\n"
    "a new file), renamed over OUT only once the whole message has verified: a\n"
    "tampered, truncated or refused message never leaves plaintext at OUT.\n"
    "On standard output the plaintext is streamed as each chunk verifies: it is\n"
    "PROVISIONAL until aios exits with status 0, and must be discarded otherwise\n"
    "(a later chunk may turn out tampered or missing).\n"
    "\n"
    KEYRING_HELP
    "\n"
    "Options:\n"
    "  --identity KEY_ID[@V]     an x25519 key (or KEK) to try, instead of every x25519\n"
    "                            key of the keyring (repeatable)\n"
    "  --expect KEY=VALUE        require this encryption-context entry (repeatable);\n"
    "                            checked before any key is used\n"
    "  --expect-mode M           exact (default: the context is exactly the --expect\n"
    "                            entries; with no --expect, it must be empty) or subset\n"
    "                            (every --expect entry is present; others may be)\n"
    "  --threads N               worker threads for chunks, 1..64 (default 1)\n"
    "  -o, --output OUT          write to OUT instead of standard output\n"
    "  --json                    with -o: a JSON summary on stdout\n"
    "  --quiet                   nothing on stderr but errors\n"
    "\n"
    "Exit status: 0 only when every byte verified.  4 for a tampered or truncated\n"
    "message or a context mismatch, 5 when no key of the keyring opens it.\n";

static const char peek_usage[] =
    "Usage: aios peek [--json] [IN]\n"
    "\n"
    "Show the header of a sealed message or a session file (IN, or standard\n"
    "input) without any key: type, suite, message id, encryption context, chunk\n"
    "size and the recipients (KEK provider, id and version; X25519 public keys).\n"
    "Only the header is read.  NOTHING shown is authenticated: anyone can forge\n"
    "a header; 'aios open' checks it.\n"
    "\n"
    "Options:\n"
    "  --json                    the header as one JSON document\n"
    "                            (aios_envelope_peek's, plus \"ok\": true)\n"
    "  --quiet                   nothing on stderr but errors\n";

static const char rewrap_usage[] =
    "Usage: aios rewrap --keyring PATH [--to KEY_ID[@VERSION]]... [--to-public PEMFILE]...\n"
    "                   [--remove KEY_ID@VERSION]... [--remove-public PEMFILE]...\n"
    "                   [--replace-all] (-o OUT IN | --in-place IN... | [IN])\n"
    "\n"
    "Re-encrypt only the recipient records of a sealed message or session file:\n"
    "the header is authenticated with a key of the keyring first, the payload is\n"
    "copied unread, the data key, context and every chunk stay the same.  Use it\n"
    "after 'aios key rotate' to move messages to the new version, then retire\n"
    "the old one ('aios key destroy').\n"
    "\n"
    "The new recipients: the old records, minus --remove / --remove-public\n"
    "ones, minus every other version of each --to KEK (adding version 2 of a key\n"
    "replaces version 1), plus the --to / --to-public recipients.  With\n"
    "--replace-all only the new recipients remain.  An empty result is refused.\n"
    "\n"
    KEYRING_HELP
    "\n"
    "Options:\n"
    "  --to KEY_ID[@VERSION]     add a keyring key (its primary version by default)\n"
    "  --to-public PEMFILE       add an X25519 public key\n"
    "  --remove KEY_ID[@VERSION] drop the records of that KEK version\n"
    "  --remove-public PEMFILE   drop the records of that X25519 key\n"
    "  --replace-all             drop every old record\n"
    "  --identity KEY_ID[@V]     as for 'aios open'\n"
    "  -o, --output OUT          write to OUT (temporary file, renamed on success)\n"
    "  --in-place                replace each IN atomically (temporary file beside it,\n"
    "                            renamed over it); stops at the first failure, leaving\n"
    "                            that file and the ones after it unchanged\n"
    "  -f, --force               write binary output to a terminal anyway\n"
    "  --json                    with -o or --in-place: a JSON summary on stdout\n"
    "  --quiet                   nothing on stderr but errors\n"
    "\n"
    "Without -o or --in-place the result goes to standard output.\n";

/* The header of a sealed file, as parsed peek JSON (NULL on any failure). */
static json_t *peek_file(const char *path)
{
    uint8_t *hdr = NULL;
    size_t len = 0;
    const char *why;
    aios_buffer *js = NULL;
    json_t *doc = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (env_read_header(fd, &hdr, &len, &why) == AIOS_OK &&
        aios_envelope_peek(&js, hdr, len) == AIOS_OK)
        doc = json_loadb((const char *)aios_buffer_data(js), aios_buffer_len(js), 0, NULL);
    aios_buffer_free(js);
    free(hdr);
    close(fd);
    return doc;
}

static json_int_t file_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (json_int_t)st.st_size : -1;
}

static int json_needs_file(cli_ctx *ctx, const char *verb, const char *output)
{
    if (ctx->json && (!output || !strcmp(output, "-")))
        return cli_usage_error(ctx, verb, "--json needs -o OUT: standard output carries the data");
    return -1;
}

/* ------------------------------------------------------------ seal */

static int seal_run(cli_ctx *ctx, int argc, char **argv)
{
    env_args a;
    aios_keyring *kr = NULL;
    aios_key *rcpt[2 * ENV_MAX_RECIPIENTS];
    size_t nrcpt = 0;
    env_out out;
    int in_fd = -1, rc, st;
    const char *in_path;

    memset(&out, 0, sizeof(out));
    out.fd = -1;
    rc = env_parse(ctx, &cli_cmd_seal, ENV_OPT_KEYRING | ENV_OPT_TO | ENV_OPT_CONTEXT |
                   ENV_OPT_SEAL | ENV_OPT_THREADS | ENV_OPT_OUTPUT, argc, argv, &a);
    if (rc >= 0)
        goto done;
    if (a.noperands > 1) {
        rc = cli_usage_error(ctx, "seal", "unexpected argument '%s'", a.operands[1]);
        goto done;
    }
    in_path = a.noperands ? a.operands[0] : NULL;
    if (a.nto + a.nto_public == 0) {
        rc = cli_usage_error(ctx, "seal", "no recipient: give --to KEY_ID or --to-public PEMFILE");
        goto done;
    }
    if (a.nto + a.nto_public > ENV_MAX_RECIPIENTS) {
        rc = cli_usage_error(ctx, "seal", "at most %u recipients", ENV_MAX_RECIPIENTS);
        goto done;
    }
    if (a.nto > 0 && !a.keyring) {
        rc = cli_usage_error(ctx, "seal", "--to names a keyring key: give --keyring");
        goto done;
    }
    if ((rc = json_needs_file(ctx, "seal", a.output)) >= 0)
        goto done;
    if ((rc = env_check_stdin(ctx, "seal", &a, in_path)) >= 0)
        goto done;
    if (a.keyring && (rc = env_keyring_open(ctx, "seal", &a, &kr)) != CLI_EXIT_OK)
        goto done;
    rc = env_collect_keys(ctx, "seal", kr, a.to, a.nto, a.to_public, a.nto_public, rcpt, &nrcpt);
    if (rc != CLI_EXIT_OK)
        goto done;
    if ((rc = env_open_input(ctx, "seal", &a, in_path, &in_fd)) != CLI_EXIT_OK)
        goto done;
    if ((rc = env_out_begin(ctx, "seal", &out, a.output, 0666, 1, a.force)) != CLI_EXIT_OK)
        goto done;

    aios_envelope_seal_options so = AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
    so.suite = a.suite;
    so.chunk_size = a.chunk_size;
    so.threads = a.threads;
    st = aios_envelope_seal_fd(out.fd, in_fd, rcpt, nrcpt, a.ncontext ? a.context : NULL,
                               a.ncontext, &so);
    if (st != AIOS_OK) {
        env_out_abort(&out);
        rc = cli_fail(ctx, "seal", st);
        goto done;
    }
    json_int_t bytes = out.direct ? -1 : file_size(out.fd);
    if ((rc = env_out_commit(ctx, "seal", &out)) != CLI_EXIT_OK)
        goto done;
    if (ctx->json) {
        json_t *hdr = peek_file(a.output);
        cli_print_json(json_pack("{s:b, s:s, s:s, s:I, s:i, s:o}", "ok", 1, "command", "seal",
                                 "output", a.output, "bytes", bytes, "recipients", (int)nrcpt,
                                 "header", hdr ? hdr : json_null()));
    }
    rc = CLI_EXIT_OK;
done:
    env_out_abort(&out);
    if (in_fd > STDIN_FILENO)
        close(in_fd);
    env_keys_release(rcpt, nrcpt);
    aios_keyring_free(kr);
    env_args_free(&a);
    return rc;
}

/* ------------------------------------------------------------ open */

static void open_options_from(aios_envelope_open_options *oo, const env_args *a,
                              int expect_given)
{
    static const aios_envelope_context_entry none[1] = { { NULL, NULL } };
    if (a->nexpect > 0 || expect_given) {
        oo->expected_context = a->nexpect ? a->expect : none;
        oo->expected_context_count = a->nexpect;
        oo->context_mode = a->expect_mode;
    }
    oo->threads = a->threads;
}

static int open_run(cli_ctx *ctx, int argc, char **argv)
{
    env_args a;
    aios_keyring *kr = NULL;
    aios_envelope_keys *keys = NULL;
    env_out out;
    int in_fd = -1, rc, st;

    memset(&out, 0, sizeof(out));
    out.fd = -1;
    rc = env_parse(ctx, &cli_cmd_open, ENV_OPT_KEYRING | ENV_OPT_OPEN | ENV_OPT_THREADS |
                   ENV_OPT_OUTPUT, argc, argv, &a);
    if (rc >= 0)
        goto done;
    if (a.noperands > 1) {
        rc = cli_usage_error(ctx, "open", "unexpected argument '%s'", a.operands[1]);
        goto done;
    }
    if (!a.keyring) {
        rc = cli_usage_error(ctx, "open", "give --keyring");
        goto done;
    }
    if ((rc = json_needs_file(ctx, "open", a.output)) >= 0)
        goto done;
    if ((rc = env_check_stdin(ctx, "open", &a, a.noperands ? a.operands[0] : NULL)) >= 0)
        goto done;
    if ((rc = env_keyring_open(ctx, "open", &a, &kr)) != CLI_EXIT_OK)
        goto done;
    if ((rc = env_build_keyset(ctx, "open", kr, &a, &keys)) != CLI_EXIT_OK)
        goto done;
    if ((rc = env_open_input(ctx, "open", &a, a.noperands ? a.operands[0] : NULL, &in_fd)) !=
        CLI_EXIT_OK)
        goto done;
    if ((rc = env_out_begin(ctx, "open", &out, a.output, 0600, 0, 1)) != CLI_EXIT_OK)
        goto done;

    aios_envelope_open_options oo = AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
    open_options_from(&oo, &a, a.expect_mode != AIOS_ENVELOPE_CONTEXT_ANY);
    st = aios_envelope_open_fd(out.fd, in_fd, keys, &oo);
    if (st != AIOS_OK) {
        env_out_abort(&out);      /* no plaintext left at OUT */
        rc = cli_fail(ctx, "open", st);
        goto done;
    }
    json_int_t bytes = out.direct ? -1 : file_size(out.fd);
    if ((rc = env_out_commit(ctx, "open", &out)) != CLI_EXIT_OK)
        goto done;
    if (ctx->json)
        cli_print_json(json_pack("{s:b, s:s, s:s, s:I}", "ok", 1, "command", "open",
                                 "output", a.output, "bytes", bytes));
    rc = CLI_EXIT_OK;
done:
    env_out_abort(&out);
    if (in_fd > STDIN_FILENO)
        close(in_fd);
    aios_envelope_keys_free(keys);
    aios_keyring_free(kr);
    env_args_free(&a);
    return rc;
}

/* ------------------------------------------------------------ peek */

static void print_peek_text(json_t *doc)
{
    json_t *ctxobj = json_object_get(doc, "context"), *r, *v;
    const char *k;
    size_t i;
    const char *type = json_string_value(json_object_get(doc, "type"));

    printf("type:          %s\n", type ? type : "?");
    printf("suite:         %s\n", json_string_value(json_object_get(doc, "suite")) ?
                                  json_string_value(json_object_get(doc, "suite")) : "?");
    if (json_is_true(json_object_get(doc, "deterministic")))
        printf("deterministic: yes (session allows deterministic fields)\n");
    if (json_string_value(json_object_get(doc, "message_id")))
        printf("message id:    %s\n", json_string_value(json_object_get(doc, "message_id")));
    if (json_string_value(json_object_get(doc, "session_id")))
        printf("%s%s\n", type && !strcmp(type, "session") ? "session id:    " : "commitment:    ",
               json_string_value(json_object_get(doc, "session_id")));
    if (json_integer_value(json_object_get(doc, "chunk_size")) > 0)
        printf("chunk size:    %lld\n",
               (long long)json_integer_value(json_object_get(doc, "chunk_size")));
    printf("header:        %lld bytes\n",
           (long long)json_integer_value(json_object_get(doc, "header_len")));
    if (json_object_size(ctxobj) == 0) {
        printf("context:       (empty)\n");
    } else {
        int first = 1;
        json_object_foreach(ctxobj, k, v) {
            printf("%s%s=%s\n", first ? "context:       " : "               ", k,
                   json_string_value(v) ? json_string_value(v) : "");
            first = 0;
        }
    }
    printf("recipients:    %zu\n", json_array_size(json_object_get(doc, "recipients")));
    json_array_foreach(json_object_get(doc, "recipients"), i, r) {
        const char *kind = json_string_value(json_object_get(r, "kind"));
        if (kind && !strcmp(kind, "kek")) {
            printf("  %zu: kek     %s:%s@%lld\n", i,
                   json_string_value(json_object_get(r, "provider")) ?
                       json_string_value(json_object_get(r, "provider")) : "?",
                   json_string_value(json_object_get(r, "key_id")) ?
                       json_string_value(json_object_get(r, "key_id")) : "?",
                   (long long)json_integer_value(json_object_get(r, "version")));
        } else if (kind && !strcmp(kind, "x25519")) {
            const char *label = json_string_value(json_object_get(r, "label"));
            printf("  %zu: x25519  %s%s%s\n", i,
                   json_string_value(json_object_get(r, "public_key")) ?
                       json_string_value(json_object_get(r, "public_key")) : "?",
                   label && *label ? "  label " : "", label && *label ? label : "");
        } else {
            printf("  %zu: unknown kind %lld\n", i,
                   (long long)json_integer_value(json_object_get(r, "kind")));
        }
    }
    printf("authenticated: no (peek uses no key; 'aios open' verifies)\n");
}

static int peek_run(cli_ctx *ctx, int argc, char **argv)
{
    env_args a;
    uint8_t *hdr = NULL;
    size_t len = 0;
    const char *why = NULL;
    aios_buffer *js = NULL;
    json_t *doc = NULL;
    json_error_t err;
    int in_fd = -1, rc, st;

    rc = env_parse(ctx, &cli_cmd_peek, 0, argc, argv, &a);
    if (rc >= 0)
        goto done;
    if (a.noperands > 1) {
        rc = cli_usage_error(ctx, "peek", "unexpected argument '%s'", a.operands[1]);
        goto done;
    }
    if ((rc = env_open_input(ctx, "peek", NULL, a.noperands ? a.operands[0] : NULL, &in_fd)) !=
        CLI_EXIT_OK)
        goto done;
    st = env_read_header(in_fd, &hdr, &len, &why);
    if (st != AIOS_OK) {
        rc = why ? env_fail(ctx, "peek", st, "not a sealed message or session: %s", why)
                 : cli_fail(ctx, "peek", st);
        goto done;
    }
    st = aios_envelope_peek(&js, hdr, len);
    if (st != AIOS_OK) {
        rc = cli_fail(ctx, "peek", st);
        goto done;
    }
    doc = json_loadb((const char *)aios_buffer_data(js), aios_buffer_len(js), 0, &err);
    if (!doc) {
        rc = env_fail(ctx, "peek", AIOS_E_INTERNAL, "the library's header description is not "
                      "JSON: %s", err.text);
        goto done;
    }
    if (ctx->json) {
        json_object_set_new(doc, "ok", json_true());
        cli_print_json(doc);
        doc = NULL;
    } else {
        print_peek_text(doc);
    }
    rc = CLI_EXIT_OK;
done:
    json_decref(doc);
    aios_buffer_free(js);
    free(hdr);
    if (in_fd > STDIN_FILENO)
        close(in_fd);
    env_args_free(&a);
    return rc;
}

/* ------------------------------------------------------------ rewrap */

static int rewrap_one(cli_ctx *ctx, const env_args *a, const aios_envelope_keys *keys,
                      aios_key *const *add, size_t nadd, const aios_envelope_rewrap_options *ro,
                      const char *in_path, const char *out_path, json_t *report)
{
    env_out out;
    int in_fd = -1, rc, st;

    memset(&out, 0, sizeof(out));
    out.fd = -1;
    if ((rc = env_open_input(ctx, "rewrap", a, in_path, &in_fd)) != CLI_EXIT_OK)
        return rc;
    if (a->in_place) {
        struct stat sb;
        if (fstat(in_fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            rc = env_fail(ctx, "rewrap", AIOS_E_IO, "--in-place needs regular files; %s is not "
                          "one", in_path ? in_path : "standard input");
            goto done;
        }
    }
    if ((rc = env_out_begin(ctx, "rewrap", &out, out_path, 0666, 1, a->force)) != CLI_EXIT_OK)
        goto done;
    st = aios_envelope_rewrap_fd(out.fd, in_fd, keys, add, nadd, ro);
    if (st != AIOS_OK) {
        env_out_abort(&out);
        if (in_path && a->in_place) {
            rc = env_fail(ctx, "rewrap", st, "%s: %s (left unchanged)", in_path,
                          env_lib_msg(st));
        } else {
            rc = cli_fail(ctx, "rewrap", st);
        }
        goto done;
    }
    if ((rc = env_out_commit(ctx, "rewrap", &out)) != CLI_EXIT_OK)
        goto done;
    if (report) {
        json_t *hdr = peek_file(out_path);
        json_array_append_new(report, json_pack("{s:s, s:s, s:o}", "input", in_path,
                                                "output", out_path,
                                                "header", hdr ? hdr : json_null()));
    }
    rc = CLI_EXIT_OK;
done:
    env_out_abort(&out);
    if (in_fd > STDIN_FILENO)
        close(in_fd);
    return rc;
}

static int rewrap_run(cli_ctx *ctx, int argc, char **argv)
{
    env_args a;
    aios_keyring *kr = NULL;
    aios_envelope_keys *keys = NULL;
    aios_key *add[2 * ENV_MAX_RECIPIENTS], *rm[2 * ENV_MAX_RECIPIENTS];
    size_t nadd = 0, nrm = 0;
    json_t *report = NULL;
    int rc;

    rc = env_parse(ctx, &cli_cmd_rewrap, ENV_OPT_KEYRING | ENV_OPT_TO | ENV_OPT_OPEN |
                   ENV_OPT_OUTPUT | ENV_OPT_REWRAP, argc, argv, &a);
    if (rc >= 0)
        goto done;
    if (a.nexpect) {
        rc = cli_usage_error(ctx, "rewrap", "--expect does not apply to rewrap (the context "
                             "cannot change); check it with 'aios peek'");
        goto done;
    }
    if (!a.keyring) {
        rc = cli_usage_error(ctx, "rewrap", "give --keyring (a key of it must open the header)");
        goto done;
    }
    if (a.nto + a.nto_public + a.nremove + a.nremove_public == 0) {
        rc = cli_usage_error(ctx, "rewrap", "nothing to do: give --to, --to-public, --remove "
                             "or --remove-public");
        goto done;
    }
    if (a.in_place && a.output) {
        rc = cli_usage_error(ctx, "rewrap", "give -o or --in-place, not both");
        goto done;
    }
    if (a.in_place && a.noperands == 0) {
        rc = cli_usage_error(ctx, "rewrap", "--in-place needs the files to rewrap");
        goto done;
    }
    if (!a.in_place && a.noperands > 1) {
        rc = cli_usage_error(ctx, "rewrap", "unexpected argument '%s' (several files need "
                             "--in-place)", a.operands[1]);
        goto done;
    }
    if (a.in_place) {
        for (size_t i = 0; i < a.noperands; i++)
            if (!strcmp(a.operands[i], "-")) {
                rc = cli_usage_error(ctx, "rewrap", "--in-place cannot rewrite standard input");
                goto done;
            }
    } else if ((rc = json_needs_file(ctx, "rewrap", a.output)) >= 0) {
        goto done;
    }
    if (!a.in_place && (rc = env_check_stdin(ctx, "rewrap", &a,
                                             a.noperands ? a.operands[0] : NULL)) >= 0)
        goto done;
    if ((rc = env_keyring_open(ctx, "rewrap", &a, &kr)) != CLI_EXIT_OK)
        goto done;
    if ((rc = env_build_keyset(ctx, "rewrap", kr, &a, &keys)) != CLI_EXIT_OK)
        goto done;
    rc = env_collect_keys(ctx, "rewrap", kr, a.to, a.nto, a.to_public, a.nto_public, add, &nadd);
    if (rc != CLI_EXIT_OK)
        goto done;
    rc = env_collect_keys(ctx, "rewrap", kr, a.remove, a.nremove, a.remove_public,
                          a.nremove_public, rm, &nrm);
    if (rc != CLI_EXIT_OK)
        goto done;

    aios_envelope_rewrap_options ro = AIOS_ENVELOPE_REWRAP_OPTIONS_INIT;
    ro.remove = nrm ? rm : NULL;
    ro.remove_count = nrm;
    ro.flags = a.replace_all ? AIOS_ENVELOPE_REWRAP_REPLACE_ALL : 0;
    if (ctx->json)
        report = json_array();
    if (a.in_place) {
        for (size_t i = 0; i < a.noperands; i++) {
            rc = rewrap_one(ctx, &a, keys, add, nadd, &ro, a.operands[i], a.operands[i], report);
            if (rc != CLI_EXIT_OK) {
                if (i > 0 && !ctx->quiet && !ctx->json)
                    fprintf(stderr, "%s rewrap: %zu of %zu files were rewrapped before this "
                            "failure\n", ctx->prog, i, a.noperands);
                goto done;
            }
        }
    } else {
        rc = rewrap_one(ctx, &a, keys, add, nadd, &ro, a.noperands ? a.operands[0] : NULL,
                        a.output, report);
        if (rc != CLI_EXIT_OK)
            goto done;
    }
    if (ctx->json) {
        cli_print_json(json_pack("{s:b, s:s, s:O}", "ok", 1, "command", "rewrap", "files", report));
    }
    rc = CLI_EXIT_OK;
done:
    json_decref(report);
    env_keys_release(add, nadd);
    env_keys_release(rm, nrm);
    aios_envelope_keys_free(keys);
    aios_keyring_free(kr);
    env_args_free(&a);
    return rc;
}

const cli_command cli_cmd_seal = {
    "seal", "encrypt a file or stream for keyring keys or X25519 public keys", seal_usage,
    seal_run
};
const cli_command cli_cmd_open = {
    "open", "decrypt and verify a sealed file or stream", open_usage, open_run
};
const cli_command cli_cmd_peek = {
    "peek", "show a sealed file's header without a key (unauthenticated)",
    peek_usage, peek_run
};
const cli_command cli_cmd_rewrap = {
    "rewrap", "re-encrypt a message's recipients, e.g. after a key rotation",
    rewrap_usage, rewrap_run
};
