/*
 * cfg_internal.h - what the configuration's files share: the declaration
 * table of every setting (cfg.c), the value parsers every layer uses
 * (cfg_value.c), so a value is judged the same way whether it came from the
 * file (cfg_yaml.c), the environment or a flag (cfg_env.c), and what prints
 * it (cfg_print.c). Not for use outside core/cfg*.c.
 *
 * The checkers write a plain reason without a location ("10 is below the
 * minimum 50"); callers prefix "FILE:LINE: name: " or "VIADUCT_X: ".
 */
#ifndef VIADUCT_CFG_INTERNAL_H
#define VIADUCT_CFG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cfg.h"

/* Backends per pool: what one routing table holds (rt.h's RT_MAX_BACKENDS). */
#define CFG_MAX_BACKENDS 1024
#define CFG_MSG 256 /* a checker's reason */

enum cfg_opt_type {
    /* scalars: one value in every layer */
    CFG_T_INT_AUTO, /* int in [min, max], or "auto" stored as 0 */
    CFG_T_U32,      /* uint32_t in [min, max] */
    CFG_T_PRIME,    /* uint32_t in [min, max] and prime */
    CFG_T_BOOL,     /* bool: true/false, yes/no, on/off, 1/0; as a flag, a switch */
    CFG_T_IO,       /* char[8]: one of auto, uring, mmsg */
    CFG_T_KEY,      /* enum cfg_key at off, its header name (char[64]) at aux */
    CFG_T_RELAY,    /* enum cfg_relay: reject, rules, open */
    CFG_T_PATH,     /* uint8_t enum cfg_path: a boolean, or always; as a flag, a switch (true) */
    CFG_T_STR,      /* char[CFG_STR] at off, checked by the option's check() if it has one;
                     * CFG_SECRET: never printed */
    /* lists of at most max items: a YAML list (or one value), a comma list in
     * the environment, a flag that replaces the list on its first use and
     * adds on each further one */
    CFG_T_LISTEN,    /* listen[]: IP:PORT; in the file also {address, advertise} */
    CFG_T_ADVERTISE, /* advertise[]: HOST:PORT by position of the listen address */
    CFG_T_ALIASES,   /* aliases[]: HOST[:PORT] */
    CFG_T_CODES,     /* health.codes[]: final response codes */
    CFG_T_CIDRS,     /* security.trusted[]: address prefixes */
    CFG_T_BACKENDS,  /* the default pool's backends, IP:PORT (the file has pools) */
    CFG_T_ACL,       /* struct cfg_cidrs at off (allow, deny): IP or IP/LEN */
    CFG_T_UAS,       /* security.block_user_agents: substrings */
    CFG_T_DNS_SERVERS, /* dns.servers[]: IP:PORT of the resolvers to ask */
    /* structured: the file only, each with its own loader in cfg_yaml.c */
    CFG_T_POOLS,
    CFG_T_RULES,
    CFG_T_CONFIG, /* the file's own path: main reads it before any layer */
};

#define CFG_NO_FILE 1u /* not a YAML key (backends, config, secrets) */
#define CFG_SECRET 2u  /* a secret: --check prints "(set, redacted)", never the value */
#define CFG_DFLT_VALUE 4u /* CFG_T_STR: dflt is the default value itself, not its description */

/*
 * One setting (G16): everything every layer, --help, --check and the
 * README's table know about it. name is its YAML path ("health.interval_ms"
 * is interval_ms in the health mapping); a name with a dot makes its section
 * known to the loader and the printer, so a section is added by adding its
 * lines. The table's order is the order of --check's output, of the
 * environment layer's application (listen before advertise, whatever the
 * order of envp) and of the flags'.
 */
struct cfg_opt {
    const char *name;
    enum cfg_opt_type type;
    int64_t min, max; /* scalars: bounds; lists: max is the most items */
    int64_t def;      /* scalars; for CFG_T_IO an index into cfg_io_modes, CFG_T_KEY an enum cfg_key */
    size_t off, aux;  /* of the field(s) in struct cfg */
    const char *env;  /* its VIADUCT_ variable */
    const char *flag; /* its long flag without "--", or NULL */
    const char *arg;  /* the flag's value in --help ("ADDR:PORT"); NULL for a switch */
    const char *dflt; /* the default as the help shows it, for what has no def */
    const char *help; /* one sentence: what it does, what it is for */
    unsigned fl;      /* CFG_NO_FILE, CFG_SECRET, CFG_DFLT_VALUE */
    /* CFG_T_STR: judges a value (0, or -1 with a reason in msg); NULL takes any */
    int (*check)(const char *s, char *msg, size_t len);
};

extern const struct cfg_opt cfg_opts[];
extern const int cfg_nopts;
extern const char *const cfg_io_modes[3];
extern const char *const cfg_relay_names[3]; /* by enum cfg_relay */
extern const char *const cfg_key_names[CFG_KEY_HEADER]; /* by enum cfg_key */

/* The option with this exact name, or NULL. */
const struct cfg_opt *cfg_opt_find(const char *name);

