//! YAML for the crate: [`from_str`] reads typed documents (check files, `AppSpec`s) with
//! `serde-saphyr`; [`parse`] reads a YAML (or JSON) document into a tree that keeps local tags, for
//! CloudFormation templates: `!Ref X` stays `Tagged { tag: "Ref", value: "X" }` where a typed
//! reader would drop the tag.
//!
//! The tree is built from the events of `granit-parser` (the pure-Rust YAML 1.2 parser that
//! `serde-saphyr`, the crate's typed YAML reader, is built on). Scalars are read as
//! CloudFormation reads them: plain `null`/`~`/empty is [`Value::Null`], plain `true`/`false` (any
//! case) is [`Value::Bool`], everything else is a [`Value::String`] with its text, numbers
//! included. Core tags (`!!str`, ...) are applied, not kept; aliases are expanded, up to
//! [`MAX_NODES`] nodes in all; a duplicate key or a second document is an error.

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Most nodes a document may expand to (aliases count each time they are used).
pub const MAX_NODES: usize = 1_000_000;

/// A node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `null`, `~`, or nothing.
    Null,
    /// A plain `true` or `false`.
    Bool(bool),
    /// Any other scalar, as written (after YAML's escapes and folding).
    String(String),
    /// A sequence.
    Sequence(Vec<Value>),
    /// A mapping, in document order.
    Mapping(Mapping),
    /// A node with a local tag such as `!Ref`.
    Tagged(Box<TaggedValue>),
}

/// A node with a local tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedValue {
    /// The tag without its `!`: `Ref`, `GetAtt`, `If`, ...
    pub tag: String,
    /// The tagged node.
    pub value: Value,
}

/// A mapping's entries in document order; keys are unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping(Vec<(Value, Value)>);

impl Mapping {
    /// The value under a string key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| matches!(k, Value::String(k) if k == key)).map(|(_, value)| value)
    }

    /// The value under any key.
    pub fn get_key(&self, key: &Value) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, value)| value)
    }

    /// Sets `key` to `value`, in place when the key is there, else at the end.
    pub fn insert(&mut self, key: Value, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keys in document order.
    pub fn keys(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(key, _)| key)
    }

    /// The entries in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&Value, &Value)> {
        self.0.iter().map(|(key, value)| (key, value))
    }
}

impl Value {
    /// The items of a sequence.
    pub fn as_sequence(&self) -> Option<&[Value]> {
        match self {
            Value::Sequence(items) => Some(items),
            _ => None,
        }
    }
}

/// Why a text is not a document this module reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at line {line} column {column}{}", quoted(.source_line))]
pub struct YamlError {
    /// What is wrong.
    pub problem: String,
    /// The line it was found on (from 1; 0 when unknown).
    pub line: usize,
    /// The column (from 1).
    pub column: usize,
    /// That line of the document, trimmed and cut to [`QUOTED_LINE_CHARS`] characters.
    pub source_line: String,
}

/// Most characters of the document's line an error quotes.
pub const QUOTED_LINE_CHARS: usize = 80;

fn quoted(line: &str) -> String {
    if line.is_empty() { String::new() } else { format!(": `{line}`") }
}

impl YamlError {
    fn at(span: &Span, problem: impl fmt::Display) -> Self {
        let (line, column) = (span.start.line(), span.start.col() + 1);
        Self { problem: problem.to_string(), line, column, source_line: String::new() }
    }

    /// The error with the line of `text` it points at.
    fn quoting(mut self, text: &str) -> Self {
        let line =
            self.line.checked_sub(1).and_then(|index| text.lines().nth(index)).unwrap_or_default().trim();
        self.source_line = match line.char_indices().nth(QUOTED_LINE_CHARS) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_owned(),
        };
        self
    }
}

impl From<ScanError> for YamlError {
    fn from(error: ScanError) -> Self {
        let (line, column) = (error.marker().line(), error.marker().col() + 1);
        Self { problem: error.info(), line, column, source_line: String::new() }
    }
}

