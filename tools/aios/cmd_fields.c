/*
 * aios fields encrypt / decrypt: field-level encryption of JSON documents
 * (aios_envelope_fields_*, docs/FORMAT.md section 11) under a session
 * whose header is kept in a file of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envelope_cli.h"

#define FIELDS_INPUT_MAX ((size_t)256 << 20)

static const char usage[] =
    "Usage: aios fields encrypt --session FILE --pointer PTR... [--to KEY_ID[@V]]...\n"
    "                           [--to-public PEMFILE]... [--deterministic]\n"
    "                           [--record-id ID | --record-id-pointer PTR] [--lines]\n"
    "                           [--context KEY=VALUE]... [--suite S] [--skip-missing]\n"
    "                           [--keyring PATH] [-o OUT] [IN]\n"
    "       aios fields decrypt --keyring PATH --session FILE... [--lines]\n"
    "                           [--record-id ID | --record-id-pointer PTR]\n"
    "                           [--expect KEY=VALUE]... [--expect-mode M] [-o OUT] [IN]\n"
    "\n"
    "Encrypt chosen values of JSON documents, named by RFC 6901 pointers, in\n"
    "place: each becomes a string \"aios:f1:...\", the rest stays readable.\n"
    "Strings, integers, true, false and null come back with their type.\n"
    "\n"
    "Fields are sealed under a session: one data key, wrapped once for the\n"
    "recipients, whose header lives in the session file (--session FILE; not\n"
    "secret, 'aios peek FILE' shows it).  Keep it beside the documents: without\n"
    "it they cannot be decrypted.\n"
    "\n"
    "encrypt: when FILE does not exist, a new session is made for the --to /\n"
    "  --to-public recipients and its header written to FILE (never over an\n"
    "  existing file).  When FILE exists it is opened with the keyring (--to is\n"
    "  then not used) and --deterministic fields continue its session, so equal\n"
    "  values stay equal across runs.  Random-mode fields are sealed only by the\n"
    "  run that created the session (libaios: readers do not write): use a new\n"
    "  session file, or encrypt all the documents in one run with --lines.\n"
    "decrypt: every \"aios:f1:\" string of the documents is decrypted with the\n"
    "  sessions of the --session files (repeatable; each field names its own).\n"
    "\n"
    "Options:\n"
    "  --session FILE            the session header file (see above)\n"
    "  --pointer PTR             encrypt: the value at PTR, e.g. /patient/name\n"
    "                            (repeatable); a missing one is an error unless\n"
    "                            --skip-missing\n"
    "  --deterministic           encrypt: equal values at the same pointer (and record\n"
    "                            id) give equal strings, within one session, so fields\n"
    "                            can be joined or searched for equality.  This REVEALS\n"
    "                            WHICH VALUES ARE EQUAL (and how often each occurs) to\n"
    "                            anyone who reads the documents.  A new session file is\n"
    "                            then made to allow deterministic fields.\n"
    "  --record-id ID            bind every field to this record id (e.g. the row's\n"
    "                            primary key): the field cannot be moved to another\n"
    "                            document; give the same id to decrypt\n"
    "  --record-id-pointer PTR   take each document's record id from its own value at\n"
    "                            PTR (a string or integer left unencrypted)\n"
    "  --lines                   the input is JSON Lines: one document per line,\n"
    "                            written back one per line (all under one session)\n"
    "  --context KEY=VALUE       a new session's encryption context (repeatable)\n"
    "  --suite S                 a new session's suite: auto, aes256gcm,\n"
    "                            xchacha20poly1305, portable\n"
    "  --expect KEY=VALUE        decrypt: require this context entry of every session\n"
    "  --expect-mode M           exact (default) or subset, as for 'aios open'\n"
    "  --to, --to-public         a new session's recipients, as for 'aios seal'\n"
    "  -o, --output OUT          write to OUT (temporary file renamed on success; mode\n"
    "                            0600 for a new file); default standard output\n"
    "  --json                    with -o: a JSON summary on stdout\n"
    "\n"
    "Keyring options: --keyring PATH, --passphrase-file F, --passphrase-fd N,\n"
    "--master-key-file F (as for 'aios seal').\n"
    "\n"
    "Example:\n"
    "  aios fields encrypt --keyring ring --passphrase-file pass --to pii-kek \\\n"
    "       --session patients.aioss --pointer /name --pointer /ssn --lines \\\n"
    "       --record-id-pointer /id -o out.jsonl patients.jsonl\n"
    "  aios fields decrypt --keyring ring --passphrase-file pass \\\n"
    "       --session patients.aioss --record-id-pointer /id out.jsonl\n";

/* ------------------------------------------------------------ pointers */

