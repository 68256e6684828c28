#!/usr/bin/env python3
"""test_proxy.py - viaduct's stateless proxy behaviour (RFC 3261 §16.11), through the real binary.

    python3 test/integ/test_proxy.py --bin build/san/viaduct     (run.sh does this in a netns)

Plays client, backends and a next-hop proxy over loopback UDP and asserts on the bytes that
arrive. The whole set runs for IPv4 and IPv6 x --io uring and --io mmsg, each against one
viaduct --workers 2 that must survive every test and, under ASan, print no sanitizer report.

Addresses (per family): viaduct on IP:5060 (and IP:5061 with --max-msg 2048 for the 513 test),
backends IP:6001 and IP:6002, a next-hop proxy IP:6003 (for Route), the client IP:7000, a
second client port IP:7001, and a client on a test address run.sh puts on lo (192.0.2.10:7002,
[2001:db8::10]:7002). IP is 127.0.0.1 or ::1.

"Nothing was sent" is shown without long sleeps: the sender then pings viaduct (OPTIONS to
viaduct itself, answered 200); datagrams from one socket reach one worker in order, so once the
200 is back the earlier datagram was handled, and every other socket is checked for 0.1 s.

Narrowing a run (for debugging): INTEG_CONFIGS="v6/mmsg v4/uring" and INTEG_ONLY=substring.
"""

import os
import random
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Endpoint, Failure, StartError, Tally, check, dialog,  # noqa: E402
                    header_param, hostport, netns_problem, parse, parse_args, recv_any, request,
                    response, port_free, sanitizer_report, signed_branch, start_viaduct,
                    stun_binding_request,
                    stun_parse, stun_xor_mapped, wait_port_free)

CONFIGS = [("v4", "uring"), ("v4", "mmsg"), ("v6", "uring"), ("v6", "mmsg")]
FAMILY = {
    "v4": {"ip": "127.0.0.1", "ext": "192.0.2.10", "foreign": "192.0.2.99"},
    "v6": {"ip": "::1", "ext": "2001:db8::10", "foreign": "2001:db8::99"},
}
VD_PORT, BIG_PORT = 5060, 5061
B1, B2, HOP, CLIENT, CLIENT2, EXT = 6001, 6002, 6003, 7000, 7001, 7002
ALIAS = "proxy.test"
TOKEN = r"[-.!%*_+`'~0-9A-Za-z]+"


class Env:
    def __init__(self, binary, fam, io):
        f = FAMILY[fam]
        self.binary, self.fam, self.io = binary, fam, io
        self.ip, self.ext_ip, self.foreign = f["ip"], f["ext"], f["foreign"]
        self.vd_addr = (self.ip, VD_PORT)
        self.vd_hp = hostport(self.ip, VD_PORT)
        self.all = []
        self.client = self._ep(self.ip, CLIENT)
        self.client2 = self._ep(self.ip, CLIENT2)
        self.b1 = self._ep(self.ip, B1)
        self.b2 = self._ep(self.ip, B2)
        self.hop = self._ep(self.ip, HOP)
        self.ext = self._ep(self.ext_ip, EXT)
        self.backends = [self.b1, self.b2]
        self.vd = None
        self.n = 0

    def _ep(self, ip, port):
        ep = Endpoint(ip, port)
        self.all.append(ep)
        return ep

    def start(self):
        # a previous io_uring viaduct may still hold the port for some ms after it exited
        check(wait_port_free(self.ip, VD_PORT), "%s still bound after 2 s" % self.vd_hp)
        self.vd = start_viaduct(self.binary, [
            "--listen", self.vd_hp, "--backend", self.hp(B1), "--backend", self.hp(B2),
            "--alias", ALIAS, "--workers", "2", "--io", self.io])

    def close(self):
        for ep in self.all:
            ep.close()

    def hp(self, port, ip=None):
        return hostport(ip or self.ip, port)

    def uniq(self, what):
        self.n += 1
        return "%s-%s-%s-%d-%08x" % (what, self.fam, self.io, self.n, random.getrandbits(32))

    def via(self, ep=None, branch=None, params=""):
        ep = ep or self.client
        return "SIP/2.0/UDP %s;branch=%s%s" % (hostport(*ep.addr),
                                                branch or "z9hG4bK" + self.uniq("b"), params)

    def our_via_re(self):
        # the branch, then the send time (core/px.h PX_VDT), which is no part of it
        return re.compile(r"^SIP/2\.0/UDP %s;branch=(z9hG4bK%s);vdt=[0-9a-f]{8}$" %
                          (re.escape(self.vd_hp), TOKEN))

# ---------------------------------------------------------------- helpers


def mkreq(env, method="INVITE", ruri="sip:bob@example.com", vias=None, call_id=None, cseq=1,
          extra=(), max_forwards=70, to_tag=None, from_tag="ft1", body=b"", version="SIP/2.0",
          to_uri="sip:bob@example.com"):
    call_id = call_id or env.uniq("call")
    vias = vias if vias is not None else [env.via()]
    hdrs = dialog(method, call_id, cseq, from_tag, to_tag, max_forwards, to_uri=to_uri)
    return request(method, ruri, vias, hdrs + list(extra), body, version)


def first_line(data):
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def forward(env, data, targets=None, timeout=1.0):
    """Sends data from the client; returns (endpoint, bytes) of what reached a target."""
    env.client.send(data, env.vd_addr)
    r = recv_any(targets or env.backends + [env.hop], timeout)
    if r is None:
        back = env.client.recv(0.05)
        raise Failure("not forwarded; client got %s" %
                      (repr(first_line(back[0])) if back else "nothing"))
    return r[0], r[1]


def local_reply(env, data, timeout=1.0):
    """Sends data from the client; returns the response viaduct sent back to it, parsed."""
    env.client.send(data, env.vd_addr)
    r = env.client.recv(timeout)
    if r is None:
        fwd = recv_any(env.backends + [env.hop], 0.05)
        raise Failure("no response to the client; %s" %
                      ("it was forwarded to %s" % (fwd[0].addr,) if fwd else "nothing forwarded"))
    check(r[1] == env.vd_addr, "response came from %s, not %s" % (r[1], env.vd_addr))
    return parse(r[0])


