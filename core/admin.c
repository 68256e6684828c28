/*
 * admin.c - see admin.h. The listener, the routing of requests, the bearer
 * token, and every endpoint but /metrics (admin_metrics.c).
 *
 * libmicrohttpd runs ADMIN_THREADS polling threads over a socket opened
 * here (so a port in use is reported as such, before anything runs): a
 * slow client costs one connection slot until ADMIN_TIMEOUT_S, never a
 * thread, and never anything on a worker. Answers are small texts or JSON
 * built in memory (open_memstream) and handed to the library to free.
 * poll, not epoll: with epoll and a thread pool, MHD_stop_daemon (0.9.75)
 * waited out the connection timeout after slow clients had gone (4.6 s in
 * one stop of two, measured); with poll every stop took ~0.1 s.
 *
 *   curl -s 127.0.0.1:8060/backends
 *   curl -s -XPOST -H "Authorization: Bearer $(cat token)" \
 *        127.0.0.1:8060/backends/default/127.0.0.1:5070/drain
 */
#include "core/admin.h"

#include "core/cfg_internal.h" /* cfg_pool_find */
#include "core/clock.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct admin {
    struct server *s;
    struct MHD_Daemon *d;
    int fd;
    bool loopback; /* the listener is on 127/8 or ::1: POSTs without a token are allowed */
};

/* One request's state across the library's calls: what the body held. */
struct req {
    size_t body;
};

/* The API's own lines: "admin: ..." in the message, component=admin as a field. */
#define admin_log(lv, ...)                                                                        \
    log_line(lv, &(struct log_kv){"component", "admin"}, 1, "admin: " __VA_ARGS__)

/* Queues text (malloc'd, taken over) with a status and a content type. */
static enum MHD_Result answer_buf(struct MHD_Connection *c, unsigned code, const char *type,
                                  char *text, size_t len, const char *hname, const char *hval)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, text, text ? MHD_RESPMEM_MUST_FREE
                                                         : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (hname != NULL)
        MHD_add_response_header(r, hname, hval);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* A one-line text answer: "what\n". */
