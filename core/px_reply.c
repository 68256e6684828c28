/*
 * px_reply.c - responses viaduct sends itself, statelessly (RFC 3261 §8.2.6,
 * §16.11), and STUN keep-alive answers (RFC 5389, as RFC 5626 uses them).
 *
 * A local response is assembled from the request's own lines: every Via line
 * (the top one with received/rport added, as §18.2.1 asks), From, To (with a
 * To tag added if it had none), Call-ID and CSeq, referenced in place. The
 * To tag is a hash of the request's identifying headers, so a retransmitted
 * request gets a byte-identical answer without any stored state.
 */
#include "core/px_internal.h"

#include <xxhash.h>

/* Status lines, from the one list of local responses (stats.h). */
static const struct span status_lines[ST_NLOCAL] = {
#define X(code, reason) SPAN_LIT("SIP/2.0 " #code " " reason "\r\n"),
    ST_LOCAL(X)
#undef X
};

/* The To tag: a function of what identifies the request, stable across its
 * retransmissions. Kept in c->branch, which ED_TO_TAG writes. */
static void to_tag_hash(struct px_ctx *c)
{
    const struct sip_msg *m = c->msg;
    struct span parts[4] = {sip_hvalue(m, SIP_H_CALL_ID), sip_hvalue(m, SIP_H_FROM),
                            sip_hvalue(m, SIP_H_CSEQ), m->nvia ? m->via[0] : SPAN_NULL};
    uint64_t x = c->cfg->seed ^ 0x746167u; /* "tag" */
    for (int i = 0; i < 4; i++)
        x = XXH3_64bits_withSeed(parts[i].p, parts[i].len, x);
    c->branch[0] = x;
    c->branch[1] = 0;
}

#define REPLY_SERVER "Server: viaduct\r\n"
#define REPLY_END "Content-Length: 0\r\n\r\n"
#define REPLY_TAIL REPLY_SERVER REPLY_END

/* Lines added after the copied headers, by response code. */
static void extra_headers(struct px_ctx *c, struct px_out *o, enum st_local code)
{
    const struct sip_msg *m = c->msg;
    if (code == ST_L_420) {
        /* §20.40: Unsupported lists what Proxy-Require asked for */
        for (int i = m->first[SIP_H_PROXY_REQUIRE]; i >= 0; i = sip_hnext(m, i)) {
            PX_LIT(o, "Unsupported: ");
            px_out_ref(o, m->hdr[i].value);
            PX_LIT(o, "\r\n");
        }
    } else if (code == ST_L_503) {
        PX_LIT(o, "Retry-After: ");
        px_out_uint(o, (uint64_t)c->cfg->retry_after);
        PX_LIT(o, "\r\n");
    }
    if (code == ST_L_403) {
        /* why, but only where it keeps the answer to this untrusted source
         * no larger than its request: a 403 must not amplify */
        static const char relay[] = "Warning: 399 viaduct \"not relayed\"\r\n";
        static const char acl[] = "Warning: 399 viaduct \"source refused\"\r\n";
        struct span w = c->refused ? SPAN_LIT(acl) : SPAN_LIT(relay);
        if (o->total + w.len + sizeof(REPLY_TAIL) - 1 <= c->rx->len)
            px_out_put(o, w); /* copied: iovecs point only at the datagram and the scratch */
    }
}

#define WARNING_HEAD "Warning: 399 viaduct \""

/* Operators see why without a capture (RFC 3261 §20.43, code 399), but
 * not at the price of an answer larger than its request from an untrusted
 * source: that is what makes a spoofed 39-byte request worth 182 bytes. */
static void warning(struct px_ctx *c, struct px_out *o, int err)
{
    if (err >= 0)
        return;
    const char *t = sip_err_text(err);
    size_t tl = strlen(t);
    size_t with = o->total + sizeof(WARNING_HEAD) - 1 + tl + 3 + sizeof(REPLY_TAIL) - 1;
    if (with > c->rx->len && !px_src_trusted(c))
        return;
    PX_LIT(o, WARNING_HEAD);
    px_out_put(o, span_make(t, tl)); /* copied: iovecs point only at the datagram */
    PX_LIT(o, "\"\r\n");
}

