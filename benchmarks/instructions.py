#!/usr/bin/env python3
"""Server instructions per request, counted by valgrind's callgrind (deterministic, and works
where `perf stat -e instructions` does not, as in this VM). Standard library only.

Each server runs single-process under `valgrind --tool=callgrind` (kahttpd: Workers 1, its
worker thread included, since callgrind counts every thread of the process into one total with
the default --separate-threads=no; nginx: master_process off; h2o: num-threads 1; lighttpd:
max-worker 0; apache: -X, its one child's threads in the process it started, run as nobody;
the minimal server). Caddy is left out: valgrind 3.19 cannot run Go programs (below). A small
client sends N keep-alive GETs for /1k.bin over C connections, one request in flight per
connection, reads each whole response, closes, and the server is stopped with SIGTERM;
callgrind writes its totals at exit. This is done twice, with N1 and N2 requests, and

    instructions per request = (Ir(N2) - Ir(N1)) / (N2 - N1)

so start-up, the first request's one-off work and shutdown cancel out. Ir counts user-space
instructions only: the kernel's part (TCP, sendfile copies, epoll) is not in it.

   python3 benchmarks/instructions.py
   CALLGRIND_N1=500 CALLGRIND_N2=2500 python3 benchmarks/instructions.py

Knobs: CALLGRIND_N1 (2000), CALLGRIND_N2 (12000), CALLGRIND_CONNECTIONS (4),
BENCH_SERVERS (kahttpd nginx h2o lighttpd caddy apache minimal), BENCH_OUT (build/bench),
BENCH_SERVER_CPU (0), BENCH_CLIENT_CPU (1), VALGRIND (valgrind), CALLGRIND_KEEP (set: keep the
callgrind outputs for callgrind_annotate). Writes OUT/instructions.json.
Fails only when a server cannot start under valgrind.
"""
import datetime
import json
import os
import pwd
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

ROOT = servers.ROOT
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "build", "bench"))
N1 = int(os.environ.get("CALLGRIND_N1", "2000"))
N2 = int(os.environ.get("CALLGRIND_N2", "12000"))
CONNS = int(os.environ.get("CALLGRIND_CONNECTIONS", "4"))
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "1")
VALGRIND = os.environ.get("VALGRIND", shutil.which("valgrind") or "valgrind")
NAMES = os.environ.get("BENCH_SERVERS", " ".join(servers.ALL)).split()
# Servers callgrind cannot run, and why (recorded in instructions.json instead of a count).
# Go's runtime reads the time stamp counter with RDTSCP, which valgrind 3.19 (Debian 12) does
# not decode: caddy dies with SIGILL before it listens.
NOT_UNDER_CALLGRIND = {"caddy": "not measured: valgrind 3.19 cannot run Go (RDTSCP)"}
PATH = "/1k.bin"
CLIENT_DEADLINE = 300.0  # seconds for one client run (callgrind slows a server ~50x)

children = []


def log(msg):
    print(f"instructions: {msg}", file=sys.stderr, flush=True)


