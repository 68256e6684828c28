/*
 * test_sip_uri.c - sip_uri_parse() and sip_hostport_parse().
 *
 * Tables of one-line cases. Every input is copied with guard_copy(), so its
 * last byte sits just before a PROT_NONE page and a read past the end of the
 * span faults at once. Every input, valid or not, is also parsed at each of
 * its truncated prefixes: the result must be defined (0 or SIP_EURI for a
 * URI; a length within the prefix or SIP_EURI for a hostport), and on success
 * every span must lie inside the prefix. Outputs are filled with a garbage
 * pattern before each call, so a field the parser forgets to set shows up.
 *
 * Grammar: RFC 3261 §19.1 and §25.1 (SIP-URI, userinfo, hostport, hostname
 * with a toplabel that starts with ALPHA, IPv4address, IPv6reference,
 * uri-parameters, headers); RFC 5118 §4.1-4.4, §4.9, §4.10 (IPv6 references);
 * RFC 4475 intmeth, esc01, escnull, semiuri, regescrt, lwsruri, unkscm,
 * novelsc, unksm2.
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

/* ---- URI-specific checks ---- */

static bool hostport_sane(const char *desc, const struct sip_hostport *hp, const char *buf,
                          size_t n)
{
    if (!tc_inside(hp->host, buf, n) || hp->host.len == 0) {
        print_error("%s: host span empty or outside the input\n", desc);
        return false;
    }
    if (hp->host_type > SIP_HOST_IPV6 || hp->port < -1 || hp->port > 65535) {
        print_error("%s: host_type %u / port %ld out of range\n", desc, (unsigned)hp->host_type,
                    (long)hp->port);
        return false;
    }
    return true;
}

static bool uri_sane(const char *desc, const struct sip_uri *u, const char *buf, size_t n)
{
    const struct span s[] = {u->scheme_s, u->user,      u->password, u->params,     u->headers,
                             u->lr,       u->transport, u->maddr,    u->user_param, u->opaque};
    for (size_t i = 0; i < N_ELEMS(s); i++) {
        if (!tc_inside(s[i], buf, n)) {
            print_error("%s: span #%zu of struct sip_uri lies outside the input\n", desc, i);
            return false;
        }
    }
    if (u->scheme > SIP_SCHEME_OTHER || u->scheme_s.len == 0) {
        print_error("%s: scheme %u, scheme_s length %zu\n", desc, (unsigned)u->scheme,
                    u->scheme_s.len);
        return false;
    }
    return u->scheme == SIP_SCHEME_OTHER || hostport_sane(desc, &u->hp, buf, n);
}

/* Parses in[0..len) placed at a guard page; 0 with *u checked sane, else the error. */
static int uri_run(struct guard *g, const char *desc, const char *in, size_t len, struct sip_uri *u)
{
    const char *buf = guard_copy(g, in, len);

    memset(u, 0xa5, sizeof *u);
    int ret = sip_uri_parse(span_make(buf, len), u);
    if (ret == 0 && !uri_sane(desc, u, buf, len))
        return 1; /* neither 0 nor an error code: the caller reports it */
    return ret;
}

/* Bytes consumed (checked within len and sane), or the error. */
static int hp_run(struct guard *g, const char *desc, const char *in, size_t len,
                  struct sip_hostport *hp)
{
    const char *buf = guard_copy(g, in, len);

    memset(hp, 0xa5, sizeof *hp);
    int ret = sip_hostport_parse(span_make(buf, len), hp);
    if (ret >= 0 && ((size_t)ret > len || ret == 0 || !hostport_sane(desc, hp, buf, len))) {
        print_error("%s: consumed %d of %zu bytes\n", desc, ret, len);
        return SIP_EURI - 1000; /* neither a length nor SIP_EURI: the caller reports it */
    }
    return ret;
}

/* ---- tables ---- */

#define INTMETH_USER "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
#define INTMETH_PASS "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
#define INTMETH "sip:" INTMETH_USER ":" INTMETH_PASS "@example.com"
#define SEMIURI "sip:user;par=u%40example.net@example.com"
#define PHONE "sip:+1-212-555-1212:1234@gateway.com;user=phone"
#define ALICE_TCP "sip:alice:secretword@atlanta.com;transport=tcp"
#define REGISTER "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com"
#define REGESCRT "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
#define ROUTE "sip:services.example.com;lr;unknownwith=value;unknown-no-value"
#define MADDR "sip:h.example.com;maddr=239.255.255.1;ttl=15"

struct uri_case {
    const char *desc;
    const char *in;
    size_t len;
    int scheme;
    struct want user, password, host;
    int type, port;
};

