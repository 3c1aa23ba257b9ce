"""The status page (SetHandler server-status): its numbers are checked against what the test did."""

import json
import socket
import unittest

from kahttpd_fixture import Server, request_once

STATUS = """\
KeepAliveTimeout {kat}
<Location /server-status>
    SetHandler server-status
{extra}</Location>
"""


def status_server(kat=5, extra="", workers=1, files=None):
    return Server(STATUS.format(kat=kat, extra=extra), workers=workers,
                  files=files or {"a.txt": "a" * 10})


def get_status(srv):
    c = srv.connect()
    r = c.request("/server-status?json")
    c.close()
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/json", r
    return json.loads(r.body)


def bucket(hist, requests):
    for b in hist:
        if b["min"] <= requests and (b["max"] is None or requests <= b["max"]):
            return b["count"]
    raise AssertionError("no bucket for %d" % requests)


def poll_status(srv, done, attempts=200):
    """Status until done(status) holds; each attempt is a full round trip, no sleeping."""
    s = get_status(srv)
    for _ in range(attempts):
        if done(s):
            return s
        s = get_status(srv)
    raise AssertionError("status never reached the expected state: %s" % json.dumps(s)[:2000])


class StatusTest(unittest.TestCase):
    def test_three_requests_on_one_connection_fill_bucket_three(self):
        with status_server() as srv:
            before = get_status(srv)
            c = srv.connect()
            for _ in range(3):
                self.assertEqual(c.request("/a.txt").status, 200)
            c.close()
            after = poll_status(
                srv, lambda s: bucket(s["requests_per_connection"], 3)
                > bucket(before["requests_per_connection"], 3))
            self.assertEqual(bucket(after["requests_per_connection"], 3),
                             bucket(before["requests_per_connection"], 3) + 1)
            self.assertEqual(bucket(after["requests_per_connection"], 2),
                             bucket(before["requests_per_connection"], 2))
            # Two gaps between the three requests, both on the idle-gap histogram.
            gaps = sum(b["count"] for b in after["idle_gap_ms"])
            self.assertEqual(gaps - sum(b["count"] for b in before["idle_gap_ms"]), 2)

    def test_totals_count_connections_and_requests_over_workers(self):
        with status_server(workers=2) as srv:
            for _ in range(5):
                raw = request_once(srv.port, b"GET /a.txt HTTP/1.1\r\nHost: x\r\n"
                                             b"Connection: close\r\n\r\n")
                self.assertTrue(raw.startswith(b"HTTP/1.1 200"), raw)
            c = srv.connect()
            c.request("/a.txt")
            c.request("/a.txt")
            # A connection the client closed is "closing" until its close callback has run.
            s = poll_status(srv, lambda s: s["connections"]["open"] == 2)
            # 5 closed connections + the open one + the status connection; each of the five
            # made one request, the open one two, the status request is the last.
            self.assertEqual(s["accepted"], 7)
            self.assertEqual(s["requests"], 8)
            self.assertAlmostEqual(s["reuse_ratio"], 8 / 7, places=6)
            self.assertEqual(s["workers"], 2)
            self.assertEqual(len(s["per_worker"]), 2)
            self.assertEqual(sum(w["accepted"] for w in s["per_worker"]), 7)
            self.assertEqual(s["closes"]["client_requested"], 5)
            self.assertEqual(bucket(s["requests_per_connection"], 1), 5)
            self.assertEqual(s["connections"]["idle"], 1)
            self.assertEqual(s["connections"]["writing"], 1)  # the status request itself
            self.assertEqual(s["connections"]["open"], 2)
            c.close()

    def test_live_table_shows_an_idle_connection_and_its_deadline(self):
        with status_server(kat=30) as srv:
            c = srv.connect()
            c.request("/a.txt")
            c.request("/a.txt")
            port = c.sock.getsockname()[1]
            s = get_status(srv)
            rows = [r for r in s["connection_table"] if r["client"] == "127.0.0.1:%d" % port]
            self.assertEqual(len(rows), 1, s["connection_table"])
            row = rows[0]
            self.assertEqual(row["state"], "idle")
            self.assertEqual(row["requests"], 2)
            self.assertEqual(row["deadline"], "idle")
            self.assertGreaterEqual(row["idle_ms"], 0)
            self.assertLess(row["idle_ms"], 30000)
            # KeepAliveTimeout 30 s: what is left plus what has passed is the whole timeout.
            self.assertGreater(row["deadline_in_ms"], 0)
            self.assertLessEqual(row["deadline_in_ms"], 30001)
            self.assertAlmostEqual(row["deadline_in_ms"] + row["idle_ms"], 30001, delta=50)
            own = [r for r in s["connection_table"] if r["state"] == "writing"]
            self.assertEqual(len(own), 1)
            self.assertGreaterEqual(s["timer_wheel"]["armed"], 2)
            c.close()

    def test_limit_caps_the_connection_table_but_not_the_counts(self):
        with status_server(workers=2) as srv:
            idle = [srv.connect() for _ in range(3)]
            for c in idle:
                c.request("/a.txt")
            c = srv.connect()
            s = json.loads(c.request("/server-status?json&limit=2").body)
            self.assertEqual(len(s["connection_table"]), 2)
            self.assertTrue(s["connection_table_truncated"])
            self.assertEqual(s["connections"]["idle"], 3)
            s = json.loads(c.request("/server-status?json").body)
            self.assertEqual(len(s["connection_table"]), s["connections"]["open"])
            self.assertFalse(s["connection_table_truncated"])
            html = c.request("/server-status?limit=1").body.decode()
            self.assertIn("1 of 4 connections shown", html)

    def test_idle_timeout_close_is_counted_with_its_timer(self):
        with status_server(kat=1) as srv:
            before = get_status(srv)
            c = srv.connect()
            c.request("/a.txt")
            waited, _ = c.wait_closed(timeout=5)
            self.assertGreaterEqual(waited, 0.5)
            s = poll_status(srv, lambda s: s["closes"]["idle_timeout"]
                            > before["closes"]["idle_timeout"])
            self.assertEqual(s["closes"]["idle_timeout"], before["closes"]["idle_timeout"] + 1)
            wheel = s["timer_wheel"]
            self.assertGreater(wheel["expirations"], before["timer_wheel"]["expirations"])
            self.assertGreater(wheel["scheduled"], before["timer_wheel"]["scheduled"])
            self.assertLessEqual(wheel["lag_ms"]["p50"], wheel["lag_ms"]["max"])
            self.assertLessEqual(wheel["lag_ms"]["p99"], wheel["lag_ms"]["max"])
            self.assertLess(wheel["lag_ms"]["max"], 1000)

    def test_html_page_for_people(self):
        with status_server() as srv:
            c = srv.connect()
            r = c.request("/server-status")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
            self.assertEqual(r.header("Cache-Control"), "no-store")
            body = r.body.decode()
            for heading in ("Connections", "Requests per connection", "Idle gaps",
                            "Closes by reason", "Timer wheel", "Current connections"):
                self.assertIn(heading, body)
            self.assertIn("idle_timeout", body)
            self.assertNotIn("http-equiv", body)
            r = c.request("/server-status?refresh=5")
            self.assertIn('<meta http-equiv="refresh" content="5">', r.body.decode())
            r = c.request("/server-status", method="HEAD")
            self.assertEqual(r.status, 200)
            self.assertGreater(int(r.header("Content-Length")), 0)
            # The connection still works after a HEAD (no body was sent).
            self.assertEqual(c.request("/a.txt").body, b"a" * 10)

    def test_pipelined_behind_and_ahead_of_status_stay_in_order(self):
        with status_server() as srv:
            c = srv.connect()
            c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"GET /server-status?json HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            first, status, last = c.read_response(), c.read_response(), c.read_response()
            self.assertEqual(first.body, b"a" * 10)
            self.assertEqual(json.loads(status.body)["requests"], 2)
            self.assertEqual(last.body, b"a" * 10)

    def test_local_only_unless_a_location_requires_otherwise(self):
        # A Require in the <Location> decides: here it leaves out 127.0.0.1.
        with status_server(extra="    Require ip 192.0.2.1\n") as srv:
            c = srv.connect()
            self.assertEqual(c.request("/server-status").status, 403)
        with status_server(extra="    Require all granted\n") as srv:
            self.assertEqual(srv.connect().request("/server-status").status, 200)

    def test_outside_its_location_files_are_served(self):
        with status_server() as srv:
            c = srv.connect()
            self.assertEqual(c.request("/a.txt").body, b"a" * 10)
            self.assertEqual(c.request("/server-statusx").status, 404)
            self.assertEqual(c.request("/server-status/sub?json").status, 200)


