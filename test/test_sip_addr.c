/*
 * test_sip_addr.c - sip_nameaddr_parse(), sip_list_next(), sip_param_next().
 *
 * Tables of one-line cases. Every input is copied with guard_copy(), so its
 * last byte sits just before a PROT_NONE page and a read past the end of the
 * span faults at once. Every input, valid or not, is also run at each of its
 * truncated prefixes: the result must be one of the codes sip.h lists for the
 * function, and every span it yields must lie inside the prefix. Outputs are
 * filled with a garbage pattern before each call, so a field the parser
 * forgets to set shows up instead of passing by luck.
 *
 * List and parameter results are written out as one string per case
 * ("[a][][b]" for list items, "a=1;b" for params, a bare name printed without
 * '='), so a case stays one line and a mismatch prints both sides.
 *
 * Grammar: RFC 3261 §7.3.1, §20.10, §25.1 (name-addr, addr-spec,
 * display-name, quoted-string and quoted-pair, generic-param, LWS/SWS around
 * ';' '=' ','); RFC 4475 wsinv, intmeth, lwsdisp, esc02, unksm2, cparam01,
 * regescrt, semiuri, quotbal, badaspec, baddn, badinv01.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "parser/sip.h"
#include "test/guard.h"
#include "test/sip_check.h"

/* ---- list and param runners: results as one string ---- */

struct out {
    char s[512];
    size_t len;
    bool overflow;
};

static void out_put(struct out *o, const char *p, size_t len)
{
    if (o->len + len >= sizeof o->s) {
        o->overflow = true;
        return;
    }
    memcpy(o->s + o->len, p, len);
    o->len += len;
    o->s[o->len] = '\0';
}

/*
 * Runs sip_list_next over buf[0..n) until it stops; writes each item as
 * "[item]". Returns the final code (0 or negative), or 2 if a result broke
 * the contract (code outside {1, 0, SIP_EQUOTE}, item outside the input,
 * or no progress after 64 items).
 */
static int list_run(const char *buf, size_t n, struct out *o)
{
    struct span list = span_make(buf, n), item;
    int ret = 0;

    *o = (struct out){0};
    for (int i = 0; i < 64; i++) {
        memset(&item, 0xa5, sizeof item);
        ret = sip_list_next(&list, &item);
        if (ret != 1)
            return ret == 0 || ret == SIP_EQUOTE ? ret : 2;
        if (!tc_inside(item, buf, n) || !tc_inside(list, buf, n))
            return 2;
        out_put(o, "[", 1);
        out_put(o, item.p, item.len);
        out_put(o, "]", 1);
    }
    return 2;
}

/* Same for sip_param_next: "name=value;name;...". Codes 0, SIP_EQUOTE, SIP_ENAMEADDR. */
static int param_run(const char *buf, size_t n, struct out *o)
{
    struct span params = span_make(buf, n), name, value;
    int ret = 0;

    *o = (struct out){0};
    for (int i = 0; i < 64; i++) {
        memset(&name, 0xa5, sizeof name);
        memset(&value, 0xa5, sizeof value);
        ret = sip_param_next(&params, &name, &value);
        if (ret != 1)
            return ret;
        if (!tc_inside(name, buf, n) || !tc_inside(value, buf, n) || !tc_inside(params, buf, n) ||
            name.len == 0)
            return 2;
        if (i > 0)
            out_put(o, ";", 1);
        out_put(o, name.p, name.len);
        if (value.p != NULL) {
            out_put(o, "=", 1);
            out_put(o, value.p, value.len);
        }
    }
    return 2;
}

/* ---- name-addr ---- */

static bool na_sane(const struct sip_nameaddr *na, const char *buf, size_t n)
{
    return tc_inside(na->display, buf, n) && tc_inside(na->uri, buf, n) &&
           tc_inside(na->params, buf, n) && tc_inside(na->tag, buf, n) && na->uri.len > 0;
}

static int na_run(struct guard *g, const char *in, size_t len, struct sip_nameaddr *na)
{
    const char *buf = guard_copy(g, in, len);

    memset(na, 0xa5, sizeof *na);
    int ret = sip_nameaddr_parse(span_make(buf, len), na);
    if (ret == 0 && !na_sane(na, buf, len))
        return 1; /* neither 0 nor an error code: the caller reports it */
    return ret;
}

#define WSINV_FROM                                                                                 \
    "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8"
#define WSINV_TO "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n"
#define WSINV_M                                                                                    \
    "\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n"    \
    "  secondparam ; q = 0.33"