static enum MHD_Result answerf(struct MHD_Connection *c, unsigned code, const char *hname,
                               const char *hval, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum MHD_Result answerf(struct MHD_Connection *c, unsigned code, const char *hname,
                               const char *hval, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MHD_NO;
    return answer_buf(c, code, "text/plain; charset=utf-8", text, (size_t)n, hname, hval);
}

/* ---- read-only endpoints ---- */

static enum MHD_Result get_healthz(struct admin *a, struct MHD_Connection *c)
{
    struct server *s = a->s;
    int64_t now = clk_coarse_ms();
    for (int i = 0; i < s->nworkers; i++) {
        int64_t q = atomic_load_explicit(&s->workers[i].quiescent_ms, memory_order_relaxed);
        if (now - q > ADMIN_LIVE_MS)
            return answerf(c, 503, NULL, NULL,
                           "not live: worker %d passed no quiescent point for %lld ms\n", i,
                           (long long)(now - q));
    }
    return answerf(c, 200, NULL, NULL, "ok: %d workers passed a quiescent point within %d ms\n",
                   s->nworkers, ADMIN_LIVE_MS);
}

/* True if rule r matches every request (no condition at all). */
static bool matches_all(const struct cfg_rule *r)
{
    return r->nmethods == 0 && r->nruri_domains == 0 && r->nto_domains == 0 && r->nsources == 0;
}

/*
 * The pools a request can reach: those rules name, and the default pool
 * unless a rule before it catches everything; a default pool left empty
 * beside rules is a deliberate "404 for the rest" (px_route.c) and not counted.
 */
static void reachable(const struct cfg *cfg, bool reach[CFG_MAX_POOLS])
{
    bool catch_all = false;
    memset(reach, 0, CFG_MAX_POOLS * sizeof(bool));
    for (int i = 0; i < cfg->nrules && !catch_all; i++) {
        reach[cfg->rules[i].pool_idx] = true;
        catch_all = matches_all(&cfg->rules[i]);
    }
    if (!catch_all && (cfg->nrules == 0 || cfg->pools[0].nbackends > 0))
        reach[0] = true;
}

static enum MHD_Result get_readyz(struct admin *a, struct MHD_Connection *c)
{
    struct server *s = a->s;
    char why[CFG_ERR_LEN] = "";
    int live = 0, npools = 0;
    if (server_draining(s))
        return answerf(c, 503, NULL, NULL, "not ready: draining for shutdown\n");
    pthread_mutex_lock(&s->cur_mu); /* never s->mu: a reload holds that for seconds */
    if (!s->started || s->stopped) {
        snprintf(why, sizeof(why), "the workers are not running");
    } else {
        const struct cfg *cfg = &s->cur->cfg;
        const struct px_cfg *px = &s->cur->px;
        bool reach[CFG_MAX_POOLS];
        reachable(cfg, reach);
        for (int p = 0; p < px->npools && why[0] == '\0'; p++) {
            if (!reach[p])
                continue;
            int up = 0;
            for (int i = 0; i < px->pools[p].rt->n; i++)
                up += atomic_load_explicit(&px->pools[p].state[i], memory_order_relaxed) == RT_UP;
            if (up == 0)
                snprintf(why, sizeof(why), "pool %s has no live backend", cfg->pools[p].name);
            live += up;
            npools++;
        }
    }
    pthread_mutex_unlock(&s->cur_mu);
    if (why[0] != '\0')
        return answerf(c, 503, NULL, NULL, "not ready: %s\n", why);
    return answerf(c, 200, NULL, NULL, "ready: %d pools reachable, %d backends up\n", npools,
                   live);
}

static const char *state_text(int st, bool held)
{
    return held ? "held" : st == RT_UP ? "up" : st == RT_DRAINING ? "draining" : "down";
}

/* The wall-clock time, in seconds, of a CLOCK_MONOTONIC ms (0: start). */
static double wall_of(const struct server *s, int64_t mono_ms)
{
    if (mono_ms == 0)
        return (double)s->start_ms / 1000;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    double now = (double)t.tv_sec + (double)t.tv_nsec / 1e9;
    return now - (double)(clk_now_ms() - mono_ms) / 1000;
}

static void json_backend(FILE *f, struct server *s, const struct px_pool *pool, int i,
                         const struct cfg_pool *cp, const struct st_snapshot *snap)
{
    const struct rt_backend *b = &pool->rt->b[i];
    char addr[80];
    net_addr_format((const struct sockaddr *)&b->addr, addr, sizeof(addr));
    int st = atomic_load_explicit(&pool->state[i], memory_order_relaxed);
    bool held = atomic_load_explicit(&pool->held_ms[i], memory_order_relaxed) != 0;
    int ov = atomic_load_explicit(&pool->override[i], memory_order_relaxed);
    int64_t rtt = atomic_load_explicit(&pool->rtt_us[i], memory_order_relaxed);
    (void)cp;
    /* names and addresses are of [A-Za-z0-9._:@[]-] (cfg_check_name): no escaping */
    fprintf(f,
            "{\"name\": \"%s\", \"address\": \"%s\", \"weight\": %u, \"state\": \"%s\", "
            "\"configured_drain\": %s, \"override\": \"%s\", \"cause\": \"%s\", "
            "\"since\": %.3f, \"probe_rtt_seconds\": ",
            b->name, addr, b->weight, state_text(st, held), pool->drain[i] ? "true" : "false",
            px_override_name(ov),
            px_cause_name(atomic_load_explicit(&pool->cause[i], memory_order_relaxed)),
            wall_of(s, atomic_load_explicit(&pool->changed_ms[i], memory_order_relaxed)));
    if (rtt > 0)
        fprintf(f, "%.6f", (double)rtt / 1e6);
    else
        fputs("null", f);
    fputs(", \"counters\": {", f);
    unsigned slot = pool->slot[i];
    if (slot < ST_MAX_BACKENDS) {
#define X(n, h) fprintf(f, "\"%s\": %llu, ", #n, (unsigned long long)snap->be[slot].n);
        ST_BACKEND(X)
#undef X
        for (int k = 0; k < 6; k++)
            fprintf(f, "\"responses_%dxx\": %llu%s", k + 1,
                    (unsigned long long)snap->be[slot].responses[k], k < 5 ? ", " : "");
    }
    fputs("}}", f);
}

static enum MHD_Result get_backends(struct admin *a, struct MHD_Connection *c)
{
    struct server *s = a->s;
    struct st_snapshot *snap = malloc(sizeof(*snap));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (snap == NULL || f == NULL) {
        free(snap);
        if (f)
            fclose(f);
        free(text);
        return answerf(c, 500, NULL, NULL, "out of memory\n");
    }
    server_snapshot(s, snap);
    pthread_mutex_lock(&s->cur_mu);
    const struct px_cfg *px = &s->cur->px;
    const struct cfg *cfg = &s->cur->cfg;
    fprintf(f, "{\"generation\": %llu, \"pools\": [", (unsigned long long)s->cur->id);
    for (int p = 0; p < px->npools; p++) {
        fprintf(f, "%s\n  {\"name\": \"%s\", \"backends\": [", p ? "," : "", cfg->pools[p].name);
        for (int i = 0; i < px->pools[p].rt->n; i++) {
            fputs(i ? ",\n    " : "\n    ", f);
            json_backend(f, s, &px->pools[p], i, &cfg->pools[p], snap);
        }
        fputs("]}", f);
    }
    fputs("\n]", f);
    if (s->dns != NULL) {
        fputs(", \"dns\": ", f);
        dns_print_json(s->dns, f);
    }
    fputs("}\n", f);
    pthread_mutex_unlock(&s->cur_mu);
    fclose(f);
    free(snap);
    return answer_buf(c, 200, "application/json", text, len, NULL, NULL);
}

static enum MHD_Result get_config(struct admin *a, struct MHD_Connection *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return answerf(c, 500, NULL, NULL, "out of memory\n");
    pthread_mutex_lock(&a->s->cur_mu);
    /* as loaded: names, not what they resolve to; admin.token is CFG_NO_FILE: never printed */
    cfg_print(f, a->s->cur->src != NULL ? a->s->cur->src : &a->s->cur->cfg);
    pthread_mutex_unlock(&a->s->cur_mu);
    fclose(f);
    return answer_buf(c, 200, "application/yaml", text, len, NULL, NULL);
}

static enum MHD_Result get_metrics(struct admin *a, struct MHD_Connection *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return answerf(c, 500, NULL, NULL, "out of memory\n");
    admin_metrics(f, a->s);
    fclose(f);
    return answer_buf(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, NULL, NULL);
}

/* ---- the token ---- */

/* Equal strings, in time that depends on the lengths only. */
static bool same_secret(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char d = alen != blen;
    size_t n = alen > blen ? alen : blen;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)((i < alen ? a[i] : 0) ^ (i < blen ? b[i] : 0));
    return d == 0;
}