def sync(env, ep):
    """Pings viaduct from ep; returns the datagrams ep got before the 200."""
    cid = env.uniq("sync")
    ep.send(request("OPTIONS", "sip:" + env.vd_hp, [env.via(ep)], dialog("OPTIONS", cid)),
            env.vd_addr)
    extra = []
    deadline = time.monotonic() + 1.5
    while len(extra) < 100:
        r = ep.recv(max(0.0, deadline - time.monotonic()))
        if r is None:
            break
        try:
            m = parse(r[0])
        except ValueError:
            m = None
        if m is not None and not m.is_request and m.get("Call-ID") == cid:
            return extra
        extra.append(r[0])
    raise Failure("viaduct did not answer the OPTIONS ping from %s" % (ep.addr,))


def expect_silence(env, sender, what):
    extra = sync(env, sender)
    check(not extra, "%s: %s got %r" % (what, sender.addr, extra[0][:100] if extra else ""))
    r = recv_any([ep for ep in env.all if ep is not sender], 0.1)
    check(r is None, "%s: %s received %r" % (what, r[0].addr if r else "", r[1][:100] if r else ""))


def only_changed(env, before, allowed, what):
    """Fails if a counter outside allowed (plus what a sync ping moves) changed since before."""
    after = env.vd.counters()
    allowed = set(allowed) | {"rx_datagrams", "rx_requests", "method_options", "local_200"}
    moved = sorted(k for k in after if after[k] != before.get(k) and k not in allowed)
    check(not moved, "%s: counters %s moved" % (what, ", ".join(
        "%s %s->%s" % (k, before.get(k), after[k]) for k in moved)))


def counted(env, name, before, n=1):
    want = before.get(name, 0) + n
    v = env.vd.wait_counter(name, want)
    check(v is not None and v >= want,
          "counter %s went %s -> %s, want +%d" % (name, before.get(name), v, n))


def our_branch(env, data):
    m = parse(data)
    vias = m.raw_lines("via")
    check(vias, "forwarded request has no Via")
    mm = env.our_via_re().match(vias[0][len("Via: "):]) if vias[0].startswith("Via: ") else None
    check(mm, "top Via is not ours: %r" % vias[0][:120])
    return mm.group(1)


def check_copied(req, resp, code):
    check(resp.status == code, "status %r, want %d" % (resp.start, code))
    check(resp.raw_lines("via") == req.raw_lines("via"),
          "Via lines %r, want %r" % (resp.raw_lines("via"), req.raw_lines("via")))
    for h in ("From", "Call-ID", "CSeq"):
        check(resp.raw_lines(h)[:1] == req.raw_lines(h)[:1],
              "%s %r, want %r" % (h, resp.raw_lines(h), req.raw_lines(h)))
    to_req, to_resp = req.raw_lines("To")[0], resp.raw_lines("To")[0]
    tag = header_param(resp.get("To"), "tag")
    check(tag and re.match("^%s$" % TOKEN, tag) and to_resp == to_req + ";tag=" + tag,
          "To %r, want %r plus a tag" % (to_resp, to_req))
    return tag


def fake_our_via(env, next_via=None, call_id=""):
    """Our Via as if viaduct had forwarded the request: its tag verifies for next_via and
    call_id (CSeq 1); without next_via, a branch that cannot verify."""
    if next_via is None:
        return "SIP/2.0/UDP %s;branch=z9hG4bK%s" % (env.vd_hp, env.uniq("ours"))
    return "SIP/2.0/UDP %s;branch=%s" % (env.vd_hp, signed_branch(next_via, call_id))

# ---------------------------------------------------------------- requests


def t_maxfwd_decremented(env):
    _, out = forward(env, mkreq(env, max_forwards=70))
    v = parse(out).get_all("Max-Forwards")
    check(v == ["69"], "Max-Forwards %r, want ['69']" % v)


def t_maxfwd_leading_zero(env):
    _, out = forward(env, mkreq(env, max_forwards=None, extra=["Max-Forwards: 0068"]))
    v = parse(out).get_all("Max-Forwards")
    check(v == ["67"], "Max-Forwards %r, want ['67']" % v)


def t_maxfwd_folded(env):
    _, out = forward(env, mkreq(env, max_forwards=None, extra=["Max-Forwards:\r\n 0068"]))
    v = parse(out).get_all("Max-Forwards")
    check(v == ["67"], "Max-Forwards %r, want ['67']" % v)


def t_maxfwd_added_when_absent(env):
    _, out = forward(env, mkreq(env, max_forwards=None))
    v = parse(out).get_all("Max-Forwards")
    check(v == ["70"], "Max-Forwards %r, want ['70']" % v)


def t_maxfwd_zero_483(env):
    data = mkreq(env, max_forwards=0)
    resp = local_reply(env, data)
    check_copied(parse(data), resp, 483)
    expect_silence(env, env.client, "after the 483")


def t_local_reply_port(env):
    # RFC 3581: rport -> the source port, with rport= and received= filled in
    b = "z9hG4bK" + env.uniq("lr")
    data = mkreq(env, vias=["SIP/2.0/UDP %s;rport;branch=%s" % (env.hp(5999), b)], max_forwards=0)
    resp = local_reply(env, data)
    check(resp.status == 483, "status %r" % resp.start)
    want = ["Via: SIP/2.0/UDP %s;rport=%d;branch=%s;received=%s" % (env.hp(5999), CLIENT, b,
                                                                      env.ip)]
    check(resp.raw_lines("via") == want, "Via %r, want %r" % (resp.raw_lines("via"), want))
    # §18.2.2: no rport -> the sent-by port, at the source address
    data = mkreq(env, vias=[env.via(env.client2)], max_forwards=0)
    env.client.send(data, env.vd_addr)
    r = recv_any(env.all, 1.0)
    check(r is not None and r[0] is env.client2, "483 went to %s, want the sent-by port %d" %
          (r[0].addr if r else "nowhere", CLIENT2))


