/*
 * cfg_scan.c - bounds a YAML file's nesting before libyaml sees it.
 *
 * libyaml's loader is quadratic in nesting depth: a 200 KB file of nested
 * brackets took 63 s in --check, and a SIGHUP with it would stall reloads as
 * long. viaduct's schema nests four levels deep (rules[].match.method[]), so
 * a bound of CFG_DEPTH_MAX costs no real file anything. This scanner counts
 * what libyaml would nest: block levels (indentation, and each "- " of a
 * sequence entry) plus flow brackets ([ and {), skipping quoted scalars,
 * comments and block scalars (| and >), whose text nests nothing. It errs on
 * the generous side where YAML is subtle: it only has to be right about
 * files far past the bound, not about every corner of the grammar.
 */
#include "core/cfg_internal.h"

#include <stdio.h>
#include <string.h>

struct scan {
    int ind[CFG_DEPTH_MAX + 2]; /* open block levels: their indentation columns */
    int nind;
    int flow;     /* open [ and { */
    char quote;   /* '\'' or '"' inside a quoted scalar (which may span lines), else 0 */
    int bs_level; /* inside a block scalar: its parent's indentation, else -1 */
};

/* Opens a block level at column col unless it is the innermost already. */
static bool push_level(struct scan *s, int col)
{
    while (s->nind > 0 && s->ind[s->nind - 1] > col)
        s->nind--;
    if (s->nind == 0 || s->ind[s->nind - 1] < col) {
        if (s->nind == CFG_DEPTH_MAX + 1)
            return false;
        s->ind[s->nind++] = col;
    }
    return true;
}

/* A block scalar indicator ("|", ">-", "|2+") is all that is left at p. */
static bool block_scalar_at(const char *p, const char *end)
{
    if (p == end || (*p != '|' && *p != '>'))
        return false;
    for (p++; p < end && *p != ' ' && *p != '\t' && *p != '#'; p++)
        if (*p != '+' && *p != '-' && (*p < '1' || *p > '9'))
            return false;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p == end || *p == '#';
}

/* Scans one line (without its line break); false once it nests too deep. */
static bool scan_line(struct scan *s, const char *p, const char *end)
{
    const char *q = p;
    while (q < end && *q == ' ')
        q++;
    int col = (int)(q - p);
    if (s->bs_level >= 0) {
        if (q == end || col > s->bs_level)
            return true; /* the block scalar's text */
        s->bs_level = -1;
    }
    if (s->quote == 0) {
        if (q == end || *q == '#')
            return true; /* blank or a comment: nests nothing */
        if (s->flow == 0) {
            if (!push_level(s, col))
                return false;
            while (q < end && *q == '-' && (q + 1 == end || q[1] == ' ')) {
                for (q++; q < end && *q == ' '; q++)
                    ;
                if (!push_level(s, (int)(q - p)))
                    return false;
            }
        }
    } else {
        q = p; /* a quoted scalar goes on from the line before */
    }
    char prev = ' ';
    for (; q < end; prev = *q++) {
        char ch = *q;
        bool token_start = prev == ' ' || prev == '\t' ||
                           (s->flow > 0 && (prev == '[' || prev == '{' || prev == ','));
        if (s->quote == '"') {
            if (ch == '\\' && q + 1 < end)
                q++;
            else if (ch == '"')
                s->quote = 0;
        } else if (s->quote == '\'') {
            if (ch == '\'' && q + 1 < end && q[1] == '\'')
                q++;
            else if (ch == '\'')
                s->quote = 0;
        } else if ((ch == '"' || ch == '\'') && token_start) {
            s->quote = ch;
        } else if (ch == '#' && token_start) {
            return true; /* a comment to the end of the line */
        } else if ((ch == '[' || ch == '{') && (s->flow > 0 || token_start)) {
            if (++s->flow + s->nind > CFG_DEPTH_MAX)
                return false;
        } else if ((ch == ']' || ch == '}') && s->flow > 0) {
            s->flow--;
        } else if (s->flow == 0 && token_start && block_scalar_at(q, end)) {
            s->bs_level = col;
            return true;
        }
    }
    return s->flow + s->nind <= CFG_DEPTH_MAX;
}

int cfg_yaml_bound(const char *buf, size_t len, const char *file, char *err, size_t errlen)
{
    if (len > CFG_FILE_MAX) {
        snprintf(err, errlen, "%s: %zu bytes, larger than %d: not a configuration file", file, len,
                 CFG_FILE_MAX);
        return -1;
    }
    struct scan s = {.nind = 0, .flow = 0, .quote = 0, .bs_level = -1};
    const char *p = buf, *end = buf + len;
    for (int line = 1; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol ? eol : end;
        if (stop > p && stop[-1] == '\r')
            stop--;
        if (!scan_line(&s, p, stop)) {
            snprintf(err, errlen, "%s:%d: nesting deeper than %d", file, line, CFG_DEPTH_MAX);
            return -1;
        }
        p = eol ? eol + 1 : end;
    }
    return 0;
}
