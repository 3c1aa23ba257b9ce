"""SIGUSR1 reopens the error log (logrotate); SIGHUP does not kill the server."""

import os
import signal
import unittest

from kahttpd_fixture import Server, request_once


class SignalsTest(unittest.TestCase):
    def test_sigusr1_reopens_the_error_log_after_a_rename(self):
        srv = Server(files={"a.txt": "a"})
        log = os.path.join(srv.tmp, "error.log")
        with open(srv.conf, "a") as f:
            f.write(f'ErrorLog "{log}"\nLogLevel info\n')
        try:
            srv.env["KAHTTPD_LOG_LEVEL"] = "info"
            srv.start()
            request_once(srv.port, b"BAD\x01 / HTTP/1.1\r\n\r\n")  # logs a parse error
            os.rename(log, log + ".1")                            # what logrotate does
            srv.proc.send_signal(signal.SIGUSR1)
            # The reopen is announced in the new file: wait for it (bounded) by reading.
            for _ in range(200):
                if os.path.exists(log) and "reopened" in open(log).read():
                    break
                srv.connect().request("/a.txt")  # a round trip gives the loop time to run
            request_once(srv.port, b"BAD\x02 / HTTP/1.1\r\n\r\n")
            srv.stop()
            with open(log + ".1") as f:
                old = f.read()
            with open(log) as f:
                new = f.read()
            self.assertEqual(old.count("while reading request head"), 1, old)
            self.assertEqual(new.count("while reading request head"), 1, new)
            self.assertIn("reopened", new)
        finally:
            srv.stop(check=False)
            srv.cleanup()

    def test_sighup_keeps_serving(self):
        with Server(files={"a.txt": "a"}) as srv:
            c = srv.connect()
            self.assertEqual(c.request("/a.txt").status, 200)
            srv.proc.send_signal(signal.SIGHUP)
            for _ in range(200):  # until the main thread has logged it (bounded)
                self.assertEqual(srv.connect().request("/a.txt").status, 200)
                if "reloaded the configuration" in srv.stderr():
                    break
            self.assertIn("caught SIGHUP", srv.stderr())
            # The connection from before the reload got its answer and a close.
            _, extra = c.wait_closed(timeout=5)
            self.assertEqual(extra, b"")
            self.assertEqual(srv.connect().request("/a.txt").status, 200)
            self.assertIsNone(srv.proc.poll())


if __name__ == "__main__":
    unittest.main()
