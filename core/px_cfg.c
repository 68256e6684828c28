/*
 * px_cfg.c - turning flag strings into the proxy's addresses: listen,
 * advertise, alias. Start-up code: may use C strings and snprintf.
 */
#include "core/px.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "HOST:PORT" or "[v6]:PORT" into host/port; 0 or -1. */
static int parse_hostport(const char *s, char *host, size_t cap, size_t *host_len, int *port,
                          bool *ip6)
{
    const char *colon = strrchr(s, ':');
    const char *h = s, *hend = colon;
    char *end;
    if (colon == NULL || colon[1] == '\0')
        return -1;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535)
        return -1;
    *ip6 = false;
    if (*s == '[') {
        if (colon == s || colon[-1] != ']')
            return -1;
        h = s + 1;
        hend = colon - 1;
        *ip6 = true;
    } else if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
        return -1; /* an IPv6 literal needs brackets */
    }
    if (hend <= h || (size_t)(hend - h) >= cap)
        return -1;
    memcpy(host, h, (size_t)(hend - h));
    *host_len = (size_t)(hend - h);
    *port = (int)p;
    return 0;
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)ss)->sin_addr.s_addr == 0;
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr);
}

int px_listen_init(struct px_listen *l, const char *listen, const char *advertise, char *err,
                   size_t errlen)
{
    char buf[80];
    memset(l, 0, sizeof(*l));
    if (net_addr_parse(listen, &l->addr, &l->addrlen) < 0) {
        snprintf(err, errlen, "bad --listen address '%s' (want IP:PORT or [IPv6]:PORT)", listen);
        return -1;
    }
    int n = net_addr_format_ip((const struct sockaddr *)&l->addr, l->ip, sizeof(l->ip));
    l->ip_len = n > 0 ? (size_t)n : 0;
    if (advertise == NULL) {
        if (is_wildcard(&l->addr)) {
            snprintf(err, errlen, "--listen %s is a wildcard address: give --advertise HOST:PORT",
                     listen);
            return -1;
        }
        net_addr_format((const struct sockaddr *)&l->addr, buf, sizeof(buf));
        advertise = buf;
    }
    if (parse_hostport(advertise, l->host, sizeof(l->host), &l->host_len, &l->port,
                       &l->host_is_ip6) < 0) {
        snprintf(err, errlen, "bad --advertise '%s' (want HOST:PORT or [IPv6]:PORT)", advertise);
        return -1;
    }
    return 0;
}

int px_alias_init(struct px_alias *a, const char *s)
{
    char buf[PX_HOST_MAX + 8];
    bool ip6;
    /* a bare HOST means port 5060 */
    size_t n = strlen(s);
    if (strchr(s, ':') == NULL || (n > 0 && s[0] == '[' && s[n - 1] == ']')) {
        if (snprintf(buf, sizeof(buf), "%s:5060", s) >= (int)sizeof(buf))
            return -1;
        s = buf;
    }
    return parse_hostport(s, a->host, sizeof(a->host), &a->host_len, &a->port, &ip6);
}
