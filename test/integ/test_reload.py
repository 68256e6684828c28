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
from sipnet import (Endpoint, Tally, check, dialog, log_messages, netns_problem,  # noqa: E402
                    parse, parse_args, recv_any, request, sanitizer_report, start_viaduct)

LISTEN = ("127.0.0.1", 5060)
CLIENT = ("127.0.0.1", 7100)


def write_config(path, backends, listen="127.0.0.1:5060"):
    """Writes the file whole, by rename: a reload never reads half of it."""
    with open(path + ".tmp", "w") as f:
        f.write("listen: [\"%s\"]\nworkers: 2\npools:\n  - name: default\n    backends:\n" % listen)
        for b in backends:
            f.write("      - \"127.0.0.1:%d\"\n" % b)
    os.replace(path + ".tmp", path)


def invite(n):
    return request("INVITE", "sip:bob@example.com",
                   ["SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKrl%d" % (CLIENT[1], n)],
                   dialog("INVITE", "reload-%d@example.com" % n))


ARRIVE_S = 5.0  # the most a datagram that must arrive may take, on a loaded machine


def spread(client, backends, first, count):
    """Sends count INVITEs; returns {port: how many arrived} over the backend endpoints.
    What else arrives meanwhile (a flood's stragglers) is not counted."""
    got = {}
    for n in range(first, first + count):
        client.send(invite(n), LISTEN)
        deadline = time.monotonic() + ARRIVE_S
        while True:
            hit = recv_any(backends, timeout=max(0.0, deadline - time.monotonic()))
            check(hit is not None, "INVITE %d reached no backend" % n)
            if parse(hit[1]).get("Call-ID") == "reload-%d@example.com" % n:
                break
        got[hit[0].addr[1]] = got.get(hit[0].addr[1], 0) + 1
    return got


def wait_line(vd, text, timeout=10.0, count=1):
    """True once text is in count lines of the log."""
    end = time.time() + timeout
    while time.time() < end:
        if vd.stderr_text().count(text) >= count:
            return True
        time.sleep(0.05)
    return False


def test_good_reload_says_what_changed(binary, tmp):
    path = os.path.join(tmp, "viaduct.yaml")
    write_config(path, [6101])
    eps = [Endpoint("127.0.0.1", p) for p in (6101, 6102, 6103)]
    client = Endpoint(*CLIENT)
    vd = start_viaduct(binary, ["-c", path])
    try:
        check(spread(client, eps, 0, 10) == {6101: 10}, "before the reload")
        write_config(path, [6102, 6103])
        os.kill(vd.pid, signal.SIGHUP)
        check(wait_line(vd, "configuration reloaded: 2 backends in 1 pools"),
              "no reload line:\n" + vd.stderr_text())
        check("pool default: 2 backends, 65537 of 65537 slots changed" in
              vd.stderr_text(), "no pool line:\n" + vd.stderr_text())
        got = spread(client, eps, 100, 40)
        check(set(got) == {6102, 6103}, "after: %s" % got)
    finally:
        code, err = vd.stop()
        for ep in eps + [client]:
            ep.close()
    check(code == 0, "exit code %s" % code)
    check("reload refused" not in err and "slow to move on" not in err, err)
    bad = sanitizer_report(err)
    check(bad is None, "sanitizer: %s" % bad)


