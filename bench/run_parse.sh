#!/bin/sh
# Runs the parser benchmark and keeps the result with the commit and CPU it was measured on.
# Usage: bench/run_parse.sh BUILDDIR [ITERATIONS]      (make bench: BUILDDIR=build)
# Writes BUILDDIR/bench/parse.txt (this run) and appends it to BUILDDIR/bench/parse-history.txt;
# nothing outside BUILDDIR. The commit is `git rev-parse --short HEAD`, "-dirty" when tracked
# files differ from it (the numbers then describe uncommitted code).
set -eu
build=${1:?usage: bench/run_parse.sh BUILDDIR [ITERATIONS]}
iters=${2:-2000000}
bin=$build/bench-parse
if [ ! -x "$bin" ]; then
    echo "bench: $bin is missing: run make BUILD=$build first" >&2
    exit 2
fi
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$rev" != unknown ] && ! git diff --quiet HEAD -- 2>/dev/null; then
    rev=$rev-dirty
fi
mkdir -p "$build/bench"
out=$build/bench/parse.txt
{
    echo "date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')  host: $(uname -n)  kernel: $(uname -r)"
    GIT_REV=$rev "$bin" "$iters"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
{ cat "$out"; echo; } >>"$build/bench/parse-history.txt"
echo "bench: saved to $out"
