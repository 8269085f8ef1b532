/*
 * The model walker (lib/manifest/walk.c, docs/MANIFEST.md 5.3 and 5.5):
 * what is recorded and in which order (both profiles, on the cases where
 * they differ), names, ignore paths, symlinks (refused, allowed beneath
 * the root, leaving it, dangling, looping), special files, unreadable
 * directories, single-file models, limits, and the opener that never
 * follows a symlink.  Every case runs twice: listed by the caller's thread
 * alone, and by four threads (walk.c "Threads"); further cases hold the
 * threaded walk to the serial one and check its failures.
 */
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "test_manifest_util.h"

/* The walk's thread count for this run of the group (0: the caller's). */
static uint32_t g_threads;

static aios__mf_walk_options opts_default(void)
{
    aios__mf_walk_options o;
    memset(&o, 0, sizeof(o));
    o.threads = g_threads;
    return o;
}

/* What NULL options mean, with this run's thread count. */
static const aios__mf_walk_options *opts_null(void)
{
    static aios__mf_walk_options o;
    if (g_threads == 0)
        return NULL;
    memset(&o, 0, sizeof(o));
    o.threads = g_threads;
    return &o;
}

/* Assert the walk's entry names, in order. */
static void expect_names(const aios__mf_walk *w, const char *const *names, size_t n)
{
    size_t i;
    for (i = 0; i < w->n && i < n; i++)
        if (strcmp(w->entries[i].path, names[i]) != 0)
            print_error("entry %zu: '%s', expected '%s'\n", i, w->entries[i].path, names[i]);
    assert_int_equal(w->n, n);
    for (i = 0; i < n; i++)
        assert_string_equal(w->entries[i].path, names[i]);
}

static const aios__mf_entry *find(const aios__mf_walk *w, const char *name)
{
    size_t i;
    for (i = 0; i < w->n; i++)
        if (strcmp(w->entries[i].path, name) == 0)
            return &w->entries[i];
    return NULL;
}

/* ------------------------------------------------------------ names */

static void test_path_check(void **state)
{
    static const char *const good[] = {
        "a", "a/b", "with space.txt", "\xc3\xbc" "ber/\xe5\x90\x8d" ".bin", "a:b:c", "..a",
        ".hidden", "a/.b", "a\\b", "...",
    };
    static const char *const bad[] = {
        "/abs", "a//b", "a/", "./a", "a/.", "..", "a/../b", ".", "\xff", "a/\xc0\xaf",
        "\xed\xa0\x80",   /* a surrogate */
    };
    char big[AIOS__MF_PATH_MAX + 2];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(*good); i++)
        tu_assert_ok(aios__mf_path_check(good[i], strlen(good[i]), "t"));
    for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        tu_assert_status(aios__mf_path_check(bad[i], strlen(bad[i]), "t"), AIOS__E_MANIFEST_PATH);
    tu_assert_status(aios__mf_path_check("", 0, "t"), AIOS__E_MANIFEST_PATH);
    tu_assert_status(aios__mf_path_check("a\0b", 3, "t"), AIOS__E_MANIFEST_PATH);
    /* 4096 bytes in components of 255 or fewer: fine; 4097: too long */
    for (i = 0; i < AIOS__MF_PATH_MAX + 1; i++)
        big[i] = (i % 200 == 199) ? '/' : 'x';
    big[AIOS__MF_PATH_MAX - 1] = 'y';
    tu_assert_ok(aios__mf_path_check(big, AIOS__MF_PATH_MAX, "t"));
    tu_assert_status(aios__mf_path_check(big, AIOS__MF_PATH_MAX + 1, "t"), AIOS__E_MANIFEST_PATH);
    memset(big, 'x', 256);
    tu_assert_ok(aios__mf_path_check(big, 255, "t"));
    tu_assert_status(aios__mf_path_check(big, 256, "t"), AIOS__E_MANIFEST_PATH);
    /* 128 components fine, 129 not */
    for (i = 0; i < 129; i++) {
        big[2 * i] = 'd';
        big[2 * i + 1] = '/';
    }
    tu_assert_ok(aios__mf_path_check(big, 2 * 128 - 1, "t"));
    tu_assert_status(aios__mf_path_check(big, 2 * 129 - 1, "t"), AIOS__E_MANIFEST_PATH);
}

static int cmpc(const char *a, const char *b)
{
    return aios__mf_cmp_components(a, strlen(a), b, strlen(b));
}

static int cmpp(const char *a, const char *b)
{
    return aios__mf_cmp_codepoints(a, strlen(a), b, strlen(b));
}

