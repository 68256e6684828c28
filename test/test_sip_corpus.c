/*
 * test_sip_corpus.c - sip_parse + sip_validate over the shared corpora:
 * the 49 RFC 4475 torture messages, the 12 RFC 5118 IPv6 messages (wire
 * form) and 90 ordinary call-flow messages.
 *
 * The verdicts are an explicit table written here, not read from the
 * corpus: for each accepted message, fields it must yield; for each
 * rejected one, the exact error and whether sip_parse or sip_validate gives
 * it. The corpus lives in $SHARED_DIR/corpus (default ../shared, relative
 * to the repository root where tests run). A missing directory or file is a
 * failure, never a skip: a corpus test that silently runs nothing is worse
 * than none. Every file is copied with guard_copy() so that it ends at a
 * PROT_NONE page.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser/sip.h"
#include "test/guard.h"

static bool span_is(struct span s, const char *want, size_t n)
{
    return s.p != NULL && s.len == n && memcmp(s.p, want, n) == 0;
}

#define assert_span(s, lit)                                                                        \
    do {                                                                                           \
        struct span got_ = (s);                                                                    \
        if (!span_is(got_, (lit), sizeof(lit) - 1))                                                \
            fail_msg("%s is \"%.*s\" (len %zu%s), want \"%s\"", #s, (int)got_.len,                 \
                     got_.p != NULL ? got_.p : "", got_.len, got_.p != NULL ? "" : ", absent",     \
                     (lit));                                                                       \
    } while (0)

#define assert_span_prefix(s, lit)                                                                 \
    do {                                                                                           \
        struct span got_ = (s);                                                                    \
        assert_true(got_.p != NULL && got_.len >= sizeof(lit) - 1 &&                               \
                    memcmp(got_.p, (lit), sizeof(lit) - 1) == 0);                                  \
    } while (0)

static const char *shared_dir(void)
{
    const char *d = getenv("SHARED_DIR");
    return d != NULL && d[0] != '\0' ? d : "../shared";
}

/* Reads dir/file under $SHARED_DIR into a malloc'd buffer; fails the test
 * if it cannot. */
static char *read_shared(const char *dir, const char *file, size_t extra, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/%s", shared_dir(), dir, file);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (set SHARED_DIR to the shared directory)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + extra + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n + extra] = '\0';
    *len = (size_t)n;
    return buf;
}

/* One message, parsed and validated. Reused by every test: the guard copy of
 * the previous message is released by the next guard_copy(). */
struct loaded {
    struct guard g;
    const char *buf;
    size_t len;
    int parse_r; /* sip_parse */
    int r;       /* sip_parse's error, else sip_validate's result */
    struct sip_msg m;
    struct sip_info in;
};

static struct loaded cur;

static const struct loaded *load(const char *dir, const char *file, const char *extra,
                                 size_t extra_len)
{
    size_t len;
    char *raw = read_shared(dir, file, extra_len, &len);
    if (extra_len > 0)
        memcpy(raw + len, extra, extra_len);
    cur.len = len + extra_len;
    cur.buf = guard_copy(&cur.g, raw, cur.len);
    free(raw);
    memset(&cur.m, 0xa5, sizeof(cur.m));
    memset(&cur.in, 0xa5, sizeof(cur.in));
    cur.parse_r = sip_parse(cur.buf, cur.len, &cur.m);
    cur.r = cur.parse_r < 0 ? cur.parse_r : sip_validate(&cur.m, &cur.in);
    if (cur.parse_r >= 0)
        assert_true(cur.m.msg_len <= cur.len && cur.m.hdr_len == (size_t)cur.parse_r);
    return &cur;
}

static struct sip_via via_at(const struct loaded *l, unsigned k)
{
    struct sip_via v;
    assert_true(k < l->m.nvia);
    if (sip_via_parse(l->m.via[k], &v) != 0)
        fail_msg("Via %u \"%.*s\" does not parse", k, (int)l->m.via[k].len, l->m.via[k].p);
    return v;
}

static struct sip_uri uri_of(struct span s)
{
    struct sip_uri u;
    if (sip_uri_parse(s, &u) != 0)
        fail_msg("URI \"%.*s\" does not parse", (int)s.len, s.p != NULL ? s.p : "");
    return u;
}

/* Value of the first header whose name is exactly this (any case). */
static struct span hdr_named(const struct sip_msg *m, const char *name)
{
    for (unsigned i = 0; i < m->nhdr; i++)
        if (span_eq_nocase(m->hdr[i].name, span_make(name, strlen(name))))
            return m->hdr[i].value;
    return SPAN_NULL;
}

static int count_id(const struct sip_msg *m, enum sip_hid id)
{
    int n = 0;
    for (int i = m->first[id]; i >= 0; i = sip_hnext(m, i))
        n++;
    return n;
}

/* ---- RFC 4475: fields each accepted message must yield ---- */

