#!/usr/bin/env python3
"""test_dns.py - backends from DNS (core/dns.c, core/dns_res.c) against a real DNS server.

dnsmasq (Debian dnsmasq-base) runs inside the test's namespace on 127.0.0.53:5353 (a second one
on 127.0.0.54 where two are needed), with --no-resolv --no-hosts: it answers only what the test
gives it, A and AAAA records from an addn-hosts file it rereads on SIGHUP, SRV records from
--srv-host and --host-record (command line: a change of those means a new dnsmasq), every
answer with TTL 1 s (--local-ttl). viaduct is pointed at it with --dns-server.

What it shows, with the numbers printed:
  - a name with 3 A records is 3 backends (and AAAA records on an IPv6 listener more);
  - changed to 5 records, viaduct follows within the TTL plus the refresh bound and about 2/5
    of 6,000 REGISTER AORs move, each to one of the new backends; a record removed moves only
    its keys;
  - two instances whose servers give the same records in opposite order route every key alike;
  - a name that never resolves gives its pool no backends: 503;
  - an answer of 2,000 records is cut at dns.max_records, and records naming viaduct itself,
    loopback (viaduct not on loopback), link-local or a family it has no socket of are refused;
  - SRV: the lowest priority holds the table with weights 1:3 giving key shares near 1:3,
    the next priority takes everything once those are down;
  - an empty answer or a stopped server keeps the last records (stale, logged once, in
    /metrics and /backends) for dns.stale_seconds, then the backends go (503);
  - with probes on, a new address gets work only once it answers; a reload adds and drops
    names, and one that renames 40 names (old and new above the 64 slots) resolves all 40;
  - a Route naming its next hop by a hostname (SRV, A, with a port, RFC 4475 wsinv) is dropped
    once while looked up and forwarded on the retransmission; an unknown name gets 503; a name
    resolving to link-local is refused; a cached name keeps serving while the server is gone;
    over TCP the first try is answered 503 on its connection rather than dropped.

    sh test/integ/run.sh build/san test/integ/test_dns.py
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Endpoint, Tally, check, dialog, netns_problem, parse,  # noqa: E402
                    parse_args, request, response, sanitizer_report, start_viaduct)

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
DNS1 = ("127.0.0.53", 5353)
DNS2 = ("127.0.0.54", 5353)
LISTEN = ("127.0.0.1", 5060)
CLIENT = ("127.0.0.1", 7200)
ADMIN = ("127.0.0.1", 18090)
REG_PORT = 5070


def dns_query(server, name, qtype=1, timeout=0.3):
    """One UDP query; the answer count, or None without an answer."""
    q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + qtype.to_bytes(2, "big") + b"\x00\x01"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, server)
        data, _ = s.recvfrom(65535)
        return int.from_bytes(data[6:8], "big")
    except OSError:
        return None
    finally:
        s.close()


class Dnsmasq:
    """dnsmasq in the foreground, stopped by its PID."""

    def __init__(self, tmp, hosts, server=DNS1, args=()):
        self.server = server
        self.hosts = os.path.join(tmp, "hosts-%s-%d" % server)
        self.write(hosts)
        self.log = open(os.path.join(tmp, "dnsmasq-%s.log" % server[0]), "w")
        argv = [DNSMASQ, "--conf-file=/dev/null", "--keep-in-foreground", "--no-resolv",
                "--no-hosts", "--addn-hosts=" + self.hosts, "--local-ttl=1",
                "--listen-address=" + server[0], "--port=%d" % server[1], "--bind-interfaces",
                "--user=root", "--group=root", "--pid-file=", "--log-facility=-"] + list(args)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        end = time.monotonic() + 5
        while time.monotonic() < end:
            if dns_query(server, "ready.invalid") is not None:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError("dnsmasq did not start on %s:%d" % server)

    def write(self, hosts):
        """hosts: [(ip, name), ...], written whole by rename."""
        with open(self.hosts + ".tmp", "w") as f:
            for ip, name in hosts:
                f.write("%s %s\n" % (ip, name))
        os.replace(self.hosts + ".tmp", self.hosts)

    def change(self, hosts):
        self.write(hosts)
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


def regs(name, ips):
    return [(ip, name) for ip in ips]


def viaduct(binary, backends, extra=(), server=DNS1, listen=LISTEN, admin=ADMIN, more=()):
    args = ["--listen", "%s:%d" % listen, "--admin", "%s:%d" % admin, "--workers", "2"]
    if server is not None:
        args += ["--dns-server", "%s:%d" % server]
    for m in more:
        args += ["--listen", m]
    for b in backends:
        args += ["--backend", b]
    env = dict(os.environ)
    env.update({"VIADUCT_SECURITY_RATE": "0", "VIADUCT_SHUTDOWN_DRAIN_SECONDS": "0",
                "VIADUCT_DNS_REFRESH_MIN_MS": "500"})
    for kv in extra:
        k, v = kv.split("=", 1)
        env[k] = v
    vd = start_viaduct(binary, args, env=env)
    # the management listener opens after the start line
    wait_until(lambda: "management API on" in vd.stderr_text(), 5)
    return vd


def api(path, admin=ADMIN, method="GET"):
    req = urllib.request.Request("http://%s:%d%s" % (admin + (path,)), method=method,
                                 data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def backends(admin=ADMIN):
    _, body = api("/backends", admin)
    d = json.loads(body)
    return d, [b["address"] for p in d["pools"] for b in p["backends"]]


def metric(name, labels, admin=ADMIN):
    _, body = api("/metrics", admin)
    want = "%s{%s} " % (name, labels)
    for line in body.splitlines():
        if line.startswith(want):
            return float(line[len(want):])
    return None


def register(n, tag, via_port=CLIENT[1]):
    return request("REGISTER", "sip:example.com",
                   ["SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s%d" % (via_port, tag, n)],
                   dialog("REGISTER", "%s-%d@dns" % (tag, n),
                          to_uri="sip:user%d@example.com" % n,
                          from_uri="sip:user%d@example.com" % n) +
                   [("Contact", "<sip:user%d@127.0.0.1:%d>" % (n, via_port))])


def mapping(client, eps, n, tag, listen=LISTEN, chunk=400):
    """REGISTERs for AORs user0..user{n-1}; {aor index: backend (ip, port)}."""
    import select
    got = {}
    socks = {ep.sock: ep for ep in eps}
    for first in range(0, n, chunk):
        want = set(range(first, min(n, first + chunk)))
        for i in sorted(want):
            client.send(register(i, tag), listen)
        end = time.monotonic() + 3
        while want and time.monotonic() < end:
            r, _, _ = select.select(list(socks), [], [], 0.2)
            for s in r:
                for _ in range(256):
                    try:
                        data, _ = s.recvfrom(65535, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        break
                    cid = parse(data).get("Call-ID")
                    i = int(cid.split("-")[-1].split("@")[0])
                    got[i] = socks[s].addr
                    want.discard(i)
        check(not want, "%d of %d REGISTERs (%s) reached no backend" % (len(want), n, tag))
    return got


def wait_until(fn, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def finish(vd):
    code, err = vd.stop()
    bad = sanitizer_report(err)
    check(bad is None, "sanitizer: %s" % bad)
    check(code == 0, "exit code %s:\n%s" % (code, err[-2000:]))
    return err


IPS5 = ["127.0.0.%d" % i for i in range(11, 16)]


def test_a_records_follow_with_affinity(binary, tmp):
    dm = Dnsmasq(tmp, regs("reg.test", IPS5[:3]))
    eps = [Endpoint(ip, REG_PORT) for ip in IPS5]
    client = Endpoint(*CLIENT)
    vd = None
    try:
        vd = viaduct(binary, ["reg.test:%d" % REG_PORT])
        _, addrs = backends()
        check(sorted(addrs) == ["%s:%d" % (ip, REG_PORT) for ip in IPS5[:3]],
              "3 A records, backends %s" % addrs)
        n = 6000
        before = mapping(client, eps, n, "a3")
        check(set(before.values()) == {(ip, REG_PORT) for ip in IPS5[:3]},
              "3 backends served: %s" % set(before.values()))

        t0 = time.monotonic()
        dm.change(regs("reg.test", IPS5))
        ok = wait_until(lambda: len(backends()[1]) == 5, 5)
        follow = time.monotonic() - t0
        check(ok, "viaduct did not follow to 5 records: %s" % backends()[1])
        print("  3 -> 5 records followed in %.2f s (TTL 1 s, dns.refresh_min_ms 500)" % follow)
        check(follow < 2.0, "followed in %.2f s, more than TTL + refresh bound" % follow)
        after = mapping(client, eps, n, "a5")
        moved = [i for i in range(n) if before[i] != after[i]]
        frac = len(moved) / n
        print("  3 -> 5: %d of %d keys moved (%.3f; 2/5 = 0.4 expected)" % (len(moved), n, frac))
        check(0.35 <= frac <= 0.45, "moved fraction %.3f" % frac)
        new = {(ip, REG_PORT) for ip in IPS5[3:]}
        between = sum(1 for i in moved if after[i] not in new)
        print("  of them %d between old backends (Maglev's near-minimal disruption)" % between)
        check(between <= n // 100, "%d keys moved between old backends" % between)

        dm.change(regs("reg.test", IPS5[:2] + IPS5[3:]))  # 127.0.0.13 goes
        check(wait_until(lambda: len(backends()[1]) == 4, 5), "not 4 backends")
        gone = ("127.0.0.13", REG_PORT)
        after2 = mapping(client, eps, n, "a4")
        moved2 = [i for i in range(n) if after[i] != after2[i]]
        its = sum(1 for i in range(n) if after[i] == gone)
        others = sum(1 for i in moved2 if after[i] != gone)
        check(all(after2[i] != gone for i in range(n)), "keys still at the removed backend")
        check(all(after2[i] != after[i] for i in range(n) if after[i] == gone), "kept")
        print("  5 -> 4: %d keys moved: the removed backend's %d, and %d others" %
              (len(moved2), its, others))
        check(others <= n // 100, "%d keys of remaining backends moved" % others)
        ch = metric("viaduct_dns_changes_total", 'name="reg.test:5070",kind="a"')
        check(ch == 3, "viaduct_dns_changes_total %s, want 3" % ch)
        err = finish(vd)
        vd = None
        check("backends from DNS changed: 5 backends in 1 pools" in err, err[-1500:])
        for line in err.splitlines():
            if "slots changed" in line:
                print("  log: %s" % line.split('msg="')[1].split('"')[0])
    finally:
        if vd is not None:
            vd.stop()
        dm.stop()
        for ep in eps + [client]:
            ep.close()


def test_a_and_aaaa_records_are_both_backends(binary, tmp):
    v6 = ["2001:db8::1", "2001:db8::2"]
    dm = Dnsmasq(tmp, regs("dual.test", IPS5[:3] + v6))
    eps = [Endpoint(ip, REG_PORT) for ip in IPS5[:3] + v6]
    client = Endpoint(*CLIENT)
    vd = None
    try:
        # a final dot: absolute, no search list
        vd = viaduct(binary, ["dual.test.:%d" % REG_PORT], more=["[2001:db8::10]:5060"])
        _, addrs = backends()
        check(len(addrs) == 5 and "[2001:db8::1]:5070" in addrs, "backends %s" % addrs)
        got = mapping(client, eps, 500, "dual")
        check({a[0] for a in got.values()} == set(IPS5[:3] + v6),
              "served: %s" % {a[0] for a in got.values()})
        finish(vd)
        vd = None
    finally:
        if vd is not None:
            vd.stop()
        dm.stop()
        for ep in eps + [client]:
            ep.close()


def test_failures_serve_stale_then_the_backends_go(binary, tmp):
    dm = Dnsmasq(tmp, regs("reg.test", IPS5[:3]))
    eps = [Endpoint(ip, REG_PORT) for ip in IPS5[:3]]
    client = Endpoint(*CLIENT)
    vd = None
    label = 'name="reg.test:5070",kind="a"'
    try:
        vd = viaduct(binary, ["reg.test:%d" % REG_PORT], extra=["VIADUCT_DNS_STALE_SECONDS=3"])
        before = mapping(client, eps, 600, "st0")
        # an empty answer (the name gone from the server): the last records keep serving
        dm.change([])
        check(wait_until(lambda: metric("viaduct_dns_stale", label) == 1, 3),
              "not stale after an empty answer")
        check(backends()[0]["dns"][0]["state"] == "stale", "state %s" % backends()[0]["dns"])
        promtool = shutil.which("promtool")
        if promtool:  # the viaduct_dns_* series follow the exposition format's rules
            p = subprocess.run([promtool, "check", "metrics"], input=api("/metrics")[1].encode(),
                               capture_output=True)
            check(p.returncode == 0, "promtool: %s" % (p.stdout + p.stderr).decode()[-800:])
        check(mapping(client, eps, 600, "st0") == before, "keys moved while stale")
        dm.change(regs("reg.test", IPS5[:3]))
        check(wait_until(lambda: metric("viaduct_dns_stale", label) == 0, 3), "still stale")
        check("dns reg.test:5070: answering again, 3 records" in vd.stderr_text(), "no line")
        # the server stopped: stale again, then after dns.stale_seconds the backends go
        t0 = time.monotonic()
        dm.stop()
        check(wait_until(lambda: metric("viaduct_dns_stale", label) == 1, 3), "not stale")
        t_stale = time.monotonic() - t0
        age = metric("viaduct_dns_stale_seconds", label)
        check(mapping(client, eps, 600, "st0") == before, "keys moved while stale")
        fails = metric("viaduct_dns_failures_total", label)
        gone = wait_until(lambda: len(backends()[1]) == 0, 6)
        print("  server stopped: stale from %.2f s (%.2f s since the last answer), "
              "%d failed refreshes, backends gone after %.2f s (dns.stale_seconds 3)" %
              (t_stale, age, fails, time.monotonic() - t0))
        check(gone, "backends did not go: %s" % backends()[1])
        text = vd.stderr_text()
        check(text.count("keep serving") == 2, "stale logged %d times, want once per episode" %
              text.count("keep serving"))
        check("no good answer for 3 s: its 3 backends go" in text, text[-1500:])
        client.send(register(1, "st1"), LISTEN)
        r = client.recv(2.0)
        check(r is not None and parse(r[0]).status == 503, "no 503 with the backends gone")
        dm = Dnsmasq(tmp, regs("reg.test", IPS5[:3]))
        check(wait_until(lambda: len(backends()[1]) == 3, 4), "not back")
        check(mapping(client, eps, 600, "st0") == before, "keys not back where they were")
        finish(vd)
        vd = None
    finally:
        if vd is not None:
            vd.stop()
        dm.stop()
        for ep in eps + [client]:
            ep.close()


def test_route_hostname_over_tcp_goes_on_the_next_try(binary, tmp):
    """Over TCP nothing is retransmitted, so a name not cached yet is answered 503 with
    Retry-After on the connection (counted drop_name_pending) rather than silently dropped,
    and the client's next try goes."""
    dm = Dnsmasq(tmp, [("127.0.0.41", "next.test")])
    hop = Endpoint("127.0.0.41", 5060)
    vd = c = None
    try:
        vd = viaduct(binary, ["127.0.0.1:5070"], more=["tcp:127.0.0.1:5060"],
                     extra=["VIADUCT_SECURITY_TRUSTED=127.0.0.1/32", "VIADUCT_IO=uring"])
        c = socket.create_connection(LISTEN, timeout=2)
        ip, port = c.getsockname()

        def invite(n):
            return request("INVITE", "sip:bob@example.com",
                           ["SIP/2.0/TCP %s:%d;branch=z9hG4bKtcp%d" % (ip, port, n)],
                           dialog("INVITE", "tcp-%d@dns" % n) +
                           [("Route", "<sip:next.test;lr>")])
        l503 = 'code="503"'
        p0, a0 = drops("name_pending"), metric("viaduct_local_responses_total", l503)
        c.sendall(invite(1))
        c.settimeout(2)
        data = c.recv(65535)
        r = parse(data) if data else None
        check(r is not None and r.status == 503 and r.get("Retry-After"),
              "first over TCP: %r" % data[:80])
        check(hop.recv(0.3) is None, "forwarded before the name was cached")
        p1, a1 = drops("name_pending"), metric("viaduct_local_responses_total", l503)
        check(p1 - p0 == 1 and a1 - a0 == 1, "first over TCP: name_pending +%s, 503 +%s" %
              (p1 - p0, a1 - a0))
        c.sendall(invite(2))
        got = hop.recv(2.0)
        check(got is not None and parse(got[0]).method == "INVITE",
              "the next try over TCP was not forwarded")
        print("  over TCP: 503 with Retry-After on the connection while looked up, the next "
              "try forwarded")
        c.close()
        c = None
        finish(vd)
        vd = None
    finally:
        if c is not None:
            c.close()
        if vd is not None:
            vd.stop()
        dm.stop()
        hop.close()


