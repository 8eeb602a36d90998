#!/usr/bin/env python3
"""Rule evaluation side by side: Osprey and Prometheus 2.42, the same 2,000 rules on
the same data (issue 15, Performance).

    .venv/bin/python benches/rules/run.py                 # load, measure, print the table
    .venv/bin/python benches/rules/run.py --reuse-load    # measure again on the last load

Needs release builds of `osprey` and `osprey-load` (cargo build --release -p osprey
-p osprey-benches) and Debian's `prometheus` and `victoria-metrics` (osprey-load
--peers also loads VictoriaMetrics); Python 3.11 with `requests` and `cramjam` (the
repo's .venv has both; the feed is `feed.py`).

What it does:

1. **Data.** `osprey-load --workload metrics --peers --keep` ingests the metrics
   workload into Osprey and Prometheus over remote_write, exactly as the ingest
   benchmark does, and leaves both data directories (`WORK/load/osprey-metrics`,
   `WORK/load/prometheus/data`). Each measurement runs on fresh copies of them
   (`WORK/run/`), so a run never measures data an earlier run changed.
2. **Keeping the data live.** The workload's last sample is ~75 s before
   osprey-load starts (`end_ms = now - 60 s`), and several minutes pass before the
   rules run (the Osprey, VictoriaMetrics and Prometheus loads, the query
   comparison, the restarts). Rules evaluated at "now" with `[5m]` windows and the
   5-minute lookback would see less and less, then nothing: evaluating empty
   selectors is cheap and would flatter both sides. So a feed continues the
   workload: it reads every series' value at the last timestamp (and 10 minutes
   earlier, for counter rates and gauge spread) from Prometheus, backfills the gap
   at the workload's 15 s step, then writes one sample per series every 15 s,
   stamped on the workload's grid, to both servers (same bytes, remote_write 1.0,
   4 requests of ~2.6k series). Counters grow at the rate they had, with the
   workload's ±30% jitter (one factor per histogram, so buckets stay cumulative),
   at the precision they had; gauges wander within their recent spread; constants
   stay. The gap must be under 45 minutes: beyond ~1 h Prometheus would compact its
   head into a block in the middle of the measurement.
3. **Baseline.** Both servers run with an empty rule file while the feed runs, and
   their CPU seconds over `--baseline-rounds` intervals give each one's cost of
   ingesting the feed and of its background work (Osprey's flushes every 60 s; the
   backfill is flushed with `POST /api/v1/admin/flush` before, so that it does not
   land in the baseline).
4. **Rules.** The rule file (gen_rules.py: 2,000 rules, 100 groups of 20,
   `interval: 15s`) is put in place and both reload (`POST /-/reload`). After
   `--warmup-rounds` intervals, the CPU window: `/proc/<pid>/stat` utime+stime of
   each server over `--rounds` intervals, and the rule evaluations they counted in
   it (`prometheus_rule_evaluations_total`, `osprey_rule_evaluations_total`).
   Nothing else asks the servers anything during the window. CPU per rule
   evaluation = (CPU in the window − baseline CPU/s × window) ÷ evaluations; the
   gross figure (feed ingest included) is printed too.
5. **Group durations.** Then, for `--rounds` more intervals, `GET /api/v1/rules` on
   both once per interval: every group's `evaluationTime` per `lastEvaluation`,
   p50, p99 and max over all of them, and how many took longer than the interval.
   Rule health is counted from the same answers (a rule that errors is cheap; both
   sides must have none for the comparison to hold).
6. **Agreement.** Firing and pending alerts from `/api/v1/alerts` on both (counts
   and the overlap of the firing sets), and a few recording rules' outputs queried
   at the same instant on both (`/api/v1/query`), series by series.

Both servers run at the same time on this machine (the feed writes the same
samples to both, which the agreement checks need). CPU seconds are per process, so
contention shows in group durations (wall time) more than in CPU per evaluation.
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

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
import gen_rules  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from proc_server import HTTP_TIMEOUT_S, Server as ProcServer, free_port, log  # noqa: E402,F401
from feed import Feed, FedSeries, sleep_checking  # noqa: E402

INTERVAL_S = 15
MAX_GAP_S = 45 * 60

# Recording rules whose outputs are compared between the two servers.
RECORD_CHECKS = [
    "service:http_requests:rate5m",
    "service:http_error_ratio:rate5m",
    "service:http_request_duration_seconds:p99_5m",
    "service_route:http_request_duration_seconds:p99_5m",
    "service:apdex:ratio_rate5m",
    "slo:sli_error:ratio_rate1h",
    "slo:current_burn_rate:ratio",
    "instance:node_cpu_utilisation:rate5m",
    "instance:node_memory_utilisation:ratio",
    "instance_mountpoint:node_filesystem_avail:ratio",
    "job_mode:node_cpu_seconds:rate5m",
    "job:http_request_duration_seconds:p99_5m",
    "name:series:count",
]


# --- servers -----------------------------------------------------------------------------------------


def other_processes(names: tuple[str, ...] = ("prometheus", "osprey", "victoria-metric", "cargo", "rustc",
                                                "osprey-load")) -> list[str]:
    """Processes that would compete for this machine's cores (not started by this script)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                comm = (d / "comm").read_text().strip()
            except OSError:
                continue
            if comm.startswith(names):
                out.append(f"{comm}[{d.name}]")
    return out


