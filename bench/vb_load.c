/*
 * vb_load.c - see vb_load.h. One thread, its sockets, and a loop:
 *
 *   build what is due (ACK/BYE of answered calls first, then new starts),
 *   send it in one sendmmsg per socket, read every response that is there,
 *   expire what is too old, and when there was nothing to do, sleep in ppoll
 *   until the next request is due or a response arrives.
 *
 * The sleep matters: the load shares its CPU with the emulated backends, and
 * a spinning load would starve them and count its own victims as losses of
 * the system under test. Timestamps are taken once per batch (send) and once
 * per recvmmsg (receive): the clock is read twice per batch, not per datagram.
 *
 *   $ viaduct-bench load --target 127.0.0.1:5060 --scenario call --rate 20000 --duration 10
 */
#include "bench/vb_load.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bench/vb_cli.h"
#include "bench/vb_match.h"
#include "bench/vb_proc.h"
#include "bench/vb_sip.h"
#include "net/net.h"

#define LD_MSG 2048            /* room for one request */
#define LD_RBUF 4096           /* one response */
#define LD_MATCH_LOG2 20       /* 1 Mi transactions in the ring */
#define LD_FQ_LOG2 16          /* ACK/BYE waiting to be sent */
#define LD_RX_ROUNDS 4         /* recvmmsg rounds per socket per wake */
#define LD_IDLE_MAX_NS 2000000 /* longest sleep when nothing is due: 2 ms */
#define LD_ACK_ID (1ull << 63) /* branch ids of requests with no transaction */

struct ld_sock {
    int fd;
    char local[64]; /* "ip:port" */
    size_t local_len;
};

struct ld_fu { /* a follow-up request of an answered call */
    uint32_t call;
    uint8_t kind; /* VB_RK_ACK or VB_RK_BYE */
    uint8_t taglen;
    char tag[VB_TAG_MAX];
};

struct ld {
    const struct vb_load_cfg *cfg;
    struct vb_load_result *res;
    struct ld_sock s[VB_LOAD_MAX_SOCKS];
    int ns;
    struct pollfd pfd[VB_LOAD_MAX_SOCKS];
    struct vb_match m;
    struct ld_fu *fq;
    uint32_t fq_head, fq_tail; /* free-running; fq_tail - fq_head queued */
    uint32_t *reg_cseq;        /* [aors] */
    uint64_t starts, nocall_id;
    uint64_t last_rx; /* when the last response arrived */
    uint32_t next_call, next_aor, next_other;
    char *sbuf; /* (batch + 1) * LD_MSG */
    struct iovec *siov;
    int *ssock;
    struct mmsghdr *smsg;
    char *rbuf; /* batch * LD_RBUF */
    struct iovec *riov;
    struct mmsghdr *rmsg;
    struct sip_msg msg;
};

void vb_load_defaults(struct vb_load_cfg *c)
{
    memset(c, 0, sizeof(*c));
    net_addr_parse("127.0.0.1:5060", &c->target, &c->targetlen);
    c->local_ip = "127.0.0.1";
    c->nsockets = 1;
    c->scenario = VB_SC_MIXED;
    c->duration = 10;
    c->aors = 10000;
    c->expires = 3600;
    c->drain = 1.0;
    c->timeout = 2.0;
    c->batch = 32;
    c->cpu = -1;
}

static const char *const sc_names[] = {"register", "call", "options", "message", "mixed"};

int vb_scenario_parse(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, sc_names[i]) == 0)
            return i;
    return -1;
}

const char *vb_scenario_name(int sc)
{
    return sc >= 0 && sc < 5 ? sc_names[sc] : "?";
}

static uint64_t mix64(uint64_t x) /* splitmix64's finaliser: distinct tags per request */
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void ld_free(struct ld *l)
{
    for (int i = 0; i < l->ns; i++)
        close(l->s[i].fd);
    vb_match_free(&l->m);
    free(l->fq);
    free(l->reg_cseq);
    free(l->sbuf);
    free(l->siov);
    free(l->ssock);
    free(l->smsg);
    free(l->rbuf);
    free(l->riov);
    free(l->rmsg);
}

