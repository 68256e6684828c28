/*
 * sip_msg.c - start line, header index and body framing: the careful pass
 * of sip_parse(), and the dispatch between it and the fast pass of
 * sip_fast.c (see sip_index.h; sip.h has the contract).
 *
 * Shape: the start line is split on single SPs; then one loop over header
 * lines. A name runs to the first ':', SP or control byte and is looked up
 * before it is checked (parse_header says why that is exact). Each value is
 * scanned for its end with find_ctl(), which stops only on control bytes, so
 * ordinary text costs a few vector instructions per 16 bytes. A line
 * break followed by SP/HTAB is a fold and the value goes on; any other
 * control byte is an error unless a backslash escapes it (a quoted-pair,
 * RFC 3261 §25.1, which RFC 4475 intmeth uses for a raw NUL). Via values are
 * split here, because forwarding always needs the top one and responses the
 * second. Nothing else is looked into: deep parsers run on demand.
 */
#include "parser/sip_index.h"

#define X(name, val, id, text) [-(val)] = #name,
static const char *const err_names[SIP_NERR + 1] = {[0] = "SIP_OK", SIP_ERRORS(X)};
#undef X
#define X(name, val, id, text) [-(val)] = id,
static const char *const err_ids[SIP_NERR + 1] = {[0] = "ok", SIP_ERRORS(X)};
#undef X
#define X(name, val, id, text) [-(val)] = text,
static const char *const err_texts[SIP_NERR + 1] = {[0] = "no error", SIP_ERRORS(X)};
#undef X

const char *sip_err_name(int err)
{
    return (err <= 0 && err >= -SIP_NERR) ? err_names[-err] : "SIP_EUNKNOWN";
}

const char *sip_err_id(int err)
{
    return (err <= 0 && err >= -SIP_NERR) ? err_ids[-err] : "unknown";
}

const char *sip_err_text(int err)
{
    return (err <= 0 && err >= -SIP_NERR) ? err_texts[-err] : "unknown error";
}

#ifdef SIP_SIMD
/* Control bytes, 0x00-0x1F and 0x7F: two compares per 16 bytes. */
static inline unsigned stop_ctl(__m128i v)
{
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(sip_le8(v, 0x1f), sip_eq8(v, 0x7f)));
}

/* Control bytes and SP: where a Request-URI ends or goes wrong. */
static inline unsigned stop_ctl_sp(__m128i v)
{
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(sip_le8(v, 0x20), sip_eq8(v, 0x7f)));
}
#endif

/*
 * First byte in [p, end) that is a control byte (0x00-0x1F, 0x7F), or end;
 * end is the datagram's end and buf its start, so the vector loop may load
 * anywhere in between. The SSE2 path is exact, not a filter, and the scalar
 * loop is the reference both builds are tested against (make test builds
 * once with -DSIP_SCALAR).
 */
static inline const char *find_ctl(const char *p, const char *end, const char *buf)
{
#ifdef SIP_SIMD
    const char *q = sip_scan16(p, end, buf, end, stop_ctl);
    if (q != NULL)
        return q;
#else
    (void)buf;
#endif
    while (p < end && !sip_is(*p, SIP_C_CTL))
        p++;
    return p;
}

#ifdef SIP_SIMD
/* ':', SP and the control bytes: where a header name ends or goes wrong. */
static inline unsigned stop_name(__m128i v)
{
    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_or_si128(sip_le8(v, 0x20), sip_eq8(v, 0x7f)), sip_eq8(v, ':')));
}
#endif

#ifdef SIP_SIMD
/* Control bytes and the comma-list bytes ',' '"' '<' '>' (stop_list in
 * sip_addr.c has the '<'/'>' trick). */
static inline unsigned stop_ctl_list(__m128i v)
{
    __m128i angle = sip_eq8(_mm_or_si128(v, _mm_set1_epi8(0x02)), '>');
    __m128i list = _mm_or_si128(_mm_or_si128(sip_eq8(v, ','), sip_eq8(v, '"')), angle);
    return stop_ctl(v) | (unsigned)_mm_movemask_epi8(list);
}
#endif

