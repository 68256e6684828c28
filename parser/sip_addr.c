/*
 * sip_addr.c - comma lists, header parameters and name-addr values
 * (RFC 3261 §7.3.1, §20.10, §25.1).
 *
 * These grammars allow LWS (folds included) around ',' ';' '=' and inside
 * display names; in a value span every CR or LF is part of a fold, so the
 * SIP_C_WS class (SP HTAB CR LF) is the whole of LWS here. Quoted strings are
 * skipped with their escapes, so a ',' or ';' inside one never splits.
 */
#include "parser/sip_chars.h"

#ifdef SIP_SIMD
/* The bytes that change a comma list's state: ',' '"' '<' '>'. '<' (0x3C)
 * and '>' (0x3E) differ only in bit 0x02, and no other byte ORed with 0x02
 * gives 0x3E, so one compare finds both. */
static inline unsigned stop_list(__m128i v)
{
    __m128i angle = sip_eq8(_mm_or_si128(v, _mm_set1_epi8(0x02)), '>');
    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_or_si128(sip_eq8(v, ','), sip_eq8(v, '"')), angle));
}

static inline unsigned stop_comma_quote(__m128i v)
{
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(sip_eq8(v, ','), sip_eq8(v, '"')));
}
#endif

/* First ',' '"' '<' or '>' in [p, end), or end; lo and hi as for sip_scan16. */
static inline const char *find_list_byte(const char *p, const char *end, const char *lo,
                                         const char *hi)
{
#ifdef SIP_SIMD
    const char *q = sip_scan16(p, end, lo, hi, stop_list);
    if (q != NULL)
        return q;
#else
    (void)lo;
    (void)hi;
#endif
    while (p < end && *p != ',' && *p != '"' && *p != '<' && *p != '>')
        p++;
    return p;
}

int sip_list_split(struct span *list, struct span *item, const char *hi)
{
    if (list->p == NULL)
        return 0;
    const char *p = list->p, *end = list->p + list->len;
    bool in_angle = false;
#ifdef SIP_SIMD
    /* a list of one element (nearly every Route, Via or Contact value): no
     * ',' and no '"' at all means the loop below would run to end, so one
     * scan for those two bytes decides it */
    const char *q = sip_scan16(p, end, p, hi, stop_comma_quote);
    if (q == end) {
        *item = sip_trim(*list);
        *list = SPAN_NULL;
        return 1;
    }
#endif
    /* only the four state bytes matter, so the scan jumps from one to the
     * next: a Via value with no comma is a few vector steps */
    while ((p = find_list_byte(p, end, list->p, hi)) < end) {
        if (*p == '"') {
            p = sip_scan_quoted(p, end);
            if (p == NULL)
                return SIP_EQUOTE;
            continue;
        }
        if (*p == '<')
            in_angle = true;
        else if (*p == '>')
            in_angle = false;
        else if (!in_angle)
            break; /* a ',' outside <> */
        p++;
    }
    *item = sip_trim(span_range(list->p, p));
    if (p == end)
        *list = SPAN_NULL; /* used up: the next call returns 0 */
    else
        *list = span_range(p + 1, end); /* after a ',' an element must follow */
    return 1;
}

int sip_list_next(struct span *list, struct span *item)
{
    if (list->p == NULL)
        return 0; /* used up; span_end(NULL) would be UB */
#ifdef SIP_SIMD
    /* a list of one element of 16+ bytes, with no LWS at either end (nearly
     * every Route, Record-Route or Contact value): no ',' and no '"' in
     * it means sip_list_split would return it whole, and whole vectors
     * from p, then the 16 bytes that end it, tell that without its loop */
    const char *p = list->p, *end = p + list->len;
    if (end - p >= 16 && !sip_is(p[0], SIP_C_WS) && !sip_is(end[-1], SIP_C_WS)) {
        unsigned m = 0;
        for (const char *b = p; b < end - 16 && m == 0; b += 16)
            m = stop_comma_quote(sip_load16(b));
        if ((m | stop_comma_quote(sip_load16(end - 16))) == 0) {
            /* from p and end, not *list: a caller has nearly always
             * just stored *list as two 8-byte words, and a 16-byte copy
             * of them (what gcc makes of *item = *list) cannot be
             * forwarded from those stores, a stall per call */
            *item = span_range(p, end);
            *list = SPAN_NULL;
            return 1;
        }
    }
#endif
    return sip_list_split(list, item, span_end(*list));
}

/*
 * One generic-param: token [ EQUAL gen-value ], gen-value = token / host /
 * quoted-string. *params holds what follows a ';' and is advanced past the
 * next ';'. A ';' with nothing after it, or an empty name, is an error.
 */