/* RFC 6901: the value at ptr in root, or NULL. */
static json_t *resolve_pointer(json_t *root, const char *ptr)
{
    json_t *cur = root;
    char tok[1025];
    if (*ptr == '\0')
        return root;
    if (*ptr != '/')
        return NULL;
    while (cur && *ptr == '/') {
        size_t n = 0;
        ptr++;
        while (*ptr && *ptr != '/') {
            char c = *ptr++;
            if (c == '~') {
                if (*ptr == '0')
                    c = '~';
                else if (*ptr == '1')
                    c = '/';
                else
                    return NULL;
                ptr++;
            }
            if (n == sizeof(tok) - 1)
                return NULL;
            tok[n++] = c;
        }
        tok[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long idx;
            if (n == 0 || (n > 1 && tok[0] == '0') || tok[0] < '0' || tok[0] > '9')
                return NULL;
            errno = 0;
            idx = strtoul(tok, &end, 10);
            if (errno || *end)
                return NULL;
            cur = json_array_get(cur, idx);
        } else {
            return NULL;
        }
    }
    return cur;
}

/* The record id of one document: --record-id, or the value at
 * --record-id-pointer (a string's bytes, an integer's decimal text). */
static int record_id_of(cli_ctx *ctx, const char *verb, const env_args *a, const char *doc,
                        size_t len, size_t docno, char *rid, size_t rid_cap, size_t *rid_len)
{
    json_error_t err;
    json_t *root, *v;
    *rid_len = 0;
    if (a->record_id) {
        size_t n = strlen(a->record_id);
        if (n > 256)
            return cli_usage_error(ctx, verb, "--record-id is at most 256 bytes");
        memcpy(rid, a->record_id, n);
        *rid_len = n;
        return CLI_EXIT_OK;
    }
    if (!a->record_id_pointer)
        return CLI_EXIT_OK;
    root = json_loadb(doc, len, JSON_DECODE_ANY, &err);
    if (!root)
        return env_fail(ctx, verb, AIOS_E_FORMAT, "document %zu is not JSON: %s (line %d)",
                        docno, err.text, err.line);
    v = resolve_pointer(root, a->record_id_pointer);
    if (json_is_string(v) && strncmp(json_string_value(v), "aios:f1:", 8) != 0 &&
        json_string_length(v) <= rid_cap) {
        *rid_len = json_string_length(v);
        memcpy(rid, json_string_value(v), *rid_len);
    } else if (json_is_integer(v)) {
        *rid_len = (size_t)snprintf(rid, rid_cap, "%lld", (long long)json_integer_value(v));
    } else {
        json_decref(root);
        return env_fail(ctx, verb, !v ? AIOS_E_NOT_FOUND : AIOS_E_INVALID_ARGUMENT,
                        "document %zu: the record id at %s is %s", docno, a->record_id_pointer,
                        !v ? "missing" : json_is_string(v) && json_string_length(v) > rid_cap ?
                        "longer than 256 bytes" : json_is_string(v) ? "encrypted (leave it "
                        "in the clear)" : "not a string or an integer");
    }
    json_decref(root);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ session files */

static int read_file(const char *path, uint8_t **out, size_t *len, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
    if (fd < 0)
        return AIOS_E_IO;
    rc = env_read_all(fd, max, out, len);
    close(fd);
    return rc;
}

static int session_open_file(cli_ctx *ctx, const char *verb, const char *path,
                             const aios_envelope_keys *keys, const aios_envelope_open_options *oo,
                             aios_envelope_session **out)
{
    uint8_t *hdr = NULL;
    size_t len = 0;
    int st = read_file(path, &hdr, &len, AIOS_ENVELOPE_HEADER_MAX + 1);
    if (st != AIOS_OK)
        return env_fail(ctx, verb, st, "cannot read the session file %s: %s", path,
                        st == AIOS_E_LIMIT ? "too large for a session header" : strerror(errno));
    st = aios_envelope_session_open(out, keys, hdr, len, oo);
    free(hdr);
    if (st != AIOS_OK)
        return env_fail(ctx, verb, st, "session %s: %s", path, env_lib_msg(st));
    return CLI_EXIT_OK;
}

/* Write a new session file: temporary file, fsync, then link() so an
 * existing file is never replaced. */
static int session_write_file(cli_ctx *ctx, const char *verb, const char *path,
                              const uint8_t *hdr, size_t len)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    char *tmp = malloc(strlen(path) + 32), *dir;
    int fd, e, rc;
    mode_t mask;

    if (!tmp)
        return env_fail(ctx, verb, AIOS_E_NOMEM, "out of memory");
    memcpy(tmp, path, dirlen);
    sprintf(tmp + dirlen, ".%s.aios-XXXXXX", slash ? slash + 1 : path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        free(tmp);
        return env_fail(ctx, verb, AIOS_E_IO, "cannot create the session file %s: %s", path,
                        strerror(e));
    }
    mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0 || env_write_all(fd, hdr, len) != 0 || fsync(fd) != 0) {
        e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return env_fail(ctx, verb, AIOS_E_IO, "cannot write the session file %s: %s", path,
                        strerror(e));
    }
    close(fd);
    rc = link(tmp, path);
    e = errno;
    unlink(tmp);
    free(tmp);
    if (rc != 0)
        return env_fail(ctx, verb, e == EEXIST ? AIOS_E_STATE : AIOS_E_IO,
                        "cannot create the session file %s: %s", path, strerror(e));
    dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (dir) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    return CLI_EXIT_OK;
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char buf[2 * 64 + 1];
    static const char digits[] = "0123456789abcdef";
    if (!p || n > 64)
        return json_null();
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = digits[p[i] >> 4];
        buf[2 * i + 1] = digits[p[i] & 15];
    }
    buf[2 * n] = '\0';
    return json_string(buf);
}

