/* vb_proc.c - see vb_proc.h. */
#include "bench/vb_proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads /proc/PID/stat: ppid, utime, stime (fields 4, 14, 15). The command
 * name (field 2) may hold spaces and parentheses: parse after the last ')'. */
static int read_stat(pid_t pid, pid_t *ppid, uint64_t *ut, uint64_t *st)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    unsigned long long u = 0, s = 0;
    int pp = 0;
    char state;
    /* ") S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime" */
    if (sscanf(p + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &pp, &u,
               &s) != 4)
        return -1;
    *ppid = pp;
    *ut = u;
    *st = s;
    return 0;
}

int vb_proc_tree(pid_t root, pid_t *pids, int max)
{
    static pid_t all[32768], par[32768];
    int nall = 0;
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && nall < 32768) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name), pp;
        uint64_t u, s;
        if (read_stat(pid, &pp, &u, &s) == 0) {
            all[nall] = pid;
            par[nall++] = pp;
        }
    }
    closedir(d);
    int n = 0;
    for (int i = 0; i < nall; i++)
        if (all[i] == root)
            pids[n++] = root;
    if (n == 0)
        return 0;
    /* breadth first: each pass adds the children of what is already in */
    for (int done = 0; done < n && n < max; done++)
        for (int i = 0; i < nall && n < max; i++)
            if (par[i] == pids[done])
                pids[n++] = all[i];
    return n;
}

static int count_tasks(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    int n = 0;
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (isdigit((unsigned char)e->d_name[0]))
            n++;
    closedir(d);
    return n;
}

int vb_proc_cpu(pid_t root, struct vb_proc_cpu *out)
{
    pid_t pids[VB_PROC_MAX];
    int n = vb_proc_tree(root, pids, VB_PROC_MAX);
    long hz = sysconf(_SC_CLK_TCK);
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return -ESRCH;
    uint64_t ut = 0, st = 0;
    for (int i = 0; i < n; i++) {
        pid_t pp;
        uint64_t u, s;
        if (read_stat(pids[i], &pp, &u, &s) == 0) {
            ut += u;
            st += s;
            out->nproc++;
            out->nthreads += count_tasks(pids[i]);
        }
    }
    out->user_s = (double)ut / (double)hz;
    out->sys_s = (double)st / (double)hz;
    out->cpu_s = out->user_s + out->sys_s;
    return 0;
}

int vb_proc_sock_inodes(pid_t root, uint64_t *ino, int max)
{
    pid_t pids[VB_PROC_MAX];
    int np = vb_proc_tree(root, pids, VB_PROC_MAX), n = 0;
    for (int i = 0; i < np && n < max; i++) {
        char path[64], link[96], target[64];
        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pids[i]);
        DIR *d = opendir(path);
        if (d == NULL)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL && n < max) {
            if (!isdigit((unsigned char)e->d_name[0]))
                continue;
            snprintf(link, sizeof(link), "%s/%.16s", path, e->d_name);
            ssize_t l = readlink(link, target, sizeof(target) - 1);
            if (l <= 0)
                continue;
            target[l] = '\0';
            unsigned long long v;
            if (sscanf(target, "socket:[%llu]", &v) != 1)
                continue;
            bool dup = false;
            for (int j = 0; j < n; j++)
                dup |= ino[j] == v; /* forked children share their parent's sockets */
            if (!dup)
                ino[n++] = v;
        }
        closedir(d);
    }
    return n;
}

uint64_t vb_fd_inode(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Calls fn for every line of /proc/net/udp and udp6: local port, inode, drops. */
static void scan_udp(void (*fn)(void *, int, uint64_t, uint64_t), void *ctx)
{
    static const char *files[] = {"/proc/net/udp", "/proc/net/udp6"};
    char line[512];
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        if (f == NULL)
            continue;
        if (fgets(line, sizeof(line), f) == NULL) { /* the header */
            fclose(f);
            continue;
        }
        while (fgets(line, sizeof(line), f) != NULL) {
            char local[64];
            unsigned long long inode, drops;
            /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
            if (sscanf(line, " %*s %63s %*s %*s %*s %*s %*s %*s %*s %llu %*s %*s %llu", local,
                       &inode, &drops) != 3)
                continue;
            char *colon = strrchr(local, ':');
            int port = colon ? (int)strtol(colon + 1, NULL, 16) : -1;
            fn(ctx, port, inode, drops);
        }
        fclose(f);
    }
}

struct drops_ctx {
    const uint64_t *ino;
    int n;
    uint64_t sum;
};

static void add_drops(void *vc, int port, uint64_t inode, uint64_t drops)
{
    struct drops_ctx *c = vc;
    (void)port;
    for (int i = 0; i < c->n; i++)
        if (c->ino[i] == inode)
            c->sum += drops;
}

uint64_t vb_udp_drops(const uint64_t *ino, int n)
{
    struct drops_ctx c = {ino, n, 0};
    scan_udp(add_drops, &c);
    return c.sum;
}

struct port_ctx {
    int port;
    bool found;
};

static void find_port(void *vc, int port, uint64_t inode, uint64_t drops)
{
    struct port_ctx *c = vc;
    (void)inode;
    (void)drops;
    if (port == c->port)
        c->found = true;
}

bool vb_udp_port_bound(int port)
{
    struct port_ctx c = {port, false};
    scan_udp(find_port, &c);
    return c.found;
}
