/* stats.c - see stats.h. */
#include "core/stats.h"

#include <stdlib.h>
#include <string.h>

static const int local_code[ST_NLOCAL] = {
#define X(code, r) code,
    ST_LOCAL(X)
#undef X
};

static const char *const local_reason[ST_NLOCAL] = {
#define X(code, r) r,
    ST_LOCAL(X)
#undef X
};

static const char *const drop_name[ST_NDROPS] = {
#define X(n, h) #n,
    ST_DROPS(X)
#undef X
};

const char *const st_method_names[ST_NMETHODS] = {
    [SIP_M_OTHER] = "other",     [SIP_M_INVITE] = "invite",     [SIP_M_ACK] = "ack",
    [SIP_M_BYE] = "bye",         [SIP_M_CANCEL] = "cancel",     [SIP_M_REGISTER] = "register",
    [SIP_M_OPTIONS] = "options", [SIP_M_INFO] = "info",         [SIP_M_PRACK] = "prack",
    [SIP_M_SUBSCRIBE] = "subscribe", [SIP_M_NOTIFY] = "notify", [SIP_M_UPDATE] = "update",
    [SIP_M_MESSAGE] = "message", [SIP_M_REFER] = "refer",       [SIP_M_PUBLISH] = "publish",
};

const uint32_t st_lat_bounds_us[ST_NLAT] = {ST_LAT_BOUNDS_US};

/* st_lat_octave[k]: the first bucket whose bound is >= 2^k, from
 * ST_LAT_BOUNDS_US (test_px checks it against a plain search). */
const uint8_t st_lat_octave[32] = {0, 0, 0, 0, 0, 0, 0, 2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 32, 35, 38, 41, 44, 47, 50, 53, 55, 55, 55, 55, 55, 55, 55};
_Static_assert(sizeof((uint32_t[]){ST_LAT_BOUNDS_US}) / sizeof(uint32_t) == ST_NLAT,
               "ST_NLAT counts ST_LAT_BOUNDS_US");

int st_local_code(enum st_local l)
{
    return local_code[l];
}

const char *st_local_reason(enum st_local l)
{
    return local_reason[l];
}

static uint64_t ld(const atomic_uint_fast64_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}

void st_snapshot(struct st_worker *const *w, int n, struct st_snapshot *out)
{
    st_snapshot_slots(w, n, ST_MAX_BACKENDS, out);
}

void st_snapshot_slots(struct st_worker *const *w, int n, unsigned nslots,
                       struct st_snapshot *out)
{
    if (nslots > ST_MAX_BACKENDS)
        nslots = ST_MAX_BACKENDS;
    memset(out, 0, sizeof(*out));
    for (int k = 0; k < n; k++) {
        const struct st_worker *s = w[k];
#define X(f, h) out->f += ld(&s->f);
        ST_COUNTERS(X)
#undef X
        for (int i = 0; i < ST_NDROPS; i++)
            out->drop[i] += ld(&s->drop[i]);
        for (int i = 0; i < ST_NLOCAL; i++)
            out->local[i] += ld(&s->local[i]);
        for (int i = 0; i < ST_NMETHODS; i++)
            out->method[i] += ld(&s->method[i]);
        for (int i = 0; i <= SIP_NERR; i++)
            out->parse_error[i] += ld(&s->parse_error[i]);
        for (unsigned b = 0; b < nslots; b++) {
#define X(f, h) out->be[b].f += ld(&s->be[b].f);
            ST_BACKEND(X)
#undef X
            for (int c = 0; c < 6; c++)
                out->be[b].responses[c] += ld(&s->be[b].responses[c]);
            for (int c = 0; c < 2; c++) {
                for (int q = 0; q < ST_NLAT; q++)
                    out->be[b].lat[c].bucket[q] += ld(&s->be[b].lat[c].bucket[q]);
                out->be[b].lat[c].sum_us += ld(&s->be[b].lat[c].sum_us);
            }
        }
    }
}

void st_print(FILE *f, const struct st_snapshot *s)
{
#define X(name, h) fprintf(f, "%s %llu\n", #name, (unsigned long long)s->name);
    ST_COUNTERS(X)
#undef X
    for (int i = 0; i < ST_NDROPS; i++)
        fprintf(f, "drop_%s %llu\n", drop_name[i], (unsigned long long)s->drop[i]);
    for (int i = 0; i < ST_NLOCAL; i++)
        fprintf(f, "local_%d %llu\n", local_code[i], (unsigned long long)s->local[i]);
    for (int i = 0; i < ST_NMETHODS; i++)
        fprintf(f, "method_%s %llu\n", st_method_names[i], (unsigned long long)s->method[i]);
    for (int e = 1; e <= SIP_NERR; e++)
        fprintf(f, "parse_error_%s %llu\n", sip_err_id(-e),
                (unsigned long long)s->parse_error[e]);
    fflush(f);
}

int64_t st_sum(struct st_worker *const *w, int n, const char *name)
{
    struct st_snapshot *s = malloc(sizeof(*s));
    int64_t v = -1;
    if (s == NULL)
        return -1;
    st_snapshot(w, n, s);
#define X(f, h)                                                                                    \
    if (strcmp(name, #f) == 0)                                                                     \
        v = (int64_t)s->f;
    ST_COUNTERS(X)
#undef X
    for (int i = 0; i < ST_NDROPS; i++)
        if (strncmp(name, "drop_", 5) == 0 && strcmp(name + 5, drop_name[i]) == 0)
            v = (int64_t)s->drop[i];
    for (int i = 0; i < ST_NLOCAL; i++) {
        char nm[16];
        snprintf(nm, sizeof(nm), "local_%d", local_code[i]);
        if (strcmp(name, nm) == 0)
            v = (int64_t)s->local[i];
    }
    free(s);
    return v;
}
