/*
 * px.h - the stateless proxy (RFC 3261 §16.11): one datagram in, at most one
 * datagram out, no memory of either afterwards.
 *
 * px_handle() is a pure function of (immutable config, received datagram,
 * its source) plus counter increments: any number of viaduct instances with
 * the same config make the same decisions, and tests drive it with no
 * sockets at all. It parses once, then forwards a request to its next hop
 * (Route, else the routing table) with our Via on top, forwards a response
 * to the Via below ours, or answers locally (errors, OPTIONS to us, STUN).
 */
#ifndef VIADUCT_PX_H
#define VIADUCT_PX_H

#include "core/cfg.h"
#include "core/dns_cache.h"
#include "core/guard.h"
#include "core/rt.h"
#include "core/stats.h"
#include "net/net.h"
#include "parser/sip.h"

#define PX_MAX_LISTEN NET_MAX_SOCKS
#define PX_HOST_MAX 64

/* One listening address: where viaduct receives, and what it writes in Via. */
struct px_listen {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char host[PX_HOST_MAX]; /* advertised host: IP literal without brackets, or a name */
    size_t host_len;
    int port;         /* advertised port */
    bool host_is_ip6; /* write the host in brackets */
    char ip[48];      /* the listen address's IP as text, compared with Via and Route hosts */
    size_t ip_len;
    bool wildcard; /* 0.0.0.0 or ::: receives on every local address of its family */
    bool tcp;      /* a tcp: listener: its connections are the worker's (net/stream.c) */
    /* edge protection (px_guard.c): its own lists or the security section's */
    const struct cfg_cidrs *allow, *deny; /* in the cfg px was built from */
    bool acl;                             /* either list is non-empty */
    bool acl_403;                         /* a request they refuse is answered 403 */
    struct gd_limits lim;                 /* per source: requests, dialog, answer bytes */
};

/*
 * Fills l from a listen address ("IP:PORT", "[IPv6]:PORT", either after "udp:" or
 * "tcp:") and what to
 * advertise for it ("HOST:PORT", "[IPv6]:PORT"; NULL: the listen address,
 * which must then not be a wildcard). 0, or -1 with a one-line reason in err.
 */
int px_listen_init(struct px_listen *l, const char *listen, const char *advertise, char *err,
                   size_t errlen);

/* Another name clients use for viaduct (a Route or Request-URI naming it
 * means us), as Kamailio's and OpenSIPS's alias= do. */
struct px_alias {
    char host[PX_HOST_MAX];
    size_t host_len;
    int port; /* 5060 when not given */
};

#define PX_MAX_ALIASES 16

/* Fills a from "HOST" or "HOST:PORT" ("[IPv6]" and "[IPv6]:PORT"). 0 or -1. */
int px_alias_init(struct px_alias *a, const char *s);

/*
 * A pool: its table and its backends' health, read by every lookup (relaxed
 * atomics; a lookup that sees a state one packet late is still a valid
 * choice). The health thread owns the verdicts (state, changed_ms); a
 * worker's only write is an ICMP hint (hc_icmp_hint): state RT_DOWN with
 * held_ms set, a hold-down the health thread ends. See health.h.
 */
struct px_pool {
    const struct rt_table *rt;
    _Atomic uint8_t *state;      /* [rt->n]: enum rt_state */
    _Atomic int64_t *changed_ms; /* [rt->n]: clk ms of the last change, 0 never */
    _Atomic int64_t *held_ms;    /* [rt->n]: when an ICMP hint took it down, 0: not held */
    _Atomic int64_t *returned_ms; /* [rt->n]: when it last came back up from down (probes or
                                   * the operator; not a hold's end), 0 never: px_route.c */
    _Atomic int64_t *vouched_ms; /* [rt->n]: ICMP hints are ignored until then (a probe
                                  * answered after one: the hint was false) */
    bool *drain;                 /* [rt->n]: configured to drain */
    uint16_t *slot;              /* [rt->n]: its counters in st_worker.be (stats.h) */
    /* The operator's word (POST /backends/...): the management thread writes
     * override, the health thread folds it into state and then sets
     * override_seen to it; both are carried across reloads by name. */
    _Atomic uint8_t *override;      /* [rt->n]: enum px_override */
    _Atomic uint8_t *override_seen; /* [rt->n]: the override state reflects */
    _Atomic uint8_t *cause;         /* [rt->n]: enum px_cause of the last change */
    _Atomic int64_t *rtt_us;        /* [rt->n]: round trip of the last answered probe, 0 none */
    bool dns; /* its backends come from DNS too: empty means not resolved (503), not no pool */
};

enum px_override { PX_OV_NONE = 0, PX_OV_DRAIN, PX_OV_DOWN };

