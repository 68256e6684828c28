/*
 * test_net.c - net/ address helpers and socket opening (addr.c, udp.c).
 *
 * Parse/format round trips and rejects as tables of one-line cases, the
 * sendable rules, and net_udp_open's options read back from real sockets
 * bound to 127.0.0.1 / ::1 with port 0. The engines are in test_net_engines.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>

#include "net/net.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void parse_ok(const char *s, struct sockaddr_storage *ss)
{
    socklen_t len = 0;
    int r = net_addr_parse(s, ss, &len);
    if (r != 0)
        fail_msg("net_addr_parse(\"%s\") = %d", s, r);
    assert_int_equal(len, ss->ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                   : sizeof(struct sockaddr_in6));
}

static void test_net_addr_parse_and_format_round_trip(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out; /* out: the canonical form */
        int family, port;
    } cases[] = {
        {"1.2.3.4:5060", "1.2.3.4:5060", AF_INET, 5060},
        {"127.0.0.1:0", "127.0.0.1:0", AF_INET, 0},
        {"255.255.255.255:65535", "255.255.255.255:65535", AF_INET, 65535},
        {"[::1]:5060", "[::1]:5060", AF_INET6, 5060},
        {"[2001:DB8::0001]:5061", "[2001:db8::1]:5061", AF_INET6, 5061},
        {"[::ffff:10.0.0.1]:1", "[::ffff:10.0.0.1]:1", AF_INET6, 1},
        {"1.2.3.4:05060", "1.2.3.4:5060", AF_INET, 5060},
        /* "[$(POD_IP)]:5060" in a Kubernetes manifest, on an IPv4 pod */
        {"[10.0.0.5]:5060", "10.0.0.5:5060", AF_INET, 5060},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sockaddr_storage ss;
        char buf[64];
        parse_ok(cases[i].in, &ss);
        assert_int_equal(ss.ss_family, cases[i].family);
        assert_int_equal(net_addr_port((struct sockaddr *)&ss), cases[i].port);
        int n = net_addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
        assert_int_equal(n, (int)strlen(cases[i].out));
        assert_string_equal(buf, cases[i].out);

        struct sockaddr_storage again;
        parse_ok(buf, &again);
        assert_true(net_addr_equal((struct sockaddr *)&ss, (struct sockaddr *)&again));
    }
}

static void test_net_addr_parse_rejects_malformed_and_hostnames(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "1.2.3.4",
        "1.2.3.4:",
        "1.2.3.4:65536",
        "1.2.3.4:-1",
        "1.2.3.4:5060x",
        "1.2.3.4:123456",
        "1.2.3:5060",
        "1.2.3.4.5:5060",
        "[::1",
        "[::1]",
        "[::1]5060",
        "[::1]:",
        "::1:5060",
        "::1",
        "[1.2.3.4.5]:5060",
        "[1.2.3]:5060",
        "[1.2.3.4]5060",
        "[1.2.3.4]",
        "localhost:5060",
        "example.com:5060",
        "[localhost]:5060",
        ":5060",
        "[]:5060",
        " 1.2.3.4:5060",
        "1.2.3.4 :5060",
        "[fe80::1%lo]:5060",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        int r = net_addr_parse(bad[i], &ss, &len);
        if (r != -EINVAL)
            fail_msg("net_addr_parse(\"%s\") = %d, want -EINVAL", bad[i], r);
    }
}

