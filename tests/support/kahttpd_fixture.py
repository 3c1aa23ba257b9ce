"""Test support for kahttpd integration tests.

Starts the real binary (path in $KAHTTPD_BIN) on 127.0.0.1 with an ephemeral port (Listen
127.0.0.1:0; the server prints the port it got), a temp config and a temp document root, and
stops only the process it started, by PID. Helpers speak raw HTTP/1.1 over sockets so tests can
check bytes exactly.
"""

import json
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time

BIN = os.environ.get("KAHTTPD_BIN", "")

# make test-sanitize (KAHTTPD_SANITIZE=ON) sets KAHTTPD_SANITIZED=1 and the sanitizer options
# (tests/CMakeLists.txt): BIN is then the ASan+UBSan build, which is about three times slower;
# bounds on how long something may take are multiplied by TIME_SCALE (never bounds on how long
# the server must wait: those are the server's own timers, unchanged).
SANITIZED = os.environ.get("KAHTTPD_SANITIZED") == "1"
TIME_SCALE = 3.0 if SANITIZED else 1.0
START_TIMEOUT = 10.0 * TIME_SCALE

# What a sanitizer prints on stderr when it finds something (ASan, LSan, UBSan), and the exit
# status the sanitized tests ask for when a report ends the process.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")
SANITIZER_EXIT = 86


def sanitizer_report(stderr, returncode=None):
    """The sanitizer report in a kahttpd's stderr (from its first marker), or None."""
    found = [stderr.find(m) for m in SANITIZER_MARKERS if m in stderr]
    if found:
        return stderr[min(found):]
    if SANITIZED and returncode == SANITIZER_EXIT:
        return "(exit status %d, the sanitizers' own)\n%s" % (returncode, stderr)
    return None


def check_no_sanitizer_report(stderr, returncode=None, what="kahttpd"):
    """Raises AssertionError when the process reported a memory error, a leak or undefined
    behaviour, whatever the test expected of its exit status."""
    report = sanitizer_report(stderr, returncode)
    if report is not None:
        raise AssertionError("%s: sanitizer report:\n%s" % (what, report))


def run(*args, timeout=10, **kwargs):
    """Runs BIN with args to its end (-t, -T, failing start-ups ...): a CompletedProcess with
    text output, after checking that no sanitizer reported anything."""
    r = subprocess.run([BIN, *args], capture_output=True, text=True,
                       timeout=timeout * TIME_SCALE, **kwargs)
    check_no_sanitizer_report(r.stderr, r.returncode, "kahttpd " + " ".join(args))
    return r


def wait_for_log(srv, text, count=1, attempts=500, probe="/"):
    """Polls the server's stderr for `count` lines with `text`, with a round trip (a request
    for `probe`, whatever its status) between tries: the main loop logs reloads and signals,
    the round trip gives it time without a sleep."""
    for _ in range(attempts):
        if srv.stderr().count(text) >= count:
            return
        c = srv.connect()
        c.request(probe)
        c.close()
    raise AssertionError("no %r in the log: %s" % (text, srv.stderr()[-2000:]))


class Server:
    """A kahttpd process with its own temp config and docroot.

    directives: extra config lines (appended after the defaults, so they override).
    files: {relative path: bytes or str} written into the docroot.
    site: a folder copied as the docroot (before files are added).
    conf_path: use this configuration file instead of writing one (env: extra environment,
    args: extra command-line arguments).
    listen: the first Listen line's arguments ("127.0.0.1:0 https" for TLS); its port is
    self.port.
    """

    def __init__(self, directives="", files=None, workers=1, site=None, max_fds=None,
                 conf_path=None, env=None, args=(), listen="127.0.0.1:0"):
        if not BIN:
            raise RuntimeError("KAHTTPD_BIN is not set (run through CTest)")
        self.tmp = tempfile.mkdtemp(prefix="kahttpd-test-")
        self.root = os.path.join(self.tmp, "www")
        os.makedirs(os.path.join(self.tmp, "conf"))
        if site:
            shutil.copytree(site, self.root)
        else:
            os.makedirs(self.root)
        for rel, content in (files or {}).items():
            self.write(rel, content)
        self.env = dict(env or {})
        self.args = list(args)
        self.conf = conf_path or os.path.join(self.tmp, "conf", "httpd.conf")
        with open(self.conf if conf_path is None else os.devnull, "w") as f:
            f.write(textwrap.dedent(f"""\
                Listen {listen}
                DocumentRoot "{self.root}"
                Workers {workers}
                """))
            f.write(textwrap.dedent(directives))
        self.proc = None
        self.port = None
        self.max_fds = max_fds
        self.stderr_path = os.path.join(self.tmp, "stderr.log")

    def write(self, rel, content):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(path, mode) as f:
            f.write(content)
        return path

    def start(self):
        self.stderr_file = open(self.stderr_path, "wb")
        env = dict(os.environ)
        env.setdefault("KAHTTPD_LOG_LEVEL", "info")
        env.update(self.env)
        preexec = None
        if self.max_fds is not None:
            limit = self.max_fds
            preexec = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
        self.proc = subprocess.Popen([BIN, "-f", self.conf, *self.args], stdout=subprocess.PIPE,
                                     stderr=self.stderr_file, env=env, preexec_fn=preexec)
        # Wait for the "listening on" line: an event, not a sleep.
        deadline = time.monotonic() + START_TIMEOUT
        line = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r:
                line = self.proc.stdout.readline()
                if b"listening on" in line:
                    break
                if not line:
                    break
            if self.proc.poll() is not None:
                break
        if b"listening on" not in line:
            self.stop(check=False)
            raise RuntimeError("kahttpd did not start: " + self.stderr())
        addr = line.split(b"listening on ")[1].split(b" ")[0].decode()
        self.port = int(addr.rsplit(":", 1)[1])
        return self

    def stop(self, check=True, sig=signal.SIGTERM, timeout=15):
        """Stops our own child by PID; returns its exit code. A sanitizer report on its stderr
        fails the test even with check=False (a test about an exit status, or a cleanup)."""
        rc = None
        timeout *= TIME_SCALE
        stopped = self.proc is not None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                try:
                    rc = self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    raise AssertionError("kahttpd did not stop within %ss" % timeout)
            else:
                rc = self.proc.returncode
            self.proc.stdout.close()
            self.stderr_file.close()
            self.proc = None
        if stopped:
            check_no_sanitizer_report(self.stderr(), rc)
        if check and rc != 0:
            raise AssertionError("kahttpd exited with %r: %s" % (rc, self.stderr()))
        return rc

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        try:
            self.stop(check=exc[0] is None)
        finally:
            self.cleanup()

    def connect(self, timeout=5.0):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return Client(s)


