"""Static-site features (RFC 9110): validators, conditional requests, ranges, directory
listings, precompressed files, media types, error pages, Header rules, OPTIONS, request bodies
and Expect: 100-continue, path and symlink safety, and a browser's revalidating second load.

Every file gets a known modification time (MTIME plus half a second, so a server that compares
nanoseconds instead of the one-second Last-Modified resolution is caught).
"""

import datetime
import email.utils
import gzip
import http.client
import json
import os
import re
import select
import shutil
import subprocess
import textwrap
import unittest

from kahttpd_fixture import Server, request_once

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CURL = shutil.which("curl")
MTIME = 1700000000  # Tue, 14 Nov 2023 22:13:20 GMT
MTIME_NS = MTIME * 1_000_000_000 + 500_000_000
SECRET = b"TOP-SECRET-OUTSIDE-ROOT"
STRONG_ETAG = re.compile(r'^"[!#-~]+"$')
RANDOM = os.urandom(100 * 1024)
BIG = os.urandom(1536 * 1024)
TEXT = b"conditional body\n" * 10
ALLOWED = {"GET", "HEAD", "OPTIONS"}


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def status_of(raw):
    return int(raw.split(b" ", 2)[1])


def head_of(raw):
    return raw.split(b"\r\n\r\n", 1)[0]


def tokens(value):
    return {t.strip() for t in (value or "").split(",") if t.strip()}


def content_range(value):
    m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", value or "")
    return tuple(int(g) for g in m.groups()) if m else None


class StaticTest(unittest.TestCase):
    """Starts servers and clients that are stopped/closed when the test ends (clients first, so
    the server never waits out its shutdown grace for an idle connection)."""

    def serve(self, directives="", files=None, site=None, mtime_ns=MTIME_NS, setup=None):
        """directives may name the document root as @ROOT@; setup(srv) runs before start."""
        srv = Server(files=files, site=site)
        try:
            if mtime_ns is not None:
                for dirpath, dirnames, filenames in os.walk(srv.root):
                    for name in dirnames + filenames:
                        os.utime(os.path.join(dirpath, name), ns=(mtime_ns, mtime_ns),
                                 follow_symlinks=False)
            if directives:
                with open(srv.conf, "a") as f:
                    f.write(textwrap.dedent(directives).replace("@ROOT@", srv.root))
            if setup:
                setup(srv)
            srv.start()
        except BaseException:
            srv.cleanup()
            raise
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        return srv

    def connect(self, srv, timeout=5.0):
        c = srv.connect(timeout)
        self.addCleanup(c.close)
        return c

    def get(self, srv, path, headers=None, method="GET"):
        c = srv.connect()
        try:
            return c.request(path, method=method, headers=headers)
        finally:
            c.close()

    def http_client(self, srv):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        self.addCleanup(conn.close)
        return conn

    def hc_get(self, srv, path, headers=None):
        """GET with http.client (either framing, Content-Length or chunked); (response, body)."""
        conn = self.http_client(srv)
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp, resp.read()

    def curl(self, *args):
        """Runs curl; returns (stdout bytes). -w output goes to stdout after -o's file."""
        if not CURL:
            self.skipTest("curl is not installed")
        p = subprocess.run([CURL, "-sS", "--noproxy", "*", "--max-time", "5", *args],
                           capture_output=True, timeout=15)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return p.stdout

    def assert_whole_file(self, r, data):
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("Content-Range"))
        self.assertEqual(r.header("Content-Length"), str(len(data)))
        self.assertEqual(r.body, data)

    def parse_byteranges(self, r):
        """Splits a multipart/byteranges body; returns [(headers dict lower-case, data)]."""
        m = re.fullmatch(r'multipart/byteranges;\s*boundary=("?)([^";]+)\1\s*',
                         r.header("Content-Type") or "", re.I)
        self.assertIsNotNone(m, r.header("Content-Type"))
        delim = b"--" + m.group(2).encode()
        body = r.body
        self.assertEqual(r.header("Content-Length"), str(len(body)))
        i = body.index(delim)
        self.assertIn(body[:i], (b"", b"\r\n"), "unexpected preamble")
        i += len(delim)
        parts = []
        while body[i:i + 2] != b"--":
            self.assertEqual(body[i:i + 2], b"\r\n", "boundary line not ended by CRLF")
            i += 2
            end = body.index(b"\r\n\r\n", i)
            headers = {}
            for line in body[i:end].split(b"\r\n"):
                name, value = line.decode().split(":", 1)
                headers[name.strip().lower()] = value.strip()
            i = end + 4
            nxt = body.index(b"\r\n" + delim, i)
            parts.append((headers, body[i:nxt]))
            i = nxt + 2 + len(delim)
        self.assertIn(body[i + 2:], (b"", b"\r\n"), "unexpected epilogue")
        return parts


# --------------------------------------------------------------------------------------------
class Validators(StaticTest):
    FILES = {"data.bin": RANDOM, "page.html": "<p>page</p>\n", "t.txt": TEXT}

    def check_file_headers(self, r, data, ctype):
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Accept-Ranges"), "bytes")
        etag = r.header("ETag")
        self.assertIsNotNone(etag)
        self.assertRegex(etag, STRONG_ETAG)  # quoted, strong (no W/)
        self.assertEqual(r.header("Last-Modified"), http_date(MTIME))
        self.assertEqual(r.header("Content-Type"), ctype)
        self.assertEqual(r.header("Content-Length"), str(len(data)))
        return etag

    def test_every_file_response_has_validators_and_framing(self):
        srv = self.serve(files=self.FILES)
        c = self.connect(srv)
        for path, data, ctype in (("/data.bin", RANDOM, "application/octet-stream"),
                                  ("/page.html", b"<p>page</p>\n", "text/html"),
                                  ("/t.txt", TEXT, "text/plain")):
            with self.subTest(path=path):
                r = c.request(path)
                etag = self.check_file_headers(r, data, ctype)
                self.assertEqual(r.body, data)
                h = c.request(path, method="HEAD")
                self.assertEqual(self.check_file_headers(h, data, ctype), etag)
        # HEAD sent no body: the next response on the connection is intact.
        self.assertEqual(c.request("/t.txt").body, TEXT)

    def test_etag_is_stable_and_differs_between_files(self):
        srv = self.serve(files={"a.txt": "aaaa", "b.txt": "bbbbbbbb"})
        c = self.connect(srv)
        a1 = c.request("/a.txt").header("ETag")
        self.assertEqual(c.request("/a.txt").header("ETag"), a1)
        self.assertNotEqual(c.request("/b.txt").header("ETag"), a1)

    def test_file_etag_none_sends_no_etag(self):
        srv = self.serve("FileETag None\n", files=self.FILES)
        r = self.get(srv, "/data.bin")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("ETag"))
        self.assertEqual(r.header("Last-Modified"), http_date(MTIME))
        self.assertEqual(r.header("Accept-Ranges"), "bytes")

    def test_etag_changes_with_mtime_and_content(self):
        # The file changes under the server: no open-file cache interval to wait out.
        srv = self.serve("FileCacheValid 0\n", files=self.FILES)
        path = os.path.join(srv.root, "t.txt")
        c = self.connect(srv)
        first = c.request("/t.txt").header("ETag")
        # Same second, another nanosecond: Last-Modified stays, the ETag must not.
        os.utime(path, ns=(MTIME_NS + 1000, MTIME_NS + 1000))
        r = c.request("/t.txt")
        self.assertEqual(r.header("Last-Modified"), http_date(MTIME))
        second = r.header("ETag")
        self.assertNotEqual(second, first)
        # New content (new size), mtime put back: the ETag differs again, the body is new.
        with open(path, "wb") as f:
            f.write(b"new content, longer than before" * 10)
        os.utime(path, ns=(MTIME_NS, MTIME_NS))
        r = c.request("/t.txt")
        self.assertEqual(r.body, b"new content, longer than before" * 10)
        self.assertNotIn(r.header("ETag"), (first, second))
        # A conditional with the old ETag no longer matches.
        r = c.request("/t.txt", headers={"If-None-Match": first})
        self.assertEqual(r.status, 200)