static void test_net_addr_from_ip_takes_a_span_and_checks_the_port(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    const char *s = "10.1.2.3;transport=udp";

    assert_int_equal(net_addr_from_ip(s, 8, 5060, &ss, &len), 0);
    char buf[64];
    assert_int_equal(net_addr_format((struct sockaddr *)&ss, buf, sizeof(buf)), 13);
    assert_string_equal(buf, "10.1.2.3:5060");
    assert_int_equal(net_addr_from_ip("::1", 3, 1, &ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(net_addr_from_ip("::1", 3, -1, &ss, &len), -EINVAL);
    assert_int_equal(net_addr_from_ip("::1", 3, 65536, &ss, &len), -EINVAL);
    assert_int_equal(net_addr_from_ip("", 0, 1, &ss, &len), -EINVAL);
    assert_int_equal(net_addr_from_ip("[::1]", 5, 1, &ss, &len), -EINVAL);
    assert_int_equal(net_addr_from_ip("1.2.3.4\0", 8, 1, &ss, &len), -EINVAL);
    char longip[100];
    memset(longip, '1', sizeof(longip));
    assert_int_equal(net_addr_from_ip(longip, sizeof(longip), 1, &ss, &len), -EINVAL);
}

static void test_net_addr_format_reports_a_short_buffer(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    char buf[64];
    parse_ok("[2001:db8::1]:5060", &ss);
    const struct sockaddr *sa = (struct sockaddr *)&ss;

    int n = net_addr_format(sa, buf, sizeof(buf));
    assert_int_equal(n, 18);
    assert_int_equal(net_addr_format(sa, buf, (size_t)n + 1), n);
    assert_int_equal(net_addr_format(sa, buf, (size_t)n), -ENOSPC);
    assert_int_equal(net_addr_format_ip(sa, buf, sizeof(buf)), 11);
    assert_string_equal(buf, "2001:db8::1");
    assert_int_equal(net_addr_format_ip(sa, buf, 11), -ENOSPC);
    assert_int_equal(net_addr_format_ip(sa, buf, 12), 11);

    struct sockaddr unknown = {.sa_family = AF_UNIX};
    assert_int_equal(net_addr_format(&unknown, buf, sizeof(buf)), -EAFNOSUPPORT);
    assert_int_equal(net_addr_port(&unknown), -EAFNOSUPPORT);
}

static void test_net_addr_equal_and_same_ip_compare_what_they_say(void **state)
{
    (void)state;
    struct sockaddr_storage a, b, c, d, e;
    parse_ok("1.2.3.4:5060", &a);
    parse_ok("1.2.3.4:5061", &b);
    parse_ok("1.2.3.5:5060", &c);
    parse_ok("[::1]:5060", &d);
    parse_ok("[::ffff:1.2.3.4]:5060", &e);
#define SA(x) ((struct sockaddr *)&(x))
    assert_true(net_addr_equal(SA(a), SA(a)));
    assert_false(net_addr_equal(SA(a), SA(b)));
    assert_true(net_addr_same_ip(SA(a), SA(b)));
    assert_false(net_addr_same_ip(SA(a), SA(c)));
    assert_false(net_addr_same_ip(SA(a), SA(d)));
    assert_false(net_addr_equal(SA(a), SA(e))); /* different families */
    assert_true(net_addr_same_ip(SA(d), SA(d)));
#undef SA
}

static void test_net_addr_sendable_refuses_what_a_reply_must_not_reach(void **state)
{
    (void)state;
    static const struct {
        const char *addr;
        bool ok;
    } cases[] = {
        {"1.2.3.4:5060", true},
        {"127.0.0.1:5060", true},
        {"223.255.255.255:5060", true},
        {"240.0.0.1:5060", true},
        {"255.255.255.254:5060", true},
        {"[::1]:5060", true},
        {"[2001:db8::1]:5060", true},
        {"[fe80::1]:5060", true},
        {"1.2.3.4:0", false},
        {"0.0.0.0:5060", false},
        {"255.255.255.255:5060", false},
        {"224.0.0.1:5060", false},
        {"239.255.255.250:1900", false},
        {"[::]:5060", false},
        {"[::1]:0", false},
        {"[ff02::1]:5060", false},
        {"[ff05::1:3]:547", false},
        {"[::ffff:224.0.0.1]:5060", false},
        {"[::ffff:0.0.0.0]:5060", false},
        {"[::ffff:255.255.255.255]:5060", false},
        {"[::ffff:10.0.0.1]:5060", true},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sockaddr_storage ss;
        parse_ok(cases[i].addr, &ss);
        if (net_addr_sendable((struct sockaddr *)&ss) != cases[i].ok)
            fail_msg("net_addr_sendable(%s) != %d", cases[i].addr, cases[i].ok);
    }
    struct sockaddr unknown = {.sa_family = AF_UNIX};
    assert_false(net_addr_sendable(&unknown));
}

static int get_int(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);
    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

/* Binds addr (port 0) and returns the fd; *port gets the chosen port. */
static int open_ephemeral(const char *addr, bool reuseport, int rcvbuf, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(net_addr_parse(addr, &ss, &len), 0);
    int fd = net_udp_open((struct sockaddr *)&ss, len, reuseport, rcvbuf, rcvbuf);
    if (fd < 0)
        fail_msg("net_udp_open(%s) = %d", addr, fd);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&bound, &blen), 0);
    *port = net_addr_port((struct sockaddr *)&bound);
    assert_true(*port > 0);
    return fd;
}