def t_ack_maxfwd_zero_silent(env):
    before = env.vd.counters()
    env.client.send(mkreq(env, "ACK", max_forwards=0, to_tag="tt1"), env.vd_addr)
    expect_silence(env, env.client, "ACK with Max-Forwards 0")
    counted(env, "drop_ack", before)


def t_options_to_us_200(env):
    for ruri in ("sip:" + env.vd_hp, "sip:" + (env.ip if env.fam == "v4" else "[::1]"),
                 "sip:" + ALIAS):
        data = mkreq(env, "OPTIONS", ruri=ruri)
        resp = local_reply(env, data)
        check(resp.status == 200, "%s: status %r" % (ruri, resp.start))
        check_copied(parse(data), resp, 200)
    expect_silence(env, env.client, "after the 200")


def t_options_with_user_forwarded(env):
    ep, out = forward(env, mkreq(env, "OPTIONS", ruri="sip:ping@" + env.vd_hp))
    check(ep in env.backends and parse(out).method == "OPTIONS", "not forwarded to a backend")


def t_route_ours_removed(env):
    data = mkreq(env, extra=[("Route", "<sip:%s;lr>" % env.vd_hp)])
    ep, out = forward(env, data)
    check(ep in env.backends, "went to %s, not a backend" % (ep.addr,))
    check(parse(out).get_all("Route") == [], "Route left: %r" % parse(out).get_all("Route"))


def t_route_alias_removed(env):
    data = mkreq(env, extra=[("Route", "<sip:%s;lr>" % ALIAS)])
    ep, out = forward(env, data)
    check(ep in env.backends, "went to %s, not a backend" % (ep.addr,))
    check(parse(out).get_all("Route") == [], "Route left: %r" % parse(out).get_all("Route"))


def t_route_loose_next_hop(env):
    nxt = "<sip:%s;lr>" % env.hp(HOP)
    data = mkreq(env, extra=[("Route", "<sip:%s;lr>" % env.vd_hp), ("Route", nxt)])
    ep, out = forward(env, data)
    m = parse(out)
    check(ep is env.hop, "went to %s, not the Route %s" % (ep.addr, env.hop.addr))
    check(m.raw_lines("Route") == ["Route: " + nxt], "Route lines %r" % m.raw_lines("Route"))
    check(m.ruri == "sip:bob@example.com", "Request-URI changed to %r" % m.ruri)


def t_route_shared_line(env):
    nxt = "<sip:%s;lr>" % env.hp(HOP)
    data = mkreq(env, extra=["Route: <sip:%s;lr>, %s" % (env.vd_hp, nxt)])
    ep, out = forward(env, data)
    m = parse(out)
    check(ep is env.hop, "went to %s, not the Route %s" % (ep.addr, env.hop.addr))
    check(m.raw_lines("Route") == ["Route: " + nxt], "Route lines %r" % m.raw_lines("Route"))


def t_route_not_ours_kept(env):
    line = "Route: <sip:%s;lr>, <sip:%s;lr>" % (env.hp(HOP), env.hp(B1))
    ep, out = forward(env, mkreq(env, extra=[line]))
    check(ep is env.hop, "went to %s, not the Route %s" % (ep.addr, env.hop.addr))
    check(parse(out).raw_lines("Route") == [line], "Route %r" % parse(out).raw_lines("Route"))


def t_via_on_top_rest_identical(env):
    body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" \
           "m=audio 4000 RTP/AVP 0\r\n"
    up = "SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKupstream1;received=192.0.2.50"
    data = mkreq(env, vias=[env.via(params=";x-note=keep"), up], body=body,
                 extra=[("Contact", "<sip:alice@%s>" % env.hp(CLIENT)),
                        ("Content-Type", "application/sdp"), "X-Odd:   spaced  value "])
    _, out = forward(env, data)
    lines = out.decode("latin-1").split("\r\n")
    check(lines[1].startswith("Via: ") and env.our_via_re().match(lines[1][5:]),
          "first header is not our Via: %r" % lines[1])
    s = data.decode("latin-1")
    i = s.index("\r\n") + 2
    want = s[:i] + lines[1] + "\r\n" + s[i:].replace("Max-Forwards: 70\r\n",
                                                     "Max-Forwards: 69\r\n")
    got = out.decode("latin-1")
    check(got == want, "forwarded bytes differ:\n got %r\nwant %r" % (got, want))


def t_via_received_added(env):
    v = "SIP/2.0/UDP %s;branch=z9hG4bK%s" % (hostport(env.foreign, CLIENT), env.uniq("r"))
    _, out = forward(env, mkreq(env, vias=[v]))
    got = parse(out).raw_lines("via")[1:]
    want = ["Via: %s;received=%s" % (v, env.ip)]
    check(got == want, "previous Via %r, want %r" % (got, want))


def t_via_received_added_hostname(env):
    v = "SIP/2.0/UDP client.example.com:7000;branch=z9hG4bK%s" % env.uniq("r")
    _, out = forward(env, mkreq(env, vias=[v]))
    got = parse(out).raw_lines("via")[1:]
    want = ["Via: %s;received=%s" % (v, env.ip)]
    check(got == want, "previous Via %r, want %r" % (got, want))


def t_via_received_shared_line(env):
    v = "SIP/2.0/UDP %s;branch=z9hG4bK%s" % (hostport(env.foreign, CLIENT), env.uniq("r"))
    up = "SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKup"
    _, out = forward(env, mkreq(env, vias=["%s, %s" % (v, up)]))
    got = parse(out).raw_lines("via")[1:]
    want = ["Via: %s;received=%s, %s" % (v, env.ip, up)]
    check(got == want, "previous Via line %r, want %r" % (got, want))


