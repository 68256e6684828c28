/*
 * test_sip_via.c - sip_via_parse() and sip_branch_is_rfc3261().
 *
 * Tables of one-line cases. Every input is copied with guard_copy(), so its
 * last byte sits just before a PROT_NONE page and a read past the end of the
 * span faults at once. Every input, valid or not, is also parsed at each of
 * its truncated prefixes: the result must be 0 or SIP_EVIA, and on success
 * every span must lie inside the prefix. The output is filled with a garbage
 * pattern before each call, so a field the parser forgets to set shows up as
 * out of bounds instead of passing by luck.
 *
 * Grammar: RFC 3261 §20.42 and §25 (via-parm; SLASH, COLON, SEMI and EQUAL
 * allow LWS on both sides), RFC 3581 (rport), RFC 5118 §4.5, §4.7, §4.9,
 * §4.10 (IPv6 sent-by and received), RFC 4475 wsinv, intmeth, transports,
 * badinv01, badbranch.
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

/* ---- Via-specific checks ---- */

/* Every span inside buf[0..n) and the mandatory parts present. */
static bool via_sane(const char *desc, const struct sip_via *v, const char *buf, size_t n)
{
    const struct span s[] = {v->protocol, v->version,  v->transport, v->sent_by.host, v->params,
                             v->branch,   v->received, v->maddr,     v->ttl,          v->rport};
    for (size_t i = 0; i < N_ELEMS(s); i++) {
        if (!tc_inside(s[i], buf, n)) {
            print_error("%s: span #%zu of struct sip_via lies outside the input\n", desc, i);
            return false;
        }
    }
    if (v->protocol.len == 0 || v->version.len == 0 || v->transport.len == 0 ||
        v->sent_by.host.len == 0) {
        print_error("%s: success with an empty protocol, version, transport or host\n", desc);
        return false;
    }
    if (v->sent_by.host_type > SIP_HOST_IPV6 || v->sent_by.port < -1 || v->sent_by.port > 65535) {
        print_error("%s: host_type %u / port %ld out of range\n", desc,
                    (unsigned)v->sent_by.host_type, (long)v->sent_by.port);
        return false;
    }
    return true;
}

/* Parses in[0..len) placed at a guard page; 0 with *v checked sane, else the error. */
static int via_run(struct guard *g, const char *desc, const char *in, size_t len, struct sip_via *v)
{
    const char *buf = guard_copy(g, in, len);

    memset(v, 0xa5, sizeof *v);
    int ret = sip_via_parse(span_make(buf, len), v);
    if (ret == 0 && !via_sane(desc, v, buf, len))
        return 1; /* neither 0 nor an error code: the caller reports it */
    return ret;
}

/* Every prefix of in, including the empty one and in itself: 0 or SIP_EVIA, spans inside. */
static int via_prefixes(struct guard *g, const char *desc, const char *in, size_t len)
{
    struct sip_via v;
    int bad = 0;

    for (size_t n = 0; n <= len; n++) {
        int ret = via_run(g, desc, in, n, &v);
        if (ret != 0 && ret != SIP_EVIA) {
            print_error("%s: prefix of %zu/%zu bytes gives %d (%s)\n", desc, n, len, ret,
                        sip_err_name(ret));
            bad++;
        }
    }
    return bad;
}

/* ---- tables ---- */

#define V1 "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds"
#define WSINV1 "SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw"
#define WSINV2 "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8"
#define WSINV3 "SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239"
#define RECV6 "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3"
#define RECV6B "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111"
#define RECV4 "SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200"
#define MADDR "SIP/2.0/UDP first.example.com:4000;ttl=16;maddr=224.2.0.1;branch=z9hG4bKa7c6a8dlze.1"
#define UNKP "SIP/2.0/UDP h.example.com;foo;bar=baz;branch=z9hG4bK1;x"

struct sentby_case {
    const char *desc;
    const char *in;
    size_t len;
    struct want transport, host;
    int type, port;
};

