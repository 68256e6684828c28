#!/usr/bin/env python3
"""test_admin_edges.py - the management API's edges (issue 12) that test_admin.py leaves out.

    sh test/integ/run.sh build/san test/integ/test_admin_edges.py

  - the token from VIADUCT_ADMIN_TOKEN, and from admin.token_file in the file, read at each
    request (a new token works at once, without a reload);
  - without a token, every POST endpoint on a listener that is not loopback is refused 403
    and changes nothing;
  - every endpoint's bad requests, table-driven: each other method 405 with the right Allow,
    HEAD of a GET endpoint 200, unknown paths 404, a missing token 401, a wrong one 403, a
    body over 4096 bytes 413 whether announced (Content-Length) or chunked;
  - /healthz answers 503 naming the worker when one passes no quiescent point for 2 s, and
    200 again once it runs: the worker thread alone is stopped with ptrace (PTRACE_SEIZE and
    PTRACE_INTERRUPT stop one thread, where SIGSTOP would stop the whole process and the
    management thread with it), told from the others by its pinning to one CPU;
  - nothing configured: the API is on 127.0.0.1:8060; off (VIADUCT_ADMIN_LISTEN or --admin,
    the flag beating the variable): nothing listens;
  - bounded: 32 connections at once (a 33rd waits), idle ones closed after 5 s, a request
    head over 32 KB refused 431, and the API answers after each;
  - overload shedding visible in /metrics (drops by reason, episodes, the 503s);
  - responses whose send-time parameter is mangled, ahead or over 30 s old are relayed,
    counted (viaduct_latency_implausible_total) and kept out of the latency histogram;
  - the per-backend series hold the right values: requests, responses by class, ICMP
    errors, state, the probe round trip, and transitions by cause summing to the total;
  - /readyz counts the pools a request can reach only (not one no rule names, not the
    default pool behind a catch-all rule); a backend named by an IPv6 address takes its
    override at /backends/POOL/[::1]:PORT/ACTION;
  - /config is YAML viaduct reads back: for every test/data file, --check of it prints it
    unchanged;
  - a reload while the worker is stuck takes effect after 2 s, keeping the old generation
    (no use after free under ASan, no leak at exit), and the worker then forwards by the new;
    meanwhile /readyz, /healthz, /metrics, /backends and /config answer within 0.3 s (a
    Kubernetes probe's default timeout is 1 s), reporting the generation still running.
"""

import re
import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Endpoint, Tally, check, dialog, netns_problem, parse,  # noqa: E402
                    parse_args, request, resume_thread, response, sanitizer_report,
                    start_viaduct, stop_thread, worker_threads)

OFF_LO = ("192.0.2.1", 18063)   # not loopback: POSTs need a token
LO = ("127.0.0.1", 18064)
BACKEND = ("127.0.0.1", 7410)
LISTEN = ("127.0.0.1", 5460)
CLIENT = ("127.0.0.1", 7411)
PROBE_S = 0.3  # a read-only endpoint answers within this, even while a reload waits


def api(method, path, addr, body=None, headers=None, timeout=5.0):
    c = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace"), dict(r.getheaders())
    finally:
        c.close()


