/*
 * px_internal.h - what px.c and px_reply.c share; not for other modules.
 */
#ifndef VIADUCT_PX_INTERNAL_H
#define VIADUCT_PX_INTERNAL_H

#include <arpa/inet.h>
#include <stdio.h>

#include "core/px.h"
#include "core/px_out.h"

/* Edit kinds px_emit knows how to write. */
enum {
    ED_DELETE = 0,
    ED_VIA_BLOCK,      /* our Via line, and Max-Forwards: 70 when absent */
    ED_MAXFWD,         /* the decremented Max-Forwards value */
    ED_RECEIVED,       /* ";received=<source ip>" */
    ED_RECEIVED_VALUE, /* "<source ip>" replacing a received value */
    ED_RPORT,          /* "=<source port>" after a bare rport */
    ED_RPORT_VALUE,    /* "<source port>" replacing an rport value */
    ED_TO_TAG,         /* ";tag=<hash>" for a local response */
    ED_RECORD_ROUTE,   /* our Record-Route value in place of the one of ours on top */
};

/* Everything one datagram's handling needs, on the stack of px_handle. */
struct px_ctx {
    const struct px_cfg *cfg;
    struct sip_msg *msg;
    struct sip_info *info;
    struct st_worker *st;
    const struct net_rx *rx;
    struct net_tx *tx;
    int64_t now_ms;     /* when rx arrived (px_handle's caller says) */
    int64_t now_us;     /* the same on CLOCK_REALTIME, in microseconds */
    uint64_t branch[2]; /* our Via branch, or the To tag of a local response */
    uint64_t loop;      /* the loop-detection part of our branch (px.c loop_hash) */
    bool add_rr, add_path, path_ob;
    /* set by px_record_route_flow when add_rr is, unset otherwise */
    const struct sockaddr *rr_flow; /* the flow our Record-Route names; NULL: none */
    struct span rr_old;             /* the token of the Record-Route of ours it joins */
    struct gd_table *gd; /* the worker's per-source buckets */
    struct dns_ask *ask; /* px_state's: where a hostname not cached is asked for */
    int8_t trusted;      /* px_trusted's answer once asked, -1 before */
    bool refused;        /* the listener's lists refused the source (acl_403 answers it) */
    bool draining;       /* px_state's: an OPTIONS to us gets 503 */
    int wk_id;     /* px_state's: the worker a connection token names */
    const struct px_state *ps; /* its tcp_out: the worker's own socket for TCP's requests */
    char src_ip[INET6_ADDRSTRLEN];
    size_t src_ip_len;
};

/* c for one message; tx emptied. Field by field: an initializer would also clear src_ip,
 * which is written before it is read (px_src_ip), on every datagram. */
static inline void px_ctx_init(struct px_ctx *c, const struct px_cfg *cfg, struct px_state *ps,
                               struct st_worker *st, const struct net_rx *rx, struct net_tx *tx,
                               int64_t now_ms, int64_t now_us)
{
    c->cfg = cfg;
    c->msg = &ps->msg;
    c->info = &ps->info;
    c->st = st;
    c->rx = rx;
    c->tx = tx;
    c->now_ms = now_ms;
    c->now_us = now_us;
    c->branch[0] = c->branch[1] = c->loop = 0;
    c->add_rr = c->add_path = c->path_ob = false;
    c->gd = &ps->gd;
    c->ask = ps->ask;
    c->trusted = -1;
    c->refused = false;
    c->src_ip_len = 0;
    c->draining = ps->draining;
    c->wk_id = ps->wk_id;
    c->ps = ps;
    tx->niov = 0;
    tx->dst2len = 0;
}

/* The listener our Via names for the socket the message leaves from (tx->sock): the
 * worker's own TCP socket (px_state.tcp_out) or a UDP listener. */
static inline const struct px_listen *px_via_listen(const struct px_ctx *c)
{
    if (c->ps->has_tcp_out && c->tx->sock >= c->ps->tcp_out_first)
        return &c->ps->tcp_out[c->tx->sock == c->ps->tcp_out_sock[1]];
    return &c->cfg->listen[c->tx->sock];
}

/* The listener a Record-Route or Path names: a UDP listener, never the worker's own port
 * (a dialog outlives it: it changes at each start). */
