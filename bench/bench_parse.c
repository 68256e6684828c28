/*
 * bench_parse.c - bench-parse: how long viaduct's parser takes per message, picohttpparser's
 * bench.c shape (STYLE: bench habits).
 *
 * Two realistic messages are built in: an INVITE as a proxy in the middle of a call path sees
 * it (3 Vias, 2 Record-Routes, Route, SDP body, ~900 bytes) and a REGISTER through an outbound
 * proxy (Contact with parameters, Expires, ~500 bytes). Each is parsed N times three ways:
 *   index  sip_parse() alone;
 *   target the set issue #2's speed target names: sip_parse() + the top Via (sip_via_parse) +
 *          Call-ID (its slot) + CSeq (sip_cseq_parse) + Max-Forwards (sip_maxfwd_parse) + the
 *          first Route element (sip_list_next + sip_nameaddr_parse + sip_uri_parse);
 *   full   what the forwarder does per message: sip_parse() + sip_validate() (which adds the
 *          Call-ID check, From, To and the Request-URI to the target set) + the first Route.
 * Every iteration checks the return values and one field, and after the loop the whole result
 * is compared with what the message holds, so a broken parser cannot look fast. Each figure
 * is the median of 5 timed runs (CLOCK_MONOTONIC) after one warm-up run, on one pinned CPU.
 *
 *   $ build/bench-parse 2000000          (iterations per run; default 2,000,000)
 *   $ sh bench/run_parse.sh build        (the same, saved to build/bench/parse.txt)
 *
 * The commit printed is -DGIT_REV if it was compiled in, else $GIT_REV, else "unknown".
 */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parser/sip.h"

#define RUNS 5
#define DEFAULT_ITERATIONS 2000000UL

/* Header section up to and including "Content-Length: "; the length and the body follow. */
static const char invite_head[] =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-sl-7c1e2f44a9b0\r\n"
    "Via: SIP/2.0/UDP ss1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1\r\n"
    "Via: SIP/2.0/UDP 198.51.100.7:5060;received=198.51.100.7;rport=5060"
    ";branch=z9hG4bK74bf9\r\n"
    "Record-Route: <sip:192.0.2.10;lr>\r\n"
    "Record-Route: <sip:ss1.atlanta.example.com;lr>\r\n"
    "Route: <sip:ss2.biloxi.example.com;lr>\r\n"
    "Max-Forwards: 68\r\n"
    "From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    "To: \"Bob\" <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@198.51.100.7:5060;transport=udp>\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO\r\n"
    "Supported: replaces, timer\r\n"
    "User-Agent: Example-Phone/2.4.1\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: ";

static const char invite_body[] = "v=0\r\n"
                                  "o=alice 2890844526 2890844526 IN IP4 198.51.100.7\r\n"
                                  "s=-\r\n"
                                  "c=IN IP4 198.51.100.7\r\n"
                                  "t=0 0\r\n"
                                  "m=audio 49170 RTP/AVP 0\r\n"
                                  "a=rtpmap:0 PCMU/8000\r\n";

static const char register_head[] =
    "REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.51.100.23:5060;rport;branch=z9hG4bKnashds7\r\n"
    "Route: <sip:192.0.2.10;lr>\r\n"
    "Max-Forwards: 70\r\n"
    "From: Bob <sip:bob@biloxi.example.com>;tag=a73kszlfl\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: 1j9FpLxk3uxtm8tn@198.51.100.23\r\n"
    "CSeq: 1826 REGISTER\r\n"
    "Contact: <sip:bob@198.51.100.23:5060;transport=udp>;expires=3600;q=0.7"
    ";+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"\r\n"
    "Expires: 3600\r\n"
    "User-Agent: Example-Phone/2.4.1\r\n"
    "Content-Length: ";

/* What each message must parse to; checked in full after every timed loop. */
struct expect {
    const char *name;
    const char *head, *body;
    char buf[2048];
    size_t len, hdr_len;
    unsigned nhdr, nvia;
    const char *method, *via_host, *branch, *callid, *from_tag, *route_host;
    uint32_t cseq;
    int max_fwd;
};

static struct expect msgs[] = {
    {.name = "INVITE",
     .head = invite_head,
     .body = invite_body,
     .nhdr = 17,
     .nvia = 3,
     .method = "INVITE",
     .via_host = "192.0.2.10",
     .branch = "z9hG4bK-sl-7c1e2f44a9b0",
     .callid = "3848276298220188511@atlanta.example.com",
     .from_tag = "9fxced76sl",
     .route_host = "ss2.biloxi.example.com",
     .cseq = 314159,
     .max_fwd = 68},
    {.name = "REGISTER",
     .head = register_head,
     .body = "",
     .nhdr = 11,
     .nvia = 1,
     .method = "REGISTER",
     .via_host = "198.51.100.23",
     .branch = "z9hG4bKnashds7",
     .callid = "1j9FpLxk3uxtm8tn@198.51.100.23",
     .from_tag = "a73kszlfl",
     .route_host = "192.0.2.10",
     .cseq = 1826,
     .max_fwd = 70},
};