/* ------------------------------------------------------------ documents */

/* The documents of the input: the whole of it, or (--lines) each line that
 * is not blank.  Calls fn for each; stops at its first failure. */
typedef int (*doc_fn)(void *payload, const char *doc, size_t len, size_t docno);

static int is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return 0;
    return 1;
}

static int for_each_doc(const char *buf, size_t len, int lines, doc_fn fn, void *payload,
                        size_t *count)
{
    size_t docno = 0;
    int rc;
    *count = 0;
    if (!lines) {
        *count = 1;
        return fn(payload, buf, len, 1);
    }
    while (len > 0) {
        const char *nl = memchr(buf, '\n', len);
        size_t n = nl ? (size_t)(nl - buf) : len;
        if (!is_blank(buf, n)) {
            docno++;
            if ((rc = fn(payload, buf, n, docno)) != CLI_EXIT_OK)
                return rc;
            *count = docno;
        }
        buf += n;
        len -= n;
        if (nl) {
            buf++;
            len--;
        }
    }
    return CLI_EXIT_OK;
}

typedef struct fields_job {
    cli_ctx *ctx;
    const char *verb;
    const env_args *a;
    env_out *out;
    aios_envelope_session *session;              /* encrypt */
    aios_envelope_session *const *sessions;      /* decrypt */
    size_t nsessions;
} fields_job;

static int write_doc(fields_job *j, const uint8_t *p, size_t n)
{
    int need_nl = n == 0 || p[n - 1] != '\n';
    if (j->a->lines) {
        /* One document per line: the library writes compact JSON; a
         * newline inside would break the line structure. */
        while (n > 0 && p[n - 1] == '\n')
            n--;
        if (memchr(p, '\n', n))
            return env_fail(j->ctx, j->verb, AIOS_E_INTERNAL, "a document came back on "
                            "several lines; --lines cannot keep it on one");
        need_nl = 1;
    }
    if (env_write_all(j->out->fd, p, n) != 0 || (need_nl && env_write_all(j->out->fd, "\n", 1)))
        return env_fail(j->ctx, j->verb, AIOS_E_IO, "cannot write %s: %s",
                        j->out->path ? j->out->path : "standard output", strerror(errno));
    return CLI_EXIT_OK;
}

