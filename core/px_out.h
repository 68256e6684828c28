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
void px_out_put(struct px_out *o, struct span s);
void px_out_uint(struct px_out *o, uint64_t v);
void px_out_hex(struct px_out *o, uint64_t v, int digits);
/* v as 16 lower-case hex digits, most significant first (no NUL). */
void px_hex16(uint64_t v, char out[16]);
void px_out_bytes(struct px_out *o, const void *p, size_t n);

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
