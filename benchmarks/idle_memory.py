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

Sharded (IDLE_SHARDS, default auto): each server process and this client need a descriptor per
connection, and kahttpd takes connections up to three quarters of its descriptor limit, so the
script raises RLIMIT_NOFILE to 4/3 of IDLE_CONNECTIONS (past the hard limit where it may). Where
the hard limit stops short (20,000 here: kahttpd then holds 14,968, shard_capacity leaves it
14,456), IDLE_SHARDS=auto spreads the connections over as few processes as hold them (100,000:
7 of 14,285 or 14,286); IDLE_SHARDS=K over K, IDLE_SHARDS=off never (the count is then cut to
the limit). Sharded, for kahttpd and nginx only (the others skipped): K server processes of
the server, each with its own port, one worker and the usual tuning (nginx: K instances, their
workers measured), all pinned to BENCH_SERVER_CPU; K client processes (forked, each with its
own descriptor limit), client k holding server k's connections from source address
127.0.0.(2 + k). Same procedure as above, all shards at once: warm-up, RSS and PSS of every
server process, half of the connections, RSS, the rest, 1 s, then a check that every one is
still open (no EOF at the client, each answered 200, and as many sockets added to the server's
descriptors, /proc/PID/fd), then RSS and PSS again. Bytes per idle connection = sum over the
server processes of their growth / all idle connections; per process as well. No timeout test.
Results: idle-sharded.{json,md} in BENCH_OUT; exit status 1 when a connection was lost.

   IDLE_CONNECTIONS=100000 IDLE_TOTAL_DEADLINE=900 BENCH_SERVERS="kahttpd nginx" \
       KAHTTPD=build-bench/server/kahttpd python3 benchmarks/idle_memory.py

With --tls (make bench-tls) it measures idle TLS connections instead, for kahttpd and nginx
(BENCH_SERVERS: any of kahttpd nginx h2o lighttpd caddy apache): one self-signed ECDSA P-256
certificate for all (servers.make_cert), each server with a TLS listener (servers.py). For each
server, two fresh starts: IDLE_TLS_CONNECTIONS (2000) TLS connections, each with a full
handshake (TLS 1.3, OpenSSL's client defaults through Python's ssl module, no session offered)
and one GET read whole, then idle; and the same number of plain connections, for comparison.
Bytes per idle connection = growth of RSS (VmRSS) and of PSS (Pss of /proc/PID/smaps_rollup) of
the process that holds them, divided by the connections. No timeout test. Results:
idle-tls.{json,md} in BENCH_OUT.

   python3 benchmarks/idle_memory.py --tls
   IDLE_TLS_CONNECTIONS=1000 BENCH_SERVERS="kahttpd nginx h2o" python3 benchmarks/idle_memory.py --tls

Servers: one worker each, pinned to CPU 0 (BENCH_SERVER_CPU); this client pinned to CPU 1
(BENCH_CLIENT_CPU); BENCH_SERVERS picks some of kahttpd nginx h2o lighttpd caddy apache.
Results: stdout and build/bench/idle.{json,md} (BENCH_OUT). Every step has a deadline; the
servers this script starts are stopped by PID on exit. It fails only when a server cannot start.
"""
import datetime
import errno
import json
import multiprocessing
import os
import selectors
import shutil
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

ROOT = servers.ROOT
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "build", "bench"))
TLS_MODE = "--tls" in sys.argv[1:]
N_IDLE = int(os.environ.get("IDLE_TLS_CONNECTIONS", "2000") if TLS_MODE
             else os.environ.get("IDLE_CONNECTIONS", "10000"))
N_TIMEOUT = int(os.environ.get("IDLE_TIMEOUT_CONNECTIONS", "100"))
TIMEOUT_S = int(os.environ.get("IDLE_TIMEOUT_SECONDS", "5"))
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "1")
# The minimal server has no keep-alive timeout, so it has no place here.
NAMES = [n for n in os.environ.get("BENCH_SERVERS", " ".join(servers.ALL)).split()
         if n != "minimal"]
if TLS_MODE:
    NAMES = [n for n in os.environ.get("BENCH_SERVERS", "kahttpd nginx").split()
             if n in servers.TLS]
BATCH = 100            # connections opened at once (kahttpd's listen backlog is 511)
STEP_DEADLINE = 120.0  # seconds for any one step
TOTAL_DEADLINE = int(os.environ.get("IDLE_TOTAL_DEADLINE", "600"))  # seconds, whole script
# More connections than one process may hold: "auto" spreads them over as few server and client
# processes as hold them (main_sharded); a number, over that many; "off" (or 1) never.
SHARDS = os.environ.get("IDLE_SHARDS", "auto")

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


def pss_bytes(pid):
    """Proportional set size: RSS with each shared page divided among the processes sharing it
    (nginx's master and worker share their start-up pages). None where smaps_rollup is
    missing."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# ------------------------------------------------------------------------------ clients

def request_bytes(port, path):
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "User-Agent: kahttpd-idle-bench\r\n\r\n").encode()


