/*
 * sip_chars.h - character classes and small scanners shared by the parser's
 * files (internal to parser/). One 256-entry table, one bit per class, as
 * picohttpparser's token_char_map and nginx's usual[] do: a class test is one
 * load and one AND, with no branches on the character's value.
 */
#ifndef VIADUCT_SIP_CHARS_H
#define VIADUCT_SIP_CHARS_H

#include <stdint.h>

#include "parser/sip.h"

enum {
    SIP_C_TOKEN = 1 << 0, /* RFC 3261 token */
    SIP_C_WS = 1 << 1,    /* SP HTAB CR LF: inside a value CR/LF only occur in folds */
    SIP_C_DIGIT = 1 << 2,
    SIP_C_HEX = 1 << 3,
    SIP_C_HOST = 1 << 4,  /* hostname and IPv4 bytes: alnum - . _ (_ tolerated) */
    SIP_C_USER = 1 << 5,  /* URI user: unreserved, user-unreserved, % */
    SIP_C_PASS = 1 << 6,  /* URI password: unreserved & = + $ , % */
    SIP_C_PARAM = 1 << 7, /* URI param: unreserved, param-unreserved, % */
    SIP_C_HNV = 1 << 8,   /* URI headers: unreserved, hnv-unreserved, % = & */
    SIP_C_CTL = 1 << 9,   /* 0x00-0x1F and 0x7F: where the value scanner stops */
    SIP_C_ALPHA = 1 << 10,
    SIP_C_WORD = 1 << 11,   /* Call-ID word */
    SIP_C_IPV6 = 1 << 12,   /* hex : . inside an IPv6 reference */
    SIP_C_SCHEME = 1 << 13, /* ALPHA DIGIT + - . */
};

extern const uint16_t sip_cc[256];

static inline int sip_is(char c, unsigned cls)
{
    return sip_cc[(uint8_t)c] & cls;
}

/* First byte at or after p that is not in cls, or end. */
static inline const char *sip_skip(const char *p, const char *end, unsigned cls)
{
    while (p < end && sip_is(*p, cls))
        p++;
    return p;
}

static inline const char *sip_skip_ws(const char *p, const char *end)
{
    return sip_skip(p, end, SIP_C_WS);
}

/* s without leading and trailing SP/HTAB/CR/LF. */
static inline struct span sip_trim(struct span s)
{
    const char *p = s.p, *end = s.p + s.len;
    while (p < end && sip_is(*p, SIP_C_WS))
        p++;
    while (end > p && sip_is(end[-1], SIP_C_WS))
        end--;
    return span_range(p, end);
}

/*
 * p points at an opening '"'. Returns the byte after the closing quote, or
 * NULL if the string does not close before end. A backslash escapes any one
 * byte (quoted-pair), so "\"" does not close it.
 */
static inline const char *sip_scan_quoted(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '"')
            return p + 1;
        if (*p == '\\' && ++p == end)
            return NULL;
    }
    return NULL;
}

/* IP literals as RFC 3261 and RFC 5118 write them (sip_uri.c). */
bool sip_ipv4_ok(struct span h);
bool sip_ipv6_ok(struct span h); /* without brackets */

#endif
