/*
 * vb_sip.c - see vb_sip.h. The request layout is what a softphone sends
 * (Via with rport, Max-Forwards, From tag, Contact, User-Agent, an SDP offer
 * on INVITE), so the system under test parses and rewrites realistic bytes.
 */
#include "bench/vb_sip.h"

#include <string.h>

#include "bench/vb_match.h"

static const char sdp_offer[] = "v=0\r\n"
                                "o=- 20518 0 IN IP4 127.0.0.1\r\n"
                                "s=-\r\n"
                                "c=IN IP4 127.0.0.1\r\n"
                                "t=0 0\r\n"
                                "m=audio 40000 RTP/AVP 0 8 101\r\n"
                                "a=rtpmap:0 PCMU/8000\r\n"
                                "a=rtpmap:8 PCMA/8000\r\n"
                                "a=rtpmap:101 telephone-event/8000\r\n"
                                "a=fmtp:101 0-16\r\n"
                                "a=sendrecv\r\n";

static const char message_text[] = "viaduct-bench: the quick brown fox jumps over the lazy dog\r\n";

void vb_put(struct vb_buf *b, const void *s, size_t n)
{
    if (n == 0)
        return; /* s may be NULL then (an absent span) */
    if (b->overflow || n > b->cap - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void vb_put_uint(struct vb_buf *b, uint64_t v)
{
    char t[20];
    int i = 20;
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    vb_put(b, t + i, (size_t)(20 - i));
}

void vb_put_hex(struct vb_buf *b, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    char t[16];
    if (digits > 16)
        digits = 16;
    for (int i = digits - 1; i >= 0; i--) {
        t[i] = hex[v & 15];
        v >>= 4;
    }
    vb_put(b, t, (size_t)digits);
}

static struct span method_name(int method)
{
    switch (method) {
    case SIP_M_INVITE: return SPAN_LIT("INVITE");
    case SIP_M_ACK: return SPAN_LIT("ACK");
    case SIP_M_BYE: return SPAN_LIT("BYE");
    case SIP_M_REGISTER: return SPAN_LIT("REGISTER");
    case SIP_M_OPTIONS: return SPAN_LIT("OPTIONS");
    default: return SPAN_LIT("MESSAGE");
    }
}

int vb_req_write(struct vb_buf *b, const struct vb_req *r)
{
    struct span m = method_name(r->method);
    char branch[VB_BRANCH_LEN];
    vb_branch_write(branch, r->branch_id);

    vb_put_span(b, m);
    VB_LIT(b, " sip:");
    if (r->method != SIP_M_REGISTER) {
        vb_put_span(b, r->user);
        VB_LIT(b, "@");
    }
    vb_put_span(b, r->domain);
    VB_LIT(b, " SIP/2.0\r\nVia: SIP/2.0/UDP ");
    vb_put_span(b, r->local);
    VB_LIT(b, ";rport;branch=");
    vb_put(b, branch, sizeof(branch));
    VB_LIT(b, "\r\nMax-Forwards: 70\r\nFrom: <sip:");
    vb_put_span(b, r->from_user);
    VB_LIT(b, "@");
    vb_put_span(b, r->domain);
    VB_LIT(b, ">;tag=");
    vb_put_hex(b, r->from_tag, 16);
    VB_LIT(b, "\r\nTo: <sip:");
    vb_put_span(b, r->user);
    VB_LIT(b, "@");
    vb_put_span(b, r->domain);
    VB_LIT(b, ">");
    if (r->to_tag.p != NULL) {
        VB_LIT(b, ";tag=");
        vb_put_span(b, r->to_tag);
    }
    VB_LIT(b, "\r\nCall-ID: ");
    vb_put_span(b, r->callid);
    VB_LIT(b, "\r\nCSeq: ");
    vb_put_uint(b, r->cseq);
    VB_LIT(b, " ");
    vb_put_span(b, r->method == SIP_M_ACK ? SPAN_LIT("ACK") : m);
    VB_LIT(b, "\r\n");
    if (r->method == SIP_M_INVITE || r->method == SIP_M_REGISTER) {
        VB_LIT(b, "Contact: <sip:");
        vb_put_span(b, r->from_user);
        VB_LIT(b, "@");
        vb_put_span(b, r->local);
        VB_LIT(b, ">\r\n");
    }
    if (r->method == SIP_M_REGISTER) {
        VB_LIT(b, "Expires: ");
        vb_put_uint(b, (uint64_t)r->expires);
        VB_LIT(b, "\r\n");
    }
    VB_LIT(b, "User-Agent: viaduct-bench\r\n");
    struct span body = SPAN_NULL;
    if (r->body && r->method == SIP_M_INVITE) {
        body = SPAN_LIT(sdp_offer);
        VB_LIT(b, "Content-Type: application/sdp\r\n");
    } else if (r->body && r->method == SIP_M_MESSAGE) {
        body = SPAN_LIT(message_text);
        VB_LIT(b, "Content-Type: text/plain\r\n");
    }
    VB_LIT(b, "Content-Length: ");
    vb_put_uint(b, body.len);
    VB_LIT(b, "\r\n\r\n");
    vb_put_span(b, body);
    return b->overflow ? -1 : (int)b->len;
}

static struct span status_line(int status)
{
    switch (status) {
    case 100: return SPAN_LIT("SIP/2.0 100 Trying\r\n");
    case 180: return SPAN_LIT("SIP/2.0 180 Ringing\r\n");
    case 183: return SPAN_LIT("SIP/2.0 183 Session Progress\r\n");
    case 200: return SPAN_LIT("SIP/2.0 200 OK\r\n");
    case 202: return SPAN_LIT("SIP/2.0 202 Accepted\r\n");
    case 404: return SPAN_LIT("SIP/2.0 404 Not Found\r\n");
    case 481: return SPAN_LIT("SIP/2.0 481 Call/Transaction Does Not Exist\r\n");
    default: return SPAN_LIT("SIP/2.0 500 Server Internal Error\r\n");
    }
}

/* A header line as received, its value's trailing LWS and line end
 * normalised to one CRLF. */
static void put_line(struct vb_buf *b, const struct sip_hdr *h)
{
    vb_put(b, h->name.p, (size_t)(span_end(h->value) - h->name.p));
    VB_LIT(b, "\r\n");
}

static void put_all(struct vb_buf *b, const struct sip_msg *m, enum sip_hid id)
{
    for (int i = m->first[id]; i >= 0; i = sip_hnext(m, i))
        put_line(b, &m->hdr[i]);
}

int vb_resp_write(struct vb_buf *b, const struct sip_msg *m, int status, bool had_tag,
                  struct span to_tag, struct span contact)
{
    bool invite = m->method_id == SIP_M_INVITE;
    bool dialog = invite && status > 100 && status < 300;
    vb_put_span(b, status_line(status));
    put_all(b, m, SIP_H_VIA);
    if (dialog)
        put_all(b, m, SIP_H_RECORD_ROUTE); /* §12.1.1: copied into dialog-creating responses */
    put_line(b, &m->hdr[m->first[SIP_H_FROM]]);
    const struct sip_hdr *to = &m->hdr[m->first[SIP_H_TO]];
    put_line(b, to);
    if (!had_tag && status != 100 && to_tag.len > 0 && !b->overflow) {
        b->len -= 2; /* before the CRLF put_line wrote */
        VB_LIT(b, ";tag=");
        vb_put_span(b, to_tag);
        VB_LIT(b, "\r\n");
    }
    put_line(b, &m->hdr[m->first[SIP_H_CALL_ID]]);
    put_line(b, &m->hdr[m->first[SIP_H_CSEQ]]);
    if (dialog) {
        VB_LIT(b, "Contact: <sip:emu@");
        vb_put_span(b, contact);
        VB_LIT(b, ">\r\n");
    }
    if (m->method_id == SIP_M_REGISTER && status == 200) {
        put_all(b, m, SIP_H_CONTACT);
        struct span e = sip_hvalue(m, SIP_H_EXPIRES);
        VB_LIT(b, "Expires: ");
        if (e.p != NULL && e.len > 0)
            vb_put_span(b, e);
        else
            VB_LIT(b, "3600");
        VB_LIT(b, "\r\n");
    }
    VB_LIT(b, "Server: viaduct-bench\r\n");
    struct span body = SPAN_NULL;
    if (invite && status == 200 && m->body.len > 0) {
        struct span ct = sip_hvalue(m, SIP_H_CONTENT_TYPE);
        body = m->body;
        VB_LIT(b, "Content-Type: ");
        vb_put_span(b, ct.p ? ct : SPAN_LIT("application/sdp"));
        VB_LIT(b, "\r\n");
    }
    VB_LIT(b, "Content-Length: ");
    vb_put_uint(b, body.len);
    VB_LIT(b, "\r\n\r\n");
    vb_put_span(b, body);
    return b->overflow ? -1 : (int)b->len;
}

int vb_resp_read(const char *buf, size_t len, struct sip_msg *m, struct vb_resp *r)
{
    int err = sip_parse(buf, len, m);
    if (err < 0)
        return err;
    if (m->is_request)
        return SIP_ESTARTLINE;
    if (m->nvia == 0)
        return SIP_ENOVIA;
    struct sip_via v;
    if (sip_via_parse(m->via[0], &v) < 0)
        return SIP_EVIA;
    struct span cs = sip_hvalue(m, SIP_H_CSEQ), meth;
    if (cs.p == NULL)
        return SIP_ENOCSEQ;
    if (sip_cseq_parse(cs, &r->cseq, &meth) < 0)
        return SIP_ECSEQ;
    r->status = m->status;
    r->cseq_method = (int)sip_method_id(meth);
    r->branch = v.branch;
    r->callid = sip_hvalue(m, SIP_H_CALL_ID);
    r->to_tag = SPAN_NULL;
    /* only a dialog-creating response's To tag is used: parse it there only */
    if (r->cseq_method == SIP_M_INVITE && r->status >= 200 && r->status < 300) {
        struct sip_nameaddr to;
        struct span tv = sip_hvalue(m, SIP_H_TO);
        if (tv.p == NULL || sip_nameaddr_parse(tv, &to) < 0)
            return SIP_ENAMEADDR;
        r->to_tag = to.tag;
    }
    return 0;
}
