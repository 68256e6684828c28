/*
 * dns.c - the pure half of DNS discovery (dns.h): record sets, SRV answers,
 * refresh times and the expansion of a configuration's names into
 * backends. No thread, no socket, no clock: test_dns drives it with
 * hand-made answers.
 *
 * Why sort by address: Maglev's table depends only on the set of backend
 * names (rt.c sorts them), but what is cut when a name gives more than
 * dns.max_records, and which duplicate survives, would depend on the order
 * the server sent. Sorted first, every instance cuts and dedupes alike.
 */
#include "core/dns.h"

#include "core/rt.h"
#include "net/net.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* family, IP bytes, port: a total order over addresses */
static int addr_cmp(const struct dns_rec *a, const struct dns_rec *b)
{
    int fa = a->addr.ss_family, fb = b->addr.ss_family;
    if (fa != fb)
        return fa < fb ? -1 : 1;
    int c;
    uint16_t pa, pb;
    if (fa == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a->addr, *y = (const void *)&b->addr;
        c = memcmp(&x->sin_addr, &y->sin_addr, 4);
        pa = ntohs(x->sin_port);
        pb = ntohs(y->sin_port);
    } else {
        const struct sockaddr_in6 *x = (const void *)&a->addr, *y = (const void *)&b->addr;
        c = memcmp(&x->sin6_addr, &y->sin6_addr, 16);
        pa = ntohs(x->sin6_port);
        pb = ntohs(y->sin6_port);
    }
    if (c != 0)
        return c;
    return pa < pb ? -1 : pa > pb;
}

static int rec_cmp(const void *x, const void *y)
{
    const struct dns_rec *a = x, *b = y;
    int c = addr_cmp(a, b);
    if (c != 0)
        return c;
    if (a->prio != b->prio)
        return a->prio < b->prio ? -1 : 1;
    return a->weight > b->weight ? -1 : a->weight < b->weight;
}

int dns_recs_norm(struct dns_rec *r, int n, int max, int *distinct)
{
    if (n <= 0) {
        if (distinct)
            *distinct = 0;
        return 0;
    }
    qsort(r, (size_t)n, sizeof(*r), rec_cmp);
    int k = 1;
    for (int i = 1; i < n; i++)
        if (addr_cmp(&r[i], &r[k - 1]) != 0)
            r[k++] = r[i]; /* the first of equal addresses: lowest priority, highest weight */
    if (distinct)
        *distinct = k;
    return k < max ? k : max;
}

bool dns_recs_equal(const struct dns_rec *a, int na, const struct dns_rec *b, int nb)
{
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++)
        if (addr_cmp(&a[i], &b[i]) != 0 || a[i].prio != b[i].prio || a[i].weight != b[i].weight)
            return false;
    return true;
}

/* ---- SRV answers (RFC 1035 §4.1, RFC 2782) ---- */

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

#define NAME_WIRE_MAX 255 /* RFC 1035 §3.1: a name's labels, their length bytes and the root's */
#define NAME_HOPS 64      /* pointers followed in one name: a loop of pointers ends there */

/* A byte a host name's label may hold (cfg_value.c's names: letters, digits, '-', '_').
 * A target goes to getaddrinfo as text: a NUL would cut it, a '.' split a label. */
