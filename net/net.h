/*
 * net.h - UDP datagram engines and socket helpers. Knows nothing of SIP.
 *
 * An engine owns a set of bound UDP sockets on one thread and runs a loop:
 * receive datagrams in batches, hand each to the caller's handler, send what
 * the handler asks for, and give the buffer back once that send completes.
 * Two engines share this contract and pass the same tests:
 *   - net_uring_run: io_uring, multishot recvmsg into a provided buffer ring,
 *     sendmsg from the same buffer (zero copy of the payload), batched
 *     submission, single issuer, deferred task running where the kernel has it;
 *   - net_mmsg_run: recvmmsg/sendmmsg, for hosts where io_uring is blocked
 *     (Docker's default seccomp profile) or absent.
 *
 * Buffer ownership (the rule every engine keeps): a receive buffer belongs to
 * the engine's kernel side until its datagram arrives; then to the handler for
 * the duration of the call; then, if the handler filled tx, to the send until
 * its completion; then it is returned for reuse. tx is the engine's, one per
 * receive buffer, so its iovecs may point into rx->buf and tx->scratch and
 * stay valid until the send completes. Nothing is allocated per datagram.
 *
 * Errors follow liburing: functions return -errno, passed through unchanged.
 */
#ifndef VIADUCT_NET_H
#define VIADUCT_NET_H

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define NET_MAX_SOCKS 16
#define NET_MAX_IOV 128
#define NET_SCRATCH 1024

/* One received datagram; valid only during the handler call. */
struct net_rx {
    char *buf;
    size_t len;
    bool truncated; /* larger than the buffer: only the first len bytes are here */
    const struct sockaddr *src;
    socklen_t srclen;
    int sock; /* index into net_engine_cfg.fds of the receiving socket */
    /* How close the engine is to losing datagrams, 0..100, for the handler
     * to shed work by (the engines know nothing of what is sheddable):
     * io_uring, the share of receive buffers not in the kernel's hands
     * (held by the engine, or in completions not yet handled);
     * mmsg, how many full batches in a row this socket has given up to
     * this one (a full batch means more wait in the socket). */
    uint8_t load;
    /* The engine's TCP connections (net_conn_send), NULL when it has none. */
    struct net_stream *stream;
    uint64_t conn; /* the connection the bytes came on (a handler's own net_rx), 0: UDP */
};

/* What to send in reply to one datagram. The engine clears niov and dst2len
 * before each handler call; niov == 0 sends nothing. With dst2len > 0 the
 * same bytes also go to dst2 from the same socket (a CANCEL whose INVITE may
 * be at either of two backends), and the buffer is held until both sends
 * complete; a failure of that second send is reported with dst = dst2. */
struct net_tx {
    int niov;
    /* Not 0: send on this TCP connection (net_conn_send) instead, if its peer has dst's
     * address (when dstlen > 0; the port may differ); sock is not used then. A connection
     * that has gone, or is another host's, is reported as -ENOTCONN to on_send_error. */
    uint64_t conn;
    int sock; /* index into net_engine_cfg.fds to send from */
    socklen_t dstlen;
    socklen_t dst2len;
    struct sockaddr_storage dst;
    struct sockaddr_storage dst2;
    struct iovec iov[NET_MAX_IOV]; /* may point into rx->buf and scratch */
    char scratch[NET_SCRATCH];
};

typedef void (*net_handler_fn)(void *ctx, const struct net_rx *rx, struct net_tx *tx);

struct net_stream;

/*
 * A send failed for good: the datagram was not sent (-errno; tx is still
 * intact for the callee to inspect). Its error code does not say whose fault
 * it was: on an unconnected socket with IP_RECVERR, Linux also stores every
 * ICMP error as the socket's pending error, and the next send, to whatever
 * destination, fails with it (and clears it). So the engines send again
 * (NET_SEND_RETRIES times, each counted NET_EV_TX_RETRIED) when the code is
 * one an ICMP error can leave behind, and only then report; who drew the ICMP
 * is told by net_icmp_fn alone.
 */
