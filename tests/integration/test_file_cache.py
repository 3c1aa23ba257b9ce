"""The open-file cache (FileCacheSize, FileCacheEntries, FileCacheValid) and sendfile
(EnableSendfile): changes on disk are seen after FileCacheValid, a cached entry never serves
anything outside the root, a cached response is byte for byte what the uncached path sends,
sendfile and read/write bodies are identical, and a client that stops reading holds up nobody.

No test sleeps for the server: a change is awaited by asking again until it shows, within a
bounded time, so a server that never revalidates fails.
"""

import os
import re
import select
import socket
import textwrap
import time
import unittest
from unittest import mock

import kahttpd_fixture
from kahttpd_fixture import Server

SECRET = b"TOP-SECRET-OUTSIDE-ROOT"
MTIME = 1700000000
SMALL = os.urandom(3000)
BIG = os.urandom(3 * 1024 * 1024 + 123)
HUGE_SIZE = 8 * 1024 * 1024  # more than the socket buffers hold (tcp_wmem max is 4 MiB)


def without_date(raw_head):
    return re.sub(rb"\r\nDate: [^\r]*", b"", raw_head)


class CacheTest(unittest.TestCase):
    def serve(self, directives="", files=None):
        """Every file gets the modification time MTIME, so two servers send the same
        validators; tests ask many times on one connection (MaxKeepAliveRequests 0)."""
        return kahttpd_fixture.serve_for(
            self, "MaxKeepAliveRequests 0\n" + textwrap.dedent(directives), files, MTIME)

    def connect(self, srv):
        c = srv.connect()
        self.addCleanup(c.close)
        return c

    def until(self, c, path, done, what, timeout=5.0):
        """Asks for `path` on `c` until done(response); returns that response. Bounded."""
        deadline = time.monotonic() + timeout
        while True:
            r = c.request(path)
            if done(r):
                return r
            if time.monotonic() > deadline:
                self.fail("%s: not seen within %ss (last: %r)" % (what, timeout, r))


