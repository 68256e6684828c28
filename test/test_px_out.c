/*
 * test_px_out.c - the datagram builder (core/px_out.c) alone: scratch
 * writes merge into the iovec before them, received bytes are referenced,
 * overflow is reported, and the hex writer and reader agree on every digit
 * and refuse every byte that is not one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/px_out.h"

static struct net_tx tx;

static size_t flatten(char *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < tx.niov; i++) {
        assert_true(n + tx.iov[i].iov_len <= cap);
        memcpy(out + n, tx.iov[i].iov_base, tx.iov[i].iov_len);
        n += tx.iov[i].iov_len;
    }
    return n;
}

static void test_px_out_writes_merge_and_refs_stay_references(void **state)
{
    (void)state;
    static const char body[] = "a body long enough to be referenced, not copied: more than "
                               "sixty-four bytes of it, so it stays in the receive buffer";
    struct px_out o;
    px_out_init(&o, &tx);
    PX_LIT(&o, "Via: ");
    px_out_put(&o, SPAN_LIT("192.0.2.1"));
    px_out_uint(&o, 5060);
    px_out_hex(&o, 0xabcdef, 6);
    assert_int_equal(tx.niov, 1); /* four writes, one segment */
    px_out_ref(&o, span_make(body, sizeof(body) - 1));
    assert_int_equal(tx.niov, 2);
    assert_ptr_equal(tx.iov[1].iov_base, body);
    PX_LIT(&o, "\r\n");
    assert_int_equal(tx.niov, 3);
    char out[512];
    size_t n = flatten(out, sizeof(out));
    assert_int_equal(n, o.total);
    assert_false(o.overflow);
    assert_memory_equal(out, "Via: 192.0.2.15060abcdef", 24);
    assert_memory_equal(out + 24, body, sizeof(body) - 1);
}

static void test_px_out_overflow_is_reported_not_written(void **state)
{
    (void)state;
    static char big[NET_SCRATCH];
    memset(big, 'x', sizeof(big));
    struct px_out o;
    px_out_init(&o, &tx);
    px_out_bytes(&o, big, NET_SCRATCH - 4);
    assert_false(o.overflow);
    px_out_bytes(&o, big, 5);
    assert_true(o.overflow);
    assert_int_equal(o.used, NET_SCRATCH - 4);
    assert_int_equal(o.total, NET_SCRATCH - 4);
}

static void test_px_unhex8_reads_what_px_hex16_writes(void **state)
{
    (void)state;
    uint64_t v = 0x0123456789abcdefull;
    for (int i = 0; i < 4096; i++) {
        char hex[16];
        px_hex16(v, hex);
        uint32_t hi = 0, lo = 0;
        assert_true(px_unhex8(hex, &hi));
        assert_true(px_unhex8(hex + 8, &lo));
        assert_true(((uint64_t)hi << 32 | lo) == v);
        v = v * 6364136223846793005ull + 1442695040888963407ull;
    }
}

/* Every byte value that is not 0-9 or a-f, at every one of the 8 places:
 * the range checks have edges at '/', ':', '`' and 'g', and bytes >= 0x80
 * would carry between lanes if they were not refused first. */
static void test_px_unhex8_refuses_every_non_digit_everywhere(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        bool digit = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f');
        for (int at = 0; at < 8; at++) {
            char hex[8];
            memcpy(hex, "0f9a5c3e", 8);
            hex[at] = (char)b;
            uint32_t v = 7;
            assert_int_equal(px_unhex8(hex, &v), digit);
            if (!digit)
                assert_int_equal(v, 7);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_px_out_writes_merge_and_refs_stay_references),
        cmocka_unit_test(test_px_out_overflow_is_reported_not_written),
        cmocka_unit_test(test_px_unhex8_reads_what_px_hex16_writes),
        cmocka_unit_test(test_px_unhex8_refuses_every_non_digit_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
