"""test_container.py - viaduct's image under podman, configured by VIADUCT_* variables only.

Run by test/container/run.sh inside a private network namespace (only lo): the container gets
--network host, which is that namespace. Two emulated backends (127.0.0.1:5070, :5071) answer
every request 200 through its Vias; a client on 127.0.0.1:5090 sends through viaduct at
127.0.0.1:5060. Checks:
  - the start line says recvmmsg: podman's default seccomp profile refuses io_uring_setup, so
    VIADUCT_IO=auto must fall back, and it forwards (every request answered, both backends used);
  - the process runs as a non-root user;
  - /readyz and /metrics answer on the admin port, /readyz 503 once draining: run when the
    image's viaduct has --admin in --help, and then they must pass;
  - `podman stop` (SIGTERM) drains: requests sent during the drain window are still answered,
    /readyz says 503, and the container exits 0 after about the drain.
And the ConfigMap's viaduct.yaml with the Deployment's VIADUCT_* variables passes the image's
`viaduct --check` (the rest of deploy/ is test/integ/test_deploy.py's).
Every container is named by the ID podman gave it and removed with podman rm -f at the end.
"""

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integ"))
import sipnet  # noqa: E402
from sipnet import check  # noqa: E402

# podman 4.3 here: runc (crun refuses the host's cgroup layout) and explicit ulimits for run
RUNTIME = ["--runtime", "/usr/sbin/runc"]
ULIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
VD = ("127.0.0.1", 5060)
ADMIN = "127.0.0.1:8060"
DRAIN = 2
START = re.compile(r"viaduct \S+: \d+ worker")  # the start line, whatever the log format


def podman(args, timeout=30):
    cmd = ["podman"] + RUNTIME + args[:1] + (ULIMITS if args[0] == "run" else []) + args[1:]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, text=True)


class Backend:
    """A registrar that answers every request 200 OK through its Vias."""

    def __init__(self, port):
        self.ep = sipnet.Endpoint("127.0.0.1", port)
        self.got = 0
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            r = self.ep.recv(0.1)
            if r is None:
                continue
            data, src = r
            try:
                m = sipnet.parse(data)
            except ValueError:
                continue
            if not m.is_request:
                continue
            self.got += 1
            hdrs = [(n, m.get(n)) for n in ("From", "To", "Call-ID", "CSeq")]
            self.ep.send(sipnet.response(200, "OK", m.get_all("Via"), hdrs), src)

    def close(self):
        self.stop = True
        self.t.join(1)
        self.ep.close()