static int encrypt_doc(void *payload, const char *doc, size_t len, size_t docno)
{
    fields_job *j = payload;
    aios_envelope_fields_options fo = AIOS_ENVELOPE_FIELDS_OPTIONS_INIT;
    aios_buffer *res = NULL;
    char rid[257];
    size_t rid_len;
    int rc, st;

    rc = record_id_of(j->ctx, j->verb, j->a, doc, len, docno, rid, sizeof(rid) - 1, &rid_len);
    if (rc != CLI_EXIT_OK)
        return rc;
    fo.flags = (j->a->deterministic ? AIOS_ENVELOPE_FIELDS_DETERMINISTIC : 0) |
               (j->a->skip_missing ? AIOS_ENVELOPE_FIELDS_SKIP_MISSING : 0);
    fo.record_id = (j->a->record_id || j->a->record_id_pointer) ? (const uint8_t *)rid : NULL;
    fo.record_id_len = rid_len;
    st = aios_envelope_fields_encrypt(&res, j->session, doc, len, j->a->pointers,
                                      j->a->npointers, &fo);
    aios_wipe(rid, sizeof(rid));
    if (st != AIOS_OK) {
        if (st == AIOS_E_STATE)
            return env_fail(j->ctx, j->verb, st, "%s (random-mode fields are sealed only by "
                            "the run that created the session: use a new --session file, or "
                            "encrypt the documents in one run with --lines; --deterministic "
                            "fields may continue an existing deterministic session)",
                            env_lib_msg(st));
        return j->a->lines ? env_fail(j->ctx, j->verb, st, "document %zu: %s", docno,
                                      env_lib_msg(st))
                           : cli_fail(j->ctx, j->verb, st);
    }
    rc = write_doc(j, aios_buffer_data(res), aios_buffer_len(res));
    aios_buffer_free(res);
    return rc;
}

static int decrypt_doc(void *payload, const char *doc, size_t len, size_t docno)
{
    fields_job *j = payload;
    aios_envelope_fields_options fo = AIOS_ENVELOPE_FIELDS_OPTIONS_INIT;
    aios_buffer *res = NULL;
    char rid[257];
    size_t rid_len;
    int rc, st;

    rc = record_id_of(j->ctx, j->verb, j->a, doc, len, docno, rid, sizeof(rid) - 1, &rid_len);
    if (rc != CLI_EXIT_OK)
        return rc;
    fo.record_id = (j->a->record_id || j->a->record_id_pointer) ? (const uint8_t *)rid : NULL;
    fo.record_id_len = rid_len;
    st = aios_envelope_fields_decrypt(&res, j->sessions, j->nsessions, doc, len, &fo);
    if (st != AIOS_OK)
        return j->a->lines ? env_fail(j->ctx, j->verb, st, "document %zu: %s", docno,
                                      env_lib_msg(st))
                           : cli_fail(j->ctx, j->verb, st);
    rc = write_doc(j, aios_buffer_data(res), aios_buffer_len(res));
    aios_buffer_free(res);      /* secure: wiped */
    return rc;
}

/* ------------------------------------------------------------ verbs */