/* clang-format off */
static const struct uri_case uri_cases[] = {
    {"plain SIP URI", IN("sip:alice@atlanta.com"), SIP_SCHEME_SIP, W("alice"), ABSENT,
     W("atlanta.com"), SIP_HOST_NAME, -1},
    {"SIPS URI", IN("sips:bob@biloxi.com"), SIP_SCHEME_SIPS, W("bob"), ABSENT, W("biloxi.com"),
     SIP_HOST_NAME, -1},
    {"upper-case scheme", IN("SIP:alice@atlanta.com"), SIP_SCHEME_SIP, W("alice"), ABSENT,
     W("atlanta.com"), SIP_HOST_NAME, -1},
    {"mixed-case sips scheme", IN("SiPs:alice@atlanta.com"), SIP_SCHEME_SIPS, W("alice"), ABSENT,
     W("atlanta.com"), SIP_HOST_NAME, -1},
    {"no userinfo: user and password absent", IN("sip:atlanta.com"), SIP_SCHEME_SIP, ABSENT,
     ABSENT, W("atlanta.com"), SIP_HOST_NAME, -1},
    {"user and password", IN(ALICE_TCP), SIP_SCHEME_SIP, W("alice"), W("secretword"),
     W("atlanta.com"), SIP_HOST_NAME, -1},
    {"empty password is present", IN("sip:alice:@atlanta.com"), SIP_SCHEME_SIP, W("alice"), W(""),
     W("atlanta.com"), SIP_HOST_NAME, -1},
    {"telephone user with password", IN(PHONE), SIP_SCHEME_SIP, W("+1-212-555-1212"), W("1234"),
     W("gateway.com"), SIP_HOST_NAME, -1},
    {"IPv4 host with port", IN("sip:alice@192.0.2.4:5060"), SIP_SCHEME_SIP, W("alice"), ABSENT,
     W("192.0.2.4"), SIP_HOST_IPV4, 5060},
    {"hostname with port", IN("sip:h.example.com:5061"), SIP_SCHEME_SIP, ABSENT, ABSENT,
     W("h.example.com"), SIP_HOST_NAME, 5061},
    {"port 0", IN("sip:h.example.com:0"), SIP_SCHEME_SIP, ABSENT, ABSENT, W("h.example.com"),
     SIP_HOST_NAME, 0},
    {"port 65535", IN("sip:h.example.com:65535;lr"), SIP_SCHEME_SIP, ABSENT, ABSENT,
     W("h.example.com"), SIP_HOST_NAME, 65535},
    {"semiuri: ';' before '@' belongs to the user", IN(SEMIURI), SIP_SCHEME_SIP,
     W("user;par=u%40example.net"), ABSENT, W("example.com"), SIP_HOST_NAME, -1},
    {"RFC 3261 19.1.3: user with ';'", IN("sip:alice;day=tuesday@atlanta.com"), SIP_SCHEME_SIP,
     W("alice;day=tuesday"), ABSENT, W("atlanta.com"), SIP_HOST_NAME, -1},
    {"intmeth: user up to the first ':', password after it", IN(INTMETH), SIP_SCHEME_SIP,
     W(INTMETH_USER), W(INTMETH_PASS), W("example.com"), SIP_HOST_NAME, -1},
    {"intmeth To: '?' and ';' inside the user", IN("sip:" INTMETH_USER "@example.com"),
     SIP_SCHEME_SIP, W(INTMETH_USER), ABSENT, W("example.com"), SIP_HOST_NAME, -1},
    {"esc01: escaped user kept as received", IN("sip:sips%3Auser%40example.com@example.net"),
     SIP_SCHEME_SIP, W("sips%3Auser%40example.com"), ABSENT, W("example.net"), SIP_HOST_NAME, -1},
    {"esc01 To: escaped letters", IN("sip:%75se%72@example.com"), SIP_SCHEME_SIP, W("%75se%72"),
     ABSENT, W("example.com"), SIP_HOST_NAME, -1},
    {"escnull: %00 user", IN("sip:%00@host5.example.com"), SIP_SCHEME_SIP, W("%00"), ABSENT,
     W("host5.example.com"), SIP_HOST_NAME, -1},
    {"escnull: %00 inside the user", IN("sip:null-%00-null@example.com"), SIP_SCHEME_SIP,
     W("null-%00-null"), ABSENT, W("example.com"), SIP_HOST_NAME, -1},
    {"IPv6 reference (RFC 5118 4.1)", IN("sip:[2001:db8::10]"), SIP_SCHEME_SIP, ABSENT, ABSENT,
     W("2001:db8::10"), SIP_HOST_IPV6, -1},
    {"IPv6 reference with port (RFC 5118 4.4)", IN("sip:[2001:db8::10]:5070"), SIP_SCHEME_SIP,
     ABSENT, ABSENT, W("2001:db8::10"), SIP_HOST_IPV6, 5070},
    {"':5070' inside brackets is address, not port (RFC 5118 4.3)",
     IN("sip:[2001:db8::10:5070]"), SIP_SCHEME_SIP, ABSENT, ABSENT, W("2001:db8::10:5070"),
     SIP_HOST_IPV6, -1},
    {"three colons tolerated (RFC 5118 4.10)", IN("sip:user@[2001:db8:::192.0.2.1]"),
     SIP_SCHEME_SIP, W("user"), ABSENT, W("2001:db8:::192.0.2.1"), SIP_HOST_IPV6, -1},
    {"embedded IPv4 (RFC 5118 4.10)", IN("sip:user@[2001:db8::192.0.2.1]"), SIP_SCHEME_SIP,
     W("user"), ABSENT, W("2001:db8::192.0.2.1"), SIP_HOST_IPV6, -1},
    {"IPv4-mapped with port (RFC 5118 4.9)", IN("sip:[::ffff:192.0.2.10]:19823"), SIP_SCHEME_SIP,
     ABSENT, ABSENT, W("::ffff:192.0.2.10"), SIP_HOST_IPV6, 19823},
    {"user at an IPv6 reference", IN("sip:caller@[2001:db8::1]"), SIP_SCHEME_SIP, W("caller"),
     ABSENT, W("2001:db8::1"), SIP_HOST_IPV6, -1},
    {"hostname with a trailing dot", IN("sip:example.com."), SIP_SCHEME_SIP, ABSENT, ABSENT,
     W("example.com."), SIP_HOST_NAME, -1},
    {"label starting with a digit", IN("sip:3com.example.com"), SIP_SCHEME_SIP, ABSENT, ABSENT,
     W("3com.example.com"), SIP_HOST_NAME, -1},
    {"hyphenated label", IN("sip:u@hyphenated-host.example.com"), SIP_SCHEME_SIP, W("u"), ABSENT,
     W("hyphenated-host.example.com"), SIP_HOST_NAME, -1},
    {"single-label hostname", IN("sip:localhost"), SIP_SCHEME_SIP, ABSENT, ABSENT,
     W("localhost"), SIP_HOST_NAME, -1},
    {"params and headers after the host", IN(REGISTER), SIP_SCHEME_SIP, ABSENT, ABSENT,
     W("atlanta.com"), SIP_HOST_NAME, -1},
    /* userinfo and host from one scan of the host bits, and its fall-backs */
    {"alphanumeric user, long host", IN("sip:bob.smith-1@biloxi.example.com:5062"),
     SIP_SCHEME_SIP, W("bob.smith-1"), ABSENT, W("biloxi.example.com"), SIP_HOST_NAME, 5062},
    /* the short-URI path (16 to 36 bytes, all from two loads) at its edges */
    {"short: 16 bytes", IN("sip:h.example.co"), SIP_SCHEME_SIP, ABSENT, ABSENT,
     W("h.example.co"), SIP_HOST_NAME, -1},
    {"short: 32 bytes of host", IN("sip:abcdefghijklmnop.example.abcdefgh"), SIP_SCHEME_SIP,
     ABSENT, ABSENT, W("abcdefghijklmnop.example.abcdefgh"), SIP_HOST_NAME, -1},
    {"short: 31 bytes of host", IN("sip:abcdefghijklmnop.example.abcdefg"), SIP_SCHEME_SIP, ABSENT,
     ABSENT, W("abcdefghijklmnop.example.abcdefg"), SIP_HOST_NAME, -1},
    {"short: 36 bytes", IN("sip:ss2.biloxi.example.com;lr;x=abcd"), SIP_SCHEME_SIP, ABSENT,
     ABSENT, W("ss2.biloxi.example.com"), SIP_HOST_NAME, -1},
    {"short: 37 bytes, general path", IN("sip:ss2.biloxi.example.com;lr;x=abcde"),
     SIP_SCHEME_SIP, ABSENT, ABSENT, W("ss2.biloxi.example.com"), SIP_HOST_NAME, -1},
    {"short: user, IPv4 host, port", IN("sip:bob@192.0.2.10:5060;lr"), SIP_SCHEME_SIP, W("bob"),
     ABSENT, W("192.0.2.10"), SIP_HOST_IPV4, 5060},
    {"short: user then a port of 5 digits at the end", IN("sip:alice@atlanta.example:65535"),
     SIP_SCHEME_SIP, W("alice"), ABSENT, W("atlanta.example"), SIP_HOST_NAME, 65535},
    {"short: '@' in a param", IN("sip:h.example.com;x=a@b.example"), SIP_SCHEME_SIP,
     W("h.example.com;x=a"), ABSENT, W("b.example"), SIP_HOST_NAME, -1},
    {"short: password", IN("sip:alice:secret@atlanta.example.com"), SIP_SCHEME_SIP, W("alice"),
     W("secret"), W("atlanta.example.com"), SIP_HOST_NAME, -1},
    {"short: upper-case SIP", IN("SIP:bob@biloxi.example.com"), SIP_SCHEME_SIP, W("bob"), ABSENT,
     W("biloxi.example.com"), SIP_HOST_NAME, -1},
    {"short: '_' in the host", IN("sip:h_x.example.com;lr"), SIP_SCHEME_SIP, ABSENT, ABSENT,
     W("h_x.example.com"), SIP_HOST_NAME, -1},
    {"short: '_' in a param", IN("sip:h.example.com;x_y=1"), SIP_SCHEME_SIP, ABSENT, ABSENT,
     W("h.example.com"), SIP_HOST_NAME, -1},
    {"short: headers", IN("sip:h.example.com;lr?x=1"), SIP_SCHEME_SIP, ABSENT, ABSENT,
     W("h.example.com"), SIP_HOST_NAME, -1},
    {"IPv4 host, no userinfo, then params", IN("sip:192.0.2.10;lr"), SIP_SCHEME_SIP, ABSENT, ABSENT,
     W("192.0.2.10"), SIP_HOST_IPV4, -1},
    {"user with an escape", IN("sip:b%6Fb@biloxi.example.com"), SIP_SCHEME_SIP, W("b%6Fb"), ABSENT,
     W("biloxi.example.com"), SIP_HOST_NAME, -1},
    {"user of 32+ bytes", IN("sip:0123456789012345678901234567890123@h.example.com"),
     SIP_SCHEME_SIP, W("0123456789012345678901234567890123"), ABSENT, W("h.example.com"),
     SIP_HOST_NAME, -1},
    {"'@' in a param value makes the rest userinfo", IN("sip:h.example.com;x=a@b.example.com"),
     SIP_SCHEME_SIP, W("h.example.com;x=a"), ABSENT, W("b.example.com"), SIP_HOST_NAME, -1},
    {"'_' in the host", IN("sip:alice@h_1.example.com;lr"), SIP_SCHEME_SIP, W("alice"), ABSENT,
     W("h_1.example.com"), SIP_HOST_NAME, -1},
};
/* clang-format on */

