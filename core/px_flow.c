/*
 * px_flow.c - flow tokens (after RFC 5626 §5.2): the address a client's
 * REGISTER came from, written into the user part of the Path URI viaduct
 * inserts, so that a request the registrar later sends through that Path
 * reaches the client's NAT binding with nothing stored here. The token ends
 * in a keyed check so a damaged or made-up token is not followed. It is an
 * integrity check, not a secret: a Route naming an IP literal is followed
 * anyway.
 *
 *   "vdf-" "4" ADDR(8 hex) PORT(4 hex) CHECK(8 hex): 198.51.100.7:5060 is
 *   vdf-4c633640713c4 and its check; "vdf-" "6" ADDR(32 hex) ... for IPv6
 */
#include "core/px_internal.h"

#include <xxhash.h>

#define FLOW_PREFIX "vdf-"

static uint32_t flow_check(const uint8_t *addr, size_t n, unsigned port, uint64_t key)
{
    uint8_t buf[18];
    memcpy(buf, addr, n);
    buf[n] = (uint8_t)(port >> 8);
    buf[n + 1] = (uint8_t)port;
    return (uint32_t)XXH3_64bits_withSeed(buf, n + 2, key ^ 0x666c6f77u); /* "flow" */
}

void px_flow_write(struct px_out *o, const struct sockaddr *sa, uint64_t key)
{
    const uint8_t *a;
    size_t n;
    char fam;
    if (sa->sa_family == AF_INET6) {
        a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        n = 16;
        fam = '6';
    } else {
        a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        n = 4;
        fam = '4';
    }
    unsigned port = (unsigned)net_addr_port(sa);
    PX_LIT(o, FLOW_PREFIX);
    px_out_bytes(o, &fam, 1);
    for (size_t i = 0; i < n; i++)
        px_out_hex(o, a[i], 2);
    px_out_hex(o, port, 4);
    px_out_hex(o, flow_check(a, n, port, key), 8);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads n bytes of hex at p into out; false on a non-hex digit. */
static bool unhex(const char *p, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool px_flow_read(struct span user, uint64_t key, struct sockaddr_storage *ss, socklen_t *len)
{
    const size_t plen = sizeof(FLOW_PREFIX) - 1;
    if (user.len < plen + 1 || memcmp(user.p, FLOW_PREFIX, plen) != 0)
        return false;
    size_t n = user.p[plen] == '6' ? 16 : user.p[plen] == '4' ? 4 : 0;
    if (n == 0 || user.len != plen + 1 + 2 * n + 4 + 8)
        return false;
    uint8_t addr[16], port[2], check[4];
    const char *h = user.p + plen + 1;
    if (!unhex(h, n, addr) || !unhex(h + 2 * n, 2, port) || !unhex(h + 2 * n + 4, 4, check))
        return false;
    unsigned p = (unsigned)port[0] << 8 | port[1];
    uint32_t want = flow_check(addr, n, p, key);
    if (((uint32_t)check[0] << 24 | (uint32_t)check[1] << 16 | (uint32_t)check[2] << 8 |
         check[3]) != want ||
        p == 0)
        return false;
    memset(ss, 0, sizeof(*ss));
    if (n == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, addr, 4);
        in->sin_port = htons((uint16_t)p);
        *len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, addr, 16);
        in6->sin6_port = htons((uint16_t)p);
        *len = sizeof(*in6);
    }
    return true;
}
