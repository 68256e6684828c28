/*
 * px_tcp.c - what the proxy does differently for a message that came over TCP: the Via
 * token that brings its response back to the connection (PX_VTC, px.h), and the 400 for a
 * stream that cannot be framed.
 */
#include "core/px_internal.h"

#include <string.h>

bool px_is_tcp_out(const struct px_ctx *c, const struct sip_via *v)
{
    if (!c->ps->has_tcp_out)
        return false;
    for (int k = 0; k < 2; k++) {
        const struct px_listen *l = &c->ps->tcp_out[k];
        if (c->ps->tcp_out_sock[k] >= 0 && v->sent_by.port == l->port &&
            span_eq_nocase(v->sent_by.host, span_make(l->host, l->host_len)))
            return true;
    }
    return false;
}

bool px_vtc_read(struct px_ctx *c, const struct sip_via *top, uint64_t *conn, unsigned *wk)
{
    /* where px_emit wrote it: right after the send time that follows the branch. A fixed
     * place, not a search: every response passes here, and a memmem over the Via's
     * parameters cost the UDP path a few percent */
    size_t k = sizeof(PX_VTC) - 1;
    const char *end = span_end(top->params);
    *conn = 0;
    *wk = 0;
    if (top->branch.p == NULL)
        return true;
    const char *p = span_end(top->branch) + (sizeof(PX_VDT) - 1) + 8;
    if (p > end || (size_t)(end - p) < k || memcmp(p, PX_VTC, k) != 0)
        return true; /* a datagram's: sent as one */
    p += k;
    /* two hex digits of worker, sixteen of handle, then the end or the next parameter */
    char wkx[8] = {'0', '0', '0', '0', '0', '0', 0, 0};
    uint32_t w = 0, hi = 0, lo = 0;
    if (end - p < 18 || (end - p > 18 && p[18] != ';'))
        goto bad;
    memcpy(wkx + 6, p, 2);
    if (!px_unhex8(wkx, &w) || !px_unhex8(p + 2, &hi) || !px_unhex8(p + 10, &lo) || (hi | lo) == 0)
        goto bad;
    *conn = (uint64_t)hi << 32 | lo;
    *wk = w;
    return true;
bad:
    ST_DROP(c->st, bad_response);
    return false;
}

bool px_conn_of_via(struct px_ctx *c, uint64_t conn, unsigned wk)
{
    if (conn == 0)
        return true;
    if (wk != (unsigned)(c->wk_id & 0xff)) {
        ST_INC(c->st, tcp_other_worker);
        return false;
    }
    c->tx->conn = conn;
    return true;
}

void px_reject_unframed(const struct px_cfg *cfg, struct px_state *ps, struct st_worker *st,
                        const struct net_rx *rx, struct net_tx *tx, int64_t now_ms, int64_t now_us,
                        int err)
{
    struct px_ctx c;
    px_ctx_init(&c, cfg, ps, st, rx, tx, now_ms, now_us);
    /* the header block parses on its own (no Content-Length: no body), which is all the
     * answer needs: its Via, From, To, Call-ID and CSeq */
    int perr = sip_parse(rx->buf, rx->len, c.msg);
    if (perr >= 0)
        perr = sip_validate(c.msg, c.info);
    if (perr < 0 && perr != SIP_EVERSION && c.msg->nvia == 0)
        return;
    px_reject(&c, err == SIP_EMSGBIG ? ST_L_513 : ST_L_400, err);
}
