#!/usr/bin/env python3
"""test_relay.py - viaduct is no open relay and no reflector (issue 11), through the real binary.

    sh test/integ/run.sh build/san test/integ/test_relay.py

For IPv4 and IPv6, viaduct listens on a test address (192.0.2.10 / 2001:db8::10, not loopback,
so the loopback rule applies) with VIADUCT_SECRET set, --path and --record-route, one backend,
and one trusted prefix. Plays an untrusted client, a trusted peer, the backend, a foreign host
a relay attempt aims at, and a "service" on loopback (127.0.0.1:11211, [::1]:11211) that no
message may reach. "Nothing arrived" is watched for 0.3 s on every socket. Also: the 403's
Warning when it fits; a trusted peer's Route or Request-URI naming link-local, loopback,
multicast, broadcast or unspecified addresses (dropped, each counted by its reason);
security.relay rules and open through the binary; a Route to a loopback address that is a
configured backend (followed) beside one that is not.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Endpoint, Tally, check, dialog, hostport, netns_problem, parse,  # noqa: E402
                    parse_args, recv_any, request, response, sanitizer_report, start_viaduct,
                    wait_port_free)

FAM = {
    "v4": dict(vd="192.0.2.10", client="198.51.100.7", trusted="198.51.100.23",
               backend="203.0.113.12", foreign="192.0.2.2", lo="127.0.0.1"),
    "v6": dict(vd="2001:db8::10", client="2001:db8::9:1", trusted="2001:db8::3",
               backend="2001:db8::1", foreign="2001:db8::2", lo="::1"),
}
# security.trusted: a prefix holding the trusted peer and not the client (198.51.100.16-31),
# and an address
TRUSTED = {"v4": "198.51.100.16/28", "v6": "2001:db8::3"}
VD_PORT, BE_PORT, FOREIGN_PORT, LO_PORT = 5060, 5070, 5090, 11211
SECRET_A = "relay-test-secret-A-0123456789"
SECRET_B = "relay-test-secret-B-9876543210"
QUIET = 0.3
N = [0]


def uniq(what):
    N[0] += 1
    return "%s-%d-%d" % (what, os.getpid(), N[0])


class Rig:
    def __init__(self, binary, fam, env):
        a = FAM[fam]
        self.fam, self.a = fam, a
        self.vd = (a["vd"], VD_PORT)
        self.vd_hp = hostport(*self.vd)
        self.client = Endpoint(a["client"], 5060)
        self.trusted = Endpoint(a["trusted"], 5060)
        self.backend = Endpoint(a["backend"], BE_PORT)
        self.foreign = Endpoint(a["foreign"], FOREIGN_PORT)
        self.lo = Endpoint(a["lo"], LO_PORT)
        self.eps = [self.client, self.trusted, self.backend, self.foreign, self.lo]
        check(wait_port_free(a["vd"], VD_PORT), "viaduct's port still bound")
        old = dict(os.environ)
        os.environ.update(env)
        try:
            self.proc = start_viaduct(binary, [
                "--listen", self.vd_hp, "--backend", hostport(a["backend"], BE_PORT),
                "--path", "--record-route", "--workers", "1"])
        finally:
            os.environ.clear()
            os.environ.update(old)

    def close(self):
        code, err = self.proc.stop()
        for ep in self.eps:
            ep.close()
        rep = sanitizer_report(err)
        check(code == 0 and rep is None, "exit %r, sanitizer: %s" % (code, rep))

    def via(self, ep):
        return "SIP/2.0/UDP %s;branch=z9hG4bK%s;rport" % (hostport(*ep.addr), uniq("b"))

    def req(self, ep, method="INVITE", ruri="sip:bob@example.com", extra=(), to_tag=None,
            call_id=None):
        return request(method, ruri, [self.via(ep)],
                       dialog(method, call_id or uniq("c"), to_tag=to_tag) + list(extra))

    def quiet(self, eps, t=QUIET):
        got = recv_any(eps, t)
        return None if got is None else (got[0].addr, got[1][:60])

    def counter(self, name):
        return self.proc.counters().get(name, 0)


def drain(r):
    for ep in r.eps:
        ep.drain()


def t_route_foreign_untrusted(r):
    drain(r)
    r.client.send(r.req(r.client, extra=[("Route", "<sip:%s;lr>" % hostport(
        r.a["foreign"], FOREIGN_PORT))]), r.vd)
    got = r.client.recv(1.0)
    check(got is not None, "no answer to the client")
    m = parse(got[0])
    check(m.status == 403, "answered %r, not 403" % m.start)
    check(len(got[0]) <= 1000, "a 403 larger than anything sent")
    stray = r.quiet([r.foreign, r.backend, r.lo])
    check(stray is None, "something was relayed: %r" % (stray,))


def t_ruri_hop_untrusted(r):
    drain(r)
    r.client.send(r.req(r.client, ruri="sip:bob@%s" % hostport(r.a["foreign"], FOREIGN_PORT),
                        extra=[("Route", "<sip:%s;lr>" % r.vd_hp)]), r.vd)
    got = r.client.recv(1.0)
    check(got is not None and parse(got[0]).status == 403, "no 403 for a Request-URI hop")
    check(r.quiet([r.foreign, r.backend]) is None, "the Request-URI hop was followed")


def t_route_foreign_from_backend_and_trusted(r):
    for ep in (r.backend, r.trusted):
        drain(r)
        ep.send(r.req(ep, extra=[("Route", "<sip:%s;lr>" % hostport(
            r.a["foreign"], FOREIGN_PORT))]), r.vd)
        got = r.foreign.recv(1.0)
        check(got is not None, "from %s: not followed to the foreign hop" % (ep.addr,))


def t_route_loopback(r):
    drain(r)
    before = r.counter("drop_forbidden_destination")
    r.trusted.send(r.req(r.trusted, extra=[("Route", "<sip:%s;lr>" % hostport(
        r.a["lo"], LO_PORT))]), r.vd)
    check(r.quiet([r.lo, r.trusted, r.backend]) is None, "a datagram reached the loopback service")
    check(r.counter("drop_forbidden_destination") == before + 1, "drop_forbidden_destination "
          "did not move")


def token_of(r):
    """A REGISTER with Path from the client; returns the Path user part (the flow token)."""
    drain(r)
    r.client.send(r.req(r.client, "REGISTER", "sip:example.com",
                        extra=[("Supported", "path")]), r.vd)
    got = r.backend.recv(1.0)
    check(got is not None, "REGISTER not forwarded")
    path = parse(got[0]).get("Path")
    m = re.search(r"sip:(vdf-[0-9a-f]+)@", path or "")
    check(m is not None, "no flow token in Path %r" % path)
    return m.group(1)


def send_along(r, ep, token):
    """A request from ep along the token: (what reached the client, what ep got back)."""
    drain(r)
    ep.send(r.req(ep, ruri="sip:alice@10.9.9.9", extra=[("Route", "<sip:%s@%s;lr>" % (
        token, r.vd_hp))]), r.vd)
    return r.client.recv(0.8), ep.recv(0.1)


def t_forged_token(r):
    tok = token_of(r)
    at, _ = send_along(r, r.trusted, tok)
    check(at is not None, "a good token was not followed")
    bad = tok[:-1] + ("0" if tok[-1] != "0" else "1")
    # an untrusted source (another client port) with a forged token: 403, nothing at the client
    other = Endpoint(r.a["client"], 5061)
    try:
        at, back = send_along(r, other, bad)
        check(at is None, "a forged token was followed")
        back = back or other.recv(0.5)
        check(back is not None and parse(back[0]).status == 403, "no 403 for a forged token")
    finally:
        other.close()


def t_forged_response(r):
    drain(r)
    before = r.counter("drop_forged_via")
    forged = "z9hG4bK%032x.%016x" % (0x1234, 0x5678)
    r.backend.send(response(200, "OK", [
        "SIP/2.0/UDP %s;branch=%s" % (r.vd_hp, forged),
        "SIP/2.0/UDP %s;branch=z9hG4bKx" % hostport(r.a["lo"], LO_PORT)],
        dialog("INVITE", uniq("f"), to_tag="t1")), r.vd)
    check(r.quiet([r.lo, r.client]) is None, "a forged response was relayed")
    check(r.counter("drop_forged_via") == before + 1, "drop_forged_via did not move")


def t_genuine_response_and_dialog(r):
    """INVITE through viaduct, the backend answers (with its Record-Route) and the client's
    in-dialog BYE follows the route set; also the backend's BYE back to the client."""
    drain(r)
    cid = uniq("dlg")
    r.client.send(r.req(r.client, call_id=cid), r.vd)
    got = r.backend.recv(1.0)
    check(got is not None, "INVITE not forwarded")
    inv = parse(got[0])
    vias = inv.get_all("Via")
    rr = inv.get_all("Record-Route")
    check(rr, "viaduct did not record-route")
    r.backend.send(response(200, "OK", vias, dialog("INVITE", cid, to_tag="tt") + [
        ("Record-Route", "<sip:%s;lr>" % hostport(r.a["backend"], BE_PORT))] +
        [("Record-Route", v) for v in rr]), r.vd)
    back = r.client.recv(1.0)
    check(back is not None and parse(back[0]).status == 200, "the 200 did not reach the client")
    # client BYE: Route = reversed record-route: viaduct, then the backend; R-URI the callee
    route = "%s, <sip:%s;lr>" % (rr[0], hostport(r.a["backend"], BE_PORT))
    r.client.send(r.req(r.client, "BYE", "sip:bob@%s" % hostport(r.a["foreign"], FOREIGN_PORT),
                        extra=[("Route", route)], to_tag="tt", call_id=cid), r.vd)
    got = r.backend.recv(1.0)
    check(got is not None and parse(got[0]).method == "BYE", "in-dialog BYE did not reach the "
          "record-routing backend")
    check(r.quiet([r.foreign]) is None, "the BYE went to the Request-URI")


