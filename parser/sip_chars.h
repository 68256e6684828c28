/*
 * sip_chars.h - character classes and small scanners shared by the parser's
 * files (internal to parser/). One 256-entry table, one bit per class, as
 * picohttpparser's token_char_map and nginx's usual[] do: a class test is one
 * load and one AND, with no branches on the character's value.
 */
#ifndef VIADUCT_SIP_CHARS_H
#define VIADUCT_SIP_CHARS_H

#include <stdint.h>

#include "parser/sip.h"

/* The vector fast paths (G8): SSE2 is the x86-64 baseline, so no runtime
 * dispatch is needed. -DSIP_SCALAR builds the scalar reference loops alone;
 * the unit tests run against both builds. */
#if defined(__SSE2__) && !defined(SIP_SCALAR)
#define SIP_SIMD 1
#include <emmintrin.h>
#endif

enum {
    SIP_C_TOKEN = 1 << 0, /* RFC 3261 token */
    SIP_C_WS = 1 << 1,    /* SP HTAB CR LF: inside a value CR/LF only occur in folds */
    SIP_C_DIGIT = 1 << 2,
    SIP_C_HEX = 1 << 3,
    SIP_C_HOST = 1 << 4,  /* hostname and IPv4 bytes: alnum - . _ (_ tolerated) */
    SIP_C_USER = 1 << 5,  /* URI user: unreserved, user-unreserved, % */
    SIP_C_PASS = 1 << 6,  /* URI password: unreserved & = + $ , % */
    SIP_C_PARAM = 1 << 7, /* URI param: unreserved, param-unreserved, % */
    SIP_C_HNV = 1 << 8,   /* URI headers: unreserved, hnv-unreserved, % = & */
    SIP_C_CTL = 1 << 9,   /* 0x00-0x1F and 0x7F: where the value scanner stops */
    SIP_C_ALPHA = 1 << 10,
    SIP_C_WORD = 1 << 11,   /* Call-ID word */
    SIP_C_IPV6 = 1 << 12,   /* hex : . inside an IPv6 reference */
    SIP_C_SCHEME = 1 << 13, /* ALPHA DIGIT + - . */
    SIP_C_GENVAL = 1 << 14, /* gen-value as a token or host: token [ ] : */
};

extern const uint16_t sip_cc[256];

static inline int sip_is(char c, unsigned cls)
{
    return sip_cc[(uint8_t)c] & cls;
}

/* First byte at or after p that is not in cls, or end. */
static inline const char *sip_skip(const char *p, const char *end, unsigned cls)
{
    while (p < end && sip_is(*p, cls))
        p++;
    return p;
}

static inline const char *sip_skip_ws(const char *p, const char *end)
{
    return sip_skip(p, end, SIP_C_WS);
}

/* s without leading and trailing SP/HTAB/CR/LF. */
static inline struct span sip_trim(struct span s)
{
    const char *p = s.p, *end = s.p + s.len;
    while (p < end && sip_is(*p, SIP_C_WS))
        p++;
    while (end > p && sip_is(end[-1], SIP_C_WS))
        end--;
    return span_range(p, end);
}

#ifdef SIP_SIMD
static inline __m128i sip_load16(const char *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* 0xFF in each byte of v that lies in [lo, hi] (unsigned, hi < 0x80), else 0.
 * SSE2 has only signed byte compares: adding 0x80 - lo moves [lo, hi] to the
 * bottom of the signed range, so one compare does the rest. */
static inline __m128i sip_in_range(__m128i v, int lo, int hi)
{
    __m128i x = _mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - lo)));
    return _mm_cmplt_epi8(x, _mm_set1_epi8((char)(0x80 + hi - lo + 1)));
}

static inline __m128i sip_eq8(__m128i v, char c)
{
    return _mm_cmpeq_epi8(v, _mm_set1_epi8(c));
}

/* 0xFF in each byte of v that is <= max (unsigned). */
static inline __m128i sip_le8(__m128i v, char max)
{
    return _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(max)), v);
}

