/*
 * dns_res.c - the resolver of dns.h: c-ares on one control thread.
 *
 * Who owns what: the thread alone touches the c-ares channel (c-ares 1.18's
 * channels are not thread-safe) and starts queries; d->mu guards the
 * entries' published part (records, state, counters) and the wanted list,
 * which dns_watch (the server, under its own lock) writes and the thread
 * applies when woken. Lock order: the server's lock, then d->mu; the thread
 * calls back (dns_change_fn, which takes the server's lock) holding none.
 *
 * One refresh of a name: NAME:PORT is one ares_getaddrinfo (A and AAAA,
 * DNS only: no hosts file); an SRV name is one SRV query, then one
 * ares_getaddrinfo per target (at most dns.max_records targets). When the
 * last of them is back the gathered records are normalised (dns.c) and,
 * if they differ from the last good set, published. A failure or an empty
 * answer keeps the last good set for dns.stale_seconds (serve stale), with
 * one log line when it starts, one when it ends and one if the set goes.
 */
#include "core/dns.h"

#include "core/clock.h"
#include "core/dns_route.h"
#include "core/log.h"
#include "net/net.h"

#include <ares.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

enum dns_state { DS_PENDING = 0, DS_OK, DS_STALE, DS_FAILED };
static const char *const state_names[] = {"pending", "ok", "stale", "failed"};

struct dns_entry {
    bool used, wanted;  /* a slot in use; still in the configuration */
    uint8_t kind;       /* CFG_DNS_HOST or CFG_DNS_SRV */
    char addr[CFG_STR]; /* as configured: "name:port" or the SRV name (the key) */
    char qname[DNS_NAME_MAX];
    int port;
    /* the thread's, during a refresh */
    int inflight;
    struct dns_rec *acc;
    int nacc;
    uint32_t acc_ttl;
    int acc_status; /* ARES_SUCCESS while nothing failed */
    int64_t next_ms;
    /* published, under d->mu */
    struct dns_rec *rec; /* the last good set, normalised */
    int n;
    enum dns_state state;
    bool answered; /* had its first answer or failure */
    bool cut_logged;
    int64_t good_ms;         /* clk of the last good answer */
    int64_t changed_real_ms; /* CLOCK_REALTIME of the last change of the set */
    uint32_t ttl;
    uint64_t queries, failures, changes, dropped;
    char why[96]; /* the last failure */
};

struct dns {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* answered changed */
    int wake;          /* eventfd: dns_watch and dns_stop */
    bool stop;
    dns_change_fn *fn;
    void *arg;
    ares_channel ch;
    struct cfg_dns_opts opts; /* applied */
    /* written by dns_watch under mu, taken by the thread */
    bool want_new;
    struct cfg_dns_opts want_opts;
    int nwant;
    struct {
        uint8_t kind;
        char addr[CFG_STR];
    } want[DNS_MAX_NAMES];
    bool unplaced; /* under mu: some wanted name has no entry yet (forgotten names still
                      resolving hold the slots; each frees its own when its queries end) */
    bool dirty;    /* thread only: a set changed since the last call back */
    uint64_t rnd;
    struct dns_route *route; /* hostnames of Route next hops; NULL: none */
    struct dns_entry e[DNS_MAX_NAMES];
};

/* One ares_getaddrinfo of a refresh: the SRV record's fields for its addresses. */
struct dns_q {
    struct dns *d;
    struct dns_entry *e;
    uint16_t prio, weight, port;
};

static uint64_t next_rnd(struct dns *d)
{
    uint64_t x = d->rnd; /* xorshift64*: jitter only, no secret */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    d->rnd = x;
    return x * 0x2545f4914f6cdd1dull;
}

static int64_t realtime_ms(void)
{
    return clk_real_us() / 1000;
}

