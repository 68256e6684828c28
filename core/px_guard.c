/*
 * px_guard.c - edge protection on the packet path: listener allow/deny
 * lists (before parsing), the User-Agent block, per-source rate limits,
 * overload shedding of new requests, and the byte budget of local answers
 * that keeps viaduct from amplifying a spoofed source's traffic.
 *
 * Trusted sources (configured backends, security.trusted) are never rate
 * limited, blocked by User-Agent or budgeted: a registrar's burst of calls
 * to its clients is not an attack. Responses are never rate limited either.
 * The per-source state is the worker's gd_table (guard.h); nothing here
 * allocates, locks or reads a clock.
 */
#include "core/px_internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static const uint8_t *ip_bytes(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    return ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
}

static bool in_list(const struct cfg_cidrs *l, const struct sockaddr *sa)
{
    const uint8_t *a = ip_bytes(sa);
    for (int k = 0; k < l->n; k++) {
        const struct cfg_cidr *c = &l->v[k];
        if (c->family != sa->sa_family)
            continue;
        int bits = c->prefix, i = 0;
        for (; bits >= 8; i++, bits -= 8)
            if (a[i] != c->addr[i])
                break;
        if (bits >= 8)
            continue;
        uint8_t mask = (uint8_t)(0xff << (8 - bits));
        if (bits == 0 || (a[i] & mask) == (c->addr[i] & mask))
            return true;
    }
    return false;
}

bool px_acl_pass(const struct px_listen *l, const struct sockaddr *sa)
{
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return false;
    if (in_list(l->deny, sa))
        return false;
    return l->allow->n == 0 || in_list(l->allow, sa);
}

bool px_listen_admits(const struct px_cfg *cfg, int li, const struct sockaddr *sa)
{
    const struct px_listen *l = &cfg->listen[li];
    return !l->acl || l->acl_403 || px_acl_pass(l, sa);
}

/* A refused source gets nothing by default: no parse, no answer. With
 * acl_403 a well-formed request (not an ACK, which is never answered) is
 * told 403 so a misconfigured peer learns why; what it may cost is bounded
 * as for every local answer (px_reply: the byte budget, and a 403 never
 * larger than its request from an untrusted source), so a refused spoofer
 * cannot use it to amplify. Only refused datagrams come here: the allowed
 * path pays nothing for the option. */
void px_acl_refuse(struct px_ctx *c)
{
    const struct net_rx *rx = c->rx;
    if (!c->cfg->listen[rx->sock].acl_403 || rx->truncated || rx->len > c->cfg->max_msg ||
        sip_parse(rx->buf, rx->len, c->msg) < 0 || sip_validate(c->msg, c->info) < 0 ||
        !c->msg->is_request || c->msg->method_id == SIP_M_ACK) {
        ST_DROP(c->st, acl);
        return;
    }
    c->refused = true;
    px_reply(c, ST_L_403, 0);
    if (c->tx->niov > 0)
        ST_INC(c->st, acl_answered); /* else px_reply counted why it sent nothing */
}

bool px_src_trusted(struct px_ctx *c)
{
    if (c->trusted < 0)
        c->trusted = px_trusted(c->cfg, c->rx->src);
    return c->trusted > 0;
}

/* Case-insensitive: the substrings are stored lower-cased, and ua_first
 * says which start with a byte, so most bytes of a User-Agent cost one
 * table load (this runs on every request that has one). */
