//! OTLP protobuf trace requests read from the wire straight into the columns of the
//! spans batch (`osprey_storage::schema::SpansBuilder`): no decoded request and no row
//! per span. Decoding the request, owned rows and freeing both were most of the span
//! ingest path's CPU (`benches/README.md`, "Span ingest from the wire").
//!
//! The answer is the one of [`super::traces::convert`], the span shapes and
//! `spans_batch` on the prost-decoded request; a property test compares them. It is
//! reached in two passes:
//! 1. [`index`] reads the whole request without side effects: span ids, names, times
//!    and plain string attributes are borrowed from the request; the small messages
//!    (resources, scopes, statuses, events, links, attributes whose value is not a
//!    plain string) are decoded by prost. Anything prost would read otherwise gives
//!    `None`, and the caller decodes the request with prost instead: a field twice
//!    where prost merges or keeps the last, a known field with another wire type, a
//!    string that is not UTF-8, a broken wire format. Those answers, errors included,
//!    are then prost's by construction.
//! 2. [`convert`] checks each span and appends the accepted ones.

use std::ops::Range;

use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Status;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use osprey_storage::schema::{Attributes, SpanFields, SpansBuilder};
use prost::Message;

use super::common::{
    Rejections, any_value_string, attribute_types, hex_id, nanos, resource_attributes,
    service_name, type_name,
};
use super::traces::{events_json, kind_name, links_json, status_name};
use crate::window::{ORIGINAL_TIME, Window, rfc3339};
use crate::wire::{Value, fields};

/// One attribute as read: a plain string value borrowed, or anything else decoded.
enum Attr<'a> {
    Str(&'a str, &'a str),
    Other(KeyValue),
}

impl Attr<'_> {
    fn key(&self) -> &str {
        match self {
            Attr::Str(k, _) => k,
            Attr::Other(kv) => &kv.key,
        }
    }
}

struct ResourcePart {
    attributes: Attributes,
    types: Attributes,
    service: String,
}

struct SpanWire<'a> {
    /// Index into [`Index::scopes`].
    scope: usize,
    trace_id: &'a [u8],
    span_id: &'a [u8],
    parent_span_id: &'a [u8],
    trace_state: &'a str,
    name: &'a str,
    kind: i32,
    start: u64,
    end: u64,
    attributes: Range<usize>,
    events: Range<usize>,
    links: Range<usize>,
    status: Option<Status>,
}

/// A request read in pass 1.
#[derive(Default)]
pub struct Index<'a> {
    resources: Vec<ResourcePart>,
    /// (resource, scope name).
    scopes: Vec<(usize, String)>,
    spans: Vec<SpanWire<'a>>,
    attributes: Vec<Attr<'a>>,
    events: Vec<Event>,
    links: Vec<Link>,
}

impl Index<'_> {
    /// Spans in the request.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

fn text(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// Pass 1: `None` when prost must decode the request (see the module doc).
pub fn index(raw: &[u8]) -> Option<Index<'_>> {
    let mut ix = Index::default();
    for f in fields(raw) {
        match f.ok()? {
            f if f.number == 1 => resource_spans(&mut ix, f.bytes()?)?,
            _ => {}
        }
    }
    Some(ix)
}

/// A message of the shape `ResourceSpans` and `ScopeSpans` share: field 1 one message
/// (decoded by prost), field 2 repeated messages (kept as bytes), field 3 a string.
fn head_and_items<M: Message + Default>(msg: &[u8]) -> Option<(Option<M>, Vec<&[u8]>)> {
    let mut head: Option<M> = None;
    let mut items = Vec::new();
    let mut schema_url = false;
    for f in fields(msg) {
        let f = f.ok()?;
        match f.number {
            1 if head.is_none() => head = Some(M::decode(f.bytes()?).ok()?),
            2 => items.push(f.bytes()?),
            3 if !schema_url => {
                text(f.bytes()?)?;
                schema_url = true;
            }
            1..=3 => return None,
            _ => {}
        }
    }
    Some((head, items))
}

fn resource_spans<'a>(ix: &mut Index<'a>, msg: &'a [u8]) -> Option<()> {
    let (resource, scopes) = head_and_items::<Resource>(msg)?;
    let attributes = resource_attributes(resource.as_ref());
    ix.resources.push(ResourcePart {
        types: resource
            .as_ref()
            .map(|r| attribute_types(&r.attributes))
            .unwrap_or_default(),
        service: service_name(&attributes),
        attributes,
    });
    let r = ix.resources.len() - 1;
    for s in scopes {
        scope_spans(ix, r, s)?;
    }
    Some(())
}

