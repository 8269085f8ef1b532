/* Status codes: stable numbers, names, texts and kinds; docs agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct expect_row {
    int status;
    const char *name;
    aios_error_kind kind;
} expect_row;

/* The numbers are part of the ABI: this table pins them. */
static const expect_row rows[] = {
    { 0,   "AIOS_OK",                 AIOS_KIND_NONE },
    { -1,  "AIOS_E_INVALID_ARGUMENT", AIOS_KIND_INVALID },
    { -2,  "AIOS_E_NOMEM",            AIOS_KIND_RESOURCE },
    { -3,  "AIOS_E_BUFFER_TOO_SMALL", AIOS_KIND_INVALID },
    { -4,  "AIOS_E_STATE",            AIOS_KIND_STATE },
    { -5,  "AIOS_E_UNSUPPORTED",      AIOS_KIND_INVALID },
    { -6,  "AIOS_E_FORMAT",           AIOS_KIND_INVALID },
    { -7,  "AIOS_E_VERSION",          AIOS_KIND_INVALID },
    { -8,  "AIOS_E_AUTH",             AIOS_KIND_AUTH },
    { -9,  "AIOS_E_NOT_FOUND",        AIOS_KIND_NOT_FOUND },
    { -10, "AIOS_E_DENIED",           AIOS_KIND_DENIED },
    { -11, "AIOS_E_IO",               AIOS_KIND_IO },
    { -12, "AIOS_E_LIMIT",            AIOS_KIND_LIMIT },
    { -13, "AIOS_E_CALLBACK",         AIOS_KIND_CALLBACK },
    { -14, "AIOS_E_CANCELLED",        AIOS_KIND_CALLBACK },
    { -15, "AIOS_E_INTERNAL",         AIOS_KIND_INTERNAL },
    { -16, "AIOS_E_SELFTEST",         AIOS_KIND_INTERNAL },
    { -100, "AIOS_E_KEY_NOT_FOUND",         AIOS_KIND_NOT_FOUND },
    { -101, "AIOS_E_KEY_VERSION_NOT_FOUND", AIOS_KIND_NOT_FOUND },
    { -102, "AIOS_E_KEY_EXISTS",            AIOS_KIND_STATE },
    { -103, "AIOS_E_KEY_DESTROYED",         AIOS_KIND_STATE },
    { -104, "AIOS_E_KEY_DISABLED",          AIOS_KIND_STATE },
    { -105, "AIOS_E_KEY_DECRYPT_ONLY",      AIOS_KIND_STATE },
    { -106, "AIOS_E_KEY_USAGE",             AIOS_KIND_INVALID },
    { -107, "AIOS_E_KEY_USAGE_LIMIT",       AIOS_KIND_LIMIT },
    { -108, "AIOS_E_KEY_NOT_EXPORTABLE",    AIOS_KIND_STATE },
    { -109, "AIOS_E_KEY_EXPIRED",           AIOS_KIND_STATE },
    { -110, "AIOS_E_KEYRING_PASSPHRASE",    AIOS_KIND_AUTH },
    { -111, "AIOS_E_KEYRING_TAMPERED",      AIOS_KIND_AUTH },
    { -112, "AIOS_E_KEYRING_CORRUPT",       AIOS_KIND_INVALID },
    { -113, "AIOS_E_KEYRING_LOCKED",        AIOS_KIND_STATE },
    { -114, "AIOS_E_PKCS11",                AIOS_KIND_IO },
    { -115, "AIOS_E_PKCS11_PIN",            AIOS_KIND_AUTH },
    { -116, "AIOS_E_PROVIDER_TIMEOUT",      AIOS_KIND_CALLBACK },
    { -200, "AIOS_E_ENVELOPE_NO_RECIPIENT", AIOS_KIND_NOT_FOUND },
    { -201, "AIOS_E_ENVELOPE_COMMITMENT", AIOS_KIND_AUTH },
    { -202, "AIOS_E_ENVELOPE_CONTEXT_MISMATCH", AIOS_KIND_AUTH },
    { -203, "AIOS_E_ENVELOPE_TRUNCATED", AIOS_KIND_AUTH },
    { -204, "AIOS_E_ENVELOPE_TRAILING_DATA", AIOS_KIND_INVALID },
    { -205, "AIOS_E_ENVELOPE_UNKNOWN_SESSION", AIOS_KIND_NOT_FOUND },
    { -206, "AIOS_E_ENVELOPE_MODE", AIOS_KIND_INVALID },
    { -300, "AIOS_E_MANIFEST_MISMATCH", AIOS_KIND_AUTH },
    { -301, "AIOS_E_MANIFEST_KEY_MISMATCH", AIOS_KIND_AUTH },
    { -302, "AIOS_E_MANIFEST_CHAIN", AIOS_KIND_AUTH },
    { -303, "AIOS_E_MANIFEST_CERT_USAGE", AIOS_KIND_AUTH },
    { -304, "AIOS_E_MANIFEST_ROOT_DIGEST", AIOS_KIND_AUTH },
    { -305, "AIOS_E_MANIFEST_PREDICATE", AIOS_KIND_INVALID },
    { -306, "AIOS_E_MANIFEST_PATH", AIOS_KIND_INVALID },
    { -307, "AIOS_E_MANIFEST_DUPLICATE", AIOS_KIND_INVALID },
    { -308, "AIOS_E_MANIFEST_SIGNATURES", AIOS_KIND_INVALID },
    { -309, "AIOS_E_MANIFEST_SYMLINK", AIOS_KIND_INVALID },
    { -310, "AIOS_E_MANIFEST_SPECIAL_FILE", AIOS_KIND_INVALID },
    { -311, "AIOS_E_MANIFEST_NOT_SIGNED", AIOS_KIND_NOT_FOUND },
    { -312, "AIOS_E_MANIFEST_UNVERIFIED", AIOS_KIND_STATE },
    { -313, "AIOS_E_MANIFEST_CHANGED", AIOS_KIND_IO },
    { -314, "AIOS_E_MANIFEST_EMPTY", AIOS_KIND_INVALID },
    { -315, "AIOS_E_MANIFEST_METHOD", AIOS_KIND_INVALID },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static void test_numbers_are_pinned(void **state)
{
    (void)state;
    assert_int_equal(AIOS_OK, 0);
    assert_int_equal(AIOS_E_INVALID_ARGUMENT, -1);
    assert_int_equal(AIOS_E_AUTH, -8);
    assert_int_equal(AIOS_E_SELFTEST, -16);
    for (size_t i = 0; i < NROWS; i++) {
        assert_string_equal(aios_status_name(rows[i].status), rows[i].name);
        assert_int_equal(aios_status_kind(rows[i].status), rows[i].kind);
    }
}

static void test_every_code_has_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        const char *s = aios_status_str(rows[i].status);
        assert_non_null(s);
        assert_true(strlen(s) > 3);
        assert_string_not_equal(s, "unknown status");
        /* Texts are unique, so a message names one failure. */
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, aios_status_str(rows[j].status));
    }
}

