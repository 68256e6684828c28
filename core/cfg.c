/*
 * cfg.c - viaduct's configuration: the one declaration table of every
 * setting (cfg_opts[]: YAML path, type, bounds, default, VIADUCT_* variable,
 * flag, help), the operations on one setting every layer uses, the built-in
 * defaults and the lifecycle. The table drives the file (cfg_yaml.c), the
 * environment and the flags (cfg_env.c), --check, --help and the README's
 * table of settings (cfg_print.c); the values are parsed in cfg_value.c.
 * A new setting, or a new section ("admin.port" makes an admin mapping in
 * the file, VIADUCT_ADMIN_PORT, an admin: block in --check), is one entry
 * here; a new type of value is a new enum cfg_opt_type, and every switch
 * over the types that lacks it fails to compile (-Wswitch -Werror).
 *
 * Why libyaml (its document loader) with our own table, not libcyaml: an
 * operator must get "FILE:LINE: what is wrong" for every bad value.
 * libcyaml 1.3.1 (Debian's) returns only an error code; where it happened
 * reaches the caller as free text in log-callback backtrace lines ("in
 * mapping field 'x' (line: 5, column: 3)"), which we would have to scrape.
 * Its schema cannot say "an address, or a mapping with an address" (the
 * backend and key shorthands below), and the checks it has no words for
 * (addresses, CIDRs, primes, key names, rule -> pool references) would run on
 * its output, where the lines are gone. libyaml's yaml_parser_load gives a
 * node tree in which every node carries its start_mark, so each check
 * reports the line of the very key or value it rejects, and syntax errors
 * come with libyaml's own problem_mark. No YAML is parsed by hand here.
 *
 * Every key of the file is optional. A list given replaces what an earlier
 * layer had (listen, aliases, rules, health.codes); a pool replaces the pool
 * of the same name, or is added. A single value stands for a list of one, ~
 * for an empty list. The structured settings look like this:
 *
 *   listen: ["127.0.0.1:5060", {address: "0.0.0.0:5062", advertise: "sip.example.com:5062"}]
 *   keys: {register: to-aor, default: {header: X-Account}}
 *   pools:
 *     - name: registrars     # "default" is the pool that --backend also fills
 *       backends:
 *         - {address: "10.0.0.1:5060", name: reg-a, weight: 1, drain: false}
 *         - "10.0.0.2:5060"  # shorthand: the address alone
 *   rules:                   # in order, the first match wins; no match: pool default
 *     - match: {method: [REGISTER], ruri_domain: [".example.com"], to_domain: ["example.com"],
 *               source: ["10.0.0.0/8"]}   # every condition given must match
 *       pool: registrars
 *       key: to-aor          # else keys.register / keys.default
 */
#include "core/cfg_internal.h"
#include "core/guard.h"

#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define OFF(f) offsetof(struct cfg, f)

/* ---- the declaration table (G16) ---- */

const char *const cfg_io_modes[3] = {"auto", "uring", "mmsg"};
const char *const cfg_relay_names[3] = {"reject", "rules", "open"};
const char *const cfg_key_names[CFG_KEY_HEADER] = {"call-id",  "to-aor",    "from-aor",
                                                   "ruri-aor", "ruri-user", "source-ip"};

#define KEY_HELP                                                                                  \
    "call-id, to-aor, from-aor, ruri-aor, ruri-user, source-ip, or {header: NAME} (header:NAME "  \
    "in a variable)"

/* admin.listen: an address to bind, or off. */
static int check_admin_listen(const char *s, char *msg, size_t len)
{
    char a[CFG_STR];
    if (strcmp(s, "off") == 0)
        return 0;
    if (cfg_parse_addr(s, false, a, sizeof(a), msg, len) < 0)
        return -1;
    return 0;
}

/* s is one of the words of list (NULL-terminated); else why not, naming them. */
static int check_word(const char *s, const char *const *list, char *msg, size_t len)
{
    size_t k = (size_t)snprintf(msg, len, "expected ");
    for (int i = 0; list[i]; i++) {
        if (strcmp(s, list[i]) == 0)
            return 0;
        if (k < len)
            k += (size_t)snprintf(msg + k, len - k, "%s%s", i == 0 ? "" : list[i + 1] ? ", " : " or ",
                                  list[i]);
    }
    if (k < len)
        snprintf(msg + k, len - k, ", got '%s'", s);
    return -1;
}

/* log.format and log.level: the names log.c knows (log_parse_format, log_parse_level). */
static int check_log_format(const char *s, char *msg, size_t len)
{
    static const char *const w[] = {"logfmt", "json", NULL};
    return check_word(s, w, msg, len);
}

static int check_log_level(const char *s, char *msg, size_t len)
{
    static const char *const w[] = {"debug", "info", "warn", "error", NULL};
    return check_word(s, w, msg, len);
}

/* Every setting, in the order --check prints them. The maxima are what the
 * rest of viaduct can hold (64 workers in main.c, a UDP datagram, uint16_t
 * slot indexes cover 1024 backends at up to 2^24 slots, the fixed arrays of
 * struct cfg). Help texts end without a full stop: --help and the README
 * add their own. */
