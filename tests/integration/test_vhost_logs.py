"""CustomLog, ErrorLog and LogLevel inside <VirtualHost>, with Apache's rules: a vhost with logs
of its own writes its requests' lines there only, a vhost without writes to the main server's;
a request refused before a vhost is chosen goes to the default vhost of its address; a file
named by several scopes is opened once; SIGUSR1 and SIGHUP cover the vhosts' files; a vhost log
that cannot be opened stops the start (and fails a reload) with a FILE:LINE error.

Access lines are buffered by the workers and reach the files at the latest when the server
stops, so the tests read them after srv.stop(); error lines are written at once. Waits are
bounded loops with a round trip per attempt, never sleeps.
"""

import json
import os
import signal
import unittest

from kahttpd_fixture import Server, request_once, run

FMT = '"%v %>s %U"'


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().splitlines()


def get(srv, host, path):
    c = srv.connect()
    try:
        return c.request(path, headers={"Host": host, "Connection": "close"}).status
    finally:
        c.close()


PROBE = "/probe"


def wait_until(srv, done, what, attempts=500):
    """Calls done() until it is true, with a round trip to the server between attempts (the
    main thread, which reopens and reloads, runs meanwhile). The probes ask for PROBE."""
    for _ in range(attempts):
        if done():
            return
        get(srv, "nobody.test", PROBE)
    raise AssertionError("gave up waiting for " + what + ": " + srv.stderr()[-2000:])


def line_of(conf, text):
    """The 1-based line of the configuration file that contains `text`."""
    with open(conf) as f:
        for n, line in enumerate(f, 1):
            if text in line:
                return n
    raise AssertionError(text + " not in " + conf)