static void check_wsinv(const struct loaded *l)
{
    const struct sip_msg *m = &l->m;
    const struct sip_info *in = &l->in;
    assert_int_equal(m->method_id, SIP_M_INVITE);
    assert_int_equal(in->max_fwd, 68);
    assert_int_equal(in->cseq, 9);
    assert_span(in->cseq_method, "INVITE");
    assert_span(in->callid, "wsinv.ndaksdj@192.0.2.1");
    assert_span(in->ruri.user, "vivekg");
    assert_span(in->ruri.hp.host, "chair-dnrc.example.com");
    assert_span(in->ruri.params, "unknownparam");
    assert_span(in->to.uri, "sip:vivekg@chair-dnrc.example.com");
    assert_false(in->to.bracketed);
    assert_span(in->to.tag, "1918181833n");
    assert_span(in->from.display, "J Rosenberg \\\\\\\"");
    assert_span(in->from.uri, "sip:jdrosen@example.com");
    assert_span(in->from.tag, "98asjd8");
    assert_int_equal(m->nvia, 3);
    assert_span(in->via1.protocol, "SIP");
    assert_span(in->via1.version, "2.0");
    assert_span(in->via1.transport, "UDP");
    assert_span(in->via1.sent_by.host, "192.0.2.2");
    assert_span(in->via1.branch, "390skdjuw");
    assert_false(sip_branch_is_rfc3261(in->via1.branch));
    assert_int_equal(m->via_hdr[1], m->via_hdr[2]);
    struct sip_via v = via_at(l, 1);
    assert_span(v.transport, "TCP");
    assert_span(v.sent_by.host, "spindle.example.com");
    assert_span(v.branch, "z9hG4bK9ikj8");
    v = via_at(l, 2);
    assert_span(v.sent_by.host, "192.168.255.111");
    assert_span(v.branch, "z9hG4bK30239");
    assert_int_equal(sip_hvalue(m, SIP_H_SUBJECT).len, 0);
    assert_span(hdr_named(m, "NewFangledHeader"),
                "newfangled value\r\n continued newfangled value");
    assert_span(sip_hvalue(m, SIP_H_ROUTE),
                "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>");
    assert_int_equal(m->clen, 150);
    assert_int_equal(m->body.len, 150);
}