const struct cfg_opt cfg_opts[] = {
    {.name = "config", .type = CFG_T_CONFIG, .env = "VIADUCT_CONFIG", .flag = "config",
     .arg = "FILE", .dflt = "none", .fl = CFG_NO_FILE,
     .help = "the YAML configuration file; the environment and the flags override it"},
    {.name = "listen", .type = CFG_T_LISTEN, .max = CFG_MAX_LISTEN, .env = "VIADUCT_LISTEN",
     .flag = "listen", .arg = "ADDR:PORT", .dflt = "127.0.0.1:5060",
     .help = "where to receive SIP: over UDP (ADDR:PORT or udp:ADDR:PORT), or TCP as "
             "tcp:ADDR:PORT, which needs the io_uring engine (IPv6 as [::1]:5060); in the file "
             "an entry may be "
             "{address: ADDR:PORT, advertise: HOST:PORT} with its own allow, deny, acl_403, rate, "
             "burst, dialog_rate, dialog_burst (as in security)"},
    {.name = "advertise", .type = CFG_T_ADVERTISE, .max = CFG_MAX_LISTEN,
     .env = "VIADUCT_ADVERTISE", .flag = "advertise", .arg = "HOST:PORT",
     .dflt = "the listen address",
     .help = "sent-by of our Via (and Record-Route, Path) for the listen address at the same "
             "position; required for a wildcard listen address"},
    {.name = "aliases", .type = CFG_T_ALIASES, .max = CFG_MAX_ALIASES, .env = "VIADUCT_ALIASES",
     .flag = "alias", .arg = "HOST[:PORT]", .dflt = "none",
     .help = "other names of viaduct: a Route or Request-URI naming one means us (port 5060 "
             "when not given)"},
    {.name = "backends", .type = CFG_T_BACKENDS, .max = CFG_MAX_BACKENDS,
     .env = "VIADUCT_BACKENDS", .flag = "backend", .arg = "ADDR:PORT", .dflt = "none",
     .fl = CFG_NO_FILE,
     .help = "backends of the default pool, replacing the file's (in the file: pools)"},
    {.name = "workers", .type = CFG_T_INT_AUTO, .min = 1, .max = 64, .off = OFF(workers),
     .env = "VIADUCT_WORKERS", .flag = "workers", .arg = "N",
     .help = "worker threads, each pinned to a CPU; auto: one per CPU the process may use"},
    {.name = "io", .type = CFG_T_IO, .max = 2, .off = OFF(io), .env = "VIADUCT_IO", .flag = "io",
     .arg = "uring|mmsg|auto",
     .help = "packet engine; auto uses io_uring where the kernel and seccomp allow it (Docker's "
             "default profile does not), else recvmmsg/sendmmsg"},
    {.name = "max_message", .type = CFG_T_U32, .min = 1024, .max = 65535, .def = 16384,
     .off = OFF(max_msg), .env = "VIADUCT_MAX_MESSAGE", .flag = "max-msg", .arg = "BYTES",
     .help = "largest request accepted, in bytes; larger ones are answered 513"},
    {.name = "table_size", .type = CFG_T_PRIME, .min = 2, .max = 1 << 24, .def = 65537,
     .off = OFF(table_size), .env = "VIADUCT_TABLE_SIZE",
     .help = "Maglev slots of each pool's table: a prime, at least the largest pool; larger "
             "balances finer"},
    {.name = "retry_after", .type = CFG_T_U32, .max = 86400, .def = 5, .off = OFF(retry_after),
     .env = "VIADUCT_RETRY_AFTER",
     .help = "seconds, in the Retry-After of the 503 sent when a pool has no live backend"},
    {.name = "record_route", .type = CFG_T_BOOL, .max = 1, .off = OFF(record_route),
     .env = "VIADUCT_RECORD_ROUTE", .flag = "record-route",
     .help = "insert Record-Route on dialog-creating requests, so in-dialog requests come "
             "back through viaduct"},
    {.name = "path", .type = CFG_T_PATH, .max = 2, .off = OFF(path), .env = "VIADUCT_PATH",
     .flag = "path",
     .help = "insert Path on REGISTERs: true on those that carry Supported: path (RFC 3327), "
             "always on every one (the registrars must accept Path without the UA's support, "
             "as Kamailio's path_mode=0 does)"},
    /* at most a day: Kamailio's max_expires default is 0 (none), phones ask 3600 or less */
    {.name = "registration_interval", .type = CFG_T_U32, .max = 86400, .def = 3600,
     .off = OFF(registration_interval), .env = "VIADUCT_REGISTRATION_INTERVAL",
     .help = "seconds between a phone's REGISTER refreshes (the Expires the registrars grant): "
             "after a backend comes back up from down, out-of-dialog requests keyed by an AOR, "
             "REGISTER aside, keep going to its fallback this long, where the phones' bindings "
             "are until they re-register; 0 returns them at once"},
    {.name = "keys.register", .type = CFG_T_KEY, .def = CFG_KEY_TO_AOR, .off = OFF(key_register),
     .aux = OFF(key_header_register), .env = "VIADUCT_KEY_REGISTER",
     .help = "what a REGISTER is hashed on when no rule says: " KEY_HELP},
    {.name = "keys.default", .type = CFG_T_KEY, .def = CFG_KEY_CALL_ID, .off = OFF(key_other),
     .aux = OFF(key_header_other), .env = "VIADUCT_KEY_DEFAULT",
     .help = "what other requests are hashed on when no rule says (the same keys)"},
    {.name = "tcp.max_connections", .type = CFG_T_U32, .min = 1, .max = 1 << 20, .def = 4096,
     .off = OFF(tcp.max_conns), .env = "VIADUCT_TCP_MAX_CONNECTIONS",
     .help = "TCP connections open at once, in all; each worker holds an equal share of them, "
             "and one whose share is taken closes a new connection at once"},
    {.name = "tcp.max_per_source", .type = CFG_T_U32, .max = 1 << 20, .def = 64,
     .off = OFF(tcp.max_per_source), .env = "VIADUCT_TCP_MAX_PER_SOURCE",
     .help = "TCP connections from one IP address, per worker (the kernel spreads a source's "
             "connections over the workers); 0: no limit"},
    {.name = "tcp.idle_timeout_ms", .type = CFG_T_U32, .min = 100, .max = 86400000,
     .def = 120000, .off = OFF(tcp.idle_ms), .env = "VIADUCT_TCP_IDLE_TIMEOUT_MS",
     .help = "a TCP connection that has sent nothing for this long is closed (Kamailio's "
             "tcp_connection_lifetime is 120 s too)"},
    {.name = "tcp.message_timeout_ms", .type = CFG_T_U32, .min = 50, .max = 3600000,
     .def = 10000, .off = OFF(tcp.message_ms), .env = "VIADUCT_TCP_MESSAGE_TIMEOUT_MS",
     .help = "a message begun on a TCP connection (header block and body) must be complete "
             "within this, else the connection is closed: the slow-loris bound"},
    {.name = "tcp.buffer", .type = CFG_T_U32, .min = 1024, .max = 16 << 20, .def = 65536,
     .off = OFF(tcp.buffer), .env = "VIADUCT_TCP_BUFFER",
     .help = "bytes buffered per TCP connection to receive, and again for what the peer has not "
             "read yet (a peer that reads nothing is closed when it is full); at least "
             "max_message"},
    {.name = "health.enabled", .type = CFG_T_BOOL, .max = 1, .off = OFF(health.enabled),
     .env = "VIADUCT_HEALTH_ENABLED",
     .help = "probe every backend with OPTIONS; off by default, as backends that ignore "
             "OPTIONS would all be taken down"},
    {.name = "health.interval_ms", .type = CFG_T_U32, .min = 50, .max = 3600000, .def = 1000,
     .off = OFF(health.interval_ms), .env = "VIADUCT_HEALTH_INTERVAL_MS",
     .help = "milliseconds between two probes of one backend"},
    {.name = "health.timeout_ms", .type = CFG_T_U32, .min = 10, .max = 3600000, .def = 500,
     .off = OFF(health.timeout_ms), .env = "VIADUCT_HEALTH_TIMEOUT_MS",
     .help = "milliseconds a probe waits for its answer"},
    {.name = "health.down_after", .type = CFG_T_U32, .min = 1, .max = 100, .def = 3,
     .off = OFF(health.down_after), .env = "VIADUCT_HEALTH_DOWN_AFTER",
     .help = "missed probes in a row that take a backend down"},
    {.name = "health.up_after", .type = CFG_T_U32, .min = 1, .max = 100, .def = 2,
     .off = OFF(health.up_after), .env = "VIADUCT_HEALTH_UP_AFTER",
     .help = "answered probes in a row that bring it back"},
    {.name = "health.jitter_pct", .type = CFG_T_U32, .max = 50, .def = 10,
     .off = OFF(health.jitter_pct), .env = "VIADUCT_HEALTH_JITTER_PCT",
     .help = "percent by which each probe's interval varies, so probes do not bunch"},
    /* at most 60 s: below PX_FOLLOW_MS, so a CANCEL still follows its INVITE past a hold's end */
    {.name = "health.icmp_holddown_ms", .type = CFG_T_U32, .min = 100, .max = 60000,
     .def = 5000, .off = OFF(health.icmp_holddown_ms), .env = "VIADUCT_HEALTH_ICMP_HOLDDOWN_MS",
     .help = "how long an ICMP error for a backend moves its new traffic to the fallback; "
             "probes, when on, confirm or end it early"},
    {.name = "health.codes", .type = CFG_T_CODES, .max = 16, .env = "VIADUCT_HEALTH_CODES",
     .dflt = "any final response",
     .help = "the response codes that count a probe as answered"},
    {.name = "admin.listen", .type = CFG_T_STR, .off = OFF(admin.listen),
     .env = "VIADUCT_ADMIN_LISTEN", .flag = "admin", .arg = "ADDR:PORT|off",
     .dflt = "127.0.0.1:8060", .fl = CFG_DFLT_VALUE, .check = check_admin_listen,
     .help = "the management HTTP listener (/metrics, /healthz, /readyz, /backends, /config, "
             "POST /backends/..., /reload); off: none"},
    {.name = "admin.token_file", .type = CFG_T_STR, .off = OFF(admin.token_file),
     .env = "VIADUCT_ADMIN_TOKEN_FILE", .flag = "admin-token-file", .arg = "FILE",
     .dflt = "none",
     .help = "a file holding the bearer token the management API's POST endpoints require "
             "(read at each request); with no token they are allowed on a loopback listener "
             "only"},
    {.name = "admin.token", .type = CFG_T_STR, .off = OFF(admin.token),
     .env = "VIADUCT_ADMIN_TOKEN", .dflt = "none", .fl = CFG_NO_FILE,
     .help = "the bearer token itself, instead of admin.token_file; never printed"},
    /* at most an hour: a grace period longer than that is a stuck process, not a drain */
    {.name = "shutdown.drain_seconds", .type = CFG_T_U32, .max = 3600, .def = 5,
     .off = OFF(shutdown.drain_seconds), .env = "VIADUCT_SHUTDOWN_DRAIN_SECONDS",
     .flag = "drain-seconds", .arg = "N",
     .help = "seconds SIGTERM keeps forwarding with /readyz answering 503, before the workers "
             "stop and viaduct exits 0; 0 stops at once, as a second SIGTERM or SIGINT does"},
    {.name = "log.format", .type = CFG_T_STR, .off = OFF(log.format), .env = "VIADUCT_LOG_FORMAT",
     .flag = "log-format", .arg = "logfmt|json", .dflt = "logfmt", .fl = CFG_DFLT_VALUE,
     .check = check_log_format,
     .help = "the log on stderr, one line per event: logfmt (ts=... level=info msg=\"...\" "
             "key=value) or JSON lines"},
    {.name = "log.level", .type = CFG_T_STR, .off = OFF(log.level), .env = "VIADUCT_LOG_LEVEL",
     .flag = "log-level", .arg = "debug|info|warn|error", .dflt = "info",
     .fl = CFG_DFLT_VALUE, .check = check_log_level, .help = "the least severe level logged"},
    {.name = "pools", .type = CFG_T_POOLS, .max = CFG_MAX_POOLS, .dflt = "default, empty",
     .help = "named pools: {name: NAME, backends: [ADDR:PORT or {address, name, weight, "
             "drain}]}; pool default is the one --backend fills"},
    {.name = "security.relay", .type = CFG_T_RELAY, .max = 2, .off = OFF(security.relay),
     .env = "VIADUCT_SECURITY_RELAY",
     .help = "a Route or Request-URI naming another host in a request from an untrusted source: "
             "reject answers 403, rules ignores it and routes by the rules, open follows it "
             "(an open relay)"},
    {.name = "security.trusted", .type = CFG_T_CIDRS, .max = CFG_MAX_TRUSTED,
     .env = "VIADUCT_SECURITY_TRUSTED", .dflt = "none (backends only)",
     .help = "sources whose Route and Request-URI are followed, besides every configured "
             "backend: IPv4 or IPv6 prefixes (10.0.0.0/8) or addresses"},
    {.name = "security.secret_file", .type = CFG_T_STR, .off = OFF(security.secret_file),
     .env = "VIADUCT_SECRET_FILE", .dflt = "none: a random secret per process",
     .help = "file whose contents (at least 16 bytes) key the flow tokens and the Via tag; the "
             "same on every instance, or they reject each other's tokens and responses"},
    {.name = "security.secret", .type = CFG_T_STR, .off = OFF(security.secret),
     .env = "VIADUCT_SECRET", .dflt = "none", .fl = CFG_NO_FILE | CFG_SECRET,
     .help = "the secret itself (at least 16 bytes), instead of security.secret_file"},
    {.name = "security.previous_secret_file", .type = CFG_T_STR,
     .off = OFF(security.previous_secret_file), .env = "VIADUCT_PREVIOUS_SECRET_FILE",
     .dflt = "none",
     .help = "the secret before a rotation: what it signed still verifies until "
             "security.previous_until"},
    {.name = "security.previous_secret", .type = CFG_T_STR, .off = OFF(security.previous_secret),
     .env = "VIADUCT_PREVIOUS_SECRET", .dflt = "none", .fl = CFG_NO_FILE | CFG_SECRET,
     .help = "the previous secret itself, instead of security.previous_secret_file"},
    {.name = "security.previous_until", .type = CFG_T_U32, .max = UINT32_MAX,
     .off = OFF(security.previous_until), .env = "VIADUCT_PREVIOUS_UNTIL",
     .help = "Unix time (seconds) until which the previous secret is accepted; 0: never"},
    {.name = "security.hash_seed", .type = CFG_T_STR, .off = OFF(security.hash_seed),
     .env = "VIADUCT_HASH_SEED", .dflt = "built in", .fl = CFG_SECRET,
     .help = "text that seeds the consistent hash and the branch hash; the same on every "
             "instance; a private one keeps outsiders from aiming keys at one backend; "
             "changing it moves keys"},
    /* security: README "Edge protection" says why each default is what it is */
    {.name = "security.allow", .type = CFG_T_ACL, .max = CFG_MAX_ACL, .off = OFF(security.allow),
     .env = "VIADUCT_SECURITY_ALLOW", .dflt = "any",
     .help = "sources a listener takes datagrams from (IP or IP/LEN), checked before parsing; "
             "a listen entry's own allow replaces it"},
    {.name = "security.deny", .type = CFG_T_ACL, .max = CFG_MAX_ACL, .off = OFF(security.deny),
     .env = "VIADUCT_SECURITY_DENY", .dflt = "none",
     .help = "sources whose datagrams are dropped before parsing, even if allowed; a listen "
             "entry's own deny replaces it"},
    {.name = "security.acl_403", .type = CFG_T_BOOL, .max = 1, .off = OFF(security.acl_403),
     .env = "VIADUCT_SECURITY_ACL_403",
     .help = "answer a request that allow or deny refuses 403 (never larger than the request, "
             "within the answer budget) instead of dropping it; a listen entry's own acl_403 "
             "replaces it"},
    {.name = "security.block_user_agents", .type = CFG_T_UAS, .max = CFG_MAX_UA,
     .env = "VIADUCT_SECURITY_BLOCK_USER_AGENTS", .dflt = GD_DEFAULT_UAS,
     .help = "requests whose User-Agent contains one of these (any case) are dropped silently; "
             "[] blocks none"},
    {.name = "security.rate", .type = CFG_T_U32, .max = 1000000, .def = 2000,
     .off = OFF(security.lim.rate), .env = "VIADUCT_SECURITY_RATE",
     .help = "out-of-dialog requests per second one source IP (IPv6: its /64) may send, per "
             "worker; 0: no limit"},
    {.name = "security.burst", .type = CFG_T_U32, .min = 1, .max = 1000000, .def = 4000,
     .off = OFF(security.lim.burst), .env = "VIADUCT_SECURITY_BURST",
     .help = "how many out-of-dialog requests above the rate one source may send at once"},
    {.name = "security.dialog_rate", .type = CFG_T_U32, .max = 1000000, .def = 5000,
     .off = OFF(security.lim.dialog_rate), .env = "VIADUCT_SECURITY_DIALOG_RATE",
     .help = "in-dialog requests (To tag), CANCELs and ACKs per second one source may send; 0: "
             "no limit"},
    {.name = "security.dialog_burst", .type = CFG_T_U32, .min = 1, .max = 1000000, .def = 10000,
     .off = OFF(security.lim.dialog_burst), .env = "VIADUCT_SECURITY_DIALOG_BURST",
     .help = "how many in-dialog requests above the rate one source may send at once"},
    {.name = "security.limit_503", .type = CFG_T_BOOL, .max = 1, .off = OFF(security.limit_503),
     .env = "VIADUCT_SECURITY_LIMIT_503",
     .help = "answer a request over its source's limit 503 with Retry-After (within the answer "
             "budget) instead of dropping it"},
    {.name = "security.answer_burst", .type = CFG_T_U32, .min = 0, .max = 65535, .def = 1024,
     .off = OFF(security.answer_burst), .env = "VIADUCT_SECURITY_ANSWER_BURST",
     .help = "bytes of local answers (errors, STUN) one untrusted address may get beyond the "
             "bytes it sent: what a spoofed source can make viaduct reflect"},
    {.name = "security.answer_rate", .type = CFG_T_U32, .max = 65535, .def = 64,
     .off = OFF(security.answer_rate), .env = "VIADUCT_SECURITY_ANSWER_RATE",
     .help = "bytes per second added to that allowance, so a STUN keep-alive (20 bytes in, 32 "
             "or 44 out) every second is always answered"},
    {.name = "security.overload_pct", .type = CFG_T_U32, .max = 100, .def = 90,
     .off = OFF(security.overload_pct), .env = "VIADUCT_SECURITY_OVERLOAD_PCT",
     .help = "a worker whose receive buffers are this full (percent) sheds new out-of-dialog "
             "requests, keeping responses and in-dialog requests; 0 sheds always (tests)"},
    {.name = "security.overload_503", .type = CFG_T_BOOL, .max = 1, .def = 1,
     .off = OFF(security.overload_503), .env = "VIADUCT_SECURITY_OVERLOAD_503",
     .help = "shed with 503 and Retry-After (within the answer budget) rather than silently"},
    {.name = "dns.servers", .type = CFG_T_DNS_SERVERS, .max = CFG_MAX_DNS_SERVERS,
     .env = "VIADUCT_DNS_SERVERS", .flag = "dns-server", .arg = "IP:PORT",
     .dflt = "those of /etc/resolv.conf",
     .help = "the DNS servers asked for backends given by name (NAME:PORT: its A and AAAA "
             "records; _sip._udp.NAME: its SRV records)"},
    {.name = "dns.refresh_min_ms", .type = CFG_T_U32, .min = 100, .max = 3600000, .def = 1000,
     .off = OFF(dns.refresh_min_ms), .env = "VIADUCT_DNS_REFRESH_MIN_MS",
     .help = "a name is asked again after its records' TTL, but never sooner than this"},
    {.name = "dns.refresh_max_ms", .type = CFG_T_U32, .min = 100, .max = 86400000,
     .def = 300000, .off = OFF(dns.refresh_max_ms), .env = "VIADUCT_DNS_REFRESH_MAX_MS",
     .help = "and never later than this, whatever the TTL"},
    {.name = "dns.jitter_pct", .type = CFG_T_U32, .max = 50, .def = 10,
     .off = OFF(dns.jitter_pct), .env = "VIADUCT_DNS_JITTER_PCT",
     .help = "percent by which each refresh comes early at random, so instances do not ask "
             "in step"},
    {.name = "dns.stale_seconds", .type = CFG_T_U32, .max = 604800, .def = 3600,
     .off = OFF(dns.stale_seconds), .env = "VIADUCT_DNS_STALE_SECONDS",
     .help = "while a name fails or answers empty, its last records keep serving this long "
             "(logged, viaduct_dns_stale); then its backends go"},
    {.name = "dns.max_records", .type = CFG_T_U32, .min = 1, .max = CFG_MAX_BACKENDS,
     .def = 128, .off = OFF(dns.max_records), .env = "VIADUCT_DNS_MAX_RECORDS",
     .help = "records one name may give; of more, the first by address are kept (the same "
             "on every instance)"},
    {.name = "dns.timeout_ms", .type = CFG_T_U32, .min = 50, .max = 30000, .def = 1000,
     .off = OFF(dns.timeout_ms), .env = "VIADUCT_DNS_TIMEOUT_MS",
     .help = "how long one query waits for its answer (each server is tried twice)"},
    {.name = "rules", .type = CFG_T_RULES, .max = CFG_MAX_RULES, .dflt = "none",
     .help = "in order, the first match wins: {match: {method, ruri_domain, to_domain, "
             "source}, pool: NAME, key: KEY}; no match: pool default"},
};
const int cfg_nopts = ARRAY_LEN(cfg_opts);

