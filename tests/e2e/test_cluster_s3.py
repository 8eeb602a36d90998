"""The cluster the scale-out issue describes, over a real S3 protocol: moto's S3 server
serving one request at a time (`moto_locked.py`: moto checks a conditional create and
writes without a lock, so racing creates could both win), three ingesters, two
queriers and a compactor, each with its own data directory standing for its volume.
Both queriers answer what a single node fed the same rows answers: before any flush,
after every ingester flushed, after the compactor merged the files, and after an
ingester was killed with unflushed rows and started again on its volume.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from harness import OspreyServer, free_ports, recent_second, wait_until
from test_cluster import BUSY, QUERY_AT, answers, cluster_config, start_role, write_batch

BUCKET = "osprey-cluster"
PREFIX = "c"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "e2e", "AWS_SECRET_ACCESS_KEY": "e2e-secret"}


@pytest.fixture
def locked_s3(tmp_path: Path) -> Iterator[str]:
    """moto's S3 server, one request at a time, with the bucket created."""
    [port] = free_ports(1)
    script = Path(__file__).with_name("moto_locked.py")
    with open(tmp_path / "moto.log", "wb") as out:
        proc = subprocess.Popen([sys.executable, str(script), str(port)], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    s3 = client(url)

    def created() -> bool:
        try:
            s3.create_bucket(Bucket=BUCKET)
            return True
        except Exception:  # noqa: BLE001 - not listening yet
            assert proc.poll() is None, (tmp_path / "moto.log").read_text()[-2000:]
            return False

    wait_until(created, timeout=30, message="moto's S3 server")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


def keys(endpoint: str) -> list[str]:
    """The bucket's keys under the cluster's prefix, without it."""
    out: list[str] = []
    for page in client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/"):
        out += [o["Key"][len(PREFIX) + 1:] for o in page.get("Contents", [])]
    return out


def listed_files(endpoint: str) -> set[str]:
    """The data files the newest manifest snapshot lists."""
    newest = max(k for k in keys(endpoint) if k.startswith("manifest/") and k.endswith(".json"))
    body = client(endpoint).get_object(Bucket=BUCKET, Key=f"{PREFIX}/{newest}")["Body"].read()
    return {f["path"] for f in json.loads(body)["files"]}


def test_three_ingesters_two_queriers_and_a_compactor_on_s3_answer_as_one_node(
    locked_s3: str, osprey_factory, tmp_path: Path
) -> None:
    # `locked_s3` first: set up before the servers, stopped after they have flushed.
    (tmp_path / "cluster-token").write_text("s3-cluster\n")
    internal = [f"127.0.0.1:{p}" for p in free_ports(4)]
    *ingester_addrs, compactor_addr = internal

    def config(node: str, addr: str) -> str:
        text = cluster_config(tmp_path / "unused", tmp_path / "cluster-token", node, ingester_addrs, addr)
        text = text.replace(
            f'object_store = "file://{tmp_path / "unused"}"',
            f'object_store = "s3://{BUCKET}/{PREFIX}"\ns3_endpoint = "{locked_s3}"\n'
            f'maintenance_interval = "{BUSY["maintenance_interval"]}"',
        )
        text = text.replace('poll_interval = "1s"', f'poll_interval = "1s"\ndeletion_delay = "{BUSY["deletion_delay"]}"')
        return text + f'[query]\ntimeout = "{BUSY["timeout"]}"\n'

    ingesters = [start_role(osprey_factory, config(f"ing-{i}", ingester_addrs[i]), "ingester", CREDENTIALS) for i in range(3)]
    queriers = [start_role(osprey_factory, config(f"q-{i}", "127.0.0.1:1"), "querier", CREDENTIALS) for i in range(2)]
    start_role(osprey_factory, config("compactor-0", compactor_addr), "compactor", CREDENTIALS)
    single = osprey_factory()

    t = recent_second(600) * 1_000_000_000
    QUERY_AT[0] = t / 1e9 + 60

    def write(batches: range) -> list[str]:
        return [write_batch(target, b, t + b * 10_000) for b in batches for target in (ingesters[b % 3], single)][::2]

    def same(trace_id: str, when: str) -> None:
        want = answers(single, trace_id)
        for q in queriers:
            assert answers(q, trace_id) == want, f"{q.name} {when}"

    traces = write(range(12))
    same(traces[4], "before any flush")
    assert not [k for k in keys(locked_s3) if k.endswith(".parquet")]

    for server in ingesters:
        assert server.post("/api/v1/admin/flush").status_code == 200
    single.flush()
    writers = {k.split("/")[-1][: len("ing-0")] for k in keys(locked_s3) if k.endswith(".parquet") and "/logs/" in k}
    assert writers == {"ing-0", "ing-1", "ing-2"}, writers
    same(traces[7], "after every ingester flushed")

    # The compactor merges the ingesters' small files into its own, and the dropped
    # ones leave the bucket once deletion_delay is over.
    traces += write(range(12, 24))
    for server in ingesters:
        assert server.post("/api/v1/admin/flush").status_code == 200
    single.flush()

    def merged_and_swept() -> bool:
        data = {k for k in keys(locked_s3) if k.endswith(".parquet")}
        merged = any(k.split("/")[-1].startswith("compactor-") for k in data if "/logs/" in k)
        return merged and data <= listed_files(locked_s3)

    wait_until(merged_and_swept, timeout=60, message="a merged logs file and no unlisted data file")
    same(traces[15], "after compaction")

    # An ingester killed with unflushed rows, started again on its volume: each row once.
    traces += write(range(24, 30))
    ingesters[1].kill()
    ingesters[1].start()
    same(traces[25], "after a kill -9 and restart")
    assert queriers[0].sql("SELECT count(*) FROM logs") == [[150]]
