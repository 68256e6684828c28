/*
 * sip_fast.c - the fast pass of sip_parse() (SIMD builds; sip_msg.c has the
 * careful pass and the dispatch).
 *
 * Most datagrams are plain: CRLF line ends, no folds, no control byte but
 * HTAB inside a line, names followed at once by ':'. For those, the marks
 * of a line's first 64 bytes (control bytes, and ':' in the first 32) give
 * its end and its name's colon at once (quick_line); a longer line scans
 * on from there, and a line near the datagram's end takes the general
 * steps, a scan for its end and a load for its colon. The rest is a name
 * lookup and the stores. (Marking whole 64-byte blocks of the datagram and
 * taking line ends from the bits was tried: it costs more, because most
 * lines then cross a block. A perfect-hash name lookup was tried too: more
 * instructions than the length switch, and slower.)
 * Anything else (a fold, a bare CR, an escaped control byte, LWS before a
 * colon, any error at all) returns SIP_FAST_NO, and the careful pass does
 * the whole datagram again, with the exact error and err_at. So the fast
 * pass only ever succeeds, and where it does, its result is the careful
 * pass's to the byte: the unit tests and the fuzzer compare the two on
 * every input (sip_parse_careful).
 *
 * The marks take one add and one signed compare per vector: x + 1 as a
 * signed byte is at most 0x20 exactly for x in 0x00-0x1F, negative for x in
 * 0x7F-0xFE, and 0 for 0xFF. That is a superset of the control bytes;
 * line_ctl() drops the HTABs and the bytes >= 0x80 among the marks. Where
 * the CPU has AVX2 (checked per call with __builtin_cpu_supports, which
 * reads what libgcc found at start-up), the marks take 32 bytes a step;
 * SSE2, the x86-64 baseline, is the other build of the same code, and
 * -DSIP_NO_AVX2 forces it so that make test runs both.
 */
#include "parser/sip_index.h"

#ifdef SIP_SIMD

static inline uint64_t ctl_marks16(const char *p)
{
    __m128i x = _mm_add_epi8(sip_load16(p), _mm_set1_epi8(1));
    return (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpgt_epi8(_mm_set1_epi8(0x21), x));
}

#if !defined(SIP_NO_AVX2) && (defined(__GNUC__) || defined(__clang__))
#define SIP_AVX2 1
#include <immintrin.h>

/* The vectors' constants, read from memory: the line loop calls out, and a
 * call ends every vector register's life, so a constant built in registers
 * (_mm256_set1_epi8) is built anew, three instructions, on every line. The
 * empty asm hides the table's contents from the compiler, which would
 * otherwise fold the loads back into set1; it is CSE'd, one lea a line. */
enum { K_ROWS = 5 };
static const uint8_t k_bytes[K_ROWS][32] __attribute__((aligned(32))) = {{[0 ... 31] = 1},
                                                                         {[0 ... 31] = 0x21},
                                                                         {[0 ... 31] = ':'},
                                                                         {[0 ... 31] = ','},
                                                                         {[0 ... 31] = '"'}};

static inline const __m256i *k_vec(int i)
{
    const uint8_t(*k)[32] = k_bytes;
    __asm__("" : "+r"(k));
    return (const __m256i *)(const void *)k[i];
}
#define K_ONE k_vec(0)
#define K_21 k_vec(1)
#define K_COLON k_vec(2)
#define K_COMMA k_vec(3)
#define K_QUOTE k_vec(4)

static inline __attribute__((target("avx2"))) uint64_t ctl_marks32(const char *p)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i x = _mm256_add_epi8(v, _mm256_load_si256(K_ONE));
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpgt_epi8(_mm256_load_si256(K_21), x));
}

static inline __attribute__((target("avx2"))) uint32_t colon_marks32(const char *p)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
    return (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_load_si256(K_COLON)));
}

static inline __attribute__((target("avx2"))) uint64_t sp_marks32(const char *p)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
    return (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(' ')));
}

#endif

/* A marked byte that ends a line or spoils it: a control byte but HTAB. */
static inline bool line_ctl(unsigned char c)
{
    return __builtin_expect(c == '\r', 1) || (c < 0x20 ? c != '\t' : c == 0x7f);
}