/* Appends the Content-Length value, the empty line and the body to the head. */
static void build(struct expect *e)
{
    size_t body_len = strlen(e->body);
    int n = snprintf(e->buf, sizeof(e->buf), "%s%zu\r\n\r\n%s", e->head, body_len, e->body);
    if (n < 0 || (size_t)n >= sizeof(e->buf)) {
        fprintf(stderr, "bench-parse: %s does not fit\n", e->name);
        exit(1);
    }
    e->len = (size_t)n;
    e->hdr_len = e->len - body_len;
}

static void die(const struct expect *e, const char *what)
{
    fprintf(stderr, "bench-parse: %s: wrong result: %s\n", e->name, what);
    exit(1);
}

static bool span_is(struct span s, const char *text)
{
    return s.p != NULL && span_eq(s, span_make(text, strlen(text)));
}

/* The first Route element's URI, as the forwarder reads it for loose routing. */
static int first_route(const struct sip_msg *m, struct sip_nameaddr *na, struct sip_uri *uri)
{
    struct span list = sip_hvalue(m, SIP_H_ROUTE), item;
    if (list.p == NULL || sip_list_next(&list, &item) != 1)
        return -1;
    if (sip_nameaddr_parse(item, na) < 0)
        return -1;
    return sip_uri_parse(na->uri, uri);
}

/* The whole result against the message; exits on the first difference. */
static void check_full(const struct expect *e, const struct sip_msg *m, const struct sip_info *info,
                       const struct sip_uri *route)
{
    if (m->hdr_len != e->hdr_len || m->msg_len != e->len || m->nhdr != e->nhdr ||
        m->nvia != e->nvia)
        die(e, "header index (hdr_len, msg_len, nhdr or nvia)");
    if (!m->is_request || !span_is(m->method, e->method) || !span_is(m->version, "SIP/2.0"))
        die(e, "start line");
    if (m->body.len != strlen(e->body) || memcmp(m->body.p, e->body, m->body.len) != 0)
        die(e, "body");
    if (!span_is(info->via1.sent_by.host, e->via_host) || !span_is(info->via1.branch, e->branch) ||
        !sip_branch_is_rfc3261(info->via1.branch))
        die(e, "top Via");
    if (!span_is(info->callid, e->callid) || !span_is(info->from.tag, e->from_tag) ||
        info->to.tag.p != NULL)
        die(e, "Call-ID, From tag or To tag");
    if (info->cseq != e->cseq || !span_is(info->cseq_method, e->method) ||
        info->max_fwd != e->max_fwd)
        die(e, "CSeq or Max-Forwards");
    if (info->ruri.scheme != SIP_SCHEME_SIP || !span_is(route->hp.host, e->route_host) ||
        route->lr.p == NULL)
        die(e, "Request-URI or first Route");
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

enum mode { MODE_INDEX, MODE_TARGET, MODE_FULL, MODE_FRAME, MODE_FRAME64 };

/* The target set (see the top of this file): 0, or -1 on any failure. */
static int target_set(const struct expect *e, struct sip_msg *m, struct sip_via *via,
                      struct sip_nameaddr *na, struct sip_uri *route)
{
    uint32_t cseq;
    struct span cseq_method;
    if (sip_parse(e->buf, e->len, m) != (int)e->hdr_len || m->nvia == 0 ||
        sip_via_parse(m->via[0], via) != 0 || sip_hvalue(m, SIP_H_CALL_ID).p == NULL ||
        sip_cseq_parse(sip_hvalue(m, SIP_H_CSEQ), &cseq, &cseq_method) != 0 || cseq != e->cseq ||
        sip_maxfwd_parse(sip_hvalue(m, SIP_H_MAX_FORWARDS)) != e->max_fwd)
        return -1;
    return first_route(m, na, route);
}

/* One timed run of n iterations; returns ns per message. */
static double run(const struct expect *e, enum mode mode, unsigned long n)
{
    static struct sip_msg m;
    static struct sip_info info;
    struct sip_nameaddr na;
    struct sip_uri route;
    const int want = (int)e->hdr_len;
    const size_t route_len = strlen(e->route_host); /* not strlen per iteration */

    double t0 = now_ns();
    if (mode == MODE_INDEX) {
        for (unsigned long i = 0; i < n; i++) {
            if (sip_parse(e->buf, e->len, &m) != want || m.nvia != e->nvia)
                die(e, "sip_parse in the loop");
        }
    } else if (mode == MODE_TARGET) {
        struct sip_via via;
        for (unsigned long i = 0; i < n; i++) {
            if (target_set(e, &m, &via, &na, &route) != 0 || route.hp.host.len != route_len)
                die(e, "target set in the loop");
        }
        if (!span_is(via.branch, e->branch))
            die(e, "top Via branch of the target set");
    } else if (mode == MODE_FRAME || mode == MODE_FRAME64) {
        /* a stream's framing before the parse: the whole message in one call, or arriving
         * in 64-byte pieces with the framer going on from its saved offset each time */
        const struct sip_frame_lim lim = {65535, 65535};
        size_t step = mode == MODE_FRAME ? e->len : 64;
        for (unsigned long i = 0; i < n; i++) {
            struct sip_frame f;
            sip_frame_reset(&f);
            int r = SIP_FRAME_MORE;
            for (size_t have = step; r == SIP_FRAME_MORE; have += step)
                r = sip_frame(e->buf, have < e->len ? have : e->len, &lim, &f);
            if (r != SIP_FRAME_MSG || f.msg_len != e->len || f.hdr_len != e->hdr_len)
                die(e, "sip_frame in the loop");
        }
    } else {
        for (unsigned long i = 0; i < n; i++) {
            if (sip_parse(e->buf, e->len, &m) != want || sip_validate(&m, &info) != 0 ||
                info.cseq != e->cseq || first_route(&m, &na, &route) != 0 ||
                route.hp.host.len != route_len)
                die(e, "full parse in the loop");
        }
    }
    double t1 = now_ns();

    memset(&info, 0, sizeof(info));
    memset(&route, 0, sizeof(route));
    if (sip_parse(e->buf, e->len, &m) != want || sip_validate(&m, &info) != 0 ||
        first_route(&m, &na, &route) != 0)
        die(e, "full parse after the loop");
    check_full(e, &m, &info, &route);
    return (t1 - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "model name" from /proc/cpuinfo into buf, or "unknown". */
static void cpu_model(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            colon += 2;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(buf, cap, "%s", colon);
            break;
        }
    }
    fclose(f);
}

/* Keeps the timed loops on one CPU: a migration mid-run costs more than a whole parse. */
static int pin_cpu(void)
{
    int cpu = sched_getcpu();
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu < 0)
        return -1;
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0 ? cpu : -1;
}

