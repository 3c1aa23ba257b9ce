"""mod_expires over real sockets: ExpiresActive, ExpiresDefault and ExpiresByType in both
syntaxes give Expires and Cache-Control: max-age on 200, 206 and 304 of static files, from the
access time or the file's modification time, per directory; never on errors."""

import email.utils
import os
import subprocess
import textwrap
import time
import unittest

from kahttpd_fixture import Server


def http_time(value):
    return email.utils.parsedate_to_datetime(value).timestamp()


class ExpiresTest(unittest.TestCase):
    CONF = """\
        ExpiresActive On
        ExpiresDefault "access plus 1 hour"
        ExpiresByType image/* A600
        ExpiresByType text/css "modification plus 2 days"
        <Directory @ROOT@/live>
            ExpiresActive Off
        </Directory>
        <Location /short>
            ExpiresDefault A5
        </Location>
        """

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"index.html": "<p>i</p>", "a.png": "PNG", "big.bin": b"x" * 100_000,
                                "old.css": "a{}", "new.css": "b{}", "live/now.txt": "now",
                                "short/s.txt": "s"})
        with open(cls.srv.conf, "a") as f:
            f.write(textwrap.dedent(cls.CONF).replace("@ROOT@", cls.srv.root))
        os.utime(os.path.join(cls.srv.root, "old.css"), (1_577_836_800, 1_577_836_800))  # 2020
        cls.mtime_new = time.time() - 3600
        os.utime(os.path.join(cls.srv.root, "new.css"), (cls.mtime_new, cls.mtime_new))
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def check(self, r, max_age, base=None):
        self.assertEqual(r.header("Cache-Control"), "max-age=%d" % max_age)
        expires = http_time(r.header("Expires"))
        date = http_time(r.header("Date"))
        if base is None:  # from the access: Expires = Date + max-age (a second apart at most)
            self.assertLessEqual(abs(expires - date - max_age), 1, r.headers)
        else:
            self.assertEqual(expires, base)

    def test_access_default_on_200_twice_and_with_keep_alive(self):
        c = self.srv.connect()
        for _ in range(3):  # the first builds the cache entry, the others use its prepared head
            r = c.request("/")
            self.assertEqual(r.status, 200)
            self.check(r, 3600)

    def test_by_type_wildcard_and_a_large_file(self):
        c = self.srv.connect()
        self.check(c.request("/a.png"), 600)
        r = c.request("/big.bin")
        self.assertEqual(len(r.body), 100_000)
        self.check(r, 3600)

    def test_modification_base_counts_from_the_file_time(self):
        c = self.srv.connect()
        # Modified in 2020, plus two days: long past, so it expires now (Apache's floor).
        r = c.request("/old.css")
        self.assertEqual(r.header("Cache-Control"), "max-age=0")
        self.assertEqual(http_time(r.header("Expires")), http_time(r.header("Date")))
        r = c.request("/new.css")
        expected = int(self.mtime_new) + 2 * 86400
        self.assertEqual(http_time(r.header("Expires")), expected)
        max_age = int(r.header("Cache-Control").split("=")[1])
        self.assertLessEqual(abs(expected - http_time(r.header("Date")) - max_age), 1)

    def test_304_and_206_carry_them_errors_do_not(self):
        c = self.srv.connect()
        etag = c.request("/").header("ETag")
        r = c.request("/", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 304)
        self.check(r, 3600)
        r = c.request("/", headers={"Range": "bytes=0-1"})
        self.assertEqual((r.status, r.body), (206, b"<p"))
        self.check(r, 3600)
        r = c.request("/missing")
        self.assertEqual(r.status, 404)
        self.assertIsNone(r.header("Expires"))
        self.assertIsNone(r.header("Cache-Control"))

    def test_per_directory_and_location(self):
        c = self.srv.connect()
        r = c.request("/live/now.txt")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("Expires"))
        self.assertIsNone(r.header("Cache-Control"))
        self.check(c.request("/short/s.txt"), 5)

    def test_curl_sees_them(self):
        out = subprocess.run(["curl", "-sS", "-D", "-", "-o", "/dev/null",
                              f"http://127.0.0.1:{self.srv.port}/a.png"],
                             capture_output=True, text=True, timeout=10)
        self.assertIn("Cache-Control: max-age=600\n", out.stdout)
        self.assertIn("Expires: ", out.stdout)


class ExpiresWithHeaderRulesTest(unittest.TestCase):
    def test_header_rules_apply_after_mod_expires(self):
        with Server("ExpiresActive On\nExpiresDefault A60\n"
                    "Header append Cache-Control public\n",
                    files={"f.txt": "f"}) as srv:
            c = srv.connect()
            for _ in range(2):
                r = c.request("/f.txt")
                self.assertEqual(r.header("Cache-Control"), "max-age=60, public")
                self.assertIsNotNone(r.header("Expires"))


if __name__ == "__main__":
    unittest.main()
