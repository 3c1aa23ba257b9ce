#!/usr/bin/env python3
"""Idle keep-alive connections: memory per connection and keep-alive timeout accuracy, for
kahttpd, nginx, h2o, lighttpd, caddy and apache (the servers and their tuning: servers.py).
Standard library only.

1. Memory: each server in turn runs with a long keep-alive timeout (300 s). The script opens N
   connections (IDLE_CONNECTIONS, default 10000) in batches, sends one GET on each and reads the
   whole response, so each one is a real idle keep-alive connection, then reads the server's
   RSS (VmRSS of /proc/PID/status; nginx, apache: the worker process) before and after:
   bytes per idle connection = (RSS after - RSS before) / N. Kernel socket buffers are not
   part of RSS, so this is the server's own per-connection state (plus allocator slack).
2. Timeout accuracy: every server runs with a keep-alive timeout of IDLE_TIMEOUT_SECONDS (5),
   all at once (they are idle but for these connections, so they do not disturb each other).
   The script opens M connections to each (IDLE_TIMEOUT_CONNECTIONS, default 100), their
   requests spread over one second, and measures for each the time from the end of the response
   to the server's close (EOF or reset): min / median / max, in ms. 5000 ms is exact.

   python3 benchmarks/idle_memory.py
   IDLE_CONNECTIONS=2000 IDLE_TIMEOUT_SECONDS=1 python3 benchmarks/idle_memory.py

Servers: one worker each, pinned to CPU 0 (BENCH_SERVER_CPU); this client pinned to CPU 1
(BENCH_CLIENT_CPU); BENCH_SERVERS picks some of kahttpd nginx h2o lighttpd caddy apache.
Results: stdout and build/bench/idle.{json,md} (BENCH_OUT). Every step has a deadline; the
servers this script starts are stopped by PID on exit. It fails only when a server cannot start.
"""
import datetime
import errno
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

ROOT = servers.ROOT
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "build", "bench"))
N_IDLE = int(os.environ.get("IDLE_CONNECTIONS", "10000"))
N_TIMEOUT = int(os.environ.get("IDLE_TIMEOUT_CONNECTIONS", "100"))
TIMEOUT_S = int(os.environ.get("IDLE_TIMEOUT_SECONDS", "5"))
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "1")
# The minimal server has no keep-alive timeout, so it has no place here.
NAMES = [n for n in os.environ.get("BENCH_SERVERS", " ".join(servers.ALL)).split()
         if n != "minimal"]
BATCH = 100            # connections opened at once (kahttpd's listen backlog is 511)
STEP_DEADLINE = 120.0  # seconds for any one step
TOTAL_DEADLINE = 600   # seconds for the whole script

children = []  # Popen objects we started
Failure = servers.Failure


def log(msg):
    print(f"idle: {msg}", file=sys.stderr, flush=True)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


# ------------------------------------------------------------------------------ clients

def request_bytes(port, path):
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "User-Agent: kahttpd-idle-bench\r\n\r\n").encode()


class Conn:
    __slots__ = ("sock", "req", "server", "state", "buf", "need", "t_resp", "t_close", "status",
                 "t_start")

    def __init__(self, sock, req, server):
        self.sock = sock
        self.req = req
        self.server = server
        self.state = "connecting"
        self.buf = b""
        self.need = None
        self.t_resp = None
        self.t_close = None
        self.status = None
        self.t_start = None




def mark_closed(c, sel, pending):
    c.state = "closed"
    c.t_close = time.monotonic()
    sel.unregister(c.sock)
    pending.discard(c)


def drive(conns, deadline, sel, until):
    """Runs the connect/send/read state machine of conns until every one is in a state in
    `until` or closed, or the deadline passes. Returns the connections still pending."""
    pending = {c for c in conns if c.state not in until and c.state != "closed"}
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=min(0.5, max(0.0, deadline - time.monotonic()))):
            c = key.data
            if c.state == "connecting":
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    mark_closed(c, sel, pending)
                    continue
                try:
                    c.sock.send(c.req)
                except OSError:
                    mark_closed(c, sel, pending)
                    continue
                c.state = "reading"
                sel.modify(c.sock, selectors.EVENT_READ, c)
                continue
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                mark_closed(c, sel, pending)
            elif c.state == "reading":
                c.buf += data
                if servers.response_complete(c):
                    c.t_resp = time.monotonic()
                    c.buf = b""
                    c.state = "idle"
                    if "idle" in until:
                        pending.discard(c)
            else:
                c.buf += data  # unexpected bytes after the response
    return pending


