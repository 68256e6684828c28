#!/usr/bin/env python3
"""test_icmp.py - a dead peer costs a live one nothing (issue 10, defects 1 and 2).

    python3 test/integ/test_icmp.py --bin build/san/viaduct     (run.sh does this in a netns)

Linux stores every ICMP error for an unconnected UDP socket with IP_RECVERR as the socket's
pending error too, and the next send on it, to anyone, fails with it. These tests drive the
real binary, both engines, IPv4 and IPv6, into exactly that:
  - one closed backend among ten under a stream of requests: no live backend changes state, no
    request for a live backend is lost or moved, the dead backend's keys spread over all nine;
  - clients that close their sockets right after sending (and garbage from closed ports), mixed
    with steady calls answered by the backends: no backend changes state, no steady call loses
    its request or its response;
  - forged ICMP port unreachables (a raw socket in this namespace) quoting viaduct -> backend:
    a hint that holds the backend down for health.icmp_holddown_ms, never longer while the
    forgery goes on, and that an answered probe ends at once and voids for a while;
  - a backend killed and started again comes back by itself with probes off.
Every wait is bounded; every viaduct started here is stopped by PID.
"""

import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_routing as tr  # noqa: E402
from sipnet import (Endpoint, Tally, check, hostport, netns_problem,  # noqa: E402
                    parse, parse_args, request, response, wait_port_free)

ENGINES = ["uring", "mmsg"]
FAMILIES = [("v4", "127.0.0.1"), ("v6", "::1")]


class Rig(tr.Rig):
    """test_routing's rig on any loopback address, IPv6 too."""

    def __init__(self, binary, io, ip):
        self.ip = ip
        super().__init__(binary, io)

    def add_client(self, ip=None):
        ep = Endpoint(ip or self.ip, tr.port("cl"))
        self.clients.append(ep)
        return ep

    def add_backend(self, name, cls=tr.Backend, **kw):
        b = cls(name, self.col, ip=self.ip, **kw)
        self.backends.append(b)
        return b

    @property
    def vd_addr(self):
        return (self.ip, self.vd_port)

    @property
    def vd_hp(self):
        return hostport(self.ip, self.vd_port)

    def start(self, args, vd_port=None):
        self.vd_port = vd_port or tr.port("vd")
        check(wait_port_free(self.ip, self.vd_port), "%s still bound" % self.vd_hp)
        tr.Rig.start(self, args, vd_port=self.vd_port)


class Answering(tr.Backend):
    """A backend that also answers every INVITE with 200, back through viaduct."""

    def on_request(self, m, vias, src):
        if m.method != "INVITE":
            return
        h = [("From", m.get("From") or ""), ("To", (m.get("To") or "") + ";tag=be"),
             ("Call-ID", m.get("Call-ID") or ""), ("CSeq", m.get("CSeq") or ""),
             ("X-Probe-Id", m.get("X-Probe-Id") or "")]
        try:
            self.ep.send(response(200, "OK", vias, h), src)
        except OSError:
            pass


def run(binary, io, ip, fn):
    rig = Rig(binary, io, ip)
    try:
        fn(rig)
    finally:
        rig.close()


def counters_moved(c0, c1, name):
    return c1.get(name, 0) - c0.get(name, 0)


def backend_lines(err):
    """{name: {counter: int}} from the last per-backend block viaduct printed."""
    out = {}
    for l in err.splitlines():
        if l.startswith("backend pool="):
            f = dict(kv.split("=", 1) for kv in l.split()[1:] if "=" in kv)
            out[f["name"]] = {k: int(v) for k, v in f.items() if v.isdigit()}
    return out


def no_changes(err, backends, why):
    lines = [l for b in backends for l in tr.transitions(err, b.name)]
    check(not lines, "%s changed state: %r" % (why, lines[:4]))

# ---------------------------------------------------------------- (a) one dead among ten