static bool blocked_ua(const struct px_cfg *cfg, struct span ua)
{
    size_t i = 0;
#ifdef __SSE2__
    /* 16 bytes at a time, the last window overlapping the one before, while
     * none of them can start a substring: eight compares (px_cfg.c repeats
     * a lead to fill them), where the table costs a load and a branch per
     * byte. | 0x20 folds letters to lower case (and some other bytes onto
     * others: a false hit only ends the skip). */
    if (cfg->nua_lead > 0 && cfg->nua_lead <= 8 && ua.len >= 16) {
        const __m128i fold = _mm_set1_epi8(0x20);
        const __m128i *lead = (const __m128i *)(const void *)cfg->ua_lead_vec;
        for (;;) {
            size_t at = i + 16 <= ua.len ? i : ua.len - 16;
            __m128i v =
                _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(ua.p + at)), fold);
            __m128i hit = _mm_or_si128(
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lead[0]), _mm_cmpeq_epi8(v, lead[1])),
                             _mm_or_si128(_mm_cmpeq_epi8(v, lead[2]), _mm_cmpeq_epi8(v, lead[3]))),
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lead[4]), _mm_cmpeq_epi8(v, lead[5])),
                             _mm_or_si128(_mm_cmpeq_epi8(v, lead[6]), _mm_cmpeq_epi8(v, lead[7]))));
            if (_mm_movemask_epi8(hit) != 0) {
                i = at;
                break;
            }
            if (at + 16 >= ua.len)
                return false;
            i = at + 16;
        }
    }
#endif
    for (; i < ua.len; i++) {
        uint32_t m = cfg->ua_first[(unsigned char)ua.p[i]];
        for (; m != 0; m &= m - 1) {
            struct span pat = cfg->block_ua[__builtin_ctz(m)];
            if (pat.len <= ua.len - i &&
                span_eq_nocase(span_make(ua.p + i, pat.len), pat))
                return true;
        }
    }
    return false;
}

static bool over(struct px_ctx *c, bool answer)
{
    if (answer && c->msg->method_id != SIP_M_ACK)
        px_reply(c, ST_L_503, 0);
    return false;
}

bool px_admit_request(struct px_ctx *c)
{
    const struct px_cfg *cfg = c->cfg;
    const struct sip_msg *m = c->msg;
    /* CANCEL and ACK carry no To tag of a dialog yet still end one: they go
     * with in-dialog requests, never shed */
    bool dialog = c->info->to.tag.p != NULL || m->method_id == SIP_M_CANCEL ||
                  m->method_id == SIP_M_ACK;
    bool shed = !dialog && c->rx->load >= cfg->overload_pct;
    int ua = m->first[SIP_H_USER_AGENT];
    /* Whether the source is trusted is asked only when a rule would drop
     * the request (px_backends_at costs as much as the bucket): a trusted
     * source's bucket may run dry, and it is then let through uncharged. */
    if (ua >= 0 && cfg->nblock_ua > 0 && blocked_ua(cfg, m->hdr[ua].value) && !px_src_trusted(c)) {
        ST_DROP(c->st, user_agent);
        return false;
    }
    if (c->gd != NULL) {
        const struct px_listen *l = &cfg->listen[c->rx->sock];
        bool shared;
        struct gd_entry *e =
            gd_find(c->gd, c->rx->src, c->rx->sock, &l->lim, (uint32_t)c->now_ms, &shared);
        if (shared)
            ST_INC(c->st, guard_shared);
        if (!gd_take(e, &l->lim, dialog ? GD_DIALOG : GD_OOD, 1) && !px_src_trusted(c)) {
            ST_DROP(c->st, rate_limited);
            return over(c, cfg->limit_503);
        }
    }
    if (shed) {
        ST_DROP(c->st, overload);
        return over(c, cfg->overload_503);
    }
    return true;
}

bool px_answer_budget(struct px_ctx *c, size_t len)
{
    if (c->gd == NULL || px_src_trusted(c))
        return true;
    const struct px_listen *l = &c->cfg->listen[c->rx->sock];
    bool shared;
    struct gd_entry *e =
        gd_find(c->gd, c->rx->src, c->rx->sock, &l->lim, (uint32_t)c->now_ms, &shared);
    if (shared)
        ST_INC(c->st, guard_shared);
    /* a source earns what it sends: over a burst the answers stay within
     * what came in plus the allowance (answer_burst, answer_rate per s) */
    gd_give(e, &l->lim, GD_BYTES, (uint32_t)c->rx->len);
    if (gd_take(e, &l->lim, GD_BYTES, (uint32_t)len))
        return true;
    ST_DROP(c->st, answer_budget);
    return false;
}