#define INTMETH_URI "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com"
#define INTMETH_TO "\"BEL:\\\x07 NUL:\\\0 DEL:\\\x7f\" <" INTMETH_URI ">"
#define RUSSIAN "\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd1\x8e\xd1\x89\xd0\xb8\xd0\xb9"
#define INTMETH_FROM                                                                               \
    "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"" RUSSIAN      \
    "\";tag=_token~1'+`*%!-."
#define ROUTE "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>"

struct na_case {
    const char *desc;
    const char *in;
    size_t len;
    struct want display, uri, tag;
    bool bracketed;
};

/* clang-format off */
static const struct na_case na_cases[] = {
    {"RFC 3261 From", IN("Alice <sip:alice@atlanta.com>;tag=1928301774"), W("Alice"),
     W("sip:alice@atlanta.com"), W("1928301774"), true},
    {"quoted display name", IN("\"Alice\" <sip:alice@atlanta.com>"), W("Alice"),
     W("sip:alice@atlanta.com"), ABSENT, true},
    {"no display name", IN("<sip:alice@atlanta.com>"), NOLEN, W("sip:alice@atlanta.com"), ABSENT,
     true},
    /* the "<" URI ">" fast path (18+ bytes) at its edges */
    {"fast: 18 bytes", IN("<sip:abc@h.ex.com>"), NOLEN, W("sip:abc@h.ex.com"), ABSENT, true},
    {"fast: 17 bytes, general path", IN("<sip:ab@h.ex.com>"), NOLEN, W("sip:ab@h.ex.com"), ABSENT,
     true},
    {"fast: 34 bytes", IN("<sip:abcdefgh@h.example.com;lr=on>"), NOLEN,
     W("sip:abcdefgh@h.example.com;lr=on"), ABSENT, true},
    {"fast: 35 bytes", IN("<sip:abcdefghi@h.example.com;lr=on>"), NOLEN,
     W("sip:abcdefghi@h.example.com;lr=on"), ABSENT, true},
    {"fast: scheme of 2 letters", IN("<im:alice@example.com.x>"), NOLEN,
     W("im:alice@example.com.x"), ABSENT, true},
    {"fast: scheme of 5 letters", IN("<sipsx:alice@example.com>"), NOLEN,
     W("sipsx:alice@example.com"), ABSENT, true},
    {"fast: params after '>'", IN("<sip:alice@atlanta.example.com>;tag=1"), NOLEN,
     W("sip:alice@atlanta.example.com"), W("1"), true},
    {"fast: escaped control byte inside", IN("<sip:al\\\x01ice@atlanta.example.com>"), NOLEN,
     W("sip:al\\\x01ice@atlanta.example.com"), ABSENT, true},
    {"empty quoted display name", IN("\"\" <sip:a@h.example.com>"), W(""),
     W("sip:a@h.example.com"), ABSENT, true},
    {"addr-spec: ';' starts header params", IN("sip:user@example.com;tag=1"), NOLEN,
     W("sip:user@example.com"), W("1"), false},
    {"addr-spec without params", IN("sip:user@example.com"), NOLEN, W("sip:user@example.com"),
     ABSENT, false},
    {"lwsdisp: no LWS before '<'", IN("caller<sip:caller@example.com>;tag=323"), W("caller"),
     W("sip:caller@example.com"), W("323"), true},
    {"quoted display, no LWS before '<'", IN("\"Bob\"<sip:bob@biloxi.com>"), W("Bob"),
     W("sip:bob@biloxi.com"), ABSENT, true},
    {"intmeth From: three tokens as display name", IN(INTMETH_FROM),
     W("token1~` token2'+_ token3*%!.-"), W("sip:mundane@example.com"), W("_token~1'+`*%!-."),
     true},
    {"intmeth To: BEL, NUL and DEL as quoted-pairs", IN(INTMETH_TO),
     W("BEL:\\\x07 NUL:\\\0 DEL:\\\x7f"), W(INTMETH_URI), ABSENT, true},
    {"wsinv From: escaped backslash and quote, folds around ';'", IN(WSINV_FROM),
     W("J Rosenberg \\\\\\\""), W("sip:jdrosen@example.com"), W("98asjd8"), true},
    {"wsinv To: LWS before ';' and around '='", IN(WSINV_TO), NOLEN,
     W("sip:vivekg@chair-dnrc.example.com"), W("1918181833n"), false},
    {"wsinv Contact: escaped quotes", IN(WSINV_M), W("Quoted string \\\"\\\""),
     W("sip:jdrosen@example.com"), ABSENT, true},
    {"',' inside quotes", IN("\"Bell, Alexander\" <sip:a.g.bell@example.com>;tag=433423"),
     W("Bell, Alexander"), W("sip:a.g.bell@example.com"), W("433423"), true},
    {"'<' and '>' inside quotes", IN("\"<sip:evil@h>\" <sip:good@h.example.com>"),
     W("<sip:evil@h>"), W("sip:good@h.example.com"), ABSENT, true},
    {"escaped backslash just before the closing quote", IN("\"a\\\\\" <sip:x@h.example.com>"),
     W("a\\\\"), W("sip:x@h.example.com"), ABSENT, true},
    {"UTF-8 in a quoted display name", IN("\"\xc3\x91" "and\xc3\xba\" <sip:x@h.example.com>"),
     W("\xc3\x91" "and\xc3\xba"), W("sip:x@h.example.com"), ABSENT, true},
    {"esc02: '%' in a display name is literal", IN("\"%Z%45\" <sip:resource@example.com>;tag=f2"),
     W("%Z%45"), W("sip:resource@example.com"), W("f2"), true},
    {"folded LWS between display tokens kept", IN("Alice\r\n Smith <sip:a@h.example.com>"),
     W("Alice\r\n Smith"), W("sip:a@h.example.com"), ABSENT, true},
    {"URI params stay inside <>", IN(ROUTE), NOLEN,
     W("sip:services.example.com;lr;unknownwith=value;unknown-no-value"), ABSENT, true},
    {"a tag inside <> is not the tag", IN("<sip:a@h.example.com;tag=no>"), NOLEN,
     W("sip:a@h.example.com;tag=no"), ABSENT, true},
    {"the tag after <> is", IN("<sip:a@h.example.com;tag=no>;tag=yes"), NOLEN,
     W("sip:a@h.example.com;tag=no"), W("yes"), true},
    {"TAG: param names are case-insensitive", IN("<sip:a@h.example.com>;TAG=abc"), NOLEN,
     W("sip:a@h.example.com"), W("abc"), true},
    {"a quoted param value hides \";tag=\"",
     IN("<sip:a@h.example.com>;x=\"a;tag=evil\";tag=good"), NOLEN, W("sip:a@h.example.com"),
     W("good"), true},
    {"tag after other params", IN("<sip:a@h.example.com>;x=1;y;tag=t1"), NOLEN,
     W("sip:a@h.example.com"), W("t1"), true},
    {"a param named 'tagx' is not tag", IN("<sip:a@h.example.com>;tagx=1"), NOLEN,
     W("sip:a@h.example.com"), ABSENT, true},
    {"unksm2 To: non-SIP addr-spec", IN("isbn:2983792873"), NOLEN, W("isbn:2983792873"), ABSENT,
     false},
    {"unksm2 From: http URI in <>", IN("<http://www.example.com>;tag=3234233"), NOLEN,
     W("http://www.example.com"), W("3234233"), true},
    {"unksm2 Contact: name URI in <>", IN("<name:John_Smith>"), NOLEN, W("name:John_Smith"),
     ABSENT, true},
    {"regescrt: URI headers inside <>",
     IN("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>"), NOLEN,
     W("sip:user@example.com?Route=%3Csip:sip.example.com%3E"), ABSENT, true},
    {"cparam01: addr-spec param is a header param",
     IN("sip:+19725552222@gw1.example.net;unknownparam"), NOLEN,
     W("sip:+19725552222@gw1.example.net"), ABSENT, false},
    {"IPv6 reference in <>", IN("\"Caller\" <sip:caller@[2001:db8::1]>"), W("Caller"),
     W("sip:caller@[2001:db8::1]"), ABSENT, true},
    /* the bench's shapes and their neighbours, 16+ bytes (vector paths) */
    {"escaped quotes in a display name, tag",
     IN("\"a \\\"b\\\" c\" <sip:alice@atlanta.example.com>;tag=9fxced76sl"),
     W("a \\\"b\\\" c"), W("sip:alice@atlanta.example.com"), W("9fxced76sl"), true},
    {"TAG after a long URI", IN("<sip:ss2.biloxi.example.com;lr>;TAG=Ab-9"), NOLEN,
     W("sip:ss2.biloxi.example.com;lr"), W("Ab-9"), true},
    {"sips scheme: ':' is not the 4th byte", IN("<sips:bob@biloxi.example.com>;tag=x"), NOLEN,
     W("sips:bob@biloxi.example.com"), W("x"), true},
    {"bare tag", IN("Bob <sip:bob@biloxi.example.com>;tag"), W("Bob"),
     W("sip:bob@biloxi.example.com"), NOLEN, true},
    {"LWS after the tag's ';'", IN("<sip:bob@biloxi.example.com>; tag=a1"), NOLEN,
     W("sip:bob@biloxi.example.com"), W("a1"), true},
};
/* clang-format on */

