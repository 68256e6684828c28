/*
 * test_cfg.c - the configuration layers (core/cfg*.c): defaults, the YAML
 * file, VIADUCT_* variables, --backend, whole-config validation, printing.
 *
 * YAML goes to mkstemp files under /tmp, removed right after loading. Error
 * cases are tables of one-line cases that assert the reported FILE:LINE (or
 * VIADUCT_X) and a word of the message, and that a failed layer left the
 * config as it was. Run from the repository root: the documented example is
 * read from test/data/registrar-cluster.yaml. Built with ASan/LSan, so a
 * missing cfg_free fails the run.
 */
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include <cmocka.h>

#include "core/cfg.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define EXAMPLE "test/data/registrar-cluster.yaml"

/* Writes yaml to a fresh /tmp file; its name goes to path[32]. */
static void write_tmp(const char *yaml, char *path)
{
    strcpy(path, "/tmp/test_cfg_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(yaml);
    assert_int_equal(write(fd, yaml, n), (ssize_t)n);
    close(fd);
}

/* cfg_load_file on yaml; path[32] keeps the (removed) file's name. */
static int load_yaml(struct cfg *c, const char *yaml, char *path, char *err)
{
    write_tmp(yaml, path);
    err[0] = '\0';
    int r = cfg_load_file(c, path, err, CFG_ERR_LEN);
    unlink(path);
    return r;
}

/* Loads yaml on top of the defaults and fails the test if it is rejected. */
static void load_ok(struct cfg *c, const char *yaml)
{
    char path[32], err[CFG_ERR_LEN];
    cfg_defaults(c);
    if (load_yaml(c, yaml, path, err) != 0)
        fail_msg("rejected: %s\n--\n%s", err, yaml);
}

/* TEST_CFG_SHOW=1 prints every message a case produced, to read them. */
static void show(const char *err)
{
    if (getenv("TEST_CFG_SHOW"))
        fprintf(stderr, "  | %s\n", err);
}

static void assert_has(const char *s, const char *word)
{
    if (strstr(s, word) == NULL)
        fail_msg("'%s' lacks '%s'", s, word);
}

static void test_cfg_defaults_are_the_documented_ones(void **state)
{
    (void)state;
    struct cfg c;
    char err[CFG_ERR_LEN];
    cfg_defaults(&c);
    assert_int_equal(c.nlisten, 0);
    assert_int_equal(c.workers, 0);
    assert_string_equal(c.io, "auto");
    assert_int_equal(c.max_msg, 16384);
    assert_int_equal(c.table_size, 65537);
    assert_int_equal(c.retry_after, 5);
    assert_false(c.record_route);
    assert_false(c.path);
    assert_int_equal(c.key_register, CFG_KEY_TO_AOR);
    assert_int_equal(c.key_other, CFG_KEY_CALL_ID);
    assert_int_equal(c.npools, 1);
    assert_string_equal(c.pools[0].name, "default");
    assert_int_equal(c.pools[0].nbackends, 0);
    assert_int_equal(c.nrules, 0);
    assert_false(c.health.enabled);
    assert_int_equal(c.health.interval_ms, 1000);
    assert_int_equal(c.health.timeout_ms, 500);
    assert_int_equal(c.health.down_after, 3);
    assert_int_equal(c.health.up_after, 2);
    assert_int_equal(c.health.jitter_pct, 10);
    assert_int_equal(c.health.icmp_holddown_ms, 5000);
    assert_int_equal(c.health.ncodes, 0);

    /* No backend anywhere: not a usable config. */
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), -1);
    assert_has(err, "no backends");
    assert_int_equal(cfg_add_backend(&c, "127.0.0.1:5070", err, sizeof(err)), 0);
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);
    assert_int_equal(c.nlisten, 1); /* validate fills the default listen address */
    assert_string_equal(c.listen[0], "127.0.0.1:5060");
    cfg_free(&c);
}

static void test_cfg_example_file_loads_with_its_pools_rules_and_keys(void **state)
{
    (void)state;
    struct cfg c;
    char err[CFG_ERR_LEN];
    cfg_defaults(&c);
    if (cfg_load_file(&c, EXAMPLE, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);

    assert_int_equal(c.nlisten, 1);
    assert_string_equal(c.listen[0], "0.0.0.0:5060");
    assert_string_equal(c.advertise[0], "sip.example.com:5060");
    assert_int_equal(c.naliases, 1);
    assert_string_equal(c.aliases[0], "example.com");
    assert_true(c.record_route);
    assert_true(c.path);
    assert_int_equal(c.key_register, CFG_KEY_TO_AOR);
    assert_int_equal(c.key_other, CFG_KEY_CALL_ID);

    assert_int_equal(c.npools, 2);
    assert_string_equal(c.pools[0].name, "default");
    assert_int_equal(c.pools[0].nbackends, 2);
    assert_string_equal(c.pools[0].backends[1].address, "10.0.1.22:5060");
    assert_string_equal(c.pools[0].backends[1].name, "");
    assert_string_equal(c.pools[1].name, "registrars");
    assert_int_equal(c.pools[1].nbackends, 3);
    assert_string_equal(c.pools[1].backends[0].name, "reg-a");
    assert_string_equal(c.pools[1].backends[2].address, "10.0.0.13:5060");
    assert_int_equal(c.pools[1].backends[2].weight, 1);
    assert_false(c.pools[1].backends[2].drain);

    assert_int_equal(c.nrules, 3);
    assert_int_equal(c.rules[0].nmethods, 1);
    assert_string_equal(c.rules[0].methods[0], "REGISTER");
    assert_string_equal(c.rules[0].pool, "registrars");
    assert_true(c.rules[0].has_key);
    assert_int_equal(c.rules[0].key, CFG_KEY_TO_AOR);
    assert_int_equal(c.rules[1].nruri_domains, 1);
    assert_string_equal(c.rules[1].ruri_domains[0], "example.com");
    assert_int_equal(c.rules[1].key, CFG_KEY_RURI_AOR);
    assert_int_equal(c.rules[2].nsources, 1);
    assert_int_equal(c.rules[2].sources[0].family, AF_INET); /* parsed once, here */
    assert_memory_equal(c.rules[2].sources[0].addr, "\xc0\x00\x02\x00", 4);
    assert_int_equal(c.rules[2].sources[0].prefix, 24);
    assert_string_equal(c.rules[2].pool, "default");
    assert_int_equal(c.rules[2].key, CFG_KEY_HEADER);
    assert_string_equal(c.rules[2].key_header, "X-Account");
    cfg_free(&c);
}

static void test_cfg_every_scalar_option_is_read_back(void **state)
{
    (void)state;
    struct cfg c;
    load_ok(&c, "listen:\n"
                "  - \"127.0.0.1:5062\"\n"
                "  - {address: \"[::1]:5062\", advertise: \"[2001:db8::1]:5062\"}\n"
                "aliases: [proxy.example.com, \"10.1.1.1:5080\"]\n"
                "workers: 3\n"
                "io: mmsg\n"
                "max_message: 9000\n"
                "table_size: 257\n"
                "retry_after: 30\n"
                "record_route: yes\n"
                "path: on\n"
                "keys: {register: {header: X-Reg}, default: source-ip}\n"
                "health: {enabled: false, interval_ms: 200, timeout_ms: 20, down_after: 5,\n"
                "         up_after: 4, jitter_pct: 0, codes: [200, 404]}\n"
                "pools:\n"
                "  - name: default\n"
                "    backends:\n"
                "      - {address: \"[2001:DB8::0002]:5060\", name: v6, weight: 7, drain: true}\n"
                "rules:\n"
                "  - match: {method: [INVITE, BYE], to_domain: [Example.COM], source: \"::1\"}\n"
                "    pool: default\n"
                "    key: from-aor\n"
                "  - pool: default\n");
    assert_int_equal(c.nlisten, 2);
    assert_string_equal(c.listen[1], "[::1]:5062");
    assert_string_equal(c.advertise[0], "");
    assert_string_equal(c.advertise[1], "[2001:db8::1]:5062");
    assert_int_equal(c.naliases, 2);
    assert_string_equal(c.aliases[1], "10.1.1.1:5080");
    assert_int_equal(c.workers, 3);
    assert_string_equal(c.io, "mmsg");
    assert_int_equal(c.max_msg, 9000);
    assert_int_equal(c.table_size, 257);
    assert_int_equal(c.retry_after, 30);
    assert_true(c.record_route);
    assert_true(c.path);
    assert_int_equal(c.key_register, CFG_KEY_HEADER);
    assert_string_equal(c.key_header_register, "X-Reg");
    assert_int_equal(c.key_other, CFG_KEY_SOURCE_IP);
    assert_false(c.health.enabled);
    assert_int_equal(c.health.interval_ms, 200);
    assert_int_equal(c.health.timeout_ms, 20);
    assert_int_equal(c.health.down_after, 5);
    assert_int_equal(c.health.up_after, 4);
    assert_int_equal(c.health.jitter_pct, 0);
    assert_int_equal(c.health.ncodes, 2);
    assert_int_equal(c.health.codes[1], 404);
    const struct cfg_backend *b = &c.pools[0].backends[0];
    assert_string_equal(b->address, "[2001:db8::2]:5060"); /* canonical form */
    assert_string_equal(b->name, "v6");
    assert_int_equal(b->weight, 7);
    assert_true(b->drain);
    assert_int_equal(c.nrules, 2);
    assert_int_equal(c.rules[0].nmethods, 2);
    assert_string_equal(c.rules[0].methods[1], "BYE");
    assert_string_equal(c.rules[0].to_domains[0], "example.com"); /* one case */
    assert_int_equal(c.rules[0].nsources, 1);                     /* a single value: a list */
    assert_int_equal(c.rules[0].sources[0].family, AF_INET6);
    assert_int_equal(c.rules[0].sources[0].addr[15], 1);
    assert_int_equal(c.rules[0].sources[0].prefix, 128); /* one address */
    assert_int_equal(c.rules[0].key, CFG_KEY_FROM_AOR);
    assert_false(c.rules[1].has_key);
    assert_int_equal(c.rules[1].nmethods + c.rules[1].nsources, 0);
    char err[CFG_ERR_LEN];
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);
    cfg_free(&c);
}

