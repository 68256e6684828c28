/*
 * server.h - the running process as one object: the configuration
 * generations, the workers, the health thread, the stop flag and what the
 * last reload did. Nothing of it lives in file-scope state; main.c owns one
 * struct server and passes it to every call.
 *
 * Who owns and writes what:
 *   - struct server_gen (a struct cfg and the struct px_cfg built from it)
 *     is immutable once built. s->cur is the generation published to the
 *     workers through s->pub (worker.h): only server_reload (and a change
 *     of DNS records) replaces it, under s->mu, so a signal handler loop and
 *     a management thread may both call it; the second waits for the first
 *     and sees its result. s->mu is held for the whole reload, the wait for
 *     the workers included (up to SERVER_PUBLISH_MS).
 *   - Whoever only reads s->cur off the hot path (the management API's GETs,
 *     SIGUSR1's counters) takes s->cur_mu instead, never s->mu: a reload
 *     holds s->cur_mu only to swap s->cur (and to write s->last and its
 *     counters), never while it loads, builds or waits, so a probe is never
 *     slowed by a reload in progress (Kubernetes gives one 1 s). It sees
 *     the old generation until the workers have moved on, the new one after;
 *     the old one is freed only after the swap, so none is freed under a
 *     reader. Lock order: s->mu, then s->cur_mu; a reader holds s->cur_mu
 *     alone and briefly (the POST that waits for the health thread holds
 *     s->mu, not s->cur_mu).
 *   - The workers take neither lock: per datagram they load s->pub.cfg
 *     (acquire), and between batches they record s->pub.gen, a quiescent
 *     point at which they hold no configuration pointer.
 *   - The health thread (s->hc) reads the pools of s->cur->px and writes
 *     their health states; a reload stops it before publishing and starts a
 *     new one on the new pools (health carried over by backend name).
 *   - s->stop is written once by server_stop and read by every worker.
 *   - s->draining is set by server_set_draining (main.c, on SIGTERM's drain)
 *     and read by whoever reports readiness, the workers included (once per
 *     batch: an OPTIONS to viaduct itself is answered 503); they go on
 *     forwarding everything else.
 *   - Counters are per worker, one writer each; server_print_counters takes
 *     one snapshot of their sum (stats.h).
 *
 * How a reload travels: load every layer into a fresh generation off the
 * hot path, refuse it if it changes what the sockets and threads fix, build
 * its px_cfg, stop the health thread, then wk_publish swaps the pointer and
 * waits (up to SERVER_PUBLISH_MS) until every worker has passed a quiescent
 * point; then s->cur is swapped under s->cur_mu for the readers off the hot
 * path. Then nobody can read the old generation and it is freed. If a
 * worker does not come by in time, it may still be reading the old one:
 * that generation is kept on s->kept (leaked while the process runs, freed
 * by server_free once the workers are joined).
 */
#ifndef VIADUCT_SERVER_H
#define VIADUCT_SERVER_H

#include <pthread.h>
#include <stdio.h>

#include "core/cfg.h"
#include "core/dns.h"
#include "core/dns_cache.h"
#include "core/health.h"
#include "core/worker.h"

#define SERVER_MAX_WORKERS 64
#define SERVER_PUBLISH_MS 2000 /* how long a reload waits for every worker */

/* One configuration generation: px points into cfg (rules use its strings).
 * When the configuration names backends by DNS, src is it as loaded and
 * cfg its expansion with the records of the moment (dns.h); a change of
 * records makes a new generation from the same src. */
struct server_gen {
    struct cfg cfg;
    struct cfg *src; /* NULL: no DNS names, cfg is as loaded */
    struct px_cfg px;
    uint64_t id;             /* 1 for the first, +1 per reload that took effect */
    struct server_gen *next; /* on s->kept: the next older kept generation */
};

/*
 * Fills c (zeroed) from every configuration layer and validates the whole:
 * 0, or -1 with the one-line reason in err ("FILE:LINE: ..." for a file
 * error). Called by server_init and again by each server_reload, so it
 * must give the same result for the same files and environment.
 */
typedef int server_load_fn(void *arg, struct cfg *c, char *err, size_t errlen);

/* What the last reload did; a copy, see server_last_reload. */
struct server_reload_result {
    uint64_t gen;         /* the generation running now */
    int64_t at_ms;        /* CLOCK_REALTIME of the last reload, 0 if none yet */
    int rc;               /* 0 (took effect) or -1 (refused) */
    char err[CFG_ERR_LEN]; /* why refused; after rc 0 a warning or "" */
};