def t_via_received_not_added_when_equal(env):
    v = env.via()
    _, out = forward(env, mkreq(env, vias=[v]))
    got = parse(out).raw_lines("via")[1:]
    check(got == ["Via: " + v], "previous Via %r, want %r" % (got, ["Via: " + v]))


def t_via_rport(env):
    b = "z9hG4bK" + env.uniq("rp")
    v = "SIP/2.0/UDP %s;rport;branch=%s" % (env.hp(5999), b)
    _, out = forward(env, mkreq(env, vias=[v]))
    got = parse(out).raw_lines("via")[1:]
    want = ["Via: SIP/2.0/UDP %s;rport=%d;branch=%s;received=%s" % (env.hp(5999), CLIENT, b,
                                                                      env.ip)]
    check(got == want, "previous Via %r, want %r" % (got, want))
    # values already there are replaced, not duplicated
    v = "SIP/2.0/UDP %s;rport=1234;received=%s;branch=%s" % (env.hp(5999), env.foreign, b)
    _, out = forward(env, mkreq(env, vias=[v]))
    got = parse(out).raw_lines("via")[1:]
    want = ["Via: SIP/2.0/UDP %s;rport=%d;received=%s;branch=%s" % (env.hp(5999), CLIENT, env.ip,
                                                                     b)]
    check(got == want, "previous Via %r, want %r" % (got, want))


def t_compact_headers(env):
    cid, v = env.uniq("call"), env.via()
    data = request("INVITE", "sip:bob@example.com", [], [
        "v: " + v, ("f", "<sip:alice@example.com>;tag=c1"), ("t", "<sip:bob@example.com>"),
        ("i", cid), ("CSeq", "1 INVITE"), ("Max-Forwards", "10"), ("l", "0")],
        content_length=False)
    _, out = forward(env, data)
    m = parse(out)
    check(m.get_all("Max-Forwards") == ["9"], "Max-Forwards %r" % m.get_all("Max-Forwards"))
    check(m.raw_lines("via")[1:] == ["v: " + v], "Via lines %r" % m.raw_lines("via"))
    check(m.get("i") == cid and m.raw_lines("l") == ["l: 0"], "headers changed: %r" % out)


def t_branch_retransmission_same(env):
    data = mkreq(env)
    ep1, o1 = forward(env, data)
    ep2, o2 = forward(env, data)
    check(our_branch(env, o1) == our_branch(env, o2), "branches differ")
    check(ep1 is ep2, "backends differ: %s, %s" % (ep1.addr, ep2.addr))


def t_branch_cancel_same(env):
    cid, v = env.uniq("call"), env.via()
    ep1, o1 = forward(env, mkreq(env, vias=[v], call_id=cid, cseq=5))
    ep2, o2 = forward(env, mkreq(env, "CANCEL", vias=[v], call_id=cid, cseq=5))
    check(parse(o2).method == "CANCEL", "second datagram is not the CANCEL")
    check(our_branch(env, o1) == our_branch(env, o2), "CANCEL branch differs from the INVITE's")
    check(ep1 is ep2, "backends differ: %s, %s" % (ep1.addr, ep2.addr))


def t_branch_ack_non2xx_same(env):
    cid, v = env.uniq("call"), env.via()
    ep1, o1 = forward(env, mkreq(env, vias=[v], call_id=cid, cseq=7))
    ep2, o2 = forward(env, mkreq(env, "ACK", vias=[v], call_id=cid, cseq=7, to_tag="486tag"))
    check(parse(o2).method == "ACK", "second datagram is not the ACK")
    check(our_branch(env, o1) == our_branch(env, o2), "ACK branch differs from the INVITE's")
    check(ep1 is ep2, "backends differ: %s, %s" % (ep1.addr, ep2.addr))


def t_branch_differs_between_invites(env):
    seen = set()
    for _ in range(6):
        _, o = forward(env, mkreq(env))
        seen.add(our_branch(env, o))
    check(len(seen) == 6, "6 INVITEs gave %d branches" % len(seen))


def t_branch_10kb_stays_short(env):
    v = "SIP/2.0/UDP %s;branch=z9hG4bK%s" % (env.hp(CLIENT), "a" * 10240)
    _, out = forward(env, mkreq(env, vias=[v]))
    b = our_branch(env, out)
    check(len(b) < 64, "our branch is %d bytes" % len(b))
    check(parse(out).raw_lines("via")[1:] == ["Via: " + v], "the 10 KB Via was not kept")


def t_branch_rfc2543(env):
    for v in ("SIP/2.0/UDP %s" % env.hp(CLIENT), "SIP/2.0/UDP %s;branch=1234old" % env.hp(CLIENT)):
        cid = env.uniq("call")
        ep1, o1 = forward(env, mkreq(env, vias=[v], call_id=cid, cseq=3))
        ep2, o2 = forward(env, mkreq(env, vias=[v], call_id=cid, cseq=3))
        ep3, o3 = forward(env, mkreq(env, "CANCEL", vias=[v], call_id=cid, cseq=3))
        ep4, o4 = forward(env, mkreq(env, "ACK", vias=[v], call_id=cid, cseq=3, to_tag="t9"))
        _, o5 = forward(env, mkreq(env, vias=[v], cseq=3))
        b = [our_branch(env, o) for o in (o1, o2, o3, o4, o5)]
        check(b[0] == b[1], "%r: retransmission got another branch" % v)
        check(b[0] == b[2], "%r: CANCEL got another branch" % v)
        check(b[0] == b[3], "%r: ACK for a non-2xx got another branch" % v)
        check(b[0] != b[4], "%r: another call got the same branch" % v)
        check(ep1 is ep2 is ep3 is ep4, "%r: not one backend" % v)


