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
static inline __attribute__((always_inline)) int via_param(struct sip_via *out, struct span name,
                                                           struct span value)
{
    if (SIP_EQ_FOLD(name, "branch")) {
        if (!value.p)
            return SIP_EVIA;
        out->branch = span_make(value.p, value.len); /* not a copy: see sip_nameaddr_parse */
    } else if (SIP_EQ_FOLD(name, "received")) {
        if (!value.p || !received_ok(value))
            return SIP_EVIA;
        out->received = span_make(value.p, value.len);
    } else if (SIP_EQ_FOLD(name, "rport")) {
        /* a port: a forwarder routes a response by it (RFC 3581 §4) */
        if (value.p && (!all_digits(value) || value.len > 5 || small_uint(value) > 65535))
            return SIP_EVIA;
        out->rport = value.p ? span_make(value.p, value.len) : span_make(span_end(name), 0);
    } else if (SIP_EQ_FOLD(name, "maddr")) {
        if (!value.p)
            return SIP_EVIA;
        out->maddr = span_make(value.p, value.len);
    } else if (SIP_EQ_FOLD(name, "ttl")) {
        if (!value.p || !all_digits(value) || value.len > 3 || small_uint(value) > 255)
            return SIP_EVIA;
        out->ttl = span_make(value.p, value.len);
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

#ifdef SIP_SIMD
/*
 * The shape nearly every Via has: "SIP/2.0/" UDP, TCP or TLS, one SP, a
 * host of [A-Za-z0-9.-] (IPv4 address or name, up to 31 bytes) with an
 * optional port, then ";" and params each of which sip_param_fast takes.
 * The prefix is two compares, the host and port come from the bits of one
 * or two vector loads (sip_host_scan), and the params from sip_param_fast
 * alone, all inline: no calls, nothing kept on the stack, and only the
 * fields nothing else sets are cleared. Returns 0 with exactly the general
 * path's results, or 1 to leave the value to it (which starts over, so an
 * error or an unusual byte anywhere costs this attempt and nothing else).
 * [p, end) is the whole value, 28+ bytes: every load stays inside it.
 */
static inline __attribute__((always_inline)) int via_fast(const char *p, const char *end,
                                                          struct sip_via *out)
{
    uint32_t t = sip_ld4(p + 8);
    if (!sip_eq_lit(p, "SIP/2.0/", 8) ||
        (t != sip_ld4("UDP ") && t != sip_ld4("TCP ") && t != sip_ld4("TLS ")))
        return 1;
    const char *h = p + 12;
    struct sip_host_bits b;
    out->sent_by.port = -1;
    int n = sip_host_finish(h, end, sip_host_scan(h, end, &b), &b, &out->sent_by);
    const char *q = h + n;
    /* n <= 0: the general path decides; a ';' must follow at once (the
     * general path allows LWS before it, and a value with no params) */
    if (n <= 0 || q == end || *q != ';')
        return 1;
    /* every field but sent_by (set above) is set here, as via_clear sets
     * them: a field added to struct sip_via must be added here too */
    _Static_assert(sizeof(struct sip_via) == 9 * sizeof(struct span) + sizeof(struct sip_hostport),
                   "via_fast must set every field of struct sip_via");
    out->protocol = span_make(p, 3);
    out->version = span_make(p + 4, 3);
    out->transport = span_make(p + 8, 3);
    out->params = span_range(q + 1, end); /* from registers: see sip_nameaddr_parse */
    out->branch = SPAN_NULL;
    out->received = SPAN_NULL;
    out->maddr = SPAN_NULL;
    out->ttl = SPAN_NULL;
    out->rport = SPAN_NULL;
    struct span rest = span_range(q + 1, end), name, value;
    /* the general loop's, while sip_param_fast takes each param: it needs
     * one to start with (an empty rest is an error there) */
    do {
        if (!sip_param_fast(&rest, &name, &value, p) || via_param(out, name, value) < 0)
            return 1;
    } while (rest.len > 0);
    return 0;
}
#endif

/* The general path: every field from scratch. */
static __attribute__((noinline)) int via_slow(struct span v, struct sip_via *out)
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
    out->params = span_range(p + 1, end); /* from registers: see sip_nameaddr_parse */
    struct span rest = span_range(p + 1, end), name, value;
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

int sip_via_parse(struct span v, struct sip_via *out)
{
#ifdef SIP_SIMD
    if (v.len >= 28 && via_fast(v.p, v.p + v.len, out) == 0)
        return 0;
#endif
    return via_slow(v, out);
}

bool sip_branch_is_rfc3261(struct span branch)
{
    return branch.len > 7 && memcmp(branch.p, "z9hG4bK", 7) == 0;
}