# --------------------------------------------------------------------------------------------
class Revalidation(CacheTest):
    def test_a_modified_file_is_seen_after_file_cache_valid(self):
        srv = self.serve("FileCacheValid 200ms\n", files={"a.txt": "one\n"})
        c = self.connect(srv)
        first = c.request("/a.txt")
        self.assertEqual(first.body, b"one\n")
        self.assertEqual(c.request("/a.txt").body, b"one\n")  # from the cache
        srv.write("a.txt", "two, and longer\n")
        r = self.until(c, "/a.txt", lambda r: r.body != b"one\n", "the new content")
        self.assertEqual(r.body, b"two, and longer\n")
        self.assertEqual(r.header("Content-Length"), "16")
        self.assertNotEqual(r.header("ETag"), first.header("ETag"))

    def test_file_cache_valid_0_sees_every_change_at_once(self):
        srv = self.serve("FileCacheValid 0\n", files={"a.txt": "one\n"})
        c = self.connect(srv)
        for i in range(5):
            body = ("version %d " % i) * (i + 1)
            srv.write("a.txt", body)
            self.assertEqual(c.request("/a.txt").body, body.encode())

    def test_a_deleted_file_is_404_after_revalidation(self):
        srv = self.serve("FileCacheValid 0\n", files={"gone.txt": "here\n", "stays.txt": "x"})
        c = self.connect(srv)
        self.assertEqual(c.request("/gone.txt").status, 200)
        os.remove(os.path.join(srv.root, "gone.txt"))
        self.assertEqual(c.request("/gone.txt").status, 404)
        self.assertEqual(c.request("/stays.txt").status, 200)

    def test_a_deleted_file_is_404_within_file_cache_valid(self):
        srv = self.serve("FileCacheValid 100ms\n", files={"gone.txt": "here\n"})
        c = self.connect(srv)
        self.assertEqual(c.request("/gone.txt").status, 200)
        os.remove(os.path.join(srv.root, "gone.txt"))
        self.until(c, "/gone.txt", lambda r: r.status == 404, "the 404")

    def test_a_file_replaced_by_a_symlink_out_of_the_root_is_never_served(self):
        for valid in ("0", "100ms", "1"):
            with self.subTest(FileCacheValid=valid):
                srv = self.serve("FileCacheValid %s\n" % valid, files={"page.html": "<p>in</p>"})
                secret = os.path.join(srv.tmp, "secret.txt")
                with open(secret, "wb") as f:
                    f.write(SECRET)
                c = self.connect(srv)
                self.assertEqual(c.request("/page.html").status, 200)
                path = os.path.join(srv.root, "page.html")
                os.remove(path)
                os.symlink(secret, path)
                seen = []

                def refused(r):
                    seen.append(r)
                    self.assertNotIn(SECRET, r.body)
                    return r.status == 403

                self.until(c, "/page.html", refused, "the 403", timeout=5.0)
                self.assertTrue(all(r.status in (200, 403) for r in seen))

    def test_a_directory_index_is_revalidated(self):
        srv = self.serve("FileCacheValid 0\nOptions +Indexes\n",
                         files={"d/index.html": "<p>index</p>", "d/other.txt": "x"})
        c = self.connect(srv)
        self.assertEqual(c.request("/d/").body, b"<p>index</p>")
        self.assertEqual(c.request("/d/").body, b"<p>index</p>")
        os.remove(os.path.join(srv.root, "d", "index.html"))
        r = c.request("/d/")
        self.assertEqual(r.status, 200)
        self.assertIn(b"other.txt", r.body)  # the listing now

    def test_an_earlier_directory_index_name_appearing_is_seen(self):
        srv = self.serve("FileCacheValid 0\nDirectoryIndex index.html index.txt\n",
                         files={"d/index.txt": "second"})
        c = self.connect(srv)
        self.assertEqual(c.request("/d/").body, b"second")
        self.assertEqual(c.request("/d/").body, b"second")
        srv.write("d/index.html", "first")
        self.assertEqual(c.request("/d/").body, b"first")


# --------------------------------------------------------------------------------------------
class SameBytes(CacheTest):
    """A cached response is what the uncached path (FileCacheSize 0) sends, Date aside."""

    FILES = {"s.css": "body { color: red }\n" * 20, "s.css.gz": b"\x1f\x8b fake gzip",
             "page.html": "<p>page</p>\n", "data.bin": SMALL, "big.bin": BIG,
             "sub/index.html": "<p>sub</p>"}
    REQUESTS = [
        ("/page.html", "GET", {}),
        ("/page.html", "HEAD", {}),
        ("/data.bin", "GET", {}),
        ("/data.bin", "GET", {"Range": "bytes=10-99"}),
        ("/data.bin", "GET", {"Range": "bytes=-5000"}),
        ("/big.bin", "GET", {}),
        ("/big.bin", "HEAD", {}),
        ("/big.bin", "GET", {"Range": "bytes=1000000-2000000"}),
        ("/s.css", "GET", {}),
        ("/s.css", "GET", {"Accept-Encoding": "gzip"}),
        ("/s.css", "GET", {"Accept-Encoding": "br, gzip", "Range": "bytes=0-3"}),
        ("/sub/", "GET", {}),
        ("/sub/?q=1", "GET", {}),
        ("/page.html?x", "GET", {}),
        ("/page.html", "GET", {"Connection": "close"}),
    ]

    def responses(self, directives):
        srv = self.serve(directives, files=self.FILES)
        c = self.connect(srv)
        out = []
        for path, method, headers in self.REQUESTS * 2:  # the second round hits the cache
            if c is None:
                c = self.connect(srv)
            r = c.request(path, method=method, headers=headers)
            out.append((path, method, headers, without_date(r.raw_head), r.body))
            if headers.get("Connection") == "close":
                c = None
        # Conditionals with the validators just received.
        etag = re.search(rb"ETag: ([^\r]*)", out[0][3]).group(1).decode()
        c = self.connect(srv)
        for headers in ({"If-None-Match": etag}, {"If-Match": '"nope"'},
                        {"If-Modified-Since": "Sun, 06 Nov 2033 08:49:37 GMT"}):
            for _ in range(2):
                r = c.request("/page.html", headers=headers)
                out.append(("/page.html", "GET", headers, without_date(r.raw_head), r.body))
                if r.header("Connection") == "close":
                    c = self.connect(srv)
        return out

    def check_same(self, extra):
        cached = self.responses(extra)
        uncached = self.responses(extra + "FileCacheSize 0\n")
        self.assertEqual(len(cached), len(uncached))
        for a, b in zip(cached, uncached):
            self.assertEqual(a, b, a[:3])

    def test_cached_and_uncached_responses_are_identical(self):
        self.check_same("")

    def test_identical_with_other_keep_alive_settings(self):
        self.check_same("MaxKeepAliveRequests 0\nKeepAliveTimeout 7\n")

    def test_identical_with_header_rules_and_sections(self):
        self.check_same("""\
            Header set X-Site kahttpd
            <Directory "@ROOT@/sub">
                Header set X-Sub yes
                FileETag None
                AddDefaultCharset utf-8
            </Directory>
            """)

    def test_http_1_0_keep_alive_is_echoed_on_a_hit(self):
        srv = self.serve(files={"a.txt": "a"})
        c = self.connect(srv)
        for _ in range(3):
            r = c.request("/a.txt", headers={"Connection": "keep-alive"}, version="HTTP/1.0")
            self.assertEqual(r.header("Connection"), "keep-alive")
            self.assertEqual(r.body, b"a")


