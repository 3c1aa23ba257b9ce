"""Configuration language end to end: vhosts, sections, Require, Header, -t/-T/-S."""

import json
import os
import select
import textwrap
import time
import unittest

from kahttpd_fixture import Server, run

VHOSTS = """
<VirtualHost *>
    ServerName a.test
    ServerAlias *.a.test
    DocumentRoot "{root}/site-a"
</VirtualHost>
<VirtualHost *>
    ServerName b.test
    DocumentRoot "{root}/site-b"
    Header set X-Site b
</VirtualHost>
"""


def vhost_server(extra=""):
    srv = Server(files={"site-a/index.html": "A", "site-b/index.html": "B",
                        "index.html": "MAIN"})
    with open(srv.conf, "a") as f:
        f.write(textwrap.dedent(VHOSTS).format(root=srv.root) + extra)
    return srv


class VirtualHostTest(unittest.TestCase):
    def test_name_based_vhosts_on_one_port(self):
        with vhost_server() as srv:
            c = srv.connect()
            self.assertEqual(c.request("/", headers={"Host": "a.test"}).body, b"A")
            r = c.request("/", headers={"Host": "b.test"})
            self.assertEqual(r.body, b"B")
            self.assertEqual(r.header("X-Site"), "b")
            # Port, trailing dot and case do not matter; wildcard aliases match.
            self.assertEqual(c.request("/", headers={"Host": f"B.Test.:{srv.port}"}).body, b"B")
            self.assertEqual(c.request("/", headers={"Host": "www.a.test"}).body, b"A")
            # Unknown names go to the first vhost for the address (the default).
            r = c.request("/", headers={"Host": "unknown.example"})
            self.assertEqual(r.body, b"A")
            self.assertIsNone(r.header("X-Site"))

    def test_dash_S_prints_the_vhost_map(self):
        srv = vhost_server()
        try:
            r = run("-S", "-f", srv.conf)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("a.test", r.stdout)
            self.assertIn("b.test", r.stdout)
            self.assertIn(f"{srv.conf}:", r.stdout)
            self.assertLess(r.stdout.index("a.test"), r.stdout.index("b.test"))
        finally:
            srv.cleanup()

    def test_dash_T_dumps_json_with_sources(self):
        srv = vhost_server("KeepAliveTimeout 7\n")
        try:
            r = run("-T", "-f", srv.conf)
            self.assertEqual(r.returncode, 0, r.stderr)
            dump = json.loads(r.stdout)
            text = json.dumps(dump)
            self.assertIn("b.test", text)
            self.assertIn(os.path.join(srv.root, "site-b"), text)
            # The KeepAliveTimeout line is the last line of the file before the vhosts? Find it.
            with open(srv.conf) as f:
                line = [i + 1 for i, l in enumerate(f) if l.startswith("KeepAliveTimeout")][0]
            self.assertIn(f"{srv.conf}:{line}", text)
        finally:
            srv.cleanup()


