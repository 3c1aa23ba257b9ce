"""mod_mime's AddCharset and AddEncoding over real sockets: the charset of a file with a charset
extension anywhere in its name, the Content-Encoding (and the type of the extension before it)
of a file asked for by its encoded name, which is then sent byte for byte: never compressed
again, no variant chosen for it, ranges and validators of its own bytes; per section."""

import gzip
import unittest

from kahttpd_fixture import serve_for

PAGE = b"<!DOCTYPE html><title>t</title>" + b"<p>compressible text</p>\n" * 200
PAGE_GZ = gzip.compress(PAGE, mtime=0)
TAR_GZ = gzip.compress(b"ustar archive bytes" * 50, mtime=0)


class AddCharsetTest(unittest.TestCase):
    def test_the_charset_extension_may_stand_anywhere_after_the_base_name(self):
        srv = serve_for(self, """\
            AddCharset UTF-8 .utf8
            AddCharset iso-8859-1 .latin1
            AddDefaultCharset windows-1252
            <Directory @ROOT@/jp>
                AddCharset EUC-JP .utf8
            </Directory>
            """, files={"index.html.utf8": "<p>é</p>", "notes.utf8.txt": "n",
                        "old.html.latin1": "o", "plain.html": "p", "data.json.utf8": "{}",
                        "bare.utf8": "b", "jp/a.html.utf8": "j"})
        c = srv.connect()
        for path, ctype in (
                ("/index.html.utf8", "text/html; charset=utf-8"),
                ("/notes.utf8.txt", "text/plain; charset=utf-8"),
                ("/old.html.latin1", "text/html; charset=iso-8859-1"),
                ("/plain.html", "text/html; charset=windows-1252"),  # AddDefaultCharset
                ("/data.json.utf8", "application/json; charset=utf-8"),
                ("/bare.utf8", "application/octet-stream"),  # no type, no charset
                ("/jp/a.html.utf8", "text/html; charset=euc-jp")):  # the section's
            with self.subTest(path=path):
                r = c.request(path)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("Content-Type"), ctype)
                self.assertIsNone(r.header("Content-Encoding"))
        # A second request is a cache hit: the same answer.
        self.assertEqual(c.request("/index.html.utf8").header("Content-Type"),
                         "text/html; charset=utf-8")

    def test_force_type_drops_the_charset_as_apache_does(self):
        srv = serve_for(self, """\
            AddCharset utf-8 .utf8
            <Location /forced>
                ForceType text/plain
            </Location>
            """, files={"forced/a.html.utf8": "a"})
        self.assertEqual(srv.connect().request("/forced/a.html.utf8").header("Content-Type"),
                         "text/plain")


class RemoveTest(unittest.TestCase):
    """RemoveType, RemoveEncoding, and RemoveHandler as tutorials put it in an upload folder:
    the folder's files lose the parent's mappings and are still sent as they are."""

    def test_an_upload_folder_undoes_the_parents_mappings(self):
        srv = serve_for(self, """\
            AddType text/html .tmpl
            AddEncoding gzip .gz
            <Directory @ROOT@/uploads>
                RemoveType .tmpl
                RemoveEncoding .gz
                RemoveHandler .php .phtml .cgi
            </Directory>
            """, files={"page.tmpl": "<p>s</p>", "uploads/page.tmpl": "<p>u</p>",
                        "page.html.gz": PAGE_GZ, "uploads/page.html.gz": PAGE_GZ,
                        "uploads/x.php": "<?php echo 1; ?>"})
        c = srv.connect()
        r = c.request("/page.tmpl")
        self.assertEqual(r.header("Content-Type"), "text/html")
        # TypesConfig has no .tmpl: removed, the file gets the default type.
        r = c.request("/uploads/page.tmpl")
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")
        r = c.request("/page.html.gz", headers={"Accept-Encoding": "gzip"})
        self.assertEqual((r.header("Content-Type"), r.header("Content-Encoding")),
                         ("text/html", "gzip"))
        r = c.request("/uploads/page.html.gz", headers={"Accept-Encoding": "gzip"})
        self.assertEqual((r.header("Content-Type"), r.header("Content-Encoding")),
                         ("application/gzip", None))
        self.assertEqual(r.body, PAGE_GZ)
        r = c.request("/uploads/x.php")  # never run: the file's own bytes
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"<?php echo 1; ?>")