static int ld_init(struct ld *l, const struct vb_load_cfg *c, char *err, size_t errlen)
{
    unsigned b = c->batch;
    l->cfg = c;
    if (vb_match_init(&l->m, LD_MATCH_LOG2) < 0)
        goto nomem;
    l->fq = calloc((size_t)1 << LD_FQ_LOG2, sizeof(*l->fq));
    l->reg_cseq = calloc(c->aors ? c->aors : 1, sizeof(*l->reg_cseq));
    l->sbuf = malloc((size_t)(b + 1) * LD_MSG);
    l->siov = calloc(b + 1, sizeof(*l->siov));
    l->ssock = calloc(b + 1, sizeof(*l->ssock));
    l->smsg = calloc(b + 1, sizeof(*l->smsg));
    l->rbuf = malloc((size_t)b * LD_RBUF);
    l->riov = calloc(b, sizeof(*l->riov));
    l->rmsg = calloc(b, sizeof(*l->rmsg));
    if (!l->fq || !l->reg_cseq || !l->sbuf || !l->siov || !l->ssock || !l->smsg || !l->rbuf ||
        !l->riov || !l->rmsg)
        goto nomem;
    for (unsigned i = 0; i < b; i++) {
        l->riov[i] = (struct iovec){l->rbuf + (size_t)i * LD_RBUF, LD_RBUF};
        l->rmsg[i].msg_hdr.msg_iov = &l->riov[i];
        l->rmsg[i].msg_hdr.msg_iovlen = 1;
    }
    for (int i = 0; i < c->nsockets; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (net_addr_from_ip(c->local_ip, strlen(c->local_ip), 0, &ss, &len) < 0) {
            snprintf(err, errlen, "bad local address '%s'", c->local_ip);
            return -EINVAL;
        }
        int fd = net_udp_open((struct sockaddr *)&ss, len, false, 8 << 20, 4 << 20);
        if (fd < 0 || connect(fd, (struct sockaddr *)&c->target, c->targetlen) != 0) {
            int e = fd < 0 ? -fd : errno;
            if (fd >= 0)
                close(fd);
            snprintf(err, errlen, "cannot open a load socket on %s: %s", c->local_ip, strerror(e));
            return -e;
        }
        len = sizeof(ss);
        getsockname(fd, (struct sockaddr *)&ss, &len);
        l->s[i].fd = fd;
        l->s[i].local_len =
            (size_t)net_addr_format((struct sockaddr *)&ss, l->s[i].local, sizeof(l->s[i].local));
        l->pfd[i] = (struct pollfd){.fd = fd, .events = POLLIN};
        l->ns++;
    }
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}

/* Writes "vbRUN-Kn@ip" into buf: a Call-ID no other run or request shares. */
static struct span callid(const struct ld *l, char *buf, size_t cap, char kind, uint64_t n)
{
    struct vb_buf b = vb_buf_make(buf, cap);
    VB_LIT(&b, "vb");
    vb_put_hex(&b, l->cfg->run_id, 8);
    VB_LIT(&b, "-");
    vb_put(&b, &kind, 1);
    vb_put_hex(&b, n, 8);
    VB_LIT(&b, "@");
    vb_put(&b, l->cfg->local_ip, strlen(l->cfg->local_ip));
    return span_make(buf, b.len);
}

static struct span user(char *buf, size_t cap, char prefix, uint64_t n)
{
    struct vb_buf b = vb_buf_make(buf, cap);
    vb_put(&b, &prefix, 1);
    vb_put_uint(&b, n);
    return span_make(buf, b.len);
}

/* Builds one request of kind k into out; f is the follow-up for ACK/BYE.
 * Starts its transaction (sent at now). Returns the length or -1. */
