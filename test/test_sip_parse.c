/*
 * test_sip_parse.c - sip_parse(), the index pass over one datagram.
 *
 * Most cases are one line each in a table, as in picohttpparser's test.c:
 * input, expected result, what it shows. Every input is copied by
 * guard_copy() so that its last byte is the last readable byte before a
 * PROT_NONE page: a parser that reads one byte past the datagram faults at
 * once. Every successful parse is also checked against the invariants of
 * struct sip_msg (spans inside the buffer, line_len chaining, first[] and
 * via_hdr[] consistent with hdr[]). Field-level tests follow the tables,
 * then every truncation prefix of several messages and each bad-byte class
 * (NUL, CTL, DEL, bare CR, bare LF, obs-fold) at several positions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser/sip.h"
#include "parser/sip_chars.h"
#include "test/guard.h"
#include "test/sip_msg_diff.h"

#define OK 0 /* in a table: sip_parse succeeds (returns hdr_len > 0) */

struct pcase {
    const char *in;
    size_t len;
    int want;
    const char *what;
};

/* clang-format off */
#define CASE(s, want, what) {(s), sizeof(s) - 1, (want), (what)}
/* clang-format on */

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

static const char *res_name(int r)
{
    return r > 0 ? "success" : sip_err_name(r);
}

/* p[0..n) lies inside buf[0..len); compared as integers, so a wild pointer
 * is reported instead of being undefined behaviour. */
static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)buf;
    return p != NULL && a >= b && n <= len && a - b <= len - n;
}

/* What every result of sip_parse must satisfy, whatever the input. */
static void check_index(const char *buf, size_t len, int r, const struct sip_msg *m)
{
    if (r < 0) {
        assert_in_range(-r, 1, SIP_NERR);
        if (m->err_at != NULL)
            assert_true(inside(m->err_at, 0, buf, len));
        return;
    }
    assert_true(r > 0);
    assert_int_equal(r, m->hdr_len);
    assert_null(m->err_at);
    assert_true(m->hdr_len <= len);
    assert_int_equal(m->msg_len, m->hdr_len + m->body.len);
    assert_true(m->msg_len <= len);
    if (m->clen < 0) {
        assert_int_equal(m->clen, -1);
        assert_int_equal(m->msg_len, len);
    } else {
        assert_int_equal(m->body.len, (size_t)m->clen);
    }
    if (m->body.len > 0)
        assert_ptr_equal(m->body.p, buf + m->hdr_len);
    assert_true(m->nhdr <= SIP_MAX_HDRS && m->nvia <= SIP_MAX_VIAS);
    assert_true(inside(m->version.p, m->version.len, buf, m->hdr_len));
    assert_int_equal(m->version.len, 7);
    if (m->is_request) {
        assert_true(inside(m->method.p, m->method.len, buf, m->hdr_len) && m->method.len > 0);
        assert_true(inside(m->ruri.p, m->ruri.len, buf, m->hdr_len) && m->ruri.len > 0);
    } else {
        assert_in_range(m->status, 100, 699);
        if (m->reason.len > 0)
            assert_true(inside(m->reason.p, m->reason.len, buf, m->hdr_len));
    }
    /* Header lines tile the header section: each starts where the last ended. */
    const char *end = m->nhdr > 0 ? m->hdr[0].name.p : NULL;
    if (end != NULL)
        assert_true(inside(end, 0, buf, m->hdr_len) && end > buf && end[-1] == '\n');
    for (unsigned i = 0; i < m->nhdr; i++) {
        const struct sip_hdr *h = &m->hdr[i];
        assert_ptr_equal(h->name.p, end);
        assert_true(inside(h->name.p, h->line_len, buf, m->hdr_len));
        assert_true(h->name.len > 0 && h->name.len < h->line_len);
        assert_int_equal(h->name.p[h->line_len - 1], '\n');
        assert_true(
            inside(h->value.p, h->value.len, h->name.p + h->name.len, h->line_len - h->name.len));
        assert_true(h->id < SIP_H__COUNT);
        end = h->name.p + h->line_len;
    }
    if (end != NULL) {
        size_t rest = m->hdr_len - (size_t)(end - buf);
        assert_true((rest == 1 && end[0] == '\n') ||
                    (rest == 2 && end[0] == '\r' && end[1] == '\n'));
    }
    /* SIP_H_OTHER is left out: sip.h does not say whether first[] tracks
     * unknown headers (the parser leaves it -1). */
    for (int id = SIP_H_OTHER + 1; id < SIP_H__COUNT; id++) {
        int want = -1;
        for (unsigned i = 0; i < m->nhdr && want < 0; i++)
            if (m->hdr[i].id == id)
                want = (int)i;
        assert_int_equal(m->first[id], want);
    }
    unsigned via_lines = 0, lines_seen = 0;
    for (unsigned i = 0; i < m->nhdr; i++)
        via_lines += m->hdr[i].id == SIP_H_VIA;
    for (unsigned k = 0; k < m->nvia; k++) {
        unsigned hi = m->via_hdr[k];
        assert_true(hi < m->nhdr && m->hdr[hi].id == SIP_H_VIA);
        struct span v = m->hdr[hi].value;
        assert_true(m->via[k].len > 0 && inside(m->via[k].p, m->via[k].len, v.p, v.len));
        if (k == 0 || m->via_hdr[k - 1] != hi)
            lines_seen++;
        else
            assert_true(m->via[k].p > m->via[k - 1].p);
        if (k > 0)
            assert_true(m->via_hdr[k - 1] <= hi);
    }
    assert_int_equal(lines_seen, via_lines);
}

/* The fixture of every test: one guard copy, one message, reused. */
struct fx {
    struct guard g;
    struct guard g_padded; /* the last input with PAD_LEN bytes after it */
    const char *buf;       /* the guarded copy of the last input */
    struct sip_msg m;
    struct sip_msg careful; /* the same input through sip_parse_careful */
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    return f == NULL ? -1 : 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    guard_release(&f->g);
    guard_release(&f->g_padded);
    free(f);
    return 0;
}

/* The fast pass takes a line in one step only where the datagram goes on
 * for 66 bytes or more past the line's start (sip_fast.c: quick_line), so
 * in a short table input most lines take the general steps. Every input is
 * therefore also compared with PAD_LEN bytes more after it: the passes must
 * agree there too, whatever the verdict, and then nearly every line of the
 * input takes the one-step path. */
#define PAD_LEN 80

