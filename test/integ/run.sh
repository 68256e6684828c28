#!/bin/sh
# Runs viaduct's integration tests inside a private network namespace.
#
#   sh test/integ/run.sh BUILD_DIR [test files...]     e.g. sh test/integ/run.sh build/san
#
# Every test that starts viaduct runs under `unshare -n`: only lo exists, so no datagram can
# leave the machine even when a message names outside addresses. The test addresses go on lo
# (IPv4 192.0.2.1-3, 192.0.2.10, 203.0.113.12-13, 203.0.113.21-23, 198.51.100.7,
# 198.51.100.23, 198.51.100.31-33; IPv6
# 2001:db8::1-3, 2001:db8::10, 2001:db8::9:1, 2001:db8:1::7 (another /64); all /32 or /128: a test file that needs another
# address adds it to the lists below). Then each test file (default: every
# test/integ/test_*.py) runs as `python3 FILE --bin BUILD_DIR/viaduct`; a file prints
# "ok ..." / "FAIL ..." lines and ends with "N passed, M failed".
#
# Needs root (or the right to unshare a network namespace): without it this FAILS, it never
# skips. Ends with "integ: N passed, M failed"; exit status 1 if anything failed, 2 if the
# tests could not run at all.
set -u

here=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
FILE_TIMEOUT=${INTEG_FILE_TIMEOUT:-150}

fail_setup() {
    echo "FAIL integ setup: $*" >&2
    echo "integ: 0 passed, 1 failed"
    exit 2
}

if [ "${1:-}" = "--in-netns" ]; then
    shift
    build=$1
    shift
    # sanity: this must be a fresh namespace holding nothing but lo
    links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
    [ "$links" = "lo " ] || fail_setup "not in a private network namespace (links: $links)"
    ip link set lo up || fail_setup "cannot bring lo up"
    for a in 192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.10 203.0.113.12 203.0.113.13 \
        203.0.113.21 203.0.113.22 203.0.113.23 198.51.100.7 198.51.100.23 \
        198.51.100.31 198.51.100.32 198.51.100.33; do
        ip addr add "$a/32" dev lo || fail_setup "cannot add $a to lo"
    done
    for a in 2001:db8::1 2001:db8::2 2001:db8::3 2001:db8::10 2001:db8::9:1 2001:db8:1::7; do
        ip -6 addr add "$a/128" dev lo nodad || fail_setup "cannot add $a to lo"
    done
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
    passed=0
    failed=0
    for f in "$@"; do
        echo "== $f"
        out=$(mktemp)
        timeout -k 5 "$FILE_TIMEOUT" "$PY" "$f" --bin "$build/viaduct" >"$out" 2>&1
        rc=$?
        cat "$out"
        summary=$(tail -n 1 "$out")
        rm -f "$out"
        p=$(echo "$summary" | sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1/p')
        m=$(echo "$summary" | sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\2/p')
        if [ -z "$p" ]; then
            echo "FAIL $f: no summary line (exit status $rc; 124 is the ${FILE_TIMEOUT} s timeout)"
            failed=$((failed + 1))
            continue
        fi
        passed=$((passed + p))
        failed=$((failed + m))
        if [ "$rc" -ne 0 ] && [ "$m" -eq 0 ]; then
            echo "FAIL $f: exit status $rc with no failed test"
            failed=$((failed + 1))
        fi
    done
    echo "integ: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
fi

build=${1:?usage: sh test/integ/run.sh BUILD_DIR [test files...]}
shift
[ -x "$build/viaduct" ] || fail_setup "$build/viaduct is not an executable (build it first)"
[ "$(id -u)" = 0 ] || fail_setup "must run as root to unshare a network namespace (uid $(id -u))"
command -v unshare >/dev/null || fail_setup "unshare (util-linux) is not installed"
command -v ip >/dev/null || fail_setup "ip (iproute2) is not installed"
command -v "$PY" >/dev/null || fail_setup "$PY is not installed"
err=$(unshare -n -- true 2>&1) || fail_setup "unshare -n failed: $err"

if [ $# -eq 0 ]; then
    set -- "$here"/test_*.py
fi
for f in "$@"; do
    [ -f "$f" ] || fail_setup "no test file $f"
done
# absolute paths: the namespace shell keeps the cwd, but be explicit
build=$(cd "$build" && pwd)
exec unshare -n -- sh "$here/run.sh" --in-netns "$build" "$@"