def t_token_rotation(binary, fam):
    until = int(time.time()) + 3
    r = Rig(binary, fam, {"VIADUCT_SECRET": SECRET_A})
    try:
        tok = token_of(r)
    finally:
        r.close()
    r = Rig(binary, fam, {"VIADUCT_SECRET": SECRET_B, "VIADUCT_PREVIOUS_SECRET": SECRET_A,
                          "VIADUCT_PREVIOUS_UNTIL": str(until)})
    try:
        other = Endpoint(r.a["client"], 5061)
        r.eps.append(other)
        at, _ = send_along(r, other, tok)
        check(at is not None, "during the rotation, a token of the previous secret failed")
        time.sleep(max(0.0, until - time.time()) + 0.3)
        at, back = send_along(r, other, tok)
        check(at is None, "after previous_until, a token of the previous secret still worked")
        back = back or other.recv(0.5)
        check(back is not None and parse(back[0]).status == 403, "no 403 after the rotation")
    finally:
        r.close()


def t_warning_says_why(r):
    """A 403 to a request large enough to hold its Warning says why (RFC 3261 20.43)."""
    drain(r)
    r.client.send(r.req(r.client, extra=[("Route", "<sip:%s;lr>" % hostport(
        r.a["foreign"], FOREIGN_PORT)), ("X-Pad", "p" * 200)]), r.vd)
    got = r.client.recv(1.0)
    check(got is not None and parse(got[0]).status == 403 and
          b'Warning: 399 viaduct "not relayed"' in got[0], "no 403 with its Warning: %r" %
          (got and got[0][:300]))


