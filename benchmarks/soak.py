#!/usr/bin/env python3
"""Soak: kahttpd under a mixed load for SOAK_SECONDS (default 600), with a reload (SIGHUP) every
20 s and a log rotation (rename, then SIGUSR1) every 60 s, sampling the server's descriptors,
memory and threads every 2 s. A benchmark, not a test: it fails (exit status 1) when a series
grows without bound, when descriptors or threads do not come back to their idle baseline after
the load, when the server dies or logs a crash or an error, or when a log rotation is not
followed. Standard library, wrk, and matplotlib for the plot.

   make soak                                  # 10 minutes
   SOAK_SECONDS=60 make soak                  # the quick mode
   KAHTTPD=build/server/kahttpd SOAK_SECONDS=60 python3 benchmarks/soak.py

The server: the Release kahttpd (KAHTTPD) with a generated configuration in a temporary folder:
Listen 127.0.0.1:0 (the port is read from its "kahttpd: listening on" line), Workers 2,
MaxConnections 256, KeepAliveTimeout 5, RequestReadTimeout header=10 body=10 and Timeout 10
(so slow and stalled clients meet the server's timeouts within a session), GracefulShutdownTimeout
10, LogLevel info, ErrorLog, CustomLog in the common format and in json, a PidFile, and the
status page at /server-status. Docroot: index.html, 1k.bin, 64k.bin and 4m.bin (random bytes).

The load, all to 127.0.0.1, each kind with a fixed number of client threads (so the number of
connections is bounded) and every socket with a timeout:

  wrk              consecutive 10 s chunks of wrk -t1 (benchmarks/wrk/report.lua), in turn:
                   keep-alive 1k (c16), keep-alive 64k (c8), pipelined 16 x 1k (c8),
                   Connection: close 1k (c8), keep-alive 4m (c4); a 1 s pause between chunks
  keep-alive       sessions of 5 to 30 GET/HEAD on one connection, bodies checked byte for byte
  close            one GET with Connection: close per connection, read to the server's EOF
  pipeline         batches of 8 requests in one write (files, 404s, ranges), up to 4 batches
  range-single     one range (bytes=a-b, bytes=-n, bytes=a-), 206 and the bytes checked; and
                   an unsatisfiable one (416)
  range-multi      two or three ranges: 206 multipart/byteranges, every part checked
  not-found        GET of a name that does not exist: 404
  conditional      If-None-Match with the file's ETag (304), with another ETag (200), and
                   If-Modified-Since with its Last-Modified (304)
  bad-request      a malformed request line: 400 and a close
  slow-head        a request head trickled a byte at a time (20-60 ms apart), then its 200;
                   every fourth stops half way and must be cut by the header timeout (408)
  slow-reader      GET /4m.bin with a 4 KiB receive buffer, reading 4 KiB every 10 ms for up
                   to 6 s, then closing mid-response; the stalled variant reads only the head
                   and must be cut by the server's send Timeout (10 s)
  reset            SO_LINGER 0 closes (a reset): mid-request (half a head), mid-response
                   (after part of /4m.bin), and right after a pipelined pair before reading

Requests and errors are counted per kind; outcomes that are the server doing its job (a 408 for a
stalled head, a send timeout for a stalled reader, a keep-alive connection closed by a reload
before the next request was read, which a client retries) are counted apart, not as errors.

Every 2 s (SOAK_SAMPLE_SECONDS) a sample: descriptors (/proc/PID/fd), VmRSS and Threads
(/proc/PID/status) and the status page's JSON (connections by state, accepted, requests,
generation, the workers listed and how many are retiring). The idle baseline is taken before the
load (after one request for every file, all connections closed); after the load the script waits
for the connections to drain and takes a final sample.

Knobs: SOAK_SECONDS (600), SOAK_SAMPLE_SECONDS (2), SOAK_HUP_EVERY (20), SOAK_USR1_EVERY (60),
BENCH_OUT (build/bench), KAHTTPD, WRK.

Verdict: see verdict() below (the rules and their tolerances are explained there).

Results in BENCH_OUT (default build/bench): soak.json (samples, events, counts, checks),
soak.md (the summary), soak.png (descriptors, RSS and threads over time, with SIGHUP and SIGUSR1
marks), soak.error.log (the server's error logs, all rotations, and its stderr). The script runs
only the server it starts, stops it by PID, and every wrk run is wrapped in timeout.
"""
import collections
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

ROOT = servers.ROOT
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "build", "bench"))
KAHTTPD = servers.program("kahttpd")
WRK = os.environ.get("WRK", shutil.which("wrk") or "wrk")
DURATION = float(os.environ.get("SOAK_SECONDS", "600"))
SAMPLE_S = float(os.environ.get("SOAK_SAMPLE_SECONDS", "2"))
HUP_EVERY = float(os.environ.get("SOAK_HUP_EVERY", "20"))
USR1_EVERY = float(os.environ.get("SOAK_USR1_EVERY", "60"))
# The first rotation: half-way between two reloads, and early enough in a short run.
USR1_FIRST = min(30.0, USR1_EVERY / 2, DURATION / 2)
WRK_CHUNK_S = 10
WORKERS = 2
MAX_CONNECTIONS = 256
TIMEOUT_S = 10           # the server's Timeout (send), RequestReadTimeout header= and body=
GRACE_S = 10             # GracefulShutdownTimeout: how long an old generation may drain
IO_TIMEOUT = 15.0        # client socket timeout: longer than any of the server's own timeouts
DRAIN_S = 40.0           # after the load, how long the connections may take to close
# Whole run: the load, the drain, the server's stop, and a margin.
TOTAL_DEADLINE = int(DURATION + DRAIN_S + 180)

FILES = {"index.html": None, "1k.bin": 1024, "64k.bin": 64 * 1024, "4m.bin": 4 * 1024 * 1024}
CRASH_MARKERS = ("Segmentation fault", "Aborted", "core dumped", "terminate called",
                 "Assertion", "assertion", "AddressSanitizer", "LeakSanitizer",
                 "runtime error:", "stack smashing", "double free", "corrupted")
LOG_LEVELS_BAD = ("[error]", "[crit]", "[alert]", "[emerg]")

stop_load = threading.Event()
T_ZERO = time.monotonic()  # the time axis of samples, events and wrk chunks (reset in main)
children = []            # the kahttpd and wrk processes we started (Popen), stopped by PID


