/*
 * test_dns.c - core/dns.c, the pure half of DNS discovery: record sets are
 * normalised the same whatever order the server sent them in (so two
 * instances build the same table), SRV answers parse (compression, a CNAME
 * in between, "." targets, the smallest TTL) and malformed ones are
 * refused without reading outside the message, refresh times stay within
 * their bounds, and a configuration's names expand into backends with the
 * SRV tiers and weights, refusals counted, duplicates and the pool's cap
 * honoured; and the hostname cache: keys, states, its bound, no torn
 * read under a writer, the ask ring's bound; and the resolver's slots when a
 * reload renames every name (against a loopback port that refuses queries).
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

#include "core/dns.h"
#include "core/dns_cache.h"
#include "core/log.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static struct dns_rec v4(const char *ip, int port, uint16_t prio, uint16_t weight)
{
    struct dns_rec r;
    memset(&r, 0, sizeof(r));
    struct sockaddr_in *a = (struct sockaddr_in *)(void *)&r.addr;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
    r.addrlen = sizeof(*a);
    r.prio = prio;
    r.weight = weight;
    return r;
}

static struct dns_rec v6(const char *ip, int port)
{
    struct dns_rec r;
    memset(&r, 0, sizeof(r));
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)(void *)&r.addr;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
    r.addrlen = sizeof(*a);
    return r;
}

static void test_dns_norm_is_the_same_for_every_order(void **state)
{
    (void)state;
    struct dns_rec base[40];
    int n = 0;
    for (int i = 0; i < 30; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i % 3, 200 - i);
        base[n++] = v4(ip, 5060, 0, 0);
    }
    base[n++] = v6("2001:db8::5", 5060);
    base[n++] = v6("2001:db8::1", 5060);
    struct dns_rec want[40];
    memcpy(want, base, sizeof(base));
    int nwant = dns_recs_norm(want, n, 20, NULL);
    assert_int_equal(nwant, 20);
    uint64_t x = 12345;
    for (int round = 0; round < 50; round++) {
        struct dns_rec r[40];
        memcpy(r, base, sizeof(base));
        for (int i = n - 1; i > 0; i--) { /* a shuffle */
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            int j = (int)((x >> 33) % (uint64_t)(i + 1));
            struct dns_rec t = r[i];
            r[i] = r[j];
            r[j] = t;
        }
        int distinct;
        int k = dns_recs_norm(r, n, 20, &distinct);
        assert_int_equal(distinct, n);
        assert_true(dns_recs_equal(r, k, want, nwant));
    }
    /* IPv4 sorts before IPv6, and within a family by address */
    const struct sockaddr_in *a0 = (const void *)&want[0].addr, *a1 = (const void *)&want[1].addr;
    assert_int_equal(want[0].addr.ss_family, AF_INET);
    assert_true(memcmp(&a0->sin_addr, &a1->sin_addr, 4) < 0);
}

static void test_dns_norm_keeps_the_lowest_priority_of_an_address(void **state)
{
    (void)state;
    struct dns_rec r[] = {v4("10.0.0.1", 5060, 20, 5), v4("10.0.0.2", 5060, 10, 1),
                          v4("10.0.0.1", 5060, 10, 2), v4("10.0.0.1", 5061, 30, 1),
                          v4("10.0.0.1", 5060, 10, 7)};
    int distinct;
    int n = dns_recs_norm(r, ARRAY_LEN(r), 100, &distinct);
    assert_int_equal(n, 3);
    assert_int_equal(distinct, 3);
    assert_int_equal(r[0].prio, 10); /* 10.0.0.1:5060: priority 10, the higher weight */
    assert_int_equal(r[0].weight, 7);
    assert_int_equal(ntohs(((struct sockaddr_in *)(void *)&r[1].addr)->sin_port), 5061);
    assert_int_equal(dns_recs_norm(r, 0, 10, &distinct), 0);
    assert_false(dns_recs_equal(r, 3, r, 2));
}

/* ---- SRV answers ---- */

