/*
 * vb_spray.c - viaduct-bench spray: out-of-dialog requests from random
 * (spoofed) IPv4 source addresses, the flood that per-source rate limits
 * cannot stop by themselves (bench/flood.sh, the spray case).
 *
 *   viaduct-bench spray --prefix 127.128.0.0/9 --rate 0 --duration 10
 *
 * One raw socket (IPPROTO_RAW: we write the IPv4 and UDP headers, so each
 * datagram may carry any source address) and sendmmsg. Every datagram is a
 * new transaction (its own Call-ID and branch) from a source drawn at random
 * in the prefix, or from a pool of --sources addresses, Via and Contact
 * naming that source and --port, so viaduct's answers go back to it. Needs
 * CAP_NET_RAW: run it inside the private network namespace, where root (or
 * the user namespace's root) has it. The answers are sunk: a socket bound to
 * 0.0.0.0:PORT with a small buffer that is never read takes them (inside
 * 127/8 every spoofed address is local) and the kernel drops them when it is
 * full, silently, as a network would; without it each answer would come back
 * to viaduct as a port unreachable, a cost a real spray does not cause. The
 * UDP checksum is left 0 (none, allowed over IPv4); the kernel fills the IP
 * checksum.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/vb_cli.h"
#include "bench/vb_match.h"
#include "bench/vb_sip.h"
#include "bench/vb_spray.h"

#define SPRAY_MAX_BATCH 256
#define SPRAY_DGRAM 1400 /* one INVITE with its SDP fits */

struct spray_cfg {
    struct sockaddr_in target;
    uint32_t base, span; /* host order: addresses base .. base + span - 1 */
    uint64_t sources;    /* 0: every datagram a random address of the span */
    uint16_t port;       /* source port of every datagram, and of the sink */
    int method;
    double rate, duration;
    unsigned batch;
    uint32_t run_id;
};

static uint64_t xs64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The source of datagram i: random in the span, or one of a fixed pool
 * (pool member j is a fixed scramble of j, so the pool is the same all run). */
static uint32_t pick_source(const struct spray_cfg *c, uint64_t *rng)
{
    uint64_t r = xs64(rng);
    if (c->sources) {
        uint64_t j = r % c->sources;
        r = (j + 1) * 0x9e3779b97f4a7c15ull;
        r ^= r >> 29;
    }
    return c->base + (uint32_t)(r % c->span);
}

/* Writes one request from src into p[cap] behind its IPv4 and UDP headers.
 * Returns the datagram's length, or -1 if it did not fit. */
static int build(const struct spray_cfg *c, uint64_t n, uint32_t src, char *p, size_t cap)
{
    char ip[INET_ADDRSTRLEN], local[INET_ADDRSTRLEN + 8], cid[48], u[24];
    struct in_addr a = {htonl(src)};
    inet_ntop(AF_INET, &a, ip, sizeof(ip));
    int ll = snprintf(local, sizeof(local), "%s:%u", ip, (unsigned)c->port);
    int cl = snprintf(cid, sizeof(cid), "spray-%08x-%llx@%s", c->run_id, (unsigned long long)n, ip);
    int ul = snprintf(u, sizeof(u), "s%llu", (unsigned long long)(n % 100000));
    struct vb_req r = {
        .method = c->method,
        .user = {u, (size_t)ul},
        .from_user = {u, (size_t)ul},
        .domain = SPAN_LIT("example.com"),
        .local = {local, (size_t)ll},
        .branch_id = ((uint64_t)c->run_id << 32) ^ n,
        .callid = {cid, (size_t)cl},
        .from_tag = n * 0x9e3779b97f4a7c15ull,
        .cseq = 1,
        .expires = 3600,
        .body = c->method == SIP_M_INVITE,
    };
    size_t hl = sizeof(struct iphdr) + sizeof(struct udphdr);
    struct vb_buf b = vb_buf_make(p + hl, cap - hl);
    int len = vb_req_write(&b, &r);
    if (len < 0)
        return -1;
    struct iphdr *iph = (struct iphdr *)p;
    struct udphdr *uh = (struct udphdr *)(p + sizeof(*iph));
    memset(iph, 0, sizeof(*iph));
    iph->version = 4;
    iph->ihl = 5;
    iph->ttl = 64;
    iph->protocol = IPPROTO_UDP;
    iph->tot_len = htons((uint16_t)(hl + (size_t)len));
    iph->saddr = a.s_addr;
    iph->daddr = c->target.sin_addr.s_addr;
    uh->source = htons(c->port);
    uh->dest = c->target.sin_port;
    uh->len = htons((uint16_t)(sizeof(*uh) + (size_t)len));
    uh->check = 0;
    return (int)(hl + (size_t)len);
}