static int fields_encrypt(cli_ctx *ctx, env_args *a, const char *in_path)
{
    const char *verb = "fields encrypt";
    const char *spath = a->sessions[0];
    aios_keyring *kr = NULL;
    aios_envelope_keys *keys = NULL;
    aios_envelope_session *session = NULL;
    aios_key *rcpt[2 * ENV_MAX_RECIPIENTS];
    size_t nrcpt = 0, ndocs = 0, inlen = 0;
    uint8_t *input = NULL;
    int created = 0, in_fd = -1, rc, st;
    struct stat sb;
    env_out out;
    fields_job job;

    memset(&out, 0, sizeof(out));
    out.fd = -1;
    if (a->npointers == 0) {
        rc = cli_usage_error(ctx, verb, "give at least one --pointer");
        goto done;
    }
    if (stat(spath, &sb) == 0) {
        /* Continue an existing session. */
        if (!a->keyring) {
            rc = cli_usage_error(ctx, verb, "the session file %s exists: give --keyring to "
                                 "open it (or name a new file)", spath);
            goto done;
        }
        if ((rc = env_keyring_open(ctx, verb, a, &kr)) != CLI_EXIT_OK)
            goto done;
        if ((rc = env_build_keyset(ctx, verb, kr, a, &keys)) != CLI_EXIT_OK)
            goto done;
        if ((rc = session_open_file(ctx, verb, spath, keys, NULL, &session)) != CLI_EXIT_OK)
            goto done;
    } else if (errno != ENOENT) {
        rc = env_fail(ctx, verb, AIOS_E_IO, "cannot read the session file %s: %s", spath,
                      strerror(errno));
        goto done;
    } else {
        aios_envelope_session_options so = AIOS_ENVELOPE_SESSION_OPTIONS_INIT;
        if (a->nto + a->nto_public == 0) {
            rc = cli_usage_error(ctx, verb, "%s does not exist: give --to or --to-public for "
                                 "a new session", spath);
            goto done;
        }
        if (a->nto > 0 && !a->keyring) {
            rc = cli_usage_error(ctx, verb, "--to names a keyring key: give --keyring");
            goto done;
        }
        if (a->keyring && (rc = env_keyring_open(ctx, verb, a, &kr)) != CLI_EXIT_OK)
            goto done;
        rc = env_collect_keys(ctx, verb, kr, a->to, a->nto, a->to_public, a->nto_public,
                              rcpt, &nrcpt);
        if (rc != CLI_EXIT_OK)
            goto done;
        so.suite = a->suite;
        so.flags = a->deterministic ? AIOS_ENVELOPE_SESSION_DETERMINISTIC : 0;
        st = aios_envelope_session_new(&session, rcpt, nrcpt, a->ncontext ? a->context : NULL,
                                       a->ncontext, &so);
        if (st != AIOS_OK) {
            rc = cli_fail(ctx, verb, st);
            goto done;
        }
        size_t hlen = 0;
        const uint8_t *hdr = aios_envelope_session_header(session, &hlen);
        if ((rc = session_write_file(ctx, verb, spath, hdr, hlen)) != CLI_EXIT_OK)
            goto done;
        created = 1;
    }

    if ((rc = env_open_input(ctx, verb, a, in_path, &in_fd)) != CLI_EXIT_OK)
        goto done;
    st = env_read_all(in_fd, FIELDS_INPUT_MAX, &input, &inlen);
    if (st != AIOS_OK) {
        rc = env_fail(ctx, verb, st, "cannot read the input: %s",
                      st == AIOS_E_LIMIT ? "larger than 256 MiB" : strerror(errno));
        goto done;
    }
    if ((rc = env_out_begin(ctx, verb, &out, a->output, 0600, 0, 1)) != CLI_EXIT_OK)
        goto done;
    job = (fields_job){ ctx, verb, a, &out, session, NULL, 0 };
    rc = for_each_doc((const char *)input, inlen, a->lines, encrypt_doc, &job, &ndocs);
    if (rc != CLI_EXIT_OK)
        goto done;
    if ((rc = env_out_commit(ctx, verb, &out)) != CLI_EXIT_OK)
        goto done;
    if (ctx->json)
        cli_print_json(json_pack("{s:b, s:s, s:s, s:I, s:{s:s, s:b, s:o}}", "ok", 1,
                                 "command", verb, "output", a->output, "documents",
                                 (json_int_t)ndocs, "session", "path", spath, "created", created,
                                 "session_id", hex_json(aios_envelope_session_id(session),
                                                        AIOS_ENVELOPE_SESSION_ID_LEN)));
    created = 0;    /* keep the new session file */
    rc = CLI_EXIT_OK;
done:
    env_out_abort(&out);
    if (created)
        unlink(spath);      /* nothing was encrypted under it */
    if (input) {
        aios_wipe(input, inlen);
        free(input);
    }
    if (in_fd > STDIN_FILENO)
        close(in_fd);
    aios_envelope_session_unref(session);
    env_keys_release(rcpt, nrcpt);
    aios_envelope_keys_free(keys);
    aios_keyring_free(kr);
    return rc;
}

