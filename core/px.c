/*
 * px.c - stateless proxy decisions: dispatch, requests, responses.
 *
 * Every outgoing datagram is the received one with a few edits (px_out.h):
 * a request gets our Via and Max-Forwards in front of its first header,
 * received/rport on the Via it came with, a decremented Max-Forwards and
 * perhaps one Route value fewer; a response loses our Via. Local answers
 * (px_reply.c) copy the lines RFC 3261 §8.2.6.2 asks for from the request.
 */
#include "core/px_internal.h"

#include <xxhash.h>

/* True if sa's IP is an address of this host: one getifaddrs listed, or
 * any of 127/8, all of which Linux delivers locally. */
static bool is_local(const struct px_cfg *cfg, const struct sockaddr *sa)
{
    const uint8_t *a;
    size_t n;
    if (sa->sa_family == AF_INET) {
        a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        n = 4;
        if (a[0] == 127)
            return true;
    } else {
        a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        n = 16;
    }
    for (int i = 0; i < cfg->nlocal; i++)
        if (cfg->local[i].family == sa->sa_family && memcmp(cfg->local[i].addr, a, n) == 0)
            return true;
    return false;
}

/* The port is compared first: most next hops are not on a port of ours, and
 * then no address is looked at. The sockets are IPV6_V6ONLY, so a wildcard
 * receives only its own family. */
bool px_addr_is_self(const struct px_cfg *cfg, const struct sockaddr *sa)
{
    int port = net_addr_port(sa);
    for (int i = 0; i < cfg->nlisten; i++) {
        const struct px_listen *l = &cfg->listen[i];
        const struct sockaddr *la = (const struct sockaddr *)&l->addr;
        if (net_addr_port(la) != port || la->sa_family != sa->sa_family)
            continue;
        if (l->wildcard ? is_local(cfg, sa) : net_addr_equal(sa, la))
            return true;
    }
    const struct px_own *o = cfg->own; /* NULL without TCP: one predictable branch */
    if (o == NULL || !(o->port_bits[(unsigned)port >> 6] >> ((unsigned)port & 63) & 1))
        return false;
    for (int i = 0; i < o->n; i++) {
        const struct sockaddr *la = (const struct sockaddr *)&o->s[i].addr;
        if (net_addr_port(la) == port && la->sa_family == sa->sa_family &&
            (o->s[i].wildcard ? is_local(cfg, sa) : net_addr_same_ip(sa, la)))
            return true;
    }
    return false;
}

/*
 * Compared as text first: our own Via and Record-Route come back exactly as
 * we wrote them, and a text compare costs no address conversion. An IPv6
 * literal, which has many spellings, is compared as an address, and so is
 * any IP literal when a listener is a wildcard: then every local address is
 * ours, and the listen strings name none of them.
 */
bool px_is_self(const struct px_cfg *cfg, struct span host, int port)
{
    if (port < 0)
        port = 5060;
    for (int i = 0; i < cfg->nlisten; i++) {
        const struct px_listen *l = &cfg->listen[i];
        if (l->port == port && span_eq_nocase(host, span_make(l->host, l->host_len)))
            return true;
        if (net_addr_port((const struct sockaddr *)&l->addr) == port &&
            span_eq(host, span_make(l->ip, l->ip_len)))
            return true;
    }
    for (int i = 0; i < cfg->nalias; i++)
        if (cfg->alias[i].port == port &&
            span_eq_nocase(host, span_make(cfg->alias[i].host, cfg->alias[i].host_len)))
            return true;
    if (host.len > 0 && (cfg->any_wildcard || memchr(host.p, ':', host.len) != NULL)) {
        struct sockaddr_storage ss;
        socklen_t sslen;
        if (net_addr_from_ip(host.p, host.len, port, &ss, &sslen) == 0)
            return px_addr_is_self(cfg, (const struct sockaddr *)&ss);
    }
    return false;
}

/* The packet's source IP as text, formatted on first use: most datagrams
 * (a request whose Via already names its source) never need it. */
struct span px_src_ip(struct px_ctx *c)
{
    if (c->src_ip_len == 0) {
        int n = net_addr_format_ip(c->rx->src, c->src_ip, sizeof(c->src_ip));
        c->src_ip_len = n > 0 ? (size_t)n : 0;
    }
    return span_make(c->src_ip, c->src_ip_len);
}

/* Index of a UDP listening socket of the given family, preferring the one the
 * datagram came in on; -1 if there is none. A message that came over TCP
 * (rx_sock >= nudp) leaves over UDP: the backends are reached over UDP. */
int px_pick_sock(const struct px_cfg *cfg, int rx_sock, int family)
{
    if (rx_sock < cfg->nudp && cfg->listen[rx_sock].addr.ss_family == family)
        return rx_sock;
    for (int i = 0; i < cfg->nudp; i++)
        if (cfg->listen[i].addr.ss_family == family)
            return i;
    return -1;
}