/* clang-format off */
static const struct sentby_case sentby_cases[] = {
    {"IPv4 sent-by with port", IN(V1), W("UDP"), W("192.0.2.1"), SIP_HOST_IPV4, 5060},
    {"lower-case transport", IN("SIP/2.0/udp 192.0.2.10;branch=z9hG4bKx"), W("udp"),
     W("192.0.2.10"), SIP_HOST_IPV4, -1},
    {"SIP/2.0/UDP then a tab and spaces", IN("SIP/2.0/UDP\t  192.0.2.10:5060;branch=z9hG4bKx"),
     W("UDP"), W("192.0.2.10"), SIP_HOST_IPV4, 5060},
    {"LWS around the sent-by's ':'", IN("SIP/2.0/UDP 192.0.2.10 : 5060;branch=z9hG4bKx"),
     W("UDP"), W("192.0.2.10"), SIP_HOST_IPV4, 5060},
    {"TLS transport, long hostname", IN("SIP/2.0/TLS ss1.atlanta.example.com:5061;branch=z9hG4bK2"),
     W("TLS"), W("ss1.atlanta.example.com"), SIP_HOST_NAME, 5061},
    {"hostname sent-by without port", IN("SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds"),
     W("UDP"), W("pc33.atlanta.com"), SIP_HOST_NAME, -1},
    {"hostname with port, no params", IN("SIP/2.0/TCP client.atlanta.example.com:5060"),
     W("TCP"), W("client.atlanta.example.com"), SIP_HOST_NAME, 5060},
    {"IPv4 without port or params", IN("SIP/2.0/UDP 192.0.2.1"), W("UDP"), W("192.0.2.1"),
     SIP_HOST_IPV4, -1},
    {"IPv6 reference: host without its brackets (RFC 5118 4.1)",
     IN("SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111"), W("UDP"), W("2001:db8::9:1"),
     SIP_HOST_IPV6, -1},
    {"IPv6 reference with port (RFC 5118 4.7)",
     IN("SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111"), W("UDP"), W("2001:db8::9:1"),
     SIP_HOST_IPV6, 6050},
    {"IPv4-mapped IPv6 with port (RFC 5118 4.9)",
     IN("SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19"), W("UDP"),
     W("::ffff:192.0.2.10"), SIP_HOST_IPV6, 19823},
    {"IPv6 with embedded IPv4 (RFC 5118 4.10)", IN("SIP/2.0/UDP [2001:db8::192.0.2.1]"), W("UDP"),
     W("2001:db8::192.0.2.1"), SIP_HOST_IPV6, -1},
    {"IPv6 without port, no params", IN("SIP/2.0/TCP [::1]"), W("TCP"), W("::1"), SIP_HOST_IPV6,
     -1},
    {"port 0 is the lower bound", IN("SIP/2.0/UDP 192.0.2.1:0"), W("UDP"), W("192.0.2.1"),
     SIP_HOST_IPV4, 0},
    {"port 65535 is the upper bound", IN("SIP/2.0/UDP 192.0.2.1:65535"), W("UDP"), W("192.0.2.1"),
     SIP_HOST_IPV4, 65535},
    {"IPv6 reference with port 65535", IN("SIP/2.0/UDP [::1]:65535;rport"), W("UDP"), W("::1"),
     SIP_HOST_IPV6, 65535},
    {"transports: SCTP", IN("SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf"), W("SCTP"),
     W("t2.example.com"), SIP_HOST_NAME, -1},
    {"transports: TLS", IN("SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj"), W("TLS"),
     W("t3.example.com"), SIP_HOST_NAME, -1},
    {"transports: an unknown transport token",
     IN("SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en"), W("UNKNOWN"),
     W("t4.example.com"), SIP_HOST_NAME, -1},
    {"lower-case protocol and transport are kept as received", IN("sip/2.0/udp h.example.com"),
     W("udp"), W("h.example.com"), SIP_HOST_NAME, -1},
    {"wsinv: LWS and folds around '/' and before sent-by", IN(WSINV1), W("UDP"),
     W("192.0.2.2"), SIP_HOST_IPV4, -1},
    {"wsinv: LWS around the transport and before ';'", IN(WSINV2), W("TCP"),
     W("spindle.example.com"), SIP_HOST_NAME, -1},
    {"wsinv: second Via element", IN(WSINV3), W("UDP"), W("192.168.255.111"), SIP_HOST_IPV4, -1},
    {"tab fold and tabs as LWS", IN("SIP\r\n\t/\t2.0/UDP\t192.0.2.1"), W("UDP"), W("192.0.2.1"),
     SIP_HOST_IPV4, -1},
    {"LWS around the sent-by ':' (COLON = SWS \":\" SWS)",
     IN("SIP/2.0/UDP 192.0.2.1 : 5060;branch=z9hG4bK1"), W("UDP"), W("192.0.2.1"),
     SIP_HOST_IPV4, 5060},
    {"hostname with a trailing dot", IN("SIP/2.0/UDP example.com.;branch=z9hG4bK1"), W("UDP"),
     W("example.com."), SIP_HOST_NAME, -1},
    {"hostname label starting with a digit", IN("SIP/2.0/UDP 3com.example.com"), W("UDP"),
     W("3com.example.com"), SIP_HOST_NAME, -1},
    /* the fast path (28+ bytes, UDP/TCP/TLS, one SP, host of [A-Za-z0-9.-],
     * ';' at once) at its edges; what it leaves goes to the general path */
    {"fast: IPv4, port, branch", IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-sl-7c1e2f44"),
     W("UDP"), W("192.0.2.10"), SIP_HOST_IPV4, 5060},
    {"fast: TCP, bare rport after branch", IN("SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-1;rport"),
     W("TCP"), W("10.0.0.1"), SIP_HOST_IPV4, 5060},
    {"fast: 15-byte IPv4, 5-digit port", IN("SIP/2.0/UDP 255.255.255.255:65535;branch=z9hG4bK1"),
     W("UDP"), W("255.255.255.255"), SIP_HOST_IPV4, 65535},
    {"fast: port digits past the first 16 bytes",
     IN("SIP/2.0/UDP 192.0.2.100:50600;branch=z9hG4bK1"), W("UDP"), W("192.0.2.100"),
     SIP_HOST_IPV4, 50600},
    {"fast: one-digit port", IN("SIP/2.0/UDP a.example.com:5;branch=z9hG4bK12"), W("UDP"),
     W("a.example.com"), SIP_HOST_NAME, 5},
    {"fast: 16-byte hostname", IN("SIP/2.0/UDP abcdefgh.example.c;branch=z9hG4bK12"), W("UDP"),
     W("abcdefgh.example.c"), SIP_HOST_NAME, -1},
    {"fast: 31-byte hostname and port",
     IN("SIP/2.0/TLS abcdefghijklmnop.example.abcdefg:5061;branch=z9hG4bK1"), W("TLS"),
     W("abcdefghijklmnop.example.abcdefg"), SIP_HOST_NAME, 5061},
    {"fast: 32-byte hostname", IN("SIP/2.0/UDP abcdefghijklmnop.example.abcdefgh;branch=z9hG4bK1"),
     W("UDP"), W("abcdefghijklmnop.example.abcdefgh"), SIP_HOST_NAME, -1},
    {"fast: '_' in the hostname", IN("SIP/2.0/UDP host_x.example.com;branch=z9hG4bK1"), W("UDP"),
     W("host_x.example.com"), SIP_HOST_NAME, -1},
    {"fast: SP before the ';'", IN("SIP/2.0/UDP 192.0.2.10:5060 ;branch=z9hG4bK1234"), W("UDP"),
     W("192.0.2.10"), SIP_HOST_IPV4, 5060},
    {"fast: '_' in the branch", IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK_1234"), W("UDP"),
     W("192.0.2.10"), SIP_HOST_IPV4, 5060},
    {"fast: upper-case BRANCH", IN("SIP/2.0/UDP 192.0.2.10:5060;BRANCH=z9hG4bK1234"), W("UDP"),
     W("192.0.2.10"), SIP_HOST_IPV4, 5060},
    {"fast: received, rport, branch",
     IN("SIP/2.0/UDP 198.51.100.7:5060;received=198.51.100.7;rport=5060;branch=z9hG4bK74bf9"),
     W("UDP"), W("198.51.100.7"), SIP_HOST_IPV4, 5060},
    {"fast: SCTP is not one of the three",
     IN("SIP/2.0/SCTP 192.0.2.10:5060;branch=z9hG4bK1234"), W("SCTP"), W("192.0.2.10"),
     SIP_HOST_IPV4, 5060},
    {"fast: 'UDPX' transport", IN("SIP/2.0/UDPX 192.0.2.10:5060;branch=z9hG4bK1234"), W("UDPX"),
     W("192.0.2.10"), SIP_HOST_IPV4, 5060},
};
/* clang-format on */

