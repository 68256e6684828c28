/*
 * viaduct_parse.c - viaduct-parse: runs viaduct's SIP parser over captured datagrams and says,
 * per file, whether the forwarder would accept the message and, if not, exactly why.
 *
 * Each FILE holds one UDP datagram as received ("-" reads stdin), at most 65535 bytes. "ok"
 * means sip_parse() indexed it AND sip_validate() accepted what a stateless proxy reads from
 * every message. One line per file, in argument order:
 *
 *   $ build/viaduct-parse corpus/rfc4475/wsinv.dat corpus/rfc4475/badvers.dat
 *   corpus/rfc4475/wsinv.dat: ok request INVITE
 *   corpus/rfc4475/badvers.dat: error SIP_EVERSION (SIP version is not 2.0) at line 1 col 34 (b...
 *   $ build/viaduct-parse --json a.sip b.sip | python3 -m json.tool --json-lines
 *
 * An error found while indexing says where: "at line L col C" (1-based, col in bytes) and the
 * byte found there. An error found by sip_validate() names the field it was reading and where
 * its value starts ("in top Via at line 12 col 7"). Files that cannot be read give
 * "error READ_ERROR (reason)" or "error TOO_LARGE (...)".
 *
 * --json prints JSON Lines: one object per file, each on its own line (streams through
 * grep/head; wrap the lines in [ ] if an array is wanted). Keys, always in this order:
 *   file, ok, datagram_len,
 *   error: null, or {name, id, code, text, stage (read|index|validate), line, col, byte, field};
 * then, once the whole message is indexed (it is ok, sip_validate() refused it, or the error
 * is SIP_EVERSION, which sip_parse() returns only after indexing the rest):
 *   start_line: {kind, method, method_id, ruri, version} or {kind, status, reason, version},
 *   headers: [{name, canonical, value}], via_count,
 *   via: {protocol, version, transport, host, host_type, port, params, branch,
 *         branch_rfc3261, received, rport, maddr, ttl},
 *   call_id, cseq: {number, method}, max_forwards, from, to: {display, uri, tag, bracketed},
 *   ruri (requests): {scheme, scheme_name, user, password, host, host_type, port, params,
 *         headers} or {scheme, scheme_name, opaque},
 *   body_length, hdr_len, msg_len, trailing_bytes (bytes past msg_len, RFC 3261 §18.3).
 * Absent values are null (a present but empty one is ""). When sip_validate() failed, every
 * deep field is still parsed on its own so the rest can be seen; one that fails is
 * {"error": NAME}. Strings carry the message bytes: valid UTF-8 as is, control bytes,
 * DEL and bytes that are not valid UTF-8 as \u00XX (so \u00e9 may be one raw byte 0xE9).
 *
 * Exit status: 0 if every file parsed and validated, 1 if any did not, 2 on a usage error or
 * an unreadable file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parser/sip.h"

#define MAX_DATAGRAM 65535

static const char usage[] =
    "usage: viaduct-parse [--json] FILE...\n"
    "  Parses each FILE as one SIP datagram (\"-\" reads stdin) with viaduct's parser and\n"
    "  prints one line per file:\n"
    "    FILE: ok request METHOD | FILE: ok response CODE | FILE: error NAME (text) [where]\n"
    "  ok = sip_parse and sip_validate both accepted it.\n"
    "  --json  one JSON object per file, one per line (JSON Lines)\n"
    "  --help  this text\n"
    "  Exit status: 0 all ok, 1 some file was refused, 2 usage error or unreadable file.\n";

/* ---- reading ---- */

enum read_result { READ_OK, READ_TOO_LARGE, READ_FAILED };

/* Reads the whole file (stdin for "-") into buf[0..MAX_DATAGRAM]; *len gets the size, or for
 * READ_TOO_LARGE at least MAX_DATAGRAM + 1. On READ_FAILED errno says why. */
