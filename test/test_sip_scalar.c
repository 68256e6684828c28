/*
 * test_sip_scalar.c - the scalar parsers and name tables of parser/:
 * sip_cseq_parse, sip_maxfwd_parse, sip_clen_parse, sip_hname_id (with
 * sip_hname_canonical), sip_method_id, sip_branch_is_rfc3261 and the
 * sip_err_name / sip_err_id / sip_err_text tables.
 *
 * Each input is a span placed by guard_copy() so that it ends exactly at a
 * PROT_NONE page: the number parsers must stop at the span's end, never at a
 * NUL that is not there. Spans reach these functions already trimmed of
 * outer LWS (sip_parse trims header values), so inputs with leading or
 * trailing LWS are not part of the contract and are not tested.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "parser/sip.h"
#include "test/guard.h"

/* Copies s[0..n) to a guard page and returns it as a span. */
static struct span guarded(struct guard *g, const char *s, size_t n)
{
    return span_make(guard_copy(g, s, n), n);
}

struct num_case {
    const char *in;
    size_t len;
    long long want; /* the value, or a negative sip_err */
};

#define NUM(s, want)                                                                               \
    {                                                                                              \
        (s), sizeof(s) - 1, (want)                                                                 \
    }

/* clang-format off */
static const struct num_case maxfwd_cases[] = {
    NUM("0", 0),
    NUM("70", 70),
    NUM("0068", 68),
    NUM("255", 255),
    NUM("000000000000000000000070", 70),
    NUM("256", SIP_EMAXFWD),
    NUM("300", SIP_EMAXFWD),
    NUM("65606", SIP_EMAXFWD),                /* 256 + 65536 - 186: no 16-bit wrap */
    NUM("4294967366", SIP_EMAXFWD),           /* 2^32 + 70 */
    NUM("18446744073709551686", SIP_EMAXFWD), /* 2^64 + 70 */
    NUM("-1", SIP_EMAXFWD),
    NUM("+5", SIP_EMAXFWD),
    NUM("", SIP_EMAXFWD),
    NUM("7 0", SIP_EMAXFWD),
    NUM("7\r\n 0", SIP_EMAXFWD),
    NUM("1a", SIP_EMAXFWD),
    NUM("0x10", SIP_EMAXFWD),
    /* one and two bytes take the straight-line path */
    NUM("9", 9),
    NUM("99", 99),
    NUM("a", SIP_EMAXFWD),
    NUM("9a", SIP_EMAXFWD),
    NUM("a9", SIP_EMAXFWD),
    NUM("/9", SIP_EMAXFWD),
    NUM("9:", SIP_EMAXFWD),
    /* 8 bytes and more take the SWAR path */
    NUM("00000255", 255),
    NUM("00000256", SIP_EMAXFWD),
    NUM("0000000070", 70),
    NUM("000000000256", SIP_EMAXFWD),
    NUM("0000007 ", SIP_EMAXFWD),
    NUM("00000070a", SIP_EMAXFWD),
    NUM("0000:070", SIP_EMAXFWD),
};

static const struct num_case clen_cases[] = {
    NUM("0", 0),
    NUM("00012", 12),
    NUM("2147483647", 2147483647),
    NUM("0000000000000000000000000001", 1),
    NUM("2147483648", SIP_ECLEN),
    NUM("4294967296", SIP_ECLEN),
    NUM("4294967299", SIP_ECLEN),             /* must not wrap to 3 */
    NUM("18446744073709551619", SIP_ECLEN),   /* 2^64 + 3 */
    NUM("-999", SIP_ECLEN),
    NUM("-0", SIP_ECLEN),
    NUM("+1", SIP_ECLEN),
    NUM("5 5", SIP_ECLEN),
    NUM("", SIP_ECLEN),
    NUM("12a", SIP_ECLEN),
    NUM("1.0", SIP_ECLEN),
};
/* clang-format on */

static void run_num(const struct num_case *c, size_t n, const char *fn,
                    long long (*call)(struct span))
{
    struct guard g = {0};
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        long long got = call(guarded(&g, c[i].in, c[i].len));
        if (got != c[i].want) {
            print_error("%s(\"%s\") = %lld, want %lld\n", fn, c[i].in, got, c[i].want);
            bad++;
        }
    }
    guard_release(&g);
    if (bad > 0)
        fail_msg("%d of %zu %s cases failed", bad, n, fn);
}