static void add_rec(struct dns_entry *e, const struct sockaddr *sa, const struct dns_q *q)
{
    if (e->nacc >= DNS_ACC_MAX || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return;
    if (e->nacc % 64 == 0) {
        struct dns_rec *a = realloc(e->acc, (size_t)(e->nacc + 64) * sizeof(*a));
        if (a == NULL)
            return;
        e->acc = a;
    }
    struct dns_rec *r = &e->acc[e->nacc++];
    memset(r, 0, sizeof(*r));
    if (sa->sa_family == AF_INET) {
        memcpy(&r->addr, sa, sizeof(struct sockaddr_in));
        ((struct sockaddr_in *)(void *)&r->addr)->sin_port = htons(q->port);
        r->addrlen = sizeof(struct sockaddr_in);
    } else {
        memcpy(&r->addr, sa, sizeof(struct sockaddr_in6));
        ((struct sockaddr_in6 *)(void *)&r->addr)->sin6_port = htons(q->port);
        r->addrlen = sizeof(struct sockaddr_in6);
    }
    r->prio = q->prio;
    r->weight = q->weight;
}

static bool place_wanted(struct dns *d);

/* Under mu: frees a forgotten entry's slot, and gives it to a name that waited for one. */
static void forget(struct dns *d, struct dns_entry *e)
{
    free(e->acc);
    free(e->rec);
    memset(e, 0, sizeof(*e));
    if (d->unplaced)
        d->unplaced = !place_wanted(d);
}

/* The refresh is over (nothing in flight): publish what it found. */
static void finish(struct dns *d, struct dns_entry *e)
{
    if (e->acc_status == ARES_EDESTRUCTION || e->acc_status == ARES_ECANCELLED) {
        free(e->acc); /* dns_stop or a new channel: no answer, and nothing to say about it */
        e->acc = NULL;
        e->nacc = 0;
        pthread_mutex_lock(&d->mu);
        if (!e->wanted) /* forgotten while its queries ran: nothing else frees its slot */
            forget(d, e);
        pthread_mutex_unlock(&d->mu);
        return;
    }
    int64_t now = clk_now_ms();
    int distinct = 0;
    int n = dns_recs_norm(e->acc, e->nacc, (int)d->opts.max_records, &distinct);
    bool good = e->acc_status == ARES_SUCCESS && n > 0;
    pthread_mutex_lock(&d->mu);
    if (!e->wanted) { /* forgotten while its queries ran */
        forget(d, e);
        pthread_mutex_unlock(&d->mu);
        return;
    }
    e->answered = true;
    if (good) {
        if (distinct > n) {
            e->dropped += (uint64_t)(distinct - n);
            if (!e->cut_logged)
                log_warn("dns %s: %d records, more than dns.max_records: the first %d by "
                         "address are used",
                         e->addr, distinct, n);
            e->cut_logged = true;
        }
        if (e->state == DS_STALE || e->state == DS_FAILED)
            log_info("dns %s: answering again, %d records", e->addr, n);
        if (!dns_recs_equal(e->rec, e->n, e->acc, n)) {
            free(e->rec);
            e->rec = e->acc;
            e->n = n;
            e->acc = NULL;
            e->changes++;
            e->changed_real_ms = realtime_ms();
            d->dirty = true;
        }
        e->state = DS_OK;
        e->good_ms = now;
        e->ttl = e->acc_ttl;
        e->next_ms = now + dns_refresh_ms(e->acc_ttl, &d->opts, next_rnd(d));
    } else {
        const char *why =
            e->acc_status == ARES_SUCCESS ? "no usable records" : ares_strerror(e->acc_status);
        snprintf(e->why, sizeof(e->why), "%s", why);
        e->failures++;
        if (e->n > 0 && e->state == DS_OK) {
            e->state = DS_STALE;
            log_warn("dns %s: %s; its last %d records keep serving for up to %u s "
                     "(dns.stale_seconds)",
                     e->addr, why, e->n, d->opts.stale_seconds);
        } else if (e->state == DS_PENDING) {
            e->state = DS_FAILED;
            log_warn("dns %s: %s; no backends from it until it resolves", e->addr, why);
        }
        if (e->state == DS_STALE && now - e->good_ms >= (int64_t)d->opts.stale_seconds * 1000) {
            log_warn("dns %s: no good answer for %u s: its %d backends go", e->addr,
                     d->opts.stale_seconds, e->n);
            free(e->rec);
            e->rec = NULL;
            e->n = 0;
            e->state = DS_FAILED;
            e->changes++;
            e->changed_real_ms = realtime_ms();
            d->dirty = true;
        }
        e->next_ms = now + d->opts.refresh_min_ms;
    }
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    free(e->acc);
    e->acc = NULL;
    e->nacc = 0;
}

static void query_done(struct dns *d, struct dns_entry *e)
{
    if (--e->inflight == 0)
        finish(d, e);
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    struct dns_q *q = arg;
    struct dns_entry *e = q->e;
    if (status == ARES_SUCCESS && res != NULL) {
        for (struct ares_addrinfo_node *n = res->nodes; n != NULL; n = n->ai_next) {
            add_rec(e, n->ai_addr, q);
            if (n->ai_ttl >= 0 && (uint32_t)n->ai_ttl < e->acc_ttl)
                e->acc_ttl = (uint32_t)n->ai_ttl;
        }
    } else if (e->kind == CFG_DNS_HOST || status == ARES_ECANCELLED ||
               status == ARES_EDESTRUCTION) {
        e->acc_status = status; /* an SRV target that fails is one target fewer */
    }
    if (res != NULL)
        ares_freeaddrinfo(res);
    struct dns *d = q->d;
    free(q);
    query_done(d, e);
}

static void lookup_addrs(struct dns *d, struct dns_entry *e, const char *name, uint16_t prio,
                         uint16_t weight, uint16_t port)
{
    struct dns_q *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        e->acc_status = ARES_ENOMEM;
        return;
    }
    *q = (struct dns_q){d, e, prio, weight, port};
    struct ares_addrinfo_hints h = {.ai_family = AF_UNSPEC, .ai_flags = ARES_AI_NOSORT};
    e->inflight++;
    ares_getaddrinfo(d->ch, name, NULL, &h, on_addrinfo, q);
}