typedef void (*net_send_error_fn)(void *ctx, const struct net_tx *tx, int err);

/* One entry of a socket's error queue (IP_RECVERR): an ICMP or ICMPv6 error
 * for a datagram that socket sent, or a local error of one (remote false).
 * dst is where that datagram went: the only trustworthy attribution. Valid
 * only during the call. */
struct net_icmp {
    int sock;  /* index into net_engine_cfg.fds */
    int err;   /* -errno: -ECONNREFUSED for port unreachable, -EHOSTUNREACH, ... */
    bool remote;
    uint8_t type, code; /* of the ICMP message when remote */
    const struct sockaddr *dst;
    socklen_t dstlen;
};
typedef void (*net_icmp_fn)(void *ctx, const struct net_icmp *e);

/* Counted events an engine reports: see enum net_event. dst is the
 * datagram's destination for NET_EV_TX_RETRIED, else NULL. */
typedef void (*net_event_fn)(void *ctx, int event, const struct sockaddr *dst);

enum net_event {
    NET_EV_RX_ENOBUFS, /* io_uring ran out of provided buffers (datagrams may drop) */
    NET_EV_RX_ERROR,   /* a receive completed with another error */
    NET_EV_TX_DROPPED, /* no submission slot: a reply could not be queued */
    NET_EV_TX_RETRIED, /* a send failed with an error an ICMP may have left; sent again */
    /* TCP (net_stream_cfg): dst is the peer */
    NET_EV_CONN_OPEN,        /* a connection accepted */
    NET_EV_CONN_REFUSED,     /* accepted and closed at once: the table is full */
    NET_EV_CONN_REFUSED_SRC, /* ... this source has max_per_source connections already */
    NET_EV_CONN_REFUSED_ACL, /* ... the admit hook refused its source */
    NET_EV_CONN_END_PEER,    /* closed by the peer (or reset) */
    NET_EV_CONN_END_HANDLER, /* closed because the handler said so */
    NET_EV_CONN_END_IDLE,    /* closed: nothing received for idle_ms */
    NET_EV_CONN_END_SLOW,    /* closed: bytes waited partial_ms for the rest of their message */
    NET_EV_CONN_END_FULL,    /* closed: buf_size bytes buffered and none consumed */
    NET_EV_CONN_END_WRITE,   /* closed: more than wbuf_size bytes waiting to be sent */
    NET_EV_ACCEPT_PAUSED,    /* accept failed for want of descriptors or memory (EMFILE,
                              * ENFILE, ENOMEM, ENOBUFS): no accept for about 100 ms */
    NET_EV_COUNT
};

/* Sends of one datagram after the first, when each fails with an error an
 * ICMP error may have left pending (a burst of ICMP errors can poison more
 * than one send in a row; a genuine error fails every time, so the bound
 * keeps it cheap). */
#define NET_SEND_RETRIES 2

/* True for the codes an ICMP error turns into (icmp_err_convert,
 * icmpv6_err_convert), which a send may fail with although its own
 * destination is fine: send it again (see net_send_error_fn). err is -errno. */
static inline bool net_send_retryable(int err)
{
    switch (-err) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENONET:
    case ENOPROTOOPT:
    case EPROTO:
    case EMSGSIZE:
    case EOPNOTSUPP:
    case EACCES: return true;
    default: return false;
    }
}

