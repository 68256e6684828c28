/*
 * sip_uri.c - host[:port] and SIP/SIPS URIs (RFC 3261 §19.1, §25.1;
 * IPv6 references per RFC 5118).
 *
 * The userinfo ends at the first '@': no other part of a SIP URI may hold an
 * unescaped '@', so this is exact, and it keeps ';' in the user part where
 * RFC 4475 semiuri puts it. Escapes are checked (%HH) and never undone: the
 * forwarder carries the bytes as received.
 */
#include "parser/sip_chars.h"

/* An IPv4 address: four decimal octets of 1-3 digits, each <= 255. */
bool sip_ipv4_ok(struct span h)
{
    const char *p = h.p, *end = h.p + h.len;
    for (int i = 0; i < 4; i++) {
        const char *d = p;
        unsigned v = 0;
        while (p < end && sip_is(*p, SIP_C_DIGIT) && p - d < 3)
            v = v * 10 + (unsigned)(*p++ - '0');
        if (p == d || v > 255)
            return false;
        if (i < 3) {
            if (p == end || *p != '.')
                return false;
            p++;
        }
    }
    return p == end;
}

/*
 * An IPv6 reference's inside: hex groups and colons, at most one "::"
 * (RFC 5118 §4.10 asks to tolerate the ":::" of RFC 3261's ABNF bug, so a
 * run of three is accepted too), an optional trailing dotted IPv4.
 * Deliberately not a full validator: the forwarder resolves literals with
 * inet_pton, which has the last word.
 */
bool sip_ipv6_ok(struct span h)
{
    const char *p = h.p, *end = h.p + h.len;
    int colons = 0, double_runs = 0;
    if (h.len < 2 || h.len > 46)
        return false;
    while (p < end) {
        if (*p == ':') {
            const char *r = p;
            while (p < end && *p == ':')
                p++;
            colons += (int)(p - r);
            if (p - r > 3 || (p - r >= 2 && ++double_runs > 1))
                return false;
            continue;
        }
        const char *g = p;
        p = sip_skip(p, end, SIP_C_HEX);
        if (p < end && *p == '.') {
            /* the trailing dotted quad, which must end the address */
            return colons >= 2 && sip_ipv4_ok(span_range(g, end));
        }
        if (p == g || p - g > 4)
            return false;
    }
    return colons >= 2;
}

/* hostname = *( domainlabel "." ) toplabel [ "." ]; toplabel starts with a
 * letter; '_' is tolerated (seen in the wild), empty labels are not. h holds
 * only SIP_C_HOST bytes. The scalar reference: */
static bool is_hostname_scalar(struct span h)
{
    const char *p = h.p, *end = h.p + h.len;
    const char *label = p, *last = p;
    if (end > p && end[-1] == '.')
        end--;
    if (p == end)
        return false;
    for (; p <= end; p++) {
        if (p == end || *p == '.') {
            if (p == label || *label == '-' || p[-1] == '-')
                return false;
            last = label;
            label = p + 1;
        }
    }
    return sip_is(*last, SIP_C_ALPHA);
}

#ifdef SIP_SIMD
/* Bit i set iff byte i of [p, p + 16) is c; the 16 bytes are read at p, or
 * as the last 16 before hi, shifted (sip_scan16's window rule: the caller
 * checked that 16 bytes before hi are readable). */
static inline unsigned eq_mask16(const char *p, const char *hi, __m128i c)
{
    if (hi - p >= 16)
        return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(sip_load16(p), c));
    const char *w = hi - 16;
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(sip_load16(w), c)) >> (p - w);
}
#endif

/*
 * is_hostname_scalar() as bit arithmetic on the '.' and '-' masks of a name
 * of up to 32 bytes (two vector loads), instead of a branch per byte: with
 * D the dots and H the dashes, a label starts at bit 0 and after each dot
 * (S), and ends before each dot and at the last byte (E). A dot at a label's
 * start or end is an empty label, a dash there is a bad label, and the last
 * label starts after the highest dot. [lo, hi) may be read.
 */