fn scope_spans<'a>(ix: &mut Index<'a>, resource: usize, msg: &'a [u8]) -> Option<()> {
    let (scope, spans) = head_and_items::<InstrumentationScope>(msg)?;
    let name = scope.map(|s| s.name).unwrap_or_default();
    ix.scopes.push((resource, name));
    let s = ix.scopes.len() - 1;
    for span in spans {
        let w = self::span(ix, s, span)?;
        ix.spans.push(w);
    }
    Some(())
}

fn span<'a>(ix: &mut Index<'a>, scope: usize, msg: &'a [u8]) -> Option<SpanWire<'a>> {
    let mut w = SpanWire {
        scope,
        trace_id: &[],
        span_id: &[],
        parent_span_id: &[],
        trace_state: "",
        name: "",
        kind: 0,
        start: 0,
        end: 0,
        attributes: ix.attributes.len()..ix.attributes.len(),
        events: ix.events.len()..ix.events.len(),
        links: ix.links.len()..ix.links.len(),
        status: None,
    };
    // Singular fields seen, by number: a second one is left to prost.
    let mut seen = 0u32;
    for f in fields(msg) {
        let f = f.ok()?;
        if matches!(f.number, 1..=8 | 10 | 12 | 14..=16) {
            let bit = 1u32 << f.number;
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
        }
        match (f.number, f.value) {
            (1, Value::Bytes(b)) => w.trace_id = b,
            (2, Value::Bytes(b)) => w.span_id = b,
            (3, Value::Bytes(b)) => w.trace_state = text(b)?,
            (4, Value::Bytes(b)) => w.parent_span_id = b,
            (5, Value::Bytes(b)) => w.name = text(b)?,
            (6, Value::Varint(v)) => w.kind = v as i32,
            (7, Value::Fixed64(v)) => w.start = v,
            (8, Value::Fixed64(v)) => w.end = v,
            (9, Value::Bytes(b)) => ix.attributes.push(attribute(b)?),
            (11, Value::Bytes(b)) => ix.events.push(Event::decode(b).ok()?),
            (13, Value::Bytes(b)) => ix.links.push(Link::decode(b).ok()?),
            (15, Value::Bytes(b)) => w.status = Some(Status::decode(b).ok()?),
            (10 | 12 | 14, Value::Varint(_)) | (16, Value::Fixed32(_)) => {}
            (1..=16, _) => return None,
            _ => {}
        }
    }
    w.attributes.end = ix.attributes.len();
    w.events.end = ix.events.len();
    w.links.end = ix.links.len();
    Some(w)
}

/// A `KeyValue`: a key and a plain string value borrowed, anything else by prost.
fn attribute(msg: &[u8]) -> Option<Attr<'_>> {
    let (mut key, mut value): (Option<&[u8]>, Option<&[u8]>) = (None, None);
    for f in fields(msg) {
        let f = f.ok()?;
        match (f.number, f.value) {
            (1, Value::Bytes(k)) if key.is_none() => key = Some(k),
            (2, Value::Bytes(v)) if value.is_none() => value = Some(v),
            _ => return Some(Attr::Other(KeyValue::decode(msg).ok()?)),
        }
    }
    let key = text(key.unwrap_or_default())?;
    let Some(value) = value else {
        return Some(Attr::Str(key, ""));
    };
    let mut parts = fields(value);
    match (parts.next(), parts.next()) {
        // No value at all: stored as an empty string, as prost's `None` is.
        (None, _) => Some(Attr::Str(key, "")),
        (Some(Ok(f)), None) if f.number == 1 => match f.value {
            Value::Bytes(s) => Some(Attr::Str(key, text(s)?)),
            _ => None,
        },
        _ => Some(Attr::Other(KeyValue::decode(msg).ok()?)),
    }
}

/// What pass 2 gives: the accepted spans' batch columns, their adjusted counts, the
/// rejections and how many spans were moved into the window.
pub struct Converted {
    pub spans: SpansBuilder,
    pub weights: Vec<f64>,
    pub rejected: Rejections,
    pub retimed: usize,
}