/* find_line_ctl for the last bytes, fewer than 16 before end: the 16 that
 * end at end, shifted, or bytes one by one in a datagram under 16 bytes. */
static inline __attribute__((always_inline)) const char *line_ctl_tail(const char *p,
                                                                       const char *buf,
                                                                       const char *end)
{
    if (end - buf >= 16) {
        for (uint64_t mk = ctl_marks16(end - 16) >> (16 - (end - p)); mk != 0; mk &= mk - 1) {
            const char *q = p + __builtin_ctzll(mk);
            if (line_ctl((unsigned char)*q))
                return q;
        }
        return NULL;
    }
    for (; p < end; p++)
        if (line_ctl((unsigned char)*p))
            return p;
    return NULL;
}

/* Out of line: the line loop stays small. */
static __attribute__((noinline)) const char *find_line_ctl_tail(const char *p, const char *buf,
                                                                const char *end)
{
    return line_ctl_tail(p, buf, end);
}

#ifdef SIP_AVX2
/* The same, VEX-encoded, for parse_fast_avx2. gcc puts no vzeroupper before
 * this call, and legacy-SSE code entered with the upper halves of the ymm
 * registers dirty stalls on its first vector instruction: in viaduct's real
 * loop (perf record, Ice Lake VM, mixed traffic) the plain tail took 3.3% of
 * all the process's CPU, 93% of it on that one instruction. */
static __attribute__((noinline, target("avx2"))) const char *
find_line_ctl_tail_avx2(const char *p, const char *buf, const char *end)
{
    return line_ctl_tail(p, buf, end);
}
#endif

/* The first control byte other than HTAB (0x00-0x08, 0x0A-0x1F, 0x7F) at or
 * after p, or NULL if the datagram [buf, end) ends first: 32 bytes a step
 * with AVX2, else 16; a header line is 30 to 90 bytes, so one or two. */
static inline __attribute__((always_inline)) const char *
find_line_ctl(const char *p, const char *buf, const char *end, bool avx2)
{
    for (;;) {
        uint64_t mk;
        size_t step;
#ifdef SIP_AVX2
        if (avx2 && end - p >= 32) {
            mk = ctl_marks32(p);
            step = 32;
        } else
#else
        (void)avx2;
#endif
            if (end - p >= 16) {
            mk = ctl_marks16(p);
            step = 16;
        } else {
#ifdef SIP_AVX2
            if (avx2)
                return find_line_ctl_tail_avx2(p, buf, end);
#endif
            return find_line_ctl_tail(p, buf, end);
        }
        for (; mk != 0; mk &= mk - 1) {
            const char *q = p + __builtin_ctzll(mk);
            if (line_ctl((unsigned char)*q))
                return q;
        }
        p += step;
    }
}

/* The line break at eol (from find_line_ctl) as CRLF or LF: the byte after it
 * (end if the datagram ends there), or NULL for anything else. */
static inline const char *after_break(const char *eol, const char *end)
{
    if (__builtin_expect(*eol == '\r', 1))
        return end - eol >= 2 && eol[1] == '\n' ? eol + 2 : NULL;
    return *eol == '\n' ? eol + 1 : NULL;
}

/* The first ':' in [p, eol), or eol. [p, eol) holds no control byte but
 * HTAB (eol came from find_line_ctl), so only the colon needs finding; the
 * name's bytes are checked by the lookup or the token walk. */
static inline const char *find_colon(const char *p, const char *eol, const char *end)
{
    if (__builtin_expect(end - p >= 16, 1)) {
        unsigned mk = (unsigned)_mm_movemask_epi8(sip_eq8(sip_load16(p), ':'));
        if (__builtin_expect(mk != 0, 1)) {
            const char *q = p + __builtin_ctz(mk);
            return q < eol ? q : eol;
        }
        p += 16;
    }
    while (p < eol && *p != ':')
        p++;
    return p;
}

/* True if v holds the byte a or b. The vectors stay inside the datagram,
 * which starts at buf: whole ones from v.p, then the 16 bytes that end
 * where v does, with the bytes already seen shifted out. */
