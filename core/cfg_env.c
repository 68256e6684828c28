/*
 * cfg_env.c - the layers after the file, and the check of the whole:
 * VIADUCT_* environment variables (for containers), --backend
 * (cfg_add_backend), and cfg_validate's cross-field rules.
 *
 * Every scalar option in cfg_opts[] is also a variable: VIADUCT_ + its YAML
 * name upper-cased, '.' as '_' (health.interval_ms is
 * VIADUCT_HEALTH_INTERVAL_MS, max_message VIADUCT_MAX_MESSAGE). The others
 * take comma-separated lists; an empty value empties the list:
 *
 *   VIADUCT_LISTEN=IP:PORT,...        replaces the listen addresses (and their advertise)
 *   VIADUCT_ADVERTISE=HOST:PORT,...   one per listen address, in order
 *   VIADUCT_ALIASES=HOST[:PORT],...
 *   VIADUCT_BACKENDS=IP:PORT,...      replaces the default pool's backends
 *   VIADUCT_KEY_REGISTER=to-aor       a key name, or header:NAME
 *   VIADUCT_KEY_DEFAULT=call-id
 *   VIADUCT_HEALTH_CODES=200,404
 *
 * VIADUCT_CONFIG belongs to main (the default of -c) and is skipped here;
 * any other unknown VIADUCT_ name is an error, so a typo is never ignored.
 */
#include "core/cfg_internal.h"

#include <stdlib.h>
#include <string.h>

#include "net/net.h"

#define ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define ENV_PREFIX "VIADUCT_"

/* The next comma-separated item of *p, spaces trimmed. 1: an item in item,
 * 0: no more, -1: an empty or too long item (reason in msg). */
static int next_item(const char **p, char *item, size_t cap, char *msg, size_t len)
{
    const char *s = *p, *comma = strchr(s, ','), *end = comma ? comma : s + strlen(s);
    if (*s == '\0')
        return 0;
    *p = comma ? comma + 1 : end;
    while (s < end && *s == ' ')
        s++;
    while (end > s && end[-1] == ' ')
        end--;
    if (end == s || (size_t)(end - s) >= cap) {
        snprintf(msg, len, "%s item in the list", end == s ? "an empty" : "a too long");
        return -1;
    }
    memcpy(item, s, (size_t)(end - s));
    item[end - s] = '\0';
    return 1;
}

static int too_many(int max, char *msg, size_t len)
{
    snprintf(msg, len, "more than %d items", max);
    return -1;
}

static int env_listen(struct cfg *c, const char *v, char *msg, size_t len)
{
    char item[CFG_STR];
    int n = 0, r;
    memset(c->advertise, 0, sizeof(c->advertise)); /* they belonged to the old list */
    while ((r = next_item(&v, item, sizeof(item), msg, len)) > 0) {
        if (n == CFG_MAX_LISTEN)
            return too_many(CFG_MAX_LISTEN, msg, len);
        if (cfg_parse_addr(item, false, c->listen[n], CFG_STR, msg, len) < 0)
            return -1;
        for (int j = 0; j < n; j++) {
            if (strcmp(c->listen[j], c->listen[n]) == 0) {
                snprintf(msg, len, "%s is listed twice", c->listen[n]);
                return -1;
            }
        }
        n++;
    }
    c->nlisten = n;
    return r;
}

static int env_advertise(struct cfg *c, const char *v, char *msg, size_t len)
{
    char item[CFG_STR];
    int n = 0, r;
    memset(c->advertise, 0, sizeof(c->advertise));
    while ((r = next_item(&v, item, sizeof(item), msg, len)) > 0) {
        if (n == CFG_MAX_LISTEN)
            return too_many(CFG_MAX_LISTEN, msg, len);
        if (cfg_check_hostport(item, true, msg, len) < 0)
            return -1;
        memcpy(c->advertise[n++], item, sizeof(item));
    }
    return r;
}

static int env_aliases(struct cfg *c, const char *v, char *msg, size_t len)
{
    char item[CFG_STR];
    int n = 0, r;
    while ((r = next_item(&v, item, sizeof(item), msg, len)) > 0) {
        if (n == CFG_MAX_ALIASES)
            return too_many(CFG_MAX_ALIASES, msg, len);
        if (cfg_check_hostport(item, false, msg, len) < 0)
            return -1;
        memcpy(c->aliases[n++], item, sizeof(item));
    }
    c->naliases = n;
    return r;
}

/* Appends a backend with this address to pool p unless its identity is
 * taken. 0, or -1 with a reason. */
