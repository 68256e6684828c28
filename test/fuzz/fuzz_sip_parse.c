/*
 * fuzz_sip_parse.c - libFuzzer target for parser/ alone (STYLE G24).
 *
 * Each input is one datagram. It goes through sip_parse(), every deep parser on the headers it
 * applies to (each Via value, the name-addr and URI of every From/To/Contact/Route/
 * Record-Route/Path/Refer-To element, their ';' parameters, CSeq, Max-Forwards,
 * Content-Length, the Request-URI) and sip_validate(); the deep parsers also get the raw input
 * as one span (outside their precondition, which sip_parse() guarantees, so only memory
 * safety and the output invariants are asked of them there). Invariants, each an abort():
 *   - return values are in range (sip_parse <= len, errors are known sip_err codes);
 *   - every span produced lies inside the span it was parsed from (for sip_parse: the
 *     datagram) or is absent (p == NULL); counts stay within SIP_MAX_HDRS / SIP_MAX_VIAS;
 *   - the index is self-consistent (hdr_len <= msg_len <= len, first[]/sip_hnext()/via_hdr[]
 *     agree with hdr[].id, ids agree with sip_hname_id()/sip_method_id());
 *   - list and parameter loops make progress;
 *   - sip_parse() equals sip_parse_careful(), its careful pass alone, in every field;
 *   - a copy of the input at another address and alignment, with every output struct
 *     pre-filled with 0xA5 instead of 0, gives the same results as span offsets;
 *   - the input read as a stream (check_frame): sip_frame() gives the same verdicts, message
 *     by message, whether it sees the whole stream at once or the bytes arrive in chunks cut
 *     at points drawn from the input's hash, and a framed message that sip_parse() takes has
 *     the framer's hdr_len, clen and msg_len.
 * Build and run: make fuzz FUZZ_SECONDS=120 (test/fuzz/run.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser/sip.h"
#include "parser/sip_chars.h"
#include "test/sip_msg_diff.h"

/* One pass over one copy of the input: a running FNV-1a hash of every result, taken as
 * offsets from base so two copies at different addresses can be compared. */
struct run {
    uintptr_t base;
    size_t len;
    unsigned char fill; /* byte every output struct is pre-filled with */
    uint64_t hash;
    uint64_t count;
    FILE *log; /* when set, every recorded value is printed (used to explain a mismatch) */
};

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_sip_parse: invariant broken: %s\n", what);
    abort();
}

static void rec(struct run *r, const char *what, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        r->hash ^= (v >> (8 * i)) & 0xff;
        r->hash *= 0x100000001b3ULL;
    }
    r->count++;
    if (r->log != NULL)
        fprintf(r->log, "  %s = %llu\n", what, (unsigned long long)v);
}

/* Records s, which must be absent or lie within in. */
static void rec_span(struct run *r, const char *what, struct span s, struct span in)
{
    if (s.p == NULL) {
        rec(r, what, UINT64_MAX);
        return;
    }
    uintptr_t p = (uintptr_t)s.p, lo = (uintptr_t)in.p;
    if (in.p == NULL || p < lo || p > lo + in.len || s.len > lo + in.len - p) {
        fprintf(stderr, "fuzz_sip_parse: %s = [%+td, len %zu] outside its input [0, %zu)\n", what,
                (ptrdiff_t)(p - lo), s.len, in.len);
        fail("span outside its input");
    }
    rec(r, what, (uint64_t)(p - r->base));
    rec(r, what, s.len);
}

