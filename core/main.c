/*
 * main.c - viaduct: a stateless, high-throughput SIP forwarder.
 *
 *   viaduct --listen 127.0.0.1:5060 --backend 127.0.0.1:5070 --backend 127.0.0.1:5071
 *   viaduct -c /etc/viaduct.yaml
 *   viaduct --check -c /etc/viaduct.yaml     (validate, print the effective config, exit 0/1)
 *
 * Configuration comes in layers, each overriding the one before: built-in
 * defaults, the YAML file (-c FILE, or $VIADUCT_CONFIG), VIADUCT_* variables,
 * flags (load_config, which the server calls again on every reload). The
 * running process is one struct server (server.h): main makes it, starts it
 * and then waits for signals: SIGUSR1 prints the counters, SIGHUP reloads,
 * SIGTERM drains (wait_signals), SIGINT stops at once; either way the
 * workers stop, the counters are printed and viaduct exits 0. SIGUSR2 (a
 * worker's engine failed) does the same and exits 1.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/admin.h"
#include "core/log.h"

extern char **environ;

#define VIADUCT_VERSION "0.1.0"

static int die(const char *fmt, const char *arg)
{
    fprintf(stderr, "viaduct: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

/* A flag's error into the caller's buffer: -1. */
static int flag_err(char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return -1;
}

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
          "(pools, rules, keys, health); SIGTERM drains (--drain-seconds: /readyz answers\n"
          "503, forwarding goes on) then stops, a second SIGTERM stops at once; SIGINT\n"
          "stops at once (interactive use). Each prints the counters and exits 0.\n",
          f);
}

/* Flags override the file and the environment (cfg_apply_flags says how). */
static int parse_flags(int argc, char **argv, struct cfg *c, bool *check, char *err,
                       size_t errlen)
{
    enum { NCMD = sizeof(commands) / sizeof(commands[0]) };
    struct option longopts[64 + NCMD + 1];
    struct cfg_arg *args = calloc((size_t)argc + 1, sizeof(*args));
    int n = cfg_flag_options(longopts, 64, OPT_SETTING), nargs = 0, opt, config = -1;
    if (args == NULL)
        return flag_err(err, errlen, "out of memory%s", "");
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
        default: /* getopt and the usage text have said what is wrong */
            usage(stderr);
            free(args);
            return flag_err(err, errlen, "%s", "");
        }
        if (opt != OPT_CHECK) {
            free(args);
            exit(0);
        }
    }
    if (optind < argc) {
        free(args);
        return flag_err(err, errlen, "unexpected argument '%s'", argv[optind]);
    }
    int r = cfg_apply_flags(c, args, nargs, err, errlen);
    free(args);
    return r < 0 ? -1 : 0;
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

/* What load_config reads: the command line, and what it found in it. */
struct cli {
    int argc;
    char **argv;
    bool check;
};

/*
 * server_load_fn: defaults, file, environment, flags; then the whole is
 * validated. Reloads call it again with the same argv: getopt's globals
 * are safe because server_reload serialises its calls.
 */
static int load_config(void *arg, struct cfg *c, char *err, size_t errlen)
{
    struct cli *cl = arg;
    const char *path = config_path(cl->argc, cl->argv);
    cfg_defaults(c);
    if (path != NULL && cfg_load_file(c, path, err, errlen) < 0)
        return -1;
    if (cfg_apply_env(c, environ, err, errlen) < 0)
        return -1;
    if (parse_flags(cl->argc, cl->argv, c, &cl->check, err, errlen) != 0)
        return -1;
    return cfg_validate(c, err, errlen) < 0 ? -1 : 0;
}