/* The socket a message to family leaves from: a UDP listener's (px_pick_sock), or for a
 * request that came over TCP the worker's own of that family (px_state.tcp_out), to which
 * its response then comes back. */
static int out_sock(const struct px_ctx *c, int family)
{
    if (c->rx->conn != 0 && c->ps->has_tcp_out) {
        int s = c->ps->tcp_out_sock[family == AF_INET6];
        if (s >= 0)
            return s;
    }
    return px_pick_sock(c->cfg, c->rx->sock, family);
}

/* tx->dst is set: may it be sent there, and from which socket. */
static bool check_dest(struct px_ctx *c, bool named)
{
    struct net_tx *tx = c->tx;
    const struct sockaddr *d = (const struct sockaddr *)&tx->dst;
    if (px_addr_is_self(c->cfg, d)) {
        ST_DROP(c->st, to_self); /* a datagram to ourselves would loop */
        return false;
    }
    tx->sock = out_sock(c, d->sa_family);
    if (!net_addr_sendable(d) || tx->sock < 0) {
        ST_DROP(c->st, bad_destination);
        return false;
    }
    if (named && !px_dest_permitted(c->cfg, d)) {
        ST_DROP(c->st, forbidden_destination);
        return false;
    }
    return true;
}

bool px_set_dest(struct px_ctx *c, struct span ip, int port)
{
    struct net_tx *tx = c->tx;
    if (net_addr_from_ip(ip.p, ip.len, port, &tx->dst, &tx->dstlen) < 0) {
        ST_DROP(c->st, bad_destination);
        return false;
    }
    return check_dest(c, false);
}

bool px_named_dest_ok(struct px_ctx *c)
{
    return check_dest(c, true);
}

bool px_set_named_dest(struct px_ctx *c, struct span ip, int port)
{
    struct net_tx *tx = c->tx;
    if (net_addr_from_ip(ip.p, ip.len, port, &tx->dst, &tx->dstlen) < 0) {
        ST_DROP(c->st, bad_destination);
        return false;
    }
    return check_dest(c, true);
}

/*
 * The branch of our Via (RFC 3261 §16.11):
 * "z9hG4bK" TRANSACTION(16 hex) TAG(16 hex) "." LOOP(16 hex).
 *
 * The transaction part is a function of what identifies the client
 * transaction, so a retransmission, the CANCEL of an INVITE and the ACK of a
 * non-2xx final response all get the INVITE's branch. With the magic cookie
 * that is the received branch and sent-by; without it (RFC 2543 clients)
 * the top Via, From tag, Call-ID, CSeq number and Request-URI. The To tag is
 * left out on purpose: the ACK for a non-2xx response carries the
 * response's To tag, which the INVITE did not have, and must still match.
 *
 * The tag (px_policy.c) is a keyed MAC over what the response will carry
 * back: where it goes (the Via below ours as we forward it: always the
 * source IP, at the source port when rport was asked for, else the sent-by
 * port), that Via's branch, the Call-ID and the CSeq number (not the
 * method: a CANCEL must get its INVITE's branch). So a retransmission, the
 * CANCEL and the ACK get the same tag, and handle_response recomputes it
 * from the response alone: one that does not verify was never caused by a
 * request viaduct forwarded, and is dropped. It sits inside the branch, not
 * in a parameter of its own, because the branch is what every hop must
 * return unchanged (§8.2.6.2, §16.7), and so the branch keeps its length
 * and the loop part its place. The transaction and tag parts together are
 * the branch's 128 bits of uniqueness, as 32 hex digits before.
 */
static void branch_hash(const struct px_cfg *cfg, const struct sip_msg *m,
                        const struct sip_info *in, uint64_t h[2])
{
    for (int lane = 0; lane < 1; lane++) {
        uint64_t x = cfg->seed;
        if (sip_branch_is_rfc3261(in->via1.branch)) {
            x = XXH3_64bits_withSeed(in->via1.branch.p, in->via1.branch.len, x);
            x = XXH3_64bits_withSeed(in->via1.sent_by.host.p, in->via1.sent_by.host.len, x);
            x ^= (uint64_t)(uint32_t)in->via1.sent_by.port;
        } else {
            uint32_t cseq = in->cseq;
            x = XXH3_64bits_withSeed(m->via[0].p, m->via[0].len, x);
            x = XXH3_64bits_withSeed(in->from.tag.p, in->from.tag.len, x);
            x = XXH3_64bits_withSeed(in->callid.p, in->callid.len, x);
            x = XXH3_64bits_withSeed(&cseq, sizeof(cseq), x);
            x = XXH3_64bits_withSeed(m->ruri.p, m->ruri.len, x);
        }
        h[lane] = x;
    }
}

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)(void *)ss)->sin_port = htons((uint16_t)port);
}

