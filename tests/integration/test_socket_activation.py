"""Socket activation: listening sockets passed with LISTEN_FDS/LISTEN_PID are used for the Listen
addresses they match instead of binding again (docs/architecture.md, "Socket activation and the
binary upgrade").

Driven by Debian's real systemd-socket-activate where it can be (a socket without SO_REUSEPORT,
shared by every worker), and by a small shell wrapper for a socket with SO_REUSEPORT (which
systemd-socket-activate cannot make): more workers then join its group.
"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import unittest

from kahttpd_fixture import (BIN, START_TIMEOUT, TIME_SCALE, Server,
                             check_no_sanitizer_report)

ACTIVATE = shutil.which("systemd-socket-activate")


def free_port():
    """A port nobody listens on now (the kernel's pick; released at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_sockets(port):
    """How many TCP sockets listen on `port` (IPv4 and IPv6), from /proc/net/tcp{,6}."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state = fields[1], fields[3]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        count += 1
        except FileNotFoundError:
            pass
    return count


def get(port, path="/a.txt", timeout=START_TIMEOUT):
    """One request on a new connection: (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


class Activated:
    """kahttpd started by `launcher` (a command line ending where kahttpd's arguments go). The
    launcher's stderr, which kahttpd inherits, is copied into a file by a thread that also
    sees systemd-socket-activate's "Listening on" line (`listening`)."""

    def __init__(self, srv, launcher, pass_fds=()):
        self.srv = srv
        self.stderr_path = os.path.join(srv.tmp, "stderr.log")
        self.stderr_file = open(self.stderr_path, "wb")
        self.seen = threading.Condition()
        self.text = ""  # what was copied so far, guarded by `seen`
        env = dict(os.environ)
        env["KAHTTPD_LOG_LEVEL"] = "info"
        self.proc = subprocess.Popen(launcher + [BIN, "-f", srv.conf], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, pass_fds=pass_fds)
        self.copier = threading.Thread(target=self.copy_stderr)
        self.copier.start()

    def copy_stderr(self):
        for line in self.proc.stderr:
            self.stderr_file.write(line)
            self.stderr_file.flush()
            with self.seen:
                self.text += line.decode(errors="replace")
                self.seen.notify_all()
        with self.seen:
            self.text += "\n(end)"
            self.seen.notify_all()

    def wait_log(self, text, count=1):
        """Until `text` has appeared `count` times on stderr (an event: the copier's)."""
        with self.seen:
            self.seen.wait_for(lambda: self.text.count(text) >= count or "\n(end)" in self.text,
                               timeout=START_TIMEOUT)
            return self.text

    def wait_activator(self, sockets=1):
        """Until systemd-socket-activate has bound its sockets (it prints one line each)."""
        self.wait_log("Listening on", sockets)

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_listening(self):
        """Reads stdout up to kahttpd's "listening on" line (an event, not a sleep)."""
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("kahttpd did not start: " + self.stderr())
            if b"listening on" in line:
                return line.decode()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=15 * TIME_SCALE)
        self.copier.join()
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.stderr_file.close()
        check_no_sanitizer_report(self.stderr(), rc)
        return rc


@unittest.skipUnless(ACTIVATE, "systemd-socket-activate not installed (package systemd)")
class SystemdSocketActivateTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(files={"a.txt": "hello"})  # only its temp dirs and docroot

    def tearDown(self):
        self.srv.cleanup()

    def write_config(self, *listens):
        with open(self.srv.conf, "w") as f:
            f.write("".join("Listen %s\n" % l for l in listens))
            f.write('DocumentRoot "%s"\nWorkers 2\n' % self.srv.root)

    def test_the_passed_socket_serves_and_nothing_else_is_bound(self):
        port = free_port()
        self.write_config("127.0.0.1:%d" % port)
        # -E passes the variable on (systemd-socket-activate clears the environment).
        run = Activated(self.srv, [ACTIVATE, "-l", "127.0.0.1:%d" % port,
                                   "-E", "KAHTTPD_LOG_LEVEL=info"])
        try:
            run.wait_activator()
            # systemd-socket-activate listens first and starts kahttpd at the first connection,
            # which kahttpd then accepts from the inherited socket.
            status, body = get(port)
            self.assertEqual((status, body), (200, b"hello"))
            self.assertIn("listening on 127.0.0.1:%d" % port, run.wait_listening())
            log = run.wait_log("inherited socket")
            self.assertIn("using 1 inherited socket on 127.0.0.1:%d" % port, log)
            self.assertIn("shared by every worker", log)
            # Two workers, one socket: both serve from the inherited one, none bound another.
            self.assertEqual(listening_sockets(port), 1)
            for _ in range(4):
                self.assertEqual(get(port)[0], 200)
            self.assertEqual(listening_sockets(port), 1)
        finally:
            self.assertEqual(run.stop(), 0)
        self.assertEqual(listening_sockets(port), 0)

    def test_an_unmatched_socket_is_closed_and_an_unmatched_listen_is_bound(self):
        passed, stray, own = free_port(), free_port(), free_port()
        self.write_config("127.0.0.1:%d" % passed, "127.0.0.1:%d" % own)
        run = Activated(self.srv, [ACTIVATE, "-l", "127.0.0.1:%d" % passed,
                                   "-l", "127.0.0.1:%d" % stray, "-E", "KAHTTPD_LOG_LEVEL=info"])
        try:
            run.wait_activator(sockets=2)
            self.assertEqual(get(passed)[0], 200)
            run.wait_listening()
            run.wait_listening()
            self.assertEqual(get(own)[0], 200)
            log = run.wait_log("matches no Listen address")
            self.assertRegex(log, r"\[warn\] inherited socket 127\.0\.0\.1:%d \(fd \d+\) matches "
                                  r"no Listen address; closing it" % stray)
            self.assertEqual(listening_sockets(stray), 0)
            self.assertEqual(listening_sockets(passed), 1)
            self.assertEqual(listening_sockets(own), 2)  # bound as usual: one per worker
        finally:
            self.assertEqual(run.stop(), 0)


class ReusePortSocketTest(unittest.TestCase):
    def test_more_workers_join_an_inherited_socket_with_so_reuseport(self):
        srv = Server(files={"a.txt": "hello"})
        sock = socket.socket()
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(16)
            port = sock.getsockname()[1]
            with open(srv.conf, "w") as f:
                # Port 0 takes the passed socket's port (as after an upgrade).
                f.write('Listen 127.0.0.1:0\nDocumentRoot "%s"\nWorkers 3\n' % srv.root)
            # LISTEN_PID must be kahttpd's own pid: the shell's, which exec keeps. The socket
            # moves to fd 3.
            fd = sock.fileno()
            move = "" if fd == 3 else "exec 3<&%d %d<&-; " % (fd, fd)
            wrapper = ["bash", "-c", move + 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "bash"]
            run = Activated(srv, wrapper, pass_fds=(sock.fileno(),))
            sock.close()  # kahttpd holds it now
            try:
                self.assertIn("listening on 127.0.0.1:%d" % port, run.wait_listening())
                self.assertIn("SO_REUSEPORT: more workers join its group",
                              run.wait_log("inherited socket"))
                self.assertEqual(listening_sockets(port), 3)
                for _ in range(6):
                    self.assertEqual(get(port), (200, b"hello"))
            finally:
                self.assertEqual(run.stop(), 0)
            self.assertEqual(listening_sockets(port), 0)
        finally:
            sock.close()
            srv.cleanup()

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run kahttpd as another user")
    def test_a_group_created_by_another_user_is_shared_instead(self):
        # What a .socket unit with ReusePort=yes gives a service with User=: the kernel lets
        # only the socket's creator (root here) join its group.
        srv = Server(files={"a.txt": "hello"})
        sock = socket.socket()
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(16)
            port = sock.getsockname()[1]
            with open(srv.conf, "w") as f:
                f.write('Listen 127.0.0.1:%d\nDocumentRoot "%s"\nWorkers 2\n' % (port, srv.root))
            for d in (srv.tmp, os.path.dirname(srv.conf), srv.root):
                os.chmod(d, 0o755)
            os.chmod(os.path.join(srv.root, "a.txt"), 0o644)
            fd = sock.fileno()
            move = "" if fd == 3 else "exec 3<&%d %d<&-; " % (fd, fd)
            nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            wrapper = nobody + ["bash", "-c", move + 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"',
                                "bash"]
            run = Activated(srv, wrapper, pass_fds=(fd,))
            sock.close()
            try:
                self.assertIn("listening on 127.0.0.1:%d" % port, run.wait_listening())
                log = run.wait_log("cannot join")
                self.assertIn("cannot join the inherited socket's SO_REUSEPORT group", log)
                self.assertIn("1 socket shared by 2 workers", log)
                self.assertEqual(listening_sockets(port), 1)
                for _ in range(6):
                    self.assertEqual(get(port), (200, b"hello"))
            finally:
                self.assertEqual(run.stop(), 0)
        finally:
            sock.close()
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
