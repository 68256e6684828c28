/*
 * health.h - backend health: active OPTIONS probes on their own thread and
 * sockets, passive marking on ICMP errors, and the one log line per change.
 *
 * The health thread owns each backend's up/down verdict; workers only ever
 * mark a backend down (an ICMP port or host unreachable on a send to it),
 * and the health thread notices, logs the change once and lets probes bring
 * the backend back. A configured drain is an overlay: a healthy draining
 * backend is RT_DRAINING, an unhealthy one RT_DOWN.
 */
#ifndef VIADUCT_HEALTH_H
#define VIADUCT_HEALTH_H

#include <pthread.h>

#include "core/px.h"

struct hc;

/*
 * Starts the health thread for every pool of px (probing per h; with
 * h->enabled false it only logs passive changes). Returns NULL with a reason
 * in err if its sockets cannot be opened. px must outlive hc_stop.
 */
struct hc *hc_start(const struct px_cfg *px, const struct cfg *c, char *err, size_t errlen);

/* Stops the thread and frees it. */
void hc_stop(struct hc *hc);

/*
 * Marks the backend at address dst down in every pool that has it, if it
 * was not already (a worker's send to it failed with an ICMP error).
 * Lock-free: a relaxed atomic state store. Returns true if one was found.
 */
bool hc_mark_down(const struct px_cfg *px, const struct sockaddr *dst);

/* Milliseconds of CLOCK_MONOTONIC, the clock changed_ms uses. */
int64_t hc_now_ms(void);

#endif
