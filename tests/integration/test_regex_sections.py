"""Sections with regular expressions over real sockets: <Files>, <FilesMatch>,
<DirectoryMatch>, <LocationMatch> and the `~` forms, Debian's stock <FilesMatch "^\\.ht">, and
Apache's merge order (Directory by depth, DirectoryMatch, Files, Location)."""

import os
import textwrap
import unittest

from kahttpd_fixture import Server, run


class RegexSectionsTest(unittest.TestCase):
    def serve(self, directives, files):
        srv = Server(files=files)
        self.addCleanup(srv.cleanup)
        with open(srv.conf, "a") as f:
            f.write(textwrap.dedent(directives).replace("@ROOT@", srv.root))
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    def test_debian_stock_filesmatch_loads_and_denies(self):
        # As /etc/apache2/apache2.conf ships it.
        srv = self.serve("""\
            <FilesMatch "^\\.ht">
            \tRequire all denied
            </FilesMatch>
            """, files={".htaccess": "HT", "a.htm": "page", "index.html": "i"})
        c = srv.connect()
        self.assertEqual(c.request("/.htaccess").status, 403)
        self.assertEqual(c.request("/a.htm").body, b"page")
        self.assertEqual(c.request("/").body, b"i")

    def test_files_and_filesmatch(self):
        srv = self.serve("""\
            <Files "*.bak">
                Require all denied
            </Files>
            <FilesMatch "\\.(css|js)$">
                Header set Cache-Control "max-age=60"
            </FilesMatch>
            <Files ~ "^secret">
                Require all denied
            </Files>
            <Files "index.html">
                Header set X-Index yes
            </Files>
            """, files={"a.bak": "old", "d.bak/x.txt": "in-dir", "s.css": "a{}", "s.cssx": "no",
                        "secret.txt": "s", "sub/index.html": "sub"})
        c = srv.connect()
        self.assertEqual(c.request("/a.bak").status, 403)
        # <Files> sees the file name only: a folder called d.bak does not match.
        self.assertEqual(c.request("/d.bak/x.txt").body, b"in-dir")
        self.assertEqual(c.request("/s.css").header("Cache-Control"), "max-age=60")
        self.assertIsNone(c.request("/s.cssx").header("Cache-Control"))
        self.assertEqual(c.request("/secret.txt").status, 403)
        # A folder's index file gets its own <Files> settings, as Apache's subrequest does.
        r = c.request("/sub/")
        self.assertEqual((r.body, r.header("X-Index")), (b"sub", "yes"))
        self.assertEqual(c.request("/sub/index.html").header("X-Index"), "yes")

    def test_files_nested_in_a_directory_apply_beneath_it_only(self):
        # As tutorials write it: a <Files> inside the <Directory> it is about.
        srv = self.serve("""\
            <Directory "@ROOT@/private">
                <FilesMatch "\\.txt$">
                    Require all denied
                </FilesMatch>
            </Directory>
            """, files={"private/a.txt": "p", "private/sub/b.txt": "q",
                        "private/c.html": "c", "a.txt": "open"})
        c = srv.connect()
        self.assertEqual(c.request("/private/a.txt").status, 403)
        self.assertEqual(c.request("/private/sub/b.txt").status, 403)
        self.assertEqual(c.request("/private/c.html").body, b"c")
        self.assertEqual(c.request("/a.txt").body, b"open")

    def test_directorymatch_and_directory_tilde(self):
        srv = self.serve("""\
            <DirectoryMatch "^@ROOT@/[0-9]+/">
                Header set X-Numbered yes
            </DirectoryMatch>
            <Directory ~ "/private/$">
                Require all denied
            </Directory>
            """, files={"123/a.txt": "a", "12x/a.txt": "b", "private/p.txt": "p",
                        "private/deeper/p.txt": "deep"})
        c = srv.connect()
        self.assertEqual(c.request("/123/a.txt").header("X-Numbered"), "yes")
        self.assertIsNone(c.request("/12x/a.txt").header("X-Numbered"))
        self.assertEqual(c.request("/private/p.txt").status, 403)
        # Anchored at the end: the folder below is not covered.
        self.assertEqual(c.request("/private/deeper/p.txt").body, b"deep")

    def test_locationmatch_and_location_tilde(self):
        srv = self.serve("""\
            <LocationMatch "^/api/v[0-9]+/">
                Header set X-Api yes
            </LocationMatch>
            <Location ~ "\\.txt$">
                Require all denied
            </Location>
            """, files={"api/v2/x.json": "{}", "api/vx/x.json": "{}", "a.txt": "t"})
        c = srv.connect()
        self.assertEqual(c.request("/api/v2/x.json").header("X-Api"), "yes")
        self.assertIsNone(c.request("/api/vx/x.json").header("X-Api"))
        self.assertEqual(c.request("/a.txt").status, 403)

    def test_merge_order_is_apaches(self):
        # Each later layer overrides the same field: the value that wins names the last layer.
        srv = self.serve("""\
            <Location /a>
                Header set X-Last location
            </Location>
            <Files "x.html">
                Header set X-Last files
                Header set X-Files yes
            </Files>
            <DirectoryMatch "/a/$">
                Header set X-Last directorymatch
                Header set X-DirMatch yes
            </DirectoryMatch>
            <Directory @ROOT@/a>
                Header set X-Last directory
                Header set X-Dir yes
            </Directory>
            """, files={"a/x.html": "x", "a/y.html": "y"})
        c = srv.connect()
        r = c.request("/a/x.html")
        self.assertEqual(r.header("X-Last"), "location")
        self.assertEqual((r.header("X-Files"), r.header("X-DirMatch"), r.header("X-Dir")),
                         ("yes", "yes", "yes"))
        srv2 = self.serve("""\
            <Files "x.html">
                Header set X-Last files
            </Files>
            <DirectoryMatch "/a/$">
                Header set X-Last directorymatch
            </DirectoryMatch>
            <Directory @ROOT@/a>
                Header set X-Last directory
            </Directory>
            """, files={"a/x.html": "x", "a/y.html": "y"})
        c2 = srv2.connect()
        self.assertEqual(c2.request("/a/x.html").header("X-Last"), "files")
        self.assertEqual(c2.request("/a/y.html").header("X-Last"), "directorymatch")

    def test_a_bad_regex_stops_the_start_with_file_and_line(self):
        srv = Server()
        self.addCleanup(srv.cleanup)
        with open(srv.conf, "a") as f:
            f.write('<FilesMatch "(">\n    Require all denied\n</FilesMatch>\n')
        r = run("-t", "-f", srv.conf)
        self.assertEqual(r.returncode, 1)
        self.assertIn(srv.conf + ":4: <FilesMatch>: expected a valid regular expression, "
                      'found "(" (missing closing parenthesis at offset 1)', r.stderr)


if __name__ == "__main__":
    unittest.main()
