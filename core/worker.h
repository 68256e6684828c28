/*
 * worker.h - one forwarding thread: pinned to a CPU, owning its sockets (one
 * per listening address, bound with SO_REUSEPORT so the kernel spreads
 * datagrams over workers), its engine and its counters. Workers share only
 * the immutable config, the stop flag and the drain flag.
 */
#ifndef VIADUCT_WORKER_H
#define VIADUCT_WORKER_H

#include <pthread.h>

#include "core/px.h"

enum wk_io { WK_IO_URING, WK_IO_MMSG };

/*
 * The published runtime config: replaced whole by one atomic pointer store
 * (a reload), never changed in place. A worker loads it once per datagram
 * and, between batches, records the generation it has seen (a quiescent
 * point: it holds no config pointer then). The old config is freed once
 * every worker has recorded the new generation, so no worker locks and none
 * can still be reading what is freed.
 */
struct wk_pub {
    _Atomic(const struct px_cfg *) cfg;
    atomic_uint_fast64_t gen;
};

/* The stream framer's state for one connection slot (worker_tcp.c), and the connection
 * generation it belongs to. */
struct wk_frame {
    struct sip_frame f;
    uint32_t gen;
};

struct wk {
    int id;
    int cpu; /* -1: not pinned */
    enum wk_io io;
    int fds[NET_MAX_SOCKS]; /* index i listens on cfg->listen[i] (UDP: i < cfg->nudp) */
    int nfds;
    int lfds[NET_MAX_SOCKS]; /* TCP listener k listens on cfg->listen[cfg->nudp + k] */
    int nlfds;
    struct cfg_tcp tcp_lim;     /* max_conns is this worker's share */
    struct net_stream_cfg scfg; /* the engine's TCP, when nlfds > 0 */
    struct wk_frame *frames;    /* [tcp_lim.max_conns], allocated when the thread starts */
    struct net_tx ttx;          /* what a TCP message's handling sends, sent at once */
    unsigned nbufs, buf_size, batch;
    struct wk_pub *pub;
    atomic_uint_fast64_t seen_gen; /* pub->gen at this worker's last quiescent point */
    const atomic_bool *stop;
    const atomic_bool *draining; /* the server's (server.h); NULL: never */
    int result;     /* the engine's return: 0 or -errno */
    int64_t now_ms; /* clk_coarse_ms() at the start of the current batch */
    int64_t now_us; /* clk_real_us() at the same moment */
    /* clk_coarse_ms() at its last quiescent point (the engines pass one at
     * least every few hundred ms even when idle): /healthz reads it */
    _Atomic int64_t quiescent_ms;
    bool overloaded;  /* in an overload episode (worker.c overload_watch) */
    int64_t overload_last_ms;
    pthread_t thread;
    struct st_worker st;
    struct px_state ps;
};

/* Opens w's sockets on every listening address of cfg. 0, or -errno with a
 * one-line reason in err. */
int wk_open(struct wk *w, const struct px_cfg *cfg, char *err, size_t errlen);

/* Publishes cfg to the workers and waits (up to timeout_ms) until none of
 * them can still hold the config it replaces, which it returns for the
 * caller to free; NULL if a worker did not come by in time (then the old
 * config must be kept: it may still be read). Called by one thread. */
const struct px_cfg *wk_publish(struct wk_pub *pub, struct wk *w, int n, const struct px_cfg *cfg,
                                int timeout_ms);

/* worker_tcp.c: opens w's TCP listeners (cfg->listen[nudp..]): 0 or -errno with err. */
int wk_tcp_open(struct wk *w, const struct px_cfg *cfg, char *err, size_t errlen);
/* Points ec at w's TCP listeners and their limits, if it has any. 0 or -ENOMEM. */
int wk_tcp_setup(struct wk *w, struct net_engine_cfg *ec);
/* Counts a connection event; false if ev is not one. */
bool wk_tcp_event(struct wk *w, int ev);
/* Closes the TCP listeners and frees the framer states. */
void wk_tcp_close(struct wk *w);

/* Starts the thread; on engine failure it sets w->result and sends the
 * process SIGUSR2 so the main thread can stop everything. 0 or -errno. */
int wk_start(struct wk *w);

/* Joins the thread and closes the sockets. */
void wk_join(struct wk *w);

#endif
