/*
 * dns_route.h - the DNS thread's half of the hostname cache (dns_cache.h):
 * it takes the workers' asks, resolves each name once at a time (RFC 3263
 * §4.2: SRV _sip._udp.NAME when the URI gives no port, its targets' A and
 * AAAA; with no SRV records, or with a port, NAME's own A and AAAA) and
 * writes the entry. Only dns_res.c calls it, on the DNS thread, with the
 * c-ares channel it owns (passed as void * so this header needs no ares.h).
 */
#ifndef VIADUCT_DNS_ROUTE_H
#define VIADUCT_DNS_ROUTE_H

#include <stdint.h>
#include <stdio.h>

#include "core/cfg.h"
#include "core/dns_cache.h"

#define DNS_ROUTE_LOOKUPS 32 /* names resolved at once; more asks wait in the rings */

struct dns_route;

/* The resolver of cache's names for the asks of n rings; opts is read at
 * each lookup (the DNS thread's applied options). NULL on OOM. */
struct dns_route *dns_route_new(struct dns_cache *cache, struct dns_ask *asks, int n,
                                const struct cfg_dns_opts *opts);

/* Takes what the rings hold (as long as a lookup is free) and starts the
 * lookups of names not cached or expired. */
void dns_route_take(struct dns_route *r, void *ares_channel, int64_t now_ms);

/* viaduct_dns_route_* metrics. Any thread (relaxed counters). */
void dns_route_metrics(const struct dns_route *r, FILE *f);

/* After the channel is destroyed (no callback can come). */
void dns_route_free(struct dns_route *r);

#endif
