/*
 * test_rt.c - core/rt.c: the Maglev table and the health-aware pick.
 *
 * The tests measure and assert what issue 4 asks of the table: balance of
 * equal backends (N = 2..1000, max/mean <= 1.01 at m = 65537, on slots and on
 * 1M keys where 1M keys can resolve 1%), weights within 1%, one backend down
 * moving only its keys and spreading them (max <= 1.1 x mean), a removal
 * moving at most 1/N + 1% of keys, order independence, determinism (pinned by
 * golden checksums, so gcc and clang builds must agree), the edge cases, and
 * that lookups allocate nothing. Measured numbers are printed.
 *
 * Allocation is counted by wrapping malloc/calloc/realloc at link time
 * (-Wl,--wrap=..., test_rt's Makefile rule): rt.h has no allocator seam, and
 * the wrap sees every call rt.o makes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <xxhash.h>

#include "core/rt.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SEED 0x7669616475637421ull /* "viaduct!" */
#define M RT_DEFAULT_SLOTS
#define NKEYS (1u << 20)

/* ---- allocation counting (linked with --wrap) ---- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t nmemb, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *p, size_t size);

static unsigned long alloc_calls;
static int alloc_fail; /* while set, every allocation fails */

void *__wrap_malloc(size_t size)
{
    alloc_calls++;
    return alloc_fail ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
    alloc_calls++;
    return alloc_fail ? NULL : __real_calloc(nmemb, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    alloc_calls++;
    return alloc_fail ? NULL : __real_realloc(p, size);
}

/* ---- fixtures ---- */

/* n backends named by address, "10.a.b.c:5060", as a config without names
 * would name them; weight w[i % nw], or 1 without w. */
static struct rt_backend *backends(int n, const uint32_t *w, size_t nw)
{
    struct rt_backend *b = calloc((size_t)n > 0 ? (size_t)n : 1, sizeof(*b));
    assert_non_null(b);
    for (int i = 0; i < n; i++) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&b[i].addr;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(5060);
        sin->sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)i + 1);
        b[i].addrlen = sizeof(*sin);
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        snprintf(b[i].name, sizeof(b[i].name), "%s:5060", ip);
        b[i].weight = w != NULL ? w[(size_t)i % nw] : 1;
    }
    return b;
}

