"""TLS (issue 15) with real clients: Chromium headless loads a page and its script, wrk runs
over https with and without keep-alive, a binary upgrade hands an https listener over, and a
ClientHello trickled by hand meets RequestReadTimeout handshake=...,MinRate=.... Certificates
come from tls_certs.py; everything runs on 127.0.0.1 with the port the server printed.

Waits are events (a process's exit, a log line polled with a TLS round trip, a client thread's
progress, the server's EOF read with a timeout and timed). The only sleeps pace the trickled
ClientHello and the close watch on the log that one upgrade test needs (200 ms to react).
"""

import base64
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from kahttpd_fixture import TIME_SCALE, Client, Server
from test_upgrade import alive, become_subreaper, read_pid, stop_new_process
from tls_certs import Certs

STATUS = """
<Location "/server-status">
    SetHandler server-status
</Location>
"""


def tls_connect(port, cafile, name="a.test", timeout=5.0, suppress_ragged_eofs=True):
    ctx = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname=name, suppress_ragged_eofs=suppress_ragged_eofs)


def spki_pin(cert):
    """The base64 SHA-256 of the certificate's public key (Chromium's
    --ignore-certificate-errors-spki-list form)."""
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"],
                         capture_output=True, check=True, timeout=10).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True, timeout=10).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class TlsClientsBase(unittest.TestCase):
    """One test CA and a certificate for a.test; servers with an https listener whose main
    server has that certificate."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="kahttpd-tls-clients-")
        cls.certs = Certs(cls.tmp.name)
        cls.cert, cls.key = cls.certs.leaf("a", ["a.test"])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def server(self, directives="", files=None, workers=1, cert=None, key=None):
        srv = Server(f"""
            SSLCertificateFile "{cert or self.cert}"
            SSLCertificateKeyFile "{key or self.key}"
            """ + STATUS + directives, files=files, workers=workers,
                     listen="127.0.0.1:0 https")
        self.addCleanup(srv.cleanup)
        return srv

    def start(self, srv):
        srv.start()
        self.addCleanup(lambda: srv.proc is not None and srv.stop())
        return srv

    def status(self, srv):
        """The status page's JSON, fetched over TLS (its own handshake counts in it)."""
        s = tls_connect(srv.port, self.certs.ca)
        c = Client(s)
        r = c.request("/server-status?json", headers={"Host": "a.test"})
        c.close()
        self.assertEqual(r.status, 200)
        return json.loads(r.body)


@unittest.skipUnless(shutil.which("chromium"), "chromium not installed (scripts/install-deps.sh)")
class ChromiumTest(TlsClientsBase):
    def test_chromium_loads_a_page_and_its_script_over_one_tls_connection(self):
        # Unique words, one in the page and one that only the page's script adds to the DOM:
        # seeing both means the page and its sub-resource both came over TLS.
        token = os.urandom(8).hex()
        page = f"<!doctype html><title>t</title><p>page-{token}</p><script src=app.js></script>"
        script = ("var p = document.createElement('p'); "
                  f"p.textContent = 'script-' + '{token}'; document.body.appendChild(p);")
        srv = self.server(files={"page.html": page, "app.js": script}, workers=2)
        log = os.path.join(srv.tmp, "access.log")
        with open(srv.conf, "a") as f:
            f.write(f'CustomLog "{log}" "%{{SSL_PROTOCOL}}x %k %r %>s"\n')
        self.start(srv)
        profile = os.path.join(srv.tmp, "chromium")
        os.makedirs(profile)
        # The certificate is trusted by its key's hash only (not "any certificate"): the page
        # loads only when the server presented the one the test made. Chromium sends SNI a.test
        # and resolves it to 127.0.0.1 by itself.
        args = ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                f"--user-data-dir={profile}",
                f"--ignore-certificate-errors-spki-list={spki_pin(self.cert)}",
                "--host-resolver-rules=MAP a.test 127.0.0.1",
                "--dump-dom", f"https://a.test:{srv.port}/page.html"]
        env = dict(os.environ, HOME=profile)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                start_new_session=True)

        def kill_group():
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its own group: chromium and its helpers
            except ProcessLookupError:
                pass
            proc.wait()

        self.addCleanup(kill_group)
        start = time.monotonic()
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.fail("chromium did not finish within 60 s")
        took = time.monotonic() - start
        dom = out.decode(errors="replace")
        print(f"chromium: {took:.1f} s")
        self.assertEqual(proc.returncode, 0, err.decode(errors="replace")[-3000:])
        self.assertIn(f"<p>page-{token}</p>", dom, err.decode(errors="replace")[-3000:])
        self.assertIn(f"<p>script-{token}</p>", dom)
        report = self.status(srv)
        srv.stop()
        with open(log) as f:
            lines = f.read().splitlines()
        # Every request Chromium made came over TLS 1.3 (the favicon may be among them, a 404).
        self.assertIn("TLSv1.3 0 GET /page.html HTTP/1.1 200", lines)
        self.assertTrue(all(line.startswith("TLSv1.3 ") for line in lines), lines)
        script_lines = [line for line in lines if " GET /app.js " in line]
        self.assertEqual(len(script_lines), 1, lines)
        # Keep-alive: the script came on the page's connection (%k, the requests it carried
        # before). (Chromium may open a spare connection too: the handshakes are not counted.)
        self.assertRegex(script_lines[0], r"^TLSv1\.3 [1-9]\d* GET /app\.js HTTP/1\.1 200$")
        self.assertEqual(report["tls"]["failures"], 0, report["tls"])


