#!/usr/bin/env python3
"""
tcp_sipp.py - viaduct's CPU per message with SIPp calls over TCP and over UDP, side by side.

    unshare -n sh -c 'ip link set lo up; python3 bench/tcp_sipp.py build/viaduct'

In a private network namespace (the command above makes one; this script refuses to run
outside one): one viaduct worker (io_uring) listening on UDP and TCP 127.0.0.1:5060, a SIPp
UAS as its UDP backend, and a SIPp UAC making CALLS calls at RATE per second, once with
`-t t1` (one TCP connection) and once with `-t u1` (UDP). For each run: the calls that
succeeded, the messages viaduct handled (requests and responses received), its CPU time
(utime + stime from /proc), and so messages per CPU-second. SIPp, not viaduct, sets the
pace: this is CPU per message at a given rate, not a maximum. Env: CALLS (20000), RATE
(2000). Every process is stopped by its PID.
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integ"))
import sipnet  # noqa: E402
import test_sipp  # noqa: E402

CALLS = int(os.environ.get("CALLS", "20000"))
RATE = int(os.environ.get("RATE", "2000"))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(binary, transport, work):
    env = dict(os.environ, VIADUCT_SHUTDOWN_DRAIN_SECONDS="0")
    vd = sipnet.start_viaduct(binary, ["--listen", "127.0.0.1:5060", "--listen",
                                       "tcp:127.0.0.1:5060", "--backend", "127.0.0.1:5070",
                                       "--workers", "1", "--io", "uring"], env=env)
    uas = uac = None
    try:
        uas = test_sipp.Sipp("uas-" + transport, ["-sn", "uas", "-i", "127.0.0.1", "-p", "5070",
                                                  "-mp", "16000"], work)
        time.sleep(0.3)
        c0, t0, w0 = vd.counters(), cpu_seconds(vd.pid), time.monotonic()
        uac = test_sipp.Sipp("uac-" + transport, [
            "-sn", "uac", "-t", transport, "127.0.0.1:5060", "-i", "127.0.0.1", "-p", "5080",
            "-mp", "17000", "-m", str(CALLS), "-r", str(RATE), "-rp", "1000",
            "-timeout", "120s", "-timeout_error"], work)
        rc = uac.wait(130)
        c1, t1, w1 = vd.counters(), cpu_seconds(vd.pid), time.monotonic()
        st = uac.stats()
        msgs = sum(c1.get(k, 0) - c0.get(k, 0) for k in ("rx_requests", "rx_responses"))
        cpu = t1 - t0
        print("%-4s %d calls at %d/s: exit %s, %d successful, %d failed; viaduct %d messages in "
              "%.1f s, %.2f CPU-s, %.0f msg/CPU-s, %.1f us/msg" % (
                  "tcp" if transport == "t1" else "udp", CALLS, RATE, rc,
                  test_sipp.num(st, "SuccessfulCall(C)"), test_sipp.num(st, "FailedCall(C)"),
                  msgs, w1 - w0, cpu, msgs / cpu if cpu else 0, 1e6 * cpu / msgs if msgs else 0),
              flush=True)
        moved = {k: c1.get(k, 0) - c0.get(k, 0) for k in c1}
        print("     viaduct: " + ", ".join("%s +%d" % (k, v) for k, v in sorted(moved.items())
                                          if v and not k.startswith("method_")), flush=True)
    finally:
        for p in (uac, uas):
            if p is not None:
                p.kill()
        vd.stop()


def main():
    if sipnet.netns_problem():
        print("tcp_sipp: run it in a private network namespace: " + sipnet.netns_problem())
        return 2
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/viaduct"
    work = tempfile.mkdtemp(prefix="tcp-sipp-")
    for transport in ("t1", "u1"):
        run(binary, transport, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
