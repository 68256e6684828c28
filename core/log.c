/*
 * log.c - see log.h. A line is formatted into a stack buffer and written with one
 * write(2): stdio's stderr is unbuffered and would write a line in pieces, which threads
 * then interleave.
 */
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const format_names[] = {"logfmt", "json"};

/* Process-wide, see log.h: set before the threads start, relaxed loads after. */
static atomic_int log_fmt = LOG_LOGFMT;
static atomic_int log_min = LOG_INFO;
static atomic_int log_fd = 2;

int log_parse_level(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

int log_parse_format(const char *s, enum log_format *out)
{
    for (int i = 0; i < 2; i++) {
        if (strcmp(s, format_names[i]) == 0) {
            *out = (enum log_format)i;
            return 0;
        }
    }
    return -1;
}

void log_setup(enum log_format f, enum log_level min, int fd)
{
    atomic_store(&log_fmt, (int)f);
    atomic_store(&log_min, (int)min);
    atomic_store(&log_fd, fd);
}

/* Appends to a buffer that keeps room for the final "\n" and a cut mark. */
struct out {
    char *p;
    size_t len, cap; /* cap excludes the reserve */
    bool cut;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        n = o->cap - o->len;
        o->cut = true;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* logfmt leaves a value bare when it has no space, '=', '"', '\\' or control byte. */
static bool bare(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '=' || *s == '"' || *s == '\\' || *s == 0x7f)
            return false;
    return true;
}

/* s in double quotes, escaped the same way for both formats (a JSON string is valid in
 * logfmt too): \" \\ \n \r \t, other control bytes as \u00XX. */
static void quoted(struct out *o, const char *s)
{
    char esc[8];
    put(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(o, esc, 2);
        } else if (c == '\n') {
            put(o, "\\n", 2);
        } else if (c == '\r') {
            put(o, "\\r", 2);
        } else if (c == '\t') {
            put(o, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(o, esc, 6);
        } else {
            put(o, (const char *)&c, 1);
        }
    }
    put(o, "\"", 1);
}

static void field(struct out *o, enum log_format f, bool first, const char *k, const char *v)
{
    if (f == LOG_JSON) {
        puts_(o, first ? "{" : ",");
        quoted(o, k);
        put(o, ":", 1);
        quoted(o, v);
        return;
    }
    if (!first)
        put(o, " ", 1);
    puts_(o, k);
    put(o, "=", 1);
    if (bare(v))
        puts_(o, v);
    else
        quoted(o, v);
}

/* One try at the line; false if it did not fit (then buf holds a cut line). */
static bool format_into(struct out *o, enum log_format f, const char *ts, enum log_level lv,
                        const struct log_kv *kv, int nkv, const char *msg)
{
    o->len = 0;
    o->cut = false;
    field(o, f, true, "ts", ts);
    field(o, f, false, "level", level_names[lv]);
    field(o, f, false, "msg", msg);
    for (int i = 0; i < nkv; i++)
        field(o, f, false, kv[i].k, kv[i].v ? kv[i].v : "");
    if (f == LOG_JSON)
        put(o, "}", 1);
    return !o->cut;
}

size_t log_format_line(char *buf, size_t cap, enum log_format f, int64_t realtime_ms,
                       enum log_level lv, const struct log_kv *kv, int nkv, const char *msg)
{
    struct out o = {buf, 0, cap - 1, false}; /* room for the '\n' */
    char ts[32];
    struct tm tm;
    time_t sec = (time_t)(realtime_ms / 1000);
    gmtime_r(&sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(realtime_ms % 1000));
    if (!format_into(&o, f, ts, lv, kv, nkv, msg)) {
        /* too long: the message shortened so that even escaped at 6 bytes a byte it fits,
         * so the line stays whole logfmt or JSON */
        char m[LOG_LINE_MAX];
        size_t keep = cap / 8 < sizeof(m) - 4 ? cap / 8 : sizeof(m) - 4;
        snprintf(m, keep + 1, "%s", msg);
        strcat(m, "...");
        format_into(&o, f, ts, lv, kv, nkv, m); /* still cut only if the fields are huge */
    }
    buf[o.len++] = '\n';
    return o.len;
}

static int64_t realtime_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void vlog(enum log_level lv, const struct log_kv *kv, int nkv, const char *fmt, va_list ap)
{
    if ((int)lv < atomic_load_explicit(&log_min, memory_order_relaxed))
        return;
    char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = log_format_line(
        line, sizeof(line), (enum log_format)atomic_load_explicit(&log_fmt, memory_order_relaxed),
        realtime_ms(), lv, kv, nkv, msg);
    int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, line + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to say it */
        off += (size_t)w;
    }
}

void log_line(enum log_level lv, const struct log_kv *kv, int nkv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(lv, kv, nkv, fmt, ap);
    va_end(ap);
}

/* ---- repeated lines ---- */

void log_limit_init(struct log_limit *l, const char *what, unsigned burst, unsigned interval_ms)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->mu, NULL);
    l->what = what;
    l->burst = burst;
    l->interval_ms = interval_ms;
}

void log_limit_fini(struct log_limit *l)
{
    pthread_mutex_destroy(&l->mu);
}

/* The count of the interval that ends, if any; under l->mu. */
static void held_line(struct log_limit *l, int64_t now_ms)
{
    if (l->held == 0)
        return;
    char n[16];
    snprintf(n, sizeof(n), "%u", l->held);
    struct log_kv kv[] = {{"suppressed", n}};
    log_line(LOG_WARN, kv, 1, "%s: %u more not logged in the last %lld s", l->what, l->held,
             (long long)((now_ms - l->start_ms + 999) / 1000));
    l->held = 0;
}

void log_limited(struct log_limit *l, int64_t now_ms, enum log_level lv, const struct log_kv *kv,
                 int nkv, const char *fmt, ...)
{
    pthread_mutex_lock(&l->mu);
    if (l->start_ms == 0 || now_ms - l->start_ms >= (int64_t)l->interval_ms) {
        held_line(l, now_ms);
        l->start_ms = now_ms;
        l->used = 0;
    }
    bool pass = l->used < l->burst;
    if (pass) {
        l->used++;
    } else if (l->held++ == 0) {
        log_line(LOG_WARN, NULL, 0, "%s: more than %u in %u s: the rest are counted, not logged",
                 l->what, l->burst, l->interval_ms / 1000);
    }
    if (pass) {
        /* under the mutex, so the count of a later interval cannot come before it */
        va_list ap;
        va_start(ap, fmt);
        vlog(lv, kv, nkv, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&l->mu);
}

void log_limit_flush(struct log_limit *l, int64_t now_ms)
{
    pthread_mutex_lock(&l->mu);
    held_line(l, now_ms);
    pthread_mutex_unlock(&l->mu);
}
