/*
 * vb_load.h - the load generator: offers a SIP scenario to a system under
 * test at a fixed rate or as fast as a window of transactions in flight
 * allows, matches the responses to the requests (vb_match.h) and measures
 * round-trip latency (vb_hist.h).
 *
 * Scenarios (every request distinct: its own branch, and a Call-ID per call
 * or per registration binding):
 *   register  REGISTER for a pool of AORs in turn: the first of each AOR
 *             binds, the next ones refresh (same Call-ID, next CSeq)
 *   call      INVITE -> (100, 180,) 200 -> ACK -> BYE -> 200, zero hold
 *             time: a stateless forwarder's work does not depend on it
 *   options   OPTIONS to a user (forwarded, not answered by the proxy)
 *   message   MESSAGE with a short text body
 *   mixed     per 10 starts: 4 register, 3 call, 2 options, 1 message
 *             (16 requests)
 *
 * Rate is in requests per second, ACK and BYE included. The offered load is
 * open loop: requests leave on schedule whether or not responses come back,
 * in batches (one sendmmsg per socket per wake-up); with rate 0 they leave as
 * fast as the window lets them (window 0 too: a flood). Every socket is
 * connected to the target, so a datagram from anywhere else is never read.
 */
#ifndef VIADUCT_VB_LOAD_H
#define VIADUCT_VB_LOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "bench/vb_hist.h"

enum vb_scenario { VB_SC_REGISTER, VB_SC_CALL, VB_SC_OPTIONS, VB_SC_MESSAGE, VB_SC_MIXED };

#define VB_LOAD_MAX_SOCKS 16

struct vb_load_cfg {
    struct sockaddr_storage target;
    socklen_t targetlen;
    const char *local_ip;    /* the sockets bind here, port 0 */
    int nsockets;            /* 1..VB_LOAD_MAX_SOCKS: distinct source ports, so a forwarder's
                                SO_REUSEPORT workers all get a share */
    int scenario;            /* enum vb_scenario */
    double rate;             /* requests/s; 0: as fast as the window allows */
    uint64_t window;         /* transactions in flight at most; 0: no limit */
    double duration;         /* seconds of offering */
    uint64_t count;          /* start nothing new after this many requests (calls under way
                                still send their ACK and BYE); 0: no limit */
    uint32_t aors;           /* register: size of the AOR pool */
    int expires;             /* register: Expires value */
    double drain;            /* seconds to wait for the last responses */
    double timeout;          /* a transaction unanswered this long is lost */
    unsigned batch;          /* datagrams per sendmmsg */
    uint32_t run_id;         /* in every Call-ID, so runs never share one */
    bool no_reply;           /* the backends answer nothing: send, do not wait */
    int cpu;                 /* pin the calling thread; -1: leave it */
    const atomic_bool *stop; /* may be NULL */
};

/* Fills cfg with the defaults (10 s, 10,000 AORs, window 0, rate 0, ...). */
void vb_load_defaults(struct vb_load_cfg *cfg);

/* Parses a scenario name; -1 if unknown. */
int vb_scenario_parse(const char *s);
const char *vb_scenario_name(int sc);

enum vb_req_kind {
    VB_RK_REGISTER,
    VB_RK_INVITE,
    VB_RK_ACK,
    VB_RK_BYE,
    VB_RK_OPTIONS,
    VB_RK_MESSAGE,
    VB_RK_COUNT
};

struct vb_load_result {
    double offer_s;  /* seconds spent offering */
    double total_s;  /* offering + drain */
    double active_s; /* first request to last response (at least the offering): the time
                        the system under test had work */
    uint64_t sent[VB_RK_COUNT];
    uint64_t requests; /* sum of sent[] */
    uint64_t send_errors;
    uint64_t txn_started, txn_completed, txn_lost, txn_non2xx;
    uint64_t calls_started, calls_completed;
    uint64_t rx; /* datagrams received */
    uint64_t provisionals, finals;
    uint64_t bad; /* did not parse as a response */
    uint64_t unknown, duplicates, mismatches;
    uint64_t followups_dropped; /* ACK/BYE queue full */
    uint64_t rx_drops;  /* responses the load's own receive queues dropped (/proc/net/udp) */
    struct vb_hist lat; /* final-response round trip, ns */
};

/*
 * Runs the scenario against cfg->target on the calling thread, writing the
 * outcome into *res. Returns 0, or -errno if the sockets could not be set up
 * (with a one-line reason in err). Bounded: it returns within duration +
 * drain + 0.2 s, or sooner after count requests or *stop.
 */
int vb_load_run(const struct vb_load_cfg *cfg, struct vb_load_result *res, char *err,
                size_t errlen);

/* Prints the load generator's view: offered, answered, lost, latency. */
void vb_load_print(FILE *f, const struct vb_load_cfg *cfg, const struct vb_load_result *r);

/* `viaduct-bench load`. Returns the exit status. */
int vb_load_main(int argc, char **argv);

#endif
