#!/usr/bin/env python3
"""Keep-alive under pressure: kahttpd and nginx with the same connection budget B, against idle
keep-alive connections, slow request heads and slow request bodies (issue 11). Standard library
only (and wrk for the measuring client).

Both servers get the budget B (PRESSURE_BUDGET, default 300) and a 30 s keep-alive timeout:

  kahttpd  Workers 1, MaxConnections B, KeepAliveTimeout 30 (KeepAliveMinTimeout and
           RequestReadTimeout left at their defaults: 1 s, header=20 body=20)
  nginx    worker_processes 1, worker_connections B + 2, keepalive_timeout 30s
           (client_header_timeout and client_body_timeout left at 60s). nginx's worker counts
           its listening socket and the channel to its master in worker_connections, so B + 2
           lets exactly B client connections in; no upstreams here. nginx 1.22 has no
           keepalive_min_timeout.

Everything else as in servers.py (the harness's tuning). Each scenario starts the server afresh
(so nothing left over from one scenario, such as nginx still discarding a slow body, weighs on
the next), and the measuring client is wrk -t1 -c20 -d5s on /1k.bin (PRESSURE_MEASURE_SECONDS,
PRESSURE_MEASURE_CONNECTIONS):

  unloaded       the measuring client alone: the baseline requests/s.
  idle           B connections each make one GET, read the response and stay silent (with
                 PRESSURE_IDLE_REOPEN=1 one the server closes comes back 1 s later). After
                 PRESSURE_IDLE_WAIT s (1.5: longer than kahttpd's KeepAliveMinTimeout, 1 s; an
                 idle connection younger than that is not reaped), 30 fresh clients each open a
                 connection and GET once, all at once: how many get a 200 (within 5 s). Then
                 the measuring client runs while the idle connections are still held.
  slow-heads     2B connections send a request head one byte every 2 s (the first byte at
                 once); one the server closes is reopened 1 s later. The measuring client starts
                 4 s in; the attack stops at 15 s.
  slow-bodies    the same with `POST / HTTP/1.1`, a whole head with Content-Length: 100000, then
                 the body one byte every 2 s.

Failed requests = wrk's socket errors (connect, read, write, timeout) + non-2xx responses;
their share is failed / (requests + socket errors). Targets (stated, never asserted): idle
exhaustion 100 % fresh clients served; slow heads and slow bodies at 2x the budget >= 0.5x the
unloaded requests/s with <= 1 % failed requests.

   KAHTTPD=build/server/kahttpd python3 benchmarks/pressure.py
   PRESSURE_BUDGET=100 PRESSURE_SERVERS=kahttpd python3 benchmarks/pressure.py

Servers pinned to CPU 0 (BENCH_SERVER_CPU), this script and wrk to CPU 1 (BENCH_CLIENT_CPU).
All traffic is to 127.0.0.1; the attackers are non-blocking sockets in this one process, on one
selector. Every phase has a deadline, every socket is closed at the end of its scenario, and the
servers this script starts are stopped by PID on exit. Results: stdout and
build/bench/pressure.{md,json} (BENCH_OUT), each server's stderr in pressure.stderr.log and
nginx's error logs in pressure.nginx.error.log. It fails only when a server cannot start.
"""
import collections
import datetime
import errno
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