static void diff_padded(struct fx *f, const void *in, size_t len)
{
    char *tmp = malloc(len + PAD_LEN);
    assert_non_null(tmp);
    memcpy(tmp, in, len);
    memset(tmp + len, 'x', PAD_LEN);
    const char *buf = guard_copy(&f->g_padded, tmp, len + PAD_LEN);
    free(tmp);
    memset(&f->m, 0xa5, sizeof(f->m));
    int r = sip_parse(buf, len + PAD_LEN, &f->m);
    memset(&f->careful, 0x5a, sizeof(f->careful));
    int rc = sip_parse_careful(buf, len + PAD_LEN, &f->careful);
    const char *diff = sip_msg_diff(r, &f->m, rc, &f->careful);
    if (diff != NULL)
        fail_msg("padded: fast and careful pass differ in %s (%s / %s) on \"%.*s\"", diff,
                 res_name(r), res_name(rc), (int)(len < 300 ? len : 300), buf);
}

/* Parses in[0..len) placed at a guard page; m starts out as garbage so that
 * nothing relies on a zeroed output. */
static int parse(struct fx *f, const void *in, size_t len)
{
    diff_padded(f, in, len);
    f->buf = guard_copy(&f->g, in, len);
    memset(&f->m, 0xa5, sizeof(f->m));
    int r = sip_parse(f->buf, len, &f->m);
    check_index(f->buf, len, r, &f->m);
    /* the fast pass, where it succeeds, must equal the careful pass */
    memset(&f->careful, 0x5a, sizeof(f->careful));
    int rc = sip_parse_careful(f->buf, len, &f->careful);
    const char *diff = sip_msg_diff(r, &f->m, rc, &f->careful);
    if (diff != NULL)
        fail_msg("fast and careful pass differ in %s (%s / %s) on \"%.*s\"", diff, res_name(r),
                 res_name(rc), (int)(len < 300 ? len : 300), f->buf);
    return r;
}

#define PARSE(f, lit) parse((f), (lit), sizeof(lit) - 1)

static int run_cases(struct fx *f, const struct pcase *c, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        int r = parse(f, c[i].in, c[i].len);
        if (c[i].want == OK ? r > 0 : r == c[i].want)
            continue;
        print_error("case %zu (%s): got %s, want %s\n", i, c[i].what, res_name(r),
                    c[i].want == OK ? "success" : sip_err_name(c[i].want));
        bad++;
    }
    return bad;
}

/* One test per table: every case runs, then the test fails if any did. */
#define TABLE_TEST(name, table)                                                                    \
    static void name(void **state)                                                                 \
    {                                                                                              \
        int bad = run_cases(*state, (table), sizeof(table) / sizeof((table)[0]));                  \
        if (bad > 0)                                                                               \
            fail_msg("%d of %zu cases failed", bad, sizeof(table) / sizeof((table)[0]));           \
    }

#define RL "INVITE sip:bob@example.com SIP/2.0\r\n"
#define SL "SIP/2.0 200 OK\r\n"
#define VIA "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"

/* clang-format off */
static const struct pcase start_line_cases[] = {
    CASE(RL "\r\n", OK, "minimal request: start line and empty line"),
    CASE(SL "\r\n", OK, "minimal response"),
    CASE(RL VIA "\r\n", OK, "request with one header"),
    CASE("", SIP_EEMPTY, "empty datagram"),
    CASE("INVITE  sip:bob@example.com SIP/2.0\r\n\r\n", SIP_ESTARTLINE, "two SP after the method"),
    CASE("INVITE  SIP/2.0\r\n\r\n", SIP_ESTARTLINE, "empty Request-URI"),
    CASE(" INVITE sip:bob@example.com SIP/2.0\r\n\r\n", SIP_ESTARTLINE, "SP before the method"),
    CASE("INV\x01TE sip:bob@example.com SIP/2.0\r\n\r\n", SIP_EMETHOD, "control byte in the method"),
    CASE("INVITE sip:bob@example.com  SIP/2.0\r\n\r\n", SIP_ESTARTLINE, "two SP before the version"),
    CASE("INVITE sip:bob@example.com SIP/2.0 \r\n\r\n", SIP_ESTARTLINE, "trailing SP"),
    CASE("INVITE sip:bob@example.com SIP/2.0\t\r\n\r\n", SIP_ESTARTLINE, "trailing HTAB"),
    CASE("INVITE sip:bob@example.com\r\n\r\n", SIP_ESTARTLINE, "no version"),
    CASE("INVITE\r\n\r\n", SIP_ESTARTLINE, "method alone"),
    CASE("INVITE sip:bob@example.com HTTP/1.1\r\n\r\n", SIP_ESTARTLINE, "not a SIP version"),
    CASE("INVITE sip:bob@example.com SIP/7.0\r\n\r\n", SIP_EVERSION, "request in SIP/7.0"),
    CASE("INVITE sip:bob@example.com SIP/2.1\r\n\r\n", SIP_EVERSION, "request in SIP/2.1"),
    CASE("SIP/7.0 200 OK\r\n\r\n", SIP_EVERSION, "response in SIP/7.0"),
    CASE("INV@ITE sip:bob@example.com SIP/2.0\r\n\r\n", SIP_EMETHOD, "method with a non-token byte"),
    CASE("invite sip:bob@example.com SIP/2.0\r\n\r\n", OK, "lower-case method is an extension"),
    CASE("SIP/2.0 4294967301 better not break the receiver\r\n\r\n", SIP_ESTATUS, "status 2^32+5"),
    CASE("SIP/2.0 99 Low\r\n\r\n", SIP_ESTATUS, "two-digit status"),
    CASE("SIP/2.0 099 Low\r\n\r\n", SIP_ESTATUS, "three digits below 100"),
    CASE("SIP/2.0 700 High\r\n\r\n", SIP_ESTATUS, "status 700"),
    CASE("SIP/2.0 2000 OK\r\n\r\n", SIP_ESTATUS, "four-digit status"),
    CASE("SIP/2.0 2x0 OK\r\n\r\n", SIP_ESTATUS, "non-digit in status"),
    CASE("SIP/2.0 100 Trying\r\n\r\n", OK, "status 100"),
    CASE("SIP/2.0 699 Odd\r\n\r\n", OK, "status 699"),
    CASE("SIP/2.0 100 \r\n\r\n", OK, "empty reason phrase after the SP"),
    CASE("SIP/2.0 200 \xd0\x9e\xd0\x9a \xe2\x9c\x93\r\n\r\n", OK, "UTF-8 reason phrase"),
    CASE("SIP/2.0 200 O\tK\r\n\r\n", OK, "HTAB in the reason phrase"),
    CASE("SIP/2.0 200 O\x01" "K\r\n\r\n", SIP_EREASON, "CTL in the reason phrase"),
    CASE("SIP/2.0 200 O\x7f" "K\r\n\r\n", SIP_EREASON, "DEL in the reason phrase"),
    CASE("SIP/2.0 200 O\0K\r\n\r\n", SIP_EREASON, "NUL in the reason phrase"),
};

