#!/usr/bin/env python3
"""PromQL queries side by side: Osprey, Prometheus 2.42 and VictoriaMetrics 1.79 on the
same data, in one run (issue 17, "Measure").

    .venv/bin/python benches/promql/run.py                 # load, measure, print the tables
    .venv/bin/python benches/promql/run.py --scale 12.8    # the large workload (100,064 series)
    .venv/bin/python benches/promql/run.py --reuse-load    # measure again on the last load
    .venv/bin/python benches/promql/run.py --queries-only  # same, files state only (quick)

Needs release builds of `osprey` and `osprey-load` (cargo build --release -p osprey
-p osprey-benches), Debian's `prometheus` and `victoria-metrics`, and Python 3.11 with
`requests` and `cramjam` (the repo's .venv has both).

What it does:

1. **Data.** `osprey-load --workload metrics --peers --keep --scale S` ingests the
   metrics workload (65×S hosts of 117 series and 20 services' 2,720 series: 10,325
   series at S = 1, 78,770 at 10, 100,064 at 12.8; 2 h at 15 s) into all three over
   remote_write and prints the ingest table (samples/s, bytes, peak RSS), kept in
   `WORK/load/osprey-load.txt`. It leaves each
   system's data in `WORK/load`: Osprey's files after flush, full compaction and a
   restart; Prometheus' WAL and a snapshot of its head (blocks); VictoriaMetrics'
   parts after `force_merge` and a clean stop. Every run measures fresh copies
   (`WORK/run/`).
2. **Two states, five servers, all running at once.**
   - *flushed+compacted*: Osprey restarted on its files (the head loads the last two
     hours of them; the script waits until `/api/v1/status/storage` says
     `head_loading: false`), Prometheus on the snapshot's blocks (empty head).
   - *in memory*: a fresh Osprey that never flushes (`flush_size` 8 GiB,
     `flush_interval` 24 h) into which every raw sample of Prometheus' head is written
     over remote_write, one sample per series per request, step by step on 4
     connections, as osprey-load sends them (memtables and head, no file); Prometheus
     on its WAL (the head, replayed on start).
   - VictoriaMetrics has no unflushed state to hold: the same server, on its merged
     parts, answers for both states (one set of timings, shown in both tables).
     `-search.disableCache` turns off its rollup result cache, which would otherwise
     answer the repeated identical queries from memory; `-search.latencyOffset=0s`.
3. **Queries** (`queries.py`): 15 expressions over the workload's metrics (rate and
   increase under `sum by`, `histogram_quantile`, `topk`, `count`, regex matchers,
   `max_over_time`, ratios of two sums, filesystem, CPU and memory usage, `avg by`),
   each as an instant query at the data's end (its last sample's time, down to a
   multiple of 15 s) and as a 1 h range query at a 15 s step ending there. Each is
   sent once to every server as a warm-up, then `--runs` times in turn (A B C D E,
   A B C D E, ...) so that the machine's noise hits all alike; the figure is the
   median wall-clock time of a GET with its body read, on one keep-alive session per
   server.
4. **Answers.** Each state's Osprey answers are compared with its Prometheus' (same
   label sets and points, values within 1e-6 relative or both NaN; for `topk`, each
   step's values as a multiset): a query that differs is flagged. For information,
   the table also says whether VictoriaMetrics has Prometheus' series and how far its
   values are: MetricsQL's `rate` and `increase` do not extrapolate, so they differ
   from PromQL's by design.
5. **Memory.** Each server's VmHWM is reset (`/proc/PID/clear_refs`) before the
   queries, so the table's peak RSS is the query phase's.

Osprey's head holds the last two hours by the wall clock, and osprey-load ends its
data a minute before it starts: a range query reaches 65 minutes back, so the head
covers all of it only while the data's end is under 55 minutes old. The script prints
the age and warns past it (the large workload takes long to load).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
import systems  # noqa: E402
from queries import QUERIES, compare, drift, series_of  # noqa: E402
from systems import Server, log  # noqa: E402

STEP_S = 15
RANGE_S = 3600
HEAD_SAFE_AGE_S = 55 * 60
STATES = {  # state: (Osprey's server, Prometheus' server); VictoriaMetrics' is "vm" in both
    "in memory": ("osprey_mem", "prom_head"),
    "flushed+compacted": ("osprey_files", "prom_blocks"),
}
LABELS = {
    "osprey_mem": "Osprey (in memory)", "osprey_files": "Osprey (files)",
    "prom_head": "Prometheus 2.42 (head)", "prom_blocks": "Prometheus 2.42 (blocks)",
    "vm": "VictoriaMetrics 1.79",
}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_load(args: argparse.Namespace, load_dir: Path) -> None:
    if load_dir.exists():
        shutil.rmtree(load_dir)
    load_dir.mkdir(parents=True)
    argv = [str(args.osprey_load), "--osprey", str(args.osprey), "--workload", "metrics", "--peers", "--keep",
            "--work-dir", str(load_dir), "--scale", str(args.scale), "--seed", str(args.seed)]
    log("loading the metrics workload: " + " ".join(argv))
    with (load_dir / "osprey-load.txt").open("w") as out:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            sys.stderr.write(line)
        if proc.wait() != 0:
            raise SystemExit(f"osprey-load failed with {proc.returncode}")


def ingest_rows(load_dir: Path) -> list[dict[str, str]]:
    """The metrics rows of osprey-load's table."""
    path = load_dir / "osprey-load.txt"
    rows = []
    cols = ["workload", "system", "rows", "rows_per_s", "bytes", "bytes_per_row", "peak_rss", "measured"]
    for line in path.read_text().splitlines() if path.exists() else []:
        if line.startswith("| metrics |"):
            rows.append(dict(zip(cols, (c.strip() for c in line.strip().strip("|").split("|")))))
    return rows


