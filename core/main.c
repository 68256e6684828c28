/*
 * main.c - viaduct: a stateless, high-throughput SIP forwarder.
 *
 *   viaduct --listen 127.0.0.1:5060 --backend 127.0.0.1:5070 --backend 127.0.0.1:5071
 *   viaduct -c /etc/viaduct.yaml
 *   viaduct --check -c /etc/viaduct.yaml     (validate, print the effective config, exit 0/1)
 *
 * Configuration comes in layers, each overriding the one before: built-in
 * defaults, the YAML file (-c FILE, or $VIADUCT_CONFIG), VIADUCT_* variables,
 * flags. The result is validated as a whole and turned into one immutable
 * runtime config; then every worker's sockets are opened (so "port in use" is
 * reported before anything runs), the health thread and one pinned thread per
 * worker start, and the main thread waits for signals: SIGUSR1 prints the
 * counters, SIGTERM/SIGINT stop everything, print the counters and exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/health.h"
#include "core/worker.h"

extern char **environ;

#define VIADUCT_VERSION "0.1.0"
#define MAX_WORKERS 64

static int die(const char *fmt, const char *arg)
{
    fprintf(stderr, "viaduct: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
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

static struct cfg *conf;  /* the configuration px was built from; px points into it */
static struct px_cfg *px; /* what the workers read, through pub */
static struct wk_pub pub;
static struct wk workers[MAX_WORKERS];
static atomic_bool stop_flag;

/* main's own flags; the settings' flags come from the configuration's table. */
enum { OPT_CHECK = 1, OPT_VERSION, OPT_HELP, OPT_MARKDOWN, OPT_SETTING = 256 };
static const struct {
    struct option o;
    const char *help;
} commands[] = {
    {{"check", no_argument, NULL, OPT_CHECK},
     "validate the configuration, print it as YAML, exit 0 or 1"},
    {{"help-config-markdown", no_argument, NULL, OPT_MARKDOWN},
     "print the table of settings (the README's) in Markdown"},
    {{"version", no_argument, NULL, OPT_VERSION}, "print the version"},
    {{"help", no_argument, NULL, OPT_HELP}, "print this"},
};

static void usage(FILE *f)
{
    char flag[32];
    fputs("usage: viaduct [options]\n", f);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        snprintf(flag, sizeof(flag), "--%s", commands[i].o.name);
        cfg_print_help_line(f, flag, commands[i].help);
    }
    cfg_print_help(f);
    fputs("Signals: SIGUSR1 prints counters to stderr; SIGHUP reloads the configuration\n"
          "(pools, rules, keys, health); SIGTERM/SIGINT stop, print counters, exit 0.\n",
          f);
}

/* Flags override the file and the environment (cfg_apply_flags says how). */
static int parse_flags(int argc, char **argv, struct cfg *c, bool *check)
{
    enum { NCMD = sizeof(commands) / sizeof(commands[0]) };
    struct option longopts[64 + NCMD + 1];
    struct cfg_arg *args = calloc((size_t)argc + 1, sizeof(*args));
    char err[CFG_ERR_LEN];
    int n = cfg_flag_options(longopts, 64, OPT_SETTING), nargs = 0, opt, config = -1;
    if (args == NULL)
        return die("out of memory%s", "");
    for (int i = 0; i < n; i++)
        if (strcmp(longopts[i].name, "config") == 0)
            config = longopts[i].val - OPT_SETTING;
    for (int i = 0; i < NCMD; i++)
        longopts[n++] = commands[i].o;
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    optind = 1;
    /* -c is --config, the one short flag */
    while ((opt = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
        if (opt >= OPT_SETTING || opt == 'c') {
            args[nargs++] = (struct cfg_arg){opt == 'c' ? config : opt - OPT_SETTING, optarg};
            continue;
        }
        switch (opt) {
        case OPT_CHECK: *check = true; break;
        case OPT_VERSION: printf("viaduct %s\n", VIADUCT_VERSION); break;
        case OPT_HELP: usage(stdout); break;
        case OPT_MARKDOWN: cfg_print_markdown(stdout); break;
        default: usage(stderr); free(args); return 1;
        }
        if (opt != OPT_CHECK) {
            free(args);
            exit(0);
        }
    }
    if (optind < argc) {
        free(args);
        return die("unexpected argument '%s'", argv[optind]);
    }
    int r = cfg_apply_flags(c, args, nargs, err, sizeof(err));
    free(args);
    return r < 0 ? die("%s", err) : 0;
}

/* The -c/--config argument, before the other flags are applied. */
static const char *config_path(int argc, char **argv)
{
    const char *path = getenv("VIADUCT_CONFIG");
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    }
    return path;
}