def t_register_same_aor_same_backend(env):
    used = {}
    for i in range(40):
        got = []
        for host in ("example.com", "EXAMPLE.Com"):
            uri = "sip:user%d@%s" % (i, host)
            contact = ("Contact", "<sip:user%d@%s>" % (i, env.hp(CLIENT)))
            ep, _ = forward(env, mkreq(env, "REGISTER", ruri="sip:example.com", to_uri=uri,
                                       extra=[contact]), targets=env.backends)
            got.append(ep)
        check(got[0] is got[1], "AOR user%d went to %s and %s" % (i, got[0].addr, got[1].addr))
        used[got[0].addr] = used.get(got[0].addr, 0) + 1
    check(len(used) == 2, "40 AORs all went to %s" % list(used))


def t_call_sticks_to_one_backend(env):
    used = {}
    for i in range(16):
        cid = env.uniq("call")
        eps = []
        for method, cseq, tag in (("INVITE", 1, None), ("ACK", 1, "tt"), ("BYE", 2, "tt")):
            ep, _ = forward(env, mkreq(env, method, call_id=cid, cseq=cseq, to_tag=tag),
                            targets=env.backends)
            eps.append(ep)
        check(eps[0] is eps[1] is eps[2], "call %s spread over %s" % (cid, [e.addr for e in eps]))
        used[eps[0].addr] = 1
    check(len(used) == 2, "16 calls all went to %s" % list(used))

# ---------------------------------------------------------------- broken requests


def replace_hdr(data, name, line):
    s = data.decode("latin-1")
    s = re.sub(r"(?m)^%s:[^\r]*\r\n" % re.escape(name), line.replace("\\", "\\\\") + "\r\n", s,
               count=1)
    return s.encode("latin-1")


def bad_request_400(env, data):
    resp = local_reply(env, data)
    tag = check_copied(parse(data), resp, 400)
    resp2 = local_reply(env, data)
    check(header_param(resp2.get("To"), "tag") == tag, "retransmission got another To tag")
    check(resp2.raw == resp.raw, "retransmission got different bytes")
    expect_silence(env, env.client, "after the 400")


def t_bad_cseq_400(env):
    bad_request_400(env, replace_hdr(mkreq(env), "CSeq", "CSeq: abc INVITE"))


def t_cseq_method_mismatch_400(env):
    bad_request_400(env, replace_hdr(mkreq(env), "CSeq", "CSeq: 1 BYE"))


def t_duplicate_callid_400(env):
    bad_request_400(env, mkreq(env, extra=[("Call-ID", "second-call-id@example.com")]))


def t_maxfwd_out_of_range_400(env):
    bad_request_400(env, mkreq(env, max_forwards=256))


def t_v6_other_spelling_is_us(env):
    """RFC 5118 §4.4: an IPv6 literal has many spellings; each one naming viaduct is ours."""
    for spelled in ("[0:0:0:0:0:0:0:1]:5060", "[::0001]"):
        data = mkreq(env, extra=[("Route", "<sip:%s;lr>" % spelled)])
        ep, out = forward(env, data)
        check(ep in env.backends and parse(out).get_all("Route") == [],
              "Route %s: went to %s with Route %r" % (spelled, ep.addr,
                                                      parse(out).get_all("Route")))
        cid = env.uniq("resp")
        nv = env.via()
        resp = response(180, "Ringing", ["SIP/2.0/UDP %s;branch=%s" % (
            spelled, signed_branch(nv, cid)), nv],
            dialog("INVITE", cid, to_tag="x1", max_forwards=None))
        env.b1.send(resp, env.vd_addr)
        r = env.client.recv(1.0)
        check(r is not None, "response with top Via %s was not relayed" % spelled)


def t_no_via_dropped(env):
    before = env.vd.counters()
    env.client.send(mkreq(env, vias=[]), env.vd_addr)
    expect_silence(env, env.client, "request with no Via")
    counted(env, "drop_unreadable_via", before)


def t_garbage_via_dropped(env):
    before = env.vd.counters()
    env.client.send(mkreq(env, vias=["this is @ not a via"]), env.vd_addr)
    expect_silence(env, env.client, "request with an unreadable Via")
    counted(env, "drop_unreadable_via", before)


def t_version_505(env):
    data = mkreq(env, version="SIP/7.0")
    resp = local_reply(env, data)
    check(resp.status == 505, "status %r, want 505" % resp.start)
    check_copied(parse(data), resp, 505)


def t_proxy_require_420(env):
    data = mkreq(env, extra=[("Proxy-Require", "foo, bar")])
    resp = local_reply(env, data)
    check_copied(parse(data), resp, 420)
    check(resp.get_all("Unsupported") == ["foo, bar"],
          "Unsupported %r" % resp.get_all("Unsupported"))
    expect_silence(env, env.client, "after the 420")


def t_require_forwarded(env):
    _, out = forward(env, mkreq(env, extra=[("Require", "foo")]))
    check(parse(out).get_all("Require") == ["foo"], "Require %r" % parse(out).get_all("Require"))


def t_non_sip_uri_416(env):
    for ruri in ("tel:+15551234567", "mailto:bob@example.com"):
        data = mkreq(env, ruri=ruri)
        resp = local_reply(env, data)
        check(resp.status == 416, "%s: status %r, want 416" % (ruri, resp.start))
        check_copied(parse(data), resp, 416)
    expect_silence(env, env.client, "after the 416")


def t_hostname_route_503(env):
    # the first is dropped while the DNS thread looks the name up (nothing answers it in the
    # namespace); a retransmission finds it cached negative and is answered 503
    data = mkreq(env, extra=[("Route", "<sip:next.example.net;lr>")])
    env.client.send(data, env.vd_addr)
    check(env.client.recv(0.3) is None, "the first request was answered")
    resp = None
    for _ in range(10):
        env.client.send(data, env.vd_addr)
        r = env.client.recv(0.5)
        if r is not None:
            resp = parse(r[0])
            break
    check(resp is not None, "no 503 after 10 retransmissions")
    check_copied(parse(data), resp, 503)
    ra = resp.get_all("Retry-After")
    check(len(ra) == 1 and re.match(r"^\d+", ra[0]), "Retry-After %r" % ra)
    expect_silence(env, env.client, "after the 503")


