#!/usr/bin/env python3
"""
test_tcp.py - SIP over TCP through the real viaduct, inside run.sh's private namespace:

    client (TCP) -> viaduct tcp:127.0.0.1:5060 -> backend (UDP 127.0.0.1:5070)
                    viaduct 127.0.0.1:5060 (UDP) <- the backend's responses

viaduct runs with one worker unless said (two for `sipp -t tn`, where each worker sends a TCP
client's requests from a UDP port of its own, so their responses come back to it) and short
TCP limits from the environment, so that every limit is crossed within a second or two.

  sipp        `sipp -sn uac -t t1` over one TCP connection to viaduct, `sipp -sn uas` as
              the UDP backend: every call successful, every request forwarded, every
              response back on the client's connection; then `-t tn` (a connection per
              call) through 2 workers: all successful, tcp_other_worker 0
  forward     a request over TCP reaches the backend with our Via (UDP, ;vtc=) on top and
              the client's Via marked received/rport; the response comes back on the
              connection without our Via; requests that arrive split byte by byte and two
              pipelined in one write are forwarded whole; a local answer (483) goes on the
              connection too; a CRLF CRLF ping gets a CRLF pong
  ipv6        the same request and response over tcp:[::1]:5060
  token       two clients on one IP: a response whose ;vtc= was changed from A's connection
              to B's is dropped (drop_forged_via), B gets nothing; the genuine ones arrive
  family      2 workers, UDP on both families, an IPv4 TCP client, an IPv6 backend: 16
              connections, every response back on its own (tcp_other_worker 0), the
              requests sent from each worker's own IPv6 port
  denied      security.deny naming the client: its connection is closed at accept
              (tcp_refused_acl), never accepted
  closed      the client hangs up before the response: it is dropped, tcp_conn_gone +1
  bad input   each with a bounded, counted outcome, while a UDP client's requests through
              the same viaduct are all answered:
                - no Content-Length: answered 400 and closed (tcp_closed_framing,
                  parse_error_no_clen); a Content-Length over max_message: 513, closed
                - slow loris (a header byte every 100 ms): closed after
                  tcp.message_timeout_ms, tcp_closed_slow
                - a header block that never ends (fast): closed at max_message,
                  parse_error_hdr_too_big
                - a Content-Length that lies (more than is sent): nothing forwarded, closed
                  by the message timeout
                - 40 connections from one source: tcp.max_per_source served, the rest
                  closed at accept (tcp_refused_source), served ones still work
                - an idle connection: closed after tcp.idle_timeout_ms (tcp_closed_idle)
  refused     --io mmsg with a tcp listener: exit 1 and a message saying io_uring is needed

Every process is started here and stopped by PID; every loop is bounded in count and time.
Prints "ok NAME" / "FAIL NAME: why", then "N passed, M failed".
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sipnet  # noqa: E402
import test_sipp  # noqa: E402  (its Sipp process wrapper)

PX = ("127.0.0.1", 5060)
BE = ("127.0.0.1", 5070)
UDP_CLIENT = ("127.0.0.1", 5090)
SIPP_CALLS = int(os.environ.get("SIPP_TCP_CALLS", "500"))
LIMITS = {
    "VIADUCT_TCP_MAX_PER_SOURCE": "8",
    "VIADUCT_TCP_MESSAGE_TIMEOUT_MS": "600",
    "VIADUCT_TCP_IDLE_TIMEOUT_MS": "1500",
    "VIADUCT_MAX_MESSAGE": "4096",
    "VIADUCT_TCP_BUFFER": "8192",
}


def bin_path():
    return test_sipp.binary_path()


def start(env_extra=None, args=()):
    env = dict(os.environ)
    env["VIADUCT_SHUTDOWN_DRAIN_SECONDS"] = "0"
    env.update(LIMITS)
    env.update(env_extra or {})
    return sipnet.start_viaduct(bin_path(), [
        "--listen", "%s:%d" % PX, "--listen", "tcp:%s:%d" % PX,
        "--backend", "%s:%d" % BE, "--workers", "1"] + list(args), env=env)


def stop(vd, problems):
    code, err = vd.stop()
    if code != 0:
        problems.append("viaduct exited %r on SIGTERM" % (code,))
    rep = sipnet.sanitizer_report(err)
    if rep:
        problems.append("sanitizer: " + rep)


def options(call_id, via, cseq=1):
    return sipnet.request("OPTIONS", "sip:bob@127.0.0.1", [via],
                          sipnet.dialog("OPTIONS", call_id, cseq))


def answer(data):
    """A 200 for the request data, Vias copied (what a backend does)."""
    m = sipnet.parse(data)
    return sipnet.response(200, "OK", m.get_all("via"), [
        ("From", m.get("from")), ("To", m.get("to") + ";tag=be"),
        ("Call-ID", m.get("call-id")), ("CSeq", m.get("cseq"))])


class Backend:
    """A UDP backend answering every request 200 on its own thread; counts what it saw."""

    def __init__(self, reply=True):
        self.ep = sipnet.Endpoint(*BE)
        self.reply = reply
        self.seen = []
        self.peers = []
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        while not self.stop_ev.is_set():
            got = self.ep.recv(0.1)
            if got is None:
                continue
            data, addr = got
            if data.startswith(b"SIP/2.0"):
                continue
            self.seen.append(data)
            self.peers.append(addr)
            if self.reply:
                self.ep.send(answer(data), addr)

    def wait_seen(self, n, timeout=2.0):
        deadline = time.monotonic() + timeout
        while len(self.seen) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.seen)

    def close(self):
        self.stop_ev.set()
        self.th.join(2)
        self.ep.close()


def tcp_client(timeout=2.0):
    c = socket.create_connection(PX, timeout=timeout)
    c.settimeout(timeout)
    return c


_pending = {}  # bytes read past the last message, per socket


def recv_msg(c, timeout=2.0):
    """One SIP message from a stream (by Content-Length), or None; what was read past it
    is kept for the next call on the same socket."""
    buf = _pending.pop(c.fileno(), b"")
    deadline = time.monotonic() + timeout
    while True:
        i = buf.find(b"\r\n\r\n")
        if i >= 0:
            m = sipnet.parse(buf[:i + 4])
            n = int(m.get("content-length") or 0)
            if len(buf) >= i + 4 + n:
                if len(buf) > i + 4 + n:
                    _pending[c.fileno()] = buf[i + 4 + n:]
                return buf[:i + 4 + n]
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        c.settimeout(left)
        try:
            d = c.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return None
        if not d:
            return None
        buf += d


def closed_by_server(c, timeout=3.0):
    """True once the server has closed c (EOF or reset) within timeout."""
    c.settimeout(0.1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            d = c.recv(65536)
            if not d:
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def client_via(c, branch):
    ip, port = c.getsockname()
    return "SIP/2.0/TCP %s:%d;branch=z9hG4bK%s" % (ip, port, branch)


class UdpProbe:
    """A UDP client sending OPTIONS through viaduct on a thread while bad input goes on:
    every one must be answered (the backend replies to all)."""

    def __init__(self):
        self.ep = sipnet.Endpoint(*UDP_CLIENT)
        self.sent = self.answered = 0
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        while not self.stop_ev.is_set() and self.sent < 2000:
            self.sent += 1
            via = "SIP/2.0/UDP %s:%d;branch=z9hG4bKudp%d" % (UDP_CLIENT + (self.sent,))
            self.ep.send(options("udp-%d" % self.sent, via), PX)
            got = self.ep.recv(1.0)
            if got is not None and got[0].startswith(b"SIP/2.0 200"):
                self.answered += 1
            time.sleep(0.01)

    def finish(self):
        self.stop_ev.set()
        self.th.join(3)
        self.ep.close()
        return self.sent, self.answered


def test_forward():
    problems = []
    be = Backend()
    vd = start()
    try:
        c = tcp_client()
        c.sendall(options("fwd-1", client_via(c, "a1")))
        check_n = be.wait_seen(1)
        sipnet.check(check_n == 1, "the backend saw %d requests, want 1" % check_n)
        m = sipnet.parse(be.seen[0])
        vias = m.get_all("via")
        # UDP, from the worker's own port (not the shared 5060), with the connection's token
        via_port = int(vias[0].split(";")[0].rsplit(":", 1)[1]) if ":" in vias[0] else 0
        sipnet.check(vias[0].startswith("SIP/2.0/UDP 127.0.0.1:") and ";vtc=" in vias[0] and
                     via_port != PX[1] and be.peers[0] == ("127.0.0.1", via_port),
                     "our Via is %r (sent from %r), want UDP from the worker's own port with "
                     ";vtc=" % (vias[0], be.peers[0]))
        sipnet.check(len(vias) == 2 and vias[1].startswith("SIP/2.0/TCP"),
                     "the client's Via is not second: %r" % vias)
        resp = recv_msg(c)
        sipnet.check(resp is not None and resp.startswith(b"SIP/2.0 200"),
                     "no 200 on the connection: %r" % resp)
        rv = sipnet.parse(resp).get_all("via")
        sipnet.check(len(rv) == 1 and rv[0].startswith("SIP/2.0/TCP"),
                     "the response's Vias: %r" % rv)
        # byte by byte, then two pipelined in one write
        req = options("fwd-2", client_via(c, "a2"), 2)
        for i in range(len(req)):
            c.sendall(req[i:i + 1])
            if i % 64 == 0:
                time.sleep(0.002)
        sipnet.check(recv_msg(c) is not None, "no response to the request sent byte by byte")
        c.sendall(options("fwd-3", client_via(c, "a3"), 3) + options("fwd-4", client_via(c, "a4"), 4))
        r3, r4 = recv_msg(c), recv_msg(c)
        sipnet.check(r3 is not None and r4 is not None, "pipelined: %r, %r" % (r3, r4))
        sipnet.check(be.wait_seen(4) == 4, "the backend saw %d, want 4" % len(be.seen))
        # a local answer (483 for Max-Forwards 0) goes back on the connection too
        c.sendall(sipnet.request("OPTIONS", "sip:bob@127.0.0.1", [client_via(c, "a5")],
                                 sipnet.dialog("OPTIONS", "fwd-5", 5, max_forwards=0)))
        r5 = recv_msg(c)
        sipnet.check(r5 is not None and r5.startswith(b"SIP/2.0 483"),
                     "Max-Forwards 0 over TCP: answered %r, want 483" % (r5 or b"")[:40])
        c.sendall(b"\r\n\r\n")
        c.settimeout(2)
        pong = c.recv(16)
        sipnet.check(pong == b"\r\n", "ping answered %r, want a CRLF" % pong)
        c.close()
        cn = vd.counters()
        for k, want in (("tcp_accepted", 1), ("tcp_messages", 5), ("tcp_pings", 1),
                        ("fwd_requests", 4), ("fwd_responses", 4), ("local_483", 1),
                        ("tx_lost", 0)):
            if cn.get(k) != want:
                problems.append("%s is %r, want %d" % (k, cn.get(k), want))
    finally:
        be.close()
        stop(vd, problems)
    if problems:
        raise sipnet.Failure("; ".join(problems))


def test_ipv6():
    """The same over IPv6: tcp:[::1]:5060 to a backend on [::1]."""
    problems = []
    env = dict(os.environ, VIADUCT_SHUTDOWN_DRAIN_SECONDS="0")
    vd = sipnet.start_viaduct(bin_path(), ["--listen", "[::1]:5060", "--listen", "tcp:[::1]:5060",
                                           "--backend", "[::1]:5070", "--workers", "1"], env=env)
    be = sipnet.Endpoint("::1", 5070)
    try:
        c = socket.create_connection(("::1", 5060), timeout=2)
        ip, port = c.getsockname()[:2]
        c.sendall(options("v6-1", "SIP/2.0/TCP [%s]:%d;branch=z9hG4bKv6" % (ip, port)))
        got = be.recv(2)
        sipnet.check(got is not None, "the backend got nothing")
        top = sipnet.parse(got[0]).get_all("via")[0]
        sipnet.check(top.startswith("SIP/2.0/UDP [::1]:") and ";vtc=" in top, "our Via: %r" % top)
        be.send(answer(got[0]), got[1])
        r = recv_msg(c)
        sipnet.check(r is not None and r.startswith(b"SIP/2.0 200"), "no 200 on the connection")
        c.close()
    finally:
        be.close()
        stop(vd, problems)
    if problems:
        raise sipnet.Failure("; ".join(problems))


def vtc_of(data):
    """The ;vtc=... parameter of the top Via of a request viaduct forwarded."""
    top = sipnet.parse(data).get_all("via")[0]
    i = top.find(";vtc=")
    return top[i:i + 5 + 18] if i >= 0 else None


def test_forged_token():
    """Two clients on one IP: the response to A's request with its ;vtc= changed to name B's
    connection fails the Via tag (drop_forged_via) and B gets nothing; before the fix the tag
    left the token out, and the engine checked only that B's peer had the destination's IP.
    The genuine responses still reach A and B."""
    problems = []
    be = sipnet.Endpoint(*BE)
    vd = start()
    a = b = None
    try:
        a, b = tcp_client(), tcp_client()
        a.sendall(options("tok-a", client_via(a, "ta")))
        got_a = be.recv(2)
        b.sendall(options("tok-b", client_via(b, "tb")))
        got_b = be.recv(2)
        sipnet.check(got_a is not None and got_b is not None, "the backend got %r, %r" % (
            got_a is not None, got_b is not None))
        va, vb = vtc_of(got_a[0]), vtc_of(got_b[0])
        sipnet.check(va and vb and va != vb, "tokens %r, %r" % (va, vb))
        be.send(answer(got_a[0]).replace(va.encode(), vb.encode()), got_a[1])
        if vd.wait_counter("drop_forged_via", 1) != 1:
            problems.append("drop_forged_via is %r, want 1" % vd.counters().get("drop_forged_via"))
        r = recv_msg(b, 0.5)
        if r is not None:
            problems.append("B got the response to A's request: %r" % r[:60])
        be.send(answer(got_a[0]), got_a[1])
        ra = recv_msg(a)
        if ra is None or not ra.startswith(b"SIP/2.0 200") or b"tok-a" not in ra:
            problems.append("A's genuine response: %r" % (ra or b"")[:60])
        be.send(answer(got_b[0]), got_b[1])
        rb = recv_msg(b)
        if rb is None or not rb.startswith(b"SIP/2.0 200") or b"tok-b" not in rb:
            problems.append("B's genuine response: %r" % (rb or b"")[:60])
        cn = vd.counters()
        if cn.get("fwd_responses") != 2:
            problems.append("fwd_responses is %r, want 2" % cn.get("fwd_responses"))
    finally:
        for c in (a, b):
            if c is not None:
                c.close()
        be.close()
        stop(vd, problems)
    if problems:
        raise sipnet.Failure("; ".join(problems))


def test_other_family():
    """Two workers, UDP listeners of both families, an IPv4 TCP client, an IPv6-only
    backend: each worker sends its TCP clients' requests from a socket of its own of the
    backend's family, so every response comes back to the worker holding the connection.
    Before the fix the worker's own socket existed for listen[0]'s family only: the requests
    left from the shared [::1]:5060, whose responses the kernel gives to one worker, and the
    other worker's clients got none (tcp_other_worker)."""
    problems = []
    env = dict(os.environ, VIADUCT_SHUTDOWN_DRAIN_SECONDS="0")
    env.update(LIMITS)
    vd = sipnet.start_viaduct(bin_path(), [
        "--listen", "%s:%d" % PX, "--listen", "[::1]:5060", "--listen", "tcp:%s:%d" % PX,
        "--backend", "[::1]:5070", "--workers", "2"], env=env)
    be = sipnet.Endpoint("::1", 5070)
    n, answered, peers = 16, 0, set()
    try:
        for i in range(n):
            c = tcp_client()
            try:
                c.sendall(options("fam-%d" % i, client_via(c, "fam%d" % i)))
                got = be.recv(2)
                if got is None:
                    problems.append("request %d did not reach the backend" % i)
                    continue
                peers.add(got[1][:2])
                be.send(answer(got[0]), got[1])
                r = recv_msg(c)
                if r is not None and r.startswith(b"SIP/2.0 200"):
                    answered += 1
            finally:
                c.close()
        print("# %d of %d answered, sent from %s" % (answered, n, sorted(peers)), flush=True)
        if answered != n:
            problems.append("%d of %d TCP requests answered" % (answered, n))
        cn = vd.counters()
        if cn.get("tcp_other_worker", 0):
            problems.append("tcp_other_worker is %d" % cn["tcp_other_worker"])
        if len(peers) != 2 or ("::1", 5060) in peers:
            problems.append("requests left from %s, want each worker's own port" % sorted(peers))
    finally:
        be.close()
        stop(vd, problems)
    if problems:
        raise sipnet.Failure("; ".join(problems))