/* Defaults, file, environment, flags; then the whole is validated. */
static int load_config(int argc, char **argv, struct cfg *c, bool *check)
{
    char err[CFG_ERR_LEN];
    const char *path = config_path(argc, argv);
    cfg_defaults(c);
    if (path != NULL && cfg_load_file(c, path, err, sizeof(err)) < 0)
        return die("%s", err);
    if (cfg_apply_env(c, environ, err, sizeof(err)) < 0)
        return die("%s", err);
    if (parse_flags(argc, argv, c, check) != 0)
        return 1;
    if (cfg_validate(c, err, sizeof(err)) < 0)
        return die("%s", err);
    return 0;
}

/* SIGUSR1 and exit: one snapshot of every counter, then per backend and
 * the health thread's. */
static void print_stats(int n, const struct hc *hc)
{
    struct st_worker *st[MAX_WORKERS];
    struct st_snapshot *s = malloc(sizeof(*s));
    if (s == NULL)
        return;
    for (int i = 0; i < n; i++)
        st[i] = &workers[i].st;
    st_snapshot(st, n, s);
    st_print(stderr, s);
    hc_print(stderr, hc);
    px_print_backends(stderr, px, conf, s);
    free(s);
}

static void on_exit_free(void)
{
    if (px != NULL)
        px_cfg_free(px);
    free(px);
    if (conf != NULL)
        cfg_free(conf);
    free(conf);
}

static int count_backends(const struct px_cfg *p)
{
    int n = 0;
    for (int i = 0; i < p->npools; i++)
        n += p->pools[i].rt->n;
    return n;
}

/* Listening addresses, advertised names and the worker count are fixed by
 * the sockets and threads already running: a reload may not change them. */
static bool same_sockets(const struct cfg *a, const struct cfg *b)
{
    if (a->nlisten != b->nlisten || a->workers != b->workers || strcmp(a->io, b->io) != 0 ||
        a->max_msg != b->max_msg)
        return false;
    for (int i = 0; i < a->nlisten; i++)
        if (strcmp(a->listen[i], b->listen[i]) != 0 || strcmp(a->advertise[i], b->advertise[i]))
            return false;
    return true;
}

/*
 * SIGHUP: the configuration again from every layer, built off the hot path,
 * published whole, the old one freed once no worker can still read it. A
 * configuration that does not load, or that would change the sockets, is
 * refused and the running one kept.
 */
static void reload(int argc, char **argv, int nworkers, struct hc **hc)
{
    char err[CFG_ERR_LEN];
    bool check = false;
    struct cfg *nc = calloc(1, sizeof(*nc));
    struct px_cfg *np = calloc(1, sizeof(*np));
    if (nc == NULL || np == NULL || load_config(argc, argv, nc, &check) != 0) {
        fprintf(stderr, "viaduct: reload refused, the running configuration stays\n");
        goto refuse;
    }
    if (!same_sockets(nc, conf)) {
        fprintf(stderr, "viaduct: reload refused: listen, advertise, workers, io and max_message "
                        "change only with a restart\n");
        goto refuse;
    }
    if (px_cfg_build(np, nc, err, sizeof(err)) < 0) {
        fprintf(stderr, "viaduct: reload refused: %s\n", err);
        px_cfg_free(np);
        goto refuse;
    }
    px_cfg_carry_health(np, nc, px, conf);
    hc_stop(*hc); /* it reads the old pools */
    const struct px_cfg *old = wk_publish(&pub, workers, nworkers, np, 2000);
    for (int p = 0; p < np->npools; p++)
        for (int q = 0; old != NULL && q < old->npools; q++)
            if (strcmp(nc->pools[p].name, conf->pools[q].name) == 0)
                fprintf(stderr, "viaduct: pool %s: %d backends, %u of %u slots changed\n",
                        nc->pools[p].name, np->pools[p].rt->n,
                        rt_slots_changed(old->pools[q].rt, np->pools[p].rt), np->pools[p].rt->m);
    if (old == NULL) {
        /* a worker did not pass a quiescent point: it may still read the old
         * configuration, which is therefore kept (leaked) rather than freed */
        fprintf(stderr, "viaduct: a worker is slow to move on: the old configuration is kept\n");
    } else {
        px_cfg_free(px);
        free(px);
        cfg_free(conf);
        free(conf);
    }
    px = np;
    conf = nc;
    *hc = hc_start(px, conf, err, sizeof(err));
    if (*hc == NULL)
        fprintf(stderr, "viaduct: after the reload: %s (health checks stopped)\n", err);
    fprintf(stderr, "viaduct: configuration reloaded: %d backends in %d pools\n",
            count_backends(px), px->npools);
    return;
refuse:
    if (nc != NULL)
        cfg_free(nc);
    free(nc);
    free(np);
}

