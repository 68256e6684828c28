/*
 * admin.h - the management API: HTTP/1.1 on admin.listen, served by
 * libmicrohttpd on its own threads, never on a worker.
 *
 *   GET  /metrics    Prometheus text format 0.0.4 (admin_metrics.c)
 *   GET  /healthz    liveness: every worker passed a quiescent point within 2 s
 *   GET  /readyz     readiness: started, every pool rules can reach has a live
 *                    backend, not draining for shutdown
 *   GET  /backends   JSON: pools, backends, weight, state, cause, since, counters
 *   GET  /config     the effective configuration as YAML (the token never shown)
 *   POST /backends/POOL/NAME/drain|undrain|down|up   the operator's override
 *   POST /reload     as SIGHUP: 200 with the result, 422 with the reason
 *
 * What it reads costs the workers nothing: their counters with relaxed
 * loads (st_snapshot), the pools' states with relaxed loads, and everything
 * a reload replaces under s->cur_mu, which no worker takes and a reload
 * holds only for its pointer swap (server.h): no GET waits on a reload. POSTs need
 * "Authorization: Bearer TOKEN" when a token is configured (compared in
 * constant time); with none they are refused unless the listener is on
 * loopback. Bounded: ADMIN_MAX_CONN connections, ADMIN_TIMEOUT_S idle
 * timeout, ADMIN_CONN_MEMORY bytes of request head, ADMIN_MAX_BODY bytes of
 * body (413 beyond), ADMIN_THREADS threads.
 */
#ifndef VIADUCT_ADMIN_H
#define VIADUCT_ADMIN_H

#include <stdio.h>

#include "core/server.h"

#define ADMIN_MAX_CONN 32
#define ADMIN_TIMEOUT_S 5
#define ADMIN_CONN_MEMORY (32 * 1024)
#define ADMIN_MAX_BODY 4096
#define ADMIN_THREADS 2
#define ADMIN_LIVE_MS 2000 /* /healthz: the longest a worker may go without a quiescent point */

struct admin;

/*
 * Starts the listener on s->cur->cfg.admin.listen ("off": none, *out NULL)
 * once server_start has succeeded. 0, or -1 with the reason in err
 * ("cannot listen on ADDR for the management API: ..."), nothing left
 * running then. The token file, when configured, must be readable now.
 */
int admin_start(struct server *s, struct admin **out, char *err, size_t errlen);

/* Stops the threads (waiting for requests in progress) and frees a. */
void admin_stop(struct admin *a);

/* Writes the /metrics text for s (admin_metrics.c); takes s->cur_mu. */
void admin_metrics(FILE *f, struct server *s);

#endif
