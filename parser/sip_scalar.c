/*
 * sip_scalar.c - the numeric headers: CSeq, Max-Forwards, Content-Length.
 *
 * Each accumulates digits with a bound check after every digit, so a
 * value of any length is refused rather than wrapped (RFC 4475 scalar02,
 * ncl), and leading zeros are allowed (wsinv's "0068").
 */
#include "parser/sip_chars.h"

/* The digit test as one subtract and compare, not a table load: this runs
 * per byte of every CSeq and Max-Forwards. */
static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

#if defined(SIP_SIMD) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/*
 * The leading digits of the 8 bytes at p as a number, and their count n
 * (0..8), by SWAR on one 64-bit load instead of a compare, a branch and a
 * multiply per digit. A byte is a digit iff its high nibble is 3 and adding
 * 6 keeps it 3. The digits are shifted to the top and summed pairwise in
 * three multiplies (2 digits, 4, 8), the usual 8-digit parse. Little
 * endian only (x86-64, where SIP_SIMD is set; elsewhere the loop runs).
 */
static inline uint64_t digits8(const char *p, unsigned *n)
{
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ULL, three = 0x3030303030303030ULL;
    uint64_t x = sip_ld8(p);
    uint64_t bad = ((x & hi) ^ three) | (((x + 0x0606060606060606ULL) & hi) ^ three);
    unsigned k = bad ? (unsigned)__builtin_ctzll(bad) / 8 : 8;
    *n = k;
    if (k == 0)
        return 0;
    x = (x & 0x0F0F0F0F0F0F0F0FULL) << (8 * (8 - k));  /* first digit in the top byte... */
    x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFULL;   /* ...pairs, */
    x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFULL; /* quads, */
    return (x * 10000 + (x >> 32)) & 0xFFFFFFFFULL;    /* all eight */
}
#endif

/* Reads 1+ digits at *pp into *out, failing above max (at most 2^32 - 1).
 * v <= max before each step, so v * 10 + 9 < 2^36 cannot wrap a uint64_t:
 * checking after the step needs no division, and fails exactly where
 * v * 10 + d > max. */
static inline bool read_uint(const char **pp, const char *end, uint64_t max, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;
#if defined(SIP_SIMD) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (end - p >= 8) {
        /* up to 8 digits at once; every prefix of them is <= their value,
         * so the value alone says whether a step above would fail */
        unsigned n;
        v = digits8(p, &n);
        if (n == 0 || v > max)
            return false;
        p += n;
        if (n < 8) {
            *pp = p;
            *out = v;
            return true;
        }
    }
#endif
    if (p == end || !is_digit(*p)) {
        if (p == *pp)
            return false;
        *pp = p;
        *out = v;
        return true;
    }
    do {
        v = v * 10 + (uint64_t)(*p++ - '0');
        if (v > max)
            return false;
    } while (p < end && is_digit(*p));
    *pp = p;
    *out = v;
    return true;
}

#if defined(SIP_SIMD) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/*
 * CSeq's one shape in practice, "digits SP method" with at most 7 digits
 * and a method of [A-Za-z0-9.-] that ends the value: one SWAR load for the
 * number, and the method's bytes tested by one vector compare of the 8 or
 * 16 bytes that end the value (they are inside it: the value holds 8+
 * bytes), instead of the skip loops. Returns 1 with the general path's
 * results, or 0 to leave the value to it (errors included).
 */
static inline int cseq_fast(const char *p, const char *end, uint32_t *num, struct span *method)
{
    unsigned n;
    size_t len = (size_t)(end - p);
    if (len < 8)
        return 0;
    uint64_t v = digits8(p, &n);
    /* n < 8: the digits stop inside the load, so v is all of them and
     * below 10^7 < 2^32 */
    if (n == 0 || n == 8 || p[n] != ' ')
        return 0;
    const char *m = p + n + 1;
    size_t k = (size_t)(end - m);
    uint32_t bad;
    if (k == 0 || k > 16 || (k > 8 && len < 16))
        return 0;
    if (k <= 8) /* the 8 bytes that end the value, exactly: no read past it */
        bad = sip_stop_not_an(_mm_loadl_epi64((const __m128i *)(const void *)(end - 8))) & 0xFF &
              ~((1u << (8 - k)) - 1);
    else
        bad = sip_stop_not_an(sip_load16(end - 16)) & ~((1u << (16 - k)) - 1);
    /* every method byte in [A-Za-z0-9.-]: a token ending the value, with no
     * LWS before it (m[0] is not SP) nor after it */
    if (bad != 0)
        return 0;
    *num = (uint32_t)v;
    *method = span_range(m, end);
    return 1;
}
#endif

/* The general path, out of line so that the fast one needs no saved
 * registers. */
static __attribute__((noinline)) int cseq_slow(struct span v, uint32_t *num, struct span *method)
{
    const char *p = v.p, *end = v.p + v.len;
    uint64_t n;
    if (!read_uint(&p, end, UINT32_MAX, &n))
        return SIP_ECSEQ;
    if (p == end || !sip_is(*p, SIP_C_WS))
        return SIP_ECSEQ;
    p = sip_skip_ws(p + 1, end);
    const char *m = p;
    p = sip_skip(p, end, SIP_C_TOKEN);
    /* the value is trimmed, so nearly always the method ends it */
    if (p == m || (p != end && sip_skip_ws(p, end) != end))
        return SIP_ECSEQ;
    *num = (uint32_t)n;
    *method = span_range(m, p);
    return 0;
}

int sip_cseq_parse(struct span v, uint32_t *num, struct span *method)
{
#if defined(SIP_SIMD) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (cseq_fast(v.p, v.p + v.len, num, method))
        return 0;
#endif
    return cseq_slow(v, num, method);
}

int sip_maxfwd_parse(struct span v)
{
    const char *p = v.p, *end = v.p + v.len;
    uint64_t n;
    /* nearly every value is one or two digits ("70", "68"): straight-line
     * code, no loop; at most 99, so no bound to check */
    if (v.len == 2 && is_digit(p[0]) && is_digit(p[1]))
        return (p[0] - '0') * 10 + (p[1] - '0');
    if (v.len == 1 && is_digit(p[0]))
        return p[0] - '0';
    if (!read_uint(&p, end, 255, &n) || p != end)
        return SIP_EMAXFWD;
    return (int)n;
}

int32_t sip_clen_parse(struct span v)
{
    const char *p = v.p, *end = v.p + v.len;
    uint64_t n;
    if (!read_uint(&p, end, INT32_MAX, &n) || p != end)
        return SIP_ECLEN;
    return (int32_t)n;
}