# --------------------------------------------------------------------------------------------
class PerRequestChecks(CacheTest):
    def test_sections_give_each_path_its_settings_on_hits_too(self):
        srv = self.serve("""\
            <Directory "@ROOT@/plain">
                FileETag None
            </Directory>
            """, files={"plain/a.txt": "a", "tagged/a.txt": "a"})
        c = self.connect(srv)
        for _ in range(3):
            self.assertIsNone(c.request("/plain/a.txt").header("ETag"))
            self.assertIsNotNone(c.request("/tagged/a.txt").header("ETag"))

    def test_require_is_checked_on_every_hit(self):
        srv = self.serve("""\
            <Directory "@ROOT@/private">
                Require ip 127.0.0.1
            </Directory>
            """, files={"private/a.txt": "private"})
        allowed = self.connect(srv)
        self.assertEqual(allowed.request("/private/a.txt").status, 200)
        self.assertEqual(allowed.request("/private/a.txt").status, 200)  # cached now
        s = socket.socket()
        try:
            s.bind(("127.0.0.2", 0))
        except OSError:
            s.close()
            self.skipTest("127.0.0.2 is not usable here")
        s.settimeout(5)
        s.connect(("127.0.0.1", srv.port))
        s.sendall(b"GET /private/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 403 "), data[:100])

    def test_each_virtual_host_has_its_own_entries(self):
        srv = self.serve("""\
            <VirtualHost *>
                ServerName a.test
                DocumentRoot "@ROOT@/a"
            </VirtualHost>
            <VirtualHost *>
                ServerName b.test
                DocumentRoot "@ROOT@/b"
                Header set X-Site b
            </VirtualHost>
            """, files={"a/same.txt": "site A", "b/same.txt": "site B, longer",
                        "a/index.html": "index A", "b/index.html": "index B"})
        c = self.connect(srv)
        for _ in range(3):
            for host, path, body in (("a.test", "/same.txt", b"site A"),
                                     ("b.test", "/same.txt", b"site B, longer"),
                                     ("a.test", "/", b"index A"),
                                     ("b.test", "/", b"index B"),
                                     ("other.test", "/same.txt", b"site A")):
                r = c.request(path, headers={"Host": host})
                self.assertEqual(r.body, body, (host, path))
                self.assertEqual(r.header("X-Site"), "b" if host == "b.test" else None)

    def test_cache_disabled_serves_and_sees_changes_at_once(self):
        srv = self.serve("FileCacheSize 0\n", files={"a.txt": "one"})
        c = self.connect(srv)
        self.assertEqual(c.request("/a.txt").body, b"one")
        srv.write("a.txt", "two!")
        self.assertEqual(c.request("/a.txt").body, b"two!")
        os.remove(os.path.join(srv.root, "a.txt"))
        self.assertEqual(c.request("/a.txt").status, 404)

    def test_more_files_than_entries(self):
        files = {"f%d.txt" % i: "file %d\n" % i for i in range(40)}
        srv = self.serve("FileCacheEntries 8\nFileCacheSize 64K\n", files=files)
        c = self.connect(srv)
        for _ in range(3):
            for name, body in files.items():
                self.assertEqual(c.request("/" + name).body, body.encode())


