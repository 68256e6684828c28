#!/bin/sh
# Runs viaduct-parse over the shared SIP corpora and asserts each verdict.
# Usage: test/corpus.sh BIN        (make test runs: sh test/corpus.sh build/san/viaduct-parse)
# Env:   SHARED_DIR (default ../shared) holds corpus/{flows,rfc5118/wire,rfc4475}.
#
#   - all 90 flows parse (one run over all of them, exit status 0);
#   - the 12 RFC 5118 wire messages parse, except ipv6-bad, which must be refused;
#   - every one of the 49 RFC 4475 torture messages gets exactly the verdict in the table below
#     (ok, or the error name), with exit status 0 or 1 to match;
#   - usage errors, unreadable, empty and oversized files give the documented line and status;
#   - an index error says where ("at line L col C");
#   - --json prints one valid JSON object per file, and spot-checked fields hold the values
#     the messages carry (wsinv: Max-Forwards 68, ...).
# Ends with "corpus: N passed, M failed"; exit status 1 if M > 0, 2 if it cannot run at all.
set -u
bin=${1:?usage: test/corpus.sh BIN}
shared=${SHARED_DIR:-../shared}
corpus=$shared/corpus

if [ ! -x "$bin" ]; then
    echo "corpus: $bin is not an executable" >&2
    exit 2
fi
for d in flows rfc5118/wire rfc4475; do
    if [ ! -d "$corpus/$d" ]; then
        echo "corpus: $corpus/$d is missing: set SHARED_DIR to the directory holding corpus/" >&2
        exit 2
    fi
done
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*"
}

# Expected verdict of each RFC 4475 message: "ok" or the sip_err name. baddn is the one the
# archive decides: its bytes end right after "l: 0\r\n", without the empty line that ends the
# headers (RFC 4475 A.1; one public copy adds it), so the index pass refuses it before the
# display name is read. The display-name check itself runs on a copy with the CRLF added, below.
cat >"$tmp/rfc4475.expect" <<'EOF'
wsinv ok
intmeth ok
esc01 ok
escnull ok
esc02 ok
lwsdisp ok
longreq ok
dblreq ok
semiuri ok
transports ok
mpart01 ok
unreason ok
noreason ok
baddate ok
regbadct ok
badbranch ok
unkscm ok
novelsc ok
unksm2 ok
bext01 ok
invut ok
regaut01 ok
bcast ok
zeromf ok
cparam01 ok
cparam02 ok
regescrt ok
sdp01 ok
inv2543 ok
badinv01 SIP_EVIA
clerr SIP_EBODY
ncl SIP_ECLEN
scalar02 SIP_ECSEQ
scalarlg SIP_ECSEQ
quotbal SIP_EQUOTE
ltgtruri SIP_ERURI
lwsruri SIP_ESTARTLINE
lwsstart SIP_ESTARTLINE
trws SIP_ESTARTLINE
escruri SIP_ERURI
badaspec SIP_ENAMEADDR
baddn SIP_ENOEOH
badvers SIP_EVERSION
mismatch01 SIP_ECSEQMETHOD
mismatch02 SIP_ECSEQMETHOD
bigcode SIP_ESTATUS
insuf SIP_ENOCALLID
multi01 SIP_EDUPHDR
mcl01 SIP_EDUPHDR
EOF

# verdict FILE LINE: prints "ok" or the error name of one output line of FILE, or "?" if the line
# is not in the documented format.
verdict() {
    rest=${2#"$1: "}
    [ "$rest" != "$2" ] || { echo "?"; return; }
    case $rest in
    "ok request "?* | "ok response "[1-6][0-9][0-9]) echo ok ;;
    "error "*" ("*")"*) rest=${rest#error }; echo "${rest%% *}" ;;
    *) echo "?" ;;
    esac
}

