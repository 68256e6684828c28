/*
 * px_cfg.c - turning a validated configuration into the proxy's runtime
 * one: listen sockets' addresses, advertise and alias hosts (taken apart by
 * cfg_parse_hostport, the configuration's one HOST:PORT parser), one Maglev
 * table per pool, rules with the pool index and source prefixes the
 * configuration already resolved. Start-up code: may use C strings.
 */
#include "core/px.h"

#include "core/clock.h"

#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An advertise or alias value, by the configuration's one HOST:PORT parser. */
static int parse_hostport(const char *s, bool port_required, char *host, size_t *host_len,
                          int *port, bool *ip6)
{
    struct cfg_hostport hp;
    char msg[CFG_ERR_LEN];
    if (cfg_parse_hostport(s, port_required, &hp, msg, sizeof(msg)) < 0 ||
        hp.host_len >= PX_HOST_MAX)
        return -1;
    memcpy(host, hp.host, hp.host_len + 1);
    *host_len = hp.host_len;
    *port = hp.port ? hp.port : 5060; /* a bare HOST means port 5060 */
    *ip6 = hp.ip6;
    return 0;
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)ss)->sin_addr.s_addr == 0;
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr);
}

int px_listen_init(struct px_listen *l, const char *listen, const char *advertise, char *err,
                   size_t errlen)
{
    char buf[80];
    memset(l, 0, sizeof(*l));
    l->tcp = cfg_listen_split(listen, &listen) == CFG_TP_TCP;
    if (net_addr_parse(listen, &l->addr, &l->addrlen) < 0) {
        snprintf(err, errlen, "bad --listen address '%s' (want IP:PORT or [IPv6]:PORT)", listen);
        return -1;
    }
    int n = net_addr_format_ip((const struct sockaddr *)&l->addr, l->ip, sizeof(l->ip));
    l->ip_len = n > 0 ? (size_t)n : 0;
    l->wildcard = is_wildcard(&l->addr);
    if (advertise == NULL) {
        if (l->wildcard) {
            snprintf(err, errlen, "--listen %s is a wildcard address: give --advertise HOST:PORT",
                     listen);
            return -1;
        }
        net_addr_format((const struct sockaddr *)&l->addr, buf, sizeof(buf));
        advertise = buf;
    }
    if (parse_hostport(advertise, true, l->host, &l->host_len, &l->port, &l->host_is_ip6) < 0) {
        snprintf(err, errlen, "bad --advertise '%s' (want HOST:PORT or [IPv6]:PORT)", advertise);
        return -1;
    }
    return 0;
}

int px_alias_init(struct px_alias *a, const char *s)
{
    bool ip6;
    return parse_hostport(s, false, a->host, &a->host_len, &a->port, &ip6);
}

