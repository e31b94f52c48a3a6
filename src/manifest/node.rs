//! The manifest text as a loosely typed tree, before any rule is checked.
//!
//! Both serde_yaml and serde_json deserialise into [`Node`], so YAML and JSON take the same path
//! through validation. Unlike `serde_yaml::Value` or `serde_json::Value`, a [`Node`] mapping keeps
//! its entries in document order and keeps duplicate keys, so validation can report a duplicate
//! by its path instead of silently keeping the last value (JSON) or failing without a path (YAML).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

use super::error::{ManifestError, DOCUMENT_PATH};

/// The largest manifest accepted, in bytes. A group state document is a few kilobytes; this
/// bounds what an API client or a stray file can make the daemon parse.
pub const MAX_MANIFEST_BYTES: usize = 1 << 20;

/// A parsed YAML or JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i128),
    /// An unsigned integer beyond `i128::MAX`.
    BigUint(u128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order, duplicates kept.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The value as a problem message quotes it after "found": strings quoted (and shortened
    /// when long), numbers as written, collections by kind.
    pub(crate) fn describe(&self) -> String {
        match self {
            Node::Null => "null".to_owned(),
            Node::Bool(b) => b.to_string(),
            Node::Int(i) => i.to_string(),
            Node::BigUint(u) => u.to_string(),
            // Debug keeps the decimal point, so `2.0` is not shown as the integer `2`.
            Node::Float(x) => format!("{x:?}"),
            Node::Str(s) => {
                const LIMIT: usize = 80;
                if s.chars().count() > LIMIT {
                    let head: String = s.chars().take(LIMIT - 1).collect();
                    format!("{:?}", format!("{head}…"))
                } else {
                    format!("{s:?}")
                }
            }
            Node::Seq(_) => "a list".to_owned(),
            Node::Map(_) => "a mapping".to_owned(),
        }
    }

    /// A mapping key as a path segment: strings as they are, anything else described.
    pub(crate) fn key_label(&self) -> String {
        match self {
            Node::Str(s) => s.clone(),
            other => other.describe(),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Node, E> {
        Ok(i128::try_from(v).map_or(Node::BigUint(v), Node::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Node::Map(entries))
    }

    /// serde_yaml presents a value with a custom tag (`!foo bar`) as an enum; a manifest has no use
    /// for tags, and ignoring one would silently change what the author meant.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Node, A::Error> {
        let (tag, _value): (String, _) = data.variant()?;
        Err(de::Error::custom(format!(
            "YAML tags such as `!{tag}` are not supported"
        )))
    }
}

/// Parses manifest text, YAML or JSON, into a tree.
///
/// Text that starts with `{` or `[` is read as JSON first, because serde_json's messages are
/// better for JSON than a YAML parser's; if it is not valid JSON but is valid YAML (flow style
/// such as `{id: x}`), the YAML reading is used, and otherwise the JSON error is reported.
pub(crate) fn parse_text(text: &str) -> Result<Node, ManifestError> {
    check_size(text)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let start = text.trim_start();
    if start.starts_with('{') || start.starts_with('[') {
        parse_json(text).or_else(|json_error| parse_yaml(text).map_err(|_| json_error))
    } else {
        parse_yaml(text)
    }
}

/// Parses JSON text into a tree.
pub(crate) fn parse_json(text: &str) -> Result<Node, ManifestError> {
    check_size(text)?;
    serde_json::from_str(text).map_err(|e| {
        let location = (e.line() != 0).then(|| (e.line(), e.column()));
        ManifestError::syntax("JSON", location, strip_location(&e.to_string(), location))
    })
}

fn parse_yaml(text: &str) -> Result<Node, ManifestError> {
    serde_yaml::from_str(text).map_err(|e| {
        let location = e.location().map(|l| (l.line(), l.column()));
        ManifestError::syntax("YAML", location, strip_location(&e.to_string(), location))
    })
}

fn check_size(text: &str) -> Result<(), ManifestError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::single(
            DOCUMENT_PATH,
            format!(
                "the manifest is {} bytes; at most {MAX_MANIFEST_BYTES} are accepted",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// Both parsers append " at line L column C" to their messages; the location already is the
/// problem's path, so it is said once.
fn strip_location(message: &str, location: Option<(usize, usize)>) -> String {
    match location {
        Some((line, column)) => {
            message.replacen(&format!(" at line {line} column {column}"), "", 1)
        }
        None => message.to_owned(),
    }
}
