/*
 * test_net_engines.c - both datagram engines (net_uring_run, net_mmsg_run)
 * against the same tests, all traffic on loopback.
 *
 * The engine runs in a thread on sockets bound to 127.0.0.1 / ::1 port 0; the
 * test drives a client socket. The handler echoes: its reply splices a
 * prefix from tx->scratch between no copy of the payload (two iovecs into
 * rx->buf), so a byte-exact reply proves the buffer stayed owned until the
 * send completed. Every wait is bounded in count and time. The io_uring
 * tests skip only if net_uring_available() says no, and say why.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/net.h"

#define PREFIX "ECHO "
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define MAX_SEQ 4096
#define RECV_WAIT_MS 2000
#define JOIN_WAIT_MS 2000

struct engine {
    const char *name;
    int (*run)(const struct net_engine_cfg *cfg);
    bool uring;
};

static const struct engine eng_uring = {"io_uring", net_uring_run, true};
static const struct engine eng_mmsg = {"recvmmsg", net_mmsg_run, false};
static bool uring_ok;

/* One engine on its sockets, what its handler does, and what it saw (the
 * engine thread writes the counters, the test reads them). */
struct harness {
    const struct engine *eng;
    pthread_t th;
    bool running;
    atomic_bool stop;
    int ret;
    int fds[NET_MAX_SOCKS];
    struct sockaddr_storage addr[NET_MAX_SOCKS]; /* where each is bound */
    struct net_engine_cfg cfg;
    int rcvbuf; /* of the engine sockets */

    atomic_bool reply_fixed; /* reply to fixed_dst instead of the source */
    atomic_bool gone_fixed;  /* only "GONE..." datagrams are answered to fixed_dst */
    atomic_bool also_dst2;   /* and send the same reply to dst2 */
    struct sockaddr_storage dst2;
    socklen_t dst2_len;
    struct sockaddr_storage fixed_dst;
    socklen_t fixed_len;

