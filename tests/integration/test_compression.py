"""Compression on the fly (AddOutputFilterByType, SetOutputFilter with DEFLATE and
BROTLI_COMPRESS): what the client gets decodes to the file, br is preferred to gzip and
q-values are honoured, ETags carry Apache's suffixes and If-None-Match works with either form,
HEAD gives the compressed length, a Range gets the file itself, a file beside it (foo.gz) wins,
the settings follow <Directory>, and curl --compressed reads it all. Loopback only, ephemeral
ports (tests/support/kahttpd_fixture.py).
"""

import os
import re
import subprocess
import textwrap
import unittest
import zlib

from kahttpd_fixture import serve_for

try:
    import brotli
except ImportError:  # a Python without Debian's python3-brotli (a pyenv one first in PATH)
    brotli = None

MTIME = 1700000000
PAGE = "".join("<li>item %d of the list</li>\n" % (i % 50) for i in range(400)).encode()
CSS = b"body { color: red; margin: 0 auto; }\n" * 60
SMALL = b"<p>small</p>\n" * 8  # compressible, but under CompressMinLength's 256
NOISE = os.urandom(8000)
FILTERS = "AddOutputFilterByType DEFLATE;BROTLI_COMPRESS text/html text/css\n"


def gunzip(data):
    return zlib.decompress(data, 16 + zlib.MAX_WBITS)


def unbrotli(data):
    if brotli is not None:
        return brotli.decompress(data)
    # Debian's interpreter has python3-brotli (scripts/install-deps.sh).
    r = subprocess.run(["/usr/bin/python3", "-c",
                        "import brotli, sys; "
                        "sys.stdout.buffer.write(brotli.decompress(sys.stdin.buffer.read()))"],
                       input=data, capture_output=True, check=True, timeout=30)
    return r.stdout


def decode(r):
    coding = r.header("Content-Encoding")
    if coding == "gzip":
        return gunzip(r.body)
    if coding == "br":
        return unbrotli(r.body)
    assert coding is None, coding
    return r.body


def varies(r):
    return "accept-encoding" in {t.strip().lower() for t in (r.header("Vary") or "").split(",")}


def without_date(raw_head):
    return re.sub(rb"\r\nDate: [^\r]*", b"", raw_head)


class CompressionTest(unittest.TestCase):
    def serve(self, directives=FILTERS, files=None):
        if files is None:
            files = {"page.html": PAGE, "style.css": CSS, "small.html": SMALL,
                     "noise.html": NOISE, "data.bin": PAGE, "pre.css": CSS,
                     "pre.css.gz": b"PRECOMPRESSED GZIP"}
        return serve_for(self, "MaxKeepAliveRequests 0\n" + textwrap.dedent(directives),
                         files, MTIME)

    def connect(self, srv):
        c = srv.connect()
        self.addCleanup(c.close)
        return c

    def get(self, c, path, ae=None, method="GET", **headers):
        if ae is not None:
            headers["Accept-Encoding"] = ae
        return c.request(path, method=method, headers={k.replace("_", "-"): v
                                                       for k, v in headers.items()})