const struct cfg_opt *cfg_opt_find(const char *name)
{
    for (int i = 0; i < cfg_nopts; i++)
        if (strcmp(cfg_opts[i].name, name) == 0)
            return &cfg_opts[i];
    return NULL;
}

bool cfg_opt_is_list(const struct cfg_opt *o)
{
    return o->type >= CFG_T_LISTEN && o->type <= CFG_T_RULES;
}

/* ---- scalars ---- */

static void opt_store(struct cfg *c, const struct cfg_opt *o, int64_t v)
{
    void *f = (char *)c + o->off;
    switch (o->type) {
    case CFG_T_INT_AUTO: *(int *)f = (int)v; break;
    case CFG_T_U32:
    case CFG_T_PRIME: *(uint32_t *)f = (uint32_t)v; break;
    case CFG_T_BOOL: *(bool *)f = v != 0; break;
    case CFG_T_IO: snprintf(f, sizeof(c->io), "%s", cfg_io_modes[v]); break;
    case CFG_T_KEY:
        *(enum cfg_key *)f = (enum cfg_key)v;
        *((char *)c + o->aux) = '\0';
        break;
    case CFG_T_RELAY: *(enum cfg_relay *)f = (enum cfg_relay)v; break;
    case CFG_T_PATH: *(uint8_t *)f = (uint8_t)v; break;
    case CFG_T_STR:
        /* empty, unless the default the help shows is the value itself */
        snprintf(f, CFG_STR, "%s", o->fl & CFG_DFLT_VALUE ? o->dflt : "");
        break;
    default: break; /* lists start empty */
    }
}

