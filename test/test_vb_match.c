/*
 * test_vb_match.c - matching responses to requests (bench/vb_match.c): the
 * branch round trip, out-of-order and duplicate responses, provisional then
 * final, wrong methods, unknown ids, expiry by age and by slot reuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bench/vb_match.h"
#include "parser/sip.h"

static struct vb_match m;

static int setup(void **state)
{
    (void)state;
    return vb_match_init(&m, 4); /* 16 slots: small enough to wrap */
}

static int teardown(void **state)
{
    (void)state;
    vb_match_free(&m);
    return 0;
}

static void test_vb_branch_round_trips_and_rejects_foreign_branches(void **state)
{
    (void)state;
    char b[VB_BRANCH_LEN];
    uint64_t id;
    const uint64_t ids[] = {1, 0xabcdef, UINT64_MAX, 1ull << 63};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        vb_branch_write(b, ids[i]);
        assert_memory_equal(b, "z9hG4bKvb", 9);
        assert_true(vb_branch_read(span_make(b, sizeof(b)), &id));
        assert_true(id == ids[i]);
    }
    assert_false(vb_branch_read(SPAN_LIT("z9hG4bK776asdhds"), &id));
    assert_false(vb_branch_read(SPAN_LIT("z9hG4bKvb000000000000000g"), &id));
    assert_false(vb_branch_read(SPAN_LIT("z9hG4bKvb00000000000000001"), &id)); /* 17 digits */
    assert_false(vb_branch_read(SPAN_NULL, &id));
}

static void test_vb_match_out_of_order_finals_each_end_their_own_transaction(void **state)
{
    (void)state;
    struct vb_txn *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = vb_match_start(&m, 1000 * (uint64_t)(i + 1), SIP_M_REGISTER, (uint32_t)i);
    assert_int_equal(m.inflight, 3);
    uint64_t ids[3] = {t[0]->id, t[1]->id, t[2]->id};
    struct vb_txn *got;
    uint64_t lat;
    assert_int_equal(vb_match_response(&m, ids[2], SIP_M_REGISTER, 200, 9000, &got, &lat),
                     VB_MATCH_FINAL);
    assert_int_equal(got->aux, 2);
    assert_int_equal(lat, 6000);
    assert_int_equal(vb_match_response(&m, ids[0], SIP_M_REGISTER, 200, 9500, &got, &lat),
                     VB_MATCH_FINAL);
    assert_int_equal(lat, 8500);
    assert_int_equal(m.inflight, 1);
    /* a retransmitted 200 is a duplicate, not a second completion */
    assert_int_equal(vb_match_response(&m, ids[0], SIP_M_REGISTER, 200, 9600, &got, &lat),
                     VB_MATCH_DUPLICATE);
    assert_int_equal(m.st.finals, 2);
    assert_int_equal(m.st.duplicates, 1);
}

static void test_vb_match_provisionals_do_not_end_an_invite(void **state)
{
    (void)state;
    struct vb_txn *t = vb_match_start(&m, 100, SIP_M_INVITE, 7);
    uint64_t id = t->id, lat = 0;
    struct vb_txn *got;
    assert_int_equal(vb_match_response(&m, id, SIP_M_INVITE, 100, 200, &got, &lat),
                     VB_MATCH_PROVISIONAL);
    assert_int_equal(vb_match_response(&m, id, SIP_M_INVITE, 180, 300, &got, &lat),
                     VB_MATCH_PROVISIONAL);
    assert_int_equal(got->nprov, 2);
    assert_int_equal(m.inflight, 1);
    assert_int_equal(vb_match_response(&m, id, SIP_M_INVITE, 200, 400, &got, &lat), VB_MATCH_FINAL);
    assert_int_equal(lat, 300); /* to the final response, not the first one */
    assert_int_equal(m.inflight, 0);
}

static void test_vb_match_refuses_a_wrong_method_and_an_unknown_id(void **state)
{
    (void)state;
    struct vb_txn *t = vb_match_start(&m, 100, SIP_M_BYE, 1);
    struct vb_txn *got;
    uint64_t lat;
    assert_int_equal(vb_match_response(&m, t->id, SIP_M_INVITE, 200, 200, &got, &lat),
                     VB_MATCH_MISMATCH);
    assert_int_equal(vb_match_response(&m, t->id + 1, SIP_M_BYE, 200, 200, &got, &lat),
                     VB_MATCH_UNKNOWN);
    assert_int_equal(vb_match_response(&m, 0, SIP_M_BYE, 200, 200, &got, &lat), VB_MATCH_UNKNOWN);
    assert_int_equal(m.inflight, 1);
}

static void test_vb_match_expires_by_age_oldest_first(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        vb_match_start(&m, 1000 * (uint64_t)i, SIP_M_OPTIONS, 0);
    /* at t=3500 with a 2000 timeout, those sent at 0 and 1000 are lost */
    assert_int_equal(vb_match_expire(&m, 3500, 2000), 2);
    assert_int_equal(m.inflight, 3);
    assert_int_equal(vb_match_expire(&m, UINT64_MAX, 0), 3);
    assert_int_equal(m.st.expired, 5);
    assert_int_equal(m.inflight, 0);
}

static void test_vb_match_a_reused_slot_expires_its_old_transaction(void **state)
{
    (void)state;
    struct vb_txn *t = vb_match_start(&m, 1, SIP_M_OPTIONS, 0);
    uint64_t first = t->id;
    for (int i = 0; i < 16; i++) /* the 17th start takes the first one's slot */
        vb_match_start(&m, 2, SIP_M_OPTIONS, 0);
    assert_int_equal(m.st.expired, 1);
    assert_int_equal(m.inflight, 16);
    struct vb_txn *got;
    uint64_t lat;
    assert_int_equal(vb_match_response(&m, first, SIP_M_OPTIONS, 200, 3, &got, &lat),
                     VB_MATCH_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vb_branch_round_trips_and_rejects_foreign_branches),
        cmocka_unit_test_setup_teardown(
            test_vb_match_out_of_order_finals_each_end_their_own_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vb_match_provisionals_do_not_end_an_invite, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vb_match_refuses_a_wrong_method_and_an_unknown_id,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_vb_match_expires_by_age_oldest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vb_match_a_reused_slot_expires_its_old_transaction,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