def test_denied_at_accept():
    """security.deny naming the client: its TCP connection is closed at accept
    (tcp_refused_acl), before a buffer is allocated for it; before the fix the lists were
    checked per message only, and the connection stayed open, holding a slot and a buffer."""
    problems = []
    vd = start(env_extra={"VIADUCT_SECURITY_DENY": "127.0.0.1"})
    try:
        c = tcp_client()
        if not closed_by_server(c, 1.0):  # at once, not by the 1.5 s idle timeout
            problems.append("the denied client's connection stayed open")
        c.close()
        if vd.wait_counter("tcp_refused_acl", 1) != 1:
            problems.append("tcp_refused_acl is %r, want 1" % vd.counters().get("tcp_refused_acl"))
        cn = vd.counters()
        if cn.get("tcp_accepted", 0) != 0:
            problems.append("tcp_accepted is %r, want 0" % cn.get("tcp_accepted"))
    finally:
        stop(vd, problems)
    if problems:
        raise sipnet.Failure("; ".join(problems))


def test_closed_connection():
    problems = []
    be = Backend(reply=False)
    vd = start()
    try:
        c = tcp_client()
        c.sendall(options("gone-1", client_via(c, "g1")))
        sipnet.check(be.wait_seen(1) == 1, "the backend saw nothing")
        c.close()
        sipnet.check(vd.wait_counter("tcp_closed_peer", 1) == 1, "the close was not seen")
        data = be.seen[0]
        be.ep.send(answer(data), PX)
        got = vd.wait_counter("tcp_conn_gone", 1)
        if got != 1:
            problems.append("tcp_conn_gone is %r, want 1" % got)
        cn = vd.counters()
        if cn.get("fwd_responses", 0) != 1 or cn.get("tx_lost", 0) != 0:
            problems.append("fwd_responses %r, tx_lost %r" % (cn.get("fwd_responses"),
                                                              cn.get("tx_lost")))
    finally:
        be.close()
        stop(vd, problems)
    if problems:
        raise sipnet.Failure("; ".join(problems))


