/*
 * uring.c - the io_uring engine: one ring per net_uring_run call, used only
 * by the calling thread (single issuer, deferred task running where the
 * kernel has them), the sockets registered as fixed files, one multishot
 * recvmsg per socket into a provided buffer ring, and each reply sent with
 * sendmsg from the buffer it arrived in. The loop is liburing's io_uring-udp
 * shape: arm what is missing, submit and wait (100 ms, so *stop is seen),
 * peek a batch of completions, dispatch each by its typed user_data, advance
 * the CQ once, publish the returned buffers once. TCP listeners and their
 * connections (cfg->stream) share the ring: stream.c arms their requests and
 * handles their completions, which this loop dispatches by the same user_data.
 *
 * Buffer ownership. Buffer bid (cqe->flags >> IORING_CQE_BUFFER_SHIFT) and
 * tx[bid] / smsg[bid] travel together:
 *   1. the kernel owns bid while it sits in the buffer ring;
 *   2. from the recv CQE that names it, the engine does, and lends it to the
 *      handler for the duration of the call;
 *   3. if the handler filled tx, the sendmsg owns it (smsg[bid] points at
 *      tx[bid], whose iovecs point into the buffer and tx->scratch) until that
 *      send's CQE (both sends' CQEs when tx->dst2 is set: npend[bid] counts
 *      them; a send queued again by ring_resend keeps it until the CQE of
 *      its last try); otherwise it goes back at once;
 *   4. it goes back with io_uring_buf_ring_add, and the kernel sees it at the
 *      io_uring_buf_ring_advance after the CQE batch.
 * held counts buffers in stages 2-4. The ring memory is unmapped only after
 * every request has completed or been cancelled (ring_drain).
 */
#include "net/ring.h"

#include <errno.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RING_BGID 0
#define RING_WAIT_NS 100000000 /* 100 ms: the contract for noticing *stop */
#define RING_DRAIN_ROUNDS 20   /* x 10 ms to collect cancellations at stop */
#define RING_SQ_MAX 32768u     /* the kernel's IORING_MAX_ENTRIES */
#define RING_CQ_MAX 65536u     /* IORING_MAX_CQ_ENTRIES */

struct ring {
    struct io_uring uring;
    const struct net_engine_cfg *cfg;
    struct io_uring_buf_ring *br; /* mmap'd, nbufs entries */
    size_t br_len;
    char *bufs; /* mmap'd, nbufs * stride */
    size_t bufs_len;
    size_t stride;
    unsigned buf_len;           /* recvmsg_out + name + buf_size: what the kernel may fill */
    struct msghdr rmsg;         /* layout of every receive: name room, no control */
    struct net_tx *tx;          /* [nbufs] */
    struct msghdr *smsg;        /* [nbufs] */
    struct msghdr *smsg2;       /* [nbufs]: the copy to dst2 */
    uint8_t *npend;             /* [nbufs]: sends in flight from each buffer */
    uint8_t *tries;             /* [2 * nbufs]: resends of bid's send (2 bid) and send2 */
    struct io_uring_cqe **cqes; /* [batch] */
    unsigned nput;              /* buffers added since the last advance */
    unsigned held;              /* buffers not in the kernel's hands */
    unsigned nsend;             /* sends in flight */
    uint32_t armed_recv;        /* per socket: multishot recvmsg in place */
    uint32_t armed_errq;        /* per socket: multishot POLLERR poll in place */
    uint8_t sock_fill[NET_MAX_SOCKS]; /* per socket: % of its receive buffer queued */
    unsigned full_run;                /* full batches in a row */
    bool ring_ok;
    bool stopping;
    struct net_tx errtx;   /* reports a failed send to dst2 */
    struct net_stream *ns; /* TCP listeners and connections (stream.c), or NULL */
};

static char *ring_buf(struct ring *r, unsigned bid)
{
    return r->bufs + (size_t)bid * r->stride;
}

/* Queues buffer bid for return; ring_buf_flush publishes the batch with one
 * release store instead of one per buffer. */
static void ring_buf_put(struct ring *r, unsigned bid)
{
    io_uring_buf_ring_add(r->br, ring_buf(r, bid), r->buf_len, (unsigned short)bid,
                          io_uring_buf_ring_mask(r->cfg->nbufs), (int)r->nput);
    r->nput++;
}