# --------------------------------------------------------------------------------------------
class Conditional(StaticTest):
    def setUp(self):
        self.srv = self.serve(files={"c.txt": TEXT, "other.txt": "other\n"})
        self.c = self.connect(self.srv)
        r = self.c.request("/c.txt")
        self.assertEqual(r.status, 200)
        self.etag = r.header("ETag")
        self.assertIsNotNone(self.etag)
        self.lm = r.header("Last-Modified")
        self.assertEqual(self.lm, http_date(MTIME))

    def expect(self, status, headers, method="GET"):
        """Sends a conditional request for /c.txt, checks the status, then proves the framing by
        reading a plain request's response on the same connection."""
        r = self.c.request("/c.txt", method=method, headers=headers)
        self.assertEqual(r.status, status, headers)
        if status == 304:
            self.assertEqual(r.header("ETag"), self.etag)
            self.assertEqual(r.header("Last-Modified"), self.lm)
            self.assertIn(r.header("Content-Length"), (None, str(len(TEXT))))
        elif status == 200 and method == "GET":
            self.assertEqual(r.body, TEXT)
        if r.header("Connection") == "close":  # allowed after an error status
            self.assertGreaterEqual(status, 400)
            self.c.wait_closed()
            self.c = self.connect(self.srv)
        after = self.c.request("/other.txt")
        self.assertEqual((after.status, after.body), (200, b"other\n"), "framing broken")
        return r

    def test_if_none_match_current_etag_is_304(self):
        weak = "W/" + self.etag
        for value in (self.etag, weak, '"x", ' + self.etag, '"x",' + weak, "*"):
            with self.subTest(inm=value):
                self.expect(304, {"If-None-Match": value})

    def test_if_none_match_other_etag_is_200(self):
        for value in ('"nope"', 'W/"nope"', '"a", "b"'):
            with self.subTest(inm=value):
                self.expect(200, {"If-None-Match": value})

    def test_if_modified_since(self):
        self.expect(304, {"If-Modified-Since": self.lm})  # equal (file has +0.5 s)
        self.expect(304, {"If-Modified-Since": http_date(MTIME + 3600)})
        self.expect(200, {"If-Modified-Since": http_date(MTIME - 1)})
        self.expect(200, {"If-Modified-Since": "yesterday"})
        self.expect(200, {"If-Modified-Since": "Tue, 32 Nov 2023 99:13:20 GMT"})

    def test_if_none_match_takes_precedence_over_if_modified_since(self):
        self.expect(200, {"If-None-Match": '"nope"',
                          "If-Modified-Since": http_date(MTIME + 3600)})
        self.expect(304, {"If-None-Match": self.etag,
                          "If-Modified-Since": http_date(MTIME - 3600)})

    def test_if_match(self):
        self.expect(412, {"If-Match": '"nope"'})
        self.expect(200, {"If-Match": self.etag})
        self.expect(200, {"If-Match": "*"})
        self.expect(412, {"If-Match": "W/" + self.etag})  # strong comparison
        self.expect(200, {"If-Match": '"x", ' + self.etag})  # RFC 9110: a list (not in brief)

    def test_if_unmodified_since(self):
        self.expect(412, {"If-Unmodified-Since": http_date(MTIME - 1)})
        self.expect(200, {"If-Unmodified-Since": self.lm})
        self.expect(200, {"If-Unmodified-Since": http_date(MTIME + 3600)})

    def test_if_match_takes_precedence_over_if_unmodified_since(self):
        self.expect(200, {"If-Match": self.etag,
                          "If-Unmodified-Since": http_date(MTIME - 3600)})
        self.expect(412, {"If-Match": '"nope"',
                          "If-Unmodified-Since": http_date(MTIME + 3600)})

    def test_head_behaves_like_get(self):
        self.expect(304, {"If-None-Match": self.etag}, method="HEAD")
        self.expect(304, {"If-Modified-Since": self.lm}, method="HEAD")
        self.expect(412, {"If-Match": '"nope"'}, method="HEAD")
        self.expect(412, {"If-Unmodified-Since": http_date(MTIME - 1)}, method="HEAD")
        r = self.expect(200, {"If-Modified-Since": http_date(MTIME - 1)}, method="HEAD")
        self.assertEqual(r.header("Content-Length"), str(len(TEXT)))

    def test_curl_z_gets_304(self):
        url = f"http://127.0.0.1:{self.srv.port}/c.txt"
        ref = os.path.join(self.srv.tmp, "reference")
        with open(ref, "wb") as f:
            f.write(b"x")
        os.utime(ref, (MTIME, MTIME))
        head = os.path.join(self.srv.tmp, "head")

        def status(when):
            # curl reports a 304 of its own when a 200's Last-Modified is not newer, so the
            # status line the server really sent is read from the dumped head.
            code = self.curl("-o", os.devnull, "-D", head, "-w", "%{http_code}", "-z", when, url)
            with open(head, "rb") as f:
                sent = status_of(f.read())
            self.assertEqual(int(code), sent)
            return sent
        self.assertEqual(status(ref), 304)
        self.assertEqual(status(http_date(MTIME)), 304)
        self.assertEqual(status(http_date(MTIME - 86400)), 200)


# --------------------------------------------------------------------------------------------
def parsed_date(value):
    """An HTTP-date as a timestamp (None when absent)."""
    return email.utils.parsedate_to_datetime(value).timestamp() if value else None


