/*
 * vb_sut.h - systems under test: how `run` and `compare` start one, find its
 * CPU time, and stop it.
 *
 * A system is named by a spec:
 *   viaduct[:FLAGS]   BUILD/viaduct --listen L --backend B1 ... FLAGS
 *                     (e.g. "viaduct:--io mmsg --workers 1")
 *   kamailio          Debian's kamailio on a generated stateless config:
 *                     dispatcher hash over the Call-ID (over the To URI for
 *                     REGISTER), forward(), Max-Forwards check, children=1,
 *                     no tm; -DD keeps it in the foreground with its own PID
 *                     file under the output directory
 *   relay[:FLAGS]     the null relay (viaduct-bench relay, vb_relay.h)
 *   cmd:COMMAND       any command; {listen}, {ip}, {port}, {backends}
 *                     (comma-separated) and {backend0} are substituted
 * An optional "NAME=" prefix sets the label ("uring=viaduct:--io uring").
 *
 * Every system is started as our child, with its CPU affinity set before
 * exec (so every thread and process it makes inherits it), its output in a
 * log file, and PR_SET_PDEATHSIG so it cannot outlive the harness. It is
 * stopped by its PID only: SIGTERM, up to 5 s, then SIGKILL.
 */
#ifndef VIADUCT_VB_SUT_H
#define VIADUCT_VB_SUT_H

#include <stdbool.h>
#include <sys/types.h>

#include "bench/vb_proc.h"

enum vb_sut_kind { VB_SUT_VIADUCT, VB_SUT_KAMAILIO, VB_SUT_RELAY, VB_SUT_CMD };

#define VB_SUT_ARGS 64
#define VB_SUT_TEXT 512

struct vb_sut_env {
    const char *listen; /* "127.0.0.1:5060": where the system under test listens */
    const char *backends[16];
    int nbackends;
    const char *bindir; /* where viaduct and viaduct-bench are */
    const char *outdir; /* logs, generated configs, PID files */
    const char *cpus;   /* "1" or "0-1": its CPU list */
    int nice;           /* its nice value (every thread and child inherits it) */
};

struct vb_sut {
    int kind;
    char label[64];
    char flags[VB_SUT_TEXT]; /* after "viaduct:" / "relay:" / "cmd:" */
    pid_t pid;               /* 0: not running */
    char cmdline[VB_SUT_TEXT * 2];
    char log[256];
};

/* Parses a spec. 0, or -1 with a reason in err. */
int vb_sut_parse(const char *spec, struct vb_sut *s, char *err, size_t errlen);

/*
 * Starts s for env (Kamailio: writes its config first) and waits until its
 * listening port is bound (10 s at most). 0, or -1 with a reason in err
 * (including the tail of its log when it exited).
 */
int vb_sut_start(struct vb_sut *s, const struct vb_sut_env *env, char *err, size_t errlen);

/* True while the process is alive (reaps it if it exited). */
bool vb_sut_alive(struct vb_sut *s);

/* CPU time of its process tree. 0 or -ESRCH. */
int vb_sut_cpu(const struct vb_sut *s, struct vb_proc_cpu *out);

/* Datagrams its UDP sockets' receive queues have dropped so far. */
uint64_t vb_sut_drops(const struct vb_sut *s);

/* SIGTERM by PID, wait up to 5 s, SIGKILL by PID. Returns its exit status
 * (128+signal if killed), or -1 if it was not running. */
int vb_sut_stop(struct vb_sut *s);

/* Parses a CPU list ("1", "0-1", "0,2") into a mask; -1 if malformed. */
int vb_cpulist_parse(const char *s, unsigned long long *mask);

#endif
