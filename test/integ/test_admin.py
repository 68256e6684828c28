"""test_admin.py - the management API (core/admin.c) through the real binary.

Every endpoint, with its bad requests (unknown path 404, wrong method 405, missing token 401,
wrong token 403, no token off loopback 403, oversized body 413); operator overrides seen in
/backends, /metrics and the traffic; a reload through the API that fails with FILE:LINE while
traffic keeps flowing on the old configuration; `promtool check metrics`; a real Prometheus
server (on loopback, its own temp storage, stopped by pid) scraping viaduct, whose query API
gives the per-backend request rate and histogram_quantile medians of two emulated backends
answering after 2 ms and 20 ms (within 20%); slow clients holding every admin connection
while forwarding goes on unhurt; a management port in use is a start error.

Run: sh test/integ/run.sh build/san test/integ/test_admin.py
"""

import http.client
import json
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Endpoint, StartError, Tally, check, dialog, netns_problem, parse,  # noqa: E402
                    parse_args, request, response, sanitizer_report, start_viaduct)

LISTEN = ("127.0.0.1", 5060)
CLIENT = ("127.0.0.1", 7300)
ADMIN = ("127.0.0.1", 18060)


def api(method, path, body=None, headers=None, addr=ADMIN, timeout=5.0):
    c = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace"), dict(r.getheaders())
    finally:
        c.close()


def invite(n, tag="adm"):
    return request("INVITE", "sip:bob@example.com",
                   ["SIP/2.0/UDP %s:%d;branch=z9hG4bK%s%d" % (CLIENT[0], CLIENT[1], tag, n)],
                   dialog("INVITE", "%s-%d@example.com" % (tag, n)))


class Backend:
    """A UDP backend answering every request with 200 after delay seconds: a sleep, then a
    spin for the last 0.7 ms, so the delay is precise to some microseconds. Each runs in a
    process of its own: in a thread, the spin holds the GIL the other backends and the
    client need, and they would queue."""

    def __init__(self, port, delay=0.0):
        self.ep = Endpoint("127.0.0.1", port)
        self.port, self.delay = port, delay
        self._got = multiprocessing.Value("i", 0)
        self.stop = multiprocessing.Event()
        self.proc = multiprocessing.Process(target=self.run, daemon=True)
        self.proc.start()

    @property
    def got(self):
        return self._got.value

    def run(self):
        # real-time priority (we are root in the test's namespace): on a machine shared with
        # other work, a backend that waits for a CPU answers late, and the histogram would
        # rightly show it
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        except OSError:
            pass
        while not self.stop.is_set():
            hit = self.ep.recv(0.1)
            if hit is None:
                continue
            t0 = time.perf_counter()
            data, src = hit
            try:
                m = parse(data)
            except ValueError:
                continue
            if not m.is_request:
                continue
            with self._got.get_lock():
                self._got.value += 1
            if self.delay > 0:
                end = t0 + self.delay
                if self.delay > 0.001:
                    time.sleep(self.delay - 0.0007)
                while time.perf_counter() < end:
                    pass
            hdrs = [(n, v) for n, v in m.headers
                    if n.lower() in ("from", "to", "call-id", "cseq")]
            self.ep.send(response(200, "OK", m.get_all("Via"), hdrs), src)

    def close(self):
        self.stop.set()
        self.proc.join(2)
        if self.proc.is_alive():
            self.proc.kill()  # its own pid
            self.proc.join(2)
        self.ep.close()


def roundtrip(client, n, tag="adm", timeout=1.0):
    """Sends one INVITE through viaduct and waits for its 200: seconds, or None."""
    t0 = time.perf_counter()
    client.send(invite(n, tag), LISTEN)
    deadline = t0 + timeout
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        hit = client.recv(left)
        if hit is None:
            return None
        m = parse(hit[0])
        if m.status == 200 and m.get("Call-ID") == "%s-%d@example.com" % (tag, n):
            return time.perf_counter() - t0


def start(binary, args):
    """viaduct with its management API: started once it logs the listener (after the workers'
    banner, which is what start_viaduct waits for)."""
    vd = start_viaduct(binary, args)
    deadline = time.monotonic() + 5
    while "management API on" not in vd.stderr_text():
        if time.monotonic() > deadline or not vd.alive():
            vd.stop()
            raise AssertionError("no management API:\n" + vd.stderr_text())
        time.sleep(0.01)
    return vd


