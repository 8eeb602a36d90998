"""The Helm chart charts/osprey, offline: no cluster, no network, no helm binary.

The chart is linted and rendered in-process with the Helm 4 SDK (``helm-python-sdk``,
Helm's Go SDK behind a C ABI), every rendered object is validated strictly against the
Kubernetes 1.30-1.34 OpenAPI schemas (``kubernetes-validate``), the objects' wiring is
checked (selectors, ports, probes, volumes, the ingesters' DNS names), and every rendered
osprey.toml goes through ``osprey config check``.
"""

from __future__ import annotations

import functools
import hashlib
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from harness import REPO_ROOT

CHART = REPO_ROOT / "charts" / "osprey"
KUBE_VERSIONS = ["1.30", "1.31", "1.32", "1.33", "1.34"]
RELEASE = "osprey"
NAMESPACE = "observability"
CLI_TIMEOUT_S = 30

TOKEN_SHA256 = hashlib.sha256(b"osp_chart_test_token").hexdigest()
TOKENS = [
    {"name": "collector", "sha256": TOKEN_SHA256, "tenants": ["*"], "scopes": ["ingest"]},
    {"name": "grafana", "sha256": hashlib.sha256(b"g").hexdigest(), "tenants": ["team-a"], "scopes": ["query", "admin"]},
]

# The values of each rendered case (over the chart's defaults).
CASES: dict[str, dict[str, Any]] = {
    # The smallest values that render in single mode: the chart's defaults plus an
    # explicit choice about authentication (it refuses to guess one).
    "single": {"auth": {"allowUnauthenticated": True}},
    # Single mode with tokens, a bucket with credentials the chart puts in a Secret,
    # and free-form config (integers must stay integers in the TOML).
    "single-s3": {
        "auth": {"tokens": TOKENS},
        "s3": {"bucket": "osprey-data", "prefix": "/prod/", "accessKeyId": "AKIA1", "secretAccessKey": "s3cr3t"},
        "config": {
            "storage": {"flush_interval": "30s", "row_group_rows": 131072},
            "limits": {"max_rules": 100, "max_active_series": 2000000},
            "spanmetrics": {"buckets_ms": [5, 10, 50, 100, 500, 1000, 2500]},
        },
        "persistence": {"size": "50Gi", "storageClass": "fast"},
    },
    # Distributed mode with only what it needs.
    "distributed": {
        "mode": "distributed",
        "auth": {"tokens": TOKENS},
        "s3": {"bucket": "osprey-data", "accessKeyId": "AKIA1", "secretAccessKey": "s3cr3t"},
        "clusterToken": {"value": "0123456789abcdef0123456789abcdef"},
    },
    # Distributed with 5 ingesters, a ServiceMonitor, existing Secrets, an S3-compatible
    # endpoint, compactor persistence and config overrides.
    "distributed-5": {
        "mode": "distributed",
        "auth": {"tokens": TOKENS},
        "ingester": {
            "replicas": 5,
            "resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"memory": "8Gi"}},
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/component": "ingester"}},
                }
            ],
        },
        "querier": {"replicas": 3, "podAnnotations": {"team": "observability", "shared": "querier"}},
        "podAnnotations": {"shared": "global", "sidecar.istio.io/inject": "false"},
        "compactor": {"persistence": {"enabled": True, "size": "20Gi"}},
        "s3": {
            "bucket": "osprey-data",
            "prefix": "cluster-a",
            "endpoint": "http://minio.storage.svc:9000",
            "region": "eu-west-1",
            "existingSecret": "osprey-s3-credentials",
            "accessKeyIdKey": "access-key",
            "secretAccessKeyKey": "secret-key",
            "sessionTokenKey": "session-token",
        },
        "clusterToken": {"existingSecret": "osprey-cluster", "key": "node-token"},
        "serviceMonitor": {
            "enabled": True,
            "labels": {"release": "kube-prometheus-stack"},
            "interval": "15s",
            "scrapeTimeout": "10s",
            "bearerTokenSecret": {"name": "osprey-metrics-token", "key": "token"},
        },
        "terminationGracePeriodSeconds": 120,
        "shutdownTimeoutSeconds": 90,
        "config": {"cluster": {"poll_interval": "2s"}, "query": {"timeout": "60s"}, "storage": {"max_exemplars": 50000}},
        "extraEnv": [{"name": "OSPREY_LOG", "value": "info"}],
    },
}

