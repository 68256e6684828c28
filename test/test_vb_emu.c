/*
 * test_vb_emu.c - the emulated backends' answers (bench/vb_emu.c, vb_sip.c),
 * checked with viaduct's own parser: every response parses (sip_parse) and
 * validates (sip_validate), carries the request's whole Via stack in order,
 * a To tag (one per dialog, none added on 100), the right status sequence
 * per method, nothing for ACK; the load's reader gets back the branch and
 * the To tag; requests are counted and checked for affinity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bench/vb_emu.h"
#include "bench/vb_match.h"
#include "bench/vb_sip.h"

static struct vb_emu_core core;
static struct sip_msg rq, rs;
static struct sip_info info;
static char obuf[VB_EMU_MAXRESP][4096];
static struct vb_buf out[VB_EMU_MAXRESP];

static int setup_mode(int mode, bool no_reply)
{
    if (vb_emu_core_init(&core, 4, mode, no_reply) < 0)
        return -1;
    vb_emu_set_contact(&core, 2, "127.0.0.1:5072");
    for (int i = 0; i < VB_EMU_MAXRESP; i++)
        out[i] = vb_buf_make(obuf[i], sizeof(obuf[i]));
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return setup_mode(VB_INV_100_180_200, false);
}

static int teardown(void **state)
{
    (void)state;
    vb_emu_core_free(&core);
    return 0;
}

/* A request as the load writes it, then as a proxy forwards it: the
 * proxy's Via inserted on top (on its own line, or sharing the client's). */
static size_t request(char *buf, size_t cap, int method, const char *to_tag, bool shared_line)
{
    char first[2048];
    struct vb_buf b = vb_buf_make(first, sizeof(first));
    struct vb_req r = {
        .method = method,
        .user = SPAN_LIT("b7"),
        .domain = SPAN_LIT("example.com"),
        .from_user = method == SIP_M_REGISTER ? SPAN_LIT("b7") : SPAN_LIT("a7"),
        .local = SPAN_LIT("127.0.0.1:40000"),
        .branch_id = 0x1234,
        .callid = SPAN_LIT("vb00000001-c00000007@127.0.0.1"),
        .from_tag = 0xfeed,
        .to_tag = to_tag ? span_make(to_tag, strlen(to_tag)) : SPAN_NULL,
        .cseq = method == SIP_M_BYE ? 2 : 1,
        .expires = 600,
        .body = true,
    };
    int n = vb_req_write(&b, &r);
    assert_true(n > 0);
    /* the client's own request must already be valid SIP */
    assert_true(sip_parse(first, (size_t)n, &rq) > 0);
    assert_int_equal(sip_validate(&rq, &info), 0);
    const char *eol = memchr(first, '\n', (size_t)n) + 1;
    const char *via = shared_line ? "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy1, "
                                  : "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy1\r\n";
    size_t head = (size_t)(eol - first), vl = strlen(via);
    size_t skip = shared_line ? strlen("Via: ") : 0;
    assert_true(head + vl + (size_t)n < cap);
    memcpy(buf, first, head);
    memcpy(buf + head, via, vl);
    memcpy(buf + head + vl, eol + skip, (size_t)n - head - skip);
    return (size_t)n - skip + vl;
}

/* Parses and validates response i; checks its Via values equal the request's. */
static void check_response(int i, int status, const char *req, size_t reqlen)
{
    assert_true(sip_parse(req, reqlen, &rq) > 0);
    int r = sip_parse(out[i].p, out[i].len, &rs);
    if (r < 0)
        fail_msg("response %d does not parse: %s\n%.*s", i, sip_err_name(r), (int)out[i].len,
                 out[i].p);
    assert_int_equal(sip_validate(&rs, &info), 0);
    assert_false(rs.is_request);
    assert_int_equal(rs.status, status);
    assert_int_equal(rs.msg_len, out[i].len); /* Content-Length frames it exactly */
    assert_int_equal(rs.nvia, rq.nvia);
    for (int v = 0; v < rq.nvia; v++)
        assert_true(span_eq(rs.via[v], rq.via[v]));
    assert_true(span_eq(sip_hvalue(&rs, SIP_H_CALL_ID), sip_hvalue(&rq, SIP_H_CALL_ID)));
    assert_true(span_eq(sip_hvalue(&rs, SIP_H_CSEQ), sip_hvalue(&rq, SIP_H_CSEQ)));
    assert_true(span_eq(sip_hvalue(&rs, SIP_H_FROM), sip_hvalue(&rq, SIP_H_FROM)));
}