class Registrar:
    """A backend on its own thread: answers OPTIONS probes 200 while answering is set, and
    counts the REGISTERs it gets."""

    def __init__(self, ip, port, answering=True):
        import threading
        self.ep = Endpoint(ip, port)
        self.answering = answering
        self.registers = 0
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        while not self.stop_ev.is_set():
            r = self.ep.recv(0.05)
            if r is None:
                continue
            m = parse(r[0])
            if m.method == "REGISTER":
                self.registers += 1
            elif m.method == "OPTIONS" and self.answering:
                self.ep.send(response(200, "OK", m.get_all("via"), [
                    ("From", m.get("from")), ("To", m.get("to") + ";tag=be"),
                    ("Call-ID", m.get("call-id")), ("CSeq", m.get("cseq"))]), r[1])

    def close(self):
        self.stop_ev.set()
        self.th.join(2)
        self.ep.close()


def test_with_probes_a_new_address_waits_for_its_answers(binary, tmp):
    dm = Dnsmasq(tmp, regs("reg.test", IPS5[:2]))
    regs3 = [Registrar(ip, REG_PORT, answering=ip != IPS5[2]) for ip in IPS5[:3]]
    client = Endpoint(*CLIENT)
    vd = None

    def states():
        return {b["address"]: b["state"] for b in backends()[0]["pools"][0]["backends"]}

    def send(tag, n=300):
        before = [r.registers for r in regs3]
        for i in range(n):
            client.send(register(i, tag), LISTEN)
        time.sleep(0.5)
        return [r.registers - b for r, b in zip(regs3, before)]
    try:
        vd = viaduct(binary, ["reg.test:%d" % REG_PORT],
                     extra=["VIADUCT_HEALTH_ENABLED=true", "VIADUCT_HEALTH_INTERVAL_MS=100",
                            "VIADUCT_HEALTH_TIMEOUT_MS=80", "VIADUCT_HEALTH_UP_AFTER=2",
                            "VIADUCT_HEALTH_DOWN_AFTER=2", "VIADUCT_REGISTRATION_INTERVAL=0"])
        check(wait_until(lambda: set(states().values()) == {"up"}, 3), "not up: %s" % states())
        dm.change(regs("reg.test", IPS5[:3]))
        new = "%s:%d" % (IPS5[2], REG_PORT)
        check(wait_until(lambda: new in states(), 3), "not followed: %s" % states())
        check(states()[new] == "down", "a new address that never answered: %s" % states())
        while_down = send("hc1")
        check(while_down[2] == 0 and sum(while_down) == 300,
              "REGISTERs while it is probed: %s" % while_down)
        regs3[2].answering = True
        t0 = time.monotonic()
        check(wait_until(lambda: states()[new] == "up", 3), "never up: %s" % states())
        up = time.monotonic() - t0
        got = send("hc2")
        print("  with probes: a new address stayed down (REGISTERs %s), up %.2f s after it "
              "answered, then took %d of 300" % (while_down, up, got[2]))
        check(got[2] > 50, "after it came up: %s" % got)
        finish(vd)
        vd = None
    finally:
        if vd is not None:
            vd.stop()
        dm.stop()
        for r in regs3:
            r.close()
        client.close()