/* The tag of the Via we put on this request (see branch_hash). */
static uint64_t request_tag(struct px_ctx *c, const uint8_t key[PX_KEY_LEN])
{
    const struct sip_via *v = &c->info->via1;
    struct sockaddr_storage back;
    memcpy(&back, c->rx->src, c->rx->srclen);
    int port = v->rport.p != NULL ? net_addr_port(c->rx->src)
                                  : (v->sent_by.port < 0 ? 5060 : v->sent_by.port);
    set_port(&back, port);
    /* over TCP the connection is in it too: the ;vtc= px_emit writes (worker, handle) */
    return px_via_tag(key, (const struct sockaddr *)&back, v->branch, c->info->callid,
                      c->info->cseq, c->rx->conn, (unsigned)(c->wk_id & 0xff));
}

#define BRANCH_TAG_AT (7 + 16) /* "z9hG4bK", the transaction part */

/*
 * The loop part (§16.6 step 8, used by §16.3 step 4): a hash of what does
 * not change while a request goes round a loop, and is the same for an
 * INVITE, its CANCEL and the ACK of a non-2xx answer (so the branch stays
 * one): the Request-URI and every Route and Proxy-Require value, as
 * received. A spiral changes the Request-URI, and a route set that visits us
 * twice changes the Route values, so neither matches. What identifies the
 * request (Call-ID, From tag, CSeq) is left out: the check only compares
 * with a Via of ours that this very message carries, which a proxy copies
 * into no other request. So are the Vias and Max-Forwards (every hop changes
 * them; §16.6 step 8 lists the top Via, which would hide any loop through
 * another proxy). Each field left out is an XXH3 call saved per request.
 * When the configuration routes by source address, the same message from
 * another peer may rightly go elsewhere, so the source IP is hashed too; a
 * loop then shows one round later, when a source repeats.
 */
static uint64_t loop_hash(struct px_ctx *c)
{
    const struct sip_msg *m = c->msg;
    uint64_t x = c->cfg->seed ^ 0x6c6f6f70u; /* "loop" */
    x = XXH3_64bits_withSeed(m->ruri.p, m->ruri.len, x);
    for (int i = m->first[SIP_H_ROUTE]; i >= 0; i = sip_hnext(m, i))
        x = XXH3_64bits_withSeed(m->hdr[i].value.p, m->hdr[i].value.len, x);
    for (int i = m->first[SIP_H_PROXY_REQUIRE]; i >= 0; i = sip_hnext(m, i))
        x = XXH3_64bits_withSeed(m->hdr[i].value.p, m->hdr[i].value.len, x);
    if (c->cfg->route_by_source) {
        struct span ip = px_src_ip(c);
        x = XXH3_64bits_withSeed(ip.p, ip.len, x);
    }
    return x;
}

#define BRANCH_LOOP_AT (7 + 32 + 1) /* "z9hG4bK", the transaction part, "." */

static void loop_hex(uint64_t loop, char hex[16])
{
    px_hex16(loop, hex);
}

/* v is ours (our sent-by) and its branch ends in the loop part hex. */
static bool ours_with_loop(const struct px_cfg *cfg, const struct sip_via *v, const char hex[16])
{
    return v->branch.len == BRANCH_LOOP_AT + 16 && v->branch.p[BRANCH_LOOP_AT - 1] == '.' &&
           memcmp(v->branch.p + BRANCH_LOOP_AT, hex, 16) == 0 &&
           px_is_self(cfg, v->sent_by.host, v->sent_by.port);
}

/*
 * §16.3 step 4: a Via of ours (our sent-by) whose branch ends in the loop
 * part computed now means this request passed here before unchanged. The
 * top Via is parsed already, and a branch not of our length and shape costs
 * two compares; a lower Via is parsed only when its text holds the 16
 * digits, so neither a client's one-Via request nor most others parse more.
 */
static bool looped(struct px_ctx *c)
{
    const struct sip_msg *m = c->msg;
    const struct sip_via *top = &c->info->via1;
    char hex[16];
    bool have_hex = false;
    if (top->branch.len == BRANCH_LOOP_AT + 16 && top->branch.p[BRANCH_LOOP_AT - 1] == '.') {
        loop_hex(c->loop, hex);
        have_hex = true;
        if (ours_with_loop(c->cfg, top, hex))
            return true;
    }
    for (int i = 1; i < m->nvia; i++) {
        if (!have_hex)
            loop_hex(c->loop, hex);
        have_hex = true;
        struct sip_via v;
        if (memmem(m->via[i].p, m->via[i].len, hex, 16) != NULL &&
            sip_via_parse(m->via[i], &v) == 0 && ours_with_loop(c->cfg, &v, hex))
            return true;
    }
    return false;
}