def t_over_max_msg_513(env):
    check(wait_port_free(env.ip, BIG_PORT), "%s still bound after 2 s" % env.hp(BIG_PORT))
    vd = start_viaduct(env.binary, ["--listen", env.hp(BIG_PORT), "--backend", env.hp(B1),
                                    "--max-msg", "2048", "--workers", "1", "--io", env.io])
    try:
        data = mkreq(env, body="x" * 3900, extra=[("Content-Type", "text/plain")])
        check(3900 < len(data) < 4300, "test request is %d bytes" % len(data))
        env.client.send(data, (env.ip, BIG_PORT))
        r = env.client.recv(1.0)
        check(r is not None, "no response to a %d-byte request" % len(data))
        resp = parse(r[0])
        check_copied(parse(data), resp, 513)
        check(recv_any(env.backends, 0.1) is None, "the oversized request was forwarded")
        check(vd.alive(), "viaduct --max-msg 2048 died")
    finally:
        code, err = vd.stop()
    check(code == 0, "viaduct --max-msg 2048 exited %s" % code)
    rep = sanitizer_report(err)
    check(rep is None, "sanitizer: %s" % rep)

# ---------------------------------------------------------------- responses


def invite_through(env, vias=None):
    """Client INVITE through viaduct; returns (backend endpoint, forwarded message)."""
    ep, out = forward(env, mkreq(env, vias=vias), targets=env.backends)
    return ep, parse(out)


def backend_answer(fwd, code, reason, shared=False, body=""):
    """The response a backend builds: the Via stack it got, then From/To(tag)/Call-ID/CSeq."""
    vias = fwd.raw_lines("via")
    if shared:
        vals = fwd.get_all("via")
        vias = ["Via: %s, %s" % (vals[0], vals[1])] + vias[2:]
    other = [fwd.raw_lines(h)[0] for h in ("From", "To", "Call-ID", "CSeq")]
    other[1] += ";tag=backend1"
    lines = ["SIP/2.0 %d %s" % (code, reason)] + vias + other + [
        "Content-Length: %d" % len(body), "", body]
    return "\r\n".join(lines).encode("latin-1"), ["SIP/2.0 %d %s" % (code, reason)], vias, other


def t_response_relayed_byte_identical(env):
    body = "v=0\r\no=- 2 2 IN IP4 192.0.2.2\r\ns=-\r\nt=0 0\r\n"
    ep, fwd = invite_through(env)
    data, _, vias, _ = backend_answer(fwd, 200, "OK", body=body)
    check(len(vias) == 2, "forwarded INVITE has %d Via lines" % len(vias))
    ep.send(data, env.vd_addr)
    r = env.client.recv(1.0)
    check(r is not None, "the 200 did not reach the client")
    want = data.decode("latin-1").replace(vias[0] + "\r\n", "", 1).encode("latin-1")
    check(r[0] == want, "client got\n %r\nwant\n %r" % (r[0], want))
    check(r[1] == env.vd_addr, "sent from %s" % (r[1],))


def t_response_shared_via_line(env):
    ep, fwd = invite_through(env)
    data, _, vias, _ = backend_answer(fwd, 180, "Ringing", shared=True)
    ep.send(data, env.vd_addr)
    r = env.client.recv(1.0)
    check(r is not None, "the 180 did not reach the client")
    theirs = fwd.get_all("via")[1]
    want = data.decode("latin-1").replace(vias[0], "Via: " + theirs, 1).encode("latin-1")
    check(r[0] == want, "client got\n %r\nwant\n %r" % (r[0], want))


def relay_to(env, next_via, dest, what):
    cid = env.uniq("resp")
    data = response(180, "Ringing", [fake_our_via(env, next_via, cid), next_via],
                    dialog("INVITE", cid, to_tag="x1", max_forwards=None))
    env.b1.send(data, env.vd_addr)
    r = recv_any(env.all, 1.0)
    check(r is not None, "%s: nothing arrived anywhere" % what)
    check(r[0] is dest, "%s: went to %s, want %s" % (what, r[0].addr, dest.addr))
    want = data.decode("latin-1").split("\r\n")
    del want[1]
    want = "\r\n".join(want).encode("latin-1")
    check(r[1] == want, "%s: got %r, want %r" % (what, r[1], want))


def t_response_routed_by_rport(env):
    v = "SIP/2.0/UDP %s;received=%s;rport=%d;branch=z9hG4bKc1" % (
        hostport(env.foreign, 5099), env.ip, CLIENT2)
    relay_to(env, v, env.client2, "received+rport")


def t_response_routed_by_received(env):
    v = "SIP/2.0/UDP %s;received=%s;branch=z9hG4bKc2" % (hostport(env.foreign, CLIENT2), env.ip)
    relay_to(env, v, env.client2, "received")
    v = "SIP/2.0/UDP client.example.com:%d;received=%s;branch=z9hG4bKc4" % (CLIENT2, env.ip)
    relay_to(env, v, env.client2, "hostname with received")
    v = "SIP/2.0/UDP %s;rport=%d;branch=z9hG4bKc5" % (env.hp(5999), CLIENT2)
    relay_to(env, v, env.client2, "rport without received")


def t_response_compact_via(env):
    cid = env.uniq("resp")
    nv = env.via()
    data = response(200, "OK", [], ["v: " + fake_our_via(env, nv, cid), "v: " + nv] +
                    dialog("INVITE", cid, to_tag="x1", max_forwards=None))
    env.b1.send(data, env.vd_addr)
    r = env.client.recv(1.0)
    check(r is not None, "the response did not reach the client")
    want = data.decode("latin-1").split("\r\n")
    del want[1]
    check(r[0] == "\r\n".join(want).encode("latin-1"), "got %r" % r[0])


def t_response_routed_by_sent_by(env):
    v = "SIP/2.0/UDP %s;branch=z9hG4bKc3" % hostport(env.ext_ip, EXT)
    relay_to(env, v, env.ext, "sent-by")