static enum read_result read_datagram(const char *path, char *buf, size_t *len)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return READ_FAILED;
    size_t n = 0;
    enum read_result res = READ_OK;
    for (;;) {
        char *dst = buf + n;
        size_t room = MAX_DATAGRAM + 1 - n;
        if (room == 0) { /* one byte beyond the limit proves it is too large */
            res = READ_TOO_LARGE;
            break;
        }
        ssize_t r = read(fd, dst, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            res = READ_FAILED;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    int saved = errno;
    if (fd != STDIN_FILENO)
        close(fd);
    errno = saved;
    *len = n;
    return res;
}

/* ---- names ---- */

static const char *const method_names[] = {
    "OTHER", "INVITE",    "ACK",    "BYE",    "CANCEL",  "REGISTER", "OPTIONS", "INFO",
    "PRACK", "SUBSCRIBE", "NOTIFY", "UPDATE", "MESSAGE", "REFER",    "PUBLISH",
};

static const char *method_name(unsigned id)
{
    return id < sizeof(method_names) / sizeof(method_names[0]) ? method_names[id] : "?";
}

static const char *host_type_name(unsigned t)
{
    return t == SIP_HOST_IPV4 ? "ipv4" : t == SIP_HOST_IPV6 ? "ipv6" : "name";
}

static const char *scheme_name(unsigned s)
{
    return s == SIP_SCHEME_SIP ? "sip" : s == SIP_SCHEME_SIPS ? "sips" : "other";
}

/* ---- deep fields, and where a validation error is ---- */

/* Per-field results of the deep parsers: 0, or the error that field gave. */
struct field_errs {
    int via, from, to, cseq, max_fwd, ruri;
};

/*
 * Fills info the way sip_validate() would, but parses every field on its own and keeps going
 * past a failure, so a refused message still shows everything that can be read. Used when
 * sip_validate() failed or was not reached (SIP_EVERSION); its own output is shown otherwise.
 */
static void deep_parse_each(const struct sip_msg *m, struct sip_info *info, struct field_errs *fe)
{
    memset(info, 0, sizeof(*info));
    memset(fe, 0, sizeof(*fe));
    info->max_fwd = -1;
    if (m->nvia > 0)
        fe->via = sip_via_parse(m->via[0], &info->via1);
    info->callid = sip_hvalue(m, SIP_H_CALL_ID);
    struct span v = sip_hvalue(m, SIP_H_FROM);
    if (v.p != NULL)
        fe->from = sip_nameaddr_parse(v, &info->from);
    v = sip_hvalue(m, SIP_H_TO);
    if (v.p != NULL)
        fe->to = sip_nameaddr_parse(v, &info->to);
    v = sip_hvalue(m, SIP_H_CSEQ);
    if (v.p != NULL)
        fe->cseq = sip_cseq_parse(v, &info->cseq, &info->cseq_method);
    v = sip_hvalue(m, SIP_H_MAX_FORWARDS);
    if (v.p != NULL) {
        int mf = sip_maxfwd_parse(v);
        if (mf < 0)
            fe->max_fwd = mf;
        else
            info->max_fwd = mf;
    }
    if (m->is_request)
        fe->ruri = sip_uri_parse(m->ruri, &info->ruri);
}

struct where {
    const char *field; /* what was being read, NULL if unknown */
    const char *at;    /* byte in the datagram, NULL if none */
};

/* Which field a sip_validate() error came from, and where its value starts. */
static struct where locate_validate_error(const struct sip_msg *m, const struct field_errs *fe,
                                          int err)
{
    struct where w = {NULL, NULL};
    switch (err) {
    case SIP_EVIA:
        w.field = "top Via";
        w.at = m->nvia > 0 ? m->via[0].p : NULL;
        break;
    case SIP_ECALLID:
        w.field = "Call-ID";
        w.at = sip_hvalue(m, SIP_H_CALL_ID).p;
        break;
    case SIP_ENAMEADDR:
    case SIP_EQUOTE:
    case SIP_EURI:
        if (fe->from == err) {
            w.field = "From";
            w.at = sip_hvalue(m, SIP_H_FROM).p;
        } else if (fe->to == err) {
            w.field = "To";
            w.at = sip_hvalue(m, SIP_H_TO).p;
        } else if (m->is_request && err == SIP_EURI) {
            w.field = "Request-URI";
            w.at = m->ruri.p;
        }
        break;
    case SIP_ECSEQ:
    case SIP_ECSEQMETHOD:
        w.field = "CSeq";
        w.at = sip_hvalue(m, SIP_H_CSEQ).p;
        break;
    case SIP_EMAXFWD:
        w.field = "Max-Forwards";
        w.at = sip_hvalue(m, SIP_H_MAX_FORWARDS).p;
        break;
    case SIP_ERURI:
        w.field = "Request-URI";
        w.at = m->is_request ? m->ruri.p : NULL;
        break;
    default: /* SIP_ENO*: nothing to point at */ break;
    }
    return w;
}

/* 1-based line and byte column of at in buf; false if at is not inside [buf, buf + len]. */
static bool line_col(const char *buf, size_t len, const char *at, size_t *line, size_t *col)
{
    if (at == NULL || at < buf || at > buf + len)
        return false;
    size_t l = 1;
    const char *bol = buf;
    for (const char *p = buf; p < at; p++) {
        if (*p == '\n') {
            l++;
            bol = p + 1;
        }
    }
    *line = l;
    *col = (size_t)(at - bol) + 1;
    return true;
}

/* ---- one file's verdict ---- */

struct verdict {
    const char *path;
    const char *buf;
    size_t len;
    enum read_result rd;
    int rd_errno;
    int err;           /* 0, or the sip_err of the stage that failed */
    const char *stage; /* "index" or "validate" when err != 0 */
    struct where where;
    struct sip_msg *m;
    struct sip_info *info;
    struct field_errs fe;
};

/* Runs the parser over v->buf and fills the verdict; m and info are the caller's. */
static void judge(struct verdict *v, struct sip_msg *m, struct sip_info *info)
{
    v->m = m;
    v->info = info;
    memset(&v->fe, 0, sizeof(v->fe));
    v->where = (struct where){NULL, NULL};
    int r = sip_parse(v->buf, v->len, m);
    if (r < 0) {
        v->err = r;
        v->stage = "index";
        v->where.at = m->err_at;
        if (r == SIP_EVERSION) /* indexed all the same (sip.h), so its fields can be shown */
            deep_parse_each(m, info, &v->fe);
        return;
    }
    r = sip_validate(m, info);
    if (r < 0) {
        v->err = r;
        v->stage = "validate";
        deep_parse_each(m, info, &v->fe);
        v->where = locate_validate_error(m, &v->fe, r);
        return;
    }
    v->err = 0;
}

/* ---- text output ---- */

static void print_where_text(FILE *f, const struct verdict *v)
{
    size_t line, col;
    bool have = line_col(v->buf, v->len, v->where.at, &line, &col);
    if (v->where.field != NULL)
        fprintf(f, " in %s", v->where.field);
    if (!have)
        return;
    fprintf(f, " at line %zu col %zu", line, col);
    if (v->where.field != NULL)
        return;
    if (v->where.at == v->buf + v->len)
        fputs(" (end of datagram)", f);
    else
        fprintf(f, " (byte 0x%02x)", (unsigned char)*v->where.at);
}

static void print_text(FILE *f, const struct verdict *v)
{
    fprintf(f, "%s: ", v->path);
    if (v->rd == READ_FAILED) {
        fprintf(f, "error READ_ERROR (%s)\n", strerror(v->rd_errno));
        return;
    }
    if (v->rd == READ_TOO_LARGE) {
        fprintf(f, "error TOO_LARGE (more than %d bytes, the largest UDP datagram)\n",
                MAX_DATAGRAM);
        return;
    }
    if (v->err != 0) {
        fprintf(f, "error %s (%s)", sip_err_name(v->err), sip_err_text(v->err));
        print_where_text(f, v);
        putc('\n', f);
        return;
    }
    if (v->m->is_request) {
        fputs("ok request ", f);
        fwrite(v->m->method.p, 1, v->m->method.len, f);
        putc('\n', f);
    } else {
        fprintf(f, "ok response %d\n", v->m->status);
    }
}

/* ---- JSON output ---- */

/* A JSON writer that places the commas: jw_key() before each member, jw_item() before each
 * array element, then exactly one value. */
struct jw {
    FILE *f;
    int depth;
    bool more[8]; /* an element was already written at this depth */
};

static void jw_item(struct jw *w)
{
    if (w->more[w->depth])
        putc(',', w->f);
    w->more[w->depth] = true;
}

static void jw_key(struct jw *w, const char *k)
{
    jw_item(w);
    fprintf(w->f, "\"%s\":", k);
}

static void jw_open(struct jw *w, char c)
{
    putc(c, w->f);
    w->more[++w->depth] = false;
}

static void jw_close(struct jw *w, char c)
{
    putc(c, w->f);
    w->depth--;
}

/* Length of the valid UTF-8 sequence of 2..4 bytes at p, or 0 (RFC 3629 table: no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_multibyte(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return need;
}

static void jw_bytes(struct jw *w, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    putc('"', w->f);
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            putc('\\', w->f);
            putc(c, w->f);
        } else if (c == '\r') {
            fputs("\\r", w->f);
        } else if (c == '\n') {
            fputs("\\n", w->f);
        } else if (c == '\t') {
            fputs("\\t", w->f);
        } else if (c >= 0x20 && c < 0x7f) {
            putc(c, w->f);
        } else if (c >= 0x80) {
            size_t n = utf8_multibyte(p + i, len - i);
            if (n > 0) {
                fwrite(p + i, 1, n, w->f);
                i += n;
                continue;
            }
            fprintf(w->f, "\\u%04x", c);
        } else { /* other control bytes, NUL and DEL */
            fprintf(w->f, "\\u%04x", c);
        }
        i++;
    }
    putc('"', w->f);
}

