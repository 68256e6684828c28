/*
 * px_flow.c - flow tokens (after RFC 5626 §5.2): the address a client's
 * REGISTER came from, written into the user part of the Path URI viaduct
 * inserts, so that a request the registrar later sends through that Path
 * reaches the client's NAT binding with nothing stored here. The token ends
 * in a MAC (SipHash-2-4 keyed from the secret, px_policy.c): an untrusted
 * source may send a request along a token viaduct minted, so a made-up one
 * must not verify. 64 bits, so guessing one online takes ~2^63 tries.
 *
 *   "vdf-" "4" ADDR(8 hex) PORT(4 hex) CHECK(16 hex): 198.51.100.7:5060 is
 *   vdf-4c633640713c4 and its check; "vdf-" "6" ADDR(32 hex) ... for IPv6
 *
 * A Record-Route of viaduct's carries one token, or two joined by '.' (RFC
 * 5626 §5.3, px.c record_route_edits): the flow of each side of a dialog
 * that reached viaduct over one. An in-dialog request through such a Route
 * goes along the flow that is not the one it came from (px_flow_route): a
 * request from the phone itself leaves by the route set, never back to it.
 * px_record_route_flow and px_out_record_route, at the end, write them.
 */
#include "core/px_internal.h"

#include <sodium.h>

#define FLOW_PREFIX "vdf-"

static uint64_t flow_check(const uint8_t *addr, size_t n, unsigned port,
                           const uint8_t key[PX_KEY_LEN])
{
    uint8_t buf[19], out[8];
    buf[0] = (uint8_t)n; /* the family, so an IPv4 token never reads as an IPv6 one */
    memcpy(buf + 1, addr, n);
    buf[n + 1] = (uint8_t)(port >> 8);
    buf[n + 2] = (uint8_t)port;
    crypto_shorthash(out, buf, n + 3, key);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | out[i];
    return v;
}

void px_flow_write(struct px_out *o, const struct sockaddr *sa, const struct px_cfg *cfg)
{
    const uint8_t *a;
    size_t n;
    char fam;
    if (sa->sa_family == AF_INET6) {
        a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        n = 16;
        fam = '6';
    } else {
        a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        n = 4;
        fam = '4';
    }
    unsigned port = (unsigned)net_addr_port(sa);
    PX_LIT(o, FLOW_PREFIX);
    px_out_bytes(o, &fam, 1);
    for (size_t i = 0; i < n; i++)
        px_out_hex(o, a[i], 2);
    px_out_hex(o, port, 4);
    px_out_hex(o, flow_check(a, n, port, cfg->key.flow), 16);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads n bytes of hex at p into out; false on a non-hex digit. */
static bool unhex(const char *p, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

int px_flow_tokens(struct span user, const struct px_cfg *cfg, int64_t now_ms,
                   struct sockaddr_storage ss[2], socklen_t len[2])
{
    const char *dot = memchr(user.p, '.', user.len);
    if (dot == NULL)
        return px_flow_read(user, cfg, now_ms, &ss[0], &len[0]) ? 1 : 0;
    struct span a = span_make(user.p, (size_t)(dot - user.p));
    struct span b = span_make(dot + 1, user.len - a.len - 1);
    return px_flow_read(a, cfg, now_ms, &ss[0], &len[0]) &&
                   px_flow_read(b, cfg, now_ms, &ss[1], &len[1])
               ? 2
               : 0;
}

bool px_flow_route(struct span user, const struct px_cfg *cfg, int64_t now_ms,
                   const struct sockaddr *src, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_storage t[2];
    socklen_t tl[2];
    int n = px_flow_tokens(user, cfg, now_ms, t, tl);
    int pick = -1;
    if (n == 1)
        pick = net_addr_equal(src, (const struct sockaddr *)&t[0]) ? -1 : 0;
    else if (n == 2)
        pick = net_addr_equal(src, (const struct sockaddr *)&t[0])   ? 1
               : net_addr_equal(src, (const struct sockaddr *)&t[1]) ? 0
                                                                     : -1;
    if (pick < 0)
        return false;
    memcpy(ss, &t[pick], tl[pick]);
    *len = tl[pick];
    return true;
}

bool px_flow_read(struct span user, const struct px_cfg *cfg, int64_t now_ms,
                  struct sockaddr_storage *ss, socklen_t *len)
{
    const size_t plen = sizeof(FLOW_PREFIX) - 1;
    if (user.len < plen + 1 || memcmp(user.p, FLOW_PREFIX, plen) != 0)
        return false;
    size_t n = user.p[plen] == '6' ? 16 : user.p[plen] == '4' ? 4 : 0;
    if (n == 0 || user.len != plen + 1 + 2 * n + 4 + 16)
        return false;
    uint8_t addr[16], port[2], check[8];
    const char *h = user.p + plen + 1;
    if (!unhex(h, n, addr) || !unhex(h + 2 * n, 2, port) || !unhex(h + 2 * n + 4, 8, check))
        return false;
    unsigned p = (unsigned)port[0] << 8 | port[1];
    uint64_t got = 0;
    for (int i = 0; i < 8; i++)
        got = got << 8 | check[i];
    /* compared as whole words: no early exit on the first wrong byte */
    if (p == 0 || (got != flow_check(addr, n, p, cfg->key.flow) &&
                   !(px_prev_valid(cfg, now_ms) && got == flow_check(addr, n, p, cfg->prev_key.flow))))
        return false;
    memset(ss, 0, sizeof(*ss));
    if (n == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, addr, 4);
        in->sin_port = htons((uint16_t)p);
        *len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, addr, 16);
        in6->sin6_port = htons((uint16_t)p);
        *len = sizeof(*in6);
    }
    return true;
}