# Values that cannot work, and what the render's error must say.
INVALID: dict[str, tuple[dict[str, Any], list[str]]] = {
    "distributed-without-bucket": (
        {"mode": "distributed", "auth": {"tokens": TOKENS}, "clusterToken": {"value": "t"}},
        ["mode=distributed needs s3.bucket"],
    ),
    "distributed-without-cluster-token": (
        {"mode": "distributed", "auth": {"tokens": TOKENS}, "s3": {"bucket": "osprey-data"}},
        ["clusterToken.existingSecret", "clusterToken.value"],
    ),
    "no-auth-choice": ({}, ["auth.tokens is empty", "auth.allowUnauthenticated=true"]),
    "grace-period-not-above-shutdown-timeout": (
        {"auth": {"allowUnauthenticated": True}, "terminationGracePeriodSeconds": 45},
        ["terminationGracePeriodSeconds (45) must be larger than shutdownTimeoutSeconds (45)"],
    ),
    "shutdown-timeout-in-free-config": (
        {"auth": {"allowUnauthenticated": True}, "config": {"server": {"shutdown_timeout": "90s"}}},
        ["set shutdownTimeoutSeconds, not config.server.shutdown_timeout"],
    ),
    "half-s3-credentials": (
        {"auth": {"allowUnauthenticated": True}, "s3": {"bucket": "osprey-data", "accessKeyId": "AKIA1"}},
        ["s3.accessKeyId and s3.secretAccessKey go together"],
    ),
    "both-s3-credential-forms": (
        {
            "auth": {"allowUnauthenticated": True},
            "s3": {"bucket": "osprey-data", "existingSecret": "s3", "accessKeyId": "A", "secretAccessKey": "S"},
        },
        ["set either s3.existingSecret or s3.accessKeyId/s3.secretAccessKey, not both"],
    ),
    "service-monitor-without-metrics-token": (
        {"auth": {"tokens": TOKENS}, "serviceMonitor": {"enabled": True}},
        ["serviceMonitor.bearerTokenSecret"],
    ),
    # values.schema.json
    "unknown-mode": ({"mode": "cluster", "auth": {"allowUnauthenticated": True}}, ["/mode", "single", "distributed"]),
    "misspelt-value": ({"ingesters": {"replicas": 5}}, ["additional properties 'ingesters' not allowed"]),
    "bad-bucket-name": ({"auth": {"allowUnauthenticated": True}, "s3": {"bucket": "Osprey_Data"}}, ["/s3/bucket"]),
    "bad-token-hash": (
        {"auth": {"tokens": [{"name": "x", "sha256": "abc", "tenants": ["*"], "scopes": ["ingest"]}]}},
        ["/auth/tokens/0/sha256"],
    ),
}

# The ServiceMonitor has no schema in kubernetes-validate (it is a CRD of the Prometheus
# Operator). This is the subset of monitoring.coreos.com/v1's CRD schema the chart
# emits, closed with additionalProperties: false so that a misspelt field fails.
DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
SECRET_KEY_SELECTOR = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "key": {"type": "string"}, "optional": {"type": "boolean"}},
    "required": ["key"],
    "additionalProperties": False,
}
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "namespaceSelector": {
                    "type": "object",
                    "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}},
                    "additionalProperties": False,
                },
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "matchExpressions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["key", "operator"],
                                "additionalProperties": False,
                                "properties": {
                                    "key": {"type": "string"},
                                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                                    "values": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                        },
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": DURATION},
                            "authorization": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {"type": {"type": "string"}, "credentials": SECRET_KEY_SELECTOR},
                            },
                        },
                    },
                },
            },
        },
    },
}

STANDARD_LABELS = [
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
]


