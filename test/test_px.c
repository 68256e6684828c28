/*
 * test_px.c - the stateless proxy's decisions, byte for byte, with no sockets:
 * synthetic datagrams go into px_handle and the iovecs it fills are flattened
 * and compared. The integration tests run the same behaviour through the
 * real binary; these pin down exact bytes and edge cases quickly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/health.h"
#include "core/px.h"
#include "core/px_internal.h" /* px_via_tag: to make responses as if to requests we forwarded */

struct fixture {
    struct cfg c;
    struct px_cfg cfg;
    struct px_state ps;
    struct st_worker st;
    struct net_tx tx;
    struct sockaddr_storage src;
    socklen_t srclen;
    char rxbuf[70000];
    char out[70000];
    size_t outlen;
    int64_t now_ms; /* the fake clock px_handle is given */
    int64_t now_us; /* its wall clock, in microseconds */
};

/* viaduct at 192.0.2.10:5060 (wild: at 0.0.0.0:5060 as sip.test:5060) with
 * two backends in the default pool (none when no_default) and, when pools is
 * set, a "registrars" pool that takes REGISTERs. */
static struct fixture *fx_new_with(bool pools, bool wild, bool no_default)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[CFG_ERR_LEN];
    assert_non_null(f);
    cfg_defaults(&f->c);
    f->c.nlisten = 1;
    snprintf(f->c.listen[0], CFG_STR, wild ? "0.0.0.0:5060" : "192.0.2.10:5060");
    if (wild)
        snprintf(f->c.advertise[0], CFG_STR, "sip.test:5060");
    if (!no_default) {
        assert_int_equal(cfg_add_backend(&f->c, "203.0.113.12:5060", err, sizeof(err)), 0);
        assert_int_equal(cfg_add_backend(&f->c, "203.0.113.13:5060", err, sizeof(err)), 0);
    }
    if (pools) {
        struct cfg_pool *p = &f->c.pools[f->c.npools++];
        snprintf(p->name, sizeof(p->name), "registrars");
        p->backends = calloc(1, sizeof(*p->backends));
        p->nbackends = 1;
        snprintf(p->backends[0].address, CFG_STR, "203.0.113.50:5060");
        p->backends[0].weight = 1;
        struct cfg_rule *r = &f->c.rules[f->c.nrules++];
        snprintf(r->methods[0], sizeof(r->methods[0]), "REGISTER");
        r->nmethods = 1;
        snprintf(r->pool, sizeof(r->pool), "registrars");
    }
    /* the tests written before the relay policy play a trusted peer at
     * 198.51.100.7; the policy's own tests send from 198.18.0.9, untrusted */
    struct cfg_cidr *t = &f->c.security.trusted[f->c.security.ntrusted++];
    t->family = AF_INET;
    memcpy(t->addr, (const uint8_t[]){198, 51, 100, 0}, 4);
    t->prefix = 24;
    snprintf(f->c.security.secret, CFG_STR, "unit-test-secret-0123456789");
    if (cfg_validate(&f->c, err, sizeof(err)) != 0)
        fail_msg("cfg_validate: %s", err);
    if (px_cfg_build(&f->cfg, &f->c, err, sizeof(err)) != 0)
        fail_msg("px_cfg_build: %s", err);
    assert_int_equal(net_addr_parse("198.51.100.7:5060", &f->src, &f->srclen), 0);
    f->now_ms = 86400 * 1000; /* a day after boot: windows of 200 s fit before it */
    f->now_us = 1700000000000000; /* 2023-11-14: vdt=" 9e4d9600"... fixed, so outputs are */
    if (wild) {
        /* a local address whatever host runs the test: 192.0.2.77 */
        assert_true(f->cfg.nlocal < PX_MAX_LOCAL);
        struct px_local *l = &f->cfg.local[f->cfg.nlocal++];
        l->family = AF_INET;
        memcpy(l->addr, (const uint8_t[]){192, 0, 2, 77}, 4);
    }
    return f;
}

static struct fixture *fx_new(bool pools, bool wild)
{
    return fx_new_with(pools, wild, false);
}

static int setup(void **state)
{
    *state = fx_new(false, false);
    return 0;
}

static int setup_pools(void **state)
{
    *state = fx_new(true, false);
    return 0;
}

static int setup_wild(void **state)
{
    *state = fx_new(false, true);
    return 0;
}

static int setup_no_default(void **state)
{
    *state = fx_new_with(true, false, true);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    px_cfg_free(&f->cfg);
    cfg_free(&f->c);
    free(f);
    return 0;
}

/* Runs one datagram through px_handle; flattens the reply into f->out. */
static size_t run(struct fixture *f, const char *msg, size_t len)
{
    memcpy(f->rxbuf, msg, len);
    struct net_rx rx = {
        .buf = f->rxbuf, .len = len, .src = (struct sockaddr *)&f->src, .srclen = f->srclen};
    px_handle(&f->cfg, &f->ps, &f->st, &rx, &f->tx, f->now_ms, f->now_us);
    f->outlen = 0;
    for (int i = 0; i < f->tx.niov; i++) {
        memcpy(f->out + f->outlen, f->tx.iov[i].iov_base, f->tx.iov[i].iov_len);
        f->outlen += f->tx.iov[i].iov_len;
    }
    f->out[f->outlen] = '\0';
    return f->outlen;
}

#define RUN(f, s) run((f), (s), sizeof(s) - 1)

/* Runs a message as if it had come on TCP connection conn (worker f->ps.wk_id's). */
static size_t run_conn(struct fixture *f, const char *msg, size_t len, uint64_t conn)
{
    memcpy(f->rxbuf, msg, len);
    struct net_rx rx = {.buf = f->rxbuf,
                        .len = len,
                        .src = (struct sockaddr *)&f->src,
                        .srclen = f->srclen,
                        .conn = conn};
    f->tx.conn = 0;
    px_handle(&f->cfg, &f->ps, &f->st, &rx, &f->tx, f->now_ms, f->now_us);
    f->outlen = 0;
    for (int i = 0; i < f->tx.niov; i++) {
        memcpy(f->out + f->outlen, f->tx.iov[i].iov_base, f->tx.iov[i].iov_len);
        f->outlen += f->tx.iov[i].iov_len;
    }
    f->out[f->outlen] = '\0';
    return f->outlen;
}

/*
 * A response as if to a request viaduct forwarded: the branch of its top
 * Via replaced by one with the tag px_handle would have written (over where
 * the next Via sends it, that Via's branch, the Call-ID and the CSeq number,
 * with key; NULL: the current key). Then run. A message px cannot read, or
 * with no next Via, runs unchanged.
 */
static size_t run_signed_with(struct fixture *f, const char *msg, const uint8_t *key)
{
    static char buf[70000];
    size_t len = strlen(msg);
    struct sip_msg *m = &f->ps.msg;
    struct sip_info *in = &f->ps.info;
    struct sip_via top, next;
    if (sip_parse(msg, len, m) < 0 || sip_validate(m, in) < 0 || m->nvia < 2 ||
        sip_via_parse(m->via[0], &top) < 0 || sip_via_parse(m->via[1], &next) < 0 ||
        top.branch.p == NULL)
        return run(f, msg, len);
    struct span host = next.received.p ? next.received : next.sent_by.host;
    if (host.len > 2 && host.p[0] == '[')
        host = span_make(host.p + 1, host.len - 2);
    int port = next.rport.len > 0 ? atoi_span(next.rport)
                                  : next.sent_by.port < 0 ? 5060 : next.sent_by.port;
    struct sockaddr_storage d;
    socklen_t dl;
    if (net_addr_from_ip(host.p, host.len, port, &d, &dl) < 0)
        return run(f, msg, len);
    uint64_t tag = px_via_tag(key ? key : f->cfg.key.via, (struct sockaddr *)&d, next.branch,
                              in->callid, in->cseq, 0, 0);
    char br[64];
    snprintf(br, sizeof(br), "z9hG4bK%016llx%016llx.%016llx", 0x1234ULL, (unsigned long long)tag,
             0x5678ULL);
    size_t at = (size_t)(top.branch.p - msg), n = 0;
    memcpy(buf, msg, at);
    n = at;
    memcpy(buf + n, br, strlen(br));
    n += strlen(br);
    memcpy(buf + n, msg + at + top.branch.len, len - at - top.branch.len);
    n += len - at - top.branch.len;
    return run(f, buf, n);
}

static size_t run_signed(struct fixture *f, const char *msg)
{
    return run_signed_with(f, msg, NULL);
}
#define ASSERT_STARTS(f, s) assert_memory_equal((f)->out, (s), sizeof(s) - 1)

static const char *dest(struct fixture *f, char *buf);

static void assert_dest(struct fixture *f, const char *want)
{
    char a[80];
    net_addr_format((struct sockaddr *)&f->tx.dst, a, sizeof(a));
    assert_string_equal(a, want);
}

/* The value of the first header named name (exact case) in f->out. */
static const char *header(struct fixture *f, const char *name, char *buf, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\r\n%s: ", name);
    const char *p = strstr(f->out, pat);
    if (p == NULL)
        return NULL;
    p += strlen(pat);
    const char *e = strstr(p, "\r\n");
    snprintf(buf, cap, "%.*s", (int)(e - p), p);
    return buf;
}

static uint64_t counter(struct fixture *f, const char *name)
{
    struct st_worker *w = &f->st;
    return (uint64_t)st_sum(&w, 1, name);
}

#define INVITE_HEAD                                                                                \
    "INVITE sip:bob@example.com SIP/2.0\r\n"                                                       \
    "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKabc\r\n"                                     \
    "Max-Forwards: 70\r\n"                                                                         \
    "From: <sip:alice@example.com>;tag=a1\r\n"                                                     \
    "To: <sip:bob@example.com>\r\n"                                                                \
    "Call-ID: call-1@example.com\r\n"                                                              \
    "CSeq: 1 INVITE\r\n"