static void on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct dns_q *q = arg;
    struct dns *d = q->d;
    struct dns_entry *e = q->e;
    free(q);
    if (status != ARES_SUCCESS) {
        e->acc_status = status;
    } else {
        int cap = (int)d->opts.max_records;
        struct dns_srv *s = calloc((size_t)cap, sizeof(*s));
        uint32_t ttl;
        int n = s ? dns_parse_srv(abuf, (size_t)alen, s, cap, &ttl, NULL) : DNS_EPARSE;
        if (n < 0) {
            e->acc_status = s ? ARES_EBADRESP : ARES_ENOMEM;
        } else {
            if (ttl < e->acc_ttl)
                e->acc_ttl = ttl;
            for (int i = 0; i < n; i++)
                lookup_addrs(d, e, s[i].target, s[i].prio, s[i].weight, s[i].port);
        }
        free(s);
    }
    query_done(d, e);
}

static void refresh(struct dns *d, struct dns_entry *e)
{
    e->acc_status = ARES_SUCCESS;
    e->acc_ttl = UINT32_MAX;
    e->nacc = 0;
    e->inflight = 1; /* held until the first query is started: a synchronous callback
                        must not finish the refresh early */
    pthread_mutex_lock(&d->mu);
    e->queries++;
    pthread_mutex_unlock(&d->mu);
    if (e->kind == CFG_DNS_SRV) {
        struct dns_q *q = calloc(1, sizeof(*q));
        if (q != NULL) {
            *q = (struct dns_q){d, e, 0, 0, 0};
            e->inflight++;
            ares_query(d->ch, e->qname, 1 /* IN */, 33 /* SRV */, on_srv, q);
        } else {
            e->acc_status = ARES_ENOMEM;
        }
    } else {
        lookup_addrs(d, e, e->qname, 0, 0, (uint16_t)e->port);
    }
    query_done(d, e);
}