def open_conn(port, sel, path, server=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    c = Conn(s, request_bytes(port, path), server)
    c.t_start = time.monotonic()
    rc = s.connect_ex(("127.0.0.1", port))
    if rc not in (0, errno.EINPROGRESS):
        s.close()
        c.state = "closed"
        return c
    sel.register(s, selectors.EVENT_WRITE, c)
    return c


def close_all(conns, sel):
    for c in conns:
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()


# ------------------------------------------------------------------------------ tests

def memory_test(name, pid, port, n):
    sel = selectors.DefaultSelector()
    # one warm-up request so first-use allocations are not counted per connection
    warm = [open_conn(port, sel, "/index.html")]
    drive(warm, time.monotonic() + 10, sel, {"idle"})
    close_all(warm, sel)
    time.sleep(0.5)
    before = rss_bytes(pid)

    conns = []
    t0 = time.monotonic()
    deadline = t0 + STEP_DEADLINE
    while len(conns) < n and time.monotonic() < deadline:
        batch = [open_conn(port, sel, "/index.html") for _ in range(min(BATCH, n - len(conns)))]
        drive(batch, min(deadline, time.monotonic() + 30), sel, {"idle"})
        conns += batch
    opened = time.monotonic() - t0
    time.sleep(1.0)
    # anything the server closed in the meantime shows up as EOF now
    drive(conns, time.monotonic() + 0.5, sel, set())
    idle = [c for c in conns if c.state == "idle"]
    ok = [c for c in idle if c.status == 200]
    after = rss_bytes(pid)
    close_all(conns, sel)
    time.sleep(1.0)
    after_close = rss_bytes(pid)
    sel.close()
    res = {
        "server": name,
        "connections_requested": n,
        "connections_idle": len(idle),
        "responses_200": len(ok),
        "seconds_to_open": round(opened, 2),
        "rss_before": before,
        "rss_after": after,
        "rss_after_close": after_close,
        "bytes_per_connection": round((after - before) / len(idle)) if idle else None,
    }
    log(f"{name}: {len(idle)}/{n} idle connections in {opened:.1f}s, RSS {before/2**20:.1f} -> "
        f"{after/2**20:.1f} MiB ({res['bytes_per_connection']} B/conn), "
        f"{after_close/2**20:.1f} MiB after closing them")
    return res


def timeout_test(started, m, timeout_s):
    """Keep-alive timeout accuracy of every server in `started` at once."""
    sel = selectors.DefaultSelector()
    conns = []
    t0 = time.monotonic()
    deadline = t0 + 1 + timeout_s + 10
    # spread the requests over one second, so a coarse timer shows up as spread
    for i in range(m):
        target = t0 + i / m
        drive(conns, target, sel, set())
        time.sleep(max(0.0, target - time.monotonic()))
        for srv in started:
            conns.append(open_conn(srv.port, sel, "/index.html", srv.name))
    left = drive(conns, deadline, sel, set())
    close_all(conns, sel)
    sel.close()
    results = []
    for srv in started:
        mine = [c for c in conns if c.server == srv.name]
        delays = [(c.t_close - c.t_resp) * 1000 for c in mine if c.t_resp and c.t_close]
        never = sum(1 for c in left if c.server == srv.name)
        no_response = sum(1 for c in mine if c.t_resp is None)
        res = {
            "server": srv.name,
            "timeout_s": timeout_s,
            "connections": m,
            "closed_after_response": len(delays),
            "not_closed_within_deadline": never,
            "no_response": no_response,
            "min_ms": round(min(delays), 1) if delays else None,
            "median_ms": round(statistics.median(delays), 1) if delays else None,
            "max_ms": round(max(delays), 1) if delays else None,
        }
        log(f"{srv.name}: keep-alive timeout {timeout_s} s -> close after min {res['min_ms']} / "
            f"median {res['median_ms']} / max {res['max_ms']} ms ({len(delays)}/{m} closed, "
            f"{never} still open at the deadline, {no_response} without a response)")
        results.append(res)
    return results


def main():
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))

    def overall_deadline(*_):
        raise Failure("overall deadline passed")
    signal.signal(signal.SIGALRM, overall_deadline)
    signal.alarm(TOTAL_DEADLINE)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        want = soft
    n = N_IDLE
    # this client needs a descriptor per connection; lighttpd needs two (socket and file)
    limit = want - 256 if "lighttpd" not in NAMES else min(want - 256, want // 2)
    if n > limit:
        n = max(100, limit)
        log(f"ulimit -n is {want}: opening {n} connections instead of {N_IDLE}")
    try:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    except (OSError, ValueError):
        pass

    for name in NAMES:
        if not shutil.which(servers.program(name)):
            raise Failure(f"{name} not found at {servers.program(name)} "
                          "(make build; KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh)")

    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="kahttpd-idle.")
    os.chmod(work, 0o755)  # nginx's worker and h2o run as nobody when started by root
    docroot = os.path.join(work, "www")
    os.makedirs(docroot)
    os.chmod(docroot, 0o755)
    with open(os.path.join(docroot, "index.html"), "w") as f:
        f.write("<!doctype html><html><body><p>idle</p></body></html>\n")
    os.chmod(os.path.join(docroot, "index.html"), 0o644)
    errlog = open(os.path.join(OUT, "idle.stderr.log"), "w")

    def start(name, keepalive_s):
        return servers.start(name, os.path.join(work, f"{name}-ka{keepalive_s}"), docroot,
                             keepalive_s, want, cpu=SERVER_CPU, stderr=errlog,
                             children=children)

    results = {"memory": [], "timeout": [], "connections": n, "timeout_s": TIMEOUT_S}
    try:
        for name in NAMES:
            srv = start(name, 300)
            try:
                pid = servers.serving_pid(name, srv.pid)
                results["memory"].append(memory_test(name, pid, srv.port, n))
                if not srv.alive():
                    log(f"{name} exited during the memory test (status {srv.popen.returncode})")
            finally:
                srv.stop()
            time.sleep(0.5)
        started = [start(name, TIMEOUT_S) for name in NAMES]
        try:
            results["timeout"] = timeout_test(started, N_TIMEOUT, TIMEOUT_S)
            for srv in started:
                if not srv.alive():
                    log(f"{srv.name} exited during the timeout test")
        finally:
            for srv in started:
                srv.stop()
    finally:
        for p in children:
            servers.stop(p)
        errlog.close()
        shutil.rmtree(work, ignore_errors=True)

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    results["date"] = now
    with open(os.path.join(OUT, "idle.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    text = markdown(results)
    with open(os.path.join(OUT, "idle.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


def markdown(results):
    def num(v, unit=""):
        return "—" if v is None else f"{v:,}{unit}"
    lines = [f"Idle keep-alive connections ({results['connections']:,} per server, one request "
             "each; RSS of the process that holds them):", "",
             "| server | idle connections | RSS before | RSS after | bytes / idle connection | "
             "RSS after closing |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in results["memory"]:
        lines.append(f"| {r['server']} | {r['connections_idle']:,} of "
                     f"{r['connections_requested']:,} | {r['rss_before']/2**20:.1f} MiB | "
                     f"{r['rss_after']/2**20:.1f} MiB | {num(r['bytes_per_connection'])} | "
                     f"{r['rss_after_close']/2**20:.1f} MiB |")
    lines += ["", f"Keep-alive timeout {results['timeout_s']} s: time from the end of the "
              "response to the server's close, as the client sees it.", "",
              "| server | connections closed | min | median | max | not closed in time |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in results["timeout"]:
        lines.append(f"| {r['server']} | {r['closed_after_response']} of {r['connections']} | "
                     f"{num(r['min_ms'], ' ms')} | {num(r['median_ms'], ' ms')} | "
                     f"{num(r['max_ms'], ' ms')} | {r['not_closed_within_deadline']} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        log(str(e))
        sys.exit(1)
    finally:
        for p in children:
            servers.stop(p)
