/*
 * sip.h - viaduct's zero-copy SIP parser.
 *
 * sip_parse() indexes one datagram in a single pass: the start line, every
 * header as name/value spans, direct slots for the headers forwarding needs,
 * every Via value, and the body framed by Content-Length (RFC 3261 §18.3).
 * Deep parsers (Via, URI, name-addr, CSeq, Max-Forwards) are separate pure
 * functions over a span, called only for what the caller needs;
 * sip_validate() runs the set a stateless proxy needs on every request.
 *
 * Contract shared by every function here: no allocation, no global state, no
 * logging, no C-string functions, never a read outside [buf, buf + len). The
 * output holds spans into the caller's buffer, which must outlive it.
 * Return values follow one convention: >= 0 success, < 0 an enum sip_err.
 * Depends on libc and parser/span.h only, so parser/ builds, tests, fuzzes and
 * benchmarks alone.
 */
#ifndef VIADUCT_SIP_H
#define VIADUCT_SIP_H

#include <stdbool.h>
#include <stdint.h>

#include "parser/span.h"

/* X(name, value, short id for counters, what was wrong) */
#define SIP_ERRORS(X)                                                                              \
    X(SIP_EEMPTY, -1, "empty", "datagram is empty")                                                \
    X(SIP_ESTARTLINE, -2, "start_line", "start line is neither a request nor a status line")       \
    X(SIP_EMETHOD, -3, "method", "method is not a token")                                          \
    X(SIP_ERURI, -4, "ruri", "Request-URI is malformed or not allowed there")                      \
    X(SIP_EVERSION, -5, "version", "SIP version is not 2.0")                                       \
    X(SIP_ESTATUS, -6, "status", "status code is not three digits from 100 to 699")                \
    X(SIP_EREASON, -7, "reason", "control byte in the reason phrase")                              \
    X(SIP_EHDRNAME, -8, "hdr_name", "header name is not a token followed by a colon")              \
    X(SIP_EHDRVALUE, -9, "hdr_value", "control byte in a header value")                            \
    X(SIP_EBARECR, -10, "bare_cr", "CR not followed by LF")                                        \
    X(SIP_EFOLD, -11, "fold", "continuation line with no header before it")                        \
    X(SIP_ENOEOH, -12, "no_eoh", "datagram ends before the empty line after the headers")          \
    X(SIP_ETOOMANYHDRS, -13, "too_many_hdrs", "more header lines than SIP_MAX_HDRS")               \
    X(SIP_ETOOMANYVIAS, -14, "too_many_vias", "more Via values than SIP_MAX_VIAS")                 \
    X(SIP_EDUPHDR, -15, "dup_hdr",                                                                 \
      "second Call-ID, From, To, CSeq, Max-Forwards or Content-Length header")                     \
    X(SIP_ECLEN, -16, "clen", "Content-Length is not a decimal number below 2^31")                 \
    X(SIP_EBODY, -17, "body", "fewer body bytes than Content-Length declares")                     \
    X(SIP_EVIA, -18, "via", "Via value is malformed")                                              \
    X(SIP_EURI, -19, "uri", "URI is malformed")                                                    \
    X(SIP_ENAMEADDR, -20, "nameaddr", "From, To or Contact value is malformed")                    \
    X(SIP_EQUOTE, -21, "quote", "quoted string is not closed")                                     \
    X(SIP_ECSEQ, -22, "cseq", "CSeq is not a number up to 2^32-1 and a method")                    \
    X(SIP_ECSEQMETHOD, -23, "cseq_method", "CSeq method differs from the request method")          \
    X(SIP_EMAXFWD, -24, "max_forwards", "Max-Forwards is not a number from 0 to 255")              \
    X(SIP_ECALLID, -25, "callid", "Call-ID is malformed")                                          \
    X(SIP_ENOVIA, -26, "no_via", "no Via header")                                                  \
    X(SIP_ENOCALLID, -27, "no_callid", "no Call-ID header")                                        \
    X(SIP_ENOFROM, -28, "no_from", "no From header")                                               \
    X(SIP_ENOTO, -29, "no_to", "no To header")                                                     \
    X(SIP_ENOCSEQ, -30, "no_cseq", "no CSeq header")                                               \
    X(SIP_ENOCLEN, -31, "no_clen", "stream message without Content-Length")                        \
    X(SIP_EHDRBIG, -32, "hdr_too_big", "header block longer than the stream's limit")              \
    X(SIP_EMSGBIG, -33, "msg_too_big", "message longer than the stream's limit")

