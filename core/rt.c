/*
 * rt.c - the Maglev lookup table and the health-aware pick (see rt.h).
 *
 * Build (Eisenbud et al., NSDI 2016, §3.4; weights as Katran's MaglevHashV2
 * does them): the backends are sorted by name. Each gets a permutation of the
 * m slots from two seeded hashes of its name: offset = h1 % m, skip =
 * h2 % (m - 1) + 1; m is prime, so every skip visits every slot. Then the
 * backends take turns, in name order, each claiming the next slot of its own
 * permutation that nobody holds yet, until all m slots are held. A backend of
 * weight w earns w credits a round and takes one turn per max_weight credits,
 * so slot counts are proportional to weights within a slot or two, and equal
 * backends hold floor(m/n) or ceil(m/n) slots each.
 *
 * Pick: the key's slot's backend when its state is accepted (one load). Else
 * the first accepted backend among RT_PROBES more slots, chosen by the key's
 * hash alone; a uniformly random slot belongs to backend i with probability
 * slots_i / m, so the keys that move spread over the accepted backends in
 * proportion to their weights, and keys of accepted backends never move. Only
 * when all probes miss (most of the weight not accepted) does a weighted
 * rendezvous over the accepted backends decide, in O(n).
 *
 * One malloc per table (header, backends, slots); rt_table_free frees it.
 */
#include "core/rt.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/*
 * The rendezvous scores below are doubles and must come out bit-identical on
 * every instance. A fused multiply-add rounds once instead of twice, so it
 * must not be formed behind our back: GCC in ISO C mode (-std=c11) does not
 * contract; clang does within an expression unless told not to.
 */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* Larger m buys finer balance and less churn at 2 bytes a slot; 2^24 slots is
 * 32 MiB and a 6 s build at n = 1000, far beyond the 100 x n Maglev advises. */
#define RT_MAX_SLOTS (1u << 24)
#define RT_EMPTY 0xffffu /* not a backend index: RT_MAX_BACKENDS < 0xffff */
#define RT_PROBES 32     /* 32 misses happen with p = (down weight share)^32 */

/* Distinct seeds per use, derived from the table's seed, so that a key's hash,
 * a backend's offset, its skip and its rendezvous score are unrelated. */
#define RT_SEED_OFFSET 0x6f66667365742d31ull
#define RT_SEED_SKIP 0x736b69702d2d2d32ull
#define RT_SEED_RDV 0x72656e64657a766full
#define RT_GOLDEN 0x9e3779b97f4a7c15ull /* 2^64 / phi, SplitMix64's increment */

_Static_assert(RT_MAX_BACKENDS < RT_EMPTY, "slot entries are uint16_t with one marker value");

/* Per-backend build state; lives only during rt_table_build. */
struct rt_perm {
    uint32_t skip;
    uint32_t cur;    /* next position of this backend's permutation to try */
    uint64_t credit; /* weight earned and not yet spent on turns */
};

static int rt_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rt_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool rt_is_prime(uint32_t m)
{
    if (m < 2)
        return false;
    if (m % 2 == 0)
        return m == 2;
    for (uint32_t d = 3; d <= m / d; d += 2)
        if (m % d == 0)
            return false;
    return true;
}

/*
 * Maps a 64-bit hash onto [0, m) by the high half of h * m (Lemire's
 * multiply-shift). A 64-bit divide, which h % m needs, costs 35-90 cycles on
 * Skylake-class cores and 14-18 on Ice Lake; the multiply costs 3-4, and the
 * result is as uniform for a hash whose high bits are well mixed (XXH3's and
 * SplitMix64's are).
 */
static inline uint32_t rt_reduce(uint64_t h, uint32_t m)
{
#ifdef __SIZEOF_INT128__
    return (uint32_t)(((unsigned __int128)h * m) >> 64);
#else
    return (uint32_t)(h % m);
#endif
}

/* SplitMix64's output function (Steele, Lea, Flood 2014): the i-th probe of a
 * key is rt_mix(h + i * RT_GOLDEN), the i-th output of SplitMix64 seeded with
 * the key's hash. */
