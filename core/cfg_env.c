/*
 * cfg_env.c - the layers after the file, and the check of the whole:
 * VIADUCT_* environment variables (for containers), the command line's
 * setting flags, and cfg_validate's cross-field rules.
 *
 * Both layers come from the declaration table: a setting's variable is its
 * .env, its flag its .flag, and its value is parsed by cfg_opt_set as the
 * file's is. A list takes a comma-separated value in a variable (an empty
 * value empties it); a list flag replaces the list on its first use and
 * adds on each further one. Both apply in the table's order, so
 * VIADUCT_LISTEN resets the advertise list before VIADUCT_ADVERTISE fills
 * it, whatever the order of envp or of the command line.
 *
 * VIADUCT_CONFIG and --config are in the table too (main reads them before
 * the file); any other unknown VIADUCT_ name is an error, so a typo is never
 * ignored.
 */
#include "core/cfg_internal.h"

#include <arpa/inet.h>
#include <getopt.h>
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

/* One variable's value into setting o: a scalar whole, a list by items. */
static int env_set(struct cfg *c, const struct cfg_opt *o, const char *v, char *msg, size_t len)
{
    char item[CFG_STR];
    int r;
    if (!cfg_opt_is_list(o))
        return cfg_opt_set(c, o, v, msg, len);
    cfg_opt_clear(c, o);
    while ((r = next_item(&v, item, sizeof(item), msg, len)) > 0)
        if (cfg_opt_set(c, o, item, msg, len) < 0)
            return -1;
    return r;
}

static const struct cfg_opt *env_find(const char *name, size_t n)
{
    for (int i = 0; i < cfg_nopts; i++)
        if (cfg_opts[i].env && strlen(cfg_opts[i].env) == n &&
            strncmp(cfg_opts[i].env, name, n) == 0)
            return &cfg_opts[i];
    return NULL;
}

static int env_unknown(const char *var, size_t n, char *err, size_t errlen)
{
    const char *cands[64];
    char name[64];
    int k = 0;
    for (int i = 0; i < cfg_nopts && k < ARRAY_LEN(cands); i++)
        if (cfg_opts[i].env)
            cands[k++] = cfg_opts[i].env;
    snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), var);
    const char *s = cfg_suggest(name, cands, k);
    snprintf(err, errlen, "%s: unknown variable%s%s%s", name, s ? " (did you mean " : "",
             s ? s : "", s ? "?)" : "");
    return -1;
}

int cfg_apply_env(struct cfg *c, char *const *envp, char *err, size_t errlen)
{
    char msg[CFG_MSG];
    /* every VIADUCT_ name known, before anything is applied */
    for (char *const *e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (eq && strncmp(*e, ENV_PREFIX, strlen(ENV_PREFIX)) == 0 &&
            env_find(*e, (size_t)(eq - *e)) == NULL)
            return env_unknown(*e, (size_t)(eq - *e), err, errlen);
    }
    struct cfg *t = cfg_dup(c); /* c changes only if every variable is good */
    if (t == NULL) {
        snprintf(err, errlen, "environment: out of memory");
        return -1;
    }
    int r = 0;
    for (int i = 0; i < cfg_nopts && r == 0; i++) {
        const struct cfg_opt *o = &cfg_opts[i];
        const char *v = NULL;
        size_t n = o->env ? strlen(o->env) : 0;
        for (char *const *e = envp; n && e && *e; e++)
            if (strncmp(*e, o->env, n) == 0 && (*e)[n] == '=')
                v = *e + n + 1; /* the last one wins, as it would in a shell */
        if (v && (r = env_set(t, o, v, msg, sizeof(msg))) < 0)
            snprintf(err, errlen, "%s: %s", o->env, msg);
    }
    if (r == 0) {
        cfg_replace(c, t);
    } else {
        cfg_free(t);
        free(t);
    }
    return r;
}

int cfg_flag_options(struct option *out, int cap, int val_base)
{
    int n = 0;
    for (int i = 0; i < cfg_nopts && n < cap; i++) {
        if (cfg_opts[i].flag == NULL)
            continue;
        out[n++] = (struct option){cfg_opts[i].flag,
                                   cfg_opts[i].arg ? required_argument : no_argument, NULL,
                                   val_base + i};
    }
    return n;
}

