/*
 * The aios command-line tool: shared declarations.
 *
 * Each verb lives in its own cmd_<verb>.c and is listed in the table in
 * main.c.  A verb parses its own options, prints human text by default or
 * one JSON document with --json, and returns an exit code from cli_exit().
 * No verb ever prints key bytes, plaintext, passphrases or PINs.
 */
#ifndef AIOS_CLI_H
#define AIOS_CLI_H

#include <stdio.h>

#include <jansson.h>

#include "aios/aios.h"

/* Exit codes (docs/CLI.md).  One per error kind, so scripts can branch
 * without parsing text. */
enum {
    CLI_EXIT_OK        = 0,
    CLI_EXIT_INTERNAL  = 1,   /* internal error, or a self-test failed */
    CLI_EXIT_USAGE     = 2,   /* bad command line */
    CLI_EXIT_INVALID   = 3,   /* invalid or malformed input */
    CLI_EXIT_AUTH      = 4,   /* authentication or verification failed */
    CLI_EXIT_NOT_FOUND = 5,
    CLI_EXIT_DENIED    = 6,   /* denied by policy */
    CLI_EXIT_IO        = 7,
    CLI_EXIT_LIMIT     = 8,
    CLI_EXIT_STATE     = 9,
    CLI_EXIT_RESOURCE  = 10,  /* out of memory */
    CLI_EXIT_CALLBACK  = 11   /* a provider or hook failed, or cancelled */
};

typedef struct cli_ctx {
    int json;       /* --json: one JSON document on stdout */
    int quiet;      /* --quiet: no progress or chatter on stderr */
    const char *prog;
} cli_ctx;

typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;      /* full --help text */
    int (*run)(cli_ctx *ctx, int argc, char **argv);
} cli_command;

/* The exit code for a libaios status. */
int cli_exit(int status);

/* Report a libaios failure: on stderr as "aios <verb>: <message>", or as a
 * JSON error object on stdout with --json.  Returns the exit code. */
int cli_fail(cli_ctx *ctx, const char *verb, int status);
/* The same with the caller's message (printed escaped). */
int cli_fail_msg(cli_ctx *ctx, const char *verb, int status, const char *msg);
/* Report a usage error and return CLI_EXIT_USAGE. */
/* A decimal unsigned 64-bit number, nothing else (no sign, space or
 * suffix): 0, or -1 if s is not one. */
int cli_parse_u64(const char *s, uint64_t *out);
int cli_usage_error(cli_ctx *ctx, const char *verb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Text that a model, a signature, the library or the command line chose
 * (file names, subjects, error messages), made safe to print for a person:
 * C0 controls, DEL, C1 controls (U+0080..U+009F), the Unicode line and
 * paragraph separators and bidirectional controls, and bytes that are not
 * UTF-8 become visible escapes (\n, \r, \t, \x1b, \u0085, \u202e, \xff),
 * so that a name can neither start a line of its own (forging a line of a
 * diff) nor send escape sequences to the terminal.  Other characters,
 * UTF-8 included, are kept; a backslash is not escaped, so the text is for
 * reading, not for parsing back (the --json output is exact).
 *
 * cli_text writes into buf (cap > 0; always NUL-terminated: what does not
 * fit is cut at a character or escape and ends in "...") and returns buf.
 * CLI_TEXT_CAP holds any path of a model (4096 bytes, escaped). */
#define CLI_TEXT_CAP (4 * 4096 + 8)
char *cli_text(char *buf, size_t cap, const char *s);
/* The same, written to f, whatever its length. */
void cli_put_text(FILE *f, const char *s);
/* s as a JSON string: s itself when it is UTF-8 (JSON escapes its
 * controls), else with each byte that is not UTF-8 written as \xNN text
 * (a JSON string cannot hold such bytes).  NULL only without memory. */
json_t *cli_json_text(const char *s);

/* Print a JSON document (steals the reference) followed by a newline. */
void cli_print_json(json_t *doc);

/* Parse the common options of a verb (--json, --quiet, --help).  Returns
 * -1 to continue, or an exit code when the verb must stop (help shown or
 * a usage error).  On return argv[*optind_out..argc) are the operands. */
int cli_parse_common(cli_ctx *ctx, const cli_command *cmd, int argc, char **argv,
                     int *optind_out);

/* Secrets (secret_input.c): into a new secure buffer, never echoed. */
int cli_read_secret_file(const char *path, aios_buffer **out, const char *what);
/* The same for binary secrets (raw keys, master keys): every byte kept. */
int cli_read_key_file(const char *path, aios_buffer **out, const char *what);
int cli_read_secret_fd(int fd, aios_buffer **out, const char *what);
int cli_read_secret_tty(const char *prompt, aios_buffer **out);

extern const cli_command cli_cmd_version;
extern const cli_command cli_cmd_selftest;
extern const cli_command cli_cmd_key;
extern const cli_command cli_cmd_manifest;

#endif /* AIOS_CLI_H */