static long long call_maxfwd(struct span s)
{
    return sip_maxfwd_parse(s);
}

static long long call_clen(struct span s)
{
    return sip_clen_parse(s);
}

static void test_sip_maxfwd_parse_takes_0_to_255_with_leading_zeros(void **state)
{
    (void)state;
    run_num(maxfwd_cases, sizeof(maxfwd_cases) / sizeof(maxfwd_cases[0]), "sip_maxfwd_parse",
            call_maxfwd);
}

static void test_sip_clen_parse_takes_digits_below_2_pow_31(void **state)
{
    (void)state;
    run_num(clen_cases, sizeof(clen_cases) / sizeof(clen_cases[0]), "sip_clen_parse", call_clen);
}

struct cseq_case {
    const char *in;
    size_t len;
    int want;
    uint32_t num;
    const char *method; /* NULL on error */
};

#define CSEQ(s, want, num, method)                                                                 \
    {                                                                                              \
        (s), sizeof(s) - 1, (want), (num), (method)                                                \
    }

/* clang-format off */
static const struct cseq_case cseq_cases[] = {
    CSEQ("1 INVITE", 0, 1, "INVITE"),
    CSEQ("0009 INVITE", 0, 9, "INVITE"),
    CSEQ("0009\r\n  INVITE", 0, 9, "INVITE"),           /* RFC 4475 wsinv */
    CSEQ("0009\n\tINVITE", 0, 9, "INVITE"),
    CSEQ("7 \t ACK", 0, 7, "ACK"),
    CSEQ("0 REGISTER", 0, 0, "REGISTER"),
    CSEQ("4294967295 ACK", 0, 4294967295u, "ACK"),
    CSEQ("000000000000000000004294967295 BYE", 0, 4294967295u, "BYE"),
    CSEQ("139122385 !interesting-Method0123456789_*+`.%indeed'~", 0, 139122385,
         "!interesting-Method0123456789_*+`.%indeed'~"), /* RFC 4475 intmeth */
    CSEQ("8 invite", 0, 8, "invite"),
    CSEQ("12345678 INVITE", 0, 12345678, "INVITE"),     /* 8 digits: one SWAR load */
    CSEQ("123456789 INVITE", 0, 123456789, "INVITE"),   /* 9: the loop takes the last */
    CSEQ("1234567 INVITE", 0, 1234567, "INVITE"),
    CSEQ("9999999 ACK", 0, 9999999, "ACK"),
    CSEQ("42949672950 ACK", SIP_ECSEQ, 0, NULL),
    CSEQ("12345/78 INVITE", SIP_ECSEQ, 0, NULL),
    CSEQ("1234567:INVITE", SIP_ECSEQ, 0, NULL),
    CSEQ("4294967296 ACK", SIP_ECSEQ, 0, NULL),
    CSEQ("4294967301 ACK", SIP_ECSEQ, 0, NULL),            /* must not wrap to 5 */
    CSEQ("36893488147419103232 REGISTER", SIP_ECSEQ, 0, NULL), /* RFC 4475 scalar02: 2^65 */
    CSEQ("9292394834772304023312 OPTIONS", SIP_ECSEQ, 0, NULL), /* RFC 4475 scalarlg */
    CSEQ("1", SIP_ECSEQ, 0, NULL),
    CSEQ("INVITE", SIP_ECSEQ, 0, NULL),
    CSEQ("1INVITE", SIP_ECSEQ, 0, NULL),
    CSEQ("-1 INVITE", SIP_ECSEQ, 0, NULL),
    CSEQ("+1 INVITE", SIP_ECSEQ, 0, NULL),
    CSEQ("", SIP_ECSEQ, 0, NULL),
    CSEQ("1 INV@ITE", SIP_ECSEQ, 0, NULL),
    CSEQ("1 INVITE ACK", SIP_ECSEQ, 0, NULL),
    CSEQ("1 INV\x01" "ITE", SIP_ECSEQ, 0, NULL),
    CSEQ("1 \"INVITE\"", SIP_ECSEQ, 0, NULL),
    /* the fast path (8+ bytes, 1-7 digits, SP, a method of [A-Za-z0-9.-] of
     * up to 8 bytes, or 16 in a 16+ byte value) at its edges; the rest
     * takes the general path with the same results */
    CSEQ("1 INVITE", 0, 1, "INVITE"),
    CSEQ("1234567 A", 0, 1234567, "A"),
    CSEQ("12 ABCDEFGH", 0, 12, "ABCDEFGH"),
    CSEQ("12 ABCDEFGHI", 0, 12, "ABCDEFGHI"),              /* 12 bytes: the loop */
    CSEQ("1234567 SUBSCRIBE", 0, 1234567, "SUBSCRIBE"),    /* 16-byte load */
    CSEQ("1 ABCDEFGHIJKLMNOP", 0, 1, "ABCDEFGHIJKLMNOP"),
    CSEQ("1 ABCDEFGHIJKLMNOPQ", 0, 1, "ABCDEFGHIJKLMNOPQ"), /* 17: the loop */
    CSEQ("12 IN_VITE", 0, 12, "IN_VITE"),
    CSEQ("12 INVITE!", 0, 12, "INVITE!"),
    CSEQ("1234  INVITE", 0, 1234, "INVITE"),
    CSEQ("1234\tINVITE", 0, 1234, "INVITE"),
    CSEQ("1234 INV ITE", SIP_ECSEQ, 0, NULL),
    CSEQ("1234 INV:ITE", SIP_ECSEQ, 0, NULL),
    CSEQ("1234 INVITE\x7f", SIP_ECSEQ, 0, NULL),
    CSEQ("1234 INV\x80ITE", SIP_ECSEQ, 0, NULL),
    CSEQ("1234 INVITE/", SIP_ECSEQ, 0, NULL),
    CSEQ("1234567 SUBSCRIB/", SIP_ECSEQ, 0, NULL),
    CSEQ("12a INVITE", SIP_ECSEQ, 0, NULL),
    CSEQ("12345678 INVITE", 0, 12345678, "INVITE"),
};
/* clang-format on */

