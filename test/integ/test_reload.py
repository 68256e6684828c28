#!/usr/bin/env python3
"""test_reload.py - SIGHUP publishes a new configuration to running workers.

The new tables are built off the hot path and swapped in whole; the old ones
are freed once every worker has passed a quiescent point. Under the ASan build
a worker still reading a freed table would be reported, so the reloads run
while traffic flows.

    python3 test/integ/test_reload.py --bin build/san/viaduct   (run.sh does this in a netns)
"""

import os
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (Endpoint, Tally, check, dialog, netns_problem, parse_args,  # noqa: E402
                    recv_any, request, sanitizer_report, start_viaduct)

LISTEN = ("127.0.0.1", 5060)
CLIENT = ("127.0.0.1", 7100)


def write_config(path, backends, listen="127.0.0.1:5060"):
    with open(path, "w") as f:
        f.write("listen: [\"%s\"]\nworkers: 2\npools:\n  - name: default\n    backends:\n" % listen)
        for b in backends:
            f.write("      - \"127.0.0.1:%d\"\n" % b)


def invite(n):
    return request("INVITE", "sip:bob@example.com",
                   ["SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKrl%d" % (CLIENT[1], n)],
                   dialog("INVITE", "reload-%d@example.com" % n))


def spread(client, backends, first, count):
    """Sends count INVITEs; returns {port: how many arrived} over the backend endpoints."""
    got = {}
    for n in range(first, first + count):
        client.send(invite(n), LISTEN)
        hit = recv_any(backends, timeout=1.0)
        check(hit is not None, "INVITE %d reached no backend" % n)
        got[hit[0].addr[1]] = got.get(hit[0].addr[1], 0) + 1
    return got


def wait_line(vd, text, timeout=3.0):
    end = time.time() + timeout
    while time.time() < end:
        if text in vd.stderr_text():
            return True
        time.sleep(0.05)
    return False


def test_reload_moves_traffic_to_the_new_backends(binary, tmp):
    path = os.path.join(tmp, "viaduct.yaml")
    write_config(path, [6101, 6102])
    eps = [Endpoint("127.0.0.1", p) for p in (6101, 6102, 6103, 6104)]
    client = Endpoint(*CLIENT)
    vd = start_viaduct(binary, ["-c", path])
    try:
        got = spread(client, eps, 0, 40)
        check(set(got) <= {6101, 6102} and len(got) == 2, "before: %s" % got)

        # traffic keeps flowing from another thread while the tables are swapped
        stop = threading.Event()

        def flood():
            n = 10000
            while not stop.is_set():
                client.send(invite(n), LISTEN)
                n += 1
                time.sleep(0.001)
        th = threading.Thread(target=flood)
        th.start()
        try:
            for i in range(5):
                write_config(path, [6103, 6104] if i % 2 == 0 else [6101, 6102])
                os.kill(vd.pid, signal.SIGHUP)
                time.sleep(0.2)
            write_config(path, [6103, 6104])
            os.kill(vd.pid, signal.SIGHUP)
            check(wait_line(vd, "configuration reloaded"), "no reload line:\n" + vd.stderr_text())
            time.sleep(0.3)
        finally:
            stop.set()
            th.join()
        time.sleep(0.2)
        for ep in eps:
            ep.drain()
        got = spread(client, eps, 100, 40)
        check(set(got) <= {6103, 6104} and len(got) == 2, "after: %s" % got)
        check(vd.alive(), "viaduct died during the reloads")
    finally:
        code, err = vd.stop()
        for ep in eps + [client]:
            ep.close()
    check(code == 0, "exit code %s" % code)
    bad = sanitizer_report(err)
    check(bad is None, "sanitizer: %s" % bad)


def test_bad_reload_keeps_the_running_configuration(binary, tmp):
    path = os.path.join(tmp, "viaduct.yaml")
    write_config(path, [6101])
    ep = Endpoint("127.0.0.1", 6101)
    client = Endpoint(*CLIENT)
    vd = start_viaduct(binary, ["-c", path])
    try:
        with open(path, "w") as f:
            f.write("listen: [\"127.0.0.1:5060\"]\nworkers: 2\nbogus_key: 1\n")
        os.kill(vd.pid, signal.SIGHUP)
        check(wait_line(vd, "reload refused"), "no refusal:\n" + vd.stderr_text())
        check(":3:" in vd.stderr_text(), "the refusal does not name line 3:\n" + vd.stderr_text())
        write_config(path, [6101], listen="127.0.0.1:5070")
        os.kill(vd.pid, signal.SIGHUP)
        check(wait_line(vd, "change only with a restart"), "listen change not refused:\n" +
              vd.stderr_text())
        got = spread(client, [ep], 0, 5)
        check(got == {6101: 5}, "after refused reloads: %s" % got)
    finally:
        code, err = vd.stop()
        ep.close()
        client.close()
    check(code == 0, "exit code %s" % code)


def main():
    args = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("private network namespace", lambda: check(False, why))
        return t.finish()
    with tempfile.TemporaryDirectory() as tmp:
        t.run("reload_moves_traffic_to_the_new_backends",
              test_reload_moves_traffic_to_the_new_backends, args.bin, tmp)
        t.run("bad_reload_keeps_the_running_configuration",
              test_bad_reload_keeps_the_running_configuration, args.bin, tmp)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
