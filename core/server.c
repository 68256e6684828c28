/*
 * server.c - see server.h. Start-up, reload and shutdown of the running
 * process; the log lines here are the ones operators and the integration
 * tests read, so their wording is part of the interface.
 */
#include "core/server.h"

#include "core/log.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* log.format and log.level of c, for every line from now on (validated: they parse). */
static void apply_log(const struct cfg *c)
{
    enum log_format f = LOG_LOGFMT;
    enum log_level l = LOG_INFO;
    log_parse_format(c->log.format, &f);
    log_parse_level(c->log.level, &l);
    log_setup(f, l, 2);
}

static void gen_free(struct server_gen *g)
{
    if (g == NULL)
        return;
    px_cfg_free(&g->px);
    cfg_free(&g->cfg);
    if (g->src != NULL) {
        cfg_free(g->src);
        free(g->src);
    }
    free(g);
}

static bool dns_ok(void *arg, const struct sockaddr *sa)
{
    return px_dns_dest_ok(arg, sa);
}

/*
 * Builds g->px from g->cfg; with DNS names, g->cfg is first expanded from
 * g->src with the resolver's records, refusing the addresses filter (the
 * running px: its listeners are fixed) would refuse. With no filter (the
 * first generation) px is built, then the expansion checked against it
 * and px built again if that refused an address. 0 or -1 with err.
 */
static int gen_build(struct server *s, struct server_gen *g, const struct px_cfg *filter,
                     char *err, size_t errlen)
{
    int refused = 0;
    if (g->src != NULL && s->dns != NULL &&
        dns_build(s->dns, &g->cfg, g->src, filter ? dns_ok : NULL, (void *)(uintptr_t)filter,
                  &refused, err, errlen) < 0)
        return -1;
    if (px_cfg_build(&g->px, &g->cfg, err, errlen) < 0)
        return -1;
    g->px.names = s->names;
    g->px.own = s->own;
    if (g->src == NULL || s->dns == NULL || filter != NULL)
        goto refused;
    if (dns_build(s->dns, &g->cfg, g->src, dns_ok, &g->px, &refused, err, errlen) < 0)
        return -1;
    if (refused > 0) {
        px_cfg_free(&g->px);
        memset(&g->px, 0, sizeof(g->px));
        if (px_cfg_build(&g->px, &g->cfg, err, errlen) < 0)
            return -1;
        g->px.names = s->names;
        g->px.own = s->own;
    }
refused:
    if (refused > 0)
        log_warn("dns: %d record%s refused: viaduct itself, link-local, or loopback and its "
                 "own addresses when it does not listen on loopback",
                 refused, refused == 1 ? "" : "s");
    return 0;
}

static void publish_locked(struct server *s, struct server_gen *ng, struct server_gen *og,
                           char *err, size_t errlen);
static void dns_changed(void *arg);



/* A new generation loaded from every layer, or NULL with the reason in err. */
static struct server_gen *gen_load(struct server *s, char *err, size_t errlen)
{
    struct server_gen *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (s->load(s->load_arg, &g->cfg, err, errlen) != 0) {
        gen_free(g);
        return NULL;
    }
    if (dns_any(&g->cfg) && (g->src = cfg_dup(&g->cfg)) == NULL) {
        snprintf(err, errlen, "out of memory");
        gen_free(g);
        return NULL;
    }
    return g;
}

static int count_backends(const struct px_cfg *p)
{
    int n = 0;
    for (int i = 0; i < p->npools; i++)
        n += p->pools[i].rt->n;
    return n;
}

/* Pools with backends: an empty default pool is no pool, but the 404 for
 * what no rule matches (the banner says so). */
static int count_pools(const struct px_cfg *p)
{
    int n = 0;
    for (int i = 0; i < p->npools; i++)
        n += p->pools[i].rt->n > 0;
    return n;
}

/* Listening addresses, advertised names and the worker count are fixed by
 * the sockets and threads already running: a reload may not change them. */
static bool same_sockets(const struct cfg *a, const struct cfg *b)
{
    if (a->nlisten != b->nlisten || a->workers != b->workers || strcmp(a->io, b->io) != 0 ||
        a->max_msg != b->max_msg || strcmp(a->admin.listen, b->admin.listen) != 0 ||
        memcmp(&a->tcp, &b->tcp, sizeof(a->tcp)) != 0) /* the workers' tables are sized */
        return false;
    for (int i = 0; i < a->nlisten; i++)
        if (strcmp(a->listen[i], b->listen[i]) != 0 || strcmp(a->advertise[i], b->advertise[i]))
            return false;
    return true;
}

