/*
 * engine.h - what the two engines (uring.c, mmsg.c) share; private to net/.
 *
 * Configuration checks, the reply check done after every handler call, and
 * the drain of a socket's error queue. The error queue is where IP_RECVERR
 * puts one entry per ICMP error (port unreachable, ...) naming the original
 * destination; it is charged to the socket's receive buffer and keeps the
 * socket reporting POLLERR, so an engine must empty it or, after a few
 * hundred errors, every datagram to that socket is dropped.
 */
#ifndef VIADUCT_NET_ENGINE_H
#define VIADUCT_NET_ENGINE_H

#include "net/net.h"

/* Checks what both engines need: fds, nfds in 1..NET_MAX_SOCKS, buf_size in
 * 1..NET_BUF_MAX, nbufs a power of two in batch..NET_NBUFS_MAX, batch >= 1,
 * handler and stop set. 0 or -EINVAL. */
int net_cfg_check(const struct net_engine_cfg *cfg);

#define NET_BUF_MAX 65535u   /* largest UDP payload */
#define NET_NBUFS_MAX 32768u /* buffer ids are 16 bits and rings a power of two */

/* 0 if the handler's reply can be sent, -EINVAL if niov or sock is out of
 * range or the destination is missing. Only called when tx->niov != 0. */
int net_tx_check(const struct net_engine_cfg *cfg, const struct net_tx *tx);

/* Reads socket cfg->fds[sock]'s error queue until it is empty (at most
 * NET_ERRQ_MAX entries per call; POLLERR stays up while more remain) and
 * reports each entry to cfg->on_icmp. Reading the queue to its end also
 * clears the socket's pending error, so fewer sends fail with it. If the
 * queue was empty, clears that pending error (SO_ERROR), counted as
 * NET_EV_RX_ERROR. Never blocks. Returns the entries read. */
int net_errq_drain(const struct net_engine_cfg *cfg, int sock);

#define NET_ERRQ_MAX 1024

/* on_event, if the caller set one. */
static inline void net_event_to(const struct net_engine_cfg *cfg, int ev,
                                const struct sockaddr *dst)
{
    if (cfg->on_event)
        cfg->on_event(cfg->ctx, ev, dst);
}

static inline void net_event(const struct net_engine_cfg *cfg, int ev)
{
    net_event_to(cfg, ev, NULL);
}

static inline void net_send_error(const struct net_engine_cfg *cfg, const struct net_tx *tx,
                                  int err)
{
    if (cfg->on_send_error)
        cfg->on_send_error(cfg->ctx, tx, err);
}

#endif
