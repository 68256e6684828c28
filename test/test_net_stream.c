/*
 * test_net_stream.c - TCP connections on the io_uring engine (net.h: net_stream_cfg,
 * net_conn_send), all traffic on loopback.
 *
 * The engine runs in a thread with one UDP socket and one TCP listener on 127.0.0.1 port 0;
 * the test drives plain client sockets. The stream handler is a line protocol, no SIP: each
 * complete line ("...\n") is answered "ECHO " + line, in two iovecs, one of them pointing into
 * the connection's buffer; "CLOSE\n" closes the connection; "FLOOD\n" sends far more than
 * the peer reads. What is not a whole line is left unconsumed, so the tests see bytes that
 * arrive in pieces reassembled in place. A UDP datagram makes the engine thread send on the
 * last connection's handle, which is how a response finds a connection that may have gone.
 * Every limit of net_stream_cfg is driven past its bound and its counted event checked.
 * Every wait is bounded in count and time; the tests skip when io_uring is not available.
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
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "net/net.h"

#define WAIT_MS 3000

struct harness {
    pthread_t th;
    bool running;
    atomic_bool stop;
    int ret;
    int udp, tcp;
    struct sockaddr_storage udp_addr, tcp_addr;
    struct net_engine_cfg cfg;
    struct net_stream_cfg scfg;
    _Atomic uint64_t last_conn; /* handle of the last connection that sent a line */
    atomic_int late_ret;        /* net_conn_send's return for the UDP-triggered send */
    atomic_uint lines, late_sends;
    atomic_bool refuse; /* the admit hook says no */
    atomic_uint ev[NET_EV_COUNT];
};

static bool uring_ok;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long h_data(void *ctx, const struct net_conn_rx *rx)
{
    struct harness *h = ctx;
    size_t used = 0;
    for (;;) {
        const char *nl = memchr(rx->buf + used, '\n', rx->len - used);
        if (nl == NULL)
            return (long)used;
        size_t n = (size_t)(nl + 1 - (rx->buf + used));
        const char *line = rx->buf + used;
        used += n;
        atomic_fetch_add(&h->lines, 1);
        atomic_store(&h->last_conn, rx->conn);
        if (n == 6 && memcmp(line, "CLOSE\n", 6) == 0) {
            net_conn_close(rx->stream, rx->conn); /* no assert: this is the engine thread */
            return (long)used;
        }
        if (n == 6 && memcmp(line, "FLOOD\n", 6) == 0) {
            static char big[65536];
            memset(big, 'f', sizeof(big));
            struct iovec iov = {big, sizeof(big)};
            for (int i = 0; i < 1024; i++)
                if (net_conn_send(rx->stream, rx->conn, &iov, 1) != 0)
                    break;
            return (long)used;
        }
        struct iovec iov[2] = {{(void *)"ECHO ", 5}, {(void *)line, n}};
        if (net_conn_send(rx->stream, rx->conn, iov, 2) != 0)
            return NET_CONN_CLOSE;
    }
}

/* A datagram: send "LATE\n" on the last connection's handle, from the engine's thread. */
static void h_udp(void *ctx, const struct net_rx *rx, struct net_tx *tx)
{
    struct harness *h = ctx;
    (void)tx;
    struct iovec iov = {(void *)"LATE\n", 5};
    atomic_store(&h->late_ret, net_conn_send(rx->stream, atomic_load(&h->last_conn), &iov, 1));
    atomic_fetch_add(&h->late_sends, 1);
}

static void h_event(void *ctx, int ev, const struct sockaddr *dst)
{
    (void)dst;
    struct harness *h = ctx;
    if (ev >= 0 && ev < NET_EV_COUNT)
        atomic_fetch_add(&h->ev[ev], 1);
}

static bool h_admit(void *ctx, int listener, const struct sockaddr *peer)
{
    struct harness *h = ctx;
    (void)peer;
    return listener == 0 && !atomic_load(&h->refuse);
}

static void *h_thread(void *arg)
{
    struct harness *h = arg;
    h->ret = net_uring_run(&h->cfg);
    return NULL;
}