static inline const struct px_listen *px_rr_listen(const struct px_ctx *c)
{
    int s = c->tx->sock;
    if (s >= c->cfg->nudp) /* a worker's own socket: the UDP listener of its family */
        s = c->ps->has_tcp_out ? c->ps->tcp_out_udp[s == c->ps->tcp_out_sock[1]] : 0;
    return &c->cfg->listen[s];
}

/* px_tcp.c: the connection a response's top Via (ours) names (PX_VTC): true with *conn and
 * *wk set (*conn 0: none, the request came as a datagram), false for a token that is not
 * ours (counted: drop it). Read before the tag is checked, which covers it (px_via_tag). */
bool px_vtc_read(struct px_ctx *c, const struct sip_via *top, uint64_t *conn, unsigned *wk);
/* px_tcp.c: a verified response for connection conn of worker wk is sent on it (tx->conn)
 * if wk is this worker; false: drop it (counted). */
bool px_conn_of_via(struct px_ctx *c, uint64_t conn, unsigned wk);
/* px_tcp.c: the Via names the worker's own socket for TCP's requests. */
bool px_is_tcp_out(const struct px_ctx *c, const struct sip_via *v);

static inline int atoi_span(struct span s)
{
    int v = 0;
    for (size_t i = 0; i < s.len && i < 9; i++)
        v = v * 10 + (s.p[i] - '0');
    return v;
}

struct span px_src_ip(struct px_ctx *c);

/* Flow tokens (px_flow.c): writes "vdf-..." for address sa, checked with
 * the current key; reads one back into ss (false if user is not a token of
 * ours or its check fails under the current key and, before prev_until_ms,
 * the previous one). */
void px_flow_write(struct px_out *o, const struct sockaddr *sa, const struct px_cfg *cfg);
bool px_flow_read(struct span user, const struct px_cfg *cfg, int64_t now_ms,
                  struct sockaddr_storage *ss, socklen_t *len);
/* The tokens of a user part that is one token or two joined by '.': 1 or 2
 * with ss[] filled, 0 if it is not (every part must verify). */
int px_flow_tokens(struct span user, const struct px_cfg *cfg, int64_t now_ms,
                   struct sockaddr_storage ss[2], socklen_t len[2]);
/* Where a request through a Route of ours with that user part goes (RFC
 * 5626 §5.3): along the flow of a token that is not src, its source (true,
 * ss set). False when user holds no token of ours, or the request came
 * from the one flow it names or from neither of two: it leaves by the rest
 * of the route set, never back where it came from. */
bool px_flow_route(struct span user, const struct px_cfg *cfg, int64_t now_ms,
                   const struct sockaddr *src, struct sockaddr_storage *ss, socklen_t *len);
/* Record-Route with the flow (px_flow.c): for a dialog-forming request whose
 * add_rr is set, picks the flow (rr_flow: the client's it goes out to when
 * via_flow, else the source's when a client, else none) and, when the top
 * Record-Route is ours already, edits it to name both flows instead (ed gets
 * ED_RECORD_ROUTE, add_rr is cleared) or keeps it. px_out_record_route
 * writes <sip:[TOKEN[.OLD]@]HOST:PORT;lr> for the socket tx->sock. */
void px_record_route_flow(struct px_ctx *c, struct px_edits *ed, bool via_flow);
void px_out_record_route(struct px_out *o, struct px_ctx *c);

/* Security (px_policy.c). px_trusted: src is a backend's IP or in
 * security.trusted. px_dest_permitted: a destination a message names (a
 * Route, the Request-URI, a flow token, a response's Via) may be sent to:
 * exactly a configured backend, or else not link-local, and not loopback or
 * one of viaduct's listen addresses unless viaduct listens on loopback of
 * that family. px_via_tag: the 64-bit keyed tag of our Via over where the
 * response goes back to (dst), the branch of the Via below ours, the
 * Call-ID and the CSeq number, and for a request that came over TCP (conn
 * != 0) the connection our PX_VTC names, worker wk's handle conn: so a
 * response whose ;vtc= was changed fails the tag, and cannot be steered onto
 * another client's connection from the same IP. conn 0 leaves the tag of a
 * datagram's request as it always was. None allocates or locks. */