class Conn:
    __slots__ = ("sock", "req", "server", "state", "buf", "need", "t_resp", "t_close", "status",
                 "t_start", "ctx")

    def __init__(self, sock, req, server, ctx=None):
        self.sock = sock
        self.req = req
        self.server = server
        self.ctx = ctx  # an ssl.SSLContext: a TLS handshake after the connect
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
                if c.ctx is not None:
                    # Connected: the same descriptor, now wrapped, goes through the handshake.
                    sel.unregister(c.sock)
                    try:
                        c.sock = c.ctx.wrap_socket(c.sock, server_hostname="127.0.0.1",
                                                   do_handshake_on_connect=False)
                    except OSError:
                        c.state = "closed"
                        c.t_close = time.monotonic()
                        pending.discard(c)
                        continue
                    sel.register(c.sock, selectors.EVENT_READ, c)
                    c.state = "handshaking"
                else:
                    try:
                        c.sock.send(c.req)
                    except OSError:
                        mark_closed(c, sel, pending)
                        continue
                    c.state = "reading"
                    sel.modify(c.sock, selectors.EVENT_READ, c)
                    continue
            if c.state == "handshaking":
                try:
                    c.sock.do_handshake()
                except ssl.SSLWantReadError:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
                    continue
                except ssl.SSLWantWriteError:
                    sel.modify(c.sock, selectors.EVENT_WRITE, c)
                    continue
                except OSError:
                    mark_closed(c, sel, pending)
                    continue
                try:
                    c.sock.send(c.req)  # a small request into an empty socket buffer
                except OSError:
                    mark_closed(c, sel, pending)
                    continue
                c.state = "reading"
                sel.modify(c.sock, selectors.EVENT_READ, c)
                continue
            try:
                data = c.sock.recv(65536)
                # TLS: whole records may wait decrypted in the SSL object, not in the socket.
                while c.ctx is not None and data and c.sock.pending():
                    data += c.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
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


# Beyond one source address's ephemeral ports (about 28,000 here), connections come from
# 127.0.0.2, 127.0.0.3 ... (all of 127/8 is loopback), SOURCE_SPREAD per address.
SOURCE_SPREAD = 20000
_opened = [0]