static void test_cfg_workers_auto_and_an_empty_file_keep_the_defaults(void **state)
{
    (void)state;
    struct cfg c;
    load_ok(&c, "workers: 4\n");
    assert_int_equal(c.workers, 4);
    cfg_free(&c);
    load_ok(&c, "workers: auto\n");
    assert_int_equal(c.workers, 0);
    cfg_free(&c);
    load_ok(&c, "# nothing but a comment\n");
    assert_int_equal(c.table_size, 65537);
    cfg_free(&c);
}

static void test_cfg_a_later_file_overrides_and_keeps_what_it_does_not_name(void **state)
{
    (void)state;
    struct cfg c;
    char path[32], err[CFG_ERR_LEN];
    load_ok(&c, "listen: [{address: \"0.0.0.0:5060\", advertise: \"a.example:5060\"}]\n"
                "pools: [{name: default, backends: [\"10.0.0.1:5060\"]},\n"
                "        {name: b, backends: [\"10.0.0.2:5060\"]}]\n"
                "rules: [{pool: b}]\n");
    assert_int_equal(
        load_yaml(&c,
                  "advertise: \"b.example:5060\"\n"
                  "pools: [{name: b, backends: [\"10.0.0.3:5060\", \"10.0.0.4:5060\"]}]\n",
                  path, err),
        0);
    assert_string_equal(c.listen[0], "0.0.0.0:5060");
    assert_string_equal(c.advertise[0], "b.example:5060"); /* the later layer wins */
    assert_int_equal(c.pools[0].nbackends, 1);             /* not named: kept */
    assert_int_equal(c.pools[1].nbackends, 2);             /* named: replaced */
    assert_int_equal(c.nrules, 1);
    assert_int_equal(cfg_apply_env(&c, NULL, err, sizeof(err)), 0);
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);
    cfg_free(&c);
}

/* One rejected file: the line reported and a word of the message. */
struct file_case {
    const char *yaml;
    int line;
    const char *word;
};