static bool is_hostname(struct span h, const char *lo, const char *hi)
{
#ifdef SIP_SIMD
    size_t n = h.len;
    if (n >= 1 && n <= 32 && hi - lo >= 16) {
        n -= h.p[n - 1] == '.';
        if (n == 0)
            return false;
        const __m128i dot = _mm_set1_epi8('.'), dash = _mm_set1_epi8('-');
        uint32_t d = eq_mask16(h.p, hi, dot), m = eq_mask16(h.p, hi, dash);
        if (n > 16) {
            d |= (uint32_t)eq_mask16(h.p + 16, hi, dot) << 16;
            m |= (uint32_t)eq_mask16(h.p + 16, hi, dash) << 16;
        }
        uint32_t in = n == 32 ? UINT32_MAX : (UINT32_C(1) << n) - 1;
        d &= in;
        m &= in;
        uint32_t starts = (1 | d << 1) & in, ends = d >> 1 | UINT32_C(1) << (n - 1);
        if ((d | m) & (starts | ends))
            return false;
        size_t last = d ? 32 - (size_t)__builtin_clz(d) : 0;
        return sip_is(h.p[last], SIP_C_ALPHA);
    }
#else
    (void)lo;
    (void)hi;
#endif
    return is_hostname_scalar(h);
}

/* The general path: host, then [":" port]. [lo, end) may be read. */
static __attribute__((noinline)) int hostport_slow(const char *p, const char *end, const char *lo,
                                                   struct sip_hostport *out)
{
    const char *start = p;
    if (*p == '[') {
        const char *h = ++p;
        p = sip_skip(p, end, SIP_C_IPV6);
        if (p == end || *p != ']' || !sip_ipv6_ok(span_range(h, p)))
            return SIP_EURI;
        out->host = span_range(h, p++);
        out->host_type = SIP_HOST_IPV6;
    } else {
        const char *h = p;
        p = sip_skip_an(p, end, lo, end, SIP_C_HOST);
        out->host = span_range(h, p);
        /* an IPv4 address starts with a digit; a name need not, so a
         * digit only decides which test runs first */
        if (p > h && sip_is(*h, SIP_C_DIGIT) && sip_ipv4_ok(out->host))
            out->host_type = SIP_HOST_IPV4;
        else if (is_hostname(out->host, lo, end))
            out->host_type = SIP_HOST_NAME;
        else
            return SIP_EURI;
    }
    if (p < end && *p == ':') {
        p++;
        if ((out->port = sip_port_fast(&p, end)) < 0)
            return SIP_EURI;
    }
    return (int)(p - start);
}

/*
 * host [":" port] at [p, end), p < end; [lo, end) may be read. The fast path
 * takes a host of [A-Za-z0-9.-] up to 31 bytes (nearly all of them): the
 * host run, its IPv4 octets and its hostname labels all come from the class
 * bits of one or two vector loads, instead of a run scan, then a scalar
 * IPv4 walk, then two more loads for the labels. Anything else (an IPv6
 * reference, '_', a longer name, a window under 16 bytes) takes the general
 * path, which gives the same results.
 */
static inline int hostport_at(const char *p, const char *end, const char *lo,
                              struct sip_hostport *out)
{
    out->port = -1;
#ifdef SIP_SIMD
    if (end - lo >= 16) {
        struct sip_host_bits b;
        unsigned n = sip_host_scan(p, end, &b);
        int r = sip_host_finish(p, end, n, &b, out);
        if (r != 0)
            return r;
    }
#endif
    return hostport_slow(p, end, lo, out);
}

int sip_hostport_parse(struct span s, struct sip_hostport *out)
{
    out->port = -1;
    if (s.p == NULL || s.len == 0)
        return SIP_EURI;
    return hostport_at(s.p, s.p + s.len, s.p, out);
}

/* All of s is in cls, with every '%' followed by two hex digits. */
static bool chars_ok(struct span s, unsigned cls)
{
    const char *p = s.p, *end = s.p + s.len;
    for (; p < end; p++) {
        if (!sip_is(*p, cls))
            return false;
        if (*p == '%') {
            if (end - p < 3 || !sip_is(p[1], SIP_C_HEX) || !sip_is(p[2], SIP_C_HEX))
                return false;
            p += 2;
        }
    }
    return true;
}

/* The first byte at or after p that is not a URI param byte or starts a bad
 * escape: chars_ok(SIP_C_PARAM) over a run whose end is not known yet. A
 * '%' must have two hex digits before end; else NULL. */