def test_a_reload_adds_and_drops_names(binary, tmp):
    dm = Dnsmasq(tmp, regs("reg.test", IPS5[:2]) + regs("more.test", IPS5[2:4]))
    path = os.path.join(tmp, "reload.yaml")

    def write(backends):
        with open(path + ".tmp", "w") as f:
            f.write("pools:\n  - name: default\n    backends: [%s]\n" %
                    ", ".join('"%s"' % b for b in backends))
        os.replace(path + ".tmp", path)
    write(["reg.test:5070"])
    vd = None
    try:
        vd = viaduct(binary, [], more=(), extra=["VIADUCT_CONFIG=" + path])
        check(sorted(backends()[1]) == ["127.0.0.11:5070", "127.0.0.12:5070"],
              "before: %s" % backends()[1])
        write(["reg.test:5070", "more.test:5070", "127.0.0.15:5070"])
        os.kill(vd.pid, signal.SIGHUP)
        check(wait_until(lambda: len(backends()[1]) == 5, 4), "after: %s" % backends()[1])
        write(["more.test:5070"])
        os.kill(vd.pid, signal.SIGHUP)
        check(wait_until(lambda: sorted(backends()[1]) == ["127.0.0.13:5070",
                                                          "127.0.0.14:5070"], 4),
              "after the second: %s" % backends()[1])
        names = [d["name"] for d in backends()[0]["dns"]]
        check(names == ["more.test:5070"], "still watched: %s" % names)
        _, conf = api("/config")
        check('"more.test:5070"' in conf and "127.0.0.13" not in conf, "/config: %s" % conf)
        finish(vd)
        vd = None
    finally:
        if vd is not None:
            vd.stop()
        dm.stop()