/* First control byte or ',' '"' '<' '>' in [p, end), or end; as find_ctl. */
static inline const char *find_ctl_list(const char *p, const char *end, const char *buf)
{
#ifdef SIP_SIMD
    const char *q = sip_scan16(p, end, buf, end, stop_ctl_list);
    if (q != NULL)
        return q;
#else
    (void)buf;
#endif
    while (p < end && !sip_is(*p, SIP_C_CTL) && *p != ',' && *p != '"' && *p != '<' && *p != '>')
        p++;
    return p;
}

/* First ':', SP or control byte in [p, end), or end; [buf, end) is the
 * datagram, as for find_ctl. */
static inline const char *find_name_end(const char *p, const char *end, const char *buf)
{
#ifdef SIP_SIMD
    const char *q = sip_scan16(p, end, buf, end, stop_name);
    if (q != NULL)
        return q;
#else
    (void)buf;
#endif
    while (p < end && *p != ':' && (unsigned char)*p > 0x20 && *p != 0x7f)
        p++;
    return p;
}

/* First byte in [p, eol) that is SP or a control byte, or eol; the datagram
 * [buf, end) may be read, as for find_ctl. */
static inline const char *find_ctl_sp(const char *p, const char *eol, const char *buf,
                                      const char *end)
{
#ifdef SIP_SIMD
    const char *q = sip_scan16(p, eol, buf, end, stop_ctl_sp);
    if (q != NULL)
        return q;
#else
    (void)buf;
    (void)end;
#endif
    while (p < eol && (unsigned char)*p > 0x20 && *p != 0x7f)
        p++;
    return p;
}

/*
 * Finds the end of the line that starts the scan at p: *eol is the first byte
 * of its CRLF or LF, *next the first byte after it. Returns 0, SIP_ENOEOH if
 * the datagram ends first, or SIP_EBARECR.
 */
static int line_end(const char *p, const char *end, const char **eol, const char **next)
{
    if (*p == '\r') {
        if (p + 1 == end)
            return SIP_ENOEOH;
        if (p[1] != '\n')
            return SIP_EBARECR;
        *next = p + 2;
    } else {
        *next = p + 1;
    }
    *eol = p;
    return 0;
}

/* "SIP/2.0" (the "SIP" case-insensitively) -> 0; another well-formed
 * "SIP/x.y" -> SIP_EVERSION (answer 505); anything else SIP_ESTARTLINE. */
static int check_version(struct span v)
{
    const char *p = v.p, *end = v.p + v.len;
    /* every message but a rare 505 carries exactly this: two loads */
    if (v.len == 7 && sip_eq_lit_fold3(p, "sip/") && sip_eq_lit(p + 3, "/2.0", 4))
        return 0;
    if (v.len < 7 || (p[0] | 0x20) != 's' || (p[1] | 0x20) != 'i' || (p[2] | 0x20) != 'p' ||
        p[3] != '/')
        return SIP_ESTARTLINE;
    const char *major = p + 4;
    p = sip_skip(major, end, SIP_C_DIGIT);
    if (p == major || p == end || *p != '.')
        return SIP_ESTARTLINE;
    const char *minor = ++p;
    p = sip_skip(minor, end, SIP_C_DIGIT);
    if (p == minor || p != end)
        return SIP_ESTARTLINE;
    if (minor - major == 2 && major[0] == '2' && end - minor == 1 && minor[0] == '0')
        return 0;
    return SIP_EVERSION;
}

/* Request-Line = Method SP Request-URI SP SIP-Version; exactly one SP each.
 * [buf, end) is the datagram, readable by the scans. */
int sip_idx_request_line(const char *p, const char *eol, struct sip_msg *m, const char *buf,
                         const char *end)
{
    const char *q = sip_skip_an(p, eol, buf, end, SIP_C_TOKEN);
    m->err_at = q;
    if (q == p || q == eol)
        return SIP_ESTARTLINE;
    if (*q != ' ')
        return SIP_EMETHOD;
    m->method = span_range(p, q);
    m->method_id = (uint8_t)sip_method_id(m->method);

    p = ++q;
    q = find_ctl_sp(q, eol, buf, end);
    if (q < eol && *q != ' ') {
        m->err_at = q;
        return SIP_ERURI;
    }
    m->err_at = q;
    if (q == p || q == eol)
        return SIP_ESTARTLINE;
    m->ruri = span_range(p, q);

    m->version = span_range(q + 1, eol);
    m->err_at = q + 1;
    return check_version(m->version);
}

/* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase. A missing SP
 * before an empty reason is tolerated. */
int sip_idx_status_line(const char *p, const char *eol, struct sip_msg *m)
{
    const char *q = p;
    while (q < eol && *q != ' ')
        q++;
    m->version = span_range(p, q);
    m->err_at = p;
    int err = check_version(m->version);
    if (err < 0)
        return err;
    m->err_at = q;
    if (q == eol)
        return SIP_ESTARTLINE;

    const char *code = ++q;
    q = sip_skip(code, eol, SIP_C_DIGIT);
    m->err_at = code;
    if (q - code != 3 || (q < eol && *q != ' '))
        return SIP_ESTATUS;
    m->status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    if (m->status < 100 || m->status > 699)
        return SIP_ESTATUS;

    if (q < eol)
        q++;
    m->reason = span_range(q, eol);
    for (; q < eol; q++) {
        if (*q != '\t' && sip_is(*q, SIP_C_CTL)) {
            m->err_at = q;
            return SIP_EREASON;
        }
    }
    m->err_at = NULL;
    return 0;
}

/* True if the byte at p follows an odd run of backslashes (a quoted-pair;
 * "\\\\" is an escaped backslash and escapes nothing after it). Only called
 * on control bytes, which are rare, so the walk back costs nothing. */
static bool escaped(const char *start, const char *p)
{
    size_t n = 0;
    while (p > start && p[-1] == '\\') {
        p--;
        n++;
    }
    return n % 2 == 1;
}

/*
 * Scans a header value starting at p up to the end of its logical line
 * (folds included). Sets *eol to the final line break and *next to the first
 * byte after it. Returns 0 or SIP_ENOEOH, SIP_EBARECR, SIP_EHDRVALUE with
 * *eol at the offending byte.
 */
static inline __attribute__((always_inline)) int scan_value(const char *p, const char *end,
                                                            const char **eol, const char **next,
                                                            const char *buf, bool *list_bytes)
{
    const char *start = p;
    for (;;) {
        /* with list_bytes (a Via line) the same pass notes whether the value
         * holds any of the bytes a comma-list split acts on, so a Via value
         * without them is one element and need not be scanned again */
        p = list_bytes ? find_ctl_list(p, end, buf) : find_ctl(p, end, buf);
        if (p == end) {
            *eol = p;
            return SIP_ENOEOH;
        }
        if (list_bytes && !sip_is(*p, SIP_C_CTL)) {
            *list_bytes = true;
            p++;
            continue;
        }
        if (*p == '\t') {
            p++;
            continue;
        }
        if (*p != '\r' && *p != '\n') {
            if (escaped(start, p)) {
                p++;
                continue;
            }
            *eol = p;
            return SIP_EHDRVALUE;
        }
        const char *nl;
        int err = line_end(p, end, eol, &nl);
        if (err < 0) {
            *eol = p;
            return err;
        }
        if (nl == end)
            return SIP_ENOEOH;
        if (*nl != ' ' && *nl != '\t') {
            *next = nl;
            return 0;
        }
        p = nl; /* a fold: the value goes on */
    }
}

static bool single_valued(enum sip_hid id)
{
    switch (id) {
    case SIP_H_CALL_ID:
    case SIP_H_FROM:
    case SIP_H_TO:
    case SIP_H_CSEQ:
    case SIP_H_MAX_FORWARDS:
    case SIP_H_CONTENT_LENGTH: return true;
    default: return false;
    }
}

/* Records every element of a Via value; an empty one ("a,,b") is an error.
 * end is the datagram's end: the split may read up to it. Without any of
 * ',' '"' '<' '>' (list_bytes false) the split would return the value
 * itself, already trimmed, as its one element, so that is recorded as is. */