ROOT = servers.ROOT
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "build", "bench"))
BUDGET = int(os.environ.get("PRESSURE_BUDGET", "300"))
NAMES = os.environ.get("PRESSURE_SERVERS", "kahttpd nginx").split()
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "1")
WRK = os.environ.get("WRK", shutil.which("wrk") or "wrk")
MEASURE_S = int(os.environ.get("PRESSURE_MEASURE_SECONDS", "5"))
MEASURE_CONNS = int(os.environ.get("PRESSURE_MEASURE_CONNECTIONS", "20"))
IDLE_WAIT_S = float(os.environ.get("PRESSURE_IDLE_WAIT", "1.5"))
IDLE_REOPEN = "idle" if os.environ.get("PRESSURE_IDLE_REOPEN", "0") == "1" else None
KEEPALIVE_S = 30
FRESH = 30               # fresh clients in the idle-exhaustion scenario
FRESH_DEADLINE_S = 5.0   # each must have its response by then
ATTACK_S = float(os.environ.get("PRESSURE_ATTACK_SECONDS", "15"))  # slow heads/bodies: all of it
ATTACK_MEASURE_AT = 4.0  # the measuring client starts this long into the attack
TRICKLE_S = 2.0          # one byte every ...
REOPEN_S = 1.0           # a slow attacker the server closed comes back after ...
RAMP_BATCH = 100         # connections opened per RAMP_STEP_S (both listen backlogs are 511)
RAMP_STEP_S = 0.1
BODY_LENGTH = 100000
MAX_OPENS_FACTOR = 20     # slow attackers open at most 20 x 2B connections per scenario
ROUNDS = int(os.environ.get("PRESSURE_ROUNDS", "3"))  # every scenario, interleaved, this often
ONLY = os.environ.get("PRESSURE_SCENARIOS", "").split()  # a subset (unloaded is always run)
TOTAL_DEADLINE = 300 * max(1, ROUNDS)  # seconds for the whole script
PATH = "/1k.bin"

children = []            # Popen objects of the servers we started
Failure = servers.Failure


log = servers.logger("pressure")


# ------------------------------------------------------------------------------ servers

_original_write_config = servers.write_config


def write_config(name, work, docroot, port, keepalive_s, nofile, single_process=False):
    """servers.write_config with the budget: kahttpd gets MaxConnections B, nginx
    worker_connections B + 2 (its listening socket and its channel to the master take one each;
    nginx's descriptor limit stays well above, so worker_connections is what binds)."""
    if name == "kahttpd":
        extra = os.environ.get("BENCH_KAHTTPD_DIRECTIVES", "")
        os.environ["BENCH_KAHTTPD_DIRECTIVES"] = f"MaxConnections {BUDGET}\n{extra}"
        try:
            return _original_write_config(name, work, docroot, port, keepalive_s, nofile,
                                          single_process)
        finally:
            os.environ["BENCH_KAHTTPD_DIRECTIVES"] = extra
    argv = _original_write_config(name, work, docroot, port, keepalive_s, nofile,
                                  single_process)
    if name == "nginx":
        conf = os.path.join(work, "nginx.conf")
        with open(conf) as f:
            text = f.read()
        text, n = re.subn(r"worker_connections \d+;", f"worker_connections {BUDGET + 2};", text)
        if n != 1:
            raise Failure("nginx.conf from servers.py has no worker_connections line")
        with open(conf, "w") as f:
            f.write(text)
    return argv


servers.write_config = write_config  # servers.start() calls it by its module-level name


# ------------------------------------------------------------------------------ attackers

class Conn:
    __slots__ = ("kind", "sock", "state", "buf", "need", "status", "payload", "pos",
                 "next_send", "t_open")

    def __init__(self, kind, sock, payload):
        self.kind = kind          # idle, fresh, head, body
        self.sock = sock
        self.state = "connecting"  # connecting, reading, idle, trickling, done, closed
        self.buf = b""
        self.need = None
        self.status = None
        self.payload = payload
        self.pos = 0
        self.next_send = 0.0
        self.t_open = time.monotonic()




