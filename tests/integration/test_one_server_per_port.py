"""One server per port (issue 12): a second kahttpd on a port another one serves refuses to start.

SO_REUSEPORT lets every process of the same user bind an address again, so before the fix a
second instance started and took a share of the first one's connections. The first server's
own workers still share the port, and a reload (which may bind more sockets) keeps working.
"""

import os
import select
import signal
import subprocess
import time
import unittest

from kahttpd_fixture import BIN, START_TIMEOUT, Server, wait_for_log


class OneServerPerPortTest(unittest.TestCase):
    def setUp(self):
        self.first = Server(files={"a.txt": "first"}, workers=2)
        self.first.start()

    def tearDown(self):
        self.first.stop(check=False)
        self.first.cleanup()

    def start_second(self, listen):
        """Runs a second kahttpd on `listen`; returns (exit code, stderr). A second server that
        starts anyway is stopped (by its PID) and fails the test."""
        conf = os.path.join(self.first.tmp, "conf", "second.conf")
        with open(conf, "w") as f:
            f.write(f'Listen {listen}\nDocumentRoot "{self.first.root}"\nWorkers 2\n')
        proc = subprocess.Popen([BIN, "-f", conf], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            # It either exits or says it is listening: wait for one of the two events.
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and proc.poll() is None:
                r, _, _ = select.select([proc.stdout], [], [], 0.5)
                if r and b"listening on" in proc.stdout.readline():
                    self.fail(f"a second kahttpd started on {listen}")
            rc = proc.wait(timeout=START_TIMEOUT)
            return rc, proc.stderr.read().decode(errors="replace")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=15)
            proc.stdout.close()
            proc.stderr.close()

    def assert_first_serves_every_request(self, n=10):
        # New connections each time: a second server in the SO_REUSEPORT group would get some.
        served = 0
        for _ in range(n):
            c = self.first.connect()
            r = c.request("/a.txt", headers={"Connection": "close"})
            c.close()
            served += r.status == 200 and r.body == b"first"
        self.assertEqual(served, n)

    def assert_second_is_refused(self, listen, shown):
        rc, err = self.start_second(listen)
        self.assertNotEqual(rc, 0, err)
        self.assertIn(f"second.conf:1: Listen: cannot listen on {shown}: Address already in use",
                      err)

    def test_a_second_server_on_the_same_port_refuses_to_start(self):
        port = self.first.port
        self.assert_second_is_refused(f"127.0.0.1:{port}", f"127.0.0.1:{port}")
        # Every address on that port (a wildcard over the first one's address) too.
        self.assert_second_is_refused(f"{port}", f"*:{port}")
        self.assert_first_serves_every_request()

    def test_a_reload_keeps_the_port_and_still_keeps_others_out(self):
        port = self.first.port
        self.assert_second_is_refused(f"127.0.0.1:{port}", f"127.0.0.1:{port}")
        # Reload with more workers, and every address on the same port besides: the extra
        # sockets join the groups this process holds, refused neither by its own sockets nor
        # by the probe (the wildcard overlaps the address already held).
        with open(self.first.conf, "w") as f:
            f.write(f'Listen 127.0.0.1:0\nListen {port}\nDocumentRoot "{self.first.root}"\n'
                    f"Workers 3\n")
        self.first.proc.send_signal(signal.SIGHUP)
        wait_for_log(self.first, "reloaded the configuration", probe="/a.txt")
        self.assertNotIn("reload failed", self.first.stderr())
        self.assertIn("generation 2 with 3 workers", self.first.stderr())
        self.assert_first_serves_every_request()
        self.assert_second_is_refused(f"127.0.0.1:{port}", f"127.0.0.1:{port}")
        # Back to the first configuration: that reload works as well.
        with open(self.first.conf, "w") as f:
            f.write(f'Listen 127.0.0.1:0\nDocumentRoot "{self.first.root}"\nWorkers 2\n')
        self.first.proc.send_signal(signal.SIGHUP)
        wait_for_log(self.first, "reloaded the configuration", count=2, probe="/a.txt")
        self.assertIn("generation 3 with 2 workers", self.first.stderr())
        self.assert_first_serves_every_request()
        self.assert_second_is_refused(f"127.0.0.1:{port}", f"127.0.0.1:{port}")


if __name__ == "__main__":
    unittest.main()
