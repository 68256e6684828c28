/*
 * dns_cache.c - the hostname cache and the ask rings (dns_cache.h).
 */
#include "core/dns_cache.h"

#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dns_cache *dns_cache_new(void)
{
    struct dns_cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    if (sodium_init() < 0) {
        free(c);
        return NULL;
    }
    randombytes_buf(c->hkey, sizeof(c->hkey));
    return c;
}

void dns_cache_free(struct dns_cache *c)
{
    free(c);
}

uint64_t dns_cache_key(const struct dns_cache *c, struct span host, int port)
{
    uint8_t buf[DNS_HOST_MAX + 4];
    size_t n = host.len;
    if (n > 0 && host.p[n - 1] == '.')
        n--;
    if (n > DNS_HOST_MAX)
        n = DNS_HOST_MAX;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = (uint8_t)host.p[i];
        buf[i] = ch >= 'A' && ch <= 'Z' ? (uint8_t)(ch + 32) : ch;
    }
    uint32_t p = (uint32_t)port;
    memcpy(buf + n, &p, 4);
    uint8_t out[8];
    crypto_shorthash(out, buf, n + 4, c->hkey);
    uint64_t k;
    memcpy(&k, out, 8);
    return k ? k : 1;
}

static size_t window(uint64_t key, int i)
{
    return (size_t)((key >> 20) + (uint64_t)i) & (DNS_CACHE_SLOTS - 1);
}

static void to_words(const struct sockaddr_storage *ss, uint64_t w[3])
{
    w[0] = w[1] = w[2] = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        uint32_t ip;
        memcpy(&ip, &a->sin_addr, 4);
        w[0] = AF_INET | (uint64_t)ntohs(a->sin_port) << 16;
        w[1] = ip;
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ss;
        w[0] = AF_INET6 | (uint64_t)ntohs(a->sin6_port) << 16;
        memcpy(&w[1], &a->sin6_addr, 16);
    }
}

static void from_words(const uint64_t w[3], struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    uint16_t port = htons((uint16_t)(w[0] >> 16));
    if ((w[0] & 0xffff) == AF_INET) {
        struct sockaddr_in *a = (void *)ss;
        a->sin_family = AF_INET;
        a->sin_port = port;
        uint32_t ip = (uint32_t)w[1];
        memcpy(&a->sin_addr, &ip, 4);
        *len = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (void *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = port;
        memcpy(&a->sin6_addr, &w[1], 16);
        *len = sizeof(*a);
    }
}

int dns_cache_get(const struct dns_cache *c, uint64_t key, int64_t now_ms,
                  struct sockaddr_storage *out, socklen_t *outlen)
{
    for (int i = 0; i < DNS_CACHE_PROBE; i++) {
        const struct dns_cache_slot *s = &c->slot[window(key, i)];
        if (atomic_load_explicit(&s->key, memory_order_relaxed) != key)
            continue;
        for (int tries = 0; tries < 4; tries++) {
            uint32_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
            if (s1 & 1u)
                continue;
            uint64_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
            uint64_t meta = atomic_load_explicit(&s->meta, memory_order_relaxed);
            int64_t exp = atomic_load_explicit(&s->expires_ms, memory_order_relaxed);
            int64_t stale = atomic_load_explicit(&s->stale_ms, memory_order_relaxed);
            uint64_t w[3];
            for (int j = 0; j < 3; j++)
                w[j] = atomic_load_explicit(&s->addr[0][j], memory_order_relaxed);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&s->seq, memory_order_relaxed) != s1)
                continue;
            if (k != key)
                return DNS_MISS; /* evicted meanwhile */
            unsigned state = meta & 0xff, n = (meta >> 8) & 0xff;
            if (state == DNS_C_PENDING) /* past its expiry the lookup ended writing nothing
                                           (its channel was destroyed): ask again */
                return now_ms < exp ? DNS_PENDING : DNS_MISS;
            if (state == DNS_C_NEGATIVE)
                return now_ms < exp ? DNS_NEGATIVE : DNS_MISS;
            if (state != DNS_C_FOUND || n == 0 || (now_ms >= exp && now_ms >= stale))
                return DNS_MISS;
            from_words(w, out, outlen);
            return now_ms < exp ? DNS_FOUND : DNS_STALE;
        }
        return DNS_MISS; /* being written: the next datagram will see it */
    }
    return DNS_MISS;
}

static struct dns_cache_slot *find(const struct dns_cache *c, uint64_t key)
{
    for (int i = 0; i < DNS_CACHE_PROBE; i++) {
        const struct dns_cache_slot *s = &c->slot[window(key, i)];
        if (atomic_load_explicit(&s->key, memory_order_relaxed) == key)
            return (struct dns_cache_slot *)(uintptr_t)s;
    }
    return NULL;
}

