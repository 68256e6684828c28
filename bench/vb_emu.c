/* vb_emu.c - see vb_emu.h: the emulated backends' answers, without sockets. */
#include "bench/vb_emu.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

int vb_emu_core_init(struct vb_emu_core *c, int n, int invite_mode, bool no_reply)
{
    memset(c, 0, sizeof(*c));
    if (n < 1 || n > VB_EMU_MAX || invite_mode < VB_INV_200 || invite_mode > VB_INV_100_180_200)
        return -EINVAL;
    c->n = n;
    c->invite_mode = invite_mode;
    c->no_reply = no_reply;
    for (int b = 0; b < n; b++)
        vb_emu_set_contact(c, b, "127.0.0.1:5070");
    return vb_aff_init(&c->aff, 0);
}

void vb_emu_core_free(struct vb_emu_core *c)
{
    vb_aff_free(&c->aff);
}

void vb_emu_set_contact(struct vb_emu_core *c, int b, const char *hostport)
{
    snprintf(c->contact_buf[b], sizeof(c->contact_buf[b]), "%s", hostport);
    c->contact[b] = span_make(c->contact_buf[b], strlen(c->contact_buf[b]));
}

void vb_emu_core_clear(struct vb_emu_core *c)
{
    memset(c->cnt, 0, sizeof(c->cnt));
    vb_aff_clear(&c->aff);
}

int vb_invite_mode_parse(const char *s)
{
    if (strcmp(s, "200") == 0)
        return VB_INV_200;
    if (strcmp(s, "180,200") == 0)
        return VB_INV_180_200;
    if (strcmp(s, "100,180,200") == 0)
        return VB_INV_100_180_200;
    return -1;
}

bool vb_emu_aor(struct span to_value, char *buf, size_t cap, struct span *key)
{
    struct sip_nameaddr na;
    struct sip_uri u;
    if (sip_nameaddr_parse(to_value, &na) < 0 || sip_uri_parse(na.uri, &u) < 0 ||
        u.scheme == SIP_SCHEME_OTHER || u.user.len + 1 + u.hp.host.len > cap)
        return false;
    memcpy(buf, u.user.p, u.user.len);
    buf[u.user.len] = '@';
    for (size_t i = 0; i < u.hp.host.len; i++)
        buf[u.user.len + 1 + i] = (char)span_lower_ascii((unsigned char)u.hp.host.p[i]);
    *key = span_make(buf, u.user.len + 1 + u.hp.host.len);
    return true;
}

static enum vb_emu_method method_kind(int id)
{
    switch (id) {
    case SIP_M_REGISTER: return VB_EMU_register;
    case SIP_M_INVITE: return VB_EMU_invite;
    case SIP_M_ACK: return VB_EMU_ack;
    case SIP_M_BYE: return VB_EMU_bye;
    case SIP_M_OPTIONS: return VB_EMU_options;
    case SIP_M_MESSAGE: return VB_EMU_message;
    default: return VB_EMU_other;
    }
}

int vb_emu_answer(struct vb_emu_core *c, int b, const char *buf, size_t len, struct vb_buf *out)
{
    struct vb_emu_count *k = &c->cnt[b];
    struct sip_msg *m = &c->msg;
    k->rx++;
    if (sip_parse(buf, len, m) < 0) {
        k->malformed++;
        return 0;
    }
    if (!m->is_request) {
        k->stray++;
        return 0;
    }
    if (m->nvia == 0 || m->first[SIP_H_FROM] < 0 || m->first[SIP_H_TO] < 0 ||
        m->first[SIP_H_CALL_ID] < 0 || m->first[SIP_H_CSEQ] < 0) {
        k->malformed++;
        return 0;
    }
    k->req[method_kind(m->method_id)]++;

    struct span callid = sip_hvalue(m, SIP_H_CALL_ID);
    struct span to_value = sip_hvalue(m, SIP_H_TO);
    vb_aff_note(&c->aff, VB_AFF_CALLID, callid, b);
    if (m->method_id == SIP_M_REGISTER) {
        char aor[256];
        struct span key;
        if (vb_emu_aor(to_value, aor, sizeof(aor), &key))
            vb_aff_note(&c->aff, VB_AFF_AOR, key, b);
        else
            k->malformed++;
    }
    if (c->no_reply || m->method_id == SIP_M_ACK)
        return 0;

    struct sip_nameaddr to;
    bool had_tag = sip_nameaddr_parse(to_value, &to) == 0 && to.tag.p != NULL;
    char tag[16];
    uint64_t h = XXH3_64bits_withSeed(callid.p, callid.len, 0x656d75); /* "emu" */
    for (int i = 15; i >= 0; i--, h >>= 4)
        tag[i] = "0123456789abcdef"[h & 15];

    static const int inv[3][3] = {{200}, {180, 200}, {100, 180, 200}};
    const int *codes = (const int[]){200};
    int ncodes = 1;
    if (m->method_id == SIP_M_INVITE) {
        ncodes = c->invite_mode;
        codes = inv[c->invite_mode - 1];
    }
    int n = 0;
    for (int i = 0; i < ncodes; i++) {
        struct vb_buf *o = &out[n];
        o->len = 0;
        o->overflow = false;
        if (vb_resp_write(o, m, codes[i], had_tag, span_make(tag, sizeof(tag)), c->contact[b]) <
            0) {
            k->send_errors++;
            continue;
        }
        n++;
    }
    k->responses += (uint64_t)n;
    return n;
}
