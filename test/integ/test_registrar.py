#!/usr/bin/env python3
"""test_registrar.py - viaduct in front of real registrars and real phones (issue 13).

Three Kamailio 5.6 registrars (test/integ/kamailio/registrar.cfg: usrloc in memory, Path
stored with path_mode 0, lookup("location") then t_relay(), no record-routing) behind one
viaduct (path: always, record_route, probes every 200 ms, rules: REGISTERs by To AOR, the
rest by Request-URI AOR), and four baresip 1.0 phones driven through ctrl_tcp (its JSON
command interface, whose events say when a phone registered, rang, answered, hung up):

  alice 198.51.100.31, bob 198.51.100.32   plain RFC 3261 phones (no Supported: path)
  dave  198.51.100.33                      RFC 5626 outbound (sipnat=outbound)
  carol 198.18.77.2 behind a NAT           outbound; in a network namespace of its own joined
                                           by a veth pair to a router namespace that
                                           masquerades (nftables) to 192.0.2.130: her Contact
                                           is unreachable, only the flow through viaduct works

What it checks, from the phones' events, the registrars' logs and viaduct's counters:
registration affinity (every REGISTER of one AOR at one registrar); calls between plain
phones and between outbound phones, through the NAT too (INVITE, 200, ACK, BYE from either
side, CANCEL); a registrar stopped and started again (empty: its bindings were in memory),
with calls to its user working while it is down, right after it is back (the AOR's calls
keep the fallback, fwd_rebind) and after the phone re-registered at home.

Every process is started here and stopped by its PID; the namespaces are held by `sleep`
processes started here (unshare -n), stopped by PID too. Kamailio, baresip and nft are
Debian packages (test/deps.sh). Runs in about 10 s.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import ctypes

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Failure, StartError, Tally, check, netns_problem, parse,  # noqa: E402
                    parse_args, sanitizer_report, start_viaduct)

HERE = os.path.dirname(os.path.abspath(__file__))
KAMAILIO_CFG = os.path.join(HERE, "kamailio", "registrar.cfg")
DOMAIN = "example.test"
VD = "192.0.2.10"
REGS = [("reg-a", "203.0.113.21"), ("reg-b", "203.0.113.22"), ("reg-c", "203.0.113.23")]
WAN_HERE, WAN_ROUTER = "192.0.2.129", "192.0.2.130"  # the /30 between here and the router
LAN_ROUTER, LAN_PHONE = "198.18.77.1", "198.18.77.2"  # behind the NAT
REBIND_S = 30
TMP = None


def sh(*argv, ok=True):
    r = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=10)
    if ok and r.returncode != 0:
        raise Failure("%s: exit %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
    return r


class Proc:
    """A process whose output goes to a file; stop() by PID."""

    def __init__(self, name, argv, log=None):
        self.name = name
        self.log = log or os.path.join(TMP, name + ".log")
        self.f = open(self.log, "w")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.f,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self, timeout=5.0):
        if self.p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(5)
        self.f.close()
        return self.p.returncode

# ---------------------------------------------------------------- namespaces


class Netns:
    """A network namespace held by `unshare -n sleep`, entered by nsenter -t PID -n."""

    def __init__(self, name):
        self.name = name
        self.proc = Proc("ns-" + name, ["unshare", "-n", "--", "sleep", "300"])
        mine = os.readlink("/proc/self/ns/net")
        for _ in range(200):
            try:
                if os.readlink("/proc/%d/ns/net" % self.proc.pid) != mine:
                    return
            except OSError:
                pass
            time.sleep(0.01)
        raise Failure("namespace %s did not appear" % name)

    @property
    def pid(self):
        return self.proc.pid

    def run(self, *argv, ok=True):
        return sh("nsenter", "-t", str(self.pid), "-n", "--", *argv, ok=ok)

    def argv(self, *argv):
        return ["nsenter", "-t", str(self.pid), "-n", "--"] + list(argv)

    def stop(self):
        self.proc.stop()


NAT_RULES = """
table ip nat {
    chain post {
        type nat hook postrouting priority 100; policy accept;
        oifname "vwan1" masquerade
    }
}
"""


def make_nat():
    """router and phone namespaces: phone 198.18.77.2 -> router (masquerade) -> here."""
    router, phone = Netns("router"), Netns("phone")
    sh("ip", "link", "add", "vwan0", "type", "veth", "peer", "name", "vwan1", "netns",
       str(router.pid))
    sh("ip", "addr", "add", WAN_HERE + "/30", "dev", "vwan0")
    sh("ip", "link", "set", "vwan0", "up")
    router.run("ip", "link", "add", "vlan0", "type", "veth", "peer", "name", "vlan1", "netns",
               str(phone.pid))
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "addr", "add", WAN_ROUTER + "/30", "dev", "vwan1"],
                ["ip", "link", "set", "vwan1", "up"],
                ["ip", "addr", "add", LAN_ROUTER + "/24", "dev", "vlan0"],
                ["ip", "link", "set", "vlan0", "up"],
                ["ip", "route", "add", "default", "via", WAN_HERE],
                ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]):
        router.run(*cmd)
    r = subprocess.run(router.argv("nft", "-f", "-"), input=NAT_RULES, capture_output=True,
                       text=True, timeout=10)
    check(r.returncode == 0, "nft: %s" % r.stderr.strip())
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "addr", "add", LAN_PHONE + "/24", "dev", "vlan1"],
                ["ip", "link", "set", "vlan1", "up"],
                ["ip", "route", "add", "default", "via", LAN_ROUTER]):
        phone.run(*cmd)
    return router, phone


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def connect_in(ns, addr, timeout=5.0):
    """A TCP connection made from inside namespace ns (None: this one): setns is per
    thread, so a thread of its own enters it, connects, and is done; the socket stays in
    the namespace it was made in."""
    out = {}

    def go():
        try:
            if ns is not None:
                fd = os.open("/proc/%d/ns/net" % ns.pid, os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                finally:
                    os.close(fd)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    out["s"] = socket.create_connection(addr, timeout=1.0)
                    return
                except OSError as e:
                    if time.monotonic() > deadline:
                        out["e"] = e
                        return
                    time.sleep(0.05)
        except OSError as e:
            out["e"] = e

    t = threading.Thread(target=go)
    t.start()
    t.join(timeout + 2)
    if "s" not in out:
        raise Failure("cannot connect to %s:%d: %s" % (addr[0], addr[1], out.get("e")))
    return out["s"]

# ---------------------------------------------------------------- Kamailio


class Registrar:
    def __init__(self, name, ip):
        self.name, self.ip = name, ip
        self.runs = 0
        self.proc = None
        self.start()

    def start(self):
        self.runs += 1
        rundir = os.path.join(TMP, "%s-run%d" % (self.name, self.runs))
        os.makedirs(rundir)
        self.proc = Proc("%s-%d" % (self.name, self.runs), [
            "kamailio", "-f", KAMAILIO_CFG, "-DD", "-E", "-n", "2", "-m", "32", "-M", "4",
            "-l", "udp:%s:5060" % self.ip, "-Y", rundir, "-w", rundir,
            "--alias=%s" % DOMAIN])
        # ready when it answers OPTIONS
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.1)
        try:
            for i in range(100):
                check(self.proc.alive(), "kamailio %s exited: %s" % (self.name,
                                                                     self.proc.text()[-800:]))
                msg = ("OPTIONS sip:%s:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;"
                       "branch=z9hG4bKready%d\r\nFrom: <sip:t@test>;tag=1\r\nTo: <sip:%s>\r\n"
                       "Call-ID: ready-%d\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 5\r\n"
                       "Content-Length: 0\r\n\r\n" % (self.ip, s.getsockname()[1], i,
                                                      self.ip, i))
                s.sendto(msg.encode(), (self.ip, 5060))
                try:
                    if s.recv(4096).startswith(b"SIP/2.0 200"):
                        return
                except socket.timeout:
                    pass
            raise Failure("kamailio %s never answered OPTIONS: %s" % (self.name,
                                                                      self.proc.text()[-800:]))
        finally:
            s.close()

    def stop(self):
        return self.proc.stop() if self.proc else None

    def lines(self, what):
        """The REQ/RPL/NOBINDING lines of every run so far that contain what."""
        out = []
        for r in range(1, self.runs + 1):
            path = os.path.join(TMP, "%s-%d.log" % (self.name, r))
            with open(path, errors="replace") as f:
                for ln in f:
                    i = ln.find("REQ ")
                    i = i if i >= 0 else ln.find("RPL ")
                    i = i if i >= 0 else ln.find("NOBINDING ")
                    i = i if i >= 0 else ln.find("BINDING ")
                    if i >= 0 and what in ln:
                        out.append(ln[i:].strip())
        return out

# ---------------------------------------------------------------- baresip


class Phone:
    """baresip with ctrl_tcp: commands as netstring JSON, events gathered by a thread."""

    def __init__(self, user, ip, outbound=False, ns=None):
        self.user, self.ip, self.ns = user, ip, ns
        self.aor = "sip:%s@%s" % (user, DOMAIN)
        d = os.path.join(TMP, "baresip-" + user)
        os.makedirs(d)
        with open(os.path.join(d, "config"), "w") as f:
            f.write("poll_method epoll\nsip_listen %s:5060\ncall_local_timeout 120\n"
                    "audio_source ausine,440\nausrc_srate 48000\nausrc_channels 2\naudio_alert none\nrtp_ports 10000-10100\n"
                    "module_path /usr/lib/baresip/modules\nmodule g711.so\n"
                    "module ausine.so\nmodule_tmp uuid.so\nmodule_tmp account.so\n"
                    "module_app menu.so\nmodule_app ctrl_tcp.so\n"
                    "ctrl_tcp_listen %s:4444\n" % (ip, ip))
        params = ';outbound="sip:%s:5060;lr";regint=60;answermode=manual;audio_codecs=PCMU' % VD
        if outbound:
            params += ";sipnat=outbound"
        self.account = "<%s>%s" % (self.aor, params)
        with open(os.path.join(d, "accounts"), "w") as f:
            f.write(self.account + "\n")
        argv = ["baresip", "-f", d]
        self.proc = Proc("baresip-" + user, ns.argv(*argv) if ns else argv)
        self.events = []
        self.cond = threading.Condition()
        self.responses = {}
        self.token = 0
        self.sock = connect_in(ns, (ip, 4444))
        self.sock.settimeout(None)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                return
            buf += chunk
            while True:
                colon = buf.find(b":")
                if colon < 0:
                    break
                n = int(buf[:colon])
                if len(buf) < colon + 1 + n + 1:
                    break
                body = buf[colon + 1:colon + 1 + n]
                buf = buf[colon + 2 + n:]
                try:
                    msg = json.loads(body)
                except ValueError:
                    continue
                with self.cond:
                    if msg.get("response"):
                        self.responses[msg.get("token")] = msg
                    elif msg.get("event"):
                        msg["t"] = time.monotonic()
                        self.events.append(msg)
                    self.cond.notify_all()

    def cmd(self, command, params=""):
        self.token += 1
        tok = "%s-%d" % (self.user, self.token)
        data = json.dumps({"command": command, "params": params, "token": tok}).encode()
        self.sock.sendall(b"%d:%s," % (len(data), data))
        deadline = time.monotonic() + 3
        with self.cond:
            while tok not in self.responses:
                left = deadline - time.monotonic()
                check(left > 0, "%s: no response to %s" % (self.user, command))
                self.cond.wait(left)
            return self.responses.pop(tok)

    def mark(self):
        with self.cond:
            return len(self.events)

    def wait(self, etype, since=0, timeout=10.0):
        """The first event of type etype after index since."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events[since:]:
                    if e.get("type") == etype:
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [e.get("type") for e in self.events[since:]]
                    raise Failure("%s: no %s within %.0f s (events: %s)\n%s" % (
                        self.user, etype, timeout, got, self.proc.text()[-1500:]))
                self.cond.wait(left)

    def register(self, unregistered=None):
        """A REGISTER now: baresip 1.0 has no re-register command, so the user agent is
        deleted (its un-REGISTER goes where the AOR's REGISTERs go) and made again. The new
        one has the same Contact, so its REGISTER must not overtake the un-REGISTER at a
        registrar that runs two workers: unregistered() says when a registrar got it."""
        self.cmd("uadel", self.aor)
        if unregistered is not None:
            deadline = time.monotonic() + 5
            while not unregistered():
                check(time.monotonic() < deadline, "%s: no un-REGISTER reached a registrar"
                      % self.user)
                time.sleep(0.02)
            time.sleep(0.1)  # its 200 is sent after the line is logged
        m = self.mark()
        r = self.cmd("uanew", self.account)
        check(r.get("ok"), "%s: uanew refused: %s" % (self.user, r))
        self.wait("REGISTER_OK", m)

    def stop(self):
        try:
            self.sock.close()
        except OSError:
            pass
        return self.proc.stop()