static void ring_buf_flush(struct ring *r)
{
    if (r->nput == 0)
        return;
    io_uring_buf_ring_advance(r->br, (int)r->nput);
    r->held -= r->nput;
    r->nput = 0;
}

/* An SQE, or NULL. The SQ holds a full batch of replies plus every re-arm,
 * so it fills only if that sizing is wrong; then submitting once makes room,
 * as liburing's examples do. */
static struct io_uring_sqe *ring_sqe(struct ring *r)
{
    return ring_get_sqe(&r->uring);
}

/* Arms the multishot recvmsg and the error-queue poll of every socket that
 * lacks one (at start, and after a CQE without IORING_CQE_F_MORE). A recv is
 * not re-armed while the kernel has no buffer: it would end at once with
 * -ENOBUFS; the datagrams wait in the socket until sends give buffers back. */
static void ring_arm(struct ring *r)
{
    const struct net_engine_cfg *cfg = r->cfg;
    uint32_t all = (1u << cfg->nfds) - 1;

    for (uint32_t m = all & ~r->armed_recv; m != 0 && r->held < cfg->nbufs; m &= m - 1) {
        unsigned s = (unsigned)__builtin_ctz(m);
        struct io_uring_sqe *sqe = ring_sqe(r);
        if (sqe == NULL)
            return;
        /* MSG_TRUNC: o->payloadlen is the datagram's full length, not the
         * part that fit (o->flags says MSG_TRUNC either way). */
        io_uring_prep_recvmsg_multishot(sqe, (int)s, &r->rmsg, MSG_TRUNC);
        sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
        sqe->buf_group = RING_BGID;
        io_uring_sqe_set_data64(sqe, ring_ud_pack(RING_OP_RECV, s));
        r->armed_recv |= 1u << s;
    }
    for (uint32_t m = all & ~r->armed_errq; m != 0; m &= m - 1) {
        unsigned s = (unsigned)__builtin_ctz(m);
        struct io_uring_sqe *sqe = ring_sqe(r);
        if (sqe == NULL)
            return;
        io_uring_prep_poll_multishot(sqe, (int)s, POLLERR);
        sqe->flags |= IOSQE_FIXED_FILE;
        io_uring_sqe_set_data64(sqe, ring_ud_pack(RING_OP_ERRQ, s));
        r->armed_errq |= 1u << s;
    }
    if (r->ns != NULL)
        ns_arm(r->ns);
}

/* Queues the handler's reply from buffer bid, or gives the buffer back. */
static void ring_send(struct ring *r, unsigned bid)
{
    const struct net_engine_cfg *cfg = r->cfg;
    struct net_tx *tx = &r->tx[bid];
    if (tx->conn != 0) { /* onto a TCP connection: taken or copied at once, bid is free */
        int cerr = ns_send_tx(r->ns, tx);
        if (cerr != 0)
            net_send_error(cfg, tx, cerr);
        ring_buf_put(r, bid);
        return;
    }
    int err = net_tx_check(cfg, tx);
    if (err != 0) {
        net_send_error(cfg, tx, err);
        ring_buf_put(r, bid);
        return;
    }
    struct io_uring_sqe *sqe = ring_sqe(r);
    if (sqe == NULL) {
        net_event(cfg, NET_EV_TX_DROPPED);
        ring_buf_put(r, bid);
        return;
    }
    struct msghdr *mh = &r->smsg[bid];
    *mh = (struct msghdr){
        .msg_name = &tx->dst,
        .msg_namelen = tx->dstlen,
        .msg_iov = tx->iov,
        .msg_iovlen = (size_t)tx->niov,
    };
    io_uring_prep_sendmsg(sqe, tx->sock, mh, 0);
    sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, ring_ud_pack(RING_OP_SEND, bid));
    r->nsend++;
    r->npend[bid] = 1;
    r->tries[2 * bid] = r->tries[2 * bid + 1] = 0;
    if (tx->dst2len == 0 || tx->dst2len > sizeof(tx->dst2))
        return;
    struct io_uring_sqe *sqe2 = ring_sqe(r);
    if (sqe2 == NULL) {
        net_event(cfg, NET_EV_TX_DROPPED);
        return;
    }
    struct msghdr *mh2 = &r->smsg2[bid];
    *mh2 = *mh;
    mh2->msg_name = &tx->dst2;
    mh2->msg_namelen = tx->dst2len;
    io_uring_prep_sendmsg(sqe2, tx->sock, mh2, 0);
    sqe2->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe2, ring_ud_pack(RING_OP_SEND2, bid));
    r->nsend++;
    r->npend[bid] = 2;
}