static const struct pcase header_cases[] = {
    CASE(RL "Subject : x\r\n\r\n", OK, "SP before the colon"),
    CASE(RL "Subject\t\t: x\r\n\r\n", OK, "HTAB before the colon"),
    CASE(RL "Subject:x\r\n\r\n", OK, "nothing after the colon but the value"),
    CASE(RL "Subject:\r\n\r\n", OK, "empty value"),
    CASE(RL "Subject: a\r\n b\r\n\tc\r\n\r\n", OK, "value folded twice"),
    CASE(RL " folded\r\n\r\n", SIP_EFOLD, "continuation line right after the start line"),
    CASE(RL "\tfolded\r\n\r\n", SIP_EFOLD, "HTAB continuation right after the start line"),
    CASE(RL "Subject: a\rb\r\n\r\n", SIP_EBARECR, "bare CR inside a value"),
    CASE(RL "Subject: a\r\r\n\r\n", SIP_EBARECR, "CR CR LF after a value"),
    CASE("INVITE sip:bob@example.com SIP/2.0\rSubject: a\r\n\r\n", SIP_EBARECR,
         "start line ended by a bare CR"),
    CASE(RL "Subject: a\r\n\r\r\n", SIP_EBARECR, "empty line written CR CR LF"),
    CASE("INVITE sip:bob@example.com SIP/2.0\nSubject: a\n\n", OK, "bare LF line ends"),
    CASE(RL "Subject: a\n\r\n", OK, "LF then CRLF"),
    CASE(RL "Subject: a\r\n\n", OK, "empty line as a bare LF"),
    CASE(RL "Subject: a\n b\n\n", OK, "fold with bare LF line ends"),
    CASE(RL "Subject: a\x01" "b\r\n\r\n", SIP_EHDRVALUE, "CTL in a value"),
    CASE(RL "Subject: a\0b\r\n\r\n", SIP_EHDRVALUE, "NUL in a value"),
    CASE(RL "Subject: a\x7f" "b\r\n\r\n", SIP_EHDRVALUE, "DEL in a value"),
    CASE(RL "Subject: a\x1f\r\n\r\n", SIP_EHDRVALUE, "CTL at the end of a value"),
    CASE(RL "Subject: a\tb\r\n\r\n", OK, "HTAB inside a value"),
    CASE(RL "Subject: \xe2\x82\xac 5\r\n\r\n", OK, "UTF-8 in a value"),
    CASE(RL "To: \"a\\\x07" "b\" <sip:x@y>\r\n\r\n", OK, "BEL as a quoted-pair"),
    CASE(RL "To: \"a\\\0b\" <sip:x@y>\r\n\r\n", OK, "NUL as a quoted-pair (RFC 4475 intmeth)"),
    CASE(RL "To: \"a\\\x7f" "b\" <sip:x@y>\r\n\r\n", OK, "DEL as a quoted-pair"),
    CASE(RL "To: \"a\\\\\x07" "b\" <sip:x@y>\r\n\r\n", SIP_EHDRVALUE,
         "BEL after an escaped backslash is a bare control byte"),
    CASE(RL "Sub\0ject: x\r\n\r\n", SIP_EHDRNAME, "NUL in a header name"),
    CASE(RL "Sub ject: x\r\n\r\n", SIP_EHDRNAME, "SP inside a header name"),
    CASE(RL "Sub@ject: x\r\n\r\n", SIP_EHDRNAME, "non-token byte in a header name"),
    CASE(RL "Subject x\r\n\r\n", SIP_EHDRNAME, "no colon"),
    CASE(RL ": x\r\n\r\n", SIP_EHDRNAME, "empty header name"),
    CASE(RL "Subject: x\r\n", SIP_ENOEOH, "no empty line after the headers"),
    CASE(RL, SIP_ENOEOH, "start line alone"),
    CASE(RL "Subject: x\r\n ", SIP_ENOEOH, "ends inside a continuation line"),
};

static const struct pcase dup_cases[] = {
    CASE(RL "Call-ID: a\r\nCall-ID: b\r\n\r\n", SIP_EDUPHDR, "two Call-ID"),
    CASE(RL "i: a\r\nCall-ID: b\r\n\r\n", SIP_EDUPHDR, "compact then long Call-ID"),
    CASE(RL "call-id: a\r\nCALL-ID: a\r\n\r\n", SIP_EDUPHDR, "same Call-ID twice in two cases"),
    CASE(RL "From: <sip:a@b>;tag=1\r\nf: <sip:a@b>;tag=1\r\n\r\n", SIP_EDUPHDR, "From and f"),
    CASE(RL "To: <sip:a@b>\r\nTo: <sip:a@b>\r\n\r\n", SIP_EDUPHDR, "two To"),
    CASE(RL "t: <sip:a@b>\r\nTO: <sip:c@d>\r\n\r\n", SIP_EDUPHDR, "t and TO"),
    CASE(RL "CSeq: 1 INVITE\r\ncseq: 2 INVITE\r\n\r\n", SIP_EDUPHDR, "two CSeq"),
    CASE(RL "Max-Forwards: 70\r\nMax-Forwards: 70\r\n\r\n", SIP_EDUPHDR, "two Max-Forwards"),
    CASE(RL "Content-Length: 0\r\nContent-Length: 0\r\n\r\n", SIP_EDUPHDR,
         "two equal Content-Length"),
    CASE(RL "l: 0\r\nContent-Length: 0\r\n\r\n", SIP_EDUPHDR, "l and Content-Length"),
    CASE(RL "Route: <sip:a;lr>\r\nRoute: <sip:b;lr>\r\n\r\n", OK, "two Route"),
    CASE(RL "Contact: <sip:a@b>\r\nm: <sip:c@d>\r\n\r\n", OK, "Contact and m"),
    CASE(RL VIA "v: SIP/2.0/UDP b\r\n\r\n", OK, "Via and v"),
    CASE(RL "Record-Route: <sip:a;lr>\r\nRecord-Route: <sip:b;lr>\r\n\r\n", OK, "two Record-Route"),
    CASE(RL "X-A: 1\r\nX-A: 2\r\n\r\n", OK, "two unknown headers of one name"),
};

