/*
 * cfg.h - viaduct's configuration: one struct, filled from built-in
 * defaults, then a YAML file (-c FILE), then VIADUCT_* environment
 * variables, then command-line flags (each layer overrides the one before),
 * validated as a whole, then turned into the proxy's immutable runtime
 * config. Start-up code: allocation and C strings are fine here.
 *
 * Errors are one line each, "FILE:LINE: what is wrong" for the file and
 * "VIADUCT_X: what is wrong" for the environment, so an operator can fix
 * them without reading the source.
 */
#ifndef VIADUCT_CFG_H
#define VIADUCT_CFG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_ERR_LEN 512
#define CFG_MAX_LISTEN 16
#define CFG_MAX_ALIASES 16
#define CFG_MAX_POOLS 16
#define CFG_MAX_RULES 64
#define CFG_MAX_MATCH 8 /* values in one match list (methods, domains) */
#define CFG_STR 128
#define CFG_MAX_ACL 32 /* CIDRs in one allow, deny or trusted list */
#define CFG_MAX_UA 32  /* security.block_user_agents */
#define CFG_LIMIT_INHERIT UINT32_MAX /* a listener's limit not given: the security one */

/* What a request is hashed on. */
enum cfg_key {
    CFG_KEY_CALL_ID = 0,
    CFG_KEY_TO_AOR,   /* user@host of the To URI, host lower-cased, port 5060 dropped */
    CFG_KEY_FROM_AOR, /* the same for From */
    CFG_KEY_RURI_AOR, /* the same for the Request-URI */
    CFG_KEY_RURI_USER,
    CFG_KEY_SOURCE_IP,
    CFG_KEY_HEADER, /* the value of a header named by key_header */
};

/* A source condition of a rule: an address prefix, host bits clear. */
struct cfg_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int prefix; /* 0..32 or 0..128 */
};

/* HOST:PORT or HOST, as advertise and aliases give it (cfg_parse_hostport). */
struct cfg_hostport {
    char host[64]; /* an IP literal without brackets, or a DNS name */
    size_t host_len;
    int port;  /* 0 when not given */
    bool ip6;  /* was in brackets: write it back in brackets */
};

/* What a backend address names (cfg_parse_backend_addr). */
enum cfg_dns {
    CFG_DNS_NONE = 0, /* an IP literal: the backend itself */
    CFG_DNS_HOST,     /* NAME:PORT: every A and AAAA record of NAME, on PORT */
    CFG_DNS_SRV,      /* _service._proto.NAME: the SRV targets, with their ports */
};

struct cfg_backend {
    char address[CFG_STR]; /* "IP:PORT", "[IPv6]:PORT", "NAME:PORT" or "_sip._udp.NAME" */
    char name[64];         /* stable identity; "" means the address */
    uint32_t weight;       /* >= 1, default 1 */
    bool drain;            /* no new out-of-dialog work */
    uint8_t dns;           /* enum cfg_dns, set by cfg_validate */
    uint8_t tier;          /* 0: primary; n: used when no lower tier can be (SRV priority) */
    bool from_dns;         /* a record of a DNS entry (dns_expand), not configured */
};

struct cfg_pool {
    char name[64];
    int nbackends;
    struct cfg_backend *backends; /* malloc'd; cfg_free releases */
    bool dns; /* some backend was a DNS name: an empty pool is one not resolved (503) */
};

/* Backends from DNS (core/dns.c): where to ask, how often, how long to trust
 * an answer the servers no longer give. */
#define CFG_MAX_DNS_SERVERS 8
#define CFG_MAX_DNS_NAMES 64 /* distinct backend names the resolver follows (dns.h) */
struct cfg_dns_opts {
    int nservers;
    char servers[CFG_MAX_DNS_SERVERS][CFG_STR]; /* "IP:PORT"; none: /etc/resolv.conf */
    uint32_t refresh_min_ms, refresh_max_ms; /* the records' TTL, bounded by these */
    uint32_t jitter_pct;                     /* each refresh comes up to this much early */
    uint32_t stale_seconds; /* a failing name keeps its last records this long */
    uint32_t max_records;   /* per name: the first ones by address are kept */
    uint32_t timeout_ms;    /* one query's wait for its answer */
};