void dns_cache_put(struct dns_cache *c, uint64_t key, enum dns_cache_state state,
                   const struct sockaddr_storage *addr, int n, int64_t expires_ms)
{
    struct dns_cache_slot *s = find(c, key);
    if (s == NULL) { /* an empty slot of the window, else the one expiring first */
        for (int i = 0; i < DNS_CACHE_PROBE; i++) {
            struct dns_cache_slot *t = &c->slot[window(key, i)];
            if (atomic_load_explicit(&t->key, memory_order_relaxed) == 0) {
                s = t;
                break;
            }
            if (s == NULL || atomic_load_explicit(&t->expires_ms, memory_order_relaxed) <
                                 atomic_load_explicit(&s->expires_ms, memory_order_relaxed))
                s = t;
        }
    }
    if (n > DNS_CACHE_ADDRS)
        n = DNS_CACHE_ADDRS;
    if (state != DNS_C_FOUND)
        n = 0;
    uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&s->key, key, memory_order_relaxed);
    atomic_store_explicit(&s->meta, (uint64_t)state | (uint64_t)n << 8, memory_order_relaxed);
    atomic_store_explicit(&s->expires_ms, expires_ms, memory_order_relaxed);
    atomic_store_explicit(&s->stale_ms,
                          state == DNS_C_FOUND ? expires_ms + DNS_CACHE_STALE_MS : expires_ms,
                          memory_order_relaxed);
    for (int i = 0; i < DNS_CACHE_ADDRS; i++) {
        uint64_t w[3] = {0, 0, 0};
        if (i < n)
            to_words(&addr[i], w);
        for (int j = 0; j < 3; j++)
            atomic_store_explicit(&s->addr[i][j], w[j], memory_order_relaxed);
    }
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

void dns_cache_extend(struct dns_cache *c, uint64_t key, int64_t expires_ms)
{
    struct dns_cache_slot *s = find(c, key);
    if (s == NULL)
        return;
    uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&s->expires_ms, expires_ms, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

enum dns_cache_state dns_cache_peek(const struct dns_cache *c, uint64_t key, int64_t *expires_ms,
                                    int64_t *stale_ms)
{
    const struct dns_cache_slot *s = find(c, key);
    *expires_ms = *stale_ms = 0;
    if (s == NULL)
        return DNS_C_EMPTY;
    *expires_ms = atomic_load_explicit(&s->expires_ms, memory_order_relaxed);
    *stale_ms = atomic_load_explicit(&s->stale_ms, memory_order_relaxed);
    return (enum dns_cache_state)(atomic_load_explicit(&s->meta, memory_order_relaxed) & 0xff);
}

int dns_cache_count(const struct dns_cache *c)
{
    int n = 0;
    for (int i = 0; i < DNS_CACHE_SLOTS; i++)
        n += atomic_load_explicit(&c->slot[i].key, memory_order_relaxed) != 0;
    return n;
}

bool dns_ask_push(struct dns_ask *a, struct span host, int port, uint64_t key)
{
    uint32_t h = atomic_load_explicit(&a->head, memory_order_relaxed);
    uint32_t t = atomic_load_explicit(&a->tail, memory_order_acquire);
    if (h - t >= DNS_ASK_RING || host.len == 0 || host.len >= DNS_HOST_MAX) {
        atomic_fetch_add_explicit(&a->dropped, 1, memory_order_relaxed);
        return false;
    }
    size_t i = h % DNS_ASK_RING;
    memcpy(a->q[i].host, host.p, host.len);
    a->q[i].host[host.len] = '\0';
    a->q[i].port = port;
    a->q[i].key = key;
    /* A write(2) per ask would be a syscall per datagram of a name flood: only an ask the
     * DNS thread may have gone to sleep without seeing wakes it, one pushed when the thread
     * had taken every ask before it. Otherwise the thread has yet to take an earlier ask,
     * and then it sees this one too: head stored, then tail loaded here; tail stored, then
     * head loaded in dns_ask_pop, all seq_cst, so one side sees the other's store. A
     * failed write (the counter full: woken already) loses nothing either. */
    atomic_store_explicit(&a->head, h + 1, memory_order_seq_cst);
    if (a->wake_fd >= 0 && atomic_load_explicit(&a->tail, memory_order_seq_cst) == h) {
        uint64_t one = 1;
        ssize_t r = write(a->wake_fd, &one, sizeof(one));
        (void)r;
    }
    return true;
}

bool dns_ask_pop(struct dns_ask *a, char host[DNS_HOST_MAX], int *port, uint64_t *key)
{
    uint32_t t = atomic_load_explicit(&a->tail, memory_order_relaxed);
    uint32_t h = atomic_load_explicit(&a->head, memory_order_seq_cst); /* dns_ask_push's wake */
    if (t == h)
        return false;
    size_t i = t % DNS_ASK_RING;
    memcpy(host, a->q[i].host, DNS_HOST_MAX);
    *port = a->q[i].port;
    *key = a->q[i].key;
    atomic_store_explicit(&a->tail, t + 1, memory_order_seq_cst);
    return true;
}