def finish(vd):
    code, err = vd.stop()
    check(code == 0, "exit code %s:\n%s" % (code, err[-2000:]))
    bad = sanitizer_report(err)
    check(bad is None, "sanitizer: %s" % bad)
    return err


def backends_json():
    code, body, _ = api("GET", "/backends")
    check(code == 200, "/backends: %d %s" % (code, body))
    return json.loads(body)


def backend_entry(doc, pool, name):
    for p in doc["pools"]:
        if p["name"] == pool:
            for b in p["backends"]:
                if b["name"] == name:
                    return b
    raise AssertionError("no backend %s in pool %s: %s" % (name, pool, doc))


def test_read_endpoints_and_bad_requests(binary, tmp):
    b1, b2 = Backend(7310), Backend(7311)
    vd = start(binary, ["--listen", "%s:%d" % LISTEN, "--backend", "127.0.0.1:7310",
                                "--backend", "127.0.0.1:7311", "--admin", "%s:%d" % ADMIN])
    try:
        code, body, _ = api("GET", "/healthz")
        check(code == 200 and body.startswith("ok:") and body.count("\n") == 1,
              "healthz: %d %r" % (code, body))
        code, body, _ = api("GET", "/readyz")
        check(code == 200 and body.startswith("ready:"), "readyz: %d %r" % (code, body))
        doc = backends_json()
        b = backend_entry(doc, "default", "127.0.0.1:7310")
        for k in ("address", "weight", "state", "cause", "since", "counters", "override"):
            check(k in b, "/backends lacks %s: %s" % (k, b))
        check(b["state"] == "up" and b["weight"] == 1 and b["override"] == "none", str(b))
        code, body, hdrs = api("GET", "/config")
        check(code == 200 and "admin:\n  listen: \"127.0.0.1:18060\"" in body and
              "127.0.0.1:7311" in body, "config: %d %s" % (code, body))
        code, body, _ = api("HEAD", "/metrics")
        check(code == 200, "HEAD /metrics: %d" % code)
        # bad requests
        code, body, _ = api("GET", "/nope")
        check(code == 404 and "no such endpoint" in body, "unknown path: %d %r" % (code, body))
        code, body, hdrs = api("POST", "/metrics")
        check(code == 405 and "GET" in hdrs.get("Allow", ""), "wrong method: %d %s" % (code, hdrs))
        code, body, hdrs = api("GET", "/reload")
        check(code == 405 and hdrs.get("Allow") == "POST", "GET /reload: %d %s" % (code, hdrs))
        code, body, _ = api("POST", "/reload", body=b"x" * 100000)
        check(code == 413, "oversized body: %d %r" % (code, body))
        code, body, _ = api("POST", "/backends/default/127.0.0.1:7310/explode")
        check(code == 404 and "no such action" in body, "bad action: %d %r" % (code, body))
        code, body, _ = api("POST", "/backends/nopool/x/drain")
        check(code == 404, "unknown backend: %d %r" % (code, body))
        check(vd.alive(), "viaduct died")
    finally:
        err = finish(vd)
        b1.close()
        b2.close()
    check("management API on http://127.0.0.1:18060/" in err, err[-1500:])


