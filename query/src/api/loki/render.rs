//! Loki's JSON answers (`pkg/util/marshal`): streams with `["<ns>", "<line>"]` entries,
//! matrices and vectors with times in seconds (millisecond precision) and values as
//! strings, the `stats` object (zeros: Grafana only shows it), and errors as plain
//! text, as Loki writes them.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use osprey_logql::logql::{Labels, Stream};
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use serde_json::{Value as Json, json};

use crate::QueryError;
use crate::api::prometheus_json::Point;
use crate::logs::logql::Matrix;

/// A sample at a time in ns, written as Prometheus' point (seconds to the
/// millisecond, value as a string).
fn point(t_ns: i64, v: f64) -> Point {
    Point(t_ns.div_euclid(1_000_000), v)
}

struct Points<'a>(&'a [(i64, f64)]);

impl Serialize for Points<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (t, v) in self.0 {
            seq.serialize_element(&point(*t, *v))?;
        }
        seq.end()
    }
}

/// A stream's entries: `["<ns>", "<line>"]`.
struct Entries<'a>(&'a Stream);

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.entries.len()))?;
        for l in &self.0.entries {
            seq.serialize_element(&(l.ts_ns.to_string(), &l.line))?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct StreamJson<'a> {
    stream: &'a Labels,
    values: Entries<'a>,
}

#[derive(Serialize)]
struct SeriesJson<'a> {
    metric: &'a Labels,
    values: Points<'a>,
}

#[derive(Serialize)]
struct SampleJson<'a> {
    metric: &'a Labels,
    value: Point,
}

/// What a query answers, in its `resultType`.
pub(crate) enum Answer {
    Streams(Vec<Stream>),
    Matrix(Matrix),
    /// An instant query's samples at `t` (ns).
    Vector(i64, Vec<(Labels, f64)>),
    Scalar(i64, f64),
}

/// `{"status": "success", "data": {"resultType", "result", "stats"}}`.
pub(crate) fn query_response(answer: &Answer) -> Response {
    struct Data<'a>(&'a Answer);
    impl Serialize for Data<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(Some(3))?;
            match self.0 {
                Answer::Streams(streams) => {
                    m.serialize_entry("resultType", "streams")?;
                    let items: Vec<StreamJson<'_>> = streams
                        .iter()
                        .map(|st| StreamJson {
                            stream: &st.labels,
                            values: Entries(st),
                        })
                        .collect();
                    m.serialize_entry("result", &items)?;
                }
                Answer::Matrix(series) => {
                    m.serialize_entry("resultType", "matrix")?;
                    let items: Vec<SeriesJson<'_>> = series
                        .iter()
                        .map(|(l, p)| SeriesJson {
                            metric: l,
                            values: Points(p),
                        })
                        .collect();
                    m.serialize_entry("result", &items)?;
                }
                Answer::Vector(t, samples) => {
                    m.serialize_entry("resultType", "vector")?;
                    let items: Vec<SampleJson<'_>> = samples
                        .iter()
                        .map(|(l, v)| SampleJson {
                            metric: l,
                            value: point(*t, *v),
                        })
                        .collect();
                    m.serialize_entry("result", &items)?;
                }
                Answer::Scalar(t, v) => {
                    m.serialize_entry("resultType", "scalar")?;
                    m.serialize_entry("result", &point(*t, *v))?;
                }
            }
            m.serialize_entry("stats", &zero_stats())?;
            m.end()
        }
    }
    #[derive(Serialize)]
    struct Envelope<'a> {
        status: &'static str,
        data: Data<'a>,
    }
    axum::Json(Envelope {
        status: "success",
        data: Data(answer),
    })
    .into_response()
}

/// A tail frame: `{"streams": [{"stream", "values"}], "dropped_entries": …}` (`null`, or
/// one entry per skipped batch when `dropped` = (batches, at ns)).
pub(crate) fn tail_frame(streams: &[Stream], dropped: Option<(u64, i64)>) -> String {
    #[derive(Serialize)]
    struct Frame<'a> {
        streams: Vec<StreamJson<'a>>,
        dropped_entries: Option<Vec<Json>>,
    }
    let frame = Frame {
        streams: streams
            .iter()
            .map(|st| StreamJson {
                stream: &st.labels,
                values: Entries(st),
            })
            .collect(),
        dropped_entries: dropped.map(|(n, at)| {
            (0..n.min(1000))
                .map(|_| json!({"labels": {}, "timestamp": at.to_string()}))
                .collect()
        }),
    };
    serde_json::to_string(&frame).unwrap_or_else(|_| r#"{"streams":[]}"#.to_string())
}

/// `{"status": "success", "data": …}`; without `data` when `omit_empty` and it is an
/// empty list (Loki's label endpoints do that).
pub(crate) fn data_response(data: Json, omit_empty: bool) -> Response {
    let empty = data.as_array().is_some_and(Vec::is_empty);
    if omit_empty && empty {
        return axum::Json(json!({"status": "success"})).into_response();
    }
    axum::Json(json!({"status": "success", "data": data})).into_response()
}

/// Loki's statistics with every count zero: the keys Grafana shows.
fn zero_stats() -> Json {
    let store = json!({
        "totalChunksRef": 0, "totalChunksDownloaded": 0, "chunksDownloadTime": 0,
        "queryReferencedStructuredMetadata": false,
        "chunk": {
            "headChunkBytes": 0, "headChunkLines": 0, "decompressedBytes": 0,
            "decompressedLines": 0, "compressedBytes": 0, "totalDuplicates": 0,
            "postFilterLines": 0, "headChunkStructuredMetadataBytes": 0,
            "decompressedStructuredMetadataBytes": 0,
        },
        "chunkRefsFetchTime": 0, "congestionControlLatency": 0,
        "pipelineWrapperFilteredLines": 0,
    });
    let cache = json!({
        "entriesFound": 0, "entriesRequested": 0, "entriesStored": 0, "bytesReceived": 0,
        "bytesSent": 0, "requests": 0, "downloadTime": 0, "queryLengthServed": 0,
    });
    json!({
        "summary": {
            "bytesProcessedPerSecond": 0, "linesProcessedPerSecond": 0,
            "totalBytesProcessed": 0, "totalLinesProcessed": 0, "execTime": 0.0,
            "queueTime": 0.0, "subqueries": 0, "totalEntriesReturned": 0, "splits": 0,
            "shards": 0, "totalPostFilterLines": 0,
            "totalStructuredMetadataBytesProcessed": 0,
        },
        "querier": {"store": store, "querierExecTime": 0},
        "ingester": {
            "totalReached": 0, "totalChunksMatched": 0, "totalBatches": 0,
            "totalLinesSent": 0, "store": store,
        },
        "cache": {
            "chunk": cache, "index": cache, "result": cache, "statsResult": cache,
            "volumeResult": cache, "seriesResult": cache, "labelResult": cache,
            "instantMetricResult": cache, "logResult": cache, "taskResult": cache,
        },
        "index": {
            "totalChunks": 0, "postFilterChunks": 0, "shardsDuration": 0,
            "usedBloomFilters": false, "totalStreams": 0, "chunkRefsLookupTime": 0,
            "bloomFilterTime": 0,
        },
    })
}

/// An error as Loki answers it: the message as plain text, with the status the
/// query surface gives its class.
pub(crate) struct LokiError(pub QueryError);

impl IntoResponse for LokiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self.0, "loki query failed");
        }
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.0.to_string(),
        )
            .into_response()
    }
}

impl From<QueryError> for LokiError {
    fn from(e: QueryError) -> Self {
        LokiError(e)
    }
}
