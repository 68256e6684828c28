/*
 * stats.h - per-worker counters, declared once as an X-macro list (G15).
 *
 * Each worker owns one struct st_worker and is its only writer, so an
 * increment is a relaxed load and store (plain moves on x86), never a locked
 * instruction. Readers (SIGUSR1, exit, later the management API) sum the
 * workers' copies with relaxed loads; a sum may be a few packets stale.
 */
#ifndef VIADUCT_STATS_H
#define VIADUCT_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "parser/sip.h"

#define ST_COUNTERS(X)                                                                             \
    X(rx_datagrams)                                                                                \
    X(rx_keepalive)                                                                                \
    X(rx_stun)                                                                                     \
    X(rx_requests)                                                                                 \
    X(rx_responses)                                                                                \
    X(fwd_requests)                                                                                \
    X(fwd_responses)                                                                               \
    X(fwd_fanout) /* CANCEL or ACK also sent to where its INVITE may be */                         \
    X(local_200)                                                                                   \
    X(local_400)                                                                                   \
    X(local_416)                                                                                   \
    X(local_420)                                                                                   \
    X(local_482) /* a request that passed here before, unchanged (RFC 3261 16.3 step 4) */         \
    X(local_483)                                                                                   \
    X(local_503)                                                                                   \
    X(local_505)                                                                                   \
    X(local_513)                                                                                   \
    X(stun_responses)                                                                              \
    X(drop_too_large)       /* over the limit and no Via to answer on */                           \
    X(drop_unreadable_via)  /* broken request whose top Via cannot be read */                      \
    X(drop_bad_response)    /* response that does not parse */                                     \
    X(drop_not_our_via)     /* response whose top Via is not ours (RFC 3261 18.1.2) */             \
    X(drop_no_next_via)     /* response with no Via left after ours: consumed */                   \
    X(drop_unresolvable)    /* next hop is a hostname: no DNS on the packet path */                \
    X(drop_bad_destination) /* broadcast, multicast or unspecified address */                      \
    X(drop_to_self)         /* next hop is one of our own sockets: it would loop */                \
    X(drop_ack)             /* ACK that cannot be forwarded and is never answered */               \
    X(drop_overflow)        /* rewrite needed more iovecs or scratch than a tx has */              \
    X(drop_stun)            /* STUN message other than a valid Binding Request */                  \
    X(tx_lost)          /* a send failed for good: the datagram was not sent */                    \
    X(tx_retried)       /* a send failed with another datagram's ICMP error: sent again */         \
    X(icmp_backend)     /* ICMP errors for datagrams sent to a backend */                          \
    X(icmp_client)      /* ... sent to anyone else (a client, a Route or Via hop) */               \
    X(icmp_other)       /* local errors for a datagram, and queue entries of no address */         \
    X(backend_holddowns) /* ICMP errors that started a backend's hold-down */                      \
    X(rx_enobufs)                                                                                  \
    X(rx_errors)                                                                                   \
    X(tx_dropped)

struct st_worker {
    _Alignas(64) /* one writer per cache line set: no false sharing between workers */
#define X(n) atomic_uint_fast64_t n;
        ST_COUNTERS(X)
#undef X
        /* parse failures by reason, indexed by -sip_err */
        atomic_uint_fast64_t parse_error[SIP_NERR + 1];
};

#define ST_ADD(st, field, v)                                                                       \
    atomic_store_explicit(&(st)->field,                                                            \
                          atomic_load_explicit(&(st)->field, memory_order_relaxed) + (v),          \
                          memory_order_relaxed)
#define ST_INC(st, field) ST_ADD(st, field, 1)

/* Sums n workers' counters and prints "name value" lines (zero ones too). */
void st_print(FILE *f, struct st_worker *const *w, int n);

/* The sum of one named counter over n workers; -1 if there is no such name. */
int64_t st_sum(struct st_worker *const *w, int n, const char *name);

#endif