/* Writes "host:port" as advertised for listening socket l. */
void px_out_hostport(struct px_out *o, const struct px_listen *l)
{
    if (l->host_is_ip6)
        PX_LIT(o, "[");
    px_out_put(o, span_make(l->host, l->host_len));
    if (l->host_is_ip6)
        PX_LIT(o, "]");
    PX_LIT(o, ":");
    px_out_uint(o, (uint64_t)l->port);
}

void px_out_sent_by(struct px_out *o, const struct px_listen *l)
{
    PX_LIT(o, "SIP/2.0/UDP ");
    px_out_hostport(o, l);
}

/* True if a header of this id lists option (a comma list of tokens). */
static bool has_option(const struct sip_msg *m, enum sip_hid id, struct span option)
{
    for (int i = m->first[id]; i >= 0; i = sip_hnext(m, i)) {
        struct span list = m->hdr[i].value, item;
        while (sip_list_next(&list, &item) > 0)
            if (span_eq_nocase(item, option))
                return true;
    }
    return false;
}

/* Record-Route on requests that may create a dialog (RFC 3261 §16.6 step 4),
 * Path on REGISTERs whose client supports it (RFC 3327 §5: never without
 * Supported: path, or the registrar answers 420), or on every REGISTER with
 * path: always, for registrars that take Path without the UA's support. */
static void stay_on_path(struct px_ctx *c, struct px_edits *ed, bool via_flow)
{
    const struct sip_msg *m = c->msg;
    bool out_of_dialog = c->info->to.tag.p == NULL;
    switch (m->method_id) {
    case SIP_M_INVITE:
    case SIP_M_SUBSCRIBE:
    case SIP_M_REFER:
    case SIP_M_NOTIFY:
        c->add_rr = c->cfg->record_route && out_of_dialog;
        if (c->add_rr)
            px_record_route_flow(c, ed, via_flow);
        break;
    case SIP_M_REGISTER:
        c->add_path = c->cfg->path == CFG_PATH_ALWAYS ||
                      (c->cfg->path && has_option(m, SIP_H_SUPPORTED, SPAN_LIT("path")));
        c->path_ob = c->add_path && has_option(m, SIP_H_SUPPORTED, SPAN_LIT("outbound"));
        break;
    default: break;
    }
}

void px_emit(struct px_out *o, const struct px_edit *e, void *vctx)
{
    struct px_ctx *c = vctx;
    switch (e->kind) {
    case ED_VIA_BLOCK:
        PX_LIT(o, "Via: ");
        px_out_sent_by(o, px_via_listen(c));
        PX_LIT(o, ";branch=z9hG4bK");
        px_out_hex(o, c->branch[0], 16);
        px_out_hex(o, c->branch[1], 16);
        PX_LIT(o, ".");
        px_out_hex(o, c->loop, 16);
        PX_LIT(o, PX_VDT); /* a parameter of its own: the branch stays the same on resends */
        px_out_hex(o, (uint64_t)(c->now_us / PX_VDT_UNIT_US) & 0xffffffffu, 8);
        if (c->rx->conn != 0) { /* came over TCP: the response goes back on that connection */
            PX_LIT(o, PX_VTC);
            px_out_hex(o, (uint64_t)(c->wk_id & 0xff), 2);
            px_out_hex(o, c->rx->conn, 16);
        }
        PX_LIT(o, "\r\n");
        if (c->add_rr) {
            PX_LIT(o, "Record-Route: ");
            px_out_record_route(o, c);
            PX_LIT(o, "\r\n");
        }
        if (c->add_path) {
            /* RFC 3327 §5, and ;ob for an RFC 5626 client (§5.1): the
             * registrar then sends calls for this user back through us */
            PX_LIT(o, "Path: <sip:");
            px_flow_write(o, c->rx->src, c->cfg);
            PX_LIT(o, "@");
            px_out_hostport(o, px_rr_listen(c));
            PX_LIT(o, ";lr");
            if (c->path_ob)
                PX_LIT(o, ";ob");
            PX_LIT(o, ">\r\n");
        }
        if (c->info->max_fwd < 0)
            PX_LIT(o, "Max-Forwards: 70\r\n");
        break;
    case ED_MAXFWD: px_out_uint(o, (uint64_t)(c->info->max_fwd - 1)); break;
    case ED_RECEIVED:
        PX_LIT(o, ";received=");
        /* fallthrough */
    case ED_RECEIVED_VALUE: px_out_put(o, px_src_ip(c)); break;
    case ED_RPORT:
        PX_LIT(o, "=");
        /* fallthrough */
    case ED_RPORT_VALUE: px_out_uint(o, (uint64_t)net_addr_port(c->rx->src)); break;
    case ED_RECORD_ROUTE: px_out_record_route(o, c); break;
    case ED_TO_TAG:
        PX_LIT(o, ";tag=");
        px_out_hex(o, c->branch[0] ^ c->branch[1], 16);
        break;
    default: /* ED_DELETE */ break;
    }
}

