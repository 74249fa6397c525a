//! YAML for the crate, on one pure-Rust YAML 1.2 parser (`granit-parser`): [`from_str`] reads
//! typed documents (check files, `AppSpec`s) through serde, [`parse`] reads a YAML (or JSON)
//! document into a tree that keeps local tags, for CloudFormation templates: `!Ref X` stays
//! `Tagged { tag: "Ref", value: "X" }` where a typed reader would drop the tag.
//!
//! Both read the same nodes ([`node`]): aliases expanded, up to [`MAX_NODES`] nodes in all; a
//! duplicate key or a second document is an error; core tags (`!!str`, ...) are applied. Typed
//! reading ([`de`]) resolves plain scalars by YAML 1.2's core schema. The tree reads them as
//! CloudFormation does: plain `null`/`~`/empty is [`Value::Null`], plain `true`/`false` (any case)
//! is [`Value::Bool`], everything else is a [`Value::String`] with its text, numbers included.
//! Errors name the problem, the line and column, and quote that line.

mod de;
mod node;

use granit_parser::{ScanError, Span};
use node::{Kind, Node};
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
    /// An error not yet placed (line 0).
    fn new(problem: impl fmt::Display) -> Self {
        Self { problem: problem.to_string(), line: 0, column: 0, source_line: String::new() }
    }

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

impl serde::de::Error for YamlError {
    fn custom<T: fmt::Display>(problem: T) -> Self {
        Self::new(problem)
    }
}

/// Reads a typed document. Errors are one line naming the problem, where, and that line of the
/// text (duplicate keys and unknown fields of `deny_unknown_fields` types included).
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    let node = node::read(text).map_err(|error| error.quoting(text))?;
    T::deserialize(de::NodeDeserializer(&node)).map_err(|error| error.quoting(text))
}

/// Reads the one document of `text` into a tree (an empty text is [`Value::Null`]).
pub fn parse(text: &str) -> Result<Value, YamlError> {
    node::read(text).map(|node| tree(&node)).map_err(|error| error.quoting(text))
}

/// The tree of a node, scalars read as CloudFormation reads them.
fn tree(node: &Node) -> Value {
    match &node.kind {
        Kind::Scalar { text, .. } => {
            if node.is_null() {
                Value::Null
            } else {
                node.as_bool().map_or_else(|| Value::String(text.clone()), Value::Bool)
            }
        }
        Kind::Tagged(tag, inner) => {
            Value::Tagged(Box::new(TaggedValue { tag: tag.clone(), value: tree(inner) }))
        }
        Kind::Sequence(items) => Value::Sequence(items.iter().map(tree).collect()),
        Kind::Mapping(entries) => {
            Value::Mapping(Mapping(entries.iter().map(|(k, v)| (tree(k), tree(v))).collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    fn tagged(tag: String, value: Value) -> Value {
        Value::Tagged(Box::new(TaggedValue { tag, value }))
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