impl From<serde_saphyr::Error> for YamlError {
    fn from(error: serde_saphyr::Error) -> Self {
        let message = error.without_snippet().to_string();
        let Some(location) = error.location() else {
            return Self { problem: message, line: 0, column: 0, source_line: String::new() };
        };
        let (line, column) = (location.line(), location.column());
        // The message ends with the location, which Display puts back in the same place.
        let problem = message.strip_suffix(&format!(" at line {line}, column {column}")).unwrap_or(&message);
        let (line, column) = (usize::try_from(line).unwrap_or(0), usize::try_from(column).unwrap_or(0));
        Self { problem: problem.to_owned(), line, column, source_line: String::new() }
    }
}

/// Reads a typed document. Errors are one line naming the problem, where, and that line of the
/// text (duplicate keys and unknown fields of `deny_unknown_fields` types included).
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str_with_options(text, serde_saphyr::options! { with_snippet: false })
        .map_err(|error| YamlError::from(error).quoting(text))
}

/// Reads the one document of `text` into a tree (an empty text is [`Value::Null`]).
pub fn parse(text: &str) -> Result<Value, YamlError> {
    read_tree(text).map_err(|error| error.quoting(text))
}

fn read_tree(text: &str) -> Result<Value, YamlError> {
    let mut reader = Reader { parser: Parser::new_from_str(text), anchors: HashMap::new(), nodes: 0 };
    let mut document = None;
    while let Some((event, span)) = reader.next()? {
        match event {
            Event::StreamStart | Event::DocumentEnd => {}
            Event::StreamEnd => break,
            Event::DocumentStart(..) if document.is_some() => {
                return Err(YamlError::at(&span, "a second document (a template is one document)"));
            }
            Event::DocumentStart(..) => document = Some(reader.node()?),
            other => return Err(YamlError::at(&span, format_args!("unexpected {other:?}"))),
        }
    }
    Ok(document.unwrap_or(Value::Null))
}

/// The parser and what the tree built so far needs.
struct Reader<'input> {
    parser: Parser<'input, serde_saphyr::granit_parser::StrInput<'input>>,
    /// Anchored nodes by anchor id, for aliases.
    anchors: HashMap<usize, Value>,
    /// Nodes made so far, aliases expanded.
    nodes: usize,
}

impl<'input> Reader<'input> {
    /// The next event that is not anchor metadata (comments are not read at all).
    fn next(&mut self) -> Result<Option<(Event<'input>, Span)>, YamlError> {
        loop {
            match self.parser.next_event().transpose()? {
                Some((Event::Anchor(..), _)) => {}
                other => return Ok(other),
            }
        }
    }

    /// Reads the node that starts with the next event.
    fn node(&mut self) -> Result<Value, YamlError> {
        let Some((event, span)) = self.next()? else {
            let problem = "the document ends inside a node".into();
            return Err(YamlError { problem, line: 0, column: 0, source_line: String::new() });
        };
        self.node_from(event, &span)
    }