static int ld_build(struct ld *l, int k, const struct ld_fu *f, char *out, int *sock, uint64_t now)
{
    const struct vb_load_cfg *c = l->cfg;
    char cid[96], u[24], fu[24];
    struct vb_req r = {.domain = SPAN_LIT("example.com"), .expires = c->expires, .body = true};
    uint64_t n;
    int method;
    switch (k) {
    case VB_RK_REGISTER:
        n = l->next_aor++ % (c->aors ? c->aors : 1);
        method = SIP_M_REGISTER;
        r.callid = callid(l, cid, sizeof(cid), 'r', n);
        r.user = r.from_user = user(u, sizeof(u), 'u', n);
        r.cseq = ++l->reg_cseq[n];
        break;
    case VB_RK_INVITE:
    case VB_RK_ACK:
    case VB_RK_BYE:
        n = k == VB_RK_INVITE ? l->next_call++ : f->call;
        method = k == VB_RK_INVITE ? SIP_M_INVITE : k == VB_RK_ACK ? SIP_M_ACK : SIP_M_BYE;
        r.callid = callid(l, cid, sizeof(cid), 'c', n);
        r.user = user(u, sizeof(u), 'b', n % (c->aors ? c->aors : 1));
        r.from_user = user(fu, sizeof(fu), 'a', n % (c->aors ? c->aors : 1));
        r.cseq = k == VB_RK_BYE ? 2 : 1;
        if (k != VB_RK_INVITE)
            r.to_tag = span_make(f->tag, f->taglen);
        break;
    default:
        n = l->next_other++;
        method = k == VB_RK_OPTIONS ? SIP_M_OPTIONS : SIP_M_MESSAGE;
        r.callid = callid(l, cid, sizeof(cid), k == VB_RK_OPTIONS ? 'o' : 'm', n);
        r.user = user(u, sizeof(u), 'b', n % (c->aors ? c->aors : 1));
        r.from_user = user(fu, sizeof(fu), 'a', n % (c->aors ? c->aors : 1));
        r.cseq = 1;
        break;
    }
    *sock = (int)(n % (uint64_t)l->ns);
    r.method = method;
    r.local = span_make(l->s[*sock].local, l->s[*sock].local_len);
    r.from_tag = mix64((uint64_t)c->run_id << 40 ^ (uint64_t)k << 32 ^ n);
    if (k == VB_RK_ACK || c->no_reply) {
        r.branch_id = LD_ACK_ID | ++l->nocall_id; /* never matches a transaction */
    } else {
        struct vb_txn *t = vb_match_start(&l->m, now, method, (uint32_t)n);
        r.branch_id = t->id;
    }
    struct vb_buf b = vb_buf_make(out, LD_MSG);
    l->res->sent[k]++;
    l->res->requests++;
    if (k == VB_RK_INVITE)
        l->res->calls_started++;
    return vb_req_write(&b, &r);
}

static int next_start_kind(const struct ld *l)
{
    static const int mixed[10] = {VB_RK_REGISTER, VB_RK_INVITE,   VB_RK_REGISTER, VB_RK_OPTIONS,
                                  VB_RK_INVITE,   VB_RK_REGISTER, VB_RK_MESSAGE,  VB_RK_INVITE,
                                  VB_RK_REGISTER, VB_RK_OPTIONS};
    switch (l->cfg->scenario) {
    case VB_SC_REGISTER: return VB_RK_REGISTER;
    case VB_SC_CALL: return VB_RK_INVITE;
    case VB_SC_OPTIONS: return VB_RK_OPTIONS;
    case VB_SC_MESSAGE: return VB_RK_MESSAGE;
    default: return mixed[l->starts % 10];
    }
}

static bool window_full(const struct ld *l)
{
    return l->cfg->window > 0 && l->m.inflight >= l->cfg->window;
}

/* Sends msgs [0, k): one sendmmsg run per socket. */
static void ld_send(struct ld *l, int k)
{
    for (int s = 0; s < l->ns; s++) {
        int n = 0;
        for (int i = 0; i < k; i++)
            if (l->ssock[i] == s)
                l->smsg[n++].msg_hdr = (struct msghdr){.msg_iov = &l->siov[i], .msg_iovlen = 1};
        int done = 0;
        bool waited = false;
        while (done < n) {
            int r = sendmmsg(l->s[s].fd, l->smsg + done, (unsigned)(n - done), 0);
            if (r > 0) {
                done += r;
                continue;
            }
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !waited) {
                struct pollfd p = {.fd = l->s[s].fd, .events = POLLOUT};
                waited = true;
                if (poll(&p, 1, 10) > 0)
                    continue;
            }
            l->res->send_errors++; /* e.g. ECONNREFUSED: nothing listens there */
            done++;
        }
    }
}

/* Builds and sends what is due now; returns how many requests left. */
static int ld_offer(struct ld *l, uint64_t budget, bool starting, uint64_t now)
{
    int k = 0;
    uint64_t limit = budget < l->cfg->batch ? budget : l->cfg->batch;
    while ((uint64_t)k < limit) {
        char *out = l->sbuf + (size_t)k * LD_MSG;
        int len;
        if (l->fq_tail != l->fq_head) {
            struct ld_fu *f = &l->fq[l->fq_head & ((1u << LD_FQ_LOG2) - 1)];
            if (f->kind == VB_RK_BYE && window_full(l))
                break;
            len = ld_build(l, f->kind, f, out, &l->ssock[k], now);
            l->fq_head++;
        } else if (starting && !window_full(l)) {
            len = ld_build(l, next_start_kind(l), NULL, out, &l->ssock[k], now);
            l->starts++;
        } else {
            break;
        }
        if (len < 0) {
            l->res->send_errors++;
            continue;
        }
        l->siov[k] = (struct iovec){out, (size_t)len};
        k++;
    }
    if (k > 0)
        ld_send(l, k);
    return k;
}

