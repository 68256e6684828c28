/*
 * worker_tcp.c - a worker's TCP listeners and what arrives on their connections: where
 * parser/ (the stream framer) and net/ (the connections) meet for TCP, as worker.c joins
 * them for datagrams.
 *
 * net/stream.c hands up every byte of a connection not consumed yet; here sip_frame() cuts
 * them into messages, each of which goes through px_handle() in place, exactly as a datagram
 * does, with its net_rx naming the TCP listener (px_cfg.listen[nudp + k]) and the connection.
 * What px_handle() asks to send goes out before the bytes are consumed (net_send_now): a
 * local answer onto the client's connection (px_reply sets tx->conn), a request to a
 * backend as a datagram from the worker's own UDP socket of the backend's family. The framer's
 * state is kept per connection slot, with the generation it belongs to, so a message trickled in
 * byte by byte is scanned once, and a slot taken over by a new connection starts afresh. A stream
 * that cannot be framed (no Content-Length, a bad one, a message over max_message) is answered 400
 * (513) where its header block is whole, and closed: its next message could not be found.
 */
#include "core/worker.h"

#include "core/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The worker's own UDP socket of one family for the requests that come over TCP (px.h:
 * tcp_out), an engine socket after the shared ones: on UDP listener li's address, port
 * chosen by the kernel, no SO_REUSEPORT, so whatever comes to it comes to this worker. */
static int open_tcp_out(struct wk *w, const struct px_cfg *cfg, int li, char *err, size_t errlen)
{
    const struct px_listen *l = &cfg->listen[li];
    int k = l->addr.ss_family == AF_INET6;
    struct sockaddr_storage ss = l->addr;
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
    if (w->nfds >= NET_MAX_SOCKS) {
        snprintf(err, errlen, "%d UDP listeners and TCP: one socket too many", cfg->nudp);
        return -EMFILE;
    }
    int fd = net_udp_open((const struct sockaddr *)&ss, l->addrlen, false, 4 << 20, 4 << 20);
    socklen_t sl = sizeof(ss);
    if (fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        int e = errno; /* close() may change errno */
        close(fd);
        fd = -e;
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the worker's UDP socket for TCP: %s", strerror(-fd));
        return fd;
    }
    w->ps.tcp_out[k] = *l;
    w->ps.tcp_out[k].addr = ss;
    w->ps.tcp_out[k].port = net_addr_port((const struct sockaddr *)&ss);
    w->ps.tcp_out_sock[k] = w->nfds;
    w->ps.tcp_out_udp[k] = li;
    w->fds[w->nfds++] = fd;
    return 0;
}

int wk_tcp_open(struct wk *w, const struct px_cfg *cfg, char *err, size_t errlen)
{
    w->nlfds = 0;
    for (int i = cfg->nudp; i < cfg->nlisten; i++) {
        const struct px_listen *l = &cfg->listen[i];
        int fd = net_tcp_listen((const struct sockaddr *)&l->addr, l->addrlen, true, 1024);
        if (fd < 0) {
            char a[64];
            net_addr_format((const struct sockaddr *)&l->addr, a, sizeof(a));
            snprintf(err, errlen, "cannot listen on tcp:%s: %s", a, strerror(-fd));
            wk_tcp_close(w);
            return fd;
        }
        w->lfds[w->nlfds++] = fd;
    }
    w->ps.has_tcp_out = false;
    w->ps.tcp_out_sock[0] = w->ps.tcp_out_sock[1] = -1;
    w->ps.tcp_out_first = w->nfds;
    if (w->nlfds == 0)
        return 0;
    /* one per family a UDP listener has: a TCP client's request to a backend of either
     * family leaves from a socket only this worker receives on */
    static const int fams[2] = {AF_INET, AF_INET6};
    for (int k = 0; k < 2; k++) {
        int li = -1;
        for (int i = 0; i < cfg->nudp && li < 0; i++)
            if (cfg->listen[i].addr.ss_family == fams[k])
                li = i;
        int r = li < 0 ? 0 : open_tcp_out(w, cfg, li, err, errlen);
        if (r < 0) {
            for (int j = w->ps.tcp_out_first; j < w->nfds; j++)
                close(w->fds[j]);
            w->nfds = w->ps.tcp_out_first;
            w->ps.tcp_out_sock[0] = w->ps.tcp_out_sock[1] = -1;
            wk_tcp_close(w);
            return r;
        }
    }
    w->ps.has_tcp_out = true;
    return 0;
}

void wk_tcp_close(struct wk *w)
{
    for (int j = 0; j < w->nlfds; j++)
        close(w->lfds[j]);
    w->nlfds = 0;
    free(w->frames);
    w->frames = NULL;
}

/* What the framer knows of the connection in slot: reset when the slot has a new owner. */
static struct sip_frame *frame_of(struct wk *w, uint64_t conn)
{
    struct wk_frame *f = &w->frames[(uint32_t)conn];
    if (f->gen != (uint32_t)(conn >> 32)) {
        f->gen = (uint32_t)(conn >> 32);
        sip_frame_reset(&f->f);
    }
    return &f->f;
}

/* The framed bytes at used (after the CRLFs the framer skipped), len of them, as px sees
 * a datagram: from the connection's peer, on the listener's index after the UDP ones. */
