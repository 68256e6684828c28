#!/usr/bin/env python3
"""test_guard.py - edge protection through the real binary (issue 11): listener allow/deny
lists (and their optional 403, acl_403), the User-Agent block, per-source rate limits, the byte budget of local answers, and
overload shedding (forced with overload_pct 0, and for real: the worker stopped with ptrace
while its socket fills). Each attack gets a bounded, counted outcome.

    sh test/integ/run.sh build/san test/integ/test_guard.py

Addresses (per family): viaduct on VD:5060 (and VD:5062 for the second listener), one backend
BE:6001, an attacking client A, a second address A2 in A's IPv6 /64, and a legitimate client
B on another address (not loopback: the relay policy sends no response to loopback when
viaduct does not listen there):
    v4: VD 192.0.2.1, A 192.0.2.2, A2 192.0.2.3 (another source), B 198.51.100.23, BE 127.0.0.1
    v6: VD 2001:db8::1, A 2001:db8::2, A2 2001:db8::3 (same /64 as A), B 2001:db8:1::7, BE ::1
"""

import os
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Endpoint, Tally, check, dialog, hostport, netns_problem,  # noqa: E402
                    parse, parse_args, recv_any, request, response, sanitizer_report,
                    resume_thread, signed_branch, start_viaduct, stop_thread,
                    stun_binding_request, udp_queue, wait_port_free, worker_threads)

FAM = {
    "v4": {"vd": "192.0.2.1", "a": "192.0.2.2", "a2": "192.0.2.3", "b": "198.51.100.23",
           "be": "127.0.0.1", "net_a": "192.0.2.2/32"},
    "v6": {"vd": "2001:db8::1", "a": "2001:db8::2", "a2": "2001:db8::3", "b": "2001:db8:1::7",
           "be": "::1", "net_a": "2001:db8::2/128"},
}
N = [0]


def uniq(what):
    N[0] += 1
    return "%s-%d-%d" % (what, os.getpid(), N[0])


class Rig:
    def __init__(self, binary, fam, yaml_extra="", listen_extra=""):
        f = FAM[fam]
        self.f = f
        self.vd_addr = (f["vd"], 5060)
        self.vd2_addr = (f["vd"], 5062)
        self.a = Endpoint(f["a"], 7100)
        self.a2 = Endpoint(f["a2"], 7100)
        self.b = Endpoint(f["b"], 7101)
        self.be = Endpoint(f["be"], 6001)
        self.eps = [self.a, self.a2, self.b, self.be]
        for addr in (self.vd_addr, self.vd2_addr):
            check(wait_port_free(*addr), "%s still bound" % (addr,))
        text = ("listen:\n  - {address: \"%s\"%s}\n  - \"%s\"\n"
                "pools:\n  - {name: default, backends: [\"%s\"]}\n%s" % (
                    hostport(*self.vd_addr), listen_extra, hostport(*self.vd2_addr),
                    hostport(f["be"], 6001), yaml_extra))
        fd, self.cfg_path = tempfile.mkstemp(suffix=".yaml")
        os.write(fd, text.encode())
        os.close(fd)
        self.vd = start_viaduct(binary, ["--config", self.cfg_path, "--workers", "1"])

    def close(self):
        code, err = self.vd.stop()
        os.unlink(self.cfg_path)
        for ep in self.eps:
            ep.close()
        check(code == 0, "viaduct exited %r" % code)
        rep = sanitizer_report(err)
        check(rep is None, "sanitizer: %s" % rep)
        return err

    def req(self, ep, method="INVITE", to_tag=None, ua=None, call_id=None, cseq=1, vd=None):
        via = "SIP/2.0/UDP %s;branch=z9hG4bK%s;rport" % (hostport(*ep.addr), uniq("b"))
        h = dialog(method, call_id or uniq("c"), cseq, "ft1", to_tag, 70)
        if ua:
            h.append(("User-Agent", ua))
        return request(method, "sip:bob@example.com", [via], h)

    def counters(self):
        return self.vd.counters()


def forwarded(rig, n, timeout=1.0):
    """How many requests reached the backend within timeout of the last."""
    got = 0
    while got < n:
        r = rig.be.recv(timeout)
        if r is None:
            break
        m = parse(r[0])
        if m.is_request:
            got += 1
    return got


def delta(before, after, name):
    return after.get(name, 0) - before.get(name, 0)


def run(t, name, binary, fam, fn, **kw):
    rig = None

    def body():
        nonlocal rig
        rig = Rig(binary, fam, **kw)
        try:
            fn(rig)
        finally:
            r, rig = rig, None
            r.close()
    t.run("%s %s" % (fam, name), body)
    if rig is not None:
        try:
            rig.close()
        except AssertionError:
            pass


