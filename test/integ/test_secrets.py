#!/usr/bin/env python3
"""test_secrets.py - the secret and the hash seed across instances (issue 11), through the binary.

    sh test/integ/run.sh build/san test/integ/test_secrets.py

What several viaducts behind one Service rely on: each one accepts what another signed when
they share a secret (given as security.secret_file or VIADUCT_SECRET: the same bytes, a file's
trailing newline aside), and refuses it when they do not; without a secret each process draws
its own (kept across a reload), says so at warn level, and --check warns. During a rotation
by reload (secret_file, previous_secret_file, previous_until) the responses to what the old
secret signed still verify, and its tokens, and not after. A
shared security.hash_seed gives the same Maglev placement and the same branches on every
instance; another seed moves them. No secret
(secret, previous secret, hash seed, admin token) ever appears in /config (nor the other
endpoints), --check or the log.

Instances run one after another on the same address, as a restart or another pod would see
the traffic. Addresses (run.sh puts them on lo), per family: viaduct VD:5060, an untrusted
client C:5060 (and C:5061, a second untrusted sender), one backend BE:5070 (BE:5070-5073 for
the seed test):
    v4: VD 192.0.2.10, C 198.51.100.7, BE 203.0.113.12
    v6: VD 2001:db8::10, C 2001:db8::9:1, BE 2001:db8::1
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Endpoint, Tally, check, dialog, hostport, log_event,  # noqa: E402
                    netns_problem, parse, parse_args, parse_via, recv_any, request, response,
                    sanitizer_report, start_viaduct, wait_port_free)

FAM = {
    "v4": dict(vd="192.0.2.10", client="198.51.100.7", backend="203.0.113.12"),
    "v6": dict(vd="2001:db8::10", client="2001:db8::9:1", backend="2001:db8::1"),
}
VD_PORT, BE_PORT = 5060, 5070
SHARED = "secrets-test-shared-0123456789abcdef"
OTHER = "secrets-test-other-fedcba9876543210"
QUIET = 0.3
N = [0]


def uniq(what):
    N[0] += 1
    return "%s-%d-%d" % (what, os.getpid(), N[0])


def base_env(**extra):
    """This process's environment without VIADUCT_*, no drain, and extra (None: left out)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
    env["VIADUCT_SHUTDOWN_DRAIN_SECONDS"] = "0"
    env.update(extra)
    return env


class Net:
    """The sockets of one family, kept across the instances."""

    def __init__(self, fam, nbackends=1):
        a = FAM[fam]
        self.a = a
        self.vd = (a["vd"], VD_PORT)
        self.vd_hp = hostport(*self.vd)
        self.client = Endpoint(a["client"], 5060)
        self.other = Endpoint(a["client"], 5061)
        self.backends = [Endpoint(a["backend"], BE_PORT + i) for i in range(nbackends)]
        self.backend = self.backends[0]
        self.eps = [self.client, self.other] + self.backends

    def close(self):
        for ep in self.eps:
            ep.close()

    def drain(self):
        for ep in self.eps:
            ep.drain()

    def via(self, ep):
        return "SIP/2.0/UDP %s;branch=z9hG4bK%s;rport" % (hostport(*ep.addr), uniq("b"))


def start(binary, net, env, yaml_text=None, tmp=None):
    check(wait_port_free(*net.vd), "viaduct's port still bound")
    args = ["--listen", net.vd_hp, "--path", "--workers", "1"]
    for be in net.backends:
        args += ["--backend", hostport(*be.addr)]
    if yaml_text is not None:
        path = os.path.join(tmp, "%s.yaml" % uniq("cfg"))
        with open(path, "w") as f:
            f.write(yaml_text)
        args += ["-c", path]
    return start_viaduct(binary, args, env=env)


def finish(vd):
    code, err = vd.stop()
    rep = sanitizer_report(err)
    check(code == 0 and rep is None, "exit %r, sanitizer: %s" % (code, rep))
    return err


