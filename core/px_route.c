/*
 * px_route.c - where a request without a usable Route goes: the first rule
 * that matches picks a pool and a key, the key is hashed into the pool's
 * Maglev table, and the backends' health decides between the key's primary
 * backend and its fallback (rt.h).
 *
 * In-dialog requests (a To tag) may still reach a draining backend, so calls
 * end where they started; out-of-dialog requests may not. A CANCEL, and an
 * ACK for a non-2xx response, must reach the backend that got their INVITE,
 * which a health or drain change may have moved in the meantime. Nothing is
 * remembered, so when the key's primary changed state within PX_FOLLOW_MS
 * they go to both candidates: the key's choice now and its choice before
 * the change. The backend without the transaction answers a CANCEL with 481
 * and ignores the ACK (RFC 3261 §9.2, §17.2.3); the client's CANCEL
 * transaction takes the first final response and absorbs the second. This
 * holds as long as only the primary's state changed in between, which is
 * what a drain, a failure or a return is.
 *
 * A registrar that comes back up from down has lost its bindings, or holds
 * stale ones: its phones registered at the fallback meanwhile and come home
 * only with their next refresh. So REGISTERs return at once, and for
 * registration_interval after the return (returned_ms, which the health
 * thread writes and every instance derives alike from its probes) the
 * other out-of-dialog requests keyed by an AOR (a call to a user, its
 * CANCEL, the ACK of its failure) keep taking the fallback. A hold's end
 * is no return: the registrar was never confirmed down.
 *
 * A Route naming its next hop by a hostname goes where the hostname cache
 * (dns_cache.h) says, looked up without blocking; see px_hostname_hop.
 */
#include "core/px_internal.h"

static bool domain_match(struct span host, const char *pat)
{
    size_t n = strlen(pat);
    if (n > 0 && pat[0] == '.') /* ".example.com": the domain or any below it */
        return (host.len >= n &&
                span_eq_nocase(span_make(host.p + host.len - n, n), span_make(pat, n))) ||
               span_eq_nocase(host, span_make(pat + 1, n - 1));
    return span_eq_nocase(host, span_make(pat, n));
}

static bool any_domain(struct span host, const char (*pats)[CFG_STR], int n)
{
    for (int i = 0; i < n; i++)
        if (domain_match(host, pats[i]))
            return true;
    return false;
}

static bool rule_matches(struct px_ctx *c, const struct px_rule *pr)
{
    const struct cfg_rule *r = pr->r;
    const struct sip_msg *m = c->msg;
    if (r->nmethods > 0) {
        bool hit = false;
        for (int i = 0; i < r->nmethods && !hit; i++)
            hit = span_eq(m->method, span_make(r->methods[i], strlen(r->methods[i])));
        if (!hit)
            return false;
    }
    if (r->nruri_domains > 0 &&
        !any_domain(c->info->ruri.hp.host, r->ruri_domains, r->nruri_domains))
        return false;
    if (r->nto_domains > 0) {
        struct sip_uri to;
        if (sip_uri_parse(c->info->to.uri, &to) < 0 ||
            !any_domain(to.hp.host, r->to_domains, r->nto_domains))
            return false;
    }
    if (pr->nsrc > 0) {
        bool hit = false;
        for (int i = 0; i < pr->nsrc && !hit; i++)
            hit = px_cidr_match(&pr->src[i], c->rx->src);
        if (!hit)
            return false;
    }
    return true;
}

/*
 * user@host of a URI, host lower-cased, the scheme's default port dropped;
 * a non-SIP URI as it stands. Written into buf; SPAN_NULL if it won't fit.
 *
 * A URI without a user part (To: <sip:example.com>, a domain registering
 * for itself, or a device registering by host) gives just "host": that is
 * the URI a registrar stores minus its scheme, and it can never equal a
 * user@host key, which always has an '@'. An empty user ("sip:@host") is
 * the same as none. The parser leaves user.p NULL when there is no user, so
 * it is never handed to memcpy.
 */
