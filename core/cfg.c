/*
 * cfg.c - viaduct's configuration: the declaration table of scalar options,
 * the value checkers every layer shares, the built-in defaults, the
 * lifecycle, and cfg_print. The layers live beside it: cfg_yaml.c reads the
 * file (-c FILE), cfg_env.c the VIADUCT_* environment and --backend, and
 * checks the whole (cfg_validate).
 *
 * Why libyaml (its document loader) with our own table, not libcyaml: an
 * operator must get "FILE:LINE: what is wrong" for every bad value.
 * libcyaml 1.3.1 (Debian's) returns only an error code; where it happened
 * reaches the caller as free text in log-callback backtrace lines ("in
 * mapping field 'x' (line: 5, column: 3)"), which we would have to scrape.
 * Its schema cannot say "an address, or a mapping with an address" (the
 * backend and key shorthands below), and the checks it has no words for
 * (addresses, CIDRs, primes, key names, rule -> pool references) would run on
 * its output, where the lines are gone. libyaml's yaml_parser_load gives a
 * node tree in which every node carries its start_mark, so each check below
 * reports the line of the very key or value it rejects, and syntax errors
 * come with libyaml's own problem_mark. No YAML is parsed by hand here.
 *
 * The file; every key is optional. A list given replaces what an earlier
 * layer had (listen, aliases, rules, health.codes); a pool replaces the pool
 * of the same name, or is added:
 *
 *   listen: ["127.0.0.1:5060"]   # IP:PORT list, or [{address: IP:PORT, advertise: HOST:PORT}]
 *   advertise: "sip.example.com:5060"   # what to write in Via/Record-Route for the first listen
 *   aliases: ["proxy.example.com"]      # HOST or HOST:PORT: other names of viaduct
 *   workers: auto            # 1..64 threads, or auto: the CPUs the process may use
 *   io: auto                 # auto | uring | mmsg
 *   max_message: 16384       # 1024..65535 bytes; larger requests are answered 513
 *   table_size: 65537        # Maglev slots: a prime, at least the largest pool
 *   retry_after: 5           # seconds, in the 503 of a pool with no live backend
 *   record_route: false      # Record-Route on dialog-creating requests
 *   path: false              # Path on REGISTER with Supported: path
 *   keys: {register: to-aor, default: call-id}   # what REGISTER / other requests hash on
 *   health: {enabled: false, interval_ms: 1000, timeout_ms: 500, down_after: 3,
 *            up_after: 2, jitter_pct: 10, codes: [],      # codes [] = any final response
 *            icmp_holddown_ms: 5000}   # an ICMP error moves a backend's traffic this long
 *   pools:
 *     - name: registrars     # "default" fills the pool that --backend also fills
 *       backends:
 *         - {address: "10.0.0.1:5060", name: reg-a, weight: 1, drain: false}
 *         - "10.0.0.2:5060"  # shorthand: the address alone
 *   rules:                   # in order, the first match wins; no match: pool default
 *     - match: {method: [REGISTER], ruri_domain: [".example.com"], to_domain: ["example.com"],
 *               source: ["10.0.0.0/8"]}   # every condition given must match
 *       pool: registrars
 *       key: to-aor          # else keys.register / keys.default
 *
 * A key is call-id, to-aor, from-aor, ruri-aor, ruri-user, source-ip or
 * {header: NAME}. A single value stands for a list of one; ~ for an empty
 * list. Bounds of the scalar options are in cfg_opts[] below.
 */
#include "core/cfg_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/net.h"

#define ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define OFF(f) offsetof(struct cfg, f)

/* ---- the declaration table (G16) ---- */

const char *const cfg_io_modes[3] = {"auto", "uring", "mmsg"};
const char *const cfg_key_names[CFG_KEY_HEADER] = {"call-id",  "to-aor",    "from-aor",
                                                   "ruri-aor", "ruri-user", "source-ip"};

/* One line per option: name, type, min, max, default, field. The maxima are
 * what the rest of viaduct can hold (64 workers in main.c, a UDP datagram,
 * uint16_t slot indexes cover 1024 backends at up to 2^24 slots). */