static int spray_run(const struct spray_cfg *c)
{
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) {
        fprintf(stderr, "viaduct-bench spray: raw socket: %s (needs CAP_NET_RAW)\n",
                strerror(errno));
        return 1;
    }
    int sink = socket(AF_INET, SOCK_DGRAM, 0), small = 4096;
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(c->port)};
    if (sink < 0 || setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) < 0 ||
        bind(sink, (struct sockaddr *)&any, sizeof(any)) < 0) {
        fprintf(stderr, "viaduct-bench spray: cannot sink answers on 0.0.0.0:%u: %s\n",
                (unsigned)c->port, strerror(errno));
        close(fd);
        return 1;
    }
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    static char bufs[SPRAY_MAX_BATCH][SPRAY_DGRAM];
    struct mmsghdr mm[SPRAY_MAX_BATCH];
    struct iovec iov[SPRAY_MAX_BATCH];
    uint64_t rng = vb_now_ns() | 1, n = 0, sent = 0, errors = 0;
    uint64_t t0 = vb_now_ns(), end = t0 + (uint64_t)(c->duration * 1e9), now = t0;
    while ((now = vb_now_ns()) < end) {
        unsigned k = c->batch;
        if (c->rate > 0) {
            /* paced: send what is due by now, at most a batch; sleep otherwise */
            double due = (double)(now - t0) / 1e9 * c->rate - (double)n;
            if (due < 1) {
                struct timespec ts = {0, 100000};
                nanosleep(&ts, NULL);
                continue;
            }
            if (due < k)
                k = (unsigned)due;
        }
        for (unsigned i = 0; i < k; i++) {
            int len = build(c, n + i, pick_source(c, &rng), bufs[i], sizeof(bufs[i]));
            if (len < 0) {
                fprintf(stderr, "viaduct-bench spray: a request did not fit\n");
                close(fd);
                close(sink);
                return 1;
            }
            iov[i] = (struct iovec){bufs[i], (size_t)len};
            mm[i].msg_hdr = (struct msghdr){.msg_name = (void *)&c->target,
                                            .msg_namelen = sizeof(c->target),
                                            .msg_iov = &iov[i],
                                            .msg_iovlen = 1};
        }
        n += k;
        int r = sendmmsg(fd, mm, k, 0);
        if (r < 0) {
            errors += k;
            continue;
        }
        sent += (unsigned)r;
        errors += k - (unsigned)r;
    }
    close(fd);
    close(sink);
    double s = (double)(now - t0) / 1e9;
    char pfx[INET_ADDRSTRLEN];
    struct in_addr a = {htonl(c->base)};
    inet_ntop(AF_INET, &a, pfx, sizeof(pfx));
    printf("spray: %s from %s + %u addresses (%s), rate %s: %llu requests in %.2f s = %.0f/s; "
           "send errors %llu\n",
           c->method == SIP_M_INVITE ? "INVITE" : c->method == SIP_M_REGISTER ? "REGISTER" : "OPTIONS",
           pfx, c->span,
           c->sources ? "a fixed pool" : "random each", c->rate > 0 ? "paced" : "unpaced",
           (unsigned long long)sent, s, s > 0 ? (double)sent / s : 0.0,
           (unsigned long long)errors);
    return 0;
}

