/*
 * vb_relay.h - the null relay: the cheapest possible forwarder, as a bound
 * for what any UDP forwarder can do on this machine. It forwards every
 * datagram that reaches its listening socket to one backend, from a second
 * socket, without reading a byte of it; every datagram that comes back on
 * that second socket goes to the client that sent last.
 *
 * "The client that sent last" is the whole of its routing state: the load
 * generator is one process, and it matches responses by branch on any of its
 * sockets, so a response reaching another of its sockets still counts. With
 * several --backend only the first is used (the relay must not look at a
 * Call-ID to keep affinity). It runs on viaduct's own packet engines
 * (net/net.h: recvmmsg/sendmmsg, or io_uring with --io uring), so the gap
 * between it and viaduct is exactly viaduct's per-message work.
 */
#ifndef VIADUCT_VB_RELAY_H
#define VIADUCT_VB_RELAY_H

#include <stdint.h>
#include <sys/socket.h>

#include "net/net.h"

struct vb_relay {
    struct sockaddr_storage backend;
    socklen_t backend_len;
    struct sockaddr_storage client; /* the last source seen on the listening socket */
    socklen_t client_len;           /* 0: none yet */
    /* written by the engine thread only; SIGUSR1 reads them racily (aligned
     * words: a count may be a batch stale) */
    uint64_t to_backend, to_client, no_client, truncated;
};

/*
 * The engine handler: rx on socket 0 (listening) goes to the backend from
 * socket 1; rx on socket 1 goes to the last client from socket 0. Zero copy:
 * the one iovec points at rx->buf.
 */
void vb_relay_handle(void *ctx, const struct net_rx *rx, struct net_tx *tx);

/* `viaduct-bench relay`. Returns the exit status. */
int vb_relay_main(int argc, char **argv);

#endif
