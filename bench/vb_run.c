/*
 * vb_run.c - `viaduct-bench run` and `compare`: one command that starts the
 * emulated backends (a thread of this process), every system under test
 * (children pinned to their CPUs, each on its own listening port), and then
 * offers the load phase by phase, interleaving the systems within each
 * repeat so that whatever else the machine is doing falls on all of them
 * alike. Every system is stopped by PID at the end, or on SIGINT/SIGTERM.
 *
 *   $ viaduct-bench run --sut "viaduct:--io mmsg --workers 1" --rates max,x0.5,flood
 *   $ viaduct-bench compare --sut viaduct --sut relay --sut kamailio --repeat 5
 *
 * Rates (--rates, comma-separated): a number is requests per second, paced;
 * "max" is unpaced with --window transactions in flight (closed loop: the
 * highest rate the system sustains with the load waiting for it); "flood" is
 * unpaced with no window (overload); "xF" is F times the first system's
 * median "max" rate, so every system gets the same absolute rates.
 */
#include "bench/vb_run.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench/vb_cli.h"
#include "bench/vb_emu.h"
#include "bench/vb_load.h"
#include "net/net.h"

static atomic_bool run_stop; /* the one process-wide flag: set by SIGINT/SIGTERM */

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&run_stop, true);
}

struct run_opts {
    struct vb_strlist suts;
    const char *scenario, *rates, *replies, *listen, *backend_base, *sut_cpus, *out, *name;
    const char *bindir;
    long repeat, backends, window, sockets, aors, load_cpu, nice;
    double duration, warmup, rest;
    bool no_reply, quiet, cpu_split;
};

struct run_ctx {
    struct run_opts o;
    struct vb_run_info info;
    struct vb_emu emu;
    uint64_t emu_ino[VB_EMU_MAX];
    struct vb_run_sys sys[VB_MAX_SUTS];
    int nsys;
    uint32_t run_id;
    int scenario;
};

static double loadavg1(char *text, size_t cap)
{
    char buf[128] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fgets(buf, sizeof(buf), f) == NULL)
            buf[0] = '\0';
        fclose(f);
    }
    double a = 0, b = 0, c = 0;
    sscanf(buf, "%lf %lf %lf", &a, &b, &c);
    if (text != NULL)
        snprintf(text, cap, "load average: %.2f, %.2f, %.2f", a, b, c);
    return a;
}

/* Turns a --rates item into a rate and a window; ref is the first system's
 * median max rate (0 while unknown). */
static int resolve_rate(const char *spec, double ref, unsigned long win, struct vb_point *p)
{
    char *end;
    snprintf(p->spec, sizeof(p->spec), "%s", spec);
    p->window = 0;
    if (strcmp(spec, "max") == 0) {
        p->rate = 0;
        p->window = win;
    } else if (strcmp(spec, "flood") == 0) {
        p->rate = 0;
    } else if (spec[0] == 'x') {
        double f = strtod(spec + 1, &end);
        if (*end || f <= 0 || ref <= 0)
            return -1;
        p->rate = f * ref;
    } else {
        p->rate = strtod(spec, &end);
        if (*end || p->rate <= 0)
            return -1;
    }
    return 0;
}