static void test_orders(void **state)
{
    (void)state;
    /* MANIFEST.md 5.3's examples */
    assert_true(cmpc("a/b", "a-b") < 0);
    assert_true(cmpc("a-b", "a.b") < 0);
    assert_true(cmpc("tok/vocab", "tok.json") < 0);
    assert_true(cmpc("a b", "a/b") > 0);
    assert_true(cmpc("a", "a/b") < 0);
    assert_true(cmpc("a/b", "a") > 0);
    assert_true(cmpc("a/b/c", "a/b") > 0);
    assert_true(cmpc("x", "x") == 0);
    assert_true(cmpp("a/b", "a-b") > 0);
    assert_true(cmpp("tok/vocab", "tok.json") > 0);
    assert_true(cmpp("f:10:20", "f:9:10") < 0);
    /* non-ASCII sorts after ASCII in both, by code point */
    assert_true(cmpc("\xc3\xa9", "z") > 0);
    assert_true(cmpp("\xc3\xa9", "\xe2\x82\xac") < 0);   /* U+00E9 < U+20AC */
    assert_true(cmpc("\xef\xbf\xbd", "\xf0\x9f\x98\x80") < 0);   /* U+FFFD < U+1F600 */
    assert_true(aios__mf_cmp_profile(AIOS__MF_PROFILE_MODEL_SIGNING_1, "a/b", 3, "a-b", 3) < 0);
    assert_true(aios__mf_cmp_profile(AIOS__MF_PROFILE_OMS_1_0, "a/b", 3, "a-b", 3) > 0);
}

/* ------------------------------------------------------------ walking */

static void test_nested(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk_options o = opts_default();
    aios__mf_walk *w = NULL;
    static const char *const expect[] = {
        "a/b/c.bin", "a/x", "empty", "top", "with space.txt",
        "\xc3\xbc" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9/\xe5\x90\x8d\xe5\x89\x8d.txt",
    };
    (void)state;
    mt_write_str(d, "a/b/c.bin", "ccc");
    mt_write_str(d, "a/x", "xx");
    mt_write(d, "empty", NULL, 0);
    mt_write_str(d, "top", "top!");
    mt_write_str(d, "with space.txt", "spaces");
    mt_write_str(d, expect[5], "unicode");
    mt_mkdir(d, "emptydir/sub");       /* empty directories leave no trace */
    mt_write_str(d, ".git/config", "g");   /* default ignores */
    mt_write_str(d, ".gitattributes", "g");
    mt_write_str(d, ".github/workflows/ci.yml", "g");
    mt_write_str(d, ".gitignore", "g");

    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    expect_names(w, expect, 6);
    assert_int_equal(w->single_file, 0);
    assert_int_equal(find(w, "empty")->size, 0);
    assert_int_equal(find(w, "top")->size, 4);
    assert_int_equal(w->total_bytes, 3 + 2 + 0 + 4 + 6 + 7);
    assert_string_equal(find(w, "a/x")->open_path, "a/x");
    assert_int_equal(find(w, "a/x")->via_symlink, 0);
    aios__mf_walk_free(w);

    /* git defaults off: they are entries too */
    o.no_git_defaults = 1;
    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    assert_int_equal(w->n, 10);
    assert_string_equal(w->entries[0].path, ".git/config");
    assert_string_equal(w->entries[1].path, ".gitattributes");
    assert_string_equal(w->entries[2].path, ".github/workflows/ci.yml");
    aios__mf_walk_free(w);

    /* the same through a directory descriptor, and a trailing slash */
    {
        int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char p[4200];
        assert_true(fd >= 0);
        tu_assert_ok(aios__mf_walk_dirfd(&w, fd, opts_null()));
        expect_names(w, expect, 6);
        aios__mf_walk_free(w);
        close(fd);   /* the walk had its own copy */
        snprintf(p, sizeof(p), "%s/", d);
        tu_assert_ok(aios__mf_walk_path(&w, p, opts_null()));
        expect_names(w, expect, 6);
        aios__mf_walk_free(w);
    }
    mt_rmtree(d);
}