/*
 * The flow our Record-Route names (RFC 5626 §5.3): the client's a request
 * goes out to along a flow token, else the source's when that is a client
 * (not a backend or security.trusted), else none. In-dialog requests then
 * reach a phone behind NAT by its binding, whatever its Contact says, and
 * one from the phone itself goes on by its route set (px_flow_route above).
 *
 * When the top Record-Route is already ours as this socket writes it (the
 * request came back through us from a backend that does not record-route:
 * a call from one phone through the registrar to another), a second value
 * of ours would only add a hop (issue 13 item 5): that one is rewritten to
 * name both flows (the new token, then the one it had, joined by '.'), or
 * kept when it says all ours would. The cost is paid by dialog-forming requests with
 * record_route only: a header index load, and a trust lookup for a client.
 */
void px_record_route_flow(struct px_ctx *c, struct px_edits *ed, bool via_flow)
{
    const struct sip_msg *m = c->msg;
    const struct sockaddr *flow = via_flow           ? (const struct sockaddr *)&c->tx->dst
                                  : px_src_trusted(c) ? NULL
                                                      : c->rx->src;
    c->rr_flow = flow; /* both set here only: px_handle leaves them unset for other requests */
    c->rr_old = SPAN_NULL;
    int hi = m->first[SIP_H_RECORD_ROUTE];
    if (hi < 0)
        return;
    struct span list = m->hdr[hi].value, item;
    struct sip_nameaddr na;
    struct sip_uri u;
    if (sip_list_next(&list, &item) <= 0 || sip_nameaddr_parse(item, &na) < 0 ||
        sip_uri_parse(na.uri, &u) < 0)
        return;
    const struct px_listen *l = px_rr_listen(c);
    struct span host = u.hp.host;
    if (host.len > 2 && host.p[0] == '[') /* we write an IPv6 host in brackets */
        host = span_make(host.p + 1, host.len - 2);
    if ((u.hp.port < 0 ? 5060 : u.hp.port) != l->port ||
        !span_eq_nocase(host, span_make(l->host, l->host_len)))
        return;
    struct sockaddr_storage t[2];
    socklen_t tl[2];
    int n = u.user.p != NULL ? px_flow_tokens(u.user, c->cfg, c->now_ms, t, tl) : 0;
    if (u.user.p != NULL && n == 0)
        return; /* a user part that is not our token: not a value we wrote */
    c->add_rr = false;
    if (flow == NULL || n == 2 || (n == 1 && net_addr_equal(flow, (const struct sockaddr *)&t[0])))
        return;
    if (n == 1)
        c->rr_old = u.user;
    px_edits_add(ed, item.p, span_end(item), ED_RECORD_ROUTE, NULL);
}

void px_out_record_route(struct px_out *o, struct px_ctx *c)
{
    PX_LIT(o, "<sip:");
    if (c->rr_flow != NULL) {
        px_flow_write(o, c->rr_flow, c->cfg);
        if (c->rr_old.p != NULL) {
            PX_LIT(o, ".");
            px_out_put(o, c->rr_old);
        }
        PX_LIT(o, "@");
    }
    px_out_hostport(o, px_rr_listen(c));
    PX_LIT(o, ";lr>");
}