static void test_px_forwards_request_with_our_via_and_decremented_max_forwards(void **state)
{
    struct fixture *f = *state;
    RUN(f, INVITE_HEAD "Content-Length: 4\r\n\r\nbodyTRAILING");
    assert_int_equal(counter(f, "fwd_requests"), 1);
    const char *want_prefix = "INVITE sip:bob@example.com SIP/2.0\r\n"
                              "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK";
    assert_memory_equal(f->out, want_prefix, strlen(want_prefix));
    const char *rest = strstr(f->out, "\r\nVia: SIP/2.0/UDP 198.51.100.7");
    assert_non_null(rest);
    /* after the cookie: 32 hex digits (the transaction), '.', 16 (the loop
     * check), then the send time (10 us units of the fake wall clock, mod
     * 2^32) and the line ends */
    assert_int_equal(rest - f->out, (long)strlen(want_prefix) + 32 + 1 + 16 + 13);
    assert_int_equal(f->out[strlen(want_prefix) + 32], '.');
    assert_memory_equal(f->out + strlen(want_prefix) + 32 + 1 + 16, ";vdt=359ca000", 13);
    assert_non_null(strstr(f->out, "\r\nMax-Forwards: 69\r\n"));
    /* sent-by equals the source: no received; bytes past Content-Length not sent */
    assert_null(strstr(f->out, "received="));
    assert_memory_equal(f->out + f->outlen - 8, "\r\n\r\nbody", 8);
    char a[80];
    net_addr_format((struct sockaddr *)&f->tx.dst, a, sizeof(a));
    assert_true(strcmp(a, "203.0.113.12:5060") == 0 || strcmp(a, "203.0.113.13:5060") == 0);
}

/* RFC 3261 §7.5: empty lines before the request line (a keep-alive glued
 * to a request) are dropped and the request is forwarded; before the fix
 * the whole datagram was refused as malformed. */
static void test_px_forwards_request_after_leading_crlf(void **state)
{
    struct fixture *f = *state;
    char plain[4096];
    RUN(f, INVITE_HEAD "\r\n");
    memcpy(plain, f->out, f->outlen + 1);
    RUN(f, "\r\n\r\n\n" INVITE_HEAD "\r\n");
    assert_string_equal(f->out, plain); /* the same bytes as without the CRLFs */
    assert_int_equal(counter(f, "fwd_requests"), 2);
    assert_int_equal(counter(f, "rx_keepalive"), 0);
}

static void test_px_adds_max_forwards_70_when_absent(void **state)
{
    struct fixture *f = *state;
    RUN(f, "OPTIONS sip:bob@example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKx\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n");
    char v[64];
    assert_string_equal(header(f, "Max-Forwards", v, sizeof(v)), "70");
}

static void test_px_adds_received_and_rport(void **state)
{
    struct fixture *f = *state;
    RUN(f, "BYE sip:bob@example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 10.0.0.1:5070;rport;branch=z9hG4bKr\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\n"
           "Call-ID: c2\r\nCSeq: 2 BYE\r\nMax-Forwards: 0068\r\n\r\n");
    assert_non_null(strstr(f->out, "\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;rport=5060;branch=z9hG4bKr;"
                                   "received=198.51.100.7\r\n"));
    assert_non_null(strstr(f->out, "\r\nMax-Forwards: 67\r\n"));
}

static void test_px_same_branch_for_retransmission_cancel_and_non2xx_ack(void **state)
{
    struct fixture *f = *state;
    char b1[128], b2[128], b3[128], d1[80], d3[80];
    RUN(f, INVITE_HEAD "\r\n");
    header(f, "Via", b1, sizeof(b1));
    net_addr_format((struct sockaddr *)&f->tx.dst, d1, sizeof(d1));
    RUN(f, "CANCEL sip:bob@example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKabc\r\n"
           "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: call-1@example.com\r\nCSeq: 1 CANCEL\r\n\r\n");
    header(f, "Via", b2, sizeof(b2));
    RUN(f, "ACK sip:bob@example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKabc\r\n"
           "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b9\r\n"
           "Call-ID: call-1@example.com\r\nCSeq: 1 ACK\r\n\r\n");
    header(f, "Via", b3, sizeof(b3));
    net_addr_format((struct sockaddr *)&f->tx.dst, d3, sizeof(d3));
    assert_string_equal(b1, b2);
    assert_string_equal(b1, b3);
    assert_string_equal(d1, d3);
    RUN(f, "INVITE sip:bob@example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKother\r\n"
           "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: call-1@example.com\r\nCSeq: 1 INVITE\r\n\r\n");
    header(f, "Via", b2, sizeof(b2));
    assert_string_not_equal(b1, b2);
}

static void test_px_rfc2543_branch_ignores_to_tag(void **state)
{
    struct fixture *f = *state;
    char b1[128], b2[128];
    RUN(f, "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7\r\n"
           "From: <sip:a@example.com>\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: old\r\nCSeq: 5 INVITE\r\n\r\n");
    header(f, "Via", b1, sizeof(b1));
    RUN(f, "ACK sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7\r\n"
           "From: <sip:a@example.com>\r\nTo: <sip:bob@example.com>;tag=t\r\n"
           "Call-ID: old\r\nCSeq: 5 ACK\r\n\r\n");
    header(f, "Via", b2, sizeof(b2));
    assert_string_equal(b1, b2);
}

static void test_px_removes_own_route_and_follows_the_next(void **state)
{
    struct fixture *f = *state;
    RUN(f, "BYE sip:bob@198.51.100.23 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKq\r\n"
           "Route: <sip:192.0.2.10;lr>, <sip:203.0.113.99:5080;lr>\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\n"
           "Call-ID: c3\r\nCSeq: 3 BYE\r\n\r\n");
    assert_non_null(strstr(f->out, "\r\nRoute: <sip:203.0.113.99:5080;lr>\r\n"));
    assert_null(strstr(f->out, "192.0.2.10;lr"));
    assert_dest(f, "203.0.113.99:5080");
}

/* A request routed to us whose Request-URI names another host by IP (a
 * backend's BYE to a client in a dialog only viaduct record-routed) goes to
 * that host, not back into the cluster by hash. */
static void test_px_own_route_then_ip_request_uri_goes_there(void **state)
{
    struct fixture *f = *state;
    RUN(f, "BYE sip:alice@198.51.100.99:5070 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 203.0.113.12:5060;branch=z9hG4bKb\r\n"
           "Route: <sip:192.0.2.10;lr>\r\n"
           "From: <sip:bob@example.com>;tag=2\r\nTo: <sip:alice@example.com>;tag=1\r\n"
           "Call-ID: rr-only-us\r\nCSeq: 2 BYE\r\n\r\n");
    assert_dest(f, "198.51.100.99:5070");
    assert_null(strstr(f->out, "Route:"));
}

static void test_px_removes_own_route_line_and_uses_the_table(void **state)
{
    struct fixture *f = *state;
    RUN(f, "MESSAGE sip:bob@example.com SIP/2.0\r\n"
           "Route: <sip:192.0.2.10:5060;lr>\r\n"
           "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKm\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: c4\r\nCSeq: 1 MESSAGE\r\n\r\n");
    assert_null(strstr(f->out, "Route:"));
    assert_int_equal(counter(f, "fwd_requests"), 1);
}

/* 0.0.0.0:5060 receives on every local address: a Route or Request-URI
 * naming one with port 5060 means us (before the fix such a Route was
 * followed, to ourselves, until Max-Forwards ran out). */
static void test_px_wildcard_listener_takes_every_local_address_as_us(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *ruri, *route, *dest; /* dest NULL: one of the backends */
    } cases[] = {
        {"sip:bob@example.com", "<sip:192.0.2.77;lr>", NULL},
        {"sip:bob@example.com", "<sip:127.0.0.5:5060;lr>", NULL}, /* all of 127/8 is local */
        {"sip:bob@127.0.0.1", "<sip:192.0.2.77;lr>", NULL},       /* R-URI is us: the table */
        {"sip:bob@192.0.2.77:5060", "<sip:sip.test;lr>", NULL},
        {"sip:bob@198.51.100.23", "<sip:192.0.2.77;lr>", "198.51.100.23:5060"},
        {"sip:bob@example.com", "<sip:192.0.2.77:5070;lr>", "192.0.2.77:5070"}, /* not our port */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[1024], d[80];
        snprintf(msg, sizeof(msg),
                 "MESSAGE %s SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKw%zu\r\n"
                 "Route: %s\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
                 "Call-ID: wild-%zu\r\nCSeq: 1 MESSAGE\r\n\r\n",
                 cases[i].ruri, i, cases[i].route, i);
        run(f, msg, strlen(msg));
        dest(f, d);
        if (cases[i].dest != NULL) {
            assert_string_equal(d, cases[i].dest);
            continue;
        }
        if (strcmp(d, "203.0.113.12:5060") != 0 && strcmp(d, "203.0.113.13:5060") != 0)
            fail_msg("case %zu went to %s, not to a backend", i, d);
        assert_null(strstr(f->out, "\r\nRoute:"));
    }
    assert_int_equal(counter(f, "fwd_requests"), sizeof(cases) / sizeof(cases[0]));
}

/* Whatever names it (a response's next Via, a flow token, the source of a
 * request answered locally), nothing is sent to one of our own sockets. */
static void test_px_never_sends_to_its_own_address(void **state)
{
    struct fixture *f = *state;
    run_signed(f, "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP sip.test:5060;branch=z9hG4bKo\r\n"
                  "Via: SIP/2.0/UDP 192.0.2.77:5060;branch=z9hG4bKn\r\nFrom: <sip:a@x.com>;tag=1\r\n"
                  "To: <sip:b@x.com>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n");
    assert_int_equal(f->tx.niov, 0);
    assert_int_equal(counter(f, "drop_to_self"), 1);

    /* a flow token for 192.0.2.77:5060: what a REGISTER from there gets */
    char v[128], req[1024];
    f->cfg.path = true;
    assert_int_equal(net_addr_parse("192.0.2.77:5060", &f->src, &f->srclen), 0);
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.77;branch=z9hG4bKr\r\n"
           "Supported: path\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
           "Call-ID: r1\r\nCSeq: 1 REGISTER\r\n\r\n");
    assert_non_null(header(f, "Path", v, sizeof(v)));
    *strchr(v, '>') = '\0';
    assert_int_equal(net_addr_parse("203.0.113.12:5060", &f->src, &f->srclen), 0);
    snprintf(req, sizeof(req),
             "INVITE sip:a@198.51.100.7 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.12;branch=z9hG4bKp\r\n"
             "Route: %s>\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
             "Call-ID: p1\r\nCSeq: 1 INVITE\r\n\r\n",
             v);
    run(f, req, strlen(req));
    assert_int_equal(f->tx.niov, 0);
    assert_int_equal(counter(f, "drop_to_self"), 2);

    /* a broken request "from" our own address is not answered there */
    assert_int_equal(net_addr_parse("127.0.0.1:5060", &f->src, &f->srclen), 0);
    RUN(f, "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKb\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: c9\r\nCSeq: 1 BYE\r\n\r\n");
    assert_int_equal(f->tx.niov, 0);
    assert_int_equal(counter(f, "drop_to_self"), 3);
    assert_int_equal(counter(f, "fwd_requests") + counter(f, "fwd_responses"), 1); /* REGISTER */
}

