"""mod_remoteip: PROXY protocol v1/v2 (RemoteIPProxyProtocol, RemoteIPProxyProtocolExceptions)
and RemoteIPHeader with RemoteIPInternalProxy / RemoteIPTrustedProxy. The client a proxy names
is the client everywhere: %h and %a, the JSON log, Require ip, the status page's table."""

import json
import os
import socket
import struct
import unittest

from kahttpd_fixture import Server, run, TIME_SCALE

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(src, dst, sport, dport, command=0x21, tlv=b""):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport) + tlv
    return V2_SIG + bytes([command, 0x11]) + struct.pack("!H", len(body)) + body


def v2_local():
    return V2_SIG + bytes([0x20, 0x00]) + struct.pack("!H", 0)


GET = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
STATUS_LOCATION = """
<Location "/server-status">
    SetHandler server-status
</Location>
"""


class ProxyProtocolTest(unittest.TestCase):
    def start(self, directives, log_format='"%h %{c}a %>s %U"'):
        srv = Server(directives, files={"a.txt": "hello", "private/b.txt": "secret"})
        self.log = os.path.join(srv.tmp, "access.log")
        with open(srv.conf, "a") as f:
            f.write(f'CustomLog "{self.log}" {log_format}\n')
        srv.start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop, check=False)
        return srv

    def log_lines(self, srv):
        srv.stop()
        with open(self.log) as f:
            return f.read().splitlines()

    def assert_closed_silently(self, c):
        """The server closes without writing a byte."""
        c.sock.settimeout(5 * TIME_SCALE)
        data = b""
        try:
            while True:
                chunk = c.sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        self.assertEqual(data, b"")

    def test_v1_and_v2_headers_name_the_client_in_the_log(self):
        srv = self.start("RemoteIPProxyProtocol On\nKeepAliveTimeout 60\n")
        c = srv.connect()
        c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\n" + GET)
        self.assertEqual(c.read_response().status, 200)
        # The header is read once: later requests on the connection are plain HTTP.
        self.assertEqual(c.request("/a.txt").status, 200)
        c.close()
        c = srv.connect()
        c.send(v2_header("198.51.100.9", "127.0.0.1", 5000, 80, tlv=b"\x05\x00\x02id") + GET)
        self.assertEqual(c.read_response().status, 200)
        c.close()
        # %{c}a, the connection's own client, is the PROXY header's too (as in Apache: the
        # header replaces the connection's address, RemoteIPHeader only the request's).
        lines = self.log_lines(srv)
        self.assertEqual(lines, ["192.0.2.7 192.0.2.7 200 /a.txt", "192.0.2.7 192.0.2.7 200 /a.txt",
                                 "198.51.100.9 198.51.100.9 200 /a.txt"])

    def test_v2_local_health_check_keeps_the_connection_address(self):
        srv = self.start("RemoteIPProxyProtocol On\n")
        c = srv.connect()
        c.send(v2_local() + GET)
        self.assertEqual(c.read_response().status, 200)
        c.close()
        self.assertEqual(self.log_lines(srv), ["127.0.0.1 127.0.0.1 200 /a.txt"])

    def test_header_split_over_many_writes(self):
        srv = self.start("RemoteIPProxyProtocol On\n")
        c = srv.connect()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in v2_header("203.0.113.5", "127.0.0.1", 1, 2):
            c.send(bytes([b]))
        c.send(GET)
        self.assertEqual(c.read_response().status, 200)
        c.close()
        self.assertEqual(self.log_lines(srv), ["203.0.113.5 203.0.113.5 200 /a.txt"])

    def test_missing_or_broken_header_closes_without_a_response(self):
        srv = self.start("RemoteIPProxyProtocol On\n")
        for first in (GET,                                             # plain HTTP
                      b"PROXY TCP4 192.0.2.7 127.0.0.1 40000\r\n" + GET,  # a port missing
                      b"PROXY TCP4 ::1 ::1 1 2\r\n" + GET,             # wrong family
                      V2_SIG + b"\x22\x11\x00\x0c" + bytes(12) + GET):  # command 2
            with self.subTest(first=first[:40]):
                c = srv.connect()
                c.send(first)
                self.assert_closed_silently(c)
                c.close()
        # Nothing was answered, nothing logged; the close reason is counted.
        self.assertIn("while reading the PROXY protocol header", srv.stderr())
        self.assertEqual(self.log_lines(srv), [])

    def test_silent_connection_closes_at_the_handshake_deadline(self):
        srv = self.start("RemoteIPProxyProtocol On\nRequestReadTimeout handshake=200ms header=20\n"
                         "AcceptFilter http none\n")  # (the connection sends nothing)
        c = srv.connect()
        self.assertTrue(c.wait_closed(timeout=5 * TIME_SCALE))
        self.assertIn("no PROXY protocol header in time", srv.stderr())

    def test_exceptions_and_vhost_scope(self):
        # An exempt peer talks plain HTTP; a PROXY header from it would then be a bad request.
        srv = self.start("RemoteIPProxyProtocol On\nRemoteIPProxyProtocolExceptions 127.0.0.0/8\n")
        c = srv.connect()
        c.send(GET)
        self.assertEqual(c.read_response().status, 200)
        c.close()
        srv.stop()
        # On in a vhost for every address (*): required; On in a vhost of another address: not.
        for vhost_addr, required in (("*", True), ("192.0.2.1:80", False)):
            with self.subTest(vhost=vhost_addr):
                srv = self.start(f"<VirtualHost {vhost_addr}>\n  RemoteIPProxyProtocol On\n"
                                 "</VirtualHost>\n")
                c = srv.connect()
                c.send(GET)
                if required:
                    self.assert_closed_silently(c)
                else:
                    self.assertEqual(c.read_response().status, 200)
                c.close()
                srv.stop()

    def test_require_ip_and_status_page_see_the_proxied_client(self):
        srv = self.start("RemoteIPProxyProtocol On\n<Location /private>\n"
                         "  Require ip 192.0.2.0/24\n</Location>\n" + STATUS_LOCATION)
        allowed = srv.connect()
        allowed.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\n"
                     b"GET /private/b.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(allowed.read_response().status, 200)
        denied = srv.connect()
        denied.send(b"PROXY TCP4 198.51.100.9 127.0.0.1 40000 80\r\n"
                    b"GET /private/b.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(denied.read_response().status, 403)
        # The status page is local-only: a proxied client from 127.0.0.5 is local, and the
        # table shows the two others by their proxied addresses.
        status = srv.connect()
        status.send(b"PROXY TCP4 127.0.0.5 127.0.0.1 40000 80\r\n"
                    b"GET /server-status?json HTTP/1.1\r\nHost: x\r\n\r\n")
        r = status.read_response()
        self.assertEqual(r.status, 200)
        clients = {row["client"].rsplit(":", 1)[0]
                   for row in json.loads(r.body)["connection_table"]}
        self.assertTrue({"192.0.2.7", "198.51.100.9", "127.0.0.5"} <= clients, clients)
        remote = srv.connect()
        remote.send(b"PROXY TCP4 203.0.113.1 127.0.0.1 40000 80\r\n"
                    b"GET /server-status?json HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(remote.read_response().status, 403)
        for c in (allowed, denied, status, remote):
            c.close()

    def test_json_log_records_the_proxied_client(self):
        srv = self.start("RemoteIPProxyProtocol On\n", log_format="json")
        c = srv.connect()
        c.send(b"PROXY TCP6 2001:db8::7 ::1 40000 80\r\n" + GET)
        self.assertEqual(c.read_response().status, 200)
        c.close()
        lines = self.log_lines(srv)
        self.assertEqual(len(lines), 1)
        self.assertEqual(json.loads(lines[0])["client"], "2001:db8::7")


class RemoteIPHeaderTest(unittest.TestCase):
    def start(self, directives):
        srv = Server(directives, files={"a.txt": "hello", "private/b.txt": "secret"})
        self.log = os.path.join(srv.tmp, "access.log")
        with open(srv.conf, "a") as f:
            f.write(f'CustomLog "{self.log}" "%a %{{c}}a %h %>s"\n')
        srv.start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop, check=False)
        return srv

    def get(self, srv, path, xff):
        c = srv.connect()
        status = c.request(path, headers={"X-Forwarded-For": xff}).status
        c.close()
        return status

    def lines(self, srv):
        srv.stop()
        with open(self.log) as f:
            return f.read().splitlines()

    def test_internal_proxy_is_believed_right_to_left(self):
        srv = self.start("RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1 10.0.0.0/8\n"
                         "<Location /private>\n  Require ip 192.0.2.7\n</Location>\n")
        self.assertEqual(self.get(srv, "/a.txt", "6.6.6.6, 192.0.2.7, 10.0.0.2"), 200)
        self.assertEqual(self.get(srv, "/private/b.txt", "192.0.2.7"), 200)
        self.assertEqual(self.get(srv, "/private/b.txt", "198.51.100.1"), 403)
        self.assertEqual(self.lines(srv), ["192.0.2.7 127.0.0.1 192.0.2.7 200",
                                           "192.0.2.7 127.0.0.1 192.0.2.7 200",
                                           "198.51.100.1 127.0.0.1 198.51.100.1 403"])

    def test_header_from_an_untrusted_peer_is_ignored(self):
        srv = self.start("RemoteIPHeader X-Forwarded-For\nRemoteIPTrustedProxy 10.0.0.1\n"
                         "<Location /private>\n  Require ip 192.0.2.7\n</Location>\n")
        self.assertEqual(self.get(srv, "/private/b.txt", "192.0.2.7"), 403)
        self.assertEqual(self.lines(srv), ["127.0.0.1 127.0.0.1 127.0.0.1 403"])


class ConfigCheckTest(unittest.TestCase):
    def check(self, text):
        srv = Server(text)
        self.addCleanup(srv.cleanup)
        return run("-t", "-f", srv.conf), srv.conf

    def test_short_keep_alive_behind_a_proxy_warns(self):
        r, conf = self.check("KeepAliveTimeout 5\nRemoteIPProxyProtocol On\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{conf}:5: RemoteIPProxyProtocol: expected KeepAliveTimeout of at least "
                      "60s behind a load balancer, found 5s", r.stderr)
        r, _ = self.check("KeepAliveTimeout 75\nRemoteIPProxyProtocol On\n")
        self.assertNotIn("RemoteIPProxyProtocol", r.stderr)

    def test_bad_values_stop_the_start(self):
        for line, message in (
                ("RemoteIPProxyProtocol Maybe", "RemoteIPProxyProtocol: expected On or Off"),
                ("RemoteIPInternalProxy proxy.example", "RemoteIPInternalProxy: expected an IP "
                 "address, a partial IPv4 address as in 10.1 or a network as in 10.0.0.0/8 "
                 "(host names are not resolved), found \"proxy.example\""),
                ("RemoteIPHeader \"X Forwarded\"", "RemoteIPHeader: expected a header field name"),
                ("RemoteIPProxyProtocolExceptions", "RemoteIPProxyProtocolExceptions: expected an IP")):
            with self.subTest(line=line):
                r, conf = self.check(line + "\n")
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(f"{conf}:4: {message}", r.stderr)


if __name__ == "__main__":
    unittest.main()