static const struct file_case file_cases[] = {
    /* unknown keys, with a hint when one is close */
    {"workers: 2\nlistne: [\"127.0.0.1:5060\"]\n", 2,
     "unknown key 'listne' in the top level "
     "(did you mean 'listen'?)"},
    {"health:\n  interval_ms: 100\n  intervl_ms: 5\n", 3, "unknown key 'intervl_ms' in health"},
    {"pools:\n  - name: p\n    backends:\n      - {adress: \"10.0.0.1:5060\"}\n", 4,
     "did you mean 'address'"},
    {"rules:\n  - pool: default\n    match: {methods: [INVITE]}\n", 3, "did you mean 'method'"},
    {"keys: {registr: to-aor}\n", 1, "unknown key 'registr' in keys"},
    {"frobnicate: 1\n", 1, "unknown key 'frobnicate'"},
    /* wrong types */
    {"io: auto\nworkers: two\n", 2, "workers: expected a number or auto, got 'two'"},
    {"workers: [2]\n", 1, "expected a single value, got a list"},
    {"health: 5\n", 1, "health: expected a mapping, got a single value"},
    {"pools: {name: x}\n", 1, "expected a list, got a mapping"},
    {"record_route: maybe\n", 1, "expected true or false"},
    {"io: epoll\n", 1, "expected auto, uring or mmsg"},
    {"aliases: [{a: b}]\n", 1, "aliases[0]: expected a single value"},
    /* out of range */
    {"workers: 0\n", 1, "workers: 0 is below the minimum 1"},
    {"workers: 65\n", 1, "above the maximum 64"},
    {"max_message: 100\n", 1, "max_message: 100 is below the minimum 1024"},
    {"table_size: 65536\n", 1, "65536 is not prime (try 65537)"},
    {"\nhealth:\n  jitter_pct: 80\n", 3, "health.jitter_pct: 80 is above the maximum 50"},
    {"health: {interval_ms: 10}\n", 1, "health.interval_ms: 10 is below the minimum 50"},
    {"health:\n  icmp_holddown_ms: 99\n", 2, "health.icmp_holddown_ms: 99 is below the minimum 100"},
    {"health: {icmp_holddown_ms: 60001}\n", 1, "above the maximum 60000"},
    {"backends: [\"10.0.0.1:5060\"]\n", 1, "unknown key 'backends' in the top level"},
    {"config: x.yaml\n", 1, "unknown key 'config'"},
    {"retry_after: 99999999999999999999999\n", 1, "above the maximum"},
    {"health: {codes: [200, 180]}\n", 1, "health.codes[1]: 180 is below the minimum 200"},
    {"pools:\n  - name: p\n    backends: [{address: \"10.0.0.1:5060\", weight: 0}]\n", 3,
     "weight: 0 is below the minimum 1"},
    /* addresses and CIDRs */
    {"listen: [\"127.0.0.1\"]\n", 1, "listen[0]: '127.0.0.1' is not an address"},
    {"pools:\n  - name: p\n    backends:\n      - \"10.0.0.1:5060\"\n      - \"10.0.0.300:5060\"\n",
     5, "pools[0].backends[1]: '10.0.0.300:5060' is not an address"},
    {"pools:\n  - name: p\n    backends: [\"224.0.0.1:5060\"]\n", 3, "cannot receive datagrams"},
    {"advertise: \"sip.example.com\"\n", 1, "is not a host and port"},
    {"rules:\n  - pool: default\n    match: {source: [\"10.0.0.0/33\"]}\n", 3, "prefix length"},
    {"rules:\n  - pool: default\n    match: {source: [\"10.0.0.1/8\"]}\n", 3,
     "host bits set (did you mean 10.0.0.0/8?)"},
    {"rules:\n  - pool: default\n    match:\n      source: [\"10.0.0.0/8\", banana]\n", 4,
     "source[1]: 'banana' is not an address or CIDR"},
    {"rules:\n  - pool: default\n    match: {ruri_domain: [\"ex ample.com\"]}\n", 3,
     "is not a domain"},
    {"rules:\n  - pool: default\n    match: {method: [\"IN VITE\"]}\n", 3, "not a SIP token"},
    /* key names */
    {"keys:\n  register: to_aor\n", 2, "'to_aor' is not a key"},
    {"keys:\n  register: to_aor\n", 2, "did you mean 'to-aor'"},
    {"rules:\n  - pool: default\n    key: {header: \"X Bad\"}\n", 3, "not a SIP token"},
    {"rules:\n  - pool: default\n    key: {heder: X-A}\n", 3, "did you mean 'header'"},
    /* cross references and duplicates */
    {"rules:\n  - match: {method: [REGISTER]}\n    pool: regs\npools:\n  - name: registrars\n"
     "    backends: [\"10.0.0.1:5060\"]\n",
     3, "rules[0].pool: no pool named 'regs' (pools: default, registrars)"},
    {"pools:\n  - name: p\n    backends:\n      - {address: \"10.0.0.1:5060\", name: reg-a}\n"
     "      - {address: \"10.0.0.2:5060\", name: reg-a}\n",
     5, "pool 'p' already has a backend named reg-a"},
    {"pools:\n  - name: p\n    backends: [\"10.0.0.1:5060\",\n               \"10.0.0.1:5060\"]\n",
     4, "already has a backend named 10.0.0.1:5060"},
    {"pools:\n  - {name: p, backends: [\"10.0.0.1:5060\"]}\n  - {name: p, backends: []}\n", 3,
     "pool 'p' is defined twice (first at line 2)"},
    {"listen: [\"127.0.0.1:5060\", \"127.0.0.1:5060\"]\n", 1, "listed twice"},
    {"workers: 2\nio: auto\nworkers: 3\n", 3,
     "'workers' is given twice in the top level "
     "(first at line 1)"},
    {"pools:\n  - backends: [\"10.0.0.1:5060\"]\n", 2, "a pool needs a name"},
    {"rules:\n  - match: {method: [INVITE]}\n", 2, "a rule needs a pool"},
    {"listen:\n  - address: \"0.0.0.0:5060\"\n    advertise: \"a:1\"\nadvertise: \"b:2\"\n", 4,
     "listen[0] already has one (at line 3)"},
    /* YAML itself */
    {"workers: 2\nio: auto\nretry_after: 5: 6\n", 3, "YAML syntax error"},
    /* an unclosed '[': found at the next line's key, its start named */
    {"workers: 2\nlisten: [\"127.0.0.1:5060\"\nio: auto\n", 3, "which starts at line 2"},
    {"workers: 2\n---\nworkers: 3\n", 3, "a second YAML document"},
    {"- workers\n", 1, "the top level: expected a mapping"},
};