static int apply_servers(struct dns *d, const struct cfg_dns_opts *o)
{
    if (o->nservers == 0)
        return 0; /* c-ares's from /etc/resolv.conf, read at init */
    char csv[CFG_MAX_DNS_SERVERS * (CFG_STR + 1)] = "";
    size_t at = 0;
    for (int i = 0; i < o->nservers; i++)
        at += (size_t)snprintf(csv + at, sizeof(csv) - at, "%s%s", i ? "," : "", o->servers[i]);
    return ares_set_servers_ports_csv(d->ch, csv) == ARES_SUCCESS ? 0 : -1;
}

/* d->ch: a new channel with o's timeout and servers (resolv.conf's when none), DNS
 * only (no hosts file). 0, or -1 with d->ch untouched. */
static int new_channel(struct dns *d, const struct cfg_dns_opts *o)
{
    ares_channel ch, keep = d->ch;
    struct ares_options ao = {.timeout = (int)o->timeout_ms, .tries = 2, .lookups = (char *)"b"};
    if (ares_init_options(&ch, &ao, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS) !=
        ARES_SUCCESS)
        return -1;
    d->ch = ch;
    if (apply_servers(d, o) < 0) {
        ares_destroy(ch);
        d->ch = keep;
        return -1;
    }
    return 0;
}

/* Under mu: an entry, due now, for each wanted name that has none. False if a free slot
 * was missing for some (forgotten names still resolving hold theirs: forget() places the
 * rest as they end). */
static bool place_wanted(struct dns *d)
{
    bool all = true;
    for (int w = 0; w < d->nwant; w++) {
        struct dns_entry *e = NULL, *slot = NULL;
        for (int i = 0; i < DNS_MAX_NAMES && e == NULL; i++) {
            if (d->e[i].used && d->e[i].kind == d->want[w].kind &&
                strcmp(d->e[i].addr, d->want[w].addr) == 0)
                e = &d->e[i];
            else if (!d->e[i].used && slot == NULL)
                slot = &d->e[i];
        }
        if (e != NULL)
            continue;
        if (slot == NULL) {
            all = false;
            continue;
        }
        e = slot;
        memset(e, 0, sizeof(*e));
        e->used = true;
        e->wanted = true;
        e->kind = d->want[w].kind;
        snprintf(e->addr, sizeof(e->addr), "%s", d->want[w].addr);
        snprintf(e->qname, sizeof(e->qname), "%s", e->addr);
        if (e->kind == CFG_DNS_HOST) {
            char *colon = strrchr(e->qname, ':');
            e->port = colon ? atoi(colon + 1) : 5060;
            if (colon)
                *colon = '\0';
        }
        e->next_ms = 0;
    }
    return all;
}

/* Takes dns_watch's list (under mu): entries kept by address, new ones due now. The
 * forgotten ones are freed before the new ones take slots: old and new together may be
 * more than DNS_MAX_NAMES (a reload that renames every backend). */
