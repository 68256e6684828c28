/*
 * sip_frame.c - stream framing: where one SIP message ends in a TCP or TLS byte stream
 * (RFC 3261 §18.3, §7.5; RFC 5626 §4.4.1). sip.h has the contract.
 *
 * Three states, each resumable where the last call stopped: before the message (leading
 * CRLFs, a CRLF CRLF ping), in the header block (a memchr for LF from the saved offset, each
 * LF then checked for the LF or CRLF that makes the next line empty), in the body (a length
 * compare). A slow sender thus costs one pass over its header block however it splits it,
 * never one pass per call (picohttpparser's phr_parse_request rescans from the start and
 * relies on its caller's last_len hint for the same reason). Content-Length is looked for
 * once, when the empty line has been found, by walking the header lines' names only: the
 * values are sip_parse()'s to check, after the framer has said which bytes are the message.
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

/* The header block from b (the message start), n bytes of it in the window: sets
 * f->hdr_len, or returns SIP_FRAME_MORE with f->scan at the first LF not yet settled. */
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
        if (b[i + 1] == '\n') {
            f->hdr_len = (uint32_t)(i + 2);
            return 1;
        }
        if (b[i + 1] == '\r') {
            if (i + 2 == n)
                break;
            if (b[i + 2] == '\n') {
                f->hdr_len = (uint32_t)(i + 3);
                return 1;
            }
        }
        i++;
    }
    f->scan = (uint32_t)i;
    return SIP_FRAME_MORE;
}

/* End of the logical line from p (folds included): the byte after its last LF. The header
 * block [.., end) ends with an empty line, so an LF is always found before end. */
static const char *logical_line_end(const char *p, const char *end)
{
    for (;;) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        p = lf + 1;
        if (p == end || (*p != ' ' && *p != '\t'))
            return p;
    }
}

/* The Content-Length of the header block [b, b + hdr_len): its value, -1 if absent, or
 * SIP_ECLEN / SIP_EDUPHDR. A name is a token, optional SP/HTAB, then ':' (as sip_parse()
 * reads it); a line that is not of that form is skipped here and rejected there. */
static int32_t find_clen(const char *b, size_t hdr_len)
{
    const char *end = b + hdr_len;
    const char *p = (const char *)memchr(b, '\n', hdr_len) + 1; /* after the start line */
    int32_t clen = -1;
    while (p < end && *p != '\r' && *p != '\n') {
        const char *name_end = sip_skip(p, end, SIP_C_TOKEN), *q = name_end;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        const char *next = logical_line_end(p, end);
        if (q < next && *q == ':' && name_end > p &&
            sip_hname_id(span_range(p, name_end)) == SIP_H_CONTENT_LENGTH) {
            if (clen >= 0)
                return SIP_EDUPHDR;
            clen = sip_clen_parse(sip_trim(span_range(q + 1, next)));
            if (clen < 0)
                return SIP_ECLEN;
        }
        p = next;
    }
    return clen;
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
        int32_t clen = find_clen(b, f->hdr_len);
        if (clen == -1)
            return SIP_ENOCLEN;
        if (clen < 0)
            return clen;
        if ((uint64_t)f->hdr_len + (uint64_t)clen > lim->max_msg)
            return SIP_EMSGBIG;
        f->clen = clen;
        f->msg_len = f->hdr_len + (uint32_t)clen;
        f->state = FR_BODY;
    }
    if (avail < f->msg_len)
        return SIP_FRAME_MORE;
    f->used = f->skip + f->msg_len;
    return SIP_FRAME_MSG;
}