static void push_fu(struct ld *l, int kind, uint32_t call, struct span tag)
{
    if (l->fq_tail - l->fq_head >= (1u << LD_FQ_LOG2)) {
        l->res->followups_dropped++;
        return;
    }
    struct ld_fu *f = &l->fq[l->fq_tail++ & ((1u << LD_FQ_LOG2) - 1)];
    f->call = call;
    f->kind = (uint8_t)kind;
    f->taglen = (uint8_t)(tag.len < VB_TAG_MAX ? tag.len : VB_TAG_MAX);
    memcpy(f->tag, tag.p, f->taglen);
}

static void ld_response(struct ld *l, const char *buf, size_t len, uint64_t now)
{
    struct vb_resp r;
    uint64_t id, lat = 0;
    struct vb_txn *t = NULL;
    l->res->rx++;
    if (vb_resp_read(buf, len, &l->msg, &r) < 0) {
        l->res->bad++;
        return;
    }
    if (!vb_branch_read(r.branch, &id)) {
        l->m.st.unknown++;
        return;
    }
    if (vb_match_response(&l->m, id, r.cseq_method, r.status, now, &t, &lat) != VB_MATCH_FINAL)
        return;
    vb_hist_add(&l->res->lat, lat);
    l->res->txn_completed++;
    bool ok = r.status < 300;
    if (!ok)
        l->res->txn_non2xx++;
    if (t->method == SIP_M_INVITE && ok && r.to_tag.p != NULL) {
        push_fu(l, VB_RK_ACK, t->aux, r.to_tag);
        push_fu(l, VB_RK_BYE, t->aux, r.to_tag);
    } else if (t->method == SIP_M_BYE) {
        l->res->calls_completed++;
    }
}

/* Reads every response waiting on every socket. Returns how many. */
static int ld_receive(struct ld *l)
{
    int total = 0;
    for (int s = 0; s < l->ns; s++) {
        for (int round = 0; round < LD_RX_ROUNDS; round++) {
            int n = recvmmsg(l->s[s].fd, l->rmsg, l->cfg->batch, MSG_DONTWAIT, NULL);
            if (n <= 0) {
                if (n < 0 && errno == ECONNREFUSED)
                    continue; /* an ICMP error from a send: read on */
                break;
            }
            uint64_t now = vb_now_ns();
            l->last_rx = now;
            for (int i = 0; i < n; i++)
                ld_response(l, l->riov[i].iov_base, l->rmsg[i].msg_len, now);
            total += n;
            if ((unsigned)n < l->cfg->batch)
                break;
        }
    }
    return total;
}

static void ld_sleep(struct ld *l, uint64_t ns)
{
    if (ns > LD_IDLE_MAX_NS)
        ns = LD_IDLE_MAX_NS;
    struct timespec ts = {0, (long)ns};
    ppoll(l->pfd, (nfds_t)l->ns, &ts, NULL);
}

static bool stopped(const struct vb_load_cfg *c)
{
    return c->stop != NULL && atomic_load_explicit(c->stop, memory_order_relaxed);
}

