"""User and Group: started as root, kahttpd binds, opens its logs, then runs as the account.

Run as root (CI is): the tests start kahttpd with `User nobody` / `Group nogroup` and look at
what the kernel says about the process (/proc/PID/task/*/status), at what the account may read,
at the log files it was handed, and at a reload and a SIGUSR1 reopen after the switch. As
another user they are skipped: only root can switch.
"""

import grp
import json
import os
import pwd
import signal
import unittest

from kahttpd_fixture import Server, run, wait_for_log

NOBODY = pwd.getpwnam("nobody")
NOGROUP = grp.getgrnam("nogroup")


def ids(pid):
    """{tid: (uids, gids, groups)} from /proc for every thread of `pid`."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        fields = {}
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    key, _, value = line.partition(":")
                    fields[key] = value.split()
        except FileNotFoundError:
            continue  # a thread that ended meanwhile (a retiring generation's worker)
        out[tid] = (fields["Uid"], fields["Gid"], fields.get("Groups", []))
    return out


@unittest.skipUnless(os.geteuid() == 0, "only root can switch to another user")
class PrivilegeDropTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(files={"index.html": "hello\n", "secret.txt": "root only\n"},
                          workers=2)
        tmp = self.srv.tmp
        # mkdtemp's folder is 0700: the account must be able to reach the site.
        os.chmod(tmp, 0o755)
        os.chmod(os.path.join(self.srv.root, "secret.txt"), 0o600)
        # The log folder belongs to the account, as /var/log/kahttpd does in the package, so
        # that a reopen after logrotate can create the file.
        self.logs = os.path.join(tmp, "logs")
        os.makedirs(self.logs)
        os.chown(self.logs, NOBODY.pw_uid, NOGROUP.gr_gid)
        self.access = os.path.join(self.logs, "access.log")
        self.error = os.path.join(self.logs, "error.log")
        # Created by root beforehand, as an upgrade from a root-run server leaves them.
        for path in (self.access, self.error):
            with open(path, "w"):
                pass

    def tearDown(self):
        self.srv.stop(check=False)
        self.srv.cleanup()

    def start(self, extra=""):
        with open(self.srv.conf, "a") as f:
            f.write(f"User nobody\nGroup nogroup\nCustomLog \"{self.access}\" common\n"
                    f"{extra}")
        self.srv.start()

    def test_every_thread_runs_as_the_account_with_its_groups_only(self):
        self.start()
        threads = ids(self.srv.proc.pid)
        self.assertGreaterEqual(len(threads), 3)  # main + 2 workers
        for tid, (uids, gids, groups) in threads.items():
            # Real, effective, saved and filesystem ids: root is gone from every one.
            self.assertEqual(uids, [str(NOBODY.pw_uid)] * 4, tid)
            self.assertEqual(gids, [str(NOGROUP.gr_gid)] * 4, tid)
            self.assertNotIn("0", groups, tid)  # root's supplementary groups are dropped

    def test_serves_what_the_account_may_read_and_refuses_the_rest(self):
        self.start()
        c = self.srv.connect()
        self.assertEqual(c.request("/index.html").body, b"hello\n")
        # Readable by root only: root would serve it; the account gets 403.
        self.assertEqual(c.request("/secret.txt").status, 403)

    def test_log_files_are_handed_to_the_account_and_written(self):
        vhost_log = os.path.join(self.logs, "vhost.log")
        self.start(f"ErrorLog \"{self.error}\"\nLogLevel info\n"
                   f"<VirtualHost *:*>\nServerName v.example\n"
                   f"CustomLog \"{vhost_log}\" common\n</VirtualHost>\n")
        c = self.srv.connect()
        c.request("/index.html")
        for path in (self.access, self.error, vhost_log):
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid), (NOBODY.pw_uid, NOGROUP.gr_gid), path)
        self.srv.stop()
        # The vhost is the default of every address (Apache's rule), so it logs the request.
        with open(vhost_log) as f:
            self.assertIn("GET /index.html", f.read())
        with open(self.error) as f:
            self.assertIn("running as user nobody", f.read())

    def test_sigusr1_reopens_the_rotated_log_as_the_account(self):
        self.start()
        c = self.srv.connect()
        c.request("/index.html")
        os.rename(self.access, self.access + ".1")
        self.srv.proc.send_signal(signal.SIGUSR1)
        for _ in range(500):
            c.request("/index.html")
            if os.path.exists(self.access):
                break
        self.assertTrue(os.path.exists(self.access))
        c.request("/after-rotation")
        self.srv.stop()
        self.assertEqual(os.stat(self.access).st_uid, NOBODY.pw_uid)
        with open(self.access) as f:
            self.assertIn("GET /after-rotation", f.read())

    def test_reload_works_after_the_switch(self):
        self.start()
        with open(self.srv.conf, "a") as f:
            f.write("Header always set X-Generation two\n")
        self.srv.proc.send_signal(signal.SIGHUP)
        wait_for_log(self.srv, "reloaded the configuration", probe="/index.html")
        # The old workers get their stop request as that line is written: a connection made at
        # once may still be accepted by one of them (and answered by the old configuration,
        # with "Connection: close"). The new generation answers within a few connections.
        for _ in range(50):
            c = self.srv.connect()
            r = c.request("/index.html?after-reload")
            c.close()
            if r.header("X-Generation") is not None:
                break
        self.assertEqual(r.header("X-Generation"), "two")
        self.assertEqual(r.body, b"hello\n")
        # Still the account after the reload (the new workers too), and the access log,
        # opened again by the reload as the account, still written.
        for uids, _, _ in ids(self.srv.proc.pid).values():
            self.assertEqual(uids, [str(NOBODY.pw_uid)] * 4)
        self.srv.stop()
        with open(self.access) as f:
            self.assertIn("GET /index.html?after-reload", f.read())


class AccountConfigTest(unittest.TestCase):
    def check(self, lines):
        srv = Server(lines)
        try:
            return run("-t", "-f", srv.conf), srv.conf
        finally:
            srv.cleanup()

    def test_unknown_user_stops_the_start_with_file_and_line(self):
        r, conf = self.check("User no-such-user-kahttpd\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn(conf + ":4: User: expected a user name of this system or #uid, found "
                      "\"no-such-user-kahttpd\"", r.stderr)

    def test_unknown_group_stops_the_start(self):
        r, conf = self.check("Group no-such-group-kahttpd\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn(conf + ":4: Group: expected a group name", r.stderr)

    def test_user_inside_a_virtual_host_is_refused(self):
        r, _ = self.check("<VirtualHost *:80>\nUser nobody\n</VirtualHost>\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("User:", r.stderr)

    def test_dump_and_vhost_map_name_the_accounts(self):
        srv = Server("User nobody\n")
        try:
            dumped = json.loads(run("-T", "-f", srv.conf).stdout)
            server = dumped["server"]
            self.assertEqual(server["User"]["value"], {"name": "nobody", "id": NOBODY.pw_uid})
            # No Group line: the user's primary group.
            primary = grp.getgrgid(NOBODY.pw_gid)
            self.assertEqual(server["Group"]["value"],
                             {"name": primary.gr_name, "id": primary.gr_gid})
            out = run("-S", "-f", srv.conf).stdout
            self.assertIn('User: name="nobody" id=%d' % NOBODY.pw_uid, out)
        finally:
            srv.cleanup()

    def test_numeric_ids_are_taken_as_apache_takes_them(self):
        srv = Server("User #65534\nGroup #4242\n")
        try:
            server = json.loads(run("-T", "-f", srv.conf).stdout)["server"]
            self.assertEqual(server["User"]["value"], {"name": "#65534", "id": 65534})
            self.assertEqual(server["Group"]["value"], {"name": "#4242", "id": 4242})
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