static int fields_decrypt(cli_ctx *ctx, env_args *a, const char *in_path)
{
    const char *verb = "fields decrypt";
    aios_keyring *kr = NULL;
    aios_envelope_keys *keys = NULL;
    aios_envelope_session *sessions[ENV_MAX_SESSIONS];
    size_t nsessions = 0, ndocs = 0, inlen = 0;
    uint8_t *input = NULL;
    int in_fd = -1, rc, st;
    env_out out;
    fields_job job;
    static const aios_envelope_context_entry none[1] = { { NULL, NULL } };

    memset(&out, 0, sizeof(out));
    out.fd = -1;
    if (a->npointers || a->deterministic || a->skip_missing || a->nto || a->nto_public ||
        a->ncontext) {
        rc = cli_usage_error(ctx, verb, "decrypt takes no --pointer, --deterministic, "
                             "--skip-missing, --to, --to-public or --context: it decrypts "
                             "every \"aios:f1:\" field");
        goto done;
    }
    if (!a->keyring) {
        rc = cli_usage_error(ctx, verb, "give --keyring");
        goto done;
    }
    if ((rc = env_keyring_open(ctx, verb, a, &kr)) != CLI_EXIT_OK)
        goto done;
    if ((rc = env_build_keyset(ctx, verb, kr, a, &keys)) != CLI_EXIT_OK)
        goto done;
    aios_envelope_open_options oo = AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
    if (a->expect_mode != AIOS_ENVELOPE_CONTEXT_ANY) {
        oo.expected_context = a->nexpect ? a->expect : none;
        oo.expected_context_count = a->nexpect;
        oo.context_mode = a->expect_mode;
    }
    for (size_t i = 0; i < a->nsessions; i++) {
        rc = session_open_file(ctx, verb, a->sessions[i], keys, &oo, &sessions[nsessions]);
        if (rc != CLI_EXIT_OK)
            goto done;
        nsessions++;
    }
    if ((rc = env_open_input(ctx, verb, a, in_path, &in_fd)) != CLI_EXIT_OK)
        goto done;
    st = env_read_all(in_fd, FIELDS_INPUT_MAX, &input, &inlen);
    if (st != AIOS_OK) {
        rc = env_fail(ctx, verb, st, "cannot read the input: %s",
                      st == AIOS_E_LIMIT ? "larger than 256 MiB" : strerror(errno));
        goto done;
    }
    if ((rc = env_out_begin(ctx, verb, &out, a->output, 0600, 0, 1)) != CLI_EXIT_OK)
        goto done;
    job = (fields_job){ ctx, verb, a, &out, NULL, sessions, nsessions };
    rc = for_each_doc((const char *)input, inlen, a->lines, decrypt_doc, &job, &ndocs);
    if (rc != CLI_EXIT_OK)
        goto done;
    if ((rc = env_out_commit(ctx, verb, &out)) != CLI_EXIT_OK)
        goto done;
    if (ctx->json)
        cli_print_json(json_pack("{s:b, s:s, s:s, s:I}", "ok", 1, "command", verb,
                                 "output", a->output, "documents", (json_int_t)ndocs));
    rc = CLI_EXIT_OK;
done:
    env_out_abort(&out);
    if (input) {
        aios_wipe(input, inlen);
        free(input);
    }
    if (in_fd > STDIN_FILENO)
        close(in_fd);
    for (size_t i = 0; i < nsessions; i++)
        aios_envelope_session_unref(sessions[i]);
    aios_envelope_keys_free(keys);
    aios_keyring_free(kr);
    return rc;
}

static int run(cli_ctx *ctx, int argc, char **argv)
{
    env_args a;
    const char *action;
    int rc;

    rc = env_parse(ctx, &cli_cmd_fields, ENV_OPT_KEYRING | ENV_OPT_TO | ENV_OPT_CONTEXT |
                   ENV_OPT_SEAL | ENV_OPT_OUTPUT | ENV_OPT_OPEN | ENV_OPT_FIELDS, argc, argv, &a);
    if (rc >= 0)
        goto done;
    if (a.noperands == 0) {
        rc = cli_usage_error(ctx, "fields", "need an action: encrypt or decrypt");
        goto done;
    }
    action = a.operands[0];
    if (strcmp(action, "encrypt") != 0 && strcmp(action, "decrypt") != 0) {
        rc = cli_usage_error(ctx, "fields", "unknown action '%s' (encrypt or decrypt)", action);
        goto done;
    }
    if (a.noperands > 2) {
        rc = cli_usage_error(ctx, "fields", "unexpected argument '%s'", a.operands[2]);
        goto done;
    }
    if (a.nsessions == 0) {
        rc = cli_usage_error(ctx, "fields", "give --session FILE (the session header file)");
        goto done;
    }
    if (a.chunk_size) {
        rc = cli_usage_error(ctx, "fields", "--chunk-size does not apply to fields");
        goto done;
    }
    if (ctx->json && (!a.output || !strcmp(a.output, "-"))) {
        rc = cli_usage_error(ctx, "fields", "--json needs -o OUT: standard output carries the "
                             "documents");
        goto done;
    }
    if ((rc = env_check_stdin(ctx, "fields", &a, a.noperands > 1 ? a.operands[1] : NULL)) >= 0)
        goto done;
    if (!strcmp(action, "encrypt")) {
        if (a.nsessions > 1) {
            rc = cli_usage_error(ctx, "fields", "encrypt takes one --session");
            goto done;
        }
        if (a.nexpect) {
            rc = cli_usage_error(ctx, "fields", "--expect is for decrypt");
            goto done;
        }
        rc = fields_encrypt(ctx, &a, a.noperands > 1 ? a.operands[1] : NULL);
    } else {
        rc = fields_decrypt(ctx, &a, a.noperands > 1 ? a.operands[1] : NULL);
    }
done:
    env_args_free(&a);
    return rc;
}

const cli_command cli_cmd_fields = {
    "fields", "encrypt and decrypt chosen fields of JSON documents", usage, run
};