struct msg {
    uint8_t b[2048];
    size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put16(struct msg *m, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(m, b, 2);
}

static void put32(struct msg *m, uint32_t v)
{
    put16(m, v >> 16);
    put16(m, v & 0xffff);
}

static void name(struct msg *m, const char *s)
{
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        uint8_t len = (uint8_t)l;
        put(m, &len, 1);
        put(m, s, l);
        s += l + (dot ? 1 : 0);
    }
    uint8_t z = 0;
    put(m, &z, 1);
}

static void header(struct msg *m, unsigned an)
{
    m->n = 0;
    put16(m, 0x1234);
    put16(m, 0x8180);
    put16(m, 1);
    put16(m, an);
    put16(m, 0);
    put16(m, 0);
    name(m, "_sip._udp.Example.COM");
    put16(m, 33);
    put16(m, 1);
}

/* An SRV record whose owner is a pointer to the question's name (offset 12). */
static void srv(struct msg *m, uint32_t ttl, unsigned prio, unsigned weight, unsigned port,
                const char *target)
{
    put16(m, 0xc00c);
    put16(m, 33);
    put16(m, 1);
    put32(m, ttl);
    struct msg rd = {.n = 0};
    put16(&rd, prio);
    put16(&rd, weight);
    put16(&rd, port);
    name(&rd, target);
    put16(m, (unsigned)rd.n);
    put(m, rd.b, rd.n);
}

static void test_dns_parse_srv_reads_records_sorted_with_the_least_ttl(void **state)
{
    (void)state;
    struct msg m;
    header(&m, 5);
    srv(&m, 30, 20, 1, 5062, "c.example.com");
    /* a CNAME in the answer section is skipped */
    put16(&m, 0xc00c);
    put16(&m, 5);
    put16(&m, 1);
    put32(&m, 7);
    put16(&m, 2);
    put16(&m, 0xc00c);
    srv(&m, 5, 10, 3, 5061, "B.example.com");
    srv(&m, 60, 10, 1, 5060, "a.example.com");
    srv(&m, 60, 0, 0, 0, ""); /* ".": no service */
    struct dns_srv s[8];
    uint32_t ttl;
    int nsrv;
    int n = dns_parse_srv(m.b, m.n, s, 8, &ttl, &nsrv);
    assert_int_equal(n, 3); /* the "." one is not stored, nor counted as stored */
    assert_int_equal(nsrv, 4);
    assert_int_equal(ttl, 5);
    assert_string_equal(s[0].target, "a.example.com");
    assert_string_equal(s[1].target, "b.example.com"); /* lower-cased */
    assert_int_equal(s[1].weight, 3);
    assert_int_equal(s[1].port, 5061);
    assert_string_equal(s[2].target, "c.example.com");
    assert_int_equal(s[2].prio, 20);
    /* with room for two, the two smallest by (priority, target) */
    n = dns_parse_srv(m.b, m.n, s, 2, &ttl, &nsrv);
    assert_int_equal(n, 2);
    assert_int_equal(nsrv, 4);
    assert_string_equal(s[0].target, "a.example.com");
    assert_string_equal(s[1].target, "b.example.com");
}

/* The callers read out[0..n): a "." or port-0 record beside real ones must not count, or
 * they read records never written (dns_route.c's on-stack array). */
static void test_dns_parse_srv_counts_only_what_it_stores(void **state)
{
    (void)state;
    struct msg m;
    header(&m, 3);
    srv(&m, 60, 0, 0, 0, ""); /* RFC 2782's "0 0 0 ." */
    srv(&m, 60, 10, 1, 5060, "a.example.com");
    srv(&m, 60, 10, 1, 0, "b.example.com"); /* port 0: no service either */
    struct dns_srv s[4];
    memset(s, 0x5a, sizeof(s));
    uint32_t ttl;
    int nsrv;
    int n = dns_parse_srv(m.b, m.n, s, 4, &ttl, &nsrv);
    assert_int_equal(n, 1);
    assert_int_equal(nsrv, 3);
    assert_string_equal(s[0].target, "a.example.com");
    assert_int_equal(s[0].port, 5060);
    /* only ".": nothing stored, but there were SRV records (no A/AAAA fallback) */
    header(&m, 1);
    srv(&m, 60, 0, 0, 0, "");
    assert_int_equal(dns_parse_srv(m.b, m.n, s, 4, &ttl, &nsrv), 0);
    assert_int_equal(nsrv, 1);
    assert_int_equal(dns_parse_srv(m.b, m.n, s, 4, &ttl, NULL), 0);
}

