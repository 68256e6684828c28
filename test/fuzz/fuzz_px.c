/*
 * fuzz_px.c - libFuzzer over the whole proxy: px_handle on any datagram, from
 * any of a few kinds of source, under one of a few configurations.
 *
 *   make fuzz-px                     (FUZZ_SECONDS=60; make test runs it briefly)
 *
 * Input: byte 0 picks the configuration, byte 1 the source address (the
 * table below: trusted prefix, strangers on IPv4 and IPv6, backends, our own
 * address, loopback, link-local), byte 2 moves the clock; the rest is the
 * datagram. Every output is checked against what must hold whatever came in:
 *   - at most NET_MAX_IOV iovecs, each inside the receive buffer or the tx
 *     scratch, 65,507 bytes in all (a UDP payload);
 *   - a destination that may be sent to, never one of viaduct's own sockets,
 *     never link-local unless it is where the datagram came from;
 *   - from an untrusted source under relay: reject or rules, only to a
 *     configured backend or back to the source (a local answer, STUN): a
 *     flow token or a Via tag would need the secret, which the fuzzer lacks;
 *   - no response is ever forwarded: it would need a Via tag of ours;
 *   - the copy to dst2 (a CANCEL fan-out) goes to a configured backend;
 *   - under the deny list with acl_403 (configuration 4), a refused source
 *     gets nothing but a 403 back to itself, never larger than what it sent
 *     unless it is trusted.
 * A violation aborts, so libFuzzer keeps the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/px.h"

#define NCFG 5

static const char *const env_common[] = {
    "VIADUCT_BACKENDS=203.0.113.12:5060,203.0.113.13:5060,[2001:db8::2]:5060",
    "VIADUCT_SECURITY_TRUSTED=198.51.100.0/24",
    "VIADUCT_SECRET=fuzz-secret-0123456789abcdef",
    "VIADUCT_RECORD_ROUTE=true",
    "VIADUCT_PATH=true",
};

#define LISTEN "VIADUCT_LISTEN=192.0.2.10:5060,[2001:db8::10]:5060"
static const char *const env_cfg[NCFG][3] = {
    {LISTEN, "VIADUCT_SECURITY_RELAY=reject", NULL},
    {LISTEN, "VIADUCT_SECURITY_RELAY=rules", NULL},
    {LISTEN, "VIADUCT_SECURITY_RELAY=open", NULL},
    {"VIADUCT_LISTEN=0.0.0.0:5060,[::]:5060", "VIADUCT_SECURITY_RELAY=reject",
     "VIADUCT_ADVERTISE=192.0.2.10:5060,[2001:db8::10]:5060"},
    {LISTEN, "VIADUCT_SECURITY_DENY=192.0.2.0/24,2001:db8::/32",
     "VIADUCT_SECURITY_ACL_403=true"},
};
#define CFG_ACL 4 /* refuses the sources in the prefixes it denies, answering 403 */

static const struct {
    const char *addr;
    bool trusted; /* a backend's address or in security.trusted */
    bool denied;  /* in configuration CFG_ACL's deny list */
} sources[] = {
    {"198.51.100.7:5060", true, false},  {"192.0.2.99:5062", false, true},
    {"[2001:db8::99]:5060", false, true}, {"203.0.113.12:5060", true, false},
    {"[2001:db8::2]:5060", true, true},  {"127.0.0.1:5060", false, false},
    {"192.0.2.10:5060", false, true},    {"169.254.1.1:5060", false, false},
    {"[fe80::1]:5060", false, false},
};
#define NSRC (sizeof(sources) / sizeof(sources[0]))

struct world {
    struct cfg c[NCFG];
    struct px_cfg px[NCFG];
    struct px_state ps;
    struct st_worker st;
    struct net_tx tx;
    struct sockaddr_storage src[NSRC];
    socklen_t srclen[NSRC];
    char rx[65536];
};

static struct world *w; /* libFuzzer's interface leaves no other place for it */

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_px: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char err[CFG_ERR_LEN];
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        die("out of memory", NULL);
    for (int i = 0; i < NCFG; i++) {
        char *envp[12];
        int n = 0;
        for (size_t k = 0; k < sizeof(env_common) / sizeof(env_common[0]); k++)
            envp[n++] = (char *)env_common[k];
        for (int k = 0; k < 3 && env_cfg[i][k] != NULL; k++)
            envp[n++] = (char *)env_cfg[i][k];
        envp[n] = NULL;
        cfg_defaults(&w->c[i]);
        if (cfg_apply_env(&w->c[i], envp, err, sizeof(err)) < 0 ||
            cfg_validate(&w->c[i], err, sizeof(err)) < 0 ||
            px_cfg_build(&w->px[i], &w->c[i], err, sizeof(err)) < 0)
            die("configuration", err);
    }
    for (size_t s = 0; s < NSRC; s++)
        if (net_addr_parse(sources[s].addr, &w->src[s], &w->srclen[s]) < 0)
            die("source", sources[s].addr);
    return 0;
}

