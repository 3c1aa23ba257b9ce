#!/usr/bin/env python3
"""System calls per request, kahttpd next to h2o, nginx and lighttpd (Caddy and Apache on
request), counted with `strace -c` during a short wrk run. Standard library only (and strace,
wrk).

Each server is started exactly as run.sh starts it (servers.py: the same generated
configuration, one worker, pinned to CPU 0 with taskset), gets an untraced 1 s warm-up, then
for each scenario:

  close       wrk -t1 -c50 -H 'Connection: close' on /1k.bin (a TCP connection per request)
  keep-alive  wrk -t1 -c50 on /1k.bin

`strace -c -f -U calls,errors,name -p PID` is attached to the process that serves the
connections (servers.serving_pid(): nginx's and Apache's worker process, else the server
itself) and every process below it; -f takes in all of its threads (kahttpd's main thread and
worker, h2o's, Apache's listener and workers, Go's threads). Once every thread shows strace as
its tracer, wrk (pinned to CPU 1) runs for SYSCALLS_DURATION seconds; 0.3 s after wrk has
exited strace gets SIGINT, detaches and writes its summary. Each syscall's count is divided by
the requests wrk completed (in `close` also the connections). Counted: everything the serving
process and its threads did while traced, libuv's internal calls and the idle main thread
included; also the closes of the connections wrk leaves open at its end (keep-alive: 50
connections, against thousands of requests) and the few requests in flight when wrk stops.

A second, shorter pass (SYSCALLS_DETAIL_SECONDS, 0 = none) traces only ioctl, setsockopt,
getsockopt, fcntl and shutdown with their arguments, to say which requests they are (FIONREAD,
SIOCOUTQ, FIONBIO; TCP_NODELAY ...), per request as well.

strace stops the server at every system call (ptrace), so the servers run several times slower
than without it. That changes batching: under strace more events pile up per epoll_wait and per
accept round than they would untraced, so epoll_wait and the accept4 that ends with EAGAIN are
somewhat undercounted for every server; the calls made once per connection or per request
(accept4 that succeeds, getpeername, setsockopt, read, write, close ...) are not affected. We
only count. Hence a third pass (SYSCALLS_PERF=1, the default, where perf and the kernel's
syscall tracepoints are there): `perf stat -e raw_syscalls:sys_enter -e
syscalls:sys_enter_NAME ... -p PIDS` during another SYSCALLS_DURATION s wrk run, which counts
in the kernel without stopping the server, so batching is as it is untraced (no error counts;
"other" is the total less the calls counted one by one). perf opens a counter per event and
thread, which Apache's 1026 threads exceed: Apache gets no perf pass.

  python3 benchmarks/syscalls.py                       # about 1.5 minutes
  SYSCALLS_SERVERS="kahttpd h2o" python3 benchmarks/syscalls.py
  SYSCALLS_SERVERS="kahttpd h2o nginx lighttpd caddy apache" python3 benchmarks/syscalls.py

Knobs (environment): SYSCALLS_SERVERS (kahttpd h2o nginx lighttpd), SYSCALLS_SCENARIOS (close
keep-alive), SYSCALLS_DURATION (3 s per traced run), SYSCALLS_CONNECTIONS (50),
SYSCALLS_ROUNDS (1; with more, the median of each count per request), SYSCALLS_DETAIL_SECONDS
(2), SYSCALLS_PERF (1), BENCH_SERVER_CPU (0), BENCH_CLIENT_CPU (1), BENCH_OUT
(build/bench-syscalls), KAHTTPD, H2O, NGINX, LIGHTTPD, CADDY, APACHE, WRK, STRACE, PERF.

Results: stdout, and BENCH_OUT/syscalls.md and syscalls.json; each server's stderr in
syscalls.stderr.log, strace's and perf's raw output in raw/. Every server started here is stopped by PID
at the end (also on Ctrl-C); every wrk and strace run is bounded by a timeout. It fails only
when a server cannot be started or strace cannot attach.
"""
import collections
import datetime
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

