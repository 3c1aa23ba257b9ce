"""TLS (issue 15): Listen ... https with mod_ssl's directives. Certificates come from a test CA
made with the openssl command (tls_certs.py); clients are Python's ssl module, curl and
openssl s_client, all on 127.0.0.1 with the port the server printed."""

import hashlib
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from kahttpd_fixture import Client, Server, run, TIME_SCALE
from tls_certs import Certs

STATUS = """
<Location "/server-status">
    SetHandler server-status
</Location>
"""


def client_context(cafile, version=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    return ctx


def tls_connect(port, cafile, name=None, session=None, version=None, timeout=5.0, ctx=None):
    ctx = ctx or client_context(cafile, version)
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s = ctx.wrap_socket(raw, server_hostname=name, session=session)
    return s


class TlsBase(unittest.TestCase):
    """A server with two TLS vhosts (a.test first, b.test) on one https address."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="kahttpd-tls-")
        cls.certs = Certs(cls.tmp.name)
        cls.a_cert, cls.a_key = cls.certs.leaf("a", ["a.test", "www.a.test"], chain=True)
        cls.b_cert, cls.b_key = cls.certs.leaf("b", ["b.test"])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def start(self, extra="", main="", workers=1, files=None, listen="127.0.0.1:0 https",
              before=None, a=None):
        a_cert, a_key = a or (self.a_cert, self.a_key)
        srv = Server(main + f"""
            <VirtualHost *>
                ServerName a.test
                SSLEngine on
                SSLCertificateFile "{a_cert}"
                SSLCertificateKeyFile "{a_key}"
            </VirtualHost>
            <VirtualHost *>
                ServerName b.test
                DocumentRoot "@B@"
                SSLCertificateFile "{self.b_cert}"
                SSLCertificateKeyFile "{self.b_key}"
            </VirtualHost>
            """ + extra, files=dict({"index.html": "site a\n"}, **(files or {})), workers=workers,
                     listen=listen)
        b_root = os.path.join(srv.tmp, "b")
        os.makedirs(b_root)
        with open(os.path.join(b_root, "index.html"), "w") as f:
            f.write("site b\n")
        with open(srv.conf) as f:
            text = f.read().replace("@B@", b_root)
        with open(srv.conf, "w") as f:
            f.write(text)
        if before:
            before(srv)
        srv.start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(lambda: srv.proc is not None and srv.stop())
        return srv

    def get(self, srv, name, path="/", host=None):
        s = tls_connect(srv.port, self.certs.ca, name)
        c = Client(s)
        r = c.request(path, headers={"Host": host or name or "a.test"})
        return r, s, c


class ServingTest(TlsBase):
    def test_sni_chooses_the_certificate_and_host_the_content(self):
        srv = self.start()
        for name, body in (("a.test", b"site a\n"), ("b.test", b"site b\n"),
                           ("www.a.test", b"site a\n")):
            r, s, c = self.get(srv, name)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, body)
            cert = s.getpeercert()
            names = [v for k, v in cert["subjectAltName"]]
            self.assertIn(name, names)  # (the ssl module checked the name too)
            self.assertEqual(s.selected_alpn_protocol(), None)
            c.close()

    def test_no_sni_and_an_unknown_name_get_the_first_vhost(self):
        srv = self.start()
        for name in (None, "unknown.test"):
            ctx = ssl.create_default_context(cafile=self.certs.ca)
            ctx.check_hostname = False
            raw = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s = ctx.wrap_socket(raw, server_hostname=name)
            names = [v for k, v in s.getpeercert()["subjectAltName"]]
            self.assertIn("a.test", names)
            s.close()

    def test_host_chooses_the_content_when_sni_and_host_disagree(self):
        # Documented: SNI picks the certificate, Host picks the vhost (nginx's behaviour).
        srv = self.start()
        r, s, c = self.get(srv, "a.test", host="b.test")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"site b\n")
        c.close()

    def test_alpn_offers_http11_only(self):
        srv = self.start()
        ctx = ssl.create_default_context(cafile=self.certs.ca)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s = ctx.wrap_socket(raw, server_hostname="a.test")
        self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
        s.close()
        out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}",
                              "-servername", "b.test", "-alpn", "h2,http/1.1", "-CAfile",
                              self.certs.ca], input=b"", capture_output=True, timeout=10)
        self.assertIn(b"ALPN protocol: http/1.1", out.stdout)
        self.assertIn(b"Verify return code: 0 (ok)", out.stdout)

    def test_keep_alive_and_pipelining_over_tls(self):
        srv = self.start(files={"x.txt": "x" * 1000})
        s = tls_connect(srv.port, self.certs.ca, "a.test")
        c = Client(s)
        for _ in range(3):
            r = c.request("/x.txt", headers={"Host": "a.test"})
            self.assertEqual((r.status, len(r.body)), (200, 1000))
            self.assertIsNone(r.header("Connection"))
        c.send(b"GET /x.txt HTTP/1.1\r\nHost: a.test\r\n\r\n" * 5)
        for _ in range(5):
            self.assertEqual(c.read_response().status, 200)
        c.close()

    def test_curl_with_the_chain_and_a_large_file(self):
        # 5 MiB: streamed in bounded chunks, read and encrypted (no sendfile over TLS).
        data = os.urandom(5 << 20)
        srv = self.start(files={"big.bin": data})
        out = subprocess.run(["curl", "-sS", "--cacert", self.certs.ca, "--resolve",
                              f"a.test:{srv.port}:127.0.0.1", "--limit-rate", "20M",
                              f"https://a.test:{srv.port}/big.bin", "-o", "-",
                              f"https://a.test:{srv.port}/big.bin", "-o", "-",
                              "-w", "%{num_connects} %{http_version}\\n"],
                             capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(hashlib.sha256(out.stdout[:len(data)]).digest(),
                         hashlib.sha256(data).digest())
        # The second transfer reused the connection.
        self.assertEqual(out.stdout[len(data):len(data) + 6], b"1 1.1\n")
        self.assertEqual(out.stdout[len(data) + 6:], data + b"0 1.1\n")
        # A range of it, and HEAD.
        r, s, c = self.get(srv, "a.test")
        r = c.request("/big.bin", headers={"Host": "a.test", "Range": "bytes=1000000-1999999"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, data[1000000:2000000])
        c.close()

    def test_slow_reader_of_a_large_file_gets_it_whole(self):
        data = os.urandom(3 << 20)
        srv = self.start(files={"big.bin": data})
        s = tls_connect(srv.port, self.certs.ca, "a.test")
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a.test\r\n\r\n")
        time.sleep(0.3)  # (lets the server fill the socket: the backpressure path)
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(65536)
        head, body = got.split(b"\r\n\r\n", 1)
        while len(body) < len(data):
            chunk = s.recv(65536)
            self.assertTrue(chunk)
            body += chunk
        self.assertEqual(body, data)
        s.close()

    def test_protocols_and_ciphers(self):
        srv = self.start(main="SSLProtocol -all +TLSv1.3\n")
        s = tls_connect(srv.port, self.certs.ca, "a.test")
        self.assertEqual(s.version(), "TLSv1.3")
        s.close()
        with self.assertRaises(ssl.SSLError):
            tls_connect(srv.port, self.certs.ca, "a.test", version=ssl.TLSVersion.TLSv1_2)
        srv2 = self.start(main="SSLProtocol TLSv1.2\nSSLCipherSuite ECDHE-ECDSA-AES128-GCM-SHA256\n")
        s = tls_connect(srv2.port, self.certs.ca, "b.test")
        self.assertEqual(s.version(), "TLSv1.2")
        self.assertEqual(s.cipher()[0], "ECDHE-ECDSA-AES128-GCM-SHA256")
        s.close()


class AccessLogTest(TlsBase):
    def test_ssl_protocol_and_cipher_in_the_access_logs(self):
        logs = {}

        def add_logs(srv):
            logs["text"] = os.path.join(srv.tmp, "access.log")
            logs["json"] = os.path.join(srv.tmp, "access.json")
            with open(srv.conf, "a") as f:
                f.write(f'CustomLog "{logs["text"]}" "%{{SSL_PROTOCOL}}x %{{SSL_CIPHER}}x %>s"\n')
                f.write(f'CustomLog "{logs["json"]}" json\n')

        srv = self.start(before=add_logs)
        s = tls_connect(srv.port, self.certs.ca, "a.test", version=ssl.TLSVersion.TLSv1_2)
        c = Client(s)
        self.assertEqual(c.request("/", headers={"Host": "a.test"}).status, 200)
        cipher = s.cipher()[0]
        c.close()
        srv.stop()
        with open(logs["text"]) as f:
            self.assertEqual(f.read(), f"TLSv1.2 {cipher} 200\n")
        with open(logs["json"]) as f:
            line = json.loads(f.read())
        self.assertEqual((line["tls_protocol"], line["tls_cipher"]), ("TLSv1.2", cipher))


class PlainHttpTest(TlsBase):
    def test_plain_http_to_a_tls_port_gets_a_400_and_a_close(self):
        srv = self.start(STATUS)
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        c = Client(s)
        r = c.read_response()
        self.assertEqual(r.status, 400)
        self.assertEqual(r.header("Connection"), "close")
        self.assertIn(b"plain HTTP to an SSL-enabled server port", r.body)
        waited, extra = c.wait_closed(5.0)
        self.assertEqual(extra, b"")
        self.assertLess(waited, 3.0 * TIME_SCALE)
        # Counted on the status page.
        r, s2, c2 = self.get(srv, "a.test", "/server-status?json")
        report = json.loads(r.body)
        self.assertEqual(report["tls"]["plain_http"], 1)
        self.assertGreaterEqual(report["tls"]["handshakes"], 1)
        c2.close()

    def test_a_plain_and_an_https_port_0_are_two_ports(self):
        # Two "Listen ...:0" lines are two ports (each the kernel's choice); they used to share
        # one SO_REUSEPORT group, and the kernel then handed TLS clients to the plain listener
        # and plain ones to the TLS listener at random.
        srv = self.start(main="Listen 127.0.0.1:0\n", workers=2)
        # The second "listening on" line follows the first at once (one flush; it may already
        # be in the pipe's reader buffer): a server that made one listener of the two prints
        # none.
        os.set_blocking(srv.proc.stdout.fileno(), False)
        line = b""
        deadline = time.monotonic() + 5.0 * TIME_SCALE
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            line += srv.proc.stdout.readline() or b""
            if not line.endswith(b"\n"):
                select.select([srv.proc.stdout], [], [], 0.2)
        line = line.decode()
        self.assertIn("listening on 127.0.0.1:", line, "one listening line for two Listens")
        other = int(line.split("listening on ")[1].split(" ")[0].rsplit(":", 1)[1])
        self.assertNotEqual(other, srv.port)
        ports = {"tls": [], "plain": []}
        for port in (srv.port, other):
            try:
                s = tls_connect(port, self.certs.ca, "a.test", timeout=2)
                s.close()
                ports["tls"].append(port)
            except (ssl.SSLError, OSError):
                ports["plain"].append(port)
        self.assertEqual((len(ports["tls"]), len(ports["plain"])), (1, 1), ports)
        for _ in range(12):  # SO_REUSEPORT spreads connections; each one must land right
            r, s, c = self.get(srv_port(srv, ports["tls"][0]), "a.test")
            self.assertEqual(r.status, 200)
            c.close()
            p = socket.create_connection(("127.0.0.1", ports["plain"][0]), timeout=5)
            pc = Client(p)
            self.assertEqual(pc.request("/", headers={"Host": "a.test"}).status, 200)
            pc.close()


def srv_port(srv, port):
    """`srv` seen through another of its ports (for TlsBase.get)."""
    class View:
        pass
    v = View()
    v.port = port
    return v


class HandshakeTimeoutTest(TlsBase):
    def test_a_stalled_handshake_is_closed_by_its_deadline(self):
        # (AcceptFilter none: the silent connection must reach the server.)
        srv = self.start(main="RequestReadTimeout handshake=300ms header=10\n"
                              "AcceptFilter https none\n" + STATUS)
        # Nothing at all, and a TLS record header without the rest.
        silent = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        partial = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        partial.sendall(b"\x16\x03\x01\x02\x00")
        start = time.monotonic()
        # The status page shows both in their handshake.
        r, s, c = self.get(srv, "a.test", "/server-status?json")
        rows = json.loads(r.body)["connection_table"]
        waiting = [row for row in rows if row["tls"] == "handshake"]
        self.assertEqual(len(waiting), 2, rows)
        self.assertTrue(all(row["deadline"] == "handshake" for row in waiting))
        mine = [row for row in rows if row["tls"] and row["tls"].startswith("TLSv1.3 ")]
        self.assertEqual(len(mine), 1, rows)
        c.close()
        for sock in (silent, partial):
            sock.settimeout(5)
            self.assertEqual(sock.recv(100), b"")
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 2.0 * TIME_SCALE)
        self.assertIn("TLS handshake timed out", srv.stderr())

    def test_a_stalled_handshake_makes_room_at_the_budget(self):
        srv = self.start(main="MaxConnections 2\nKeepAliveTimeout 10\nKeepAliveMinTimeout 50ms\n"
                              "RequestReadTimeout handshake=20 header=20\n"
                              "AcceptFilter https none\n")  # (they send nothing)
        stalled = [socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                   for _ in range(2)]
        time.sleep(0.1)  # past the 50 ms floor
        r, s, c = self.get(srv, "b.test")
        self.assertEqual(r.status, 200)
        closed = 0
        for sock in stalled:
            sock.settimeout(2 * TIME_SCALE)
            try:
                closed += sock.recv(10) == b""
            except socket.timeout:
                pass
        self.assertEqual(closed, 1)
        c.close()


class ResumptionTest(TlsBase):
    def resume_with_python(self, srv, name, version):
        ctx = client_context(self.certs.ca, version)
        s = tls_connect(srv.port, self.certs.ca, name, ctx=ctx)
        c = Client(s)
        self.assertEqual(c.request("/", headers={"Host": name}).status, 200)  # (tickets read)
        session = s.session
        c.close()
        s2 = tls_connect(srv.port, self.certs.ca, name, session=session, ctx=ctx)
        reused = s2.session_reused
        s2.close()
        return reused

    def test_tickets_and_the_session_cache_resume(self):
        # Tickets are sealed with keys every worker derives alike, so they resume whichever
        # worker the kernel hands the next connection to (8 tries with 2 workers); the
        # session-id cache is per worker (documented), so it is tried with one.
        for tickets, workers, tries in (("on", 2, 8), ("off", 1, 2)):
            with self.subTest(tickets=tickets):
                srv = self.start(main=f"SSLSessionTickets {tickets}\n" + STATUS, workers=workers)
                for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
                    for _ in range(tries):
                        self.assertTrue(self.resume_with_python(srv, "a.test", version))
                r, s, c = self.get(srv, "a.test", "/server-status?json")
                tls = json.loads(r.body)["tls"]
                self.assertGreaterEqual(tls["resumed"], 1)
                c.close()

    def test_a_resumed_connection_gets_a_ticket_for_the_next_one(self):
        # OpenSSL's client and the browsers use a TLS 1.3 ticket once: a resumed connection
        # must bring a new ticket, or the client's next connection pays a full handshake (wrk
        # with Connection: close resumed only every second connection before the fix).
        # s_client -sess_out writes the session only when a ticket arrives.
        srv = self.start()
        request = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
        session_in = None
        for i in range(3):
            out = os.path.join(self.tmp.name, f"chain{i}.sess")
            cmd = ["openssl", "s_client", "-ign_eof", "-connect", f"127.0.0.1:{srv.port}",
                   "-servername", "a.test", "-CAfile", self.certs.ca, "-tls1_3",
                   "-sess_out", out] + (["-sess_in", session_in] if session_in else [])
            r = subprocess.run(cmd, input=request, capture_output=True, timeout=10)
            self.assertIn(b"Reused, TLSv1.3" if i else b"New, TLSv1.3", r.stdout, f"conn {i}")
            self.assertIn(b"site a", r.stdout)
            self.assertTrue(os.path.exists(out), f"connection {i} brought no ticket")
            session_in = out

    def test_a_session_of_one_host_does_not_resume_on_another(self):
        srv = self.start()
        ctx = client_context(self.certs.ca)
        s = tls_connect(srv.port, self.certs.ca, "a.test", ctx=ctx)
        Client(s).request("/", headers={"Host": "a.test"})
        session = s.session
        s.close()
        s2 = tls_connect(srv.port, self.certs.ca, "b.test", session=session, ctx=ctx)
        self.assertFalse(s2.session_reused)
        s2.close()

    def test_openssl_s_client_sess_out_and_sess_in(self):
        srv = self.start()
        sess = os.path.join(self.tmp.name, "s_client.sess")
        base = ["openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}", "-servername",
                "b.test", "-CAfile", self.certs.ca, "-tls1_2"]
        first = subprocess.run(base + ["-sess_out", sess], input=b"", capture_output=True,
                               timeout=10)
        self.assertIn(b"New, TLSv1.2", first.stdout)
        second = subprocess.run(base + ["-sess_in", sess], input=b"", capture_output=True,
                                timeout=10)
        self.assertIn(b"Reused, TLSv1.2", second.stdout)


class ReloadTest(TlsBase):
    def test_sighup_reads_the_certificate_again(self):
        cert = os.path.join(self.tmp.name, "reload.pem")
        key = os.path.join(self.tmp.name, "reload.key")
        first, first_key = self.certs.leaf("r1", ["a.test"])
        second, second_key = self.certs.leaf("r2", ["a.test"])

        def install(c, k):
            with open(c) as f, open(cert, "w") as out:
                out.write(f.read())
            with open(k) as f, open(key, "w") as out:
                out.write(f.read())

        install(first, first_key)
        srv = self.start(a=(cert, key))
        s1 = tls_connect(srv.port, self.certs.ca, "a.test")
        c1 = Client(s1)
        self.assertEqual(c1.request("/", headers={"Host": "a.test"}).status, 200)
        serial1 = s1.getpeercert()["serialNumber"]
        install(second, second_key)
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10 * TIME_SCALE
        while "generation 2" not in srv.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("generation 2", srv.stderr())
        s2 = tls_connect(srv.port, self.certs.ca, "a.test")
        self.assertNotEqual(s2.getpeercert()["serialNumber"], serial1)
        s2.close()
        # The open connection goes on with the old context (its request is answered).
        r = c1.request("/", headers={"Host": "a.test"})
        self.assertEqual(r.status, 200)
        c1.close()


class CheckTest(TlsBase):
    def check(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", dir=self.tmp.name,
                                         delete=False) as f:
            f.write("Listen 127.0.0.1:8443 https\n" + text)
        r = run("-t", "-f", f.name)
        return f.name, r

    def test_t_reports_certificate_problems_with_file_and_line(self):
        mismatched_key = self.certs.key("other")
        expired, expired_key = self.certs.leaf("old", ["old.test"], start="20200101000000Z",
                                               end="20200201000000Z")
        future, future_key = self.certs.leaf("future", ["f.test"], start="20990101000000Z",
                                             end="20991231000000Z")
        name, r = self.check(f'SSLCertificateFile "{self.a_cert}"\n'
                             f'SSLCertificateKeyFile "{self.a_key}"\n')
        self.assertEqual((r.returncode, r.stdout), (0, "Syntax OK\n"), r.stderr)
        name, r = self.check('SSLCertificateFile "/nonexistent.pem"\n')
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{name}:2: SSLCertificateFile: expected a readable PEM certificate, "
                      "found \"/nonexistent.pem\"", r.stderr)
        name, r = self.check(f'SSLCertificateFile "{self.a_key}"\n')
        self.assertIn(f"{name}:2: SSLCertificateFile: expected a readable PEM certificate",
                      r.stderr)
        name, r = self.check(f'SSLCertificateFile "{self.a_cert}"\n'
                             f'SSLCertificateKeyFile "{mismatched_key}"\n')
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{name}:3: SSLCertificateKeyFile: expected the private key of", r.stderr)
        self.assertIn("a key that does not match the certificate", r.stderr)
        name, r = self.check(f'SSLCertificateFile "{expired}"\n'
                             f'SSLCertificateKeyFile "{expired_key}"\n')
        self.assertEqual(r.returncode, 0)
        self.assertIn(f"{name}:2: SSLCertificateFile: expected a certificate that is valid now, "
                      f"found \"{expired}\", which expired on Feb  1 00:00:00 2020 GMT (warning)",
                      r.stderr)
        name, r = self.check(f'SSLCertificateFile "{future}"\n'
                             f'SSLCertificateKeyFile "{future_key}"\n')
        self.assertEqual(r.returncode, 0)
        self.assertIn("which is not valid before Jan  1 00:00:00 2099 GMT (warning)", r.stderr)
        name, r = self.check("")
        self.assertIn(f"{name}:1: Listen: expected an SSLCertificateFile for the main server",
                      r.stderr)

    def test_dump_and_vhost_map_show_the_tls_settings(self):
        name, r = self.check(f'SSLCertificateFile "{self.a_cert}"\n'
                             f'SSLCertificateKeyFile "{self.a_key}"\nSSLProtocol TLSv1.3\n'
                             "SSLSessionTickets off\n")
        dump = json.loads(run("-T", "-f", name).stdout)
        self.assertEqual(dump["server"]["Listen"][0]["value"], "127.0.0.1:8443 https")
        main = dump["vhosts"][0]["ssl"]
        self.assertEqual(main["SSLCertificateFile"], {"value": self.a_cert, "from": f"{name}:2"})
        self.assertEqual(main["SSLProtocol"]["value"], "TLSv1.3")
        self.assertEqual(main["SSLSessionTickets"], {"value": False, "from": f"{name}:5"})
        self.assertEqual(main["SSLSessionCacheTimeout"]["value"], "300s")
        vmap = run("-S", "-f", name).stdout
        self.assertIn(f"Listen: 127.0.0.1:8443 https ({name}:1)", vmap)
        self.assertIn(f'certificate "{self.a_cert}" protocols TLSv1.3 tickets off', vmap)


if __name__ == "__main__":
    unittest.main()
