/*
 * health.h - backend health: active OPTIONS probes on their own thread and
 * sockets, passive hints from ICMP errors, and the one log line per change.
 *
 * The health thread owns each backend's verdict (up or down) and writes the
 * state every lookup reads; a configured drain is an overlay (a healthy
 * draining backend is RT_DRAINING, an unhealthy one RT_DOWN). A worker's one
 * write is a hint: an ICMP error came back for a datagram it sent to a
 * backend (the error queue names the destination). Anyone can forge such an
 * error, so it is no verdict: the backend is held down for
 * health.icmp_holddown_ms from the hint, and then tried again. Further hints
 * do not lengthen a hold. With probes on, a hold sends a probe at once: a
 * failed one confirms the hold (the verdict turns down, probes bring it
 * back); an answered one ends it and makes hints of the next hold-down
 * period void, so forged errors cannot keep a live backend out.
 */
#ifndef VIADUCT_HEALTH_H
#define VIADUCT_HEALTH_H

#include <pthread.h>

#include "core/px.h"

struct hc;
struct hc_stats;

/*
 * Starts the health thread for every pool of px (probing per c->health;
 * with probes off it only runs the hold-downs), counting into st, which
 * the caller owns and keeps across reloads (one health thread at a time is
 * its writer). Returns NULL with a reason in err if its sockets cannot be
 * opened. px and st must outlive hc_stop.
 */
struct hc *hc_start(const struct px_cfg *px, const struct cfg *c, struct hc_stats *st, char *err,
                    size_t errlen);

/* Stops the thread and frees it. */
void hc_stop(struct hc *hc);

/* The health thread's counters (name, help): it is their one writer. */
#define HC_COUNTERS(X)                                                                             \
    X(probes_sent, "OPTIONS probes sent")                                                          \
    X(probes_answered, "probes answered with an accepted code")                                    \
    X(probes_timed_out, "probes with no final answer in timeout_ms")                               \
    X(probes_failed, "probes failed: timed out, refused by ICMP, unsent or unaccepted code")          \
    X(health_transitions, "backend state changes, holds included")

/* What the health threads count, kept by the caller across reloads. */
struct hc_stats {
#define X(n, h) atomic_uint_fast64_t n;
    HC_COUNTERS(X)
#undef X
    atomic_uint_fast64_t by_cause[PX_NCAUSES]; /* health_transitions by enum px_cause */
};

struct hc_counts {
#define X(n, h) uint64_t n;
    HC_COUNTERS(X)
#undef X
    uint64_t by_cause[PX_NCAUSES];
};

/* Reads the counters (relaxed loads). */
void hc_counts(const struct hc_stats *st, struct hc_counts *out);

/* Prints them as "name value" lines. */
void hc_print(FILE *f, const struct hc_stats *st);

/* What hc_icmp_hint made of an ICMP error. */
enum hc_hint {
    HC_HINT_NONE = 0, /* no backend has that address */
    HC_HINT_HELD,     /* a hold-down started for at least one backend there */
    HC_HINT_IGNORED,  /* backends there, all down or held already, or vouched for */
};

/*
 * An ICMP error came back at now_ms for a datagram sent to dst: every
 * backend at that address (in any pool) that is not down, held or vouched
 * for is held down: its held_ms set, then its state RT_DOWN. Lock-free (a
 * binary search and relaxed stores), for the workers. Returns enum hc_hint.
 */
int hc_icmp_hint(const struct px_cfg *px, const struct sockaddr *dst, int64_t now_ms);

#endif