static void test_cfg_file_errors_name_the_line_and_leave_the_config_alone(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(file_cases); i++) {
        const struct file_case *fc = &file_cases[i];
        struct cfg c;
        char path[32], err[CFG_ERR_LEN], want[64];
        cfg_defaults(&c);
        assert_int_equal(cfg_add_backend(&c, "127.0.0.1:5070", err, sizeof(err)), 0);
        if (load_yaml(&c, fc->yaml, path, err) != -1)
            fail_msg("case %zu accepted:\n%s", i, fc->yaml);
        show(err);
        snprintf(want, sizeof(want), "%s:%d: ", path, fc->line);
        if (strncmp(err, want, strlen(want)) != 0 || strstr(err, fc->word) == NULL)
            fail_msg("case %zu: got \"%s\", want \"%s...%s\"", i, err, want, fc->word);
        /* nothing of the bad file got in */
        assert_int_equal(c.workers, 0);
        assert_int_equal(c.npools, 1);
        assert_int_equal(c.pools[0].nbackends, 1);
        assert_int_equal(c.nrules, 0);
        cfg_free(&c);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Loads text (n bytes) from a file; returns what cfg_load_file did, err filled. */
static int load_text(struct cfg *c, const char *text, size_t n, char *path, char *err)
{
    strcpy(path, "/tmp/test_cfg_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    cfg_defaults(c);
    int r = cfg_load_file(c, path, err, CFG_ERR_LEN);
    unlink(path);
    return r;
}

/* libyaml is quadratic in nesting depth: before the bound, the 200 KB file
 * of nested brackets below took a minute to refuse. */
static void test_cfg_deep_nesting_is_refused_fast_with_its_line(void **state)
{
    (void)state;
    const size_t n = 100000;
    char *text = malloc(2 * n + 64), path[32], err[CFG_ERR_LEN], want[64];
    struct cfg c;
    assert_non_null(text);
    int k = sprintf(text, "# brackets\nlisten: ");
    memset(text + k, '[', n);
    memset(text + k + n, ']', n);
    double t0 = now_s();
    assert_int_equal(load_text(&c, text, (size_t)k + 2 * n, path, err), -1);
    double took = now_s() - t0;
    show(err);
    snprintf(want, sizeof(want), "%s:2: nesting deeper than 64", path);
    assert_string_equal(err, want);
    if (took > 0.5)
        fail_msg("refusing took %.2f s", took);

    /* block levels count too: 70 keys, each indented one more */
    size_t m = 0;
    for (int i = 0; i < 70; i++)
        m += (size_t)sprintf(text + m, "%*sk%d:\n", i, "", i);
    assert_int_equal(load_text(&c, text, m, path, err), -1);
    snprintf(want, sizeof(want), "%s:65: nesting deeper than 64", path); /* the 65th level */
    assert_string_equal(err, want);
    /* and so does each "- " of a sequence entry, and flow inside block */
    m = (size_t)sprintf(text, "a:\n  b:\n    - ");
    for (int i = 0; i < 30; i++)
        m += (size_t)sprintf(text + m, "- ");
    memset(text + m, '{', 40);
    m += 40;
    assert_int_equal(load_text(&c, text, m, path, err), -1);
    assert_has(err, ":3: nesting deeper than 64");
    cfg_free(&c);
    free(text);
}

/* What nests nothing is not counted: brackets in quotes, comments, plain
 * scalars and block scalars, and nesting up to the bound itself. */
static void test_cfg_nesting_bound_counts_only_structure(void **state)
{
    (void)state;
    char text[4096], path[32], err[CFG_ERR_LEN];
    struct cfg c;
    size_t m = (size_t)sprintf(text, "listen: ");
    memset(text + m, '[', 62);
    memset(text + m + 62, ']', 62);
    m += 124;
    assert_int_equal(load_text(&c, text, m, path, err), -1); /* a schema error, not nesting */
    show(err);
    assert_null(strstr(err, "nesting"));
    m = (size_t)sprintf(text, "# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"
                              "aliases: [\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\",\n"
                              "  'it''s [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[']\n"
                              "workers: 2 # {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\n"
                              "io: a[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"
                              "retry_after: |\n");
    for (int i = 0; i < 70; i++)
        m += (size_t)sprintf(text + m, "  %*sx\n", i, "");
    assert_int_equal(load_text(&c, text, m, path, err), -1);
    show(err);
    assert_null(strstr(err, "nesting"));
    cfg_free(&c);
}

static void test_cfg_file_over_1mib_is_refused(void **state)
{
    (void)state;
    size_t n = 1024 * 1024 + 1;
    char *text = malloc(n), path[32], err[CFG_ERR_LEN];
    struct cfg c;
    assert_non_null(text);
    memset(text, ' ', n);
    text[0] = '#';
    assert_int_equal(load_text(&c, text, n, path, err), -1);
    show(err);
    assert_has(err, "larger than 1048576");
    assert_int_equal(load_text(&c, text, n - 1, path, err), 0); /* 1 MiB of comment is fine */
    cfg_free(&c);
    free(text);
}

static void test_cfg_missing_file_is_named(void **state)
{
    (void)state;
    struct cfg c;
    char err[CFG_ERR_LEN];
    cfg_defaults(&c);
    assert_int_equal(cfg_load_file(&c, "/tmp/test_cfg_no_such_file.yaml", err, sizeof(err)), -1);
    assert_has(err, "/tmp/test_cfg_no_such_file.yaml: cannot open");
    cfg_free(&c);
}

static void test_cfg_env_overrides(void **state)
{
    (void)state;
    struct cfg c;
    char err[CFG_ERR_LEN];
    /* ADVERTISE before LISTEN: order in the environment must not matter */
    char *env[] = {"HOME=/root",
                   "VIADUCT_ADVERTISE=sip.example.com:5060",
                   "VIADUCT_LISTEN=0.0.0.0:5060, 127.0.0.1:5061",
                   "VIADUCT_BACKENDS=10.0.0.1:5060,10.0.0.2:5060",
                   "VIADUCT_WORKERS=4",
                   "VIADUCT_IO=uring",
                   "VIADUCT_MAX_MESSAGE=2048",
                   "VIADUCT_TABLE_SIZE=251",
                   "VIADUCT_RETRY_AFTER=9",
                   "VIADUCT_RECORD_ROUTE=yes",
                   "VIADUCT_PATH=1",
                   "VIADUCT_ALIASES=proxy.example.com,example.com:5080",
                   "VIADUCT_KEY_REGISTER=from-aor",
                   "VIADUCT_KEY_DEFAULT=header:X-Account",
                   "VIADUCT_HEALTH_INTERVAL_MS=250",
                   "VIADUCT_HEALTH_TIMEOUT_MS=100",
                   "VIADUCT_HEALTH_DOWN_AFTER=2",
                   "VIADUCT_HEALTH_UP_AFTER=1",
                   "VIADUCT_HEALTH_JITTER_PCT=5",
                   "VIADUCT_HEALTH_ENABLED=no",
                   "VIADUCT_HEALTH_CODES=200,486",
                   "VIADUCT_CONFIG=/etc/viaduct.yaml",
                   NULL};
    cfg_defaults(&c);
    if (cfg_apply_env(&c, env, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.nlisten, 2);
    assert_string_equal(c.listen[0], "0.0.0.0:5060");
    assert_string_equal(c.listen[1], "127.0.0.1:5061");
    assert_string_equal(c.advertise[0], "sip.example.com:5060");
    assert_int_equal(c.pools[0].nbackends, 2);
    assert_string_equal(c.pools[0].backends[0].address, "10.0.0.1:5060");
    assert_string_equal(c.pools[0].backends[1].address, "10.0.0.2:5060");
    assert_int_equal(c.pools[0].backends[1].weight, 1);
    assert_int_equal(c.workers, 4);
    assert_string_equal(c.io, "uring");
    assert_int_equal(c.max_msg, 2048);
    assert_int_equal(c.table_size, 251);
    assert_int_equal(c.retry_after, 9);
    assert_true(c.record_route);
    assert_true(c.path);
    assert_int_equal(c.naliases, 2);
    assert_string_equal(c.aliases[1], "example.com:5080");
    assert_int_equal(c.key_register, CFG_KEY_FROM_AOR);
    assert_int_equal(c.key_other, CFG_KEY_HEADER);
    assert_string_equal(c.key_header_other, "X-Account");
    assert_int_equal(c.health.interval_ms, 250);
    assert_int_equal(c.health.timeout_ms, 100);
    assert_int_equal(c.health.down_after, 2);
    assert_int_equal(c.health.up_after, 1);
    assert_int_equal(c.health.jitter_pct, 5);
    assert_false(c.health.enabled);
    assert_int_equal(c.health.ncodes, 2);
    assert_int_equal(c.health.codes[1], 486);
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);

    /* booleans: every spelling; an empty list value empties the list */
    static const struct {
        const char *v;
        bool want;
    } bools[] = {{"true", true},   {"1", true},  {"yes", true}, {"TRUE", true},
                 {"false", false}, {"0", false}, {"no", false}, {"Off", false}};
    for (size_t i = 0; i < ARRAY_LEN(bools); i++) {
        char var[64];
        snprintf(var, sizeof(var), "VIADUCT_PATH=%s", bools[i].v);
        char *e1[] = {var, "VIADUCT_ALIASES=", NULL};
        assert_int_equal(cfg_apply_env(&c, e1, err, sizeof(err)), 0);
        assert_int_equal(c.path, bools[i].want);
        assert_int_equal(c.naliases, 0);
    }
    /* path: always, beside the booleans (issue 13 item 2) */
    char *e2[] = {"VIADUCT_PATH=always", NULL};
    assert_int_equal(cfg_apply_env(&c, e2, err, sizeof(err)), 0);
    assert_int_equal(c.path, CFG_PATH_ALWAYS);
    char *e3[] = {"VIADUCT_PATH=sometimes", NULL};
    assert_int_equal(cfg_apply_env(&c, e3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "expected true, false or always"));
    cfg_free(&c);
}

/* One rejected environment: the variable named and a word of the message. */
static const struct {
    const char *var, *want;
} env_cases[] = {
    {"VIADUCT_WORKERS=0", "VIADUCT_WORKERS: 0 is below the minimum 1"},
    {"VIADUCT_WORKERS=lots", "VIADUCT_WORKERS: expected a number or auto"},
    {"VIADUCT_WORKRES=4", "VIADUCT_WORKRES: unknown variable (did you mean VIADUCT_WORKERS?)"},
    {"VIADUCT_NOPE=1", "VIADUCT_NOPE: unknown variable"},
    {"VIADUCT_RECORD_ROUTE=maybe", "VIADUCT_RECORD_ROUTE: expected true or false"},
    {"VIADUCT_HEALTH_ENABLED=", "VIADUCT_HEALTH_ENABLED: expected true or false"},
    {"VIADUCT_BACKENDS=10.0.0.1", "VIADUCT_BACKENDS: '10.0.0.1' is not an address"},
    {"VIADUCT_BACKENDS=10.0.0.1:5060,10.0.0.1:5060",
     "VIADUCT_BACKENDS: pool 'default' already has a backend named 10.0.0.1:5060"},
    {"VIADUCT_BACKENDS=10.0.0.1:5060,,10.0.0.2:5060", "VIADUCT_BACKENDS: an empty item"},
    {"VIADUCT_LISTEN=localhost:5060", "VIADUCT_LISTEN: 'localhost:5060' is not an address"},
    {"VIADUCT_ADVERTISE=sip.example.com", "VIADUCT_ADVERTISE: 'sip.example.com' is not a host"},
    {"VIADUCT_KEY_REGISTER=to_aor", "VIADUCT_KEY_REGISTER: 'to_aor' is not a key"},
    {"VIADUCT_KEY_DEFAULT=header:", "VIADUCT_KEY_DEFAULT: '' is not a SIP token"},
    {"VIADUCT_TABLE_SIZE=100", "VIADUCT_TABLE_SIZE: 100 is not prime (try 101)"},
    {"VIADUCT_MAX_MESSAGE=70000", "VIADUCT_MAX_MESSAGE: 70000 is above the maximum 65535"},
    {"VIADUCT_IO=epoll", "VIADUCT_IO: expected auto, uring or mmsg"},
    {"VIADUCT_HEALTH_CODES=200,100", "VIADUCT_HEALTH_CODES: 100 is below the minimum 200"},
    {"VIADUCT_HEALTH_ICMP_HOLDDOWN_MS=50",
     "VIADUCT_HEALTH_ICMP_HOLDDOWN_MS: 50 is below the minimum 100"},
};

static void test_cfg_env_errors_name_the_variable_and_leave_the_config_alone(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(env_cases); i++) {
        struct cfg c;
        char err[CFG_ERR_LEN];
        /* a good variable first: it must not stick when a later one fails */
        char *env[] = {"VIADUCT_RETRY_AFTER=77", (char *)env_cases[i].var, NULL};
        cfg_defaults(&c);
        assert_int_equal(cfg_add_backend(&c, "127.0.0.1:5070", err, sizeof(err)), 0);
        assert_int_equal(cfg_apply_env(&c, env, err, sizeof(err)), -1);
        show(err);
        if (strncmp(err, env_cases[i].want, strlen(env_cases[i].want)) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", env_cases[i].var, err, env_cases[i].want);
        assert_int_equal(c.retry_after, 5);
        assert_int_equal(c.pools[0].nbackends, 1);
        assert_string_equal(c.pools[0].backends[0].address, "127.0.0.1:5070");
        cfg_free(&c);
    }
}

static void test_cfg_layers_apply_file_then_env_then_flags(void **state)
{
    (void)state;
    struct cfg c;
    char path[32], err[CFG_ERR_LEN];
    char *env[] = {"VIADUCT_WORKERS=3", "VIADUCT_BACKENDS=10.0.0.2:5060,10.0.0.3:5060", NULL};
    cfg_defaults(&c);
    assert_int_equal(load_yaml(&c,
                               "workers: 2\nretry_after: 8\n"
                               "pools:\n  - name: default\n    backends: [\"10.0.0.1:5060\"]\n"
                               "  - name: other\n    backends: [\"10.0.9.1:5060\"]\n",
                               path, err),
                     0);
    assert_int_equal(c.workers, 2);
    assert_int_equal(cfg_apply_env(&c, env, err, sizeof(err)), 0);
    assert_int_equal(cfg_add_backend(&c, "[::1]:5070", err, sizeof(err)), 0);
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);

    assert_int_equal(c.workers, 3);     /* env over file */
    assert_int_equal(c.retry_after, 8); /* the file's, untouched by env */
    assert_int_equal(c.pools[0].nbackends, 3);
    assert_string_equal(c.pools[0].backends[0].address, "10.0.0.2:5060"); /* env replaced */
    assert_string_equal(c.pools[0].backends[2].address, "[::1]:5070");    /* flag appended */
    assert_int_equal(c.pools[1].nbackends, 1); /* other pools are the file's */

    /* --backend refuses what it cannot use */
    assert_int_equal(cfg_add_backend(&c, "[::1]:5070", err, sizeof(err)), -1);
    assert_has(err, "already has a backend named [::1]:5070");
    assert_int_equal(cfg_add_backend(&c, "backend.example.com", err, sizeof(err)), -1);
    assert_has(err, "is not an address");
    assert_int_equal(cfg_add_backend(&c, "10.0.0.300:5060", err, sizeof(err)), -1);
    assert_int_equal(cfg_add_backend(&c, "_sip._udp.example.com:5060", err, sizeof(err)), -1);
    assert_int_equal(c.pools[0].nbackends, 3);
    /* a name with a port: its A and AAAA records; an SRV name: its targets (dns.h) */
    assert_int_equal(cfg_add_backend(&c, "Backend.Example.com:5060", err, sizeof(err)), 0);
    assert_int_equal(cfg_add_backend(&c, "_sip._udp.example.com", err, sizeof(err)), 0);
    assert_int_equal(cfg_add_backend(&c, "reg.example.com.:5060", err, sizeof(err)), 0);
    assert_int_equal(cfg_add_backend(&c, "reg..example.com:5060", err, sizeof(err)), -1);
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);
    assert_string_equal(c.pools[0].backends[3].address, "backend.example.com:5060");
    assert_int_equal(c.pools[0].backends[3].dns, CFG_DNS_HOST);
    assert_int_equal(c.pools[0].backends[4].dns, CFG_DNS_SRV);
    /* the resolver follows at most CFG_MAX_DNS_NAMES names */
    for (int i = 0; i < CFG_MAX_DNS_NAMES; i++) {
        char name[64];
        snprintf(name, sizeof(name), "n%d.example.com:5060", i);
        assert_int_equal(cfg_add_backend(&c, name, err, sizeof(err)), 0);
    }
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), -1);
    assert_has(err, "more than 64 DNS names");
    cfg_free(&c);
}