static const struct pcase via_cases[] = {
    CASE(RL "Via: SIP/2.0/UDP a, SIP/2.0/UDP b\r\n\r\n", OK, "two Via values on one line"),
    CASE(RL "Via: SIP/2.0/UDP a,,SIP/2.0/UDP b\r\n\r\n", SIP_EVIA, "empty value between commas"),
    CASE(RL "Via: SIP/2.0/UDP a, ,SIP/2.0/UDP b\r\n\r\n", SIP_EVIA, "blank value between commas"),
    CASE(RL "Via: SIP/2.0/UDP a,\r\n\r\n", SIP_EVIA, "trailing comma"),
    CASE(RL "Via: ,SIP/2.0/UDP a\r\n\r\n", SIP_EVIA, "leading comma"),
    CASE(RL "Via: SIP/2.0/UDP a,\r\n ,SIP/2.0/UDP b\r\n\r\n", SIP_EVIA, "empty value across a fold"),
    CASE(RL "Via:\r\n\r\n", SIP_EVIA, "empty Via header"),
    CASE(RL "v: SIP/2.0/UDP 192.0.2.15;;,;,,\r\n\r\n", SIP_EVIA, "RFC 4475 badinv01 Via"),
};

static const struct pcase clen_cases[] = {
    CASE(RL "Content-Length: 3\r\n\r\nabc", OK, "body exactly Content-Length"),
    CASE(RL "Content-Length: 3\r\n\r\nabcdef", OK, "bytes past Content-Length are ignored"),
    CASE(RL "Content-Length: 4\r\n\r\nabc", SIP_EBODY, "one body byte short"),
    CASE(RL "Content-Length: 1\r\n\r\n", SIP_EBODY, "no body at all"),
    CASE(RL "Content-Length: 2147483647\r\n\r\nabc", SIP_EBODY, "largest Content-Length"),
    CASE(RL "l: 0\r\n\r\n", OK, "compact Content-Length 0"),
    CASE(RL "Content-Length: 000\r\n\r\n", OK, "leading zeros"),
    CASE(RL "Content-Length:\r\n 3\r\n\r\nabc", OK, "folded Content-Length"),
    CASE(RL "Content-Length: 3 \r\n\r\nabc", OK, "trailing SP after Content-Length"),
    CASE(RL "Content-Length: -1\r\n\r\n", SIP_ECLEN, "negative"),
    CASE(RL "Content-Length: -0\r\n\r\n", SIP_ECLEN, "minus zero"),
    CASE(RL "Content-Length: +1\r\n\r\nx", SIP_ECLEN, "explicit plus sign"),
    CASE(RL "Content-Length: 2147483648\r\n\r\n", SIP_ECLEN, "2^31"),
    CASE(RL "Content-Length: 4294967299\r\n\r\nabc", SIP_ECLEN, "2^32+3 must not wrap to 3"),
    CASE(RL "Content-Length: 18446744073709551619\r\n\r\nabc", SIP_ECLEN, "2^64+3"),
    CASE(RL "Content-Length: 1a\r\n\r\nx", SIP_ECLEN, "trailing non-digit"),
    CASE(RL "Content-Length: 0x10\r\n\r\n", SIP_ECLEN, "hex"),
    CASE(RL "Content-Length: 1 2\r\n\r\nxx", SIP_ECLEN, "two numbers"),
    CASE(RL "Content-Length:\r\n\r\n", SIP_ECLEN, "empty Content-Length"),
};
/* clang-format on */

TABLE_TEST(test_sip_parse_start_line_table, start_line_cases)
TABLE_TEST(test_sip_parse_header_table, header_cases)
TABLE_TEST(test_sip_parse_rejects_second_single_value_headers_only, dup_cases)
TABLE_TEST(test_sip_parse_via_table, via_cases)
TABLE_TEST(test_sip_parse_content_length_table, clen_cases)

static void test_sip_parse_indexes_a_minimal_request_and_its_method(void **state)
{
    struct fx *f = *state;
    static const char in[] = RL VIA "Content-Length: 0\r\n\r\n";

    assert_int_equal(PARSE(f, in), sizeof(in) - 1);
    assert_true(f->m.is_request);
    assert_int_equal(f->m.method_id, SIP_M_INVITE);
    assert_span(f->m.method, "INVITE");
    assert_ptr_equal(f->m.method.p, f->buf);
    assert_span(f->m.ruri, "sip:bob@example.com");
    assert_span(f->m.version, "SIP/2.0");
    assert_int_equal(f->m.nhdr, 2);
    assert_int_equal(f->m.nvia, 1);
    assert_span(f->m.via[0], "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1");
    assert_int_equal(f->m.via_hdr[0], 0);
    assert_int_equal(f->m.first[SIP_H_VIA], 0);
    assert_int_equal(f->m.first[SIP_H_CONTENT_LENGTH], 1);
    assert_int_equal(f->m.first[SIP_H_CALL_ID], -1);
    assert_int_equal(f->m.clen, 0);
    assert_int_equal(f->m.msg_len, sizeof(in) - 1);
    assert_int_equal(f->m.body.len, 0);

    assert_true(PARSE(f, "register sip:example.com SIP/2.0\r\n\r\n") > 0);
    assert_int_equal(f->m.method_id, SIP_M_OTHER); /* methods are case-sensitive */
    assert_span(f->m.method, "register");
    assert_true(PARSE(f, "RE%47IST%45R sip:example.com SIP/2.0\r\n\r\n") > 0);
    assert_int_equal(f->m.method_id, SIP_M_OTHER);
}

static void test_sip_parse_indexes_a_minimal_response(void **state)
{
    struct fx *f = *state;

    assert_true(PARSE(f, "SIP/2.0 180 Ringing\r\n" VIA "\r\n") > 0);
    assert_false(f->m.is_request);
    assert_int_equal(f->m.status, 180);
    assert_span(f->m.reason, "Ringing");
    assert_span(f->m.version, "SIP/2.0");
    assert_int_equal(f->m.nhdr, 1);
    assert_int_equal(f->m.clen, -1);

    assert_true(PARSE(f, "SIP/2.0 100 \r\n\r\n") > 0);
    assert_int_equal(f->m.status, 100);
    assert_int_equal(f->m.reason.len, 0);

    assert_true(PARSE(f, "SIP/2.0 404 Not  Found \xc3\xa9\r\n\r\n") > 0);
    assert_int_equal(f->m.status, 404);
    assert_span(f->m.reason, "Not  Found \xc3\xa9");
}

