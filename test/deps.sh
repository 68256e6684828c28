#!/bin/sh
# Installs the Debian packages viaduct builds and tests with, only those missing.
# Called by `make test` and `make demo` so a fresh Debian 12 machine needs nothing else.
# Usage: test/deps.sh [extra-package ...]
# Extras by purpose: make demo adds gnuplot-nox (the plot); make bench adds gnuplot-nox and
# kamailio (the system viaduct is compared with); bench/sipp/crosscheck.sh uses sip-tester.
set -eu
pkgs="build-essential pkg-config liburing-dev libxxhash-dev libcmocka-dev libjemalloc-dev libyaml-dev \
    clang python3 iproute2 util-linux sip-tester $*"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q $missing >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q $missing >/dev/null
}