bool px_cidr_match(const struct px_cidr *c, const struct sockaddr *sa);
bool px_trusted(const struct px_cfg *cfg, const struct sockaddr *src);
bool px_dest_permitted(const struct px_cfg *cfg, const struct sockaddr *sa);
bool px_prev_valid(const struct px_cfg *cfg, int64_t now_ms);
uint64_t px_via_tag(const uint8_t key[PX_KEY_LEN], const struct sockaddr *dst, struct span branch,
                    struct span callid, uint32_t cseq, uint64_t conn, unsigned wk);
/* px_select_backend's failures: PX_ENOROUTE is a request no rule matched
 * when the default pool has no backends (a configuration that routes only
 * what its rules name): answered 404, as RFC 3261 §21.4.5 answers for a
 * domain the server does not handle, not 503, which invites a retry. */
enum { PX_ENOKEY = -1, PX_ENOBACKEND = -2, PX_ENOROUTE = -3 };

/* Picks the backend of a request that no Route directs (px_route.c): sets
 * tx->dst, and tx->dst2 for a CANCEL or ACK whose INVITE may be at either of
 * two backends. 0, PX_ENOKEY (the request lacks its key), PX_ENOROUTE or
 * PX_ENOBACKEND. */
int px_select_backend(struct px_ctx *c);

int px_pick_sock(const struct px_cfg *cfg, int rx_sock, int family);
/* Sets tx's destination to ip:port and picks the socket. False, with the
 * datagram counted as drop_to_self or drop_bad_destination, if it must not
 * be sent there. */
bool px_set_dest(struct px_ctx *c, struct span ip, int port);
/* The same for a destination a message names: also refused (counted
 * drop_forbidden_destination) unless px_dest_permitted. */
bool px_set_named_dest(struct px_ctx *c, struct span ip, int port);
/* The same checks for tx->dst already set. */
bool px_named_dest_ok(struct px_ctx *c);

/*
 * A next hop named by a hostname (px_route.c), RFC 3263 without NAPTR: its
 * address from the cache the DNS thread fills, never a lookup here. 1 with
 * tx->dst set and checked as any named destination is; 0 when dropped (not
 * cached yet: asked for and counted drop_name_pending, so the sender's
 * retransmission finds it; or a refused destination); -1 when it does not
 * resolve (counted drop_unresolvable), or is not cached yet and came over
 * TCP, which retransmits nothing: the caller answers 503.
 */
int px_hostname_hop(struct px_ctx *c, const struct sip_uri *hop);
void px_emit(struct px_out *o, const struct px_edit *e, void *ctx);
void px_via_edits(struct px_ctx *c, struct px_edits *ed);
void px_out_sent_by(struct px_out *o, const struct px_listen *l);
void px_out_hostport(struct px_out *o, const struct px_listen *l);

/* Edge protection (px_guard.c). */
/* False if the listener's allow/deny lists refuse the source (before parsing). */
bool px_acl_pass(const struct px_listen *l, const struct sockaddr *sa);
/* What becomes of a datagram px_acl_pass refused: dropped (drop_acl), or with the
 * listener's acl_403 a request is parsed to be answered 403 (acl_answered). */
void px_acl_refuse(struct px_ctx *c);
/* px_trusted (px_policy.c) of the datagram's source, asked once per datagram. */
bool px_src_trusted(struct px_ctx *c);
/* User-Agent block, rate limit, overload shedding of a parsed request; false
 * if it was dropped or answered (counted). */
bool px_admit_request(struct px_ctx *c);
/* Charges a local answer of len bytes to its destination's budget (which
 * earns the request's bytes first); false, counted, if it may not go. */
bool px_answer_budget(struct px_ctx *c, size_t len);

/* Local answers (px_reply.c). Each returns 0, so callers can tail-call. */
int px_reply(struct px_ctx *c, enum st_local code, int err);  /* info->via1 must be parsed */
int px_reject(struct px_ctx *c, enum st_local code, int err); /* broken or oversized request */
int px_drop_ack(struct px_ctx *c);                  /* ACKs are never answered */
bool px_stun(struct px_ctx *c);                     /* true if it was STUN (answered or dropped) */

#endif