# ---------------------------------------------------------------- access lists

def t_deny_drops_before_parsing(rig):
    before = rig.counters()
    rig.a.send(rig.req(rig.a), rig.vd_addr)
    rig.a.send(stun_binding_request()[0], rig.vd_addr)        # not even STUN is answered
    rig.a.send(b"\x00garbage", rig.vd_addr)                     # nor garbage parsed
    check(forwarded(rig, 1, 0.5) == 0, "a denied request reached the backend")
    check(rig.a.recv(0.2) is None, "a denied source got an answer")
    # the same source on the other listener (no list of its own, no security.deny) passes
    rig.a.send(rig.req(rig.a), rig.vd2_addr)
    check(forwarded(rig, 1) == 1, "the second listener did not forward it")
    rig.b.send(rig.req(rig.b), rig.vd_addr)
    check(forwarded(rig, 1) == 1, "an allowed source was not forwarded")
    after = rig.counters()
    check(delta(before, after, "drop_acl") == 3, "drop_acl +%d, want 3" %
          delta(before, after, "drop_acl"))
    check(delta(before, after, "rx_requests") == 2, "denied datagrams were parsed")


def t_allow_list_admits_only_it(rig):
    before = rig.counters()
    rig.a.send(rig.req(rig.a), rig.vd_addr)
    check(forwarded(rig, 1) == 1, "the allowed source was not forwarded")
    rig.b.send(rig.req(rig.b), rig.vd_addr)
    # a response from outside the allow list is dropped too (requests and responses)
    rig.b.send(response(200, "OK", ["SIP/2.0/UDP %s;branch=z9hG4bKx" % hostport(*rig.vd_addr),
                                    "SIP/2.0/UDP %s;branch=z9hG4bKy" % hostport(*rig.a.addr)],
                        dialog("INVITE", uniq("c"))), rig.vd_addr)
    check(forwarded(rig, 1, 0.5) == 0, "a source outside the allow list was forwarded")
    check(rig.a.recv(0.2) is None, "a response from outside the allow list was relayed")
    check(delta(before, rig.counters(), "drop_acl") == 2, "drop_acl did not count both")


def answers(ep, timeout=0.3):
    got = []
    while True:
        r = ep.recv(timeout)
        if r is None:
            return got
        got.append(r[0])


def phone_req(rig, ep, method="INVITE"):
    """rig.req with the lines a phone's request carries besides the ones a 403 echoes."""
    extra = ("Contact: <sip:alice@%s>\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"
             "Supported: replaces, timer\r\nUser-Agent: Example-Phone/2.4.1\r\n\r\n" %
             hostport(*ep.addr))
    return rig.req(ep, method).replace(b"\r\n\r\n", b"\r\n" + extra.encode())


def t_acl_403_answers_refused_requests(rig):
    """Listener 1 denies A with acl_403: a request is answered 403, never larger than it."""
    before = rig.counters()
    msg = phone_req(rig, rig.a)
    rig.a.send(msg, rig.vd_addr)
    got = answers(rig.a)
    check(len(got) == 1 and parse(got[0]).status == 403, "answers %r, want one 403" %
          [g[:40] for g in got])
    check(len(got[0]) <= len(msg), "the 403 (%d bytes) is larger than its request (%d)" %
          (len(got[0]), len(msg)))
    m = parse(got[0])
    check(m.get("Call-ID") == parse(msg).get("Call-ID") and ";tag=" in m.get("To"),
          "not a 403 to that request: %r" % got[0][:200])
    # ACK and STUN are never answered; garbage is not parsed into an answer either
    rig.a.send(rig.req(rig.a, "ACK", to_tag="t1"), rig.vd_addr)
    rig.a.send(stun_binding_request()[0], rig.vd_addr)
    rig.a.send(b"\x00garbage", rig.vd_addr)
    check(answers(rig.a) == [], "an ACK, STUN or garbage from a refused source was answered")
    # a bare request (only what the 403 echoes, plus Max-Forwards and Content-Length) would get
    # a larger 403 (To tag, received): it gets none
    small = rig.req(rig.a, "OPTIONS")
    rig.a.send(small, rig.vd_addr)
    check(answers(rig.a) == [], "a 403 larger than its %d-byte request went out" % len(small))
    # with room to spare the 403 says why
    big = phone_req(rig, rig.a, "REGISTER").replace(b"\r\n\r\n",
                                                    b"\r\nX-Pad: %s\r\n\r\n" % (b"p" * 100))
    rig.a.send(big, rig.vd_addr)
    got = answers(rig.a)
    check(len(got) == 1 and parse(got[0]).status == 403 and
          b'Warning: 399 viaduct "source refused"' in got[0],
          "no 403 with the Warning for a large request: %r" % [g[:300] for g in got])
    check(forwarded(rig, 1, 0.3) == 0, "a refused request reached the backend")
    # another source on the same listener is forwarded as ever
    rig.b.send(rig.req(rig.b), rig.vd_addr)
    check(forwarded(rig, 1) == 1, "an allowed source was not forwarded")
    after = rig.counters()
    for name, want in (("acl_answered", 2), ("local_403", 2), ("drop_acl", 3),
                       ("drop_answer_larger", 1), ("rx_requests", 1)):
        check(delta(before, after, name) == want, "%s +%d, want %d" %
              (name, delta(before, after, name), want))


