"""`osprey tail` on real files: plain, Docker json-file and CRI lines, Kubernetes names,
rotation, truncation, and positions that survive a restart (no line shipped twice)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from harness import OspreyServer, rfc3339_to_ns, wait_until

CID = "0123456789abcdef" * 4


def start_tail(osprey_bin, server: OspreyServer, tmp: Path, *paths: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(osprey_bin), "tail", "--endpoint", server.http().rstrip("/"),
         "--positions", str(tmp / "positions.json"), *map(str, paths)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def stop(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=30)
    assert p.returncode == 0


def append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


def bodies(server: OspreyServer, service: str) -> list[str]:
    return [r[0] for r in server.sql(f"SELECT body FROM logs WHERE service = '{service}' ORDER BY timestamp, body")]


def test_tail_follows_rotation_truncation_and_restarts(osprey: OspreyServer, osprey_bin, tmp_path: Path) -> None:
    app = tmp_path / "app.log"
    containers = tmp_path / "containers"
    containers.mkdir()
    docker = containers / f"web-7d9f_shop_nginx-{CID}.log"
    cri = containers / f"api-55c_shop_api-{CID}.log"
    app.write_text("first line\nERROR second line\n")
    docker.write_text(json.dumps({"log": "GET / 200\n", "stream": "stdout", "time": "2026-11-22T10:00:00.5Z"}) + "\n")
    cri.write_text("2026-11-22T10:00:01.000000001Z stderr P partial one, \n"
                   "2026-11-22T10:00:01.000000002Z stderr F partial two\n")
    p = start_tail(osprey_bin, osprey, tmp_path, app, docker, cri)
    wait_until(lambda: len(bodies(osprey, "app")) == 2 and bodies(osprey, "nginx") and bodies(osprey, "api"),
               timeout=15, message="first lines shipped")
    row = osprey.sql_dicts("SELECT timestamp, attributes FROM logs WHERE service = 'nginx'")[0]
    assert rfc3339_to_ns(row["timestamp"]) == 1_795_341_600_500_000_000
    assert row["attributes"] == {"stream": "stdout", "k8s.pod.name": "web-7d9f",
                                 "k8s.namespace.name": "shop", "k8s.container.name": "nginx"}
    assert bodies(osprey, "api") == ["partial one, partial two"]
    assert osprey.sql("SELECT severity_text FROM logs WHERE body = 'ERROR second line'") == [["ERROR"]]

    # Rotation: the old file gets a last line, is renamed, a new file starts.
    append(app, "last of old\n")
    app.rename(tmp_path / "app.log.1")
    app.write_text("new file line\n")
    wait_until(lambda: len(bodies(osprey, "app")) == 4, timeout=15, message="rotation followed")
    # Truncation in place (copytruncate), noticed at the next poll (like tail -F, a
    # truncation refilled past the old size within one poll interval is not seen).
    app.write_text("")
    time.sleep(1)
    append(app, "after truncate\n")
    wait_until(lambda: "after truncate" in bodies(osprey, "app"), timeout=15, message="truncation followed")

    # Restart: lines written while stopped arrive, nothing twice.
    stop(p)
    append(app, "while stopped\n")
    p = start_tail(osprey_bin, osprey, tmp_path, app, docker, cri)
    wait_until(lambda: "while stopped" in bodies(osprey, "app"), timeout=15, message="resumed after restart")
    time.sleep(1)
    stop(p)
    got = bodies(osprey, "app")
    assert sorted(got) == sorted(["first line", "ERROR second line", "last of old", "new file line",
                                  "after truncate", "while stopped"]), got
    assert len(bodies(osprey, "nginx")) == 1 and len(bodies(osprey, "api")) == 1
