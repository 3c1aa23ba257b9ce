"""The Debian package (make deb): built by CPack from this build, then read with dpkg-deb.

Checks what an administrator gets from `apt install ./kahttpd_*.deb`: the files and their
modes (dpkg-deb -c), the control fields and maintainer scripts (dpkg-deb -f / -e), a packaged
configuration that the packaged binary accepts (-t, -T), a systemd unit that starts that
binary, a logrotate file logrotate parses, and a manual page groff renders without a warning
that documents every option of `kahttpd -h`. Also the fallback to the installed configuration
when there is no -f and no conf/httpd.conf.
"""

import gzip
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

from kahttpd_fixture import BIN, run

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(BIN))) if BIN else ""


def tool(name):
    return shutil.which(name) or next(
        (p for p in ("/usr/sbin/" + name, "/sbin/" + name) if os.path.exists(p)), None)


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kahttpd-deb-")
        r = subprocess.run(["cpack", "-G", "DEB", "-B", cls.tmp, "--config",
                            os.path.join(BUILD, "CPackConfig.cmake")],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise AssertionError("cpack failed:\n" + r.stdout + r.stderr)
        debs = [f for f in os.listdir(cls.tmp) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        cls.deb = os.path.join(cls.tmp, debs[0])
        cls.root = os.path.join(cls.tmp, "root")
        cls.control = os.path.join(cls.tmp, "control")
        subprocess.run(["dpkg-deb", "-x", cls.deb, cls.root], check=True)
        subprocess.run(["dpkg-deb", "-e", cls.deb, cls.control], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def contents(self):
        """{path: (mode string, owner)} from dpkg-deb -c."""
        out = subprocess.run(["dpkg-deb", "-c", self.deb], capture_output=True, text=True,
                             check=True).stdout
        entries = {}
        for line in out.splitlines():
            fields = line.split()
            entries[fields[5].lstrip(".")] = (fields[0], fields[1])
        return entries

    def field(self, name):
        return subprocess.run(["dpkg-deb", "-f", self.deb, name], capture_output=True,
                              text=True, check=True).stdout.strip()

    def test_the_files_of_the_installed_layout(self):
        entries = self.contents()
        expected = {
            "/usr/sbin/kahttpd": "-rwxr-xr-x",
            "/etc/kahttpd/httpd.conf": "-rw-r--r--",
            "/etc/kahttpd/conf.d/": "drwxr-xr-x",
            "/etc/logrotate.d/kahttpd": "-rw-r--r--",
            "/lib/systemd/system/kahttpd.service": "-rw-r--r--",
            "/lib/systemd/system/kahttpd.socket": "-rw-r--r--",
            "/usr/share/man/man8/kahttpd.8.gz": "-rw-r--r--",
            "/usr/share/doc/kahttpd/README.md": "-rw-r--r--",
            "/usr/share/doc/kahttpd/configuration.md": "-rw-r--r--",
            "/usr/share/kahttpd/www/index.html": "-rw-r--r--",
        }
        for path, mode in expected.items():
            self.assertIn(path, entries)
            self.assertEqual(entries[path], (mode, "root/root"), path)
        # Nothing under /usr/local, nothing from the build or the tests.
        self.assertFalse([p for p in entries if p.startswith("/usr/local")])
        self.assertFalse([p for p in entries if "test" in p or "CMake" in p])

    def test_control_fields_and_maintainer_scripts(self):
        self.assertEqual(self.field("Package"), "kahttpd")
        version = run("-v").stdout.split()[1]
        self.assertEqual(self.field("Version"), version)
        depends = self.field("Depends")
        for lib in ("libuv1", "zlib1g", "libbrotli1", "libpcre2-8-0", "media-types"):
            self.assertIn(lib, depends)
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/kahttpd/httpd.conf",
                                                "/etc/logrotate.d/kahttpd"])
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.control, script)
            self.assertTrue(os.stat(path).st_mode & stat.S_IXUSR, script)
            r = subprocess.run(["sh", "-n", path], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, script + ": " + r.stderr)
        with open(os.path.join(self.control, "postinst")) as f:
            postinst = f.read()
        # The log folder the server (as www-data) writes and logrotate creates files in.
        self.assertIn("install -d -o www-data -g adm -m 0750 /var/log/kahttpd", postinst)

    def test_the_packaged_binary_accepts_the_packaged_configuration(self):
        binary = os.path.join(self.root, "usr/sbin/kahttpd")
        conf = os.path.join(self.root, "etc/kahttpd/httpd.conf")
        r = subprocess.run([binary, "-t", "-f", conf], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "Syntax OK")
        # Only a missing /var/www/html may be warned about (a machine without a site yet).
        for line in r.stderr.splitlines():
            self.assertIn("DocumentRoot", line)
        dumped = json.loads(subprocess.run([binary, "-T", "-f", conf], capture_output=True,
                                           text=True, check=True).stdout)
        server = dumped["server"]
        self.assertEqual([l["value"] for l in server["Listen"]], ["*:80"])
        self.assertEqual(server["User"]["value"]["name"], "www-data")
        self.assertEqual(server["Group"]["value"]["name"], "www-data")
        self.assertEqual(server["ErrorLog"]["value"], "/var/log/kahttpd/error.log")
        self.assertEqual([l["target"] for l in server["CustomLog"]],
                         ["/var/log/kahttpd/access.log"])
        self.assertIn("/var/www/html", json.dumps(dumped))

    def test_the_unit_starts_the_packaged_binary_with_the_packaged_configuration(self):
        with open(os.path.join(self.root, "lib/systemd/system/kahttpd.service")) as f:
            unit = f.read()
        commands = re.findall(r"^Exec\w+=(\S+)(.*)$", unit, re.M)
        self.assertTrue(commands)
        for binary, args in commands:
            if binary.endswith("kahttpd"):
                self.assertEqual(binary, "/usr/sbin/kahttpd")
                self.assertIn("-f /etc/kahttpd/httpd.conf", args)
                self.assertTrue(os.path.exists(os.path.join(self.root, binary.lstrip("/"))))
        self.assertIn("Type=notify", unit)
        self.assertIn("LogsDirectory=kahttpd", unit)

    @unittest.skipUnless(tool("logrotate"), "logrotate is not installed")
    def test_logrotate_parses_the_logrotate_file(self):
        state = os.path.join(self.tmp, "logrotate.state")
        path = os.path.join(self.root, "etc/logrotate.d/kahttpd")
        r = subprocess.run([tool("logrotate"), "-d", "-s", state, path], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("/var/log/kahttpd/*.log", r.stderr + r.stdout)
        self.assertNotIn("error", (r.stderr + r.stdout).lower())
        with open(path) as f:
            self.assertIn("--signal=USR1", f.read())

    @unittest.skipUnless(shutil.which("groff"), "groff is not installed")
    def test_the_manual_page_renders_and_documents_every_option(self):
        with gzip.open(os.path.join(self.root, "usr/share/man/man8/kahttpd.8.gz"), "rt") as f:
            source = f.read()
        self.assertNotIn("@", source.replace("\\(at", ""))  # every placeholder filled in
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww"], input=source,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stderr, "")
        text = re.sub(".\b", "", r.stdout)  # overstrike (bold, underline) to plain text
        options = re.findall(r"^  (-\w)\b", run("-h").stdout, re.M)
        self.assertGreaterEqual(len(options), 8)
        for option in options:
            # Each option opens an entry of OPTIONS (an indented line of its own).
            self.assertRegex(text, re.compile(r"^\s+" + re.escape(option) + r"\b", re.M))
        self.assertIn("/etc/kahttpd/httpd.conf", text)
        for signal_name in ("SIGHUP", "SIGUSR1", "SIGUSR2", "SIGTERM"):
            self.assertIn(signal_name, text)


class DefaultConfigTest(unittest.TestCase):
    """Without -f: ./conf/httpd.conf in a checkout, else the installed configuration."""

    def test_the_checkout_configuration_when_there_is_one(self):
        tmp = tempfile.mkdtemp(prefix="kahttpd-cwd-")
        try:
            os.makedirs(os.path.join(tmp, "conf"))
            os.makedirs(os.path.join(tmp, "www"))
            with open(os.path.join(tmp, "conf", "httpd.conf"), "w") as f:
                f.write("Listen 127.0.0.1:0\n")
            r = run("-T", cwd=tmp)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(os.path.realpath(json.loads(r.stdout)["config_file"]),
                             os.path.realpath(os.path.join(tmp, "conf", "httpd.conf")))
        finally:
            shutil.rmtree(tmp)

    def test_the_installed_configuration_otherwise(self):
        tmp = tempfile.mkdtemp(prefix="kahttpd-cwd-")
        try:
            r = run("-T", cwd=tmp)
            if os.path.exists("/etc/kahttpd/httpd.conf"):
                self.assertEqual(json.loads(r.stdout)["config_file"], "/etc/kahttpd/httpd.conf")
            else:
                self.assertEqual(r.returncode, 1)
                self.assertIn("/etc/kahttpd/httpd.conf", r.stderr)
            self.assertIn("/etc/kahttpd/httpd.conf", run("-h").stdout)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main()