/* Header params of a name-addr, walked with sip_param_next. */
struct na_param_case {
    const char *desc;
    const char *in;
    size_t len;
    const char *params;
};

/* clang-format off */
static const struct na_param_case na_param_cases[] = {
    {"RFC 3261 From", IN("Alice <sip:alice@atlanta.com>;tag=1928301774"), "tag=1928301774"},
    {"wsinv From: params after folds", IN(WSINV_FROM), "tag=98asjd8"},
    {"wsinv To: LWS around '='", IN(WSINV_TO), "tag=1918181833n"},
    {"wsinv Contact: values after folds, a bare name",
     IN(WSINV_M), "newparam=newvalue;secondparam;q=0.33"},
    {"intmeth From: quoted UTF-8 value",
     IN(INTMETH_FROM), "fromParam''~+*_!.-%=\"" RUSSIAN "\";tag=_token~1'+`*%!-."},
    {"no params", IN("<sip:a@h.example.com>"), ""},
    {"addr-spec: URI-looking params are header params", IN("sip:a@h.example.com;lr;tag=1"),
     "lr;tag=1"},
};
/* clang-format on */

#define ERR_ANY 1 /* SIP_ENAMEADDR or SIP_EQUOTE */

struct na_bad_case {
    const char *desc;
    const char *in;
    size_t len;
    int err;
};

