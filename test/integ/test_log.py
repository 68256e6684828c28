#!/usr/bin/env python3
"""test_log.py - the log on stderr: one line per event, logfmt by default, JSON lines on demand.

  - every line viaduct writes is a log line (ts, level, msg, fields) or a counter line of a
    report SIGUSR1 asked for; in JSON each log line is one JSON object;
  - a backend's state change carries backend, pool, from, to and cause as fields;
  - log.level hides what is below it; a reload changes the format; --log-format and
    --log-level beat VIADUCT_LOG_FORMAT and VIADUCT_LOG_LEVEL;
  - traffic, good or malformed, writes no line at all (no line per packet);
  - repeated warnings are summarised: 60 backend state changes in a few seconds (an operator
    toggling a drain through the API) write the first 50, one line saying the rest are
    counted, and at exit one line with how many were held back (field suppressed), in both
    formats.

    sh test/integ/run.sh build/san test/integ/test_log.py
"""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipnet import (COUNTER_RE, Endpoint, Tally, check, dialog, log_event,  # noqa: E402
                    netns_problem, parse_args, request, sanitizer_report, start_viaduct,
                    wait_port_free)

VD = ("127.0.0.1", 5360)
DEAD = 5371  # nothing listens there: its probes time out
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = ("debug", "info", "warn", "error")


def args(extra=()):
    return ["--listen", "%s:%d" % VD, "--workers", "1", "--backend", "127.0.0.1:%d" % DEAD,
            "--admin", "off"] + list(extra)


def classify(text):
    """(log events, counter lines, other lines) of a stderr text."""
    events, counters, other = [], [], []
    for l in text.splitlines():
        e = log_event(l)
        if e is not None:
            events.append(e)
        elif COUNTER_RE.match(l) or l.startswith("backend pool="):
            counters.append(l)
        elif l.strip():
            other.append(l)
    return events, counters, other


def check_events(events, fmt):
    check(events, "no log line")
    for e in events:
        check(TS_RE.match(e.get("ts", "")), "%s: bad ts in %r" % (fmt, e))
        check(e.get("level") in LEVELS, "%s: bad level in %r" % (fmt, e))