/* Why a backend is in its state: what the health thread last acted on. */
#define PX_CAUSES(X)                                                                               \
    X(START, "configured")                                                                         \
    X(PROBES_FAILED, "probes failed")                                                              \
    X(PROBES_ANSWERED, "probes answered")                                                          \
    X(ICMP, "ICMP error hold-down")                                                                \
    X(HOLD_OVER, "hold-down over")                                                                 \
    X(OPERATOR, "operator override")

enum px_cause {
#define X(n, t) PX_CAUSE_##n,
    PX_CAUSES(X)
#undef X
        PX_NCAUSES
};

/* "configured", "probes failed", ...; "none", "drain", "down". */
const char *px_cause_name(int cause);
const char *px_override_name(int ov);

/* Where each backend address is used (a pool and an index into its table),
 * sorted by address and hashed, so an ICMP error or a response from a
 * backend finds its backends in one or two probes without allocating. */
struct px_backend_ref {
    uint64_t key[3]; /* family and port, address (px_cfg.c: ref_key) */
    uint8_t pool;
    uint16_t index;
};

/* What a request is hashed on (see enum cfg_key). */
struct px_key {
    uint8_t kind; /* enum cfg_key */
    struct span header;
};

struct px_cidr {
    int family;
    uint8_t addr[16];
    int prefix;
};

/* A routing rule with its strings left in the cfg it came from. */
struct px_rule {
    const struct cfg_rule *r;
    int pool;
    int nsrc;
    struct px_cidr src[CFG_MAX_MATCH];
};

/* How long after a backend's state changed a CANCEL or ACK also goes to
 * where its INVITE may have gone before the change: an INVITE may ring for
 * Timer C (RFC 3261 §16.6, > 3 min) before its CANCEL comes, so 32 s (64*T1)
 * would be too short. */
#define PX_FOLLOW_MS (200 * 1000)

/* One address of this host (getifaddrs), to know when a next hop is us. */
struct px_local {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
};

/* A host with more addresses than this cannot use a wildcard listener:
 * px_cfg_build refuses it rather than miss a loop through one it dropped. */
#define PX_MAX_LOCAL 256

/* A key of the keyed checks (SipHash-2-4, crypto_shorthash). */
#define PX_KEY_LEN 16

/* The keys derived from one secret: one per use, so a flow token's check
 * can never pass for a Via tag or the other way round. */
struct px_keys {
    uint8_t flow[PX_KEY_LEN];
    uint8_t via[PX_KEY_LEN];
};

#define PX_MAX_TRUSTED CFG_MAX_TRUSTED

/* The workers' own UDP sockets for TCP's requests (px_state.tcp_out), fixed once they are
 * open at start and never changed, so read with no lock: a datagram to one would come back
 * into viaduct, as one to a listener would (px_addr_is_self). port_bits has a bit per port
 * in use, so an address on no such port costs one load. */
struct px_own {
    uint64_t port_bits[65536 / 64];
    int n;
    struct {
        struct sockaddr_storage addr;
        bool wildcard;
    } s[]; /* [n] */
};

