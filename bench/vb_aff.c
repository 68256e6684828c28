/* vb_aff.c - see vb_aff.h. */
#include "bench/vb_aff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#define AFF_MIN_CAP 4096
#define AFF_B_MASK 0xffull

int vb_aff_init(struct vb_aff *a, size_t max_keys)
{
    memset(a, 0, sizeof(*a));
    if (max_keys == 0)
        max_keys = (size_t)64 << 20;
    a->max_cap = AFF_MIN_CAP;
    while (a->max_cap / 2 < max_keys)
        a->max_cap *= 2;
    a->cap = AFF_MIN_CAP;
    a->slot = calloc(a->cap, sizeof(*a->slot));
    return a->slot ? 0 : -ENOMEM;
}

void vb_aff_free(struct vb_aff *a)
{
    free(a->slot);
    a->slot = NULL;
}

void vb_aff_clear(struct vb_aff *a)
{
    memset(a->slot, 0, a->cap * sizeof(*a->slot));
    a->used = 0;
    memset(a->keys, 0, sizeof(a->keys));
    memset(a->splits, 0, sizeof(a->splits));
    a->unchecked = 0;
    a->nexamples = 0;
}

/* Linear probing from the hash's high bits (the low 8 hold the backend). */
static uint64_t *aff_find(uint64_t *slot, size_t cap, uint64_t h)
{
    size_t i = (size_t)(h >> 8) & (cap - 1);
    for (;;) {
        uint64_t e = slot[i];
        if (e == 0 || (e & ~AFF_B_MASK) == h)
            return &slot[i];
        i = (i + 1) & (cap - 1);
    }
}

static int aff_grow(struct vb_aff *a)
{
    size_t ncap = a->cap * 2;
    uint64_t *ns = calloc(ncap, sizeof(*ns));
    if (ns == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < a->cap; i++)
        if (a->slot[i] != 0)
            *aff_find(ns, ncap, a->slot[i] & ~AFF_B_MASK) = a->slot[i];
    free(a->slot);
    a->slot = ns;
    a->cap = ncap;
    return 0;
}

int vb_aff_note(struct vb_aff *a, enum vb_aff_kind kind, struct span key, int b)
{
    uint64_t h = XXH3_64bits_withSeed(key.p, key.len, (uint64_t)kind + 1) & ~AFF_B_MASK;
    if (h == 0)
        h = AFF_B_MASK + 1; /* 0 marks an empty slot */
    if (a->slot == NULL || b < 0 || b >= VB_AFF_MAX_BACKENDS) {
        a->unchecked++;
        return -1;
    }
    uint64_t *e = aff_find(a->slot, a->cap, h);
    if (*e == 0) {
        if (2 * (a->used + 1) > a->cap) {
            if (a->cap >= a->max_cap || aff_grow(a) < 0) {
                a->unchecked++;
                return -1;
            }
            e = aff_find(a->slot, a->cap, h);
        }
        *e = h | (uint64_t)(b + 1);
        a->used++;
        a->keys[kind]++;
        return 0;
    }
    if ((int)(*e & AFF_B_MASK) == b + 1)
        return 0;
    a->splits[kind]++;
    if (a->nexamples < VB_AFF_EXAMPLES) {
        snprintf(a->example[a->nexamples++], VB_AFF_EXAMPLE_LEN, "%s %.*s: backends %d and %d",
                 kind == VB_AFF_AOR ? "AOR" : "Call-ID", (int)(key.len > 48 ? 48 : key.len), key.p,
                 (int)(*e & AFF_B_MASK) - 1, b);
    }
    return 1;
}