class Negotiation(CompressionTest):
    def test_each_coding_decodes_to_the_file_and_br_is_preferred(self):
        srv = self.serve()
        c = self.connect(srv)
        for ae, coding in (("gzip", "gzip"), ("br", "br"), ("gzip, deflate, br", "br"),
                           ("br;q=0.5, gzip", "gzip"), ("gzip;q=0, br;q=0", None),
                           ("identity", None), (None, None), ("*", "br"),
                           ("deflate, zstd", None), ("x-gzip", "gzip")):
            for _ in range(2):  # a miss, then a cache hit
                with self.subTest(ae=ae):
                    r = self.get(c, "/page.html", ae)
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.header("Content-Encoding"), coding)
                    self.assertEqual(r.header("Content-Type"), "text/html")
                    self.assertEqual(int(r.header("Content-Length")), len(r.body))
                    self.assertTrue(varies(r), r.headers)  # the identity response too
                    self.assertEqual(decode(r), PAGE)
                    if coding is not None:
                        self.assertLess(len(r.body), len(PAGE) // 4)

    def test_types_without_filters_small_and_incompressible_files_are_sent_as_they_are(self):
        srv = self.serve()
        c = self.connect(srv)
        for path, body in (("/data.bin", PAGE), ("/small.html", SMALL), ("/noise.html", NOISE)):
            with self.subTest(path=path):
                r = self.get(c, path, "gzip, br")
                self.assertIsNone(r.header("Content-Encoding"))
                self.assertFalse(varies(r), r.headers)
                self.assertEqual(r.body, body)

    def test_compress_min_length_and_levels_apply(self):
        srv = self.serve(FILTERS + "CompressMinLength 5\nDeflateCompressionLevel 1\n")
        c = self.connect(srv)
        r = self.get(c, "/small.html", "gzip")
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(gunzip(r.body), SMALL)
        fast = self.get(c, "/page.html", "gzip")
        srv2 = self.serve(FILTERS + "DeflateCompressionLevel 9\n")
        best = self.get(self.connect(srv2), "/page.html", "gzip")
        self.assertEqual(gunzip(fast.body), gunzip(best.body))
        self.assertGreater(len(fast.body), len(best.body))

    def test_a_precompressed_file_beside_it_wins(self):
        srv = self.serve(FILTERS + "PrecompressedFiles On\n")
        c = self.connect(srv)
        r = self.get(c, "/pre.css", "gzip")
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(r.body, b"PRECOMPRESSED GZIP")
        r = self.get(c, "/pre.css", "br")  # no .br beside it: made here
        self.assertEqual(r.header("Content-Encoding"), "br")
        self.assertEqual(unbrotli(r.body), CSS)


class Validators(CompressionTest):
    def test_etags_head_304_and_ranges(self):
        srv = self.serve()
        c = self.connect(srv)
        plain = self.get(c, "/page.html")
        gz = self.get(c, "/page.html", "gzip")
        br = self.get(c, "/page.html", "br")
        tag = plain.header("ETag")
        self.assertTrue(tag.startswith('"') and tag.endswith('"'), tag)
        self.assertEqual(gz.header("ETag"), tag[:-1] + '-gzip"')
        self.assertEqual(br.header("ETag"), tag[:-1] + '-br"')
        self.assertEqual(gz.header("Last-Modified"), plain.header("Last-Modified"))

        head = self.get(c, "/page.html", "gzip", method="HEAD")
        self.assertEqual(head.header("Content-Length"), str(len(gz.body)))
        self.assertEqual(head.header("Content-Encoding"), "gzip")
        self.assertEqual(self.get(c, "/page.html", "gzip").body, gz.body)  # HEAD sent no body

        for inm in (gz.header("ETag"), tag, 'W/' + gz.header("ETag"), '"x", ' + tag):
            with self.subTest(if_none_match=inm):
                r = self.get(c, "/page.html", "gzip", If_None_Match=inm)
                self.assertEqual(r.status, 304)
                self.assertEqual(r.body, b"")
                self.assertIsNone(r.header("Content-Length"))
                self.assertEqual(r.header("ETag"), gz.header("ETag"))
                self.assertTrue(varies(r))
        self.assertEqual(self.get(c, "/page.html", "br", If_None_Match=br.header("ETag")).status,
                         304)
        self.assertEqual(self.get(c, "/page.html", "gzip", If_None_Match='"other"').status, 200)
        self.assertEqual(self.get(c, "/page.html", If_None_Match=gz.header("ETag")).status, 200)
        self.assertEqual(self.get(c, "/page.html", "gzip",
                                  If_Modified_Since=plain.header("Last-Modified")).status, 304)
        self.assertEqual(self.get(c, "/page.html", "gzip", If_Match='"nope"').status, 412)

        r = self.get(c, "/page.html", "gzip, br", Range="bytes=0-99")
        self.assertEqual(r.status, 206)
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(r.header("Content-Range"), "bytes 0-99/%d" % len(PAGE))
        self.assertEqual(r.body, PAGE[:100])
        self.assertEqual(r.header("ETag"), tag)
        self.assertTrue(varies(r))

    def test_a_changed_file_is_compressed_again(self):
        srv = self.serve(FILTERS + "FileCacheValid 0\n")
        c = self.connect(srv)
        first = self.get(c, "/page.html", "gzip")
        self.assertEqual(gunzip(first.body), PAGE)
        srv.write("page.html", PAGE + b"<p>one more</p>\n")
        r = self.get(c, "/page.html", "gzip")
        self.assertEqual(gunzip(r.body), PAGE + b"<p>one more</p>\n")
        self.assertNotEqual(r.header("ETag"), first.header("ETag"))
        # A .gz appearing beside the file now wins over the one made here.
        srv.write("page.html.gz", b"NOW PRECOMPRESSED")
        self.assertEqual(self.get(c, "/page.html", "gzip").body, b"NOW PRECOMPRESSED")

    def test_cached_and_uncached_responses_are_identical(self):
        requests = [("/page.html", "GET", {"Accept-Encoding": ae}) for ae in
                    ("gzip", "br", "gzip, br", "identity")]
        requests += [("/page.html", "HEAD", {"Accept-Encoding": "br"}),
                     ("/style.css", "GET", {"Accept-Encoding": "gzip", "Range": "bytes=5-9"})]

        def responses(extra):
            srv = self.serve(FILTERS + extra)
            c = self.connect(srv)
            out = []
            for path, method, headers in requests * 2:
                r = c.request(path, method=method, headers=headers)
                out.append((path, method, headers, without_date(r.raw_head), r.body))
            return out

        self.assertEqual(responses(""), responses("FileCacheSize 0\n"))


class Contexts(CompressionTest):
    def test_sections_choose_the_filters(self):
        srv = self.serve("""\
            AddOutputFilterByType DEFLATE text/html
            <Directory "@ROOT@/all">
                SetOutputFilter BROTLI_COMPRESS
            </Directory>
            <Location /plain/>
                AddOutputFilterByType BROTLI_COMPRESS text/html
            </Location>
            """, files={"page.html": PAGE, "all/page.html": PAGE, "all/data.bin": PAGE,
                        "plain/page.html": PAGE})
        c = self.connect(srv)
        cases = (("/page.html", "gzip"), ("/all/page.html", "br"), ("/all/data.bin", "br"),
                 ("/plain/page.html", "br"))
        for _ in range(2):
            for path, coding in cases:
                with self.subTest(path=path):
                    r = self.get(c, path, "gzip, br")
                    self.assertEqual(r.header("Content-Encoding"), coding)
                    self.assertEqual(decode(r), PAGE)
        # Top level: gzip only, so a br-only client gets the file.
        self.assertIsNone(self.get(c, "/page.html", "br").header("Content-Encoding"))

    def test_apache_ifmodule_blocks_apply(self):
        srv = self.serve("""\
            <IfModule mod_deflate.c>
                AddOutputFilterByType DEFLATE text/html
            </IfModule>
            <IfModule mod_brotli.c>
                AddOutputFilterByType BROTLI_COMPRESS text/css
            </IfModule>
            """)
        c = self.connect(srv)
        self.assertEqual(self.get(c, "/page.html", "gzip, br").header("Content-Encoding"), "gzip")
        self.assertEqual(self.get(c, "/style.css", "gzip, br").header("Content-Encoding"), "br")


class Curl(CompressionTest):
    def curl(self, srv, *args):
        r = subprocess.run(["curl", "-sS", "--max-time", "10", *args,
                            "http://127.0.0.1:%d/page.html" % srv.port],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_curl_compressed_gets_the_file(self):
        srv = self.serve()
        head = self.curl(srv, "--compressed", "-D", "-", "-o", "/dev/null")
        self.assertRegex(head, rb"(?im)^content-encoding: (br|gzip)\r$")
        self.assertEqual(self.curl(srv, "--compressed"), PAGE)
        gz = self.curl(srv, "-H", "Accept-Encoding: gzip")
        self.assertEqual(gunzip(gz), PAGE)


if __name__ == "__main__":
    unittest.main()