/* sip_hname_id is tested in full in test_sip_scalar.c; here only that
 * sip_parse applies it to the right bytes. */
static void test_sip_parse_maps_header_names_in_any_case_and_compact_form(void **state)
{
    struct fx *f = *state;
    static const char compact[] = "vifmtlckseoru";
    /* clang-format off */
    static const uint8_t ids[] = {
        SIP_H_VIA, SIP_H_CALL_ID, SIP_H_FROM, SIP_H_CONTACT, SIP_H_TO, SIP_H_CONTENT_LENGTH,
        SIP_H_CONTENT_TYPE, SIP_H_SUPPORTED, SIP_H_SUBJECT, SIP_H_CONTENT_ENCODING, SIP_H_EVENT,
        SIP_H_REFER_TO, SIP_H_ALLOW_EVENTS,
    };
    /* clang-format on */
    char in[64];

    for (size_t i = 0; i < sizeof(ids); i++) {
        for (int upper = 0; upper <= 1; upper++) {
            char c = (char)(compact[i] - (upper ? 32 : 0));
            int n = snprintf(in, sizeof(in), RL "%c : 0\r\n\r\n", c);
            int r = parse(f, in, (size_t)n);
            if (r <= 0 || f->m.nhdr != 1 || f->m.hdr[0].id != ids[i])
                fail_msg("header %c: got %s, id %d, want id %d", c, res_name(r),
                         f->m.nhdr == 1 ? f->m.hdr[0].id : -1, ids[i]);
            assert_true(f->m.hdr[0].name.len == 1 && f->m.hdr[0].name.p[0] == c);
        }
    }
    /* LWS before the colon is not part of the name */
    assert_true(PARSE(f, RL "MaX-fOrWaRdS \t : 1\r\ncALL-iD: a b\r\nC%6Fntact: b\r\n\r\n") > 0);
    assert_span(f->m.hdr[0].name, "MaX-fOrWaRdS");
    assert_span(f->m.hdr[0].value, "1");
    assert_span(f->m.hdr[1].value, "a b");
    assert_int_equal(f->m.first[SIP_H_MAX_FORWARDS], 0);
    assert_int_equal(f->m.first[SIP_H_CALL_ID], 1);
    assert_int_equal(f->m.hdr[2].id, SIP_H_OTHER);
    assert_int_equal(f->m.first[SIP_H_CONTACT], -1);
}

static void test_sip_parse_keeps_interior_folds_and_trims_outer_lws(void **state)
{
    struct fx *f = *state;

    assert_true(PARSE(f, RL "Subject: \t a\r\n b \r\n\tc  \r\n\r\n") > 0);
    assert_span(f->m.hdr[0].value, "a\r\n b \r\n\tc");

    assert_true(PARSE(f, RL "TO :\r\n sip:x\r\n\r\n") > 0);
    assert_int_equal(f->m.hdr[0].id, SIP_H_TO);
    assert_span(sip_hvalue(&f->m, SIP_H_TO), "sip:x");

    assert_true(PARSE(f, RL "Subject: a\n b\n\n") > 0);
    assert_span(f->m.hdr[0].value, "a\n b");

    assert_true(PARSE(f, RL "Subject: a\r\n \r\n\r\n") > 0);
    assert_span(f->m.hdr[0].value, "a");
}

static void test_sip_parse_gives_empty_values_a_position(void **state)
{
    struct fx *f = *state;
    static const struct pcase t[] = {
        CASE(RL "Subject:\r\n\r\n", OK, "nothing after the colon"),
        CASE(RL "Subject:   \r\n\r\n", OK, "only SP after the colon"),
        CASE(RL "Subject:\r\n \r\n\r\n", OK, "only a blank continuation"),
        CASE(RL "s :\r\nX: 1\r\n\r\n", OK, "compact Subject as in RFC 4475 wsinv"),
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        assert_true(parse(f, t[i].in, t[i].len) > 0);
        assert_int_equal(f->m.hdr[0].id, SIP_H_SUBJECT);
        assert_non_null(sip_hvalue(&f->m, SIP_H_SUBJECT).p);
        assert_int_equal(sip_hvalue(&f->m, SIP_H_SUBJECT).len, 0);
    }
}

static void test_sip_parse_measures_line_len_through_the_line_end(void **state)
{
    struct fx *f = *state;
#define L0 "Via: SIP/2.0/UDP a\r\n"
#define L1 "Subject: x\r\n  y\r\n\tz\r\n"
#define L2 "X-Lf: 1\n"
#define L3 "X-Lf-Fold: 1\n 2\n"

    assert_true(PARSE(f, RL L0 L1 L2 L3 "\r\n") > 0);
    assert_int_equal(f->m.nhdr, 4);
    assert_ptr_equal(f->m.hdr[0].name.p, f->buf + sizeof(RL) - 1);
    assert_int_equal(f->m.hdr[0].line_len, sizeof(L0) - 1);
    assert_int_equal(f->m.hdr[1].line_len, sizeof(L1) - 1);
    assert_int_equal(f->m.hdr[2].line_len, sizeof(L2) - 1);
    assert_int_equal(f->m.hdr[3].line_len, sizeof(L3) - 1);
    assert_int_equal(f->m.hdr_len, sizeof(RL L0 L1 L2 L3 "\r\n") - 1);
#undef L0
#undef L1
#undef L2
#undef L3
}

static void test_sip_parse_splits_via_values_across_and_within_lines(void **state)
{
    struct fx *f = *state;

    assert_true(PARSE(f, RL "Via: SIP/2.0/UDP a;branch=z9hG4bK1 , SIP/2.0/UDP b\r\n"
                            "Subject: s\r\n"
                            "v: SIP/2.0/TCP c;x=\"p,q\",\r\n SIP/2.0/UDP d\r\n\r\n") > 0);
    assert_int_equal(f->m.nvia, 4);
    assert_span(f->m.via[0], "SIP/2.0/UDP a;branch=z9hG4bK1");
    assert_span(f->m.via[1], "SIP/2.0/UDP b");
    assert_span(f->m.via[2], "SIP/2.0/TCP c;x=\"p,q\"");
    assert_span(f->m.via[3], "SIP/2.0/UDP d");
    assert_int_equal(f->m.via_hdr[0], 0);
    assert_int_equal(f->m.via_hdr[1], 0);
    assert_int_equal(f->m.via_hdr[2], 2);
    assert_int_equal(f->m.via_hdr[3], 2);
    assert_int_equal(sip_hnext(&f->m, 0), 2);
}