/* How far behind the loop is, 0..100: buffers out of the kernel's hands
 * (held) plus completions posted and not yet handled, each of which holds a
 * buffer too, against nbufs: at 100 the kernel has no buffer to receive
 * into and datagrams pile up in the socket. held alone stays near one batch
 * while the CQ backs up, so a worker that fell behind looked idle. */
static uint8_t ring_load(struct ring *r, unsigned sock)
{
    uint64_t busy = (uint64_t)r->held + io_uring_cq_ready(&r->uring);
    uint64_t pct = busy * 100 / r->cfg->nbufs;
    if (pct < r->sock_fill[sock])
        pct = r->sock_fill[sock];
    return (uint8_t)(pct < 100 ? pct : 100);
}

/*
 * Datagrams the loop has not reached wait in the socket, not in the ring:
 * with deferred task running, a multishot recv posts a few dozen per enter
 * while the socket queue fills and overflows. So after a full batch (the
 * only time there can be a backlog), each socket's queue is measured
 * (SO_MEMINFO: queued bytes against its receive buffer), on the first of a
 * run of full batches and every RING_MEASURE_EVERY after it; after a short
 * one the queues are taken as drained. At the maximum rate nearly every
 * other batch was full, and a syscall each (strace: 6,800 getsockopt a
 * second beside 7,000 io_uring_enter) cost more than the rest of the
 * overload check; a backlog shows within 4 batches (~256 datagrams, ~1 ms
 * at that rate) all the same.
 */
#define RING_MEASURE_EVERY 4

static void ring_measure_queues(struct ring *r, bool full)
{
    if (full && r->full_run++ % RING_MEASURE_EVERY != 0)
        return;
    if (!full)
        r->full_run = 0;
    for (int s = 0; s < r->cfg->nfds; s++) {
        if (!full) {
            r->sock_fill[s] = 0;
            continue;
        }
        uint32_t mi[SK_MEMINFO_VARS];
        socklen_t len = sizeof(mi);
        if (getsockopt(r->cfg->fds[s], SOL_SOCKET, SO_MEMINFO, mi, &len) != 0 ||
            len < sizeof(mi) || mi[SK_MEMINFO_RCVBUF] == 0)
            continue;
        uint64_t pct = (uint64_t)mi[SK_MEMINFO_RMEM_ALLOC] * 100 / mi[SK_MEMINFO_RCVBUF];
        r->sock_fill[s] = (uint8_t)(pct < 100 ? pct : 100);
    }
}

static void ring_on_recv(struct ring *r, const struct io_uring_cqe *cqe, unsigned sock)
{
    const struct net_engine_cfg *cfg = r->cfg;

    if (!(cqe->flags & IORING_CQE_F_MORE))
        r->armed_recv &= ~(1u << sock); /* ring_arm re-arms it */
    if (cqe->res < 0) {
        /* -ENOBUFS: the ring ran dry, the datagrams wait in the socket. Any
         * other error (an ICMP error the socket held, reported on the error
         * queue as well) is counted; neither stops the engine. */
        if (cqe->res == -ENOBUFS)
            net_event(cfg, NET_EV_RX_ENOBUFS);
        else if (!r->stopping)
            net_event(cfg, NET_EV_RX_ERROR);
        return;
    }
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    if (!(cqe->flags & IORING_CQE_F_BUFFER) || bid >= cfg->nbufs) {
        net_event(cfg, NET_EV_RX_ERROR);
        return;
    }
    r->held++;
    /* At stop, datagrams still coming in are dropped unhandled. */
    struct io_uring_recvmsg_out *o =
        io_uring_recvmsg_validate(ring_buf(r, bid), cqe->res, &r->rmsg);
    if (o == NULL || o->namelen > r->rmsg.msg_namelen || r->stopping) {
        if (!r->stopping)
            net_event(cfg, NET_EV_RX_ERROR);
        ring_buf_put(r, bid);
        return;
    }
    struct net_rx rx = {
        .buf = io_uring_recvmsg_payload(o, &r->rmsg),
        .len = io_uring_recvmsg_payload_length(o, cqe->res, &r->rmsg),
        .truncated = (o->flags & MSG_TRUNC) != 0,
        .src = io_uring_recvmsg_name(o),
        .srclen = o->namelen,
        .sock = (int)sock,
        .load = ring_load(r, sock),
        .stream = r->ns,
    };
    struct net_tx *tx = &r->tx[bid];
    tx->niov = 0;
    tx->dst2len = 0;
    tx->conn = 0;
    cfg->handler(cfg->ctx, &rx, tx);
    if (tx->niov == 0)
        ring_buf_put(r, bid);
    else
        ring_send(r, bid);
}

