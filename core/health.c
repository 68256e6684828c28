/*
 * health.c - see health.h.
 *
 * One thread, one socket per address family bound to the first listening
 * address of that family on an ephemeral port: probe answers come back to
 * that port, never into the workers' traffic. Each backend has one probe in
 * flight at most, identified by its branch "z9hG4bKvdhc.POOL.INDEX.SEQ", so a
 * late answer to an old probe is not mistaken for the current one. A probe
 * fails when no final response arrives within timeout_ms, or an ICMP error
 * comes back for it; down_after failures in a row take a backend down,
 * up_after successes bring it back. Intervals are jittered so that many
 * viaduct instances do not probe in lockstep.
 *
 * Hold-downs (health.h): each round, a backend whose held_ms a worker set is
 * "held": logged once, probed at once when probes run, and given back its
 * verdict's state when the hold-down is over or a probe answers. The order
 * of the two stores that end a hold (held_ms cleared, then the state) is
 * what lets a worker's hint that races with them start a new hold rather
 * than leave a backend down with nobody to bring it back.
 */
#include "core/health.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HC_POLL_MAX_MS 50

struct hc_backend {
    bool healthy; /* the verdict; the state also folds in drain */
    bool drain;
    bool waiting; /* a probe is in flight */
    bool holding; /* an ICMP hint holds it down (held_ms set, state RT_DOWN) */
    uint8_t override; /* the operator's word this thread has folded in (px.h) */
    uint32_t seq;
    uint32_t fails, oks;
    int64_t sent_ms, next_ms;
    int64_t sent_us; /* for the round trip */
};

struct hc {
    const struct px_cfg *px;
    struct cfg_health h;
    int fd[2];       /* [0] IPv4, [1] IPv6; -1 if no listening address of that family */
    char via[2][80]; /* sent-by of each socket */
    struct hc_backend *b[CFG_MAX_POOLS];
    const char *pool_name[CFG_MAX_POOLS];
    atomic_bool stop;
    pthread_t thread;
    bool thread_started;
    uint64_t rng;
    struct sip_msg msg; /* the probe answer being read */
    struct hc_stats *st;
    struct log_limit log; /* a flapping backend's lines: a burst, then a count */
};

#define HC_INC(hc, n) ST_BUMP(&(hc)->st->n, 1)

void hc_counts(const struct hc_stats *st, struct hc_counts *out)
{
#define X(n, h) out->n = atomic_load_explicit(&st->n, memory_order_relaxed);
    HC_COUNTERS(X)
#undef X
    for (int i = 0; i < PX_NCAUSES; i++)
        out->by_cause[i] = atomic_load_explicit(&st->by_cause[i], memory_order_relaxed);
}

void hc_print(FILE *f, const struct hc_stats *st)
{
    struct hc_counts c;
    hc_counts(st, &c);
#define X(n, h) fprintf(f, "%s %llu\n", #n, (unsigned long long)c.n);
    HC_COUNTERS(X)
#undef X
}

/* A held backend's state is RT_DOWN; the log calls it "held". */
static const char *state_name(int s, bool held)
{
    return held ? "held" : s == RT_UP ? "up" : s == RT_DRAINING ? "draining" : "down";
}

static void log_change(struct hc *hc, int pool, int i, const char *from, const char *to,
                       int cause_id, const char *cause)
{
    HC_INC(hc, health_transitions);
    if (cause_id >= 0 && cause_id < PX_NCAUSES)
        ST_BUMP(&hc->st->by_cause[cause_id], 1);
    atomic_store_explicit(&hc->px->pools[pool].cause[i], (uint8_t)cause_id, memory_order_relaxed);
    const char *name = hc->px->pools[pool].rt->b[i].name;
    struct log_kv kv[] = {{"backend", name},
                          {"pool", hc->pool_name[pool]},
                          {"from", from},
                          {"to", to},
                          {"cause", cause}};
    log_limited(&hc->log, clk_now_ms(), strcmp(to, "up") == 0 ? LOG_INFO : LOG_WARN, kv, 5,
                "backend %s (pool %s): %s -> %s (%s)", name, hc->pool_name[pool], from, to, cause);
}

/* The state the verdict, the drain flag and the operator's override give. */
static int state_of(const struct hc_backend *b)
{
    if (!b->healthy || b->override == PX_OV_DOWN)
        return RT_DOWN;
    return b->drain || b->override == PX_OV_DRAIN ? RT_DRAINING : RT_UP;
}

