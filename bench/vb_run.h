/*
 * vb_run.h - `run` and `compare`: emulated backends, systems under test and
 * load in one process tree, phase by phase, with medians of K repeats.
 *
 * A phase is one load run at one offered rate against one system, between
 * two readings of the system's CPU time, its sockets' drop counters and the
 * backends' counters. Its figures (struct vb_phase) are all doubles declared
 * once in VB_PHASE_FIELDS, so the median, the JSON and the table are written
 * once for every field.
 */
#ifndef VIADUCT_VB_RUN_H
#define VIADUCT_VB_RUN_H

#include <stdio.h>

#include "bench/vb_emu.h"
#include "bench/vb_sut.h"

/* X(name, printf format for the JSON, what it is) */
#define VB_PHASE_FIELDS(X)                                                                         \
    X(offered_rps, "%.1f", "requests offered per second (achieved)")                               \
    X(fwd_mps, "%.1f", "messages forwarded per second (requests and responses)")                   \
    X(mpcs, "%.1f", "messages forwarded per CPU-second of the system under test")                  \
    X(cpu_s, "%.4f", "CPU seconds (user + system) of the system under test")                       \
    X(cpu_util, "%.4f", "its CPU seconds per second of activity")                                  \
    X(user_us_msg, "%.3f", "its user-space CPU microseconds per message forwarded (/proc utime)")  \
    X(sys_us_msg, "%.3f", "its kernel CPU microseconds per message forwarded (/proc stime)")       \
    X(req_offered, "%.0f", "requests the load sent")                                               \
    X(req_delivered, "%.0f", "requests the backends received")                                     \
    X(resp_offered, "%.0f", "responses the backends sent")                                         \
    X(resp_delivered, "%.0f", "responses the load received")                                       \
    X(forwarded, "%.0f", "delivered + dropped by our own sockets (forwarded by the system)")       \
    X(lost, "%.0f", "messages offered and never delivered")                                        \
    X(loss_pct, "%.4f", "lost per 100 offered")                                                    \
    X(txn_started, "%.0f", "transactions started")                                                 \
    X(txn_lost, "%.0f", "transactions without a final response")                                   \
    X(non2xx, "%.0f", "final responses >= 300")                                                    \
    X(unparsable, "%.0f", "responses that did not parse")                                          \
    X(drops_sut, "%.0f", "datagrams its sockets dropped (receive queue full)")                     \
    X(drops_harness, "%.0f", "datagrams the backends' and the load's sockets dropped")             \
    X(p50_us, "%.1f", "round-trip latency percentiles, microseconds")                              \
    X(p90_us, "%.1f", "")                                                                          \
    X(p99_us, "%.1f", "")                                                                          \
    X(p999_us, "%.1f", "")                                                                         \
    X(max_us, "%.1f", "")                                                                          \
    X(mean_us, "%.1f", "")                                                                         \
    X(keys, "%.0f", "affinity keys (Call-IDs and AORs) checked")                                   \
    X(splits, "%.0f", "messages that reached a second backend for their key")                      \
    X(offer_s, "%.3f", "seconds of offering")                                                      \
    X(loadavg1, "%.2f", "1-minute load average of the machine at the end")

struct vb_phase {
#define X(n, fmt, doc) double n;
    VB_PHASE_FIELDS(X)
#undef X
};

#define VB_MAX_SUTS 8
#define VB_MAX_RATES 16
#define VB_MAX_REPEAT 15

struct vb_point {
    char spec[24]; /* as given: "20000", "max", "flood", "x0.5" */
    double rate;   /* requests/s asked for; 0 unpaced */
    unsigned long window;
    int nrun;
    struct vb_phase run[VB_MAX_REPEAT];
    struct vb_phase med;
};

struct vb_run_sys {
    struct vb_sut sut;
    char listen[64];
    struct vb_point pt[VB_MAX_RATES];
    struct vb_emu_snap last; /* the backends' view of its last measured run */
};

struct vb_run_info { /* what the JSON says about the machine and the settings */
    char date[32], host[72], kernel[72], cpu_model[96], commit[48];
    char uptime_start[96], uptime_end[96];
    int ncpus;
    char sut_cpus[32];
    int load_cpu;
    int nice, nice_applied; /* asked for, and what setpriority gave us */
    char scenario[16], invite_replies[16];
    bool no_reply, cpu_split;
    double duration;
    int repeat, backends, sockets, nrates;
    unsigned long window;
};

/* Median of every field over the point's runs into p->med. */
void vb_point_median(struct vb_point *p);

/* Writes the whole result as JSON. 0 or -errno. */
int vb_report_json(const char *path, const struct vb_run_info *info, const struct vb_run_sys *sys,
                   int nsys);

/* Prints the medians as a table, and the ratios of the first system to
 * each other one when there are several. */
void vb_report_table(FILE *f, const struct vb_run_info *info, const struct vb_run_sys *sys,
                     int nsys);

/* Writes PREFIX.dat and PREFIX.gp and runs gnuplot for PREFIX.png: latency
 * percentiles and messages per CPU-second against offered load. 0 if the
 * PNG was written, -1 otherwise (e.g. no gnuplot; the .gp stays). */
int vb_report_plot(const char *prefix, const struct vb_run_info *info, const struct vb_run_sys *sys,
                   int nsys);

/* `viaduct-bench run` and `viaduct-bench compare`. Exit status. */
int vb_run_main(int argc, char **argv, bool compare);

#endif