const struct cfg_opt cfg_opts[] = {
    {"workers", CFG_T_INT_AUTO, 1, 64, 0, OFF(workers)},
    {"io", CFG_T_IO, 0, 2, 0, OFF(io)},
    {"max_message", CFG_T_U32, 1024, 65535, 16384, OFF(max_msg)},
    {"table_size", CFG_T_PRIME, 2, 1 << 24, 65537, OFF(table_size)},
    {"retry_after", CFG_T_U32, 0, 86400, 5, OFF(retry_after)},
    {"record_route", CFG_T_BOOL, 0, 1, 0, OFF(record_route)},
    {"path", CFG_T_BOOL, 0, 1, 0, OFF(path)},
    {"health.enabled", CFG_T_BOOL, 0, 1, 0, OFF(health.enabled)},
    {"health.interval_ms", CFG_T_U32, 50, 3600000, 1000, OFF(health.interval_ms)},
    {"health.timeout_ms", CFG_T_U32, 10, 3600000, 500, OFF(health.timeout_ms)},
    {"health.down_after", CFG_T_U32, 1, 100, 3, OFF(health.down_after)},
    {"health.up_after", CFG_T_U32, 1, 100, 2, OFF(health.up_after)},
    {"health.jitter_pct", CFG_T_U32, 0, 50, 10, OFF(health.jitter_pct)},
    /* below PX_FOLLOW_MS, so a CANCEL still follows its INVITE past a hold's end */
    {"health.icmp_holddown_ms", CFG_T_U32, 100, 60000, 5000, OFF(health.icmp_holddown_ms)},
};
const int cfg_nopts = ARRAY_LEN(cfg_opts);

const struct cfg_opt *cfg_opt_find(const char *name)
{
    for (int i = 0; i < cfg_nopts; i++)
        if (strcmp(cfg_opts[i].name, name) == 0)
            return &cfg_opts[i];
    return NULL;
}

static void opt_store(struct cfg *c, const struct cfg_opt *o, int64_t v)
{
    void *f = (char *)c + o->off;
    switch (o->type) {
    case CFG_T_INT_AUTO: *(int *)f = (int)v; break;
    case CFG_T_U32:
    case CFG_T_PRIME: *(uint32_t *)f = (uint32_t)v; break;
    case CFG_T_BOOL: *(bool *)f = v != 0; break;
    case CFG_T_IO: snprintf(f, sizeof(c->io), "%s", cfg_io_modes[v]); break;
    }
}

/* The field's value; for CFG_T_IO the mode's index, -1 if none. */
static int64_t opt_value(const struct cfg *c, const struct cfg_opt *o)
{
    const void *f = (const char *)c + o->off;
    switch (o->type) {
    case CFG_T_INT_AUTO: return *(const int *)f;
    case CFG_T_U32:
    case CFG_T_PRIME: return *(const uint32_t *)f;
    case CFG_T_BOOL: return *(const bool *)f;
    case CFG_T_IO:
        for (int i = 0; i < ARRAY_LEN(cfg_io_modes); i++)
            if (strcmp(f, cfg_io_modes[i]) == 0)
                return i;
        return -1;
    }
    return -1;
}

static bool is_prime(uint64_t n)
{
    if (n < 2)
        return false;
    for (uint64_t d = 2; d * d <= n; d++)
        if (n % d == 0)
            return false;
    return true;
}

/* Decimal digits with an optional '-'; saturates far beyond any bound. */
static int parse_i64(const char *s, int64_t *v)
{
    bool neg = *s == '-';
    int64_t x = 0;
    if (neg)
        s++;
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        x = x < INT64_MAX / 100 ? x * 10 + (*s - '0') : INT64_MAX / 100;
    }
    *v = neg ? -x : x;
    return 0;
}

/* v (spelled s) within [min, max], else a reason. */
static int check_range(const char *s, int64_t v, int64_t min, int64_t max, char *msg, size_t len)
{
    if (v < min) {
        snprintf(msg, len, "%s is below the minimum %lld", s, (long long)min);
        return -1;
    }
    if (v > max) {
        snprintf(msg, len, "%s is above the maximum %lld", s, (long long)max);
        return -1;
    }
    return 0;
}