static int h_setup(void **state)
{
    struct harness *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    h->udp = h->tcp = -1;
    h->scfg = (struct net_stream_cfg){
        .lfds = &h->tcp,
        .nlfds = 1,
        .max_conns = 16,
        .buf_size = 4096,
        .wbuf_size = 4096,
        .idle_ms = 10000,
        .partial_ms = 10000,
        .on_data = h_data,
        .admit = h_admit,
    };
    h->cfg = (struct net_engine_cfg){
        .fds = &h->udp,
        .nfds = 1,
        .buf_size = 2048,
        .nbufs = 64,
        .batch = 16,
        .cpu = -1,
        .handler = h_udp,
        .on_event = h_event,
        .ctx = h,
        .stop = &h->stop,
        .stream = &h->scfg,
    };
    *state = h;
    return 0;
}

static void h_start(struct harness *h)
{
    if (!uring_ok)
        skip();
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(net_addr_parse("127.0.0.1:0", &ss, &len), 0);
    h->udp = net_udp_open((struct sockaddr *)&ss, len, false, 0, 0);
    h->tcp = net_tcp_listen((struct sockaddr *)&ss, len, true, 64);
    assert_true(h->udp >= 0 && h->tcp >= 0);
    socklen_t bl = sizeof(h->udp_addr);
    assert_int_equal(getsockname(h->udp, (struct sockaddr *)&h->udp_addr, &bl), 0);
    bl = sizeof(h->tcp_addr);
    assert_int_equal(getsockname(h->tcp, (struct sockaddr *)&h->tcp_addr, &bl), 0);
    assert_int_equal(pthread_create(&h->th, NULL, h_thread, h), 0);
    h->running = true;
}

static int h_teardown(void **state)
{
    struct harness *h = *state;
    if (h->running) {
        atomic_store(&h->stop, true);
        pthread_join(h->th, NULL);
        assert_int_equal(h->ret, 0);
    }
    if (h->udp >= 0)
        close(h->udp);
    if (h->tcp >= 0)
        close(h->tcp);
    free(h);
    return 0;
}

/* A client connected to the engine's listener, with a small receive buffer if asked. */
static int h_connect(struct harness *h, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct timeval tv = {.tv_sec = WAIT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&h->tcp_addr, sizeof(struct sockaddr_in)), 0);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads exactly want's bytes and compares them. */
static void expect(int fd, const char *want)
{
    size_t n = strlen(want), got = 0;
    char buf[512];
    assert_true(n < sizeof(buf));
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0)
            fail_msg("recv after %zu of %zu bytes: %zd (%s)", got, n, r, strerror(errno));
        got += (size_t)r;
    }
    if (memcmp(buf, want, n) != 0)
        fail_msg("got \"%.*s\", want \"%s\"", (int)n, buf, want);
}

/* True once the server has closed fd: recv returns 0 or a reset, within WAIT_MS. */
static bool closed_by_server(int fd)
{
    char buf[4096];
    int64_t until = now_ms() + WAIT_MS;
    while (now_ms() < until) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return true;
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            return false;
    }
    return false;
}

static bool wait_ev(struct harness *h, int ev, unsigned n)
{
    for (int i = 0; i < WAIT_MS / 10; i++) {
        if (atomic_load(&h->ev[ev]) >= n)
            return true;
        usleep(10000);
    }
    return false;
}

static void test_stream_echoes_lines_that_arrive_in_pieces_and_pipelined(void **state)
{
    struct harness *h = *state;
    h_start(h);
    int fd = h_connect(h, 0);
    send_all(fd, "hel", 3);
    usleep(20000);
    send_all(fd, "lo\n", 3);
    expect(fd, "ECHO hello\n");
    send_all(fd, "a\nbb\nccc\n", 9);
    expect(fd, "ECHO a\nECHO bb\nECHO ccc\n");
    assert_true(wait_ev(h, NET_EV_CONN_OPEN, 1));
    close(fd);
    assert_true(wait_ev(h, NET_EV_CONN_END_PEER, 1));
}

static void test_stream_closes_when_the_handler_says_so(void **state)
{
    struct harness *h = *state;
    h_start(h);
    int fd = h_connect(h, 0);
    send_all(fd, "CLOSE\n", 6);
    assert_true(closed_by_server(fd));
    assert_true(wait_ev(h, NET_EV_CONN_END_HANDLER, 1));
    close(fd);
}

