/* guard.c - see guard.h. */
#include "test/guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void guard_release(struct guard *g)
{
    if (g->map != NULL)
        munmap(g->map, g->map_len);
    g->map = NULL;
    g->map_len = 0;
}

const char *guard_copy(struct guard *g, const void *src, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (len + page - 1) / page;

    guard_release(g);
    if (data_pages == 0)
        data_pages = 1;
    g->map_len = (data_pages + 1) * page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED) {
        perror("guard: mmap");
        abort();
    }
    char *guard_page = g->map + data_pages * page;
    if (mprotect(guard_page, page, PROT_NONE) != 0) {
        perror("guard: mprotect");
        abort();
    }
    char *dst = guard_page - len;
    if (len > 0)
        memcpy(dst, src, len);
    return dst;
}