/* What a next hop at 203.0.113.12 sends back of the request viaduct just
 * forwarded (f->out): its Via on top, the Request-URI replaced by ruri
 * when given, extra lines (or "") after its Via. */
static size_t back_through(struct fixture *f, const char *ruri, const char *extra, char *buf,
                           size_t cap)
{
    const char *eol = strstr(f->out, "\r\n") + 2;
    const char *uri = strchr(f->out, ' ') + 1;
    int n = snprintf(buf, cap, "%.*s%s%s\r\nVia: SIP/2.0/UDP 203.0.113.12:5060;branch=z9hG4bKhop\r\n%s%s",
                     (int)(uri - f->out), f->out, ruri ? ruri : "",
                     ruri ? " SIP/2.0" : "", extra, eol);
    if (ruri == NULL) /* the request line as it was */
        n = snprintf(buf, cap, "%.*sVia: SIP/2.0/UDP 203.0.113.12:5060;branch=z9hG4bKhop\r\n%s%s",
                     (int)(eol - f->out), f->out, extra, eol);
    assert_true(n > 0 && (size_t)n < cap);
    assert_int_equal(net_addr_parse("203.0.113.12:5060", &f->src, &f->srclen), 0);
    return (size_t)n;
}

/* RFC 3261 §16.3 step 4: before the fix a request that came back through
 * another proxy unchanged was forwarded again (to the same backend, the
 * same hash) until Max-Forwards ran out. */
static void test_px_request_back_unchanged_is_482_and_a_spiral_is_not(void **state)
{
    struct fixture *f = *state;
    char ours[160], back[4096], v[160];
    RUN(f, INVITE_HEAD "\r\n");
    header(f, "Via", ours, sizeof(ours));
    run(f, back, back_through(f, NULL, "", back, sizeof(back)));
    ASSERT_STARTS(f, "SIP/2.0 482 Loop Detected\r\n");
    assert_dest(f, "203.0.113.12:5060");
    assert_int_equal(counter(f, "local_482"), 1);

    /* the ACK of that 482 comes back the same way: dropped, never answered */
    RUN(f, INVITE_HEAD "\r\n");
    memcpy(strstr(f->out, "CSeq: 1 INVITE"), "CSeq: 1 ACK   ", 14);
    memcpy(f->out, "ACK   ", 6);
    assert_int_equal(run(f, back, back_through(f, NULL, "", back, sizeof(back))), 0);

    /* a spiral: the next hop retargeted it */
    assert_int_equal(net_addr_parse("198.51.100.7:5060", &f->src, &f->srclen), 0);
    RUN(f, INVITE_HEAD "\r\n");
    run(f, back, back_through(f, "sip:carol@example.com", "", back, sizeof(back)));
    ASSERT_STARTS(f, "INVITE sip:carol@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10");
    assert_non_null(strstr(f->out, ours)); /* our first Via is still there, lower */
    assert_string_not_equal(header(f, "Via", v, sizeof(v)), ours);

    /* a route set that visits us twice: the Route values differ */
    assert_int_equal(net_addr_parse("198.51.100.7:5060", &f->src, &f->srclen), 0);
    RUN(f, INVITE_HEAD "\r\n");
    run(f, back, back_through(f, NULL, "Route: <sip:192.0.2.10;lr>\r\n", back, sizeof(back)));
    ASSERT_STARTS(f, "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10");
    assert_int_equal(counter(f, "fwd_requests"), 6);
    assert_int_equal(counter(f, "local_482"), 1);
    assert_int_equal(counter(f, "drop_ack"), 1);
}

static void test_px_answers_local_errors(void **state)
{
    struct fixture *f = *state;
    char v[128];
    RUN(f, "INVITE sip:bob@example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKz\r\n"
           "Max-Forwards: 0\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: c5\r\nCSeq: 1 INVITE\r\n\r\n");
    assert_memory_equal(f->out, "SIP/2.0 483 Too Many Hops\r\n", 27);
    assert_dest(f, "198.51.100.7:5062");
    assert_non_null(header(f, "To", v, sizeof(v)));
    assert_non_null(strstr(v, ";tag="));
    char first_tag[128];
    strcpy(first_tag, v);
    RUN(f, "INVITE sip:bob@example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKz\r\n"
           "Max-Forwards: 0\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: c5\r\nCSeq: 1 INVITE\r\n\r\n");
    assert_string_equal(header(f, "To", v, sizeof(v)), first_tag);

    RUN(f, "OPTIONS tel:+15551234 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKt\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <tel:+15551234>\r\n"
           "Call-ID: c6\r\nCSeq: 1 OPTIONS\r\n\r\n");
    assert_memory_equal(f->out, "SIP/2.0 416 ", 12);

    RUN(f, "OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKp\r\n"
           "Proxy-Require: foo, bar\r\nFrom: <sip:a@example.com>;tag=1\r\n"
           "To: <sip:x@example.com>\r\nCall-ID: c7\r\nCSeq: 1 OPTIONS\r\n\r\n");
    assert_memory_equal(f->out, "SIP/2.0 420 ", 12);
    assert_string_equal(header(f, "Unsupported", v, sizeof(v)), "foo, bar");

    RUN(f, "OPTIONS sip:192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKo\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:192.0.2.10>\r\n"
           "Call-ID: c8\r\nCSeq: 1 OPTIONS\r\n\r\n");
    assert_memory_equal(f->out, "SIP/2.0 200 OK\r\n", 16);
    /* draining for shutdown: the same ping says 503, so balancers move away */
    f->ps.draining = true;
    RUN(f, "OPTIONS sip:192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKo\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:192.0.2.10>\r\n"
           "Call-ID: c8\r\nCSeq: 1 OPTIONS\r\n\r\n");
    assert_memory_equal(f->out, "SIP/2.0 503 Service Unavailable\r\n", 33);
    assert_non_null(strstr(f->out, "\r\nRetry-After: "));
    f->ps.draining = false;

    assert_int_equal(net_addr_parse("198.18.0.9:5060", &f->src, &f->srclen), 0); /* untrusted */
    RUN(f, "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.9;branch=z9hG4bKb\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: c9\r\nCSeq: 1 BYE\r\n\r\n");
    assert_memory_equal(f->out, "SIP/2.0 400 Bad Request\r\n", 25);
    /* from an untrusted source the Warning would make the answer larger than the request */
    assert_null(strstr(f->out, "Warning:"));
    assert_int_equal(net_addr_parse("198.51.100.7:5060", &f->src, &f->srclen), 0); /* trusted */
    RUN(f, "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKb\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: c9\r\nCSeq: 1 BYE\r\n\r\n");
    assert_memory_equal(f->out, "SIP/2.0 400 Bad Request\r\n", 25);
    assert_non_null(strstr(f->out, "Warning: 399 viaduct \"CSeq method differs"));
    assert_int_equal(net_addr_parse("198.51.100.7:5060", &f->src, &f->srclen), 0);

    RUN(f, "INVITE sip:bob@example.com SIP/7.0\r\nVia: SIP/7.0/UDP 198.51.100.7;branch=z9hG4bKv\r\n"
           "Call-ID: c10\r\nCSeq: 1 INVITE\r\n\r\n");
    assert_memory_equal(f->out, "SIP/2.0 505 ", 12);

    /* each went out with its own code and was counted as itself, once */
    static const char *const sent[] = {"local_483", "local_416", "local_420",
                                       "local_200", "local_400", "local_505"};
    for (size_t i = 0; i < sizeof(sent) / sizeof(sent[0]); i++)
        assert_int_equal(counter(f, sent[i]),
                         strcmp(sent[i], "local_483") == 0 || strcmp(sent[i], "local_400") == 0
                             ? 2 /* the 400 twice: untrusted, then from a backend */
                             : 1);
    assert_int_equal(counter(f, "local_503"), 1); /* the ping while draining */
    assert_int_equal(counter(f, "local_513"), 0);
}

/* The one list of local responses gives every code its reason phrase. */
static void test_px_local_response_table_is_consistent(void **state)
{
    (void)state;
    for (int l = 0; l < ST_NLOCAL; l++) {
        assert_true(st_local_code(l) >= 200 && st_local_code(l) < 700);
        assert_true(strlen(st_local_reason(l)) > 1);
        for (int k = 0; k < l; k++)
            assert_int_not_equal(st_local_code(k), st_local_code(l));
    }
    assert_int_equal(st_local_code(ST_L_513), 513);
    assert_string_equal(st_local_reason(ST_L_482), "Loop Detected");
}


static void test_px_never_answers_ack_or_unreadable_via(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(RUN(f, "ACK sip:bob@example.com SIP/2.0\r\n"
                            "Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKa\r\nMax-Forwards: 0\r\n"
                            "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\n"
                            "Call-ID: c\r\nCSeq: 1 ACK\r\n\r\n"),
                     0);
    assert_int_equal(counter(f, "drop_ack"), 1);
    assert_int_equal(RUN(f, "INVITE sip:bob@example.com SIP/2.0\r\nVia: garbage\r\n"
                            "Call-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"),
                     0);
    assert_int_equal(counter(f, "drop_unreadable_via"), 1);
}

static void test_px_forwards_response_without_our_via(void **state)
{
    struct fixture *f = *state;
    const char *rest = "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\n"
                       "Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    char msg[1024];
    snprintf(msg, sizeof(msg),
             "SIP/2.0 180 Ringing\r\n"
             "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKours\r\n"
             "Via: SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bKc;received=198.51.100.7;rport=40000\r\n"
             "%s",
             rest);
    run_signed(f, msg);
    assert_dest(f, "198.51.100.7:40000");
    assert_memory_equal(f->out, "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 10.1.1.1:5060;", 52);
    assert_int_equal(f->outlen, strlen(msg) - strlen("Via: SIP/2.0/UDP "
                                                     "192.0.2.10:5060;branch=z9hG4bKours\r\n"));

    snprintf(msg, sizeof(msg),
             "SIP/2.0 200 OK\r\n"
             "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKours , SIP/2.0/UDP 198.51.100.7\r\n"
             "%s",
             rest);
    run_signed(f, msg);
    assert_dest(f, "198.51.100.7:5060");
    assert_memory_equal(f->out, "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.51.100.7\r\nFrom:", 51);
}

