/*
 * vb_sip.h - the SIP text of the harness: requests as the load generator
 * writes them, responses as the emulated backends write them, and the few
 * fields the load generator reads back from a response.
 *
 * Writers append to a caller's buffer (struct vb_buf) with memcpy and
 * integer formatting only: no printf on the per-message path, so the load
 * and the emulator, which share a CPU, stay cheaper than what they measure.
 * A writer that runs out of room sets overflow and the message is not sent.
 * Readers use viaduct's parser (parser/sip.h) on a caller's struct sip_msg.
 */
#ifndef VIADUCT_VB_SIP_H
#define VIADUCT_VB_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parser/span.h"
#include "parser/sip.h"

struct vb_buf {
    char *p;
    size_t len, cap;
    bool overflow;
};

static inline struct vb_buf vb_buf_make(char *p, size_t cap)
{
    return (struct vb_buf){p, 0, cap, false};
}

void vb_put(struct vb_buf *b, const void *s, size_t n);
void vb_put_uint(struct vb_buf *b, uint64_t v);
void vb_put_hex(struct vb_buf *b, uint64_t v, int digits);
static inline void vb_put_span(struct vb_buf *b, struct span s)
{
    vb_put(b, s.p, s.len);
}
#define VB_LIT(b, s) vb_put((b), (s), sizeof(s) - 1)

/* One request of the load generator. Spans are copied, not kept. */
struct vb_req {
    int method;            /* SIP_M_INVITE, _ACK, _BYE, _REGISTER, _OPTIONS, _MESSAGE */
    struct span user;      /* Request-URI and To user */
    struct span domain;    /* Request-URI, From and To host */
    struct span from_user; /* REGISTER: the same as user (RFC 3261 §10.2) */
    struct span local;     /* our "ip:port": Via sent-by and Contact */
    uint64_t branch_id;    /* written with vb_branch_write */
    struct span callid;
    uint64_t from_tag;  /* 16 hex digits */
    struct span to_tag; /* absent (p == NULL) outside a dialog */
    uint32_t cseq;
    int expires; /* REGISTER */
    bool body;   /* INVITE: an SDP offer; MESSAGE: a short text */
};

/* Appends r as a complete datagram. Returns the new length, or -1 on
 * overflow (the buffer's content is then undefined). */
int vb_req_write(struct vb_buf *b, const struct vb_req *r);

/*
 * Appends the response `status` to the request m (indexed by sip_parse, with
 * From, To, Call-ID and CSeq present: the caller checks m->first[]), as a
 * UAS builds it (RFC 3261 §8.2.6): every Via line copied in order, From, To
 * with to_tag added when it has none (had_tag false; never on 100), Call-ID
 * and CSeq copied; for an INVITE 18x/2xx our
 * Contact (contact: "ip:port") and any Record-Route lines; for a REGISTER
 * 200 the request's Contact lines and an Expires; for an INVITE 200 the
 * request's body as the SDP answer. Returns the new length or -1.
 */
int vb_resp_write(struct vb_buf *b, const struct sip_msg *m, int status, bool had_tag,
                  struct span to_tag, struct span contact);

/* What the load generator reads from a response. */
struct vb_resp {
    int status;
    int cseq_method; /* enum sip_method of the CSeq */
    uint32_t cseq;
    struct span branch; /* of the top Via */
    struct span callid;
    struct span to_tag; /* absent when none */
};

/* Parses a response datagram into r (m is scratch). 0, or a negative
 * sip_err (SIP_ESTARTLINE for a request). */
int vb_resp_read(const char *buf, size_t len, struct sip_msg *m, struct vb_resp *r);

#endif