# ---------------------------------------------------------------- the world


class World:
    def __init__(self, binary):
        self.binary = binary
        self.regs, self.phones, self.ns = [], {}, []
        self.vd = None

    def start(self):
        router, phone_ns = make_nat()
        self.ns += [router, phone_ns]
        for name, ip in REGS:
            self.regs.append(Registrar(name, ip))
        cfg = os.path.join(TMP, "viaduct.yaml")
        with open(cfg, "w") as f:
            f.write('listen: ["%s:5060"]\nworkers: 2\nrecord_route: true\npath: always\n'
                    "registration_interval: %d\n"
                    "health: {enabled: true, interval_ms: 200, timeout_ms: 150, down_after: 2, "
                    "up_after: 2}\n"
                    "pools:\n  - name: registrars\n    backends:\n" % (VD, REBIND_S))
            for name, ip in REGS:
                f.write('      - {address: "%s:5060", name: %s}\n' % (ip, name))
            f.write("rules:\n  - {match: {method: [REGISTER]}, pool: registrars, key: to-aor}\n"
                    "  - {pool: registrars, key: ruri-aor}\n")
        try:
            self.vd = start_viaduct(self.binary, ["-c", cfg])
        except StartError as e:
            raise Failure(str(e))
        self.phones["alice"] = Phone("alice", "198.51.100.31")
        self.phones["bob"] = Phone("bob", "198.51.100.32")
        self.phones["dave"] = Phone("dave", "198.51.100.33", outbound=True)
        self.phones["carol"] = Phone("carol", LAN_PHONE, outbound=True, ns=phone_ns)
        # the first REGISTER_OK may come before the control connection: register again
        for u in self.phones:
            self.register(u)

    def register(self, user):
        """user's phone registers again (Phone.register), once its un-REGISTER is in."""
        def zeros():
            return sum(1 for r in self.regs for l in r.lines("BINDING sip:%s@" % user)
                       if "expires=0" in l)
        n = zeros()
        self.phones[user].register(lambda: zeros() > n)

    def home(self, user):
        """The registrars that got a REGISTER of user's AOR from viaduct."""
        return [r for r in self.regs
                if any(l.startswith("REQ REGISTER") for l in
                       r.lines("to=sip:%s@%s" % (user, DOMAIN)))]

    def close(self):
        for p in self.phones.values():
            p.stop()
        code, err = (None, "")
        if self.vd is not None:
            alive = self.vd.alive()
            code, err = self.vd.stop()
            self.vd_exit = (alive, code, err)
        for r in self.regs:
            r.stop()
        for n in self.ns:
            n.stop()
        sh("ip", "link", "del", "vwan0", ok=False)


