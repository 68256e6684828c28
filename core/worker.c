/*
 * worker.c - see worker.h. The thread body is the engine's loop; the only
 * per-datagram work here is the call into px_handle.
 */
#include "core/worker.h"

#include "core/clock.h"
#include "core/health.h"
#include "core/log.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* An overload episode begins with the first datagram at or above the
 * shedding threshold and ends after a second with none: logged once each
 * way, however long it lasts (px_guard.c does the shedding). */
static void overload_watch(struct wk *w, const struct px_cfg *cfg, const struct net_rx *rx)
{
    if (rx->load >= cfg->overload_pct) {
        w->overload_last_ms = w->now_ms;
        if (!w->overloaded) {
            w->overloaded = true;
            ST_INC(&w->st, overload_episodes);
            char id[12];
            snprintf(id, sizeof(id), "%d", w->id);
            log_line(LOG_WARN, &(struct log_kv){"worker", id}, 1,
                     "worker %d overloaded (%u%% of its receive buffers held): shedding new "
                     "out-of-dialog requests",
                     w->id, rx->load);
        }
    } else if (w->overloaded && w->now_ms - w->overload_last_ms > 1000) {
        w->overloaded = false;
        char id[12];
        snprintf(id, sizeof(id), "%d", w->id);
        log_line(LOG_INFO, &(struct log_kv){"worker", id}, 1, "worker %d no longer overloaded",
                 w->id);
    }
}

static void on_rx(void *ctx, const struct net_rx *rx, struct net_tx *tx)
{
    struct wk *w = ctx;
    struct net_rx own;
    if (w->ps.has_tcp_out && rx->sock >= w->ps.tcp_out_first) {
        /* to one of the worker's own sockets (a response to a request that came over TCP):
         * it is handled as if it came to the UDP listener whose address that socket shares */
        own = *rx;
        own.sock = w->ps.tcp_out_udp[rx->sock == w->ps.tcp_out_sock[1]];
        rx = &own;
    }
    const struct px_cfg *cfg = atomic_load_explicit(&w->pub->cfg, memory_order_acquire);
    if (rx->load >= cfg->overload_pct || w->overloaded)
        overload_watch(w, cfg, rx);
    px_handle(cfg, &w->ps, &w->st, rx, tx, w->now_ms, w->now_us);
}

/* Two clock reads per batch (up to w->batch datagrams): a read costs 15-30
 * ns here, a datagram's whole handling 500-1000 ns. The coarse monotonic
 * clock serves windows of seconds; the send times in our Via and the
 * latencies measured from them need microseconds on a clock every instance
 * shares (px.h PX_VDT): CLOCK_REALTIME, also from the vDSO. */
static void on_batch(void *ctx)
{
    struct wk *w = ctx;
    w->now_ms = clk_coarse_ms();
    w->now_us = clk_real_us();
    /* once per batch, not per datagram: a ping answered 200 one batch late is still true */
    w->ps.draining = w->draining != NULL && atomic_load_explicit(w->draining, memory_order_relaxed);
}

static void on_quiescent(void *ctx)
{
    struct wk *w = ctx;
    atomic_store_explicit(&w->quiescent_ms, clk_coarse_ms(), memory_order_relaxed);
    atomic_store_explicit(&w->seen_gen, atomic_load_explicit(&w->pub->gen, memory_order_acquire),
                          memory_order_release);
}

/* The engine sent again what an error may have held up (net.h); a send
 * that fails after that is lost, and its error says nothing about its
 * destination, so it is only counted. */
static void on_send_error(void *ctx, const struct net_tx *tx, int err)
{
    struct wk *w = ctx;
    if (tx->conn != 0 && err == -ENOTCONN) {
        ST_INC(&w->st, tcp_conn_gone); /* a response whose client has hung up */
        return;
    }
    ST_INC(&w->st, tx_lost);
}

/* The error queue names the destination of the datagram that drew the
 * ICMP error: the one place that may hint at a backend's health. */
static void on_icmp(void *ctx, const struct net_icmp *e)
{
    struct wk *w = ctx;
    if (!e->remote || e->dstlen == 0) {
        ST_INC(&w->st, icmp_other);
        return;
    }
    int hint = hc_icmp_hint(atomic_load_explicit(&w->pub->cfg, memory_order_acquire), e->dst,
                            clk_coarse_ms());
    if (hint == HC_HINT_NONE) {
        ST_INC(&w->st, icmp_client);
        return;
    }
    ST_INC(&w->st, icmp_backend);
    const struct px_backend_ref *r;
    const struct px_cfg *cfg = atomic_load_explicit(&w->pub->cfg, memory_order_acquire);
    for (int k = px_backends_at(cfg, e->dst, &r); k > 0; k--, r++)
        ST_BE_INC(&w->st, cfg->pools[r->pool].slot[r->index], icmp_errors);
    if (hint == HC_HINT_HELD)
        ST_INC(&w->st, backend_holddowns);
}

