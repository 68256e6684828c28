/*
 * sip_via.c - one Via value (RFC 3261 §20.42, §25.1; RFC 3581 rport).
 *
 *   via-parm = sent-protocol LWS sent-by *( SEMI via-params )
 *   sent-protocol = protocol-name SLASH protocol-version SLASH transport
 *
 * SLASH, SEMI and EQUAL allow LWS on both sides (RFC 4475 wsinv folds inside
 * "SIP / 2.0 / UDP"). The spans recorded for params are what the forwarder
 * edits: received is replaced, and an rport without a value is an empty span
 * just after its name, the place where "=port" goes.
 */
#include "parser/sip_chars.h"

/* token, then SWS "/" SWS; returns the byte after the slash's SWS or NULL. */
static const char *token_slash(const char *p, const char *end, struct span *tok)
{
    const char *t = p;
    p = sip_skip(p, end, SIP_C_TOKEN);
    if (p == t)
        return NULL;
    *tok = span_range(t, p);
    p = sip_skip_ws(p, end);
    if (p == end || *p != '/')
        return NULL;
    return sip_skip_ws(p + 1, end);
}

/* received = IPv4address / IPv6address; RFC 5118 §4.5 shows both without
 * brackets, and brackets are tolerated. */
static bool received_ok(struct span v)
{
    if (v.len > 2 && v.p[0] == '[' && v.p[v.len - 1] == ']')
        return sip_ipv6_ok(span_make(v.p + 1, v.len - 2));
    return sip_ipv4_ok(v) || sip_ipv6_ok(v);
}

static bool all_digits(struct span v)
{
    return v.len > 0 && sip_skip(v.p, v.p + v.len, SIP_C_DIGIT) == v.p + v.len;
}

/* A short all-digit value (the callers bound its length). */
static int small_uint(struct span v)
{
    int n = 0;
    for (size_t i = 0; i < v.len; i++)
        n = n * 10 + (v.p[i] - '0');
    return n;
}

/* name comes from sip_param_next, so it is a token and the folded compares
 * are exact (sip_eq_lit_fold); each is a length test and one or two loads */
static int via_param(struct sip_via *out, struct span name, struct span value)
{
    if (SIP_EQ_FOLD(name, "branch")) {
        if (!value.p)
            return SIP_EVIA;
        out->branch = value;
    } else if (SIP_EQ_FOLD(name, "received")) {
        if (!value.p || !received_ok(value))
            return SIP_EVIA;
        out->received = value;
    } else if (SIP_EQ_FOLD(name, "rport")) {
        /* a port: a forwarder routes a response by it (RFC 3581 §4) */
        if (value.p && (!all_digits(value) || value.len > 5 || small_uint(value) > 65535))
            return SIP_EVIA;
        out->rport = value.p ? value : span_make(span_end(name), 0);
    } else if (SIP_EQ_FOLD(name, "maddr")) {
        if (!value.p)
            return SIP_EVIA;
        out->maddr = value;
    } else if (SIP_EQ_FOLD(name, "ttl")) {
        if (!value.p || !all_digits(value) || value.len > 3 || small_uint(value) > 255)
            return SIP_EVIA;
        out->ttl = value;
    }
    return 0;
}

/*
 * Every field absent. Field by field on purpose: gcc -O2 turns a whole-struct
 * zeroing of this size (168 bytes) into rep stosq, a microcoded string op
 * with a start-up cost of tens of cycles where fast short rep is missing
 * (this parser's EPYC VM reports neither erms nor fsrm); these are plain
 * stores. The assert catches a field added to sip.h but not here.
 */
static void via_clear(struct sip_via *out)
{
    _Static_assert(sizeof(struct sip_via) == 9 * sizeof(struct span) + sizeof(struct sip_hostport),
                   "via_clear must set every field of struct sip_via");
    out->protocol = SPAN_NULL;
    out->version = SPAN_NULL;
    out->transport = SPAN_NULL;
    out->sent_by = (struct sip_hostport){.host = SPAN_NULL, .host_type = 0, .port = 0};
    out->params = SPAN_NULL;
    out->branch = SPAN_NULL;
    out->received = SPAN_NULL;
    out->maddr = SPAN_NULL;
    out->ttl = SPAN_NULL;
    out->rport = SPAN_NULL;
}

int sip_via_parse(struct span v, struct sip_via *out)
{
    via_clear(out);
    if (v.p == NULL)
        return SIP_EVIA;
    const char *p = v.p, *end = v.p + v.len;

    p = sip_skip_ws(p, end);
    if (end - p >= 12 && sip_eq_lit(p, "SIP/2.0/UDP ", 12)) {
        /* what nearly every Via starts with: the general path below would
         * find exactly these spans and the LWS after the transport */
        out->protocol = span_make(p, 3);
        out->version = span_make(p + 4, 3);
        out->transport = span_make(p + 8, 3);
        p = sip_skip_ws(p + 12, end);
    } else {
        if (end - p >= 8 && sip_eq_lit(p, "SIP/2.0/", 8)) {
            /* the two token_slash() calls would find these spans */
            out->protocol = span_make(p, 3);
            out->version = span_make(p + 4, 3);
            p = sip_skip_ws(p + 8, end);
        } else {
            if ((p = token_slash(p, end, &out->protocol)) == NULL)
                return SIP_EVIA;
            if ((p = token_slash(p, end, &out->version)) == NULL)
                return SIP_EVIA;
        }
        const char *t = p;
        p = sip_skip(p, end, SIP_C_TOKEN);
        if (p == t)
            return SIP_EVIA;
        out->transport = span_range(t, p);
        const char *ws = p;
        p = sip_skip_ws(p, end);
        if (p == ws)
            return SIP_EVIA;
    }

    int n = sip_hostport_parse(span_range(p, end), &out->sent_by);
    if (n < 0)
        return SIP_EVIA;
    p = sip_skip_ws(p + n, end);
    if (out->sent_by.port < 0 && p < end && *p == ':') {
        /* sent-by = host [ COLON port ], and COLON allows LWS around it */
        p = sip_skip_ws(p + 1, end);
        if ((out->sent_by.port = sip_port_read(&p, end)) < 0)
            return SIP_EVIA;
        p = sip_skip_ws(p, end);
    }
    if (p == end) {
        out->params = span_make(end, 0);
        return 0;
    }
    if (*p != ';')
        return SIP_EVIA;
    out->params = span_range(p + 1, end);
    struct span rest = out->params, name, value;
    int r = 0;
    bool seen = false;
    /* sip_param_split returns 0 for an empty rest: no call for that */
    while (rest.len > 0 && ((r = sip_param_fast(&rest, &name, &value, v.p)) > 0 ||
                            (r = sip_param_split(&rest, &name, &value, v.p)) > 0)) {
        if (via_param(out, name, value) < 0)
            return SIP_EVIA;
        seen = true;
    }
    /* not one param: they held only LWS (sip_trim() of them is empty) */
    if (r < 0 || !seen)
        return SIP_EVIA;
    return 0;
}

bool sip_branch_is_rfc3261(struct span branch)
{
    return branch.len > 7 && memcmp(branch.p, "z9hG4bK", 7) == 0;
}