int vb_load_run(const struct vb_load_cfg *c, struct vb_load_result *res, char *err, size_t errlen)
{
    static struct ld zero;
    struct ld *l = malloc(sizeof(*l));
    if (l == NULL || c->nsockets < 1 || c->nsockets > VB_LOAD_MAX_SOCKS || c->batch < 1) {
        free(l);
        snprintf(err, errlen, "bad load settings");
        return -EINVAL;
    }
    *l = zero;
    memset(res, 0, sizeof(*res));
    vb_hist_reset(&res->lat);
    l->res = res;
    int rc = ld_init(l, c, err, errlen);
    if (rc < 0) {
        ld_free(l);
        free(l);
        return rc;
    }
    vb_pin_self(c->cpu);
    prctl(PR_SET_TIMERSLACK, 1000UL); /* 1 us: the default 50 us would bunch the sends */

    uint64_t t0 = vb_now_ns();
    uint64_t offer_end = t0 + (uint64_t)(c->duration * 1e9);
    uint64_t timeout = (uint64_t)(c->timeout * 1e9);
    uint64_t drain_end = 0, now = t0;
    bool offering = true;
    for (;;) {
        now = vb_now_ns();
        if (stopped(c))
            break;
        if (offering && (now >= offer_end || (c->count && res->requests >= c->count))) {
            offering = false;
            res->offer_s = (double)(now - t0) / 1e9;
            drain_end = now + (uint64_t)(c->drain * 1e9);
        }
        if (!offering && ((l->m.inflight == 0 && l->fq_tail == l->fq_head) || now >= drain_end))
            break;
        uint64_t budget = UINT64_MAX;
        if (c->rate > 0) {
            uint64_t due = (uint64_t)((double)(now - t0) * c->rate / 1e9) + 1;
            budget = due > res->requests ? due - res->requests : 0;
        }
        if (c->count && offering && budget > c->count - res->requests)
            budget = c->count - res->requests;
        int sent = ld_offer(l, budget, offering, now);
        int got = ld_receive(l);
        vb_match_expire(&l->m, now, timeout);
        if (sent == 0 && got == 0) {
            uint64_t wait = LD_IDLE_MAX_NS;
            if (c->rate > 0 && budget == 0) {
                uint64_t next = t0 + (uint64_t)((double)res->requests * 1e9 / c->rate);
                wait = next > now ? next - now : 0;
            }
            if (wait > 0 || c->rate == 0)
                ld_sleep(l, wait ? wait : LD_IDLE_MAX_NS);
        }
    }
    if (offering)
        res->offer_s = (double)(now - t0) / 1e9;
    res->total_s = (double)(now - t0) / 1e9;
    res->active_s = res->offer_s;
    if (l->last_rx > t0 && (double)(l->last_rx - t0) / 1e9 > res->active_s)
        res->active_s = (double)(l->last_rx - t0) / 1e9;
    vb_match_expire(&l->m, UINT64_MAX, 0);
    res->txn_started = l->m.st.started;
    res->txn_lost = l->m.st.expired;
    res->provisionals = l->m.st.provisionals;
    res->finals = l->m.st.finals;
    res->unknown = l->m.st.unknown;
    res->duplicates = l->m.st.duplicates;
    res->mismatches = l->m.st.mismatches;
    uint64_t ino[VB_LOAD_MAX_SOCKS];
    for (int i = 0; i < l->ns; i++)
        ino[i] = vb_fd_inode(l->s[i].fd);
    res->rx_drops = vb_udp_drops(ino, l->ns);
    ld_free(l);
    free(l);
    return 0;
}

static void print_lat(FILE *f, const struct vb_hist *h)
{
    if (h->count == 0) {
        fprintf(f, "latency: no responses\n");
        return;
    }
    fprintf(f,
            "latency (request -> final response, us): p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  "
            "max %.1f  mean %.1f  (%llu samples)\n",
            vb_hist_pct(h, 50) / 1e3, vb_hist_pct(h, 90) / 1e3, vb_hist_pct(h, 99) / 1e3,
            vb_hist_pct(h, 99.9) / 1e3, vb_hist_pct(h, 100) / 1e3, vb_hist_mean(h) / 1e3,
            (unsigned long long)h->count);
}

void vb_load_print(FILE *f, const struct vb_load_cfg *c, const struct vb_load_result *r)
{
    static const char *kn[VB_RK_COUNT] = {"REGISTER", "INVITE", "ACK", "BYE", "OPTIONS", "MESSAGE"};
    char rate[32];
    if (c->rate > 0)
        snprintf(rate, sizeof(rate), "%.0f/s", c->rate);
    else
        snprintf(rate, sizeof(rate), "unpaced");
    fprintf(f, "load: %s, rate %s, window %llu, %d socket%s: %llu requests in %.2f s = %.0f/s\n",
            vb_scenario_name(c->scenario), rate, (unsigned long long)c->window, c->nsockets,
            c->nsockets == 1 ? "" : "s", (unsigned long long)r->requests, r->offer_s,
            r->offer_s > 0 ? (double)r->requests / r->offer_s : 0.0);
    fprintf(f, "requests:");
    for (int k = 0; k < VB_RK_COUNT; k++)
        if (r->sent[k])
            fprintf(f, " %s %llu", kn[k], (unsigned long long)r->sent[k]);
    fprintf(f, "; send errors %llu\n", (unsigned long long)r->send_errors);
    if (!c->no_reply) {
        fprintf(f, "transactions: %llu started, %llu answered, %llu lost (%.3f%%), %llu non-2xx\n",
                (unsigned long long)r->txn_started, (unsigned long long)r->txn_completed,
                (unsigned long long)r->txn_lost,
                r->txn_started ? 100.0 * (double)r->txn_lost / (double)r->txn_started : 0.0,
                (unsigned long long)r->txn_non2xx);
        fprintf(f,
                "responses: %llu received (%llu provisional, %llu final), %llu unparsable, "
                "%llu unmatched, %llu duplicate, %llu wrong method, %llu dropped by our "
                "socket\n",
                (unsigned long long)r->rx, (unsigned long long)r->provisionals,
                (unsigned long long)r->finals, (unsigned long long)r->bad,
                (unsigned long long)r->unknown, (unsigned long long)r->duplicates,
                (unsigned long long)r->mismatches, (unsigned long long)r->rx_drops);
        if (r->calls_started)
            fprintf(f, "calls: %llu started, %llu completed (BYE answered)%s\n",
                    (unsigned long long)r->calls_started, (unsigned long long)r->calls_completed,
                    r->followups_dropped ? " - follow-up queue overflowed" : "");
        print_lat(f, &r->lat);
    }
}