enum uri_field { F_SCHEME_S, F_PARAMS, F_HEADERS, F_LR, F_TRANSPORT, F_MADDR, F_USER_PARAM };

static const char *const uri_field_name[] = {"scheme_s",  "params", "headers",   "lr",
                                             "transport", "maddr",  "user_param"};

static struct span uri_field(const struct sip_uri *u, enum uri_field f)
{
    switch (f) {
    case F_SCHEME_S: return u->scheme_s;
    case F_PARAMS: return u->params;
    case F_HEADERS: return u->headers;
    case F_LR: return u->lr;
    case F_TRANSPORT: return u->transport;
    case F_MADDR: return u->maddr;
    case F_USER_PARAM: return u->user_param;
    }
    return SPAN_NULL;
}

struct field_case {
    const char *desc;
    const char *in;
    size_t len;
    enum uri_field f;
    struct want want;
};

/* clang-format off */
static const struct field_case field_cases[] = {
    {"scheme as received", IN("SIP:alice@atlanta.com"), F_SCHEME_S, W("SIP")},
    {"params after the first ';' of the host part", IN(ALICE_TCP), F_PARAMS, W("transport=tcp")},
    {"transport", IN(ALICE_TCP), F_TRANSPORT, W("tcp")},
    {"no ';': params of length 0", IN("sip:alice@atlanta.com"), F_PARAMS, NOLEN},
    {"no '?': headers of length 0", IN("sip:alice@atlanta.com"), F_HEADERS, NOLEN},
    {"no lr param: absent", IN(ALICE_TCP), F_LR, ABSENT},
    {"no transport param: absent", IN(ROUTE), F_TRANSPORT, ABSENT},
    {"no maddr param: absent", IN(ROUTE), F_MADDR, ABSENT},
    {"no user param: absent", IN(ROUTE), F_USER_PARAM, ABSENT},
    {"lr without a value: present and empty", IN("sip:p1.example.com;lr"), F_LR, W("")},
    {"short: lr, then transport", IN("sip:p1.example.com;lr;transport=tcp"), F_TRANSPORT,
     W("tcp")},
    {"short: maddr and user", IN("sip:h.ex.com;maddr=1.2.3.4;user=ip"), F_MADDR, W("1.2.3.4")},
    {"short: user param", IN("sip:h.ex.com;maddr=1.2.3.4;user=ip"), F_USER_PARAM, W("ip")},
    {"short: params", IN("sip:h.ex.com;maddr=1.2.3.4;user=ip"), F_PARAMS,
     W("maddr=1.2.3.4;user=ip")},
    {"short: no params", IN("sip:bob@biloxi.example.com"), F_PARAMS, NOLEN},
    {"short: Lr=ON", IN("sip:p1.example.com;Lr=ON"), F_LR, W("ON")},
    {"lr with a value", IN("sip:p1.example.com;lr=on"), F_LR, W("on")},
    {"LR: param names are case-insensitive", IN("sip:p1.example.com;LR"), F_LR, W("")},
    {"lr first of several params", IN(ROUTE), F_LR, W("")},
    {"params with and without values", IN(ROUTE), F_PARAMS,
     W("lr;unknownwith=value;unknown-no-value")},
    {"lr as the last param", IN("sip:p1.example.com;transport=udp;lr"), F_LR, W("")},
    {"a param named 'lrx' is not lr", IN("sip:p1.example.com;lrx"), F_LR, ABSENT},
    {"maddr", IN(MADDR), F_MADDR, W("239.255.255.1")},
    {"user=phone", IN(PHONE), F_USER_PARAM, W("phone")},
    {"transport after a port", IN("sip:h.example.com:5060;transport=udp"), F_TRANSPORT, W("udp")},
    {"params end at '?'", IN(REGISTER), F_PARAMS, W("method=REGISTER")},
    {"headers after '?'", IN(REGISTER), F_HEADERS, W("to=alice%40atlanta.com")},
    {"regescrt: escaped Route header", IN(REGESCRT), F_HEADERS,
     W("Route=%3Csip:sip.example.com%3E")},
    {"regescrt: no params", IN(REGESCRT), F_PARAMS, NOLEN},
    {"headers joined by '&'", IN("sip:alice@atlanta.com?subject=project%20x&priority=urgent"),
     F_HEADERS, W("subject=project%20x&priority=urgent")},
    {"semiuri: the user's ';' starts no params", IN(SEMIURI), F_PARAMS, NOLEN},
    {"intmeth: the user's ';' starts no params", IN(INTMETH), F_PARAMS, NOLEN},
    {"intmeth: the user's '?' starts no headers", IN(INTMETH), F_HEADERS, NOLEN},
    {"esc01 Contact: escaped param names and values kept",
     IN("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31"), F_PARAMS,
     W("%6C%72;n%61me=v%61lue%25%34%31")},
};
/* clang-format on */