    fn node_from(&mut self, event: Event<'input>, span: &Span) -> Result<Value, YamlError> {
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => (scalar(&text, style, tag.as_deref(), span)?, anchor),
            Event::SequenceStart(_, anchor, tag) => {
                let mut items = Vec::new();
                loop {
                    let Some((event, span)) = self.next()? else { return Err(unterminated(span)) };
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node_from(event, &span)?);
                }
                (collection(Value::Sequence(items), tag.as_deref(), "seq", span)?, anchor)
            }
            Event::MappingStart(_, anchor, tag) => {
                let mut entries = Mapping::default();
                loop {
                    let Some((event, key_span)) = self.next()? else { return Err(unterminated(span)) };
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let key = self.node_from(event, &key_span)?;
                    if entries.keys().any(|existing| *existing == key) {
                        return Err(YamlError::at(
                            &key_span,
                            format_args!("duplicate key {}", describe(&key)),
                        ));
                    }
                    let value = self.node()?;
                    entries.0.push((key, value));
                }
                (collection(Value::Mapping(entries), tag.as_deref(), "map", span)?, anchor)
            }
            Event::Alias(id) => {
                let value =
                    self.anchors.get(&id).cloned().ok_or_else(|| YamlError::at(span, "unknown alias"))?;
                self.count(count_nodes(&value), span)?;
                return Ok(value);
            }
            other => return Err(YamlError::at(span, format_args!("unexpected {other:?}"))),
        };
        self.count(1, span)?;
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        Ok(value)
    }

    fn count(&mut self, nodes: usize, span: &Span) -> Result<(), YamlError> {
        self.nodes += nodes;
        if self.nodes > MAX_NODES {
            return Err(YamlError::at(
                span,
                format_args!("more than {MAX_NODES} nodes once aliases are expanded"),
            ));
        }
        Ok(())
    }
}

fn unterminated(span: &Span) -> YamlError {
    YamlError::at(span, "the document ends inside this collection")
}

/// A scalar resolved as described in the module documentation.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>, span: &Span) -> Result<Value, YamlError> {
    if let Some(tag) = tag {
        return match tag.core_suffix() {
            Some("null") => Ok(Value::Null),
            Some("bool") => plain_bool(text)
                .map(Value::Bool)
                .ok_or_else(|| YamlError::at(span, format_args!("!!bool {text:?} is not a boolean"))),
            // `!!str`, and numbers' tags: CloudFormation reads numbers as their text.
            Some(_) => Ok(Value::String(text.to_owned())),
            None => Ok(tagged(local_tag(tag, span)?, Value::String(text.to_owned()))),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        _ => plain_bool(text).map_or_else(|| Value::String(text.to_owned()), Value::Bool),
    })
}

fn plain_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// A sequence or mapping under its tag: core tags must match the kind, local tags are kept.
fn collection(value: Value, tag: Option<&Tag>, kind: &str, span: &Span) -> Result<Value, YamlError> {
    match tag {
        None => Ok(value),
        Some(tag) => match tag.core_suffix() {
            Some(suffix) if suffix == kind => Ok(value),
            Some(suffix) => Err(YamlError::at(span, format_args!("a !!{suffix} tag on a {kind}"))),
            None => Ok(tagged(local_tag(tag, span)?, value)),
        },
    }
}

/// The name of a local tag (`!Ref` → `Ref`); other tags are not CloudFormation's.
fn local_tag(tag: &Tag, span: &Span) -> Result<String, YamlError> {
    if tag.handle() == "!" && !tag.suffix().is_empty() {
        Ok(tag.suffix().to_owned())
    } else {
        Err(YamlError::at(span, format_args!("unsupported tag {}{}", tag.handle(), tag.suffix())))
    }
}

fn tagged(tag: String, value: Value) -> Value {
    Value::Tagged(Box::new(TaggedValue { tag, value }))
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Sequence(items) => items.iter().map(count_nodes).sum(),
        Value::Mapping(entries) => {
            entries.iter().map(|(key, value)| count_nodes(key) + count_nodes(value)).sum()
        }
        Value::Tagged(tagged) => count_nodes(&tagged.value),
        Value::Null | Value::Bool(_) | Value::String(_) => 0,
    }
}

