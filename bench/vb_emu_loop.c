/*
 * vb_emu_loop.c - the emulated backends on sockets: one thread serves all N
 * sockets (poll, then recvmmsg batches per readable socket, answers built by
 * vb_emu_answer, one sendmmsg per batch back to the sources), so N backends
 * cost one thread on the load's CPU, and the counters and the affinity
 * table have a single writer. Also `viaduct-bench emulate`, the same
 * backends as a standalone process:
 *
 *   $ viaduct-bench emulate --listen 127.0.0.1:5070 --backends 4 --duration 60
 *
 * Buffers: batch receive buffers, and VB_EMU_MAXRESP answer buffers per
 * receive buffer; a batch's answers are all sent before the next recvmmsg
 * reuses them. Nothing is allocated per datagram.
 */
#include "bench/vb_emu.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/vb_cli.h"
#include "net/net.h"

#define EMU_BUF                                                                                    \
    9216 /* largest request answered whole (viaduct's --max-msg is 16384 at                        \
            most, but the load's requests are under 2 KB) */
#define EMU_OUT (EMU_BUF + 1024)
#define EMU_POLL_MS 100 /* stop is noticed within this */
#define EMU_ROUNDS 8    /* batches per socket per poll wake, as net/mmsg.c */
#define EMU_SEND_WAIT_MS 10

struct vb_emu_io {
    char *rbuf;                   /* batch * EMU_BUF */
    struct iovec *riov;           /* [batch] */
    struct mmsghdr *rmsg;         /* [batch] */
    struct sockaddr_storage *src; /* [batch] */
    char *obuf;                   /* batch * MAXRESP * EMU_OUT */
    struct vb_buf *out;           /* [batch * MAXRESP] */
    struct iovec *siov;           /* [batch * MAXRESP] */
    struct mmsghdr *smsg;         /* [batch * MAXRESP] */
};

static void io_free(struct vb_emu_io *io)
{
    if (io == NULL)
        return;
    free(io->rbuf);
    free(io->riov);
    free(io->rmsg);
    free(io->src);
    free(io->obuf);
    free(io->out);
    free(io->siov);
    free(io->smsg);
    free(io);
}

static struct vb_emu_io *io_new(unsigned batch)
{
    struct vb_emu_io *io = calloc(1, sizeof(*io));
    size_t no = (size_t)batch * VB_EMU_MAXRESP;
    if (io == NULL)
        return NULL;
    io->rbuf = malloc((size_t)batch * EMU_BUF);
    io->riov = calloc(batch, sizeof(*io->riov));
    io->rmsg = calloc(batch, sizeof(*io->rmsg));
    io->src = calloc(batch, sizeof(*io->src));
    io->obuf = malloc(no * EMU_OUT);
    io->out = calloc(no, sizeof(*io->out));
    io->siov = calloc(no, sizeof(*io->siov));
    io->smsg = calloc(no, sizeof(*io->smsg));
    if (!io->rbuf || !io->riov || !io->rmsg || !io->src || !io->obuf || !io->out || !io->siov ||
        !io->smsg) {
        io_free(io);
        return NULL;
    }
    for (unsigned i = 0; i < batch; i++) {
        io->riov[i] = (struct iovec){io->rbuf + (size_t)i * EMU_BUF, EMU_BUF};
        io->rmsg[i].msg_hdr.msg_iov = &io->riov[i];
        io->rmsg[i].msg_hdr.msg_iovlen = 1;
        io->rmsg[i].msg_hdr.msg_name = &io->src[i];
    }
    for (size_t i = 0; i < no; i++)
        io->out[i] = vb_buf_make(io->obuf + i * EMU_OUT, EMU_OUT);
    return io;
}

