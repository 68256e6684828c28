/*
 * px_policy.c - what keeps viaduct from being an open relay or a reflector:
 * the keys it signs with, who is trusted, which destinations a message may
 * name, and the keyed tag in viaduct's own Via.
 *
 * The secret (security.secret_file or VIADUCT_SECRET, the same on every
 * instance) is turned into one SipHash-2-4 key per use (libsodium's
 * crypto_shorthash, a MAC designed for short inputs): flow tokens
 * (px_flow.c) and the Via tag (below). A previous secret still verifies what
 * it signed until security.previous_until, so a rotation loses nothing in
 * flight; nothing is ever signed with it. Without a secret, each process
 * draws its own (getrandom): tokens and Via tags then mean nothing to any
 * other instance, and server.c says so loudly.
 *
 * The hot-path functions here never allocate, lock or block: one SipHash
 * over a stack buffer of at most PX_TAG_BUF bytes per call.
 */
#include "core/px_internal.h"

#include "core/clock.h"

#include <errno.h>
#include <sodium.h>
#include <xxhash.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

_Static_assert(crypto_shorthash_KEYBYTES == PX_KEY_LEN, "SipHash-2-4 takes a 16-byte key");
_Static_assert(crypto_shorthash_BYTES == 8, "SipHash-2-4 gives 8 bytes");

static bool is_loopback(const struct sockaddr *sa);

/* ---- keys (start-up code) ---- */

#define SECRET_MIN 16 /* bytes: a shorter secret is guessable */
#define SECRET_MAX 4096

static void derive(const uint8_t *secret, size_t n, struct px_keys *k)
{
    /* BLAKE2b of the secret and a label: a secret of any length and
     * alphabet gives independent 16-byte keys */
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, PX_KEY_LEN);
    crypto_generichash_update(&st, secret, n);
    crypto_generichash_update(&st, (const uint8_t *)"viaduct flow token", 18);
    crypto_generichash_final(&st, k->flow, PX_KEY_LEN);
    crypto_generichash_init(&st, NULL, 0, PX_KEY_LEN);
    crypto_generichash_update(&st, secret, n);
    crypto_generichash_update(&st, (const uint8_t *)"viaduct via tag", 15);
    crypto_generichash_final(&st, k->via, PX_KEY_LEN);
}

/* The secret from its value or its file (trailing newlines dropped: an
 * editor's or echo's). 1 with the keys set, 0 if neither is given, -1 with
 * a reason in err. */
static int load_secret(const char *value, const char *file, const char *what,
                       struct px_keys *k, char *err, size_t errlen)
{
    uint8_t buf[SECRET_MAX];
    size_t n = 0;
    if (value[0] != '\0' && file[0] != '\0') {
        snprintf(err, errlen, "%s: give the secret or its file, not both", what);
        return -1;
    }
    if (value[0] != '\0') {
        n = strlen(value);
        memcpy(buf, value, n);
    } else if (file[0] != '\0') {
        FILE *f = fopen(file, "rb");
        if (f == NULL) {
            snprintf(err, errlen, "%s: cannot read %s: %s", what, file, strerror(errno));
            return -1;
        }
        n = fread(buf, 1, sizeof(buf), f);
        bool more = fgetc(f) != EOF;
        fclose(f);
        if (more) {
            snprintf(err, errlen, "%s: %s is longer than %d bytes", what, file, SECRET_MAX);
            return -1;
        }
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
    } else {
        return 0;
    }
    if (n < SECRET_MIN) {
        snprintf(err, errlen, "%s: %zu bytes, fewer than %d", what, n, SECRET_MIN);
        sodium_memzero(buf, sizeof(buf));
        return -1;
    }
    derive(buf, n, k);
    sodium_memzero(buf, sizeof(buf));
    return 1;
}

static bool is_loopback_listener(const struct px_listen *l)
{
    const struct sockaddr *sa = (const struct sockaddr *)&l->addr;
    return l->wildcard || is_loopback(sa);
}