struct net_engine_cfg {
    const int *fds;    /* bound, non-blocking UDP sockets; the caller closes them */
    int nfds;          /* 1..NET_MAX_SOCKS */
    unsigned buf_size; /* largest datagram accepted whole; larger ones arrive truncated */
    unsigned nbufs;    /* receive buffers, a power of two (io_uring buffer rings need it),
                        * batch..32768; else the engines return -EINVAL */
    unsigned batch;    /* datagrams per recvmmsg / completions per peek */
    int cpu;           /* io-wq affinity for io_uring, -1 for none */
    net_handler_fn handler;
    net_send_error_fn on_send_error; /* may be NULL */
    net_icmp_fn on_icmp;             /* may be NULL */
    net_event_fn on_event;           /* may be NULL */
    /* Called between batches, never during a handler call, at least every
     * ~100 ms even when idle: the caller's quiescent point, after which the
     * handler holds no pointer from earlier calls (used to free a replaced
     * config only once every worker has passed one). May be NULL. */
    void (*on_quiescent)(void *ctx);
    /* Called before each batch of handler calls (datagrams that arrived
     * together): where the caller reads its clock once for the batch rather
     * than once per datagram. May be NULL. */
    void (*on_batch)(void *ctx);
    void *ctx;
    const atomic_bool *stop; /* the loop returns within about 100 ms of it turning true */
    /* TCP listeners and their connections, io_uring engine only (net_mmsg_run refuses it
     * with -EOPNOTSUPP); NULL for none. */
    const struct net_stream_cfg *stream;
};

/* ---- TCP: connections on the io_uring engine ----
 *
 * Each engine accepts on its own listening sockets (SO_REUSEPORT: one per worker, the kernel
 * spreads connections over them) with one multishot accept each, and keeps its connections
 * in a table of max_conns slots allocated when it starts. At accept a connection gets its
 * two buffers in one allocation (buf_size to receive into, wbuf_size for what the peer has
 * not taken yet); nothing else is allocated while it lives. Its bytes are received straight
 * into its buffer, behind what is already there, so a message that arrives in pieces is
 * contiguous without a copy; on_data sees every byte not consumed yet and says how many it
 * consumed. A connection is named by a handle (slot and generation, which starts at a random
 * value per slot), which a later message may carry: once the connection has closed, its
 * slot's generation has moved on and the handle finds nothing (net_conn_send: -ENOTCONN).
 */

/* One call per batch of bytes received on a connection; valid only during the call. */
struct net_conn_rx {
    uint64_t conn; /* handle, valid after the call for net_conn_send */
    char *buf;     /* every byte received and not consumed yet, from its first */
    size_t len;
    const struct sockaddr *peer;
    socklen_t peerlen;
    int listener; /* index into net_stream_cfg.lfds */
    struct net_stream *stream;
};

#define NET_CONN_CLOSE (-1)

/* Returns the bytes consumed from buf's front (0..len; the rest stays, with what comes
 * next behind it), or NET_CONN_CLOSE to close the connection. */
typedef long (*net_conn_fn)(void *ctx, const struct net_conn_rx *rx);

struct net_stream_cfg {
    const int *lfds;         /* listening TCP sockets (net_tcp_listen); the caller closes them */
    int nlfds;               /* 1..NET_MAX_SOCKS */
    unsigned max_conns;      /* connection slots of this engine, 1..NET_MAX_CONNS */
    unsigned max_per_source; /* connections from one IP address in this engine; 0: no limit */
    unsigned buf_size;       /* bytes buffered to receive, per connection; 64..16 MB */
    unsigned wbuf_size;      /* bytes waiting to be sent, per connection; 64..16 MB */
    unsigned idle_ms;        /* a connection with nothing received for this long is closed */
    unsigned partial_ms;     /* bytes that wait this long for the rest of their message
                              * (no call consumed any) close it: slowloris */
    net_conn_fn on_data;
    /* At accept, before anything is allocated for it: may listener's connection from peer
     * be kept? False closes it at once (NET_EV_CONN_REFUSED_ACL). NULL: every one. */
    bool (*admit)(void *ctx, int listener, const struct sockaddr *peer);
};

#define NET_MAX_CONNS 65536u

/*
 * Sends iov[0..niov) on connection conn, now if the kernel takes it, else what it did not
 * take is copied behind what already waits (wbuf_size in all) and sent as the peer reads.
 * The bytes are free again when it returns. Called on the engine's thread only (from a
 * handler). Returns 0, -ENOTCONN if the connection has closed (or never was), or -ENOBUFS
 * if it would hold more than wbuf_size (the connection is then closed: a peer that does not
 * read), -EPIPE for another send error (closed too).
 */