static int build_pool(struct px_pool *pp, const struct cfg_pool *cp, const struct cfg *c,
                      uint64_t seed, char *err, size_t errlen)
{
    struct rt_backend *b = calloc((size_t)(cp->nbackends > 0 ? cp->nbackends : 1), sizeof(*b));
    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* a DNS name not expanded (dns.h: --check, a configuration built without the
     * resolver) is no backend yet: its pool is one whose names have not resolved */
    int nb = 0;
    bool dns = cp->dns;
    for (int i = 0; i < cp->nbackends; i++) {
        const struct cfg_backend *cb = &cp->backends[i];
        if (cb->dns != CFG_DNS_NONE) {
            dns = true;
            continue;
        }
        struct rt_backend *rb = &b[nb++];
        snprintf(rb->name, sizeof(rb->name), "%.*s", (int)sizeof(rb->name) - 1,
                 cb->name[0] ? cb->name : cb->address);
        rb->weight = cb->weight ? cb->weight : 1;
        rb->tier = cb->tier;
        if (net_addr_parse(cb->address, &rb->addr, &rb->addrlen) < 0) {
            snprintf(err, errlen, "pool %s: bad backend address '%s'", cp->name, cb->address);
            free(b);
            return -1;
        }
    }
    struct rt_table *t;
    char why[200];
    int r = rt_table_build(b, nb, c->table_size, seed, &t, why, sizeof(why));
    free(b);
    if (r < 0) {
        snprintf(err, errlen, "pool %s: %s", cp->name, why);
        return -1;
    }
    int n = t->n > 0 ? t->n : 1;
    pp->rt = t;
    pp->dns = dns;
    pp->state = calloc((size_t)n, sizeof(*pp->state));
    pp->changed_ms = calloc((size_t)n, sizeof(*pp->changed_ms));
    pp->held_ms = calloc((size_t)n, sizeof(*pp->held_ms));
    pp->returned_ms = calloc((size_t)n, sizeof(*pp->returned_ms));
    pp->vouched_ms = calloc((size_t)n, sizeof(*pp->vouched_ms));
    pp->drain = calloc((size_t)n, sizeof(*pp->drain));
    pp->slot = calloc((size_t)n, sizeof(*pp->slot));
    pp->override = calloc((size_t)n, sizeof(*pp->override));
    pp->override_seen = calloc((size_t)n, sizeof(*pp->override_seen));
    pp->cause = calloc((size_t)n, sizeof(*pp->cause));
    pp->rtt_us = calloc((size_t)n, sizeof(*pp->rtt_us));
    if (pp->state == NULL || pp->changed_ms == NULL || pp->held_ms == NULL ||
        pp->returned_ms == NULL ||
        pp->vouched_ms == NULL || pp->drain == NULL || pp->slot == NULL ||
        pp->override == NULL || pp->override_seen == NULL || pp->cause == NULL ||
        pp->rtt_us == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* the table sorted the backends by name: look each drain flag up by it */
    for (int i = 0; i < cp->nbackends; i++) {
        const struct cfg_backend *cb = &cp->backends[i];
        int k = rt_find(t, cb->name[0] ? cb->name : cb->address);
        if (k >= 0) {
            atomic_store(&pp->state[k], cb->drain ? RT_DRAINING : RT_UP);
            pp->drain[k] = cb->drain;
            /* a drain set at start is a change like any other: INVITEs sent
             * to it before a restart may still be ringing, so CANCELs of its
             * keys go to both candidates for the follow window */
            if (cb->drain)
                atomic_store(&pp->changed_ms[k], clk_now_ms());
        }
    }
    return 0;
}

/* An address as a key of three words: family and port, then the address
 * (an IPv4 one in the first of the two). Equal addresses give equal keys;
 * words compare and hash faster than bytes. */
static void ref_key(const struct sockaddr *sa, uint64_t key[3])
{
    key[1] = key[2] = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)sa;
        uint32_t ip;
        memcpy(&ip, &a->sin_addr, 4);
        key[0] = 4 | (uint64_t)a->sin_port << 16;
        key[1] = ip;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)sa;
        key[0] = 6 | (uint64_t)a->sin6_port << 16;
        memcpy(&key[1], &a->sin6_addr, 16);
    } else {
        key[0] = 0;
    }
}

static bool key_eq(const uint64_t a[3], const uint64_t b[3])
{
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2])) == 0;
}

