"""The command line: -t, -v, -h, configuration errors, start-up failures, clean stop."""

import json
import os
import shutil
import signal
import socket
import tempfile
import unittest

from kahttpd_fixture import Server, run

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kahttpd-cli-")
        os.makedirs(os.path.join(self.tmp, "conf"))
        os.makedirs(os.path.join(self.tmp, "www"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def conf(self, text, name="httpd.conf"):
        path = os.path.join(self.tmp, "conf", name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_dash_V_prints_the_build(self):
        r = run("-V")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^kahttpd \d+\.\d+\.\d+$")
        self.assertEqual(lines[0], run("-v").stdout.strip())
        for label in ("compiler: ", "libuv: 1.", "llhttp: 8.", "zlib: 1.", "brotli: 1.",
                      "features: "):
            self.assertTrue(any(l.startswith(label) for l in lines), (label, lines))

    def test_shipped_config_is_valid(self):
        r = run("-t", "-f", os.path.join(REPO, "conf", "httpd.conf"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "Syntax OK")
        self.assertEqual(r.stderr, "")

    def test_every_error_is_reported_with_file_and_line(self):
        path = self.conf("Listen 127.0.0.1:0\n"
                         "KeepAliveTimeout abc\n"
                         "# a comment\n"
                         "MaxKeepAliveRequests -1\n"
                         "KeepAlive Maybe\n"
                         "KeepAliveTimout 5\n")
        r = run("-t", "-f", path)
        self.assertEqual(r.returncode, 1)
        self.assertNotIn("Syntax OK", r.stdout)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 4, r.stderr)
        self.assertTrue(lines[0].startswith(f"{path}:2: KeepAliveTimeout: "), lines[0])
        self.assertIn('"abc"', lines[0])
        self.assertTrue(lines[1].startswith(f"{path}:4: MaxKeepAliveRequests: "), lines[1])
        self.assertTrue(lines[2].startswith(f"{path}:5: KeepAlive: "), lines[2])
        self.assertTrue(lines[3].startswith(f"{path}:6: KeepAliveTimout: "), lines[3])
        self.assertIn("KeepAliveTimeout", lines[3])

    def test_a_bad_config_stops_the_start(self):
        path = self.conf("Listen 127.0.0.1:0\nTimeout forever\n")
        r = run("-f", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{path}:2: Timeout: ", r.stderr)
        self.assertNotIn("listening", r.stdout)

    def test_missing_config_file(self):
        r = run("-t", "-f", os.path.join(self.tmp, "nope.conf"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope.conf", r.stderr)

    def test_busy_port_is_a_clear_error(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            path = self.conf(f"Listen 127.0.0.1:{port}\n")
            r = run("-f", path)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"cannot listen on 127.0.0.1:{port}", r.stderr)
            self.assertIn(f"{path}:1: Listen:", r.stderr)
        finally:
            s.close()

    def test_dash_T_writes_bytes_that_are_not_utf8_as_replacement_characters(self):
        # It used to end in std::terminate (SIGABRT): nlohmann::json refuses to print invalid
        # UTF-8. A configuration is bytes; -T must still print JSON, and -t and -S are fine.
        path = os.path.join(self.tmp, "conf", "httpd.conf")
        with open(path, "wb") as f:
            f.write(b"Listen 127.0.0.1:0\n"
                    b'Header set X-Name "caf\xe9"\n'
                    b'<Directory "/srv/\xff\xfe">\n'
                    b"</Directory>\n")
        r = run("-T", "-f", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        dump = json.loads(r.stdout)
        text = json.dumps(dump, ensure_ascii=False)
        self.assertIn("caf\ufffd", text)
        self.assertIn("/srv/\ufffd\ufffd", text)
        for mode in ("-t", "-S"):
            r = run(mode, "-f", path, encoding="utf-8", errors="replace")
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_version_help_and_unknown_option(self):
        r = run("-v")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("kahttpd "))
        r = run("-h")
        self.assertEqual(r.returncode, 0)
        self.assertIn("-f FILE", r.stdout)
        r = run("--bogus")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option", r.stderr)

    def test_sigint_and_sigterm_stop_cleanly_with_open_connections(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(sig=sig):
                # (AcceptFilter none: "fresh" sends nothing and must be the server's to close.)
                srv = Server("AcceptFilter http none\n", files={"a.txt": "a"}, workers=2)
                try:
                    srv.start()
                    idle = srv.connect()
                    self.assertEqual(idle.request("/a.txt").status, 200)
                    fresh = srv.connect()
                    rc = srv.stop(check=False, sig=sig)
                    self.assertEqual(rc, 0, srv.stderr())
                    _, extra = idle.wait_closed(timeout=5)
                    self.assertEqual(extra, b"")
                    fresh.wait_closed(timeout=5)
                    self.assertNotIn("uv_loop_close", srv.stderr())
                finally:
                    srv.cleanup()

    def test_request_in_progress_at_shutdown_is_answered_with_close(self):
        srv = Server(files={"a.txt": "a"})
        try:
            srv.start()
            c = srv.connect()
            # One full round trip first: the connection is accepted before the signal (one
            # still in the listen queue would be reset when the listener closes).
            self.assertEqual(c.request("/a.txt").status, 200)
            c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n")  # head not finished yet
            srv.proc.send_signal(signal.SIGTERM)
            # The worker drains: this connection is mid-request, so it is not cut.
            self.assertTrue(c.is_open(0.2))
            c.send("\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Connection"), "close")
            c.wait_closed()
            self.assertEqual(srv.proc.wait(timeout=10), 0)
        finally:
            srv.stop(check=False)
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