int sip_idx_vias(struct sip_msg *m, struct span value, uint8_t hdr_idx, const char *end,
                 bool list_bytes)
{
    struct span list = value, item;
    int r;
    if (!list_bytes) {
        if (value.len == 0) {
            m->err_at = value.p;
            return SIP_EVIA;
        }
        if (m->nvia == SIP_MAX_VIAS) {
            m->err_at = value.p;
            return SIP_ETOOMANYVIAS;
        }
        m->via[m->nvia] = value;
        m->via_hdr[m->nvia] = hdr_idx;
        m->nvia++;
        return 0;
    }
    while ((r = sip_list_split(&list, &item, end)) > 0) {
        if (item.len == 0) {
            m->err_at = item.p;
            return SIP_EVIA;
        }
        if (m->nvia == SIP_MAX_VIAS) {
            m->err_at = item.p;
            return SIP_ETOOMANYVIAS;
        }
        m->via[m->nvia] = span_make(item.p, item.len); /* not a copy: see sip_nameaddr_parse */
        m->via_hdr[m->nvia] = hdr_idx;
        m->nvia++;
    }
    if (r < 0)
        m->err_at = value.p;
    return r;
}

/* Parses one header line at p; *next is set to the following line. The
 * datagram is [buf, end). */
static int parse_header(struct sip_msg *m, const char *p, const char *end, const char **next,
                        const char *buf)
{
    const char *line = p;
    /* The name is looked up before it is checked: a name that folds to a
     * known one is made of letters and '-' only (sip_eq_lit_fold: the only
     * other byte that folds onto those is CR, and a control byte ends the
     * candidate), so it is a token and needs no byte-by-byte check; only an
     * unknown name is walked through the token table. The candidate ends at
     * the first ':', SP or control byte; a non-token byte before that ends
     * the name where the token walk stops, as the grammar says. */
    const char *q = find_name_end(p, end, buf);
    enum sip_hid id = q > line ? sip_hname_lookup(span_range(line, q)) : SIP_H_OTHER;
    if (id == SIP_H_OTHER)
        q = sip_skip(line, q, SIP_C_TOKEN);
    const char *name_end = q;
    if (!(q < end && *q == ':' && q > line)) { /* rare: LWS before the colon, or an error */
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (name_end == line || q == end || *q != ':') {
            m->err_at = q < end ? q : line;
            return q == end ? SIP_ENOEOH : SIP_EHDRNAME;
        }
    }
    const char *eol;
    bool list_bytes = false;
    int err = id == SIP_H_VIA ? scan_value(q + 1, end, &eol, next, buf, &list_bytes)
                              : scan_value(q + 1, end, &eol, next, buf, NULL);
    if (__builtin_expect(err < 0, 0)) {
        m->err_at = eol < end ? eol : line;
        return err;
    }
    if (__builtin_expect(m->nhdr == SIP_MAX_HDRS, 0)) {
        m->err_at = line;
        return SIP_ETOOMANYHDRS;
    }

    struct sip_hdr *h = &m->hdr[m->nhdr];
    h->name = span_range(line, name_end);
    h->value = sip_idx_trim_value(q + 1, eol);
    h->line_len = (uint32_t)(*next - line);
    h->id = (uint8_t)id;

    uint16_t idx = m->nhdr++;
    if (id == SIP_H_OTHER)
        return 0;
    if (m->first[id] < 0) {
        m->first[id] = (int16_t)idx;
    } else if (single_valued(id)) {
        m->err_at = line;
        return SIP_EDUPHDR;
    }
    if (id == SIP_H_VIA)
        return sip_idx_vias(m, h->value, (uint8_t)idx, end, list_bytes);
    if (id == SIP_H_CONTENT_LENGTH) {
        m->clen = sip_clen_parse(h->value);
        if (m->clen < 0) {
            m->err_at = h->value.p;
            return SIP_ECLEN;
        }
    }
    return 0;
}

/* Start line and headers end at next: frames the body by Content-Length
 * (RFC 3261 §18.3) and returns hdr_len, or SIP_EBODY. */
int sip_idx_frame_body(struct sip_msg *m, const char *buf, const char *next, const char *end)
{
    m->hdr_len = (size_t)(next - buf);
    size_t avail = (size_t)(end - next);
    if (m->clen >= 0) {
        if ((size_t)m->clen > avail) {
            m->err_at = end - 1;
            return SIP_EBODY;
        }
        m->body = span_make(next, (size_t)m->clen);
    } else {
        m->body = span_make(next, avail);
    }
    m->msg_len = m->hdr_len + m->body.len;
    return (int)m->hdr_len;
}