static void check_intmeth(const struct loaded *l)
{
    const struct sip_info *in = &l->in;
    assert_int_equal(l->m.method_id, SIP_M_OTHER);
    assert_span(l->m.method, "!interesting-Method0123456789_*+`.%indeed'~");
    assert_span(in->cseq_method, "!interesting-Method0123456789_*+`.%indeed'~");
    assert_int_equal(in->cseq, 139122385);
    assert_int_equal(in->max_fwd, 255);
    assert_span(in->ruri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert_span(in->ruri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    assert_span(in->ruri.hp.host, "example.com");
    assert_int_equal(in->ruri.headers.len, 0);
    assert_span(in->to.display, "BEL:\\\x07 NUL:\\\0 DEL:\\\x7f");
    assert_span(in->to.uri, "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com");
    assert_span(in->from.display, "token1~` token2'+_ token3*%!.-");
    assert_span(in->from.tag, "_token~1'+`*%!-.");
    assert_span(in->callid, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert_span(in->via1.branch, "z9hG4bK-.!%66*_+`'~");
    assert_span(hdr_named(&l->m, "extensionHeader-!.%*+_`'~"),
                "\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb");
}

static void check_esc01(const struct loaded *l)
{
    const struct sip_info *in = &l->in;
    assert_span(in->ruri.user, "sips%3Auser%40example.com");
    assert_span(in->ruri.hp.host, "example.net");
    assert_span(in->to.uri, "sip:%75se%72@example.com");
    assert_span(in->from.uri, "sip:I%20have%20spaces@example.net");
    assert_int_equal(in->max_fwd, 87);
    assert_span(in->callid, "esc01.239409asdfakjkn23onasd0-3234");
    assert_span(sip_hvalue(&l->m, SIP_H_CONTENT_TYPE), "application/sdp");
    assert_span(sip_hvalue(&l->m, SIP_H_CONTACT),
                "<sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>");
}

static void check_escnull(const struct loaded *l)
{
    const struct sip_msg *m = &l->m;
    assert_int_equal(m->method_id, SIP_M_REGISTER);
    assert_span(l->in.to.uri, "sip:null-%00-null@example.com");
    int c = m->first[SIP_H_CONTACT];
    assert_span(m->hdr[c].value, "<sip:%00@host5.example.com>");
    c = sip_hnext(m, c);
    assert_true(c >= 0);
    assert_span(m->hdr[c].value, "<sip:%00%00@host5.example.com>");
    assert_int_equal(sip_hnext(m, c), -1);
    assert_int_equal(m->clen, 0);
}

static void check_esc02(const struct loaded *l)
{
    assert_int_equal(l->m.method_id, SIP_M_OTHER);
    assert_span(l->m.method, "RE%47IST%45R");
    assert_span(l->in.cseq_method, "RE%47IST%45R");
    assert_span(l->in.to.display, "%Z%45");
    assert_int_equal(count_id(&l->m, SIP_H_CONTACT), 2); /* C%6Fntact is another header */
    assert_span(hdr_named(&l->m, "C%6Fntact"), "<sip:alias2@host2.example.com>");
    assert_span(l->in.via1.branch, "z9hG4bK209%fzsnel234");
}

static void check_lwsdisp(const struct loaded *l)
{
    assert_span(l->in.from.display, "caller");
    assert_span(l->in.from.uri, "sip:caller@example.com");
    assert_true(l->in.from.bracketed);
    assert_span(l->in.from.tag, "323");
}

static void check_longreq(const struct loaded *l)
{
    const struct sip_msg *m = &l->m;
    const struct sip_info *in = &l->in;
    assert_int_equal(m->nvia, 34);
    for (unsigned k = 1; k < m->nvia; k++)
        assert_true(m->via_hdr[k] > m->via_hdr[k - 1]); /* one value per line */
    assert_span(in->via1.transport, "TCP");
    assert_span(in->via1.sent_by.host, "sip33.example.com");
    assert_null(in->via1.branch.p);
    struct sip_via last = via_at(l, 33);
    assert_span(last.sent_by.host, "host.example.com");
    assert_span(last.received, "192.0.2.5");
    assert_span_prefix(last.branch, "verylonglonglong");
    assert_span_prefix(in->to.display, "I have a user name of extremeextreme");
    assert_true(in->to.display.len > 100);
    assert_span_prefix(in->callid, "longreq.onereallyreally");
    assert_int_equal(in->callid.len, 150 - sizeof("Call-ID: ") + 1);
    assert_int_equal(in->cseq, 3882340);
    assert_int_equal(in->max_fwd, 70);
    assert_int_equal(m->clen, 150);
}

static void check_dblreq(const struct loaded *l)
{
    const struct sip_msg *m = &l->m;
    const char *eoh = memmem(l->buf, l->len, "\r\n\r\n", 4);
    assert_non_null(eoh);
    assert_int_equal(m->method_id, SIP_M_REGISTER);
    assert_int_equal(m->msg_len, (size_t)(eoh + 4 - l->buf)); /* the REGISTER only */
    assert_true(m->msg_len < l->len);
    assert_int_equal(m->body.len, 0);
    assert_span(l->in.callid, "dblreq.0ha0isndaksdj99sdfafnl3lk233412");
    assert_int_equal(l->in.cseq, 8);
    assert_int_equal(l->in.max_fwd, 8);
}

static void check_semiuri(const struct loaded *l)
{
    assert_span(l->in.ruri.user, "user;par=u%40example.net");
    assert_span(l->in.ruri.hp.host, "example.com");
    assert_int_equal(l->in.ruri.params.len, 0);
    assert_span(hdr_named(&l->m, "Accept"),
                "application/sdp, application/pkcs7-mime,\r\n        multipart/mixed, "
                "multipart/signed,\r\n        message/sip, message/sipfrag");
}

static void check_transports(const struct loaded *l)
{
    static const char *const tr[] = {"UDP", "SCTP", "TLS", "UNKNOWN", "TCP"};
    assert_int_equal(l->m.nvia, 5);
    for (unsigned k = 0; k < 5; k++) {
        struct sip_via v = via_at(l, k);
        assert_true(span_is(v.transport, tr[k], strlen(tr[k])));
    }
    assert_span(l->in.callid, "transports.kijh4akdnaqjkwendsasfdj");
}

static void check_mpart01(const struct loaded *l)
{
    const struct sip_msg *m = &l->m;
    assert_int_equal(m->method_id, SIP_M_MESSAGE);
    assert_int_equal(m->clen, 553);
    assert_int_equal(m->body.len, 553);
    assert_int_equal(m->msg_len, l->len);
    assert_non_null(memchr(m->body.p, '\0', m->body.len));
    assert_memory_equal(m->body.p + 553 - 22, "--7a9cbec02ceef655--\r\n", 22);
    assert_span(l->in.via1.sent_by.host, "127.0.0.1");
    assert_int_equal(l->in.via1.sent_by.port, 5070);
    assert_true(l->in.via1.rport.p != NULL && l->in.via1.rport.len == 0);
    assert_true(sip_branch_is_rfc3261(l->in.via1.branch));
}

static void check_unreason(const struct loaded *l)
{
    const struct sip_msg *m = &l->m;
    assert_false(m->is_request);
    assert_int_equal(m->status, 200);
    assert_span_prefix(m->reason, "= 2**3 * 5**2 \xd0\xbd\xd0\xbe");
    assert_memory_equal(m->reason.p + m->reason.len, "\r\nVia:", 6);
    assert_span(l->in.via1.sent_by.host, "192.0.2.198");
    assert_span(l->in.to.tag, "2229");
    assert_int_equal(l->in.cseq, 35);
    assert_int_equal(l->in.max_fwd, -1);
}

static void check_noreason(const struct loaded *l)
{
    assert_false(l->m.is_request);
    assert_int_equal(l->m.status, 100);
    assert_int_equal(l->m.reason.len, 0);
    assert_span(l->in.to.tag, "902jndnke3");
    assert_span(l->in.callid, "noreason.asndj203insdf99223ndf");
}

static void check_badbranch(const struct loaded *l)
{
    assert_span(l->in.via1.branch, "z9hG4bK");
    assert_false(sip_branch_is_rfc3261(l->in.via1.branch));
}

static void check_unkscm(const struct loaded *l)
{
    assert_int_equal(l->in.ruri.scheme, SIP_SCHEME_OTHER);
    assert_span(l->in.ruri.scheme_s, "nobodyKnowsThisScheme");
    assert_span(l->in.ruri.opaque, "totallyopaquecontent");
}

static void check_novelsc(const struct loaded *l)
{
    assert_int_equal(l->in.ruri.scheme, SIP_SCHEME_OTHER);
    assert_span(l->in.ruri.scheme_s, "soap.beep");
    assert_span(l->in.ruri.opaque, "//192.0.2.103:3002");
}

static void check_unksm2(const struct loaded *l)
{
    assert_int_equal(l->in.ruri.scheme, SIP_SCHEME_SIP);
    assert_span(l->in.to.uri, "isbn:2983792873");
    assert_span(l->in.from.uri, "http://www.example.com");
    assert_span(l->in.from.tag, "3234233");
}

static void check_bext01(const struct loaded *l)
{
    assert_span(sip_hvalue(&l->m, SIP_H_PROXY_REQUIRE),
                "noProxiesSupportThis, norDoAnyProxiesSupportThis");
    assert_span(sip_hvalue(&l->m, SIP_H_REQUIRE), "nothingSupportsThis, nothingSupportsThisEither");
    assert_span(l->in.via1.transport, "TLS");
}

static void check_bcast(const struct loaded *l)
{
    assert_int_equal(l->m.status, 200);
    assert_int_equal(l->m.nvia, 2);
    struct sip_via v = via_at(l, 1);
    assert_span(v.sent_by.host, "255.255.255.255");
    assert_int_equal(v.sent_by.host_type, SIP_HOST_IPV4);
}

static void check_zeromf(const struct loaded *l)
{
    assert_int_equal(l->in.max_fwd, 0);
}

static void check_regescrt(const struct loaded *l)
{
    assert_span(sip_hvalue(&l->m, SIP_H_CONTACT),
                "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>");
    assert_int_equal(l->m.clen, 0);
}

static void check_inv2543(const struct loaded *l)
{
    const struct sip_msg *m = &l->m;
    assert_int_equal(l->in.max_fwd, -1);
    assert_null(l->in.from.tag.p);
    assert_null(l->in.to.tag.p);
    assert_null(l->in.via1.branch.p);
    assert_int_equal(m->clen, -1);
    assert_int_equal(m->msg_len, l->len);
    assert_int_equal(m->body.len, l->len - m->hdr_len);
    assert_true(m->first[SIP_H_RECORD_ROUTE] >= 0);
    assert_int_equal(l->in.cseq, 56);
}

/* ---- RFC 5118 (wire form): IPv6 references ---- */

static void check_ipv6_good(const struct loaded *l)
{
    assert_span(l->in.ruri.hp.host, "2001:db8::10");
    assert_int_equal(l->in.ruri.hp.host_type, SIP_HOST_IPV6);
    assert_int_equal(l->in.ruri.hp.port, -1);
    assert_span(l->in.via1.sent_by.host, "2001:db8::9:1");
    assert_int_equal(l->in.via1.sent_by.host_type, SIP_HOST_IPV6);
}

static void check_port_ambiguous(const struct loaded *l)
{
    assert_span(l->in.ruri.hp.host, "2001:db8::10:5070");
    assert_int_equal(l->in.ruri.hp.host_type, SIP_HOST_IPV6);
    assert_int_equal(l->in.ruri.hp.port, -1);
}

static void check_port_unambiguous(const struct loaded *l)
{
    assert_span(l->in.ruri.hp.host, "2001:db8::10");
    assert_int_equal(l->in.ruri.hp.port, 5070);
}

static void check_received_with_delim(const struct loaded *l)
{
    assert_span(l->in.via1.received, "[2001:db8::9:255]");
}

static void check_received_no_delim(const struct loaded *l)
{
    assert_span(l->in.via1.sent_by.host, "2001:db8::9:1");
    assert_span(l->in.via1.received, "2001:db8::9:255");
    assert_span(l->in.via1.branch, "z9hG4bKas3");
}

static void check_ipv6_in_sdp(const struct loaded *l)
{
    assert_int_equal(l->m.body.len, 251);
    assert_span(l->in.ruri.hp.host, "2001:db8::10");
}

static void check_mult_ip_in_header(const struct loaded *l)
{
    assert_int_equal(l->m.nvia, 3);
    assert_span(l->in.via1.sent_by.host, "2001:db8::9:1");
    assert_int_equal(l->in.via1.sent_by.port, 6050);
    struct sip_via v = via_at(l, 1);
    assert_span(v.sent_by.host, "192.0.2.1");
    assert_int_equal(v.sent_by.host_type, SIP_HOST_IPV4);
    v = via_at(l, 2);
    assert_span(v.sent_by.host, "2001:db8::9:255");
    assert_int_equal(v.sent_by.host_type, SIP_HOST_IPV6);
    assert_span(v.received, "192.0.2.200");
}

static void check_mult_ip_in_sdp(const struct loaded *l)
{
    assert_int_equal(l->m.body.len, 189);
}

static void check_ipv4_mapped(const struct loaded *l)
{
    assert_span(l->in.via1.sent_by.host, "::ffff:192.0.2.10");
    assert_int_equal(l->in.via1.sent_by.port, 19823);
    assert_int_equal(l->in.via1.sent_by.host_type, SIP_HOST_IPV6);
    struct sip_nameaddr contact;
    assert_int_equal(sip_nameaddr_parse(sip_hvalue(&l->m, SIP_H_CONTACT), &contact), 0);
    assert_span(contact.display, "T. desk phone");
    assert_span(uri_of(contact.uri).hp.host, "::ffff:192.0.2.2");
}

static void check_three_colons(const struct loaded *l)
{
    assert_span(l->in.ruri.hp.host, "2001:db8:::192.0.2.1");
    assert_int_equal(l->in.ruri.hp.host_type, SIP_HOST_IPV6);
    assert_span(uri_of(l->in.to.uri).hp.host, "2001:db8:::192.0.2.1");
}

static void check_two_colons(const struct loaded *l)
{
    assert_span(l->in.ruri.hp.host, "2001:db8::192.0.2.1");
    assert_int_equal(l->in.ruri.hp.host_type, SIP_HOST_IPV6);
}

/* ---- the verdict tables ---- */

enum stage { ANY_STAGE, PARSE, VALIDATE };

struct verdict {
    const char *dir;
    const char *file;
    int want;           /* 0, or the error sip_parse + sip_validate must give */
    enum stage stage;   /* which of the two must give it */
    const char *hname;  /* when accepted: this header, if any, */
    const char *hvalue; /* has this value */
    void (*check)(const struct loaded *);
};

#define D4475 "corpus/rfc4475"
#define D5118 "corpus/rfc5118/wire"

/* clang-format off */
static const struct verdict rfc4475[] = {
    {D4475, "wsinv.dat", 0, ANY_STAGE, NULL, NULL, check_wsinv},
    {D4475, "intmeth.dat", 0, ANY_STAGE, NULL, NULL, check_intmeth},
    {D4475, "esc01.dat", 0, ANY_STAGE, NULL, NULL, check_esc01},
    {D4475, "escnull.dat", 0, ANY_STAGE, NULL, NULL, check_escnull},
    {D4475, "esc02.dat", 0, ANY_STAGE, NULL, NULL, check_esc02},
    {D4475, "lwsdisp.dat", 0, ANY_STAGE, NULL, NULL, check_lwsdisp},
    {D4475, "longreq.dat", 0, ANY_STAGE, NULL, NULL, check_longreq},
    {D4475, "dblreq.dat", 0, ANY_STAGE, NULL, NULL, check_dblreq},
    {D4475, "semiuri.dat", 0, ANY_STAGE, NULL, NULL, check_semiuri},
    {D4475, "transports.dat", 0, ANY_STAGE, NULL, NULL, check_transports},
    {D4475, "mpart01.dat", 0, ANY_STAGE, NULL, NULL, check_mpart01},
    {D4475, "unreason.dat", 0, ANY_STAGE, NULL, NULL, check_unreason},
    {D4475, "noreason.dat", 0, ANY_STAGE, NULL, NULL, check_noreason},
    {D4475, "badinv01.dat", SIP_EVIA, ANY_STAGE, NULL, NULL, NULL},
    {D4475, "clerr.dat", SIP_EBODY, PARSE, NULL, NULL, NULL},
    {D4475, "ncl.dat", SIP_ECLEN, PARSE, NULL, NULL, NULL},
    {D4475, "scalar02.dat", SIP_ECSEQ, VALIDATE, NULL, NULL, NULL},
    {D4475, "scalarlg.dat", SIP_ECSEQ, VALIDATE, NULL, NULL, NULL},
    {D4475, "quotbal.dat", SIP_EQUOTE, VALIDATE, NULL, NULL, NULL},
    {D4475, "ltgtruri.dat", SIP_ERURI, ANY_STAGE, NULL, NULL, NULL},
    /* "sip:user@example.com; lr SIP/2.0": the version field would be
     * "lr SIP/2.0", which is not SIP/x.y at all */
    {D4475, "lwsruri.dat", SIP_ESTARTLINE, PARSE, NULL, NULL, NULL},
    {D4475, "lwsstart.dat", SIP_ESTARTLINE, PARSE, NULL, NULL, NULL},
    {D4475, "trws.dat", SIP_ESTARTLINE, PARSE, NULL, NULL, NULL},
    {D4475, "escruri.dat", SIP_ERURI, ANY_STAGE, NULL, NULL, NULL},
    {D4475, "baddate.dat", 0, ANY_STAGE, "Date", "Fri, 01 Jan 2010 16:00:00 EST", NULL},
    {D4475, "regbadct.dat", 0, ANY_STAGE, "Contact", "sip:user@example.com?Route=%3Csip:sip.example.com%3E", NULL},
    {D4475, "badaspec.dat", SIP_ENAMEADDR, VALIDATE, NULL, NULL, NULL},
    /* As archived, baddn.dat has no empty line after its headers (see
     * test_sip_corpus_baddn_with_its_empty_line_restored_has_a_bad_name_addr). */
    {D4475, "baddn.dat", SIP_ENOEOH, PARSE, NULL, NULL, NULL},
    {D4475, "badvers.dat", SIP_EVERSION, PARSE, NULL, NULL, NULL},
    {D4475, "mismatch01.dat", SIP_ECSEQMETHOD, VALIDATE, NULL, NULL, NULL},
    {D4475, "mismatch02.dat", SIP_ECSEQMETHOD, VALIDATE, NULL, NULL, NULL},
    {D4475, "bigcode.dat", SIP_ESTATUS, PARSE, NULL, NULL, NULL},
    {D4475, "badbranch.dat", 0, ANY_STAGE, NULL, NULL, check_badbranch},
    /* validate checks the top Via, then Call-ID, From, To, CSeq */
    {D4475, "insuf.dat", SIP_ENOCALLID, VALIDATE, NULL, NULL, NULL},
    {D4475, "unkscm.dat", 0, ANY_STAGE, NULL, NULL, check_unkscm},
    {D4475, "novelsc.dat", 0, ANY_STAGE, NULL, NULL, check_novelsc},
    {D4475, "unksm2.dat", 0, ANY_STAGE, NULL, NULL, check_unksm2},
    {D4475, "bext01.dat", 0, ANY_STAGE, NULL, NULL, check_bext01},
    {D4475, "invut.dat", 0, ANY_STAGE, "Content-Type", "application/unknownformat", NULL},
    {D4475, "regaut01.dat", 0, ANY_STAGE, "Authorization", "NoOneKnowsThisScheme opaque-data=here", NULL},
    {D4475, "multi01.dat", SIP_EDUPHDR, PARSE, NULL, NULL, NULL},
    {D4475, "mcl01.dat", SIP_EDUPHDR, PARSE, NULL, NULL, NULL},
    {D4475, "bcast.dat", 0, ANY_STAGE, NULL, NULL, check_bcast},
    {D4475, "zeromf.dat", 0, ANY_STAGE, NULL, NULL, check_zeromf},
    {D4475, "cparam01.dat", 0, ANY_STAGE, "Contact", "sip:+19725552222@gw1.example.net;unknownparam", NULL},
    {D4475, "cparam02.dat", 0, ANY_STAGE, "Contact", "<sip:+19725552222@gw1.example.net;unknownparam>", NULL},
    {D4475, "regescrt.dat", 0, ANY_STAGE, NULL, NULL, check_regescrt},
    {D4475, "sdp01.dat", 0, ANY_STAGE, "Accept", "text/nobodyKnowsThis", NULL},
    {D4475, "inv2543.dat", 0, ANY_STAGE, NULL, NULL, check_inv2543},
};

static const struct verdict rfc5118[] = {
    {D5118, "ipv6-good.sip", 0, ANY_STAGE, NULL, NULL, check_ipv6_good},
    /* "sip:2001:db8::10" without brackets */
    {D5118, "ipv6-bad.sip", SIP_ERURI, VALIDATE, NULL, NULL, NULL},
    {D5118, "port-ambiguous.sip", 0, ANY_STAGE, NULL, NULL, check_port_ambiguous},
    {D5118, "port-unambiguous.sip", 0, ANY_STAGE, NULL, NULL, check_port_unambiguous},
    {D5118, "via-received-param-with-delim.sip", 0, ANY_STAGE, NULL, NULL, check_received_with_delim},
    {D5118, "via-received-param-no-delim.sip", 0, ANY_STAGE, NULL, NULL, check_received_no_delim},
    {D5118, "ipv6-in-sdp.sip", 0, ANY_STAGE, NULL, NULL, check_ipv6_in_sdp},
    {D5118, "mult-ip-in-header.sip", 0, ANY_STAGE, NULL, NULL, check_mult_ip_in_header},
    {D5118, "mult-ip-in-sdp.sip", 0, ANY_STAGE, NULL, NULL, check_mult_ip_in_sdp},
    {D5118, "ipv4-mapped-ipv6.sip", 0, ANY_STAGE, NULL, NULL, check_ipv4_mapped},
    {D5118, "ipv6-bug-abnf-3-colons.sip", 0, ANY_STAGE, NULL, NULL, check_three_colons},
    {D5118, "ipv6-correct-abnf-2-colons.sip", 0, ANY_STAGE, NULL, NULL, check_two_colons},
};
/* clang-format on */

#define N4475 (sizeof(rfc4475) / sizeof(rfc4475[0]))
#define N5118 (sizeof(rfc5118) / sizeof(rfc5118[0]))

static const char *stage_name(int parse_r)
{
    return parse_r < 0 ? "sip_parse" : "sip_validate";
}

/* One cmocka test per file; *state is its verdict. */
static void test_sip_corpus_file_meets_its_verdict(void **state)
{
    const struct verdict *v = *state;
    const struct loaded *l = load(v->dir, v->file, NULL, 0);
    if (v->want == 0) {
        if (l->r != 0)
            fail_msg("%s: %s gave %s, want success", v->file, stage_name(l->parse_r),
                     sip_err_name(l->r));
        if (v->hname != NULL) {
            struct span h = hdr_named(&l->m, v->hname);
            if (!span_is(h, v->hvalue, strlen(v->hvalue)))
                fail_msg("%s: %s is \"%.*s\", want \"%s\"", v->file, v->hname, (int)h.len,
                         h.p != NULL ? h.p : "", v->hvalue);
        }
        if (v->check != NULL)
            v->check(l);
        return;
    }
    if (l->r != v->want)
        fail_msg("%s: %s gave %s, want %s", v->file, stage_name(l->parse_r), sip_err_name(l->r),
                 sip_err_name(v->want));
    if ((v->stage == PARSE && l->parse_r >= 0) || (v->stage == VALIDATE && l->parse_r < 0))
        fail_msg("%s: %s came from %s, want it from %s", v->file, sip_err_name(l->r),
                 stage_name(l->parse_r), v->stage == PARSE ? "sip_parse" : "sip_validate");
}

static void test_sip_corpus_baddn_with_its_empty_line_restored_has_a_bad_name_addr(void **state)
{
    (void)state;
    const struct loaded *l = load(D4475, "baddn.dat", "\r\n", 2);
    assert_true(l->parse_r > 0);
    assert_int_equal(l->r, SIP_ENAMEADDR); /* From: Bell, Alexander <sip:...> */
}

/* Names of the regular files in $SHARED_DIR/dir ending in suffix; fails if
 * the directory cannot be read. Returns the count, names in out[]. */
static size_t list_dir(const char *dir, const char *suffix, char out[][64], size_t cap)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", shared_dir(), dir);
    DIR *d = opendir(path);
    if (d == NULL)
        fail_msg("corpus directory %s is missing (set SHARED_DIR)", path);
    size_t n = 0, sl = strlen(suffix);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len <= sl || memcmp(e->d_name + len - sl, suffix, sl) != 0)
            continue;
        assert_true(n < cap && len < 64);
        memcpy(out[n++], e->d_name, len + 1);
    }
    closedir(d);
    return n;
}

