/*
 * test_cfg_print.c - what the configuration's declaration table prints
 * (core/cfg_print.c), pinned: the effective configuration (--check) of every
 * file under test/data/ and of a few environment and flag layers on top,
 * against the expected text checked in beside them (NAME.check); the
 * README's table of settings against --help-config-markdown; and the shape
 * of the table itself (every setting has help, a variable name that is
 * VIADUCT_ + its name, at most one section level).
 *
 * The .check files were first written by the viaduct before the table drove
 * the layers (commit 93ac832), with one line added since: the new
 * health.icmp_holddown_ms, the admin section and the dns section. A change in what a file means shows up here as a
 * diff. Run from the repository root. To refresh after a deliberate change:
 *   build/viaduct --check -c test/data/NAME.yaml > test/data/NAME.check
 */
#include <dirent.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cfg_internal.h" /* the table itself, for its shape */

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define DATA "test/data/"

/* The whole of a file, NUL-terminated, malloc'd; fails the test if missing. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Fails with the first line where got and want part. */
static void assert_text(const char *what, const char *got, const char *want)
{
    int line = 1;
    const char *g = got, *w = want;
    while (*g && *g == *w) {
        line += *g == '\n';
        g++;
        w++;
    }
    if (*g || *w)
        fail_msg("%s differs at line %d:\n got: %.80s\nwant: %.80s", what, line, g, w);
}

/* A setting flag's getopt number by its name, or -1. */
static int flag_opt(const char *name)
{
    struct option o[64];
    int n = cfg_flag_options(o, 64, 0);
    for (int i = 0; i < n; i++)
        if (strcmp(o[i].name, name) == 0)
            return o[i].val;
    return -1;
}

/* One configuration: a file (or none), variables, flags ("name", "value"). */
struct layers {
    const char *check; /* the expected text, under test/data/ */
    const char *file;
    char *env[32];
    const char *flags[24][2];
};

static const struct layers layer_cases[] = {
    {"layers-flags.check",
     NULL,
     {NULL},
     {{"listen", "127.0.0.1:5062"},
      {"advertise", "a.example:5062"}, /* before the second --listen: the table orders them */
      {"listen", "[::1]:5062"},
      {"advertise", "[2001:db8::1]:5062"},
      {"alias", "example.com"},
      {"alias", "10.0.0.9:5080"},
      {"backend", "127.0.0.1:5070"},
      {"workers", "2"},
      {"io", "mmsg"},
      {"max-msg", "2048"},
      {"record-route", NULL},
      {"path", NULL},
      {"drain-seconds", "0"},
      {"log-format", "json"},
      {"log-level", "debug"}}},
    {"layers-env.check",
     NULL,
     {"VIADUCT_ADVERTISE=sip.example.com:5060", "VIADUCT_LISTEN=0.0.0.0:5060, 127.0.0.1:5061",
      "VIADUCT_BACKENDS=10.0.0.1:5060,10.0.0.2:5060", "VIADUCT_WORKERS=4", "VIADUCT_IO=uring",
      "VIADUCT_MAX_MESSAGE=2048", "VIADUCT_TABLE_SIZE=251", "VIADUCT_RETRY_AFTER=9",
      "VIADUCT_RECORD_ROUTE=yes", "VIADUCT_PATH=1",
      "VIADUCT_ALIASES=proxy.example.com,example.com:5080", "VIADUCT_KEY_REGISTER=from-aor",
      "VIADUCT_KEY_DEFAULT=header:X-Account", "VIADUCT_HEALTH_INTERVAL_MS=250",
      "VIADUCT_HEALTH_TIMEOUT_MS=100", "VIADUCT_HEALTH_DOWN_AFTER=2", "VIADUCT_HEALTH_UP_AFTER=1",
      "VIADUCT_HEALTH_JITTER_PCT=5", "VIADUCT_HEALTH_ENABLED=no",
      "VIADUCT_HEALTH_ICMP_HOLDDOWN_MS=700", "VIADUCT_HEALTH_CODES=200,486",
      "VIADUCT_SHUTDOWN_DRAIN_SECONDS=7", "VIADUCT_LOG_FORMAT=json", "VIADUCT_LOG_LEVEL=warn",
      NULL},
     {{NULL, NULL}}},
    {"layers-file-env-flags.check",
     DATA "every-form.yaml",
     {"VIADUCT_WORKERS=3", "VIADUCT_BACKENDS=10.0.0.2:5060,10.0.0.3:5060", NULL},
     {{"backend", "[::1]:5070"}}},
};