def test_bad_input():
    problems = []
    be = Backend()
    vd = start()
    probe = None
    socks = []
    try:
        probe = UdpProbe()
        t0 = time.monotonic()
        # no Content-Length
        c = tcp_client()
        c.sendall(sipnet.request("OPTIONS", "sip:bob@127.0.0.1", [client_via(c, "n1")],
                                 sipnet.dialog("OPTIONS", "noclen"), content_length=False))
        r = recv_msg(c)
        if r is None or not r.startswith(b"SIP/2.0 400"):
            problems.append("no Content-Length: answered %r, want 400" % (r or b"")[:40])
        if not closed_by_server(c):
            problems.append("no Content-Length: the connection stayed open")
        c.close()
        # a Content-Length over max_message: 513, closed
        big = tcp_client()
        big.sendall(sipnet.request("OPTIONS", "sip:bob@127.0.0.1", [client_via(big, "b1")],
                                   sipnet.dialog("OPTIONS", "big"), content_length=False)
                    [:-2] + b"Content-Length: 100000\r\n\r\n")
        r = recv_msg(big)
        if r is None or not r.startswith(b"SIP/2.0 513"):
            problems.append("Content-Length over max_message: answered %r, want 513" %
                            (r or b"")[:40])
        if not closed_by_server(big):
            problems.append("Content-Length over max_message: the connection stayed open")
        big.close()
        # slow loris: a header byte every 100 ms
        slow = tcp_client()
        req = options("slow", client_via(slow, "s1"))
        ts = time.monotonic()
        closed = False
        for i in range(40):  # at most 4 s
            try:
                slow.sendall(req[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.1)
            if vd.counters().get("tcp_closed_slow", 0) >= 1:
                closed = True
                break
        took = time.monotonic() - ts
        if not closed:
            problems.append("slow loris: not closed in 4 s")
        elif took > 2.0:
            problems.append("slow loris: closed after %.1f s, want ~0.6" % took)
        slow.close()
        # a header block that never ends, sent fast
        endless = tcp_client()
        endless.sendall(b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n")
        sent = 0
        try:
            for i in range(2000):  # at most 2000 lines, ~60 kB
                endless.sendall(b"X-Filler-%06d: aaaaaaaaaaaaaaaa\r\n" % i)
                sent += 1
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not closed_by_server(endless):
            problems.append("endless header block: not closed")
        endless.close()
        # a lying Content-Length: 1000 announced, 10 sent
        liar = tcp_client()
        liar.sendall(sipnet.request("OPTIONS", "sip:bob@127.0.0.1", [client_via(liar, "l1")],
                                    sipnet.dialog("OPTIONS", "liar"), content_length=False)
                     [:-2] + b"Content-Length: 1000\r\n\r\n0123456789")
        if not closed_by_server(liar):
            problems.append("lying Content-Length: not closed by the message timeout")
        liar.close()
        # a flood of connections from one source
        for i in range(40):
            try:
                socks.append(tcp_client(1.0))
            except OSError:
                break
        served = 0
        for k, s in enumerate(socks):  # the refused ones answer EOF or a reset at once
            try:
                s.sendall(options("flood-%d" % k, client_via(s, "f%d" % k)))
                if recv_msg(s, 0.5) is not None:
                    served += 1
            except OSError:
                pass
        flood = len(socks)
        refused = flood - served
        if served != 8:
            problems.append("flood of %d: %d served, %d refused; want 8 served" %
                            (flood, served, refused))
        for s in socks:
            s.close()
        socks = []
        # idle: a connection that sends nothing is closed after tcp.idle_timeout_ms
        idle = tcp_client()
        ti = time.monotonic()
        if not closed_by_server(idle, 4.0):
            problems.append("idle: not closed in 4 s")
        elif not 1.0 <= time.monotonic() - ti <= 3.0:
            problems.append("idle: closed after %.1f s, want ~1.5" % (time.monotonic() - ti))
        idle.close()
        elapsed = time.monotonic() - t0
        sent_udp, answered = probe.finish()
        probe = None
        print("# udp during bad input: %d sent, %d answered over %.1f s" % (
            sent_udp, answered, elapsed), flush=True)
        if sent_udp < 50 or answered != sent_udp:
            problems.append("UDP during bad input: %d of %d answered" % (answered, sent_udp))
        cn = vd.counters()
        print("# viaduct: " + ", ".join("%s %d" % (k, v) for k, v in sorted(cn.items())
                                        if k.startswith("tcp_") and v), flush=True)
        want = {"tcp_closed_framing": 3, "parse_error_no_clen": 1, "parse_error_hdr_too_big": 1,
                "parse_error_msg_too_big": 1, "local_400": 1, "local_513": 1,
                "tcp_closed_slow": 2, "tcp_refused_source": flood - 8, "tcp_closed_idle": 1}
        for k, v in want.items():
            if cn.get(k) != v:
                problems.append("%s is %r, want %d" % (k, cn.get(k), v))
        # the liar's 10 bytes and the loris's headers were never forwarded
        for m in be.seen:
            if b"Call-ID: liar" in m or b"Call-ID: slow" in m or b"Call-ID: noclen" in m:
                problems.append("forwarded a broken message: %r" % m[:80])
    finally:
        if probe is not None:
            probe.finish()
        for s in socks:
            s.close()
        be.close()
        stop(vd, problems)
    if problems:
        raise sipnet.Failure("; ".join(problems))


def test_refused_with_recvmmsg():
    p = subprocess.run([bin_path(), "--listen", "127.0.0.1:5060", "--listen",
                        "tcp:127.0.0.1:5060", "--backend", "%s:%d" % BE, "--io", "mmsg",
                        "--admin", "off"], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=10)
    err = p.stderr.decode("latin-1")
    sipnet.check(p.returncode == 1, "exit %d, want 1" % p.returncode)
    sipnet.check("a tcp listener needs the io_uring engine" in err, "stderr: %r" % err)


def test_sipp_tcp(workers=1, mode="t1"):
    problems = []
    work = tempfile.mkdtemp(prefix="sipp-tcp-")
    # a connection per call (tn): no per-source limit, and SIPp may open that many
    vd = start(env_extra={"VIADUCT_TCP_MAX_PER_SOURCE": "0"} if mode == "tn" else None,
               args=["--workers", str(workers)])
    uas = uac = None
    try:
        uas = test_sipp.Sipp("tcp-uas", ["-sn", "uas", "-i", BE[0], "-p", str(BE[1]),
                                         "-mp", "16000"], work)
        time.sleep(0.3)
        sipnet.check(uas.proc.poll() is None, "the UAS exited at start: " + uas.output_tail(400))
        c0 = vd.counters()
        t0 = time.monotonic()
        uac = test_sipp.Sipp("tcp-uac", ["-sn", "uac", "-t", mode, "%s:%d" % PX, "-i", "127.0.0.1",
                                         "-p", "5080", "-mp", "17000", "-m", str(SIPP_CALLS),
                                         "-r", "100", "-rp", "1000", "-timeout", "50s",
                                         "-timeout_error"] +
                             (["-max_socket", "1000"] if mode == "tn" else []), work)
        rc = uac.wait(60)
        took = time.monotonic() - t0
        c1 = vd.counters()
        st = uac.stats()
        ok_calls = test_sipp.num(st, "SuccessfulCall(C)")
        failed = test_sipp.num(st, "FailedCall(C)")
        moved = {k: c1.get(k, 0) - c0.get(k, 0) for k in c1}
        print("# sipp -t %s, %d workers: exit %s after %.1f s, %d successful, %d failed" % (
            mode, workers, rc, took, ok_calls, failed), flush=True)
        print("# viaduct: " + ", ".join("%s +%d" % (k, v) for k, v in sorted(moved.items())
                                        if v), flush=True)
        if rc != 0:
            problems.append("the UAC exited %r" % (rc,))
        if ok_calls != SIPP_CALLS or failed:
            problems.append("%d successful, %d failed, want %d" % (ok_calls, failed, SIPP_CALLS))
        want_conns = 1 if mode == "t1" else SIPP_CALLS
        if moved.get("tcp_accepted", 0) != want_conns:
            problems.append("tcp_accepted +%d, want %d" % (moved.get("tcp_accepted", 0),
                                                           want_conns))
        if moved.get("fwd_requests", 0) != moved.get("tcp_messages", 0):
            problems.append("%d TCP messages, %d forwarded" % (moved.get("tcp_messages", 0),
                                                               moved.get("fwd_requests", 0)))
        if moved.get("fwd_responses", 0) != moved.get("rx_responses", 0):
            problems.append("%d responses received, %d forwarded" % (
                moved.get("rx_responses", 0), moved.get("fwd_responses", 0)))
        for k in ("tcp_conn_gone", "tcp_other_worker", "tx_lost", "local_400", "local_513"):
            if moved.get(k, 0):
                problems.append("%s +%d" % (k, moved[k]))
        if problems:
            problems.append("uac said: " + uac.output_tail(600).strip().replace("\n", " | "))
    finally:
        for p in (uac, uas):
            if p is not None:
                p.kill()
        stop(vd, problems)
        if not problems:
            shutil.rmtree(work, ignore_errors=True)
        else:
            problems.append("files kept in " + work)
    if problems:
        raise sipnet.Failure("; ".join(problems))


def main():
    t = sipnet.Tally()
    t.run("tcp: a request over TCP reaches the UDP backend, its response comes back on the "
          "connection; split, pipelined, ping", test_forward)
    t.run("tcp: over IPv6, tcp:[::1]:5060 to a backend on [::1]", test_ipv6)
    t.run("tcp: a response whose ;vtc= names another client's connection on the same IP fails "
          "the Via tag, the genuine ones are delivered", test_forged_token)
    t.run("tcp: 2 workers, an IPv4 TCP client, an IPv6 backend: every response comes back to "
          "the worker holding the connection", test_other_family)
    t.run("tcp: a source security.deny names is closed at accept", test_denied_at_accept)
    t.run("tcp: a response for a connection that has closed is dropped and counted",
          test_closed_connection)
    t.run("tcp: no Content-Length, slow loris, endless header block, lying Content-Length, "
          "a flood from one source, an idle connection: each bounded and counted, UDP "
          "answered throughout", test_bad_input)
    t.run("tcp: --io mmsg with a tcp listener is a config error", test_refused_with_recvmmsg)
    if shutil.which("sipp") is None:
        print("FAIL sipp over TCP: sipp not installed (Debian sip-tester; test/deps.sh)")
        t.failed += 1
    else:
        t.run("tcp: sipp -t t1, %d calls over one TCP connection to a UDP sipp uas, all "
              "successful" % SIPP_CALLS, test_sipp_tcp)
        t.run("tcp: sipp -t tn, 2 workers, %d calls each on a connection of its own (the "
              "kernel spreads them), all successful, no response at the wrong worker" % SIPP_CALLS,
              test_sipp_tcp, 2, "tn")
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