static void test_px_drops_responses_it_cannot_route(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *vias;
        const char *counter;
    } cases[] = {
        {"Via: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKx\r\n", "drop_not_our_via"},
        {"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx\r\n", "drop_no_next_via"},
        {"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKx\r\nVia: SIP/2.0/UDP host.example.com\r\n",
         "drop_unresolvable"},
        {"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKx\r\nVia: SIP/2.0/UDP 255.255.255.255\r\n",
         "drop_bad_destination"},
        {"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKx\r\nVia: SIP/2.0/UDP 224.0.0.1\r\n",
         "drop_bad_destination"},
        {"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKx\r\nVia: SIP/2.0/UDP 192.0.2.10:5060\r\n",
         "drop_to_self"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[1024];
        uint64_t before = counter(f, cases[i].counter);
        snprintf(msg, sizeof(msg),
                 "SIP/2.0 200 OK\r\n%sFrom: <sip:a@x.com>;tag=1\r\nTo: <sip:b@x.com>;tag=2\r\n"
                 "Call-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
                 cases[i].vias);
        assert_int_equal(run_signed(f, msg), 0);
        assert_int_equal(counter(f, cases[i].counter), before + 1);
    }
}

static void test_px_answers_stun_binding_request(void **state)
{
    struct fixture *f = *state;
    unsigned char req[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
                             3,    4,    5,    6,    7,    8,    9,    10,   11, 12};
    assert_int_equal(run(f, (const char *)req, sizeof(req)), 32);
    const unsigned char *r = (const unsigned char *)f->out;
    assert_int_equal(r[0] << 8 | r[1], 0x0101);
    assert_memory_equal(r + 4, req + 4, 16);
    assert_int_equal(r[20] << 8 | r[21], 0x0020);
    assert_int_equal((r[26] << 8 | r[27]) ^ 0x2112, 5060);
    unsigned char ip[4] = {198, 51, 100, 7};
    for (int i = 0; i < 4; i++)
        assert_int_equal(r[28 + i] ^ req[4 + i], ip[i]);
    assert_int_equal(RUN(f, "\r\n\r\n"), 0);
    assert_int_equal(counter(f, "rx_keepalive"), 1);
}

/* A STUN Binding Request that came over TCP (the framer cut it out of a stream) is dropped
 * and counted: before the fix it was answered as a datagram from socket rx->sock, which for
 * TCP names no UDP socket of the client's, to the TCP peer's address and port. */
static void test_px_stun_over_tcp_is_dropped(void **state)
{
    struct fixture *f = *state;
    unsigned char req[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
                             3,    4,    5,    6,    7,    8,    9,    10,   11, 12};
    assert_int_equal(run_conn(f, (const char *)req, sizeof(req), 0x100000002ull), 0);
    assert_int_equal(f->tx.niov, 0);
    assert_int_equal(counter(f, "rx_stun"), 1);
    assert_int_equal(counter(f, "drop_stun"), 1);
    assert_int_equal(counter(f, "stun_responses"), 0);
    assert_int_equal(run(f, (const char *)req, sizeof(req)), 32); /* as a datagram: answered */
}

static void test_px_register_key_is_the_to_aor(void **state)
{
    struct fixture *f = *state;
    char first[80], d[80];
    for (int i = 0; i < 20; i++) {
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "REGISTER sip:example.com SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKreg%d\r\n"
                 "From: <sip:alice@example.com>;tag=%d\r\nTo: <sip:alice@%s>\r\n"
                 "Call-ID: reg-%d\r\nCSeq: %d REGISTER\r\n\r\n",
                 i, i, (i % 2) ? "EXAMPLE.com" : "example.com:5060", i, i + 1);
        run(f, msg, strlen(msg));
        net_addr_format((struct sockaddr *)&f->tx.dst, i ? d : first, 80);
        if (i)
            assert_string_equal(d, first);
    }
}

/* A To without a user part is keyed on its host alone: before the fix aor()
 * passed the absent user (NULL) to memcpy, which UBSan stops on. */
static void test_px_register_to_without_user_is_keyed_on_the_host(void **state)
{
    struct fixture *f = *state;
    const struct rt_table *t = f->cfg.pools[0].rt;
    static const char *const hosts[] = {"example.com", "b.example", "c.example", "d.example",
                                        "e.example",   "f.example", "g.example", "h.example"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        char msg[512], want[80], got[80];
        /* the host upper-cased and with the default port: the same key */
        snprintf(msg, sizeof(msg),
                 "REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKnu%zu\r\n"
                 "From: <sip:%s>;tag=1\r\nTo: <sip:%c%s:5060>\r\nCall-ID: nu-%zu\r\n"
                 "CSeq: 1 REGISTER\r\n\r\n",
                 hosts[i], i, hosts[i], hosts[i][0] - 32, hosts[i] + 1, i);
        uint64_t before = counter(f, "fwd_requests");
        run(f, msg, strlen(msg));
        assert_int_equal(counter(f, "fwd_requests"), before + 1);
        int b = rt_pick(t, rt_hash(t, span_make(hosts[i], strlen(hosts[i]))), f->cfg.pools[0].state,
                        RT_ACCEPT_UP);
        net_addr_format((const struct sockaddr *)&t->b[b].addr, want, sizeof(want));
        net_addr_format((struct sockaddr *)&f->tx.dst, got, sizeof(got));
        assert_string_equal(got, want);
    }
}

/* The backend a request went to, as "ip:port". */
static const char *dest(struct fixture *f, char *buf)
{
    net_addr_format((struct sockaddr *)&f->tx.dst, buf, 80);
    return buf;
}

static int backend_index(struct fixture *f, const char *addr)
{
    const struct rt_table *t = f->cfg.pools[0].rt;
    for (int i = 0; i < t->n; i++) {
        char a[80];
        net_addr_format((const struct sockaddr *)&t->b[i].addr, a, sizeof(a));
        if (strcmp(a, addr) == 0)
            return i;
    }
    fail_msg("no backend %s", addr);
    return -1;
}

#define CALL(method, cseq, totag)                                                                  \
    method " sip:bob@example.com SIP/2.0\r\n"                                                      \
           "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKdrain\r\n"                            \
           "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>" totag "\r\n"        \
           "Call-ID: drain-call@example.com\r\nCSeq: " cseq " " method "\r\n\r\n"

static void test_px_drain_moves_new_calls_and_keeps_dialogs(void **state)
{
    struct fixture *f = *state;
    char d1[80], d2[80];
    RUN(f, CALL("INVITE", "1", ""));
    dest(f, d1);
    int b = backend_index(f, d1);
    atomic_store(&f->cfg.pools[0].state[b], RT_DRAINING);
    RUN(f, CALL("INVITE", "1", ""));
    assert_string_not_equal(dest(f, d2), d1); /* out of dialog: the fallback */
    RUN(f, CALL("BYE", "2", ";tag=b1"));
    assert_string_equal(dest(f, d2), d1); /* in dialog: where the call is */
    atomic_store(&f->cfg.pools[0].state[b], RT_DOWN);
    RUN(f, CALL("BYE", "2", ";tag=b1"));
    assert_string_not_equal(dest(f, d2), d1); /* down: nowhere else to go */
}

static void test_px_cancel_follows_its_invite_across_a_change(void **state)
{
    struct fixture *f = *state;
    char d1[80], d2[80], d3[80];
    RUN(f, CALL("INVITE", "1", ""));
    dest(f, d1);
    assert_int_equal(f->tx.dst2len, 0);
    RUN(f, CALL("CANCEL", "1", ""));
    assert_string_equal(dest(f, d2), d1);
    assert_int_equal(f->tx.dst2len, 0); /* nothing changed: one copy */

    /* the INVITE's backend starts draining: the CANCEL goes to both */
    int b = backend_index(f, d1);
    atomic_store(&f->cfg.pools[0].state[b], RT_DRAINING);
    atomic_store(&f->cfg.pools[0].changed_ms[b], f->now_ms);
    RUN(f, CALL("CANCEL", "1", ""));
    assert_string_not_equal(dest(f, d2), d1);
    assert_int_equal(f->tx.dst2len, f->cfg.pools[0].rt->b[b].addrlen);
    net_addr_format((struct sockaddr *)&f->tx.dst2, d3, sizeof(d3));
    assert_string_equal(d3, d1);

    /* it is back up: the CANCEL goes to it and to where INVITEs went meanwhile */
    atomic_store(&f->cfg.pools[0].state[b], RT_UP);
    RUN(f, CALL("CANCEL", "1", ""));
    assert_string_equal(dest(f, d3), d1);
    net_addr_format((struct sockaddr *)&f->tx.dst2, d3, sizeof(d3));
    assert_string_equal(d3, d2);
    assert_true(counter(f, "fwd_fanout") >= 2);

    /* long after the change: one copy again (the clock moved, not the change) */
    f->now_ms += PX_FOLLOW_MS + 1000;
    RUN(f, CALL("CANCEL", "1", ""));
    assert_int_equal(f->tx.dst2len, 0);
}

/* An ICMP error is a hint (health.h): it holds the backends at that
 * address down, in the table lookups, at once; a second hint neither
 * lengthens nor repeats the hold, one for an address no backend has names
 * no backend, and a vouched-for backend ignores hints. */
static void test_px_icmp_hint_holds_a_backend_down_once(void **state)
{
    struct fixture *f = *state;
    const struct px_pool *p = &f->cfg.pools[0];
    char d1[80], d2[80];
    struct sockaddr_storage ss;
    socklen_t len;
    RUN(f, CALL("INVITE", "1", ""));
    dest(f, d1);
    int b = backend_index(f, d1);
    assert_int_equal(net_addr_parse(d1, &ss, &len), 0);

    assert_int_equal(hc_icmp_hint(&f->cfg, (struct sockaddr *)&ss, f->now_ms), HC_HINT_HELD);
    assert_int_equal(atomic_load(&p->state[b]), RT_DOWN);
    assert_int_equal(atomic_load(&p->held_ms[b]), f->now_ms);
    RUN(f, CALL("INVITE", "1", ""));
    assert_string_not_equal(dest(f, d2), d1); /* the key's fallback */

    assert_int_equal(hc_icmp_hint(&f->cfg, (struct sockaddr *)&ss, f->now_ms + 4000),
                     HC_HINT_IGNORED);
    assert_int_equal(atomic_load(&p->held_ms[b]), f->now_ms); /* not lengthened */

    /* the health thread ends it (a probe answered): hints wait until vouched_ms */
    atomic_store(&p->held_ms[b], 0);
    atomic_store(&p->state[b], RT_UP);
    atomic_store(&p->vouched_ms[b], f->now_ms + 10000);
    assert_int_equal(hc_icmp_hint(&f->cfg, (struct sockaddr *)&ss, f->now_ms + 5000),
                     HC_HINT_IGNORED);
    assert_int_equal(atomic_load(&p->state[b]), RT_UP);
    assert_int_equal(hc_icmp_hint(&f->cfg, (struct sockaddr *)&ss, f->now_ms + 10000),
                     HC_HINT_HELD);

    /* the same IP on another port, and a client, are no backend */
    assert_int_equal(net_addr_parse("203.0.113.12:5061", &ss, &len), 0);
    assert_int_equal(hc_icmp_hint(&f->cfg, (struct sockaddr *)&ss, f->now_ms), HC_HINT_NONE);
    assert_int_equal(net_addr_parse("[2001:db8::7]:5060", &ss, &len), 0);
    assert_int_equal(hc_icmp_hint(&f->cfg, (struct sockaddr *)&ss, f->now_ms), HC_HINT_NONE);
}

