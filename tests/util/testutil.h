/*
 * Helpers shared by the cmocka unit tests.
 */
#ifndef AIOS_TESTUTIL_H
#define AIOS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "aios/aios.h"

/* Decode a hex string into a new malloc'd buffer (never NULL: at least one
 * byte is allocated); fails the test on bad hex. */
uint8_t *tu_hex(const char *hex, size_t *len);

/* Read a whole file into a new malloc'd, NUL-terminated buffer; fails the
 * test if it cannot. */
char *tu_read_file(const char *path, size_t *len);

/* Load ../shared/vectors/wycheproof/<file>; fails the test if absent (the
 * vectors are part of every checkout's environment, never skipped). */
json_t *tu_wycheproof(const char *file);

/* 1 when the tests run under valgrind (scripts/test sets
 * AIOS_TEST_UNDER_VALGRIND): slow loops may then sample. */
int tu_under_valgrind(void);

/* Walk every test of a Wycheproof file (a sample of them under valgrind): fn is called with the group and
 * the test object; returns the number of tests seen. */
typedef void (*tu_wycheproof_fn)(json_t *group, json_t *test, void *arg);
size_t tu_wycheproof_each(json_t *root, tu_wycheproof_fn fn, void *arg);

/* Convenience accessors that fail the test when the member is missing. */
const char *tu_str(json_t *obj, const char *key);
uint8_t *tu_hexmember(json_t *obj, const char *key, size_t *len);
/* 1 for "valid", 0 for "invalid", -1 for "acceptable". */
int tu_result(json_t *test);

/* ---- allocation-failure injection (one harness for every test program)
 *
 * tu_alloc_install() routes libaios' allocations (and protobuf-c's)
 * through a counting allocator that can fail the k-th allocation; call it
 * in main() before aios_init().  tu_inject_everywhere(op) runs op with
 * allocation k failing for k = 0, 1, ... until op gets through without
 * reaching the failure: each failing run must return AIOS_E_NOMEM and
 * leave nothing allocated (frees made by worker threads a moment later
 * are waited for). */
int  tu_alloc_install(void);
void tu_alloc_arm(long k);          /* fail the k-th allocation from now; -1 disarms */
int  tu_alloc_injected(void);       /* 1 if the armed failure happened */
long tu_alloc_outstanding(void);    /* allocations minus frees so far */
/* Returns how many allocation sites op reached (each was failed once). */
long tu_inject_everywhere(int (*op)(void), const char *what);

/* Assert a status and print the library's message if it differs. */
#define tu_assert_status(expr, expected) do {                                 \
        int tu_rc_ = (expr);                                                   \
        if (tu_rc_ != (expected))                                              \
            print_error("%s:%d: %s returned %s (%s), expected %s\n",           \
                        __FILE__, __LINE__, #expr, aios_status_name(tu_rc_),   \
                        aios_last_error_message(), aios_status_name(expected));\
        assert_int_equal(tu_rc_, (expected));                                  \
    } while (0)

#define tu_assert_ok(expr) tu_assert_status((expr), AIOS_OK)

#endif /* AIOS_TESTUTIL_H */
