/*
 * stats.h - per-worker counters, each declared once with its help text in
 * an X-macro list (G15), with dimensions: global counters, local responses
 * by code, drops by reason, requests by method, parse errors by reason, and
 * per backend (requests sent, responses by class, ICMP errors, resends).
 *
 * Each worker owns one struct st_worker and is its only writer, so an
 * increment is a relaxed load and store (plain moves on x86), never a locked
 * instruction. Readers (SIGUSR1, exit, the management API) take one
 * snapshot that sums the workers' copies with relaxed loads (st_snapshot);
 * a sum may be a few packets stale.
 *
 * A backend's counters live in a slot (0..ST_MAX_BACKENDS-1) that stays the
 * backend's across reloads (px_cfg_carry_health keeps it by pool and
 * backend name), so its counters only ever grow; a slot is never given to
 * another backend, and backends beyond ST_MAX_BACKENDS distinct ones in a
 * process's life get none (ST_NO_SLOT: counted nowhere, logged once).
 */
#ifndef VIADUCT_STATS_H
#define VIADUCT_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "parser/sip.h"

/* Counters of their own: name, help. */
#define ST_COUNTERS(X)                                                                             \
    X(rx_datagrams, "datagrams received")                                                          \
    X(rx_keepalive, "CRLF keep-alives received (RFC 5626 3.5.1)")                                  \
    X(rx_stun, "STUN messages received")                                                           \
    X(rx_requests, "SIP requests received")                                                        \
    X(rx_responses, "SIP responses received")                                                      \
    X(fwd_requests, "requests forwarded")                                                          \
    X(fwd_responses, "responses forwarded")                                                        \
    X(fwd_fanout, "CANCELs or ACKs also sent to where their INVITE may be")                        \
    X(fwd_rebind, "AOR-keyed requests sent to the fallback of a backend back up within "           \
                  "registration_interval")                                                   \
    X(stun_responses, "STUN Binding responses sent")                                               \
    X(tx_lost, "sends that failed for good: the datagram was not sent")                            \
    X(tx_retried, "sends failed with another datagram's ICMP error and sent again")                \
    X(icmp_backend, "ICMP errors for datagrams sent to a backend")                                 \
    X(icmp_client, "ICMP errors for datagrams sent to anyone else")                                \
    X(icmp_other, "local errors for a datagram, and error-queue entries with no address")          \
    X(backend_holddowns, "ICMP errors that started a backend's hold-down")                         \
    X(rx_enobufs, "times the io_uring engine ran out of receive buffers")                          \
    X(rx_errors, "receives that completed with an error")                                          \
    X(tx_dropped, "replies that found no submission slot")                                       \
    X(latency_implausible, "responses whose send-time Via parameter was mangled, forged, "         \
                           "negative or over 30 s: not measured")                        \
    X(guard_shared, "requests or answers of a source charged to a shared overflow bucket")         \
    X(acl_answered, "requests the listener's allow or deny list refused, answered 403 (acl_403)")   \
    X(overload_episodes, "times a worker began shedding new requests (its buffers filled)")       \
    X(no_route, "requests that matched no rule, with no default pool: answered 404, ACKs dropped") \
    X(tcp_accepted, "TCP connections accepted")                                                   \
    X(tcp_refused, "TCP connections closed at accept: the worker's connection table was full")    \
    X(tcp_refused_source, "TCP connections closed at accept: tcp.max_per_source from that IP")    \
    X(tcp_refused_acl, "TCP connections closed at accept: the listener's allow or deny list")    \
    X(tcp_accept_paused, "times accept failed for want of file descriptors or memory (EMFILE, "  \
                         "ENFILE): accepting paused for 100 ms, connections wait in the backlog") \
    X(tcp_closed_peer, "TCP connections the peer closed or reset")                                \
    X(tcp_closed_idle, "TCP connections closed after tcp.idle_timeout_ms with nothing received")  \
    X(tcp_closed_slow, "TCP connections closed: a message not complete in tcp.message_timeout_ms") \
    X(tcp_closed_full, "TCP connections closed: tcp.buffer bytes buffered, no message complete")  \
    X(tcp_closed_write, "TCP connections closed: a peer that does not read (tcp.buffer waiting)") \
    X(tcp_closed_framing, "TCP connections closed: no Content-Length, a bad one, or over the "    \
                          "size limit (the stream cannot be framed)")                              \
    X(tcp_messages, "SIP messages received over TCP")                                            \
    X(tcp_pings, "RFC 5626 CRLF CRLF keep-alive pings received on TCP, answered with a CRLF")     \
    X(tcp_conn_gone, "responses for a TCP connection that has closed: dropped")                   \
    X(tcp_other_worker, "responses for another worker's TCP connection: dropped (no hand-off)")

