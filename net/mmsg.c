/*
 * mmsg.c - the recvmmsg/sendmmsg engine, for hosts where io_uring is blocked
 * (Docker's default seccomp profile) or absent. Same contract as uring.c.
 *
 * One poll() over all sockets (100 ms timeout, so *stop is seen); for each
 * readable socket, recvmmsg a batch into batch buffers, call the handler per
 * datagram, then sendmmsg the replies grouped by sending socket before the
 * next recvmmsg reuses the buffers. POLLERR drains the socket's error queue.
 *
 * Buffer ownership: buffer i (and tx[i]) belongs to the kernel during
 * recvmmsg, to the handler during its call, to sendmmsg until the batch's
 * replies are all sent or reported, then to the next recvmmsg. Only batch of
 * the cfg->nbufs buffers are needed; nothing is allocated per datagram.
 */
#include "net/engine.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define MM_POLL_MS 100 /* the contract: *stop is noticed within about 100 ms */
/* Batches read from one socket per poll() wake: poll is a syscall per wake,
 * so reading on while batches come back full saves it, and the bound keeps a
 * flooded socket from starving the others (and *stop from being seen). */
#define MM_ROUNDS 8
/* How long a send waits for room in a full socket send buffer, once per
 * flush, before its datagrams are reported as -EAGAIN. */
#define MM_SEND_WAIT_MS 10
/* In sidx: this message is the tx's copy to dst2. */
#define MM_DST2 0x80000000u

struct mm {
    const struct net_engine_cfg *cfg;
    struct pollfd pfd[NET_MAX_SOCKS];
    char *bufs;                   /* batch * buf_size */
    struct sockaddr_storage *src; /* [batch] */
    struct iovec *riov;           /* [batch] */
    struct mmsghdr *rmsg;         /* [batch] */
    struct net_tx *tx;            /* [batch] */
    struct mmsghdr *smsg;         /* [2 * batch]: the replies of one sending socket */
    unsigned *sidx;               /* [2 * batch]: which tx each smsg is, | MM_DST2 */
    struct net_tx errtx;          /* reports a failed send to dst2 */
};

static void mm_free(struct mm *m)
{
    free(m->bufs);
    free(m->src);
    free(m->riov);
    free(m->rmsg);
    free(m->tx);
    free(m->smsg);
    free(m->sidx);
    free(m);
}

static struct mm *mm_new(const struct net_engine_cfg *cfg)
{
    struct mm *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    size_t b = cfg->batch;
    m->cfg = cfg;
    m->bufs = malloc(b * cfg->buf_size);
    m->src = calloc(b, sizeof(*m->src));
    m->riov = calloc(b, sizeof(*m->riov));
    m->rmsg = calloc(b, sizeof(*m->rmsg));
    m->tx = calloc(b, sizeof(*m->tx));
    m->smsg = calloc(2 * (size_t)b, sizeof(*m->smsg)); /* each reply may go to dst2 too */
    m->sidx = calloc(2 * (size_t)b, sizeof(*m->sidx));
    if (!m->bufs || !m->src || !m->riov || !m->rmsg || !m->tx || !m->smsg || !m->sidx) {
        mm_free(m);
        return NULL;
    }
    for (size_t i = 0; i < b; i++) {
        m->riov[i] =
            (struct iovec){.iov_base = m->bufs + i * cfg->buf_size, .iov_len = cfg->buf_size};
        m->rmsg[i].msg_hdr.msg_iov = &m->riov[i];
        m->rmsg[i].msg_hdr.msg_iovlen = 1;
        m->rmsg[i].msg_hdr.msg_name = &m->src[i];
    }
    for (int s = 0; s < cfg->nfds; s++)
        m->pfd[s] = (struct pollfd){.fd = cfg->fds[s], .events = POLLIN};
    return m;
}

/* Sends smsg[0..k) from socket sock. sendmmsg stops at the first message
 * that fails and returns how many went out, losing that message's error, so
 * the rest is sent again from there: a message that fails first in a call
 * is sent again if its error may be another datagram's ICMP error
 * (net_send_retryable, at most NET_SEND_RETRIES tries after its first),
 * else its error (-errno) is reported and it is skipped. */
static void mm_send(struct mm *m, int sock, unsigned k)
{
    const struct net_engine_cfg *cfg = m->cfg;
    bool waited = false;
    unsigned i = 0, tries = 0;

    while (i < k) {
        int r = sendmmsg(cfg->fds[sock], m->smsg + i, k - i, 0);
        if (r > 0) {
            /* short: message i + r failed, its error unsaid (sendmmsg keeps
             * an error only when nothing went out), so that was its first
             * try; the call from there says what it is */
            i += (unsigned)r;
            tries = i < k;
            if (tries) {
                net_event_to(cfg, NET_EV_TX_RETRIED, m->smsg[i].msg_hdr.msg_name);
                net_errq_drain(cfg, sock); /* clears a pending ICMP error (net.h) */
            }
            continue;
        }
        int err = r < 0 ? errno : EAGAIN;
        if (err == EINTR)
            continue;
        if ((err == EAGAIN || err == EWOULDBLOCK) && !waited) {
            struct pollfd p = {.fd = cfg->fds[sock], .events = POLLOUT};
            waited = true;
            if (poll(&p, 1, MM_SEND_WAIT_MS) > 0)
                continue;
        }
        if (net_send_retryable(-err) && tries < NET_SEND_RETRIES) {
            tries++;
            net_event_to(cfg, NET_EV_TX_RETRIED, m->smsg[i].msg_hdr.msg_name);
            /* reading the error queue clears the pending error, so the resend
             * right after it does not meet the next one */
            net_errq_drain(cfg, sock);
            continue;
        }
        const struct net_tx *tx = &m->tx[m->sidx[i] & ~MM_DST2];
        if (m->sidx[i] & MM_DST2) {
            /* report the address that failed */
            m->errtx.niov = 0;
            m->errtx.sock = tx->sock;
            m->errtx.dst = tx->dst2;
            m->errtx.dstlen = tx->dst2len;
            tx = &m->errtx;
        }
        net_send_error(cfg, tx, -err);
        i++;
        tries = 0;
    }
}