static bool in_table(const struct verdict *t, size_t n, const char *file)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].file, file) == 0)
            return true;
    return false;
}

/* Every file on disk has a verdict, and as many verdicts as files: so each
 * has exactly one (a verdict without a file fails in its own test). */
static void check_coverage(const char *dir, const char *suffix, const struct verdict *t, size_t n,
                           size_t want_files)
{
    static char names[256][64];
    size_t got = list_dir(dir, suffix, names, 256);
    if (got != want_files)
        fail_msg("%s holds %zu *%s files, want %zu", dir, got, suffix, want_files);
    assert_int_equal(n, want_files);
    for (size_t i = 0; i < got; i++)
        if (!in_table(t, n, names[i]))
            fail_msg("%s/%s has no verdict in the table", dir, names[i]);
}

/* Field col of the tab-separated line [line, eol). */
static bool tsv_field(const char *line, const char *eol, int col, struct span *out)
{
    const char *p = line;
    for (; col > 0; col--) {
        p = memchr(p, '\t', (size_t)(eol - p));
        if (p == NULL)
            return false;
        p++;
    }
    const char *q = memchr(p, '\t', (size_t)(eol - p));
    *out = span_range(p, q != NULL ? q : eol);
    return true;
}

/* Reads dir/INDEX.tsv; *p is set past its header row. Free the result. */
static char *read_index(const char *dir, char **p, char **end)
{
    size_t len;
    char *idx = read_shared(dir, "INDEX.tsv", 0, &len);
    char *nl = memchr(idx, '\n', len);
    *end = idx + len;
    *p = nl != NULL ? nl + 1 : *end;
    return idx;
}

