/*
 * dns.h - backends from DNS (RFC 3263's A/AAAA and SRV steps, no NAPTR):
 * a backend address that is a name ("reg.svc.cluster.local:5060", every A
 * and AAAA record on that port; "_sip._udp.example.com", every SRV target
 * with its port, priority and weight) becomes the records it resolves to.
 *
 * Two halves. dns.c is pure and tested alone (test_dns): it normalises a
 * record set (sorted by address, duplicates and the excess dropped, so every
 * instance that sees the same records in any order builds the same table),
 * parses SRV answers, computes refresh times and expands a configuration's
 * names into backends. dns_res.c is the resolver: c-ares on one control
 * thread the server owns, never a worker's. It refreshes each name at its
 * TTL (bounded by dns.refresh_min_ms/max_ms, jittered early), keeps a
 * failing or empty name's last records for dns.stale_seconds (logged once),
 * and calls back when a set changed, so the server publishes a new
 * generation like a reload: one pointer swap, health kept by address.
 */
#ifndef VIADUCT_DNS_H
#define VIADUCT_DNS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "core/cfg.h"

#define DNS_MAX_NAMES 64 /* distinct names one configuration may give */
#define DNS_NAME_MAX 256 /* a name, with its NUL */
#define DNS_ACC_MAX 8192 /* records one refresh gathers before normalising */

/* One record a name resolved to: an address with its port, and for SRV
 * its priority and weight (0 for A/AAAA). */
struct dns_rec {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint16_t prio, weight;
};

/* Sorts r by address (family, IP, port), keeps of each address the record
 * with the lowest priority (then highest weight), then the first max.
 * Returns the count kept; *distinct (if not NULL) gets the count before
 * the cut, so the caller can say that records were dropped. */
int dns_recs_norm(struct dns_rec *r, int n, int max, int *distinct);

/* Same records, in the same (normalised) order. */
bool dns_recs_equal(const struct dns_rec *a, int na, const struct dns_rec *b, int nb);

/* One SRV record of an answer. */
struct dns_srv {
    uint16_t prio, weight, port;
    uint32_t ttl;
    char target[DNS_NAME_MAX]; /* lower-cased, no final dot; "." (none) is left out */
};

enum dns_err { DNS_EPARSE = -1 };

/*
 * Parses the SRV records of the answer section of a DNS message (msg, len;
 * compression pointers followed, at most 64 per name; a name at most 255
 * bytes on the wire) into out, at most cap of them. A target must be a host
 * name (letters, digits, '-', '_'): a NUL, a '.' inside a label or any
 * other byte makes the message DNS_EPARSE. Records of other types (a
 * CNAME) are skipped, and so are SRV records that offer no service (RFC
 * 2782's "." target, or port 0).
 * *min_ttl gets the smallest TTL of the SRV records (UINT32_MAX if none);
 * *nsrv (if not NULL) how many SRV records there were, those skipped and
 * those past cap included, so a caller can tell "no SRV records" (RFC 3263:
 * try the name's A/AAAA) from "only '.'" (no service there). Returns how
 * many out holds (0..cap), or DNS_EPARSE for a message that does not
 * parse. Sorted by (prio, target, port) so a cut at cap is the same on
 * every instance.
 */
int dns_parse_srv(const uint8_t *msg, size_t len, struct dns_srv *out, int cap, uint32_t *min_ttl,
                  int *nsrv);

/* Milliseconds until a name whose records had this TTL is asked again:
 * ttl clamped to [refresh_min_ms, refresh_max_ms], then up to jitter_pct
 * earlier by rnd (any 64-bit random value), never below refresh_min_ms/2. */
int64_t dns_refresh_ms(uint32_t ttl_s, const struct cfg_dns_opts *o, uint64_t rnd);

/* The records of a DNS backend entry b (its address and kind), NULL/0 when
 * it has none yet. */
typedef int dns_lookup_fn(void *arg, const struct cfg_backend *b, const struct dns_rec **rec);
/* May this record's address be a backend (px_dns_dest_ok)? */
typedef bool dns_filter_fn(void *arg, const struct sockaddr *sa);

/*
 * out is a copy of src (cfg_dup); replaces each of its pools' backends by
 * src's, each DNS entry by its records: address "IP:PORT", no name, the
 * entry's weight (SRV: the record's, 0 taken as 1), drain, and tier (SRV:
 * the rank of its priority among the entry's, 0 the lowest). A record whose
 * address an earlier backend of the pool has, or that ok refuses (counted
 * in *refused), is left out; a pool stops at the table's size and
 * CFG_MAX_BACKENDS. Marks pools with a DNS entry (cfg_pool.dns). 0, or -1
 * with the reason in err (out of memory).
 */
int dns_expand(struct cfg *out, const struct cfg *src, dns_lookup_fn *look, void *larg,
               dns_filter_fn *ok, void *farg, int *refused, char *err, size_t errlen);

/* True if some backend of c is a DNS name. */
bool dns_any(const struct cfg *c);

/* ---- the resolver (dns_res.c) ---- */

struct dns;

/* Called on the DNS thread, no lock of dns held, after some name's records
 * changed (or went): the caller rebuilds its tables with dns_build. */
typedef void dns_change_fn(void *arg);

struct dns_cache;
struct dns_ask;

/*
 * Starts the resolver thread with c's dns options (servers: c-ares's
 * defaults from /etc/resolv.conf when none), resolving no backend name
 * until dns_watch. With a cache, it also resolves the hostnames the
 * workers push on their nasks ask rings (dns_cache.h) into it; cache and
 * asks must outlive dns_stop. NULL with the reason in err.
 */
struct dns *dns_start(const struct cfg *c, dns_change_fn *fn, void *arg, struct dns_cache *cache,
                      struct dns_ask *asks, int nasks, char *err, size_t errlen);

/* The names to resolve from now on: every DNS backend of src, and src's
 * options. Names it resolved already keep their records and state; new
 * ones are asked at once; the rest are forgotten. Any thread. */
void dns_watch(struct dns *d, const struct cfg *src);

/* Waits up to timeout_ms until every watched name has had its first
 * answer or failure. True if all had. */
bool dns_wait(struct dns *d, int timeout_ms);

/* dns_expand of src into out with the records the resolver holds now. */
int dns_build(struct dns *d, struct cfg *out, const struct cfg *src, dns_filter_fn *ok, void *farg,
              int *refused, char *err, size_t errlen);

/* The viaduct_dns_* metrics (Prometheus text), one series per name. */
void dns_print_metrics(struct dns *d, FILE *f);

/* A JSON array of the names: [{"name", "kind", "records", "state", ...}]. */
void dns_print_json(struct dns *d, FILE *f);

/* Stops the thread, frees everything. NULL is fine. */
void dns_stop(struct dns *d);

#endif
