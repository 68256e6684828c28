/*
 * dns_cache.h - hostnames as next hops (a Route naming a host by name, RFC
 * 3263 without NAPTR): a bounded cache the DNS thread writes and every
 * worker reads, and one ask ring per worker for names the cache lacks.
 *
 * The packet path never waits for DNS. A worker that finds no entry pushes
 * the name on its ask ring, drops the request and counts it
 * (drop_name_pending); the DNS thread resolves it (SRV _sip._udp.NAME, then
 * A/AAAA; A/AAAA alone when the URI gives a port) and writes the entry, so
 * the sender's retransmission (T1 = 500 ms) finds it. A name that does not
 * resolve is cached negative (DNS_CACHE_NEG_MS) and answered 503.
 *
 * Concurrency: one writer per slot (the DNS thread), any number of readers
 * (the workers), no lock. Each slot is a seqlock over atomic words (Boehm,
 * "Can seqlocks get along with programming language memory models?", 2012):
 * the writer makes the sequence odd, writes, makes it even; a reader
 * retries a torn read a few times and then takes it as a miss, so it never
 * spins for long. Slots are found by a keyed 64-bit hash of (name, port)
 * (SipHash-2-4, a random key per process), so an outsider cannot aim names
 * at one slot, and a reader compares words, not strings. The ask ring is
 * single-producer (its worker) single-consumer (the DNS thread).
 */
#ifndef VIADUCT_DNS_CACHE_H
#define VIADUCT_DNS_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "parser/span.h"

#define DNS_CACHE_SLOTS 1024     /* a power of two */
#define DNS_CACHE_PROBE 8        /* slots a key may sit in */
#define DNS_CACHE_ADDRS 4        /* addresses kept per name, in the order to try */
#define DNS_HOST_MAX 128         /* a longer name is not looked up (answered 503) */
#define DNS_CACHE_NEG_MS 30000   /* how long a name that did not resolve is answered 503 */
#define DNS_CACHE_STALE_MS 60000 /* an expired entry serves this long while it is asked again */
#define DNS_ASK_RING 64

enum dns_cache_state { DNS_C_EMPTY = 0, DNS_C_PENDING, DNS_C_FOUND, DNS_C_NEGATIVE };

struct dns_cache_slot {
    _Atomic uint32_t seq;                      /* odd while the writer is in the slot */
    _Atomic uint64_t key;                      /* dns_cache_key; 0: empty */
    _Atomic uint64_t meta;                     /* state | naddr << 8 */
    _Atomic int64_t expires_ms;                /* clock.h's clock */
    _Atomic int64_t stale_ms;                  /* DNS_C_FOUND: may serve (DNS_STALE) until then */
    _Atomic uint64_t addr[DNS_CACHE_ADDRS][3]; /* family | port << 16, then the IP's bytes */
};

struct dns_cache {
    uint8_t hkey[16];
    struct dns_cache_slot slot[DNS_CACHE_SLOTS];
};

/* What a lookup found. */
enum dns_cache_hit {
    DNS_MISS = 0, /* nothing: ask for it */
    DNS_PENDING,  /* being resolved: do not ask again (until its expiry: then a miss) */
    DNS_FOUND,    /* *out is the first address */
    DNS_STALE,    /* *out is the first address, but expired: ask again */
    DNS_NEGATIVE, /* did not resolve: answer 503 */
};

/* A new cache (zeroed, a random key). NULL on OOM. */
struct dns_cache *dns_cache_new(void);
void dns_cache_free(struct dns_cache *c);

/* The key of host (any case, a final dot ignored) at port (-1: none given).
 * Never 0. */
uint64_t dns_cache_key(const struct dns_cache *c, struct span host, int port);

/* The workers' lookup: lock-free, allocation-free, bounded. */
int dns_cache_get(const struct dns_cache *c, uint64_t key, int64_t now_ms,
                  struct sockaddr_storage *out, socklen_t *outlen);

/* The writer's (the DNS thread's alone): sets key's entry, evicting the
 * slot of its window that expires first when the window is full. n
 * addresses (at most DNS_CACHE_ADDRS) for DNS_C_FOUND, which may then serve
 * DNS_CACHE_STALE_MS past its expiry while refreshes fail. */
void dns_cache_put(struct dns_cache *c, uint64_t key, enum dns_cache_state state,
                   const struct sockaddr_storage *addr, int n, int64_t expires_ms);

/* The writer's: moves key's expiry (an entry being asked again stays fresh
 * meanwhile, so the workers do not ask for it on every request). */
void dns_cache_extend(struct dns_cache *c, uint64_t key, int64_t expires_ms);

/* The writer's view of an entry: its state (DNS_C_EMPTY if absent), expiry
 * and the end of its stale time. */
enum dns_cache_state dns_cache_peek(const struct dns_cache *c, uint64_t key, int64_t *expires_ms,
                                    int64_t *stale_ms);

/* Entries in use (for /metrics). */
int dns_cache_count(const struct dns_cache *c);

/* A worker's ask ring. */
struct dns_ask {
    _Atomic uint32_t head;    /* written by the worker */
    _Atomic uint32_t tail;    /* written by the DNS thread */
    int wake_fd;              /* the DNS thread's eventfd; -1: none */
    _Atomic uint64_t dropped; /* asks lost to a full ring */
    struct {
        char host[DNS_HOST_MAX];
        int port;
        uint64_t key;
    } q[DNS_ASK_RING];
};

/* The worker's: queues host:port and wakes the DNS thread (a non-blocking
 * eventfd write) if it had taken every earlier ask: one write per burst,
 * not per ask. False, counted in dropped, if the ring is full or the name
 * too long. */
bool dns_ask_push(struct dns_ask *a, struct span host, int port, uint64_t key);

/* The DNS thread's: the oldest ask, copied out; false if none. */
bool dns_ask_pop(struct dns_ask *a, char host[DNS_HOST_MAX], int *port, uint64_t *key);

#endif