static inline uint64_t rt_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline bool rt_accepted(const _Atomic uint8_t *state, int i, unsigned accept)
{
    unsigned s = atomic_load_explicit(&state[i], memory_order_relaxed);
    return s < 32 && ((accept >> s) & 1u);
}

static int rt_cmp_name(const void *a, const void *b)
{
    const struct rt_backend *x = *(const struct rt_backend *const *)a;
    const struct rt_backend *y = *(const struct rt_backend *const *)b;
    return strcmp(x->name, y->name); /* bytewise, not strcoll: same order everywhere */
}

/*
 * Fills t->slot as the file comment says; p[i] is backend i's permutation.
 * A round costs O(n) and there are about m * max_w / sum_w of them: m / n
 * with equal weights, up to m with one dominant weight (88 ms at n = 1024).
 */
static void rt_fill(struct rt_table *t, struct rt_perm *p)
{
    const uint32_t m = t->m;
    uint64_t max_w = 0;
    unsigned top = 255; /* the lowest tier present: only it holds slots */
    for (int i = 0; i < t->n; i++)
        if (t->b[i].tier < top)
            top = t->b[i].tier;
    for (int i = 0; i < t->n; i++) {
        const char *name = t->b[i].name;
        size_t len = strlen(name);
        p[i].cur = (uint32_t)(XXH3_64bits_withSeed(name, len, t->seed ^ RT_SEED_OFFSET) % m);
        uint64_t h2 = XXH3_64bits_withSeed(name, len, t->seed ^ RT_SEED_SKIP);
        p[i].skip = (uint32_t)(h2 % (m - 1)) + 1; /* m = 2: always 1 */
        p[i].credit = 0;
        if (t->b[i].tier == top && t->b[i].weight > max_w)
            max_w = t->b[i].weight;
    }
    memset(t->slot, 0xff, (size_t)m * sizeof(t->slot[0]));
    uint32_t held = 0;
    for (;;) {
        for (int i = 0; i < t->n; i++) {
            if (t->b[i].tier != top)
                continue;
            p[i].credit += t->b[i].weight;
            if (p[i].credit < max_w)
                continue;
            p[i].credit -= max_w;
            /* Ends: fewer than m slots are held, and the permutation visits all m. */
            uint32_t c = p[i].cur;
            while (t->slot[c] != RT_EMPTY) {
                c += p[i].skip;
                if (c >= m)
                    c -= m;
            }
            t->slot[c] = (uint16_t)i;
            c += p[i].skip;
            if (c >= m)
                c -= m;
            p[i].cur = c;
            if (++held == m)
                return;
        }
    }
}

static int rt_check(const struct rt_backend *b, int n, uint32_t m, char *err, size_t errlen)
{
    if (n < 0 || n > RT_MAX_BACKENDS)
        return rt_fail(err, errlen, "%d backends: at most %d", n, RT_MAX_BACKENDS);
    if (n > 0 && b == NULL)
        return rt_fail(err, errlen, "%d backends but no array", n);
    if (!rt_is_prime(m))
        return rt_fail(err, errlen, "%u slots: the slot count must be a prime", m);
    if (m > RT_MAX_SLOTS)
        return rt_fail(err, errlen, "%u slots: at most %u", m, RT_MAX_SLOTS);
    if (m < (uint32_t)n)
        return rt_fail(err, errlen, "%u slots for %d backends: need a slot per backend", m, n);
    for (int i = 0; i < n; i++) {
        if (memchr(b[i].name, '\0', RT_NAME_MAX) == NULL)
            return rt_fail(err, errlen, "backend %d: name longer than %d bytes", i,
                           RT_NAME_MAX - 1);
        if (b[i].name[0] == '\0')
            return rt_fail(err, errlen, "backend %d: empty name", i);
        if (b[i].weight < 1)
            return rt_fail(err, errlen, "backend \"%s\": weight 0, must be >= 1", b[i].name);
    }
    return 0;
}

