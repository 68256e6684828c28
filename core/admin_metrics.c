/*
 * admin_metrics.c - GET /metrics: the Prometheus text exposition format
 * 0.0.4, generated from the same declarations the counters come from
 * (stats.h, health.h), so a counter added there appears here with its help
 * text. Names follow Prometheus's conventions: the viaduct_ prefix, _total
 * for counters, seconds and bytes.
 *
 * What a dimension becomes:
 *   viaduct_<counter>_total                    every ST_COUNTERS entry
 *   viaduct_drops_total{reason}, viaduct_local_responses_total{code},
 *   viaduct_requests_by_method_total{method}, viaduct_parse_errors_total{reason}
 *   viaduct_backend_<counter>_total{pool,backend,address}   every ST_BACKEND entry
 *   viaduct_backend_responses_total{...,class="2xx"}
 *   viaduct_backend_state{...,state="up|down|draining|held"}  1 for the state it is in, 0
 *                                              for the other three (one series per state, so
 *                                              sum by (state) counts backends per state)
 *   viaduct_backend_override{...,override="drain|down"}        the operator's, the same way
 *   viaduct_backend_probe_rtt_seconds{...}     the last answered probe (absent before one)
 *   viaduct_backend_response_latency_seconds{...,kind="provisional|final"}  a histogram
 *   viaduct_health_<counter>_total, viaduct_health_transitions_by_cause_total{cause}
 *   process_*, viaduct_build_info, viaduct_config_generation, viaduct_last_reload_*
 *   viaduct_dns_*{name,kind}                   per configured DNS name (dns_res.c), and
 *                                              viaduct_dns_rebuilds_total
 *
 * The snapshot is taken first with relaxed loads (no lock a worker takes);
 * the pools are read under s->mu, which only reloads and this hold.
 */
#include "core/admin.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char *const drop_names[ST_NDROPS] = {
#define X(n, h) #n,
    ST_DROPS(X)
#undef X
};

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
    head(f, name, "counter", help);
    fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(FILE *f, const char *name, const char *help, double v)
{
    head(f, name, "gauge", help);
    fprintf(f, "%s %.17g\n", name, v);
}

static void globals(FILE *f, const struct st_snapshot *s)
{
#define X(n, h) counter(f, "viaduct_" #n "_total", h, s->n);
    ST_COUNTERS(X)
#undef X
    head(f, "viaduct_drops_total", "counter",
         "datagrams dropped without an answer, by reason (stats.h ST_DROPS)");
    for (int i = 0; i < ST_NDROPS; i++)
        fprintf(f, "viaduct_drops_total{reason=\"%s\"} %llu\n", drop_names[i],
                (unsigned long long)s->drop[i]);
    head(f, "viaduct_local_responses_total", "counter",
         "responses viaduct sent itself, by status code");
    for (int i = 0; i < ST_NLOCAL; i++)
        fprintf(f, "viaduct_local_responses_total{code=\"%d\"} %llu\n", st_local_code(i),
                (unsigned long long)s->local[i]);
    head(f, "viaduct_requests_by_method_total", "counter", "SIP requests received, by method");
    for (int i = 0; i < ST_NMETHODS; i++)
        fprintf(f, "viaduct_requests_by_method_total{method=\"%s\"} %llu\n", st_method_names[i],
                (unsigned long long)s->method[i]);
    head(f, "viaduct_parse_errors_total", "counter", "datagrams that failed to parse, by reason");
    for (int e = 1; e <= SIP_NERR; e++)
        fprintf(f, "viaduct_parse_errors_total{reason=\"%s\"} %llu\n", sip_err_id(-e),
                (unsigned long long)s->parse_error[e]);
}

/* The labels of backend i of pool p: pool="..",backend="..",address="..". */
static void labels(char *buf, size_t len, const char *pool, const struct rt_backend *b)
{
    char a[80];
    net_addr_format((const struct sockaddr *)&b->addr, a, sizeof(a));
    snprintf(buf, len, "pool=\"%s\",backend=\"%s\",address=\"%s\"", pool, b->name, a);
}