static void test_dns_parse_srv_refuses_what_does_not_parse(void **state)
{
    (void)state;
    struct msg m;
    struct dns_srv s[4];
    uint32_t ttl;
    header(&m, 1);
    srv(&m, 30, 10, 1, 5060, "a.example.com");
    for (size_t cut = 0; cut < m.n; cut++) /* every truncation */
        assert_int_equal(dns_parse_srv(m.b, cut, s, 4, &ttl, NULL) < 0 || cut == m.n, true);
    assert_int_equal(dns_parse_srv(m.b, m.n, s, 4, &ttl, NULL), 1);
    /* a pointer loop in the target */
    header(&m, 1);
    put16(&m, 0xc00c);
    put16(&m, 33);
    put16(&m, 1);
    put32(&m, 30);
    put16(&m, 8);
    put16(&m, 10);
    put16(&m, 1);
    put16(&m, 5060);
    put16(&m, (unsigned)(0xc000 | m.n)); /* points at itself */
    assert_int_equal(dns_parse_srv(m.b, m.n, s, 4, &ttl, NULL), DNS_EPARSE);
    /* more answers announced than there are */
    header(&m, 3);
    srv(&m, 30, 10, 1, 5060, "a.example.com");
    assert_int_equal(dns_parse_srv(m.b, m.n, s, 4, &ttl, NULL), DNS_EPARSE);
}

/* An SRV record whose target is raw wire bytes (t, n), for names name() cannot write. */
static void srv_raw(struct msg *m, const void *t, size_t n)
{
    put16(m, 0xc00c);
    put16(m, 33);
    put16(m, 1);
    put32(m, 30);
    put16(m, (unsigned)(6 + n));
    put16(m, 10);
    put16(m, 1);
    put16(m, 5060);
    put(m, t, n);
}

static void test_dns_parse_srv_refuses_hostile_names(void **state)
{
    (void)state;
    struct msg m;
    struct dns_srv s[4];
    uint32_t ttl;
    /* a NUL in a label: the target would reach getaddrinfo cut short */
    header(&m, 1);
    srv_raw(&m, "\3a\0b\7example\3com\0", 17);
    assert_int_equal(dns_parse_srv(m.b, m.n, s, 4, &ttl, NULL), DNS_EPARSE);
    /* a '.' inside a label: "a.b" as one label would read as two */
    header(&m, 1);
    srv_raw(&m, "\3a.b\7example\3com\0", 17);
    assert_int_equal(dns_parse_srv(m.b, m.n, s, 4, &ttl, NULL), DNS_EPARSE);
    /* a space, a control byte, a high byte */
    static const char bad[] = {' ', '\n', '\x7f', '\xc3', '/', '*'};
    for (size_t i = 0; i < sizeof(bad); i++) {
        char t[] = "\3aXb\3com\0";
        t[2] = bad[i];
        header(&m, 1);
        srv_raw(&m, t, sizeof(t) - 1);
        assert_int_equal(dns_parse_srv(m.b, m.n, s, 4, &ttl, NULL), DNS_EPARSE);
    }
    /* the same record with a host name parses ('_' and '-' included) */
    header(&m, 1);
    srv_raw(&m, "\3a_b\3c-d\3com\0", 13);
    assert_int_equal(dns_parse_srv(m.b, m.n, s, 4, &ttl, NULL), 1);
    assert_string_equal(s[0].target, "a_b.c-d.com");
    /* a 300-byte owner name (more than RFC 1035's 255), read without storing it */
    header(&m, 1);
    for (int i = 0; i < 5; i++) {
        uint8_t l = 59;
        put(&m, &l, 1);
        for (int k = 0; k < 59; k++)
            put(&m, "x", 1);
    }
    put(&m, "\0", 1);
    put16(&m, 33);
    put16(&m, 1);
    put32(&m, 30);
    struct msg rd = {.n = 0};
    put16(&rd, 10);
    put16(&rd, 1);
    put16(&rd, 5060);
    name(&rd, "a.example.com");
    put16(&m, (unsigned)rd.n);
    put(&m, rd.b, rd.n);
    assert_int_equal(dns_parse_srv(m.b, m.n, s, 4, &ttl, NULL), DNS_EPARSE);
    /* a loop through labels: "x" then a pointer back to that "x", forever */
    header(&m, 1);
    size_t at = m.n;
    put(&m, "\1x", 2);
    put16(&m, (unsigned)(0xc000 | at));
    put16(&m, 33);
    put16(&m, 1);
    put32(&m, 30);
    put16(&m, (unsigned)rd.n);
    put(&m, rd.b, rd.n);
    assert_int_equal(dns_parse_srv(m.b, m.n, s, 4, &ttl, NULL), DNS_EPARSE);
    /* two pointers at each other in a target */
    header(&m, 1);
    size_t rdat = m.n + 12; /* owner pointer, type, class, TTL, length */
    uint8_t loop[4] = {(uint8_t)(0xc0 | (rdat + 8) >> 8), (uint8_t)(rdat + 8),
                       (uint8_t)(0xc0 | (rdat + 6) >> 8), (uint8_t)(rdat + 6)};
    srv_raw(&m, loop, 4);
    assert_int_equal(dns_parse_srv(m.b, m.n, s, 4, &ttl, NULL), DNS_EPARSE);
}