/* The address index finds a backend in every pool that has it. */
static void test_px_backends_at_finds_every_pool(void **state)
{
    struct fixture *f = *state;
    const struct px_backend_ref *r;
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(f->cfg.nrefs, 3);
    assert_int_equal(net_addr_parse("203.0.113.50:5060", &ss, &len), 0);
    assert_int_equal(px_backends_at(&f->cfg, (struct sockaddr *)&ss, &r), 1);
    assert_int_equal(r->pool, 1);
    assert_int_equal(r->index, 0);
    assert_int_equal(net_addr_parse("203.0.113.13:5060", &ss, &len), 0);
    assert_int_equal(px_backends_at(&f->cfg, (struct sockaddr *)&ss, &r), 1);
    assert_int_equal(r->pool, 0);
    assert_int_equal(net_addr_parse("203.0.113.14:5060", &ss, &len), 0);
    assert_int_equal(px_backends_at(&f->cfg, (struct sockaddr *)&ss, &r), 0);
}

/* Per backend: requests sent by the table, responses from it by class, in
 * the backend's slot; requests by method. A reload keeps a backend's slot
 * by name and gives a new backend a slot no one had. */
static void test_px_counts_per_backend_and_method(void **state)
{
    struct fixture *f = *state;
    char d1[80];
    RUN(f, CALL("INVITE", "1", ""));
    dest(f, d1);
    int b = backend_index(f, d1);
    unsigned slot = f->cfg.pools[0].slot[b];
    assert_true(slot < ST_MAX_BACKENDS);
    assert_int_equal(atomic_load(&f->st.be[slot].requests), 1);
    assert_int_equal(atomic_load(&f->st.method[SIP_M_INVITE]), 1);

    /* a 180 and a 200 from that backend */
    assert_int_equal(net_addr_parse(d1, &f->src, &f->srclen), 0);
    RUN(f, "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx\r\n"
           "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKdrain\r\n"
           "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b\r\n"
           "Call-ID: drain-call@example.com\r\nCSeq: 1 INVITE\r\n\r\n");
    RUN(f, "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx\r\n"
           "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKdrain\r\n"
           "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b\r\n"
           "Call-ID: drain-call@example.com\r\nCSeq: 1 INVITE\r\n\r\n");
    assert_int_equal(atomic_load(&f->st.be[slot].responses[0]), 1);
    assert_int_equal(atomic_load(&f->st.be[slot].responses[1]), 1);

    /* a reload that drops the other backend and adds a new one */
    struct cfg c2;
    struct px_cfg px2;
    char err[CFG_ERR_LEN];
    cfg_defaults(&c2);
    c2.nlisten = 1;
    snprintf(c2.listen[0], CFG_STR, "192.0.2.10:5060");
    assert_int_equal(cfg_add_backend(&c2, d1, err, sizeof(err)), 0);
    assert_int_equal(cfg_add_backend(&c2, "203.0.113.99:5060", err, sizeof(err)), 0);
    assert_int_equal(cfg_validate(&c2, err, sizeof(err)), 0);
    assert_int_equal(px_cfg_build(&px2, &c2, err, sizeof(err)), 0);
    px_cfg_carry_health(&px2, &c2, &f->cfg, &f->c);
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(net_addr_parse(d1, &ss, &len), 0);
    assert_int_equal(px_backend_slot(&px2, (struct sockaddr *)&ss), slot);
    assert_int_equal(net_addr_parse("203.0.113.99:5060", &ss, &len), 0);
    unsigned fresh = px_backend_slot(&px2, (struct sockaddr *)&ss);
    assert_true(fresh < ST_MAX_BACKENDS && fresh >= f->cfg.next_slot);
    px_cfg_free(&px2);
    cfg_free(&c2);
}

/* The latency bucket from the highest bit and a table is the first bound
 * >= the latency, as a plain search finds it, across the whole range. */
static void test_px_latency_bucket_matches_a_search(void **state)
{
    (void)state;
    for (uint32_t us = 0; us <= ST_LAT_MAX_US; us += us < 5000 ? 1 : 997) {
        unsigned want = 0;
        while (want < ST_NLAT - 1 && st_lat_bounds_us[want] < us)
            want++;
        assert_int_equal(st_lat_bucket(us), want);
    }
    for (int i = 0; i < ST_NLAT; i++) {
        uint32_t b = st_lat_bounds_us[i];
        assert_int_equal(st_lat_bucket(b), i);
        if (i + 1 < ST_NLAT)
            assert_int_equal(st_lat_bucket(b + 1), i + 1);
    }
}

static void test_px_all_backends_down_gives_503(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < f->cfg.pools[0].rt->n; i++)
        atomic_store(&f->cfg.pools[0].state[i], RT_DOWN);
    RUN(f, CALL("INVITE", "1", ""));
    assert_memory_equal(f->out, "SIP/2.0 503 Service Unavailable\r\n", 33);
    char v[32];
    assert_string_equal(header(f, "Retry-After", v, sizeof(v)), "5");
    assert_int_equal(RUN(f, CALL("ACK", "1", ";tag=x")), 0);
}

static void test_px_record_route_and_path_when_configured(void **state)
{
    struct fixture *f = *state;
    char v[128];
    f->cfg.record_route = true;
    f->cfg.path = true;
    RUN(f, CALL("INVITE", "1", ""));
    assert_string_equal(header(f, "Record-Route", v, sizeof(v)), "<sip:192.0.2.10:5060;lr>");
    RUN(f, CALL("BYE", "2", ";tag=b1"));
    assert_null(header(f, "Record-Route", v, sizeof(v))); /* in dialog: no new route set */

    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: r1\r\n"
           "CSeq: 1 REGISTER\r\nContact: <sip:a@198.51.100.7>\r\n\r\n");
    assert_null(header(f, "Path", v, sizeof(v))); /* RFC 3327: never without Supported: path */
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "Supported: gruu, Path\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
           "Call-ID: r2\r\nCSeq: 1 REGISTER\r\nContact: <sip:a@198.51.100.7>\r\n\r\n");
    /* the user part is the flow token of the REGISTER's source, 198.51.100.7:5060 */
    assert_memory_equal(header(f, "Path", v, sizeof(v)), "<sip:vdf-4c633640713c4", 22);
    assert_non_null(strstr(v, "@192.0.2.10:5060;lr>"));
    char path[128];
    snprintf(path, sizeof(path), "%.*s", (int)(strchr(v, '>') - v + 1), v);

    /* what the registrar sends through that Path reaches the client's NAT
     * binding, whatever private address its Contact (the Request-URI) says */
    char req[1024], d[80];
    f->c.path = false;
    assert_int_equal(net_addr_parse("203.0.113.50:5060", &f->src, &f->srclen), 0);
    snprintf(
        req, sizeof(req),
        "INVITE sip:a@10.1.2.3:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.50;branch=z9hG4bKp\r\n"
        "Route: %s\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
        "Call-ID: p1\r\nCSeq: 1 INVITE\r\n\r\n",
        path);
    run(f, req, strlen(req));
    assert_string_equal(dest(f, d), "198.51.100.7:5060");
    assert_null(strstr(f->out, "\r\nRoute:"));
    /* a damaged token is not followed, and from this untrusted source (no
     * backend here) neither is the Request-URI: 403 */
    char *tok = strstr(req, "vdf-4") + 6;
    *tok = *tok == '0' ? '1' : '0';
    run(f, req, strlen(req));
    ASSERT_STARTS(f, "SIP/2.0 403 Forbidden\r\n");
    assert_string_equal(dest(f, d), "203.0.113.50:5060");
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "Supported: path, outbound\r\nFrom: <sip:a@example.com>;tag=1\r\n"
           "To: <sip:a@example.com>\r\nCall-ID: r3\r\nCSeq: 1 REGISTER\r\n"
           "Contact: <sip:a@198.51.100.7>;reg-id=1\r\n\r\n");
    assert_non_null(header(f, "Path", v, sizeof(v)));
    assert_non_null(strstr(v, "@192.0.2.10:5060;lr;ob>"));
}

/* path: always (issue 13 item 2): every REGISTER gets Path, a phone that
 * never says Supported: path too, for registrars that accept it so
 * (Kamailio's path_mode=0); ;ob still only for an outbound client. */
static void test_px_path_always_on_every_register(void **state)
{
    struct fixture *f = *state;
    char v[128];
    f->cfg.path = CFG_PATH_ALWAYS;
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: r1\r\n"
           "CSeq: 1 REGISTER\r\nContact: <sip:a@198.51.100.7>\r\n\r\n");
    assert_memory_equal(header(f, "Path", v, sizeof(v)), "<sip:vdf-4c633640713c4", 22);
    assert_non_null(strstr(v, "@192.0.2.10:5060;lr>"));
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "Supported: outbound\r\nFrom: <sip:a@example.com>;tag=1\r\n"
           "To: <sip:a@example.com>\r\nCall-ID: r3\r\nCSeq: 1 REGISTER\r\n\r\n");
    assert_non_null(strstr(header(f, "Path", v, sizeof(v)), "@192.0.2.10:5060;lr;ob>"));
    RUN(f, CALL("INVITE", "1", ""));
    assert_null(header(f, "Path", v, sizeof(v))); /* REGISTERs only */
    f->cfg.path = CFG_PATH_ON;
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: r1\r\n"
           "CSeq: 1 REGISTER\r\n\r\n");
    assert_null(header(f, "Path", v, sizeof(v)));
}


/* ---- issue 11: relay policy, Via tag, secrets, destinations ---- */

static void untrusted(struct fixture *f)
{
    assert_int_equal(net_addr_parse("198.18.0.9:5060", &f->src, &f->srclen), 0);
}

#define RELAY_REQ(method, route)                                                                   \
    method " sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.9;branch=z9hG4bKrl\r\n"  \
           "Route: " route "\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n" \
           "Call-ID: relay-1\r\nCSeq: 1 " method "\r\nContact: <sip:a@198.18.0.9>\r\n"           \
           "User-Agent: a-long-enough-user-agent-to-leave-room-for-the-warning\r\n\r\n"