int main(int argc, char **argv)
{
    unsigned long n = DEFAULT_ITERATIONS;
    if (argc > 2 || (argc == 2 && (n = strtoul(argv[1], NULL, 10)) == 0)) {
        fprintf(stderr, "usage: bench-parse [iterations per run, default %lu]\n",
                DEFAULT_ITERATIONS);
        return 2;
    }
#ifdef GIT_REV
    const char *rev = GIT_REV;
#else
    const char *rev = getenv("GIT_REV") != NULL ? getenv("GIT_REV") : "unknown";
#endif
    char cpu[128];
    cpu_model(cpu, sizeof(cpu));
    int pinned = pin_cpu();

    printf("viaduct parse bench: commit %s, cpu %s (pinned to %d), %lu iterations x %d runs, "
           "median\n",
           rev, cpu, pinned, n, RUNS);
    printf("%-9s %6s  %-44s %9s %9s %9s %8s\n", "message", "bytes", "work", "ns/msg", "min ns",
           "max ns", "MB/s");
    static const char *const work[] = {
        "index (sip_parse)",
        "target (+ top Via, Call-ID, CSeq, MF, Route)",
        "full (parse + validate + first Route)",
        "frame (sip_frame, whole message)",
        "frame (sip_frame, 64-byte pieces)",
    };
    double invite_target = 0, invite_full = 0;
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        struct expect *e = &msgs[i];
        build(e);
        for (int mode = MODE_INDEX; mode <= MODE_FRAME64; mode++) {
            double t[RUNS];
            run(e, (enum mode)mode, n / 10 + 1); /* warm-up: caches, branch predictors */
            for (int r = 0; r < RUNS; r++)
                t[r] = run(e, (enum mode)mode, n);
            qsort(t, RUNS, sizeof(t[0]), cmp_double);
            double med = t[RUNS / 2];
            printf("%-9s %6zu  %-44s %9.1f %9.1f %9.1f %8.0f\n", e->name, e->len, work[mode], med,
                   t[0], t[RUNS - 1], (double)e->len * 1e3 / med);
            if (i == 0 && mode == MODE_TARGET)
                invite_target = med;
            if (i == 0 && mode == MODE_FULL)
                invite_full = med;
        }
    }
    printf("target: full parse of the INVITE (index + top Via + Call-ID + CSeq + Max-Forwards + "
           "Route) < 400 ns: %.1f ns, %s\n",
           invite_target, invite_target < 400 ? "met" : "MISSED");
    printf("forwarder's whole parse of the INVITE (adds From, To, Request-URI): %.1f ns\n",
           invite_full);
    return 0;
}