def copy_data(load_dir: Path, run_dir: Path) -> dict[str, Path | None]:
    prom = load_dir / "prometheus" / "data"
    snaps = sorted((prom / "snapshots").iterdir()) if (prom / "snapshots").is_dir() else []
    src = {"osprey_files": load_dir / "osprey-metrics", "prom_head": prom,
           "prom_blocks": snaps[-1] if snaps else None, "vm": load_dir / "victoria-metrics"}
    for key in ("osprey_files", "prom_head", "prom_blocks"):
        if src[key] is None or not src[key].is_dir():
            raise SystemExit(f"{key}: no data in {load_dir}: run without --reuse-load "
                             "(osprey-load --workload metrics --peers --keep makes it)")
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    out: dict[str, Path | None] = {}
    for key, s in src.items():
        if s is None or not s.is_dir():
            log(f"warning: {key}: {s} is missing; it is left out")
            out[key] = None
            continue
        dst = run_dir / key
        skip = (lambda d, names: ["snapshots"] if Path(d) == prom else []) if key == "prom_head" else None
        shutil.copytree(s, dst, symlinks=True, ignore=skip)
        out[key] = dst
    return out


def data_end_ms(blocks: Path) -> tuple[int, int]:
    """(first, last) sample time of the workload, from the snapshot's block metas
    (maxTime is exclusive)."""
    metas = [json.loads(p.read_text()) for p in blocks.glob("*/meta.json")]
    if not metas:
        raise SystemExit(f"no blocks in {blocks}")
    return min(m["minTime"] for m in metas), max(m["maxTime"] for m in metas) - 1


# --- measurement -------------------------------------------------------------------------------------


def run_query(servers: dict[str, Server], expr: str, kind: str, at: int, runs: int) -> dict[str, dict[str, Any]]:
    """One expression, one kind, on every server: a warm-up each (its answer kept), then
    `runs` rounds in turn. Returns per server {ms, times, answer | error}."""
    if kind == "instant":
        path, params = "/api/v1/query", {"query": expr, "time": str(at)}
    else:
        path, params = "/api/v1/query_range", {"query": expr, "start": str(at - RANGE_S), "end": str(at),
                                                "step": str(STEP_S)}
    out: dict[str, dict[str, Any]] = {}
    for key, s in servers.items():
        try:
            _, body = s.timed(path, params)
            doc = json.loads(body)
            if doc.get("status") != "success":
                raise RuntimeError(f"{s.label}: {doc}")
            out[key] = {"times": [], "answer": series_of(doc["data"]), "bytes": len(body)}
        except Exception as e:  # noqa: BLE001 — an error is a result
            out[key] = {"error": str(e)[:300]}
    for _ in range(runs):
        for key, s in servers.items():
            if "error" in out[key]:
                continue
            try:
                out[key]["times"].append(s.timed(path, params)[0])
            except Exception as e:  # noqa: BLE001
                out[key] = {"error": str(e)[:300]}
    for r in out.values():
        if "times" in r:
            r["ms"] = statistics.median(r["times"])
    return out