int px_reply(struct px_ctx *c, enum st_local code, int err)
{
    const struct sip_msg *m = c->msg;
    const struct sip_via *v = &c->info->via1;
    struct net_tx *tx = c->tx;

    /* §18.2.2 with RFC 3581: to the source port when rport was asked for,
     * else to the sent-by port, always at the address the packet came from */
    int port =
        v->rport.p ? net_addr_port(c->rx->src) : (v->sent_by.port < 0 ? 5060 : v->sent_by.port);
    if (!px_set_dest(c, px_src_ip(c), port))
        return 0;
    /* a request that came over TCP is answered on its connection (RFC 3261 18.2.2) */
    tx->conn = c->rx->conn;
    to_tag_hash(c);

    struct px_out o;
    px_out_init(&o, tx);
    px_out_put(&o, status_lines[code]); /* and the scratch (fuzz_px checks it) */
    bool top_via_done = false;
    for (int i = 0; i < m->nhdr; i++) {
        const struct sip_hdr *h = &m->hdr[i];
        struct span line = span_make(h->name.p, h->line_len);
        struct px_edits ed;
        px_edits_init(&ed);
        struct sip_nameaddr to;
        switch (h->id) {
        case SIP_H_VIA:
            if (!top_via_done)
                px_via_edits(c, &ed);
            top_via_done = true;
            px_out_edited(&o, line.p, span_end(line), &ed, px_emit, c);
            break;
        case SIP_H_TO:
            if (sip_nameaddr_parse(h->value, &to) == 0 && to.tag.p == NULL)
                px_edits_add(&ed, span_end(h->value), span_end(h->value), ED_TO_TAG, NULL);
            px_out_edited(&o, line.p, span_end(line), &ed, px_emit, c);
            break;
        case SIP_H_FROM:
        case SIP_H_CALL_ID:
        case SIP_H_CSEQ: px_out_ref(&o, line); break;
        default: break;
        }
    }
    extra_headers(c, &o, code);
    warning(c, &o, err);
    /* The 403 to a source the listener refuses (acl_403) gets never more
     * bytes than it sent, whatever its budget holds, unless it is trusted:
     * the operator did not want to hear from it, so it must not be worth
     * spoofing. Server is the one line that may go (the To tag is required,
     * RFC 3261 8.2.6.2, and so is received with rport, RFC 3581 4); a 403
     * that is larger still is not sent. A phone's request (Contact, Allow,
     * User-Agent, ...) is larger than its 403. */
    bool bounded = c->refused && !px_src_trusted(c);
    if (!bounded || o.total + sizeof(REPLY_TAIL) - 1 <= c->rx->len)
        PX_LIT(&o, REPLY_SERVER);
    PX_LIT(&o, REPLY_END);
    if (o.overflow) {
        tx->niov = 0;
        ST_DROP(c->st, overflow);
        return 0;
    }
    if (bounded && o.total > c->rx->len) {
        tx->niov = 0;
        ST_DROP(c->st, answer_larger);
        return 0;
    }
    if (!px_answer_budget(c, o.total)) {
        tx->niov = 0;
        return 0;
    }
    ST_BUMP(&c->st->local[code], 1);
    return 0;
}

int px_drop_ack(struct px_ctx *c)
{
    ST_DROP(c->st, ack);
    return 0;
}

int px_reject(struct px_ctx *c, enum st_local code, int err)
{
    const struct sip_msg *m = c->msg;
    if (!m->is_request) {
        if (code == ST_L_513)
            ST_DROP(c->st, too_large);
        else
            ST_DROP(c->st, bad_response);
        return 0;
    }
    if (m->method_id == SIP_M_ACK)
        return px_drop_ack(c);
    /* an answer can only be routed by a readable top Via */
    if (m->nvia == 0 || sip_via_parse(m->via[0], &c->info->via1) < 0) {
        if (code == ST_L_513)
            ST_DROP(c->st, too_large);
        else
            ST_DROP(c->st, unreadable_via);
        return 0;
    }
    return px_reply(c, code, err);
}

/* ---- STUN Binding (RFC 5389 §6, §7.3, §15.2) ---- */

#define STUN_COOKIE 0x2112A442u

static bool is_stun(const uint8_t *p, size_t len)
{
    /* the top two bits are 0 in STUN and 01 in any SIP start line */
    return len >= 20 && (p[0] & 0xc0) == 0 && p[4] == 0x21 && p[5] == 0x12 && p[6] == 0xa4 &&
           p[7] == 0x42;
}

bool px_stun(struct px_ctx *c)
{
    const uint8_t *p = (const uint8_t *)c->rx->buf;
    size_t len = c->rx->len;
    if (!is_stun(p, len))
        return false;
    ST_INC(c->st, rx_stun);
    unsigned type = (unsigned)p[0] << 8 | p[1];
    unsigned mlen = (unsigned)p[2] << 8 | p[3];
    /* over TCP (a message the stream framer cut out) never: tx->sock would name no UDP
     * socket of the client's, and the answer would go out as a datagram to the TCP peer's
     * port. RFC 5626 clients keep TCP flows alive with CRLF pings, not STUN. */
    if (type != 0x0001 || mlen + 20 != len || mlen % 4 != 0 || c->rx->conn != 0) {
        ST_DROP(c->st, stun);
        return true;
    }

    const struct sockaddr *src = c->rx->src;
    bool v6 = src->sa_family == AF_INET6;
    unsigned port = (unsigned)net_addr_port(src) ^ (STUN_COOKIE >> 16);
    uint8_t r[20 + 4 + 20];
    size_t alen = v6 ? 20 : 8;
    r[0] = 0x01, r[1] = 0x01; /* Binding Success Response */
    r[2] = 0, r[3] = (uint8_t)(4 + alen);
    memcpy(r + 4, p + 4, 16);   /* cookie and transaction id, echoed */
    r[20] = 0x00, r[21] = 0x20; /* XOR-MAPPED-ADDRESS */
    r[22] = 0, r[23] = (uint8_t)alen;
    r[24] = 0, r[25] = v6 ? 0x02 : 0x01;
    r[26] = (uint8_t)(port >> 8), r[27] = (uint8_t)port;
    const uint8_t *a =
        v6 ? ((const struct sockaddr_in6 *)(const void *)src)->sin6_addr.s6_addr
           : (const uint8_t *)&((const struct sockaddr_in *)(const void *)src)->sin_addr;
    for (size_t i = 0; i < alen - 4; i++)
        r[28 + i] = a[i] ^ p[4 + i]; /* cookie, then transaction id for IPv6 */

    struct net_tx *tx = c->tx;
    memcpy(&tx->dst, src, c->rx->srclen);
    tx->dstlen = c->rx->srclen;
    tx->sock = c->rx->sock;
    if (!net_addr_sendable(src)) {
        ST_DROP(c->st, bad_destination);
        return true;
    }
    struct px_out o;
    px_out_init(&o, tx);
    px_out_bytes(&o, r, 24 + alen);
    if (!px_answer_budget(c, 24 + alen)) {
        tx->niov = 0;
        return true;
    }
    ST_INC(c->st, stun_responses);
    return true;
}
