/*
 * stream.c - TCP connections on the io_uring engine (net.h has the contract; ring.h how
 * uring.c drives this file). Knows nothing of SIP: it hands bytes up and sends bytes down.
 *
 * A connection is one slot of a table allocated when the engine starts, and one allocation
 * made at accept: buf (buf_size, what has been received and not consumed) followed by wbuf
 * (wbuf_size, what the kernel has not taken yet). The memory per connection is therefore
 * sizeof(struct ns_conn) in the table plus buf_size + wbuf_size from accept to close; nothing
 * is allocated per message.
 *
 * Ownership. buf belongs to the kernel while a CRECV is on the ring (it receives into
 * buf + len, never below), else to this file and, during on_data, to the handler. wbuf's
 * first wsent bytes belong to the CSEND on the ring; bytes are only appended behind them.
 * A connection being closed keeps its slot (CLOSING) until every request of it has
 * completed: shutdown() ends a pending recv or send at once, and a cancel backs that up.
 * Only then are the fd closed, the buffers freed and the generation moved on, so a request
 * can never land in memory that was given to another connection.
 *
 * Writes are tried at once with a plain sendmsg (MSG_DONTWAIT): nearly always the kernel
 * takes the whole message and nothing is copied; what it does not take waits in wbuf and
 * goes out by a CSEND as the peer reads. A peer that reads nothing fills wbuf and is closed.
 */
#include "net/ring.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

enum { CS_FREE = 0, CS_OPEN, CS_CLOSING };

#define NS_TICK_MS 50 /* how often the timeouts are looked at: their resolution */
/* After accept failed for want of a descriptor (EMFILE, ENFILE) or of kernel memory, the
 * multishot accept has ended: armed again at once it would fail at once, every loop pass,
 * and the worker would spin. It waits this long instead; the connections wait in the
 * backlog meanwhile. */
#define NS_ACCEPT_PAUSE_MS 100
#define NS_BUF_MIN 64u
#define NS_BUF_MAX (16u << 20)

struct ns_conn {
    int fd;
    uint32_t gen;  /* part of the handle; moves on at close */
    uint8_t state; /* CS_* */
    bool recv_on;  /* a CRECV on the ring */
    bool send_on;  /* a CSEND on the ring */
    uint8_t end;   /* the NET_EV_CONN_END_* reported when it is gone; 0 at stop */
    uint16_t listener;
    uint32_t len;       /* bytes in buf */
    uint32_t wlen;      /* bytes in wbuf */
    uint32_t wsent;     /* of them, given to the CSEND on the ring */
    char *buf;          /* buf_size, then wbuf_size */
    int64_t rx_ms;      /* when the last byte arrived */
    int64_t partial_ms; /* since when bytes wait without a call consuming any; 0: none wait */
    struct sockaddr_storage peer;
    socklen_t peerlen;
};

struct net_stream {
    const struct net_stream_cfg *cfg;
    const struct net_engine_cfg *ecfg;
    struct io_uring *u;
    struct ns_conn *c; /* [max_conns] */
    uint32_t *free;    /* stack of free slots */
    unsigned nfree;
    uint32_t armed; /* per listener: its multishot accept is on the ring */
    unsigned ops;   /* requests on the ring: accepts, recvs, sends */
    int64_t accept_after_ms; /* no accept is armed before then (NS_ACCEPT_PAUSE_MS) */
    int64_t tick_ms;
    bool stopping;
};

static int64_t ns_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A slot's first generation: random, so a handle cannot be guessed from the slot alone (a
 * response's token must still pass the Via tag, which covers it: this is the second line).
 * Never 0: a zeroed handle names nothing. */
static uint32_t ns_gen_start(uint64_t seed, unsigned slot)
{
    uint64_t z = seed + (uint64_t)(slot + 1) * 0x9e3779b97f4a7c15ull; /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    uint32_t g = (uint32_t)(z ^ (z >> 31));
    return g != 0 ? g : 1;
}

static uint64_t ns_handle(const struct net_stream *s, const struct ns_conn *c)
{
    return (uint64_t)c->gen << 32 | (uint64_t)(c - s->c);
}