struct other_case {
    const char *desc;
    const char *in;
    size_t len;
    struct want scheme_s, opaque;
};

/* clang-format off */
static const struct other_case other_cases[] = {
    {"unkscm: unknown scheme", IN("nobodyKnowsThisScheme:totallyopaquecontent"),
     W("nobodyKnowsThisScheme"), W("totallyopaquecontent")},
    {"novelsc: scheme with '.'", IN("soap.beep://192.0.2.103:3002"), W("soap.beep"),
     W("//192.0.2.103:3002")},
    {"unksm2: http", IN("http://www.example.com"), W("http"), W("//www.example.com")},
    {"unksm2: isbn", IN("isbn:2983792873"), W("isbn"), W("2983792873")},
    {"unksm2: name", IN("name:John_Smith"), W("name"), W("John_Smith")},
    {"tel", IN("tel:+1-201-555-0123"), W("tel"), W("+1-201-555-0123")},
    {"scheme with '+' and '-'", IN("x-a+b:c"), W("x-a+b"), W("c")},
    {"'sipx' is not sip", IN("sipx:alice@atlanta.com"), W("sipx"), W("alice@atlanta.com")},
    {"'si' is not sip", IN("si:alice@atlanta.com"), W("si"), W("alice@atlanta.com")},
};
/* clang-format on */

struct bad_case {
    const char *desc;
    const char *in;
    size_t len;
};