    atomic_uint rx, truncated, last_len, dropped_by_handler;
    atomic_uint send_errors, refused, refused_port, icmp_reports;
    atomic_uint ev[NET_EV_COUNT];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Echo handler: "DROP..." is not answered, anything else comes back as
 * PREFIX + payload, in three iovecs (scratch, two halves of rx->buf). */
static void h_handler(void *ctx, const struct net_rx *rx, struct net_tx *tx)
{
    struct harness *h = ctx;
    atomic_fetch_add(&h->rx, 1);
    atomic_store(&h->last_len, (unsigned)rx->len);
    if (rx->truncated)
        atomic_fetch_add(&h->truncated, 1);
    if (rx->len >= 4 && memcmp(rx->buf, "DROP", 4) == 0) {
        atomic_fetch_add(&h->dropped_by_handler, 1);
        return;
    }
    size_t half = rx->len / 2;
    memcpy(tx->scratch, PREFIX, PREFIX_LEN);
    tx->iov[0] = (struct iovec){.iov_base = tx->scratch, .iov_len = PREFIX_LEN};
    tx->iov[1] = (struct iovec){.iov_base = rx->buf, .iov_len = half};
    tx->iov[2] = (struct iovec){.iov_base = rx->buf + half, .iov_len = rx->len - half};
    tx->niov = 3;
    bool gone = rx->len >= 4 && memcmp(rx->buf, "GONE", 4) == 0;
    if (atomic_load(&h->reply_fixed) || (gone && atomic_load(&h->gone_fixed))) {
        memcpy(&tx->dst, &h->fixed_dst, h->fixed_len);
        tx->dstlen = h->fixed_len;
    } else {
        memcpy(&tx->dst, rx->src, rx->srclen);
        tx->dstlen = rx->srclen;
    }
    tx->sock = rx->sock;
    if (atomic_load(&h->also_dst2)) {
        memcpy(&tx->dst2, &h->dst2, h->dst2_len);
        tx->dst2len = h->dst2_len;
    }
}

/* A send failed for good: the datagram was lost. */
static void h_send_error(void *ctx, const struct net_tx *tx, int err)
{
    struct harness *h = ctx;
    (void)tx, (void)err;
    atomic_fetch_add(&h->send_errors, 1);
}

static void h_icmp(void *ctx, const struct net_icmp *e)
{
    struct harness *h = ctx;
    atomic_fetch_add(&h->icmp_reports, 1);
    if (e->err != -ECONNREFUSED || !e->remote)
        return;
    atomic_fetch_add(&h->refused, 1);
    atomic_store(&h->refused_port, (unsigned)net_addr_port(e->dst));
}

static void h_event(void *ctx, int ev, const struct sockaddr *dst)
{
    (void)dst;
    struct harness *h = ctx;
    if (ev >= 0 && ev < NET_EV_COUNT)
        atomic_fetch_add(&h->ev[ev], 1);
}

#define BIG_BUF (4 << 20)

/* Opens a socket on addr ("127.0.0.1:0"), returns it and where it is bound. */
static int open_bound_buf(const char *addr, struct sockaddr_storage *bound, int rcvbuf)
{
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(net_addr_parse(addr, &ss, &len), 0);
    int fd = net_udp_open((struct sockaddr *)&ss, len, false, rcvbuf, BIG_BUF);
    if (fd < 0)
        fail_msg("net_udp_open(%s) = %d", addr, fd);
    socklen_t blen = sizeof(*bound);
    assert_int_equal(getsockname(fd, (struct sockaddr *)bound, &blen), 0);
    return fd;
}

static int open_bound(const char *addr, struct sockaddr_storage *bound)
{
    return open_bound_buf(addr, bound, BIG_BUF);
}

static socklen_t sa_len(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static int h_setup(void **state)
{
    const struct engine *eng = *state;
    struct harness *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    h->eng = eng;
    h->rcvbuf = BIG_BUF;
    for (int i = 0; i < NET_MAX_SOCKS; i++)
        h->fds[i] = -1;
    h->cfg = (struct net_engine_cfg){
        .fds = h->fds,
        .nfds = 1,
        .buf_size = 2048,
        .nbufs = 256,
        .batch = 32,
        .cpu = -1,
        .handler = h_handler,
        .on_send_error = h_send_error,
        .on_icmp = h_icmp,
        .on_event = h_event,
        .ctx = h,
        .stop = &h->stop,
    };
    *state = h;
    return 0;
}

static void *h_thread(void *arg)
{
    struct harness *h = arg;
    h->ret = h->eng->run(&h->cfg);
    return NULL;
}

/* Opens nfds engine sockets on ip ("127.0.0.1" or "[::1]") and starts the
 * engine. Skips if the engine is io_uring and the host cannot run it. */
static void h_start(struct harness *h, const char *ip, int nfds)
{
    if (h->eng->uring && !uring_ok)
        skip();
    char addr[64];
    snprintf(addr, sizeof(addr), "%s:0", ip);
    for (int i = 0; i < nfds; i++)
        h->fds[i] = open_bound_buf(addr, &h->addr[i], h->rcvbuf);
    h->cfg.nfds = nfds;
    assert_int_equal(pthread_create(&h->th, NULL, h_thread, h), 0);
    h->running = true;
}

/* Sets stop and joins; returns how long the engine took to return. */
static int64_t h_stop(struct harness *h)
{
    int64_t t0 = now_ms();
    atomic_store(&h->stop, true);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += JOIN_WAIT_MS / 1000;
    int r = pthread_timedjoin_np(h->th, NULL, &dl);
    if (r != 0) {
        fprintf(stderr, "%s engine did not stop within %d ms\n", h->eng->name, JOIN_WAIT_MS);
        abort(); /* the thread still uses h: nothing safe is left to do */
    }
    h->running = false;
    assert_int_equal(h->ret, 0);
    return now_ms() - t0;
}

static int h_teardown(void **state)
{
    struct harness *h = *state;
    if (h->running)
        h_stop(h);
    for (int i = 0; i < NET_MAX_SOCKS; i++)
        if (h->fds[i] >= 0)
            close(h->fds[i]);
    free(h);
    return 0;
}

/* Payload of datagram seq: "%07u " then a byte pattern seeded by seq. */
static size_t fill_payload(char *buf, unsigned seq, size_t len)
{
    char head[16];
    snprintf(head, sizeof(head), "%07u ", seq);
    for (size_t i = 0; i < len; i++)
        buf[i] = i < 8 ? head[i] : (char)((seq * 31u + i * 7u) & 0xff);
    return len;
}

static size_t payload_len(unsigned seq)
{
    return 8 + (seq * 37u) % 1400; /* 8..1407 bytes */
}

static void client_send(int fd, const struct sockaddr_storage *to, const void *buf, size_t len)
{
    for (int tries = 0; tries < 100; tries++) {
        ssize_t r = sendto(fd, buf, len, 0, (const struct sockaddr *)to, sa_len(to));
        if (r == (ssize_t)len)
            return;
        if (r < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED)
            fail_msg("client sendto: %s", strerror(errno));
        usleep(1000);
    }
    fail_msg("client sendto kept failing");
}

/* One datagram within wait_ms, or -1. from gets the sender. */
static ssize_t client_recv(int fd, char *buf, size_t cap, int wait_ms,
                           struct sockaddr_storage *from)
{
    int64_t deadline = now_ms() + wait_ms;
    for (;;) {
        socklen_t flen = sizeof(*from);
        ssize_t r = recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &flen);
        if (r >= 0)
            return r;
        if (errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED)
            fail_msg("client recvfrom: %s", strerror(errno));
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, (int)left);
    }
}