static void test_sip_cseq_parse_reads_number_and_method(void **state)
{
    (void)state;
    struct guard g = {0};
    int bad = 0;
    for (size_t i = 0; i < sizeof(cseq_cases) / sizeof(cseq_cases[0]); i++) {
        const struct cseq_case *c = &cseq_cases[i];
        uint32_t num = 0xdeadbeef;
        struct span method = SPAN_NULL;
        struct span in = guarded(&g, c->in, c->len);
        int r = sip_cseq_parse(in, &num, &method);
        bool pass = r == c->want;
        if (pass && c->want == 0) {
            size_t mlen = strlen(c->method);
            pass = num == c->num && method.len == mlen && method.p == in.p + in.len - mlen &&
                   memcmp(method.p, c->method, mlen) == 0;
        }
        if (!pass) {
            print_error("sip_cseq_parse(\"%s\") = %d (%s), num %u, method \"%.*s\"\n", c->in, r,
                        sip_err_name(r), num, (int)method.len, method.p ? method.p : "");
            bad++;
        }
    }
    guard_release(&g);
    if (bad > 0)
        fail_msg("%d sip_cseq_parse cases failed", bad);
}

static const struct {
    const char *name;
    enum sip_hid id;
} hnames[] = {
    {"Via", SIP_H_VIA},
    {"v", SIP_H_VIA},
    {"Call-ID", SIP_H_CALL_ID},
    {"i", SIP_H_CALL_ID},
    {"From", SIP_H_FROM},
    {"f", SIP_H_FROM},
    {"To", SIP_H_TO},
    {"t", SIP_H_TO},
    {"CSeq", SIP_H_CSEQ},
    {"Max-Forwards", SIP_H_MAX_FORWARDS},
    {"Route", SIP_H_ROUTE},
    {"Record-Route", SIP_H_RECORD_ROUTE},
    {"Path", SIP_H_PATH},
    {"Contact", SIP_H_CONTACT},
    {"m", SIP_H_CONTACT},
    {"Content-Length", SIP_H_CONTENT_LENGTH},
    {"l", SIP_H_CONTENT_LENGTH},
    {"Content-Type", SIP_H_CONTENT_TYPE},
    {"c", SIP_H_CONTENT_TYPE},
    {"Supported", SIP_H_SUPPORTED},
    {"k", SIP_H_SUPPORTED},
    {"Require", SIP_H_REQUIRE},
    {"Proxy-Require", SIP_H_PROXY_REQUIRE},
    {"Expires", SIP_H_EXPIRES},
    {"User-Agent", SIP_H_USER_AGENT},
    {"Subject", SIP_H_SUBJECT},
    {"s", SIP_H_SUBJECT},
    {"Content-Encoding", SIP_H_CONTENT_ENCODING},
    {"e", SIP_H_CONTENT_ENCODING},
    {"Event", SIP_H_EVENT},
    {"o", SIP_H_EVENT},
    {"Refer-To", SIP_H_REFER_TO},
    {"r", SIP_H_REFER_TO},
    {"Allow-Events", SIP_H_ALLOW_EVENTS},
    {"u", SIP_H_ALLOW_EVENTS},
};
#define NHNAMES (sizeof(hnames) / sizeof(hnames[0]))