/*
 * A send from bid (the copy to dst2 if second) failed with err. If err may
 * be another datagram's ICMP error left pending on the socket (net.h), the
 * error queue is read, which clears it (and reports each entry), and the
 * datagram sent again at once with a plain sendmsg: at once, because any
 * send on the socket in between (a queued SQE, a later CQE's reply) can
 * draw the next ICMP error and fail the resend as well. At most
 * NET_SEND_RETRIES times; a full socket buffer queues it as an SQE instead.
 * Returns 0 if it went out, 1 if it is in flight again, else the error.
 */
static int ring_resend(struct ring *r, unsigned bid, bool second, int err)
{
    const struct net_tx *tx = &r->tx[bid];
    struct msghdr *mh = second ? &r->smsg2[bid] : &r->smsg[bid];
    uint8_t *tries = &r->tries[2 * bid + second];
    while (!r->stopping && net_send_retryable(err) && *tries < NET_SEND_RETRIES) {
        (*tries)++;
        net_event_to(r->cfg, NET_EV_TX_RETRIED, (const struct sockaddr *)mh->msg_name);
        net_errq_drain(r->cfg, tx->sock);
        if (sendmsg(r->cfg->fds[tx->sock], mh, MSG_DONTWAIT) >= 0)
            return 0;
        err = -errno;
        if (err == -EAGAIN || err == -EWOULDBLOCK) {
            struct io_uring_sqe *sqe = ring_sqe(r);
            if (sqe == NULL)
                return err;
            io_uring_prep_sendmsg(sqe, tx->sock, mh, 0);
            sqe->flags |= IOSQE_FIXED_FILE;
            io_uring_sqe_set_data64(sqe, ring_ud_pack(second ? RING_OP_SEND2 : RING_OP_SEND, bid));
            return 1;
        }
    }
    return err;
}

static void ring_on_send(struct ring *r, const struct io_uring_cqe *cqe, unsigned bid)
{
    if (bid >= r->cfg->nbufs)
        return;
    int res = cqe->res < 0 ? ring_resend(r, bid, false, cqe->res) : 0;
    if (res == 1)
        return;
    r->nsend--;
    if (res < 0 && !(r->stopping && res == -ECANCELED))
        net_send_error(r->cfg, &r->tx[bid], res);
    if (--r->npend[bid] == 0)
        ring_buf_put(r, bid);
}

static void ring_on_send2(struct ring *r, const struct io_uring_cqe *cqe, unsigned bid)
{
    if (bid >= r->cfg->nbufs)
        return;
    int res = cqe->res < 0 ? ring_resend(r, bid, true, cqe->res) : 0;
    if (res == 1)
        return;
    r->nsend--;
    if (res < 0 && !(r->stopping && res == -ECANCELED)) {
        const struct net_tx *tx = &r->tx[bid];
        r->errtx.niov = 0; /* report the address that failed */
        r->errtx.sock = tx->sock;
        r->errtx.dst = tx->dst2;
        r->errtx.dstlen = tx->dst2len;
        net_send_error(r->cfg, &r->errtx, res);
    }
    if (--r->npend[bid] == 0)
        ring_buf_put(r, bid);
}

