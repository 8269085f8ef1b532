/*
 * aios selftest: run every known-answer test of the linked cryptography.
 */
#include <string.h>

#include "cli.h"

static const char usage[] =
    "Usage: aios selftest [--json] [--quiet]\n"
    "\n"
    "Run the known-answer tests of every primitive libaios links (hashes,\n"
    "MACs, KDFs, AEADs, signatures, key agreement, wire encoding) and print\n"
    "one line per test.  Exit code 0 when all pass, 1 when any fails: a\n"
    "failing build must not be used.\n"
    "\n"
    "Options:\n"
    "  --json    print {\"ok\":..., \"passed\":N, \"failed\":N, \"tests\":[...]}\n"
    "  --quiet   print only the summary line\n";

typedef struct results {
    cli_ctx *ctx;
    json_t *tests;
    int passed, failed;
} results;

static int on_result(const char *name, int status, void *payload)
{
    results *r = payload;
    if (status == AIOS_OK)
        r->passed++;
    else
        r->failed++;
    if (r->ctx->json) {
        json_array_append_new(r->tests, json_pack("{s:s, s:b, s:s}", "name", name,
                              "ok", status == AIOS_OK, "status", aios_status_name(status)));
    } else if (!r->ctx->quiet || status != AIOS_OK) {
        printf("%-6s %s\n", status == AIOS_OK ? "ok" : "FAIL", name);
    }
    return AIOS_OK;
}

static int run(cli_ctx *ctx, int argc, char **argv)
{
    int optind, rc;
    results r;

    if ((rc = cli_parse_common(ctx, &cli_cmd_selftest, argc, argv, &optind)) >= 0)
        return rc;
    if (optind != argc)
        return cli_usage_error(ctx, "selftest", "unexpected argument '%s'", argv[optind]);

    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.tests = json_array();
    rc = aios_init();
    if (rc == AIOS_OK)
        rc = aios_selftest(on_result, &r);
    if (rc != AIOS_OK && r.passed + r.failed == 0) {
        json_decref(r.tests);
        return cli_fail(ctx, "selftest", rc);
    }
    if (ctx->json) {
        json_t *doc = json_pack("{s:b, s:i, s:i, s:o}", "ok", rc == AIOS_OK,
                                "passed", r.passed, "failed", r.failed, "tests", r.tests);
        if (rc != AIOS_OK)
            json_object_set_new(doc, "message", json_string(aios_last_error_message()));
        cli_print_json(doc);
    } else {
        json_decref(r.tests);
        if (rc != AIOS_OK)
            fprintf(stderr, "aios selftest: %s\n", aios_last_error_message());
        printf("selftest: %d passed, %d failed\n", r.passed, r.failed);
    }
    return rc == AIOS_OK ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
}

const cli_command cli_cmd_selftest = {
    "selftest", "run the known-answer tests of the linked cryptography", usage, run
};
