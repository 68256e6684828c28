/*
 * dns_route.c - resolving the names of Route next hops (dns_route.h).
 */
#include "core/dns_route.h"

#include "core/clock.h"
#include "core/dns.h"

#include <ares.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct dns_look {
    bool used;
    uint64_t key;
    char host[DNS_HOST_MAX];
    int port;
    int inflight;
    bool gone; /* the channel is being destroyed: write nothing */
    struct dns_rec rec[DNS_CACHE_ADDRS * 4];
    int nrec;
    uint32_t ttl;
    struct dns_route *r;
};

struct dns_route {
    struct dns_cache *cache;
    struct dns_ask *asks;
    int nasks;
    const struct cfg_dns_opts *opts;
    void *ch;
    atomic_uint_fast64_t lookups, found, negative, waited, failed;
    struct dns_look look[DNS_ROUTE_LOOKUPS];
};

struct dns_rq {
    struct dns_look *l;
    uint16_t prio, weight, port;
};

struct dns_route *dns_route_new(struct dns_cache *cache, struct dns_ask *asks, int n,
                                const struct cfg_dns_opts *opts)
{
    struct dns_route *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->cache = cache;
    r->asks = asks;
    r->nasks = n;
    r->opts = opts;
    return r;
}

void dns_route_free(struct dns_route *r)
{
    free(r);
}

/* lowest priority first, then by address (dns_recs_norm's order) */
static void by_prio(struct dns_rec *r, int n)
{
    for (int i = 1; i < n; i++) {
        struct dns_rec x = r[i];
        int j = i;
        for (; j > 0 && r[j - 1].prio > x.prio; j--)
            r[j] = r[j - 1];
        r[j] = x;
    }
}

static void finish(struct dns_look *l)
{
    struct dns_route *r = l->r;
    l->used = false;
    if (l->gone)
        return;
    int64_t now = clk_now_ms();
    int n = dns_recs_norm(l->rec, l->nrec, DNS_CACHE_ADDRS * 4, NULL);
    by_prio(l->rec, n);
    if (n > 0) {
        struct sockaddr_storage a[DNS_CACHE_ADDRS];
        int k = n < DNS_CACHE_ADDRS ? n : DNS_CACHE_ADDRS;
        for (int i = 0; i < k; i++)
            a[i] = l->rec[i].addr;
        int64_t ms = (int64_t)l->ttl * 1000;
        if (ms < r->opts->refresh_min_ms)
            ms = r->opts->refresh_min_ms;
        if (ms > r->opts->refresh_max_ms)
            ms = r->opts->refresh_max_ms;
        dns_cache_put(r->cache, l->key, DNS_C_FOUND, a, k, now + ms);
        atomic_fetch_add_explicit(&r->found, 1, memory_order_relaxed);
    } else {
        int64_t exp, stale;
        if (dns_cache_peek(r->cache, l->key, &exp, &stale) == DNS_C_FOUND && now < stale) {
            atomic_fetch_add_explicit(&r->failed, 1, memory_order_relaxed);
            return; /* the last good addresses serve until their stale time ends */
        }
        int64_t ms =
            DNS_CACHE_NEG_MS < r->opts->refresh_max_ms ? DNS_CACHE_NEG_MS : r->opts->refresh_max_ms;
        dns_cache_put(r->cache, l->key, DNS_C_NEGATIVE, NULL, 0, now + ms);
        atomic_fetch_add_explicit(&r->negative, 1, memory_order_relaxed);
    }
}

static void done(struct dns_look *l)
{
    if (--l->inflight == 0)
        finish(l);
}

static void on_addrs(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    struct dns_rq *q = arg;
    struct dns_look *l = q->l;
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
        l->gone = true;
    for (struct ares_addrinfo_node *n = res ? res->nodes : NULL; n != NULL; n = n->ai_next) {
        if (l->nrec >= (int)(sizeof(l->rec) / sizeof(l->rec[0])) ||
            (n->ai_family != AF_INET && n->ai_family != AF_INET6))
            continue;
        struct dns_rec *rec = &l->rec[l->nrec++];
        memset(rec, 0, sizeof(*rec));
        memcpy(&rec->addr, n->ai_addr, (size_t)n->ai_addrlen);
        rec->addrlen = (socklen_t)n->ai_addrlen;
        if (n->ai_family == AF_INET)
            ((struct sockaddr_in *)(void *)&rec->addr)->sin_port = htons(q->port);
        else
            ((struct sockaddr_in6 *)(void *)&rec->addr)->sin6_port = htons(q->port);
        rec->prio = q->prio;
        rec->weight = q->weight;
        if (n->ai_ttl >= 0 && (uint32_t)n->ai_ttl < l->ttl)
            l->ttl = (uint32_t)n->ai_ttl;
    }
    if (res != NULL)
        ares_freeaddrinfo(res);
    free(q);
    done(l);
}

static void addrs(struct dns_look *l, const char *name, uint16_t prio, uint16_t weight,
                  uint16_t port)
{
    struct dns_rq *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return;
    *q = (struct dns_rq){l, prio, weight, port};
    struct ares_addrinfo_hints h = {.ai_family = AF_UNSPEC, .ai_flags = ARES_AI_NOSORT};
    l->inflight++;
    ares_getaddrinfo(l->r->ch, name, NULL, &h, on_addrs, q);
}