static void test_profiles_order(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk_options o = opts_default();
    aios__mf_walk *w = NULL;
    static const char *const comp[] = {
        "a/b", "a-b", "a.b", "a b", "tok/vocab", "tok.json", "tok0", "\xc3\xa9t\xc3\xa9",
    };
    static const char *const code[] = {
        "a b", "a-b", "a.b", "a/b", "tok.json", "tok/vocab", "tok0", "\xc3\xa9t\xc3\xa9",
    };
    size_t i;
    (void)state;
    for (i = 0; i < 8; i++)
        mt_write_str(d, comp[i], comp[i]);
    /* component order puts "a b" after "a/b" too: ' ' (0x20) > '/' as 0x00 */
    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    {
        static const char *const want[] = {
            "a/b", "a b", "a-b", "a.b", "tok/vocab", "tok.json", "tok0", "\xc3\xa9t\xc3\xa9",
        };
        expect_names(w, want, 8);
    }
    aios__mf_walk_free(w);
    o.profile = AIOS__MF_PROFILE_OMS_1_0;
    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    expect_names(w, code, 8);
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

static void test_ignore_paths(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk_options o = opts_default();
    aios__mf_walk *w = NULL;
    const char *ign[] = { "cache", "a/file", "special" };
    (void)state;
    mt_write_str(d, "cache/x", "1");
    mt_write_str(d, "cache/deep/y", "1");
    mt_write_str(d, "cache2/y", "2");
    mt_write_str(d, "sub/cache", "3");     /* anchored at the root: kept */
    mt_write_str(d, "a/file", "4");
    mt_write_str(d, "a/file2", "5");
    mt_write_str(d, "a/filex/z", "6");
    mt_write_str(d, "sub/.git/HEAD", "7"); /* .git only at the root */
    mt_mkdir(d, "special");
    assert_int_equal(mkfifo(mt_path(d, "special/fifo"), 0644), 0);
    mt_symlink(d, "special/link", "/etc/passwd");
    mt_symlink(d, "cache/link", "../../outside");
    o.ignore_paths = ign;
    o.ignore_paths_len = 3;
    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    {
        static const char *const want[] = {
            "a/file2", "a/filex/z", "cache2/y", "sub/.git/HEAD", "sub/cache",
        };
        expect_names(w, want, 5);
    }
    aios__mf_walk_free(w);

    /* without them, the FIFO is refused (the other traps stay ignored) */
    ign[2] = "special/link";
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SPECIAL_FILE);
    assert_null(w);

    /* ignore paths must be canonical */
    {
        static const char *const bad[] = { "../x", "/abs", "a//b", "./a", "a/", "" };
        size_t i;
        for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
            const char *one[1];
            one[0] = bad[i];
            o.ignore_paths = one;
            o.ignore_paths_len = 1;
            tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_PATH);
        }
        o.ignore_paths = NULL;
        o.ignore_paths_len = 1;
        tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS_E_INVALID_ARGUMENT);
        o.ignore_paths = ign;
        o.ignore_paths_len = AIOS__MF_IGNORE_MAX + 1;
        tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS_E_LIMIT);
    }
    mt_rmtree(d);
}

static void test_exclude_file(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk_options o = opts_default();
    aios__mf_walk *w = NULL;
    struct stat st;
    (void)state;
    mt_write_str(d, "model.bin", "m");
    mt_write_str(d, "sub/my.sig", "{}");
    assert_int_equal(stat(mt_path(d, "sub/my.sig"), &st), 0);
    o.exclude_file = 1;
    o.exclude_dev = (uint64_t)st.st_dev;
    o.exclude_ino = (uint64_t)st.st_ino;
    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    assert_int_equal(w->n, 1);
    assert_string_equal(w->entries[0].path, "model.bin");
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

static void test_symlinks(void **state)
{
    char *d = mt_tmpdir();
    char *outside = mt_tmpdir();
    aios__mf_walk_options o = opts_default();
    aios__mf_walk *w = NULL;
    const aios__mf_entry *e;
    char abs_target[4200];
    (void)state;
    mt_write_str(outside, "secret", "outside the model");
    mt_write_str(d, "sub/target", "target bytes");
    mt_write_str(d, "real", "real");
    mt_symlink(d, "link", "sub/target");
    mt_symlink(d, "sub/up", "../real");            /* inside, through .. */
    mt_symlink(d, "chain", "sub/./up");            /* a link to a link */
    mt_symlink(d, "dirlink", "sub");               /* a directory: skipped */
    mt_symlink(d, "dotlink", ".");                 /* the root itself: skipped */

    /* refused unless allowed */
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SYMLINK);
    assert_non_null(strstr(aios_last_error_message(), "symlink"));
    assert_null(w);

    o.allow_symlinks = 1;
    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    {
        static const char *const want[] = { "chain", "link", "real", "sub/target", "sub/up" };
        expect_names(w, want, 5);
    }
    e = find(w, "link");
    assert_int_equal(e->via_symlink, 1);
    assert_string_equal(e->open_path, "sub/target");
    assert_int_equal(e->size, 12);
    assert_string_equal(find(w, "sub/up")->open_path, "real");
    assert_string_equal(find(w, "chain")->open_path, "real");
    assert_int_equal(find(w, "chain")->ino, find(w, "real")->ino);
    aios__mf_walk_free(w);

    /* leaving the root: relative and absolute */
    mt_symlink(d, "sub/esc", "../../x/secret");
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SYMLINK);
    assert_non_null(strstr(aios_last_error_message(), "sub/esc"));
    assert_non_null(strstr(aios_last_error_message(), "outside"));
    unlink(mt_path(d, "sub/esc"));
    snprintf(abs_target, sizeof(abs_target), "%s/secret", outside);
    mt_symlink(d, "abs", abs_target);
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SYMLINK);
    assert_non_null(strstr(aios_last_error_message(), "'abs'"));
    unlink(mt_path(d, "abs"));
    /* an absolute link even into the root is refused (it would break when
     * the model moves) */
    snprintf(abs_target, sizeof(abs_target), "%s/real", d);
    mt_symlink(d, "abs-in", abs_target);
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SYMLINK);
    unlink(mt_path(d, "abs-in"));
    /* a link through a link that leaves */
    mt_symlink(d, "sub/out", "..");
    mt_symlink(d, "via", "sub/out/../real");    /* sub/out is the root, .. leaves it */
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SYMLINK);
    assert_non_null(strstr(aios_last_error_message(), "'via'"));
    unlink(mt_path(d, "via"));
    unlink(mt_path(d, "sub/out"));

    /* dangling */
    mt_symlink(d, "dangle", "nothing-here");
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SYMLINK);
    assert_non_null(strstr(aios_last_error_message(), "dangles"));
    unlink(mt_path(d, "dangle"));
    mt_symlink(d, "dangle2", "real/x");   /* a file used as a directory */
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SYMLINK);
    unlink(mt_path(d, "dangle2"));

    /* loops: two links, and one pointing at itself */
    mt_symlink(d, "loop/a", "b");
    mt_symlink(d, "loop/b", "a");
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SYMLINK);
    assert_non_null(strstr(aios_last_error_message(), "loops"));
    assert_non_null(strstr(aios_last_error_message(), "'loop/"));
    unlink(mt_path(d, "loop/a"));
    unlink(mt_path(d, "loop/b"));
    mt_symlink(d, "self", "self");
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SYMLINK);
    assert_non_null(strstr(aios_last_error_message(), "loops"));
    unlink(mt_path(d, "self"));
    /* a directory loop through a symlink is not descended */
    mt_symlink(d, "sub/again", "..");
    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    assert_int_equal(w->n, 5);
    aios__mf_walk_free(w);

    /* a link to a FIFO inside the root */
    mt_mkdir(d, "fifo-dir");
    assert_int_equal(mkfifo(mt_path(d, "fifo-dir/f"), 0644), 0);
    {
        const char *ign[] = { "fifo-dir" };
        o.ignore_paths = ign;
        o.ignore_paths_len = 1;
        mt_symlink(d, "tofifo", "fifo-dir/f");
        tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SPECIAL_FILE);
        assert_non_null(strstr(aios_last_error_message(), "tofifo"));
        o.ignore_paths_len = 0;
    }
    mt_rmtree(outside);
    mt_rmtree(d);
}

