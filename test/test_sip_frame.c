/*
 * test_sip_frame.c - sip_frame(), the stream framer.
 *
 * One table of one-line cases: input, verdict, leading bytes skipped, message length. Every
 * case is run four ways, each input copied by guard_copy() so that its last byte is the last
 * readable one before a PROT_NONE page: once whole; one byte at a time with the state kept
 * (every prefix a fresh guard copy, so a read past the bytes given faults at once); split in
 * two at every byte offset with the state kept; and restarted from a zeroed state at every
 * prefix. All four must give the same first verdict, and a message that sip_parse() takes
 * must have the framer's hdr_len, clen and msg_len. Then the limits at and one past their
 * bounds, a pipelined stream, and the saved offset that keeps a slow sender linear.
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
#include "test/guard.h"

#define MSG SIP_FRAME_MSG
#define PING SIP_FRAME_PING
#define MORE SIP_FRAME_MORE

struct fcase {
    const char *in;
    size_t len;
    int want;      /* verdict on the whole input */
    uint32_t skip; /* MSG, PING: leading CRLF bytes */
    uint32_t mlen; /* MSG: message length; PING: 0 */
    const char *what;
};

/* clang-format off */
#define CASE(s, want, skip, mlen, what) {(s), sizeof(s) - 1, (want), (skip), (mlen), (what)}
#define OPT "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCall-ID: c\r\n" \
            "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
#define OPT_LEN (sizeof(OPT) - 1)
/* clang-format on */

#define SP40 "                                        "

static const struct sip_frame_lim lim_default = {.max_hdr = 4096, .max_msg = 65536};

static const struct fcase cases[] = {
    CASE(OPT "Content-Length: 0\r\n\r\n", MSG, 0, OPT_LEN + 21, "minimal request, empty body"),
    CASE(OPT "Content-Length: 4\r\n\r\nabcd", MSG, 0, OPT_LEN + 25, "body of 4 bytes"),
    CASE(OPT "Content-Length: 4\r\n\r\nabcdOPTIONS", MSG, 0, OPT_LEN + 25,
         "the next message's bytes are not this one's"),
    CASE(OPT "l: 2\r\n\r\nab", MSG, 0, OPT_LEN + 10, "compact form l"),
    CASE(OPT "CONTENT-length \t: 2\r\n\r\nab", MSG, 0, OPT_LEN + 25,
         "any case, SP/HTAB before the colon"),
    CASE(OPT "Content-Length:\r\n  2\r\n\r\nab", MSG, 0, OPT_LEN + 26, "value on a fold"),
    CASE(OPT "Content-Length: 00\r\n\r\n", MSG, 0, OPT_LEN + 22, "leading zeros"),
    CASE("\r\n" OPT "l: 0\r\n\r\n", MSG, 2, OPT_LEN + 8, "one leading CRLF skipped (7.5)"),
    CASE("OPTIONS sip:a@b SIP/2.0\nl: 1\n\nx", MSG, 0, 31, "bare LF line ends"),
    CASE("OPTIONS sip:a@b SIP/2.0\r\nl: 1\n\r\nx", MSG, 0, 33, "LF then CRLF"),
    CASE("OPTIONS sip:a@b SIP/2.0\nl: 1\r\n\nx", MSG, 0, 32, "CRLF then LF"),
    CASE("SIP/2.0 200 OK\r\nl: 0\r\n\r\n", MSG, 0, 24, "a response"),
    CASE("\r\n\r\n", PING, 0, 0, "RFC 5626 ping"),
    CASE("\r\n\r\n\r\n", PING, 0, 0, "ping, then the start of another"),
    CASE("\r\n\r\nOPTIONS", PING, 0, 0, "ping before a message"),
    CASE("\r\n\r", MORE, 0, 0, "ping or CRLF: not known yet"),
    CASE("\r\n", MORE, 0, 0, "one CRLF: not known yet"),
    CASE("", MORE, 0, 0, "nothing"),
    CASE(OPT, MORE, 0, 0, "header block still arriving"),
    CASE(OPT "l: 10\r\n\r\nabc", MORE, 0, 0, "body still arriving (or a lying Content-Length)"),
    CASE(OPT "\r\n", SIP_ENOCLEN, 0, 0, "no Content-Length"),
    CASE("OPTIONS sip:a SIP/2.0\r\n\r\n", SIP_ENOCLEN, 0, 0, "no headers at all"),
    CASE("OPTIONS sip:l:5 SIP/2.0\r\nX-Content-Length: 5\r\n\r\n", SIP_ENOCLEN, 0, 0,
         "start line and other names are not Content-Length"),
    CASE(OPT "Subject: a\r\n Content-Length: 5\r\n\r\n", SIP_ENOCLEN, 0, 0,
         "a fold is no header line"),
    CASE(OPT "l: 9\r\nl: 9\r\n\r\n", SIP_EDUPHDR, 0, 0, "two Content-Length"),
    CASE(OPT "l: x\r\n\r\n", SIP_ECLEN, 0, 0, "Content-Length not a number"),
    CASE(OPT "l: -1\r\n\r\n", SIP_ECLEN, 0, 0, "negative Content-Length"),
    CASE(OPT "l: 2147483648\r\n\r\n", SIP_ECLEN, 0, 0, "Content-Length of 2^31"),
    CASE(OPT "l: 70000\r\n\r\n", SIP_EMSGBIG, 0, 0, "message over max_msg"),
    CASE(OPT "l: 0\r\n\r\nl: 5\r\n\r\n", MSG, 0, OPT_LEN + 8, "a header-like body is body"),
    CASE("\rOPTIONS\r\nl: 0\r\n\r\n", MSG, 0, 18, "bare CR: framed, for sip_parse to reject"),
    CASE(OPT "Content-Length:" SP40 SP40 SP40 "5\r\n\r\n12345", SIP_ECLEN, 0, 0,
         "a Content-Length line over 128 bytes"),
    CASE(OPT "Content-Length:" SP40 SP40 "5\r\n\r\n12345", MSG, 0, OPT_LEN + 105,
         "a Content-Length line of 103 bytes"),
    CASE(OPT "Content-Type:" SP40 SP40 SP40 SP40 "x\r\nl: 1\r\n\r\n1", MSG, 0, OPT_LEN + 185,
         "a long line that starts like Content-Length"),
};

