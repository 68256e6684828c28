/*
 * cfg_yaml.c - the configuration file (viaduct -c FILE): libyaml's document
 * loader builds the node tree, and the functions below walk it against the
 * schema documented at the top of cfg.c (which also says why libyaml and not
 * libcyaml). Every error names the line of the key or value it rejects:
 * "FILE:LINE: path: reason". The file is read into a copy of the caller's
 * config, which is replaced only when the whole file is good.
 */
#include "core/cfg_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#define ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

struct ld {
    yaml_document_t *doc;
    const char *file;
    char *err;
    size_t errlen;
    struct cfg *c;
    int rule_line[CFG_MAX_RULES]; /* line of each rule's pool, 0: not from this file */
    int pool_line[CFG_MAX_POOLS]; /* where this file defined each pool, 0: it did not */
    int advertise_line;           /* where this file gave listen[0] an advertise, or 0 */
    yaml_node_t *advertise;       /* the top-level advertise, applied after listen */
};

/* A list's items; a single value stands for a list of one, ~ for none. */
struct items {
    int n;
    const yaml_node_item_t *it;
    yaml_node_item_t one;
};

static int line_of(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

static int fail(struct ld *ld, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "FILE:LINE: message" (n's line) into the caller's err; returns -1. */
static int fail(struct ld *ld, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(ld->err, ld->errlen, "%s:%d: ", ld->file, line_of(n));
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < ld->errlen)
        vsnprintf(ld->err + k, ld->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

static yaml_node_t *node_at(struct ld *ld, int i)
{
    return yaml_document_get_node(ld->doc, i);
}

static const char *text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static const char *kind(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE    ? "a mapping"
           : n->type == YAML_SEQUENCE_NODE ? "a list"
                                           : "a single value";
}

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return n->data.scalar.length == 0 || strcmp(text(n), "~") == 0 ||
           strcasecmp(text(n), "null") == 0;
}

static int want_scalar(struct ld *ld, const yaml_node_t *n, const char *path, const char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(ld, n, "%s: expected a single value, got %s", path, kind(n));
    if (strlen(text(n)) != n->data.scalar.length)
        return fail(ld, n, "%s: the value contains a NUL character", path);
    *out = text(n);
    return 0;
}

static int want_str(struct ld *ld, const yaml_node_t *n, const char *path, char *dst, size_t cap)
{
    const char *s;
    if (want_scalar(ld, n, path, &s) < 0)
        return -1;
    if (strlen(s) >= cap)
        return fail(ld, n, "%s: '%.40s...' is too long (at most %zu characters)", path, s, cap - 1);
    snprintf(dst, cap, "%s", s);
    return 0;
}

static int want_list(struct ld *ld, yaml_node_t *n, const char *path, int max, struct items *out)
{
    out->n = 0;
    out->it = &out->one;
    if (n->type == YAML_SEQUENCE_NODE) {
        out->it = n->data.sequence.items.start;
        out->n = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    } else if (n->type == YAML_SCALAR_NODE && !is_null(n)) {
        out->one = (int)(n - ld->doc->nodes.start) + 1;
        out->n = 1;
    } else if (n->type == YAML_MAPPING_NODE) {
        return fail(ld, n, "%s: expected a list, got a mapping", path);
    }
    if (out->n > max)
        return fail(ld, n, "%s: %d entries, at most %d are allowed", path, out->n, max);
    return 0;
}

/*
 * Checks that n is a mapping whose keys are distinct names from keys[]; an
 * unknown one gets the closest known name as a hint. where names the mapping
 * in messages ("the top level", "health", "pools[1]").
 */
static int want_map(struct ld *ld, const yaml_node_t *n, const char *where, const char *const *keys,
                    int nkeys)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(ld, n, "%s: expected a mapping, got %s", where, kind(n));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(ld, p->key);
        if (k->type != YAML_SCALAR_NODE)
            return fail(ld, k, "%s: a key must be a name, got %s", where, kind(k));
        int i = 0;
        while (i < nkeys && strcmp(keys[i], text(k)) != 0)
            i++;
        if (i == nkeys) {
            const char *s = cfg_suggest(text(k), keys, nkeys);
            return fail(ld, k, "unknown key '%s' in %s%s%s%s", text(k), where,
                        s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        }
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *qk = node_at(ld, q->key);
            if (strcmp(text(qk), text(k)) == 0)
                return fail(ld, k, "'%s' is given twice in %s (first at line %d)", text(k), where,
                            line_of(qk));
        }
    }
    return 0;
}

/* The i-th key and value of a mapping want_map accepted; false past the end. */
static bool pair(struct ld *ld, const yaml_node_t *map, int i, const char **k, yaml_node_t **v)
{
    const yaml_node_pair_t *p = map->data.mapping.pairs.start + i;
    if (p >= map->data.mapping.pairs.top)
        return false;
    *k = text(node_at(ld, p->key));
    *v = node_at(ld, p->value);
    return true;
}

static int load_opt(struct ld *ld, const struct cfg_opt *o, const yaml_node_t *v)
{
    const char *s;
    char msg[CFG_MSG];
    if (want_scalar(ld, v, o->name, &s) < 0)
        return -1;
    if (cfg_opt_set(ld->c, o, s, msg, sizeof(msg)) < 0)
        return fail(ld, v, "%s: %s", o->name, msg);
    return 0;
}

static int load_hostport(struct ld *ld, const yaml_node_t *v, const char *path, bool port_required,
                         char *out, size_t cap)
{
    char msg[CFG_MSG];
    if (want_str(ld, v, path, out, cap) < 0)
        return -1;
    if (cfg_check_hostport(out, port_required, msg, sizeof(msg)) < 0)
        return fail(ld, v, "%s: %s", path, msg);
    return 0;
}

/* A simple list (aliases, health.codes): each item one cfg_opt_set. */
static int load_items(struct ld *ld, const struct cfg_opt *o, yaml_node_t *v)
{
    struct items l;
    char path[80], msg[CFG_MSG];
    const char *s;
    if (want_list(ld, v, o->name, (int)o->max, &l) < 0)
        return -1;
    cfg_opt_clear(ld->c, o);
    for (int i = 0; i < l.n; i++) {
        yaml_node_t *e = node_at(ld, l.it[i]);
        snprintf(path, sizeof(path), "%s[%d]", o->name, i);
        if (want_scalar(ld, e, path, &s) < 0)
            return -1;
        if (cfg_opt_set(ld->c, o, s, msg, sizeof(msg)) < 0)
            return fail(ld, e, "%s: %s", path, msg);
    }
    return 0;
}

/* A listen entry's allow or deny: a list of CIDRs (or one). */
static int load_cidrs(struct ld *ld, yaml_node_t *v, const char *path, struct cfg_cidrs *out)
{
    struct items l;
    char sub[96], msg[CFG_MSG];
    const char *s;
    if (want_list(ld, v, path, CFG_MAX_ACL, &l) < 0)
        return -1;
    out->n = 0;
    for (int i = 0; i < l.n; i++) {
        yaml_node_t *e = node_at(ld, l.it[i]);
        snprintf(sub, sizeof(sub), "%s[%d]", path, i);
        if (want_scalar(ld, e, sub, &s) < 0)
            return -1;
        if (cfg_parse_cidr(s, &out->v[i], msg, sizeof(msg)) < 0)
            return fail(ld, e, "%s: %s", sub, msg);
        out->n = i + 1;
    }
    return 0;
}

/* A listen entry's own allow, deny and limits (the security section's
 * otherwise): key is one of them, x its value. */
static int load_listen_sec(struct ld *ld, const char *path, const char *key, yaml_node_t *x,
                           struct cfg_listen_sec *ls)
{
    static const char *const lims[4] = {"rate", "burst", "dialog_rate", "dialog_burst"};
    uint32_t *dst[4] = {&ls->lim.rate, &ls->lim.burst, &ls->lim.dialog_rate,
                        &ls->lim.dialog_burst};
    char sub[96], msg[CFG_MSG], opt[40];
    const char *s;
    snprintf(sub, sizeof(sub), "%s.%s", path, key);
    if (strcmp(key, "allow") == 0) {
        ls->has_allow = true;
        return load_cidrs(ld, x, sub, &ls->allow);
    }
    if (strcmp(key, "deny") == 0) {
        ls->has_deny = true;
        return load_cidrs(ld, x, sub, &ls->deny);
    }
    if (strcmp(key, "acl_403") == 0) {
        if (want_scalar(ld, x, sub, &s) < 0)
            return -1;
        if (cfg_parse_bool(s, &ls->acl_403) < 0)
            return fail(ld, x, "%s: expected true or false, got '%s'", sub, s);
        ls->has_acl_403 = true;
        return 0;
    }
    for (int k = 0; k < 4; k++) {
        if (strcmp(key, lims[k]) != 0)
            continue;
        snprintf(opt, sizeof(opt), "security.%s", key);
        const struct cfg_opt *o = cfg_opt_find(opt); /* the same bounds as the section's */
        if (want_scalar(ld, x, sub, &s) < 0)
            return -1;
        if (cfg_parse_u32(s, (uint32_t)o->min, (uint32_t)o->max, dst[k], msg, sizeof(msg)) < 0)
            return fail(ld, x, "%s: %s", sub, msg);
        return 0;
    }
    return fail(ld, x, "%s: not a key of a listen entry", sub);
}

/* listen: a list of addresses, or of {address, advertise, allow, deny,
 * acl_403, rate, burst, dialog_rate, dialog_burst} mappings. */
static int load_listen(struct ld *ld, const struct cfg_opt *o, yaml_node_t *v)
{
    static const char *const keys[] = {"address", "advertise",   "allow",       "deny", "acl_403",
                                       "rate",    "burst",       "dialog_rate", "dialog_burst"};
    struct cfg *c = ld->c;
    struct items l;
    char path[64], sub[80], msg[CFG_MSG];
    const char *s;
    if (want_list(ld, v, o->name, (int)o->max, &l) < 0)
        return -1;
    cfg_opt_clear(c, o);
    for (int i = 0; i < l.n; i++) {
        yaml_node_t *e = node_at(ld, l.it[i]), *addr = e;
        const char *k;
        yaml_node_t *x;
        snprintf(path, sizeof(path), "listen[%d]", i);
        if (e->type == YAML_MAPPING_NODE) {
            if (want_map(ld, e, path, keys, ARRAY_LEN(keys)) < 0)
                return -1;
            addr = NULL;
            for (int kv = 0; pair(ld, e, kv, &k, &x); kv++) {
                if (strcmp(k, "address") == 0) {
                    addr = x;
                    continue;
                }
                if (strcmp(k, "advertise") != 0) {
                    if (load_listen_sec(ld, path, k, x, &c->listen_sec[i]) < 0)
                        return -1;
                    continue;
                }
                snprintf(sub, sizeof(sub), "%s.advertise", path);
                if (load_hostport(ld, x, sub, true, c->advertise[i], CFG_STR) < 0)
                    return -1;
                ld->advertise_line = i == 0 ? line_of(x) : ld->advertise_line;
            }
            if (addr == NULL)
                return fail(ld, e, "%s: a listen entry needs an address", path);
        }
        if (want_scalar(ld, addr, path, &s) < 0)
            return -1;
        if (cfg_opt_set(c, o, s, msg, sizeof(msg)) < 0)
            return fail(ld, addr, "%s: %s", path, msg);
    }
    return 0;
}

/* A key: a name, or {header: NAME}. */
static int load_key(struct ld *ld, yaml_node_t *v, const char *path, enum cfg_key *key, char *hdr,
                    size_t hdrlen)
{
    static const char *const keys[] = {"header"};
    char msg[CFG_MSG], flat[CFG_STR + 8];
    const char *s, *k;
    yaml_node_t *x;
    if (v->type == YAML_MAPPING_NODE) {
        if (want_map(ld, v, path, keys, 1) < 0)
            return -1;
        if (v->data.mapping.pairs.top == v->data.mapping.pairs.start)
            return fail(ld, v, "%s: {header: NAME} needs the header's name", path);
        for (int kv = 0; pair(ld, v, kv, &k, &x); kv++) {
            if (want_scalar(ld, x, path, &s) < 0)
                return -1;
            snprintf(flat, sizeof(flat), "header:%s", s);
            v = x;
        }
        s = flat;
    } else if (want_scalar(ld, v, path, &s) < 0) {
        return -1;
    }
    if (cfg_parse_key(s, key, hdr, hdrlen, msg, sizeof(msg)) < 0)
        return fail(ld, v, "%s: %s", path, msg);
    return 0;
}

static int load_backend(struct ld *ld, yaml_node_t *e, const char *path, struct cfg_backend *b)
{
    static const char *const keys[] = {"address", "name", "weight", "drain"};
    char msg[CFG_MSG], sub[128];
    const char *k, *s;
    yaml_node_t *x, *addr = e;
    memset(b, 0, sizeof(*b));
    b->weight = 1;
    if (e->type == YAML_MAPPING_NODE) {
        if (want_map(ld, e, path, keys, ARRAY_LEN(keys)) < 0)
            return -1;
        addr = NULL;
        for (int kv = 0; pair(ld, e, kv, &k, &x); kv++) {
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            if (strcmp(k, "address") == 0) {
                addr = x;
                continue;
            }
            if (want_scalar(ld, x, sub, &s) < 0)
                return -1;
            if (strcmp(k, "name") == 0) {
                if (cfg_check_name(s, msg, sizeof(msg)) < 0)
                    return fail(ld, x, "%s: %s", sub, msg);
                snprintf(b->name, sizeof(b->name), "%s", s);
            } else if (strcmp(k, "weight") == 0) {
                if (cfg_parse_u32(s, 1, 1000, &b->weight, msg, sizeof(msg)) < 0)
                    return fail(ld, x, "%s: %s", sub, msg);
            } else if (cfg_parse_bool(s, &b->drain) < 0) {
                return fail(ld, x, "%s: expected true or false, got '%s'", sub, s);
            }
        }
        if (addr == NULL)
            return fail(ld, e, "%s: a backend needs an address", path);
        snprintf(sub, sizeof(sub), "%s.address", path);
        path = sub;
    }
    const char *s2;
    if (want_scalar(ld, addr, path, &s2) < 0)
        return -1;
    if (cfg_parse_backend_addr(s2, b->address, sizeof(b->address), &b->dns, msg, sizeof(msg)) < 0)
        return fail(ld, addr, "%s: %s", path, msg);
    return 0;
}

static int load_pool(struct ld *ld, yaml_node_t *e, const char *path)
{
    static const char *const keys[] = {"name", "backends"};
    struct cfg *c = ld->c;
    char name[64], msg[CFG_MSG], bpath[96];
    const char *k;
    yaml_node_t *x, *namev = NULL, *backends = NULL;
    struct items l = {0};
    if (want_map(ld, e, path, keys, ARRAY_LEN(keys)) < 0)
        return -1;
    for (int kv = 0; pair(ld, e, kv, &k, &x); kv++) {
        if (strcmp(k, "name") == 0)
            namev = x;
        else
            backends = x;
    }
    if (namev == NULL)
        return fail(ld, e, "%s: a pool needs a name", path);
    snprintf(bpath, sizeof(bpath), "%s.name", path);
    if (want_str(ld, namev, bpath, name, sizeof(name)) < 0)
        return -1;
    if (cfg_check_name(name, msg, sizeof(msg)) < 0)
        return fail(ld, namev, "%s: %s", bpath, msg);
    int pi = cfg_pool_find(c, name);
    if (pi >= 0 && ld->pool_line[pi])
        return fail(ld, namev, "pool '%s' is defined twice (first at line %d)", name,
                    ld->pool_line[pi]);
    if (pi < 0) {
        if (c->npools == CFG_MAX_POOLS)
            return fail(ld, namev, "%s: more than %d pools", path, CFG_MAX_POOLS);
        pi = c->npools++;
        snprintf(c->pools[pi].name, sizeof(c->pools[pi].name), "%s", name);
    }
    ld->pool_line[pi] = line_of(namev);
    struct cfg_pool *p = &c->pools[pi];
    snprintf(bpath, sizeof(bpath), "%s.backends", path);
    if (backends && want_list(ld, backends, bpath, CFG_MAX_BACKENDS, &l) < 0)
        return -1;
    free(p->backends);
    p->backends = l.n ? calloc((size_t)l.n, sizeof(struct cfg_backend)) : NULL;
    p->nbackends = 0;
    if (l.n && p->backends == NULL)
        return fail(ld, e, "out of memory");
    for (int i = 0; i < l.n; i++) {
        yaml_node_t *b = node_at(ld, l.it[i]);
        snprintf(bpath, sizeof(bpath), "%s.backends[%d]", path, i);
        if (load_backend(ld, b, bpath, &p->backends[i]) < 0)
            return -1;
        for (int j = 0; j < i; j++)
            if (strcmp(cfg_backend_id(&p->backends[j]), cfg_backend_id(&p->backends[i])) == 0)
                return fail(ld, b, "%s: pool '%s' already has a backend named %s", bpath, name,
                            cfg_backend_id(&p->backends[i]));
        p->nbackends = i + 1;
    }
    return 0;
}

static int load_pools(struct ld *ld, yaml_node_t *v)
{
    struct items l;
    char path[32];
    if (want_list(ld, v, "pools", CFG_MAX_POOLS, &l) < 0)
        return -1;
    for (int i = 0; i < l.n; i++) {
        snprintf(path, sizeof(path), "pools[%d]", i);
        if (load_pool(ld, node_at(ld, l.it[i]), path) < 0)
            return -1;
    }
    return 0;
}

/* One match condition's values into dst[CFG_MAX_MATCH], stride bytes apart:
 * what 0 methods and 1 domains (char[cap]), 2 sources (struct cfg_cidr). */
static int load_match_list(struct ld *ld, yaml_node_t *v, const char *path, int what, void *dst,
                           size_t stride, size_t cap, int *count)
{
    struct items l;
    char epath[64], msg[CFG_MSG];
    const char *s;
    if (want_list(ld, v, path, CFG_MAX_MATCH, &l) < 0)
        return -1;
    for (int i = 0; i < l.n; i++) {
        yaml_node_t *e = node_at(ld, l.it[i]);
        char *out = (char *)dst + (size_t)i * stride;
        int r;
        snprintf(epath, sizeof(epath), "%s[%d]", path, i);
        if (want_scalar(ld, e, epath, &s) < 0)
            return -1;
        if (strlen(s) >= cap)
            return fail(ld, e, "%s: '%.40s...' is too long (at most %zu characters)", epath, s,
                        cap - 1);
        if (what == 0)
            r = cfg_check_token(s, cap, msg, sizeof(msg));
        else if (what == 1)
            r = cfg_parse_domain(s, out, cap, msg, sizeof(msg));
        else
            r = cfg_parse_cidr(s, (struct cfg_cidr *)(void *)out, msg, sizeof(msg));
        if (r < 0)
            return fail(ld, e, "%s: %s", epath, msg);
        if (what == 0)
            snprintf(out, cap, "%s", s); /* checked to fit */
    }
    *count = l.n;
    return 0;
}

static int load_match(struct ld *ld, yaml_node_t *m, const char *where, struct cfg_rule *r)
{
    static const char *const keys[] = {"method", "ruri_domain", "to_domain", "source"};
    char sub[128];
    const char *k;
    yaml_node_t *x;
    if (want_map(ld, m, where, keys, ARRAY_LEN(keys)) < 0)
        return -1;
    for (int kv = 0; pair(ld, m, kv, &k, &x); kv++) {
        int rc;
        snprintf(sub, sizeof(sub), "%s.%s", where, k);
        if (strcmp(k, "method") == 0)
            rc = load_match_list(ld, x, sub, 0, r->methods, sizeof(r->methods[0]),
                                 sizeof(r->methods[0]), &r->nmethods);
        else if (strcmp(k, "ruri_domain") == 0)
            rc = load_match_list(ld, x, sub, 1, r->ruri_domains, sizeof(r->ruri_domains[0]),
                                 sizeof(r->ruri_domains[0]), &r->nruri_domains);
        else if (strcmp(k, "to_domain") == 0)
            rc = load_match_list(ld, x, sub, 1, r->to_domains, sizeof(r->to_domains[0]),
                                 sizeof(r->to_domains[0]), &r->nto_domains);
        else
            rc = load_match_list(ld, x, sub, 2, r->sources, sizeof(r->sources[0]), 64,
                                 &r->nsources);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int load_rule(struct ld *ld, yaml_node_t *e, const char *path, struct cfg_rule *r, int idx)
{
    static const char *const keys[] = {"match", "pool", "key"};
    char sub[96];
    const char *k;
    yaml_node_t *x;
    bool has_pool = false;
    memset(r, 0, sizeof(*r));
    if (want_map(ld, e, path, keys, ARRAY_LEN(keys)) < 0)
        return -1;
    for (int kv = 0; pair(ld, e, kv, &k, &x); kv++) {
        snprintf(sub, sizeof(sub), "%s.%s", path, k);
        if (strcmp(k, "pool") == 0) {
            if (want_str(ld, x, sub, r->pool, sizeof(r->pool)) < 0)
                return -1;
            ld->rule_line[idx] = line_of(x);
            has_pool = true;
        } else if (strcmp(k, "key") == 0) {
            if (load_key(ld, x, sub, &r->key, r->key_header, sizeof(r->key_header)) < 0)
                return -1;
            r->has_key = true;
        } else if (load_match(ld, x, sub, r) < 0) {
            return -1;
        }
    }
    if (!has_pool)
        return fail(ld, e, "%s: a rule needs a pool", path);
    return 0;
}

static int load_rules(struct ld *ld, yaml_node_t *v)
{
    struct items l;
    char path[32];
    if (want_list(ld, v, "rules", CFG_MAX_RULES, &l) < 0)
        return -1;
    ld->c->nrules = 0;
    for (int i = 0; i < l.n; i++) {
        snprintf(path, sizeof(path), "rules[%d]", i);
        if (load_rule(ld, node_at(ld, l.it[i]), path, &ld->c->rules[i], i) < 0)
            return -1;
        ld->c->nrules = i + 1;
    }
    return 0;
}

/* A key: a name, or {header: NAME}, into a CFG_T_KEY setting. */
static int load_key_opt(struct ld *ld, const struct cfg_opt *o, yaml_node_t *v)
{
    return load_key(ld, v, o->name, (enum cfg_key *)(void *)((char *)ld->c + o->off),
                    (char *)ld->c + o->aux, sizeof(ld->c->key_header_register));
}

static int load_section(struct ld *ld, yaml_node_t *n, const char *prefix);

/* One setting of the table from its node. Every type has a case: a type
 * added without one does not compile (-Wswitch), so no setting can be read
 * by another's loader or skipped. */
static int load_setting(struct ld *ld, const struct cfg_opt *o, yaml_node_t *v)
{
    switch (o->type) {
    case CFG_T_INT_AUTO:
    case CFG_T_U32:
    case CFG_T_PRIME:
    case CFG_T_BOOL:
    case CFG_T_IO:
    case CFG_T_RELAY:
    case CFG_T_PATH:
    case CFG_T_STR: return load_opt(ld, o, v);
    case CFG_T_KEY: return load_key_opt(ld, o, v);
    case CFG_T_LISTEN: return load_listen(ld, o, v);
    case CFG_T_ADVERTISE:
        ld->advertise = v; /* after listen, which resets the advertise list */
        return 0;
    case CFG_T_ALIASES:
    case CFG_T_CODES:
    case CFG_T_CIDRS:
    case CFG_T_ACL:
    case CFG_T_UAS:
    case CFG_T_DNS_SERVERS: return load_items(ld, o, v);
    case CFG_T_POOLS: return load_pools(ld, v);
    case CFG_T_RULES: return load_rules(ld, v);
    case CFG_T_BACKENDS: /* CFG_NO_FILE: not a key, want_map refused it */
    case CFG_T_CONFIG: break;
    }
    return fail(ld, v, "%s: not a setting of the file", o->name);
}

/*
 * The keys of the section prefix ("" the top level, "health." ...): the
 * first name component of every file setting under it, each once, into
 * keys[] (pointing into buf). Returns how many.
 */
static int section_keys(const char *prefix, const char **keys, char (*buf)[40], int cap)
{
    size_t pl = strlen(prefix);
    int n = 0;
    for (int i = 0; i < cfg_nopts && n < cap; i++) {
        const char *name = cfg_opts[i].name;
        if ((cfg_opts[i].fl & CFG_NO_FILE) || strncmp(name, prefix, pl) != 0)
            continue;
        size_t kl = strcspn(name + pl, ".");
        snprintf(buf[n], sizeof(buf[n]), "%.*s", (int)kl, name + pl);
        int j = 0;
        while (j < n && strcmp(buf[j], buf[n]) != 0)
            j++;
        if (j == n) {
            keys[n] = buf[n];
            n++;
        }
    }
    return n;
}

/* A mapping of settings: each key a setting of the table, or a section of
 * them (a name that prefixes some "name.x"), which recurses. */
static int load_section(struct ld *ld, yaml_node_t *n, const char *prefix)
{
    char buf[48][40], where[48], full[96];
    const char *keys[48], *k;
    yaml_node_t *v;
    int nk = section_keys(prefix, keys, buf, ARRAY_LEN(keys));
    snprintf(where, sizeof(where), "%.*s", (int)(prefix[0] ? strlen(prefix) - 1 : 0), prefix);
    if (want_map(ld, n, prefix[0] ? where : "the top level", keys, nk) < 0)
        return -1;
    for (int kv = 0; pair(ld, n, kv, &k, &v); kv++) {
        snprintf(full, sizeof(full), "%s%s", prefix, k);
        const struct cfg_opt *o = cfg_opt_find(full);
        int r;
        if (o) {
            r = load_setting(ld, o, v);
        } else {
            snprintf(full, sizeof(full), "%s%s.", prefix, k);
            r = load_section(ld, v, full);
        }
        if (r < 0)
            return -1;
    }
    return 0;
}

static int load_top(struct ld *ld, yaml_node_t *root)
{
    if (load_section(ld, root, "") < 0)
        return -1;
    yaml_node_t *advertise = ld->advertise;
    /* An earlier layer's advertise gives way; one from this file's listen conflicts. */
    if (advertise && ld->advertise_line)
        return fail(ld, advertise, "advertise: listen[0] already has one (at line %d)",
                    ld->advertise_line);
    if (advertise &&
        load_hostport(ld, advertise, "advertise", true, ld->c->advertise[0], CFG_STR) < 0)
        return -1;
    /* Rules may come before the pools they name: check once all are read. */
    for (int i = 0; i < ld->c->nrules; i++) {
        const struct cfg_rule *rule = &ld->c->rules[i];
        if (ld->rule_line[i] == 0 || cfg_pool_find(ld->c, rule->pool) >= 0)
            continue;
        char names[CFG_MAX_POOLS * 66] = "";
        for (int j = 0; j < ld->c->npools; j++)
            snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", j ? ", " : "",
                     ld->c->pools[j].name);
        snprintf(ld->err, ld->errlen, "%s:%d: rules[%d].pool: no pool named '%s' (pools: %s)",
                 ld->file, ld->rule_line[i], i, rule->pool, names);
        return -1;
    }
    return 0;
}

static void syntax_error(const yaml_parser_t *p, const char *file, char *err, size_t errlen)
{
    if (p->error == YAML_READER_ERROR) {
        snprintf(err, errlen, "%s: cannot read as YAML: %s at byte %zu", file,
                 p->problem ? p->problem : "error", p->problem_offset);
        return;
    }
    int k = snprintf(err, errlen, "%s:%zu: YAML syntax error: %s", file, p->problem_mark.line + 1,
                     p->problem ? p->problem : "unknown");
    if (p->context && k >= 0 && (size_t)k < errlen)
        snprintf(err + k, errlen - (size_t)k, " (%s, which starts at line %zu)", p->context,
                 p->context_mark.line + 1);
}

/* The whole file, up to one byte past CFG_FILE_MAX (so a larger one shows);
 * NULL with err filled. */
static char *read_bounded(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(CFG_FILE_MAX + 1) : NULL;
    if (buf == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, f ? "out of memory" : strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    *len = fread(buf, 1, CFG_FILE_MAX + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    size_t len;
    char *buf = read_bounded(path, &len, err, errlen);
    int r = -1;
    if (buf == NULL)
        return -1;
    if (cfg_yaml_bound(buf, len, path, err, errlen) < 0) {
        free(buf);
        return -1;
    }
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(buf);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(&parser, path, err, errlen);
        goto out;
    }
    /* One document: a second one, or a syntax error after the first, is an error. */
    if (!yaml_parser_load(&parser, &extra)) {
        syntax_error(&parser, path, err, errlen);
        yaml_document_delete(&doc);
        goto out;
    }
    yaml_node_t *second = yaml_document_get_root_node(&extra);
    if (second) {
        snprintf(err, errlen, "%s:%zu: a second YAML document; viaduct reads one", path,
                 second->start_mark.line + 1);
        yaml_document_delete(&extra);
        yaml_document_delete(&doc);
        goto out;
    }
    yaml_document_delete(&extra);

    struct ld *ld = calloc(1, sizeof(*ld));
    struct cfg *tmp = cfg_dup(c); /* c changes only if the whole file is good */
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (ld == NULL || tmp == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
    } else {
        *ld = (struct ld){.doc = &doc, .file = path, .err = err, .errlen = errlen, .c = tmp};
        r = root ? load_top(ld, root) : 0;
    }
    if (r == 0) {
        cfg_replace(c, tmp);
    } else if (tmp) {
        cfg_free(tmp);
        free(tmp);
    }
    free(ld);
    yaml_document_delete(&doc);
out:
    yaml_parser_delete(&parser);
    free(buf);
    return r;
}
