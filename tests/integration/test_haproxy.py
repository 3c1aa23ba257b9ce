"""Debian's haproxy in front of two kahttpd with contrib/haproxy/: PROXY protocol v2, health
checks, keep-alive to the backends. Load runs through it while each backend in turn is stopped
with SIGTERM and started again: no request fails. A client at 127.0.0.2 is logged as such."""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from kahttpd_fixture import Server, TIME_SCALE

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONTRIB = os.path.join(ROOT, "contrib", "haproxy")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what):
    """Waits for `predicate` (checked whenever a response arrives or every 50 ms)."""
    deadline = time.monotonic() + timeout * TIME_SCALE
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Load:
    """Client threads sending GET /who.txt through the balancer until stopped: keep-alive
    clients and one that opens a connection per request. Counts answers per backend."""

    def __init__(self, port, threads=4):
        self.port = port
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = []
        self.by_backend = {}
        self.threads = [threading.Thread(target=self.run, args=(i == 0,), daemon=True)
                        for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def run(self, close_each):
        conn = None
        while not self.stop_event.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/who.txt",
                             headers={"Connection": "close"} if close_each else {})
                r = conn.getresponse()
                body = r.read().decode()
                if r.status != 200:
                    raise RuntimeError("status %d" % r.status)
                with self.lock:
                    self.ok += 1
                    self.by_backend[body] = self.by_backend.get(body, 0) + 1
                if close_each or r.will_close:
                    conn.close()
                    conn = None
            except Exception as e:  # every failure is counted and shown
                with self.lock:
                    self.failed.append(repr(e))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def seen(self, name):
        with self.lock:
            return self.by_backend.get(name, 0)

    def finish(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(30)


class HAProxyTest(unittest.TestCase):
    def backend(self, name, port):
        """A kahttpd from contrib/haproxy/kahttpd-backend.conf on `port`, serving who.txt."""
        with open(os.path.join(CONTRIB, "kahttpd-backend.conf")) as f:
            text = f.read()
        srv = Server(files={"who.txt": name})
        log = os.path.join(self.tmp, name + ".log")
        text = (text.replace('ServerRoot "../.."', f'ServerRoot "{ROOT}"')
                    .replace('DocumentRoot "www"', f'DocumentRoot "{srv.root}"')
                    .replace("127.0.0.1:8081", f"127.0.0.1:{port}")
                    .replace("CustomLog /dev/stdout", f'CustomLog "{log}"'))
        with open(srv.conf, "w") as f:
            f.write(text)
        self.addCleanup(srv.cleanup)
        return srv

    def setUp(self):
        if not os.path.exists(HAPROXY):
            self.skipTest("haproxy is not installed (scripts/install-deps.sh installs it)")
        self.tmp = Server().tmp
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.front, self.ports = free_port(), {"k1": free_port(), "k2": free_port()}
        self.servers = {}
        for name, port in self.ports.items():
            self.servers[name] = self.backend(name, port).start()
            self.addCleanup(lambda n=name: self.servers[n].stop(check=False))
        with open(os.path.join(CONTRIB, "haproxy.cfg")) as f:
            cfg = (f.read().replace("127.0.0.1:8080", f"127.0.0.1:{self.front}")
                   .replace("127.0.0.1:8081", f"127.0.0.1:{self.ports['k1']}")
                   .replace("127.0.0.1:8082", f"127.0.0.1:{self.ports['k2']}"))
        cfg_path = os.path.join(self.tmp, "haproxy.cfg")
        with open(cfg_path, "w") as f:
            f.write(cfg)
        check = subprocess.run([HAPROXY, "-c", "-f", cfg_path], capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.haproxy_log = open(os.path.join(self.tmp, "haproxy.out"), "wb")
        self.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", cfg_path],
                                        stdout=self.haproxy_log, stderr=subprocess.STDOUT)
        self.addCleanup(self.stop_haproxy)
        # Ready when its frontend accepts: wait by connecting, as for kahttpd.
        def accepts():
            if self.haproxy.poll() is not None:
                raise AssertionError("haproxy exited: " + self.haproxy_output())
            try:
                socket.create_connection(("127.0.0.1", self.front), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(accepts, 10, "haproxy's frontend")

    def stop_haproxy(self):
        if self.haproxy.poll() is None:
            self.haproxy.send_signal(signal.SIGTERM)
            try:
                self.haproxy.wait(10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait()
        self.haproxy_log.close()

    def haproxy_output(self):
        with open(os.path.join(self.tmp, "haproxy.out"), "rb") as f:
            return f.read().decode(errors="replace")

    def test_rolling_restart_behind_haproxy_loses_no_request(self):
        load = Load(self.front).start()
        try:
            wait_until(lambda: load.seen("k1") and load.seen("k2"), 15,
                       "both backends to answer through haproxy")
            for name in ("k1", "k2"):
                srv = self.servers[name]
                self.assertEqual(srv.stop(), 0)  # SIGTERM: drain and exit
                after_stop = load.seen(name)
                # The other backend carries the load meanwhile.
                other = "k2" if name == "k1" else "k1"
                before = load.seen(other)
                wait_until(lambda: load.seen(other) > before + 20, 15, other + " alone")
                self.servers[name] = srv.start()  # again, on the same port
                wait_until(lambda: load.seen(name) > after_stop, 15,
                           name + " back in rotation")
        finally:
            load.finish()
        self.assertEqual(load.failed, [], "failed requests through haproxy")
        self.assertGreater(load.ok, 100)
        # GracefulShutdownDelay made each stop visible to the balancer: its health check saw
        # the 503 and took the backend out before the listener closed.
        out = self.haproxy_output()
        for name in ("k1", "k2"):
            self.assertRegex(out, r"kahttpd/%s is DOWN.*503" % name)
        print("\nrolling restart through haproxy: %d requests, %d failed, per backend %r"
              % (load.ok, len(load.failed), load.by_backend))

    def test_client_address_reaches_the_backend_log(self):
        load = Load(self.front, threads=1).start()
        try:
            wait_until(lambda: load.seen("k1") and load.seen("k2"), 15, "both backends up")
        finally:
            load.finish()
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", self.front))
        s.sendall(b"GET /who.txt?from-127.0.0.2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
        logs = ""
        for name, srv in self.servers.items():
            srv.stop()
            with open(os.path.join(self.tmp, name + ".log")) as f:
                logs += f.read()
        line = [l for l in logs.splitlines() if "from-127.0.0.2" in l]
        self.assertEqual(len(line), 1, logs)
        self.assertTrue(line[0].startswith("127.0.0.2 "), line[0])
        # The health checks came over PROXY v2 too, as LOCAL or from haproxy's address.
        self.assertTrue(re.search(r'"GET /healthz HTTP/1.1" 200', logs), logs[-2000:])


if __name__ == "__main__":
    unittest.main()