/* Four spellings of name: as listed, lower case, upper case and alternating
 * case; returns how many were written. */
static int spellings(const char *name, char out[4][64])
{
    size_t n = strlen(name);
    assert_true(n < 64);
    for (size_t i = 0; i <= n; i++) {
        char c = name[i];
        char lo = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        char up = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
        out[0][i] = c;
        out[1][i] = lo;
        out[2][i] = up;
        out[3][i] = i % 2 ? lo : up;
    }
    return 4;
}

static void test_sip_hname_id_maps_every_name_in_any_case(void **state)
{
    (void)state;
    struct guard g = {0};
    char sp[4][64];
    int bad = 0;
    for (size_t i = 0; i < NHNAMES; i++) {
        int ns = spellings(hnames[i].name, sp);
        for (int k = 0; k < ns; k++) {
            enum sip_hid got = sip_hname_id(guarded(&g, sp[k], strlen(sp[k])));
            if (got != hnames[i].id) {
                print_error("sip_hname_id(\"%s\") = %d, want %d\n", sp[k], got, hnames[i].id);
                bad++;
            }
        }
    }
    guard_release(&g);
    if (bad > 0)
        fail_msg("%d header names mapped wrongly", bad);
}

static void test_sip_hname_id_gives_other_for_near_misses(void **state)
{
    (void)state;
    static const char *const other[] = {
        "x",           "a",        "b",
        "j",           "n",        "y",
        "Vi",          "Vias",     "Via-",
        "Call-I",      "Call-IDs", "Call_ID",
        "Call.ID",     "CallID",   "Max_Forwards",
        "Max-Forward", "CSeq1",    "Cseqq",
        "Route-",      "Contacts", "Content-Lengt",
        "C%6Fntact",   "Tox",      "Fromm",
        "Accept",      "Allow",    "Authorization",
        "Date",        "Identity", "Session-Expires",
        "Refer-Toe",   "Event-",   "Pathh",
        "Requires",    "X-Via",    "Via~",
    };
    struct guard g = {0};
    int bad = 0;
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        enum sip_hid got = sip_hname_id(guarded(&g, other[i], strlen(other[i])));
        if (got != SIP_H_OTHER) {
            print_error("sip_hname_id(\"%s\") = %d, want SIP_H_OTHER\n", other[i], got);
            bad++;
        }
    }
    guard_release(&g);
    if (bad > 0)
        fail_msg("%d unknown names mapped to a known id", bad);
}

static void test_sip_hname_canonical_round_trips_every_id(void **state)
{
    (void)state;
    struct span s = sip_hname_canonical(SIP_H_OTHER);
    assert_int_equal(s.len, 0);
    for (int id = SIP_H_OTHER + 1; id < SIP_H__COUNT; id++) {
        s = sip_hname_canonical((enum sip_hid)id);
        assert_true(s.len > 1); /* the long form, never the compact one */
        assert_int_equal(sip_hname_id(s), id);
        /* and it is the long name of our table, spelled as the RFC does */
        bool found = false;
        for (size_t i = 0; i < NHNAMES; i++)
            if ((int)hnames[i].id == id && strlen(hnames[i].name) > 1)
                found = found || (s.len == strlen(hnames[i].name) &&
                                  memcmp(s.p, hnames[i].name, s.len) == 0);
        if (!found)
            fail_msg("canonical name of id %d is \"%.*s\"", id, (int)s.len, s.p);
    }
}