/* Before issue 11 this went to 192.0.2.99: an open relay. */
static void test_px_untrusted_route_to_another_host_gets_403_or_the_rules(void **state)
{
    struct fixture *f = *state;
    char d[80];
    untrusted(f);
    RUN(f, RELAY_REQ("INVITE", "<sip:192.0.2.99;lr>"));
    ASSERT_STARTS(f, "SIP/2.0 403 Forbidden\r\n");
    assert_string_equal(dest(f, d), "198.18.0.9:5060");
    assert_non_null(strstr(f->out, "Warning: 399 viaduct \"not relayed\""));
    assert_true(f->outlen <= sizeof(RELAY_REQ("INVITE", "<sip:192.0.2.99;lr>")) - 1);
    /* a short request gets no Warning: the answer stays no larger than it */
    RUN(f, "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.9;branch=z9hG4bKs\r\n"
           "Route: <sip:192.0.2.99;lr>\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n"
           "Call-ID: s\r\nCSeq: 1 INVITE\r\n\r\n");
    ASSERT_STARTS(f, "SIP/2.0 403 Forbidden\r\n");
    assert_null(strstr(f->out, "Warning:"));
    /* our Route, then a Request-URI naming another IP: the same */
    RUN(f, "MESSAGE sip:bob@192.0.2.99 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.9;branch=z9hG4bKm\r\n"
           "Route: <sip:192.0.2.10;lr>\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n"
           "Call-ID: m\r\nCSeq: 1 MESSAGE\r\n\r\n");
    ASSERT_STARTS(f, "SIP/2.0 403 Forbidden\r\n");
    /* an ACK is never answered: counted */
    RUN(f, RELAY_REQ("ACK", "<sip:192.0.2.99;lr>"));
    assert_int_equal(f->tx.niov, 0);
    assert_int_equal(counter(f, "drop_not_relayed"), 1);
    /* a Route to a configured backend is followed from anyone */
    RUN(f, RELAY_REQ("INVITE", "<sip:203.0.113.13;lr>"));
    assert_string_equal(dest(f, d), "203.0.113.13:5060");
    /* rules: the Route set is dropped and the table decides */
    f->cfg.relay = CFG_RELAY_RULES;
    RUN(f, RELAY_REQ("INVITE", "<sip:192.0.2.10;lr>, <sip:192.0.2.99;lr>"));
    dest(f, d);
    assert_true(strcmp(d, "203.0.113.12:5060") == 0 || strcmp(d, "203.0.113.13:5060") == 0);
    assert_null(strstr(f->out, "\r\nRoute:"));
    /* open: followed, as before */
    f->cfg.relay = CFG_RELAY_OPEN;
    RUN(f, RELAY_REQ("INVITE", "<sip:192.0.2.99;lr>"));
    assert_string_equal(dest(f, d), "192.0.2.99:5060");
    assert_int_equal(counter(f, "local_403"), 3);
}

static const char *our_branch(struct fixture *f, char *buf)
{
    const char *b = strstr(f->out, ";branch=");
    assert_non_null(b);
    snprintf(buf, 64, "%.56s", b + 8);
    return buf;
}

/* The tag is the same for a retransmission and the CANCEL; a response with
 * a branch of ours that viaduct did not write is dropped (before issue 11
 * it went wherever its next Via said, 127.0.0.1:11211 included). */
static void test_px_via_tag_is_stable_and_forged_responses_are_dropped(void **state)
{
    struct fixture *f = *state;
    char b1[64], b2[64], b3[64], msg[1024];
    RUN(f, INVITE_HEAD "\r\n");
    our_branch(f, b1);
    RUN(f, INVITE_HEAD "\r\n");
    our_branch(f, b2);
    assert_string_equal(b1, b2);
    RUN(f, "CANCEL sip:bob@example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKabc\r\nMax-Forwards: 70\r\n"
           "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: call-1@example.com\r\nCSeq: 1 CANCEL\r\n\r\n");
    assert_string_equal(our_branch(f, b3), b1);
    /* the backend's 180 with that very branch goes back to the client */
    assert_int_equal(net_addr_parse("203.0.113.12:5060", &f->src, &f->srclen), 0);
    const char *tail = "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKabc\r\n"
                       "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=t\r\n"
                       "Call-ID: call-1@example.com\r\nCSeq: 1 INVITE\r\n\r\n";
    snprintf(msg, sizeof(msg), "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=%s\r\n%s",
             b1, tail);
    run(f, msg, strlen(msg));
    assert_dest(f, "198.51.100.7:5060");
    /* one digit of the tag changed, or the response redirected: dropped */
    b1[7 + 20] = b1[7 + 20] == '0' ? '1' : '0';
    snprintf(msg, sizeof(msg), "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=%s\r\n%s",
             b1, tail);
    run(f, msg, strlen(msg));
    assert_int_equal(f->tx.niov, 0);
    snprintf(msg, sizeof(msg), "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=%s\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1:11211;branch=z9hG4bKabc\r\nFrom: <sip:a@x>;tag=a1\r\n"
             "To: <sip:b@x>;tag=t\r\nCall-ID: call-1@example.com\r\nCSeq: 1 INVITE\r\n\r\n", b2);
    run(f, msg, strlen(msg));
    assert_int_equal(f->tx.niov, 0);
    assert_int_equal(counter(f, "drop_forged_via"), 2);
    assert_int_equal(counter(f, "fwd_responses"), 1);
}

/* The ;vtc= of a TCP client's request is covered by the Via tag: a response whose token was
 * changed to name another connection (another client behind the same IP, whose handle is
 * easy to guess) or removed is dropped as forged; the genuine one goes to its connection.
 * Before the fix the tag left the token out, and the changed one was sent on the other
 * connection, whose peer has the same IP. */
static void test_px_tcp_connection_token_is_covered_by_the_via_tag(void **state)
{
    struct fixture *f = *state;
    const uint64_t conn = (uint64_t)0x5eed1234u << 32 | 2, other = (uint64_t)0x5eed1234u << 32 | 3;
    f->ps.wk_id = 3;
    run_conn(f, INVITE_HEAD "\r\n", sizeof(INVITE_HEAD "\r\n") - 1, conn);
    assert_int_equal(counter(f, "fwd_requests"), 1);
    char via[256], want[64];
    assert_memory_equal(f->out, "INVITE ", 7);
    const char *first = strstr(f->out, "\r\nVia: ") + 7;
    snprintf(via, sizeof(via), "%.*s", (int)(strstr(first, "\r\n") - first), first);
    snprintf(want, sizeof(want), ";vtc=03%016llx", (unsigned long long)conn);
    assert_non_null(strstr(via, want));
    const char *tail = "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKabc\r\n"
                       "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=t\r\n"
                       "Call-ID: call-1@example.com\r\nCSeq: 1 INVITE\r\n\r\n";
    assert_int_equal(net_addr_parse("203.0.113.12:5060", &f->src, &f->srclen), 0);
    char msg[1024], forged[256];
    /* the token pointed at the other connection, then removed: both fail the tag */
    snprintf(forged, sizeof(forged), "%s", via);
    char *t = strstr(forged, ";vtc=") + 7;
    char hex[17];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)other);
    memcpy(t, hex, 16);
    snprintf(msg, sizeof(msg), "SIP/2.0 180 Ringing\r\nVia: %s\r\n%s", forged, tail);
    run_conn(f, msg, strlen(msg), 0);
    assert_int_equal(f->tx.niov, 0);
    *strstr(forged, ";vtc=") = '\0';
    snprintf(msg, sizeof(msg), "SIP/2.0 180 Ringing\r\nVia: %s\r\n%s", forged, tail);
    run_conn(f, msg, strlen(msg), 0);
    assert_int_equal(f->tx.niov, 0);
    assert_int_equal(counter(f, "drop_forged_via"), 2);
    /* the genuine one: onto its connection */
    snprintf(msg, sizeof(msg), "SIP/2.0 180 Ringing\r\nVia: %s\r\n%s", via, tail);
    run_conn(f, msg, strlen(msg), 0);
    assert_true(f->tx.niov > 0);
    assert_true(f->tx.conn == conn);
    assert_dest(f, "198.51.100.7:5060");
    assert_int_equal(counter(f, "fwd_responses"), 1);
    /* a datagram's request has no token, and its tag is as before: a UDP response verifies */
    assert_int_equal(net_addr_parse("198.51.100.7:5060", &f->src, &f->srclen), 0);
    run_conn(f, INVITE_HEAD "\r\n", sizeof(INVITE_HEAD "\r\n") - 1, 0);
    first = strstr(f->out, "\r\nVia: ") + 7;
    snprintf(via, sizeof(via), "%.*s", (int)(strstr(first, "\r\n") - first), first);
    assert_null(strstr(via, ";vtc="));
    assert_int_equal(net_addr_parse("203.0.113.12:5060", &f->src, &f->srclen), 0);
    snprintf(msg, sizeof(msg), "SIP/2.0 180 Ringing\r\nVia: %s\r\n%s", via, tail);
    run_conn(f, msg, strlen(msg), 0);
    assert_true(f->tx.niov > 0 && f->tx.conn == 0);
    assert_int_equal(counter(f, "fwd_responses"), 2);
}

/* A worker's own socket for TCP's requests (px_own) is one of ours: a Route to it is a
 * loop (drop_to_self), as one to a listener is. Before the fix only the listeners counted,
 * and it was refused only as a listen IP (forbidden_destination), which a viaduct listening
 * on loopback allows. */
static void test_px_workers_own_tcp_sockets_are_self(void **state)
{
    struct fixture *f = *state;
    struct px_own *o = calloc(1, sizeof(*o) + sizeof(o->s[0]));
    assert_non_null(o);
    socklen_t len;
    assert_int_equal(net_addr_parse("192.0.2.10:40000", &o->s[0].addr, &len), 0);
    o->port_bits[40000 >> 6] |= 1ull << (40000 & 63);
    o->n = 1;
    f->cfg.own = o;
    struct sockaddr_storage ss;
    assert_int_equal(net_addr_parse("192.0.2.10:40000", &ss, &len), 0);
    assert_true(px_addr_is_self(&f->cfg, (struct sockaddr *)&ss));
    assert_int_equal(net_addr_parse("192.0.2.10:40001", &ss, &len), 0);
    assert_false(px_addr_is_self(&f->cfg, (struct sockaddr *)&ss));
    assert_int_equal(net_addr_parse("192.0.2.11:40000", &ss, &len), 0);
    assert_false(px_addr_is_self(&f->cfg, (struct sockaddr *)&ss));
    RUN(f, "MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKown\r\n"
           "Route: <sip:192.0.2.10:40000;lr>\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n"
           "Call-ID: own-1\r\nCSeq: 1 MESSAGE\r\n\r\n");
    assert_int_equal(f->tx.niov, 0);
    assert_int_equal(counter(f, "drop_to_self"), 1);
    f->cfg.own = NULL;
    free(o);
}

