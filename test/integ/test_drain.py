#!/usr/bin/env python3
"""test_drain.py - SIGTERM drains: not ready at once, forwarding on for shutdown.drain_seconds.

What a Kubernetes preStop and grace period, a systemd stop and `podman stop` rely on:
  - under load, no request sent during the drain window is lost (each one reaches a backend and
    its response comes back), and viaduct exits 0 about drain_seconds after the SIGTERM;
  - a second SIGTERM, SIGINT, and a drain of 0 stop at once;
  - SIGUSR1 and SIGHUP are still served while draining;
  - the setting comes from the flag, VIADUCT_SHUTDOWN_DRAIN_SECONDS and the file;
  - /readyz answers 503 as soon as the drain starts (when the binary has --admin), and so does
    an OPTIONS addressed to viaduct itself (the SIP ping of balancers), with Retry-After, while
    every other request is still forwarded.

    sh test/integ/run.sh build/san test/integ/test_drain.py
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Endpoint, Tally, check, dialog, netns_problem, parse,  # noqa: E402
                    parse_args, request, response, sanitizer_report, start_viaduct,
                    wait_port_free)

VD = ("127.0.0.1", 5260)
BACKENDS = (5270, 5271)
CLIENT = 5290
ADMIN = "127.0.0.1:18061"


class Backend:
    """Answers every request 200 through its Vias and records its Call-IDs."""

    def __init__(self, port):
        self.ep = Endpoint("127.0.0.1", port)
        self.seen = set()
        self.replied = {}  # Call-ID -> monotonic time its 200 left
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            r = self.ep.recv(0.05)
            if r is None:
                continue
            try:
                m = parse(r[0])
            except ValueError:
                continue
            if not m.is_request:
                continue
            self.seen.add(m.get("Call-ID"))
            hdrs = [(n, m.get(n)) for n in ("From", "To", "Call-ID", "CSeq")]
            self.ep.send(response(200, "OK", m.get_all("Via"), hdrs), r[1])
            self.replied.setdefault(m.get("Call-ID"), time.monotonic())

    def close(self):
        self.stop = True
        self.t.join(1)
        self.ep.close()


class Load:
    """Sends OPTIONS at a steady rate from one thread and collects the 200s in another."""

    def __init__(self, rate=400):
        self.ep = Endpoint("127.0.0.1", CLIENT)
        self.rate = rate
        self.sent = []  # (monotonic time, Call-ID)
        self.answered = set()
        self.stop = False
        self.n = 0
        self.tx = threading.Thread(target=self.send_loop, daemon=True)
        self.rx = threading.Thread(target=self.recv_loop, daemon=True)
        self.tx.start()
        self.rx.start()

    def send_loop(self):
        t0 = time.monotonic()
        while not self.stop:
            self.n += 1
            cid = "drain-%d@example.com" % self.n
            msg = request("OPTIONS", "sip:svc@example.com",
                          ["SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKdr%d;rport" % (CLIENT, self.n)],
                          dialog("OPTIONS", cid))
            self.sent.append((time.monotonic(), cid))
            self.ep.send(msg, VD)
            ahead = t0 + self.n / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    def recv_loop(self):
        while not self.stop:
            r = self.ep.recv(0.05)
            if r is None:
                continue
            try:
                m = parse(r[0])
            except ValueError:
                continue
            if m.status == 200:
                self.answered.add(m.get("Call-ID"))

    def halt(self, settle=0.5):
        self.stop = True
        self.tx.join(2)
        time.sleep(settle)  # the last responses are on their way
        self.rx.join(2)
        self.ep.close()


def start(binary, drain=None, extra=(), env=None):
    check(wait_port_free(*VD), "port %s:%d still taken" % VD)
    args = ["--listen", "%s:%d" % VD, "--workers", "2"]
    for p in BACKENDS:
        args += ["--backend", "127.0.0.1:%d" % p]
    if drain is not None:
        args += ["--drain-seconds", str(drain)]
    return start_viaduct(binary, args + list(extra), env=env)


def wait_exit(vd, timeout):
    """Seconds until the process exited (None if it did not within timeout) and its code."""
    t0 = time.monotonic()
    try:
        code = vd.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None, None
    return time.monotonic() - t0, code


def finish(vd):
    code, err = vd.stop()
    rep = sanitizer_report(err)
    check(rep is None, "sanitizer: %s" % rep)
    return code, err


def t_no_loss_in_the_drain_window(binary):
    drain = 2.0
    backends = [Backend(p) for p in BACKENDS]
    vd = start(binary, drain=int(drain))
    load = None
    try:
        load = Load()
        time.sleep(0.5)
        t_term = time.monotonic()
        os.kill(vd.pid, signal.SIGTERM)
        # the load goes on until the drain is nearly over; sends after that race the stop
        time.sleep(drain - 0.3)
        load.stop = True
        took, code = wait_exit(vd, drain + 5)
        t_exit = time.monotonic()
        if took is not None:
            took = t_exit - t_term
        load.halt(settle=0.0)
    finally:
        if load is not None and not load.stop:
            load.halt()
        for b in backends:
            b.close()
    code2, err = finish(vd)
    check(took is not None, "still running %.1f s after the drain; its log ends: %r" %
          (drain + 5, err[-800:]))
    check(code == 0, "exit status %r; log: %r" % (code, err[-400:]))
    arrived = set().union(*(b.seen for b in backends))
    before = [c for t, c in load.sent if t < t_term]
    window = [c for t, c in load.sent if t_term <= t < t_term + drain - 0.3]
    check(len(window) >= 300, "only %d requests sent in the drain window" % len(window))
    lost = [c for c in before + window if c not in arrived]
    check(not lost, "%d of %d requests sent before and during the drain did not arrive "
          "(%d of them in the window)" % (len(lost), len(before) + len(window),
                                          len([c for c in window if c not in arrived])))
    # a response the backend sent while viaduct still forwarded must come back; one sent in
    # the last 0.2 s (a backend slowed down by a busy machine) may meet a stopped viaduct
    replied = {}
    for b in backends:
        replied.update(b.replied)
    due = [c for c in window if c in replied and replied[c] < t_exit - 0.2]
    unanswered = [c for c in due if c not in load.answered]
    check(len(due) >= len(window) // 2, "the backends answered only %d of %d in time" %
          (len(due), len(window)))
    check(not unanswered, "%d of %d responses sent during the drain did not come back" %
          (len(unanswered), len(due)))
    print("# drain window: %d requests sent in %.1f s, all arrived, %d responses due and all "
          "came back; before it %d; exit %.2f s after SIGTERM" %
          (len(window), drain - 0.3, len(due), len(before), took), flush=True)
    check(drain - 0.1 <= took <= drain + 1.5, "exited %.2f s after SIGTERM, drain %.0f s" %
          (took, drain))
    check("draining for 2 s" in err and "drain over: stopping" in err,
          "the drain is not logged: %r" % err[-400:])


def t_second_sigterm_stops_at_once(binary):
    vd = start(binary, drain=30)
    os.kill(vd.pid, signal.SIGTERM)
    time.sleep(0.5)
    check(vd.alive(), "exited on the first SIGTERM with a 30 s drain")
    os.kill(vd.pid, signal.SIGTERM)
    took, code = wait_exit(vd, 5)
    _, err = finish(vd)
    check(took is not None and took < 1.5, "second SIGTERM: exit took %s s" % took)
    check(code == 0, "exit status %r" % code)
    check("SIGTERM while draining: stopping at once" in err, "not logged: %r" % err[-300:])


def t_sigint_stops_at_once(binary):
    vd = start(binary, drain=30)
    os.kill(vd.pid, signal.SIGINT)
    took, code = wait_exit(vd, 5)
    finish(vd)
    check(took is not None and took < 1.5, "SIGINT: exit took %s s" % took)
    check(code == 0, "exit status %r" % code)


def t_drain_zero_stops_at_once(binary):
    vd = start(binary, drain=0)
    os.kill(vd.pid, signal.SIGTERM)
    took, code = wait_exit(vd, 5)
    _, err = finish(vd)
    check(took is not None and took < 1.0, "drain 0: exit took %s s" % took)
    check(code == 0 and "draining" not in err, "exit status %r, log %r" % (code, err[-300:]))


def t_harness_default_stops_at_once(binary):
    """sipnet runs every other test file with a drain of 0: their stops stay fast."""
    vd = start(binary)
    code, _ = finish(vd)
    check(code == 0 and vd.stop_seconds < 1.0, "stop took %.2f s" % vd.stop_seconds)


def t_signals_served_while_draining(binary):
    vd = start(binary, drain=30)
    os.kill(vd.pid, signal.SIGTERM)
    time.sleep(0.2)
    c = vd.counters()
    check("rx_datagrams" in c or len(c) > 5, "no counters on SIGUSR1 while draining: %r" % c)
    os.kill(vd.pid, signal.SIGHUP)
    deadline = time.monotonic() + 3
    while "configuration reloaded" not in vd.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    check("configuration reloaded" in vd.stderr_text(), "SIGHUP not served while draining")
    os.kill(vd.pid, signal.SIGTERM)
    took, code = wait_exit(vd, 5)
    finish(vd)
    check(took is not None and code == 0, "exit %r after %s s" % (code, took))


def t_env_and_file_set_it(binary, tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
    for how, extra, e in (
            ("VIADUCT_SHUTDOWN_DRAIN_SECONDS", (), dict(env, VIADUCT_SHUTDOWN_DRAIN_SECONDS="1")),
            ("shutdown.drain_seconds", ("-c", os.path.join(tmp, "drain.yaml")), env)):
        with open(os.path.join(tmp, "drain.yaml"), "w") as f:
            f.write("shutdown: {drain_seconds: 1}\n")
        vd = start(binary, extra=extra, env=e)
        t0 = time.monotonic()
        os.kill(vd.pid, signal.SIGTERM)
        took, code = wait_exit(vd, 5)
        finish(vd)
        took = time.monotonic() - t0 if took is not None else None
        check(took is not None and 0.9 <= took <= 2.0 and code == 0,
              "%s=1: exit %r after %s s" % (how, code, took))


def readyz():
    try:
        with urllib.request.urlopen("http://%s/readyz" % ADMIN, timeout=1.0) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def t_readyz_503_while_draining(binary):
    backends = [Backend(p) for p in BACKENDS]
    try:
        vd = start(binary, drain=30, extra=("--admin", ADMIN))
        deadline = time.monotonic() + 3
        while readyz() != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        check(readyz() == 200, "/readyz before SIGTERM: %s" % readyz())
        os.kill(vd.pid, signal.SIGTERM)
        time.sleep(0.1)
        code = readyz()
        os.kill(vd.pid, signal.SIGTERM)
        wait_exit(vd, 5)
        finish(vd)
        check(code == 503, "/readyz 0.1 s after SIGTERM: want 503, got %s" % code)
    finally:
        for b in backends:
            b.close()


def ping(ep, target, n):
    """An OPTIONS to target (no user part: viaduct itself when target is its address) and the
    status of what comes back to ep within 1 s for that Call-ID (None: nothing)."""
    cid = "ping-%d@example.com" % n
    ep.send(request("OPTIONS", target,
                    ["SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKpg%d;rport" % (CLIENT, n)],
                    dialog("OPTIONS", cid)), VD)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        r = ep.recv(max(0.01, deadline - time.monotonic()))
        if r is None:
            break
        m = parse(r[0])
        if m.get("Call-ID") == cid:
            return m
    return None


def t_options_to_us_503_while_draining(binary):
    """The SIP keepalive of balancers and peers (an OPTIONS to viaduct itself) says 503 with
    Retry-After once the drain starts, while an OPTIONS for anyone else is still forwarded."""
    backends = [Backend(p) for p in BACKENDS]
    ep = Endpoint("127.0.0.1", CLIENT)
    vd = None
    try:
        vd = start(binary, drain=30)
        us = "sip:%s:%d" % VD
        m = ping(ep, us, 1)
        check(m is not None and m.status == 200, "ping before SIGTERM: %s" %
              (m and m.status))
        os.kill(vd.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        while "draining for 30 s" not in vd.stderr_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        # the workers see the flag at their next batch: the first ping after the log line
        # may still be answered 200 by a worker idle since before it
        got, n = [], 2
        while n < 12:
            m = ping(ep, us, n)
            n += 1
            got.append(m and m.status)
            if m is not None and m.status == 503:
                break
        check(m is not None and m.status == 503, "pings while draining: %s" % got)
        check(m.get("Retry-After") is not None, "the 503 has no Retry-After: %r" % m)
        # and it stays 503 from every worker: SO_REUSEPORT spreads the sources over them
        for k in range(6):
            other = Endpoint("127.0.0.1", CLIENT + 1 + k)
            try:
                cid = "ping-w%d@example.com" % k
                other.send(request("OPTIONS", us, ["SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKw%d"
                                                   % (CLIENT + 1 + k, k)],
                                   dialog("OPTIONS", cid)), VD)
                r = other.recv(1.0)
                check(r is not None and parse(r[0]).status == 503,
                      "a ping from port %d while draining: %s" %
                      (CLIENT + 1 + k, r and parse(r[0]).status))
            finally:
                other.close()
        # everything else is still forwarded, and its response comes back
        m = ping(ep, "sip:svc@example.com", 99)
        check(m is not None and m.status == 200, "an OPTIONS for a backend while draining: %s"
              % (m and m.status))
        check(any("ping-99@example.com" in b.seen for b in backends),
              "the OPTIONS for a backend did not reach one")
        c = vd.counters()
        check(c.get("local_503", 0) >= 7 and c.get("local_200", 0) >= 1,
              "local_503 %s, local_200 %s" % (c.get("local_503"), c.get("local_200")))
        os.kill(vd.pid, signal.SIGTERM)
        took, code = wait_exit(vd, 5)
        check(took is not None and code == 0, "exit %r after %s s" % (code, took))
    finally:
        ep.close()
        for b in backends:
            b.close()
        if vd is not None:
            finish(vd)


def main():
    args = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("private network namespace", lambda: check(False, why))
        return t.finish()
    h = subprocess.run([args.bin, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    t.run("no_loss_in_the_drain_window", t_no_loss_in_the_drain_window, args.bin)
    t.run("second_sigterm_stops_at_once", t_second_sigterm_stops_at_once, args.bin)
    t.run("sigint_stops_at_once", t_sigint_stops_at_once, args.bin)
    t.run("drain_zero_stops_at_once", t_drain_zero_stops_at_once, args.bin)
    t.run("harness_default_stops_at_once", t_harness_default_stops_at_once, args.bin)
    t.run("signals_served_while_draining", t_signals_served_while_draining, args.bin)
    t.run("options_to_us_503_while_draining", t_options_to_us_503_while_draining, args.bin)
    with tempfile.TemporaryDirectory() as tmp:
        t.run("env_and_file_set_it", t_env_and_file_set_it, args.bin, tmp)
    if "--admin" in h.stdout:
        t.run("readyz_503_while_draining", t_readyz_503_while_draining, args.bin)
    else:
        print("# waiting: this viaduct has no --admin: /readyz during the drain not checked")
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
