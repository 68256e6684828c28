/* sip_check.c - see sip_check.h. */
#include "test/sip_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* p[0..len) with bytes outside 0x21..0x7e shown as \xNN, cut to fit cap. */
const char *tc_show(char *out, size_t cap, const char *p, size_t len)
{
    size_t o = 0;

    if (p == NULL)
        return "(absent)";
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 6 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c > 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

bool tc_inside(struct span s, const char *buf, size_t n)
{
    if (s.p == NULL)
        return s.len == 0;
    return s.p >= buf && s.p <= buf + n && s.len <= (size_t)(buf + n - s.p);
}

bool tc_same(const char *desc, const char *what, struct span got, struct want want)
{
    char a[256], b[256];
    bool ok;

    if (want.p == NULL && want.len == 1)
        ok = got.len == 0;
    else if (want.p == NULL)
        ok = got.p == NULL && got.len == 0;
    else
        ok = got.p != NULL && got.len == want.len && memcmp(got.p, want.p, want.len) == 0;
    if (!ok)
        print_error("%s: %s is %s (len %zu), want %s\n", desc, what,
                    tc_show(a, sizeof a, got.p, got.len), got.len,
                    want.p != NULL ? tc_show(b, sizeof b, want.p, want.len)
                    : want.len     ? "length 0"
                                   : "absent");
    return ok;
}

bool tc_same_int(const char *desc, const char *what, long got, long want)
{
    if (got != want)
        print_error("%s: %s is %ld, want %ld\n", desc, what, got, want);
    return got == want;
}