static void fill_phase(struct vb_phase *ph, const struct vb_load_result *lr,
                       const struct vb_emu_snap *es, const struct vb_proc_cpu *c0,
                       const struct vb_proc_cpu *c1, uint64_t dsut, uint64_t dharn)
{
    double cpu_s = c1->cpu_s - c0->cpu_s;
    uint64_t req_rx = 0, resp_tx = 0;
    for (int b = 0; b < es->n; b++) {
        req_rx += es->cnt[b].rx - es->cnt[b].stray;
        resp_tx += es->cnt[b].responses - es->cnt[b].send_errors;
    }
    memset(ph, 0, sizeof(*ph));
    ph->offer_s = lr->offer_s;
    ph->req_offered = (double)(lr->requests - lr->send_errors);
    ph->req_delivered = (double)req_rx;
    ph->resp_offered = (double)resp_tx;
    ph->resp_delivered = (double)lr->rx;
    double delivered = ph->req_delivered + ph->resp_delivered;
    double offered = ph->req_offered + ph->resp_offered;
    ph->forwarded = delivered + (double)dharn;
    ph->lost = offered > delivered ? offered - delivered : 0;
    ph->loss_pct = offered > 0 ? 100.0 * ph->lost / offered : 0;
    ph->offered_rps = lr->offer_s > 0 ? ph->req_offered / lr->offer_s : 0;
    ph->fwd_mps = lr->active_s > 0 ? ph->forwarded / lr->active_s : 0;
    ph->cpu_s = cpu_s;
    ph->cpu_util = lr->active_s > 0 ? cpu_s / lr->active_s : 0;
    ph->mpcs = cpu_s > 0 ? ph->forwarded / cpu_s : 0;
    if (ph->forwarded > 0) {
        ph->user_us_msg = 1e6 * (c1->user_s - c0->user_s) / ph->forwarded;
        ph->sys_us_msg = 1e6 * (c1->sys_s - c0->sys_s) / ph->forwarded;
    }
    ph->txn_started = (double)lr->txn_started;
    ph->txn_lost = (double)lr->txn_lost;
    ph->non2xx = (double)lr->txn_non2xx;
    ph->unparsable = (double)lr->bad;
    ph->drops_sut = (double)dsut;
    ph->drops_harness = (double)dharn;
    const struct vb_hist *h = &lr->lat;
    ph->p50_us = (double)vb_hist_pct(h, 50) / 1e3;
    ph->p90_us = (double)vb_hist_pct(h, 90) / 1e3;
    ph->p99_us = (double)vb_hist_pct(h, 99) / 1e3;
    ph->p999_us = (double)vb_hist_pct(h, 99.9) / 1e3;
    ph->max_us = (double)vb_hist_pct(h, 100) / 1e3;
    ph->mean_us = vb_hist_mean(h) / 1e3;
    ph->keys = (double)(es->keys[0] + es->keys[1]);
    ph->splits = (double)(es->splits[0] + es->splits[1]);
    ph->loadavg1 = loadavg1(NULL, 0);
}

/* One load run at p's rate against system s. 0, or -1 if it could not run. */
static int phase(struct run_ctx *c, struct vb_run_sys *s, const struct vb_point *p, double dur,
                 struct vb_phase *ph)
{
    static struct vb_emu_snap es;
    static struct vb_load_result lr;
    struct vb_load_cfg lc;
    struct vb_proc_cpu c0, c1;
    char err[160];

    vb_load_defaults(&lc);
    net_addr_parse(s->listen, &lc.target, &lc.targetlen);
    lc.nsockets = (int)c->o.sockets;
    lc.scenario = c->scenario;
    lc.rate = p->rate;
    lc.window = p->window;
    lc.duration = dur;
    lc.aors = (uint32_t)c->o.aors;
    lc.no_reply = c->o.no_reply;
    lc.run_id = ++c->run_id;
    lc.cpu = (int)c->o.load_cpu;
    lc.stop = &run_stop;

    vb_emu_snapshot(&c->emu, &es, true);
    uint64_t dh0 = vb_udp_drops(c->emu_ino, c->emu.core.n);
    uint64_t ds0 = vb_sut_drops(&s->sut);
    if (vb_sut_cpu(&s->sut, &c0) < 0) {
        fprintf(stderr, "viaduct-bench: %s is not running (log: %s)\n", s->sut.label, s->sut.log);
        return -1;
    }
    if (vb_load_run(&lc, &lr, err, sizeof(err)) < 0) {
        fprintf(stderr, "viaduct-bench: load: %s\n", err);
        return -1;
    }
    int alive = vb_sut_cpu(&s->sut, &c1);
    uint64_t ds1 = vb_sut_drops(&s->sut);
    uint64_t dh1 = vb_udp_drops(c->emu_ino, c->emu.core.n);
    vb_emu_snapshot(&c->emu, &es, false);
    if (alive < 0 || !vb_sut_alive(&s->sut)) {
        fprintf(stderr, "viaduct-bench: %s died during the phase (log: %s)\n", s->sut.label,
                s->sut.log);
        return -1;
    }
    fill_phase(ph, &lr, &es, &c0, &c1, ds1 - ds0, dh1 - dh0 + lr.rx_drops);
    return 0;
}