int vb_spray_main(int argc, char **argv)
{
    const char *target = "127.0.0.1:5060", *prefix = "127.128.0.0/9", *method = "INVITE";
    long sources = 0, batch = 32, cpu = -1, port = 5999;
    struct spray_cfg c = {.rate = 0, .duration = 10};
    const struct vb_opt opts[] = {
        {"target", VB_OPT_STR, &target, 0, 0, "IP:PORT", "the system under test (127.0.0.1:5060)"},
        {"prefix", VB_OPT_STR, &prefix, 0, 0, "A.B.C.D/LEN",
         "source addresses drawn from here (127.128.0.0/9)"},
        {"sources", VB_OPT_INT, &sources, 0, 1e9, "N",
         "a pool of N addresses of the prefix; 0: a random one per request (0)"},
        {"port", VB_OPT_INT, &port, 1, 65535, "P",
         "source port, and the sink of the answers on 0.0.0.0 (5999)"},
        {"method", VB_OPT_STR, &method, 0, 0, "M", "INVITE | REGISTER | OPTIONS (INVITE)"},
        {"rate", VB_OPT_DOUBLE, &c.rate, 0, 1e8, "R", "requests per second; 0: unpaced (0)"},
        {"duration", VB_OPT_DOUBLE, &c.duration, 0.01, 3600, "S", "seconds of offering (10)"},
        {"batch", VB_OPT_INT, &batch, 1, SPRAY_MAX_BATCH, "N", "datagrams per sendmmsg (32)"},
        {"cpu", VB_OPT_INT, &cpu, -1, 4095, "C", "pin to CPU C (-1: not pinned)"},
        VB_OPT_END,
    };
    static const char summary[] =
        "Sends out-of-dialog requests from random spoofed IPv4 sources (a raw socket:\n"
        "needs CAP_NET_RAW, so run it in a private network namespace) and reports how\n"
        "many it sent. Answers to the spoofed addresses are sunk unread on 0.0.0.0:PORT.";
    if (vb_opts_parse("spray", summary, opts, argc, argv) < 0)
        return 2;
    char ip[INET_ADDRSTRLEN];
    unsigned tport = 0, len = 0;
    char tip[INET_ADDRSTRLEN];
    struct in_addr a;
    if (sscanf(target, "%15[0-9.]:%u", tip, &tport) != 2 || tport == 0 || tport > 65535 ||
        inet_pton(AF_INET, tip, &c.target.sin_addr) != 1) {
        fprintf(stderr, "viaduct-bench spray: bad --target '%s' (IPv4:PORT)\n", target);
        return 2;
    }
    c.target.sin_family = AF_INET;
    c.target.sin_port = htons((uint16_t)tport);
    if (sscanf(prefix, "%15[0-9.]/%u", ip, &len) != 2 || len < 8 || len > 32 ||
        inet_pton(AF_INET, ip, &a) != 1) {
        fprintf(stderr, "viaduct-bench spray: bad --prefix '%s' (A.B.C.D/LEN, LEN 8..32)\n",
                prefix);
        return 2;
    }
    uint32_t mask = len == 32 ? ~0u : ~(~0u >> len);
    c.base = ntohl(a.s_addr) & mask;
    c.span = ~mask + 1u; /* LEN >= 8: no wrap */
    if (strcmp(method, "INVITE") == 0)
        c.method = SIP_M_INVITE;
    else if (strcmp(method, "REGISTER") == 0)
        c.method = SIP_M_REGISTER;
    else if (strcmp(method, "OPTIONS") == 0)
        c.method = SIP_M_OPTIONS;
    else {
        fprintf(stderr, "viaduct-bench spray: bad --method '%s'\n", method);
        return 2;
    }
    c.sources = (uint64_t)sources;
    c.batch = (unsigned)batch;
    c.port = (uint16_t)port;
    c.run_id = (uint32_t)(vb_now_ns() >> 10);
    if (vb_pin_self((int)cpu) < 0) {
        fprintf(stderr, "viaduct-bench spray: cannot pin to CPU %ld\n", cpu);
        return 2;
    }
    return spray_run(&c);
}