def env_of(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
    env["VIADUCT_SHUTDOWN_DRAIN_SECONDS"] = "0"
    env.update(extra)
    return env


def start(binary, args, env, addr):
    vd = start_viaduct(binary, args, env=env)
    deadline = time.monotonic() + 5
    while "management API on" not in vd.stderr_text():
        if time.monotonic() > deadline or not vd.alive():
            vd.stop()
            raise AssertionError("no management API:\n" + vd.stderr_text()[-1000:])
        time.sleep(0.01)
    return vd


def logged(vd, text, timeout=5.0):
    """True once text is in viaduct's stderr: a line logged before an answer may reach the
    harness's reader thread after it, on a loaded machine."""
    deadline = time.monotonic() + timeout
    while text not in vd.stderr_text():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def finish(vd):
    code, err = vd.stop()
    rep = sanitizer_report(err)
    check(code == 0 and rep is None, "exit %r, sanitizer: %s\n%s" % (code, rep, err[-1000:]))
    return err


def bearer(tok):
    return {"Authorization": "Bearer %s" % tok}


def state_of(addr, name="127.0.0.1:7410"):
    code, body, _ = api("GET", "/backends", addr)
    check(code == 200, "/backends: %d" % code)
    for p in json.loads(body)["pools"]:
        for b in p["backends"]:
            if b["name"] == name:
                return b["state"], b["override"]
    raise AssertionError("no backend %s: %s" % (name, body))


def t_token_from_the_environment(binary, tmp):
    vd = start(binary, ["--backend", "%s:%d" % BACKEND],
               env_of(VIADUCT_ADMIN_TOKEN="env-token-0123", VIADUCT_ADMIN_LISTEN="%s:%d" % OFF_LO),
               OFF_LO)
    try:
        check("management API on http://192.0.2.1:18063/ (POST with a bearer token)" in
              vd.stderr_text(), vd.stderr_text()[-600:])
        code, _, hdrs = api("POST", "/reload", OFF_LO)
        check(code == 401 and "Bearer" in hdrs.get("WWW-Authenticate", ""), "no token: %d" % code)
        code, _, _ = api("POST", "/reload", OFF_LO, headers=bearer("env-token-012"))
        check(code == 403, "a prefix of the token: %d" % code)
        code, _, _ = api("POST", "/reload", OFF_LO, headers=bearer("env-token-01234"))
        check(code == 403, "the token and more: %d" % code)
        code, body, _ = api("POST", "/backends/default/127.0.0.1:7410/drain", OFF_LO,
                            headers=bearer("env-token-0123"))
        check(code == 200 and json.loads(body)["state"] == "draining", "drain: %d %s" %
              (code, body))
        code, body, _ = api("POST", "/reload", OFF_LO, headers=bearer("env-token-0123"))
        check(code == 200 and "generation 2" in body, "reload: %d %s" % (code, body))
    finally:
        finish(vd)


def t_token_file_in_the_file_read_at_each_request(binary, tmp):
    tok = os.path.join(tmp, "admin-token")
    with open(tok, "w") as f:
        f.write("first-token\n")
    cfg = os.path.join(tmp, "admin.yaml")
    with open(cfg, "w") as f:
        f.write("admin: {listen: \"%s:%d\", token_file: \"%s\"}\n" % (OFF_LO + (tok,)))
    # sipnet turns the API off unless a flag or the environment names its listener: the
    # variable repeats the file's
    vd = start(binary, ["-c", cfg, "--backend", "%s:%d" % BACKEND],
               env_of(VIADUCT_ADMIN_LISTEN="%s:%d" % OFF_LO), OFF_LO)
    try:
        code, _, _ = api("POST", "/reload", OFF_LO, headers=bearer("first-token"))
        check(code == 200, "the file's token: %d" % code)
        with open(tok, "w") as f:
            f.write("second-token")
        code, _, _ = api("POST", "/reload", OFF_LO, headers=bearer("first-token"))
        check(code == 403, "the replaced token still works: %d" % code)
        code, _, _ = api("POST", "/reload", OFF_LO, headers=bearer("second-token"))
        check(code == 200, "the new token does not work without a reload: %d" % code)
        code, _, _ = api("GET", "/metrics", OFF_LO)
        check(code == 200, "GET needs no token: %d" % code)
    finally:
        finish(vd)


POSTS = ["/reload"] + ["/backends/default/127.0.0.1:7410/%s" % a
                       for a in ("drain", "undrain", "down", "up")]


def t_no_token_off_loopback_refuses_every_post(binary, tmp):
    vd = start(binary, ["--backend", "%s:%d" % BACKEND],
               env_of(VIADUCT_ADMIN_LISTEN="%s:%d" % OFF_LO), OFF_LO)
    try:
        for p in POSTS:
            code, body, _ = api("POST", p, OFF_LO, headers=bearer("anything"))
            check(code == 403 and "no token configured" in body, "POST %s: %d %r" %
                  (p, code, body))
        check(state_of(OFF_LO) == ("up", "none"), "a refused POST changed the backend: %s" %
              (state_of(OFF_LO),))
        check("POST /reload" not in vd.stderr_text(), "a refused reload ran")
    finally:
        finish(vd)


GETS = ["/metrics", "/healthz", "/readyz", "/backends", "/config"]


def chunked_post(addr, path, size):
    """A POST with a chunked body of size bytes (no Content-Length): the status, or None if
    viaduct hung up."""
    s = socket.create_connection(addr, timeout=5)
    try:
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" %
                   path).encode())
        left = size
        while left > 0:
            n = min(1024, left)
            s.sendall(b"%x\r\n" % n + b"x" * n + b"\r\n")
            left -= n
        s.sendall(b"0\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            got = s.recv(4096)
            if not got:
                return None
            data += got
        return int(data.split(b" ")[1])
    finally:
        s.close()


def t_every_endpoint_bad_requests(binary, tmp):
    vd = start(binary, ["--backend", "%s:%d" % BACKEND],
               env_of(VIADUCT_ADMIN_TOKEN="table-token", VIADUCT_ADMIN_LISTEN="%s:%d" % LO), LO)
    try:
        bad = []

        def want(method, path, status, allow=None, **kw):
            code, body, hdrs = api(method, path, LO, **kw)
            if code != status or (allow is not None and hdrs.get("Allow") != allow):
                bad.append("%s %s: %d (Allow %r), want %d (Allow %r) %r" % (
                    method, path, code, hdrs.get("Allow"), status, allow, body[:80]))
        for p in GETS:
            want("HEAD", p, 200)
            for m in ("POST", "PUT", "DELETE", "PATCH"):
                want(m, p, 405, "GET, HEAD")
        for p in POSTS:
            for m in ("GET", "HEAD", "PUT", "DELETE"):
                want(m, p, 405, "POST")
            want("POST", p, 401)
            want("POST", p, 403, headers=bearer("not-the-token"))
            want("POST", p, 413, body=b"x" * 4097, headers=bearer("table-token"))
        for p in ("/", "/metricsx", "/metrics/", "/healthz/x", "/backends/", "/reload/x",
                  "/%2e%2e/metrics"):
            want("GET", p, 404)
        # under /backends/ only POST exists: a GET there is 405, whatever follows
        for p in ("/backends/default", "/backends/default/127.0.0.1:7410"):
            want("GET", p, 405, "POST")
        for p in ("/backends/default/127.0.0.1:7410/explode", "/backends/nopool/x/drain",
                  "/backends/default/127.0.0.1:9999/drain", "/backends/default//drain"):
            want("POST", p, 404, headers=bearer("table-token"))
        check(not bad, "%d wrong answers:\n  %s" % (len(bad), "\n  ".join(bad)))
        # a body within the limit is no error (no endpoint reads one)
        code, _, _ = api("POST", "/reload", LO, body=b"x" * 4096, headers=bearer("table-token"))
        check(code == 200, "a 4096-byte body: %d" % code)
        for size in (4097, 40000):
            code = chunked_post(LO, "/reload", size)
            check(code in (413, None), "a chunked %d-byte body: %r, want 413" % (size, code))
        check(chunked_post(LO, "/reload", 4097) == 413, "a chunked body over the limit: no 413")
        check(state_of(LO) == ("up", "none"), "a refused request changed the backend: %s" %
              (state_of(LO),))
    finally:
        finish(vd)


def t_default_listener_and_off(binary, tmp):
    """Nothing configured: the API is on 127.0.0.1:8060 (POSTs open there, loopback);
    VIADUCT_ADMIN_LISTEN=off: nothing listens; --admin off beats the variable."""
    default = ("127.0.0.1", 8060)
    vd = start(binary, ["--backend", "%s:%d" % BACKEND], env_of(VIADUCT_ADMIN_LISTEN=None),
               default)
    try:
        check("management API on http://127.0.0.1:8060/ (POST open: loopback, no token)" in
              vd.stderr_text(), vd.stderr_text()[-500:])
        code, _, _ = api("GET", "/healthz", default)
        check(code == 200, "healthz on the default address: %d" % code)
        code, _, _ = api("POST", "/reload", default)
        check(code == 200, "POST on loopback without a token: %d" % code)
    finally:
        finish(vd)
    # IPv6 loopback is loopback too: POSTs open there; a name may come percent-encoded
    v6 = ("::1", 18066)
    vd = start(binary, ["--backend", "[::1]:7414"], env_of(VIADUCT_ADMIN_LISTEN="[::1]:18066"),
               v6)
    try:
        check("management API on http://[::1]:18066/ (POST open: loopback, no token)" in
              vd.stderr_text(), vd.stderr_text()[-500:])
        code, body, _ = api("POST", "/backends/default/%5B%3A%3A1%5D%3A7414/drain", v6)
        check(code == 200 and json.loads(body)["state"] == "draining",
              "POST on [::1] without a token: %d %s" % (code, body))
    finally:
        finish(vd)
    for args, env in ((["--backend", "%s:%d" % BACKEND], env_of(VIADUCT_ADMIN_LISTEN="off")),
                      (["--backend", "%s:%d" % BACKEND, "--admin", "off"],
                       env_of(VIADUCT_ADMIN_LISTEN="%s:%d" % LO))):
        vd = start_viaduct(binary, args, env=env)
        try:
            time.sleep(0.2)
            check("management API" not in vd.stderr_text(), "an API started: %s" %
                  vd.stderr_text()[-300:])
            for addr in (default, LO):
                try:
                    socket.create_connection(addr, timeout=1).close()
                    raise AssertionError("something listens on %s:%d" % addr)
                except ConnectionRefusedError:
                    pass
        finally:
            finish(vd)


def t_bounded_connections_timeout_and_head(binary, tmp):
    """32 connections at most (a 33rd waits), 5 s idle and they are closed, a request head
    over 32 KB is refused 431; the API answers after each."""
    vd = start(binary, ["--backend", "%s:%d" % BACKEND], env_of(VIADUCT_ADMIN_LISTEN="%s:%d" % LO),
               LO)
    idle = []
    try:
        t0 = time.monotonic()
        idle = [socket.create_connection(LO, timeout=10) for _ in range(31)]
        code, _, _ = api("GET", "/healthz", LO, timeout=2)
        check(code == 200, "with 31 idle connections: %d" % code)
        idle.append(socket.create_connection(LO, timeout=10))
        try:
            code, _, _ = api("GET", "/healthz", LO, timeout=1)
            raise AssertionError("a 33rd connection was served: %d" % code)
        except socket.timeout:
            pass
        closed = []
        for s in idle:
            closed.append(s.recv(1) == b"" and time.monotonic() - t0)
        check(all(closed) and 4.5 <= min(closed) and max(closed) <= 7.5,
              "idle connections closed after %s s, want about 5" %
              sorted(set(round(c, 1) if c else c for c in closed)))
        code, _, _ = api("GET", "/healthz", LO, timeout=2)
        check(code == 200, "after the idle ones: %d" % code)
        code, _, _ = api("GET", "/metrics", LO, headers={"X-Big": "a" * 40000})
        check(code == 431, "a 40 KB head: %d, want 431" % code)
        code, _, _ = api("GET", "/healthz", LO, timeout=2)
        check(code == 200, "after the large head: %d" % code)
    finally:
        for s in idle:
            s.close()
        finish(vd)


def metric(text, name):
    """The value of one sample line (name with its labels), or None."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def t_overload_in_metrics(binary, tmp):
    be = Endpoint(*BACKEND)
    client = Endpoint(*CLIENT)
    vd = start(binary, ["--listen", "%s:%d" % LISTEN, "--backend", "%s:%d" % BACKEND,
                        "--workers", "1"],
               env_of(VIADUCT_ADMIN_LISTEN="%s:%d" % LO, VIADUCT_SECURITY_OVERLOAD_PCT="0"), LO)
    try:
        for i in range(3):
            client.send(request("INVITE", "sip:bob@example.com",
                                ["SIP/2.0/UDP %s:%d;branch=z9hG4bKovl%d" % (CLIENT + (i,))],
                                dialog("INVITE", "ovl-%d@example.com" % i)), LISTEN)
            r = client.recv(1.0)
            check(r is not None and parse(r[0]).status == 503, "INVITE %d was not shed" % i)
        code, text, _ = api("GET", "/metrics", LO)
        check(code == 200, "/metrics: %d" % code)
        got = (metric(text, 'viaduct_drops_total{reason="overload"}'),
               metric(text, "viaduct_overload_episodes_total"),
               metric(text, 'viaduct_local_responses_total{code="503"}'))
        check(got == (3, 1, 3), "drops overload, episodes, local 503: %s, want (3, 1, 3)" %
              (got,))
        check(be.recv(0.1) is None, "a shed INVITE was forwarded")
    finally:
        finish(vd)
        be.close()
        client.close()


def t_implausible_latency_counted_not_measured(binary, tmp):
    """Responses whose send-time parameter (vdt, in viaduct's Via) is mangled, from the
    future or more than 30 s old are relayed, counted as implausible, and left out of the
    latency histogram; a plain one is measured."""
    be = Endpoint(*BACKEND)
    client = Endpoint(*CLIENT)
    vd = start(binary, ["--listen", "%s:%d" % LISTEN, "--backend", "%s:%d" % BACKEND,
                        "--workers", "1"], env_of(VIADUCT_ADMIN_LISTEN="%s:%d" % LO), LO)
    try:
        mangles = [lambda v: v,
                   lambda v: "zzzzzzzz",
                   lambda v: "%08x" % ((int(v, 16) + 0x40000000) % (1 << 32)),   # ahead
                   lambda v: "%08x" % ((int(v, 16) - 3100000) % (1 << 32))]       # 31 s ago
        for i, f in enumerate(mangles):
            cid = "lat-%d@example.com" % i
            client.send(request("INVITE", "sip:bob@example.com",
                                ["SIP/2.0/UDP %s:%d;branch=z9hG4bKlat%d" % (CLIENT + (i,))],
                                dialog("INVITE", cid)), LISTEN)
            r = be.recv(1.0)
            check(r is not None, "INVITE %d not forwarded" % i)
            m = parse(r[0])
            vias = m.get_all("Via")
            check(re.search(r";vdt=[0-9a-f]{8}", vias[0]), "no vdt in %r" % vias[0])
            vias[0] = re.sub(r";vdt=([0-9a-f]{8})", lambda g: ";vdt=" + f(g.group(1)), vias[0])
            be.send(response(200, "OK", vias, dialog("INVITE", cid, to_tag="t")), LISTEN)
            r = client.recv(1.0)
            check(r is not None and parse(r[0]).status == 200,
                  "response %d (vdt %s) was not relayed" % (i, vias[0].split("vdt=")[1]))
        code, text, _ = api("GET", "/metrics", LO)
        lab = 'pool="default",backend="127.0.0.1:7410",address="127.0.0.1:7410",kind="final"'
        got = (metric(text, "viaduct_latency_implausible_total"),
               metric(text, "viaduct_backend_response_latency_seconds_count{%s}" % lab))
        check(got == (3, 1), "implausible, measured: %s, want (3, 1)" % (got,))
    finally:
        finish(vd)
        be.close()
        client.close()


def t_per_backend_values(binary, tmp):
    """The per-backend series hold what happened: A got 4 INVITEs (answered 200) and 2
    MESSAGEs (486), B nothing listens behind (one INVITE, an ICMP error); A's probes are
    answered (a round trip), B's fail."""
    import threading
    a, dead = Endpoint(*BACKEND), ("127.0.0.1", 7413)
    client = Endpoint(*CLIENT)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            r = a.recv(0.05)
            if r is None:
                continue
            m = parse(r[0])
            if m.is_request and m.method != "ACK":
                code = (486, "Busy Here") if m.method == "MESSAGE" else (200, "OK")
                a.send(response(code[0], code[1], m.get_all("Via"),
                                [(n, m.get(n)) for n in ("From", "To", "Call-ID", "CSeq")]),
                       r[1])
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    cfg = os.path.join(tmp, "values.yaml")
    with open(cfg, "w") as f:
        f.write('listen: ["%s:%d"]\n'
                "health: {enabled: true, interval_ms: 50, timeout_ms: 20, down_after: 100}\n"
                'pools:\n  - {name: default, backends: ["%s:%d"]}\n'
                '  - {name: dead, backends: ["%s:%d"]}\n'
                "rules:\n  - {match: {to_domain: [dead.example.com]}, pool: dead}\n" %
                (LISTEN + BACKEND + dead))
    vd = start(binary, ["-c", cfg, "--workers", "1"], env_of(VIADUCT_ADMIN_LISTEN="%s:%d" % LO),
               LO)
    try:
        def send(method, n, domain="example.com"):
            client.send(request(method, "sip:bob@%s" % domain,
                                ["SIP/2.0/UDP %s:%d;branch=z9hG4bKval%s%d" %
                                 (CLIENT + (method, n))],
                                dialog(method, "val-%s-%d@x" % (method, n),
                                       to_uri="sip:bob@%s" % domain)), LISTEN)
        send("INVITE", 99, "dead.example.com")
        for i in range(4):
            send("INVITE", i)
        for i in range(2):
            send("MESSAGE", i)
        answers = []
        while len(answers) < 6:
            r = client.recv(1.0)
            if r is None:
                break
            answers.append(parse(r[0]).status)
        check(sorted(answers) == [200] * 4 + [486] * 2, "answers %s" % answers)
        la = 'pool="default",backend="127.0.0.1:7410",address="127.0.0.1:7410"'
        lb = 'pool="dead",backend="127.0.0.1:7413",address="127.0.0.1:7413"'
        deadline = time.monotonic() + 3
        while True:
            code, text, _ = api("GET", "/metrics", LO)
            rtt = metric(text, "viaduct_backend_probe_rtt_seconds{%s}" % la)
            icmp = metric(text, "viaduct_backend_icmp_errors_total{%s}" % lb)
            # the health thread takes up the ICMP hint within a round (50 ms)
            moved = metric(text, "viaduct_health_transitions_total")
            failed = metric(text, "viaduct_health_probes_failed_total")
            if (rtt and icmp and moved and failed) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        want = {"viaduct_backend_requests_total{%s}" % la: 6,
                'viaduct_backend_responses_total{%s,class="2xx"}' % la: 4,
                'viaduct_backend_responses_total{%s,class="4xx"}' % la: 2,
                'viaduct_backend_responses_total{%s,class="5xx"}' % la: 0,
                "viaduct_backend_icmp_errors_total{%s}" % la: 0,
                "viaduct_backend_requests_total{%s}" % lb: 1,
                "viaduct_backend_icmp_errors_total{%s}" % lb: 1,
                'viaduct_backend_state{%s,state="up"}' % la: 1}
        got = {k: metric(text, k) for k in want}
        check(got == want, "per-backend values:\n  %s" % "\n  ".join(
            "%s = %s, want %s" % (k, got[k], want[k]) for k in want if got[k] != want[k]))
        check(rtt is not None and 0 < rtt < 0.5, "A's probe round trip: %s" % rtt)
        b_state = [k for k in ("down", "held") if
                   metric(text, 'viaduct_backend_state{%s,state="%s"}' % (lb, k)) == 1]
        check(b_state, "B is neither down nor held")
        trans = "viaduct_health_transitions_total"
        for k in ("viaduct_health_probes_answered_total", "viaduct_health_probes_failed_total",
                  trans):
            check((metric(text, k) or 0) >= 1, "%s = %s" % (k, metric(text, k)))
        causes = sum(float(l.split()[-1]) for l in text.splitlines()
                     if l.startswith("viaduct_health_transitions_by_cause_total{"))
        check(causes == metric(text, trans), "transitions by cause sum to %s, transitions %s" %
              (causes, metric(text, trans)))
        check("viaduct_health_health_" not in text, "a metric says health twice")
    finally:
        stop.set()
        th.join(2)
        finish(vd)
        a.close()
        client.close()


READY_YAML = """listen: ["127.0.0.1:5460", "[::1]:5460"]
pools:
  - {name: default, backends: ["127.0.0.1:7410"]}
  - {name: regs, backends: ["[::1]:7414"]}
  - {name: orphan, backends: [{address: "127.0.0.1:7415", name: lonely}]}
rules:
  - {match: {method: [REGISTER]}, pool: regs}
%s"""


def t_readyz_counts_reachable_pools(binary, tmp):
    """/readyz asks a live backend of every pool a request can reach: not of a pool no rule
    names, nor of the default pool behind a rule that catches everything. A backend named
    by an IPv6 address takes its override at /backends/POOL/[::1]:PORT/ACTION."""
    cfg = os.path.join(tmp, "ready.yaml")
    with open(cfg, "w") as f:
        f.write(READY_YAML % "")
    vd = start(binary, ["-c", cfg], env_of(VIADUCT_ADMIN_LISTEN="%s:%d" % LO), LO)
    try:
        def ready(want, says):
            code, body, _ = api("GET", "/readyz", LO)
            check(code == want and says in body, "/readyz %d %r, want %d %r" %
                  (code, body, want, says))

        def post(path, state):
            code, body, _ = api("POST", path, LO)
            check(code == 200 and json.loads(body)["state"] == state, "POST %s: %d %s" %
                  (path, code, body))
        ready(200, "ready: 2 pools reachable, 2 backends up")
        post("/backends/orphan/lonely/down", "down")
        ready(200, "ready: 2 pools reachable")
        post("/backends/regs/[::1]:7414/down", "down")
        ready(503, "not ready: pool regs has no live backend")
        post("/backends/regs/[::1]:7414/up", "up")
        post("/backends/default/127.0.0.1:7410/drain", "draining")
        ready(503, "not ready: pool default has no live backend")
        # a rule that catches everything: the default pool is out of reach
        with open(cfg, "w") as f:
            f.write(READY_YAML % "  - {match: {}, pool: regs}\n")
        code, body, _ = api("POST", "/reload", LO)
        check(code == 200, "reload: %d %s" % (code, body))
        ready(200, "ready: 1 pools reachable, 1 backends up")
    finally:
        finish(vd)


DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def t_config_round_trips(binary, tmp):
    """GET /config is the effective configuration as YAML: for every file in test/data/,
    viaduct --check takes it back and prints it unchanged (secrets stay redacted comments,
    so the secret comes from the same variable)."""
    import glob
    import subprocess
    env = env_of(VIADUCT_ADMIN_LISTEN="%s:%d" % LO, VIADUCT_SECRET="round-trip-secret-0123")
    files = sorted(glob.glob(os.path.join(DATA, "*.yaml")))
    check(files, "no file in %s" % DATA)
    for f in files:
        vd = start(binary, ["-c", f], env, LO)
        try:
            code, body, _ = api("GET", "/config", LO)
        finally:
            finish(vd)
        check(code == 200, "%s: /config %d" % (f, code))
        out = os.path.join(tmp, "config-" + os.path.basename(f))
        with open(out, "w") as fh:
            fh.write(body)
        p = subprocess.run([binary, "-c", out, "--check"], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        check(p.returncode == 0, "%s: --check of its /config: %s" % (os.path.basename(f),
                                                                    p.stderr[-300:]))
        if p.stdout != body:
            a, b = body.splitlines(), p.stdout.splitlines()
            i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
            raise AssertionError("%s: /config read back differs at line %d: %r, then %r" % (
                os.path.basename(f), i + 1, a[i:i + 1], b[i:i + 1]))


# ---- a stuck worker ----

def wait_health(want, timeout):
    deadline = time.monotonic() + timeout
    while True:
        code, body, _ = api("GET", "/healthz", LO)
        if code == want or time.monotonic() > deadline:
            return code, body
        time.sleep(0.1)


def t_healthz_503_when_a_worker_is_stuck(binary, tmp):
    check(len(os.sched_getaffinity(0)) > 1, "one CPU only: a pinned worker cannot be told "
          "from the other threads")
    be = Endpoint(*BACKEND)
    client = Endpoint(*CLIENT)
    vd = start(binary, ["--listen", "%s:%d" % LISTEN, "--backend", "%s:%d" % BACKEND,
                        "--workers", "1", "--io", "mmsg"],
               env_of(VIADUCT_ADMIN_LISTEN="%s:%d" % LO), LO)
    stopped = None
    try:
        code, body = wait_health(200, 1)
        check(code == 200, "healthz before: %d %r" % (code, body))
        tids = worker_threads(vd.pid)
        check(len(tids) == 1, "want one pinned thread (the worker), found %s" % tids)
        stop_thread(tids[0])
        stopped = tids[0]
        t0 = time.monotonic()
        # a request sent now waits in the socket for the worker
        client.send(request("OPTIONS", "sip:x@example.com",
                            ["SIP/2.0/UDP %s:%d;branch=z9hG4bKstuck1" % CLIENT],
                            dialog("OPTIONS", "stuck-1@example.com")), LISTEN)
        code, body, _ = api("GET", "/healthz", LO)
        check(code == 200, "healthz at once (within 2 s of the last quiescent point): %d %r" %
              (code, body))
        code, body = wait_health(503, 4)
        secs = time.monotonic() - t0
        check(code == 503 and body.startswith("not live: worker 0 passed no quiescent point"),
              "healthz with the worker stopped: %d %r" % (code, body))
        check(1.5 <= secs <= 3.5, "503 after %.1f s, want about 2" % secs)
        check(be.recv(0.1) is None, "the stopped worker forwarded")
        resume_thread(stopped)
        stopped = None
        code, body = wait_health(200, 2)
        check(code == 200, "healthz after the worker runs again: %d %r" % (code, body))
        got = be.recv(1.0)
        check(got is not None and parse(got[0]).get("Call-ID") == "stuck-1@example.com",
              "the request that waited was not forwarded")
    finally:
        if stopped is not None:
            try:
                resume_thread(stopped)
            except OSError:
                pass
        finish(vd)
        be.close()
        client.close()


def t_reload_with_a_stuck_worker_keeps_the_old(binary, tmp):
    """A reload while a worker is stuck: after SERVER_PUBLISH_MS (2 s) it takes effect
    anyway and keeps the old generation (the worker may still read it) instead of freeing
    it; the worker, once it runs, forwards by the new one; under ASan nothing is used
    after being freed, and at exit nothing leaks."""
    check(len(os.sched_getaffinity(0)) > 1, "one CPU only: the worker cannot be told apart")
    old_be, new_be = Endpoint(*BACKEND), Endpoint("127.0.0.1", 7416)
    client = Endpoint(*CLIENT)
    cfg = os.path.join(tmp, "stuck-reload.yaml")

    def write(port):
        with open(cfg, "w") as f:
            f.write('listen: ["%s:%d"]\npools: [{name: default, backends: ["127.0.0.1:%d"]}]\n'
                    % (LISTEN + (port,)))
    write(BACKEND[1])
    vd = start(binary, ["-c", cfg, "--workers", "1"], env_of(VIADUCT_ADMIN_LISTEN="%s:%d" % LO),
               LO)
    stopped = None

    def invite(n):
        client.send(request("INVITE", "sip:bob@example.com",
                            ["SIP/2.0/UDP %s:%d;branch=z9hG4bKsr%d" % (CLIENT + (n,))],
                            dialog("INVITE", "sr-%d@example.com" % n)), LISTEN)
    try:
        invite(0)
        check(old_be.recv(1.0) is not None, "not forwarded before the reload")
        tids = worker_threads(vd.pid)
        check(len(tids) == 1, "want one pinned thread (the worker), found %s" % tids)
        stop_thread(tids[0])
        stopped = tids[0]
        write(7416)
        t0 = time.monotonic()
        code, body, _ = api("POST", "/reload", LO, timeout=10)
        secs = time.monotonic() - t0
        check(code == 200 and "generation 2" in body, "reload: %d %r" % (code, body))
        check(1.5 <= secs <= 4, "the reload returned after %.1f s, want about 2" % secs)
        check(logged(vd, "a worker is slow to move on: the old configuration is kept"),
              "the kept generation is not logged")
        resume_thread(stopped)
        stopped = None
        invite(1)
        got = new_be.recv(1.0)
        check(got is not None and parse(got[0]).get("Call-ID") == "sr-1@example.com",
              "after the reload the worker did not forward by the new configuration")
        check(old_be.recv(0.2) is None, "the old backend still got traffic")
        write(BACKEND[1])  # and a reload with the worker running frees as usual
        code, body, _ = api("POST", "/reload", LO)
        check(code == 200 and "generation 3" in body, "second reload: %d %r" % (code, body))
        invite(2)
        check(old_be.recv(1.0) is not None, "not forwarded after the second reload")
    finally:
        if stopped is not None:
            try:
                resume_thread(stopped)
            except OSError:
                pass
        finish(vd)
        for ep in (old_be, new_be, client):
            ep.close()


def t_probes_answer_during_a_stuck_reload(binary, tmp):
    """While a reload waits (up to 2 s) for a stuck worker, the read-only endpoints answer
    at once: a Kubernetes probe times out after 1 s by default, and a reload in progress
    must not fail it. Each is asked while the reload is still running (its thread alive
    after the answers) and must answer within PROBE_S; the reload then completes as ever.
    Until it does they report the running generation, 1; after it, 2."""
    check(len(os.sched_getaffinity(0)) > 1, "one CPU only: the worker cannot be told apart")
    client = Endpoint(*CLIENT)
    be = Endpoint(*BACKEND)
    cfg = os.path.join(tmp, "probe-reload.yaml")

    def write(port):
        with open(cfg, "w") as f:
            f.write('listen: ["%s:%d"]\npools: [{name: default, backends: ["127.0.0.1:%d"]}]\n'
                    % (LISTEN + (port,)))
    write(BACKEND[1])
    vd = start(binary, ["-c", cfg, "--workers", "1"], env_of(VIADUCT_ADMIN_LISTEN="%s:%d" % LO),
               LO)
    stopped, reload_thread, result = None, None, {}

    def reload():
        t0 = time.monotonic()
        result["answer"] = api("POST", "/reload", LO, timeout=10)
        result["secs"] = time.monotonic() - t0

    def gen():
        code, body, _ = api("GET", "/metrics", LO)
        m = re.search(r"^viaduct_config_generation (\d+)$", body, re.M)
        return code, int(m.group(1)) if m else None
    try:
        code, body, _ = api("GET", "/readyz", LO)
        check(code == 200, "readyz before: %d %r" % (code, body))
        tids = worker_threads(vd.pid)
        check(len(tids) == 1, "want one pinned thread (the worker), found %s" % tids)
        stop_thread(tids[0])
        stopped = tids[0]
        write(7417)
        reload_thread = threading.Thread(target=reload)
        reload_thread.start()
        time.sleep(0.2)  # it takes s->mu and loads in a few ms, then waits for the worker
        slow, took = [], []
        for path, want in (("/readyz", 200), ("/healthz", 200), ("/metrics", 200),
                           ("/backends", 200), ("/config", 200)):
            t0 = time.monotonic()
            code, body, _ = api("GET", path, LO, timeout=5)
            secs = time.monotonic() - t0
            took.append("%s %.1f ms" % (path, secs * 1000))
            if code != want or secs > PROBE_S:
                slow.append("%s: %d after %.2f s" % (path, code, secs))
        print("   (during the reload: %s)" % ", ".join(took), flush=True)
        code, g = gen()
        alive = reload_thread.is_alive()
        check(not slow, "during the reload, want each within %.1f s: %s" % (PROBE_S,
                                                                          "; ".join(slow)))
        check(alive, "the reload had already ended: the probes proved nothing")
        check(code == 200 and g == 1, "generation during the reload: %d %r" % (code, g))
        reload_thread.join(10)
        code, body, _ = result["answer"]
        check(code == 200 and "generation 2" in body, "reload: %d %r" % (code, body))
        check(1.5 <= result["secs"] <= 4, "the reload returned after %.1f s, want about 2" %
              result["secs"])
        check(logged(vd, "a worker is slow to move on: the old configuration is kept"),
              "the kept generation is not logged")
        code, g = gen()
        check(code == 200 and g == 2, "generation after the reload: %d %r" % (code, g))
        resume_thread(stopped)
        stopped = None
        code, body, _ = api("GET", "/readyz", LO)
        check(code == 200, "readyz after: %d %r" % (code, body))
    finally:
        if stopped is not None:
            try:
                resume_thread(stopped)
            except OSError:
                pass
        if reload_thread is not None:
            reload_thread.join(10)
        finish(vd)
        client.close()
        be.close()


def main():
    args = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("private network namespace", lambda: check(False, why))
        return t.finish()
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (
                ("VIADUCT_ADMIN_TOKEN: POSTs need it exactly, off loopback",
                 t_token_from_the_environment),
                ("admin.token_file in the file, read at each request",
                 t_token_file_in_the_file_read_at_each_request),
                ("no token off loopback: every POST refused, nothing changed",
                 t_no_token_off_loopback_refuses_every_post),
                ("every endpoint: 405 with Allow, 404, 401, 403, 413 (announced and chunked)",
                 t_every_endpoint_bad_requests),
                ("/healthz 503 while a worker is stuck, 200 once it runs",
                 t_healthz_503_when_a_worker_is_stuck),
                ("nothing configured: 127.0.0.1:8060; [::1] open too; off (variable or flag): "
                 "none",
                 t_default_listener_and_off),
                ("bounded: 32 connections, 5 s idle, 431 for a 40 KB head",
                 t_bounded_connections_timeout_and_head),
                ("overload: drops, episodes and the 503s in /metrics", t_overload_in_metrics),
                ("implausible send times: relayed, counted, not measured",
                 t_implausible_latency_counted_not_measured),
                ("per-backend requests, responses by class, ICMP errors, state, probe RTT",
                 t_per_backend_values),
                ("/readyz: only pools a request can reach; an IPv6-named override",
                 t_readyz_counts_reachable_pools),
                ("/config of every test/data file reads back unchanged through --check",
                 t_config_round_trips),
                ("a reload with a stuck worker takes effect and keeps the old generation",
                 t_reload_with_a_stuck_worker_keeps_the_old),
                ("read-only endpoints answer at once while a reload waits for a stuck worker",
                 t_probes_answer_during_a_stuck_reload)):
            t.run(name, fn, args.bin, tmp)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