/* The field's value; for CFG_T_IO the mode's index, -1 if none. */
static int64_t opt_value(const struct cfg *c, const struct cfg_opt *o)
{
    const void *f = (const char *)c + o->off;
    switch (o->type) {
    case CFG_T_INT_AUTO: return *(const int *)f;
    case CFG_T_U32:
    case CFG_T_PRIME: return *(const uint32_t *)f;
    case CFG_T_BOOL: return *(const bool *)f;
    case CFG_T_IO:
        for (int i = 0; i < ARRAY_LEN(cfg_io_modes); i++)
            if (strcmp(f, cfg_io_modes[i]) == 0)
                return i;
        return -1;
    case CFG_T_KEY: return *(const enum cfg_key *)f;
    case CFG_T_RELAY: return *(const enum cfg_relay *)f;
    case CFG_T_PATH: return *(const uint8_t *)f;
    default: return -1;
    }
}

static int fits(const char *s, size_t cap, char *msg, size_t len)
{
    if (strlen(s) < cap)
        return 0;
    snprintf(msg, len, "'%.40s...' is too long (at most %zu characters)", s, cap - 1);
    return -1;
}

static int set_scalar(struct cfg *c, const struct cfg_opt *o, const char *s, char *msg, size_t len)
{
    int64_t v;
    bool b;
    if (o->type == CFG_T_BOOL) {
        if (cfg_parse_bool(s, &b) < 0) {
            snprintf(msg, len, "expected true or false, got '%s'", s);
            return -1;
        }
        opt_store(c, o, b);
        return 0;
    }
    if (o->type == CFG_T_IO) {
        for (int i = 0; i < ARRAY_LEN(cfg_io_modes); i++) {
            if (strcmp(s, cfg_io_modes[i]) == 0) {
                opt_store(c, o, i);
                return 0;
            }
        }
        snprintf(msg, len, "expected auto, uring or mmsg, got '%s'", s);
        return -1;
    }
    if (o->type == CFG_T_PATH) {
        if (strcmp(s, "always") == 0) {
            opt_store(c, o, CFG_PATH_ALWAYS);
            return 0;
        }
        if (cfg_parse_bool(s, &b) < 0) {
            snprintf(msg, len, "expected true, false or always, got '%s'", s);
            return -1;
        }
        opt_store(c, o, b ? CFG_PATH_ON : CFG_PATH_OFF);
        return 0;
    }
    if (o->type == CFG_T_RELAY) {
        for (int i = 0; i < ARRAY_LEN(cfg_relay_names); i++) {
            if (strcmp(s, cfg_relay_names[i]) == 0) {
                opt_store(c, o, i);
                return 0;
            }
        }
        snprintf(msg, len, "expected reject, rules or open, got '%s'", s);
        return -1;
    }
    if (o->type == CFG_T_STR) {
        if (fits(s, CFG_STR, msg, len) < 0)
            return -1;
        snprintf((char *)c + o->off, CFG_STR, "%s", s);
        return 0;
    }
    if (o->type == CFG_T_INT_AUTO && strcmp(s, "auto") == 0) {
        opt_store(c, o, 0);
        return 0;
    }
    if (cfg_parse_i64(s, &v) < 0) {
        snprintf(msg, len, "expected a number%s, got '%s'",
                 o->type == CFG_T_INT_AUTO ? " or auto" : "", s);
        return -1;
    }
    if (cfg_check_range(s, v, o->min, o->max, msg, len) < 0)
        return -1;
    if (o->type == CFG_T_PRIME && cfg_check_prime(s, v, msg, len) < 0)
        return -1;
    opt_store(c, o, v);
    return 0;
}