/* Sets the state the verdict and the drain flag give, ending a hold. */
static void verdict(struct hc *hc, int pool, int i, bool healthy, int cause_id, const char *cause)
{
    const struct px_pool *p = &hc->px->pools[pool];
    struct hc_backend *b = &hc->b[pool][i];
    b->healthy = healthy;
    int state = state_of(b);
    int old = atomic_load_explicit(&p->state[i], memory_order_relaxed);
    bool was_held = b->holding;
    b->healthy = healthy;
    b->holding = false;
    atomic_store_explicit(&p->held_ms[i], 0, memory_order_relaxed);
    if (old == state && !was_held)
        return;
    int64_t now = clk_now_ms();
    /* a return from down, not a hold's end: the registrar may have lost its bindings */
    if (state == RT_UP && old == RT_DOWN && !was_held)
        atomic_store_explicit(&p->returned_ms[i], now, memory_order_relaxed);
    atomic_store_explicit(&p->state[i], (uint8_t)state, memory_order_release);
    atomic_store_explicit(&p->changed_ms[i], now, memory_order_relaxed);
    log_change(hc, pool, i, state_name(old, was_held), state_name(state, false), cause_id, cause);
}

/* The operator's override changed (the management API wrote it): fold it
 * in now, unless a hold-down is on (its end folds it in), and say so. */
static void follow_override(struct hc *hc, int pool, int i)
{
    const struct px_pool *p = &hc->px->pools[pool];
    struct hc_backend *b = &hc->b[pool][i];
    uint8_t ov = atomic_load_explicit(&p->override[i], memory_order_relaxed);
    if (ov == b->override)
        return;
    b->override = ov;
    if (!b->holding) {
        int old = atomic_load_explicit(&p->state[i], memory_order_relaxed), state = state_of(b);
        if (old != state) {
            char why[64];
            int64_t now = clk_now_ms();
            if (state == RT_UP)
                atomic_store_explicit(&p->returned_ms[i], now, memory_order_relaxed);
            atomic_store_explicit(&p->state[i], (uint8_t)state, memory_order_release);
            atomic_store_explicit(&p->changed_ms[i], now, memory_order_relaxed);
            snprintf(why, sizeof(why), "operator: %s", ov == PX_OV_NONE ? "override lifted"
                                                                        : px_override_name(ov));
            log_change(hc, pool, i, state_name(old, false), state_name(state, false),
                       PX_CAUSE_OPERATOR, why);
        }
    }
    atomic_store_explicit(&p->override_seen[i], ov, memory_order_release);
}

static void probe_failed(struct hc *hc, int pool, int i, const char *cause)
{
    struct hc_backend *b = &hc->b[pool][i];
    HC_INC(hc, probes_failed);
    b->waiting = false;
    b->oks = 0;
    if (b->holding) { /* the probes agree with the ICMP error */
        char why[96];
        snprintf(why, sizeof(why), "%s: the ICMP error is confirmed", cause);
        verdict(hc, pool, i, false, PX_CAUSE_PROBES_FAILED, why);
        return;
    }
    if (++b->fails >= hc->h.down_after && b->healthy) {
        char why[96];
        snprintf(why, sizeof(why), "%s, %u probes failed", cause, b->fails);
        verdict(hc, pool, i, false, PX_CAUSE_PROBES_FAILED, why);
    }
}

static void probe_ok(struct hc *hc, int pool, int i, int code)
{
    struct hc_backend *b = &hc->b[pool][i];
    HC_INC(hc, probes_answered);
    b->waiting = false;
    b->fails = 0;
    atomic_store_explicit(&hc->px->pools[pool].rtt_us[i], clk_now_us() - b->sent_us,
                          memory_order_relaxed);
    if (b->holding) { /* the ICMP error was wrong, or forged */
        const struct px_pool *p = &hc->px->pools[pool];
        char why[64];
        atomic_store_explicit(&p->vouched_ms[i], clk_now_ms() + hc->h.icmp_holddown_ms,
                              memory_order_relaxed);
        snprintf(why, sizeof(why), "a probe answered %d", code);
        verdict(hc, pool, i, true, PX_CAUSE_PROBES_ANSWERED, why);
        return;
    }
    if (++b->oks >= hc->h.up_after && !b->healthy) {
        char why[64];
        snprintf(why, sizeof(why), "%u probes answered, last %d", b->oks, code);
        verdict(hc, pool, i, true, PX_CAUSE_PROBES_ANSWERED, why);
    }
}

