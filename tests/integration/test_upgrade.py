"""The binary upgrade (SIGUSR2): kahttpd starts its binary again with the listening sockets
(LISTEN_FDS), the new process writes the PidFile and serves, the old one finishes its requests
and exits; clients running through it see no failed request. A new process that cannot start
leaves the old one serving.

Waits are events: the old process's exit (it is our child), the new one's (this test process
becomes a child subreaper, so the new kahttpd is reparented to it and can be waited for), the
error log's lines (polled with a round trip per attempt), the notification socket's datagrams.
"""

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import kahttpd_fixture
from kahttpd_fixture import TIME_SCALE, Server, check_no_sanitizer_report

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def read_pid(path):
    with open(path) as f:
        return int(f.read())


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def kill_if_alive(pid):
    """SIGKILL to a process this test started (through kahttpd), then reaps it: the test is
    its subreaper once the old kahttpd is gone."""
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def wait_for_log(srv, text, count=1, within=20):
    """Polls the shared error log for `text`; a round trip between tries. Bounded by time, not
    by tries: a new process (sanitized, on a busy machine) may take seconds to start."""
    deadline = time.monotonic() + within * TIME_SCALE
    while time.monotonic() < deadline:
        if srv.stderr().count(text) >= count:
            return
        c = srv.connect()
        c.request("/1k.bin")
        c.close()
    raise AssertionError("no %r in the log: %s" % (text, srv.stderr()[-3000:]))


def stop_new_process(srv, pid):
    """SIGTERM to the new kahttpd (our child since the old one exited) and its exit status."""
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    check_no_sanitizer_report(srv.stderr(), os.waitstatus_to_exitcode(status))
    return os.waitstatus_to_exitcode(status)


