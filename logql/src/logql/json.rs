//! The JSON stages: `| json` (every field, or the fields its parameters name) and
//! `| unpack`, over serde_json reading the line in place.

use std::borrow::Cow;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::ast::{Labels, PathPart};
use super::pipeline::{Entry, label_name};

/// An object member's name, borrowed from the line unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON object's members in document order, values unparsed, keys borrowed from the
/// line unless they hold escapes (no map is built: a line's object is read once).
struct RawObject<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> RawObject<'a> {
    /// The last member named `k` (a repeated key's last value wins, as in Go).
    fn get(&self, k: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(name, _)| name == k)
            .map(|(_, v)| *v)
    }
}

impl<'de> serde::Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(16);
                while let Some((k, v)) = m.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push((k.0, v));
                }
                Ok(RawObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

pub(super) fn json(params: &[(String, Vec<PathPart>)], e: &mut Entry<'_>) {
    let line = std::mem::take(&mut e.line);
    if params.is_empty() {
        let mut found = Vec::new();
        let mut de = serde_json::Deserializer::from_str(&line);
        let read = Flatten {
            prefix: "",
            entry: e,
            out: &mut found,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        match read {
            Ok(()) => {
                for (k, val) in found {
                    e.extract(&k, val);
                }
            }
            Err(err) => e.set_error("JSONParserErr", err.to_string()),
        }
        e.line = line;
        return;
    }
    match serde_json::from_str::<RawObject<'_>>(&line) {
        Ok(obj) => {
            for (label, path) in params {
                let value = lookup(&obj, path).map(scalar_text).unwrap_or_default();
                e.extract(label, value);
            }
        }
        Err(err) => e.set_error("JSONParserErr", err.to_string()),
    }
    e.line = line;
}

/// Every label `| json` (without parameters) gives `line`, named as labels (before a
/// clash with a stream label renames one `…_extracted`), a repeated name's last value;
/// `None` when the line is not a JSON object (the stage's `JSONParserErr`). What a
/// store keeps to answer `| json` without reading the line again
/// ([`super::Extractor::push_parsed`]).
pub fn json_labels(line: &str) -> Option<Vec<(String, String)>> {
    // Anything but an object is an error, which needs no parse to tell.
    if !line.trim_start().starts_with('{') {
        return None;
    }
    let everything = Labels::new();
    let entry = Entry::new(&everything, "");
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_str(line);
    Flatten {
        prefix: "",
        entry: &entry,
        out: &mut found,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .ok()?;
    let mut out: Vec<(String, String)> = Vec::with_capacity(found.len());
    for (k, v) in found {
        let name = label_name(&k);
        if name.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = v,
            None => out.push((name.into_owned(), v)),
        }
    }
    Some(out)
}

/// The `| json` stage of a line the store parsed already ([`json_labels`]): its labels,
/// or `None` for a line that is not a JSON object.
pub(super) fn apply_parsed(e: &mut Entry<'_>, parsed: Option<&[(&str, &str)]>) {
    match parsed {
        Some(fields) => {
            for (k, v) in fields {
                e.extract(k, (*v).to_string());
            }
        }
        // The details (serde's message) are not kept: a caller that reads them
        // feeds the line itself.
        None => e.set_error("JSONParserErr", String::new()),
    }
}

/// `| unpack`: the string fields of a JSON object as labels (Promtail's `pack` stage
/// wrote them), its `_entry` as the line; anything else is a `JSONParserErr`.
pub(super) fn unpack(e: &mut Entry<'_>) {
    let line = std::mem::take(&mut e.line);
    match serde_json::from_str::<RawObject<'_>>(&line) {
        Ok(obj) => {
            let mut entry = None;
            for (k, v) in obj.0 {
                let Ok(text) = serde_json::from_str::<String>(v.get()) else {
                    continue;
                };
                if k == "_entry" {
                    entry = Some(text);
                } else {
                    e.extract(&k, text);
                }
            }
            e.line = entry.unwrap_or(line);
        }
        Err(err) => {
            e.set_error("JSONParserErr", err.to_string());
            e.line = line;
        }
    }
}

/// The value at a `| json` parameter's path.
fn lookup<'a>(obj: &RawObject<'a>, path: &[PathPart]) -> Option<&'a RawValue> {
    let (first, rest) = path.split_first()?;
    let PathPart::Key(k) = first else { return None };
    let mut cur: &RawValue = obj.get(k)?;
    for part in rest {
        cur = match part {
            PathPart::Key(k) => serde_json::from_str::<RawObject<'_>>(cur.get())
                .ok()?
                .get(k)?,
            PathPart::Index(i) => serde_json::from_str::<Vec<&RawValue>>(cur.get())
                .ok()?
                .get(*i)
                .copied()?,
        };
    }
    Some(cur)
}

/// A value as a label: strings unquoted, `null` empty, anything else as written.
fn scalar_text(v: &RawValue) -> String {
    let text = v.get();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).unwrap_or_default()
    } else if text == "null" {
        String::new()
    } else {
        text.to_string()
    }
}

/// `| json` without parameters: every scalar field of an object, nested objects' keys
/// joined with `_`; arrays and nulls are not extracted. The members are visited as
/// they are read: a field no stage reads is skipped unread (no copy of its name or
/// value), and so is a nested object none of whose fields can be read.
struct Flatten<'p, 'e, 's> {
    prefix: &'p str,
    entry: &'e Entry<'s>,
    out: &'e mut Vec<(String, String)>,
}

impl<'de> DeserializeSeed<'de> for Flatten<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Flatten<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(Key(k)) = m.next_key::<Key<'de>>()? {
            let key: Cow<'_, str> = if self.prefix.is_empty() {
                k
            } else {
                Cow::Owned(format!("{}_{k}", self.prefix))
            };
            let (scalar, nested) = self.entry.may_want(&key);
            if !scalar && !nested {
                m.next_value::<IgnoredAny>()?;
                continue;
            }
            let v: &RawValue = m.next_value()?;
            let text = v.get();
            if text.starts_with('{') {
                if nested {
                    let mut de = serde_json::Deserializer::from_str(text);
                    let inner = Flatten {
                        prefix: &key,
                        entry: self.entry,
                        out: &mut *self.out,
                    };
                    // A nested object is valid JSON already (its text was checked).
                    let _ = inner.deserialize(&mut de);
                }
            } else if scalar && !text.starts_with('[') && text != "null" {
                self.out.push((key.into_owned(), scalar_text(v)));
            }
        }
        Ok(())
    }
}