/* A rule matches when every given condition matches (absent ones match
 * anything); the first matching rule wins; no match: the "default" pool. */
struct cfg_rule {
    int nmethods;
    char methods[CFG_MAX_MATCH][32]; /* exact, case-sensitive (RFC 3261 methods) */
    int nruri_domains;
    char ruri_domains[CFG_MAX_MATCH][CFG_STR]; /* "example.com" exact, ".example.com" suffix */
    int nto_domains;
    char to_domains[CFG_MAX_MATCH][CFG_STR];
    int nsources;
    struct cfg_cidr sources[CFG_MAX_MATCH]; /* "10.0.0.0/8", "2001:db8::/32", or one address */
    char pool[64];                          /* must name a pool */
    int pool_idx;                           /* its index in pools[], set by cfg_validate */
    bool has_key;                    /* else the defaults below by method */
    enum cfg_key key;
    char key_header[64];
};

/* A listen address's transport: its prefix ("udp:" or none, "tcp:"). */
enum cfg_tp { CFG_TP_UDP = 0, CFG_TP_TCP, CFG_TP_TLS };

/* The transport a listen address names, and (in *addr) the address after its prefix.
 * "udp:", "tcp:", "tls:" in any case; without a prefix, UDP. */
enum cfg_tp cfg_listen_split(const char *s, const char **addr);

/* A list of prefixes (security.allow, deny, trusted, a listener's own). */
struct cfg_cidrs {
    int n;
    struct cfg_cidr v[CFG_MAX_ACL];
};

/* Per-source token buckets: rate per second, burst the bucket's depth. */
struct cfg_limits {
    uint32_t rate, burst;               /* out-of-dialog requests */
    uint32_t dialog_rate, dialog_burst; /* in-dialog requests (To tag), CANCEL, ACK */
};

/* What one listen entry may set for itself (the file only); has_* false and
 * CFG_LIMIT_INHERIT take the security section's. */
struct cfg_listen_sec {
    bool has_allow, has_deny, has_acl_403;
    struct cfg_cidrs allow, deny;
    bool acl_403;
    struct cfg_limits lim;
};


/* TCP connections (net/stream.c): every limit of one, and of how many there may be. */
struct cfg_tcp {
    uint32_t max_conns;      /* in all, shared out over the workers */
    uint32_t max_per_source; /* from one IP address, per worker; 0: no limit */
    uint32_t idle_ms;        /* closed after this long with nothing received */
    uint32_t message_ms;     /* a message begun must be complete within this (slowloris) */
    uint32_t buffer;         /* bytes buffered to receive, and again to send, per connection */
};

struct cfg_health {
    /* active OPTIONS probes; off by default, as HAProxy's "check" and
     * Kamailio's ds_ping_interval are: backends that ignore OPTIONS would
     * all be taken down. Passive hints from ICMP errors are always on. */
    bool enabled;
    uint32_t interval_ms; /* default 1000; >= 50 */
    uint32_t timeout_ms;  /* default 500; < interval? no: any >= 10 */
    uint32_t down_after;  /* consecutive failures to go down, default 3 */
    uint32_t up_after;    /* consecutive successes to come up, default 2 */
    uint32_t jitter_pct;  /* 0..50, default 10 */
    /* An ICMP error for a datagram sent to a backend is a hint, not a
     * verdict (anyone can forge one): it moves the backend's new traffic to
     * the fallback for this long, then the backend is tried again. With
     * probes on, a failed probe confirms it and an answered one ends it.
     * 100..60000 ms, default 5000. */
    uint32_t icmp_holddown_ms;
    int ncodes;           /* 0: any final response (>= 200) counts as alive */
    uint16_t codes[16];   /* else only these codes */
};

/* The management listener (admin.c). */
struct cfg_admin {
    char listen[CFG_STR];     /* "IP:PORT", or "off" */
    char token_file[CFG_STR]; /* "" none; else the file the bearer token is read from */
    char token[CFG_STR];      /* VIADUCT_ADMIN_TOKEN: the token itself; never printed */
};

