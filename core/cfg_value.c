/*
 * cfg_value.c - the value parsers every configuration layer shares: numbers
 * and their bounds, primes, booleans, addresses, HOST:PORT, CIDRs, names,
 * tokens, domains and hash keys. Each kind of value is parsed here and only
 * here, so a value is judged the same way whether it came from the file, a
 * VIADUCT_* variable or a flag. Each writes a plain reason without a
 * location ("10 is below the minimum 50"); the layer prefixes
 * "FILE:LINE: name: ", "VIADUCT_X: " or "--flag: ".
 */
#include "core/cfg_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/net.h"

#define ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- numbers ---- */

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
int cfg_parse_i64(const char *s, int64_t *v)
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
int cfg_check_range(const char *s, int64_t v, int64_t min, int64_t max, char *msg, size_t len)
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
    if (cfg_parse_i64(s, &v) < 0) {
        snprintf(msg, len, "expected a number, got '%s'", s);
        return -1;
    }
    if (cfg_check_range(s, v, min, max, msg, len) < 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int cfg_check_prime(const char *s, int64_t v, char *msg, size_t len)
{
    if (is_prime((uint64_t)v))
        return 0;
    int64_t up = v + 1;
    while (!is_prime((uint64_t)up))
        up++;
    snprintf(msg, len, "%s is not prime (try %lld)", s, (long long)up);
    return -1;
}

/* ---- the other kinds ---- */

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

enum cfg_tp cfg_listen_split(const char *s, const char **addr)
{
    static const char *const prefix[] = {
        [CFG_TP_UDP] = "udp:", [CFG_TP_TCP] = "tcp:", [CFG_TP_TLS] = "tls:"};
    for (int t = CFG_TP_UDP; t <= CFG_TP_TLS; t++) {
        if (strncasecmp(s, prefix[t], 4) == 0) {
            *addr = s + 4;
            return (enum cfg_tp)t;
        }
    }
    *addr = s;
    return CFG_TP_UDP;
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

/* A DNS name: labels of 1..63 letters, digits, '-' and '_' (SRV's service
 * labels), dot-separated, not all digits and dots (an IPv4 literal
 * mistyped); stored lower-cased. A final dot makes it absolute: the
 * resolver then skips resolv.conf's search list (Kubernetes' ndots:5 would
 * try four other names first). */
static int dns_name(const char *s, size_t n, char *out, size_t outlen)
{
    size_t label = 0;
    bool alpha = false;
    if (n == 0 || n + 1 > outlen || s[0] == '.')
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '.') {
            if (label == 0) /* "a..b"; a leading '.' is refused above */
                return -1;
            label = 0;
        } else if (!is_dns_char(ch) || ++label > 63) {
            return -1;
        }
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_')
            alpha = true;
        out[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    out[n] = '\0';
    return alpha ? 0 : -1; /* all digits and dots: a broken IPv4 address, not a name */
}

int cfg_parse_backend_addr(const char *s, char *out, size_t outlen, uint8_t *dns, char *msg,
                           size_t len)
{
    char m[CFG_MSG];
    struct sockaddr_storage ss;
    socklen_t sl;
    *dns = CFG_DNS_NONE;
    if (cfg_parse_addr(s, true, out, outlen, m, sizeof(m)) == 0)
        return 0;
    if (net_addr_parse(s, &ss, &sl) == 0) { /* an address, but not one to send to */
        snprintf(msg, len, "%s", m);
        return -1;
    }
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    if (s[0] != '[' && dns_name(s, n, out, outlen) == 0) {
        if (s[0] == '_' && colon == NULL && strchr(s, '.') != NULL) {
            *dns = CFG_DNS_SRV;
            return 0;
        }
        uint32_t port;
        if (s[0] != '_' && colon != NULL &&
            cfg_parse_u32(colon + 1, 1, 65535, &port, m, sizeof(m)) == 0 && n + 7 <= outlen) {
            snprintf(out + n, outlen - n, ":%u", port);
            *dns = CFG_DNS_HOST;
            return 0;
        }
    }
    snprintf(msg, len,
             "'%s' is not an address (want IP:PORT, [IPv6]:PORT, NAME:PORT or an SRV "
             "name _service._proto.NAME)",
             s);
    return -1;
}

int cfg_parse_hostport(const char *s, bool port_required, struct cfg_hostport *out, char *msg,
                       size_t len)
{
    const char *want =
        port_required ? "HOST:PORT or [IPv6]:PORT" : "HOST, HOST:PORT or [IPv6]:PORT";
    const char *port = NULL, *h = s;
    size_t n;
    struct in6_addr a;
    memset(out, 0, sizeof(*out));
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        h = s + 1;
        n = rb ? (size_t)(rb - h) : 0;
        if (rb == NULL || n == 0 || n >= sizeof(out->host))
            goto bad;
        memcpy(out->host, h, n);
        if (inet_pton(AF_INET6, out->host, &a) != 1)
            goto bad;
        out->ip6 = true;
        if (rb[1] == ':')
            port = rb + 2;
        else if (rb[1] != '\0')
            goto bad;
    } else {
        const char *colon = strchr(s, ':');
        n = colon ? (size_t)(colon - s) : strlen(s);
        if (n == 0 || n >= sizeof(out->host))
            goto bad;
        for (size_t i = 0; i < n; i++)
            if (!is_dns_char(s[i]))
                goto bad;
        memcpy(out->host, s, n);
        if (colon)
            port = colon + 1;
    }
    out->host_len = n;
    if (port == NULL) {
        if (port_required)
            goto bad;
        return 0;
    }
    uint32_t p;
    char m[CFG_MSG];
    if (cfg_parse_u32(port, 1, 65535, &p, m, sizeof(m)) == 0) {
        out->port = (int)p;
        return 0;
    }
bad:
    memset(out, 0, sizeof(*out));
    snprintf(msg, len, "'%s' is not a host and port (want %s)", s, want);
    return -1;
}

int cfg_check_hostport(const char *s, bool port_required, char *msg, size_t len)
{
    struct cfg_hostport hp;
    return cfg_parse_hostport(s, port_required, &hp, msg, len);
}

int cfg_parse_cidr(const char *s, struct cfg_cidr *out, char *msg, size_t len)
{
    char ip[64], canon[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    unsigned char a[16] = {0};
    int af = AF_INET, bits = 32;
    uint32_t prefix;
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
    prefix = (uint32_t)bits;
    if (slash) {
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
    out->family = af;
    memcpy(out->addr, a, sizeof(out->addr));
    out->prefix = (int)prefix;
    return 0;
bad:
    snprintf(msg, len, "'%s' is not an address or CIDR (want 10.0.0.0/8, 2001:db8::/32 or one IP)",
             s);
    return -1;
}

void cfg_format_cidr(const struct cfg_cidr *c, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    inet_ntop(c->family, c->addr, ip, sizeof(ip));
    if (c->prefix == (c->family == AF_INET ? 32 : 128))
        snprintf(buf, len, "%s", ip);
    else
        snprintf(buf, len, "%s/%d", ip, c->prefix);
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

