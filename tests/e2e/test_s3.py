"""Data files in an S3-compatible bucket (`storage.object_store = "s3://BUCKET/PREFIX"`).

The bucket is served by moto's S3 server (PyPI `moto[server]`, a separate process on a
free port): the real S3 REST protocol, path-style requests, SigV4 signatures. The test
checks that flushed files, their index sidecars and compaction's replacements land in
and leave the bucket, that every query surface reads them from there, and that a restart
(kill -9) serves the same rows from the bucket.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests

from builders import (
    assert_accepted,
    log_record,
    logs_request,
    post_otlp,
    span,
    traces_request,
)
from harness import free_ports

BUCKET = "osprey-e2e"
PREFIX = "node-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "e2e", "AWS_SECRET_ACCESS_KEY": "e2e-secret"}


def moto_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the module's moto server writes its request log."""
    return tmp_path_factory.getbasetemp() / "moto-s3.log"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory):
    """A moto S3 server of its own, stopped at the end of the module."""
    [port] = free_ports(1)
    log = moto_log(tmp_path_factory)
    moto = Path(sys.executable).parent / "moto_server"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url, timeout=1)
            break
        except requests.RequestException:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def bucket_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def objects(s3, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(keys)


def s3_env(endpoint: str, url: str = f"s3://{BUCKET}/{PREFIX}") -> dict[str, str]:
    return {
        "OSPREY_STORAGE_OBJECT_STORE": url,
        "OSPREY_STORAGE_S3_ENDPOINT": endpoint,
        **CREDENTIALS,
    }


def test_files_live_in_the_bucket(osprey_factory, s3_endpoint: str) -> None:
    s3 = bucket_client(s3_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    server = osprey_factory(env=s3_env(s3_endpoint))
    now = time.time_ns()
    trace_id = "5b8efff798038103d269b633813fc60c"

    # Three flushes of logs and one of spans: four files and their sidecars.
    for i in range(3):
        records = [
            log_record(now + i * 1000 + j, f"payment {i} declined code{j}", trace_id=trace_id)
            for j in range(10)
        ]
        assert_accepted(post_otlp(server, "logs", logs_request("checkout", records)))
        server.flush()
    spans = [span(trace_id, "eee19b7ec3c1b174", "GET /pay", now, now + 5_000_000, kind="SERVER")]
    assert_accepted(post_otlp(server, "traces", traces_request("checkout", spans)))
    server.flush()

    keys = objects(s3, f"{PREFIX}/")
    logs_files = [k for k in keys if "/logs/" in k and k.endswith(".parquet")]
    assert len(logs_files) == 3, keys
    assert len([k for k in keys if "/logs/" in k and k.endswith(".fts")]) == 3, keys
    assert len([k for k in keys if "/spans/" in k and k.endswith(".parquet")]) == 1, keys
    # Data files under tables/; with `[cluster] manifest = "bucket"` (the test
    # command's second pass) the manifest's snapshots live in the bucket too.
    snapshots = [k for k in keys if k.startswith(f"{PREFIX}/manifest/") and k.endswith(".json")]
    assert all(k.startswith(f"{PREFIX}/tables/") for k in keys if k not in snapshots), keys
    assert bool(snapshots) == (os.environ.get("OSPREY_TEST_MANIFEST") == "bucket"), keys
    # Nothing of it on local disk: the data dir holds only the WAL and the manifest.
    assert not list(server.data_dir.glob("tables/**/*.parquet"))

    def check_all_surfaces() -> None:
        assert server.count("logs") == 30
        r = server.get("/api/v1/logs/search", params={"query": "declined code7", "limit": "100"})
        assert r.status_code == 200, r.text
        assert r.json()["data"]["stats"]["matched"] == 3, r.text
        r = server.get(f"/api/traces/{trace_id}")
        assert r.status_code == 200, r.text
        [trace] = r.json()["data"]
        assert [s["operationName"] for s in trace["spans"]] == ["GET /pay"]

    check_all_surfaces()

    # Compaction writes the merged file to the bucket and deletes the three inputs.
    r = server.post("/api/v1/admin/compact", params={"full": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["merges"] == 1, r.text
    check_all_surfaces()

    server.restart(kill=True)
    keys = objects(s3, f"{PREFIX}/")
    assert len([k for k in keys if "/logs/" in k and k.endswith(".parquet")]) == 1, keys
    assert len([k for k in keys if "/logs/" in k and k.endswith(".fts")]) == 1, keys
    assert not set(logs_files) & set(keys), "compaction's inputs are still in the bucket"
    check_all_surfaces()


def test_sql_asks_the_bucket_for_no_data_file_metadata(
    osprey_factory, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """DataFusion asks for each data file's metadata on every query; the snapshot knows
    their sizes, so no HEAD request reaches the bucket per file and query (on S3, a
    request per file per query). The data files are read."""
    s3 = bucket_client(s3_endpoint)
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    server = osprey_factory(env=s3_env(s3_endpoint, f"s3://{BUCKET}/heads"))
    now = time.time_ns()
    for i in range(4):
        records = [log_record(now + i * 1000 + j, f"heads {i} line {j}") for j in range(5)]
        assert_accepted(post_otlp(server, "logs", logs_request("svc-heads", records)))
        server.flush()
    log = moto_log(tmp_path_factory)
    before = log.read_text(errors="replace").count("\n")
    for _ in range(3):
        assert server.sql("SELECT count(*), count(DISTINCT body) FROM logs") == [[20, 20]]
    # werkzeug colours its request lines.
    lines = log.read_text(errors="replace").splitlines()[before:]
    requests_made = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]
    heads = [line for line in requests_made if '"HEAD /' in line and ".parquet" in line]
    gets = [line for line in requests_made if '"GET /' in line and ".parquet" in line]
    assert heads == [], heads[:5]
    assert gets, "the queries read no data file from the bucket"


def test_a_missing_bucket_stops_the_start_with_the_reason(osprey_factory, s3_endpoint: str) -> None:
    server = osprey_factory(env=s3_env(s3_endpoint, "s3://no-such-bucket"), start=False)
    with pytest.raises(pytest.fail.Exception):
        server.start()
    err = server.stderr_path.read_text()
    assert "storage.object_store" in err, err[-2000:]
    assert "no-such-bucket" in err, err[-2000:]
    server.proc = None


def test_object_store_url_is_validated(osprey_bin: Path, tmp_path: Path) -> None:
    path = tmp_path / "osprey.toml"
    path.write_text('[storage]\nobject_store = "gs://x/y"\n')
    r = subprocess.run([str(osprey_bin), "config", "check", str(path)], capture_output=True, timeout=30)
    assert r.returncode != 0
    assert b"storage.object_store" in r.stderr + r.stdout, r
