#!/usr/bin/env python3
"""test_routing.py - viaduct's consistent-hash routing and health, through the real binary.

    python3 test/integ/test_routing.py --bin build/san/viaduct     (run.sh does this in a netns)

Issue 4's integration tests: REGISTER affinity per AOR, call affinity per Call-ID, a backend
killed (ICMP port unreachable: a hold-down) loses its new traffic within 1 s while every other key stays,
a backend that stops answering probes is taken out within interval x k + timeout and comes
back after up_after answered probes (with the CANCEL fan-out to the key's old and new choice
after each change), an ICMP-downed backend brought back by probes, all down -> 503 with
Retry-After, drain (and the CANCEL fan-out of a key whose primary is draining from the
start), rules picking pools, a key header, config errors with FILE:LINE, --check round trip,
VIADUCT_* environment, Record-Route and Path. Health transitions must be logged once each.

Every traffic test starts its own viaduct (--workers 2) from a YAML file written to a temp
dir (or from flags / the environment where that is the point), on its own port, and runs
once per packet engine (--io uring, --io mmsg); at the end it must exit 0 on SIGTERM with no
sanitizer report. Backends are Endpoint sockets served by one thread each: they answer
viaduct's OPTIONS probes (branch z9hG4bKvdhc...) with 200 while "alive" and record every
other request. Every request a test sends carries a unique X-Probe-Id header, so where it
arrived is looked up by that id; a test never needs a long sleep, every wait is bounded.

Addresses: viaduct on 127.0.0.1:51xx (5060 for the Record-Route/Path test, whose expected
header names it), backends 127.0.0.1:6xxx, clients 127.0.0.1:7xxx and 127.0.0.2 (on lo).
VIADUCT_* variables of the caller's environment are removed first: they would change every
viaduct started here.

Narrowing a run (for debugging): INTEG_IO="mmsg" and INTEG_ONLY=substring.
"""

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Endpoint, Failure, StartError, Tally, check, dialog, log_messages,  # noqa: E402
                    hostport, netns_problem, parse, parse_args, parse_via, request, response,
                    sanitizer_report, start_viaduct, wait_port_free)

IP = "127.0.0.1"
IP2 = "127.0.0.2"  # a second client address: 127.0.0.0/8 is on lo
ENGINES = ["uring", "mmsg"]
PROBE_BRANCH = "z9hG4bKvdhc."
TMP = None  # the temp dir for YAML files, made in main

_ports = {"vd": 5100, "be": 6100, "cl": 7100}


def port(kind):
    _ports[kind] += 1
    return _ports[kind]


_n = [0]


def uniq(what):
    _n[0] += 1
    return "%s-%d-%08x" % (what, _n[0], random.getrandbits(32))

# ---------------------------------------------------------------- backends


