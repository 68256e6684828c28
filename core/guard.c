/*
 * guard.c - see guard.h. The refill is lazy: an entry's buckets are brought
 * up to date when a datagram finds it, from the time elapsed since, so an
 * idle table costs nothing and no timer runs.
 */
#include "core/guard.h"

#include <netinet/in.h>
#include <string.h>
#include <xxhash.h>

void gd_init(struct gd_table *t, uint64_t key)
{
    memset(t, 0, sizeof(*t));
    t->key = key;
}

static int32_t depth(const struct gd_limit *l)
{
    return (int32_t)((int64_t)l->burst * 1000 > INT32_MAX ? INT32_MAX : (int64_t)l->burst * 1000);
}

static void fill(struct gd_entry *e, const struct gd_limits *lim, uint32_t now_ms)
{
    for (int c = 0; c < GD_NCLASS; c++)
        e->milli[c] = depth(&lim->c[c]);
    e->last_ms = now_ms;
}

/* Brings e up to now_ms; true if every bucket is then at its depth.
 * dt * rate < 2^31 * 2^32 fits in 64 bits, and the sum is capped at the
 * depth before it goes back to 32. */
static bool refill(struct gd_entry *e, const struct gd_limits *lim, uint32_t now_ms)
{
    uint32_t dt = now_ms - e->last_ms;
    bool full = true;
    if (dt > (1u << 31)) /* a clock that went back (tests), or a wrap: count no time */
        dt = 0;
    for (int c = 0; c < GD_NCLASS; c++) {
        int64_t d = depth(&lim->c[c]);
        int64_t v = e->milli[c] + (int64_t)dt * lim->c[c].rate;
        if (v >= d)
            v = d;
        else
            full = false;
        e->milli[c] = (int32_t)v;
    }
    e->last_ms = now_ms;
    return full;
}

struct gd_entry *gd_find(struct gd_table *t, const struct sockaddr *src, int listener,
                         const struct gd_limits *lim, uint32_t now_ms, bool *shared)
{
    uint8_t k[9];
    size_t n;
    if (src->sa_family == AF_INET6) {
        /* a /64 is what one subscriber gets: every address in it is one source */
        memcpy(k, ((const struct sockaddr_in6 *)(const void *)src)->sin6_addr.s6_addr, 8);
        n = 8;
    } else {
        memcpy(k, &((const struct sockaddr_in *)(const void *)src)->sin_addr, 4);
        n = 4;
    }
    k[n++] = (uint8_t)listener;
    uint64_t h = XXH3_64bits_withSeed(k, n, t->key);
    uint32_t tag = (uint32_t)(h >> 32) | 1u;
    struct gd_entry *set = t->e[h & (GD_SETS - 1)];
    *shared = false;
    for (int w = 0; w < GD_WAYS; w++) {
        if (set[w].tag == tag) {
            refill(&set[w], lim, now_ms);
            return &set[w];
        }
    }
    /* a newcomer: a free way, or one whose buckets are all full again */
    for (int w = 0; w < GD_WAYS; w++) {
        if (set[w].tag == 0 || refill(&set[w], lim, now_ms)) {
            set[w].tag = tag;
            fill(&set[w], lim, now_ms);
            return &set[w];
        }
    }
    struct gd_entry *o = &t->overflow[h & (GD_SETS - 1)];
    if (o->tag == 0) {
        o->tag = 1;
        fill(o, lim, now_ms);
    } else {
        refill(o, lim, now_ms);
    }
    *shared = true;
    return o;
}

bool gd_take(struct gd_entry *e, const struct gd_limits *lim, enum gd_class c, uint32_t n)
{
    if (c != GD_BYTES && lim->c[c].rate == 0)
        return true; /* requests: rate 0 is no limit; answer bytes are always budgeted */
    int64_t need = (int64_t)n * 1000;
    if (e->milli[c] < need)
        return false;
    e->milli[c] = (int32_t)(e->milli[c] - need);
    return true;
}

void gd_give(struct gd_entry *e, const struct gd_limits *lim, enum gd_class c, uint32_t n)
{
    int64_t v = e->milli[c] + (int64_t)n * 1000, d = depth(&lim->c[c]);
    e->milli[c] = (int32_t)(v > d ? d : v);
}