/* Checks one reply: PREFIX + the payload of the seq it names. Returns seq. */
static unsigned check_reply(const char *buf, ssize_t n)
{
    assert_true(n >= (ssize_t)(PREFIX_LEN + 8));
    assert_memory_equal(buf, PREFIX, PREFIX_LEN);
    unsigned seq = (unsigned)strtoul(buf + PREFIX_LEN, NULL, 10);
    assert_true(seq < MAX_SEQ);
    char want[2048];
    size_t len = fill_payload(want, seq, payload_len(seq));
    assert_int_equal((size_t)n, PREFIX_LEN + len);
    assert_memory_equal(buf + PREFIX_LEN, want, len);
    return seq;
}

/* Sends total datagrams in bursts (the engine sockets in turn, and drop
 * datagrams among them if drops), reads every reply and checks each came
 * back byte-exact, once, from the socket it was sent to. */
static void echo_run(struct harness *h, const char *client_addr, unsigned total, unsigned burst,
                     bool drops)
{
    static bool seen[MAX_SEQ];
    struct sockaddr_storage me, from;
    int c = open_bound(client_addr, &me);
    char buf[4096];

    assert_true(total <= MAX_SEQ);
    memset(seen, 0, sizeof(seen));
    for (unsigned sent = 0; sent < total;) {
        unsigned n = total - sent < burst ? total - sent : burst;
        for (unsigned i = 0; i < n; i++) {
            unsigned seq = sent + i;
            const struct sockaddr_storage *to = &h->addr[seq % (unsigned)h->cfg.nfds];
            if (drops)
                client_send(c, to, "DROP me", 7);
            client_send(c, to, buf, fill_payload(buf, seq, payload_len(seq)));
        }
        for (unsigned i = 0; i < n; i++) {
            ssize_t r = client_recv(c, buf, sizeof(buf), RECV_WAIT_MS, &from);
            if (r < 0)
                fail_msg("%s: reply %u of burst at %u missing", h->eng->name, i, sent);
            unsigned seq = check_reply(buf, r);
            assert_false(seen[seq]);
            seen[seq] = true;
            const struct sockaddr_storage *to = &h->addr[seq % (unsigned)h->cfg.nfds];
            assert_true(net_addr_equal((struct sockaddr *)&from, (const struct sockaddr *)to));
        }
        sent += n;
    }
    for (unsigned seq = 0; seq < total; seq++)
        assert_true(seen[seq]);
    close(c);
}

