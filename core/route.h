/*
 * route.h - next hop by key: the routing table's interface.
 *
 * A table is immutable once built; workers only read it. This version maps a
 * key to a backend with a seeded XXH3 hash modulo the number of backends,
 * enough for the data path; the consistent-hash (Maglev) table and health
 * come behind the same lookup.
 */
#ifndef VIADUCT_ROUTE_H
#define VIADUCT_ROUTE_H

#include <stdint.h>
#include <sys/socket.h>

#include "core/span.h"

#define RT_MAX_BACKENDS 1024

struct rt_backend {
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

struct rt_table {
    uint64_t seed;
    int n;
    struct rt_backend b[RT_MAX_BACKENDS];
};

/* Index of the backend for key, or -1 when the table is empty. */
int rt_lookup(const struct rt_table *t, struct span key);

#endif
