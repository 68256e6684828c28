/*
 * sip_hname.c - header names and methods to ids.
 *
 * Dispatch is by length first, then a case-insensitive compare against one
 * lower-case literal (G9): most lengths have one or two candidates, so a
 * lookup is a switch and at most a couple of short compares.
 */
#include "parser/sip.h"

static const struct span canonical[SIP_H__COUNT] = {
    [SIP_H_OTHER] = SPAN_LIT(""),
    [SIP_H_VIA] = SPAN_LIT("Via"),
    [SIP_H_CALL_ID] = SPAN_LIT("Call-ID"),
    [SIP_H_FROM] = SPAN_LIT("From"),
    [SIP_H_TO] = SPAN_LIT("To"),
    [SIP_H_CSEQ] = SPAN_LIT("CSeq"),
    [SIP_H_MAX_FORWARDS] = SPAN_LIT("Max-Forwards"),
    [SIP_H_ROUTE] = SPAN_LIT("Route"),
    [SIP_H_RECORD_ROUTE] = SPAN_LIT("Record-Route"),
    [SIP_H_PATH] = SPAN_LIT("Path"),
    [SIP_H_CONTACT] = SPAN_LIT("Contact"),
    [SIP_H_CONTENT_LENGTH] = SPAN_LIT("Content-Length"),
    [SIP_H_CONTENT_TYPE] = SPAN_LIT("Content-Type"),
    [SIP_H_SUPPORTED] = SPAN_LIT("Supported"),
    [SIP_H_REQUIRE] = SPAN_LIT("Require"),
    [SIP_H_PROXY_REQUIRE] = SPAN_LIT("Proxy-Require"),
    [SIP_H_EXPIRES] = SPAN_LIT("Expires"),
    [SIP_H_USER_AGENT] = SPAN_LIT("User-Agent"),
    [SIP_H_SUBJECT] = SPAN_LIT("Subject"),
    [SIP_H_CONTENT_ENCODING] = SPAN_LIT("Content-Encoding"),
    [SIP_H_EVENT] = SPAN_LIT("Event"),
    [SIP_H_REFER_TO] = SPAN_LIT("Refer-To"),
    [SIP_H_ALLOW_EVENTS] = SPAN_LIT("Allow-Events"),
};

/* Compact forms (RFC 3261 §7.3.3, RFC 3265, RFC 3515), indexed by letter. */
static enum sip_hid compact_id(unsigned char c)
{
    switch (c | 0x20) {
    case 'v': return SIP_H_VIA;
    case 'i': return SIP_H_CALL_ID;
    case 'f': return SIP_H_FROM;
    case 't': return SIP_H_TO;
    case 'm': return SIP_H_CONTACT;
    case 'l': return SIP_H_CONTENT_LENGTH;
    case 'c': return SIP_H_CONTENT_TYPE;
    case 'k': return SIP_H_SUPPORTED;
    case 's': return SIP_H_SUBJECT;
    case 'e': return SIP_H_CONTENT_ENCODING;
    case 'o': return SIP_H_EVENT;
    case 'r': return SIP_H_REFER_TO;
    case 'u': return SIP_H_ALLOW_EVENTS;
    default: return SIP_H_OTHER;
    }
}

/* Token bytes that | 0x20 turns into a lower-case letter are exactly the
 * upper-case letters, so this fold is exact for validated tokens; '-' maps
 * to itself. */
static bool fold_eq(struct span name, struct span lower)
{
    for (size_t i = 0; i < name.len; i++)
        if ((name.p[i] | 0x20) != lower.p[i])
            return false;
    return true;
}