def test_a_reload_that_renames_forty_names_resolves_all_forty(binary, tmp):
    # 40 names, then 40 others: together more than the resolver's 64 slots (DNS_MAX_NAMES)
    old = ["old%d.test" % i for i in range(40)]
    new = ["new%d.test" % i for i in range(40)]
    ip = {n: "127.0.%d.%d" % (1 + k, i + 1) for k, ns in enumerate((old, new))
          for i, n in enumerate(ns)}
    dm = Dnsmasq(tmp, [(ip[n], n) for n in old + new])
    path = os.path.join(tmp, "forty.yaml")

    def write(names):
        with open(path + ".tmp", "w") as f:
            f.write("pools:\n  - name: default\n    backends: [%s]\n" %
                    ", ".join('"%s:5070"' % n for n in names))
        os.replace(path + ".tmp", path)

    def want(names):
        return sorted("%s:5070" % ip[n] for n in names)
    write(old)
    vd = None
    try:
        vd = viaduct(binary, [], extra=["VIADUCT_CONFIG=" + path])
        check(wait_until(lambda: sorted(backends()[1]) == want(old), 4),
              "before: %d backends" % len(backends()[1]))
        write(new)
        os.kill(vd.pid, signal.SIGHUP)
        check(wait_until(lambda: sorted(backends()[1]) == want(new), 6),
              "after: %d of 40 backends" % len(set(backends()[1]) & set(want(new))))
        dns = backends()[0]["dns"]
        print("  40 names renamed by a reload: %d watched, %d ok" %
              (len(dns), sum(d["state"] == "ok" for d in dns)))
        check(sorted(d["name"] for d in dns) == sorted("%s:5070" % n for n in new) and
              all(d["state"] == "ok" for d in dns), "watched: %s" % dns)
        finish(vd)
        vd = None
    finally:
        if vd is not None:
            vd.stop()
        dm.stop()