def log(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# ------------------------------------------------------------------------------ counting

class Stats:
    """Per kind: requests answered as expected (`ok`), expected non-answers by outcome
    (`outcomes`: the server cut a stalled client, a reset we sent ...), and errors by reason."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = collections.Counter()
        self.outcomes = collections.defaultdict(collections.Counter)
        self.errors = collections.defaultdict(collections.Counter)

    def good(self, kind, n=1):
        with self.lock:
            self.ok[kind] += n

    def outcome(self, kind, what, n=1):
        with self.lock:
            self.outcomes[kind][what] += n

    def error(self, kind, reason, n=1, force=False):
        if stop_load.is_set() and not force:
            return  # a session cut short by the end of the load is not the server's error
        with self.lock:
            self.errors[kind][reason] += n

    def table(self):
        with self.lock:
            kinds = sorted(set(self.ok) | set(self.outcomes) | set(self.errors))
            return {k: {"ok": self.ok[k], "outcomes": dict(self.outcomes[k]),
                        "errors": dict(self.errors[k]),
                        "error_count": sum(self.errors[k].values())} for k in kinds}


stats = Stats()


# ------------------------------------------------------------------------------ HTTP client

class Closed(Exception):
    """The server closed (EOF or reset) before a whole response; `got` bytes of it had come."""

    def __init__(self, got, reset=False):
        super().__init__(f"closed after {got} bytes" + (" (reset)" if reset else ""))
        self.got = got
        self.reset = reset


class Bad(Exception):
    """A response that is not what was expected."""


class Resp:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def h(self, name):
        return self.headers.get(name.lower())


# The Host field every client sends, wrk's form (with the port): the open-file cache's keys
# include the host, so the warm-up fills the same entries as the load.
HOST = {"v": "127.0.0.1"}


def request(path, method="GET", headers=(), close=False):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST['v']}", "User-Agent: kahttpd-soak"]
    lines += [f"{k}: {v}" for k, v in headers]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Conn:
    """One blocking client connection with a read buffer."""

    def __init__(self, port, rcvbuf=None, timeout=IO_TIMEOUT):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.answered = 0  # responses read whole on this connection

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, got):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            raise Closed(got, reset=True)
        if not chunk:
            raise Closed(got)
        self.buf += chunk

    def read_head(self):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._fill(len(self.buf))
        head = self.buf[:end].decode("latin-1").split("\r\n")
        self.buf = self.buf[end + 4:]
        parts = head[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise Bad(f"bad status line {head[0][:60]!r}")
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return int(parts[1]), headers

    def read_exact(self, n, got=0):
        while len(self.buf) < n:
            self._fill(got + len(self.buf))
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self, method="GET"):
        status, headers = self.read_head()
        if method == "HEAD" or status in (204, 304) or status < 200:
            body = b""
        elif "content-length" in headers:
            body = self.read_exact(int(headers["content-length"]))
        else:
            raise Bad(f"{status} without Content-Length")
        self.answered += 1
        return Resp(status, headers, body)

    def closing(self, r):
        return "close" in (r.h("connection") or "").lower()

    def wait_eof(self, timeout=IO_TIMEOUT):
        """Reads until the server's EOF or reset; True when it came."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        except socket.timeout:
            return False
        return True

    def reset(self):
        """Close with SO_LINGER 0: the kernel sends a reset instead of a FIN."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.sock.close()

    def close(self):
        self.sock.close()


def classify(e):
    if isinstance(e, Bad):
        return str(e)
    if isinstance(e, Closed):
        return "reset by server" if e.reset else "closed by server"
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, OSError):
        return f"{type(e).__name__}: {e.strerror or e}"
    return f"{type(e).__name__}: {e}"


# ------------------------------------------------------------------------------ client kinds

class Load:
    """The Python clients: each kind runs in its own threads, one session after another."""

    def __init__(self, port, files, etags):
        self.port = port
        self.files = files      # name -> bytes
        self.etags = etags      # name -> (ETag, Last-Modified)
        self.rng = random.Random(12)

    def expect_file(self, r, name, method="GET"):
        if r.status != 200:
            raise Bad(f"status {r.status} for /{name}")
        body = self.files[name]
        if r.h("content-length") != str(len(body)):
            raise Bad(f"Content-Length {r.h('content-length')} for /{name}")
        if method == "GET" and r.body != body:
            raise Bad(f"body of /{name} differs")

    def with_retry(self, kind, conn_box, fn):
        """Runs fn(conn) on the session's connection. A reused keep-alive connection that the
        server closed before any byte of the answer (a reload closing idle connections, the
        race every HTTP/1.1 client meets and answers with a retry, RFC 9112 §9.3.1) is counted
        apart and retried once on a new connection."""
        c = conn_box[0]
        try:
            return fn(c)
        except Closed as e:
            if e.got or not c.answered:
                raise
            stats.outcome(kind, "reused connection closed before the request, retried")
            c.close()
            conn_box[0] = Conn(self.port)
            return fn(conn_box[0])

    # --- keep-alive: a session of several requests on one connection
    def keep_alive(self):
        kind = "keep-alive"
        box = [Conn(self.port)]
        try:
            for _ in range(self.rng.randint(5, 30)):
                if stop_load.is_set():
                    return
                name = self.rng.choice(["index.html", "1k.bin", "1k.bin", "64k.bin"])
                method = "HEAD" if self.rng.random() < 0.1 else "GET"

                def one(c):
                    c.send(request("/" if name == "index.html" and method == "GET"
                                   else "/" + name, method))
                    return c.response(method)
                r = self.with_retry(kind, box, one)
                self.expect_file(r, name, method)
                stats.good(kind)
                if box[0].closing(r):  # MaxKeepAliveRequests reached
                    stats.outcome(kind, "Connection: close from the server, reconnected")
                    box[0].close()
                    box[0] = Conn(self.port)
        finally:
            box[0].close()

    # --- Connection: close
    def close_client(self):
        kind = "close"
        c = Conn(self.port)
        try:
            c.send(request("/1k.bin", close=True))
            r = c.response()
            self.expect_file(r, "1k.bin")
            if not c.closing(r):
                raise Bad("no Connection: close in the answer")
            if not c.wait_eof(IO_TIMEOUT):
                raise Bad("no EOF after Connection: close")
            stats.good(kind)
        finally:
            c.close()

    # --- pipelined batches
    def pipeline(self):
        kind = "pipeline"
        c = Conn(self.port)
        try:
            batches = self.rng.randint(1, 4)
            for b in range(batches):
                if stop_load.is_set():
                    return
                plan = []
                for i in range(8):
                    x = self.rng.random()
                    if x < 0.5:
                        plan.append(("file", "1k.bin"))
                    elif x < 0.65:
                        plan.append(("file", "64k.bin"))
                    elif x < 0.8:
                        plan.append(("404", f"/pipelined-missing-{self.rng.randrange(10**6)}"))
                    else:
                        a = self.rng.randrange(0, 60000)
                        plan.append(("range", (a, a + self.rng.randrange(1, 4000))))
                last = b == batches - 1
                data = b""
                for i, (what, arg) in enumerate(plan):
                    close = last and i == len(plan) - 1
                    if what == "file":
                        data += request("/" + arg, close=close)
                    elif what == "404":
                        data += request(arg, close=close)
                    else:
                        data += request("/64k.bin", headers=[("Range", f"bytes={arg[0]}-{arg[1]}")],
                                        close=close)
                try:
                    c.send(data)
                except (BrokenPipeError, ConnectionResetError):
                    if not c.answered:
                        raise
                    stats.outcome(kind, "reused connection closed before a batch")
                    return
                for i, (what, arg) in enumerate(plan):
                    try:
                        r = c.response()
                    except Closed as e:
                        if i > 0 or e.got or not c.answered:
                            raise
                        # A reload closed the connection between two batches.
                        stats.outcome(kind, "reused connection closed before a batch")
                        return
                    if what == "file":
                        self.expect_file(r, arg)
                    elif what == "404":
                        if r.status != 404:
                            raise Bad(f"status {r.status} for a missing file (pipelined)")
                    else:
                        want = self.files["64k.bin"][arg[0]:arg[1] + 1]
                        if r.status != 206 or r.body != want:
                            raise Bad(f"range (pipelined): status {r.status}")
                    stats.good(kind)
                    if c.closing(r) and not (last and i == len(plan) - 1):
                        # The server closes after this answer (a reload: a connection in the
                        # middle of a batch gets its current answer with Connection: close);
                        # the rest of the batch is the client's to retry (RFC 9112 §9.3.2).
                        stats.outcome(kind, "batch cut by Connection: close, rest to retry")
                        stats.outcome(kind, "requests left unanswered, to retry",
                                      len(plan) - 1 - i)
                        c.wait_eof(IO_TIMEOUT)
                        return
            if not c.wait_eof(IO_TIMEOUT):
                raise Bad("no EOF after Connection: close (pipelined)")
        finally:
            c.close()

    # --- ranges
    def range_single(self):
        kind = "range-single"
        box = [Conn(self.port)]
        body = self.files["64k.bin"]
        n = len(body)
        try:
            for _ in range(self.rng.randint(3, 10)):
                if stop_load.is_set():
                    return
                form = self.rng.randrange(4)
                if form == 0:
                    a = self.rng.randrange(n)
                    b = min(n - 1, a + self.rng.randrange(1, 8192))
                    spec, want, status = f"bytes={a}-{b}", body[a:b + 1], 206
                elif form == 1:
                    k = self.rng.randrange(1, 5000)
                    spec, want, status = f"bytes=-{k}", body[-k:], 206
                elif form == 2:
                    a = self.rng.randrange(n - 5000, n)
                    spec, want, status = f"bytes={a}-", body[a:], 206
                else:
                    spec, want, status = f"bytes={n + 10}-{n + 20}", None, 416

                def one(c):
                    c.send(request("/64k.bin", headers=[("Range", spec)]))
                    return c.response()
                r = self.with_retry(kind, box, one)
                if r.status != status:
                    raise Bad(f"status {r.status} for Range {spec}")
                if want is not None and r.body != want:
                    raise Bad(f"wrong bytes for Range {spec}")
                stats.good(kind)
                if box[0].closing(r):
                    box[0].close()
                    box[0] = Conn(self.port)
        finally:
            box[0].close()

    def range_multi(self):
        kind = "range-multi"
        body = self.files["64k.bin"]
        n = len(body)
        box = [Conn(self.port)]
        try:
            for _ in range(self.rng.randint(2, 6)):
                if stop_load.is_set():
                    return
                # Two or three ranges, ascending, far apart (none merge).
                count = self.rng.choice([2, 3])
                starts = sorted(self.rng.sample(range(0, n - 2000, 4000), count))
                ranges = [(a, a + self.rng.randrange(0, 1500)) for a in starts]
                spec = "bytes=" + ",".join(f"{a}-{b}" for a, b in ranges)

                def one(c):
                    c.send(request("/64k.bin", headers=[("Range", spec)]))
                    return c.response()
                r = self.with_retry(kind, box, one)
                if r.status != 206:
                    raise Bad(f"status {r.status} for Range {spec}")
                ctype = r.h("content-type") or ""
                m = re.match(r"multipart/byteranges;\s*boundary=\"?([^\";]+)\"?", ctype)
                if not m:
                    raise Bad(f"Content-Type {ctype[:60]!r} for a multi-range")
                parts = parse_multipart(r.body, m.group(1).encode())
                if parts is None:
                    raise Bad("unreadable multipart/byteranges body")
                if [(a, b) for a, b, _ in parts] != ranges:
                    raise Bad(f"parts {[(a, b) for a, b, _ in parts]} for {spec}")
                if any(data != body[a:b + 1] for a, b, data in parts):
                    raise Bad("wrong bytes in a part")
                stats.good(kind)
                if box[0].closing(r):
                    box[0].close()
                    box[0] = Conn(self.port)
        finally:
            box[0].close()

    # --- 404
    def not_found(self):
        kind = "not-found"
        box = [Conn(self.port)]
        try:
            for _ in range(self.rng.randint(3, 10)):
                if stop_load.is_set():
                    return
                path = f"/missing/{self.rng.randrange(10**9)}.html"

                def one(c):
                    c.send(request(path))
                    return c.response()
                r = self.with_retry(kind, box, one)
                if r.status != 404:
                    raise Bad(f"status {r.status} for a missing file")
                stats.good(kind)
                if box[0].closing(r):
                    box[0].close()
                    box[0] = Conn(self.port)
        finally:
            box[0].close()

    # --- conditional requests
    def conditional(self):
        kind = "conditional"
        box = [Conn(self.port)]
        try:
            for _ in range(self.rng.randint(3, 10)):
                if stop_load.is_set():
                    return
                name = self.rng.choice(["1k.bin", "64k.bin", "index.html"])
                etag, last_modified = self.etags[name]
                form = self.rng.randrange(3)
                if form == 0:
                    hdrs, want = [("If-None-Match", etag)], 304
                elif form == 1:
                    hdrs, want = [("If-None-Match", '"not-this-one"')], 200
                else:
                    hdrs, want = [("If-Modified-Since", last_modified)], 304

                def one(c):
                    c.send(request("/" + name, headers=hdrs))
                    return c.response()
                r = self.with_retry(kind, box, one)
                if r.status != want:
                    raise Bad(f"status {r.status} for {hdrs[0][0]} (expected {want})")
                if want == 200:
                    self.expect_file(r, name)
                stats.good(kind)
                if box[0].closing(r):
                    box[0].close()
                    box[0] = Conn(self.port)
        finally:
            box[0].close()

    # --- malformed request line
    def bad_request(self):
        kind = "bad-request"
        c = Conn(self.port)
        try:
            c.send(f"GET /index.html HTTP/1.1 extra\r\nHost: {HOST['v']}\r\n\r\n".encode())
            r = c.response()
            if r.status != 400:
                raise Bad(f"status {r.status} for a malformed request line")
            if not c.wait_eof(IO_TIMEOUT):
                raise Bad("no close after a 400")
            stats.good(kind)
        finally:
            c.close()

    # --- slow head: a byte at a time
    def slow_head(self, stall):
        kind = "slow-head"
        c = Conn(self.port)
        try:
            data = request("/1k.bin", headers=[("X-Soak", "trickle")])
            upto = len(data) // 2 if stall else len(data)
            for i in range(upto):
                c.send(data[i:i + 1])
                if stop_load.wait(self.rng.uniform(0.02, 0.06)):
                    return
            if stall:
                # Silent now: the header timeout (10 s) must cut it, with a 408.
                t0 = time.monotonic()
                try:
                    r = c.response()
                except Closed:
                    r = None
                waited = time.monotonic() - t0
                if r is not None and r.status != 408:
                    raise Bad(f"status {r.status} for a stalled head")
                if waited > TIMEOUT_S + 5:
                    raise Bad(f"a stalled head was cut only after {waited:.1f} s")
                stats.outcome(kind, "stalled head cut by the header timeout"
                              + (" (408)" if r is not None else " (no answer)"))
                return
            r = c.response()
            self.expect_file(r, "1k.bin")
            stats.good(kind)
        finally:
            c.close()

    # --- slow reader of a large file
    def slow_reader(self, stall):
        kind = "slow-reader"
        c = Conn(self.port, rcvbuf=4096)
        try:
            c.send(request("/4m.bin"))
            status, headers = c.read_head()
            if status != 200:
                raise Bad(f"status {status} for /4m.bin")
            total = int(headers.get("content-length", "0"))
            if stall:
                # Read nothing for longer than the server's send Timeout (10 s), which must
                # then give up on us; then read what is left, fast: a reset, or an EOF before
                # the whole body, is the server's cut.
                if stop_load.wait(TIMEOUT_S + 3):
                    return
                got = len(c.buf)
                c.sock.settimeout(3.0)
                try:
                    while True:
                        chunk = c.sock.recv(65536)
                        if not chunk:
                            break
                        got += len(chunk)
                except ConnectionResetError:
                    pass
                except socket.timeout:
                    if got < total:
                        raise Bad("a stalled reader was neither served nor cut")
                    stats.outcome(kind, "stalled reader: the whole file fit in the buffers")
                    return
                if got >= total:
                    raise Bad("a stalled reader got the whole file, then a close")
                stats.outcome(kind, "stalled reader cut by the send timeout")
                return
            want = self.files["4m.bin"]
            got = len(c.buf)
            body = bytearray(c.buf)
            c.buf = b""
            t0 = time.monotonic()
            while got < total and time.monotonic() - t0 < 6.0 and not stop_load.is_set():
                try:
                    chunk = c.sock.recv(4096)
                except ConnectionResetError:
                    raise Closed(got, reset=True)
                if not chunk:
                    raise Closed(got)
                body += chunk
                got += len(chunk)
                time.sleep(0.01)
            if bytes(body) != want[:len(body)]:
                raise Bad("wrong bytes from /4m.bin (slow reader)")
            stats.good(kind)
            stats.outcome(kind, "closed mid-response after 6 s" if got < total
                          else "read the whole file")
        finally:
            c.close()

    # --- resets
    def resetter(self):
        kind = "reset"
        form = self.rng.randrange(3)
        c = Conn(self.port)
        if form == 0:
            data = request("/64k.bin")
            c.send(data[:self.rng.randrange(1, len(data) - 4)])
            time.sleep(self.rng.uniform(0, 0.02))
            c.reset()
            stats.outcome(kind, "reset mid-request")
        elif form == 1:
            c.send(request("/4m.bin"))
            try:
                status, _ = c.read_head()
                if status != 200:
                    raise Bad(f"status {status} for /4m.bin (reset)")
                c.read_exact(self.rng.randrange(0, 256 * 1024))
            except BaseException:
                c.close()
                raise
            c.reset()
            stats.outcome(kind, "reset mid-response")
        else:
            c.send(request("/64k.bin") + request("/1k.bin"))
            time.sleep(self.rng.uniform(0, 0.005))
            c.reset()
            stats.outcome(kind, "reset after a pipelined pair, unread")


def parse_multipart(body, boundary):
    """[(first, last, bytes)] of a multipart/byteranges body, or None."""
    parts = []
    pos = 0
    delim = b"--" + boundary
    while True:
        i = body.find(delim, pos)
        if i < 0:
            return None
        pos = i + len(delim)
        if body[pos:pos + 2] == b"--":
            return parts
        end = body.find(b"\r\n\r\n", pos)
        if end < 0:
            return None
        m = re.search(rb"(?i)content-range:\s*bytes (\d+)-(\d+)/\d+", body[pos:end])
        if not m:
            return None
        a, b = int(m.group(1)), int(m.group(2))
        data = body[end + 4:end + 4 + (b - a + 1)]
        parts.append((a, b, data))
        pos = end + 4 + (b - a + 1)


def client_thread(name, fn, pause):
    """Runs fn() again and again until the load stops; an exception is that kind's error."""
    kind = name
    while not stop_load.is_set():
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is counted, none ends the soak
            stats.error(kind, classify(e))
            if stop_load.wait(0.2):
                break
        if stop_load.wait(pause):
            break


# ------------------------------------------------------------------------------ wrk

WRK_PLAN = [
    ("wrk keep-alive 1k", "/1k.bin", 16, []),
    ("wrk keep-alive 64k", "/64k.bin", 8, []),
    ("wrk pipelined 16 x 1k", "/1k.bin", 8,
     ["-s", os.path.join(ROOT, "benchmarks", "wrk", "pipeline.lua"), "--", "16"]),
    ("wrk Connection: close 1k", "/1k.bin", 8, ["-H", "Connection: close"]),
    ("wrk keep-alive 4m", "/4m.bin", 4, []),
]


def wrk_thread(port, chunks):
    i = 0
    while not stop_load.is_set():
        kind, path, conns, extra = WRK_PLAN[i % len(WRK_PLAN)]
        i += 1
        script = [] if "-s" in extra else ["-s", os.path.join(ROOT, "benchmarks", "wrk",
                                                              "report.lua")]
        argv = ["timeout", "-k", "2", str(WRK_CHUNK_S + 15), WRK, "-t1", f"-c{conns}",
                f"-d{WRK_CHUNK_S}s", "--timeout", "5s"] + script + \
            [f"http://127.0.0.1:{port}{path}"] + extra
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, text=True)
        children.append(p)
        try:
            out = p.communicate(timeout=WRK_CHUNK_S + 30)[0]
        except subprocess.TimeoutExpired:
            servers.stop(p)
            out = ""
        finally:
            children.remove(p)
        m = re.search(r"^BENCH_RESULT (.*)$", out, re.M)
        chunk = {"kind": kind, "t0": round(t0 - T_ZERO, 2),
                 "seconds": round(time.monotonic() - t0, 2),
                 "exit": p.returncode}
        if not m:
            stats.error(kind, f"wrk gave no result (exit {p.returncode})", force=True)
        else:
            v = {k: int(x) for k, x in (kv.split("=") for kv in m.group(1).split())}
            chunk.update(v)
            ok = v["requests"] - v["status"]
            stats.good(kind, ok)
            for e in ("connect", "read", "write", "timeout"):
                if v[e]:
                    stats.error(kind, f"wrk {e} errors", v[e], force=True)
            if v["status"]:
                stats.error(kind, "wrk non-2xx/3xx", v["status"], force=True)
        chunks.append(chunk)
        if stop_load.wait(1.0):
            break


