"""Static files, error statuses for bad requests, and path safety."""

import os
import unittest

from kahttpd_fixture import Server, request_once

SECRET = b"TOP-SECRET-OUTSIDE-ROOT\n"


def status_of(raw_response):
    return int(raw_response.split(b" ", 2)[1])


class StaticFilesTest(unittest.TestCase):
    def test_types_index_and_redirect(self):
        files = {
            "index.html": "<p>home</p>",
            "docs/index.html": "<p>docs</p>",
            "a.css": "x{}", "b.js": "1;", "c.svg": "<svg/>", "d.unknownext": "?",
            "e.JSON": "{}", "noext": "plain",
        }
        with Server(files=files) as srv:
            c = srv.connect()
            self.assertEqual(c.request("/").body, b"<p>home</p>")
            self.assertEqual(c.request("/docs/").body, b"<p>docs</p>")
            r = c.request("/docs?x=1")
            self.assertEqual(r.status, 301)
            self.assertEqual(r.header("Location"), "/docs/?x=1")
            self.assertEqual(c.request("/a.css").header("Content-Type"), "text/css")
            self.assertEqual(c.request("/b.js").header("Content-Type"), "text/javascript")
            self.assertEqual(c.request("/c.svg").header("Content-Type"), "image/svg+xml")
            self.assertEqual(c.request("/e.JSON").header("Content-Type"), "application/json")
            self.assertEqual(c.request("/d.unknownext").header("Content-Type"),
                             "application/octet-stream")
            self.assertEqual(c.request("/noext").header("Content-Type"),
                             "application/octet-stream")

    def test_directory_index_order_and_missing_index(self):
        with Server("DirectoryIndex index.htm home.html\n",
                    files={"home.html": "home", "sub/other.txt": "o", "index.htm": "htm"}) as srv:
            c = srv.connect()
            self.assertEqual(c.request("/").body, b"htm")
            r = c.request("/sub/")
            self.assertEqual(r.status, 403)  # no index file, no listings

    def test_missing_file_is_404_and_keeps_connection(self):
        with Server(files={"a.txt": "a"}) as srv:
            c = srv.connect()
            r = c.request("/nope.txt")
            self.assertEqual(r.status, 404)
            self.assertIn(b"Not Found", r.body)
            self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
            self.assertIsNone(r.header("Connection"))
            self.assertEqual(c.request("/a.txt").body, b"a")

    def test_other_methods_get_405_with_allow(self):
        with Server(files={"a.txt": "a"}) as srv:
            c = srv.connect()
            for method in ("POST", "PUT", "DELETE", "TRACE", "PATCH"):
                c.send(f"{method} /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                r = c.read_response()
                self.assertEqual(r.status, 405, method)
                self.assertEqual(r.header("Allow"), "GET, HEAD, OPTIONS")
            self.assertEqual(c.request("/a.txt").body, b"a")

    def test_post_with_body_is_drained_and_connection_reused(self):
        with Server(files={"a.txt": "a"}) as srv:
            c = srv.connect()
            c.send("POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
            self.assertEqual(c.read_response().status, 405)
            self.assertEqual(c.request("/a.txt").body, b"a")

    def test_unreadable_and_special_files_are_refused(self):
        with Server("<Location /private>\n  Require ip 192.0.2.1\n</Location>\n",
                    files={"a.txt": "a", "private/p.txt": "p"}) as srv:
            os.mkfifo(os.path.join(srv.root, "fifo"))
            c = srv.connect()
            self.assertEqual(c.request("/fifo").status, 403)
            if os.geteuid() != 0:  # root reads anything, so mode 000 only bites others
                path = srv.write("locked.txt", "x")
                os.chmod(path, 0)
                self.assertEqual(c.request("/locked.txt").status, 403)
            self.assertEqual(c.request("/private/p.txt").status, 403)
            # Each refusal is logged at info with its reason (the operator's question).
            log = srv.stderr()
            self.assertIn("access to /fifo denied: the file is unreadable, not a regular file",
                          log)
            self.assertIn("access to /private/p.txt denied: client denied by server "
                          "configuration (Require)", log)


class BadRequestTest(unittest.TestCase):
    """Each malformed or oversized request gets its status, Connection: close, and a close."""

    CASES = [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         400),
        (b"\x01\x02\x03 / HTTP/1.1\r\n\r\n", 400),
        (b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(101)) + b"\r\n",
         431),
        # Well framed, but a path the handler finds bad: a 400 closes all the same (Apache,
        # nginx).
        (b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /index.html%00.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ]

    def test_each_bad_request_gets_its_status_and_a_close(self):
        with Server(files={"index.html": "i"}) as srv:
            for raw, expected in self.CASES:
                with self.subTest(raw=raw[:40], expected=expected):
                    data = request_once(srv.port, raw)
                    self.assertTrue(data.startswith(b"HTTP/1.1 "), data[:80])
                    self.assertEqual(status_of(data), expected, data[:200])
                    self.assertIn(b"\r\nConnection: close\r\n", data)
                    # Exactly one response: nothing after the declared body.
                    head, body = data.split(b"\r\n\r\n", 1)
                    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    self.assertEqual(len(body), length)
            # The server is still fine.
            self.assertEqual(srv.connect().request("/").status, 200)

    def test_limits_follow_the_directives(self):
        with Server("LimitRequestLine 100\nLimitRequestFieldSize 50\nLimitRequestFields 3\n",
                    files={"index.html": "i"}) as srv:
            self.assertEqual(status_of(request_once(
                srv.port, b"GET /" + b"a" * 120 + b" HTTP/1.1\r\n\r\n")), 414)
            self.assertEqual(status_of(request_once(
                srv.port, b"GET / HTTP/1.1\r\nX: " + b"b" * 60 + b"\r\n\r\n")), 431)
            self.assertEqual(status_of(request_once(
                srv.port, b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n")), 431)
            self.assertEqual(status_of(request_once(
                srv.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 200)

    def test_bad_request_after_good_ones_answers_the_good_ones_first(self):
        with Server(files={"a.txt": "a"}) as srv:
            data = request_once(srv.port, b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                                          b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                                          b"GET /a.txt HTTP/1.1\r\nNo colon here\r\n\r\n")
            self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 2)
            self.assertEqual(data.count(b"HTTP/1.1 400 Bad Request"), 1)
            self.assertLess(data.index(b"200 OK"), data.index(b"400 Bad Request"))


class TraversalTest(unittest.TestCase):
    """No target ever returns a byte from outside the document root."""

    ATTACKS = [
        "/../secret.txt", "/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
        "/a/../../secret.txt", "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt",
        "/..%5csecret.txt", "/..\\secret.txt", "/%252e%252e/secret.txt",
        "/secret.txt%00.html", "/a/%2e%2e/%2e%2e/secret.txt", "/./../secret.txt",
        "/link-out", "/dirlink/secret.txt", "/.hidden", "/.git/config", "/a/.env",
        "/%c0%ae%c0%ae/secret.txt", "/%e0%80%ae%e0%80%ae/secret.txt",
        "http://x/../secret.txt",
    ]

    def test_no_attack_leaks_the_secret(self):
        # The files' contents are words no target names (a 404 page names its URL).
        with Server(files={"index.html": "home", ".hidden": "h1dd3n-content",
                           ".git/config": "g1t-content", "a/.env": "env", "a/ok.txt": "ok"}) as srv:
            outside = os.path.join(srv.tmp, "secret.txt")
            with open(outside, "wb") as f:
                f.write(SECRET)
            os.symlink(outside, os.path.join(srv.root, "link-out"))
            os.symlink(srv.tmp, os.path.join(srv.root, "dirlink"))
            for target in self.ATTACKS:
                with self.subTest(target=target):
                    raw = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    data = request_once(srv.port, raw.encode())
                    self.assertNotIn(b"SECRET", data)
                    self.assertNotIn(b"h1dd3n-content", data)
                    self.assertNotIn(b"g1t-content", data)
                    self.assertIn(status_of(data), (400, 403, 404), data[:100])
            # Symlinks that stay inside the root still work.
            os.symlink("a/ok.txt", os.path.join(srv.root, "link-in"))
            self.assertEqual(srv.connect().request("/link-in").body, b"ok")


class EncodedSlashesTest(unittest.TestCase):
    """AllowEncodedSlashes Off (the default: 404), On (decoded into a separator) and NoDecode
    (kept as "%2F" in a name), per virtual host; in no mode does %2F or %2e%2e reach a byte
    outside the document root."""

    FILES = {"sub/a.txt": "inside", "a%2Fb.txt": "literal-name", "x.txt": "x"}
    ATTACKS = [
        "/..%2Fsecret.txt", "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt",
        "/%2E%2E%2F%2E%2E%2Fsecret.txt", "/sub/..%2F..%2Fsecret.txt",
        "/sub%2F..%2F..%2Fsecret.txt", "/sub%2F%2e%2e/%2e%2e/secret.txt",
        "/%2F..%2F..%2Fsecret.txt", "/sub/%2F..%2F..%2Fsecret.txt", "/..%2F..%5Csecret.txt",
        "/%252e%252e%252Fsecret.txt", "http://x/..%2Fsecret.txt",
    ]

    def serve(self, mode_line, vhosts=""):
        srv = Server(mode_line + vhosts, files=self.FILES)
        with open(os.path.join(srv.tmp, "secret.txt"), "wb") as f:
            f.write(SECRET)
        srv.start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        return srv

    def get(self, srv, target, host="x"):
        raw = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        return request_once(srv.port, raw.encode())

    def test_each_mode(self):
        # (directive, GET /sub%2Fa.txt, GET /a%2Fb.txt): 200 with the body, or the status.
        for mode, sub, literal in (("", 404, 404),
                                   ("AllowEncodedSlashes Off\n", 404, 404),
                                   ("AllowEncodedSlashes On\n", b"inside", 404),
                                   ("AllowEncodedSlashes NoDecode\n", 404, b"literal-name")):
            srv = self.serve(mode)
            for target, want in (("/sub%2Fa.txt", sub), ("/sub%2fa.txt", sub),
                                 ("/a%2Fb.txt", literal),
                                 ("/a%252Fb.txt", b"literal-name"),  # that name, in any mode
                                 ("/x.txt?next=%2F", b"x")):  # a query may hold anything
                with self.subTest(mode=mode.strip(), target=target):
                    data = self.get(srv, target)
                    if isinstance(want, bytes):
                        self.assertEqual(status_of(data), 200, data[:200])
                        self.assertTrue(data.endswith(b"\r\n\r\n" + want), data[-100:])
                    else:
                        self.assertEqual(status_of(data), want, data[:200])
            for target in self.ATTACKS:
                with self.subTest(mode=mode.strip(), target=target):
                    data = self.get(srv, target)
                    self.assertNotIn(b"SECRET", data)
                    self.assertIn(status_of(data), (400, 403, 404), data[:200])

    def test_per_virtual_host_with_the_main_servers_as_default(self):
        srv = self.serve("AllowEncodedSlashes NoDecode\n", vhosts="""\
            <VirtualHost *>
                ServerName on.test
                AllowEncodedSlashes On
            </VirtualHost>
            <VirtualHost *>
                ServerName inherits.test
            </VirtualHost>
            <VirtualHost *>
                ServerName off.test
                AllowEncodedSlashes Off
            </VirtualHost>
            """)
        for host, sub, literal in (("on.test", 200, 404), ("inherits.test", 404, 200),
                                   ("off.test", 404, 404)):
            with self.subTest(host=host):
                self.assertEqual(status_of(self.get(srv, "/sub%2Fa.txt", host)), sub)
                self.assertEqual(status_of(self.get(srv, "/a%2Fb.txt", host)), literal)
                # The open-file cache is per host: a hit on one does not answer another.
                self.assertEqual(status_of(self.get(srv, "/sub%2Fa.txt", host)), sub)


if __name__ == "__main__":
    unittest.main()