static void apply_watch(struct dns *d)
{
    pthread_mutex_lock(&d->mu);
    if (!d->want_new) {
        pthread_mutex_unlock(&d->mu);
        return;
    }
    d->want_new = false;
    bool servers_changed =
        d->opts.nservers != d->want_opts.nservers ||
        d->opts.timeout_ms != d->want_opts.timeout_ms ||
        memcmp(d->opts.servers, d->want_opts.servers, sizeof(d->opts.servers)) != 0;
    d->opts = d->want_opts;
    for (int i = 0; i < DNS_MAX_NAMES; i++) {
        struct dns_entry *e = &d->e[i];
        e->wanted = false;
        for (int w = 0; w < d->nwant && e->used && !e->wanted; w++)
            e->wanted = e->kind == d->want[w].kind && strcmp(e->addr, d->want[w].addr) == 0;
    }
    for (int i = 0; i < DNS_MAX_NAMES; i++) {
        struct dns_entry *e = &d->e[i];
        if (e->used && !e->wanted && e->inflight == 0) {
            free(e->rec);
            free(e->acc);
            memset(e, 0, sizeof(*e));
        }
    }
    d->unplaced = !place_wanted(d);
    if (d->unplaced)
        log_info("dns: some new names wait for the queries of forgotten ones to end");
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (servers_changed) {
        /* a channel's timeout is fixed at its creation, and c-ares 1.18 has no way back to
         * resolv.conf's servers: a new channel. Destroying the old one calls back what is in
         * flight with ARES_EDESTRUCTION (finish() says nothing); those names ask again. */
        ares_channel old = d->ch;
        if (new_channel(d, &d->opts) == 0)
            ares_destroy(old);
        else
            log_error("dns: c-ares refused dns.servers or dns.timeout_ms: the old ones stay");
    }
}

static void *dns_main(void *arg)
{
    struct dns *d = arg;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        bool stop = d->stop;
        pthread_mutex_unlock(&d->mu);
        if (stop)
            break;
        apply_watch(d);
        int64_t now = clk_now_ms(), wait = 1000;
        if (d->route != NULL)
            dns_route_take(d->route, d->ch, now);
        for (int i = 0; i < DNS_MAX_NAMES; i++) {
            struct dns_entry *e = &d->e[i];
            if (!e->used || !e->wanted || e->inflight > 0)
                continue;
            if (now >= e->next_ms)
                refresh(d, e);
            if (e->inflight == 0 && e->next_ms - now < wait)
                wait = e->next_ms - now > 0 ? e->next_ms - now : 0;
        }
        struct pollfd p[1 + ARES_GETSOCK_MAXNUM];
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        int np = 1;
        /* c-ares's ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign bit (UB): test the
         * bits unsigned */
        unsigned bits = (unsigned)ares_getsock(d->ch, socks, ARES_GETSOCK_MAXNUM);
        p[0] = (struct pollfd){.fd = d->wake, .events = POLLIN};
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            short ev = (short)(((bits >> i) & 1u ? POLLIN : 0) |
                               ((bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u ? POLLOUT : 0));
            if (ev)
                p[np++] = (struct pollfd){.fd = socks[i], .events = ev};
        }
        struct timeval tv, *tvp = ares_timeout(d->ch, NULL, &tv);
        if (tvp != NULL) {
            int64_t t = (int64_t)tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
            if (t < wait)
                wait = t;
        }
        int r = poll(p, (nfds_t)np, (int)wait);
        if (r > 0 && (p[0].revents & POLLIN)) {
            uint64_t v;
            if (read(d->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
                log_error("dns: reading the wake-up fd: %s", strerror(errno));
        }
        bool any = false;
        for (int i = 1; i < np; i++) {
            if (p[i].revents == 0)
                continue;
            any = true;
            ares_socket_t rd =
                p[i].revents & (POLLIN | POLLERR | POLLHUP) ? p[i].fd : ARES_SOCKET_BAD;
            ares_socket_t wr = p[i].revents & POLLOUT ? p[i].fd : ARES_SOCKET_BAD;
            ares_process_fd(d->ch, rd, wr);
        }
        if (!any)
            ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
        if (d->dirty) {
            d->dirty = false;
            d->fn(d->arg);
        }
    }
    return NULL;
}

struct dns *dns_start(const struct cfg *c, dns_change_fn *fn, void *arg, struct dns_cache *cache,
                      struct dns_ask *asks, int nasks, char *err, size_t errlen)
{
    struct dns *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        free(d);
        return NULL;
    }
    d->opts = c->dns;
    if (new_channel(d, &d->opts) < 0) {
        snprintf(err, errlen, "c-ares refused dns.servers or the options");
        ares_library_cleanup();
        free(d);
        return NULL;
    }
    d->fn = fn;
    d->arg = arg;
    if (getrandom(&d->rnd, sizeof(d->rnd), 0) != sizeof(d->rnd) || d->rnd == 0)
        d->rnd = (uint64_t)clk_now_us() | 1;
    d->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (cache != NULL && (d->route = dns_route_new(cache, asks, nasks, &d->opts)) != NULL)
        for (int i = 0; i < nasks; i++)
            asks[i].wake_fd = d->wake;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (d->wake < 0 || pthread_create(&d->th, NULL, dns_main, d) != 0) {
        snprintf(err, errlen, "cannot start the DNS thread");
        for (int i = 0; i < nasks; i++)
            asks[i].wake_fd = -1;
        dns_route_free(d->route);
        if (d->wake >= 0)
            close(d->wake);
        ares_destroy(d->ch);
        ares_library_cleanup();
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->cv);
        free(d);
        return NULL;
    }
    return d;
}