/* True for the list types (they take cfg_opt_clear and one item per cfg_opt_set). */
bool cfg_opt_is_list(const struct cfg_opt *o);

/* Parses text into the option's field of c: a scalar's value, or one more
 * item of a list. 0, or -1 with a reason in msg. */
int cfg_opt_set(struct cfg *c, const struct cfg_opt *o, const char *text, char *msg, size_t len);

/* Empties a list (the start of a layer that gives it); no-op for a scalar. */
void cfg_opt_clear(struct cfg *c, const struct cfg_opt *o);

/* Checks a scalar's current value against its bounds. 0 or -1. */
int cfg_opt_check(const struct cfg *c, const struct cfg_opt *o, char *msg, size_t len);

/* Writes a scalar's value as YAML text ("auto", "true", "16384"). */
void cfg_opt_format(const struct cfg *c, const struct cfg_opt *o, char *buf, size_t len);

/* The default as text ("16384", "auto", "127.0.0.1:5060", "none"). */
void cfg_opt_default(const struct cfg_opt *o, char *buf, size_t len);

/* What values it takes ("1024..65535", "a prime in 2..16777216"). */
void cfg_opt_values(const struct cfg_opt *o, char *buf, size_t len);

/* Appends a backend with this address to pool p. 0, or -1 with a reason. */
int cfg_pool_add(struct cfg_pool *p, const char *address, char *msg, size_t len);

/* Decimal digits with an optional '-', saturating far beyond any bound. 0 or -1. */
int cfg_parse_i64(const char *s, int64_t *v);

/* v (spelled s) within [min, max], else -1 and a reason. */
int cfg_check_range(const char *s, int64_t v, int64_t min, int64_t max, char *msg, size_t len);

/* v (spelled s) prime, else -1 and a reason that names the next prime. */
int cfg_check_prime(const char *s, int64_t v, char *msg, size_t len);

/* Decimal in [min, max]. 0, or -1 with a reason. */
int cfg_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out, char *msg, size_t len);

/* true/false, yes/no, on/off, 1/0 (any case). 0 or -1. */
int cfg_parse_bool(const char *s, bool *out);

/* A backend address: an IP literal with its port (canonical form, *dns
 * CFG_DNS_NONE), a DNS name with a port ("reg.example.com:5060", lower-cased,
 * CFG_DNS_HOST: each A and AAAA record a backend) or an SRV name without one
 * ("_sip._udp.example.com", CFG_DNS_SRV). 0, or -1 with a reason. */
int cfg_parse_backend_addr(const char *s, char *out, size_t outlen, uint8_t *dns, char *msg,
                           size_t len);

/* "IP:PORT" / "[IPv6]:PORT" into its canonical form (net_addr_format).
 * sendable: also refuse what a datagram must not go to (port 0, multicast). */
int cfg_parse_addr(const char *s, bool sendable, char *out, size_t outlen, char *msg, size_t len);

/* cfg_parse_hostport, keeping only the verdict. */
int cfg_check_hostport(const char *s, bool port_required, char *msg, size_t len);

/* "10.0.0.0/8", "2001:db8::/32" or one address, host bits clear, into out. */
int cfg_parse_cidr(const char *s, struct cfg_cidr *out, char *msg, size_t len);

/* The text cfg_parse_cidr reads back: "10.0.0.0/8", or the address alone for a host. */
void cfg_format_cidr(const struct cfg_cidr *c, char *buf, size_t len);

/* A pool or backend name: 1..63 of [A-Za-z0-9._:@-]. */
int cfg_check_name(const char *s, char *msg, size_t len);

/* An RFC 3261 token (methods, header names) shorter than cap. */
int cfg_check_token(const char *s, size_t cap, char *msg, size_t len);

/* A domain to match: "example.com" or ".example.com", stored lower-cased. */
int cfg_parse_domain(const char *s, char *out, size_t outlen, char *msg, size_t len);

/* "call-id", ..., "source-ip", or "header:NAME" (the flat form of {header: NAME}). */
int cfg_parse_key(const char *s, enum cfg_key *key, char *hdr, size_t hdrlen, char *msg,
                  size_t len);

/* The candidate closest to s within a small edit distance, or NULL. */
const char *cfg_suggest(const char *s, const char *const *cands, int n);

/* The backend's identity: its name, else its address. */
const char *cfg_backend_id(const struct cfg_backend *b);

/* The pool with this name, or -1. */
int cfg_pool_find(const struct cfg *c, const char *name);


/* Moves *from into *to (freeing what *to held), then frees from itself. */
void cfg_replace(struct cfg *to, struct cfg *from);

/*
 * Refuses, before libyaml sees it, a file libyaml would take minutes over:
 * more than CFG_FILE_MAX bytes, or nested (block levels plus [ and {) deeper
 * than CFG_DEPTH_MAX (cfg_scan.c). 0, or -1 with "FILE:LINE: nesting deeper
 * than 64" (or "FILE: N bytes, larger than ...") in err.
 */
#define CFG_FILE_MAX (1024 * 1024)
#define CFG_DEPTH_MAX 64
int cfg_yaml_bound(const char *buf, size_t len, const char *file, char *err, size_t errlen);

#endif