/* clang-format off */
static const struct bad_case bad_cases[] = {
    {"empty", IN("")},
    {"scheme only", IN("sip:")},
    {"short: empty param", IN("sip:p1.example.com;;lr")},
    {"short: two '@'", IN("sip:a@b@h.example.com")},
    {"short: trailing ';'", IN("sip:p1.example.com;lr;")},
    {"short: '=' without a value", IN("sip:p1.example.com;lr=")},
    {"short: second '='", IN("sip:p1.example.com;lr=a=b")},
    {"short: bad IPv4", IN("sip:bob@192.0.2.256:5060")},
    {"short: port 65536", IN("sip:bob@h.example.com:65536")},
    {"short: '@' at the end", IN("sip:bob@h.example.com@")},
    {"short: empty user", IN("sip:@h.example.com;lr")},
    {"short: bad label", IN("sip:h.-example.com;lr")},
    {"sips scheme only", IN("sips:")},
    {"no ':' after the scheme", IN("sip")},
    {"no scheme", IN(":alice@atlanta.com")},
    {"scheme starting with a digit", IN("1sip:alice@atlanta.com")},
    {"space in the scheme", IN("s p:alice@atlanta.com")},
    {"URI in angle brackets", IN("<sip:alice@atlanta.com>")},
    {"empty user", IN("sip:@atlanta.com")},
    {"empty user before a password", IN("sip::pw@atlanta.com")},
    {"empty host after '@'", IN("sip:alice@")},
    {"empty host before params", IN("sip:alice@;lr")},
    {"empty host before a port", IN("sip::5060")},
    {"empty port", IN("sip:atlanta.com:")},
    {"empty port before params", IN("sip:atlanta.com:;lr")},
    {"port 65536", IN("sip:atlanta.com:65536")},
    {"port 99999", IN("sip:atlanta.com:99999")},
    {"port 2^64 + 5060 (wraps in 64 bits)", IN("sip:atlanta.com:18446744073709556676")},
    {"letters after the port", IN("sip:atlanta.com:50x")},
    {"unclosed '['", IN("sip:[2001:db8::10")},
    {"unclosed '[' with port", IN("sip:[2001:db8::10:5070")},
    {"empty brackets", IN("sip:[]")},
    {"junk after ']'", IN("sip:[2001:db8::10]x")},
    {"unbracketed IPv6 (RFC 5118 4.2)", IN("sip:2001:db8::10")},
    {"unbracketed IPv6 after a user", IN("sip:user@2001:db8::10")},
    {"non-hex digit in IPv6", IN("sip:[2001:db8::g]")},
    {"five hex digits in an IPv6 group", IN("sip:[12345::1]")},
    {"space inside the user", IN("sip:us er@atlanta.com")},
    {"space inside the host", IN("sip:user@atlanta .com")},
    {"lwsruri: space before a param", IN("sip:user@example.com; lr")},
    {"trailing space", IN("sip:user@example.com ")},
    {"leading space", IN(" sip:user@example.com")},
    {"raw NUL in the user", IN("sip:a\0b@example.com")},
    {"raw NUL in the host", IN("sip:user@exa\0mple.com")},
    {"control byte in a param", IN("sip:user@example.com;x=\x01")},
    {"DEL in the host", IN("sip:user@exa\x7fmple.com")},
    {"non-ASCII byte in the host", IN("sip:user@ex\xc3\xa4mple.com")},
    {"IPv4 octet 999", IN("sip:1.2.3.999")},
    {"IPv4 first octet 256", IN("sip:256.0.2.1")},
    {"four-digit octet", IN("sip:1.2.3.1234")},
    {"three numeric labels", IN("sip:1.2.3")},
    {"five numeric labels", IN("sip:1.2.3.4.5")},
    {"one numeric label", IN("sip:user@123")},
    {"numeric toplabel", IN("sip:example.123")},
    {"empty label", IN("sip:example..com")},
    {"leading dot", IN("sip:.example.com")},
    {"second '@'", IN("sip:a@b@example.com")},
    {"trailing ';' (empty param)", IN("sip:atlanta.com;")},
    {"';;' (empty param)", IN("sip:atlanta.com;;lr")},
    {"'>' after the host", IN("sip:alice@atlanta.com>")},
    {"'?' with no headers", IN("sip:alice@atlanta.com?")},
    {"';' right before '?'", IN("sip:alice@atlanta.com;?x=y")},
    {"param with '=' and no value", IN("sip:alice@atlanta.com;transport=")},
    {"second port", IN("sip:alice@atlanta.com:5060:5061")},
};
/* clang-format on */

/* ---- URI tests ---- */