/* Message-named destinations: loopback and link-local are refused on a
 * viaduct that does not listen on loopback, even from a trusted source. */
static void test_px_named_destinations_are_never_loopback_or_link_local(void **state)
{
    struct fixture *f = *state;
    static const char *const routes[] = {"<sip:127.0.0.1:11211;lr>", "<sip:169.254.169.254;lr>",
                                         "<sip:[::1]:11211;lr>", "<sip:[fe80::1];lr>",
                                         "<sip:192.0.2.10:11211;lr>"};
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        char msg[1024];
        snprintf(msg, sizeof(msg),
                 "MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKd%zu\r\n"
                 "Route: %s\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n"
                 "Call-ID: d%zu\r\nCSeq: 1 MESSAGE\r\n\r\n", i, routes[i], i);
        run(f, msg, strlen(msg));
        if (f->tx.niov != 0)
            fail_msg("Route %s was followed", routes[i]);
    }
    /* the IPv6 ones find no IPv6 socket here, which is checked first */
    assert_int_equal(counter(f, "drop_forbidden_destination"), 3);
    assert_int_equal(counter(f, "drop_bad_destination"), 2);
    /* a viaduct listening on loopback serves clients there */
    f->cfg.loopback_ok[0] = true;
    RUN(f, "MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKl\r\n"
           "Route: <sip:127.0.0.1:7000;lr>\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n"
           "Call-ID: l\r\nCSeq: 1 MESSAGE\r\n\r\n");
    assert_dest(f, "127.0.0.1:7000");
}

/* A flow token made with the previous secret verifies until previous_until
 * (the fake clock here), and not after; a forged one never does. */
static void test_px_flow_token_of_the_previous_secret_until_its_deadline(void **state)
{
    struct fixture *f = *state;
    char v[128], req[1024], d[80];
    f->cfg.path = true;
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "Supported: path\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
           "Call-ID: r1\r\nCSeq: 1 REGISTER\r\n\r\n");
    assert_non_null(header(f, "Path", v, sizeof(v)));
    *strchr(v, '>') = '\0';
    /* rotate: the old keys become the previous ones, good for 10 s */
    f->cfg.prev_key = f->cfg.key;
    memset(&f->cfg.key, 0x5a, sizeof(f->cfg.key));
    f->cfg.has_prev = true;
    f->cfg.prev_until_ms = f->now_ms + 10000;
    untrusted(f);
    snprintf(req, sizeof(req),
             "INVITE sip:a@10.1.2.3 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.9;branch=z9hG4bKp\r\n"
             "Route: %s>\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
             "Call-ID: p1\r\nCSeq: 1 INVITE\r\n\r\n", v);
    run(f, req, strlen(req));
    assert_string_equal(dest(f, d), "198.51.100.7:5060");
    f->now_ms += 10000;
    run(f, req, strlen(req));
    ASSERT_STARTS(f, "SIP/2.0 403 Forbidden\r\n");
}

static void test_px_rules_pick_pools_and_missing_keys_get_400(void **state)
{
    struct fixture *f = *state;
    char d[80];
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: r1\r\n"
           "CSeq: 1 REGISTER\r\n\r\n");
    assert_string_equal(dest(f, d), "203.0.113.50:5060");
    RUN(f, CALL("INVITE", "1", ""));
    assert_string_not_equal(dest(f, d), "203.0.113.50:5060");

    /* a rule keyed on a header the request lacks: 400, never hashed on nothing */
    struct cfg_rule *r = (struct cfg_rule *)(uintptr_t)f->cfg.rules[0].r;
    r->has_key = true;
    r->key = CFG_KEY_HEADER;
    snprintf(r->key_header, sizeof(r->key_header), "X-Tenant");
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: r1\r\n"
           "CSeq: 1 REGISTER\r\n\r\n");
    assert_memory_equal(f->out, "SIP/2.0 400 ", 12);
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "x-tenant: acme\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
           "Call-ID: r1\r\nCSeq: 1 REGISTER\r\n\r\n");
    assert_string_equal(dest(f, d), "203.0.113.50:5060");
}

/* Sets the next datagram's source to s ("IP:PORT"). */
static void from(struct fixture *f, const char *s)
{
    assert_int_equal(net_addr_parse(s, &f->src, &f->srclen), 0);
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* An in-dialog request through route (a Record-Route value), sent from src. */
static void in_dialog(struct fixture *f, const char *src, const char *ruri, const char *route)
{
    char req[1024];
    from(f, src);
    snprintf(req, sizeof(req),
             "BYE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKbye;rport\r\nRoute: %s\r\n"
             "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b1\r\n"
             "Call-ID: flow-call\r\nCSeq: 2 BYE\r\n\r\n",
             ruri, src, route);
    run(f, req, strlen(req));
}

/*
 * Issue 13 items 1 and 5 (RFC 5626 §5.3): phone A (198.18.0.9, a client)
 * calls phone B (198.18.0.20:5062, behind a NAT: its Contact 10.0.0.5 is
 * unreachable) through a registrar that does not record-route. A's INVITE
 * gets a Record-Route naming A's flow; the registrar's INVITE to B through
 * B's Path carries it back, and that value becomes one naming both flows
 * instead of a second value of ours. In-dialog requests then go along the
 * flow that is not the one they came from: never back to the phone.
 */
static void test_px_record_route_carries_the_flows_of_both_phones(void **state)
{
    struct fixture *f = *state;
    char v[256], d[80], rr[256], path[160], req[1024];
    f->cfg.record_route = true;
    f->cfg.path = CFG_PATH_ALWAYS;
    /* B registers: its Path is what the registrar routes B's calls by */
    from(f, "198.18.0.20:5062");
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKr\r\n"
           "From: <sip:bob@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: r1\r\n"
           "CSeq: 1 REGISTER\r\nContact: <sip:bob@10.0.0.5:5062>\r\n\r\n");
    snprintf(path, sizeof(path), "%s", header(f, "Path", v, sizeof(v)));
    /* A's INVITE: a Record-Route with A's flow token (198.18.0.9 = c6120009, port 13c4) */
    from(f, "198.18.0.9:5060");
    RUN(f, "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.9;branch=z9hG4bKi\r\n"
           "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: flow-call\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@198.18.0.9>\r\n\r\n");
    assert_memory_equal(header(f, "Record-Route", rr, sizeof(rr)), "<sip:vdf-4c612000913c4", 22);
    assert_non_null(strstr(rr, "@192.0.2.10:5060;lr>"));
    /* the registrar sends it on to B through B's Path, the Record-Route kept */
    from(f, "203.0.113.12:5060");
    snprintf(req, sizeof(req),
             "INVITE sip:bob@10.0.0.5:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.12;branch=z9hG4bKk\r\n"
             "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx\r\n"
             "Route: %s\r\nRecord-Route: %s\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
             "To: <sip:bob@example.com>\r\nCall-ID: flow-call\r\nCSeq: 1 INVITE\r\n\r\n",
             path, rr);
    run(f, req, strlen(req));
    assert_string_equal(dest(f, d), "198.18.0.20:5062");
    assert_int_equal(count_of(f->out, "Record-Route:"), 1); /* no second value of ours */
    char both[256];
    header(f, "Record-Route", both, sizeof(both));
    /* B's token (c6120014, port 13c6), then A's */
    assert_memory_equal(both, "<sip:vdf-4c612001413c6", 22);
    assert_non_null(strstr(both, ".vdf-4c612000913c4"));
    assert_non_null(strstr(both, "@192.0.2.10:5060;lr>"));
    /* B's BYE goes to A's flow; A's to B's, whatever the Request-URIs say */
    in_dialog(f, "198.18.0.20:5062", "sip:alice@198.18.0.9", both);
    assert_string_equal(dest(f, d), "198.18.0.9:5060");
    assert_null(strstr(f->out, "\r\nRoute:"));
    in_dialog(f, "198.18.0.9:5060", "sip:bob@10.0.0.5:5062", both);
    assert_string_equal(dest(f, d), "198.18.0.20:5062");
    /* one token: from elsewhere along it, from the flow itself on by the route set */
    in_dialog(f, "203.0.113.12:5060", "sip:alice@198.18.0.9", rr);
    assert_string_equal(dest(f, d), "198.18.0.9:5060");
    in_dialog(f, "198.18.0.9:5060", "sip:bob@example.com", rr);
    assert_int_equal(f->tx.niov > 0, 1);
    assert_string_not_equal(dest(f, d), "198.18.0.9:5060");
    assert_memory_equal(dest(f, d), "203.0.113.1", 11); /* the table: a backend */
    /* a registrar that record-routes: its value on top, so ours is a new one for B */
    from(f, "203.0.113.12:5060");
    snprintf(req, sizeof(req),
             "INVITE sip:bob@10.0.0.5:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.12;branch=z9hG4bKk\r\n"
             "Route: %s\r\nRecord-Route: <sip:203.0.113.12;lr>, %s\r\n"
             "From: <sip:alice@example.com>;tag=a1\r\n"
             "To: <sip:bob@example.com>\r\nCall-ID: flow-call\r\nCSeq: 1 INVITE\r\n\r\n",
             path, rr);
    run(f, req, strlen(req));
    assert_string_equal(dest(f, d), "198.18.0.20:5062");
    assert_int_equal(count_of(f->out, "Record-Route:"), 2);
    assert_memory_equal(header(f, "Record-Route", v, sizeof(v)), "<sip:vdf-4c612001413c6", 22);
    assert_null(strstr(v, ".vdf-")); /* one token: B's */
    /* a damaged token in a Route is not followed as a flow */
    char bad[256];
    snprintf(bad, sizeof(bad), "%s", both);
    bad[12] = bad[12] == '0' ? '1' : '0';
    in_dialog(f, "198.18.0.20:5062", "sip:alice@example.com", bad);
    assert_string_not_equal(dest(f, d), "198.18.0.9:5060");
}

/* Issue 13 item 3: after a backend comes back up from down, calls keyed by
 * the callee's AOR keep its fallback for registration_interval (the
 * phones' bindings are there until they refresh), REGISTERs go home at
 * once, Call-ID keys are untouched; a CANCEL goes where its INVITE went. */