/* Datagrams dropped without an answer, by reason: name, help. */
#define ST_DROPS(X)                                                                                \
    X(too_large, "over the size limit, and no Via to answer on")                                   \
    X(unreadable_via, "broken request whose top Via cannot be read")                               \
    X(bad_response, "response that does not parse")                                               \
    X(not_our_via, "response whose top Via is not ours (RFC 3261 18.1.2)")                         \
    X(forged_via, "response whose top Via names viaduct but whose tag does not verify")           \
    X(no_next_via, "response with no Via left after ours")                                         \
    X(unresolvable, "next hop is a hostname that did not resolve (answered 503), or a Via's")       \
    X(name_pending, "next hop is a hostname not cached yet: looked up, the retransmission goes")    \
    X(bad_destination, "broadcast, multicast or unspecified destination, or no socket for it")      \
    X(to_self, "a destination that is one of viaduct's own sockets (a loop)")                      \
    X(forbidden_destination, "a message named a loopback, link-local or own address")            \
    X(not_relayed, "ACK from an untrusted source naming a next hop that is not viaduct's to choose") \
    X(ack, "ACK that cannot be forwarded and is never answered")                                   \
    X(overflow, "rewrite needed more iovecs or scratch than a send holds")                         \
    X(stun, "STUN message other than a valid Binding Request, or one over TCP")                   \
    X(acl, "source not allowed, or denied, on the listener it came to")                            \
    X(user_agent, "request whose User-Agent is in security.block_user_agents")                     \
    X(rate_limited, "request over its source's rate limit")                                        \
    X(overload, "new out-of-dialog request shed while the worker was overloaded")                  \
    X(answer_budget, "local answer that would have exceeded its destination's byte budget")       \
    X(answer_larger, "403 to a refused source (acl_403) that would be larger than its request")

/* Responses viaduct sends itself: code, reason phrase. The one list of them:
 * px_reply takes an enum st_local, so no other code can go out. */
#define ST_LOCAL(X)                                                                                \
    X(200, "OK")                                                                                   \
    X(400, "Bad Request")                                                                          \
    X(403, "Forbidden")                                                                            \
    X(404, "Not Found")                                                                            \
    X(416, "Unsupported URI Scheme")                                                               \
    X(420, "Bad Extension")                                                                        \
    X(482, "Loop Detected")                                                                        \
    X(483, "Too Many Hops")                                                                        \
    X(503, "Service Unavailable")                                                                  \
    X(505, "Version Not Supported")                                                                \
    X(513, "Message Too Large")

/* Per backend: name, help. responses_Nxx are indexed by class - 1. */
#define ST_BACKEND(X)                                                                              \
    X(requests, "requests sent to it by the routing table")                                        \
    X(icmp_errors, "ICMP errors for datagrams sent to it")                                         \
    X(retried, "sends to it that were sent again (another datagram's ICMP error)")

enum st_drop {
#define X(n, h) ST_DROP_##n,
    ST_DROPS(X)
#undef X
        ST_NDROPS
};

enum st_local {
#define X(code, r) ST_L_##code,
    ST_LOCAL(X)
#undef X
        ST_NLOCAL
};

/*
 * Response latency per backend, without transaction state: our Via carries
 * the time the request was sent (px.c, ";vdt="), the response brings it back
 * and the difference lands in one of these buckets. Upper bounds in
 * microseconds, 100 us to 30 s, at most a third apart (1, 1.25, 1.5, 2, 2.5,
 * 3, 4, 5, 6, 8 per decade): histogram_quantile interpolates inside a bucket,
 * so a median lands within half a bucket's width, <= 17%, of the true one.
 */
#define ST_LAT_BOUNDS_US                                                                           \
    100, 125, 150, 200, 250, 300, 400, 500, 600, 800, 1000, 1250, 1500, 2000, 2500, 3000, 4000,    \
        5000, 6000, 8000, 10000, 12500, 15000, 20000, 25000, 30000, 40000, 50000, 60000, 80000,    \
        100000, 125000, 150000, 200000, 250000, 300000, 400000, 500000, 600000, 800000, 1000000,   \
        1250000, 1500000, 2000000, 2500000, 3000000, 4000000, 5000000, 6000000, 8000000,           \
        10000000, 12500000, 15000000, 20000000, 25000000, 30000000
#define ST_NLAT 56          /* bounds; bucket ST_NLAT is +Inf (never filled: > 30 s is implausible) */
#define ST_LAT_MAX_US 30000000
extern const uint32_t st_lat_bounds_us[ST_NLAT];

/* For each power of two 2^k (k < 32), the first bucket whose bound is
 * >= 2^k: a latency's bucket is found from its highest bit and at most a
 * few compares after it (stats.c builds it from the bounds). */
extern const uint8_t st_lat_octave[32];

