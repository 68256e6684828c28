#!/bin/sh
# make bench-flood: legitimate clients through viaduct while one source floods it, and while
# a spray of random source addresses does (issue 11's "what it must show").
#
#   sh bench/flood.sh BUILDDIR          (make bench-flood: BUILDDIR=build, the release build)
#
# 4 emulated backends (viaduct-bench emulate, 127.0.0.1:5070-5073) behind viaduct (release
# build, 1 worker, --admin off, default security settings), viaduct alone on CPU 1, the load,
# the flooders and the backends on CPU 0 (when the machine has 2 CPUs). A fresh viaduct for
# each phase, so its counters and its rate-limit table are the phase's own:
#   0. capacity: closed-loop REGISTERs (window 256) from one source with security.rate 0, so
#      it is the forwarder's capacity C and not one source's limit (best of two runs; on 2
#      CPUs the load and backends on CPU 0 usually set it, and viaduct's busy share says so);
#   1. baseline: the legitimate load alone: REGISTERs at 10% of C, split over N sources
#      127.0.0.3.. (N so that each offers at most half of security.rate);
#   2. flood: the same legitimate load while 127.0.0.2 offers INVITEs as fast as one unpaced
#      `viaduct-bench load --scenario call --no-reply` can (reported as a multiple of C: on a
#      2-CPU machine one load process cannot reach 10x);
#   3. spray: the same legitimate load while `viaduct-bench spray` offers INVITEs unpaced from
#      random spoofed sources in 127.128.0.0/9 (raw socket). Inside the namespace all of 127/8
#      is local, so viaduct's answers to those addresses come back over loopback to a socket
#      of the sprayer's on 0.0.0.0:5999 that is never read: the kernel drops them silently
#      once it is full, as a network would deliver them to nobody.
# Reports, per phase: legitimate offered / answered / success, the flooder's rate, viaduct's
# CPU seconds (utime + stime of /proc/PID/stat) per legitimate transaction answered, its
# socket's kernel drops and its drop counters (SIGTERM prints them). Results in
# BUILDDIR/bench/flood.txt and flood.json. Exit status 1 if the flood phase's legitimate
# success is below 99% (issue 11's target); the spray phase only reports. About 60 s.
#
# Env: FLOOD_DURATION (10) seconds of legitimate load per phase; FLOOD_LEGIT_PCT (10) its
#      rate as a percentage of C; FLOOD_NICE (10) nice of the flooder and the sprayer, so on
#      a shared CPU they do not starve the legitimate clients and the backends that measure
#      (an attacker is on another machine); FLOOD_SPRAY_RATE (0: unpaced) the sprayer's rate.
# Network: re-execs itself under `unshare -n` (root) or `unshare -rn` and brings lo up; every
# process it starts is stopped by its PID.
set -eu
build=${1:?usage: sh bench/flood.sh BUILDDIR}
out=$build/bench