def run_session(binary, env_extra, health=True):
    """Starts viaduct, reloads, asks for counters, stops; returns its stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
    env.update(VIADUCT_SHUTDOWN_DRAIN_SECONDS="0", **env_extra)
    if health:
        env.update(VIADUCT_HEALTH_ENABLED="true", VIADUCT_HEALTH_INTERVAL_MS="50",
                   VIADUCT_HEALTH_TIMEOUT_MS="20", VIADUCT_HEALTH_DOWN_AFTER="1")
    check(wait_port_free(*VD), "port busy")
    vd = start_viaduct(binary, args(), env=env)
    deadline = time.monotonic() + 3
    while "-> down" not in vd.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(vd.pid, signal.SIGHUP)
    deadline = time.monotonic() + 3
    while "configuration reloaded" not in vd.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    vd.counters()
    code, err = vd.stop()
    check(code == 0, "exit %s: %s" % (code, err[-500:]))
    rep = sanitizer_report(err)
    check(rep is None, rep)
    return err


def t_logfmt_by_default(binary):
    err = run_session(binary, {})
    events, counters, other = classify(err)
    check(not other, "lines that are neither log nor counters: %r" % other[:5])
    check(all(not l.startswith("{") for l in err.splitlines()), "JSON without log.format json")
    check_events(events, "logfmt")
    check(counters, "no counter block")
    start = [e for e in events if e["msg"].startswith("viaduct ")]
    check(start and start[0].get("io") in ("io_uring", "recvmmsg") and start[0]["level"] == "info",
          "the start line: %r" % start)
    down = [e for e in events if e.get("to") == "down"]
    check(down and down[0]["level"] == "warn" and down[0].get("backend") == "127.0.0.1:%d" % DEAD
          and down[0].get("pool") == "default" and down[0].get("from") == "up"
          and down[0].get("cause"), "the state change's fields: %r" % down)
    check(any(e["msg"] == "stopped" for e in events), "no stop line")


def t_json_lines(binary):
    err = run_session(binary, {"VIADUCT_LOG_FORMAT": "json"})
    for l in err.splitlines():
        if l.startswith("{"):
            d = json.loads(l)  # raises on a bad line
            check(set(("ts", "level", "msg")) <= set(d), "keys of %r" % d)
    events, counters, other = classify(err)
    check(not other, "lines that are neither log nor counters: %r" % other[:5])
    check_events(events, "json")
    check(any(e.get("to") == "down" for e in events), "no state change line in JSON")
    check(all(not l.startswith("ts=") for l in err.splitlines()), "logfmt with json")


def t_flags_beat_the_variables(binary):
    """--log-format json and --log-level warn over VIADUCT_LOG_FORMAT=logfmt and
    VIADUCT_LOG_LEVEL=debug: JSON lines, none below warn."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
    env.update(VIADUCT_SHUTDOWN_DRAIN_SECONDS="0", VIADUCT_LOG_FORMAT="logfmt",
               VIADUCT_LOG_LEVEL="debug")
    check(wait_port_free(*VD), "port busy")
    p = subprocess.Popen([binary] + args(["--log-format", "json", "--log-level", "warn"]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env)
    time.sleep(0.5)
    os.kill(p.pid, signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=5)
        raise
    err = err.decode("latin-1")
    check(p.returncode == 0, "exit %s: %s" % (p.returncode, err[-300:]))
    events, _, other = classify(err)  # the counters printed at exit are plain text
    check(not other, "lines that are neither log nor counters: %r" % other[:3])
    check(events and all(l.startswith("{") for l in err.splitlines()
                         if log_event(l) is not None), "not JSON lines")
    levels = [e["level"] for e in events]
    check(all(lv in ("warn", "error") for lv in levels), "levels %s" % levels)


def t_level_hides_what_is_below(binary):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
    env.update(VIADUCT_SHUTDOWN_DRAIN_SECONDS="0", VIADUCT_LOG_LEVEL="warn",
               VIADUCT_HEALTH_ENABLED="true", VIADUCT_HEALTH_INTERVAL_MS="50",
               VIADUCT_HEALTH_TIMEOUT_MS="20", VIADUCT_HEALTH_DOWN_AFTER="1")
    check(wait_port_free(*VD), "port busy")
    p = subprocess.Popen([binary] + args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env)
    time.sleep(1.0)  # the probe times out: a warn line; the start line is info
    os.kill(p.pid, signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=5)
        raise
    events, _, _ = classify(err.decode("latin-1"))
    check(p.returncode == 0, "exit %s" % p.returncode)
    check(all(e["level"] in ("warn", "error") for e in events), "below warn: %r" %
          [e for e in events if e["level"] not in ("warn", "error")][:3])
    check(any(e.get("to") == "down" for e in events), "the warn line is missing: %r" % events)


def t_reload_changes_the_format(binary, tmp):
    path = os.path.join(tmp, "log.yaml")
    with open(path, "w") as f:
        f.write("log: {format: logfmt}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
    env["VIADUCT_SHUTDOWN_DRAIN_SECONDS"] = "0"
    check(wait_port_free(*VD), "port busy")
    vd = start_viaduct(binary, args(["-c", path]), env=env)
    with open(path, "w") as f:
        f.write("log: {format: json}\n")
    os.kill(vd.pid, signal.SIGHUP)
    deadline = time.monotonic() + 3
    while "configuration reloaded" not in vd.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    code, err = vd.stop()
    lines = [l for l in err.splitlines() if "configuration reloaded" in l or "stopped" in l]
    check(len(lines) == 2 and all(l.startswith("{") for l in lines),
          "after the reload the lines must be JSON: %r" % lines)
    check(code == 0, "exit %s" % code)


def t_no_line_per_packet(binary):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
    env["VIADUCT_SHUTDOWN_DRAIN_SECONDS"] = "0"
    check(wait_port_free(*VD), "port busy")
    sink = Endpoint("127.0.0.1", DEAD)  # a live backend this time: no ICMP error, no event
    vd = start_viaduct(binary, args(), env=env)
    ep = Endpoint("127.0.0.1", 5391)
    try:
        time.sleep(0.2)
        n0 = len(vd.stderr_text().splitlines())
        for i in range(1000):
            good = request("OPTIONS", "sip:x@example.com",
                           ["SIP/2.0/UDP 127.0.0.1:5391;branch=z9hG4bKlg%d" % i],
                           dialog("OPTIONS", "log-%d" % i))
            ep.send(good if i % 2 else b"NOT SIP AT ALL %d\r\n\r\n" % i, VD)
        time.sleep(0.5)
        n1 = len(vd.stderr_text().splitlines())
    finally:
        ep.close()
        sink.close()
    code, err = vd.stop()
    check(n1 == n0, "1000 datagrams wrote %d lines: %r" % (n1 - n0, err.splitlines()[n0:n0 + 5]))
    check(code == 0, "exit %s" % code)


ADMIN = ("127.0.0.1", 18065)


def post(path):
    c = http.client.HTTPConnection(*ADMIN, timeout=5)
    try:
        c.request("POST", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def t_repeated_changes_summarised(binary, fmt):
    """The health thread's state-change lines pass through a limit (core/health.c: 50 per
    10 s); 60 changes within the interval: 50 lines, a notice, and the count at exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIADUCT_")}
    env.update(VIADUCT_SHUTDOWN_DRAIN_SECONDS="0", VIADUCT_LOG_FORMAT=fmt,
               VIADUCT_ADMIN_LISTEN="%s:%d" % ADMIN)
    check(wait_port_free(*VD), "port busy")
    sink = Endpoint("127.0.0.1", DEAD)
    vd = start_viaduct(binary, args()[:-2], env=env)  # without --admin off
    try:
        deadline = time.monotonic() + 5
        while "management API on" not in vd.stderr_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        t0 = time.monotonic()
        for i in range(60):
            code, body = post("/backends/default/127.0.0.1:%d/%s" % (
                DEAD, "undrain" if i % 2 else "drain"))
            check(code == 200 and '"applied": true' in body, "POST %d: %d %s" % (i, code, body))
        secs = time.monotonic() - t0
        check(secs < 9, "60 changes took %.1f s: past the limit's 10 s interval" % secs)
    finally:
        sink.close()
        code, err = vd.stop()
    check(code == 0 and sanitizer_report(err) is None, "exit %s: %s" % (code, err[-500:]))
    if fmt == "json":
        for l in err.splitlines():
            if l.startswith("{"):
                json.loads(l)
    events = [e for e in map(log_event, err.splitlines()) if e is not None]
    changes = [e for e in events if e.get("backend") == "127.0.0.1:%d" % DEAD and e.get("to")]
    check(len(changes) == 50, "%d state-change lines, want the first 50 of 60" % len(changes))
    notice = [e for e in events if e["msg"].startswith("backend state changes: more than 50 in")]
    check(len(notice) == 1 and notice[0]["level"] == "warn", "the notice: %r" % notice)
    held = [e for e in events if e.get("suppressed") is not None]
    check(len(held) == 1 and held[0]["suppressed"] == "10" and held[0]["msg"].startswith(
        "backend state changes: 10 more not logged in the last"), "the count: %r" % held)
    order = [e["msg"] for e in events]
    check(order.index(notice[0]["msg"]) < order.index(held[0]["msg"]),
          "the count came before the notice")
    # the operator's own actions are each logged once, not limited with them
    ops = [e for e in events if "operator override" in e["msg"]]
    check(len(ops) == 60, "%d override lines, want 60" % len(ops))


def main():
    a = parse_args()
    t = Tally()
    why = netns_problem()
    if why:
        t.run("private network namespace", lambda: check(False, why))
        return t.finish()
    t.run("logfmt_by_default", t_logfmt_by_default, a.bin)
    t.run("json_lines", t_json_lines, a.bin)
    t.run("level_hides_what_is_below", t_level_hides_what_is_below, a.bin)
    t.run("flags_beat_the_variables", t_flags_beat_the_variables, a.bin)
    with tempfile.TemporaryDirectory() as tmp:
        t.run("reload_changes_the_format", t_reload_changes_the_format, a.bin, tmp)
    t.run("no_line_per_packet", t_no_line_per_packet, a.bin)
    for fmt in ("logfmt", "json"):
        t.run("repeated_changes_summarised_%s" % fmt, t_repeated_changes_summarised, a.bin, fmt)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