static uint32_t key_hash(const uint64_t k[3], unsigned bits)
{
    uint64_t h = (k[0] * 0x9e3779b97f4a7c15ULL) ^ (k[1] * 0xc2b2ae3d27d4eb4fULL) ^
                 (k[2] * 0x165667b19e3779f9ULL);
    return (uint32_t)((h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ULL >> (64 - bits));
}

static int ref_cmp(const void *a, const void *b)
{
    return memcmp(((const struct px_backend_ref *)a)->key, ((const struct px_backend_ref *)b)->key,
                  sizeof(((const struct px_backend_ref *)a)->key));
}

/* refs sorted (equal addresses side by side) and an open-addressing hash
 * of the first ref of each address, at most half full. */
static int build_refs(struct px_cfg *px, char *err, size_t errlen)
{
    int n = 0;
    for (int p = 0; p < px->npools; p++)
        n += px->pools[p].rt->n;
    px->ref_bits = 4;
    while ((1 << px->ref_bits) < 2 * n)
        px->ref_bits++;
    px->refs = calloc((size_t)(n > 0 ? n : 1), sizeof(*px->refs));
    px->ref_hash = calloc((size_t)1 << px->ref_bits, sizeof(*px->ref_hash));
    if (px->refs == NULL || px->ref_hash == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int p = 0; p < px->npools; p++) {
        for (int i = 0; i < px->pools[p].rt->n; i++) {
            struct px_backend_ref *r = &px->refs[px->nrefs++];
            ref_key((const struct sockaddr *)&px->pools[p].rt->b[i].addr, r->key);
            r->pool = (uint8_t)p;
            r->index = (uint16_t)i;
        }
    }
    qsort(px->refs, (size_t)px->nrefs, sizeof(*px->refs), ref_cmp);
    uint32_t mask = (1u << px->ref_bits) - 1;
    for (int i = 0; i < px->nrefs; i++) {
        if (i > 0 && key_eq(px->refs[i].key, px->refs[i - 1].key))
            continue;
        uint32_t h = key_hash(px->refs[i].key, px->ref_bits);
        while (px->ref_hash[h] != 0)
            h = (h + 1) & mask;
        px->ref_hash[h] = (uint32_t)i + 1;
    }
    return 0;
}

int px_backends_at(const struct px_cfg *px, const struct sockaddr *sa,
                   const struct px_backend_ref **first)
{
    uint64_t key[3];
    ref_key(sa, key);
    *first = px->refs;
    if (px->ref_hash == NULL)
        return 0;
    uint32_t mask = (1u << px->ref_bits) - 1;
    for (uint32_t h = key_hash(key, px->ref_bits);; h = (h + 1) & mask) {
        uint32_t e = px->ref_hash[h];
        if (e == 0)
            return 0;
        if (key_eq(px->refs[e - 1].key, key)) {
            int n = 1;
            while ((int)e - 1 + n < px->nrefs && key_eq(px->refs[e - 1 + n].key, key))
                n++;
            *first = &px->refs[e - 1];
            return n;
        }
    }
}

unsigned px_backend_slot(const struct px_cfg *px, const struct sockaddr *sa)
{
    const struct px_backend_ref *r;
    if (px_backends_at(px, sa, &r) == 0)
        return ST_NO_SLOT;
    return px->pools[r->pool].slot[r->index];
}

/*
 * The host's IPv4 and IPv6 addresses, for px_addr_is_self. Read once per
 * build, never per packet; an address added later counts from the next
 * reload. Only a wildcard listener needs them, so only then is a failure
 * (or a host with more than PX_MAX_LOCAL addresses) an error.
 */
static int collect_local(struct px_cfg *px, char *err, size_t errlen)
{
    struct ifaddrs *ifa, *i;
    if (getifaddrs(&ifa) < 0) {
        snprintf(err, errlen, "cannot list local addresses (getifaddrs: %s)", strerror(errno));
        return -1;
    }
    int r = 0;
    for (i = ifa; i != NULL && r == 0; i = i->ifa_next) {
        const struct sockaddr *sa = i->ifa_addr;
        if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
            continue;
        if (px->nlocal == PX_MAX_LOCAL) {
            snprintf(err, errlen,
                     "more than %d local addresses: a wildcard listener would miss loops "
                     "through the rest; listen on specific addresses",
                     PX_MAX_LOCAL);
            r = -1;
            break;
        }
        struct px_local *l = &px->local[px->nlocal++];
        l->family = (uint8_t)sa->sa_family;
        if (sa->sa_family == AF_INET)
            memcpy(l->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        else
            memcpy(l->addr, ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr,
                   16);
    }
    freeifaddrs(ifa);
    return r;
}

static uint32_t inherit(uint32_t own, uint32_t dflt)
{
    return own == CFG_LIMIT_INHERIT ? dflt : own;
}

/* Lists stay in c (px must not outlive it, as for rules); limits become
 * per-listener gd_limits; User-Agent substrings are lower-cased once. */
static void build_security(struct px_cfg *px, const struct cfg *c)
{
    const struct cfg_security *sec = &c->security;
    for (int i = 0; i < px->nlisten; i++) {
        struct px_listen *l = &px->listen[i];
        const struct cfg_listen_sec *ls = &c->listen_sec[px->listen_src[i]];
        l->allow = ls->has_allow ? &ls->allow : &sec->allow;
        l->deny = ls->has_deny ? &ls->deny : &sec->deny;
        l->acl = l->allow->n > 0 || l->deny->n > 0;
        l->acl_403 = ls->has_acl_403 ? ls->acl_403 : sec->acl_403;
        l->lim.c[GD_OOD] = (struct gd_limit){inherit(ls->lim.rate, sec->lim.rate),
                                             inherit(ls->lim.burst, sec->lim.burst)};
        l->lim.c[GD_DIALOG] = (struct gd_limit){inherit(ls->lim.dialog_rate, sec->lim.dialog_rate),
                                                inherit(ls->lim.dialog_burst,
                                                        sec->lim.dialog_burst)};
        l->lim.c[GD_BYTES] = (struct gd_limit){sec->answer_rate, sec->answer_burst};
    }
    px->nblock_ua = sec->nblock_ua;
    for (int i = 0; i < sec->nblock_ua; i++) {
        size_t n = strlen(sec->block_ua[i]);
        for (size_t k = 0; k <= n; k++) {
            char ch = sec->block_ua[i][k];
            px->block_ua_text[i][k] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
        }
        px->block_ua[i] = span_make(px->block_ua_text[i], n);
        unsigned char f = (unsigned char)px->block_ua_text[i][0];
        px->ua_first[f] |= 1u << i;
        if (f >= 'a' && f <= 'z')
            px->ua_first[f - 'a' + 'A'] |= 1u << i;
    }
    for (int b = 0; b < 256; b++) /* lower case: the skip folds what it reads */
        if (px->ua_first[b] != 0 && (b | 0x20) == b && px->nua_lead++ < (int)sizeof(px->ua_lead))
            px->ua_lead[px->nua_lead - 1] = (uint8_t)b;
    for (int k = 0; k < 8 && px->nua_lead > 0; k++)
        memset(px->ua_lead_vec[k], px->ua_lead[k % (px->nua_lead < 16 ? px->nua_lead : 16)], 16);
    px->limit_503 = sec->limit_503;
    px->overload_503 = sec->overload_503;
    px->overload_pct = sec->overload_pct;
}

int px_cfg_build(struct px_cfg *px, const struct cfg *c, char *err, size_t errlen)
{
    memset(px, 0, sizeof(*px));
    /* UDP listeners first, in their order, then TCP ones: index i < nudp is also the
     * worker's UDP socket i (what a datagram's rx->sock and a send's tx->sock name), and
     * nudp + k its TCP listener k */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < c->nlisten; i++) {
            const char *addr;
            if ((cfg_listen_split(c->listen[i], &addr) == CFG_TP_TCP) != (pass == 1))
                continue;
            int k = px->nlisten++;
            px->listen_src[k] = (uint8_t)i;
            if (px_listen_init(&px->listen[k], c->listen[i],
                               c->advertise[i][0] ? c->advertise[i] : NULL, err, errlen) < 0)
                return -1;
        }
        if (pass == 0)
            px->nudp = px->nlisten;
    }
    for (int i = 0; i < px->nlisten; i++)
        px->any_wildcard |= px->listen[i].wildcard;
    if (px->any_wildcard && collect_local(px, err, errlen) < 0)
        return -1;
    for (int i = 0; i < c->naliases; i++) {
        if (px_alias_init(&px->alias[i], c->aliases[i]) < 0) {
            snprintf(err, errlen, "bad alias '%s' (want HOST or HOST:PORT)", c->aliases[i]);
            return -1;
        }
    }
    px->nalias = c->naliases;
    px->seed = 0x7669616475637431ULL; /* fixed: every instance must hash alike */
    if (px_security_build(px, c, err, errlen) < 0) /* may set the seed from security.hash_seed */
        return -1;
    for (int i = 0; i < c->npools; i++) {
        px->npools = i + 1; /* px_cfg_free releases what was built */
        if (build_pool(&px->pools[i], &c->pools[i], c, px->seed, err, errlen) < 0)
            return -1;
        for (int b = 0; b < px->pools[i].rt->n; b++)
            px->pools[i].slot[b] = px->next_slot < ST_MAX_BACKENDS ? (uint16_t)px->next_slot++
                                                                    : ST_NO_SLOT;
    }
    for (int i = 0; i < c->nrules; i++) {
        const struct cfg_rule *r = &c->rules[i];
        struct px_rule *pr = &px->rules[i];
        pr->r = r;
        pr->pool = r->pool_idx; /* cfg_validate resolved the name */
        if (pr->pool < 0 || pr->pool >= c->npools ||
            strcmp(c->pools[pr->pool].name, r->pool) != 0) {
            snprintf(err, errlen, "rule %d names pool '%s', which does not exist", i + 1, r->pool);
            return -1;
        }
        for (int k = 0; k < r->nsources; k++) {
            pr->src[k].family = r->sources[k].family; /* parsed once, by the loader */
            memcpy(pr->src[k].addr, r->sources[k].addr, sizeof(pr->src[k].addr));
            pr->src[k].prefix = r->sources[k].prefix;
        }
        pr->nsrc = r->nsources;
    }
    px->nrules = c->nrules;
    if (build_refs(px, err, errlen) < 0)
        return -1;
    px->route_by_source =
        c->key_register == CFG_KEY_SOURCE_IP || c->key_other == CFG_KEY_SOURCE_IP;
    for (int i = 0; i < c->nrules; i++)
        px->route_by_source |= c->rules[i].nsources > 0 ||
                               (c->rules[i].has_key && c->rules[i].key == CFG_KEY_SOURCE_IP);
    px->key_register.kind = (uint8_t)c->key_register;
    px->key_register.header = span_make(c->key_header_register, strlen(c->key_header_register));
    px->key_other.kind = (uint8_t)c->key_other;
    px->key_other.header = span_make(c->key_header_other, strlen(c->key_header_other));
    px->record_route = c->record_route;
    px->path = c->path;
    px->rebind_ms = (int64_t)c->registration_interval * 1000;
    px->max_msg = c->max_msg;
    px->retry_after = (int)c->retry_after;
    build_security(px, c);
    return 0;
}

