#!/usr/bin/env python3
"""
test_bench.py - a smoke test of the benchmark harness (viaduct-bench) against the real
viaduct, inside the private network namespace test/integ/run.sh makes.

1. `viaduct-bench run` for 2 s at 2,000 requests/s of the mixed scenario against viaduct
   (1 worker, each engine): exit status 0, and its JSON says every request reached a
   backend and every response reached the load (delivered == offered, nothing lost, no
   transaction unanswered), the affinity check saw keys and no split, and CPU time was read,
   split by --cpu-split into user and kernel microseconds per message that add up to it.
2. The same against the null relay (viaduct-bench relay): all delivered, one backend.
3. The standalone pieces: `viaduct-bench emulate` and `viaduct-bench load --count` against a
   viaduct started by sipnet: load exits 0 with nothing lost; on SIGTERM the emulator prints
   the per-backend table and "affinity: PASS".

viaduct-bench is taken from the directory of --bin. Ports 127.0.0.1:15060-15066 (systems
under test) and 15070-15073 (backends). Prints "ok NAME" / "FAIL NAME: why" and ends with
"N passed, M failed". Python 3 standard library only.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sipnet import Tally, check, netns_problem, parse_args, start_viaduct  # noqa: E402

RUN_TIMEOUT = 60


def run_bench(bench, outdir, sut, name):
    cmd = [bench, "run", "--sut", sut, "--rates", "2000", "--duration", "2", "--repeat", "1",
           "--warmup", "0.3", "--listen", "127.0.0.1:15060", "--backend-base",
           "127.0.0.1:15070", "--out", outdir, "--name", name, "--nice", "0", "--quiet",
           "--cpu-split"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=RUN_TIMEOUT)
    text = p.stdout.decode("latin-1")
    check(p.returncode == 0, "exit status %d:\n%s" % (p.returncode, text[-2000:]))
    with open(os.path.join(outdir, name + ".json")) as f:
        return json.load(f), text


def t_run(bench, outdir, sut, name, one_backend=False):
    res, text = run_bench(bench, outdir, sut, name)
    sys_ = res["systems"]
    check(len(sys_) == 1 and len(sys_[0]["points"]) == 1, "one system, one point")
    pt = sys_[0]["points"][0]
    check(len(pt["runs"]) == 1, "one run")
    m = pt["runs"][0]
    check(m["req_offered"] > 3000, "too few requests offered: %r" % m["req_offered"])
    check(m["req_delivered"] == m["req_offered"],
          "requests delivered %r != offered %r" % (m["req_delivered"], m["req_offered"]))
    check(m["resp_delivered"] == m["resp_offered"],
          "responses delivered %r != offered %r" % (m["resp_delivered"], m["resp_offered"]))
    check(m["lost"] == 0 and m["txn_lost"] == 0, "lost %r, unanswered %r"
          % (m["lost"], m["txn_lost"]))
    check(m["non2xx"] == 0 and m["unparsable"] == 0, "error responses or garbage: %r" % m)
    check(m["keys"] > 1000 and m["splits"] == 0, "affinity: %r keys, %r splits"
          % (m["keys"], m["splits"]))
    check(m["cpu_s"] > 0 and m["mpcs"] > 0, "no CPU time read: %r" % m["cpu_s"])
    # --cpu-split: the user/kernel split per message adds up to the CPU time read
    split = (m["user_us_msg"] + m["sys_us_msg"]) * m["forwarded"] / 1e6
    check(m["sys_us_msg"] > 0 and abs(split - m["cpu_s"]) <= 0.02 + 0.05 * m["cpu_s"],
          "user %r + kernel %r us/msg over %r messages != %r CPU s"
          % (m["user_us_msg"], m["sys_us_msg"], m["forwarded"], m["cpu_s"]))
    check(re.search(r"^where the CPU went", text, re.M) is not None,
          "--cpu-split printed no table:\n" + text)
    check(m["p50_us"] > 0 and m["p99_us"] >= m["p50_us"], "latency: %r" % m)
    check("affinity: PASS" in text, "the report lacks the affinity verdict:\n" + text)
    shares = [l for l in text.splitlines() if l[:8].strip().isdigit() and "%" in l]
    check(len(shares) == 4, "expected 4 backend lines:\n" + text)
    if one_backend:
        check(" 100.0%" in shares[0], "the null relay uses its first backend only:\n" + text)


def t_standalone(vdbin, bench):
    ncalls = -1
    emu = subprocess.Popen([bench, "emulate", "--listen", "127.0.0.1:15070", "--backends", "4",
                            "--duration", "60"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    vd = None
    try:
        vd = start_viaduct(vdbin, ["--listen", "127.0.0.1:15066", "--workers", "1",
                                   "--backend", "127.0.0.1:15070", "--backend", "127.0.0.1:15071",
                                   "--backend", "127.0.0.1:15072", "--backend", "127.0.0.1:15073"])
        p = subprocess.run([bench, "load", "--target", "127.0.0.1:15066", "--scenario", "call",
                            "--rate", "1500", "--count", "1500", "--duration", "10"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        text = p.stdout.decode("latin-1")
        check(p.returncode == 0, "load exit status %d:\n%s" % (p.returncode, text))
        # --count stops new calls; the calls under way still finish (ACK, BYE)
        calls = re.search(r"calls: (\d+) started, (\d+) completed", text)
        check(" 0 lost" in text and calls is not None, "load report:\n" + text)
        check(calls.group(1) == calls.group(2) and int(calls.group(1)) >= 500,
              "not every call completed:\n" + text)
        ncalls = int(calls.group(1))
    finally:
        if vd is not None:
            vd.stop()
        emu.send_signal(signal.SIGTERM)
        out, _ = emu.communicate(timeout=10)
    text = out.decode("latin-1")
    check(emu.returncode == 0, "emulate exit status %r:\n%s" % (emu.returncode, text))
    check("affinity: PASS - %d Call-IDs" % ncalls in text, "emulate report:\n" + text)


def main():
    args = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("netns", lambda: check(False, why))
        sys.exit(t.finish())
    bench = os.path.join(os.path.dirname(os.path.abspath(args.bin)), "viaduct-bench")
    if not os.access(bench, os.X_OK):
        t.run("viaduct-bench exists", lambda: check(False, bench + " is missing: make it"))
        sys.exit(t.finish())
    with tempfile.TemporaryDirectory(prefix="vb-integ-") as outdir:
        for io in ("mmsg", "uring"):
            t.run("bench run viaduct --io " + io, t_run, bench, outdir,
                  "viaduct:--workers 1 --io " + io, "smoke-" + io)
        t.run("bench run null relay", t_run, bench, outdir, "relay", "smoke-relay", True)
    t.run("bench emulate + load standalone", t_standalone, args.bin, bench)
    sys.exit(t.finish())


if __name__ == "__main__":
    main()