static struct span to_tag_of(int i)
{
    sip_parse(out[i].p, out[i].len, &rs);
    sip_validate(&rs, &info);
    return info.to.tag;
}

static void test_vb_emu_answers_invite_with_100_180_200_and_the_via_stack(void **state)
{
    (void)state;
    char req[4096];
    for (int shared = 0; shared < 2; shared++) {
        size_t n = request(req, sizeof(req), SIP_M_INVITE, NULL, shared);
        assert_int_equal(vb_emu_answer(&core, 2, req, n, out), 3);
        check_response(0, 100, req, n);
        check_response(1, 180, req, n);
        check_response(2, 200, req, n);
        assert_null(to_tag_of(0).p); /* no tag on 100 Trying */
        struct span t180 = to_tag_of(1), t200 = to_tag_of(2);
        assert_int_equal(t180.len, 16);
        assert_true(span_eq(t180, t200)); /* one dialog, one tag */
        /* 200 carries a Contact (ours) and the SDP answer */
        sip_parse(out[2].p, out[2].len, &rs);
        assert_non_null(strstr(out[2].p, "Contact: <sip:emu@127.0.0.1:5072>"));
        assert_true(rs.body.len > 0 && memcmp(rs.body.p, "v=0", 3) == 0);
    }
    assert_int_equal(core.cnt[2].req[VB_EMU_invite], 2);
    assert_int_equal(core.cnt[2].responses, 6);
}

static void test_vb_emu_invite_modes_send_fewer_provisionals(void **state)
{
    (void)state;
    char req[4096];
    static const int modes[] = {VB_INV_200, VB_INV_180_200};
    for (int m = 0; m < 2; m++) {
        vb_emu_core_free(&core);
        assert_int_equal(setup_mode(modes[m], false), 0);
        size_t n = request(req, sizeof(req), SIP_M_INVITE, NULL, false);
        assert_int_equal(vb_emu_answer(&core, 0, req, n, out), modes[m]);
        check_response(modes[m] - 1, 200, req, n);
    }
    assert_int_equal(vb_invite_mode_parse("200"), VB_INV_200);
    assert_int_equal(vb_invite_mode_parse("100,180,200"), VB_INV_100_180_200);
    assert_int_equal(vb_invite_mode_parse("100"), -1);
}

static void test_vb_emu_never_answers_ack(void **state)
{
    (void)state;
    char req[4096];
    size_t n = request(req, sizeof(req), SIP_M_ACK, "0123456789abcdef", false);
    assert_int_equal(vb_emu_answer(&core, 1, req, n, out), 0);
    assert_int_equal(core.cnt[1].req[VB_EMU_ack], 1);
}

static void test_vb_emu_bye_keeps_the_dialog_to_tag(void **state)
{
    (void)state;
    char req[4096];
    size_t n = request(req, sizeof(req), SIP_M_BYE, "0123456789abcdef", false);
    assert_int_equal(vb_emu_answer(&core, 1, req, n, out), 1);
    check_response(0, 200, req, n);
    assert_true(span_eq(to_tag_of(0), SPAN_LIT("0123456789abcdef")));
}

static void test_vb_emu_register_200_returns_contact_and_expires(void **state)
{
    (void)state;
    char req[4096];
    size_t n = request(req, sizeof(req), SIP_M_REGISTER, NULL, false);
    assert_int_equal(vb_emu_answer(&core, 3, req, n, out), 1);
    check_response(0, 200, req, n);
    sip_parse(out[0].p, out[0].len, &rs);
    assert_true(span_eq(sip_hvalue(&rs, SIP_H_CONTACT), SPAN_LIT("<sip:b7@127.0.0.1:40000>")));
    assert_true(span_eq(sip_hvalue(&rs, SIP_H_EXPIRES), SPAN_LIT("600")));
    assert_int_equal(core.aff.keys[VB_AFF_AOR], 1);
    assert_int_equal(core.aff.keys[VB_AFF_CALLID], 1);
}

static void test_vb_emu_options_and_message_get_200(void **state)
{
    (void)state;
    char req[4096];
    const int methods[] = {SIP_M_OPTIONS, SIP_M_MESSAGE};
    for (int i = 0; i < 2; i++) {
        size_t n = request(req, sizeof(req), methods[i], NULL, false);
        assert_int_equal(vb_emu_answer(&core, 0, req, n, out), 1);
        check_response(0, 200, req, n);
        assert_int_equal(to_tag_of(0).len, 16);
    }
}

