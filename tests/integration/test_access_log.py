"""CustomLog: Apache's formats, kahttpd's json, escaping, nothing lost at a clean stop, and
SIGUSR1 reopening after a rename."""

import json
import os
import re
import signal
import time
import unittest

from kahttpd_fixture import Server, request_once


class AccessLogTest(unittest.TestCase):
    def server(self, fmt):
        srv = Server("MaxKeepAliveRequests 0\n", files={"a.txt": "hello", "b.txt": "bb"})
        self.log = os.path.join(srv.tmp, "access.log")
        with open(srv.conf, "a") as f:
            f.write(f'CustomLog "{self.log}" {fmt}\n')
        return srv

    def lines(self):
        with open(self.log) as f:
            return f.read().splitlines()

    def test_combined_format_with_keepalive_fields(self):
        srv = self.server('"%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\" '
                          '%k %X %{close-reason}x %D"')
        try:
            srv.start()
            c = srv.connect()
            c.request("/a.txt", headers={"Referer": "http://r/", "User-Agent": 'ua "x"'})
            c.request("/missing")
            c.request("/b.txt", headers={"Connection": "close"})
            c.wait_closed()
            srv.stop()
            lines = self.lines()
            self.assertEqual(len(lines), 3, lines)
            pat = re.compile(r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
                             r'"(\S+ \S+ HTTP/1\.1)" (\d{3}) (\S+) "(.*)" "(.*)" (\d+) ([+-]) '
                             r'(\S+) (\d+)$')
            m = [pat.match(l) for l in lines]
            self.assertTrue(all(m), lines)
            self.assertEqual(m[0].group(1), "GET /a.txt HTTP/1.1")
            self.assertEqual((m[0].group(2), m[0].group(3)), ("200", "5"))
            self.assertEqual(m[0].group(4), "http://r/")
            self.assertEqual(m[0].group(5), 'ua \\"x\\"')  # quotes escaped as Apache does
            self.assertEqual([x.group(6) for x in m], ["0", "1", "2"])  # %k
            self.assertEqual([x.group(7) for x in m], ["+", "+", "-"])  # %X
            self.assertEqual(m[1].group(2), "404")
            self.assertEqual(m[2].group(8), "client_requested")
        finally:
            srv.stop(check=False)
            srv.cleanup()

    def test_a_head_that_times_out_is_logged_as_408(self):
        # Apache writes a '"-" 408' line for a connection whose request head did not come
        # in time; the close reason says which deadline it was.
        srv = self.server('"%h \\"%r\\" %>s %{close-reason}x"')
        try:
            with open(srv.conf, "a") as f:
                f.write("RequestReadTimeout header=300ms\n")
            srv.start()
            c = srv.connect()
            self.assertEqual(c.request("/a.txt").status, 200)
            c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n")  # never finished
            self.assertEqual(c.read_response().status, 408)
            c.wait_closed()
            srv.stop()
            lines = self.lines()
            self.assertEqual(len(lines), 2, lines)
            self.assertEqual(lines[1], '127.0.0.1 "-" 408 header_timeout')
        finally:
            srv.stop(check=False)
            srv.cleanup()

    def test_json_lines_are_valid_and_escaped(self):
        srv = self.server("json")
        try:
            srv.start()
            request_once(srv.port, b'GET /a.txt?q="\\x01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
            request_once(srv.port, b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            request_once(srv.port, b"BAD\x01 / HTTP/1.1\r\n\r\n")
            srv.stop()
            records = [json.loads(l) for l in self.lines()]
            self.assertEqual(len(records), 3)
            ok = [r for r in records if r["status"] == 200]
            self.assertEqual(len(ok), 2)
            self.assertEqual(ok[0]["target"], '/a.txt?q="\\x01')  # quote escaped, parsed back
            self.assertEqual(ok[0]["bytes"], 5)
            self.assertEqual(ok[0]["connection"], "-")
            self.assertTrue(any(r["status"] == 400 for r in records))
        finally:
            srv.stop(check=False)
            srv.cleanup()

    def test_json_keeps_a_utf8_user_agent_as_utf8(self):
        srv = self.server("json")
        try:
            srv.start()
            ua = "Navigateur café/1.0 \u2603".encode()  # é and a snowman, as UTF-8
            request_once(srv.port, b"GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: " + ua +
                         b"\xff\r\nConnection: close\r\n\r\n")
            srv.stop()
            with open(self.log, "rb") as f:
                raw = f.read()
            self.assertIn(ua + b"\\u00ff", raw)  # UTF-8 as is; the stray byte escaped
            self.assertEqual(json.loads(raw)["user_agent"], "Navigateur café/1.0 \u2603\u00ff")
        finally:
            srv.stop(check=False)
            srv.cleanup()

    def test_a_response_cut_off_by_the_client_is_logged_with_X(self):
        srv = Server("", files={"big.bin": os.urandom(1 << 20) * 32, "a.txt": "hello"})
        self.log = os.path.join(srv.tmp, "access.log")
        with open(srv.conf, "a") as f:
            f.write(f'CustomLog "{self.log}" "%>s %b %X"\nCustomLog "{self.log}.json" json\n')
        try:
            srv.start()
            c = srv.connect()
            c.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(c.sock.recv(4096).startswith(b"HTTP/1.1 200"))
            c.close()  # 32 MiB cannot have left yet: unread data makes this a reset
            # The server notices when its next write fails; a later request on another
            # connection is answered in order after that on the single worker.
            d = srv.connect()
            self.assertEqual(d.request("/a.txt").status, 200)
            d.close()
            srv.stop()
            lines = self.lines()
            self.assertIn("200 33554432 X", lines)
            self.assertIn("200 5 +", lines)
            with open(self.log + ".json") as f:
                records = [json.loads(l) for l in f]
            self.assertEqual(sorted(r["connection"] for r in records), ["+", "X"])
        finally:
            srv.stop(check=False)
            srv.cleanup()

    def test_a_streamed_response_is_logged_without_waiting_for_the_connection(self):
        srv = Server("KeepAliveTimeout 30\n", files={"big.bin": os.urandom(300 * 1024)})
        self.log = os.path.join(srv.tmp, "access.log")
        with open(srv.conf, "a") as f:
            f.write(f'CustomLog "{self.log}" "%U %>s %b %X"\n')
        try:
            srv.start()
            c = srv.connect()
            self.assertEqual(len(c.request("/big.bin").body), 300 * 1024)
            # The line is due within the one-second flush; poll (bounded) while the
            # connection stays open and idle.
            deadline = time.monotonic() + 5
            lines = []
            while time.monotonic() < deadline and not lines:
                lines = self.lines() if os.path.exists(self.log) else []
                time.sleep(0.05)
            self.assertEqual(lines, ["/big.bin 200 307200 +"])
            self.assertTrue(c.is_open())
        finally:
            srv.stop(check=False)
            srv.cleanup()

    def test_every_response_has_its_line_after_a_clean_stop(self):
        srv = self.server("common")
        try:
            srv.start()
            c = srv.connect()
            for _ in range(250):
                c.request("/a.txt")
            srv.stop()  # flushes the buffered lines
            self.assertEqual(len(self.lines()), 250)
        finally:
            srv.stop(check=False)
            srv.cleanup()

    def test_sigusr1_reopens_after_a_rename(self):
        srv = self.server("common")
        try:
            srv.start()
            c = srv.connect()
            c.request("/a.txt")
            os.rename(self.log, self.log + ".1")
            srv.proc.send_signal(signal.SIGUSR1)
            # Requests until the reopened file exists (bounded): the reopen runs on the
            # main thread, the requests on a worker.
            sent = 1
            for _ in range(500):
                c.request("/b.txt")
                sent += 1
                if os.path.exists(self.log):
                    break
            self.assertTrue(os.path.exists(self.log))
            c.request("/a.txt")
            sent += 1
            srv.stop()
            with open(self.log + ".1") as f:
                old = f.read().splitlines()
            with open(self.log) as f:
                new = f.read().splitlines()
            # Nothing lost across the rotation; lines buffered at the rename land in the new
            # file, and everything after the reopen does.
            self.assertEqual(len(old) + len(new), sent)
            self.assertIn("GET /a.txt", new[-1])
        finally:
            srv.stop(check=False)
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
