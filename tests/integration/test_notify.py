"""systemd Type=notify: with NOTIFY_SOCKET set, kahttpd says READY=1 once it serves,
RELOADING=1 and READY=1 around a SIGHUP, STOPPING=1 at a stop, and refreshes STATUS= with live
figures. The test is the service manager: it binds the unix datagram socket and reads what
arrives, in order (each read is an event, bounded by a timeout)."""

import os
import signal
import socket
import unittest

from kahttpd_fixture import TIME_SCALE, Server


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(files={"a.txt": "a"}, workers=2)
        path = os.path.join(self.srv.tmp, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(15 * TIME_SCALE)
        self.srv.env["NOTIFY_SOCKET"] = path
        self.srv.env["KAHTTPD_NOTIFY_INTERVAL_MS"] = "100"  # STATUS= every 100 ms
        self.seen = []

    def tearDown(self):
        self.srv.stop(check=False)
        self.sock.close()
        self.srv.cleanup()

    def next_with(self, key):
        """Reads datagrams until one holds `key` (a line such as "READY=1"); returns it as a
        dict. Every datagram read is kept in self.seen, in order."""
        while True:
            msg = self.sock.recv(4096).decode()
            self.seen.append(msg)
            fields = dict(line.split("=", 1) for line in msg.split("\n") if "=" in line)
            name, _, value = key.partition("=")
            if fields.get(name) == value or (value == "" and name in fields):
                return fields

    def test_ready_reloading_ready_status_and_stopping_arrive_in_order(self):
        self.srv.start()
        ready = self.next_with("READY=1")
        # The first message: the server serves (the "listening" line was printed before it).
        self.assertEqual(len(self.seen), 1, self.seen)
        self.assertRegex(ready["STATUS"], r"^generation 1, \d+ connections, \d+ requests served$")
        c = self.srv.connect()
        for _ in range(3):
            self.assertEqual(c.request("/a.txt").status, 200)
        # The refresh shows the live figures: the open connection and the three requests
        # (counted by the workers, gathered one refresh later).
        while True:
            status = self.next_with("STATUS=")["STATUS"]
            if "3 requests served" in status:
                break
        self.assertRegex(status, r"^generation 1, 1 connections, 3 requests served$")
        self.srv.proc.send_signal(signal.SIGHUP)
        reloading = self.next_with("RELOADING=1")
        self.assertEqual(reloading["STATUS"], "reloading the configuration")
        ready = self.next_with("READY=1")
        self.assertRegex(ready["STATUS"], r"^generation 2, ")
        c.close()
        self.srv.proc.send_signal(signal.SIGTERM)
        stopping = self.next_with("STOPPING=1")
        self.assertIn("stopping", stopping["STATUS"])
        # (A second SIGTERM, from the fixture's stop(), would find the default action.)
        self.assertEqual(self.srv.proc.wait(timeout=15 * TIME_SCALE), 0)
        # In order: one READY before the reload, RELOADING, READY, then STOPPING last of these.
        keys = [k for m in self.seen for k in ("READY=1", "RELOADING=1", "STOPPING=1")
                if k in m.split("\n")]
        self.assertEqual(keys, ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"])

    def test_a_failed_reload_is_ready_again_with_the_running_generation(self):
        self.srv.start()
        self.next_with("READY=1")
        with open(self.srv.conf, "a") as f:
            f.write("KeepAliveTimeout soon\n")
        self.srv.proc.send_signal(signal.SIGHUP)
        self.next_with("RELOADING=1")
        self.assertRegex(self.next_with("READY=1")["STATUS"], r"^generation 1, ")

    def test_without_notify_socket_nothing_is_sent(self):
        del self.srv.env["NOTIFY_SOCKET"]
        self.srv.start()
        self.assertEqual(self.srv.connect().request("/a.txt").status, 200)
        self.assertEqual(self.srv.stop(), 0)
        self.sock.setblocking(False)
        with self.assertRaises(BlockingIOError):
            self.sock.recv(4096)


if __name__ == "__main__":
    unittest.main()