static struct net_rx conn_rx(const struct px_cfg *cfg, const struct net_conn_rx *crx, size_t used,
                             const struct sip_frame *f, size_t len)
{
    return (struct net_rx){
        .buf = crx->buf + used + f->skip,
        .len = len,
        .src = crx->peer,
        .srclen = crx->peerlen,
        .sock = cfg->nudp + crx->listener,
        .stream = crx->stream,
        .conn = crx->conn,
    };
}

/* The 400 for a message that cannot be framed, before its connection is closed. */
static void answer_unframed(struct wk *w, const struct px_cfg *cfg, const struct net_conn_rx *crx,
                            size_t used, const struct sip_frame *f, int err)
{
    struct net_rx rx = conn_rx(cfg, crx, used, f, f->hdr_len);
    struct net_tx *tx = &w->ttx;
    tx->conn = 0;
    px_reject_unframed(cfg, &w->ps, &w->st, &rx, tx, w->now_ms, w->now_us, err);
    if (tx->niov > 0)
        net_send_now(crx->stream, tx);
}

static long on_conn_data(void *ctx, const struct net_conn_rx *crx)
{
    struct wk *w = ctx;
    const struct px_cfg *cfg = atomic_load_explicit(&w->pub->cfg, memory_order_acquire);
    const struct sip_frame_lim lim = {cfg->max_msg, cfg->max_msg};
    struct sip_frame *f = frame_of(w, crx->conn);
    size_t used = 0;
    w->now_ms = clk_coarse_ms();
    w->now_us = clk_real_us();
    for (;;) {
        int r = sip_frame(crx->buf + used, crx->len - used, &lim, f);
        if (r == SIP_FRAME_MORE)
            return (long)used;
        if (r < 0) {
            ST_INC(&w->st, tcp_closed_framing);
            ST_INC(&w->st, parse_error[-r]);
            if (f->hdr_len > 0) /* the header block is whole: it can be answered */
                answer_unframed(w, cfg, crx, used, f, r);
            return NET_CONN_CLOSE;
        }
        if (r == SIP_FRAME_PING) { /* RFC 5626 4.4.1: the pong is one CRLF */
            ST_INC(&w->st, tcp_pings);
            struct iovec pong = {(void *)"\r\n", 2};
            net_conn_send(crx->stream, crx->conn, &pong, 1);
        } else {
            ST_INC(&w->st, tcp_messages);
            struct net_rx rx = conn_rx(cfg, crx, used, f, f->msg_len);
            struct net_tx *tx = &w->ttx;
            tx->conn = 0;
            /* a local answer comes with tx->conn set (px_reply), a request for a backend
             * without: a datagram */
            px_handle(cfg, &w->ps, &w->st, &rx, tx, w->now_ms, w->now_us);
            if (tx->niov > 0)
                net_send_now(crx->stream, tx);
        }
        used += f->used;
        sip_frame_reset(f);
        if (used == crx->len)
            return (long)used;
    }
}

/* The listener's allow and deny lists at accept, before the connection costs a buffer: a
 * refused source gets no connection at all, not one whose every message is dropped. */
static bool admit_conn(void *ctx, int listener, const struct sockaddr *peer)
{
    struct wk *w = ctx;
    const struct px_cfg *cfg = atomic_load_explicit(&w->pub->cfg, memory_order_acquire);
    return px_listen_admits(cfg, cfg->nudp + listener, peer);
}

int wk_tcp_setup(struct wk *w, struct net_engine_cfg *ec)
{
    if (w->nlfds == 0)
        return 0;
    w->frames = calloc(w->tcp_lim.max_conns, sizeof(*w->frames));
    if (w->frames == NULL)
        return -ENOMEM;
    w->scfg = (struct net_stream_cfg){
        .lfds = w->lfds,
        .nlfds = w->nlfds,
        .max_conns = w->tcp_lim.max_conns,
        .max_per_source = w->tcp_lim.max_per_source,
        .buf_size = w->tcp_lim.buffer,
        .wbuf_size = w->tcp_lim.buffer,
        .idle_ms = w->tcp_lim.idle_ms,
        .partial_ms = w->tcp_lim.message_ms,
        .on_data = on_conn_data,
        .admit = admit_conn,
    };
    ec->stream = &w->scfg;
    return 0;
}

bool wk_tcp_event(struct wk *w, int ev)
{
    switch (ev) {
    case NET_EV_CONN_OPEN: ST_INC(&w->st, tcp_accepted); break;
    case NET_EV_CONN_REFUSED: ST_INC(&w->st, tcp_refused); break;
    case NET_EV_CONN_REFUSED_SRC: ST_INC(&w->st, tcp_refused_source); break;
    case NET_EV_CONN_REFUSED_ACL: ST_INC(&w->st, tcp_refused_acl); break;
    case NET_EV_ACCEPT_PAUSED: ST_INC(&w->st, tcp_accept_paused); break;
    case NET_EV_CONN_END_PEER: ST_INC(&w->st, tcp_closed_peer); break;
    case NET_EV_CONN_END_IDLE: ST_INC(&w->st, tcp_closed_idle); break;
    case NET_EV_CONN_END_SLOW: ST_INC(&w->st, tcp_closed_slow); break;
    case NET_EV_CONN_END_FULL: ST_INC(&w->st, tcp_closed_full); break;
    case NET_EV_CONN_END_WRITE: ST_INC(&w->st, tcp_closed_write); break;
    case NET_EV_CONN_END_HANDLER: break; /* counted where the handler decided it */
    default: return false;
    }
    return true;
}
