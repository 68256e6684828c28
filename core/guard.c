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
    t->key2 = XXH3_64bits_withSeed(&key, sizeof(key), 0x67756172); /* "guar" */
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

/* gd_refill's work once the clock has moved. dt * rate < 2^31 * 2^32 fits in 64 bits, and the
 * sum is capped at the depth before it goes back to 32. */
void gd_refill_slow(struct gd_entry *e, const struct gd_limits *lim, uint32_t now_ms)
{
    uint32_t dt = now_ms - e->last_ms;
    if (dt > (1u << 31)) /* the clock went back (tests) or wrapped: count no time */
        dt = 0;
    for (int c = 0; c < GD_NCLASS; c++) {
        int64_t d = depth(&lim->c[c]);
        int64_t v = e->milli[c] + (int64_t)dt * lim->c[c].rate;
        e->milli[c] = (int32_t)(v >= d ? d : v);
    }
    e->last_ms = now_ms;
}

/* Every bucket at its depth: forgetting e loses nothing. */
static bool full(const struct gd_entry *e, const struct gd_limits *lim)
{
    for (int c = 0; c < GD_NCLASS; c++)
        if (e->milli[c] < depth(&lim->c[c]))
            return false;
    return true;
}

struct gd_entry *gd_find_slow(struct gd_table *t, uint64_t h, const struct gd_limits *lim,
                              uint32_t now_ms, bool *shared)
{
    uint32_t tag = (uint32_t)(h >> 32) | 1u;
    struct gd_entry *set = t->e[h & (GD_SETS - 1)];
    *shared = false;
    for (int w = 1; w < GD_WAYS; w++) {
        if (set[w].tag == tag) {
            gd_refill(&set[w], lim, now_ms);
            return &set[w];
        }
    }
    /* a newcomer: a free way, or one whose buckets are all full again */
    for (int w = 0; w < GD_WAYS; w++) {
        if (set[w].tag != 0)
            gd_refill(&set[w], lim, now_ms);
        if (set[w].tag == 0 || full(&set[w], lim)) {
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
        gd_refill(o, lim, now_ms);
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
