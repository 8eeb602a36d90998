"""A full disk (issue 13): writes are refused cleanly (507 with Retry-After and a
message saying the disk is full; 503 on OTLP/HTTP, which its clients retry), admin
flush too, queries keep working, and ingest resumes by itself once space is freed,
with nothing acknowledged lost, across a crash too.

The data directory is a small tmpfs mounted for the test (the suite runs as root), and
a ballast file fills it to the last byte."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness import OspreyServer

CHUNK = 64 * 1024


@pytest.fixture
def server_on_small_disk(osprey_factory):
    server = osprey_factory(start=False)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(server.data_dir)],
                           capture_output=True, text=True)
    assert mount.returncode == 0, f"this test needs to mount a tmpfs (run as root): {mount.stderr}"
    try:
        server.start()
        yield server
        if server.running:
            server.stop()
    finally:
        subprocess.run(["umount", "-l", str(server.data_dir)], check=False)


def fill(disk: Path) -> Path:
    """Writes a ballast file until the disk has no byte left."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (CHUNK, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return ballast


def post_lines(server: OspreyServer, text: str):
    return server.post("/api/v1/logs?service=disk", data=text.encode(), headers={"Content-Type": "text/plain"})


def test_a_full_disk_refuses_writes_cleanly_and_ingest_resumes_when_space_is_freed(server_on_small_disk) -> None:
    server = server_on_small_disk
    before = "".join(f"accepted before {i} " + "x" * 100 + "\n" for i in range(200))
    r = post_lines(server, before)
    assert r.status_code == 200, r.text
    ballast = fill(server.data_dir)

    big = "".join(f"refused {i} " + "y" * 200 + "\n" for i in range(2000))
    r = post_lines(server, big)
    assert r.status_code == 507, r.text
    assert "disk full" in r.json()["error"], r.text
    assert str(server.data_dir) not in r.text  # no server paths in answers
    assert int(r.headers["Retry-After"]) > 0
    # OTLP/HTTP clients retry 503 (not 507): the data waits in the exporter.
    otlp = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "otlp " + "z" * 5000}}]}]}]}
    r = server.post("/v1/logs", json=otlp)
    assert r.status_code == 503, r.text
    assert "disk full" in r.text and "Retry-After" in r.headers
    # Flushing cannot write files either: the same clear answer, not a 500.
    r = server.post("/api/v1/admin/flush")
    assert r.status_code == 507, r.text
    assert "disk is full" in r.json()["error"]
    # Queries keep working, over everything acknowledged.
    assert server.count("logs", "service = 'disk'") == 200
    r = server.get("/api/v1/logs/search", params={"query": "accepted"})
    assert r.status_code == 200 and r.json()["data"]["stats"]["matched"] == 200
    assert server.get("/healthz").status_code == 200
    # Still ready for queries, and saying why writes are refused.
    ready = server.get("/readyz")
    assert ready.status_code == 200 and "disk is full" in ready.text, ready.text
    metrics = server.get("/metrics").text
    assert "osprey_storage_disk_full 1" in metrics

    # Space freed: the next write goes through, without a restart.
    ballast.unlink()
    r = post_lines(server, "accepted after\n")
    assert r.status_code == 200, r.text
    assert "osprey_storage_disk_full 0" in server.get("/metrics").text
    assert server.get("/readyz").text == "ready\n"
    r = server.post("/api/v1/admin/flush")
    assert r.status_code == 200, r.text
    assert server.count("logs", "service = 'disk'") == 201
    assert server.count("logs", "body LIKE 'refused%'") == 0
    server.restart(kill=True)
    assert server.count("logs", "service = 'disk'") == 201