/* clang-format off */
static const struct na_bad_case na_bad_cases[] = {
    {"quotbal: unterminated quote", IN("\"Mr. J. User <sip:j.user@example.com>"), SIP_EQUOTE},
    {"unterminated quote ending in a backslash", IN("\"abc\\"), SIP_EQUOTE},
    {"a lone quote", IN("\""), SIP_EQUOTE},
    {"unterminated quote in a param value", IN("<sip:a@h.example.com>;x=\"abc"), SIP_EQUOTE},
    {"badaspec: LWS inside <>", IN("\"Watson, Thomas\" < sip:t.watson@example.org >"),
     SIP_ENAMEADDR},
    {"LWS after '<'", IN("< sip:a@h.example.com>"), SIP_ENAMEADDR},
    {"fast: second '>'", IN("<sip:a@h.example.com>>"), SIP_ENAMEADDR},
    {"fast: '<' inside", IN("<sip:a@h.exam<ple.com>"), SIP_ENAMEADDR},
    {"fast: '\"' inside", IN("<sip:a@h.exam\"ple.com>"), SIP_ENAMEADDR},
    {"fast: tab inside", IN("<sip:a@h.exam\tple.com>"), SIP_ENAMEADDR},
    {"fast: no scheme", IN("<noscheme.example.com>"), SIP_ENAMEADDR},
    {"LWS before '>'", IN("<sip:a@h.example.com >"), SIP_ENAMEADDR},
    {"baddn: ',' in a token display name", IN("Bell, Alexander <sip:a.g.bell@example.com>;tag=43"),
     SIP_ENAMEADDR},
    {"baddn To", IN("Watson, Thomas <sip:t.watson@example.org>"), SIP_ENAMEADDR},
    {"'@' in a token display name", IN("a@b <sip:x@h.example.com>"), SIP_ENAMEADDR},
    {"missing '>'", IN("<sip:a@h.example.com"), SIP_ENAMEADDR},
    {"missing '>' with display and params", IN("Alice <sip:alice@atlanta.com;tag=1"),
     SIP_ENAMEADDR},
    {"empty value", IN(""), SIP_ENAMEADDR},
    {"LWS only", IN("   "), SIP_ENAMEADDR},
    {"empty <>", IN("<>"), SIP_ENAMEADDR},
    {"<> holding no URI", IN("<alice>"), SIP_ENAMEADDR},
    {"display name only", IN("Alice"), SIP_ENAMEADDR},
    {"quoted display name only", IN("\"Alice\""), SIP_ENAMEADDR},
    {"quoted display name without <>", IN("\"Alice\" sip:alice@atlanta.com"), SIP_ENAMEADDR},
    {"badinv01: empty params ';;;;'", IN("\"Joe\" <sip:joe@example.org>;;;;"), SIP_ENAMEADDR},
    {"empty param after tag", IN("<sip:a@h.example.com>;tag=1;;x"), SIP_ENAMEADDR},
    {"trailing ';'", IN("<sip:a@h.example.com>;"), SIP_ENAMEADDR},
    {"trailing ';' and LWS", IN("<sip:a@h.example.com>; "), SIP_ENAMEADDR},
    {"trailing ';' after a param", IN("<sip:a@h.example.com>;tag=1;"), SIP_ENAMEADDR},
    {"param with no name", IN("<sip:a@h.example.com>;=1"), SIP_ENAMEADDR},
    {"junk after '>'", IN("<sip:a@h.example.com> junk"), SIP_ENAMEADDR},
    {"two URIs", IN("<sip:a@h.example.com><sip:b@h.example.com>"), SIP_ENAMEADDR},
    {"nested '<'", IN("<<sip:a@h.example.com>>"), SIP_ENAMEADDR},
    {"'>' with no '<'", IN("sip:a@h.example.com>"), SIP_ENAMEADDR},
    {"addr-spec with LWS inside", IN("sip:a@h.example.com junk"), SIP_ENAMEADDR},
    {"raw NUL in a token display name", IN("Al\0ice <sip:a@h.example.com>"), SIP_ENAMEADDR},
};
/* clang-format on */

