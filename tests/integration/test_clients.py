"""Real clients: curl reuses one connection, Python's http.client, and a short wrk run."""

import http.client
import os
import re
import shutil
import subprocess
import unittest

from kahttpd_fixture import Server

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class RealClientsTest(unittest.TestCase):
    def test_curl_fetches_two_urls_over_one_connection(self):
        with Server(files={"index.html": "<h1>home</h1>", "about.html": "<h1>about</h1>"}) as srv:
            base = f"http://127.0.0.1:{srv.port}"
            r = subprocess.run(["curl", "-sv", f"{base}/", f"{base}/about.html"],
                               capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "<h1>home</h1><h1>about</h1>")
            self.assertIn("Re-using existing connection", r.stderr)
            self.assertEqual(len(re.findall(r"Connected to 127\.0\.0\.1", r.stderr)), 1)

    def test_python_http_client_keeps_the_connection(self):
        with Server(files={"a.txt": "A", "b.txt": "B"}) as srv:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
            conn.request("GET", "/a.txt")
            r1 = conn.getresponse()
            self.assertEqual(r1.read(), b"A")
            sock = conn.sock
            conn.request("GET", "/b.txt")
            r2 = conn.getresponse()
            self.assertEqual(r2.read(), b"B")
            self.assertIs(conn.sock, sock)  # same socket: the connection persisted
            conn.request("HEAD", "/a.txt")
            r3 = conn.getresponse()
            self.assertEqual(r3.getheader("Content-Length"), "1")
            self.assertEqual(r3.read(), b"")
            conn.close()

    @unittest.skipUnless(shutil.which("wrk"), "wrk not installed")
    def test_wrk_smoke_run_has_no_errors(self):
        # Serve the shipped site, as `make run` does.
        with Server("MaxKeepAliveRequests 0\n", workers=2,
                    site=os.path.join(REPO, "www")) as srv:
            for extra in ([], ["-H", "Connection: close"]):
                r = subprocess.run(["wrk", "-t2", "-c50", "-d2s", *extra,
                                    f"http://127.0.0.1:{srv.port}/"],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                out = r.stdout
                print(("close" if extra else "keep-alive"), "wrk:",
                      re.search(r"Requests/sec:\s+(\S+)", out).group(1), "req/s")
                self.assertNotIn("Socket errors", out, out)
                self.assertNotIn("Non-2xx", out, out)
                requests = int(re.search(r"(\d+) requests in", out).group(1))
                self.assertGreater(requests, 1000, out)


if __name__ == "__main__":
    unittest.main()
