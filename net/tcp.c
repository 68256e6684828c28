/*
 * tcp.c - opening the TCP listening sockets the io_uring engine accepts on.
 *
 * As udp.c: non-blocking, close-on-exec, IPv6 ones IPv6-only (an IPv4 listener is a socket
 * of its own), SO_REUSEPORT when asked so that each worker has its own listening socket and
 * the kernel spreads new connections over them, with no lock or hand-off between workers.
 */
#include "net/net.h"

#include <errno.h>
#include <unistd.h>

static int set_int(int fd, int level, int name, int v)
{
    return setsockopt(fd, level, name, &v, sizeof(v)) == 0 ? 0 : -errno;
}

int net_tcp_listen(const struct sockaddr *sa, socklen_t len, bool reuseport, int backlog)
{
    if (sa == NULL || backlog < 1)
        return -EINVAL;
    int err = net_addr_len_ok(sa, len);
    if (err != 0)
        return err;

    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return -errno;
    int r = 0;
    if (sa->sa_family == AF_INET6)
        r = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    /* a restarted viaduct binds again at once, over its old connections in TIME_WAIT */
    if (r == 0)
        r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (r == 0 && reuseport)
        r = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (r == 0 && bind(fd, sa, len) != 0)
        r = -errno;
    if (r == 0 && listen(fd, backlog) != 0)
        r = -errno;
    if (r != 0) {
        close(fd);
        return r;
    }
    return fd;
}
