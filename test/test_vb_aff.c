/*
 * test_vb_aff.c - the affinity checker (bench/vb_aff.c): a consistent
 * assignment passes, a deliberate split is caught and named, Call-ID and AOR
 * keys do not collide, the table grows, and a full table reports what it
 * could not check instead of passing it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bench/vb_aff.h"

static struct vb_aff a;

static int setup(void **state)
{
    (void)state;
    return vb_aff_init(&a, 0);
}

static int teardown(void **state)
{
    (void)state;
    vb_aff_free(&a);
    return 0;
}

static struct span key(char *buf, size_t cap, int i)
{
    int n = snprintf(buf, cap, "vb00000001-c%08x@127.0.0.1", i);
    return span_make(buf, (size_t)n);
}

static void test_vb_aff_consistent_hashing_passes(void **state)
{
    (void)state;
    char buf[64];
    for (int round = 0; round < 3; round++) /* INVITE, ACK, BYE of 20000 calls */
        for (int i = 0; i < 20000; i++)
            assert_int_equal(vb_aff_note(&a, VB_AFF_CALLID, key(buf, sizeof(buf), i), i % 4), 0);
    assert_int_equal(a.keys[VB_AFF_CALLID], 20000);
    assert_int_equal(vb_aff_splits(&a), 0);
    assert_int_equal(a.unchecked, 0);
    assert_true(a.cap >= 40000); /* grew from its first 4096 slots */
}

static void test_vb_aff_catches_a_deliberate_split(void **state)
{
    (void)state;
    char buf[64];
    for (int i = 0; i < 1000; i++)
        vb_aff_note(&a, VB_AFF_CALLID, key(buf, sizeof(buf), i), i % 4);
    /* the BYE of call 123 goes to the wrong backend */
    assert_int_equal(vb_aff_note(&a, VB_AFF_CALLID, key(buf, sizeof(buf), 123), 0), 1);
    assert_int_equal(a.splits[VB_AFF_CALLID], 1);
    assert_int_equal(a.nexamples, 1);
    assert_non_null(strstr(a.example[0], "c0000007b"));
    assert_non_null(strstr(a.example[0], "backends 3 and 0"));
    /* a REGISTER of one AOR at two registrars is caught the same way */
    assert_int_equal(vb_aff_note(&a, VB_AFF_AOR, SPAN_LIT("u42@example.com"), 1), 0);
    assert_int_equal(vb_aff_note(&a, VB_AFF_AOR, SPAN_LIT("u42@example.com"), 1), 0);
    assert_int_equal(vb_aff_note(&a, VB_AFF_AOR, SPAN_LIT("u42@example.com"), 2), 1);
    assert_int_equal(vb_aff_splits(&a), 2);
}

static void test_vb_aff_callid_and_aor_with_the_same_text_are_different_keys(void **state)
{
    (void)state;
    assert_int_equal(vb_aff_note(&a, VB_AFF_CALLID, SPAN_LIT("x@y"), 0), 0);
    assert_int_equal(vb_aff_note(&a, VB_AFF_AOR, SPAN_LIT("x@y"), 1), 0);
    assert_int_equal(vb_aff_splits(&a), 0);
    assert_int_equal(a.keys[VB_AFF_CALLID], 1);
    assert_int_equal(a.keys[VB_AFF_AOR], 1);
}

static void test_vb_aff_clear_forgets_keys(void **state)
{
    (void)state;
    vb_aff_note(&a, VB_AFF_CALLID, SPAN_LIT("k"), 0);
    vb_aff_clear(&a);
    assert_int_equal(vb_aff_note(&a, VB_AFF_CALLID, SPAN_LIT("k"), 1), 0);
    assert_int_equal(vb_aff_splits(&a), 0);
}

static void test_vb_aff_full_table_counts_unchecked_messages(void **state)
{
    (void)state;
    struct vb_aff small;
    char buf[64];
    assert_int_equal(vb_aff_init(&small, 100), 0); /* bound: 4096 slots, 2048 keys */
    int unchecked = 0;
    for (int i = 0; i < 3000; i++)
        unchecked += vb_aff_note(&small, VB_AFF_CALLID, key(buf, sizeof(buf), i), 0) < 0;
    assert_int_equal(small.unchecked, (uint64_t)unchecked);
    assert_true(unchecked >= 900);
    assert_int_equal(vb_aff_note(&small, VB_AFF_CALLID, SPAN_LIT("k"), 300), -1); /* bad b */
    vb_aff_free(&small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vb_aff_consistent_hashing_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vb_aff_catches_a_deliberate_split, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_vb_aff_callid_and_aor_with_the_same_text_are_different_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vb_aff_clear_forgets_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vb_aff_full_table_counts_unchecked_messages, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