static void progress(const struct vb_run_sys *s, const struct vb_point *p, int k, int K,
                     const struct vb_phase *ph)
{
    fprintf(stderr,
            "  %-22s %-7s %d/%d: offered %8.0f req/s  fwd %8.0f msg/s  cpu %5.1f%%  %8.0f "
            "msg/CPU-s  lost %.3f%%  p99 %7.1f us  %s  (load %.2f)\n",
            s->sut.label, p->spec, k + 1, K, ph->offered_rps, ph->fwd_mps, 100 * ph->cpu_util,
            ph->mpcs, ph->loss_pct, ph->p99_us, ph->splits == 0 ? "affinity ok" : "SPLIT",
            ph->loadavg1);
}

static void machine_info(struct run_ctx *c)
{
    struct vb_run_info *in = &c->info;
    struct utsname u;
    time_t t = time(NULL);
    strftime(in->date, sizeof(in->date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    if (uname(&u) == 0) {
        snprintf(in->host, sizeof(in->host), "%s", u.nodename);
        snprintf(in->kernel, sizeof(in->kernel), "%s", u.release);
    }
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            snprintf(in->cpu_model, sizeof(in->cpu_model), "%s", v ? v + 2 : "?");
            in->cpu_model[strcspn(in->cpu_model, "\n")] = '\0';
            break;
        }
    if (f != NULL)
        fclose(f);
    const char *rev = getenv("GIT_REV");
    snprintf(in->commit, sizeof(in->commit), "%s", rev ? rev : "unknown");
    in->ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    loadavg1(in->uptime_start, sizeof(in->uptime_start));
}

static void stop_all(struct run_ctx *c)
{
    for (int i = 0; i < c->nsys; i++)
        if (c->sys[i].sut.pid > 0) {
            int st = vb_sut_stop(&c->sys[i].sut);
            if (!c->o.quiet)
                fprintf(stderr, "viaduct-bench: stopped %s (exit status %d)\n", c->sys[i].sut.label,
                        st);
        }
    vb_emu_close(&c->emu);
}

/* Starts the backends and every system; warms each up. 0 or -1. */
static int setup(struct run_ctx *c, struct vb_sut_env *env)
{
    char err[600];
    int mode = vb_invite_mode_parse(c->o.replies);
    if (vb_emu_open(&c->emu, c->o.backend_base, (int)c->o.backends, mode, c->o.no_reply, err,
                    sizeof(err)) < 0 ||
        vb_emu_start(&c->emu, (int)c->o.load_cpu) < 0) {
        fprintf(stderr, "viaduct-bench: backends: %s\n", err);
        return -1;
    }
    static char bk[VB_EMU_MAX][64];
    for (int b = 0; b < c->emu.core.n; b++) {
        c->emu_ino[b] = vb_fd_inode(c->emu.fds[b]);
        net_addr_format((struct sockaddr *)&c->emu.addr[b], bk[b], sizeof(bk[b]));
        env->backends[b] = bk[b];
    }
    env->nbackends = c->emu.core.n;
    struct sockaddr_storage la;
    socklen_t ll;
    char ip[64];
    net_addr_parse(c->o.listen, &la, &ll);
    net_addr_format_ip((struct sockaddr *)&la, ip, sizeof(ip));
    for (int i = 0; i < c->nsys; i++) {
        struct vb_run_sys *s = &c->sys[i];
        int port = net_addr_port((struct sockaddr *)&la) + 2 * i;
        snprintf(s->listen, sizeof(s->listen), la.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip,
                 port);
        env->listen = s->listen;
        if (vb_sut_start(&s->sut, env, err, sizeof(err)) < 0) {
            fprintf(stderr, "viaduct-bench: cannot start %s: %s\n", s->sut.label, err);
            return -1;
        }
        if (!c->o.quiet)
            fprintf(stderr, "viaduct-bench: %s (pid %d, CPUs %s): %s\n", s->sut.label,
                    (int)s->sut.pid, env->cpus, s->sut.cmdline);
    }
    struct vb_point warm = {.rate = 2000};
    snprintf(warm.spec, sizeof(warm.spec), "warmup");
    for (int i = 0; i < c->nsys && c->o.warmup > 0; i++) {
        struct vb_phase ph;
        if (phase(c, &c->sys[i], &warm, c->o.warmup, &ph) < 0)
            return -1;
        if (ph.req_delivered == 0) {
            fprintf(stderr, "viaduct-bench: %s forwarded nothing in the warm-up (log: %s)\n",
                    c->sys[i].sut.label, c->sys[i].sut.log);
            return -1;
        }
    }
    return 0;
}

static int measure(struct run_ctx *c, char **rates, int nrates)
{
    double ref = 0;
    for (int r = 0; r < nrates; r++) {
        for (int i = 0; i < c->nsys; i++)
            if (resolve_rate(rates[r], ref, (unsigned long)c->o.window, &c->sys[i].pt[r]) < 0) {
                fprintf(stderr,
                        "viaduct-bench: bad rate '%s' (a number, max, flood, or xF "
                        "after max)\n",
                        rates[r]);
                return -1;
            }
        for (int k = 0; k < c->o.repeat; k++)
            for (int i = 0; i < c->nsys; i++) {
                struct vb_run_sys *s = &c->sys[i];
                struct vb_point *p = &s->pt[r];
                if (atomic_load(&run_stop))
                    return -1;
                if (phase(c, s, p, c->o.duration, &p->run[p->nrun]) < 0)
                    return -1;
                vb_emu_snapshot(&c->emu, &s->last, false);
                if (!c->o.quiet)
                    progress(s, p, k, (int)c->o.repeat, &p->run[p->nrun]);
                p->nrun++;
                struct timespec ts = {0, (long)(c->o.rest * 1e9)};
                nanosleep(&ts, NULL); /* let the last stragglers land before the next phase */
            }
        for (int i = 0; i < c->nsys; i++)
            vb_point_median(&c->sys[i].pt[r]);
        if (strcmp(rates[r], "max") == 0 && ref == 0)
            ref = c->sys[0].pt[r].med.offered_rps;
    }
    return 0;
}

/*
 * With sched_autogroup (most distributions), a nice value only ranks threads
 * within their session's group, and each session's group gets an equal share
 * of a CPU: another user's compile in another session takes half of the
 * system under test's CPU whatever our nice is. The group's own nice
 * (/proc/self/autogroup) is what ranks sessions; it covers this whole
 * session (harness, systems under test, the shell that started us) and is
 * restored at the end. Returns the previous value, INT_MIN if not possible.
 */
static int autogroup_nice(int nice)
{
    FILE *f = fopen("/proc/self/autogroup", "r");
    int old = INT_MIN;
    if (f == NULL)
        return INT_MIN;
    if (fscanf(f, "/autogroup-%*d nice %d", &old) != 1)
        old = INT_MIN;
    fclose(f);
    f = fopen("/proc/self/autogroup", "w");
    if (f == NULL || old == INT_MIN) {
        if (f)
            fclose(f);
        return INT_MIN;
    }
    fprintf(f, "%d", nice);
    return fclose(f) == 0 ? old : INT_MIN;
}

static void default_cpus(struct run_opts *o, char *buf, size_t cap)
{
    int cpus[64];
    int n = vb_allowed_cpus(cpus, 64);
    if (o->load_cpu < 0)
        o->load_cpu = n > 0 ? cpus[0] : 0;
    if (o->sut_cpus != NULL)
        return;
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        if (cpus[i] != o->load_cpu || n == 1)
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%d", buf[0] ? "," : "", cpus[i]);
    o->sut_cpus = buf;
}

int vb_run_main(int argc, char **argv, bool compare)
{
    static struct run_ctx ctx;
    struct run_ctx *c = &ctx;
    struct run_opts *o = &c->o;
    *o = (struct run_opts){.scenario = "mixed",
                           .rates = "max,x0.5,flood",
                           .replies = "100,180,200",
                           .listen = "127.0.0.1:5060",
                           .backend_base = "127.0.0.1:5070",
                           .out = "build/bench",
                           .name = compare ? "compare" : "run",
                           .repeat = 3,
                           .backends = 4,
                           .window = 256,
                           .sockets = 1,
                           .aors = 10000,
                           .load_cpu = -1,
                           .duration = 5,
                           .warmup = 0.5,
                           .rest = 0.2,
                           .nice = -10};
    const struct vb_opt opts[] = {
        {"sut", VB_OPT_LIST, &o->suts, 0, 0, "SPEC",
         "system under test, repeatable: viaduct[:FLAGS] | kamailio | relay[:FLAGS] | "
         "cmd:COMMAND, optionally NAME=SPEC"},
        {"scenario", VB_OPT_STR, &o->scenario, 0, 0, "NAME",
         "register | call | options | message | mixed (mixed)"},
        {"rates", VB_OPT_STR, &o->rates, 0, 0, "LIST",
         "requests/s, max, flood, xF (max,x0.5,flood)"},
        {"repeat", VB_OPT_INT, &o->repeat, 1, VB_MAX_REPEAT, "K", "runs per rate; medians (3)"},
        {"duration", VB_OPT_DOUBLE, &o->duration, 0.1, 3600, "S", "seconds per run (5)"},
        {"window", VB_OPT_INT, &o->window, 1, 1 << 19, "W", "transactions in flight for max (256)"},
        {"backends", VB_OPT_INT, &o->backends, 1, VB_EMU_MAX, "N", "emulated backends (4)"},
        {"sockets", VB_OPT_INT, &o->sockets, 1, 16, "N", "load source sockets (1)"},
        {"aors", VB_OPT_INT, &o->aors, 1, 1e7, "N", "AOR pool (10000)"},
        {"invite-replies", VB_OPT_STR, &o->replies, 0, 0, "LIST",
         "100,180,200 | 180,200 | 200 (100,180,200)"},
        {"no-reply", VB_OPT_FLAG, &o->no_reply, 0, 0, NULL,
         "backends answer nothing (requests only; max is then a flood)"},
        {"listen", VB_OPT_STR, &o->listen, 0, 0, "IP:PORT",
         "first system's address; the next ones take port + 2 (127.0.0.1:5060)"},
        {"backend-base", VB_OPT_STR, &o->backend_base, 0, 0, "IP:PORT",
         "first backend (127.0.0.1:5070)"},
        {"sut-cpus", VB_OPT_STR, &o->sut_cpus, 0, 0, "LIST",
         "CPUs of the systems under test (all but the load's)"},
        {"load-cpu", VB_OPT_INT, &o->load_cpu, -1, 4095, "C",
         "CPU of the load and the backends (the first allowed)"},
        {"nice", VB_OPT_INT, &o->nice, -20, 19, "N",
         "nice of everything started, harness included (-10: other work on a shared machine "
         "disturbs less)"},
        {"warmup", VB_OPT_DOUBLE, &o->warmup, 0, 60, "S", "warm-up per system at 2000/s (0.5)"},
        {"rest", VB_OPT_DOUBLE, &o->rest, 0, 10, "S", "pause between runs (0.2)"},
        {"out", VB_OPT_STR, &o->out, 0, 0, "DIR", "results, logs, configs (build/bench)"},
        {"name", VB_OPT_STR, &o->name, 0, 0, "NAME", "files DIR/NAME.json, .png (run/compare)"},
        {"bindir", VB_OPT_STR, &o->bindir, 0, 0, "DIR", "where viaduct is (next to this tool)"},
        {"quiet", VB_OPT_FLAG, &o->quiet, 0, 0, NULL, "no progress lines"},
        {"cpu-split", VB_OPT_FLAG, &o->cpu_split, 0, 0, NULL,
         "also print where each system's CPU went: user and kernel microseconds per message"},
        VB_OPT_END,
    };
    static const char sum_run[] =
        "Starts emulated backends, a system under test and the load; reports throughput,\n"
        "loss, latency and messages forwarded per CPU-second (medians of K runs), writes\n"
        "JSON and a PNG plot. Run it in a private network namespace (unshare -n).";
    static const char sum_cmp[] =
        "The same scenario and rates against several systems in one run (interleaved),\n"
        "with the ratios of the first system to each other one.";
    if (vb_opts_parse(compare ? "compare" : "run", compare ? sum_cmp : sum_run, opts, argc, argv) <
        0)
        return 2;
    c->scenario = vb_scenario_parse(o->scenario);
    if (c->scenario < 0 || vb_invite_mode_parse(o->replies) < 0) {
        fprintf(stderr, "viaduct-bench: bad --scenario or --invite-replies\n");
        return 2;
    }
    if (o->suts.n == 0) {
        o->suts.s[o->suts.n++] = "viaduct";
        if (compare) {
            o->suts.s[o->suts.n++] = "relay";
            o->suts.s[o->suts.n++] = "kamailio";
        }
    }
    if (o->suts.n > VB_MAX_SUTS || (compare && o->suts.n < 2)) {
        fprintf(stderr, "viaduct-bench: %s takes %s --sut\n", compare ? "compare" : "run",
                compare ? "2 to 8" : "1 to 8");
        return 2;
    }
    char *rates[VB_MAX_RATES], rbuf[512];
    int nrates = 0;
    snprintf(rbuf, sizeof(rbuf), "%s", o->rates);
    for (char *t = strtok(rbuf, ","); t && nrates < VB_MAX_RATES; t = strtok(NULL, ","))
        rates[nrates++] = t;
    char err[160], cpubuf[128], exe[512];
    for (int i = 0; i < o->suts.n; i++)
        if (vb_sut_parse(o->suts.s[i], &c->sys[i].sut, err, sizeof(err)) < 0) {
            fprintf(stderr, "viaduct-bench: %s\n", err);
            return 2;
        }
    c->nsys = o->suts.n;
    default_cpus(o, cpubuf, sizeof(cpubuf));
    if (o->bindir == NULL) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = '\0';
        o->bindir = dirname(exe);
    }
    mkdir(o->out, 0755);
    static char outabs[PATH_MAX];
    if (realpath(o->out, outabs) == NULL) {
        fprintf(stderr, "viaduct-bench: cannot use --out %s: %s\n", o->out, strerror(errno));
        return 2;
    }
    o->out = outabs; /* Kamailio changes directory: every path it gets is absolute */
    machine_info(c);
    struct vb_run_info *in = &c->info;
    snprintf(in->sut_cpus, sizeof(in->sut_cpus), "%s", o->sut_cpus);
    in->load_cpu = (int)o->load_cpu;
    snprintf(in->scenario, sizeof(in->scenario), "%s", o->scenario);
    snprintf(in->invite_replies, sizeof(in->invite_replies), "%s", o->replies);
    in->no_reply = o->no_reply;
    in->cpu_split = o->cpu_split;
    in->duration = o->duration;
    in->repeat = (int)o->repeat;
    in->backends = (int)o->backends;
    in->sockets = (int)o->sockets;
    in->window = (unsigned long)o->window;
    in->nrates = nrates;
    fprintf(stderr,
            "viaduct-bench %s: %s, rates %s, %ld x %.1f s, systems on CPU %s, load and "
            "backends on CPU %ld (%d online); %s\n",
            compare ? "compare" : "run", o->scenario, o->rates, o->repeat, o->duration, o->sut_cpus,
            o->load_cpu, in->ncpus, in->uptime_start);

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* before any thread starts: threads inherit their creator's nice */
    in->nice = (int)o->nice;
    in->nice_applied = setpriority(PRIO_PROCESS, 0, (int)o->nice) == 0
                           ? (int)o->nice
                           : getpriority(PRIO_PROCESS, 0);
    int ag_old = autogroup_nice((int)o->nice);
    struct vb_sut_env env = {
        .bindir = o->bindir, .outdir = o->out, .cpus = o->sut_cpus, .nice = (int)o->nice};
    int rc = setup(c, &env) == 0 && measure(c, rates, nrates) == 0 ? 0 : 1;
    stop_all(c);
    if (ag_old != INT_MIN)
        autogroup_nice(ag_old);
    loadavg1(in->uptime_end, sizeof(in->uptime_end));
    if (rc != 0) {
        fprintf(stderr, "viaduct-bench: stopped early; nothing written\n");
        return 1;
    }
    vb_report_table(stdout, in, c->sys, c->nsys);
    char path[600];
    snprintf(path, sizeof(path), "%s/%s.json", o->out, o->name);
    if (vb_report_json(path, in, c->sys, c->nsys) == 0)
        printf("json: %s\n", path);
    snprintf(path, sizeof(path), "%s/%s", o->out, o->name);
    if (vb_report_plot(path, in, c->sys, c->nsys) == 0)
        printf("plot: %s.png\n", path);
    else
        printf("plot: not drawn (is gnuplot installed? sh test/deps.sh gnuplot-nox); data in "
               "%s.dat\n",
               path);
    for (int i = 0; i < c->nsys; i++)
        for (int r = 0; r < nrates; r++)
            for (int k = 0; k < c->sys[i].pt[r].nrun; k++)
                if (c->sys[i].pt[r].run[k].splits > 0)
                    rc = 1; /* an affinity failure fails the run */
    return rc;
}
