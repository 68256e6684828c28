#!/usr/bin/env python3
"""test_hardening.py - defects found by black-box testing, kept as tests through the real binary.

    python3 test/integ/test_hardening.py --bin build/san/viaduct     (run.sh does this in a netns)

Each test is a message (or a file) that viaduct once mishandled (issue 10, part 3): a REGISTER
whose To has no user part (the sanitizer build died on it); a Route, Request-URI, flow token or
response Via naming one of viaduct's own addresses behind a wildcard listener (it forwarded to
itself until Max-Forwards ran out: one datagram became 141); a request that comes back through
another proxy unchanged (forwarded again and again: now 482, RFC 3261 §16.3 step 4), while a
spiral (Request-URI changed) is still forwarded; a request after empty lines (a keep-alive glued
to it: dropped, now forwarded without them, RFC 3261 §7.5); and a 200 KB configuration file of
nested brackets, which `--check` took a minute over (libyaml is quadratic in nesting depth).

Each family runs against one viaduct on a wildcard address (0.0.0.0:5060 or [::]:5060,
advertised as sip.test:5060, as test/data/registrar-cluster.yaml does) with backends IP:6001
and IP:6002; the client is IP:7000. IP is 127.0.0.1 or ::1. The viaduct must survive every test
and, under ASan, print no sanitizer report.
"""

import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Endpoint, Failure, StartError, Tally, check, dialog,  # noqa: E402
                    hostport, netns_problem, parse, parse_args, recv_any, request, response,
                    sanitizer_report, signed_branch, start_viaduct, wait_port_free)

FAMILY = {  # other: another address of the host, on lo (run.sh adds it)
    "v4": {"ip": "127.0.0.1", "wild": "0.0.0.0", "other": "192.0.2.1"},
    "v6": {"ip": "::1", "wild": "::", "other": "2001:db8::1"},
}
VD_PORT, HELPER_PORT, B1, B2, CLIENT = 5060, 5062, 6001, 6002, 7000
ADVERTISE = "sip.test:5060"


class Env:
    def __init__(self, binary, fam):
        f = FAMILY[fam]
        self.binary, self.fam = binary, fam
        self.ip, self.wild, self.other = f["ip"], f["wild"], f["other"]
        self.token = None
        self.vd_addr = (self.ip, VD_PORT)
        self.client = Endpoint(self.ip, CLIENT)
        self.b1 = Endpoint(self.ip, B1)
        self.b2 = Endpoint(self.ip, B2)
        self.backends = [self.b1, self.b2]
        self.all = [self.client] + self.backends
        self.vd = None
        self.n = 0

    def start(self):
        check(wait_port_free(self.ip, VD_PORT), "port %d still bound after 2 s" % VD_PORT)
        self.vd = start_viaduct(self.binary, [
            "--listen", hostport(self.wild, VD_PORT), "--advertise", ADVERTISE,
            "--backend", hostport(self.ip, B1), "--backend", hostport(self.ip, B2),
            "--workers", "1", "--io", "mmsg"])

    def learn_token(self):
        """The flow token of IP:5060, viaduct's own address: what a REGISTER from there gets
        in its Path. Asked of a helper viaduct (same fixed seed) before ours holds the port."""
        helper = start_viaduct(self.binary, [
            "--listen", hostport(self.wild, HELPER_PORT), "--advertise", "sip.test:5062",
            "--backend", hostport(self.ip, B1), "--path", "--workers", "1", "--io", "mmsg"])
        me = Endpoint(self.ip, VD_PORT)
        try:
            hdrs = dialog("REGISTER", self.uniq("tok"), to_uri="sip:me@example.com") + [
                ("Supported", "path")]
            me.send(request("REGISTER", "sip:example.com", [self.via(me)], hdrs),
                    (self.ip, HELPER_PORT))
            r = self.b1.recv(2.0)
            check(r is not None, "the helper viaduct forwarded no REGISTER")
            path = parse(r[0]).get("Path") or ""
            check(path.startswith("<sip:vdf-"), "Path %r" % path)
            self.token = path[len("<sip:"):path.index("@")]
        finally:
            me.close()
            helper.stop()

    def close(self):
        for ep in self.all:
            ep.close()

    def uniq(self, what):
        self.n += 1
        return "%s-%s-%d-%08x" % (what, self.fam, self.n, random.getrandbits(32))

    def hp(self, ip, port=VD_PORT):
        return hostport(ip, port)

    def via(self, ep=None):
        ep = ep or self.client
        return "SIP/2.0/UDP %s;branch=z9hG4bK%s" % (hostport(*ep.addr), self.uniq("b"))