# what a trusted peer's Route or Request-URI may not name: (host, counter); the first two
# are links or hosts no datagram of ours may reach, the rest cannot receive one at all
FORBIDDEN = {
    "v4": [("169.254.1.1", "drop_forbidden_destination"),
           ("127.0.0.1", "drop_forbidden_destination"),
           ("224.0.0.1", "drop_bad_destination"), ("255.255.255.255", "drop_bad_destination"),
           ("0.0.0.0", "drop_bad_destination")],
    "v6": [("[fe80::1]", "drop_forbidden_destination"), ("[::1]", "drop_forbidden_destination"),
           ("[ff02::1]", "drop_bad_destination"), ("[::]", "drop_bad_destination")],
}


def t_forbidden_destinations(r):
    for host, counter in FORBIDDEN[r.fam]:
        for how in ("Route", "Request-URI"):
            drain(r)
            before = r.proc.counters()
            target = "%s:%d" % (host, LO_PORT)
            if how == "Route":
                msg = r.req(r.trusted, extra=[("Route", "<sip:%s;lr>" % target)])
            else:  # the Request-URI is the next hop once our own Route is consumed
                msg = r.req(r.trusted, ruri="sip:svc@%s" % target,
                            extra=[("Route", "<sip:%s;lr>" % r.vd_hp)])
            r.trusted.send(msg, r.vd)
            stray = r.quiet([r.lo, r.trusted, r.backend, r.foreign])
            check(stray is None, "%s %s: %r arrived" % (how, target, stray))
            after = r.proc.counters()
            moved = {k: after.get(k, 0) - before.get(k, 0) for k in
                     ("drop_forbidden_destination", "drop_bad_destination", "fwd_requests")}
            want = {"drop_forbidden_destination": 0, "drop_bad_destination": 0,
                    "fwd_requests": 0}
            want[counter] = 1
            check(moved == want, "%s %s: counters moved %s, want %s" %
                  (how, target, moved, want))