/* Calls fn for every backend with a counter slot, in pool order. */
#define EACH_BACKEND(px, cfg, lab, body)                                                           \
    for (int p_ = 0; p_ < (px)->npools; p_++)                                                      \
        for (int i_ = 0; i_ < (px)->pools[p_].rt->n; i_++) {                                       \
            const struct px_pool *pool = &(px)->pools[p_];                                         \
            int i = i_;                                                                            \
            unsigned slot = pool->slot[i];                                                         \
            labels(lab, sizeof(lab), (cfg)->pools[p_].name, &pool->rt->b[i]);                      \
            (void)slot, (void)i;                                                                   \
            body                                                                                   \
        }

static void latency(FILE *f, const struct px_cfg *px, const struct cfg *cfg,
                    const struct st_snapshot *s)
{
    static const char *const kind[2] = {"provisional", "final"};
    char lab[512];
    const char *name = "viaduct_backend_response_latency_seconds";
    head(f, name, "histogram",
         "from sending a request to a backend to its response, measured with the send time "
         "in our Via, by provisional or final response");
    EACH_BACKEND(px, cfg, lab, {
        if (slot >= ST_MAX_BACKENDS)
            continue;
        for (int k = 0; k < 2; k++) {
            uint64_t cum = 0;
            for (int b = 0; b < ST_NLAT; b++) {
                cum += s->be[slot].lat[k].bucket[b];
                fprintf(f, "%s_bucket{%s,kind=\"%s\",le=\"%g\"} %llu\n", name, lab, kind[k],
                        (double)st_lat_bounds_us[b] / 1e6, (unsigned long long)cum);
            }
            fprintf(f, "%s_bucket{%s,kind=\"%s\",le=\"+Inf\"} %llu\n", name, lab, kind[k],
                    (unsigned long long)cum);
            fprintf(f, "%s_sum{%s,kind=\"%s\"} %.6f\n", name, lab, kind[k],
                    (double)s->be[slot].lat[k].sum_us / 1e6);
            fprintf(f, "%s_count{%s,kind=\"%s\"} %llu\n", name, lab, kind[k],
                    (unsigned long long)cum);
        }
    })
}