# ------------------------------------------------------------------------------ the server

def write_config(work, docroot, logs):
    conf = os.path.join(work, "kahttpd.conf")
    with open(conf, "w") as f:
        f.write(f"""Listen 127.0.0.1:0
DocumentRoot "{docroot}"
DirectoryIndex index.html
Workers {WORKERS}
MaxConnections {MAX_CONNECTIONS}
KeepAlive On
KeepAliveTimeout 5
MaxKeepAliveRequests 100
Timeout {TIMEOUT_S}
RequestReadTimeout header={TIMEOUT_S} body={TIMEOUT_S}
GracefulShutdownTimeout {GRACE_S}
TypesConfig /etc/mime.types
PidFile "{logs['pid']}"
LogLevel info
ErrorLog "{logs['error']}"
CustomLog "{logs['common']}" common
CustomLog "{logs['json']}" json
<Location /server-status>
    SetHandler server-status
</Location>
""")
    return conf


def start_server(conf, stderr):
    p = subprocess.Popen([KAHTTPD, "-f", conf], stdout=subprocess.PIPE, stderr=stderr,
                         stdin=subprocess.DEVNULL, text=True)
    children.append(p)
    port = servers.read_port(p, "kahttpd", time.monotonic() + 10)
    if not port:
        raise Failure(f"kahttpd did not start (exit {p.poll()}); see soak.error.log")
    return p, port


