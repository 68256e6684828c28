/*
 * cfg_internal.h - what cfg.c (table, defaults, printing), cfg_yaml.c (the
 * file) and cfg_env.c (the environment, --backend, validation) share: the
 * declaration table of scalar options and the value checkers every layer
 * uses, so a value is judged the same way whether it came from the file, the
 * environment or a flag. Not for use outside core/cfg*.c.
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
    CFG_T_INT_AUTO, /* int in [min, max], or "auto" stored as 0 */
    CFG_T_U32,      /* uint32_t in [min, max] */
    CFG_T_PRIME,    /* uint32_t in [min, max] and prime */
    CFG_T_BOOL,     /* bool: true/false, yes/no, on/off, 1/0 */
    CFG_T_IO,       /* char[8]: one of auto, uring, mmsg */
};

/* One scalar option (G16). name is its YAML path; its environment variable
 * is VIADUCT_ + the name upper-cased with '.' as '_'. */
struct cfg_opt {
    const char *name;
    enum cfg_opt_type type;
    int64_t min, max;
    int64_t def; /* for CFG_T_IO: index into cfg_io_modes */
    size_t off;  /* of the field in struct cfg */
};

extern const struct cfg_opt cfg_opts[];
extern const int cfg_nopts;
extern const char *const cfg_io_modes[3];
extern const char *const cfg_key_names[CFG_KEY_HEADER]; /* by enum cfg_key */

/* The option with this exact name, or NULL. */
const struct cfg_opt *cfg_opt_find(const char *name);

/* Parses text into the option's field of c. 0, or -1 with a reason in msg. */
int cfg_opt_set(struct cfg *c, const struct cfg_opt *o, const char *text, char *msg, size_t len);

/* Checks the field's current value against the option's bounds. 0 or -1. */
int cfg_opt_check(const struct cfg *c, const struct cfg_opt *o, char *msg, size_t len);

/* Writes the field's value as YAML text ("auto", "true", "16384"). */
void cfg_opt_format(const struct cfg *c, const struct cfg_opt *o, char *buf, size_t len);

/* Decimal in [min, max]. 0, or -1 with a reason. */
int cfg_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out, char *msg, size_t len);

/* true/false, yes/no, on/off, 1/0 (any case). 0 or -1. */
int cfg_parse_bool(const char *s, bool *out);

/* "IP:PORT" / "[IPv6]:PORT" into its canonical form (net_addr_format).
 * sendable: also refuse what a datagram must not go to (port 0, multicast). */
int cfg_parse_addr(const char *s, bool sendable, char *out, size_t outlen, char *msg, size_t len);

/* "HOST:PORT" (port_required) or "HOST[:PORT]": an IP literal or a DNS name. */
int cfg_check_hostport(const char *s, bool port_required, char *msg, size_t len);

/* "10.0.0.0/8", "2001:db8::/32" or one address, host bits clear. */
int cfg_check_cidr(const char *s, char *msg, size_t len);

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

/* Deep copy (backends too) into a malloc'd struct; NULL on OOM. */
struct cfg *cfg_dup(const struct cfg *c);

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