/* The open connection a handle names, or NULL. */
static struct ns_conn *ns_find(struct net_stream *s, uint64_t h)
{
    uint32_t slot = (uint32_t)h;
    if (slot >= s->cfg->max_conns)
        return NULL;
    struct ns_conn *c = &s->c[slot];
    return c->state == CS_OPEN && c->gen == (uint32_t)(h >> 32) ? c : NULL;
}

static char *ns_wbuf(const struct net_stream *s, struct ns_conn *c)
{
    return c->buf + s->cfg->buf_size;
}

int ns_open(const struct net_stream_cfg *cfg, const struct net_engine_cfg *ecfg, struct io_uring *u,
            struct net_stream **out)
{
    if (cfg->lfds == NULL || cfg->nlfds < 1 || cfg->nlfds > NET_MAX_SOCKS || cfg->on_data == NULL ||
        cfg->max_conns < 1 || cfg->max_conns > NET_MAX_CONNS || cfg->buf_size < NS_BUF_MIN ||
        cfg->buf_size > NS_BUF_MAX || cfg->wbuf_size < NS_BUF_MIN || cfg->wbuf_size > NS_BUF_MAX)
        return -EINVAL;
    for (int i = 0; i < cfg->nlfds; i++)
        if (cfg->lfds[i] < 0)
            return -EINVAL;
    struct net_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->c = calloc(cfg->max_conns, sizeof(*s->c));
    s->free = calloc(cfg->max_conns, sizeof(*s->free));
    if (s->c == NULL || s->free == NULL) {
        free(s->c);
        free(s->free);
        free(s);
        return -ENOMEM;
    }
    s->cfg = cfg;
    s->ecfg = ecfg;
    s->u = u;
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
        seed = (uint64_t)ns_now_ms() * 0x2545f4914f6cdd1dull ^ (uint64_t)(uintptr_t)s;
    for (unsigned i = 0; i < cfg->max_conns; i++) {
        s->c[i].fd = -1;
        s->c[i].gen = ns_gen_start(seed, i);
        s->free[i] = cfg->max_conns - 1 - i;
    }
    s->nfree = cfg->max_conns;
    *out = s;
    return 0;
}

void ns_arm(struct net_stream *s)
{
    uint32_t all = (1u << s->cfg->nlfds) - 1;
    if ((all & ~s->armed) == 0 || (s->accept_after_ms != 0 && ns_now_ms() < s->accept_after_ms))
        return;
    s->accept_after_ms = 0;
    for (uint32_t m = all & ~s->armed; m != 0 && !s->stopping; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctz(m);
        struct io_uring_sqe *sqe = ring_get_sqe(s->u);
        if (sqe == NULL)
            return;
        io_uring_prep_multishot_accept(sqe, s->cfg->lfds[i], NULL, NULL,
                                       SOCK_NONBLOCK | SOCK_CLOEXEC);
        io_uring_sqe_set_data64(sqe, ring_ud_pack(RING_OP_ACCEPT, i));
        s->armed |= 1u << i;
        s->ops++;
    }
}

/* The slot is given back once no request of it is on the ring. */
static void ns_finish(struct net_stream *s, struct ns_conn *c)
{
    if (c->state != CS_CLOSING || c->recv_on || c->send_on)
        return;
    close(c->fd);
    free(c->buf);
    if (c->end != 0)
        net_event_to(s->ecfg, c->end, (const struct sockaddr *)&c->peer);
    *c = (struct ns_conn){.fd = -1, .gen = c->gen + 1 != 0 ? c->gen + 1 : 1};
    s->free[s->nfree++] = (uint32_t)(c - s->c);
}

static void ns_cancel(struct net_stream *s, enum ring_op op, unsigned slot)
{
    struct io_uring_sqe *sqe = ring_get_sqe(s->u);
    if (sqe == NULL)
        return; /* the shutdown ends the request anyway */
    io_uring_prep_cancel64(sqe, ring_ud_pack(op, slot), 0);
    io_uring_sqe_set_data64(sqe, ring_ud_pack(RING_OP_CANCEL, slot));
}