def t_acl_403_per_listener(rig):
    """security.acl_403 on, listener 1's own acl_403 off: it drops, listener 2 answers."""
    before = rig.counters()
    rig.a.send(phone_req(rig, rig.a), rig.vd_addr)
    check(answers(rig.a) == [], "listener 1 (acl_403: false) answered a refused source")
    rig.a.send(phone_req(rig, rig.a), rig.vd2_addr)
    got = answers(rig.a)
    check(len(got) == 1 and parse(got[0]).status == 403,
          "listener 2 (security.acl_403) did not answer 403: %r" % [g[:40] for g in got])
    check(forwarded(rig, 1, 0.3) == 0, "a refused request reached the backend")
    after = rig.counters()
    check(delta(before, after, "drop_acl") == 1 and delta(before, after, "acl_answered") == 1,
          "drop_acl +%d, acl_answered +%d, want 1 and 1" %
          (delta(before, after, "drop_acl"), delta(before, after, "acl_answered")))


def t_acl_403_within_the_budget(rig):
    """The 403s come out of the source's byte budget: with a bucket (answer_burst 100) smaller
    than one 403, none goes, however many bytes the refused source sends."""
    before = rig.counters()
    sent = 0
    for i in range(50):
        m = phone_req(rig, rig.a)
        rig.a.send(m, rig.vd_addr)
        sent += len(m)
    got = answers(rig.a)
    check(got == [], "%d answers to %d bytes with a 100-byte budget" % (len(got), sent))
    after = rig.counters()
    check(delta(before, after, "drop_answer_budget") == 50, "drop_answer_budget +%d, want 50" %
          delta(before, after, "drop_answer_budget"))


# ---------------------------------------------------------------- User-Agent

def t_scanner_user_agent_dropped(rig):
    before = rig.counters()
    for ua in ("friendly-scanner", "sipvicious 0.3.4", "SIPVicious", "VaxSIPUserAgent/3.1",
               "x sundayddr y"):
        rig.a.send(rig.req(rig.a, "OPTIONS", ua=ua), rig.vd_addr)
    rig.a.send(rig.req(rig.a, "REGISTER", ua="Example-Phone/2.4.1 (friendly)"), rig.vd_addr)
    check(forwarded(rig, 1) == 1, "an ordinary User-Agent was not forwarded")
    check(forwarded(rig, 1, 0.3) == 0, "a scanner was forwarded")
    check(rig.a.recv(0.2) is None, "a scanner got an answer")
    check(delta(before, rig.counters(), "drop_user_agent") == 5, "drop_user_agent not +5")


def t_user_agent_list_replaces_defaults(rig):
    """block_user_agents: [evil-ua] blocks that (any case) and no longer the defaults."""
    before = rig.counters()
    rig.a.send(rig.req(rig.a, "OPTIONS", ua="Evil-UA/2.0"), rig.vd_addr)
    rig.a.send(rig.req(rig.a, "OPTIONS", ua="friendly-scanner"), rig.vd_addr)
    check(forwarded(rig, 2, 0.5) == 1, "not exactly the default scanner forwarded")
    check(delta(before, rig.counters(), "drop_user_agent") == 1, "drop_user_agent not +1")


def t_user_agent_list_empty_blocks_none(rig):
    for ua in ("friendly-scanner", "sipvicious", "VaxSIPUserAgent"):
        rig.a.send(rig.req(rig.a, "OPTIONS", ua=ua), rig.vd_addr)
    check(forwarded(rig, 3) == 3, "block_user_agents: [] still blocked some")


# ---------------------------------------------------------------- rate limits