/* A send on the handle of a connection that has gone finds nothing: -ENOTCONN. */
static void test_stream_send_on_a_closed_connections_handle_is_refused(void **state)
{
    struct harness *h = *state;
    h_start(h);
    int fd = h_connect(h, 0);
    send_all(fd, "x\n", 2);
    expect(fd, "ECHO x\n");
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_int_equal(
        sendto(u, "go", 2, 0, (struct sockaddr *)&h->udp_addr, sizeof(struct sockaddr_in)), 2);
    expect(fd, "LATE\n"); /* open: it arrives */
    close(fd);
    assert_true(wait_ev(h, NET_EV_CONN_END_PEER, 1));
    assert_int_equal(
        sendto(u, "go", 2, 0, (struct sockaddr *)&h->udp_addr, sizeof(struct sockaddr_in)), 2);
    for (int i = 0; i < WAIT_MS / 10 && atomic_load(&h->late_sends) < 2; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&h->late_sends), 2);
    assert_int_equal(atomic_load(&h->late_ret), -ENOTCONN);
    /* the slot is taken by a new connection: the old handle still names nothing */
    uint64_t old = atomic_load(&h->last_conn);
    fd = h_connect(h, 0);
    send_all(fd, "y\n", 2);
    expect(fd, "ECHO y\n");
    assert_true(atomic_load(&h->last_conn) != old);
    atomic_store(&h->last_conn, old);
    assert_int_equal(
        sendto(u, "go", 2, 0, (struct sockaddr *)&h->udp_addr, sizeof(struct sockaddr_in)), 2);
    for (int i = 0; i < WAIT_MS / 10 && atomic_load(&h->late_sends) < 3; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&h->late_ret), -ENOTCONN);
    close(fd);
    close(u);
}

static void test_stream_refuses_connections_past_max_conns(void **state)
{
    struct harness *h = *state;
    h->scfg.max_conns = 4;
    h_start(h);
    int fd[5];
    for (int i = 0; i < 4; i++) {
        fd[i] = h_connect(h, 0);
        send_all(fd[i], "x\n", 2);
        expect(fd[i], "ECHO x\n");
    }
    fd[4] = h_connect(h, 0); /* the kernel completes the handshake; the engine closes it */
    assert_true(closed_by_server(fd[4]));
    assert_true(wait_ev(h, NET_EV_CONN_REFUSED, 1));
    close(fd[0]);
    assert_true(wait_ev(h, NET_EV_CONN_END_PEER, 1));
    int again = h_connect(h, 0); /* a slot is free again */
    send_all(again, "z\n", 2);
    expect(again, "ECHO z\n");
    close(again);
    for (int i = 1; i < 5; i++)
        close(fd[i]);
}

static void test_stream_refuses_a_source_past_max_per_source(void **state)
{
    struct harness *h = *state;
    h->scfg.max_per_source = 2;
    h_start(h);
    int a = h_connect(h, 0), b = h_connect(h, 0);
    send_all(a, "a\n", 2);
    expect(a, "ECHO a\n");
    send_all(b, "b\n", 2);
    expect(b, "ECHO b\n");
    int c = h_connect(h, 0);
    assert_true(closed_by_server(c));
    assert_true(wait_ev(h, NET_EV_CONN_REFUSED_SRC, 1));
    assert_int_equal(atomic_load(&h->ev[NET_EV_CONN_OPEN]), 2);
    close(a);
    close(b);
    close(c);
}

/* The admit hook is asked at accept: a refused peer is closed before anything is allocated
 * for it (NET_EV_CONN_REFUSED_ACL, no NET_EV_CONN_OPEN); an admitted one is served. */
static void test_stream_closes_a_connection_the_admit_hook_refuses(void **state)
{
    struct harness *h = *state;
    atomic_store(&h->refuse, true);
    h_start(h);
    int fd = h_connect(h, 0);
    assert_true(closed_by_server(fd));
    close(fd);
    assert_true(wait_ev(h, NET_EV_CONN_REFUSED_ACL, 1));
    assert_int_equal(atomic_load(&h->ev[NET_EV_CONN_OPEN]), 0);
    atomic_store(&h->refuse, false);
    fd = h_connect(h, 0);
    send_all(fd, "x\n", 2);
    expect(fd, "ECHO x\n");
    close(fd);
    assert_int_equal(atomic_load(&h->ev[NET_EV_CONN_REFUSED_ACL]), 1);
}