int main(int argc, char **argv)
{
    char err[CFG_ERR_LEN];
    int cpus[MAX_WORKERS];
    int ncpu = allowed_cpus(cpus, MAX_WORKERS);
    bool check = false;

    conf = calloc(1, sizeof(*conf));
    px = calloc(1, sizeof(*px));
    if (conf == NULL || px == NULL)
        return die("out of memory%s", "");
    atexit(on_exit_free);
    int rc = load_config(argc, argv, conf, &check);
    if (check) {
        if (rc == 0)
            cfg_print(stdout, conf);
        return rc;
    }
    if (rc != 0)
        return rc;
    if (px_cfg_build(px, conf, err, sizeof(err)) < 0)
        return die("%s", err);
    atomic_store(&pub.cfg, px);

    enum wk_io io = WK_IO_MMSG;
    if (strcmp(conf->io, "uring") == 0 || (strcmp(conf->io, "auto") == 0 && net_uring_available()))
        io = WK_IO_URING;
    int n = conf->workers > 0 ? conf->workers : (ncpu > 0 ? ncpu : 1);

    /* signals go to this thread only: workers inherit the blocked mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (int i = 0; i < n; i++) {
        struct wk *w = &workers[i];
        w->id = i;
        w->cpu = ncpu > 0 ? cpus[i % ncpu] : -1;
        w->io = io;
        w->nbufs = 1024;
        w->buf_size = conf->max_msg;
        w->pub = &pub;
        w->batch = 64;
        w->stop = &stop_flag;
        if (wk_open(w, px, err, sizeof(err)) < 0) {
            for (int j = 0; j < i; j++)
                for (int k = 0; k < workers[j].nfds; k++)
                    close(workers[j].fds[k]);
            return die("%s", err);
        }
    }
    struct hc *hc = hc_start(px, conf, err, sizeof(err));
    if (hc == NULL)
        return die("%s", err);
    for (int i = 0; i < n; i++) {
        if (wk_start(&workers[i]) < 0) {
            atomic_store(&stop_flag, true);
            for (int j = 0; j < i; j++)
                wk_join(&workers[j]);
            hc_stop(hc);
            return die("cannot start worker threads%s", "");
        }
    }
    char a[80];
    int nbackends = count_backends(px);
    net_addr_format((const struct sockaddr *)&px->listen[0].addr, a, sizeof(a));
    fprintf(stderr,
            "viaduct %s: %d worker%s (%s), listening on %s (+%d more), %d backend%s in %d "
            "pool%s\n",
            VIADUCT_VERSION, n, n == 1 ? "" : "s", io == WK_IO_URING ? "io_uring" : "recvmmsg", a,
            px->nlisten - 1, nbackends, nbackends == 1 ? "" : "s", px->npools,
            px->npools == 1 ? "" : "s");

    int status = 0;
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGUSR1) {
            print_stats(n, hc);
            continue;
        }
        if (sig == SIGHUP) {
            reload(argc, argv, n, &hc);
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
    print_stats(n, hc);
    hc_stop(hc);
    fprintf(stderr, "viaduct: stopped\n");
    return status;
}