class Crowd:
    """Many client connections of one scenario on one selector, in this process."""

    def __init__(self, port):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.conns = set()       # not closed
        self.reopen = []         # (time, kind) of slow attackers to bring back
        self.opened = collections.Counter()
        self.server_closed = collections.Counter()
        self.connect_failed = collections.Counter()
        self.statuses = collections.Counter()  # (kind, status) of responses seen
        self.max_open = 0
        host = f"Host: 127.0.0.1:{port}\r\n"
        self.payloads = {
            "idle": f"GET {PATH} HTTP/1.1\r\n{host}User-Agent: pressure-idle\r\n\r\n".encode(),
            "fresh": f"GET {PATH} HTTP/1.1\r\n{host}User-Agent: pressure-fresh\r\n\r\n".encode(),
            # 15 s at a byte every 2 s is 8 bytes: the head never completes.
            "head": (f"GET {PATH} HTTP/1.1\r\n{host}User-Agent: pressure-slow-head\r\n"
                     "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n").encode(),
            "body": (f"POST / HTTP/1.1\r\n{host}User-Agent: pressure-slow-body\r\n"
                     f"Content-Type: application/octet-stream\r\n"
                     f"Content-Length: {BODY_LENGTH}\r\n\r\n").encode(),
        }

    def open(self, kind):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex(("127.0.0.1", self.port))
        self.opened[kind] += 1
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            self.connect_failed[kind] += 1
            return None
        c = Conn(kind, s, self.payloads[kind])
        self.sel.register(s, selectors.EVENT_WRITE, c)
        self.conns.add(c)
        self.max_open = max(self.max_open, len(self.conns))
        return c

    def close(self, c, by_server):
        if c.state == "closed":
            return
        if by_server:
            if c.state == "connecting":
                self.connect_failed[c.kind] += 1
            else:
                self.server_closed[c.kind] += 1
        c.state = "closed"
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        self.conns.discard(c)

    def close_all(self):
        for c in list(self.conns):
            self.close(c, by_server=False)
        self.reopen.clear()
        self.sel.close()

    def count(self, kind, states=("idle", "trickling", "reading", "done")):
        return sum(1 for c in self.conns if c.kind == kind and c.state in states)

    def send(self, c, data):
        try:
            n = c.sock.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            self.close(c, by_server=True)
            return -1
        return n

    def on_connected(self, c, now):
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.close(c, by_server=True)
            return
        self.sel.modify(c.sock, selectors.EVENT_READ, c)
        if c.kind in ("idle", "fresh"):
            c.state = "reading"
            if self.send(c, c.payload) < 0:
                return
        else:
            c.state = "trickling"
            first = 1 if c.kind == "head" else len(c.payload)
            n = self.send(c, c.payload[:first])
            if n < 0:
                return
            c.pos = n
            c.next_send = now + TRICKLE_S

    def on_readable(self, c):
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close(c, by_server=True)
            return
        c.buf += data
        while c.buf and servers.response_complete(c):
            self.statuses[(c.kind, c.status)] += 1
            c.buf = c.buf[c.need:]
            c.need = None
            if c.kind == "idle":
                c.state = "idle"
            elif c.kind == "fresh":
                c.state = "done"
        if c.kind in ("head", "body") and len(c.buf) > 65536:
            c.buf = b""  # a response we do not care to parse whole

    def trickle(self, now):
        """One more byte on every slow connection that is due, and bring back closed ones."""
        for c in list(self.conns):
            if c.state == "trickling" and now >= c.next_send:
                if c.kind == "body":
                    piece = b"a"
                elif c.pos < len(c.payload):
                    piece = c.payload[c.pos:c.pos + 1]
                else:
                    continue
                n = self.send(c, piece)
                if n > 0:
                    c.pos += n
                    c.next_send = now + TRICKLE_S
                elif n == 0:
                    c.next_send = now + 0.1
        due = [r for r in self.reopen if r[0] <= now]
        self.reopen = [r for r in self.reopen if r[0] > now]
        for _, kind in due:
            if self.opened[kind] < MAX_OPENS_FACTOR * 2 * BUDGET:
                self.open(kind)

    def step(self, timeout):
        now = time.monotonic()
        for key, mask in self.sel.select(timeout=timeout):
            c = key.data
            if c.state == "closed":
                continue
            if c.state == "connecting":
                if mask & selectors.EVENT_WRITE:
                    self.on_connected(c, now)
                if mask & selectors.EVENT_READ and c.state != "closed":
                    self.on_readable(c)
            else:
                self.on_readable(c)


def run_until(crowd, deadline, done=lambda: False, slow_kind=None):
    """Drives the crowd until `done()` or the deadline; slow attackers of slow_kind that the
    server closes are reopened REOPEN_S later."""
    def lost():
        return crowd.server_closed[slow_kind] + crowd.connect_failed[slow_kind]
    before = lost()
    while time.monotonic() < deadline and not done():
        crowd.step(min(0.05, max(0.0, deadline - time.monotonic())))
        now = time.monotonic()
        if slow_kind:
            after = lost()
            for _ in range(after - before):
                crowd.reopen.append((now + REOPEN_S, slow_kind))
            before = after
            crowd.trickle(now)