static bool inside(const void *p, size_t n, const void *base, size_t cap)
{
    const char *a = p, *b = base;
    return a >= b && n <= cap && (size_t)(a - b) <= cap - n;
}

static bool same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
    return net_addr_same_ip(a, b);
}

static void check_dest(const struct px_cfg *px, const struct sockaddr *d, socklen_t len,
                       const struct sockaddr *src, bool restricted, const char *which)
{
    char a[80];
    const struct px_backend_ref *r;
    net_addr_format(d, a, sizeof(a));
    if (len == 0 || len > sizeof(struct sockaddr_storage))
        die("no destination", which);
    if (!net_addr_sendable(d))
        die("a destination that may not be sent to", a);
    if (px_addr_is_self(px, d))
        die("a datagram to one of our own sockets", a);
    bool backend = px_backends_at(px, d, &r) > 0;
    if (same_ip(d, src)) /* an answer to where the datagram came from: not named by it */
        return;
    if (d->sa_family == AF_INET) {
        const uint8_t *ip =
            (const uint8_t *)&((const struct sockaddr_in *)(const void *)d)->sin_addr;
        if (ip[0] == 169 && ip[1] == 254 && !backend)
            die("a link-local destination", a);
    } else {
        const uint8_t *ip = ((const struct sockaddr_in6 *)(const void *)d)->sin6_addr.s6_addr;
        if (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80 && !backend)
            die("a link-local destination", a);
    }
    if (restricted && !backend)
        die("relayed for an untrusted source to", a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int ci = data[0] % NCFG;
    size_t si = data[1] % NSRC;
    const struct px_cfg *px = &w->px[ci];
    size_t len = size - 3 < sizeof(w->rx) ? size - 3 : sizeof(w->rx);
    memcpy(w->rx, data + 3, len);
    const struct sockaddr *src = (const struct sockaddr *)&w->src[si];
    struct net_rx rx = {.buf = w->rx, .len = len, .src = src, .srclen = w->srclen[si]};
    int64_t now_ms = 86400000 + (int64_t)data[2] * 1000;
    px_handle(px, &w->ps, &w->st, &rx, &w->tx, now_ms, now_ms * 1000);

    const struct net_tx *tx = &w->tx;
    if (tx->niov < 0 || tx->niov > NET_MAX_IOV)
        die("iovec count out of range", NULL);
    if (tx->niov == 0)
        return 0;
    size_t total = 0;
    for (int i = 0; i < tx->niov; i++) {
        const struct iovec *v = &tx->iov[i];
        if (!inside(v->iov_base, v->iov_len, w->rx, len) &&
            !inside(v->iov_base, v->iov_len, tx->scratch, sizeof(tx->scratch)))
            die("an iovec outside the datagram and the scratch", NULL);
        total += v->iov_len;
    }
    if (total > 65507)
        die("more than a UDP payload", NULL);
    size_t k = 0; /* empty lines before a start line are skipped (RFC 3261 7.5) */
    while (k < len && (w->rx[k] == '\r' || w->rx[k] == '\n'))
        k++;
    if (len - k >= 4 && memcmp(w->rx + k, "SIP/", 4) == 0)
        die("a response forwarded without a Via tag of ours", NULL);
    if (ci == CFG_ACL && sources[si].denied) {
        const struct iovec *v = &tx->iov[0];
        if (v->iov_len < 12 || memcmp(v->iov_base, "SIP/2.0 403 ", 12) != 0)
            die("a refused source got something other than a 403", NULL);
        if (!same_ip((const struct sockaddr *)&tx->dst, src))
            die("a refused source's 403 went elsewhere", NULL);
        if (!sources[si].trusted && total > len)
            die("a refused source's 403 is larger than its request", NULL);
    }
    bool restricted = !sources[si].trusted && w->c[ci].security.relay != CFG_RELAY_OPEN;
    check_dest(px, (const struct sockaddr *)&tx->dst, tx->dstlen, src, restricted, "dst");
    if (tx->dst2len > 0) {
        const struct px_backend_ref *r;
        check_dest(px, (const struct sockaddr *)&tx->dst2, tx->dst2len, src, restricted, "dst2");
        if (px_backends_at(px, (const struct sockaddr *)&tx->dst2, &r) == 0)
            die("a CANCEL fan-out to something other than a backend", NULL);
    }
    return 0;
}