def call(w, caller, callee, hangup_by=None, answer=True):
    """caller dials callee; callee answers (or not: caller cancels); hangup_by ends it.
    Returns the Call-ID the registrar logged for the INVITE."""
    a, b = w.phones[caller], w.phones[callee]
    ma, mb = a.mark(), b.mark()
    r = a.cmd("dial", "sip:%s@%s" % (callee, DOMAIN))
    check(r.get("ok"), "%s: dial refused: %s" % (caller, r))
    b.wait("CALL_INCOMING", mb)
    if not answer:
        a.wait("CALL_RINGING", ma)
        a.cmd("hangup")  # a CANCEL: the call never answered
        b.wait("CALL_CLOSED", mb)
        a.wait("CALL_CLOSED", ma)
        return
    b.cmd("accept")
    a.wait("CALL_ESTABLISHED", ma)
    b.wait("CALL_ESTABLISHED", mb)
    time.sleep(0.3)  # the callee has its ACK by now, or would resend its 200
    x = w.phones[hangup_by or caller]
    y = b if x is a else a
    my = y.mark()
    x.cmd("hangup")
    y.wait("CALL_CLOSED", my)  # the BYE reached the other phone


def wait_log(w, what, timeout=10.0):
    """Until viaduct logged a line containing what (its health changes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what in w.vd.stderr_text():
            return
        time.sleep(0.05)
    raise Failure("viaduct never logged %r: %s" % (what, w.vd.stderr_text()[-1500:]))


def step(what):
    print("   step: %s" % what, flush=True)


def counters(w):
    return w.vd.counters()


def t_registrars_and_phones(binary):
    w = World(binary)
    try:
        w.start()
        # registration affinity: every REGISTER of one AOR (two at least) at one registrar
        homes = {}
        for u in w.phones:
            h = w.home(u)
            check(len(h) == 1, "REGISTERs of %s reached %s, want one registrar" %
                  (u, [r.name for r in h]))
            n = len([l for l in h[0].lines("to=sip:%s@" % u) if l.startswith("REQ REGISTER")])
            check(n >= 2, "%s: %d REGISTERs at %s, want 2" % (u, n, h[0].name))
            homes[u] = h[0]
        print("   homes: %s" % {u: r.name for u, r in homes.items()}, flush=True)
        c0 = counters(w)
        step("calls between plain phones")
        # plain phones: BYE from either side, and a CANCEL
        call(w, "alice", "bob")
        call(w, "bob", "alice", hangup_by="alice")
        call(w, "alice", "bob", answer=False)
        check(any(l.startswith("REQ CANCEL") for l in homes["bob"].lines("sip:bob@")),
              "bob's registrar %s saw no CANCEL: %s" % (homes["bob"].name,
                                                       homes["bob"].lines("sip:bob@")))
        step("calls between outbound phones, one behind the NAT")
        # outbound phones, one behind the NAT: her Contact is unreachable from here
        call(w, "dave", "carol")
        call(w, "carol", "dave", hangup_by="dave")
        call(w, "alice", "carol", hangup_by="carol")
        call(w, "carol", "bob", answer=False)
        c1 = counters(w)
        for m in ("invite", "ack", "bye", "cancel"):
            check(c1.get("method_" + m, 0) > c0.get("method_" + m, 0),
                  "viaduct saw no %s" % m.upper())
        # the in-dialog requests went phone to phone along viaduct's flows: no registrar
        # saw a BYE (they do not record-route; an ACK of a 487 is theirs, hop by hop)
        for r in w.regs:
            bad = [l for l in r.lines(" ") if l.startswith("REQ BYE")]
            check(not bad, "%s saw in-dialog requests: %s" % (r.name, bad[:3]))
        for k in ("drop_to_self", "drop_forbidden_destination", "drop_not_relayed",
                  "local_403", "local_404", "no_route"):
            check(c1.get(k, 0) == 0, "viaduct %s = %s" % (k, c1.get(k)))
        # carol's Contact is her private address, unreachable from here; the Path viaduct
        # gave her REGISTER names the NAT's public address (192.0.2.130 = c0000282)
        b = homes["carol"].lines("BINDING sip:carol@")
        check(b and all("@%s:5060" % LAN_PHONE in l and "vdf-4c0000282" in l for l in b),
              "carol's bindings: %s" % b)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.sendto(b"\r\n\r\n", (LAN_PHONE, 5060))
            reach = True
        except OSError:
            reach = False
        finally:
            s.close()
        check(not reach, "carol's Contact %s is reachable from here: no NAT" % LAN_PHONE)
        # path: always: the plain phones' REGISTERs (no Supported: path) got a Path too
        b = homes["alice"].lines("BINDING sip:alice@")
        check(b and all("vdf-4c633641f" in l for l in b), "alice's bindings: %s" % b)

        # bob's registrar stops; its phones re-register at the fallback (as they would
        # over an outage longer than their refresh interval); calls go on
        home = homes["bob"]
        users = [u for u in w.phones if homes[u] is home]
        step("%s stops (users %s)" % (home.name, users))
        home.stop()
        wait_log(w, "backend %s (pool registrars): up -> down" % home.name)
        for u in users:
            w.register(u)
        others = [r for r in w.home("bob") if r is not home]
        check(others, "bob's REGISTER while %s was down reached no other registrar" %
              home.name)
        step("calls while %s is down" % home.name)
        call(w, "dave", "bob")
        # it comes back empty (bindings in memory); bob's calls keep the fallback
        step("%s returns" % home.name)
        home.start()
        wait_log(w, "backend %s (pool registrars): down -> up" % home.name)
        c2 = counters(w)
        call(w, "dave", "bob", hangup_by="bob")
        call(w, "carol", "bob", answer=False)
        c3 = counters(w)
        check(c3.get("fwd_rebind", 0) > c2.get("fwd_rebind", 0),
              "fwd_rebind did not move: bob's calls went home before his binding")
        check(not home.lines("NOBINDING"), "%s answered 404 after its return: %s" %
              (home.name, home.lines("NOBINDING")))
        # bob refreshes: his REGISTER goes home at once, and calls still work
        n0 = len(home.lines("REQ REGISTER"))
        w.register("bob")
        check(len(home.lines("REQ REGISTER")) > n0,
              "bob's refresh after the return did not reach %s" % home.name)
        step("after bob's refresh at home")
        call(w, "carol", "bob")
        call(w, "bob", "dave")
    finally:
        w.close()
        if getattr(w, "vd_exit", None):
            with open(os.path.join(TMP, "viaduct.log"), "w") as f:
                f.write(w.vd_exit[2])
    alive, code, err = w.vd_exit
    check(alive, "viaduct had exited (%s): %s" % (code, err[-1500:]))
    check(code == 0, "viaduct exited %s: %s" % (code, err[-1500:]))
    rep = sanitizer_report(err)
    check(rep is None, "sanitizer: %s" % rep)


def main():
    global TMP
    args = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("netns", lambda: check(False, why))
        sys.exit(t.finish())
    for k in [k for k in os.environ if k.startswith("VIADUCT_")]:
        del os.environ[k]
    missing = [p for p in ("kamailio", "baresip", "nft", "nsenter", "unshare")
               if shutil.which(p) is None]
    if missing:
        t.run("tools", lambda: check(False, "not installed: %s (test/deps.sh)" % missing))
        sys.exit(t.finish())
    TMP = tempfile.mkdtemp(prefix="viaduct-registrar-")
    t0 = time.monotonic()
    try:
        t.run("kamailio_registrars_baresip_phones_nat", t_registrars_and_phones, args.bin)
    finally:
        if os.environ.get("INTEG_KEEP") or t.failed:
            print("   (kept %s)" % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    print("   (run time %.1f s)" % (time.monotonic() - t0), flush=True)
    sys.exit(t.finish())


if __name__ == "__main__":
    main()