def test_overrides_are_kept_across_reloads_and_lifted(binary, tmp):
    path = os.path.join(tmp, "ov.yaml")
    with open(path, "w") as f:
        f.write('listen: ["127.0.0.1:5060"]\nadmin: {listen: "127.0.0.1:18060"}\n'
                'pools:\n  - name: default\n    backends:\n'
                '      - {address: "127.0.0.1:7310", name: a}\n      - "127.0.0.1:7311"\n')
    b1, b2 = Backend(7310), Backend(7311)
    client = Endpoint(*CLIENT)
    vd = start(binary, ["-c", path, "--admin", "%s:%d" % ADMIN])
    try:
        code, body, _ = api("POST", "/backends/default/a/drain")
        check(code == 200 and json.loads(body)["state"] == "draining", "drain: %d %s" % (code, body))
        code, body, _ = api("POST", "/backends/default/127.0.0.1:7311/down")
        check(code == 200 and json.loads(body)["state"] == "down", "down: %d %s" % (code, body))
        # no backend up: not ready, and new calls get 503
        code, body, _ = api("GET", "/readyz")
        check(code == 503 and "pool default has no live backend" in body, "%d %r" % (code, body))
        # kept across a reload, shown as such
        code, body, _ = api("POST", "/reload")
        check(code == 200 and "generation 2" in body, "reload: %d %r" % (code, body))
        b = backend_entry(backends_json(), "default", "a")
        check(b["override"] == "drain" and b["state"] == "draining" and
              b["cause"] == "operator override", str(b))
        code, body, _ = api("GET", "/metrics")
        check('viaduct_backend_override{pool="default",backend="a",address="127.0.0.1:7310",'
              'override="drain"} 1' in body, "metrics lack the override")
        check('viaduct_backend_state{pool="default",backend="127.0.0.1:7311",'
              'address="127.0.0.1:7311",state="down"} 1' in body, "metrics lack the state")
        # lifted: traffic flows again
        for p in ("/backends/default/a/undrain", "/backends/default/127.0.0.1:7311/up"):
            code, body, _ = api("POST", p)
            check(code == 200 and json.loads(body)["state"] == "up", "%s: %d %s" % (p, code, body))
        code, body, _ = api("GET", "/readyz")
        check(code == 200, "readyz after lifting: %d %r" % (code, body))
        check(all(roundtrip(client, n) is not None for n in range(10)), "no traffic after up")
    finally:
        err = finish(vd)
        b1.close()
        b2.close()
        client.close()
    check(err.count("operator override none -> drain") == 1, "the drain is logged once:\n" + err)
    check("backend a (pool default): up -> draining (operator: drain)" in err, err[-2000:])


def test_tokens(binary, tmp):
    tok = os.path.join(tmp, "token")
    with open(tok, "w") as f:
        f.write("s3cret-token\n")
    b1 = Backend(7310)
    vd = start(binary, ["--backend", "127.0.0.1:7310", "--admin", "%s:%d" % ADMIN,
                                "--admin-token-file", tok])
    try:
        code, body, hdrs = api("POST", "/reload")
        check(code == 401 and "Bearer" in hdrs.get("WWW-Authenticate", ""), "%d %s" % (code, hdrs))
        code, body, _ = api("POST", "/reload", headers={"Authorization": "Bearer wrong"})
        check(code == 403, "wrong token: %d %r" % (code, body))
        code, body, _ = api("POST", "/reload", headers={"Authorization": "Bearer s3cret-token"})
        check(code == 200, "right token: %d %r" % (code, body))
        code, body, _ = api("GET", "/metrics")
        check(code == 200, "read-only endpoints are open: %d" % code)
        code, body, _ = api("GET", "/config")
        check("s3cret" not in body, "the token is shown")
    finally:
        finish(vd)
    # no token, a listener off loopback: POSTs refused, GETs open
    vd = start(binary, ["--backend", "127.0.0.1:7310", "--admin", "192.0.2.1:18061"])
    try:
        code, body, _ = api("POST", "/reload", addr=("192.0.2.1", 18061))
        check(code == 403 and "no token configured" in body, "%d %r" % (code, body))
        code, body, _ = api("GET", "/healthz", addr=("192.0.2.1", 18061))
        check(code == 200, "healthz: %d" % code)
    finally:
        finish(vd)
        b1.close()