void px_cfg_free(struct px_cfg *px)
{
    for (int i = 0; i < px->npools; i++) {
        rt_table_free((struct rt_table *)(uintptr_t)px->pools[i].rt);
        free((void *)(uintptr_t)px->pools[i].state);
        free((void *)(uintptr_t)px->pools[i].changed_ms);
        free((void *)(uintptr_t)px->pools[i].held_ms);
        free((void *)(uintptr_t)px->pools[i].returned_ms);
        free((void *)(uintptr_t)px->pools[i].vouched_ms);
        free(px->pools[i].drain);
        free(px->pools[i].slot);
        free((void *)(uintptr_t)px->pools[i].override);
        free((void *)(uintptr_t)px->pools[i].override_seen);
        free((void *)(uintptr_t)px->pools[i].cause);
        free((void *)(uintptr_t)px->pools[i].rtt_us);
    }
    px->npools = 0;
    free(px->refs);
    free(px->ref_hash);
    px->refs = NULL;
    px->ref_hash = NULL;
    px->nrefs = 0;
}

void px_cfg_carry_health(struct px_cfg *px, const struct cfg *c, const struct px_cfg *old,
                         const struct cfg *oldc)
{
    px_security_carry(px, old);
    /* slots: kept by name, else new ones after every slot the old one gave */
    px->next_slot = old->next_slot;
    for (int p = 0; p < px->npools; p++)
        for (int i = 0; i < px->pools[p].rt->n; i++)
            px->pools[p].slot[i] = ST_NO_SLOT;
    for (int p = 0; p < px->npools; p++) {
        int q = 0;
        while (q < old->npools && strcmp(oldc->pools[q].name, c->pools[p].name) != 0)
            q++;
        if (q == old->npools)
            continue;
        const struct px_pool *op = &old->pools[q];
        struct px_pool *np = &px->pools[p];
        for (int i = 0; i < np->rt->n; i++) {
            int k = rt_find(op->rt, np->rt->b[i].name);
            if (k < 0)
                continue;
            np->slot[i] = op->slot[k];
            /* a drain switched on or off by the reload changed the state
             * now; otherwise the backend keeps its last change time */
            if (np->drain[i] == op->drain[k])
                atomic_store(&np->changed_ms[i], atomic_load(&op->changed_ms[k]));
            if (atomic_load(&op->state[k]) == RT_DOWN)
                atomic_store(&np->state[i], RT_DOWN);
            atomic_store(&np->held_ms[i], atomic_load(&op->held_ms[k]));
            atomic_store(&np->returned_ms[i], atomic_load(&op->returned_ms[k]));
            atomic_store(&np->vouched_ms[i], atomic_load(&op->vouched_ms[k]));
            atomic_store(&np->cause[i], atomic_load(&op->cause[k]));
            atomic_store(&np->rtt_us[i], atomic_load(&op->rtt_us[k]));
            /* the operator's word stays until lifted, whatever the file says */
            uint8_t ov = atomic_load(&op->override[k]);
            atomic_store(&np->override[i], ov);
            atomic_store(&np->override_seen[i], ov);
            if (ov == PX_OV_DOWN)
                atomic_store(&np->state[i], RT_DOWN);
            else if (ov == PX_OV_DRAIN && atomic_load(&np->state[i]) == RT_UP)
                atomic_store(&np->state[i], RT_DRAINING);
        }
    }
    for (int p = 0; p < px->npools; p++)
        for (int i = 0; i < px->pools[p].rt->n; i++)
            if (px->pools[p].slot[i] == ST_NO_SLOT && px->next_slot < ST_MAX_BACKENDS)
                px->pools[p].slot[i] = (uint16_t)px->next_slot++;
}