class Response:
    def __init__(self, status, reason, version, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers  # list of (name, value) in order
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.headers)


class Client:
    """A raw HTTP/1.1 client over one socket; reads responses byte-exactly."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by server")
        self.buf += chunk

    def read_response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        version, status, reason = lines[0].decode().split(" ", 2)
        headers = []
        for line in lines[1:]:
            name, value = line.decode().split(":", 1)
            headers.append((name, value.strip()))
        resp = Response(int(status), reason, version, headers, b"", head)
        length = resp.header("Content-Length")
        if head_request or resp.status in (204, 304) or resp.status < 200:
            return resp
        n = int(length) if length is not None else 0
        while len(self.buf) < n:
            self._fill()
        resp.body, self.buf = self.buf[:n], self.buf[n:]
        return resp

    def request(self, path="/", method="GET", headers=None, version="HTTP/1.1"):
        headers = dict(headers or {})
        lines = [f"{method} {path} {version}"]
        if not any(k.lower() == "host" for k in headers):
            lines.append("Host: localhost")
        for k, v in headers.items():
            lines.append(f"{k}: {v}")
        self.send("\r\n".join(lines) + "\r\n\r\n")
        return self.read_response(head_request=(method == "HEAD"))

    def wait_closed(self, timeout=5.0):
        """Reads until EOF; returns (seconds waited, extra bytes received). Raises on timeout."""
        start = time.monotonic()
        extra = b""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                extra += chunk
        except ConnectionResetError:
            pass
        return time.monotonic() - start, self.buf + extra

    def is_open(self, wait=0.0):
        """True when the server has not closed the connection within `wait` seconds."""
        r, _, _ = select.select([self.sock], [], [], wait)
        if not r:
            return True
        try:
            data = self.sock.recv(65536, socket.MSG_PEEK)
        except ConnectionResetError:
            return False
        return bool(data)

    def close(self):
        self.sock.close()

    def __del__(self):
        self.sock.close()


# The status page for the tests that read the server's counters (local clients only).
STATUS_LOCATION = """\
<Location /server-status>
    SetHandler server-status
</Location>
"""


def status_json(srv):
    """The status page's JSON, over a connection of its own."""
    c = srv.connect()
    r = c.request("/server-status?json")
    c.close()
    assert r.status == 200, r
    return json.loads(r.body)


def request_once(port, raw, timeout=5.0):
    """Sends raw bytes on a fresh connection and returns everything until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(raw if isinstance(raw, bytes) else raw.encode())
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


def serve_for(test, directives="", files=None, mtime=None):
    """Starts a Server for a unittest.TestCase: `directives` appended to its configuration
    (dedented, @ROOT@ standing for its document root), every file and folder given the
    modification time `mtime` (seconds) when set, so two servers send the same validators.
    Stopped and removed when the test ends."""
    srv = Server(files=files)
    try:
        if mtime is not None:
            for dirpath, dirnames, filenames in os.walk(srv.root):
                for name in dirnames + filenames:
                    os.utime(os.path.join(dirpath, name), (mtime, mtime))
        with open(srv.conf, "a") as f:
            f.write(textwrap.dedent(directives).replace("@ROOT@", srv.root))
        srv.start()
    except BaseException:
        srv.cleanup()
        raise
    test.addCleanup(srv.cleanup)
    test.addCleanup(srv.stop)
    return srv