if [ "${VB_NETNS:-}" != 1 ]; then
    for b in viaduct viaduct-bench; do
        if [ ! -x "$build/$b" ]; then
            echo "flood: $build/$b is missing: run make first" >&2
            exit 2
        fi
    done
    rev=${GIT_REV:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
    if [ "$(id -u)" = 0 ]; then
        exec unshare -n env VB_NETNS=1 GIT_REV="$rev" sh "$0" "$@"
    fi
    exec unshare -rn env VB_NETNS=1 GIT_REV="$rev" sh "$0" "$@"
fi

ip link set lo up
links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
if [ "$links" != "lo " ]; then
    echo "flood: not in a private network namespace (links: $links); refusing to run" >&2
    exit 2
fi

dur=${FLOOD_DURATION:-10}
pct=${FLOOD_LEGIT_PCT:-10}
nice=${FLOOD_NICE:-10}
spray_rate=${FLOOD_SPRAY_RATE:-0}
io=${FLOOD_IO:-auto}
rate_limit=2000 # security.rate's default: the legitimate sources stay at half of it
vb=$build/viaduct-bench
tmp=$out/flood.d
mkdir -p "$tmp"
rm -f "$tmp"/*
txt=$out/flood.txt
tck=$(getconf CLK_TCK)
if [ "$(nproc)" -ge 2 ]; then
    sys_cpu=1
    load_cpu=0
else
    sys_cpu=0
    load_cpu=0
fi

pids=""
cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

say() { echo "$*" | tee -a "$txt"; }
: >"$txt"

# CPU seconds of PID so far (utime + stime; field 2, the name, has no spaces here)
cpu_s() { awk -v t="$tck" '{printf "%.3f", ($14 + $15) / t}' "/proc/$1/stat"; }
# kernel drops of the UDP socket bound to 127.0.0.1:5060 (the last column of /proc/net/udp)
sock_drops() { awk '$2 == "0100007F:13C4" {print $NF; exit}' /proc/net/udp; }
# the last value of counter $2 in viaduct's log $1
counter() { awk -v n="$2" '$1 == n {v = $2} END {print v + 0}' "$1"; }
calc() { awk "BEGIN {printf \"%s\", ($1)}"; }
fmt() { awk "BEGIN {printf \"%.${2:-1}f\", ($1)}"; } # EXPR [DECIMALS]

# start_viaduct NAME [VAR=VALUE...]: a fresh viaduct on $sys_cpu; sets vpid
start_viaduct() {
    name=$1
    shift
    env "$@" taskset -c "$sys_cpu" "$build/viaduct" --workers 1 --io "$io" --admin off \
        --listen 127.0.0.1:5060 --backend 127.0.0.1:5070 --backend 127.0.0.1:5071 \
        --backend 127.0.0.1:5072 --backend 127.0.0.1:5073 >"$tmp/viaduct-$name.log" 2>&1 &
    vpid=$!
    pids="$pids $vpid"
    i=0
    while [ -z "$(sock_drops)" ]; do
        i=$((i + 1))
        if [ $i -gt 50 ] || ! kill -0 "$vpid" 2>/dev/null; then
            echo "flood: viaduct did not start:" >&2
            cat "$tmp/viaduct-$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
}

# stop_viaduct: reads its CPU and socket drops, then SIGTERM (it prints its counters) and waits
stop_viaduct() {
    v_cpu_end=$(cpu_s "$vpid")
    v_drops=$(sock_drops)
    kill "$vpid"
    wait "$vpid" || true
    pids=$(echo "$pids" | sed "s/ $vpid\b//")
}

# legit NAME RATE: REGISTERs at RATE/s over $nsrc sources 127.0.0.3.., $dur seconds, waits for
# them; sets l_started l_answered
legit() {
    each=$(calc "$2 / $nsrc")
    lp=""
    j=0
    while [ $j -lt "$nsrc" ]; do
        "$vb" load --scenario register --rate "$each" --duration "$dur" \
            --local-ip "127.0.$(((3 + j) / 256)).$(((3 + j) % 256))" --aors 2000 \
            --cpu "$load_cpu" >"$tmp/legit-$1-$j.txt" 2>&1 &
        lp="$lp $!"
        j=$((j + 1))
    done
    for p in $lp; do
        wait "$p" || true # exit 1 means something was lost: counted below
    done
    l_started=$(cat "$tmp"/legit-"$1"-*.txt | awk '/^transactions:/ {s += $2} END {print s + 0}')
    l_answered=$(cat "$tmp"/legit-"$1"-*.txt | awk '/^transactions:/ {s += $4} END {print s + 0}')
}

report() { # NAME LOG: the phase's figures, as text and as a JSON object in $tmp/NAME.json
    name=$1
    log=$2
    succ=$(calc "$l_started > 0 ? 100 * $l_answered / $l_started : 0")
    dcpu=$(calc "$v_cpu_end - $v_cpu_start")
    per=$(calc "$l_answered > 0 ? 1e6 * $dcpu / $l_answered : 0")
    say "  legitimate: $nsrc sources, $l_started REGISTERs offered, $l_answered answered:" \
        "$(fmt "$succ" 2) % (offered $(fmt "$l_started / $dur" 0)/s)"
    say "  viaduct CPU: $(fmt "$dcpu" 2) s over the legitimate run ($(fmt "100 * $dcpu / ($dur + 1)" 0)" \
        "% of one CPU), $(fmt "$per" 1) us per legitimate transaction answered"
    cs=""
    for c in rx_datagrams rx_requests fwd_requests fwd_responses drop_rate_limited guard_shared \
        drop_overload overload_episodes local_503 drop_answer_budget icmp_client tx_lost rx_enobufs; do
        cs="$cs $c $(counter "$log" $c)"
    done
    say "  viaduct counters:$cs; socket drops (kernel) $v_drops"
    {
        printf '"%s": {"legit_sources": %s, "legit_offered": %s, "legit_answered": %s, ' \
            "$name" "$nsrc" "$l_started" "$l_answered"
        printf '"legit_success_pct": %s, "viaduct_cpu_s": %s, "cpu_us_per_legit": %s, ' \
            "$succ" "$dcpu" "$per"
        printf '"flood_rate": %s, "socket_drops": %s' "${f_rate:-0}" "${v_drops:-0}"
        set -- $cs
        while [ $# -ge 2 ]; do
            printf ', "%s": %s' "$1" "$2"
            shift 2
        done
        printf '}'
    } >"$tmp/$name.json"
}

say "== flood: commit $GIT_REV, $(uname -n), $(nproc) CPUs, viaduct on CPU $sys_cpu," \
    "load/flooders/backends on CPU $load_cpu ($(uptime | sed 's/^ *//'))"
taskset -c "$load_cpu" "$vb" emulate --backends 4 --duration 600 >"$tmp/emulate.log" 2>&1 &
epid=$!
pids="$pids $epid"

# 0. capacity
say "== 0. capacity: closed-loop REGISTERs, window 256, best of 2 x 1.5 s, one source, security.rate 0"
start_viaduct capacity VIADUCT_SECURITY_RATE=0
v_cpu_start=$(cpu_s "$vpid")
# two runs, the better one: a machine shared with other work makes single runs noisy
for k in 1 2; do
    "$vb" load --scenario register --rate 0 --window 256 --duration 1.5 --local-ip 127.0.0.3 \
        --cpu "$load_cpu" >"$tmp/capacity-$k.txt" 2>&1 || true
done
stop_viaduct
cap=$(cat "$tmp"/capacity-*.txt | awk '/^load:/ {s = $(NF - 3)}
    /^transactions:/ {c = $4 / s; if (c > m) m = c} END {printf "%.0f", m}')
busy=$(calc "($v_cpu_end - $v_cpu_start) / 5")
cap_v=$(fmt "$cap / ($busy > 0.05 ? $busy : 1)" 0)
say "  capacity C = $cap REGISTER transactions/s answered; viaduct busy $(fmt "100 * $busy" 0)%" \
    "of its CPU over both runs and their drains (below ~100%: the load's CPU set C; viaduct alone" \
    "would reach about C / busy = $cap_v/s)"
legit_rate=$(calc "$cap * $pct / 100")
nsrc=$(awk "BEGIN {l = $legit_rate / ($rate_limit / 2); n = int(l) + (l > int(l)); print (n < 4 ? 4 : n)}")
say "  legitimate load: $pct% of C = $(fmt "$legit_rate" 0) REGISTERs/s over $nsrc sources" \
    "(127.0.0.3..), $dur s each phase"

# 1. baseline
say "== 1. baseline: the legitimate load alone"
start_viaduct baseline
v_cpu_start=$(cpu_s "$vpid")
f_rate=0
legit baseline "$legit_rate"
stop_viaduct
report baseline "$tmp/viaduct-baseline.log"
base_per=$per

# 2. one source floods
say "== 2. flood: 127.0.0.2 offers unpaced INVITEs (one load process, nice $nice) during the" \
    "legitimate load"
start_viaduct flood
nice -n "$nice" "$vb" load --scenario call --rate 0 --no-reply --local-ip 127.0.0.2 \
    --duration "$((dur + 2))" --cpu "$load_cpu" >"$tmp/flooder.txt" 2>&1 &
fpid=$!
pids="$pids $fpid"
sleep 0.5
v_cpu_start=$(cpu_s "$vpid")
legit flood "$legit_rate"
wait "$fpid" || true
pids=$(echo "$pids" | sed "s/ $fpid\b//")
stop_viaduct
f_rate=$(awk '/^load:/ {print $NF; exit}' "$tmp/flooder.txt" | tr -d '/s')
say "  flooder: $(head -1 "$tmp/flooder.txt" | sed 's/^load: //')"
say "  flooder offered $f_rate INVITEs/s = $(fmt "$f_rate / $cap" 2)x C," \
    "$(fmt "$f_rate / $cap_v" 2)x C / busy (the issue asks 10x: one load process cannot)"
report flood "$tmp/viaduct-flood.log"
flood_succ=$succ
say "  CPU per legitimate transaction: $(fmt "$per" 1) us under flood vs $(fmt "$base_per" 1) us alone"

# 3. source spray
say "== 3. spray: INVITEs from random spoofed sources in 127.128.0.0/9 (rate $spray_rate," \
    "0: unpaced; nice $nice) during the legitimate load"
start_viaduct spray
nice -n "$nice" "$vb" spray --prefix 127.128.0.0/9 --rate "$spray_rate" \
    --duration "$((dur + 2))" --cpu "$load_cpu" >"$tmp/sprayer.txt" 2>&1 &
fpid=$!
pids="$pids $fpid"
sleep 0.5
v_cpu_start=$(cpu_s "$vpid")
legit spray "$legit_rate"
wait "$fpid" || true
pids=$(echo "$pids" | sed "s/ $fpid\b//")
stop_viaduct
say "  sprayer: $(cat "$tmp/sprayer.txt")"
f_rate=$(awk '{for (i = 1; i < NF; i++) if ($i == "=") {print $(i + 1); exit}}' \
    "$tmp/sprayer.txt" | tr -d '/s;')
say "  sprayer offered ${f_rate:-0} INVITEs/s = $(fmt "${f_rate:-0} / $cap" 2)x C," \
    "$(fmt "${f_rate:-0} / $cap_v" 2)x C / busy"
report spray "$tmp/viaduct-spray.log"

kill "$epid"
wait "$epid" || true
pids=""
{
    printf '{"commit": "%s", "cpus": %s, "io": "%s", "capacity": %s, "capacity_busy": %s, ' \
        "$GIT_REV" "$(nproc)" "$io" "$cap" "$busy"
    printf '"legit_rate": %s, "duration": %s, ' "$legit_rate" "$dur"
    printf '%s, %s, %s}\n' "$(cat "$tmp/baseline.json")" "$(cat "$tmp/flood.json")" \
        "$(cat "$tmp/spray.json")"
} >"$out/flood.json"
if [ "$(calc "$flood_succ >= 99 ? 1 : 0")" = 1 ]; then
    say "== flood: PASS: legitimate success $(fmt "$flood_succ" 2) % >= 99 % under a one-source flood"
    rc=0
else
    say "== flood: FAIL: legitimate success $(fmt "$flood_succ" 2) % < 99 % under a one-source flood"
    rc=1
fi
say "Results: $txt, $out/flood.json; logs in $tmp/"
exit $rc