@unittest.skipUnless(shutil.which("wrk"), "wrk not installed")
class WrkTest(TlsClientsBase):
    CONNECTIONS = 10

    def wrk(self, srv, *extra):
        """One 2 s wrk run over https: (requests wrk counted, the server's handshakes and
        requests during it). wrk's own errors fail the test here."""
        before = self.status(srv)
        r = subprocess.run(["wrk", "-t1", f"-c{self.CONNECTIONS}", "-d2s", "--timeout", "10s",
                            *extra, f"https://127.0.0.1:{srv.port}/1k.bin"],
                           capture_output=True, text=True, timeout=60)
        after = self.status(srv)
        out = r.stdout
        self.assertEqual(r.returncode, 0, r.stderr + out)
        # wrk prints these lines only when a count is not zero: any socket error (connect,
        # read, write, timeout) or any status of 400 and above.
        self.assertNotIn("Socket errors", out, out)
        self.assertNotIn("Non-2xx", out, out)
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        # The status request made after the run is counted in `after` (its own handshake).
        handshakes = after["tls"]["handshakes"] - before["tls"]["handshakes"] - 1
        served = after["requests"] - before["requests"] - 1
        self.assertEqual(after["tls"]["failures"], 0, after["tls"])
        print("wrk %s: %d requests, %d handshakes" % (" ".join(extra) or "keep-alive",
                                                      requests, handshakes))
        return requests, handshakes, served

    def test_wrk_over_https_reuses_handshakes_with_keep_alive_and_pays_one_per_close(self):
        srv = self.start(self.server("MaxKeepAliveRequests 0\n", workers=2,
                                     files={"1k.bin": os.urandom(1024)}))
        requests, handshakes, served = self.wrk(srv)
        self.assertGreater(requests, 0)
        # wrk stops with requests in flight: the server answered them, wrk did not count them.
        self.assertGreaterEqual(served, requests)
        self.assertLessEqual(served, requests + self.CONNECTIONS)
        # One handshake per connection, and no reconnections: far fewer than the requests.
        self.assertGreaterEqual(handshakes, 1)
        self.assertLessEqual(handshakes, self.CONNECTIONS + 2)
        self.assertGreater(requests, 5 * handshakes)

        requests, handshakes, served = self.wrk(srv, "-H", "Connection: close")
        self.assertGreater(requests, 0)
        # Each request its own connection and handshake; wrk's last connections may have
        # finished their handshake without a counted response.
        self.assertGreaterEqual(handshakes, requests)
        self.assertLessEqual(handshakes, requests + self.CONNECTIONS + 2)
        self.assertLessEqual(served, handshakes)