int vb_emu_open(struct vb_emu *e, const char *first, int n, int invite_mode, bool no_reply,
                char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(e, 0, sizeof(*e));
    e->cpu = -1;
    e->batch = 64;
    for (int i = 0; i < VB_EMU_MAX; i++)
        e->fds[i] = -1;
    if (net_addr_parse(first, &ss, &len) < 0) {
        snprintf(err, errlen, "bad backend address '%s' (want IP:PORT)", first);
        return -EINVAL;
    }
    int r = vb_emu_core_init(&e->core, n, invite_mode, no_reply);
    if (r < 0) {
        snprintf(err, errlen, "cannot set up %d backends (1 to %d)", n, VB_EMU_MAX);
        return r;
    }
    pthread_mutex_init(&e->lock, NULL);
    e->addrlen = len;
    int port = net_addr_port((struct sockaddr *)&ss);
    for (int b = 0; b < n; b++) {
        struct sockaddr_storage a = ss;
        int p = port == 0 && b > 0 ? net_addr_port((struct sockaddr *)&e->addr[0]) + b : port + b;
        if (p > 65535) {
            snprintf(err, errlen, "backend ports run past 65535");
            vb_emu_close(e);
            return -EINVAL;
        }
        if (a.ss_family == AF_INET)
            ((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)p);
        else
            ((struct sockaddr_in6 *)&a)->sin6_port = htons((uint16_t)p);
        int fd = net_udp_open((struct sockaddr *)&a, len, false, 4 << 20, 4 << 20);
        if (fd < 0) {
            char t[64];
            net_addr_format((struct sockaddr *)&a, t, sizeof(t));
            snprintf(err, errlen, "cannot open backend %d on %s: %s", b, t, strerror(-fd));
            vb_emu_close(e);
            return fd;
        }
        socklen_t al = sizeof(e->addr[b]);
        getsockname(fd, (struct sockaddr *)&e->addr[b], &al);
        e->fds[b] = fd;
        char hp[64];
        net_addr_format((struct sockaddr *)&e->addr[b], hp, sizeof(hp));
        vb_emu_set_contact(&e->core, b, hp);
    }
    e->io = io_new(e->batch);
    if (e->io == NULL) {
        snprintf(err, errlen, "out of memory");
        vb_emu_close(e);
        return -ENOMEM;
    }
    return 0;
}

/* Sends smsg[0..k) from backend b's socket; see net/mmsg.c's mm_send for
 * why a failing message is skipped and the rest sent again. */
static void emu_send(struct vb_emu *e, int b, unsigned k)
{
    struct mmsghdr *sm = e->io->smsg;
    unsigned i = 0;
    bool waited = false;
    while (i < k) {
        int r = sendmmsg(e->fds[b], sm + i, k - i, 0);
        if (r > 0) {
            i += (unsigned)r;
            continue;
        }
        int err = r < 0 ? errno : EAGAIN;
        if (err == EINTR)
            continue;
        if ((err == EAGAIN || err == EWOULDBLOCK) && !waited) {
            struct pollfd p = {.fd = e->fds[b], .events = POLLOUT};
            waited = true;
            if (poll(&p, 1, EMU_SEND_WAIT_MS) > 0)
                continue;
        }
        pthread_mutex_lock(&e->lock);
        e->core.cnt[b].send_errors++;
        pthread_mutex_unlock(&e->lock);
        i++;
    }
}

/* Reads, answers and sends up to EMU_ROUNDS batches of backend b. */
static void emu_recv(struct vb_emu *e, int b)
{
    struct vb_emu_io *io = e->io;
    for (int round = 0; round < EMU_ROUNDS; round++) {
        for (unsigned i = 0; i < e->batch; i++)
            io->rmsg[i].msg_hdr.msg_namelen = sizeof(io->src[i]);
        int n = recvmmsg(e->fds[b], io->rmsg, e->batch, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                continue; /* an ICMP error queued on the socket: read on */
            return;
        }
        unsigned k = 0;
        pthread_mutex_lock(&e->lock);
        for (int i = 0; i < n; i++) {
            struct vb_buf *out = &io->out[k];
            int r = vb_emu_answer(&e->core, b, io->riov[i].iov_base, io->rmsg[i].msg_len, out);
            for (int j = 0; j < r; j++, k++) {
                io->siov[k] = (struct iovec){io->out[k].p, io->out[k].len};
                io->smsg[k].msg_hdr = (struct msghdr){
                    .msg_name = &io->src[i],
                    .msg_namelen = io->rmsg[i].msg_hdr.msg_namelen,
                    .msg_iov = &io->siov[k],
                    .msg_iovlen = 1,
                };
            }
        }
        pthread_mutex_unlock(&e->lock);
        if (k > 0)
            emu_send(e, b, k);
        if ((unsigned)n < e->batch)
            return;
    }
}

