/*
 * vb_aff.h - the affinity checker: did every message of one key reach one
 * backend? Keys are Call-IDs (every message of a call) and REGISTER
 * addresses-of-record (every registration of a user), in separate
 * namespaces. A stateless forwarder that hashes keys to backends must never
 * split a key; a split means a dialog or a registration lands on a backend
 * that never saw its start.
 *
 * Each key is remembered as a 64-bit XXH3 hash (a false "same key" needs a
 * collision in 2^56 values: negligible for the millions of keys of a run)
 * with the backend that first received it, in an open-addressing table that
 * doubles when half full, up to a bound: keys beyond it are counted as
 * unchecked, never silently passed. One writer (the emulator thread).
 */
#ifndef VIADUCT_VB_AFF_H
#define VIADUCT_VB_AFF_H

#include <stddef.h>
#include <stdint.h>

#include "parser/span.h"

enum vb_aff_kind { VB_AFF_CALLID = 0, VB_AFF_AOR = 1 };

#define VB_AFF_EXAMPLES 4
#define VB_AFF_EXAMPLE_LEN 80
#define VB_AFF_MAX_BACKENDS 255

struct vb_aff {
    uint64_t *slot; /* hash with the low 8 bits replaced by backend + 1; 0 = empty */
    size_t cap;     /* power of two */
    size_t used;
    size_t max_cap;
    uint64_t keys[2];   /* distinct keys seen, by kind */
    uint64_t splits[2]; /* messages that reached another backend than their key's first */
    uint64_t unchecked; /* messages whose key could not be stored (table at its bound) */
    int nexamples;      /* split keys kept for the report */
    char example[VB_AFF_EXAMPLES][VB_AFF_EXAMPLE_LEN];
};

/* Prepares an empty checker that may grow to max_keys keys (0: 64 Mi).
 * Returns 0 or -ENOMEM. */
int vb_aff_init(struct vb_aff *a, size_t max_keys);

void vb_aff_free(struct vb_aff *a);

/* Forgets every key and count (between runs). */
void vb_aff_clear(struct vb_aff *a);

/*
 * Notes that a message with this key (of this kind) reached backend b
 * (0..254). Returns 0 if the key is new or was seen at b before, 1 if it was
 * seen at another backend (counted in splits), -1 if it could not be
 * checked (counted in unchecked). No allocation except when the table grows.
 */
int vb_aff_note(struct vb_aff *a, enum vb_aff_kind kind, struct span key, int b);

/* Total splits of both kinds. */
static inline uint64_t vb_aff_splits(const struct vb_aff *a)
{
    return a->splits[0] + a->splits[1];
}

#endif
