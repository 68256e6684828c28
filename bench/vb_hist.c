/* vb_hist.c - see vb_hist.h. */
#include "bench/vb_hist.h"

#include <math.h>
#include <string.h>

void vb_hist_reset(struct vb_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/* Index i >= 64 is shift * 32 + s with s in [32, 64): the bucket covers
 * [s << shift, (s + 1) << shift). */
uint64_t vb_hist_lower(unsigned i)
{
    if (i < 2 * VB_HIST_SUB)
        return i;
    unsigned shift = i / VB_HIST_SUB - 1;
    uint64_t s = i % VB_HIST_SUB + VB_HIST_SUB;
    return s << shift;
}

uint64_t vb_hist_upper(unsigned i)
{
    if (i < 2 * VB_HIST_SUB)
        return i;
    unsigned shift = i / VB_HIST_SUB - 1;
    uint64_t s = i % VB_HIST_SUB + VB_HIST_SUB;
    return ((s + 1) << shift) - 1;
}

void vb_hist_merge(struct vb_hist *dst, const struct vb_hist *src)
{
    for (unsigned i = 0; i < VB_HIST_BUCKETS; i++)
        dst->bucket[i] += src->bucket[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t vb_hist_pct(const struct vb_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p >= 100.0)
        return h->max;
    /* rank of the value sought, 1-based; the epsilon keeps 99.9 % of 1000
     * at rank 999 despite 0.999 * 1000 being 998.9999... in binary */
    double r = ceil(p / 100.0 * (double)h->count - 1e-9);
    uint64_t rank = r < 1.0 ? 1 : (uint64_t)r;
    uint64_t seen = 0;
    for (unsigned i = 0; i < VB_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t v = vb_hist_upper(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double vb_hist_mean(const struct vb_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