/// Pass 2: checks each span as `traces::convert` does, asks `shape` about each valid
/// one in order (its name, its stored attribute count and its trace id) and appends
/// the spans it accepts. The shape problems are listed after the conversion's, as
/// the prost path finds them in a second pass.
pub fn convert(
    ix: &Index<'_>,
    window: &Window,
    mut shape: impl FnMut(&str, usize, &str) -> Option<String>,
) -> Converted {
    let mut out = Converted {
        spans: SpansBuilder::with_capacity(ix.spans.len()),
        weights: Vec::with_capacity(ix.spans.len()),
        rejected: Rejections::default(),
        retimed: 0,
    };
    let mut shaped = Rejections::default();
    for w in &ix.spans {
        let ids = hex_id(w.trace_id, 16, false, "trace_id").and_then(|t| {
            let s = hex_id(w.span_id, 8, false, "span_id")?;
            let p = hex_id(w.parent_span_id, 8, true, "parent_span_id")?;
            if w.end < w.start {
                return Err(format!("span {s} ends before it starts"));
            }
            Ok((t, s, p))
        });
        let (trace_id, span_id, parent) = match ids {
            Ok(ids) => ids,
            Err(e) => {
                out.rejected.reject(format!("span {:?}: {e}", w.name));
                continue;
            }
        };
        let retimed = !window.contains(i128::from(w.start));
        // Counted before the shapes, as the prost path counts it.
        out.retimed += usize::from(retimed);
        let attrs = &ix.attributes[w.attributes.clone()];
        if let Some(reason) = shape(w.name, attrs.len() + usize::from(retimed), &trace_id) {
            shaped.reject(reason);
            continue;
        }
        append(
            &mut out.spans,
            ix,
            w,
            (&trace_id, &span_id, &parent),
            window,
        );
        out.weights
            .push(crate::spanmetrics::adjusted_count(w.trace_state));
    }
    out.rejected.absorb(shaped.count, shaped.reasons().to_vec());
    out
}

