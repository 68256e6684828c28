/*
 * vb_report.c - what `run` and `compare` write: medians, the table on
 * stdout, the JSON result and the gnuplot plot. Every per-phase field comes
 * from VB_PHASE_FIELDS (vb_run.h), so a new field shows up in the median and
 * the JSON without touching this file.
 */
#include "bench/vb_run.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void vb_point_median(struct vb_point *p)
{
    double v[VB_MAX_REPEAT];
#define X(name, fmt, doc)                                                                          \
    for (int k = 0; k < p->nrun; k++)                                                              \
        v[k] = p->run[k].name;                                                                     \
    p->med.name = median(v, p->nrun);
    VB_PHASE_FIELDS(X)
#undef X
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_phase(FILE *f, const struct vb_phase *ph)
{
    const char *sep = "";
    fputc('{', f);
#define X(name, fmt, doc)                                                                          \
    fprintf(f, "%s\"" #name "\": " fmt, sep, ph->name);                                            \
    sep = ", ";
    VB_PHASE_FIELDS(X)
#undef X
    fputc('}', f);
}

int vb_report_json(const char *path, const struct vb_run_info *in, const struct vb_run_sys *sys,
                   int nsys)
{
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -errno;
    fprintf(f, "{\n  \"tool\": \"viaduct-bench\",\n  \"date\": ");
    json_str(f, in->date);
    fprintf(f, ",\n  \"host\": ");
    json_str(f, in->host);
    fprintf(f, ",\n  \"kernel\": ");
    json_str(f, in->kernel);
    fprintf(f, ",\n  \"cpu_model\": ");
    json_str(f, in->cpu_model);
    fprintf(f, ",\n  \"online_cpus\": %d,\n  \"commit\": ", in->ncpus);
    json_str(f, in->commit);
    fprintf(f, ",\n  \"uptime_start\": ");
    json_str(f, in->uptime_start);
    fprintf(f, ",\n  \"uptime_end\": ");
    json_str(f, in->uptime_end);
    fprintf(f, ",\n  \"settings\": {\"scenario\": ");
    json_str(f, in->scenario);
    fprintf(f, ", \"invite_replies\": ");
    json_str(f, in->invite_replies);
    fprintf(f,
            ", \"no_reply\": %s, \"duration_s\": %.3f, \"repeat\": %d, \"backends\": %d, "
            "\"load_sockets\": %d, \"max_window\": %lu, \"load_cpu\": %d, \"nice\": %d, "
            "\"sut_cpus\": ",
            in->no_reply ? "true" : "false", in->duration, in->repeat, in->backends, in->sockets,
            in->window, in->load_cpu, in->nice_applied);
    json_str(f, in->sut_cpus);
    fprintf(f, "},\n  \"fields\": {");
    const char *sep = "";
#define X(name, fmt, doc)                                                                          \
    fprintf(f, "%s\"" #name "\": ", sep);                                                          \
    json_str(f, doc);                                                                              \
    sep = ", ";
    VB_PHASE_FIELDS(X)
#undef X
    fprintf(f, "},\n  \"systems\": [\n");
    for (int i = 0; i < nsys; i++) {
        const struct vb_run_sys *s = &sys[i];
        fprintf(f, "    {\"name\": ");
        json_str(f, s->sut.label);
        fprintf(f, ", \"command\": ");
        json_str(f, s->sut.cmdline);
        fprintf(f, ", \"listen\": ");
        json_str(f, s->listen);
        fprintf(f, ",\n     \"points\": [\n");
        for (int r = 0; r < in->nrates; r++) {
            const struct vb_point *p = &s->pt[r];
            fprintf(f, "       {\"rate\": ");
            json_str(f, p->spec);
            fprintf(f, ", \"rate_rps\": %.1f, \"window\": %lu, \"median\": ", p->rate, p->window);
            json_phase(f, &p->med);
            fprintf(f, ",\n        \"runs\": [");
            for (int k = 0; k < p->nrun; k++) {
                fprintf(f, "%s\n          ", k ? "," : "");
                json_phase(f, &p->run[k]);
            }
            fprintf(f, "]}%s\n", r + 1 < in->nrates ? "," : "");
        }
        fprintf(f, "     ]}%s\n", i + 1 < nsys ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return -errno;
    return 0;
}

void vb_report_table(FILE *f, const struct vb_run_info *in, const struct vb_run_sys *sys, int nsys)
{
    fprintf(f,
            "\n== viaduct-bench: %s scenario%s, INVITE answered %s; medians of %d x %.1f s; "
            "systems on CPU %s, load+backends on CPU %d, nice %d\n",
            in->scenario, in->no_reply ? " WITHOUT responses" : "", in->invite_replies, in->repeat,
            in->duration, in->sut_cpus, in->load_cpu, in->nice_applied);
    fprintf(f, "   %s, %s (%d CPUs online), commit %s\n   start: %s; end: %s\n", in->host,
            in->cpu_model, in->ncpus, in->commit, in->uptime_start, in->uptime_end);
    fprintf(f, "%-24s %-7s %9s %9s %6s %10s %8s %8s %8s %8s %8s %9s %5s %5s\n", "system", "rate",
            "offer/s", "fwd msg/s", "cpu%", "msg/CPU-s", "lost%", "p50 us", "p90 us", "p99 us",
            "p99.9 us", "max us", "aff", "load");
    for (int r = 0; r < in->nrates; r++)
        for (int i = 0; i < nsys; i++) {
            const struct vb_point *p = &sys[i].pt[r];
            const struct vb_phase *m = &p->med;
            bool split = false;
            for (int k = 0; k < p->nrun; k++)
                split |= p->run[k].splits > 0;
            fprintf(f,
                    "%-24.24s %-7s %9.0f %9.0f %6.1f %10.0f %8.3f %8.1f %8.1f %8.1f %8.1f %9.1f "
                    "%5s %5.2f\n",
                    sys[i].sut.label, p->spec, m->offered_rps, m->fwd_mps, 100 * m->cpu_util,
                    m->mpcs, m->loss_pct, m->p50_us, m->p90_us, m->p99_us, m->p999_us, m->max_us,
                    split ? "FAIL" : "ok", m->loadavg1);
        }
    if (in->cpu_split) {
        /* /proc's utime and stime of the whole process tree, per message:
         * what a forwarder's own code costs against what the kernel's UDP
         * path costs it (the null relay's user share is nearly zero) */
        fprintf(f, "\nwhere the CPU went (medians, microseconds per message forwarded):\n");
        fprintf(f, "%-24s %-7s %10s %10s %10s %7s\n", "system", "rate", "user", "kernel", "total",
                "user%");
        for (int r = 0; r < in->nrates; r++)
            for (int i = 0; i < nsys; i++) {
                const struct vb_phase *m = &sys[i].pt[r].med;
                double t = m->user_us_msg + m->sys_us_msg;
                fprintf(f, "%-24.24s %-7s %10.3f %10.3f %10.3f %6.1f%%\n", sys[i].sut.label,
                        sys[i].pt[r].spec, m->user_us_msg, m->sys_us_msg, t,
                        t > 0 ? 100 * m->user_us_msg / t : 0.0);
            }
    }
    fprintf(f, "\nbackends, each system's last run:\n");
    for (int i = 0; i < nsys; i++) {
        if (nsys == 1) {
            vb_emu_print(f, &sys[i].last);
            break;
        }
        const struct vb_emu_snap *e = &sys[i].last;
        uint64_t total = vb_emu_snap_requests(e);
        fprintf(f, "%-24.24s requests", sys[i].sut.label);
        for (int b = 0; b < e->n; b++) {
            uint64_t r = 0;
            for (int m = 0; m < VB_EMU_NMETHODS; m++)
                r += e->cnt[b].req[m];
            fprintf(f, " %5.1f%%", total ? 100.0 * (double)r / (double)total : 0.0);
        }
        fprintf(f, "  affinity %s (%llu Call-IDs, %llu AORs)\n",
                e->splits[0] + e->splits[1] + e->unchecked == 0 ? "PASS" : "FAIL",
                (unsigned long long)e->keys[0], (unsigned long long)e->keys[1]);
    }
    if (nsys < 2)
        return;
    fprintf(f, "\nratios, %s / each other system (medians):\n", sys[0].sut.label);
    fprintf(f, "%-7s %-24s %14s %14s %16s\n", "rate", "other", "msg/CPU-s", "fwd msg/s",
            "p99 diff (us)");
    for (int r = 0; r < in->nrates; r++)
        for (int i = 1; i < nsys; i++) {
            const struct vb_phase *a = &sys[0].pt[r].med, *b = &sys[i].pt[r].med;
            fprintf(f, "%-7s %-24.24s %13.2fx %13.2fx %+16.1f\n", sys[0].pt[r].spec,
                    sys[i].sut.label, b->mpcs > 0 ? a->mpcs / b->mpcs : 0,
                    b->fwd_mps > 0 ? a->fwd_mps / b->fwd_mps : 0, a->p99_us - b->p99_us);
        }
}

static int cmp_point(const void *a, const void *b)
{
    const struct vb_point *x = *(const struct vb_point *const *)a;
    const struct vb_point *y = *(const struct vb_point *const *)b;
    return cmp_double(&x->med.offered_rps, &y->med.offered_rps);
}

int vb_report_plot(const char *prefix, const struct vb_run_info *in, const struct vb_run_sys *sys,
                   int nsys)
{
    char dat[600], gp[600], png[600];
    snprintf(dat, sizeof(dat), "%s.dat", prefix);
    snprintf(gp, sizeof(gp), "%s.gp", prefix);
    snprintf(png, sizeof(png), "%s.png", prefix);
    FILE *f = fopen(dat, "w");
    if (f == NULL)
        return -1;
    int nplot = 0;
    for (int i = 0; i < nsys; i++) {
        const struct vb_point *pts[VB_MAX_RATES];
        int n = 0;
        /* a flood has no offered rate of its own: it is on the table, not the plot */
        for (int r = 0; r < in->nrates; r++)
            if (sys[i].pt[r].nrun > 0 && (sys[i].pt[r].rate > 0 || sys[i].pt[r].window > 0))
                pts[n++] = &sys[i].pt[r];
        qsort(pts, (size_t)n, sizeof(pts[0]), cmp_point);
        fprintf(f,
                "# %s\n# offered_rps p50_us p90_us p99_us p999_us max_us msg_per_cpu_s "
                "loss_pct\n",
                sys[i].sut.label);
        for (int k = 0; k < n; k++) {
            const struct vb_phase *m = &pts[k]->med;
            fprintf(f, "%.1f %.2f %.2f %.2f %.2f %.2f %.1f %.4f\n", m->offered_rps, m->p50_us,
                    m->p90_us, m->p99_us, m->p999_us, m->max_us, m->mpcs, m->loss_pct);
        }
        if (n == 0)
            fprintf(f, "nan nan nan nan nan nan nan nan\n");
        fprintf(f, "\n\n");
        nplot += n;
    }
    fclose(f);
    f = fopen(gp, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "# gnuplot %s.gp - written by viaduct-bench\n"
            "set terminal pngcairo size 1200,%d font ',10'\n"
            "set output '%s'\n"
            "set multiplot layout %d,1 title \"viaduct-bench: %s scenario%s, medians of %d x "
            "%.1f s (%s, %s)\"\n"
            "set grid\nset key outside right\nset xlabel 'offered load (requests/s)'\n",
            prefix, in->no_reply ? 500 : 900, png, in->no_reply ? 1 : 2, in->scenario,
            in->no_reply ? " without responses" : "", in->repeat, in->duration, in->host,
            in->uptime_end);
    if (!in->no_reply) { /* without responses there is no round trip to plot */
        fprintf(f, "set logscale y\nset ylabel 'round-trip latency (us)'\nplot ");
        for (int i = 0; i < nsys; i++)
            fprintf(f,
                    "%s'%s' index %d using 1:2 with linespoints lt %d dt 3 title '%s p50', "
                    "'%s' index %d using 1:4 with linespoints lt %d dt 1 title '%s p99', "
                    "'%s' index %d using 1:5 with linespoints lt %d dt 2 title '%s p99.9'",
                    i ? ", " : "", dat, i, i + 1, sys[i].sut.label, dat, i, i + 1, sys[i].sut.label,
                    dat, i, i + 1, sys[i].sut.label);
    }
    fprintf(f, "\nunset logscale y\nset yrange [0:*]\n"
               "set ylabel 'messages forwarded per CPU-second'\nplot ");
    for (int i = 0; i < nsys; i++)
        fprintf(f, "%s'%s' index %d using 1:7 with linespoints lt %d title '%s'", i ? ", " : "",
                dat, i, i + 1, sys[i].sut.label);
    fprintf(f, "\nunset multiplot\n");
    fclose(f);
    if (nplot == 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", gp, (char *)NULL);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return access(png, R_OK) == 0 ? 0 : -1;
}