/* The layers applied as main does, printed. malloc'd text. */
static char *effective(const struct layers *l)
{
    struct cfg c;
    struct cfg_arg args[24];
    char err[CFG_ERR_LEN], *text = NULL;
    size_t len = 0;
    int n = 0;
    cfg_defaults(&c);
    if (l->file && cfg_load_file(&c, l->file, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    if (cfg_apply_env(&c, (char *const *)l->env, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    for (; n < 24 && l->flags[n][0]; n++) {
        args[n].opt = flag_opt(l->flags[n][0]);
        args[n].value = l->flags[n][1];
        assert_true(args[n].opt >= 0);
    }
    if (cfg_apply_flags(&c, args, n, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    if (cfg_validate(&c, err, sizeof(err)) != 0)
        fail_msg("%s: %s", l->check, err);
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    cfg_print(f, &c);
    fclose(f);
    cfg_free(&c);
    return text;
}

static void test_cfg_print_every_data_file_keeps_its_effective_configuration(void **state)
{
    (void)state;
    DIR *d = opendir(DATA);
    struct dirent *e;
    int files = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
            continue;
        char yaml[300], check[300];
        snprintf(yaml, sizeof(yaml), DATA "%s", e->d_name);
        snprintf(check, sizeof(check), DATA "%.*s.check", (int)(n - 5), e->d_name);
        struct layers l = {.check = check, .file = yaml, .env = {NULL}};
        char *got = effective(&l), *want = slurp(check);
        assert_text(yaml, got, want);
        free(got);
        free(want);
        files++;
    }
    closedir(d);
    assert_true(files >= 5);
}

static void test_cfg_print_env_and_flags_on_top_keep_their_effective_configuration(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(layer_cases); i++) {
        char path[300];
        snprintf(path, sizeof(path), DATA "%s", layer_cases[i].check);
        char *got = effective(&layer_cases[i]), *want = slurp(path);
        assert_text(path, got, want);
        free(got);
        free(want);
    }
}

static void test_cfg_print_readme_table_is_the_generated_one(void **state)
{
    (void)state;
    static const char begin[] = "<!-- settings: generated by `viaduct --help-config-markdown`";
    static const char end[] = "<!-- end of settings -->";
    char *readme = slurp("README.md"), *gen = NULL;
    size_t len = 0;
    char *a = strstr(readme, begin), *b = a ? strstr(a, end) : NULL;
    if (a == NULL || b == NULL)
        fail_msg("README.md lacks the settings markers");
    a = strchr(a, '\n') + 1;
    *b = '\0';
    FILE *f = open_memstream(&gen, &len);
    cfg_print_markdown(f);
    fclose(f);
    /* on a mismatch: build/viaduct --help-config-markdown, pasted between the markers */
    assert_text("README.md's table of settings", a, gen);
    free(gen);
    free(readme);
}

static void test_cfg_print_help_names_every_flag_and_variable(void **state)
{
    (void)state;
    static const char *const want[] = {
        "-c, --config FILE",  "--listen ADDR:PORT", "--backend ADDR:PORT", "--advertise HOST:PORT",
        "--alias HOST[:PORT]", "--workers N",       "--io uring|mmsg|auto", "--max-msg BYTES",
        "--record-route",     "--path",             "VIADUCT_HEALTH_ICMP_HOLDDOWN_MS",
        "VIADUCT_KEY_DEFAULT", "VIADUCT_CONFIG",    "--drain-seconds N",
        "VIADUCT_SHUTDOWN_DRAIN_SECONDS", "--log-format logfmt|json", "VIADUCT_LOG_LEVEL"};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cfg_print_help(f);
    fclose(f);
    for (size_t i = 0; i < ARRAY_LEN(want); i++)
        if (strstr(text, want[i]) == NULL)
            fail_msg("--help lacks '%s':\n%s", want[i], text);
    for (char *line = text; *line; line = strchr(line, '\n') + 1)
        assert_true(strcspn(line, "\n") <= 79);
    free(text);
}

static void test_cfg_print_flags_keep_their_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int has_arg;
    } flags[] = {{"config", required_argument},  {"listen", required_argument},
                 {"backend", required_argument}, {"advertise", required_argument},
                 {"alias", required_argument},   {"workers", required_argument},
                 {"io", required_argument},      {"max-msg", required_argument},
                 {"record-route", no_argument},  {"path", no_argument},
                 {"admin", required_argument},   {"admin-token-file", required_argument},
                 {"drain-seconds", required_argument},
                 {"log-format", required_argument},  {"log-level", required_argument},
                 {"dns-server", required_argument}};
    struct option o[64];
    int n = cfg_flag_options(o, 64, 1000);
    assert_int_equal(n, ARRAY_LEN(flags));
    for (size_t i = 0; i < ARRAY_LEN(flags); i++) {
        int k = 0;
        while (k < n && strcmp(o[k].name, flags[i].name) != 0)
            k++;
        if (k == n)
            fail_msg("no --%s", flags[i].name);
        assert_int_equal(o[k].has_arg, flags[i].has_arg);
        assert_true(o[k].val >= 1000);
    }
}

static void test_cfg_print_table_declares_each_setting_once_and_whole(void **state)
{
    (void)state;
    for (int i = 0; i < cfg_nopts; i++) {
        const struct cfg_opt *o = &cfg_opts[i];
        const char *dot = strchr(o->name, '.');
        if (o->help == NULL || o->help[0] == '\0')
            fail_msg("%s has no help", o->name);
        if (dot && strchr(dot + 1, '.'))
            fail_msg("%s: cfg_print knows one section level", o->name);
        if (o->env && strncmp(o->env, "VIADUCT_", 8) != 0)
            fail_msg("%s: variable %s", o->name, o->env);
        if (o->env == NULL && o->type != CFG_T_POOLS && o->type != CFG_T_RULES)
            fail_msg("%s has no variable", o->name);
        if (cfg_opt_is_list(o) != (o->type >= CFG_T_LISTEN && o->max > 0))
            fail_msg("%s: a list needs its most items in max", o->name);
        for (int j = 0; j < i; j++) {
            const struct cfg_opt *p = &cfg_opts[j];
            assert_string_not_equal(o->name, p->name);
            if (o->env && p->env)
                assert_string_not_equal(o->env, p->env);
            if (o->flag && p->flag)
                assert_string_not_equal(o->flag, p->flag);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_print_every_data_file_keeps_its_effective_configuration),
        cmocka_unit_test(test_cfg_print_env_and_flags_on_top_keep_their_effective_configuration),
        cmocka_unit_test(test_cfg_print_readme_table_is_the_generated_one),
        cmocka_unit_test(test_cfg_print_help_names_every_flag_and_variable),
        cmocka_unit_test(test_cfg_print_flags_keep_their_names),
        cmocka_unit_test(test_cfg_print_table_declares_each_setting_once_and_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
