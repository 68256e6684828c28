/*
 * sip_validate.c - what a stateless proxy reads from every message, parsed
 * once and checked in the order the forwarder needs to act on a failure:
 * the top Via first, because without it not even an error response can be
 * routed back (a counted drop), then the headers every request must carry
 * (RFC 3261 §8.1.1), then the Request-URI.
 */
#include "parser/sip_chars.h"

/* callid = word [ "@" word ]: every byte a word byte, except at most one
 * '@' that neither starts nor ends it. */
static bool callid_ok(struct span c)
{
    const char *p = c.p, *end = c.p + c.len;
    const char *at = NULL;
    if (p == end)
        return false;
#ifdef SIP_SIMD
    if (c.len >= 16) {
        /* block by block, looking only at the bytes outside [A-Za-z0-9.-]
         * (all word bytes): one load each, instead of a run scan that
         * restarts after every such byte */
        for (const char *b = p; b < end; b += 16) {
            unsigned n = end - b < 16 ? (unsigned)(end - b) : 16;
            uint32_t m = sip_not_an16(b, end) & ((UINT32_C(1) << n) - 1);
            for (; m != 0; m &= m - 1) {
                const char *q = b + __builtin_ctz(m);
                if (*q == '@') {
                    if (at != NULL || q == c.p || q + 1 == end)
                        return false;
                    at = q;
                } else if (!sip_is(*q, SIP_C_WORD)) {
                    return false;
                }
            }
        }
        return true;
    }
#endif
    /* the scalar reference: word runs, and only an '@' may end one */
    while ((p = sip_skip_an(p, end, c.p, end, SIP_C_WORD)) < end) {
        if (*p != '@' || at != NULL || p == c.p || p + 1 == end)
            return false;
        at = p++;
    }
    return true;
}

/* a == b for two short method tokens: overlapping loads from both instead
 * of a memcmp call (both spans hold len readable bytes). */
static inline bool method_eq(struct span a, struct span b)
{
    if (a.len != b.len)
        return false;
    size_t n = a.len;
    if (n >= 8 && n <= 16)
        return ((sip_ld8(a.p) ^ sip_ld8(b.p)) | (sip_ld8(a.p + n - 8) ^ sip_ld8(b.p + n - 8))) == 0;
    if (n >= 4 && n < 8)
        return ((sip_ld4(a.p) ^ sip_ld4(b.p)) | (sip_ld4(a.p + n - 4) ^ sip_ld4(b.p + n - 4))) == 0;
    return span_eq(a, b);
}

int sip_validate(const struct sip_msg *m, struct sip_info *out)
{
    int err;
    struct span v;

    if (m->nvia == 0)
        return SIP_ENOVIA;
    if ((err = sip_via_parse(m->via[0], &out->via1)) < 0)
        return err;

    out->callid = sip_hvalue(m, SIP_H_CALL_ID);
    if (out->callid.p == NULL)
        return SIP_ENOCALLID;
    if (!callid_ok(out->callid))
        return SIP_ECALLID;

    if ((v = sip_hvalue(m, SIP_H_FROM)).p == NULL)
        return SIP_ENOFROM;
    if ((err = sip_nameaddr_parse(v, &out->from)) < 0)
        return err;
    if ((v = sip_hvalue(m, SIP_H_TO)).p == NULL)
        return SIP_ENOTO;
    if ((err = sip_nameaddr_parse(v, &out->to)) < 0)
        return err;

    if ((v = sip_hvalue(m, SIP_H_CSEQ)).p == NULL)
        return SIP_ENOCSEQ;
    if ((err = sip_cseq_parse(v, &out->cseq, &out->cseq_method)) < 0)
        return err;
    if (m->is_request && !method_eq(out->cseq_method, m->method))
        return SIP_ECSEQMETHOD;

    out->max_fwd = -1;
    if ((v = sip_hvalue(m, SIP_H_MAX_FORWARDS)).p != NULL &&
        (out->max_fwd = sip_maxfwd_parse(v)) < 0)
        return out->max_fwd;

    if (!m->is_request)
        return 0;
    if (sip_uri_parse(m->ruri, &out->ruri) < 0)
        return SIP_ERURI;
    /* §19.1.1: a Request-URI never carries headers (RFC 4475 escruri) */
    if (out->ruri.scheme != SIP_SCHEME_OTHER && out->ruri.headers.p != NULL)
        return SIP_ERURI;
    return 0;
}