def ramp(crowd, kind, n, slow_kind=None, deadline=None):
    """Opens n connections of `kind`, RAMP_BATCH every RAMP_STEP_S."""
    for i in range(0, n, RAMP_BATCH):
        for _ in range(min(RAMP_BATCH, n - i)):
            crowd.open(kind)
        run_until(crowd, time.monotonic() + RAMP_STEP_S, slow_kind=slow_kind)
        if deadline and time.monotonic() > deadline:
            break


# ------------------------------------------------------------------------------ measuring

def start_wrk(port):
    argv = ["timeout", "-k", "2", str(MEASURE_S + 15), "taskset", "-c", CLIENT_CPU, WRK, "-t1",
            f"-c{MEASURE_CONNS}", f"-d{MEASURE_S}s", "-s",
            os.path.join(ROOT, "benchmarks", "wrk", "report.lua"),
            f"http://127.0.0.1:{port}{PATH}"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)


def wrk_result(p):
    out = p.communicate(timeout=30)[0]
    m = re.search(r"^BENCH_RESULT (.*)$", out, re.M)
    if not m:
        log(f"wrk gave no result (exit {p.returncode}): {out.strip()[:300]}")
        return {"rps": 0.0, "requests": 0, "socket_errors": 0, "non2xx": 0, "failed": 0,
                "failed_pct": 100.0, "errors": {}, "wrk_exit": p.returncode}
    v = {k: int(x) for k, x in (kv.split("=") for kv in m.group(1).split())}
    errors = {k: v[k] for k in ("connect", "read", "write", "timeout")}
    sock = sum(errors.values())
    failed = sock + v["status"]
    attempts = v["requests"] + sock
    return {"rps": v["requests"] / (v["duration_us"] / 1e6) if v["duration_us"] else 0.0,
            "requests": v["requests"], "socket_errors": sock, "non2xx": v["status"],
            "failed": failed, "failed_pct": 100.0 * failed / attempts if attempts else 100.0,
            "errors": errors, "lat_p50_ms": v["lat_p50_us"] / 1000,
            "lat_p99_ms": v["lat_p99_us"] / 1000}


def measure_during(crowd, port, slow_kind=None):
    """Runs wrk while the crowd keeps going; returns wrk's result."""
    p = start_wrk(port)
    deadline = time.monotonic() + MEASURE_S + 20
    run_until(crowd, deadline, done=lambda: p.poll() is not None, slow_kind=slow_kind)
    if p.poll() is None:
        p.kill()
    return wrk_result(p)


# ------------------------------------------------------------------------------ scenarios

def scenario_unloaded(port):
    warm = subprocess.run(["timeout", "10", "taskset", "-c", CLIENT_CPU, WRK, "-t1",
                           f"-c{MEASURE_CONNS}", "-d1s", f"http://127.0.0.1:{port}{PATH}"],
                          capture_output=True)
    del warm  # a 1 s warm-up, as run.sh does
    # The same loop as under attack, with no attackers, so this process behaves alike.
    crowd = Crowd(port)
    try:
        return {"measure": measure_during(crowd, port)}
    finally:
        crowd.close_all()


def scenario_idle(port):
    crowd = Crowd(port)
    try:
        # With PRESSURE_IDLE_REOPEN=1, an idle connection the server closes comes back
        # REOPEN_S later (one GET, then silent again), so the server stays at its budget.
        ramp(crowd, "idle", BUDGET, slow_kind=IDLE_REOPEN)
        run_until(crowd, time.monotonic() + 10,
                  done=lambda: not any(c.state in ("connecting", "reading")
                                       for c in crowd.conns), slow_kind=IDLE_REOPEN)
        established = crowd.count("idle", ("idle",))
        run_until(crowd, time.monotonic() + IDLE_WAIT_S, slow_kind=IDLE_REOPEN)
        held = crowd.count("idle", ("idle",))
        fresh = [crowd.open("fresh") for _ in range(FRESH)]
        run_until(crowd, time.monotonic() + FRESH_DEADLINE_S,
                  done=lambda: all(c is None or c.state in ("done", "closed") for c in fresh),
                  slow_kind=IDLE_REOPEN)
        served = sum(1 for c in fresh if c is not None and c.status == 200)
        fresh_statuses = collections.Counter(
            "none" if c is None or c.status is None else str(c.status) for c in fresh)
        for c in fresh:
            if c is not None:
                crowd.close(c, by_server=False)
        held_after_fresh = crowd.count("idle", ("idle",))
        measure = measure_during(crowd, port, slow_kind=IDLE_REOPEN)
        return {"measure": measure, "fresh_served": served,
                "idle_connections_opened": crowd.opened["idle"],
                "idle_closed_by_server": crowd.server_closed["idle"], "fresh": FRESH,
                "fresh_statuses": dict(fresh_statuses), "idle_established": established,
                "idle_held_when_fresh_came": held, "idle_held_after_fresh": held_after_fresh,
                "idle_held_at_end": crowd.count("idle", ("idle",))}
    finally:
        crowd.close_all()


