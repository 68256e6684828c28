/*
 * bench_px.c - bench-px: the per-datagram work of a worker without the kernel: parse, pick the
 * next hop, build the iovec (px_handle), for a request going to a backend and for the response
 * coming back. The socket cost is measured end to end by viaduct-bench; this isolates ours.
 *
 * One realistic INVITE as a UA sends it to viaduct (one Via with rport, a pre-loaded Route
 * naming viaduct, SDP body) and its 200 OK as the backend sends it back (our Via on top). Every
 * iteration checks that a datagram of the expected length was built for the expected
 * destination, so a broken proxy cannot look fast. Median of 5 runs on one pinned CPU.
 *
 *   $ build/bench-px 2000000
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/px.h"

#define RUNS 5

static const char invite_head[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.51.100.7:5060;rport;branch=z9hG4bK776asdhds\r\n"
    "Route: <sip:192.0.2.10;lr>\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n"
    "To: \"Bob\" <sip:bob@example.com>\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@198.51.100.7:5060>\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"
    "Supported: replaces, timer\r\n"
    "User-Agent: Example-Phone/2.4.1\r\n"
    "Content-Type: application/sdp\r\n";

static const char invite_body[] = "v=0\r\n"
                                  "o=alice 2890844526 2890844526 IN IP4 198.51.100.7\r\n"
                                  "s=-\r\n"
                                  "c=IN IP4 198.51.100.7\r\n"
                                  "t=0 0\r\n"
                                  "m=audio 49170 RTP/AVP 0\r\n"
                                  "a=rtpmap:0 PCMU/8000\r\n";

/* The 200 OK's Via lines are filled in from the forwarded INVITE. */
static const char ok_rest[] = "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n"
                              "To: \"Bob\" <sip:bob@example.com>;tag=a6c85cf\r\n"
                              "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
                              "CSeq: 314159 INVITE\r\n"
                              "Contact: <sip:bob@203.0.113.12:5060>\r\n"
                              "Content-Length: 0\r\n\r\n";

struct bench {
    struct cfg c;
    struct px_cfg cfg;
    struct px_state ps;
    struct st_worker st;
    struct net_tx tx;
    struct sockaddr_storage src;
    socklen_t srclen;
};

static void die(const char *what)
{
    fprintf(stderr, "bench-px: %s\n", what);
    exit(1);
}

/* viaduct at 192.0.2.10:5060 in front of four backends, built as main does. */
static void setup(struct bench *b)
{
    char err[CFG_ERR_LEN];
    cfg_defaults(&b->c);
    b->c.nlisten = 1;
    snprintf(b->c.listen[0], CFG_STR, "192.0.2.10:5060");
    for (int i = 0; i < 4; i++) {
        char a[32];
        snprintf(a, sizeof(a), "203.0.113.%d:5060", 12 + i);
        if (cfg_add_backend(&b->c, a, err, sizeof(err)) < 0)
            die(err);
    }
    /* one source sends millions at a frozen clock: no limit, but the source's
     * bucket is still looked up and charged, so its cost is measured */
    b->c.security.lim.rate = 0;
    if (cfg_validate(&b->c, err, sizeof(err)) < 0 ||
        px_cfg_build(&b->cfg, &b->c, err, sizeof(err)) < 0)
        die(err);
}

/* The source address is converted once per timed loop, not per datagram:
 * the engines hand px_handle a sockaddr, never text. */
static void set_source(struct bench *b, const char *from)
{
    if (net_addr_parse(from, &b->src, &b->srclen) < 0)
        die("bad source address");
}

static size_t handle(struct bench *b, char *buf, size_t len)
{
    struct net_rx rx = {
        .buf = buf, .len = len, .src = (struct sockaddr *)&b->src, .srclen = b->srclen};
    px_handle(&b->cfg, &b->ps, &b->st, &rx, &b->tx, 1000, 1700000000000000);
    size_t n = 0;
    for (int i = 0; i < b->tx.niov; i++)
        n += b->tx.iov[i].iov_len;
    return n;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* ns per datagram over n iterations; each result must have length want. */
static double run(struct bench *b, char *buf, size_t len, const char *from, size_t want,
                  unsigned long n)
{
    set_source(b, from);
    double t0 = now_ns();
    for (unsigned long i = 0; i < n; i++)
        if (handle(b, buf, len) != want)
            die("a datagram came out with the wrong length");
    return (now_ns() - t0) / (double)n;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(struct bench *b, char *buf, size_t len, const char *from, size_t want,
                     unsigned long n)
{
    double r[RUNS];
    run(b, buf, len, from, want, n / 10 + 1); /* warm-up */
    for (int i = 0; i < RUNS; i++)
        r[i] = run(b, buf, len, from, want, n);
    qsort(r, RUNS, sizeof(r[0]), cmp);
    return r[RUNS / 2];
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000UL;
    static struct bench b;
    static char req[4096], resp[4096];
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof(set), &set);
    setup(&b);

    /* the request once, to learn what it becomes and to build the response */
    size_t req_len = (size_t)snprintf(req, sizeof(req), "%sContent-Length: %zu\r\n\r\n%s",
                                      invite_head, sizeof(invite_body) - 1, invite_body);
    set_source(&b, "198.51.100.7:5060");
    size_t fwd_len = handle(&b, req, req_len);
    int fwd_iov = b.tx.niov;
    if (fwd_len == 0 || b.tx.niov < 1)
        die("the INVITE was not forwarded");
    char out[4096];
    size_t o = 0;
    for (int i = 0; i < b.tx.niov; i++) {
        memcpy(out + o, b.tx.iov[i].iov_base, b.tx.iov[i].iov_len);
        o += b.tx.iov[i].iov_len;
    }
    out[o] = 0;
    if (getenv("BENCH_PX_SHOW"))
        fputs(out, stderr);
    const char *v1 = strstr(out, "\r\nVia: ") + 2;
    const char *v2 = strstr(v1 + 1, "\r\nVia: ") + 2;
    const char *v2end = strstr(v2, "\r\n") + 2;
    size_t rl = (size_t)snprintf(resp, sizeof(resp), "SIP/2.0 200 OK\r\n%.*s%s", (int)(v2end - v1),
                                 v1, ok_rest);
    set_source(&b, "203.0.113.12:5060");
    size_t back_len = handle(&b, resp, rl);
    int back_iov = b.tx.niov;
    if (back_len != rl - (size_t)(v2 - v1))
        die("the 200 OK was not forwarded without our Via");

    double t_req = median(&b, req, req_len, "198.51.100.7:5060", fwd_len, n);
    double t_resp = median(&b, resp, rl, "203.0.113.12:5060", back_len, n);
    printf("viaduct px bench: %lu iterations x %d runs, median, pinned to CPU 0\n", n, RUNS);
    /* segments: the iovecs the kernel copies one by one on the send */
    printf("%-28s %6s %6s %9s %10s\n", "datagram", "in", "out", "segments", "ns/msg");
    printf("%-28s %6zu %6zu %9d %10.1f\n", "INVITE -> backend", req_len, fwd_len, fwd_iov, t_req);
    printf("%-28s %6zu %6zu %9d %10.1f\n", "200 OK -> client", rl, back_len, back_iov, t_resp);
    return 0;
}
