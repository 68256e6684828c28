/*
 * addr.c - IPv4/IPv6 socket address helpers: parse "ip:port" and
 * "[ip]:port", format them back (brackets for IPv6 only), compare, and decide whether an address may
 * receive a reply at all.
 *
 * Only IP literals are accepted: net/ never resolves names (a resolver would
 * block the worker thread). Unknown address families give -EAFNOSUPPORT from
 * the functions that return an int and false from the predicates.
 */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* "65535": digits only, at most 5 of them, value <= 65535. -1 if not. */
static int port_parse(const char *s, size_t len)
{
    if (len == 0 || len > 5)
        return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 65535 ? v : -1;
}

/*
 * Dotted-quad IPv4 as inet_pton accepts it (four decimal octets, no leading
 * zeros), without the copy to a C string and the libc call: the forwarder
 * converts a Via address for nearly every datagram.
 */
static bool parse_ipv4(const char *p, size_t n, uint32_t *out)
{
    const char *end = p + n;
    uint32_t a = 0;
    for (int i = 0; i < 4; i++) {
        const char *d = p;
        unsigned v = 0;
        while (p < end && *p >= '0' && *p <= '9' && p - d < 3)
            v = v * 10 + (unsigned)(*p++ - '0');
        if (p == d || v > 255 || (p - d > 1 && *d == '0'))
            return false;
        a = a << 8 | v;
        if (i < 3) {
            if (p == end || *p != '.')
                return false;
            p++;
        }
    }
    *out = htonl(a);
    return p == end;
}

int net_addr_from_ip(const char *ip, size_t iplen, int port, struct sockaddr_storage *ss,
                     socklen_t *len)
{
    char tmp[INET6_ADDRSTRLEN];
    uint32_t a4;

    if (ip != NULL && port >= 0 && port <= 65535 && parse_ipv4(ip, iplen, &a4)) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        memset(in, 0, sizeof(*in));
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        in->sin_addr.s_addr = a4;
        *len = sizeof(*in);
        return 0;
    }

    if (ip == NULL || iplen == 0 || iplen >= sizeof(tmp) || port < 0 || port > 65535)
        return -EINVAL;
    memcpy(tmp, ip, iplen);
    tmp[iplen] = '\0';
    if (memchr(tmp, '\0', iplen) != NULL)
        return -EINVAL;

    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, tmp, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *len = sizeof(*in);
        return 0;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET6, tmp, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*in6);
        return 0;
    }
    return -EINVAL;
}

int net_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    if (s == NULL)
        return -EINVAL;
    size_t n = strlen(s);
    const char *ip, *colon;
    size_t iplen;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL || close[1] != ':')
            return -EINVAL;
        ip = s + 1;
        iplen = (size_t)(close - ip);
        colon = close + 1;
        /* Brackets around IPv4 too ("[10.0.0.5]:5060", read as 10.0.0.5:5060):
         * a template that pastes an address it cannot see, Kubernetes'
         * "[$(POD_IP)]:5060", must work for both families, and an unbracketed
         * IPv6 address is ambiguous. Inside them, an IP literal and nothing
         * else: net_addr_from_ip refuses a name. */
    } else {
        colon = memrchr(s, ':', n);
        if (colon == NULL)
            return -EINVAL;
        ip = s;
        iplen = (size_t)(colon - s);
        /* A bare IPv6 address ("::1:5060") is ambiguous: brackets required. */
        if (memchr(ip, ':', iplen) != NULL)
            return -EINVAL;
    }
    int port = port_parse(colon + 1, n - (size_t)(colon + 1 - s));
    if (port < 0)
        return -EINVAL;
    return net_addr_from_ip(ip, iplen, port, ss, len);
}

int net_addr_format_ip(const struct sockaddr *sa, char *buf, size_t len)
{
    const void *a;

    if (sa->sa_family == AF_INET && len >= 16) {
        /* by hand: inet_ntop goes through sprintf, ~20x the cost */
        const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        size_t n = 0;
        for (int i = 0; i < 4; i++) {
            unsigned v = b[i];
            if (v >= 100)
                buf[n++] = (char)('0' + v / 100);
            if (v >= 10)
                buf[n++] = (char)('0' + v / 10 % 10);
            buf[n++] = (char)('0' + v % 10);
            buf[n++] = i < 3 ? '.' : '\0';
        }
        return (int)n - 1;
    }
    if (sa->sa_family == AF_INET)
        a = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    else
        return -EAFNOSUPPORT;
    char tmp[INET6_ADDRSTRLEN];
    if (inet_ntop(sa->sa_family, a, tmp, sizeof(tmp)) == NULL)
        return -errno;
    size_t n = strlen(tmp);
    if (n >= len)
        return -ENOSPC;
    memcpy(buf, tmp, n + 1);
    return (int)n;
}

int net_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    int r = net_addr_format_ip(sa, ip, sizeof(ip));
    if (r < 0)
        return r;
    const char *fmt = sa->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d";
    int n = snprintf(buf, len, fmt, ip, net_addr_port(sa));
    if (n < 0 || (size_t)n >= len)
        return -ENOSPC;
    return n;
}

int net_addr_len_ok(const struct sockaddr *sa, socklen_t len)
{
    socklen_t need;
    if (sa->sa_family == AF_INET)
        need = sizeof(struct sockaddr_in);
    else if (sa->sa_family == AF_INET6)
        need = sizeof(struct sockaddr_in6);
    else
        return -EAFNOSUPPORT;
    return len < need ? -EINVAL : 0;
}

int net_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return -EAFNOSUPPORT;
}

bool net_addr_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->sa_family == AF_INET6)
        return IN6_ARE_ADDR_EQUAL(&((const struct sockaddr_in6 *)a)->sin6_addr,
                                  &((const struct sockaddr_in6 *)b)->sin6_addr);
    return false;
}

bool net_addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
    return net_addr_same_ip(a, b) && net_addr_port(a) == net_addr_port(b);
}

/* IPv4 rules on a host-order address. */
static bool v4_sendable(uint32_t a)
{
    if (a == INADDR_ANY || a == INADDR_BROADCAST)
        return false;
    return (a & 0xf0000000u) != 0xe0000000u; /* 224.0.0.0/4 multicast */
}

bool net_addr_sendable(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return in->sin_port != 0 && v4_sendable(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const struct in6_addr *a = &in6->sin6_addr;
        if (in6->sin6_port == 0 || IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_MULTICAST(a))
            return false;
        /* ::ffff:a.b.c.d carries an IPv4 address: the IPv4 rules apply. */
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            uint32_t v4;
            memcpy(&v4, &a->s6_addr[12], sizeof(v4));
            return v4_sendable(ntohl(v4));
        }
        return true;
    }
    return false;
}
