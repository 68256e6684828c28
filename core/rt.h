/*
 * rt.h - consistent-hash routing: a Maglev lookup table (Eisenbud et al.,
 * NSDI 2016; as Katran, Envoy and Cilium use it) plus a health-aware pick.
 *
 * A table is built off the hot path from a set of backends and is immutable
 * once built; workers read it through a pointer that is swapped whole. The
 * backends are sorted by their stable identity (a configured name, else
 * "ip:port") before building, so two viaduct instances with the same set of
 * backends, in any order, build byte-identical tables.
 *
 * Health is not part of the table: "down" is not "removed". A lookup takes
 * the backends' current states; a key whose primary backend may not be used
 * takes a deterministic fallback spread over the usable backends in
 * proportion to their weights, and keys of usable backends never move.
 *
 * Tiers (SRV priorities, RFC 2782): only the backends of the lowest tier
 * present hold slots. A backend of a higher tier takes keys only when no
 * backend of any lower tier is accepted; then the lowest tier with an
 * accepted backend shares them by weight.
 */
#ifndef VIADUCT_RT_H
#define VIADUCT_RT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "parser/span.h"

#define RT_DEFAULT_SLOTS 65537 /* prime; a larger prime gives finer balance */
#define RT_MAX_BACKENDS 1024
#define RT_NAME_MAX 64

struct rt_backend {
    char name[RT_NAME_MAX]; /* stable identity; NUL-terminated, unique within a table */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint32_t weight; /* >= 1 */
    uint8_t tier;    /* 0 (or the lowest present): in the table; higher: a fallback tier only */
};

/* Backend states, as a lookup's accept mask sees them (1u << state). */
enum rt_state { RT_UP = 0, RT_DOWN = 1, RT_DRAINING = 2 };
#define RT_ACCEPT_UP (1u << RT_UP)
#define RT_ACCEPT_UP_OR_DRAINING ((1u << RT_UP) | (1u << RT_DRAINING))

struct rt_table {
    uint32_t m;    /* slots: a prime >= n */
    uint64_t seed; /* of the key hash and the permutations */
    int n;
    struct rt_backend *b; /* n backends, sorted by name; indexes below refer to this order */
    uint16_t *slot;       /* m entries, each an index into b */
};

/*
 * Builds a table over n backends (0 <= n <= RT_MAX_BACKENDS; names unique,
 * weights >= 1) with m slots (a prime, >= n; 0 means RT_DEFAULT_SLOTS).
 * Allocates; call off the hot path. Returns 0 with *out set, or -1 with a
 * one-line reason in err (duplicate name, m not prime, ...).
 */
int rt_table_build(const struct rt_backend *b, int n, uint32_t m, uint64_t seed,
                   struct rt_table **out, char *err, size_t errlen);

void rt_table_free(struct rt_table *t);

/* The key's hash under this table's seed (seeded XXH3). */
uint64_t rt_hash(const struct rt_table *t, struct span key);

/* The key's backend ignoring health: one array load. -1 if n == 0. */
int rt_primary(const struct rt_table *t, uint64_t h);

/*
 * The key's backend among those whose state is in accept (a mask of
 * 1u << enum rt_state; state[i] is backend i's state, read with relaxed
 * loads). The primary when accepted; otherwise a deterministic fallback,
 * chosen among accepted backends in proportion to their weights, that
 * depends only on the key and on which backends are accepted. -1 if none
 * is accepted. No allocation, no lock.
 */
int rt_pick(const struct rt_table *t, uint64_t h, const _Atomic uint8_t *state, unsigned accept);

/* rt_pick as if backend except were not accepted: where the key went
 * before except came up (or stopped draining). -1 if none is accepted. */
int rt_pick_except(const struct rt_table *t, uint64_t h, const _Atomic uint8_t *state,
                   unsigned accept, int except);

/* Index of the backend with this name, or -1. */
int rt_find(const struct rt_table *t, const char *name);

/* Slots whose backend (by name) differs between a and b (same m), for the
 * log line when a new table replaces an old one; m if they cannot compare. */
uint32_t rt_slots_changed(const struct rt_table *a, const struct rt_table *b);

#endif