def test_reload_via_api_fails_with_the_line_and_traffic_flows(binary, tmp):
    path = os.path.join(tmp, "rl.yaml")
    good = ('listen: ["127.0.0.1:5060"]\npools: [{name: default, backends: ["127.0.0.1:7310"]}]\n')
    with open(path, "w") as f:
        f.write(good)
    b1 = Backend(7310)
    client = Endpoint(*CLIENT)
    vd = start(binary, ["-c", path, "--admin", "%s:%d" % ADMIN])
    lost = []
    stop = threading.Event()

    def traffic():
        n = 0
        while not stop.is_set():
            if roundtrip(client, n, "rl") is None:
                lost.append(n)
            n += 1
    th = threading.Thread(target=traffic)
    th.start()
    try:
        time.sleep(0.2)
        with open(path, "w") as f:
            f.write('listen: ["127.0.0.1:5060"]\npools: [{name: default, backends: '
                    '["127.0.0.1:7310"]}]\nhealth: {interval_ms: 5}\n')
        code, body, _ = api("POST", "/reload")
        check(code == 422 and ("%s:3:" % path) in body, "bad reload: %d %r" % (code, body))
        code, body, _ = api("GET", "/metrics")
        check("viaduct_last_reload_success 0" in body and "viaduct_config_generation 1" in body,
              "metrics after the refusal")
        time.sleep(0.3)
        with open(path, "w") as f:
            f.write(good)
        code, body, _ = api("POST", "/reload")
        check(code == 200 and "generation 2" in body, "good reload: %d %r" % (code, body))
        time.sleep(0.2)
    finally:
        stop.set()
        th.join()
        err = finish(vd)
        b1.close()
        client.close()
    check(not lost, "%d round trips lost during the reloads" % len(lost))
    check(b1.got > 20, "only %d requests reached the backend" % b1.got)
    check(err.count("reload refused") == 1, err[-1500:])


def metrics_median(text, backend, kind="final"):
    """histogram_quantile(0.5) of one backend's buckets, computed here as Prometheus does."""
    rows = []
    for line in text.splitlines():
        if line.startswith("viaduct_backend_response_latency_seconds_bucket{") and \
                ('backend="%s"' % backend) in line and ('kind="%s"' % kind) in line:
            le = line.split('le="')[1].split('"')[0]
            rows.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    rows.sort()
    total = rows[-1][1]
    if total == 0:
        return None
    rank, prev_le, prev_c = total / 2, 0.0, 0.0
    for le, c in rows:
        if c >= rank:
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return None


def prom_query(port, q):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q}))
    with urllib.request.urlopen(url, timeout=5) as r:
        doc = json.loads(r.read())
    check(doc.get("status") == "success", "query %s: %s" % (q, doc))
    return {tuple(sorted(x["metric"].items())): float(x["value"][1])
            for x in doc["data"]["result"]}