/*
 * The one vector loop every scanner shares: the first byte in [p, end) whose
 * bit is set in stop(16 bytes), or end. It may load any 16 bytes inside
 * [lo, hi), the range the caller knows to be readable (lo <= p, end <= hi):
 * inside sip_parse that is the whole datagram, so a short value still takes
 * whole-vector steps; the last step loads the 16 bytes that end at hi and
 * shifts out those before p, so nothing outside [lo, hi) is ever read (the
 * guard-page tests check this). Returns NULL if [lo, hi) is shorter than 16
 * bytes: the caller then runs its scalar reference loop. always_inline so
 * that stop, a constant at every call, is inlined too.
 */
static inline __attribute__((always_inline)) const char *sip_scan16(const char *p, const char *end,
                                                                    const char *lo, const char *hi,
                                                                    unsigned (*stop)(__m128i))
{
    if (hi - lo < 16)
        return NULL;
    /* whole vectors while one fits before hi and the scan is not over:
     * one bound to compare per step */
    const char *last = hi - 16, *lim = end <= last ? end : last + 1;
    unsigned m;
    for (; p < lim; p += 16) {
        if ((m = stop(sip_load16(p))) != 0) {
            p += __builtin_ctz(m);
            return p < end ? p : end;
        }
    }
    if (p >= end)
        return end;
    /* p is past last: the vector that ends at hi, without the bytes before p */
    m = stop(sip_load16(last)) >> (p - last);
    if (m == 0)
        return end;
    p += __builtin_ctz(m);
    return p < end ? p : end;
}

/* Bytes outside [A-Za-z0-9.-]: the run every token-like class (token, host,
 * URI user and param, Call-ID word, scheme) is mostly made of. */
static inline unsigned sip_stop_not_an(__m128i v)
{
    __m128i alpha = sip_in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
    /* '-' '.' '/' and the digits are 0x2D-0x39: one range, minus the '/' */
    __m128i num = _mm_andnot_si128(sip_eq8(v, '/'), sip_in_range(v, '-', '9'));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(alpha, num)) ^ 0xFFFFu;
}
#endif

/*
 * First byte at or after p not in cls, or end, for a class that contains all
 * of [A-Za-z0-9.-] (token, host, user, param, word, scheme): the vector loop
 * runs over that common core and the table takes the few other bytes. lo and
 * hi bound what may be read, as for sip_scan16.
 */
static inline const char *sip_skip_an(const char *p, const char *end, const char *lo,
                                      const char *hi, unsigned cls)
{
#ifdef SIP_SIMD
    for (;;) {
        const char *q = sip_scan16(p, end, lo, hi, sip_stop_not_an);
        if (q == NULL)
            break; /* under 16 readable bytes: the scalar loop below */
        if (q == end || !sip_is(*q, cls))
            return q;
        /* a class byte outside the core (a token's '!', a host's '_'):
         * step over it. Restarting the vector loop costs about as much as
         * a dozen table tests, so it restarts only if an alphanumeric run
         * follows; anything else finishes in the scalar loop */
        p = q + 1;
        if (p == end || !sip_is(*p, SIP_C_ALPHA | SIP_C_DIGIT))
            break;
    }
#else
    (void)lo;
    (void)hi;
#endif
    return sip_skip(p, end, cls);
}

#ifdef SIP_SIMD
static inline unsigned sip_stop_quoted(__m128i v)
{
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(sip_eq8(v, '"'), sip_eq8(v, '\\')));
}
#endif

/*
 * p points at an opening '"'. Returns the byte after the closing quote, or
 * NULL if the string does not close before end. A backslash escapes any one
 * byte (quoted-pair), so "\"" does not close it.
 */
static inline const char *sip_scan_quoted(const char *p, const char *end)
{
    const char *lo = p;
    for (p++; p < end; p++) {
#ifdef SIP_SIMD
        /* only '"' and '\\' act: jump to the next one (sip_scan16 reads
         * nothing outside [lo, end)) */
        const char *q = sip_scan16(p, end, lo, end, sip_stop_quoted);
        if (q != NULL && (p = q) == end)
            return NULL;
#else
        (void)lo;
#endif
        if (*p == '"')
            return p + 1;
        if (*p == '\\' && ++p == end)
            return NULL;
    }
    return NULL;
}

