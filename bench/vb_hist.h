/*
 * vb_hist.h - a log-linear latency histogram (HdrHistogram's layout, fixed
 * precision): values below 64 are counted exactly; every octave [2^k,
 * 2^(k+1)) above is split into 32 equal buckets, so a reported value is
 * within 1/32 (3.1 %) of the true one, from nanoseconds to 2^41 ns (36 min).
 *
 * Adding is a shift and an increment: no allocation, no floating point, so
 * the load generator records every response on its hot path. One writer;
 * readers merge copies after the writer is done.
 */
#ifndef VIADUCT_VB_HIST_H
#define VIADUCT_VB_HIST_H

#include <stddef.h>
#include <stdint.h>

#define VB_HIST_SUB_BITS 5
#define VB_HIST_SUB (1u << VB_HIST_SUB_BITS) /* buckets per octave */
#define VB_HIST_MAX_BIT 41                   /* values >= 2^41 are clamped to 2^41 - 1 */
#define VB_HIST_BUCKETS ((VB_HIST_MAX_BIT - VB_HIST_SUB_BITS + 1) * VB_HIST_SUB)

struct vb_hist {
    uint64_t count;
    uint64_t min, max; /* exact; min is UINT64_MAX while empty */
    uint64_t sum;      /* for the mean */
    uint64_t bucket[VB_HIST_BUCKETS];
};

/* Empties h. */
void vb_hist_reset(struct vb_hist *h);

/* Bucket index of value v (clamped to the largest bucket). */
static inline unsigned vb_hist_index(uint64_t v)
{
    if (v < 2 * VB_HIST_SUB)
        return (unsigned)v;
    if (v >= (1ull << VB_HIST_MAX_BIT))
        v = (1ull << VB_HIST_MAX_BIT) - 1;
    unsigned k = 63u - (unsigned)__builtin_clzll(v); /* v in [2^k, 2^(k+1)), k >= 6 */
    unsigned shift = k - VB_HIST_SUB_BITS;
    return shift * VB_HIST_SUB + (unsigned)(v >> shift);
}

/* Counts one value. */
static inline void vb_hist_add(struct vb_hist *h, uint64_t v)
{
    h->bucket[vb_hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

/* Smallest and largest value counted in bucket i. */
uint64_t vb_hist_lower(unsigned i);
uint64_t vb_hist_upper(unsigned i);

/* Adds every count of src to dst. */
void vb_hist_merge(struct vb_hist *dst, const struct vb_hist *src);

/*
 * The p-th percentile (0 < p <= 100): the upper bound of the bucket holding
 * the value of rank ceil(p/100 * count), never above the exact max; p = 100
 * gives max exactly. 0 for an empty histogram.
 */
uint64_t vb_hist_pct(const struct vb_hist *h, double p);

/* Mean of the counted values, 0 when empty. */
double vb_hist_mean(const struct vb_hist *h);

#endif