static bool host_byte(uint8_t ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

/*
 * Reads the name at msg[at]; returns the offset just past the name where
 * it starts (not where pointers lead), or -1. A name longer than
 * NAME_WIRE_MAX on the wire (counted through pointers, so a loop through
 * labels ends there too) or with more than NAME_HOPS pointers is -1. If out
 * is not NULL the name must be a host name (host_byte): it goes there
 * lower-cased, with dots, no final dot ("" for the root).
 */
static long read_name(const uint8_t *msg, size_t len, size_t at, char *out, size_t cap)
{
    long end = -1;
    size_t n = 0, wire = 1; /* the root's length byte */
    for (int hops = 0;;) {
        if (at >= len)
            return -1;
        uint8_t l = msg[at];
        if (l == 0) {
            if (out)
                out[n] = '\0';
            return end >= 0 ? end : (long)at + 1;
        }
        if ((l & 0xc0) == 0xc0) {
            if (at + 1 >= len || ++hops > NAME_HOPS)
                return -1;
            if (end < 0)
                end = (long)at + 2;
            at = (size_t)(l & 0x3f) << 8 | msg[at + 1];
            continue;
        }
        wire += 1 + (size_t)l;
        if ((l & 0xc0) != 0 || at + 1 + l > len || wire > NAME_WIRE_MAX)
            return -1;
        if (out) {
            if (n + l + 2 > cap)
                return -1;
            if (n > 0)
                out[n++] = '.';
            for (size_t i = 0; i < l; i++) {
                uint8_t ch = msg[at + 1 + i];
                if (!host_byte(ch))
                    return -1;
                out[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
            }
        }
        at += 1 + (size_t)l;
    }
}

static int srv_cmp(const void *x, const void *y)
{
    const struct dns_srv *a = x, *b = y;
    if (a->prio != b->prio)
        return a->prio < b->prio ? -1 : 1;
    int c = strcmp(a->target, b->target);
    if (c != 0)
        return c;
    return a->port < b->port ? -1 : a->port > b->port;
}

int dns_parse_srv(const uint8_t *msg, size_t len, struct dns_srv *out, int cap, uint32_t *min_ttl,
                  int *nsrv)
{
    *min_ttl = UINT32_MAX;
    if (nsrv != NULL)
        *nsrv = 0;
    if (len < 12)
        return DNS_EPARSE;
    unsigned qd = get16(msg + 4), an = get16(msg + 6);
    long at = 12;
    for (unsigned i = 0; i < qd; i++) {
        at = read_name(msg, len, (size_t)at, NULL, 0);
        if (at < 0 || (size_t)at + 4 > len)
            return DNS_EPARSE;
        at += 4;
    }
    int n = 0, kept = 0;
    for (unsigned i = 0; i < an; i++) {
        at = read_name(msg, len, (size_t)at, NULL, 0);
        if (at < 0 || (size_t)at + 10 > len)
            return DNS_EPARSE;
        const uint8_t *rr = msg + at;
        uint16_t type = get16(rr), rdlen = get16(rr + 8);
        uint32_t ttl = (uint32_t)rr[4] << 24 | (uint32_t)rr[5] << 16 | (uint32_t)rr[6] << 8 | rr[7];
        size_t rd = (size_t)at + 10;
        if (rd + rdlen > len)
            return DNS_EPARSE;
        at = (long)(rd + rdlen);
        if (type != 33) /* SRV */
            continue;
        if (rdlen < 7)
            return DNS_EPARSE;
        struct dns_srv s = {.prio = get16(msg + rd),
                            .weight = get16(msg + rd + 2),
                            .port = get16(msg + rd + 4),
                            .ttl = ttl};
        if (read_name(msg, len, rd + 6, s.target, sizeof(s.target)) < 0)
            return DNS_EPARSE;
        if (ttl < *min_ttl)
            *min_ttl = ttl;
        n++;
        if (s.target[0] == '\0' || s.port == 0) /* "." : no such service here (RFC 2782) */
            continue;
        if (kept < cap) {
            out[kept++] = s;
        } else {
            /* keep the smallest cap by (prio, target, port): replace the largest */
            int big = 0;
            for (int k = 1; k < kept; k++)
                if (srv_cmp(&out[k], &out[big]) > 0)
                    big = k;
            if (kept > 0 && srv_cmp(&s, &out[big]) < 0)
                out[big] = s;
        }
    }
    qsort(out, (size_t)kept, sizeof(*out), srv_cmp);
    if (nsrv != NULL)
        *nsrv = n;
    return kept; /* what out holds: callers read out[0..kept) and nothing else */
}

int64_t dns_refresh_ms(uint32_t ttl_s, const struct cfg_dns_opts *o, uint64_t rnd)
{
    int64_t ms = (int64_t)ttl_s * 1000;
    if (ms < o->refresh_min_ms)
        ms = o->refresh_min_ms;
    if (ms > o->refresh_max_ms)
        ms = o->refresh_max_ms;
    int64_t early = o->jitter_pct ? (int64_t)(rnd % 1000) * ms * o->jitter_pct / 100000 : 0;
    ms -= early;
    return ms < o->refresh_min_ms / 2 ? o->refresh_min_ms / 2 : ms;
}

/* ---- expansion ---- */

bool dns_any(const struct cfg *c)
{
    for (int p = 0; p < c->npools; p++)
        for (int i = 0; i < c->pools[p].nbackends; i++)
            if (c->pools[p].backends[i].dns != CFG_DNS_NONE)
                return true;
    return false;
}

static bool has_id(const struct cfg_backend *b, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp((b[i].name[0] ? b[i].name : b[i].address), id) == 0)
            return true;
    return false;
}

/* The rank of prio among the distinct priorities of rec[0..n). */
static uint8_t tier_of(const struct dns_rec *rec, int n, uint16_t prio)
{
    uint16_t below[256];
    int nb = 0;
    for (int i = 0; i < n && nb < 255; i++) {
        if (rec[i].prio >= prio)
            continue;
        bool seen = false;
        for (int k = 0; k < nb && !seen; k++)
            seen = below[k] == rec[i].prio;
        if (!seen)
            below[nb++] = rec[i].prio;
    }
    return (uint8_t)nb;
}

static int expand_pool(struct cfg_pool *op, const struct cfg_pool *sp, uint32_t table_size,
                       dns_lookup_fn *look, void *larg, dns_filter_fn *ok, void *farg, int *refused)
{
    int cap = RT_MAX_BACKENDS < (int64_t)table_size ? RT_MAX_BACKENDS : (int)table_size;
    int want = 0;
    const struct dns_rec *rec[RT_MAX_BACKENDS];
    int nrec[RT_MAX_BACKENDS];
    op->dns = false;
    for (int i = 0; i < sp->nbackends && i < RT_MAX_BACKENDS; i++) {
        const struct cfg_backend *b = &sp->backends[i];
        rec[i] = NULL;
        nrec[i] = 0;
        if (b->dns == CFG_DNS_NONE) {
            want++;
            continue;
        }
        op->dns = true;
        nrec[i] = look(larg, b, &rec[i]);
        want += nrec[i];
    }
    struct cfg_backend *nb = calloc((size_t)(want > 0 ? want : 1), sizeof(*nb));
    if (nb == NULL)
        return -1;
    /* the configured backends first: a record at one's address is that backend */
    int n = 0;
    for (int i = 0; i < sp->nbackends && n < cap; i++)
        if (sp->backends[i].dns == CFG_DNS_NONE)
            nb[n++] = sp->backends[i];
    for (int i = 0; i < sp->nbackends && i < RT_MAX_BACKENDS && n < cap; i++) {
        const struct cfg_backend *b = &sp->backends[i];
        if (b->dns == CFG_DNS_NONE)
            continue;
        for (int k = 0; k < nrec[i] && n < cap; k++) {
            const struct dns_rec *r = &rec[i][k];
            struct cfg_backend e = {.weight = b->weight, .drain = b->drain, .from_dns = true};
            if (ok != NULL && !ok(farg, (const struct sockaddr *)&r->addr)) {
                (*refused)++;
                continue;
            }
            if (net_addr_format((const struct sockaddr *)&r->addr, e.address, sizeof(e.address)) <
                    0 ||
                has_id(nb, n, e.address))
                continue;
            if (b->dns == CFG_DNS_SRV) {
                e.weight = r->weight > 0 ? r->weight : 1;
                e.tier = tier_of(rec[i], nrec[i], r->prio);
            }
            nb[n++] = e;
        }
    }
    free(op->backends);
    op->backends = nb;
    op->nbackends = n;
    return 0;
}

int dns_expand(struct cfg *out, const struct cfg *src, dns_lookup_fn *look, void *larg,
               dns_filter_fn *ok, void *farg, int *refused, char *err, size_t errlen)
{
    int dummy = 0;
    if (refused == NULL)
        refused = &dummy;
    for (int p = 0; p < src->npools; p++) {
        if (expand_pool(&out->pools[p], &src->pools[p], src->table_size, look, larg, ok, farg,
                        refused) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}