static __attribute__((noinline)) int param_slow(struct span *params, struct span *name,
                                                struct span *value, const char *lo)
{
    const char *p = params->p, *end = params->p + params->len;
    p = sip_skip_ws(p, end);
    if (p == end)
        return 0;
    const char *n = p;
    p = sip_skip(p, end, SIP_C_TOKEN);
    if (p == n)
        return SIP_ENAMEADDR;
    *name = span_range(n, p);
    *value = SPAN_NULL;
    p = sip_skip_ws(p, end);
    if (p < end && *p == '=') {
        p = sip_skip_ws(p + 1, end);
        const char *v = p;
        if (p < end && *p == '"') {
            p = sip_scan_quoted(p, end);
            if (p == NULL)
                return SIP_EQUOTE;
        } else {
            /* token, or a host: IPv6 references add [ ] : (one class, so
             * the vector run covers a branch or tag value in a step or two) */
            p = sip_skip_an(p, end, lo, end, SIP_C_GENVAL);
        }
        if (p == v)
            return SIP_ENAMEADDR;
        *value = span_range(v, p);
        p = sip_skip_ws(p, end);
    }
    if (p < end) {
        if (*p != ';')
            return SIP_ENAMEADDR;
        p = sip_skip_ws(p + 1, end);
        if (p == end)
            return SIP_ENAMEADDR;
    }
    *params = span_range(p, end);
    return 1;
}

/* The general path out of line, so the fast one needs few registers. */
int sip_param_split(struct span *params, struct span *name, struct span *value, const char *lo)
{
    if (params->p == NULL)
        return 0;
    if (sip_param_fast(params, name, value, lo))
        return 1;
    return param_slow(params, name, value, lo);
}

int sip_param_next(struct span *params, struct span *name, struct span *value)
{
    return sip_param_split(params, name, value, params->p);
}

#ifdef SIP_SIMD
/* Where a bracketed URI ends or goes wrong: '<' '>' '"' and every byte up
 * to SP. That is a superset of the scalar loop's stops (it also stops on an
 * escaped control byte, which the caller steps over), and cheaper than
 * testing SP HTAB CR LF one by one. */
static inline unsigned stop_bracketed(__m128i v)
{
    __m128i angle = sip_eq8(_mm_or_si128(v, _mm_set1_epi8(0x02)), '>'); /* see stop_list */
    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_or_si128(angle, sip_eq8(v, '"')), sip_le8(v, 0x20)));
}

/* Where an addr-spec ends: the bracketed stops and ';' ','. */
static inline unsigned stop_addr_spec(__m128i v)
{
    return stop_bracketed(v) |
           (unsigned)_mm_movemask_epi8(_mm_or_si128(sip_eq8(v, ';'), sip_eq8(v, ',')));
}
#endif

/* The URI between '<' and '>': no LWS inside (RFC 4475 badaspec). The value
 * [lo, end) may be read whole. */
static int bracketed_uri(const char **pp, const char *end, const char *lo, struct span *uri)
{
    const char *p = *pp + 1;
    const char *u = p;
#ifdef SIP_SIMD
    /* jump between candidate stops; the checks below are the scalar loop's */
    const char *q;
    while ((q = sip_scan16(p, end, lo, end, stop_bracketed)) != NULL) {
        p = q;
        if (p == end || *p == '>')
            break;
        if (sip_is(*p, SIP_C_WS) || *p == '<' || *p == '"')
            return SIP_ENAMEADDR;
        p++; /* an escaped control byte: part of the URI here */
    }
#else
    (void)lo;
#endif
    while (p < end && *p != '>') {
        if (sip_is(*p, SIP_C_WS) || *p == '<' || *p == '"')
            return SIP_ENAMEADDR;
        p++;
    }
    if (p == end || p == u)
        return SIP_ENAMEADDR;
    /* a URI has a scheme: its ':' is a few bytes in, nearly always the
     * 4th ("sip:", "tel:"), else a forward walk finds it sooner than a
     * memchr call costs */
    if (p - u <= 3 || u[3] != ':') {
        const char *c = u;
        while (c < p && *c != ':')
            c++;
        if (c == p)
            return SIP_ENAMEADDR;
    }
    *uri = span_range(u, p);
    *pp = p + 1;
    return 0;
}

/* First byte of [p, end) that ends an addr-spec (SIP_C_WS ; , < > "), or
 * end; [lo, end) may be read. */
static const char *addr_spec_end(const char *p, const char *end, const char *lo)
{
#ifdef SIP_SIMD
    const char *q;
    while ((q = sip_scan16(p, end, lo, end, stop_addr_spec)) != NULL) {
        p = q;
        if (p == end || sip_is(*p, SIP_C_WS) || *p == ';' || *p == ',' || *p == '<' || *p == '>' ||
            *p == '"')
            return p;
        p++; /* an escaped control byte */
    }
#else
    (void)lo;
#endif
    while (p < end && !sip_is(*p, SIP_C_WS) && *p != ';' && *p != ',' && *p != '<' && *p != '>' &&
           *p != '"')
        p++;
    return p;
}

