#!/bin/sh
# make demo: viaduct forwarding a mixed SIP load to 4 emulated registrars, measured.
#
#   sh bench/demo.sh BUILDDIR          (make demo: BUILDDIR=build, the release build)
#
# Starts 4 emulated registrars/call servers (viaduct-bench's backends, on 127.0.0.1:5070-5073)
# and viaduct in front of them (127.0.0.1:5060, one worker), offers 10 seconds of mixed load
# (REGISTER with refreshes, INVITE/100/180/200/ACK/BYE calls, OPTIONS, MESSAGE) at rising
# rates, then prints throughput, latency percentiles, viaduct's CPU per message, the share of
# each backend and the affinity check (every call and every AOR on one backend), and writes
# BUILDDIR/demo/demo.png and demo.json. Everything is stopped by PID; the whole run takes
# about 20 seconds.
#
# Network: all traffic is on loopback inside a private network namespace: the script re-execs
# itself under `unshare -n` (root) or `unshare -rn` (an unprivileged user namespace) and
# brings lo up first, so nothing it sends can leave the machine.
set -eu
build=${1:?usage: sh bench/demo.sh BUILDDIR}

if [ "${VB_NETNS:-}" != 1 ]; then
    for b in viaduct viaduct-bench; do
        if [ ! -x "$build/$b" ]; then
            echo "demo: $build/$b is missing: run make first" >&2
            exit 2
        fi
    done
    sh test/deps.sh gnuplot-nox || echo "demo: no gnuplot: the plot is skipped" >&2
    if [ "$(id -u)" = 0 ]; then
        exec unshare -n env VB_NETNS=1 sh "$0" "$@"
    fi
    exec unshare -rn env VB_NETNS=1 sh "$0" "$@"
fi

ip link set lo up
links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
if [ "$links" != "lo " ]; then
    echo "demo: not in a private network namespace (links: $links); refusing to run" >&2
    exit 2
fi

out=$build/demo
mkdir -p "$out"
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "== viaduct demo: 4 emulated registrars behind viaduct, 10 s of mixed SIP load"
echo "   (loopback only, private network namespace; viaduct on CPU 1, load and backends on CPU 0"
echo "    when the machine has 2 CPUs or more; $(uptime | sed 's/^ *//'))"
echo
GIT_REV=$rev "$build/viaduct-bench" run \
    --sut "viaduct:--workers 1" --backends 4 --scenario mixed \
    --rates 2000,5000,10000,20000 --duration 2.5 --repeat 1 --warmup 0.5 \
    --out "$out" --name demo --quiet
echo
echo "Rates are requests per second offered; 'fwd msg/s' counts requests and responses"
echo "through viaduct; 'msg/CPU-s' is messages forwarded per CPU-second of viaduct (from"
echo "/proc), the figure that holds on a busy machine. Full numbers: $out/demo.json."
echo "Next: make bench (viaduct vs Kamailio vs the null relay), or $build/viaduct-bench --help."