static void test_special_files(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk *w = NULL;
    struct sockaddr_un sa;
    int s;
    (void)state;
    mt_write_str(d, "ok", "ok");
    assert_int_equal(mkfifo(mt_path(d, "pipe"), 0644), 0);
    tu_assert_status(aios__mf_walk_path(&w, d, opts_null()), AIOS__E_MANIFEST_SPECIAL_FILE);
    assert_non_null(strstr(aios_last_error_message(), "'pipe' is a FIFO"));
    unlink(mt_path(d, "pipe"));

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    assert_true(strlen(mt_path(d, "sock")) < sizeof(sa.sun_path));
    strcpy(sa.sun_path, mt_path(d, "sock"));
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    tu_assert_status(aios__mf_walk_path(&w, d, opts_null()), AIOS__E_MANIFEST_SPECIAL_FILE);
    assert_non_null(strstr(aios_last_error_message(), "'sock' is a socket"));
    close(s);
    unlink(mt_path(d, "sock"));

    /* the model path itself */
    assert_int_equal(mkfifo(mt_path(d, "pipe2"), 0644), 0);
    tu_assert_status(aios__mf_walk_path(&w, mt_path(d, "pipe2"), opts_null()),
                     AIOS__E_MANIFEST_SPECIAL_FILE);
    tu_assert_status(aios__mf_walk_path(&w, "/dev/null", opts_null()), AIOS__E_MANIFEST_SPECIAL_FILE);
    assert_null(w);
    mt_rmtree(d);
}

static int walk_status(void *arg)
{
    aios__mf_walk *w = NULL;
    int rc = aios__mf_walk_path(&w, arg, opts_null());
    if (rc == AIOS_E_IO && strstr(aios_last_error_message(), "'locked'") == NULL)
        rc = -1000;   /* the message must name the directory */
    aios__mf_walk_free(w);
    return rc;
}

static void test_unreadable_dir(void **state)
{
    char *d = mt_tmpdir();
    (void)state;
    mt_write_str(d, "ok", "ok");
    mt_write_str(d, "locked/inner", "x");
    assert_int_equal(chmod(mt_path(d, "locked"), 0), 0);
    if (geteuid() == 0) {
        /* root reads anything: check it in a child without privileges */
        assert_int_equal(chmod(d, 0755), 0);
        assert_int_equal(mt_as_nobody(walk_status, d), AIOS_E_IO);
    } else {
        assert_int_equal(walk_status(d), AIOS_E_IO);
        assert_non_null(strstr(aios_last_error_message(), "Permission denied"));
    }
    mt_rmtree(d);
}

