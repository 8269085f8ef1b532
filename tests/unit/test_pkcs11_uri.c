/*
 * The RFC 7512 PKCS#11 URI parser (lib/key/p11uri.c) and the pin-source
 * reader: what is accepted and decoded, and every way a URI is refused
 * (AIOS_E_FORMAT naming the attribute, never echoing a value).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "key/p11.h"
#include "crypto/crypto.h"

static int parse(aios__p11uri *u, const char *s)
{
    return aios__p11uri_parse(u, s, strlen(s));
}

/* The URI is refused with AIOS_E_FORMAT and a message naming `needle`. */
static void refused(const char *uri, const char *needle)
{
    aios__p11uri u;
    int rc = parse(&u, uri);
    if (rc != AIOS_E_FORMAT)
        print_error("URI %s: got %s (%s)\n", uri, aios_status_name(rc), aios_last_error_message());
    assert_int_equal(rc, AIOS_E_FORMAT);
    if (needle != NULL && strstr(aios_last_error_message(), needle) == NULL)
        print_error("URI %s: message '%s' lacks '%s'\n", uri, aios_last_error_message(), needle);
    if (needle != NULL)
        assert_non_null(strstr(aios_last_error_message(), needle));
    /* Nothing is left allocated or half-filled. */
    assert_null(u.token);
    assert_null(u.pin_value);
    assert_null(u.id);
    aios__p11uri_clear(&u);
}

/* ------------------------------------------------------------ accepted */

static void test_empty_uri(void **state)
{
    aios__p11uri u;
    (void)state;
    tu_assert_ok(parse(&u, "pkcs11:"));
    assert_null(u.token);
    assert_null(u.object);
    assert_int_equal(u.has_slot_id, 0);
    assert_int_equal(u.has_id, 0);
    assert_int_equal(u.type, AIOS__P11_TYPE_ANY);
    assert_string_equal(u.vendor_path_attr, "");
    aios__p11uri_clear(&u);
    tu_assert_ok(parse(&u, "pkcs11:?"));
    aios__p11uri_clear(&u);
    /* The scheme and attribute names are case-insensitive (RFC 3986,
     * RFC 5234 literals). */
    tu_assert_ok(parse(&u, "PKCS11:TOKEN=x;Object=y"));
    assert_string_equal(u.token, "x");
    assert_string_equal(u.object, "y");
    aios__p11uri_clear(&u);
}

static void test_path_attributes(void **state)
{
    aios__p11uri u;
    (void)state;
    tu_assert_ok(parse(&u,
        "pkcs11:token=My%20Token;manufacturer=SoftHSM%20project;serial=0a1B2c;model=SoftHSM%20v2;"
        "library-manufacturer=Acme%2C%20Inc.;library-description=lib;library-version=2.6;"
        "slot-description=Slot%20one;slot-manufacturer=M;slot-id=18446744073709551615;"
        "object=my%2fkey%3Bv1;type=Secret-Key;id=%01%02%fF%00"));
    assert_string_equal(u.token, "My Token");
    assert_string_equal(u.manufacturer, "SoftHSM project");
    assert_string_equal(u.serial, "0a1B2c");
    assert_string_equal(u.model, "SoftHSM v2");
    assert_string_equal(u.library_manufacturer, "Acme, Inc.");
    assert_string_equal(u.library_description, "lib");
    assert_int_equal(u.has_library_version, 1);
    assert_int_equal(u.library_version_major, 2);
    assert_int_equal(u.library_version_minor, 6);
    assert_string_equal(u.slot_description, "Slot one");
    assert_string_equal(u.slot_manufacturer, "M");
    assert_int_equal(u.has_slot_id, 1);
    assert_true(u.slot_id == UINT64_MAX);
    assert_string_equal(u.object, "my/key;v1");
    assert_int_equal(u.type, AIOS__P11_TYPE_SECRET_KEY);
    assert_int_equal(u.has_id, 1);
    assert_int_equal(u.id_len, 4);
    assert_memory_equal(u.id, "\x01\x02\xff\x00", 4);   /* NUL allowed in id only */
    assert_null(u.pin_value);
    assert_null(u.module_path);
    aios__p11uri_clear(&u);

    /* '&' and '=' may stand unencoded in a path value; an empty value is
     * a value; a major-only library version means minor 0. */
    tu_assert_ok(parse(&u, "pkcs11:manufacturer=A&B=C;token=;library-version=3"));
    assert_string_equal(u.manufacturer, "A&B=C");
    assert_string_equal(u.token, "");
    assert_int_equal(u.library_version_major, 3);
    assert_int_equal(u.library_version_minor, 0);
    aios__p11uri_clear(&u);

    /* Percent-encoded UTF-8 is text like any other. */
    tu_assert_ok(parse(&u, "pkcs11:object=cl%C3%A9;type=private"));
    assert_string_equal(u.object, "cl\xc3\xa9");
    assert_int_equal(u.type, AIOS__P11_TYPE_PRIVATE);
    aios__p11uri_clear(&u);

    /* Every type name. */
    tu_assert_ok(parse(&u, "pkcs11:type=public"));
    assert_int_equal(u.type, AIOS__P11_TYPE_PUBLIC);
    aios__p11uri_clear(&u);
    tu_assert_ok(parse(&u, "pkcs11:type=cert"));
    assert_int_equal(u.type, AIOS__P11_TYPE_CERT);
    aios__p11uri_clear(&u);
    tu_assert_ok(parse(&u, "pkcs11:type=data"));
    assert_int_equal(u.type, AIOS__P11_TYPE_DATA);
    aios__p11uri_clear(&u);
}

