#!/usr/bin/env python3
"""Turns the runs of benchmarks/run.sh into a table of medians.

Reads OUT/runs.jsonl (one line per wrk run, written by run.sh) and the wrk output each
line points to (its BENCH_RESULT line, printed by benchmarks/wrk/report.lua), and writes
OUT/latest.json, OUT/latest.md and, when matplotlib is importable, OUT/latest.png. The
table also goes to stdout. Standard library only (matplotlib is optional).
"""
import argparse
import datetime
import json
import os
import statistics
import sys

SERVERS = ("kahttpd", "nginx")
SOCKET_ERRORS = ("connect", "read", "write", "timeout")


def parse_result(path):
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("BENCH_RESULT "):
                    fields = dict(kv.split("=", 1) for kv in line.split()[1:])
                    return {k: int(v) for k, v in fields.items()}
    except OSError:
        pass
    return None


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_num(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def fmt_ratio(v):
    return "—" if v is None else f"{v:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--perf", default="0")
    ap.add_argument("--meta", default="{}")
    ap.add_argument("--scenarios", required=True,
                    help="newline-separated name|file|conns|mode|description")
    args = ap.parse_args()

    specs = []
    for line in args.scenarios.splitlines():
        if line.strip():
            name, file, conns, mode, desc = line.split("|", 4)
            specs.append({"name": name, "file": file, "connections": int(conns),
                          "mode": mode, "description": desc})

    runs = []
    with open(args.runs) as f:
        for line in f:
            if line.strip():
                runs.append(json.loads(line))

    for r in runs:
        res = parse_result(r["raw"])
        r["result"] = res
        if res and res["duration_us"] > 0 and r.get("alive_after", True):
            secs = res["duration_us"] / 1e6
            r["requests_per_s"] = res["requests"] / secs
            r["bytes_per_s"] = res["bytes"] / secs
            r["socket_errors"] = sum(res[k] for k in SOCKET_ERRORS)
            r["non_2xx"] = res["status"]
            reqs = res["requests"]
            r["cpu_us_per_request"] = (r["cpu_ticks"] / r["clk_tck"] * 1e6 / reqs
                                       if reqs and r.get("cpu_ticks") is not None else None)
            r["instructions_per_request"] = (r["instructions"] / reqs
                                             if reqs and r.get("instructions") is not None else None)
            r["latency_p50_ms"] = res["lat_p50_us"] / 1000
            r["latency_p99_ms"] = res["lat_p99_us"] / 1000
        else:
            r["requests_per_s"] = None

    scenarios = []
    for spec in specs:
        entry = dict(spec)
        for server in SERVERS:
            mine = [r for r in runs if r["scenario"] == spec["name"] and r["server"] == server]
            ok = [r for r in mine if r["requests_per_s"] is not None]
            with_result = [r for r in mine if r["result"]]
            errs = {k: sum(r["result"][k] for r in with_result) for k in SOCKET_ERRORS + ("status",)}
            entry[server] = {
                "runs": len(mine),
                "failed_runs": len(mine) - len(ok),
                "died_during_run": sum(1 for r in mine if not r.get("alive_after", True)),
                "stderr_lines": sum(r.get("stderr_lines", 0) for r in mine),
                "requests_per_s": median(r["requests_per_s"] for r in ok),
                "bytes_per_s": median(r["bytes_per_s"] for r in ok),
                "cpu_us_per_request": median(r["cpu_us_per_request"] for r in ok),
                "instructions_per_request": median(r["instructions_per_request"] for r in ok),
                "latency_p50_ms": median(r["latency_p50_ms"] for r in ok),
                "latency_p99_ms": median(r["latency_p99_ms"] for r in ok),
                "server_cpu_pct": median(r.get("server_cpu_pct") for r in ok),
                "other_cpu_pct": median(r.get("other_cpu_pct") for r in ok),
                "socket_errors": sum(errs[k] for k in SOCKET_ERRORS),
                "non_2xx": errs["status"],
                "errors_by_kind": errs,
                # machine-wide TCP counters summed over this server's runs (see run.sh)
                "tcp_counters": {k: sum((r.get("tcp") or {}).get(k, 0) for r in mine)
                                 for k in sorted({k for r in mine for k in (r.get("tcp") or {})})},
                "per_round": [
                    {"round": r["round"],
                     "requests_per_s": r["requests_per_s"],
                     "cpu_us_per_request": r.get("cpu_us_per_request"),
                     "instructions_per_request": r.get("instructions_per_request"),
                     "socket_errors": r.get("socket_errors"),
                     "non_2xx": r.get("non_2xx"),
                     "latency_p99_ms": r.get("latency_p99_ms"),
                     "server_cpu_pct": r.get("server_cpu_pct"),
                     "other_cpu_pct": r.get("other_cpu_pct"),
                     "tcp": r.get("tcp"),
                     "wrk_exit": r["wrk_rc"]}
                    for r in mine],
            }
        k, n = entry["kahttpd"]["requests_per_s"], entry["nginx"]["requests_per_s"]
        entry["ratio"] = (k / n) if k and n else None
        kc, nc = entry["kahttpd"]["cpu_us_per_request"], entry["nginx"]["cpu_us_per_request"]
        entry["cpu_ratio"] = (kc / nc) if kc and nc else None
        by_round = {}
        for r in runs:
            if r["scenario"] == spec["name"] and r["requests_per_s"]:
                by_round.setdefault(r["round"], {})[r["server"]] = r["requests_per_s"]
        per_round = [v["kahttpd"] / v["nginx"] for _, v in sorted(by_round.items())
                     if "kahttpd" in v and "nginx" in v]
        entry["ratio_per_round"] = per_round
        entry["ratio_median_of_rounds"] = median(per_round)
        scenarios.append(entry)

    perf = args.perf == "1"
    meta = json.loads(args.meta)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = {
        "date": now,
        "rounds": args.rounds,
        "duration_s": args.duration,
        "instructions_counted": perf,
        "machine": meta,
        "setup": "one worker each, servers pinned to CPU 0, wrk -t1 pinned to CPU 1, 127.0.0.1",
        "scenarios": scenarios,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")

    # ---- table
    head = ["scenario", "kahttpd req/s", "nginx req/s", "ratio k/n",
            "kahttpd MB/s", "nginx MB/s",
            "kahttpd CPU µs/req", "nginx CPU µs/req", "CPU/req k/n"]
    if perf:
        head += ["kahttpd instr/req", "nginx instr/req"]
    head += ["kahttpd p99 ms", "nginx p99 ms", "kahttpd errors", "nginx errors"]
    rows = []
    for e in scenarios:
        k, n = e["kahttpd"], e["nginx"]

        def errs(s):
            text = f"{s['socket_errors']} sock / {s['non_2xx']} non-2xx"
            if s["failed_runs"]:
                text += f" / {s['failed_runs']} failed runs"
            if s["died_during_run"]:
                text += f" / died {s['died_during_run']}x"
            return text

        row = [e["name"], fmt_num(k["requests_per_s"]), fmt_num(n["requests_per_s"]),
               fmt_ratio(e["ratio"]),
               fmt_num(k["bytes_per_s"] and k["bytes_per_s"] / 1e6, 1),
               fmt_num(n["bytes_per_s"] and n["bytes_per_s"] / 1e6, 1),
               fmt_num(k["cpu_us_per_request"], 2), fmt_num(n["cpu_us_per_request"], 2),
               fmt_ratio(e["cpu_ratio"])]
        if perf:
            row += [fmt_num(k["instructions_per_request"]), fmt_num(n["instructions_per_request"])]
        row += [fmt_num(k["latency_p99_ms"], 2), fmt_num(n["latency_p99_ms"], 2), errs(k), errs(n)]
        rows.append(row)

    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    def text_row(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    print()
    print(f"Medians of {args.rounds} rounds x {args.duration:g} s, {meta.get('cpus', '?')} CPUs "
          f"({meta.get('cpu_model') or 'unknown CPU'}), {now}")
    print(text_row(head))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(text_row(r))
    if not perf:
        print("(instructions/request: perf stat -e instructions is not supported on this machine)")
    print()
    print("Ratios from the same run are what count; absolute numbers swing a lot on a shared machine.")
    print(f"Details: {os.path.join(args.out, 'latest.md')}, {os.path.join(args.out, 'latest.json')}")

    md = [f"# kahttpd vs nginx — {now}", "",
          f"{args.rounds} rounds × {args.duration:g} s per run, interleaved (kahttpd, nginx, ...); "
          "one worker each, servers pinned to CPU 0, `wrk -t1` pinned to CPU 1, 127.0.0.1.",
          f"Machine: {meta.get('cpus', '?')} CPUs, {meta.get('cpu_model') or 'unknown CPU'}, "
          f"kernel {meta.get('kernel')}. {meta.get('nginx')}; {meta.get('wrk')}; "
          f"kahttpd checkout {meta.get('kahttpd_commit')}, binary built "
          f"{meta.get('kahttpd_binary_built')} (sha256 {meta.get('kahttpd_binary_sha256')}).", "",
          f"nginx: sendfile on, tcp_nopush {meta.get('nginx_tcp_nopush', 'on')}, access_log off, "
          "keepalive_requests 1000000. kahttpd: Workers 1, MaxKeepAliveRequests 0.", "",
          "Medians per scenario; ratio = kahttpd req/s ÷ nginx req/s (median of each); "
          "CPU µs/req = server utime+stime over the run ÷ requests, and CPU/req k/n = kahttpd's "
          "÷ nginx's (below 1: kahttpd spends less CPU per request); errors are totals over "
          "all rounds (socket errors: connect+read+write+timeout; non-2xx: wrk's count of "
          "responses ≥ 400).", "",
          "| " + " | ".join(head) + " |",
          "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    for r in rows:
        md.append("| " + " | ".join(r) + " |")
    md.append("")
    md.append("Per round: req/s ratio, then for each server req/s, server CPU busy % and the "
              "share of the server CPU taken by other processes (noise) during its run.")
    md.append("")
    md.append("| scenario | description | ratio per round | kahttpd req/s (busy %, others %) | nginx req/s (busy %, others %) |")
    md.append("|---|---|---|---|---|")

    def rounds(srv):
        out = []
        for pr in srv["per_round"]:
            if pr["requests_per_s"] is None:
                out.append("failed")
            else:
                out.append(f"{pr['requests_per_s']:,.0f} ({pr['server_cpu_pct']}, {pr['other_cpu_pct']})")
        return "; ".join(out)
    for e in scenarios:
        md.append(f"| {e['name']} | {e['description']} | "
                  + ", ".join(f"{x:.2f}" for x in e["ratio_per_round"])
                  + f" | {rounds(e['kahttpd'])} | {rounds(e['nginx'])} |")
    md.append("")
    stalls = [r for r in runs if (r.get("tcp") or {}).get("TCPSynRetrans", 0) > 0]
    if stalls:
        md.append("Runs during which the machine retransmitted SYNs (each one is a ≥ 1 s stall "
                  "for one connection; the counters are machine-wide):")
        md.append("")
        for r in stalls:
            t = r["tcp"]
            md.append(f"- {r['scenario']} {r['server']} round {r['round']}: "
                      + ", ".join(f"{k} {v}" for k, v in t.items() if v))
        md.append("")
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write("\n".join(md))

    # ---- optional plot
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        return 0
    names = [e["name"] for e in scenarios]
    ratios = [e["ratio"] or 0 for e in scenarios]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(names, ratios, color="#4a7ab5")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_ylabel("kahttpd req/s ÷ nginx req/s")
    ax.set_title(f"kahttpd vs nginx (medians of {args.rounds} rounds), {now[:10]}")
    plt.xticks(rotation=30, ha="right")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "latest.png"), dpi=100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