int px_security_build(struct px_cfg *px, const struct cfg *c, char *err, size_t errlen)
{
    const struct cfg_security *s = &c->security;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    int r = load_secret(s->secret, s->secret_file, "security.secret", &px->key, err, errlen);
    if (r < 0)
        return -1;
    if (r == 0) {
        uint8_t rnd[32];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            snprintf(err, errlen, "getrandom: %s", strerror(errno));
            return -1;
        }
        derive(rnd, sizeof(rnd), &px->key);
        sodium_memzero(rnd, sizeof(rnd));
        px->secret_random = true;
    }
    r = load_secret(s->previous_secret, s->previous_secret_file, "security.previous_secret",
                    &px->prev_key, err, errlen);
    if (r < 0)
        return -1;
    if (r > 0 && s->previous_until > 0) {
        /* a wall-clock instant, the same for every instance, as the
         * monotonic clock px_handle is given */
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        int64_t left_ms = ((int64_t)s->previous_until - wall.tv_sec) * 1000 - wall.tv_nsec / 1000000;
        px->has_prev = left_ms > 0;
        px->prev_until_ms = clk_now_ms() + left_ms;
    }
    px->relay = (uint8_t)s->relay;
    for (int i = 0; i < s->ntrusted && i < PX_MAX_TRUSTED; i++) {
        px->trusted[i].family = s->trusted[i].family;
        memcpy(px->trusted[i].addr, s->trusted[i].addr, sizeof(px->trusted[i].addr));
        px->trusted[i].prefix = s->trusted[i].prefix;
        px->ntrusted = i + 1;
    }
    for (int i = 0; i < px->nlisten; i++)
        if (is_loopback_listener(&px->listen[i]))
            px->loopback_ok[px->listen[i].addr.ss_family == AF_INET6] = true;
    if (s->hash_seed[0] != '\0')
        px->seed = XXH3_64bits(s->hash_seed, strlen(s->hash_seed));
    return 0;
}

void px_security_carry(struct px_cfg *px, const struct px_cfg *old)
{
    /* a reload keeps the process's random secret: tokens and Via tags it
     * signed stay good */
    if (px->secret_random && old->secret_random)
        px->key = old->key;
}

bool px_prev_valid(const struct px_cfg *cfg, int64_t now_ms)
{
    return cfg->has_prev && now_ms < cfg->prev_until_ms;
}

/* ---- trust and destinations (hot path) ---- */

bool px_cidr_match(const struct px_cidr *c, const struct sockaddr *sa)
{
    const uint8_t *a;
    if (sa->sa_family != c->family)
        return false;
    if (sa->sa_family == AF_INET)
        a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else
        a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    int bits = c->prefix;
    for (int i = 0; bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((a[i] & mask) != (c->addr[i] & mask))
            return false;
    }
    return true;
}

/*
 * A backend by IP at any port (a backend may send from another socket than
 * the one it is configured at), then the trusted prefixes. The refs are a
 * linear scan here: this runs only for a request that names a next hop
 * viaduct's rules did not choose, never for one the table routes.
 */
bool px_trusted(const struct px_cfg *cfg, const struct sockaddr *src)
{
    for (int i = 0; i < cfg->npools; i++) {
        const struct rt_table *t = cfg->pools[i].rt;
        for (int b = 0; b < t->n; b++)
            if (net_addr_same_ip((const struct sockaddr *)&t->b[b].addr, src))
                return true;
    }
    for (int i = 0; i < cfg->ntrusted; i++)
        if (px_cidr_match(&cfg->trusted[i], src))
            return true;
    return false;
}

/* The IPv4 address sa carries (an IPv4-mapped IPv6 one too) into v4; false
 * for a plain IPv6 address. */
static bool v4_of(const struct sockaddr *sa, const uint8_t **v4)
{
    if (sa->sa_family == AF_INET) {
        *v4 = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        return true;
    }
    const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    *v4 = &a->s6_addr[12];
    return IN6_IS_ADDR_V4MAPPED(a);
}