static struct span aor(struct span uri_text, char *buf, size_t cap)
{
    struct sip_uri u;
    if (sip_uri_parse(uri_text, &u) < 0)
        return SPAN_NULL;
    if (u.scheme == SIP_SCHEME_OTHER)
        return uri_text;
    if (u.user.len + u.hp.host.len + 8 > cap)
        return SPAN_NULL;
    size_t n = 0;
    if (u.user.len > 0) {
        memcpy(buf, u.user.p, u.user.len);
        n += u.user.len;
        buf[n++] = '@';
    }
    for (size_t i = 0; i < u.hp.host.len; i++)
        buf[n++] = (char)span_lower_ascii((unsigned char)u.hp.host.p[i]);
    int dflt = u.scheme == SIP_SCHEME_SIPS ? 5061 : 5060;
    if (u.hp.port >= 0 && u.hp.port != dflt) {
        char p[8];
        int k = snprintf(p, sizeof(p), ":%d", (int)u.hp.port);
        memcpy(buf + n, p, (size_t)k);
        n += (size_t)k;
    }
    return span_make(buf, n);
}

static struct span header_value(const struct sip_msg *m, struct span name)
{
    for (int i = 0; i < m->nhdr; i++)
        if (span_eq_nocase(m->hdr[i].name, name))
            return m->hdr[i].value;
    return SPAN_NULL;
}

/* The bytes the key names, or SPAN_NULL (or empty) when the request lacks
 * them: such a request is answered 400, never hashed on nothing. */
static struct span key_bytes(struct px_ctx *c, const struct px_key *k, char *buf, size_t cap)
{
    const struct sip_info *in = c->info;
    struct sip_uri u;
    switch (k->kind) {
    case CFG_KEY_TO_AOR: return aor(in->to.uri, buf, cap);
    case CFG_KEY_FROM_AOR: return aor(in->from.uri, buf, cap);
    case CFG_KEY_RURI_AOR: return aor(c->msg->ruri, buf, cap);
    case CFG_KEY_RURI_USER:
        if (sip_uri_parse(c->msg->ruri, &u) < 0)
            return SPAN_NULL;
        return u.user;
    case CFG_KEY_SOURCE_IP: return px_src_ip(c);
    case CFG_KEY_HEADER: return header_value(c->msg, k->header);
    default: return in->callid;
    }
}

/* to-aor, from-aor, ruri-aor, ruri-user: one compare, as they are consecutive (cfg.h) */
static bool aor_key(uint8_t kind)
{
    _Static_assert(CFG_KEY_FROM_AOR == CFG_KEY_TO_AOR + 1 && CFG_KEY_RURI_AOR == CFG_KEY_TO_AOR + 2 &&
                       CFG_KEY_RURI_USER == CFG_KEY_TO_AOR + 3,
                   "the AOR keys are consecutive");
    return (unsigned)(kind - CFG_KEY_TO_AOR) <= CFG_KEY_RURI_USER - CFG_KEY_TO_AOR;
}

/* b, or the fallback of its key while b (the key's primary, up) is within
 * the rebind window of its return; -1 means b. */
static int rebind_pick(const struct px_ctx *c, const struct px_pool *pool, uint64_t h, int b)
{
    const struct rt_table *t = pool->rt;
    if (rt_primary(t, h) != b)
        return -1;
    int64_t back = atomic_load_explicit(&pool->returned_ms[b], memory_order_relaxed);
    if (back == 0 || c->now_ms - back >= c->cfg->rebind_ms)
        return -1;
    return rt_pick_except(t, h, pool->state, RT_ACCEPT_UP, b);
}

static void set_backend(struct sockaddr_storage *dst, socklen_t *len, const struct rt_backend *b)
{
    memcpy(dst, &b->addr, b->addrlen);
    *len = b->addrlen;
}

