"""mod_alias over real sockets: Alias and AliasMatch serve files outside the DocumentRoot and
stay confined to their folders; Redirect, RedirectMatch, RedirectPermanent, RedirectTemp and
the section form answer with Apache's statuses and Location values; <Directory> sections
apply to aliased files by their file-system path."""

import os
import subprocess
import textwrap
import unittest

from kahttpd_fixture import Server, request_once


def status_of(data):
    return int(data.split(b" ", 2)[1])


class AliasTest(unittest.TestCase):
    def serve(self, directives, files=None, outside=None):
        """outside: {relative path: content} written beside the docroot (tmp/...), which the
        directives may name as @TMP@."""
        srv = Server(files=files)
        self.addCleanup(srv.cleanup)
        for rel, content in (outside or {}).items():
            path = os.path.join(srv.tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(content)
        with open(srv.conf, "a") as f:
            f.write(textwrap.dedent(directives).replace("@TMP@", srv.tmp))
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    def raw(self, srv, target):
        return request_once(srv.port, f"GET {target} HTTP/1.1\r\nHost: x\r\n"
                                      f"Connection: close\r\n\r\n".encode())

    def test_alias_serves_a_folder_outside_the_document_root(self):
        srv = self.serve("""\
            Alias /icons/ @TMP@/icons/
            Alias /static @TMP@/static
            """, files={"index.html": "home"},
            outside={"icons/a.png": "PNG", "icons/sub/index.html": "sub-index",
                     "static/app.css": "a{}", "static/index.html": "static-index"})
        c = srv.connect()
        r = c.request("/icons/a.png")
        self.assertEqual((r.status, r.body), (200, b"PNG"))
        self.assertEqual(r.header("Content-Type"), "image/png")
        self.assertEqual(c.request("/icons/sub/").body, b"sub-index")
        r = c.request("/icons/sub")
        self.assertEqual((r.status, r.header("Location")), (301, "/icons/sub/"))
        # "Alias /icons/" asks for the slash, as in Apache: "/icons" is the DocumentRoot's.
        self.assertEqual(c.request("/icons").status, 404)
        self.assertEqual(c.request("/static/app.css").body, b"a{}")
        self.assertEqual(c.request("/static/").body, b"static-index")
        r = c.request("/static?x=1")
        self.assertEqual((r.status, r.header("Location")), (301, "/static/?x=1"))
        self.assertEqual(c.request("/staticx").status, 404)
        self.assertEqual(c.request("/").body, b"home")
        # A second request for the same aliased file is a cache hit: same bytes.
        self.assertEqual(c.request("/icons/a.png").body, b"PNG")

    def test_alias_of_one_file(self):
        srv = self.serve("Alias /favicon.ico @TMP@/shared/fav.ico\n",
                         outside={"shared/fav.ico": "ICO", "shared/other.txt": "OTHER"})
        c = srv.connect()
        self.assertEqual(c.request("/favicon.ico").body, b"ICO")
        r = c.request("/favicon.ico/other.txt")
        self.assertEqual(r.status, 404)
        self.assertNotIn(b"OTHER", r.body)

    def test_alias_match_substitutes_groups(self):
        srv = self.serve(r"""
            AliasMatch "^/d/(\w+)/(.*)$" "@TMP@/data/$1/files/$2"
            """, outside={"data/x/files/f.txt": "F"})
        c = srv.connect()
        self.assertEqual(c.request("/d/x/f.txt").body, b"F")
        self.assertEqual(c.request("/d/y/f.txt").status, 404)

    def test_aliases_are_confined_to_their_folder(self):
        secret = "SECRET-OUTSIDE"
        def setup(srv):
            os.symlink(os.path.join(srv.tmp, "secret.txt"),
                       os.path.join(srv.tmp, "icons", "link-out"))
        srv = Server()
        self.addCleanup(srv.cleanup)
        for rel, content in {"icons/a.png": "PNG", "secret.txt": secret,
                             "icons/.htpasswd": "user:" + secret,
                             "data/x.txt": "X"}.items():
            path = os.path.join(srv.tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(content)
        setup(srv)
        with open(srv.conf, "a") as f:
            f.write(textwrap.dedent(r"""
                Alias /icons/ {tmp}/icons/
                AliasMatch "^/glue/x([^/]*)-([^/]*)/(.*)$" "{tmp}/data/$1$2/$3"
                """).format(tmp=srv.tmp))
        srv.start()
        self.addCleanup(srv.stop)
        for target, expected in (("/icons/link-out", 403), ("/icons/.htpasswd", 403),
                                 ("/icons/../secret.txt", 404), ("/icons/%2e%2e/secret.txt", 404),
                                 # $1$2 make "..": the result leaves the alias's folder.
                                 ("/glue/x.-./secret.txt", 403)):
            with self.subTest(target=target):
                data = self.raw(srv, target)
                self.assertEqual(status_of(data), expected, data[:200])
                self.assertNotIn(secret.encode(), data)
        self.assertEqual(status_of(self.raw(srv, "/glue/x-/x.txt")), 200)

    def test_directory_sections_apply_by_file_system_path(self):
        srv = self.serve("""\
            Alias /shared/ @TMP@/shared/
            <Directory @TMP@/shared/private>
                Require all denied
            </Directory>
            <Directory @TMP@/shared>
                Header set X-Shared yes
            </Directory>
            """, outside={"shared/a.txt": "A", "shared/private/p.txt": "P"})
        c = srv.connect()
        r = c.request("/shared/a.txt")
        self.assertEqual((r.status, r.header("X-Shared")), (200, "yes"))
        self.assertEqual(c.request("/shared/private/p.txt").status, 403)

    def test_vhost_aliases_come_before_the_main_servers(self):
        srv = self.serve("""\
            Alias /a/ @TMP@/main-a/
            <VirtualHost *>
                ServerName v.test
                Alias /a/ @TMP@/vhost-a/
            </VirtualHost>
            <VirtualHost *>
                ServerName w.test
            </VirtualHost>
            """, outside={"main-a/f": "MAIN", "vhost-a/f": "VHOST"})
        c = srv.connect()
        self.assertEqual(c.request("/a/f", headers={"Host": "v.test"}).body, b"VHOST")
        self.assertEqual(c.request("/a/f", headers={"Host": "w.test"}).body, b"MAIN")


class RedirectTest(unittest.TestCase):
    CONF = r"""
        Redirect /old http://example.com/new
        Redirect permanent /perm /new-perm
        Redirect seeother /other /elsewhere?fixed=1
        Redirect 308 /p308 /to308
        Redirect gone /gone
        RedirectPermanent /rp /rp-new
        RedirectTemp /rt /rt-new
        RedirectMatch 301 "^/rm/(.*)\.html$" "/moved/$1.htm"
        RedirectMatch "^/cap/(.*)$" "/x/$1"
        RedirectMatch "^/any/([\s\S]*)" "/x/$1"
        <Location /loc>
            Redirect permanent https://other.example/
        </Location>
        <Location /loc/gone>
            Redirect gone
        </Location>
        <Location /denied>
            Require all denied
            Redirect /never
        </Location>
        ErrorDocument 410 "This is gone"
        """

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(cls.CONF, files={"index.html": "home"})
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def get(self, target):
        c = self.srv.connect()
        try:
            return c.request(target)
        finally:
            c.close()

    def test_statuses_and_locations(self):
        cases = [
            ("/old", 302, "http://example.com/new"),
            ("/old/a/b.html", 302, "http://example.com/new/a/b.html"),
            ("/old/a%20b?q=1&r=2", 302, "http://example.com/new/a%20b?q=1&r=2"),
            ("/perm/x", 301, "/new-perm/x"),
            # The target's own query wins over the request's; the rest is appended after the
            # whole target, as Apache concatenates them.
            ("/other?q=1", 303, "/elsewhere?fixed=1"),
            ("/p308", 308, "/to308"),
            ("/rp/z", 301, "/rp-new/z"),
            ("/rt", 302, "/rt-new"),
            ("/rm/a/b.html?k=v", 301, "/moved/a/b.htm?k=v"),
            ("/cap/a%20b", 302, "/x/a%20b"),
            ("/loc/anything", 301, "https://other.example/"),
        ]
        for target, status, location in cases:
            with self.subTest(target=target):
                r = self.get(target)
                self.assertEqual((r.status, r.header("Location")), (status, location))
                self.assertIn(b"The document has moved", r.body)

    def test_prefixes_match_whole_segments(self):
        self.assertEqual(self.get("/oldx").status, 404)
        self.assertEqual(self.get("/rm/a.htm").status, 404)

    def test_gone_is_410_with_its_error_document(self):
        for target in ("/gone", "/gone/x", "/loc/gone/x"):
            with self.subTest(target=target):
                r = self.get(target)
                self.assertEqual(r.status, 410)
                self.assertEqual(r.body, b"This is gone")
                self.assertIsNone(r.header("Location"))

    def test_a_section_redirect_comes_after_access_control(self):
        self.assertEqual(self.get("/denied/x").status, 403)

    def test_captured_bytes_cannot_break_the_header(self):
        # A CR LF captured from the path is escaped in Location (Apache's ap_escape_uri).
        data = request_once(self.srv.port, b"GET /any/a%0d%0aSet-Cookie:%20x=1 HTTP/1.1\r\n"
                                           b"Host: x\r\nConnection: close\r\n\r\n")
        head = data.split(b"\r\n\r\n", 1)[0]
        self.assertNotIn(b"\r\nSet-Cookie", head)
        self.assertEqual(status_of(data), 302)
        self.assertIn(b"\r\nLocation: /x/a%0D%0ASet-Cookie:%20x=1\r\n", head)

    def test_curl_follows_a_redirect_to_a_file(self):
        srv = Server("Redirect permanent /start /index.html\n", files={"index.html": "home"})
        with srv:
            out = subprocess.run(["curl", "-sS", "-L", "-o", "-", "-w", "%{num_redirects}",
                                  f"http://127.0.0.1:{srv.port}/start"],
                                 capture_output=True, text=True, timeout=10)
            self.assertEqual(out.stdout, "home1", out.stderr)


if __name__ == "__main__":
    unittest.main()