def collect(eps, timeout=0.3):
    """Every datagram that reaches any of eps until timeout passes with none: [(ep, bytes)]."""
    got = []
    while len(got) < 1000:
        r = recv_any(eps, timeout)
        if r is None:
            return got
        got.append((r[0], r[1]))
    return got

# ---------------------------------------------------------------- the tests


def t_register_to_without_user(env):
    # before the fix aor() passed the absent user to memcpy and the sanitizer build died
    dests = set()
    for to in ("<sip:example.com>", "<sip:EXAMPLE.com:5060>", "sip:example.com"):
        cid = env.uniq("reg")
        hdrs = [("Max-Forwards", "70"), ("From", "<sip:example.com>;tag=f1"), ("To", to),
                ("Call-ID", cid), ("CSeq", "1 REGISTER"),
                ("Contact", "<sip:%s>" % hostport(*env.client.addr))]
        env.client.send(request("REGISTER", "sip:example.com", [env.via()], hdrs), env.vd_addr)
        got = collect(env.backends, 0.5)
        check(len(got) == 1, "To %s: %d datagrams reached the backends, want 1" % (to, len(got)))
        m = parse(got[0][1])
        check(m.method == "REGISTER" and m.get("Call-ID") == cid, "forwarded %r" % m.start)
        dests.add(got[0][0].addr)
        check(env.vd.alive(), "viaduct exited on To %s: %s" % (to, env.vd.stderr_text()[-500:]))
    check(len(dests) == 1, "one AOR reached %d backends: %s" % (len(dests), sorted(dests)))


def sent_once(env, data, what, sender=None):
    """Sends data; exactly one datagram must reach a backend and none the sender, and
    viaduct must count exactly one forward. Returns the forwarded message."""
    sender = sender or env.client
    before = env.vd.counters()
    sender.send(data, env.vd_addr)
    got = collect(env.all, 0.5)
    after = env.vd.counters()
    fwd = after["fwd_requests"] - before["fwd_requests"]
    check(fwd == 1, "%s: forwarded %d times (%d datagrams arrived), want once" %
          (what, fwd, len(got)))
    check(len(got) == 1 and got[0][0] in env.backends,
          "%s: %s, want one datagram at a backend" %
          (what, [(ep.addr, d[:40]) for ep, d in got]))
    return parse(got[0][1])


def t_self_route_consumed(env):
    for host in (env.ip, env.other):
        route = "<sip:%s;lr>" % env.hp(host)
        m = sent_once(env, request("INVITE", "sip:bob@example.com", [env.via()],
                                   dialog("INVITE", env.uniq("sr")) + [("Route", route)]),
                      "Route %s" % route)
        check(m.get("Route") is None, "our Route was kept: %r" % m.get("Route"))


def t_self_ruri_after_own_route(env):
    # our Route, then a Request-URI naming another of our addresses: the table decides
    sent_once(env, request("MESSAGE", "sip:bob@%s" % env.hp(env.other), [env.via()],
                           dialog("MESSAGE", env.uniq("ru")) + [("Route", "<sip:sip.test;lr>")]),
              "Request-URI on our own address")


