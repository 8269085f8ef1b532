/*
 * Shared pieces of the envelope verbs (seal, open, peek, rewrap, fields):
 * keyring unlocking, recipients, key sets, contexts, input files and
 * atomic output files.  Private to the CLI.
 */
#ifndef AIOS_CLI_ENVELOPE_H
#define AIOS_CLI_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli.h"

#define ENV_MAX_RECIPIENTS AIOS_ENVELOPE_RECIPIENTS_MAX
#define ENV_MAX_CONTEXT    AIOS_ENVELOPE_CONTEXT_MAX
#define ENV_MAX_IDENTITIES 256
#define ENV_MAX_SESSIONS   64
#define ENV_MAX_POINTERS   1024

/* The options every envelope verb shares; filled by env_parse_common(). */
typedef struct env_args {
    /* unlocking */
    const char *keyring;
    const char *passphrase_file;
    int passphrase_fd;
    const char *master_key_file;
    /* recipients */
    const char *to[ENV_MAX_RECIPIENTS];
    size_t nto;
    const char *to_public[ENV_MAX_RECIPIENTS];
    size_t nto_public;
    const char *remove[ENV_MAX_RECIPIENTS];
    size_t nremove;
    const char *remove_public[ENV_MAX_RECIPIENTS];
    size_t nremove_public;
    const char *identity[ENV_MAX_IDENTITIES];
    size_t nidentity;
    /* context: --context k=v (seal) and --expect k=v (open) */
    aios_envelope_context_entry context[ENV_MAX_CONTEXT];
    size_t ncontext;
    aios_envelope_context_entry expect[ENV_MAX_CONTEXT];
    size_t nexpect;
    aios_envelope_context_mode expect_mode;
    char *copies[2 * ENV_MAX_CONTEXT];     /* strdup'ed keys, freed by env_args_free */
    size_t ncopies;
    /* tuning */
    aios_envelope_suite suite;
    uint32_t chunk_size;
    uint32_t threads;
    /* files */
    const char *output;
    int force;
    int in_place;
    int replace_all;
    /* fields */
    const char *pointers[ENV_MAX_POINTERS];
    size_t npointers;
    const char *sessions[ENV_MAX_SESSIONS];
    size_t nsessions;
    int deterministic;
    int skip_missing;
    int lines;
    const char *record_id;
    const char *record_id_pointer;
    /* operands */
    const char *operands[256];
    size_t noperands;
} env_args;

/* Option sets a verb accepts (bits for env_parse). */
enum {
    ENV_OPT_KEYRING  = 1u << 0,   /* --keyring, --passphrase-*, --master-key-file */
    ENV_OPT_TO       = 1u << 1,   /* --to, --to-public */
    ENV_OPT_CONTEXT  = 1u << 2,   /* --context */
    ENV_OPT_SEAL     = 1u << 3,   /* --suite, --chunk-size */
    ENV_OPT_THREADS  = 1u << 4,   /* --threads */
    ENV_OPT_OUTPUT   = 1u << 5,   /* -o, --force */
    ENV_OPT_OPEN     = 1u << 6,   /* --identity, --expect, --expect-mode */
    ENV_OPT_REWRAP   = 1u << 7,   /* --remove, --remove-public, --replace-all, --in-place */
    ENV_OPT_FIELDS   = 1u << 8,   /* --pointer, --session, --deterministic, --record-id... */
};

/* Parse argv (argv[0] is the verb).  Returns -1 to go on, or an exit code
 * (help shown, usage error).  Operands land in a->operands. */
int env_parse(cli_ctx *ctx, const cli_command *cmd, unsigned sets, int argc, char **argv,
              env_args *a);
void env_args_free(env_args *a);

/* Report a failure the CLI itself found (not a libaios status), in the same
 * shape as cli_fail: "aios <verb>: <message> (<STATUS>)" or JSON.  Returns
 * cli_exit(status). */
int env_fail(cli_ctx *ctx, const char *verb, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* The library's message for the last failure, or the status's text. */
const char *env_lib_msg(int status);

/* Unlock the keyring named by --keyring (read-only).  Returns an exit
 * code (CLI_EXIT_OK on success). */
int env_keyring_open(cli_ctx *ctx, const char *verb, const env_args *a, aios_keyring **kr);

/* "ID" or "ID@VERSION" (version 0: the primary). */
int env_parse_key_ref(const char *ref, char *id, size_t id_cap, uint32_t *version);

/* Handles for --to / --to-public (or --remove / --remove-public):
 * keys[0..*n), each a reference to release with env_keys_release. */
int env_collect_keys(cli_ctx *ctx, const char *verb, aios_keyring *kr,
                     const char *const *refs, size_t nrefs,
                     const char *const *pems, size_t npems,
                     aios_key **keys, size_t *n);
void env_keys_release(aios_key **keys, size_t n);

/* The key set an opener uses: the keyring as a provider (any KEK id and
 * version a message names) plus X25519 identities: the --identity keys,
 * or every X25519 key version of the keyring when none is named. */
int env_build_keyset(cli_ctx *ctx, const char *verb, aios_keyring *kr, const env_args *a,
                     aios_envelope_keys **out);

/* Input: a path, or "-"/NULL for stdin (a usage error when a's passphrase
 * comes from descriptor 0).  Returns an exit code; *fd is -1 on failure. */
int env_open_input(cli_ctx *ctx, const char *verb, const env_args *a, const char *path, int *fd);
/* A usage error (its exit code) when path means standard input and the
 * passphrase is read from descriptor 0; -1 otherwise.  Checked before the
 * keyring is unlocked. */
int env_check_stdin(cli_ctx *ctx, const char *verb, const env_args *a, const char *path);

/* Output written to a temporary file beside the target and renamed over it
 * only on commit; or straight to stdout (path NULL or "-"), or straight to
 * a non-regular file such as /dev/null. */
typedef struct env_out {
    const char *path;      /* the target (NULL: stdout) */
    char *tmp;             /* the temporary file, while one exists */
    int fd;
    int direct;            /* writing to the target itself (stdout, device) */
} env_out;

/* new_mode: permissions of a new target (an existing one keeps its own).
 * binary: refuse to write to a terminal unless a->force. */
int env_out_begin(cli_ctx *ctx, const char *verb, env_out *o, const char *path,
                  mode_t new_mode, int binary, int force);
/* fsync, rename over the target, fsync the directory. */
int env_out_commit(cli_ctx *ctx, const char *verb, env_out *o);
/* Remove the temporary file (truncated first).  Safe to call twice. */
void env_out_abort(env_out *o);
/* write(2) all of buf. */
int env_write_all(int fd, const void *buf, size_t len);

/* Read all of fd into a new malloc'ed buffer (NUL appended), at most max
 * bytes (AIOS_E_LIMIT beyond).  Returns a status; prints nothing. */
int env_read_all(int fd, size_t max, uint8_t **out, size_t *out_len);

/* Read exactly the header of a message or session from fd (never more,
 * so a pipe can be read on) into a new malloc'ed buffer, following
 * aios_envelope_header_len.  Returns a status; for failures the CLI found
 * itself (I/O, end of input) *why says what happened, else *why is NULL
 * and the library's error message applies. */
int env_read_header(int fd, uint8_t **out, size_t *out_len, const char **why);

extern const cli_command cli_cmd_seal;
extern const cli_command cli_cmd_open;
extern const cli_command cli_cmd_peek;
extern const cli_command cli_cmd_rewrap;
extern const cli_command cli_cmd_fields;

#endif /* AIOS_CLI_ENVELOPE_H */
