/*
 * sip_check.h - what the parser's table-driven tests share: expected-span
 * descriptions and comparisons that print what differed (cmocka's
 * print_error) instead of stopping at the first mismatch, so one run lists
 * every failing case of a table.
 */
#ifndef VIADUCT_TEST_SIP_CHECK_H
#define VIADUCT_TEST_SIP_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "parser/span.h"

/* An expected span: W("bytes"), ABSENT (p == NULL) or NOLEN (length 0,
 * absent or empty: where sip.h does not say which). */
struct want {
    const char *p; /* NULL: see len */
    size_t len;
};

#define IN(s) (s), sizeof(s) - 1
/* clang-format off */
#define W(s) {(s), sizeof(s) - 1}
#define ABSENT {NULL, 0}
#define NOLEN {NULL, 1}
/* clang-format on */

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* p[0..len) quoted, bytes outside 0x21..0x7e as \xNN, cut to fit cap. */
const char *tc_show(char *out, size_t cap, const char *p, size_t len);

/* s lies within buf[0..n] (an absent span has length 0). */
bool tc_inside(struct span s, const char *buf, size_t n);

/* got matches want; prints "desc: what is ..., want ..." when not. */
bool tc_same(const char *desc, const char *what, struct span got, struct want want);

bool tc_same_int(const char *desc, const char *what, long got, long want);

#endif