/* What a request from an untrusted source may name as its next hop (px.c). */
enum cfg_relay {
    CFG_RELAY_REJECT = 0, /* a Route or Request-URI to another host: 403 */
    CFG_RELAY_RULES,      /* such a Route or Request-URI is ignored: the rules decide */
    CFG_RELAY_OPEN,       /* followed, as from a trusted source: an open relay */
};

/* When viaduct inserts Path on a REGISTER (px.c stay_on_path). */
enum cfg_path {
    CFG_PATH_OFF = 0,
    CFG_PATH_ON,     /* true: when the REGISTER says Supported: path (RFC 3327 §5) */
    CFG_PATH_ALWAYS, /* on every REGISTER: for registrars that accept Path without the
                      * UA's support (Kamailio's path_mode=0), as most phones never say it */
};

#define CFG_MAX_TRUSTED 64

/* Relay policy and the keys of what viaduct signs (flow tokens, its Via tag). */
struct cfg_security {
    enum cfg_relay relay;
    int ntrusted;
    struct cfg_cidr trusted[CFG_MAX_TRUSTED]; /* besides every backend address */
    char secret_file[CFG_STR];                /* read by px_cfg_build */
    char secret[CFG_STR];                     /* VIADUCT_SECRET: never in a file, never printed */
    char previous_secret_file[CFG_STR];
    char previous_secret[CFG_STR];
    uint32_t previous_until; /* Unix time: the previous secret verifies until then; 0 never */
    char hash_seed[CFG_STR]; /* "": the built-in seed */
    /* edge protection (px_guard.c, README "Edge protection") */
    struct cfg_cidrs allow, deny; /* for listeners that give none */
    bool acl_403;                 /* answer a request they refuse 403, else drop it */
    int nblock_ua;
    char block_ua[CFG_MAX_UA][64]; /* User-Agent substrings, any case */
    struct cfg_limits lim;
    bool limit_503;           /* answer 503 when over the limit, else drop */
    uint32_t answer_burst;    /* bytes of local answers a source may get beyond what it earns */
    uint32_t answer_rate;     /* bytes per second added to that allowance */
    uint32_t overload_pct;    /* engine load (net_rx.load) from which new requests are shed */
    bool overload_503;        /* shed with 503 + Retry-After, else drop */
};

/* What SIGTERM does (main.c): drain for drain_seconds, then stop. */
struct cfg_shutdown {
    uint32_t drain_seconds; /* 0..3600, default 5; 0: stop at once */
};

/* The log (log.h): set at start and by each reload. */
struct cfg_log {
    char format[CFG_STR]; /* "logfmt" or "json" */
    char level[CFG_STR];  /* "debug", "info", "warn" or "error" */
};

struct cfg {
    int nlisten;
    char listen[CFG_MAX_LISTEN][CFG_STR];    /* "IP:PORT" (UDP), "tcp:IP:PORT" */
    char advertise[CFG_MAX_LISTEN][CFG_STR]; /* "" = the listen address */
    struct cfg_listen_sec listen_sec[CFG_MAX_LISTEN];
    int naliases;
    char aliases[CFG_MAX_ALIASES][CFG_STR];
    int workers;               /* 0: the CPUs the process may use */
    char io[8];                /* "auto", "uring", "mmsg" */
    uint32_t max_msg;          /* 1024..65535, default 16384 */
    uint32_t table_size;       /* Maglev slots, prime, default 65537 */
    uint32_t retry_after;      /* seconds in 503s, default 5 */
    bool record_route;         /* insert Record-Route on dialog-creating requests */
    uint8_t path;              /* enum cfg_path: Path on REGISTERs */
    uint32_t registration_interval; /* seconds: how long a returned backend's calls wait */
    enum cfg_key key_register; /* default CFG_KEY_TO_AOR */
    enum cfg_key key_other;    /* default CFG_KEY_CALL_ID */
    char key_header_register[64];
    char key_header_other[64];
    int npools;
    struct cfg_pool pools[CFG_MAX_POOLS]; /* pools[0] is "default": --backend flags land there */
    int nrules;
    struct cfg_rule rules[CFG_MAX_RULES];
    struct cfg_health health;
    struct cfg_tcp tcp;
    struct cfg_admin admin;
    struct cfg_security security;
    struct cfg_shutdown shutdown;
    struct cfg_log log;
    struct cfg_dns_opts dns;
};

