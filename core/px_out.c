/* px_out.c - see px_out.h. */
#include "core/px_out.h"

/*
 * A short run of received bytes that directly follows scratch bytes is
 * copied after them rather than referenced: the header text between two
 * edits ("\r\n", "Max-Forwards: ") would otherwise cut the scratch into one
 * iovec per edit, and the kernel's cost per segment outweighs a copy of at
 * most PX_COPY_MAX bytes. Long runs, the body among them, are never copied;
 * PX_COPY_RESERVE keeps room for the writes an edit still has to make.
 */
#define PX_COPY_MAX 64
#define PX_COPY_RESERVE 256

void px_out_ref(struct px_out *o, struct span s)
{
    struct net_tx *tx = o->tx;
    if (s.len == 0)
        return;
    if (s.len <= PX_COPY_MAX && tx->niov > 0 && o->used + s.len + PX_COPY_RESERVE <= NET_SCRATCH) {
        const struct iovec *last = &tx->iov[tx->niov - 1];
        if ((const char *)last->iov_base + last->iov_len == tx->scratch + o->used) {
            memcpy(tx->scratch + o->used, s.p, s.len);
            o->used += s.len;
            tx->iov[tx->niov - 1].iov_len += s.len;
            o->total += s.len;
            return;
        }
    }
    if (tx->niov > 0) {
        struct iovec *last = &tx->iov[tx->niov - 1];
        if ((const char *)last->iov_base + last->iov_len == s.p) {
            last->iov_len += s.len;
            o->total += s.len;
            return;
        }
    }
    if (tx->niov == NET_MAX_IOV) {
        o->overflow = true;
        return;
    }
    tx->iov[tx->niov++] = (struct iovec){(void *)(uintptr_t)s.p, s.len};
    o->total += s.len;
}

void px_out_bytes(struct px_out *o, const void *p, size_t n)
{
    if (n > NET_SCRATCH - o->used) {
        o->overflow = true;
        return;
    }
    char *dst = o->tx->scratch + o->used;
    memcpy(dst, p, n);
    o->used += n;
    px_out_ref(o, span_make(dst, n));
}

void px_out_put(struct px_out *o, struct span s)
{
    px_out_bytes(o, s.p, s.len);
}

void px_out_uint(struct px_out *o, uint64_t v)
{
    char buf[20];
    int n = 0;
    do {
        buf[sizeof(buf) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    px_out_bytes(o, buf + sizeof(buf) - n, (size_t)n);
}

void px_out_hex(struct px_out *o, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    char buf[16];
    if (digits > 16)
        digits = 16;
    for (int i = digits - 1; i >= 0; i--, v >>= 4)
        buf[i] = hex[v & 15];
    px_out_bytes(o, buf, (size_t)digits);
}

bool px_out_edited(struct px_out *o, const char *from, const char *to, struct px_edits *ed,
                   px_emit_fn emit, void *ctx)
{
    /* insertion sort by (at, end): at most PX_MAX_EDITS entries; an insertion
     * goes before a replacement starting at the same byte, and equal edits
     * keep the order they were added in */
    for (int i = 1; i < ed->n; i++) {
        struct px_edit e = ed->e[i];
        int j = i;
        for (; j > 0 &&
               (ed->e[j - 1].at > e.at || (ed->e[j - 1].at == e.at && ed->e[j - 1].end > e.end));
             j--)
            ed->e[j] = ed->e[j - 1];
        ed->e[j] = e;
    }
    const char *cur = from;
    for (int i = 0; i < ed->n; i++) {
        const struct px_edit *e = &ed->e[i];
        if (e->at < cur || e->end > to)
            return false; /* overlapping edits: a caller bug, never sent */
        px_out_ref(o, span_range(cur, e->at));
        emit(o, e, ctx);
        cur = e->end;
    }
    px_out_ref(o, span_range(cur, to));
    return !ed->full && !o->overflow;
}