def test_metrics_promtool_prometheus_and_latency(binary, tmp):
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    check(promtool and prometheus, "promtool and prometheus are not installed (Debian package "
          "prometheus; test/deps.sh installs it)")
    path = os.path.join(tmp, "lat.yaml")
    with open(path, "w") as f:
        f.write('listen: ["127.0.0.1:5060"]\npools:\n'
                '  - {name: fast, backends: [{address: "127.0.0.1:7320", name: fast}]}\n'
                '  - {name: slow, backends: [{address: "127.0.0.1:7321", name: slow}]}\n'
                '  - {name: default, backends: []}\n'
                'rules:\n  - {match: {to_domain: [fast.example.com]}, pool: fast}\n'
                '  - {match: {to_domain: [slow.example.com]}, pool: slow}\n')
    fast, slow = Backend(7320, 0.002), Backend(7321, 0.020)
    client = Endpoint(*CLIENT)
    vd = start(binary, ["-c", path, "--admin", "%s:%d" % ADMIN])
    pdir = os.path.join(tmp, "prom")
    os.makedirs(pdir)
    with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
        f.write("global: {scrape_interval: 500ms, scrape_timeout: 400ms, evaluation_interval: 1s}\n"
                "scrape_configs:\n  - job_name: viaduct\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % ADMIN[1])
    prom = subprocess.Popen([prometheus, "--config.file=" + os.path.join(pdir, "prometheus.yml"),
                             "--storage.tsdb.path=" + os.path.join(pdir, "data"),
                             "--web.listen-address=127.0.0.1:19090"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(pdir, "log"), "w"))
    stop = threading.Event()

    def send(domain, tag, count):
        for n in range(count):
            if stop.is_set():
                return
            t0 = time.perf_counter()
            client.send(request("INVITE", "sip:bob@%s" % domain,
                                ["SIP/2.0/UDP %s:%d;branch=z9hG4bK%s%d" % (CLIENT[0], CLIENT[1],
                                                                         tag, n)],
                                dialog("INVITE", "%s-%d@x" % (tag, n),
                                       to_uri="sip:bob@%s" % domain)), LISTEN)
            time.sleep(max(0, 0.025 - (time.perf_counter() - t0)))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                # scraping starts some seconds after ready (service discovery's first update)
                if any(v == 1 for v in prom_query(19090, "up").values()):
                    break
            except (OSError, AssertionError):
                pass
            time.sleep(0.2)
        # one request every 25 ms to each: never two at a backend at once, so no queueing
        ths = [threading.Thread(target=send, args=("fast.example.com", "f", 160)),
               threading.Thread(target=send, args=("slow.example.com", "s", 160))]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        # while the last seconds of traffic are in its range: the request rate per backend
        rate = prom_query(19090, "rate(viaduct_backend_requests_total[3s])")
        if not rate:
            print("   (samples in the last 5 s: %s; log: %s)" % (
                prom_query(19090, "count_over_time(viaduct_build_info[5s])"),
                open(os.path.join(pdir, "log")).read()[-1500:]))
        rates = {dict(k).get("backend"): v for k, v in rate.items()}
        print("   (Prometheus rate(viaduct_backend_requests_total[3s]): %s)" %
              {b: "%.1f/s" % v for b, v in rates.items()})
        check(rates.get("fast", 0) > 10 and rates.get("slow", 0) > 10, "rates: %s" % rates)
        client.drain()
        time.sleep(0.3)
        t0 = time.perf_counter()
        code, text, hdrs = api("GET", "/metrics")
        secs = time.perf_counter() - t0
        check(code == 200 and "version=0.0.4" in hdrs.get("Content-Type", ""), "%d %s" % (code, hdrs))
        p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        check(p.returncode == 0, "promtool check metrics: %s" % p.stdout.decode()[-2000:])
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds", "process_start_time_seconds", "viaduct_build_info",
                     "viaduct_config_generation", "viaduct_rx_datagrams_total",
                     'viaduct_requests_by_method_total{method="invite"}',
                     "viaduct_health_probes_sent_total", 'viaduct_drops_total{reason='):
            check(name in text, "metrics lack %s" % name)
        mf, ms = metrics_median(text, "fast"), metrics_median(text, "slow")
        print("   (medians from /metrics: fast %.3f ms, slow %.3f ms; scrape %.1f ms, %d bytes)"
              % (mf * 1e3, ms * 1e3, secs * 1e3, len(text)))
        check(abs(mf - 0.002) <= 0.0004, "fast median %.6f s not within 20%% of 2 ms" % mf)
        check(abs(ms - 0.020) <= 0.004, "slow median %.6f s not within 20%% of 20 ms" % ms)
        # Prometheus: a few scrapes in, the query API answers with viaduct's own buckets
        time.sleep(1.5)
        q = prom_query(19090, 'histogram_quantile(0.5, sum by (le, backend) '
                              '(viaduct_backend_response_latency_seconds_bucket{kind="final"}))')
        got = {dict(k).get("backend"): v for k, v in q.items()}
        print("   (Prometheus histogram_quantile(0.5): %s)" %
              {b: "%.3f ms" % (v * 1e3) for b, v in got.items()})
        check(abs(got.get("fast", 0) - 0.002) <= 0.0004, "Prometheus fast median: %s" % got)
        check(abs(got.get("slow", 0) - 0.020) <= 0.004, "Prometheus slow median: %s" % got)
    finally:
        stop.set()
        prom.terminate()  # by its own pid
        try:
            prom.wait(10)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait(5)
        finish(vd)
        fast.close()
        slow.close()
        client.close()


