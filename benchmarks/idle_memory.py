#!/usr/bin/env python3
"""Idle keep-alive connections: memory per connection and keep-alive timeout accuracy,
kahttpd next to nginx. Standard library only.

1. Memory: the server runs with a long keep-alive timeout. The script opens N connections
   (IDLE_CONNECTIONS, default 10000) in batches, sends one GET on each and reads the whole
   response, so each one is a real idle keep-alive connection, then reads the server's RSS
   (VmRSS of /proc/PID/status; nginx: its worker) before and after:
   bytes per idle connection = (RSS after - RSS before) / N. Kernel socket buffers are not
   part of RSS, so this is the server's own per-connection state (plus allocator slack).
2. Timeout accuracy: the server runs with KeepAliveTimeout 1 (nginx: keepalive_timeout 1s).
   The script opens M connections (IDLE_TIMEOUT_CONNECTIONS, default 100), their requests
   spread over one second, and measures for each the time from the end of the response to
   the server's close (EOF or reset): min / median / max, in ms. 1000 ms is exact.

   python3 benchmarks/idle_memory.py
   IDLE_CONNECTIONS=2000 python3 benchmarks/idle_memory.py

Servers: one worker each, pinned to CPU 0 (BENCH_SERVER_CPU); this client pinned to CPU 1
(BENCH_CLIENT_CPU). Results: stdout and build/bench/idle.{json,md} (BENCH_OUT). Every step
has a deadline; the servers this script starts are stopped by PID on exit. It fails only
when a server cannot start.
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
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KAHTTPD = os.environ.get("KAHTTPD", os.path.join(ROOT, "build", "server", "kahttpd"))
NGINX = os.environ.get("NGINX", shutil.which("nginx") or "/usr/sbin/nginx")
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "build", "bench"))
N_IDLE = int(os.environ.get("IDLE_CONNECTIONS", "10000"))
N_TIMEOUT = int(os.environ.get("IDLE_TIMEOUT_CONNECTIONS", "100"))
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "1")
BATCH = 100            # connections opened at once (kahttpd's listen backlog is 511)
STEP_DEADLINE = 120.0  # seconds for any one step
TOTAL_DEADLINE = 600   # seconds for the whole script

children = []  # Popen objects we started


def log(msg):
    print(f"idle: {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# ------------------------------------------------------------------------------ servers

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def alive(p):
    return p.poll() is None


def stop(p):
    if p is None or p.poll() is not None:
        return
    p.terminate()  # by PID
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def start_kahttpd(work, docroot, keepalive_timeout, logf):
    conf = os.path.join(work, f"kahttpd-ka{keepalive_timeout}.conf")
    with open(conf, "w") as f:
        f.write(f'Listen 127.0.0.1:0\nDocumentRoot "{docroot}"\nWorkers 1\nKeepAlive On\n'
                f"KeepAliveTimeout {keepalive_timeout}\nMaxKeepAliveRequests 0\n"
                "TypesConfig /etc/mime.types\n")
    p = subprocess.Popen(["taskset", "-c", SERVER_CPU, KAHTTPD, "-f", conf],
                         stdout=subprocess.PIPE, stderr=logf, text=True)
    children.append(p)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if sel.select(timeout=0.2):
            line = p.stdout.readline()
            if not line:
                break
            if line.startswith("kahttpd: listening on 127.0.0.1:"):
                port = int(line.split("127.0.0.1:", 1)[1].split()[0])
                sel.close()
                return p, port, p.pid
        if not alive(p):
            break
    stop(p)
    raise Failure("kahttpd did not start")


def start_nginx(work, docroot, keepalive_timeout, nofile):
    prefix = os.path.join(work, f"nginx-ka{keepalive_timeout}")
    os.makedirs(os.path.join(prefix, "tmp"), exist_ok=True)
    for attempt in range(3):
        port = free_port()
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_rlimit_nofile {nofile};
events {{ worker_connections {nofile - 32}; use epoll; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout {keepalive_timeout}s;
    types {{ text/html html; application/octet-stream bin; }}
    default_type application/octet-stream;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server {{ listen 127.0.0.1:{port}; root {docroot}; index index.html; }}
}}
""")
        p = subprocess.Popen(["taskset", "-c", SERVER_CPU, NGINX, "-p", prefix + "/", "-c", conf,
                              "-e", os.path.join(prefix, "error.log"), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(p)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and alive(p):
            workers = nginx_workers(p.pid)
            if workers and can_connect(port):
                return p, port, workers[0]
            time.sleep(0.1)
        stop(p)
        log(f"nginx did not start on port {port} (attempt {attempt + 1})")
    raise Failure("nginx did not start")


def nginx_workers(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


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
    __slots__ = ("sock", "state", "buf", "need", "t_resp", "t_close", "status", "t_start")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connecting"
        self.buf = b""
        self.need = None
        self.t_resp = None
        self.t_close = None
        self.status = None
        self.t_start = None


def response_complete(c):
    """True once c.buf holds a whole response (status line, headers, Content-Length body)."""
    if c.need is None:
        end = c.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = c.buf[:end].decode("latin-1").split("\r\n")
        try:
            c.status = int(head[0].split()[1])
        except (IndexError, ValueError):
            c.status = -1
        length = 0
        for h in head[1:]:
            name, _, value = h.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        c.need = end + 4 + length
    return len(c.buf) >= c.need


def drive(conns, port, path, deadline, sel, until):
    """Runs the connect/send/read state machine of conns until every one is in a state in
    `until` or closed, or the deadline passes."""
    req = request_bytes(port, path)
    pending = {c for c in conns if c.state not in until and c.state != "closed"}
    while pending and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=min(0.5, max(0.0, deadline - time.monotonic()))):
            c = key.data
            if c.state == "connecting":
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    c.state = "closed"
                    sel.unregister(c.sock)
                    pending.discard(c)
                    continue
                try:
                    c.sock.send(req)
                except OSError:
                    c.state = "closed"
                    sel.unregister(c.sock)
                    pending.discard(c)
                    continue
                c.state = "reading"
                sel.modify(c.sock, selectors.EVENT_READ, c)
            elif c.state == "reading":
                try:
                    data = c.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    c.state = "closed"
                    c.t_close = time.monotonic()
                    sel.unregister(c.sock)
                    pending.discard(c)
                    continue
                c.buf += data
                if response_complete(c):
                    c.t_resp = time.monotonic()
                    c.buf = b""
                    c.state = "idle"
                    if "idle" in until:
                        pending.discard(c)
            elif c.state == "idle":
                try:
                    data = c.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    c.t_close = time.monotonic()
                    c.state = "closed"
                    sel.unregister(c.sock)
                    pending.discard(c)
                else:
                    c.buf += data  # unexpected bytes after the response
    return pending


def open_conn(port, sel):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    c = Conn(s)
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
    warm = [open_conn(port, sel)]
    drive(warm, port, "/index.html", time.monotonic() + 10, sel, {"idle"})
    close_all(warm, sel)
    time.sleep(0.5)
    before = rss_bytes(pid)

    conns = []
    t0 = time.monotonic()
    deadline = t0 + STEP_DEADLINE
    while len(conns) < n and time.monotonic() < deadline:
        batch = [open_conn(port, sel) for _ in range(min(BATCH, n - len(conns)))]
        drive(batch, port, "/index.html", min(deadline, time.monotonic() + 30), sel, {"idle"})
        conns += batch
    opened = time.monotonic() - t0
    time.sleep(1.0)
    # anything the server closed in the meantime shows up as EOF now
    drive(conns, port, "/index.html", time.monotonic() + 0.5, sel, set())
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


def timeout_test(name, port, m):
    sel = selectors.DefaultSelector()
    conns = []
    t0 = time.monotonic()
    deadline = t0 + 15
    # spread the requests over one second, so a coarse timer shows up as spread
    for i in range(m):
        target = t0 + i / m
        drive(conns, port, "/index.html", target, sel, set())
        time.sleep(max(0.0, target - time.monotonic()))
        conns.append(open_conn(port, sel))
    left = drive(conns, port, "/index.html", deadline, sel, set())
    close_all(conns, sel)
    sel.close()
    delays = [(c.t_close - c.t_resp) * 1000 for c in conns if c.t_resp and c.t_close]
    never = len(left)
    no_response = sum(1 for c in conns if c.t_resp is None)
    res = {
        "server": name,
        "connections": m,
        "closed_after_response": len(delays),
        "not_closed_within_deadline": never,
        "no_response": no_response,
        "min_ms": round(min(delays), 1) if delays else None,
        "median_ms": round(statistics.median(delays), 1) if delays else None,
        "max_ms": round(max(delays), 1) if delays else None,
    }
    log(f"{name}: keep-alive timeout 1 s -> close after min {res['min_ms']} / median "
        f"{res['median_ms']} / max {res['max_ms']} ms ({len(delays)}/{m} closed, "
        f"{never} still open at the deadline, {no_response} without a response)")
    return res


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
    if n + 256 > want:
        n = max(100, want - 256)
        log(f"ulimit -n is {want}: opening {n} connections instead of {N_IDLE}")
    try:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    except (OSError, ValueError):
        pass

    if not os.access(KAHTTPD, os.X_OK):
        raise Failure(f"no kahttpd binary at {KAHTTPD} (run 'make build' first)")
    if not shutil.which(NGINX):
        raise Failure("nginx not found (KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh)")

    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="kahttpd-idle.")
    os.chmod(work, 0o755)  # nginx's worker runs as nobody when started by root
    docroot = os.path.join(work, "www")
    os.makedirs(docroot)
    os.chmod(docroot, 0o755)
    with open(os.path.join(docroot, "index.html"), "w") as f:
        f.write("<!doctype html><html><body><p>idle</p></body></html>\n")
    os.chmod(os.path.join(docroot, "index.html"), 0o644)
    klog = open(os.path.join(OUT, "idle.kahttpd.stderr.log"), "w")

    results = {"memory": [], "timeout": []}
    try:
        for name in ("kahttpd", "nginx"):
            if name == "kahttpd":
                p, port, pid = start_kahttpd(work, docroot, 300, klog)
            else:
                p, port, pid = start_nginx(work, docroot, 300, want)
            try:
                results["memory"].append(memory_test(name, pid, port, n))
                if not alive(p):
                    log(f"{name} exited during the memory test (status {p.returncode})")
            finally:
                stop(p)
            time.sleep(1)
            if name == "kahttpd":
                p, port, pid = start_kahttpd(work, docroot, 1, klog)
            else:
                p, port, pid = start_nginx(work, docroot, 1, want)
            try:
                results["timeout"].append(timeout_test(name, port, N_TIMEOUT))
                if not alive(p):
                    log(f"{name} exited during the timeout test (status {p.returncode})")
            finally:
                stop(p)
    finally:
        for p in children:
            stop(p)
        klog.close()
        shutil.rmtree(work, ignore_errors=True)

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    results["date"] = now
    with open(os.path.join(OUT, "idle.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")

    def num(v, unit=""):
        return "—" if v is None else f"{v:,}{unit}"
    lines = [f"# Idle keep-alive connections — {now}", "",
             "| server | idle connections | RSS before | RSS after | bytes / idle connection | RSS after closing |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in results["memory"]:
        lines.append(f"| {r['server']} | {r['connections_idle']:,} of {r['connections_requested']:,} | "
                     f"{r['rss_before']/2**20:.1f} MiB | {r['rss_after']/2**20:.1f} MiB | "
                     f"{num(r['bytes_per_connection'])} | {r['rss_after_close']/2**20:.1f} MiB |")
    lines += ["", "Keep-alive timeout 1 s: time from the end of the response to the server's close.", "",
              "| server | connections closed | min | median | max | not closed after 15 s |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in results["timeout"]:
        lines.append(f"| {r['server']} | {r['closed_after_response']} of {r['connections']} | "
                     f"{num(r['min_ms'], ' ms')} | {num(r['median_ms'], ' ms')} | "
                     f"{num(r['max_ms'], ' ms')} | {r['not_closed_within_deadline']} |")
    lines.append("")
    text = "\n".join(lines)
    with open(os.path.join(OUT, "idle.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        log(str(e))
        sys.exit(1)
    finally:
        for p in children:
            stop(p)