def test_rapid_reloads_under_traffic_lose_nothing(binary, tmp):
    """20 SIGHUPs, each sent as soon as the one before has taken effect,
    each with another backend set, all of them listening: every request
    sent meanwhile reaches one backend, exactly once."""
    path = os.path.join(tmp, "viaduct.yaml")
    sets = ([6101, 6102], [6103, 6104], [6101, 6103, 6104])
    write_config(path, sets[0])
    eps = [Endpoint("127.0.0.1", p) for p in (6101, 6102, 6103, 6104)]
    client = Endpoint(*CLIENT)
    vd = start_viaduct(binary, ["-c", path])
    seen, dup = set(), []
    stop = threading.Event()

    def collect():
        while not stop.is_set():
            hit = recv_any(eps, timeout=0.1)
            if hit is None:
                continue
            cid = parse(hit[1]).get("Call-ID")
            if cid in seen:
                dup.append(cid)
            seen.add(cid)
    rx = threading.Thread(target=collect)
    rx.start()
    sent = []
    try:
        def flood():
            n = 20000
            while not stop.is_set():
                client.send(invite(n), LISTEN)
                sent.append("reload-%d@example.com" % n)
                n += 1
                time.sleep(0.001)
        t0 = time.time()
        tx = threading.Thread(target=flood)
        tx.start()
        try:
            for i in range(20):
                write_config(path, sets[(i + 1) % len(sets)])
                os.kill(vd.pid, signal.SIGHUP)
                check(wait_line(vd, "configuration reloaded", count=i + 1),
                      "reload %d did not take effect:\n%s" % (i + 1, vd.stderr_text()))
            time.sleep(0.3)
        finally:
            secs = time.time() - t0
            stop.set()
            tx.join()
        stop.clear()
        rx = threading.Thread(target=collect)  # what is still in flight: every one must come
        rx.start()
        deadline = time.monotonic() + ARRIVE_S
        while time.monotonic() < deadline and not all(c in seen for c in list(sent)):
            time.sleep(0.05)
        time.sleep(0.3)  # a duplicate would come right behind its first
        stop.set()
        rx.join()
        check(wait_line(vd, "configuration reloaded"), "no reload:\n" + vd.stderr_text())
        lost = [c for c in sent if c not in seen]
        check(not lost, "%d of %d requests lost (%s ...), %.1f s of traffic" %
              (len(lost), len(sent), lost[:3], secs))
        check(not dup, "%d requests arrived twice" % len(dup))
        check(len(sent) > 100, "only %d requests sent" % len(sent))
        print("   (%d requests in %.2f s, all arrived; %d reloads took effect, %d kept a slow "
              "worker's generation)" % (len(sent), secs,
                                        vd.stderr_text().count("configuration reloaded"),
                                        vd.stderr_text().count("slow to move on")))

        # after the storm the last file is the one running
        n0 = vd.stderr_text().count("configuration reloaded")
        write_config(path, [6102])
        os.kill(vd.pid, signal.SIGHUP)
        check(wait_line(vd, "configuration reloaded", count=n0 + 1), "last reload missing")
        for ep in eps:
            ep.drain()
        check(spread(client, eps, 900, 10) == {6102: 10}, "the last reload did not take effect")
        check(vd.alive(), "viaduct died during the reloads")
    finally:
        stop.set()
        rx.join()
        code, err = vd.stop()
        for ep in eps + [client]:
            ep.close()
    check(code == 0, "exit code %s" % code)
    check("reload refused" not in err, "a reload was refused:\n" + err)
    bad = sanitizer_report(err)
    check(bad is None, "sanitizer: %s" % bad)


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
        check(any(m.startswith("%s:3: " % path) for m in log_messages(vd.stderr_text())),
              "the refusal does not name the file's line 3:\n" + vd.stderr_text())
        check(spread(client, [ep], 0, 5) == {6101: 5}, "after the bad file")
        write_config(path, [6101], listen="127.0.0.1:5070")
        os.kill(vd.pid, signal.SIGHUP)
        check(wait_line(vd, "change only with a restart"), "listen change not refused:\n" +
              vd.stderr_text())
        check("reload refused: listen, advertise, workers, io, max_message and tcp change "
              "only with a restart" in vd.stderr_text(), "another refusal line")
        got = spread(client, [ep], 10, 5)
        check(got == {6101: 5}, "after refused reloads: %s" % got)
        check("configuration reloaded" not in vd.stderr_text(), "a refused reload took effect")
        # a good file after the refusals still reloads
        write_config(path, [6101])
        os.kill(vd.pid, signal.SIGHUP)
        check(wait_line(vd, "configuration reloaded"), "no reload after the refusals")
        check(spread(client, [ep], 20, 5) == {6101: 5}, "after the good reload")
    finally:
        code, err = vd.stop()
        ep.close()
        client.close()
    check(code == 0, "exit code %s" % code)
    bad = sanitizer_report(err)
    check(bad is None, "sanitizer: %s" % bad)


def main():
    args = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("private network namespace", lambda: check(False, why))
        return t.finish()
    with tempfile.TemporaryDirectory() as tmp:
        t.run("good_reload_says_what_changed", test_good_reload_says_what_changed, args.bin, tmp)
        t.run("reload_moves_traffic_to_the_new_backends",
              test_reload_moves_traffic_to_the_new_backends, args.bin, tmp)
        t.run("bad_reload_keeps_the_running_configuration",
              test_bad_reload_keeps_the_running_configuration, args.bin, tmp)
        t.run("rapid_reloads_under_traffic_lose_nothing",
              test_rapid_reloads_under_traffic_lose_nothing, args.bin, tmp)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
