/*
 * The libaios demo: what `scripts/demo` runs.
 *
 * Today it shows the foundation every module stands on: which libaios and
 * which cryptography a host process is running, and proof (known-answer
 * tests) that this cryptography computes what the standards say.  Later
 * modules grow it into the full pipeline: keys, sealed records, a signed
 * model, policy decisions and an audit log.
 *
 * Build: cc demo.c $(pkg-config --cflags --libs aios)
 */
#include <stdio.h>
#include <string.h>

#include <aios/aios.h>

static int failures;

static int on_test(const char *name, int status, void *payload)
{
    (void)payload;
    if (status != AIOS_OK)
        failures++;
    printf("  %-28s %s\n", name, status == AIOS_OK ? "ok" : aios_status_name(status));
    return AIOS_OK;     /* go on; a negative status would stop the run */
}

int main(void)
{
    int rc;

    /* 1. Initialise once; safe to call from any thread, any number of times. */
    rc = aios_init();
    if (rc != AIOS_OK) {
        fprintf(stderr, "aios_init: %s\n", aios_last_error_message());
        return 1;
    }

    /* 2. Headers and library must agree; the ABI promise covers the rest. */
    printf("libaios %s (headers %s)\n", aios_version_string(), AIOS_VERSION_STRING);
    if (aios_version_number() < AIOS_VERSION_NUMBER)
        printf("warning: the library is older than the headers this was built with\n");
    printf("build: %s\n\n", aios_build_info());

    /* 3. Known-answer tests of every primitive the library links. */
    printf("self-test of the linked cryptography:\n");
    rc = aios_selftest(on_test, NULL);
    if (rc != AIOS_OK) {
        fprintf(stderr, "self-test failed: %s\n", aios_last_error_message());
        return 1;
    }
    printf("\nall %s\n", failures == 0 ? "known answers match" : "FAILED");
    return failures == 0 ? 0 : 1;
}