def test_slow_clients_cannot_slow_forwarding(binary, tmp):
    b1 = Backend(7310)
    client = Endpoint(*CLIENT)
    vd = start(binary, ["--backend", "127.0.0.1:7310", "--admin", "%s:%d" % ADMIN])
    socks = []
    try:
        def sample(tag):
            rtts = [roundtrip(client, n, tag) for n in range(150)]
            check(None not in rtts, "%d of 150 lost (%s)" % (rtts.count(None), tag))
            rtts.sort()
            return rtts[len(rtts) // 2], rtts[int(len(rtts) * 0.95)]
        base = sample("base")
        # 64 connections, twice the limit, each sending half a request head, a byte at a time
        for _ in range(64):
            s = socket.create_connection(ADMIN, timeout=2)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        for k in range(10):
            for s in socks:
                try:
                    s.send(b"X")
                except OSError:
                    pass
        loaded = sample("slow")
        print("   (round trip median/p95: %.3f/%.3f ms alone, %.3f/%.3f ms with 64 slow admin "
              "clients)" % (base[0] * 1e3, base[1] * 1e3, loaded[0] * 1e3, loaded[1] * 1e3))
        check(loaded[0] < base[0] * 2 + 0.001, "forwarding slowed: %s -> %s" % (base, loaded))
    finally:
        for s in socks:
            s.close()
    try:
        # bounded: once they are gone the API answers again
        deadline = time.monotonic() + 8
        code = None
        while time.monotonic() < deadline:
            try:
                code, _, _ = api("GET", "/healthz", timeout=2)
                if code == 200:
                    break
            except OSError:
                time.sleep(0.2)
        check(code == 200, "the API did not come back: %s" % code)
    finally:
        finish(vd)
        b1.close()
        client.close()


def test_admin_port_in_use_is_a_start_error(binary, tmp):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(ADMIN)
    s.listen(1)
    try:
        try:
            vd = start_viaduct(binary, ["--backend", "127.0.0.1:7310", "--admin", "%s:%d" % ADMIN],
                               ready_timeout=5)
        except StartError as e:
            check("cannot listen on 127.0.0.1:18060 for the management API" in str(e), str(e))
            return
        # the workers' banner comes first: then it must exit 1 at once, saying why
        try:
            code = vd.proc.wait(5)
        except subprocess.TimeoutExpired:
            vd.stop()
            raise AssertionError("viaduct runs with its admin port taken")
        err = vd.stop()[1]
        check(code == 1 and "cannot listen on 127.0.0.1:18060 for the management API: Address "
              "already in use" in err, "exit %s:\n%s" % (code, err[-1000:]))
    finally:
        s.close()


SCRAPES = 21


def test_scrape_of_100_backends(binary, tmp):
    """Issue 12's "the scrape's time at 100 backends": SCRAPES scrapes of /metrics, one after
    another over a fresh connection each (as Prometheus does), the median reported."""
    args = ["--admin", "%s:%d" % ADMIN]
    for i in range(100):
        args += ["--backend", "127.0.0.1:%d" % (8000 + i)]
    vd = start(binary, args)
    try:
        times = []
        for _ in range(SCRAPES):
            t0 = time.perf_counter()
            code, text, _ = api("GET", "/metrics")
            times.append(time.perf_counter() - t0)
            check(code == 200, "scrape: %d" % code)
        times.sort()
        med = times[SCRAPES // 2]
        backends = len(set(re.findall(r'backend="([^"]*)"', text)))
        check(backends == 100, "the scrape names %d backends, want 100" % backends)
        print("   (100 backends: scrape %.1f ms median of %d, min %.1f, max %.1f; %d bytes, "
              "%d lines)" % (med * 1e3, SCRAPES, times[0] * 1e3, times[-1] * 1e3, len(text),
                             text.count("\n")))
        check(med < 1.0, "a scrape takes %.2f s" % med)
    finally:
        finish(vd)


def main():
    args = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("private network namespace", lambda: check(False, why))
        return t.finish()
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in [
                ("read_endpoints_and_bad_requests", test_read_endpoints_and_bad_requests),
                ("overrides_are_kept_across_reloads_and_lifted",
                 test_overrides_are_kept_across_reloads_and_lifted),
                ("tokens", test_tokens),
                ("reload_via_api_fails_with_the_line_and_traffic_flows",
                 test_reload_via_api_fails_with_the_line_and_traffic_flows),
                ("metrics_promtool_prometheus_and_latency",
                 test_metrics_promtool_prometheus_and_latency),
                ("slow_clients_cannot_slow_forwarding", test_slow_clients_cannot_slow_forwarding),
                ("admin_port_in_use_is_a_start_error", test_admin_port_in_use_is_a_start_error),
                ("scrape_of_100_backends", test_scrape_of_100_backends)]:
            t.run(name, fn, args.bin, tmp)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