def t_dialog_bucket_limited_apart(rig):
    """dialog_rate 1, dialog_burst 10: of 40 BYEs about 10 pass; the out-of-dialog bucket
    (burst 3) is untouched by them, and the BYEs' was untouched by what came before."""
    for i in range(40):
        rig.a.send(rig.req(rig.a, "BYE", to_tag="t%d" % i), rig.vd_addr)
    got = forwarded(rig, 40, 0.5)
    check(10 <= got <= 12, "%d of 40 in-dialog requests forwarded, want about 10" % got)
    for i in range(10):
        rig.a.send(rig.req(rig.a, "INVITE"), rig.vd_addr)
    got = forwarded(rig, 10, 0.5)
    check(3 <= got <= 4, "%d of 10 INVITEs after the BYEs, want about 3" % got)


def t_flood_limited_other_source_unharmed(rig):
    before = rig.counters()
    t0 = time.monotonic()
    for i in range(400):
        rig.a.send(rig.req(rig.a, "INVITE"), rig.vd_addr)
    got_a = forwarded(rig, 400, 0.5)
    secs = time.monotonic() - t0
    # burst 20 + 10/s: the limit, whatever the flood's size
    check(20 <= got_a <= 20 + 10 * secs + 2, "flood: %d of 400 forwarded in %.1f s" %
          (got_a, secs))
    for i in range(18):  # within its own burst of 20
        rig.b.send(rig.req(rig.b, "REGISTER"), rig.vd_addr)
    check(forwarded(rig, 18) == 18, "the other source's REGISTERs did not all get through")
    # in-dialog requests have their own, larger bucket: A's BYE still goes
    rig.a.send(rig.req(rig.a, "BYE", to_tag="tt1"), rig.vd_addr)
    check(forwarded(rig, 1) == 1, "an in-dialog request of the flooder was limited")
    after = rig.counters()
    check(delta(before, after, "drop_rate_limited") >= 400 - got_a,
          "drop_rate_limited +%d, want %d" % (delta(before, after, "drop_rate_limited"),
                                             400 - got_a))
    check(rig.a.recv(0.1) is None, "the flooder got answers (limit_503 is off)")


def t_ipv6_limited_by_64(rig):
    """A and A2 share a /64 in v6 (one bucket) and are two sources in v4."""
    for ep in (rig.a, rig.a2):
        for i in range(30):
            ep.send(rig.req(ep, "OPTIONS"), rig.vd_addr)
    got = forwarded(rig, 60, 0.5)
    want = 20 if ":" in rig.f["a"] else 40
    check(want <= got <= want + 4, "%d of 60 forwarded, want about %d" % (got, want))


def t_responses_never_limited(rig):
    """A's bucket holds 2 new requests; its 30 responses (to requests a backend sent through
    viaduct, so their tags verify) all reach the backend."""
    for i in range(10):
        rig.a.send(rig.req(rig.a, "OPTIONS"), rig.vd_addr)
    check(forwarded(rig, 10, 0.5) <= 3, "the limit is not in force")
    before = rig.counters()
    for i in range(30):
        cid = uniq("resp")
        nxt = "SIP/2.0/UDP %s;branch=z9hG4bK%s" % (hostport(*rig.be.addr), uniq("n"))
        top = "SIP/2.0/UDP %s;branch=%s" % (hostport(*rig.vd_addr), signed_branch(nxt, cid))
        rig.a.send(response(200, "OK", [top, nxt], dialog("MESSAGE", cid, to_tag="t1")),
                   rig.vd_addr)
    got = 0
    while got < 30:
        r = rig.be.recv(1.0)
        if r is None:
            break
        got += 0 if parse(r[0]).is_request else 1
    after = rig.counters()
    check(got == 30, "%d of 30 responses from a limited source were relayed" % got)
    check(delta(before, after, "drop_rate_limited") == 0, "responses were counted as limited")


IP_PKTINFO = 8  # linux/in.h: a sendmsg's source address, any local one (all of 127/8 here)