/* The configured token into buf: 1, 0 if none, -1 if its file cannot be
 * read (then err says why). The file is read at each use, so a token can be
 * rotated without a reload; a trailing newline is not part of it. */
static int read_token(const struct cfg_admin *ad, char *buf, size_t cap, char *err, size_t errlen)
{
    if (ad->token[0] != '\0') {
        snprintf(buf, cap, "%s", ad->token);
        return 1;
    }
    if (ad->token_file[0] == '\0')
        return 0;
    int fd = open(ad->token_file, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n < 0) {
        snprintf(err, errlen, "admin.token_file %s: %s", ad->token_file, strerror(errno));
        return -1;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    if (n == 0) {
        snprintf(err, errlen, "admin.token_file %s is empty", ad->token_file);
        return -1;
    }
    return 1;
}

/* MHD_YES to go on; else it has answered 401 or 403 (or 500). */
static bool authorised(struct admin *a, struct MHD_Connection *c, enum MHD_Result *ret)
{
    char token[CFG_STR + 2], err[CFG_ERR_LEN];
    struct cfg_admin ad;
    pthread_mutex_lock(&a->s->cur_mu);
    ad = a->s->cur->cfg.admin;
    pthread_mutex_unlock(&a->s->cur_mu);
    int have = read_token(&ad, token, sizeof(token), err, sizeof(err));
    if (have < 0) {
        admin_log(LOG_ERROR, "%s", err);
        *ret = answerf(c, 500, NULL, NULL, "the token cannot be read: %s\n", err);
        return false;
    }
    if (have == 0) {
        if (a->loopback)
            return true;
        *ret = answerf(c, 403, NULL, NULL,
                       "no token configured: POST needs admin.token_file or VIADUCT_ADMIN_TOKEN "
                       "on a listener that is not loopback\n");
        return false;
    }
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        *ret = answerf(c, 401, "WWW-Authenticate", "Bearer realm=\"viaduct\"",
                       "a bearer token is required: Authorization: Bearer TOKEN\n");
        return false;
    }
    h += 7;
    if (!same_secret(h, strlen(h), token, strlen(token))) {
        *ret = answerf(c, 403, NULL, NULL, "wrong token\n");
        return false;
    }
    return true;
}

/* ---- mutating endpoints ---- */