/* ---- list items ---- */

static int too_many(const struct cfg_opt *o, char *msg, size_t len)
{
    snprintf(msg, len, "more than %lld items", (long long)o->max);
    return -1;
}

static int add_listen(struct cfg *c, const struct cfg_opt *o, const char *s, char *msg, size_t len)
{
    int n = c->nlisten;
    if (n == o->max)
        return too_many(o, msg, len);
    const char *addr;
    enum cfg_tp tp = cfg_listen_split(s, &addr);
    if (tp == CFG_TP_TLS) {
        snprintf(msg, len, "%s: TLS listeners are not supported yet (udp: or tcp:)", s);
        return -1;
    }
    /* the canonical form: UDP without its prefix (as before there were others) */
    char canon[CFG_STR];
    if (cfg_parse_addr(addr, false, canon, sizeof(canon), msg, len) < 0)
        return -1;
    if (snprintf(c->listen[n], CFG_STR, "%s%s", tp == CFG_TP_TCP ? "tcp:" : "", canon) >= CFG_STR) {
        snprintf(msg, len, "'%s' is too long", s);
        return -1;
    }
    for (int j = 0; j < n; j++) {
        if (strcmp(c->listen[j], c->listen[n]) == 0) {
            snprintf(msg, len, "%s is listed twice", c->listen[n]);
            return -1;
        }
    }
    c->nlisten = n + 1;
    return 0;
}

