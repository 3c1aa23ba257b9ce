"""Keep-alive under pressure: at the connection budget, idle keep-alive connections (least
recently active first, never under KeepAliveMinTimeout) and then stalled request heads give
their slot to a new connection; the idle timeout slides down as the budget fills;
MaxKeepAliveTime ends connections after a request, spread by its jitter.

The waits here are the rules' own durations (the floor, a lifetime), not stand-ins for an
event: each is a few hundred milliseconds, so the file stays bounded in time."""

import json
import re
import select
import socket
import time
import unittest

from kahttpd_fixture import STATUS_LOCATION, Client, Server, status_json

PAGE = "p" * 100
STATUS = STATUS_LOCATION
get_status = status_json


def get_status_quiet(client):
    """The status page over an existing connection (takes no slot of the budget)."""
    r = client.request("/server-status?json")
    assert r.status == 200, r
    return json.loads(r.body)


def wait_for_status(srv, condition, timeout=5.0):
    """The status page once `condition` holds (closes are counted when a connection's close
    completes, which may be a moment after the client saw its EOF)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = get_status(srv)
            if condition(s):
                return s
        except (OSError, EOFError):
            s = None  # refused at the budget while the closes are still being processed
        if time.monotonic() > deadline:
            assert s is not None, "the status page could not be had"
            return s
        time.sleep(0.02)


def closed_cleanly(client, timeout=3.0):
    """True when the server closed with a FIN (EOF), False on a reset; raises on a timeout."""
    client.sock.settimeout(timeout)
    try:
        while True:
            if not client.sock.recv(65536):
                return True
    except ConnectionResetError:
        return False


def readable(client, wait):
    """True when the server sent something (or closed) within `wait` seconds."""
    r, _, _ = select.select([client.sock], [], [], wait)
    return bool(r)


def wait_for_queue(client, n, timeout=5.0):
    """The budget part of the status page, over `client`, once `n` connections are queued."""
    deadline = time.monotonic() + timeout
    while True:
        s = get_status_quiet(client)["budget"]
        if s["queued"] >= n or time.monotonic() > deadline:
            return s
        time.sleep(0.02)


def keep_alive_timeout(response):
    m = re.search(r"timeout=(\d+)", response.header("Keep-Alive") or "")
    return int(m.group(1)) if m else None


class ReapingTest(unittest.TestCase):
    def test_idle_connections_give_their_slot_least_recently_active_first(self):
        # (AcceptFilter none: the holder below must reach the server while it sends nothing.)
        conf = ("MaxConnections 4\nKeepAliveTimeout 30\nKeepAliveMinTimeout 100ms\n"
                "AcceptFilter http none\n" + STATUS)
        with Server(conf, files={"p.txt": PAGE}) as srv:
            first, second = srv.connect(), srv.connect()
            self.assertEqual(first.request("/p.txt").status, 200)
            self.assertEqual(second.request("/p.txt").status, 200)
            # first is used again, so second is now the least recently active.
            self.assertEqual(first.request("/p.txt").status, 200)
            third = srv.connect()
            self.assertEqual(third.request("/p.txt").status, 200)
            # (Asked at 3 of 4: a connection going idle at 4 of 4 gets only the floor.)
            self.assertEqual(get_status_quiet(first)["budget"]["open"], 3)
            holder = srv.connect()  # the fourth slot: connected, nothing sent yet
            time.sleep(0.15)  # past the floor
            # A fresh client at the budget is served: the least recently active idle
            # connection made room, with a clean close (a FIN, not a reset).
            fresh = srv.connect()
            self.assertEqual(fresh.request("/p.txt").status, 200)
            self.assertTrue(closed_cleanly(second))
            self.assertTrue(first.is_open(wait=0.05))
            self.assertTrue(third.is_open(wait=0.0))
            self.assertTrue(holder.is_open(wait=0.0))  # idle ones go before a waiting head
            self.assertEqual(first.request("/p.txt").status, 200)
            for c in [first, third, holder, fresh]:
                c.close()
            s = wait_for_status(srv, lambda s: s["closes"]["reaped"] == 1)
            self.assertEqual(s["budget"]["reaped"], 1)
            self.assertEqual(s["budget"]["limit"], 4)
            self.assertEqual(s["budget"]["reap_floor_ms"], 100)

    def test_under_the_descriptor_limit_idle_connections_make_room_too(self):
        # ulimit -n 256: the budget is 256 - 256/4 - 32 = 160 connections, with no
        # MaxConnections at all. Held idle connections must not keep new clients out.
        conf = "KeepAliveTimeout 30\nKeepAliveMinTimeout 100ms\n" + STATUS
        with Server(conf, files={"p.txt": PAGE}, max_fds=256) as srv:
            first = srv.connect()
            budget = get_status_quiet(first)["budget"]["limit"]
            self.assertEqual(budget, 160)
            held = [first]
            for _ in range(budget - 1):
                c = srv.connect()
                self.assertEqual(c.request("/p.txt").status, 200)
                held.append(c)
            time.sleep(0.15)  # past the floor
            fresh = [srv.connect() for _ in range(10)]
            for c in fresh:
                self.assertEqual(c.request("/p.txt").status, 200)
            # Ten of the held ones made room, each with a clean close, the oldest first.
            self.assertTrue(closed_cleanly(held[0]))
            s = wait_for_status(srv, lambda s: s["closes"]["reaped"] >= 10)
            self.assertGreaterEqual(s["closes"]["reaped"], 10)
            self.assertEqual(s["closes"]["overload"], 0)
            for c in held + fresh:
                c.close()

    def test_connections_idle_less_than_the_floor_are_never_reaped(self):
        conf = "MaxConnections 3\nKeepAliveTimeout 30\nKeepAliveMinTimeout 10\n"
        with Server(conf, files={"p.txt": PAGE}) as srv:
            idle = []
            for _ in range(3):
                c = srv.connect()
                self.assertEqual(c.request("/p.txt").status, 200)
                idle.append(c)
            # Nothing has been idle for 10 s: the newcomer waits for a slot, unanswered, and
            # every idle connection keeps working.
            late = srv.connect()
            late.send("GET /p.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            for c in idle:
                self.assertEqual(c.request("/p.txt").status, 200)
            self.assertFalse(readable(late, 0.3))
            # A slot frees: the waiting one is served.
            idle[0].close()
            self.assertEqual(late.read_response().status, 200)
            for c in idle[1:]:
                self.assertEqual(c.request("/p.txt").status, 200)

    def test_a_queued_connection_gets_the_slot_of_one_that_comes_of_age(self):
        conf = ("MaxConnections 2\nKeepAliveTimeout 30\nKeepAliveMinTimeout 300ms\n"
                "RequestReadTimeout header=30\n" + STATUS)
        with Server(conf, files={"p.txt": PAGE}) as srv:
            idle = srv.connect()
            self.assertEqual(idle.request("/p.txt").status, 200)
            slow = srv.connect()
            slow.send("GET /p.txt HTTP/1.1\r\n")  # a head that does not end
            # Younger than the floor when it arrives: queued, then given the idle one's slot
            # once that has been idle for 300 ms, with no other event to prompt it. Idle goes
            # before a slow head.
            late = srv.connect()
            self.assertEqual(late.request("/p.txt").status, 200)
            self.assertTrue(closed_cleanly(idle))
            s = get_status_quiet(late)["budget"]
            self.assertEqual((s["reaped"], s["evicted"], s["refused"], s["queued_total"]),
                             (1, 0, 0, 1))
            self.assertTrue(slow.is_open())

    def test_beyond_the_queue_a_new_connection_is_refused(self):
        # MaxConnections 1: a queue of 16 (a quarter of the budget, at least 16).
        conf = "MaxConnections 1\nKeepAliveTimeout 30\nKeepAliveMinTimeout 10\n" + STATUS
        with Server(conf, files={"p.txt": PAGE}) as srv:
            held = srv.connect()
            self.assertEqual(held.request("/p.txt").status, 200)
            waiting = []
            for _ in range(16):
                c = srv.connect()
                c.send("GET /p.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                waiting.append(c)
            s = wait_for_queue(held, 16)
            self.assertEqual((s["open"], s["queued"], s["limit"]), (1, 16, 1))
            refused = srv.connect()
            with self.assertRaises((EOFError, ConnectionResetError, BrokenPipeError)):
                refused.request("/p.txt")
            # Oldest first: when the held one goes, the first to wait is served; the second
            # waits on (nothing of the first has been idle for 10 s).
            held.close()
            self.assertEqual(waiting[0].read_response().status, 200)
            self.assertFalse(readable(waiting[1], 0.2))
            self.assertEqual(get_status_quiet(waiting[0])["budget"]["refused"], 1)
            for c in waiting:
                c.close()

    def test_a_stalled_request_head_gives_its_slot_with_a_408(self):
        conf = "MaxConnections 3\nKeepAliveMinTimeout 100ms\nRequestReadTimeout header=30\n"
        with Server(conf, files={"p.txt": PAGE}) as srv:
            slow = []
            for _ in range(3):
                c = srv.connect()
                c.send("GET /p.txt HTTP/1.1\r\nHost: x\r\n")  # the head never ends
                slow.append(c)
            time.sleep(0.15)
            fresh = srv.connect()
            self.assertEqual(fresh.request("/p.txt").status, 200)
            r = slow[0].read_response()
            self.assertEqual(r.status, 408)
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(slow[1].is_open(wait=0.05))
            self.assertIn(b"evicted for a new connection", open(srv.stderr_path, "rb").read())


class PerAddressTest(unittest.TestCase):
    def test_max_connections_per_ip_limits_one_address_not_the_others(self):
        conf = "MaxConnectionsPerIP 2\n" + STATUS
        with Server(conf, files={"p.txt": PAGE}) as srv:
            held = [srv.connect(), srv.connect()]
            for c in held:
                self.assertEqual(c.request("/p.txt").status, 200)
            third = srv.connect()
            with self.assertRaises((EOFError, ConnectionResetError, BrokenPipeError)):
                third.request("/p.txt")
            # Another address (127.0.0.2 is loopback too) has its own count.
            sock = socket.socket()
            sock.bind(("127.0.0.2", 0))
            sock.connect(("127.0.0.1", srv.port))
            other = Client(sock)
            self.assertEqual(other.request("/p.txt").status, 200)
            # A closed connection gives its count back (once the server has seen the close).
            held.pop().close()
            deadline = time.monotonic() + 5
            while True:
                c = srv.connect()
                try:
                    self.assertEqual(c.request("/p.txt").status, 200)
                    break
                except (EOFError, ConnectionResetError, BrokenPipeError):
                    self.assertLess(time.monotonic(), deadline)
                    time.sleep(0.02)
            s = json.loads(other.request("/server-status?json").body)
            self.assertGreaterEqual(s["closes"]["per_ip_limit"], 1)


class SlowClientTest(unittest.TestCase):
    def test_a_head_below_min_rate_is_cut_with_408(self):
        conf = "RequestReadTimeout header=300ms-5,MinRate=100\n"
        with Server(conf, files={"p.txt": PAGE}) as srv:
            c = srv.connect()
            start = time.monotonic()
            c.send("GET /p.txt HTTP/1.1\r\n")
            # 1 byte every 100 ms is 10 bytes/s, far below 100: the window barely grows.
            for ch in "Host: x":
                try:
                    c.send(ch)
                except OSError:
                    break
                time.sleep(0.1)
                if not c.is_open(wait=0.0):
                    break
            r = c.read_response()
            self.assertEqual(r.status, 408)
            self.assertLess(time.monotonic() - start, 1.5)  # the 5 s maximum never came into it

    def test_a_head_at_or_above_min_rate_gets_more_time_up_to_the_maximum(self):
        conf = "RequestReadTimeout header=300ms-5,MinRate=100\n"
        with Server(conf, files={"p.txt": PAGE}) as srv:
            c = srv.connect()
            head = "GET /p.txt HTTP/1.1\r\nHost: x\r\nX-Pad: " + "a" * 100 + "\r\n\r\n"
            start = time.monotonic()
            # 30 bytes every 100 ms (300 bytes/s): past the initial 300 ms, never past its window.
            for i in range(0, len(head), 30):
                c.send(head[i:i + 30])
                time.sleep(0.1)
            self.assertGreater(time.monotonic() - start, 0.4)
            self.assertEqual(c.read_response().status, 200)

    def test_a_body_below_min_rate_is_cut(self):
        conf = "RequestReadTimeout body=300ms,MinRate=100\n"
        with Server(conf, files={"p.txt": PAGE}) as srv:
            c = srv.connect()
            c.send("GET /p.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
            self.assertEqual(c.read_response().status, 200)  # answered at the head
            start = time.monotonic()
            closed = False
            for _ in range(30):  # 1 byte / 100 ms: 3 s at most
                try:
                    c.send("b")
                except OSError:
                    closed = True
                    break
                if not c.is_open(wait=0.1):
                    closed = True
                    break
            self.assertTrue(closed)
            self.assertLess(time.monotonic() - start, 1.5)

    def test_a_large_body_after_an_error_answer_is_not_read_to_the_end(self):
        with Server("", files={"p.txt": PAGE}) as srv:
            c = srv.connect()
            c.send("POST /p.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 405)
            self.assertEqual(r.header("Connection"), "close")
            # The server shuts its side (the linger discards what is in flight) instead of
            # waiting for 10 MB.
            c.sock.settimeout(3)
            self.assertEqual(c.sock.recv(65536), b"")
            # A small body after an error answer is still read and thrown away, keeping the
            # connection.
            d = srv.connect()
            d.send("POST /p.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            r = d.read_response()
            self.assertEqual(r.status, 405)
            self.assertNotEqual(r.header("Connection"), "close")
            self.assertEqual(d.request("/p.txt").status, 200)


class AdaptiveTimeoutTest(unittest.TestCase):
    def test_the_idle_timeout_slides_to_the_floor_as_the_budget_fills(self):
        conf = "MaxConnections 10\nKeepAliveTimeout 10\nKeepAliveMinTimeout 2\n"
        with Server(conf, files={"p.txt": PAGE}) as srv:
            first = srv.connect()
            r = first.request("/p.txt")
            self.assertEqual(keep_alive_timeout(r), 10)  # 1 of 10: below half
            others = []
            for _ in range(8):
                c = srv.connect()
                self.assertEqual(c.request("/p.txt").status, 200)
                others.append(c)
            # 9 of 10 open: 10 - (10 - 2) * (9 - 5) / 5 = 3.6 s, announced as 3.
            r = first.request("/p.txt")
            self.assertEqual(keep_alive_timeout(r), 3)
            for c in others:
                c.close()

    def test_the_announced_timeout_is_the_one_the_server_waits(self):
        conf = "MaxConnections 4\nKeepAliveTimeout 3\nKeepAliveMinTimeout 500ms\n"
        with Server(conf, files={"p.txt": PAGE}) as srv:
            held = [srv.connect() for _ in range(3)]
            for c in held:
                self.assertEqual(c.request("/p.txt").status, 200)
            # 3 of 4 open: 3000 - 2500 * (3 - 2) / 2 = 1750 ms, announced as 1.
            c = held[-1]
            r = c.request("/p.txt")
            self.assertEqual(keep_alive_timeout(r), 1)
            start = time.monotonic()
            self.assertTrue(closed_cleanly(c, timeout=5))
            waited = time.monotonic() - start
            self.assertGreaterEqual(waited, 1.0)  # never less than announced
            self.assertLess(waited, 2.9)  # and well under the configured 3 s


class LifetimeTest(unittest.TestCase):
    def test_the_request_that_crosses_max_keep_alive_time_closes(self):
        conf = "MaxKeepAliveTime 300ms 0%\n" + STATUS
        with Server(conf, files={"p.txt": PAGE}) as srv:
            c = srv.connect()
            r = c.request("/p.txt")
            self.assertNotEqual(r.header("Connection"), "close")
            time.sleep(0.35)
            r = c.request("/p.txt")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(closed_cleanly(c))
            c.close()
            s = wait_for_status(srv, lambda s: s["closes"]["max_lifetime"] == 1)
            self.assertEqual(s["closes"]["max_lifetime"], 1)

    def test_lifetimes_are_spread_by_the_jitter(self):
        conf = "MaxKeepAliveTime 60 50%\n" + STATUS
        with Server(conf, files={"p.txt": PAGE}) as srv:
            held = [srv.connect() for _ in range(12)]
            for c in held:
                self.assertEqual(c.request("/p.txt").status, 200)
            rows = [row for row in get_status(srv)["connection_table"]
                    if row["lifetime_left_ms"] is not None]
            left = [row["lifetime_left_ms"] for row in rows]
            self.assertGreaterEqual(len(left), 12)
            self.assertTrue(all(29_000 <= v <= 60_000 for v in left), left)
            self.assertGreater(max(left) - min(left), 1_000, left)  # spread, not all alike


if __name__ == "__main__":
    unittest.main()