class Server(ProcServer):
    """A server the rules run on: [`ProcServer`] plus queries, reloads and its metrics."""

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        body = self.get("/api/v1/query", query=expr, time=f"{at:.3f}").json()
        if body.get("status") != "success":
            raise RuntimeError(f"{self.name}: {expr}: {body}")
        return body["data"]["result"]

    def reload(self) -> None:
        r = self.http.post(self.url + "/-/reload", timeout=HTTP_TIMEOUT_S)
        if r.status_code != 200:
            raise SystemExit(f"{self.name}: reload failed: HTTP {r.status_code} {r.text[:500]}")

    def metrics_text(self) -> str:
        return self.get("/metrics").text


def metric_sum(text: str, name: str) -> float:
    """Sum of every sample of `name` in a Prometheus text exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1] if "}" not in line else line[line.rindex("}") + 1 :].split()[0])
    return total


class Side:
    """One system under test: its server and the names of its counters."""

    def __init__(self, label: str, server: Server, evals_metric: str, failures_metric: str) -> None:
        self.label = label
        self.server = server
        self.evals_metric = evals_metric
        self.failures_metric = failures_metric

    def counters(self) -> dict[str, float]:
        text = self.server.metrics_text()
        out = {
            "evals": metric_sum(text, self.evals_metric),
            "failures": metric_sum(text, self.failures_metric),
        }
        if self.label.startswith("Prometheus"):
            out["missed"] = metric_sum(text, "prometheus_rule_group_iterations_missed_total")
        return out


# --- steps -------------------------------------------------------------------------------------------


def run_load(args: argparse.Namespace, load_dir: Path) -> None:
    if load_dir.exists():
        shutil.rmtree(load_dir)
    argv = [
        str(args.osprey_load), "--osprey", str(args.osprey), "--workload", "metrics", "--peers", "--keep",
        "--work-dir", str(load_dir), "--scale", str(args.scale), "--seed", str(args.seed),
    ]
    log("loading the metrics workload: " + " ".join(argv))
    subprocess.run(argv, check=True, cwd=REPO)


def copy_data(load_dir: Path, run_dir: Path) -> tuple[Path, Path]:
    osprey_src = load_dir / "osprey-metrics"
    prom_src = load_dir / "prometheus" / "data"
    for p in (osprey_src, prom_src):
        if not p.is_dir():
            raise SystemExit(f"{p} is missing: run without --reuse-load (osprey-load --peers --keep makes it)")
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    osprey_dst, prom_dst = run_dir / "osprey-data", run_dir / "prometheus-data"
    shutil.copytree(osprey_src, osprey_dst, symlinks=True)
    # The snapshot osprey-load took to measure bytes is not part of Prometheus' state.
    shutil.copytree(prom_src, prom_dst, symlinks=True, ignore=lambda d, names: ["snapshots"] if Path(d) == prom_src else [])
    return osprey_dst, prom_dst


def last_sample_ms(server: Server) -> int | None:
    """Timestamp of the newest `up` sample within the last 3 h (the workload's grid)."""
    now = time.time()
    body = server.get("/api/v1/query_range", query='max(timestamp(up{job="node"}))',
                      start=f"{now - 3 * 3600:.3f}", end=f"{now:.3f}", step="15").json()
    result = body["data"]["result"]
    if not result:
        return None
    return round(max(float(v) for _, v in result[0]["values"]) * 1000)


def workload_series(prom: Server, at_ms: int, span_s: int) -> list[FedSeries]:
    sel = '{__name__=~".+", __name__!~".*:.*|ALERTS|ALERTS_FOR_STATE"}'
    last = {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in prom.query(sel, at_ms / 1000)}
    then = {tuple(sorted(r["metric"].items())): float(r["value"][1])
            for r in prom.query(sel, at_ms / 1000 - span_s)}
    out = []
    for key in sorted(last):
        out.append(FedSeries(dict(key), then.get(key, last[key]), last[key], span_s))
    return out


def rules_data(server: Server) -> dict[str, Any]:
    body = server.get("/api/v1/rules").json()
    if body.get("status") != "success":
        raise RuntimeError(f"{server.name}: /api/v1/rules: {body}")
    return body["data"]


def rule_health(data: dict[str, Any]) -> tuple[int, int, int, list[str]]:
    groups = data.get("groups", [])
    rules = [r for g in groups for r in g["rules"]]
    errors = [f"{g['name']}/{r['name']}: {r.get('lastError', '')}" for g in groups for r in g["rules"]
              if r.get("health") == "err"]
    unknown = sum(1 for r in rules if r.get("health") == "unknown")
    return len(groups), len(rules), unknown, errors


def wait_rules_loaded(side: Side, groups: int, rules: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        data = rules_data(side.server)
        g, r, _, _ = rule_health(data)
        if data.get("reloadError"):
            raise SystemExit(f"{side.label}: reload error: {data['reloadError']}")
        if (g, r) == (groups, rules):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{side.label}: {g} groups / {r} rules loaded, want {groups} / {rules}")
        time.sleep(1)


def percentile(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def alert_summary(server: Server) -> dict[str, Any]:
    alerts = server.get("/api/v1/alerts").json()["data"]["alerts"]
    firing = {tuple(sorted(a["labels"].items())) for a in alerts if a["state"] == "firing"}
    pending = sum(1 for a in alerts if a["state"] == "pending")
    return {"firing": firing, "pending": pending}


def as_map(result: list[dict[str, Any]]) -> dict[tuple, float]:
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in result}


def close(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-9 + 1e-6 * max(abs(a), abs(b))


def compare_records(osprey: Server, prom: Server, at: float) -> list[dict[str, Any]]:
    out = []
    for name in RECORD_CHECKS:
        a, b = as_map(osprey.query(name, at)), as_map(prom.query(name, at))
        both = a.keys() & b.keys()
        agree = sum(1 for k in both if close(a[k], b[k]))
        worst = max((abs(a[k] - b[k]) / max(abs(a[k]), abs(b[k]), 1e-300) for k in both
                     if not (math.isnan(a[k]) or math.isnan(b[k]) or math.isinf(a[k]) or math.isinf(b[k]))),
                    default=0.0)
        out.append({"record": name, "osprey": len(a), "prometheus": len(b), "both": len(both),
                    "agree": agree, "max_rel_diff": worst})
    return out


def fmt(v: float, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}" if abs(v) < 1 else f"{v:.{max(digits - 1 - int(math.log10(abs(v))), 0)}f}"


def ratio(a: float, b: float) -> str:
    if b is None or a is None or b == 0 or math.isnan(a) or math.isnan(b):
        return "–"
    return f"{a / b:.2f}"


# --- report ------------------------------------------------------------------------------------------


def report(res: dict[str, Any]) -> None:
    """Prints the markdown tables for benches/README.md from a results dict (results.json)."""
    o, p = res["per_side"]["Osprey"], res["per_side"]["Prometheus 2.42"]
    window, n_rules, n_groups = res["window_s"], res["rules"], res["groups"]
    print()
    print(f"Rule evaluation, commit {res['commit']}, {res['date']}, {res['nproc']} cores; {res['prometheus']}; "
          f"{res['series']} workload series kept live.")
    print()
    print("| | Osprey | Prometheus 2.42 | Osprey ÷ Prometheus |")
    print("|---|---:|---:|---:|")

    def row(name: str, a: str, b: str, r: str = "") -> None:
        print(f"| {name} | {a} | {b} | {r} |")

    row("rules (groups)", f"{n_rules} ({n_groups})", f"{n_rules} ({n_groups})")
    row("interval", f"{res['interval_s']} s", f"{res['interval_s']} s")
    row(f"rule evaluations in the {window:.0f} s window", f"{o['evals']:.0f}", f"{p['evals']:.0f}",
        ratio(o["evals"], p["evals"]))
    row("rule evaluations/s (wall clock)", fmt(o["evals_per_s_wall"]), fmt(p["evals_per_s_wall"]),
        ratio(o["evals_per_s_wall"], p["evals_per_s_wall"]))
    row("**CPU s per 1,000 rule evaluations** (feed's baseline subtracted)", f"**{fmt(o['cpu_per_1k_net'])}**",
        f"**{fmt(p['cpu_per_1k_net'])}**", f"**{ratio(o['cpu_per_1k_net'], p['cpu_per_1k_net'])}**")
    row("CPU s per 1,000 rule evaluations, gross (live feed's ingest included)", fmt(o["cpu_per_1k_gross"]),
        fmt(p["cpu_per_1k_gross"]), ratio(o["cpu_per_1k_gross"], p["cpu_per_1k_gross"]))
    row("rule evaluations per CPU second", fmt(o["evals_per_cpu_s"]), fmt(p["evals_per_cpu_s"]),
        ratio(o["evals_per_cpu_s"], p["evals_per_cpu_s"]))
    row("CPU cores busy: with rules / baseline", f"{o['cpu_gross_s'] / window:.3f} / {o['baseline_cores']:.3f}",
        f"{p['cpu_gross_s'] / window:.3f} / {p['baseline_cores']:.3f}")
    row(f"group duration p50 / p99 / max ({o['group_evals']} / {p['group_evals']} group evaluations)",
        f"{fmt(o['p50_ms'])} / {fmt(o['p99_ms'])} / {fmt(o['max_ms'])} ms",
        f"{fmt(p['p50_ms'])} / {fmt(p['p99_ms'])} / {fmt(p['max_ms'])} ms",
        f"{ratio(o['p50_ms'], p['p50_ms'])} / {ratio(o['p99_ms'], p['p99_ms'])} / {ratio(o['max_ms'], p['max_ms'])}")
    row(f"groups over the {res['interval_s']} s interval (over half of it)",
        f"{o['over_interval']} ({o['over_half']})", f"{p['over_interval']} ({p['over_half']})")
    row("rules with errors / evaluation failures in the window", f"{o['rules_err']} / {o['failures']:.0f}",
        f"{p['rules_err']} / {p['failures']:.0f}")
    row("alerts firing (pending)", f"{o['firing']} ({o['pending']})", f"{p['firing']} ({p['pending']})",
        ratio(o["firing"], p["firing"]))
    row("recorded series", f"{o['recorded_series']:.0f}", f"{p['recorded_series']:.0f}",
        ratio(o["recorded_series"], p["recorded_series"]))
    row("RSS after the window", f"{o['rss_mib']:.0f} MiB", f"{p['rss_mib']:.0f} MiB", ratio(o["rss_mib"], p["rss_mib"]))
    print()
    met = o["cpu_per_1k_net"] <= p["cpu_per_1k_net"]
    inside = o["over_interval"] == 0 and p["over_interval"] == 0
    print(f"Target (Osprey's evaluation cost ≤ Prometheus'): {ratio(o['cpu_per_1k_net'], p['cpu_per_1k_net'])} — "
          f"{'met' if met else 'missed'}. Every group inside its interval: {'yes' if inside else 'NO'}.")
    print(f"Firing alerts: {res['firing_both']} on both, {res['firing_only_osprey']} only on Osprey, "
          f"{res['firing_only_prometheus']} only on Prometheus. Prometheus missed {p['missed']:.0f} group "
          f"iterations; expected rule evaluations in the window ≈ {n_rules * window / res['interval_s']:.0f}.")
    print()
    print("| recording rule | series (Osprey / Prometheus) | values agreeing (1e-6) | max relative difference |")
    print("|---|---:|---:|---:|")
    for r in res["records"]:
        print(f"| `{r['record']}` | {r['osprey']} / {r['prometheus']} | {r['agree']} of {r['both']} | "
              f"{r['max_rel_diff']:.2g} |")
    for label, errs in res["rule_errors"].items():
        if errs:
            print(f"\n{label}: {res['rule_error_counts'][label]} rules with errors, e.g.:\n  " + "\n  ".join(errs[:10]))
    print(f"\nFull results: {res['work_dir']}/results.json; server logs: {res['work_dir']}/osprey.log, "
          f"{res['work_dir']}/prometheus.log")


# --- main --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--osprey", type=Path, default=REPO / "target/release/osprey")
    ap.add_argument("--osprey-load", type=Path, default=REPO / "target/release/osprey-load")
    ap.add_argument("--prometheus", default=shutil.which("prometheus") or "/usr/bin/prometheus")
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/osprey-rules-bench"))
    ap.add_argument("--scale", type=float, default=1.0, help="osprey-load --scale (1.0 = 65 hosts, ~10.2k series)")
    ap.add_argument("--seed", type=int, default=42, help="workload, rule file and feed seed")
    ap.add_argument("--rules", type=Path, help="rule file to use instead of gen_rules.py's")
    ap.add_argument("--reuse-load", action="store_true",
                    help="skip osprey-load; use WORK/load from an earlier --keep run (less than 45 min old)")
    ap.add_argument("--baseline-rounds", type=int, default=8, help="intervals measured without rules (0: none)")
    ap.add_argument("--warmup-rounds", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=8, help="intervals in the CPU window, and again for durations")
    ap.add_argument("--keep", action="store_true", help="keep WORK/load and WORK/run afterwards")
    ap.add_argument("--report", type=Path, metavar="RESULTS_JSON", help="only print the tables of a results.json")
    args = ap.parse_args()
    if args.report:
        report(json.loads(args.report.read_text()))
        return 0
    if args.rounds < 1 or args.warmup_rounds < 1:
        raise SystemExit("--rounds and --warmup-rounds must be at least 1")

    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    load_dir, run_dir = work / "load", work / "run"
    for binary in (args.osprey, args.osprey_load if not args.reuse_load else args.osprey):
        if not Path(binary).exists():
            raise SystemExit(f"{binary} not found: cargo build --release -p osprey -p osprey-benches")
    if not Path(args.prometheus).exists():
        raise SystemExit("prometheus not found: apt-get install prometheus victoria-metrics")
    prom_version = subprocess.run([args.prometheus, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout.strip()

    busy = other_processes()
    if busy:
        log(f"warning: other processes compete for the CPU: {', '.join(busy)}")
    if not args.reuse_load:
        run_load(args, load_dir)
    osprey_data, prom_data = copy_data(load_dir, run_dir)

    # Rule files: the active one starts empty (the baseline) and becomes the bench file.
    rules_dir = run_dir / "rules"
    rules_dir.mkdir()
    bench_rules = rules_dir / "bench.yml"
    if args.rules:
        import yaml  # pyyaml (in the repo's .venv), only to count a foreign file's rules

        shutil.copyfile(args.rules, bench_rules)
        groups = [(g["name"], len(g["rules"]), g.get("interval", f"{INTERVAL_S}s"))
                  for g in yaml.safe_load(bench_rules.read_text())["groups"]]
    else:
        generated = gen_rules.build(args.seed)
        bench_rules.write_text(generated.yaml())
        groups = [(name, len(rules), gen_rules.INTERVAL) for name, rules in generated.groups]
    active = rules_dir / "active.yml"
    active.write_text("groups: []\n")
    n_groups = len(groups)
    n_rules = sum(n for _, n, _ in groups)
    intervals = {i for _, _, i in groups}
    if intervals != {f"{INTERVAL_S}s"}:
        log(f"warning: group intervals {sorted(intervals)}; this script measures in {INTERVAL_S} s rounds")

    osprey_cfg = run_dir / "osprey.toml"
    osprey_cfg.write_text(f'[rules]\nfiles = [{json.dumps(str(active))}]\nevaluation_interval = "{INTERVAL_S}s"\n')
    prom_cfg = run_dir / "prometheus.yml"
    prom_cfg.write_text(
        f"global:\n  scrape_interval: {INTERVAL_S}s\n  evaluation_interval: {INTERVAL_S}s\n"
        f"rule_files:\n  - {json.dumps(str(active))}\n"
    )
    o_http, o_grpc, o_otlp, p_port = free_port(), free_port(), free_port(), free_port()
    osprey = Server(
        "osprey",
        [str(args.osprey), "serve", "--config", str(osprey_cfg), "--data-dir", str(osprey_data),
         "--http-addr", f"127.0.0.1:{o_http}", "--otlp-grpc-addr", f"127.0.0.1:{o_grpc}",
         "--otlp-http-addr", f"127.0.0.1:{o_otlp}"],
        o_http, "/readyz", work / "osprey.log", env={**os.environ, "OSPREY_LOG": "warn"},
    )
    prom = Server(
        "prometheus",
        [args.prometheus, f"--config.file={prom_cfg}", f"--storage.tsdb.path={prom_data}",
         f"--web.listen-address=127.0.0.1:{p_port}", "--web.enable-remote-write-receiver",
         "--web.enable-lifecycle", "--log.level=warn"],
        p_port, "/-/ready", work / "prometheus.log",
    )
    sides = [
        Side("Osprey", osprey, "osprey_rule_evaluations_total", "osprey_rule_evaluation_failures_total"),
        Side("Prometheus 2.42", prom, "prometheus_rule_evaluations_total", "prometheus_rule_evaluation_failures_total"),
    ]
    feed: Feed | None = None
    results: dict[str, Any] = {"commit": commit, "prometheus": prom_version, "rules": n_rules, "groups": n_groups,
                               "interval_s": INTERVAL_S, "rounds": args.rounds, "nproc": os.cpu_count()}
    busy = other_processes()
    if busy:
        log(f"warning: before the measurement, other processes compete for the CPU: {', '.join(busy)}")
    results["competing_processes"] = busy
    results["loadavg_before"] = os.getloadavg()
    try:
        osprey.start()
        prom.start()

        # --- the data's end, and the feed that keeps it live ---
        ends = {s.label: last_sample_ms(s.server) for s in sides}
        log(f"newest workload sample: {ends}")
        if None in ends.values():
            raise SystemExit("no workload data in the last 3 h on one side; run without --reuse-load")
        if len(set(ends.values())) != 1:
            log("warning: the two servers' newest samples differ; the feed continues from the later one")
        end_ms = max(ends.values())
        gap_s = time.time() - end_ms / 1000
        if gap_s > MAX_GAP_S:
            raise SystemExit(f"the data ends {gap_s / 60:.0f} min ago (more than {MAX_GAP_S // 60}): "
                             "Prometheus would compact its head during the run; load again (no --reuse-load)")
        series = workload_series(prom, end_ms, 600)
        up = {s.label: len(s.server.query('up{job="node"}', end_ms / 1000)) for s in sides}
        log(f"{len(series)} series to continue; hosts at the end: {up}")
        feed = Feed([osprey.url, prom.url], series, end_ms, args.seed)
        t = time.monotonic()
        n = feed.backfill()
        log(f"backfilled {n} steps ({gap_s:.0f} s of data) in {time.monotonic() - t:.1f} s; live feed on")
        feed.start_live()
        results["series"] = len(series)
        results["backfilled_steps"] = n
        # The backfill's memtable is flushed now, not inside the baseline window.
        r = osprey.http.post(osprey.url + "/api/v1/admin/flush", timeout=HTTP_TIMEOUT_S)
        if r.status_code != 200:
            raise SystemExit(f"osprey: flush failed: HTTP {r.status_code} {r.text[:300]}")

        # --- baseline: ingest and background work, no rules ---
        sleep_checking(2 * INTERVAL_S, feed)
        base_rate = {s.label: 0.0 for s in sides}
        if args.baseline_rounds > 0:
            c0 = {s.label: s.server.cpu_seconds() for s in sides}
            t0 = time.monotonic()
            sleep_checking(args.baseline_rounds * INTERVAL_S, feed)
            c1 = {s.label: s.server.cpu_seconds() for s in sides}
            dt = time.monotonic() - t0
            base_rate = {k: (c1[k] - c0[k]) / dt for k in c0}
            log("baseline CPU (feed, no rules): " + ", ".join(f"{k} {v:.3f} cores" for k, v in base_rate.items()))

        # --- rules on ---
        shutil.copyfile(bench_rules, active)
        for s in sides:
            s.server.reload()
        for s in sides:
            wait_rules_loaded(s, n_groups, n_rules)
        log(f"{n_rules} rules in {n_groups} groups loaded on both; warming up {args.warmup_rounds} rounds")
        sleep_checking(args.warmup_rounds * INTERVAL_S + 2, feed)
        for s in sides:
            data = rules_data(s.server)
            never = sum(1 for g in data["groups"] if g["lastEvaluation"].startswith("0001-"))
            if never:
                log(f"warning: {s.label}: {never} groups not evaluated yet after the warm-up")

        # --- the CPU window: nothing but /proc and two /metrics reads at its edges ---
        log(f"CPU window: {args.rounds} rounds ({args.rounds * INTERVAL_S} s)")
        k0 = {s.label: s.counters() for s in sides}
        c0 = {s.label: s.server.cpu_seconds() for s in sides}
        t0 = time.monotonic()
        sleep_checking(args.rounds * INTERVAL_S, feed)
        c1 = {s.label: s.server.cpu_seconds() for s in sides}
        window = time.monotonic() - t0
        k1 = {s.label: s.counters() for s in sides}
        rss = {s.label: s.server.rss_bytes() for s in sides}

        # --- group durations and rule health, one /api/v1/rules per round ---
        log(f"durations: /api/v1/rules once per round for {args.rounds} rounds")
        durations: dict[str, dict[tuple[str, str], float]] = {s.label: {} for s in sides}
        health: dict[str, tuple[int, int, int, list[str]]] = {}
        start = time.monotonic()
        for k in range(args.rounds):
            sleep_checking(start + (k + 1) * INTERVAL_S - time.monotonic(), feed)
            for s in sides:
                data = rules_data(s.server)
                for g in data["groups"]:
                    if not g["lastEvaluation"].startswith("0001-"):
                        durations[s.label][(g["name"], g["lastEvaluation"])] = float(g["evaluationTime"])
                health[s.label] = rule_health(data)
        prom_last = metric_sum(prom.metrics_text(), "prometheus_rule_group_last_duration_seconds")

        # --- agreement ---
        at = time.time() - 20
        alerts = {s.label: alert_summary(s.server) for s in sides}
        records = compare_records(osprey, prom, at)
        recorded = {s.label: s.server.query('count({__name__=~".+:.+"})', at) for s in sides}
        alerts_series = {s.label: s.server.query('count(ALERTS{alertstate="firing"})', at) for s in sides}
    finally:
        if feed:
            feed.stop()
        for s in sides:
            s.server.stop()

    # --- results ---
    per: dict[str, dict[str, float]] = {}
    for s in sides:
        L = s.label
        evals = k1[L]["evals"] - k0[L]["evals"]
        gross = c1[L] - c0[L]
        net = gross - base_rate[L] * window
        ds = list(durations[L].values())
        per[L] = {
            "evals": evals,
            "failures": k1[L]["failures"] - k0[L]["failures"],
            "missed": k1[L].get("missed", 0) - k0[L].get("missed", 0),
            "window_s": window,
            "cpu_gross_s": gross,
            "cpu_net_s": net,
            "baseline_cores": base_rate[L],
            "cpu_per_1k_net": net / evals * 1000 if evals else float("nan"),
            "cpu_per_1k_gross": gross / evals * 1000 if evals else float("nan"),
            "evals_per_cpu_s": evals / net if net > 0 else float("nan"),
            "evals_per_s_wall": evals / window,
            "group_evals": len(ds),
            "p50_ms": percentile(ds, 0.5) * 1000,
            "p99_ms": percentile(ds, 0.99) * 1000,
            "max_ms": max(ds) * 1000 if ds else float("nan"),
            "over_interval": sum(1 for d in ds if d > INTERVAL_S),
            "over_half": sum(1 for d in ds if d > INTERVAL_S / 2),
            "rules_err": len(health[L][3]),
            "rules_unknown": health[L][2],
            "firing": len(alerts[L]["firing"]),
            "pending": alerts[L]["pending"],
            "alerts_series": float(alerts_series[L][0]["value"][1]) if alerts_series[L] else 0.0,
            "recorded_series": float(recorded[L][0]["value"][1]) if recorded[L] else 0.0,
            "rss_mib": rss[L] / 2**20,
        }
    fo, fp = alerts["Osprey"]["firing"], alerts["Prometheus 2.42"]["firing"]
    results.update({"per_side": per, "records": records, "prometheus_last_duration_sum_s": prom_last,
                    "window_s": window, "date": time.strftime("%Y-%m-%d", time.gmtime()),
                    "firing_both": len(fo & fp), "firing_only_osprey": len(fo - fp),
                    "firing_only_prometheus": len(fp - fo),
                    "rule_errors": {k: v[3][:20] for k, v in health.items()},
                    "rule_error_counts": {k: len(v[3]) for k, v in health.items()},
                    "work_dir": str(work)})
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    report(results)
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
        if not args.reuse_load:
            shutil.rmtree(load_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
