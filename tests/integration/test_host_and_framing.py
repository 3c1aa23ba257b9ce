"""Strict Host and Transfer-Encoding (issue 12): an invalid one is a 400 and a close.

Over raw sockets: each bad request gets exactly one response, with its status and
`Connection: close`, the server closes the connection (a request pipelined behind it is never
answered), and a valid request on the same server is still served.
"""

import textwrap
import unittest

from kahttpd_fixture import Server, request_once

GOOD = b"GET /a.txt HTTP/1.1\r\nHost: a.test\r\n\r\n"


def responses(data):
    """Splits a byte stream into (status, head, body) for each response in it."""
    out = []
    while data:
        head, data = data.split(b"\r\n\r\n", 1)
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        out.append((int(head.split(b" ", 2)[1]), head, data[:length]))
        data = data[length:]
    return out


class StrictRequestTest(unittest.TestCase):
    HOST_CASES = [
        ("userinfo", b"GET /a.txt HTTP/1.1\r\nHost: user@a.test\r\n\r\n"),
        ("a path", b"GET /a.txt HTTP/1.1\r\nHost: a.test/x\r\n\r\n"),
        ("a list", b"GET /a.txt HTTP/1.1\r\nHost: a.test, b.test\r\n\r\n"),
        ("empty", b"GET /a.txt HTTP/1.1\r\nHost:\r\n\r\n"),
        ("empty, HTTP/1.0", b"GET /a.txt HTTP/1.0\r\nHost:\r\n\r\n"),
        ("a space", b"GET /a.txt HTTP/1.1\r\nHost: a test\r\n\r\n"),
        ("a bad port", b"GET /a.txt HTTP/1.1\r\nHost: a.test:8o\r\n\r\n"),
        ("an unclosed IPv6 literal", b"GET /a.txt HTTP/1.1\r\nHost: [::1\r\n\r\n"),
        ("two fields", b"GET /a.txt HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n"),
        ("none on HTTP/1.1", b"GET /a.txt HTTP/1.1\r\n\r\n"),
        ("userinfo in an absolute-form target",
         b"GET http://u@a.test/a.txt HTTP/1.1\r\nHost: a.test\r\n\r\n"),
        ("an empty host in an absolute-form target",
         b"GET http:///a.txt HTTP/1.1\r\nHost: a.test\r\n\r\n"),
        ("an invalid Host on a method that would be 405",
         b"POST /a.txt HTTP/1.1\r\nHost: a.test/x\r\nContent-Length: 0\r\n\r\n"),
        ("an invalid Host before a chunked body",
         b"POST /a.txt HTTP/1.1\r\nHost: u@a.test\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ]

    FRAMING_CASES = [
        # Each of these was served (200 or 405) before: llhttp ignores an empty field and
        # skips empty list elements.
        ("an empty Transfer-Encoding on GET",
         b"GET /a.txt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding:\r\n\r\n", 400),
        ("an empty Transfer-Encoding on POST",
         b"POST /a.txt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding:\r\n\r\n", 400),
        ("an empty Transfer-Encoding with Content-Length",
         b"POST /a.txt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding:\r\n"
         b"Content-Length: 5\r\n\r\nhello", 400),
        ("an empty element before chunked",
         b"POST /a.txt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: , chunked\r\n\r\n"
         b"0\r\n\r\n", 400),
        ("an empty field before a chunked one",
         b"POST /a.txt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding:\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("an empty field after a chunked one",
         b"POST /a.txt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n"
         b"Transfer-Encoding:\r\n\r\n0\r\n\r\n", 400),
        # These were refused before too; they stay so.
        ("a comma alone",
         b"POST /a.txt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: ,\r\n\r\n", 400),
        ("chunked twice",
         b"POST /a.txt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
         b"0\r\n\r\n", 400),
        ("chunked not final",
         b"POST /a.txt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ("an empty element after chunked",
         b"POST /a.txt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked,\r\n\r\n"
         b"0\r\n\r\n", 400),
        # Framed correctly, but with a coding kahttpd does not decode (RFC 9112 §6.1).
        ("an unknown coding before chunked",
         b"POST /a.txt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: foo, chunked\r\n\r\n"
         b"0\r\n\r\n", 501),
    ]

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"a.txt": "a"})
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def assert_refused(self, raw, expected):
        # request_once reads until the server closes (its timeout fails the test otherwise);
        # the valid request pipelined behind the bad one must get no answer.
        data = request_once(self.srv.port, raw + GOOD)
        got = responses(data)
        self.assertEqual(len(got), 1, data[:400])
        status, head, _ = got[0]
        self.assertEqual(status, expected, data[:200])
        self.assertIn(b"\r\nConnection: close", head + b"\r\n")
        # The server itself is fine.
        self.assertEqual(responses(request_once(
            self.srv.port, GOOD[:-2] + b"Connection: close\r\n\r\n"))[0][0], 200)

    def test_an_invalid_host_is_400_and_closes(self):
        for name, raw in self.HOST_CASES:
            with self.subTest(name):
                self.assert_refused(raw, 400)

    def test_broken_framing_is_400_and_closes_whatever_the_method(self):
        for name, raw, expected in self.FRAMING_CASES:
            with self.subTest(name):
                self.assert_refused(raw, expected)

    def test_a_head_request_with_an_invalid_host_gets_no_body(self):
        data = request_once(self.srv.port, b"HEAD /a.txt HTTP/1.1\r\nHost: a.test/x\r\n\r\n"
                                           + GOOD)
        head, rest = data.split(b"\r\n\r\n", 1)
        self.assertTrue(head.startswith(b"HTTP/1.1 400 "), data[:200])
        self.assertIn(b"\r\nConnection: close", head)
        self.assertEqual(rest, b"")

    def test_valid_hosts_are_served_on_one_connection(self):
        c = self.srv.connect()
        for host in ("a.test", "A.Test.", "a.test:8080", "a.test:", "127.0.0.1",
                     f"127.0.0.1:{self.srv.port}", "[::1]", "[::1]:80", "my_host-1"):
            with self.subTest(host):
                r = c.request("/a.txt", headers={"Host": host})
                self.assertEqual(r.status, 200)
                self.assertIsNone(r.header("Connection"))
        # HTTP/1.0 may leave Host out; chunked alone is fine framing.
        self.assertEqual(c.request("/a.txt", version="HTTP/1.0",
                                   headers={"Connection": "keep-alive"}).status, 200)
        c.send(b"POST /a.txt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: Chunked\r\n\r\n"
               b"1\r\nx\r\n0\r\n\r\n")
        self.assertEqual(c.read_response().status, 405)
        self.assertEqual(c.request("/a.txt").status, 200)


