/*
 * log.h - viaduct's log: one line per event on stderr.
 *
 *   logfmt (default):  ts=2026-12-02T07:30:15.123Z level=info msg="pool default: 2 backends, ..."
 *   json (log.format): {"ts":"2026-12-02T07:30:15.123Z","level":"info","msg":"pool default: ..."}
 *
 * An event may carry fields after msg (backend=reg-a pool=registrars from=up to=held), so a
 * log pipeline can select on them without parsing the message. Nothing logs per datagram:
 * the workers count (stats.h), they do not log. A site whose line may repeat (a flapping
 * backend) writes through a struct log_limit: a burst per interval, then a count.
 *
 * What is not a log event stays plain text: the counters SIGUSR1 prints ("name value"
 * lines, a report asked for), --check's YAML, --help, and the one-line reason viaduct gives
 * when it refuses to start (the configuration, log.format included, did not load).
 *
 * The format, the lowest level and the descriptor are process-wide, as stderr itself is
 * (the one exception to STYLE G12 besides the published configuration): log_setup sets
 * them before the threads start and a reload sets them again. Each line is one write(2),
 * so lines from several threads never interleave. Thread-safe; may block on stderr.
 */
#ifndef VIADUCT_LOG_H
#define VIADUCT_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_LOGFMT, LOG_JSON };

#define LOG_LINE_MAX 2048 /* a longer message is cut, with "..." */

/* One field after msg: a key of [a-z0-9_] and any value (quoted as the format needs). */
struct log_kv {
    const char *k, *v;
};

/* The names log.level and log.format take: 0 and the value, or -1 if s is none of them. */
int log_parse_level(const char *s, enum log_level *out);
int log_parse_format(const char *s, enum log_format *out);

/* Lines below min are not written; fd is where they go (2 for stderr). */
void log_setup(enum log_format f, enum log_level min, int fd);

/* Writes one line: msg from fmt, then the nkv fields of kv (kv may be NULL if nkv is 0). */
void log_line(enum log_level lv, const struct log_kv *kv, int nkv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_info(...) log_line(LOG_INFO, NULL, 0, __VA_ARGS__)
#define log_warn(...) log_line(LOG_WARN, NULL, 0, __VA_ARGS__)
#define log_error(...) log_line(LOG_ERROR, NULL, 0, __VA_ARGS__)

/*
 * The text of one line, '\n' included, into buf (cap bytes, at least 64): a pure function
 * for the tests. realtime_ms is the time since the epoch. Returns its length.
 */
size_t log_format_line(char *buf, size_t cap, enum log_format f, int64_t realtime_ms,
                       enum log_level lv, const struct log_kv *kv, int nkv, const char *msg);

/*
 * Repeated lines of one site: at most burst lines per interval_ms are written; the rest of
 * the interval's are counted. The first one held back says so ("WHAT: more than N in S s:
 * the rest are counted"), the first line of a later interval (or log_limit_flush) writes
 * how many were held back ("WHAT: N more not logged in the last S s"). The clock is the
 * caller's (CLOCK_MONOTONIC ms), so tests drive it. Any thread: a mutex, never contended
 * by a worker.
 */
struct log_limit {
    pthread_mutex_t mu;
    const char *what; /* the site, in the summary lines: "backend state changes" */
    unsigned burst, interval_ms;
    int64_t start_ms; /* of the current interval; 0: none yet */
    unsigned used, held;
};

void log_limit_init(struct log_limit *l, const char *what, unsigned burst, unsigned interval_ms);
void log_limit_fini(struct log_limit *l);

/* log_line through the limit l, at now_ms. */
void log_limited(struct log_limit *l, int64_t now_ms, enum log_level lv, const struct log_kv *kv,
                 int nkv, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Writes the count of what is held back, if any (at exit, or when the site goes away). */
void log_limit_flush(struct log_limit *l, int64_t now_ms);

#endif