struct px_cfg {
    struct px_listen listen[PX_MAX_LISTEN]; /* UDP ones first: [0, nudp), then TCP */
    int nlisten;
    int nudp;                          /* UDP listeners: listen[i] is the worker's socket i */
    uint8_t listen_src[PX_MAX_LISTEN]; /* each one's position in cfg.listen[] */
    /* the host's addresses when the config was built (start, every reload);
     * read only for wildcard listeners, so no syscall on the packet path */
    struct px_local local[PX_MAX_LOCAL];
    int nlocal;
    bool any_wildcard; /* some listener is a wildcard: px_is_self compares addresses */
    bool route_by_source; /* a rule matches or a key hashes the source: loop_hash covers it */
    struct px_alias alias[PX_MAX_ALIASES];
    int nalias;
    struct px_pool pools[CFG_MAX_POOLS]; /* pools[0]: the default pool */
    int npools;
    struct px_backend_ref *refs; /* every backend of every pool, sorted by key */
    int nrefs;
    uint32_t *ref_hash; /* [1 << ref_bits]: 1 + the first ref of an address, 0 empty */
    unsigned ref_bits;
    uint32_t next_slot; /* the first counter slot no backend has had (stats.h) */
    struct px_rule rules[CFG_MAX_RULES];
    int nrules;
    struct px_key key_register, key_other; /* when no rule gives a key */
    bool record_route;
    uint8_t path;      /* enum cfg_path */
    int64_t rebind_ms; /* registration_interval: AOR-keyed calls keep the fallback this long */
    size_t max_msg;  /* larger requests are answered 513 */
    uint64_t seed;   /* branch and To-tag hashing; same on every instance */
    int retry_after; /* seconds, on 503 */
    /* security (px_policy.c) */
    struct px_keys key;      /* from the secret: what viaduct signs now */
    struct px_keys prev_key; /* from the previous secret, while prev_until_ms is ahead */
    bool has_prev;
    int64_t prev_until_ms;  /* clock.h's clock; the previous keys verify before it */
    bool secret_random;     /* no secret configured: a random one, this process only */
    uint8_t relay;          /* enum cfg_relay */
    struct px_cidr trusted[PX_MAX_TRUSTED];
    int ntrusted;
    bool loopback_ok[2];    /* [0] IPv4, [1] IPv6: a listener there serves loopback clients */
    /* edge protection (px_guard.c) */
    int nblock_ua;
    struct span block_ua[CFG_MAX_UA]; /* lower-cased copies in block_ua_text */
    char block_ua_text[CFG_MAX_UA][64];
    uint32_t ua_first[256]; /* byte -> the substrings starting with it (either case) */
    uint8_t ua_lead[16];    /* the distinct bytes b == (b | 0x20) of ua_first, for a SIMD skip */
    int nua_lead;           /* > 8: no skip */
    _Alignas(16) uint8_t ua_lead_vec[8][16]; /* ua_lead[k % nua_lead] 16 times, per k */
    bool limit_503, overload_503;
    unsigned overload_pct;
    /* hostnames of next hops (dns_cache.h): the server's, the same for every
     * generation; NULL (tests, the fuzzer): a hostname next hop is a 503 */
    const struct dns_cache *names;
    /* the server's, the same for every generation; NULL: none (UDP only, tests) */
    const struct px_own *own;
};

/* Per-worker scratch the proxy needs; big, so not on the stack. */
struct px_state {
    struct sip_msg msg;
    struct sip_info info;
    struct gd_table gd; /* per-source buckets (guard.h): gd_init before the first datagram */
    /* the process drains for shutdown (server.h): an OPTIONS to viaduct itself
     * is answered 503, as /readyz is. The worker copies it between batches. */
    bool draining;
    /* where a hostname the cache lacks is asked for (dns_cache.h); NULL: nowhere */
    struct dns_ask *ask;
    int wk_id; /* the worker's id, which our Via's connection token names (PX_VTC) */
    /* The worker's own UDP sockets for requests that came over TCP (worker_tcp.c), one per
     * IP family with a UDP listener ([0] IPv4, [1] IPv6): each bound to that family's first
     * UDP listener's address on a port of its own, not shared with the other workers, so the
     * response to such a request, sent to our Via, comes back to the worker that holds the
     * connection, whatever the backend's family. tcp_out[k] is that listener with the port;
     * its socket is engine socket tcp_out_sock[k] (-1: none of that family), all of them
     * from tcp_out_first on, after the UDP listeners. has_tcp_out false: none (UDP only, or
     * a test). */
    bool has_tcp_out;
    int tcp_out_first;
    int tcp_out_sock[2];
    int tcp_out_udp[2]; /* the UDP listener (cfg listen index) whose address it shares */
    struct px_listen tcp_out[2];
};

/*
 * Handles one received datagram that arrived at now_ms (clock.h's clock: it
 * times the CANCEL follow window) and wall-clock time now_us (CLOCK_REALTIME
 * in microseconds: the send time our Via carries, PX_VDT, and what a
 * response's latency is measured against). Fills tx with the datagram to
 * send (iovecs into rx->buf and tx->scratch, destination, socket index) or
 * leaves tx->niov == 0. Counts the outcome in st. Never allocates, locks,
 * blocks or reads a clock. ps->gd holds the per-source limits across calls
 * (guard.h): the one state px_handle keeps, bounded and private to the worker;
 * ps->draining is the caller's to set.
 */
void px_handle(const struct px_cfg *cfg, struct px_state *ps, struct st_worker *st,
               const struct net_rx *rx, struct net_tx *tx, int64_t now_ms, int64_t now_us);

/* A TCP stream whose next message cannot be framed (err: SIP_ENOCLEN, SIP_ECLEN,
 * SIP_EDUPHDR; SIP_EMSGBIG) but whose header block rx holds: a request is answered 400
 * (513 for SIP_EMSGBIG; tx, to rx->src), as px_handle answers a broken datagram; a
 * response or an unreadable Via gets nothing. The caller closes the connection after. */
void px_reject_unframed(const struct px_cfg *cfg, struct px_state *ps, struct st_worker *st,
                        const struct net_rx *rx, struct net_tx *tx, int64_t now_ms,
                        int64_t now_us, int err);