/* A setting flag's number, as main's getopt loop gets it. */
static int flag(const char *name)
{
    struct option o[64];
    int n = cfg_flag_options(o, 64, 0);
    for (int i = 0; i < n; i++)
        if (strcmp(o[i].name, name) == 0)
            return o[i].val;
    fail_msg("no flag --%s", name);
    return -1;
}

static void test_cfg_flags_replace_a_list_once_then_add_and_refuse_as_a_whole(void **state)
{
    (void)state;
    struct cfg c;
    char err[CFG_ERR_LEN];
    /* the file's listen[1] had an advertise: a --listen replaces both lists */
    load_ok(&c, "listen: [\"127.0.0.1:5060\", {address: \"0.0.0.0:5061\", advertise: \"a:1\"}]\n"
                "aliases: [x.example]\nworkers: 2\n"
                "pools: [{name: default, backends: [\"10.0.0.1:5060\"]}]\n");
    const struct cfg_arg args[] = {
        {flag("advertise"), "b.example:5070"}, /* before --listen on the line: still applies */
        {flag("listen"), "0.0.0.0:5070"},
        {flag("listen"), "127.0.0.1:5071"},
        {flag("backend"), "10.0.0.7:5060"},
        {flag("workers"), "auto"},
        {flag("record-route"), NULL},
        {flag("config"), "ignored.yaml"}, /* main reads it before the file */
    };
    assert_int_equal(cfg_apply_flags(&c, args, ARRAY_LEN(args), err, sizeof(err)), 0);
    assert_int_equal(c.nlisten, 2);
    assert_string_equal(c.listen[0], "0.0.0.0:5070");
    assert_string_equal(c.advertise[0], "b.example:5070");
    assert_string_equal(c.advertise[1], "");
    assert_int_equal(c.naliases, 1); /* not given: the file's */
    assert_int_equal(c.pools[0].nbackends, 1);
    assert_string_equal(c.pools[0].backends[0].address, "10.0.0.7:5060");
    assert_int_equal(c.workers, 0);
    assert_true(c.record_route);
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);

    /* one bad flag: "--flag: reason", and nothing of the others sticks */
    static const struct {
        const char *flag, *value, *want;
    } bad[] = {
        {"workers", "65", "--workers: 65 is above the maximum 64"},
        {"max-msg", "100", "--max-msg: 100 is below the minimum 1024"},
        {"io", "epoll", "--io: expected auto, uring or mmsg, got 'epoll'"},
        {"listen", "127.0.0.1", "--listen: '127.0.0.1' is not an address"},
        {"backend", "10.0.0.1", "--backend: '10.0.0.1' is not an address"},
        {"alias", "a b", "--alias: 'a b' is not a host and port"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        const struct cfg_arg two[] = {{flag("path"), NULL}, {flag(bad[i].flag), bad[i].value}};
        assert_int_equal(cfg_apply_flags(&c, two, 2, err, sizeof(err)), -1);
        show(err);
        if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
            fail_msg("got \"%s\", want \"%s\"", err, bad[i].want);
        assert_false(c.path);
    }
    cfg_free(&c);
}