def scenario_slow(port, kind):
    crowd = Crowd(port)
    t0 = time.monotonic()
    end = t0 + ATTACK_S
    try:
        ramp(crowd, kind, 2 * BUDGET, slow_kind=kind, deadline=end)
        run_until(crowd, t0 + ATTACK_MEASURE_AT, slow_kind=kind)
        open_at_start = crowd.count(kind)
        measure = measure_during(crowd, port, slow_kind=kind)
        open_at_end_of_measure = crowd.count(kind)
        run_until(crowd, end, slow_kind=kind)
        return {"measure": measure, "attackers": 2 * BUDGET,
                "attacker_connections_opened": crowd.opened[kind],
                "closed_by_server": crowd.server_closed[kind],
                "connect_failed": crowd.connect_failed[kind],
                "open_when_measuring_started": open_at_start,
                "open_when_measuring_ended": open_at_end_of_measure,
                "open_at_end": crowd.count(kind),
                "responses": {str(s): n for (k, s), n in crowd.statuses.items() if k == kind}}
    finally:
        crowd.close_all()


SCENARIOS = [
    ("unloaded", "unloaded (measuring client alone)", scenario_unloaded),
    ("idle", f"idle exhaustion: B idle keep-alive + {FRESH} fresh clients", scenario_idle),
    ("slow-heads", "slow heads, 2B connections", lambda port: scenario_slow(port, "head")),
    ("slow-bodies", "slow bodies, 2B connections", lambda port: scenario_slow(port, "body")),
]


# ------------------------------------------------------------------------------ report

def fmt_int(x):
    return f"{x:,}"


def median(values):
    v = sorted(values)
    n = len(v)
    return (v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2) if n else None


def spread(values, fmt):
    """The median, with the range over the rounds when there were several."""
    m = median(values)
    if len(values) < 2:
        return fmt(m)
    return f"{fmt(m)} ({fmt(min(values))}–{fmt(max(values))})"


