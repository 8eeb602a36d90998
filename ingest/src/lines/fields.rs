//! The fields of a JSON event, read without building a `serde_json::Value` tree: keys
//! and string values borrow the line unless they hold escapes, and only nested objects,
//! arrays, numbers, booleans and nulls become `Value`s. The fields come out as
//! `serde_json::Map` would hold them (sorted by key, the last of a repeated key
//! kept), so an event parses to the same row as through `Value`.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// One field's value.
#[derive(Debug, PartialEq)]
pub(crate) enum Field<'a> {
    Text(Cow<'a, str>),
    /// Anything but a string (never `Value::String`).
    Other(Value),
}

impl Field<'_> {
    pub(crate) fn is_object(&self) -> bool {
        matches!(self, Field::Other(Value::Object(_)))
    }

    /// A string as it is, anything else as JSON.
    pub(crate) fn text(&self) -> Cow<'_, str> {
        match self {
            Field::Text(s) => Cow::Borrowed(s),
            Field::Other(v) => Cow::Owned(v.to_string()),
        }
    }

    pub(crate) fn into_text(self) -> String {
        match self {
            Field::Text(s) => s.into_owned(),
            Field::Other(v) => v.to_string(),
        }
    }
}

/// The fields of the JSON object `line`, sorted by key; an error when `line` is not
/// one JSON object.
pub(crate) fn json_fields(line: &str) -> Result<Vec<(Cow<'_, str>, Field<'_>)>, serde_json::Error> {
    let Fields(mut fields) = serde_json::from_str(line)?;
    // Stable: of equal keys the last stays last, and is the one kept.
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(Cow<'_, str>, Field<'_>)> = Vec::with_capacity(fields.len());
    for f in fields {
        match out.last_mut() {
            Some(last) if last.0 == f.0 => *last = f,
            _ => out.push(f),
        }
    }
    Ok(out)
}

struct Fields<'a>(Vec<(Cow<'a, str>, Field<'a>)>);

/// A key: borrowed when the line holds it as it is.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    out.push((k, map.next_value::<Field<'de>>()?));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

/// What `Value`'s own visitor makes of each JSON kind, strings left borrowed.
struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::Number(v.into())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::Number(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Field::Other(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::Null))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Field::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Field::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields as `serde_json::Map` holds them.
    fn through_value(line: &str) -> Option<Vec<(String, Value)>> {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => Some(m.into_iter().collect()),
            _ => None,
        }
    }

    fn owned(fields: Vec<(Cow<'_, str>, Field<'_>)>) -> Vec<(String, Value)> {
        fields
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Field::Text(s) => Value::String(s.into_owned()),
                    Field::Other(v) => v,
                };
                (k.into_owned(), v)
            })
            .collect()
    }

    #[test]
    fn strings_borrow_the_line_unless_escaped() {
        let line = r#"{"msg":"plain","esc":"a\"b","k\u0065y":1}"#;
        let fields = json_fields(line).expect("an object");
        let kinds: Vec<(&str, bool, bool)> = fields
            .iter()
            .map(|(k, v)| {
                let borrowed = matches!(v, Field::Text(Cow::Borrowed(_)));
                (k.as_ref(), matches!(k, Cow::Borrowed(_)), borrowed)
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("esc", true, false),
                ("key", false, false),
                ("msg", true, true)
            ]
        );
    }

    #[test]
    fn not_an_object_is_an_error() {
        for line in ["[1,2]", "\"x\"", "{\"a\":1", "{\"a\":1} x", "12"] {
            assert!(json_fields(line).is_err(), "{line}");
        }
    }

    proptest::proptest! {
        /// Any JSON object gives the fields `serde_json::Map` gives, in its order, the
        /// last of repeated keys kept; anything else is refused by both.
        #[test]
        fn the_same_fields_as_through_value(
            keys in proptest::collection::vec(proptest::sample::select(vec![
                "a", "b", "msg", "ts", "level", "k\\\"q", "é", "a.b", "",
            ]), 0..8),
            values in proptest::collection::vec(proptest::sample::select(vec![
                "1", "-5", "1.5", "1e3", "18446744073709551615", "true", "null",
                "\"x\"", "\"x\\ny\"", "{\"n\":{\"m\":[1,\"2\"]}}", "[]", "\"\\u00e9\"",
            ]), 8),
            garbage in proptest::sample::select(vec!["", "", "", " ", "x", "}"]),
        ) {
            let body: Vec<String> = keys
                .iter()
                .zip(&values)
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            let line = format!("{{{}}}{garbage}", body.join(","));
            let expected = through_value(&line);
            let got = json_fields(&line).ok().map(owned);
            proptest::prop_assert_eq!(got, expected, "{}", line);
        }
    }
}