class Load:
    """Client threads requesting /1k.bin until stopped: keep-alive clients (a new connection
    when the server says Connection: close) and one-request-per-connection clients. A request
    fails when it gets no complete 200. A keep-alive request that meets a close before the
    first byte of its answer is retried once on a new connection, as HTTP clients do for
    idempotent requests on a reused connection (RFC 9112 §9.3.1); those are counted apart."""

    def __init__(self, port, body, keepalive=4, fresh=2):
        self.port = port
        self.body = body
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = []
        self.retried = 0
        self.progress = threading.Condition(self.lock)
        self.threads = [threading.Thread(target=self.keepalive_client) for _ in range(keepalive)]
        self.threads += [threading.Thread(target=self.fresh_client) for _ in range(fresh)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(timeout=30)

    def count_ok(self):
        with self.lock:
            self.ok += 1
            self.progress.notify_all()

    def fail(self, why):
        with self.lock:
            self.failed.append(why)

    def wait_for(self, more, timeout=30):
        """Until `more` further requests have succeeded (an event)."""
        with self.lock:
            target = self.ok + more
            if not self.progress.wait_for(lambda: self.ok >= target, timeout * TIME_SCALE):
                raise AssertionError("load made no progress: %d ok, failed %r"
                                     % (self.ok, self.failed[:5]))

    def exchange(self, s, buf, close):
        """One request on `s`; returns (leftover bytes, server closes after it). Raises
        EOFError(bytes of the answer received) when the connection ends (EOF or reset) before
        the answer is complete."""
        got = 0
        try:
            s.sendall(b"GET /1k.bin HTTP/1.1\r\nHost: x\r\n" +
                      (b"Connection: close\r\n" if close else b"") + b"\r\n")
            while b"\r\n\r\n" not in buf or len(buf.split(b"\r\n\r\n", 1)[1]) < len(self.body):
                chunk = s.recv(65536)
                if not chunk:
                    raise EOFError(got)
                buf += chunk
                got += len(chunk)
        except (ConnectionResetError, BrokenPipeError):
            raise EOFError(got)
        head, buf = buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200 "):
            raise AssertionError(head[:40])
        if buf[:len(self.body)] != self.body:
            raise AssertionError("wrong body")
        return buf[len(self.body):], b"\r\nconnection: close" in head.lower()

    def keepalive_client(self):
        s = None
        while not self.done.is_set():
            reused = s is not None
            try:
                if s is None:
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                    buf = b""
                buf, closing = self.exchange(s, buf, False)
                self.count_ok()
                if closing:
                    s.close()
                    s = None
            except EOFError as e:
                if s is not None:
                    s.close()
                s = None
                if reused and e.args[0] == 0:
                    with self.lock:
                        self.retried += 1
                    continue
                self.fail("keep-alive: %r" % e)
            except (OSError, AssertionError) as e:
                if s is not None:
                    s.close()
                    s = None
                self.fail("keep-alive: %r" % e)
        if s is not None:
            s.close()

    def fresh_client(self):
        while not self.done.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                    self.exchange(s, b"", True)
                self.count_ok()
            except (OSError, EOFError, AssertionError) as e:
                self.fail("new connection: %r" % e)


class UpgradeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        become_subreaper()

    def setUp(self):
        self.body = os.urandom(1024)
        self.srv = Server(files={"1k.bin": self.body}, workers=2)
        self.pid_file = os.path.join(self.srv.tmp, "kahttpd.pid")
        self.notify_path = os.path.join(self.srv.tmp, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.srv.env["NOTIFY_SOCKET"] = self.notify_path
        with open(self.srv.conf, "a") as f:
            f.write('PidFile "%s"\nKeepAliveTimeout 30\n' % self.pid_file)
        self.new_pid = None

    def tearDown(self):
        old_pid = self.srv.proc.pid if self.srv.proc is not None else None
        self.srv.stop(check=False)
        # A new process a failed test did not stop (its pid may only be in the PidFile).
        if self.new_pid is None and os.path.exists(self.pid_file):
            pid = read_pid(self.pid_file)
            self.new_pid = pid if pid != old_pid else None
        if self.new_pid is not None and alive(self.new_pid):
            os.kill(self.new_pid, signal.SIGKILL)
            try:
                os.waitpid(self.new_pid, 0)
            except ChildProcessError:
                pass
        self.notify.close()
        self.srv.cleanup()

    def messages(self):
        """Every notification datagram received so far (without waiting)."""
        out = []
        self.notify.setblocking(False)
        try:
            while True:
                out.append(self.notify.recv(4096).decode())
        except BlockingIOError:
            pass
        return out

    def start_from_a_copy(self):
        """Starts the server from a copy of the binary in its folder, so the test can replace
        the file its upgrade will start; returns the copy's path."""
        exe = os.path.join(self.srv.tmp, "kahttpd")
        shutil.copy2(kahttpd_fixture.BIN, exe)
        saved = kahttpd_fixture.BIN
        kahttpd_fixture.BIN = exe
        try:
            self.srv.start()
        finally:
            kahttpd_fixture.BIN = saved
        return exe

    def upgrade_to_script(self, exe, script):
        """Replaces `exe` with a shell script and sends SIGUSR2: returns the pid of the new
        "process" (the script), which is stopped by PID when the test ends in any case."""
        with open(exe + ".new", "w") as f:
            f.write("#!/bin/sh\n" + script)
        os.chmod(exe + ".new", 0o755)
        os.rename(exe + ".new", exe)
        self.srv.proc.send_signal(signal.SIGUSR2)
        wait_for_log(self.srv, "caught SIGUSR2, upgrading: started")
        child = int(re.search(r"upgrading: started \S+ \(pid (\d+)\)",
                              self.srv.stderr()).group(1))
        self.addCleanup(kill_if_alive, child)  # a failed test leaves no script behind
        return child

    def test_clients_running_through_an_upgrade_see_no_failed_request(self):
        self.srv.start()
        old_pid = self.srv.proc.pid
        self.assertEqual(read_pid(self.pid_file), old_pid)
        load = Load(self.srv.port, self.body).start()
        try:
            load.wait_for(200)
            self.srv.proc.send_signal(signal.SIGUSR2)
            # The old process hands over and exits on its own (an event: it is our child).
            rc = self.srv.proc.wait(timeout=30 * TIME_SCALE)
            self.assertEqual(rc, 0, self.srv.stderr())
            load.wait_for(300)  # the new process serves the same sockets
        finally:
            load.stop()
        self.new_pid = read_pid(self.pid_file)
        log = self.srv.stderr()
        print("upgrade under load: %d requests, %d failed, %d retried on a reused connection"
              % (load.ok, len(load.failed), load.retried))
        self.assertEqual(load.failed, [])
        self.assertNotEqual(self.new_pid, old_pid)
        self.assertTrue(alive(self.new_pid))
        self.assertFalse(alive(old_pid))
        self.assertIn("caught SIGUSR2, upgrading: started", log)
        self.assertIn("upgrade: pid %d serves now" % self.new_pid, log)
        self.assertIn("upgrade: serving in place of pid %d" % old_pid, log)
        self.assertIn("using 2 inherited sockets", log)
        # Under a service manager the new process announces itself as the main one, and the
        # old one never says STOPPING (that would stop the service).
        msgs = self.messages()
        self.assertIn("MAINPID=%d\nREADY=1\n" % self.new_pid, "".join(m + "\n" for m in msgs))
        self.assertFalse(any("STOPPING=1" in m for m in msgs), msgs)
        # The new process is a normal server: it stops cleanly and removes its PidFile.
        self.assertEqual(stop_new_process(self.srv, self.new_pid), 0)
        self.new_pid = None
        self.assertFalse(os.path.exists(self.pid_file))

    def test_the_old_process_answers_health_checks_with_200_while_it_drains(self):
        with open(self.srv.conf, "a") as f:
            f.write('<Location "/healthz">\n    SetHandler server-health\n</Location>\n')
        self.srv.start()
        old = self.srv.connect()
        self.assertEqual(old.request("/healthz").status, 200)
        # A request in flight on the old process: its head is finished after the handover.
        old.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
        self.srv.proc.send_signal(signal.SIGUSR2)
        # The handover, then both old workers' drains (each logs when it takes the stop).
        wait_for_log(self.srv, "serves now")
        wait_for_log(self.srv, ": stopping, ", count=2)
        old.send("\r\n")
        r = old.read_response()
        self.assertEqual((r.status, r.body), (200, b"OK\n"))
        self.assertEqual(r.header("Connection"), "close")  # the old process is draining
        old.close()
        self.assertEqual(self.srv.proc.wait(timeout=30 * TIME_SCALE), 0)
        self.new_pid = read_pid(self.pid_file)
        self.assertEqual(self.srv.connect().request("/healthz").status, 200)
        self.assertEqual(stop_new_process(self.srv, self.new_pid), 0)
        self.new_pid = None

    def test_a_new_process_that_cannot_start_leaves_the_old_one_serving(self):
        self.srv.start()
        old_pid = self.srv.proc.pid
        with open(self.srv.conf) as f:
            good = f.read()
        with open(self.srv.conf, "a") as f:
            f.write("KeepAliveTimeout soon\n")
        self.srv.proc.send_signal(signal.SIGUSR2)
        wait_for_log(self.srv, "upgrade failed: the new process")
        wait_for_log(self.srv, "exited with status 1")
        log = self.srv.stderr()
        self.assertRegex(log, r'httpd\.conf:\d+: KeepAliveTimeout: expected a duration \(30, 30s, 500ms, 5m, 1h\), '
                              r'found "soon"')
        self.assertEqual(read_pid(self.pid_file), old_pid)
        self.assertEqual(self.srv.connect().request("/1k.bin").body, self.body)
        self.assertIsNone(self.srv.proc.poll())
        # A later upgrade, with the configuration fixed, goes through.
        with open(self.srv.conf, "w") as f:
            f.write(good)
        self.srv.proc.send_signal(signal.SIGUSR2)
        self.assertEqual(self.srv.proc.wait(timeout=30 * TIME_SCALE), 0)
        self.new_pid = read_pid(self.pid_file)
        self.assertNotEqual(self.new_pid, old_pid)
        self.assertEqual(self.srv.connect().request("/1k.bin").body, self.body)
        self.assertEqual(stop_new_process(self.srv, self.new_pid), 0)
        self.new_pid = None

    def test_the_binary_is_started_again_from_its_path(self):
        # A copy of the binary: replaced under its name (as a package upgrade does), and then
        # removed, which makes the next exec fail.
        exe = self.start_from_a_copy()
        old_pid = self.srv.proc.pid
        shutil.copy2(kahttpd_fixture.BIN, exe + ".new")
        os.rename(exe + ".new", exe)  # the running binary is now "(deleted)"
        self.assertTrue(os.readlink("/proc/%d/exe" % old_pid).endswith("(deleted)"))
        os.unlink(exe)
        self.srv.proc.send_signal(signal.SIGUSR2)
        wait_for_log(self.srv, "upgrade failed: cannot execute %s: No such file" % exe)
        self.assertIsNone(self.srv.proc.poll())
        shutil.copy2(kahttpd_fixture.BIN, exe)
        self.srv.proc.send_signal(signal.SIGUSR2)
        self.assertEqual(self.srv.proc.wait(timeout=30 * TIME_SCALE), 0)
        self.new_pid = read_pid(self.pid_file)
        self.assertEqual(os.readlink("/proc/%d/exe" % self.new_pid), exe)  # the new file
        self.assertEqual(self.srv.connect().request("/1k.bin").body, self.body)
        self.assertEqual(stop_new_process(self.srv, self.new_pid), 0)
        self.new_pid = None

    def test_a_stop_during_the_upgrade_stops_the_new_process_too(self):
        # The new "binary" is a script that waits on a FIFO before it starts kahttpd: the
        # upgrade stays in progress, with the new process holding the listening sockets, until
        # the test opens the FIFO for writing.
        real = os.path.join(self.srv.tmp, "kahttpd.real")
        fifo = os.path.join(self.srv.tmp, "go")
        shutil.copy2(kahttpd_fixture.BIN, real)
        os.mkfifo(fifo)
        exe = self.start_from_a_copy()
        child = self.upgrade_to_script(exe, ': < "%s"\nexec "%s" "$@"\n' % (fifo, real))
        self.assertTrue(alive(child))
        self.srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.srv.proc.wait(timeout=30 * TIME_SCALE), 0, self.srv.stderr())
        self.assertIn("caught SIGTERM during the upgrade: stopping the new process (pid %d) too"
                      % child, self.srv.stderr())
        # The old process waited for the new one: gone, not reparented to this test process
        # (its subreaper) still waiting to serve.
        self.assertFalse(alive(child))
        with self.assertRaises(OSError):  # ENXIO: nobody is waiting on the FIFO
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", self.srv.port), timeout=5).close()
        self.assertFalse(os.path.exists(self.pid_file))

    def test_signals_while_waiting_for_the_stopped_new_process_do_not_kill_the_old(self):
        # The new "binary" ignores SIGTERM and waits on a FIFO, so the old process, stopped
        # during the upgrade, waits for it after its own drain. A second SIGTERM and
        # logrotate's SIGUSR1 (sent to every process of the unit) must not end it by signal
        # there: it exits 0 once the new one has gone.
        fifo = os.path.join(self.srv.tmp, "go")
        ready = os.path.join(self.srv.tmp, "ready")
        os.mkfifo(fifo)
        os.mkfifo(ready)
        exe = self.start_from_a_copy()
        child = self.upgrade_to_script(
            exe, "trap '' TERM\necho ready > \"%s\"\n: < \"%s\"\nexit 0\n" % (ready, fifo))
        with open(ready) as f:  # the script ignores SIGTERM from here on
            self.assertEqual(f.read(), "ready\n")
        old = self.srv.proc.pid
        self.srv.proc.send_signal(signal.SIGTERM)
        # An event, polled: the old process's main thread blocks in waitpid (wchan do_wait).
        deadline = time.monotonic() + 20 * TIME_SCALE
        while True:
            with open("/proc/%d/wchan" % old) as f:
                if f.read().strip() == "do_wait":
                    break
            self.assertIsNone(self.srv.proc.poll(), self.srv.stderr())
            self.assertLess(time.monotonic(), deadline, "the old process never waited")
            time.sleep(0.01)
        self.srv.proc.send_signal(signal.SIGUSR1)
        self.srv.proc.send_signal(signal.SIGTERM)
        with self.assertRaises(subprocess.TimeoutExpired):  # still waiting, not killed
            self.srv.proc.wait(timeout=0.3)
        os.close(os.open(fifo, os.O_WRONLY))  # the new "process" reads EOF and exits
        self.assertEqual(self.srv.proc.wait(timeout=30 * TIME_SCALE), 0, self.srv.stderr())
        self.assertFalse(alive(child))


if __name__ == "__main__":
    unittest.main()