static int allowed_cpus(int *cpus, int max)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    return n;
}

static int64_t realtime_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int server_init(struct server *s, server_load_fn *load, void *arg, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->load = load;
    s->load_arg = arg;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->cur_mu, NULL);
    s->cur = gen_load(s, err, errlen);
    if (s->cur == NULL)
        return -1;
    s->cur->id = 1;
    s->last.gen = 1;
    s->start_ms = realtime_ms();
    return 0;
}

/* Closes the sockets of the first n workers (opened, never started). */
static void close_workers(struct server *s, int n)
{
    for (int j = 0; j < n; j++)
        for (int k = 0; k < s->workers[j].nfds; k++)
            close(s->workers[j].fds[k]);
}

static void log_banner(const struct server *s, const char *version)
{
    const struct px_cfg *px = &s->cur->px;
    char a[80];
    int n = s->nworkers, nbackends = count_backends(px), npools = count_pools(px);
    net_addr_format((const struct sockaddr *)&px->listen[0].addr, a, sizeof(a));
    const char *io = s->io == WK_IO_URING ? "io_uring" : "recvmmsg";
    struct log_kv kv[] = {{"version", version}, {"io", io}};
    log_line(LOG_INFO, kv, 2,
             "viaduct %s: %d worker%s (%s), listening on %s (+%d more), %d backend%s in %d "
             "pool%s%s",
             version, n, n == 1 ? "" : "s", io, a, px->nlisten - 1, nbackends,
             nbackends == 1 ? "" : "s", npools, npools == 1 ? "" : "s",
             px->pools[0].rt->n == 0 && !px->pools[0].dns ? "; no default pool: a request no rule matches is answered "
                                       "404"
                                     : "");
}

/* A TCP connection is a descriptor: the soft RLIMIT_NOFILE (often 1024) is raised to the
 * hard one, and a tcp.max_connections above what that leaves is warned about, since past it
 * accept fails with EMFILE (net/stream.c then pauses accepting, counted as
 * tcp_accept_paused) rather than refusing at the table (tcp_refused). */
static void raise_nofile(const struct cfg *c, int nworkers)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    /* each worker's own sockets and ring, the management API, DNS, the log: a margin */
    rlim_t need = (rlim_t)c->tcp.max_conns + 16 * (rlim_t)nworkers + 64;
    if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur)
        log_warn("tcp.max_connections is %u but the open-file limit is %llu (ulimit -n): "
                 "past about %llu connections accept fails and waits, raise the limit "
                 "(LimitNOFILE= in systemd)",
                 (unsigned)c->tcp.max_conns, (unsigned long long)rl.rlim_cur,
                 (unsigned long long)(rl.rlim_cur > need - c->tcp.max_conns
                                          ? rl.rlim_cur - (need - c->tcp.max_conns)
                                          : 0));
}

/* The workers' own sockets for TCP's requests (px_own), once every worker has opened its
 * own: set before any worker thread starts, never changed after. */