def t_spray_gives_no_free_pass(binary):
    """security {rate: 1, burst: 100}: A has spent its bucket, B holds an entry with half
    of its own; then 40,000 INVITEs from as many sources (127.128.0.0/9, more than the
    table's 16,384 entries). After it A is still limited (no reset, however many sources
    came) and B is served from its own bucket."""
    vd_addr = ("127.0.0.1", 5066)
    be = Endpoint("127.0.0.1", 6013)
    be.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 25)
    a, b = Endpoint("127.0.0.2", 7121), Endpoint("127.0.0.3", 7122)
    spray = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    spray.bind(("0.0.0.0", 7120))
    check(wait_port_free(*vd_addr), "port busy")
    fd, cfg = tempfile.mkstemp(suffix=".yaml")
    os.write(fd, b'listen: ["127.0.0.1:5066"]\npools: [{name: default, backends: '
                 b'["127.0.0.1:6013"]}]\nsecurity: {rate: 1, burst: 100}\n')
    os.close(fd)
    vd = start_viaduct(binary, ["-c", cfg, "--workers", "1"])

    def send(ep, tag, n):
        for i in range(n):
            ep.send(request("INVITE", "sip:bob@example.com",
                            ["SIP/2.0/UDP %s;branch=z9hG4bK%s%d" % (hostport(*ep.addr), tag, i)],
                            dialog("INVITE", "%s-%d" % (tag, i))), vd_addr)

    def arrived(timeout=1.0):
        """Call-ID prefixes of what reached the backend until it is quiet."""
        got = {}
        while True:
            r = be.recv(timeout)
            if r is None:
                return got
            k = (parse(r[0]).get("Call-ID") or "").split("-")[0]
            got[k] = got.get(k, 0) + 1
            timeout = 0.3
    try:
        send(a, "a1", 200)
        send(b, "b1", 50)
        got = arrived()
        check(got.get("a1") == 100 and got.get("b1") == 50, "before the spray: %s" % got)
        tmpl = request("INVITE", "sip:bob@example.com",
                       ["SIP/2.0/UDP 127.128.0.1:7120;branch=z9hG4bKspray%08d"],
                       dialog("INVITE", "spray-%08d")).decode()
        t0 = time.monotonic()
        for i in range(40000):
            src = "127.%d.%d.%d" % (128 + (i >> 16), (i >> 8) & 255, i & 255 or 1)
            cm = [(socket.IPPROTO_IP, IP_PKTINFO,
                   struct.pack("@I4s4s", 0, socket.inet_aton(src), bytes(4)))]
            spray.sendmsg([(tmpl % (i, i)).encode()], cm, 0, vd_addr)
            if i % 2000 == 1999:  # paced, so the kernel drops none before viaduct reads
                while (udp_queue(vd_addr[1]) or (0, 1))[0] > 4 << 20:
                    time.sleep(0.01)
        deadline = time.monotonic() + 10
        while (udp_queue(vd_addr[1]) or (0, 1))[0] > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        arrived(0.5)  # the backend's share of the spray (its socket overflows: not counted)
        secs = time.monotonic() - t0
        c = vd.counters()
        check(c.get("rx_requests", 0) == 40250, "viaduct read %s of the 40,250 requests" %
              c.get("rx_requests"))
        send(a, "a2", 20)
        send(b, "b2", 20)
        got = arrived()
        print("   (spray: 40000 sources, %d forwarded, %d limited, in %.1f s)" %
              (c.get("fwd_requests", 0) - 150, c.get("drop_rate_limited", 0) - 100, secs))
        check(got.get("a2", 0) <= 2 + secs, "after the spray A got %d of 20 through: its "
              "bucket was reset" % got.get("a2", 0))
        check(got.get("b2") == 20, "after the spray B got %s of 20 through" % got.get("b2"))
    finally:
        code, err = vd.stop()
        os.unlink(cfg)
        for ep in (be, a, b):
            ep.close()
        spray.close()
    check(code == 0 and sanitizer_report(err) is None, "exit %s" % code)


def t_trusted_never_limited(rig):
    for i in range(100):
        rig.a.send(rig.req(rig.a, "INVITE"), rig.vd_addr)
    check(forwarded(rig, 100) == 100, "a trusted source was limited")


def t_limit_503_answers_within_budget(rig):
    for i in range(25):
        rig.a.send(rig.req(rig.a, "INVITE"), rig.vd_addr)
    forwarded(rig, 25, 0.5)
    codes = []
    while True:
        r = rig.a.recv(0.3)
        if r is None:
            break
        codes.append(parse(r[0]).status)
    check(codes and set(codes) == {503}, "answers %r, want 503s" % codes[:5])
    r = parse(rig.req(rig.a))  # noqa: F841 - the shape of one: Retry-After checked below
    rig.a.send(rig.req(rig.a, "INVITE"), rig.vd_addr)
    got = rig.a.recv(0.5)
    check(got is not None and b"Retry-After: " in got[0], "no Retry-After on the 503")


# ---------------------------------------------------------------- amplification

def bad_request(rig, ep):
    # a readable Via and nothing else: answered 400 (and, without the budget, with a Warning)
    return ("INVITE sip:a SIP/2.0\r\nVia: SIP/2.0/UDP %s\r\n\r\n" % hostport(*ep.addr)).encode()


