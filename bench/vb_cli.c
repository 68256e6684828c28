/* vb_cli.c - see vb_cli.h. */
#include "bench/vb_cli.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VB_MAX_OPTS 48

void vb_opts_usage(FILE *f, const char *cmd, const char *summary, const struct vb_opt *o)
{
    fprintf(f, "usage: viaduct-bench %s [options]\n%s\n", cmd, summary);
    for (; o->name != NULL; o++) {
        char left[48];
        snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-26s %s\n", left, o->help);
    }
}

static int set_value(const char *cmd, const struct vb_opt *o, const char *arg)
{
    char *end;
    switch (o->type) {
    case VB_OPT_FLAG: *(bool *)o->field = true; return 0;
    case VB_OPT_STR: *(const char **)o->field = arg; return 0;
    case VB_OPT_LIST: {
        struct vb_strlist *l = o->field;
        if (l->n == VB_LIST_MAX) {
            fprintf(stderr, "viaduct-bench %s: too many --%s (at most %d)\n", cmd, o->name,
                    VB_LIST_MAX);
            return -1;
        }
        l->s[l->n++] = arg;
        return 0;
    }
    case VB_OPT_INT: {
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (errno || *end || end == arg || v < o->min || v > o->max) {
            fprintf(stderr, "viaduct-bench %s: bad --%s '%s' (an integer from %.0f to %.0f)\n", cmd,
                    o->name, arg, o->min, o->max);
            return -1;
        }
        *(long *)o->field = v;
        return 0;
    }
    case VB_OPT_DOUBLE: {
        errno = 0;
        double v = strtod(arg, &end);
        if (errno || *end || end == arg || v < o->min || v > o->max) {
            fprintf(stderr, "viaduct-bench %s: bad --%s '%s' (a number from %g to %g)\n", cmd,
                    o->name, arg, o->min, o->max);
            return -1;
        }
        *(double *)o->field = v;
        return 0;
    }
    }
    return -1;
}

int vb_opts_parse(const char *cmd, const char *summary, const struct vb_opt *opts, int argc,
                  char **argv)
{
    struct option lo[VB_MAX_OPTS + 2];
    int n = 0;
    for (; opts[n].name != NULL && n < VB_MAX_OPTS; n++)
        lo[n] = (struct option){opts[n].name,
                                opts[n].type == VB_OPT_FLAG ? no_argument : required_argument, NULL,
                                1000 + n};
    lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n] = (struct option){NULL, 0, NULL, 0};
    optind = 1;
    opterr = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'h') {
            vb_opts_usage(stdout, cmd, summary, opts);
            exit(0);
        }
        if (c < 1000) {
            vb_opts_usage(stderr, cmd, summary, opts);
            return -1;
        }
        if (set_value(cmd, &opts[c - 1000], optarg) < 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "viaduct-bench %s: unexpected argument '%s'\n", cmd, argv[optind]);
        return -1;
    }
    return 0;
}

bool vb_fmt(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < cap;
}

uint64_t vb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int vb_pin_self(int cpu)
{
    if (cpu < 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int vb_allowed_cpus(int *cpus, int max)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    return n;
}

static void signal_set(sigset_t *s)
{
    sigemptyset(s);
    sigaddset(s, SIGINT);
    sigaddset(s, SIGTERM);
    sigaddset(s, SIGUSR1);
}

void vb_block_signals(void)
{
    sigset_t s;
    signal_set(&s);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int vb_wait_signal(int timeout_ms)
{
    sigset_t s;
    signal_set(&s);
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    int sig = sigtimedwait(&s, NULL, &ts);
    return sig > 0 ? sig : 0;
}