static void test_sip_method_id_is_case_sensitive(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum sip_method id;
    } t[] = {
        {"INVITE", SIP_M_INVITE},   {"ACK", SIP_M_ACK},           {"BYE", SIP_M_BYE},
        {"CANCEL", SIP_M_CANCEL},   {"REGISTER", SIP_M_REGISTER}, {"OPTIONS", SIP_M_OPTIONS},
        {"INFO", SIP_M_INFO},       {"PRACK", SIP_M_PRACK},       {"SUBSCRIBE", SIP_M_SUBSCRIBE},
        {"NOTIFY", SIP_M_NOTIFY},   {"UPDATE", SIP_M_UPDATE},     {"MESSAGE", SIP_M_MESSAGE},
        {"REFER", SIP_M_REFER},     {"PUBLISH", SIP_M_PUBLISH},   {"invite", SIP_M_OTHER},
        {"Invite", SIP_M_OTHER},    {"INVITEX", SIP_M_OTHER},     {"INVIT", SIP_M_OTHER},
        {"ACKS", SIP_M_OTHER},      {"AC", SIP_M_OTHER},          {"RE%47IST%45R", SIP_M_OTHER},
        {"NEWMETHOD", SIP_M_OTHER}, {"register", SIP_M_OTHER},    {"X", SIP_M_OTHER},
    };
    struct guard g = {0};
    int bad = 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        enum sip_method got = sip_method_id(guarded(&g, t[i].name, strlen(t[i].name)));
        if (got != t[i].id) {
            print_error("sip_method_id(\"%s\") = %d, want %d\n", t[i].name, got, t[i].id);
            bad++;
        }
    }
    guard_release(&g);
    if (bad > 0)
        fail_msg("%d methods mapped wrongly", bad);
}

static void test_sip_branch_is_rfc3261_needs_the_cookie_and_more(void **state)
{
    (void)state;
    static const struct {
        const char *branch;
        bool want;
    } t[] = {
        {"z9hG4bK776asdhds", true}, {"z9hG4bKx", true},        {"z9hG4bK", false},
        {"390skdjuw", false},       {"z9hG4b", false},         {"", false},
        {"xz9hG4bK1", false},       {"z9hG4bK-sl-0a1b", true},
    };
    struct guard g = {0};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        bool got = sip_branch_is_rfc3261(guarded(&g, t[i].branch, strlen(t[i].branch)));
        if (got != t[i].want)
            fail_msg("sip_branch_is_rfc3261(\"%s\") = %d", t[i].branch, got);
    }
    guard_release(&g);
}

static void test_sip_err_names_ids_and_texts_are_distinct_for_every_code(void **state)
{
    (void)state;
    static const struct {
        int val;
        const char *name, *id, *text;
    } t[] = {
#define X(name, val, id, text) {val, #name, id, text},
        SIP_ERRORS(X)
#undef X
    };
    assert_int_equal(sizeof(t) / sizeof(t[0]), SIP_NERR);
    for (int i = 0; i < SIP_NERR; i++) {
        int e = -1 - i;
        assert_int_equal(t[i].val, e);
        const char *name = sip_err_name(e), *id = sip_err_id(e), *text = sip_err_text(e);
        assert_non_null(name);
        assert_non_null(id);
        assert_non_null(text);
        assert_string_equal(name, t[i].name);
        assert_string_equal(id, t[i].id);
        assert_string_equal(text, t[i].text);
        assert_true(id[0] != '\0' && text[0] != '\0');
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(name, sip_err_name(-1 - j));
            assert_string_not_equal(id, sip_err_id(-1 - j));
            assert_string_not_equal(text, sip_err_text(-1 - j));
        }
    }
    assert_string_equal(sip_err_name(0), "SIP_OK");
    assert_string_equal(sip_err_id(0), "ok");
    assert_string_equal(sip_err_name(-SIP_NERR - 1), "SIP_EUNKNOWN");
    assert_string_equal(sip_err_name(1), "SIP_EUNKNOWN");
    assert_string_equal(sip_err_name(INT_MIN), "SIP_EUNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sip_maxfwd_parse_takes_0_to_255_with_leading_zeros),
        cmocka_unit_test(test_sip_clen_parse_takes_digits_below_2_pow_31),
        cmocka_unit_test(test_sip_cseq_parse_reads_number_and_method),
        cmocka_unit_test(test_sip_hname_id_maps_every_name_in_any_case),
        cmocka_unit_test(test_sip_hname_id_gives_other_for_near_misses),
        cmocka_unit_test(test_sip_hname_canonical_round_trips_every_id),
        cmocka_unit_test(test_sip_method_id_is_case_sensitive),
        cmocka_unit_test(test_sip_branch_is_rfc3261_needs_the_cookie_and_more),
        cmocka_unit_test(test_sip_err_names_ids_and_texts_are_distinct_for_every_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