def geomean(xs: list[float]) -> float:
    xs = [x for x in xs if x > 0 and math.isfinite(x)]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")


def summarize(rows: list[dict[str, Any]], o: str, p: str) -> dict[str, Any]:
    """Geometric means of Osprey's time over each peer's, and the targets."""
    def ratios(peer: str, kind: str | None) -> list[float]:
        return [r[o]["ms"] / r[peer]["ms"] for r in rows
                if (kind is None or r["kind"] == kind) and "ms" in r[o] and "ms" in r.get(peer, {})]
    inst = [r for r in rows if r["kind"] == "instant" and "ms" in r[o] and "ms" in r[p]]
    slower = [r["query"] for r in inst if r[o]["ms"] > r[p]["ms"]]
    return {
        "geo_osprey_over_prom": geomean(ratios(p, None)),
        "geo_osprey_over_prom_instant": geomean(ratios(p, "instant")),
        "geo_osprey_over_vm": geomean(ratios("vm", None)),
        "geo_osprey_over_vm_instant": geomean(ratios("vm", "instant")),
        "instants_no_slower": len(inst) - len(slower), "instants": len(inst), "instants_slower": slower,
        "disagree": [f"{r['query']} ({r['kind']})" for r in rows if r[o].get("problems")],
    }


# --- report ------------------------------------------------------------------------------------------


def fmt_ms(r: dict[str, Any]) -> str:
    if "error" in r:
        return "error"
    return "–" if "ms" not in r else f"{r['ms']:.1f}" if r["ms"] < 100 else f"{r['ms']:.0f}"


def ratio(rows: dict[str, Any], a: str, b: str) -> str:
    x, y = rows.get(a, {}), rows.get(b, {})
    return f"{x['ms'] / y['ms']:.2f}" if "ms" in x and "ms" in y else "–"


def agree_cell(r: dict[str, Any]) -> str:
    if "error" in r:
        return "error"
    return "yes" if not r.get("problems") else "**NO**"


def drift_cell(r: dict[str, Any]) -> str:
    """VictoriaMetrics against Prometheus: MetricsQL's own semantics, for information."""
    if "error" in r or "drift" not in r:
        return "error" if "error" in r else "–"
    d = r["drift"]
    if not d["same_series"]:
        return "other series"
    return "yes" if d["max_rel_diff"] <= 1e-6 else f"≤ {d['max_rel_diff']:.1%} off"