enum sip_err {
    SIP_OK = 0,
#define X(name, val, id, text) name = val,
    SIP_ERRORS(X)
#undef X
};

#define SIP_NERR 33 /* number of error codes: -1 .. -SIP_NERR */

/* "SIP_EVIA" for SIP_EVIA; "SIP_OK" for 0; "SIP_EUNKNOWN" for anything else. */
const char *sip_err_name(int err);
/* Short lower-case id for counters and JSON ("via"), "ok" for 0. */
const char *sip_err_id(int err);
/* One sentence saying what was wrong. */
const char *sip_err_text(int err);

/* Header ids: one slot each in sip_msg.first[]. Compact forms map here too. */
enum sip_hid {
    SIP_H_OTHER = 0,
    SIP_H_VIA,     /* v */
    SIP_H_CALL_ID, /* i */
    SIP_H_FROM,    /* f */
    SIP_H_TO,      /* t */
    SIP_H_CSEQ,
    SIP_H_MAX_FORWARDS,
    SIP_H_ROUTE,
    SIP_H_RECORD_ROUTE,
    SIP_H_PATH,
    SIP_H_CONTACT,        /* m */
    SIP_H_CONTENT_LENGTH, /* l */
    SIP_H_CONTENT_TYPE,   /* c */
    SIP_H_SUPPORTED,      /* k */
    SIP_H_REQUIRE,
    SIP_H_PROXY_REQUIRE,
    SIP_H_EXPIRES,
    SIP_H_USER_AGENT,
    SIP_H_SUBJECT,          /* s */
    SIP_H_CONTENT_ENCODING, /* e */
    SIP_H_EVENT,            /* o */
    SIP_H_REFER_TO,         /* r */
    SIP_H_ALLOW_EVENTS,     /* u */
    SIP_H__COUNT
};

/* Header id of a name (case-insensitive, compact forms included). The name
 * must already be a valid token: the fold by | 0x20 is exact only there. */
enum sip_hid sip_hname_id(struct span name);
/* Canonical long name of an id ("Call-ID"); "" for SIP_H_OTHER. */
struct span sip_hname_canonical(enum sip_hid id);

enum sip_method {
    SIP_M_OTHER = 0,
    SIP_M_INVITE,
    SIP_M_ACK,
    SIP_M_BYE,
    SIP_M_CANCEL,
    SIP_M_REGISTER,
    SIP_M_OPTIONS,
    SIP_M_INFO,
    SIP_M_PRACK,
    SIP_M_SUBSCRIBE,
    SIP_M_NOTIFY,
    SIP_M_UPDATE,
    SIP_M_MESSAGE,
    SIP_M_REFER,
    SIP_M_PUBLISH,
};

/* Method id of a method token; methods are case-sensitive (RFC 3261 §7.1). */
enum sip_method sip_method_id(struct span method);

#define SIP_MAX_HDRS 128 /* header lines */
#define SIP_MAX_VIAS 72  /* Via values: Max-Forwards 70 bounds honest hops */

struct sip_hdr {
    struct span name;  /* name.p is also the start of the header line */
    struct span value; /* folds kept, outer LWS trimmed; empty: p != NULL, len 0 */
    uint32_t line_len; /* from name.p through the line's final CRLF */
    uint8_t id;        /* enum sip_hid */
};