/* Sends the replies of tx[0..n), one sendmmsg run per sending socket. */
static void mm_flush(struct mm *m, unsigned n)
{
    const struct net_engine_cfg *cfg = m->cfg;
    uint32_t socks = 0;

    for (unsigned i = 0; i < n; i++) {
        struct net_tx *tx = &m->tx[i];
        if (tx->niov == 0)
            continue;
        int err = tx->conn != 0 ? -ENOTCONN : net_tx_check(cfg, tx); /* no TCP here */
        if (err != 0) {
            net_send_error(cfg, tx, err);
            tx->niov = 0;
            continue;
        }
        socks |= 1u << tx->sock;
    }
    while (socks != 0) {
        int s = __builtin_ctz(socks);
        unsigned k = 0;
        socks &= socks - 1;
        for (unsigned i = 0; i < n; i++) {
            struct net_tx *tx = &m->tx[i];
            if (tx->niov == 0 || tx->sock != s)
                continue;
            m->smsg[k].msg_hdr = (struct msghdr){
                .msg_name = &tx->dst,
                .msg_namelen = tx->dstlen,
                .msg_iov = tx->iov,
                .msg_iovlen = (size_t)tx->niov,
            };
            m->sidx[k++] = i;
            if (tx->dst2len > 0 && tx->dst2len <= sizeof(tx->dst2)) {
                m->smsg[k].msg_hdr = m->smsg[k - 1].msg_hdr;
                m->smsg[k].msg_hdr.msg_name = &tx->dst2;
                m->smsg[k].msg_hdr.msg_namelen = tx->dst2len;
                m->sidx[k++] = i | MM_DST2;
            }
        }
        mm_send(m, s, k);
    }
}

/* Reads, handles and answers up to MM_ROUNDS batches from socket sock. */
static void mm_recv(struct mm *m, int sock)
{
    const struct net_engine_cfg *cfg = m->cfg;

    for (int round = 0; round < MM_ROUNDS; round++) {
        for (unsigned i = 0; i < cfg->batch; i++)
            m->rmsg[i].msg_hdr.msg_namelen = sizeof(m->src[i]); /* in/out */
        int n = recvmmsg(cfg->fds[sock], m->rmsg, cfg->batch, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            /* An error the socket held for us (an ICMP error that came in
             * after a send: its entry is on the error queue too); datagrams
             * may still be queued behind it, so read on. */
            if (errno != EINTR)
                net_event(cfg, NET_EV_RX_ERROR);
            continue;
        }
        if (n > 0 && cfg->on_batch != NULL)
            cfg->on_batch(cfg->ctx);
        for (int i = 0; i < n; i++) {
            const struct msghdr *h = &m->rmsg[i].msg_hdr;
            struct net_rx rx = {
                .buf = m->riov[i].iov_base,
                .len = m->rmsg[i].msg_len,
                .truncated = (h->msg_flags & MSG_TRUNC) != 0,
                .src = (const struct sockaddr *)&m->src[i],
                .srclen = h->msg_namelen,
                .sock = sock,
                /* each full batch before this one: more were waiting */
                .load = (uint8_t)(round * 100 / (MM_ROUNDS - 1)),
            };
            m->tx[i].niov = 0;
            m->tx[i].dst2len = 0;
            m->tx[i].conn = 0;
            cfg->handler(cfg->ctx, &rx, &m->tx[i]);
        }
        mm_flush(m, (unsigned)n);
        if ((unsigned)n < cfg->batch)
            return;
    }
}

int net_mmsg_run(const struct net_engine_cfg *cfg)
{
    int ret = net_cfg_check(cfg);
    if (ret != 0)
        return ret;
    if (cfg->stream != NULL)
        return -EOPNOTSUPP; /* TCP is the io_uring engine's only, so far */
    struct mm *m = mm_new(cfg);
    if (m == NULL)
        return -ENOMEM;

    while (!atomic_load_explicit(cfg->stop, memory_order_relaxed)) {
        if (cfg->on_quiescent != NULL)
            cfg->on_quiescent(cfg->ctx);
        int n = poll(m->pfd, (nfds_t)cfg->nfds, MM_POLL_MS);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            break;
        }
        for (int s = 0; s < cfg->nfds && n > 0; s++) {
            short ev = m->pfd[s].revents;
            if (ev == 0)
                continue;
            n--;
            if (ev & POLLNVAL) {
                ret = -EBADF;
                goto out;
            }
            if (ev & POLLERR)
                net_errq_drain(cfg, s);
            if (ev & POLLIN)
                mm_recv(m, s);
        }
    }
out:
    mm_free(m);
    return ret;
}
