#!/bin/sh
# Runs a libFuzzer target for SECONDS and fails if it finds a crash, leak, timeout or
# out-of-memory input (STYLE G24).
# Usage: test/fuzz/run.sh BIN SECONDS [PREFIXES]     (from the repository root; make fuzz does this)
# PREFIXES: for a target whose input starts with selector bytes (fuzz_px: configuration,
# source, clock), a space-separated list of hex prefixes; each seed is copied once per prefix.
# Seeds: the shared corpora (rfc4475, rfc5118/wire, flows under $SHARED_DIR, default ../shared)
# plus test/fuzz/corpus/, copied into build/fuzz/corpus-work, which libFuzzer then grows.
# Findings land in build/fuzz/artifacts/; each is printed with its path and hex dump, ready to
# become a case in test/test_sip_regress.c. The libFuzzer log is build/fuzz/fuzz.log.
set -u
bin=${1:?usage: run.sh BIN SECONDS [PREFIXES]}
secs=${2:?usage: run.sh BIN SECONDS [PREFIXES]}
prefixes=${3:-}
name=$(basename "$bin")
shared=${SHARED_DIR:-../shared}
work=build/fuzz/corpus-work-$name
artifacts=build/fuzz/artifacts-$name
log=build/fuzz/$name.log

if [ ! -x "$bin" ]; then
    echo "fuzz: $bin is not an executable (build it with make build/fuzz/fuzz_sip_parse)" >&2
    exit 2
fi
for d in rfc4475 rfc5118/wire flows; do
    if [ ! -d "$shared/corpus/$d" ]; then
        echo "fuzz: seed corpus $shared/corpus/$d is missing (set SHARED_DIR)" >&2
        exit 2
    fi
done

rm -rf "$work" "$artifacts"
mkdir -p "$work" "$artifacts"
n=0
for f in "$shared"/corpus/rfc4475/*.dat "$shared"/corpus/rfc5118/wire/*.sip \
         "$shared"/corpus/flows/*.sip test/fuzz/corpus/*; do
    [ -f "$f" ] || continue
    # Prefix with the source directory so equal base names cannot overwrite each other.
    seed="$work/$(basename "$(dirname "$f")")-$(basename "$f")"
    if [ -z "$prefixes" ]; then
        cp "$f" "$seed"
        n=$((n + 1))
        continue
    fi
    for p in $prefixes; do
        # POSIX printf knows octal escapes only: each hex byte becomes \ooo
        { printf "$(for b in $(echo "$p" | sed 's/../& /g'); do printf '\\%03o' "0x$b"; done)"
          cat "$f"; } >"$seed-$p"
        n=$((n + 1))
    done
done
echo "fuzz: $n seeds, ${secs}s, log in $log"

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
"$bin" -max_total_time="$secs" -max_len=4096 -dict=test/fuzz/sip.dict -timeout=5 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" >"$log" 2>&1
rc=$?

found=0
for a in "$artifacts"/*; do
    [ -f "$a" ] || continue
    found=$((found + 1))
    echo "fuzz: FOUND $a ($(wc -c <"$a") bytes):"
    od -An -tx1 -v "$a" | sed 's/^ */    /'
done
grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed 's/^/fuzz: /'
if [ "$found" -gt 0 ] || [ "$rc" -ne 0 ]; then
    echo "fuzz: FAILED (libFuzzer exit $rc, $found finding(s)); the report:" >&2
    grep -E -A30 "^(==[0-9]+==ERROR|$name: |.*runtime error)" "$log" | head -60 >&2
    exit 1
fi
echo "fuzz: ok, no crash in ${secs}s"