static bool code_accepted(const struct cfg_health *h, int code)
{
    if (h->ncodes == 0)
        return code >= 200;
    for (int i = 0; i < h->ncodes; i++)
        if (h->codes[i] == code)
            return true;
    return false;
}

static int64_t jittered(struct hc *hc)
{
    int64_t iv = hc->h.interval_ms;
    int64_t span = iv * hc->h.jitter_pct / 100;
    hc->rng = hc->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return span > 0 ? iv - span + (int64_t)((hc->rng >> 33) % (uint64_t)(2 * span + 1)) : iv;
}

static void send_probe(struct hc *hc, int pool, int i, int64_t now)
{
    const struct rt_backend *be = &hc->px->pools[pool].rt->b[i];
    struct hc_backend *b = &hc->b[pool][i];
    int fam = be->addr.ss_family == AF_INET6;
    char dst[80], msg[768];
    b->seq++;
    b->waiting = true;
    HC_INC(hc, probes_sent);
    b->sent_ms = now;
    b->sent_us = clk_now_us();
    b->next_ms = now + jittered(hc);
    if (hc->fd[fam] < 0) {
        probe_failed(hc, pool, i, "no socket of its address family");
        return;
    }
    net_addr_format((const struct sockaddr *)&be->addr, dst, sizeof(dst));
    int n = snprintf(msg, sizeof(msg),
                     "OPTIONS sip:%s SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP %s;branch=z9hG4bKvdhc.%d.%d.%u;rport\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:viaduct@%s>;tag=vdhc%u\r\n"
                     "To: <sip:%s>\r\n"
                     "Call-ID: vdhc.%d.%d.%u@%s\r\n"
                     "CSeq: %u OPTIONS\r\n"
                     "User-Agent: viaduct-health\r\n"
                     "Content-Length: 0\r\n\r\n",
                     dst, hc->via[fam], pool, i, b->seq, hc->via[fam], (unsigned)getpid(), dst,
                     pool, i, b->seq, hc->via[fam], b->seq);
    /* an error a send fails with may be another probe's ICMP error, left
     * pending on the socket (net.h): only a repeated one is this probe's */
    for (int t = 0; t <= NET_SEND_RETRIES; t++) {
        if (sendto(hc->fd[fam], msg, (size_t)n, 0, (const struct sockaddr *)&be->addr,
                   be->addrlen) >= 0)
            return;
        if (!net_send_retryable(-errno))
            break;
    }
    probe_failed(hc, pool, i, strerror(errno));
}

/* An answer to one of our probes: "vdhc.POOL.INDEX.SEQ" after the cookie. */
static void on_answer(struct hc *hc, const char *buf, size_t len)
{
    struct sip_msg *m = &hc->msg; /* big: not on the stack */
    struct sip_via v;
    if (sip_parse(buf, len, m) < 0 || m->is_request || m->nvia == 0 ||
        sip_via_parse(m->via[0], &v) < 0 || v.branch.len < 12 || v.branch.len > 60 ||
        memcmp(v.branch.p, "z9hG4bKvdhc.", 12) != 0)
        return;
    char tmp[64];
    memcpy(tmp, v.branch.p + 12, v.branch.len - 12);
    tmp[v.branch.len - 12] = '\0';
    int pool, i;
    unsigned seq;
    if (sscanf(tmp, "%d.%d.%u", &pool, &i, &seq) != 3 || pool < 0 || pool >= hc->px->npools ||
        i < 0 || i >= hc->px->pools[pool].rt->n)
        return;
    struct hc_backend *b = &hc->b[pool][i];
    if (!b->waiting || seq != b->seq || m->status < 200)
        return; /* stale, or provisional */
    if (code_accepted(&hc->h, m->status))
        probe_ok(hc, pool, i, m->status);
    else
        probe_failed(hc, pool, i, "unaccepted response code");
}

