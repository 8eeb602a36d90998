"""Load the load generator's NDJSON into ClickHouse (chdb) MergeTree tables with ZSTD,
and report rows, load seconds, bytes on disk and peak RSS as one JSON object.

The schemas are what a ClickHouse user would write for the job: LowCardinality for
low-cardinality strings, Delta/T64 codecs with ZSTD for numbers, ZSTD for the rest,
ordered by service and time. Logs carry the token bloom-filter skip index on the body
that ClickHouse's own observability schema (ClickStack / the OTel exporter) declares,
`tokenbf_v1(32768, 3, 0) GRANULARITY 8`, and the trace-id `bloom_filter(0.001)` index
it declares too, so both sides' bytes include their indexes. Spans follow SigNoz's flat span table in spirit.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from chdb import session

SCHEMAS = {
    "logs": (
        "timestamp Int64, service String, severity_text String, severity_number Int32, "
        "body String, trace_id String, span_id String",
        """CREATE TABLE b.logs (
            timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
            service LowCardinality(String) CODEC(ZSTD(1)),
            severity_text LowCardinality(String) CODEC(ZSTD(1)),
            severity_number UInt8 CODEC(ZSTD(1)),
            body String CODEC(ZSTD(1)),
            trace_id String CODEC(ZSTD(1)),
            span_id String CODEC(ZSTD(1)),
            INDEX idx_body body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8,
            INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1
        ) ENGINE = MergeTree ORDER BY (service, timestamp)""",
        "SELECT fromUnixTimestamp64Nano(timestamp), service, severity_text, severity_number, body, trace_id, span_id",
    ),
    "spans": (
        "timestamp Int64, trace_id String, span_id String, parent_span_id String, service String, "
        "name String, kind Int32, duration_nano UInt64, status_code Int32, status_message String, "
        "attributes Map(String, String)",
        """CREATE TABLE b.spans (
            timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
            trace_id FixedString(32) CODEC(ZSTD(1)),
            span_id String CODEC(ZSTD(1)),
            parent_span_id String CODEC(ZSTD(1)),
            service LowCardinality(String) CODEC(ZSTD(1)),
            name LowCardinality(String) CODEC(ZSTD(1)),
            kind Int8 CODEC(T64, ZSTD(1)),
            duration_nano UInt64 CODEC(T64, ZSTD(1)),
            status_code Int16 CODEC(T64, ZSTD(1)),
            status_message String CODEC(ZSTD(1)),
            attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
            INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1
        ) ENGINE = MergeTree ORDER BY (service, name, timestamp)""",
        "SELECT fromUnixTimestamp64Nano(timestamp), trace_id, span_id, parent_span_id, service, name, "
        "kind, duration_nano, status_code, status_message, attributes",
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=sorted(SCHEMAS), required=True)
    ap.add_argument("--file", required=True)
    ap.add_argument("--data-dir", required=True)
    a = ap.parse_args()
    structure, ddl, select = SCHEMAS[a.kind]
    s = session.Session(a.data_dir)
    s.query("CREATE DATABASE IF NOT EXISTS b")
    s.query(ddl)
    t0 = time.monotonic()
    s.query(f"INSERT INTO b.{a.kind} {select} FROM file('{a.file}', JSONEachRow, '{structure}')")
    seconds = time.monotonic() - t0
    s.query(f"OPTIMIZE TABLE b.{a.kind} FINAL")
    rows = int(str(s.query(f"SELECT count() FROM b.{a.kind}", "CSV")).strip())
    size = int(
        str(
            s.query(
                f"SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'b' AND table = '{a.kind}' AND active",
                "CSV",
            )
        ).strip()
    )
    version = str(s.query("SELECT version()", "CSV")).strip().strip('"')
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "bytes": size, "version": version, "peak_rss": peak}))


if __name__ == "__main__":
    main()
