/*
 * main.c - viaduct: a stateless, high-throughput SIP forwarder.
 *
 *   viaduct --listen 127.0.0.1:5060 --backend 127.0.0.1:5070 --backend 127.0.0.1:5071
 *
 * Parses flags into one immutable struct px_cfg, opens every worker's sockets
 * (so "port in use" is reported before anything runs), starts one pinned
 * thread per worker, then waits for signals: SIGUSR1 prints the counters,
 * SIGTERM/SIGINT stop the workers, print the counters and exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/worker.h"

#define VIADUCT_VERSION "0.1.0"
#define MAX_WORKERS 64

static const char usage[] =
    "usage: viaduct [options]\n"
    "  --listen ADDR:PORT     where to receive SIP over UDP (repeatable; IPv6 as [::1]:5060;\n"
    "                         default 127.0.0.1:5060)\n"
    "  --backend ADDR:PORT    next hop for requests without a usable Route (repeatable)\n"
    "  --advertise HOST:PORT  sent-by of our Via for the listen address of the same position\n"
    "                         (repeatable; default: that listen address)\n"
    "  --alias HOST[:PORT]    another name of viaduct: a Route or Request-URI naming it is\n"
    "                         ours (repeatable; port 5060 when not given)\n"
    "  --workers N            worker threads, each pinned to a CPU (default: online CPUs)\n"
    "  --io uring|mmsg|auto   packet engine (default auto: io_uring where the kernel allows it)\n"
    "  --max-msg BYTES        largest request forwarded; larger ones get 513 (default 16384)\n"
    "  --version, --help\n"
    "Signals: SIGUSR1 prints counters to stderr; SIGTERM/SIGINT stop, print counters, exit 0.\n";

struct opts {
    const char *listen[PX_MAX_LISTEN];
    int nlisten;
    const char *advertise[PX_MAX_LISTEN];
    int nadvertise;
    int workers;
    const char *io;
    long max_msg;
};

static int die(const char *fmt, const char *arg)
{
    fprintf(stderr, "viaduct: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

static int build_listen(const struct opts *o, struct px_cfg *c)
{
    char err[200];
    for (int i = 0; i < o->nlisten; i++) {
        const char *adv = i < o->nadvertise ? o->advertise[i] : NULL;
        if (px_listen_init(&c->listen[i], o->listen[i], adv, err, sizeof(err)) < 0)
            return die("%s", err);
    }
    c->nlisten = o->nlisten;
    return 0;
}

static int allowed_cpus(int *cpus, int max)
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

static struct px_cfg cfg;
static struct rt_table rt;
static struct wk workers[MAX_WORKERS];
static atomic_bool stop_flag;

static int parse_opts(int argc, char **argv, struct opts *o, struct rt_table *table)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"backend", required_argument, NULL, 'b'},
        {"advertise", required_argument, NULL, 'a'},
        {"workers", required_argument, NULL, 'w'},
        {"io", required_argument, NULL, 'i'},
        {"max-msg", required_argument, NULL, 'm'},
        {"alias", required_argument, NULL, 'A'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (o->nlisten == PX_MAX_LISTEN)
                return die("too many --listen (at most %s)", "16");
            o->listen[o->nlisten++] = optarg;
            break;
        case 'a':
            if (o->nadvertise == PX_MAX_LISTEN)
                return die("too many --advertise (at most %s)", "16");
            o->advertise[o->nadvertise++] = optarg;
            break;
        case 'b':
            if (table->n == RT_MAX_BACKENDS)
                return die("too many --backend (at most %s)", "1024");
            if (net_addr_parse(optarg, &table->b[table->n].addr, &table->b[table->n].addrlen) < 0)
                return die("bad --backend address '%s' (want IP:PORT or [IPv6]:PORT)", optarg);
            table->n++;
            break;
        case 'A':
            if (cfg.nalias == PX_MAX_ALIASES)
                return die("too many --alias (at most %s)", "16");
            if (px_alias_init(&cfg.alias[cfg.nalias], optarg) < 0)
                return die("bad --alias '%s' (want HOST or HOST:PORT)", optarg);
            cfg.nalias++;
            break;
        case 'w':
            o->workers = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || o->workers < 1 || o->workers > MAX_WORKERS)
                return die("bad --workers '%s' (1 to 64)", optarg);
            break;
        case 'i':
            if (strcmp(optarg, "uring") && strcmp(optarg, "mmsg") && strcmp(optarg, "auto"))
                return die("bad --io '%s' (uring, mmsg or auto)", optarg);
            o->io = optarg;
            break;
        case 'm':
            o->max_msg = strtol(optarg, &end, 10);
            if (*end != '\0' || o->max_msg < 1024 || o->max_msg > 65535)
                return die("bad --max-msg '%s' (1024 to 65535)", optarg);
            break;
        case 'V': printf("viaduct %s\n", VIADUCT_VERSION); exit(0);
        case 'h': fputs(usage, stdout); exit(0);
        default: fputs(usage, stderr); return 1;
        }
    }
    if (optind < argc)
        return die("unexpected argument '%s'", argv[optind]);
    return 0;
}

static void print_stats(int n)
{
    struct st_worker *st[MAX_WORKERS];
    for (int i = 0; i < n; i++)
        st[i] = &workers[i].st;
    st_print(stderr, st, n);
}

int main(int argc, char **argv)
{
    struct opts o = {.io = "auto", .max_msg = 16384};
    char err[256];
    int cpus[MAX_WORKERS];
    int ncpu = allowed_cpus(cpus, MAX_WORKERS);

    if (parse_opts(argc, argv, &o, &rt) != 0)
        return 1;
    if (o.nlisten == 0)
        o.listen[o.nlisten++] = "127.0.0.1:5060";
    if (build_listen(&o, &cfg) != 0)
        return 1;
    if (rt.n == 0)
        return die("no backends: give at least one --backend ADDR:PORT%s", "");
    rt.seed = 0x7669616475637431ULL; /* fixed: every instance must hash alike */
    cfg.rt = &rt;
    cfg.max_msg = (size_t)o.max_msg;
    cfg.seed = rt.seed;
    cfg.retry_after = 5;

    enum wk_io io = WK_IO_MMSG;
    if (strcmp(o.io, "uring") == 0 || (strcmp(o.io, "auto") == 0 && net_uring_available()))
        io = WK_IO_URING;
    int n = o.workers > 0 ? o.workers : (ncpu > 0 ? ncpu : 1);

    /* signals go to this thread only: workers inherit the blocked mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (int i = 0; i < n; i++) {
        struct wk *w = &workers[i];
        w->id = i;
        w->cpu = ncpu > 0 ? cpus[i % ncpu] : -1;
        w->io = io;
        w->nbufs = 1024;
        w->buf_size = (unsigned)cfg.max_msg;
        w->batch = 64;
        w->stop = &stop_flag;
        if (wk_open(w, &cfg, err, sizeof(err)) < 0) {
            for (int j = 0; j < i; j++)
                for (int k = 0; k < workers[j].nfds; k++)
                    close(workers[j].fds[k]);
            return die("%s", err);
        }
    }
    for (int i = 0; i < n; i++) {
        if (wk_start(&workers[i]) < 0) {
            atomic_store(&stop_flag, true);
            for (int j = 0; j < i; j++)
                wk_join(&workers[j]);
            return die("cannot start worker threads%s", "");
        }
    }
    char a[80];
    net_addr_format((const struct sockaddr *)&cfg.listen[0].addr, a, sizeof(a));
    fprintf(stderr, "viaduct %s: %d worker%s (%s), listening on %s (+%d more), %d backend%s\n",
            VIADUCT_VERSION, n, n == 1 ? "" : "s", io == WK_IO_URING ? "io_uring" : "recvmmsg", a,
            cfg.nlisten - 1, rt.n, rt.n == 1 ? "" : "s");

    int status = 0;
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGUSR1) {
            print_stats(n);
            continue;
        }
        if (sig == SIGUSR2)
            status = 1; /* a worker's engine failed; its reason follows */
        break;
    }
    atomic_store(&stop_flag, true);
    for (int i = 0; i < n; i++) {
        wk_join(&workers[i]);
        if (workers[i].result < 0) {
            fprintf(stderr, "viaduct: worker %d: packet engine failed: %s\n", i,
                    strerror(-workers[i].result));
            status = 1;
        }
    }
    print_stats(n);
    fprintf(stderr, "viaduct: stopped\n");
    return status;
}
