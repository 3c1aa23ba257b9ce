#!/usr/bin/env python3
"""Worker scaling: kahttpd with Workers 1 and Workers 2, next to nginx (worker_processes 1 and
2) and h2o (num-threads 1 and 2), on both CPUs of the machine, with wrk on the same two CPUs.
Standard library only (and wrk).

Unlike run.sh (server on CPU 0, wrk on CPU 1), here every server may run on CPUs 0-1
(SCALING_SERVER_CPUS) and wrk too (`taskset -c 0,1 wrk -t2`, SCALING_CLIENT_CPUS), so a second
worker has a second core to run on, but shares both with the client. Everything else is as in
servers.py (the same generated configurations; only the worker count differs).

Scenarios (all on a 1 KiB file):

  ka-1k        keep-alive, 50 connections
  ka-1k-c1000  keep-alive, 1000 connections
  close-1k     Connection: close, 50 connections (a TCP connection per request)

Every server configuration is started once (all of them at the start, idle between their
runs), gets a 1 s warm-up, and then SCALING_ROUNDS (3) interleaved rounds: in each round every
scenario runs against every server with 1 worker and then with 2, SCALING_DURATION (5) s each.
Per run: requests/s (wrk), the server's CPU time per request (utime + stime of the process and
its children, every thread, from /proc), wrk's own CPU time, and how busy the two CPUs were
(/proc/stat): "others" is the busy time neither the server nor wrk had. The report gives the
medians per configuration and the ratio 2 workers / 1 worker of the medians, with the per-round
ratios.

  make bench-scaling                                 # about 6 minutes
  python3 benchmarks/scaling.py                      # on an existing build
  SCALING_SERVERS=kahttpd SCALING_ROUNDS=5 python3 benchmarks/scaling.py

Knobs (environment): SCALING_SERVERS (kahttpd nginx h2o), SCALING_SCENARIOS (ka-1k
ka-1k-c1000 close-1k), SCALING_WORKERS (1 2), SCALING_ROUNDS (3), SCALING_DURATION (5),
SCALING_SERVER_CPUS (0,1), SCALING_CLIENT_CPUS (0,1), SCALING_WRK_THREADS (2), BENCH_OUT
(build/bench-scaling), KAHTTPD, NGINX, H2O, WRK.

Results: stdout, BENCH_OUT/scaling.md and scaling.json, the servers' stderr in
scaling.stderr.log. Every server is stopped by PID at the end (also on Ctrl-C), every wrk run is
bounded by a timeout, all traffic is to 127.0.0.1. It fails only when a server cannot start.
"""
import datetime
import os
import resource
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
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "build", "bench-scaling"))
NAMES = os.environ.get("SCALING_SERVERS", "kahttpd nginx h2o").split()
WORKERS = [int(w) for w in os.environ.get("SCALING_WORKERS", "1 2").split()]
ROUNDS = int(os.environ.get("SCALING_ROUNDS", "3"))
DURATION = int(os.environ.get("SCALING_DURATION", "5"))
SERVER_CPUS = os.environ.get("SCALING_SERVER_CPUS", "0,1")
CLIENT_CPUS = os.environ.get("SCALING_CLIENT_CPUS", "0,1")
WRK_THREADS = int(os.environ.get("SCALING_WRK_THREADS", "2"))
WRK = os.environ.get("WRK", shutil.which("wrk") or "wrk")
REPORT_LUA = os.path.join(ROOT, "benchmarks", "wrk", "report.lua")
KEEPALIVE_S = 5
KNOWN = ("kahttpd", "nginx", "h2o", "lighttpd", "caddy")
# name -> (connections, Connection: close)
ALL_SCENARIOS = {"ka-1k": (50, False), "ka-1k-c1000": (1000, False), "close-1k": (50, True)}
SCENARIOS = os.environ.get("SCALING_SCENARIOS", "ka-1k ka-1k-c1000 close-1k").split()
CLK_TCK = os.sysconf("SC_CLK_TCK")

children = []


Failure = servers.Failure
log = servers.logger("scaling")


def cpu_list(spec):
    out = set()
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out |= set(range(int(a), int(b or a) + 1))
    return sorted(out)