class Client:
    """Sends OPTIONS through viaduct and counts the 200s that come back, by Call-ID."""

    def __init__(self):
        self.ep = sipnet.Endpoint("127.0.0.1", 5090)
        self.n = 0
        self.answered = set()

    def send(self, tag):
        self.n += 1
        cid = "%s-%d@container" % (tag, self.n)
        msg = sipnet.request("OPTIONS", "sip:svc@example.com",
                             ["SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK%s%d;rport" % (tag, self.n)],
                             sipnet.dialog("OPTIONS", cid))
        self.ep.send(msg, VD)
        return cid

    def collect(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            r = self.ep.recv(max(0.0, min(0.1, deadline - time.monotonic())))
            if r is not None:
                try:
                    m = sipnet.parse(r[0])
                    if m.status == 200:
                        self.answered.add(m.get("Call-ID"))
                except ValueError:
                    pass
            elif time.monotonic() >= deadline:
                return


def http_get(path, timeout=2.0):
    """(status, body) of GET http://ADMIN/path; (None, why) if nothing answered."""
    try:
        with urllib.request.urlopen("http://%s%s" % (ADMIN, path), timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        return None, str(e)


class Run:
    def __init__(self, image):
        self.image = image
        self.cid = None
        self.tally = sipnet.Tally()
        h = podman(["run", "--rm", "--network", "none", "--entrypoint",
                    "/usr/local/bin/viaduct", image, "--help"])
        self.help = h.stdout + h.stderr
        self.has_admin = "--admin" in self.help
        self.has_drain = "--drain-seconds" in self.help

    def logs(self):
        r = podman(["logs", self.cid])
        return r.stdout + r.stderr

    def start(self):
        env = {"VIADUCT_LISTEN": "127.0.0.1:5060",
               "VIADUCT_BACKENDS": "127.0.0.1:5070,127.0.0.1:5071",
               "VIADUCT_WORKERS": "2",
               "VIADUCT_SECRET": "container-test-secret-0123456789"}
        if self.has_admin:
            env["VIADUCT_ADMIN_LISTEN"] = ADMIN
        if self.has_drain:
            env["VIADUCT_SHUTDOWN_DRAIN_SECONDS"] = str(DRAIN)
        args = ["run", "-d", "--network", "host"]
        for k, v in sorted(env.items()):
            args += ["-e", "%s=%s" % (k, v)]
        r = podman(args + [self.image], timeout=60)
        check(r.returncode == 0, "podman run failed: %s" % r.stderr.strip())
        self.cid = r.stdout.strip().splitlines()[-1]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            text = self.logs()
            if START.search(text):
                return text
            st = podman(["inspect", "--format", "{{.State.Status}}", self.cid]).stdout.strip()
            check(st == "running", "the container is %s: %s" % (st, text.strip()[-400:]))
            time.sleep(0.1)
        raise sipnet.Failure("no start line within 15 s: %r" % self.logs()[-400:])

    def remove(self):
        if self.cid:
            podman(["rm", "-f", "-t", "0", self.cid])


def t_engine_fallback(run, banner):
    line = [l for l in banner.splitlines() if START.search(l)][0]
    check("(recvmmsg)" in line, "want the recvmmsg fallback under podman's seccomp profile, "
          "got %r" % line)


def t_forwards(client, backends):
    sent = [client.send("fw") for _ in range(200)]
    client.collect(2.0)
    lost = [c for c in sent if c not in client.answered]
    check(not lost, "%d of %d requests not answered" % (len(lost), len(sent)))
    check(all(b.got > 0 for b in backends), "both backends must get requests: %s" %
          [b.got for b in backends])


def t_non_root(run):
    r = podman(["exec", run.cid, "cat", "/proc/1/status"])
    uid = re.search(r"^Uid:\s+(\d+)", r.stdout, re.M)
    check(uid is not None, "no Uid in /proc/1/status: %r" % (r.stdout + r.stderr))
    check(uid.group(1) != "0", "viaduct runs as root")


def t_admin(run):
    code, body = http_get("/readyz")
    check(code == 200, "/readyz: want 200, got %s %r" % (code, body[:200]))
    code, body = http_get("/healthz")
    check(code == 200, "/healthz: want 200, got %s %r" % (code, body[:200]))
    code, body = http_get("/metrics")
    check(code == 200, "/metrics: want 200, got %s" % code)
    check("# TYPE viaduct_" in body, "/metrics has no viaduct_ metric: %r" % body[:300])


def t_stop_drains(run, client):
    """podman stop while a client sends 100 requests per second: none of those sent in the
    drain window may go unanswered, /readyz is 503 in it, and the exit status is 0."""
    drain = DRAIN if run.has_drain else 0
    if not run.has_drain:
        print("# waiting: the image's viaduct has no --drain-seconds: only the exit is checked")
    t0 = time.monotonic()
    stopper = threading.Thread(target=lambda: setattr(run, "stop_result", podman(
        ["stop", "-t", str(DRAIN + 8), run.cid], timeout=DRAIN + 20)))
    stopper.start()
    sent, ready = [], []
    while time.monotonic() - t0 < drain - 0.5:
        sent.append(client.send("drain"))
        if run.has_admin and len(sent) % 20 == 10:
            ready.append(http_get("/readyz", 0.5)[0])
        client.collect(0.01)
    client.collect(1.0)
    stopper.join(DRAIN + 25)
    took = time.monotonic() - t0
    r = run.stop_result
    check(r.returncode == 0, "podman stop failed: %s" % r.stderr.strip())
    lost = [c for c in sent if c not in client.answered]
    check(len(sent) >= 50 or not drain, "sent only %d requests in the window" % len(sent))
    check(not lost, "%d of %d requests sent while draining went unanswered" % (len(lost), len(sent)))
    if run.has_admin and drain:
        check(ready and all(c == 503 for c in ready), "/readyz while draining: %s" % ready)
    code = podman(["inspect", "--format", "{{.State.ExitCode}}", run.cid]).stdout.strip()
    check(code == "0", "exit status %s; log: %r" % (code, run.logs()[-400:]))
    print("# podman stop: %d requests sent during the drain, all answered; /readyz %s; "
          "exit 0 after %.1f s" % (len(sent), sorted(set(ready)), took), flush=True)
    check(drain - 0.5 <= took <= drain + 3, "the stop took %.1f s for a %d s drain" % (took, drain))


# The deploy files themselves (probes, grace period, Service, non-root, the systemd unit) are
# checked by test/integ/test_deploy.py in every make test; here the image's own --check.
from test_deploy import k8s_docs  # noqa: E402


def t_k8s_config_loads(run):
    """The ConfigMap's file with the Deployment's variables, through the image's --check."""
    d = k8s_docs()
    c = d["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env, waiting = {}, []
    for e in c["env"]:
        v = e.get("value", "a-secret-of-at-least-16-bytes" if "valueFrom" in e else "")
        if not e["name"].startswith("VIADUCT_"):
            continue
        if e["name"].startswith("VIADUCT_ADMIN_") and not run.has_admin:
            waiting.append(e["name"])
            continue
        env[e["name"]] = v.replace("$(POD_IP)", "127.0.0.1")
    if waiting:
        print("# waiting: the image's viaduct has no --admin: %s not checked" % ", ".join(waiting))
    tmp = tempfile.mkdtemp()
    try:
        os.chmod(tmp, 0o755)
        with open(os.path.join(tmp, "viaduct.yaml"), "w") as f:
            f.write(d["ConfigMap"]["data"]["viaduct.yaml"])
        os.chmod(os.path.join(tmp, "viaduct.yaml"), 0o644)
        args = ["run", "--rm", "--network", "none", "-v", "%s:/etc/viaduct:ro" % tmp]
        for k, v in sorted(env.items()):
            args += ["-e", "%s=%s" % (k, v)]
        r = podman(args + [run.image, "--check"], timeout=60)
        check(r.returncode == 0, "viaduct --check refuses it: %s" % r.stderr.strip()[-400:])
        check("registrars" in r.stdout, "--check did not print the pools: %r" % r.stdout[:300])
    finally:
        shutil.rmtree(tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    a = ap.parse_args()
    why = sipnet.netns_problem()
    if why:
        print("FAIL setup: %s" % why)
        print("0 passed, 1 failed")
        return 1
    run = Run(a.image)
    t = run.tally
    t.run("deploy/kubernetes: the ConfigMap and the Deployment's variables load",
          t_k8s_config_loads, run)
    backends, client = [], None
    try:
        backends = [Backend(5070), Backend(5071)]
        client = Client()
        banner = None
        try:
            banner = run.start()
            print("# %s" % [l for l in banner.splitlines() if START.search(l)][0], flush=True)
        except AssertionError as e:
            print("FAIL start: %s" % e)
            t.failed += 1
        if banner is not None:
            t.run("io auto falls back to recvmmsg under podman's seccomp profile",
                  t_engine_fallback, run, banner)
            t.run("forwards requests and responses", t_forwards, client, backends)
            t.run("runs as a non-root user", t_non_root, run)
            if run.has_admin:
                t.run("/readyz, /healthz and /metrics answer", t_admin, run)
            else:
                print("# waiting: the image's viaduct has no --admin: /readyz and /metrics "
                      "not checked", flush=True)
            t.run("podman stop drains, then exits 0", t_stop_drains, run, client)
            rep = sipnet.sanitizer_report(run.logs())
            t.run("no sanitizer report", lambda: check(rep is None, rep))
    finally:
        run.remove()
        for b in backends:
            b.close()
        if client:
            client.ep.close()
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
