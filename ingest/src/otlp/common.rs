//! Shared OTLP → storage conversions: attribute values, ids, resources.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use osprey_storage::schema::Attributes;

/// Used when a resource has no `service.name` (what the OTel SDKs send by default too).
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// An attribute value as a string: strings as they are, numbers and booleans in their
/// usual text form, arrays and maps as JSON, bytes as hex.
pub fn any_value_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => hex::encode(b),
        Some(other) => any_value_json(Some(other)).to_string(),
    }
}

fn any_value_json(v: Option<&Value>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        None => J::Null,
        Some(Value::StringValue(s)) => J::String(s.clone()),
        Some(Value::BoolValue(b)) => J::Bool(*b),
        Some(Value::IntValue(i)) => J::from(*i),
        Some(Value::DoubleValue(d)) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        Some(Value::BytesValue(b)) => J::String(hex::encode(b)),
        Some(Value::ArrayValue(a)) => J::Array(
            a.values
                .iter()
                .map(|v| any_value_json(v.value.as_ref()))
                .collect(),
        ),
        Some(Value::KvlistValue(kv)) => J::Object(
            kv.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        any_value_json(kv.value.as_ref().and_then(|v| v.value.as_ref())),
                    )
                })
                .collect(),
        ),
        // Profiles-only string-table reference: meaningless without the table.
        Some(Value::StringValueStrindex(i)) => J::from(*i),
    }
}

/// The OTLP type name of a value that is not a string (`None` for strings and empty
/// values, which need no note).
pub(crate) fn type_name(v: Option<&AnyValue>) -> Option<&'static str> {
    Some(match v.and_then(|v| v.value.as_ref())? {
        Value::StringValue(_) => return None,
        Value::BoolValue(_) => "bool",
        Value::IntValue(_) => "int",
        Value::DoubleValue(_) => "double",
        Value::BytesValue(_) => "bytes",
        Value::ArrayValue(_) => "array",
        Value::KvlistValue(_) => "kvlist",
        Value::StringValueStrindex(_) => "int",
    })
}

/// Key → type of the attributes that are not strings (stored beside the string map, so
/// renderings can give values their type back).
pub fn attribute_types(kvs: &[KeyValue]) -> Attributes {
    kvs.iter()
        .filter_map(|kv| Some((kv.key.clone(), type_name(kv.value.as_ref())?.to_string())))
        .collect()
}

pub fn attributes(kvs: &[KeyValue]) -> Attributes {
    kvs.iter()
        .map(|kv| (kv.key.clone(), any_value_string(kv.value.as_ref())))
        .collect()
}

/// Attributes as a JSON object (for span events and links).
pub fn attributes_json(kvs: &[KeyValue]) -> serde_json::Value {
    serde_json::Value::Object(
        kvs.iter()
            .map(|kv| {
                (
                    kv.key.clone(),
                    any_value_json(kv.value.as_ref().and_then(|v| v.value.as_ref())),
                )
            })
            .collect(),
    )
}

pub fn resource_attributes(r: Option<&Resource>) -> Attributes {
    r.map(|r| attributes(&r.attributes)).unwrap_or_default()
}

pub fn lookup<'a>(attrs: &'a Attributes, key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

pub fn service_name(resource: &Attributes) -> String {
    lookup(resource, "service.name")
        .filter(|s| !s.is_empty())
        .unwrap_or(UNKNOWN_SERVICE)
        .to_string()
}

/// Lowercase hex of an id that must be `len` bytes, or empty when `optional` and empty
/// (or all zero, which OTLP uses for "none").
pub fn hex_id(bytes: &[u8], len: usize, optional: bool, what: &str) -> Result<String, String> {
    if bytes.is_empty() || bytes.iter().all(|b| *b == 0) {
        return if optional {
            Ok(String::new())
        } else {
            Err(format!("{what} is missing or all zero"))
        };
    }
    if bytes.len() != len {
        return Err(format!(
            "{what} has {} bytes; expected {len} ({} hex digits)",
            bytes.len(),
            len * 2
        ));
    }
    // Into one buffer: `hex::encode` collects a char at a time (a visible share of
    // span ingest).
    let mut digits = vec![0u8; 2 * len];
    hex::encode_to_slice(bytes, &mut digits).map_err(|e| format!("{what}: {e}"))?;
    String::from_utf8(digits).map_err(|e| format!("{what}: {e}"))
}

/// Nanoseconds as i64 (the storage type); OTLP's u64 beyond i64::MAX is clamped.
pub fn nanos(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Now, in Unix nanoseconds.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Records rejected out of one request, with the first few reasons.
#[derive(Debug, Default)]
pub struct Rejections {
    pub count: i64,
    reasons: Vec<String>,
}

impl Rejections {
    pub fn reject(&mut self, reason: String) {
        self.count += 1;
        if self.reasons.len() < 5 {
            self.reasons.push(reason);
        }
    }

    /// The reasons listed (at most five).
    pub fn reasons(&self) -> &[String] {
        &self.reasons
    }

    /// Adds `count` rejections of another part of the request, with their reasons.
    pub fn absorb(&mut self, count: i64, reasons: Vec<String>) {
        self.count += count;
        let room = 5usize.saturating_sub(self.reasons.len());
        self.reasons.extend(reasons.into_iter().take(room));
    }

    pub fn message(&self) -> String {
        if self.count == 0 {
            return String::new();
        }
        let more = self.count - self.reasons.len() as i64;
        let mut m = self.reasons.join("; ");
        if more > 0 {
            m.push_str(&format!("; and {more} more"));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::ArrayValue;

    fn av(v: Value) -> AnyValue {
        AnyValue { value: Some(v) }
    }

    #[test]
    fn values_stringify() {
        assert_eq!(any_value_string(Some(&av(Value::IntValue(42)))), "42");
        assert_eq!(any_value_string(Some(&av(Value::BoolValue(true)))), "true");
        assert_eq!(any_value_string(Some(&av(Value::DoubleValue(0.5)))), "0.5");
        let arr = av(Value::ArrayValue(ArrayValue {
            values: vec![av(Value::IntValue(1)), av(Value::StringValue("x".into()))],
        }));
        assert_eq!(any_value_string(Some(&arr)), r#"[1,"x"]"#);
        assert_eq!(any_value_string(None), "");
    }

    #[test]
    fn ids() {
        assert_eq!(
            hex_id(&[1; 8], 8, false, "span_id").unwrap(),
            "0101010101010101"
        );
        assert!(hex_id(&[1; 7], 8, false, "span_id").is_err());
        assert!(hex_id(&[], 8, false, "span_id").is_err());
        assert_eq!(hex_id(&[0; 8], 8, true, "parent").unwrap(), "");
    }
}