class FutureModificationTime(StaticTest):
    """RFC 9110 §8.8.2.1: a file modified "in the future" (by the server's clock) is sent with
    the response's Date as its Last-Modified, and conditional requests compare with that value
    (Apache's ap_rationalize_mtime). A file with a past time keeps its own."""

    def serve_future(self, directives=""):
        future = int(datetime.datetime.now(datetime.timezone.utc).timestamp()) + 86400

        def touch(srv):
            os.utime(os.path.join(srv.root, "future.txt"), (future, future))
        return self.serve(directives, files={"future.txt": TEXT, "past.txt": "past\n"},
                          setup=touch), future

    def check_capped(self, r):
        self.assertIsNotNone(r.header("Date"))
        self.assertEqual(parsed_date(r.header("Last-Modified")), parsed_date(r.header("Date")),
                         r.raw_head)

    def test_last_modified_is_the_date_and_validates(self):
        for directives in ("", "FileCacheSize 0\n", "Header set X-Rule on\n"):
            with self.subTest(directives=directives):
                srv, future = self.serve_future(directives)
                c = self.connect(srv)
                for method in ("GET", "HEAD", "GET"):  # the last one from the open-file cache
                    r = c.request("/future.txt", method=method)
                    self.assertEqual(r.status, 200)
                    self.check_capped(r)
                    self.assertLess(parsed_date(r.header("Last-Modified")), future)
                # The 304 for the value sent. Should the clock have moved to the next second
                # between the two requests, the value sent moved with it: ask again.
                for _ in range(3):
                    lm = c.request("/future.txt").header("Last-Modified")
                    r = c.request("/future.txt", headers={"If-Modified-Since": lm})
                    if r.status == 304 or parsed_date(r.header("Date")) == parsed_date(lm):
                        break
                self.assertEqual(r.status, 304, r.raw_head)
                self.check_capped(r)
                # If-Unmodified-Since with that value: 200 while the capped time is still that
                # second; a second later the capped time is later than it, and 412 is right.
                r = c.request("/future.txt", headers={"If-Unmodified-Since": lm})
                if parsed_date(r.header("Date")) == parsed_date(lm):
                    self.assertEqual(r.status, 200, r.raw_head)
                    self.assertEqual(r.body, TEXT)
                else:
                    self.assertEqual(r.status, 412, r.raw_head)
                # A file modified in the past keeps its own time.
                r = c.request("/past.txt")
                self.assertEqual(r.header("Last-Modified"), http_date(MTIME))


# --------------------------------------------------------------------------------------------
class Ranges(StaticTest):
    N = len(RANDOM)

    def setUp(self):
        self.srv = self.serve(files={"r.bin": RANDOM, "big.bin": BIG, "t.txt": TEXT})
        self.c = self.connect(self.srv)

    def range(self, spec, path="/r.bin", extra=None, method="GET"):
        headers = {"Range": spec}
        headers.update(extra or {})
        return self.c.request(path, method=method, headers=headers)

    def assert_partial(self, r, first, last, data=RANDOM):
        self.assertEqual(r.status, 206, r.headers)
        self.assertEqual(content_range(r.header("Content-Range")), (first, last, len(data)))
        self.assertEqual(r.header("Content-Length"), str(last - first + 1))
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")
        self.assertEqual(r.body, data[first:last + 1])

    def test_single_ranges(self):
        n = self.N
        etag = self.c.request("/r.bin", method="HEAD").header("ETag")
        r = self.range("bytes=0-9")
        self.assert_partial(r, 0, 9)
        self.assertEqual(r.header("ETag"), etag)
        self.assertEqual(r.header("Last-Modified"), http_date(MTIME))
        self.assert_partial(self.range("bytes=-5"), n - 5, n - 1)
        self.assert_partial(self.range("bytes=10-"), 10, n - 1)
        self.assert_partial(self.range("bytes=5-100000000"), 5, n - 1)
        self.assert_partial(self.range("bytes=%d-%d" % (n - 1, n - 1)), n - 1, n - 1)

    def test_unsatisfiable_range_is_416(self):
        n = self.N
        for spec in ("bytes=%d-" % n, "bytes=%d-%d" % (n + 10, n + 20)):
            with self.subTest(spec=spec):
                r = self.range(spec)
                self.assertEqual(r.status, 416)
                self.assertEqual(r.header("Content-Range"), "bytes */%d" % n)
                self.assertNotEqual(r.body, RANDOM)
        self.assert_whole_file(self.c.request("/r.bin"), RANDOM)  # connection still in step

    def test_several_ranges_are_multipart(self):
        r = self.range("bytes=0-4,10-14,20-24")
        self.assertEqual(r.status, 206)
        self.assertIsNone(r.header("Content-Range"))
        parts = self.parse_byteranges(r)
        self.assertEqual(len(parts), 3)
        for (headers, data), (first, last) in zip(parts, [(0, 4), (10, 14), (20, 24)]):
            self.assertEqual(headers.get("content-type"), "application/octet-stream")
            self.assertEqual(content_range(headers.get("content-range")),
                             (first, last, self.N))
            self.assertEqual(data, RANDOM[first:last + 1])
        # Parts keep the file's own type.
        r = self.range("bytes=0-1,5-6", path="/t.txt")
        for headers, _ in self.parse_byteranges(r):
            self.assertEqual(headers.get("content-type"), "text/plain")
        self.assert_whole_file(self.c.request("/r.bin"), RANDOM)

    def test_overlapping_ranges_are_coalesced(self):
        self.assert_partial(self.range("bytes=0-10,5-15"), 0, 15)

    def test_more_than_200_ranges_get_the_whole_file(self):
        spec = "bytes=" + ",".join("%d-%d" % (i * 10, i * 10 + 1) for i in range(201))
        self.assert_whole_file(self.range(spec), RANDOM)
        # 200 is still allowed.
        spec = "bytes=" + ",".join("%d-%d" % (i * 10, i * 10 + 1) for i in range(200))
        r = self.range(spec)
        self.assertEqual(r.status, 206)
        parts = self.parse_byteranges(r)
        self.assertEqual(len(parts), 200)
        self.assertEqual(parts[-1][1], RANDOM[1990:1992])

    def test_invalid_range_is_ignored(self):
        for spec in ("bytes=abc", "items=0-1", "bytes=", "bytes=1-2-3"):
            with self.subTest(spec=spec):
                self.assert_whole_file(self.range(spec), RANDOM)

    def test_if_range(self):
        r = self.c.request("/r.bin", method="HEAD")
        etag, lm = r.header("ETag"), r.header("Last-Modified")
        self.assert_partial(self.range("bytes=0-9", extra={"If-Range": etag}), 0, 9)
        self.assert_whole_file(self.range("bytes=0-9", extra={"If-Range": '"other"'}), RANDOM)
        self.assert_partial(self.range("bytes=0-9", extra={"If-Range": lm}), 0, 9)
        self.assert_whole_file(
            self.range("bytes=0-9", extra={"If-Range": http_date(MTIME + 100)}), RANDOM)
        self.assert_whole_file(
            self.range("bytes=0-9", extra={"If-Range": http_date(MTIME - 100)}), RANDOM)
        # RFC 9110 §13.1.5: If-Range compares strongly (not in the brief).
        self.assert_whole_file(self.range("bytes=0-9", extra={"If-Range": "W/" + etag}),
                               RANDOM)

    def test_head_with_range(self):
        r = self.range("bytes=0-9", method="HEAD")
        self.assertEqual(r.status, 206)
        self.assertEqual(r.header("Content-Length"), "10")
        self.assertEqual(content_range(r.header("Content-Range")), (0, 9, self.N))
        # No body was sent: the next response starts right after the head.
        self.assert_partial(self.range("bytes=20-29"), 20, 29)

    def test_curl_r(self):
        url = f"http://127.0.0.1:{self.srv.port}/r.bin"
        out = os.path.join(self.srv.tmp, "curl.out")
        self.assertEqual(self.curl("-r", "0-99", "-o", out, "-w", "%{http_code}", url), b"206")
        with open(out, "rb") as f:
            self.assertEqual(f.read(), RANDOM[:100])

    def test_range_in_the_middle_of_a_large_file(self):
        conn = self.http_client(self.srv)
        conn.request("GET", "/big.bin", headers={"Range": "bytes=600000-700000"})
        resp = conn.getresponse()
        body = resp.read()
        self.assertEqual(resp.status, 206)
        self.assertEqual(content_range(resp.getheader("Content-Range")),
                         (600000, 700000, len(BIG)))
        self.assertEqual(body, BIG[600000:700001])
        conn.request("GET", "/big.bin", headers={"Range": "bytes=-3"})
        resp = conn.getresponse()
        self.assertEqual((resp.status, resp.read()), (206, BIG[-3:]))