class StatusReviewRegressionTest(unittest.TestCase):
    def test_half_closed_client_still_gets_the_status_page(self):
        # What `nc -N` and many health checkers do: the request, then shutdown(SHUT_WR).
        with status_server(workers=2) as srv:
            for _ in range(5):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                s.sendall(b"GET /server-status?json HTTP/1.1\r\nHost: x\r\n\r\n")
                s.shutdown(socket.SHUT_WR)
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                s.close()
                head, body = data.split(b"\r\n\r\n", 1)
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
                self.assertIn("requests", json.loads(body))

    def test_status_behind_large_pipelined_responses_is_not_lost(self):
        # The page can be ready while earlier responses are still being written; it must be
        # queued after them, not into the buffer being written.
        import os
        import time
        with status_server(files={"f.bin": os.urandom(60 * 1024)}) as srv:
            for k in range(1, 99):  # below MaxKeepAliveRequests 100
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", srv.port))
                s.settimeout(5)
                s.sendall(b"GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n" * k +
                          b"GET /server-status?json HTTP/1.1\r\nHost: x\r\n\r\n"
                          b"GET /f.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                time.sleep(0.01)  # not synchronisation: a slow reader, so writes back up
                data = b""
                while True:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        break
                    data += chunk
                s.close()
                self.assertEqual(data.count(b"HTTP/1.1 200"), k + 2, "k=%d" % k)
                self.assertEqual(data.count(b"application/json"), 1, "k=%d" % k)


class StatusShutdownTest(unittest.TestCase):
    def test_status_connection_closes_on_stop(self):
        srv = status_server()
        srv.start()
        try:
            c = srv.connect()
            self.assertEqual(c.request("/server-status?json").status, 200)
            self.assertEqual(srv.stop(), 0)
            _, extra = c.wait_closed(timeout=5)
            self.assertEqual(extra, b"")
        finally:
            srv.stop(check=False)
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