def dropped_response(env, vias, counter, what, cid=None):
    before = env.vd.counters()
    cid = cid or env.uniq("resp")
    env.b1.send(response(200, "OK", vias, dialog("INVITE", cid, to_tag="x1", max_forwards=None)),
                env.vd_addr)
    expect_silence(env, env.b1, what)
    counted(env, counter, before)


def t_response_not_our_via_dropped(env):
    dropped_response(env, ["SIP/2.0/UDP %s;branch=z9hG4bKnot" % env.hp(5999), env.via()],
                     "drop_not_our_via", "top Via on our IP, other port")
    dropped_response(env, ["SIP/2.0/UDP %s;branch=z9hG4bKnot" % hostport(env.foreign, VD_PORT),
                           env.via()], "drop_not_our_via", "top Via another host")


def t_response_hostname_dropped(env):
    dropped_response(env, [fake_our_via(env),
                           "SIP/2.0/UDP client.example.com:7000;branch=z9hG4bKh"],
                     "drop_unresolvable", "next Via a hostname")


def t_response_only_our_via_consumed(env):
    dropped_response(env, [fake_our_via(env)], "drop_no_next_via", "only our Via")


def t_response_bad_destination_dropped(env):
    dests = ["255.255.255.255", "224.0.0.1"]
    if env.fam == "v6":
        dests += ["[ff02::1]", "[::]"]
    else:
        dests += ["0.0.0.0"]
    for d in dests:
        nxt = "SIP/2.0/UDP %s:%d;branch=z9hG4bKd" % (d, CLIENT)
        cid = env.uniq("resp")
        dropped_response(env, [fake_our_via(env, nxt, cid), nxt], "drop_bad_destination",
                         "next Via %s" % d, cid)
    nxt = "SIP/2.0/UDP %s;branch=z9hG4bKself" % env.vd_hp
    cid = env.uniq("resp")
    dropped_response(env, [fake_our_via(env, nxt, cid), nxt], "drop_to_self",
                     "next Via is viaduct itself", cid)
    # a forged one (its tag does not verify) is dropped before it is looked at further
    nxt = "SIP/2.0/UDP %s;branch=z9hG4bKforged" % env.hp(CLIENT)
    dropped_response(env, [fake_our_via(env), nxt], "drop_forged_via", "a forged tag")

# ---------------------------------------------------------------- keep-alives


def t_crlf_keepalive(env):
    before = env.vd.counters()
    env.client.send(b"\r\n\r\n", env.vd_addr)
    expect_silence(env, env.client, "CRLF keep-alive")
    counted(env, "rx_keepalive", before)
    only_changed(env, before, {"rx_keepalive"}, "CRLF keep-alive parsed as SIP?")


def t_stun_not_binding_dropped(env):
    before = env.vd.counters()
    req, _ = stun_binding_request()
    env.client.send(b"\x00\x03" + req[2:], env.vd_addr)  # Allocate, not Binding
    expect_silence(env, env.client, "STUN Allocate")
    counted(env, "drop_stun", before)


def t_stun_binding(env):
    before = env.vd.counters()
    req, txid = stun_binding_request()
    env.client.send(req, env.vd_addr)
    r = env.client.recv(1.0)
    check(r is not None, "no STUN response")
    s = stun_parse(r[0])
    check(s is not None and s["type"] == 0x0101, "not a Binding Success Response: %r" % r[0][:24])
    check(s["cookie"] == 0x2112A442 and s["txid"] == txid, "cookie or transaction id differ")
    check(s["length"] == len(r[0]) - 20, "length field %d for %d bytes" % (s["length"], len(r[0])))
    xma = [v for t, v in s["attrs"] if t == 0x0020]
    check(len(xma) == 1, "XOR-MAPPED-ADDRESS attributes: %d" % len(xma))
    got = stun_xor_mapped(xma[0], txid)
    check(got == env.client.addr, "XOR-MAPPED-ADDRESS %s, want %s" % (got, env.client.addr))
    sync(env, env.client)
    only_changed(env, before, {"rx_stun", "stun_responses"}, "STUN parsed as SIP?")