# --------------------------------------------------------------------------------------------
WEIRD = '<b>&"x".txt'  # a file name HTML must escape
LIST_FILES = {
    "list/alpha.txt": b"a" * 1234,
    "list/beta.txt": b"bb",
    "list/" + WEIRD: b"weird",
    "list/.secret": b"dot",
    "list/.hiddendir/f": b"x",
    "list/zdir/f": b"x",
    "list/mdir/f": b"x",
    "other/f.txt": b"f",
    "withindex/index.html": b"the index",
}
LIST_ORDER = ["mdir", "zdir", WEIRD, "alpha.txt", "beta.txt"]  # directories first, then names


def mtime_matches(value, ts):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value) == ts
    if isinstance(value, str):
        try:
            return int(email.utils.parsedate_to_datetime(value).timestamp()) == ts
        except (TypeError, ValueError):
            pass
        try:
            d = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if d.tzinfo is None:
                d = d.replace(tzinfo=datetime.timezone.utc)
            return int(d.timestamp()) == ts
        except ValueError:
            return False
    return False


class Directories(StaticTest):
    LISTING_CONF = """\
        <Directory "@ROOT@/list">
            Options Indexes
        </Directory>
        """

    def test_redirect_adds_slash_and_keeps_query(self):
        srv = self.serve(files={"dir/index.html": "i"})
        c = self.connect(srv)
        r = c.request("/dir")
        self.assertEqual((r.status, r.header("Location")), (301, "/dir/"))
        r = c.request("/dir?x=1")
        self.assertEqual((r.status, r.header("Location")), (301, "/dir/?x=1"))
        self.assertEqual(c.request("/dir/").body, b"i")

    def test_directory_index_in_order(self):
        srv = self.serve("DirectoryIndex a.html b.html\n",
                         files={"d1/a.html": "A", "d1/b.html": "B", "d2/b.html": "B2"})
        c = self.connect(srv)
        self.assertEqual(c.request("/d1/").body, b"A")
        self.assertEqual(c.request("/d2/").body, b"B2")

    def test_html_listing(self):
        srv = self.serve(self.LISTING_CONF, files=LIST_FILES)
        r, body = self.hc_get(srv, "/list/")
        self.assertEqual(r.status, 200)
        ctype = r.getheader("Content-Type")
        self.assertTrue(ctype.startswith("text/html"), ctype)
        # Names escaped: the raw name never appears, its escaped form does.
        self.assertIn(b"&lt;b&gt;&amp;", body)
        self.assertNotIn(b"<b>&", body)
        self.assertNotIn(b'"x"', body)
        positions = []
        for name in LIST_ORDER:
            needle = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            needle = needle.split('"')[0].encode()  # quotes may be &quot; or &#34;
            self.assertIn(needle, body, name)
            positions.append(body.index(needle))
        self.assertEqual(positions, sorted(positions), "not directories-first, by name")
        self.assertRegex(body, rb"""href=["']\.\./["']""")
        self.assertTrue(b"1234" in body or b"1.2K" in body, "size of alpha.txt missing")
        self.assertNotIn(b".secret", body)
        self.assertNotIn(b".hiddendir", body)

    def test_json_listing(self):
        srv = self.serve(self.LISTING_CONF, files=LIST_FILES)
        r, body = self.hc_get(srv, "/list/", headers={"Accept": "application/json"})
        self.assertEqual(r.status, 200)
        ctype = r.getheader("Content-Type")
        self.assertTrue(ctype.startswith("application/json"), ctype)
        doc = json.loads(body)
        self.assertEqual(doc["path"], "/list/")
        entries = doc["entries"]
        self.assertEqual([e["name"].rstrip("/") for e in entries], LIST_ORDER)
        by_name = {e["name"].rstrip("/"): e for e in entries}
        self.assertEqual(by_name["mdir"]["type"], "directory")
        self.assertEqual(by_name["zdir"]["type"], "directory")
        self.assertEqual(by_name["alpha.txt"]["type"], "file")
        self.assertEqual(by_name["alpha.txt"]["size"], 1234)
        self.assertEqual(by_name[WEIRD]["size"], 5)
        self.assertTrue(mtime_matches(by_name["alpha.txt"]["mtime"], MTIME),
                        by_name["alpha.txt"]["mtime"])

    def test_no_listing_without_indexes(self):
        srv = self.serve(self.LISTING_CONF, files=LIST_FILES)
        c = self.connect(srv)
        self.assertEqual(c.request("/other/").status, 403)
        r = c.request("/other/", headers={"Accept": "application/json"})
        self.assertEqual(r.status, 403)
        self.assertNotIn(b"f.txt", r.body)
        self.assertEqual(c.request("/list/").status, 200)

    def test_listing_leaves_out_what_the_client_would_be_refused(self):
        # Apache's mod_autoindex does the same: the entries a request would get 403 for are
        # not listed, at the listed folder and at the root, in HTML and in JSON.
        srv = self.serve("""\
            Options Indexes
            <Files "secret.txt">
                Require all denied
            </Files>
            <FilesMatch "\\.(bak|old)$">
                Require all denied
            </FilesMatch>
            <Directory "@ROOT@/list/private">
                Require all denied
            </Directory>
            <Location "/list/hidden-by-url.txt">
                Require all denied
            </Location>
            <Location "/list/closed/">
                Require all denied
            </Location>
            <Location "/top-hidden.txt">
                Require all denied
            </Location>
            """, files={"list/secret.txt": "s", "list/a.bak": "b", "list/a.txt": "a",
                        "list/private/p.txt": "p", "list/public/q.txt": "q",
                        "list/hidden-by-url.txt": "h", "list/closed/c.txt": "c",
                        "list/archive.old/o.txt": "o", "secret.txt": "root s",
                        "top.txt": "t", "top-hidden.txt": "th"})
        c = self.connect(srv)
        for path in ("/list/secret.txt", "/list/a.bak", "/list/private/p.txt",
                     "/list/hidden-by-url.txt", "/list/closed/", "/secret.txt",
                     "/top-hidden.txt"):
            self.assertEqual(c.request(path).status, 403, path)
        # A folder is judged as its request names it, with the slash: <FilesMatch> on a file
        # name does not refuse the folder "archive.old/".
        self.assertEqual(c.request("/list/archive.old/").status, 200)
        r, body = self.hc_get(srv, "/list/")
        self.assertEqual(r.status, 200)
        for shown in (b"a.txt", b"public/", b"archive.old/"):
            self.assertIn(shown, body)
        for hidden in (b"secret.txt", b"a.bak", b"private", b"hidden-by-url", b"closed"):
            self.assertNotIn(hidden, body)
        r, body = self.hc_get(srv, "/list/", headers={"Accept": "application/json"})
        self.assertEqual(sorted(e["name"] for e in json.loads(body)["entries"]),
                         ["a.txt", "archive.old", "public"])
        r, body = self.hc_get(srv, "/")
        self.assertIn(b"top.txt", body)
        self.assertNotIn(b"secret.txt", body)
        self.assertNotIn(b"top-hidden", body)

    def test_a_symbolic_link_is_listed_by_name_only(self):
        srv = self.serve('<Directory "@ROOT@/list">\n    Options +Indexes\n</Directory>\n',
                         files={"list/a.txt": "a", "sub/b.txt": "b"})
        os.symlink("/etc/passwd", os.path.join(srv.root, "list", "outside"))
        os.symlink("../sub", os.path.join(srv.root, "list", "sublink"))
        r, body = self.hc_get(srv, "/list/", headers={"Accept": "application/json"})
        by_name = {e["name"]: e for e in json.loads(body)["entries"]}
        self.assertEqual(by_name["outside"], {"name": "outside", "href": "outside",
                                              "type": "link"})
        self.assertEqual(by_name["sublink"]["type"], "link")
        self.assertEqual(by_name["a.txt"]["type"], "file")
        r, body = self.hc_get(srv, "/list/")
        self.assertRegex(body, rb'<a href="outside">outside</a></td><td>-</td><td>-</td>')
        self.assertNotIn(b"1970", body)

    def test_a_symbolic_link_the_request_could_not_follow_is_not_listed(self):
        # "Options Indexes" alone replaces the inherited FollowSymLinks: a link there is
        # refused (403), so the listing leaves it out, with or without other sections.
        for extra in ("", '<Files "unrelated">\n    Require all denied\n</Files>\n'):
            with self.subTest(sections=bool(extra)):
                srv = self.serve('<Directory "@ROOT@/nolinks">\n    Options Indexes\n'
                                 '</Directory>\n' + extra,
                                 files={"nolinks/a.txt": "a", "target.txt": "t"})
                os.symlink("../target.txt", os.path.join(srv.root, "nolinks", "link.txt"))
                c = self.connect(srv)
                self.assertEqual(c.request("/nolinks/link.txt").status, 403)
                r, body = self.hc_get(srv, "/nolinks/")
                self.assertEqual(r.status, 200)
                self.assertIn(b"a.txt", body)
                self.assertNotIn(b"link.txt", body)

    def test_server_wide_indexes_and_index_still_wins(self):
        srv = self.serve("Options Indexes\n", files=LIST_FILES)
        c = self.connect(srv)
        r, body = self.hc_get(srv, "/other/")
        self.assertEqual(r.status, 200)
        self.assertIn(b"f.txt", body)
        self.assertEqual(c.request("/withindex/").body, b"the index")
        r, body = self.hc_get(srv, "/")
        self.assertEqual(r.status, 200)
        self.assertIn(b"list/", body)


