/*
 * sip_index.h - what the two passes of sip_parse() share (internal to
 * parser/): the careful pass (sip_msg.c) checks every byte where it stands
 * and gives the exact error; the fast pass (sip_fast.c) takes plain
 * datagrams in fewer steps and hands anything else to the careful pass.
 */
#ifndef VIADUCT_SIP_INDEX_H
#define VIADUCT_SIP_INDEX_H

#include "parser/sip_chars.h"

/* What sip_parse_fast returns for "not plain: run the careful pass". */
#define SIP_FAST_NO INT32_MIN

/*
 * The fast pass over a datagram (len > 0, m reset as sip_parse does): its
 * hdr_len, with m exactly as the careful pass would leave it, or
 * SIP_FAST_NO with m in any state. It never returns an error: every error
 * is the careful pass's to find and place. SIMD builds only.
 */
int sip_parse_fast(const char *buf, size_t len, struct sip_msg *m);

/* Request-Line [p, eol) into m; 0 or a start-line error with m->err_at
 * set. [buf, end) is the datagram, readable by the scans. */
int sip_idx_request_line(const char *p, const char *eol, struct sip_msg *m, const char *buf,
                         const char *end);
/* Status-Line [p, eol) into m; 0 or a start-line error. */
int sip_idx_status_line(const char *p, const char *eol, struct sip_msg *m);
/* Every element of a Via value into m->via[]: 0 or an error with err_at
 * set. list_bytes false: the value holds none of ',' '"' '<' '>'. */
int sip_idx_vias(struct sip_msg *m, struct span value, uint8_t hdr_idx, const char *end,
                 bool list_bytes);
/* The body after the empty line that ends at next, framed by
 * Content-Length (RFC 3261 §18.3): hdr_len or SIP_EBODY. */
int sip_idx_frame_body(struct sip_msg *m, const char *buf, const char *next, const char *end);

/* [p, end) without its outer LWS, as sip_trim. Nearly every header value is
 * one SP and then text that does not end in LWS; all four LWS bytes are
 * <= SP, so two byte tests settle that case without the table loops. */
static inline struct span sip_idx_trim_value(const char *p, const char *end)
{
    if (end - p >= 2 && *p == ' ' && (unsigned char)p[1] > ' ' && (unsigned char)end[-1] > ' ')
        return span_range(p + 1, end);
    return sip_trim(span_range(p, end));
}

#endif