static void print_counters(struct harness *h, const char *what)
{
    print_message("%s/%s: rx %u, enobufs %u, rx errors %u, tx dropped %u, send errors %u\n",
                  h->eng->name, what, atomic_load(&h->rx), atomic_load(&h->ev[NET_EV_RX_ENOBUFS]),
                  atomic_load(&h->ev[NET_EV_RX_ERROR]), atomic_load(&h->ev[NET_EV_TX_DROPPED]),
                  atomic_load(&h->send_errors));
}

static void test_echo_returns_2000_datagrams_byte_exact(void **state)
{
    struct harness *h = *state;
    h_start(h, "127.0.0.1", 1);
    echo_run(h, "127.0.0.1:0", 2000, 50, false);
    assert_int_equal(atomic_load(&h->rx), 2000);
    assert_int_equal(atomic_load(&h->send_errors), 0);
    assert_int_equal(atomic_load(&h->truncated), 0);
    h_stop(h);
}

static void test_echo_replies_from_the_socket_that_received(void **state)
{
    struct harness *h = *state;
    h_start(h, "127.0.0.1", 3);
    echo_run(h, "127.0.0.1:0", 600, 30, false);
    h_stop(h);
}

static void test_echo_over_ipv6(void **state)
{
    struct harness *h = *state;
    h->cfg.cpu = 0; /* io_uring: io-wq affinity registered */
    h_start(h, "[::1]", 2);
    echo_run(h, "[::1]:0", 500, 25, false);
    h_stop(h);
}

/* 4 buffers for bursts of 64 (plus as many datagrams the handler does not
 * answer): io_uring runs out of buffers and must re-arm without losing a
 * datagram; recvmmsg reuses its 4 per batch. */
static void test_echo_survives_few_buffers_and_unanswered_datagrams(void **state)
{
    struct harness *h = *state;
    h->cfg.nbufs = 4;
    h->cfg.batch = 4;
    h_start(h, "127.0.0.1", 1);
    echo_run(h, "127.0.0.1:0", 1024, 64, true);
    assert_int_equal(atomic_load(&h->dropped_by_handler), 1024);
    print_counters(h, "few buffers");
    h_stop(h);
}

static void test_truncated_datagram_arrives_cut_to_buf_size(void **state)
{
    struct harness *h = *state;
    struct sockaddr_storage me, from;
    char big[3000], buf[4096];

    h->cfg.buf_size = 512;
    h_start(h, "127.0.0.1", 1);
    int c = open_bound("127.0.0.1:0", &me);

    memset(big, 'x', sizeof(big));
    client_send(c, &h->addr[0], big, 512);
    ssize_t r = client_recv(c, buf, sizeof(buf), RECV_WAIT_MS, &from);
    assert_int_equal(r, PREFIX_LEN + 512);
    assert_int_equal(atomic_load(&h->truncated), 0);

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 13);
    client_send(c, &h->addr[0], big, sizeof(big));
    r = client_recv(c, buf, sizeof(buf), RECV_WAIT_MS, &from);
    assert_int_equal(r, PREFIX_LEN + 512);
    assert_memory_equal(buf + PREFIX_LEN, big, 512);
    assert_int_equal(atomic_load(&h->truncated), 1);
    assert_int_equal(atomic_load(&h->last_len), 512);
    close(c);
    h_stop(h);
}

static void test_stop_ends_the_loop_within_a_second(void **state)
{
    struct harness *h = *state;
    struct sockaddr_storage me;
    char buf[256];

    h_start(h, "127.0.0.1", 2);
    usleep(50 * 1000);
    int64_t idle = h_stop(h);
    print_message("%s: idle stop took %lld ms\n", h->eng->name, (long long)idle);
    assert_true(idle < 1000);

    /* Again with replies in flight that nobody reads. */
    for (int i = 0; i < 2; i++)
        close(h->fds[i]), h->fds[i] = -1;
    atomic_store(&h->stop, false);
    h_start(h, "127.0.0.1", 2);
    int c = open_bound("127.0.0.1:0", &me);
    for (unsigned seq = 0; seq < 200; seq++)
        client_send(c, &h->addr[seq % 2], buf, fill_payload(buf, seq, sizeof(buf)));
    int64_t busy = h_stop(h);
    print_message("%s: stop under traffic took %lld ms\n", h->eng->name, (long long)busy);
    assert_true(busy < 1000);
    close(c);
}