/* The next position without an advertise address: they go by position. */
static int add_advertise(struct cfg *c, const struct cfg_opt *o, const char *s, char *msg,
                         size_t len)
{
    int n = 0;
    while (n < o->max && c->advertise[n][0])
        n++;
    if (n == o->max)
        return too_many(o, msg, len);
    if (fits(s, CFG_STR, msg, len) < 0 || cfg_check_hostport(s, true, msg, len) < 0)
        return -1;
    snprintf(c->advertise[n], CFG_STR, "%s", s);
    return 0;
}

static int add_alias(struct cfg *c, const struct cfg_opt *o, const char *s, char *msg, size_t len)
{
    if (c->naliases == o->max)
        return too_many(o, msg, len);
    if (fits(s, CFG_STR, msg, len) < 0 || cfg_check_hostport(s, false, msg, len) < 0)
        return -1;
    snprintf(c->aliases[c->naliases++], CFG_STR, "%s", s);
    return 0;
}

static int add_dns_server(struct cfg *c, const struct cfg_opt *o, const char *s, char *msg,
                          size_t len)
{
    if (c->dns.nservers == o->max)
        return too_many(o, msg, len);
    if (cfg_parse_addr(s, true, c->dns.servers[c->dns.nservers], CFG_STR, msg, len) < 0)
        return -1;
    c->dns.nservers++;
    return 0;
}

static int add_code(struct cfg *c, const struct cfg_opt *o, const char *s, char *msg, size_t len)
{
    uint32_t code;
    if (c->health.ncodes == o->max)
        return too_many(o, msg, len);
    if (cfg_parse_u32(s, 200, 699, &code, msg, len) < 0) {
        size_t k = strlen(msg);
        snprintf(msg + k, len - k, " (a final response code)");
        return -1;
    }
    c->health.codes[c->health.ncodes++] = (uint16_t)code;
    return 0;
}

static int add_trusted(struct cfg *c, const struct cfg_opt *o, const char *s, char *msg,
                       size_t len)
{
    if (c->security.ntrusted == o->max)
        return too_many(o, msg, len);
    if (cfg_parse_cidr(s, &c->security.trusted[c->security.ntrusted], msg, len) < 0)
        return -1;
    c->security.ntrusted++;
    return 0;
}

static int add_cidr(struct cfg *c, const struct cfg_opt *o, const char *s, char *msg, size_t len)
{
    struct cfg_cidrs *l = (struct cfg_cidrs *)(void *)((char *)c + o->off);
    if (l->n == o->max)
        return too_many(o, msg, len);
    if (cfg_parse_cidr(s, &l->v[l->n], msg, len) < 0)
        return -1;
    l->n++;
    return 0;
}