static void on_event(void *ctx, int ev, const struct sockaddr *dst)
{
    struct wk *w = ctx;
    if (wk_tcp_event(w, ev))
        return;
    switch (ev) {
    case NET_EV_RX_ENOBUFS: ST_INC(&w->st, rx_enobufs); break;
    case NET_EV_RX_ERROR: ST_INC(&w->st, rx_errors); break;
    case NET_EV_TX_RETRIED:
        ST_INC(&w->st, tx_retried);
        if (dst != NULL)
            ST_BE_INC(&w->st,
                      px_backend_slot(atomic_load_explicit(&w->pub->cfg, memory_order_acquire),
                                      dst),
                      retried);
        break;
    default: ST_INC(&w->st, tx_dropped); break;
    }
}

int wk_open(struct wk *w, const struct px_cfg *cfg, char *err, size_t errlen)
{
    w->nfds = 0;
    for (int i = 0; i < cfg->nudp; i++) {
        const struct px_listen *l = &cfg->listen[i];
        int fd =
            net_udp_open((const struct sockaddr *)&l->addr, l->addrlen, true, 4 << 20, 4 << 20);
        if (fd < 0) {
            char a[64];
            net_addr_format((const struct sockaddr *)&l->addr, a, sizeof(a));
            snprintf(err, errlen, "cannot listen on %s: %s", a, strerror(-fd));
            for (int j = 0; j < w->nfds; j++)
                close(w->fds[j]);
            w->nfds = 0;
            return fd;
        }
        w->fds[w->nfds++] = fd;
    }
    int r = wk_tcp_open(w, cfg, err, errlen);
    if (r < 0) {
        for (int j = 0; j < w->nfds; j++)
            close(w->fds[j]);
        w->nfds = 0;
    }
    return r;
}

static void *wk_main(void *arg)
{
    struct wk *w = arg;
    /* a key no outsider knows: sources cannot be chosen to share a set */
    uint64_t key = 0;
    if (getrandom(&key, sizeof(key), 0) != (ssize_t)sizeof(key))
        key = (uint64_t)clk_coarse_ms() * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)w;
    gd_init(&w->ps.gd, key); /* touched first by this thread: its memory is local */
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
    struct net_engine_cfg ec = {
        .fds = w->fds,
        .nfds = w->nfds,
        .buf_size = w->buf_size,
        .nbufs = w->nbufs,
        .batch = w->batch,
        .cpu = w->cpu,
        .handler = on_rx,
        .on_send_error = on_send_error,
        .on_icmp = on_icmp,
        .on_event = on_event,
        .on_quiescent = on_quiescent,
        .on_batch = on_batch,
        .ctx = w,
        .stop = w->stop,
    };
    w->ps.wk_id = w->id;
    w->result = wk_tcp_setup(w, &ec);
    if (w->result == 0)
        w->result = w->io == WK_IO_URING ? net_uring_run(&ec) : net_mmsg_run(&ec);
    if (w->result < 0)
        kill(getpid(), SIGUSR2);
    return NULL;
}

const struct px_cfg *wk_publish(struct wk_pub *pub, struct wk *w, int n, const struct px_cfg *cfg,
                                int timeout_ms)
{
    const struct px_cfg *old = atomic_exchange(&pub->cfg, cfg);
    uint64_t gen = atomic_fetch_add(&pub->gen, 1) + 1;
    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        int behind = 0;
        for (int i = 0; i < n; i++)
            behind += atomic_load_explicit(&w[i].seen_gen, memory_order_acquire) < gen;
        if (behind == 0)
            return old;
        usleep(5000);
    }
    return NULL;
}

int wk_start(struct wk *w)
{
    /* live from the start: its first quiescent point is up to 100 ms away */
    atomic_store_explicit(&w->quiescent_ms, clk_coarse_ms(), memory_order_relaxed);
    return -pthread_create(&w->thread, NULL, wk_main, w);
}

void wk_join(struct wk *w)
{
    pthread_join(w->thread, NULL);
    for (int i = 0; i < w->nfds; i++)
        close(w->fds[i]);
    w->nfds = 0;
    wk_tcp_close(w);
}