static void ring_on_errq(struct ring *r, const struct io_uring_cqe *cqe, unsigned sock)
{
    if (!(cqe->flags & IORING_CQE_F_MORE))
        r->armed_errq &= ~(1u << sock);
    if (cqe->res > 0 && !r->stopping)
        net_errq_drain(r->cfg, (int)sock);
}

static void ring_on_cancel(struct ring *r, const struct io_uring_cqe *cqe, unsigned idx)
{
    (void)r, (void)cqe, (void)idx;
}

/* The connections' completions go to stream.c; r->ns is set whenever they can occur. */
static void ring_on_accept(struct ring *r, const struct io_uring_cqe *cqe, unsigned idx)
{
    if (r->ns != NULL)
        ns_on_accept(r->ns, cqe, idx);
}

static void ring_on_crecv(struct ring *r, const struct io_uring_cqe *cqe, unsigned idx)
{
    if (r->ns != NULL)
        ns_on_recv(r->ns, cqe, idx);
}

static void ring_on_csend(struct ring *r, const struct io_uring_cqe *cqe, unsigned idx)
{
    if (r->ns != NULL)
        ns_on_send(r->ns, cqe, idx);
}

typedef void ring_cqe_fn(struct ring *r, const struct io_uring_cqe *cqe, unsigned idx);

/* One handler per op; each checks cqe->res < 0 first. */
static ring_cqe_fn *const ring_handlers[RING_OP_COUNT] = {
    [RING_OP_RECV] = ring_on_recv,     [RING_OP_ERRQ] = ring_on_errq,
    [RING_OP_SEND] = ring_on_send,     [RING_OP_SEND2] = ring_on_send2,
    [RING_OP_CANCEL] = ring_on_cancel, [RING_OP_ACCEPT] = ring_on_accept,
    [RING_OP_CRECV] = ring_on_crecv,   [RING_OP_CSEND] = ring_on_csend,
};

static void ring_handle_cqe(struct ring *r, const struct io_uring_cqe *cqe)
{
    struct ring_ud ud = ring_ud_unpack(cqe->user_data);
    /* Anything else is not ours, e.g. liburing's own timeout CQE on kernels
     * without IORING_FEAT_EXT_ARG. */
    if (ud.op >= RING_OP_RECV && ud.op < RING_OP_COUNT && ring_handlers[ud.op] != NULL)
        ring_handlers[ud.op](r, cqe, ud.idx);
}

/* Waits up to ns for completions and handles one batch of them. 0 or the
 * -errno of a failed io_uring_enter that retrying will not fix. */
static int ring_step(struct ring *r, long long ns)
{
    struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = ns};
    struct io_uring_cqe *cqe;

    /* -ETIME: nothing within ns. -EAGAIN, -EBUSY: no room for completions
     * until these are handled. -EBADR: the kernel dropped completions (CQ
     * overflow without memory); the buffers they named are lost to the ring,
     * but the engine still runs. */
    int ret = io_uring_submit_and_wait_timeout(&r->uring, &cqe, 1, &ts, NULL);
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY &&
        ret != -EBADR)
        return ret;
    unsigned n = io_uring_peek_batch_cqe(&r->uring, r->cqes, r->cfg->batch);
    if (n == r->cfg->batch || r->sock_fill[0] | r->sock_fill[r->cfg->nfds - 1])
        ring_measure_queues(r, n == r->cfg->batch);
    if (n > 0 && r->cfg->on_batch != NULL)
        r->cfg->on_batch(r->cfg->ctx);
    for (unsigned i = 0; i < n; i++)
        ring_handle_cqe(r, r->cqes[i]);
    /* One CQ head store per batch rather than io_uring_cqe_seen per CQE. */
    io_uring_cq_advance(&r->uring, n);
    ring_buf_flush(r);
    return 0;
}

/* Cancels every request and collects the completions, so no request can
 * touch the buffers after they are unmapped. Bounded: RING_DRAIN_ROUNDS. */
static bool ring_busy(const struct ring *r)
{
    return r->armed_recv != 0 || r->armed_errq != 0 || r->nsend != 0 ||
           (r->ns != NULL && ns_busy(r->ns));
}