int cfg_apply_flags(struct cfg *c, const struct cfg_arg *args, int n, char *err, size_t errlen)
{
    char msg[CFG_MSG];
    struct cfg *t = cfg_dup(c); /* c changes only if every flag is good */
    int r = 0;
    if (t == NULL) {
        snprintf(err, errlen, "flags: out of memory");
        return -1;
    }
    for (int i = 0; i < cfg_nopts && r == 0; i++) {
        const struct cfg_opt *o = &cfg_opts[i];
        bool first = true;
        for (int k = 0; k < n && r == 0; k++) {
            if (args[k].opt != i)
                continue;
            if (first)
                cfg_opt_clear(t, o);
            first = false;
            const char *v = o->arg ? args[k].value : "true"; /* a switch */
            if ((r = cfg_opt_set(t, o, v ? v : "", msg, sizeof(msg))) < 0)
                snprintf(err, errlen, "--%s: %s", o->flag ? o->flag : o->name, msg);
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
    return cfg_pool_add(&c->pools[0], address, err, errlen);
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
    int nudp = 0, ntcp = 0;
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
        const char *addr;
        enum cfg_tp tp = cfg_listen_split(c->listen[i], &addr);
        if (tp == CFG_TP_TLS)
            return invalid(err, errlen, what, "TLS listeners are not supported yet");
        if (cfg_parse_addr(addr, false, canon, sizeof(canon), msg, sizeof(msg)) < 0)
            return invalid(err, errlen, what, msg);
        if (tp == CFG_TP_TCP && strcmp(c->io, "mmsg") == 0)
            return invalid(err, errlen, what,
                           "a tcp listener needs the io_uring engine (io: uring or auto); the "
                           "recvmmsg engine has no TCP");
        if (tp == CFG_TP_TCP)
            ntcp++;
        else
            nudp++;
        for (int j = 0; j < i; j++)
            if (strcmp(c->listen[j], c->listen[i]) == 0)
                return invalid(err, errlen, what, "the same address is listed twice");
        if (c->advertise[i][0] == '\0' && is_wildcard(addr))
            return invalid(err, errlen, what,
                           "a wildcard address needs an advertise HOST:PORT (what peers reach)");
        if (c->advertise[i][0] && cfg_check_hostport(c->advertise[i], true, msg, sizeof(msg)) < 0)
            return invalid(err, errlen, what, msg);
    }
    if (ntcp > 0 && nudp == 0)
        return invalid(err, errlen, "listen",
                       "a tcp listener needs a udp one beside it: the backends are reached over "
                       "UDP, from a UDP listener's socket");
    if (ntcp > 0 && c->tcp.buffer < c->max_msg)
        return invalid(err, errlen, "tcp.buffer",
                       "smaller than max_message: such a message could never be buffered whole");
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
/* The resolver follows at most CFG_MAX_DNS_NAMES distinct names. */
static int count_dns_names(const struct cfg *c, char *err, size_t errlen)
{
    const char *seen[CFG_MAX_DNS_NAMES];
    int n = 0;
    for (int p = 0; p < c->npools; p++)
        for (int i = 0; i < c->pools[p].nbackends; i++) {
            const struct cfg_backend *b = &c->pools[p].backends[i];
            bool dup = false;
            for (int k = 0; k < n && !dup && b->dns != CFG_DNS_NONE; k++)
                dup = strcmp(seen[k], b->address) == 0;
            if (b->dns == CFG_DNS_NONE || dup)
                continue;
            if (n == CFG_MAX_DNS_NAMES) {
                snprintf(err, errlen, "pool '%s' backend %s: more than %d DNS names in all",
                         c->pools[p].name, b->address, CFG_MAX_DNS_NAMES);
                return -1;
            }
            seen[n++] = b->address;
        }
    return 0;
}

static int validate_pools(struct cfg *c, int *largest, char *err, size_t errlen)
{
    char msg[CFG_MSG], what[96], canon[CFG_STR];
    int total = 0;
    *largest = 0;
    if (c->npools < 1 || strcmp(c->pools[0].name, "default") != 0)
        return invalid(err, errlen, "pools", "pools[0] must be the pool named default");
    for (int i = 0; i < c->npools; i++) {
        struct cfg_pool *p = &c->pools[i];
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
            uint8_t dns;
            if (cfg_parse_backend_addr(b->address, canon, sizeof(canon), &dns, msg,
                                       sizeof(msg)) < 0)
                return invalid(err, errlen, what, msg);
            p->backends[j].dns = dns;
            if (dns != CFG_DNS_NONE && b->name[0])
                return invalid(err, errlen, what,
                               "a DNS name gives backends named by their addresses: no name");
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
    return count_dns_names(c, err, errlen);
}

static int validate_rule(struct cfg *c, int i, char *err, size_t errlen)
{
    struct cfg_rule *r = &c->rules[i];
    char msg[CFG_MSG], what[32], dom[CFG_STR];
    snprintf(what, sizeof(what), "rules[%d]", i);
    r->pool_idx = cfg_pool_find(c, r->pool); /* resolved here, once */
    if (r->pool_idx < 0) {
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
    for (int j = 0; j < r->nsources; j++) {
        const struct cfg_cidr *s = &r->sources[j];
        int bits = s->family == AF_INET ? 32 : s->family == AF_INET6 ? 128 : -1;
        if (bits < 0 || s->prefix < 0 || s->prefix > bits)
            return invalid(err, errlen, what, "a source that is not an address prefix");
    }
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
    if (c->admin.token[0] != '\0' && c->admin.token_file[0] != '\0')
        return invalid(err, errlen, "admin.token_file",
                       "give the token in VIADUCT_ADMIN_TOKEN or in a file, not both");
    for (int i = 0; i < c->nrules; i++)
        if (validate_rule(c, i, err, errlen) < 0)
            return -1;
    return 0;
}
