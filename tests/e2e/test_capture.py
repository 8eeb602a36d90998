"""Stdout capture clients against real child processes: `osprey run` passes output through,
ships stdout and stderr lines, forwards signals and exits with the child's code; `osprey
pipe` ships its input; neither blocks the child while the server is down, and lines
buffered during an outage arrive once the server is back."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from harness import OspreyServer, wait_until


def capture(osprey_bin, *args: str, endpoint: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([str(osprey_bin), *args[:1], "--endpoint", endpoint, *args[1:]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", **kw)


def test_run_passes_through_ships_and_exits_with_the_childs_code(osprey: OspreyServer, osprey_bin) -> None:
    child = ("import sys\n"
             "print('hello from stdout', flush=True)\n"
             "print('ERROR something broke', file=sys.stderr, flush=True)\n"
             "sys.stdout.buffer.write(b'bad \\xff byte\\n'); sys.stdout.flush()\n"
             "sys.exit(7)\n")
    p = capture(osprey_bin, "run", "--service", "runner", "--", sys.executable, "-c", child,
                endpoint=osprey.http().rstrip("/"))
    out, err = p.communicate(timeout=60)
    assert p.returncode == 7, err
    assert out.splitlines()[0] == "hello from stdout"
    assert "ERROR something broke" in err
    rows = osprey.sql_dicts("SELECT body, severity_text, attributes FROM logs WHERE service = 'runner' ORDER BY body")
    assert [(r["body"], r["severity_text"], r["attributes"]["stream"]) for r in rows] == [
        ("ERROR something broke", "ERROR", "stderr"),
        ("bad \ufffd byte", "", "stdout"),
        ("hello from stdout", "", "stdout"),
    ]


def test_run_forwards_signals(osprey: OspreyServer, osprey_bin) -> None:
    child = ("import signal, sys, time\n"
             "def bye(*_):\n"
             "    print('got TERM, cleaning up', flush=True)\n"
             "    sys.exit(0)\n"
             "signal.signal(signal.SIGTERM, bye)\n"
             "print('ready', flush=True)\n"
             "time.sleep(60)\n")
    p = capture(osprey_bin, "run", "--service", "sig", "--", sys.executable, "-c", child,
                endpoint=osprey.http().rstrip("/"))
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGTERM)
    rest, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "got TERM, cleaning up" in rest
    bodies = [r[0] for r in osprey.sql("SELECT body FROM logs WHERE service = 'sig' ORDER BY timestamp")]
    assert bodies == ["ready", "got TERM, cleaning up"]


def test_run_forwards_sigint_and_reports_a_signal_death_like_a_shell(osprey: OspreyServer, osprey_bin) -> None:
    """SIGINT reaches the child; a child killed by a signal makes `osprey run` exit
    with 128 + the signal's number, as a shell reports it."""
    child = ("import signal, sys, time\n"
             "def bye(*_):\n"
             "    print('got INT', flush=True)\n"
             "    sys.exit(3)\n"
             "signal.signal(signal.SIGINT, bye)\n"
             "print('ready', flush=True)\n"
             "time.sleep(60)\n")
    p = capture(osprey_bin, "run", "--service", "sigint", "--", sys.executable, "-c", child,
                endpoint=osprey.http().rstrip("/"))
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGINT)
    rest, err = p.communicate(timeout=30)
    assert p.returncode == 3, err
    assert "got INT" in rest
    # A child that dies of SIGKILL (sent by someone else).
    child = "import os, signal\nprint('bye', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n"
    p = capture(osprey_bin, "run", "--service", "killed", "--", sys.executable, "-c", child,
                endpoint=osprey.http().rstrip("/"))
    out, err = p.communicate(timeout=30)
    assert p.returncode == 128 + signal.SIGKILL, (p.returncode, err)
    assert out.strip() == "bye"
    wait_until(lambda: osprey.count("logs", "service = 'killed'") == 1, timeout=10, message="last line shipped")


def test_pipe_ships_stdin(osprey: OspreyServer, osprey_bin) -> None:
    text = "".join(f"line {i}\n" for i in range(500))
    p = subprocess.run([str(osprey_bin), "pipe", "--service", "piped", "--endpoint", osprey.http().rstrip("/")],
                       input=text, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == text
    assert osprey.count("logs", "service = 'piped'") == 500


def test_flooding_child_is_never_blocked_by_a_dead_server(osprey_bin, tmp_path) -> None:
    # Nothing listens on this port.
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    n = 200_000
    child = f"import sys\nw = sys.stdout.write\nfor i in range({n}): w(f'flood line {{i}}\\n')\nsys.exit(3)\n"
    started = time.monotonic()
    p = subprocess.run([str(osprey_bin), "run", "--service", "flood", "--endpoint", f"http://127.0.0.1:{port}",
                        "--buffer", "256KiB", "--flush-timeout", "1s", "--", sys.executable, "-c", child],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 3, p.stderr
    # Every line reached the terminal, in order.
    lines = p.stdout.splitlines()
    assert len(lines) == n and lines[0] == "flood line 0" and lines[-1] == f"flood line {n - 1}"
    # The loss is reported, not silent.
    assert "lines dropped" in p.stderr and "not shipped" in p.stderr, p.stderr
    assert time.monotonic() - started < 60


def test_lines_buffered_during_an_outage_arrive_later(osprey: OspreyServer, osprey_bin) -> None:
    endpoint = osprey.http().rstrip("/")
    osprey.stop()
    child = ("import sys, time\n"
             "for i in range(100): print(f'early {i}', flush=True)\n"
             "time.sleep(4)\n"
             "for i in range(100): print(f'late {i}', flush=True)\n")
    p = capture(osprey_bin, "run", "--service", "outage", "--flush-timeout", "20s", "--",
                sys.executable, "-c", child, endpoint=endpoint)
    time.sleep(1.5)
    osprey.start(keep_ports=True)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert len(out.splitlines()) == 200
    wait_until(lambda: osprey.count("logs", "service = 'outage'") == 200, timeout=10,
               message="all 200 lines shipped after the server came back")
    assert osprey.count("logs", "service = 'outage' AND body LIKE 'early %'") == 100