class SectionsTest(unittest.TestCase):
    def test_require_ip_and_all_denied(self):
        conf = """
            <Location /open>
                Require ip 127.0.0.1
            </Location>
            <Location /closed>
                Require all denied
            </Location>
            <Location /elsewhere>
                Require ip 10.0.0.0/8
            </Location>
            """
        files = {"open/f.txt": "open", "closed/f.txt": "closed", "elsewhere/f.txt": "x"}
        with Server(conf, files=files) as srv:
            c = srv.connect()
            self.assertEqual(c.request("/open/f.txt").status, 200)
            r = c.request("/closed/f.txt")
            self.assertEqual(r.status, 403)
            self.assertNotIn(b"closed", r.body)
            self.assertEqual(c.request("/elsewhere/f.txt").status, 403)

    def test_directory_sections_merge_by_depth(self):
        files = {"a/f.txt": "a", "a/b/f.txt": "b"}
        srv = Server(files=files)
        with open(srv.conf, "a") as f:
            f.write(textwrap.dedent(f"""
                <Directory "{srv.root}/a">
                    Header set X-Level a
                    Require all denied
                </Directory>
                <Directory "{srv.root}/a/b">
                    Header set X-Level b
                    Require all granted
                </Directory>
                """))
        with srv:
            c = srv.connect()
            self.assertEqual(c.request("/a/f.txt").status, 403)
            r = c.request("/a/b/f.txt")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("X-Level"), "b")

    def test_header_rules_on_success_and_errors(self):
        conf = """
            Header set X-Frame-Options DENY
            Header always set X-Always yes
            Header append Cache-Control no-transform
            Header unset Server
            """
        with Server(conf, files={"a.txt": "a"}) as srv:
            c = srv.connect()
            r = c.request("/a.txt")
            self.assertEqual(r.header("X-Frame-Options"), "DENY")
            self.assertEqual(r.header("X-Always"), "yes")
            self.assertEqual(r.header("Cache-Control"), "no-transform")
            self.assertIsNone(r.header("Server"))
            r = c.request("/missing")
            self.assertEqual(r.status, 404)
            self.assertIsNone(r.header("X-Frame-Options"))  # not "always": success only
            self.assertEqual(r.header("X-Always"), "yes")

    def test_error_document_types_charset_tokens_signature(self):
        conf = """
            ErrorDocument 404 /errors/404.html
            ErrorDocument 403 "Go away"
            AddType text/x-custom .cst
            AddDefaultCharset utf-8
            ServerTokens Prod
            ServerSignature On
            <Location /private>
                Require all denied
            </Location>
            <Location /downloads>
                ForceType application/octet-stream
            </Location>
            """
        files = {"errors/404.html": "<p>custom 404</p>", "f.cst": "c", "t.txt": "t",
                 "private/x": "x", "downloads/d.txt": "d"}
        with Server(conf, files=files) as srv:
            c = srv.connect()
            r = c.request("/nope")
            self.assertEqual(r.status, 404)
            self.assertEqual(r.body, b"<p>custom 404</p>")
            # Typed as the file itself would be: AddDefaultCharset applies.
            self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
            # With its own settings, not the failed request's (no ForceType download).
            self.assertEqual(c.request("/downloads/d.txt").header("Content-Type"),
                             "application/octet-stream")
            r = c.request("/downloads/missing.zip")
            self.assertEqual((r.status, r.body), (404, b"<p>custom 404</p>"))
            self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
            r = c.request("/private/x")
            self.assertEqual(r.status, 403)
            self.assertEqual(r.body, b"Go away")
            r = c.request("/f.cst")
            self.assertEqual(r.header("Content-Type"), "text/x-custom; charset=utf-8")
            self.assertEqual(r.header("Server"), "kahttpd")
            self.assertEqual(c.request("/t.txt").header("Content-Type"),
                             "text/plain; charset=utf-8")
            r = c.request("/missing.txt", method="POST")
            self.assertEqual(r.status, 405)
            self.assertIn(b"<address>kahttpd Server at localhost Port", r.body)

    def test_pid_file_and_error_log(self):
        srv = Server(files={"a.txt": "a"})
        pid_file = os.path.join(srv.tmp, "kahttpd.pid")
        error_log = os.path.join(srv.tmp, "error.log")
        with open(srv.conf, "a") as f:
            f.write(f'PidFile "{pid_file}"\nErrorLog "{error_log}"\nLogLevel info\n')
        try:
            srv.start()
            with open(pid_file) as f:
                self.assertEqual(int(f.read()), srv.proc.pid)
            srv.connect().request("/a.txt")
            srv.stop()
            self.assertFalse(os.path.exists(pid_file))
            with open(error_log) as f:
                self.assertIn("shutting down", f.read())
        finally:
            srv.stop(check=False)
            srv.cleanup()

    def test_max_connections_holds_the_excess_until_a_slot_frees(self):
        with Server("MaxConnections 2\n", files={"a.txt": "a"}) as srv:
            a, b = srv.connect(), srv.connect()
            self.assertEqual(a.request("/a.txt").status, 200)
            self.assertEqual(b.request("/a.txt").status, 200)
            # The third waits, unanswered, in the budget's queue (a and b are younger than
            # KeepAliveMinTimeout, so neither may be reaped for it yet)...
            c = srv.connect()
            c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            r, _, _ = select.select([c.sock], [], [], 0.2)
            self.assertEqual(r, [])
            # ... and is served as soon as a slot frees. (Beyond the queue a connection is
            # refused at once: test_pressure.)
            a.close()
            self.assertEqual(c.read_response().status, 200)
            self.assertEqual(b.request("/a.txt").status, 200)


class CheckTest(unittest.TestCase):
    def test_errors_unsupported_and_warnings(self):
        srv = Server(files={})
        try:
            with open(srv.conf, "a") as f:
                f.write("RewriteEngine On\nKeepAliveTimout 5\nLoadModule x_module m.so\n"
                        "<VirtualHost *:80>\nServerName x\n")
            r = run("-t", "-f", srv.conf)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"{srv.conf}:4: RewriteEngine: not supported by kahttpd", r.stderr)
            self.assertIn("did you mean KeepAliveTimeout?", r.stderr)
            self.assertIn(f"{srv.conf}:6: LoadModule:", r.stderr)
            self.assertIn(f"{srv.conf}:7: <VirtualHost>:", r.stderr)
            self.assertIn("</VirtualHost>", r.stderr)
        finally:
            srv.cleanup()

    def test_defines_and_ifdefine(self):
        srv = Server(files={"a.txt": "a"})
        try:
            with open(srv.conf, "a") as f:
                f.write("<IfDefine FAST>\nKeepAliveTimeout ${FASTTIMEOUT}\n</IfDefine>\n")
            r = run("-t", "-f", srv.conf)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run("-t", "-D", "FAST", "-f", srv.conf)
            self.assertEqual(r.returncode, 1)
            self.assertIn("${FASTTIMEOUT}", r.stderr)
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