/* Replies go to a closed port: the ICMP port unreachable comes back and,
 * thanks to IP_RECVERR, reaches on_icmp as -ECONNREFUSED from the error
 * queue, which names the port. Then plain echo still works: errors must not
 * wedge the socket. */
static void test_reply_to_closed_port_reports_connection_refused(void **state)
{
    struct harness *h = *state;
    struct sockaddr_storage me, from;
    char buf[2048];

    int gone = open_bound("127.0.0.1:0", &h->fixed_dst);
    close(gone);
    h->fixed_len = sa_len(&h->fixed_dst);
    unsigned gone_port = (unsigned)net_addr_port((struct sockaddr *)&h->fixed_dst);
    atomic_store(&h->reply_fixed, true);
    h_start(h, "127.0.0.1", 1);
    int c = open_bound("127.0.0.1:0", &me);

    unsigned sent = 0;
    int64_t deadline = now_ms() + 3000;
    while (atomic_load(&h->refused) < 3 && sent < 1000 && now_ms() < deadline) {
        client_send(c, &h->addr[0], buf, fill_payload(buf, sent, 64));
        sent++;
        usleep(2000);
    }
    print_message("%s: %u refused after %u sends\n", h->eng->name, atomic_load(&h->refused),
                  sent);
    assert_true(atomic_load(&h->refused) >= 1);
    assert_int_equal(atomic_load(&h->refused_port), gone_port);

    atomic_store(&h->reply_fixed, false);
    client_send(c, &h->addr[0], buf, fill_payload(buf, 7, payload_len(7)));
    ssize_t r = client_recv(c, buf, sizeof(buf), RECV_WAIT_MS, &from);
    assert_int_equal(check_reply(buf, r), 7);
    close(c);
    h_stop(h);
}

/*
 * Linux also stores each ICMP error as the socket's pending error, and the
 * next send on that socket fails with it, whatever its destination: without
 * a resend, every datagram after a reply to a closed port would be lost and
 * blamed on the wrong peer. Replies to a closed port ("GONE") alternate with
 * echoes: every echo must come back, none may be reported lost, and the
 * error queue must name the closed port.
 */
static void test_an_icmp_error_costs_no_other_datagram(void **state)
{
    struct harness *h = *state;
    struct sockaddr_storage me, from;
    char buf[2048];
    bool seen[200] = {false};

    int gone = open_bound("127.0.0.1:0", &h->fixed_dst);
    close(gone);
    h->fixed_len = sa_len(&h->fixed_dst);
    unsigned gone_port = (unsigned)net_addr_port((struct sockaddr *)&h->fixed_dst);
    atomic_store(&h->gone_fixed, true);
    h_start(h, "127.0.0.1", 1);
    int c = open_bound("127.0.0.1:0", &me);
    unsigned got = 0;
    for (unsigned seq = 0; seq < 200; seq += 10) {
        for (unsigned i = seq; i < seq + 10; i++) {
            client_send(c, &h->addr[0], "GONE", 4);
            client_send(c, &h->addr[0], buf, fill_payload(buf, i, payload_len(i)));
        }
        for (unsigned i = seq; i < seq + 10; i++) {
            ssize_t r = client_recv(c, buf, sizeof(buf), RECV_WAIT_MS, &from);
            if (r < 0)
                fail_msg("%s: %u of %u echoes back, then none (%u sends lost, %u resent)",
                         h->eng->name, got, seq + 10, atomic_load(&h->send_errors),
                         atomic_load(&h->ev[NET_EV_TX_RETRIED]));
            unsigned k = check_reply(buf, r);
            assert_true(k < 200 && !seen[k]);
            seen[k] = true;
            got++;
        }
    }
    int64_t deadline = now_ms() + 1000;
    while (atomic_load(&h->refused) == 0 && now_ms() < deadline)
        usleep(1000);
    print_message("%s: 200 echoes, %u resent, %u refused by the error queue\n", h->eng->name,
                  atomic_load(&h->ev[NET_EV_TX_RETRIED]), atomic_load(&h->refused));
    assert_int_equal(got, 200);
    assert_int_equal(atomic_load(&h->send_errors), 0);
    assert_true(atomic_load(&h->ev[NET_EV_TX_RETRIED]) > 0); /* the poisoning did happen */
    assert_true(atomic_load(&h->refused) > 0);
    assert_int_equal(atomic_load(&h->refused_port), gone_port);
    close(c);
    h_stop(h);
}