static int index_headers(const char *buf, const char *p, const char *end, struct sip_msg *m);

/* Every output field to its "nothing found" value. */
static void msg_reset(struct sip_msg *m)
{
    m->is_request = false;
    m->nhdr = 0;
    m->nvia = 0;
    m->clen = -1;
    m->status = 0;
    m->method_id = SIP_M_OTHER;
    /* one assignment each: a chain makes gcc store SPAN_NULL, load it back
     * as one 16-byte vector and store that, and a 16-byte load of two
     * 8-byte stores cannot be forwarded, a stall on every parse */
    m->method = SPAN_NULL;
    m->ruri = SPAN_NULL;
    m->reason = SPAN_NULL;
    m->version = SPAN_NULL;
    m->err_at = NULL;
    for (int i = 0; i < SIP_H__COUNT; i++)
        m->first[i] = -1;
}

/* The careful pass: every byte checked where it is, with the exact error and
 * err_at for anything wrong. m is reset; len > 0. */
static int parse_careful(const char *buf, size_t len, struct sip_msg *m)
{
    const char *p = buf, *end = buf + len;
    const char *eol, *next;
    int err;

    /* start line: the first CR or LF ends it; other control bytes are
     * caught by the start-line parsers */
    eol = p;
    while ((eol = find_ctl(eol, end, buf)) < end && *eol != '\r' && *eol != '\n')
        eol++;
    if (eol == end) {
        m->err_at = buf;
        return SIP_ENOEOH;
    }
    if ((err = line_end(eol, end, &eol, &next)) < 0) {
        m->err_at = eol;
        return err;
    }
    m->is_request = !(len >= 4 && (p[0] | 0x20) == 's' && (p[1] | 0x20) == 'i' &&
                      (p[2] | 0x20) == 'p' && p[3] == '/');
    err =
        m->is_request ? sip_idx_request_line(p, eol, m, buf, end) : sip_idx_status_line(p, eol, m);
    if (err < 0) {
        /* a malformed or unsupported start line: index the headers anyway,
         * so the 400 or 505 it earns can be routed by its Via. SIP_EVERSION
         * also promises a clean index (the message is fine but for its
         * version), so a broken header section wins over it. */
        const char *start_at = m->err_at;
        int ierr = index_headers(buf, next, end, m);
        if (ierr < 0 && err == SIP_EVERSION)
            return ierr;
        m->err_at = start_at;
        return err;
    }
    m->err_at = NULL;
    return index_headers(buf, next, end, m);
}

int sip_parse_careful(const char *buf, size_t len, struct sip_msg *m)
{
    msg_reset(m);
    return len == 0 ? SIP_EEMPTY : parse_careful(buf, len, m);
}

int sip_parse(const char *buf, size_t len, struct sip_msg *m)
{
    msg_reset(m);
    if (len == 0)
        return SIP_EEMPTY;
#ifdef SIP_SIMD
    int r = sip_parse_fast(buf, len, m);
    if (r != SIP_FAST_NO)
        return r;
    msg_reset(m);
#endif
    return parse_careful(buf, len, m);
}

/* The header lines from p, the empty line and the body (RFC 3261 §18.3). */
static int index_headers(const char *buf, const char *p, const char *end, struct sip_msg *m)
{
    const char *eol, *next;
    int err;
    if (p < end && (*p == ' ' || *p == '\t')) {
        m->err_at = p;
        return SIP_EFOLD;
    }
    for (;;) {
        if (p == end) {
            m->err_at = end - 1;
            return SIP_ENOEOH;
        }
        if (*p == '\r' || *p == '\n')
            break;
        if ((err = parse_header(m, p, end, &next, buf)) < 0)
            return err;
        p = next;
    }
    if ((err = line_end(p, end, &eol, &next)) < 0) {
        m->err_at = p;
        return err;
    }

    return sip_idx_frame_body(m, buf, next, end);
}

int sip_hnext(const struct sip_msg *m, int i)
{
    uint8_t id = m->hdr[i].id;
    for (int j = i + 1; j < m->nhdr; j++)
        if (m->hdr[j].id == id)
            return j;
    return -1;
}