struct server {
    server_load_fn *load;
    void *load_arg;
    pthread_mutex_t mu; /* held by server_reload and server_stop, never by a worker */
    pthread_mutex_t cur_mu; /* readers of cur (and last, the counters); a reload holds
                             * it only for the swap, see above */
    struct server_gen *cur; /* written under mu and cur_mu; the workers see it through pub */
    struct server_gen *kept; /* generations a slow worker may still have read */
    struct hc *hc;           /* written under mu */
    struct dns *dns;         /* the resolver (backends by name, Route hostnames): started by
                              * server_start, stopped by server_free */
    struct dns_cache *names; /* hostnames of next hops, written by the DNS thread only */
    struct dns_ask *asks;    /* [nworkers]: each worker's ask ring for names not cached */
    uint64_t dns_rebuilds;   /* generations made by a change of records, under mu and cur_mu */
    struct hc_stats hc_stats; /* the health threads' counters, kept across reloads */
    struct server_reload_result last; /* written under mu and cur_mu */
    uint64_t reloads_ok, reloads_refused; /* written under mu and cur_mu */
    bool started, stopped; /* stopped written under mu and cur_mu; started before any reader */
    atomic_bool draining; /* shutting down: /readyz says 503 (server_set_draining) */
    const char *version;  /* server_start's */
    int64_t start_ms;     /* CLOCK_REALTIME at server_init */
    /* fixed by server_start: */
    enum wk_io io;
    int nworkers;
    struct wk *workers; /* nworkers of them */
    struct px_own *own; /* the workers' own sockets for TCP's requests; NULL: none */
    struct wk_pub pub;
    atomic_bool stop;
};

/*
 * Loads the first configuration through load(arg, ...) into s->cur; opens
 * nothing and starts nothing (so --check can print s->cur->cfg and exit).
 * 0, or -1 with the one-line reason in err. Either way s must be released
 * with server_free.
 */
int server_init(struct server *s, server_load_fn *load, void *arg, char *err, size_t errlen);

/*
 * Builds the runtime configuration, opens every worker's sockets (so "port
 * in use" is reported before anything runs), starts the health thread and
 * one pinned thread per worker, and logs the "viaduct VERSION: N workers"
 * line. The caller blocks the signals it wants in its own thread first:
 * the threads inherit the mask. 0, or -1 with the reason in err (nothing
 * left running then).
 */
int server_start(struct server *s, const char *version, char *err, size_t errlen);

/*
 * Loads the configuration again from every layer and, if it is valid and
 * changes none of listen, advertise, workers, io and max_message, publishes
 * it to the workers and restarts the health thread on it. Logs what it does
 * (the lines a SIGHUP has always logged). Returns 0, or -1 with err holding
 * the reason the log gave, the running configuration untouched. Thread-safe:
 * serialised by s->mu; blocks up to SERVER_PUBLISH_MS for the workers.
 */
int server_reload(struct server *s, char *err, size_t errlen);

/* A copy of what the last reload did, taken under s->cur_mu (it never waits
 * for a reload in progress: that one's result is not in yet). */
void server_last_reload(struct server *s, struct server_reload_result *out);

/* Marks the process as draining for shutdown (or not): readiness probes
 * (/readyz) answer 503 from then on, forwarding goes on. Any thread. */
void server_set_draining(struct server *s, bool on);
bool server_draining(struct server *s);

/* One snapshot of the workers' counters (relaxed loads, no lock), for the
 * backend slots any configuration so far has given out. out is big:
 * allocate it. */
void server_snapshot(struct server *s, struct st_snapshot *out);

/* Prints one snapshot of the workers' counters, the health thread's and
 * each backend's ("name value" lines) to f. Takes s->cur_mu (for the pools
 * a reload replaces), never blocks a worker nor waits for a reload. */
void server_print_counters(struct server *s, FILE *f);

/* shutdown.drain_seconds of the running configuration (a reload may change
 * it), read under s->cur_mu. */
unsigned server_drain_seconds(struct server *s);

/*
 * Sets the stop flag and joins the workers (closing their sockets); a
 * reload after it is refused. The health thread runs on until server_free,
 * so the counters printed after the stop still include its. Returns 0, or
 * -1 if a worker's packet engine had failed (each such failure logged).
 */
int server_stop(struct server *s);

/* Stops the health thread and frees every generation (after server_stop,
 * if started). */
void server_free(struct server *s);

#endif
