/*
 * sip_frame.c - stream framing: where one SIP message ends in a TCP or TLS byte stream
 * (RFC 3261 §18.3, §7.5; RFC 5626 §4.4.1). sip.h has the contract.
 *
 * Three states, each resumable where the last call stopped: before the message (leading
 * CRLFs, a CRLF CRLF ping), in the header block (a memchr for LF from the saved offset, each
 * LF then checked for the LF or CRLF that makes the next line empty), in the body (a length
 * compare). A slow sender thus costs one pass over its header block however it splits it,
 * never one pass per call (picohttpparser's phr_parse_request rescans from the start and
 * relies on its caller's last_len hint for the same reason). Content-Length is read in the
 * same pass, from the lines whose first letter may start it; every other value is
 * sip_parse()'s to check, after the framer has said which bytes are the message.
 */
#include "parser/sip_index.h"

enum { FR_LEAD = 0, FR_HEAD, FR_BODY };

static const char crlf2[4] = {'\r', '\n', '\r', '\n'};

/* Before the message: skips single CRLFs, recognises a ping. SIP_FRAME_MORE, _PING, or -1
 * when the message starts at f->skip. A CRLF CRLF at the start is always a ping, so at
 * most one CRLF is ever skipped before a message. */
static int lead(const char *buf, size_t len, struct sip_frame *f)
{
    for (;;) {
        size_t p = f->skip, n = len - p;
        if (n == 0)
            return SIP_FRAME_MORE;
        if (buf[p] != '\r')
            return -1;
        if (n < 4 && memcmp(buf + p, crlf2, n) == 0)
            return SIP_FRAME_MORE; /* "\r", "\r\n", "\r\n\r": a ping or a CRLF, not known yet */
        if (n >= 4 && memcmp(buf + p, crlf2, 4) == 0) {
            f->used = (uint32_t)(p + 4);
            return SIP_FRAME_PING;
        }
        if (buf[p + 1] != '\n')
            return -1; /* a bare CR starts the "message": sip_parse() rejects it */
        f->skip += 2;
    }
}

/* A Content-Length line, folds included, is at most this long: a longer one is an error
 * (SIP_ECLEN). It bounds what is looked at again when such a line is still arriving, so a
 * sender trickling one cannot make the framer quadratic. */
#define FR_CLEN_LINE_MAX 128

/* The header line at q, the first byte after an LF, in the window [q, end): when it is a
 * Content-Length, its value is recorded in f (or the first error it brings: SIP_ECLEN,
 * SIP_EDUPHDR for a second one). A name is a token, optional SP/HTAB, then ':' (as
 * sip_parse() reads it); a line of another form, or whose name and colon do not fit in
 * FR_CLEN_LINE_MAX bytes, is not one here (sip_parse() then rejects the message, as a
 * second Content-Length or none). True when the line is settled, false when that cannot
 * be told yet: the caller looks at it again when more bytes are in. */
static bool clen_line(const char *q, const char *end, struct sip_frame *f)
{
    bool full = end - q > FR_CLEN_LINE_MAX; /* the window holds the line's whole budget */
    const char *w = full ? q + FR_CLEN_LINE_MAX + 1 : end;
    const char *name_end = sip_skip(q, w, SIP_C_TOKEN), *p = name_end;
    if (name_end == w)
        return full;
    if (name_end == q || sip_hname_id(span_range(q, name_end)) != SIP_H_CONTENT_LENGTH)
        return true;
    while (p < w && (*p == ' ' || *p == '\t'))
        p++;
    if (p == w)
        return full;
    if (*p != ':')
        return true;
    const char *e = p + 1;
    for (;;) { /* the byte after each LF says whether the value folds onto the next line */
        const char *lf = memchr(e, '\n', (size_t)(w - e));
        if (lf == NULL || lf + 1 == w) {
            if (!full)
                return false;
            e = NULL; /* longer than FR_CLEN_LINE_MAX */
            break;
        }
        e = lf + 1;
        if (*e != ' ' && *e != '\t')
            break;
    }
    if (f->clen_state == 0) {
        int32_t v = e == NULL ? SIP_ECLEN : sip_clen_parse(sip_trim(span_range(p + 1, e)));
        f->clen_state = v < 0 ? (int8_t)SIP_ECLEN : 1;
        f->clen = v < 0 ? 0 : v;
    } else if (f->clen_state == 1) {
        f->clen_state = (int8_t)SIP_EDUPHDR;
    }
    return true;
}

/* The header block from b (the message start), n bytes of it in the window, in one pass:
 * each LF is followed by the end of the block (LF or CRLF), a fold, or a header line, of
 * which only one that may be a Content-Length (c, C, l, L) is looked into. Sets f->hdr_len,
 * or returns SIP_FRAME_MORE with f->scan at the first LF not settled yet. The start line
 * is never taken for a header: a header line starts after an LF. */
static int head(const char *b, size_t n, struct sip_frame *f)
{
    size_t i = f->scan;
    while (i < n) {
        const char *lf = memchr(b + i, '\n', n - i);
        if (lf == NULL) {
            i = n;
            break;
        }
        i = (size_t)(lf - b);
        if (i + 1 == n)
            break;
        char c = b[i + 1];
        if (c == '\n') {
            f->hdr_len = (uint32_t)(i + 2);
            return 1;
        }
        if (c == '\r') {
            if (i + 2 == n)
                break;
            if (b[i + 2] == '\n') {
                f->hdr_len = (uint32_t)(i + 3);
                return 1;
            }
        } else if (((c | 0x20) == 'c' || (c | 0x20) == 'l') &&
                   !clen_line(b + i + 1, b + n, f)) {
            break;
        }
        i++;
    }
    f->scan = (uint32_t)i;
    return SIP_FRAME_MORE;
}

int sip_frame(const char *buf, size_t len, const struct sip_frame_lim *lim, struct sip_frame *f)
{
    if (f->state == FR_LEAD) {
        int r = lead(buf, len, f);
        if (r >= 0)
            return r;
        f->state = FR_HEAD;
        f->scan = 0;
    }
    const char *b = buf + f->skip;
    size_t avail = len - f->skip;
    if (f->state == FR_HEAD) {
        /* only the first max_hdr bytes are searched, so the verdict does not depend on
         * how much more the sender managed to push in one go */
        size_t n = avail < lim->max_hdr ? avail : lim->max_hdr;
        if (head(b, n, f) == SIP_FRAME_MORE)
            return n == lim->max_hdr ? SIP_EHDRBIG : SIP_FRAME_MORE;
        if (f->clen_state < 0)
            return f->clen_state;
        if (f->clen_state == 0)
            return SIP_ENOCLEN;
        if ((uint64_t)f->hdr_len + (uint64_t)f->clen > lim->max_msg)
            return SIP_EMSGBIG;
        f->msg_len = f->hdr_len + (uint32_t)f->clen;
        f->state = FR_BODY;
    }
    if (avail < f->msg_len)
        return SIP_FRAME_MORE;
    f->used = f->skip + f->msg_len;
    return SIP_FRAME_MSG;
}