static void test_query_attributes(void **state)
{
    aios__p11uri u;
    (void)state;
    tu_assert_ok(parse(&u, "pkcs11:token=t?pin-value=12%2634%3B&module-name=softhsm2"
                           "&module-path=/usr/lib/softhsm/libsofthsm2.so"));
    assert_string_equal(u.token, "t");
    assert_non_null(u.pin_value);
    assert_int_equal(u.pin_value_len, 6);
    assert_string_equal(u.pin_value, "12&34;");
    assert_string_equal(u.module_name, "softhsm2");
    assert_string_equal(u.module_path, "/usr/lib/softhsm/libsofthsm2.so");
    aios__p11uri_clear(&u);
    assert_null(u.pin_value);           /* cleared (and wiped) */

    /* '/', '?' and '|' may stand unencoded in a query value. */
    tu_assert_ok(parse(&u, "pkcs11:?pin-source=file:///run/pin?x|y"));
    assert_string_equal(u.pin_source, "file:///run/pin?x|y");
    assert_null(u.pin_value);
    aios__p11uri_clear(&u);
}

static void test_vendor_attributes(void **state)
{
    aios__p11uri u;
    (void)state;
    tu_assert_ok(parse(&u, "pkcs11:token=t;x-Vendor_attr-1=a%20b;x-other=?x-q=1&x-r=%41"));
    assert_string_equal(u.token, "t");
    assert_string_equal(u.vendor_path_attr, "x-vendor_attr-1");   /* the first one */
    aios__p11uri_clear(&u);
    tu_assert_ok(parse(&u, "pkcs11:token=t?x-q=1"));
    assert_string_equal(u.vendor_path_attr, "");    /* query ones do not narrow */
    aios__p11uri_clear(&u);
}

/* ------------------------------------------------------------- refused */

static void test_scheme_and_structure(void **state)
{
    (void)state;
    refused("", "pkcs11:");
    refused("pkcs1:", "pkcs11:");
    refused("pkcs12:token=a", "pkcs11:");
    refused("token=a", "pkcs11:");
    refused("pkcs11:token=a;", "empty path attribute");
    refused("pkcs11:;token=a", "empty path attribute");
    refused("pkcs11:token=a;;object=b", "empty path attribute");
    refused("pkcs11:?pin-value=1&", "empty query attribute");
    refused("pkcs11:token", "no '='");
    refused("pkcs11:=a", "malformed path attribute name");
    refused("pkcs11:to!ken=a", "malformed path attribute name");
    refused("pkcs11:to%6Ben=a", "malformed path attribute name");  /* names are not encoded */
}

static void test_bad_characters_and_encodings(void **state)
{
    aios__p11uri u;
    static const char nul_uri[] = "pkcs11:token=a\0b";
    (void)state;
    refused("pkcs11:token=a%2", "incomplete percent-encoding");
    refused("pkcs11:token=%", "incomplete percent-encoding");
    refused("pkcs11:token=a%zz", "malformed percent-encoding");
    refused("pkcs11:token=a%2g", "malformed percent-encoding");
    refused("pkcs11:token=a b", "'token'");
    refused("pkcs11:token=a/b", "'token'");         /* '/' only in the query */
    refused("pkcs11:token=a#b", "'token'");
    refused("pkcs11:token=a\"b", "'token'");
    refused("pkcs11:object=\xc3\xa9", "'object'");  /* raw UTF-8 must be encoded */
    refused("pkcs11:token=a?pin-value=1;2", "'pin-value'");   /* ';' only in the path */
    refused("pkcs11:token=a?module-path=/x&pin-value=1%", "'pin-value'");
    refused("pkcs11:token=%00", "NUL");
    refused("pkcs11:?module-path=/lib/a%00b.so", "NUL");
    refused("pkcs11:object=%ff%fe", "UTF-8");
    refused("pkcs11:token=%C0%AF", "UTF-8");        /* overlong */
    /* A NUL byte in the URI itself. */
    assert_int_equal(aios__p11uri_parse(&u, nul_uri, sizeof(nul_uri) - 1), AIOS_E_FORMAT);
}

