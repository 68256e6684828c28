/* vb_match.c - see vb_match.h. */
#include "bench/vb_match.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int vb_match_init(struct vb_match *m, unsigned cap_log2)
{
    memset(m, 0, sizeof(*m));
    if (cap_log2 < 4 || cap_log2 > 24)
        return -EINVAL;
    m->slot = calloc((size_t)1 << cap_log2, sizeof(*m->slot));
    if (m->slot == NULL)
        return -ENOMEM;
    m->mask = ((uint64_t)1 << cap_log2) - 1;
    m->next_id = 1;
    m->oldest = 1;
    return 0;
}

void vb_match_free(struct vb_match *m)
{
    free(m->slot);
    m->slot = NULL;
}

static void txn_end(struct vb_match *m, struct vb_txn *t, bool lost)
{
    t->done = true;
    m->inflight--;
    if (lost)
        m->st.expired++;
}

struct vb_txn *vb_match_start(struct vb_match *m, uint64_t now, int method, uint32_t aux)
{
    uint64_t id = m->next_id++;
    struct vb_txn *t = &m->slot[id & m->mask];
    if (t->id != 0 && !t->done)
        txn_end(m, t, true); /* the window outgrew the table: that one is lost */
    if (m->oldest + m->mask < id)
        m->oldest = id - m->mask; /* everything older has left the table */
    t->id = id;
    t->t_sent = now;
    t->aux = aux;
    t->method = (uint8_t)method;
    t->nprov = 0;
    t->done = false;
    t->taglen = 0;
    m->inflight++;
    m->st.started++;
    return t;
}

enum vb_match_res vb_match_response(struct vb_match *m, uint64_t id, int cseq_method, int status,
                                    uint64_t now, struct vb_txn **tp, uint64_t *latency_ns)
{
    struct vb_txn *t = &m->slot[id & m->mask];
    if (id == 0 || t->id != id) {
        m->st.unknown++;
        return VB_MATCH_UNKNOWN;
    }
    if (t->method != cseq_method) {
        m->st.mismatches++;
        return VB_MATCH_MISMATCH;
    }
    if (t->done) {
        m->st.duplicates++;
        return VB_MATCH_DUPLICATE;
    }
    *tp = t;
    if (status < 200) {
        if (t->nprov < UINT8_MAX)
            t->nprov++;
        m->st.provisionals++;
        return VB_MATCH_PROVISIONAL;
    }
    *latency_ns = now > t->t_sent ? now - t->t_sent : 0;
    m->st.finals++;
    txn_end(m, t, false);
    return VB_MATCH_FINAL;
}

uint64_t vb_match_expire(struct vb_match *m, uint64_t now, uint64_t timeout_ns)
{
    uint64_t n = 0;
    /* ids are sent in order, so the pending ones past the timeout are a
     * prefix of [oldest, next_id): stop at the first that is still young */
    while (m->oldest < m->next_id) {
        struct vb_txn *t = &m->slot[m->oldest & m->mask];
        if (t->id == m->oldest && !t->done) {
            if (now != UINT64_MAX && t->t_sent + timeout_ns > now)
                break;
            txn_end(m, t, true);
            n++;
        }
        m->oldest++;
    }
    return n;
}

void vb_branch_write(char *out, uint64_t id)
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, VB_BRANCH_PREFIX, sizeof(VB_BRANCH_PREFIX) - 1);
    out += sizeof(VB_BRANCH_PREFIX) - 1;
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[id & 15];
        id >>= 4;
    }
}

bool vb_branch_read(struct span b, uint64_t *id)
{
    const size_t pl = sizeof(VB_BRANCH_PREFIX) - 1;
    if (b.len != VB_BRANCH_LEN || memcmp(b.p, VB_BRANCH_PREFIX, pl) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = pl; i < b.len; i++) {
        char c = b.p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *id = v;
    return true;
}