/// A key as an error names it.
fn describe(key: &Value) -> Cow<'_, str> {
    match key {
        Value::String(text) => Cow::Owned(format!("{text:?}")),
        other => Cow::Owned(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    #[test]
    fn scalars_read_as_cloudformation_reads_them() {
        let Value::Mapping(map) =
            parse("a: ~\nb:\nc: true\nd: 'false'\ne: 012\nf: !!str true\ng: \"x\\ty\"\nh: False\n").unwrap()
        else {
            panic!("not a mapping")
        };
        let values: Vec<_> =
            ["a", "b", "c", "d", "e", "f", "g", "h"].map(|key| map.get(key).unwrap().clone()).into();
        assert_eq!(
            values,
            [
                Value::Null,
                Value::Null,
                Value::Bool(true),
                string("false"),
                string("012"),
                string("true"),
                string("x\ty"),
                Value::Bool(false)
            ]
        );
    }

    #[test]
    fn local_tags_are_kept_on_scalars_sequences_and_mappings() {
        let value =
            parse("- !Ref Bucket\n- !If [C, a, b]\n- !Transform {Name: X}\n- !GetAtt A.Arn\n").unwrap();
        let items = value.as_sequence().unwrap();
        assert_eq!(items[0], tagged("Ref".into(), string("Bucket")));
        assert_eq!(
            items[1],
            tagged("If".into(), Value::Sequence(vec![string("C"), string("a"), string("b")]))
        );
        let Value::Tagged(transform) = &items[2] else { panic!("{:?}", items[2]) };
        assert_eq!(transform.tag, "Transform");
        assert!(matches!(&transform.value, Value::Mapping(m) if m.get("Name") == Some(&string("X"))));
        assert_eq!(items[3], tagged("GetAtt".into(), string("A.Arn")));
    }

    #[test]
    fn json_reads_as_yaml() {
        let value = parse(r#"{"Resources": {"A": {"Type": "T", "N": 1, "On": false, "Z": null}}}"#).unwrap();
        let Value::Mapping(top) = value else { panic!() };
        let Some(Value::Mapping(resources)) = top.get("Resources") else { panic!() };
        let Some(Value::Mapping(a)) = resources.get("A") else { panic!() };
        assert_eq!(a.get("N"), Some(&string("1")));
        assert_eq!(a.get("On"), Some(&Value::Bool(false)));
        assert_eq!(a.get("Z"), Some(&Value::Null));
        assert_eq!(a.keys().count(), 4);
    }

    #[test]
    fn aliases_expand_within_a_node_budget() {
        let value = parse("a: &x [1, 2]\nb: *x\n").unwrap();
        let Value::Mapping(map) = value else { panic!() };
        assert_eq!(map.get("a"), map.get("b"));
        // Nine levels of ten aliases each: 10^9 nodes, refused before they are built.
        let levels = (1..=9).map(|level| {
            let aliases = vec![format!("*l{}", level - 1); 10].join(", ");
            format!("l{level}: &l{level} [{aliases}]\n")
        });
        let bomb = std::iter::once("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n".to_owned())
            .chain(levels)
            .collect::<String>();
        let error = parse(&bomb).unwrap_err();
        assert!(error.problem.contains("more than 1000000 nodes"), "{error}");
    }

    #[test]
    fn errors_name_the_problem_and_where() {
        let error = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(error.to_string(), "duplicate key \"a\" at line 2 column 1: `a: 2`");
        let long = format!("a: 1\na: {}\n", "é".repeat(100));
        assert_eq!(parse(&long).unwrap_err().source_line, format!("a: {}…", "é".repeat(77)));
        let error = from_str::<std::collections::BTreeMap<String, u16>>("x: 1\ny: [2]\n").unwrap_err();
        assert_eq!((error.line, error.column, error.source_line.as_str()), (2, 4, "y: [2]"));
        assert!(!error.problem.contains("line"), "{error}");
        let error = parse("a: [1, 2\n").unwrap_err();
        assert!(error.line >= 1 && !error.problem.is_empty(), "{error}");
        let error = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(error.problem.starts_with("a second document"), "{error}");
        let error = parse("a: !!int [1]\n").unwrap_err();
        assert_eq!(error.problem, "a !!int tag on a seq");
        assert_eq!(parse("").unwrap(), Value::Null);
        assert_eq!(parse("# only a comment\n").unwrap(), Value::Null);
    }
}
