/*
 * test_server.c - the running process object: server_reload's results and
 * error text, its refusals, and two threads reloading at once (as SIGHUP
 * and the management API will). A real server on loopback: one recvmmsg
 * worker, the health thread with probes off; the configuration comes from a
 * load callback the test controls instead of files and flags.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/server.h"

/* What the fake load callback returns next. */
struct fake_load {
    char listen[CFG_STR];
    char backend[CFG_STR];
    const char *fail; /* NULL: load; else the error text to give */
    int calls;
};

static int fake_load(void *arg, struct cfg *c, char *err, size_t errlen)
{
    struct fake_load *f = arg;
    __atomic_add_fetch(&f->calls, 1, __ATOMIC_RELAXED);
    cfg_defaults(c);
    if (f->fail != NULL) {
        snprintf(err, errlen, "%s", f->fail);
        return -1;
    }
    c->nlisten = 1;
    snprintf(c->listen[0], CFG_STR, "%s", f->listen);
    c->workers = 1;
    snprintf(c->io, sizeof(c->io), "mmsg");
    if (cfg_add_backend(c, f->backend, err, errlen) < 0)
        return -1;
    return cfg_validate(c, err, errlen) < 0 ? -1 : 0;
}

struct fixture {
    struct fake_load load;
    struct server s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[CFG_ERR_LEN];
    assert_non_null(f);
    /* a port of this process's own, so parallel runs do not collide */
    snprintf(f->load.listen, CFG_STR, "127.0.0.1:%d", 20000 + getpid() % 20000);
    snprintf(f->load.backend, CFG_STR, "127.0.0.1:5070");
    assert_int_equal(server_init(&f->s, fake_load, &f->load, err, sizeof(err)), 0);
    assert_int_equal(server_start(&f->s, "test", err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(server_stop(&f->s), 0);
    server_free(&f->s);
    free(f);
    return 0;
}

static void test_server_reload_publishes_a_new_generation(void **state)
{
    struct fixture *f = *state;
    struct server_reload_result r;
    char err[CFG_ERR_LEN];
    snprintf(f->load.backend, CFG_STR, "127.0.0.1:5071");
    assert_int_equal(server_reload(&f->s, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    server_last_reload(&f->s, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.gen, 2);
    assert_true(r.at_ms > 0);
    assert_ptr_equal(atomic_load(&f->s.pub.cfg), &f->s.cur->px);
    assert_string_equal(f->s.cur->cfg.pools[0].backends[0].address, "127.0.0.1:5071");
}

static void test_server_reload_refuses_a_bad_load_with_its_text(void **state)
{
    struct fixture *f = *state;
    struct server_reload_result r;
    char err[CFG_ERR_LEN];
    const struct px_cfg *before = atomic_load(&f->s.pub.cfg);
    f->load.fail = "/etc/viaduct.yaml:3: unknown key 'bogus_key' in the top level";
    assert_int_equal(server_reload(&f->s, err, sizeof(err)), -1);
    assert_string_equal(err, f->load.fail);
    server_last_reload(&f->s, &r);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.gen, 1);
    assert_string_equal(r.err, f->load.fail);
    assert_ptr_equal(atomic_load(&f->s.pub.cfg), before);
}

static void test_server_reload_refuses_a_new_listen_address(void **state)
{
    struct fixture *f = *state;
    char err[CFG_ERR_LEN];
    const struct px_cfg *before = atomic_load(&f->s.pub.cfg);
    snprintf(f->load.listen, CFG_STR, "127.0.0.1:5099");
    assert_int_equal(server_reload(&f->s, err, sizeof(err)), -1);
    assert_string_equal(err,
                        "listen, advertise, workers, io, max_message and tcp change only with a "
                        "restart");
    assert_ptr_equal(atomic_load(&f->s.pub.cfg), before);
    assert_int_equal(f->s.cur->id, 1);
}

struct reloader {
    struct server *s;
    int ok;
};

static void *reload_ten_times(void *arg)
{
    struct reloader *r = arg;
    char err[CFG_ERR_LEN];
    for (int i = 0; i < 10; i++)
        r->ok += server_reload(r->s, err, sizeof(err)) == 0;
    return NULL;
}

/* A SIGHUP and a management request at once: each reload runs whole, one
 * after the other, and every one of them counts. */
static void test_server_reload_from_two_threads_at_once(void **state)
{
    struct fixture *f = *state;
    struct reloader a = {&f->s, 0}, b = {&f->s, 0};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, reload_ten_times, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, reload_ten_times, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.ok + b.ok, 20);
    assert_int_equal(f->s.cur->id, 21);
    assert_int_equal(f->load.calls, 21);
}

static void test_server_reload_after_stop_is_refused(void **state)
{
    struct fixture *f = *state;
    char err[CFG_ERR_LEN];
    assert_int_equal(server_stop(&f->s), 0);
    assert_int_equal(server_reload(&f->s, err, sizeof(err)), -1);
    assert_string_equal(err, "viaduct is not running");
}

static void test_server_draining_is_set_once_and_reload_keeps_it(void **state)
{
    struct fixture *f = *state;
    char err[CFG_ERR_LEN];
    assert_false(server_draining(&f->s));
    assert_int_equal(server_drain_seconds(&f->s), 5); /* the table's default */
    server_set_draining(&f->s, true);
    assert_true(server_draining(&f->s));
    /* a reload while draining (SIGHUP is still served) does not make it ready again */
    assert_int_equal(server_reload(&f->s, err, sizeof(err)), 0);
    assert_true(server_draining(&f->s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_server_reload_publishes_a_new_generation),
        T(test_server_reload_refuses_a_bad_load_with_its_text),
        T(test_server_reload_refuses_a_new_listen_address),
        T(test_server_reload_from_two_threads_at_once),
        T(test_server_reload_after_stop_is_refused),
        T(test_server_draining_is_set_once_and_reload_keeps_it),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
