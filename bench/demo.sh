#!/bin/sh
# The demo for now: what viaduct's parser makes of the shared SIP flows, and how fast it is.
# Usage: bench/demo.sh BUILDDIR      (make demo; needs BUILDDIR/viaduct-parse and bench-parse)
# Env:   SHARED_DIR (default ../shared) holds corpus/flows.
# The forwarding demo (UAs -> viaduct -> backends over UDP) arrives with the data path; until
# then this shows the parser the forwarder will run on every datagram. Takes a few seconds.
set -u
build=${1:?usage: bench/demo.sh BUILDDIR}
flows=${SHARED_DIR:-../shared}/corpus/flows
for b in viaduct-parse bench-parse; do
    if [ ! -x "$build/$b" ]; then
        echo "demo: $build/$b is missing: run make BUILD=$build first" >&2
        exit 2
    fi
done
if [ ! -d "$flows" ]; then
    echo "demo: $flows is missing: set SHARED_DIR to the directory holding corpus/" >&2
    exit 2
fi

echo "== viaduct demo: the parser over $flows"
echo "   (the forwarding demo comes with the data path; this is the parser it will use)"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT INT TERM
"$build/viaduct-parse" "$flows"/*.sip >"$tmp"
rc=$?
total=$(wc -l <"$tmp")
ok=$(grep -c ': ok ' "$tmp")
echo "messages parsed: $total, accepted: $ok, refused: $((total - ok)) (exit status $rc)"
echo "requests by method:"
sed -n 's/.*: ok request \(.*\)$/\1/p' "$tmp" | sort | uniq -c | sort -rn | sed 's/^/  /'
echo "responses by status:"
sed -n 's/.*: ok response \(.*\)$/\1/p' "$tmp" | sort | uniq -c | sort -k2n | sed 's/^/  /'
if [ "$ok" -ne "$total" ]; then
    echo "refused:"
    grep -v ': ok ' "$tmp" | sed 's/^/  /'
fi
echo
echo "== parse benchmark (short run; make bench for the full 2,000,000 iterations)"
GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown) "$build/bench-parse" 100000
echo
echo "== the forwarding demo (UDP in, Via added, out to a backend by Call-ID) is not part of this"
echo "   build yet: it comes with the data path (net/ and core/)."
[ "$rc" -eq 0 ]
