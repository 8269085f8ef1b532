/*
 * Crash safety: a child process rotates a key in a loop and reports each
 * rotation that returned through a pipe; it is killed with SIGKILL at a
 * random moment, at least 200 times.  After every kill the keyring must
 * open and hold every rotation the child acknowledged, whatever the child
 * left behind (a temp file is removed by the next writer).
 */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "test_keyring_util.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The child: rotate until killed, acknowledging each version. */
static void child_rotate(const char *path, int fd)
{
    aios_keyring_options o = kt_raw();
    aios_keyring *kr = NULL;
    o.lock_timeout_ms = 10000;
    if (aios_keyring_open(&kr, path, &o) != AIOS_OK)
        _exit(2);
    for (;;) {
        aios_key *k = NULL;
        uint32_t v;
        if (aios_keyring_rotate(kr, &k, "k") != AIOS_OK)
            _exit(3);
        v = aios_key_version(k);
        aios_key_unref(k);
        if (write(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
            _exit(4);
    }
}

static void test_sigkill_during_rotation(void **state)
{
    (void)state;
    char *dir = kt_tmpdir();
    const char *path = kt_path(dir, "crash.aioskr", 0);
    const char *tmp = kt_path(dir, "crash.aioskr.tmp", 1);
    aios_keyring_options o = kt_raw();
    aios_keyring *kr = NULL;
    int kills = tu_under_valgrind() ? 12 : 200;
    unsigned seed = (unsigned)time(NULL);
    uint32_t acked = 1, max_extra = 0;
    int temps_left = 0, rotations = 0;
    double t0 = now_s();

    print_message("seed %u\n", seed);
    srand(seed);

    for (int i = 0; i < kills; i++) {
        int p[2], status;
        uint32_t v, last = 0, primary;
        aios_key *k = NULL;
        pid_t pid;
        struct timespec delay;

        /* A fresh keyring every 25 kills keeps the file small however
         * fast the disk lets the child rotate. */
        if (i % 25 == 0) {
            (void)unlink(path);
            kr = NULL;
            o.lock_timeout_ms = 0;
            tu_assert_ok(aios_keyring_create(&kr, path, &o));
            tu_assert_ok(aios_keyring_add(kr, NULL, "k", AIOS_KEY_AES256, NULL));
            aios_keyring_free(kr);
            acked = 1;
        }

        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child_rotate(path, p[1]);
        }
        close(p[1]);
        /* Once the child is rotating, kill it anywhere in the next
         * rotations (each takes a few milliseconds of fsync). */
        if (read(p[0], &v, sizeof(v)) == (ssize_t)sizeof(v))
            last = v;
        delay.tv_sec = 0;
        delay.tv_nsec = (long)(rand() % 15000) * 1000L;
        nanosleep(&delay, NULL);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            fail_msg("kill %d: the child ended by itself (status 0x%x)", i, status);
        while (read(p[0], &v, sizeof(v)) == (ssize_t)sizeof(v))
            last = v;
        close(p[0]);
        assert_true(last > 0);
        assert_true(last >= acked);
        rotations += (int)(last - acked);
        acked = last;
        if (kt_exists(tmp))
            temps_left++;

        /* The keyring opens and holds every acknowledged rotation; at most
         * the one in flight is there too. */
        o.lock_timeout_ms = 0;
        kr = NULL;
        if (aios_keyring_open(&kr, path, &o) != AIOS_OK)
            fail_msg("kill %d: open failed: %s", i, aios_last_error_message());
        primary = kt_primary(kr, "k");
        if (primary < acked || primary > acked + 1)
            fail_msg("kill %d: primary %u, acknowledged %u", i, primary, acked);
        if (primary > acked)
            max_extra++;
        tu_assert_ok(aios_keyring_get(kr, &k, "k", acked));
        assert_int_equal(aios_key_get_state(k), primary == acked ? AIOS_KEY_ACTIVE
                                                                 : AIOS_KEY_DECRYPT_ONLY);
        aios_key_unref(k);
        /* The writer's open removed what the killed writer left. */
        assert_false(kt_exists(tmp));
        acked = primary;
        aios_keyring_free(kr);
    }
    print_message("%d kills in %.1f s: %d acknowledged rotations, %u written but not "
                  "acknowledged, %d temp files left behind\n", kills, now_s() - t0, rotations,
                  max_extra, temps_left);
    kt_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_during_rotation),
    };
    if (aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
