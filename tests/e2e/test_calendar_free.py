"""The suite must pass on any date: no test may carry a calendar date of its own.

A fixed recent date ages out of the retention window as the calendar moves on (the
server then re-dates the event at arrival), so a test that asserted it breaks weeks
later. Tests build event times from `harness.recent_second()` instead. A literal date
whose answer cannot depend on today (a pure parsing or calendar function, a window
that matches nothing either way) is allowed when the line before or the line itself
says `fixed date:` and why.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness import recent_second, rfc3339

HERE = Path(__file__).parent
# 2000-01-01 or 2000/01/01 and later (older dates are "ancient" on purpose), and Unix
# seconds from 2020 to 2065 (1.58e9 .. 3e9, ten digits), with or without underscores.
DATE = re.compile(r"\b20\d\d[-/](0[1-9]|1[0-2])[-/](0[1-9]|[12]\d|3[01])")
EPOCH = re.compile(r"(?<![\d_.])(1_?[6-9]\d\d|2_?\d\d\d)_?\d\d\d_?\d\d\d(?![\d_])")
MARK = "fixed date:"


def offending_lines(text: str) -> list[tuple[int, str]]:
    lines = text.splitlines()
    bad = []
    for i, line in enumerate(lines):
        if not (DATE.search(line) or EPOCH.search(line)):
            continue
        if MARK in line or (i > 0 and MARK in lines[i - 1]):
            continue
        bad.append((i + 1, line.strip()))
    return bad


def test_the_checker_catches_dates_and_epochs() -> None:
    # Samples built from now, so this test pins no date of its own.
    secs = recent_second()
    day = rfc3339(secs)[:10]
    assert offending_lines(f'x = "{rfc3339(secs)} ERROR"')
    assert offending_lines(f"t = {secs:_}")
    assert offending_lines(f"t = {secs}")
    assert offending_lines(day.replace("-", "/") + " 10:00:00")
    assert not offending_lines(f"# fixed date: parser only\nx = '{day}'")
    assert not offending_lines("ancient = '1999-01-01T00:00:00Z'")
    assert not offending_lines("n = 80_000; ns = 10**9; big = 123456789012")


def test_no_test_hardcodes_a_recent_date() -> None:
    found = []
    for path in sorted(HERE.glob("*.py")):
        if path.name == Path(__file__).name:
            continue
        found += [f"{path.name}:{n}: {line}" for n, line in offending_lines(path.read_text())]
    assert not found, "tests must build times relative to now (harness.recent_second):\n" + "\n".join(found)