# --- Rendering --------------------------------------------------------------------------------------


class Rendered:
    """One render of the chart: its objects by (kind, name), and NOTES.txt."""

    def __init__(self, manifests: dict[str, str]) -> None:
        self.notes = ""
        self.objects: list[dict[str, Any]] = []
        for path, text in sorted(manifests.items()):
            if path.endswith("NOTES.txt"):
                self.notes = text
                continue
            for doc in yaml.safe_load_all(text):
                if doc:
                    self.objects.append(doc)
        self.by_key = {(o["kind"], o["metadata"]["name"]): o for o in self.objects}
        assert len(self.by_key) == len(self.objects), "two objects share a kind and name"

    def get(self, kind: str, name: str) -> dict[str, Any]:
        assert (kind, name) in self.by_key, f"no {kind} {name}; have {sorted(self.by_key)}"
        return self.by_key[(kind, name)]

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def config_text(self) -> str:
        (cm,) = self.kinds("ConfigMap")
        return cm["data"]["osprey.toml"]

    def config(self) -> dict[str, Any]:
        return tomllib.loads(self.config_text())

    def workloads(self) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] in ("StatefulSet", "Deployment")]


def render(values: dict[str, Any], release: str = RELEASE) -> Rendered:
    with helm.Chart.load(CHART) as chart:
        return Rendered(chart.render(values, name=release, namespace=NAMESPACE, is_install=True))


@functools.cache
def rendered(case: str) -> Rendered:
    return render(CASES[case])


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["osprey"]
    return containers[0]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels / matchExpressions, or a Service's plain
    map) selects an object with these labels."""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        has, value = e["key"] in labels, labels.get(e["key"])
        ok = {
            "In": has and value in e.get("values", []),
            "NotIn": not has or value not in e.get("values", []),
            "Exists": has,
            "DoesNotExist": not has,
        }[e["operator"]]
        if not ok:
            return False
    return True


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def port_of(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def seconds(duration: str) -> int:
    """A humantime duration of whole units (\"45s\", \"2m\", \"1h30m\") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([hms])", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"unexpected duration {duration!r}"
    return sum(int(n) * units[u] for n, u in parts)


def env_of(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c.get("env", [])}


# --- The SDK and lint -------------------------------------------------------------------------------


def test_the_helm_sdk_is_helm_4_in_process() -> None:
    """Rendering runs Helm's Go SDK from the wheel's shared library: no helm binary."""
    assert helm.helm_sdk_version().startswith("v4."), helm.helm_sdk_version()
    assert Path(helm.library_path).is_file()
    with helm.Chart.load(CHART) as chart:
        assert chart.name == "osprey"
        assert chart.schema is not None, "values.schema.json is missing"
        assert chart.metadata["kubeVersion"] == ">=1.30.0-0"


def test_chart_app_version_is_the_crate_version() -> None:
    with helm.Chart.load(CHART) as chart:
        app_version = chart.metadata["appVersion"]
    cargo = tomllib.loads((REPO_ROOT / "Cargo.toml").read_text())
    assert app_version == cargo["workspace"]["package"]["version"]


@pytest.mark.parametrize("case", [None, *CASES])
def test_lint(case: str | None) -> None:
    """`helm lint --strict` with each case's values (None: the chart's defaults), for
    every Kubernetes version: no warning and no error (info, like a missing icon, is ok).
    Helm lints with `fail` turned into a log line, so the defaults lint although they do
    not render (test_invalid_values_fail_with_a_clear_message covers that)."""
    values = None if case is None else CASES[case]
    for version in KUBE_VERSIONS:
        report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE, kube_version=f"v{version}.0")
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert report["total_charts_linted"] == 1
        assert not problems and not report["errors"], (version, problems, report["errors"])