def token_of(net):
    """A REGISTER with Supported: path from the client; the flow token in the Path it gets."""
    net.drain()
    net.client.send(request("REGISTER", "sip:example.com", [net.via(net.client)],
                            dialog("REGISTER", uniq("reg")) + [("Supported", "path")]), net.vd)
    got = net.backend.recv(1.0)
    check(got is not None, "the REGISTER was not forwarded")
    m = re.search(r"sip:(vdf-[0-9a-f]+)@", parse(got[0]).get("Path") or "")
    check(m is not None, "no flow token in Path %r" % parse(got[0]).get("Path"))
    return m.group(1)


def along(net, token):
    """A request from the second untrusted sender along the token: (what reached the client,
    what the sender got back)."""
    net.drain()
    net.other.send(request("MESSAGE", "sip:alice@10.9.9.9", [net.via(net.other)],
                           dialog("MESSAGE", uniq("m")) + [
                               ("Route", "<sip:%s@%s;lr>" % (token, net.vd_hp))]), net.vd)
    at = net.client.recv(0.8)
    return at, net.other.recv(0.3 if at is None else 0.05)


def invite_vias(net):
    """An INVITE from the client through viaduct: the Vias the backend got, and its Call-ID."""
    net.drain()
    cid = uniq("inv")
    net.client.send(request("INVITE", "sip:bob@example.com", [net.via(net.client)],
                            dialog("INVITE", cid)), net.vd)
    got = net.backend.recv(1.0)
    check(got is not None, "the INVITE was not forwarded")
    return parse(got[0]).get_all("Via"), cid


def answer(net, vias, cid):
    """The backend's 200 to that INVITE, sent to viaduct: what reached the client."""
    net.drain()
    net.backend.send(response(200, "OK", vias, dialog("INVITE", cid, to_tag="tt")), net.vd)
    return net.client.recv(0.8)


def t_shared_secret_file_and_variable(binary, fam, tmp):
    """A signs with security.secret_file; B, with the same bytes in VIADUCT_SECRET, takes A's
    flow token and the response to A's request; C, with another secret, refuses both."""
    f1 = os.path.join(tmp, "secret-%s" % fam)
    with open(f1, "w") as f:
        f.write(SHARED + "\n")  # echo's newline is not part of the secret
    f2 = os.path.join(tmp, "other-%s" % fam)
    with open(f2, "w") as f:
        f.write(OTHER)
    net = Net(fam)
    try:
        vd = start(binary, net, base_env(VIADUCT_SECRET=None),
                   "security: {secret_file: \"%s\"}\n" % f1, tmp)
        try:
            tok = token_of(net)
            vias, cid = invite_vias(net)
        finally:
            err = finish(vd)
        check("random secret" not in err, "a configured secret_file was not used:\n" + err[-800:])

        vd = start(binary, net, base_env(VIADUCT_SECRET=SHARED))
        try:
            at, _ = along(net, tok)
            check(at is not None, "the same secret in VIADUCT_SECRET refused the file's token")
            back = answer(net, vias, cid)
            check(back is not None and parse(back[0]).status == 200,
                  "the response to the other instance's request was not relayed")
        finally:
            finish(vd)

        vd = start(binary, net, base_env(VIADUCT_SECRET=None, VIADUCT_SECRET_FILE=f2))
        try:
            before = vd.counters().get("drop_forged_via", 0)
            at, back = along(net, tok)
            check(at is None, "another secret followed the token")
            check(back is not None and parse(back[0]).status == 403,
                  "no 403 for a token of another secret: %r" % (back and back[0][:60]))
            check(answer(net, vias, cid) is None, "another secret relayed the response")
            moved = vd.counters().get("drop_forged_via", 0) - before
            check(moved == 1, "drop_forged_via +%d, want 1" % moved)
        finally:
            finish(vd)
    finally:
        net.close()