class AddEncodingTest(unittest.TestCase):
    FILES = {"page.html.gz": PAGE_GZ, "page.html": PAGE, "page.html.gz.br": b"not this",
             "backup.tar.gz": TAR_GZ, "dump.gz": TAR_GZ, "other/page.html.gz": PAGE_GZ}

    def serve(self, extra=""):
        return serve_for(self, """\
            AddEncoding x-gzip .gz
            AddOutputFilterByType DEFLATE;BROTLI_COMPRESS text/html
            CompressMinLength 1
            <Directory @ROOT@/other>
                AddCharset utf-8 .html
            </Directory>
            """ + extra, files=self.FILES)

    def test_the_type_is_the_extension_before_and_the_bytes_are_the_file(self):
        c = self.serve().connect()
        for accept in (None, "gzip", "br", "br, gzip", "identity"):
            with self.subTest(accept=accept):
                r = c.request("/page.html.gz",
                              headers={"Accept-Encoding": accept} if accept else None)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("Content-Type"), "text/html")
                self.assertEqual(r.header("Content-Encoding"), "gzip")  # x-gzip, as registered
                self.assertEqual(r.body, PAGE_GZ)  # never compressed again, no .br chosen
                self.assertEqual(gzip.decompress(r.body), PAGE)
                self.assertIsNone(r.header("Vary"))
                self.assertEqual(r.header("Content-Length"), str(len(PAGE_GZ)))
        r = c.request("/backup.tar.gz")
        self.assertEqual(r.header("Content-Type"), "application/x-tar")
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(r.body, TAR_GZ)
        r = c.request("/dump.gz")  # nothing but the encoding: .gz's own type
        self.assertEqual(r.header("Content-Type"), "application/gzip")
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        # The section adds a charset and keeps the server's AddEncoding.
        r = c.request("/other/page.html.gz")
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(r.header("Content-Encoding"), "gzip")

    def test_ranges_validators_and_head_are_the_files_own(self):
        c = self.serve().connect()
        r = c.request("/page.html.gz", headers={"Range": "bytes=0-9", "Accept-Encoding": "gzip"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, PAGE_GZ[:10])
        self.assertEqual(r.header("Content-Range"), "bytes 0-9/%d" % len(PAGE_GZ))
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        etag = c.request("/page.html.gz").header("ETag")
        self.assertTrue(etag and etag.startswith('"') and "-gz" not in etag, etag)
        r = c.request("/page.html.gz", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 304)
        self.assertEqual(r.header("ETag"), etag)
        r = c.request("/page.html.gz", method="HEAD")
        self.assertEqual(r.header("Content-Length"), str(len(PAGE_GZ)))
        self.assertEqual(r.header("Content-Encoding"), "gzip")

    def test_the_uncompressed_page_still_gets_its_precompressed_variant(self):
        # PrecompressedFiles picks page.html.gz for /page.html as before; AddEncoding changes
        # only what the .gz file is when asked for by its own name.
        c = self.serve().connect()
        r = c.request("/page.html", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(r.body, PAGE_GZ)
        self.assertEqual(r.header("Vary"), "Accept-Encoding")
        r = c.request("/page.html")
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(r.body, PAGE)

    def test_without_add_encoding_a_gz_file_is_an_archive(self):
        srv = serve_for(self, "", files=self.FILES)
        r = srv.connect().request("/page.html.gz")
        self.assertEqual(r.header("Content-Type"), "application/gzip")
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(r.body, PAGE_GZ)


if __name__ == "__main__":
    unittest.main()