static void wake(struct dns *d)
{
    uint64_t one = 1;
    if (write(d->wake, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_error("dns: waking the DNS thread: %s", strerror(errno));
}

void dns_watch(struct dns *d, const struct cfg *src)
{
    pthread_mutex_lock(&d->mu);
    d->nwant = 0;
    for (int p = 0; p < src->npools; p++)
        for (int i = 0; i < src->pools[p].nbackends; i++) {
            const struct cfg_backend *b = &src->pools[p].backends[i];
            if (b->dns == CFG_DNS_NONE)
                continue;
            bool seen = false;
            for (int w = 0; w < d->nwant && !seen; w++)
                seen = d->want[w].kind == b->dns && strcmp(d->want[w].addr, b->address) == 0;
            if (seen)
                continue;
            if (d->nwant == DNS_MAX_NAMES) {
                log_warn("dns: more than %d names: %s and later ones are not resolved",
                         DNS_MAX_NAMES, b->address);
                goto done;
            }
            d->want[d->nwant].kind = b->dns;
            snprintf(d->want[d->nwant].addr, CFG_STR, "%s", b->address);
            d->nwant++;
        }
done:
    d->want_opts = src->dns;
    d->want_new = true;
    pthread_mutex_unlock(&d->mu); /* until the thread applies it, all_answered says no */
    wake(d);
}

/* Under mu: every wanted name has an entry that answered. */
static bool all_answered(struct dns *d)
{
    if (d->want_new || d->unplaced)
        return false;
    for (int i = 0; i < DNS_MAX_NAMES; i++)
        if (d->e[i].used && d->e[i].wanted && !d->e[i].answered)
            return false;
    return true;
}

bool dns_wait(struct dns *d, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&d->mu);
    bool ok;
    while (!(ok = all_answered(d)))
        if (pthread_cond_timedwait(&d->cv, &d->mu, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&d->mu);
    return ok;
}

/* dns_lookup_fn over the entries, d->mu held by dns_build. */
static int lookup(void *arg, const struct cfg_backend *b, const struct dns_rec **rec)
{
    struct dns *d = arg;
    for (int i = 0; i < DNS_MAX_NAMES; i++) {
        const struct dns_entry *e = &d->e[i];
        if (e->used && e->kind == b->dns && strcmp(e->addr, b->address) == 0) {
            *rec = e->rec;
            return e->n;
        }
    }
    *rec = NULL;
    return 0;
}

int dns_build(struct dns *d, struct cfg *out, const struct cfg *src, dns_filter_fn *ok, void *farg,
              int *refused, char *err, size_t errlen)
{
    pthread_mutex_lock(&d->mu);
    int r = dns_expand(out, src, lookup, d, ok, farg, refused, err, errlen);
    pthread_mutex_unlock(&d->mu);
    return r;
}

/* A name as a Prometheus label value: DNS names hold no '"' or '\\'. */
void dns_print_metrics(struct dns *d, FILE *f)
{
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"viaduct_dns_queries_total", "counter", "refreshes started, per configured name"},
        {"viaduct_dns_failures_total", "counter", "refreshes that failed or answered empty"},
        {"viaduct_dns_changes_total", "counter", "times the name's record set changed"},
        {"viaduct_dns_records_dropped_total", "counter", "records beyond dns.max_records left out"},
        {"viaduct_dns_records", "gauge", "records the name gives now (the last good answer)"},
        {"viaduct_dns_stale", "gauge",
         "1 while the name fails and its last records keep serving (dns.stale_seconds)"},
        {"viaduct_dns_stale_seconds", "gauge", "seconds since the name's last good answer"},
        {"viaduct_dns_ttl_seconds", "gauge", "the smallest TTL of the last good answer"},
        {"viaduct_dns_last_change_timestamp_seconds", "gauge",
         "Unix time of the last change of the set (0: never)"},
    };
    pthread_mutex_lock(&d->mu);
    int64_t now = clk_now_ms();
    for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m[k].name, m[k].help, m[k].name, m[k].type);
        for (int i = 0; i < DNS_MAX_NAMES; i++) {
            const struct dns_entry *e = &d->e[i];
            if (!e->used || !e->wanted)
                continue;
            double v = 0;
            switch (k) {
            case 0: v = (double)e->queries; break;
            case 1: v = (double)e->failures; break;
            case 2: v = (double)e->changes; break;
            case 3: v = (double)e->dropped; break;
            case 4: v = e->n; break;
            case 5: v = e->state == DS_STALE; break;
            case 6: v = e->good_ms ? (double)(now - e->good_ms) / 1000.0 : 0; break;
            case 7: v = e->state == DS_OK || e->state == DS_STALE ? e->ttl : 0; break;
            default: v = (double)e->changed_real_ms / 1000.0; break;
            }
            fprintf(f, "%s{name=\"%s\",kind=\"%s\"} %.17g\n", m[k].name, e->addr,
                    e->kind == CFG_DNS_SRV ? "srv" : "a", v);
        }
    }
    if (d->route != NULL)
        dns_route_metrics(d->route, f);
    pthread_mutex_unlock(&d->mu);
}

