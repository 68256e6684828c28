/*
 * ring.h - what the io_uring engine (uring.c) and its TCP connections (stream.c) share;
 * private to net/. One user_data encoding for every request on the ring, and the calls
 * by which the engine's loop drives the connections.
 */
#ifndef VIADUCT_NET_RING_H
#define VIADUCT_NET_RING_H

#include "net/engine.h"

#include <liburing.h>

/* user_data: which operation completed, on what. Decoded only in ring_handle_cqe. 0 is
 * never used, so a zeroed CQE cannot look valid. */
enum ring_op {
    RING_OP_RECV = 1, /* idx = socket: the multishot recvmsg */
    RING_OP_ERRQ,     /* idx = socket: multishot poll for POLLERR */
    RING_OP_SEND,     /* idx = buffer id */
    RING_OP_SEND2,    /* idx = buffer id: the same bytes to tx->dst2 */
    RING_OP_CANCEL,   /* the cancel-all at stop, and a connection's cancels */
    RING_OP_ACCEPT,   /* idx = listener: multishot accept */
    RING_OP_CRECV,    /* idx = connection slot: recv into its buffer */
    RING_OP_CSEND,    /* idx = connection slot: send of its waiting bytes */
    RING_OP_COUNT
};

struct ring_ud {
    enum ring_op op;
    unsigned idx;
};

static inline uint64_t ring_ud_pack(enum ring_op op, unsigned idx)
{
    return (uint64_t)op << 32 | idx;
}

static inline struct ring_ud ring_ud_unpack(uint64_t v)
{
    return (struct ring_ud){.op = (enum ring_op)(v >> 32), .idx = (unsigned)v};
}

/* An SQE, or NULL; submits once to make room, as liburing's examples do. */
static inline struct io_uring_sqe *ring_get_sqe(struct io_uring *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(u);
    if (sqe == NULL) {
        io_uring_submit(u);
        sqe = io_uring_get_sqe(u);
    }
    return sqe;
}

/* ---- stream.c, driven by the engine's loop ---- */

/* Checks cfg (-EINVAL) and allocates the connection table for the engine's ring u, with
 * ctx and on_event taken from the engine's config. 0 or -errno. */
int ns_open(const struct net_stream_cfg *cfg, const struct net_engine_cfg *ecfg, struct io_uring *u,
            struct net_stream **out);
/* Arms a multishot accept on each listener that lacks one. */
void ns_arm(struct net_stream *s);
void ns_on_accept(struct net_stream *s, const struct io_uring_cqe *cqe, unsigned listener);
void ns_on_recv(struct net_stream *s, const struct io_uring_cqe *cqe, unsigned slot);
void ns_on_send(struct net_stream *s, const struct io_uring_cqe *cqe, unsigned slot);
/* Closes connections past their idle or partial-message time; cheap when called often. */
void ns_tick(struct net_stream *s);
/* tx onto connection tx->conn (net_conn_send), only if that connection's peer has tx->dst's
 * address when tx names one: a forged handle must not reach another host. 0 or -errno. */
int ns_send_tx(struct net_stream *s, const struct net_tx *tx);
/* At stop: closes every connection. */
void ns_stop(struct net_stream *s);
/* True while a request of a connection or a listener is on the ring. */
bool ns_busy(const struct net_stream *s);
/* Closes what is still open and frees the table; after the ring has no request left. */
void ns_free(struct net_stream *s);

#endif