enum via_field { F_PROTOCOL, F_VERSION, F_PARAMS, F_BRANCH, F_RECEIVED, F_MADDR, F_TTL, F_RPORT };

static const char *const via_field_name[] = {"protocol", "version", "params", "branch",
                                             "received", "maddr",   "ttl",    "rport"};

static struct span via_field(const struct sip_via *v, enum via_field f)
{
    switch (f) {
    case F_PROTOCOL: return v->protocol;
    case F_VERSION: return v->version;
    case F_PARAMS: return v->params;
    case F_BRANCH: return v->branch;
    case F_RECEIVED: return v->received;
    case F_MADDR: return v->maddr;
    case F_TTL: return v->ttl;
    case F_RPORT: return v->rport;
    }
    return SPAN_NULL;
}

struct field_case {
    const char *desc;
    const char *in;
    size_t len;
    enum via_field f;
    struct want want;
};

/* clang-format off */
static const struct field_case field_cases[] = {
    {"protocol name", IN(V1), F_PROTOCOL, W("SIP")},
    {"protocol version", IN(V1), F_VERSION, W("2.0")},
    {"wsinv: protocol name before a fold", IN(WSINV1), F_PROTOCOL, W("SIP")},
    {"wsinv: version between LWS and a fold", IN(WSINV1), F_VERSION, W("2.0")},
    {"branch", IN(V1), F_BRANCH, W("z9hG4bK776asdhds")},
    {"params start just after the first ';'", IN(V1), F_PARAMS, W("branch=z9hG4bK776asdhds")},
    {"no ';': params has length 0", IN("SIP/2.0/UDP 192.0.2.1"), F_PARAMS, NOLEN},
    {"no branch param: branch absent", IN("SIP/2.0/UDP 192.0.2.1;rport"), F_BRANCH, ABSENT},
    {"no received param: received absent", IN(V1), F_RECEIVED, ABSENT},
    {"no maddr param: maddr absent", IN(V1), F_MADDR, ABSENT},
    {"no ttl param: ttl absent", IN(V1), F_TTL, ABSENT},
    {"upper-case BRANCH", IN("SIP/2.0/UDP 192.0.2.10:5060;BRANCH=z9hG4bK-sl-7c1e2f44a9b0"),
     F_BRANCH, W("z9hG4bK-sl-7c1e2f44a9b0")},
    {"mixed-case Received", IN("SIP/2.0/UDP 198.51.100.7:5060;Received=198.51.100.7;branch=x"),
     F_RECEIVED, W("198.51.100.7")},
    {"upper-case RPORT without a value", IN("SIP/2.0/UDP 198.51.100.23:5060;RPORT;branch=z9hG4bKn"),
     F_RPORT, NOLEN},
    {"TTL", IN("SIP/2.0/UDP 198.51.100.23:5060;TTL=255;branch=z9hG4bKn"), F_TTL, W("255")},

    {"no rport param: rport absent", IN(V1), F_RPORT, ABSENT},
    {"wsinv: non-RFC 3261 branch kept as is", IN(WSINV1), F_BRANCH, W("390skdjuw")},
    {"wsinv: branch after folded LWS around '='", IN(WSINV2), F_BRANCH, W("z9hG4bK9ikj8")},
    {"wsinv: params keep the fold after ';'", IN(WSINV2), F_PARAMS,
     W("\r\n  branch  =   z9hG4bK9ikj8")},
    {"wsinv: fold right after '='", IN(WSINV3), F_BRANCH, W("z9hG4bK30239")},
    {"param names are case-insensitive", IN("SIP/2.0/UDP h;BRANCH=z9hG4bK1"), F_BRANCH,
     W("z9hG4bK1")},
    {"param values keep their case", IN("SIP/2.0/UDP h;Branch=Z9HG4BK1"), F_BRANCH,
     W("Z9HG4BK1")},
    {"intmeth: branch with unusual token bytes",
     IN("SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~"), F_BRANCH,
     W("z9hG4bK-.!%66*_+`'~")},
    {"badbranch: the bare cookie still parses", IN("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK"),
     F_BRANCH, W("z9hG4bK")},
    {"received IPv4 after branch (RFC 5118 4.7)", IN(RECV4), F_RECEIVED, W("192.0.2.200")},
    {"received IPv6 without brackets (RFC 5118 4.5)", IN(RECV6), F_RECEIVED,
     W("2001:db8::9:255")},
    {"received IPv6 without brackets: branch after it", IN(RECV6), F_BRANCH, W("z9hG4bKas3")},
    {"received IPv6 with brackets, as received (RFC 5118 4.5)", IN(RECV6B), F_RECEIVED,
     W("[2001:db8::9:255]")},
    {"received IPv6 with brackets: branch after it", IN(RECV6B), F_BRANCH, W("z9hG4bKas3-111")},
    {"maddr (RFC 3261 20.42 example)", IN(MADDR), F_MADDR, W("224.2.0.1")},
    {"ttl (RFC 3261 20.42 example)", IN(MADDR), F_TTL, W("16")},
    {"branch after ttl and maddr", IN(MADDR), F_BRANCH, W("z9hG4bKa7c6a8dlze.1")},
    {"rport with a value", IN("SIP/2.0/UDP 192.0.2.1;rport=5061;branch=z9hG4bK1"), F_RPORT,
     W("5061")},
    {"rport = value with LWS around '='", IN("SIP/2.0/UDP h ; rport = 5061"), F_RPORT, W("5061")},
    {"rport without a value: present and empty (RFC 3581)",
     IN("SIP/2.0/UDP 192.0.2.1;rport;branch=z9hG4bK1"), F_RPORT, W("")},
    {"rport without a value as the last param", IN("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;rport"),
     F_RPORT, W("")},
    {"RPORT: name is case-insensitive", IN("SIP/2.0/UDP 192.0.2.1;RPORT"), F_RPORT, W("")},
    {"a param named 'rports' is not rport", IN("SIP/2.0/UDP h;rports=1"), F_RPORT, ABSENT},
    {"a param named 'branchx' is not branch", IN("SIP/2.0/UDP h;branchx=1;branch=z9hG4bK2"),
     F_BRANCH, W("z9hG4bK2")},
    {"unknown params with and without value: branch between them", IN(UNKP), F_BRANCH,
     W("z9hG4bK1")},
    {"unknown params: params span covers them all", IN(UNKP), F_PARAMS,
     W("foo;bar=baz;branch=z9hG4bK1;x")},
    {"LWS around ';': params start right after the ';'", IN("SIP/2.0/UDP h ; branch=z9hG4bK1"),
     F_PARAMS, W(" branch=z9hG4bK1")},
    {"quoted value hides ';' and \"branch=\"",
     IN("SIP/2.0/UDP h;x=\"a;branch=evil\";branch=z9hG4bKgood"), F_BRANCH, W("z9hG4bKgood")},
    {"quoted value with an escaped quote",
     IN("SIP/2.0/UDP h;x=\"a\\\";branch=evil\";branch=z9hG4bKgood"), F_BRANCH, W("z9hG4bKgood")},
    {"quoted value with ',' and LWS", IN("SIP/2.0/UDP h;x=\"a, b\";branch=z9hG4bK1"), F_BRANCH,
     W("z9hG4bK1")},
    /* params of the fast path's common shape at the lengths of its vector
     * loads (16, 32, 64 bytes), and what it must leave to the general path */
    {"fast: params under 16 bytes", IN("SIP/2.0/UDP 192.0.2.10:5060;rport"), F_RPORT, W("")},
    {"fast: params of exactly 16 bytes", IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1"),
     F_BRANCH, W("z9hG4bK1")},
    {"fast: params of 63 bytes",
     IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), F_BRANCH, W("z9hG4bKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")},
    {"fast: params of 64 bytes",
     IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), F_BRANCH, W("z9hG4bKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")},
    {"fast: three params over three vectors",
     IN("SIP/2.0/UDP 192.0.2.10:5060;received=198.51.100.7;rport=5062;branch=z9hG4bK-sl-7c"),
     F_RPORT, W("5062")},
    {"fast: received among three params",
     IN("SIP/2.0/UDP 192.0.2.10:5060;received=198.51.100.7;rport=5062;branch=z9hG4bK-sl-7c"),
     F_RECEIVED, W("198.51.100.7")},
    {"fast: bare rport between two params",
     IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1;rport;x=1"), F_RPORT, W("")},
    {"fast: LWS after a ';'", IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1234; rport"),
     F_RPORT, W("")},
    {"fast: ':' in a value", IN("SIP/2.0/UDP 192.0.2.10:5060;x=a:b;branch=z9hG4bK1234"),
     F_BRANCH, W("z9hG4bK1234")},
    {"fast: '+' in a name", IN("SIP/2.0/UDP 192.0.2.10:5060;x+y=1;branch=z9hG4bK1234"),
     F_BRANCH, W("z9hG4bK1234")},
};
/* clang-format on */

