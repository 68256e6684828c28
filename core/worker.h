/*
 * worker.h - one forwarding thread: pinned to a CPU, owning its sockets (one
 * per listening address, bound with SO_REUSEPORT so the kernel spreads
 * datagrams over workers), its engine and its counters. Workers share only
 * the immutable config and the stop flag.
 */
#ifndef VIADUCT_WORKER_H
#define VIADUCT_WORKER_H

#include <pthread.h>

#include "core/px.h"

enum wk_io { WK_IO_URING, WK_IO_MMSG };

struct wk {
    int id;
    int cpu; /* -1: not pinned */
    enum wk_io io;
    int fds[NET_MAX_SOCKS]; /* index i listens on cfg->listen[i] */
    int nfds;
    unsigned nbufs, buf_size, batch;
    const struct px_cfg *cfg;
    const atomic_bool *stop;
    int result; /* the engine's return: 0 or -errno */
    pthread_t thread;
    struct st_worker st;
    struct px_state ps;
};

/* Opens w's sockets on every listening address of cfg. 0, or -errno with a
 * one-line reason in err. */
int wk_open(struct wk *w, const struct px_cfg *cfg, char *err, size_t errlen);

/* Starts the thread; on engine failure it sets w->result and sends the
 * process SIGUSR2 so the main thread can stop everything. 0 or -errno. */
int wk_start(struct wk *w);

/* Joins the thread and closes the sockets. */
void wk_join(struct wk *w);

#endif
