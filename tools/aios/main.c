/*
 * aios: the libaios command-line tool.  Dispatches to one verb per file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
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

/* ------------------------------------------------------------ text */

/* The length of the UTF-8 character at s (1..4), its code point in *cp, or
 * 0 when s does not start a well-formed one (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF). */
static size_t utf8_char(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n, i;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2; v = c & 0x1fu; min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3; v = c & 0x0fu; min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4; v = c & 0x07u; min = 0x10000;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)      /* also stops at the NUL */
            return 0;
        v = (v << 6) | (s[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* One unit of s: the bytes it takes (at least 1), and in esc the escape to
 * print instead (esc[0] == 0: print the bytes as they are). */
static size_t text_unit(const char *s, char esc[8])
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp = 0;
    size_t n = utf8_char(u, &cp);

    esc[0] = '\0';
    if (n == 0) {                                       /* not UTF-8 */
        snprintf(esc, 8, "\\x%c%c", digits[u[0] >> 4], digits[u[0] & 15]);
        return 1;
    }
    if (cp == '\n')
        memcpy(esc, "\\n", 3);
    else if (cp == '\r')
        memcpy(esc, "\\r", 3);
    else if (cp == '\t')
        memcpy(esc, "\\t", 3);
    else if (cp < 0x20 || cp == 0x7f)
        snprintf(esc, 8, "\\x%c%c", digits[cp >> 4], digits[cp & 15]);
    else if ((cp >= 0x80 && cp <= 0x9f) ||              /* C1 controls */
             cp == 0x200e || cp == 0x200f ||            /* LRM, RLM */
             (cp >= 0x2028 && cp <= 0x202e) ||          /* LS, PS, LRE..RLO */
             (cp >= 0x2066 && cp <= 0x2069))            /* LRI..PDI */
        snprintf(esc, 8, "\\u%04x", (unsigned)(cp & 0xffffu));
    return n;
}

char *cli_text(char *buf, size_t cap, const char *s)
{
    size_t o = 0, need = 0, room;
    const char *p;
    char esc[8];

    if (cap == 0)
        return buf;
    for (p = s; p && *p;) {                 /* the whole text's length */
        size_t n = text_unit(p, esc);
        need += esc[0] ? strlen(esc) : n;
        p += n;
    }
    /* too long: whole units up to room, then "..." */
    room = need < cap ? cap - 1 : (cap > 4 ? cap - 4 : 0);
    for (p = s; p && *p;) {
        size_t n = text_unit(p, esc);
        size_t len = esc[0] ? strlen(esc) : n;
        if (o + len > room)
            break;
        memcpy(buf + o, esc[0] ? esc : p, len);
        o += len;
        p += n;
    }
    if (need >= cap && cap > 4) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

void cli_put_text(FILE *f, const char *s)
{
    char esc[8];

    while (s && *s) {
        size_t n = text_unit(s, esc);
        if (esc[0])
            fputs(esc, f);
        else
            fwrite(s, 1, n, f);
        s += n;
    }
}

json_t *cli_json_text(const char *s)
{
    json_t *j;
    char *fixed, *o;
    uint32_t cp;

    if (!s)
        return json_null();
    if ((j = json_string(s)) != NULL)
        return j;
    fixed = malloc(4 * strlen(s) + 1);
    if (!fixed)
        return NULL;
    for (o = fixed; *s;) {
        size_t n = utf8_char((const unsigned char *)s, &cp);
        if (n == 0) {
            o += sprintf(o, "\\x%02x", (unsigned char)*s);
            n = 1;
        } else {
            memcpy(o, s, n);
            o += n;
        }
        s += n;
    }
    *o = '\0';
    j = json_string(fixed);
    free(fixed);
    return j;
}

void cli_print_json(json_t *doc)
{
    if (!doc) {     /* jansson ran out of memory: the error object, by hand */
        printf("{\"ok\":false,\"error\":{\"status\":\"%s\",\"code\":%d,\"kind\":\"%s\","
               "\"message\":\"%s\"}}\n", aios_status_name(AIOS_E_NOMEM), AIOS_E_NOMEM,
               aios_error_kind_name(aios_status_kind(AIOS_E_NOMEM)),
               aios_status_str(AIOS_E_NOMEM));
        return;
    }
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    fputc('\n', stdout);
    json_decref(doc);
}

int cli_fail(cli_ctx *ctx, const char *verb, int status)
{
    const char *msg = aios_last_error_message();
    return cli_fail_msg(ctx, verb, status, msg[0] ? msg : aios_status_str(status));
}

int cli_fail_msg(cli_ctx *ctx, const char *verb, int status, const char *msg)
{
    if (ctx->json) {
        cli_print_json(json_pack("{s:b, s:s, s:{s:s, s:i, s:s, s:o}}",
            "ok", 0, "command", verb, "error",
            "status", aios_status_name(status), "code", status,
            "kind", aios_error_kind_name(aios_status_kind(status)), "message",
            cli_json_text(msg)));
    } else {
        fprintf(stderr, "%s %s: ", ctx->prog, verb);
        cli_put_text(stderr, msg);      /* it may name a model's file */
        fprintf(stderr, " (%s)\n", aios_status_name(status));
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
    if (ctx->json) {
        /* The members of every error object (docs/CLI.md, Errors); no
         * libaios status, so no code. */
        cli_print_json(json_pack("{s:b, s:s, s:{s:s, s:n, s:s, s:o}}", "ok", 0, "command",
                                 verb ? verb : "", "error", "status", "usage", "code",
                                 "kind", "usage", "message", cli_json_text(buf)));
    } else {
        fprintf(stderr, "%s%s%s: ", ctx->prog, verb ? " " : "", verb ? verb : "");
        cli_put_text(stderr, buf);      /* it may quote an argument */
        fprintf(stderr, "\nTry '%s %s%s--help'.\n", ctx->prog, verb ? verb : "",
                verb ? " " : "");
    }
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