static inline const char *param_run(const char *p, const char *end)
{
    for (; p < end && sip_is(*p, SIP_C_PARAM); p++) {
        if (*p == '%') {
            if (end - p < 3 || !sip_is(p[1], SIP_C_HEX) || !sip_is(p[2], SIP_C_HEX))
                return NULL;
            p += 2;
        }
    }
    return p;
}

/* A URI parameter the forwarder reads, by name: lr (an empty span after its
 * name when it has no value), transport, maddr, user. name holds no
 * control byte, so the folded compares are exact (sip_eq_lit_fold). */
static inline void uri_param(struct sip_uri *u, struct span name, struct span v)
{
    if (SIP_EQ_FOLD(name, "lr"))
        u->lr = v.p ? v : span_make(span_end(name), 0);
    else if (SIP_EQ_FOLD(name, "transport"))
        u->transport = v;
    else if (SIP_EQ_FOLD(name, "maddr"))
        u->maddr = v;
    else if (SIP_EQ_FOLD(name, "user"))
        u->user_param = v;
}

/*
 * uri-parameters = *( ";" pname [ "=" pvalue ] ), from p (after the first
 * ';') up to the first '?' or end, every element non-empty. One pass: a
 * name or value is a run of param bytes, and the byte that ends it must be
 * what may follow it; none of ';' '=' '?' is a param byte, so this finds
 * the same elements as splitting at the first '?', then at ';' and '=', and
 * checking each part's bytes. Sets u->params; returns the byte after them
 * ('?' or end), or NULL.
 */
static const char *uri_params(const char *p, const char *end, struct sip_uri *u)
{
    const char *start = p;
    for (;;) {
        const char *n = p;
        if ((p = param_run(p, end)) == NULL || p == n)
            return NULL;
        struct span name = span_range(n, p), v = SPAN_NULL;
        if (p < end && *p == '=') {
            const char *val = ++p;
            if ((p = param_run(p, end)) == NULL || p == val)
                return NULL;
            v = span_range(val, p);
        }
        if (p < end && *p != ';' && *p != '?')
            return NULL; /* a byte no param may hold, or a second '=' */
        /* name holds param bytes only, no control byte (uri_param) */
        uri_param(u, name, v);
        if (p == end || *p == '?') {
            u->params = span_range(start, p);
            return p;
        }
        p++; /* past ';' */
    }
}

#ifdef SIP_SIMD
static inline unsigned stop_at(__m128i v)
{
    return (unsigned)_mm_movemask_epi8(sip_eq8(v, '@'));
}
#endif

/* The first '@' in [p, end), or NULL; [lo, end) may be read. The vector
 * loop stands in for a memchr call, which costs more than the scan on a
 * URI's few dozen bytes; without 16 readable bytes, a byte loop. */
static inline const char *find_at(const char *p, const char *end, const char *lo)
{
#ifdef SIP_SIMD
    const char *q = sip_scan16(p, end, lo, end, stop_at);
    if (q != NULL)
        return q < end ? q : NULL;
#else
    (void)lo;
#endif
    for (; p < end; p++)
        if (*p == '@')
            return p;
    return NULL;
}

#ifdef SIP_SIMD
/*
 * sip_uri_parse's userinfo and hostport for the two common shapes, from
 * the host bits at p (after "sip:"), so the host's bytes are loaded once:
 * "user@host" with a user of [A-Za-z0-9.-] (no ':', no escape: chars_ok
 * holds), or no '@' anywhere, where the run at p is the host. Returns the
 * bytes of userinfo and hostport, SIP_EURI where the general path fails
 * too, or 0 to leave the URI to it. [lo, end) may be read, end - lo >= 16.
 */
static inline int uri_fast(const char *p, const char *end, const char *lo, struct sip_uri *u)
{
    struct sip_host_bits b;
    unsigned n = sip_host_scan(p, end, &b);
    const char *q = p + n;
    if (n >= 32)
        return 0;
    if (q < end && *q == '@') {
        /* the first '@': every byte before it is alphanumeric, '.' or '-' */
        if (n == 0 || q + 1 == end)
            return 0;
        int r = hostport_at(q + 1, end, lo, &u->hp);
        if (r < 0)
            return SIP_EURI;
        u->user = span_range(p, q);
        return (int)(q + 1 - p) + r;
    }
    if (q < end && find_at(q, end, lo) != NULL)
        return 0;
    return sip_host_finish(p, end, n, &b, &u->hp);
}
#endif

