"""AcceptFilter (Apache's directive; TCP_DEFER_ACCEPT on Linux): with `data`, the default as in
Apache on Linux, the kernel hands a connection over only once its first bytes arrived, so a
connection that sends nothing costs kahttpd no descriptor, slot or timer; `none` turns it off.

Whether a connection was accepted is read from the status page's `accepted` counter: the
kernel's accept queue is first in, first out and one worker accepts, so a silent connection
made before a status request is accepted before that request's connection, or not at all.
"""

import json
import signal
import time
import unittest

from kahttpd_fixture import STATUS_LOCATION, Server, run, status_json

class AcceptFilterTest(unittest.TestCase):
    def accepted_while_silent(self, srv):
        """How many connections the server accepted across one silent connection and one
        status request (2: the silent one was accepted; 1: only the status request's)."""
        before = status_json(srv)["accepted"]
        silent = srv.connect()
        after = status_json(srv)["accepted"]
        # Whatever the filter, the silent connection is served once it speaks.
        r = silent.request("/a.txt")
        self.assertEqual((r.status, r.body), (200, b"a"))
        silent.close()
        return after - before

    def test_data_is_the_default_and_holds_a_silent_connection_in_the_kernel(self):
        with Server(STATUS_LOCATION, files={"a.txt": "a"}) as srv:
            self.assertEqual(self.accepted_while_silent(srv), 1)

    def test_none_hands_over_every_connection_at_once(self):
        with Server(STATUS_LOCATION + "AcceptFilter http none\n", files={"a.txt": "a"}) as srv:
            self.assertEqual(self.accepted_while_silent(srv), 2)

    def test_the_filter_is_per_protocol(self):
        # "https none" leaves the plain listener's default alone.
        with Server(STATUS_LOCATION + "AcceptFilter https none\n", files={"a.txt": "a"}) as srv:
            self.assertEqual(self.accepted_while_silent(srv), 1)

    def test_a_reload_changes_the_sockets_it_keeps(self):
        srv = Server(STATUS_LOCATION + "AcceptFilter http none\n", files={"a.txt": "a"})
        self.addCleanup(srv.cleanup)
        with srv:
            self.assertEqual(self.accepted_while_silent(srv), 2)
            with open(srv.conf, "a") as f:
                f.write("AcceptFilter http data\n")
            srv.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while status_json(srv)["generation"] < 2:
                self.assertLess(time.monotonic(), deadline, srv.stderr())
                time.sleep(0.05)
            self.assertEqual(self.accepted_while_silent(srv), 1)

    def test_bad_lines_stop_the_start_with_their_place(self):
        cases = [
            ("AcceptFilter ftp none", 'AcceptFilter: expected the protocol of a Listen, http or '
                                      'https, found "ftp"'),
            ("AcceptFilter http maybe", 'AcceptFilter: expected the filter data or none'),
            ("AcceptFilter http", "AcceptFilter: expected a protocol (http or https) and a filter "
                                  "(data or none), found 1 argument"),
            ("<VirtualHost *>\nAcceptFilter http none\n</VirtualHost>", "AcceptFilter"),
        ]
        for line, message in cases:
            with self.subTest(line=line):
                srv = Server(files={"a.txt": "a"})
                self.addCleanup(srv.cleanup)
                with open(srv.conf, "a") as f:
                    f.write(line + "\n")
                lines = sum(1 for _ in open(srv.conf))
                r = run("-t", "-f", srv.conf)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(message, r.stderr)
                if "\n" not in line:
                    self.assertIn(f"{srv.conf}:{lines}: ", r.stderr)

    def test_apache_filter_names_are_accepted_and_shown_by_dump(self):
        srv = Server(files={"a.txt": "a"})
        self.addCleanup(srv.cleanup)
        with open(srv.conf, "a") as f:
            f.write("AcceptFilter http httpready\nAcceptFilter https none\n")
        r = run("-t", "-f", srv.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("-T", "-f", srv.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        dumped = json.loads(r.stdout)
        entry = dumped["server"]["AcceptFilter"] if "server" in dumped else dumped["AcceptFilter"]
        self.assertEqual((entry["http"], entry["https"]), ("data", "none"))


if __name__ == "__main__":
    unittest.main()