def burst_bytes(rig, msgs, n):
    sent = got = 0
    for i in range(n):
        m = msgs[i % len(msgs)]()
        rig.a.send(m, rig.vd_addr)
        sent += len(m)
        if i % 50 == 49:
            time.sleep(0.01)
    while True:
        r = rig.a.recv(0.3)
        if r is None:
            break
        got += len(r[0])
        check(b"Warning" not in r[0], "a Warning made the answer larger: %r" % r[0][:120])
    return sent, got


def t_answers_within_requests(rig):
    """answer_burst 200, answer_rate 0: over the burst, bytes out <= bytes in + 200."""
    before = rig.counters()
    msgs = [lambda: bad_request(rig, rig.a), lambda: stun_binding_request()[0]]
    sent, got = burst_bytes(rig, msgs, 600)
    after = rig.counters()
    check(got > 0, "nothing was answered at all")
    check(got <= sent + 200, "answered %d bytes for %d received" % (got, sent))
    check(delta(before, after, "drop_answer_budget") > 0, "drop_answer_budget did not move")
    # an error answer smaller than its request is always sent: it pays for itself
    big = bad_request(rig, rig.a).replace(b"\r\n\r\n", b"\r\nX-Pad: %s\r\n\r\n" % (b"p" * 400))
    rig.a.send(big, rig.vd_addr)
    r = rig.a.recv(0.5)
    check(r is not None and parse(r[0]).status == 400, "a 400 smaller than its request was held")


def t_default_budget_bounded(rig):
    msgs = [lambda: bad_request(rig, rig.a), lambda: stun_binding_request()[0]]
    t0 = time.monotonic()
    sent, got = burst_bytes(rig, msgs, 600)
    secs = time.monotonic() - t0
    check(got <= sent + 1024 + 64 * secs + 64, "answered %d bytes for %d received (+%d)" %
          (got, sent, got - sent))
    # a backend (trusted) still gets the full text with the Warning
    rig.be.send(bad_request(rig, rig.be), rig.vd_addr)
    r = rig.be.recv(0.5)
    check(r is not None and b"Warning: 399" in r[0], "a trusted source lost its Warning")


def t_warning_only_where_it_fits(rig):
    """The Warning of a 400 to an untrusted source: there exactly when the answer with it is
    no larger than the request, over every request size across that edge."""
    rig.be.send(bad_request(rig, rig.be), rig.vd_addr)
    r = rig.be.recv(0.5)
    check(r is not None, "a trusted source got no 400")
    wl = [l for l in r[0].split(b"\r\n") if l.startswith(b"Warning: 399")]
    check(len(wl) == 1, "the trusted 400 has no Warning: %r" % r[0][:200])
    wlen = len(wl[0]) + 2
    seen = {True: 0, False: 0}
    for pad in range(0, 2 * wlen + 40):
        req = bad_request(rig, rig.a).replace(b"\r\n\r\n", b"\r\nX-Pad: %s\r\n\r\n" %
                                              (b"p" * pad))
        rig.a.send(req, rig.vd_addr)
        got = rig.a.recv(0.5)
        check(got is not None and parse(got[0]).status == 400, "pad %d: no 400" % pad)
        ans = got[0]
        warned = b"Warning: 399" in ans
        seen[warned] += 1
        if warned:
            check(len(ans) <= len(req), "pad %d: a %d-byte 400 with its Warning for a %d-byte "
                  "request" % (pad, len(ans), len(req)))
        else:
            check(len(ans) + wlen > len(req), "pad %d: the Warning was left out of a %d-byte "
                  "400 for a %d-byte request, where it fits" % (pad, len(ans), len(req)))
    check(seen[True] and seen[False], "the sizes did not cross the edge: %s" % seen)


# ---------------------------------------------------------------- overload