/* Every field absent and port -1, field by field for the reason via_clear()
 * in sip_via.c gives (no rep stosq for a 192-byte struct). */
static void uri_clear(struct sip_uri *u)
{
    _Static_assert(sizeof(struct sip_uri) ==
                       8 + 10 * sizeof(struct span) + sizeof(struct sip_hostport),
                   "uri_clear must set every field of struct sip_uri");
    u->scheme = 0;
    u->scheme_s = SPAN_NULL;
    u->user = SPAN_NULL;
    u->password = SPAN_NULL;
    u->hp = (struct sip_hostport){.host = SPAN_NULL, .host_type = 0, .port = -1};
    u->params = SPAN_NULL;
    u->headers = SPAN_NULL;
    u->lr = SPAN_NULL;
    u->transport = SPAN_NULL;
    u->maddr = SPAN_NULL;
    u->user_param = SPAN_NULL;
    u->opaque = SPAN_NULL;
}

static int uri_slow(struct span s, struct sip_uri *u);

#ifdef SIP_SIMD
/*
 * The whole of a short SIP URI from the bits of the two vector loads that
 * cover what follows "sip:" (up to 32 bytes): [user "@"] host [":" port]
 * *(";" name ["=" value]), where user, host, names and values are runs of
 * [A-Za-z0-9.-] (no password, escape or headers). Then every byte outside
 * those runs is an '@', ':', ';' or '=' at its place, so there is no
 * second '@' or '?', and the general path would find the same userinfo,
 * the same host and port (sip_host_finish on the same bits), and the same
 * params. Each step is a ctz on the bits instead of a scan or a byte
 * loop. Returns 1 with the
 * general path's results, or 0 to leave the URI to it. [s, end) is the
 * URI, 16+ bytes, starting "sip:" (folded); every load stays inside it.
 */
static inline int uri_short(const char *s, const char *end, struct sip_uri *u)
{
    const char *p = s + 4;
    if (end - p > 32 || p == end)
        return 0;
    struct sip_host_bits b = sip_host_bits16(p, end);
    if (end - p > 16) {
        struct sip_host_bits c = sip_host_bits16(p + 16, end);
        b.an |= c.an << 16;
        b.alpha |= c.alpha << 16;
        b.dot |= c.dot << 16;
        b.dash |= c.dash << 16;
        b.w = 16 + c.w;
    }
    /* the bits describe all of [p, end): a run that stops at bit w stops
     * at end */
    /* in 64 bits, so that a run of all 32 bytes stops at bit 32 (w) */
    unsigned n = (unsigned)__builtin_ctzll(~(uint64_t)b.an);
    struct span user = SPAN_NULL;
    const char *h = p;
    if (n < b.w && h[n] == '@' && n > 0 && p + n + 1 < end) {
        /* user "@": the first '@', after an alphanumeric user (chars_ok
         * holds); the host's bits are the same bits, shifted */
        user = span_make(p, n);
        unsigned k = n + 1;
        h = p + k;
        b.an >>= k;
        b.alpha >>= k;
        b.dot >>= k;
        b.dash >>= k;
        b.w -= k;
        n = (unsigned)__builtin_ctzll(~(uint64_t)b.an);
    }
    /* written straight into u: if this gives up, uri_slow starts with
     * uri_clear, so nothing of the attempt is left */
    _Static_assert(sizeof(struct sip_uri) ==
                       8 + 10 * sizeof(struct span) + sizeof(struct sip_hostport),
                   "uri_short must set every field of struct sip_uri, as uri_clear does");
    u->hp.port = -1;
    int r = sip_host_finish(h, end, n, &b, &u->hp);
    if (r <= 0)
        return 0;
    u->scheme = SIP_SCHEME_SIP;
    u->scheme_s = span_make(s, 3);
    u->user = user;
    u->password = SPAN_NULL;
    u->params = SPAN_NULL;
    u->headers = SPAN_NULL;
    u->lr = SPAN_NULL;
    u->transport = SPAN_NULL;
    u->maddr = SPAN_NULL;
    u->user_param = SPAN_NULL;
    u->opaque = SPAN_NULL;
    unsigned i = (unsigned)r; /* bit of h's bits at the byte after hostport */
    if (i == b.w)
        return 1;
    if (h[i] != ';')
        return 0;
    u->params = span_range(h + i + 1, end);
    uint64_t stop = ~(uint64_t)b.an; /* bits w.. set: every run stops at end */
    do {
        /* h[i] is a ';': name, then '=' value, then ';' or end */
        unsigned j = i + 1 + (unsigned)__builtin_ctzll(stop >> (i + 1));
        struct span name = span_range(h + i + 1, h + j), v = SPAN_NULL;
        if (name.len == 0)
            return 0;
        if (j < b.w && h[j] == '=') {
            unsigned e = j + 1 + (unsigned)__builtin_ctzll(stop >> (j + 1));
            v = span_range(h + j + 1, h + e);
            if (v.len == 0)
                return 0;
            j = e;
        }
        if (j < b.w && h[j] != ';')
            return 0; /* '?', '@', ':', a second '=', an escape, ... */
        /* name is [A-Za-z0-9.-] (uri_param) */
        uri_param(u, name, v);
        i = j;
    } while (i < b.w);
    return 1;
}
#endif