VHOSTS = """
<VirtualHost *>
    ServerName a.test
    DocumentRoot "{root}/site-a"
</VirtualHost>
<VirtualHost *>
    ServerName b.test
    DocumentRoot "{root}/site-b"
</VirtualHost>
"""


class AbsoluteFormTest(unittest.TestCase):
    def test_the_target_authority_chooses_the_vhost_over_host(self):
        srv = Server(files={"site-a/i.txt": "A", "site-b/i.txt": "B",
                            "site-b/index.html": "B root"})
        with open(srv.conf, "a") as f:
            f.write(textwrap.dedent(VHOSTS).format(root=srv.root))
        with srv:
            c = srv.connect()
            self.assertEqual(c.request("/i.txt", headers={"Host": "b.test"}).body, b"B")
            # RFC 9112 §3.2.2: the Host field is ignored for an absolute-form target.
            self.assertEqual(c.request("http://b.test/i.txt", headers={"Host": "a.test"}).body,
                             b"B")
            self.assertEqual(c.request("http://a.test:80/i.txt",
                                       headers={"Host": "b.test"}).body, b"A")
            self.assertEqual(c.request("HTTP://B.TEST?x=/y", headers={"Host": "a.test"}).body,
                             b"B root")


if __name__ == "__main__":
    unittest.main()
