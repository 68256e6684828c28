/*
 * bench_rt.c - bench-rt: the routing table (core/rt.c) at N = 1000 backends,
 * m = 65537 slots: build time, lookup cost, and how many keys move when the
 * backend set changes.
 *
 * A lookup is what a worker does per request: rt_hash of a Call-ID-shaped
 * key plus rt_pick, over 64Ki distinct keys (the table, 128 KiB, stays in
 * L2 as it will on a busy worker). Every run checks the sum of the picks
 * against the first run's, and every pick against the accepted set, so a
 * broken table cannot look fast. Median of 5 runs on one pinned CPU.
 * Disruption is measured over 1M keys, by backend name.
 *
 *   $ build/bench-rt [lookups-per-run]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rt.h"

#define RUNS 5
#define N 1000
#define SEED 0x7669616475637421ull
#define NKEYS (1u << 16)
#define KEYLEN 40
#define NDISRUPT (1u << 20)

struct keys {
    char buf[NKEYS][KEYLEN];
    uint8_t len[NKEYS];
};

static void die(const char *what)
{
    fprintf(stderr, "bench-rt: %s\n", what);
    exit(1);
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *r)
{
    qsort(r, RUNS, sizeof(r[0]), cmp);
    return r[RUNS / 2];
}

/* n backends "10.0.x.y:5060", weight 1; first is the index of the first. */
static void backends(struct rt_backend *b, int n, int first)
{
    memset(b, 0, (size_t)n * sizeof(*b));
    for (int i = 0; i < n; i++) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&b[i].addr;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(5060);
        sin->sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)(first + i) + 1);
        b[i].addrlen = sizeof(*sin);
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        snprintf(b[i].name, sizeof(b[i].name), "%s:5060", ip);
        b[i].weight = 1;
    }
}

static struct rt_table *build(const struct rt_backend *b, int n)
{
    struct rt_table *t;
    char err[128];
    if (rt_table_build(b, n, RT_DEFAULT_SLOTS, SEED, &t, err, sizeof(err)) != 0)
        die(err);
    return t;
}

/* Call-ID-shaped keys: 16 hex digits, "@pc", 3 digits, ".example.com". */
static void make_keys(struct keys *k, uint32_t salt)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t s = 0x9e3779b97f4a7c15ull ^ salt;
    for (uint32_t i = 0; i < NKEYS; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        for (int j = 0; j < 16; j++)
            k->buf[i][j] = hex[(s >> (4 * j)) & 15];
        k->len[i] =
            (uint8_t)(16 + snprintf(k->buf[i] + 16, KEYLEN - 16, "@pc%03u.example.com", i % 1000));
    }
}

/* ns per lookup; *sum gets the sum of picks + 1, each checked accepted. */
static double lookups(const struct rt_table *t, const struct keys *k, const _Atomic uint8_t *st,
                      unsigned long n, uint64_t *sum)
{
    uint64_t s = 0;
    double t0 = now_ns();
    for (unsigned long i = 0; i < n; i++) {
        uint32_t j = (uint32_t)i & (NKEYS - 1);
        int b = rt_pick(t, rt_hash(t, span_make(k->buf[j], k->len[j])), st, RT_ACCEPT_UP);
        if (b < 0 || atomic_load_explicit(&st[b], memory_order_relaxed) != RT_UP)
            die("a lookup picked a backend that is not up");
        s += (uint64_t)b + 1;
    }
    double ns = (now_ns() - t0) / (double)n;
    *sum = s;
    return ns;
}

static double median_lookups(const struct rt_table *t, const struct keys *k,
                             const _Atomic uint8_t *st, unsigned long n)
{
    double r[RUNS];
    uint64_t want, got;
    lookups(t, k, st, n / 10 + 1, &want); /* warm-up */
    lookups(t, k, st, n, &want);
    for (int i = 0; i < RUNS; i++) {
        r[i] = lookups(t, k, st, n, &got);
        if (got != want)
            die("the picks changed between runs");
    }
    return median(r);
}

/* Fraction of NDISRUPT keys whose backend (by name) differs from a to b,
 * each under its own state array (NULL: all up). */