class UpgradeTest(TlsClientsBase):
    """The binary upgrade (SIGUSR2, test_upgrade.py) with an https listener. The old process
    keeps the certificate it loaded; the file is replaced before the upgrade, so the
    certificate a connection gets (its serial number) tells which process made its handshake.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        become_subreaper()
        cls.cert2, cls.key2 = cls.certs.leaf("a2", ["a.test"])

    def setUp(self):
        self.body = os.urandom(1024)
        self.live_cert = os.path.join(self.tmp.name, "live.pem")
        self.live_key = os.path.join(self.tmp.name, "live.key")
        self.install(self.cert, self.key)
        self.srv = None
        self.new_pid = None

    def prepare(self, workers, directives=""):
        self.srv = self.server(directives, workers=workers, cert=self.live_cert,
                               key=self.live_key, files={"1k.bin": self.body})
        self.pid_file = os.path.join(self.srv.tmp, "kahttpd.pid")
        with open(self.srv.conf, "a") as f:
            f.write('PidFile "%s"\nKeepAliveTimeout 30\n' % self.pid_file)
        return self.start(self.srv)

    def tearDown(self):
        if self.srv is None:
            return
        old_pid = self.srv.proc.pid if self.srv.proc is not None else None
        self.srv.stop(check=False)
        if self.new_pid is None and os.path.exists(self.pid_file):
            pid = read_pid(self.pid_file)
            self.new_pid = pid if pid != old_pid else None
        if self.new_pid is not None and alive(self.new_pid):
            os.kill(self.new_pid, signal.SIGKILL)
            try:
                os.waitpid(self.new_pid, 0)
            except ChildProcessError:
                pass

    def install(self, cert, key):
        for src, dst in ((cert, self.live_cert), (key, self.live_key)):
            with open(src) as f, open(dst + ".new", "w") as out:
                out.write(f.read())
            os.rename(dst + ".new", dst)

    def serial(self, name):
        out = subprocess.run(["openssl", "x509", "-in", name, "-noout", "-serial"],
                             capture_output=True, text=True, check=True, timeout=10).stdout
        return out.strip().split("=", 1)[1].upper()

    def fetch(self):
        """One request on a new TLS connection: the serial of the certificate it got."""
        s = tls_connect(self.srv.port, self.certs.ca, timeout=10)
        c = Client(s)
        r = c.request("/1k.bin", headers={"Host": "a.test", "Connection": "close"})
        serial = s.getpeercert()["serialNumber"].upper()
        c.close()
        if (r.status, r.body) != (200, self.body):
            raise AssertionError("got %d with %d bytes" % (r.status, len(r.body)))
        return serial

    def wait_for_log(self, text, count=1, within=20):
        deadline = time.monotonic() + within * TIME_SCALE
        while time.monotonic() < deadline:
            if self.srv.stderr().count(text) >= count:
                return
            self.fetch()  # a round trip gives the server's loops time
        raise AssertionError("no %r in the log: %s" % (text, self.srv.stderr()[-3000:]))

    def test_an_https_listener_is_handed_over_with_its_connections_served(self):
        old_serial, new_serial = self.serial(self.cert), self.serial(self.cert2)
        self.prepare(workers=2)
        old_pid = self.srv.proc.pid

        # New TLS connections, one request each, through the whole switch: the serial each
        # one got, in order, and the failures.
        done = threading.Event()
        progress = threading.Condition()
        seen, failed = [], []

        def load():
            while not done.is_set():
                try:
                    serial = self.fetch()
                    with progress:
                        seen.append(serial)
                        progress.notify_all()
                except (OSError, EOFError, AssertionError) as e:
                    failed.append(repr(e))

        def wait_for_load(count):
            with progress:
                self.assertTrue(progress.wait_for(lambda: len(seen) >= count or failed,
                                                  20 * TIME_SCALE), "the load made no progress")

        # Before the upgrade: a keep-alive TLS connection in the middle of a request (its head
        # is finished after the handover) and an idle one.
        busy_sock = tls_connect(self.srv.port, self.certs.ca, suppress_ragged_eofs=False)
        busy = Client(busy_sock)
        self.assertEqual(busy.request("/1k.bin", headers={"Host": "a.test"}).body, self.body)
        idle_sock = tls_connect(self.srv.port, self.certs.ca, suppress_ragged_eofs=False)
        idle = Client(idle_sock)
        self.assertEqual(idle.request("/1k.bin", headers={"Host": "a.test"}).body, self.body)
        for s in (busy_sock, idle_sock):
            self.assertEqual(s.getpeercert()["serialNumber"].upper(), old_serial)
        busy.send("GET /1k.bin HTTP/1.1\r\nHost: a.test\r\n")

        thread = threading.Thread(target=load)
        thread.start()
        try:
            wait_for_load(5)  # the old process serves them
            self.install(self.cert2, self.key2)  # read by the new process only
            self.srv.proc.send_signal(signal.SIGUSR2)
            self.wait_for_log("serves now")
            self.wait_for_log(": stopping, ", count=2)  # both old workers drain
            # The old process answers the request it had begun, over the old TLS session, and
            # says it closes; then the TLS session ends with a close_notify (a clean EOF:
            # these sockets raise on a bare TCP close).
            busy.send("\r\n")
            r = busy.read_response()
            self.assertEqual((r.status, r.body), (200, self.body))
            self.assertEqual(r.header("Connection"), "close")
            _, extra = busy.wait_closed(10 * TIME_SCALE)
            self.assertEqual(extra, b"")
            # The idle one is closed by the drain, cleanly too.
            _, extra = idle.wait_closed(10 * TIME_SCALE)
            self.assertEqual(extra, b"")
            rc = self.srv.proc.wait(timeout=30 * TIME_SCALE)
            self.assertEqual(rc, 0, self.srv.stderr()[-3000:])
            gone = len(seen)  # (one more may have been answered by the old process)
            wait_for_load(gone + 20)  # the new process alone serves them
        finally:
            done.set()
            thread.join(timeout=30)
        self.new_pid = read_pid(self.pid_file)
        print("https upgrade: %d requests on new connections, %d failed"
              % (len(seen), len(failed)))
        self.assertEqual(failed, [])
        self.assertNotEqual(self.new_pid, old_pid)
        self.assertFalse(alive(old_pid))
        # Served first by the old process, then by either while both accept on the shared
        # sockets (until the old one's workers close theirs as they begin to drain), then
        # only by the new one.
        self.assertEqual(seen[0], old_serial)
        self.assertEqual(set(seen[gone + 1:]), {new_serial})
        self.assertIn("upgrade: serving in place of pid %d" % old_pid, self.srv.stderr())
        self.assertEqual(self.fetch(), new_serial)
        self.assertEqual(stop_new_process(self.srv, self.new_pid), 0)
        self.new_pid = None

    def test_a_handshake_finished_during_the_drain_does_not_hold_the_old_process(self):
        # Two clients are in their handshake when the old process begins its drain; each sends
        # its Finished just after. One then sends a request (it is answered, with "Connection:
        # close"); the other sends nothing, as a browser's preconnect does, and is closed after
        # the drain's short floor like any idle connection, not kept for the header window
        # (10 s here) or until GracefulShutdownTimeout (30 s here).
        self.prepare(workers=1, directives="RequestReadTimeout header=10\n"
                                           "GracefulShutdownTimeout 30\n")
        preconnect = HandTls(self.srv.port, self.certs.ca)
        eager = HandTls(self.srv.port, self.certs.ca)
        self.addCleanup(preconnect.close)
        self.addCleanup(eager.close)
        preconnect_finished = preconnect.until_finished()
        eager_finished = eager.until_finished()
        eager.tls.write(b"GET /1k.bin HTTP/1.1\r\nHost: a.test\r\n\r\n")
        eager_finished += eager.outgoing.read()
        old = self.srv.proc
        old.send_signal(signal.SIGUSR2)
        # The drain gives an idle connection 200 ms, from the line it logs: the Finished must
        # come within them, so the log file is watched closely (no round trips).
        deadline = time.monotonic() + 30 * TIME_SCALE
        while ": stopping, " not in self.srv.stderr():
            self.assertLess(time.monotonic(), deadline, self.srv.stderr()[-3000:])
            time.sleep(0.002)
        preconnect.sock.sendall(preconnect_finished)
        eager.sock.sendall(eager_finished)
        sent = time.monotonic()

        got, clean, reads = preconnect.read_until_closed(15 * TIME_SCALE)
        closed_after = time.monotonic() - sent
        eager_got, eager_clean, _ = eager.read_until_closed(10 * TIME_SCALE)
        # The server finished the handshake in its drain (its session tickets came: bytes
        # after the Finished), then closed the connection as idle, with a close_notify.
        self.assertGreater(reads, 0, "the drain's 200 ms floor ran out before the Finished "
                                     "came (a stalled test process?)")
        self.assertEqual(got, b"")
        self.assertTrue(clean, "no close_notify")
        self.assertLess(closed_after, 0.2 + 1.0 * TIME_SCALE)
        head, body = eager_got.split(b"\r\n\r\n", 1)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
        self.assertIn(b"\r\nConnection: close", head)
        self.assertEqual(body, self.body)
        self.assertTrue(eager_clean, "no close_notify")
        self.assertEqual(old.wait(timeout=5 * TIME_SCALE), 0)
        self.new_pid = read_pid(self.pid_file)
        self.assertNotIn("shutdown deadline passed", self.srv.stderr())
        self.assertEqual(self.fetch(), self.serial(self.cert))
        self.assertEqual(stop_new_process(self.srv, self.new_pid), 0)
        self.new_pid = None


class HandTls:
    """A TLS client driven by hand: Python's ssl makes the bytes (an SSLObject over memory
    BIOs) and the test chooses when each piece goes out: the ClientHello in slices, or the
    client's Finished held back. `alpn` long made-up protocol names (after http/1.1) make the
    hello about 200 bytes longer each."""

    def __init__(self, port, cafile, alpn=0):
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.set_alpn_protocols(["http/1.1"] + ["x" * 200 + "%03d" % i for i in range(alpn)])
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="a.test")
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        self.hello = self.outgoing.read()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.start = time.monotonic()
        self.sent = 0

    def elapsed(self):
        return time.monotonic() - self.start

    def closed_within(self, seconds):
        """Waits up to `seconds` for the server's EOF (or reset): True when it came."""
        r, _, _ = select.select([self.sock], [], [], max(0.0, seconds))
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        if data:
            raise AssertionError("the server answered a partial ClientHello: %r" % data[:20])
        return True

    def trickle(self, upto, rate, piece=50):
        """Writes the hello up to byte `upto` in `piece`-byte writes at `rate` bytes per second
        (on a schedule from the connection's start, so a late write does not slow the rest).
        Returns the time of the server's close when it came first, else None."""
        while self.sent < upto:
            if self.closed_within(self.start + self.sent / rate - time.monotonic()):
                return self.elapsed()
            try:
                self.sock.sendall(self.hello[self.sent:min(self.sent + piece, upto)])
            except (BrokenPipeError, ConnectionResetError):
                return self.elapsed()
            self.sent = min(self.sent + piece, upto)
        return None

    def handshake(self):
        """Sends what the handshake has to send and reads the server's answers until the
        client side is done. The client's last flight (its Finished) stays in self.outgoing,
        not sent."""
        self.sock.settimeout(10 * TIME_SCALE)
        while True:
            try:
                self.tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                self.sock.sendall(self.outgoing.read())
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("closed during the handshake at %.2f s" % self.elapsed())
                self.incoming.write(data)

    def until_finished(self):
        """The whole ClientHello at once and the server's flight read: the client's Finished,
        for the test to send."""
        self.sent = len(self.hello)
        self.sock.sendall(self.hello)
        self.handshake()
        return self.outgoing.read()

    def read_until_closed(self, timeout):
        """Reads records until the server closes: (plaintext, whether a close_notify came
        before the EOF, how many reads brought bytes). Raises socket.timeout after `timeout`
        seconds."""
        self.sock.settimeout(timeout)
        got, reads = b"", 0
        while True:
            try:
                data = self.tls.read(65536)
                if not data:
                    return got, True, reads  # (an SSLObject's read says close_notify so)
                got += data
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return got, True, reads
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return got, False, reads
            reads += 1
            self.incoming.write(data)

    def finish(self):
        """Completes the handshake and makes one request: (status line, elapsed seconds when
        the handshake completed)."""
        self.handshake()
        done_at = self.elapsed()
        self.tls.write(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        self.sock.sendall(self.outgoing.read())
        got, _, _ = self.read_until_closed(10 * TIME_SCALE)
        return got.split(b"\r\n", 1)[0], done_at

    def close(self):
        self.sock.close()


class HandshakeMinRateTest(TlsClientsBase):
    # A window of 1 s from accept, one more second per 500 bytes of handshake received, never
    # beyond 3 s. Trickles go at 1000 bytes/s, twice the rate.
    BASE, MAX, MIN_RATE, RATE = 1.0, 3.0, 500, 1000

    def allowed(self, received):
        return min(self.BASE + received / self.MIN_RATE, self.MAX)

    def test_a_steady_clienthello_earns_time_up_to_the_maximum_and_a_stalled_one_does_not(self):
        srv = self.start(self.server(
            f"RequestReadTimeout handshake={self.BASE:g}-{self.MAX:g},MinRate={self.MIN_RATE}\n",
            files={"index.html": "hello\n"}))
        slack = 0.5 * TIME_SCALE  # how late a close may come (a busy machine, the sanitizers)

        def steady():
            # About 1.7 kB at 1000 bytes/s: still sending at 1 s, done near 1.7 s.
            t = HandTls(srv.port, self.certs.ca, alpn=7)
            try:
                self.assertGreater(len(t.hello), 1.5 * self.RATE)
                closed = t.trickle(len(t.hello), self.RATE)
                self.assertIsNone(closed, "closed at %.2f s" % (closed or 0))
                return t.finish()
            finally:
                t.close()

        def capped():
            # About 6.4 kB at 1000 bytes/s would take 6.4 s; the window stops growing at 3 s.
            t = HandTls(srv.port, self.certs.ca, alpn=30)
            try:
                closed = t.trickle(len(t.hello), self.RATE)
                return closed, t.sent, len(t.hello)
            finally:
                t.close()

        def stalled():
            # The record header and the start of the hello, then nothing.
            t = HandTls(srv.port, self.certs.ca)
            try:
                t.trickle(50, self.RATE)
                if t.closed_within(self.MAX + slack + 1.0):
                    return t.elapsed(), t.sent
                return None, t.sent
            finally:
                t.close()

        with ThreadPoolExecutor(3) as pool:
            runs = [pool.submit(f) for f in (steady, capped, stalled)]
            (status, done_at), (capped_at, capped_sent, hello_size), (stalled_at, stalled_sent) = \
                [f.result(timeout=60) for f in runs]
        print("handshake MinRate: steady done at %.2f s, capped closed at %.2f s, stalled "
              "closed at %.2f s" % (done_at, capped_at or -1, stalled_at or -1))

        # The steady client outlived the base second and was served.
        self.assertEqual(status, b"HTTP/1.1 200 OK")
        self.assertGreater(done_at, self.BASE + 0.3)
        # The capped one was closed at the maximum, mid-hello.
        self.assertIsNotNone(capped_at, "never closed")
        self.assertLess(capped_sent, hello_size)
        self.assertGreaterEqual(capped_at, self.MAX - 0.05)
        self.assertLess(capped_at, self.MAX + slack)
        # The stalled one got the base second and its 50 bytes' worth (0.1 s), no more.
        self.assertIsNotNone(stalled_at, "never closed")
        self.assertGreaterEqual(stalled_at, self.allowed(stalled_sent) - 0.05)
        self.assertLess(stalled_at, self.allowed(stalled_sent) + slack)
        report = self.status(srv)
        self.assertEqual(report["tls"]["handshake_timeouts"], 2, report["tls"])
        self.assertEqual(srv.stderr().count("TLS handshake timed out"), 2)


if __name__ == "__main__":
    unittest.main()