# --------------------------------------------------------------------------------------------
class Sendfile(CacheTest):
    """EnableSendfile On and Off deliver the same bytes."""

    def bodies(self, directives):
        srv = self.serve(directives, files={"big.bin": BIG})
        c = self.connect(srv)
        out = []
        r = c.request("/big.bin")
        self.assertEqual(r.body, BIG)
        out.append(r.body)
        r = c.request("/big.bin", headers={"Range": "bytes=100000-2999999"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, BIG[100000:3000000])
        out.append(r.body)
        r = c.request("/big.bin", headers={"Range": "bytes=0-99999,200000-700000,-70000"})
        self.assertEqual(r.status, 206)
        self.assertIn(b"multipart/byteranges", r.raw_head)
        boundary = re.search(rb"boundary=([^\r;]+)", r.raw_head).group(1)
        parts = r.body.split(b"--" + boundary)
        datas = [p.split(b"\r\n\r\n", 1)[1][:-2] for p in parts[1:-1]]
        self.assertEqual(datas, [BIG[:100000], BIG[200000:700001], BIG[-70000:]])
        out.append(b"".join(datas))
        h = c.request("/big.bin", method="HEAD")
        self.assertEqual(h.header("Content-Length"), str(len(BIG)))
        self.assertEqual(c.request("/big.bin").body, BIG)  # HEAD sent nothing more
        return out

    def test_sendfile_on_and_off_send_the_same_bytes(self):
        self.assertEqual(self.bodies("EnableSendfile On\n"), self.bodies("EnableSendfile Off\n"))

    def test_same_bytes_without_the_cache(self):
        self.assertEqual(self.bodies("FileCacheSize 0\n"),
                         self.bodies("FileCacheSize 0\nEnableSendfile Off\n"))

    def slow_reader(self, directives):
        srv = self.serve(directives)
        huge = os.urandom(1 << 20) * (HUGE_SIZE >> 20)
        srv.write("huge.bin", huge)
        srv.write("small.txt", "small")
        # A fixed receive buffer (set before connecting, so not autotuned) keeps the file larger
        # than everything the two sockets can hold. Not smaller: with a window under two
        # segments (64 KiB on loopback) Linux sends no window update when the reader catches
        # up, and the transfer would crawl on persist probes.
        stalled = socket.socket()
        self.addCleanup(stalled.close)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
        stalled.settimeout(10)
        stalled.connect(("127.0.0.1", srv.port))
        stalled.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        # Wait until the server has filled the stalled client's socket: some response bytes are
        # readable (the server is past the header and into the body).
        r, _, _ = select.select([stalled], [], [], 5)
        self.assertTrue(r, "no response started")
        # Meanwhile the other clients are served, the large file included.
        c = self.connect(srv)
        for _ in range(3):
            self.assertEqual(c.request("/small.txt").body, b"small")
        r = c.request("/huge.bin", headers={"Range": "bytes=0-999999"})
        self.assertEqual(r.body, huge[:1000000])
        other = self.connect(srv)
        self.assertEqual(len(other.request("/huge.bin").body), len(huge))
        # The stalled client reads at last and gets every byte in order.
        data = b""
        while b"\r\n\r\n" not in data:
            data += stalled.recv(65536)
        head, rest = data.split(b"\r\n\r\n", 1)
        self.assertIn(b"Content-Length: %d" % len(huge), head)
        body = bytearray(rest)
        while len(body) < len(huge):
            chunk = stalled.recv(1 << 20)
            self.assertTrue(chunk, "connection closed early")
            body += chunk
        self.assertEqual(bytes(body), huge)

    def test_a_client_that_stops_reading_stalls_nobody_with_sendfile(self):
        self.slow_reader("EnableSendfile On\n")

    def test_a_client_that_stops_reading_stalls_nobody_with_read_write(self):
        self.slow_reader("EnableSendfile Off\n")


# --------------------------------------------------------------------------------------------
class BodiesFromTheCache(CacheTest):
    """Cached bodies from 16 KiB up to the in-memory limit (64 KiB) are written from the cache
    entry behind the head (one writev, no copy): whole, as one range, pipelined, to a client
    that stalls, and while the file changes under a response still being sent."""

    MEDIUM = os.urandom(60 * 1024)

    def test_whole_ranges_and_heads_of_medium_files(self):
        srv = self.serve(files={"m.bin": self.MEDIUM, "s.bin": SMALL})
        c = self.connect(srv)
        for _ in range(2):  # the miss that builds the entry, then the hit
            self.assertEqual(c.request("/m.bin").body, self.MEDIUM)
        r = c.request("/m.bin", headers={"Range": "bytes=1000-50000"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, self.MEDIUM[1000:50001])
        r = c.request("/m.bin", headers={"Range": "bytes=-20000"})
        self.assertEqual(r.body, self.MEDIUM[-20000:])
        h = c.request("/m.bin", method="HEAD")
        self.assertEqual(h.header("Content-Length"), str(len(self.MEDIUM)))
        r = c.request("/m.bin", headers={"If-None-Match": h.header("ETag")})
        self.assertEqual(r.status, 304)
        self.assertEqual(c.request("/s.bin").body, SMALL)  # nothing was left over
        self.assertEqual(c.request("/m.bin").body, self.MEDIUM)

    def test_pipelined_bodies_to_a_stalled_client_while_the_file_changes(self):
        srv = self.serve("FileCacheValid 0\n", files={"m.bin": self.MEDIUM, "s.bin": SMALL})
        self.assertEqual(self.connect(srv).request("/m.bin").body, self.MEDIUM)  # cached
        stalled = socket.socket()
        self.addCleanup(stalled.close)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        stalled.settimeout(10)
        stalled.connect(("127.0.0.1", srv.port))
        # Twice what both sockets can hold (the sender's buffer grows up to tcp_wmem's maximum,
        # 4 MiB by default): the server is left with a body in flight, written from the cache
        # entry, and the rest of the requests unparsed.
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            send_max = int(f.read().split()[2])
        rounds = 1 + 2 * (send_max + 64 * 1024) // (2 * len(self.MEDIUM))
        wanted = ["/m.bin", "/s.bin", "/m.bin"] * rounds
        stalled.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode()
                                 for p in wanted))
        r, _, _ = select.select([stalled], [], [], 5)
        self.assertTrue(r, "no response started")
        # The file changes while a body of the old one is being sent; other clients see the
        # new one (the entry is replaced), the old entry must stay intact for the stalled one.
        changed = bytes(b ^ 0xFF for b in self.MEDIUM)
        srv.write("m.bin.new", changed)  # then renamed: never seen half written
        os.replace(os.path.join(srv.root, "m.bin.new"), os.path.join(srv.root, "m.bin"))
        self.until(self.connect(srv), "/m.bin", lambda r: r.body == changed, "the new file")
        client = kahttpd_fixture.Client(stalled)
        seen_new = False
        olds = 0
        for path in wanted:
            r = client.read_response()
            self.assertEqual(r.status, 200)
            if path == "/s.bin":
                self.assertEqual(r.body, SMALL)
                continue
            # Each body is one version whole, and once the new one shows, the old never again.
            self.assertTrue(r.body in (self.MEDIUM, changed),
                            "a body of %d bytes that is neither version" % len(r.body))
            if r.body == changed:
                seen_new = True
            else:
                self.assertFalse(seen_new, "the old file after the new one")
                olds += 1
        self.assertGreater(olds, 0)
        self.assertTrue(seen_new)