/*
 * Edits of the top Via as it came in (§18.2.1, RFC 3581): received= when the
 * sent-by is not the packet's source address or rport was asked for, and the
 * rport value. Existing values are replaced, never duplicated.
 */
void px_via_edits(struct px_ctx *c, struct px_edits *ed)
{
    const struct sip_via *v = &c->info->via1;
    struct sockaddr_storage ss;
    socklen_t sslen;
    bool same_ip = v->sent_by.host_type != SIP_HOST_NAME &&
                   net_addr_from_ip(v->sent_by.host.p, v->sent_by.host.len, 0, &ss, &sslen) == 0 &&
                   net_addr_same_ip((const struct sockaddr *)&ss, c->rx->src);
    if (v->rport.p != NULL)
        px_edits_add(ed, v->rport.p, span_end(v->rport), v->rport.len ? ED_RPORT_VALUE : ED_RPORT,
                     NULL);
    if (v->received.p != NULL)
        px_edits_add(ed, v->received.p, span_end(v->received), ED_RECEIVED_VALUE, NULL);
    else if (!same_ip || v->rport.p != NULL)
        px_edits_add(ed, span_end(c->msg->via[0]), span_end(c->msg->via[0]), ED_RECEIVED, NULL);
}

/* Fills tx with the received message (up to msg_len: trailing datagram
 * bytes are not the message, RFC 3261 §18.3) with ed applied. False, and
 * the datagram counted as dropped, if it needed more than a tx holds. */
static bool emit_message(struct px_ctx *c, struct px_edits *ed)
{
    struct px_out o;
    px_out_init(&o, c->tx);
    if (px_out_edited(&o, c->rx->buf, c->rx->buf + c->msg->msg_len, ed, px_emit, c))
        return true;
    c->tx->niov = 0;
    ST_DROP(c->st, overflow);
    return false;
}

/* The edit that removes one element of a comma list header, or its whole
 * line when it is the only element there. next is the element after it on
 * the same line, or SPAN_NULL. */
static void delete_element(struct px_edits *ed, const struct sip_hdr *h, struct span item,
                           struct span next)
{
    if (next.p != NULL)
        px_edits_add(ed, item.p, next.p, ED_DELETE, NULL);
    else if (item.p == h->value.p)
        px_edits_add(ed, h->name.p, h->name.p + h->line_len, ED_DELETE, NULL);
    else
        px_edits_add(ed, item.p, span_end(item), ED_DELETE, NULL); /* unreachable: kept safe */
}

/* After our own Route, with nothing after it: a Request-URI that names a
 * host by IP, not us, is where the request was sent through us to (a
 * backend's BYE to a client in a dialog only viaduct record-routed); else
 * the routing table decides (0). */
static int ruri_hop(struct px_ctx *c, struct sip_uri *hop)
{
    const struct sip_uri *u = &c->info->ruri;
    if (u->scheme == SIP_SCHEME_OTHER || u->hp.host_type == SIP_HOST_NAME ||
        px_is_self(c->cfg, u->hp.host, u->hp.port))
        return 0;
    *hop = *u;
    return 1;
}

/*
 * Route (§16.4, §16.12): a first value naming us is removed; the value after
 * it, if any, is the next hop. Returns 1 with *next_hop set, 2 with tx->dst
 * set (our Route carried a flow token: the client's NAT binding), 0 when
 * the routing table decides, or -1 for a Route that cannot be used.
 */
static int route_next_hop(struct px_ctx *c, struct px_edits *ed, struct sip_uri *next_hop)
{
    const struct sip_msg *m = c->msg;
    int hi = m->first[SIP_H_ROUTE];
    struct span list, item, after;
    struct sip_nameaddr na;
    if (hi < 0)
        return 0;
    list = m->hdr[hi].value;
    if (sip_list_next(&list, &item) <= 0 || sip_nameaddr_parse(item, &na) < 0 ||
        sip_uri_parse(na.uri, next_hop) < 0)
        return -1;
    if (!px_is_self(c->cfg, next_hop->hp.host, next_hop->hp.port))
        return 1;

    /* the first value is ours: drop it and look at the one after it */
    after = SPAN_NULL;
    struct span rest = list;
    if (sip_list_next(&rest, &after) < 0)
        return -1;
    delete_element(ed, &m->hdr[hi], item, after);
    if (next_hop->user.p != NULL && px_flow_route(next_hop->user, c->cfg, c->now_ms, c->rx->src,
                                                  &c->tx->dst, &c->tx->dstlen))
        return 2;
    if (after.p == NULL) {
        if ((hi = sip_hnext(m, hi)) < 0)
            return ruri_hop(c, next_hop);
        list = m->hdr[hi].value;
        if (sip_list_next(&list, &after) <= 0)
            return -1;
    }
    if (sip_nameaddr_parse(after, &na) < 0 || sip_uri_parse(na.uri, next_hop) < 0)
        return -1;
    return 1;
}