# --------------------------------------------------------------------------------------------
CSS = b"body { color: red; }\n" * 40
CSS_GZ = gzip.compress(CSS)
CSS_BR = b"not-really-brotli:" + os.urandom(64)
PRE_FILES = {
    "app.css": CSS, "app.css.gz": CSS_GZ, "app.css.br": CSS_BR,
    "plain.css": CSS, "gzonly.css": CSS, "gzonly.css.gz": CSS_GZ,
}


def vary_has_accept_encoding(r):
    return "accept-encoding" in {t.lower() for t in tokens(r.header("Vary"))}


class Precompressed(StaticTest):
    def setUp(self):
        self.srv = self.serve(files=PRE_FILES)
        self.c = self.connect(self.srv)

    def fetch(self, ae, path="/app.css", extra=None):
        headers = {} if ae is None else {"Accept-Encoding": ae}
        headers.update(extra or {})
        return self.c.request(path, headers=headers)

    def assert_variant(self, r, body, encoding):
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, body)
        self.assertEqual(r.header("Content-Encoding"), encoding)
        self.assertEqual(r.header("Content-Type"), "text/css")
        self.assertEqual(r.header("Content-Length"), str(len(body)))
        self.assertTrue(vary_has_accept_encoding(r), r.header("Vary"))

    def test_negotiation(self):
        plain = self.fetch(None)
        self.assert_variant(plain, CSS, None)  # Vary even without Accept-Encoding
        br = self.fetch("br, gzip")
        self.assert_variant(br, CSS_BR, "br")
        gz = self.fetch("gzip")
        self.assert_variant(gz, CSS_GZ, "gzip")
        self.assert_variant(self.fetch("br;q=0.5, gzip;q=0.8"), CSS_GZ, "gzip")
        self.assert_variant(self.fetch("br;q=0"), CSS, None)
        self.assert_variant(self.fetch("identity"), CSS, None)
        etags = {plain.header("ETag"), br.header("ETag"), gz.header("ETag")}
        self.assertEqual(len(etags), 3, "each representation needs its own ETag")
        for e in etags:
            self.assertRegex(e, STRONG_ETAG)

    def test_file_without_variants_has_no_vary(self):
        r = self.fetch("br, gzip", path="/plain.css")
        self.assertEqual(r.body, CSS)
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertIsNone(r.header("Vary"))

    def test_range_applies_to_the_compressed_bytes(self):
        r = self.fetch("br", extra={"Range": "bytes=0-9"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.header("Content-Encoding"), "br")
        self.assertEqual(content_range(r.header("Content-Range")), (0, 9, len(CSS_BR)))
        self.assertEqual(r.body, CSS_BR[:10])

    def test_compressed_file_requested_directly_is_itself(self):
        r = self.fetch("gzip", path="/app.css.gz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, CSS_GZ)
        self.assertEqual(r.header("Content-Type"), "application/gzip")
        self.assertIsNone(r.header("Content-Encoding"))

    def test_curl_compressed_decodes_gzip(self):
        url = f"http://127.0.0.1:{self.srv.port}/gzonly.css"
        out = os.path.join(self.srv.tmp, "curl.out")
        self.curl("--compressed", "-o", out, url)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), CSS)
        # And the server did send gzip (not identity) to that client.
        r = self.fetch("deflate, gzip, br, zstd", path="/gzonly.css")
        self.assertEqual(r.header("Content-Encoding"), "gzip")

    def test_precompressed_files_off(self):
        srv = self.serve("PrecompressedFiles Off\n", files=PRE_FILES)
        c = self.connect(srv)
        for ae in ("br, gzip", "gzip", "br"):
            with self.subTest(ae=ae):
                r = c.request("/app.css", headers={"Accept-Encoding": ae})
                self.assertEqual(r.body, CSS)
                self.assertIsNone(r.header("Content-Encoding"))


