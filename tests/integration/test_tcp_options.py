"""TCPKeepAlive*, TCPUserTimeout: applied to accepted sockets, read back from the kernel."""

import os
import re
import shutil
import subprocess
import time
import unittest

from kahttpd_fixture import Server


def socket_options_line(srv):
    """The server's debug line with the options it read back from the accepted socket. It is
    written at accept, before the response, so once a response arrived it is there."""
    m = re.search(r"socket options: (.*)", srv.stderr())
    if not m:
        raise AssertionError("no socket options line: " + srv.stderr())
    return dict(kv.split("=") for kv in m.group(1).split())


class TcpOptionsTest(unittest.TestCase):
    def test_keepalive_options_are_applied(self):
        conf = ("TCPKeepAlive On\nTCPKeepAliveIdle 100\nTCPKeepAliveInterval 10\n"
                "TCPKeepAliveCount 3\nTCPUserTimeout 5s\n")
        with Server(conf, files={"a.txt": "a"}, env={"KAHTTPD_LOG_LEVEL": "debug"}) as srv:
            c = srv.connect()
            self.assertEqual(c.request("/a.txt").status, 200)
            opts = socket_options_line(srv)
            self.assertEqual(opts, {"nodelay": "1", "keepalive": "1", "idle": "100", "interval": "10",
                                    "count": "3", "user_timeout": "5000"})
            if shutil.which("ss"):
                out = subprocess.run(["ss", "-tnoH", "state", "established",
                                      f"( sport = :{srv.port} )"],
                                     capture_output=True, text=True, timeout=5).stdout
                self.assertIn("keepalive", out)

    def test_a_streamed_file_is_uncorked_at_its_end(self):
        # A body streamed with sendfile is sent under TCP_CORK (full segments, as nginx's
        # tcp_nopush), and the cork is taken off after its last byte. Left on, the kernel holds
        # the last partial segment for its 200 ms ceiling: every response would take at least
        # that long. (An odd size, so the last segment is partial.)
        body = os.urandom(300_001)
        with Server(files={"big.bin": body}) as srv:  # (EnableSendfile On, the default)
            c = srv.connect(timeout=10)
            slow = 0
            for _ in range(6):
                start = time.monotonic()
                r = c.request("/big.bin")
                took = time.monotonic() - start
                self.assertEqual((r.status, r.body), (200, body))
                slow += took >= 0.19
            self.assertLess(slow, 3, "responses held back by the kernel's cork ceiling")

    def test_keepalive_is_off_by_default(self):
        with Server(files={"a.txt": "a"}, env={"KAHTTPD_LOG_LEVEL": "debug"}) as srv:
            c = srv.connect()
            self.assertEqual(c.request("/a.txt").status, 200)
            opts = socket_options_line(srv)
            self.assertEqual(opts["keepalive"], "0")
            self.assertEqual(opts["user_timeout"], "0")

    def test_nodelay_and_local_address_on_specific_and_wildcard_listeners(self):
        # Every accepted socket has TCP_NODELAY (set on the listener before it listens, which
        # Linux copies to the sockets it accepts, so connections do not set it again). The
        # local address of a listener bound to one address is taken from it rather than asked
        # per connection (getsockname), while a wildcard listener still asks. Both must log the
        # address and ports the client reached (Apache's %A, %p and %{remote}p).
        for listen in ("127.0.0.1:0", "0.0.0.0:0"):
            with self.subTest(listen=listen):
                srv = Server(files={"a.txt": "a"}, env={"KAHTTPD_LOG_LEVEL": "debug"},
                             listen=listen)
                self.addCleanup(srv.cleanup)
                log = os.path.join(srv.tmp, "local.log")
                with open(srv.conf, "a") as f:
                    f.write(f'CustomLog "{log}" "%A %p %{{local}}p %{{remote}}p %>s"\n')
                srv.start()
                c = srv.connect()
                self.assertEqual(c.request("/a.txt").status, 200)
                client_port = c.sock.getsockname()[1]
                self.assertEqual(socket_options_line(srv)["nodelay"], "1")
                port = srv.port
                srv.stop()
                with open(log) as f:
                    self.assertEqual(f.read(), f"127.0.0.1 {port} {port} {client_port} 200\n")

if __name__ == "__main__":
    unittest.main()