/* 127/8 and ::1: this very host. */
static bool is_loopback(const struct sockaddr *sa)
{
    const uint8_t *v4;
    if (v4_of(sa, &v4))
        return v4[0] == 127;
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
}

/* 169.254/16 and fe80::/10: a link's own addresses, never a SIP peer of a
 * proxy on the edge, and where cloud metadata services live. */
static bool is_link_local(const struct sockaddr *sa)
{
    const uint8_t *v4;
    if (v4_of(sa, &v4))
        return v4[0] == 169 && v4[1] == 254;
    return IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
}

/* An IP viaduct listens on, at any port: a service of its own host. */
static bool is_listen_ip(const struct px_cfg *cfg, const struct sockaddr *sa)
{
    for (int i = 0; i < cfg->nlisten; i++)
        if (!cfg->listen[i].wildcard &&
            net_addr_same_ip((const struct sockaddr *)&cfg->listen[i].addr, sa))
            return true;
    return false;
}

bool px_dest_permitted(const struct px_cfg *cfg, const struct sockaddr *sa)
{
    const struct px_backend_ref *r;
    if (px_backends_at(cfg, sa, &r) > 0)
        return true; /* exactly a configured backend: whatever its address */
    if (is_link_local(sa))
        return false;
    if (is_loopback(sa) || is_listen_ip(cfg, sa))
        return cfg->loopback_ok[sa->sa_family == AF_INET6];
    return true;
}

bool px_dns_dest_ok(const struct px_cfg *cfg, const struct sockaddr *sa)
{
    if (!net_addr_sendable(sa) || px_addr_is_self(cfg, sa) || is_link_local(sa) ||
        px_pick_sock(cfg, 0, sa->sa_family) < 0)
        return false;
    if (is_loopback(sa) || is_listen_ip(cfg, sa))
        return cfg->loopback_ok[sa->sa_family == AF_INET6];
    return true;
}

/* ---- the Via tag ---- */

#define PX_TAG_BUF 256
#define TAG_FIELD_MAX 96 /* longer fields enter as their own SipHash */

/* Appends a length-prefixed field, or its keyed hash when long. */
static size_t put_field(uint8_t *buf, size_t at, struct span f, const uint8_t *key)
{
    if (f.len > TAG_FIELD_MAX) {
        buf[at++] = 0xff;
        crypto_shorthash(buf + at, (const uint8_t *)f.p, f.len, key);
        return at + 8;
    }
    buf[at++] = (uint8_t)f.len;
    if (f.len > 0) /* an absent field is SPAN_NULL */
        memcpy(buf + at, f.p, f.len);
    return at + f.len;
}

uint64_t px_via_tag(const uint8_t key[PX_KEY_LEN], const struct sockaddr *dst, struct span branch,
                    struct span callid, uint32_t cseq, uint64_t conn, unsigned wk)
{
    uint8_t buf[PX_TAG_BUF];
    size_t n = 0;
    if (dst->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)dst;
        buf[n++] = 6;
        memcpy(buf + n, &a->sin6_addr, 16);
        n += 16;
        memcpy(buf + n, &a->sin6_port, 2);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)dst;
        buf[n++] = 4;
        memcpy(buf + n, &a->sin_addr, 4);
        n += 4;
        memcpy(buf + n, &a->sin_port, 2);
    }
    n += 2;
    memcpy(buf + n, &cseq, 4);
    n += 4;
    n = put_field(buf, n, branch, key);
    n = put_field(buf, n, callid, key);
    if (conn != 0) { /* a TCP client's: the connection is part of where it goes back to */
        buf[n++] = (uint8_t)wk;
        memcpy(buf + n, &conn, 8);
        n += 8;
    }
    uint8_t out[8];
    crypto_shorthash(out, buf, n, key);
    uint64_t v;
    memcpy(&v, out, 8);
    return v;
}
