/*
 * udp.c - opening the UDP sockets the engines run on.
 *
 * Every socket is non-blocking (the engines never block in a socket call),
 * close-on-exec, IPv6 ones are IPv6-only (an IPv4 listener is a socket of its
 * own, so a v4-mapped source never reaches the handler), and IP_RECVERR is on
 * so an ICMP error fails later sends and lands on the error queue, which the
 * engines drain (engine.h), instead of vanishing.
 */
#include "net/net.h"

#include <errno.h>
#include <unistd.h>

static int set_int(int fd, int level, int name, int v)
{
    return setsockopt(fd, level, name, &v, sizeof(v)) == 0 ? 0 : -errno;
}

/* SO_*BUFFORCE passes net.core.[rw]mem_max but needs CAP_NET_ADMIN; without
 * it the plain option is silently capped at the sysctl, which is the best an
 * unprivileged process can get. */
static int set_buf(int fd, int force, int plain, int size)
{
    if (size <= 0)
        return 0;
    if (set_int(fd, SOL_SOCKET, force, size) == 0)
        return 0;
    return set_int(fd, SOL_SOCKET, plain, size);
}

int net_udp_open(const struct sockaddr *sa, socklen_t len, bool reuseport, int rcvbuf, int sndbuf)
{
    if (sa == NULL || rcvbuf < 0 || sndbuf < 0)
        return -EINVAL;
    int err = net_addr_len_ok(sa, len);
    if (err != 0)
        return err;

    int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0)
        return -errno;

    int r;
    if (sa->sa_family == AF_INET6) {
        r = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
        if (r == 0)
            r = set_int(fd, IPPROTO_IPV6, IPV6_RECVERR, 1);
    } else {
        r = set_int(fd, IPPROTO_IP, IP_RECVERR, 1);
    }
    if (r == 0 && reuseport)
        r = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (r == 0)
        r = set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf);
    if (r == 0)
        r = set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf);
    if (r == 0 && bind(fd, sa, len) != 0)
        r = -errno;
    if (r != 0) {
        close(fd);
        return r;
    }
    return fd;
}