int rt_table_build(const struct rt_backend *b, int n, uint32_t m, uint64_t seed,
                   struct rt_table **out, char *err, size_t errlen)
{
    if (out == NULL)
        return rt_fail(err, errlen, "no place for the table");
    *out = NULL;
    if (m == 0)
        m = RT_DEFAULT_SLOTS;
    if (rt_check(b, n, m, err, errlen) < 0)
        return -1;

    /* One block: the header, n backends, m slots (none when n == 0: there is
     * nothing to index, and rt_primary/rt_pick answer -1 before reading). */
    size_t boff = (sizeof(struct rt_table) + _Alignof(struct rt_backend) - 1) /
                  _Alignof(struct rt_backend) * _Alignof(struct rt_backend);
    size_t soff = boff + (size_t)n * sizeof(struct rt_backend);
    size_t size = soff + (n > 0 ? (size_t)m * sizeof(uint16_t) : 0);
    struct rt_table *t = malloc(size);
    const struct rt_backend **order = malloc((size_t)(n > 0 ? n : 1) * sizeof(*order));
    struct rt_perm *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof(*perm));
    int ret = -1;
    if (t == NULL || order == NULL || perm == NULL) {
        rt_fail(err, errlen, "out of memory for a table of %u slots", m);
        goto out;
    }
    t->m = m;
    t->seed = seed;
    t->n = n;
    t->b = (struct rt_backend *)((char *)t + boff);
    t->slot = n > 0 ? (uint16_t *)((char *)t + soff) : NULL;

    for (int i = 0; i < n; i++)
        order[i] = &b[i];
    qsort(order, (size_t)n, sizeof(*order), rt_cmp_name);
    for (int i = 0; i < n; i++) {
        if (i > 0 && strcmp(order[i - 1]->name, order[i]->name) == 0) {
            rt_fail(err, errlen, "duplicate backend name \"%s\"", order[i]->name);
            goto out;
        }
        t->b[i] = *order[i];
    }
    if (n > 0)
        rt_fill(t, perm);
    *out = t;
    t = NULL;
    ret = 0;
out:
    free(t);
    free(order);
    free(perm);
    return ret;
}

void rt_table_free(struct rt_table *t)
{
    free(t);
}

uint64_t rt_hash(const struct rt_table *t, struct span key)
{
    return XXH3_64bits_withSeed(key.p, key.len, t->seed);
}

int rt_primary(const struct rt_table *t, uint64_t h)
{
    if (t->n == 0)
        return -1;
    return t->slot[rt_reduce(h, t->m)];
}

/*
 * -ln(u) for u = (2 * (x >> 12) + 1) / 2^53, which lies in (0, 1) and is
 * exact in a double: an exponential variate with rate 1. libm's log() would
 * do, but core/ links no libm, and its last bit is not the same in every libm,
 * which the rendezvous needs. ln u = e ln 2 + 2 atanh(s), s = (f - 1)/(f + 1),
 * f in [sqrt(1/2), sqrt(2)), so |s| < 0.172 and eleven odd terms of the series
 * reach double precision.
 */
static double rt_neg_ln(uint64_t x)
{
    double u = (double)(2 * (x >> 12) + 1) * 0x1p-53;
    uint64_t bits;
    memcpy(&bits, &u, sizeof(bits));
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    double f;
    memcpy(&f, &bits, sizeof(f));
    if (f > 1.4142135623730951) {
        f *= 0.5;
        e += 1;
    }
    double s = (f - 1.0) / (f + 1.0);
    double s2 = s * s;
    double poly = 1.0 / 23;
    static const double inv_odd[] = {1.0 / 21, 1.0 / 19, 1.0 / 17, 1.0 / 15, 1.0 / 13, 1.0 / 11,
                                     1.0 / 9,  1.0 / 7,  1.0 / 5,  1.0 / 3,  1.0};
    for (size_t k = 0; k < sizeof(inv_odd) / sizeof(inv_odd[0]); k++) {
        double p = poly * s2;
        poly = p + inv_odd[k];
    }
    double ln_f = 2.0 * s * poly;
    double e_ln2 = (double)e * 0.6931471805599453;
    return -(e_ln2 + ln_f);
}