int px_select_backend(struct px_ctx *c)
{
    const struct px_cfg *cfg = c->cfg;
    const struct sip_msg *m = c->msg;
    const struct px_rule *rule = NULL;
    for (int i = 0; i < cfg->nrules && rule == NULL; i++)
        if (rule_matches(c, &cfg->rules[i]))
            rule = &cfg->rules[i];

    const struct px_pool *pool = &cfg->pools[rule ? rule->pool : 0];
    struct px_key rule_key;
    const struct px_key *key =
        m->method_id == SIP_M_REGISTER ? &cfg->key_register : &cfg->key_other;
    if (rule != NULL && rule->r->has_key) {
        rule_key.kind = (uint8_t)rule->r->key;
        rule_key.header = span_make(rule->r->key_header, strlen(rule->r->key_header));
        key = &rule_key;
    }
    char buf[512];
    struct span kb = key_bytes(c, key, buf, sizeof(buf));
    if (kb.p == NULL || kb.len == 0)
        return PX_ENOKEY;

    const struct rt_table *t = pool->rt;
    uint64_t h = rt_hash(t, kb);
    bool follows_invite = m->method_id == SIP_M_CANCEL || m->method_id == SIP_M_ACK;
    bool in_dialog = c->info->to.tag.p != NULL && !follows_invite;
    int b = rt_pick(t, h, pool->state, in_dialog ? RT_ACCEPT_UP_OR_DRAINING : RT_ACCEPT_UP);
    /* an empty default pool is the only empty table (rules name pools with backends)
     * but for a pool whose DNS names have not resolved: that is a 503 */
    if (b < 0)
        return rule == NULL && t->n == 0 && !pool->dns ? PX_ENOROUTE : PX_ENOBACKEND;
    /* one branch for the usual Call-ID key; an AOR key loads the primary's return time */
    if (aor_key(key->kind) && m->method_id != SIP_M_REGISTER && !in_dialog) {
        int alt = rebind_pick(c, pool, h, b);
        if (alt >= 0) {
            b = alt;
            ST_INC(c->st, fwd_rebind);
        }
    }
    set_backend(&c->tx->dst, &c->tx->dstlen, &t->b[b]);
    ST_BE_INC(c->st, pool->slot[b], requests);

    if (follows_invite) {
        int p = rt_primary(t, h);
        int64_t changed = atomic_load_explicit(&pool->changed_ms[p], memory_order_relaxed);
        /* the rebind window's end is a change of where the key goes too */
        int64_t back =
            b == p ? atomic_load_explicit(&pool->returned_ms[p], memory_order_relaxed) : 0;
        int64_t since_end = c->now_ms - back - cfg->rebind_ms;
        bool window_ended = back != 0 && aor_key(key->kind) && since_end >= 0 &&
                            since_end < PX_FOLLOW_MS;
        if (window_ended || (changed != 0 && c->now_ms - changed < PX_FOLLOW_MS)) {
            int other = p != b ? p : rt_pick_except(t, h, pool->state, RT_ACCEPT_UP, p);
            /* one socket sends both copies, so both must be of one family */
            if (other >= 0 && other != b && t->b[other].addr.ss_family == t->b[b].addr.ss_family) {
                set_backend(&c->tx->dst2, &c->tx->dst2len, &t->b[other]);
                ST_INC(c->st, fwd_fanout);
            }
        }
    }
    return 0;
}

/* px_internal.h has the contract. The SRV-or-not choice is the port's: a
 * URI without one is looked up as _sip._udp.NAME first (RFC 3263 §4.2). */
int px_hostname_hop(struct px_ctx *c, const struct sip_uri *hop)
{
    const struct dns_cache *names = c->cfg->names;
    if (names == NULL || hop->hp.host.len >= DNS_HOST_MAX) {
        ST_DROP(c->st, unresolvable);
        return -1;
    }
    int port = hop->hp.port; /* -1: SRV first */
    uint64_t key = dns_cache_key(names, hop->hp.host, port);
    int hit = dns_cache_get(names, key, c->now_ms, &c->tx->dst, &c->tx->dstlen);
    if (hit == DNS_MISS || hit == DNS_STALE) {
        if (c->ask != NULL)
            dns_ask_push(c->ask, hop->hp.host, port, key);
    }
    if (hit == DNS_NEGATIVE) {
        ST_DROP(c->st, unresolvable);
        return -1;
    }
    if (hit == DNS_MISS || hit == DNS_PENDING) {
        ST_DROP(c->st, name_pending);
        /* over TCP nothing is retransmitted (RFC 3261 §17.1.1.2): answer 503 with
         * Retry-After on the connection, and the client's next try finds the name */
        return c->rx->conn != 0 ? -1 : 0;
    }
    return px_named_dest_ok(c) ? 1 : 0;
}
