#!/bin/sh
# make bench: every benchmark of viaduct, results under BUILDDIR/bench/ only.
#
#   sh bench/run.sh BUILDDIR          (make bench: BUILDDIR=build, the release build)
#
# 1. bench-parse: the parser alone (bench/run_parse.sh: parse.txt, parse-history.txt)
# 2. bench-px: the proxy's per-datagram work without the kernel (px.txt)
# 3. viaduct-bench compare, inside a private network namespace, on loopback:
#    viaduct (1 worker, recvmmsg and io_uring engines) vs the null relay vs Kamailio, mixed
#    scenario, at the closed-loop maximum, a quarter and half of it, and a flood:
#                                                                          responses.{json,png}
#    the same without responses (backends answer nothing):                noreply.{json,png}
#    2 workers vs 1 at the maximum, on the CPUs this machine allows:       workers.{json,png}
# 4. bench/flood.sh: legitimate clients under a one-source flood and a source spray: flood.{txt,json}
# Everything printed is also kept in BUILDDIR/bench/summary.txt.
#
# Env: BENCH_REPEAT (3) runs per point, medians; BENCH_DURATION (5) seconds per run;
#      BENCH_SETS ("responses noreply workers flood") which comparisons to run;
#      GIT_REV the commit to record (default: git rev-parse, "-dirty" if the tree differs).
# Installs Kamailio and gnuplot from Debian if missing (test/deps.sh). About 10 minutes with the
# defaults. Network: re-execs itself under `unshare -n` (root) or `unshare -rn` and brings lo up;
# every process it starts is stopped by its PID.
set -eu
build=${1:?usage: sh bench/run.sh BUILDDIR}
repeat=${BENCH_REPEAT:-3}
dur=${BENCH_DURATION:-5}
sets=${BENCH_SETS:-responses noreply workers flood}
out=$build/bench

if [ "${VB_NETNS:-}" != 1 ]; then
    for b in viaduct viaduct-bench bench-parse bench-px; do
        if [ ! -x "$build/$b" ]; then
            echo "bench: $build/$b is missing: run make BUILD=$build first" >&2
            exit 2
        fi
    done
    sh test/deps.sh gnuplot-nox kamailio
    mkdir -p "$out"
    rev=${GIT_REV:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
    if [ -z "${GIT_REV:-}" ] && [ "$rev" != unknown ] && ! git diff --quiet HEAD -- 2>/dev/null
    then
        rev=$rev-dirty
    fi
    ns="unshare -n"
    [ "$(id -u)" = 0 ] || ns="unshare -rn"
    # tee outside the namespace: the summary keeps everything, even a failure's last words
    set +e
    $ns env VB_NETNS=1 GIT_REV="$rev" sh "$0" "$@" 2>&1 | tee "$out/summary.txt"
    rc=$(cat "$out/.rc" 2>/dev/null || echo 1)
    rm -f "$out/.rc"
    echo "bench: results in $out/ (summary.txt, *.json, *.png)"
    exit "$rc"
fi

status=1
trap 'echo $status >"$out/.rc"' EXIT
ip link set lo up
links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
if [ "$links" != "lo " ]; then
    echo "bench: not in a private network namespace (links: $links); refusing to run" >&2
    exit 2
fi

echo "== bench: commit $GIT_REV, $(uname -n), $(nproc) CPUs, $(uptime | sed 's/^ *//')"
echo
echo "== 1. parser (bench-parse)"
sh bench/run_parse.sh "$build"
echo
echo "== 2. proxy work per datagram, no kernel (bench-px)"
"$build/bench-px" 1000000 | tee "$out/px.txt"
echo

vb() {
    name=$1
    shift
    echo "== viaduct-bench $name ($(uptime | sed 's/^ *//'))"
    "$build/viaduct-bench" compare --out "$out" --name "$name" --repeat "$repeat" \
        --duration "$dur" "$@"
    echo
}
for s in $sets; do
    case $s in
    responses)
        echo "== 3a. with responses: 1 worker, recvmmsg and io_uring, vs null relay and Kamailio"
        vb responses --sut "mmsg=viaduct:--workers 1 --io mmsg" \
            --sut "uring=viaduct:--workers 1 --io uring" --sut "relay=relay:--io mmsg" \
            --sut kamailio --scenario mixed --rates max,x0.25,x0.5,flood
        ;;
    noreply)
        echo "== 3b. without responses (requests only), paced and flooded"
        vb noreply --sut "mmsg=viaduct:--workers 1 --io mmsg" \
            --sut "uring=viaduct:--workers 1 --io uring" --sut "relay=relay:--io mmsg" \
            --sut kamailio --scenario mixed --no-reply --rates 20000,flood
        ;;
    workers)
        # Two workers need two CPUs of their own to show a gain; a 2-CPU machine has one
        # spare, so the second line shares CPU 0 with the load: read it as what it is.
        echo "== 3c. 2 workers vs 1 (8 load sockets so SO_REUSEPORT spreads them)"
        vb workers --sut "w1=viaduct:--workers 1 --io mmsg" \
            --sut "w2=viaduct:--workers 2 --io mmsg" --sockets 8 --scenario mixed --rates max
        if [ "$(nproc)" -le 2 ]; then
            vb workers-shared --sut "w1=viaduct:--workers 1 --io mmsg" \
                --sut "w2=viaduct:--workers 2 --io mmsg" --sut-cpus 0,1 --sockets 8 \
                --scenario mixed --rates max
        fi
        ;;
    flood)
        # already in the namespace (VB_NETNS=1), so it runs here; below 99% it says FAIL and
        # the other sets' results still stand
        echo "== 4. flood: legitimate clients under a one-source flood and a source spray"
        sh bench/flood.sh "$build" || echo "bench: the flood set is below its 99% target"
        ;;
    *) echo "bench: unknown set '$s' in BENCH_SETS" >&2 ;;
    esac
done
status=0
