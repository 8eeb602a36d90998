"""Status and admin endpoints see and act on the asking tenant only (issue 13):
`/api/v1/status/storage` lists the asking tenant's partitions and buffered bytes,
an invalid `X-Scope-OrgID` gets 400, and `POST /api/v1/admin/flush` and
`/api/v1/admin/compact?full=true` sent as one tenant leave another's data as it was."""

from __future__ import annotations

from harness import OspreyServer


def post_lines(server: OspreyServer, tenant: str, text: str) -> None:
    r = server.post("/api/v1/logs?service=svc", tenant=tenant, data=text.encode(),
                    headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text


def status(server: OspreyServer, tenant: str) -> dict:
    r = server.get("/api/v1/status/storage", tenant=tenant)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_status_and_admin_act_on_the_asking_tenant_only(osprey: OspreyServer) -> None:
    post_lines(osprey, "alpha", "a one\na two\n")
    post_lines(osprey, "beta", "b one\n")

    # Status as beta: nothing of alpha's, and only beta's memtable bytes.
    s = status(osprey, "beta")
    assert s["partitions"] == []
    beta_bytes = s["memtable_bytes"]
    assert beta_bytes > 0
    assert 0 < status(osprey, "alpha")["memtable_bytes"]
    assert status(osprey, "nobody")["memtable_bytes"] == 0
    r = osprey.get("/api/v1/status/storage", tenant="bad tenant!")
    assert r.status_code == 400 and "tenant" in r.text, r.text

    # Flush as beta: beta's rows go to a file, alpha's stay in memory.
    r = osprey.post("/api/v1/admin/flush", tenant="beta")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["rows"] == 1
    s = status(osprey, "beta")
    assert [(p["tenant"], p["signal"], p["files"], p["rows"]) for p in s["partitions"]] == [("beta", "logs", 1, 1)]
    assert s["memtable_bytes"] == 0
    a = status(osprey, "alpha")
    assert a["partitions"] == [] and a["memtable_bytes"] > 0
    assert osprey.count("logs", tenant="alpha") == 2
    assert osprey.count("logs", tenant="beta") == 1

    # Two files each; compaction as beta merges beta's only.
    post_lines(osprey, "alpha", "a three\n")
    post_lines(osprey, "beta", "b two\n")
    assert osprey.post("/api/v1/admin/flush", tenant="alpha").json()["data"]["rows"] == 3
    assert osprey.post("/api/v1/admin/flush", tenant="beta").json()["data"]["rows"] == 1
    files = lambda t: sum(p["files"] for p in status(osprey, t)["partitions"])  # noqa: E731
    # alpha's first rows sat in the memtable frozen by beta's flush: one file from it,
    # one from "a three"'s.
    assert (files("alpha"), files("beta")) == (2, 2)
    r = osprey.post("/api/v1/admin/compact?full=true", tenant="beta")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["merges"] == 1
    assert (files("alpha"), files("beta")) == (2, 1)
    assert osprey.count("logs", tenant="alpha") == 3
    assert osprey.count("logs", tenant="beta") == 2


def test_a_tenants_flush_survives_a_crash_without_duplicates(osprey: OspreyServer) -> None:
    """beta's rows flushed ahead of alpha's are not replayed again from the WAL."""
    post_lines(osprey, "alpha", "a one\n")
    post_lines(osprey, "beta", "b one\nb two\n")
    assert osprey.post("/api/v1/admin/flush", tenant="beta").json()["data"]["rows"] == 2
    osprey.restart(kill=True)
    assert osprey.count("logs", tenant="alpha") == 1
    assert osprey.count("logs", tenant="beta") == 2