static inline bool span_has(struct span v, const char *buf, char a, char b)
{
    const char *p = v.p, *e = span_end(v);
    const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b);
    for (; e - p >= 16; p += 16) {
        __m128i x = sip_load16(p);
        if (_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb))) != 0)
            return true;
    }
    if (p == e)
        return false;
    if (e - buf < 16) { /* a datagram under 16 bytes */
        for (; p < e; p++)
            if (*p == a || *p == b)
                return true;
        return false;
    }
    __m128i x = sip_load16(e - 16);
    unsigned mk =
        (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)));
    return (mk >> (16 - (e - p))) != 0;
}

#ifdef SIP_AVX2
/* span_has(v, buf, ',', '"') in 32-byte steps, for Via values (60 to 90
 * bytes), with the constants from memory as in ctl_marks32 */
static inline __attribute__((target("avx2"))) bool via_list_bytes32(struct span v, const char *buf)
{
    const char *p = v.p, *e = span_end(v);
    const __m256i va = _mm256_load_si256(K_COMMA), vb = _mm256_load_si256(K_QUOTE);
    for (; e - p >= 32; p += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)p);
        if (_mm256_movemask_epi8(
                _mm256_or_si256(_mm256_cmpeq_epi8(x, va), _mm256_cmpeq_epi8(x, vb))) != 0)
            return true;
    }
    if (p == e || e - buf < 32)
        return span_has(span_range(p, e), buf, ',', '"');
    /* the 32 bytes that end where v does, without those already seen */
    __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(e - 32));
    uint32_t mk = (uint32_t)_mm256_movemask_epi8(
        _mm256_or_si256(_mm256_cmpeq_epi8(x, va), _mm256_cmpeq_epi8(x, vb)));
    return (mk >> (32 - (e - p))) != 0;
}
#endif

/* A Via value needs the comma-list split only if it holds a ',' (another
 * element may follow) or a '"' (a quoted string, which must close): without
 * either the split returns the value itself. Inlined into the line loop,
 * whose line is still in L1. */
static inline __attribute__((always_inline)) bool via_needs_split(struct span v, const char *buf,
                                                                  bool avx2)
{
#ifdef SIP_AVX2
    if (avx2)
        return via_list_bytes32(v, buf);
#else
    (void)avx2;
#endif
    return span_has(v, buf, ',', '"');
}

/*
 * The request line [buf, eol) as the fast pass sees it (no control byte but
 * HTAB): METHOD SP Request-URI SP "SIP/2.0", the shape of nearly every
 * request, taken with a few loads and one scan of the Request-URI. Returns
 * 0 with the fields parse_request_line would set, or runs
 * parse_request_line itself for anything else.
 */