/* A return value that is either >= 0 or one of the named sip_err codes in allowed. */
static void check_err(int ret, const int *allowed, size_t n, const char *what)
{
    if (ret >= 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (ret == allowed[i])
            return;
    fprintf(stderr, "fuzz_sip_parse: %s returned %d (%s)\n", what, ret, sip_err_name(ret));
    fail("unexpected return value");
}

static void check_hostport(struct run *r, const struct sip_hostport *hp, struct span in)
{
    rec_span(r, "hp.host", hp->host, in);
    if (hp->host_type > SIP_HOST_IPV6)
        fail("host_type out of range");
    if (hp->port < -1)
        fail("port below -1");
    rec(r, "hp.type", hp->host_type);
    rec(r, "hp.port", (uint64_t)(int64_t)hp->port);
}

/* Walks a ';' parameter list to its end or its first error. */
static void check_params(struct run *r, struct span params)
{
    if (params.p == NULL)
        return;
    static const int ok_errs[] = {SIP_EQUOTE, SIP_ENAMEADDR};
    struct span rest = params;
    for (size_t guard = 0;; guard++) {
        if (guard > params.len + 1)
            fail("sip_param_next makes no progress");
        struct span name, value;
        memset(&name, r->fill, sizeof(name));
        memset(&value, r->fill, sizeof(value));
        size_t before = rest.len;
        int ret = sip_param_next(&rest, &name, &value);
        check_err(ret, ok_errs, 2, "sip_param_next");
        rec(r, "param.ret", (uint64_t)(int64_t)ret);
        if (ret != 1)
            return;
        if (name.p == NULL)
            fail("sip_param_next: parameter without a name");
        rec_span(r, "param.name", name, params);
        rec_span(r, "param.value", value, params);
        rec_span(r, "param.rest", rest, params);
        if (rest.len >= before)
            fail("sip_param_next returned 1 without consuming input");
    }
}

/* Every field of a parsed URI; in is what it was parsed from. */
static void rec_uri(struct run *r, const struct sip_uri *uri, struct span in)
{
    if (uri->scheme > SIP_SCHEME_OTHER)
        fail("uri.scheme out of range");
    rec(r, "uri.scheme", uri->scheme);
    rec_span(r, "uri.scheme_s", uri->scheme_s, in);
    if (uri->scheme == SIP_SCHEME_OTHER) { /* only the scheme and the rest are defined */
        rec_span(r, "uri.opaque", uri->opaque, in);
        return;
    }
    rec_span(r, "uri.user", uri->user, in);
    rec_span(r, "uri.password", uri->password, in);
    check_hostport(r, &uri->hp, in);
    rec_span(r, "uri.params", uri->params, in);
    rec_span(r, "uri.headers", uri->headers, in);
    rec_span(r, "uri.lr", uri->lr, in);
    rec_span(r, "uri.transport", uri->transport, in);
    rec_span(r, "uri.maddr", uri->maddr, in);
    rec_span(r, "uri.user_param", uri->user_param, in);
}

static void check_uri(struct run *r, struct span u)
{
    static const int ok_errs[] = {SIP_EURI};
    struct sip_uri uri;
    memset(&uri, r->fill, sizeof(uri));
    int ret = sip_uri_parse(u, &uri);
    check_err(ret, ok_errs, 1, "sip_uri_parse");
    rec(r, "uri.ret", (uint64_t)(int64_t)ret);
    if (ret != 0)
        return;
    rec_uri(r, &uri, u);
    if (uri.scheme != SIP_SCHEME_OTHER)
        check_params(r, uri.params);
}

static void rec_nameaddr(struct run *r, const struct sip_nameaddr *na, struct span in)
{
    rec_span(r, "na.display", na->display, in);
    rec_span(r, "na.uri", na->uri, in);
    rec_span(r, "na.params", na->params, in);
    rec_span(r, "na.tag", na->tag, in);
    rec(r, "na.bracketed", na->bracketed);
}

static void check_nameaddr(struct run *r, struct span v)
{
    static const int ok_errs[] = {SIP_ENAMEADDR, SIP_EQUOTE};
    struct sip_nameaddr na;
    memset(&na, r->fill, sizeof(na));
    int ret = sip_nameaddr_parse(v, &na);
    check_err(ret, ok_errs, 2, "sip_nameaddr_parse");
    rec(r, "na.ret", (uint64_t)(int64_t)ret);
    if (ret != 0)
        return;
    rec_nameaddr(r, &na, v);
    if (na.uri.p != NULL)
        check_uri(r, na.uri);
    check_params(r, na.params);
}

static void rec_via(struct run *r, const struct sip_via *via, struct span in)
{
    rec_span(r, "via.protocol", via->protocol, in);
    rec_span(r, "via.version", via->version, in);
    rec_span(r, "via.transport", via->transport, in);
    check_hostport(r, &via->sent_by, in);
    rec_span(r, "via.params", via->params, in);
    rec_span(r, "via.branch", via->branch, in);
    rec_span(r, "via.received", via->received, in);
    rec_span(r, "via.maddr", via->maddr, in);
    rec_span(r, "via.ttl", via->ttl, in);
    rec_span(r, "via.rport", via->rport, in);
    if (via->branch.p != NULL)
        rec(r, "via.rfc3261", sip_branch_is_rfc3261(via->branch));
}

static void check_via(struct run *r, struct span v)
{
    static const int ok_errs[] = {SIP_EVIA};
    struct sip_via via;
    memset(&via, r->fill, sizeof(via));
    int ret = sip_via_parse(v, &via);
    check_err(ret, ok_errs, 1, "sip_via_parse");
    rec(r, "via.ret", (uint64_t)(int64_t)ret);
    if (ret != 0)
        return;
    rec_via(r, &via, v);
    check_params(r, via.params);
}

enum elem_kind { ELEM_VIA, ELEM_NAMEADDR };

/* Splits a comma list and deep-parses each element. */
static void check_list(struct run *r, struct span list, enum elem_kind kind)
{
    static const int ok_errs[] = {SIP_EQUOTE};
    struct span rest = list;
    for (size_t guard = 0;; guard++) {
        if (guard > list.len + 1)
            fail("sip_list_next makes no progress");
        struct span item;
        memset(&item, r->fill, sizeof(item));
        size_t before = rest.len;
        int ret = sip_list_next(&rest, &item);
        check_err(ret, ok_errs, 1, "sip_list_next");
        if (ret > 1)
            fail("sip_list_next returned more than 1");
        rec(r, "list.ret", (uint64_t)(int64_t)ret);
        if (ret != 1)
            return;
        rec_span(r, "list.item", item, list);
        rec_span(r, "list.rest", rest, list);
        if (rest.p != NULL && rest.len >= before) /* p == NULL: used up */
            fail("sip_list_next returned 1 without consuming input");
        if (item.p == NULL)
            fail("sip_list_next: item absent on success");
        if (kind == ELEM_VIA)
            check_via(r, item);
        else
            check_nameaddr(r, item);
    }
}

static void check_scalars(struct run *r, struct span v)
{
    uint32_t num;
    struct span method;
    memset(&num, r->fill, sizeof(num));
    memset(&method, r->fill, sizeof(method));
    static const int cseq_errs[] = {SIP_ECSEQ};
    int ret = sip_cseq_parse(v, &num, &method);
    check_err(ret, cseq_errs, 1, "sip_cseq_parse");
    rec(r, "cseq.ret", (uint64_t)(int64_t)ret);
    if (ret == 0) {
        rec(r, "cseq.num", num);
        rec_span(r, "cseq.method", method, v);
        if (method.p == NULL || method.len == 0)
            fail("sip_cseq_parse: no method on success");
    }
    int mf = sip_maxfwd_parse(v);
    if (mf != SIP_EMAXFWD && (mf < 0 || mf > 255))
        fail("sip_maxfwd_parse out of range");
    rec(r, "maxfwd", (uint64_t)(int64_t)mf);
    int32_t cl = sip_clen_parse(v);
    if (cl < 0 && cl != SIP_ECLEN)
        fail("sip_clen_parse: unexpected error");
    rec(r, "clen", (uint64_t)(int64_t)cl);
}

/* Deep parsers over a span that no index pass vetted: the raw input. */
static void check_raw(struct run *r, struct span s)
{
    check_via(r, s);
    check_uri(r, s);
    check_nameaddr(r, s);
    check_list(r, s, ELEM_NAMEADDR);
    check_params(r, s);
    check_scalars(r, s);
    rec(r, "rfc3261", sip_branch_is_rfc3261(s));
    struct sip_hostport hp;
    memset(&hp, r->fill, sizeof(hp));
    int ret = sip_hostport_parse(s, &hp);
    static const int hp_errs[] = {SIP_EURI};
    check_err(ret, hp_errs, 1, "sip_hostport_parse");
    if ((size_t)(ret < 0 ? 0 : ret) > s.len)
        fail("sip_hostport_parse consumed more than it was given");
    rec(r, "hp.ret", (uint64_t)(int64_t)ret);
    if (ret >= 0)
        check_hostport(r, &hp, s);
}

/* Index consistency: header slots, id tables, Via bookkeeping. */
static void check_index(struct run *r, const struct sip_msg *m, struct span dg)
{
    struct span head = {dg.p, m->hdr_len};
    if (m->nhdr > SIP_MAX_HDRS || m->nvia > SIP_MAX_VIAS)
        fail("nhdr or nvia above capacity");
    rec(r, "nhdr", m->nhdr);
    rec(r, "nvia", m->nvia);
    for (unsigned i = 0; i < m->nhdr; i++) {
        const struct sip_hdr *h = &m->hdr[i];
        rec_span(r, "hdr.name", h->name, head);
        rec_span(r, "hdr.value", h->value, head);
        rec_span(r, "hdr.line", span_make(h->name.p, h->line_len), head);
        if (h->name.p == NULL || h->name.len == 0 || h->value.p == NULL)
            fail("header without a name or value");
        if (h->id >= SIP_H__COUNT || sip_hname_id(h->name) != h->id)
            fail("hdr.id disagrees with sip_hname_id");
        rec(r, "hdr.id", h->id);
    }
    for (int id = 1; id < SIP_H__COUNT; id++) {
        int f = m->first[id];
        rec(r, "first", (uint64_t)(int64_t)f);
        if (sip_hname_canonical((enum sip_hid)id).len == 0)
            fail("no canonical name for a known id");
        int expect = -1, count = 0;
        for (int i = 0; i < m->nhdr; i++) {
            if (m->hdr[i].id == id) {
                expect = expect < 0 ? i : expect;
                count++;
            }
        }
        if (f != expect)
            fail("first[] is not the first header of its id");
        int seen = 0;
        for (int i = f; i >= 0; i = sip_hnext(m, i)) {
            if (i >= m->nhdr || m->hdr[i].id != id || ++seen > count)
                fail("sip_hnext leaves the headers of its id");
        }
        if (seen != count)
            fail("sip_hnext skips a header of its id");
    }
    for (unsigned i = 0; i < m->nvia; i++) {
        unsigned h = m->via_hdr[i];
        if (h >= m->nhdr || m->hdr[h].id != SIP_H_VIA || (i > 0 && h < m->via_hdr[i - 1]))
            fail("via_hdr[] does not point at the Via lines in order");
        rec_span(r, "via[]", m->via[i], m->hdr[h].value);
    }
}

/* The whole pipeline over buf[0..len); everything goes into r. */
static void run_all(struct run *r, const char *buf, size_t len)
{
    static const int parse_errs[] = {
#define X(name, val, id, text) name,
        SIP_ERRORS(X)
#undef X
    };
    enum { NPARSE_ERRS = sizeof(parse_errs) / sizeof(parse_errs[0]) };
    struct span dg = {buf, len};
    static struct sip_msg m; /* 12 KB: keep it off libFuzzer's stack */
    memset(&m, r->fill, sizeof(m));
    r->base = (uintptr_t)buf;
    r->len = len;

    int ret = sip_parse(buf, len, &m);
    check_err(ret, parse_errs, NPARSE_ERRS, "sip_parse");
    static struct sip_msg careful;
    memset(&careful, r->fill ^ 0xff, sizeof(careful));
    const char *diff = sip_msg_diff(ret, &m, sip_parse_careful(buf, len, &careful), &careful);
    if (diff != NULL) {
        fprintf(stderr, "fuzz_sip_parse: fast and careful pass differ in %s\n", diff);
        fail("sip_parse differs from sip_parse_careful");
    }
    rec(r, "parse.ret", (uint64_t)(int64_t)ret);
    if (ret == 0 || (ret > 0 && (size_t)ret > len))
        fail("sip_parse returned 0 or more than len");
    if (strcmp(sip_err_name(ret < 0 ? ret : 0), "SIP_EUNKNOWN") == 0 ||
        sip_err_id(ret < 0 ? ret : 0) == NULL || sip_err_text(ret < 0 ? ret : 0) == NULL)
        fail("error code without a name");
    check_raw(r, dg);
    if (ret < 0) {
        if (m.err_at != NULL &&
            ((uintptr_t)m.err_at < (uintptr_t)buf || (uintptr_t)m.err_at > (uintptr_t)buf + len))
            fail("err_at outside [buf, buf + len]");
        rec(r, "err_at", m.err_at == NULL ? UINT64_MAX : (uint64_t)(m.err_at - buf));
        /* sip.h: SIP_EVERSION comes only after the whole message indexed cleanly (a 505 is
         * routed by its Via), so everything below holds for it too */
        if (ret != SIP_EVERSION)
            return;
    }

    if ((ret > 0 && (size_t)ret != m.hdr_len) || m.hdr_len > m.msg_len || m.msg_len > len)
        fail("hdr_len, msg_len and len out of order");
    rec(r, "msg_len", m.msg_len);
    rec_span(r, "body", m.body, dg);
    if (m.body.len != m.msg_len - m.hdr_len ||
        (m.body.p != buf + m.hdr_len && !(m.body.p == NULL && m.body.len == 0)))
        fail("body is not [hdr_len, msg_len)");
    if (m.clen < -1 || (m.clen >= 0 && m.body.len != (size_t)m.clen) ||
        (m.clen == -1 && m.msg_len != len))
        fail("body length disagrees with Content-Length");
    rec(r, "clen", (uint64_t)(int64_t)m.clen);
    rec(r, "is_request", m.is_request);
    rec_span(r, "version", m.version, dg);
    if (m.is_request) {
        rec_span(r, "method", m.method, dg);
        rec_span(r, "ruri", m.ruri, dg);
        if (m.method.p == NULL || m.ruri.p == NULL || sip_method_id(m.method) != m.method_id)
            fail("request without method/ruri or method_id disagrees");
        rec(r, "method_id", m.method_id);
        check_uri(r, m.ruri);
    } else if (ret > 0) { /* SIP_EVERSION stops the status line at its version */
        if (m.status < 100 || m.status > 699)
            fail("status outside 100..699");
        rec(r, "status", (uint64_t)m.status);
        rec_span(r, "reason", m.reason, dg);
    }
    check_index(r, &m, dg);

    for (unsigned i = 0; i < m.nvia; i++)
        check_via(r, m.via[i]);
    for (unsigned i = 0; i < m.nhdr; i++) {
        struct span v = m.hdr[i].value;
        switch (m.hdr[i].id) {
        case SIP_H_VIA: check_list(r, v, ELEM_VIA); break;
        case SIP_H_FROM:
        case SIP_H_TO:
        case SIP_H_REFER_TO: check_nameaddr(r, v); break;
        case SIP_H_CONTACT:
        case SIP_H_ROUTE:
        case SIP_H_RECORD_ROUTE:
        case SIP_H_PATH: check_list(r, v, ELEM_NAMEADDR); break;
        case SIP_H_CSEQ:
        case SIP_H_MAX_FORWARDS:
        case SIP_H_CONTENT_LENGTH: check_scalars(r, v); break;
        default: break;
        }
    }

    static struct sip_info info;
    memset(&info, r->fill, sizeof(info));
    int vret = sip_validate(&m, &info);
    check_err(vret, parse_errs, NPARSE_ERRS, "sip_validate");
    rec(r, "validate.ret", (uint64_t)(int64_t)vret);
    if (vret > 0)
        fail("sip_validate returned > 0");
    if (vret < 0)
        return;
    if (m.nvia == 0 || sip_hvalue(&m, SIP_H_CALL_ID).p == NULL)
        fail("sip_validate accepted a message without Via or Call-ID");
    rec_via(r, &info.via1, m.via[0]);
    rec_span(r, "info.callid", info.callid, dg);
    rec(r, "info.cseq", info.cseq);
    rec_span(r, "info.cseq_method", info.cseq_method, dg);
    if (info.max_fwd < -1 || info.max_fwd > 255)
        fail("info.max_fwd out of range");
    rec(r, "info.max_fwd", (uint64_t)(int64_t)info.max_fwd);
    rec_nameaddr(r, &info.from, sip_hvalue(&m, SIP_H_FROM));
    rec_nameaddr(r, &info.to, sip_hvalue(&m, SIP_H_TO));
    if (m.is_request) {
        if (!span_eq(info.cseq_method, m.method))
            fail("sip_validate accepted a CSeq method that differs from the request's");
        rec_uri(r, &info.ruri, m.ruri);
        if (info.ruri.scheme != SIP_SCHEME_OTHER && info.ruri.headers.p != NULL)
            fail("sip_validate accepted a Request-URI with headers");
    }
}

/* ---- the stream framer ---- */

#define FRAME_MAX_VERDICTS 2048 /* a 4 KB input holds at most 1024 pings */

struct frame_verdict {
    int r;
    uint32_t skip, hdr_len, msg_len, used;
};

static struct frame_verdict frame_verdict(int r, const struct sip_frame *f)
{
    struct frame_verdict v = {.r = r};
    if (r == SIP_FRAME_MSG || r == SIP_FRAME_PING)
        v = (struct frame_verdict){r, f->skip, r == SIP_FRAME_MSG ? f->hdr_len : 0,
                                   r == SIP_FRAME_MSG ? f->msg_len : 0, f->used};
    return v;
}

/* sip_frame over a heap copy of exactly buf[0..len), so ASan sees a read one past it. */
static int frame_copy(const uint8_t *buf, size_t len, const struct sip_frame_lim *lim,
                      struct sip_frame *f)
{
    char *c = malloc(len > 0 ? len : 1);
    if (c == NULL)
        abort();
    memcpy(c, buf, len);
    int r = sip_frame(c, len, lim, f);
    if (r == SIP_FRAME_MSG) {
        static struct sip_msg m;
        if (f->used > len || f->used != f->skip + f->msg_len ||
            f->msg_len != f->hdr_len + (uint32_t)f->clen || f->hdr_len > lim->max_hdr ||
            f->msg_len > lim->max_msg)
            fail("sip_frame: a message outside the bytes given or the limits");
        if (sip_parse(c + f->skip, f->msg_len, &m) > 0 &&
            (m.hdr_len != f->hdr_len || m.clen != f->clen || m.msg_len != f->msg_len))
            fail("sip_frame frames a message differently from sip_parse");
    } else if (r == SIP_FRAME_PING) {
        if (f->used != f->skip + 4 || f->used > len)
            fail("sip_frame: a ping that is not CRLF CRLF");
    } else if (r != SIP_FRAME_MORE && r != SIP_ENOCLEN && r != SIP_ECLEN && r != SIP_EDUPHDR &&
               r != SIP_EHDRBIG && r != SIP_EMSGBIG) {
        fail("sip_frame returned a code its contract does not name");
    }
    free(c);
    return r;
}

static void check_frame(const uint8_t *data, size_t size, uint64_t seed)
{
    /* limits small enough for a fuzz input to cross, drawn from the input */
    const struct sip_frame_lim lim = {.max_hdr = 256 + (uint32_t)(seed % 2048),
                                      .max_msg = 512 + (uint32_t)((seed >> 16) % 4096)};
    static struct frame_verdict want[FRAME_MAX_VERDICTS];
    size_t nwant = 0, off = 0;
    struct sip_frame f;
    for (;;) { /* the whole stream at once: the reference */
        sip_frame_reset(&f);
        int r = frame_copy(data + off, size - off, &lim, &f);
        if (nwant == FRAME_MAX_VERDICTS)
            fail("more verdicts than a 4 KB stream can hold");
        want[nwant++] = frame_verdict(r, &f);
        if (r != SIP_FRAME_MSG && r != SIP_FRAME_PING)
            break;
        off += f.used;
    }

    uint64_t x = seed | 1; /* xorshift64: chunk sizes, 1 to size / 4 + 1 bytes */
    size_t have = 0, i = 0;
    off = 0;
    sip_frame_reset(&f);
    for (;;) {
        int r = frame_copy(data + off, have - off, &lim, &f);
        if (r == SIP_FRAME_MORE && have < size) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t chunk = 1 + (size_t)(x % (size / 4 + 1));
            have = chunk > size - have ? size : have + chunk;
            continue;
        }
        struct frame_verdict got = frame_verdict(r, &f);
        if (i == nwant || memcmp(&got, &want[i], sizeof(got)) != 0) {
            fprintf(stderr, "fuzz_sip_parse: verdict %zu: in chunks %d used %u, whole %d used %u\n",
                    i, got.r, got.used, i < nwant ? want[i].r : 99, i < nwant ? want[i].used : 0);
            fail("sip_frame gives another verdict when the stream arrives in chunks");
        }
        i++;
        if (r != SIP_FRAME_MSG && r != SIP_FRAME_PING)
            break;
        off += f.used;
        sip_frame_reset(&f);
    }
    if (i != nwant)
        fail("sip_frame: fewer verdicts in chunks than whole");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run a = {.fill = 0x00, .hash = 0xcbf29ce484222325ULL};
    run_all(&a, (const char *)data, size);

    /* The same bytes at an odd offset, ending exactly at the allocation's end so ASan still
     * catches a read one past it, with outputs pre-filled with garbage instead of zeros. */
    size_t shift = 1 + size % 7;
    char *mem = malloc(size + shift);
    if (mem == NULL)
        return 0;
    memcpy(mem + shift, data, size);
    struct run b = {.fill = 0xa5, .hash = 0xcbf29ce484222325ULL};
    run_all(&b, mem + shift, size);
    if (a.hash != b.hash || a.count != b.count) {
        fprintf(stderr, "fuzz_sip_parse: first copy (outputs zeroed):\n");
        a = (struct run){.fill = 0x00, .log = stderr};
        run_all(&a, (const char *)data, size);
        fprintf(stderr, "fuzz_sip_parse: second copy (offset %zu, outputs 0xa5):\n", shift);
        b = (struct run){.fill = 0xa5, .log = stderr};
        run_all(&b, mem + shift, size);
        fail("a copy at another address, or different prior output contents, changed a result");
    }
    free(mem);
    check_frame(data, size, a.hash);
    return 0;
}