/*
 * The send-time parameter of our Via: ";vdt=" and 8 hex digits, the
 * request's CLOCK_REALTIME in units of 10 us, modulo 2^32 (it wraps every
 * 11.9 h; a difference is taken modulo 2^32 too). CLOCK_REALTIME because
 * the response may come back to another instance (stateless, same
 * configuration) on another host, whose monotonic clock has another origin;
 * NTP keeps wall clocks within a fraction of a millisecond. A difference
 * that is negative or over 30 s, or a parameter that is not 8 hex digits, is
 * implausible (mangled, forged, or clocks apart): counted, not measured.
 */
#define PX_VDT ";vdt="
#define PX_VDT_UNIT_US 10

/*
 * The connection parameter of our Via on a request that came over TCP: ";vtc=", the
 * worker's id in 2 hex digits and the connection's handle (net.h: slot and generation) in
 * 16, right after the send time (PX_VDT), where a response's is looked for. The response comes back
 * with our Via on top and is sent on that connection, if that worker still has it open (RFC
 * 3261 18.2.2), found with no state of our own. Its destination is still the one the tag verifies
 * (received/rport of the next Via: the connection's peer), and the engine sends only if that is the
 * connection's peer's address. The token is in the tag's input (px_via_tag): the peer check alone
 * would let a response whose token was changed reach another client behind the same IP.
 */
#define PX_VTC ";vtc="

/*
 * Builds the runtime config from a validated cfg: listening addresses,
 * aliases, one Maglev table and health array per pool (drain flags applied),
 * rules, keys. c must outlive px (rules point at its strings). 0, or -1 with
 * a one-line reason in err; px_cfg_free releases what was built either way.
 */
int px_cfg_build(struct px_cfg *px, const struct cfg *c, char *err, size_t errlen);
void px_cfg_free(struct px_cfg *px);

/* The security part of px_cfg_build (px_policy.c): keys from the secrets
 * (a random secret when none is configured: px->secret_random), the
 * previous secret's deadline, the relay policy, trusted prefixes, the hash
 * seed. 0, or -1 with a reason in err. */
int px_security_build(struct px_cfg *px, const struct cfg *c, char *err, size_t errlen);
/* After a reload: a random secret stays the process's (see px_cfg_carry_health). */
void px_security_carry(struct px_cfg *px, const struct px_cfg *old);

/* After a reload: backends that keep their name (in a pool that keeps its
 * name) keep a down state, a hold-down, their last change time and their
 * counter slot; the rest start up, with slots no backend had before (or
 * ST_NO_SLOT once they run out). */
void px_cfg_carry_health(struct px_cfg *px, const struct cfg *c, const struct px_cfg *old,
                         const struct cfg *oldc);

/* Writes one line per backend: pool, name, address, state and its counters
 * from s ("backend pool=P name=N address=A state=up requests=..."). */
void px_print_backends(FILE *f, const struct px_cfg *px, const struct cfg *c,
                       const struct st_snapshot *s);

/* The counter slot of the first backend at address sa, ST_NO_SLOT if none. */
unsigned px_backend_slot(const struct px_cfg *px, const struct sockaddr *sa);

/* The refs of the backends at address sa (same family, address and port):
 * *first and the count, 0 if none. Lock-free, allocation-free. */
int px_backends_at(const struct px_cfg *px, const struct sockaddr *sa,
                   const struct px_backend_ref **first);

/* True if host:port (port -1 meaning the default 5060) is one of ours: an
 * advertised host, an alias, a listen address, or, for a wildcard listener,
 * any local address of its family with its port. */
bool px_is_self(const struct px_cfg *cfg, struct span host, int port);

/* May a DNS record's address (a backend from a name, or a Route's host
 * resolved) be sent to: the destination rules of px_dest_permitted without
 * its exception for configured backends, since a DNS answer is no one's
 * configuration. Refused: viaduct's own sockets, link-local, loopback and
 * viaduct's listen IPs unless it listens on loopback of that family, a
 * family it has no socket of, and what no datagram may go to. */
bool px_dns_dest_ok(const struct px_cfg *cfg, const struct sockaddr *sa);

/* May listener li (a cfg->listen index) take a TCP connection from sa, by its allow and
 * deny lists? True too when a refused request is to be answered 403 (acl_403): that needs
 * the message, so the connection is kept and px_handle refuses each message. */
bool px_listen_admits(const struct px_cfg *cfg, int li, const struct sockaddr *sa);

/* True if a datagram sent to sa would reach one of our own sockets: sa is
 * a listen address or a worker's own socket for TCP's requests (px_own), or
 * a local address (127/8 included) with the port of a wildcard one of its
 * family. */
bool px_addr_is_self(const struct px_cfg *cfg, const struct sockaddr *sa);

#endif