static void test_unknown_codes(void **state)
{
    (void)state;
    int unknown[] = { 1, 42, -17, -99, -117, -199, -1000, 0x7fffffff, (int)0x80000000u };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_string_equal(aios_status_name(unknown[i]), "AIOS_E_UNKNOWN");
        assert_string_equal(aios_status_str(unknown[i]), "unknown status");
        assert_int_equal(aios_status_kind(unknown[i]), AIOS_KIND_INTERNAL);
    }
}

static void test_kind_names(void **state)
{
    (void)state;
    static const char *names[] = { "none", "invalid", "auth", "not_found", "denied",
                                   "io", "limit", "state", "resource", "callback",
                                   "internal" };
    for (int k = 0; k <= AIOS_KIND_INTERNAL; k++)
        assert_string_equal(aios_error_kind_name((aios_error_kind)k), names[k]);
    assert_string_equal(aios_error_kind_name((aios_error_kind)99), "unknown");
}

/* docs/ERRORS.md lists every code with its number and kind. */
static void test_docs_list_every_code(void **state)
{
    (void)state;
    size_t len;
    char *doc = tu_read_file(AIOS_TEST_SOURCE_DIR "/docs/ERRORS.md", &len);
    for (size_t i = 0; i < NROWS; i++) {
        char row[128];
        snprintf(row, sizeof(row), "| `%s` | %d | %s |", rows[i].name, rows[i].status,
                 aios_error_kind_name(rows[i].kind));
        if (!strstr(doc, row))
            fail_msg("docs/ERRORS.md lacks the row: %s", row);
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_are_pinned),
        cmocka_unit_test(test_every_code_has_text),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_docs_list_every_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