/* Fills c with the built-in defaults (an empty "default" pool, no listen
 * address yet: cfg_validate adds 127.0.0.1:5060 when none is given). */
void cfg_defaults(struct cfg *c);

/*
 * Reads a YAML file into c, on top of what c holds. Unknown keys, wrong
 * types and out-of-range values are errors: -1 with "FILE:LINE: message"
 * in err. 0 on success.
 */
int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen);

/*
 * Applies VIADUCT_* variables from envp (NULL-terminated "NAME=value"
 * strings, e.g. environ) on top of c: VIADUCT_LISTEN (comma list),
 * VIADUCT_ADVERTISE, VIADUCT_ALIASES, VIADUCT_BACKENDS (comma list of
 * ADDR:PORT into the default pool, replacing it), VIADUCT_WORKERS,
 * VIADUCT_IO, VIADUCT_MAX_MESSAGE, VIADUCT_TABLE_SIZE, VIADUCT_RECORD_ROUTE,
 * VIADUCT_PATH, VIADUCT_HEALTH_INTERVAL_MS, VIADUCT_HEALTH_TIMEOUT_MS, ...
 * (cfg_env.c lists them all). An unknown VIADUCT_ name is an error too.
 * 0, or -1 with "VIADUCT_X: message" in err.
 */
int cfg_apply_env(struct cfg *c, char *const *envp, char *err, size_t errlen);

/* Cross-field checks after every layer is applied: at least one backend
 * somewhere, rule pools exist, backend names unique per pool, addresses
 * parse, table_size prime and >= the largest pool. 0 or -1 with err. */
int cfg_validate(struct cfg *c, char *err, size_t errlen);

/* "HOST:PORT" (port_required) or "HOST[:PORT]", HOST an IP literal ("[v6]")
 * or a DNS name: the one parser of advertise and alias values, used by the
 * layers to check them and by the proxy to take them apart. 0, or -1 with a
 * reason in msg. */
int cfg_parse_hostport(const char *s, bool port_required, struct cfg_hostport *out, char *msg,
                       size_t len);

/* Writes the effective configuration as YAML that cfg_load_file accepts. */
void cfg_print(FILE *f, const struct cfg *c);

/* getopt_long options for every setting that has a flag (cfg.c's table):
 * option i gets val = val_base + its setting's number. Returns how many it
 * wrote (at most cap; no terminator). */
struct option;
int cfg_flag_options(struct option *out, int cap, int val_base);

/* One use of a setting's flag: opt is val - val_base, value its argument
 * (NULL for a switch). */
struct cfg_arg {
    int opt;
    const char *value;
};

/*
 * Applies the command line's setting flags on top of c, in the table's order
 * (so --listen comes before --advertise, whatever their order), each flag's
 * uses in their order: a switch sets true, a list flag used once replaces the
 * list and each further use adds to it. c changes only if every flag is
 * good. 0, or -1 with "--flag: what is wrong" in err.
 */
int cfg_apply_flags(struct cfg *c, const struct cfg_arg *args, int n, char *err, size_t errlen);

/* --help's lines for the settings' flags and the list of VIADUCT_* variables. */
void cfg_print_help(FILE *f);

/* One help line in --help's layout ("  --check    validate ..."), for main's own flags. */
void cfg_print_help_line(FILE *f, const char *flag, const char *help);

/* The README's table of settings, in Markdown (viaduct --help-config-markdown). */
void cfg_print_markdown(FILE *f);

/* Adds a backend ("IP:PORT") to the default pool (the --backend flag). 0/-1. */
int cfg_add_backend(struct cfg *c, const char *address, char *err, size_t errlen);

/* Deep copy (backends too) into a malloc'd struct; NULL on OOM. */
struct cfg *cfg_dup(const struct cfg *c);

/* Releases what cfg_load_file and cfg_add_backend allocated. */
void cfg_free(struct cfg *c);

#endif