static void ring_drain(struct ring *r)
{
    r->stopping = true;
    if (r->ns != NULL)
        ns_stop(r->ns);
    if (!ring_busy(r))
        return;
    struct io_uring_sqe *sqe = ring_sqe(r);
    if (sqe != NULL) {
        io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
        io_uring_sqe_set_data64(sqe, ring_ud_pack(RING_OP_CANCEL, 0));
    }
    for (int i = 0; i < RING_DRAIN_ROUNDS; i++) {
        if (!ring_busy(r))
            return;
        if (ring_step(r, RING_WAIT_NS / 10) != 0)
            return;
    }
}

/* Flag sets tried in order, each kept if the kernel takes it: single issuer
 * with deferred task running (6.1) runs completions only when this thread
 * asks for them, no IPIs; cooperative task running (5.19) at least avoids
 * interrupting the thread; plain rings work everywhere. */
static const unsigned ring_flag_sets[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
    IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
    0,
};

static int ring_queue_init(struct ring *r)
{
    const struct net_engine_cfg *cfg = r->cfg;
    /* replies (two when dst2 is set), re-arms, cancel */
    unsigned sq = 2 * cfg->batch + 2 * (unsigned)cfg->nfds + 1;
    /* a recv and up to two sends per buffer; per connection a recv, a send and their
     * cancels, and an accept per listener */
    unsigned cq = 3 * cfg->nbufs + 4 * (unsigned)cfg->nfds;
    if (cfg->stream != NULL)
        cq += 4 * cfg->stream->max_conns + (unsigned)cfg->stream->nlfds;
    int ret = -EINVAL;

    sq = sq < RING_SQ_MAX ? sq : RING_SQ_MAX;
    cq = cq < RING_CQ_MAX ? cq : RING_CQ_MAX;
    cq = cq > sq ? cq : sq;
    for (size_t i = 0; i < sizeof(ring_flag_sets) / sizeof(ring_flag_sets[0]); i++) {
        struct io_uring_params p = {
            .flags = ring_flag_sets[i] | IORING_SETUP_CQSIZE,
            .cq_entries = cq,
        };
        ret = io_uring_queue_init_params(sq, &r->uring, &p);
        if (ret != -EINVAL)
            break;
    }
    return ret;
}

/* Maps the buffer ring and the buffers, registers them as group RING_BGID
 * and hands every buffer to the kernel. liburing 2.3 has no
 * io_uring_setup_buf_ring, hence the mmap: the ring must be page aligned. */
static int ring_bufs_init(struct ring *r)
{
    const struct net_engine_cfg *cfg = r->cfg;
    unsigned n = cfg->nbufs;

    r->buf_len = (unsigned)(sizeof(struct io_uring_recvmsg_out) + sizeof(struct sockaddr_storage)) +
                 cfg->buf_size;
    r->stride = (r->buf_len + 63u) & ~(size_t)63u; /* buffers start on cache lines */
    r->br_len = n * sizeof(struct io_uring_buf);
    r->bufs_len = n * r->stride;
    void *br = mmap(NULL, r->br_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (br == MAP_FAILED)
        return -errno;
    r->br = br;
    void *bufs =
        mmap(NULL, r->bufs_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (bufs == MAP_FAILED)
        return -errno;
    r->bufs = bufs;

    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)(uintptr_t)r->br, .ring_entries = n, .bgid = RING_BGID};
    int ret = io_uring_register_buf_ring(&r->uring, &reg, 0);
    if (ret != 0)
        return ret;
    io_uring_buf_ring_init(r->br);
    for (unsigned bid = 0; bid < n; bid++)
        ring_buf_put(r, bid);
    r->held = n;
    ring_buf_flush(r);
    return 0;
}