ROOT = servers.ROOT
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "build", "bench-syscalls"))
NAMES = os.environ.get("SYSCALLS_SERVERS", "kahttpd h2o nginx lighttpd").split()
SCENARIOS = os.environ.get("SYSCALLS_SCENARIOS", "close keep-alive").split()
DURATION = int(os.environ.get("SYSCALLS_DURATION", "3"))
CONNECTIONS = int(os.environ.get("SYSCALLS_CONNECTIONS", "50"))
ROUNDS = int(os.environ.get("SYSCALLS_ROUNDS", "1"))
DETAIL_S = int(os.environ.get("SYSCALLS_DETAIL_SECONDS", "2"))
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "1")
WRK = os.environ.get("WRK", shutil.which("wrk") or "wrk")
STRACE = os.environ.get("STRACE", shutil.which("strace") or "strace")
REPORT_LUA = os.path.join(ROOT, "benchmarks", "wrk", "report.lua")
KEEPALIVE_S = 5
KNOWN = ("kahttpd", "h2o", "nginx", "lighttpd", "caddy", "apache")
DETAIL_CALLS = "ioctl,setsockopt,getsockopt,fcntl,shutdown"
PERF = os.environ.get("PERF", shutil.which("perf") or "perf")
PERF_PASS = os.environ.get("SYSCALLS_PERF", "1") == "1"
# The calls the perf pass counts one by one (each a tracepoint, syscalls:sys_enter_NAME, where
# the kernel has it); raw_syscalls:sys_enter counts every call, so "other" is the rest.
PERF_CALLS = ("accept4", "accept", "getpeername", "getsockname", "setsockopt", "getsockopt",
              "fcntl", "ioctl", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "read",
              "recvfrom", "readv", "recvmsg", "write", "writev", "sendto", "sendmsg", "sendfile64",
              "openat", "openat2", "newfstat", "newfstatat", "statx", "pread64", "lseek",
              "shutdown", "close", "futex", "mmap", "munmap", "madvise", "mprotect", "brk",
              "getrandom", "nanosleep", "clock_nanosleep", "sched_yield", "rt_sigprocmask",
              "timerfd_settime", "eventfd2", "getdents64", "poll", "ppoll", "pselect6",
              "io_uring_enter", "getpid", "gettid", "tgkill", "rt_sigreturn", "sendmmsg",
              "recvmmsg", "dup", "dup3", "fstatfs")
TRACEFS = next((d for d in ("/sys/kernel/tracing/events/syscalls",
                            "/sys/kernel/debug/tracing/events/syscalls") if os.path.isdir(d)), None)

# The rows every table shows first (when any server made the call), in this order; other calls
# follow by their largest count.
ORDER = ("accept4", "accept", "getpeername", "getsockname", "setsockopt", "getsockopt", "fcntl",
         "ioctl", "epoll_ctl", "epoll_wait", "epoll_pwait", "read", "recvfrom", "readv",
         "recvmsg", "write", "writev", "sendto", "sendmsg", "sendfile", "openat", "fstat",
         "newfstatat", "statx", "pread64", "shutdown", "close")

children = []  # every Popen started here, stopped by PID at the end