def quiet_drop(env, sender, data, counter, what):
    before = env.vd.counters()
    sender.send(data, env.vd_addr)
    got = collect(env.all, 0.5)
    after = env.vd.counters()
    check(not got, "%s: %s arrived" % (what, [(ep.addr, d[:40]) for ep, d in got]))
    moved = {k: after.get(k, 0) - before.get(k, 0) for k in ("fwd_requests", "fwd_responses", counter)}
    check(moved == {"fwd_requests": 0, "fwd_responses": 0, counter: 1},
          "%s: counters moved %s" % (what, moved))


def t_flow_token_to_self_dropped(env):
    check(env.token, "no flow token was learnt")
    route = "<sip:%s@%s;lr>" % (env.token, ADVERTISE)
    quiet_drop(env, env.b1, request("INVITE", "sip:me@example.com", [env.via(env.b1)],
                                    dialog("INVITE", env.uniq("ft")) + [("Route", route)]),
               "drop_to_self", "flow token naming %s" % env.hp(env.ip))


def t_response_via_to_self_dropped(env):
    # our Via as if viaduct had forwarded the request (its tag verifies), so the destination
    # check is what drops it
    cid = env.uniq("rv")
    nxt = "SIP/2.0/UDP %s;branch=z9hG4bK%s" % (env.hp(env.other), env.uniq("n"))
    vias = ["SIP/2.0/UDP %s;branch=%s" % (ADVERTISE, signed_branch(nxt, cid)), nxt]
    quiet_drop(env, env.b1, response(200, "OK", vias, dialog("INVITE", cid, to_tag="t1")),
               "drop_to_self", "response whose next Via is %s" % env.hp(env.other))


def through_hop(env, ruri=None):
    """A client's INVITE through viaduct to a backend, and that backend's copy sent back to
    viaduct as a proxy would (its Via on top), the Request-URI replaced by ruri if given.
    Returns (backend endpoint, what viaduct forwarded, parsed; what the backend sends back)."""
    cid = env.uniq("loop")
    env.client.send(request("INVITE", "sip:bob@example.com", [env.via()], dialog("INVITE", cid)),
                    env.vd_addr)
    got = collect(env.all, 0.5)
    check(len(got) == 1 and got[0][0] in env.backends, "first pass: %d datagrams" % len(got))
    hop, data = got[0]
    line, rest = data.split(b"\r\n", 1)
    if ruri:
        line = b"INVITE " + ruri.encode() + b" SIP/2.0"
    via = "Via: %s\r\n" % env.via(hop)
    return hop, parse(data), line + b"\r\n" + via.encode() + rest


def t_loop_through_second_hop_482(env):
    hop, _, back = through_hop(env)
    before = env.vd.counters()
    hop.send(back, env.vd_addr)
    got = collect(env.all, 0.5)
    after = env.vd.counters()
    check(len(got) == 1 and got[0][0] is hop, "want one answer to %s, got %s" %
          (hop.addr, [(ep.addr, d[:40]) for ep, d in got]))
    m = parse(got[0][1])
    check(m.status == 482, "answered %r, want 482" % m.start)
    moved = after["fwd_requests"] - before["fwd_requests"]
    check(moved == 0, "forwarded %d more times" % moved)
    check(after.get("local_482", 0) - before.get("local_482", 0) == 1, "local_482 did not move")


def t_spiral_forwarded(env):
    _, first, back = through_hop(env, "sip:carol@example.com")
    m = sent_once(env, back, "spiral", sender=env.backends[0])
    ours = [v for v in m.get_all("Via") if v.startswith("SIP/2.0/UDP %s;" % ADVERTISE)]
    check(m.ruri == "sip:carol@example.com" and len(ours) == 2,
          "forwarded %r with %d Vias of ours" % (m.start, len(ours)))
    check(ours[1] == first.get("Via"), "our first Via changed: %r" % ours[1])