def test_a_reload_changes_the_servers_and_timeout(binary, tmp):
    dm1 = Dnsmasq(tmp, regs("reg.test", IPS5[:2]), server=DNS1)
    dm2 = Dnsmasq(tmp, regs("reg.test", IPS5[2:4]), server=DNS2)
    path = os.path.join(tmp, "servers.yaml")

    def write(server, timeout):
        with open(path + ".tmp", "w") as f:
            f.write('pools:\n  - name: default\n    backends: ["reg.test:5070"]\n'
                    'dns: {servers: ["%s:%d"], timeout_ms: %d}\n' % (server + (timeout,)))
        os.replace(path + ".tmp", path)
    write(DNS1, 500)
    vd = None
    try:
        vd = viaduct(binary, [], server=None, extra=["VIADUCT_CONFIG=" + path])
        check(sorted(backends()[1]) == ["127.0.0.11:5070", "127.0.0.12:5070"],
              "from the first server: %s" % backends()[1])
        write(DNS2, 700)
        os.kill(vd.pid, signal.SIGHUP)
        check(wait_until(lambda: sorted(backends()[1]) == ["127.0.0.13:5070", "127.0.0.14:5070"],
                         4), "from the second server: %s" % backends()[1])
        finish(vd)
        vd = None
    finally:
        if vd is not None:
            vd.stop()
        dm1.stop()
        dm2.stop()