Failure = servers.Failure
log = servers.logger("syscalls")


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pids):
    """utime + stime of the processes (every thread), in clock ticks."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def process_tree(pid):
    return [pid] + servers.descendants(pid)


def threads(pids):
    out = []
    for p in pids:
        try:
            out += [int(t) for t in os.listdir(f"/proc/{p}/task")]
        except OSError:
            pass
    return out


def tracer_of(tid):
    try:
        with open(f"/proc/{tid}/status") as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def start_strace(pids, out_file, args, stderr):
    """strace with `args` attached to `pids` (-f: their threads and new children); returns once
    every thread of them has strace as its tracer."""
    argv = [STRACE, "-f", "-o", out_file] + args
    for p in pids:
        argv += ["-p", str(p)]
    st = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=stderr)
    children.append(st)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if st.poll() is not None:
            raise Failure(f"strace exited with status {st.returncode} (see the stderr log)")
        tids = threads(pids)
        if tids and all(tracer_of(t) == st.pid for t in tids):
            return st
        time.sleep(0.05)
    stop_tool(st)
    raise Failure("strace did not attach within 15 s")


def stop_tool(st):
    """SIGINT: strace detaches and writes its output (the -c summary), perf stat writes its
    counts; both then exit."""
    if st.poll() is None:
        st.send_signal(signal.SIGINT)
        try:
            st.wait(timeout=30)
        except subprocess.TimeoutExpired:
            st.kill()
            st.wait(timeout=5)
    if st in children:
        children.remove(st)


def perf_events():
    """The tracepoints the perf pass counts ([] when the kernel or perf cannot)."""
    if not PERF_PASS or TRACEFS is None or not shutil.which(PERF):
        return []
    names = [c for c in PERF_CALLS if os.path.isdir(os.path.join(TRACEFS, f"sys_enter_{c}"))]
    return ["raw_syscalls:sys_enter"] + [f"syscalls:sys_enter_{c}" for c in names]


def start_perf(pids, out_file, events, stderr):
    argv = [PERF, "stat", "-x", ",", "-o", out_file, "-p", ",".join(map(str, pids))]
    for e in events:
        argv += ["-e", e]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=stderr)
    children.append(p)
    time.sleep(0.5)  # perf opens one counter per event and thread before it counts
    if p.poll() is not None:
        raise Failure(f"perf stat exited with status {p.returncode} (see the stderr log)")
    return p


def parse_perf(path):
    """perf stat -x,: {syscall: calls}; the key "total" is raw_syscalls:sys_enter."""
    counts = {}
    with open(path) as f:
        for line in f:
            tok = line.strip().split(",")
            if len(tok) < 3 or line.startswith("#"):
                continue
            value, event = tok[0], tok[2]
            n = int(value) if value.isdigit() else 0
            if event == "raw_syscalls:sys_enter":
                counts["total"] = n
            elif event.startswith("syscalls:sys_enter_"):
                name = event[len("syscalls:sys_enter_"):]
                name = {"sendfile64": "sendfile", "newfstat": "fstat"}.get(name, name)
                if n:
                    counts[name] = n
    return counts


def run_wrk(port, scenario, seconds):
    """wrk pinned to the client CPU; returns the requests it completed and its socket errors."""
    argv = ["taskset", "-c", CLIENT_CPU, WRK, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s",
            "--timeout", "5s", "-s", REPORT_LUA]
    if scenario == "close":
        argv += ["-H", "Connection: close"]
    argv.append(f"http://127.0.0.1:{port}/1k.bin")
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise Failure("wrk did not finish in time")
    for line in p.stdout.splitlines():
        if line.startswith("BENCH_RESULT"):
            v = dict(kv.split("=", 1) for kv in line.split()[1:])
            errors = sum(int(v[k]) for k in ("connect", "read", "write", "timeout"))
            return {"requests": int(v["requests"]), "socket_errors": errors,
                    "non_2xx": int(v["status"]), "duration_us": int(v["duration_us"])}
    raise Failure(f"wrk printed no result (exit {p.returncode}): {p.stderr.strip()[:300]}")


def parse_summary(path):
    """strace -c -U calls,errors,name: {syscall: (calls, errors)}."""
    counts = {}
    with open(path) as f:
        for line in f:
            tok = line.split()
            if not tok or not tok[0].isdigit() or tok[-1] == "total":
                continue
            if len(tok) == 3:
                counts[tok[2]] = (int(tok[0]), int(tok[1]))
            elif len(tok) == 2:
                counts[tok[1]] = (int(tok[0]), 0)
    return counts


# One traced call per line: "[pid] name(fd, ARG[, ARG] ..." as strace -f writes it to a file
# ("1234 ioctl(7, FIONREAD, [0]) = 0").
DETAIL_RE = re.compile(r"^(?:\d+\s+)?(\w+)\((-?\d+), ([^,)]+)(?:, ([^,)]+))?")


def parse_detail(path):
    """{"ioctl FIONREAD": n, "setsockopt SOL_TCP TCP_NODELAY": n, ...} from a plain trace."""
    counts = collections.Counter()
    with open(path) as f:
        for line in f:
            # A call another thread interrupted is written in two halves: "ioctl(7, FIONREAD
            # <unfinished ...>" (counted) and "<... ioctl resumed>[0]) = 0" (no match).
            m = DETAIL_RE.match(line.replace(" <unfinished ...>", ")").strip())
            if not m:
                continue
            name, _fd, a1, a2 = m.groups()
            if name == "ioctl" and a1 == "TIOCOUTQ":
                a1 = "SIOCOUTQ"  # the same request number; strace names the tty one
            if name in ("setsockopt", "getsockopt"):
                key = f"{name} {a1} {a2 or ''}".strip()
            elif name == "shutdown":
                key = f"shutdown {a1}"
            else:
                key = f"{name} {a1}"
            counts[key] += 1
    return dict(counts)


def measure(name, srv, scenario, rnd, errlog):
    pids = process_tree(servers.serving_pid(name, srv.pid))
    raw = os.path.join(OUT, "raw", f"{scenario}.{name}.r{rnd}")
    st = start_strace(pids, raw + ".strace", ["-c", "-U", "calls,errors,name"], errlog)
    try:
        wrk = run_wrk(srv.port, scenario, DURATION)
        time.sleep(0.3)  # the server closes what wrk left open
    finally:
        stop_tool(st)
    counts = parse_summary(raw + ".strace")
    if not counts:
        raise Failure(f"{name}: empty strace summary ({raw}.strace)")
    result = {"wrk": wrk, "counts": counts, "detail": None, "detail_wrk": None}
    if DETAIL_S > 0:
        time.sleep(0.3)
        st = start_strace(pids, raw + ".detail", ["-e", f"trace={DETAIL_CALLS}", "-e",
                                                   "signal=none", "-qq"], errlog)
        try:
            dwrk = run_wrk(srv.port, scenario, DETAIL_S)
            time.sleep(0.3)
        finally:
            stop_tool(st)
        result["detail"] = parse_detail(raw + ".detail")
        result["detail_wrk"] = dwrk
    events = perf_events()
    result["perf"] = None
    result["perf_wrk"] = None
    if events:
        time.sleep(0.3)
        try:
            pf = start_perf(pids, raw + ".perf", events, errlog)
        except Failure as e:  # (Apache's 1024 threads: a counter per event and thread)
            log(f"{name}: no perf pass: {e}")
            pf = None
        if pf is not None:
            try:
                c0 = cpu_ticks(pids)
                pwrk = run_wrk(srv.port, scenario, DURATION)
                c1 = cpu_ticks(pids)
                time.sleep(0.3)
            finally:
                stop_tool(pf)  # SIGINT: perf stat writes its counts and exits
            counts = parse_perf(raw + ".perf")
            if counts.get("total"):
                result["perf"] = counts
                # How busy the server was: its CPU time over wrk's run, in % of one CPU (batching
                # grows as this nears 100 %: every wake-up then finds more waiting).
                pwrk["server_cpu_pct"] = round(100 * (c1 - c0) / CLK_TCK
                                               / (pwrk["duration_us"] / 1e6), 1)
                result["perf_wrk"] = pwrk
    if not srv.alive():
        raise Failure(f"{name} died during the {scenario} run")
    return result


def per_request(results):
    """Median over the rounds of each count ÷ requests: {syscall: (calls/req, errors/req)}."""
    names = set()
    for r in results:
        names |= set(r["counts"])
    out = {}
    for s in names:
        calls = [r["counts"].get(s, (0, 0))[0] / max(1, r["wrk"]["requests"]) for r in results]
        errs = [r["counts"].get(s, (0, 0))[1] / max(1, r["wrk"]["requests"]) for r in results]
        out[s] = (statistics.median(calls), statistics.median(errs))
    return out


def perf_per_request(results):
    """The perf pass, as per_request(): {syscall: (calls/req, 0)}, "other" for the calls not
    counted one by one; {} when there was no perf pass."""
    runs = [r for r in results if r.get("perf")]
    if not runs:
        return {}
    names = set()
    for r in runs:
        names |= set(r["perf"]) - {"total"}
    out = {}
    for s in names:
        out[s] = (statistics.median(r["perf"].get(s, 0) / max(1, r["perf_wrk"]["requests"])
                                    for r in runs), 0.0)
    other = statistics.median(
        (r["perf"]["total"] - sum(v for k, v in r["perf"].items() if k != "total"))
        / max(1, r["perf_wrk"]["requests"]) for r in runs)
    if other >= 0.005:
        out["other"] = (other, 0.0)
    return out


def detail_per_request(results):
    keys = set()
    for r in results:
        keys |= set(r["detail"] or {})
    out = {}
    for k in keys:
        vals = [(r["detail"] or {}).get(k, 0) / max(1, r["detail_wrk"]["requests"])
                for r in results if r["detail_wrk"]]
        if vals:
            out[k] = statistics.median(vals)
    return out


def fmt(calls, errs=0.0):
    if calls == 0:
        return "—"
    s = f"{calls:.2f}" if calls >= 0.005 else "<0.01"
    if errs >= 0.005:
        s += f" ({errs:.2f} err)"
    return s


def table(scenario, data, names, key="per_request", wrk_key="wrk"):
    """Markdown: one row per syscall, one column per server, calls per request."""
    names = [n for n in names if data[n][key]]
    if not names:
        return ""
    rows = set()
    for n in names:
        rows |= {s for s, (c, _) in data[n][key].items() if c >= 0.005}
    first = [s for s in ORDER if s in rows]
    rest = sorted(rows - set(first) - {"other"},
                  key=lambda s: -max(data[n][key].get(s, (0, 0))[0] for n in names))
    rest += ["other"] if "other" in rows else []
    lines = [f"| {scenario} | " + " | ".join(names) + " |",
             "|---|" + "---:|" * len(names)]
    tot = [sum(c for c, _ in data[n][key].values()) for n in names]
    lines.append("| **total** | " + " | ".join(f"**{t:.2f}**" for t in tot) + " |")
    for s in first + rest:
        cells = [fmt(*data[n][key].get(s, (0, 0))) for n in names]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    reqs = [str(statistics.median(r[wrk_key]["requests"] for r in data[n]["runs"]
                                  if r.get(wrk_key))) for n in names]
    lines.append("| requests counted | " + " | ".join(reqs) + " |")
    if wrk_key == "perf_wrk":
        busy = [statistics.median(r[wrk_key].get("server_cpu_pct", 0) for r in data[n]["runs"]
                                  if r.get(wrk_key)) for n in names]
        lines.append("| server CPU busy, % of one CPU | " + " | ".join(f"{b:.0f}" for b in busy)
                     + " |")
    return "\n".join(lines)


def detail_table(scenario, data, names):
    keys = set()
    for n in names:
        keys |= {k for k, v in data[n]["detail"].items() if v >= 0.005}
    if not keys:
        return ""
    lines = [f"| {scenario}: by argument | " + " | ".join(names) + " |",
             "|---|" + "---:|" * len(names)]
    for k in sorted(keys):
        lines.append(f"| {k} | " + " | ".join(fmt(data[n]["detail"].get(k, 0)) for n in names)
                     + " |")
    return "\n".join(lines)




def main():
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    for name in NAMES:
        if name not in KNOWN:
            raise Failure(f"SYSCALLS_SERVERS: {name} is not one of {' '.join(KNOWN)}")
        if not shutil.which(servers.program(name)):
            raise Failure(f"{name} not found at {servers.program(name)} "
                          "(make build; KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh)")
    for sc in SCENARIOS:
        if sc not in ("close", "keep-alive"):
            raise Failure(f"SYSCALLS_SCENARIOS: {sc} is not one of close keep-alive")
    for tool in (WRK, STRACE):
        if not shutil.which(tool):
            raise Failure(f"{tool} not found (KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh)")
    want = servers.raise_nofile()

    os.makedirs(os.path.join(OUT, "raw"), exist_ok=True)
    work = tempfile.mkdtemp(prefix="kahttpd-syscalls.")
    os.chmod(work, 0o755)  # nginx's worker, h2o and Apache's child run as nobody
    docroot = os.path.join(work, "www")
    os.makedirs(docroot)
    os.chmod(docroot, 0o755)
    body = os.urandom(1024)
    with open(os.path.join(docroot, "1k.bin"), "wb") as f:
        f.write(body)
    with open(os.path.join(docroot, "index.html"), "w") as f:
        f.write("<!doctype html><html><body><p>syscalls</p></body></html>\n")
    for fn in ("1k.bin", "index.html"):
        os.chmod(os.path.join(docroot, fn), 0o644)
    errlog = open(os.path.join(OUT, "syscalls.stderr.log"), "w")
    t_start = time.monotonic()
    data = {sc: {n: {"runs": []} for n in NAMES} for sc in SCENARIOS}
    try:
        for name in NAMES:
            srv = servers.start(name, os.path.join(work, name), docroot, KEEPALIVE_S, want,
                                cpu=SERVER_CPU, stderr=errlog, children=children)
            try:
                url = f"http://127.0.0.1:{srv.port}/1k.bin"
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.read() != body:
                        raise Failure(f"{name} does not serve /1k.bin byte for byte")
                serving = servers.serving_pid(name, srv.pid)
                log(f"{name}: pid {srv.pid}, serving pid {serving} "
                    f"({len(threads(process_tree(serving)))} threads) on 127.0.0.1:{srv.port}")
                run_wrk(srv.port, "keep-alive", 1)  # warm-up, untraced
                for rnd in range(ROUNDS):
                    for sc in SCENARIOS:
                        time.sleep(0.5)
                        r = measure(name, srv, sc, rnd, errlog)
                        data[sc][name]["runs"].append(r)
                        total = sum(c for c, _ in r["counts"].values())
                        log(f"{name} {sc} round {rnd + 1}: {r['wrk']['requests']} requests "
                            f"({r['wrk']['socket_errors']} socket errors), {total} syscalls, "
                            f"{total / max(1, r['wrk']['requests']):.2f} per request")
            finally:
                srv.stop()
    finally:
        for p in list(children):
            servers.stop(p, timeout=5)
        errlog.close()
        shutil.rmtree(work, ignore_errors=True)

    for sc in SCENARIOS:
        for n in NAMES:
            d = data[sc][n]
            d["per_request"] = per_request(d["runs"])
            d["detail"] = detail_per_request(d["runs"]) if DETAIL_S > 0 else {}
            d["perf_per_request"] = perf_per_request(d["runs"])
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    versions = {n: servers.version(n) for n in NAMES if n != "kahttpd"}
    md = [f"# System calls per request ({date}, kahttpd {servers.git_commit()})", "",
          f"strace -c -f on the serving process, wrk -t1 -c{CONNECTIONS} -d{DURATION}s on "
          f"/1k.bin (1 KiB), server on CPU {SERVER_CPU}, wrk on CPU {CLIENT_CPU}; "
          f"{ROUNDS} round(s), medians. Calls per request (errors per request in brackets, "
          "mostly EAGAIN); — = none.", ""]
    for sc in SCENARIOS:
        md += [table(sc, data[sc], NAMES), ""]
        if DETAIL_S > 0:
            t = detail_table(sc, data[sc], NAMES)
            if t:
                md += [f"ioctl, setsockopt, getsockopt, fcntl and shutdown by argument "
                       f"(a separate {DETAIL_S} s run tracing only those):", "", t, ""]
        t = table(sc, data[sc], NAMES, "perf_per_request", "perf_wrk")
        if t:
            md += ["Without strace: `perf stat` counting the syscalls:sys_enter_* tracepoints "
                   f"(another {DURATION} s run; the server runs at full speed, so epoll_wait and "
                   "accept4 batch as they do untraced; \"other\" = raw_syscalls:sys_enter less "
                   "the calls counted one by one):", "", t, ""]
    md += ["Versions: " + ", ".join(f"{v}" for v in versions.values() if v), ""]
    text = "\n".join(md)
    print(text)
    servers.write_report(OUT, "syscalls", text, {
        "date": date, "kahttpd_commit": servers.git_commit(), "duration_s": DURATION,
        "connections": CONNECTIONS, "rounds": ROUNDS, "versions": versions,
        "scenarios": {sc: {n: {"per_request": data[sc][n]["per_request"],
                               "detail_per_request": data[sc][n]["detail"],
                               "perf_per_request": data[sc][n]["perf_per_request"],
                               "runs": data[sc][n]["runs"]} for n in NAMES}
                      for sc in SCENARIOS}})
    log(f"took {time.monotonic() - t_start:.0f} s; wrote {OUT}/syscalls.md and syscalls.json")
    return 0


if __name__ == "__main__":
    servers.run_script(main, children, log, stop_timeout=5)