class VhostLogsTest(unittest.TestCase):
    def start(self, directives, env=None):
        self.srv = Server(files={"a.txt": "hello", "private/p.txt": "p"})
        self.addCleanup(self.srv.cleanup)
        self.addCleanup(self.srv.stop, check=False)
        self.log = lambda name: os.path.join(self.srv.tmp, name)
        with open(self.srv.conf, "a") as f:
            f.write(directives.replace("@LOGS@", self.srv.tmp))
        self.srv.env.update(env or {})
        self.srv.start()
        return self.srv

    def test_each_vhost_writes_its_own_logs_and_one_without_writes_the_main_servers(self):
        srv = self.start(f"""\
ErrorLog "@LOGS@/main_error.log"
CustomLog "@LOGS@/main.log" {FMT}
<VirtualHost *>
    ServerName a.test
    CustomLog "@LOGS@/a.log" {FMT}
    CustomLog "@LOGS@/a.json" json
    ErrorLog "@LOGS@/a_error.log"
</VirtualHost>
<VirtualHost *>
    ServerName b.test
    CustomLog "@LOGS@/b.log" {FMT}
    CustomLog "@LOGS@/main.log" "b-copy %>s %U"
    ErrorLog "@LOGS@/b_error.log"
    <Location /private>
        Require all denied
    </Location>
</VirtualHost>
<VirtualHost *>
    ServerName c.test
</VirtualHost>
""")
        self.assertEqual(get(srv, "a.test", "/a.txt"), 200)
        self.assertEqual(get(srv, "a.test", "/missing-a"), 404)
        self.assertEqual(get(srv, "b.test", "/missing-b"), 404)
        self.assertEqual(get(srv, "b.test", "/private/p.txt"), 403)
        self.assertEqual(get(srv, "c.test", "/missing-c"), 404)
        # An unknown name is served by the first vhost of the address, and logged there.
        self.assertEqual(get(srv, "nobody.test", "/a.txt"), 200)
        # Refused before any vhost is chosen: the default vhost of the address (a.test).
        self.assertTrue(request_once(srv.port, b"BAD\x01 / HTTP/1.1\r\n\r\n")
                        .startswith(b"HTTP/1.1 400"))
        self.assertTrue(request_once(srv.port, b"GET /bad-host HTTP/1.1\r\nHost: a b\r\n\r\n")
                        .startswith(b"HTTP/1.1 400"))

        # The main file is named by the main server and by b.test: opened once, shared.
        main_log = os.path.realpath(self.log("main.log"))
        fd_dir = f"/proc/{srv.proc.pid}/fd"
        targets = [os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir)]
        self.assertEqual(targets.count(main_log), 1, targets)
        self.assertEqual(targets.count(os.path.realpath(self.log("a.log"))), 1, targets)
        srv.stop()

        self.assertEqual(read_lines(self.log("a.log")),
                         ["a.test 200 /a.txt", "a.test 404 /missing-a", "a.test 200 /a.txt",
                          "a.test 400 -", "a.test 400 /bad-host"])
        records = [json.loads(line) for line in read_lines(self.log("a.json"))]
        self.assertEqual([r["status"] for r in records], [200, 404, 200, 400, 400])
        self.assertEqual(read_lines(self.log("b.log")),
                         ["b.test 404 /missing-b", "b.test 403 /private/p.txt"])
        # c.test has no CustomLog: the main server's; b.test's second line shares the file.
        self.assertEqual(sorted(read_lines(self.log("main.log"))),
                         ["b-copy 403 /private/p.txt", "b-copy 404 /missing-b",
                          "c.test 404 /missing-c"])

        a_err = "\n".join(read_lines(self.log("a_error.log")))
        b_err = "\n".join(read_lines(self.log("b_error.log")))
        main_err = "\n".join(read_lines(self.log("main_error.log")))
        self.assertIn("file does not exist: " + srv.root + "/missing-a", a_err)
        self.assertIn("400 ", a_err)
        self.assertIn("while reading request head", a_err)
        self.assertIn("file does not exist: " + srv.root + "/missing-b", b_err)
        self.assertIn("access to /private/p.txt denied", b_err)
        self.assertIn("file does not exist: " + srv.root + "/missing-c", main_err)
        for other in (b_err, main_err):
            self.assertNotIn("missing-a", other)
            self.assertNotIn("while reading request head", other)
        self.assertNotIn("missing-b", a_err + main_err)
        self.assertNotIn("missing-c", a_err + b_err)
        # Process-wide lines (the stop) stay in the main error log.
        self.assertIn("caught SIGTERM", main_err)
        self.assertNotIn("SIGTERM", a_err + b_err)

    def test_a_vhost_loglevel_applies_to_its_lines_only(self):
        # KAHTTPD_LOG_LEVEL (the fixture's info) would override every LogLevel: empty = unset.
        srv = self.start("""\
LogLevel warn
<VirtualHost *>
    ServerName a.test
    ErrorLog "@LOGS@/a_error.log"
    LogLevel info
</VirtualHost>
<VirtualHost *>
    ServerName b.test
    ErrorLog "@LOGS@/b_error.log"
</VirtualHost>
""", env={"KAHTTPD_LOG_LEVEL": ""})
        self.assertEqual(get(srv, "a.test", "/missing-a"), 404)
        self.assertEqual(get(srv, "b.test", "/missing-b"), 404)
        srv.stop()
        self.assertIn("file does not exist", "\n".join(read_lines(self.log("a_error.log"))))
        # b.test inherits the main server's warn: its info line is not written.
        self.assertEqual(read_lines(self.log("b_error.log")), [])

    def test_sigusr1_reopens_the_vhost_logs_after_a_rename(self):
        srv = self.start(f"""\
<VirtualHost *>
    ServerName a.test
    CustomLog "@LOGS@/a.log" {FMT}
    ErrorLog "@LOGS@/a_error.log"
</VirtualHost>
""")
        self.assertEqual(get(srv, "a.test", "/before"), 404)
        for name in ("a.log", "a_error.log"):
            os.rename(self.log(name), self.log(name + ".1"))  # what logrotate does
        srv.proc.send_signal(signal.SIGUSR1)
        # The reopen creates both files again (O_CREAT): wait for them.
        wait_until(srv, lambda: all(os.path.exists(self.log(n)) for n in ("a.log", "a_error.log")),
                   "the reopened vhost logs")
        self.assertEqual(get(srv, "a.test", "/after"), 404)
        srv.stop()
        old_err = "\n".join(read_lines(self.log("a_error.log.1")))
        new_err = "\n".join(read_lines(self.log("a_error.log")))
        self.assertIn("/before", old_err)
        self.assertIn("/after", new_err)
        self.assertNotIn("/after", old_err)
        # Access lines buffered at the rename land in the new file: none lost, /after new.
        old, new = read_lines(self.log("a.log.1")), read_lines(self.log("a.log"))
        self.assertIn("a.test 404 /after", new)
        self.assertEqual(sum(l.endswith("/before") for l in old + new), 1)

    def test_a_reload_adds_a_vhost_log_and_one_that_cannot_be_opened_fails_it(self):
        vhost = """\
<VirtualHost *>
    ServerName a.test
{logs}</VirtualHost>
"""
        srv = self.start(f'CustomLog "@LOGS@/main.log" {FMT}\n' + vhost.format(logs=""))
        self.assertEqual(get(srv, "a.test", "/one"), 404)
        with open(srv.conf) as f:
            base = f.read()
        own = (f'    CustomLog "{srv.tmp}/a.log" {FMT}\n'
               f'    ErrorLog "{srv.tmp}/a_error.log"\n')
        with open(srv.conf, "w") as f:
            f.write(base.replace("    ServerName a.test\n", "    ServerName a.test\n" + own))
        srv.proc.send_signal(signal.SIGHUP)
        wait_until(srv, lambda: "reloaded the configuration" in srv.stderr(), "the reload")
        # The previous worker stops accepting when its own loop sees the reload, a moment after
        # that line: wait until a probe was answered by the new one (only it has a_error.log).
        wait_until(srv, lambda: PROBE in "\n".join(read_lines(os.path.join(srv.tmp, "a_error.log"))),
                   "the new generation's answer")
        self.assertEqual(get(srv, "a.test", "/two"), 404)

        # A reload naming a vhost log in a missing folder fails; the running one stays.
        missing = os.path.join(srv.tmp, "no-such-dir", "c.log")
        with open(srv.conf, "a") as f:
            f.write(f'<VirtualHost *>\n    ServerName c.test\n    CustomLog "{missing}" {FMT}\n'
                    f'</VirtualHost>\n')
        where = f"{srv.conf}:{line_of(srv.conf, missing)}"
        srv.proc.send_signal(signal.SIGHUP)
        wait_until(srv, lambda: "reload failed" in srv.stderr(), "the failed reload")
        self.assertIn(f"{where}: CustomLog: cannot open {missing}: No such file or directory",
                      srv.stderr())
        self.assertEqual(get(srv, "a.test", "/three"), 404)
        srv.stop()

        # The probes (nobody.test, so a.test) went wherever a.test logged at the time.
        def requests(name):
            return [l for l in read_lines(self.log(name)) if not l.endswith(PROBE)]
        self.assertEqual(requests("a.log"), ["a.test 404 /two", "a.test 404 /three"])
        self.assertEqual(requests("main.log"), ["a.test 404 /one"])
        self.assertIn("/three", "\n".join(read_lines(self.log("a_error.log"))))

    def test_a_reload_whose_main_errorlog_cannot_be_opened_fails_and_changes_nothing(self):
        # As a vhost's log (above) and as at start: the reload fails with FILE:LINE, the
        # running configuration goes on, and the error goes to the ErrorLog still in use.
        srv = self.start('ErrorLog "@LOGS@/main_error.log"\nLogLevel info\n')
        main_error = self.log("main_error.log")
        wait_until(srv, lambda: read_lines(main_error), "the first line of the ErrorLog")
        with open(srv.conf) as f:
            base = f.read()
        missing = os.path.join(srv.tmp, "no-such-dir", "error.log")
        with open(srv.conf, "w") as f:
            f.write(base.replace(f'ErrorLog "{srv.tmp}/main_error.log"',
                                 f'ErrorLog "{missing}"\nHeader set X-Generation two'))
        where = f"{srv.conf}:{line_of(srv.conf, missing)}"
        srv.proc.send_signal(signal.SIGHUP)
        wait_until(srv, lambda: "reload failed" in "\n".join(read_lines(main_error)),
                   "the failed reload")
        self.assertIn(f"reload failed: {where}: ErrorLog: cannot open {missing}: "
                      "No such file or directory", "\n".join(read_lines(main_error)))
        c = srv.connect()
        self.addCleanup(c.close)
        r = c.request("/a.txt")
        self.assertEqual(r.body, b"hello")
        self.assertIsNone(r.header("X-Generation"))  # the new configuration never started

        # Fixed, the same reload goes through and the new ErrorLog takes the lines.
        second = self.log("second_error.log")
        with open(srv.conf, "w") as f:
            f.write(base.replace(f'ErrorLog "{srv.tmp}/main_error.log"',
                                 f'ErrorLog "{second}"\nHeader set X-Generation two'))
        srv.proc.send_signal(signal.SIGHUP)
        wait_until(srv, lambda: "reloaded the configuration" in "\n".join(read_lines(second)),
                   "the reload")
        def generation_header():
            fresh = srv.connect()
            try:
                return fresh.request("/a.txt", headers={"Connection": "close"}).header(
                    "X-Generation")
            finally:
                fresh.close()
        # The previous worker accepts until its own loop sees the reload: ask until the new
        # one answers.
        wait_until(srv, lambda: generation_header() == "two", "the new generation's answer")
        self.assertNotIn("reloaded the configuration", "\n".join(read_lines(main_error)))