/*
 * Short fixed-length compares with one or two loads instead of a byte loop.
 * memcpy into an integer (G9: never *(uint64_t *)p, which breaks alignment
 * and aliasing rules); both sides are loaded the same way, so byte order
 * cancels out, and a literal's load folds to a constant at -O2.
 * n is 2..16 and a compile-time constant at every call; [p, p + n) must be
 * readable. Lengths between the load sizes use two overlapping loads.
 */
static inline uint64_t sip_ld8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t sip_ld4(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint16_t sip_ld2(const char *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* [p, p + n) == lit[0, n), exactly. Both halves are tested with one
 * branch: (a ^ A) | (b ^ B) is zero only if both match. */
static inline bool sip_eq_lit(const char *p, const char *lit, size_t n)
{
    if (n >= 8)
        return ((sip_ld8(p) ^ sip_ld8(lit)) | (sip_ld8(p + n - 8) ^ sip_ld8(lit + n - 8))) == 0;
    if (n >= 4)
        return ((sip_ld4(p) ^ sip_ld4(lit)) | (sip_ld4(p + n - 4) ^ sip_ld4(lit + n - 4))) == 0;
    return ((sip_ld2(p) ^ sip_ld2(lit)) | (sip_ld2(p + n - 2) ^ sip_ld2(lit + n - 2))) == 0;
}

/*
 * [p, p + n) equals lit ASCII-case-insensitively, where lit is lower case
 * letters, digits and "-./" only (each has bit 0x20 set, so | 0x20 leaves it
 * alone). | 0x20 folds A-Z onto a-z; the only other bytes it maps onto such a
 * literal's bytes are control bytes (0x0D -> '-', 0x10 -> '0'), so the
 * compare is exact when [p, p + n) holds no byte below 0x20: callers pass
 * tokens or class-checked names.
 */
static inline bool sip_eq_lit_fold(const char *p, const char *lit, size_t n)
{
    const uint64_t f8 = 0x2020202020202020ULL;
    const uint32_t f4 = 0x20202020U;
    const uint16_t f2 = 0x2020U;
    if (n >= 8)
        return (((sip_ld8(p) | f8) ^ sip_ld8(lit)) |
                ((sip_ld8(p + n - 8) | f8) ^ sip_ld8(lit + n - 8))) == 0;
    if (n >= 4)
        return (((sip_ld4(p) | f4) ^ sip_ld4(lit)) |
                ((sip_ld4(p + n - 4) | f4) ^ sip_ld4(lit + n - 4))) == 0;
    return ((uint16_t)((sip_ld2(p) | f2) ^ sip_ld2(lit)) |
            (uint16_t)((sip_ld2(p + n - 2) | f2) ^ sip_ld2(lit + n - 2))) == 0;
}

/* [p, p + 4) equals lit, 4 bytes: its first 3 case-insensitively (lower
 * case letters, as for sip_eq_lit_fold), the 4th exactly: "sip:", "sip/".
 * The fold mask is loaded like the data, so it lands on the first three
 * bytes in either byte order; no control byte folds onto a letter. */
static inline bool sip_eq_lit_fold3(const char *p, const char *lit)
{
    return ((sip_ld4(p) | sip_ld4("\x20\x20\x20\x00")) ^ sip_ld4(lit)) == 0;
}

/* s equals the literal L (lower case per sip_eq_lit_fold; 2..16 bytes). */
#define SIP_EQ_FOLD(s, L) ((s).len == sizeof(L) - 1 && sip_eq_lit_fold((s).p, (L), sizeof(L) - 1))

/* Compact forms (RFC 3261 §7.3.3, RFC 3265, RFC 3515), indexed by letter. */
static inline enum sip_hid sip_hname_compact(unsigned char c)
{
    switch (c | 0x20) {
    case 'v': return SIP_H_VIA;
    case 'i': return SIP_H_CALL_ID;
    case 'f': return SIP_H_FROM;
    case 't': return SIP_H_TO;
    case 'm': return SIP_H_CONTACT;
    case 'l': return SIP_H_CONTENT_LENGTH;
    case 'c': return SIP_H_CONTENT_TYPE;
    case 'k': return SIP_H_SUPPORTED;
    case 's': return SIP_H_SUBJECT;
    case 'e': return SIP_H_CONTENT_ENCODING;
    case 'o': return SIP_H_EVENT;
    case 'r': return SIP_H_REFER_TO;
    case 'u': return SIP_H_ALLOW_EVENTS;
    default: return SIP_H_OTHER;
    }
}

/* name (a token, so the fold is exact: sip_eq_lit_fold) equals the
 * lower-case literal L of the same length. */
#define IS(L) sip_eq_lit_fold(name.p, (L), sizeof(L) - 1)

/*
 * sip_hname_id() (sip_hname.c), here so that sip_parse's per-line loop
 * inlines it: a call there spilled the cursors and reloaded the scan
 * constants once per header line.
 */
static inline __attribute__((always_inline)) enum sip_hid sip_hname_lookup(struct span name)
{
    /* by length first: most lengths have one candidate, and each candidate is
     * one or two folded 2/4/8-byte compares (G9), so a lookup costs a switch
     * and a few compares instead of a loop per candidate and byte; this runs
     * for every header line of every datagram */
    switch (name.len) {
    case 1: return sip_hname_compact((unsigned char)name.p[0]);
    case 2: return IS("to") ? SIP_H_TO : SIP_H_OTHER;
    case 3: return IS("via") ? SIP_H_VIA : SIP_H_OTHER;
    case 4:
        if (IS("from"))
            return SIP_H_FROM;
        if (IS("cseq"))
            return SIP_H_CSEQ;
        if (IS("path"))
            return SIP_H_PATH;
        break;
    case 5:
        if (IS("route"))
            return SIP_H_ROUTE;
        if (IS("event"))
            return SIP_H_EVENT;
        break;
    case 7:
        if (IS("call-id"))
            return SIP_H_CALL_ID;
        if (IS("contact"))
            return SIP_H_CONTACT;
        if (IS("expires"))
            return SIP_H_EXPIRES;
        if (IS("require"))
            return SIP_H_REQUIRE;
        if (IS("subject"))
            return SIP_H_SUBJECT;
        break;
    case 8: return IS("refer-to") ? SIP_H_REFER_TO : SIP_H_OTHER;
    case 9: return IS("supported") ? SIP_H_SUPPORTED : SIP_H_OTHER;
    case 10: return IS("user-agent") ? SIP_H_USER_AGENT : SIP_H_OTHER;
    case 12:
        if (IS("max-forwards"))
            return SIP_H_MAX_FORWARDS;
        if (IS("record-route"))
            return SIP_H_RECORD_ROUTE;
        if (IS("content-type"))
            return SIP_H_CONTENT_TYPE;
        if (IS("allow-events"))
            return SIP_H_ALLOW_EVENTS;
        break;
    case 13: return IS("proxy-require") ? SIP_H_PROXY_REQUIRE : SIP_H_OTHER;
    case 14: return IS("content-length") ? SIP_H_CONTENT_LENGTH : SIP_H_OTHER;
    case 16: return IS("content-encoding") ? SIP_H_CONTENT_ENCODING : SIP_H_OTHER;
    }
    return SIP_H_OTHER;
}

#undef IS

/* sip_list_next for a list inside a buffer that is readable up to hi (at
 * or past the list's end), so the scan may load whole vectors past the
 * list: sip_parse passes the datagram's end (sip_addr.c). */
int sip_list_split(struct span *list, struct span *item, const char *hi);

/* sip_parse() by its careful pass alone (sip_msg.c): what the fast pass must
 * equal wherever it succeeds, for the tests and the fuzzer to compare. */
int sip_parse_careful(const char *buf, size_t len, struct sip_msg *m);

/* IP literals as RFC 3261 and RFC 5118 write them (sip_uri.c). */
bool sip_ipv4_ok(struct span h);
bool sip_ipv6_ok(struct span h); /* without brackets */

/* A port at *pp: 1 to 5 digits, at most 65535, not followed by a digit.
 * Returns it and advances *pp, or -1. */
static inline int32_t sip_port_read(const char **pp, const char *end)
{
    const char *p = *pp, *d = p;
    int32_t port = 0;
    while (p < end && sip_is(*p, SIP_C_DIGIT) && p - d < 5)
        port = port * 10 + (*p++ - '0');
    if (p == d || port > 65535 || (p < end && sip_is(*p, SIP_C_DIGIT)))
        return -1;
    *pp = p;
    return port;
}

/* ---- deep parsers' shared helpers (sip_via.c, sip_uri.c, sip_addr.c,
 * sip_validate.c) ---- */

#ifdef SIP_SIMD
/*
 * sip_stop_not_an's bits for the bytes [p, min(p + 16, end)), bit 0 for p,
 * plus one bit just past them: at end - p if the bytes stop at end, else at
 * 16 (more bytes follow). So ctz() of the result is where an alphanumeric
 * run from p stops, or 16 if this block cannot tell. The load is at p, or
 * the 16 bytes that end at end, shifted (sip_scan16's window rule: the
 * caller checked end - lo >= 16 for a readable [lo, end), lo <= p < end).
 */
static inline uint32_t sip_not_an16(const char *p, const char *end)
{
    if (end - p >= 16)
        return sip_stop_not_an(sip_load16(p)) | UINT32_C(1) << 16;
    unsigned n = (unsigned)(end - p);
    return sip_stop_not_an(sip_load16(end - 16)) >> (16 - n) | UINT32_C(1) << n;
}
#endif

/*
 * sip_param_next's common shape, name=value or a bare name with no LWS and
 * no quotes, where both runs are mostly [A-Za-z0-9.-]: the name and, when
 * short, the value come from the bits of one vector load instead of a
 * token loop, LWS loops and a second scan. Returns 1 as sip_param_next
 * would, or 0 to leave the param to it (anything else, errors included).
 * [lo, end) may be read. Inline in the Via and name-addr loops (sip_addr.c
 * calls it first in sip_param_split too).
 */
static inline __attribute__((always_inline)) int
sip_param_fast(struct span *params, struct span *name, struct span *value, const char *lo)
{
#ifdef SIP_SIMD
    const char *p = params->p, *end = p + params->len;
    if (end - lo < 16 || p == end)
        return 0;
    uint32_t m = sip_not_an16(p, end);
    unsigned i = (unsigned)__builtin_ctz(m);
    const char *q = p + i;
    /* a name of [A-Za-z0-9.-] ended by '=', ';' or end is exactly the token
     * run; anything else (LWS, '"', a 16+ byte name, a token byte such as
     * '+' or '_') goes to the general path */
    if (i == 0 || i == 16 || (q < end && *q != '=' && *q != ';'))
        return 0;
    *name = span_range(p, q);
    *value = SPAN_NULL;
    if (q < end && *q == '=') {
        const char *v = q + 1;
        m >>= i + 1;
        const char *w = v + __builtin_ctz(m); /* m keeps its end bit: never 0 */
        if (w == p + 16 && w < end) {
            /* the value goes on past the block (a branch): one more */
            w += __builtin_ctz(sip_not_an16(w, end));
            if (w == p + 32 && w < end)
                w = sip_skip_an(w, end, lo, end, SIP_C_GENVAL);
        }
        /* a gen-value byte outside [A-Za-z0-9.-] (':' '[' ']' of a host,
         * '_' '!' of a token) continues the run */
        if (w < end && sip_is(*w, SIP_C_GENVAL))
            w = sip_skip_an(w, end, lo, end, SIP_C_GENVAL);
        if (w == v)
            return 0; /* LWS or a quote after '=', or nothing */
        *value = span_range(v, w);
        q = w;
    }
    if (q == end) {
        *params = span_make(end, 0);
        return 1;
    }
    /* q is at a ';' (a '=' here is a second one, an error), and an element
     * must follow it without LWS to stay on this path */
    if (*q != ';' || q + 1 == end || sip_is(q[1], SIP_C_WS))
        return 0;
    *params = span_range(q + 1, end);
    return 1;
#else
    (void)params;
    (void)name;
    (void)value;
    (void)lo;
    return 0;
#endif
}

/* sip_param_next for params inside a value readable from lo (<= params->p)
 * to the params' end, so the scans may take whole vectors from before the
 * params (sip_addr.c). */
int sip_param_split(struct span *params, struct span *name, struct span *value, const char *lo);

/* ---- host [":" port] fast path, shared by sip_uri.c and sip_via.c (the
 * Via inlines it instead of calling sip_hostport_parse) ---- */

/* sip_port_read() without the table loads: the digit test is one compare. */
static inline int32_t sip_port_fast(const char **pp, const char *end)
{
    const char *p = *pp;
    int32_t port = 0;
    int n = 0;
    while (p < end && (unsigned char)(*p - '0') < 10) {
        if (++n > 5)
            return -1; /* a sixth digit: sip_port_read refuses it too */
        port = port * 10 + (*p++ - '0');
    }
    if (n == 0 || port > 65535)
        return -1;
    *pp = p;
    return port;
}

#ifdef SIP_SIMD
/* What a host is made of, one bit per byte. */
struct sip_host_bits {
    uint32_t an;    /* [A-Za-z0-9.-]: sip_stop_not_an's complement */
    uint32_t alpha; /* [A-Za-z] */
    uint32_t dot, dash;
    unsigned w; /* bytes the bits cover: 16 or 32, or fewer where end is */
};

/* host_bits of [p, min(p + 16, end)) in bits 0-15; bits for bytes at or past
 * end are 0. The load is at p, or the 16 bytes that end at end, shifted
 * (sip_scan16's window rule: the caller checked end - lo >= 16). */
static inline struct sip_host_bits sip_host_bits16(const char *p, const char *end)
{
    unsigned sh = 0;
    const char *w = p;
    if (end - p < 16) {
        w = end - 16;
        sh = (unsigned)(p - w);
    }
    __m128i v = sip_load16(w);
    __m128i alpha = sip_in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
    /* '-' '.' '/' and the digits are 0x2D-0x39, as in sip_stop_not_an */
    __m128i num = _mm_andnot_si128(sip_eq8(v, '/'), sip_in_range(v, '-', '9'));
    struct sip_host_bits b;
    b.alpha = (uint32_t)_mm_movemask_epi8(alpha) >> sh;
    b.an = b.alpha | (uint32_t)_mm_movemask_epi8(num) >> sh;
    b.dot = (uint32_t)_mm_movemask_epi8(sip_eq8(v, '.')) >> sh;
    b.dash = (uint32_t)_mm_movemask_epi8(sip_eq8(v, '-')) >> sh;
    b.w = 16 - sh;
    return b;
}

/*
 * sip_ipv4_ok() of h[0, n), n <= 15 bytes that are digits and dots only,
 * with dots d, as bit tests instead of a walk: no dot at either end and no
 * two together (no empty octet), exactly three dots, no four digits in a
 * row; then only an octet of three digits can exceed 255.
 */
static inline bool sip_ipv4_bits_ok(const char *h, unsigned n, uint32_t d)
{
    uint32_t g = ((UINT32_C(1) << n) - 1) & ~d; /* the digits */
    uint32_t d1 = d & (d - 1), d2 = d1 & (d1 - 1);
    if ((d & (1 | d >> 1 | UINT32_C(1) << (n - 1))) != 0 || d1 == 0 || d2 == 0 ||
        (d2 & (d2 - 1)) != 0)
        return false;
    uint32_t three = g & g >> 1 & g >> 2; /* where a run of three digits starts */
    if ((three & g >> 3) != 0)
        return false;
    for (; three != 0; three &= three - 1) {
        const char *o = h + __builtin_ctz(three);
        if ((o[0] - '0') * 100 + (o[1] - '0') * 10 + (o[2] - '0') > 255)
            return false;
    }
    return true;
}

/* is_hostname() of an n-byte host (1..31 bytes, all [A-Za-z0-9.-]) from
 * its dot and dash bits: the same bit arithmetic. */
static inline bool sip_hostname_bits_ok(const char *h, unsigned n, uint32_t d, uint32_t m)
{
    n -= h[n - 1] == '.';
    if (n == 0)
        return false;
    uint32_t in = (UINT32_C(1) << n) - 1;
    d &= in;
    m &= in;
    uint32_t starts = (1 | d << 1) & in, ends = d >> 1 | UINT32_C(1) << (n - 1);
    if ((d | m) & (starts | ends))
        return false;
    unsigned last = d ? 32 - (unsigned)__builtin_clz(d) : 0;
    return sip_is(h[last], SIP_C_ALPHA);
}
#endif

#ifdef SIP_SIMD
/* The host bits of up to 32 bytes at p (p < end; end - lo >= 16 for the
 * caller's readable lo) and the length of the [A-Za-z0-9.-] run at p; 32
 * means it may go on. A second load only for a run of 16+ bytes. */
static inline __attribute__((always_inline)) unsigned sip_host_scan(const char *p, const char *end,
                                                                    struct sip_host_bits *b)
{
    *b = sip_host_bits16(p, end);
    uint32_t an = b->an;
    if (an == 0xFFFF && end - p > 16) {
        struct sip_host_bits c = sip_host_bits16(p + 16, end);
        b->an = an |= c.an << 16;
        b->alpha |= c.alpha << 16;
        b->dot |= c.dot << 16;
        b->dash |= c.dash << 16;
        b->w = 16 + c.w;
    }
    return an == UINT32_MAX ? 32 : (unsigned)__builtin_ctz(~an);
}

/*
 * host [":" port] from the run [p, p + n) found by sip_host_scan and its bits:
 * the bytes consumed, SIP_EURI, or 0 if the general path must decide (an
 * empty run, one that may go on past 32 bytes, or a '_', a host byte
 * outside the vector class, after it). The results are the general
 * path's: a run of digits and dots is an IPv4 address or nothing, since
 * such a name's last label would not start with a letter.
 */
static inline __attribute__((always_inline)) int sip_host_finish(const char *p, const char *end,
                                                                 unsigned n,
                                                                 const struct sip_host_bits *b,
                                                                 struct sip_hostport *out)
{
    const char *q = p + n;
    if (n == 0 || n >= 32 || (q < end && sip_is(*q, SIP_C_HOST)))
        return 0;
    uint32_t run = (UINT32_C(1) << n) - 1;
    out->host = span_make(p, n);
    if (sip_is(*p, SIP_C_DIGIT) && (run & (b->alpha | b->dash)) == 0) {
        if (n > 15 || !sip_ipv4_bits_ok(p, n, b->dot & run))
            return SIP_EURI;
        out->host_type = SIP_HOST_IPV4;
    } else {
        if (!sip_hostname_bits_ok(p, n, b->dot, b->dash))
            return SIP_EURI;
        out->host_type = SIP_HOST_NAME;
    }
    if (q < end && *q == ':') {
        /* the port's digits are in the bits already (the [A-Za-z0-9.-]
         * bytes that are none of the others): if the run ends inside them,
         * or they reach end, its length is known without a byte loop */
        uint32_t g = b->an & ~(b->alpha | b->dot | b->dash);
        unsigned k = n + 1 < b->w ? (unsigned)__builtin_ctz(~(g >> (n + 1))) : 0;
        q++;
        if (n + 1 + k < b->w || p + b->w == end) {
            /* 1 to 5 digits, at most 65535, as sip_port_fast takes */
            if (k == 0 || k > 5)
                return SIP_EURI;
            int32_t port = 0;
            for (unsigned i = 0; i < k; i++)
                port = port * 10 + (q[i] - '0');
            if (port > 65535)
                return SIP_EURI;
            out->port = port;
            q += k;
        } else if ((out->port = sip_port_fast(&q, end)) < 0) {
            return SIP_EURI;
        }
    }
    return (int)(q - p);
}
#endif

#endif
