/*
 * guard.h - per-source state of the edge protection: token buckets per
 * source IP (IPv6 by /64) in a fixed table per worker, and the byte budget
 * of local answers per destination. No allocation after gd_init, no lock
 * (one table per worker, one writer), time from the caller.
 *
 * Table: GD_SETS sets of GD_WAYS entries plus one shared overflow entry per
 * set, addressed by a keyed hash of (source prefix, listener). The key is
 * random per process (gd_init's caller takes it from getrandom), so an
 * outsider cannot aim sources at one set. A source without an entry takes a
 * way whose buckets have all refilled to their depth: forgetting such an
 * entry loses nothing (a new one starts full), so no sequence of packets
 * can reset a source that is over its limit. When every way of the set is
 * in use (its sources sent recently), the newcomer is charged to the set's
 * overflow entry, which all such newcomers of that set share: spraying
 * random sources exhausts overflow buckets, not the buckets of the sources
 * that already hold entries. What spraying can cost: sources that are new
 * while the spray lasts share overflow buckets with it (README).
 *
 * Buckets count milli-tokens, so a rate of r per second refills r per ms
 * with the coarse millisecond clock, and 32 bits hold a million tokens.
 */
#ifndef VIADUCT_GUARD_H
#define VIADUCT_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* The User-Agents of the scanners a public SIP port sees every minute
 * (SIPVicious and its forks, sipcli, the VaxSIP scanner, sundayddr, iWar,
 * sip-scan, smap); names real equipment also sends are left out. */
#define GD_DEFAULT_UA_LIST                                                                          \
    "friendly-scanner", "sipvicious", "sipcli", "VaxSIPUserAgent", "sundayddr", "iWar",           \
        "sip-scan", "SIPScan", "smap"
#define GD_DEFAULT_UAS                                                                              \
    "friendly-scanner, sipvicious, sipcli, VaxSIPUserAgent, sundayddr, iWar, sip-scan, SIPScan, " \
    "smap"

#define GD_SETS 4096 /* a power of two */
#define GD_WAYS 4

enum gd_class {
    GD_OOD,    /* out-of-dialog requests */
    GD_DIALOG, /* in-dialog requests, CANCEL, ACK */
    GD_BYTES,  /* bytes of local answers */
    GD_NCLASS
};

/* One bucket's refill per second and depth, in units (requests, bytes);
 * for the request classes rate 0 means no limit (gd_take always succeeds). */
struct gd_limit {
    uint32_t rate, burst;
};

struct gd_limits {
    struct gd_limit c[GD_NCLASS];
};

struct gd_entry {
    uint32_t tag;     /* 0: free */
    uint32_t last_ms; /* when the buckets were last refilled (wraps; deltas only) */
    int32_t milli[GD_NCLASS];
};

struct gd_table {
    uint64_t key, key2;
    struct gd_entry e[GD_SETS][GD_WAYS];
    struct gd_entry overflow[GD_SETS];
};

/* Empties t and sets its hash key. */
void gd_init(struct gd_table *t, uint64_t key);

struct gd_entry *gd_find_slow(struct gd_table *t, uint64_t h, const struct gd_limits *lim,
                              uint32_t now_ms, bool *shared);
void gd_refill_slow(struct gd_entry *e, const struct gd_limits *lim, uint32_t now_ms);

/* The set and tag of a source key: the secret keys enter before and
 * between the rounds of the splitmix64 finalizer, so which sources share
 * a set depends on them. Not a MAC (nothing is authenticated by it): what
 * it must do is keep an outsider, who sees no table state, from choosing
 * sources that collide, at ~10 instructions rather than XXH3's ~50 on the
 * path of every request. */
static inline uint64_t gd_hash(const struct gd_table *t, uint64_t k)
{
    uint64_t h = (k ^ t->key) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 31) ^ t->key2) * 0x94d049bb133111ebull;
    return h ^ (h >> 29);
}

/* Brings e's buckets up to now_ms (nothing to do within one millisecond:
 * at rate the clock moves once per batch). */
static inline void gd_refill(struct gd_entry *e, const struct gd_limits *lim, uint32_t now_ms)
{
    if (now_ms != e->last_ms)
        gd_refill_slow(e, lim, now_ms);
}

/*
 * The entry that accounts for datagrams from src (AF_INET or AF_INET6)
 * received on listener, refilled up to now_ms: the source's own, a new one,
 * or the set's overflow entry (*shared set true). Never NULL, never
 * allocates. lim must be the same for every call with this listener.
 * Inline up to the first way, where a busy source's entry usually is.
 */
static inline struct gd_entry *gd_find(struct gd_table *t, const struct sockaddr *src,
                                       int listener, const struct gd_limits *lim,
                                       uint32_t now_ms, bool *shared)
{
    uint64_t k;
    if (src->sa_family == AF_INET6) {
        /* a /64 is what one subscriber gets: every address in it is one source */
        memcpy(&k, ((const struct sockaddr_in6 *)(const void *)src)->sin6_addr.s6_addr, 8);
        k ^= (uint64_t)(listener + 1) << 56 | 0x6b; /* not a v4 key: those have bits 40+ zero */
    } else {
        uint32_t a;
        memcpy(&a, &((const struct sockaddr_in *)(const void *)src)->sin_addr, 4);
        k = a | (uint64_t)listener << 32;
    }
    uint64_t h = gd_hash(t, k);
    struct gd_entry *e = &t->e[h & (GD_SETS - 1)][0];
    if (e->tag == ((uint32_t)(h >> 32) | 1u)) {
        *shared = false;
        gd_refill(e, lim, now_ms);
        return e;
    }
    return gd_find_slow(t, h, lim, now_ms, shared);
}

/* Takes n units of class c; false (nothing taken) if there are not n. */
bool gd_take(struct gd_entry *e, const struct gd_limits *lim, enum gd_class c, uint32_t n);

/* Adds n units to class c, up to its depth (bytes earned by bytes received). */
void gd_give(struct gd_entry *e, const struct gd_limits *lim, enum gd_class c, uint32_t n);

/* The memory a table takes: what the README states. */
#define GD_TABLE_BYTES sizeof(struct gd_table)

#endif
