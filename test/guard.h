/*
 * guard.h - place test input so that it ends exactly at an unreadable page.
 *
 * A parser that reads one byte past the end of its input then faults at once
 * instead of silently reading neighbouring heap memory (picohttpparser's
 * test harness does the same). Used by every parser test.
 */
#ifndef VIADUCT_TEST_GUARD_H
#define VIADUCT_TEST_GUARD_H

#include <stddef.h>

struct guard {
    char *map; /* whole mapping: data pages + one PROT_NONE page */
    size_t map_len;
};

/* Copies src[0..len) so that its last byte is the last readable byte before
 * a PROT_NONE page. Replaces any previous copy held by g. Aborts on mmap
 * failure (tests only). */
const char *guard_copy(struct guard *g, const void *src, size_t len);

/* Unmaps the copy; g may be reused. */
void guard_release(struct guard *g);

#endif