static void test_single_file(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk_options o = opts_default();
    aios__mf_walk *w = NULL;
    const char *ign[] = { "model.bin" };
    (void)state;
    mt_write_str(d, "model.bin", "weights");
    mt_write_str(d, "other", "not part of it");
    o.ignore_paths = ign;       /* ignore paths do not apply to a single file */
    o.ignore_paths_len = 1;
    tu_assert_ok(aios__mf_walk_path(&w, mt_path(d, "model.bin"), &o));
    assert_int_equal(w->single_file, 1);
    assert_int_equal(w->n, 1);
    assert_string_equal(w->entries[0].path, ".");
    assert_null(w->entries[0].open_path);
    assert_int_equal(w->entries[0].size, 7);
    aios__mf_walk_free(w);
    o.profile = AIOS__MF_PROFILE_OMS_1_0;
    tu_assert_ok(aios__mf_walk_path(&w, mt_path(d, "model.bin"), &o));
    assert_string_equal(w->entries[0].path, "model.bin");
    aios__mf_walk_free(w);

    /* a symlink as the model path is the caller's choice: followed */
    mt_symlink(d, "alias", "model.bin");
    tu_assert_ok(aios__mf_walk_path(&w, mt_path(d, "alias"), &o));
    assert_string_equal(w->entries[0].path, "alias");
    assert_int_equal(w->entries[0].size, 7);
    aios__mf_walk_free(w);

    tu_assert_status(aios__mf_walk_path(&w, mt_path(d, "missing"), &o), AIOS_E_NOT_FOUND);
    tu_assert_status(aios__mf_walk_path(&w, mt_path(d, "model.bin/x"), &o), AIOS_E_NOT_FOUND);
    tu_assert_status(aios__mf_walk_path(&w, NULL, &o), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__mf_walk_path(NULL, d, &o), AIOS_E_INVALID_ARGUMENT);
    o.profile = (aios__mf_profile)7;
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS_E_INVALID_ARGUMENT);
    mt_rmtree(d);
}