struct bad_case {
    const char *desc;
    const char *in;
    size_t len;
};

/* clang-format off */
static const struct bad_case bad_cases[] = {
    {"empty value", IN("")},
    {"fast: octet 256", IN("SIP/2.0/UDP 192.0.2.256:5060;branch=z9hG4bK1234")},
    {"fast: port 65536", IN("SIP/2.0/UDP 192.0.2.10:65536;branch=z9hG4bK1234")},
    {"fast: six-digit port", IN("SIP/2.0/UDP 192.0.2.10:123456;branch=z9hG4bK123")},
    {"fast: ':' without a port", IN("SIP/2.0/UDP 192.0.2.10:;branch=z9hG4bK123456789")},
    {"fast: branch without a value", IN("SIP/2.0/UDP 192.0.2.10:5060;branch;rport=1234")},
    {"fast: empty octet", IN("SIP/2.0/UDP 192.0.2..10:5060;branch=z9hG4bK12345")},
    {"fast: five octets", IN("SIP/2.0/UDP 192.0.2.10.1:5060;branch=z9hG4bK12345")},
    {"fast: label starting with '-'", IN("SIP/2.0/UDP -a.example.com;branch=z9hG4bK12345")},
    {"fast: rport not a number", IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1;rport=5x")},
    {"fast: ttl above 255", IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1;ttl=300")},
    {"fast: ';' ending the value", IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1;")},
    {"fast: '@' after the host", IN("SIP/2.0/UDP 192.0.2.10@5060;branch=z9hG4bK1234")},
    {"fast: a second '='", IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1=2")},
    {"fast: '=' and no value before ';'", IN("SIP/2.0/UDP 192.0.2.10:5060;branch=;rport")},
    {"fast: received that is a name",
     IN("SIP/2.0/UDP 192.0.2.10:5060;received=a.example;branch=z9hG4bK1")},
    {"fast: ';' ending 63 bytes of params",
     IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;")},
    {"fast: ';' ending 64 bytes of params",
     IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;")},
    {"fast: '\"' in a value", IN("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\"x\"")},
    {"LWS only", IN("   ")},
    {"missing transport", IN("SIP/2.0 192.0.2.1")},
    {"empty transport", IN("SIP/2.0/ 192.0.2.1")},
    {"missing version", IN("SIP/UDP 192.0.2.1")},
    {"empty protocol name", IN("/2.0/UDP 192.0.2.1")},
    {"extra '/' part", IN("SIP/2.0/UDP/X 192.0.2.1")},
    {"missing sent-by", IN("SIP/2.0/UDP")},
    {"missing sent-by, LWS only", IN("SIP/2.0/UDP  ")},
    {"missing sent-by before params", IN("SIP/2.0/UDP ;branch=z9hG4bK1")},
    {"no LWS between transport and params", IN("SIP/2.0/UDP;branch=z9hG4bK1")},
    {"badinv01: empty params ';;'", IN("SIP/2.0/UDP 192.0.2.15;;")},
    {"empty param between two params", IN("SIP/2.0/UDP h;branch=z9hG4bK1;;rport")},
    {"trailing ';'", IN("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;")},
    {"lone ';' after sent-by", IN("SIP/2.0/UDP 192.0.2.1;")},
    {"param with no name", IN("SIP/2.0/UDP h;=1")},
    {"branch with '=' and no value", IN("SIP/2.0/UDP h;branch=")},
    {"rport with '=' and no value", IN("SIP/2.0/UDP h;rport=")},
    {"rport with a non-digit value (RFC 3581: 1*DIGIT)", IN("SIP/2.0/UDP h;rport=abc")},
    {"ttl above 255 (RFC 3261 25.1: ttl = 1*3DIGIT ; 0 to 255)", IN("SIP/2.0/UDP h;ttl=256")},
    {"ttl of four digits", IN("SIP/2.0/UDP h;ttl=1234")},
    {"received that is not an IP address", IN("SIP/2.0/UDP h;received=h2.example.com")},
    {"unterminated quoted param value", IN("SIP/2.0/UDP h;x=\"abc;branch=z9hG4bK1")},
    {"port 65536", IN("SIP/2.0/UDP 192.0.2.1:65536")},
    {"rport 65536", IN("SIP/2.0/UDP 192.0.2.1;rport=65536")},
    {"rport 99999 (would wrap to 34463)", IN("SIP/2.0/UDP 192.0.2.1;rport=99999")},
    {"port 99999", IN("SIP/2.0/UDP 192.0.2.1:99999;branch=z9hG4bK1")},
    {"six-digit port", IN("SIP/2.0/UDP 192.0.2.1:123456")},
    {"port 2^64 + 5060 (wraps in 64 bits)", IN("SIP/2.0/UDP h:18446744073709556676")},
    {"port 2^32 + 5060 (wraps in 32 bits)", IN("SIP/2.0/UDP h:4294972356")},
    {"empty port", IN("SIP/2.0/UDP 192.0.2.1:")},
    {"empty port before params", IN("SIP/2.0/UDP 192.0.2.1:;branch=z9hG4bK1")},
    {"negative port", IN("SIP/2.0/UDP 192.0.2.1:-1")},
    {"letters in the port", IN("SIP/2.0/UDP 192.0.2.1:50a0")},
    {"hex port", IN("SIP/2.0/UDP 192.0.2.1:0x50")},
    {"IPv6 reference with port 65536", IN("SIP/2.0/UDP [::1]:65536")},
    {"unclosed IPv6 reference", IN("SIP/2.0/UDP [2001:db8::9:1;branch=z9hG4bK1")},
    {"IPv6 address without brackets", IN("SIP/2.0/UDP 2001:db8::9:1")},
    {"IPv4 octet above 255", IN("SIP/2.0/UDP 192.0.2.256")},
    {"two Via values in one element", IN("SIP/2.0/UDP a.example.com, SIP/2.0/UDP b.example.com")},
    {"',' after the params", IN("SIP/2.0/UDP h;branch=z9hG4bK1,")},
    {"junk after sent-by", IN("SIP/2.0/UDP h.example.com junk")},
    {"junk after port", IN("SIP/2.0/UDP h.example.com:5060 junk")},
    {"'@' in sent-by", IN("SIP/2.0/UDP user@h.example.com")},
    {"sent-by in angle brackets", IN("SIP/2.0/UDP <h.example.com>")},
    {"NUL in the transport", IN("SIP/2.0/U\0DP h")},
    {"NUL in the host", IN("SIP/2.0/UDP 192.0.\0.1")},
    {"NUL after the host", IN("SIP/2.0/UDP 192.0.2.1\0;branch=z9hG4bK1")},
    {"NUL in the branch", IN("SIP/2.0/UDP h;branch=z9hG4bK\0x")},
    {"control byte in the branch", IN("SIP/2.0/UDP h;branch=z9hG4bK\x01x")},
    {"DEL in the host", IN("SIP/2.0/UDP h\x7f.example.com")},
    {"non-ASCII byte in the host", IN("SIP/2.0/UDP h\xc3\xa9.example.com")},
};

/* CR and LF belong in a value only as part of a fold (LWS = [*WSP CRLF] 1*WSP). */
static const struct bad_case linebreak_cases[] = {
    {"bare CR", IN("SIP/2.0/UDP h\r;branch=z9hG4bK1")},
    {"bare LF before sent-by", IN("SIP/2.0/UDP\nh.example.com")},
    {"CRLF not followed by WSP is not a fold", IN("SIP/2.0/UDP\r\nh.example.com")},
    {"trailing CRLF", IN("SIP/2.0/UDP h.example.com\r\n")},
};
/* clang-format on */

/* ---- tests ---- */

static void test_sip_via_reads_transport_and_sent_by(void **state)
{
    struct guard g = {0};
    struct sip_via v;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(sentby_cases); i++) {
        const struct sentby_case *c = &sentby_cases[i];
        int ret = via_run(&g, c->desc, c->in, c->len, &v);
        if (ret != 0) {
            print_error("%s: returns %d (%s), want 0\n", c->desc, ret, sip_err_name(ret));
            bad++;
            continue;
        }
        bad += !tc_same(c->desc, "transport", v.transport, c->transport);
        bad += !tc_same(c->desc, "sent-by host", v.sent_by.host, c->host);
        bad += !tc_same_int(c->desc, "host_type", v.sent_by.host_type, c->type);
        bad += !tc_same_int(c->desc, "port", v.sent_by.port, c->port);
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

static void test_sip_via_reads_params(void **state)
{
    struct guard g = {0};
    struct sip_via v;
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(field_cases); i++) {
        const struct field_case *c = &field_cases[i];
        int ret = via_run(&g, c->desc, c->in, c->len, &v);
        if (ret != 0) {
            print_error("%s: returns %d (%s), want 0\n", c->desc, ret, sip_err_name(ret));
            bad++;
            continue;
        }
        bad += !tc_same(c->desc, via_field_name[c->f], via_field(&v, c->f), c->want);
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

static int via_expect_evia(const struct bad_case *cases, size_t n)
{
    struct guard g = {0};
    struct sip_via v;
    int bad = 0;

    for (size_t i = 0; i < n; i++) {
        const struct bad_case *c = &cases[i];
        int ret = via_run(&g, c->desc, c->in, c->len, &v);
        if (ret != SIP_EVIA) {
            print_error("%s: returns %d (%s), want SIP_EVIA\n", c->desc, ret, sip_err_name(ret));
            bad++;
        }
    }
    guard_release(&g);
    return bad;
}

static void test_sip_via_rejects_malformed_values(void **state)
{
    (void)state;
    assert_int_equal(via_expect_evia(bad_cases, N_ELEMS(bad_cases)), 0);
}

/* A forwarder answers rport by inserting "=port" at rport.p (RFC 3581 §4). */
struct rport_case {
    const char *desc;
    const char *in;
    size_t len;
    size_t at; /* offset just after "rport" */
};

#define AT(prefix) (sizeof(prefix) - 1)

/* clang-format off */
static const struct rport_case rport_cases[] = {
    {"rport before branch", IN("SIP/2.0/UDP 192.0.2.1;rport;branch=z9hG4bK1"),
     AT("SIP/2.0/UDP 192.0.2.1;rport")},
    {"rport as the last param", IN("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;rport"),
     AT("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;rport")},
    {"rport with LWS around it", IN("SIP/2.0/UDP h.example.com ; rport ; branch=z9hG4bK1"),
     AT("SIP/2.0/UDP h.example.com ; rport")},
    {"rport folded onto the next line",
     IN("SIP/2.0/UDP [::1]:5060;\r\n rport\r\n ;branch=z9hG4bK1"),
     AT("SIP/2.0/UDP [::1]:5060;\r\n rport")},
};
/* clang-format on */

static void test_sip_via_keeps_rport_insertion_point(void **state)
{
    struct guard g = {0};
    struct sip_via v;
    char edited[256];
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(rport_cases); i++) {
        const struct rport_case *c = &rport_cases[i];
        const char *buf = guard_copy(&g, c->in, c->len);

        memset(&v, 0xa5, sizeof v);
        int ret = sip_via_parse(span_make(buf, c->len), &v);
        if (ret != 0 || !via_sane(c->desc, &v, buf, c->len)) {
            print_error("%s: returns %d (%s), want 0\n", c->desc, ret, sip_err_name(ret));
            bad++;
            continue;
        }
        if (v.rport.p != buf + c->at || v.rport.len != 0) {
            print_error("%s: rport at offset %td len %zu, want offset %zu len 0\n", c->desc,
                        v.rport.p == NULL ? (ptrdiff_t)-1 : v.rport.p - buf, v.rport.len, c->at);
            bad++;
            continue;
        }
        /* What the forwarder does: splice "=5060" in there; the result must read rport=5060
         * and leave the sent-by port as it was. */
        int32_t port = v.sent_by.port;
        size_t n = 0;
        memcpy(edited, c->in, c->at);
        n += c->at;
        memcpy(edited + n, "=5060", 5);
        n += 5;
        memcpy(edited + n, c->in + c->at, c->len - c->at);
        n += c->len - c->at;
        ret = via_run(&g, c->desc, edited, n, &v);
        if (ret != 0) {
            print_error("%s: after inserting \"=5060\" returns %d\n", c->desc, ret);
            bad++;
            continue;
        }
        bad +=
            !tc_same(c->desc, "rport after inserting \"=5060\"", v.rport, (struct want)W("5060"));
        bad += !tc_same_int(c->desc, "port after inserting \"=5060\"", v.sent_by.port, port);
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

static void test_sip_via_survives_every_truncated_prefix(void **state)
{
    struct guard g = {0};
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(sentby_cases); i++)
        bad += via_prefixes(&g, sentby_cases[i].desc, sentby_cases[i].in, sentby_cases[i].len);
    for (size_t i = 0; i < N_ELEMS(field_cases); i++)
        bad += via_prefixes(&g, field_cases[i].desc, field_cases[i].in, field_cases[i].len);
    for (size_t i = 0; i < N_ELEMS(bad_cases); i++)
        bad += via_prefixes(&g, bad_cases[i].desc, bad_cases[i].in, bad_cases[i].len);
    for (size_t i = 0; i < N_ELEMS(rport_cases); i++)
        bad += via_prefixes(&g, rport_cases[i].desc, rport_cases[i].in, rport_cases[i].len);
    for (size_t i = 0; i < N_ELEMS(linebreak_cases); i++)
        bad += via_prefixes(&g, linebreak_cases[i].desc, linebreak_cases[i].in,
                            linebreak_cases[i].len);
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/* A prefix that cuts a valid Via inside its port must give the shorter port, not garbage. */
static void test_sip_via_reads_a_cut_port_as_the_shorter_port(void **state)
{
    static const char in[] = "SIP/2.0/UDP 192.0.2.1:5060";
    static const long ports[] = {5, 50, 506, 5060};
    struct guard g = {0};
    struct sip_via v;
    int bad = 0;

    (void)state;
    for (size_t k = 0; k < N_ELEMS(ports); k++) {
        size_t n = sizeof in - 1 - 3 + k;
        int ret = via_run(&g, "cut port", in, n, &v);
        bad += !tc_same_int("cut port", "return", ret, 0);
        if (ret == 0)
            bad += !tc_same_int("cut port", "port", v.sent_by.port, ports[k]);
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/* wsinv's second Via header line: two folded elements, split by sip_list_next. */
static void test_sip_via_parses_each_element_of_the_wsinv_list(void **state)
{
    static const char value[] = WSINV2 "  ,\r\n " WSINV3;
    struct guard g = {0};
    struct sip_via v;
    struct span list, item;
    int bad = 0, n = 0;

    (void)state;
    list = span_make(guard_copy(&g, value, sizeof value - 1), sizeof value - 1);
    while (n < 4 && sip_list_next(&list, &item) == 1) {
        memset(&v, 0xa5, sizeof v);
        int ret = sip_via_parse(item, &v);
        n++;
        if (ret != 0) {
            print_error("wsinv list: element %d returns %d\n", n, ret);
            bad++;
            continue;
        }
        bad += !tc_same("wsinv list", "transport", v.transport,
                        n == 1 ? (struct want)W("TCP") : (struct want)W("UDP"));
        bad += !tc_same("wsinv list", "branch", v.branch,
                        n == 1 ? (struct want)W("z9hG4bK9ikj8") : (struct want)W("z9hG4bK30239"));
    }
    bad += !tc_same_int("wsinv list", "elements", n, 2);
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/* badinv01: "Via: SIP/2.0/UDP 192.0.2.15;;,;,," - no element of it is a Via. */
static void test_sip_via_rejects_every_element_of_badinv01(void **state)
{
    static const char value[] = "SIP/2.0/UDP 192.0.2.15;;,;,,";
    struct guard g = {0};
    struct sip_via v;
    struct span list, item;
    int bad = 0, n = 0, ret;

    (void)state;
    list = span_make(guard_copy(&g, value, sizeof value - 1), sizeof value - 1);
    while (n < 8 && (ret = sip_list_next(&list, &item)) == 1) {
        n++;
        ret = sip_via_parse(item, &v);
        if (ret != SIP_EVIA) {
            print_error("badinv01: element %d returns %d, want SIP_EVIA\n", n, ret);
            bad++;
        }
    }
    if (n < 3) {
        print_error("badinv01: only %d elements, want at least 3\n", n);
        bad++;
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

struct branch_case {
    const char *desc;
    const char *in;
    size_t len;
    bool rfc3261;
};

/* clang-format off */
static const struct branch_case branch_cases[] = {
    {"cookie and a suffix", IN("z9hG4bK776asdhds"), true},
    {"cookie and one byte", IN("z9hG4bK1"), true},
    {"intmeth: cookie and unusual token bytes", IN("z9hG4bK-.!%66*_+`'~"), true},
    {"badbranch: the bare cookie", IN("z9hG4bK"), false},
    {"upper-case cookie", IN("Z9HG4BK1"), false},
    {"lower-case cookie", IN("z9hg4bk1"), false},
    {"one cookie letter in the other case", IN("z9hG4BK776asdhds"), false},
    {"cookie not at the start", IN("xz9hG4bK776asdhds"), false},
    {"wsinv: RFC 2543 branch", IN("390skdjuw"), false},
    {"six bytes of the cookie", IN("z9hG4b"), false},
    {"empty", IN(""), false},
};
/* clang-format on */

static void test_sip_branch_needs_the_exact_cookie_and_more(void **state)
{
    struct guard g = {0};
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(branch_cases); i++) {
        const struct branch_case *c = &branch_cases[i];
        const char *buf = guard_copy(&g, c->in, c->len);
        bool got = sip_branch_is_rfc3261(span_make(buf, c->len));
        if (got != c->rfc3261) {
            print_error("%s: sip_branch_is_rfc3261 is %d, want %d\n", c->desc, got, c->rfc3261);
            bad++;
        }
    }
    if (sip_branch_is_rfc3261(SPAN_NULL)) {
        print_error("absent branch (SPAN_NULL) is RFC 3261\n");
        bad++;
    }
    /* Every prefix of a good branch: only those holding the cookie and one more byte pass. */
    static const char good[] = "z9hG4bK776asdhds";
    for (size_t n = 0; n < sizeof good; n++) {
        const char *buf = guard_copy(&g, good, n);
        if (sip_branch_is_rfc3261(span_make(buf, n)) != (n >= 8)) {
            print_error("prefix of %zu bytes of \"%s\": wrong answer\n", n, good);
            bad++;
        }
    }
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/* The branch a Via parse yields is what sip_branch_is_rfc3261 judges (badbranch, wsinv). */
static void test_sip_branch_of_parsed_vias_is_judged_by_its_bytes(void **state)
{
    struct guard g = {0};
    struct sip_via v;
    int bad = 0;

    (void)state;
    assert_int_equal(via_run(&g, "V1", IN(V1), &v), 0);
    bad += !sip_branch_is_rfc3261(v.branch);
    assert_int_equal(via_run(&g, "badbranch", IN("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK"), &v), 0);
    bad += sip_branch_is_rfc3261(v.branch);
    assert_int_equal(via_run(&g, "wsinv", IN(WSINV1), &v), 0);
    bad += sip_branch_is_rfc3261(v.branch);
    assert_int_equal(via_run(&g, "no branch", IN("SIP/2.0/UDP 192.0.2.1"), &v), 0);
    bad += sip_branch_is_rfc3261(v.branch);
    guard_release(&g);
    assert_int_equal(bad, 0);
}

/* An absent header (sip_hvalue gives SPAN_NULL) is an error, computed without NULL + 0 (UB). */
static void test_sip_via_rejects_an_absent_value(void **state)
{
    struct sip_via v;

    (void)state;
    assert_int_equal(sip_via_parse(SPAN_NULL, &v), SIP_EVIA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sip_via_reads_transport_and_sent_by),
        cmocka_unit_test(test_sip_via_reads_params),
        cmocka_unit_test(test_sip_via_rejects_malformed_values),
        cmocka_unit_test(test_sip_via_keeps_rport_insertion_point),
        cmocka_unit_test(test_sip_via_survives_every_truncated_prefix),
        cmocka_unit_test(test_sip_via_reads_a_cut_port_as_the_shorter_port),
        cmocka_unit_test(test_sip_via_parses_each_element_of_the_wsinv_list),
        cmocka_unit_test(test_sip_via_rejects_every_element_of_badinv01),
        cmocka_unit_test(test_sip_branch_needs_the_exact_cookie_and_more),
        cmocka_unit_test(test_sip_branch_of_parsed_vias_is_judged_by_its_bytes),
        cmocka_unit_test(test_sip_via_rejects_an_absent_value), /* last: UB aborts under clang */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
