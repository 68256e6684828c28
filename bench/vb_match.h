/*
 * vb_match.h - matching responses to the requests the load generator sent.
 *
 * Every request that expects a response is a transaction with a sequential
 * 64-bit id, carried in its Via branch as "z9hG4bKvb" + 16 hex digits, so a
 * response finds its transaction with one hex decode and one array load:
 * slot = id & (cap - 1), a hit when the slot still holds that id. The table
 * is a ring of cap slots; the in-flight window must stay below cap, and a
 * transaction still pending when its slot comes round again is expired
 * (counted lost), as is one older than the timeout. Ids start at 1, so a
 * zeroed slot never matches.
 *
 * A transaction records when its request left; its first final response
 * (>= 200) gives the round-trip latency and ends it; provisional responses
 * (1xx) are counted but do not end it. One writer (the load thread).
 */
#ifndef VIADUCT_VB_MATCH_H
#define VIADUCT_VB_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "parser/span.h"

#define VB_BRANCH_PREFIX "z9hG4bKvb"
#define VB_BRANCH_LEN (sizeof(VB_BRANCH_PREFIX) - 1 + 16)
#define VB_TAG_MAX 32

struct vb_txn {
    uint64_t id; /* 0: never used */
    uint64_t t_sent;
    uint32_t aux;   /* the caller's: which call or AOR */
    uint8_t method; /* enum sip_method of the request */
    uint8_t nprov;  /* provisional responses seen */
    bool done;      /* final response seen, or expired */
    uint8_t taglen;
    char tag[VB_TAG_MAX]; /* To tag of the final response (a dialog's remote tag) */
};

enum vb_match_res {
    VB_MATCH_PROVISIONAL = 0, /* 1xx of a pending transaction */
    VB_MATCH_FINAL,           /* first final response: latency is set, txn ends */
    VB_MATCH_DUPLICATE,       /* a response for a transaction already ended */
    VB_MATCH_MISMATCH,        /* its CSeq method differs from the request's */
    VB_MATCH_UNKNOWN,         /* no transaction with this id (never sent, or slot reused) */
};

struct vb_match_stats {
    uint64_t started, finals, provisionals;
    uint64_t duplicates, mismatches, unknown;
    uint64_t expired; /* ended without a final response: lost */
};

struct vb_match {
    struct vb_txn *slot;
    uint64_t mask;     /* cap - 1 */
    uint64_t next_id;  /* id of the next transaction */
    uint64_t oldest;   /* ids below it have all ended */
    uint64_t inflight; /* started, not ended */
    struct vb_match_stats st;
};

/* A table of 2^cap_log2 slots (4..24). 0 or -ENOMEM / -EINVAL. */
int vb_match_init(struct vb_match *m, unsigned cap_log2);
void vb_match_free(struct vb_match *m);

/* Capacity in transactions. */
static inline uint64_t vb_match_cap(const struct vb_match *m)
{
    return m->mask + 1;
}

/*
 * Starts a transaction sent at time now (ns) and returns it (never NULL):
 * the caller writes its branch from txn->id. If the slot still held a
 * pending transaction, that one is expired first.
 */
struct vb_txn *vb_match_start(struct vb_match *m, uint64_t now, int method, uint32_t aux);

/*
 * Matches a response: transaction id (from its branch), CSeq method and
 * status, received at now. On VB_MATCH_PROVISIONAL and VB_MATCH_FINAL *t is
 * the transaction; on VB_MATCH_FINAL *latency_ns is now - t_sent.
 */
enum vb_match_res vb_match_response(struct vb_match *m, uint64_t id, int cseq_method, int status,
                                    uint64_t now, struct vb_txn **t, uint64_t *latency_ns);

/* Expires pending transactions sent before now - timeout_ns (all of them
 * when timeout_ns is 0 and now is UINT64_MAX). Returns how many expired. */
uint64_t vb_match_expire(struct vb_match *m, uint64_t now, uint64_t timeout_ns);

/* Writes the branch of transaction id (VB_BRANCH_LEN bytes, no NUL). */
void vb_branch_write(char *out, uint64_t id);

/* The id in a branch written by vb_branch_write: true with *id set, false
 * for any other branch. */
bool vb_branch_read(struct span branch, uint64_t *id);

#endif
