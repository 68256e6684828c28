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

/* 8 nibbles as 8 lower-case hex digits, most significant first, in one
 * word: spread one nibble per byte, then add '0' or 'a' - 10 by a carry
 * mask. A loop of 16 table loads per 64 bits cost a branch's 48 digits
 * about 30 ns; this is a few shifts and masks per 8 digits. */
static uint64_t hex8(uint32_t x)
{
    uint64_t v = x;
    v = ((v & 0xffff0000ull) << 16) | (v & 0xffffull);
    v = ((v & 0x0000ff000000ff00ull) << 8) | (v & 0x000000ff000000ffull);
    v = ((v & 0x00f000f000f000f0ull) << 4) | (v & 0x000f000f000f000full);
    uint64_t ten = ((v + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;
    v += 0x3030303030303030ull + ten * (uint64_t)('a' - '0' - 10);
    return __builtin_bswap64(v);
}

void px_hex16(uint64_t v, char out[16])
{
    uint64_t hi = hex8((uint32_t)(v >> 32)), lo = hex8((uint32_t)v);
    memcpy(out, &hi, 8);
    memcpy(out + 8, &lo, 8);
}

/* Bytes that are ASCII and at least lo, as 0x80 in each byte (8 at once:
 * adding 0x80 - lo carries into no other byte while every byte is < 0x80). */
#define PX_ONES 0x0101010101010101ull
#define PX_AT_LEAST(x, lo) (((x) + PX_ONES * (0x80 - (lo))) & PX_ONES * 0x80)

/* The reverse of hex8 in the same style: validate all 8 digits with four
 * range checks, then the nibble of each is its low 4 bits, plus 9 for a
 * letter (bit 0x40), packed pairwise into 32 bits. A loop of 8 branches
 * per digit cost a response's 24 digits (tag and send time) ~200
 * instructions; this is ~30 per 8. */
bool px_unhex8(const char *p, uint32_t *v)
{
    uint64_t x;
    memcpy(&x, p, 8);
    if (x & PX_ONES * 0x80)
        return false;
    uint64_t digit = PX_AT_LEAST(x, '0') & ~PX_AT_LEAST(x, '9' + 1);
    uint64_t alpha = PX_AT_LEAST(x, 'a') & ~PX_AT_LEAST(x, 'f' + 1);
    if ((digit | alpha) != PX_ONES * 0x80)
        return false;
    uint64_t n = (x & PX_ONES * 0x0f) + ((x >> 6) & PX_ONES) * 9; /* byte i: digit i */
    n = ((n << 4) | (n >> 8)) & 0x00ff00ff00ff00ffull;     /* pairs, first digit high */
    n = ((n << 8) | (n >> 16)) & 0x0000ffff0000ffffull;
    n = (n << 16) | (n >> 32);
    *v = (uint32_t)n;
    return true;
}

void px_out_hex(struct px_out *o, uint64_t v, int digits)
{
    if (digits > 16)
        digits = 16;
    if (digits < 1)
        return;
    char buf[16];
    px_hex16(v << (4 * (16 - digits)), buf); /* the low digits first */
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