static struct rt_table *build(const struct rt_backend *b, int n, uint32_t m)
{
    struct rt_table *t = NULL;
    char err[128] = "";
    if (rt_table_build(b, n, m, SEED, &t, err, sizeof(err)) != 0)
        fail_msg("rt_table_build(n = %d, m = %u): %s", n, m, err);
    assert_non_null(t);
    return t;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Call-IDs as UAs make them, "<16 hex>@pc<n>.example.com", hashed under SEED
 * (every table here uses it, so one array serves all of a test's tables). */
static uint64_t *key_hashes(const struct rt_table *t, uint32_t nkeys, uint64_t salt)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t *h = malloc((size_t)nkeys * sizeof(*h));
    assert_non_null(h);
    uint64_t s = 0x9e3779b97f4a7c15ull ^ salt;
    char buf[64];
    for (uint32_t k = 0; k < nkeys; k++) {
        uint64_t r = xorshift(&s);
        for (int j = 0; j < 16; j++)
            buf[j] = hex[(r >> (4 * j)) & 15];
        int len = 16 + snprintf(buf + 16, sizeof(buf) - 16, "@pc%u.example.com", k % 1000);
        h[k] = rt_hash(t, span_make(buf, (size_t)len));
    }
    return h;
}

static void set_all(_Atomic uint8_t *st, int n, uint8_t s)
{
    for (int i = 0; i < n; i++)
        atomic_store_explicit(&st[i], s, memory_order_relaxed);
}

static double max_over_mean(const uint32_t *count, int n, double total)
{
    uint32_t mx = 0;
    for (int i = 0; i < n; i++)
        if (count[i] > mx)
            mx = count[i];
    return mx / (total / n);
}

static void slot_counts(const struct rt_table *t, uint32_t *count)
{
    memset(count, 0, (size_t)t->n * sizeof(*count));
    for (uint32_t s = 0; s < t->m; s++) {
        assert_true(t->slot[s] < t->n);
        count[t->slot[s]]++;
    }
}

/* ---- balance and weights ---- */

static void test_rt_balances_2_to_1024_equal_backends_within_1_percent(void **state)
{
    (void)state;
    static const int ns[] = {2, 3, 5, 7, 10, 50, 100, 500, 1000, 1024};
    uint32_t *count = calloc(RT_MAX_BACKENDS, sizeof(*count));
    uint64_t *h = NULL;
    for (size_t c = 0; c < ARRAY_LEN(ns); c++) {
        int n = ns[c];
        struct rt_backend *b = backends(n, NULL, 0);
        struct rt_table *t = build(b, n, M);
        slot_counts(t, count);
        double slots = max_over_mean(count, n, M);
        uint32_t mn = UINT32_MAX;
        for (int i = 0; i < n; i++)
            mn = count[i] < mn ? count[i] : mn;
        /* each holds floor(m/n) or ceil(m/n) slots: max/mean <= 1.01 needs
         * m/n >= 100 or so, which m = 65537 gives up to N = 1000 (1.0156 at
         * 1024, all of it rounding) */
        assert_true(mn >= M / (uint32_t)n);
        assert_true(mn + 1 >= (uint32_t)(slots * M / n + 0.5));
        if (n <= 1000)
            assert_true(slots <= 1.01);
        /* 1M keys resolve 1% only while each backend gets 100k: sigma 0.3% */
        if (n <= 10) {
            if (h == NULL)
                h = key_hashes(t, NKEYS, 1);
            memset(count, 0, (size_t)n * sizeof(*count));
            for (uint32_t k = 0; k < NKEYS; k++)
                count[rt_primary(t, h[k])]++;
            double keys = max_over_mean(count, n, NKEYS);
            print_message("  N = %4d: slots max/mean %.4f, 1M keys max/mean %.4f\n", n, slots,
                          keys);
            assert_true(keys <= 1.01);
        } else {
            print_message("  N = %4d: slots max/mean %.4f\n", n, slots);
        }
        rt_table_free(t);
        free(b);
    }
    free(h);
    free(count);
}

static void test_rt_honours_weights_within_1_percent(void **state)
{
    (void)state;
    uint32_t count[RT_MAX_BACKENDS];
    static const uint32_t w1234[] = {1, 2, 3, 4};
    struct rt_backend *b = backends(4, w1234, 4);
    struct rt_table *t = build(b, 4, M);
    uint64_t *h = key_hashes(t, NKEYS, 2);
    slot_counts(t, count);
    uint32_t keys[4] = {0};
    for (uint32_t k = 0; k < NKEYS; k++)
        keys[rt_primary(t, h[k])]++;
    for (int i = 0; i < 4; i++) {
        double share = t->b[i].weight / 10.0;
        double es = count[i] / (share * M), ek = keys[i] / (share * NKEYS);
        print_message("  weight %u: slots %u (x%.4f of its share), 1M keys x%.4f\n", t->b[i].weight,
                      count[i], es, ek);
        assert_true(es >= 0.99 && es <= 1.01);
        assert_true(ek >= 0.99 && ek <= 1.01);
    }
    rt_table_free(t);
    free(b);
    free(h);

    /* 100 backends of weights 1..5: the lightest hold ~218 slots each */
    static const uint32_t w5[] = {1, 2, 3, 4, 5};
    b = backends(100, w5, 5);
    t = build(b, 100, M);
    slot_counts(t, count);
    double worst = 1;
    for (int i = 0; i < 100; i++) {
        double e = count[i] / ((double)t->b[i].weight / 300.0 * M);
        worst = (e > 1 ? e - 1 : 1 - e) > (worst > 1 ? worst - 1 : 1 - worst) ? e : worst;
        assert_true(e >= 0.99 && e <= 1.01);
    }
    print_message("  100 backends, weights 1..5: worst slots/share x%.4f\n", worst);
    rt_table_free(t);
    free(b);

    /* skewed weights on small rings: each count within one slot of its share */
    static const struct {
        uint32_t m;
        int n;
        uint32_t w[3];
    } small[] = {{7, 2, {1, 2}}, {7, 3, {1, 1, 5}}, {11, 3, {1, 3, 7}}, {11, 2, {1, 10}}};
    for (size_t c = 0; c < ARRAY_LEN(small); c++) {
        b = backends(small[c].n, small[c].w, (size_t)small[c].n);
        t = build(b, small[c].n, small[c].m);
        slot_counts(t, count);
        uint32_t sum = 0;
        for (int i = 0; i < t->n; i++)
            sum += t->b[i].weight;
        for (int i = 0; i < t->n; i++) {
            double e = (double)t->m * t->b[i].weight / sum;
            assert_true(count[i] > e - 1 && count[i] < e + 1);
        }
        rt_table_free(t);
        free(b);
    }
}

/* ---- health ---- */

/* Backend `down` of n goes down: keys of the others stay, its keys spread. */
static void one_down(int n, const uint32_t *w, size_t nw, int down, double limit)
{
    struct rt_backend *b = backends(n, w, nw);
    struct rt_table *t = build(b, n, M);
    uint64_t *h = key_hashes(t, NKEYS, 3 + (uint64_t)n);
    _Atomic uint8_t st[RT_MAX_BACKENDS];
    uint32_t got[RT_MAX_BACKENDS] = {0};
    set_all(st, n, RT_UP);
    atomic_store(&st[down], RT_DOWN);
    uint32_t moved = 0;
    uint64_t wsum = 0;
    for (int i = 0; i < n; i++)
        wsum += i == down ? 0 : t->b[i].weight;
    for (uint32_t k = 0; k < NKEYS; k++) {
        int p = rt_primary(t, h[k]), q = rt_pick(t, h[k], st, RT_ACCEPT_UP);
        if (p != down) {
            if (q != p)
                fail_msg("key %u moved from up backend %d to %d", k, p, q);
            continue;
        }
        assert_true(q >= 0 && q < n && q != down);
        got[q]++;
        moved++;
    }
    double worst = 0;
    for (int i = 0; i < n; i++) {
        if (i == down)
            continue;
        double r = got[i] / ((double)moved * t->b[i].weight / (double)wsum);
        worst = r > worst ? r : worst;
    }
    print_message("  N = %2d%s, one down: %.4f of 1M keys moved, busiest receiver x%.4f of "
                  "its share\n",
                  n, w != NULL ? " weighted" : "", (double)moved / NKEYS, worst);
    assert_true(worst <= limit);
    rt_table_free(t);
    free(b);
    free(h);
}

static void test_rt_one_down_moves_only_its_keys_and_spreads_them(void **state)
{
    (void)state;
    /* moved keys per receiver: 1M/N/(N-1); at N = 20 that is 2,600, sigma 2% */
    one_down(5, NULL, 0, 2, 1.1);
    one_down(10, NULL, 0, 7, 1.1);
    one_down(20, NULL, 0, 0, 1.1);
    static const uint32_t w[] = {1, 2, 3, 4};
    one_down(4, w, 4, 3, 1.02); /* spread in proportion to weights 1:2:3 */
}

/* Most of the weight down: the probes often miss and rendezvous decides. */
static void test_rt_fallback_with_most_backends_down_is_weighted_and_stable(void **state)
{
    (void)state;
    static const uint32_t w[] = {1, 2, 3};
    const int n = 100;
    struct rt_backend *b = backends(n, NULL, 0);
    for (int i = 0; i < 3; i++)
        b[10 + 30 * i].weight = w[i];
    struct rt_table *t = build(b, n, M);
    uint64_t *h = key_hashes(t, NKEYS, 4);
    _Atomic uint8_t st[RT_MAX_BACKENDS];
    set_all(st, n, RT_DOWN);
    int up[3];
    for (int i = 0; i < 3; i++) {
        up[i] = rt_find(t, b[10 + 30 * i].name);
        atomic_store(&st[up[i]], RT_UP);
    }
    int *first = malloc(NKEYS * sizeof(*first));
    uint32_t got[3] = {0};
    for (uint32_t k = 0; k < NKEYS; k++) {
        int q = rt_pick(t, h[k], st, RT_ACCEPT_UP);
        first[k] = q;
        int j = q == up[0] ? 0 : q == up[1] ? 1 : q == up[2] ? 2 : -1;
        if (j < 0)
            fail_msg("key %u went to backend %d, which is down", k, q);
        got[j]++;
    }
    for (int i = 0; i < 3; i++) {
        double r = got[i] / (NKEYS * w[i] / 6.0);
        print_message("  97 of 100 down: weight %u receives x%.4f of its share\n", w[i], r);
        assert_true(r >= 0.98 && r <= 1.02);
    }
    /* the heaviest goes down too: only its keys move, to the other two */
    atomic_store(&st[up[2]], RT_DOWN);
    uint32_t moved = 0, to0 = 0;
    for (uint32_t k = 0; k < NKEYS; k++) {
        int q = rt_pick(t, h[k], st, RT_ACCEPT_UP);
        if (first[k] != up[2]) {
            assert_int_equal(q, first[k]);
            continue;
        }
        assert_true(q == up[0] || q == up[1]);
        moved++;
        to0 += q == up[0];
    }
    double r0 = to0 / (moved / 3.0);
    print_message("  then 98 down: %.4f of keys moved, weight 1 gets x%.4f of its share\n",
                  (double)moved / NKEYS, r0);
    assert_true(r0 >= 0.97 && r0 <= 1.03);
    free(first);
    rt_table_free(t);
    free(b);
    free(h);
}

static void test_rt_pick_depends_only_on_the_accepted_set(void **state)
{
    (void)state;
    const int n = 10;
    struct rt_backend *b = backends(n, NULL, 0);
    struct rt_table *t = build(b, n, M);
    uint64_t *h = key_hashes(t, 1u << 16, 5);
    _Atomic uint8_t down[RT_MAX_BACKENDS], drain[RT_MAX_BACKENDS];
    set_all(down, n, RT_UP);
    set_all(drain, n, RT_UP);
    atomic_store(&down[3], RT_DOWN);
    atomic_store(&drain[3], RT_DRAINING);
    atomic_store(&down[8], RT_DRAINING);
    atomic_store(&drain[8], RT_DOWN);
    for (uint32_t k = 0; k < (1u << 16); k++)
        assert_int_equal(rt_pick(t, h[k], down, RT_ACCEPT_UP),
                         rt_pick(t, h[k], drain, RT_ACCEPT_UP));
    rt_table_free(t);
    free(b);
    free(h);
}

static void test_rt_draining_backend_keeps_keys_only_when_draining_is_accepted(void **state)
{
    (void)state;
    const int n = 10, d = 4;
    struct rt_backend *b = backends(n, NULL, 0);
    struct rt_table *t = build(b, n, M);
    uint64_t *h = key_hashes(t, 1u << 18, 6);
    _Atomic uint8_t st[RT_MAX_BACKENDS];
    set_all(st, n, RT_UP);
    atomic_store(&st[d], RT_DRAINING);
    uint32_t own = 0;
    for (uint32_t k = 0; k < (1u << 18); k++) {
        int p = rt_primary(t, h[k]);
        int in_dialog = rt_pick(t, h[k], st, RT_ACCEPT_UP_OR_DRAINING);
        int fresh = rt_pick(t, h[k], st, RT_ACCEPT_UP);
        assert_int_equal(in_dialog, p);
        if (p == d) {
            own++;
            assert_true(fresh != d && fresh >= 0);
        } else {
            assert_int_equal(fresh, p);
        }
    }
    assert_true(own > 0);
    /* down is accepted by neither mask */
    atomic_store(&st[d], RT_DOWN);
    for (uint32_t k = 0; k < (1u << 18); k++)
        assert_int_not_equal(rt_pick(t, h[k], st, RT_ACCEPT_UP_OR_DRAINING), d);
    rt_table_free(t);
    free(b);
    free(h);
}

static void test_rt_all_down_or_none_accepted_returns_minus_1(void **state)
{
    (void)state;
    const int n = 50;
    struct rt_backend *b = backends(n, NULL, 0);
    struct rt_table *t = build(b, n, M);
    uint64_t *h = key_hashes(t, 4096, 7);
    _Atomic uint8_t st[RT_MAX_BACKENDS];
    set_all(st, n, RT_DOWN);
    for (uint32_t k = 0; k < 4096; k++) {
        assert_int_equal(rt_pick(t, h[k], st, RT_ACCEPT_UP), -1);
        assert_int_equal(rt_pick(t, h[k], st, RT_ACCEPT_UP_OR_DRAINING), -1);
    }
    set_all(st, n, RT_DRAINING);
    for (uint32_t k = 0; k < 4096; k++) {
        assert_int_equal(rt_pick(t, h[k], st, RT_ACCEPT_UP), -1);
        assert_int_equal(rt_pick(t, h[k], st, RT_ACCEPT_UP_OR_DRAINING), rt_primary(t, h[k]));
    }
    set_all(st, n, 200); /* an unknown state is never accepted */
    assert_int_equal(rt_pick(t, h[0], st, ~0u), -1);
    rt_table_free(t);
    free(b);
    free(h);
}

/* ---- configuration changes ---- */

/* Fraction of keys whose backend (by name) differs between tables a and b. */
static double keys_moved(const struct rt_table *a, const struct rt_table *b, const uint64_t *h,
                         uint32_t nkeys)
{
    uint32_t moved = 0;
    for (uint32_t k = 0; k < nkeys; k++)
        moved += strcmp(a->b[rt_primary(a, h[k])].name, b->b[rt_primary(b, h[k])].name) != 0;
    return (double)moved / nkeys;
}

static void test_rt_removing_1_of_n_moves_at_most_1_over_n_plus_1_percent(void **state)
{
    (void)state;
    static const int ns[] = {2, 5, 10, 100, 1000};
    uint64_t *h = NULL;
    for (size_t c = 0; c < ARRAY_LEN(ns); c++) {
        int n = ns[c];
        struct rt_backend *b = backends(n, NULL, 0);
        struct rt_table *full = build(b, n, M);
        if (h == NULL)
            h = key_hashes(full, NKEYS, 8);
        b[n / 3] = b[n - 1]; /* drop backend n/3; order does not matter */
        struct rt_table *less = build(b, n - 1, M);
        double slots = (double)rt_slots_changed(full, less) / M;
        double keys = keys_moved(full, less, h, NKEYS);
        print_message("  N = %4d, one removed: %.4f of slots, %.4f of 1M keys moved "
                      "(1/N = %.4f)\n",
                      n, slots, keys, 1.0 / n);
        assert_true(slots <= 1.0 / n + 0.01);
        assert_true(keys <= 1.0 / n + 0.01);
        assert_true(keys >= 1.0 / n * 0.95); /* its own keys must move */
        rt_table_free(full);
        rt_table_free(less);
        free(b);
    }
    free(h);
}

static void test_rt_builds_identical_tables_from_shuffled_backends(void **state)
{
    (void)state;
    static const uint32_t w[] = {1, 3, 2, 5, 1, 1, 4};
    const int n = 200;
    struct rt_backend *b = backends(n, w, ARRAY_LEN(w));
    struct rt_table *a = build(b, n, M);
    uint64_t s = 42;
    for (int round = 0; round < 3; round++) {
        for (int i = n - 1; i > 0; i--) {
            int j = (int)(xorshift(&s) % (uint64_t)(i + 1));
            struct rt_backend tmp = b[i];
            b[i] = b[j];
            b[j] = tmp;
        }
        struct rt_table *t = build(b, n, M);
        assert_int_equal(t->n, a->n);
        assert_memory_equal(t->b, a->b, (size_t)n * sizeof(*b));
        assert_memory_equal(t->slot, a->slot, (size_t)M * sizeof(uint16_t));
        assert_int_equal(rt_slots_changed(a, t), 0);
        rt_table_free(t);
    }
    for (int i = 1; i < n; i++)
        assert_true(strcmp(a->b[i - 1].name, a->b[i].name) < 0);
    rt_table_free(a);
    free(b);
}

/*
 * The golden values pin the table and the fallback of a fixed configuration:
 * instances with the same backends must agree whatever compiler, version or
 * machine built them. If one changes on purpose, every instance of a
 * deployment must be upgraded together; say so in the commit.
 */
#define GOLDEN_SLOTS 0x766f1c2fd3fa898eull
#define GOLDEN_PICKS 0x4ad720d3761c8313ull

static void test_rt_is_deterministic_across_builds_and_compilers(void **state)
{
    (void)state;
    static const uint32_t w[] = {2, 1, 1, 3};
    const int n = 37;
    struct rt_backend *b = backends(n, w, ARRAY_LEN(w));
    struct rt_table *x = build(b, n, M), *y = build(b, n, M);
    assert_memory_equal(x->slot, y->slot, (size_t)M * sizeof(uint16_t));
    uint64_t slots = XXH3_64bits(x->slot, (size_t)M * sizeof(uint16_t));

    /* the picks with 33 of 37 down exercise probes and rendezvous */
    uint32_t nk = 1u << 16;
    uint64_t *h = key_hashes(x, nk, 9);
    _Atomic uint8_t st[RT_MAX_BACKENDS];
    set_all(st, n, RT_DOWN);
    for (int i = 0; i < n; i += 9)
        atomic_store(&st[i], RT_UP);
    uint16_t *picks = malloc(nk * sizeof(*picks));
    for (uint32_t k = 0; k < nk; k++) {
        picks[k] = (uint16_t)rt_pick(x, h[k], st, RT_ACCEPT_UP);
        assert_int_equal(picks[k], rt_pick(y, h[k], st, RT_ACCEPT_UP));
    }
    uint64_t pk = XXH3_64bits(picks, nk * sizeof(*picks));
    print_message("  slots checksum 0x%016llx, picks checksum 0x%016llx\n",
                  (unsigned long long)slots, (unsigned long long)pk);
    assert_int_equal(slots, GOLDEN_SLOTS);
    assert_int_equal(pk, GOLDEN_PICKS);
    free(picks);
    free(h);
    rt_table_free(x);
    rt_table_free(y);
    free(b);
}

/* ---- edges, lookups by name, change counting, rejects ---- */

static void test_rt_handles_0_and_1_backends(void **state)
{
    (void)state;
    _Atomic uint8_t st[1] = {RT_UP};
    struct rt_table *t = build(NULL, 0, 0);
    assert_int_equal(t->m, RT_DEFAULT_SLOTS);
    assert_int_equal(t->n, 0);
    uint64_t h = rt_hash(t, SPAN_LIT("a84b4c76e66710@pc33.example.com"));
    assert_int_equal(rt_primary(t, h), -1);
    assert_int_equal(rt_pick(t, h, st, RT_ACCEPT_UP), -1);
    assert_int_equal(rt_find(t, "10.0.0.1:5060"), -1);
    assert_int_equal(rt_slots_changed(t, t), 0);
    rt_table_free(t);

    struct rt_backend *b = backends(1, NULL, 0);
    t = build(b, 1, 11);
    for (uint32_t s = 0; s < t->m; s++)
        assert_int_equal(t->slot[s], 0);
    for (uint64_t k = 0; k < 1000; k++) {
        h = rt_hash(t, span_make((const char *)&k, sizeof(k)));
        assert_int_equal(rt_pick(t, h, st, RT_ACCEPT_UP), 0);
    }
    atomic_store(&st[0], RT_DOWN);
    assert_int_equal(rt_pick(t, h, st, RT_ACCEPT_UP), -1);
    rt_table_free(t);
    rt_table_free(NULL);
    free(b);

    /* the smallest ring: m = 2 (skip is always 1) */
    b = backends(2, NULL, 0);
    t = build(b, 2, 2);
    assert_int_not_equal(t->slot[0], t->slot[1]);
    rt_table_free(t);
    free(b);
}

/* SRV priorities: only the lowest tier holds slots; a higher tier takes keys
 * only when no lower one is accepted, shared by weight within it. */
static void test_rt_tiers_hold_back_until_every_lower_one_is_out(void **state)
{
    (void)state;
    static const uint32_t w[] = {1, 3, 1, 1, 1};
    struct rt_backend *b = backends(5, w, ARRAY_LEN(w));
    b[2].tier = 1; /* weight 1 */
    b[3].tier = 1;
    b[3].weight = 3;
    b[4].tier = 2;
    struct rt_table *t = build(b, 5, 10007);
    uint32_t held[5] = {0};
    for (uint32_t s = 0; s < t->m; s++)
        held[t->slot[s]]++;
    int i0 = rt_find(t, b[0].name), i1 = rt_find(t, b[1].name), i2 = rt_find(t, b[2].name),
        i3 = rt_find(t, b[3].name), i4 = rt_find(t, b[4].name);
    assert_int_equal(held[i2] + held[i3] + held[i4], 0);
    double ratio = (double)held[i1] / held[i0];
    assert_true(ratio > 2.95 && ratio < 3.05);

    _Atomic uint8_t st[5];
    set_all(st, 5, RT_UP);
    const uint32_t nk = 40000;
    uint64_t *h = key_hashes(t, nk, 7);
    uint32_t got[5] = {0};
    atomic_store(&st[i0], RT_DOWN); /* tier 0 has one left: it takes every key */
    for (uint32_t k = 0; k < nk; k++)
        assert_int_equal(rt_pick(t, h[k], st, RT_ACCEPT_UP), i1);
    atomic_store(&st[i1], RT_DOWN); /* tier 0 is out: tier 1 by weight 1:3 */
    for (uint32_t k = 0; k < nk; k++)
        got[rt_pick(t, h[k], st, RT_ACCEPT_UP)]++;
    assert_int_equal(got[i4], 0);
    double share = (double)got[i3] / nk;
    printf("    tier 1 with weights 1:3 takes %.3f / %.3f of the keys\n", 1 - share, share);
    assert_true(share > 0.73 && share < 0.77);
    atomic_store(&st[i2], RT_DOWN);
    atomic_store(&st[i3], RT_DOWN);
    for (uint32_t k = 0; k < nk; k++)
        assert_int_equal(rt_pick(t, h[k], st, RT_ACCEPT_UP), i4);
    atomic_store(&st[i0], RT_UP); /* back to tier 0 at once */
    for (uint32_t k = 0; k < nk; k += 97)
        assert_int_equal(rt_pick(t, h[k], st, RT_ACCEPT_UP), i0);
    free(h);
    rt_table_free(t);
    free(b);
}

static void test_rt_find_returns_the_sorted_index_of_a_name(void **state)
{
    (void)state;
    const int n = 300;
    struct rt_backend *b = backends(n, NULL, 0);
    struct rt_table *t = build(b, n, M);
    for (int i = 0; i < n; i++) {
        int j = rt_find(t, b[i].name);
        assert_true(j >= 0);
        assert_string_equal(t->b[j].name, b[i].name);
        assert_int_equal(rt_find(t, t->b[i].name), i);
    }
    assert_int_equal(rt_find(t, "10.0.0.1:506"), -1);
    assert_int_equal(rt_find(t, "10.0.0.1:50600"), -1);
    assert_int_equal(rt_find(t, ""), -1);
    assert_int_equal(rt_find(t, NULL), -1);
    rt_table_free(t);
    free(b);
}

static void test_rt_slots_changed_counts_slots_by_name(void **state)
{
    (void)state;
    const int n = 20;
    struct rt_backend *b = backends(n + 1, NULL, 0);
    struct rt_table *a = build(b, n, M), *same = build(b, n, M), *more = build(b, n + 1, M);
    assert_int_equal(rt_slots_changed(a, same), 0);
    /* by name, not by index: the added backend shifts indexes after it */
    uint32_t want = 0;
    for (uint32_t s = 0; s < M; s++)
        want += strcmp(a->b[a->slot[s]].name, more->b[more->slot[s]].name) != 0;
    assert_int_equal(rt_slots_changed(a, more), want);
    assert_int_equal(rt_slots_changed(more, a), want);
    assert_true(want > 0 && want < M / 10);
    print_message("  N = 20 -> 21: %u of %u slots changed\n", want, M);
    struct rt_table *small = build(b, n, 65521);
    assert_int_equal(rt_slots_changed(a, small), 65521);
    assert_int_equal(rt_slots_changed(NULL, a), M);
    struct rt_table *none = build(NULL, 0, M);
    assert_int_equal(rt_slots_changed(none, a), M);
    rt_table_free(a);
    rt_table_free(same);
    rt_table_free(more);
    rt_table_free(small);
    rt_table_free(none);
    free(b);
}

static void reject(const struct rt_backend *b, int n, uint32_t m, const char *why)
{
    static struct rt_table dummy;
    struct rt_table *t = &dummy; /* must be reset to NULL */
    char err[128] = "";
    assert_int_equal(rt_table_build(b, n, m, SEED, &t, err, sizeof(err)), -1);
    assert_null(t);
    if (strstr(err, why) == NULL)
        fail_msg("n = %d, m = %u: message \"%s\" does not say \"%s\"", n, m, err, why);
    print_message("  rejected: %s\n", err);
}

static void test_rt_rejects_bad_tables_with_a_message(void **state)
{
    (void)state;
    struct rt_backend *b = backends(RT_MAX_BACKENDS + 1, NULL, 0);
    reject(b, 3, 65536, "prime");
    reject(b, 3, 65535, "prime");
    reject(b, 3, 1, "prime");
    reject(b, 5, 3, "slot per backend");
    reject(b, RT_MAX_BACKENDS + 1, 0, "at most");
    reject(b, -1, 0, "at most");
    reject(b, 3, 16777259, "at most"); /* the first prime above 2^24 */
    reject(NULL, 3, 0, "no array");
    b[2] = b[0];
    reject(b, 3, 0, "duplicate backend name \"10.0.0.1:5060\"");
    b[2] = b[1];
    reject(b + 1, 2, 0, "duplicate");
    b[2].weight = 0;
    snprintf(b[2].name, sizeof(b[2].name), "zero");
    reject(b, 3, 0, "weight");
    b[2].weight = 1;
    b[2].name[0] = '\0';
    reject(b, 3, 0, "empty name");
    memset(b[2].name, 'x', sizeof(b[2].name));
    reject(b, 3, 0, "longer than");
    /* and the output pointer is optional only for the message */
    assert_int_equal(rt_table_build(b, 2, 0, SEED, NULL, NULL, 0), -1);
    free(b);
}

static void test_rt_lookups_allocate_nothing(void **state)
{
    (void)state;
    const int n = 64;
    struct rt_backend *b = backends(n, NULL, 0);
    unsigned long before = alloc_calls;
    struct rt_table *t = build(b, n, M), *t2 = build(b, n - 1, M);
    assert_true(alloc_calls > before); /* the hook sees rt.o's calls */
    uint64_t *h = key_hashes(t, 4096, 10);
    _Atomic uint8_t st[RT_MAX_BACKENDS];
    uint64_t sum = 0;

    before = alloc_calls;
    alloc_fail = 1; /* an allocation now would also fail */
    for (int phase = 0; phase < 4; phase++) {
        /* all up; one down; all but one down (rendezvous); all down */
        set_all(st, n, phase < 2 ? RT_UP : RT_DOWN);
        if (phase == 1)
            atomic_store(&st[5], RT_DOWN);
        if (phase == 2)
            atomic_store(&st[5], RT_UP);
        for (uint32_t k = 0; k < 4096; k++)
            sum += (uint64_t)(rt_pick(t, h[k], st, RT_ACCEPT_UP) + rt_primary(t, h[k]) + 2);
    }
    sum += rt_hash(t, SPAN_LIT("a84b4c76e66710@pc33.example.com"));
    sum += (uint64_t)rt_find(t, b[7].name);
    sum += rt_slots_changed(t, t2);
    alloc_fail = 0;
    assert_int_equal(alloc_calls, before);
    assert_true(sum != 0);

    /* and a build that cannot allocate fails cleanly */
    struct rt_table *t3 = NULL;
    char err[128] = "";
    alloc_fail = 1;
    int r = rt_table_build(b, n, M, SEED, &t3, err, sizeof(err));
    alloc_fail = 0;
    assert_int_equal(r, -1);
    assert_null(t3);
    assert_non_null(strstr(err, "out of memory"));
    free(h);
    rt_table_free(t);
    rt_table_free(t2);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rt_balances_2_to_1024_equal_backends_within_1_percent),
        cmocka_unit_test(test_rt_honours_weights_within_1_percent),
        cmocka_unit_test(test_rt_one_down_moves_only_its_keys_and_spreads_them),
        cmocka_unit_test(test_rt_fallback_with_most_backends_down_is_weighted_and_stable),
        cmocka_unit_test(test_rt_pick_depends_only_on_the_accepted_set),
        cmocka_unit_test(test_rt_draining_backend_keeps_keys_only_when_draining_is_accepted),
        cmocka_unit_test(test_rt_all_down_or_none_accepted_returns_minus_1),
        cmocka_unit_test(test_rt_removing_1_of_n_moves_at_most_1_over_n_plus_1_percent),
        cmocka_unit_test(test_rt_builds_identical_tables_from_shuffled_backends),
        cmocka_unit_test(test_rt_is_deterministic_across_builds_and_compilers),
        cmocka_unit_test(test_rt_handles_0_and_1_backends),
        cmocka_unit_test(test_rt_tiers_hold_back_until_every_lower_one_is_out),
        cmocka_unit_test(test_rt_find_returns_the_sorted_index_of_a_name),
        cmocka_unit_test(test_rt_slots_changed_counts_slots_by_name),
        cmocka_unit_test(test_rt_rejects_bad_tables_with_a_message),
        cmocka_unit_test(test_rt_lookups_allocate_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