static void test_sip_parse_walks_repeated_headers_with_first_and_hnext(void **state)
{
    struct fx *f = *state;

    assert_true(PARSE(f, RL "Route: <sip:a;lr>\r\n"     /* 0 */
                            "X-A: 1\r\n"                /* 1 */
                            "route: <sip:b;lr>\r\n"     /* 2 */
                            "Contact: <sip:c@d>\r\n"    /* 3 */
                            "ROUTE: <sip:e;lr>\r\n"     /* 4 */
                            "X-B: 2\r\n"                /* 5 */
                            "Call-ID: abc@def\r\n\r\n") /* 6 */
                > 0);
    assert_int_equal(f->m.nhdr, 7);
    assert_int_equal(f->m.first[SIP_H_ROUTE], 0);
    assert_int_equal(sip_hnext(&f->m, 0), 2);
    assert_int_equal(sip_hnext(&f->m, 2), 4);
    assert_int_equal(sip_hnext(&f->m, 4), -1);
    assert_int_equal(sip_hnext(&f->m, 3), -1);
    assert_int_equal(sip_hnext(&f->m, 6), -1);
    assert_int_equal(sip_hnext(&f->m, 1), 5); /* unknown headers chain by id too */
    assert_span(sip_hvalue(&f->m, SIP_H_ROUTE), "<sip:a;lr>");
    assert_span(sip_hvalue(&f->m, SIP_H_CALL_ID), "abc@def");
    assert_null(sip_hvalue(&f->m, SIP_H_FROM).p);
    assert_int_equal(f->m.first[SIP_H_RECORD_ROUTE], -1);
}

/* Builds the start line, n header lines, each fmt formatted with (i, i), and
 * the empty line. */
static size_t build(char *out, size_t cap, unsigned n, const char *fmt)
{
    size_t len = (size_t)snprintf(out, cap, RL);
    for (unsigned i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, fmt, i, i);
    len += (size_t)snprintf(out + len, cap - len, "\r\n");
    assert_true(len < cap);
    return len;
}

#define OTHER_LINE "X-H%u: %u\r\n"
#define FOLDED_LINE "X-H%u: a\r\n b\r\n\tc%u\r\n"
#define VIA_LINE "Via: SIP/2.0/UDP h%u;x=%u\r\n"
#define VIA_PAIR_LINE "v: SIP/2.0/UDP a%u,SIP/2.0/UDP b%u\r\n"

static void test_sip_parse_holds_exactly_max_hdrs_and_rejects_one_more(void **state)
{
    struct fx *f = *state;
    static char in[SIP_MAX_HDRS * 40 + 256];

    assert_true(parse(f, in, build(in, sizeof(in), SIP_MAX_HDRS, OTHER_LINE)) > 0);
    assert_int_equal(f->m.nhdr, SIP_MAX_HDRS);
    assert_int_equal(parse(f, in, build(in, sizeof(in), SIP_MAX_HDRS + 1, OTHER_LINE)),
                     SIP_ETOOMANYHDRS);
    /* continuation lines are part of their header, not more headers */
    assert_true(parse(f, in, build(in, sizeof(in), SIP_MAX_HDRS, FOLDED_LINE)) > 0);
    assert_int_equal(f->m.nhdr, SIP_MAX_HDRS);
    assert_int_equal(f->m.hdr[SIP_MAX_HDRS - 1].line_len,
                     sizeof("X-H127: a\r\n b\r\n\tc127\r\n") - 1);
}

static void test_sip_parse_holds_exactly_max_vias_and_rejects_one_more(void **state)
{
    struct fx *f = *state;
    static char in[SIP_MAX_VIAS * 60 + 256];

    assert_true(parse(f, in, build(in, sizeof(in), SIP_MAX_VIAS, VIA_LINE)) > 0);
    assert_int_equal(f->m.nvia, SIP_MAX_VIAS);
    assert_span(f->m.via[SIP_MAX_VIAS - 1], "SIP/2.0/UDP h71;x=71");
    assert_int_equal(parse(f, in, build(in, sizeof(in), SIP_MAX_VIAS + 1, VIA_LINE)),
                     SIP_ETOOMANYVIAS);

    assert_true(parse(f, in, build(in, sizeof(in), SIP_MAX_VIAS / 2, VIA_PAIR_LINE)) > 0);
    assert_int_equal(f->m.nvia, SIP_MAX_VIAS);
    assert_int_equal(f->m.via_hdr[SIP_MAX_VIAS - 1], SIP_MAX_VIAS / 2 - 1);

    /* all on one line: "Via: SIP/2.0/UDP h0,SIP/2.0/UDP h1,..." */
    for (unsigned n = SIP_MAX_VIAS; n <= SIP_MAX_VIAS + 1; n++) {
        size_t len = (size_t)snprintf(in, sizeof(in), RL "Via: ");
        for (unsigned i = 0; i < n; i++)
            len += (size_t)snprintf(in + len, sizeof(in) - len, "%sSIP/2.0/UDP h%u",
                                    i > 0 ? "," : "", i);
        len += (size_t)snprintf(in + len, sizeof(in) - len, "\r\n\r\n");
        int r = parse(f, in, len);
        if (n == SIP_MAX_VIAS) {
            assert_true(r > 0);
            assert_int_equal(f->m.nvia, SIP_MAX_VIAS);
            assert_int_equal(f->m.via_hdr[SIP_MAX_VIAS - 1], 0);
        } else {
            assert_int_equal(r, SIP_ETOOMANYVIAS);
        }
    }
}