# --------------------------------------------------------------------------------------------
class TypesAndErrors(StaticTest):
    FILES = {"x.unknownext": "?", "a.foo": "foo", "t.txt": "t", "h.html": "h", "s.css": "s",
             "i.png": b"\x89PNG", "b.bin": b"\0", "errors/404.html": "<h1>custom 404</h1>"}

    def test_types(self):
        srv = self.serve("AddType text/x-foo .foo\n", files=self.FILES)
        c = self.connect(srv)
        self.assertEqual(c.request("/x.unknownext").header("Content-Type"),
                         "application/octet-stream")
        self.assertEqual(c.request("/a.foo").header("Content-Type"), "text/x-foo")
        self.assertEqual(c.request("/t.txt").header("Content-Type"), "text/plain")

    def test_default_charset_on_text_types_only(self):
        srv = self.serve("AddDefaultCharset utf-8\n", files=self.FILES)
        c = self.connect(srv)
        for path, ctype in (("/t.txt", "text/plain; charset=utf-8"),
                            ("/h.html", "text/html; charset=utf-8"),
                            ("/s.css", "text/css; charset=utf-8"),
                            ("/i.png", "image/png"),
                            ("/b.bin", "application/octet-stream")):
            with self.subTest(path=path):
                self.assertEqual(c.request(path).header("Content-Type"), ctype)

    def test_error_document(self):
        srv = self.serve("ErrorDocument 404 /errors/404.html\n", files=self.FILES)
        r = self.get(srv, "/missing")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"<h1>custom 404</h1>")
        self.assertTrue(r.header("Content-Type").startswith("text/html"))

    def test_builtin_page_tokens_and_signature_defaults(self):
        srv = self.serve(files=self.FILES)
        r = self.get(srv, "/missing")
        self.assertEqual(r.status, 404)
        self.assertIn(b"Not Found", r.body)
        self.assertNotIn(b"<address>", r.body)
        self.assertRegex(r.header("Server"), r"^kahttpd/\d+\.\d+\.\d+ \(Unix\)$")
        self.assertRegex(self.get(srv, "/t.txt").header("Server"),
                         r"^kahttpd/\d+\.\d+\.\d+ \(Unix\)$")

    def test_server_tokens_prod_and_signature_on(self):
        srv = self.serve("ServerTokens Prod\nServerSignature On\n", files=self.FILES)
        r = self.get(srv, "/missing")
        self.assertEqual(r.header("Server"), "kahttpd")
        self.assertIn(b"<address>", r.body)
        self.assertEqual(self.get(srv, "/t.txt").header("Server"), "kahttpd")


# --------------------------------------------------------------------------------------------
class HeaderRules(StaticTest):
    def test_always_and_success_only_rules(self):
        srv = self.serve("Header set X-A 1\nHeader always set X-B 2\n",
                         files={"f.bin": RANDOM})
        c = self.connect(srv)
        etag = c.request("/f.bin", method="HEAD").header("ETag")
        cases = [
            (200, {}), (206, {"Range": "bytes=0-9"}), (304, {"If-None-Match": etag}),
            (412, {"If-Match": '"nope"'}), (416, {"Range": "bytes=%d-" % len(RANDOM)}),
        ]
        for status, headers in cases:
            with self.subTest(status=status):
                r = c.request("/f.bin", headers=headers)
                self.assertEqual(r.status, status)
                self.assertEqual(r.header("X-B"), "2")
                self.assertEqual(r.header("X-A"), "1" if status in (200, 206, 304) else None)
        r = c.request("/missing")
        self.assertEqual((r.status, r.header("X-A"), r.header("X-B")), (404, None, "2"))

    def test_append_merge_and_unset_in_inner_location(self):
        srv = self.serve("""\
            Header set X-List a
            Header append X-List b
            Header merge X-List b
            Header merge X-List c
            <Location /a>
                Header set X-C yes
            </Location>
            <Location /a/b>
                Header unset X-C
            </Location>
            """, files={"f.txt": "f", "a/x.txt": "x", "a/b/y.txt": "y"})
        c = self.connect(srv)
        r = c.request("/f.txt")
        self.assertEqual(r.header("X-List"), "a, b, c")
        self.assertIsNone(r.header("X-C"))
        self.assertEqual(c.request("/a/x.txt").header("X-C"), "yes")
        r = c.request("/a/b/y.txt")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("X-C"))