static int ring_setup(struct ring *r, const struct net_engine_cfg *cfg)
{
    r->cfg = cfg;
    r->rmsg.msg_namelen = sizeof(struct sockaddr_storage);
    r->tx = calloc(cfg->nbufs, sizeof(*r->tx));
    r->smsg = calloc(cfg->nbufs, sizeof(*r->smsg));
    r->smsg2 = calloc(cfg->nbufs, sizeof(*r->smsg2));
    r->npend = calloc(cfg->nbufs, sizeof(*r->npend));
    r->tries = calloc(2 * (size_t)cfg->nbufs, sizeof(*r->tries));
    r->cqes = calloc(cfg->batch, sizeof(*r->cqes));
    if (r->tx == NULL || r->smsg == NULL || r->smsg2 == NULL || r->npend == NULL || r->tries == NULL ||
        r->cqes == NULL)
        return -ENOMEM;

    int ret = ring_queue_init(r);
    if (ret != 0)
        return ret;
    r->ring_ok = true;
    if (cfg->stream != NULL && (ret = ns_open(cfg->stream, cfg, &r->uring, &r->ns)) != 0)
        return ret;
    ret = io_uring_register_files(&r->uring, cfg->fds, (unsigned)cfg->nfds);
    if (ret != 0)
        return ret;
    if (cfg->cpu >= 0) {
        if (cfg->cpu >= CPU_SETSIZE)
            return -EINVAL;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cfg->cpu, &set);
        ret = io_uring_register_iowq_aff(&r->uring, sizeof(set), &set);
        if (ret != 0)
            return ret;
    }
    return ring_bufs_init(r);
}

static void ring_teardown(struct ring *r)
{
    /* The ring holds a reference to every registered socket, and exiting it
     * drops them later, from a kernel worker: the port would stay bound for
     * tens of ms after the caller closed its fds, and a restarted viaduct
     * would join the dead socket's SO_REUSEPORT group. Unregistering waits
     * for the references to go, so the caller's close really releases the
     * port. */
    if (r->ring_ok) {
        io_uring_unregister_files(&r->uring);
        io_uring_queue_exit(&r->uring);
    }
    ns_free(r->ns);
    if (r->bufs != NULL)
        munmap(r->bufs, r->bufs_len);
    if (r->br != NULL)
        munmap(r->br, r->br_len);
    free(r->tx);
    free(r->smsg);
    free(r->smsg2);
    free(r->npend);
    free(r->tries);
    free(r->cqes);
}

int net_uring_run(const struct net_engine_cfg *cfg)
{
    int ret = net_cfg_check(cfg);
    if (ret != 0)
        return ret;
    struct ring *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -ENOMEM;

    ret = ring_setup(r, cfg);
    while (ret == 0 && !atomic_load_explicit(cfg->stop, memory_order_relaxed)) {
        ring_arm(r);
        ret = ring_step(r, RING_WAIT_NS);
        if (r->ns != NULL)
            ns_tick(r->ns);
        if (cfg->on_quiescent != NULL)
            cfg->on_quiescent(cfg->ctx);
    }
    if (r->ring_ok)
        ring_drain(r);
    ring_teardown(r);
    free(r);
    return ret;
}

bool net_uring_available(void)
{
    struct io_uring ring;
    if (io_uring_queue_init(2, &ring, 0) != 0)
        return false;

    /* Multishot recvmsg cannot be probed, but it came in 6.0 with
     * IORING_OP_SEND_ZC, which can. */
    bool ok = false;
    struct io_uring_probe *p = io_uring_get_probe_ring(&ring);
    if (p != NULL) {
        ok = io_uring_opcode_supported(p, IORING_OP_RECVMSG) &&
             io_uring_opcode_supported(p, IORING_OP_SENDMSG) &&
             io_uring_opcode_supported(p, IORING_OP_POLL_ADD) &&
             io_uring_opcode_supported(p, IORING_OP_ASYNC_CANCEL) &&
             io_uring_opcode_supported(p, IORING_OP_SEND_ZC);
        io_uring_free_probe(p);
    }
    if (ok) {
        long page = sysconf(_SC_PAGESIZE);
        void *br =
            mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ok = br != MAP_FAILED;
        if (ok) {
            struct io_uring_buf_reg reg = {
                .ring_addr = (unsigned long)(uintptr_t)br, .ring_entries = 1, .bgid = RING_BGID};
            ok = io_uring_register_buf_ring(&ring, &reg, 0) == 0;
            if (ok)
                io_uring_unregister_buf_ring(&ring, RING_BGID);
            munmap(br, (size_t)page);
        }
    }
    io_uring_queue_exit(&ring);
    return ok;
}