static int fast_request_line(const char *buf, const char *eol, const char *end, struct sip_msg *m)
{
    const char *ver = eol - 7;
    if (eol - buf >= 12 && end - buf >= 16 && ver[-1] == ' ' && sip_eq_lit_fold3(ver, "sip/") &&
        sip_eq_lit(ver + 3, "/2.0", 4)) {
        __m128i x = sip_load16(buf);
        unsigned mk = (unsigned)_mm_movemask_epi8(_mm_or_si128(
            _mm_cmpeq_epi8(x, _mm_set1_epi8(' ')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\t'))));
        const char *sp = buf + (mk != 0 ? __builtin_ctz(mk) : 0);
        struct span method = span_range(buf, sp), ruri = span_range(sp + 1, ver - 1);
        enum sip_method id = sip_method_id(method);
        if (sp > buf && *sp == ' ' && sp + 1 < ver - 1 &&
            (id != SIP_M_OTHER || sip_skip(buf, sp, SIP_C_TOKEN) == sp) &&
            !span_has(ruri, buf, ' ', '\t')) {
            m->method = method;
            m->method_id = (uint8_t)id;
            m->ruri = ruri;
            m->version = span_range(ver, eol);
            return 0;
        }
    }
    return sip_idx_request_line(buf, eol, m, buf, end);
}

/* The control-byte marks of the 64 bytes at p (all readable), bit i for
 * p[i]: the first mark ends the line, if it is a CR with an LF after it. */
static inline __attribute__((always_inline)) uint64_t ctl_marks64(const char *p, bool avx2)
{
#ifdef SIP_AVX2
    if (avx2)
        return ctl_marks32(p) | ctl_marks32(p + 32) << 32;
#else
    (void)avx2;
#endif
    return ctl_marks16(p) | ctl_marks16(p + 16) << 16 | ctl_marks16(p + 32) << 32 |
           ctl_marks16(p + 48) << 48;
}

/* What the one-step paths below need readable from a line's start. */
#define QUICK_SPAN 66 /* 64 scanned, and eol + 1 < p + 65 readable */

/*
 * The request line in one step, from the 64 bytes at buf (QUICK_SPAN of
 * them readable): its first marked byte is a CR with an LF after it, and
 * before that stand exactly two SPs, "METHOD SP Request-URI SP SIP/2.0".
 * No HTAB or other control byte can hide before the CR (it would be the
 * first mark). Returns true with the fields and *eol as fast_request_line
 * sets them, or false, having set nothing, for the general steps.
 */
static inline __attribute__((always_inline)) bool
quick_request_line(const char *buf, bool avx2, struct sip_msg *m, const char **eol)
{
    uint64_t ctl = ctl_marks64(buf, avx2), sp = 0;
#ifdef SIP_AVX2
    if (avx2)
        sp = sp_marks32(buf) | sp_marks32(buf + 32) << 32;
    else
#endif
        for (int i = 0; i < 64; i += 16)
            sp |= (uint64_t)(unsigned)_mm_movemask_epi8(sip_eq8(sip_load16(buf + i), ' ')) << i;
    if (ctl == 0)
        return false;
    unsigned e = (unsigned)__builtin_ctzll(ctl);
    uint16_t brk;
    memcpy(&brk, buf + e, 2);
    sp &= (UINT64_C(1) << e) - 1; /* e < 64 */
    uint64_t rest = sp & (sp - 1);
    if (brk != ('\r' | '\n' << 8) || sp == 0 || rest == 0 || (rest & (rest - 1)) != 0)
        return false;
    unsigned s1 = (unsigned)__builtin_ctzll(sp), s2 = (unsigned)__builtin_ctzll(rest);
    const char *ver = buf + s2 + 1;
    if (s1 == 0 || s2 == s1 + 1 || e - s2 != 8 || !sip_eq_lit_fold3(ver, "sip/") ||
        !sip_eq_lit(ver + 3, "/2.0", 4))
        return false;
    struct span method = span_make(buf, s1);
    enum sip_method id = sip_method_id(method);
    if (id == SIP_M_OTHER && sip_skip(buf, buf + s1, SIP_C_TOKEN) != buf + s1)
        return false;
    m->method = method;
    m->method_id = (uint8_t)id;
    m->ruri = span_range(buf + s1 + 1, ver - 1);
    m->version = span_make(ver, 7);
    *eol = buf + e;
    return true;
}

/*
 * The common header line, whole, from the 64 bytes at p (the caller has
 * checked that at least QUICK_SPAN bytes are readable there): its first
 * marked byte is a CR with an LF after it, and its first ':' (from the first
 * vector) comes after at least one byte and before that CR. Sets *colon and
 * *eol and returns true; false sends the line to the general steps, which
 * take any line. One set of loads serves the line end and the colon, and
 * 15 of the bench INVITE's 17 header lines are under 64 bytes; a longer
 * line goes on scanning where the marks stop.
 */
static inline __attribute__((always_inline)) bool quick_line(const char *p, const char *buf,
                                                             const char *end, bool avx2,
                                                             const char **colon, const char **eol)
{
    uint64_t ctl = ctl_marks64(p, avx2);
    uint32_t col;
#ifdef SIP_AVX2
    if (avx2)
        col = colon_marks32(p);
    else
#endif
        col = (uint32_t)_mm_movemask_epi8(sip_eq8(sip_load16(p), ':'));
    if (__builtin_expect(col == 0 || (col & 1), 0)) /* no colon, or the line starts with it */
        return false;
    uint32_t c = (uint32_t)__builtin_ctz(col);
    if (__builtin_expect(ctl == 0, 0)) {
        /* a line of 64 bytes or more (a Via with received and rport, a
         * From with a display name): its end from where the marks stop */
        const char *q = find_line_ctl(p + 64, buf, end, avx2);
        if (q == NULL || *q != '\r' || end - q <= 2 || q[1] != '\n')
            return false;
        *colon = p + c;
        *eol = q;
        return true;
    }
    uint32_t e = (uint32_t)__builtin_ctzll(ctl);
    uint16_t brk;
    memcpy(&brk, p + e, 2);
    if (__builtin_expect(brk != ('\r' | '\n' << 8) || c >= e, 0))
        return false;
    *colon = p + c;
    *eol = p + e;
    return true;
}

/* A Content-Length of 1 to 9 digits (below 10^9, so below 2^31: no
 * overflow check), as sip_clen_parse reads it; -1 for anything else,
 * which sip_clen_parse then takes. A call and its set-up would cost more
 * than these few digits. */
static inline int32_t clen_short(struct span v)
{
    if (v.len == 0 || v.len > 9)
        return -1;
    int32_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        unsigned d = (unsigned)(unsigned char)v.p[i] - '0';
        if (d > 9)
            return -1;
        n = n * 10 + (int32_t)d;
    }
    return n;
}

/* sip_idx_trim_value for a value that ends at a line break: *eol is
 * readable, so p[1] is too wherever p[0] is an SP (p < eol), and the
 * length test goes. */
static inline struct span trim_to_break(const char *p, const char *eol)
{
    if (*p == ' ' && (unsigned char)p[1] > ' ' && (unsigned char)eol[-1] > ' ')
        return span_range(p + 1, eol);
    return sip_trim(span_range(p, eol));
}

/* Header ids that may appear once (single_valued), as a bit mask. */
#define SINGLE_IDS                                                                                 \
    (1u << SIP_H_CALL_ID | 1u << SIP_H_FROM | 1u << SIP_H_TO | 1u << SIP_H_CSEQ |                  \
     1u << SIP_H_MAX_FORWARDS | 1u << SIP_H_CONTENT_LENGTH)
_Static_assert(SIP_H__COUNT <= 32, "header ids fit a 32-bit mask");

/* A Via or Content-Length line, hdr[idx]: its values into via[] or clen.
 * Returns 0 or SIP_FAST_NO. A Via value that needs no split (split false,
 * see via_needs_split) is one element, recorded here as index_vias would. */
static __attribute__((noinline)) int fast_special(struct sip_msg *restrict m, enum sip_hid id,
                                                  uint16_t idx, const char *end, bool split)
{
    struct span v = m->hdr[idx].value;
    if (id != SIP_H_VIA)
        return (m->clen = sip_clen_parse(v)) < 0 ? SIP_FAST_NO : 0;
    if (split || v.len == 0 || m->nvia == SIP_MAX_VIAS)
        return sip_idx_vias(m, v, (uint8_t)idx, end, true) < 0 ? SIP_FAST_NO : 0;
    m->via[m->nvia] = v;
    m->via_hdr[m->nvia] = (uint8_t)idx;
    m->nvia++;
    return 0;
}

static inline __attribute__((always_inline)) int parse_fast(const char *buf, size_t len,
                                                            struct sip_msg *restrict m, bool avx2)
{
    const char *const end = buf + len;
    const char *eol, *p;
    m->is_request = !(len >= 4 && (buf[0] | 0x20) == 's' && (buf[1] | 0x20) == 'i' &&
                      (buf[2] | 0x20) == 'p' && buf[3] == '/');
    if (m->is_request && len >= QUICK_SPAN && quick_request_line(buf, avx2, m, &eol)) {
        p = eol + 2;
    } else {
        eol = find_line_ctl(buf, buf, end, avx2);
        if (eol == NULL || (p = after_break(eol, end)) == NULL || p == end)
            return SIP_FAST_NO;
        int err =
            m->is_request ? fast_request_line(buf, eol, end, m) : sip_idx_status_line(buf, eol, m);
        if (err < 0)
            return SIP_FAST_NO;
    }
    m->err_at = NULL;

    struct sip_hdr *h = m->hdr;
    uint16_t n = 0; /* h - m->hdr, counted apart to spare a division */
    const __m128i colon_v = _mm_set1_epi8(':');
    /* ids seen so far; SIP_H_OTHER counts as seen, so first[] never takes it */
    uint32_t seen = 1u << SIP_H_OTHER;
    /* p < end at the top of every turn. A first byte up to SP starts the
     * empty line, a fold or something worse. */
    while (__builtin_expect((unsigned char)*p > ' ', 1)) {
        if (n == SIP_MAX_HDRS)
            return SIP_FAST_NO;
        const char *colon, *next;
        if (__builtin_expect(end - p >= QUICK_SPAN, 1) &&
            quick_line(p, buf, end, avx2, &colon, &eol)) {
            next = eol + 2;
        } else {
            if ((eol = find_line_ctl(p, buf, end, avx2)) == NULL)
                return SIP_FAST_NO;
            if (__builtin_expect(*eol == '\r', 1) && end - eol > 2 && eol[1] == '\n')
                next = eol + 2;
            else if (*eol == '\n' && end - eol > 1)
                next = eol + 1;
            else
                return SIP_FAST_NO; /* a bare CR, another control byte, or the end */
            /* the name's ':' from one vector: names are under 16 bytes */
            unsigned cm;
            if (__builtin_expect(end - p >= 16, 1) &&
                (cm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(sip_load16(p), colon_v))) != 0)
                colon = p + __builtin_ctz(cm);
            else
                colon = find_colon(p, eol, end);
            if (colon >= eol || colon == p)
                return SIP_FAST_NO;
        }
        enum sip_hid id = sip_hname_lookup(span_range(p, colon));
        if (id == SIP_H_OTHER && sip_skip(p, colon, SIP_C_TOKEN) != colon)
            return SIP_FAST_NO;
        h->name = span_range(p, colon);
        h->value = trim_to_break(colon + 1, eol);
        h->line_len = (uint32_t)(next - p);
        h->id = (uint8_t)id;
        uint16_t idx = n++;
        h++;
        uint32_t bit = 1u << id;
        if (!(seen & bit)) {
            seen |= bit;
            m->first[id] = (int16_t)idx;
        } else if (bit & SINGLE_IDS) {
            return SIP_FAST_NO;
        }
        if (bit & (1u << SIP_H_VIA | 1u << SIP_H_CONTENT_LENGTH)) {
            struct span v = h[-1].value;
            bool split = id == SIP_H_VIA && via_needs_split(v, buf, avx2);
            if (id == SIP_H_VIA && !split && v.len != 0 && m->nvia != SIP_MAX_VIAS) {
                /* one Via value, the common line: as fast_special records it */
                m->via[m->nvia] = v;
                m->via_hdr[m->nvia] = (uint8_t)idx;
                m->nvia++;
            } else if (id == SIP_H_CONTENT_LENGTH && (m->clen = clen_short(v)) >= 0) {
                /* up to 9 digits, as sip_clen_parse reads them */
            } else {
                m->nhdr = (uint16_t)(idx + 1);
                if (fast_special(m, id, idx, end, split) < 0)
                    return SIP_FAST_NO;
            }
        }
        p = next;
    }
    m->nhdr = n;
    if (*p == ' ' || *p == '\t' || (p = after_break(p, end)) == NULL)
        return SIP_FAST_NO;
    int r = sip_idx_frame_body(m, buf, p, end);
    return r < 0 ? SIP_FAST_NO : r;
}

static int parse_fast_sse2(const char *buf, size_t len, struct sip_msg *restrict m)
{
    return parse_fast(buf, len, m, false);
}

#ifdef SIP_AVX2
static __attribute__((target("avx2"))) int parse_fast_avx2(const char *buf, size_t len,
                                                           struct sip_msg *restrict m)
{
    return parse_fast(buf, len, m, true);
}
#endif

int sip_parse_fast(const char *buf, size_t len, struct sip_msg *m)
{
#ifdef SIP_AVX2
    if (__builtin_cpu_supports("avx2"))
        return parse_fast_avx2(buf, len, m);
#endif
    return parse_fast_sse2(buf, len, m);
}

#endif