static void test_stream_closes_an_idle_connection(void **state)
{
    struct harness *h = *state;
    h->scfg.idle_ms = 200;
    h_start(h);
    int fd = h_connect(h, 0);
    int64_t t0 = now_ms();
    assert_true(closed_by_server(fd));
    int64_t took = now_ms() - t0;
    assert_true(took >= 150 && took < 1500);
    assert_true(wait_ev(h, NET_EV_CONN_END_IDLE, 1));
    close(fd);
}

/* Slowloris: a byte every 50 ms keeps the connection busy but never completes a line. */
static void test_stream_closes_a_partial_message_that_never_completes(void **state)
{
    struct harness *h = *state;
    h->scfg.partial_ms = 300;
    h_start(h);
    int fd = h_connect(h, 0);
    bool closed = false;
    int64_t t0 = now_ms();
    for (int i = 0; i < 60 && !closed; i++) { /* at most 3 s */
        if (send(fd, "s", 1, MSG_NOSIGNAL) != 1)
            closed = true;
        usleep(50000);
        closed = closed || atomic_load(&h->ev[NET_EV_CONN_END_SLOW]) > 0;
    }
    assert_true(closed);
    assert_true(now_ms() - t0 < 1500);
    assert_true(wait_ev(h, NET_EV_CONN_END_SLOW, 1));
    assert_int_equal(atomic_load(&h->ev[NET_EV_CONN_END_IDLE]), 0);
    close(fd);
}

static void test_stream_closes_a_connection_whose_buffer_fills_unconsumed(void **state)
{
    struct harness *h = *state;
    h->scfg.buf_size = 256;
    h_start(h);
    int fd = h_connect(h, 0);
    char junk[300];
    memset(junk, 'j', sizeof(junk));
    send_all(fd, junk, sizeof(junk));
    assert_true(closed_by_server(fd));
    assert_true(wait_ev(h, NET_EV_CONN_END_FULL, 1));
    close(fd);
}

/* A peer that reads nothing: what waits for it is bounded by wbuf_size, then it is closed. */
static void test_stream_closes_a_peer_that_does_not_read(void **state)
{
    struct harness *h = *state;
    h_start(h);
    int fd = h_connect(h, 4096);
    send_all(fd, "FLOOD\n", 6);
    assert_true(wait_ev(h, NET_EV_CONN_END_WRITE, 1));
    /* other connections are served meanwhile */
    int other = h_connect(h, 0);
    send_all(other, "ok\n", 3);
    expect(other, "ECHO ok\n");
    close(other);
    close(fd);
}

/* Stopping with connections open releases them all (ASan checks nothing leaks). */
static void test_stream_stops_with_connections_open(void **state)
{
    struct harness *h = *state;
    h_start(h);
    int fd[3];
    for (int i = 0; i < 3; i++) {
        fd[i] = h_connect(h, 0);
        send_all(fd[i], "part", 4);
    }
    assert_true(wait_ev(h, NET_EV_CONN_OPEN, 3));
    int64_t t0 = now_ms();
    atomic_store(&h->stop, true);
    pthread_join(h->th, NULL);
    h->running = false;
    assert_int_equal(h->ret, 0);
    assert_true(now_ms() - t0 < 1000);
    for (int i = 0; i < 3; i++) {
        assert_true(closed_by_server(fd[i]));
        close(fd[i]);
    }
}

static int64_t cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/* Out of descriptors, accept fails with EMFILE and its multishot request ends. Before the
 * fix it was armed again on every loop pass, failed at once, and the engine spun a core;
 * now accepting pauses (NET_EV_ACCEPT_PAUSED, ~100 ms each), datagrams are still handled,
 * and the connection that waited in the backlog is served once descriptors are back. */
