"""Writes the seeds of the fuzz targets that are not plain text files of the repository
(`fuzz/seeds/<target>/`): OTLP requests of each signal and encoding, remote_write 1.0
and 2.0 requests, Loki pushes, an exposition, alertmanager.yml and config examples.
Run with the e2e venv: `.venv/bin/python fuzz/make_seeds.py`. The rule files and
dashboards are copied from the repository's own."""

from __future__ import annotations

import json
import shutil
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import builders as b  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest  # noqa: E402
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from test_remote_write import encode_write_request  # noqa: E402

SEEDS = ROOT / "fuzz" / "seeds"
T = 1_795_341_600_000_000_000  # the targets' fixed "now"


def write(target: str, name: str, data: bytes | str) -> None:
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data.encode() if isinstance(data, str) else data)


def otlp() -> None:
    tid, sid = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    requests = [
        (ExportTraceServiceRequest, b.traces_request("checkout", [
            b.span(tid, sid, "GET /cart", T, T + 5_000_000, kind="SERVER", attributes={"http.route": "/cart", "n": 3}),
            b.span(tid, "eee19b7ec3c1b175", "db", T + 1000, T + 2000, parent_span_id=sid, status_code="ERROR"),
        ])),
        (ExportLogsServiceRequest, b.logs_request("checkout", [
            b.log_record(T, "order placed", attributes={"order": 7}, trace_id=tid, span_id=sid),
            b.log_record(T, "payment failed", severity_number=17, severity_text="ERROR"),
        ])),
        (ExportMetricsServiceRequest, b.metrics_request("checkout", [
            b.gauge_metric("queue_depth", [b.number_point(T, 4.0, {"queue": "a"})]),
            b.counter_metric("requests", [b.number_point(T, 10.0)], unit="1"),
        ])),
    ]
    for i, (cls, doc) in enumerate(requests):
        msg = json_format.ParseDict(doc, cls())
        write("otlp", f"{i}-{cls.__name__}-pb", bytes([2 * i]) + msg.SerializeToString())
        write("otlp", f"{i}-{cls.__name__}-json", bytes([2 * i + 1]) + json.dumps(doc).encode())


def remote_write() -> None:
    ms = T // 1_000_000
    write("remote_write", "v1", encode_write_request([
        ({"__name__": "up", "job": "node", "instance": "a:9100"}, [(1.0, ms), (0.0, ms + 15_000)]),
        ({"__name__": "http_requests_total", "code": "500"}, [(17.0, ms)]),
    ]))
    # 2.0: symbols "", "__name__", "up", "job", "node"; one series with one sample.
    def field(n: int, payload: bytes) -> bytes:
        return bytes([n << 3 | 2, len(payload)]) + payload

    symbols = b"".join(field(4, s) for s in [b"", b"__name__", b"up", b"job", b"node"])
    sample = b"\x09" + struct.pack("<d", 1.0) + b"\x10\x01"  # value 1.0, timestamp 1
    series = field(1, bytes([1, 2, 3, 4])) + field(2, sample)
    write("remote_write", "v2", symbols + field(5, series))


def loki_push() -> None:
    write("loki_push", "json", json.dumps({"streams": [{"stream": {"job": "nginx", "level": "error"}, "values": [
        [str(T), "GET /x 500", {"trace_id": "abc"}], [str(T + 1), "GET /y 200"]]}]}))


def scrape_text() -> None:
    write("scrape_text", "text", "# HELP up Up.\n# TYPE up gauge\nup{job=\"a\"} 1\n"
          "# TYPE h histogram\nh_bucket{le=\"0.1\"} 3\nh_bucket{le=\"+Inf\"} 5\nh_sum 1.5\nh_count 5\n"
          "c_total{a=\"b\\\"q\"} 4 1795341600000\n")
    write("scrape_text", "openmetrics", "# TYPE c counter\nc_total 4 # {trace_id=\"abc\"} 1.0 1795341600.1\n"
          "# TYPE i info\ni_info{v=\"1\"} 1\n# EOF\n")


def alertmanager() -> None:
    write("alertmanager", "routes", """route:
  receiver: hook
  group_by: [alertname, cluster]
  group_wait: 1s
  routes:
    - matchers: ['severity="page"', 'team=~"a|b"']
      receiver: pager
      mute_time_intervals: [nights]
receivers:
  - name: hook
    webhook_configs: [{url: 'http://127.0.0.1:1/x', send_resolved: true}]
  - name: pager
    slack_configs: [{api_url: 'http://127.0.0.1:1/s', channel: '#ops', text: '{{ .CommonLabels.alertname }}'}]
inhibit_rules:
  - source_matchers: ['severity="page"']
    target_matchers: ['severity="warn"']
    equal: [alertname]
time_intervals:
  - name: nights
    time_intervals: [{times: [{start_time: '20:00', end_time: '23:59'}], weekdays: ['monday:friday']}]
""")


def config() -> None:
    readme = (ROOT / "README.md").read_text()
    write("config", "readme", readme.split("```toml\n", 1)[1].split("```", 1)[0])
    write("config", "env", '[server]\nhttp_addr = "127.0.0.1:9800"\n---\nSTORAGE_FLUSH_INTERVAL=30s\nLIMITS_MAX_RULES=5\n')


def copies() -> None:
    for f in ["alerting/builtin/red.yml", "alerting/builtin/use.yml", "alerting/builtin/tests.yml",
              "tests/e2e/rule_tests/rules.yml", "tests/e2e/rule_tests/mixed.yml"]:
        write("rule_file", Path(f).name, (ROOT / f).read_bytes())
    for f in sorted((ROOT / "query/src/dashboards/builtin").glob("*.json")):
        write("dashboard", f.name, f.read_bytes())


if __name__ == "__main__":
    for target in ["otlp", "remote_write", "loki_push", "scrape_text", "alertmanager", "config", "rule_file", "dashboard"]:
        shutil.rmtree(SEEDS / target, ignore_errors=True)
    otlp()
    remote_write()
    loki_push()
    scrape_text()
    alertmanager()
    config()
    copies()