/*
 * The relay policy for a next hop the request itself names (a Route value
 * after ours, or the Request-URI after our Route): followed from a trusted
 * source (a backend's IP, security.trusted), to a configured backend from
 * anyone, and otherwise only with security.relay: open. Flow tokens viaduct
 * minted and the routing table's choices never come here. The trust lookup
 * runs only for such requests, so the routed path pays nothing for it.
 */
static bool may_relay(struct px_ctx *c, const struct sip_uri *hop)
{
    const struct px_cfg *cfg = c->cfg;
    if (cfg->relay == CFG_RELAY_OPEN)
        return true;
    if (hop->hp.host_type != SIP_HOST_NAME) {
        struct sockaddr_storage ss;
        socklen_t len;
        const struct px_backend_ref *r;
        int port = hop->hp.port < 0 ? 5060 : hop->hp.port;
        if (net_addr_from_ip(hop->hp.host.p, hop->hp.host.len, port, &ss, &len) == 0 &&
            px_backends_at(cfg, (const struct sockaddr *)&ss, &r) > 0)
            return true;
    }
    return px_trusted(cfg, c->rx->src);
}

static int not_relayed(struct px_ctx *c)
{
    ST_DROP(c->st, not_relayed); /* an ACK is never answered, not even with 403 */
    return 0;
}

static int forward_request(struct px_ctx *c)
{
    const struct px_cfg *cfg = c->cfg;
    const struct sip_msg *m = c->msg;
    const struct sip_info *in = c->info;
    struct px_edits ed;
    struct sip_uri hop;
    bool is_ack = m->method_id == SIP_M_ACK;

    px_edits_init(&ed);
    int r = route_next_hop(c, &ed, &hop);
    if (r < 0)
        return px_reply(c, ST_L_400, SIP_ERURI);
    if (r == 1 && !may_relay(c, &hop)) {
        /* a next hop the request named, not viaduct's rules (§ relay policy) */
        if (cfg->relay == CFG_RELAY_REJECT)
            return is_ack ? not_relayed(c) : px_reply(c, ST_L_403, 0);
        /* rules: the Route set goes, the table decides */
        px_edits_init(&ed);
        for (int i = m->first[SIP_H_ROUTE]; i >= 0; i = sip_hnext(m, i))
            px_edits_add(&ed, m->hdr[i].name.p, m->hdr[i].name.p + m->hdr[i].line_len, ED_DELETE,
                         NULL);
        r = 0;
    }
    if (r == 2) {
        /* to the client's NAT binding the flow token names */
        if (!check_dest(c, true))
            return 0;
    } else if (r > 0) {
        if (hop.hp.host_type == SIP_HOST_NAME) {
            int k = px_hostname_hop(c, &hop);
            if (k <= 0)
                return k < 0 && !is_ack ? px_reply(c, ST_L_503, 0) : 0;
        } else if (!px_set_named_dest(c, hop.hp.host, hop.hp.port < 0 ? 5060 : hop.hp.port)) {
            return 0;
        }
    } else {
        int err = px_select_backend(c);
        if (err == PX_ENOKEY)
            return is_ack ? px_drop_ack(c) : px_reply(c, ST_L_400, 0);
        if (err == PX_ENOROUTE) {
            ST_INC(c->st, no_route);
            return is_ack ? px_drop_ack(c) : px_reply(c, ST_L_404, 0);
        }
        if (err < 0)
            return is_ack ? px_drop_ack(c) : px_reply(c, ST_L_503, 0);
        c->tx->sock = out_sock(c, c->tx->dst.ss_family);
        if (c->tx->sock < 0) {
            ST_DROP(c->st, bad_destination);
            return 0;
        }
    }

    branch_hash(cfg, m, in, c->branch);
    c->branch[1] = request_tag(c, cfg->key.via);
    stay_on_path(c, &ed, r == 2);
    const char *first_hdr = m->hdr[0].name.p;
    px_edits_add(&ed, first_hdr, first_hdr, ED_VIA_BLOCK, NULL);
    if (in->max_fwd >= 0) {
        struct span v = sip_hvalue(m, SIP_H_MAX_FORWARDS);
        px_edits_add(&ed, v.p, span_end(v), ED_MAXFWD, NULL);
    }
    px_via_edits(c, &ed);
    if (emit_message(c, &ed))
        ST_INC(c->st, fwd_requests);
    return 0;
}

