/*
 * cfg_print.c - what the declaration table prints: the effective
 * configuration as YAML that cfg_load_file reads back (--check), the flags
 * and variables of --help, and the README's table of settings
 * (--help-config-markdown; test_cfg checks that the README holds exactly
 * this text, so the two cannot drift). All three walk cfg_opts[] in its
 * order; a setting added there appears in each without a change here, as
 * long as its type has a case below.
 */
#include "core/cfg_internal.h"

#include <string.h>

#define ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- --check ---- */

/* A double-quoted YAML string; the checkers admit no control characters,
 * but escape them anyway so the output always parses. */
static void print_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* ["a", "b"] from n strings stride bytes apart. */
static void print_list(FILE *f, const char *first, size_t stride, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        print_str(f, first + (size_t)i * stride);
    }
    fputc(']', f);
}

static void print_key(FILE *f, enum cfg_key k, const char *hdr)
{
    if (k == CFG_KEY_HEADER) {
        fputs("{header: ", f);
        print_str(f, hdr);
        fputc('}', f);
    } else if ((int)k >= 0 && k < CFG_KEY_HEADER) {
        fputs(cfg_key_names[k], f);
    }
}

static void print_match(FILE *f, const struct cfg_rule *r)
{
    const char *sep = "";
    fputs("  - match: {", f);
    if (r->nmethods) {
        fputs("method: ", f);
        print_list(f, r->methods[0], sizeof(r->methods[0]), r->nmethods);
        sep = ", ";
    }
    if (r->nruri_domains) {
        fprintf(f, "%sruri_domain: ", sep);
        print_list(f, r->ruri_domains[0], sizeof(r->ruri_domains[0]), r->nruri_domains);
        sep = ", ";
    }
    if (r->nto_domains) {
        fprintf(f, "%sto_domain: ", sep);
        print_list(f, r->to_domains[0], sizeof(r->to_domains[0]), r->nto_domains);
        sep = ", ";
    }
    if (r->nsources) {
        char cidr[CFG_MAX_MATCH][64];
        for (int i = 0; i < r->nsources; i++)
            cfg_format_cidr(&r->sources[i], cidr[i], sizeof(cidr[i]));
        fprintf(f, "%ssource: ", sep);
        print_list(f, cidr[0], sizeof(cidr[0]), r->nsources);
    }
    fputs("}\n", f);
}

static void print_cidrs(FILE *f, const struct cfg_cidrs *l)
{
    char cidr[CFG_MAX_ACL][64];
    for (int i = 0; i < l->n; i++)
        cfg_format_cidr(&l->v[i], cidr[i], sizeof(cidr[i]));
    print_list(f, cidr[0], sizeof(cidr[0]), l->n);
}

static void print_listen(FILE *f, const struct cfg *c)
{
    fprintf(f, "listen:%s\n", c->nlisten ? "" : " []");
    for (int i = 0; i < c->nlisten; i++) {
        const struct cfg_listen_sec *ls = &c->listen_sec[i];
        fputs("  - address: ", f);
        print_str(f, c->listen[i]);
        if (c->advertise[i][0]) {
            fputs("\n    advertise: ", f);
            print_str(f, c->advertise[i]);
        }
        if (ls->has_allow) {
            fputs("\n    allow: ", f);
            print_cidrs(f, &ls->allow);
        }
        if (ls->has_deny) {
            fputs("\n    deny: ", f);
            print_cidrs(f, &ls->deny);
        }
        if (ls->has_acl_403)
            fprintf(f, "\n    acl_403: %s", ls->acl_403 ? "true" : "false");
        const uint32_t lim[4] = {ls->lim.rate, ls->lim.burst, ls->lim.dialog_rate,
                                 ls->lim.dialog_burst};
        static const char *const names[4] = {"rate", "burst", "dialog_rate", "dialog_burst"};
        for (int k = 0; k < 4; k++)
            if (lim[k] != CFG_LIMIT_INHERIT)
                fprintf(f, "\n    %s: %u", names[k], lim[k]);
        fputc('\n', f);
    }
}

static void print_pools(FILE *f, const struct cfg *c)
{
    fputs("pools:\n", f);
    for (int i = 0; i < c->npools; i++) {
        const struct cfg_pool *p = &c->pools[i];
        fputs("  - name: ", f);
        print_str(f, p->name);
        fprintf(f, "\n    backends:%s\n", p->nbackends ? "" : " []");
        for (int j = 0; j < p->nbackends; j++) {
            const struct cfg_backend *b = &p->backends[j];
            fputs("      - {address: ", f);
            print_str(f, b->address);
            if (b->name[0]) {
                fputs(", name: ", f);
                print_str(f, b->name);
            }
            fprintf(f, ", weight: %u, drain: %s}\n", b->weight, b->drain ? "true" : "false");
        }
    }
}