static void test_sip_uri_reads_scheme_userinfo_and_hostport(void **state)
{
    struct guard g = {0};
    struct sip_uri u;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(uri_cases); i++) {
        const struct uri_case *c = &uri_cases[i];
        int ret = uri_run(&g, c->desc, c->in, c->len, &u);
        if (ret != 0) {
            print_error("%s: returns %d (%s), want 0\n", c->desc, ret, sip_err_name(ret));
            bad++;
            continue;
        }
        bad += !tc_same_int(c->desc, "scheme", u.scheme, c->scheme);
        bad += !tc_same(c->desc, "user", u.user, c->user);
        bad += !tc_same(c->desc, "password", u.password, c->password);
        bad += !tc_same(c->desc, "host", u.hp.host, c->host);
        bad += !tc_same_int(c->desc, "host_type", u.hp.host_type, c->type);
        bad += !tc_same_int(c->desc, "port", u.hp.port, c->port);
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

static void test_sip_uri_reads_params_and_headers(void **state)
{
    struct guard g = {0};
    struct sip_uri u;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(field_cases); i++) {
        const struct field_case *c = &field_cases[i];
        int ret = uri_run(&g, c->desc, c->in, c->len, &u);
        if (ret != 0) {
            print_error("%s: returns %d (%s), want 0\n", c->desc, ret, sip_err_name(ret));
            bad++;
            continue;
        }
        bad += !tc_same(c->desc, uri_field_name[c->f], uri_field(&u, c->f), c->want);
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

static void test_sip_uri_keeps_other_schemes_opaque(void **state)
{
    struct guard g = {0};
    struct sip_uri u;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(other_cases); i++) {
        const struct other_case *c = &other_cases[i];
        int ret = uri_run(&g, c->desc, c->in, c->len, &u);
        if (ret != 0) {
            print_error("%s: returns %d (%s), want 0\n", c->desc, ret, sip_err_name(ret));
            bad++;
            continue;
        }
        bad += !tc_same_int(c->desc, "scheme", u.scheme, SIP_SCHEME_OTHER);
        bad += !tc_same(c->desc, "scheme_s", u.scheme_s, c->scheme_s);
        bad += !tc_same(c->desc, "opaque", u.opaque, c->opaque);
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

static void test_sip_uri_rejects_malformed_uris(void **state)
{
    struct guard g = {0};
    struct sip_uri u;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        int ret = uri_run(&g, c->desc, c->in, c->len, &u);
        if (ret != SIP_EURI) {
            print_error("%s: returns %d (%s), want SIP_EURI\n", c->desc, ret, sip_err_name(ret));
            bad++;
        }
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

static int uri_prefixes(struct guard *g, const char *desc, const char *in, size_t len)
{
    struct sip_uri u;
    int bad = 0;

    for (size_t n = 0; n <= len; n++) {
        int ret = uri_run(g, desc, in, n, &u);
        if (ret != 0 && ret != SIP_EURI) {
            print_error("%s: prefix of %zu/%zu bytes gives %d\n", desc, n, len, ret);
            bad++;
        }
    }
    return bad;
}

static void test_sip_uri_survives_every_truncated_prefix(void **state)
{
    struct guard g = {0};
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(uri_cases); i++)
        bad += uri_prefixes(&g, uri_cases[i].desc, uri_cases[i].in, uri_cases[i].len);
    for (size_t i = 0; i < N_ELEMS(field_cases); i++)
        bad += uri_prefixes(&g, field_cases[i].desc, field_cases[i].in, field_cases[i].len);
    for (size_t i = 0; i < N_ELEMS(other_cases); i++)
        bad += uri_prefixes(&g, other_cases[i].desc, other_cases[i].in, other_cases[i].len);
    for (size_t i = 0; i < N_ELEMS(bad_cases); i++)
        bad += uri_prefixes(&g, bad_cases[i].desc, bad_cases[i].in, bad_cases[i].len);
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/* ---- hostport ---- */

struct hp_case {
    const char *desc;
    const char *in;
    size_t len;
    int ret; /* bytes consumed, or SIP_EURI */
    struct want host;
    int type, port;
};

/* clang-format off */
#define HP_BAD(desc, s) {desc, IN(s), SIP_EURI, ABSENT, 0, 0}
static const struct hp_case hp_cases[] = {
    {"hostname", IN("example.com"), 11, W("example.com"), SIP_HOST_NAME, -1},
    {"hostname and port", IN("example.com:5060"), 16, W("example.com"), SIP_HOST_NAME, 5060},
    {"stops at ';'", IN("example.com:5060;lr"), 16, W("example.com"), SIP_HOST_NAME, 5060},
    {"stops at '?'", IN("example.com?x=y"), 11, W("example.com"), SIP_HOST_NAME, -1},
    {"stops at '>'", IN("example.com>"), 11, W("example.com"), SIP_HOST_NAME, -1},
    {"stops at LWS", IN("example.com ;x"), 11, W("example.com"), SIP_HOST_NAME, -1},
    {"upper-case hostname", IN("EXAMPLE.COM"), 11, W("EXAMPLE.COM"), SIP_HOST_NAME, -1},
    {"IPv4", IN("192.0.2.1"), 9, W("192.0.2.1"), SIP_HOST_IPV4, -1},
    {"IPv4 and port", IN("192.0.2.1:5060"), 14, W("192.0.2.1"), SIP_HOST_IPV4, 5060},
    {"IPv4 upper bounds", IN("255.255.255.255"), 15, W("255.255.255.255"), SIP_HOST_IPV4, -1},
    {"IPv4 lower bounds", IN("0.0.0.0"), 7, W("0.0.0.0"), SIP_HOST_IPV4, -1},
    {"IPv6 reference", IN("[2001:db8::10]"), 14, W("2001:db8::10"), SIP_HOST_IPV6, -1},
    {"IPv6 reference and port", IN("[2001:db8::10]:5070"), 19, W("2001:db8::10"), SIP_HOST_IPV6,
     5070},
    {"IPv6 loopback", IN("[::1]"), 5, W("::1"), SIP_HOST_IPV6, -1},
    {"IPv6 unspecified", IN("[::]"), 4, W("::"), SIP_HOST_IPV6, -1},
    {"IPv6 with eight groups", IN("[2001:db8:0:0:1:0:0:1]"), 22, W("2001:db8:0:0:1:0:0:1"),
     SIP_HOST_IPV6, -1},
    {"IPv6 upper-case hex", IN("[2001:DB8::A]"), 13, W("2001:DB8::A"), SIP_HOST_IPV6, -1},
    {"IPv6 stops at ';'", IN("[::1];lr"), 5, W("::1"), SIP_HOST_IPV6, -1},
    {"three colons tolerated (RFC 5118 4.10)", IN("[2001:db8:::192.0.2.1]"), 22,
     W("2001:db8:::192.0.2.1"), SIP_HOST_IPV6, -1},
    {"port inside the brackets is address (RFC 5118 4.3)", IN("[2001:db8::10:5070]"), 19,
     W("2001:db8::10:5070"), SIP_HOST_IPV6, -1},
    {"IPv4-mapped and port (RFC 5118 4.9)", IN("[::ffff:192.0.2.10]:19823"), 25,
     W("::ffff:192.0.2.10"), SIP_HOST_IPV6, 19823},
    {"port 0", IN("h.example.com:0"), 15, W("h.example.com"), SIP_HOST_NAME, 0},
    {"port 65535", IN("h.example.com:65535"), 19, W("h.example.com"), SIP_HOST_NAME, 65535},
    HP_BAD("empty", ""),
    HP_BAD("port without a host", ":5060"),
    HP_BAD("empty port", "h.example.com:"),
    HP_BAD("empty port after IPv6", "[::1]:"),
    HP_BAD("port 65536", "h.example.com:65536"),
    HP_BAD("port 99999", "h.example.com:99999"),
    HP_BAD("port 2^32 + 5060 (wraps in 32 bits)", "h.example.com:4294972356"),
    HP_BAD("unclosed '['", "[::1"),
    HP_BAD("empty brackets", "[]"),
    HP_BAD("non-hex in IPv6", "[::g]"),
    HP_BAD("five hex digits in a group", "[12345::1]"),
    HP_BAD("IPv4 octet 999", "1.2.3.999"),
    HP_BAD("IPv4 octet 256", "256.1.1.1"),
    HP_BAD("three numeric labels", "1.2.3"),
    HP_BAD("five numeric labels", "1.2.3.4.5"),
    HP_BAD("one numeric label", "123"),
    HP_BAD("leading dot", ".example.com"),
    HP_BAD("empty label", "a..example.com"),
    HP_BAD("starts with LWS", " example.com"),
    /* the vector path's edges: octets, labels, lengths and what ends a host */
    {"IPv4 with leading zeros", IN("01.02.03.004"), 12, W("01.02.03.004"), SIP_HOST_IPV4, -1},
    {"IPv4, three-digit octets at 255", IN("255.255.255.255:5060"), 20, W("255.255.255.255"),
     SIP_HOST_IPV4, 5060},
    {"hostname ending in '.'", IN("example.com.:5060"), 17, W("example.com."), SIP_HOST_NAME,
     5060},
    {"hostname starting with digits", IN("123.example.com"), 15, W("123.example.com"),
     SIP_HOST_NAME, -1},
    {"hostname with '_' (general path)", IN("h_1.example.com:5060"), 20, W("h_1.example.com"),
     SIP_HOST_NAME, 5060},
    {"31-byte hostname", IN("abcdefghij.abcdefghij.abcdefghi"), 31,
     W("abcdefghij.abcdefghij.abcdefghi"), SIP_HOST_NAME, -1},
    {"32-byte hostname", IN("abcdefghij.abcdefghij.abcdefghij"), 32,
     W("abcdefghij.abcdefghij.abcdefghij"), SIP_HOST_NAME, -1},
    {"33-byte hostname", IN("abcdefghij.abcdefghij.abcdefghijk:1"), 35,
     W("abcdefghij.abcdefghij.abcdefghijk"), SIP_HOST_NAME, 1},
    {"dash inside labels", IN("a-b.c-d.example.com"), 19, W("a-b.c-d.example.com"),
     SIP_HOST_NAME, -1},
    {"port with leading zeros", IN("192.0.2.1:05060"), 15, W("192.0.2.1"), SIP_HOST_IPV4, 5060},
    HP_BAD("IPv4 octet 256 last", "192.0.2.256"),
    HP_BAD("IPv4 octet 300 in the middle", "192.300.2.1"),
    HP_BAD("IPv4 four-digit octet", "192.0.2.0001"),
    HP_BAD("IPv4 four-digit first octet", "1921.0.2.1"),
    HP_BAD("IPv4 ending in '.'", "192.0.2.1."),
    HP_BAD("IPv4 with an empty octet", "192.0..1"),
    HP_BAD("IPv4 with a letter", "192.0.2.1a"),
    HP_BAD("IPv4 with a dash", "192.0.2-1.1"),
    HP_BAD("digits and dots, 16 bytes", "1.2.3.4.5.6.7.89"),
    HP_BAD("IPv4 port 65536", "192.0.2.1:65536"),
    HP_BAD("IPv4 port of six digits", "192.0.2.1:050600"),
    HP_BAD("label ending in '-'", "a-.example.com"),
    HP_BAD("label starting with '-'", "-a.example.com"),
    HP_BAD("last label starting with a digit", "example.1com"),
    HP_BAD("only a dot", "."),
};
/* clang-format on */

/* How many of c's expectations the result (ret, hp) misses, each printed;
 * where names the input's variant in the messages. */
static int hp_mismatches(const struct hp_case *c, const char *where, int ret,
                         const struct sip_hostport *hp)
{
    if (ret != c->ret) {
        print_error("%s%s: returns %d, want %d\n", c->desc, where, ret, c->ret);
        return 1;
    }
    if (ret < 0)
        return 0;
    return !tc_same(c->desc, "host", hp->host, c->host) +
           !tc_same_int(c->desc, "host_type", hp->host_type, c->type) +
           !tc_same_int(c->desc, "port", hp->port, c->port);
}

static void test_sip_hostport_returns_bytes_consumed(void **state)
{
    struct guard g = {0};
    struct sip_hostport hp;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(hp_cases); i++) {
        const struct hp_case *c = &hp_cases[i];
        bad += hp_mismatches(c, "", hp_run(&g, c->desc, c->in, c->len, &hp), &hp);
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

static void test_sip_hostport_survives_every_truncated_prefix(void **state)
{
    struct guard g = {0};
    struct sip_hostport hp;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(hp_cases); i++) {
        const struct hp_case *c = &hp_cases[i];
        for (size_t n = 0; n <= c->len; n++) {
            int ret = hp_run(&g, c->desc, c->in, n, &hp);
            if (ret != SIP_EURI && (ret <= 0 || (size_t)ret > n)) {
                print_error("%s: prefix of %zu/%zu bytes gives %d\n", c->desc, n, c->len, ret);
                bad++;
            }
        }
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/* Each hostport case again with 20 more bytes after a ';': every host ends
 * at a ';' as at the end of its span, so the result is the same, and the
 * vector path (which needs 16 readable bytes) is the one taking it. */
static void test_sip_hostport_reads_the_same_with_a_long_tail(void **state)
{
    struct guard g = {0};
    struct sip_hostport hp;
    char in[128];
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(hp_cases); i++) {
        const struct hp_case *c = &hp_cases[i];
        static const char tail[] = ";maddr=192.0.2.99;lr";
        assert_true(c->len + sizeof(tail) <= sizeof(in));
        memcpy(in, c->in, c->len);
        memcpy(in + c->len, tail, sizeof(tail) - 1);
        int ret = hp_run(&g, c->desc, in, c->len + sizeof(tail) - 1, &hp);
        bad += hp_mismatches(c, " + tail", ret, &hp);
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/* URI params in one pass: names in any case, escapes, what may end them. */
static void test_sip_uri_params_in_any_case_with_escapes(void **state)
{
    static const struct {
        const char *desc;
        const char *in;
        size_t len;
        int ret;
        struct want params, lr, transport, maddr, user_param, headers;
    } cases[] = {
#define URI_BAD(desc, s) {desc, IN(s), SIP_EURI, ABSENT, ABSENT, ABSENT, ABSENT, ABSENT, ABSENT}
        {"upper-case names", IN("sip:h.example.com;LR;TRANSPORT=TCP;Maddr=192.0.2.1;USER=ip"), 0,
         W("LR;TRANSPORT=TCP;Maddr=192.0.2.1;USER=ip"), NOLEN, W("TCP"), W("192.0.2.1"), W("ip"),
         ABSENT},
        {"escaped value", IN("sip:h.example.com;transport=t%43p;lr"), 0, W("transport=t%43p;lr"),
         NOLEN, W("t%43p"), ABSENT, ABSENT, ABSENT},
        {"lr with a value", IN("sip:192.0.2.10;lr=on"), 0, W("lr=on"), W("on"), ABSENT, ABSENT,
         ABSENT, ABSENT},
        {"params end at '?'", IN("sip:192.0.2.10:5060;lr?Subject=x%20y"), 0, W("lr"), NOLEN, ABSENT,
         ABSENT, ABSENT, W("Subject=x%20y")},
        {"the last of two wins", IN("sip:h.example.com;transport=udp;transport=tcp"), 0,
         W("transport=udp;transport=tcp"), ABSENT, W("tcp"), ABSENT, ABSENT, ABSENT},
        {"'@' after params: the user holds them", IN("sip:host.example.com;x=y@h2.example.com;lr"),
         0, W("lr"), NOLEN, ABSENT, ABSENT, ABSENT, ABSENT},
        URI_BAD("second '='", "sip:h.example.com;a=b=c"),
        URI_BAD("empty value", "sip:h.example.com;transport=;lr"),
        URI_BAD("empty name", "sip:h.example.com;;lr"),
        URI_BAD("'=' with no name", "sip:h.example.com;=x"),
        URI_BAD("escape cut short", "sip:h.example.com;abc%4"),
        URI_BAD("escape cut by '='", "sip:h.example.com;a%4=1"),
        URI_BAD("escape not hex", "sip:h.example.com;a=%zz"),
        URI_BAD("',' in a param", "sip:h.example.com;a,b"),
        URI_BAD("trailing ';'", "sip:h.example.com;lr;"),
#undef URI_BAD
    };
    struct guard g = {0};
    struct sip_uri u;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        int ret = uri_run(&g, cases[i].desc, cases[i].in, cases[i].len, &u);
        if (ret != cases[i].ret) {
            print_error("%s: returns %d, want %d\n", cases[i].desc, ret, cases[i].ret);
            bad++;
            continue;
        }
        if (ret != 0)
            continue;
        bad += !tc_same(cases[i].desc, "params", u.params, cases[i].params);
        bad += !tc_same(cases[i].desc, "lr", u.lr, cases[i].lr);
        bad += !tc_same(cases[i].desc, "transport", u.transport, cases[i].transport);
        bad += !tc_same(cases[i].desc, "maddr", u.maddr, cases[i].maddr);
        bad += !tc_same(cases[i].desc, "user_param", u.user_param, cases[i].user_param);
        bad += !tc_same(cases[i].desc, "headers", u.headers, cases[i].headers);
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/* A URI's hostport is what sip_hostport_parse reads from the same bytes. */
static void test_sip_uri_host_agrees_with_sip_hostport_parse(void **state)
{
    struct guard g = {0};
    struct sip_uri u;
    struct sip_hostport hp;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(uri_cases); i++) {
        const struct uri_case *c = &uri_cases[i];
        const char *buf = guard_copy(&g, c->in, c->len), *end = buf + c->len;

        memset(&u, 0xa5, sizeof u);
        if (sip_uri_parse(span_make(buf, c->len), &u) != 0 || !uri_sane(c->desc, &u, buf, c->len))
            continue; /* reported by the table test */
        const char *h = u.hp.host.p - (u.hp.host_type == SIP_HOST_IPV6); /* back to '[' */
        int n = sip_hostport_parse(span_range(h, end), &hp);
        if (n <= 0 || hp.port != u.hp.port || hp.host_type != u.hp.host_type ||
            !span_eq(hp.host, u.hp.host) || (h + n < end && h[n] != ';' && h[n] != '?')) {
            print_error("%s: sip_hostport_parse on the URI's host part disagrees (%d)\n", c->desc,
                        n);
            bad++;
        }
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/* Absent spans (p == NULL) are errors, computed without NULL + 0 (UB). */
static void test_sip_uri_and_hostport_reject_an_absent_span(void **state)
{
    struct sip_uri u;
    struct sip_hostport hp;

    (void)state;
    assert_int_equal(sip_uri_parse(SPAN_NULL, &u), SIP_EURI);
    assert_int_equal(sip_hostport_parse(SPAN_NULL, &hp), SIP_EURI);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sip_uri_reads_scheme_userinfo_and_hostport),
        cmocka_unit_test(test_sip_uri_reads_params_and_headers),
        cmocka_unit_test(test_sip_uri_keeps_other_schemes_opaque),
        cmocka_unit_test(test_sip_uri_rejects_malformed_uris),
        cmocka_unit_test(test_sip_uri_survives_every_truncated_prefix),
        cmocka_unit_test(test_sip_hostport_returns_bytes_consumed),
        cmocka_unit_test(test_sip_hostport_survives_every_truncated_prefix),
        cmocka_unit_test(test_sip_hostport_reads_the_same_with_a_long_tail),
        cmocka_unit_test(test_sip_uri_params_in_any_case_with_escapes),
        cmocka_unit_test(test_sip_uri_host_agrees_with_sip_hostport_parse),
        cmocka_unit_test(test_sip_uri_and_hostport_reject_an_absent_span), /* last: UB aborts */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