int cfg_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out, char *msg, size_t len)
{
    int64_t v;
    if (parse_i64(s, &v) < 0) {
        snprintf(msg, len, "expected a number, got '%s'", s);
        return -1;
    }
    if (check_range(s, v, min, max, msg, len) < 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int check_prime(const char *s, int64_t v, char *msg, size_t len)
{
    if (is_prime((uint64_t)v))
        return 0;
    int64_t up = v + 1;
    while (!is_prime((uint64_t)up))
        up++;
    snprintf(msg, len, "%s is not prime (try %lld)", s, (long long)up);
    return -1;
}

int cfg_opt_set(struct cfg *c, const struct cfg_opt *o, const char *s, char *msg, size_t len)
{
    int64_t v;
    bool b;
    switch (o->type) {
    case CFG_T_BOOL:
        if (cfg_parse_bool(s, &b) < 0) {
            snprintf(msg, len, "expected true or false, got '%s'", s);
            return -1;
        }
        opt_store(c, o, b);
        return 0;
    case CFG_T_IO:
        for (int i = 0; i < ARRAY_LEN(cfg_io_modes); i++) {
            if (strcmp(s, cfg_io_modes[i]) == 0) {
                opt_store(c, o, i);
                return 0;
            }
        }
        snprintf(msg, len, "expected auto, uring or mmsg, got '%s'", s);
        return -1;
    case CFG_T_INT_AUTO:
        if (strcmp(s, "auto") == 0) {
            opt_store(c, o, 0);
            return 0;
        }
        /* fall through */
    case CFG_T_U32:
    case CFG_T_PRIME:
        if (parse_i64(s, &v) < 0) {
            snprintf(msg, len, "expected a number%s, got '%s'",
                     o->type == CFG_T_INT_AUTO ? " or auto" : "", s);
            return -1;
        }
        if (check_range(s, v, o->min, o->max, msg, len) < 0)
            return -1;
        if (o->type == CFG_T_PRIME && check_prime(s, v, msg, len) < 0)
            return -1;
        opt_store(c, o, v);
        return 0;
    }
    return -1;
}

int cfg_opt_check(const struct cfg *c, const struct cfg_opt *o, char *msg, size_t len)
{
    int64_t v = opt_value(c, o);
    char s[32];
    if (o->type == CFG_T_IO) {
        if (v >= 0)
            return 0;
        snprintf(msg, len, "expected auto, uring or mmsg, got '%.16s'", c->io);
        return -1;
    }
    if (o->type == CFG_T_BOOL || (o->type == CFG_T_INT_AUTO && v == 0))
        return 0;
    snprintf(s, sizeof(s), "%lld", (long long)v);
    if (check_range(s, v, o->min, o->max, msg, len) < 0)
        return -1;
    return o->type == CFG_T_PRIME ? check_prime(s, v, msg, len) : 0;
}

void cfg_opt_format(const struct cfg *c, const struct cfg_opt *o, char *buf, size_t len)
{
    int64_t v = opt_value(c, o);
    if (o->type == CFG_T_BOOL)
        snprintf(buf, len, "%s", v ? "true" : "false");
    else if (o->type == CFG_T_IO)
        snprintf(buf, len, "%s", v >= 0 ? cfg_io_modes[v] : "auto");
    else if (o->type == CFG_T_INT_AUTO && v == 0)
        snprintf(buf, len, "auto");
    else
        snprintf(buf, len, "%lld", (long long)v);
}

/* ---- value checkers ---- */

int cfg_parse_bool(const char *s, bool *out)
{
    static const char *const t[] = {"true", "yes", "on", "1"}, *const f[] = {"false", "no", "off",
                                                                             "0"};
    for (int i = 0; i < ARRAY_LEN(t); i++) {
        if (strcasecmp(s, t[i]) == 0 || strcasecmp(s, f[i]) == 0) {
            *out = strcasecmp(s, t[i]) == 0;
            return 0;
        }
    }
    return -1;
}

int cfg_parse_addr(const char *s, bool sendable, char *out, size_t outlen, char *msg, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (net_addr_parse(s, &ss, &sl) < 0) {
        snprintf(msg, len, "'%s' is not an address (want IP:PORT or [IPv6]:PORT)", s);
        return -1;
    }
    if (sendable && !net_addr_sendable((const struct sockaddr *)&ss)) {
        snprintf(msg, len,
                 "%s cannot receive datagrams (port 0, multicast, broadcast or unspecified)", s);
        return -1;
    }
    if (net_addr_format((const struct sockaddr *)&ss, out, outlen) < 0) {
        snprintf(msg, len, "'%s' is too long", s);
        return -1;
    }
    return 0;
}

static bool is_dns_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_';
}

int cfg_check_hostport(const char *s, bool port_required, char *msg, size_t len)
{
    const char *want =
        port_required ? "HOST:PORT or [IPv6]:PORT" : "HOST, HOST:PORT or [IPv6]:PORT";
    const char *port = NULL;
    char ip6[64];
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        size_t n = rb ? (size_t)(rb - s - 1) : 0;
        struct in6_addr a;
        if (rb == NULL || n == 0 || n >= sizeof(ip6))
            goto bad;
        memcpy(ip6, s + 1, n);
        ip6[n] = '\0';
        if (inet_pton(AF_INET6, ip6, &a) != 1)
            goto bad;
        if (rb[1] == ':')
            port = rb + 2;
        else if (rb[1] != '\0')
            goto bad;
    } else {
        const char *colon = strchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s);
        if (n == 0 || n >= 64)
            goto bad;
        for (size_t i = 0; i < n; i++)
            if (!is_dns_char(s[i]))
                goto bad;
        if (colon)
            port = colon + 1;
    }
    if (port == NULL) {
        if (port_required)
            goto bad;
        return 0;
    }
    uint32_t p;
    char m[CFG_MSG];
    if (cfg_parse_u32(port, 1, 65535, &p, m, sizeof(m)) == 0)
        return 0;
