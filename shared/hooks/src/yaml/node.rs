//! The document as `granit-parser` reads it: positioned nodes, scalars with their text and whether
//! they were plain (unquoted), local tags kept, core tags applied, aliases expanded within
//! [`MAX_NODES`], duplicate keys and second documents refused.

use super::{MAX_NODES, YamlError};
use granit_parser::{Event, Parser, ScalarStyle, Span, StrInput, Tag};
use std::collections::HashMap;

/// A node and where it starts (line and column from 1).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Node {
    pub kind: Kind,
    pub line: usize,
    pub column: usize,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    /// A scalar's text; `plain` when unquoted (only plain scalars resolve to null, booleans and
    /// numbers).
    Scalar {
        text: String,
        plain: bool,
    },
    /// A node under a local tag (`!Ref`), the tag without its `!`.
    Tagged(String, Box<Node>),
    Sequence(Vec<Node>),
    Mapping(Vec<(Node, Node)>),
}

impl Node {
    /// A plain scalar YAML's core schema reads as null.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A plain scalar YAML's core schema reads as a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.kind {
            Kind::Scalar { text, plain: true } => match text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether two keys are the same key (same kind and text, quoting aside).
    fn same_key(&self, other: &Node) -> bool {
        match (&self.kind, &other.kind) {
            (Kind::Scalar { text: a, .. }, Kind::Scalar { text: b, .. }) => a == b,
            (a, b) => a == b,
        }
    }

    /// Nodes in all, this one included.
    fn count(&self) -> usize {
        1 + match &self.kind {
            Kind::Scalar { .. } => 0,
            Kind::Tagged(_, node) => node.count(),
            Kind::Sequence(items) => items.iter().map(Node::count).sum(),
            Kind::Mapping(entries) => entries.iter().map(|(key, value)| key.count() + value.count()).sum(),
        }
    }
}

/// Reads the one document of `text` (an empty text is a plain empty scalar: null).
pub(super) fn read(text: &str) -> Result<Node, YamlError> {
    let mut reader = Reader { parser: Parser::new_from_str(text), anchors: HashMap::new(), nodes: 0 };
    let mut document = None;
    while let Some((event, span)) = reader.next()? {
        match event {
            Event::StreamStart | Event::DocumentEnd => {}
            Event::StreamEnd => break,
            Event::DocumentStart(..) if document.is_some() => {
                return Err(YamlError::at(&span, "a second document (one document is read)"));
            }
            Event::DocumentStart(..) => document = Some(reader.node()?),
            other => return Err(YamlError::at(&span, format_args!("unexpected {other:?}"))),
        }
    }
    Ok(document.unwrap_or(Node {
        kind: Kind::Scalar { text: String::new(), plain: true },
        line: 1,
        column: 1,
    }))
}

/// The parser and what the tree built so far needs.
struct Reader<'input> {
    parser: Parser<'input, StrInput<'input>>,
    /// Anchored nodes by anchor id, for aliases.
    anchors: HashMap<usize, Node>,
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
    fn node(&mut self) -> Result<Node, YamlError> {
        let Some((event, span)) = self.next()? else {
            return Err(YamlError::new("the document ends inside a node"));
        };
        self.node_from(event, &span)
    }

    fn node_from(&mut self, event: Event<'input>, span: &Span) -> Result<Node, YamlError> {
        let at = |kind| Node { kind, line: span.start.line(), column: span.start.col() + 1 };
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let scalar = at(Kind::Scalar { text: text.into_owned(), plain: style == ScalarStyle::Plain });
                (tagged_scalar(scalar, tag.as_deref(), span)?, anchor)
            }
            Event::SequenceStart(_, anchor, tag) => {
                let mut items = Vec::new();
                loop {
                    let Some((event, item_span)) = self.next()? else { return Err(unterminated(span)) };
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node_from(event, &item_span)?);
                }
                (tagged_collection(at(Kind::Sequence(items)), tag.as_deref(), "seq", span)?, anchor)
            }
            Event::MappingStart(_, anchor, tag) => {
                let mut entries: Vec<(Node, Node)> = Vec::new();
                loop {
                    let Some((event, key_span)) = self.next()? else { return Err(unterminated(span)) };
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let key = self.node_from(event, &key_span)?;
                    if entries.iter().any(|(existing, _)| existing.same_key(&key)) {
                        return Err(YamlError::at(
                            &key_span,
                            format_args!("duplicate key {}", describe(&key)),
                        ));
                    }
                    let value = self.node()?;
                    entries.push((key, value));
                }
                (tagged_collection(at(Kind::Mapping(entries)), tag.as_deref(), "map", span)?, anchor)
            }
            Event::Alias(id) => {
                let node =
                    self.anchors.get(&id).cloned().ok_or_else(|| YamlError::at(span, "unknown alias"))?;
                self.count(node.count(), span)?;
                return Ok(node);
            }
            other => return Err(YamlError::at(span, format_args!("unexpected {other:?}"))),
        };
        self.count(1, span)?;
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
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

/// A scalar under its tag: `!!str` makes it text, `!!null`/`!!bool`/`!!int`/`!!float` resolve it
/// (it must then read as such), a local tag is kept.
fn tagged_scalar(node: Node, tag: Option<&Tag>, span: &Span) -> Result<Node, YamlError> {
    let Some(tag) = tag else { return Ok(node) };
    let Kind::Scalar { text, .. } = &node.kind else { return Ok(node) };
    match tag.core_suffix() {
        Some("str") => Ok(Node { kind: Kind::Scalar { text: text.clone(), plain: false }, ..node }),
        Some(suffix @ ("null" | "bool" | "int" | "float")) => {
            let plain = Node { kind: Kind::Scalar { text: text.clone(), plain: true }, ..node };
            let fits = match suffix {
                "null" => plain.is_null(),
                "bool" => plain.as_bool().is_some(),
                "int" => super::de::integer(text).is_some(),
                _ => super::de::float(text).is_some(),
            };
            if fits {
                Ok(plain)
            } else {
                Err(YamlError::at(span, format_args!("!!{suffix} {text:?} is not one")))
            }
        }
        Some(suffix) => Err(YamlError::at(span, format_args!("a !!{suffix} tag on a scalar"))),
        None => Ok(local(node, tag, span)?),
    }
}

/// A sequence or mapping under its tag: core tags must match the kind, local tags are kept.
fn tagged_collection(node: Node, tag: Option<&Tag>, kind: &str, span: &Span) -> Result<Node, YamlError> {
    match tag.map(|tag| (tag, tag.core_suffix())) {
        None => Ok(node),
        Some((_, Some(suffix))) if suffix == kind => Ok(node),
        Some((_, Some(suffix))) => Err(YamlError::at(span, format_args!("a !!{suffix} tag on a {kind}"))),
        Some((tag, None)) => local(node, tag, span),
    }
}

/// `node` under a local tag (`!Ref`); other tags are not CloudFormation's.
fn local(node: Node, tag: &Tag, span: &Span) -> Result<Node, YamlError> {
    if tag.handle() == "!" && !tag.suffix().is_empty() {
        let (line, column) = (node.line, node.column);
        Ok(Node { kind: Kind::Tagged(tag.suffix().to_owned(), Box::new(node)), line, column })
    } else {
        Err(YamlError::at(span, format_args!("unsupported tag {}{}", tag.handle(), tag.suffix())))
    }
}

/// A key as an error names it.
fn describe(key: &Node) -> String {
    match &key.kind {
        Kind::Scalar { text, .. } => format!("{text:?}"),
        other => format!("{other:?}"),
    }
}
