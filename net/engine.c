/*
 * engine.c - checks and the error-queue drain shared by the io_uring and the
 * recvmmsg engines (see engine.h for why the error queue must be drained).
 */
#include "net/engine.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <string.h>

int net_cfg_check(const struct net_engine_cfg *cfg)
{
    if (cfg == NULL || cfg->fds == NULL || cfg->handler == NULL || cfg->stop == NULL)
        return -EINVAL;
    if (cfg->nfds < 1 || cfg->nfds > NET_MAX_SOCKS)
        return -EINVAL;
    if (cfg->buf_size == 0 || cfg->buf_size > NET_BUF_MAX)
        return -EINVAL;
    if (cfg->batch == 0 || cfg->nbufs < cfg->batch || cfg->nbufs > NET_NBUFS_MAX)
        return -EINVAL;
    if ((cfg->nbufs & (cfg->nbufs - 1)) != 0)
        return -EINVAL;
    for (int i = 0; i < cfg->nfds; i++)
        if (cfg->fds[i] < 0)
            return -EINVAL;
    return 0;
}

int net_tx_check(const struct net_engine_cfg *cfg, const struct net_tx *tx)
{
    if (tx->niov < 0 || tx->niov > NET_MAX_IOV)
        return -EINVAL;
    if (tx->sock < 0 || tx->sock >= cfg->nfds)
        return -EINVAL;
    if (tx->dstlen == 0 || tx->dstlen > sizeof(tx->dst))
        return -EINVAL;
    return 0;
}

/* Finds the extended error of one MSG_ERRQUEUE message (IPv4 or IPv6). */
static const struct sock_extended_err *errq_find(struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
        if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
            (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR))
            return (const struct sock_extended_err *)CMSG_DATA(c);
    }
    return NULL;
}

int net_errq_drain(const struct net_engine_cfg *cfg, int sock)
{
    /* Room for the extended error, the offender address and the other
     * control messages the kernel may add; the payload (our original
     * datagram) is not needed, so MSG_TRUNC it away. */
    union {
        char buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6)) +
                 CMSG_SPACE(64)];
        struct cmsghdr align;
    } ctl;
    struct sockaddr_storage dst;
    char payload[1];
    int n = 0;

    while (n < NET_ERRQ_MAX) {
        struct iovec iov = {.iov_base = payload, .iov_len = sizeof(payload)};
        struct msghdr mh = {
            .msg_name = &dst,
            .msg_namelen = sizeof(dst),
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = ctl.buf,
            .msg_controllen = sizeof(ctl.buf),
        };
        ssize_t r = recvmsg(cfg->fds[sock], &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break; /* EAGAIN: empty */
        }
        n++;
        const struct sock_extended_err *ee = errq_find(&mh);
        if (ee == NULL || ee->ee_errno == 0 || cfg->on_icmp == NULL)
            continue;
        struct net_icmp e = {
            .sock = sock,
            .err = -(int)ee->ee_errno,
            .remote = ee->ee_origin == SO_EE_ORIGIN_ICMP || ee->ee_origin == SO_EE_ORIGIN_ICMP6,
            .type = ee->ee_type,
            .code = ee->ee_code,
            .dst = (const struct sockaddr *)&dst,
            .dstlen = mh.msg_namelen,
        };
        cfg->on_icmp(cfg->ctx, &e);
    }
    if (n == 0) {
        /* POLLERR with an empty queue: only the socket's pending error is
         * set (its queue entry was dropped, the queue being full). Reading
         * SO_ERROR clears it, else poll() would report POLLERR forever. */
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(cfg->fds[sock], SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
            net_event(cfg, NET_EV_RX_ERROR);
    }
    return n;
}