def cpu_ticks(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (every thread)
        except (OSError, IndexError, ValueError):
            pass
    return total


def cpus_busy_total(cpus):
    """(busy, total) ticks of the listed CPUs from /proc/stat; busy = user + nice + system +
    steal, as in run.sh (irq and softirq time, mostly the benchmark's own packets and not in
    any process's CPU time, is left out of busy but counts in total)."""
    busy = total = 0
    want = {f"cpu{c}" for c in cpus}
    with open("/proc/stat") as f:
        for line in f:
            tok = line.split()
            if tok and tok[0] in want:
                v = [int(x) for x in tok[1:9]]
                busy += v[0] + v[1] + v[2] + v[7]
                total += sum(v)
    return busy, total


def run_wrk(port, scenario, seconds, threads=None):
    conns, close = ALL_SCENARIOS[scenario]
    threads = threads or WRK_THREADS
    argv = ["taskset", "-c", CLIENT_CPUS, WRK, f"-t{threads}", f"-c{conns}", f"-d{seconds}s",
            "--timeout", "5s", "-s", REPORT_LUA]
    if close:
        argv += ["-H", "Connection: close"]
    argv.append(f"http://127.0.0.1:{port}/1k.bin")
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise Failure("wrk did not finish in time")
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    for line in p.stdout.splitlines():
        if line.startswith("BENCH_RESULT"):
            v = dict(kv.split("=", 1) for kv in line.split()[1:])
            return {"requests": int(v["requests"]), "duration_us": int(v["duration_us"]),
                    "socket_errors": sum(int(v[k]) for k in ("connect", "read", "write",
                                                             "timeout")),
                    "non_2xx": int(v["status"]), "lat_p50_us": int(v["lat_p50_us"]),
                    "lat_p99_us": int(v["lat_p99_us"]), "wrk_cpu_s": wrk_cpu}
    raise Failure(f"wrk printed no result (exit {p.returncode}): {p.stderr.strip()[:300]}")


def run_one(srv, scenario):
    pids = [srv.pid] + servers.descendants(srv.pid)
    cpus = cpu_list(SERVER_CPUS) if SERVER_CPUS == CLIENT_CPUS else sorted(
        set(cpu_list(SERVER_CPUS)) | set(cpu_list(CLIENT_CPUS)))
    b0 = cpus_busy_total(cpus)
    c0 = cpu_ticks(pids)
    w = run_wrk(srv.port, scenario, DURATION)
    c1 = cpu_ticks(pids)
    b1 = cpus_busy_total(cpus)
    rps = w["requests"] / (w["duration_us"] / 1e6)
    server_s = (c1 - c0) / CLK_TCK
    busy_s = (b1[0] - b0[0]) / CLK_TCK
    total_s = (b1[1] - b0[1]) / CLK_TCK
    return dict(w, rps=rps, server_cpu_s=server_s,
                cpu_us_per_req=server_s * 1e6 / max(1, w["requests"]),
                busy_pct=100 * busy_s / total_s if total_s else None,
                server_pct=100 * server_s / total_s if total_s else None,
                wrk_pct=100 * w["wrk_cpu_s"] / total_s if total_s else None,
                others_pct=max(0.0, 100 * (busy_s - server_s - w["wrk_cpu_s"]) / total_s)
                if total_s else None,
                alive=srv.alive())




def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def report(runs, meta):
    lines = [f"# Worker scaling ({meta['date']}, kahttpd {meta['kahttpd_commit']})", "",
             f"Servers on CPUs {SERVER_CPUS}, `taskset -c {CLIENT_CPUS} wrk -t{WRK_THREADS}` on "
             f"/1k.bin, {ROUNDS} interleaved rounds x {DURATION} s, medians. CPU % are shares "
             f"of the {len(cpu_list(SERVER_CPUS))} CPUs' time (100 % = all of them); "
             "\"others\" = busy time that was neither the server's nor wrk's.", ""]
    w1, w2 = WORKERS[0], WORKERS[-1]
    lines += [f"| scenario | server | req/s, {w1} | req/s, {w2} | {w2}/{w1} | per round | "
              f"CPU µs/req, {w1} | {w2} | server CPU %, {w1} | {w2} | wrk CPU %, {w1} | {w2} | "
              f"others %, {w1} | {w2} | socket errors |",
              "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for sc in SCENARIOS:
        for n in NAMES:
            r1 = [r for r in runs if r["scenario"] == sc and r["server"] == n and
                  r["workers"] == w1 and r["alive"]]
            r2 = [r for r in runs if r["scenario"] == sc and r["server"] == n and
                  r["workers"] == w2 and r["alive"]]
            m1 = med(r["rps"] for r in r1)
            m2 = med(r["rps"] for r in r2)
            ratio = m2 / m1 if m1 and m2 else None
            per_round = []
            for rnd in range(ROUNDS):
                a = [r["rps"] for r in r1 if r["round"] == rnd]
                b = [r["rps"] for r in r2 if r["round"] == rnd]
                if a and b and a[0]:
                    per_round.append(f"{b[0] / a[0]:.2f}")
            errs = sum(r["socket_errors"] for r in r1 + r2)

            def f(x, d=0):
                return "—" if x is None else f"{x:,.{d}f}"
            lines.append(
                f"| {sc} | {n} | {f(m1)} | {f(m2)} | **{f(ratio, 2)}** | {', '.join(per_round)} | "
                f"{f(med(r['cpu_us_per_req'] for r in r1), 1)} | "
                f"{f(med(r['cpu_us_per_req'] for r in r2), 1)} | "
                f"{f(med(r['server_pct'] for r in r1))} | {f(med(r['server_pct'] for r in r2))} | "
                f"{f(med(r['wrk_pct'] for r in r1))} | {f(med(r['wrk_pct'] for r in r2))} | "
                f"{f(med(r['others_pct'] for r in r1))} | {f(med(r['others_pct'] for r in r2))} | "
                f"{errs} |")
    lines.append("")
    return "\n".join(lines)


def main():
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    for name in NAMES:
        if name not in KNOWN:
            raise Failure(f"SCALING_SERVERS: {name} is not one of {' '.join(KNOWN)}")
        if not shutil.which(servers.program(name)):
            raise Failure(f"{name} not found at {servers.program(name)} "
                          "(make build; KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh)")
    for sc in SCENARIOS:
        if sc not in ALL_SCENARIOS:
            raise Failure(f"SCALING_SCENARIOS: {sc} is not one of {' '.join(ALL_SCENARIOS)}")
    if not shutil.which(WRK):
        raise Failure("wrk not found (bash scripts/install-deps.sh)")
    want = servers.raise_nofile()
    if want < 4096:
        log(f"warning: ulimit -n is {want}; the 1000-connection scenario may see errors")

    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="kahttpd-scaling.")
    os.chmod(work, 0o755)  # nginx's workers and h2o run as nobody when started by root
    docroot = os.path.join(work, "www")
    os.makedirs(docroot)
    os.chmod(docroot, 0o755)
    body = os.urandom(1024)
    with open(os.path.join(docroot, "1k.bin"), "wb") as f:
        f.write(body)
    with open(os.path.join(docroot, "index.html"), "w") as f:
        f.write("<!doctype html><html><body><p>scaling</p></body></html>\n")
    for fn in ("1k.bin", "index.html"):
        os.chmod(os.path.join(docroot, fn), 0o644)
    errlog = open(os.path.join(OUT, "scaling.stderr.log"), "w")
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "kahttpd_commit": servers.git_commit(), "servers": NAMES, "workers": WORKERS,
            "rounds": ROUNDS, "duration_s": DURATION, "server_cpus": SERVER_CPUS,
            "client_cpus": CLIENT_CPUS, "wrk_threads": WRK_THREADS, "cpus": os.cpu_count(),
            "versions": {n: servers.version(n) for n in NAMES if n != "kahttpd"}, "threads": {}}
    runs = []
    t_start = time.monotonic()
    started = {}
    try:
        for n in NAMES:
            for w in WORKERS:
                srv = servers.start(n, os.path.join(work, f"{n}-{w}"), docroot, KEEPALIVE_S, want,
                                    cpu=SERVER_CPUS, stderr=errlog, children=children, workers=w)
                with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/1k.bin",
                                            timeout=5) as r:
                    if r.read() != body:
                        raise Failure(f"{n} ({w} workers) does not serve /1k.bin byte for byte")
                started[(n, w)] = srv
                time.sleep(0.2)
                pids = [srv.pid] + servers.descendants(srv.pid)
                nthreads = sum(len(os.listdir(f"/proc/{p}/task")) for p in pids
                               if os.path.isdir(f"/proc/{p}/task"))
                meta["threads"][f"{n}-{w}"] = {"processes": len(pids), "threads": nthreads}
                log(f"{n} with {w} worker(s): pid {srv.pid}, {len(pids)} process(es), "
                    f"{nthreads} thread(s), 127.0.0.1:{srv.port}")
        for srv in started.values():
            run_wrk(srv.port, "ka-1k", 1)  # warm-up, not recorded
        total = ROUNDS * len(SCENARIOS) * len(NAMES) * len(WORKERS)
        log(f"{total} wrk runs of {DURATION} s, about "
            f"{total * (DURATION + 0.8) / 60:.1f} min")
        for rnd in range(ROUNDS):
            for sc in SCENARIOS:
                for n in NAMES:
                    for w in WORKERS:
                        srv = started[(n, w)]
                        if not srv.alive():
                            log(f"{n} ({w} workers) is gone; restarting it")
                            srv = servers.start(n, os.path.join(work, f"{n}-{w}"), docroot,
                                                KEEPALIVE_S, want, cpu=SERVER_CPUS,
                                                stderr=errlog, children=children, workers=w)
                            started[(n, w)] = srv
                        r = run_one(srv, sc)
                        r.update(server=n, workers=w, scenario=sc, round=rnd)
                        runs.append(r)
                        log(f"round {rnd + 1} {sc:12} {n:8} workers {w}: {r['rps']:10,.0f} req/s "
                            f"{r['cpu_us_per_req']:6.1f} µs/req  server {r['server_pct']:.0f} % "
                            f"wrk {r['wrk_pct']:.0f} % others {r['others_pct']:.0f} %  "
                            f"errors {r['socket_errors']}")
                        time.sleep(0.5)
    finally:
        for p in list(children):
            servers.stop(p, timeout=10)
        errlog.close()
        shutil.rmtree(work, ignore_errors=True)
    meta["took_s"] = round(time.monotonic() - t_start, 1)
    md = report(runs, meta)
    print(md)
    servers.write_report(OUT, "scaling", md, {"meta": meta, "runs": runs})
    log(f"took {meta['took_s']} s; wrote {OUT}/scaling.md and scaling.json")
    return 0


if __name__ == "__main__":
    servers.run_script(main, children, log)