def t_dead_among_ten(rig):
    bs = [rig.add_backend("b%d" % i) for i in range(10)]
    rig.start_yaml("health: {icmp_holddown_ms: 60000}\npools:\n" + tr.backends_yaml(bs))
    cids = [tr.uniq("k") for _ in range(900)]
    before = tr.map_calls(rig, cids, 1)
    victim = max(bs, key=lambda b: list(before.values()).count(b.name))
    vkeys = [c for c in cids if before[c] == victim.name]
    live = [b for b in bs if b is not victim]
    c0 = rig.vd.counters()
    victim.kill()
    # the stream: every key once more, in batches; the victim's first few may be lost
    # (sent before its ICMP came back), nothing else may be
    reqs = [(c,) + rig.req("INVITE", c, cseq=2) for c in cids]
    lost_live, moved_live, where = [], [], {}
    for i in range(0, len(reqs), 30):
        part = reqs[i:i + 30]
        for _, _, data in part:
            rig.send(data)
        want = [p for c, p, _ in part if before[c] != victim.name]
        got = rig.col.wait(want, 2.0)
        got.update({p: rig.col.names(p) for c, p, _ in part if before[c] == victim.name})
        for c, p, _ in part:
            names = got.get(p) or rig.col.names(p)
            if before[c] != victim.name:
                if not names:
                    lost_live.append(c)
                elif names != [before[c]]:
                    moved_live.append((c, before[c], names))
            elif names:
                where[c] = names[0]
    check(not lost_live, "%d requests for live backends lost, e.g. %s" % (len(lost_live),
                                                                         lost_live[:2]))
    check(not moved_live, "%d requests for live backends moved: %s" % (len(moved_live),
                                                                      moved_live[:2]))
    # every victim key, asked again now, goes to one of the nine, and they spread over all
    again = tr.map_calls(rig, vkeys, 3)
    check(all(n != victim.name for n in again.values()), "a key still reaches the dead one")
    spread = {n for n in again.values()}
    check(spread == {b.name for b in live}, "the dead backend's %d keys went to %d of the 9: %s"
          % (len(vkeys), len(spread), sorted(spread)))
    c1 = rig.vd.counters()
    check(counters_moved(c0, c1, "icmp_backend") >= 1, "icmp_backend did not move")
    check(counters_moved(c0, c1, "tx_lost") == 0, "tx_lost moved by %d" %
          counters_moved(c0, c1, "tx_lost"))
    err = rig.finish()
    no_changes(err, live, "live backends")
    lines = tr.transitions(err, victim.name)
    check(len(lines) == 1 and "up -> held" in lines[0], "the dead one: %r" % lines)
    per = backend_lines(err)
    check(per.get(victim.name, {}).get("icmp_errors", 0) >= 1,
          "the dead one's icmp_errors: %r" % per.get(victim.name))
    for b in live:
        n = len([c for c in cids if before[c] == b.name]) * 2
        check(per.get(b.name, {}).get("requests", 0) >= n and
              per[b.name].get("icmp_errors", 1) == 0,
              "%s: %r, want requests >= %d and no ICMP error" % (b.name, per.get(b.name), n))
    print("   (%s %s: %d victim keys spread over %d, %d retried sends, %d victim requests "
          "lost before the hint)" % (rig.io, rig.ip, len(vkeys), len(spread),
                                      counters_moved(c0, c1, "tx_retried"),
                                      len(vkeys) - len(where)), flush=True)

# ---------------------------------------------------------------- (b) vanishing clients


def vanishing_clients(garbage):
    """Steady calls, each answered 200 by its backend, mixed with requests (or, with garbage,
    bad datagrams viaduct answers 400) from sockets closed right after sending."""
    def body(rig):
        bs = [rig.add_backend("b%d" % i, cls=Answering) for i in range(4)]
        rig.start_yaml("pools:\n" + tr.backends_yaml(bs))
        steady = rig.client
        c0 = rig.vd.counters()
        total, missing_req, missing_resp = 0, [], []
        t_end = time.monotonic() + (3.0 if garbage else 2.0)
        rounds = 0
        while time.monotonic() < t_end:
            rounds += 1
            pids = []
            for k in range(8):
                gone = Endpoint(rig.ip, 0)
                gone.addr = gone.sock.getsockname()[:2]
                if garbage:  # random bytes (dropped), or a request without its
                    # Call-ID, CSeq, From and To, which viaduct answers 400 to the Via
                    bad = request("INVITE", "sip:x@example.com", [
                        "SIP/2.0/UDP %s;branch=z9hG4bK%d;rport" % (hostport(*gone.addr), k)])
                    gone.send(bad if k % 2 else os.urandom(40), rig.vd_addr)
                else:
                    _, data = rig.req("INVITE", tr.uniq("gone"), client=gone)
                    gone.send(data, rig.vd_addr)
                gone.close()
                pid, data = rig.req("INVITE", tr.uniq("steady"))
                rig.send(data)
                pids.append(pid)
            total += len(pids)
            got = rig.col.wait(pids, 2.0)
            missing_req += [p for p in pids if not got[p]]
            answers = set()
            deadline = time.monotonic() + 2.0
            while len(answers) < len(pids) and time.monotonic() < deadline:
                r = steady.recv(0.2)
                if r is None:
                    continue
                m = parse(r[0])
                if m.status == 200:
                    answers.add(m.get("X-Probe-Id"))
            missing_resp += [p for p in pids if p not in answers and got[p]]
        c1 = rig.vd.counters()
        check(not missing_req, "%d of %d steady requests never reached a backend" % (
            len(missing_req), total))
        check(not missing_resp, "%d of %d steady calls lost their 200" % (len(missing_resp),
                                                                         total))
        check(counters_moved(c0, c1, "icmp_client") >= 1, "icmp_client did not move")
        check(counters_moved(c0, c1, "icmp_backend") == 0, "icmp_backend moved")
        # every steady datagram arrived (checked above: what the resends are for); a send
        # still lost after its two resends can only be one to a gone client, when more
        # ICMP errors for gone clients land between its tries (seen once in ~10 runs)
        lost = counters_moved(c0, c1, "tx_lost")
        check(lost <= 2, "tx_lost moved by %d" % lost)
        err = rig.finish()
        no_changes(err, bs, "backends")
        print("   (%s %s: %d steady calls, all answered; %d ICMP errors for gone clients, "
              "%d sends retried)" % (rig.io, rig.ip, total, counters_moved(c0, c1, "icmp_client"),
                                     counters_moved(c0, c1, "tx_retried")), flush=True)
    return body

