/*
 * sip_validate.c - what a stateless proxy reads from every message, parsed
 * once and checked in the order the forwarder needs to act on a failure:
 * the top Via first, because without it not even an error response can be
 * routed back (a counted drop), then the headers every request must carry
 * (RFC 3261 §8.1.1), then the Request-URI.
 */
#include "parser/sip_chars.h"

/* callid = word [ "@" word ]. The word runs go by sip_skip_an() (vector
 * steps over [A-Za-z0-9.-], the table for the rest); only the byte that ends
 * a run is looked at. */
static bool callid_ok(struct span c)
{
    const char *p = c.p, *end = c.p + c.len;
    const char *at = NULL;
    if (p == end)
        return false;
    while ((p = sip_skip_an(p, end, c.p, end, SIP_C_WORD)) < end) {
        if (*p != '@' || at != NULL || p == c.p || p + 1 == end)
            return false;
        at = p++;
    }
    return true;
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
    if (m->is_request && !span_eq(out->cseq_method, m->method))
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