static void test_sip_parse_frames_the_body_by_content_length(void **state)
{
    struct fx *f = *state;
    static const char hdr[] = RL "Content-Length: 3\r\n\r\n";
    static const char rest[] = "rest\0of\r\nit";

    assert_int_equal(PARSE(f, RL "Content-Length: 3\r\n\r\nabcXYZ"), sizeof(hdr) - 1);
    assert_int_equal(f->m.clen, 3);
    assert_span(f->m.body, "abc");
    assert_int_equal(f->m.msg_len, f->m.hdr_len + 3);

    assert_int_equal(PARSE(f, RL "Content-Length: 3\r\n\r\nab"), SIP_EBODY);

    assert_true(PARSE(f, RL "Subject: x\r\n\r\nrest\0of\r\nit") > 0);
    assert_int_equal(f->m.clen, -1);
    assert_int_equal(f->m.body.len, sizeof(rest) - 1);
    assert_memory_equal(f->m.body.p, rest, sizeof(rest) - 1);
    assert_int_equal(f->m.msg_len, sizeof(RL "Subject: x\r\n\r\n") - 1 + sizeof(rest) - 1);

    assert_true(PARSE(f, RL "l: 0\r\n\r\nnoise") > 0);
    assert_int_equal(f->m.clen, 0);
    assert_int_equal(f->m.body.len, 0);
    assert_int_equal(f->m.msg_len, f->m.hdr_len);
}

static void test_sip_parse_reads_nothing_of_an_empty_datagram(void **state)
{
    /* guard_copy of 0 bytes points at the PROT_NONE page itself */
    assert_int_equal(parse(*state, "", 0), SIP_EEMPTY);
}

static void test_sip_parse_rejects_nul_in_header_name(void **state)
{
    struct fx *f = *state;

    assert_int_equal(PARSE(f, RL "Via: SIP/2.0/UDP a\r\nCall\0-ID: x\r\n\r\n"), SIP_EHDRNAME);
    assert_ptr_equal(f->m.err_at, f->buf + sizeof(RL "Via: SIP/2.0/UDP a\r\nCall") - 1);
}

static void test_sip_parse_points_err_at_the_duplicate_header(void **state)
{
    struct fx *f = *state;
    static const char first[] = RL "Call-ID: a\r\nSubject: s\r\n";

    assert_int_equal(PARSE(f, RL "Call-ID: a\r\nSubject: s\r\ni: b\r\n\r\n"), SIP_EDUPHDR);
    assert_non_null(f->m.err_at);
    assert_in_range(f->m.err_at - f->buf, sizeof(first) - 1, sizeof(first) - 1 + 4);
}

/*
 * The fast pass takes a line in one step from the 64 bytes at its start,
 * with the colon from the first 32 (sip_fast.c: quick_line); lines that
 * end or whose colon falls on either side of those bounds take other
 * steps. Every name length from 1 to 36 and value length from 0 to 90,
 * with and without LWS around the value, ended by CRLF or LF, must index
 * to the same name and trimmed value (parse() also compares the fast pass
 * with the careful one, padded and not).
 */
static void test_sip_parse_takes_lines_of_every_length_around_the_vector_bounds(void **state)
{
    struct fx *f = *state;
    static const char *const shapes[][2] = {{": ", ""}, {":", ""}, {":  ", " "}};
    char name[40], value[100], msg[300];
    for (int nl = 1; nl <= 36; nl++) {
        memset(name, 'n', (size_t)nl);
        for (int vl = 0; vl <= 90; vl++) {
            memset(value, 'v', (size_t)vl);
            for (size_t sh = 0; sh < 3; sh++) {
                for (int lf_only = 0; lf_only <= 1; lf_only++) {
                    const char *eol = lf_only ? "\n" : "\r\n";
                    int len = snprintf(msg, sizeof(msg), RL "%.*s%s%.*s%s%s" VIA "\r\n", nl, name,
                                       shapes[sh][0], vl, value, shapes[sh][1], eol);
                    assert_true(len > 0 && (size_t)len < sizeof(msg));
                    if (parse(f, msg, (size_t)len) <= 0)
                        fail_msg("name %d, value %d, shape %zu, %s: %s", nl, vl, sh,
                                 lf_only ? "LF" : "CRLF", res_name(parse(f, msg, (size_t)len)));
                    const struct sip_hdr *h = &f->m.hdr[0];
                    assert_int_equal(f->m.nhdr, 2);
                    assert_true(span_is(h->name, name, (size_t)nl));
                    assert_true(span_is(h->value, value, (size_t)vl));
                }
            }
        }
    }
}

/*
 * Every prefix of a valid message, on a guard page: an error, or (cut
 * inside the body of a message without Content-Length) success with a
 * shorter body. Never a crash or a read past the prefix.
 */
static void test_sip_parse_handles_every_truncation_prefix(void **state)
{
    struct fx *f = *state;
    static const struct pcase msgs[] = {
        CASE(RL VIA "Max-Forwards: 70\r\nSubject: a\r\n b\r\nContent-Length: 5\r\n\r\nhello", OK,
             "Content-Length and a fold"),
        CASE(RL VIA "To: <sip:bob@example.com>\r\n\r\nno length here", OK,
             "no Content-Length, body to the end"),
        CASE("SIP/2.0 200 OK\nVia: SIP/2.0/UDP a,\n SIP/2.0/UDP b\nl: 2\n\nokJUNK", OK,
             "bare LF, folded Via list, bytes past the body"),
        CASE("SIP/2.0 100 \r\nTO :\r\n sip:x\r\n\r\n", OK, "empty reason, empty first line"),
    };

    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        const struct pcase *c = &msgs[i];
        assert_true(parse(f, c->in, c->len) > 0);
        size_t hlen = f->m.hdr_len;
        int32_t clen = f->m.clen;
        for (size_t cut = 0; cut < c->len; cut++) {
            int r = parse(f, c->in, cut);
            int want;
            if (cut == 0)
                want = SIP_EEMPTY;
            else if (cut < hlen)
                want = r < 0 ? r : -1000; /* any error */
            else if (clen >= 0 && cut < hlen + (size_t)clen)
                want = SIP_EBODY;
            else
                want = (int)hlen;
            if (r != want)
                fail_msg("%s cut to %zu bytes: got %d (%s), want %d", c->what, cut, r, res_name(r),
                         want);
            if (r > 0 && clen < 0)
                assert_int_equal(f->m.body.len, cut - hlen);
        }
    }
}

/* Bad bytes inserted at several positions; the outcome depends on where. */
enum { ANY_PARSE_ERR = 1000, ANY_ERR = 1001 }; /* ANY_ERR: parse or validate fails */

struct badbyte {
    const char *bytes;
    size_t len;
    const char *name;
};

#define BB(s, name)                                                                                \
    {                                                                                              \
        (s), sizeof(s) - 1, (name)                                                                 \
    }