/* listen: "udp:" (or no prefix) and "tcp:" in flags, the environment and the file; the
 * canonical form keeps tcp: and drops udp:, so one address may be listened on with both. */
static void test_cfg_listen_takes_a_transport_prefix_everywhere(void **state)
{
    (void)state;
    struct cfg c;
    char err[CFG_ERR_LEN];
    cfg_defaults(&c);
    const struct cfg_arg args[] = {
        {flag("listen"), "tcp:127.0.0.1:5060"},
        {flag("listen"), "udp:127.0.0.1:5060"},
        {flag("listen"), "[::1]:5062"},
        {flag("listen"), "TCP:[::1]:5061"},
    };
    assert_int_equal(cfg_apply_flags(&c, args, ARRAY_LEN(args), err, sizeof(err)), 0);
    assert_int_equal(c.nlisten, 4);
    assert_string_equal(c.listen[0], "tcp:127.0.0.1:5060");
    assert_string_equal(c.listen[1], "127.0.0.1:5060");
    assert_string_equal(c.listen[2], "[::1]:5062");
    assert_string_equal(c.listen[3], "tcp:[::1]:5061");
    const char *addr;
    assert_int_equal(cfg_listen_split(c.listen[3], &addr), CFG_TP_TCP);
    assert_string_equal(addr, "[::1]:5061");
    assert_int_equal(cfg_listen_split(c.listen[2], &addr), CFG_TP_UDP);
    cfg_free(&c);

    char *env[] = {"VIADUCT_LISTEN=tcp:127.0.0.1:5070, udp:127.0.0.1:5070", NULL};
    cfg_defaults(&c);
    if (cfg_apply_env(&c, env, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.nlisten, 2);
    assert_string_equal(c.listen[0], "tcp:127.0.0.1:5070");
    assert_string_equal(c.listen[1], "127.0.0.1:5070");
    cfg_free(&c);

    load_ok(&c, "listen: [\"tcp:127.0.0.1:5080\", {address: \"tcp:0.0.0.0:5081\", "
                "advertise: \"a.example:5081\"}]\n");
    assert_string_equal(c.listen[0], "tcp:127.0.0.1:5080");
    assert_string_equal(c.listen[1], "tcp:0.0.0.0:5081");
    assert_string_equal(c.advertise[1], "a.example:5081");
    cfg_free(&c);

    static const struct {
        const char *value, *want;
    } bad[] = {
        {"tls:127.0.0.1:5061", "TLS listeners are not supported yet"},
        {"tcp:127.0.0.1", "'127.0.0.1' is not an address"},
        {"sctp:127.0.0.1:5060", "is not an address"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        cfg_defaults(&c);
        const struct cfg_arg one[] = {{flag("listen"), bad[i].value}};
        assert_int_equal(cfg_apply_flags(&c, one, 1, err, sizeof(err)), -1);
        show(err);
        assert_has(err, bad[i].want);
        cfg_free(&c);
    }
    cfg_defaults(&c);
    const struct cfg_arg twice[] = {{flag("listen"), "tcp:127.0.0.1:5060"},
                                    {flag("listen"), "tcp:127.0.0.1:5060"}};
    assert_int_equal(cfg_apply_flags(&c, twice, 2, err, sizeof(err)), -1);
    assert_has(err, "listed twice");
    cfg_free(&c);
}

/* A tcp listener needs the io_uring engine (--io mmsg with one is a config error), a UDP
 * listener beside it, and a buffer that holds max_message; its limits load from the file. */
static void test_cfg_tcp_listener_with_the_recvmmsg_engine_is_refused(void **state)
{
    (void)state;
    struct cfg c;
    char err[CFG_ERR_LEN];
    load_ok(&c, "listen: [\"127.0.0.1:5060\", \"tcp:127.0.0.1:5060\"]\nio: mmsg\n"
                "pools: [{name: default, backends: [\"10.0.0.1:5060\"]}]\n");
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), -1);
    show(err);
    assert_has(err, "listen[1]: a tcp listener needs the io_uring engine");
    cfg_free(&c);

    /* the backends are reached over UDP: a tcp listener alone has no socket to do that */
    load_ok(&c, "listen: [\"tcp:127.0.0.1:5060\"]\n"
                "pools: [{name: default, backends: [\"10.0.0.1:5060\"]}]\n");
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), -1);
    assert_has(err, "a tcp listener needs a udp one beside it");
    cfg_free(&c);
    load_ok(&c, "listen: [\"127.0.0.1:5060\", \"tcp:127.0.0.1:5060\"]\nmax_message: 4096\n"
                "tcp: {buffer: 2048}\npools: [{name: default, backends: [\"10.0.0.1:5060\"]}]\n");
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), -1);
    assert_has(err, "tcp.buffer: smaller than max_message");
    cfg_free(&c);
    load_ok(&c, "listen: [\"127.0.0.1:5060\", \"tcp:127.0.0.1:5060\"]\n"
                "tcp: {max_connections: 10, max_per_source: 2, idle_timeout_ms: 500,\n"
                "      message_timeout_ms: 300, buffer: 32768}\n"
                "pools: [{name: default, backends: [\"10.0.0.1:5060\"]}]\n");
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);
    assert_int_equal(c.tcp.max_conns, 10);
    assert_int_equal(c.tcp.max_per_source, 2);
    assert_int_equal(c.tcp.idle_ms, 500);
    assert_int_equal(c.tcp.message_ms, 300);
    assert_int_equal(c.tcp.buffer, 32768);
    cfg_free(&c);
}

