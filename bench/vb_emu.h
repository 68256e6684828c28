/*
 * vb_emu.h - emulated backends (registrars and call servers): each one a UDP
 * socket on consecutive ports, answering what a stateless forwarder sends
 * them as a UAS would, counting what each received, and checking affinity.
 *
 * Answers (RFC 3261 §8.2.6): REGISTER, OPTIONS, MESSAGE, BYE, CANCEL and any
 * other request get 200 OK; INVITE gets 100 Trying, 180 Ringing and 200 OK
 * by default (the INVITE/100/180/200 flow: three datagrams back per
 * INVITE), or "180,200", or just "200" (--invite-replies); ACK is never
 * answered. Responses copy the whole Via stack, add a To tag derived from
 * the Call-ID (so every response of a dialog carries the same one) and go
 * back to the datagram's source address: the symmetric response routing of
 * RFC 3581 that every deployed UAS does, which is also the only way back
 * through the null relay, whose Via is not in the message. With no_reply
 * the backends only count ("without responses" runs).
 *
 * The core here is a pure function of (state, backend, datagram): tests
 * drive it without sockets; vb_emu_loop.c runs it on sockets.
 */
#ifndef VIADUCT_VB_EMU_H
#define VIADUCT_VB_EMU_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/vb_aff.h"
#include "bench/vb_sip.h"
#include "parser/sip.h"

#define VB_EMU_MAX 16 /* backends per emulator (one thread serves them all) */
#define VB_EMU_MAXRESP 3

enum vb_invite_mode { VB_INV_200 = 1, VB_INV_180_200 = 2, VB_INV_100_180_200 = 3 };

/* Request kinds counted per backend. */
#define VB_EMU_METHODS(X) X(register) X(invite) X(ack) X(bye) X(options) X(message) X(other)

enum vb_emu_method {
#define X(n) VB_EMU_##n,
    VB_EMU_METHODS(X)
#undef X
        VB_EMU_NMETHODS
};

struct vb_emu_count {
    uint64_t rx;                   /* datagrams received */
    uint64_t req[VB_EMU_NMETHODS]; /* requests, by method */
    uint64_t responses;            /* responses written (sent unless send_errors says) */
    uint64_t malformed;            /* did not parse, or lacks From/To/Call-ID/CSeq */
    uint64_t stray;                /* a response arrived: a backend expects none */
    uint64_t send_errors;
};

struct vb_emu_core {
    int n;           /* backends */
    int invite_mode; /* enum vb_invite_mode */
    bool no_reply;
    struct span contact[VB_EMU_MAX]; /* "ip:port" of each backend, for Contact */
    char contact_buf[VB_EMU_MAX][64];
    struct vb_emu_count cnt[VB_EMU_MAX];
    struct vb_aff aff;
    struct sip_msg msg; /* scratch */
};

/* Prepares a core for n backends whose contacts are filled by the caller
 * (vb_emu_set_contact). 0 or -ENOMEM / -EINVAL. */
int vb_emu_core_init(struct vb_emu_core *c, int n, int invite_mode, bool no_reply);
void vb_emu_core_free(struct vb_emu_core *c);
void vb_emu_set_contact(struct vb_emu_core *c, int b, const char *hostport);

/* Zeroes the counters and forgets the affinity keys. */
void vb_emu_core_clear(struct vb_emu_core *c);

/*
 * Handles one datagram that reached backend b: counts it, checks affinity,
 * and writes the responses (0..VB_EMU_MAXRESP) into out[0..], each a
 * complete datagram for the source address. Returns how many were written.
 * out[i] must have room for the request's size plus 512 bytes; a response
 * that does not fit is dropped and counted in send_errors.
 */
int vb_emu_answer(struct vb_emu_core *c, int b, const char *buf, size_t len, struct vb_buf *out);

/* Parses "200", "180,200" or "100,180,200". The mode, or -1. */
int vb_invite_mode_parse(const char *s);

/* The affinity key of a REGISTER: the To AOR as "user@host" with the host
 * lower-cased (the user part is case-sensitive). Writes into buf; false if
 * the To URI cannot be read. */
bool vb_emu_aor(struct span to_value, char *buf, size_t cap, struct span *key);

/* ---- on sockets (vb_emu_loop.c) ---- */

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>

/* What a run reports about the backends: counts and the affinity verdict. */
struct vb_emu_snap {
    int n;
    struct vb_emu_count cnt[VB_EMU_MAX];
    uint64_t keys[2], splits[2], unchecked;
    int nexamples;
    char example[VB_AFF_EXAMPLES][VB_AFF_EXAMPLE_LEN];
};

struct vb_emu_io; /* buffers of the loop */

struct vb_emu {
    struct vb_emu_core core; /* counters and affinity: under lock while the loop runs */
    int fds[VB_EMU_MAX];
    struct sockaddr_storage addr[VB_EMU_MAX];
    socklen_t addrlen;
    unsigned batch;
    int cpu; /* -1: not pinned */
    atomic_bool stop;
    pthread_mutex_t lock; /* the loop holds it per batch, a reader per snapshot */
    pthread_t thread;
    bool running;
    int result; /* the loop's: 0 or -errno */
    struct vb_emu_io *io;
};

/*
 * Opens n backends on consecutive ports from first ("127.0.0.1:5070"; port
 * 0 asks the kernel for the first and then tries the following ones).
 * 0, or -errno with a one-line reason in err. No thread yet.
 */
int vb_emu_open(struct vb_emu *e, const char *first, int n, int invite_mode, bool no_reply,
                char *err, size_t errlen);

/* Runs the loop on a new thread pinned to cpu (-1: not pinned). 0 or -errno. */
int vb_emu_start(struct vb_emu *e, int cpu);

/* Stops and joins the thread (returns within about 100 ms). */
void vb_emu_stop(struct vb_emu *e);

/* Closes the sockets and frees everything; stops the thread first if needed. */
void vb_emu_close(struct vb_emu *e);

/* Copies the counters and the affinity verdict; clear also zeroes them and
 * forgets the keys (the start of a measured phase). Safe while running. */
void vb_emu_snapshot(struct vb_emu *e, struct vb_emu_snap *s, bool clear);

/* Requests received over all backends. */
uint64_t vb_emu_snap_requests(const struct vb_emu_snap *s);

/* Prints per-backend counts and the affinity line. */
void vb_emu_print(FILE *f, const struct vb_emu_snap *s);

/* `viaduct-bench emulate`: see its usage text. Returns the exit status. */
int vb_emu_main(int argc, char **argv);

#endif
