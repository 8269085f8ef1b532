/*
 * A host program that uses libaios the way an installed copy is used:
 * only <aios/aios.h>, linked through aios::aios, aios::aios_static,
 * pkg-config or add_subdirectory() (tests/install/run.sh builds it each
 * way).  It exits nonzero on any mismatch between the headers it was
 * compiled with and the library it runs with.
 *
 * Output (run.sh checks the first line):
 *   libaios <runtime version> (headers <compile-time version>)
 */
#include <aios/aios.h>

#include <stdio.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "consumer: FAIL: %s\n", what);
        failures++;
    }
}

static void report(int rc, const char *call)
{
    fprintf(stderr, "consumer: FAIL: %s: %s (%s): %s\n", call, aios_status_name(rc),
            aios_status_str(rc), aios_last_error_message());
    failures++;
}

int main(void)
{
    aios_buffer *buf = NULL;
    uint8_t *bytes;
    size_t i;
    int rc;

    rc = aios_init();
    if (rc != AIOS_OK) {
        report(rc, "aios_init()");
        return 1;
    }

    printf("libaios %s (headers %s)\n", aios_version_string(), AIOS_VERSION_STRING);
    check(strcmp(aios_version_string(), AIOS_VERSION_STRING) == 0,
          "aios_version_string() differs from AIOS_VERSION_STRING");
    check((unsigned long)aios_version_number() == AIOS_VERSION_NUMBER,
          "aios_version_number() differs from AIOS_VERSION_NUMBER");
    check(AIOS_VERSION_AT_LEAST(AIOS_VERSION_MAJOR, AIOS_VERSION_MINOR, AIOS_VERSION_PATCH),
          "AIOS_VERSION_AT_LEAST() is false for the headers' own version");
    check(aios_build_info() != NULL && aios_build_info()[0] == '{',
          "aios_build_info() is not a JSON object");

    rc = aios_selftest(NULL, NULL);
    if (rc != AIOS_OK)
        report(rc, "aios_selftest()");

    rc = aios_buffer_new(&buf, 64, AIOS_BUFFER_SECURE);
    if (rc != AIOS_OK) {
        report(rc, "aios_buffer_new(64, AIOS_BUFFER_SECURE)");
    } else {
        check(aios_buffer_len(buf) == 64, "secure buffer length is not 64");
        check((aios_buffer_flags(buf) & AIOS_BUFFER_SECURE) != 0,
              "secure buffer does not report AIOS_BUFFER_SECURE");
        bytes = aios_buffer_data_mut(buf);
        check(bytes != NULL, "aios_buffer_data_mut() returned NULL");
        if (bytes != NULL) {
            for (i = 0; i < 64; i++)
                check(bytes[i] == 0, "a new buffer is not zero-filled");
            memset(bytes, 0xA5, 64);
            check(aios_ct_equal(aios_buffer_data(buf), bytes, 64) == 1,
                  "aios_ct_equal() on the same bytes is not 1");
        }
        aios_buffer_free(buf);
    }
    aios_buffer_free(NULL); /* documented no-op */

    if (failures) {
        fprintf(stderr, "consumer: %d check(s) failed\n", failures);
        return 1;
    }
    printf("consumer: all checks passed\n");
    return 0;
}