static void test_bad_names(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk *w = NULL;
    int fd;
    (void)state;
    mt_write_str(d, "sub/ok", "ok");
    mt_write_str(d, "sub/bad\xff\xfe", "latin-1 name");
    tu_assert_status(aios__mf_walk_path(&w, d, opts_null()), AIOS__E_MANIFEST_PATH);
    assert_non_null(strstr(aios_last_error_message(), "UTF-8"));
    assert_non_null(strstr(aios_last_error_message(), "'sub'"));
    unlink(mt_path(d, "sub/bad\xff\xfe"));
    /* an ignored directory's bad names do not matter */
    mt_write_str(d, "junk/bad\xc0\x80", "overlong NUL");
    {
        aios__mf_walk_options o = opts_default();
        const char *ign[] = { "junk" };
        o.ignore_paths = ign;
        o.ignore_paths_len = 1;
        tu_assert_ok(aios__mf_walk_path(&w, d, &o));
        assert_int_equal(w->n, 1);
        aios__mf_walk_free(w);
    }
    unlink(mt_path(d, "junk/bad\xc0\x80"));

    /* a path over 4096 bytes: 17 directories of 250 bytes */
    {
        char name[251];
        int i, cur = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        memset(name, 'n', 250);
        name[250] = '\0';
        assert_true(cur >= 0);
        for (i = 0; i < 17; i++) {
            int next;
            assert_int_equal(mkdirat(cur, name, 0755), 0);
            next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            assert_true(next >= 0);
            close(cur);
            cur = next;
        }
        fd = openat(cur, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
        close(cur);
        tu_assert_status(aios__mf_walk_path(&w, d, opts_null()), AIOS__E_MANIFEST_PATH);
        assert_non_null(strstr(aios_last_error_message(), "4096"));
    }
    mt_rmtree(d);
}

static void test_limits(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk_options o = opts_default();
    aios__mf_walk *w = NULL;
    int i, cur;
    (void)state;
    for (i = 0; i < 5; i++) {
        char n[16];
        snprintf(n, sizeof(n), "f%d", i);
        mt_write_str(d, n, n);
    }
    o.max_entries = 5;
    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    assert_int_equal(w->n, 5);
    aios__mf_walk_free(w);
    o.max_entries = 4;
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS_E_LIMIT);
    assert_null(w);

    /* depth: 127 nested directories are fine, 128 are not */
    cur = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cur >= 0);
    for (i = 0; i < 128; i++) {
        int next;
        assert_int_equal(mkdirat(cur, "d", 0755), 0);
        next = openat(cur, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(next >= 0);
        close(cur);
        cur = next;
        if (i == 126) {
            int fd = openat(cur, "leaf", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            assert_true(fd >= 0);
            close(fd);
        }
    }
    close(cur);
    o.max_entries = 0;
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS_E_LIMIT);
    assert_non_null(strstr(aios_last_error_message(), "deeper than 128"));
    {
        char p[300];
        size_t k;
        for (k = 0; k < 127; k++)
            memcpy(p + 2 * k, "d/", 2);
        memcpy(p + 254, "d", 2);   /* the 128th directory */
        assert_int_equal(rmdir(mt_path(d, p)), 0);
    }
    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    assert_int_equal(w->n, 6);
    assert_int_equal(w->entries[0].path_len, 127 * 2 + 4);   /* d/ x 127 + leaf */
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

static void test_open_beneath(void **state)
{
    char *d = mt_tmpdir();
    int root, fd;
    (void)state;
    mt_write_str(d, "a/b/file", "x");
    mt_symlink(d, "a/link", "b");
    mt_symlink(d, "a/b/flink", "file");
    root = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(root >= 0);
    fd = aios__mf_open_beneath(root, "a/b/file", 0);
    assert_true(fd >= 0);
    close(fd);
    assert_true(aios__mf_open_beneath(root, "a/link/file", 0) < 0);   /* symlink in the middle */
    assert_true(aios__mf_open_beneath(root, "a/b/flink", 0) < 0);     /* symlink at the end */
    assert_int_equal(errno, ELOOP);
    assert_true(aios__mf_open_beneath(root, "../x", 0) < 0);
    assert_true(aios__mf_open_beneath(root, "a/../../x", 0) < 0);
    assert_true(aios__mf_open_beneath(root, "/etc/passwd", 0) < 0);
    assert_true(aios__mf_open_beneath(root, "a/b/nothing", 0) < 0);
    assert_int_equal(errno, ENOENT);
    close(root);
    mt_rmtree(d);
}

/* ------------------------------------------------------------ threads */

/* A tree of 3 x 5 x 4 folders (plus files at every level, an ignored
 * folder, symlinks to files and to a folder) walked on 1, 2, 3, 8 and 64
 * threads: the same entries, field by field, in the same order. */
static char *mt_wide_tree(void)
{
    char *d = mt_tmpdir(), rel[128];
    int a, b, c;
    for (a = 0; a < 3; a++) {
        snprintf(rel, sizeof(rel), "a%d/top.txt", a);
        mt_write_str(d, rel, rel);
        for (b = 0; b < 5; b++) {
            for (c = 0; c < 4; c++) {
                snprintf(rel, sizeof(rel), "a%d/b%d/c%d/w%d.bin", a, b, c, a * 100 + b * 10 + c);
                mt_write_pattern(d, rel, (uint64_t)(a * 100 + b * 10 + c) * 7, (uint32_t)c);
            }
            snprintf(rel, sizeof(rel), "a%d/b%d/empty", a, b);
            mt_write(d, rel, "", 0);
        }
    }
    mt_write_str(d, "skip/inner/x", "x");
    mt_write_str(d, "root.txt", "r");
    mt_symlink(d, "a1/b2/link-to-top", "../top.txt");
    mt_symlink(d, "a2/dirlink", "../a0");
    return d;
}

static void test_threads_same(void **state)
{
    static const uint32_t counts[] = { 2, 3, 8, 64 };
    static const char *const ign[] = { "skip" };
    char *d = mt_wide_tree();
    aios__mf_walk_options o;
    aios__mf_walk *one = NULL, *w = NULL;
    size_t c, i;
    (void)state;
    memset(&o, 0, sizeof(o));
    o.allow_symlinks = 1;
    o.ignore_paths = ign;
    o.ignore_paths_len = 1;
    o.threads = 1;
    tu_assert_ok(aios__mf_walk_path(&one, d, &o));
    assert_int_equal(one->n, 3 + 3 * 5 * 4 + 3 * 5 + 1 + 1);
    assert_non_null(find(one, "a1/b2/link-to-top"));
    assert_null(find(one, "skip/inner/x"));
    for (c = 0; c < sizeof(counts) / sizeof(*counts); c++) {
        o.threads = counts[c];
        o.profile = c & 1 ? AIOS__MF_PROFILE_OMS_1_0 : AIOS__MF_PROFILE_MODEL_SIGNING_1;
        one->profile = o.profile;
        aios__mf_walk_free(one);
        one = NULL;
        {
            aios__mf_walk_options s1 = o;
            s1.threads = 1;
            tu_assert_ok(aios__mf_walk_path(&one, d, &s1));
        }
        tu_assert_ok(aios__mf_walk_path(&w, d, &o));
        assert_int_equal(w->n, one->n);
        assert_true(w->total_bytes == one->total_bytes);
        for (i = 0; i < w->n; i++) {
            const aios__mf_entry *x = &w->entries[i], *y = &one->entries[i];
            assert_string_equal(x->path, y->path);
            assert_int_equal(x->path_len, y->path_len);
            if (x->open_path == NULL || y->open_path == NULL)
                assert_ptr_equal(x->open_path, y->open_path);
            else
                assert_string_equal(x->open_path, y->open_path);
            assert_true(x->size == y->size && x->ino == y->ino && x->dev == y->dev);
            assert_int_equal(x->via_symlink, y->via_symlink);
        }
        aios__mf_walk_free(w);
        w = NULL;
    }
    aios__mf_walk_free(one);
    mt_rmtree(d);
}

static int count_fds(void)
{
    int n = 0, fd;
    for (fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

static atomic_int g_in_progress, g_progress_overlap, g_progress_calls;

static int progress_probe(uint64_t done, uint64_t total, const char *path, void *payload)
{
    int limit = *(const int *)payload;
    (void)done; (void)total; (void)path;
    if (atomic_fetch_add(&g_in_progress, 1) != 0)
        atomic_store(&g_progress_overlap, 1);
    usleep(200);   /* widen the window another thread could enter in */
    atomic_fetch_sub(&g_in_progress, 1);
    return atomic_fetch_add(&g_progress_calls, 1) + 1 >= limit;
}

/* Failures on many threads: the status and path of the one fault, no
 * descriptor left open, and a progress callback never entered twice. */
static void test_threads_failures(void **state)
{
    char *d = mt_wide_tree();
    aios__mf_walk_options o;
    aios__mf_walk *w = NULL;
    int fds = count_fds(), limit, i;
    (void)state;

    /* 600 more entries, so the progress callback (every 256) runs */
    for (i = 0; i < 600; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "a%d/b%d/many/f%d", i % 3, i % 5, i);
        mt_write(d, rel, "", 0);
    }
    memset(&o, 0, sizeof(o));
    o.threads = 8;
    o.allow_symlinks = 1;
    o.ignore_paths = (const char *const[]){ "skip" };
    o.ignore_paths_len = 1;
    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    aios__mf_walk_free(w);
    w = NULL;

    /* a FIFO deep in one folder */
    assert_int_equal(mkfifo(mt_path(d, "a2/b4/c3/fifo"), 0644), 0);
    for (i = 0; i < 20; i++) {
        tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SPECIAL_FILE);
        assert_null(w);
        assert_non_null(strstr(aios_last_error_message(), "a2/b4/c3/fifo"));
    }
    assert_int_equal(count_fds(), fds);
    assert_int_equal(unlink(mt_path(d, "a2/b4/c3/fifo")), 0);

    /* a symlink where none are allowed */
    o.allow_symlinks = 0;
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS__E_MANIFEST_SYMLINK);
    assert_int_equal(count_fds(), fds);
    o.allow_symlinks = 1;

    /* the entry limit, counted across threads */
    o.max_entries = 3 + 3 * 5 * 4 + 3 * 5 + 1 + 1 + 600 - 1;
    for (i = 0; i < 10; i++)
        tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS_E_LIMIT);
    o.max_entries++;
    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    aios__mf_walk_free(w);
    w = NULL;
    o.max_entries = 0;

    /* progress: never two threads at once; a non-zero return cancels */
    o.progress = progress_probe;
    o.progress_payload = &limit;
    limit = 1000;
    atomic_store(&g_progress_calls, 0);
    tu_assert_ok(aios__mf_walk_path(&w, d, &o));
    aios__mf_walk_free(w);
    w = NULL;
    assert_true(atomic_load(&g_progress_calls) >= 2);
    limit = 1;
    atomic_store(&g_progress_calls, 0);
    for (i = 0; i < 20; i++) {   /* the message is the cancelling thread's, every time */
        atomic_store(&g_progress_calls, 0);
        tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS_E_CANCELLED);
        assert_non_null(strstr(aios_last_error_message(), "cancelled by the progress callback"));
    }
    assert_int_equal(atomic_load(&g_progress_calls), 1);
    assert_int_equal(atomic_load(&g_progress_overlap), 0);
    assert_int_equal(count_fds(), fds);
    mt_rmtree(d);
}