static void *emu_thread(void *arg)
{
    struct vb_emu *e = arg;
    struct pollfd pfd[VB_EMU_MAX];
    vb_pin_self(e->cpu);
    for (int b = 0; b < e->core.n; b++)
        pfd[b] = (struct pollfd){.fd = e->fds[b], .events = POLLIN};
    while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
        int n = poll(pfd, (nfds_t)e->core.n, EMU_POLL_MS);
        if (n < 0 && errno != EINTR) {
            e->result = -errno;
            break;
        }
        for (int b = 0; b < e->core.n && n > 0; b++) {
            if (pfd[b].revents == 0)
                continue;
            n--;
            if (pfd[b].revents & POLLERR) {
                int so = 0;
                socklen_t sl = sizeof(so);
                getsockopt(e->fds[b], SOL_SOCKET, SO_ERROR, &so, &sl); /* clears it */
            }
            if (pfd[b].revents & POLLIN)
                emu_recv(e, b);
        }
    }
    return NULL;
}

int vb_emu_start(struct vb_emu *e, int cpu)
{
    e->cpu = cpu;
    atomic_store(&e->stop, false);
    int r = pthread_create(&e->thread, NULL, emu_thread, e);
    if (r != 0)
        return -r;
    e->running = true;
    return 0;
}

void vb_emu_stop(struct vb_emu *e)
{
    if (!e->running)
        return;
    atomic_store(&e->stop, true);
    pthread_join(e->thread, NULL);
    e->running = false;
}

void vb_emu_close(struct vb_emu *e)
{
    vb_emu_stop(e);
    for (int b = 0; b < VB_EMU_MAX; b++)
        if (e->fds[b] >= 0) {
            close(e->fds[b]);
            e->fds[b] = -1;
        }
    io_free(e->io);
    e->io = NULL;
    vb_emu_core_free(&e->core);
}

void vb_emu_snapshot(struct vb_emu *e, struct vb_emu_snap *s, bool clear)
{
    pthread_mutex_lock(&e->lock);
    const struct vb_aff *a = &e->core.aff;
    s->n = e->core.n;
    memcpy(s->cnt, e->core.cnt, sizeof(s->cnt));
    memcpy(s->keys, a->keys, sizeof(s->keys));
    memcpy(s->splits, a->splits, sizeof(s->splits));
    s->unchecked = a->unchecked;
    s->nexamples = a->nexamples;
    memcpy(s->example, a->example, sizeof(s->example));
    if (clear)
        vb_emu_core_clear(&e->core);
    pthread_mutex_unlock(&e->lock);
}

uint64_t vb_emu_snap_requests(const struct vb_emu_snap *s)
{
    uint64_t t = 0;
    for (int b = 0; b < s->n; b++)
        for (int m = 0; m < VB_EMU_NMETHODS; m++)
            t += s->cnt[b].req[m];
    return t;
}

void vb_emu_print(FILE *f, const struct vb_emu_snap *s)
{
    static const char *names[] = {
#define X(n) #n,
        VB_EMU_METHODS(X)
#undef X
    };
    uint64_t total = vb_emu_snap_requests(s);
    fprintf(f, "backend  requests  share  ");
    for (int m = 0; m < VB_EMU_NMETHODS; m++)
        fprintf(f, "%9s", names[m]);
    fprintf(f, "  responses  malformed\n");
    for (int b = 0; b < s->n; b++) {
        const struct vb_emu_count *c = &s->cnt[b];
        uint64_t r = 0;
        for (int m = 0; m < VB_EMU_NMETHODS; m++)
            r += c->req[m];
        fprintf(f, "%7d %9llu %5.1f%%  ", b, (unsigned long long)r,
                total ? 100.0 * (double)r / (double)total : 0.0);
        for (int m = 0; m < VB_EMU_NMETHODS; m++)
            fprintf(f, "%9llu", (unsigned long long)c->req[m]);
        fprintf(f, "  %9llu  %9llu\n", (unsigned long long)c->responses,
                (unsigned long long)(c->malformed + c->stray));
    }
    uint64_t splits = s->splits[0] + s->splits[1];
    fprintf(f, "affinity: %s - %llu Call-IDs and %llu AORs, each seen at one backend%s",
            splits == 0 && s->unchecked == 0 ? "PASS" : "FAIL", (unsigned long long)s->keys[0],
            (unsigned long long)s->keys[1], splits ? " except:" : "");
    if (splits)
        fprintf(f, " %llu messages reached a second backend", (unsigned long long)splits);
    if (s->unchecked)
        fprintf(f, "; %llu messages not checked (key table full)",
                (unsigned long long)s->unchecked);
    fputc('\n', f);
    for (int i = 0; i < s->nexamples; i++)
        fprintf(f, "  split: %s\n", s->example[i]);
}