static double moved(const struct rt_table *a, const _Atomic uint8_t *sa, const struct rt_table *b,
                    const _Atomic uint8_t *sb, const _Atomic uint8_t *up)
{
    uint32_t n = 0;
    for (uint64_t i = 0; i < NDISRUPT; i++) {
        uint64_t ha = rt_hash(a, span_make((const char *)&i, sizeof(i)));
        uint64_t hb = rt_hash(b, span_make((const char *)&i, sizeof(i)));
        int x = rt_pick(a, ha, sa != NULL ? sa : up, RT_ACCEPT_UP);
        int y = rt_pick(b, hb, sb != NULL ? sb : up, RT_ACCEPT_UP);
        n += strcmp(a->b[x].name, b->b[y].name) != 0;
    }
    return (double)n / NDISRUPT;
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000000UL;
    static struct rt_backend b[N + 1];
    static struct keys k;
    static _Atomic uint8_t up[RT_MAX_BACKENDS], one_down[RT_MAX_BACKENDS];
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof(set), &set);

    backends(b, N + 1, 0);
    double r[RUNS];
    rt_table_free(build(b, N)); /* warm-up: page faults of the first malloc */
    for (int i = 0; i < RUNS; i++) {
        double t0 = now_ns();
        struct rt_table *t = build(b, N);
        r[i] = now_ns() - t0;
        rt_table_free(t);
    }
    double build_ms = median(r) / 1e6;

    struct rt_table *t = build(b, N);
    make_keys(&k, 1);
    int down = rt_find(t, b[N / 2].name);
    for (int i = 0; i < N; i++) {
        atomic_store(&up[i], RT_UP);
        atomic_store(&one_down[i], i == down ? RT_DOWN : RT_UP);
    }
    double ns_up = median_lookups(t, &k, up, n);
    double ns_down = median_lookups(t, &k, one_down, n);

    /* the down backend's own keys only: every one takes the probe path */
    static struct keys kd;
    uint32_t nd = 0;
    for (uint32_t salt = 2; nd < NKEYS; salt++) {
        make_keys(&k, salt);
        for (uint32_t i = 0; i < NKEYS && nd < NKEYS; i++)
            if (rt_primary(t, rt_hash(t, span_make(k.buf[i], k.len[i]))) == down) {
                memcpy(kd.buf[nd], k.buf[i], KEYLEN);
                kd.len[nd++] = k.len[i];
            }
    }
    double ns_moved = median_lookups(t, &kd, one_down, n);

    /* disruption, each versus the table of N, all up */
    struct rt_table *less = build(b + 1, N - 1); /* 10.0.0.1 removed */
    struct rt_table *more = build(b, N + 1);     /* one more added */
    double d_down = moved(t, NULL, t, one_down, up);
    double d_removed = moved(t, NULL, less, NULL, up);
    double d_added = moved(t, NULL, more, NULL, up);
    double s_removed = (double)rt_slots_changed(t, less) / t->m;
    double s_added = (double)rt_slots_changed(t, more) / t->m;

    printf("viaduct rt bench: N = %d backends, m = %u slots, weight 1 each; median of %d, "
           "pinned to CPU 0\n",
           N, t->m, RUNS);
    printf("%-44s %12.3f ms\n", "table build", build_ms);
    printf("%-44s %12.1f ns\n", "lookup (rt_hash + rt_pick), all up", ns_up);
    printf("%-44s %12.1f ns\n", "lookup, one backend down, all keys", ns_down);
    printf("%-44s %12.1f ns\n", "lookup, one backend down, its keys only", ns_moved);
    printf("%-44s %12s %12s %12s\n", "disruption vs the table of N, all up", "keys moved",
           "slots moved", "ideal");
    printf("%-44s %12.5f %12s %12.5f\n", "  one backend down", d_down, "0", 1.0 / N);
    printf("%-44s %12.5f %12.5f %12.5f\n", "  one backend removed from the config", d_removed,
           s_removed, 1.0 / N);
    printf("%-44s %12.5f %12.5f %12.5f\n", "  one backend added to the config", d_added, s_added,
           1.0 / (N + 1));
    rt_table_free(t);
    rt_table_free(less);
    rt_table_free(more);
    return 0;
}