# check_one FILE EXPECT: one run on one file; verdict and exit status must match.
check_one() {
    out=$("$bin" "$1" 2>"$tmp/stderr")
    rc=$?
    want_rc=1
    [ "$2" = ok ] && want_rc=0
    got=$(verdict "$1" "$out")
    lines=$(printf '%s\n' "$out" | wc -l)
    if [ "$got" = "$2" ] && [ "$rc" -eq "$want_rc" ] && [ "$lines" -eq 1 ] && [ ! -s "$tmp/stderr" ]
    then
        pass
    else
        fail "$(basename "$1"): want $2 (exit $want_rc), got exit $rc: $out $(head -c 300 "$tmp/stderr")"
    fi
}

# check_all DESC WANT_RC FILE...: one run over many files; exit status must be WANT_RC and the
# output one line per file, in order, with the verdicts left in $tmp/verdicts.
check_all() {
    desc=$1 want_rc=$2
    shift 2
    "$bin" "$@" >"$tmp/all.out" 2>"$tmp/stderr"
    rc=$?
    : >"$tmp/verdicts"
    i=1
    for f in "$@"; do
        verdict "$f" "$(sed -n "${i}p" "$tmp/all.out")" >>"$tmp/verdicts"
        i=$((i + 1))
    done
    n=$(wc -l <"$tmp/all.out")
    if [ "$rc" -eq "$want_rc" ] && [ "$n" -eq $# ] && ! grep -q '^?$' "$tmp/verdicts" &&
        [ ! -s "$tmp/stderr" ]; then
        pass
    else
        fail "$desc: want exit $want_rc and $# lines, got exit $rc and $n lines" \
            "$(grep -v ': ok ' "$tmp/all.out" | head -5) $(head -c 300 "$tmp/stderr")"
    fi
}

# ---- flows: every message parses ----
flows=$(ls "$corpus"/flows/*.sip)
nflows=$(printf '%s\n' "$flows" | wc -l)
[ "$nflows" -eq 90 ] && pass || fail "flows: want 90 .sip files, found $nflows"
# shellcheck disable=SC2086 # the paths have no blanks
check_all "flows in one run" 0 $flows
i=1
for f in $flows; do
    v=$(sed -n "${i}p" "$tmp/verdicts")
    [ "$v" = ok ] && pass || fail "$(basename "$f"): want ok, got: $(sed -n "${i}p" "$tmp/all.out")"
    i=$((i + 1))
done

# ---- RFC 5118 wire messages: all ok but ipv6-bad ----
wire=$(ls "$corpus"/rfc5118/wire/*.sip)
nwire=$(printf '%s\n' "$wire" | wc -l)
[ "$nwire" -eq 12 ] && pass || fail "rfc5118/wire: want 12 .sip files, found $nwire"
for f in $wire; do
    if [ "$(basename "$f")" = ipv6-bad.sip ]; then
        out=$("$bin" "$f")
        rc=$?
        v=$(verdict "$f" "$out")
        if [ "$rc" -eq 1 ] && [ "$v" != ok ] && [ "$v" != "?" ]; then
            pass
            echo "corpus: ipv6-bad refused: ${out#"$f: "}"
        else
            fail "ipv6-bad.sip: want an error (exit 1), got exit $rc: $out"
        fi
    else
        check_one "$f" ok
    fi
done

# ---- RFC 4475: the exact verdict of each message ----
n4475=0
for f in "$corpus"/rfc4475/*.dat; do
    name=$(basename "$f" .dat)
    want=$(awk -v n="$name" '$1 == n { print $2 }' "$tmp/rfc4475.expect")
    if [ -z "$want" ]; then
        fail "rfc4475/$name.dat has no expected verdict in the table"
        continue
    fi
    n4475=$((n4475 + 1))
    check_one "$f" "$want"
done
[ "$n4475" -eq 49 ] && pass || fail "rfc4475: want all 49 table entries present, found $n4475"

# baddn as the RFC text shows it (with the empty line): the non-token display name is refused.
{ cat "$corpus/rfc4475/baddn.dat"; printf '\r\n'; } >"$tmp/baddn-eoh.dat"
check_one "$tmp/baddn-eoh.dat" SIP_ENAMEADDR

# A mixed set in one run: exit 1, and still one line per file.
# shellcheck disable=SC2046
check_all "rfc4475 in one run" 1 $(ls "$corpus"/rfc4475/*.dat)

# ---- usage, unreadable, empty, oversized, error location ----
# expect_run DESC WANT_RC PATTERN ARGS...: exit status and a grep -E pattern on stdout+stderr.
expect_run() {
    desc=$1 want_rc=$2 pat=$3
    shift 3
    out=$("$bin" "$@" 2>&1)
    rc=$?
    if [ "$rc" -eq "$want_rc" ] && printf '%s\n' "$out" | grep -Eq -- "$pat"; then
        pass
    else
        fail "$desc: want exit $want_rc and /$pat/, got exit $rc: $(printf '%s' "$out" | head -3)"
    fi
}
expect_run "no arguments" 2 "^usage: viaduct-parse"
expect_run "--help" 0 "^usage: viaduct-parse" --help
expect_run "unknown option" 2 "unknown option --bogus" --bogus "$corpus/rfc4475/wsinv.dat"
expect_run "missing file" 2 "^$tmp/nope: error READ_ERROR \(No such file or directory\)$" \
    "$corpus/rfc4475/wsinv.dat" "$tmp/nope"
: >"$tmp/empty.sip"
expect_run "empty file" 1 "^$tmp/empty.sip: error SIP_EEMPTY \(" "$tmp/empty.sip"
head -c 70000 /dev/zero >"$tmp/big.sip"
expect_run "oversized file" 1 "^$tmp/big.sip: error TOO_LARGE \(" "$tmp/big.sip"
printf 'OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h\rX\r\n\r\n' >"$tmp/barecr.sip"
expect_run "index error location" 1 \
    "^$tmp/barecr.sip: error SIP_EBARECR \(CR not followed by LF\) at line 2 col 19 \(byte 0x0d\)$" \
    "$tmp/barecr.sip"
expect_run "stdin" 0 "^-: ok request OPTIONS$" - <"$corpus/rfc4475/transports.dat"

# ---- JSON: valid for every file, fields spot-checked ----
ls "$corpus"/flows/*.sip "$corpus"/rfc5118/wire/*.sip "$corpus"/rfc4475/*.dat >"$tmp/files"
# shellcheck disable=SC2046
"$bin" --json $(cat "$tmp/files") >"$tmp/all.jsonl" 2>"$tmp/stderr"
rc=$?
[ "$rc" -eq 1 ] && pass || fail "--json over everything: want exit 1, got $rc"
"$bin" --json "$tmp/nope" "$tmp/big.sip" "$tmp/empty.sip" "$tmp/barecr.sip" >"$tmp/bad.jsonl"
python3 - "$tmp/files" "$tmp/all.jsonl" "$tmp/bad.jsonl" <<'EOF' >"$tmp/py.out" 2>&1
import json, os, sys

files = open(sys.argv[1]).read().split()
passed = failed = 0

def check(desc, cond):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: json: " + desc)

try:
    rows = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
    bad = [json.loads(line) for line in open(sys.argv[3], encoding="utf-8")]
except ValueError as e:
    print("FAIL: json: output is not JSON Lines: %s" % e)
    print("PY 0 1")
    sys.exit(0)
check("one object per file (%d objects, %d files)" % (len(rows), len(files)),
      len(rows) == len(files))
by = {}
for f, r in zip(files, rows):
    check(f + ": 'file' is the path", r.get("file") == f)
    check(f + ": ok is a bool and error agrees", isinstance(r.get("ok"), bool)
          and (r["ok"] == (r.get("error") is None)))
    by[os.path.basename(f)] = r
    if r.get("start_line"):
        check(f + ": msg_len + trailing_bytes == datagram_len",
              r["msg_len"] + r["trailing_bytes"] == r["datagram_len"] == os.path.getsize(f))
        check(f + ": headers are name/canonical/value objects",
              all(set(h) == {"name", "canonical", "value"} for h in r["headers"]))

def field(name, path, want):
    r = by.get(name)
    got = r
    for k in path.split("."):
        got = got.get(k) if isinstance(got, dict) else None
    check("%s %s: want %r, got %r" % (name, path, want, got), got == want)

field("wsinv.dat", "max_forwards", 68)
field("wsinv.dat", "start_line.method", "INVITE")
field("wsinv.dat", "start_line.method_id", "INVITE")
field("wsinv.dat", "cseq.number", 9)
field("wsinv.dat", "cseq.method", "INVITE")
field("wsinv.dat", "via_count", 3)
field("wsinv.dat", "via.host", "192.0.2.2")
field("wsinv.dat", "via.transport", "UDP")
field("wsinv.dat", "via.branch", "390skdjuw")
field("wsinv.dat", "via.branch_rfc3261", False)
field("wsinv.dat", "call_id", "wsinv.ndaksdj@192.0.2.1")
field("wsinv.dat", "to.tag", "1918181833n")
field("wsinv.dat", "from.tag", "98asjd8")
field("wsinv.dat", "ruri.user", "vivekg")
field("wsinv.dat", "ruri.host", "chair-dnrc.example.com")
field("wsinv.dat", "body_length", 150)
field("intmeth.dat", "start_line.method_id", "OTHER")
to = [h["value"] for h in by["intmeth.dat"]["headers"] if h["canonical"] == "To"]
check("intmeth To value carries the raw NUL, BEL and DEL", to and all(c in to[0] for c in "\0\a\x7f"))
field("dblreq.dat", "start_line.method", "REGISTER")
field("dblreq.dat", "body_length", 0)
check("dblreq has trailing bytes", by["dblreq.dat"]["trailing_bytes"] > 0)
field("inv2543.dat", "max_forwards", None)
field("inv2543.dat", "via.branch", None)
field("inv2543.dat", "trailing_bytes", 0)
field("mpart01.dat", "body_length", 553)
field("longreq.dat", "via_count", 34)
field("unreason.dat", "start_line.status", 200)
check("unreason reason phrase is UTF-8 text",
      "\u043d\u043e" in (by["unreason.dat"]["start_line"]["reason"] or ""))
field("noreason.dat", "start_line.reason", "")
field("badbranch.dat", "via.branch", "z9hG4bK")
field("badbranch.dat", "via.branch_rfc3261", False)
field("unkscm.dat", "ruri.scheme", "other")
field("zeromf.dat", "max_forwards", 0)
field("transports.dat", "via_count", 5)
field("badinv01.dat", "error.name", "SIP_EVIA")
field("badinv01.dat", "error.id", "via")
field("insuf.dat", "error.name", "SIP_ENOCALLID")
field("clerr.dat", "error.name", "SIP_EBODY")
field("badvers.dat", "error.name", "SIP_EVERSION")
field("badvers.dat", "via.host", "c.example.com")  # indexed anyway: a 505 is routed by Via
field("ipv6-good.sip", "via.host_type", "ipv6")
field("ipv6-good.sip", "via.host", "2001:db8::9:1")
field("via-received-param-with-delim.sip", "via.received", "[2001:db8::9:255]")
field("own-call-f1-invite.sip", "via.rport", "")
field("own-call-f1-invite.sip", "via.port", 5060)
field("own-call-f1-invite.sip", "via.branch_rfc3261", True)
field("own-call-f2-100-trying.sip", "start_line.status", 100)
field("own-call-f2-100-trying.sip", "via_count", 2)
field("own-call-f2-100-trying.sip", "cseq.method", "INVITE")

check("4 objects for 4 bad files", len(bad) == 4)
if len(bad) == 4:
    check("missing file: stage read", bad[0]["error"]["stage"] == "read")
    check("oversized: TOO_LARGE", bad[1]["error"]["name"] == "TOO_LARGE")
    check("empty: SIP_EEMPTY", bad[2]["error"]["name"] == "SIP_EEMPTY")
    e = bad[3]["error"]
    check("bare CR: line 2 col 19 byte 13",
          (e["name"], e["line"], e["col"], e["byte"]) == ("SIP_EBARECR", 2, 19, 13))
print("PY %d %d" % (passed, failed))
EOF
grep '^FAIL' "$tmp/py.out"
py=$(grep '^PY ' "$tmp/py.out")
if [ -n "$py" ]; then
    set -- $py
    passed=$((passed + $2))
    failed=$((failed + $3))
else
    fail "json checks did not run: $(head -5 "$tmp/py.out")"
fi

echo "corpus: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
