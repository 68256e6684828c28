"""sipnet.py - shared helpers for viaduct's integration tests (Python 3 stdlib only).

Every test file that imports this runs inside the private network namespace
test/integ/run.sh sets up; nothing here creates or leaves one.

Processes
  vd = start_viaduct(bin, ["--listen", "127.0.0.1:5060", "--backend", ...], env=None)
        starts the binary (with --admin off unless args give --admin), waits (<= 10 s) for
        its "viaduct ...: N worker" line,
        raises StartError(stderr) if it exits or never says it. Without env it runs
        with this process's environment plus VIADUCT_SHUTDOWN_DRAIN_SECONDS=0 (unless
        that is set): SIGTERM's drain (5 s by default) would add 5 s to every stop.
        A --drain-seconds flag overrides it; env= is used as given. Either way
        VIADUCT_SECRET is TEST_SECRET unless set; a variable whose value is None is left
        out (VIADUCT_SECRET=None: no secret at all). VIADUCT_ADMIN_LISTEN in the
        environment also keeps the API on (None: on viaduct's default address).
  vd.pid, vd.alive()
  vd.counters()            SIGUSR1, then {name: int} from the block it prints
  vd.wait_counter(name, at_least, timeout=1.5) -> last value seen
  vd.stderr_text()         everything read from its stderr so far
  log_event(line) -> {ts, level, msg, field: value} of one log line (logfmt or JSON), or None
  log_messages(text) -> the msg of each log line, in order
  vd.stop(timeout=5)       SIGTERM by pid, wait -> (exit code, stderr text);
                           vd.stop_seconds is how long the exit took; SIGKILL
                           (by pid) only if it did not exit in time (code None)
  sanitizer_report(text)   the first sanitizer line in a stderr text, or None
  port_free(ip, port)      True if a plain UDP socket (no SO_REUSEPORT) can bind there now
  wait_port_free(ip, port, timeout=2) -> True once it can (an exited io_uring process may
                           hold its sockets for some ms; a new viaduct would share the port
                           with them through SO_REUSEPORT and lose what they get)

One thread
  worker_threads(pid, n=1) -> the tids of viaduct's workers (pinned to one CPU each)
  stop_thread(tid), resume_thread(tid)   ptrace stops that thread alone (its process runs on)
  udp_queue(port) -> (bytes queued, receive buffer) of the UDP socket on port (ss), or None

UDP
  ep = Endpoint("127.0.0.1", 7000)      ("::1" etc. for IPv6); ep.addr = (ip, port)
  ep.send(data, addr); ep.recv(timeout=0.5) -> (bytes, (ip, port)) or None
  ep.drain(); ep.close()
  recv_any([ep1, ep2], timeout) -> (ep, bytes, (ip, port)) or None
  hostport(ip, port) -> "1.2.3.4:5" or "[::1]:5"

SIP (all text is latin-1, so bytes round-trip exactly)
  request(method, ruri, vias, headers=(), body=b"", version="SIP/2.0",
          content_length=True) -> bytes
  response(code, reason, vias, headers=(), body=b"") -> bytes
        vias: list of Via values, one "Via: " line each ("a, b" shares a line);
        headers: (name, value) pairs or whole raw lines (str, no CRLF).
        Content-Length is appended last unless content_length=False.
  dialog(method, call_id, cseq=1, from_tag="ft1", to_tag=None, max_forwards=70,
         to_uri="sip:bob@example.com", from_uri="sip:alice@example.com")
        -> the usual From/To/Call-ID/CSeq/Max-Forwards pairs (max_forwards=None omits it)
  m = parse(bytes) -> Msg  (raises ValueError if there is no start line)
        m.raw, m.start, m.is_request, m.method, m.ruri, m.version, m.status, m.reason,
        m.body (bytes), m.headers [(name, value unfolded)], m.lines [raw line str]
        m.get(name) first value or None; m.get_all(name) values in order;
        m.items(name) comma elements over all lines; m.raw_lines(name);
        names are case-insensitive and compact forms match (v = Via, i = Call-ID ...)
  split_list(value) -> elements (commas inside quotes / <> kept)
  v = parse_via(value) -> Via: v.transport, v.host (no brackets), v.port (or None),
        v.params {lower name: value or None}, v.branch, v.raw
  header_param(value, name) -> value of ";name=" after a name-addr (e.g. To tag) or None

STUN (RFC 5389)
  data, txid = stun_binding_request()
  s = stun_parse(data) -> {"type", "length", "cookie", "txid", "attrs": [(type, value)]} or None
  stun_xor_mapped(value, txid) -> (ip, port)

Namespace
  netns_problem() -> None inside a private network namespace (only lo exists), else why not;
                     a test file that starts viaduct refuses to run when it says something

Reporting
  t = Tally(); t.run(name, fn, *args)   prints "ok name" or "FAIL name: why"
  check(cond, why) raises Failure(why); t.finish() prints "N passed, M failed", returns 0/1
  args = parse_args()                   --bin PATH (required)
"""