static int collect_own(struct server *s, int n)
{
    struct px_own *o = calloc(1, sizeof(*o) + (size_t)n * 2 * sizeof(o->s[0]));
    if (o == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        const struct px_state *ps = &s->workers[i].ps;
        for (int k = 0; ps->has_tcp_out && k < 2; k++) {
            if (ps->tcp_out_sock[k] < 0)
                continue;
            const struct px_listen *l = &ps->tcp_out[k];
            unsigned port = (unsigned)net_addr_port((const struct sockaddr *)&l->addr);
            o->port_bits[port >> 6] |= 1ull << (port & 63);
            o->s[o->n].addr = l->addr;
            o->s[o->n].wildcard = l->wildcard;
            o->n++;
        }
    }
    if (o->n == 0) {
        free(o);
        return 0;
    }
    pthread_mutex_lock(&s->mu); /* the DNS thread may build a generation meanwhile */
    s->own = o;
    s->cur->px.own = o;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int server_start(struct server *s, const char *version, char *err, size_t errlen)
{
    const struct cfg *c = &s->cur->cfg;
    apply_log(c);
    int cpus[SERVER_MAX_WORKERS];
    int ncpu = allowed_cpus(cpus, SERVER_MAX_WORKERS);
    int n = c->workers > 0 ? c->workers : (ncpu > 0 ? ncpu : 1);
    s->workers = calloc((size_t)n, sizeof(*s->workers));
    s->asks = calloc((size_t)n, sizeof(*s->asks));
    s->names = dns_cache_new();
    if (s->workers == NULL || s->asks == NULL || s->names == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++)
        s->asks[i].wake_fd = -1;
    s->dns = dns_start(c, dns_changed, s, s->names, s->asks, n, err, errlen);
    if (s->dns == NULL)
        return -1;
    if (s->cur->src != NULL) {
        /* the first answers, so the banner counts backends: a name that has
         * none by then gives none until it resolves (its pool answers 503) */
        dns_watch(s->dns, s->cur->src);
        if (!dns_wait(s->dns, 4 * (int)c->dns.timeout_ms + 500))
            log_warn("dns: some names have not answered yet: their pools have no backends "
                     "until they do");
    }
    if (gen_build(s, s->cur, NULL, err, errlen) < 0)
        return -1;
    atomic_store(&s->pub.cfg, &s->cur->px);

    if (s->cur->px.nlisten > s->cur->px.nudp)
        raise_nofile(c, n);
    s->io = WK_IO_MMSG;
    if (strcmp(c->io, "uring") == 0 || (strcmp(c->io, "auto") == 0 && net_uring_available()))
        s->io = WK_IO_URING;
    for (int i = 0; i < n; i++) {
        struct wk *w = &s->workers[i];
        w->id = i;
        w->cpu = ncpu > 0 ? cpus[i % ncpu] : -1;
        w->io = s->io;
        w->nbufs = 1024;
        w->buf_size = c->max_msg;
        w->pub = &s->pub;
        w->batch = 64;
        w->stop = &s->stop;
        w->draining = &s->draining;
        w->ps.ask = &s->asks[i];
        w->tcp_lim = c->tcp;
        w->tcp_lim.max_conns = (c->tcp.max_conns + (uint32_t)n - 1) / (uint32_t)n;
        if (w->tcp_lim.max_conns > NET_MAX_CONNS)
            w->tcp_lim.max_conns = NET_MAX_CONNS;
        if (s->cur->px.nlisten > s->cur->px.nudp && s->io != WK_IO_URING) {
            snprintf(err, errlen,
                     "a tcp listener needs the io_uring engine, which this host does not allow "
                     "(io: auto chose recvmmsg)");
            close_workers(s, i);
            return -1;
        }
        if (wk_open(w, &s->cur->px, err, errlen) < 0) {
            close_workers(s, i);
            return -1;
        }
    }
    if (collect_own(s, n) < 0) {
        snprintf(err, errlen, "out of memory");
        close_workers(s, n);
        return -1;
    }
    s->hc = hc_start(&s->cur->px, c, &s->hc_stats, err, errlen);
    if (s->hc == NULL) {
        close_workers(s, n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (wk_start(&s->workers[i]) < 0) {
            atomic_store(&s->stop, true);
            for (int j = 0; j < i; j++)
                wk_join(&s->workers[j]);
            close_workers(s, n); /* wk_join closed those it joined: nfds is 0 there */
            hc_stop(s->hc);
            s->hc = NULL;
            snprintf(err, errlen, "cannot start worker threads");
            return -1;
        }
    }
    s->nworkers = n;
    s->version = version;
    s->started = true;
    log_banner(s, version);
    if (s->dns != NULL)
        dns_changed(s); /* records that changed while this started */
    if (s->cur->px.secret_random)
        log_warn("no security.secret_file or VIADUCT_SECRET: using a random secret. Other "
                 "viaduct instances will reject this one's flow tokens and the responses to "
                 "requests it forwarded, and a restart invalidates them all");
    return 0;
}

/* The "pool NAME: N backends, M of K slots changed" lines of a reload. */
static void log_pool_changes(const struct server_gen *ng, const struct server_gen *og)
{
    for (int p = 0; p < ng->px.npools; p++)
        for (int q = 0; q < og->px.npools; q++)
            if (strcmp(ng->cfg.pools[p].name, og->cfg.pools[q].name) == 0)
                log_info("pool %s: %d backends, %u of %u slots changed", ng->cfg.pools[p].name,
                         ng->px.pools[p].rt->n,
                         rt_slots_changed(og->px.pools[q].rt, ng->px.pools[p].rt),
                         ng->px.pools[p].rt->m);
}

/*
 * The reload proper, under s->mu: 0 or -1 with the reason in err, every
 * line logged. A configuration that does not load, or that would change
 * the sockets, is refused and the running one kept.
 */
static int reload_locked(struct server *s, char *err, size_t errlen)
{
    if (!s->started || s->stopped) {
        snprintf(err, errlen, "viaduct is not running");
        log_warn("reload refused: %s", err);
        return -1;
    }
    struct server_gen *ng = gen_load(s, err, errlen), *og = s->cur;
    if (ng == NULL) {
        log_warn("%s", err);
        log_warn("reload refused, the running configuration stays");
        return -1;
    }
    if (!same_sockets(&ng->cfg, &og->cfg)) {
        snprintf(err, errlen,
                 "listen, advertise, workers, io, max_message and tcp change only with a restart");
        log_warn("reload refused: %s", err);
        gen_free(ng);
        return -1;
    }
    if (gen_build(s, ng, &og->px, err, errlen) < 0) {
        log_warn("reload refused: %s", err);
        gen_free(ng);
        return -1;
    }
    publish_locked(s, ng, og, err, errlen);
    if (s->dns != NULL)
        dns_watch(s->dns, ng->src != NULL ? ng->src : &ng->cfg); /* kept names keep records */
    log_info("configuration reloaded: %d backends in %d pools", count_backends(&ng->px),
             ng->px.npools);
    return 0;
}

/*
 * With active health checks, an address DNS brings in after the start is
 * probed before it gets work: it starts down and up_after answered probes
 * take it up (the health thread restarted on ng sees it down). A configured
 * backend, and every backend at the start, starts up as before.
 */
static void probe_new_dns_backends(struct server_gen *ng, const struct server_gen *og)
{
    if (!ng->cfg.health.enabled)
        return;
    for (int p = 0; p < ng->cfg.npools; p++) {
        const struct rt_table *old = NULL;
        for (int q = 0; q < og->cfg.npools && old == NULL; q++)
            if (strcmp(og->cfg.pools[q].name, ng->cfg.pools[p].name) == 0)
                old = og->px.pools[q].rt;
        const struct cfg_pool *cp = &ng->cfg.pools[p];
        for (int i = 0; i < cp->nbackends; i++) {
            int k = rt_find(ng->px.pools[p].rt, cp->backends[i].address);
            if (!cp->backends[i].from_dns || k < 0 ||
                (old != NULL && rt_find(old, cp->backends[i].address) >= 0))
                continue;
            atomic_store(&ng->px.pools[p].state[k], RT_DOWN);
        }
    }
}

/* Publishes ng in place of og (both under mu): health carried, the health
 * thread restarted on ng. Logs each pool's change. s->cur changes under
 * cur_mu once the workers have moved on (or the wait ran out), so a reader
 * off the hot path never waits for them: it sees og until then, ng after,
 * and og is freed only after the swap, when no reader can still hold it. */
static void publish_locked(struct server *s, struct server_gen *ng, struct server_gen *og,
                           char *err, size_t errlen)
{
    px_cfg_carry_health(&ng->px, &ng->cfg, &og->px, &og->cfg);
    probe_new_dns_backends(ng, og);
    ng->id = og->id + 1;
    hc_stop(s->hc); /* it reads the old pools */
    s->hc = NULL;
    const struct px_cfg *old =
        wk_publish(&s->pub, s->workers, s->nworkers, &ng->px, SERVER_PUBLISH_MS);
    pthread_mutex_lock(&s->cur_mu);
    s->cur = ng;
    pthread_mutex_unlock(&s->cur_mu);
    if (old != NULL) {
        log_pool_changes(ng, og);
        gen_free(og);
    } else {
        /* a worker did not pass a quiescent point: it may still read the old
         * generation, which is therefore kept rather than freed */
        log_warn("a worker is slow to move on: the old configuration is kept");
        og->next = s->kept;
        s->kept = og;
    }
    err[0] = '\0';
    s->hc = hc_start(&ng->px, &ng->cfg, &s->hc_stats, err, errlen);
    if (s->hc == NULL)
        log_error("after the reload: %s (health checks stopped)", err);
    apply_log(&ng->cfg);
}

/* Same backends in every pool, in the same order: nothing to publish. */
static bool same_pools(const struct cfg *a, const struct cfg *b)
{
    if (a->npools != b->npools)
        return false;
    for (int p = 0; p < a->npools; p++)
        if (a->pools[p].nbackends != b->pools[p].nbackends ||
            (a->pools[p].nbackends > 0 &&
             memcmp(a->pools[p].backends, b->pools[p].backends,
                    (size_t)a->pools[p].nbackends * sizeof(struct cfg_backend)) != 0))
            return false;
    return true;
}

/*
 * dns_change_fn: some name's records changed. A new generation from the
 * running one's src with the records of now, published like a reload (off
 * the hot path, one pointer swap, health kept by address) if its backends
 * differ. Runs on the DNS thread; takes mu.
 */
static void dns_changed(void *arg)
{
    struct server *s = arg;
    char err[CFG_ERR_LEN];
    pthread_mutex_lock(&s->mu);
    struct server_gen *og = s->cur, *ng = NULL;
    if (!s->started || s->stopped || og == NULL || og->src == NULL)
        goto out;
    struct cfg *c = cfg_dup(og->src);
    ng = calloc(1, sizeof(*ng));
    if (c == NULL || ng == NULL || (ng->src = cfg_dup(og->src)) == NULL) {
        if (c != NULL) {
            cfg_free(c);
            free(c);
        }
        log_error("dns: out of memory for the new backends");
        goto out;
    }
    memcpy(&ng->cfg, c, sizeof(*c));
    free(c);
    if (gen_build(s, ng, &og->px, err, sizeof(err)) < 0) {
        log_error("dns: the new backends do not build: %s", err);
        goto out;
    }
    if (same_pools(&ng->cfg, &og->cfg))
        goto out;
    publish_locked(s, ng, og, err, sizeof(err));
    ng = NULL;
    pthread_mutex_lock(&s->cur_mu);
    s->dns_rebuilds++;
    pthread_mutex_unlock(&s->cur_mu);
    log_info("backends from DNS changed: %d backends in %d pools", count_backends(&s->cur->px),
             s->cur->px.npools);
out:
    gen_free(ng);
    pthread_mutex_unlock(&s->mu);
}



int server_reload(struct server *s, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->mu);
    int rc = reload_locked(s, err, errlen);
    pthread_mutex_lock(&s->cur_mu);
    s->last.gen = s->cur->id;
    s->last.at_ms = realtime_ms();
    s->last.rc = rc;
    snprintf(s->last.err, sizeof(s->last.err), "%s", err);
    if (rc == 0)
        s->reloads_ok++;
    else
        s->reloads_refused++;
    pthread_mutex_unlock(&s->cur_mu);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void server_last_reload(struct server *s, struct server_reload_result *out)
{
    pthread_mutex_lock(&s->cur_mu);
    *out = s->last;
    pthread_mutex_unlock(&s->cur_mu);
}

void server_set_draining(struct server *s, bool on)
{
    atomic_store(&s->draining, on);
}

bool server_draining(struct server *s)
{
    return atomic_load(&s->draining);
}

void server_snapshot(struct server *s, struct st_snapshot *out)
{
    struct st_worker *st[SERVER_MAX_WORKERS];
    for (int i = 0; i < s->nworkers; i++)
        st[i] = &s->workers[i].st;
    pthread_mutex_lock(&s->cur_mu);
    unsigned nslots = s->cur ? s->cur->px.next_slot : ST_MAX_BACKENDS;
    pthread_mutex_unlock(&s->cur_mu);
    st_snapshot_slots(st, s->nworkers, nslots, out);
}

void server_print_counters(struct server *s, FILE *f)
{
    struct st_snapshot *snap = malloc(sizeof(*snap));
    if (snap == NULL)
        return;
    server_snapshot(s, snap);
    pthread_mutex_lock(&s->cur_mu); /* a reload replaces the pools */
    st_print(f, snap);
    hc_print(f, &s->hc_stats);
    px_print_backends(f, &s->cur->px, &s->cur->cfg, snap);
    pthread_mutex_unlock(&s->cur_mu);
    free(snap);
}

unsigned server_drain_seconds(struct server *s)
{
    pthread_mutex_lock(&s->cur_mu);
    unsigned n = s->cur->cfg.shutdown.drain_seconds;
    pthread_mutex_unlock(&s->cur_mu);
    return n;
}

int server_stop(struct server *s)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stop, true);
    for (int i = 0; s->started && !s->stopped && i < s->nworkers; i++) {
        wk_join(&s->workers[i]);
        if (s->workers[i].result < 0) {
            log_error("worker %d: packet engine failed: %s", i, strerror(-s->workers[i].result));
            rc = -1;
        }
    }
    pthread_mutex_lock(&s->cur_mu);
    s->stopped = true;
    pthread_mutex_unlock(&s->cur_mu);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void server_free(struct server *s)
{
    dns_stop(s->dns); /* first: its call back takes mu and reads s->cur */
    s->dns = NULL;
    hc_stop(s->hc);
    s->hc = NULL;
    gen_free(s->cur);
    s->cur = NULL;
    while (s->kept != NULL) {
        struct server_gen *g = s->kept;
        s->kept = g->next;
        gen_free(g);
    }
    free(s->workers);
    s->workers = NULL;
    free(s->own);
    s->own = NULL;
    free(s->asks);
    s->asks = NULL;
    dns_cache_free(s->names);
    s->names = NULL;
    pthread_mutex_destroy(&s->cur_mu);
    pthread_mutex_destroy(&s->mu);
}