def proc_sample(pid):
    """(descriptors, VmRSS KiB, threads) of a process, or None when it is gone."""
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        rss = threads = None
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        return fds, rss, threads
    except OSError:
        return None


def status_json(port, timeout=5.0):
    c = Conn(port, timeout=timeout)
    try:
        c.send(request("/server-status?json&limit=0", close=True))
        r = c.response()
        if r.status != 200:
            raise Bad(f"status page: {r.status}")
        return json.loads(r.body)
    finally:
        c.close()


class Sampler:
    def __init__(self, proc, port, t_zero):
        self.proc = proc
        self.port = port
        self.t_zero = t_zero
        self.samples = []
        self.lock = threading.Lock()
        self.died_at = None

    def take(self, phase):
        t = time.monotonic() - self.t_zero
        ps = proc_sample(self.proc.pid)
        s = {"t": round(t, 2), "phase": phase}
        if ps is None or self.proc.poll() is not None:
            s["alive"] = False
            if self.died_at is None:
                self.died_at = t
        else:
            s.update(alive=True, fds=ps[0], rss_kb=ps[1], threads=ps[2])
        try:
            j = status_json(self.port)
            conns = j["connections"]
            s.update(status_ok=True, open=conns["open"], reading=conns["reading"],
                     writing=conns["writing"], idle=conns["idle"], closing=conns["closing"],
                     accepted=j["accepted"], requests=j["requests"],
                     generation=j["generation"], reloads=j["reloads"],
                     workers_listed=len(j["per_worker"]),
                     retiring=sum(1 for w in j["per_worker"] if w.get("retiring")),
                     timers_armed=j["timer_wheel"]["armed"])
        except Exception as e:  # noqa: BLE001
            s.update(status_ok=False, status_error=classify(e))
        with self.lock:
            self.samples.append(s)
        return s

    def run(self, phase_of):
        nxt = time.monotonic()
        while True:
            phase = phase_of()
            if phase is None:
                return
            self.take(phase)
            nxt += SAMPLE_S
            time.sleep(max(0.0, nxt - time.monotonic()))


