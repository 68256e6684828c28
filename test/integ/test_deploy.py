#!/usr/bin/env python3
"""test_deploy.py - what a platform team relies on in deploy/, checked without a cluster.

    sh test/integ/run.sh build/san test/integ/test_deploy.py

deploy/kubernetes/ (python3-yaml):
  - every manifest parses, the Kustomization lists exactly the files there;
  - the readiness probe asks /readyz and the liveness probe /healthz, over HTTP, at the port
    the admin listener is configured on (VIADUCT_ADMIN_LISTEN, else the ConfigMap's
    admin.listen, else viaduct's default), which is not loopback (the kubelet probes the
    pod's address);
  - terminationGracePeriodSeconds > preStop sleep + shutdown.drain_seconds (the Deployment's
    VIADUCT_SHUTDOWN_DRAIN_SECONDS, else the ConfigMap's, else viaduct's default);
  - the Service exposes 5060/UDP to the container's SIP port (the one VIADUCT_LISTEN binds),
    and selects the pods;
  - the container runs as non-root: runAsNonRoot, a non-zero runAsUser that is the image's
    USER (deploy/container/Containerfile), no privilege escalation, every capability dropped;
  - the ConfigMap is the mounted VIADUCT_CONFIG file, and with the Deployment's variables it
    passes `viaduct --check` of the binary under test;
  - with the Deployment's variables alone (the pod's address put in for $(POD_IP), an IPv4 one
    and an IPv6 one, as status.podIP gives them: no brackets) and the ConfigMap's file, its
    backends moved to test addresses, viaduct runs: a REGISTER to the pod's address reaches a
    registrar, /readyz answers on the admin listener, POST /reload needs the token.
deploy/systemd/viaduct.service:
  - `systemd-analyze verify` is silent, and `systemd-analyze security --offline` rates its
    exposure at most 2.0 (systemd 252 runs both on a unit file, no running systemd needed);
  - the sandboxing directives are there (NoNewPrivileges, ProtectSystem=strict, ...);
  - ExecReload sends HUP, KillSignal is SIGTERM, TimeoutStopSec exceeds the drain of the file
    its ExecStart reads (the one its install lines copy there), and that file passes --check.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Endpoint, Tally, check, dialog, hostport, parse, parse_args,  # noqa: E402
                    recv_any, request, sanitizer_report, start_viaduct, wait_port_free)

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
K8S = os.path.join(ROOT, "deploy", "kubernetes")
UNIT = os.path.join(ROOT, "deploy", "systemd", "viaduct.service")
CONTAINERFILE = os.path.join(ROOT, "deploy", "container", "Containerfile")


def defaults(binary):
    """viaduct's own defaults for what the deploy files may leave out, from its --help."""
    out = subprocess.run([binary, "--help-config-markdown"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=30).stdout
    d = {}
    for name in ("admin.listen", "shutdown.drain_seconds"):
        row = [l for l in out.splitlines() if l.startswith("| `%s` |" % name)]
        check(len(row) == 1, "--help-config-markdown has no row for %s" % name)
        d[name] = row[0].split("|")[5].strip()
    return d


def k8s_docs():
    import yaml  # python3-yaml
    docs = {}
    for f in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        with open(f) as fh:
            for d in yaml.safe_load_all(fh):
                check(isinstance(d, dict) and "kind" in d and "apiVersion" in d,
                      "%s: a document without kind or apiVersion" % f)
                check(d["kind"] not in docs, "two documents of kind %s" % d["kind"])
                d["_file"] = os.path.basename(f)
                docs[d["kind"]] = d
    for k in ("ConfigMap", "Deployment", "Service", "Kustomization"):
        check(k in docs, "deploy/kubernetes/ has no %s" % k)
    return docs


class Pod:
    """The Deployment's pod and its one container, with the settings they give viaduct."""

    def __init__(self, docs, dflt):
        import yaml
        self.docs = docs
        self.spec = docs["Deployment"]["spec"]["template"]["spec"]
        check(len(self.spec["containers"]) == 1, "more than one container")
        self.c = self.spec["containers"][0]
        self.env = {e["name"]: e for e in self.c.get("env", [])}
        self.conf = yaml.safe_load(docs["ConfigMap"]["data"]["viaduct.yaml"]) or {}
        self.dflt = dflt

    def setting(self, var, path):
        """The value viaduct sees: the variable, else the ConfigMap's file, else the default."""
        if var in self.env and "value" in self.env[var]:
            return str(self.env[var]["value"])
        v = self.conf
        for k in path.split("."):
            v = v.get(k) if isinstance(v, dict) else None
        return str(v) if v is not None else self.dflt[path]

    def port(self, ref):
        """A probe's or Service's port (a name or a number) as the container's port entry."""
        for p in self.c.get("ports", []):
            if ref == p.get("name") or ref == p.get("containerPort"):
                return p
        raise AssertionError("port %r is not a port of the container" % (ref,))


def host_port(s):
    m = re.match(r"^\[?(.*?)\]?:(\d+)$", s)
    check(m, "not HOST:PORT: %r" % s)
    return m.group(1), int(m.group(2))


def t_manifests_parse_and_kustomize(docs):
    k = docs["Kustomization"]
    listed = sorted(k.get("resources", []))
    there = sorted(os.path.basename(f) for f in glob.glob(os.path.join(K8S, "*.yaml"))
                   if os.path.basename(f) != docs["Kustomization"]["_file"])
    check(listed == there, "kustomization resources %s, files %s" % (listed, there))
    for kind in ("ConfigMap", "Deployment", "Service"):
        check(docs[kind].get("metadata", {}).get("name"), "%s has no name" % kind)


def t_probes_at_the_admin_port(pod):
    admin = pod.setting("VIADUCT_ADMIN_LISTEN", "admin.listen")
    check(admin != "off", "the admin listener is off: no probe can answer")
    host, port = host_port(admin)
    check(host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("127."),
          "admin.listen %s is loopback: the kubelet probes the pod's address" % admin)
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        p = pod.c.get(probe)
        check(p and "httpGet" in p, "%s: not an httpGet probe" % probe)
        g = p["httpGet"]
        check(g.get("path") == path, "%s asks %s, want %s" % (probe, g.get("path"), path))
        check(g.get("scheme", "HTTP") == "HTTP", "%s: scheme %s" % (probe, g.get("scheme")))
        cp = pod.port(g.get("port"))
        check(cp["containerPort"] == port and cp.get("protocol", "TCP") == "TCP",
              "%s goes to port %s, the admin listener is on %d" % (probe, cp, port))


def t_grace_period_covers_prestop_and_drain(pod):
    drain = int(pod.setting("VIADUCT_SHUTDOWN_DRAIN_SECONDS", "shutdown.drain_seconds"))
    cmd = pod.c["lifecycle"]["preStop"]["exec"]["command"]
    check(os.path.basename(cmd[0]) == "sleep" and len(cmd) == 2, "preStop: %s" % cmd)
    pre = float(cmd[1])
    grace = pod.spec.get("terminationGracePeriodSeconds", 30)  # the kubelet's default
    check(grace > pre + drain, "terminationGracePeriodSeconds %s is not more than preStop %s "
          "+ drain %s" % (grace, pre, drain))
    # the readiness probe must see the 503 before the drain ends, or the pod gets new traffic
    # until its socket closes
    r = pod.c["readinessProbe"]
    seen = r.get("periodSeconds", 10) * r.get("failureThreshold", 3)
    check(seen <= drain, "readiness takes %s s to fail, longer than the %d s drain" %
          (seen, drain))


def t_service_exposes_5060_udp(pod):
    svc = pod.docs["Service"]["spec"]
    udp = [p for p in svc["ports"] if p.get("protocol") == "UDP" and p.get("port") == 5060]
    check(len(udp) == 1, "the Service has no 5060/UDP port: %s" % svc["ports"])
    cp = pod.port(udp[0].get("targetPort", 5060))
    listen = pod.env.get("VIADUCT_LISTEN", {}).get("value")
    if listen is None:  # the file's first entry: "ADDR:PORT" or {address: ADDR:PORT, ...}
        first = (pod.conf.get("listen") or ["127.0.0.1:5060"])
        first = first[0] if isinstance(first, list) else first
        listen = first["address"] if isinstance(first, dict) else first
    _, sip_port = host_port(listen.split(",")[0].strip())
    check(cp.get("protocol") == "UDP" and cp["containerPort"] == sip_port,
          "the Service sends 5060/UDP to %s, viaduct listens on %d/UDP" % (cp, sip_port))
    labels = pod.docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    sel = svc.get("selector", {})
    check(sel and all(labels.get(k) == v for k, v in sel.items()),
          "the Service selects %s, the pods are labelled %s" % (sel, labels))


def t_runs_as_non_root(pod):
    psc = pod.spec.get("securityContext", {})
    csc = pod.c.get("securityContext", {})
    non_root = csc.get("runAsNonRoot", psc.get("runAsNonRoot"))
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    check(non_root is True, "runAsNonRoot is not set")
    check(isinstance(uid, int) and uid > 0, "runAsUser %r" % uid)
    check(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation not false")
    check(csc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities not all dropped")
    with open(CONTAINERFILE) as f:
        users = re.findall(r"^USER\s+(\S+)", f.read(), re.M)
    check(users, "the Containerfile sets no USER")
    image_uid = users[-1].split(":")[0]
    check(image_uid == str(uid), "the image runs as %s, the pod as %s" % (image_uid, uid))


def t_configmap_with_env_passes_check(pod, binary):
    vol = [v for v in pod.spec.get("volumes", []) if "configMap" in v]
    check(len(vol) == 1 and vol[0]["configMap"]["name"] ==
          pod.docs["ConfigMap"]["metadata"]["name"], "the ConfigMap is not a volume: %s" % vol)
    mnt = [m for m in pod.c.get("volumeMounts", []) if m["name"] == vol[0]["name"]]
    check(len(mnt) == 1, "the ConfigMap volume is not mounted")
    want = os.path.join(mnt[0]["mountPath"], "viaduct.yaml")
    got = pod.env.get("VIADUCT_CONFIG", {}).get("value")
    check(got == want, "VIADUCT_CONFIG is %s, the ConfigMap is mounted at %s" % (got, want))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "viaduct.yaml")
        with open(path, "w") as f:
            f.write(pod.docs["ConfigMap"]["data"]["viaduct.yaml"])
        for name, e in pod.env.items():
            if not name.startswith("VIADUCT_"):
                continue
            # a Secret's value stands in as 32 bytes; the pod's address as 127.0.0.1
            v = e.get("value", "0123456789abcdef0123456789abcdef")
            env[name] = path if name == "VIADUCT_CONFIG" else v.replace("$(POD_IP)", "127.0.0.1")
        r = subprocess.run([binary, "--check"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        check(r.returncode == 0, "viaduct --check refuses the ConfigMap with the Deployment's "
              "variables: %s" % r.stderr.strip()[-400:])
        check("registrars" in r.stdout, "--check did not print the pools: %r" % r.stdout[:300])
    finally:
        shutil.rmtree(tmp)


POD = {"v4": dict(pod="192.0.2.10", client="198.51.100.7", backend="203.0.113.12"),
       "v6": dict(pod="2001:db8::10", client="2001:db8::9:1", backend="2001:db8::1")}
STAND_IN = "0123456789abcdef0123456789abcdef"  # a Secret's value


def http(method, host, port, path, headers=None):
    import http.client
    c = http.client.HTTPConnection(host, port, timeout=5)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        c.close()


def t_pod_env_runs(pod, binary, fam):
    a = POD[fam]
    tmp = tempfile.mkdtemp()
    eps = []
    vd = None
    try:
        # the ConfigMap's file, each backend address moved to one of ours; a cluster DNS name
        # (the registrars' headless Service) too: no cluster DNS runs here, and test_dns.py
        # tests names against a real DNS server
        text = pod.docs["ConfigMap"]["data"]["viaduct.yaml"]
        addrs = sorted(set(re.findall(r"\b10\.\d+\.\d+\.\d+:\d+\b", text) +
                           re.findall(r"\b[a-z0-9.-]+\.cluster\.local\.?:\d+", text)))
        check(addrs, "the ConfigMap names no backend address")
        for i, old in enumerate(addrs):
            eps.append(Endpoint(a["backend"], 5070 + i))
            text = text.replace(old, hostport(a["backend"], 5070 + i))
        path = os.path.join(tmp, "viaduct.yaml")
        with open(path, "w") as f:
            f.write(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
        for name, e in pod.env.items():
            if name.startswith("VIADUCT_"):
                v = e.get("value", STAND_IN)
                env[name] = path if name == "VIADUCT_CONFIG" else v.replace("$(POD_IP)", a["pod"])
        env["VIADUCT_SHUTDOWN_DRAIN_SECONDS"] = "0"  # the stop, not the drain, is tested here
        listen, admin = env["VIADUCT_LISTEN"], env["VIADUCT_ADMIN_LISTEN"]
        sip, ahost_port = host_port(listen), host_port(admin)
        check(sip[0] == a["pod"] and ahost_port[0] == a["pod"],
              "VIADUCT_LISTEN %s, VIADUCT_ADMIN_LISTEN %s: not the pod's address" % (listen, admin))
        check(wait_port_free(*sip), "the SIP port is still bound")
        try:
            vd = start_viaduct(binary, [], env=env)
        except Exception as e:
            raise AssertionError("the pod's variables do not start viaduct: %s" % e)
        client = Endpoint(a["client"], 5060)
        eps.append(client)
        client.send(request("REGISTER", "sip:example.com",
                            ["SIP/2.0/UDP %s;branch=z9hG4bKpod%s;rport" % (
                                hostport(*client.addr), fam)],
                            dialog("REGISTER", "pod-%s@example.com" % fam,
                                   to_uri="sip:alice@example.com")), sip)
        got = None
        deadline = time.monotonic() + 2
        while got is None and time.monotonic() < deadline:  # probes (OPTIONS) come too
            r = recv_any(eps[:-1], 0.5)
            if r is not None and parse(r[1]).method == "REGISTER":
                got = r
        check(got is not None, "the REGISTER to the pod's address reached no registrar")
        deadline = time.monotonic() + 3
        while "management API on" not in vd.stderr_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        code, body = http("GET", ahost_port[0], ahost_port[1], "/readyz")
        check(code == 200, "/readyz: %d %r" % (code, body))
        code, _ = http("POST", ahost_port[0], ahost_port[1], "/reload")
        check(code == 401, "POST /reload without the token: %d" % code)
        code, _ = http("POST", ahost_port[0], ahost_port[1], "/reload",
                       {"Authorization": "Bearer " + STAND_IN})
        check(code == 200, "POST /reload with the token: %d" % code)
    finally:
        if vd is not None:
            rc, err = vd.stop()
            rep = sanitizer_report(err)
            check(rc == 0 and rep is None, "exit %s, sanitizer %s" % (rc, rep))
        for ep in eps:
            ep.close()
        shutil.rmtree(tmp)


def unit_lines():
    with open(UNIT) as f:
        text = f.read()
    kv = {}
    for l in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", l)
        if m:
            kv.setdefault(m.group(1), []).append(m.group(2))
    return text, kv


def unit_config(text):
    """The file the unit's ExecStart reads, and the repository file its install lines put
    there."""
    _, kv = unit_lines()
    m = re.search(r"(?:-c|--config)\s+(\S+)", kv["ExecStart"][0])
    check(m, "ExecStart names no configuration file: %s" % kv["ExecStart"])
    dst = m.group(1)
    src = re.search(r"^#\s*install\b.*\s(\S+)\s+%s\s*$" % re.escape(dst), text, re.M)
    check(src, "no install line puts a file at %s" % dst)
    return os.path.join(ROOT, src.group(1))


def t_unit_verifies(binary):
    sa = shutil.which("systemd-analyze")
    check(sa, "systemd-analyze is not installed (Debian package systemd, test/deps.sh)")
    text, _ = unit_lines()
    tmp = tempfile.mkdtemp()
    try:
        # verify wants ExecStart to exist: the binary under test stands in for /usr/local/bin
        path = os.path.join(tmp, "viaduct.service")
        with open(path, "w") as f:
            f.write(text.replace("/usr/local/bin/viaduct", os.path.abspath(binary)))
        r = subprocess.run([sa, "verify", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        check(r.returncode == 0 and not r.stdout.strip(), "systemd-analyze verify: %s" %
              r.stdout.strip())
        # exposure 0.0 (locked down) .. 10.0; --threshold is in tenths
        r = subprocess.run([sa, "security", "--offline=true", "--threshold=20", "--no-pager",
                            path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60)
        level = re.search(r"Overall exposure level for viaduct.service: ([0-9.]+)", r.stdout)
        check(r.returncode == 0 and level, "systemd-analyze security: exit %d, %s" %
              (r.returncode, r.stdout.strip()[-300:]))
        print("# systemd-analyze security: exposure %s" % level.group(1), flush=True)
    finally:
        shutil.rmtree(tmp)


SANDBOX = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
    "PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
    "RestrictNamespaces": "yes", "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "CapabilityBoundingSet": "",
    "SystemCallArchitectures": "native",
}


def t_unit_sandbox_reload_and_stop(binary):
    text, kv = unit_lines()
    for k, v in SANDBOX.items():
        check(kv.get(k) == [v], "%s=%s wanted, the unit has %s" % (k, v, kv.get(k)))
    check(kv.get("DynamicUser") == ["yes"] or (kv.get("User", ["root"])[0] not in ("root", "0")),
          "the unit runs as root")
    fam = " ".join(kv.get("RestrictAddressFamilies", [])).split()
    check(fam and "AF_INET" in fam and "AF_INET6" in fam and "AF_PACKET" not in fam,
          "RestrictAddressFamilies %s" % fam)
    calls = " ".join(v for v in kv.get("SystemCallFilter", []) if not v.startswith("~"))
    check(all(c in calls for c in ("io_uring_setup", "io_uring_enter", "io_uring_register")),
          "the system call filter leaves out io_uring: %s" % calls)
    check(kv.get("ExecReload") in (["/bin/kill -HUP $MAINPID"], ["/usr/bin/kill -HUP $MAINPID"],
                                   ["/bin/kill -s HUP $MAINPID"]),
          "ExecReload does not send HUP: %s" % kv.get("ExecReload"))
    check(kv.get("KillSignal") == ["SIGTERM"], "KillSignal %s" % kv.get("KillSignal"))
    import yaml
    conf_file = unit_config(text)
    with open(conf_file) as f:
        conf = yaml.safe_load(f) or {}
    drain = int((conf.get("shutdown") or {}).get("drain_seconds",
                                                  defaults(binary)["shutdown.drain_seconds"]))
    stop = kv.get("TimeoutStopSec", ["90"])[0]  # systemd's default
    check(re.match(r"^\d+s?$", stop) and int(stop.rstrip("s")) > drain,
          "TimeoutStopSec %s does not exceed the %d s drain of %s" % (stop, drain, conf_file))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
    r = subprocess.run([binary, "-c", conf_file, "--check"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    check(r.returncode == 0, "%s fails --check: %s" % (conf_file, r.stderr.strip()[-300:]))


def main():
    args = parse_args()
    t = Tally()
    dflt, docs = {}, None
    if not t.run("viaduct's defaults from --help-config-markdown",
                 lambda: dflt.update(defaults(args.bin))):
        return t.finish()
    got = []
    if t.run("deploy/kubernetes: every manifest parses", lambda: got.append(k8s_docs())):
        docs = got[0]
        pod = Pod(docs, dflt)
        t.run("deploy/kubernetes: the Kustomization lists every manifest",
              t_manifests_parse_and_kustomize, docs)
        t.run("deploy/kubernetes: readiness /readyz, liveness /healthz at the admin port",
              t_probes_at_the_admin_port, pod)
        t.run("deploy/kubernetes: the grace period covers preStop and the drain",
              t_grace_period_covers_prestop_and_drain, pod)
        t.run("deploy/kubernetes: the Service exposes 5060/UDP to viaduct's port",
              t_service_exposes_5060_udp, pod)
        t.run("deploy/kubernetes: the container runs as non-root", t_runs_as_non_root, pod)
        t.run("deploy/kubernetes: the ConfigMap with the Deployment's variables passes --check",
              t_configmap_with_env_passes_check, pod, args.bin)
        for fam in ("v4", "v6"):
            t.run("deploy/kubernetes: the Deployment's variables run viaduct on an %s pod "
                  "address" % ("IPv4" if fam == "v4" else "IPv6"), t_pod_env_runs, pod,
                  args.bin, fam)
    t.run("deploy/systemd: systemd-analyze verify and security", t_unit_verifies, args.bin)
    t.run("deploy/systemd: sandboxed, reload is HUP, stop is SIGTERM past the drain",
          t_unit_sandbox_reload_and_stop, args.bin)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