static void ns_close(struct net_stream *s, struct ns_conn *c, int why)
{
    if (c->state != CS_OPEN)
        return;
    c->state = CS_CLOSING;
    c->end = s->stopping ? 0 : (uint8_t)why;
    shutdown(c->fd, SHUT_RDWR);
    unsigned slot = (unsigned)(c - s->c);
    if (c->recv_on)
        ns_cancel(s, RING_OP_CRECV, slot);
    if (c->send_on)
        ns_cancel(s, RING_OP_CSEND, slot);
    ns_finish(s, c);
}

static void ns_arm_recv(struct net_stream *s, struct ns_conn *c)
{
    struct io_uring_sqe *sqe = ring_get_sqe(s->u);
    if (sqe == NULL) {
        ns_close(s, c, NET_EV_CONN_END_PEER);
        return;
    }
    io_uring_prep_recv(sqe, c->fd, c->buf + c->len, s->cfg->buf_size - c->len, 0);
    io_uring_sqe_set_data64(sqe, ring_ud_pack(RING_OP_CRECV, (unsigned)(c - s->c)));
    c->recv_on = true;
    s->ops++;
}

static void ns_arm_send(struct net_stream *s, struct ns_conn *c)
{
    struct io_uring_sqe *sqe = ring_get_sqe(s->u);
    if (sqe == NULL) {
        ns_close(s, c, NET_EV_CONN_END_WRITE);
        return;
    }
    io_uring_prep_send(sqe, c->fd, ns_wbuf(s, c), c->wlen, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ring_ud_pack(RING_OP_CSEND, (unsigned)(c - s->c)));
    c->wsent = c->wlen;
    c->send_on = true;
    s->ops++;
}

/* How many open connections come from peer's address: a walk over the table at accept,
 * which a table of a few thousand slots makes a few microseconds. */
static unsigned ns_from(const struct net_stream *s, const struct sockaddr *peer)
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->cfg->max_conns; i++)
        n += s->c[i].state == CS_OPEN &&
             net_addr_same_ip((const struct sockaddr *)&s->c[i].peer, peer);
    return n;
}

static void ns_accept(struct net_stream *s, int fd, unsigned listener)
{
    const struct net_stream_cfg *cfg = s->cfg;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0) {
        close(fd); /* gone already */
        return;
    }
    const struct sockaddr *pa = (const struct sockaddr *)&peer;
    if (cfg->admit != NULL && !cfg->admit(s->ecfg->ctx, (int)listener, pa)) {
        close(fd);
        net_event_to(s->ecfg, NET_EV_CONN_REFUSED_ACL, pa);
        return;
    }
    if (s->nfree == 0) {
        close(fd);
        net_event_to(s->ecfg, NET_EV_CONN_REFUSED, pa);
        return;
    }
    if (cfg->max_per_source > 0 && ns_from(s, pa) >= cfg->max_per_source) {
        close(fd);
        net_event_to(s->ecfg, NET_EV_CONN_REFUSED_SRC, pa);
        return;
    }
    char *buf = malloc((size_t)cfg->buf_size + cfg->wbuf_size);
    if (buf == NULL) {
        close(fd);
        net_event_to(s->ecfg, NET_EV_CONN_REFUSED, pa);
        return;
    }
    /* SIP writes whole messages: Nagle would only hold back the second of two */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct ns_conn *c = &s->c[s->free[--s->nfree]];
    uint32_t gen = c->gen;
    *c = (struct ns_conn){.fd = fd,
                          .gen = gen,
                          .state = CS_OPEN,
                          .listener = (uint16_t)listener,
                          .buf = buf,
                          .rx_ms = ns_now_ms(),
                          .peerlen = plen};
    memcpy(&c->peer, &peer, plen);
    net_event_to(s->ecfg, NET_EV_CONN_OPEN, pa);
    ns_arm_recv(s, c);
}