# ------------------------------------------------------------------------------ log rotation

def count_lines(path):
    n = 0
    try:
        with open(path, "rb") as f:
            while True:
                block = f.read(1 << 20)
                if not block:
                    return n
                n += block.count(b"\n")
    except FileNotFoundError:
        return 0


def size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return None


COMMON_RE = re.compile(rb'^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" \d{3} (\d+|-)$')


def check_access_lines(common, js):
    """Every line of the first and last 2,000 of each file has the expected form; returns the
    problems found."""
    problems = []
    for path, ok in ((common, lambda ln: COMMON_RE.match(ln) is not None),
                     (js, json_line_ok)):
        try:
            with open(path, "rb") as f:
                head = f.read(1 << 20)
                f.seek(max(0, os.path.getsize(path) - (1 << 20)))
                tail = f.read()
        except OSError as e:
            problems.append(f"{os.path.basename(path)}: {e}")
            continue
        # Whole lines only: the first line of the tail block may be cut.
        lines = head.split(b"\n")[:-1][:2000] + tail.split(b"\n")[1:-1][-2000:]
        for ln in lines:
            if not ok(ln):
                problems.append(f"{os.path.basename(path)}: malformed line {ln[:120]!r}")
                break
    return problems


def json_line_ok(ln):
    try:
        o = json.loads(ln)
    except ValueError:
        return False
    return isinstance(o, dict) and "status" in o and "target" in o


class Rotation:
    """Renames the logs as logrotate does (access.log -> access.log.N ...), sends SIGUSR1, and
    checks the reopen: 3 s later the new files exist, and between 3 s and 6 s the new access
    logs grow while the renamed ones do not (each worker writes its buffer at least once a
    second, so a line formatted before the reopen may still reach the old file during the first
    second, never later). The renamed files are then counted, checked and deleted (rotate 0)."""

    def __init__(self, logs, out_error_log):
        self.logs = logs
        self.out_error_log = out_error_log
        self.n = 0
        self.records = []
        self.lines = collections.Counter()  # common/json lines in the rotated files

    def rotate(self, proc):
        self.n += 1
        rec = {"n": self.n, "renamed": {}}
        for key in ("common", "json", "error"):
            src = self.logs[key]
            dst = f"{src}.{self.n}"
            os.rename(src, dst)
            rec["renamed"][key] = dst
        proc.send_signal(signal.SIGUSR1)
        self.records.append(rec)
        return rec

    def check(self, rec, step):
        paths = {k: self.logs[k] for k in ("common", "json", "error")}
        if step == 1:
            rec["new_exist"] = {k: os.path.exists(p) for k, p in paths.items()}
            rec["new_size_3s"] = {k: size(p) for k, p in paths.items()}
            rec["old_size_3s"] = {k: size(p) for k, p in rec["renamed"].items()}
            return
        rec["new_size_6s"] = {k: size(p) for k, p in paths.items()}
        rec["old_size_6s"] = {k: size(p) for k, p in rec["renamed"].items()}
        problems = []
        for k, there in rec["new_exist"].items():
            if not there:
                problems.append(f"no new {k} log 3 s after SIGUSR1")
        for k in ("common", "json"):
            a, b = rec["new_size_3s"].get(k), rec["new_size_6s"].get(k)
            if a is None or b is None or b <= a:
                problems.append(f"the new {k} log did not grow ({a} -> {b} bytes)")
            if rec["old_size_3s"][k] != rec["old_size_6s"][k]:
                problems.append(f"the renamed {k} log still grew")
        try:
            with open(paths["error"], errors="replace") as f:
                if "reopened" not in f.read():
                    problems.append("the new error log has no 'reopened' line")
        except OSError as e:
            problems.append(f"the new error log: {e}")
        rec["problems"] = problems + check_access_lines(rec["renamed"]["common"],
                                                        rec["renamed"]["json"])
        self.finish(rec)

    def finish(self, rec):
        rec["lines"] = {}
        for key in ("common", "json"):
            n = count_lines(rec["renamed"][key])
            rec["lines"][key] = n
            self.lines[key] += n
            os.remove(rec["renamed"][key])
        self.append_error_log(rec["renamed"]["error"], f"rotation {rec['n']}")
        os.remove(rec["renamed"]["error"])

    def append_error_log(self, path, title):
        with open(path, errors="replace") as src, open(self.out_error_log, "a") as dst:
            dst.write(f"==== {title}: {os.path.basename(path)}\n")
            shutil.copyfileobj(src, dst)


# ------------------------------------------------------------------------------ the verdict

def theil_sen(ts, ys):
    """The median of the pairwise slopes: a trend that a few outliers do not move."""
    slopes = []
    for i in range(len(ts)):
        for j in range(i + 1, len(ts)):
            if ts[j] != ts[i]:
                slopes.append((ys[j] - ys[i]) / (ts[j] - ts[i]))
    return statistics.median(slopes) if slopes else 0.0


