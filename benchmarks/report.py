#!/usr/bin/env python3
"""Turns a benchmark run into tables of medians and ratios, a JSON document and a chart.

Reads from OUT (build/bench): runs.jsonl (one line per wrk run, written by run.sh, each
pointing to wrk's output with its BENCH_RESULT line from wrk/report.lua), meta.json and
scenarios.txt (run.sh), and, when given, instructions.json (instructions.py), idle.json
(idle_memory.py) and timer_wheel.json (Google Benchmark's JSON). Writes OUT/latest.json (all
raw runs and the medians), OUT/latest.md and OUT/latest.png (matplotlib), and prints the main
tables. Ratios are kahttpd ÷ peer: for req/s above 1 means kahttpd is faster; for CPU time and
instructions per request below 1 means kahttpd spends less.

   python3 benchmarks/report.py --out build/bench [--instructions F] [--idle F] [--timer F]
"""
import argparse
import datetime
import json
import os
import statistics
import sys

SOCKET_ERRORS = ("connect", "read", "write", "timeout")
ORDER = ("kahttpd", "nginx", "h2o", "lighttpd", "caddy", "apache", "minimal")


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


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_num(v, digits=0):
    return "—" if v is None else f"{v:,.{digits}f}"


def fmt_ratio(v):
    return "—" if v is None else f"{v:.2f}"


def load_json(path):
    if not path:
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_runs(out):
    runs = []
    with open(os.path.join(out, "runs.jsonl")) as f:
        for line in f:
            if line.strip():
                runs.append(json.loads(line))
    for r in runs:
        res = parse_result(r["raw"])
        r["result"] = res
        r["requests_per_s"] = None
        if res and res["duration_us"] > 0 and r.get("alive_after", True):
            secs = res["duration_us"] / 1e6
            reqs = res["requests"]
            r["requests_per_s"] = reqs / secs
            r["bytes_per_s"] = res["bytes"] / secs
            r["socket_errors"] = sum(res[k] for k in SOCKET_ERRORS)
            r["non_2xx"] = res["status"]
            r["cpu_us_per_request"] = (r["cpu_ticks"] / r["clk_tck"] * 1e6 / reqs
                                       if reqs and r.get("cpu_ticks") is not None else None)
            # wrk's own CPU time (run.sh's client_cpu_s; absent in older runs)
            r["client_cpu_us_per_request"] = (r["client_cpu_s"] * 1e6 / reqs
                                              if reqs and r.get("client_cpu_s") is not None
                                              else None)
            r["instructions_per_request"] = (r["instructions"] / reqs
                                             if reqs and r.get("instructions") is not None else None)
            r["latency_p50_ms"] = res["lat_p50_us"] / 1000
            r["latency_p99_ms"] = res["lat_p99_us"] / 1000
    return runs


def summarize(spec, runs, names):
    entry = dict(spec)
    entry["servers"] = {}
    for server in names:
        mine = [r for r in runs if r["scenario"] == spec["name"] and r["server"] == server]
        if not mine:
            continue
        ok = [r for r in mine if r["requests_per_s"] is not None]
        with_result = [r for r in mine if r["result"]]
        errs = {k: sum(r["result"][k] for r in with_result) for k in SOCKET_ERRORS + ("status",)}
        entry["servers"][server] = {
            "runs": len(mine),
            "failed_runs": len(mine) - len(ok),
            "died_during_run": sum(1 for r in mine if not r.get("alive_after", True)),
            "stderr_lines": sum(r.get("stderr_lines", 0) for r in mine),
            "requests_per_s": median(r["requests_per_s"] for r in ok),
            "bytes_per_s": median(r["bytes_per_s"] for r in ok),
            "cpu_us_per_request": median(r["cpu_us_per_request"] for r in ok),
            "client_cpu_us_per_request": median(r.get("client_cpu_us_per_request") for r in ok),
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
        }
    k = entry["servers"].get("kahttpd")
    entry["ratios"] = {}
    for peer, s in entry["servers"].items():
        if peer == "kahttpd" or k is None:
            continue
        by_round = {}
        for r in runs:
            if r["scenario"] == spec["name"] and r["server"] in ("kahttpd", peer) \
                    and r["requests_per_s"]:
                by_round.setdefault(r["round"], {})[r["server"]] = r["requests_per_s"]
        per_round = [v["kahttpd"] / v[peer] for _, v in sorted(by_round.items())
                     if "kahttpd" in v and peer in v]
        entry["ratios"][peer] = {
            "requests_per_s": ratio(k["requests_per_s"], s["requests_per_s"]),
            "cpu_per_request": ratio(k["cpu_us_per_request"], s["cpu_us_per_request"]),
            "instructions_per_request": ratio(k["instructions_per_request"],
                                              s["instructions_per_request"]),
            "requests_per_s_per_round": per_round,
        }
    return entry