void ns_on_accept(struct net_stream *s, const struct io_uring_cqe *cqe, unsigned listener)
{
    if (listener >= (unsigned)s->cfg->nlfds)
        return;
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        s->armed &= ~(1u << listener); /* ns_arm arms it again */
        s->ops--;
    }
    if (cqe->res < 0) {
        /* the connection waits in the backlog */
        if (s->stopping || cqe->res == -ECANCELED)
            return;
        if (cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOMEM ||
            cqe->res == -ENOBUFS) {
            s->accept_after_ms = ns_now_ms() + NS_ACCEPT_PAUSE_MS;
            net_event(s->ecfg, NET_EV_ACCEPT_PAUSED);
        } else {
            net_event(s->ecfg, NET_EV_RX_ERROR);
        }
        return;
    }
    if (s->stopping) {
        close(cqe->res);
        return;
    }
    ns_accept(s, cqe->res, listener);
}

void ns_on_recv(struct net_stream *s, const struct io_uring_cqe *cqe, unsigned slot)
{
    if (slot >= s->cfg->max_conns || !s->c[slot].recv_on)
        return;
    struct ns_conn *c = &s->c[slot];
    s->ops--;
    if (c->state != CS_OPEN || cqe->res <= 0) {
        c->recv_on = false;
        /* 0: the peer closed; < 0: reset, or another error */
        ns_close(s, c, NET_EV_CONN_END_PEER);
        ns_finish(s, c);
        return;
    }
    int64_t now = ns_now_ms();
    c->len += (uint32_t)cqe->res;
    c->rx_ms = now;
    struct net_conn_rx rx = {
        .conn = ns_handle(s, c),
        .buf = c->buf,
        .len = c->len,
        .peer = (const struct sockaddr *)&c->peer,
        .peerlen = c->peerlen,
        .listener = c->listener,
        .stream = s,
    };
    /* recv_on stays set during the call, so a close from inside it (net_conn_close, a
     * failed net_conn_send) cannot free the buffer the handler is reading */
    long used = s->cfg->on_data(s->ecfg->ctx, &rx);
    c->recv_on = false;
    if (c->state != CS_OPEN) {
        ns_finish(s, c);
        return;
    }
    if (used < 0 || (size_t)used > c->len) {
        ns_close(s, c, NET_EV_CONN_END_HANDLER);
        return;
    }
    if (used > 0) {
        c->len -= (uint32_t)used;
        memmove(c->buf, c->buf + used, c->len);
        c->partial_ms = c->len > 0 ? now : 0;
    } else if (c->partial_ms == 0) {
        c->partial_ms = now;
    }
    if (c->len == s->cfg->buf_size) {
        ns_close(s, c, NET_EV_CONN_END_FULL);
        return;
    }
    ns_arm_recv(s, c);
}

void ns_on_send(struct net_stream *s, const struct io_uring_cqe *cqe, unsigned slot)
{
    if (slot >= s->cfg->max_conns || !s->c[slot].send_on)
        return;
    struct ns_conn *c = &s->c[slot];
    c->send_on = false;
    s->ops--;
    if (c->state != CS_OPEN) {
        ns_finish(s, c);
        return;
    }
    if (cqe->res < 0) {
        ns_close(s, c, NET_EV_CONN_END_PEER);
        return;
    }
    uint32_t n = (uint32_t)cqe->res;
    if (n > c->wsent)
        n = c->wsent;
    char *w = ns_wbuf(s, c);
    c->wlen -= n;
    memmove(w, w + n, c->wlen);
    if (c->wlen > 0)
        ns_arm_send(s, c);
}

int net_conn_send(struct net_stream *s, uint64_t conn, const struct iovec *iov, int niov)
{
    struct ns_conn *c = s == NULL ? NULL : ns_find(s, conn);
    if (c == NULL)
        return -ENOTCONN;
    size_t total = 0;
    for (int i = 0; i < niov; i++)
        total += iov[i].iov_len;
    size_t sent = 0;
    if (c->wlen == 0) { /* nothing waits: the kernel may take it all at once */
        struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)niov};
        ssize_t n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            ns_close(s, c, NET_EV_CONN_END_PEER);
            return -EPIPE;
        }
        sent = n < 0 ? 0 : (size_t)n;
        if (sent == total)
            return 0;
    }
    if (c->wlen + (total - sent) > s->cfg->wbuf_size) {
        ns_close(s, c, NET_EV_CONN_END_WRITE);
        return -ENOBUFS;
    }
    char *w = ns_wbuf(s, c) + c->wlen;
    for (int i = 0; i < niov; i++) { /* what the kernel did not take, from byte sent on */
        size_t l = iov[i].iov_len;
        if (sent >= l) {
            sent -= l;
            continue;
        }
        memcpy(w, (const char *)iov[i].iov_base + sent, l - sent);
        w += l - sent;
        c->wlen += (uint32_t)(l - sent);
        sent = 0;
    }
    if (!c->send_on)
        ns_arm_send(s, c);
    return 0;
}