struct sip_msg {
    bool is_request;
    uint8_t method_id;   /* enum sip_method; requests only */
    uint16_t nhdr;       /* entries used in hdr[] */
    uint16_t nvia;       /* entries used in via[] */
    int32_t clen;        /* Content-Length value, -1 if absent */
    int status;          /* responses: 100..699 */
    struct span method;  /* requests */
    struct span ruri;    /* requests: Request-URI as received */
    struct span version; /* "SIP/2.0" as received */
    struct span reason;  /* responses; may be empty */
    size_t hdr_len;      /* start line + headers + empty line */
    size_t msg_len;      /* hdr_len + body.len; bytes past it are not the message */
    struct span body;
    const char *err_at;          /* on an index error: where it was found, else NULL */
    int16_t first[SIP_H__COUNT]; /* hdr[] index of the first header of each known id, -1 if
                                    none; first[SIP_H_OTHER] stays -1 */
    struct sip_hdr hdr[SIP_MAX_HDRS];
    struct span via[SIP_MAX_VIAS]; /* every Via value, topmost first */
    uint8_t via_hdr[SIP_MAX_VIAS]; /* index in hdr[] of the line each Via value is on */
};

/*
 * Parses the datagram buf[0..len) into m.
 * Returns hdr_len (bytes of start line and headers, > 0) or a negative
 * sip_err; on error m->err_at points at the offending byte when the index
 * pass found it. Headers before an error stay indexed. After a start-line
 * error (SIP_ESTARTLINE, SIP_EMETHOD, SIP_ERURI, SIP_EVERSION, SIP_ESTATUS,
 * SIP_EREASON) the headers are still indexed as far as they go, so a 400 or
 * 505 can be routed by the Via, and the start-line error is returned;
 * SIP_EVERSION only if the rest indexed cleanly (else the index error).
 * Bytes past m->msg_len (RFC 3261 §18.3) are ignored. Lines may end in CRLF
 * or a bare LF; a bare CR is an error. A control byte in a
 * header value is accepted only after an odd run of backslashes (a
 * quoted-pair, RFC 3261 §25.1; not tracked against quotes, since '"' is an
 * ordinary character of Call-ID). "SIP/2.0 100" without the SP before an
 * empty reason is tolerated. Besides the index errors, the Via split can
 * return SIP_EQUOTE and SIP_EVIA, and Content-Length SIP_ECLEN.
 * Never reads outside [buf, buf + len); len may be 0.
 */
int sip_parse(const char *buf, size_t len, struct sip_msg *m);

/* Value of the first header with this id, or SPAN_NULL if absent. */
static inline struct span sip_hvalue(const struct sip_msg *m, enum sip_hid id)
{
    return m->first[id] < 0 ? SPAN_NULL : m->hdr[m->first[id]].value;
}

/* Index of the next header after hdr[i] with the same id, or -1. */
int sip_hnext(const struct sip_msg *m, int i);

/* ---- deep parsers: pure functions over one value span ----
 * Input: a header value as sip_parse() indexed it. Precondition: a CR or
 * LF inside it is part of a fold and no raw control byte stands outside a
 * quoted-pair, which sip_parse() guarantees; these parsers treat CR and LF
 * as LWS and do not check again. An absent input span (p == NULL) is an
 * error, never a crash.
 * Output: a span field that is absent has p == NULL; present but empty has
 * p != NULL and len == 0 (e.g. rport without a value). */

enum sip_host_type { SIP_HOST_NAME = 0, SIP_HOST_IPV4, SIP_HOST_IPV6 };

struct sip_hostport {
    struct span host;  /* an IPv6 reference without its brackets */
    uint8_t host_type; /* enum sip_host_type */
    int32_t port;      /* -1 if absent */
};

/*
 * Parses host [":" port] at the start of s: hostname, IPv4 address or
 * "[" IPv6 "]" (RFC 5118: "[2001:db8:::192.0.2.1]" is tolerated). Returns
 * the bytes consumed, or SIP_EURI.
 */