static void backends(FILE *f, const struct px_cfg *px, const struct cfg *cfg,
                     const struct st_snapshot *s)
{
    static const char *const states[4] = {"up", "down", "draining", "held"};
    char lab[512];
#define X(n, h)                                                                                    \
    head(f, "viaduct_backend_" #n "_total", "counter", h);                                         \
    EACH_BACKEND(px, cfg, lab, {                                                                   \
        if (slot < ST_MAX_BACKENDS)                                                                \
            fprintf(f, "viaduct_backend_" #n "_total{%s} %llu\n", lab,                             \
                    (unsigned long long)s->be[slot].n);                                            \
    })
    ST_BACKEND(X)
#undef X
    head(f, "viaduct_backend_responses_total", "counter",
         "responses received from it, by class");
    EACH_BACKEND(px, cfg, lab, {
        for (int k = 0; slot < ST_MAX_BACKENDS && k < 6; k++)
            fprintf(f, "viaduct_backend_responses_total{%s,class=\"%dxx\"} %llu\n", lab, k + 1,
                    (unsigned long long)s->be[slot].responses[k]);
    })
    head(f, "viaduct_backend_state", "gauge",
         "1 for the state the backend is in (up, down, draining, held: an ICMP hold-down), "
         "0 for the others");
    EACH_BACKEND(px, cfg, lab, {
        int st = atomic_load_explicit(&pool->state[i], memory_order_relaxed);
        if (atomic_load_explicit(&pool->held_ms[i], memory_order_relaxed) != 0)
            st = 3;
        for (int k = 0; k < 4; k++)
            fprintf(f, "viaduct_backend_state{%s,state=\"%s\"} %d\n", lab, states[k], k == st);
    })
    head(f, "viaduct_backend_override", "gauge",
         "1 for the operator's override in force (POST /backends/...), 0 for the other");
    EACH_BACKEND(px, cfg, lab, {
        int ov = atomic_load_explicit(&pool->override[i], memory_order_relaxed);
        fprintf(f, "viaduct_backend_override{%s,override=\"drain\"} %d\n", lab, ov == PX_OV_DRAIN);
        fprintf(f, "viaduct_backend_override{%s,override=\"down\"} %d\n", lab, ov == PX_OV_DOWN);
    })
    head(f, "viaduct_backend_probe_rtt_seconds", "gauge",
         "round trip of the last answered health probe");
    EACH_BACKEND(px, cfg, lab, {
        int64_t rtt = atomic_load_explicit(&pool->rtt_us[i], memory_order_relaxed);
        if (rtt > 0)
            fprintf(f, "viaduct_backend_probe_rtt_seconds{%s} %.6f\n", lab, (double)rtt / 1e6);
    })
    latency(f, px, cfg, s);
}

/* viaduct_health_ and the counter's name, which may start with health_ too
 * (SIGUSR1's flat list needs it): health_transitions is exported as
 * viaduct_health_transitions_total, the total its by-cause series sums to. */
static void health_counter(FILE *f, const char *n, const char *help, uint64_t v)
{
    char name[96];
    if (strncmp(n, "health_", 7) == 0)
        n += 7;
    snprintf(name, sizeof(name), "viaduct_health_%s_total", n);
    counter(f, name, help, v);
}

static void health(FILE *f, const struct hc_stats *st)
{
    struct hc_counts c;
    hc_counts(st, &c);
#define X(n, h) health_counter(f, #n, h, c.n);
    HC_COUNTERS(X)
#undef X
    head(f, "viaduct_health_transitions_by_cause_total", "counter",
         "backend state changes, by what caused them");
    for (int i = 0; i < PX_NCAUSES; i++)
        fprintf(f, "viaduct_health_transitions_by_cause_total{cause=\"%s\"} %llu\n",
                px_cause_name(i), (unsigned long long)c.by_cause[i]);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own fd */
}

static void process(FILE *f, const struct server *s)
{
    struct rusage ru;
    struct rlimit rl;
    long rss_pages = 0;
    getrusage(RUSAGE_SELF, &ru);
    head(f, "process_cpu_seconds_total", "counter", "user and system CPU time spent, in seconds");
    fprintf(f, "process_cpu_seconds_total %.6f\n",
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    FILE *st = fopen("/proc/self/statm", "r");
    if (st != NULL) {
        long size;
        if (fscanf(st, "%ld %ld", &size, &rss_pages) != 2)
            rss_pages = 0;
        fclose(st);
    }
    gauge(f, "process_resident_memory_bytes", "resident memory size, in bytes",
          (double)rss_pages * (double)sysconf(_SC_PAGESIZE));
    gauge(f, "process_open_fds", "open file descriptors", count_fds());
    getrlimit(RLIMIT_NOFILE, &rl);
    gauge(f, "process_max_fds", "the limit of open file descriptors", (double)rl.rlim_cur);
    gauge(f, "process_start_time_seconds", "when the process started, in seconds since the epoch",
          (double)s->start_ms / 1000);
}

void admin_metrics(FILE *f, struct server *s)
{
    struct st_snapshot *snap = malloc(sizeof(*snap));
    if (snap == NULL)
        return;
    server_snapshot(s, snap);
    globals(f, snap);
    pthread_mutex_lock(&s->mu);
    backends(f, &s->cur->px, &s->cur->cfg, snap);
    health(f, &s->hc_stats);
    head(f, "viaduct_build_info", "gauge", "always 1, labelled with the version");
    fprintf(f, "viaduct_build_info{version=\"%s\"} 1\n", s->version ? s->version : "?");
    gauge(f, "viaduct_config_generation", "the configuration generation running (1 at start, "
          "+1 per reload that took effect)", (double)s->cur->id);
    gauge(f, "viaduct_last_reload_timestamp_seconds",
          "when the last reload was tried, in seconds since the epoch; 0 before any",
          (double)s->last.at_ms / 1000);
    gauge(f, "viaduct_last_reload_success", "1 if the last reload took effect (or none was tried)",
          s->last.at_ms == 0 || s->last.rc == 0);
    head(f, "viaduct_reloads_total", "counter", "reloads tried, by result");
    fprintf(f, "viaduct_reloads_total{result=\"ok\"} %llu\n",
            (unsigned long long)s->reloads_ok);
    fprintf(f, "viaduct_reloads_total{result=\"refused\"} %llu\n",
            (unsigned long long)s->reloads_refused);
    if (s->dns != NULL) {
        counter(f, "viaduct_dns_rebuilds_total",
                "generations published because backends from DNS changed", s->dns_rebuilds);
        dns_print_metrics(s->dns, f);
    }
    pthread_mutex_unlock(&s->mu);
    gauge(f, "viaduct_workers", "forwarding threads", s->nworkers);
    gauge(f, "viaduct_draining", "1 while draining for shutdown (/readyz says 503)",
          server_draining(s));
    process(f, s);
    free(snap);
}