/* --check: the secrets load (never printed), and a warning when there is none. */
static int check_security(const struct cfg *c, char *err, size_t errlen)
{
    struct px_cfg *px = calloc(1, sizeof(*px));
    if (px == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = px_cfg_build(px, c, err, errlen);
    if (rc == 0 && px->secret_random)
        fprintf(stderr, "viaduct: warning: no security.secret_file or VIADUCT_SECRET: each "
                        "instance would use its own random secret, and none would accept "
                        "another's flow tokens or responses\n");
    px_cfg_free(px);
    free(px);
    return rc;
}

/* The process's exit: the reason (if any: getopt may have said it) on stderr, then 1. */
static int fail(const char *err)
{
    return err[0] != '\0' ? die("%s", err) : 1;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * The signal loop of the running process, until it is to stop; returns the
 * exit status (1 after SIGUSR2, else 0). SIGUSR1 and SIGHUP are served all
 * along, during a drain too.
 *
 * Why SIGTERM drains: it is what a Kubernetes pod, a systemd unit and a
 * container get first, and they send new traffic elsewhere only once they
 * see the process is going (readiness, endpoint removal) - seconds later.
 * So viaduct stops being ready at once (s->draining: /readyz answers 503)
 * and goes on forwarding for shutdown.drain_seconds, through which
 * retransmissions and responses of transactions in flight still pass. A
 * second SIGTERM (an impatient operator, the end of a grace period) or
 * SIGINT (Ctrl-C at a terminal) stops at once, as does a drain of 0.
 */
static int wait_signals(struct server *s, const sigset_t *set)
{
    bool draining = false;
    int64_t until = 0; /* mono_ms() at which the drain ends */
    for (;;) {
        int sig;
        if (!draining) {
            if (sigwait(set, &sig) != 0)
                continue;
        } else {
            int64_t left = until - mono_ms();
            if (left <= 0)
                sig = 0;
            else {
                struct timespec ts = {left / 1000, (left % 1000) * 1000000};
                sig = sigtimedwait(set, NULL, &ts);
                if (sig < 0 && errno != EAGAIN)
                    continue; /* EINTR: wait for what is left */
            }
            if (sig <= 0) {
                log_info("drain over: stopping");
                return 0;
            }
        }
        if (sig == SIGUSR1) {
            server_print_counters(s, stderr);
            continue;
        }
        if (sig == SIGHUP) {
            char err[CFG_ERR_LEN];
            server_reload(s, err, sizeof(err)); /* it logs what it did */
            continue;
        }
        if (sig == SIGUSR2)
            return 1; /* a worker's engine failed; its reason follows */
        if (sig == SIGTERM && !draining) {
            unsigned n = server_drain_seconds(s);
            if (n > 0) {
                server_set_draining(s, true);
                draining = true;
                until = mono_ms() + (int64_t)n * 1000;
                log_info("SIGTERM: draining for %u s, then stopping (not ready; forwarding goes "
                         "on; SIGTERM again stops at once)",
                         n);
                continue;
            }
        }
        if (draining)
            log_info("%s while draining: stopping at once", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return 0;
    }
}

int main(int argc, char **argv)
{
    char err[CFG_ERR_LEN] = "";
    struct cli cl = {argc, argv, false};
    struct server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return die("out of memory%s", "");
    int rc = server_init(s, load_config, &cl, err, sizeof(err));
    if (cl.check || rc != 0) {
        if (rc == 0) {
            cfg_print(stdout, &s->cur->cfg);
            rc = check_security(&s->cur->cfg, err, sizeof(err));
        }
        server_free(s);
        free(s);
        return rc == 0 ? 0 : fail(err);
    }

    /* signals go to this thread only: the server's threads inherit the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct admin *adm = NULL;
    if (server_start(s, VIADUCT_VERSION, err, sizeof(err)) != 0) {
        server_free(s);
        free(s);
        return fail(err);
    }
    /* after the workers: a management port in use is a start error too */
    if (admin_start(s, &adm, err, sizeof(err)) != 0) {
        server_stop(s);
        server_free(s);
        free(s);
        return fail(err);
    }
    int status = wait_signals(s, &set);
    admin_stop(adm); /* it reads the server: first */
    if (server_stop(s) != 0)
        status = 1;
    server_print_counters(s, stderr);
    log_info("stopped");
    server_free(s);
    free(s);
    return status;
}