static void test_dns_refresh_follows_the_ttl_within_bounds(void **state)
{
    (void)state;
    struct cfg_dns_opts o = {.refresh_min_ms = 1000, .refresh_max_ms = 60000, .jitter_pct = 0};
    assert_int_equal(dns_refresh_ms(0, &o, 1), 1000);
    assert_int_equal(dns_refresh_ms(5, &o, 1), 5000);
    assert_int_equal(dns_refresh_ms(86400, &o, 1), 60000);
    o.jitter_pct = 10;
    for (uint64_t r = 0; r < 3000; r += 7) {
        int64_t ms = dns_refresh_ms(30, &o, r);
        assert_true(ms <= 30000 && ms >= 27000);
        ms = dns_refresh_ms(1, &o, r);
        assert_true(ms <= 1000 && ms >= 900);
    }
}

/* ---- expansion ---- */

struct look {
    struct dns_rec host[8], srv[8];
    int nhost, nsrv;
};

static int look(void *arg, const struct cfg_backend *b, const struct dns_rec **rec)
{
    struct look *l = arg;
    *rec = b->dns == CFG_DNS_SRV ? l->srv : l->host;
    return b->dns == CFG_DNS_SRV ? l->nsrv : l->nhost;
}

static bool no_10_0_0_13(void *arg, const struct sockaddr *sa)
{
    (void)arg;
    const struct sockaddr_in *a = (const void *)sa;
    return !(sa->sa_family == AF_INET && ntohl(a->sin_addr.s_addr) == 0x0a00000d);
}

static struct cfg *src_cfg(void)
{
    struct cfg *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->npools = 2;
    c->table_size = 65537;
    snprintf(c->pools[0].name, 64, "default");
    snprintf(c->pools[1].name, 64, "srv");
    struct cfg_pool *p = &c->pools[0];
    p->nbackends = 2;
    p->backends = calloc(2, sizeof(struct cfg_backend));
    snprintf(p->backends[0].address, CFG_STR, "reg.example.com:5070");
    p->backends[0].dns = CFG_DNS_HOST;
    p->backends[0].weight = 2;
    p->backends[0].drain = true;
    snprintf(p->backends[1].address, CFG_STR, "10.0.0.12:5070"); /* also a record */
    p->backends[1].weight = 1;
    p = &c->pools[1];
    p->nbackends = 1;
    p->backends = calloc(1, sizeof(struct cfg_backend));
    snprintf(p->backends[0].address, CFG_STR, "_sip._udp.example.com");
    p->backends[0].dns = CFG_DNS_SRV;
    p->backends[0].weight = 1;
    return c;
}

