/*
 * sip_msg_diff.h - compares two parses of one buffer field by field: the
 * check that sip_parse()'s fast pass gives what its careful pass gives
 * (sip_parse_careful), used by test_sip_parse on every input of its tables
 * and truncations and by the fuzzer on every input it makes. Header-only,
 * so the fuzzer builds from parser/ sources and this file alone.
 */
#ifndef VIADUCT_TEST_SIP_MSG_DIFF_H
#define VIADUCT_TEST_SIP_MSG_DIFF_H

#include "parser/sip.h"

static inline bool sip_span_same(struct span a, struct span b)
{
    return a.p == b.p && a.len == b.len;
}

/* The name of the first field in which the results (ra, a) and (rb, b) of
 * two parses of the same buffer differ, or NULL if they agree. Fields that
 * sip.h leaves unset after an error (hdr_len, msg_len, body) count only
 * after success. */
static inline const char *sip_msg_diff(int ra, const struct sip_msg *a, int rb,
                                       const struct sip_msg *b)
{
    if (ra != rb)
        return "return value";
    if (a->err_at != b->err_at)
        return "err_at";
    if (a->is_request != b->is_request || a->method_id != b->method_id || a->status != b->status)
        return "is_request, method_id or status";
    if (!sip_span_same(a->method, b->method) || !sip_span_same(a->ruri, b->ruri) ||
        !sip_span_same(a->version, b->version) || !sip_span_same(a->reason, b->reason))
        return "start line spans";
    if (a->nhdr != b->nhdr || a->nvia != b->nvia || a->clen != b->clen)
        return "nhdr, nvia or clen";
    for (int id = 0; id < SIP_H__COUNT; id++)
        if (a->first[id] != b->first[id])
            return "first[]";
    for (unsigned i = 0; i < a->nhdr; i++) {
        const struct sip_hdr *x = &a->hdr[i], *y = &b->hdr[i];
        if (!sip_span_same(x->name, y->name) || !sip_span_same(x->value, y->value) ||
            x->line_len != y->line_len || x->id != y->id)
            return "hdr[]";
    }
    for (unsigned i = 0; i < a->nvia; i++)
        if (!sip_span_same(a->via[i], b->via[i]) || a->via_hdr[i] != b->via_hdr[i])
            return "via[] or via_hdr[]";
    if (ra > 0 &&
        (a->hdr_len != b->hdr_len || a->msg_len != b->msg_len || !sip_span_same(a->body, b->body)))
        return "hdr_len, msg_len or body";
    return NULL;
}

#endif