def errors_text(s):
    text = f"{s['socket_errors']}/{s['non_2xx']}"
    if s["failed_runs"]:
        text += f", {s['failed_runs']} failed runs"
    if s["died_during_run"]:
        text += f", died {s['died_during_run']}x"
    return text


def md_table(head, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(head) - 1)
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def text_table(head, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(head)]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    return [line(head), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]


def timer_rows(timer):
    """{(benchmark label, armed): ns per operation (CPU time)} from Google Benchmark's JSON."""
    out = {}
    for b in (timer or {}).get("benchmarks", []):
        if b.get("run_type") != "iteration" or not b.get("items_per_second"):
            continue
        parts = dict(p.split(":", 1) for p in b["name"].split("/")[1:] if ":" in p)
        label = b["name"].split("/")[0].replace("_", "+", 1)
        if "shuffled" in parts:
            label += " (random order)" if parts["shuffled"] == "1" else " (memory order)"
        out[(label, int(parts.get("armed", 0)))] = 1e9 / b["items_per_second"]
    return out


def write_json(path, doc):
    """doc as indented JSON, except its "runs": one compact line per run, which keeps the file
    small enough to keep a run's results in git (benchmarks/results/)."""
    def trim(v):
        if isinstance(v, float):
            return round(v, 3)
        if isinstance(v, dict):
            return {k: trim(x) for k, x in v.items()}
        if isinstance(v, list):
            return [trim(x) for x in v]
        return v
    runs = [trim(dict(r, raw=os.path.basename(r["raw"]),
                      tcp={k: n for k, n in (r.get("tcp") or {}).items() if n}))
            for r in doc.get("runs", [])]
    text = json.dumps(trim({k: v for k, v in doc.items() if k != "runs"}), indent=2)
    lines = ",\n".join("    " + json.dumps(r, separators=(",", ":")) for r in runs)
    text = text[:-2] + ',\n  "runs": [\n' + lines + "\n  ]\n}\n"
    json.loads(text)  # still one valid document
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--instructions")
    ap.add_argument("--idle")
    ap.add_argument("--timer")
    args = ap.parse_args()
    out = args.out

    meta = load_json(os.path.join(out, "meta.json")) or {}
    specs = []
    with open(os.path.join(out, "scenarios.txt")) as f:
        for line in f:
            if line.strip():
                name, file, conns, mode, with_minimal, desc = line.rstrip("\n").split("|", 5)
                specs.append({"name": name, "file": file, "connections": int(conns),
                              "mode": mode, "description": desc})
    runs = read_runs(out)
    present = {r["server"] for r in runs}
    names = [n for n in ORDER if n in present]
    peers = [n for n in names if n != "kahttpd"]
    scenarios = [summarize(spec, runs, names) for spec in specs]
    instructions = load_json(args.instructions)
    idle = load_json(args.idle)
    timer = load_json(args.timer)
    if isinstance(timer, dict) and isinstance(timer.get("context"), dict) \
            and "executable" in timer["context"]:
        # Where the build happened to live is not a result: keep the program's name only.
        timer["context"]["executable"] = os.path.basename(timer["context"]["executable"])
    perf = bool(meta.get("perf_instructions"))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    ir = {}
    for s in (instructions or {}).get("servers", []):
        if s.get("ir_per_request") is not None:
            ir[s["server"]] = s["ir_per_request"]

    doc = {
        "date": now,
        "machine": meta,
        "setup": "one worker each, servers pinned to CPU 0, wrk -t1 pinned to CPU 1, 127.0.0.1",
        "scenarios": scenarios,
        "instructions": instructions,
        "idle": idle,
        "timer_wheel": timer,
        "runs": runs,
    }
    write_json(os.path.join(out, "latest.json"), doc)

    # ---- tables
    main_head = ["scenario", "kahttpd req/s", "p50 ms", "p99 ms", "errors"] + \
        [f"÷ {p}" for p in peers]
    main_rows = []
    for e in scenarios:
        k = e["servers"].get("kahttpd")
        if k is None:
            continue
        main_rows.append([e["name"], fmt_num(k["requests_per_s"]), fmt_num(k["latency_p50_ms"], 2),
                          fmt_num(k["latency_p99_ms"], 2), errors_text(k)] +
                         [fmt_ratio(e["ratios"].get(p, {}).get("requests_per_s")) for p in peers])
    cpu_head = ["scenario"] + [f"{n} µs" for n in names] + [f"k ÷ {p}" for p in peers]
    cpu_rows = []
    for e in scenarios:
        cpu_rows.append([e["name"]] +
                        [fmt_num(e["servers"].get(n, {}).get("cpu_us_per_request"), 2)
                         for n in names] +
                        [fmt_ratio(e["ratios"].get(p, {}).get("cpu_per_request")) for p in peers])
    wrk_head = ["scenario"] + [f"{n} µs" for n in names]
    wrk_rows = [[e["name"]] + [fmt_num(e["servers"].get(n, {}).get("client_cpu_us_per_request"), 2)
                               for n in names] for e in scenarios]
    if not any(c != "—" for row in wrk_rows for c in row[1:]):
        wrk_rows = []
    all_head = ["scenario"] + [f"{n} req/s" for n in names]
    all_rows = [[e["name"]] + [fmt_num(e["servers"].get(n, {}).get("requests_per_s"))
                               for n in names] for e in scenarios]
    p99_head = ["scenario"] + [f"{n} p99 ms" for n in names] + \
        [f"{n} errors" for n in names]
    p99_rows = [[e["name"]] +
                [fmt_num(e["servers"].get(n, {}).get("latency_p99_ms"), 2) for n in names] +
                [errors_text(e["servers"][n]) if n in e["servers"] else "—" for n in names]
                for e in scenarios]
    perf_head = ["scenario"] + [f"{n} instr/req" for n in names]
    perf_rows = [[e["name"]] + [fmt_num(e["servers"].get(n, {}).get("instructions_per_request"))
                                for n in names] for e in scenarios]

    ir_head = ["server", f"Ir ({(instructions or {}).get('n1', '?')} req)",
               f"Ir ({(instructions or {}).get('n2', '?')} req)", "Ir / request",
               "kahttpd ÷ server"]
    ir_rows = []
    for s in (instructions or {}).get("servers", []):
        if "error" in s:
            ir_rows.append([s["server"], "—", "—", "—", s["error"]])
            continue
        ir_rows.append([s["server"], fmt_num(s["n1"]["ir"]), fmt_num(s["n2"]["ir"]),
                        fmt_num(s["ir_per_request"]),
                        fmt_ratio(ratio(ir.get("kahttpd"), s["ir_per_request"]))])

    idle_head = ["server", "idle conns", "RSS before", "RSS after", "bytes / idle conn",
                 f"timeout {(idle or {}).get('timeout_s', '?')} s: min", "median", "max"]
    idle_rows = []
    timeouts = {r["server"]: r for r in (idle or {}).get("timeout", [])}
    for m in (idle or {}).get("memory", []):
        t = timeouts.get(m["server"], {})
        idle_rows.append([m["server"], f"{m['connections_idle']:,}",
                          f"{m['rss_before'] / 2**20:.1f} MiB", f"{m['rss_after'] / 2**20:.1f} MiB",
                          fmt_num(m["bytes_per_connection"]),
                          fmt_num(t.get("min_ms"), 1) + " ms", fmt_num(t.get("median_ms"), 1) + " ms",
                          fmt_num(t.get("max_ms"), 1) + " ms"])

    tls = meta.get("tls") or {}
    tls_head = ["server", "protocol", "cipher", "ticket lifetime", "resumes a session",
                "new ticket when resumed"]
    tls_rows = []
    for n in names:
        p = (tls.get("probe") or {}).get(n)
        if p is None:
            continue
        tls_rows.append([n, p.get("protocol") or "—", p.get("cipher") or "—",
                         fmt_num(p.get("ticket_lifetime_hint_s")) + " s",
                         "yes" if p.get("resumed") else "no",
                         "yes" if p.get("new_ticket_on_resumption") else "no"])

    tw = timer_rows(timer)
    sizes = sorted({n for _, n in tw})
    labels = list(dict.fromkeys(lbl for lbl, _ in tw))
    tw_head = ["ns per operation"] + [f"{n:,} armed" for n in sizes]
    tw_rows = [[lbl] + [fmt_num(tw.get((lbl, n)), 1) for n in sizes] for lbl in labels]

    rounds = meta.get("rounds", "?")
    dur = meta.get("duration_s", "?")
    versions = "; ".join(v for v in (meta.get("versions") or {}).values() if v)
    machine = (f"{meta.get('cpus', '?')} CPUs ({meta.get('cpu_model') or 'unknown CPU'}), "
               f"kernel {meta.get('kernel')}, {meta.get('os')}")

    # ---- stdout
    print()
    print(f"kahttpd and peers: medians of {rounds} rounds x {dur} s, {machine}, {now}")
    print("req/s: kahttpd, and kahttpd ÷ each peer (above 1: kahttpd faster); errors = socket/non-2xx")
    print("\n".join(text_table(main_head, main_rows)))
    print()
    print("server CPU µs per request (utime+stime ÷ requests), and kahttpd ÷ each peer (below 1: kahttpd spends less)")
    print("\n".join(text_table(cpu_head, cpu_rows)))
    if wrk_rows:
        print()
        print("client (wrk) CPU µs per request")
        print("\n".join(text_table(wrk_head, wrk_rows)))
    if perf:
        print()
        print("\n".join(text_table(perf_head, perf_rows)))
    if tls_rows:
        print()
        print(f"TLS, as OpenSSL's client sees each server ({tls.get('certificate')})")
        print("\n".join(text_table(tls_head, tls_rows)))
    if ir_rows:
        print()
        print("instructions per request (callgrind, user space)")
        print("\n".join(text_table(ir_head, ir_rows)))
    if idle_rows:
        print()
        print("\n".join(text_table(idle_head, idle_rows)))
    if tw_rows:
        print()
        print("timer wheel (CPU ns per operation)")
        print("\n".join(text_table(tw_head, tw_rows)))
    print()
    print("Ratios from the same run are what count; absolute numbers swing a lot on a shared machine.")
    print(f"Details: {os.path.join(out, 'latest.md')}, {os.path.join(out, 'latest.json')}, "
          f"{os.path.join(out, 'latest.png')}")

    # ---- Markdown
    md = [f"# kahttpd and its peers — {now}", "",
          f"{rounds} rounds × {dur} s per wrk run, interleaved (every server in turn per "
          "scenario); one worker each, servers pinned to CPU 0, `wrk -t1` pinned to CPU 1, "
          "127.0.0.1. Medians over rounds.", "",
          f"Machine: {machine}. {versions}; {meta.get('wrk')}; kahttpd checkout "
          f"{meta.get('kahttpd_commit')}, binary built {meta.get('kahttpd_binary_built')} "
          f"(sha256 {meta.get('kahttpd_binary_sha256')}). nginx tcp_nopush "
          f"{meta.get('nginx_tcp_nopush', 'on')}.", "",
          "## Throughput", "",
          "kahttpd's median req/s, latency and errors (socket errors / non-2xx, totals over "
          "rounds), and kahttpd ÷ peer req/s (above 1: kahttpd is faster). The minimal server "
          "takes part in the 1 KiB scenarios only.", ""]
    md += md_table(main_head, main_rows)
    md += ["", "## CPU time per request", "",
           "Server utime + stime over the run ÷ requests, in µs (nginx, apache: master + "
           "worker), and kahttpd ÷ peer (below 1: kahttpd spends less).", ""]
    md += md_table(cpu_head, cpu_rows)
    if wrk_rows:
        md += ["", "The client's CPU time per request: wrk's utime + stime (one thread, pinned "
               "to CPU 1) ÷ requests, in µs. Where it is close to 1 ÷ (req/s), wrk, not the "
               "server, set the pace (TLS handshakes cost the client about as much as the "
               "server).", ""]
        md += md_table(wrk_head, wrk_rows)
    if perf:
        md += ["", "perf stat instructions per request during the wrk runs:", ""]
        md += md_table(perf_head, perf_rows)
    if tls_rows:
        md += ["", "## TLS", "",
               f"The tls-* scenarios: every server with the same certificate "
               f"({tls.get('certificate')}; {tls.get('openssl')}) and its own defaults for "
               "ciphers, session tickets and caches (nginx: ssl_protocols TLSv1.2 TLSv1.3, "
               "since 1.22 stops at TLS 1.2 by default). What a client with OpenSSL's "
               "defaults negotiates (servers.py tls-probe): a full handshake, then a second "
               "connection offering the first one's session. wrk keeps each connection's SSL "
               "object across reconnections (SSL_shutdown, SSL_clear), so it offers its last "
               "session again: where the server sends no new ticket on a resumed TLS 1.3 "
               "connection, every other handshake of wrk's is a full one.", ""]
        md += md_table(tls_head, tls_rows, ["---"] * len(tls_head))
    if ir_rows:
        md += ["", "## Instructions per request (callgrind)", "",
               f"Each server single-process under callgrind, {(instructions or {}).get('n1')} and "
               f"{(instructions or {}).get('n2')} keep-alive GETs of a 1 KiB file on "
               f"{(instructions or {}).get('connections')} connections; Ir / request = "
               "(Ir(N2) − Ir(N1)) ÷ (N2 − N1). User-space instructions only (all threads); "
               "the kernel's work is not in it.", ""]
        md += md_table(ir_head, ir_rows)
    if idle_rows:
        md += ["", "## Idle connections and keep-alive timeout", "",
               f"{(idle or {}).get('connections', 0):,} idle keep-alive connections per server "
               "(one request each); bytes per idle connection = RSS growth ÷ connections (nginx, "
               "apache: the worker process; nginx allocates its connection slots at start-up, so "
               "they are in \"before\"). Timeout: time from the end of a response to the "
               "server's close, 100 connections per server, as the client sees it.", ""]
        md += md_table(idle_head, idle_rows)
    if tw_rows:
        md += ["", "## Timer wheel", "",
               "Google Benchmark, CPU ns per operation with N entries already armed "
               "(benchmarks/micro/timer_wheel_bench.cpp).", ""]
        md += md_table(tw_head, tw_rows)
    md += ["", "## Every server", "", "Median req/s:", ""]
    md += md_table(all_head, all_rows)
    md += ["", "Median p99 latency and errors (socket / non-2xx, totals):", ""]
    md += md_table(p99_head, p99_rows)
    md += ["", "kahttpd ÷ peer req/s per round, and the share of CPU 0 other processes took "
           "during each run (noise):", "",
           "| scenario | peer | ratio per round | kahttpd others % | peer others % |",
           "|---|---|---|---|---|"]
    for e in scenarios:
        for p, r in e["ratios"].items():
            def others(srv):
                return ", ".join(str(x.get("other_cpu_pct")) for x in runs
                                 if x["scenario"] == e["name"] and x["server"] == srv)
            md.append(f"| {e['name']} | {p} | "
                      + ", ".join(f"{x:.2f}" for x in r["requests_per_s_per_round"])
                      + f" | {others('kahttpd')} | {others(p)} |")
    stalls = [r for r in runs if (r.get("tcp") or {}).get("TCPSynRetrans", 0) > 0]
    if stalls:
        md += ["", "Runs during which the machine retransmitted SYNs (each one is a ≥ 1 s stall "
               "for one connection; the counters are machine-wide):", ""]
        for r in stalls:
            md.append(f"- {r['scenario']} {r['server']} round {r['round']}: "
                      + ", ".join(f"{k} {v}" for k, v in r["tcp"].items() if v))
    md.append("")
    with open(os.path.join(out, "latest.md"), "w") as f:
        f.write("\n".join(md))

    plot(out, scenarios, peers, names, ir, idle, now, rounds)
    return 0


