"""GracefulShutdownDelay: at a stop the server keeps listening and serving for that long while
SetHandler server-health answers 503, so a load balancer sees the drain before the listeners
close."""

import signal
import socket
import time
import unittest

from kahttpd_fixture import TIME_SCALE, Server

HEALTH = """\
<Location "/healthz">
    SetHandler server-health
</Location>
"""


class ShutdownDelayTest(unittest.TestCase):
    def test_health_answers_503_during_the_delay_then_the_listener_closes(self):
        delay = 1.5 * TIME_SCALE
        srv = Server(files={"a.txt": "a"}, workers=2,
                     directives=HEALTH + "GracefulShutdownDelay %dms\n" % int(delay * 1000))
        with srv:
            before = srv.connect()
            r = before.request("/healthz")
            self.assertEqual((r.status, r.body), (200, b"OK\n"))
            self.assertEqual(r.header("Cache-Control"), "no-store")
            signalled = time.monotonic()
            srv.proc.send_signal(signal.SIGTERM)
            # The signal is handled by the main thread; each attempt is a round trip.
            while time.monotonic() < signalled + delay:
                r = srv.connect().request("/healthz")
                if r.status == 503:
                    break
                self.assertEqual(r.status, 200)
            self.assertEqual((r.status, r.body), (503, b"draining\n"))
            self.assertLess(time.monotonic() - signalled, delay)  # well before the delay ends
            # Everything else is still served, on new connections and on old ones.
            self.assertEqual(srv.connect().request("/a.txt").status, 200)
            r = before.request("/a.txt")
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.header("Connection"))  # not draining connections yet
            self.assertIn("GracefulShutdownDelay: serving on, health checks answer 503",
                          srv.stderr())
            # Then the usual stop: the process exits after the delay, and nothing listens.
            rc = srv.proc.wait(timeout=(delay + 15) * TIME_SCALE)
            self.assertEqual(rc, 0)
            self.assertGreaterEqual(time.monotonic() - signalled, delay)
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
            self.assertIn("GracefulShutdownDelay is over, shutting down", srv.stderr())

    def test_a_second_sigterm_skips_the_delay(self):
        srv = Server(files={"a.txt": "a"}, directives=HEALTH + "GracefulShutdownDelay 3600\n")
        with srv:
            srv.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 20 * TIME_SCALE
            while time.monotonic() < deadline:
                if srv.connect().request("/healthz").status == 503:
                    break
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(timeout=15 * TIME_SCALE), 0)
            self.assertIn("during GracefulShutdownDelay, shutting down now", srv.stderr())

    def test_without_a_delay_health_is_200_until_the_stop(self):
        with Server(files={"a.txt": "a"}, directives=HEALTH) as srv:
            r = srv.connect().request("/healthz", method="HEAD")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Content-Length"), "3")


if __name__ == "__main__":
    unittest.main()