const char *px_cause_name(int cause)
{
    static const char *const names[PX_NCAUSES] = {
#define X(n, t) t,
        PX_CAUSES(X)
#undef X
    };
    return cause >= 0 && cause < PX_NCAUSES ? names[cause] : "?";
}

const char *px_override_name(int ov)
{
    return ov == PX_OV_DRAIN ? "drain" : ov == PX_OV_DOWN ? "down" : "none";
}

void px_print_backends(FILE *f, const struct px_cfg *px, const struct cfg *c,
                       const struct st_snapshot *s)
{
    static const char *const state[] = {"up", "down", "draining"};
    for (int p = 0; p < px->npools; p++) {
        const struct px_pool *pool = &px->pools[p];
        for (int i = 0; i < pool->rt->n; i++) {
            char a[64];
            unsigned slot = pool->slot[i];
            int st = atomic_load_explicit(&pool->state[i], memory_order_relaxed);
            net_addr_format((const struct sockaddr *)&pool->rt->b[i].addr, a, sizeof(a));
            fprintf(f, "backend pool=%s name=%s address=%s state=%s%s", c->pools[p].name,
                    pool->rt->b[i].name, a, st <= RT_DRAINING ? state[st] : "?",
                    atomic_load_explicit(&pool->held_ms[i], memory_order_relaxed) ? " held" : "");
            if (slot >= ST_MAX_BACKENDS) {
                fputs(" counters=none\n", f);
                continue;
            }
#define X(n, h) fprintf(f, " %s=%llu", #n, (unsigned long long)s->be[slot].n);
            ST_BACKEND(X)
#undef X
            for (int k = 0; k < 6; k++)
                fprintf(f, " responses_%dxx=%llu", k + 1,
                        (unsigned long long)s->be[slot].responses[k]);
            fputc('\n', f);
        }
    }
}