static int pool_add(struct cfg_pool *p, const char *address, char *msg, size_t len)
{
    struct cfg_backend b = {.weight = 1};
    if (cfg_parse_addr(address, true, b.address, sizeof(b.address), msg, len) < 0)
        return -1;
    for (int i = 0; i < p->nbackends; i++) {
        if (strcmp(cfg_backend_id(&p->backends[i]), b.address) == 0) {
            snprintf(msg, len, "pool '%s' already has a backend named %s", p->name, b.address);
            return -1;
        }
    }
    if (p->nbackends == CFG_MAX_BACKENDS)
        return too_many(CFG_MAX_BACKENDS, msg, len);
    struct cfg_backend *nb = realloc(p->backends, (size_t)(p->nbackends + 1) * sizeof(b));
    if (nb == NULL) {
        snprintf(msg, len, "out of memory");
        return -1;
    }
    nb[p->nbackends++] = b;
    p->backends = nb;
    return 0;
}

static int env_backends(struct cfg *c, const char *v, char *msg, size_t len)
{
    char item[CFG_STR];
    int r;
    struct cfg_pool *p = &c->pools[0];
    free(p->backends);
    p->backends = NULL;
    p->nbackends = 0;
    while ((r = next_item(&v, item, sizeof(item), msg, len)) > 0)
        if (pool_add(p, item, msg, len) < 0)
            return -1;
    return r;
}

static int env_key_register(struct cfg *c, const char *v, char *msg, size_t len)
{
    return cfg_parse_key(v, &c->key_register, c->key_header_register,
                         sizeof(c->key_header_register), msg, len);
}

static int env_key_default(struct cfg *c, const char *v, char *msg, size_t len)
{
    return cfg_parse_key(v, &c->key_other, c->key_header_other, sizeof(c->key_header_other), msg,
                         len);
}

static int env_codes(struct cfg *c, const char *v, char *msg, size_t len)
{
    char item[16];
    int n = 0, r;
    uint32_t code;
    while ((r = next_item(&v, item, sizeof(item), msg, len)) > 0) {
        if (n == ARRAY_LEN(c->health.codes))
            return too_many(ARRAY_LEN(c->health.codes), msg, len);
        if (cfg_parse_u32(item, 200, 699, &code, msg, len) < 0)
            return -1;
        c->health.codes[n++] = (uint16_t)code;
    }
    c->health.ncodes = n;
    return r;
}

static const struct {
    const char *name;
    int (*apply)(struct cfg *c, const char *value, char *msg, size_t len);
} env_lists[] = {
    {"VIADUCT_LISTEN", env_listen},
    {"VIADUCT_ADVERTISE", env_advertise},
    {"VIADUCT_ALIASES", env_aliases},
    {"VIADUCT_BACKENDS", env_backends},
    {"VIADUCT_KEY_REGISTER", env_key_register},
    {"VIADUCT_KEY_DEFAULT", env_key_default},
    {"VIADUCT_HEALTH_CODES", env_codes},
};

/* VIADUCT_HEALTH_INTERVAL_MS for health.interval_ms. */
static void env_name(const struct cfg_opt *o, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, ENV_PREFIX "%s", o->name);
    for (size_t i = 0; i < n && i < len; i++)
        buf[i] = buf[i] == '.' ? '_' : (buf[i] >= 'a' && buf[i] <= 'z') ? buf[i] - 32 : buf[i];
}

static int env_unknown(const char *name, char *err, size_t errlen)
{
    char names[48][40];
    const char *cands[48];
    int n = 0;
    for (int i = 0; i < ARRAY_LEN(env_lists); i++)
        cands[n++] = env_lists[i].name;
    for (int i = 0; i < cfg_nopts && n < ARRAY_LEN(cands); i++, n++) {
        env_name(&cfg_opts[i], names[n], sizeof(names[n]));
        cands[n] = names[n];
    }
    const char *s = cfg_suggest(name, cands, n);
    snprintf(err, errlen, "%s: unknown variable%s%s%s", name, s ? " (did you mean " : "",
             s ? s : "", s ? "?)" : "");
    return -1;
}

/* Applies one VIADUCT_ variable; err gets "NAME: reason". */
static int env_one(struct cfg *c, const char *name, const char *value, char *err, size_t errlen)
{
    char msg[CFG_MSG], opt[40];
    int r = 1;
    for (int i = 0; i < ARRAY_LEN(env_lists) && r > 0; i++)
        if (strcmp(name, env_lists[i].name) == 0)
            r = env_lists[i].apply(c, value, msg, sizeof(msg));
    for (int i = 0; i < cfg_nopts && r > 0; i++) {
        env_name(&cfg_opts[i], opt, sizeof(opt));
        if (strcmp(name, opt) == 0)
            r = cfg_opt_set(c, &cfg_opts[i], value, msg, sizeof(msg));
    }
    if (r > 0)
        return env_unknown(name, err, errlen);
    if (r < 0)
        snprintf(err, errlen, "%s: %s", name, msg);
    return r;
}