static void test_stream_pauses_accepting_while_out_of_descriptors(void **state)
{
    struct harness *h = *state;
    /* io_uring reads the limit when the accept is armed: lowered first, with room for the
     * engine's ring and a connection, then filled up here */
    int lowest = dup(0); /* the next descriptor a process would get */
    assert_true(lowest >= 0);
    close(lowest);
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = (struct rlimit){.rlim_cur = (rlim_t)lowest + 16, .rlim_max = old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    h_start(h);
    int fd = h_connect(h, 0);
    send_all(fd, "x\n", 2);
    expect(fd, "ECHO x\n");
    int c2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(c2 >= 0 && u >= 0);
    struct timeval tv = {.tv_sec = WAIT_MS / 1000};
    setsockopt(c2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int filler[32], nfill = 0;
    while (nfill < 32 && (filler[nfill] = dup(0)) >= 0)
        nfill++;
    assert_true(nfill < 32 && errno == EMFILE);
    /* the handshake completes in the kernel; accept then finds no descriptor */
    int cr = connect(c2, (struct sockaddr *)&h->tcp_addr, sizeof(struct sockaddr_in));
    int64_t c0 = cpu_ms(), t0 = now_ms();
    for (int i = 0; i < 6; i++) {
        usleep(100000);
        sendto(u, "go", 2, 0, (struct sockaddr *)&h->udp_addr, sizeof(struct sockaddr_in));
    }
    int64_t used = cpu_ms() - c0, took = now_ms() - t0;
    for (int i = 0; i < WAIT_MS / 10 && atomic_load(&h->late_sends) < 6; i++)
        usleep(10000);
    for (int i = 0; i < nfill; i++)
        close(filler[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(cr, 0);
    unsigned paused = atomic_load(&h->ev[NET_EV_ACCEPT_PAUSED]);
    unsigned errs = atomic_load(&h->ev[NET_EV_RX_ERROR]);
    fprintf(stderr, "# out of descriptors for %lld ms: %lld ms of CPU, %u pauses, %u errors\n",
            (long long)took, (long long)used, paused, errs);
    assert_true(paused >= 1 && paused <= 2 * (unsigned)(took / 100) + 2);
    assert_int_equal(errs, 0);
    assert_true(used < took / 2);
    /* datagrams were handled throughout: six LATE on the open connection */
    assert_int_equal(atomic_load(&h->late_sends), 6);
    for (int i = 0; i < 6; i++)
        expect(fd, "LATE\n");
    /* and the connection that waited is accepted and served */
    send_all(c2, "y\n", 2);
    expect(c2, "ECHO y\n");
    close(c2);
    close(u);
    close(fd);
}

static void test_stream_is_refused_by_the_recvmmsg_engine(void **state)
{
    struct harness *h = *state;
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(net_addr_parse("127.0.0.1:0", &ss, &len), 0);
    h->udp = net_udp_open((struct sockaddr *)&ss, len, false, 0, 0);
    h->tcp = net_tcp_listen((struct sockaddr *)&ss, len, false, 8);
    assert_true(h->udp >= 0 && h->tcp >= 0);
    atomic_store(&h->stop, true);
    assert_int_equal(net_mmsg_run(&h->cfg), -EOPNOTSUPP);
}

static void test_stream_rejects_a_config_out_of_bounds(void **state)
{
    struct harness *h = *state;
    if (!uring_ok)
        skip();
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(net_addr_parse("127.0.0.1:0", &ss, &len), 0);
    h->udp = net_udp_open((struct sockaddr *)&ss, len, false, 0, 0);
    h->tcp = net_tcp_listen((struct sockaddr *)&ss, len, false, 8);
    atomic_store(&h->stop, true);
    h->scfg.max_conns = 0;
    assert_int_equal(net_uring_run(&h->cfg), -EINVAL);
    h->scfg.max_conns = 4;
    h->scfg.buf_size = 8;
    assert_int_equal(net_uring_run(&h->cfg), -EINVAL);
    h->scfg.buf_size = 4096;
    assert_int_equal(net_uring_run(&h->cfg), 0);
}

int main(void)
{
    uring_ok = net_uring_available();
    if (!uring_ok)
        fprintf(stderr, "test_net_stream: io_uring not available here, its tests skip\n");
#define T(f) cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
    const struct CMUnitTest tests[] = {
        T(test_stream_echoes_lines_that_arrive_in_pieces_and_pipelined),
        T(test_stream_closes_when_the_handler_says_so),
        T(test_stream_send_on_a_closed_connections_handle_is_refused),
        T(test_stream_refuses_connections_past_max_conns),
        T(test_stream_refuses_a_source_past_max_per_source),
        T(test_stream_closes_a_connection_the_admit_hook_refuses),
        T(test_stream_closes_an_idle_connection),
        T(test_stream_closes_a_partial_message_that_never_completes),
        T(test_stream_closes_a_connection_whose_buffer_fills_unconsumed),
        T(test_stream_closes_a_peer_that_does_not_read),
        T(test_stream_stops_with_connections_open),
        T(test_stream_pauses_accepting_while_out_of_descriptors),
        T(test_stream_is_refused_by_the_recvmmsg_engine),
        T(test_stream_rejects_a_config_out_of_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