static void jw_span(struct jw *w, struct span s)
{
    if (s.p == NULL)
        fputs("null", w->f);
    else
        jw_bytes(w, s.p, s.len);
}

static void jw_str(struct jw *w, const char *s)
{
    if (s == NULL)
        fputs("null", w->f);
    else
        jw_bytes(w, s, strlen(s));
}

static void jw_int(struct jw *w, long long n)
{
    fprintf(w->f, "%lld", n);
}

static void jw_bool(struct jw *w, bool b)
{
    fputs(b ? "true" : "false", w->f);
}

static void jw_null(struct jw *w)
{
    fputs("null", w->f);
}

/* A port: null when absent (-1). */
static void jw_port(struct jw *w, int32_t port)
{
    if (port < 0)
        jw_null(w);
    else
        jw_int(w, port);
}

/* Writes {"error": NAME} for a field that failed; returns true if it did. */
static bool jw_field_error(struct jw *w, int err)
{
    if (err == 0)
        return false;
    jw_open(w, '{');
    jw_key(w, "error");
    jw_str(w, sip_err_name(err));
    jw_close(w, '}');
    return true;
}

static void json_error(struct jw *w, const struct verdict *v)
{
    jw_key(w, "error");
    if (v->rd == READ_OK && v->err == 0) {
        jw_null(w);
        return;
    }
    jw_open(w, '{');
    if (v->rd != READ_OK) {
        bool big = v->rd == READ_TOO_LARGE;
        jw_key(w, "name");
        jw_str(w, big ? "TOO_LARGE" : "READ_ERROR");
        jw_key(w, "text");
        jw_str(w, big ? "more than 65535 bytes, the largest UDP datagram" : strerror(v->rd_errno));
        jw_key(w, "stage");
        jw_str(w, "read");
        jw_close(w, '}');
        return;
    }
    jw_key(w, "name");
    jw_str(w, sip_err_name(v->err));
    jw_key(w, "id");
    jw_str(w, sip_err_id(v->err));
    jw_key(w, "code");
    jw_int(w, v->err);
    jw_key(w, "text");
    jw_str(w, sip_err_text(v->err));
    jw_key(w, "stage");
    jw_str(w, v->stage);
    size_t line = 0, col = 0;
    bool have = line_col(v->buf, v->len, v->where.at, &line, &col);
    jw_key(w, "line");
    have ? jw_int(w, (long long)line) : jw_null(w);
    jw_key(w, "col");
    have ? jw_int(w, (long long)col) : jw_null(w);
    jw_key(w, "byte");
    if (have && v->where.field == NULL && v->where.at < v->buf + v->len)
        jw_int(w, (unsigned char)*v->where.at);
    else
        jw_null(w);
    jw_key(w, "field");
    jw_str(w, v->where.field);
    jw_close(w, '}');
}