/* Takes the next row off [*p, end): its first field (a file name) into
 * file[64], its sixth into *col5 (SPAN_NULL if none). False when done. */
static bool index_row(char **p, char *end, char file[64], struct span *col5)
{
    if (*p >= end)
        return false;
    char *eol = memchr(*p, '\n', (size_t)(end - *p));
    if (eol == NULL)
        eol = end;
    struct span f;
    if (!tsv_field(*p, eol, 0, &f) || f.len == 0 || f.len >= 64)
        fail_msg("INDEX.tsv row \"%.*s\" has no file name", (int)(eol - *p), *p);
    memcpy(file, f.p, f.len);
    file[f.len] = '\0';
    if (!tsv_field(*p, eol, 5, col5))
        *col5 = SPAN_NULL;
    *p = eol + 1;
    return true;
}

static void test_sip_corpus_has_a_verdict_for_each_of_the_49_rfc4475_files(void **state)
{
    (void)state;
    check_coverage(D4475, ".dat", rfc4475, N4475, 49);
    char *p, *end, file[64];
    struct span col5;
    char *idx = read_index(D4475, &p, &end);
    size_t rows = 0;
    for (; index_row(&p, end, file, &col5); rows++)
        if (!in_table(rfc4475, N4475, file))
            fail_msg("INDEX.tsv lists %s, which has no verdict", file);
    free(idx);
    assert_int_equal(rows, 49);
}