static bool names_us(struct px_ctx *c)
{
    const struct sip_uri *u = &c->info->ruri;
    return u->user.p == NULL && px_is_self(c->cfg, u->hp.host, u->hp.port);
}

static int handle_request(struct px_ctx *c)
{
    const struct sip_msg *m = c->msg;
    const struct sip_info *in = c->info;
    bool is_ack = m->method_id == SIP_M_ACK;

    ST_INC(c->st, rx_requests);
    if (m->method_id < ST_NMETHODS)
        ST_BUMP(&c->st->method[m->method_id], 1);
    if (!px_admit_request(c))
        return 0;
    if (in->ruri.scheme == SIP_SCHEME_OTHER)
        return is_ack ? px_drop_ack(c) : px_reply(c, ST_L_416, 0);
    /* the readiness ping of balancers and peers: while viaduct drains for
     * shutdown it says 503 (Retry-After), so SIP-level health checks take it
     * out of rotation as /readyz does; everything else is still forwarded */
    if (m->method_id == SIP_M_OPTIONS && names_us(c))
        return px_reply(c, c->draining ? ST_L_503 : ST_L_200, 0);
    if (in->max_fwd == 0)
        return is_ack ? px_drop_ack(c) : px_reply(c, ST_L_483, 0);
    c->loop = loop_hash(c); /* §16.3: loop detection after Max-Forwards, before Proxy-Require */
    if (looped(c))
        return is_ack ? px_drop_ack(c) : px_reply(c, ST_L_482, 0);
    if (m->first[SIP_H_PROXY_REQUIRE] >= 0)
        return is_ack ? px_drop_ack(c) : px_reply(c, ST_L_420, 0);
    return forward_request(c);
}

/*
 * The latency of a response to a request we forwarded (PX_VDT): the send
 * time from our Via, looked for right after the branch (where we wrote it),
 * else anywhere in its parameters; a Via without one (a request forwarded
 * before the parameter existed) is not measured, a bad one is counted.
 */
static void measure(struct px_ctx *c, unsigned slot, int status)
{
    const struct sip_via *v = &c->info->via1;
    const char *end = span_end(v->params), *p = v->branch.p ? span_end(v->branch) : v->params.p;
    size_t k = sizeof(PX_VDT) - 1;
    if (p == NULL || slot >= ST_MAX_BACKENDS)
        return;
    if ((size_t)(end - p) < k || memcmp(p, PX_VDT, k) != 0) {
        p = memmem(v->params.p, v->params.len, PX_VDT, k);
        if (p == NULL)
            return;
    }
    p += k;
    uint32_t sent = 0;
    bool ok = end - p >= 8 && px_unhex8(p, &sent);
    int32_t units = (int32_t)((uint32_t)(c->now_us / PX_VDT_UNIT_US) - sent);
    if (!ok || (p + 8 < end && p[8] != ';') || units < 0 ||
        (int64_t)units * PX_VDT_UNIT_US > ST_LAT_MAX_US) {
        ST_INC(c->st, latency_implausible);
        return;
    }
    st_lat_add(c->st, slot, status >= 200, (uint32_t)units * PX_VDT_UNIT_US);
}

static bool hex64(const char *p, uint64_t *v)
{
    uint32_t hi, lo;
    if (!px_unhex8(p, &hi) || !px_unhex8(p + 8, &lo))
        return false;
    *v = (uint64_t)hi << 32 | lo;
    return true;
}

/* Our top Via's tag against the response it came back on, whose next Via
 * (parsed) sends it to tx->dst, on connection conn of worker wk when conn is
 * not 0 (its ;vtc=): the current key, then the previous one during a
 * rotation. */
static bool tag_verifies(struct px_ctx *c, const struct sip_via *top, const struct sip_via *next,
                         uint64_t conn, unsigned wk)
{
    uint64_t got;
    if (top->branch.len != BRANCH_LOOP_AT + 16 || top->branch.p[BRANCH_LOOP_AT - 1] != '.' ||
        !hex64(top->branch.p + BRANCH_TAG_AT, &got))
        return false;
    const struct sockaddr *d = (const struct sockaddr *)&c->tx->dst;
    struct span callid = c->info->callid;
    if (got == px_via_tag(c->cfg->key.via, d, next->branch, callid, c->info->cseq, conn, wk))
        return true;
    return px_prev_valid(c->cfg, c->now_ms) &&
           got ==
               px_via_tag(c->cfg->prev_key.via, d, next->branch, callid, c->info->cseq, conn, wk);
}

