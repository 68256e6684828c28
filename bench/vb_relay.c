/*
 * vb_relay.c - see vb_relay.h.
 *
 *   $ viaduct-bench relay --listen 127.0.0.1:5060 --backend 127.0.0.1:5070 --io mmsg
 *
 * The engine runs on a second thread so the main thread can take signals:
 * SIGUSR1 prints the counters, SIGTERM/SIGINT stop, print them and exit 0.
 */
#include "bench/vb_relay.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/vb_cli.h"

void vb_relay_handle(void *ctx, const struct net_rx *rx, struct net_tx *tx)
{
    struct vb_relay *r = ctx;
    if (rx->truncated)
        r->truncated++;
    tx->iov[0] = (struct iovec){rx->buf, rx->len};
    if (rx->sock == 0) {
        if (r->client_len != rx->srclen || memcmp(&r->client, rx->src, rx->srclen) != 0) {
            memcpy(&r->client, rx->src, rx->srclen);
            r->client_len = rx->srclen;
        }
        memcpy(&tx->dst, &r->backend, r->backend_len);
        tx->dstlen = r->backend_len;
        tx->sock = 1;
        r->to_backend++;
    } else {
        if (r->client_len == 0) {
            r->no_client++;
            return;
        }
        memcpy(&tx->dst, &r->client, r->client_len);
        tx->dstlen = r->client_len;
        tx->sock = 0;
        r->to_client++;
    }
    tx->niov = 1;
}

struct relay_thread {
    struct net_engine_cfg ec;
    bool uring;
    int result;
};

static void *relay_run(void *arg)
{
    struct relay_thread *t = arg;
    t->result = t->uring ? net_uring_run(&t->ec) : net_mmsg_run(&t->ec);
    if (t->result < 0)
        kill(getpid(), SIGTERM);
    return NULL;
}

static void print_counts(FILE *f, const struct vb_relay *r)
{
    fprintf(f, "to_backend %llu\nto_client %llu\nno_client %llu\ntruncated %llu\n",
            (unsigned long long)r->to_backend, (unsigned long long)r->to_client,
            (unsigned long long)r->no_client, (unsigned long long)r->truncated);
    fflush(f);
}

int vb_relay_main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:5060", *io = "mmsg";
    struct vb_strlist backends = {0};
    long batch = 64, workers = 1;
    const struct vb_opt opts[] = {
        {"listen", VB_OPT_STR, &listen, 0, 0, "IP:PORT", "where clients send (127.0.0.1:5060)"},
        {"backend", VB_OPT_LIST, &backends, 0, 0, "IP:PORT",
         "where to forward (repeatable; only the first is used)"},
        {"io", VB_OPT_STR, &io, 0, 0, "mmsg|uring", "packet engine (mmsg)"},
        {"batch", VB_OPT_INT, &batch, 1, 1024, "N", "datagrams per recvmmsg / CQE batch (64)"},
        {"workers", VB_OPT_INT, &workers, 1, 1, "1",
         "accepted for symmetry with viaduct; always 1"},
        VB_OPT_END,
    };
    static const char summary[] =
        "The null relay: forwards datagrams to one backend and back without reading them.\n"
        "SIGUSR1 prints counters; SIGTERM/SIGINT stop.";
    if (vb_opts_parse("relay", summary, opts, argc, argv) < 0)
        return 2;
    static struct vb_relay r;
    struct sockaddr_storage la;
    socklen_t ll;
    if (backends.n == 0 || net_addr_parse(backends.s[0], &r.backend, &r.backend_len) < 0 ||
        net_addr_parse(listen, &la, &ll) < 0 || (strcmp(io, "mmsg") && strcmp(io, "uring"))) {
        fprintf(stderr, "viaduct-bench relay: need --listen IP:PORT, --backend IP:PORT and "
                        "--io mmsg|uring\n");
        return 2;
    }
    int fds[2];
    fds[0] = net_udp_open((struct sockaddr *)&la, ll, false, 4 << 20, 4 << 20);
    /* the backend side: same address family and IP as the listener, any port */
    struct sockaddr_storage ba = la;
    if (ba.ss_family == AF_INET)
        ((struct sockaddr_in *)&ba)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&ba)->sin6_port = 0;
    fds[1] = fds[0] < 0 ? -1 : net_udp_open((struct sockaddr *)&ba, ll, false, 4 << 20, 4 << 20);
    if (fds[0] < 0 || fds[1] < 0) {
        fprintf(stderr, "viaduct-bench relay: cannot open sockets on %s: %s\n", listen,
                strerror(-(fds[0] < 0 ? fds[0] : fds[1])));
        if (fds[0] >= 0)
            close(fds[0]);
        return 1;
    }
    vb_block_signals();
    static atomic_bool stop;
    static struct relay_thread t;
    t.uring = strcmp(io, "uring") == 0;
    t.ec = (struct net_engine_cfg){
        .fds = fds,
        .nfds = 2,
        .buf_size = 16384,
        .nbufs = 1024,
        .batch = (unsigned)batch,
        .cpu = -1,
        .handler = vb_relay_handle,
        .ctx = &r,
        .stop = &stop,
    };
    pthread_t th;
    if (pthread_create(&th, NULL, relay_run, &t) != 0) {
        fprintf(stderr, "viaduct-bench relay: cannot start the thread\n");
        return 1;
    }
    fprintf(stderr, "viaduct-bench relay: %s -> %s (%s)\n", listen, backends.s[0],
            t.uring ? "io_uring" : "recvmmsg");
    for (;;) {
        int sig = vb_wait_signal(1000);
        if (sig == SIGUSR1)
            print_counts(stderr, &r);
        else if (sig != 0)
            break;
    }
    atomic_store(&stop, true);
    pthread_join(th, NULL);
    print_counts(stderr, &r);
    close(fds[0]);
    close(fds[1]);
    if (t.result < 0) {
        fprintf(stderr, "viaduct-bench relay: packet engine failed: %s\n", strerror(-t.result));
        return 1;
    }
    return 0;
}