# --------------------------------------------------------------------------------------------
class Methods(StaticTest):
    def setUp(self):
        self.srv = self.serve(files={"f.txt": "file\n"})
        self.c = self.connect(self.srv)

    def test_options(self):
        for target in ("/f.txt", "*"):
            with self.subTest(target=target):
                r = self.c.request(target, method="OPTIONS")
                self.assertEqual(r.status, 200)
                self.assertEqual(tokens(r.header("Allow")), ALLOWED, r.header("Allow"))
                self.assertEqual(r.header("Content-Length"), "0")
                self.assertIsNone(r.header("Connection"))
                self.assertEqual(self.c.request("/f.txt").body, b"file\n")

    def test_405_lists_options_in_allow(self):
        for method, target in (("TRACE", "/"), ("DELETE", "/f.txt"), ("POST", "/f.txt")):
            with self.subTest(method=method):
                r = self.c.request(target, method=method, headers={"Content-Length": "0"})
                self.assertEqual(r.status, 405)
                self.assertEqual(tokens(r.header("Allow")), ALLOWED, r.header("Allow"))
        self.assertEqual(self.c.request("/f.txt").body, b"file\n")

    def test_unknown_method_is_501_and_closes(self):
        r = self.c.request("/", method="BREW")
        self.assertEqual(r.status, 501)
        self.assertEqual(r.header("Connection"), "close")
        _, extra = self.c.wait_closed()
        self.assertEqual(extra, b"")


# --------------------------------------------------------------------------------------------
GET_HEAD = "{m} {p} HTTP/1.1\r\nHost: x\r\n"


class Bodies(StaticTest):
    def setUp(self):
        self.srv = self.serve("""\
            <Location /limited>
                LimitRequestBody 10
            </Location>
            """, files={"f.txt": "file\n", "limited/f.txt": "lim\n"})

    def test_bodies_are_drained_and_the_connection_persists(self):
        c = self.connect(self.srv)
        for method, framing, body in (
                ("GET", "Content-Length: 5", "hello"),
                ("GET", "Transfer-Encoding: chunked", "5\r\nhello\r\n0\r\n\r\n"),
                ("OPTIONS", "Content-Length: 5", "hello"),
                ("OPTIONS", "Transfer-Encoding: chunked", "3\r\nabc\r\n0\r\n\r\n")):
            with self.subTest(method=method, framing=framing):
                c.send(GET_HEAD.format(m=method, p="/f.txt") + framing + "\r\n\r\n" + body)
                r = c.read_response()
                self.assertEqual(r.status, 200)
                if method == "GET":
                    self.assertEqual(r.body, b"file\n")
                r = c.request("/f.txt")
                self.assertEqual((r.status, r.body), (200, b"file\n"))

    def test_body_over_limit_is_413_and_closes(self):
        for framing, body in (("Content-Length: 20", "x" * 20),
                              ("Transfer-Encoding: chunked", "14\r\n" + "x" * 20 + "\r\n0\r\n\r\n")):
            with self.subTest(framing=framing):
                c = self.connect(self.srv)
                c.send(GET_HEAD.format(m="GET", p="/limited/f.txt") + framing + "\r\n\r\n" + body)
                r = c.read_response()
                self.assertEqual(r.status, 413)
                self.assertEqual(r.header("Connection"), "close")
                c.wait_closed()
        # A small body under the limit is fine there.
        c = self.connect(self.srv)
        c.send(GET_HEAD.format(m="GET", p="/limited/f.txt") + "Content-Length: 5\r\n\r\nhello")
        self.assertEqual(c.read_response().body, b"lim\n")

    def expect_head(self, method, path, length):
        return (GET_HEAD.format(m=method, p=path) +
                "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % length)

    def test_expect_100_continue_before_the_body(self):
        c = self.connect(self.srv)
        c.send(self.expect_head("GET", "/f.txt", 5))
        ready, _, _ = select.select([c.sock], [], [], 2.0)
        self.assertTrue(ready, "no 100 Continue while the client waits to send its body")
        interim = c.read_response()
        self.assertEqual(interim.raw_head + b"\r\n\r\n", b"HTTP/1.1 100 Continue\r\n\r\n")
        # The final response may come before or after the body (RFC 9110 §10.1.1); the body
        # must then be read as a body, not as the next request.
        c.send("hello")
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"file\n"))
        self.assertEqual(c.request("/f.txt").body, b"file\n")
        self.assertEqual(c.buf, b"")

    def test_expect_100_continue_refused_gets_final_status_at_once(self):
        for method, path, length, status in (("GET", "/limited/f.txt", 100, 413),
                                             ("GET", "/missing", 5, 404),
                                             ("DELETE", "/f.txt", 5, 405)):
            with self.subTest(status=status):
                c = self.connect(self.srv, timeout=2.0)
                c.send(self.expect_head(method, path, length))
                r = c.read_response()  # the body is never sent
                self.assertEqual(r.status, status)
                if status == 413:
                    self.assertEqual(r.header("Connection"), "close")
                    c.wait_closed()
                c.close()


# --------------------------------------------------------------------------------------------
INJECT = 'a\r\nX-Injected: 1".txt'
INJECT_URL = "/a%0D%0AX-Injected:%201%22.txt"
INJECT_DIR = 'd\r\nX-Injected: 1"'
INJECT_DIR_URL = "/d%0D%0AX-Injected:%201%22"


def no_injected_header(test, raw):
    test.assertNotIn(b"\nx-injected", head_of(raw).lower())


