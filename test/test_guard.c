/*
 * test_guard.c - the per-source bucket table (core/guard.c) alone, with a
 * fake clock (every call takes now_ms) and a counting allocator: fixed
 * memory, refill, eviction of full entries only, spray resistance, and the
 * answer-byte budget.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/guard.h"

static int allocs;
void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
    allocs++;
    return __real_malloc(n);
}

static struct gd_table table; /* static: 400 KB */

static const struct gd_limits lim = {{
    [GD_OOD] = {10, 20},    /* 10/s, 20 at once */
    [GD_DIALOG] = {50, 100},
    [GD_BYTES] = {16, 512},
}};

static struct sockaddr_storage v4(uint32_t ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(ip);
    a->sin_port = htons(5060);
    return ss;
}

static struct gd_entry *find(struct sockaddr_storage *ss, uint32_t now, bool *shared)
{
    bool s;
    struct gd_entry *e = gd_find(&table, (struct sockaddr *)ss, 0, &lim, now, shared ? shared : &s);
    return e;
}

/* How many out-of-dialog requests src gets through at now. */
static int drain(struct sockaddr_storage *src, uint32_t now, int tries)
{
    int ok = 0;
    for (int i = 0; i < tries; i++)
        ok += gd_take(find(src, now, NULL), &lim, GD_OOD, 1);
    return ok;
}

static int setup(void **state)
{
    (void)state;
    gd_init(&table, 0x1234);
    return 0;
}

static void test_gd_a_source_gets_its_burst_then_its_rate(void **state)
{
    (void)state;
    struct sockaddr_storage a = v4(0xc6336407);
    assert_int_equal(drain(&a, 1000, 100), 20);
    assert_int_equal(drain(&a, 1000, 100), 0);
    assert_int_equal(drain(&a, 1500, 100), 5); /* half a second at 10/s */
    assert_int_equal(drain(&a, 11500, 100), 20); /* capped at the burst */
}

static void test_gd_classes_are_separate_buckets(void **state)
{
    (void)state;
    struct sockaddr_storage a = v4(0x0a000001);
    assert_int_equal(drain(&a, 0, 100), 20);
    struct gd_entry *e = find(&a, 0, NULL);
    int dialog = 0;
    for (int i = 0; i < 200; i++)
        dialog += gd_take(e, &lim, GD_DIALOG, 1);
    assert_int_equal(dialog, 100);
}

static void test_gd_ipv6_is_limited_by_its_64(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8:1:2::1", &a->sin6_addr);
    int ok = 0;
    for (int i = 0; i < 100; i++) {
        a->sin6_addr.s6_addr[15] = (uint8_t)i; /* other addresses of the same /64 */
        a->sin6_addr.s6_addr[9] = (uint8_t)(i * 7);
        ok += gd_take(find(&ss, 0, NULL), &lim, GD_OOD, 1);
    }
    assert_int_equal(ok, 20);
    inet_pton(AF_INET6, "2001:db8:1:3::1", &a->sin6_addr); /* another /64 */
    assert_true(gd_take(find(&ss, 0, NULL), &lim, GD_OOD, 1));
}

/* An over-limit source is never forgotten by other sources' traffic:
 * only full (idle) entries are replaced, and a newcomer that finds none
 * goes to the shared overflow bucket. */
static void test_gd_spraying_sources_neither_frees_a_flooder_nor_starves_a_regular(void **state)
{
    (void)state;
    struct sockaddr_storage flood = v4(0xcb007101), reg = v4(0xc0000201);
    assert_int_equal(drain(&flood, 0, 100), 20);
    assert_int_equal(drain(&reg, 0, 5), 5); /* a regular source, well within its limit */
    int shared = 0;
    allocs = 0;
    for (uint32_t i = 0; i < 1000000; i++) {
        struct sockaddr_storage s = v4(0x64000000 + i * 2654435761u); /* sprayed, 1 M sources */
        bool sh;
        gd_take(find(&s, 100, &sh), &lim, GD_OOD, 1);
        shared += sh;
    }
    assert_int_equal(allocs, 0);
    assert_true(shared > 0); /* the table filled: newcomers shared overflow buckets */
    /* the flooder is still empty: 100 ms gave it exactly one token back */
    assert_int_equal(drain(&flood, 100, 100), 1);
    /* the regular source kept its own bucket: 15 left + 1 refilled */
    assert_int_equal(drain(&reg, 100, 100), 16);
}

static void test_gd_a_full_entry_is_replaced_and_starts_full(void **state)
{
    (void)state;
    /* fill one set's ways with sources that then go idle for long enough */
    int placed = 0;
    for (uint32_t i = 0; placed < 2000 && i < 2000; i++, placed++) {
        struct sockaddr_storage s = v4(0x0b000000 + i);
        gd_take(find(&s, 0, NULL), &lim, GD_OOD, 1);
    }
    /* 10 s later every one of them has refilled: newcomers take their ways */
    int shared = 0;
    for (uint32_t i = 0; i < 500; i++) {
        struct sockaddr_storage s = v4(0x0c000000 + i);
        bool sh;
        assert_true(gd_take(find(&s, 10000, &sh), &lim, GD_OOD, 1));
        shared += sh;
    }
    assert_int_equal(shared, 0);
}

static void test_gd_answer_bytes_only_as_earned_beyond_the_burst(void **state)
{
    (void)state;
    struct sockaddr_storage a = v4(0xc6336499);
    size_t in = 0, out = 0, earned = 0;
    for (int i = 0; i < 1000; i++) {
        struct gd_entry *e = find(&a, 0, NULL);
        gd_give(e, &lim, GD_BYTES, 39); /* a 39-byte request earns its bytes */
        in += 39;
        earned += 39;
        if (gd_take(e, &lim, GD_BYTES, 182))
            out += 182;
    }
    assert_true(out <= earned + 512); /* what it sent plus the burst, at a frozen clock */
    assert_true(out > 0);
    assert_true(out <= in + 512);
}

static void test_gd_table_memory_is_fixed(void **state)
{
    (void)state;
    assert_int_equal(GD_TABLE_BYTES, sizeof(struct gd_table));
    assert_true(GD_TABLE_BYTES < 512 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_gd_a_source_gets_its_burst_then_its_rate, setup),
        cmocka_unit_test_setup(test_gd_classes_are_separate_buckets, setup),
        cmocka_unit_test_setup(test_gd_ipv6_is_limited_by_its_64, setup),
        cmocka_unit_test_setup(test_gd_spraying_sources_neither_frees_a_flooder_nor_starves_a_regular,
                               setup),
        cmocka_unit_test_setup(test_gd_a_full_entry_is_replaced_and_starts_full, setup),
        cmocka_unit_test_setup(test_gd_answer_bytes_only_as_earned_beyond_the_burst, setup),
        cmocka_unit_test_setup(test_gd_table_memory_is_fixed, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