static const char *kind_name(int r)
{
    switch (r) {
    case MORE: return "MORE";
    case MSG: return "MSG";
    case PING: return "PING";
    default: return sip_err_name(r);
    }
}

struct verdict {
    int r;
    struct sip_frame f;
};

/* The first verdict other than MORE over prefixes of c, as each way of splitting finds it. */
static struct verdict whole(struct guard *g, const char *in, size_t len,
                            const struct sip_frame_lim *lim)
{
    struct verdict v;
    sip_frame_reset(&v.f);
    v.r = sip_frame(guard_copy(g, in, len), len, lim, &v.f);
    return v;
}

static struct verdict bytewise(struct guard *g, const char *in, size_t len,
                               const struct sip_frame_lim *lim)
{
    struct verdict v = {.r = MORE};
    sip_frame_reset(&v.f);
    for (size_t k = 0; k <= len && v.r == MORE; k++)
        v.r = sip_frame(guard_copy(g, in, k), k, lim, &v.f);
    return v;
}

static struct verdict split(struct guard *g, const char *in, size_t len, size_t k,
                            const struct sip_frame_lim *lim)
{
    struct verdict v;
    sip_frame_reset(&v.f);
    v.r = sip_frame(guard_copy(g, in, k), k, lim, &v.f);
    if (v.r == MORE)
        v.r = sip_frame(guard_copy(g, in, len), len, lim, &v.f);
    return v;
}

static void same(const struct fcase *c, const char *how, size_t k, struct verdict a,
                 struct verdict b)
{
    if (a.r != b.r ||
        (a.r == MSG &&
         (a.f.skip != b.f.skip || a.f.msg_len != b.f.msg_len || a.f.hdr_len != b.f.hdr_len)) ||
        ((a.r == MSG || a.r == PING) && a.f.used != b.f.used))
        fail_msg("%s: %s at %zu gives %s (skip %u, len %u), whole gives %s (skip %u, len %u)",
                 c->what, how, k, kind_name(b.r), b.f.skip, b.f.msg_len, kind_name(a.r), a.f.skip,
                 a.f.msg_len);
}

static void test_sip_frame_table_whole_and_split_at_every_byte_offset(void **state)
{
    (void)state;
    struct guard g = {0};
    static struct sip_msg m;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct fcase *c = &cases[i];
        struct verdict w = whole(&g, c->in, c->len, &lim_default);
        if (w.r != c->want)
            fail_msg("%s: %s, want %s", c->what, kind_name(w.r), kind_name(c->want));
        if (w.r == MSG) {
            assert_int_equal(w.f.skip, c->skip);
            assert_int_equal(w.f.msg_len, c->mlen);
            assert_int_equal(w.f.used, c->skip + c->mlen);
            assert_int_equal(w.f.msg_len, w.f.hdr_len + (uint32_t)w.f.clen);
            /* where the message parses, the parser frames it the same way */
            const char *buf = guard_copy(&g, c->in + w.f.skip, w.f.msg_len);
            if (sip_parse(buf, w.f.msg_len, &m) > 0) {
                assert_int_equal(m.hdr_len, w.f.hdr_len);
                assert_int_equal(m.clen, w.f.clen);
                assert_int_equal(m.msg_len, w.f.msg_len);
            }
        } else if (w.r == PING) {
            assert_int_equal(w.f.used, c->skip + 4);
        }
        same(c, "byte by byte", 0, w, bytewise(&g, c->in, c->len, &lim_default));
        for (size_t k = 0; k <= c->len; k++) {
            same(c, "split", k, w, split(&g, c->in, c->len, k, &lim_default));
            /* from a zeroed state, a prefix gives MORE or the whole input's verdict */
            struct verdict p = whole(&g, c->in, k, &lim_default);
            if (p.r != MORE)
                same(c, "restart on prefix", k, w, p);
        }
    }
    guard_release(&g);
}