def t_overload_sheds_new_keeps_dialogs(rig):
    before = rig.counters()
    rig.b.send(rig.req(rig.b, "INVITE"), rig.vd_addr)
    check(forwarded(rig, 1, 0.5) == 0, "a new INVITE was forwarded while overloaded")
    r = rig.b.recv(0.5)
    check(r is not None and parse(r[0]).status == 503 and b"Retry-After" in r[0],
          "no 503 with Retry-After for the shed INVITE")
    cid = uniq("dlg")
    for method, tag in (("BYE", "tt"), ("INVITE", "tt"), ("CANCEL", None), ("ACK", "tt")):
        rig.b.send(rig.req(rig.b, method, to_tag=tag, call_id=cid), rig.vd_addr)
    check(forwarded(rig, 4) == 4, "in-dialog requests, CANCEL or ACK were shed")
    # and a response still flows back to its client
    rig.b.send(rig.req(rig.b, "BYE", to_tag="tt", call_id=cid, cseq=3), rig.vd_addr)
    r = rig.be.recv(1.0)
    check(r is not None, "the BYE did not arrive")
    m = parse(r[0])
    rig.be.send(response(200, "OK", m.get_all("Via"), [("From", m.get("From")),
                                                     ("To", m.get("To")),
                                                     ("Call-ID", cid), ("CSeq", "3 BYE")]),
                rig.vd_addr)
    r = rig.b.recv(1.0)
    check(r is not None and parse(r[0]).status == 200, "the response was not relayed")
    after = rig.counters()
    check(delta(before, after, "drop_overload") == 1, "drop_overload not +1")
    check(after.get("overload_episodes", 0) == 1, "overload_episodes %r, want 1" %
          after.get("overload_episodes"))
    text = rig.vd.stderr_text()
    check(text.count("overloaded (") == 1, "the episode was logged %d times" %
          text.count("overloaded ("))