static void test_cfg_hostport_is_taken_apart_once_for_the_layers_and_the_proxy(void **state)
{
    (void)state;
    struct cfg_hostport hp;
    char msg[256];
    assert_int_equal(cfg_parse_hostport("[2001:db8::1]:5062", true, &hp, msg, sizeof(msg)), 0);
    assert_string_equal(hp.host, "2001:db8::1");
    assert_int_equal(hp.host_len, 11);
    assert_int_equal(hp.port, 5062);
    assert_true(hp.ip6);
    assert_int_equal(cfg_parse_hostport("Example.com", false, &hp, msg, sizeof(msg)), 0);
    assert_string_equal(hp.host, "Example.com");
    assert_int_equal(hp.port, 0); /* not given */
    assert_false(hp.ip6);
    static const char *const bad[] = {"example.com", "::1:5060", "[::1]5060", "h:0", "h:", "[]:1",
                                      "a b:1"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        if (cfg_parse_hostport(bad[i], true, &hp, msg, sizeof(msg)) == 0)
            fail_msg("'%s' accepted", bad[i]);
}

/* One config that cfg_validate rejects: a file, then the word expected. */
static const struct {
    const char *yaml, *word;
} invalid_cases[] = {
    {"workers: 2\n", "no backends"},
    {"listen: [\"0.0.0.0:5060\"]\npools: [{name: default, backends: [\"10.0.0.1:5060\"]}]\n",
     "listen[0]: a wildcard address needs an advertise"},
    {"table_size: 3\npools: [{name: default, backends: [\"10.0.0.1:5060\", \"10.0.0.2:5060\",\n"
     "  \"10.0.0.3:5060\", \"10.0.0.4:5060\"]}]\n",
     "table_size: 3 slots cannot hold a pool of 4 backends"},
    {"pools: [{name: default, backends: [\"10.0.0.1:5060\"]}, {name: empty}]\n",
     "pool 'empty': has no backends"},
};

static void test_cfg_validate_checks_the_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(invalid_cases); i++) {
        struct cfg c;
        char err[CFG_ERR_LEN];
        load_ok(&c, invalid_cases[i].yaml);
        assert_int_equal(cfg_validate(&c, err, sizeof(err)), -1);
        show(err);
        assert_has(err, invalid_cases[i].word);
        cfg_free(&c);
    }
    /* what only a program (or a later flag) can break: checked all the same */
    struct cfg c;
    char err[CFG_ERR_LEN];
    load_ok(&c, "pools: [{name: default, backends: [\"10.0.0.1:5060\"]}]\n");
    c.nrules = 1;
    snprintf(c.rules[0].pool, sizeof(c.rules[0].pool), "gone");
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), -1);
    assert_has(err, "rules[0]: no pool named 'gone'");
    c.nrules = 0;
    c.workers = 100;
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), -1);
    assert_has(err, "workers: 100 is above the maximum 64");
    c.workers = 1;
    c.table_size = 1000;
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), -1);
    assert_has(err, "table_size: 1000 is not prime");
    c.table_size = 65537;
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);
    cfg_free(&c);
}

static void assert_cfg_equal(const struct cfg *a, const struct cfg *b)
{
    assert_int_equal(a->nlisten, b->nlisten);
    for (int i = 0; i < CFG_MAX_LISTEN; i++) {
        if (i < a->nlisten)
            assert_string_equal(a->listen[i], b->listen[i]);
        assert_string_equal(a->advertise[i], b->advertise[i]);
    }
    assert_int_equal(a->naliases, b->naliases);
    for (int i = 0; i < a->naliases; i++)
        assert_string_equal(a->aliases[i], b->aliases[i]);
    assert_int_equal(a->workers, b->workers);
    assert_string_equal(a->io, b->io);
    assert_int_equal(a->max_msg, b->max_msg);
    assert_int_equal(a->table_size, b->table_size);
    assert_int_equal(a->retry_after, b->retry_after);
    assert_int_equal(a->record_route, b->record_route);
    assert_int_equal(a->path, b->path);
    assert_int_equal(a->key_register, b->key_register);
    assert_int_equal(a->key_other, b->key_other);
    assert_string_equal(a->key_header_register, b->key_header_register);
    assert_string_equal(a->key_header_other, b->key_header_other);
    assert_int_equal(a->npools, b->npools);
    for (int i = 0; i < a->npools; i++) {
        const struct cfg_pool *p = &a->pools[i], *q = &b->pools[i];
        assert_string_equal(p->name, q->name);
        assert_int_equal(p->nbackends, q->nbackends);
        for (int j = 0; j < p->nbackends; j++) {
            assert_string_equal(p->backends[j].address, q->backends[j].address);
            assert_string_equal(p->backends[j].name, q->backends[j].name);
            assert_int_equal(p->backends[j].weight, q->backends[j].weight);
            assert_int_equal(p->backends[j].drain, q->backends[j].drain);
        }
    }
    assert_int_equal(a->nrules, b->nrules);
    for (int i = 0; i < a->nrules; i++) {
        const struct cfg_rule *r = &a->rules[i], *s = &b->rules[i];
        assert_int_equal(r->nmethods, s->nmethods);
        for (int j = 0; j < r->nmethods; j++)
            assert_string_equal(r->methods[j], s->methods[j]);
        assert_int_equal(r->nruri_domains, s->nruri_domains);
        for (int j = 0; j < r->nruri_domains; j++)
            assert_string_equal(r->ruri_domains[j], s->ruri_domains[j]);
        assert_int_equal(r->nto_domains, s->nto_domains);
        for (int j = 0; j < r->nto_domains; j++)
            assert_string_equal(r->to_domains[j], s->to_domains[j]);
        assert_int_equal(r->nsources, s->nsources);
        for (int j = 0; j < r->nsources; j++)
            assert_memory_equal(&r->sources[j], &s->sources[j], sizeof(r->sources[j]));
        assert_string_equal(r->pool, s->pool);
        assert_int_equal(r->has_key, s->has_key);
        if (r->has_key) {
            assert_int_equal(r->key, s->key);
            assert_string_equal(r->key_header, s->key_header);
        }
    }
    const struct cfg_health *h = &a->health, *g = &b->health;
    assert_int_equal(h->enabled, g->enabled);
    assert_int_equal(h->interval_ms, g->interval_ms);
    assert_int_equal(h->timeout_ms, g->timeout_ms);
    assert_int_equal(h->down_after, g->down_after);
    assert_int_equal(h->up_after, g->up_after);
    assert_int_equal(h->jitter_pct, g->jitter_pct);
    assert_int_equal(h->icmp_holddown_ms, g->icmp_holddown_ms);
    assert_int_equal(h->ncodes, g->ncodes);
    for (int i = 0; i < h->ncodes; i++)
        assert_int_equal(h->codes[i], g->codes[i]);
}