int sip_hostport_parse(struct span s, struct sip_hostport *out);

struct sip_via {
    struct span protocol;  /* "SIP" */
    struct span version;   /* "2.0" */
    struct span transport; /* "UDP", "TCP", any token */
    struct sip_hostport sent_by;
    struct span params; /* from after the first ';' to the end; may be empty */
    struct span branch, received, maddr, ttl; /* received keeps any [ ] it came with */
    struct span rport;                        /* without a value: empty span just after "rport" */
};

/* Parses one Via value (one element of a comma list). 0 or SIP_EVIA. */
int sip_via_parse(struct span v, struct sip_via *out);

/* True if branch carries the RFC 3261 magic cookie and something after it. */
bool sip_branch_is_rfc3261(struct span branch);

enum sip_scheme { SIP_SCHEME_SIP = 0, SIP_SCHEME_SIPS, SIP_SCHEME_OTHER };

struct sip_uri {
    uint8_t scheme; /* enum sip_scheme */
    struct span scheme_s;
    struct span user; /* escapes kept; may contain ';' (RFC 4475 semiuri) */
    struct span password;
    struct sip_hostport hp;
    struct span params;  /* after the first ';' of the host part, before '?' */
    struct span headers; /* after '?' */
    struct span lr, transport, maddr, user_param;
    struct span opaque; /* SIP_SCHEME_OTHER: everything after "scheme:" */
};

/* Parses a SIP/SIPS URI; any other "scheme:rest" gives SIP_SCHEME_OTHER with
 * only the scheme checked. 0 or SIP_EURI. */
int sip_uri_parse(struct span u, struct sip_uri *out);

struct sip_nameaddr {
    struct span display; /* without quotes; escapes kept; may be empty */
    struct span uri;     /* without <> */
    struct span params;  /* header params after the URI, without the first ';' */
    struct span tag;     /* value of ;tag=, absent if none */
    bool bracketed;      /* URI was in <> */
};

/* Parses one name-addr or addr-spec value with header params (From, To,
 * Contact, Route element). 0, SIP_ENAMEADDR or SIP_EQUOTE. */
int sip_nameaddr_parse(struct span v, struct sip_nameaddr *out);

/*
 * Takes the next element off a comma-separated header value, skipping commas
 * inside quoted strings and <>. Returns 1 with *item set (outer LWS trimmed,
 * may be empty: the caller decides whether that is an error; "" gives one
 * empty item, "a," gives "a" then ""), 0 when the list is used up, or
 * SIP_EQUOTE.
 */
int sip_list_next(struct span *list, struct span *item);

/*
 * Takes the next ';' parameter off *params (header-param grammar: LWS around
 * ';' and '=', quoted-string values). Returns 1 with name and value set
 * (value absent, p == NULL, for a bare name; a quoted value keeps its
 * quotes), 0 when done, or a negative error (SIP_EQUOTE; SIP_ENAMEADDR for
 * an empty or non-token name, or a ';' with nothing after it).
 */
int sip_param_next(struct span *params, struct span *name, struct span *value);

/* CSeq: number (0..2^32-1, leading zeros allowed) LWS method. 0 or SIP_ECSEQ. */
int sip_cseq_parse(struct span v, uint32_t *num, struct span *method);

/* Max-Forwards: 0..255, leading zeros allowed. The value, or SIP_EMAXFWD. */
int sip_maxfwd_parse(struct span v);

/* Content-Length: digits only, below 2^31. The value, or SIP_ECLEN. */
int32_t sip_clen_parse(struct span v);

/* What a stateless proxy reads from every message, parsed once. */
struct sip_info {
    struct sip_via via1; /* top Via */
    struct span callid;
    uint32_t cseq;
    struct span cseq_method;
    int max_fwd; /* -1 if absent */
    struct sip_nameaddr from, to;
    struct sip_uri ruri; /* requests only */
};