def open_conn(port, sel, path, server=None, ctx=None, source=None):
    """One connection to 127.0.0.1:port, from `source` (an address of 127/8) when given."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    if source is not None:
        s.bind((source, 0))
    elif N_IDLE > SOURCE_SPREAD:
        s.bind((f"127.0.0.{1 + (_opened[0] // SOURCE_SPREAD) % 250}", 0))
    _opened[0] += 1
    c = Conn(s, request_bytes(port, path), server, ctx)
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


def warm_up(port, ctx=None):
    """Warm-up requests (closed again), so that first-use allocations are not counted per
    connection."""
    sel = selectors.DefaultSelector()
    warm = [open_conn(port, sel, "/index.html", ctx=ctx) for _ in range(1 if ctx is None else 4)]
    drive(warm, time.monotonic() + 10, sel, {"idle"})
    close_all(warm, sel)
    sel.close()


def open_idle(port, sel, n, deadline, ctx=None, source=None):
    """Opens n connections to port, BATCH at a time, each with one GET read whole (an idle
    keep-alive connection once that is done). Returns them all, the failed ones included."""
    conns = []
    while len(conns) < n and time.monotonic() < deadline:
        batch = [open_conn(port, sel, "/index.html", ctx=ctx, source=source)
                 for _ in range(min(BATCH, n - len(conns)))]
        drive(batch, min(deadline, time.monotonic() + 30), sel, {"idle"})
        conns += batch
    return conns


# ------------------------------------------------------------------------------ tests

def memory_test(name, pid, port, n, ctx=None):
    """n idle connections (TLS ones with ctx, an ssl.SSLContext) to the server whose
    connections live in process pid: its RSS and PSS before, with them, and after they close."""
    sel = selectors.DefaultSelector()
    warm_up(port, ctx)
    time.sleep(0.5)
    before = rss_bytes(pid)
    pss_before = pss_bytes(pid)

    t0 = time.monotonic()
    deadline = t0 + STEP_DEADLINE
    conns = open_idle(port, sel, n // 2, deadline, ctx)
    mid = None  # (idle connections, RSS) once half of them are open
    if time.monotonic() < deadline:
        time.sleep(0.5)
        mid = (sum(1 for c in conns if c.state == "idle"), rss_bytes(pid))
        conns += open_idle(port, sel, n - len(conns), deadline, ctx)
    opened = time.monotonic() - t0
    time.sleep(1.0)
    # anything the server closed in the meantime shows up as EOF now
    drive(conns, time.monotonic() + 0.5, sel, set())
    idle = [c for c in conns if c.state == "idle"]
    ok = [c for c in idle if c.status == 200]
    after = rss_bytes(pid)
    pss_after = pss_bytes(pid)
    close_all(conns, sel)
    time.sleep(1.0)
    after_close = rss_bytes(pid)
    sel.close()
    res = {
        "server": name,
        "tls": ctx is not None,
        "connections_requested": n,
        "connections_idle": len(idle),
        "responses_200": len(ok),
        "seconds_to_open": round(opened, 2),
        "rss_before": before,
        "rss_after": after,
        "rss_after_close": after_close,
        "bytes_per_connection": round((after - before) / len(idle)) if idle else None,
        "pss_before": pss_before,
        "pss_after": pss_after,
        "pss_bytes_per_connection": (round((pss_after - pss_before) / len(idle))
                                     if idle and pss_before is not None
                                     and pss_after is not None else None),
        # The second half's growth per connection: what one more idle connection costs, without
        # what the first ones left behind once (the allocator's high-water mark from the
        # handshakes and requests in flight, a batch at a time).
        "rss_half": mid[1] if mid else None,
        "connections_half": mid[0] if mid else None,
        "marginal_bytes_per_connection": (round((after - mid[1]) / (len(idle) - mid[0]))
                                          if mid and len(idle) > mid[0] else None),
    }
    log(f"{name}: {len(idle)}/{n} idle {'TLS ' if ctx is not None else ''}connections in {opened:.1f}s, RSS {before/2**20:.1f} -> "
        f"{after/2**20:.1f} MiB ({res['bytes_per_connection']} B/conn), "
        f"{after_close/2**20:.1f} MiB after closing them"
        + (f"; PSS {res['pss_bytes_per_connection']} B/conn"
           if res["pss_bytes_per_connection"] is not None else "")
        + f"; second half {res['marginal_bytes_per_connection']} B/conn")
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

    # 100,000 connections (IDLE_CONNECTIONS=100000): this client and each server need a
    # descriptor per connection, and kahttpd takes connections up to three quarters of its
    # limit (shard_capacity). Where the hard limit stops short of that (20,000 here), the
    # connections are spread over several processes (IDLE_SHARDS).
    want = servers.raise_nofile(max(65536, N_IDLE * 4 // 3 + 1024))
    plan = [N_IDLE] if TLS_MODE else shard_plan(N_IDLE, want)
    n = N_IDLE
    # this client needs a descriptor per connection; lighttpd needs two (socket and file)
    limit = want - 256 if "lighttpd" not in NAMES else min(want - 256, want // 2)
    if len(plan) == 1 and n > limit:
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
    if len(plan) > 1:
        return main_sharded(want, plan)
    if TLS_MODE:
        return main_tls(want, n)
    work, docroot = make_site("kahttpd-idle.")
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
        end_run(errlog, work)

    results["date"] = utc_now()
    with open(os.path.join(OUT, "idle.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    text = markdown(results)
    with open(os.path.join(OUT, "idle.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


def make_site(prefix):
    """A work directory and its docroot with the one small page every connection asks for,
    readable by servers that drop to nobody when started by root (nginx's worker, h2o)."""
    work = tempfile.mkdtemp(prefix=prefix)
    os.chmod(work, 0o755)
    docroot = os.path.join(work, "www")
    os.makedirs(docroot)
    os.chmod(docroot, 0o755)
    with open(os.path.join(docroot, "index.html"), "w") as f:
        f.write("<!doctype html><html><body><p>idle</p></body></html>\n")
    os.chmod(os.path.join(docroot, "index.html"), 0o644)
    return work, docroot


def main_tls(nofile, n):
    """--tls: idle TLS connections and, for comparison, plain ones, to each server of NAMES;
    a fresh server for each measurement (freed memory that the allocator keeps would hide
    the second one's growth)."""
    work, docroot = make_site("kahttpd-idle-tls.")
    errlog = open(os.path.join(OUT, "idle-tls.stderr.log"), "w")
    cert, key = servers.make_cert(work)
    # The client: OpenSSL's defaults (TLS 1.3), the run's certificate as the only trust anchor,
    # no session cache of its own to offer (each connection a full handshake).
    ctx = ssl.create_default_context(cafile=cert)
    results = {"connections": n, "memory": [], "certificate": "self-signed ECDSA P-256",
               "openssl": ssl.OPENSSL_VERSION}
    try:
        for name in NAMES:
            for tls in (True, False):
                srv = servers.start(name, os.path.join(work, f"{name}-{'tls' if tls else 'plain'}"),
                                    docroot, 300, nofile, cpu=SERVER_CPU, stderr=errlog,
                                    children=children, cert=(cert, key))
                try:
                    pid = servers.serving_pid(name, srv.pid)
                    res = memory_test(name, pid, srv.tls_port if tls else srv.port, n,
                                      ctx if tls else None)
                    if tls:
                        res["tls_probe"] = servers.tls_probe(srv.tls_port, cert)
                    results["memory"].append(res)
                    if not srv.alive():
                        log(f"{name} exited during the memory test (status {srv.popen.returncode})")
                finally:
                    srv.stop()
                time.sleep(0.5)
    finally:
        end_run(errlog, work)
    results["date"] = utc_now()
    with open(os.path.join(OUT, "idle-tls.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    text = markdown_tls(results)
    with open(os.path.join(OUT, "idle-tls.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


def end_run(errlog, work):
    """The end of every mode, passed or failed: the servers this script started stopped by
    PID, its error log closed, its site removed."""
    for p in children:
        servers.stop(p)
    errlog.close()
    shutil.rmtree(work, ignore_errors=True)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def num(v, unit=""):
    """A count for the tables: thousands separated, "—" when not measured."""
    return "—" if v is None else f"{v:,}{unit}"


def mib(v):
    """Bytes as MiB for the tables, "—" when not measured."""
    return "—" if v is None else f"{v / 2**20:.1f} MiB"


def markdown_tls(results):
    lines = [f"Idle connections, TLS and plain ({results['connections']:,} per server and kind, "
             "each a fresh server; TLS: a full TLS 1.3 handshake and one GET each; "
             f"{results['certificate']}; client {results['openssl']}). Bytes per idle "
             "connection = growth of the RSS (and PSS) of the process that holds them ÷ "
             "connections.", "",
             "Second half: (RSS with all − RSS with the first half) ÷ the second half's "
             "connections, the cost of one more idle connection without the allocator's "
             "high-water mark from the handshakes in flight (100 at a time).", "",
             "| server | kind | idle connections | RSS before | RSS after | bytes / idle "
             "connection (RSS) | bytes / idle connection (PSS) | second half, bytes / "
             "connection (RSS) | RSS after closing |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["memory"]:
        lines.append(f"| {r['server']} | {'TLS' if r['tls'] else 'plain'} | "
                     f"{r['connections_idle']:,} of {r['connections_requested']:,} | "
                     f"{mib(r['rss_before'])} | {mib(r['rss_after'])} | "
                     f"{num(r['bytes_per_connection'])} | {num(r['pss_bytes_per_connection'])} | "
                     f"{num(r['marginal_bytes_per_connection'])} | {mib(r['rss_after_close'])} |")
    by = {(r["server"], r["tls"]): r for r in results["memory"]}
    extra = []
    for name in dict.fromkeys(r["server"] for r in results["memory"]):
        t, p = by.get((name, True)), by.get((name, False))
        if t and p and t["bytes_per_connection"] is not None \
                and p["bytes_per_connection"] is not None:
            line = (f"- {name}: TLS adds {t['bytes_per_connection'] - p['bytes_per_connection']:,}"
                    " bytes (RSS) to an idle connection")
            if t["marginal_bytes_per_connection"] is not None \
                    and p["marginal_bytes_per_connection"] is not None:
                line += (f", {t['marginal_bytes_per_connection'] - p['marginal_bytes_per_connection']:,}"
                         " in the second half")
            extra.append(line)
    if extra:
        lines += [""] + extra
    lines.append("")
    return "\n".join(lines)


def markdown(results):
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


# ------------------------------------------------------------------------------ sharded

# Servers that the sharded run measures: each shard is one process holding its connections
# (kahttpd with Workers 1; nginx, one instance per shard with worker_processes 1: its worker).
SHARDABLE = ("kahttpd", "nginx")


def shard_capacity(nofile):
    """Idle connections one server process and one client process hold at most under a
    descriptor limit of nofile: kahttpd's connection budget (three quarters of the limit less
    32: connection_budget() in server/io/server.cpp) less 512, so that kahttpd never reaches the
    budget, where it would give an idle connection's slot to a new one. 14,456 under 20,000;
    nginx (worker_connections = nofile - 32, drained below 1/16 free) and this client
    (nofile - 256) hold more."""
    return nofile - nofile // 4 - 32 - 512


def shard_plan(n, nofile):
    """Connections per shard: [n] when one process holds them (IDLE_SHARDS=auto, the default)
    or IDLE_SHARDS is 1 or off; else as few shards as hold n (auto) or IDLE_SHARDS of them,
    the n spread evenly."""
    cap = shard_capacity(nofile)
    if SHARDS in ("1", "off"):
        return [n]
    if SHARDS == "auto":
        k = 1 if n <= cap else -(-n // cap)
    else:
        k = int(SHARDS)
    if k <= 1:
        return [n]
    plan = [n // k + (1 if i < n % k else 0) for i in range(k)]
    if plan[0] > cap:
        raise Failure(f"IDLE_SHARDS={k}: {plan[0]:,} connections per shard, more than the "
                      f"{cap:,} one process holds under a descriptor limit of {nofile:,}")
    return plan


def socket_count(pid):
    """Sockets among the descriptors of process pid (the connections it holds, its listener)."""
    n = 0
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def client_shard(conn, port, source):
    """A client shard (a forked process, so it has its own descriptor limit): on each command
    from the pipe `conn`, opens more idle connections to port from address `source`, checks
    that they are still open, or closes them; exits when told or when the pipe closes."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sel = selectors.DefaultSelector()
    conns = []
    while True:
        try:
            cmd = conn.recv()
        except (EOFError, OSError):
            break
        if cmd[0] == "open":
            t0 = time.monotonic()
            conns += open_idle(port, sel, cmd[1], t0 + cmd[2], source=source)
            idle = sum(1 for c in conns if c.state == "idle")
            conn.send({"idle": idle, "opened": len(conns), "seconds": time.monotonic() - t0})
        elif cmd[0] == "check":
            # anything the server closed in the meantime shows up as EOF now
            drive(conns, time.monotonic() + 0.5, sel, set())
            idle = [c for c in conns if c.state == "idle"]
            conn.send({"idle": len(idle),
                       "responses_200": sum(1 for c in idle if c.status == 200),
                       "closed": sum(1 for c in conns if c.state == "closed"),
                       "other": sum(1 for c in conns if c.state not in ("idle", "closed"))})
        elif cmd[0] == "close":
            close_all(conns, sel)
            conns = []
            conn.send({})
        else:
            break
    close_all(conns, sel)
    conn.close()


def ask_all(clients, cmds, timeout):
    """Sends each client shard its command, all at once, and returns their answers; a Failure
    when one does not answer within timeout seconds."""
    for (_, conn), cmd in zip(clients, cmds):
        conn.send(cmd)
    deadline = time.monotonic() + timeout
    answers = []
    for k, (p, conn) in enumerate(clients):
        if not conn.poll(max(0.0, deadline - time.monotonic())):
            raise Failure(f"client shard {k} (pid {p.pid}) did not answer {cmds[k][0]!r} "
                          f"within {timeout:.0f} s")
        try:
            answers.append(conn.recv())
        except EOFError:
            raise Failure(f"client shard {k} (pid {p.pid}) exited (status {p.exitcode})")
    return answers


def stop_clients(clients):
    for p, conn in clients:
        try:
            conn.send(("exit",))
        except OSError:
            pass
    for p, conn in clients:
        p.join(5)
        if p.is_alive():
            p.terminate()  # SIGTERM to its PID
            p.join(5)
        if p.is_alive():
            p.kill()
            p.join(5)
        conn.close()


def sharded_memory_test(name, work, docroot, nofile, plan, errlog):
    """len(plan) processes of server `name`, each on its own port, and as many client shards,
    shard k holding plan[k] idle connections to server k from 127.0.0.(2 + k). RSS and PSS of
    every server process before, with half, with all of them, and after they close."""
    k_all = range(len(plan))
    srvs, clients = [], []
    mp = multiprocessing.get_context("fork")
    try:
        for k in k_all:
            srvs.append(servers.start(name, os.path.join(work, f"{name}-{k}"), docroot, 300,
                                      nofile, cpu=SERVER_CPU, stderr=errlog,
                                      children=children))
        pids = [servers.serving_pid(name, s.pid) for s in srvs]
        for s in srvs:
            warm_up(s.port)
        for k in k_all:
            parent, child = mp.Pipe()
            p = mp.Process(target=client_shard, args=(child, srvs[k].port, f"127.0.0.{2 + k}"),
                           daemon=True)
            p.start()
            child.close()
            clients.append((p, parent))
        time.sleep(0.5)
        before = [rss_bytes(pid) for pid in pids]
        pss_before = [pss_bytes(pid) for pid in pids]
        sockets_before = [socket_count(pid) for pid in pids]

        t0 = time.monotonic()
        half = ask_all(clients, [("open", c // 2, STEP_DEADLINE) for c in plan], STEP_DEADLINE + 30)
        time.sleep(0.5)
        mid = [rss_bytes(pid) for pid in pids]
        full = ask_all(clients, [("open", c - c // 2, STEP_DEADLINE) for c in plan],
                       STEP_DEADLINE + 30)
        opened = time.monotonic() - t0
        time.sleep(1.0)
        checks = ask_all(clients, [("check",)] * len(plan), 30)
        sockets = [socket_count(pid) for pid in pids]
        after = [rss_bytes(pid) for pid in pids]
        pss_after = [pss_bytes(pid) for pid in pids]
        ask_all(clients, [("close",)] * len(plan), 60)
        time.sleep(1.0)
        after_close = [rss_bytes(pid) for pid in pids]
        alive = [s.alive() for s in srvs]
    finally:
        stop_clients(clients)
        for s in srvs:
            s.stop()

    def per(total, count):
        return round(total / count) if count else None

    shards = []
    for k in k_all:
        idle = checks[k]["idle"]
        pss_ok = pss_before[k] is not None and pss_after[k] is not None
        shards.append({
            "shard": k, "source": f"127.0.0.{2 + k}", "port": srvs[k].port,
            "connections_requested": plan[k],
            "connections_idle": idle,
            "responses_200": checks[k]["responses_200"],
            "closed_by_server_or_failed": checks[k]["closed"],
            "server_sockets_added": sockets[k] - sockets_before[k],
            "seconds_to_open": round(half[k]["seconds"] + full[k]["seconds"], 2),
            "rss_before": before[k], "rss_half": mid[k], "rss_after": after[k],
            "rss_after_close": after_close[k],
            "connections_half": half[k]["idle"],
            "bytes_per_connection": per(after[k] - before[k], idle),
            "pss_before": pss_before[k], "pss_after": pss_after[k],
            "pss_bytes_per_connection": per(pss_after[k] - pss_before[k], idle) if pss_ok else None,
            "marginal_bytes_per_connection": per(after[k] - mid[k], idle - half[k]["idle"]),
            "server_alive": alive[k],
        })
    idle = sum(s["connections_idle"] for s in shards)
    pss_ok = all(s["pss_before"] is not None and s["pss_after"] is not None for s in shards)
    res = {
        "server": name,
        "shards": len(plan),
        "connections_requested": sum(plan),
        "connections_idle": idle,
        "responses_200": sum(s["responses_200"] for s in shards),
        "server_sockets_added": sum(s["server_sockets_added"] for s in shards),
        # every connection idle, answered 200, and one socket in a server for each
        "all_open": all(s["connections_idle"] == s["connections_requested"] ==
                        s["responses_200"] == s["server_sockets_added"] and s["server_alive"]
                        for s in shards),
        "seconds_to_open": round(opened, 2),
        "rss_before": sum(before), "rss_after": sum(after), "rss_after_close": sum(after_close),
        "bytes_per_connection": per(sum(after) - sum(before), idle),
        "pss_before": sum(pss_before) if pss_ok else None,
        "pss_after": sum(pss_after) if pss_ok else None,
        "pss_bytes_per_connection": (per(sum(pss_after) - sum(pss_before), idle)
                                     if pss_ok else None),
        "marginal_bytes_per_connection": per(sum(after) - sum(mid),
                                             idle - sum(s["connections_half"] for s in shards)),
        "per_shard": shards,
    }
    for s in shards:
        log(f"{name} shard {s['shard']}: {s['connections_idle']:,}/{s['connections_requested']:,} "
            f"idle ({s['server_sockets_added']:,} sockets added in the server), RSS "
            f"{s['rss_before']/2**20:.1f} -> {s['rss_after']/2**20:.1f} MiB "
            f"({s['bytes_per_connection']} B/conn; PSS {s['pss_bytes_per_connection']} B/conn; "
            f"second half {s['marginal_bytes_per_connection']} B/conn)")
    log(f"{name}: {idle:,}/{sum(plan):,} idle connections over {len(plan)} processes in "
        f"{opened:.1f}s, all open: {res['all_open']}; RSS growth "
        f"{(sum(after) - sum(before))/2**20:.1f} MiB ({res['bytes_per_connection']} B/conn; PSS "
        f"{res['pss_bytes_per_connection']} B/conn; second half "
        f"{res['marginal_bytes_per_connection']} B/conn)")
    return res


def main_sharded(nofile, plan):
    """IDLE_CONNECTIONS beyond what one process may hold: the connections spread over
    len(plan) server processes and as many client processes (sharded_memory_test), for each
    server of NAMES that runs that way (SHARDABLE). No timeout test (the unsharded run has it)."""
    names = [n for n in NAMES if n in SHARDABLE]
    skipped = [n for n in NAMES if n not in SHARDABLE]
    if skipped:
        log(f"sharded run: {' '.join(skipped)} skipped (only {' '.join(SHARDABLE)} are sharded)")
    if len(plan) > 250:
        raise Failure(f"{len(plan)} shards: more than the source addresses 127.0.0.2-251")
    work, docroot = make_site("kahttpd-idle-sharded.")
    errlog = open(os.path.join(OUT, "idle-sharded.stderr.log"), "w")
    results = {"connections": sum(plan), "shards": len(plan), "per_shard": plan,
               "nofile": nofile, "shard_capacity": shard_capacity(nofile),
               "commit": servers.git_commit(), "memory": []}
    t0 = time.monotonic()
    try:
        for name in names:
            results["memory"].append(sharded_memory_test(name, work, docroot, nofile, plan,
                                                         errlog))
            time.sleep(0.5)
    finally:
        end_run(errlog, work)
    results["seconds"] = round(time.monotonic() - t0, 1)
    results["date"] = utc_now()
    text = markdown_sharded(results)
    servers.write_report(OUT, "idle-sharded", text, results)
    print(text)
    return 0 if all(r["all_open"] for r in results["memory"]) else 1


def markdown_sharded(results):
    lines = [f"Idle keep-alive connections, sharded: {results['connections']:,} over "
             f"{results['shards']} server processes of each server (one request each; "
             f"descriptor limit {results['nofile']:,} per process; {results['date']}, "
             f"{results['commit']}). Bytes per idle connection = the sum over the processes of "
             "their RSS (PSS) growth ÷ the idle connections; second half = growth from half "
             "to all ÷ the second half's connections.", "",
             "| server | shard | idle connections | sockets added in the server | RSS before | "
             "RSS after | bytes / idle connection (RSS) | (PSS) | second half | "
             "RSS after closing |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["memory"]:
        for s in r["per_shard"]:
            lines.append(f"| {r['server']} | {s['shard']} ({s['source']}) | "
                         f"{s['connections_idle']:,} of {s['connections_requested']:,} | "
                         f"{s['server_sockets_added']:,} | {mib(s['rss_before'])} | "
                         f"{mib(s['rss_after'])} | {num(s['bytes_per_connection'])} | "
                         f"{num(s['pss_bytes_per_connection'])} | "
                         f"{num(s['marginal_bytes_per_connection'])} | "
                         f"{mib(s['rss_after_close'])} |")
        lines.append(f"| **{r['server']}** | **all {r['shards']}** | "
                     f"**{r['connections_idle']:,} of {r['connections_requested']:,}** | "
                     f"{r['server_sockets_added']:,} | {mib(r['rss_before'])} | "
                     f"{mib(r['rss_after'])} | **{num(r['bytes_per_connection'])}** | "
                     f"{num(r['pss_bytes_per_connection'])} | "
                     f"{num(r['marginal_bytes_per_connection'])} | "
                     f"{mib(r['rss_after_close'])} |")
    lines.append("")
    for r in results["memory"]:
        lines.append(f"- {r['server']}: all connections open at the measurement (idle at the "
                     f"client, a 200 each, one socket each in the servers): "
                     f"{'yes' if r['all_open'] else 'NO'}; opened in {r['seconds_to_open']} s")
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
