/*
 * span.h - the one string type of viaduct: a pointer and a length, by value.
 *
 * A span never owns memory. It points into a buffer somebody else owns (a
 * received datagram, a config file, a literal) and is valid only while that
 * buffer is. Two machine words, so it travels in registers. Spans are not
 * NUL-terminated: SIP messages carry NUL bytes in quoted strings and bodies,
 * so no C-string function may ever be applied to one.
 *
 * It lives in parser/ because the parser is the lowest layer that needs it:
 * the proxy, the benchmarks and the tests include it from here, and the
 * parser includes nothing outside itself but libc (STYLE G2; make
 * parser-alone checks it).
 */
#ifndef VIADUCT_SPAN_H
#define VIADUCT_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct span {
    const char *p;
    size_t len;
};

#define SPAN_LIT(s) ((struct span){(s), sizeof(s) - 1})
#define SPAN_NULL ((struct span){NULL, 0})

static inline struct span span_make(const char *p, size_t len)
{
    return (struct span){p, len};
}

/* Span from p up to (not including) end. */
static inline struct span span_range(const char *p, const char *end)
{
    return (struct span){p, (size_t)(end - p)};
}

static inline const char *span_end(struct span s)
{
    return s.p + s.len;
}

static inline bool span_empty(struct span s)
{
    return s.len == 0;
}

static inline bool span_eq(struct span a, struct span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static inline unsigned char span_lower_ascii(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* ASCII case-insensitive equality; bytes >= 0x80 compare exactly. */
static inline bool span_eq_nocase(struct span a, struct span b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (span_lower_ascii((unsigned char)a.p[i]) != span_lower_ascii((unsigned char)b.p[i]))
            return false;
    return true;
}

#endif