# ---------------------------------------------------------------- (c) forged ICMP


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def forge_port_unreachable(src, dst):
    """Sends an ICMP port unreachable to src's host quoting a datagram src -> dst, as the
    backend's kernel would, from a raw socket: nothing ties it to a real send."""
    payload = b"INVITE sip:forged@example.com SIP/2.0\r\n"
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    if ":" in src[0]:
        inner = struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + \
            socket.inet_pton(socket.AF_INET6, src[0]) + \
            socket.inet_pton(socket.AF_INET6, dst[0]) + udp
        pkt = struct.pack("!BBHI", 1, 4, 0, 0) + inner  # the kernel fills the checksum
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0, 64, 17, 0,
                         socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        body = ip + udp
        head = struct.pack("!BBHI", 3, 3, 0, 0)
        pkt = struct.pack("!BBHI", 3, 3, _csum(head + body), 0) + body
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        s.sendto(pkt, (src[0], 0))
    finally:
        s.close()


def key_of(rig, backend, n=200):
    cids = [tr.uniq("f") for _ in range(n)]
    where = tr.map_calls(rig, cids, 1)
    return next(c for c in cids if where[c] == backend.name), where


def until_at(rig, key, pred, limit):
    """Seconds until an INVITE of key reaches a backend pred accepts, or None."""
    t0 = time.monotonic()
    got = tr.poll_key(rig, key, pred, limit)
    return None if got is None else got - t0


def t_forged_probes_off(rig):
    bs = [rig.add_backend("b%d" % i) for i in range(3)]
    rig.start_yaml("health: {icmp_holddown_ms: 400}\npools:\n" + tr.backends_yaml(bs))
    victim = bs[1]
    key, _ = key_of(rig, victim)
    c0 = rig.vd.counters()
    forge_port_unreachable(rig.vd_addr, victim.addr)
    out = until_at(rig, key, lambda n: n != victim.name, 1.0)
    check(out is not None, "a forged ICMP error did not move the backend's key")
    c1 = rig.vd.counters()
    check(counters_moved(c0, c1, "backend_holddowns") == 1, "backend_holddowns moved by %d" %
          counters_moved(c0, c1, "backend_holddowns"))
    back = until_at(rig, key, lambda n: n == victim.name, 1.5)
    check(back is not None, "not back 1.5 s after a 400 ms hold-down")
    # forged every 50 ms for 1.5 s: each hold still ends on time, none is lengthened
    stop = threading.Event()

    def forge():
        while not stop.is_set():
            forge_port_unreachable(rig.vd_addr, victim.addr)
            stop.wait(0.05)
    th = threading.Thread(target=forge, daemon=True)
    th.start()
    time.sleep(1.5)
    stop.set()
    th.join(2)
    back = until_at(rig, key, lambda n: n == victim.name, 1.0)
    check(back is not None, "not back 1 s after the forgery stopped (hold-down 400 ms)")
    err = rig.finish()
    lines = tr.transitions(err, victim.name)
    ends = [l for l in lines if "held -> up (hold-down over" in l]
    starts = [l for l in lines if "up -> held" in l]
    check(len(ends) >= 4 and len(starts) == len(ends),
          "want every hold to end after 400 ms, >= 4 in 1.5 s of forgery: %d started, %d "
          "ended: %r" % (len(starts), len(ends), lines[-3:]))
    check(not [l for l in lines if "-> down" in l], "the forgery gave a verdict: %r" % lines)
    no_changes(err, [bs[0], bs[2]], "the other backends")
    print("   (%s %s: %d holds of 400 ms under 1.5 s of forgery)" % (rig.io, rig.ip, len(ends)),
          flush=True)