/* What a request that matches no rule gets, as a comment after the rules
 * when it is not the default pool: nothing (a rule catches every request),
 * or 404 (the default pool is empty beside rules: px_route.c). */
static void print_no_match(FILE *f, const struct cfg *c)
{
    if (c->npools == 0 || c->pools[0].nbackends > 0 || c->nrules == 0)
        return;
    for (int i = 0; i < c->nrules; i++) {
        const struct cfg_rule *r = &c->rules[i];
        if (!r->nmethods && !r->nruri_domains && !r->nto_domains && !r->nsources)
            return; /* a catch-all: no request is left over */
    }
    fputs("# no rule matches: answered 404 Not Found (pool default has no backends)\n", f);
}

static void print_rules(FILE *f, const struct cfg *c)
{
    fprintf(f, "rules:%s\n", c->nrules ? "" : " []");
    for (int i = 0; i < c->nrules; i++) {
        const struct cfg_rule *r = &c->rules[i];
        bool any = r->nmethods || r->nruri_domains || r->nto_domains || r->nsources;
        if (any)
            print_match(f, r);
        fputs(any ? "    pool: " : "  - pool: ", f);
        print_str(f, r->pool);
        fputc('\n', f);
        if (r->has_key) {
            fputs("    key: ", f);
            print_key(f, r->key, r->key_header);
            fputc('\n', f);
        }
    }
    print_no_match(f, c);
}

/* One setting; key is its name in its section, ind the section's indent. */
static void print_opt(FILE *f, const struct cfg *c, const struct cfg_opt *o, const char *ind,
                      const char *key)
{
    const char *field = (const char *)c + o->off;
    char v[32];
    switch (o->type) {
    case CFG_T_INT_AUTO:
    case CFG_T_U32:
    case CFG_T_PRIME:
    case CFG_T_BOOL:
    case CFG_T_IO:
        cfg_opt_format(c, o, v, sizeof(v));
        fprintf(f, "%s%s: %s\n", ind, key, v);
        break;
    case CFG_T_KEY:
        fprintf(f, "%s%s: ", ind, key);
        print_key(f, *(const enum cfg_key *)(const void *)field, (const char *)c + o->aux);
        fputc('\n', f);
        break;

    case CFG_T_LISTEN: print_listen(f, c); break;
    case CFG_T_ADVERTISE:
        /* an advertise without a listen address yet (validate adds the default one) */
        if (c->nlisten == 0 && c->advertise[0][0]) {
            fprintf(f, "%s%s: ", ind, key);
            print_str(f, c->advertise[0]);
            fputc('\n', f);
        }
        break;
    case CFG_T_ALIASES:
        fprintf(f, "%s%s: ", ind, key);
        print_list(f, c->aliases[0], sizeof(c->aliases[0]), c->naliases);
        fputc('\n', f);
        break;
    case CFG_T_DNS_SERVERS:
        fprintf(f, "%s%s: ", ind, key);
        print_list(f, c->dns.servers[0], sizeof(c->dns.servers[0]), c->dns.nservers);
        fputc('\n', f);
        break;
    case CFG_T_RELAY:
    case CFG_T_PATH:
        cfg_opt_format(c, o, v, sizeof(v));
        fprintf(f, "%s%s: %s\n", ind, key, v);
        break;
    case CFG_T_STR:
        /* a secret is never printed: only whether it is set, as a comment */
        if (o->fl & CFG_SECRET) {
            fprintf(f, "%s# %s: %s\n", ind, key, *field ? "set (redacted)" : "not set");
            break;
        }
        if (field[0] != '\0') { /* an empty one is the default: no value */
            fprintf(f, "%s%s: ", ind, key);
            print_str(f, field);
            fputc('\n', f);
        }
        break;
    case CFG_T_CIDRS:
        fprintf(f, "%s%s: [", ind, key);
        for (int i = 0; i < c->security.ntrusted; i++) {
            char cidr[64];
            cfg_format_cidr(&c->security.trusted[i], cidr, sizeof(cidr));
            fprintf(f, "%s\"%s\"", i ? ", " : "", cidr);
        }
        fputs("]\n", f);
        break;
    case CFG_T_CODES:
        fprintf(f, "%s%s: [", ind, key);
        for (int i = 0; i < c->health.ncodes; i++)
            fprintf(f, "%s%u", i ? ", " : "", c->health.codes[i]);
        fputs("]\n", f);
        break;
    case CFG_T_ACL:
        fprintf(f, "%s%s: ", ind, key);
        print_cidrs(f, (const struct cfg_cidrs *)(const void *)field);
        fputc('\n', f);
        break;
    case CFG_T_UAS:
        fprintf(f, "%s%s: ", ind, key);
        print_list(f, c->security.block_ua[0], sizeof(c->security.block_ua[0]),
                   c->security.nblock_ua);
        fputc('\n', f);
        break;
    case CFG_T_POOLS: print_pools(f, c); break;
    case CFG_T_RULES: print_rules(f, c); break;
    case CFG_T_BACKENDS: /* in pools */
    case CFG_T_CONFIG: break;
    }
}