int net_conn_send(struct net_stream *s, uint64_t conn, const struct iovec *iov, int niov);

/* Sends tx now, from the engine's thread outside a datagram's handler call (on_data): a
 * datagram by a plain sendmsg on UDP socket tx->sock (and the copy to dst2), or onto
 * tx->conn. The bytes are free again when it returns. 0 or the -errno of the first send
 * that failed (reported to on_send_error as well). */
int net_send_now(struct net_stream *s, const struct net_tx *tx);

/* Closes the connection; nothing more is received on it, and what still waits in its
 * backlog is dropped. 0 or -ENOTCONN. Engine thread only. */
int net_conn_close(struct net_stream *s, uint64_t conn);

/* Opens a non-blocking TCP socket listening on sa (SO_REUSEPORT when asked, IPv6-only for
 * IPv6, backlog as given). Returns the fd or -errno. */
int net_tcp_listen(const struct sockaddr *sa, socklen_t len, bool reuseport, int backlog);

/* Runs the io_uring engine on the calling thread until *stop. Returns 0, or
 * -errno if it could not start (e.g. -ENOSYS, -EPERM under seccomp). */
int net_uring_run(const struct net_engine_cfg *cfg);

/* Runs the recvmmsg/sendmmsg engine until *stop. 0 or -errno. */
int net_mmsg_run(const struct net_engine_cfg *cfg);

/* True if this kernel and process may use what net_uring_run needs (a ring,
 * provided buffer rings, multishot recvmsg). Cheap; creates and closes a ring. */
bool net_uring_available(void);

/* ---- addresses and sockets ---- */

/* Parses "1.2.3.4:5060" or "[::1]:5060" (port required); brackets may also
 * hold an IPv4 address, "[1.2.3.4]:5060", so that one template serves both
 * families. 0 or -EINVAL. */
int net_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* Parses an IP literal (no brackets) and a port into ss. 0 or -EINVAL. */
int net_addr_from_ip(const char *ip, size_t iplen, int port, struct sockaddr_storage *ss,
                     socklen_t *len);

/* Writes "1.2.3.4:5060" or "[::1]:5060" (NUL-terminated) into buf. Returns
 * the length, or -ENOSPC. */
int net_addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* Writes the IP alone ("1.2.3.4", "::1") into buf. Length or -ENOSPC. */
int net_addr_format_ip(const struct sockaddr *sa, char *buf, size_t len);

int net_addr_port(const struct sockaddr *sa);

/* Same family, address and port. */
bool net_addr_equal(const struct sockaddr *a, const struct sockaddr *b);

/* Same family and address, any port. */
bool net_addr_same_ip(const struct sockaddr *a, const struct sockaddr *b);

/* 0 when sa is IPv4 or IPv6 and len holds it; -EAFNOSUPPORT for another family, -EINVAL for a
 * short len. What every socket opener checks before bind. */
int net_addr_len_ok(const struct sockaddr *sa, socklen_t len);

/* False for addresses a reply must never go to: unspecified (0.0.0.0, ::),
 * broadcast (255.255.255.255), multicast (224/4, ff00::/8), port 0. */
bool net_addr_sendable(const struct sockaddr *sa);

/* Opens a non-blocking UDP socket bound to sa, with SO_REUSEPORT when asked
 * (one socket per worker, the kernel spreads datagrams over them), IP_RECVERR
 * (ICMP errors reach the error queue, naming the destination, instead of
 * vanishing; they also fail the next send, see net_send_error_fn) and the given buffer
 * sizes (0 keeps the default). Returns the fd or -errno (-EADDRINUSE, ...). */
int net_udp_open(const struct sockaddr *sa, socklen_t len, bool reuseport, int rcvbuf, int sndbuf);

#endif
