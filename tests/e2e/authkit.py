"""Tokens for the authentication tests: made with `osprey token create` (so the CLI is
exercised too), one per scope bound to tenant `team-a`, and one for any tenant with
every scope."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

SCOPES = ["ingest", "query", "rules", "alerts", "admin"]


@dataclass
class Token:
    name: str
    secret: str
    entry: str  # its [[auth.tokens]] TOML

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


def create(osprey_bin: Path, name: str, tenants: list[str], scopes: list[str]) -> Token:
    args = [str(osprey_bin), "token", "create", "--name", name]
    for t in tenants:
        args += ["--tenant", t]
    for s in scopes:
        args += ["--scope", s]
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    secret, _, entry = p.stdout.partition("\n")
    assert secret.startswith("osp_") and "[[auth.tokens]]" in entry, p.stdout
    assert secret not in entry
    return Token(name, secret, entry)


def tokens(osprey_bin: Path) -> dict[str, Token]:
    """`<scope>-a` for each scope (tenant team-a only), and `root` (any tenant, all scopes)."""
    out = {f"{s}-a": create(osprey_bin, f"{s}-a", ["team-a"], [s]) for s in SCOPES}
    out["root"] = create(osprey_bin, "root", ["*"], SCOPES)
    return out


def config(toks: dict[str, Token], extra: str = "") -> str:
    return extra + "\n" + "\n".join(t.entry for t in toks.values())
