/*
 * vb_cli.h - what every viaduct-bench subcommand shares: options declared as
 * one table per command (name, type, bounds, field, help) and parsed and
 * checked in one place (as Redis's config table does), the clock, CPU
 * pinning, and a bounded wait for stop signals.
 */
#ifndef VIADUCT_VB_CLI_H
#define VIADUCT_VB_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum vb_opt_type {
    VB_OPT_INT,    /* long, within [min, max] */
    VB_OPT_DOUBLE, /* double, within [min, max] */
    VB_OPT_STR,    /* const char *, the argv string */
    VB_OPT_FLAG,   /* bool, no argument */
    VB_OPT_LIST,   /* repeatable: appended to a struct vb_strlist */
};

#define VB_LIST_MAX 16

struct vb_strlist {
    int n;
    const char *s[VB_LIST_MAX];
};

struct vb_opt {
    const char *name;
    enum vb_opt_type type;
    void *field;
    double min, max;
    const char *arg;  /* placeholder in the usage text, e.g. "N" */
    const char *help; /* one line */
};

#define VB_OPT_END                                                                                 \
    {                                                                                              \
        NULL, VB_OPT_FLAG, NULL, 0, 0, NULL, NULL                                                  \
    }

/*
 * Parses argv[1..] (argv[0] is the subcommand) against the table, writing
 * each value into its field; --help prints the usage and exits 0. Returns 0,
 * or -1 after printing what was wrong and the usage to stderr.
 */
int vb_opts_parse(const char *cmd, const char *summary, const struct vb_opt *opts, int argc,
                  char **argv);

/* Prints "usage: viaduct-bench CMD [options]", the summary and the table. */
void vb_opts_usage(FILE *f, const char *cmd, const char *summary, const struct vb_opt *opts);

/* snprintf into dst[cap] that says whether it all fitted (false: truncated,
 * still NUL-terminated): for labels and paths, where a cut is reported or
 * harmless rather than a compiler warning. */
bool vb_fmt(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t vb_now_ns(void);

/* Pins the calling thread to cpu (-1: leaves it). 0 or -errno. */
int vb_pin_self(int cpu);

/* The CPUs this process may run on, ascending, into cpus[0..max). */
int vb_allowed_cpus(int *cpus, int max);

/*
 * Blocks SIGINT, SIGTERM and SIGUSR1 in the calling thread (call before
 * starting threads, which inherit the mask), so vb_wait_signal can take them.
 */
void vb_block_signals(void);

/* Waits at most timeout_ms for SIGINT/SIGTERM/SIGUSR1: returns the signal
 * number, or 0 on timeout. */
int vb_wait_signal(int timeout_ms);

#endif