def t_leading_crlf_forwarded(env):
    cid = env.uniq("crlf")
    req = request("OPTIONS", "sip:bob@example.com", [env.via()], dialog("OPTIONS", cid))
    m = sent_once(env, b"\r\n\r\n" + req, "request after two CRLFs")
    check(m.raw.startswith(b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP sip.test"),
          "forwarded %r" % m.raw[:60])
    check(m.get("Call-ID") == cid and m.raw.endswith(b"\r\n\r\n"), "forwarded %r" % m.raw)


TESTS = [
    ("register_to_without_user", t_register_to_without_user),
    ("self_route_consumed", t_self_route_consumed),
    ("self_ruri_after_own_route", t_self_ruri_after_own_route),
    ("flow_token_to_self_dropped", t_flow_token_to_self_dropped),
    ("response_via_to_self_dropped", t_response_via_to_self_dropped),
    ("loop_through_second_hop_482", t_loop_through_second_hop_482),
    ("spiral_forwarded", t_spiral_forwarded),
    ("leading_crlf_forwarded", t_leading_crlf_forwarded),
]

def check_file(binary, text):
    """viaduct -c FILE --check on text: (exit code, stderr, seconds, file name)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    try:
        t0 = time.monotonic()
        p = subprocess.run([binary, "-c", f.name, "--check"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
        return p.returncode, p.stderr.decode("latin-1"), time.monotonic() - t0, f.name
    except subprocess.TimeoutExpired:
        raise Failure("--check still running after 30 s")
    finally:
        os.unlink(f.name)


def t_check_refuses_deep_nesting(binary):
    code, err, secs, name = check_file(binary, "# 200 KB of brackets\nlisten: " +
                                       "[" * 100000 + "]" * 100000 + "\n")
    want = "%s:2: nesting deeper than 64" % name
    check(code == 1 and want in err, "exit %s, stderr %r; want 1 and %r" % (code, err[:300], want))
    check(secs < 2.0, "refusing took %.1f s" % secs)


def t_check_accepts_the_example(binary):
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "data", "registrar-cluster.yaml")) as f:
        code, err, _, _ = check_file(binary, f.read())
    check(code == 0, "exit %s: %s" % (code, err[-300:]))

# ---------------------------------------------------------------- running


def run_family(t, binary, fam):
    try:
        env = Env(binary, fam)
    except OSError as e:
        t.run(fam + " setup", lambda: check(False, "cannot bind the test sockets: %s" % e))
        return
    try:
        try:
            env.learn_token()
        except (StartError, Failure, OSError) as e:
            t.run(fam + " learn_token", lambda: check(False, str(e)))
        try:
            env.start()
        except (StartError, Failure) as e:
            t.run(fam + " start", lambda: check(False, str(e)))
            return
        only = os.environ.get("INTEG_ONLY", "")
        for tname, fn in TESTS:
            if only not in tname:
                continue
            for ep in env.all:
                ep.drain()
            t.run("%s %s" % (fam, tname), fn, env)
            if not env.vd.alive():
                code, err = env.vd.stop()
                t.run("%s alive_after_%s" % (fam, tname),
                      lambda: check(False, "viaduct exited %s: %s" % (code, err[-2000:])))
                env.start()
        code, err = env.vd.stop()
        t.run("%s exits_0" % fam, lambda: check(code == 0, "exit %s" % code))
        t.run("%s no_sanitizer_report" % fam,
              lambda: check(sanitizer_report(err) is None, "stderr: %s" % sanitizer_report(err)))
    finally:
        if env.vd is not None and env.vd.alive():
            env.vd.stop()
        env.close()


def main():
    args = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("netns", lambda: check(False, why))
        sys.exit(t.finish())
    t.run("check_refuses_deep_nesting", t_check_refuses_deep_nesting, args.bin)
    t.run("check_accepts_the_example", t_check_accepts_the_example, args.bin)
    for fam in ("v4", "v6"):
        run_family(t, args.bin, fam)
    sys.exit(t.finish())


if __name__ == "__main__":
    main()