/* An ICMP error for a probe: the error queue names the destination. */
static void on_error(struct hc *hc, int fd)
{
    char ctl[512];
    struct sockaddr_storage to;
    for (int k = 0; k < 64; k++) {
        struct msghdr mh = {.msg_name = &to,
                            .msg_namelen = sizeof(to),
                            .msg_control = ctl,
                            .msg_controllen = sizeof(ctl)};
        if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
            return;
        for (int p = 0; p < hc->px->npools; p++)
            for (int i = 0; i < hc->px->pools[p].rt->n; i++)
                if (hc->b[p][i].waiting &&
                    net_addr_equal((const struct sockaddr *)&to,
                                   (const struct sockaddr *)&hc->px->pools[p].rt->b[i].addr))
                    probe_failed(hc, p, i, "ICMP unreachable");
    }
}

/* A worker's hint (hc_icmp_hint) holds backend i down: log it once and
 * probe at once; end it when the hold-down is over. */
static void follow_hint(struct hc *hc, int pool, int i, int64_t now)
{
    const struct px_pool *p = &hc->px->pools[pool];
    struct hc_backend *b = &hc->b[pool][i];
    int64_t held = atomic_load_explicit(&p->held_ms[i], memory_order_relaxed);
    if (held == 0)
        return;
    if (!b->healthy) { /* down by verdict already: the hint adds nothing */
        atomic_store_explicit(&p->held_ms[i], 0, memory_order_relaxed);
        return;
    }
    if (!b->holding) {
        char why[96];
        b->holding = true;
        snprintf(why, sizeof(why), "ICMP error for a datagram sent to it, for %u ms",
                 hc->h.icmp_holddown_ms);
        log_change(hc, pool, i, state_name(state_of(b), false), "held", PX_CAUSE_ICMP, why);
        if (hc->h.enabled && !b->waiting)
            b->next_ms = now; /* let a probe say whether it is true */
    }
    if (now - held >= (int64_t)hc->h.icmp_holddown_ms)
        verdict(hc, pool, i, true, PX_CAUSE_HOLD_OVER, "hold-down over: trying it again");
}

static void *hc_main(void *arg)
{
    struct hc *hc = arg;
    char buf[4096];
    while (!atomic_load(&hc->stop)) {
        int64_t now = clk_now_ms(), wake = now + HC_POLL_MAX_MS;
        for (int p = 0; p < hc->px->npools; p++) {
            for (int i = 0; i < hc->px->pools[p].rt->n; i++) {
                struct hc_backend *b = &hc->b[p][i];
                follow_override(hc, p, i);
                follow_hint(hc, p, i, now);
                if (!hc->h.enabled)
                    continue;
                if (b->waiting && now - b->sent_ms >= hc->h.timeout_ms) {
                    HC_INC(hc, probes_timed_out); /* counted as failed too */
                    probe_failed(hc, p, i, "probe timed out");
                }
                if (!b->waiting && now >= b->next_ms)
                    send_probe(hc, p, i, now);
                int64_t due = b->waiting ? b->sent_ms + hc->h.timeout_ms : b->next_ms;
                wake = due < wake ? due : wake;
            }
        }
        struct pollfd pfd[2] = {{.fd = hc->fd[0], .events = POLLIN},
                                {.fd = hc->fd[1], .events = POLLIN}};
        int wait = (int)(wake - clk_now_ms());
        if (poll(pfd, 2, wait > 0 ? wait : 0) <= 0)
            continue;
        for (int f = 0; f < 2; f++) {
            if (pfd[f].revents & POLLERR)
                on_error(hc, hc->fd[f]);
            for (int k = 0; k < 256 && (pfd[f].revents & POLLIN); k++) {
                ssize_t n = recv(hc->fd[f], buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0) {
                    if (errno == ECONNREFUSED || errno == EHOSTUNREACH)
                        on_error(hc, hc->fd[f]);
                    if (errno == EAGAIN || errno == EWOULDBLOCK)
                        break;
                    continue;
                }
                on_answer(hc, buf, (size_t)n);
            }
        }
    }
    return NULL;
}