static void test_px_aor_calls_keep_the_fallback_after_a_return(void **state)
{
    struct fixture *f = *state;
    char d[80], home[80];
    struct px_pool *pool = &f->cfg.pools[0];
    f->cfg.key_other.kind = CFG_KEY_RURI_AOR;
    f->cfg.rebind_ms = 600 * 1000;
    RUN(f, CALL("INVITE", "1", ""));
    snprintf(home, sizeof(home), "%s", dest(f, d));
    int hb = strcmp(home, "203.0.113.12:5060") == 0 ? 0 : 1;
    assert_string_equal(pool->rt->b[hb].name, home);
    atomic_store(&pool->returned_ms[hb], f->now_ms - 1000);
    RUN(f, CALL("INVITE", "1", ""));
    assert_string_not_equal(dest(f, d), home);
    assert_int_equal(atomic_load(&f->st.fwd_rebind), 1);
    RUN(f, CALL("CANCEL", "1", ""));
    assert_string_not_equal(dest(f, d), home);
    RUN(f, CALL("BYE", "2", ";tag=b1")); /* in dialog: by the table, home */
    assert_string_equal(dest(f, d), home);
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "From: <sip:bob@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: r1\r\n"
           "CSeq: 1 REGISTER\r\n\r\n");
    assert_string_equal(dest(f, d), home);
    /* the same with a Call-ID key: home at once */
    f->cfg.key_other.kind = CFG_KEY_CALL_ID;
    RUN(f, CALL("INVITE", "1", ""));
    char by_callid[80];
    snprintf(by_callid, sizeof(by_callid), "%s", dest(f, d));
    atomic_store(&pool->returned_ms[0], f->now_ms - 1000);
    atomic_store(&pool->returned_ms[1], f->now_ms - 1000);
    RUN(f, CALL("INVITE", "1", ""));
    assert_string_equal(dest(f, d), by_callid);
    /* the window over: home, and a CANCEL just after goes to both */
    f->cfg.key_other.kind = CFG_KEY_RURI_AOR;
    f->now_ms += 600 * 1000;
    RUN(f, CALL("INVITE", "1", ""));
    assert_string_equal(dest(f, d), home);
    RUN(f, CALL("CANCEL", "1", ""));
    assert_string_equal(dest(f, d), home);
    assert_int_not_equal(f->tx.dst2len, 0);
    f->now_ms += PX_FOLLOW_MS;
    RUN(f, CALL("CANCEL", "1", ""));
    assert_int_equal(f->tx.dst2len, 0);
    /* registration_interval 0: at once */
    f->cfg.rebind_ms = 0;
    atomic_store(&pool->returned_ms[hb], f->now_ms - 1);
    RUN(f, CALL("INVITE", "1", ""));
    assert_string_equal(dest(f, d), home);
}

/* Issue 13 item 4: rules for REGISTER only and no default pool. What no
 * rule matches is answered 404 (a domain not handled, RFC 3261 §21.4.5),
 * counted as no_route, never a 503 that invites a retry; its ACK is
 * dropped; REGISTERs still reach their pool. */
static void test_px_no_rule_and_no_default_pool_is_404(void **state)
{
    struct fixture *f = *state;
    char d[80];
    RUN(f, CALL("INVITE", "1", ""));
    ASSERT_STARTS(f, "SIP/2.0 404 Not Found\r\n");
    assert_int_equal(atomic_load(&f->st.no_route), 1);
    assert_int_equal(atomic_load(&f->st.local[ST_L_404]), 1);
    assert_int_equal(RUN(f, CALL("ACK", "1", ";tag=x")), 0);
    assert_int_equal(atomic_load(&f->st.no_route), 2);
    assert_int_equal(atomic_load(&f->st.drop[ST_DROP_ack]), 1);
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: r1\r\n"
           "CSeq: 1 REGISTER\r\n\r\n");
    assert_string_equal(dest(f, d), "203.0.113.50:5060");
    /* the registrars down: their REGISTERs get 503, not 404 */
    atomic_store(&f->cfg.pools[1].state[0], RT_DOWN);
    RUN(f, "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKr\r\n"
           "From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: r1\r\n"
           "CSeq: 1 REGISTER\r\n\r\n");
    ASSERT_STARTS(f, "SIP/2.0 503 Service Unavailable\r\n");
    assert_int_equal(atomic_load(&f->st.no_route), 2);
}

/* A response's latency: the send time of our Via against the wall clock it
 * arrives at, into the backend's histogram by class; a bad parameter is
 * counted and not measured, a Via without one is neither. */
static void test_px_measures_latency_from_our_via(void **state)
{
    struct fixture *f = *state;
    char d1[80], msg[1024];
    RUN(f, INVITE_HEAD "Content-Length: 0\r\n\r\n");
    dest(f, d1);
    const char *vdt = strstr(f->out, ";vdt=");
    assert_non_null(vdt);
    char sent[9], branch[80];
    memcpy(sent, vdt + 5, 8);
    sent[8] = '\0';
    /* our branch, whose tag the response must carry back (or it is forged) */
    const char *b = strstr(f->out, "branch=");
    assert_true(b != NULL && b < vdt && (size_t)(vdt - b - 7) < sizeof(branch));
    memcpy(branch, b + 7, (size_t)(vdt - b - 7));
    branch[vdt - b - 7] = '\0';
    assert_int_equal(net_addr_parse(d1, &f->src, &f->srclen), 0);
    unsigned slot = px_backend_slot(&f->cfg, (struct sockaddr *)&f->src);
    assert_true(slot < ST_MAX_BACKENDS);
    static const struct {
        const char *param; /* NULL: the one the request got */
        int code;
        int64_t after_us;
        int cls, bucket; /* bucket -1: not measured */
        uint64_t implausible;
    } cases[] = {
        {NULL, 180, 2100, 0, 14, 0},           /* 2.1 ms: (2, 2.5] ms */
        {NULL, 200, 20100, 1, 24, 0},          /* 20.1 ms: (20, 25] ms */
        {NULL, 200, 0, 1, 0, 0},               /* at once: the first bucket */
        {NULL, 200, 31000000, 1, -1, 1},       /* over 30 s */
        {NULL, 200, -1000, 1, -1, 1},          /* negative: clocks apart, or forged */
        {";vdt=zz", 200, 0, 1, -1, 1},         /* mangled */
        {";vdt=359ca0001", 200, 0, 1, -1, 1},  /* too long */
        {"", 200, 0, 1, -1, 0},                /* none: not ours to measure */
    };
    uint64_t implausible = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct st_backend *be = &f->st.be[slot];
        uint64_t before[ST_NLAT];
        for (int k = 0; k < ST_NLAT; k++)
            before[k] = atomic_load(&be->lat[cases[i].cls].bucket[k]);
        char p[32];
        snprintf(p, sizeof(p), ";vdt=%s", sent);
        int n = snprintf(msg, sizeof(msg),
                         "SIP/2.0 %d X\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=%s%s\r\n"
                         "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKabc\r\n"
                         "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b\r\n"
                         "Call-ID: call-1@example.com\r\nCSeq: 1 INVITE\r\n\r\n",
                         cases[i].code, branch, cases[i].param ? cases[i].param : p);
        int64_t keep = f->now_us;
        f->now_us += cases[i].after_us;
        run(f, msg, (size_t)n);
        f->now_us = keep;
        assert_int_equal(counter(f, "fwd_responses"), i + 1);
        implausible += cases[i].implausible;
        assert_int_equal(counter(f, "latency_implausible"), implausible);
        for (int k = 0; k < ST_NLAT; k++)
            assert_int_equal(atomic_load(&be->lat[cases[i].cls].bucket[k]) - before[k],
                             k == cases[i].bucket);
    }
    assert_int_equal(atomic_load(&f->st.be[slot].lat[0].sum_us), 2100);
    assert_int_equal(atomic_load(&f->st.be[slot].lat[1].sum_us), 20100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_px_forwards_request_with_our_via_and_decremented_max_forwards),
        T(test_px_forwards_request_after_leading_crlf),
        T(test_px_adds_max_forwards_70_when_absent),
        T(test_px_adds_received_and_rport),
        T(test_px_same_branch_for_retransmission_cancel_and_non2xx_ack),
        T(test_px_rfc2543_branch_ignores_to_tag),
        T(test_px_removes_own_route_and_follows_the_next),
        T(test_px_removes_own_route_line_and_uses_the_table),
        T(test_px_own_route_then_ip_request_uri_goes_there),
        T(test_px_answers_local_errors),
        T(test_px_request_back_unchanged_is_482_and_a_spiral_is_not),
#define W(name) cmocka_unit_test_setup_teardown(name, setup_wild, teardown)
        W(test_px_wildcard_listener_takes_every_local_address_as_us),
        W(test_px_never_sends_to_its_own_address),
        T(test_px_never_answers_ack_or_unreadable_via),
        T(test_px_forwards_response_without_our_via),
        T(test_px_drops_responses_it_cannot_route),
        T(test_px_answers_stun_binding_request),
        T(test_px_stun_over_tcp_is_dropped),
        T(test_px_register_key_is_the_to_aor),
        T(test_px_register_to_without_user_is_keyed_on_the_host),
        T(test_px_drain_moves_new_calls_and_keeps_dialogs),
        T(test_px_cancel_follows_its_invite_across_a_change),
        T(test_px_all_backends_down_gives_503),
        T(test_px_record_route_and_path_when_configured),
        T(test_px_path_always_on_every_register),
        T(test_px_record_route_carries_the_flows_of_both_phones),
        T(test_px_aor_calls_keep_the_fallback_after_a_return),
        T(test_px_untrusted_route_to_another_host_gets_403_or_the_rules),
        T(test_px_via_tag_is_stable_and_forged_responses_are_dropped),
        T(test_px_tcp_connection_token_is_covered_by_the_via_tag),
        T(test_px_workers_own_tcp_sockets_are_self),
        T(test_px_named_destinations_are_never_loopback_or_link_local),
        T(test_px_flow_token_of_the_previous_secret_until_its_deadline),
        T(test_px_icmp_hint_holds_a_backend_down_once),
        T(test_px_local_response_table_is_consistent),
        T(test_px_latency_bucket_matches_a_search),
        T(test_px_counts_per_backend_and_method),
        T(test_px_measures_latency_from_our_via),
        cmocka_unit_test_setup_teardown(test_px_backends_at_finds_every_pool, setup_pools,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_px_rules_pick_pools_and_missing_keys_get_400,
                                        setup_pools, teardown),
        cmocka_unit_test_setup_teardown(test_px_no_rule_and_no_default_pool_is_404,
                                        setup_no_default, teardown),
#undef T
#undef W
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
