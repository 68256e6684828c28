/*
 * test_log.c - core/log.c: the two line formats, their quoting, a line too long, the
 * level filter and the limit on repeated lines, written to a pipe this test reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"

#define T0 1796196615123LL /* 2026-12-02T07:30:15.123Z */

static char *line_of(enum log_format f, const struct log_kv *kv, int nkv, const char *msg)
{
    static char buf[LOG_LINE_MAX + 256];
    size_t n = log_format_line(buf, sizeof(buf), f, T0, LOG_WARN, kv, nkv, msg);
    assert_int_equal(buf[n - 1], '\n');
    buf[n] = '\0';
    return buf;
}

static void test_log_logfmt_quotes_only_what_needs_it(void **state)
{
    (void)state;
    struct log_kv kv[] = {{"backend", "reg-a"}, {"cause", "probe timed out"}, {"empty", ""}};
    assert_string_equal(line_of(LOG_LOGFMT, kv, 3, "backend reg-a: up -> down"),
                        "ts=2026-12-02T07:30:15.123Z level=warn msg=\"backend reg-a: up -> down\" "
                        "backend=reg-a cause=\"probe timed out\" empty=\"\"\n");
    assert_string_equal(line_of(LOG_LOGFMT, NULL, 0, "stopped"),
                        "ts=2026-12-02T07:30:15.123Z level=warn msg=stopped\n");
}

static void test_log_json_escapes_quotes_backslashes_and_controls(void **state)
{
    (void)state;
    struct log_kv kv[] = {{"file", "a\"b\\c"}};
    assert_string_equal(line_of(LOG_JSON, kv, 1, "x:3: bad\tvalue\n\x01"),
                        "{\"ts\":\"2026-12-02T07:30:15.123Z\",\"level\":\"warn\","
                        "\"msg\":\"x:3: bad\\tvalue\\n\\u0001\",\"file\":\"a\\\"b\\\\c\"}\n");
}

static void test_log_a_long_message_is_cut_and_the_line_stays_whole(void **state)
{
    (void)state;
    char msg[LOG_LINE_MAX];
    memset(msg, '"', sizeof(msg) - 1); /* every byte escaped: twice as long */
    msg[sizeof(msg) - 1] = '\0';
    char *l = line_of(LOG_JSON, NULL, 0, msg);
    size_t n = strlen(l);
    assert_true(n < LOG_LINE_MAX + 256);
    assert_memory_equal(l + n - 6, "...\"}\n", 6);
    l = line_of(LOG_LOGFMT, NULL, 0, msg);
    n = strlen(l);
    assert_memory_equal(l + n - 5, "...\"\n", 5);
}

/* The lines written to the pipe so far, one string. */
static char *drain(int fd)
{
    static char buf[65536];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
        n++;
    return n;
}

static int pipe_fds[2];

static int setup(void **state)
{
    (void)state;
    assert_int_equal(pipe(pipe_fds), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_setup(LOG_LOGFMT, LOG_INFO, 2);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return 0;
}

static void test_log_lines_below_the_level_are_not_written(void **state)
{
    (void)state;
    log_setup(LOG_LOGFMT, LOG_WARN, pipe_fds[1]);
    log_info("not this");
    log_warn("this");
    log_error("and this");
    char *out = drain(pipe_fds[0]);
    assert_int_equal(count(out, "\n"), 2);
    assert_null(strstr(out, "not this"));
    assert_non_null(strstr(out, "level=error msg=\"and this\""));
}

static void test_log_limit_lets_a_burst_through_then_counts(void **state)
{
    (void)state;
    struct log_limit l;
    log_setup(LOG_LOGFMT, LOG_INFO, pipe_fds[1]);
    log_limit_init(&l, "backend state changes", 3, 10000);
    for (int i = 0; i < 10; i++)
        log_limited(&l, 1000 + i, LOG_WARN, NULL, 0, "flap %d", i);
    char *out = drain(pipe_fds[0]);
    assert_int_equal(count(out, "msg=\"flap "), 3);
    assert_int_equal(count(out, "more than 3 in 10 s: the rest are counted"), 1);
    /* the next interval: first how many were held back, then the line */
    log_limited(&l, 11000, LOG_WARN, NULL, 0, "flap %d", 10);
    out = drain(pipe_fds[0]);
    assert_non_null(strstr(out, "backend state changes: 7 more not logged in the last 10 s\" "
                                "suppressed=7\n"));
    assert_non_null(strstr(out, "msg=\"flap 10\""));
    assert_true(strstr(out, "suppressed=7") < strstr(out, "flap 10"));
    /* held back again, and said at the flush (the site going away) */
    for (int i = 0; i < 5; i++)
        log_limited(&l, 12000, LOG_WARN, NULL, 0, "again %d", i);
    log_limit_flush(&l, 13000);
    out = drain(pipe_fds[0]);
    assert_int_equal(count(out, "msg=\"again "), 2);
    assert_non_null(strstr(out, "suppressed=3"));
    log_limit_flush(&l, 14000); /* nothing held: nothing written */
    log_info("end");
    assert_int_equal(count(drain(pipe_fds[0]), "\n"), 1);
    log_limit_fini(&l);
}

static void test_log_names_of_levels_and_formats(void **state)
{
    (void)state;
    enum log_level lv;
    enum log_format f;
    assert_int_equal(log_parse_level("warn", &lv), 0);
    assert_int_equal(lv, LOG_WARN);
    assert_int_equal(log_parse_level("warning", &lv), -1);
    assert_int_equal(log_parse_format("json", &f), 0);
    assert_int_equal(f, LOG_JSON);
    assert_int_equal(log_parse_format("text", &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_logfmt_quotes_only_what_needs_it),
        cmocka_unit_test(test_log_json_escapes_quotes_backslashes_and_controls),
        cmocka_unit_test(test_log_a_long_message_is_cut_and_the_line_stays_whole),
        cmocka_unit_test_setup_teardown(test_log_lines_below_the_level_are_not_written, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_limit_lets_a_burst_through_then_counts, setup,
                                        teardown),
        cmocka_unit_test(test_log_names_of_levels_and_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
