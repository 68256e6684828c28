/*
 * sip_hname.c - header names and methods to ids.
 *
 * Dispatch is by length first, then a case-insensitive compare against one
 * lower-case literal (G9): most lengths have one or two candidates, so a
 * lookup is a switch and at most a couple of short compares, each one or two
 * folded word loads (sip_eq_lit_fold). The name lookup itself is
 * sip_hname_lookup() in sip_chars.h, so that sip_parse inlines it.
 */
#include "parser/sip_chars.h"

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

enum sip_hid sip_hname_id(struct span name)
{
    return sip_hname_lookup(name);
}

struct span sip_hname_canonical(enum sip_hid id)
{
    return (unsigned)id < SIP_H__COUNT ? canonical[id] : canonical[SIP_H_OTHER];
}

/* m equals the upper-case method literal L exactly (methods are case-sensitive). */
#define IS(L) sip_eq_lit(m.p, (L), sizeof(L) - 1)

enum sip_method sip_method_id(struct span m)
{
    /* by length, then one or two whole-word compares: once per request */
    switch (m.len) {
    case 3:
        if (IS("ACK"))
            return SIP_M_ACK;
        if (IS("BYE"))
            return SIP_M_BYE;
        break;
    case 4: return IS("INFO") ? SIP_M_INFO : SIP_M_OTHER;
    case 5:
        if (IS("PRACK"))
            return SIP_M_PRACK;
        if (IS("REFER"))
            return SIP_M_REFER;
        break;
    case 6:
        if (IS("INVITE"))
            return SIP_M_INVITE;
        if (IS("CANCEL"))
            return SIP_M_CANCEL;
        if (IS("NOTIFY"))
            return SIP_M_NOTIFY;
        if (IS("UPDATE"))
            return SIP_M_UPDATE;
        break;
    case 7:
        if (IS("OPTIONS"))
            return SIP_M_OPTIONS;
        if (IS("MESSAGE"))
            return SIP_M_MESSAGE;
        if (IS("PUBLISH"))
            return SIP_M_PUBLISH;
        break;
    case 8: return IS("REGISTER") ? SIP_M_REGISTER : SIP_M_OTHER;
    case 9: return IS("SUBSCRIBE") ? SIP_M_SUBSCRIBE : SIP_M_OTHER;
    }
    return SIP_M_OTHER;
}

#undef IS