def report(res: dict[str, Any]) -> None:
    m = res["meta"]
    print(f"\nPromQL queries, scale {m['scale']} ({m['series']} series, {m['samples']} samples, 2 h at 15 s), "
          f"commit {m['commit']} (osprey built {m.get('osprey_built', '?')}), {m['date']}, {m['nproc']} cores; "
          f"{m['prometheus']}; VictoriaMetrics {m['victoria']}. Medians of {m['runs']} after a warm-up; "
          "instant at the data's end, range 1 h at "
          f"{STEP_S} s. Data's end {m['age_start_min']:.0f}–{m['age_end_min']:.0f} min old during the queries.")
    print(f"Load before: {m['uptime_before']}\nLoad after:  {m['uptime_after']}")
    if m["competing"]:
        print(f"Other processes competing for the CPU at the start: {', '.join(m['competing'])}")
    for state, (o, p) in STATES.items():
        rows = [r for r in res["rows"] if o in r]
        if not rows:
            continue
        print(f"\n#### {state}: {LABELS[o]}, {LABELS[p]}, {LABELS['vm']}\n")
        print("| query | kind | Osprey ms | Prometheus ms | VM ms | Prom/Osprey | VM/Osprey | series | "
              "answers agree | VM vs Prometheus |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
        for r in rows:
            series = r[p].get("series", "–")
            print(f"| `{r['query']}` | {r['kind']} | {fmt_ms(r[o])} | {fmt_ms(r[p])} | {fmt_ms(r.get('vm', {}))} | "
                  f"{ratio(r, p, o)} | {ratio(r, 'vm', o)} | {series} | {agree_cell(r[o])} | "
                  f"{drift_cell(r['vm']) if 'vm' in r else '–'} |")
        s = res["summary"][state]
        met_p = s["instants_no_slower"] == s["instants"]
        met_v = s["geo_osprey_over_vm"] <= 0.8
        print(f"\n| geometric mean of Osprey's time ÷ the peer's | all {len(rows)} | instant only |\n|---|---:|---:|")
        print(f"| Osprey ÷ Prometheus | {s['geo_osprey_over_prom']:.2f} | {s['geo_osprey_over_prom_instant']:.2f} |")
        print(f"| Osprey ÷ VictoriaMetrics | {s['geo_osprey_over_vm']:.2f} | {s['geo_osprey_over_vm_instant']:.2f} |")
        print(f"\nTargets: every instant query no slower than Prometheus: {s['instants_no_slower']} of "
              f"{s['instants']} — {'met' if met_p else 'missed'}"
              + (f" (slower: {', '.join(s['instants_slower'])})" if s["instants_slower"] else "")
              + f"; geometric mean ≤ 0.8 × VictoriaMetrics': {s['geo_osprey_over_vm']:.2f} — "
              f"{'met' if met_v else 'missed'}.")
        print("VM vs Prometheus: the same series and how far VictoriaMetrics' values are from Prometheus'; "
              "MetricsQL's rate and increase do not extrapolate to the window's edges, by design.")
        if s["disagree"]:
            print(f"Answers that differ from Prometheus': {', '.join(s['disagree'])}")
    print("\nWhat the expressions are:\n")
    for q in (q for q in QUERIES if any(r["query"] == q.name for r in res["rows"])):
        print(f"- `{q.name}` ({q.kind}): `{q.expr}`")
    problems = [(r["query"], r["kind"], k, r[k]) for r in res["rows"] for k in r
                if isinstance(r[k], dict) and (r[k].get("problems") or r[k].get("error"))]
    if problems:
        print("\nDifferences and errors (reference: the same state's Prometheus; for Prometheus on blocks, "
              "Prometheus on its head):")
        for q, kind, k, r in problems:
            print(f"- {q} ({kind}) {LABELS[k]}: " + "; ".join(r.get("problems") or [r["error"]]))
    if res["ingest"]:
        print("\nIngest (osprey-load, same run):\n")
        print("| system | samples | samples/s | bytes on disk | bytes/sample | peak RSS | measured |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for i in res["ingest"]:
            print(f"| {i['system']} | {i['rows']} | {i['rows_per_s']} | {i['bytes']} | {i['bytes_per_row']} | "
                  f"{i['peak_rss']} | {i['measured']} |")
    print("\nMemory of the query servers:\n")
    print("| server | RSS before the queries | peak RSS during them | peak RSS before (start, load) | notes |")
    print("|---|---:|---:|---:|---|")
    for k, mem in res["memory"].items():
        print(f"| {LABELS[k]} | {mem['rss_before_mib']:.0f} MiB | {mem['hwm_queries_mib']:.0f} MiB | "
              f"{mem['hwm_start_mib']:.0f} MiB | {mem.get('note', '')} |")
    print(f"\nFull results: {res['path']}")


# --- main --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--osprey", type=Path, default=REPO / "target/release/osprey")
    ap.add_argument("--osprey-load", type=Path, default=REPO / "target/release/osprey-load")
    ap.add_argument("--prometheus", default=shutil.which("prometheus") or "/usr/bin/prometheus")
    ap.add_argument("--victoria-metrics", default=shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics")
    ap.add_argument("--work-dir", type=Path, default=REPO / "target/bench-promql")
    ap.add_argument("--scale", type=float, default=1.0, help="osprey-load --scale (1: 10,325 series, 12.8: 100,064)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--runs", type=int, default=7, help="timed runs per query and server, after one warm-up")
    ap.add_argument("--reuse-load", action="store_true", help="skip osprey-load if WORK/scale-S/load has its data")
    ap.add_argument("--queries-only", action="store_true",
                    help="--reuse-load, and the flushed+compacted state only (no in-memory replay)")
    ap.add_argument("--only", help="comma-separated query names (queries.py) to run")
    ap.add_argument("--keep", action="store_true", help="keep WORK/scale-S/run (the servers' copies) afterwards")
    ap.add_argument("--report", type=Path, nargs="+", metavar="RESULTS_JSON", help="only print results.json tables")
    args = ap.parse_args()
    if args.report:
        for p in args.report:
            report(json.loads(p.read_text()))
        return 0

    work = (args.work_dir / f"scale-{args.scale:g}").resolve()
    load_dir, run_dir = work / "load", work / "run"
    reuse = args.reuse_load or args.queries_only
    needs_load = not (reuse and (load_dir / "osprey-metrics").is_dir())
    for b in [args.osprey] + ([args.osprey_load] if needs_load else []):
        if not Path(b).exists():
            raise SystemExit(f"{b} not found: cargo build --release -p osprey -p osprey-benches")
    queries = [q for q in QUERIES if not args.only or q.name in args.only.split(",")]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO).stdout.strip()
    meta: dict[str, Any] = {
        "scale": args.scale, "runs": args.runs, "commit": commit, "nproc": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()), "osprey": str(args.osprey),
        "osprey_built": time.strftime("%Y-%m-%d %H:%M", time.localtime(args.osprey.stat().st_mtime)),
        "prometheus": subprocess.run([args.prometheus, "--version"], capture_output=True,
                                     text=True).stdout.split("\n")[0],
        "victoria": subprocess.run(["dpkg-query", "-W", "-f=${Version}", "victoria-metrics"], capture_output=True,
                                   text=True).stdout.strip() or "?",
    }
    if needs_load:
        run_load(args, load_dir)
    dirs = copy_data(load_dir, run_dir)
    first_ms, last_ms = data_end_ms(dirs["prom_blocks"])  # type: ignore[arg-type]
    at = last_ms // 1000 // STEP_S * STEP_S
    meta["data_ms"] = [first_ms, last_ms]
    meta["at"] = at

    prom_cfg = run_dir / "prometheus.yml"
    prom_cfg.write_text("global:\n  scrape_interval: 15s\n")
    query_cfg = '[query]\ntimeout = "5m"\nmax_samples = 500000000\n'
    files_cfg, mem_cfg = run_dir / "osprey-files.toml", run_dir / "osprey-mem.toml"
    files_cfg.write_text(query_cfg)
    mem_cfg.write_text(query_cfg + '\n[storage]\nflush_size = "8GiB"\nflush_interval = "24h"\n'
                       'memtable_limit = "16GiB"\nwal_fsync = false\n')
    servers: dict[str, Server] = {}
    if not args.queries_only:
        (run_dir / "osprey_mem").mkdir()
        servers["osprey_mem"] = systems.osprey(LABELS["osprey_mem"], args.osprey, run_dir / "osprey_mem", mem_cfg,
                                               work / "osprey-mem.log")
    servers["osprey_files"] = systems.osprey(LABELS["osprey_files"], args.osprey, dirs["osprey_files"], files_cfg,
                                             work / "osprey-files.log")
    if not args.queries_only:
        servers["prom_head"] = systems.prometheus(LABELS["prom_head"], args.prometheus, dirs["prom_head"], prom_cfg,
                                                  work / "prometheus-head.log")
    servers["prom_blocks"] = systems.prometheus(LABELS["prom_blocks"], args.prometheus, dirs["prom_blocks"],
                                                prom_cfg, work / "prometheus-blocks.log")
    if dirs["vm"] is not None:
        servers["vm"] = systems.victoria(LABELS["vm"], args.victoria_metrics, dirs["vm"], work / "victoria.log")

    results: dict[str, Any] = {"meta": meta, "rows": [], "ingest": ingest_rows(load_dir), "memory": {}}
    notes: dict[str, str] = {}
    try:
        for s in servers.values():
            s.start()
        took = systems.wait_head_loaded(servers["osprey_files"])
        st = servers["osprey_files"].get_json("/api/v1/status/storage")["data"]
        notes["osprey_files"] = (f"head loaded from files {took:.0f} s after ready: "
                                 f"{st.get('head_bytes', 0) / 2**20:.1f} MiB; "
                                 f"{sum(p['files'] for p in st['partitions'])} files")
        if "osprey_mem" in servers:
            log("reading every raw sample from Prometheus' head")
            t = time.monotonic()
            raw = systems.fetch_raw(servers["prom_head"], last_ms, (last_ms - first_ms) // 1000 + 60)
            log(f"{len(raw)} series in {time.monotonic() - t:.0f} s; writing them to {LABELS['osprey_mem']}")
            n, secs = systems.replay(raw, servers["osprey_mem"].url)
            del raw
            want = int(results["ingest"][0]["rows"]) if results["ingest"] else n
            if n != want:
                log(f"warning: {n} samples replayed, osprey-load wrote {want}")
            st = servers["osprey_mem"].get_json("/api/v1/status/storage")["data"]
            notes["osprey_mem"] = (f"{n} samples replayed in {secs:.0f} s; memtables "
                                   f"{st['memtable_bytes'] / 2**20:.1f} MiB, head "
                                   f"{st.get('head_bytes', 0) / 2**20:.1f} MiB, {len(st['partitions'])} files")
            log(notes["osprey_mem"])
            if st["partitions"]:
                log("warning: the in-memory Osprey has flushed files; its state is not 'in memory' only")
        meta["series"] = int(float(servers["prom_blocks"].get_json(
            "/api/v1/query", query='count({__name__=~".+"})', time=str(at))["data"]["result"][0]["value"][1]))
        meta["samples"] = int(results["ingest"][0]["rows"]) if results["ingest"] else "?"
        meta["competing"] = systems_competing()
        meta["uptime_before"] = uptime()
        meta["age_start_min"] = (time.time() - at) / 60
        if time.time() - at > HEAD_SAFE_AGE_S:
            log(f"warning: the data ends {meta['age_start_min']:.0f} min ago: Osprey's head (the last 2 h by the "
                "clock) no longer holds all of a 1 h range query's samples; they are read from files")
        for k, s in servers.items():
            results["memory"][k] = {"hwm_start_mib": s.status_kib("VmHWM") / 1024,
                                    "rss_before_mib": s.status_kib("VmRSS") / 1024}
            s.reset_peak_rss()
        log(f"{len(queries)} expressions × instant, range on {len(servers)} servers, {args.runs} runs each")
        for q in queries:
            for kind in ("instant", "range"):
                res = run_query(servers, q.expr, kind, at, args.runs)
                row: dict[str, Any] = {"query": q.name, "kind": kind, "expr": q.expr}
                for state, (o, p) in STATES.items():
                    ref = res.get(p, {}).get("answer")
                    if o in res and ref is not None and "answer" in res[o]:
                        res[o]["problems"] = compare(ref, res[o]["answer"], q.ties)
                ref = res.get("prom_blocks", {}).get("answer")
                if "answer" in res.get("vm", {}) and ref is not None:
                    res["vm"]["drift"] = drift(ref, res["vm"]["answer"], q.ties)
                if "answer" in res.get("prom_head", {}) and "answer" in res.get("prom_blocks", {}):
                    res["prom_blocks"]["problems"] = compare(res["prom_head"]["answer"],
                                                             res["prom_blocks"]["answer"], q.ties)
                for k, r in res.items():
                    if "answer" in r:
                        r["series"] = len(r.pop("answer"))
                    row[k] = r
                results["rows"].append(row)
                log(f"{q.name} {kind}: " + ", ".join(f"{k} {fmt_ms(r)}" for k, r in res.items()))
        meta["uptime_after"] = uptime()
        meta["age_end_min"] = (time.time() - at) / 60
        for k, s in servers.items():
            results["memory"][k]["hwm_queries_mib"] = s.status_kib("VmHWM") / 1024
            results["memory"][k]["note"] = notes.get(k, "")
    finally:
        for s in servers.values():
            s.stop()
    results["summary"] = {state: summarize([r for r in results["rows"] if o in r and p in r], o, p)
                          for state, (o, p) in STATES.items() if o in servers}
    results["path"] = str(work / "results.json")
    (work / "results.json").write_text(json.dumps(results, indent=1, default=str))
    report(results)
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


def systems_competing() -> list[str]:
    """Processes not started by this script that compete for the cores."""
    mine = {str(os.getpid())}
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and d.name not in mine:
            try:
                comm = (d / "comm").read_text().strip()
                ppid = (d / "stat").read_text().rsplit(")", 1)[1].split()[1]
            except (OSError, IndexError):
                continue
            if ppid != str(os.getpid()) and comm.startswith(("cargo", "rustc", "chrom", "node", "osprey",
                                                             "prometheus", "victoria-metric")):
                out.append(comm)
    return [f"{c} ×{out.count(c)}" if out.count(c) > 1 else c for c in sorted(set(out))]


if __name__ == "__main__":
    sys.exit(main())