int cfg_apply_env(struct cfg *c, char *const *envp, char *err, size_t errlen)
{
    struct cfg *t = cfg_dup(c); /* c changes only if every variable is good */
    char name[64];
    int r = 0;
    if (t == NULL) {
        snprintf(err, errlen, "environment: out of memory");
        return -1;
    }
    /* Two passes: VIADUCT_LISTEN resets the advertise list, so it goes
     * before VIADUCT_ADVERTISE whatever their order in envp. */
    for (int pass = 0; pass < 2 && r == 0 && envp; pass++) {
        for (char *const *e = envp; *e && r == 0; e++) {
            const char *eq = strchr(*e, '=');
            size_t n = eq ? (size_t)(eq - *e) : 0;
            if (eq == NULL || strncmp(*e, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
                continue;
            snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1),
                     *e);
            if (strcmp(name, "VIADUCT_CONFIG") == 0 ||
                (strcmp(name, "VIADUCT_LISTEN") == 0) != (pass == 0))
                continue;
            r = n < sizeof(name) ? env_one(t, name, eq + 1, err, errlen)
                                 : env_unknown(name, err, errlen);
        }
    }
    if (r == 0) {
        cfg_replace(c, t);
    } else {
        cfg_free(t);
        free(t);
    }
    return r;
}

int cfg_add_backend(struct cfg *c, const char *address, char *err, size_t errlen)
{
    return pool_add(&c->pools[0], address, err, errlen);
}

/* ---- the whole ---- */

static bool is_wildcard(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (net_addr_parse(addr, &ss, &sl) < 0)
        return false;
    if (ss.ss_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)&ss)->sin_addr.s_addr == 0;
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)(const void *)&ss)->sin6_addr);
}

static int invalid(char *err, size_t errlen, const char *what, const char *msg)
{
    snprintf(err, errlen, "%s: %s", what, msg);
    return -1;
}

static int validate_listen(struct cfg *c, char *err, size_t errlen)
{
    char msg[CFG_MSG], what[32], canon[CFG_STR];
    if (c->nlisten == 0) {
        snprintf(c->listen[0], sizeof(c->listen[0]), "127.0.0.1:5060");
        c->nlisten = 1;
    }
    for (int i = 0; i < CFG_MAX_LISTEN; i++) {
        snprintf(what, sizeof(what), "listen[%d]", i);
        if (i >= c->nlisten) {
            if (c->advertise[i][0])
                return invalid(err, errlen, what, "an advertise address without a listen address");
            continue;
        }
        if (cfg_parse_addr(c->listen[i], false, canon, sizeof(canon), msg, sizeof(msg)) < 0)
            return invalid(err, errlen, what, msg);
        for (int j = 0; j < i; j++)
            if (strcmp(c->listen[j], c->listen[i]) == 0)
                return invalid(err, errlen, what, "the same address is listed twice");
        if (c->advertise[i][0] == '\0' && is_wildcard(c->listen[i]))
            return invalid(err, errlen, what,
                           "a wildcard address needs an advertise HOST:PORT (what peers reach)");
        if (c->advertise[i][0] && cfg_check_hostport(c->advertise[i], true, msg, sizeof(msg)) < 0)
            return invalid(err, errlen, what, msg);
    }
    for (int i = 0; i < c->naliases; i++) {
        snprintf(what, sizeof(what), "aliases[%d]", i);
        if (cfg_check_hostport(c->aliases[i], false, msg, sizeof(msg)) < 0)
            return invalid(err, errlen, what, msg);
    }
    return 0;
}

static int validate_key(enum cfg_key k, const char *hdr, const char *what, char *err, size_t errlen)
{
    char msg[CFG_MSG];
    if ((int)k < 0 || k > CFG_KEY_HEADER)
        return invalid(err, errlen, what, "not a key");
    if (k == CFG_KEY_HEADER && cfg_check_token(hdr, 64, msg, sizeof(msg)) < 0)
        return invalid(err, errlen, what, msg);
    return 0;
}

