//! Serde over a read document: typed values (check files, `AppSpec`s) straight from the nodes, with
//! YAML 1.2's core schema for plain scalars (null, booleans, integers, floats; everything else and
//! every quoted scalar is text). An error is placed at the innermost node it arose in.

use super::YamlError;
use super::node::{Kind, Node};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

/// A plain scalar's integer value under the core schema (decimal, `0o` octal, `0x` hex).
pub(super) fn integer(text: &str) -> Option<i128> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = if let Some(octal) = text.strip_prefix("0o") {
        i128::from_str_radix(octal, 8).ok()?
    } else if let Some(hex) = text.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i128>().ok()?
    } else {
        return None;
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// A plain scalar's float value under the core schema (`[-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)?`,
/// `.inf`, `.nan` in their three spellings).
pub(super) fn float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let sign = if text.starts_with('-') { -1.0 } else { 1.0 };
    match unsigned {
        ".inf" | ".Inf" | ".INF" => return Some(sign * f64::INFINITY),
        ".nan" | ".NaN" | ".NAN" if unsigned.len() == text.len() => return Some(f64::NAN),
        _ => {}
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').map_or((mantissa, None), |(w, f)| (w, Some(f)));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(whole)
        && fraction.is_none_or(digits)
        && (!whole.is_empty() || fraction.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if mantissa_ok && exponent_ok { text.parse().ok() } else { None }
}

/// Deserializes from one node.
#[derive(Clone, Copy)]
pub(super) struct NodeDeserializer<'a>(pub &'a Node);

impl NodeDeserializer<'_> {
    /// The error placed at this node unless a node inside already placed it.
    fn place(self, error: YamlError) -> YamlError {
        if error.line == 0 { YamlError { line: self.0.line, column: self.0.column, ..error } } else { error }
    }

    fn unexpected(self) -> de::Unexpected<'static> {
        match &self.0.kind {
            Kind::Scalar { .. } if self.0.is_null() => de::Unexpected::Unit,
            Kind::Scalar { .. } => de::Unexpected::Other("a scalar"),
            Kind::Tagged(..) => de::Unexpected::Other("a tagged node"),
            Kind::Sequence(_) => de::Unexpected::Seq,
            Kind::Mapping(_) => de::Unexpected::Map,
        }
    }

    fn any<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        match &self.0.kind {
            Kind::Scalar { text, plain: false } => visitor.visit_str(text),
            Kind::Scalar { text, plain: true } => {
                if self.0.is_null() {
                    visitor.visit_unit()
                } else if let Some(value) = self.0.as_bool() {
                    visitor.visit_bool(value)
                } else if let Some(value) = integer(text) {
                    match (i64::try_from(value), u64::try_from(value)) {
                        (Ok(value), _) => visitor.visit_i64(value),
                        (_, Ok(value)) => visitor.visit_u64(value),
                        _ => visitor.visit_str(text),
                    }
                } else if let Some(value) = float(text) {
                    visitor.visit_f64(value)
                } else {
                    visitor.visit_str(text)
                }
            }
            Kind::Tagged(tag, _) => Err(de::Error::custom(format!("the tag !{tag} has no meaning here"))),
            Kind::Sequence(items) => visitor.visit_seq(Items(items.iter())),
            Kind::Mapping(entries) => visitor.visit_map(Entries { entries: entries.iter(), value: None }),
        }
    }

    fn text<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        match &self.0.kind {
            Kind::Scalar { text, .. } if !self.0.is_null() => visitor.visit_str(text),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }
}

macro_rules! typed {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
            self.any(visitor).map_err(|e| self.place(e))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'_> {
    type Error = YamlError;

    typed! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_bytes deserialize_byte_buf
        deserialize_unit deserialize_seq deserialize_map
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        self.text(visitor).map_err(|e| self.place(e))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        self.text(visitor).map_err(|e| self.place(e))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        self.text(visitor).map_err(|e| self.place(e))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        if self.0.is_null() { visitor.visit_none() } else { visitor.visit_some(self) }
            .map_err(|e| self.place(e))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, YamlError> {
        self.any(visitor).map_err(|e| self.place(e))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, YamlError> {
        visitor.visit_newtype_struct(self).map_err(|e| self.place(e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, YamlError> {
        self.any(visitor).map_err(|e| self.place(e))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, YamlError> {
        self.any(visitor).map_err(|e| self.place(e))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, YamlError> {
        self.any(visitor).map_err(|e| self.place(e))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, YamlError> {
        let result = match &self.0.kind {
            Kind::Scalar { text, .. } if !self.0.is_null() => {
                visitor.visit_enum(text.as_str().into_deserializer())
            }
            Kind::Mapping(entries) if entries.len() == 1 => {
                visitor.visit_enum(Variant { name: &entries[0].0, content: &entries[0].1 })
            }
            _ => Err(de::Error::invalid_type(self.unexpected(), &"a variant name, or a map of one variant")),
        };
        result.map_err(|e| self.place(e))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        visitor.visit_unit()
    }
}

/// A sequence's items.
struct Items<'a>(std::slice::Iter<'a, Node>);

impl<'de> de::SeqAccess<'de> for Items<'_> {
    type Error = YamlError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, YamlError> {
        self.0.next().map(|item| seed.deserialize(NodeDeserializer(item))).transpose()
    }
}

/// A mapping's entries, the value of the last key read kept for `next_value_seed`.
struct Entries<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
}

impl<'de> de::MapAccess<'de> for Entries<'_> {
    type Error = YamlError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, YamlError> {
        let Some((key, value)) = self.entries.next() else { return Ok(None) };
        self.value = Some(value);
        seed.deserialize(NodeDeserializer(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, YamlError> {
        let value = self.value.take().ok_or_else(|| YamlError::new("a value without its key"))?;
        seed.deserialize(NodeDeserializer(value))
    }
}

/// An enum written as a map of one variant to its content.
struct Variant<'a> {
    name: &'a Node,
    content: &'a Node,
}

impl<'de, 'a> de::EnumAccess<'de> for Variant<'a> {
    type Error = YamlError;
    type Variant = NodeDeserializer<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant), YamlError> {
        Ok((seed.deserialize(NodeDeserializer(self.name))?, NodeDeserializer(self.content)))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDeserializer<'_> {
    type Error = YamlError;

    fn unit_variant(self) -> Result<(), YamlError> {
        if self.0.is_null() {
            Ok(())
        } else {
            Err(self.place(de::Error::custom("a unit variant takes no content")))
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, YamlError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, YamlError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, YamlError> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_schema_numbers() {
        assert_eq!(integer("42"), Some(42));
        assert_eq!(integer("-7"), Some(-7));
        assert_eq!(integer("0o17"), Some(15));
        assert_eq!(integer("0x1F"), Some(31));
        assert_eq!(integer("1.5"), None);
        assert_eq!(integer("12a"), None);
        assert_eq!(integer(""), None);
        assert_eq!(float("1.5"), Some(1.5));
        assert_eq!(float("-.5e3"), Some(-500.0));
        assert_eq!(float("3."), Some(3.0));
        assert_eq!(float(".inf"), Some(f64::INFINITY));
        assert_eq!(float("-.Inf"), Some(f64::NEG_INFINITY));
        assert!(float(".nan").is_some_and(f64::is_nan));
        assert_eq!(float("inf"), None, "Rust's spelling is not YAML's");
        assert_eq!(float("1e"), None);
        assert_eq!(float("."), None);
        assert_eq!(float("p99"), None);
    }
}
