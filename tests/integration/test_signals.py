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


class SecondStopSignalTest(unittest.TestCase):
    def test_a_second_sigterm_or_sigint_during_the_drain_changes_nothing(self):
        # A response in flight keeps the drain going; the second signal must not kill the
        # process (it did once the signal handles were closed: the default action came back).
        big = os.urandom(32 << 20)  # more than the socket buffers hold
        for second in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(second=second):
                srv = Server(files={"big.bin": big})
                try:
                    srv.start()
                    c = srv.connect()
                    c.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                    while b"\r\n\r\n" not in c.buf:
                        c._fill()
                    got = len(c.buf) - c.buf.index(b"\r\n\r\n") - 4
                    srv.proc.send_signal(signal.SIGTERM)
                    # The drain has begun once the server says so in its log (read a little
                    # of the body between looks, so the wait is bounded by the response).
                    for _ in range(500):
                        if "shutting down" in srv.stderr():
                            break
                        got += len(c.sock.recv(4096))
                    self.assertIn("shutting down", srv.stderr())
                    srv.proc.send_signal(second)
                    while True:
                        chunk = c.sock.recv(1 << 20)
                        if not chunk:
                            break
                        got += len(chunk)
                    self.assertEqual(got, len(big))  # the response was not cut
                    self.assertEqual(srv.proc.wait(timeout=15), 0)
                finally:
                    srv.stop(check=False)
                    srv.cleanup()
