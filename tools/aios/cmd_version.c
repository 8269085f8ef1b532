/*
 * aios version: library, ABI, dependency and CPU information.
 */
#include <string.h>

#include "cli.h"

static const char usage[] =
    "Usage: aios version [--json]\n"
    "\n"
    "Print the libaios version, its ABI, the versions of the libraries it\n"
    "links, the CPU features it detected and uses, and how it was built.\n"
    "Warns when the tool was built against other headers than the library\n"
    "it runs with.\n"
    "\n"
    "Options:\n"
    "  --json    print aios_build_info() as one JSON object\n";

static int run(cli_ctx *ctx, int argc, char **argv)
{
    int optind, rc;
    json_error_t err;
    json_t *info;

    if ((rc = cli_parse_common(ctx, &cli_cmd_version, argc, argv, &optind)) >= 0)
        return rc;
    if (optind != argc)
        return cli_usage_error(ctx, "version", "unexpected argument '%s'", argv[optind]);

    info = json_loads(aios_build_info(), JSON_REJECT_DUPLICATES, &err);
    if (!info) {
        fprintf(stderr, "aios version: build info is not valid JSON: %s\n", err.text);
        return CLI_EXIT_INTERNAL;
    }
    if (ctx->json) {
        json_object_set_new(info, "tool_headers_version", json_string(AIOS_VERSION_STRING));
        cli_print_json(info);
        return CLI_EXIT_OK;
    }

    json_t *deps = json_object_get(info, "dependencies");
    json_t *cpu = json_object_get(info, "cpu");
    json_t *build = json_object_get(info, "build");
    printf("aios %s (libaios %s, ABI %d)\n", AIOS_VERSION_STRING, aios_version_string(),
           (int)json_integer_value(json_object_get(info, "abi")));
    printf("dependencies: libsodium %s, mbedTLS %s, protobuf-c %s\n",
           json_string_value(json_object_get(deps, "libsodium")),
           json_string_value(json_object_get(deps, "mbedtls")),
           json_string_value(json_object_get(deps, "protobuf-c")));
    printf("cpu features:");
    const char *key;
    json_t *val;
    int any = 0;
    json_object_foreach(cpu, key, val) {
        if (json_is_true(val)) {
            printf(" %s", key);
            any = 1;
        }
    }
    printf("%s\n", any ? "" : " (none used)");
    printf("bulk AEAD: %s\n",
           json_string_value(json_object_get(json_object_get(info, "uses"), "bulk_aead")));
    printf("build: %s, %s%s%s\n", json_string_value(json_object_get(build, "type")),
           json_string_value(json_object_get(build, "compiler")),
           json_string_length(json_object_get(build, "sanitizers")) ? ", sanitizers " : "",
           json_string_value(json_object_get(build, "sanitizers")));
    if (aios_version_number() != AIOS_VERSION_NUMBER)
        fprintf(stderr, "warning: aios was built with libaios %s headers but runs with %s\n",
                AIOS_VERSION_STRING, aios_version_string());
    json_decref(info);
    return CLI_EXIT_OK;
}

const cli_command cli_cmd_version = {
    "version", "print library, dependency and CPU information", usage, run
};