static void test_attributes_refused(void **state)
{
    (void)state;
    refused("pkcs11:token=a;token=b", "'token' appears twice");
    refused("pkcs11:token=a;TOKEN=b", "'token' appears twice");
    refused("pkcs11:?pin-value=1&pin-value=2", "'pin-value' appears twice");
    refused("pkcs11:x-a=1;x-A=2", "'x-a' appears twice");
    refused("pkcs11:foo=bar", "'foo'");
    refused("pkcs11:?foo=bar", "'foo'");
    refused("pkcs11:x-=1", "'x-'");
    refused("pkcs11:pin-value=1234", "'pin-value' at offset 7 is a query attribute");
    refused("pkcs11:module-path=/a", "query attribute");
    refused("pkcs11:?token=a", "'token' at offset 8 is a path attribute");
    refused("pkcs11:?object=a", "path attribute");
    refused("pkcs11:?pin-value=1&pin-source=file:/x", "both given");
    refused("pkcs11:type=foo", "'type'");
    refused("pkcs11:type=", "'type'");
    refused("pkcs11:type=secret%2Dkeyx", "'type'");
    refused("pkcs11:slot-id=", "'slot-id'");
    refused("pkcs11:slot-id=abc", "'slot-id'");
    refused("pkcs11:slot-id=-1", "'slot-id'");
    refused("pkcs11:slot-id=%31", "'slot-id'");
    refused("pkcs11:slot-id=18446744073709551616", "'slot-id'");
    refused("pkcs11:library-version=", "'library-version'");
    refused("pkcs11:library-version=1.", "'library-version'");
    refused("pkcs11:library-version=.1", "'library-version'");
    refused("pkcs11:library-version=1.2.3", "'library-version'");
    refused("pkcs11:library-version=256", "'library-version'");
    refused("pkcs11:library-version=a", "'library-version'");
}

static void test_lengths(void **state)
{
    char buf[AIOS__P11URI_MAX_LEN + 64];
    aios__p11uri u;
    size_t i;
    (void)state;

    /* token: 32 bytes fit, 33 do not (decoded length counts). */
    strcpy(buf, "pkcs11:token=");
    for (i = 0; i < 32; i++)
        strcat(buf, "a");
    tu_assert_ok(parse(&u, buf));
    aios__p11uri_clear(&u);
    strcat(buf, "a");
    refused(buf, "'token' at offset 7 is 33 bytes long; at most 32");
    strcpy(buf, "pkcs11:serial=");
    for (i = 0; i < 17; i++)
        strcat(buf, "%41");
    refused(buf, "'serial'");

    /* A PIN that is too long: the message names it, never shows it. */
    strcpy(buf, "pkcs11:?pin-value=");
    for (i = 0; i < AIOS__P11URI_PIN_MAX + 1; i++)
        strcat(buf, "Q");
    refused(buf, "'pin-value'");
    assert_null(strstr(aios_last_error_message(), "QQQQ"));

    /* The whole URI. */
    memset(buf, 0, sizeof(buf));
    strcpy(buf, "pkcs11:x-pad=");
    for (i = strlen(buf); i < AIOS__P11URI_MAX_LEN + 1; i++)
        buf[i] = 'a';
    refused(buf, "at most");

    /* Too many attributes. */
    strcpy(buf, "pkcs11:");
    for (i = 0; i < AIOS__P11URI_MAX_ATTRS + 1; i++) {
        char a[24];
        snprintf(a, sizeof(a), "%sx-a%zu=1", i ? ";" : "", i);
        strcat(buf, a);
    }
    refused(buf, "more than");
}

static void test_values_never_in_messages(void **state)
{
    (void)state;
    refused("pkcs11:?pin-value=s3cr3t%zz", "'pin-value'");
    assert_null(strstr(aios_last_error_message(), "s3cr3t"));
    refused("pkcs11:?pin-value=s3cr3t&pin-value=s3cr3t", "twice");
    assert_null(strstr(aios_last_error_message(), "s3cr3t"));
    refused("pkcs11:pin-value=s3cr3t", "query attribute");
    assert_null(strstr(aios_last_error_message(), "s3cr3t"));
    refused("pkcs11:token=s3cr3t%", "'token'");
    assert_null(strstr(aios_last_error_message(), "s3cr3t"));
}

/* ---------------------------------------------------------- pin-source */

static char tmpdir[64];