/* A binary tree of folders, `levels` deep, a file in each leaf. */
static void binary_tree(const char *d, char *rel, size_t len, int levels)
{
    if (levels == 0) {
        snprintf(rel + len, 16, "%sleaf", len ? "/" : "");
        mt_write_str(d, rel, rel);
        rel[len] = '\0';
        return;
    }
    for (int i = 0; i < 2; i++) {
        size_t n = len + (size_t)snprintf(rel + len, 8, "%s%c", len ? "/" : "", 'l' + i);
        mt_mkdir(d, rel);
        binary_tree(d, rel, n, levels - 1);
        rel[len] = '\0';
    }
}

/* Few descriptors: each thread holds one per level it is in, and each
 * queued folder one, so 8 threads in a deep, wide tree need several times
 * what the caller's thread alone needs.  Under a limit the serial walk
 * fits in (found here, as it depends on what the process holds), the
 * threaded walk runs out, starts again on the caller's thread (walk.c
 * "Threads") and gives the same entries; below it, the serial failure is
 * reported.  The limit is put back by the teardown, whatever fails. */
static struct rlimit g_nofile;

static int restore_nofile(void **state)
{
    (void)state;
    return setrlimit(RLIMIT_NOFILE, &g_nofile);
}

static void test_threads_few_descriptors(void **state)
{
    char *d = mt_tmpdir(), rel[256] = "";
    aios__mf_walk_options o;
    aios__mf_walk *one = NULL, *w = NULL;
    struct rlimit low;
    size_t k, retries;
    int i, need;
    (void)state;
    if (tu_under_valgrind()) {
        /* valgrind keeps descriptors of its own above the client's limit
         * and refuses to lower it */
        mt_rmtree(d);
        skip();
    }
    binary_tree(d, rel, 0, 9);
    memset(&o, 0, sizeof(o));
    o.threads = 1;
    tu_assert_ok(aios__mf_walk_path(&one, d, &o));
    assert_int_equal(one->n, 512);

    /* the fewest free descriptors the serial walk needs */
    low = g_nofile;
    for (need = 2;; need++) {
        assert_true(need < 64);
        low.rlim_cur = mt_free_below(need);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        i = aios__mf_walk_path(&w, d, &o);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &g_nofile), 0);
        aios__mf_walk_free(w);
        w = NULL;
        if (i == AIOS_OK)
            break;
        tu_assert_status(i, AIOS_E_IO);
        assert_non_null(strstr(aios_last_error_message(), strerror(EMFILE)));
    }
    /* 8 threads with two more than that: they run out, and start again */
    low.rlim_cur = mt_free_below(need + 2);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    retries = aios__mf_walk_fd_retries();
    o.threads = 8;
    for (i = 0; i < 20; i++) {
        int rc = aios__mf_walk_path(&w, d, &o);
        if (rc != AIOS_OK)
            print_error("8 threads, %d descriptors free: %s\n", need + 2, aios_last_error_message());
        assert_int_equal(rc, AIOS_OK);
        assert_int_equal(w->n, one->n);
        for (k = 0; k < w->n; k++)
            assert_string_equal(w->entries[k].path, one->entries[k].path);
        aios__mf_walk_free(w);
        w = NULL;
    }
    print_message("serial walk: %d descriptors; 8 threads with %d: %zu of 20 walks started "
                  "again on one thread\n", need, need + 2, aios__mf_walk_fd_retries() - retries);
    assert_true(aios__mf_walk_fd_retries() > retries);
    /* a cancel is final: even when a thread ran out of descriptors too,
     * the walk is not started again and the callback not called again */
    {
        int limit = 1;
        o.progress = progress_probe;
        o.progress_payload = &limit;
        for (i = 0; i < 20; i++) {
            atomic_store(&g_progress_calls, 0);
            tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS_E_CANCELLED);
            assert_int_equal(atomic_load(&g_progress_calls), 1);
        }
        o.progress = NULL;
    }
    /* below what the serial walk needs, the failure is the serial one */
    low.rlim_cur = mt_free_below(need - 1);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    tu_assert_status(aios__mf_walk_path(&w, d, &o), AIOS_E_IO);
    assert_null(w);
    assert_non_null(strstr(aios_last_error_message(), strerror(EMFILE)));
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &g_nofile), 0);
    aios__mf_walk_free(one);
    mt_rmtree(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_check),
        cmocka_unit_test(test_orders),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_profiles_order),
        cmocka_unit_test(test_ignore_paths),
        cmocka_unit_test(test_exclude_file),
        cmocka_unit_test(test_symlinks),
        cmocka_unit_test(test_special_files),
        cmocka_unit_test(test_unreadable_dir),
        cmocka_unit_test(test_single_file),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_open_beneath),
    };
    const struct CMUnitTest threaded[] = {
        cmocka_unit_test(test_threads_same),
        cmocka_unit_test(test_threads_failures),
        cmocka_unit_test_teardown(test_threads_few_descriptors, restore_nofile),
    };
    int failed;
    if (aios_init() != AIOS_OK || getrlimit(RLIMIT_NOFILE, &g_nofile) != 0)
        return 1;
    g_threads = 0;
    failed = cmocka_run_group_tests_name("walk, the caller's thread", tests, NULL, NULL);
    g_threads = 4;
    failed += cmocka_run_group_tests_name("walk, 4 threads", tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("walk, threads", threaded, NULL, NULL);
    return failed;
}