/// Appends one valid span: its attributes (and their types), its resource's, then its
/// fields.
fn append(
    b: &mut SpansBuilder,
    ix: &Index<'_>,
    w: &SpanWire<'_>,
    (trace_id, span_id, parent): (&str, &str, &str),
    window: &Window,
) {
    for a in &ix.attributes[w.attributes.clone()] {
        match a {
            Attr::Str(k, v) => b.attribute(k, v),
            Attr::Other(kv) => b.attribute(&kv.key, &any_value_string(kv.value.as_ref())),
        }
    }
    let (start, end) = if window.contains(i128::from(w.start)) {
        (nanos(w.start), nanos(w.end))
    } else {
        // Outside the accepted window: moved to arrival time with its duration kept.
        b.attribute(ORIGINAL_TIME, &rfc3339(i128::from(w.start)));
        let start = window.now_ns();
        (start, start.saturating_add(nanos(w.end - w.start)))
    };
    for a in &ix.attributes[w.attributes.clone()] {
        if let Attr::Other(kv) = a
            && let Some(t) = type_name(kv.value.as_ref())
        {
            b.attribute_type(a.key(), t);
        }
    }
    let (resource, scope) = {
        let (r, name) = &ix.scopes[w.scope];
        (&ix.resources[*r], name.as_str())
    };
    for (k, v) in &resource.attributes {
        b.resource(k, v);
    }
    for (k, t) in &resource.types {
        b.resource_type(k, t);
    }
    let status = w.status.as_ref();
    b.end_span(&SpanFields {
        service: &resource.service,
        start_time_ns: start,
        end_time_ns: end,
        trace_id,
        span_id,
        parent_span_id: parent,
        name: w.name,
        kind: kind_name(w.kind),
        status_code: status_name(status.map_or(0, |s| s.code)),
        status_message: status.map_or("", |s| s.message.as_str()),
        events: &events_json(&ix.events[w.events.clone()]),
        links: &links_json(&ix.links[w.links.clone()]),
        scope,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::RecordBatch;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use osprey_storage::schema::spans_batch;
    use proptest::prelude::*;
    use std::time::Duration;

    const NOW: i64 = 1_795_341_600_000_000_000;

    fn window() -> Window {
        Window::new(NOW, Duration::from_secs(7 * 86_400))
    }

    /// A shape rule that depends on all three arguments, as the real limits do.
    fn shape(name: &str, attributes: usize, trace_id: &str) -> Option<String> {
        (attributes > 4 || (trace_id.starts_with('f') && name.len() > 3))
            .then(|| format!("span {name:?} refused: {attributes} attributes, trace {trace_id}"))
    }

    /// The prost path: decode, `traces::convert`, the shapes in a second pass,
    /// `spans_batch` (what `Pipeline::traces_here` does).
    fn by_prost(raw: &[u8]) -> (RecordBatch, Vec<f64>, i64, String, usize) {
        let req = ExportTraceServiceRequest::decode(raw).expect("a valid request");
        let (rows, weights, mut rejected, retimed) = super::super::traces::convert(&req, &window());
        let mut kept = Vec::new();
        let mut kept_weights = Vec::new();
        for (r, w) in rows.into_iter().zip(weights) {
            match shape(&r.name, r.attributes.len(), &r.trace_id) {
                Some(reason) => rejected.reject(reason),
                None => {
                    kept.push(r);
                    kept_weights.push(w);
                }
            }
        }
        let batch = spans_batch(&kept).expect("a spans batch");
        (
            batch,
            kept_weights,
            rejected.count,
            rejected.message(),
            retimed,
        )
    }

    fn by_wire(raw: &[u8]) -> Option<(RecordBatch, Vec<f64>, i64, String, usize)> {
        let ix = index(raw)?;
        let c = convert(&ix, &window(), shape);
        let batch = c.spans.finish().expect("a spans batch");
        Some((
            batch,
            c.weights,
            c.rejected.count,
            c.rejected.message(),
            c.retimed,
        ))
    }

    fn value() -> impl Strategy<Value = Option<AnyValue>> {
        use any_value::Value as V;
        let v = prop_oneof![
            6 => "[a-z0-9 ]{0,12}".prop_map(V::StringValue),
            1 => any::<i64>().prop_map(V::IntValue),
            1 => any::<bool>().prop_map(V::BoolValue),
            1 => (-1e6f64..1e6).prop_map(V::DoubleValue),
            1 => proptest::collection::vec(any::<u8>(), 0..4).prop_map(V::BytesValue),
            1 => "[a-z]{0,4}".prop_map(|s| V::ArrayValue(ArrayValue {
                values: vec![AnyValue { value: Some(V::StringValue(s)) }],
            })),
        ];
        prop_oneof![
            8 => v.prop_map(|v| Some(AnyValue { value: Some(v) })),
            1 => Just(Some(AnyValue { value: None })),
            1 => Just(None),
        ]
    }

    fn attributes(max: usize) -> impl Strategy<Value = Vec<KeyValue>> {
        proptest::collection::vec(
            ("[a-c.]{0,6}", value()).prop_map(|(key, value)| KeyValue {
                key,
                value,
                ..Default::default()
            }),
            0..max,
        )
    }

    fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => proptest::collection::vec(any::<u8>(), len..=len),
            1 => Just(Vec::new()),
            1 => Just(vec![0; len]),
            1 => proptest::collection::vec(any::<u8>(), 0..20),
        ]
    }

    fn time() -> impl Strategy<Value = u64> {
        let now = NOW as u64;
        prop_oneof![
            8 => now - 3_600_000_000_000..now,
            1 => 0u64..1_000_000,
            1 => Just(u64::MAX),
        ]
    }

    fn span() -> impl Strategy<Value = Span> {
        let ids = (id(16), id(8), id(8));
        let text = ("[a-z/ ]{0,8}", "(ot=th:[0-9a-f]{1,3})?");
        let times = (time(), 0u64..5_000_000, any::<bool>());
        let rest = (0i32..8, attributes(7), 0usize..3, 0usize..2, 0i32..4);
        (ids, text, times, rest).prop_map(
            |((trace_id, span_id, parent), (name, state), (start, len, backwards), rest)| {
                let (kind, attrs, events, links, status) = rest;
                Span {
                    trace_id,
                    span_id,
                    parent_span_id: parent,
                    trace_state: state,
                    name,
                    kind,
                    start_time_unix_nano: start,
                    end_time_unix_nano: if backwards {
                        start.saturating_sub(len + 1)
                    } else {
                        start.saturating_add(len)
                    },
                    attributes: attrs.clone(),
                    events: (0..events)
                        .map(|i| Event {
                            time_unix_nano: start.wrapping_add(i as u64),
                            name: format!("e{i}"),
                            attributes: attrs.iter().take(1).cloned().collect(),
                            ..Default::default()
                        })
                        .collect(),
                    links: (0..links)
                        .map(|_| Link {
                            trace_id: vec![7; 16],
                            span_id: vec![8; 8],
                            ..Default::default()
                        })
                        .collect(),
                    status: (status > 0).then(|| Status {
                        message: format!("m{status}"),
                        code: status - 1,
                    }),
                    ..Default::default()
                }
            },
        )
    }

    fn request() -> impl Strategy<Value = ExportTraceServiceRequest> {
        let scope = (
            proptest::option::of("[a-z]{0,5}"),
            proptest::collection::vec(span(), 0..5),
        )
            .prop_map(|(name, spans)| ScopeSpans {
                scope: name.map(|name| InstrumentationScope {
                    name,
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            });
        let service = prop_oneof![
            Just(None),
            "[a-z]{0,4}".prop_map(|s| Some(KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(s)),
                }),
                ..Default::default()
            })),
        ];
        let resource = (
            proptest::option::of((service, attributes(3))),
            proptest::collection::vec(scope, 0..3),
        )
            .prop_map(|(resource, scope_spans)| ResourceSpans {
                resource: resource.map(|(service, mut attributes)| {
                    attributes.extend(service);
                    Resource {
                        attributes,
                        ..Default::default()
                    }
                }),
                scope_spans,
                ..Default::default()
            });
        proptest::collection::vec(resource, 0..3)
            .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn the_wire_gives_what_prost_and_rows_give(req in request()) {
            let raw = req.encode_to_vec();
            let wire = by_wire(&raw);
            prop_assert!(wire.is_some(), "a request prost wrote is read from the wire");
            prop_assert_eq!(wire.unwrap(), by_prost(&raw));
        }
    }

    fn one_span(span: Span) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    fn valid_span() -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "op".into(),
            start_time_unix_nano: NOW as u64 - 10,
            end_time_unix_nano: NOW as u64,
            ..Default::default()
        }
    }

    /// `raw` with `extra` appended inside the only span (its length prefixes grown).
    fn with_span_bytes(extra: &[u8]) -> Vec<u8> {
        let mut span = valid_span().encode_to_vec();
        span.extend_from_slice(extra);
        let mut scope = vec![0x12];
        prost::encoding::encode_varint(span.len() as u64, &mut scope);
        scope.extend_from_slice(&span);
        let mut rs = vec![0x12];
        prost::encoding::encode_varint(scope.len() as u64, &mut rs);
        rs.extend_from_slice(&scope);
        let mut req = vec![0x0a];
        prost::encoding::encode_varint(rs.len() as u64, &mut req);
        req.extend_from_slice(&rs);
        req
    }

    #[test]
    fn what_prost_reads_otherwise_is_left_to_prost() {
        // A second name (prost keeps the last), a known field of another wire type, a
        // name that is not UTF-8, a truncated request.
        let twice = with_span_bytes(&[0x2a, 1, b'x']);
        assert!(index(&twice).is_none());
        assert_eq!(by_prost(&twice).0.num_rows(), 1);
        let wrong_type = with_span_bytes(&[0x38, 1]);
        assert!(index(&wrong_type).is_none());
        assert!(ExportTraceServiceRequest::decode(wrong_type.as_slice()).is_err());
        let not_utf8 = with_span_bytes(&[]);
        let mut bad = not_utf8.clone();
        let at = bad.windows(2).position(|w| w == b"op").expect("the name");
        bad[at] = 0xff;
        assert!(index(&bad).is_none());
        assert!(ExportTraceServiceRequest::decode(bad.as_slice()).is_err());
        assert!(index(&not_utf8[..not_utf8.len() - 1]).is_none());
    }

    #[test]
    fn unknown_fields_and_uncommon_attributes_read_as_prost_reads_them() {
        // Field 99 of a span, unknown to both.
        let unknown = with_span_bytes(&[0x9a, 0x06, 2, b'z', b'z']);
        assert_eq!(by_wire(&unknown), Some(by_prost(&unknown)));
        // An attribute key given by string-table index, a kvlist value.
        let mut span = valid_span();
        span.attributes = vec![
            KeyValue {
                key: "k".into(),
                key_strindex: 3,
                ..Default::default()
            },
            KeyValue {
                key: "m".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::KvlistValue(Default::default())),
                }),
                ..Default::default()
            },
        ];
        let raw = one_span(span);
        let wire = by_wire(&raw).expect("read from the wire");
        assert_eq!(wire, by_prost(&raw));
        assert_eq!(wire.0.num_rows(), 1);
    }
}