static char *write_file(const char *name, const void *data, size_t len)
{
    static char path[160];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static void pin_ok(const char *source, const char *want)
{
    char *pin = NULL;
    size_t len = 0;
    tu_assert_ok(aios__p11uri_read_pin_source(source, &pin, &len));
    assert_int_equal(len, strlen(want));
    assert_memory_equal(pin, want, len);
    assert_int_equal(pin[len], '\0');
    aios__secure_free(pin);
}

static void pin_fails(const char *source, int status)
{
    char *pin = (char *)"x";
    size_t len = 9;
    tu_assert_status(aios__p11uri_read_pin_source(source, &pin, &len), status);
    assert_null(pin);
    assert_int_equal(len, 0);
}

static void test_pin_source(void **state)
{
    char src[256], *p;
    char big[AIOS__P11URI_PIN_MAX + 8];
    (void)state;

    p = write_file("pin-nl", "1234\n", 5);
    snprintf(src, sizeof(src), "file:%s", p);
    pin_ok(src, "1234");
    snprintf(src, sizeof(src), "file://%s", p);             /* file:///abs */
    pin_ok(src, "1234");
    snprintf(src, sizeof(src), "FILE://localhost%s", p);
    pin_ok(src, "1234");
    p = write_file("pin-crlf", "1234\r\n", 6);
    snprintf(src, sizeof(src), "file:%s", p);
    pin_ok(src, "1234");
    p = write_file("pin-two", "1234\n\n", 6);               /* only one newline goes */
    snprintf(src, sizeof(src), "file:%s", p);
    pin_ok(src, "1234\n");
    p = write_file("pin-bare", "s p a c e ", 10);           /* nothing else is trimmed */
    snprintf(src, sizeof(src), "file:%s", p);
    pin_ok(src, "s p a c e ");

    /* The largest PIN, with its newline. */
    memset(big, 'P', sizeof(big));
    big[AIOS__P11URI_PIN_MAX] = '\n';
    p = write_file("pin-max", big, AIOS__P11URI_PIN_MAX + 1);
    snprintf(src, sizeof(src), "file:%s", p);
    {
        char *pin = NULL;
        size_t len = 0;
        tu_assert_ok(aios__p11uri_read_pin_source(src, &pin, &len));
        assert_int_equal(len, AIOS__P11URI_PIN_MAX);
        aios__secure_free(pin);
    }
    p = write_file("pin-big", big, sizeof(big));
    snprintf(src, sizeof(src), "file:%s", p);
    pin_fails(src, AIOS_E_FORMAT);
    assert_null(strstr(aios_last_error_message(), "PPPP"));

    p = write_file("pin-empty", "", 0);
    snprintf(src, sizeof(src), "file:%s", p);
    pin_fails(src, AIOS_E_FORMAT);
    p = write_file("pin-nlonly", "\n", 1);
    snprintf(src, sizeof(src), "file:%s", p);
    pin_fails(src, AIOS_E_FORMAT);
    p = write_file("pin-nul", "12\0" "34", 5);
    snprintf(src, sizeof(src), "file:%s", p);
    pin_fails(src, AIOS_E_FORMAT);

    snprintf(src, sizeof(src), "file:%s/missing", tmpdir);
    pin_fails(src, AIOS_E_IO);
    assert_non_null(strstr(aios_last_error_message(), "missing"));
    snprintf(src, sizeof(src), "file:%s", tmpdir);          /* a directory */
    pin_fails(src, AIOS_E_IO);

    pin_fails("file:relative/pin", AIOS_E_FORMAT);
    pin_fails("file:", AIOS_E_FORMAT);
    pin_fails("file://otherhost/etc/pin", AIOS_E_UNSUPPORTED);
    pin_fails("|/usr/bin/getpin", AIOS_E_UNSUPPORTED);
    pin_fails("/etc/pin", AIOS_E_UNSUPPORTED);
    pin_fails("https://example.com/pin", AIOS_E_UNSUPPORTED);
}

/* pin-source as written in a URI: decoded once, then read. */
static void test_pin_source_in_uri(void **state)
{
    char uri[256], *p;
    aios__p11uri u;
    (void)state;
    p = write_file("my pin", "4321\n", 5);
    (void)p;
    snprintf(uri, sizeof(uri), "pkcs11:token=t?pin-source=file:%s/my%%20pin", tmpdir);
    tu_assert_ok(parse(&u, uri));
    pin_ok(u.pin_source, "4321");
    aios__p11uri_clear(&u);
}

static int setup(void **state)
{
    (void)state;
    if (aios_init() != AIOS_OK)
        return -1;
    strcpy(tmpdir, "/tmp/aios-p11uri-XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_uri),
        cmocka_unit_test(test_path_attributes),
        cmocka_unit_test(test_query_attributes),
        cmocka_unit_test(test_vendor_attributes),
        cmocka_unit_test(test_scheme_and_structure),
        cmocka_unit_test(test_bad_characters_and_encodings),
        cmocka_unit_test(test_attributes_refused),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_values_never_in_messages),
        cmocka_unit_test(test_pin_source),
        cmocka_unit_test(test_pin_source_in_uri),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