def report(rounds, meta):
    """Medians over the rounds (range in brackets) of each round's ratio to the same round's
    unloaded run, then the last round's details."""
    results = rounds[-1]
    names = meta["servers"]
    lines = [f"Keep-alive under pressure: budget B = {BUDGET} connections, keep-alive timeout "
             f"{KEEPALIVE_S} s, measuring client wrk -t1 -c{MEASURE_CONNS} -d{MEASURE_S}s on "
             f"{PATH}. kahttpd {meta['kahttpd_commit']}, {meta.get('nginx_version') or 'nginx'}; "
             f"{meta['date']}. Medians of {len(rounds)} interleaved round(s), range in brackets.",
             ""]
    head = "| scenario |"
    rule = "|---|"
    for n in names:
        head += f" {n} req/s ÷ unloaded | {n} failed % | {n} fresh served |"
        rule += "---:|---:|---:|"
    lines += [head, rule]
    for key, title, _ in SCENARIOS:
        if not any(key in rd for rd in rounds):
            continue
        row = f"| {title} |"
        for n in names:
            runs = [(rd[key][n], rd["unloaded"][n]) for rd in rounds
                    if n in rd.get(key, {}) and n in rd.get("unloaded", {})]
            if not runs:
                row += " — | — | — |"
                continue
            if key == "unloaded":
                ratio = "1.00 (" + spread([r["measure"]["rps"] for r, _ in runs],
                                          lambda x: fmt_int(round(x))) + " req/s)"
            else:
                ratio = spread([r["measure"]["rps"] / b["measure"]["rps"]
                                if b["measure"]["rps"] else 0.0 for r, b in runs],
                               lambda x: f"{x:.2f}")
            failed = spread([r["measure"]["failed_pct"] for r, _ in runs], lambda x: f"{x:.2f}")
            fresh = (spread([r["fresh_served"] for r, _ in runs], lambda x: f"{x:g}") +
                     f" of {runs[0][0]['fresh']}") if "fresh_served" in runs[0][0] else "—"
            row += f" {ratio} | {failed} | {fresh} |"
        lines.append(row)
    lines += ["", "Failed = wrk's socket errors (connect/read/write/timeout) + non-2xx; % of "
              "requests + socket errors. Targets: idle exhaustion 100 % fresh clients served; "
              "slow heads and bodies >= 0.5x unloaded with <= 1 % failed.", ""]
    lines += ["The last round in detail:", ""]
    lines += ["| details | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]

    def cell(key, fn):
        out = []
        for n in names:
            r = results.get(key, {}).get(n)
            out.append(fn(r) if r else "—")
        return " | ".join(out)

    idle_rows = []
    idle_rows.append("| idle: held when fresh came / after fresh / at end (of B) | " + cell(
        "idle", lambda r: f"{r['idle_held_when_fresh_came']} / {r['idle_held_after_fresh']} / "
                          f"{r['idle_held_at_end']}") + " |")
    idle_rows.append("| idle: fresh clients' statuses | " + cell(
        "idle", lambda r: ", ".join(f"{k}: {v}" for k, v in sorted(r["fresh_statuses"].items())))
        + " |")
    idle_rows.append("| idle: connections opened / closed by server | " + cell(
        "idle", lambda r: f"{r['idle_connections_opened']} / {r['idle_closed_by_server']}")
        + " |")
    if "idle" in results:
        lines += idle_rows
    for key in ("slow-heads", "slow-bodies"):
        if key not in results:
            continue
        lines.append(f"| {key}: attackers open at measure start / end / scenario end | " + cell(
            key, lambda r: f"{r['open_when_measuring_started']} / "
                           f"{r['open_when_measuring_ended']} / {r['open_at_end']}") + " |")
        lines.append(f"| {key}: connections opened / closed by server / responses | " + cell(
            key, lambda r: f"{r['attacker_connections_opened']} / {r['closed_by_server']} / "
                           + (", ".join(f"{s}: {c}" for s, c in sorted(r["responses"].items()))
                              or "none")) + " |")
    for key, _, _ in SCENARIOS:
        if key not in results:
            continue
        lines.append(f"| {key}: wrk socket errors (c/r/w/t), p99 ms | " + cell(
            key, lambda r: "{connect}/{read}/{write}/{timeout}".format(**r["measure"]["errors"])
            + (f", {r['measure']['lat_p99_ms']:.1f}" if "lat_p99_ms" in r["measure"] else ""))
            + " |")
    if any(meta.get("nginx_warnings", {}).values()):
        lines.append("| nginx error log: \"worker_connections are not enough\" lines | " + " | ".join(
            (", ".join(f"{k} {v}" for k, v in meta["nginx_warnings"].items()) if n == "nginx"
             else "—") for n in names) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ main



def main():
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))

    def overall_deadline(*_):
        raise Failure("overall deadline passed")
    signal.signal(signal.SIGALRM, overall_deadline)
    signal.alarm(TOTAL_DEADLINE)

    want = servers.raise_nofile()
    if want < 2 * BUDGET + FRESH + MEASURE_CONNS + 64:
        raise Failure(f"ulimit -n is {want}: too few descriptors for 2 x {BUDGET} attackers")
    try:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    except (OSError, ValueError):
        pass
    for name in NAMES:
        if name not in ("kahttpd", "nginx"):
            raise Failure(f"PRESSURE_SERVERS: {name} is not one of kahttpd nginx")
        if not shutil.which(servers.program(name)):
            raise Failure(f"{name} not found at {servers.program(name)} "
                          "(make build; KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh)")
    if not shutil.which(WRK):
        raise Failure("wrk not found (bash scripts/install-deps.sh)")

    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="kahttpd-pressure.")
    os.chmod(work, 0o755)  # nginx's worker runs as nobody when started by root
    docroot = os.path.join(work, "www")
    os.makedirs(docroot)
    os.chmod(docroot, 0o755)
    with open(os.path.join(docroot, "index.html"), "w") as f:
        f.write("<!doctype html><html><body><p>pressure</p></body></html>\n")
    with open(os.path.join(docroot, "1k.bin"), "wb") as f:
        f.write(os.urandom(1024))
    for fn in ("index.html", "1k.bin"):
        os.chmod(os.path.join(docroot, fn), 0o644)
    errlog = open(os.path.join(OUT, "pressure.stderr.log"), "w")
    # nginx's descriptor limit (worker_rlimit_nofile): far above its worker_connections, so the
    # budget is what binds. kahttpd inherits this process's limit; its own descriptor budget
    # (3/4 of it, less 32) is far above MaxConnections too.
    nginx_nofile = min(want, 4 * BUDGET + 1024)

    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "kahttpd_commit": servers.git_commit(), "kahttpd": servers.program("kahttpd"),
            "nginx_version": servers.version("nginx") if "nginx" in NAMES else None,
            "servers": NAMES, "budget": BUDGET, "keepalive_s": KEEPALIVE_S,
            "nginx_worker_connections": BUDGET + 2, "measure_seconds": MEASURE_S,
            "measure_connections": MEASURE_CONNS, "idle_wait_s": IDLE_WAIT_S,
            "attack_seconds": ATTACK_S, "idle_reopen": bool(IDLE_REOPEN), "trickle_s": TRICKLE_S, "fresh_clients": FRESH,
            "nginx_warnings": {}, "server_alive_after": {}}
    scenarios = [sc for sc in SCENARIOS if not ONLY or sc[0] in ONLY or sc[0] == "unloaded"]
    rounds = []
    meta["rounds"] = ROUNDS
    nginx_logs = []
    t_start = time.monotonic()
    try:
        for rnd in range(ROUNDS):
            results = {key: {} for key, _, _ in scenarios}
            rounds.append(results)
            for key, title, fn in scenarios:
                for name in NAMES:
                    wd = os.path.join(work, f"{name}-{key}-{rnd}")
                    log(f"round {rnd + 1}/{ROUNDS}: {key}: {name}")
                    srv = servers.start(name, wd, docroot, KEEPALIVE_S, nginx_nofile,
                                        cpu=SERVER_CPU, stderr=errlog, children=children)
                    try:
                        time.sleep(0.2)
                        r = fn(srv.port)
                        alive = srv.alive()
                        meta["server_alive_after"][f"{name} {key}"] = alive and meta[
                            "server_alive_after"].get(f"{name} {key}", True)
                        if not alive:
                            log(f"{name} exited during {key} (status {srv.popen.returncode})")
                        results[key][name] = r
                        m = r["measure"]
                        log(f"{key}: {name}: {m['rps']:,.0f} req/s, failed {m['failed']} "
                            f"({m['failed_pct']:.1f} %)"
                            + (f", fresh served {r['fresh_served']}/{r['fresh']}"
                               if "fresh_served" in r else ""))
                    finally:
                        srv.stop()
                    if name == "nginx":
                        path = os.path.join(wd, "error.log")
                        try:
                            with open(path) as f:
                                text = f.read()
                        except OSError:
                            text = ""
                        nginx_logs.append(f"==== {key}\n{text}")
                        meta["nginx_warnings"][key] = (meta["nginx_warnings"].get(key, 0) +
                                                       text.count("worker_connections are not enough"))
                    time.sleep(0.3)
    finally:
        for p in children:
            servers.stop(p)
        errlog.close()
        with open(os.path.join(OUT, "pressure.nginx.error.log"), "w") as f:
            f.write("\n".join(nginx_logs))
        shutil.rmtree(work, ignore_errors=True)
    meta["took_s"] = round(time.monotonic() - t_start, 1)

    md = report(rounds, meta)
    print(md, end="")
    servers.write_report(OUT, "pressure", md, {"meta": meta, "rounds": rounds})
    log(f"took {meta['took_s']} s; wrote {OUT}/pressure.md and pressure.json")
    return 0


if __name__ == "__main__":
    servers.run_script(main, children, log)