int ns_send_tx(struct net_stream *s, const struct net_tx *tx)
{
    struct ns_conn *c = s == NULL ? NULL : ns_find(s, tx->conn);
    /* the address only: a response on a stream goes back on the connection, whatever port
     * its Via names (RFC 3261 18.2.2) */
    if (c == NULL || (tx->dstlen > 0 && !net_addr_same_ip((const struct sockaddr *)&tx->dst,
                                                          (const struct sockaddr *)&c->peer)))
        return -ENOTCONN;
    return net_conn_send(s, tx->conn, tx->iov, tx->niov);
}

int net_send_now(struct net_stream *s, const struct net_tx *tx)
{
    const struct net_engine_cfg *ecfg = s->ecfg;
    int err = 0;
    if (tx->niov == 0)
        return 0;
    if (tx->conn != 0) {
        err = ns_send_tx(s, tx);
    } else if ((err = net_tx_check(ecfg, tx)) == 0) {
        struct msghdr mh = {.msg_name = (void *)&tx->dst,
                            .msg_namelen = tx->dstlen,
                            .msg_iov = (struct iovec *)tx->iov,
                            .msg_iovlen = (size_t)tx->niov};
        if (sendmsg(ecfg->fds[tx->sock], &mh, MSG_DONTWAIT) < 0)
            err = -errno;
        if (err == 0 && tx->dst2len > 0 && tx->dst2len <= sizeof(tx->dst2)) {
            mh.msg_name = (void *)&tx->dst2;
            mh.msg_namelen = tx->dst2len;
            if (sendmsg(ecfg->fds[tx->sock], &mh, MSG_DONTWAIT) < 0)
                err = -errno;
        }
    }
    if (err != 0)
        net_send_error(ecfg, tx, err);
    return err;
}

int net_conn_close(struct net_stream *s, uint64_t conn)
{
    struct ns_conn *c = s == NULL ? NULL : ns_find(s, conn);
    if (c == NULL)
        return -ENOTCONN;
    ns_close(s, c, NET_EV_CONN_END_HANDLER);
    return 0;
}

void ns_tick(struct net_stream *s)
{
    int64_t now = ns_now_ms();
    if (now - s->tick_ms < NS_TICK_MS)
        return;
    s->tick_ms = now;
    const struct net_stream_cfg *cfg = s->cfg;
    for (unsigned i = 0; i < cfg->max_conns; i++) {
        struct ns_conn *c = &s->c[i];
        if (c->state != CS_OPEN)
            continue;
        if (cfg->idle_ms > 0 && now - c->rx_ms >= cfg->idle_ms)
            ns_close(s, c, NET_EV_CONN_END_IDLE);
        else if (cfg->partial_ms > 0 && c->partial_ms != 0 &&
                 now - c->partial_ms >= cfg->partial_ms)
            ns_close(s, c, NET_EV_CONN_END_SLOW);
    }
}

void ns_stop(struct net_stream *s)
{
    s->stopping = true;
    for (unsigned i = 0; i < s->cfg->max_conns; i++)
        ns_close(s, &s->c[i], 0);
}

bool ns_busy(const struct net_stream *s)
{
    return s->ops > 0;
}

void ns_free(struct net_stream *s)
{
    if (s == NULL)
        return;
    for (unsigned i = 0; i < s->cfg->max_conns; i++) {
        if (s->c[i].state != CS_FREE) {
            close(s->c[i].fd);
            free(s->c[i].buf);
        }
    }
    free(s->c);
    free(s->free);
    free(s);
}