/* Pools: names, backends, and the largest pool's size in *largest. */
static int validate_pools(const struct cfg *c, int *largest, char *err, size_t errlen)
{
    char msg[CFG_MSG], what[96], canon[CFG_STR];
    int total = 0;
    *largest = 0;
    if (c->npools < 1 || strcmp(c->pools[0].name, "default") != 0)
        return invalid(err, errlen, "pools", "pools[0] must be the pool named default");
    for (int i = 0; i < c->npools; i++) {
        const struct cfg_pool *p = &c->pools[i];
        snprintf(what, sizeof(what), "pool '%s'", p->name);
        if (cfg_check_name(p->name, msg, sizeof(msg)) < 0)
            return invalid(err, errlen, what, msg);
        for (int j = 0; j < i; j++)
            if (strcmp(c->pools[j].name, p->name) == 0)
                return invalid(err, errlen, what, "defined twice");
        if (i > 0 && p->nbackends == 0)
            return invalid(err, errlen, what, "has no backends");
        if (p->nbackends > CFG_MAX_BACKENDS)
            return invalid(err, errlen, what, "has more than 1024 backends");
        for (int j = 0; j < p->nbackends; j++) {
            const struct cfg_backend *b = &p->backends[j];
            snprintf(what, sizeof(what), "pool '%s' backend %s", p->name, cfg_backend_id(b));
            if (cfg_parse_addr(b->address, true, canon, sizeof(canon), msg, sizeof(msg)) < 0)
                return invalid(err, errlen, what, msg);
            if (b->name[0] && cfg_check_name(b->name, msg, sizeof(msg)) < 0)
                return invalid(err, errlen, what, msg);
            if (b->weight < 1 || b->weight > 1000)
                return invalid(err, errlen, what, "weight must be 1..1000");
            for (int k = 0; k < j; k++)
                if (strcmp(cfg_backend_id(&p->backends[k]), cfg_backend_id(b)) == 0)
                    return invalid(err, errlen, what, "listed twice (names must be unique)");
        }
        total += p->nbackends;
        if (p->nbackends > *largest)
            *largest = p->nbackends;
    }
    if (total == 0) {
        snprintf(
            err, errlen,
            "no backends: give --backend, VIADUCT_BACKENDS or pools in the configuration file");
        return -1;
    }
    return 0;
}

static int validate_rule(const struct cfg *c, int i, char *err, size_t errlen)
{
    const struct cfg_rule *r = &c->rules[i];
    char msg[CFG_MSG], what[32], dom[CFG_STR];
    snprintf(what, sizeof(what), "rules[%d]", i);
    if (cfg_pool_find(c, r->pool) < 0) {
        snprintf(msg, sizeof(msg), "no pool named '%s'", r->pool);
        return invalid(err, errlen, what, msg);
    }
    if (r->nmethods > CFG_MAX_MATCH || r->nruri_domains > CFG_MAX_MATCH ||
        r->nto_domains > CFG_MAX_MATCH || r->nsources > CFG_MAX_MATCH)
        return invalid(err, errlen, what, "more than 8 values in a match list");
    for (int j = 0; j < r->nmethods; j++)
        if (cfg_check_token(r->methods[j], sizeof(r->methods[j]), msg, sizeof(msg)) < 0)
            return invalid(err, errlen, what, msg);
    for (int j = 0; j < r->nruri_domains; j++)
        if (cfg_parse_domain(r->ruri_domains[j], dom, sizeof(dom), msg, sizeof(msg)) < 0)
            return invalid(err, errlen, what, msg);
    for (int j = 0; j < r->nto_domains; j++)
        if (cfg_parse_domain(r->to_domains[j], dom, sizeof(dom), msg, sizeof(msg)) < 0)
            return invalid(err, errlen, what, msg);
    for (int j = 0; j < r->nsources; j++)
        if (cfg_check_cidr(r->sources[j], msg, sizeof(msg)) < 0)
            return invalid(err, errlen, what, msg);
    return r->has_key ? validate_key(r->key, r->key_header, what, err, errlen) : 0;
}

int cfg_validate(struct cfg *c, char *err, size_t errlen)
{
    char msg[CFG_MSG];
    int largest;
    if (validate_listen(c, err, errlen) < 0)
        return -1;
    for (int i = 0; i < cfg_nopts; i++)
        if (cfg_opt_check(c, &cfg_opts[i], msg, sizeof(msg)) < 0)
            return invalid(err, errlen, cfg_opts[i].name, msg);
    if (validate_key(c->key_register, c->key_header_register, "keys.register", err, errlen) < 0 ||
        validate_key(c->key_other, c->key_header_other, "keys.default", err, errlen) < 0)
        return -1;
    if (c->health.ncodes < 0 || c->health.ncodes > ARRAY_LEN(c->health.codes))
        return invalid(err, errlen, "health.codes", "at most 16 codes");
    for (int i = 0; i < c->health.ncodes; i++)
        if (c->health.codes[i] < 200 || c->health.codes[i] > 699)
            return invalid(err, errlen, "health.codes", "codes must be final responses, 200..699");
    if (validate_pools(c, &largest, err, errlen) < 0)
        return -1;
    if (c->table_size < (uint32_t)largest) {
        snprintf(msg, sizeof(msg), "%u slots cannot hold a pool of %d backends", c->table_size,
                 largest);
        return invalid(err, errlen, "table_size", msg);
    }
    if (c->nrules < 0 || c->nrules > CFG_MAX_RULES)
        return invalid(err, errlen, "rules", "at most 64 rules");
    for (int i = 0; i < c->nrules; i++)
        if (validate_rule(c, i, err, errlen) < 0)
            return -1;
    return 0;
}