/* A reply with dst2 set reaches both addresses, byte-exact, and the buffer
 * outlives both sends (under ASan a reuse before the second send completes
 * would corrupt what the second receiver gets). */
static void test_reply_with_dst2_reaches_both_addresses(void **state)
{
    struct harness *h = *state;
    struct sockaddr_storage me, other, from;
    char buf[2048];
    unsigned got_me = 0, got_other = 0;

    int c = open_bound("127.0.0.1:0", &me);
    int d = open_bound("127.0.0.1:0", &other);
    memcpy(&h->dst2, &other, sizeof(other));
    h->dst2_len = sa_len(&other);
    atomic_store(&h->also_dst2, true);
    h_start(h, "127.0.0.1", 1);
    for (unsigned seq = 0; seq < 200; seq += 20) {
        for (unsigned i = seq; i < seq + 20; i++)
            client_send(c, &h->addr[0], buf, fill_payload(buf, i, payload_len(i)));
        for (unsigned i = seq; i < seq + 20; i++) {
            if (check_reply(buf, client_recv(c, buf, sizeof(buf), RECV_WAIT_MS, &from)) < MAX_SEQ)
                got_me++;
            if (check_reply(buf, client_recv(d, buf, sizeof(buf), RECV_WAIT_MS, &from)) < MAX_SEQ)
                got_other++;
        }
    }
    close(c);
    close(d);
    h_stop(h);
    assert_int_equal(got_me, 200);
    assert_int_equal(got_other, 200);
}

/* IP_RECVERR queues one entry per ICMP error on the socket's error queue,
 * charged to its receive buffer: unless the engine drains it, a few dozen
 * refused replies fill a small buffer and every later datagram is dropped. */
static void test_many_refused_replies_do_not_fill_the_receive_buffer(void **state)
{
    struct harness *h = *state;
    struct sockaddr_storage me;
    char buf[64];

    int gone = open_bound("127.0.0.1:0", &h->fixed_dst);
    close(gone);
    h->fixed_len = sa_len(&h->fixed_dst);
    atomic_store(&h->reply_fixed, true);
    h->rcvbuf = 16384; /* the kernel doubles it */
    h_start(h, "127.0.0.1", 1);
    int c = open_bound("127.0.0.1:0", &me);

    /* Closed loop: each batch of 10 waits until the engine has taken it in,
     * so a busy machine cannot overrun the small buffer with requests; only
     * undrained error-queue entries can then make datagrams go missing. */
    unsigned base = atomic_load(&h->rx);
    for (unsigned seq = 0; seq < 300; seq++) {
        client_send(c, &h->addr[0], buf, fill_payload(buf, seq, sizeof(buf)));
        if (seq % 10 != 9)
            continue;
        int64_t batch_deadline = now_ms() + 500;
        while (atomic_load(&h->rx) - base < seq + 1 && now_ms() < batch_deadline)
            usleep(200);
    }
    int64_t deadline = now_ms() + 2000;
    while (atomic_load(&h->refused) < 200 && now_ms() < deadline)
        usleep(1000);
    print_message("%s: %u of 300 replies refused\n", h->eng->name, atomic_load(&h->refused));
    assert_true(atomic_load(&h->refused) >= 200);
    close(c);

    atomic_store(&h->reply_fixed, false);
    echo_run(h, "127.0.0.1:0", 100, 5, false);
    h_stop(h);
}