static int handle_response(struct px_ctx *c)
{
    const struct sip_msg *m = c->msg;
    const struct sip_via *top = &c->info->via1;
    struct sip_via next;

    ST_INC(c->st, rx_responses);
    unsigned slot = ST_NO_SLOT;
    if (m->status >= 100 && m->status < 700) {
        slot = px_backend_slot(c->cfg, c->rx->src);
        ST_BE_INC(c->st, slot, responses[m->status / 100 - 1]);
    }
    if (!px_is_self(c->cfg, top->sent_by.host, top->sent_by.port) && !px_is_tcp_out(c, top)) {
        ST_DROP(c->st, not_our_via);
        return 0;
    }
    if (m->nvia < 2) {
        ST_DROP(c->st, no_next_via);
        return 0;
    }
    if (sip_via_parse(m->via[1], &next) < 0) {
        ST_DROP(c->st, bad_response);
        return 0;
    }
    /* §18.2.2 and RFC 3581: received and rport say where the client really is */
    struct span host = next.received.p ? next.received : next.sent_by.host;
    if (host.len > 2 && host.p[0] == '[')
        host = span_make(host.p + 1, host.len - 2);
    int port = next.sent_by.port < 0 ? 5060 : next.sent_by.port;
    if (next.rport.len > 0)
        port = atoi_span(next.rport);
    if (next.received.p == NULL && next.sent_by.host_type == SIP_HOST_NAME) {
        ST_DROP(c->st, unresolvable);
        return 0;
    }
    struct net_tx *tx = c->tx;
    if (net_addr_from_ip(host.p, host.len, port, &tx->dst, &tx->dstlen) < 0) {
        ST_DROP(c->st, bad_destination);
        return 0;
    }
    /* the connection token is read before the tag, which covers it: a changed ;vtc= (another
     * client's connection from the same IP) fails here like a changed destination */
    uint64_t conn;
    unsigned wk;
    if (!px_vtc_read(c, top, &conn, &wk))
        return 0;
    if (!tag_verifies(c, top, &next, conn, wk)) {
        ST_DROP(c->st, forged_via);
        return 0;
    }
    measure(c, slot, m->status); /* only a tag of ours may add to a histogram */
    if (!check_dest(c, true))
        return 0;
    if (!px_conn_of_via(c, conn, wk))
        return 0;

    struct px_edits ed;
    px_edits_init(&ed);
    if (m->via_hdr[0] == m->via_hdr[1])
        px_edits_add(&ed, m->via[0].p, m->via[1].p, ED_DELETE, NULL);
    else
        delete_element(&ed, &m->hdr[m->via_hdr[0]], m->via[0], SPAN_NULL);
    if (emit_message(c, &ed))
        ST_INC(c->st, fwd_responses);
    return 0;
}

static bool only_crlf(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != '\r' && p[i] != '\n')
            return false;
    return true;
}

void px_handle(const struct px_cfg *cfg, struct px_state *ps, struct st_worker *st,
               const struct net_rx *rx, struct net_tx *tx, int64_t now_ms, int64_t now_us)
{
    struct px_ctx c;
    px_ctx_init(&c, cfg, ps, st, rx, tx, now_ms, now_us);
    ST_INC(st, rx_datagrams);
    if (cfg->listen[rx->sock].acl && !px_acl_pass(&cfg->listen[rx->sock], rx->src)) {
        px_acl_refuse(&c); /* before anything else: not even STUN is answered */
        return;
    }
    if (rx->len > 0 && only_crlf(rx->buf, rx->len)) {
        ST_INC(st, rx_keepalive); /* RFC 5626 §3.5.1 CRLF keep-alive */
        return;
    }
    if (px_stun(&c))
        return;
    /* RFC 3261 §7.5: CRLFs before the start line are ignored (a keep-alive
     * glued to a request by a lenient peer); the message goes on without
     * them, as if it had come alone. A datagram of nothing else was a
     * keep-alive above. */
    struct net_rx trimmed;
    size_t skip = 0;
    while (skip < rx->len && (rx->buf[skip] == '\r' || rx->buf[skip] == '\n'))
        skip++;
    if (skip > 0) {
        trimmed = *rx;
        trimmed.buf += skip;
        trimmed.len -= skip;
        rx = c.rx = &trimmed;
    }

    int err = sip_parse(rx->buf, rx->len, c.msg);
    if (err >= 0)
        err = sip_validate(c.msg, c.info);
    if (rx->truncated || rx->len > cfg->max_msg) {
        px_reject(&c, ST_L_513, 0);
    } else if (err < 0) {
        ST_INC(st, parse_error[-err]);
        px_reject(&c, err == SIP_EVERSION ? ST_L_505 : ST_L_400, err);
    } else if (c.msg->is_request) {
        handle_request(&c);
    } else {
        handle_response(&c);
    }
}