bad:
    snprintf(msg, len, "'%s' is not a host and port (want %s)", s, want);
    return -1;
}

int cfg_check_cidr(const char *s, char *msg, size_t len)
{
    char ip[64], canon[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    unsigned char a[16];
    int af = AF_INET, bits = 32;
    if (n == 0 || n >= sizeof(ip))
        goto bad;
    memcpy(ip, s, n);
    ip[n] = '\0';
    if (inet_pton(AF_INET, ip, a) != 1) {
        af = AF_INET6;
        bits = 128;
        if (inet_pton(AF_INET6, ip, a) != 1)
            goto bad;
    }
    if (slash) {
        uint32_t prefix;
        char m[CFG_MSG];
        if (cfg_parse_u32(slash + 1, 0, (uint32_t)bits, &prefix, m, sizeof(m)) < 0) {
            snprintf(msg, len, "'%s': the prefix length must be 0..%d", s, bits);
            return -1;
        }
        bool host_bits = false;
        for (int i = 0; i < bits / 8; i++) {
            int keep = (int)prefix - i * 8;
            unsigned char mask = keep >= 8   ? 0xff
                                 : keep <= 0 ? 0
                                             : (unsigned char)(0xff << (8 - keep));
            host_bits |= (a[i] & ~mask) != 0;
            a[i] &= mask;
        }
        if (host_bits) {
            inet_ntop(af, a, canon, sizeof(canon));
            snprintf(msg, len, "'%s' has host bits set (did you mean %s/%u?)", s, canon, prefix);
            return -1;
        }
    }
    return 0;
bad:
    snprintf(msg, len, "'%s' is not an address or CIDR (want 10.0.0.0/8, 2001:db8::/32 or one IP)",
             s);
    return -1;
}

int cfg_check_name(const char *s, char *msg, size_t len)
{
    size_t n = strlen(s);
    bool ok = n > 0 && n < 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = is_dns_char(s[i]) || s[i] == ':' || s[i] == '@' || s[i] == '[' || s[i] == ']';
    if (!ok)
        snprintf(msg, len, "'%s' is not a name (1 to 63 of letters, digits, . _ - : @ [ ])", s);
    return ok ? 0 : -1;
}

int cfg_check_token(const char *s, size_t cap, char *msg, size_t len)
{
    size_t n = strlen(s);
    bool ok = n > 0 && n < cap;
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || strchr("-.!%*_+`'~", s[i]) != NULL;
    if (!ok)
        snprintf(msg, len, "'%s' is not a SIP token (1 to %zu letters, digits or -.!%%*_+`'~)", s,
                 cap - 1);
    return ok ? 0 : -1;
}

int cfg_parse_domain(const char *s, char *out, size_t outlen, char *msg, size_t len)
{
    size_t n = strlen(s);
    bool ok = n > 0 && n < outlen && strcmp(s, ".") != 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = is_dns_char(s[i]) || s[i] == ':' || s[i] == '[' || s[i] == ']';
    if (!ok) {
        snprintf(msg, len, "'%s' is not a domain (want example.com, or .example.com for a suffix)",
                 s);
        return -1;
    }
    /* Host names compare case-insensitively: store one case. */
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    return 0;
}

int cfg_parse_key(const char *s, enum cfg_key *key, char *hdr, size_t hdrlen, char *msg, size_t len)
{
    for (int i = 0; i < ARRAY_LEN(cfg_key_names); i++) {
        if (strcmp(s, cfg_key_names[i]) == 0) {
            *key = (enum cfg_key)i;
            hdr[0] = '\0';
            return 0;
        }
    }
    if (strncmp(s, "header:", 7) == 0) {
        const char *h = s + 7 + strspn(s + 7, " ");
        if (cfg_check_token(h, hdrlen, msg, len) < 0)
            return -1;
        *key = CFG_KEY_HEADER;
        snprintf(hdr, hdrlen, "%s", h);
        return 0;
    }
    const char *sug = cfg_suggest(s, cfg_key_names, ARRAY_LEN(cfg_key_names));
    snprintf(msg, len,
             "'%s' is not a key (call-id, to-aor, from-aor, ruri-aor, ruri-user, source-ip or "
             "{header: NAME})%s%s%s",
             s, sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
    return -1;
}

/* Levenshtein distance, case-insensitive, for names of at most 63 chars. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[64];
    if (la > 63 || lb > 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int sub = diag + ((a[i - 1] | 0x20) != (b[j - 1] | 0x20));
            int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[lb];
}

const char *cfg_suggest(const char *s, const char *const *cands, int n)
{
    const char *best = NULL;
    int bd = 3; /* more than two edits away is a different word */
    for (int i = 0; i < n; i++) {
        int d = edit_distance(s, cands[i]);
        if (d < bd && d < (int)strlen(cands[i])) {
            bd = d;
            best = cands[i];
        }
    }
    return best;
}

const char *cfg_backend_id(const struct cfg_backend *b)
{
    return b->name[0] ? b->name : b->address;
}

int cfg_pool_find(const struct cfg *c, const char *name)
{
    for (int i = 0; i < c->npools; i++)
        if (strcmp(c->pools[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- lifecycle ---- */

void cfg_defaults(struct cfg *c)
{
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < cfg_nopts; i++)
        opt_store(c, &cfg_opts[i], cfg_opts[i].def);
    c->key_register = CFG_KEY_TO_AOR;
    c->key_other = CFG_KEY_CALL_ID;
    c->npools = 1;
    snprintf(c->pools[0].name, sizeof(c->pools[0].name), "default");
}

void cfg_free(struct cfg *c)
{
    for (int i = 0; i < CFG_MAX_POOLS; i++) {
        free(c->pools[i].backends);
        c->pools[i].backends = NULL;
        c->pools[i].nbackends = 0;
    }
}

struct cfg *cfg_dup(const struct cfg *c)
{
    struct cfg *d = malloc(sizeof(*d));
    if (d == NULL)
        return NULL;
    memcpy(d, c, sizeof(*d));
    for (int i = 0; i < CFG_MAX_POOLS; i++) {
        size_t n = (size_t)c->pools[i].nbackends;
        d->pools[i].backends = NULL;
        if (n == 0)
            continue;
        d->pools[i].backends = malloc(n * sizeof(struct cfg_backend));
        if (d->pools[i].backends == NULL) {
            d->pools[i].nbackends = 0;
            cfg_free(d);
            free(d);
            return NULL;
        }
        memcpy(d->pools[i].backends, c->pools[i].backends, n * sizeof(struct cfg_backend));
    }
    return d;
}

void cfg_replace(struct cfg *to, struct cfg *from)
{
    cfg_free(to);
    memcpy(to, from, sizeof(*to));
    free(from);
}

/* ---- printing ---- */

/* A double-quoted YAML string; the checkers admit no control characters,
 * but escape them anyway so the output always parses. */
static void print_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* ["a", "b"] from n strings stride bytes apart. */
static void print_list(FILE *f, const char *first, size_t stride, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        print_str(f, first + (size_t)i * stride);
    }
    fputc(']', f);
}

static void print_key(FILE *f, enum cfg_key k, const char *hdr)
{
    if (k == CFG_KEY_HEADER) {
        fputs("{header: ", f);
        print_str(f, hdr);
        fputc('}', f);
    } else if ((int)k >= 0 && k < CFG_KEY_HEADER) {
        fputs(cfg_key_names[k], f);
    }
}

static void print_match(FILE *f, const struct cfg_rule *r)
{
    const char *sep = "";
    fputs("  - match: {", f);
    if (r->nmethods) {
        fputs("method: ", f);
        print_list(f, r->methods[0], sizeof(r->methods[0]), r->nmethods);
        sep = ", ";
    }
    if (r->nruri_domains) {
        fprintf(f, "%sruri_domain: ", sep);
        print_list(f, r->ruri_domains[0], sizeof(r->ruri_domains[0]), r->nruri_domains);
        sep = ", ";
    }
    if (r->nto_domains) {
        fprintf(f, "%sto_domain: ", sep);
        print_list(f, r->to_domains[0], sizeof(r->to_domains[0]), r->nto_domains);
        sep = ", ";
    }
    if (r->nsources) {
        fprintf(f, "%ssource: ", sep);
        print_list(f, r->sources[0], sizeof(r->sources[0]), r->nsources);
    }
    fputs("}\n", f);
}

void cfg_print(FILE *f, const struct cfg *c)
{
    char v[32];
    fprintf(f, "# viaduct: the effective configuration\nlisten:%s\n", c->nlisten ? "" : " []");
    for (int i = 0; i < c->nlisten; i++) {
        fputs("  - address: ", f);
        print_str(f, c->listen[i]);
        if (c->advertise[i][0]) {
            fputs("\n    advertise: ", f);
            print_str(f, c->advertise[i]);
        }
        fputc('\n', f);
    }
    if (c->nlisten == 0 && c->advertise[0][0]) {
        fputs("advertise: ", f);
        print_str(f, c->advertise[0]);
        fputc('\n', f);
    }
    fputs("aliases: ", f);
    print_list(f, c->aliases[0], sizeof(c->aliases[0]), c->naliases);
    fputc('\n', f);
    for (int i = 0; i < cfg_nopts; i++) {
        if (strchr(cfg_opts[i].name, '.'))
            continue;
        cfg_opt_format(c, &cfg_opts[i], v, sizeof(v));
        fprintf(f, "%s: %s\n", cfg_opts[i].name, v);
    }
    fputs("keys:\n  register: ", f);
    print_key(f, c->key_register, c->key_header_register);
    fputs("\n  default: ", f);
    print_key(f, c->key_other, c->key_header_other);
    fputs("\nhealth:\n", f);
    for (int i = 0; i < cfg_nopts; i++) {
        if (strncmp(cfg_opts[i].name, "health.", 7) != 0)
            continue;
        cfg_opt_format(c, &cfg_opts[i], v, sizeof(v));
        fprintf(f, "  %s: %s\n", cfg_opts[i].name + 7, v);
    }
    fputs("  codes: [", f);
    for (int i = 0; i < c->health.ncodes; i++)
        fprintf(f, "%s%u", i ? ", " : "", c->health.codes[i]);
    fputs("]\npools:\n", f);
    for (int i = 0; i < c->npools; i++) {
        const struct cfg_pool *p = &c->pools[i];
        fputs("  - name: ", f);
        print_str(f, p->name);
        fprintf(f, "\n    backends:%s\n", p->nbackends ? "" : " []");
        for (int j = 0; j < p->nbackends; j++) {
            const struct cfg_backend *b = &p->backends[j];
            fputs("      - {address: ", f);
            print_str(f, b->address);
            if (b->name[0]) {
                fputs(", name: ", f);
                print_str(f, b->name);
            }
            fprintf(f, ", weight: %u, drain: %s}\n", b->weight, b->drain ? "true" : "false");
        }
    }
    fprintf(f, "rules:%s\n", c->nrules ? "" : " []");
    for (int i = 0; i < c->nrules; i++) {
        const struct cfg_rule *r = &c->rules[i];
        bool any = r->nmethods || r->nruri_domains || r->nto_domains || r->nsources;
        if (any)
            print_match(f, r);
        fputs(any ? "    pool: " : "  - pool: ", f);
        print_str(f, r->pool);
        fputc('\n', f);
        if (r->has_key) {
            fputs("    key: ", f);
            print_key(f, r->key, r->key_header);
            fputc('\n', f);
        }
    }
}