int vb_emu_main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:5070", *replies = "100,180,200";
    long n = 4, duration = 600, cpu = -1;
    bool no_reply = false;
    const struct vb_opt opts[] = {
        {"listen", VB_OPT_STR, &listen, 0, 0, "IP:PORT",
         "first backend; the others follow on "
         "the next ports (127.0.0.1:5070)"},
        {"backends", VB_OPT_INT, &n, 1, VB_EMU_MAX, "N", "how many backends (4)"},
        {"invite-replies", VB_OPT_STR, &replies, 0, 0, "LIST",
         "answers to INVITE: 100,180,200 | 180,200 | 200"},
        {"no-reply", VB_OPT_FLAG, &no_reply, 0, 0, NULL, "count only, answer nothing"},
        {"duration", VB_OPT_INT, &duration, 1, 86400, "S", "stop after S seconds (600)"},
        {"cpu", VB_OPT_INT, &cpu, -1, 4095, "C", "pin to CPU C (-1: not pinned)"},
        VB_OPT_END,
    };
    static const char summary[] =
        "Emulated SIP backends answering REGISTER/INVITE/BYE/OPTIONS/MESSAGE (never ACK),\n"
        "counting per backend and checking affinity. SIGUSR1 prints the counts; SIGINT or\n"
        "SIGTERM (or --duration) stops and prints them.";
    if (vb_opts_parse("emulate", summary, opts, argc, argv) < 0)
        return 2;
    int mode = vb_invite_mode_parse(replies);
    if (mode < 0) {
        fprintf(stderr, "viaduct-bench emulate: bad --invite-replies '%s'\n", replies);
        return 2;
    }
    vb_block_signals();
    static struct vb_emu e;
    char err[160];
    if (vb_emu_open(&e, listen, (int)n, mode, no_reply, err, sizeof(err)) < 0) {
        fprintf(stderr, "viaduct-bench emulate: %s\n", err);
        return 1;
    }
    if (vb_emu_start(&e, (int)cpu) < 0) {
        fprintf(stderr, "viaduct-bench emulate: cannot start the thread\n");
        vb_emu_close(&e);
        return 1;
    }
    char a[64];
    net_addr_format((struct sockaddr *)&e.addr[0], a, sizeof(a));
    fprintf(stderr, "viaduct-bench emulate: %ld backends from %s, INVITE answered %s%s\n", n, a,
            replies, no_reply ? " (no replies)" : "");
    static struct vb_emu_snap s;
    uint64_t end = vb_now_ns() + (uint64_t)duration * 1000000000ull;
    for (uint64_t now = vb_now_ns(); now < end; now = vb_now_ns()) {
        uint64_t left_ms = (end - now) / 1000000 + 1;
        int sig = vb_wait_signal(left_ms > 1000 ? 1000 : (int)left_ms);
        if (sig == SIGUSR1) {
            vb_emu_snapshot(&e, &s, false);
            vb_emu_print(stderr, &s);
        } else if (sig != 0) {
            break;
        }
    }
    vb_emu_stop(&e);
    vb_emu_snapshot(&e, &s, false);
    vb_emu_print(stdout, &s);
    int rc = e.result < 0 || s.splits[0] + s.splits[1] > 0 ? 1 : 0;
    vb_emu_close(&e);
    return rc;
}