import argparse
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import threading
import time
import traceback

# ---------------------------------------------------------------- processes

# the start line's message, in either log format (logfmt msg="...", JSON "msg":"...")
START_RE = re.compile(r'(?:^|msg="|"msg":")viaduct \S+: \d+ worker')
LOGFMT_RE = re.compile(r'([a-z_][a-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)')
COUNTER_RE = re.compile(r"^([a-z][a-z0-9_]*) (\d+)$")
SANITIZER_RE = re.compile(
    r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
    r"UndefinedBehaviorSanitizer|ThreadSanitizer|AddressSanitizer:DEADLYSIGNAL)")


class StartError(Exception):
    pass


def sanitizer_report(text):
    for line in text.splitlines():
        if SANITIZER_RE.search(line):
            return line.strip()
    return None


# Every viaduct the tests start shares this secret (VIADUCT_SECRET) unless the environment
# gives another: via_tag below can then sign responses as if to a request viaduct forwarded.
TEST_SECRET = "viaduct-integration-test-secret"


class Viaduct:
    def __init__(self, binary, args, ready_timeout=10.0, env=None):
        args = list(args)
        given = env is not None
        env = dict(os.environ if env is None else env)
        if not given:
            env.setdefault("VIADUCT_SHUTDOWN_DRAIN_SECONDS", "0")
        env.setdefault("VIADUCT_SECRET", TEST_SECRET)
        # the management API's default port would collide between the viaducts tests run
        # side by side: off unless a test asks for it (--admin, or admin in its env; given as
        # None, viaduct's own default)
        if not any(a == "--admin" or a.startswith("--admin=") for a in args) and \
                "VIADUCT_ADMIN_LISTEN" not in env:
            args += ["--admin", "off"]
        env = {k: v for k, v in env.items() if v is not None}  # None: leave the variable out
        self.argv = [binary] + args
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self.stop_seconds = None
        self._lines = []
        self._cond = threading.Condition()
        self._eof = False
        self._last_counter = None  # last name of a counter block, learnt once
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + ready_timeout
        with self._cond:
            while True:
                if any(START_RE.search(l) for l in self._lines):
                    return
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
        code, err = self.stop(timeout=2)
        raise StartError("viaduct did not start (exit %s): %s" % (code, err.strip()))

    def _read(self):
        for raw in iter(self.proc.stderr.readline, b""):
            with self._cond:
                self._lines.append(raw.decode("latin-1").rstrip("\r\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def alive(self):
        return self.proc.poll() is None

    def stderr_text(self):
        with self._cond:
            return "\n".join(self._lines)

    def counters(self, timeout=2.0):
        """Sends SIGUSR1 and returns the counters it prints ({} if none came)."""
        with self._cond:
            n0 = len(self._lines)
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        got, last_change = {}, None
        with self._cond:
            while True:
                got, names = {}, []
                for l in self._lines[n0:]:
                    m = COUNTER_RE.match(l)
                    if m:
                        got[m.group(1)] = int(m.group(2))
                        names.append(m.group(1))
                if self._last_counter is not None and self._last_counter in got:
                    return got
                now = time.monotonic()
                if names:
                    # first block: it is complete once stderr stays quiet
                    if last_change is None or len(names) != last_change[0]:
                        last_change = (len(names), now)
                    elif now - last_change[1] >= 0.15:
                        self._last_counter = names[-1]
                        return got
                if now >= deadline or self._eof:
                    return got
                self._cond.wait(0.03)

    def wait_counter(self, name, at_least, timeout=1.5):
        deadline = time.monotonic() + timeout
        v = None
        while True:
            v = self.counters().get(name)
            if v is not None and v >= at_least:
                return v
            if time.monotonic() >= deadline:
                return v
            time.sleep(0.03)

    def stop(self, timeout=5.0):
        t0 = time.monotonic()
        code = self.proc.poll()
        if code is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(5)
                code = None
        self.stop_seconds = time.monotonic() - t0
        self._reader.join(2)
        return code, self.stderr_text()


def log_event(line):
    """One log line (logfmt or JSON) as a dict {ts, level, msg, fields...}; None if the line is
    not one (a counter line, a sanitizer report)."""
    if line.startswith("{"):
        try:
            import json
            d = json.loads(line)
        except ValueError:
            return None
        return d if isinstance(d, dict) and "msg" in d else None
    if not line.startswith("ts="):
        return None
    d = {}
    for k, v in LOGFMT_RE.findall(line):
        if v.startswith('"'):
            import json
            v = json.loads(v)  # logfmt's quoting is JSON's (core/log.c)
        d[k] = v
    return d if "msg" in d and "level" in d else None


def log_messages(text):
    """The msg of every log line of a stderr text, in order."""
    return [e["msg"] for e in map(log_event, text.splitlines()) if e is not None]


def start_viaduct(binary, args, ready_timeout=10.0, env=None):
    return Viaduct(binary, args, ready_timeout, env)


def port_free(ip, port):
    s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_port_free(ip, port, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not port_free(ip, port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True

# ---------------------------------------------------------------- one thread stopped

PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
_WALL = 0x40000000


def _ptrace(req, tid):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    if libc.ptrace(req, tid, None, None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "ptrace(%#x, %d): %s" % (req, tid, os.strerror(e)))


def worker_threads(pid, n=1, timeout=2.0):
    """The thread ids of pid allowed on one CPU only: its workers (core/worker.c pins each as
    it starts, so this waits until n of them are). Needs a process allowed on 2+ CPUs."""
    deadline = time.monotonic() + timeout
    while True:
        out = []
        for tid in sorted(int(t) for t in os.listdir("/proc/%d/task" % pid)):
            try:
                with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
                    cpus = [l.split(":")[1].strip() for l in f
                            if l.startswith("Cpus_allowed_list")]
            except OSError:
                continue
            if cpus and cpus[0].isdigit():
                out.append(tid)
        if len(out) >= n or time.monotonic() >= deadline:
            return out
        time.sleep(0.01)


def stop_thread(tid):
    """Stops that one thread (PTRACE_SEIZE + PTRACE_INTERRUPT; SIGSTOP would stop its whole
    process) and waits until it is stopped. resume_thread(tid) lets it run again."""
    _ptrace(PTRACE_SEIZE, tid)
    _ptrace(PTRACE_INTERRUPT, tid)
    os.waitpid(tid, _WALL)


def resume_thread(tid):
    _ptrace(PTRACE_DETACH, tid)


def udp_queue(port):
    """(bytes queued, receive buffer) of the UDP socket bound to port, from ss's skmem."""
    out = subprocess.run(["ss", "-uamnH", "sport", "=", ":%d" % port], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, timeout=5).stdout
    m = re.search(r"skmem:\(r(\d+),rb(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None

# ---------------------------------------------------------------- UDP


def hostport(ip, port):
    return "[%s]:%d" % (ip, port) if ":" in ip else "%s:%d" % (ip, port)


class Endpoint:
    def __init__(self, ip, port):
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((ip, port))
        self.addr = (ip, port)

    def fileno(self):
        return self.sock.fileno()

    def send(self, data, addr):
        self.sock.sendto(data, addr)

    def recv(self, timeout=0.5):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return None
        data, a = self.sock.recvfrom(65535)
        return data, (a[0], a[1])

    def drain(self):
        n = 0
        while n < 10000 and self.recv(0) is not None:
            n += 1
        return n

    def close(self):
        self.sock.close()


def recv_any(endpoints, timeout=0.5):
    r, _, _ = select.select(endpoints, [], [], timeout)
    if not r:
        return None
    ep = r[0]
    data, a = ep.sock.recvfrom(65535)
    return ep, data, (a[0], a[1])

# ---------------------------------------------------------------- SIP build


def _enc(s):
    return s if isinstance(s, bytes) else s.encode("latin-1")


def _head_lines(vias, headers):
    out = ["Via: %s" % v for v in vias]
    for h in headers:
        out.append(h if isinstance(h, str) else "%s: %s" % h)
    return out


def request(method, ruri, vias, headers=(), body=b"", version="SIP/2.0",
            content_length=True):
    lines = ["%s %s %s" % (method, ruri, version)] + _head_lines(vias, headers)
    body = _enc(body)
    if content_length:
        lines.append("Content-Length: %d" % len(body))
    return _enc("\r\n".join(lines) + "\r\n\r\n") + body


def response(code, reason, vias, headers=(), body=b"", content_length=True):
    lines = ["SIP/2.0 %d %s" % (code, reason)] + _head_lines(vias, headers)
    body = _enc(body)
    if content_length:
        lines.append("Content-Length: %d" % len(body))
    return _enc("\r\n".join(lines) + "\r\n\r\n") + body


def dialog(method, call_id, cseq=1, from_tag="ft1", to_tag=None, max_forwards=70,
           to_uri="sip:bob@example.com", from_uri="sip:alice@example.com"):
    h = []
    if max_forwards is not None:
        h.append(("Max-Forwards", str(max_forwards)))
    h.append(("From", "<%s>;tag=%s" % (from_uri, from_tag)))
    h.append(("To", "<%s>" % to_uri + (";tag=%s" % to_tag if to_tag else "")))
    h.append(("Call-ID", call_id))
    h.append(("CSeq", "%d %s" % (cseq, method)))
    return h

# ---------------------------------------------------------------- SIP parse


COMPACT = {"v": "via", "i": "call-id", "f": "from", "t": "to", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported", "s": "subject",
           "e": "content-encoding", "o": "event", "r": "refer-to", "u": "allow-events"}


def canonical(name):
    n = name.strip().lower()
    return COMPACT.get(n, n)


class Msg:
    def get(self, name):
        v = self.get_all(name)
        return v[0] if v else None

    def get_all(self, name):
        c = canonical(name)
        return [v for n, v in self.headers if canonical(n) == c]

    def raw_lines(self, name):
        c = canonical(name)
        return [l for (n, _), l in zip(self.headers, self.lines) if canonical(n) == c]

    def items(self, name):
        out = []
        for v in self.get_all(name):
            out.extend(split_list(v))
        return out


def parse(data):
    text = data.decode("latin-1")
    i = text.find("\r\n\r\n")
    if i >= 0:
        head, body = text[:i], data[i + 4:]
    else:
        j = text.find("\n\n")
        head, body = (text[:j], data[j + 2:]) if j >= 0 else (text, b"")
    rows = re.split(r"\r?\n", head)
    if not rows or not rows[0]:
        raise ValueError("no start line")
    m = Msg()
    m.raw, m.body, m.start = data, body, rows[0]
    parts = m.start.split(" ", 2)
    m.is_request = not m.start.upper().startswith("SIP/")
    m.method = m.ruri = m.status = m.reason = None
    if m.is_request:
        if len(parts) != 3:
            raise ValueError("bad request line %r" % m.start)
        m.method, m.ruri, m.version = parts
    else:
        m.version = parts[0]
        m.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        m.reason = parts[2] if len(parts) > 2 else ""
    m.headers, m.lines = [], []
    sep = "\r\n" if "\r\n" in head else "\n"
    for row in rows[1:]:
        if row[:1] in (" ", "\t") and m.lines:
            m.lines[-1] += sep + row
            n, v = m.headers[-1]
            m.headers[-1] = (n, (v + " " + row.strip()).strip())
            continue
        n, _, v = row.partition(":")
        m.headers.append((n.strip(), v.strip()))
        m.lines.append(row)
    return m


def split_list(value):
    out, cur, q, ang, esc = [], "", False, False, False
    for ch in value:
        if esc:
            esc = False
        elif q and ch == "\\":
            esc = True
        elif ch == '"':
            q = not q
        elif not q and ch == "<":
            ang = True
        elif not q and ch == ">":
            ang = False
        elif ch == "," and not q and not ang:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


class Via:
    pass


def parse_via(value):
    v = Via()
    v.raw = value
    proto, _, rest = value.strip().partition(" ")
    v.transport = proto.split("/")[-1].strip()
    rest = rest.strip()
    hp, _, params = rest.partition(";")
    hp = hp.strip()
    if hp.startswith("["):
        close = hp.find("]")
        v.host = hp[1:close]
        port = hp[close + 1:].lstrip(":").strip()
    else:
        v.host, _, port = hp.partition(":")
        v.host = v.host.strip()
    v.port = int(port) if port.strip().isdigit() else None
    v.params = {}
    for p in params.split(";") if params else []:
        n, eq, val = p.partition("=")
        v.params[n.strip().lower()] = val.strip() if eq else None
    v.branch = v.params.get("branch")
    return v


def header_param(value, name):
    i = value.rfind(">")
    tail = value[i + 1:] if i >= 0 else value
    for p in tail.split(";")[1:]:
        n, eq, val = p.partition("=")
        if n.strip().lower() == name.lower():
            return val.strip() if eq else ""
    return None

# ---------------------------------------------------------------- the Via tag


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & 0xFFFFFFFFFFFFFFFF


def siphash24(key, data):
    """SipHash-2-4 of data under a 16-byte key, as a 64-bit integer (libsodium's crypto_shorthash
    writes it little-endian)."""
    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261,
         k1 ^ 0x7465646279746573]
    M = 0xFFFFFFFFFFFFFFFF

    def rnd():
        v[0] = (v[0] + v[1]) & M; v[1] = _rotl(v[1], 13); v[1] ^= v[0]; v[0] = _rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & M; v[3] = _rotl(v[3], 16); v[3] ^= v[2]
        v[0] = (v[0] + v[3]) & M; v[3] = _rotl(v[3], 21); v[3] ^= v[0]
        v[2] = (v[2] + v[1]) & M; v[1] = _rotl(v[1], 17); v[1] ^= v[2]; v[2] = _rotl(v[2], 32)
    n = len(data)
    end = n - n % 8
    for i in range(0, end, 8):
        m = struct.unpack("<Q", data[i:i + 8])[0]
        v[3] ^= m; rnd(); rnd(); v[0] ^= m
    b = ((n & 0xFF) << 56) | int.from_bytes(data[end:], "little")
    v[3] ^= b; rnd(); rnd(); v[0] ^= b
    v[2] ^= 0xFF
    rnd(); rnd(); rnd(); rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def via_tag(secret, ip, port, next_branch, call_id, cseq):
    """The tag viaduct writes in its Via branch (core/px_policy.c px_via_tag) for a response that
    goes back to ip:port with that next-Via branch, Call-ID and CSeq number."""
    import hashlib
    key = hashlib.blake2b(secret.encode() + b"viaduct via tag", digest_size=16).digest()
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    buf = bytes([6 if fam == socket.AF_INET6 else 4]) + socket.inet_pton(fam, ip)
    buf += struct.pack("!H", port) + struct.pack("<I", cseq)
    for f in (next_branch or "", call_id):
        f = f.encode("latin-1")
        buf += (b"\xff" + struct.pack("<Q", siphash24(key, f))) if len(f) > 96 else (
            bytes([len(f)]) + f)
    return siphash24(key, buf)


def signed_branch(next_via, call_id, cseq=1, secret=TEST_SECRET):
    """A branch for viaduct's Via above next_via that verifies, as if viaduct had forwarded the
    request (the transaction and loop parts are arbitrary); a random one when next_via names a
    host by name without received (viaduct drops such a response before it checks)."""
    v = parse_via(next_via)
    host = v.params.get("received") or v.host
    rport = v.params.get("rport")
    port = int(rport) if rport else (v.port or 5060)
    try:
        tag = via_tag(secret, host.strip("[]"), port, v.branch, call_id, cseq)
    except OSError:
        tag = random.getrandbits(64)
    return "z9hG4bK%016x%016x.%016x" % (random.getrandbits(64), tag, random.getrandbits(64))

# ---------------------------------------------------------------- STUN


STUN_COOKIE = 0x2112A442


def stun_binding_request(txid=None):
    txid = txid if txid is not None else bytes(random.getrandbits(8) for _ in range(12))
    return struct.pack("!HHI", 0x0001, 0, STUN_COOKIE) + txid, txid


def stun_parse(data):
    if len(data) < 20:
        return None
    t, length, cookie = struct.unpack("!HHI", data[:8])
    s = {"type": t, "length": length, "cookie": cookie, "txid": data[8:20], "attrs": []}
    p = 20
    while p + 4 <= len(data):
        at, al = struct.unpack("!HH", data[p:p + 4])
        s["attrs"].append((at, data[p + 4:p + 4 + al]))
        p += 4 + al + (-al % 4)
    return s


def stun_xor_mapped(value, txid):
    fam = value[1]
    port = struct.unpack("!H", value[2:4])[0] ^ (STUN_COOKIE >> 16)
    key = struct.pack("!I", STUN_COOKIE) + txid
    if fam == 1:
        ip = bytes(a ^ b for a, b in zip(value[4:8], key[:4]))
        return socket.inet_ntop(socket.AF_INET, ip), port
    ip = bytes(a ^ b for a, b in zip(value[4:20], key))
    return socket.inet_ntop(socket.AF_INET6, ip), port

# ---------------------------------------------------------------- namespace


def netns_problem():
    names = sorted(n for _, n in socket.if_nameindex())
    if names != ["lo"]:
        return ("not in a private network namespace (interfaces: %s): run it through "
                "test/integ/run.sh" % ", ".join(names))
    return None

# ---------------------------------------------------------------- reporting


class Failure(AssertionError):
    pass


def check(cond, why):
    if not cond:
        raise Failure(why)


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn, *args):
        try:
            fn(*args)
        except AssertionError as e:
            self.failed += 1
            print("FAIL %s: %s" % (name, e), flush=True)
            return False
        except Exception as e:  # a crash in the test is a failure too, with where
            self.failed += 1
            tb = traceback.extract_tb(e.__traceback__)[-1]
            print("FAIL %s: %s: %s (line %d)" % (name, type(e).__name__, e, tb.lineno),
                  flush=True)
            return False
        self.passed += 1
        print("ok %s" % name, flush=True)
        return True

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 1 if self.failed else 0


def parse_args(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="the viaduct binary")
    return ap.parse_args(argv)
