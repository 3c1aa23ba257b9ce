"""tests/data/conf/apache-style.conf, a config a newcomer from Apache would write, loads and
behaves: two name-based sites, Directory/Location sections, headers, error documents."""

import os
import unittest

from kahttpd_fixture import Server, run

CONF = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "data", "conf",
                                    "apache-style.conf"))


class ApacheStyleConfigTest(unittest.TestCase):
    def setUp(self):
        files = {
            "site-a/index.html": "<h1>A</h1>", "site-a/404.html": "custom A 404",
            "site-a/assets/app.css": "a{}", "site-a/notes.md": "# notes",
            "site-b/index.htm": "B", "site-b/private/p.txt": "private",
        }
        self.srv = Server(files=files, conf_path=CONF)
        self.srv.env.update({"PORT": "0", "ROOT": self.srv.root})

    def tearDown(self):
        self.srv.stop(check=False)
        self.srv.cleanup()

    def test_check_mode_accepts_it_with_load_module_warnings(self):
        env = dict(os.environ, PORT="8080", ROOT=self.srv.root)
        r = run("-t", "-f", CONF, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "Syntax OK")
        warnings = [l for l in r.stderr.splitlines() if "LoadModule" in l]
        self.assertEqual(len(warnings), 3, r.stderr)
        self.assertTrue(all("(warning)" in w for w in warnings))

    def test_site_a(self):
        srv = self.srv.start()
        c = srv.connect()
        for host in ("site-a.test", "www.site-a.test", "img.a.test", "nobody.example"):
            r = c.request("/", headers={"Host": host})
            self.assertEqual(r.body, b"<h1>A</h1>", host)
            self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        r = c.request("/assets/app.css", headers={"Host": "site-a.test"})
        self.assertEqual(r.header("Cache-Control"), "public, max-age=3600")
        r = c.request("/notes.md", headers={"Host": "site-a.test"})
        self.assertEqual(r.header("Content-Type"), "text/markdown; charset=utf-8")
        r = c.request("/nope", headers={"Host": "site-a.test"})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"custom A 404")
        self.assertEqual(r.header("Server"), "kahttpd")  # ServerTokens Prod

    def test_site_b(self):
        srv = self.srv.start()
        c = srv.connect()
        r = c.request("/", headers={"Host": "site-b.test"})
        self.assertEqual(r.body, b"B")  # DirectoryIndex index.html index.htm
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        r = c.request("/private/p.txt", headers={"Host": "site-b.test"})
        self.assertEqual(r.status, 200)  # Require ip 127.0.0.1 ::1
        r = c.request("/missing", headers={"Host": "site-b.test"})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")  # always
        self.assertIsNone(r.header("Cache-Control"))

    def test_outside_the_sites_is_denied(self):
        # The ServerRoot itself is covered by <Directory /> Require all denied; the main
        # server's DocumentRoot (ServerRoot/www by default) does not exist, so the default
        # vhost for the address (site A) answers unknown names instead.
        srv = self.srv.start()
        r = srv.connect().request("/../site-b/index.htm", headers={"Host": "site-a.test"})
        self.assertIn(r.status, (400, 403, 404))


if __name__ == "__main__":
    unittest.main()