def t_forged_probes_on(rig):
    bs = [rig.add_backend("b%d" % i) for i in range(3)]
    rig.start_yaml("health: {enabled: true, interval_ms: 1000, timeout_ms: 200, down_after: 3, "
                   "up_after: 2, icmp_holddown_ms: 5000}\npools:\n" + tr.backends_yaml(bs))
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline and min(b.answered for b in bs) < 1:
        time.sleep(0.02)
    victim = bs[2]
    key, _ = key_of(rig, victim)
    c0 = rig.vd.counters()
    t0 = time.monotonic()
    forge_port_unreachable(rig.vd_addr, victim.addr)
    check(until_at(rig, key, lambda n: n != victim.name, 1.0) is not None,
          "a forged ICMP error did not move the backend's key")
    back = until_at(rig, key, lambda n: n == victim.name, 2.0)
    check(back is not None, "the answered probe did not end the 5 s hold within 2 s")
    took = time.monotonic() - t0
    # within the next hold-down period a forged error is void: the key stays
    for _ in range(5):
        forge_port_unreachable(rig.vd_addr, victim.addr)
    time.sleep(0.1)
    stay = until_at(rig, key, lambda n: n != victim.name, 0.5)
    check(stay is None, "a forged error after an answered probe moved the key again")
    c1 = rig.vd.counters()
    check(counters_moved(c0, c1, "backend_holddowns") == 1, "backend_holddowns moved by %d" %
          counters_moved(c0, c1, "backend_holddowns"))
    check(counters_moved(c0, c1, "icmp_backend") >= 6, "icmp_backend moved by %d" %
          counters_moved(c0, c1, "icmp_backend"))
    err = rig.finish()
    lines = tr.transitions(err, victim.name)
    check(len(lines) == 2 and "up -> held" in lines[0] and "held -> up (a probe answered"
          in lines[1], "want held, then up by a probe: %r" % lines)
    print("   (%s %s: back %.3f s after the forged error, by a probe)" % (rig.io, rig.ip, took),
          flush=True)

# ---------------------------------------------------------------- (e) back by itself


def t_back_by_itself(rig):
    bs = [rig.add_backend("b%d" % i) for i in range(3)]
    rig.start_yaml("health: {icmp_holddown_ms: 500}\npools:\n" + tr.backends_yaml(bs))
    victim = bs[0]
    key, _ = key_of(rig, victim)
    victim.kill()
    check(until_at(rig, key, lambda n: n != victim.name, 1.0) is not None,
          "the killed backend's key did not move")
    again = rig.add_backend(victim.name, port_=victim.addr[1])
    back = until_at(rig, key, lambda n: n == victim.name, 2.0)
    check(back is not None, "not back 2 s after its port answered again (probes off)")
    check(again.requests, "the returned backend got nothing")
    err = rig.finish()
    lines = tr.transitions(err, victim.name)
    check(lines and "up -> held" in lines[0] and any("held -> up" in l for l in lines),
          "want held then up: %r" % lines)
    check(not [l for l in lines if "-> down" in l], "a verdict without probes: %r" % lines)

# ---------------------------------------------------------------- main


TESTS = [
    ("dead_backend_among_ten", lambda: t_dead_among_ten),
    ("vanishing_clients", lambda: vanishing_clients(False)),
    ("garbage_from_closed_ports", lambda: vanishing_clients(True)),
    ("forged_icmp_probes_off", lambda: t_forged_probes_off),
    ("forged_icmp_probes_on", lambda: t_forged_probes_on),
    ("back_by_itself_probes_off", lambda: t_back_by_itself),
]


def main():
    args = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("netns", lambda: check(False, why))
        sys.exit(t.finish())
    for k in [k for k in os.environ if k.startswith("VIADUCT_")]:
        del os.environ[k]
    tr.TMP = tempfile.mkdtemp(prefix="viaduct-icmp-")
    only = os.environ.get("INTEG_ONLY", "")
    engines = os.environ.get("INTEG_IO", "").split() or ENGINES
    t_start = time.monotonic()
    try:
        for io in engines:
            for fam, ip in FAMILIES:
                for name, mk in TESTS:
                    if only in name:
                        t.run("%s %s %s" % (io, fam, name), run, args.bin, io, ip, mk())
    finally:
        shutil.rmtree(tr.TMP, ignore_errors=True)
    print("   (run time %.1f s)" % (time.monotonic() - t_start), flush=True)
    sys.exit(t.finish())


if __name__ == "__main__":
    main()
