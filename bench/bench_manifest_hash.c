/*
 * bench_manifest_hash: GB/s of the model walker + parallel hasher
 * (lib/manifest, issue 5) from a warm page cache, 1 and 2 threads:
 *
 *   - one large file (default 1 GiB), files method;
 *   - the same file in 64 MiB shards (both threads busy on one file);
 *   - two files of half the size, files method;
 *   - 1000 small files (4 KiB..64 KiB) in 10 folders: files per second;
 *   - the raw SHA-256 kernel over an L2-resident buffer (the ceiling).
 *
 * usage: bench_manifest_hash [big_MiB (1024)] [dir (a new one in $TMPDIR)]
 * The files are made once (so they are in the page cache), then each
 * case runs three times and the best time counts.  The scratch folder is
 * removed at the end unless a dir was given.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aios/aios.h"
#include "bench_util.h"
#include "crypto/crypto.h"
#include "crypto/sha256.h"
#include "manifest/manifest_internal.h"

static void die(const char *what)
{
    fprintf(stderr, "bench_manifest_hash: %s: %s\n", what, aios_last_error_message());
    exit(1);
}

static void write_file(const char *path, uint64_t size, uint32_t seed)
{
    static uint8_t buf[1 << 20];
    uint64_t off = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t i;
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)((i * 2654435761u + seed) >> 13);
    while (off < size) {
        size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
        if (write(fd, buf, n) != (ssize_t)n) {
            perror(path);
            exit(1);
        }
        buf[0]++;
        off += n;
    }
    close(fd);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)f;
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

/* Walk + hash dir; returns the best of three, in seconds; *bytes the data. */
static double run(const char *dir, const char *const *ign, size_t nign, aios__mf_method m,
                  uint64_t shard, uint32_t threads, uint64_t *bytes, size_t *nres)
{
    double best = 1e300;
    int i;
    for (i = 0; i < 3; i++) {
        aios__mf_walk_options wo;
        aios__mf_hash_options ho;
        aios__mf_walk *w = NULL;
        aios__mf_result *r = NULL;
        double t0, t;
        memset(&wo, 0, sizeof(wo));
        memset(&ho, 0, sizeof(ho));
        wo.ignore_paths = ign;
        wo.ignore_paths_len = nign;
        ho.method = m;
        ho.shard_size = shard;
        ho.threads = threads;
        t0 = bench_now();
        if (aios__mf_walk_path(&w, dir, &wo) != AIOS_OK)
            die("walk");
        if (aios__mf_hash(&r, w, &ho) != AIOS_OK)
            die("hash");
        t = bench_now() - t0;
        if (t < best)
            best = t;
        *bytes = w->total_bytes;
        *nres = r->n;
        aios__mf_result_free(r);
        aios__mf_walk_free(w);
    }
    return best;
}

int main(int argc, char **argv)
{
    uint64_t big = (uint64_t)(argc > 1 ? atoi(argv[1]) : 1024) << 20;
    char dir[4096], p[4200];
    const char *base = getenv("TMPDIR");
    int own = argc <= 2, i;
    uint64_t bytes;
    size_t nres;
    uint32_t t;

    if (aios_init() != AIOS_OK)
        die("aios_init");
    if (own) {
        snprintf(dir, sizeof(dir), "%s/aios-bench-mf-XXXXXX", base && *base ? base : "/tmp");
        if (mkdtemp(dir) == NULL) {
            perror("mkdtemp");
            return 1;
        }
    } else {
        snprintf(dir, sizeof(dir), "%s", argv[2]);
        mkdir(dir, 0755);
    }
    printf("SHA-256 kernel: %s; big file %llu MiB; scratch %s\n", aios__sha256_kernel(),
           (unsigned long long)(big >> 20), dir);

    /* the ceiling: the kernel over a 256 KiB buffer */
    {
        static uint8_t buf[256 << 10];
        uint8_t out[32];
        double t0 = bench_now(), tt;
        int n = 0;
        memset(buf, 7, sizeof(buf));
        do {
            aios__sha256(out, buf, sizeof(buf));
            n++;
            tt = bench_now() - t0;
        } while (tt < 1.0);
        printf("%-44s %8.2f GB/s\n", "sha256 kernel, 256 KiB in cache, 1 thread",
               (double)n * sizeof(buf) / tt / 1e9);
    }

    snprintf(p, sizeof(p), "%s/one", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/one/big.bin", dir);
    write_file(p, big, 1);
    snprintf(p, sizeof(p), "%s/two", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/two/a.bin", dir);
    write_file(p, big / 2, 2);
    snprintf(p, sizeof(p), "%s/two/b.bin", dir);
    write_file(p, big / 2, 3);
    snprintf(p, sizeof(p), "%s/small", dir);
    mkdir(p, 0755);
    for (i = 0; i < 1000; i++) {
        snprintf(p, sizeof(p), "%s/small/d%d", dir, i % 10);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/small/d%d/f%04d.bin", dir, i % 10, i);
        write_file(p, 4096 + (uint64_t)(i * 7919 % 61440), (uint32_t)i);
    }

    for (t = 1; t <= 2; t++) {
        double s;
        snprintf(p, sizeof(p), "%s/one", dir);
        s = run(p, NULL, 0, AIOS__MF_FILES, 0, t, &bytes, &nres);
        printf("1 file, files method, %u thread%s %10.2f GB/s\n", t, t > 1 ? "s" : " ",
               (double)bytes / s / 1e9);
        s = run(p, NULL, 0, AIOS__MF_SHARDS, 64u << 20, t, &bytes, &nres);
        printf("1 file, 64 MiB shards (%zu), %u thread%s %6.2f GB/s\n", nres, t,
               t > 1 ? "s" : " ", (double)bytes / s / 1e9);
        snprintf(p, sizeof(p), "%s/two", dir);
        s = run(p, NULL, 0, AIOS__MF_FILES, 0, t, &bytes, &nres);
        printf("2 files, files method, %u thread%s %9.2f GB/s\n", t, t > 1 ? "s" : " ",
               (double)bytes / s / 1e9);
        snprintf(p, sizeof(p), "%s/small", dir);
        s = run(p, NULL, 0, AIOS__MF_FILES, 0, t, &bytes, &nres);
        printf("1000 small files, %u thread%s %13.2f GB/s  %8.0f files/s  %.2f ms\n", t,
               t > 1 ? "s" : " ", (double)bytes / s / 1e9, (double)nres / s, s * 1e3);
    }
    if (own)
        nftw(dir, rm_one, 32, FTW_DEPTH | FTW_PHYS);
    return 0;
}