static int add_ua(struct cfg *c, const struct cfg_opt *o, const char *s, char *msg, size_t len)
{
    struct cfg_security *sec = &c->security;
    if (sec->nblock_ua == o->max)
        return too_many(o, msg, len);
    if (s[0] == '\0') {
        snprintf(msg, len, "an empty User-Agent substring would block every request");
        return -1;
    }
    if (fits(s, sizeof(sec->block_ua[0]), msg, len) < 0)
        return -1;
    snprintf(sec->block_ua[sec->nblock_ua++], sizeof(sec->block_ua[0]), "%s", s);
    return 0;
}

int cfg_pool_add(struct cfg_pool *p, const char *address, char *msg, size_t len)
{
    struct cfg_backend b = {.weight = 1};
    if (cfg_parse_backend_addr(address, b.address, sizeof(b.address), &b.dns, msg, len) < 0)
        return -1;
    for (int i = 0; i < p->nbackends; i++) {
        if (strcmp(cfg_backend_id(&p->backends[i]), b.address) == 0) {
            snprintf(msg, len, "pool '%s' already has a backend named %s", p->name, b.address);
            return -1;
        }
    }
    if (p->nbackends == CFG_MAX_BACKENDS) {
        snprintf(msg, len, "more than %d items", CFG_MAX_BACKENDS);
        return -1;
    }
    struct cfg_backend *nb = realloc(p->backends, (size_t)(p->nbackends + 1) * sizeof(b));
    if (nb == NULL) {
        snprintf(msg, len, "out of memory");
        return -1;
    }
    nb[p->nbackends++] = b;
    p->backends = nb;
    return 0;
}

int cfg_opt_set(struct cfg *c, const struct cfg_opt *o, const char *s, char *msg, size_t len)
{
    switch (o->type) {
    case CFG_T_INT_AUTO:
    case CFG_T_U32:
    case CFG_T_PRIME:
    case CFG_T_BOOL:
    case CFG_T_IO:
    case CFG_T_RELAY:
    case CFG_T_PATH: return set_scalar(c, o, s, msg, len);
    case CFG_T_KEY:
        return cfg_parse_key(s, (enum cfg_key *)(void *)((char *)c + o->off), (char *)c + o->aux,
                             sizeof(c->key_header_register), msg, len);
    case CFG_T_STR:
        if (fits(s, CFG_STR, msg, len) < 0 || (o->check && o->check(s, msg, len) < 0))
            return -1;
        snprintf((char *)c + o->off, CFG_STR, "%s", s);
        return 0;
    case CFG_T_LISTEN: return add_listen(c, o, s, msg, len);
    case CFG_T_ADVERTISE: return add_advertise(c, o, s, msg, len);
    case CFG_T_ALIASES: return add_alias(c, o, s, msg, len);
    case CFG_T_CODES: return add_code(c, o, s, msg, len);
    case CFG_T_CIDRS: return add_trusted(c, o, s, msg, len);
    case CFG_T_BACKENDS: return cfg_pool_add(&c->pools[0], s, msg, len);
    case CFG_T_ACL: return add_cidr(c, o, s, msg, len);
    case CFG_T_UAS: return add_ua(c, o, s, msg, len);
    case CFG_T_DNS_SERVERS: return add_dns_server(c, o, s, msg, len);
    case CFG_T_POOLS:
    case CFG_T_RULES: snprintf(msg, len, "is given only in the configuration file"); return -1;
    case CFG_T_CONFIG: return 0; /* main reads it before every layer */
    }
    return -1;
}

void cfg_opt_clear(struct cfg *c, const struct cfg_opt *o)
{
    switch (o->type) {
    case CFG_T_LISTEN:
        c->nlisten = 0;
        memset(c->advertise, 0, sizeof(c->advertise)); /* they belonged to the old list */
        for (int i = 0; i < CFG_MAX_LISTEN; i++)
            c->listen_sec[i] = (struct cfg_listen_sec){
                .lim = {CFG_LIMIT_INHERIT, CFG_LIMIT_INHERIT, CFG_LIMIT_INHERIT,
                        CFG_LIMIT_INHERIT}};
        break;
    case CFG_T_ADVERTISE: memset(c->advertise, 0, sizeof(c->advertise)); break;
    case CFG_T_ALIASES: c->naliases = 0; break;
    case CFG_T_CODES: c->health.ncodes = 0; break;
    case CFG_T_CIDRS: c->security.ntrusted = 0; break;
    case CFG_T_ACL: ((struct cfg_cidrs *)(void *)((char *)c + o->off))->n = 0; break;
    case CFG_T_UAS: c->security.nblock_ua = 0; break;
    case CFG_T_DNS_SERVERS: c->dns.nservers = 0; break;
    case CFG_T_BACKENDS:
        free(c->pools[0].backends);
        c->pools[0].backends = NULL;
        c->pools[0].nbackends = 0;
        break;
    default: break; /* scalars are overwritten; pools and rules have their own loaders */
    }
}

int cfg_opt_check(const struct cfg *c, const struct cfg_opt *o, char *msg, size_t len)
{
    int64_t v = opt_value(c, o);
    char s[32];
    if (o->type == CFG_T_IO) {
        if (v >= 0)
            return 0;
        snprintf(msg, len, "expected auto, uring or mmsg, got '%.16s'", c->io);
        return -1;
    }
    if (o->type == CFG_T_RELAY)
        return v >= 0 && v <= 2 ? 0 : (snprintf(msg, len, "expected reject, rules or open"), -1);
    if (o->type == CFG_T_PATH)
        return v >= 0 && v <= 2 ? 0 : (snprintf(msg, len, "expected true, false or always"), -1);
    if (o->type > CFG_T_IO || o->type == CFG_T_BOOL || (o->type == CFG_T_INT_AUTO && v == 0))
        return 0; /* keys and lists: cfg_validate checks them */
    snprintf(s, sizeof(s), "%lld", (long long)v);
    if (cfg_check_range(s, v, o->min, o->max, msg, len) < 0)
        return -1;
    return o->type == CFG_T_PRIME ? cfg_check_prime(s, v, msg, len) : 0;
}