# --------------------------------------------------------------------------------------------
class Allocations(CacheTest):
    """The keep-alive small-file path allocates nothing per request once the file is cached:
    kahttpd_alloc_count (the server with a counting operator new, built next to kahttpd)
    prints its total at exit, and 3N requests may not cost more than N by over a constant."""

    ALLOC_BIN = os.path.join(os.path.dirname(kahttpd_fixture.BIN), "kahttpd_alloc_count")

    def allocations(self, requests, directives, coding=None):
        self.assertTrue(os.path.exists(self.ALLOC_BIN), self.ALLOC_BIN + " was not built")
        # A name longer than std::string's inline buffer, so a copy of it would allocate.
        srv = Server(files={"assets/a-longer-file-name.txt": os.urandom(750).hex(),
                            "index.html": "<p>index</p>"})
        self.addCleanup(srv.cleanup)
        with open(srv.conf, "a") as f:
            f.write("MaxKeepAliveRequests 0\n")
            f.write(textwrap.dedent(directives).replace("@ROOT@", srv.root))
        with mock.patch.object(kahttpd_fixture, "BIN", self.ALLOC_BIN):
            srv.start()
        try:
            c = srv.connect()
            for i in range(requests):
                path = "/assets/a-longer-file-name.txt" if i % 2 == 0 else "/"
                r = c.request(path, headers={"Accept-Encoding": "gzip, br"})
                self.assertEqual(r.status, 200)
                if i % 2 == 0:
                    self.assertEqual(r.header("Content-Encoding"), coding)
            c.close()
        finally:
            srv.stop()
        m = re.search(r"kahttpd_alloc_count: (\d+) allocations", srv.stderr())
        self.assertIsNotNone(m, srv.stderr())
        return int(m.group(1))

    def check_constant(self, directives="", coding=None):
        n = 100
        once = self.allocations(n, directives, coding)
        thrice = self.allocations(3 * n, directives, coding)
        # One allocation per request would add 200; a few may come from timing (a read that
        # splits a request, the Date formatted once more).
        self.assertLess(thrice - once, 20, (once, thrice))

    def test_no_allocation_per_request_on_a_cache_hit(self):
        self.check_constant()

    def test_no_allocation_per_request_when_every_hit_is_checked(self):
        self.check_constant("FileCacheValid 0\n")

    def test_no_allocation_per_request_on_a_compressed_hit(self):
        # The compressed form is made once, on the miss, and kept with the entry.
        self.check_constant("AddOutputFilterByType DEFLATE;BROTLI_COMPRESS text/plain\n", "br")
        self.check_constant("AddOutputFilterByType DEFLATE text/plain\n", "gzip")

    def test_no_allocation_per_request_with_directory_sections(self):
        # As the shipped httpd.conf: the merged settings come from the cache too.
        self.check_constant("""\
            <Directory />
                Require all denied
            </Directory>
            <Directory "@ROOT@">
                Options FollowSymLinks
                Require all granted
            </Directory>
            """)

    def test_no_allocation_per_request_with_expires_from_the_access(self):
        # The prepared head carries the Expires lines; the date is written into it per hit.
        self.check_constant('ExpiresActive On\nExpiresDefault "access plus 1 month"\n')

    def test_no_allocation_per_request_with_expires_from_the_modification(self):
        # Built per response (max-age counts down), into the Response's kept storage.
        self.check_constant("ExpiresActive On\nExpiresDefault M86400\n")


if __name__ == "__main__":
    unittest.main()