/* The first listening address of a family, on port 0. */
static int open_socket(struct hc *hc, int fam, char *err, size_t errlen)
{
    const struct px_cfg *px = hc->px;
    int slot = fam == AF_INET6;
    for (int l = 0; l < px->nlisten; l++) {
        if (px->listen[l].addr.ss_family != fam)
            continue;
        struct sockaddr_storage ss = px->listen[l].addr;
        socklen_t len = px->listen[l].addrlen;
        if (fam == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = 0;
        else
            ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
        int fd = net_udp_open((struct sockaddr *)&ss, len, false, 0, 0);
        if (fd < 0) {
            snprintf(err, errlen, "health checks: cannot open a socket: %s", strerror(-fd));
            return -1;
        }
        getsockname(fd, (struct sockaddr *)&ss, &len);
        net_addr_format((struct sockaddr *)&ss, hc->via[slot], sizeof(hc->via[slot]));
        hc->fd[slot] = fd;
        return 0;
    }
    return 0;
}

struct hc *hc_start(const struct px_cfg *px, const struct cfg *c, struct hc_stats *st, char *err,
                    size_t errlen)
{
    struct hc *hc = calloc(1, sizeof(*hc));
    if (hc == NULL)
        return NULL;
    hc->px = px;
    hc->st = st;
    hc->h = c->health;
    /* 50 in 10 s: every change of a dozen backends going down and up again, never a
     * flood from one that flaps at the probe interval */
    log_limit_init(&hc->log, "backend state changes", 50, 10000);
    hc->fd[0] = hc->fd[1] = -1;
    hc->rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)clk_now_ms();
    int64_t now = clk_now_ms();
    for (int p = 0; p < px->npools; p++) {
        int n = px->pools[p].rt->n;
        hc->pool_name[p] = c->pools[p].name;
        hc->b[p] = calloc((size_t)(n > 0 ? n : 1), sizeof(struct hc_backend));
        if (hc->b[p] == NULL) {
            hc_stop(hc);
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            struct hc_backend *b = &hc->b[p][i];
            b->drain = px->pools[p].drain[i];
            /* until probes say otherwise; a reload carries a down state over,
             * and a hold (follow_hint takes it up again) */
            b->holding = atomic_load(&px->pools[p].held_ms[i]) != 0;
            /* an operator's down says nothing of health: probes will */
            b->override = atomic_load(&px->pools[p].override[i]);
            atomic_store(&px->pools[p].override_seen[i], b->override);
            b->healthy = atomic_load(&px->pools[p].state[i]) != RT_DOWN || b->holding ||
                         b->override == PX_OV_DOWN;
            b->next_ms =
                now + (int64_t)(hc->rng % (hc->h.interval_ms + 1)); /* spread the first round */
            hc->rng = hc->rng * 6364136223846793005ULL + 1442695040888963407ULL;
        }
    }
    if (open_socket(hc, AF_INET, err, errlen) < 0 || open_socket(hc, AF_INET6, err, errlen) < 0 ||
        pthread_create(&hc->thread, NULL, hc_main, hc) != 0) {
        hc_stop(hc);
        return NULL;
    }
    hc->thread_started = true;
    return hc;
}

void hc_stop(struct hc *hc)
{
    if (hc == NULL)
        return;
    atomic_store(&hc->stop, true);
    if (hc->thread_started)
        pthread_join(hc->thread, NULL);
    for (int f = 0; f < 2; f++)
        if (hc->fd[f] >= 0)
            close(hc->fd[f]);
    for (int p = 0; p < CFG_MAX_POOLS; p++)
        free(hc->b[p]);
    log_limit_flush(&hc->log, clk_now_ms());
    log_limit_fini(&hc->log);
    free(hc);
}

int hc_icmp_hint(const struct px_cfg *px, const struct sockaddr *dst, int64_t now_ms)
{
    const struct px_backend_ref *r;
    int n = px_backends_at(px, dst, &r);
    int out = n > 0 ? HC_HINT_IGNORED : HC_HINT_NONE;
    for (int k = 0; k < n; k++) {
        const struct px_pool *pool = &px->pools[r[k].pool];
        int i = r[k].index;
        if (atomic_load_explicit(&pool->state[i], memory_order_relaxed) == RT_DOWN ||
            now_ms < atomic_load_explicit(&pool->vouched_ms[i], memory_order_relaxed))
            continue;
        /* held_ms before the state: see the top of this file */
        atomic_store_explicit(&pool->held_ms[i], now_ms != 0 ? now_ms : 1, memory_order_relaxed);
        atomic_store_explicit(&pool->changed_ms[i], now_ms, memory_order_relaxed);
        atomic_store_explicit(&pool->state[i], RT_DOWN, memory_order_release);
        out = HC_HINT_HELD;
    }
    return out;
}