class Safety(StaticTest):
    ATTACKS = [
        "/../secret", "/%2e%2e/secret", "/%2e%2e%2fsecret", "/..%2fsecret",
        "/%252e%252e/secret", "/..\\secret", "/%5c..%5csecret", "/secret%00.txt",
        "/%c0%ae%c0%ae/secret", "/%e0%80%ae%e0%80%ae/secret", "/link", "/sub/../../secret",
    ]

    def make_links(self, srv):
        with open(os.path.join(srv.tmp, "secret"), "wb") as f:
            f.write(SECRET)
        with open(os.path.join(srv.tmp, "secret.txt"), "wb") as f:
            f.write(SECRET)
        os.symlink("../secret", os.path.join(srv.root, "link"))
        os.symlink("real.txt", os.path.join(srv.root, "in-link"))

    def fetch(self, srv, target):
        raw = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        return request_once(srv.port, raw.encode())

    def test_nothing_outside_the_root_is_served(self):
        for options in ("", "Options -FollowSymLinks +SymLinksIfOwnerMatch\n", "Options All\n"):
            srv = self.serve(options, files={"real.txt": "real", "sub/x": "x"},
                             setup=self.make_links)
            for target in self.ATTACKS:
                with self.subTest(options=options.strip(), target=target):
                    data = self.fetch(srv, target)
                    self.assertNotIn(SECRET, data)
                    self.assertIn(status_of(data), (400, 403, 404), data[:100])

    def test_symlink_inside_root_follows_options(self):
        for options, status in (("", 200), ("Options None\n", 403),
                                ("Options -FollowSymLinks\n", 403),
                                ("Options -FollowSymLinks +SymLinksIfOwnerMatch\n", 200)):
            with self.subTest(options=options.strip()):
                srv = self.serve(options, files={"real.txt": "real"}, setup=self.make_links)
                data = self.fetch(srv, "/in-link")
                self.assertEqual(status_of(data), status, data[:100])
                self.assertEqual(data.endswith(b"\r\n\r\nreal"), status == 200)
                self.assertEqual(status_of(self.fetch(srv, "/real.txt")), 200)

    def test_symlinks_if_owner_match_refuses_another_owner(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to chown a symlink")

        def setup(srv):
            self.make_links(srv)
            os.lchown(os.path.join(srv.root, "in-link"), 65534, 65534)
        srv = self.serve("Options -FollowSymLinks +SymLinksIfOwnerMatch\n",
                         files={"real.txt": "real"}, setup=setup)
        data = self.fetch(srv, "/in-link")
        self.assertEqual(status_of(data), 403)
        self.assertNotIn(b"real", data.split(b"\r\n\r\n", 1)[1])

    def test_dotfiles_are_404(self):
        srv = self.serve(files={".env": "ENV-SECRET", ".git/HEAD": "GIT-SECRET",
                                "a/.hidden": "HIDDEN-SECRET", "a/ok": "ok",
                                ".well-known/.env": "WK-SECRET"})
        for target in ("/.env", "/.git/HEAD", "/a/.hidden", "/.git/", "/%2eenv",
                       "/.well-known/.env"):
            with self.subTest(target=target):
                data = self.fetch(srv, target)
                self.assertEqual(status_of(data), 404)
                self.assertNotIn(b"SECRET", data)

    def test_ht_files_are_403_whatever_the_configuration(self):
        # Apache's stock <FilesMatch "^\.ht"> Require all denied, built in: even a config that
        # grants everything cannot serve them.
        srv = self.serve("<Location />\n    Require all granted\n</Location>\n",
                         files={".htaccess": "HT-SECRET", "a/.htpasswd": "user:HT-SECRET",
                                ".HTgroup": "HT-SECRET", ".well-known/.htaccess": "HT-SECRET"})
        for target in ("/.htaccess", "/a/.htpasswd", "/.HTgroup", "/%2ehtaccess",
                       "/.well-known/.htaccess", "/a/../.htaccess"):
            with self.subTest(target=target):
                data = self.fetch(srv, target)
                self.assertEqual(status_of(data), 403)
                self.assertNotIn(b"HT-SECRET", data)

    def test_well_known_is_served(self):
        # certbot --webroot writes its token under /.well-known/acme-challenge/ and fetches it
        # over HTTP; security.txt lives there too (RFC 8615, RFC 9116).
        srv = self.serve("Options Indexes\n",
                         files={".well-known/acme-challenge/tok_EN-123": "tok_EN-123.thumb",
                                ".well-known/security.txt": "Contact: mailto:sec@example.com\n"})
        c = srv.connect()
        r = c.request("/.well-known/acme-challenge/tok_EN-123")
        self.assertEqual((r.status, r.body), (200, b"tok_EN-123.thumb"))
        r = c.request("/.well-known/security.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type").split(";")[0], "text/plain")
        r = c.request("/.well-known")
        self.assertEqual((r.status, r.header("Location")), (301, "/.well-known/"))
        r = c.request("/.well-known/")
        self.assertEqual(r.status, 200)  # Options Indexes: its listing
        self.assertIn(b"security.txt", r.body)

    def test_crlf_and_quotes_in_names_never_reach_headers(self):
        def setup(srv):
            srv.write(INJECT, "injected-file")
            srv.write(INJECT_DIR + "/index.html", "injected-dir")
            srv.write("inj/" + INJECT, "x")
            srv.write("inj/<script>.txt", "x")
        srv = self.serve("Options Indexes\n", files={"f": "f"}, setup=setup)
        data = self.fetch(srv, INJECT_URL)
        no_injected_header(self, data)
        self.assertIn(status_of(data), (200, 400, 403, 404))
        if status_of(data) == 200:
            self.assertTrue(data.endswith(b"\r\n\r\ninjected-file"))
        # A directory with that name: 301 to a percent-encoded Location.
        data = self.fetch(srv, INJECT_DIR_URL)
        no_injected_header(self, data)
        self.assertEqual(status_of(data), 301)
        location = re.search(rb"\r\nLocation: ([^\r\n]*)\r\n", head_of(data) + b"\r\n",
                             re.I).group(1).decode()
        self.assertIn("%0d%0a", location.lower())
        self.assertNotIn('"', location)
        self.assertTrue(location.endswith("/"), location)
        c = self.connect(srv)
        self.assertEqual(c.request(location).body, b"injected-dir")
        # Listings escape such names, in HTML and in JSON.
        data = self.fetch(srv, "/inj/")
        no_injected_header(self, data)
        self.assertEqual(status_of(data), 200)
        body = data.split(b"\r\n\r\n", 1)[1]
        self.assertNotIn(b"<script>", body)
        self.assertNotIn(b'1".txt', body)
        r, body = self.hc_get(srv, "/inj/", headers={"Accept": "application/json"})
        self.assertIsNone(r.getheader("X-Injected"))
        names = {e["name"] for e in json.loads(body)["entries"]}
        self.assertEqual(names, {INJECT, "<script>.txt"})


# --------------------------------------------------------------------------------------------
class Browser(StaticTest):
    PAGES = ["/", "/css/style.css", "/js/app.js", "/img/logo.svg"]

    def test_second_load_revalidates_with_304(self):
        srv = self.serve(site=os.path.join(REPO, "www"))
        conn = self.http_client(srv)
        validators = {}
        for path in self.PAGES:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            self.assertEqual(resp.status, 200, path)
            self.assertTrue(body)
            validators[path] = (resp.getheader("ETag"), resp.getheader("Last-Modified"))
            self.assertIsNotNone(validators[path][0], path)
            self.assertIsNotNone(validators[path][1], path)
        for path in self.PAGES:
            etag, lm = validators[path]
            conn.request("GET", path, headers={"If-None-Match": etag, "If-Modified-Since": lm})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 304, path)
            self.assertEqual(resp.read(), b"")
            self.assertEqual(resp.getheader("ETag"), etag)



class ForceTypeTest(unittest.TestCase):
    def test_force_type_overrides_the_extension_in_its_section(self):
        conf = ("<Location /data>\n  ForceType text/plain\n</Location>\n"
                "<Location /data/raw>\n  ForceType None\n</Location>\n")
        with Server(conf, files={"data/a.bin": "x", "data/raw/b.html": "<p>", "c.bin": "y"}) as srv:
            c = srv.connect()
            self.assertEqual(c.request("/data/a.bin").header("Content-Type"), "text/plain")
            self.assertEqual(c.request("/data/raw/b.html").header("Content-Type"), "text/html")
            self.assertEqual(c.request("/c.bin").header("Content-Type"),
                             "application/octet-stream")


if __name__ == "__main__":
    unittest.main()