/* Index of the bucket of a latency of us microseconds (0 <= us <=
 * ST_LAT_MAX_US): the first bound >= us. A binary search took 6
 * unpredictable branches per response; bounds are at most ~3 per octave. */
static inline unsigned st_lat_bucket(uint32_t us)
{
    unsigned i = st_lat_octave[31 - __builtin_clz(us | 1)];
    while (i < ST_NLAT - 1 && st_lat_bounds_us[i] < us)
        i++;
    return i;
}

/* One histogram: counts per bucket (not cumulative) and the sum. */
struct st_lat {
    atomic_uint_fast64_t bucket[ST_NLAT];
    atomic_uint_fast64_t sum_us;
};

#define ST_NMETHODS (SIP_M_PUBLISH + 1)
#define ST_MAX_BACKENDS 1024 /* x ~1 KB per worker: the histograms are most of it */
#define ST_NO_SLOT 0xffffu

struct st_backend {
#define X(n, h) atomic_uint_fast64_t n;
    ST_BACKEND(X)
#undef X
    atomic_uint_fast64_t responses[6]; /* by class: [0] 1xx ... [5] 6xx */
    struct st_lat lat[2];              /* [0] provisional, [1] final responses */
};

struct st_worker {
    _Alignas(64) /* one writer per cache line set: no false sharing between workers */
#define X(n, h) atomic_uint_fast64_t n;
        ST_COUNTERS(X)
#undef X
    atomic_uint_fast64_t drop[ST_NDROPS];
    atomic_uint_fast64_t local[ST_NLOCAL];
    atomic_uint_fast64_t method[ST_NMETHODS]; /* requests received, by enum sip_method */
    /* parse failures by reason, indexed by -sip_err */
    atomic_uint_fast64_t parse_error[SIP_NERR + 1];
    struct st_backend be[ST_MAX_BACKENDS];
};

#define ST_BUMP(p, v)                                                                              \
    atomic_store_explicit((p), atomic_load_explicit((p), memory_order_relaxed) + (v),             \
                          memory_order_relaxed)
#define ST_ADD(st, field, v) ST_BUMP(&(st)->field, v)
#define ST_INC(st, field) ST_ADD(st, field, 1)
#define ST_DROP(st, why) ST_BUMP(&(st)->drop[ST_DROP_##why], 1)
/* A backend's counter; nothing for ST_NO_SLOT. */
#define ST_BE_INC(st, slot, field)                                                                 \
    do {                                                                                           \
        if ((slot) < ST_MAX_BACKENDS)                                                              \
            ST_BUMP(&(st)->be[(slot)].field, 1);                                                   \
    } while (0)

/* The sum of every worker's counters at one moment: what readers use. */
struct st_snapshot {
#define X(n, h) uint64_t n;
    ST_COUNTERS(X)
#undef X
    uint64_t drop[ST_NDROPS];
    uint64_t local[ST_NLOCAL];
    uint64_t method[ST_NMETHODS];
    uint64_t parse_error[SIP_NERR + 1];
    struct {
#define X(n, h) uint64_t n;
        ST_BACKEND(X)
#undef X
        uint64_t responses[6];
        struct {
            uint64_t bucket[ST_NLAT];
            uint64_t sum_us;
        } lat[2];
    } be[ST_MAX_BACKENDS];
};

/* Sums n workers into out (big: allocate it). Relaxed loads, no lock. */
void st_snapshot(struct st_worker *const *w, int n, struct st_snapshot *out);

/* The same for backend slots below nslots only (the rest left zero): what a
 * scrape needs, px_cfg.next_slot being the first slot no backend has had. */
void st_snapshot_slots(struct st_worker *const *w, int n, unsigned nslots,
                       struct st_snapshot *out);

/* Adds a latency of us microseconds to a backend's histogram (cls 0:
 * provisional, 1: final); nothing for ST_NO_SLOT. */
static inline void st_lat_add(struct st_worker *st, unsigned slot, int cls, uint32_t us)
{
    if (slot >= ST_MAX_BACKENDS)
        return;
    struct st_lat *l = &st->be[slot].lat[cls];
    ST_BUMP(&l->bucket[st_lat_bucket(us)], 1);
    ST_BUMP(&l->sum_us, us);
}

/* The reason phrase and status line of a local response. */
int st_local_code(enum st_local l);
const char *st_local_reason(enum st_local l);

/* Method names by enum sip_method ("other" for SIP_M_OTHER), lower case. */
extern const char *const st_method_names[ST_NMETHODS];

/* Prints a snapshot as "name value" lines (zero ones too): the global
 * counters, drop_REASON, local_CODE, method_NAME, parse_error_ID. */
void st_print(FILE *f, const struct st_snapshot *s);

/* The sum of one named counter (a name st_print prints) over n workers; -1
 * if there is no such name. For tests. */
int64_t st_sum(struct st_worker *const *w, int n, const char *name);

#endif
