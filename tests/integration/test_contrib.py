"""contrib/kahttpd.service: systemd accepts it, and what it runs works with this build."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from kahttpd_fixture import BIN, check_no_sanitizer_report

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNIT = os.path.join(ROOT, "contrib", "kahttpd.service")


def unit_for_this_build():
    """The unit with the installed paths pointed at this build and the shipped config."""
    with open(UNIT) as f:
        text = f.read()
    # The manual page is the package's (test_package.py checks it is there); systemd-analyze
    # verify would look for it on this machine.
    return (text.replace("/usr/sbin/kahttpd", BIN)
                .replace("/etc/kahttpd/httpd.conf", os.path.join(ROOT, "conf", "httpd.conf"))
                .replace("man:kahttpd(8) ", ""))


class SystemdUnitTest(unittest.TestCase):
    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
    def test_systemd_analyze_verify_is_clean(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "kahttpd.service")
            with open(path, "w") as f:
                f.write(unit_for_this_build())
            r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True,
                               text=True, timeout=60)
            # verify exits 0 on some warnings: any line about the unit counts as a failure.
            about_unit = [l for l in (r.stdout + r.stderr).splitlines() if "kahttpd" in l]
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(about_unit, [])

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
    def test_the_socket_unit_verifies_with_its_service(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "kahttpd.service"), "w") as f:
                f.write(unit_for_this_build())
            shutil.copy(os.path.join(ROOT, "contrib", "kahttpd.socket"), d)
            r = subprocess.run(["systemd-analyze", "verify", os.path.join(d, "kahttpd.socket"),
                                os.path.join(d, "kahttpd.service")],
                               capture_output=True, text=True, timeout=60)
            about_unit = [l for l in (r.stdout + r.stderr).splitlines() if "kahttpd" in l]
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(about_unit, [])
        with open(os.path.join(ROOT, "contrib", "kahttpd.socket")) as f:
            settings = dict(re.findall(r"^(\w+)=(.*)$", f.read(), re.M))
        # The shipped httpd.conf listens on the port the socket unit binds.
        with open(os.path.join(ROOT, "conf", "httpd.conf")) as f:
            listens = re.findall(r"^\s*Listen\s+(\S+)", f.read(), re.M)
        self.assertIn(settings["ListenStream"], listens)

    def test_reload_checks_then_sends_sighup_and_stop_outlasts_the_drain(self):
        text = unit_for_this_build()
        settings = re.findall(r"^(\w+)=(.*)$", text, re.M)
        reloads = [v for k, v in settings if k == "ExecReload"]
        self.assertEqual(len(reloads), 2)
        # The configuration check the reload runs first passes on the shipped config.
        check = subprocess.run(reloads[0].split(), capture_output=True, text=True, timeout=30)
        check_no_sanitizer_report(check.stderr, check.returncode)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertIn("Syntax OK", check.stdout)
        self.assertIn("-HUP $MAINPID", reloads[1])
        values = dict(settings)
        # Type=notify (sd_notify READY=1), and the new process of a binary upgrade may notify.
        self.assertEqual(values["Type"], "notify")
        self.assertEqual(values["NotifyAccess"], "all")
        self.assertGreaterEqual(int(values["LimitNOFILE"]), 65536)
        self.assertGreater(int(values["TimeoutStopSec"]), 10)  # GracefulShutdownTimeout 10 s


if __name__ == "__main__":
    unittest.main()