static void on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct dns_look *l = arg;
    struct dns_srv s[DNS_CACHE_ADDRS];
    uint32_t ttl;
    int n = -1, nsrv = 0;
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
        l->gone = true;
    else if (status == ARES_SUCCESS)
        n = dns_parse_srv(abuf, (size_t)alen, s, DNS_CACHE_ADDRS, &ttl, &nsrv);
    if (!l->gone) {
        if (n > 0) {
            if (ttl < l->ttl)
                l->ttl = ttl;
            for (int i = 0; i < n; i++)
                addrs(l, s[i].target, s[i].prio, s[i].weight, s[i].port);
        } else if (nsrv == 0) {
            addrs(l, l->host, 0, 0, 5060); /* no SRV records: the name itself, port 5060 */
        } /* else only "." records: no service there (RFC 2782), cached negative */
    }
    done(l);
}

static void start(struct dns_route *r, struct dns_look *l)
{
    atomic_fetch_add_explicit(&r->lookups, 1, memory_order_relaxed);
    /* an expired entry keeps serving, fresh again for as long as the lookup may take,
     * while it is asked again; a new or negative one is pending as long: the workers stop
     * asking, and ask again if the lookup ends writing nothing (a reload destroyed the
     * channel) */
    int64_t exp, stale, now = clk_now_ms(), wait = now + 4 * (int64_t)r->opts->timeout_ms + 500;
    if (dns_cache_peek(r->cache, l->key, &exp, &stale) == DNS_C_FOUND && now < stale)
        dns_cache_extend(r->cache, l->key, wait < stale ? wait : stale);
    else
        dns_cache_put(r->cache, l->key, DNS_C_PENDING, NULL, 0, wait);
    l->inflight = 1;
    if (l->port >= 0) {
        addrs(l, l->host, 0, 0, (uint16_t)l->port);
    } else {
        char q[DNS_HOST_MAX + 16];
        snprintf(q, sizeof(q), "_sip._udp.%s", l->host);
        l->inflight++;
        ares_query(r->ch, q, 1 /* IN */, 33 /* SRV */, on_srv, l);
    }
    done(l);
}

void dns_route_take(struct dns_route *r, void *ch, int64_t now_ms)
{
    r->ch = ch;
    for (int w = 0; w < r->nasks; w++) {
        for (int k = 0; k < DNS_ASK_RING; k++) {
            struct dns_look *l = NULL;
            for (int i = 0; i < DNS_ROUTE_LOOKUPS && l == NULL; i++)
                if (!r->look[i].used)
                    l = &r->look[i];
            if (l == NULL) {
                atomic_fetch_add_explicit(&r->waited, 1, memory_order_relaxed);
                return; /* the rest waits in the rings for a free lookup */
            }
            char host[DNS_HOST_MAX];
            int port;
            uint64_t key;
            if (!dns_ask_pop(&r->asks[w], host, &port, &key))
                break;
            int64_t exp, stale;
            enum dns_cache_state st = dns_cache_peek(r->cache, key, &exp, &stale);
            if ((st == DNS_C_PENDING || st == DNS_C_FOUND || st == DNS_C_NEGATIVE) && now_ms < exp)
                continue; /* asked twice, or answered since */
            bool dup = false;
            for (int i = 0; i < DNS_ROUTE_LOOKUPS && !dup; i++)
                dup = r->look[i].used && r->look[i].key == key;
            if (dup)
                continue;
            memset(l, 0, sizeof(*l));
            l->used = true;
            l->r = r;
            l->key = key;
            l->port = port;
            l->ttl = UINT32_MAX;
            size_t n = strnlen(host, DNS_HOST_MAX - 1);
            for (size_t i = 0; i < n; i++)
                l->host[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] + 32 : host[i]);
            if (n > 0 && l->host[n - 1] == '.')
                l->host[n - 1] = '\0';
            start(r, l);
        }
    }
}

void dns_route_metrics(const struct dns_route *r, FILE *f)
{
    static const char *const names[] = {
        "viaduct_dns_route_lookups_total", "viaduct_dns_route_found_total",
        "viaduct_dns_route_negative_total", "viaduct_dns_route_busy_total",
        "viaduct_dns_route_stale_total"};
    static const char *const help[] = {
        "hostnames of Route next hops looked up", "of them resolved (cached for their TTL)",
        "of them that did not resolve (cached, answered 503)",
        "times every lookup was busy and asks waited in the workers' rings",
        "refreshes that failed while the last addresses kept serving (DNS_CACHE_STALE_MS)"};
    uint64_t v[] = {atomic_load(&r->lookups), atomic_load(&r->found), atomic_load(&r->negative),
                    atomic_load(&r->waited), atomic_load(&r->failed)};
    for (int i = 0; i < 5; i++)
        fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", names[i], help[i], names[i],
                names[i], (unsigned long long)v[i]);
    uint64_t dropped = 0;
    for (int w = 0; w < r->nasks; w++)
        dropped += atomic_load_explicit(&r->asks[w].dropped, memory_order_relaxed);
    fprintf(f,
            "# HELP viaduct_dns_route_asks_dropped_total asks lost to a full ring\n"
            "# TYPE viaduct_dns_route_asks_dropped_total counter\n"
            "viaduct_dns_route_asks_dropped_total %llu\n"
            "# HELP viaduct_dns_route_cached names in the hostname cache\n"
            "# TYPE viaduct_dns_route_cached gauge\nviaduct_dns_route_cached %d\n",
            (unsigned long long)dropped, dns_cache_count(r->cache));
}