static void test_bad_config_is_refused_before_starting(void **state)
{
    struct harness *h = *state;
    if (h->eng->uring && !uring_ok)
        skip();
    struct sockaddr_storage bound;
    h->fds[0] = open_bound("127.0.0.1:0", &bound);
    struct net_engine_cfg good = h->cfg, c;

    c = good, c.nbufs = 48;
    assert_int_equal(h->eng->run(&c), -EINVAL);
    c = good, c.batch = 512;
    assert_int_equal(h->eng->run(&c), -EINVAL);
    c = good, c.nfds = 0;
    assert_int_equal(h->eng->run(&c), -EINVAL);
    c = good, c.nfds = NET_MAX_SOCKS + 1;
    assert_int_equal(h->eng->run(&c), -EINVAL);
    c = good, c.buf_size = 0;
    assert_int_equal(h->eng->run(&c), -EINVAL);
    c = good, c.handler = NULL;
    assert_int_equal(h->eng->run(&c), -EINVAL);
}

#define ENGINE_TESTS(eng)                                                                          \
    {                                                                                              \
        cmocka_unit_test_prestate_setup_teardown(test_echo_returns_2000_datagrams_byte_exact,      \
                                                 h_setup, h_teardown, (void *)&(eng)),             \
            cmocka_unit_test_prestate_setup_teardown(                                              \
                test_echo_replies_from_the_socket_that_received, h_setup, h_teardown,              \
                (void *)&(eng)),                                                                   \
            cmocka_unit_test_prestate_setup_teardown(test_echo_over_ipv6, h_setup, h_teardown,     \
                                                     (void *)&(eng)),                              \
            cmocka_unit_test_prestate_setup_teardown(                                              \
                test_echo_survives_few_buffers_and_unanswered_datagrams, h_setup, h_teardown,      \
                (void *)&(eng)),                                                                   \
            cmocka_unit_test_prestate_setup_teardown(                                              \
                test_truncated_datagram_arrives_cut_to_buf_size, h_setup, h_teardown,              \
                (void *)&(eng)),                                                                   \
            cmocka_unit_test_prestate_setup_teardown(test_stop_ends_the_loop_within_a_second,      \
                                                     h_setup, h_teardown, (void *)&(eng)),         \
            cmocka_unit_test_prestate_setup_teardown(                                              \
                test_reply_to_closed_port_reports_connection_refused, h_setup, h_teardown,         \
                (void *)&(eng)),                                                                   \
            cmocka_unit_test_prestate_setup_teardown(                                              \
                test_many_refused_replies_do_not_fill_the_receive_buffer, h_setup, h_teardown,     \
                (void *)&(eng)),                                                                   \
            cmocka_unit_test_prestate_setup_teardown(test_an_icmp_error_costs_no_other_datagram,   \
                                                     h_setup, h_teardown, (void *)&(eng)),         \
            cmocka_unit_test_prestate_setup_teardown(test_reply_with_dst2_reaches_both_addresses,  \
                                                     h_setup, h_teardown, (void *)&(eng)),         \
            cmocka_unit_test_prestate_setup_teardown(test_bad_config_is_refused_before_starting,   \
                                                     h_setup, h_teardown, (void *)&(eng)),         \
    }

int main(void)
{
    const struct CMUnitTest uring_tests[] = ENGINE_TESTS(eng_uring);
    const struct CMUnitTest mmsg_tests[] = ENGINE_TESTS(eng_mmsg);

    uring_ok = net_uring_available();
    if (!uring_ok)
        fprintf(stderr, "test_net_engines: net_uring_available() is false (io_uring absent, "
                        "blocked by seccomp, or kernel < 6.0): io_uring tests skip\n");
    int failed = cmocka_run_group_tests_name("io_uring engine", uring_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("recvmmsg engine", mmsg_tests, NULL, NULL);
    return failed;
}