static void test_vb_emu_load_reads_branch_and_tag_after_the_proxy_strips_its_via(void **state)
{
    (void)state;
    char req[4096], resp[4096];
    size_t n = request(req, sizeof(req), SIP_M_INVITE, NULL, false);
    assert_int_equal(vb_emu_answer(&core, 0, req, n, out), 3);
    /* what the proxy sends back: the 200 without its top Via line */
    const char *via = strstr(out[2].p, "Via: SIP/2.0/UDP 127.0.0.1:5060");
    const char *next = strstr(via, "\r\n") + 2;
    size_t a = (size_t)(via - out[2].p), rest = out[2].len - (size_t)(next - out[2].p);
    memcpy(resp, out[2].p, a);
    memcpy(resp + a, next, rest);
    struct vb_resp r;
    uint64_t id;
    assert_int_equal(vb_resp_read(resp, a + rest, &rs, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.cseq_method, SIP_M_INVITE);
    assert_true(vb_branch_read(r.branch, &id));
    assert_int_equal(id, 0x1234);
    assert_int_equal(r.to_tag.len, 16);
    /* a request is not a response */
    assert_true(vb_resp_read(req, n, &rs, &r) < 0);
}

static void test_vb_emu_counts_without_answering_in_no_reply_mode(void **state)
{
    (void)state;
    char req[4096];
    vb_emu_core_free(&core);
    assert_int_equal(setup_mode(VB_INV_100_180_200, true), 0);
    size_t n = request(req, sizeof(req), SIP_M_INVITE, NULL, false);
    assert_int_equal(vb_emu_answer(&core, 0, req, n, out), 0);
    assert_int_equal(core.cnt[0].req[VB_EMU_invite], 1);
}

static void test_vb_emu_counts_malformed_and_stray_datagrams(void **state)
{
    (void)state;
    static const char junk[] = "this is not SIP\r\n\r\n";
    static const char resp[] = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKx\r\n"
                               "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\n"
                               "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(vb_emu_answer(&core, 0, junk, sizeof(junk) - 1, out), 0);
    assert_int_equal(vb_emu_answer(&core, 0, resp, sizeof(resp) - 1, out), 0);
    assert_int_equal(core.cnt[0].malformed, 1);
    assert_int_equal(core.cnt[0].stray, 1);
    assert_int_equal(core.cnt[0].rx, 2);
}

static void test_vb_emu_affinity_catches_a_call_split_over_two_backends(void **state)
{
    (void)state;
    char req[4096];
    size_t n = request(req, sizeof(req), SIP_M_INVITE, NULL, false);
    vb_emu_answer(&core, 0, req, n, out);
    n = request(req, sizeof(req), SIP_M_BYE, "0123456789abcdef", false);
    vb_emu_answer(&core, 1, req, n, out); /* the BYE reached another backend */
    assert_int_equal(core.aff.splits[VB_AFF_CALLID], 1);
}

static void test_vb_emu_aor_key_lowercases_the_host_only(void **state)
{
    (void)state;
    char buf[64];
    struct span k;
    assert_true(vb_emu_aor(SPAN_LIT("\"Bob\" <sip:Bob@EXAMPLE.com:5060;transport=udp>;tag=x"), buf,
                           sizeof(buf), &k));
    assert_true(span_eq(k, SPAN_LIT("Bob@example.com")));
    assert_false(vb_emu_aor(SPAN_LIT("<tel:+15551234>"), buf, sizeof(buf), &k));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_vb_emu_answers_invite_with_100_180_200_and_the_via_stack),
        T(test_vb_emu_invite_modes_send_fewer_provisionals),
        T(test_vb_emu_never_answers_ack),
        T(test_vb_emu_bye_keeps_the_dialog_to_tag),
        T(test_vb_emu_register_200_returns_contact_and_expires),
        T(test_vb_emu_options_and_message_get_200),
        T(test_vb_emu_load_reads_branch_and_tag_after_the_proxy_strips_its_via),
        T(test_vb_emu_counts_without_answering_in_no_reply_mode),
        T(test_vb_emu_counts_malformed_and_stray_datagrams),
        T(test_vb_emu_affinity_catches_a_call_split_over_two_backends),
        T(test_vb_emu_aor_key_lowercases_the_host_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