static void json_start_line(struct jw *w, const struct sip_msg *m)
{
    jw_key(w, "start_line");
    jw_open(w, '{');
    jw_key(w, "kind");
    jw_str(w, m->is_request ? "request" : "response");
    if (m->is_request) {
        jw_key(w, "method");
        jw_span(w, m->method);
        jw_key(w, "method_id");
        jw_str(w, method_name(m->method_id));
        jw_key(w, "ruri");
        jw_span(w, m->ruri);
    } else {
        jw_key(w, "status"); /* 0 when SIP_EVERSION stopped the line before it */
        m->status > 0 ? jw_int(w, m->status) : jw_null(w);
        jw_key(w, "reason");
        jw_span(w, m->reason);
    }
    jw_key(w, "version");
    jw_span(w, m->version);
    jw_close(w, '}');
}

static void json_headers(struct jw *w, const struct sip_msg *m)
{
    jw_key(w, "headers");
    jw_open(w, '[');
    for (unsigned i = 0; i < m->nhdr; i++) {
        const struct sip_hdr *h = &m->hdr[i];
        jw_item(w);
        jw_open(w, '{');
        jw_key(w, "name");
        jw_span(w, h->name);
        jw_key(w, "canonical");
        if (h->id == SIP_H_OTHER)
            jw_null(w);
        else
            jw_span(w, sip_hname_canonical((enum sip_hid)h->id));
        jw_key(w, "value");
        jw_span(w, h->value);
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

static void json_via(struct jw *w, const struct sip_msg *m, const struct sip_via *via, int err)
{
    jw_key(w, "via_count");
    jw_int(w, m->nvia);
    jw_key(w, "via");
    if (m->nvia == 0) {
        jw_null(w);
        return;
    }
    if (jw_field_error(w, err))
        return;
    jw_open(w, '{');
    jw_key(w, "protocol");
    jw_span(w, via->protocol);
    jw_key(w, "version");
    jw_span(w, via->version);
    jw_key(w, "transport");
    jw_span(w, via->transport);
    jw_key(w, "host");
    jw_span(w, via->sent_by.host);
    jw_key(w, "host_type");
    jw_str(w, host_type_name(via->sent_by.host_type));
    jw_key(w, "port");
    jw_port(w, via->sent_by.port);
    jw_key(w, "params");
    jw_span(w, via->params);
    jw_key(w, "branch");
    jw_span(w, via->branch);
    jw_key(w, "branch_rfc3261");
    jw_bool(w, via->branch.p != NULL && sip_branch_is_rfc3261(via->branch));
    jw_key(w, "received");
    jw_span(w, via->received);
    jw_key(w, "rport");
    jw_span(w, via->rport);
    jw_key(w, "maddr");
    jw_span(w, via->maddr);
    jw_key(w, "ttl");
    jw_span(w, via->ttl);
    jw_close(w, '}');
}

static void json_nameaddr(struct jw *w, const char *key, const struct sip_msg *m, enum sip_hid id,
                          const struct sip_nameaddr *na, int err)
{
    jw_key(w, key);
    if (sip_hvalue(m, id).p == NULL) {
        jw_null(w);
        return;
    }
    if (jw_field_error(w, err))
        return;
    jw_open(w, '{');
    jw_key(w, "display");
    jw_span(w, na->display);
    jw_key(w, "uri");
    jw_span(w, na->uri);
    jw_key(w, "tag");
    jw_span(w, na->tag);
    jw_key(w, "bracketed");
    jw_bool(w, na->bracketed);
    jw_close(w, '}');
}

static void json_ruri(struct jw *w, const struct sip_uri *u, int err)
{
    jw_key(w, "ruri");
    if (jw_field_error(w, err))
        return;
    jw_open(w, '{');
    jw_key(w, "scheme");
    jw_str(w, scheme_name(u->scheme));
    jw_key(w, "scheme_name");
    jw_span(w, u->scheme_s);
    if (u->scheme == SIP_SCHEME_OTHER) {
        jw_key(w, "opaque");
        jw_span(w, u->opaque);
        jw_close(w, '}');
        return;
    }
    jw_key(w, "user");
    jw_span(w, u->user);
    jw_key(w, "password");
    jw_span(w, u->password);
    jw_key(w, "host");
    jw_span(w, u->hp.host);
    jw_key(w, "host_type");
    jw_str(w, host_type_name(u->hp.host_type));
    jw_key(w, "port");
    jw_port(w, u->hp.port);
    jw_key(w, "params");
    jw_span(w, u->params);
    jw_key(w, "headers");
    jw_span(w, u->headers);
    jw_close(w, '}');
}

/* Everything after the index pass: start line, headers, deep fields, framing. */
static void json_message(struct jw *w, const struct verdict *v)
{
    const struct sip_msg *m = v->m;
    const struct sip_info *info = v->info;
    const struct field_errs *fe = &v->fe;

    json_start_line(w, m);
    json_headers(w, m);
    json_via(w, m, &info->via1, fe->via);
    jw_key(w, "call_id");
    jw_span(w, sip_hvalue(m, SIP_H_CALL_ID));
    jw_key(w, "cseq");
    if (sip_hvalue(m, SIP_H_CSEQ).p == NULL) {
        jw_null(w);
    } else if (!jw_field_error(w, fe->cseq)) {
        jw_open(w, '{');
        jw_key(w, "number");
        jw_int(w, info->cseq);
        jw_key(w, "method");
        jw_span(w, info->cseq_method);
        jw_close(w, '}');
    }
    jw_key(w, "max_forwards");
    if (!jw_field_error(w, fe->max_fwd)) {
        if (info->max_fwd < 0)
            jw_null(w);
        else
            jw_int(w, info->max_fwd);
    }
    json_nameaddr(w, "from", m, SIP_H_FROM, &info->from, fe->from);
    json_nameaddr(w, "to", m, SIP_H_TO, &info->to, fe->to);
    if (m->is_request)
        json_ruri(w, &info->ruri, fe->ruri);
    jw_key(w, "body_length");
    jw_int(w, (long long)m->body.len);
    jw_key(w, "hdr_len");
    jw_int(w, (long long)m->hdr_len);
    jw_key(w, "msg_len");
    jw_int(w, (long long)m->msg_len);
    jw_key(w, "trailing_bytes");
    jw_int(w, m->msg_len <= v->len ? (long long)(v->len - m->msg_len) : -1);
}

/* True when the whole message was indexed: it parsed, or only a later stage refused it. */
static bool indexed(const struct verdict *v)
{
    return v->err == 0 || v->err == SIP_EVERSION || strcmp(v->stage, "validate") == 0;
}

static void print_json(FILE *f, const struct verdict *v)
{
    struct jw w = {.f = f, .depth = 0};
    jw_open(&w, '{');
    jw_key(&w, "file");
    jw_str(&w, v->path);
    jw_key(&w, "ok");
    jw_bool(&w, v->rd == READ_OK && v->err == 0);
    jw_key(&w, "datagram_len");
    if (v->rd != READ_OK)
        jw_null(&w);
    else
        jw_int(&w, (long long)v->len);
    json_error(&w, v);
    if (v->rd == READ_OK && indexed(v))
        json_message(&w, v);
    jw_close(&w, '}');
    putc('\n', f);
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    bool json = false;
    int first = 1;
    for (; first < argc; first++) {
        const char *a = argv[first];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--") == 0) {
            first++;
            break;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "viaduct-parse: unknown option %s\n%s", a, usage);
            return 2;
        } else {
            break;
        }
    }
    if (first >= argc) {
        fputs(usage, stderr);
        return 2;
    }

    static char filebuf[MAX_DATAGRAM + 1];
    static struct sip_msg m;
    static struct sip_info info;
    int status = 0;
    for (int i = first; i < argc; i++) {
        struct verdict v = {.path = argv[i]};
        size_t len = 0;
        char *copy = NULL;
        v.rd = read_datagram(v.path, filebuf, &len);
        v.rd_errno = errno;
        if (v.rd == READ_OK) {
            /* An exact-size heap copy: under ASan a read past the datagram faults at once. */
            copy = malloc(len > 0 ? len : 1);
            if (copy == NULL) {
                perror("viaduct-parse: malloc");
                return 2;
            }
            memcpy(copy, filebuf, len);
            v.buf = copy;
            v.len = len;
            judge(&v, &m, &info);
        } else {
            v.len = len;
        }
        if (json)
            print_json(stdout, &v);
        else
            print_text(stdout, &v);
        free(copy);
        if (v.rd == READ_FAILED)
            status = 2;
        else if ((v.rd != READ_OK || v.err != 0) && status == 0)
            status = 1;
    }
    if (fflush(stdout) != 0) {
        perror("viaduct-parse: stdout");
        return 2;
    }
    return status;
}