static void test_sip_corpus_has_a_verdict_for_each_of_the_12_rfc5118_files(void **state)
{
    (void)state;
    check_coverage(D5118, ".sip", rfc5118, N5118, 12);
}

/* Method ids as RFC 3261 and its extensions spell them, for the flows. */
static int method_of(struct span s)
{
    static const char *const names[] = {"",         "INVITE",  "ACK",     "BYE",   "CANCEL",
                                        "REGISTER", "OPTIONS", "INFO",    "PRACK", "SUBSCRIBE",
                                        "NOTIFY",   "UPDATE",  "MESSAGE", "REFER", "PUBLISH"};
    for (int i = 1; i < (int)(sizeof(names) / sizeof(names[0])); i++)
        if (span_is(s, names[i], strlen(names[i])))
            return i;
    return SIP_M_OTHER;
}

/* Checks one flow message against its start_line column; returns false and
 * says why on a mismatch. */
static bool flow_matches(const char *file, struct span start)
{
    const struct loaded *l = load("corpus/flows", file, NULL, 0);
    const struct sip_msg *m = &l->m;
    if (l->r != 0) {
        print_error("%s: %s gave %s\n", file, stage_name(l->parse_r), sip_err_name(l->r));
        return false;
    }
    bool ok = l->len > start.len && memcmp(l->buf, start.p, start.len) == 0;
    if (start.len > 8 && memcmp(start.p, "SIP/2.0 ", 8) == 0) {
        int status = (start.p[8] - '0') * 100 + (start.p[9] - '0') * 10 + (start.p[10] - '0');
        ok = ok && !m->is_request && m->status == status &&
             span_is(m->reason, start.p + 12, start.len - 12);
    } else {
        const char *sp = memchr(start.p, ' ', start.len);
        const char *sp2 =
            sp != NULL ? memchr(sp + 1, ' ', start.len - (size_t)(sp + 1 - start.p)) : NULL;
        ok = ok && sp2 != NULL && m->is_request &&
             span_is(m->method, start.p, (size_t)(sp - start.p)) &&
             m->method_id == method_of(span_range(start.p, sp)) &&
             span_is(m->ruri, sp + 1, (size_t)(sp2 - sp - 1));
    }
    ok = ok && m->msg_len == l->len; /* Content-Length equals the body everywhere */
    if (!ok)
        print_error("%s: parsed start line or framing differs from \"%.*s\"\n", file,
                    (int)start.len, start.p);
    return ok;
}

