"""`osprey tail` on real files: plain, Docker json-file and CRI lines, Kubernetes names,
rotation, truncation, and positions that survive a restart (no line shipped twice)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from harness import OspreyServer, recent_second, rfc3339, rfc3339_to_ns, wait_until

CID = "0123456789abcdef" * 4
# The lines' own times: an hour ago, so they stay inside the retention window.
T = recent_second()


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
    docker.write_text(json.dumps({"log": "GET / 200\n", "stream": "stdout", "time": f"{rfc3339(T + 0, '5')}"}) + "\n")
    cri.write_text(f"{rfc3339(T + 1, '000000001')} stderr P partial one, \n"
                   f"{rfc3339(T + 1, '000000002')} stderr F partial two\n")
    p = start_tail(osprey_bin, osprey, tmp_path, app, docker, cri)
    wait_until(lambda: len(bodies(osprey, "app")) == 2 and bodies(osprey, "nginx") and bodies(osprey, "api"),
               timeout=15, message="first lines shipped")
    row = osprey.sql_dicts("SELECT timestamp, attributes FROM logs WHERE service = 'nginx'")[0]
    assert rfc3339_to_ns(row["timestamp"]) == T * 10**9 + 500_000_000
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


def test_tail_waits_on_disk_while_the_server_is_down(osprey: OspreyServer, osprey_bin, tmp_path: Path) -> None:
    """More lines than the shipper's 16 MiB buffer, written while the server is down:
    the file is read only as fast as lines ship, so every line arrives once the server
    is back, none dropped and none twice."""
    containers = tmp_path / "containers"
    containers.mkdir()
    big = containers / f"bulk-1_ops_bulk-{CID}.log"
    pad = "x" * 250
    n = 80_000  # about 25 MB of Docker json-file lines
    with big.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"log": f"line {i} {pad}\n", "stream": "stdout", "time": f"{rfc3339(T + 0)}"}) + "\n")
    osprey.stop()
    p = start_tail(osprey_bin, osprey, tmp_path, big)
    time.sleep(3)
    osprey.start(keep_ports=True)
    wait_until(lambda: osprey.count("logs", "service = 'bulk'") >= n, timeout=120,
               message="every line shipped after the server came back")
    time.sleep(1)
    stop(p)
    assert osprey.count("logs", "service = 'bulk'") == n
    assert osprey.sql("SELECT count(DISTINCT body) FROM logs WHERE service = 'bulk'") == [[n]]


def test_container_stack_traces_and_program_lines_are_parsed(osprey: OspreyServer, osprey_bin, tmp_path: Path) -> None:
    """A Java stack trace printed over several CRI lines is one event; a JSON line a
    program printed inside Docker's json-file wrapper is parsed (its level, message
    and fields), with the runtime's time and stream."""
    containers = tmp_path / "containers"
    containers.mkdir()
    cri = containers / f"api-55c_shop_api-{CID}.log"
    trace = [
        f"{rfc3339(T + 2)} ERROR request failed",
        "java.lang.IllegalStateException: order state",
        "\tat com.shop.Orders.pay(Orders.java:41)",
        "Caused by: java.io.IOException: socket closed",
        "\tat com.shop.Net.read(Net.java:7)",
    ]
    cri.write_text("".join(f"{rfc3339(T + 2, f'{i:09d}')} stderr F {line}\n" for i, line in enumerate(trace))
                   + f"{rfc3339(T + 3)} stdout F served 200\n")
    docker = containers / f"web-7d9f_shop_app-{CID}.log"
    app_line = json.dumps({"level": "warn", "msg": "slow checkout", "order": {"id": 42}})
    docker.write_text(json.dumps({"log": app_line + "\n", "stream": "stdout", "time": f"{rfc3339(T + 4, '25')}"}) + "\n")
    p = start_tail(osprey_bin, osprey, tmp_path, cri, docker)
    wait_until(lambda: osprey.count("logs") == 3, timeout=15, message="three events shipped")
    time.sleep(0.5)
    stop(p)
    assert osprey.count("logs") == 3
    assert bodies(osprey, "api") == ["\n".join(trace), "served 200"]
    row = osprey.sql_dicts("SELECT severity_text, timestamp, attributes FROM logs WHERE service = 'api' AND body LIKE '%socket%'")[0]
    assert row["severity_text"] == "ERROR"
    assert rfc3339_to_ns(row["timestamp"]) == (T + 2) * 10**9  # the line's own time
    assert row["attributes"]["stream"] == "stderr"
    row = osprey.sql_dicts("SELECT body, severity_text, timestamp, attributes FROM logs WHERE service = 'app'")[0]
    assert (row["body"], row["severity_text"]) == ("slow checkout", "WARN")
    assert rfc3339_to_ns(row["timestamp"]) == T * 10**9 + 4_250_000_000
    assert row["attributes"]["order.id"] == "42" and row["attributes"]["stream"] == "stdout"
    assert row["attributes"]["k8s.pod.name"] == "web-7d9f"


def test_a_pattern_follows_files_that_appear_later(osprey: OspreyServer, osprey_bin, tmp_path: Path) -> None:
    """`osprey tail '/var/log/containers/*.log'` (quoted): a pod started after the tail
    is followed too; files that do not match are not."""
    containers = tmp_path / "containers"
    containers.mkdir()
    first = containers / f"web-1_shop_web-{CID}.log"
    first.write_text(f"{rfc3339(T + 0)} stdout F from the first pod\n")
    p = start_tail(osprey_bin, osprey, tmp_path, containers / "*.log")
    wait_until(lambda: bodies(osprey, "web") == ["from the first pod"], timeout=15, message="first pod shipped")
    later = containers / f"worker-2_shop_worker-{CID}.log"
    later.write_text(f"{rfc3339(T + 1)} stdout F from a later pod\n")
    (containers / "notes.txt").write_text("not a log\n")
    wait_until(lambda: bodies(osprey, "worker") == ["from a later pod"], timeout=15, message="later pod followed")
    append(first, f"{rfc3339(T + 2)} stdout F still followed\n")
    wait_until(lambda: len(bodies(osprey, "web")) == 2, timeout=15, message="first pod still followed")
    stop(p)
    assert osprey.count("logs") == 3


def test_rotation_while_stopped_loses_nothing(osprey: OspreyServer, osprey_bin, tmp_path: Path) -> None:
    """The file is rotated while the tail is stopped: the rest of the old file (now
    app.log.1) is read from the saved position before the new app.log."""
    app = tmp_path / "app.log"
    app.write_text("one\ntwo\n")
    p = start_tail(osprey_bin, osprey, tmp_path, app)
    wait_until(lambda: len(bodies(osprey, "app")) == 2, timeout=15, message="first lines shipped")
    time.sleep(1.5)  # positions saved
    stop(p)
    append(app, "three, written while stopped\n")
    app.rename(tmp_path / "app.log.1")
    app.write_text("four, in the new file\n")
    p = start_tail(osprey_bin, osprey, tmp_path, app)
    wait_until(lambda: len(bodies(osprey, "app")) == 4, timeout=15, message="old file's rest and new file shipped")
    time.sleep(1)
    stop(p)
    assert sorted(bodies(osprey, "app")) == sorted(["one", "two", "three, written while stopped", "four, in the new file"])