/*
 * Deep-parses what forwarding needs from an indexed message and checks it:
 * a readable top Via first (so an error response can be routed), then
 * Call-ID, From, To, CSeq (its method must equal a request's method),
 * Max-Forwards, and for requests the Request-URI (no headers part allowed,
 * RFC 3261 §19.1.1). A Request-URI with a non-SIP scheme is not an error
 * here: it is reported as ruri.scheme == SIP_SCHEME_OTHER (answer 416).
 * Returns 0 or the first error found.
 */
int sip_validate(const struct sip_msg *m, struct sip_info *out);

/* ---- stream framing (TCP, TLS): where one message ends in a byte stream ----
 *
 * Over UDP the datagram is the message; on a stream sip_frame() finds it first, so that
 * sip_parse() then gets exactly one message, in place, as it gets a datagram. The framer
 * reads only: the message is buf[skip, skip + msg_len) of the caller's buffer, nothing is
 * copied or allocated. It keeps where it stopped in struct sip_frame, so a message that
 * arrives a byte at a time costs one pass over its header block in all, not one per byte.
 */
enum sip_frame_kind {
    SIP_FRAME_MORE = 0, /* not complete yet: call again with the same f once more bytes are in */
    SIP_FRAME_MSG = 1,  /* a message: buf[f->skip, f->skip + f->msg_len) */
    SIP_FRAME_PING = 2, /* an RFC 5626 §4.4.1 keepalive (CRLF CRLF): answer it with one CRLF */
};

struct sip_frame_lim {
    uint32_t max_hdr; /* largest header block: start line through the empty line; > 0 */
    uint32_t max_msg; /* largest message: header block + body; > 0 */
};

/* Output and the state to go on from in one: zeroed (sip_frame_reset) before the first
 * call for each message, kept as is between calls for the same one. Offsets, not pointers:
 * the caller may move its buffer between calls if it keeps the bytes in order. */
struct sip_frame {
    uint8_t state;     /* internal: before the message, in its header block, in its body */
    int8_t clen_state; /* internal: no Content-Length yet (0), one (1), or its error */
    uint32_t skip;     /* CRLF bytes before the message or ping (RFC 3261 §7.5), at most 2 */
    uint32_t scan;     /* internal: where the search for the empty line goes on */
    uint32_t hdr_len;  /* once found: start line + headers + empty line */
    int32_t clen;      /* once the block is in: the Content-Length value */
    uint32_t msg_len;  /* SIP_FRAME_MSG: hdr_len + clen */
    uint32_t used;     /* SIP_FRAME_MSG, _PING: bytes to drop from the front of the stream */
};

static inline void sip_frame_reset(struct sip_frame *f)
{
    *f = (struct sip_frame){0};
}

/*
 * Frames the next message of a stream whose unconsumed bytes are buf[0..len), the same
 * bytes (and more) on every call for one f. Returns an enum sip_frame_kind, or an error
 * after which the stream cannot be framed any further (answer 400 if possible, close):
 *   SIP_ENOCLEN   the header block has no Content-Length (mandatory on streams, §18.3);
 *   SIP_ECLEN     its Content-Length is not a number below 2^31; SIP_EDUPHDR: two of them;
 *   SIP_EHDRBIG   no empty line within the first lim->max_hdr bytes of the message;
 *   SIP_EMSGBIG   hdr_len + Content-Length is over lim->max_msg.
 * Leading CRLFs are skipped; CRLF CRLF where a message would start is a ping. The header
 * block ends at the first empty line, with CRLF or bare LF line ends as sip_parse() takes
 * them. Only the framing is checked: the message itself may still fail sip_parse(), and
 * when it parses, its hdr_len, clen and msg_len are the framer's. A verdict depends only
 * on the bytes, never on how they were split across calls. Never reads outside
 * [buf, buf + len); after MSG or PING drop f->used bytes and reset f.
 */
int sip_frame(const char *buf, size_t len, const struct sip_frame_lim *lim, struct sip_frame *f);

#endif
