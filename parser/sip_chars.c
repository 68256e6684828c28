/*
 * sip_chars.c - the character class table, computed by the compiler from the
 * RFC 3261 §25 grammar below, so the 256 entries cannot drift from the rules.
 */
#include "parser/sip_chars.h"

#define LOWER(c) ((c) >= 'a' && (c) <= 'z')
#define UPPER(c) ((c) >= 'A' && (c) <= 'Z')
#define DIGIT(c) ((c) >= '0' && (c) <= '9')
#define ALPHA(c) (LOWER(c) || UPPER(c))
#define ALNUM(c) (ALPHA(c) || DIGIT(c))
#define HEX(c) (DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
/* mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")" */
#define MARK(c)                                                                                    \
    ((c) == '-' || (c) == '_' || (c) == '.' || (c) == '!' || (c) == '~' || (c) == '*' ||           \
     (c) == '\'' || (c) == '(' || (c) == ')')
#define UNRESERVED(c) (ALNUM(c) || MARK(c))
/* token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
#define TOKEN(c)                                                                                   \
    (ALNUM(c) || (c) == '-' || (c) == '.' || (c) == '!' || (c) == '%' || (c) == '*' ||             \
     (c) == '_' || (c) == '+' || (c) == '`' || (c) == '\'' || (c) == '~')
/* user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/" */
#define USER(c)                                                                                    \
    (UNRESERVED(c) || (c) == '%' || (c) == '&' || (c) == '=' || (c) == '+' || (c) == '$' ||        \
     (c) == ',' || (c) == ';' || (c) == '?' || (c) == '/')
#define PASS(c)                                                                                    \
    (UNRESERVED(c) || (c) == '%' || (c) == '&' || (c) == '=' || (c) == '+' || (c) == '$' ||        \
     (c) == ',')
/* param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$" */
#define PARAM(c)                                                                                   \
    (UNRESERVED(c) || (c) == '%' || (c) == '[' || (c) == ']' || (c) == '/' || (c) == ':' ||        \
     (c) == '&' || (c) == '+' || (c) == '$')
/* hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$", plus the = and & between headers */
#define HNV(c)                                                                                     \
    (UNRESERVED(c) || (c) == '%' || (c) == '[' || (c) == ']' || (c) == '/' || (c) == '?' ||        \
     (c) == ':' || (c) == '+' || (c) == '$' || (c) == '=' || (c) == '&')
/* word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" /
 *        "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}") */
#define WORD(c)                                                                                    \
    (TOKEN(c) || (c) == '(' || (c) == ')' || (c) == '<' || (c) == '>' || (c) == ':' ||             \
     (c) == '\\' || (c) == '"' || (c) == '/' || (c) == '[' || (c) == ']' || (c) == '?' ||          \
     (c) == '{' || (c) == '}')

#define CLASS(c)                                                                                   \
    (uint16_t)((TOKEN(c) ? SIP_C_TOKEN : 0) |                                                      \
               (((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n') ? SIP_C_WS : 0) |        \
               (DIGIT(c) ? SIP_C_DIGIT : 0) | (HEX(c) ? SIP_C_HEX : 0) |                           \
               ((ALNUM(c) || (c) == '-' || (c) == '.' || (c) == '_') ? SIP_C_HOST : 0) |           \
               (USER(c) ? SIP_C_USER : 0) | (PASS(c) ? SIP_C_PASS : 0) |                           \
               (PARAM(c) ? SIP_C_PARAM : 0) | (HNV(c) ? SIP_C_HNV : 0) |                           \
               (((c) < 0x20 || (c) == 0x7f) ? SIP_C_CTL : 0) | (ALPHA(c) ? SIP_C_ALPHA : 0) |      \
               (WORD(c) ? SIP_C_WORD : 0) |                                                        \
               ((HEX(c) || (c) == ':' || (c) == '.') ? SIP_C_IPV6 : 0) |                           \
               ((ALNUM(c) || (c) == '+' || (c) == '-' || (c) == '.') ? SIP_C_SCHEME : 0) |         \
               ((TOKEN(c) || (c) == '[' || (c) == ']' || (c) == ':') ? SIP_C_GENVAL : 0))

#define R4(b) CLASS(b), CLASS(b + 1), CLASS(b + 2), CLASS(b + 3)
#define R16(b) R4(b), R4(b + 4), R4(b + 8), R4(b + 12)
#define R64(b) R16(b), R16(b + 16), R16(b + 32), R16(b + 48)

/* Bytes 0x80-0xFF (UTF-8) belong to no class: they are carried, never interpreted. */
const uint16_t sip_cc[256] = {R64(0), R64(64)};