void cfg_print(FILE *f, const struct cfg *c)
{
    const char *sect = NULL; /* the section printed last, as "health." */
    fputs("# viaduct: the effective configuration\n", f);
    for (int i = 0; i < cfg_nopts; i++) {
        const struct cfg_opt *o = &cfg_opts[i];
        const char *dot = strchr(o->name, '.');
        if ((o->fl & CFG_NO_FILE) && !(o->fl & CFG_SECRET))
            continue;
        if (dot == NULL) {
            sect = NULL;
            print_opt(f, c, o, "", o->name);
            continue;
        }
        size_t sl = (size_t)(dot - o->name) + 1;
        if (sect == NULL || strncmp(sect, o->name, sl) != 0) {
            fprintf(f, "%.*s:\n", (int)sl - 1, o->name);
            sect = o->name;
        }
        print_opt(f, c, o, "  ", dot + 1);
    }
}

/* ---- --help ---- */

#define HELP_COL 25   /* where the help text starts */
#define HELP_WIDTH 79 /* and the column it stays within */

/* Writes text from column col, breaking lines at spaces before HELP_WIDTH. */
static void wrap(FILE *f, const char *text, int col)
{
    int at = col;
    while (*text) {
        size_t w = strcspn(text, " ");
        if (at > col && at + 1 + (int)w > HELP_WIDTH) {
            fprintf(f, "\n%*s", col, "");
            at = col;
        } else if (at > col) {
            fputc(' ', f);
            at++;
        }
        fwrite(text, 1, w, f);
        at += (int)w;
        text += w;
        text += strspn(text, " ");
    }
    fputc('\n', f);
}

void cfg_print_help_line(FILE *f, const char *flag, const char *help)
{
    int n = fprintf(f, "  %s", flag);
    if (n >= HELP_COL - 1) {
        fprintf(f, "\n%*s", HELP_COL, "");
    } else {
        fprintf(f, "%*s", HELP_COL - n, "");
    }
    wrap(f, help, HELP_COL);
}

/* "-c, --config FILE", "--listen ADDR:PORT", "--path". */
static void flag_text(const struct cfg_opt *o, char *buf, size_t len)
{
    snprintf(buf, len, "%s--%s%s%s", o->type == CFG_T_CONFIG ? "-c, " : "", o->flag,
             o->arg ? " " : "", o->arg ? o->arg : "");
}

void cfg_print_help(FILE *f)
{
    char flag[64], dflt[64], help[512];
    for (int i = 0; i < cfg_nopts; i++) {
        const struct cfg_opt *o = &cfg_opts[i];
        if (o->flag == NULL)
            continue;
        flag_text(o, flag, sizeof(flag));
        cfg_opt_default(o, dflt, sizeof(dflt));
        snprintf(help, sizeof(help), "%s (%sdefault %s)", o->help,
                 cfg_opt_is_list(o) ? "repeatable; " : "", dflt);
        cfg_print_help_line(f, flag, help);
    }
    fputs("Each setting also comes from a variable (lists comma-separated):\n", f);
    /* its own buffer, room for every name: one help text's 512 bytes cut the list short */
    char vars[64 * 40] = "";
    for (int i = 0; i < cfg_nopts; i++) {
        size_t k = strlen(vars);
        if (cfg_opts[i].env)
            snprintf(vars + k, sizeof(vars) - k, "%s%s", k ? " " : "", cfg_opts[i].env);
    }
    fputs("  ", f);
    wrap(f, vars, 2);
}

/* ---- the README's table ---- */

/* s in a Markdown table cell: '|' would end the cell. */
static void md_cell(FILE *f, const char *s, bool code)
{
    fputs(code ? " `" : " ", f);
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputs(code ? "` |" : " |", f);
}

void cfg_print_markdown(FILE *f)
{
    char buf[512];
    fputs("| setting | variable | flag | values | default | what it does |\n"
          "| --- | --- | --- | --- | --- | --- |\n",
          f);
    for (int i = 0; i < cfg_nopts; i++) {
        const struct cfg_opt *o = &cfg_opts[i];
        fputc('|', f);
        if (o->fl & CFG_NO_FILE)
            md_cell(f, "(not in the file)", false);
        else
            md_cell(f, o->name, true);
        md_cell(f, o->env ? o->env : "(file only)", o->env != NULL);
        if (o->flag) {
            flag_text(o, buf, sizeof(buf));
            md_cell(f, buf, true);
        } else {
            md_cell(f, "", false);
        }
        cfg_opt_values(o, buf, sizeof(buf));
        md_cell(f, buf, false);
        cfg_opt_default(o, buf, sizeof(buf));
        md_cell(f, buf, false);
        md_cell(f, o->help, false);
        fputc('\n', f);
    }
}