static void test_net_udp_open_sets_nonblock_recverr_and_buffers_on_ipv4(void **state)
{
    (void)state;
    int port;
    int fd = open_ephemeral("127.0.0.1:0", false, 1 << 20, &port);

    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(get_int(fd, IPPROTO_IP, IP_RECVERR), 1);
    assert_int_equal(get_int(fd, SOL_SOCKET, SO_REUSEPORT), 0);
    assert_int_equal(get_int(fd, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
    /* The kernel doubles the request; unprivileged it is capped at rmem_max. */
    if (geteuid() == 0) {
        assert_true(get_int(fd, SOL_SOCKET, SO_RCVBUF) >= 1 << 20);
        assert_true(get_int(fd, SOL_SOCKET, SO_SNDBUF) >= 1 << 20);
    }
    close(fd);
}

static void test_net_udp_open_makes_ipv6_sockets_v6only_with_recverr(void **state)
{
    (void)state;
    int port;
    int fd = open_ephemeral("[::1]:0", false, 0, &port);
    assert_int_equal(get_int(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
    assert_int_equal(get_int(fd, IPPROTO_IPV6, IPV6_RECVERR), 1);
    close(fd);
}

static void test_net_udp_open_shares_a_port_only_with_reuseport(void **state)
{
    (void)state;
    char addr[64];
    int port;
    int a = open_ephemeral("127.0.0.1:0", true, 0, &port);
    assert_int_equal(get_int(a, SOL_SOCKET, SO_REUSEPORT), 1);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);

    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(net_addr_parse(addr, &ss, &len), 0);
    int b = net_udp_open((struct sockaddr *)&ss, len, true, 0, 0);
    assert_true(b >= 0);
    assert_int_equal(net_udp_open((struct sockaddr *)&ss, len, false, 0, 0), -EADDRINUSE);
    close(a);
    close(b);

    int c = open_ephemeral("127.0.0.1:0", false, 0, &port);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    assert_int_equal(net_addr_parse(addr, &ss, &len), 0);
    assert_int_equal(net_udp_open((struct sockaddr *)&ss, len, true, 0, 0), -EADDRINUSE);
    close(c);
}

static void test_net_udp_open_rejects_bad_arguments(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(net_addr_parse("127.0.0.1:0", &ss, &len), 0);
    assert_int_equal(net_udp_open((struct sockaddr *)&ss, len - 1, false, 0, 0), -EINVAL);
    assert_int_equal(net_udp_open((struct sockaddr *)&ss, len, false, -1, 0), -EINVAL);
    struct sockaddr unknown = {.sa_family = AF_UNIX};
    assert_int_equal(net_udp_open(&unknown, sizeof(unknown), false, 0, 0), -EAFNOSUPPORT);
    /* 192.0.2.1 (TEST-NET-1) is not a local address. */
    assert_int_equal(net_addr_parse("192.0.2.1:0", &ss, &len), 0);
    assert_int_equal(net_udp_open((struct sockaddr *)&ss, len, false, 0, 0), -EADDRNOTAVAIL);
}

/* The IPv4 fast paths must agree with libc on every string and address. */
static void test_net_ipv4_fast_paths_agree_with_inet_pton_and_ntop(void **state)
{
    static const char *const inputs[] = {
        "0.0.0.0",   "1.2.3.4",         "255.255.255.255", "10.0.0.1", "01.2.3.4", "1.2.3.04",
        "256.1.1.1", "1.2.3",           "1.2.3.4.",        ".1.2.3.4", "1..2.3",   "1.2.3.4 ",
        " 1.2.3.4",  "1.2.3.1234",      "1.2.3.-1",        "a.b.c.d",  "1.2.3.4x", "",
        "1",         "999.999.999.999",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        struct in_addr want;
        int libc = inet_pton(AF_INET, inputs[i], &want) == 1;
        int ours = net_addr_from_ip(inputs[i], strlen(inputs[i]), 5060, &ss, &len) == 0 &&
                   ss.ss_family == AF_INET;
        if (libc != ours)
            fail_msg("'%s': inet_pton says %d, net_addr_from_ip says %d", inputs[i], libc, ours);
        if (ours)
            assert_memory_equal(&((struct sockaddr_in *)&ss)->sin_addr, &want, 4);
    }
    srand(7);
    for (int i = 0; i < 100000; i++) {
        struct sockaddr_in in = {.sin_family = AF_INET};
        in.sin_addr.s_addr = (uint32_t)rand() ^ ((uint32_t)rand() << 16);
        if (i < 256)
            in.sin_addr.s_addr = htonl((uint32_t)i * 0x01010101u); /* 0.0.0.0 .. 255.255.255.255 */
        char ours[64], libc[INET_ADDRSTRLEN];
        int n = net_addr_format_ip((struct sockaddr *)&in, ours, sizeof(ours));
        inet_ntop(AF_INET, &in.sin_addr, libc, sizeof(libc));
        assert_int_equal(n, (int)strlen(libc));
        assert_string_equal(ours, libc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_addr_parse_and_format_round_trip),
        cmocka_unit_test(test_net_ipv4_fast_paths_agree_with_inet_pton_and_ntop),
        cmocka_unit_test(test_net_addr_parse_rejects_malformed_and_hostnames),
        cmocka_unit_test(test_net_addr_from_ip_takes_a_span_and_checks_the_port),
        cmocka_unit_test(test_net_addr_format_reports_a_short_buffer),
        cmocka_unit_test(test_net_addr_equal_and_same_ip_compare_what_they_say),
        cmocka_unit_test(test_net_addr_sendable_refuses_what_a_reply_must_not_reach),
        cmocka_unit_test(test_net_udp_open_sets_nonblock_recverr_and_buffers_on_ipv4),
        cmocka_unit_test(test_net_udp_open_makes_ipv6_sockets_v6only_with_recverr),
        cmocka_unit_test(test_net_udp_open_shares_a_port_only_with_reuseport),
        cmocka_unit_test(test_net_udp_open_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