/*
 * Weighted rendezvous (highest random weight) over the accepted backends:
 * each draws an exponential variate from (key, name) and the smallest
 * variate / weight wins, which picks backend i with probability w_i / sum(w)
 * and depends on nothing but the key and the accepted set. Ties (equal
 * doubles) go to the lower index, i.e. the smaller name. The lowest tier
 * with an accepted backend wins before any score counts (slots hold only
 * the lowest tier, so probes never find a higher one). Cold: it runs only
 * when RT_PROBES slots in a row were refused.
 */
static int rt_rendezvous(const struct rt_table *t, uint64_t h, const _Atomic uint8_t *state,
                         unsigned accept, int except) __attribute__((cold, noinline));

static int rt_rendezvous(const struct rt_table *t, uint64_t h, const _Atomic uint8_t *state,
                         unsigned accept, int except)
{
    int best = -1;
    double best_q = 0;
    for (int i = 0; i < t->n; i++) {
        if (i == except || !rt_accepted(state, i, accept))
            continue;
        if (best >= 0 && t->b[i].tier > t->b[best].tier)
            continue;
        const char *name = t->b[i].name;
        uint64_t x = XXH3_64bits_withSeed(name, strlen(name), h ^ RT_SEED_RDV);
        double q = rt_neg_ln(x) / (double)t->b[i].weight;
        if (best < 0 || t->b[i].tier < t->b[best].tier || q < best_q) {
            best = i;
            best_q = q;
        }
    }
    return best;
}

/* rt_pick, with backend except (or -1) treated as not accepted. */
static int rt_pick_x(const struct rt_table *t, uint64_t h, const _Atomic uint8_t *state,
                     unsigned accept, int except)
{
    if (t->n == 0)
        return -1;
    int b = t->slot[rt_reduce(h, t->m)];
    if (b != except && rt_accepted(state, b, accept))
        return b;
    uint64_t z = h;
    for (int i = 0; i < RT_PROBES; i++) {
        z += RT_GOLDEN;
        b = t->slot[rt_reduce(rt_mix(z), t->m)];
        if (b != except && rt_accepted(state, b, accept))
            return b;
    }
    return rt_rendezvous(t, h, state, accept, except);
}

int rt_pick(const struct rt_table *t, uint64_t h, const _Atomic uint8_t *state, unsigned accept)
{
    return rt_pick_x(t, h, state, accept, -1);
}

int rt_pick_except(const struct rt_table *t, uint64_t h, const _Atomic uint8_t *state,
                   unsigned accept, int except)
{
    return rt_pick_x(t, h, state, accept, except);
}

int rt_find(const struct rt_table *t, const char *name)
{
    if (t == NULL || name == NULL)
        return -1;
    int lo = 0, hi = t->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, t->b[mid].name);
        if (c == 0)
            return mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

/*
 * Backends are matched by name, so a table that gained or lost a backend
 * still compares slot by slot. With no old table (a == NULL) every slot of b
 * changed; tables of different m cannot compare and count as b->m.
 */
uint32_t rt_slots_changed(const struct rt_table *a, const struct rt_table *b)
{
    if (b == NULL)
        return a != NULL ? a->m : 0;
    if (a == NULL || a->m != b->m)
        return b->m;
    if (a->n == 0 || b->n == 0)
        return a->n == b->n ? 0 : b->m;
    int map[RT_MAX_BACKENDS]; /* a's index -> b's index of the same name, or -1 */
    for (int i = 0; i < a->n; i++)
        map[i] = rt_find(b, a->b[i].name);
    uint32_t changed = 0;
    for (uint32_t s = 0; s < a->m; s++)
        changed += map[a->slot[s]] != (int)b->slot[s];
    return changed;
}
