"""Scale-out, as far as it is built (issue 23): the `[cluster]` section and `--role`
checked by `osprey config check` and `osprey serve`, the manifest committed as bucket
snapshots on a local directory, and a second process with the same node id fencing
the first.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from builders import (
    assert_accepted,
    gauge_metric,
    log_record,
    logs_request,
    metrics_request,
    number_point,
    post_otlp,
    span,
    traces_request,
)
from harness import OspreyServer, free_ports, recent_second, wait_until
from test_remote_write import encode_write_request, snappy

CLI_TIMEOUT_S = 30


def run(binary: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S)


def check(binary: Path, tmp_path: Path, text: str, *extra: str) -> subprocess.CompletedProcess:
    path = tmp_path / "osprey.toml"
    path.write_text(text)
    return run(binary, "config", "check", str(path), *extra)


CLUSTER = """\
[cluster]
node_id = "osprey-ingester-1"
ingesters = ["osprey-ingester-0.osprey-ingester:4319", "osprey-ingester-1.osprey-ingester:4319"]
internal_addr = "127.0.0.1:4319"
token_file = "/etc/osprey/cluster-token"
manifest = "bucket"
poll_interval = "2s"
deletion_delay = "10m"
"""


def test_config_check_accepts_a_cluster_section_for_every_role(osprey_bin: Path, tmp_path: Path) -> None:
    for role in ("ingester", "querier", "compactor", "all"):
        proc = check(osprey_bin, tmp_path, CLUSTER, "--role", role)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"role {role}" in proc.stdout


@pytest.mark.parametrize(
    ("text", "role", "key", "words"),
    [
        ('[cluster]\nnode_id = "a/b"\n', "all", "cluster.node_id", "not a valid node id"),
        ('[cluster]\ningesters = ["no-port"]\nmanifest = "bucket"\ntoken_file = "t"\n', "all", "cluster.ingesters[0]", "HOST:PORT"),
        ('[cluster]\ningesters = ["a:1", "a:1"]\nmanifest = "bucket"\ntoken_file = "t"\n', "all", "cluster.ingesters[1]", "listed twice"),
        ('[cluster]\ningesters = ["a:1"]\nmanifest = "bucket"\n', "all", "cluster.token_file", "is required"),
        ('[cluster]\ningesters = ["a:1"]\ntoken_file = "t"\n', "all", "cluster.manifest", '"bucket"'),
        ('[cluster]\nmanifest = "s3"\n', "all", "cluster.manifest", "local"),
        ('[cluster]\ndeletion_delay = "20s"\n', "all", "cluster.deletion_delay", "query.timeout"),
        ('[cluster]\npoll_interval = "0s"\n', "all", "cluster.poll_interval", "greater than 0s"),
        ("", "querier", "cluster.manifest", "--role querier"),
        ('[cluster]\nmanifest = "bucket"\n', "ingester", "cluster.ingesters", "internal addresses"),
        ('[cluster]\nmanifest = "bucket"\n', "compactor", "cluster.token_file", "--role compactor"),
        (
            '[cluster]\nmanifest = "bucket"\ningesters = ["a:1"]\ntoken_file = "t"\nnode_id = "b"\n',
            "ingester",
            "cluster.ingesters",
            "must be listed",
        ),
        ('[cluster]\nforward_timeout = "0s"\n', "all", "cluster.forward_timeout", "greater than 0s"),
        (CLUSTER + '[rules]\nfiles = ["r.yml"]\n', "querier", "cluster.compactor", "run on the compactor"),
        ('[cluster]\nshards = 3\n', "all", "cluster.shards", ""),
    ],
)
def test_config_check_explains_cluster_problems(
    osprey_bin: Path, tmp_path: Path, text: str, role: str, key: str, words: str
) -> None:
    proc = check(osprey_bin, tmp_path, text, "--role", role)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line.strip() for line in proc.stdout.splitlines()]
    assert any(line.startswith(f"{key}:") and words in line for line in lines), proc.stdout


def test_an_unknown_role_is_refused_by_name(osprey_bin: Path, tmp_path: Path) -> None:
    proc = run(osprey_bin, "serve", "--role", "reader", "--data-dir", str(tmp_path / "d"))
    assert proc.returncode != 0
    assert "ingester, querier, compactor, all" in proc.stderr, proc.stderr


def test_a_role_its_config_cannot_run_is_refused_before_it_listens(osprey_bin: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    # A querier or an ingester needs the cluster token to reach the others.
    cfg.write_text(CLUSTER.replace('token_file = "/etc/osprey/cluster-token"\n', ""))
    proc = run(osprey_bin, "serve", "--config", str(cfg), "--role", "querier", "--data-dir", str(tmp_path / "d"))
    assert proc.returncode == 1
    assert "cluster.token_file" in proc.stderr, proc.stderr
    # Without a shared manifest the config is what is wrong, and it says so first.
    proc = run(osprey_bin, "serve", "--role", "compactor", "--data-dir", str(tmp_path / "d"))
    assert proc.returncode == 1
    assert 'cluster.manifest: --role compactor shares the manifest' in proc.stderr, proc.stderr


def send_logs(server: OspreyServer, tag: str, n: int) -> None:
    t = recent_second(600) * 1_000_000_000
    logs = [log_record(t + i, f"cluster {tag} {i}", attributes={"tag": tag}) for i in range(n)]
    assert_accepted(post_otlp(server, "logs", logs_request("cluster", logs)))


def snapshots(data_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((data_dir / "manifest").glob("*.json"))]


BUCKET = {"OSPREY_CLUSTER_MANIFEST": "bucket", "OSPREY_CLUSTER_NODE_ID": "node-a"}

# A data or series file's name: its writer's node id and epoch, then its sequence.
WRITTEN_BY = re.compile(r"^(?P<node>.+)-(?P<epoch>\d{6})-\d{12}\.(parquet|series)$")


def assert_no_stale_epoch(store: Path) -> None:
    """Every file a snapshot adds to the one before is named for its writer's epoch in
    that snapshot: no process committed after a newer one took its node id."""
    snaps = snapshots(store)
    assert len(snaps) > 1, "no commit to check"
    for older, newer in zip(snaps, snaps[1:]):
        files = lambda s: {f["path"] for f in s["files"]} | set(s["series_files"])  # noqa: E731
        for path in files(newer) - files(older):
            m = WRITTEN_BY.match(path.rsplit("/", 1)[-1])
            assert m, path
            assert newer["epochs"].get(m["node"]) == int(m["epoch"]), (newer["seq"], path, newer["epochs"])


def test_bucket_snapshots_carry_a_directory_over_and_survive_restarts(osprey_factory) -> None:
    """A single node's data directory switched to `manifest = "bucket"` keeps its rows,
    commits numbered snapshots under a new epoch per start, and cannot silently go back."""
    server = osprey_factory(env={"OSPREY_CLUSTER_MANIFEST": "local"})
    send_logs(server, "before", 7)
    server.flush()
    server.stop()
    server.extra_env.update(BUCKET)
    server.start()
    assert server.count("logs") == 7
    send_logs(server, "after", 5)
    server.flush()
    server.restart(kill=True)
    assert server.count("logs") == 12
    snaps = snapshots(server.data_dir)
    assert [s["seq"] for s in snaps] == list(range(1, len(snaps) + 1))
    assert snaps[-1]["epochs"] == {"node-a": 2}
    assert (server.data_dir / "MANIFEST.migrated").exists()
    assert not (server.data_dir / "MANIFEST").exists()
    server.stop()
    # Back to the MANIFEST file: refused, naming the setting, nothing deleted.
    del server.extra_env["OSPREY_CLUSTER_MANIFEST"]
    proc = run(server.binary, "serve", "--data-dir", str(server.data_dir), "--http-addr", "127.0.0.1:0")
    assert proc.returncode == 1
    assert 'set cluster.manifest = "bucket"' in proc.stderr, proc.stderr
    server.extra_env.update(BUCKET)
    server.start()
    assert server.count("logs") == 12


def test_a_twin_with_the_same_node_id_fences_the_first(osprey_factory, tmp_path: Path) -> None:
    """A second process claiming the same node id on the same volume takes over the
    manifest: the first one's next commit finds the newer epoch, and it stops
    acknowledging and exits non-zero, saying why."""
    first = osprey_factory(env=dict(BUCKET))
    send_logs(first, "first", 6)
    first.flush()
    twin = OspreyServer(first.binary, first.data_dir, tmp_path, name="twin", env=dict(BUCKET))
    twin.start()
    try:
        assert twin.count("logs") == 6
        send_logs(first, "late", 2)
        resp = first.post("/api/v1/admin/flush")
        assert resp.status_code >= 500, resp.text
        assert "fenced" in resp.text
        wait_until(lambda: not first.running, timeout=10, message="the fenced process to exit")
        assert first.proc is not None and first.proc.returncode not in (0, None)
        assert "fenced" in first.log_tail()
        first.proc = None  # its exit is the point of this test
        # The twin commits on, under its own epoch.
        send_logs(twin, "twin", 3)
        twin.flush()
        assert snapshots(twin.data_dir)[-1]["epochs"] == {"node-a": 2}
        assert twin.count("logs", "body LIKE 'cluster first%' OR body LIKE 'cluster twin%'") == 9
    finally:
        twin.stop()


def test_the_node_to_node_api_answers_unflushed_rows_behind_the_cluster_token(osprey_factory, tmp_path: Path) -> None:
    """With `cluster.token_file` the node-to-node API listens on `internal_addr`: only
    that token opens it, it answers the request tenant's rows in memory above the
    asker's checkpoint as Arrow IPC, and refuses a snapshot older than its last commit."""
    token = tmp_path / "cluster-token"
    token.write_text("s3cret-cluster-token\n")
    [port] = free_ports(1)
    config = f'[cluster]\nnode_id = "ingester-7"\ntoken_file = "{token}"\ninternal_addr = "127.0.0.1:{port}"\n'
    server = osprey_factory(config=config)
    send_logs(server, "mem", 4)
    url = f"http://127.0.0.1:{port}/internal/v1/unflushed"
    auth = {"authorization": "Bearer s3cret-cluster-token"}
    r = requests.get(url, params={"signal": "logs", "after": 0}, headers=auth, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert r.headers["x-osprey-node"] == "ingester-7"
    assert r.headers["x-osprey-checkpoint"] == "0"
    assert b"cluster mem 3" in r.content  # the bodies travel in the IPC stream
    assert requests.get(url, params={"signal": "logs", "after": 0}, timeout=10).status_code == 401
    wrong = {"authorization": "Bearer not-it"}
    assert requests.get(url, params={"signal": "logs", "after": 0}, headers=wrong, timeout=10).status_code == 401
    # Not on the API port.
    assert server.get("/internal/v1/unflushed", params={"signal": "logs", "after": 0}).status_code == 404
    server.flush()
    r = requests.get(url, params={"signal": "logs", "after": 0}, headers=auth, timeout=10)
    assert r.status_code == 409, r.text
    committed = r.json()["committed"]
    assert committed > 0 and "stale snapshot" in r.json()["error"]
    r = requests.get(url, params={"signal": "logs", "after": committed}, headers=auth, timeout=10)
    assert r.status_code == 200 and b"cluster mem" not in r.content


def test_an_empty_cluster_token_file_stops_the_start(osprey_bin: Path, tmp_path: Path) -> None:
    token = tmp_path / "empty-token"
    token.write_text("\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[cluster]\ntoken_file = "{token}"\n')
    proc = run(osprey_bin, "serve", "--config", str(cfg), "--data-dir", str(tmp_path / "d"))
    assert proc.returncode == 1
    assert "cluster.token_file" in proc.stderr and "is empty" in proc.stderr, proc.stderr


# --- a cluster on loopback: ingesters and a querier over one shared store ------------------


def cluster_config(bucket: Path, token: Path, node: str, ingesters: list[str], internal: str) -> str:
    listed = ", ".join(f'"{a}"' for a in ingesters)
    return (
        f'[storage]\nobject_store = "file://{bucket}"\nflush_interval = "1h"\n'
        f'[cluster]\nnode_id = "{node}"\ningesters = [{listed}]\ninternal_addr = "{internal}"\n'
        f'token_file = "{token}"\nmanifest = "bucket"\npoll_interval = "1s"\n'
    )


def start_role(osprey_factory, config: str, role: str, env: dict[str, str] | None = None) -> OspreyServer:
    server = osprey_factory(config=config, start=False, env=env)
    server.extra_args += ["--role", role]
    server.start()
    return server


# Flushes every second, maintenance every second, dropped files deleted after 4 s (and
# queries time out after 2 s, as deletion_delay must exceed timeout + poll_interval).
BUSY = {"flush_interval": "1s", "maintenance_interval": "1s", "deletion_delay": "4s", "timeout": "2s"}


def config_for(tmp_path: Path, node: str, internal: list[str], addr: str, busy: bool = False) -> str:
    """`cluster_config` over `tmp_path`'s bucket and token; `busy`: with `BUSY`'s timings."""
    text = cluster_config(tmp_path / "bucket", tmp_path / "cluster-token", node, internal, addr)
    if not busy:
        return text
    text = text.replace('flush_interval = "1h"', f'flush_interval = "{BUSY["flush_interval"]}"\n'
                        f'maintenance_interval = "{BUSY["maintenance_interval"]}"')
    text = text.replace('poll_interval = "1s"', f'poll_interval = "1s"\ndeletion_delay = "{BUSY["deletion_delay"]}"')
    return text + f'[query]\ntimeout = "{BUSY["timeout"]}"\n'


def loopback_cluster(
    osprey_factory, tmp_path: Path, ingesters: int, queriers: int = 1, busy: bool = False
) -> tuple[list[OspreyServer], list[OspreyServer], list[str]]:
    """Ingesters and queriers over one shared directory (`tmp_path/bucket`), with their
    internal addresses."""
    (tmp_path / "bucket").mkdir()
    (tmp_path / "cluster-token").write_text("loopback-cluster\n")
    internal = [f"127.0.0.1:{p}" for p in free_ports(ingesters)]
    writers = [
        start_role(osprey_factory, config_for(tmp_path, f"ing-{i}", internal, internal[i], busy), "ingester")
        for i in range(ingesters)
    ]
    readers = [
        start_role(osprey_factory, config_for(tmp_path, f"q-{i}", internal, "127.0.0.1:1", busy), "querier")
        for i in range(queriers)
    ]
    return writers, readers, internal


def spans_of(trace_id: str, batch: int, t: int) -> list[dict]:
    return [
        span(trace_id, f"{batch + 1:08x}{i + 1:08x}", f"op-{i}", t + i, t + i + 1000, kind="SERVER")
        for i in range(3)
    ]


def write_batch(server: OspreyServer, batch: int, t: int) -> str:
    """Five logs, three spans of one trace and a gauge point, tagged with the batch."""
    trace_id = f"{batch + 1:032x}"
    logs = [log_record(t + i, f"cluster batch{batch} line{i}", attributes={"batch": str(batch)}) for i in range(5)]
    assert_accepted(post_otlp(server, "logs", logs_request(f"svc-{batch % 3}", logs)))
    assert_accepted(post_otlp(server, "traces", traces_request(f"svc-{batch % 3}", spans_of(trace_id, batch, t))))
    # Series 0-2 take points of several batches, so from both ingesters; later ones one.
    point = number_point(t + batch * 1_000_000_000, float(batch), {"series": str(batch % 3 if batch < 8 else batch)})
    assert_accepted(post_otlp(server, "metrics", metrics_request("meter", [gauge_metric("cluster.probe", [point])])))
    return trace_id


ANSWERS = [
    "SELECT count(*) FROM logs",
    "SELECT service, count(*) AS n FROM logs GROUP BY service ORDER BY service",
    "SELECT count(*), count(DISTINCT trace_id) FROM spans",
    "SELECT service, count(*) FROM spans GROUP BY service ORDER BY service",
]


# The instant the PromQL answers are compared at (set by the test: just after the data).
QUERY_AT = [0.0]

PROMQL = [
    "count(cluster_probe)",
    "sum(cluster_probe)",
    "max by (series) (cluster_probe)",
    "count_over_time(cluster_probe[15m])",
    "sum(sum_over_time(cluster_probe[15m]))",
    "avg(cluster_probe)",
    "cluster_probe > 3",
    "topk(2, cluster_probe)",
    "avg_over_time(cluster_probe[15m])",
    "max_over_time(cluster_probe[15m])",
    "changes(cluster_probe[15m])",
    "sum by (series) (count_over_time(cluster_probe[15m]))",
    "absent(cluster_probe_missing)",
    'label_replace(cluster_probe, "s", "x$1", "series", "(.*)")',
    "count(up) or vector(0)",
    "min(cluster_probe)",
    "stddev(cluster_probe)",
    "stdvar(cluster_probe)",
    "count by (series) (cluster_probe)",
    "sum by (series) (cluster_probe)",
    "bottomk(2, cluster_probe)",
    "quantile(0.5, cluster_probe)",
    "min_over_time(cluster_probe[15m])",
    "sum_over_time(cluster_probe[15m])",
    "last_over_time(cluster_probe[15m])",
    "present_over_time(cluster_probe[15m])",
    "quantile_over_time(0.9, cluster_probe[15m])",
    "stddev_over_time(cluster_probe[15m])",
    "resets(cluster_probe[15m])",
    "delta(cluster_probe[15m])",
    "deriv(cluster_probe[15m])",
    "idelta(cluster_probe[15m])",
    "rate(cluster_probe[15m])",
    "increase(cluster_probe[15m])",
    "irate(cluster_probe[15m])",
    "cluster_probe * 2",
    "cluster_probe + on(series) cluster_probe",
    "abs(cluster_probe - 5)",
    "clamp(cluster_probe, 1, 4)",
    "clamp_min(cluster_probe, 2)",
    "sort(cluster_probe)",
    "sort_desc(cluster_probe)",
    "timestamp(cluster_probe)",
    "count(count by (series) (cluster_probe))",
    "sum by (series) (cluster_probe) > 1",
    "max(cluster_probe) - min(cluster_probe)",
    "vector(1) + count(cluster_probe)",
    "absent_over_time(cluster_probe_missing[15m])",
    'label_join(cluster_probe, "j", "-", "series", "series")',
    "vector(scalar(sum(cluster_probe)))",
    "round(avg(cluster_probe))",
    "topk(1, max_over_time(cluster_probe[15m]))",
]


def answers(server: OspreyServer, trace_id: str) -> dict:
    out = {q: server.sql(q) for q in ANSWERS}
    at = QUERY_AT[0]
    for q in PROMQL:
        out[q] = sorted((str(r["metric"]), r["value"][1]) for r in server.prom_query(q, at=at))
    r = server.get(
        "/api/v1/query_range",
        params={"query": "sum(cluster_probe)", "start": at - 90, "end": at, "step": "15"},
    )
    assert r.status_code == 200, r.text
    out["range"] = r.json()["data"]["result"]
    r = server.get("/api/v1/label/series/values")
    assert r.status_code == 200, r.text
    out["label values"] = r.json()["data"]
    r = server.get("/api/v1/series", params={"match[]": "cluster_probe"})
    assert r.status_code == 200, r.text
    out["series"] = sorted(s["series"] for s in r.json()["data"])
    out["sql metrics"] = server.sql("SELECT count(*), sum(value) FROM metrics WHERE metric = 'cluster_probe'")
    r = server.get("/api/v1/logs/search", params={"query": "batch3", "limit": "100"})
    assert r.status_code == 200, r.text
    out["search batch3"] = r.json()["data"]["stats"]["matched"]
    r = server.get(f"/api/traces/{trace_id}")
    assert r.status_code == 200, r.text
    out["trace"] = sorted(s["spanID"] for s in r.json()["data"][0]["spans"])
    # The logs view's histogram and facets over a fixed hour, and a trace search.
    lo, hi = int((at - 3600) * 1e9), int(at * 1e9)
    window = {"query": "cluster", "start": f"{lo // 10**9}.{lo % 10**9:09d}", "end": f"{hi // 10**9}.{hi % 10**9:09d}"}
    r = server.get("/api/v1/logs/histogram", params={**window, "by": "service", "step": "60"})
    assert r.status_code == 200, r.text
    out["histogram"] = r.json()["data"]
    r = server.get("/api/v1/logs/fields", params={**window, "limit": "100"})
    assert r.status_code == 200, r.text
    out["facets"] = canonical(r.json()["data"])
    r = server.get("/api/traces", params={"service": "svc-1", "limit": "100", "lookback": "2h"})
    assert r.status_code == 200, r.text
    out["trace search"] = sorted((t["traceID"], len(t["spans"])) for t in r.json()["data"])
    return out


def canonical(v: object) -> object:
    """`v` with every list sorted (by its items' JSON), so that ties in an answer's
    order do not count as differences."""
    if isinstance(v, dict):
        return {k: canonical(x) for k, x in v.items()}
    if isinstance(v, list):
        return sorted((canonical(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))
    return v


def warned(r: requests.Response, node: str) -> bool:
    """Whether an answer names `node` in its warnings (JSON and header)."""
    assert r.status_code == 200, r.text
    return any(node in w for w in r.json().get("warnings", [])) and node in r.headers.get("x-osprey-warnings", "")


def assert_partial_answers(querier: OspreyServer, down: str, in_files: int) -> None:
    """With the ingester `down` not answering, the querier's reads answer without its
    unflushed rows (`in_files` log rows are left) and name it; strict reads fail."""
    r = querier.sql_response("SELECT count(*) FROM logs")
    assert warned(r, down), r.text
    assert r.json()["rows"] == [[in_files]], r.text
    at = f"{QUERY_AT[0]:.3f}"
    for path, params in [
        ("/api/v1/query", {"query": "count(cluster_probe)", "time": at}),
        ("/api/v1/labels", {}),
        ("/api/v1/logs/search", {"query": "cluster", "limit": "5"}),
        ("/loki/api/v1/labels", {}),
        ("/api/traces", {"service": "svc-1"}),
    ]:
        assert warned(querier.get(path, params=params), down), path
        strict = querier.get(path, params={**params, "partial_response": "false"})
        assert strict.status_code == 503 and down in strict.text, (path, strict.text)
    strict = querier.post("/api/v1/sql?partial_response=false", json={"query": "SELECT count(*) FROM logs"})
    assert strict.status_code == 503 and down in strict.text, strict.text


def test_a_querier_counts_every_row_of_two_ingesters_once(osprey_factory, tmp_path: Path) -> None:
    """Two ingesters and a querier over one shared store answer what a single node fed
    the same rows answers: before any flush (every row in the ingesters' memory), after
    one ingester flushed (its rows in files, the other's in memory), with an ingester
    down (its unflushed rows left out and named in warnings, or 503 when asked for
    whole answers) and after its restart."""
    bucket = tmp_path / "bucket"
    ingesters, [querier], internal = loopback_cluster(osprey_factory, tmp_path, 2)
    single = osprey_factory()
    t = recent_second(600) * 1_000_000_000
    QUERY_AT[0] = t / 1e9 + 60
    traces = [write_batch(target, b, t + b * 10_000) for b in range(8) for target in (ingesters[b % 2], single)][::2]
    expected = answers(single, traces[3])
    assert expected["SELECT count(*) FROM logs"] == [[40]]
    assert expected["count(cluster_probe)"] == [("{}", "3")], expected
    assert expected["range"] and expected["cluster_probe > 3"] and expected["series"], expected
    assert expected["histogram"]["matched"] == 40 and expected["facets"]["matched"] == 40, expected
    assert len(expected["trace search"]) == 3, expected["trace search"]  # batches 1, 4, 7
    assert answers(querier, traces[3]) == expected

    # One ingester's rows move to files; the querier's snapshot goes stale and is read
    # again: still each row once.
    assert ingesters[0].post("/api/v1/admin/flush").status_code == 200
    assert list(bucket.glob("tables/**/ing-0-*.parquet")), "the flush wrote to the shared store"
    assert answers(querier, traces[3]) == expected
    single.flush()
    assert answers(querier, traces[2]) == answers(single, traces[2])

    # An ingester down: the answer leaves out only its unflushed rows and names it in
    # its warnings (every surface); with partial_response=false, 503 naming it.
    ingesters[1].kill()
    assert_partial_answers(querier, internal[1], in_files=20)
    ingesters[1].start()
    assert answers(querier, traces[5]) == answers(single, traces[5])
    # A querier started later, with an empty directory, answers the same.
    late = start_role(osprey_factory, config_for(tmp_path, "q-1", internal, "127.0.0.1:1"), "querier")
    assert answers(late, traces[5]) == answers(single, traces[5])

    # Every acknowledged batch is visible through the querier at once, exactly once,
    # while the ingesters flush under it.
    total = querier.sql("SELECT count(*) FROM logs")[0][0]
    for b in range(8, 28):
        write_batch(ingesters[b % 2], b, t + b * 10_000)
        total += 5
        if b % 4 == 0:
            assert ingesters[(b // 4) % 2].post("/api/v1/admin/flush").status_code == 200
        assert querier.sql("SELECT count(*), count(DISTINCT body) FROM logs") == [[total, total]]

    # Writes go to ingesters.
    assert querier.post("/api/v1/logs", data=b"x\n").status_code == 404
    # An ingester answers no queries of its own: it holds only part of the rows.
    assert ingesters[0].sql_response("SELECT 1").status_code == 404


def test_a_compactor_merges_the_ingesters_files_and_deletes_late(osprey_factory, tmp_path: Path) -> None:
    """The compactor merges files two ingesters committed, the querier's answers stay
    the same, the inputs leave the store only after `deletion_delay`, objects no
    snapshot lists are swept once older than it (another writer's young upload is
    not), and an ingester's flush after the compaction lands on the compactor's commit."""
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    token = tmp_path / "cluster-token"
    token.write_text("loopback-cluster\n")
    internal = [f"127.0.0.1:{p}" for p in free_ports(2)]
    quick = '[query]\ntimeout = "2s"\n'

    def config(node: str, addr: str) -> str:
        text = cluster_config(bucket, token, node, internal, addr).replace('poll_interval = "1s"', 'poll_interval = "1s"\ndeletion_delay = "4s"')
        return text.replace('flush_interval = "1h"', 'flush_interval = "1h"\nmaintenance_interval = "1s"') + quick

    ingesters = [start_role(osprey_factory, config(f"ing-{i}", internal[i]), "ingester") for i in range(2)]
    querier = start_role(osprey_factory, config("q-0", "127.0.0.1:1"), "querier")
    compactor = start_role(osprey_factory, config("compactor-0", f"127.0.0.1:{free_ports(1)[0]}"), "compactor")
    t = recent_second(600) * 1_000_000_000
    QUERY_AT[0] = t / 1e9 + 60
    traces = []
    for b in range(8):
        traces.append(write_batch(ingesters[b % 2], b, t + b * 10_000))
        assert ingesters[b % 2].post("/api/v1/admin/flush").status_code == 200

    def logs_files() -> list[Path]:
        return sorted(bucket.glob("tables/**/logs/**/*.parquet"))

    inputs = logs_files()
    assert len(inputs) == 8, inputs
    before = answers(querier, traces[3])
    assert before["SELECT count(*) FROM logs"] == [[40]]

    # The compactor's own maintenance merges them (four or more small files of a
    # partition); the answers do not change, and the inputs stay a while.
    # The compactor commits as "compactor", whatever its host or node id.
    wait_until(lambda: any(re.fullmatch(r"compactor-\d{6}-\d{12}\.parquet", p.name) for p in logs_files()), timeout=20, message="a merged file")
    assert answers(querier, traces[3]) == before
    assert set(inputs) & set(logs_files()), "inputs are deleted only after deletion_delay"
    wait_until(lambda: not set(inputs) & set(logs_files()), timeout=20, message="the inputs' deletion")
    assert answers(querier, traces[3]) == before

    # Unlisted objects: an old one is swept, another writer's young upload is not.
    some_partition = logs_files()[0].parent
    old = some_partition / "ing-7-000001-000000000001.parquet"
    young = some_partition / "ing-7-000001-000000000002.parquet"
    for p in (old, young):
        p.write_bytes(b"not committed")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    wait_until(lambda: not old.exists(), timeout=20, message="the old unlisted object's sweep")
    assert young.exists()

    # An ingester's flush after the compaction commits on top of it.
    traces.append(write_batch(ingesters[0], 8, t + 8 * 10_000))
    assert ingesters[0].post("/api/v1/admin/flush").status_code == 200
    assert querier.sql("SELECT count(*), count(DISTINCT body) FROM logs") == [[45, 45]]
    assert compactor.post("/api/v1/logs", data=b"x\n").status_code == 404

    # A second compactor, under another name, fences the first within a poll, though
    # the first has nothing to commit.
    start_role(osprey_factory, config("compactor-1", f"127.0.0.1:{free_ports(1)[0]}"), "compactor")
    wait_until(lambda: not compactor.running, timeout=20, message="the first compactor's exit")
    assert compactor.proc is not None and compactor.proc.returncode not in (0, None)
    compactor.proc = None  # its exit is the point
    assert querier.sql("SELECT count(*), count(DISTINCT body) FROM logs") == [[45, 45]]


def ingested(server: OspreyServer, signal: str) -> float:
    """The rows an ingester stored itself (`osprey_ingest_rows_total`) of a signal."""
    r = server.get("/metrics")
    assert r.status_code == 200, r.text
    prefix = f'osprey_ingest_rows_total{{signal="{signal}"}} '
    return sum(float(line[len(prefix) :]) for line in r.text.splitlines() if line.startswith(prefix))


def test_ingesters_send_each_trace_and_series_to_its_owner_once(osprey_factory, tmp_path: Path) -> None:
    """Spans and metric points sent to one ingester are stored by the ingesters that own
    them (rendezvous hash of the trace id, of the series): each trace whole on one
    ingester; a request retried unchanged, to any ingester, is stored once; with an
    owner down, its parts go to the next and the request still succeeds."""
    ingesters, [querier], internal = loopback_cluster(osprey_factory, tmp_path, 3)
    t = recent_second(600) * 1_000_000_000
    QUERY_AT[0] = t / 1e9 + 60

    def traces(first: int, n: int) -> dict:
        spans = [s for b in range(first, first + n) for s in spans_of(f"{b + 1:032x}", b, t + b * 10_000)]
        return traces_request("svc-fwd", spans)

    requests_sent = [traces(10 * k, 10) for k in range(4)]
    for body in requests_sent:
        assert_accepted(post_otlp(ingesters[0], "traces", body))
    stored = [ingested(i, "spans") for i in ingesters]
    assert sum(stored) == 120 and all(n > 0 for n in stored), stored
    # Retried unchanged, to the same ingester or another: stored once.
    assert_accepted(post_otlp(ingesters[0], "traces", requests_sent[0]))
    assert_accepted(post_otlp(ingesters[2], "traces", requests_sent[1]))
    assert querier.sql("SELECT count(*), count(DISTINCT trace_id) FROM spans") == [[120, 40]]

    points = [number_point(t + i, float(i), {"series": str(i)}) for i in range(12)]
    body = metrics_request("meter", [gauge_metric("cluster.fwd", points)])
    for _ in range(2):
        assert_accepted(post_otlp(ingesters[1], "metrics", body))
    assert sum(ingested(i, "metrics") for i in ingesters) == 12
    at = QUERY_AT[0]
    assert querier.prom_query("count(cluster_fwd)", at=at)[0]["value"][1] == "12"
    assert querier.prom_query("sum(count_over_time(cluster_fwd[5m]))", at=at)[0]["value"][1] == "12"
    # remote_write: samples go to their series' owners too, a retry stored once.
    ms = t // 1_000_000
    rw = snappy(encode_write_request([({"__name__": "rw_fwd", "k": str(i)}, [(float(i), ms), (1.0, ms + 1000)]) for i in range(10)]))
    for target in (ingesters[2], ingesters[0]):
        r = target.post(
            "/api/v1/write",
            data=rw,
            headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"},
        )
        assert r.status_code == 204, r.text
    assert sum(ingested(i, "metrics") for i in ingesters) == 12 + 20
    assert querier.prom_query("sum(count_over_time(rw_fwd[5m]))", at=at)[0]["value"][1] == "20"
    assert querier.prom_query("count(rw_fwd)", at=at)[0]["value"][1] == "10"

    # With two ingesters down, the querier sees only the third's rows: whole traces.
    ingesters[1].kill()
    ingesters[2].kill()
    r = querier.sql_response("SELECT trace_id, count(*) FROM spans GROUP BY trace_id")
    assert warned(r, internal[1]) and warned(r, internal[2]), r.text
    whole = r.json()["rows"]
    assert 0 < len(whole) < 40 and all(n == 3 for _, n in whole), whole

    # One owner down: its parts go to the others, the request succeeds.
    ingesters[1].start()
    assert_accepted(post_otlp(ingesters[0], "traces", traces(40, 10)))
    ingesters[2].start()
    assert querier.sql("SELECT count(*), count(DISTINCT trace_id) FROM spans") == [[150, 50]]
    assert querier.sql("SELECT count(*) FROM spans GROUP BY trace_id HAVING count(*) <> 3") == []


def test_a_paused_ingester_acknowledges_nothing_once_a_twin_took_its_node_id(osprey_factory, tmp_path: Path) -> None:
    """An ingester stopped (SIGSTOP) while a twin with its node id starts and waits out
    its lease: woken, the first one refuses writes (its lease ran out, or it is fenced)
    rather than acknowledging them, and exits."""
    ingesters, _, internal = loopback_cluster(osprey_factory, tmp_path, 2)
    paused = ingesters[0]
    assert paused.proc is not None
    paused.proc.send_signal(signal.SIGSTOP)
    try:
        # The twin answers on its own internal address (the first still holds its port).
        [twin_addr] = [f"127.0.0.1:{p}" for p in free_ports(1)]
        twin_list = [twin_addr, internal[1]]
        twin = start_role(osprey_factory, config_for(tmp_path, "ing-0", twin_list, twin_addr), "ingester")
        logs = [log_record(recent_second(600) * 1_000_000_000, "after the takeover")]
        assert_accepted(post_otlp(twin, "logs", logs_request("svc-twin", logs)))
    finally:
        paused.proc.send_signal(signal.SIGCONT)
    try:
        r = post_otlp(paused, "logs", logs_request("svc-twin", logs))
    except requests.ConnectionError:
        r = None  # its poll found the twin's epoch first, and it exited: nothing acknowledged
    if r is not None:
        assert r.status_code == 503, r.text
        assert "lease ran out" in r.text or "fenced" in r.text, r.text
    wait_until(lambda: not paused.running, timeout=20, message="the paused ingester's exit")
    assert paused.proc is not None and paused.proc.returncode not in (0, None)
    paused.proc = None  # its exit is the point
    twin.flush()
    ingesters[1].flush()
    assert_no_stale_epoch(tmp_path / "bucket")
