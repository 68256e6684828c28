#!/bin/sh
# The SIPp cross-check: the tool everyone knows, driving the same setup as viaduct-bench.
#
#   sh bench/sipp/crosscheck.sh BUILDDIR [RATE] [CALLS]      (defaults: 2000 calls/s, 20000)
#
# Starts 4 emulated backends (viaduct-bench emulate) and viaduct (1 worker) in front of them,
# then runs bench/sipp/{register,call,options}.xml with SIPp (Debian sip-tester) at RATE
# calls/s for CALLS calls each, 2000 in flight at most, and prints per scenario SIPp's
# successful/failed calls and mean response times (SIPp's resolution is 1 ms: use viaduct-bench
# for microseconds), then the backends' per-backend counts and
# affinity check (every call and every AOR on one backend). Compare with
#   viaduct-bench run --scenario call --rates N   (N = requests/s: a SIPp call is 3 requests)
# Results and SIPp's own files go to BUILDDIR/sipp/. Exit status 0 if every call succeeded and
# affinity held.
#
# Network: re-execs itself under `unshare -n` (root) or `unshare -rn`, brings lo up; viaduct
# on 127.0.0.1:5060, backends on 127.0.0.1:5070-5073, SIPp on 127.0.0.1:5090. Every process
# is stopped by its PID; SIPp runs with -timeout, so nothing outlives its bound.
set -eu
build=${1:?usage: sh bench/sipp/crosscheck.sh BUILDDIR [RATE] [CALLS]}
rate=${2:-2000}
calls=${3:-20000}
here=$(cd "$(dirname "$0")" && pwd)

if [ "${VB_NETNS:-}" != 1 ]; then
    for b in viaduct viaduct-bench; do
        [ -x "$build/$b" ] || { echo "sipp: $build/$b is missing: run make first" >&2; exit 2; }
    done
    sh test/deps.sh sip-tester
    ns="unshare -n"
    [ "$(id -u)" = 0 ] || ns="unshare -rn"
    exec $ns env VB_NETNS=1 sh "$0" "$@"
fi

ip link set lo up
links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
[ "$links" = "lo " ] || { echo "sipp: not in a private network namespace" >&2; exit 2; }
out=$build/sipp
mkdir -p "$out"
cpus=$(nproc)
sut_cpu=$((cpus > 1 ? 1 : 0))

"$build/viaduct-bench" emulate --backends 4 --duration 600 --cpu 0 >"$out/backends.txt" 2>&1 &
emu=$!
taskset -c "$sut_cpu" "$build/viaduct" --listen 127.0.0.1:5060 --workers 1 \
    --backend 127.0.0.1:5070 --backend 127.0.0.1:5071 \
    --backend 127.0.0.1:5072 --backend 127.0.0.1:5073 2>"$out/viaduct.log" &
vd=$!
cleanup() {
    kill "$vd" 2>/dev/null && wait "$vd" 2>/dev/null || true
    kill "$emu" 2>/dev/null && wait "$emu" 2>/dev/null || true
}
trap cleanup EXIT
sleep 0.5
kill -0 "$vd" && kill -0 "$emu" || { echo "sipp: viaduct or the backends did not start" >&2; exit 1; }

# the scenario's run time at RATE, plus slack: SIPp's -timeout bounds it
bound=$((calls / rate + 30))
status=0
echo "== SIPp cross-check: viaduct (CPU $sut_cpu) in front of 4 emulated backends; $calls calls"
echo "   per scenario at $rate calls/s; $(uptime | sed 's/^ *//')"
for sc in register call options; do
    rm -f "$out/$sc"_*
    set +e
    taskset -c 0 sipp -sf "$here/$sc.xml" 127.0.0.1:5060 -i 127.0.0.1 -p 5090 -t u1 \
        -r "$rate" -m "$calls" -l 2000 -nostdin -timeout "$bound" -timeout_error \
        -trace_stat -stf "$out/$sc.csv" -fd 1 -trace_screen -screen_file "$out/$sc.screen" \
        >"$out/$sc.out" 2>&1
    rc=$?
    set -e
    [ "$rc" -eq 0 ] || status=1
    col() { # the last value of a column of SIPp's statistics csv, "-" if absent
        awk -F';' -v c="$1" 'NR==1{for(i=1;i<=NF;i++)if($i==c)k=i} END{print k?$k:"-"}' \
            "$out/$sc.csv" 2>/dev/null || echo "?"
    }
    printf "%-9s sipp exit %d: %s successful, %s failed; mean response times %s, %s\n" \
        "$sc" "$rc" "$(col 'SuccessfulCall(C)')" "$(col 'FailedCall(C)')" \
        "$(col 'ResponseTime1(C)')" "$(col 'ResponseTime2(C)')"
done
kill -USR1 "$vd"
sleep 0.2
kill "$emu"
wait "$emu" || status=1
emu=
echo
echo "== the backends (all three scenarios)"
cat "$out/backends.txt"
grep -q "^affinity: PASS" "$out/backends.txt" || status=1
echo "sipp: files in $out/ (SIPp csv, screens, viaduct.log with its counters)"
exit $status