enum sip_hid sip_hname_id(struct span name)
{
    /* by length first: most lengths have one candidate, so a miss costs a switch */
    switch (name.len) {
    case 1: return compact_id((unsigned char)name.p[0]);
    case 2:
        if (fold_eq(name, SPAN_LIT("to")))
            return SIP_H_TO;
        break;
    case 3:
        if (fold_eq(name, SPAN_LIT("via")))
            return SIP_H_VIA;
        break;
    case 4:
        if (fold_eq(name, SPAN_LIT("from")))
            return SIP_H_FROM;
        if (fold_eq(name, SPAN_LIT("cseq")))
            return SIP_H_CSEQ;
        if (fold_eq(name, SPAN_LIT("path")))
            return SIP_H_PATH;
        break;
    case 5:
        if (fold_eq(name, SPAN_LIT("route")))
            return SIP_H_ROUTE;
        if (fold_eq(name, SPAN_LIT("event")))
            return SIP_H_EVENT;
        break;
    case 7:
        if (fold_eq(name, SPAN_LIT("call-id")))
            return SIP_H_CALL_ID;
        if (fold_eq(name, SPAN_LIT("contact")))
            return SIP_H_CONTACT;
        if (fold_eq(name, SPAN_LIT("expires")))
            return SIP_H_EXPIRES;
        if (fold_eq(name, SPAN_LIT("require")))
            return SIP_H_REQUIRE;
        if (fold_eq(name, SPAN_LIT("subject")))
            return SIP_H_SUBJECT;
        break;
    case 8:
        if (fold_eq(name, SPAN_LIT("refer-to")))
            return SIP_H_REFER_TO;
        break;
    case 9:
        if (fold_eq(name, SPAN_LIT("supported")))
            return SIP_H_SUPPORTED;
        break;
    case 10:
        if (fold_eq(name, SPAN_LIT("user-agent")))
            return SIP_H_USER_AGENT;
        break;
    case 12:
        if (fold_eq(name, SPAN_LIT("max-forwards")))
            return SIP_H_MAX_FORWARDS;
        if (fold_eq(name, SPAN_LIT("record-route")))
            return SIP_H_RECORD_ROUTE;
        if (fold_eq(name, SPAN_LIT("content-type")))
            return SIP_H_CONTENT_TYPE;
        if (fold_eq(name, SPAN_LIT("allow-events")))
            return SIP_H_ALLOW_EVENTS;
        break;
    case 13:
        if (fold_eq(name, SPAN_LIT("proxy-require")))
            return SIP_H_PROXY_REQUIRE;
        break;
    case 14:
        if (fold_eq(name, SPAN_LIT("content-length")))
            return SIP_H_CONTENT_LENGTH;
        break;
    case 16:
        if (fold_eq(name, SPAN_LIT("content-encoding")))
            return SIP_H_CONTENT_ENCODING;
        break;
    }
    return SIP_H_OTHER;
}

struct span sip_hname_canonical(enum sip_hid id)
{
    return (unsigned)id < SIP_H__COUNT ? canonical[id] : canonical[SIP_H_OTHER];
}

enum sip_method sip_method_id(struct span m)
{
    static const struct {
        struct span name;
        enum sip_method id;
    } methods[] = {
        {SPAN_LIT("INVITE"), SIP_M_INVITE},
        {SPAN_LIT("ACK"), SIP_M_ACK},
        {SPAN_LIT("BYE"), SIP_M_BYE},
        {SPAN_LIT("CANCEL"), SIP_M_CANCEL},
        {SPAN_LIT("REGISTER"), SIP_M_REGISTER},
        {SPAN_LIT("OPTIONS"), SIP_M_OPTIONS},
        {SPAN_LIT("INFO"), SIP_M_INFO},
        {SPAN_LIT("PRACK"), SIP_M_PRACK},
        {SPAN_LIT("SUBSCRIBE"), SIP_M_SUBSCRIBE},
        {SPAN_LIT("NOTIFY"), SIP_M_NOTIFY},
        {SPAN_LIT("UPDATE"), SIP_M_UPDATE},
        {SPAN_LIT("MESSAGE"), SIP_M_MESSAGE},
        {SPAN_LIT("REFER"), SIP_M_REFER},
        {SPAN_LIT("PUBLISH"), SIP_M_PUBLISH},
    };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (span_eq(m, methods[i].name))
            return methods[i].id;
    return SIP_M_OTHER;
}