int vb_load_main(int argc, char **argv)
{
    struct vb_load_cfg c;
    vb_load_defaults(&c);
    const char *target = "127.0.0.1:5060", *scenario = "mixed";
    long sockets = 1, window = 0, count = 0, aors = 10000, batch = 32, cpu = -1;
    double timeout = 2.0;
    bool no_reply = false;
    const struct vb_opt opts[] = {
        {"target", VB_OPT_STR, &target, 0, 0, "IP:PORT", "the system under test (127.0.0.1:5060)"},
        {"local-ip", VB_OPT_STR, &c.local_ip, 0, 0, "IP", "bind the sockets here (127.0.0.1)"},
        {"sockets", VB_OPT_INT, &sockets, 1, VB_LOAD_MAX_SOCKS, "N", "source sockets (1)"},
        {"scenario", VB_OPT_STR, &scenario, 0, 0, "NAME",
         "register | call | options | message | mixed (mixed)"},
        {"rate", VB_OPT_DOUBLE, &c.rate, 0, 1e8, "R", "requests per second; 0: unpaced (0)"},
        {"window", VB_OPT_INT, &window, 0, 1 << 19, "W",
         "transactions in flight at most; "
         "0: no limit (0)"},
        {"duration", VB_OPT_DOUBLE, &c.duration, 0.01, 86400, "S", "seconds of offering (10)"},
        {"count", VB_OPT_INT, &count, 0, 1e12, "N",
         "start nothing new after N requests; calls finish (0: no limit)"},
        {"aors", VB_OPT_INT, &aors, 1, 1e7, "N", "AOR pool of the register scenario (10000)"},
        {"drain", VB_OPT_DOUBLE, &c.drain, 0, 60, "S", "wait for late responses (1)"},
        {"timeout", VB_OPT_DOUBLE, &timeout, 0.001, 60, "S", "unanswered this long: lost (2)"},
        {"batch", VB_OPT_INT, &batch, 1, 1024, "N", "datagrams per sendmmsg (32)"},
        {"no-reply", VB_OPT_FLAG, &no_reply, 0, 0, NULL, "backends do not answer: do not wait"},
        {"cpu", VB_OPT_INT, &cpu, -1, 4095, "C", "pin to CPU C (-1: not pinned)"},
        VB_OPT_END,
    };
    static const char summary[] =
        "Offers a SIP scenario to a forwarder and reports offered, answered and lost\n"
        "transactions and the round-trip latency. Exit status 1 if anything was lost.";
    if (vb_opts_parse("load", summary, opts, argc, argv) < 0)
        return 2;
    c.scenario = vb_scenario_parse(scenario);
    if (c.scenario < 0 || net_addr_parse(target, &c.target, &c.targetlen) < 0) {
        fprintf(stderr, "viaduct-bench load: bad --scenario or --target\n");
        return 2;
    }
    c.nsockets = (int)sockets;
    c.window = (uint64_t)window;
    c.count = (uint64_t)count;
    c.aors = (uint32_t)aors;
    c.batch = (unsigned)batch;
    c.timeout = timeout;
    c.no_reply = no_reply;
    c.cpu = (int)cpu;
    c.run_id = (uint32_t)(vb_now_ns() >> 10);
    static struct vb_load_result r;
    char err[160];
    if (vb_load_run(&c, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "viaduct-bench load: %s\n", err);
        return 1;
    }
    vb_load_print(stdout, &c, &r);
    return r.txn_lost > 0 || r.send_errors > 0 ? 1 : 0;
}