/* A header block of exactly n bytes (Content-Length 0 and the empty line included). */
static size_t block(char *out, size_t n)
{
    static const char head[] = "OPTIONS sip:a SIP/2.0\r\nX: ", tail[] = "\r\nl: 0\r\n\r\n";
    size_t fill = n - (sizeof(head) - 1) - (sizeof(tail) - 1);
    memcpy(out, head, sizeof(head) - 1);
    memset(out + sizeof(head) - 1, 'x', fill);
    memcpy(out + sizeof(head) - 1 + fill, tail, sizeof(tail) - 1);
    return n;
}

static void test_sip_frame_takes_a_header_block_of_max_hdr_and_refuses_one_byte_more(void **state)
{
    (void)state;
    struct guard g = {0};
    char buf[600];
    struct sip_frame_lim lim = {.max_hdr = 500, .max_msg = 65536};
    size_t n = block(buf, 500);
    struct verdict v = whole(&g, buf, n, &lim);
    assert_int_equal(v.r, MSG);
    assert_int_equal(v.f.hdr_len, 500);
    v = bytewise(&g, buf, n, &lim);
    assert_int_equal(v.r, MSG);

    n = block(buf, 501);
    assert_int_equal(whole(&g, buf, n, &lim).r, SIP_EHDRBIG);
    v = bytewise(&g, buf, n, &lim);
    assert_int_equal(v.r, SIP_EHDRBIG);
    /* the verdict comes as soon as max_hdr bytes are in, not when the sender stops */
    struct sip_frame f;
    sip_frame_reset(&f);
    assert_int_equal(sip_frame(guard_copy(&g, buf, 499), 499, &lim, &f), MORE);
    assert_int_equal(sip_frame(guard_copy(&g, buf, 500), 500, &lim, &f), SIP_EHDRBIG);
    guard_release(&g);
}

static void test_sip_frame_takes_a_message_of_max_msg_and_refuses_one_byte_more(void **state)
{
    (void)state;
    struct guard g = {0};
    char buf[300];
    memcpy(buf, "SIP/2.0 200 OK\r\nl: 100\r\n\r\n", 26);
    memset(buf + 26, 'b', 101);
    struct sip_frame_lim lim = {.max_hdr = 4096, .max_msg = 126};
    struct verdict v = whole(&g, buf, 127, &lim);
    assert_int_equal(v.r, MSG);
    assert_int_equal(v.f.msg_len, 126);
    lim.max_msg = 125;
    /* refused when the header block is in: no body byte need arrive */
    assert_int_equal(whole(&g, buf, 26, &lim).r, SIP_EMSGBIG);
    guard_release(&g);
}

/* Messages, pings and stray CRLFs back to back, consumed the way a connection does. */
static void test_sip_frame_walks_a_pipelined_stream(void **state)
{
    (void)state;
    static const char s[] = "\r\n\r\n" OPT "l: 3\r\n\r\nabc"
                            "\r\n" OPT "l: 0\r\n\r\n"
                            "\r\n\r\n\r\n\r\n"
                            "SIP/2.0 100 Trying\r\nl: 0\r\n\r\n"
                            "\r\n";
    static const int want[] = {PING, MSG, MSG, PING, PING, MSG, MORE};
    struct guard g = {0};
    size_t off = 0, len = sizeof(s) - 1;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct sip_frame f;
        sip_frame_reset(&f);
        int r = sip_frame(guard_copy(&g, s + off, len - off), len - off, &lim_default, &f);
        if (r != want[i])
            fail_msg("step %zu: %s, want %s", i, kind_name(r), kind_name(want[i]));
        if (r != MORE)
            off += f.used;
    }
    assert_int_equal(off, len - 2);
    guard_release(&g);
}

/* A header block sent one byte at a time: every call goes on where the last stopped (scan
 * follows the bytes in), so the framer's work is linear in the block, not quadratic. */
static void test_sip_frame_goes_on_from_its_saved_offset(void **state)
{
    (void)state;
    char buf[3000];
    size_t n = block(buf, sizeof(buf));
    struct sip_frame f;
    sip_frame_reset(&f);
    for (size_t k = 1; k < n - 4; k++) {
        assert_int_equal(sip_frame(buf, k, &lim_default, &f), MORE);
        /* at most the last LF is still unsettled, or the Content-Length line after it */
        assert_true(f.scan + 8 >= k && f.scan <= k);
    }
    assert_int_equal(sip_frame(buf, n, &lim_default, &f), MSG);
    assert_int_equal(f.msg_len, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sip_frame_table_whole_and_split_at_every_byte_offset),
        cmocka_unit_test(test_sip_frame_takes_a_header_block_of_max_hdr_and_refuses_one_byte_more),
        cmocka_unit_test(test_sip_frame_takes_a_message_of_max_msg_and_refuses_one_byte_more),
        cmocka_unit_test(test_sip_frame_walks_a_pipelined_stream),
        cmocka_unit_test(test_sip_frame_goes_on_from_its_saved_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
