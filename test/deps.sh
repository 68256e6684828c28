#!/bin/sh
# Checks for the Debian packages viaduct builds and tests with, and installs the missing ones
# when run as root, so a fresh Debian 12 machine needs nothing else.
#
# Usage: test/deps.sh --build                 what a plain `make` needs (compiler and libraries)
#        test/deps.sh [extra-package ...]     that plus the test tools: make test, demo, bench, fuzz
#
# --build never installs a test tool: when the build packages are there, `make` needs no root
# and no network. Missing packages and not root: the missing ones are named and it exits 1.
# Extras by purpose: make demo adds gnuplot-nox (the plot); make bench adds gnuplot-nox and
# kamailio (the system viaduct is compared with); bench/sipp/crosscheck.sh uses sip-tester.
set -eu
# build-essential: cc, make, libc headers; the rest are the libraries core/ and net/ link
# (libmicrohttpd-dev: the management API, core/admin.c; libsodium-dev: SipHash-2-4 for flow
# tokens and the Via tag, BLAKE2b to derive their keys; libc-ares-dev: backends named by DNS,
# core/dns_res.c).
build_pkgs="build-essential liburing-dev libxxhash-dev libjemalloc-dev libyaml-dev libmicrohttpd-dev libsodium-dev libc-ares-dev"
# libcmocka-dev: unit tests; clang: the clang build and libFuzzer; python3: integration tests
# (python3-yaml: test/integ/test_deploy.py reads deploy/kubernetes/);
# iproute2 (ip) and util-linux (unshare): their private network namespace; sip-tester: SIPp;
# prometheus: promtool and a real server scraping /metrics (test/integ/test_admin.py);
# podman, runc (podman 4.3's crun refuses some hosts' cgroup layout) and mmdebstrap (the
# base image from Debian's mirror): the container test (test/container/run.sh); systemd:
# systemd-analyze verify and security of deploy/systemd/ (test/integ/test_deploy.py);
# kamailio (the registrars), baresip-core (the phones, driven by ctrl_tcp) and nftables (the
# phone behind a NAT): test/integ/test_registrar.py; dnsmasq-base (a DNS server with A, AAAA
# and SRV records and a 1 s TTL, no system service): test/integ/test_dns.py.
test_pkgs="libcmocka-dev clang python3 python3-yaml iproute2 util-linux sip-tester prometheus podman runc mmdebstrap systemd kamailio baresip-core nftables dnsmasq-base"
if [ "${1:-}" = --build ]; then
    what="the build needs"
    pkgs=$build_pkgs
else
    what="the tests and tools need"
    pkgs="$build_pkgs $test_pkgs $*"
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: $what Debian packages that are not installed:$missing" >&2
    echo "deps: install them (apt-get install$missing) or run make as root to have them installed" >&2
    exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q $missing >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q $missing >/dev/null
}