def lower_quartile(v):
    v = sorted(v)
    return v[len(v) // 4] if v else None


def verdict(result):
    """The rules. Under load the series move with the load (a descriptor per connection, a
    thread pair per generation while an old one drains after a reload), so the growth rules
    look at trends after a warm-up, and the exact rules at the idle points, where nothing
    moves:

    Growth (each of RSS, and descriptors less open connections): after a warm-up of 10 % of
    the load (at least 10 s, RSS and the per-worker buffers settle), the rest is cut into
    thirds. The series fails when BOTH (a) the median of the last third exceeds the median of
    the middle third by more than the tolerance, AND (b) the Theil-Sen slope over the middle
    and last thirds, times their span, exceeds the tolerance. A leak raises both; a one-off
    step (an allocator keeping a page, one more cached file) or a few outliers (a sample taken
    in a burst of connections) raise at most one. Tolerances:
      RSS: 2 MiB or 10 % of the middle third's median, whichever is more. glibc keeps freed
        memory in per-thread arenas (reused by the next generation's threads, at most 8 per
        core) and trims lazily, so RSS moves without leaking: measured, +1.5 MiB over the first
        reload (inside the warm-up), then up and down by about 0.4 MiB around each reload,
        which the medians of 60 s thirds smooth out; the medians of the middle and last thirds
        of a 10-minute run differed by 134 KiB. A leak of 12 KiB/s adds 2 MiB between the two
        medians (180 s apart in the 10-minute run) and fails: 0.3 bytes per request at the
        39,000 requests/s of that run, or 70 KiB per reload.
      descriptors less open connections: 8. The two counts are read a few milliseconds apart
        (/proc, then the status page), so connections opening and closing in between skew the
        difference by a few; an old generation draining holds its own descriptors for up to
        GracefulShutdownTimeout. The lower quartile is used instead of the median for (a): it
        is the count with no old generation draining. A descriptor leaked per reload (30 in the
        run) or per connection fails.
    Idle baseline (exact): after the load and the drain, the descriptors are at most the
      baseline's (taken before the load, after every file was requested once: the open-file
      cache then holds them), the threads equal the baseline's, and one connection is open
      (the status request itself).
    Threads under load: never more than the baseline plus one generation's workers (an old
      generation draining, GracefulShutdownTimeout 10 s < 20 s between reloads), and back to
      the baseline between reloads: the lowest count in the last third equals the baseline.
    Health: the server is alive throughout and exits 0 on SIGTERM; its stderr and error logs
      have no crash marker and no line at level error or worse; the status page answered every
      sample; every log rotation was followed (Rotation); the common and json access logs have
      the same number of lines in total (no line lost or doubled by a rotation); no client kind
      has more than 1 % errors (a server that stops answering properly is not healthy however
      flat its memory).
    """
    checks = []

    def check(name, ok, detail):
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    samples = result["samples"]
    load = [s for s in samples if s["phase"] == "load" and s.get("alive") and "fds" in s]
    base = result["baseline"]
    final = result["final"]
    load_s = result["meta"]["load_seconds"]
    warm = max(10.0, 0.1 * load_s)
    t_load0 = result["meta"]["load_started_t"]
    post = [s for s in load if s["t"] >= t_load0 + warm]
    series = {}
    if len(post) >= 9:
        third = (post[-1]["t"] - post[0]["t"]) / 3
        t1 = post[0]["t"] + third
        t2 = post[0]["t"] + 2 * third
        mid = [s for s in post if t1 <= s["t"] < t2]
        last = [s for s in post if s["t"] >= t2]
        tail = mid + last
        for name, get, tol_fn, stat in (
                ("RSS (KiB)", lambda s: s["rss_kb"],
                 lambda m: max(2048, 0.10 * m), statistics.median),
                ("descriptors less open connections",
                 lambda s: s["fds"] - s["open"] if s.get("status_ok") else None,
                 lambda m: 8, lower_quartile)):
            mv = [get(s) for s in mid if get(s) is not None]
            lv = [get(s) for s in last if get(s) is not None]
            tv = [(s["t"], get(s)) for s in tail if get(s) is not None]
            if not mv or not lv:
                check(f"no growth: {name}", False, "too few samples")
                continue
            m_mid, m_last = stat(mv), stat(lv)
            tol = tol_fn(statistics.median(mv))
            slope = theil_sen([t for t, _ in tv], [y for _, y in tv])
            projected = slope * (tv[-1][0] - tv[0][0])
            grew = (m_last - m_mid > tol) and (projected > tol)
            series[name] = {"middle": m_mid, "last": m_last, "tolerance": tol,
                            "slope_per_s": slope, "projected_over_tail": projected}
            check(f"no growth: {name}", not grew,
                  f"middle third {m_mid:,.0f}, last third {m_last:,.0f} "
                  f"(+{m_last - m_mid:,.0f}), trend {projected:+,.0f} over the last two thirds; "
                  f"tolerance {tol:,.0f}")
        th = [s["threads"] for s in load]
        check("threads under load within baseline + one draining generation",
              max(th) <= base["threads"] + WORKERS and min(th) >= base["threads"],
              f"{min(th)}–{max(th)} (baseline {base['threads']}, workers {WORKERS})")
        low = min(s["threads"] for s in last)
        check("threads back to the baseline between reloads (last third)",
              low == base["threads"], f"lowest {low}, baseline {base['threads']}")
    else:
        check("enough samples under load", False, f"{len(post)} after the warm-up")
    result["series"] = series

    if final:
        check("descriptors back to the idle baseline", final["fds"] <= base["fds"],
              f"final {final['fds']}, baseline {base['fds']}")
        check("threads back to the idle baseline", final["threads"] == base["threads"],
              f"final {final['threads']}, baseline {base['threads']}")
        check("connections drained", final.get("open") == 1,
              f"{final.get('open')} open in the final sample (1 = the status request)")
    else:
        check("final sample", False, "none (the server was gone)")

    h = result["health"]
    check("server alive during the load", h["died_at"] is None,
          "alive" if h["died_at"] is None else f"gone at t={h['died_at']:.1f} s")
    check("clean stop (SIGTERM, exit 0)", h["exit_status"] == 0,
          f"exit status {h['exit_status']}, {h['stop_seconds']} s")
    check("no crash marker or error line in stderr and the error logs",
          not h["crash_lines"] and not h["error_lines"],
          f"{len(h['crash_lines'])} crash, {len(h['error_lines'])} error-level lines")
    bad_status = [s for s in samples if s["phase"] in ("load", "drain", "final")
                  and not s.get("status_ok")]
    check("status page answered every sample", not bad_status,
          f"{len(bad_status)} of {len(samples)} failed" + (
              f" (first: {bad_status[0].get('status_error')})" if bad_status else ""))
    rot = result["rotations"]
    problems = [f"rotation {r['n']}: {p}" for r in rot for p in r.get("problems", ["not checked"])]
    check("log rotations followed (SIGUSR1)", rot and not problems,
          f"{len(rot)} rotations" + (f"; {'; '.join(problems[:5])}" if problems else ", all fine"))
    lines = result["access_lines"]
    check("common and json access logs agree", lines["common"] == lines["json"],
          f"{lines['common']:,} and {lines['json']:,} lines")
    pid = result["health"]["pidfile"]
    check("PidFile written, and removed at exit", pid["matched"] and pid["removed"],
          f"held the PID: {pid['matched']}, removed: {pid['removed']}")
    worst = []
    for kind, c in result["counts"].items():
        total = c["ok"] + c["error_count"] + sum(c["outcomes"].values())
        if total and c["error_count"] > 0.01 * total:
            worst.append(f"{kind} {c['error_count']}/{total}")
    check("errors at most 1 % of each kind", not worst, ", ".join(worst) or "all within")
    no_progress = [k for k, c in result["counts"].items()
                   if c["ok"] == 0 and not c["outcomes"]]
    check("every kind made progress", not no_progress, ", ".join(no_progress) or "all")
    return checks


# ------------------------------------------------------------------------------ the report

def fmt_kib(kb):
    return f"{kb / 1024:.1f} MiB"


def summary_md(result):
    m = result["meta"]
    base, final = result["baseline"], result["final"] or {}
    load = [s for s in result["samples"] if s["phase"] == "load" and "fds" in s]
    passed = all(c["ok"] for c in result["checks"])
    out = [f"# Soak: {'PASS' if passed else 'FAIL'}", "",
           f"kahttpd {m['commit']}, {m['date']}; {m['load_seconds']:.0f} s of mixed load "
           f"(SOAK_SECONDS={m['soak_seconds']:g}), Workers {WORKERS}, MaxConnections "
           f"{MAX_CONNECTIONS}; {m['reloads']} reloads (SIGHUP every {HUP_EVERY:g} s), "
           f"{m['rotations']} log rotations (SIGUSR1 every {USR1_EVERY:g} s), a sample every "
           f"{SAMPLE_S:g} s ({len(result['samples'])} samples). Took {m['took_s']:.0f} s.", "",
           "| series | idle baseline | start of load | peak under load | end of load | "
           "after the drain |", "|---|---:|---:|---:|---:|---:|"]
    if load:
        for name, key, f in (("descriptors", "fds", str), ("RSS", "rss_kb", fmt_kib),
                             ("threads", "threads", str)):
            out.append(f"| {name} | {f(base[key])} | {f(load[0][key])} | "
                       f"{f(max(s[key] for s in load))} | {f(load[-1][key])} | "
                       f"{f(final[key]) if key in final else '—'} |")
        opens = [s["open"] for s in load if s.get("status_ok")]
        if opens:
            out.append(f"| open connections | {base.get('open', '—')} | {opens[0]} | "
                       f"{max(opens)} | {opens[-1]} | {final.get('open', '—')} |")
    out += ["", "| check | | detail |", "|---|---|---|"]
    for c in result["checks"]:
        out.append(f"| {c['check']} | {'ok' if c['ok'] else '**FAIL**'} | {c['detail']} |")
    out += ["", "| kind | answered as expected | other outcomes | errors |",
            "|---|---:|---|---|"]
    tot_ok = tot_err = 0
    for kind, c in result["counts"].items():
        tot_ok += c["ok"]
        tot_err += c["error_count"]
        oc = "; ".join(f"{k}: {v:,}" for k, v in sorted(c["outcomes"].items())) or "—"
        er = "; ".join(f"{k}: {v:,}" for k, v in sorted(c["errors"].items())) or "0"
        out.append(f"| {kind} | {c['ok']:,} | {oc} | {er} |")
    out.append(f"| **all** | **{tot_ok:,}** | | **{tot_err:,}** |")
    st = result.get("server_totals") or {}
    out += ["", f"Server totals (status page, last sample): {st.get('accepted', 0):,} connections "
            f"accepted, {st.get('requests', 0):,} requests; access log lines: "
            f"{result['access_lines']['common']:,} (common) and "
            f"{result['access_lines']['json']:,} (json), over every rotation. Error log lines "
            f"by level: " + (", ".join(f"{k} {v:,}" for k, v in
                                       sorted(result["health"]["levels"].items())) or "none")
            + "."]
    return "\n".join(out) + "\n"


def plot(result, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is missing (python3-matplotlib): no plot")
        return False
    ss = [s for s in result["samples"] if "fds" in s]
    t = [s["t"] for s in ss]
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True)
    ax = axes[0]
    ax.plot(t, [s["fds"] for s in ss], lw=1, label="descriptors")
    tt = [s["t"] for s in ss if s.get("status_ok")]
    ax.plot(tt, [s["fds"] - s["open"] for s in ss if s.get("status_ok")], lw=1,
            label="descriptors − open connections")
    ax.axhline(result["baseline"]["fds"], color="grey", lw=0.8, ls=":", label="idle baseline")
    ax.set_ylabel("descriptors")
    ax.legend(loc="upper right", fontsize=8)
    axes[1].plot(t, [s["rss_kb"] / 1024 for s in ss], lw=1, color="tab:green")
    axes[1].set_ylabel("RSS (MiB)")
    axes[2].plot(t, [s["threads"] for s in ss], lw=1, color="tab:purple", drawstyle="steps-post")
    axes[2].set_ylabel("threads")
    axes[2].set_xlabel("seconds since the server started")
    lo = min(s["threads"] for s in ss)
    hi = max(s["threads"] for s in ss)
    axes[2].set_ylim(lo - 1, hi + 1)
    from matplotlib.ticker import MaxNLocator
    axes[2].yaxis.set_major_locator(MaxNLocator(integer=True))
    m = result["meta"]
    for a in axes:
        for e in result["events"]:
            if e["what"] == "SIGHUP":
                a.axvline(e["t"], color="tab:orange", lw=0.6, alpha=0.6)
            elif e["what"] == "SIGUSR1":
                a.axvline(e["t"], color="tab:red", lw=1.0, ls="--", alpha=0.8)
        a.axvspan(m["load_started_t"], m["load_started_t"] + max(10.0, 0.1 * m["load_seconds"]),
                  color="grey", alpha=0.08)
        a.axvline(m["load_ended_t"], color="black", lw=0.8)
        a.grid(alpha=0.3)
    from matplotlib.lines import Line2D
    axes[0].legend(handles=axes[0].get_legend_handles_labels()[0] + [
        Line2D([], [], color="tab:orange", lw=0.6, label="SIGHUP (reload)"),
        Line2D([], [], color="tab:red", lw=1.0, ls="--", label="SIGUSR1 (logs rotated)"),
        Line2D([], [], color="black", lw=0.8, label="load ends")],
        loc="upper right", fontsize=7, ncol=2)
    passed = all(c["ok"] for c in result["checks"])
    fig.suptitle(f"kahttpd soak {m['commit']}: {m['load_seconds']:.0f} s mixed load, "
                 f"{'PASS' if passed else 'FAIL'} (shaded: warm-up)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ------------------------------------------------------------------------------ main



def scan_logs(paths):
    crash, errors, levels = [], [], collections.Counter()
    for p in paths:
        try:
            with open(p, errors="replace") as f:
                for line in f:
                    if line.startswith("===="):
                        continue
                    m = re.match(r"\[[^\]]*\] \[(\w+)\]", line)
                    if m:
                        levels[m.group(1)] += 1
                    if any(x in line for x in CRASH_MARKERS):
                        crash.append(line.rstrip()[:300])
                    elif any(x in line for x in LOG_LEVELS_BAD):
                        errors.append(line.rstrip()[:300])
        except OSError:
            pass
    return crash, errors, levels


def warm_up(port, names):
    """Every path the load asks for, on 16 connections at once, so that every worker's open-file
    cache holds what it will hold under the load (each worker has its own cache; the kernel
    spreads the connections over the workers' listening sockets); returns the ETags."""
    paths = ["/"] + ["/" + n for n in names]
    for attempt in range(5):
        etags = {}
        conns = [Conn(port) for _ in range(16)]
        try:
            for c in conns:
                for path in paths:
                    c.send(request(path))
                    r = c.response()
                    if r.status != 200:
                        raise Failure(f"{path}: status {r.status} before the load")
                    etags[path.lstrip("/") or "index.html"] = (r.h("etag"), r.h("last-modified"))
        finally:
            for c in conns:
                c.close()
        workers = status_json(port)["per_worker"]
        if all(w["accepted"] > 0 for w in workers):
            break
    else:
        raise Failure("the warm-up did not reach every worker")
    if not all(e and lm for e, lm in etags.values()):
        raise Failure(f"no ETag or Last-Modified: {etags}")
    return etags


def main():
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))

    def overall_deadline(*_):
        raise Failure("overall deadline passed")
    signal.signal(signal.SIGALRM, overall_deadline)
    signal.alarm(TOTAL_DEADLINE)

    servers.raise_nofile()
    if not shutil.which(KAHTTPD):
        raise Failure(f"kahttpd not found at {KAHTTPD} (make build)")
    if not shutil.which(WRK):
        raise Failure("wrk not found (bash scripts/install-deps.sh)")
    if DURATION < 30:
        raise Failure("SOAK_SECONDS must be at least 30")

    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="kahttpd-soak.")
    docroot = os.path.join(work, "www")
    logdir = os.path.join(work, "logs")
    os.makedirs(docroot)
    os.makedirs(logdir)
    rng = random.Random(7)
    files = {}
    for name, n in FILES.items():
        data = (b"<!doctype html><html><body><p>soak</p></body></html>\n" if n is None
                else rng.randbytes(n))
        with open(os.path.join(docroot, name), "wb") as f:
            f.write(data)
        files[name] = data
    logs = {"common": os.path.join(logdir, "access.log"),
            "json": os.path.join(logdir, "access.json"),
            "error": os.path.join(logdir, "error.log"),
            "pid": os.path.join(logdir, "kahttpd.pid")}
    conf = write_config(work, docroot, logs)
    out_error_log = os.path.join(OUT, "soak.error.log")
    stderr_path = os.path.join(work, "stderr.log")
    with open(out_error_log, "w"):
        pass
    stderr = open(stderr_path, "w")

    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": servers.git_commit(), "kahttpd": KAHTTPD, "soak_seconds": DURATION,
            "sample_seconds": SAMPLE_S, "hup_every": HUP_EVERY, "usr1_every": USR1_EVERY,
            "workers": WORKERS, "max_connections": MAX_CONNECTIONS,
            "config": open(conf).read()}
    global T_ZERO
    t_start = T_ZERO = time.monotonic()
    proc, port = start_server(conf, stderr)
    HOST["v"] = f"127.0.0.1:{port}"
    t_zero = t_start
    log(f"kahttpd {proc.pid} on 127.0.0.1:{port}; {DURATION:g} s of load")
    pid_matched = False
    try:
        with open(logs["pid"]) as f:
            pid_matched = int(f.read().strip()) == proc.pid
    except (OSError, ValueError):
        pass

    sampler = Sampler(proc, port, t_zero)
    rotation = Rotation(logs, out_error_log)
    events = []
    wrk_chunks = []
    threads = []
    phase = {"v": "baseline"}
    sampler_thread = None
    exit_status = None
    stop_seconds = None
    try:
        etags = warm_up(port, [n for n in FILES])
        time.sleep(1.0)
        # The idle baseline: three samples a second apart; the last one counts (status requests
        # and the warm-up's connection have closed by then).
        for _ in range(3):
            sampler.take("baseline")
            time.sleep(1.0)
        baseline = dict(sampler.samples[-1])
        log(f"idle baseline: {baseline.get('fds')} descriptors, "
            f"{fmt_kib(baseline.get('rss_kb') or 0)}, {baseline.get('threads')} threads")

        load = Load(port, files, etags)
        kinds = [("keep-alive", load.keep_alive, 0.02, 2),
                 ("close", load.close_client, 0.02, 1),
                 ("pipeline", load.pipeline, 0.05, 1),
                 ("range-single", load.range_single, 0.05, 1),
                 ("range-multi", load.range_multi, 0.05, 1),
                 ("not-found", load.not_found, 0.05, 1),
                 ("conditional", load.conditional, 0.05, 1),
                 ("bad-request", load.bad_request, 0.5, 1),
                 ("slow-head", lambda: load.slow_head(stall=False), 0.1, 3),
                 ("slow-head", lambda: load.slow_head(stall=True), 0.5, 1),
                 ("slow-reader", lambda: load.slow_reader(stall=False), 0.2, 2),
                 ("slow-reader", lambda: load.slow_reader(stall=True), 0.5, 1),
                 ("reset", load.resetter, 0.02, 1)]
        phase["v"] = "load"
        t_load0 = time.monotonic()
        meta["load_started_t"] = round(t_load0 - t_zero, 2)
        sampler_thread = threading.Thread(target=sampler.run, args=(lambda: phase["v"],),
                                          daemon=True)
        sampler_thread.start()
        for name, fn, pause, n in kinds:
            for _ in range(n):
                th = threading.Thread(target=client_thread, args=(name, fn, pause), daemon=True)
                th.start()
                threads.append(th)
        th = threading.Thread(target=wrk_thread, args=(port, wrk_chunks), daemon=True)
        th.start()
        threads.append(th)

        # The schedule: reloads, rotations and their checks.
        schedule = []
        k = 1
        while k * HUP_EVERY < DURATION - 5:
            schedule.append((t_load0 + k * HUP_EVERY, "hup", None))
            k += 1
        k = 0
        while USR1_FIRST + k * USR1_EVERY < DURATION - 8:
            schedule.append((t_load0 + USR1_FIRST + k * USR1_EVERY, "usr1", None))
            k += 1
        schedule.sort(key=lambda e: e[0])
        end = t_load0 + DURATION
        next_report = t_load0 + 30
        while time.monotonic() < end or schedule:
            now = time.monotonic()
            if proc.poll() is not None:
                # Stop the load and report: the samples up to here are the evidence.
                log(f"kahttpd exited during the load (status {proc.returncode})")
                if sampler.died_at is None:
                    sampler.died_at = round(now - t_zero, 2)
                break
            if schedule and schedule[0][0] <= now:
                _, what, rec = schedule.pop(0)
                t_rel = round(now - t_zero, 2)
                if what == "hup":
                    proc.send_signal(signal.SIGHUP)
                    events.append({"t": t_rel, "what": "SIGHUP"})
                elif what == "usr1":
                    rec = rotation.rotate(proc)
                    events.append({"t": t_rel, "what": "SIGUSR1", "rotation": rec["n"]})
                    schedule += [(now + 3, "check1", rec), (now + 6, "check2", rec)]
                    schedule.sort(key=lambda e: e[0])
                elif what == "check1":
                    rotation.check(rec, 1)
                else:
                    rotation.check(rec, 2)
                    log(f"rotation {rec['n']}: " + ("; ".join(rec["problems"]) or "ok"))
                continue
            if now >= next_report:
                next_report += 60
                s = sampler.samples[-1]
                log(f"t={s['t']:.0f} s: {s.get('fds')} descriptors, "
                    f"{fmt_kib(s.get('rss_kb') or 0)}, {s.get('threads')} threads, "
                    f"{s.get('open')} open, {s.get('requests', 0):,} requests")
            wait = min([end - now] + [e[0] - now for e in schedule[:1]] + [1.0])
            time.sleep(max(0.01, wait))

        # The load stops: clients finish their session (each bounded by its socket timeout),
        # wrk its chunk (or is stopped).
        stop_load.set()
        t_load1 = time.monotonic()
        meta["load_ended_t"] = round(t_load1 - t_zero, 2)
        meta["load_seconds"] = round(t_load1 - t_load0, 1)
        for th in threads:
            th.join(timeout=max(0.1, t_load1 + IO_TIMEOUT + 30 - time.monotonic()))
        stuck = [th.name for th in threads if th.is_alive()]
        if stuck:
            log(f"{len(stuck)} client threads still running after the load")
        phase["v"] = "drain"
        # Drain: until one connection is open (the status request) and the descriptors are at
        # the baseline, at most DRAIN_S.
        t_drain = time.monotonic()
        while time.monotonic() - t_drain < DRAIN_S and proc.poll() is None:
            s = sampler.samples[-1]
            if (s["phase"] == "drain" and s.get("open") == 1 and "fds" in s
                    and s["fds"] <= baseline["fds"]):
                break
            time.sleep(0.5)
        phase["v"] = None
        sampler_thread.join(timeout=15)
        time.sleep(1.0)
        final = sampler.take("final")
        log(f"final: {final.get('fds')} descriptors, {fmt_kib(final.get('rss_kb') or 0)}, "
            f"{final.get('threads')} threads, {final.get('open')} open")
        if "fds" not in final:
            final = None
        alive_at_end = proc.poll() is None
        # Stop the server (by PID) and check its exit.
        t_stop = time.monotonic()
        if alive_at_end:
            proc.send_signal(signal.SIGTERM)
            try:
                exit_status = proc.wait(timeout=GRACE_S + 10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                exit_status = "did not stop (killed)"
        else:
            exit_status = proc.returncode
        stop_seconds = round(time.monotonic() - t_stop, 2)
    finally:
        stop_load.set()
        for p in list(children):
            servers.stop(p)
        stderr.close()

    rotation.append_error_log(logs["error"], "the last error log")
    rotation.append_error_log(stderr_path, "stderr")
    rotation.lines["common"] += count_lines(logs["common"])
    rotation.lines["json"] += count_lines(logs["json"])
    crash, errors, levels = scan_logs([out_error_log])
    last_ok = [s for s in sampler.samples if s.get("status_ok")]
    result = {
        "meta": meta, "baseline": baseline, "final": final, "samples": sampler.samples,
        "events": events, "rotations": rotation.records, "wrk_chunks": wrk_chunks,
        "counts": stats.table(), "access_lines": dict(rotation.lines),
        "server_totals": {k: last_ok[-1].get(k) for k in ("accepted", "requests")}
        if last_ok else {},
        "health": {"died_at": sampler.died_at, "exit_status": exit_status,
                   "stop_seconds": stop_seconds, "crash_lines": crash[:50],
                   "error_lines": errors[:50], "levels": dict(levels),
                   "pidfile": {"matched": pid_matched,
                               "removed": not os.path.exists(logs["pid"])}},
    }
    meta["reloads"] = sum(1 for e in events if e["what"] == "SIGHUP")
    meta["rotations"] = len(rotation.records)
    meta["took_s"] = round(time.monotonic() - t_start, 1)
    result["checks"] = verdict(result)
    passed = all(c["ok"] for c in result["checks"])
    md = summary_md(result)
    with open(os.path.join(OUT, "soak.md"), "w") as f:
        f.write(md)
    with open(os.path.join(OUT, "soak.json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    plotted = plot(result, os.path.join(OUT, "soak.png"))
    shutil.rmtree(work, ignore_errors=True)
    print(md, end="")
    log(f"{'PASS' if passed else 'FAIL'}; wrote {OUT}/soak.md, soak.json"
        + (", soak.png" if plotted else "") + " and soak.error.log")
    return 0 if passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        log(str(e))
        stop_load.set()
        for p in list(children):
            servers.stop(p)
        sys.exit(1)
    except KeyboardInterrupt:
        stop_load.set()
        for p in list(children):
            servers.stop(p)
        sys.exit(130)