def plot(out, scenarios, peers, names, ir, idle, now, rounds):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        print("(no chart: python3-matplotlib is not installed)")
        return
    colors = {"nginx": "#2f7d32", "h2o": "#c0392b", "lighttpd": "#e6a700",
              "caddy": "#17a2b8", "apache": "#8e44ad", "minimal": "#7f7f7f",
              "kahttpd": "#2c5aa0"}
    mem = [(m["server"], m["bytes_per_connection"]) for m in (idle or {}).get("memory", [])
           if m.get("bytes_per_connection") is not None]
    # Only the wrk rounds (make bench-gzip, make bench-tls): one row of two charts.
    rows = 2 if ir or mem else 1
    fig, axes = plt.subplots(rows, 2, figsize=(13, 8.5 if rows == 2 else 4.6), squeeze=False)
    others = [p if p != "minimal" else "a minimal epoll server" for p in peers]
    them = ", ".join(others[:-1]) + " and " + others[-1] if len(others) > 1 else "".join(others)
    fig.suptitle(f"kahttpd vs {them} — {now[:10]} "
                 f"(medians of {rounds} interleaved round{'' if rounds == 1 else 's'})",
                 fontsize=12)
    names_sc = [e["name"] for e in scenarios]
    width = 0.8 / max(1, len(peers))
    for ax, key, title, ylabel in (
            (axes[0][0], "requests_per_s", "Throughput: kahttpd ÷ peer (above 1: kahttpd faster)",
             "kahttpd req/s ÷ peer req/s"),
            (axes[0][1], "cpu_per_request",
             "CPU time per request: kahttpd ÷ peer (below 1: kahttpd cheaper)",
             "kahttpd CPU/req ÷ peer CPU/req")):
        for i, p in enumerate(peers):
            xs = [j + (i - (len(peers) - 1) / 2) * width for j in range(len(names_sc))]
            vals = [e["ratios"].get(p, {}).get(key) for e in scenarios]
            # bars grow from 1 (parity) up or down
            ax.bar([x for x, v in zip(xs, vals) if v is not None],
                   [v - 1 for v in vals if v is not None], width, bottom=1, label=p,
                   color=colors.get(p))
        ax.axhline(1.0, color="black", linewidth=0.8)
        # Ratios span 0.1 to 10 and more: a log scale keeps 2x and 0.5x equally far from 1.
        ax.set_yscale("log")
        vals = [r.get(key) for e in scenarios for r in e["ratios"].values() if r.get(key)]
        lo, hi = (min(vals), max(vals)) if vals else (1.0, 1.0)
        ticks = [t for t in (0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20, 50)
                 if lo / 2.5 <= t <= hi * 2.5]
        ax.set_ylim(min(lo, 1.0) / 1.3, max(hi, 1.0) * 1.3)
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xticks(range(len(names_sc)))
        ax.set_xticklabels(names_sc, rotation=20, ha="right")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8, loc="best")
        ax.grid(axis="y", alpha=0.3)
    if rows == 1:
        fig.tight_layout()
        fig.savefig(os.path.join(out, "latest.png"), dpi=90)
        return
    ax = axes[1][0]
    servers = [n for n in names if n in ir] or list(ir)
    if servers:
        vals = [ir[n] for n in servers]
        bars = ax.bar(servers, vals, color=[colors.get(n, "#555") for n in servers])
        for b, v in zip(bars, vals):
            ax.annotate(f"{v:,.0f}", (b.get_x() + b.get_width() / 2, v), ha="center",
                        va="bottom", fontsize=9)
        ax.set_title("Instructions per request (callgrind, 1 KiB keep-alive GET)", fontsize=10)
        ax.set_ylabel("user-space instructions")
        ax.grid(axis="y", alpha=0.3)
    else:
        ax.axis("off")
    ax = axes[1][1]
    if mem:
        bars = ax.bar([m[0] for m in mem], [m[1] for m in mem],
                      color=[colors.get(m[0], "#555") for m in mem])
        for b, (_, v) in zip(bars, mem):
            ax.annotate(f"{v:,}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom",
                        fontsize=9)
        ax.set_title(f"RSS per idle keep-alive connection ({idle.get('connections', 0):,} "
                     "connections)", fontsize=10)
        ax.set_ylabel("bytes")
        ax.grid(axis="y", alpha=0.3)
    else:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "latest.png"), dpi=90)


if __name__ == "__main__":
    sys.exit(main())