# --- Every object against the Kubernetes schemas -------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_objects_validate_against_kubernetes_schemas(case: str) -> None:
    objects = rendered(case).objects
    assert objects
    problems = []
    for version in KUBE_VERSIONS:
        for obj in objects:
            what = f"{obj['kind']}/{obj['metadata']['name']} on Kubernetes {version}"
            try:
                if obj["apiVersion"] == "monitoring.coreos.com/v1":
                    jsonschema.validate(obj, SERVICE_MONITOR_SCHEMA)
                    continue
                validated = kubernetes_validate.validate(obj, version, strict=True)
                if validated != version:
                    problems.append(f"{what}: validated against {validated}: no bundled schema for {version}")
            except jsonschema.ValidationError as e:  # kubernetes_validate.ValidationError is one
                problems.append(f"{what}: {'.'.join(str(p) for p in e.path)}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                problems.append(f"{what}: {e.message}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", list(CASES))
def test_every_object_is_labelled_and_namespaced(case: str) -> None:
    for obj in rendered(case).objects:
        meta = obj["metadata"]
        assert meta["namespace"] == NAMESPACE, meta
        for label in STANDARD_LABELS:
            assert label in meta["labels"], (obj["kind"], meta["name"], label)
        assert meta["labels"]["app.kubernetes.io/instance"] == RELEASE
        assert len(meta["name"]) <= 63


# --- Single mode ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["single", "single-s3"])
def test_single_mode(case: str) -> None:
    r = rendered(case)
    kinds = sorted(o["kind"] for o in r.objects)
    assert kinds.count("StatefulSet") == 1 and "Deployment" not in kinds and "PodDisruptionBudget" not in kinds
    sts = r.get("StatefulSet", RELEASE)
    assert sts["spec"]["replicas"] == 1
    c = container(sts)
    assert c["args"] == ["serve", "--config", "/etc/osprey/osprey.toml", "--role", "all"]

    # Its volume holds the data directory.
    cfg = r.config()
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    mount = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mount[claim["metadata"]["name"]] == cfg["server"]["data_dir"]
    assert "cluster" not in cfg, "a single node needs no [cluster]"

    # Its governing Service is headless; the client Service carries every port.
    headless = r.get("Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    svc = r.get("Service", RELEASE)
    assert selects(svc["spec"]["selector"], pod_labels(sts))
    ports = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
    assert ports == {
        "http": port_of(cfg["server"]["http_addr"]),
        "otlp-grpc": port_of(cfg["server"]["otlp_grpc_addr"]),
        "otlp-http": port_of(cfg["server"]["otlp_http_addr"]),
    }
    assert_probes_and_ports(sts, cfg)
    assert_grace_period(sts, cfg)
    assert_hardened(sts)


def test_single_mode_with_a_bucket() -> None:
    r = rendered("single-s3")
    cfg = r.config()
    assert cfg["storage"]["object_store"] == "s3://osprey-data/prod"
    assert cfg["storage"]["s3_region"] == "us-east-1"
    assert "s3_endpoint" not in cfg["storage"]
    sts = r.get("StatefulSet", RELEASE)
    claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "50Gi" and claim["storageClassName"] == "fast"
    secret = r.get("Secret", f"{RELEASE}-s3")
    assert set(secret["data"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert_s3_env_from_secret(sts, f"{RELEASE}-s3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    # Tokens: only their hashes, in [[auth.tokens]].
    assert [t["sha256"] for t in cfg["auth"]["tokens"]] == [t["sha256"] for t in TOKENS]
    assert "allow_unauthenticated" not in cfg["server"]


def test_free_form_config_merges_and_keeps_integers() -> None:
    """Helm reads every number as a float; osprey.toml must still say 131072, not
    131072.0, or Osprey's integer settings reject it."""
    cfg = rendered("single-s3").config()
    assert cfg["storage"]["flush_interval"] == "30s"
    assert cfg["storage"]["row_group_rows"] == 131072 and type(cfg["storage"]["row_group_rows"]) is int
    assert cfg["limits"] == {"max_rules": 100, "max_active_series": 2000000}
    assert all(type(b) is int for b in cfg["spanmetrics"]["buckets_ms"])
    # The chart's own settings are still there beside the user's.
    assert cfg["storage"]["object_store"] == "s3://osprey-data/prod"
    assert cfg["server"]["http_addr"] == "0.0.0.0:9800"
    # A fractional number stays a float.
    frac = render({"auth": {"allowUnauthenticated": True}, "config": {"x": {"ratio": 0.25, "n": 3}}}).config()
    assert frac["x"] == {"ratio": 0.25, "n": 3} and type(frac["x"]["n"]) is int


# --- Distributed mode -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["distributed", "distributed-5"])
def test_distributed_mode(case: str) -> None:
    values = CASES[case]
    replicas = values.get("ingester", {}).get("replicas", 3)
    r = rendered(case)
    cfg = r.config()

    ing = r.get("StatefulSet", f"{RELEASE}-ingester")
    qry = r.get("Deployment", f"{RELEASE}-querier")
    cmp_ = r.get("StatefulSet", f"{RELEASE}-compactor")
    assert len(r.workloads()) == 3, [o["metadata"]["name"] for o in r.workloads()]
    pods = {"ingester": pod_labels(ing), "querier": pod_labels(qry), "compactor": pod_labels(cmp_)}

    # Every role's --role.
    for role, w in (("ingester", ing), ("querier", qry), ("compactor", cmp_)):
        assert container(w)["args"] == ["serve", "--config", "/etc/osprey/osprey.toml", "--role", role]
        assert pods[role]["app.kubernetes.io/component"] == role

    # Ingesters: a StatefulSet with a volume each, governed by a headless Service that
    # publishes not-ready pods, so the peers' names resolve while they start.
    assert ing["spec"]["replicas"] == replicas
    assert ing["spec"]["podManagementPolicy"] == "Parallel"
    (claim,) = ing["spec"]["volumeClaimTemplates"]
    c = container(ing)
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == cfg["server"]["data_dir"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    headless = r.get("Service", ing["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert selects(headless["spec"]["selector"], pods["ingester"])
    assert not selects(headless["spec"]["selector"], pods["querier"])

    # [cluster]: the ingesters in ordinal order by their stable DNS names.
    cluster = cfg["cluster"]
    internal = port_of(cluster["internal_addr"])
    name, svc = ing["metadata"]["name"], headless["metadata"]["name"]
    assert cluster["ingesters"] == [
        f"{name}-{i}.{svc}.{NAMESPACE}.svc.cluster.local:{internal}" for i in range(replicas)
    ]
    assert cluster["manifest"] == "bucket"
    assert cluster["internal_addr"].startswith("0.0.0.0:")
    assert {p["name"]: p["containerPort"] for p in c["ports"]}["internal"] == internal
    assert {p["name"]: p["port"] for p in headless["spec"]["ports"]}["internal"] == internal

    # PodDisruptionBudget: ingesters only, one at a time.
    (pdb,) = r.kinds("PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert selects(pdb["spec"]["selector"], pods["ingester"])
    assert not selects(pdb["spec"]["selector"], pods["querier"])
    assert not selects(pdb["spec"]["selector"], pods["compactor"])

    # Queriers: a stateless Deployment with a scratch data directory.
    assert qry["spec"]["replicas"] == values.get("querier", {}).get("replicas", 2)
    qvols = {v["name"]: v for v in qry["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in qvols["data"]
    assert {m["name"]: m["mountPath"] for m in container(qry)["volumeMounts"]}["data"] == cfg["server"]["data_dir"]

    # The compactor: a StatefulSet of exactly one, whose alerting API the queriers
    # reach on its internal port by its pod's stable name.
    assert cmp_["spec"]["replicas"] == 1
    cmp_svc = r.get("Service", cmp_["spec"]["serviceName"])
    assert selects(cmp_svc["spec"]["selector"], pods["compactor"])
    assert cluster["compactor"] == (
        f"{cmp_['metadata']['name']}-0.{cmp_svc['metadata']['name']}.{NAMESPACE}.svc.cluster.local:{internal}"
    )
    assert {p["name"]: p["port"] for p in cmp_svc["spec"]["ports"]}["internal"] == internal
    assert {p["name"]: p["containerPort"] for p in container(cmp_)["ports"]}["internal"] == internal

    # The write Service: ingesters only, OTLP gRPC/HTTP and the HTTP ingest port.
    write = r.get("Service", f"{RELEASE}-write")
    assert selects(write["spec"]["selector"], pods["ingester"])
    assert not selects(write["spec"]["selector"], pods["querier"])
    assert not selects(write["spec"]["selector"], pods["compactor"])
    wports = {p["name"]: (p["port"], p["targetPort"]) for p in write["spec"]["ports"]}
    assert wports == {
        "otlp-grpc": (port_of(cfg["server"]["otlp_grpc_addr"]), "otlp-grpc"),
        "otlp-http": (port_of(cfg["server"]["otlp_http_addr"]), "otlp-http"),
        "http": (port_of(cfg["server"]["http_addr"]), "http"),
    }
    assert {t for _, t in wports.values()} <= {p["name"] for p in c["ports"]}

    # The query Service: queriers only, the HTTP API and UI.
    query = r.get("Service", f"{RELEASE}-query")
    assert selects(query["spec"]["selector"], pods["querier"])
    assert not selects(query["spec"]["selector"], pods["ingester"])
    assert [(p["name"], p["port"], p["targetPort"]) for p in query["spec"]["ports"]] == [
        ("http", port_of(cfg["server"]["http_addr"]), "http")
    ]

    # Every Service selects some pod of the release.
    for s in r.kinds("Service"):
        assert any(selects(s["spec"]["selector"], p) for p in pods.values()), s["metadata"]["name"]

    # The object store and the node-to-node token, for every role.
    assert cfg["storage"]["object_store"].startswith("s3://osprey-data")
    token_secret = values["clusterToken"].get("existingSecret") or f"{RELEASE}-cluster-token"
    token_key = values["clusterToken"].get("key", "token") if values["clusterToken"].get("existingSecret") else "token"
    for w in (ing, qry, cmp_):
        assert_cluster_token_file(w, cfg, token_secret, token_key)
        assert_probes_and_ports(w, cfg)
        assert_grace_period(w, cfg)
        assert_hardened(w)


def test_distributed_defaults_secrets() -> None:
    r = rendered("distributed")
    assert r.get("Secret", f"{RELEASE}-cluster-token")["data"].keys() == {"token"}
    assert r.get("Secret", f"{RELEASE}-s3")["data"].keys() == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    for w in r.workloads():
        assert_s3_env_from_secret(w, f"{RELEASE}-s3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    assert not r.kinds("ServiceMonitor")
    cfg = r.config()
    assert cfg["storage"]["object_store"] == "s3://osprey-data"
    assert cfg["cluster"]["token_file"] == "/var/run/secrets/osprey/cluster/token"


def test_distributed_with_existing_secrets_and_five_ingesters() -> None:
    r = rendered("distributed-5")
    # Existing Secrets are referenced, never created.
    assert not r.kinds("Secret")
    for w in r.workloads():
        assert_s3_env_from_secret(w, "osprey-s3-credentials", "access-key", "secret-key")
        env = env_of(container(w))
        assert env["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"] == {
            "name": "osprey-s3-credentials",
            "key": "session-token",
        }
        assert env["OSPREY_LOG"] == {"name": "OSPREY_LOG", "value": "info"}
    cfg = r.config()
    assert cfg["storage"] == {
        "object_store": "s3://osprey-data/cluster-a",
        "s3_endpoint": "http://minio.storage.svc:9000",
        "s3_region": "eu-west-1",
        "max_exemplars": 50000,
    }
    assert cfg["cluster"]["poll_interval"] == "2s" and cfg["query"]["timeout"] == "60s"
    assert len(cfg["cluster"]["ingesters"]) == 5
    cmp_ = r.get("StatefulSet", f"{RELEASE}-compactor")
    assert cmp_["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert "data" not in {v["name"] for v in cmp_["spec"]["template"]["spec"]["volumes"]}
    ing = r.get("StatefulSet", f"{RELEASE}-ingester")
    assert container(ing)["resources"]["limits"] == {"memory": "8Gi"}
    # Pod annotations: every pod's, with a role's own winning.
    qann = r.get("Deployment", f"{RELEASE}-querier")["spec"]["template"]["metadata"]["annotations"]
    assert (qann["team"], qann["shared"], qann["sidecar.istio.io/inject"]) == ("observability", "querier", "false")
    iann = ing["spec"]["template"]["metadata"]["annotations"]
    assert iann["shared"] == "global" and "team" not in iann
    assert ing["spec"]["template"]["spec"]["topologySpreadConstraints"][0]["maxSkew"] == 1


def test_service_monitor_scrapes_every_pod_once() -> None:
    r = rendered("distributed-5")
    (sm,) = r.kinds("ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (ep,) = sm["spec"]["endpoints"]
    assert ep["port"] == "http" and ep["path"] == "/metrics" and ep["scheme"] == "http"
    assert ep["interval"] == "15s" and ep["scrapeTimeout"] == "10s"
    assert ep["authorization"] == {"type": "Bearer", "credentials": {"name": "osprey-metrics-token", "key": "token"}}

    picked = [s for s in r.kinds("Service") if selects(sm["spec"]["selector"], s["metadata"]["labels"])]
    assert sorted(s["metadata"]["name"] for s in picked) == [
        f"{RELEASE}-compactor",
        f"{RELEASE}-ingester",
        f"{RELEASE}-query",
    ]
    for s in picked:
        assert "http" in {p["name"] for p in s["spec"]["ports"]}
    # Each workload's pods are behind exactly one picked Service.
    for w in r.workloads():
        assert sum(selects(s["spec"]["selector"], pod_labels(w)) for s in picked) == 1, w["metadata"]["name"]


def test_service_monitor_in_single_mode() -> None:
    r = render({"auth": {"allowUnauthenticated": True}, "serviceMonitor": {"enabled": True}})
    (sm,) = r.kinds("ServiceMonitor")
    jsonschema.validate(sm, SERVICE_MONITOR_SCHEMA)
    assert "authorization" not in sm["spec"]["endpoints"][0]
    picked = [s["metadata"]["name"] for s in r.kinds("Service") if selects(sm["spec"]["selector"], s["metadata"]["labels"])]
    assert picked == [f"{RELEASE}-headless"]


def test_scaling_ingesters_changes_the_config_and_rolls_the_pods() -> None:
    three = rendered("distributed")
    four = render({**CASES["distributed"], "ingester": {"replicas": 4}})
    assert len(four.config()["cluster"]["ingesters"]) == 4
    for kind, name in (("StatefulSet", f"{RELEASE}-ingester"), ("Deployment", f"{RELEASE}-querier")):
        a = three.get(kind, name)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        b = four.get(kind, name)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        assert a != b


def test_the_longest_release_name_fits() -> None:
    """Helm allows 53 characters; StatefulSet names must stay within 52 for their pods'
    controller-revision-hash label, and the ingesters' addresses follow the names."""
    release = "observability-platform-production-eu-west-1-cluster"
    assert len(release) <= 53
    helm.validate_release_name(release)
    r = render(CASES["distributed"], release=release)
    for obj in r.objects:
        assert len(obj["metadata"]["name"]) <= (52 if obj["kind"] == "StatefulSet" else 63), obj["metadata"]["name"]
    (ing,) = [w for w in r.workloads() if w["metadata"]["name"].endswith("-ingester")]
    name = ing["metadata"]["name"]
    assert r.config()["cluster"]["ingesters"][0] == f"{name}-0.{name}.{NAMESPACE}.svc.cluster.local:4319"


def test_notes_name_the_services() -> None:
    assert f"{RELEASE}-write.{NAMESPACE}.svc:4317" in rendered("distributed").notes
    assert f"{RELEASE}-query.{NAMESPACE}.svc:9800" in rendered("distributed").notes
    assert f"{RELEASE}.{NAMESPACE}.svc:9800" in rendered("single").notes
    assert "WARNING: auth.allowUnauthenticated" in rendered("single").notes


# --- Values that cannot work ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_values_fail_with_a_clear_message(case: str) -> None:
    values, expected = INVALID[case]
    with pytest.raises(helm.HelmError) as err:
        render(values)
    message = str(err.value)
    for text in expected:
        assert text in message, message


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(helm.HelmError) as err:
        render({"mode": "distributed", "terminationGracePeriodSeconds": 30})
    message = str(err.value)
    assert "4 problem(s)" in message, message
    for text in ("s3.bucket", "clusterToken", "auth.tokens", "terminationGracePeriodSeconds (30)"):
        assert text in message, message


# --- osprey config check on every rendered osprey.toml --------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_rendered_config_passes_osprey_config_check(case: str, osprey_bin: Path, tmp_path: Path) -> None:
    """`osprey config check FILE --role ROLE` for each role the case's pods run."""
    r = rendered(case)
    text = r.config_text()
    # Files that exist only in the pod: the mounted token and the data volume.
    token = tmp_path / "cluster-token"
    token.write_text("0123456789abcdef0123456789abcdef")
    text = text.replace('"/var/run/secrets/osprey/cluster/token"', f'"{token}"')
    text = text.replace('"/var/lib/osprey"', f'"{tmp_path / "data"}"')
    path = tmp_path / "osprey.toml"
    path.write_text(text)
    roles = sorted({container(w)["args"][-1] for w in r.workloads()})
    assert roles == (["all"] if case.startswith("single") else ["compactor", "ingester", "querier"])
    for role in roles:
        proc = subprocess.run(
            [str(osprey_bin), "config", "check", str(path), "--role", role],
            check=False,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, f"--role {role}: {proc.stdout}{proc.stderr}\n--- {path}:\n{text}"
        assert proc.stdout.startswith("ok:"), proc.stdout


# --- Shared assertions -------------------------------------------------------------------------------------


def assert_probes_and_ports(workload: dict[str, Any], cfg: dict[str, Any]) -> None:
    c = container(workload)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["http"] == port_of(cfg["server"]["http_addr"])
    assert cfg["server"]["http_addr"].startswith("0.0.0.0:")
    if "otlp-grpc" in ports:
        assert ports["otlp-grpc"] == port_of(cfg["server"]["otlp_grpc_addr"])
        assert ports["otlp-http"] == port_of(cfg["server"]["otlp_http_addr"])
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/healthz")):
        get = c[probe]["httpGet"]
        assert (get["path"], get["port"]) == (path, "http"), (workload["metadata"]["name"], probe, get)


def assert_grace_period(workload: dict[str, Any], cfg: dict[str, Any]) -> None:
    grace = workload["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > seconds(cfg["server"]["shutdown_timeout"]), (grace, cfg["server"]["shutdown_timeout"])


def assert_hardened(workload: dict[str, Any]) -> None:
    pod = workload["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    # Service links would set OSPREY_QUERY_SERVICE_HOST and the like for the chart's own
    # Services, which Osprey reads as unknown OSPREY_<SECTION>_<KEY> settings.
    assert pod["enableServiceLinks"] is False
    sc = container(workload)["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    # With a read-only root, the data directory and /tmp are volumes.
    assert {"/var/lib/osprey", "/tmp"} <= {m["mountPath"] for m in container(workload)["volumeMounts"]}


def assert_s3_env_from_secret(workload: dict[str, Any], secret: str, id_key: str, secret_key: str) -> None:
    env = env_of(container(workload))
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": id_key}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": secret_key}
    for name, e in env.items():
        if name.startswith("AWS_"):
            assert "value" not in e, f"{name} is written into the pod spec"


def assert_cluster_token_file(workload: dict[str, Any], cfg: dict[str, Any], secret: str, key: str) -> None:
    c = container(workload)
    vols = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == "cluster-token"]
    assert mount["readOnly"] is True
    src = vols["cluster-token"]["secret"]
    assert src["secretName"] == secret
    (item,) = src["items"]
    assert item["key"] == key
    assert f"{mount['mountPath']}/{item['path']}" == cfg["cluster"]["token_file"]