int sip_uri_parse(struct span s, struct sip_uri *u)
{
#ifdef SIP_SIMD
    if (s.len >= 16 && sip_eq_lit_fold3(s.p, "sip:") && uri_short(s.p, s.p + s.len, u))
        return 0;
#endif
    return uri_slow(s, u);
}

/* The general path: every field from scratch. */
static __attribute__((noinline)) int uri_slow(struct span s, struct sip_uri *u)
{
    uri_clear(u);
    if (s.p == NULL)
        return SIP_EURI;
    const char *p = s.p, *end = s.p + s.len;

    if (end - p >= 4 && sip_eq_lit_fold3(p, "sip:")) {
        /* nearly every URI: one folded load decides what the general
         * path below would (the scheme run stops at the ':') */
        u->scheme_s = span_make(p, 3);
        u->scheme = SIP_SCHEME_SIP;
        p += 4;
    } else {
        if (p == end || !sip_is(*p, SIP_C_ALPHA))
            return SIP_EURI;
        p = sip_skip(p, end, SIP_C_SCHEME);
        if (p == end || *p != ':')
            return SIP_EURI;
        u->scheme_s = span_range(s.p, p++);
        if (span_eq_nocase(u->scheme_s, SPAN_LIT("sip")))
            u->scheme = SIP_SCHEME_SIP;
        else if (span_eq_nocase(u->scheme_s, SPAN_LIT("sips")))
            u->scheme = SIP_SCHEME_SIPS;
        else
            u->scheme = SIP_SCHEME_OTHER;
    }

    if (u->scheme == SIP_SCHEME_OTHER) {
        /* absoluteURI: only its bytes are checked, never its meaning */
        u->opaque = span_range(p, end);
        if (u->opaque.len == 0)
            return SIP_EURI;
        for (const char *q = p; q < end; q++)
            if ((unsigned char)*q <= 0x20 || *q == 0x7f || *q == '<' || *q == '>' || *q == '"')
                return SIP_EURI;
        return 0;
    }

    int n = 0; /* bytes of userinfo and hostport taken by uri_fast() */
#ifdef SIP_SIMD
    if (p < end && end - s.p >= 16 && (n = uri_fast(p, end, s.p, u)) < 0)
        return SIP_EURI;
#endif
    if (n == 0) {
        const char *at = find_at(p, end, s.p);
        if (at != NULL) {
            /* the user part is short: a walk finds its ':' sooner than a call */
            const char *colon = p;
            while (colon < at && *colon != ':')
                colon++;
            u->user = span_range(p, colon);
            if (u->user.len == 0 || !chars_ok(u->user, SIP_C_USER))
                return SIP_EURI;
            if (colon < at) {
                u->password = span_range(colon + 1, at);
                if (!chars_ok(u->password, SIP_C_PASS))
                    return SIP_EURI;
            }
            p = at + 1;
        }
        if (p == end || (n = hostport_at(p, end, s.p, &u->hp)) < 0)
            return SIP_EURI;
    }
    p += n;

    if (p < end && *p == ';' && (p = uri_params(p + 1, end, u)) == NULL)
        return SIP_EURI;
    if (p < end && *p == '?') {
        u->headers = span_range(p + 1, end);
        if (u->headers.len == 0 || !chars_ok(u->headers, SIP_C_HNV))
            return SIP_EURI;
        p = end;
    }
    return p == end ? 0 : SIP_EURI;
}