def response_length(buf):
    """Length of the first whole response in buf (headers + Content-Length body), or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return end + 4 + length if len(buf) >= end + 4 + length else None


def run_client(port, n, conns):
    """Sends n keep-alive requests over `conns` connections; returns (ok, statuses != 200)."""
    req = (f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
           "User-Agent: kahttpd-callgrind-bench\r\n\r\n").encode()
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.setblocking(False)
        socks.append(s)
    sent = done = bad = 0
    bufs = {}
    for s in socks:
        if sent < n:
            s.sendall(req)
            sent += 1
            bufs[s] = b""
            sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + CLIENT_DEADLINE
    while done < sent and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            data = s.recv(262144)
            if not data:
                raise RuntimeError("server closed a keep-alive connection")
            bufs[s] += data
            while True:
                size = response_length(bufs[s])
                if size is None:
                    break
                if not bufs[s].startswith(b"HTTP/1.1 200"):
                    bad += 1
                bufs[s] = bufs[s][size:]
                done += 1
                if sent < n:
                    s.sendall(req)
                    sent += 1
    sel.close()
    for s in socks:
        s.close()
    return done, bad


def total_ir(path):
    """The Ir total of a callgrind output file ("summary:" or "totals:" line)."""
    with open(path) as f:
        text = f.read()
    for key in ("summary:", "totals:"):
        m = re.search(rf"^{key}\s+(\d+)", text, re.M)
        if m:
            return int(m.group(1))
    raise RuntimeError(f"no summary in {path}")


def measure(name, work, docroot, n):
    """Ir of one server run that answers n requests."""
    outdir = os.path.join(work, "callgrind")
    os.makedirs(outdir, exist_ok=True)
    os.chmod(outdir, 0o777)  # h2o drops to nobody before callgrind writes its file
    outfile = os.path.join(outdir, f"{name}.{n}.out")
    wrapper = [VALGRIND, "--tool=callgrind", "--vgdb=no", f"--callgrind-out-file={outfile}",
               "--log-file=" + os.path.join(outdir, f"{name}.{n}.log")]
    if name == "apache" and os.geteuid() == 0:
        # Apache will not serve as root: it switches to nobody, and callgrind, whose output file
        # was created by root at start, cannot write it at exit. Run it as nobody from the start
        # (in a work directory of its own), where the User directive does nothing.
        nobody = pwd.getpwnam("nobody")
        os.makedirs(os.path.join(work, name), exist_ok=True)
        os.chown(os.path.join(work, name), nobody.pw_uid, nobody.pw_gid)
        wrapper = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                   "--clear-groups"] + wrapper
    errlog = open(os.path.join(OUT, f"callgrind.{name}.stderr.log"), "a")
    t0 = time.monotonic()
    # 1000 descriptors: valgrind keeps some of the process's limit for itself, and a server that
    # asks for more (lighttpd's setrlimit) only logs a complaint.
    srv = servers.start(name, os.path.join(work, name), docroot, 5, 1000, cpu=SERVER_CPU,
                        wrapper=wrapper, stderr=errlog, single_process=True,
                        ready_timeout=60.0, children=children)
    try:
        done, bad = run_client(srv.port, n, CONNS)
    finally:
        srv.stop(timeout=60.0)
        errlog.close()
    if done != n:
        raise RuntimeError(f"{name}: {done} of {n} responses")
    ir = total_ir(outfile)
    log(f"{name}: {n} requests, Ir {ir:,} ({time.monotonic() - t0:.1f} s"
        + (f", {bad} non-200" if bad else "") + ")")
    return {"requests": n, "ir": ir, "non_200": bad, "seconds": round(time.monotonic() - t0, 1)}


def main():
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    try:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    except (OSError, ValueError):
        pass
    if not shutil.which(VALGRIND):
        raise servers.Failure("valgrind not found (KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh)")
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="kahttpd-callgrind.")
    os.chmod(work, 0o755)
    docroot = os.path.join(work, "www")
    os.makedirs(docroot)
    os.chmod(docroot, 0o755)
    with open(os.path.join(docroot, "1k.bin"), "wb") as f:
        f.write(os.urandom(1024))
    os.chmod(os.path.join(docroot, "1k.bin"), 0o644)

    results = []
    try:
        for name in NAMES:
            entry = {"server": name}
            if name in NOT_UNDER_CALLGRIND:
                log(f"{name}: {NOT_UNDER_CALLGRIND[name]}")
                entry["error"] = NOT_UNDER_CALLGRIND[name]
                results.append(entry)
                continue
            try:
                a = measure(name, work, docroot, N1)
                b = measure(name, work, docroot, N2)
            except RuntimeError as e:
                # a client-side problem (not a start failure): record it and go on
                log(f"{name}: {e}")
                entry["error"] = str(e)
                results.append(entry)
                continue
            entry.update({"n1": a, "n2": b,
                          "ir_per_request": (b["ir"] - a["ir"]) / (N2 - N1)})
            log(f"{name}: {entry['ir_per_request']:,.0f} instructions per request")
            results.append(entry)
    finally:
        for p in children:
            servers.stop(p)
        if os.environ.get("CALLGRIND_KEEP"):
            log(f"callgrind outputs kept in {work}/callgrind (callgrind_annotate them)")
        else:
            shutil.rmtree(work, ignore_errors=True)

    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "method": "callgrind",
        "n1": N1, "n2": N2, "connections": CONNS, "path": PATH,
        "valgrind": subprocess.run([VALGRIND, "--version"], capture_output=True,
                                   text=True).stdout.strip(),
        "servers": results,
    }
    with open(os.path.join(OUT, "instructions.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except servers.Failure as e:
        log(str(e))
        sys.exit(1)
    finally:
        for p in children:
            servers.stop(p)