void dns_print_json(struct dns *d, FILE *f)
{
    pthread_mutex_lock(&d->mu);
    int64_t now = clk_now_ms();
    fputc('[', f);
    int k = 0;
    for (int i = 0; i < DNS_MAX_NAMES; i++) {
        const struct dns_entry *e = &d->e[i];
        if (!e->used || !e->wanted)
            continue;
        fprintf(f,
                "%s\n  {\"name\": \"%s\", \"kind\": \"%s\", \"state\": \"%s\", \"records\": %d, "
                "\"age_seconds\": %.3f, \"queries\": %llu, \"failures\": %llu, "
                "\"last_error\": \"%s\", \"addresses\": [",
                k++ ? "," : "", e->addr, e->kind == CFG_DNS_SRV ? "srv" : "a",
                state_names[e->state], e->n, e->good_ms ? (double)(now - e->good_ms) / 1000.0 : 0.0,
                (unsigned long long)e->queries, (unsigned long long)e->failures, e->why);
        for (int r = 0; r < e->n; r++) {
            char a[64];
            net_addr_format((const struct sockaddr *)&e->rec[r].addr, a, sizeof(a));
            fprintf(f, "%s\"%s\"", r ? ", " : "", a);
        }
        fputs("]}", f);
    }
    fputs(k ? "\n]" : "]", f);
    pthread_mutex_unlock(&d->mu);
}

void dns_stop(struct dns *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_mutex_unlock(&d->mu);
    wake(d);
    pthread_join(d->th, NULL);
    ares_destroy(d->ch); /* calls back what is in flight with ARES_EDESTRUCTION */
    ares_library_cleanup();
    dns_route_free(d->route);
    for (int i = 0; i < DNS_MAX_NAMES; i++) {
        free(d->e[i].rec);
        free(d->e[i].acc);
    }
    close(d->wake);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}