/* Raw control bytes are not qdtext (RFC 3261 §25.1): only a quoted-pair may carry them. */
/* clang-format off */
static const struct na_bad_case na_ctl_cases[] = {
    {"raw NUL inside a quoted display name", IN("\"Al\0ice\" <sip:a@h.example.com>"), ERR_ANY},
    {"raw BEL inside a quoted display name", IN("\"Al\x07ice\" <sip:a@h.example.com>"), ERR_ANY},
    {"bare CR inside a quoted display name", IN("\"a\rb\" <sip:a@h.example.com>"), ERR_ANY},
    {"CRLF not followed by WSP before params", IN("<sip:a@h.example.com>\r\n;tag=1"), ERR_ANY},
};
/* clang-format on */

static void test_sip_nameaddr_reads_display_uri_and_tag(void **state)
{
    struct guard g = {0};
    struct sip_nameaddr na;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(na_cases); i++) {
        const struct na_case *c = &na_cases[i];
        int ret = na_run(&g, c->in, c->len, &na);
        if (ret != 0) {
            print_error("%s: returns %d (%s), want 0\n", c->desc, ret, sip_err_name(ret));
            bad++;
            continue;
        }
        bad += !tc_same(c->desc, "display", na.display, c->display);
        bad += !tc_same(c->desc, "uri", na.uri, c->uri);
        bad += !tc_same(c->desc, "tag", na.tag, c->tag);
        if (na.bracketed != c->bracketed) {
            print_error("%s: bracketed is %d, want %d\n", c->desc, na.bracketed, c->bracketed);
            bad++;
        }
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

static void test_sip_nameaddr_params_walk_with_sip_param_next(void **state)
{
    struct guard g = {0};
    struct sip_nameaddr na;
    struct out o;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(na_param_cases); i++) {
        const struct na_param_case *c = &na_param_cases[i];
        int ret = na_run(&g, c->in, c->len, &na);

        o = (struct out){0};
        /* absent params are test_sip_addr_functions_accept_an_absent_span's subject */
        if (ret == 0 && na.params.p != NULL)
            ret = param_run(na.params.p, na.params.len, &o);
        if (ret != 0 || o.overflow || strcmp(o.s, c->params) != 0) {
            print_error("%s: params give %s / %d, want %s / 0\n", c->desc, o.s, ret, c->params);
            bad++;
        }
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

static int na_expect(struct guard *g, const struct na_bad_case *cases, size_t n)
{
    struct sip_nameaddr na;
    int bad = 0;

    for (size_t i = 0; i < n; i++) {
        const struct na_bad_case *c = &cases[i];
        int ret = na_run(g, c->in, c->len, &na);
        bool ok = c->err == ERR_ANY ? ret == SIP_ENAMEADDR || ret == SIP_EQUOTE : ret == c->err;
        if (!ok) {
            print_error("%s: returns %d (%s), want %s\n", c->desc, ret, sip_err_name(ret),
                        c->err == ERR_ANY ? "an error" : sip_err_name(c->err));
            bad++;
        }
    }
    return bad;
}

static void test_sip_nameaddr_rejects_malformed_values(void **state)
{
    struct guard g = {0};
    int bad = na_expect(&g, na_bad_cases, N_ELEMS(na_bad_cases));

    (void)state;
    guard_release(&g);
    assert_int_equal(bad, 0);
}

static int na_prefixes(struct guard *g, const char *desc, const char *in, size_t len)
{
    struct sip_nameaddr na;
    int bad = 0;

    for (size_t n = 0; n <= len; n++) {
        int ret = na_run(g, in, n, &na);
        if (ret != 0 && ret != SIP_ENAMEADDR && ret != SIP_EQUOTE) {
            print_error("%s: prefix of %zu/%zu bytes gives %d\n", desc, n, len, ret);
            bad++;
        }
    }
    return bad;
}

static void test_sip_nameaddr_survives_every_truncated_prefix(void **state)
{
    struct guard g = {0};
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(na_cases); i++)
        bad += na_prefixes(&g, na_cases[i].desc, na_cases[i].in, na_cases[i].len);
    for (size_t i = 0; i < N_ELEMS(na_bad_cases); i++)
        bad += na_prefixes(&g, na_bad_cases[i].desc, na_bad_cases[i].in, na_bad_cases[i].len);
    for (size_t i = 0; i < N_ELEMS(na_ctl_cases); i++)
        bad += na_prefixes(&g, na_ctl_cases[i].desc, na_ctl_cases[i].in, na_ctl_cases[i].len);
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/* ---- lists and params ---- */

struct walk_case {
    const char *desc;
    const char *in;
    size_t len;
    const char *got; /* items "[a][b]" or params "a=1;b"; NULL: only the final code counts */
    int end;         /* final code */
};

#define WSINV_VIA_1 "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8"
#define WSINV_VIA_2 "SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239"
#define ACCEPT                                                                                     \
    "application/sdp, application/pkcs7-mime,\r\n        multipart/mixed, multipart/signed,\r\n"   \
    "        message/sip, message/sipfrag"

/* clang-format off */
static const struct walk_case list_cases[] = {
    {"two name-addrs", IN("<sip:a>, <sip:b;x=1>"), "[<sip:a>][<sip:b;x=1>]", 0},
    {"one long item, no ',' or '\"'", IN("  <sip:ss2.biloxi.example.com;lr>  "),
     "[<sip:ss2.biloxi.example.com;lr>]", 0},
    {"long items, ',' after 16 bytes", IN("<sip:ss2.biloxi.example.com;lr>,<sip:a@b>"),
     "[<sip:ss2.biloxi.example.com;lr>][<sip:a@b>]", 0},
    {"one item", IN("<sip:a@h.example.com>"), "[<sip:a@h.example.com>]", 0},
    {"fast: 16 bytes", IN("<sip:a@h.ex.com>"), "[<sip:a@h.ex.com>]", 0},
    {"fast: 15 bytes", IN("<sip:a@h.excom>"), "[<sip:a@h.excom>]", 0},
    {"fast: ',' as the last of 33 bytes", IN("<sip:abcdefgh@h.example.com;lr>,"),
     "[<sip:abcdefgh@h.example.com;lr>][]", 0},
    {"fast: '\"' at byte 20 of 32", IN("<sip:abcdefghi@h\"example.com>x"),
     "", SIP_EQUOTE},
    {"fast: LWS at the end", IN("<sip:abcdefghi@h.example.com> "),
     "[<sip:abcdefghi@h.example.com>]", 0},
    {"fast: ',' at byte 16 of 32", IN("<sip:abcdefghij,h.example.com>x"),
     "[<sip:abcdefghij,h.example.com>x]", 0},
    {"',' inside quotes does not split", IN("\"a,b\" <sip:x>"), "[\"a,b\" <sip:x>]", 0},
    {"',' inside <> does not split", IN("<sip:a,b@h>"), "[<sip:a,b@h>]", 0},
    {"escaped quote, then ',' still inside quotes", IN("\"a\\\",b\" <sip:x>, <sip:y>"),
     "[\"a\\\",b\" <sip:x>][<sip:y>]", 0},
    {"'<' inside quotes opens no <>", IN("\"<\" <sip:x>, <sip:y>"), "[\"<\" <sip:x>][<sip:y>]", 0},
    {"empty middle item", IN("a,,b"), "[a][][b]", 0},
    {"empty first item", IN(",a"), "[][a]", 0},
    {"trailing ',' gives a last empty item", IN("a,"), "[a][]", 0},
    {"LWS-only item is empty", IN("a, ,b"), "[a][][b]", 0},
    {"empty value is one empty item", IN(""), "[]", 0},
    {"badinv01 Via", IN("SIP/2.0/UDP 192.0.2.15;;,;,,"), "[SIP/2.0/UDP 192.0.2.15;;][;][][]", 0},
    {"outer LWS trimmed", IN("  <sip:a>  ,   <sip:b>  "), "[<sip:a>][<sip:b>]", 0},
    {"folds around ',' trimmed", IN("<sip:a>\r\n ,\r\n\t<sip:b>"), "[<sip:a>][<sip:b>]", 0},
    {"semiuri Accept: folded list", IN(ACCEPT),
     "[application/sdp][application/pkcs7-mime][multipart/mixed][multipart/signed]"
     "[message/sip][message/sipfrag]", 0},
    {"wsinv Via: two folded elements", IN(WSINV_VIA_1 "  ,\r\n " WSINV_VIA_2),
     "[" WSINV_VIA_1 "][" WSINV_VIA_2 "]", 0},
    {"unterminated quote", IN("\"a, <sip:x>"), "", SIP_EQUOTE},
    {"unterminated quote in the second item", IN("<sip:a>, \"b"), "[<sip:a>]", SIP_EQUOTE},
    {"quote ending in a backslash", IN("\"a\\"), "", SIP_EQUOTE},
};

static const struct walk_case param_cases[] = {
    {"one param", IN("tag=1928301774"), "tag=1928301774", 0},
    {"bare name: value absent", IN("lr"), "lr", 0},
    {"names, values and a bare name", IN("a=1;b;c=2"), "a=1;b;c=2", 0},
    {"quoted value kept with its quotes, ';' inside", IN("c=\"x;y\";d=1"), "c=\"x;y\";d=1", 0},
    {"quoted value with an escaped quote", IN("a=\"x\\\"y;z\";b"), "a=\"x\\\"y;z\";b", 0},
    {"empty quoted value", IN("a=\"\";b"), "a=\"\";b", 0},
    {"LWS around ';' and '='", IN(" a = 1 ; b ;\tc\t=\t2"), "a=1;b;c=2", 0},
    {"folds around ';' and '='", IN("\r\n  tag = 98asjd8"), "tag=98asjd8", 0},
    {"wsinv Contact params", IN(" newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33"),
     "newparam=newvalue;secondparam;q=0.33", 0},
    {"token value with unusual bytes", IN("tag=_token~1'+`*%!-."), "tag=_token~1'+`*%!-.", 0},
    {"IPv6 reference as a value", IN("received=[2001:db8::9:255]"),
     "received=[2001:db8::9:255]", 0},
    {"empty", IN(""), "", 0},
    /* 16+ bytes take the vector path */
    {"upper-case names", IN("BRANCH=z9hG4bK-sl-7c1e2f44a9b0;RPORT;Received=192.0.2.1"),
     "BRANCH=z9hG4bK-sl-7c1e2f44a9b0;RPORT;Received=192.0.2.1", 0},
    {"value of 33+ bytes", IN("branch=z9hG4bK0123456789abcdef0123456789abcdef;x"),
     "branch=z9hG4bK0123456789abcdef0123456789abcdef;x", 0},
    {"value with '_' and ':' inside", IN("received=2001:db8::1;tag=a_b_c_d_e"),
     "received=2001:db8::1;tag=a_b_c_d_e", 0},
    {"name with '+' (general path)", IN("+sip.instance=\"<urn:x>\";expires=3600"),
     "+sip.instance=\"<urn:x>\";expires=3600", 0},
    {"LWS after a ';' (general path)", IN("transport=udp; lr;\tmaddr=192.0.2.1"),
     "transport=udp;lr;maddr=192.0.2.1", 0},
    {"'=' after a value", IN("expires=3600=1;q=0.7"), "", SIP_ENAMEADDR},
    {"trailing ';' after a long value", IN("branch=z9hG4bK-sl-7c1e2f44a9b0;"), NULL,
     SIP_ENAMEADDR},
    {"empty name first", IN(";a"), "", SIP_ENAMEADDR},
    {"empty name in the middle", IN("a;;b"), "a", SIP_ENAMEADDR},
    {"badinv01 Contact params", IN(";;;"), "", SIP_ENAMEADDR},
    {"trailing ';' is an empty name (a=1 may come first or not)", IN("a=1;"), NULL, SIP_ENAMEADDR},
    {"'=' with no name", IN("=1"), "", SIP_ENAMEADDR},
    {"non-token name", IN("a@b=1"), "", SIP_ENAMEADDR},
    {"quoted name", IN("\"a\"=1"), "", SIP_ENAMEADDR},
    {"unterminated quoted value", IN("a=\"xyz"), "", SIP_EQUOTE},
    {"unterminated quoted value after good params", IN("a=1;b=\"x;c"), "a=1", SIP_EQUOTE},
};
/* clang-format on */

static void test_sip_list_next_splits_on_top_level_commas(void **state)
{
    struct guard g = {0};
    struct out o;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(list_cases); i++) {
        const struct walk_case *c = &list_cases[i];
        int ret = list_run(guard_copy(&g, c->in, c->len), c->len, &o);
        if (ret != c->end || o.overflow || strcmp(o.s, c->got) != 0) {
            print_error("%s: items %s / %d, want %s / %d\n", c->desc, o.s, ret, c->got, c->end);
            bad++;
        }
    }
    /* A used-up list stays used up. */
    struct span list = SPAN_NULL, item;
    if (sip_list_next(&list, &item) != 0) {
        print_error("SPAN_NULL list: does not return 0\n");
        bad++;
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

static void test_sip_param_next_reads_names_and_values(void **state)
{
    struct guard g = {0};
    struct out o;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(param_cases); i++) {
        const struct walk_case *c = &param_cases[i];
        int ret = param_run(guard_copy(&g, c->in, c->len), c->len, &o);
        if (ret != c->end || o.overflow || (c->got != NULL && strcmp(o.s, c->got) != 0)) {
            print_error("%s: params %s / %d (%s), want %s / %d (%s)\n", c->desc, o.s, ret,
                        sip_err_name(ret), c->got != NULL ? c->got : "(any)", c->end,
                        sip_err_name(c->end));
            bad++;
        }
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/* Bare names have value.p == NULL; "a=" style empty values are not bare names. */
static void test_sip_param_next_leaves_bare_names_without_value(void **state)
{
    static const char in[] = "lr;x=1";
    struct guard g = {0};
    struct span params, name, value;

    (void)state;
    params = span_make(guard_copy(&g, in, sizeof in - 1), sizeof in - 1);
    memset(&value, 0xa5, sizeof value);
    assert_int_equal(sip_param_next(&params, &name, &value), 1);
    assert_true(name.len == 2 && memcmp(name.p, "lr", 2) == 0);
    assert_null(value.p);
    assert_int_equal(value.len, 0);
    assert_int_equal(sip_param_next(&params, &name, &value), 1);
    assert_true(value.p != NULL && value.len == 1 && value.p[0] == '1');
    assert_int_equal(sip_param_next(&params, &name, &value), 0);
    assert_int_equal(sip_param_next(&params, &name, &value), 0);
    guard_release(&g);
}

static void test_sip_list_and_params_survive_every_truncated_prefix(void **state)
{
    struct guard g = {0};
    struct out o;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(list_cases); i++) {
        const struct walk_case *c = &list_cases[i];
        for (size_t n = 0; n <= c->len; n++) {
            int ret = list_run(guard_copy(&g, c->in, n), n, &o);
            if (ret != 0 && ret != SIP_EQUOTE) {
                print_error("%s: list prefix of %zu/%zu gives %d\n", c->desc, n, c->len, ret);
                bad++;
            }
        }
    }
    for (size_t i = 0; i < N_ELEMS(param_cases); i++) {
        const struct walk_case *c = &param_cases[i];
        for (size_t n = 0; n <= c->len; n++) {
            int ret = param_run(guard_copy(&g, c->in, n), n, &o);
            /* any sip_err: which one is test_sip_param_next_reads_names_and_values' job */
            if (ret > 0 || ret < -SIP_NERR) {
                print_error("%s: param prefix of %zu/%zu gives %d (%s)\n", c->desc, n, c->len, ret,
                            sip_err_name(ret));
                bad++;
            }
        }
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/*
 * Absent spans (p == NULL), such as a name-addr's params when it has none,
 * computed without NULL + 0 (UB): a walk over them simply ends.
 */
static void test_sip_addr_functions_accept_an_absent_span(void **state)
{
    struct sip_nameaddr na;
    struct span s = SPAN_NULL, name, value;

    (void)state;
    assert_int_equal(sip_nameaddr_parse(SPAN_NULL, &na), SIP_ENAMEADDR);
    assert_int_equal(sip_list_next(&s, &name), 0);
    s = SPAN_NULL;
    assert_int_equal(sip_param_next(&s, &name, &value), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sip_nameaddr_reads_display_uri_and_tag),
        cmocka_unit_test(test_sip_nameaddr_params_walk_with_sip_param_next),
        cmocka_unit_test(test_sip_nameaddr_rejects_malformed_values),
        cmocka_unit_test(test_sip_nameaddr_survives_every_truncated_prefix),
        cmocka_unit_test(test_sip_list_next_splits_on_top_level_commas),
        cmocka_unit_test(test_sip_param_next_reads_names_and_values),
        cmocka_unit_test(test_sip_param_next_leaves_bare_names_without_value),
        cmocka_unit_test(test_sip_list_and_params_survive_every_truncated_prefix),
        cmocka_unit_test(test_sip_addr_functions_accept_an_absent_span), /* last: UB aborts */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