static enum MHD_Result post_reload(struct admin *a, struct MHD_Connection *c)
{
    char err[CFG_ERR_LEN];
    admin_log(LOG_INFO, "POST /reload");
    if (server_reload(a->s, err, sizeof(err)) == 0) {
        struct server_reload_result r;
        server_last_reload(a->s, &r);
        return answerf(c, 200, NULL, NULL, "reloaded: generation %llu%s%s\n",
                       (unsigned long long)r.gen, err[0] ? ": " : "", err);
    }
    return answerf(c, 422, NULL, NULL, "reload refused, the running configuration stays: %s\n",
                   err);
}

/* POST /backends/POOL/NAME/ACTION: the name may hold ':' and brackets, never '/'. */
static enum MHD_Result post_backend(struct admin *a, struct MHD_Connection *c, const char *path)
{
    const char *slash = strchr(path, '/'), *last = strrchr(path, '/');
    char pool[64], name[RT_NAME_MAX];
    if (slash == NULL || last == slash || (size_t)(slash - path) >= sizeof(pool) ||
        (size_t)(last - slash - 1) >= sizeof(name))
        return answerf(c, 404, NULL, NULL, "no such endpoint: POST /backends/POOL/NAME/ACTION\n");
    memcpy(pool, path, (size_t)(slash - path));
    pool[slash - path] = '\0';
    memcpy(name, slash + 1, (size_t)(last - slash - 1));
    name[last - slash - 1] = '\0';
    const char *act = last + 1;
    int ov;
    if (strcmp(act, "drain") == 0)
        ov = PX_OV_DRAIN;
    else if (strcmp(act, "down") == 0)
        ov = PX_OV_DOWN;
    else if (strcmp(act, "undrain") == 0 || strcmp(act, "up") == 0)
        ov = PX_OV_NONE;
    else
        return answerf(c, 404, NULL, NULL,
                       "no such action '%s': drain, undrain, down or up\n", act);

    struct server *s = a->s;
    /* s->mu, not cur_mu: no reload frees the pools while this waits up to 1 s for the
     * health thread, and no reader waits for it */
    pthread_mutex_lock(&s->mu);
    int p = cfg_pool_find(&s->cur->cfg, pool);
    const struct px_pool *pp = p >= 0 ? &s->cur->px.pools[p] : NULL;
    int i = pp ? rt_find(pp->rt, name) : -1;
    if (i < 0) {
        pthread_mutex_unlock(&s->mu);
        return answerf(c, 404, NULL, NULL, "no backend %s in a pool %s\n", name, pool);
    }
    int was = atomic_exchange(&pp->override[i], (uint8_t)ov);
    if (was != ov)
        admin_log(LOG_INFO, "backend %s (pool %s): operator override %s -> %s", name, pool,
                  px_override_name(was), px_override_name(ov));
    /* the health thread folds it in within a round (<= 50 ms) */
    bool seen = false;
    for (int t = 0; t < 100 && !(seen = atomic_load(&pp->override_seen[i]) == ov); t++)
        usleep(10000);
    int st = atomic_load(&pp->state[i]);
    bool held = atomic_load(&pp->held_ms[i]) != 0;
    pthread_mutex_unlock(&s->mu);
    char *text = NULL;
    int n = asprintf(&text, "{\"pool\": \"%s\", \"backend\": \"%s\", \"override\": \"%s\", "
                            "\"state\": \"%s\", \"applied\": %s}\n",
                     pool, name, px_override_name(ov), state_text(st, held),
                     seen ? "true" : "false");
    if (n < 0)
        return MHD_NO;
    return answer_buf(c, seen ? 200 : 202, "application/json", text, (size_t)n, NULL, NULL);
}

/* ---- routing ---- */

struct route {
    const char *path; /* exact, or a prefix ending in '/' */
    const char *method;
    enum MHD_Result (*get)(struct admin *, struct MHD_Connection *);
};

static const struct route routes[] = {
    {"/metrics", "GET", get_metrics},   {"/healthz", "GET", get_healthz},
    {"/readyz", "GET", get_readyz},     {"/backends", "GET", get_backends},
    {"/config", "GET", get_config},     {"/reload", "POST", NULL},
    {"/backends/", "POST", NULL},
};

