/*
 * sip_scalar.c - the numeric headers: CSeq, Max-Forwards, Content-Length.
 *
 * Each accumulates digits with a bound check after every digit, so a
 * value of any length is refused rather than wrapped (RFC 4475 scalar02,
 * ncl), and leading zeros are allowed (wsinv's "0068").
 */
#include "parser/sip_chars.h"

/* Reads 1+ digits at *pp into *out, failing above max (at most 2^32 - 1).
 * v <= max before each step, so v * 10 + 9 < 2^36 cannot wrap a uint64_t:
 * checking after the step needs no division, and fails exactly where
 * v * 10 + d > max. */
static inline bool read_uint(const char **pp, const char *end, uint64_t max, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;
    if (p == end || !sip_is(*p, SIP_C_DIGIT))
        return false;
    for (; p < end && sip_is(*p, SIP_C_DIGIT); p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > max)
            return false;
    }
    *pp = p;
    *out = v;
    return true;
}

int sip_cseq_parse(struct span v, uint32_t *num, struct span *method)
{
    const char *p = v.p, *end = v.p + v.len;
    uint64_t n;
    if (!read_uint(&p, end, UINT32_MAX, &n))
        return SIP_ECSEQ;
    const char *ws = p;
    p = sip_skip_ws(p, end);
    if (p == ws)
        return SIP_ECSEQ;
    const char *m = p;
    p = sip_skip(p, end, SIP_C_TOKEN);
    if (p == m || sip_skip_ws(p, end) != end)
        return SIP_ECSEQ;
    *num = (uint32_t)n;
    *method = span_range(m, p);
    return 0;
}

int sip_maxfwd_parse(struct span v)
{
    const char *p = v.p, *end = v.p + v.len;
    uint64_t n;
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