def t_overload_for_real(binary, io):
    """Overload as it happens, with the default overload_pct (90): the worker is stopped
    (ptrace, that thread alone) while its socket fills to 97% with new INVITEs and, every
    20th datagram, a BYE, an ACK, a CANCEL or a response; let go, it sheds INVITEs while
    the queue is that full, and forwards every one of the others. One episode, logged once."""
    check(len(os.sched_getaffinity(0)) > 1, "one CPU only: the worker cannot be told apart")
    vd_addr, be, cl = ("127.0.0.1", 5064), Endpoint("127.0.0.1", 6011), Endpoint("127.0.0.1", 7111)
    for ep in (be, cl):
        ep.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
    check(wait_port_free(*vd_addr), "port busy")
    vd = start_viaduct(binary, ["--listen", hostport(*vd_addr), "--backend", "127.0.0.1:6011",
                                "--workers", "1", "--io", io])
    stopped = None
    try:
        tids = worker_threads(vd.pid)
        check(len(tids) == 1, "want one pinned thread (the worker), found %s" % tids)
        stop_thread(tids[0])
        stopped = tids[0]
        n, keep, q = 0, {"BYE": 0, "ACK": 0, "CANCEL": 0, "response": 0}, None
        while n < 100000:
            n += 1
            via = "SIP/2.0/UDP 127.0.0.1:7111;branch=z9hG4bKovr%d" % n
            cid = "ovr-%d" % n
            kind = ("BYE", "ACK", "CANCEL", "response")[n // 20 % 4] if n % 20 == 0 else None
            if kind == "response":
                top = "SIP/2.0/UDP %s;branch=%s" % (hostport(*vd_addr), signed_branch(via, cid))
                be.send(response(200, "OK", [top, via], dialog("INVITE", cid, to_tag="t")),
                        vd_addr)
            elif kind:
                cl.send(request(kind, "sip:bob@example.com", [via],
                                dialog(kind, cid, to_tag=None if kind == "CANCEL" else "t")),
                        vd_addr)
            else:
                cl.send(request("INVITE", "sip:bob@example.com", [via], dialog("INVITE", cid)),
                        vd_addr)
            if kind:
                keep[kind] += 1
            if n % 50 == 0:
                q = udp_queue(vd_addr[1])
                check(q is not None, "ss does not show viaduct's socket")
                if q[0] * 100 >= 97 * q[1]:
                    break
        check(q[0] * 100 >= 97 * q[1], "the queue did not fill: %s" % (q,))
        resume_thread(stopped)
        stopped = None
        got = {"INVITE": 0, "BYE": 0, "ACK": 0, "CANCEL": 0, "response": 0}
        while True:
            r = recv_any([be, cl], 1.0)
            if r is None:
                break
            m = parse(r[1])
            if r[0] is be and m.is_request:
                got[m.method] += 1
            elif r[0] is cl and m.status == 200:
                got["response"] += 1
        c = vd.counters()
        invites = n - sum(keep.values())
        print("   (%s: %d datagrams queued, %s of %s bytes; %d of %d INVITEs shed)" %
              (io, n, q[0], q[1], c.get("drop_overload", 0), invites))
        for k in keep:
            check(got[k] == keep[k], "%s: %d of %d forwarded under overload" %
                  (k, got[k], keep[k]))
        check(c.get("rx_datagrams") == n, "the kernel dropped %d datagrams" %
              (n - c.get("rx_datagrams", 0)))
        check(c.get("drop_overload", 0) > 0, "no INVITE was shed")
        check(got["INVITE"] + c["drop_overload"] == invites, "INVITEs: %d forwarded + %d shed "
              "of %d" % (got["INVITE"], c["drop_overload"], invites))
        check(c.get("overload_episodes") == 1, "overload_episodes %s" %
              c.get("overload_episodes"))
    finally:
        if stopped is not None:
            try:
                resume_thread(stopped)
            except OSError:
                pass
        code, err = vd.stop()
        be.close()
        cl.close()
    check(code == 0 and sanitizer_report(err) is None, "exit %s" % code)
    check(len([l for l in err.splitlines() if "overloaded (" in l]) == 1,
          "the episode was not logged once")


def main():
    args = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("netns", lambda: check(False, why))
        sys.exit(t.finish())
    for fam in ("v4", "v6"):
        f = FAM[fam]
        run(t, "deny_drops_before_parsing", args.bin, fam, t_deny_drops_before_parsing,
            listen_extra=", deny: [\"%s\"]" % f["net_a"])
        run(t, "allow_list_admits_only_it", args.bin, fam, t_allow_list_admits_only_it,
            listen_extra=", allow: [\"%s\"]" % f["net_a"])
        run(t, "acl_403_answers_refused_requests", args.bin, fam,
            t_acl_403_answers_refused_requests,
            listen_extra=", deny: [\"%s\"], acl_403: true" % f["net_a"])
        run(t, "acl_403_per_listener", args.bin, fam, t_acl_403_per_listener,
            listen_extra=", acl_403: false",
            yaml_extra="security: {deny: [\"%s\"], acl_403: true}\n" % f["net_a"])
        run(t, "acl_403_within_the_budget", args.bin, fam, t_acl_403_within_the_budget,
            listen_extra=", deny: [\"%s\"], acl_403: true" % f["net_a"],
            yaml_extra="security: {answer_burst: 100, answer_rate: 0}\n")
        run(t, "scanner_user_agent_dropped", args.bin, fam, t_scanner_user_agent_dropped)
        run(t, "user_agent_list_replaces_defaults", args.bin, fam,
            t_user_agent_list_replaces_defaults,
            yaml_extra="security: {block_user_agents: [evil-ua]}\n")
        run(t, "user_agent_list_empty_blocks_none", args.bin, fam,
            t_user_agent_list_empty_blocks_none, yaml_extra="security: {block_user_agents: []}\n")
        run(t, "dialog_bucket_limited_apart", args.bin, fam, t_dialog_bucket_limited_apart,
            yaml_extra="security: {rate: 1, burst: 3, dialog_rate: 1, dialog_burst: 10}\n")
        lim = "security: {rate: 10, burst: 20}\n"
        run(t, "flood_limited_other_source_unharmed", args.bin, fam,
            t_flood_limited_other_source_unharmed, yaml_extra=lim)
        run(t, "ipv6_limited_by_64", args.bin, fam, t_ipv6_limited_by_64,
            listen_extra=", rate: 1, burst: 20")  # per listener, not the security section
        run(t, "responses_never_limited", args.bin, fam, t_responses_never_limited,
            yaml_extra="security: {rate: 1, burst: 2}\n")
        run(t, "trusted_never_limited", args.bin, fam, t_trusted_never_limited,
            yaml_extra="security: {rate: 1, burst: 5, trusted: [\"%s\"]}\n" % f["net_a"])
        run(t, "limit_503_answers_within_budget", args.bin, fam,
            t_limit_503_answers_within_budget,
            yaml_extra="security: {rate: 1, burst: 5, limit_503: true}\n")
        run(t, "answers_within_requests", args.bin, fam, t_answers_within_requests,
            yaml_extra="security: {answer_burst: 200, answer_rate: 0}\n")
        run(t, "default_budget_bounded", args.bin, fam, t_default_budget_bounded)
        run(t, "warning_only_where_it_fits", args.bin, fam, t_warning_only_where_it_fits)
        run(t, "overload_sheds_new_keeps_dialogs", args.bin, fam,
            t_overload_sheds_new_keeps_dialogs, yaml_extra="security: {overload_pct: 0}\n")
    t.run("spray_gives_no_free_pass", t_spray_gives_no_free_pass, args.bin)
    for io in ("uring", "mmsg"):
        t.run("overload_for_real_%s" % io, t_overload_for_real, args.bin, io)
    sys.exit(t.finish())


if __name__ == "__main__":
    main()