static void test_sip_corpus_flows_parse_validate_and_match_their_start_lines(void **state)
{
    (void)state;
    static char names[256][64];
    size_t on_disk = list_dir("corpus/flows", ".sip", names, 256);
    char *p, *end, file[64];
    struct span start;
    char *idx = read_index("corpus/flows", &p, &end);
    size_t rows = 0, bad = 0;
    for (; index_row(&p, end, file, &start); rows++)
        bad += start.p == NULL || !flow_matches(file, start);
    free(idx);
    assert_int_equal(on_disk, 90);
    assert_int_equal(rows, 90);
    if (bad > 0)
        fail_msg("%zu of %zu flow messages failed", bad, rows);
}

int main(void)
{
    static struct CMUnitTest tests[N4475 + N5118 + 4];
    static char names[N4475 + N5118][96];
    size_t n = 0;

    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_sip_corpus_has_a_verdict_for_each_of_the_49_rfc4475_files);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_sip_corpus_has_a_verdict_for_each_of_the_12_rfc5118_files);
    for (size_t i = 0; i < N4475 + N5118; i++) {
        const struct verdict *v = i < N4475 ? &rfc4475[i] : &rfc5118[i - N4475];
        snprintf(names[i], sizeof(names[i]), "test_sip_corpus_%s_%s_%s",
                 i < N4475 ? "rfc4475" : "rfc5118", v->file,
                 v->want == 0 ? "is_accepted" : sip_err_name(v->want));
        tests[n++] = (struct CMUnitTest){names[i], test_sip_corpus_file_meets_its_verdict, NULL,
                                         NULL, (void *)v};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_sip_corpus_baddn_with_its_empty_line_restored_has_a_bad_name_addr);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_sip_corpus_flows_parse_validate_and_match_their_start_lines);
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    guard_release(&cur.g);
    return r;
}