/* cfg_print, then cfg_load_file on the defaults: the same config. */
static void assert_round_trip(const struct cfg *c)
{
    char path[32], err[CFG_ERR_LEN];
    struct cfg back;
    strcpy(path, "/tmp/test_cfg_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    cfg_print(f, c);
    fclose(f);
    cfg_defaults(&back);
    int r = cfg_load_file(&back, path, err, sizeof(err));
    if (r != 0) {
        f = fopen(path, "r");
        char text[8192];
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        text[n] = '\0';
        fclose(f);
        unlink(path);
        fail_msg("printed config rejected: %s\n%s", err, text);
    }
    unlink(path);
    assert_cfg_equal(c, &back);
    assert_int_equal(cfg_validate(&back, err, sizeof(err)), 0);
    cfg_free(&back);
}

static void test_cfg_print_reads_back_to_an_equal_config(void **state)
{
    (void)state;
    struct cfg c;
    char err[CFG_ERR_LEN];
    char *env[] = {"VIADUCT_KEY_REGISTER=header:X-Reg", "VIADUCT_HEALTH_CODES=200,503", NULL};

    /* the example, with env and a flag on top */
    cfg_defaults(&c);
    assert_int_equal(cfg_load_file(&c, EXAMPLE, err, sizeof(err)), 0);
    assert_int_equal(cfg_apply_env(&c, env, err, sizeof(err)), 0);
    assert_int_equal(cfg_add_backend(&c, "[2001:db8::7]:5060", err, sizeof(err)), 0);
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);
    assert_round_trip(&c);
    cfg_free(&c);

    /* every form: listen without advertise, names, weights, drain, quotes */
    load_ok(&c, "listen: [\"127.0.0.1:5062\", {address: \"[::1]:5062\", advertise: \"h:1\"}]\n"
                "workers: 7\nio: uring\ntable_size: 7\nhealth: {enabled: no, jitter_pct: 50}\n"
                "keys: {default: {header: X-A}}\n"
                "pools:\n"
                "  - name: default\n    backends: [\"10.0.0.1:5060\"]\n"
                "  - name: \"p.1\"\n"
                "    backends: [{address: \"10.0.0.2:6000\", name: \"yes\", weight: 3, drain: "
                "true}]\n"
                "rules:\n"
                "  - match: {method: [OPTIONS], ruri_domain: [.a.example], to_domain: [b],\n"
                "            source: [\"2001:db8::/32\"]}\n"
                "    pool: p.1\n"
                "  - {pool: default, key: ruri-user}\n");
    assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);
    assert_round_trip(&c);
    cfg_free(&c);

    /* the smallest: defaults and one flag, printed before validate adds a listen */
    cfg_defaults(&c);
    assert_int_equal(cfg_add_backend(&c, "127.0.0.1:5070", err, sizeof(err)), 0);
    assert_round_trip(&c);
    cfg_free(&c);
}

static void test_cfg_free_releases_everything_and_may_repeat(void **state)
{
    (void)state;
    struct cfg c;
    char err[CFG_ERR_LEN];
    cfg_defaults(&c);
    assert_int_equal(cfg_load_file(&c, EXAMPLE, err, sizeof(err)), 0);
    /* loading again replaces pools of the same name: the old arrays go */
    assert_int_equal(cfg_load_file(&c, EXAMPLE, err, sizeof(err)), 0);
    for (int i = 0; i < 50; i++) {
        char a[32];
        snprintf(a, sizeof(a), "10.9.0.%d:5060", i + 1);
        assert_int_equal(cfg_add_backend(&c, a, err, sizeof(err)), 0);
    }
    assert_int_equal(c.pools[0].nbackends, 52);
    cfg_free(&c);
    assert_null(c.pools[0].backends);
    assert_int_equal(c.pools[0].nbackends, 0);
    cfg_free(&c); /* LSan reports at exit if anything above leaked */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_defaults_are_the_documented_ones),
        cmocka_unit_test(test_cfg_example_file_loads_with_its_pools_rules_and_keys),
        cmocka_unit_test(test_cfg_every_scalar_option_is_read_back),
        cmocka_unit_test(test_cfg_workers_auto_and_an_empty_file_keep_the_defaults),
        cmocka_unit_test(test_cfg_a_later_file_overrides_and_keeps_what_it_does_not_name),
        cmocka_unit_test(test_cfg_file_errors_name_the_line_and_leave_the_config_alone),
        cmocka_unit_test(test_cfg_missing_file_is_named),
        cmocka_unit_test(test_cfg_deep_nesting_is_refused_fast_with_its_line),
        cmocka_unit_test(test_cfg_nesting_bound_counts_only_structure),
        cmocka_unit_test(test_cfg_file_over_1mib_is_refused),
        cmocka_unit_test(test_cfg_env_overrides),
        cmocka_unit_test(test_cfg_env_errors_name_the_variable_and_leave_the_config_alone),
        cmocka_unit_test(test_cfg_layers_apply_file_then_env_then_flags),
        cmocka_unit_test(test_cfg_flags_replace_a_list_once_then_add_and_refuse_as_a_whole),
        cmocka_unit_test(test_cfg_listen_takes_a_transport_prefix_everywhere),
        cmocka_unit_test(test_cfg_tcp_listener_with_the_recvmmsg_engine_is_refused),
        cmocka_unit_test(test_cfg_hostport_is_taken_apart_once_for_the_layers_and_the_proxy),
        cmocka_unit_test(test_cfg_validate_checks_the_whole),
        cmocka_unit_test(test_cfg_print_reads_back_to_an_equal_config),
        cmocka_unit_test(test_cfg_free_releases_everything_and_may_repeat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