SRV = [("a.test", "127.0.0.31", 5080, 10, 1), ("b.test", "127.0.0.32", 5081, 10, 3),
       ("c.test", "127.0.0.33", 5082, 20, 1)]


def srv_args(records, name="_sip._udp.srv.test"):
    args = []
    for target, ip, port, prio, weight in records:
        args.append("--srv-host=%s,%s,%d,%d,%d" % (name, target, port, prio, weight))
        args.append("--host-record=%s,%s" % (target, ip))
    return args


def test_srv_priorities_are_tiers_and_weights_shares(binary, tmp):
    dm = Dnsmasq(tmp, [], args=srv_args(SRV))
    eps = [Endpoint(ip, port) for _, ip, port, _, _ in SRV]
    client = Endpoint(*CLIENT)
    vd = None
    try:
        vd = viaduct(binary, ["_sip._udp.srv.test"])
        d, addrs = backends()
        check(sorted(addrs) == ["127.0.0.31:5080", "127.0.0.32:5081", "127.0.0.33:5082"],
              "SRV backends %s" % addrs)
        weights = {b["address"]: b["weight"] for b in d["pools"][0]["backends"]}
        check(weights["127.0.0.32:5081"] == 3, "weights %s" % weights)
        n = 4000
        got = mapping(client, eps, n, "srv")
        share = {a: sum(1 for v in got.values() if v == a) / n
                 for a in [(ip, port) for _, ip, port, _, _ in SRV]}
        print("  SRV weights 1:3 (priority 10) and 1 (priority 20): key shares %s" %
              ", ".join("%s:%d %.3f" % (a[0], a[1], v) for a, v in sorted(share.items())))
        check(share[("127.0.0.33", 5082)] == 0, "the priority 20 target took keys")
        check(0.72 <= share[("127.0.0.32", 5081)] <= 0.78, "weight 3 share %s" % share)
        # the primary tier out (the operator's word): everything to the fallback tier
        for name in ("127.0.0.31:5080", "127.0.0.32:5081"):
            code, body = api("/backends/default/%s/down" % name, method="POST")
            check(code == 200, "POST down %s: %d %s" % (name, code, body))
        check(wait_until(lambda: all(b["state"] == "down" for b in backends()[0]["pools"][0]
                                     ["backends"] if b["address"] != "127.0.0.33:5082"), 3),
              "not down: %s" % backends()[0])
        got = mapping(client, eps, 500, "srvfb")
        check(set(got.values()) == {("127.0.0.33", 5082)},
              "with priority 10 down: %s" % set(got.values()))
        code, _ = api("/backends/default/127.0.0.31:5080/up", method="POST")
        check(wait_until(lambda: backends()[0]["pools"][0]["backends"][0]["state"] == "up", 3),
              "not up again")
        got = mapping(client, eps, 500, "srvback")
        check(set(got.values()) == {("127.0.0.31", 5080)},
              "with one of priority 10 back: %s" % set(got.values()))
        finish(vd)
        vd = None
    finally:
        if vd is not None:
            vd.stop()
        dm.stop()
        for ep in eps + [client]:
            ep.close()


def test_two_instances_with_shuffled_answers_route_alike(binary, tmp):
    ips = ["127.0.0.%d" % i for i in range(21, 28)]
    dm1 = Dnsmasq(tmp, regs("reg.test", ips), server=DNS1)
    dm2 = Dnsmasq(tmp, regs("reg.test", list(reversed(ips))), server=DNS2)
    eps = [Endpoint(ip, REG_PORT) for ip in ips]
    client = Endpoint(*CLIENT)
    vd1 = vd2 = None
    try:
        vd1 = viaduct(binary, ["reg.test:%d" % REG_PORT])
        vd2 = viaduct(binary, ["reg.test:%d" % REG_PORT], server=DNS2,
                      listen=("127.0.0.1", 5062), admin=("127.0.0.1", 18091))
        a = mapping(client, eps, 2000, "i1")
        b = mapping(client, eps, 2000, "i2", listen=("127.0.0.1", 5062))
        same = sum(1 for i in range(2000) if a[i] == b[i])
        print("  two instances, records in opposite order: %d of 2000 keys alike" % same)
        check(same == 2000, "only %d of 2000 keys alike" % same)
        finish(vd1)
        finish(vd2)
        vd1 = vd2 = None
    finally:
        for v in (vd1, vd2):
            if v is not None:
                v.stop()
        dm1.stop()
        dm2.stop()
        for ep in eps + [client]:
            ep.close()