void cfg_opt_format(const struct cfg *c, const struct cfg_opt *o, char *buf, size_t len)
{
    int64_t v = opt_value(c, o);
    if (o->type == CFG_T_STR)
        snprintf(buf, len, "%s", (const char *)c + o->off);
    else if (o->type == CFG_T_BOOL)
        snprintf(buf, len, "%s", v ? "true" : "false");
    else if (o->type == CFG_T_IO)
        snprintf(buf, len, "%s", v >= 0 ? cfg_io_modes[v] : "auto");
    else if (o->type == CFG_T_RELAY)
        snprintf(buf, len, "%s", v >= 0 && v <= 2 ? cfg_relay_names[v] : "?");
    else if (o->type == CFG_T_PATH)
        snprintf(buf, len, "%s", v == CFG_PATH_ALWAYS ? "always" : v ? "true" : "false");
    else if (o->type == CFG_T_STR)
        snprintf(buf, len, "%s", (const char *)c + o->off);
    else if (o->type == CFG_T_INT_AUTO && v == 0)
        snprintf(buf, len, "auto");
    else
        snprintf(buf, len, "%lld", (long long)v);
}

void cfg_opt_default(const struct cfg_opt *o, char *buf, size_t len)
{
    struct cfg c;
    if (o->dflt) {
        snprintf(buf, len, "%s", o->dflt);
    } else if (o->type == CFG_T_KEY) {
        snprintf(buf, len, "%s", cfg_key_names[o->def]);
    } else {
        memset(&c, 0, sizeof(c));
        opt_store(&c, o, o->def);
        cfg_opt_format(&c, o, buf, len);
    }
}

void cfg_opt_values(const struct cfg_opt *o, char *buf, size_t len)
{
    long long lo = (long long)o->min, hi = (long long)o->max;
    switch (o->type) {
    case CFG_T_INT_AUTO: snprintf(buf, len, "%lld..%lld or auto", lo, hi); break;
    case CFG_T_U32: snprintf(buf, len, "%lld..%lld", lo, hi); break;
    case CFG_T_PRIME: snprintf(buf, len, "a prime in %lld..%lld", lo, hi); break;
    case CFG_T_BOOL: snprintf(buf, len, "true or false"); break;
    case CFG_T_IO: snprintf(buf, len, "auto, uring or mmsg"); break;
    case CFG_T_KEY: snprintf(buf, len, "a key"); break;
    case CFG_T_RELAY: snprintf(buf, len, "reject, rules or open"); break;
    case CFG_T_PATH: snprintf(buf, len, "true, false or always"); break;
    case CFG_T_STR:
        snprintf(buf, len, "%s", o->arg ? o->arg : o->fl & CFG_SECRET ? "text" : "a string");
        break;
    case CFG_T_CIDRS: snprintf(buf, len, "up to %lld prefixes", hi); break;
    case CFG_T_LISTEN: snprintf(buf, len, "up to %lld [udp:|tcp:]ADDR:PORT", hi); break;
    case CFG_T_BACKENDS: snprintf(buf, len, "up to %lld ADDR:PORT", hi); break;
    case CFG_T_ADVERTISE: snprintf(buf, len, "up to %lld HOST:PORT", hi); break;
    case CFG_T_ALIASES: snprintf(buf, len, "up to %lld HOST[:PORT]", hi); break;
    case CFG_T_CODES: snprintf(buf, len, "up to %lld codes in 200..699", hi); break;
    case CFG_T_ACL: snprintf(buf, len, "up to %lld IP or IP/LEN", hi); break;
    case CFG_T_UAS: snprintf(buf, len, "up to %lld strings", hi); break;
    case CFG_T_DNS_SERVERS: snprintf(buf, len, "up to %lld IP:PORT", hi); break;
    case CFG_T_POOLS: snprintf(buf, len, "up to %lld pools", hi); break;
    case CFG_T_RULES: snprintf(buf, len, "up to %lld rules", hi); break;
    case CFG_T_CONFIG: snprintf(buf, len, "a file"); break;
    }
}

/* ---- lifecycle ---- */

void cfg_defaults(struct cfg *c)
{
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < cfg_nopts; i++)
        opt_store(c, &cfg_opts[i], cfg_opts[i].def);
    c->npools = 1;
    snprintf(c->pools[0].name, sizeof(c->pools[0].name), "default");
    static const char *const uas[] = {GD_DEFAULT_UA_LIST};
    for (int i = 0; i < ARRAY_LEN(uas); i++)
        snprintf(c->security.block_ua[c->security.nblock_ua++], sizeof(c->security.block_ua[0]),
                 "%s", uas[i]);
    for (int i = 0; i < CFG_MAX_LISTEN; i++)
        c->listen_sec[i].lim = (struct cfg_limits){CFG_LIMIT_INHERIT, CFG_LIMIT_INHERIT,
                                                   CFG_LIMIT_INHERIT, CFG_LIMIT_INHERIT};
}

void cfg_free(struct cfg *c)
{
    for (int i = 0; i < CFG_MAX_POOLS; i++) {
        free(c->pools[i].backends);
        c->pools[i].backends = NULL;
        c->pools[i].nbackends = 0;
    }
}

struct cfg *cfg_dup(const struct cfg *c)
{
    struct cfg *d = malloc(sizeof(*d));
    if (d == NULL)
        return NULL;
    memcpy(d, c, sizeof(*d));
    for (int i = 0; i < CFG_MAX_POOLS; i++) {
        size_t n = (size_t)c->pools[i].nbackends;
        d->pools[i].backends = NULL;
        if (n == 0)
            continue;
        d->pools[i].backends = malloc(n * sizeof(struct cfg_backend));
        if (d->pools[i].backends == NULL) {
            d->pools[i].nbackends = 0;
            cfg_free(d);
            free(d);
            return NULL;
        }
        memcpy(d->pools[i].backends, c->pools[i].backends, n * sizeof(struct cfg_backend));
    }
    return d;
}

void cfg_replace(struct cfg *to, struct cfg *from)
{
    cfg_free(to);
    memcpy(to, from, sizeof(*to));
    free(from);
}