static const struct badbyte classes[] = {
    BB("\0", "NUL"),     BB("\x01", "CTL 0x01"), BB("\x1f", "CTL 0x1f"),  BB("\x7f", "DEL"),
    BB("\r", "bare CR"), BB("\n", "bare LF"),    BB("\r\n ", "obs-fold"),
};
#define NCLASS (sizeof(classes) / sizeof(classes[0]))

struct badpos {
    const char *where; /* inserted before the byte at strstr(base, at) + skip */
    const char *at;
    size_t skip;
    int want[NCLASS]; /* NUL, CTL, CTL, DEL, CR, LF, fold */
};

static const char bad_req[] = "OPTIONS sip:alice@example.com SIP/2.0\r\n"
                              "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK77\r\n"
                              "Subject: hello world\r\n"
                              "Content-Length: 4\r\n"
                              "\r\n"
                              "body";
static const char bad_resp[] = "SIP/2.0 404 Not Found\r\n"
                               "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK77\r\n"
                               "Content-Length: 0\r\n"
                               "\r\n";

#define E ANY_PARSE_ERR
#define V ANY_ERR
/* clang-format off */
static const struct badpos req_pos[] = {
    {"method", "OPTIONS", 3, {E, E, E, E, E, E, E}},
    {"Request-URI", "alice", 2, {V, V, V, V, V, E, E}},
    {"version", "SIP/2.0", 5, {E, E, E, E, E, E, E}},
    {"header name", "Subject", 3,
     {SIP_EHDRNAME, SIP_EHDRNAME, SIP_EHDRNAME, SIP_EHDRNAME, E, SIP_EHDRNAME, SIP_EHDRNAME}},
    {"header value", "hello", 2,
     {SIP_EHDRVALUE, SIP_EHDRVALUE, SIP_EHDRVALUE, SIP_EHDRVALUE, SIP_EBARECR, SIP_EHDRNAME, OK}},
    {"end of a header value", "world", 5,
     {SIP_EHDRVALUE, SIP_EHDRVALUE, SIP_EHDRVALUE, SIP_EHDRVALUE, SIP_EBARECR, OK, OK}},
    {"body", "body", 1, {OK, OK, OK, OK, OK, OK, OK}},
};
static const struct badpos resp_pos[] = {
    {"status code", "404", 1, {SIP_ESTATUS, SIP_ESTATUS, SIP_ESTATUS, SIP_ESTATUS, E, E, E}},
    {"reason phrase", "Not Found", 1,
     {SIP_EREASON, SIP_EREASON, SIP_EREASON, SIP_EREASON, SIP_EBARECR, SIP_EHDRNAME, SIP_EFOLD}},
};
/* clang-format on */
#undef E
#undef V

static int run_badpos(struct fx *f, const char *base, size_t blen, const struct badpos *p,
                      size_t np)
{
    struct sip_info info;
    char in[512];
    int bad = 0;

    for (size_t i = 0; i < np; i++) {
        const char *at = strstr(base, p[i].at);
        assert_non_null(at);
        size_t off = (size_t)(at - base) + p[i].skip;
        for (size_t k = 0; k < NCLASS; k++) {
            const struct badbyte *c = &classes[k];
            memcpy(in, base, off);
            memcpy(in + off, c->bytes, c->len);
            memcpy(in + off + c->len, base + off, blen - off);
            int r = parse(f, in, blen + c->len);
            int want = p[i].want[k];
            bool pass;
            if (want == ANY_PARSE_ERR)
                pass = r < 0;
            else if (want == ANY_ERR)
                pass = r < 0 || sip_validate(&f->m, &info) < 0;
            else if (want == OK)
                pass = r > 0;
            else
                pass = r == want;
            /* A byte the index rejected for what it is: err_at must point at it. */
            bool exact = k <= 4 && (want == SIP_EHDRNAME || want == SIP_EHDRVALUE ||
                                    want == SIP_EREASON || want == SIP_EBARECR);
            if (pass && exact && f->m.err_at != f->buf + off) {
                print_error("%s in %s: err_at is offset %td, want %zu\n", c->name, p[i].where,
                            f->m.err_at != NULL ? f->m.err_at - f->buf : -1, off);
                bad++;
            }
            if (!pass) {
                print_error("%s in %s: got %s, want %s\n", c->name, p[i].where, res_name(r),
                            want >= ANY_PARSE_ERR ? "an error"
                            : want == OK          ? "success"
                                                  : sip_err_name(want));
                bad++;
            }
        }
    }
    return bad;
}

static void test_sip_parse_rejects_each_bad_byte_class_where_it_matters(void **state)
{
    int bad = run_badpos(*state, bad_req, sizeof(bad_req) - 1, req_pos,
                         sizeof(req_pos) / sizeof(req_pos[0]));
    bad += run_badpos(*state, bad_resp, sizeof(bad_resp) - 1, resp_pos,
                      sizeof(resp_pos) / sizeof(resp_pos[0]));
    if (bad > 0)
        fail_msg("%d bad-byte cases failed", bad);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_sip_parse_start_line_table),
        T(test_sip_parse_header_table),
        T(test_sip_parse_rejects_second_single_value_headers_only),
        T(test_sip_parse_via_table),
        T(test_sip_parse_content_length_table),
        T(test_sip_parse_indexes_a_minimal_request_and_its_method),
        T(test_sip_parse_indexes_a_minimal_response),
        T(test_sip_parse_maps_header_names_in_any_case_and_compact_form),
        T(test_sip_parse_keeps_interior_folds_and_trims_outer_lws),
        T(test_sip_parse_gives_empty_values_a_position),
        T(test_sip_parse_measures_line_len_through_the_line_end),
        T(test_sip_parse_splits_via_values_across_and_within_lines),
        T(test_sip_parse_walks_repeated_headers_with_first_and_hnext),
        T(test_sip_parse_holds_exactly_max_hdrs_and_rejects_one_more),
        T(test_sip_parse_holds_exactly_max_vias_and_rejects_one_more),
        T(test_sip_parse_frames_the_body_by_content_length),
        T(test_sip_parse_reads_nothing_of_an_empty_datagram),
        T(test_sip_parse_rejects_nul_in_header_name),
        T(test_sip_parse_points_err_at_the_duplicate_header),
        T(test_sip_parse_handles_every_truncation_prefix),
        T(test_sip_parse_takes_lines_of_every_length_around_the_vector_bounds),
        T(test_sip_parse_rejects_each_bad_byte_class_where_it_matters),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