TESTS = [
    ("maxfwd_decremented", t_maxfwd_decremented),
    ("maxfwd_leading_zero", t_maxfwd_leading_zero),
    ("maxfwd_folded", t_maxfwd_folded),
    ("maxfwd_added_when_absent", t_maxfwd_added_when_absent),
    ("maxfwd_zero_483", t_maxfwd_zero_483),
    ("local_reply_port", t_local_reply_port),
    ("ack_maxfwd_zero_silent", t_ack_maxfwd_zero_silent),
    ("options_to_us_200", t_options_to_us_200),
    ("options_with_user_forwarded", t_options_with_user_forwarded),
    ("route_ours_removed", t_route_ours_removed),
    ("route_alias_removed", t_route_alias_removed),
    ("route_loose_next_hop", t_route_loose_next_hop),
    ("route_shared_line", t_route_shared_line),
    ("route_not_ours_kept", t_route_not_ours_kept),
    ("via_on_top_rest_identical", t_via_on_top_rest_identical),
    ("via_received_added", t_via_received_added),
    ("via_received_added_hostname", t_via_received_added_hostname),
    ("via_received_shared_line", t_via_received_shared_line),
    ("via_received_not_added_when_equal", t_via_received_not_added_when_equal),
    ("via_rport", t_via_rport),
    ("compact_headers", t_compact_headers),
    ("branch_retransmission_same", t_branch_retransmission_same),
    ("branch_cancel_same", t_branch_cancel_same),
    ("branch_ack_non2xx_same", t_branch_ack_non2xx_same),
    ("branch_differs_between_invites", t_branch_differs_between_invites),
    ("branch_10kb_stays_short", t_branch_10kb_stays_short),
    ("branch_rfc2543", t_branch_rfc2543),
    ("register_same_aor_same_backend", t_register_same_aor_same_backend),
    ("call_sticks_to_one_backend", t_call_sticks_to_one_backend),
    ("bad_cseq_400", t_bad_cseq_400),
    ("cseq_method_mismatch_400", t_cseq_method_mismatch_400),
    ("duplicate_callid_400", t_duplicate_callid_400),
    ("maxfwd_out_of_range_400", t_maxfwd_out_of_range_400),
    ("no_via_dropped", t_no_via_dropped),
    ("garbage_via_dropped", t_garbage_via_dropped),
    ("version_505", t_version_505),
    ("proxy_require_420", t_proxy_require_420),
    ("require_forwarded", t_require_forwarded),
    ("non_sip_uri_416", t_non_sip_uri_416),
    ("hostname_route_503", t_hostname_route_503),
    ("over_max_msg_513", t_over_max_msg_513),
    ("response_relayed_byte_identical", t_response_relayed_byte_identical),
    ("response_shared_via_line", t_response_shared_via_line),
    ("response_routed_by_rport", t_response_routed_by_rport),
    ("response_routed_by_received", t_response_routed_by_received),
    ("response_routed_by_sent_by", t_response_routed_by_sent_by),
    ("response_compact_via", t_response_compact_via),
    ("response_not_our_via_dropped", t_response_not_our_via_dropped),
    ("response_hostname_dropped", t_response_hostname_dropped),
    ("response_only_our_via_consumed", t_response_only_our_via_consumed),
    ("response_bad_destination_dropped", t_response_bad_destination_dropped),
    ("crlf_keepalive", t_crlf_keepalive),
    ("stun_binding", t_stun_binding),
    ("stun_not_binding_dropped", t_stun_not_binding_dropped),
    ("v6_other_spelling_is_us", t_v6_other_spelling_is_us, "v6"),
]

# ---------------------------------------------------------------- process


def run_exit(binary, args, timeout=5.0):
    """Runs viaduct expecting it to exit by itself; (code, stdout, stderr)."""
    p = subprocess.Popen([binary] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, 15)
        out, err = p.communicate(timeout=5)
        raise Failure("still running after %.0f s: %r" % (timeout, err.decode("latin-1")[-300:]))
    return p.returncode, out.decode("latin-1"), err.decode("latin-1")


def one_line_failure(binary, args, must_contain):
    code, _, err = run_exit(binary, args)
    lines = [l for l in err.splitlines() if l.strip()]
    check(code != 0, "%s: exit code 0" % args)
    check(len(lines) == 1, "%s: want a one-line reason, stderr was %r" % (args, err))
    check(must_contain in lines[0], "%s: reason %r does not mention %r" % (args, lines[0],
                                                                         must_contain))


def t_version(binary):
    code, out, err = run_exit(binary, ["--version"])
    check(code == 0, "exit %s" % code)
    check(re.match(r"^viaduct \S+\n$", out), "stdout %r" % out)


def t_bad_listen(binary):
    for bad in ("127.0.0.1", "not-an-ip:5060", "[::1:5060", "127.0.0.1:99999"):
        one_line_failure(binary, ["--listen", bad, "--backend", "127.0.0.1:6001"], bad)


def t_port_in_use(binary):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 5090))
        one_line_failure(binary, ["--listen", "127.0.0.1:5090", "--backend", "127.0.0.1:6001",
                                  "--io", "mmsg"], "5090")
    finally:
        s.close()


def t_no_backend(binary):
    one_line_failure(binary, ["--listen", "127.0.0.1:5091", "--io", "mmsg"], "backend")


def run_config(t, binary, fam, io):
    name = "%s/%s" % (fam, io)
    try:
        env = Env(binary, fam, io)
    except OSError as e:
        t.run(name + " setup", lambda: check(False, "cannot bind the test sockets: %s "
                                             "(run through test/integ/run.sh)" % e))
        return
    try:
        try:
            env.start()
        except (StartError, Failure) as e:
            t.run(name + " start", lambda: check(False, str(e)))
            return
        deaths = 0
        only = os.environ.get("INTEG_ONLY", "")
        for entry in TESTS:
            tname, fn = entry[:2]
            if only not in tname or (len(entry) > 2 and entry[2] != fam):
                continue
            for ep in env.all:
                ep.drain()
            t.run("%s %s" % (name, tname), fn, env)
            if not env.vd.alive() and deaths < 3:
                deaths += 1
                code, err = env.vd.stop()
                t.run("%s alive_after_%s" % (name, tname),
                      lambda: check(False, "viaduct exited %s: %s" % (code, err[-2000:])))
                try:
                    env.start()
                except (StartError, Failure) as e:
                    t.run(name + " restart", lambda: check(False, str(e)))
                    return
        t.run("%s still_alive_after_all_tests" % name,
              lambda: check(env.vd.alive(), "viaduct exited %s" % env.vd.proc.poll()))
        code, err = env.vd.stop()
        freed = port_free(env.ip, VD_PORT)  # at once: the exit must have closed the sockets
        secs = env.vd.stop_seconds
        t.run("%s sigterm_exits_0_within_2s" % name,
              lambda: check(code == 0 and secs < 2.0, "exit %s after %.2f s" % (code, secs)))
        t.run("%s sigterm_releases_port" % name,
              lambda: check(freed, "%s cannot be bound right after viaduct exited: a socket "
                            "outlived the process" % env.vd_hp))
        t.run("%s no_sanitizer_report" % name,
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
    for tname, fn in (("version", t_version), ("bad_listen_fails", t_bad_listen),
                      ("port_in_use_fails", t_port_in_use), ("no_backend_fails", t_no_backend)):
        t.run("process " + tname, fn, args.bin)
    want = os.environ.get("INTEG_CONFIGS", "").split()
    for fam, io in CONFIGS:
        if not want or "%s/%s" % (fam, io) in want:
            run_config(t, args.bin, fam, io)
    sys.exit(t.finish())


if __name__ == "__main__":
    main()