class Collector:
    """Where every recorded request arrived, by its X-Probe-Id."""

    def __init__(self):
        self.cond = threading.Condition()
        self.by_id = {}

    def add(self, name, m):
        pid = m.get("X-Probe-Id")
        with self.cond:
            self.by_id.setdefault(pid, []).append((name, m))
            self.cond.notify_all()

    def names(self, pid):
        with self.cond:
            return [n for n, _ in self.by_id.get(pid, [])]

    def msgs(self, pid):
        with self.cond:
            return list(self.by_id.get(pid, []))

    def wait(self, pids, timeout=2.0, copies=1):
        """Waits until every pid arrived `copies` times (or timeout); {pid: [names]}."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if all(len(self.by_id.get(p, ())) >= copies for p in pids):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.05))
            return {p: [n for n, _ in self.by_id.get(p, [])] for p in pids}


class Backend:
    """A UDP backend in a thread: answers probes with 200 while alive, records requests."""

    def __init__(self, name, col, ip=IP, port_=None):
        self.name = name
        self.col = col
        self.ep = Endpoint(ip, port_ or port("be"))
        self.addr = self.ep.addr
        self.hp = hostport(*self.addr)
        self.alive = True
        self.probes = 0
        self.answered = 0
        self.requests = []  # Msg, in arrival order
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_ev.is_set():
            try:
                r = self.ep.recv(0.05)
            except OSError:
                return
            if r is None:
                continue
            data, src = r
            try:
                m = parse(data)
            except ValueError:
                continue
            if not m.is_request:
                continue
            vias = m.get_all("Via")
            top = parse_via(vias[0]) if vias else None
            if m.method == "OPTIONS" and top and (top.branch or "").startswith(PROBE_BRANCH):
                self.probes += 1
                if self.alive:
                    self.answered += 1
                    self._answer(m, src)
                continue
            with self.lock:
                self.requests.append(m)
            self.col.add(self.name, m)
            self.on_request(m, vias, src)

    def on_request(self, m, vias, src):
        """Called for each recorded request; a subclass answers here."""

    def _answer(self, m, src):
        h = [("From", m.get("From") or ""), ("To", (m.get("To") or "") + ";tag=be1"),
             ("Call-ID", m.get("Call-ID") or ""), ("CSeq", m.get("CSeq") or "")]
        try:
            self.ep.send(response(200, "OK", m.get_all("Via"), h), src)
        except OSError:
            pass

    def got(self):
        with self.lock:
            return list(self.requests)

    def kill(self):
        """Closes the socket: from now on the kernel answers ICMP port unreachable."""
        if self.closed:
            return
        self.closed = True
        self.stop_ev.set()
        self.thread.join(2)
        self.ep.close()

# ---------------------------------------------------------------- a test's world


class Rig:
    """Backends, a client, viaduct; close() undoes everything (by PID)."""

    def __init__(self, binary, io=None):
        self.binary, self.io = binary, io
        self.col = Collector()
        self.backends = []
        self.clients = []
        self.client = self.add_client()
        self.vd = None
        self.vd_port = None
        self.yaml = None

    def add_backend(self, name, **kw):
        b = Backend(name, self.col, **kw)
        self.backends.append(b)
        return b

    def add_client(self, ip=IP):
        ep = Endpoint(ip, port("cl"))
        self.clients.append(ep)
        return ep

    @property
    def vd_addr(self):
        return (IP, self.vd_port)

    @property
    def vd_hp(self):
        return hostport(IP, self.vd_port)

    def write_yaml(self, text, name=None):
        path = os.path.join(TMP, name or uniq("cfg") + ".yaml")
        with open(path, "w") as f:
            f.write(text)
        self.yaml = path
        return path

    def start(self, args, vd_port=None):
        self.vd_port = vd_port or port("vd")
        check(wait_port_free(IP, self.vd_port), "%s still bound after 2 s" % self.vd_hp)
        try:
            self.vd = start_viaduct(self.binary, args)
        except StartError as e:
            raise Failure(str(e))

    def start_yaml(self, body, extra_args=(), vd_port=None):
        """Starts viaduct -c FILE where FILE is listen/workers/io plus body."""
        self.vd_port = vd_port or port("vd")
        head = 'listen: ["%s"]\nworkers: 2\nio: %s\n' % (self.vd_hp, self.io or "auto")
        path = self.write_yaml(head + body)
        self.start(["-c", path] + list(extra_args), vd_port=self.vd_port)

    def finish(self):
        """Stops viaduct: it must exit 0 and its stderr must hold no sanitizer report."""
        check(self.vd is not None, "viaduct never started")
        alive = self.vd.alive()
        code, err = self.vd.stop()
        check(alive, "viaduct had exited (%s) before the end: %s" % (code, err[-1500:]))
        check(code == 0, "viaduct exited %s on SIGTERM: %s" % (code, err[-1500:]))
        rep = sanitizer_report(err)
        check(rep is None, "sanitizer: %s" % rep)
        return err

    def close(self):
        if self.vd is not None and self.vd.alive():
            self.vd.stop()
        for b in self.backends:
            b.kill()
        for c in self.clients:
            c.close()

    # -- requests

    def req(self, method, call_id, ruri="sip:bob@example.com", cseq=1, to_tag=None,
            to_uri="sip:bob@example.com", from_uri="sip:alice@example.com", extra=(),
            client=None, branch=None, from_tag="ft1"):
        """(probe id, bytes) of a request from client (default: the rig's first)."""
        client = client or self.client
        pid = uniq("p")
        via = "SIP/2.0/UDP %s;branch=%s" % (hostport(*client.addr),
                                              branch or "z9hG4bK" + uniq("b"))
        h = dialog(method, call_id, cseq, from_tag, to_tag, 70, to_uri=to_uri, from_uri=from_uri)
        return pid, request(method, ruri, [via], h + [("X-Probe-Id", pid)] + list(extra))

    def send(self, data, client=None):
        (client or self.client).send(data, self.vd_addr)

    def route(self, reqs, timeout=3.0, batch=40, client=None):
        """Sends (pid, data) pairs in batches; {pid: backend name}. Fails on a loss or a copy."""
        out = {}
        for i in range(0, len(reqs), batch):
            part = reqs[i:i + batch]
            for _, data in part:
                self.send(data, client)
            got = self.col.wait([p for p, _ in part], timeout)
            for pid, names in got.items():
                if not names:
                    reply = (client or self.client).recv(0.05)
                    raise Failure("request %s was not forwarded (client got %s)" % (
                        pid, repr(reply[0].split(b"\r\n", 1)[0]) if reply else "nothing"))
                check(len(names) == 1, "request %s arrived %d times: %s" % (pid, len(names),
                                                                           names))
                out[pid] = names[0]
        return out

    def route_one(self, data_pair, timeout=1.0, client=None):
        return self.route([data_pair], timeout, client=client)[data_pair[0]]

    def local_reply(self, data, timeout=1.0, client=None):
        client = client or self.client
        client.send(data, self.vd_addr)
        r = client.recv(timeout)
        check(r is not None, "no response from viaduct")
        return parse(r[0])


def backends_yaml(backends, pool="default", drain=()):
    lines = ["  - name: %s" % pool, "    backends:"]
    for b in backends:
        lines.append('      - {address: "%s", name: %s%s}' % (
            b.hp, b.name, ", drain: true" if b.name in drain else ""))
    return "\n".join(lines) + "\n"


def transitions(err, name):
    """The health log lines about backend name."""
    return [m for m in log_messages(err) if m.startswith("backend %s (" % name)]


def run_rig(binary, io, fn):
    rig = Rig(binary, io)
    try:
        fn(rig)
    finally:
        rig.close()

# ---------------------------------------------------------------- 1, 2: affinity


def t_register_affinity(binary, io):
    def body(rig):
        bs = [rig.add_backend("b%d" % i) for i in range(4)]
        rig.start_yaml("pools:\n" + backends_yaml(bs))
        spellings = ["<sip:%s@example.com>", "<sip:%s@EXAMPLE.com>",
                     "\"User\" <sip:%s@Example.Com:5060>;x=1"]
        reqs, aor_of = [], {}
        for k in range(3):
            for i in range(100):
                user = "user%03d" % i
                to = spellings[k] % user
                pid = uniq("p")
                via = "SIP/2.0/UDP %s;branch=z9hG4bK%s" % (hostport(*rig.client.addr),
                                                           uniq("b"))
                h = [("Max-Forwards", "70"), ("From", to + ";tag=f%d" % k), ("To", to),
                     ("Call-ID", uniq("reg")), ("CSeq", "%d REGISTER" % (k + 1)),
                     ("Contact", "<sip:%s@%s>" % (user, hostport(*rig.client.addr))),
                     ("Expires", "3600"), ("X-Probe-Id", pid)]
                reqs.append((pid, request("REGISTER", "sip:example.com", [via], h)))
                aor_of[pid] = user
        where = rig.route(reqs)
        per_aor = {}
        for pid, name in where.items():
            per_aor.setdefault(aor_of[pid], set()).add(name)
        split = sorted((a, sorted(s)) for a, s in per_aor.items() if len(s) != 1)
        check(not split, "%d AORs reached more than one backend, e.g. %s" % (len(split),
                                                                             split[:3]))
        used = {next(iter(s)) for s in per_aor.values()}
        load = {b.name: sum(1 for s in per_aor.values() if b.name in s) for b in bs}
        check(len(used) == 4, "only %s used: AORs per backend %s" % (sorted(used), load))
        check(min(load.values()) >= 10, "lopsided: AORs per backend %s" % load)
        # Record-Route and Path are off by default
        m = bs[0].got()[0] if bs[0].got() else None
        check(m is not None and not m.get_all("Path") and not m.get_all("Record-Route"),
              "Path/Record-Route without --path/--record-route")
        rig.finish()
    return body


def t_call_affinity(binary, io):
    def body(rig):
        bs = [rig.add_backend("b%d" % i) for i in range(4)]
        rig.start_yaml("pools:\n" + backends_yaml(bs))
        reqs, call_of = [], {}
        for i in range(50):
            cid = uniq("call")
            br = "z9hG4bK" + uniq("inv")
            seq = [rig.req("INVITE", cid, branch=br),
                   rig.req("CANCEL", cid, branch=br),  # CANCEL: no To tag, INVITE's branch
                   rig.req("ACK", cid, branch=br, to_tag="tt%d" % i),  # ACK of the 487
                   rig.req("BYE", cid, cseq=2, to_tag="tt%d" % i),
                   rig.req("INVITE", cid, cseq=3, to_tag="tt%d" % i)]  # re-INVITE
            for pid, data in seq:
                reqs.append((pid, data))
                call_of[pid] = (cid, parse(data).method)
        where = rig.route(reqs, batch=50)
        per_call = {}
        for pid, name in where.items():
            per_call.setdefault(call_of[pid][0], set()).add(name)
        split = [(c, sorted(s)) for c, s in per_call.items() if len(s) != 1]
        check(not split, "%d calls were split over backends, e.g. %s" % (len(split), split[:3]))
        used = {next(iter(s)) for s in per_call.values()}
        check(len(used) >= 3, "50 calls used only %s" % sorted(used))
        rig.finish()
    return body

# ---------------------------------------------------------------- 3: ICMP


def map_calls(rig, cids, cseq):
    reqs = [rig.req("INVITE", c, cseq=cseq) for c in cids]
    where = rig.route(reqs)
    return {c: where[p] for c, (p, _) in zip(cids, reqs)}


def t_killed_backend(binary, io):
    def body(rig):
        bs = [rig.add_backend("b%d" % i) for i in range(4)]
        vd_port = port("vd")
        args = ["--listen", hostport(IP, vd_port), "--workers", "2", "--io", io]
        for b in bs:
            args += ["--backend", b.hp]
        rig.start(args, vd_port=vd_port)
        cids = [uniq("k") for _ in range(200)]
        before = map_calls(rig, cids, 1)
        victim = next(b for b in bs if list(before.values()).count(b.name) >= 10)
        vkeys = [c for c in cids if before[c] == victim.name]
        c0 = rig.vd.counters()
        victim.kill()
        t0 = time.monotonic()
        # keep sending the victim's keys: the first sends draw the ICMP, then they move
        moved_at, n, lost = None, 0, 0
        while time.monotonic() - t0 < 2.0 and moved_at is None:
            pid, data = rig.req("INVITE", vkeys[n % len(vkeys)], cseq=100 + n)
            n += 1
            rig.send(data)
            names = rig.col.wait([pid], 0.03)[pid]
            if names:
                moved_at = time.monotonic() - t0
            else:
                lost += 1
        check(moved_at is not None, "the killed backend's keys still went nowhere after 2 s "
              "(%d sent)" % n)
        check(moved_at < 1.0, "its keys moved only after %.2f s" % moved_at)
        after = map_calls(rig, cids, 500)
        stayed = [c for c in cids if before[c] != victim.name and after[c] != before[c]]
        check(not stayed, "%d keys of live backends moved, e.g. %s: %s -> %s" % (
            len(stayed), stayed[:1], before[stayed[0]] if stayed else "",
            after[stayed[0]] if stayed else ""))
        to_victim = [c for c in vkeys if after[c] == victim.name]
        check(not to_victim, "%d keys still reach the killed backend" % len(to_victim))
        spread = {after[c] for c in vkeys}
        c1 = rig.vd.counters()
        check(c1.get("backend_holddowns", 0) > c0.get("backend_holddowns", 0),
              "backend_holddowns %s -> %s" % (c0.get("backend_holddowns"),
                                              c1.get("backend_holddowns")))
        err = rig.finish()
        lines = transitions(err, victim.hp)
        check(lines and "up -> held" in lines[0] and
              all("held" in l and "-> down" not in l for l in lines),
              "want 'up -> held' (holds only, no verdict) for %s, got %r" % (victim.hp, lines))
        others = [l for b in bs if b is not victim for l in transitions(err, b.hp)]
        check(not others, "live backends changed state: %r" % others)
        check(len(spread) >= 2 or len(vkeys) < 8,
              "the %d moved keys all went to %s (want them spread)" % (len(vkeys), spread))
        print("   (%s: moved after %.3f s, %d sends lost, %d keys spread over %s)" % (
            io, moved_at, lost, len(vkeys), sorted(spread)), flush=True)
    return body

# ---------------------------------------------------------------- 4: probes


def poll_key(rig, key, until_at, limit):
    """Sends INVITEs of one Call-ID until one reaches a backend until_at(name) accepts;
    the time.monotonic() of that arrival, or None after limit seconds."""
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < limit:
        n += 1
        pid, data = rig.req("INVITE", key, cseq=1000 + n)
        rig.send(data)
        names = rig.col.wait([pid], 0.05)[pid]
        if names and until_at(names[0]):
            return time.monotonic()
    return None


def cancel_fanout(rig, key, other, when):
    """An INVITE of key, then its CANCEL: the CANCEL must reach where the INVITE went and
    other (the key's choice before the last state change), with fwd_fanout + 1. Returns
    where the INVITE went."""
    c0 = rig.vd.counters()
    br = "z9hG4bK" + uniq("inv")
    pid, data = rig.req("INVITE", key, cseq=5000, branch=br)
    now = rig.route_one((pid, data))
    check(now != other, "%s: the INVITE went to %s, the key's old choice" % (when, now))
    pid, data = rig.req("CANCEL", key, cseq=5000, branch=br)
    rig.send(data)
    got = sorted(rig.col.wait([pid], 1.0, copies=2)[pid])
    c1 = rig.vd.counters()
    fan = c1.get("fwd_fanout", 0) - c0.get("fwd_fanout", 0)
    check(got == sorted([now, other]), "%s: the CANCEL reached %s, want %s and %s (fwd_fanout "
          "+%d)" % (when, got, now, other, fan))
    check(fan == 1, "%s: fwd_fanout moved by %d, want 1" % (when, fan))
    return now


HEALTH = ("health: {enabled: true, interval_ms: 100, timeout_ms: 50, down_after: 3, "
          "up_after: 2, jitter_pct: 10}\n")


def t_silent_backend(binary, io):
    def body(rig):
        bs = [rig.add_backend("b%d" % i) for i in range(4)]
        rig.start_yaml(HEALTH + "pools:\n" + backends_yaml(bs))
        # probes must be flowing and answered before the clock starts
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and min(b.answered for b in bs) < 3:
            time.sleep(0.02)
        check(min(b.answered for b in bs) >= 3,
              "probes answered per backend: %s" % [b.answered for b in bs])
        cids = [uniq("h") for _ in range(120)]
        before = map_calls(rig, cids, 1)
        victim = next(b for b in bs if list(before.values()).count(b.name) >= 10)
        vkey = next(c for c in cids if before[c] == victim.name)

        victim.alive = False
        t_stop = time.monotonic()
        t_out = poll_key(rig, vkey, lambda n: n != victim.name, 3.0)
        check(t_out is not None, "still routed to the silent backend after 3 s (%d probes "
              "seen)" % victim.probes)
        took = t_out - t_stop
        check(took < 1.5, "taken out after %.2f s (interval 100 ms x 3 + timeout 50 ms)" % took)
        check(took > 0.1, "taken out after %.3f s: faster than 3 missed probes can be" % took)
        after = map_calls(rig, cids, 2)
        stayed = [c for c in cids if before[c] != victim.name and after[c] != before[c]]
        check(not stayed, "%d keys of live backends moved while %s was down" % (
            len(stayed), victim.name))
        check(all(after[c] != victim.name for c in cids), "a key still reaches the down one")
        # within the follow window a CANCEL reaches the key's choice now and before
        fb = cancel_fanout(rig, vkey, victim.name, "after it went down")
        victim.alive = True
        t_ans = time.monotonic()
        t_back = poll_key(rig, vkey, lambda n: n == victim.name, 3.0)
        check(t_back is not None, "not back 3 s after it answered again")
        back = t_back - t_ans
        check(back < 1.5, "back after %.2f s (up_after 2 x interval 100 ms)" % back)
        cancel_fanout(rig, vkey, fb, "after it came back")
        again = map_calls(rig, cids, 3)
        diff = [c for c in cids if again[c] != before[c]]
        check(not diff, "%d keys not where they were before the outage" % len(diff))
        err = rig.finish()
        lines = transitions(err, victim.name)
        check(len(lines) == 2 and "up -> down" in lines[0] and "down -> up" in lines[1],
              "want one up -> down and one down -> up line, got %r" % lines)
        check("probe" in lines[0], "the down line names no probe cause: %r" % lines[0])
        others = [l for b in bs if b is not victim for l in transitions(err, b.name)]
        check(not others, "answering backends changed state: %r" % others)
        print("   (%s: out after %.3f s, back after %.3f s)" % (io, took, back), flush=True)
    return body

def t_icmp_then_probes(binary, io):
    """Health on: an ICMP unreachable takes a backend out at once (before any probe could),
    and once something listens on its port again the probes bring it back."""
    def body(rig):
        bs = [rig.add_backend("b%d" % i) for i in range(3)]
        rig.start_yaml(HEALTH + "pools:\n" + backends_yaml(bs))
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and min(b.answered for b in bs) < 2:
            time.sleep(0.02)
        cids = [uniq("ip") for _ in range(90)]
        before = map_calls(rig, cids, 1)
        victim = next(b for b in bs if list(before.values()).count(b.name) >= 10)
        vkey = next(c for c in cids if before[c] == victim.name)
        c0 = rig.vd.counters()
        victim.kill()
        t0 = time.monotonic()
        t_out = poll_key(rig, vkey, lambda n: n != victim.name, 2.0)
        check(t_out is not None, "the killed backend's key went nowhere for 2 s")
        took = t_out - t0
        check(took < 1.0, "its key moved only after %.2f s" % took)
        c1 = rig.vd.counters()
        check(c1.get("backend_holddowns", 0) > c0.get("backend_holddowns", 0),
              "backend_holddowns did not move")
        again = rig.add_backend(victim.name, port_=victim.addr[1])
        t1 = time.monotonic()
        t_back = poll_key(rig, vkey, lambda n: n == victim.name, 3.0)
        check(t_back is not None, "not back 3 s after its port answered again (%d probes "
              "answered)" % again.answered)
        back = t_back - t1
        check(back < 1.5, "back after %.2f s (up_after 2 x interval 100 ms)" % back)
        err = rig.finish()
        lines = transitions(err, victim.name)
        check(len(lines) == 3 and "up -> held (ICMP error" in lines[0] and
              "held -> down (" in lines[1] and "the ICMP error is confirmed" in lines[1] and
              "down -> up" in lines[2],
              "want 'up -> held', 'held -> down' (a probe confirms) then 'down -> up', got %r"
              % lines)
        print("   (%s: out after %.3f s, back after %.3f s)" % (io, took, back), flush=True)
    return body

# ---------------------------------------------------------------- 5: all down


def t_all_down_503(binary, io):
    def body(rig):
        # two backends that exist only in the config: their ports are closed
        dead = ["127.0.0.1:%d" % port("be"), "127.0.0.1:%d" % port("be")]
        rig.start_yaml("retry_after: 7\npools:\n  - name: default\n    backends: [%s]\n" %
                       ", ".join('"%s"' % d for d in dead))
        t0 = time.monotonic()
        resp, n = None, 0
        while time.monotonic() - t0 < 2.0:
            n += 1
            pid, data = rig.req("INVITE", uniq("d"))
            rig.send(data)
            r = rig.client.recv(0.03)
            if r is not None:
                resp = parse(r[0])
                break
        check(resp is not None, "no answer after %d INVITEs to dead backends" % n)
        check(resp.status == 503, "got %r, want 503" % resp.start)
        check(resp.get_all("Retry-After") == ["7"], "Retry-After %r, want ['7'] (retry_after: 7)"
              % resp.get_all("Retry-After"))
        # every later request, whatever its key, gets the same
        pid, data = rig.req("REGISTER", uniq("r"), ruri="sip:example.com")
        resp = rig.local_reply(data)
        check(resp.status == 503 and resp.get("Retry-After") == "7",
              "REGISTER: %r Retry-After %r" % (resp.start, resp.get("Retry-After")))
        check(resp.get("Call-ID") == parse(data).get("Call-ID"), "503 lacks the Call-ID")
        c = rig.vd.counters()
        check(c.get("local_503", 0) >= 2, "local_503 %s" % c.get("local_503"))
        check(c.get("backend_holddowns", 0) >= 2, "backend_holddowns %s (want both held)"
              % c.get("backend_holddowns"))
        rig.finish()
    return body

def t_no_default_pool(binary, io):
    """Issue 13 item 4: rules for REGISTERs only, no default pool. --check says what the
    rest get; an INVITE no rule matches is answered 404 and counted no_route; REGISTERs
    still reach the registrars; the start line counts one pool."""
    def body(rig):
        rg = [rig.add_backend("reg%d" % i) for i in range(2)]
        text = ("pools:\n" + backends_yaml(rg, "registrars") +
                "rules:\n  - match: {method: [REGISTER]}\n    pool: registrars\n")
        code, out, err = run_exit(binary, ["--check", "-c", rig.write_yaml(
            'listen: ["127.0.0.1:5060"]\n' + text)], env=clean_env())
        check(code == 0, "--check exit %s: %s" % (code, err))
        check("# no rule matches: answered 404 Not Found (pool default has no backends)"
              in out, "--check does not say what unmatched requests get:\n%s" % out)
        rig.start_yaml(text)
        names = [m for m in log_messages(rig.vd.stderr_text()) if " worker" in m]
        check(names and "2 backends in 1 pool;" in names[0] and "404" in names[0],
              "start line %r" % names)
        pid, data = rig.req("INVITE", uniq("c"))
        resp = rig.local_reply(data)
        check(resp.status == 404, "INVITE no rule matches: %r, want 404" % resp.start)
        check(resp.get("Retry-After") is None, "404 with Retry-After")
        w = rig.route([rig.req("REGISTER", uniq("r"), ruri="sip:example.com",
                               to_uri="sip:u%d@example.com" % i) for i in range(6)])
        check(set(w.values()) <= {b.name for b in rg}, "REGISTERs reached %s" % w)
        c = rig.vd.counters()
        check(c.get("no_route") == 1 and c.get("local_404") == 1,
              "no_route %s local_404 %s, want 1 and 1" % (c.get("no_route"),
                                                          c.get("local_404")))
        rig.finish()
    return body

# ---------------------------------------------------------------- 6: drain


def t_drain(binary, io):
    def body(rig):
        bs = [rig.add_backend("b%d" % i) for i in range(3)]
        dr = bs[2]
        rig.start_yaml("pools:\n" + backends_yaml(bs, drain=[dr.name]))
        cids = [uniq("dr") for _ in range(150)]
        # in-dialog (To tag): every key reaches its primary, the draining one included
        bye = [rig.req("BYE", c, cseq=2, to_tag="tt") for c in cids]
        w = rig.route(bye)
        prim = {c: w[p] for c, (p, _) in zip(cids, bye)}
        dkeys = [c for c in cids if prim[c] == dr.name]
        check(len(dkeys) >= 10, "only %d of 150 in-dialog requests reached the draining "
              "backend: in-dialog requests must keep reaching it" % len(dkeys))
        # out of dialog: never the draining one; the others' keys stay on their primary
        inv = [rig.req("INVITE", c) for c in cids]
        w = rig.route(inv)
        ood = {c: w[p] for c, (p, _) in zip(cids, inv)}
        bad = [c for c in cids if ood[c] == dr.name]
        check(not bad, "%d out-of-dialog INVITEs reached the draining backend" % len(bad))
        moved = [c for c in cids if prim[c] != dr.name and ood[c] != prim[c]]
        check(not moved, "%d keys of non-draining backends moved" % len(moved))
        # the CANCEL of an INVITE whose key's primary is draining, right after start: the
        # drain is a state change within the follow window (viaduct may just have been
        # restarted with drain: true while INVITEs it sent to that backend still ring), so
        # both candidates get it
        c0 = rig.vd.counters()
        key = dkeys[0]
        br = "z9hG4bK" + uniq("inv")
        pid, data = rig.req("INVITE", key, cseq=7, branch=br)
        fallback = rig.route_one((pid, data))
        pid, data = rig.req("CANCEL", key, cseq=7, branch=br)
        rig.send(data)
        got = sorted(rig.col.wait([pid], 1.0, copies=2)[pid])
        c1 = rig.vd.counters()
        fan = c1.get("fwd_fanout", 0) - c0.get("fwd_fanout", 0)
        rig.finish()
        check(got == sorted([fallback, dr.name]),
              "CANCEL of key %s (primary %s draining, INVITE went to %s) reached %s, want "
              "both %s and %s; fwd_fanout moved by %d" % (key, dr.name, fallback, got,
                                                          fallback, dr.name, fan))
        check(fan == 1, "fwd_fanout moved by %d, want 1" % fan)
    return body

# ---------------------------------------------------------------- 7, 8: rules and keys


def t_rules_pools(binary, io):
    def body(rig):
        px = [rig.add_backend("px%d" % i) for i in range(2)]
        rg = [rig.add_backend("reg%d" % i) for i in range(2)]
        cr = [rig.add_backend("car%d" % i) for i in range(2)]
        rig.start_yaml(
            "pools:\n" + backends_yaml(px) + backends_yaml(rg, "registrars") +
            backends_yaml(cr, "carrier") +
            "rules:\n"
            "  - match: {method: [REGISTER]}\n    pool: registrars\n    key: to-aor\n"
            "  - match: {ruri_domain: [\".reg.test\"]}\n    pool: registrars\n"
            "    key: ruri-aor\n"
            "  - match: {source: [\"127.0.0.2/32\"]}\n    pool: carrier\n")
        other = rig.add_client(IP2)
        names = lambda pool: {b.name for b in pool}  # noqa: E731
        regs = [rig.req("REGISTER", uniq("r"), ruri="sip:example.com",
                        to_uri="sip:u%d@example.com" % i) for i in range(20)]
        w = set(rig.route(regs).values())
        check(w <= names(rg), "REGISTERs reached %s, want only registrars" % sorted(w))
        check(len(w) == 2, "20 AORs used only %s" % sorted(w))
        invs = [rig.req("INVITE", uniq("c")) for _ in range(20)]
        w = set(rig.route(invs).values())
        check(w <= names(px), "INVITEs reached %s, want only the default pool" % sorted(w))
        check(len(w) == 2, "20 calls used only %s" % sorted(w))
        dom = [rig.req("INVITE", uniq("c"), ruri="sip:u%d@Sub.Reg.Test" % i) for i in range(10)]
        w = set(rig.route(dom).values())
        check(w <= names(rg), "INVITEs to *.reg.test reached %s, want registrars" % sorted(w))
        src = [rig.req("INVITE", uniq("c"), client=other) for _ in range(20)]
        w = set(rig.route(src, client=other).values())
        check(w <= names(cr), "INVITEs from 127.0.0.2 reached %s, want carrier" % sorted(w))
        # the first match wins: a REGISTER from 127.0.0.2 is the REGISTER rule's
        regs = [rig.req("REGISTER", uniq("r"), ruri="sip:example.com", client=other,
                        to_uri="sip:v%d@example.com" % i) for i in range(10)]
        w = set(rig.route(regs, client=other).values())
        check(w <= names(rg), "REGISTERs from 127.0.0.2 reached %s, want registrars (first "
              "rule)" % sorted(w))
        # the ruri-aor key: one user, several calls, one registrar
        same = [rig.req("INVITE", uniq("c"), ruri="sip:carol@%s.reg.test" % h)
                for h in ("x", "X", "x")]
        w = set(rig.route(same).values())
        check(len(w) == 1, "calls to one user (ruri-aor) reached %s" % sorted(w))
        rig.finish()
    return body


def t_header_key(binary, io):
    def body(rig):
        bs = [rig.add_backend("b%d" % i) for i in range(4)]
        rig.start_yaml("pools:\n" + backends_yaml(bs) +
                       "rules:\n  - match: {method: [INVITE, MESSAGE]}\n    pool: default\n"
                       "    key: {header: X-Tenant}\n")
        reqs, ten = [], {}
        for t in range(20):
            for k in range(4):
                name = ("X-Tenant", "x-tenant", "X-TENANT", "X-Tenant")[k]
                pid, data = rig.req("INVITE" if k % 2 == 0 else "MESSAGE", uniq("c"),
                                    extra=[(name, "tenant-%d" % t)])
                reqs.append((pid, data))
                ten[pid] = t
        w = rig.route(reqs)
        per = {}
        for pid, n in w.items():
            per.setdefault(ten[pid], set()).add(n)
        split = [(t, sorted(s)) for t, s in per.items() if len(s) != 1]
        check(not split, "%d tenants reached several backends, e.g. %s" % (len(split),
                                                                           split[:2]))
        check(len({next(iter(s)) for s in per.values()}) >= 2, "20 tenants all on one backend")
        c0 = rig.vd.counters()
        pid, data = rig.req("INVITE", uniq("c"))
        resp = rig.local_reply(data)
        check(resp.status == 400, "INVITE without X-Tenant: %r, want 400" % resp.start)
        check(not rig.col.names(pid), "it was forwarded too: %s" % rig.col.names(pid))
        pid, data = rig.req("INVITE", uniq("c"), extra=[("X-Tenant", "")])
        resp = rig.local_reply(data)
        check(resp.status == 400, "INVITE with an empty X-Tenant: %r, want 400" % resp.start)
        c1 = rig.vd.counters()
        check(c1.get("local_400", 0) - c0.get("local_400", 0) == 2,
              "local_400 %s -> %s" % (c0.get("local_400"), c1.get("local_400")))
        # a request no rule matches keeps the default key (Call-ID) and needs no X-Tenant
        pid, data = rig.req("BYE", uniq("c"), to_tag="t1")
        rig.route_one((pid, data))
        rig.finish()
    return body

# ---------------------------------------------------------------- 9, 10: config, env


def run_exit(binary, args, env=None, timeout=5.0):
    p = subprocess.Popen([binary] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()  # by this Popen's own pid
        out, err = p.communicate(timeout=5)
        raise Failure("%s still running after %.0f s: %r" % (args, timeout,
                                                              err.decode("latin-1")[-300:]))
    return p.returncode, out.decode("latin-1"), err.decode("latin-1")


GOOD_YAML = """\
# a good configuration
listen:
  - address: "127.0.0.1:5160"
    advertise: "sip.example.com:5060"
aliases: ["example.com"]
workers: 2
io: mmsg
retry_after: 9
record_route: true
keys: {register: to-aor, default: call-id}
health: {enabled: true, interval_ms: 200, timeout_ms: 100, down_after: 2, up_after: 1}
pools:
  - name: default
    backends: ["127.0.0.1:6901", {address: "127.0.0.1:6902", name: p2, weight: 3}]
  - name: registrars
    backends:
      - {address: "127.0.0.1:6903", name: reg-a, drain: true}
rules:
  - match: {method: [REGISTER], source: ["10.0.0.0/8"]}
    pool: registrars
    key: {header: X-Account}
"""

# (name, text, line the error must name, words the message must hold)
BAD_YAMLS = [
    ("unknown_key", GOOD_YAML.replace("    backends:\n      - {address: \"127.0.0.1:6903\"",
                                      "    backends:\n      - {adress: \"127.0.0.1:6903\""),
     17, "adress"),
    ("unknown_top_key", GOOD_YAML.replace("retry_after: 9", "retry_afterr: 9"), 8,
     "retry_afterr"),
    ("bad_value_range", GOOD_YAML.replace("retry_after: 9", "retry_after: 99999999"), 8,
     "99999999"),
    ("bad_value_prime", GOOD_YAML.replace("retry_after: 9", "table_size: 65536"), 8, "prime"),
    ("bad_value_bool", GOOD_YAML.replace("record_route: true", "record_route: maybe"), 9,
     "maybe"),
    ("bad_address", GOOD_YAML.replace('"127.0.0.1:6901"', '"127.0.0.1:99999"'), 14, "99999"),
    ("bad_key", GOOD_YAML.replace("key: {header: X-Account}", "key: call_id"), 21, "call_id"),
    ("bad_cidr", GOOD_YAML.replace("10.0.0.0/8", "10.0.0.1/8"), 19, "10.0.0.1/8"),
    ("bad_interval", GOOD_YAML.replace("interval_ms: 200", "interval_ms: 5"), 11, "5"),
]


def t_config_errors(binary, _io=None):
    for name, text, line, word in BAD_YAMLS:
        path = os.path.join(TMP, "bad-%s.yaml" % name)
        with open(path, "w") as f:
            f.write(text)
        code, out, err = run_exit(binary, ["-c", path])
        check(code not in (0, None), "%s: exit %s" % (name, code))
        want = "%s:%d:" % (path, line)
        check(want in err, "%s: stderr %r lacks %r" % (name, err.strip(), want))
        check(word in err, "%s: stderr %r does not mention %r" % (name, err.strip(), word))
        lines = [l for l in err.splitlines() if l.strip()]
        check(len(lines) == 1, "%s: want one line, got %r" % (name, err))
        code, out, err = run_exit(binary, ["--check", "-c", path])
        check(code == 1, "%s: --check exit %s, want 1" % (name, code))
        check(want in err, "%s: --check stderr %r lacks %r" % (name, err.strip(), want))
    # a reference to a pool that does not exist, and a file that is not YAML
    path = os.path.join(TMP, "bad-pool.yaml")
    with open(path, "w") as f:
        f.write(GOOD_YAML.replace("    pool: registrars", "    pool: registrar"))
    code, _, err = run_exit(binary, ["--check", "-c", path])
    check(code == 1 and ("%s:20:" % path) in err, "unknown pool: exit %s, %r" % (code, err))
    path = os.path.join(TMP, "bad-syntax.yaml")
    with open(path, "w") as f:
        f.write("pools:\n  - name: default\n    backends: [\"127.0.0.1:6901\"\n")
    code, _, err = run_exit(binary, ["--check", "-c", path])
    check(code == 1 and re.search(re.escape(path) + r":\d+:", err),
          "syntax error: exit %s, %r" % (code, err))


def t_check_round_trip(binary, _io=None):
    good = os.path.join(TMP, "good.yaml")
    with open(good, "w") as f:
        f.write(GOOD_YAML)
    code, out, err = run_exit(binary, ["--check", "-c", good])
    check(code == 0, "--check good.yaml: exit %s, %r" % (code, err))
    for want in ("retry_after: 9", "record_route: true", "reg-a", "drain: true", "X-Account",
                 "10.0.0.0/8", "interval_ms: 200", "weight: 3"):
        check(want in out, "printed config lacks %r:\n%s" % (want, out))
    printed = os.path.join(TMP, "printed.yaml")
    with open(printed, "w") as f:
        f.write(out)
    code, out2, err = run_exit(binary, ["--check", "-c", printed])
    check(code == 0, "--check printed.yaml: exit %s, %r" % (code, err))
    check(out2 == out, "printing the printed config changed it:\n%s\n----\n%s" % (out, out2))
    # flags override the file
    code, out3, err = run_exit(binary, ["--check", "-c", good, "--backend", "127.0.0.1:6999",
                                        "--workers", "1"])
    check(code == 0 and "127.0.0.1:6999" in out3 and "127.0.0.1:6901" not in out3 and
          "workers: 1" in out3, "flags did not override the file: %s %r" % (code, out3 + err))


def clean_env(**kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
    env.update(kw)
    return env


def t_env_config(binary, io):
    def body(rig):
        bs = [rig.add_backend("b%d" % i) for i in range(2)]
        rig.vd_port = port("vd")
        saved = dict(os.environ)
        os.environ.update(VIADUCT_LISTEN=rig.vd_hp, VIADUCT_BACKENDS=",".join(b.hp for b in bs),
                          VIADUCT_WORKERS="2", VIADUCT_IO=io, VIADUCT_RETRY_AFTER="3")
        try:
            rig.start([], vd_port=rig.vd_port)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        first = rig.vd.stderr_text().splitlines()[0]
        check("2 workers" in first and "2 backends" in first, "start line %r" % first)
        check(("io_uring" if io == "uring" else "recvmmsg") in first, "engine: %r" % first)
        w = set(rig.route([rig.req("INVITE", uniq("c")) for _ in range(30)]).values())
        check(w == {"b0", "b1"}, "30 calls reached %s, want both env backends" % sorted(w))
        rig.finish()
    return body


def t_env_errors(binary, _io=None):
    base = dict(VIADUCT_LISTEN="127.0.0.1:5170", VIADUCT_BACKENDS="127.0.0.1:6970")
    cases = [
        ("VIADUCT_WORKERS", dict(VIADUCT_WORKERS="zero")),
        ("VIADUCT_WORKERS", dict(VIADUCT_WORKERS="65")),
        ("VIADUCT_BACKENDS", dict(VIADUCT_BACKENDS="127.0.0.1")),
        ("VIADUCT_LISTEN", dict(VIADUCT_LISTEN="localhost:5060")),
        ("VIADUCT_IO", dict(VIADUCT_IO="epoll")),
        ("VIADUCT_HEALTH_INTERVAL_MS", dict(VIADUCT_HEALTH_INTERVAL_MS="10")),
        ("VIADUCT_RECORD_ROUTE", dict(VIADUCT_RECORD_ROUTE="perhaps")),
        ("VIADUCT_FOO", dict(VIADUCT_FOO="1")),
    ]
    for name, over in cases:
        env = clean_env(**base)
        env.update(over)
        code, _, err = run_exit(binary, ["--check"], env=env)
        check(code not in (0, None), "%s=%s: exit %s" % (name, over[name], code))
        check(name in err, "%s=%s: stderr %r does not name it" % (name, over[name], err.strip()))
        code, _, err = run_exit(binary, [], env=env)  # without --check: must not start
        check(code not in (0, None) and name in err,
              "%s=%s (no flags): exit %s, %r" % (name, over[name], code, err.strip()))
    # the environment lands in the effective config; flags override it
    env = clean_env(**base)
    env.update(VIADUCT_RETRY_AFTER="11", VIADUCT_HEALTH_ENABLED="true", VIADUCT_PATH="true")
    code, out, err = run_exit(binary, ["--check"], env=env)
    check(code == 0, "good env: exit %s, %r" % (code, err))
    for want in ("retry_after: 11", "enabled: true", "path: true", "127.0.0.1:6970",
                 "127.0.0.1:5170"):
        check(want in out, "env config lacks %r:\n%s" % (want, out))
    code, out, err = run_exit(binary, ["--check", "--backend", "127.0.0.1:6971"], env=env)
    check(code == 0 and "127.0.0.1:6971" in out and "127.0.0.1:6970" not in out,
          "--backend did not override VIADUCT_BACKENDS: %r" % out)
    # VIADUCT_CONFIG is the default of -c
    good = os.path.join(TMP, "env-good.yaml")
    with open(good, "w") as f:
        f.write(GOOD_YAML)
    code, out, err = run_exit(binary, ["--check"], env=clean_env(VIADUCT_CONFIG=good))
    check(code == 0 and "retry_after: 9" in out, "VIADUCT_CONFIG: exit %s %r" % (code, err))

# ---------------------------------------------------------------- 11: Record-Route, Path


def t_record_route_path(binary, io):
    def body(rig):
        bs = [rig.add_backend("b%d" % i) for i in range(2)]
        args = ["--listen", "127.0.0.1:5060", "--workers", "2", "--io", io, "--record-route",
                "--path"]
        for b in bs:
            args += ["--backend", b.hp]
        rig.start(args, vd_port=5060)
        rr = "Record-Route: <sip:127.0.0.1:5060;lr>"

        def fwd(pair):
            rig.route_one(pair)
            return rig.col.msgs(pair[0])[0][1]

        m = fwd(rig.req("INVITE", uniq("c")))
        lines = m.raw.decode("latin-1").split("\r\n")
        check(lines[1].startswith("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK"),
              "first header is not our Via: %r" % lines[1])
        check(lines[2] == rr, "second header %r, want %r" % (lines[2], rr))
        check(m.raw_lines("Record-Route") == [rr], "Record-Route lines %r" %
              m.raw_lines("Record-Route"))
        check(not m.get_all("Path"), "Path on an INVITE")
        m = fwd(rig.req("INVITE", uniq("c"), to_tag="t9", cseq=2))
        check(not m.get_all("Record-Route"), "Record-Route on a re-INVITE (To tag): %r" %
              m.raw_lines("Record-Route"))
        m = fwd(rig.req("BYE", uniq("c"), to_tag="t9", cseq=3))
        check(not m.get_all("Record-Route"), "Record-Route on a BYE")
        m = fwd(rig.req("SUBSCRIBE", uniq("c"), extra=[("Event", "presence")]))
        check(m.raw_lines("Record-Route") == [rr], "SUBSCRIBE: Record-Route %r" %
              m.raw_lines("Record-Route"))
        reg = dict(ruri="sip:example.com", to_uri="sip:dave@example.com",
                   from_uri="sip:dave@example.com")
        m = fwd(rig.req("REGISTER", uniq("r"), extra=[("Supported", "path")], **reg))
        # the user part is a flow token naming the client's address (127.0.0.1 =
        # 7f000001, then its port and a check), so a request the registrar sends
        # back through this Path reaches the client's NAT binding (test_px has
        # the round trip byte for byte)
        path_re = r"^Path: <sip:vdf-47f000001[0-9a-f]{4}[0-9a-f]{16}@127\.0\.0\.1:5060;lr%s>$"
        lines = m.raw_lines("Path")
        check(len(lines) == 1 and re.match(path_re % "", lines[0]),
              "REGISTER with Supported: path: Path lines %r" % lines)
        check(not m.get_all("Record-Route"), "Record-Route on a REGISTER")
        m = fwd(rig.req("REGISTER", uniq("r"), extra=[("Supported", "outbound, path")], **reg))
        lines = m.raw_lines("Path")
        check(len(lines) == 1 and re.match(path_re % ";ob", lines[0]),
              "REGISTER with Supported: outbound, path: Path lines %r" % lines)
        m = fwd(rig.req("REGISTER", uniq("r"), extra=[("Supported", "gruu")], **reg))
        check(not m.get_all("Path"), "Path without Supported: path: %r" % m.raw_lines("Path"))
        m = fwd(rig.req("REGISTER", uniq("r"), **reg))
        check(not m.get_all("Path"), "Path without any Supported: %r" % m.raw_lines("Path"))
        rig.finish()
    return body

def t_path_always(binary, io):
    """Issue 13 item 2: path: always puts Path on a REGISTER without Supported: path."""
    def body(rig):
        bs = [rig.add_backend("b0")]
        rig.start_yaml("path: always\npools:\n" + backends_yaml(bs))
        pid, data = rig.req("REGISTER", uniq("r"), ruri="sip:example.com",
                            to_uri="sip:erin@example.com", from_uri="sip:erin@example.com")
        rig.route_one((pid, data))
        lines = rig.col.msgs(pid)[0][1].raw_lines("Path")
        check(len(lines) == 1 and re.match(
            r"^Path: <sip:vdf-47f000001[0-9a-f]{20}@%s;lr>$" % re.escape(rig.vd_hp), lines[0]),
            "REGISTER without Supported: path under path: always: Path lines %r" % lines)
        rig.finish()
    return body

# ---------------------------------------------------------------- main


TRAFFIC = [
    ("register_affinity_per_aor", t_register_affinity),
    ("call_affinity_per_call_id", t_call_affinity),
    ("killed_backend_icmp", t_killed_backend),
    ("silent_backend_probes", t_silent_backend),
    ("icmp_down_then_probes_bring_back", t_icmp_then_probes),
    ("all_down_503_retry_after", t_all_down_503),
    ("drain", t_drain),
    ("rules_pick_pools", t_rules_pools),
    ("no_default_pool_404", t_no_default_pool),
    ("header_key", t_header_key),
    ("env_configuration", t_env_config),
    ("record_route_and_path", t_record_route_path),
    ("path_always", t_path_always),
]
PROCESS = [
    ("config_errors_file_line", t_config_errors),
    ("check_round_trip", t_check_round_trip),
    ("env_errors", t_env_errors),
]


def main():
    global TMP
    args = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("netns", lambda: check(False, why))
        sys.exit(t.finish())
    for k in [k for k in os.environ if k.startswith("VIADUCT_")]:
        del os.environ[k]
    TMP = tempfile.mkdtemp(prefix="viaduct-routing-")
    only = os.environ.get("INTEG_ONLY", "")
    engines = os.environ.get("INTEG_IO", "").split() or ENGINES
    t_start = time.monotonic()
    try:
        for name, fn in PROCESS:
            if only in name:
                t.run("process " + name, fn, args.bin)
        for io in engines:
            for name, fn in TRAFFIC:
                if only in name:
                    t.run("%s %s" % (io, name), run_rig, args.bin, io, fn(args.bin, io))
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("   (run time %.1f s)" % (time.monotonic() - t_start), flush=True)
    sys.exit(t.finish())


if __name__ == "__main__":
    main()