def test_a_name_that_never_resolves_answers_503(binary, tmp):
    dm = Dnsmasq(tmp, regs("reg.test", IPS5[:1]))
    client = Endpoint(*CLIENT)
    vd = None
    try:
        vd = viaduct(binary, ["nothere.test:%d" % REG_PORT])
        client.send(register(1, "nx"), LISTEN)
        r = client.recv(2.0)
        check(r is not None and parse(r[0]).status == 503, "no 503: %s" % (r,))
        f = metric("viaduct_dns_failures_total", 'name="nothere.test:5070",kind="a"')
        check(f is not None and f >= 1, "failures %s" % f)
        d, _ = backends()
        check(d["dns"][0]["state"] == "failed", "state %s" % d["dns"])
        err = finish(vd)
        vd = None
        check("no backends from it until it resolves" in err, err[-1500:])
        check("no default pool" not in err, "an unresolved DNS pool is no missing pool")
    finally:
        if vd is not None:
            vd.stop()
        dm.stop()
        client.close()


def test_hostile_answers_are_bounded_and_refused(binary, tmp):
    big = [("10.1.%d.%d" % (i // 250, i % 250 + 1), "big.test") for i in range(2000)]
    bad = regs("bad.test", ["192.0.2.1", "127.0.0.5", "169.254.1.1", "192.0.2.2",
                            "2001:db8::3"])
    dm = Dnsmasq(tmp, big + bad)
    vd = None
    try:
        vd = viaduct(binary, ["big.test:%d" % REG_PORT])
        _, addrs = backends()
        check(len(addrs) == 128, "2000 records gave %d backends, want 128" % len(addrs))
        dropped = metric("viaduct_dns_records_dropped_total", 'name="big.test:5070",kind="a"')
        print("  2000 records: 128 backends, %s dropped" % dropped)
        check(dropped == 1872, "dropped %s" % dropped)
        err = finish(vd)
        vd = None
        check("more than dns.max_records" in err, err[-1500:])

        # viaduct on 192.0.2.1, not on loopback: its own IP, loopback, link-local and IPv6
        # (no IPv6 socket) are refused; 192.0.2.2 remains
        vd = viaduct(binary, ["bad.test:5060"], listen=("192.0.2.1", 5060))
        _, addrs = backends()
        check(addrs == ["192.0.2.2:5060"], "backends %s" % addrs)
        err = finish(vd)
        vd = None
        check("dns: 4 records refused" in err, err[-1500:])
    finally:
        if vd is not None:
            vd.stop()
        dm.stop()


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("SHARED_DIR", os.path.join(os.path.dirname(ROOT), "shared"))
HOPS = [("127.0.0.41", "next.test"), ("127.0.0.43", "services.example.com"),
        ("169.254.7.7", "linklocal.test"), ("127.0.0.42", "t.test")]


def routed_invite(n, route, tag="rt"):
    return request("INVITE", "sip:bob@example.com",
                   ["SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s%d" % (CLIENT[1], tag, n)],
                   dialog("INVITE", "%s-%d@dns" % (tag, n)) + [("Route", route)])


def drops(reason):
    """viaduct_drops_total{reason} from /metrics: unlike a SIGUSR1 block, always whole."""
    return metric("viaduct_drops_total", 'reason="%s"' % reason) or 0


def send_twice(vd, client, eps, data, counter):
    """The request, then its retransmission 0.5 s later (T1): (first's counter delta, where the
    first went, where the second went). Each 'where' is (endpoint addr, bytes) or None."""
    import select
    c0 = drops(counter)
    got = []
    for _ in range(2):
        client.send(data, LISTEN)
        end = time.monotonic() + 0.5
        hit = None
        while time.monotonic() < end and hit is None:
            r, _, _ = select.select([e.sock for e in eps] + [client.sock], [], [], 0.05)
            for sock in r:
                d, a = sock.recvfrom(65535)
                hit = ((a[0], a[1]) if sock is client.sock else
                       next(e.addr for e in eps if e.sock is sock), d)
        got.append(hit)
        if len(got) == 1:
            delta = drops(counter) - c0
    return delta, got[0], got[1]


def test_route_hostnames_resolve_off_the_packet_path(binary, tmp):
    dm = Dnsmasq(tmp, [(ip, n) for ip, n in HOPS],
                 args=["--srv-host=_sip._udp.svc.test,t.test,5090,10,1"])
    eps = [Endpoint("127.0.0.41", 5060), Endpoint("127.0.0.41", 5099),
           Endpoint("127.0.0.42", 5090), Endpoint("127.0.0.43", 5060)]
    client = Endpoint(*CLIENT)
    vd = None
    try:
        vd = viaduct(binary, ["127.0.0.1:5070"],
                     extra=["VIADUCT_SECURITY_TRUSTED=127.0.0.1/32"])
        cases = [("<sip:next.test;lr>", ("127.0.0.41", 5060)),        # no SRV: A, port 5060
                 ("<sip:svc.test;lr>", ("127.0.0.42", 5090)),         # SRV first
                 ("<sip:NEXT.test:5099;lr>", ("127.0.0.41", 5099))]   # a port: A only
        for i, (route, want) in enumerate(cases):
            delta, first, second = send_twice(vd, client, eps, routed_invite(i, route),
                                              "name_pending")
            print("  Route %s: first dropped (drop_name_pending +%d), retransmission to %s" %
                  (route, delta, second[0] if second else None))
            check(first is None and delta == 1, "%s: first %s, +%d" % (route, first, delta))
            check(second is not None and second[0] == want, "%s: second %s" % (route, second))
            check(parse(second[1]).method == "INVITE", "not the INVITE")
        # cached: the next request with that Route goes at once
        _, first, _ = send_twice(vd, client, eps, routed_invite(9, cases[0][0]), "name_pending")
        check(first is not None and first[0] == cases[0][1], "cached: %s" % (first,))
        # a name that does not resolve: dropped while looked up, then 503 (cached negative)
        delta, first, second = send_twice(vd, client, eps,
                                          routed_invite(10, "<sip:nothere.test;lr>"),
                                          "name_pending")
        check(first is None and second is not None and second[0] == LISTEN and
              parse(second[1]).status == 503, "unknown name: %s, %s" % (first, second))
        # resolving to link-local: px_policy's destination rules refuse it
        delta, first, second = send_twice(vd, client, eps,
                                          routed_invite(11, "<sip:linklocal.test:5060;lr>"),
                                          "forbidden_destination")
        check(first is None and second is None and delta == 0, "link-local: %s" % (second,))
        check(drops("forbidden_destination") == 1, "forbidden %s" %
              drops("forbidden_destination"))
        # RFC 4475 wsinv: its Route names services.example.com (no alias here): forwarded there
        # once the name resolves
        wsinv = open(os.path.join(SHARED, "corpus", "rfc4475", "wsinv.dat"), "rb").read()
        delta, first, second = send_twice(vd, client, eps, wsinv, "name_pending")
        print("  RFC 4475 wsinv: first dropped (+%d), retransmission to %s" %
              (delta, second[0] if second else None))
        check(first is None and delta == 1, "wsinv first: %s" % (first,))
        check(second is not None and second[0] == ("127.0.0.43", 5060), "wsinv: %s" % (second,))
        fwd = parse(second[1])
        check(fwd.get("Max-Forwards") == "67", "Max-Forwards %s" % fwd.get("Max-Forwards"))
        _, body = api("/metrics")
        check("viaduct_dns_route_negative_total 1" in body, "no negative count")
        # 6 names; an entry past its TTL (1 s) serves while it is looked up again
        n = [int(l.split()[1]) for l in body.splitlines()
             if l.startswith("viaduct_dns_route_lookups_total ")]
        check(n and n[0] >= 6, "lookups %s" % n)
        # the server gone: past its TTL an entry keeps serving while refreshes fail
        dm.stop()
        time.sleep(1.2)
        ok = 0
        for i in range(3):
            _, first, _ = send_twice(vd, client, eps, routed_invite(20 + i, cases[0][0]),
                                     "name_pending")
            ok += first is not None and first[0] == cases[0][1]
            time.sleep(0.3)
        _, body = api("/metrics")
        stale = [l for l in body.splitlines() if l.startswith("viaduct_dns_route_stale_total ")]
        print("  DNS server stopped: %d of 3 requests forwarded on the stale entry; %s" %
              (ok, stale))
        check(ok == 3, "%d of 3 forwarded with the server gone" % ok)
        check(stale and int(stale[0].split()[1]) >= 1, "no failed refresh counted: %s" % stale)
        finish(vd)
        vd = None
    finally:
        if vd is not None:
            vd.stop()
        dm.stop()
        for ep in eps + [client]:
            ep.close()


def main():
    args = parse_args()
    problem = netns_problem()
    if problem:
        print("FAIL setup: %s" % problem)
        print("0 passed, 1 failed")
        return 1
    t = Tally()
    if not os.path.exists(DNSMASQ):
        print("FAIL setup: no dnsmasq (Debian dnsmasq-base; test/deps.sh installs it)")
        print("0 passed, 1 failed")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in sorted(globals().items()):
            if name.startswith("test_") and callable(fn):
                t.run(name, fn, args.bin, tmp)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
