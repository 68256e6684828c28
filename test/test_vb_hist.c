/*
 * test_vb_hist.c - the load generator's latency histogram (bench/vb_hist.c):
 * percentiles on data whose exact percentiles are known, the 1/32 precision
 * bound over the whole range, bucket edges, merging and the empty case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bench/vb_hist.h"

static struct vb_hist h, h2;

/* Within the histogram's promise: at most 1/32 above the exact value. */
static void assert_close(uint64_t got, uint64_t exact)
{
    if (got < exact || (double)got > (double)exact * (1.0 + 1.0 / 32) + 1)
        fail_msg("got %llu, exact %llu", (unsigned long long)got, (unsigned long long)exact);
}

static void test_vb_hist_percentiles_of_1_to_1000_us(void **state)
{
    (void)state;
    vb_hist_reset(&h);
    for (uint64_t v = 1; v <= 1000; v++)
        vb_hist_add(&h, v * 1000); /* 1 .. 1000 us in ns */
    assert_int_equal(h.count, 1000);
    assert_close(vb_hist_pct(&h, 50), 500000);
    assert_close(vb_hist_pct(&h, 90), 900000);
    assert_close(vb_hist_pct(&h, 99), 990000);
    assert_close(vb_hist_pct(&h, 99.9), 999000);
    assert_int_equal(vb_hist_pct(&h, 100), 1000000);
    assert_int_equal(h.min, 1000);
    assert_true(vb_hist_mean(&h) > 500499 && vb_hist_mean(&h) < 500501);
}

static void test_vb_hist_small_values_are_exact(void **state)
{
    (void)state;
    vb_hist_reset(&h);
    for (uint64_t v = 0; v < 64; v++)
        vb_hist_add(&h, v);
    assert_int_equal(vb_hist_pct(&h, 50), 31);
    assert_int_equal(vb_hist_pct(&h, 100), 63);
    assert_int_equal(vb_hist_pct(&h, 1), 0);
}

static void test_vb_hist_a_tail_of_one_in_a_thousand_shows_at_p99_9_only(void **state)
{
    (void)state;
    vb_hist_reset(&h);
    for (int i = 0; i < 999; i++)
        vb_hist_add(&h, 20000); /* 20 us */
    vb_hist_add(&h, 5000000);   /* one 5 ms straggler */
    assert_close(vb_hist_pct(&h, 99), 20000);
    assert_close(vb_hist_pct(&h, 99.9), 20000); /* rank 999 of 1000 */
    assert_int_equal(vb_hist_pct(&h, 100), 5000000);
    vb_hist_add(&h, 5000000);
    assert_close(vb_hist_pct(&h, 99.9), 5000000); /* rank 1000 of 1001 */
}

static void test_vb_hist_every_value_lands_in_a_bucket_that_holds_it(void **state)
{
    (void)state;
    uint64_t v = 1;
    for (int i = 0; i < 4000; i++) {
        unsigned b = vb_hist_index(v);
        assert_true(b < VB_HIST_BUCKETS);
        assert_true(vb_hist_lower(b) <= v && v <= vb_hist_upper(b));
        assert_true((double)(vb_hist_upper(b) - vb_hist_lower(b)) <= (double)v / 32.0 + 1);
        v += v / 97 + 1;
        if (v >= (1ull << VB_HIST_MAX_BIT))
            break;
    }
    /* buckets tile the range: each starts one past the previous one's end */
    for (unsigned b = 1; b < VB_HIST_BUCKETS; b++)
        assert_int_equal(vb_hist_lower(b), vb_hist_upper(b - 1) + 1);
    assert_int_equal(vb_hist_index(UINT64_MAX), VB_HIST_BUCKETS - 1);
}

static void test_vb_hist_merge_equals_adding_both(void **state)
{
    (void)state;
    vb_hist_reset(&h);
    vb_hist_reset(&h2);
    for (uint64_t v = 1; v <= 500; v++)
        vb_hist_add(&h, v * 1000);
    for (uint64_t v = 501; v <= 1000; v++)
        vb_hist_add(&h2, v * 1000);
    vb_hist_merge(&h, &h2);
    assert_int_equal(h.count, 1000);
    assert_int_equal(h.min, 1000);
    assert_int_equal(h.max, 1000000);
    assert_close(vb_hist_pct(&h, 50), 500000);
}

static void test_vb_hist_empty_reports_zero(void **state)
{
    (void)state;
    vb_hist_reset(&h);
    assert_int_equal(vb_hist_pct(&h, 50), 0);
    assert_int_equal(vb_hist_pct(&h, 100), 0);
    assert_true(vb_hist_mean(&h) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vb_hist_percentiles_of_1_to_1000_us),
        cmocka_unit_test(test_vb_hist_small_values_are_exact),
        cmocka_unit_test(test_vb_hist_a_tail_of_one_in_a_thousand_shows_at_p99_9_only),
        cmocka_unit_test(test_vb_hist_every_value_lands_in_a_bucket_that_holds_it),
        cmocka_unit_test(test_vb_hist_merge_equals_adding_both),
        cmocka_unit_test(test_vb_hist_empty_reports_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