def reload(vd, n):
    """SIGHUP, then waits for the n-th "configuration reloaded" line."""
    os.kill(vd.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while vd.stderr_text().count("configuration reloaded") < n:
        check(time.monotonic() < deadline, "no reload: %s" % vd.stderr_text()[-500:])
        time.sleep(0.02)


def t_rotation_by_reload_covers_via_tags(binary, tmp):
    """A rotation as an operator does it, without a restart: secret_file becomes the new
    secret, previous_secret_file the old one with previous_until, then SIGHUP. The response
    to a request the old secret signed is relayed until previous_until and its
    retransmission after it is dropped; the old token likewise; the new secret signs."""
    old = os.path.join(tmp, "rot-old")
    with open(old, "w") as f:
        f.write(SHARED + "\n")
    new = os.path.join(tmp, "rot-new")
    with open(new, "w") as f:
        f.write(OTHER + "\n")
    cfg = os.path.join(tmp, "rotation.yaml")
    with open(cfg, "w") as f:
        f.write("security: {secret_file: \"%s\"}\n" % old)
    net = Net("v4")
    try:
        args = ["--listen", net.vd_hp, "--path", "--workers", "1", "--backend",
                hostport(*net.backend.addr), "-c", cfg]
        check(wait_port_free(*net.vd), "viaduct's port still bound")
        vd = start_viaduct(binary, args, env=base_env(VIADUCT_SECRET=None))
        try:
            vias, cid = invite_vias(net)
            tok = token_of(net)
            until = int(time.time()) + 3
            with open(cfg, "w") as f:
                f.write("security:\n  secret_file: \"%s\"\n  previous_secret_file: \"%s\"\n"
                        "  previous_until: %d\n" % (new, old, until))
            reload(vd, 1)
            back = answer(net, vias, cid)
            check(back is not None and parse(back[0]).status == 200,
                  "during the rotation, the response to the old secret's request was dropped")
            at, _ = along(net, tok)
            check(at is not None, "during the rotation, the old secret's token was refused")
            vias2, cid2 = invite_vias(net)
            tok2 = token_of(net)
            check(tok2 != tok, "the new secret made the same token")
            time.sleep(max(0.0, until - time.time()) + 0.3)
            before = vd.counters().get("drop_forged_via", 0)
            check(answer(net, vias, cid) is None, "after previous_until, the retransmitted "
                  "response was still relayed")
            check(vd.counters().get("drop_forged_via", 0) == before + 1,
                  "drop_forged_via did not move")
            at, back = along(net, tok)
            check(at is None and back is not None and parse(back[0]).status == 403,
                  "after previous_until, the old token still worked")
            back = answer(net, vias2, cid2)
            check(back is not None, "the new secret's own Via tag failed")
            at, _ = along(net, tok2)
            check(at is not None, "the new secret's own token failed")
        finally:
            finish(vd)
    finally:
        net.close()


def t_bad_secrets_refused(binary, tmp):
    """A secret under 16 bytes, a secret file that cannot be read, or both a secret and its
    file: viaduct does not start, and says why; a reload naming an unreadable file is refused
    and the running secret goes on verifying."""
    net = Net("v4")
    try:
        for extra, why in (({"VIADUCT_SECRET": "short"}, "security.secret: 5 bytes, fewer than 16"),
                           ({"VIADUCT_SECRET": None, "VIADUCT_SECRET_FILE": "/nonexistent"},
                            "security.secret: cannot read /nonexistent"),
                           ({"VIADUCT_SECRET_FILE": "/etc/hostname"},
                            "security.secret: give the secret or its file, not both"),
                           ({"VIADUCT_PREVIOUS_SECRET": "short"},
                            "security.previous_secret: 5 bytes, fewer than 16")):
            check(wait_port_free(*net.vd), "viaduct's port still bound")
            env = base_env(VIADUCT_SECRET=SHARED)
            env.update(extra)
            env = {k: v for k, v in env.items() if v is not None}
            p = subprocess.run([binary, "--listen", net.vd_hp, "--backend",
                                hostport(*net.backend.addr), "--admin", "off"], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, timeout=10)
            check(p.returncode == 1 and why in p.stderr, "%s: exit %d, %r; want 1 and %r" % (
                extra, p.returncode, p.stderr[-200:], why))
        sfile = os.path.join(tmp, "good-secret")
        with open(sfile, "w") as f:
            f.write(SHARED)
        cfg = os.path.join(tmp, "bad-reload.yaml")
        with open(cfg, "w") as f:
            f.write("security: {secret_file: \"%s\"}\n" % sfile)
        check(wait_port_free(*net.vd), "viaduct's port still bound")
        vd = start_viaduct(binary, ["--listen", net.vd_hp, "--path", "--workers", "1",
                                    "--backend", hostport(*net.backend.addr), "-c", cfg],
                           env=base_env(VIADUCT_SECRET=None))
        try:
            tok = token_of(net)
            with open(cfg, "w") as f:
                f.write("security: {secret_file: \"%s\"}\n" % os.path.join(tmp, "gone"))
            os.kill(vd.pid, signal.SIGHUP)
            deadline = time.monotonic() + 5
            while "reload refused" not in vd.stderr_text():
                check(time.monotonic() < deadline, "the reload was not refused: %s" %
                      vd.stderr_text()[-400:])
                time.sleep(0.02)
            check("cannot read %s" % os.path.join(tmp, "gone") in vd.stderr_text(),
                  "the refusal does not say why: %s" % vd.stderr_text()[-400:])
            at, _ = along(net, tok)
            check(at is not None, "after a refused reload the running secret stopped verifying")
        finally:
            finish(vd)
    finally:
        net.close()


def t_no_secret_random_and_loud(binary, tmp):
    net = Net("v4")
    try:
        vd = start(binary, net, base_env(VIADUCT_SECRET=None))
        try:
            tok = token_of(net)
            at, _ = along(net, tok)
            check(at is not None, "a random secret refused its own token")
            reload(vd, 1)  # the process keeps its random secret across a reload
            at, _ = along(net, tok)
            check(at is not None, "after a reload, the random secret's token was refused")
        finally:
            err = finish(vd)
        warns = [e for e in map(log_event, err.splitlines()) if e and "random secret" in e["msg"]]
        check(len(warns) == 1 and warns[0]["level"] == "warn" and
              "reject" in warns[0]["msg"], "the random secret is not said once at warn: %r" %
              warns)
        vd = start(binary, net, base_env(VIADUCT_SECRET=None))
        try:
            at, back = along(net, tok)
            check(at is None and back is not None and parse(back[0]).status == 403,
                  "a restarted instance's random secret took the old token")
        finally:
            finish(vd)
    finally:
        net.close()
    for env, warned in ((base_env(), True), (base_env(VIADUCT_SECRET=SHARED), False)):
        p = subprocess.run([binary, "--check", "--backend", "127.0.0.1:5070"], env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        check(p.returncode == 0, "--check exit %d: %s" % (p.returncode, p.stderr[-300:]))
        check(("warning: no security.secret_file or VIADUCT_SECRET" in p.stderr) == warned,
              "--check %s: %r" % ("with a secret" if not warned else "without one", p.stderr))


def placement(net, msgs):
    """Each message through viaduct: [(backend port, the branch of viaduct's Via)]."""
    out = []
    for m in msgs:
        net.drain()
        net.client.send(m, net.vd)
        got = recv_any(net.backends, 1.0)
        check(got is not None, "a request was not forwarded")
        # the branch alone: the vdt send-time parameter after it differs by design
        out.append((got[0].addr[1], parse_via(parse(got[1]).get_all("Via")[0]).branch))
    return out


def t_hash_seed_places_alike(binary, tmp):
    net = Net("v4", nbackends=4)
    msgs = [request("INVITE", "sip:bob@example.com",
                    ["SIP/2.0/UDP %s;branch=z9hG4bKseed%d;rport" % (hostport(*net.client.addr), i)],
                    dialog("INVITE", "seed-%d@example.com" % i)) for i in range(40)]
    got = {}
    try:
        for name, env, text in (
                ("alpha in the file", base_env(), "security: {hash_seed: alpha-seed}\n"),
                ("alpha in the variable", base_env(VIADUCT_HASH_SEED="alpha-seed"), None),
                ("beta", base_env(VIADUCT_HASH_SEED="beta-seed"), None),
                ("built in", base_env(), None)):
            vd = start(binary, net, env, text, tmp)
            try:
                got[name] = placement(net, msgs)
            finally:
                finish(vd)
    finally:
        net.close()
    a, a2, b, d = (got[k] for k in ("alpha in the file", "alpha in the variable", "beta",
                                    "built in"))
    check(a == a2, "one seed, two instances: %d of 40 placed or branched apart: %s" %
          (sum(x != y for x, y in zip(a, a2)), [(x, y) for x, y in zip(a, a2) if x != y][:2]))
    check(len(set(p for p, _ in a)) == 4, "40 keys did not reach all 4 backends: %s" % a)
    for other, what in ((b, "another seed"), (d, "the built-in seed")):
        moved = sum(x[0] != y[0] for x, y in zip(a, other))
        check(10 <= moved, "%s moved %d of 40 keys (about 30 expected)" % (what, moved))
        check(all(x[1] != y[1] for x, y in zip(a, other)), "%s kept a branch" % what)


def t_secrets_never_shown(binary, tmp):
    secret, prev, seed, token = ("shown-secret-0123456789", "shown-previous-0123456789",
                                 "shown-seed-0123", "shown-admin-token-0123")
    sfile = os.path.join(tmp, "prev-secret")
    with open(sfile, "w") as f:
        f.write(prev)
    env = base_env(VIADUCT_SECRET=secret, VIADUCT_PREVIOUS_SECRET_FILE=sfile,
                   VIADUCT_PREVIOUS_UNTIL=str(int(time.time()) + 3600),
                   VIADUCT_HASH_SEED=seed, VIADUCT_ADMIN_TOKEN=token,
                   VIADUCT_ADMIN_LISTEN="127.0.0.1:18062")
    words = (secret, prev, seed, token)
    p = subprocess.run([binary, "--check", "--backend", "127.0.0.1:5070"], env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    check(p.returncode == 0, "--check: %s" % p.stderr[-300:])
    for w in words:
        check(w not in p.stdout + p.stderr, "--check shows %r" % w)
    for line in ("  # secret: set (redacted)", "  # hash_seed: set (redacted)",
                 "  previous_secret_file: \"%s\"" % sfile):
        check(line in p.stdout.splitlines(), "--check lacks %r:\n%s" % (line, p.stdout))
    net = Net("v4")
    try:
        vd = start(binary, net, env)
        try:
            deadline = time.monotonic() + 5
            while "management API on" not in vd.stderr_text() and time.monotonic() < deadline:
                time.sleep(0.02)
            with urllib.request.urlopen("http://127.0.0.1:18062/config", timeout=5) as r:
                body = r.read().decode()
            check("# secret: set (redacted)" in body and "# hash_seed: set (redacted)" in body,
                  "/config does not say the secrets are set:\n" + body)
            for w in words:
                check(w not in body, "/config shows %r" % w)
            for path in ("/metrics", "/backends", "/healthz", "/readyz"):
                with urllib.request.urlopen("http://127.0.0.1:18062" + path, timeout=5) as r:
                    other = r.read().decode()
                for w in words:
                    check(w not in other, "%s shows %r" % (path, w))
            token_of(net)  # some traffic, signed with the secret
        finally:
            err = finish(vd)
        for w in words:
            check(w not in err, "the log shows %r" % w)
    finally:
        net.close()


def main():
    args = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("network namespace", check, False, why)
        return t.finish()
    with tempfile.TemporaryDirectory() as tmp:
        for fam in ("v4", "v6"):
            t.run("%s one secret as file or variable: tokens and Via tags cross instances; "
                  "another secret refuses both" % fam,
                  t_shared_secret_file_and_variable, args.bin, fam, tmp)
        t.run("rotation by reload: the old secret's Via tags and tokens verify until "
              "previous_until, then not", t_rotation_by_reload_covers_via_tags, args.bin, tmp)
        t.run("bad secrets: no start, with the reason; a reload to an unreadable file is "
              "refused and the secret goes on", t_bad_secrets_refused, args.bin, tmp)
        t.run("no secret: a random one, said at warn, refused by the next instance; --check "
              "warns", t_no_secret_random_and_loud, args.bin, tmp)
        t.run("hash_seed: one seed places and branches alike on two instances, another moves "
              "keys", t_hash_seed_places_alike, args.bin, tmp)
        t.run("secret, previous secret, hash seed, admin token: never in /config, --check or "
              "the log", t_secrets_never_shown, args.bin, tmp)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
