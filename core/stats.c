/* stats.c - see stats.h. */
#include "core/stats.h"

#include <string.h>

static uint64_t sum_field(struct st_worker *const *w, int n, size_t off)
{
    uint64_t s = 0;
    for (int i = 0; i < n; i++)
        s += atomic_load_explicit((atomic_uint_fast64_t *)((char *)w[i] + off),
                                  memory_order_relaxed);
    return s;
}

void st_print(FILE *f, struct st_worker *const *w, int n)
{
#define X(name)                                                                                    \
    fprintf(f, "%s %llu\n", #name,                                                                 \
            (unsigned long long)sum_field(w, n, offsetof(struct st_worker, name)));
    ST_COUNTERS(X)
#undef X
    for (int e = 1; e <= SIP_NERR; e++)
        fprintf(f, "parse_error_%s %llu\n", sip_err_id(-e),
                (unsigned long long)sum_field(
                    w, n, offsetof(struct st_worker, parse_error) + (size_t)e * sizeof(uint64_t)));
    fflush(f);
}

int64_t st_sum(struct st_worker *const *w, int n, const char *name)
{
#define X(field)                                                                                   \
    if (strcmp(name, #field) == 0)                                                                 \
        return (int64_t)sum_field(w, n, offsetof(struct st_worker, field));
    ST_COUNTERS(X)
#undef X
    return -1;
}
