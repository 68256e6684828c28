/*
 * px_out.h - builds one outgoing datagram as an iovec over the received
 * bytes plus small pieces written into the tx scratch area.
 *
 * Nothing of the received message is copied: untouched runs become iovecs
 * into the receive buffer, and only what changes (our Via, Max-Forwards,
 * received/rport, a status line) is written to scratch. Running out of iovecs
 * or scratch sets overflow; the caller then drops the datagram and counts it.
 */
#ifndef VIADUCT_PX_OUT_H
#define VIADUCT_PX_OUT_H

#include <stdint.h>
#include <string.h>

#include "parser/span.h"
#include "net/net.h"

struct px_out {
    struct net_tx *tx;
    size_t used;  /* bytes of tx->scratch written */
    size_t total; /* bytes in the datagram so far */
    bool overflow;
};

static inline void px_out_init(struct px_out *o, struct net_tx *tx)
{
    o->tx = tx;
    o->used = 0;
    o->total = 0;
    o->overflow = false;
    tx->niov = 0;
}

/* Appends an iovec over s, which must stay valid until the send completes
 * (the receive buffer, tx scratch, or static storage). */
void px_out_ref(struct px_out *o, struct span s);

/* Scratch writers: copy into tx scratch and append it to the datagram,
 * merging with the previous iovec when that one ends where this begins. */
void px_out_uint(struct px_out *o, uint64_t v);
void px_out_hex(struct px_out *o, uint64_t v, int digits);
/* v as 16 lower-case hex digits, most significant first (no NUL). */
void px_hex16(uint64_t v, char out[16]);
/* The 8 lower-case hex digits at p (what px_hex16 writes) into *v; false,
 * *v untouched, if any of them is not one. */
bool px_unhex8(const char *p, uint32_t *v);

/* Inline with the append to the previous iovec, where nearly every write
 * goes: a literal's memcpy then has a constant length and becomes a few
 * moves, and the request's Via block, a dozen writes, costs no calls. */
static inline void px_out_bytes(struct px_out *o, const void *p, size_t n)
{
    struct net_tx *tx = o->tx;
    if (n > NET_SCRATCH - o->used) {
        o->overflow = true;
        return;
    }
    char *dst = tx->scratch + o->used;
    memcpy(dst, p, n);
    o->used += n;
    o->total += n;
    if (tx->niov > 0) {
        struct iovec *last = &tx->iov[tx->niov - 1];
        if ((char *)last->iov_base + last->iov_len == dst) {
            last->iov_len += n;
            return;
        }
    }
    if (tx->niov == NET_MAX_IOV) {
        o->overflow = true;
        return;
    }
    tx->iov[tx->niov++] = (struct iovec){dst, n};
}

static inline void px_out_put(struct px_out *o, struct span s)
{
    px_out_bytes(o, s.p, s.len);
}

/* Literals are copied into scratch, not referenced: an inserted block (our
 * Via line, a Max-Forwards value, ;received=...) then becomes one iovec
 * with its neighbouring scratch bytes. The kernel pays per iovec segment on
 * every send (bench: 19 segments cost ~0.9 us a message, one ~100-byte copy
 * here costs a few ns), while the received bytes are still never copied. */
#define PX_LIT(o, s) px_out_put((o), SPAN_LIT(s))

/* An edit of the received message: replace [at, end) with the bytes that
 * emit() appends (at == end inserts). */
struct px_edit {
    const char *at;
    const char *end;
    int kind; /* caller-defined, passed back to emit */
    const void *arg;
};

#define PX_MAX_EDITS 8

struct px_edits {
    int n;
    bool full; /* an edit did not fit */
    struct px_edit e[PX_MAX_EDITS];
};

/* No edits yet: only n and full are set, the entries are written as they
 * are added (an initializer, {0} or designated, clears all 256 bytes of
 * them on every datagram). */
static inline void px_edits_init(struct px_edits *ed)
{
    ed->n = 0;
    ed->full = false;
}

static inline void px_edits_add(struct px_edits *ed, const char *at, const char *end, int kind,
                                const void *arg)
{
    if (ed->n < PX_MAX_EDITS)
        ed->e[ed->n++] = (struct px_edit){at, end, kind, arg};
    else
        ed->full = true;
}

typedef void (*px_emit_fn)(struct px_out *o, const struct px_edit *e, void *ctx);

/*
 * Emits [from, to) of the received message with the edits applied in
 * position order (edits must not overlap; ties keep insertion order).
 * Returns false if an edit did not fit in PX_MAX_EDITS or o overflowed.
 */
bool px_out_edited(struct px_out *o, const char *from, const char *to, struct px_edits *ed,
                   px_emit_fn emit, void *ctx);

#endif
