/*
 * aios: the libaios command-line tool.  Dispatches to one verb per file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "envelope_cli.h"

static const cli_command *const commands[] = {
    &cli_cmd_version,
    &cli_cmd_selftest,
    &cli_cmd_key,
    &cli_cmd_seal,
    &cli_cmd_open,
    &cli_cmd_peek,
    &cli_cmd_rewrap,
    &cli_cmd_fields,
    &cli_cmd_manifest,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char exit_codes_text[] =
    "Exit codes:\n"
    "  0   success\n"
    "  1   internal error, or a self-test failed\n"
    "  2   usage error (bad command line)\n"
    "  3   invalid or malformed input\n"
    "  4   authentication or verification failed\n"
    "  5   not found\n"
    "  6   denied by policy\n"
    "  7   I/O error\n"
    "  8   limit exceeded\n"
    "  9   not allowed in the current state\n"
    "  10  out of memory\n"
    "  11  a provider or hook failed, or cancelled\n";

static void print_main_help(FILE *out, const char *prog)
{
    fprintf(out,
        "Usage: %s [--json] [--quiet] <command> [options] [args]\n"
        "       %s --version | --help | help <command>\n"
        "\n"
        "libaios command-line tool: keys, envelopes, signed models, policy and audit.\n"
        "\n"
        "Commands:\n", prog, prog);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s  %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "  %-10s  %s\n", "help", "show help for a command");
    fprintf(out,
        "\n"
        "Global options:\n"
        "  --json      print one JSON document on stdout (for scripts)\n"
        "  --quiet     no progress or chatter on stderr\n"
        "  --version   print the version and exit\n"
        "  --help      print this help and exit\n"
        "\n%s", exit_codes_text);
}

int cli_exit(int status)
{
    if (status == AIOS_OK)
        return CLI_EXIT_OK;
    if (status == AIOS_E_SELFTEST)
        return CLI_EXIT_INTERNAL;
    switch (aios_status_kind(status)) {
    case AIOS_KIND_NONE:      return CLI_EXIT_OK;
    case AIOS_KIND_INVALID:   return CLI_EXIT_INVALID;
    case AIOS_KIND_AUTH:      return CLI_EXIT_AUTH;
    case AIOS_KIND_NOT_FOUND: return CLI_EXIT_NOT_FOUND;
    case AIOS_KIND_DENIED:    return CLI_EXIT_DENIED;
    case AIOS_KIND_IO:        return CLI_EXIT_IO;
    case AIOS_KIND_LIMIT:     return CLI_EXIT_LIMIT;
    case AIOS_KIND_STATE:     return CLI_EXIT_STATE;
    case AIOS_KIND_RESOURCE:  return CLI_EXIT_RESOURCE;
    case AIOS_KIND_CALLBACK:  return CLI_EXIT_CALLBACK;
    case AIOS_KIND_INTERNAL:
    case AIOS_KIND__FORCE32:  break;
    }
    return CLI_EXIT_INTERNAL;
}

void cli_print_json(json_t *doc)
{
    if (!doc) {
        fputs("{\"ok\":false,\"error\":{\"status\":\"AIOS_E_NOMEM\"}}\n", stdout);
        return;
    }
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    fputc('\n', stdout);
    json_decref(doc);
}

int cli_fail(cli_ctx *ctx, const char *verb, int status)
{
    const char *msg = aios_last_error_message();
    if (!msg[0])
        msg = aios_status_str(status);
    if (ctx->json) {
        cli_print_json(json_pack("{s:b, s:s, s:{s:s, s:i, s:s, s:s}}",
            "ok", 0, "command", verb, "error",
            "status", aios_status_name(status), "code", status,
            "kind", aios_error_kind_name(aios_status_kind(status)), "message", msg));
    } else {
        fprintf(stderr, "%s %s: %s (%s)\n", ctx->prog, verb, msg, aios_status_name(status));
    }
    return cli_exit(status);
}

int cli_usage_error(cli_ctx *ctx, const char *verb, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (ctx->json)
        cli_print_json(json_pack("{s:b, s:s, s:{s:s, s:s}}", "ok", 0, "command",
                                 verb ? verb : "", "error", "status", "usage", "message", buf));
    else
        fprintf(stderr, "%s%s%s: %s\nTry '%s %s%s--help'.\n", ctx->prog, verb ? " " : "",
                verb ? verb : "", buf, ctx->prog, verb ? verb : "", verb ? " " : "");
    return CLI_EXIT_USAGE;
}

int cli_parse_common(cli_ctx *ctx, const cli_command *cmd, int argc, char **argv,
                     int *optind_out)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "--json") == 0) {
            ctx->json = 1;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            ctx->quiet = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(cmd->usage, stdout);
            return CLI_EXIT_OK;
        } else {
            return cli_usage_error(ctx, cmd->name, "unknown option '%s'", a);
        }
    }
    *optind_out = i;
    return -1;
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    cli_ctx ctx = { 0, 0, "aios" };
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            ctx.json = 1;
        } else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            ctx.quiet = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_main_help(stdout, ctx.prog);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("aios %s\n", aios_version_string());
            return CLI_EXIT_OK;
        } else {
            return cli_usage_error(&ctx, NULL, "unknown option '%s'", argv[i]);
        }
    }
    if (i == argc) {
        print_main_help(stderr, ctx.prog);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        const cli_command *cmd;
        if (i + 1 == argc) {
            print_main_help(stdout, ctx.prog);
            return CLI_EXIT_OK;
        }
        cmd = find_command(argv[i + 1]);
        if (!cmd)
            return cli_usage_error(&ctx, NULL, "unknown command '%s'", argv[i + 1]);
        fputs(cmd->usage, stdout);
        return CLI_EXIT_OK;
    }
    const cli_command *cmd = find_command(argv[i]);
    if (!cmd)
        return cli_usage_error(&ctx, NULL, "unknown command '%s'", argv[i]);
    return cmd->run(&ctx, argc - i, argv + i);
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}