/* cfg_dup and cfg_free without linking cfg.c: only pools own memory */
static void free_cfg(struct cfg *c)
{
    for (int i = 0; i < c->npools; i++)
        free(c->pools[i].backends);
    free(c);
}

static struct cfg *dup_cfg(const struct cfg *c)
{
    struct cfg *d = malloc(sizeof(*d));
    assert_non_null(d);
    memcpy(d, c, sizeof(*d));
    for (int i = 0; i < c->npools; i++) {
        size_t n = (size_t)c->pools[i].nbackends;
        d->pools[i].backends = malloc((n ? n : 1) * sizeof(struct cfg_backend));
        assert_non_null(d->pools[i].backends);
        memcpy(d->pools[i].backends, c->pools[i].backends, n * sizeof(struct cfg_backend));
    }
    return d;
}

static void test_dns_expand_makes_backends_with_tiers_and_weights(void **state)
{
    (void)state;
    struct look l = {.nhost = 4, .nsrv = 4};
    l.host[0] = v4("10.0.0.11", 5070, 0, 0);
    l.host[1] = v4("10.0.0.12", 5070, 0, 0);
    l.host[2] = v4("10.0.0.13", 5070, 0, 0);
    l.host[3] = v6("2001:db8::7", 5070);
    l.srv[0] = v4("10.0.1.1", 5080, 10, 1);
    l.srv[1] = v4("10.0.1.2", 5081, 10, 3);
    l.srv[2] = v4("10.0.1.3", 5082, 20, 0);
    l.srv[3] = v4("10.0.1.4", 5083, 30, 1);
    struct cfg *src = src_cfg(), *out = dup_cfg(src);
    assert_non_null(out);
    char err[CFG_ERR_LEN];
    int refused = 0;
    assert_int_equal(dns_expand(out, src, look, &l, no_10_0_0_13, NULL, &refused, err, sizeof(err)),
                     0);
    assert_int_equal(refused, 1);
    const struct cfg_pool *p = &out->pools[0];
    assert_true(p->dns);
    assert_int_equal(p->nbackends, 3); /* the configured one, 10.0.0.11, [2001:db8::7] */
    assert_string_equal(p->backends[0].address, "10.0.0.12:5070");
    assert_int_equal(p->backends[0].weight, 1);
    assert_false(p->backends[0].drain);
    assert_string_equal(p->backends[1].address, "10.0.0.11:5070");
    assert_int_equal(p->backends[1].weight, 2);
    assert_true(p->backends[1].drain);
    assert_int_equal(p->backends[1].dns, CFG_DNS_NONE);
    assert_string_equal(p->backends[2].address, "[2001:db8::7]:5070");
    p = &out->pools[1];
    assert_int_equal(p->nbackends, 4);
    assert_int_equal(p->backends[0].tier, 0);
    assert_int_equal(p->backends[1].tier, 0);
    assert_int_equal(p->backends[1].weight, 3);
    assert_int_equal(p->backends[2].tier, 1);
    assert_int_equal(p->backends[2].weight, 1); /* weight 0 counts as 1 */
    assert_int_equal(p->backends[3].tier, 2);
    /* a name with no records yet: its pool is empty, and marked as DNS */
    l.nsrv = 0;
    assert_int_equal(dns_expand(out, src, look, &l, NULL, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(out->pools[1].nbackends, 0);
    assert_true(out->pools[1].dns);
    assert_true(dns_any(src));
    assert_false(dns_any(out) && out->pools[0].backends[0].dns != CFG_DNS_NONE);
    free_cfg(out);
    free_cfg(src);
}

static void test_dns_expand_stops_at_the_table_size(void **state)
{
    (void)state;
    struct look l = {.nhost = 8};
    for (int i = 0; i < 8; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.0.0.%d", 20 + i);
        l.host[i] = v4(ip, 5070, 0, 0);
    }
    struct cfg *src = src_cfg(), *out = dup_cfg(src);
    src->table_size = 5;
    char err[CFG_ERR_LEN];
    assert_int_equal(dns_expand(out, src, look, &l, NULL, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(out->pools[0].nbackends, 5);
    assert_string_equal(out->pools[0].backends[0].address, "10.0.0.12:5070");
    free_cfg(out);
    free_cfg(src);
}

/* ---- the hostname cache ---- */

static void test_dns_cache_keys_ignore_case_and_a_final_dot_not_the_port(void **state)
{
    (void)state;
    struct dns_cache *c = dns_cache_new();
    assert_non_null(c);
    uint64_t k = dns_cache_key(c, SPAN_LIT("Proxy.Example.COM"), -1);
    assert_int_equal(k, dns_cache_key(c, SPAN_LIT("proxy.example.com."), -1));
    assert_int_not_equal(k, dns_cache_key(c, SPAN_LIT("proxy.example.com"), 5060));
    assert_int_not_equal(k, 0);
    dns_cache_free(c);
}

static void test_dns_cache_answers_found_stale_negative_and_miss(void **state)
{
    (void)state;
    struct dns_cache *c = dns_cache_new();
    struct sockaddr_storage a[2], out;
    socklen_t len;
    struct dns_rec r0 = v4("10.0.0.1", 5060, 0, 0), r1 = v6("2001:db8::1", 5070);
    a[0] = r0.addr;
    a[1] = r1.addr;
    uint64_t k = dns_cache_key(c, SPAN_LIT("a.example.com"), -1);
    assert_int_equal(dns_cache_get(c, k, 1000, &out, &len), DNS_MISS);
    dns_cache_put(c, k, DNS_C_PENDING, NULL, 0, 6000);
    assert_int_equal(dns_cache_get(c, k, 1000, &out, &len), DNS_PENDING);
    /* a lookup that ended writing nothing: past the pending expiry the workers ask again */
    assert_int_equal(dns_cache_get(c, k, 6000, &out, &len), DNS_MISS);
    dns_cache_put(c, k, DNS_C_FOUND, a, 2, 2000);
    assert_int_equal(dns_cache_get(c, k, 1000, &out, &len), DNS_FOUND);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_memory_equal(&out, &a[0], sizeof(struct sockaddr_in));
    assert_int_equal(dns_cache_get(c, k, 2000, &out, &len), DNS_STALE);
    assert_int_equal(dns_cache_get(c, k, 2000 + DNS_CACHE_STALE_MS, &out, &len), DNS_MISS);
    dns_cache_put(c, k, DNS_C_NEGATIVE, NULL, 0, 3000);
    assert_int_equal(dns_cache_get(c, k, 2500, &out, &len), DNS_NEGATIVE);
    assert_int_equal(dns_cache_get(c, k, 3000, &out, &len), DNS_MISS);
    assert_int_equal(dns_cache_count(c), 1);
    dns_cache_free(c);
}

static void test_dns_cache_is_bounded_and_evicts_what_expires_first(void **state)
{
    (void)state;
    struct dns_cache *c = dns_cache_new();
    struct dns_rec r = v4("10.0.0.1", 5060, 0, 0);
    char name[32];
    for (int i = 0; i < 5 * DNS_CACHE_SLOTS; i++) {
        snprintf(name, sizeof(name), "h%d.example.com", i);
        uint64_t k = dns_cache_key(c, span_make(name, strlen(name)), -1);
        dns_cache_put(c, k, DNS_C_FOUND, &r.addr, 1, 10000 + i);
        struct sockaddr_storage out;
        socklen_t len;
        assert_int_equal(dns_cache_get(c, k, 0, &out, &len), DNS_FOUND); /* the newest stays */
    }
    assert_true(dns_cache_count(c) <= DNS_CACHE_SLOTS);
    assert_true(dns_cache_count(c) > DNS_CACHE_SLOTS * 9 / 10);
    dns_cache_free(c);
}

struct flip {
    struct dns_cache *c;
    uint64_t key;
    atomic_bool stop;
    atomic_ulong torn, reads;
};

/* Readers see one of two consistent entries, never a mix: the address's
 * last byte always matches its port. */
static void *reader(void *arg)
{
    struct flip *f = arg;
    while (!atomic_load(&f->stop)) {
        struct sockaddr_storage out;
        socklen_t len;
        if (dns_cache_get(f->c, f->key, 0, &out, &len) != DNS_FOUND)
            continue;
        const struct sockaddr_in *a = (const void *)&out;
        if ((int)(ntohl(a->sin_addr.s_addr) & 0xff) != ntohs(a->sin_port) - 5000)
            atomic_fetch_add(&f->torn, 1);
        atomic_fetch_add(&f->reads, 1);
    }
    return NULL;
}

static void test_dns_cache_readers_never_see_a_torn_entry(void **state)
{
    (void)state;
    struct flip f = {.c = dns_cache_new()};
    f.key = dns_cache_key(f.c, SPAN_LIT("flip.example.com"), -1);
    struct dns_rec x = v4("10.0.0.1", 5001, 0, 0), y = v4("10.0.0.2", 5002, 0, 0);
    dns_cache_put(f.c, f.key, DNS_C_FOUND, &x.addr, 1, 1 << 30);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &f), 0);
    for (int i = 0; i < 200000; i++)
        dns_cache_put(f.c, f.key, DNS_C_FOUND, i & 1 ? &x.addr : &y.addr, 1, 1 << 30);
    atomic_store(&f.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    printf("    %lu reads during 200000 writes, %lu torn\n", (unsigned long)f.reads,
           (unsigned long)f.torn);
    assert_int_equal(f.torn, 0);
    dns_cache_free(f.c);
}

static void test_dns_ask_ring_is_bounded(void **state)
{
    (void)state;
    static struct dns_ask a;
    a.wake_fd = -1;
    char host[DNS_HOST_MAX];
    int port;
    uint64_t key;
    assert_false(dns_ask_pop(&a, host, &port, &key));
    for (int i = 0; i < DNS_ASK_RING; i++)
        assert_true(dns_ask_push(&a, SPAN_LIT("x.example.com"), i, (uint64_t)i + 1));
    assert_false(dns_ask_push(&a, SPAN_LIT("y.example.com"), 1, 99));
    assert_int_equal(a.dropped, 1);
    assert_true(dns_ask_pop(&a, host, &port, &key));
    assert_string_equal(host, "x.example.com");
    assert_int_equal(port, 0);
    assert_int_equal(key, 1);
    char big[DNS_HOST_MAX + 1];
    memset(big, 'a', sizeof(big));
    assert_false(dns_ask_push(&a, span_make(big, sizeof(big)), 1, 5));
}

/* ---- the resolver (dns_res.c) ---- */

static struct cfg *names_cfg(const char *fmt, int n, int port)
{
    struct cfg *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->npools = 1;
    c->table_size = 65537;
    snprintf(c->pools[0].name, 64, "default");
    c->pools[0].nbackends = n;
    c->pools[0].backends = calloc((size_t)n, sizeof(struct cfg_backend));
    for (int i = 0; i < n; i++) {
        struct cfg_backend *b = &c->pools[0].backends[i];
        snprintf(b->address, CFG_STR, fmt, i);
        b->dns = CFG_DNS_HOST;
        b->weight = 1;
    }
    struct cfg_dns_opts *o = &c->dns;
    o->nservers = 1;
    snprintf(o->servers[0], CFG_STR, "127.0.0.1:%d", port);
    o->refresh_min_ms = o->refresh_max_ms = 600000; /* a failed name is not asked again here */
    o->stale_seconds = 30;
    o->max_records = 16;
    o->timeout_ms = 200;
    return c;
}

static void no_change(void *arg)
{
    (void)arg;
}

/* How many names dns_print_json lists. */
static int json_names(struct dns *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    dns_print_json(d, f);
    fclose(f);
    int n = 0;
    for (const char *p = buf; (p = strstr(p, "\"name\"")) != NULL; p++)
        n++;
    free(buf);
    return n;
}

/* A port on loopback where nothing listens: every query is refused at once. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* 40 names replaced by 40 others: old and new are more than DNS_MAX_NAMES together, so the
 * forgotten ones must give their slots up before the new ones take theirs. */
static void test_dns_watch_replaces_every_name_past_the_slot_count(void **state)
{
    (void)state;
    int port = closed_port();
    struct cfg *a = names_cfg("old%d.example.test:5060", 40, port);
    struct cfg *b = names_cfg("new%d.example.test:5060", 40, port);
    char err[CFG_ERR_LEN];
    log_setup(LOG_LOGFMT, LOG_ERROR, 2); /* 80 "no backends from it" lines say nothing here */
    struct dns *d = dns_start(a, no_change, NULL, NULL, NULL, 0, err, sizeof(err));
    assert_non_null(d);
    dns_watch(d, a);
    assert_true(dns_wait(d, 10000)); /* all failed: idle until refresh_min_ms */
    assert_int_equal(json_names(d), 40);
    dns_watch(d, b);
    assert_true(dns_wait(d, 10000));
    assert_int_equal(json_names(d), 40);
    dns_stop(d);
    free_cfg(a);
    free_cfg(b);
}

/* One wake per burst of asks, not a write(2) per ask; again once the thread took them all. */
static void test_dns_ask_wakes_once_per_burst(void **state)
{
    (void)state;
    static struct dns_ask a;
    a.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(a.wake_fd >= 0);
    char host[DNS_HOST_MAX];
    int port;
    uint64_t key, v;
    for (int i = 0; i < 3; i++)
        assert_true(dns_ask_push(&a, SPAN_LIT("x.example.com"), i, (uint64_t)i + 1));
    assert_int_equal(read(a.wake_fd, &v, sizeof(v)), sizeof(v));
    assert_int_equal(v, 1);
    assert_true(dns_ask_pop(&a, host, &port, &key));
    assert_true(dns_ask_push(&a, SPAN_LIT("y.example.com"), 1, 9)); /* two still queued */
    assert_int_equal(read(a.wake_fd, &v, sizeof(v)), -1);
    while (dns_ask_pop(&a, host, &port, &key))
        ;
    assert_true(dns_ask_push(&a, SPAN_LIT("z.example.com"), 1, 10));
    assert_int_equal(read(a.wake_fd, &v, sizeof(v)), sizeof(v));
    assert_int_equal(v, 1);
    close(a.wake_fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_norm_is_the_same_for_every_order),
        cmocka_unit_test(test_dns_norm_keeps_the_lowest_priority_of_an_address),
        cmocka_unit_test(test_dns_parse_srv_reads_records_sorted_with_the_least_ttl),
        cmocka_unit_test(test_dns_parse_srv_counts_only_what_it_stores),
        cmocka_unit_test(test_dns_parse_srv_refuses_what_does_not_parse),
        cmocka_unit_test(test_dns_parse_srv_refuses_hostile_names),
        cmocka_unit_test(test_dns_refresh_follows_the_ttl_within_bounds),
        cmocka_unit_test(test_dns_expand_makes_backends_with_tiers_and_weights),
        cmocka_unit_test(test_dns_expand_stops_at_the_table_size),
        cmocka_unit_test(test_dns_cache_keys_ignore_case_and_a_final_dot_not_the_port),
        cmocka_unit_test(test_dns_cache_answers_found_stale_negative_and_miss),
        cmocka_unit_test(test_dns_cache_is_bounded_and_evicts_what_expires_first),
        cmocka_unit_test(test_dns_cache_readers_never_see_a_torn_entry),
        cmocka_unit_test(test_dns_ask_ring_is_bounded),
        cmocka_unit_test(test_dns_ask_wakes_once_per_burst),
        cmocka_unit_test(test_dns_watch_replaces_every_name_past_the_slot_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
