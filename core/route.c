/* route.c - see route.h. */
#include "core/route.h"

#include <xxhash.h>

int rt_lookup(const struct rt_table *t, struct span key)
{
    if (t->n == 0)
        return -1;
    return (int)(XXH3_64bits_withSeed(key.p, key.len, t->seed) % (uint64_t)t->n);
}