static enum MHD_Result dispatch(struct admin *a, struct MHD_Connection *c, const char *url,
                                const char *method)
{
    bool head = strcmp(method, "HEAD") == 0;
    for (size_t k = 0; k < sizeof(routes) / sizeof(routes[0]); k++) {
        const struct route *r = &routes[k];
        size_t n = strlen(r->path);
        bool prefix = r->path[n - 1] == '/';
        if (prefix ? strncmp(url, r->path, n) != 0 || url[n] == '\0' : strcmp(url, r->path) != 0)
            continue;
        if (strcmp(method, r->method) != 0 && !(head && r->get != NULL))
            return answerf(c, 405, "Allow", r->get ? "GET, HEAD" : "POST",
                           "%s takes %s, not %s\n", r->path, r->get ? "GET" : "POST", method);
        if (r->get != NULL)
            return r->get(a, c);
        enum MHD_Result ret;
        if (!authorised(a, c, &ret))
            return ret;
        return prefix ? post_backend(a, c, url + n) : post_reload(a, c);
    }
    return answerf(c, 404, NULL, NULL,
                   "no such endpoint: %s (GET /metrics /healthz /readyz /backends /config; "
                   "POST /reload /backends/POOL/NAME/drain|undrain|down|up)\n",
                   url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct admin *a = cls;
    struct req *rq = *con_cls;
    (void)version, (void)upload_data;
    if (rq == NULL) { /* the head has come: refuse an announced large body before it does */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl != NULL && strtoull(cl, NULL, 10) > ADMIN_MAX_BODY)
            return answerf(c, 413, "Connection", "close", "a request body is at most %d bytes\n",
                           ADMIN_MAX_BODY);
        rq = calloc(1, sizeof(*rq));
        if (rq == NULL)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size > 0) { /* no endpoint takes a body: count it, keep none */
        rq->body += *upload_size;
        *upload_size = 0;
        return rq->body > 16 * ADMIN_MAX_BODY ? MHD_NO : MHD_YES; /* a chunked flood: hang up */
    }
    if (rq->body > ADMIN_MAX_BODY)
        return answerf(c, 413, "Connection", "close", "a request body is at most %d bytes\n",
                       ADMIN_MAX_BODY);
    return dispatch(a, c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    free(*con_cls);
    *con_cls = NULL;
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr)[0] ==
               127;
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
}

int admin_start(struct server *s, struct admin **out, char *err, size_t errlen)
{
    /* a copy taken under cur_mu (server.h): the DNS thread may already publish a new
     * generation and free this one while the socket and the daemon are set up */
    struct cfg_admin cur;
    pthread_mutex_lock(&s->cur_mu);
    cur = s->cur->cfg.admin;
    pthread_mutex_unlock(&s->cur_mu);
    const struct cfg_admin *ad = &cur;
    struct sockaddr_storage ss;
    socklen_t len;
    char token[CFG_STR + 2];
    *out = NULL;
    if (strcmp(ad->listen, "off") == 0 || ad->listen[0] == '\0')
        return 0;
    if (net_addr_parse(ad->listen, &ss, &len) < 0) {
        snprintf(err, errlen, "admin.listen: cannot use %s", ad->listen);
        return -1;
    }
    if (read_token(ad, token, sizeof(token), err, errlen) < 0)
        return -1;
    struct admin *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->s = s;
    a->loopback = is_loopback((const struct sockaddr *)&ss);
    a->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (a->fd < 0 || setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(a->fd, (const struct sockaddr *)&ss, len) < 0 || listen(a->fd, 64) < 0) {
        snprintf(err, errlen, "cannot listen on %s for the management API: %s", ad->listen,
                 strerror(errno));
        if (a->fd >= 0)
            close(a->fd);
        free(a);
        return -1;
    }
    a->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
        0, NULL, NULL, on_request, a, MHD_OPTION_LISTEN_SOCKET, a->fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)ADMIN_THREADS, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)ADMIN_MAX_CONN, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ADMIN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ADMIN_CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (a->d == NULL) {
        snprintf(err, errlen, "cannot start the management API on %s", ad->listen);
        close(a->fd);
        free(a);
        return -1;
    }
    char url[80]; /* the canonical form: "[10.0.0.5]:8060" is a valid listen, not a URL */
    if (net_addr_format((const struct sockaddr *)&ss, url, sizeof(url)) < 0)
        snprintf(url, sizeof(url), "%.*s", (int)sizeof(url) - 1, ad->listen);
    log_line(LOG_INFO, &(struct log_kv){"component", "admin"}, 1,
             "management API on http://%s/ (POST %s)", url,
             ad->token[0] || ad->token_file[0] ? "with a bearer token"
             : a->loopback                     ? "open: loopback, no token"
                                               : "refused: no token");
    *out = a;
    return 0;
}

void admin_stop(struct admin *a)
{
    if (a == NULL)
        return;
    MHD_stop_daemon(a->d); /* it closes the listening socket too */
    free(a);
}
