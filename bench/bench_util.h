/*
 * bench_util.h: the timing loop every benchmark in bench/ shares.
 *
 * bench_measure(fn, arg): ns per call of fn, the best of BENCH_ROUNDS
 *   rounds of bench_budget / BENCH_ROUNDS seconds each, so a noisy
 *   neighbour does not set the figure.
 * bench_measure_pair(a, b, arg, &ns_a, &ns_b): two functions in
 *   alternating rounds, best round of each, so a frequency change or a
 *   neighbour hits both alike (for ratios against a ceiling).
 */
#ifndef AIOS_BENCH_UTIL_H
#define AIOS_BENCH_UTIL_H

#include <time.h>

#define BENCH_ROUNDS 5

/* Seconds per case; a benchmark's first argument may change it. */
static double bench_budget = 0.5;

typedef void (*bench_fn)(void *arg);

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run fn in growing batches until secs is spent; ns per call. */
static inline double bench_measure_for(bench_fn fn, void *arg, double secs)
{
    unsigned long n = 0, batch = 1;
    double t0 = bench_now(), t;
    for (;;) {
        for (unsigned long i = 0; i < batch; i++)
            fn(arg);
        n += batch;
        t = bench_now() - t0;
        if (t >= secs)
            break;
        if (batch < (1ul << 16))
            batch *= 2;
    }
    return t * 1e9 / (double)n;
}

static inline double bench_measure(bench_fn fn, void *arg)
{
    double best = 1e300;
    for (int r = 0; r < BENCH_ROUNDS; r++) {
        double x = bench_measure_for(fn, arg, bench_budget / BENCH_ROUNDS);
        if (x < best)
            best = x;
    }
    return best;
}

static inline void bench_measure_pair(bench_fn a, bench_fn b, void *arg, double *ns_a,
                                      double *ns_b)
{
    *ns_a = *ns_b = 1e300;
    for (int r = 0; r < BENCH_ROUNDS; r++) {
        double x = bench_measure_for(a, arg, bench_budget / BENCH_ROUNDS);
        double y = bench_measure_for(b, arg, bench_budget / BENCH_ROUNDS);
        if (x < *ns_a)
            *ns_a = x;
        if (y < *ns_b)
            *ns_b = y;
    }
}

#endif /* AIOS_BENCH_UTIL_H */