class VhostLogStartTest(unittest.TestCase):
    def check_refused(self, directive, line, in_vhost=True):
        srv = Server()
        self.addCleanup(srv.cleanup)
        missing = os.path.join(srv.tmp, "no-such-dir", "x.log")
        with open(srv.conf, "a") as f:
            if in_vhost:
                f.write(f'<VirtualHost *>\n    ServerName a.test\n    {line.format(missing)}\n'
                        f'</VirtualHost>\n')
            else:
                f.write(line.format(missing) + "\n")
        r = run("-f", srv.conf)
        self.assertEqual(r.returncode, 1, r.stderr)
        where = f"{srv.conf}:{line_of(srv.conf, missing)}"
        self.assertIn(f"kahttpd: {where}: {directive}: cannot open {missing}: "
                      "No such file or directory", r.stderr)
        self.assertNotIn("listening on", r.stdout)

    def test_a_vhost_customlog_in_a_missing_folder_stops_the_start(self):
        self.check_refused("CustomLog", 'CustomLog "{}" common')

    def test_a_vhost_errorlog_in_a_missing_folder_stops_the_start(self):
        self.check_refused("ErrorLog", 'ErrorLog "{}"')

    def test_the_main_errorlog_in_a_missing_folder_stops_the_start_the_same_way(self):
        self.check_refused("ErrorLog", 'ErrorLog "{}"', in_vhost=False)


if __name__ == "__main__":
    unittest.main()