def t_relay_modes(binary, fam):
    """security.relay: rules ignores a foreign Route or Request-URI from an untrusted source
    and routes by the rules; open follows it (an open relay), but still never to loopback."""
    a = FAM[fam]
    foreign = hostport(a["foreign"], FOREIGN_PORT)
    for mode in ("rules", "open"):
        r = Rig(binary, fam, {"VIADUCT_SECRET": SECRET_A, "VIADUCT_SECURITY_RELAY": mode})
        try:
            for how in ("Route", "Request-URI"):
                drain(r)
                if how == "Route":
                    msg = r.req(r.client, extra=[("Route", "<sip:%s;lr>" % foreign)])
                else:
                    msg = r.req(r.client, ruri="sip:bob@%s" % foreign,
                                extra=[("Route", "<sip:%s;lr>" % r.vd_hp)])
                r.client.send(msg, r.vd)
                want, other = ((r.backend, r.foreign) if mode == "rules" else
                               (r.foreign, r.backend))
                got = want.recv(1.0)
                check(got is not None, "%s, %s to another host: did not reach %s" %
                      (mode, how, want.addr))
                m = parse(got[0])
                if mode == "rules":
                    check(not any(a["foreign"] in v for v in m.get_all("Route")),
                          "rules kept the foreign Route: %r" % m.get_all("Route"))
                stray = r.quiet([other, r.client, r.lo])
                check(stray is None, "%s, %s: %r also arrived" % (mode, how, stray))
            if mode == "open":
                drain(r)
                r.client.send(r.req(r.client, extra=[("Route", "<sip:%s;lr>" % hostport(
                    a["lo"], LO_PORT))]), r.vd)
                check(r.quiet([r.lo, r.client, r.backend]) is None,
                      "open relayed to a loopback service")
        finally:
            r.close()


def t_loopback_backend_by_route(binary, fam):
    """A loopback address that is a configured backend may be named by a Route, even from an
    untrusted source; the next port on loopback may not."""
    a = FAM[fam]
    vd = (a["vd"], VD_PORT)
    be = Endpoint(a["lo"], LO_PORT + 1)
    svc = Endpoint(a["lo"], LO_PORT)
    client = Endpoint(a["client"], 5060)
    check(wait_port_free(*vd), "viaduct's port still bound")
    proc = start_viaduct(binary, ["--listen", hostport(*vd), "--backend",
                                  hostport(a["lo"], LO_PORT + 1), "--workers", "1"])
    try:
        for port, ep, ok in ((LO_PORT + 1, be, True), (LO_PORT, svc, False)):
            msg = request("INVITE", "sip:bob@example.com", [
                "SIP/2.0/UDP %s;branch=z9hG4bK%s;rport" % (hostport(*client.addr), uniq("b"))],
                dialog("INVITE", uniq("c")) + [
                    ("Route", "<sip:%s;lr>" % hostport(a["lo"], port))])
            client.send(msg, vd)
            got = ep.recv(0.8)
            check((got is not None) == ok, "Route to %s: %s" % (
                hostport(a["lo"], port), "not followed" if ok else "followed"))
    finally:
        code, err = proc.stop()
        for ep in (be, svc, client):
            ep.close()
        check(code == 0 and sanitizer_report(err) is None, "exit %r" % code)


def main():
    args = parse_args()
    why = netns_problem()
    t = Tally()
    if why:
        t.run("network namespace", check, False, why)
        return t.finish()
    for fam in ("v4", "v6"):
        r = Rig(args.bin, fam, {"VIADUCT_SECRET": SECRET_A,
                                "VIADUCT_SECURITY_TRUSTED": TRUSTED[fam]})
        try:
            for name, fn in (("Route to a foreign IP from an untrusted source: 403, nothing sent",
                              t_route_foreign_untrusted),
                             ("Request-URI hop from an untrusted source: 403", t_ruri_hop_untrusted),
                             ("Route to a foreign IP from a backend and a trusted prefix: followed",
                              t_route_foreign_from_backend_and_trusted),
                             ("Route to a loopback service: dropped", t_route_loopback),
                             ("forged flow token: 403, not followed", t_forged_token),
                             ("forged response to a loopback service: dropped", t_forged_response),
                             ("dialog through a record-routing backend keeps working",
                              t_genuine_response_and_dialog),
                             ("a 403 with room for it says why in a Warning", t_warning_says_why),
                             ("Route and Request-URI to link-local, loopback, multicast, "
                              "broadcast, unspecified: dropped, counted",
                              t_forbidden_destinations)):
                t.run("%s %s" % (fam, name), fn, r)
        finally:
            t.run("%s viaduct exits cleanly" % fam, r.close)
        t.run("%s flow token of the previous secret: good during, refused after" % fam,
              t_token_rotation, args.bin, fam)
        t.run("%s security.relay rules: routed by the rules; open: followed, never to loopback"
              % fam, t_relay_modes, args.bin, fam)
        t.run("%s a Route to a loopback backend is followed, to another loopback port not" %
              fam, t_loopback_backend_by_route, args.bin, fam)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