#ifdef SIP_SIMD
/*
 * A value that is "<" URI ">" alone, 18+ bytes (a Route or Record-Route
 * element, a bare Contact): if no byte between the brackets is one that
 * stops bracketed_uri ('<' '>' '"' or up to SP), the general path would
 * take the URI whole, with no display name and no params. Whole vectors
 * from after the '<', then the 16 bytes that end before the '>', tell
 * that without its loop. Returns 1 with its results, or 0.
 */
static inline int nameaddr_fast(const char *p, const char *end, struct sip_nameaddr *out)
{
    if (end - p < 18 || p[0] != '<' || end[-1] != '>')
        return 0;
    const char *u = p + 1, *e = end - 1;
    unsigned m = 0;
    for (const char *b = u; b < e - 16 && m == 0; b += 16)
        m = stop_bracketed(sip_load16(b));
    if ((m | stop_bracketed(sip_load16(e - 16))) != 0)
        return 0;
    /* a URI has a scheme, as bracketed_uri checks */
    if (u[3] != ':') {
        const char *c = u;
        while (c < e && *c != ':')
            c++;
        if (c == e)
            return 0;
    }
    out->display = span_make(p, 0); /* sip_trim of the nothing before '<' */
    out->uri = span_range(u, e);
    out->params = SPAN_NULL;
    out->tag = SPAN_NULL;
    out->bracketed = true;
    return 1;
}
#endif

int sip_nameaddr_parse(struct span v, struct sip_nameaddr *out)
{
    int err;
#ifdef SIP_SIMD
    if (v.p != NULL && nameaddr_fast(v.p, v.p + v.len, out))
        return 0;
#endif
    *out = (struct sip_nameaddr){0};
    if (v.p == NULL)
        return SIP_ENAMEADDR;
    const char *p = v.p, *end = v.p + v.len;
    p = sip_skip_ws(p, end);
    if (p == end)
        return SIP_ENAMEADDR;

    if (*p == '"') {
        const char *q = sip_scan_quoted(p, end);
        if (q == NULL)
            return SIP_EQUOTE;
        out->display = span_range(p + 1, q - 1);
        p = sip_skip_ws(q, end);
        if (p == end || *p != '<')
            return SIP_ENAMEADDR;
    } else {
        /* display-name = *(token LWS); no LWS is needed before '<' (lwsdisp) */
        const char *q = p;
        while (q < end && sip_is(*q, SIP_C_TOKEN | SIP_C_WS))
            q++;
        if (q < end && *q == '<')
            out->display = sip_trim(span_range(p, q));
        p = q < end && *q == '<' ? q : p;
    }

    if (*p == '<') {
        if ((err = bracketed_uri(&p, end, v.p, &out->uri)) < 0)
            return err;
        out->bracketed = true;
    } else {
        /* addr-spec: a URI with no ',', ';' or '?' (§20: else it needs <>) */
        const char *u = p;
        p = addr_spec_end(p, end, v.p);
        out->uri = span_range(u, p);
        if (memchr(u, ':', (size_t)(p - u)) == NULL)
            return SIP_ENAMEADDR;
    }

    p = sip_skip_ws(p, end);
    if (p == end)
        return 0;
    if (*p != ';')
        return SIP_ENAMEADDR;
    /* The fields below are set from registers, never copied from a span
     * in memory: rest, name and value live on the stack (their addresses
     * are passed on), and gcc copies a span there as one 16-byte load of
     * the two 8-byte words just stored, which the CPU cannot forward from
     * those stores: a stall of tens of cycles per copy. */
    out->params = span_range(p + 1, end);
    struct span rest = span_range(p + 1, end), name, value;
    int r = 0;
    bool seen = false;
    /* sip_param_split returns 0 for an empty rest: no call for that */
    while (rest.len > 0) {
        if ((r = sip_param_fast(&rest, &name, &value, v.p)) == 0 &&
            (r = param_slow(&rest, &name, &value, v.p)) <= 0)
            break;
        if (SIP_EQ_FOLD(name, "tag")) { /* a token: the fold is exact */
            const char *tp = value.p ? value.p : span_end(name);
            out->tag = span_make(tp, value.p ? value.len : 0);
        }
        seen = true;
        r = 0;
    }
    if (r == 0 && !seen)
        return SIP_ENAMEADDR; /* a lone ';', or only LWS after it */
    return r == SIP_EQUOTE ? SIP_EQUOTE : (r < 0 ? SIP_ENAMEADDR : 0);
}
