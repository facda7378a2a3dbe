//! Strict JSON for features: a repeated key in any object is an error naming
//! it (RFC 8259 leaves its meaning undefined; read leniently, a later
//! `"classification": "public"` would silently downgrade a record), and so is
//! a string longer than the bound. Otherwise exactly `serde_json::Value`.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

/// Why a text is not strict JSON: where (the dotted path of the object,
/// `(feature)` at the top), what, and the line and column in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonError {
    /// Dotted path of the member at fault (`properties.classification`), or
    /// `(feature)` for a syntax error.
    pub field: String,
    /// What is wrong, with its position within the text.
    pub reason: String,
    /// 1-based line of the fault (in the input when its start was known).
    pub line: usize,
    /// 1-based column (bytes) of the fault (in the input when known).
    pub column: usize,
    /// What is wrong, without position or wording for a feature (for
    /// callers whose text is not a feature: CQL2 JSON filters).
    pub problem: JsonProblem,
}

/// What is wrong with a JSON text.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonProblem {
    /// Not JSON: serde_json's message without its position.
    Syntax(String),
    /// A key repeated in one object.
    Duplicate(String),
    /// A string (or key) of this many bytes, beyond the bound.
    TooLong(usize),
}

enum Kind {
    Duplicate(String),
    TooLong(usize),
}

/// What the visitors found, outside serde's error (which carries only text).
#[derive(Default)]
struct Fault {
    kind: Option<Kind>,
    /// Innermost member first.
    path: Vec<String>,
}

/// Where a text begins in its input: 1-based line and column, the column
/// counted in bytes as serde_json counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPos {
    /// 1-based line in the input.
    pub line: usize,
    /// 1-based column (in bytes) in the input.
    pub column: usize,
}

impl TextPos {
    /// The input's position of `(line, column)` within a text that begins
    /// here: only the text's first line is shifted by its starting column.
    pub fn locate(self, line: usize, column: usize) -> TextPos {
        TextPos {
            line: self.line + line.saturating_sub(1),
            column: if line <= 1 {
                self.column + column.saturating_sub(1)
            } else {
                column
            },
        }
    }
}

/// Parses `text` as JSON, refusing repeated keys and strings longer than
/// `max_string` bytes; positions count within `text`.
pub fn parse(text: &str, max_string: usize) -> Result<Value, JsonError> {
    parse_at(text, max_string, None)
}

/// As [`parse`], with positions counted in the input `text` was cut from
/// when `start` (where it began there) is known.
pub fn parse_at(text: &str, max_string: usize, start: Option<TextPos>) -> Result<Value, JsonError> {
    run(text, max_string, start, |seed, de| seed.deserialize(de))
}

/// An object's members in their order; a key is borrowed from the text
/// when it has no escapes.
pub type Members<'a> = Vec<(Cow<'a, str>, Value)>;

/// A feature's `properties` member as [`parse_feature_at`] gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Properties<'a> {
    /// An object's members, in their order.
    Members(Members<'a>),
    /// Any other value (`null`, or something that is not an object).
    Other(Value),
}

/// A feature's text as [`parse_feature_at`] gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<'a> {
    /// An object's members but `properties`, in their order.
    Object(Members<'a>),
    /// Any other value.
    Other(Value),
}

/// As [`parse_at`] for a feature: when the text is an object, its members
/// and those of its `properties` member come as lists in their order, with
/// no map built (validation takes them one by one). The same checks and
/// errors as [`parse_at`]; `None` when there is no `properties` member.
pub fn parse_feature_at(
    text: &str,
    max_string: usize,
    start: Option<TextPos>,
) -> Result<(Parsed<'_>, Option<Properties<'_>>), JsonError> {
    run(text, max_string, start, |seed, de| {
        de::Deserializer::deserialize_any(de, Top(seed))
    })
}

fn run<'a, T>(
    text: &'a str,
    max_string: usize,
    start: Option<TextPos>,
    parse: impl FnOnce(
        Strict<'_>,
        &mut serde_json::Deserializer<serde_json::de::StrRead<'a>>,
    ) -> Result<T, serde_json::Error>,
) -> Result<T, JsonError> {
    let fault = RefCell::new(Fault::default());
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = Strict {
        max_string,
        fault: &fault,
    };
    let result = parse(seed, &mut de).and_then(|v| de.end().map(|()| v));
    result.map_err(|e| {
        let fault = fault.into_inner();
        let mut path: Vec<String> = fault.path.into_iter().rev().collect();
        // In the input when the reader knew where the feature began, else
        // within the feature's own text (a Feature reassembled from members).
        let (line, column, of) = match start {
            Some(s) => {
                let p = s.locate(e.line(), e.column());
                (p.line, p.column, "input")
            }
            None => (e.line(), e.column(), "feature"),
        };
        let at = format!("line {line} column {column} of the {of}");
        let problem = match &fault.kind {
            None => {
                let text = e.to_string();
                let what = text
                    .rsplit_once(" at line ")
                    .map_or(text.as_str(), |(m, _)| m);
                JsonProblem::Syntax(what.to_string())
            }
            Some(Kind::Duplicate(key)) => JsonProblem::Duplicate(key.clone()),
            Some(Kind::TooLong(n)) => JsonProblem::TooLong(*n),
        };
        let reason = match &problem {
            JsonProblem::Syntax(what) => format!("not valid JSON: {what} at {at}"),
            JsonProblem::Duplicate(key) => {
                let within = if path.is_empty() {
                    "the feature".to_string()
                } else {
                    path.join(".")
                };
                path.push(key.clone());
                format!("duplicate key {key:?} in {within} (a key may occur once per object) at {at}")
            }
            JsonProblem::TooLong(n) => format!(
                "a string of {n} bytes, more than the maximum {max_string} (see --max-string-bytes), at {at}"
            ),
        };
        JsonError {
            field: if path.is_empty() {
                "(feature)".into()
            } else {
                path.join(".")
            },
            reason,
            line,
            column,
            problem,
        }
    })
}

#[derive(Clone, Copy)]
struct Strict<'a> {
    max_string: usize,
    fault: &'a RefCell<Fault>,
}

impl Strict<'_> {
    fn string<E: de::Error>(self, s: String) -> Result<Value, E> {
        self.check_len(&s)?;
        Ok(Value::String(s))
    }

    fn check_len<E: de::Error>(self, s: &str) -> Result<(), E> {
        if s.len() > self.max_string {
            self.fault.borrow_mut().kind = Some(Kind::TooLong(s.len()));
            return Err(E::custom("string too long"));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.check_len(v)?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.string(v)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            match seq.next_element_seed(self) {
                Ok(Some(v)) => out.push(v),
                Ok(None) => return Ok(Value::Array(out)),
                Err(e) => {
                    let mut f = self.fault.borrow_mut();
                    if f.kind.is_some() {
                        f.path.push(format!("[{}]", out.len()));
                    }
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            self.check_len(&key)?;
            match out.entry(key) {
                Entry::Occupied(e) => {
                    self.fault.borrow_mut().kind = Some(Kind::Duplicate(e.key().clone()));
                    return Err(de::Error::custom("duplicate key"));
                }
                Entry::Vacant(e) => match map.next_value_seed(self) {
                    Ok(v) => {
                        e.insert(v);
                    }
                    Err(err) => {
                        let mut f = self.fault.borrow_mut();
                        if f.kind.is_some() {
                            f.path.push(e.key().clone());
                        }
                        return Err(err);
                    }
                },
            }
        }
        Ok(Value::Object(out))
    }
}

impl Strict<'_> {
    /// Records `key` as repeated and fails.
    fn duplicate<E: de::Error>(self, key: String) -> E {
        self.fault.borrow_mut().kind = Some(Kind::Duplicate(key));
        E::custom("duplicate key")
    }

    /// Adds `member` to the fault's path when the error is one of ours.
    fn within(self, member: impl FnOnce() -> String) {
        let mut f = self.fault.borrow_mut();
        if f.kind.is_some() {
            f.path.push(member());
        }
    }
}

/// The top level of a feature: an object as its members but
/// `properties`, which [`PropsSeed`] reads; any other value is [`Strict`]'s.
struct Top<'a>(Strict<'a>);

/// A `properties` member: an object as its members in order, refusing a
/// repeated key as [`Strict`] does; any other value is [`Strict`]'s.
struct PropsSeed<'a>(Strict<'a>);

/// A key, borrowed from the text when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

/// Objects up to this many members find a repeated key by comparing the
/// keys; larger ones through a set of the keys' hashes (the keys compared
/// only when two hashes meet).
const FEW_KEYS: usize = 16;

/// The keys of one object read so far, to find a repeated one cheaply.
#[derive(Default)]
struct Keys {
    /// One bit per key, from its length and its first and last bytes, while
    /// the object is small: a key whose bit is not set yet is new without
    /// comparing it to any other.
    mask: u64,
    /// The keys' hashes, made once the object is no longer small.
    hashes: Option<rustc_hash::FxHashSet<u64>>,
}

impl Keys {
    /// Whether `key` is among the keys of `out` (those seen so far).
    fn repeated(&mut self, out: &Members<'_>, key: &str) -> bool {
        use std::hash::BuildHasher;
        if out.len() < FEW_KEYS {
            let b = key.as_bytes();
            let sig = b.len() * 31
                + 7 * usize::from(b.first().copied().unwrap_or(0))
                + usize::from(b.last().copied().unwrap_or(0));
            let bit = 1u64 << (sig % 64);
            let maybe = self.mask & bit != 0;
            self.mask |= bit;
            return maybe && out.iter().any(|(k, _)| k == key);
        }
        // Past that the mask is no longer read (an object only grows): the hashes answer.
        let hash = |k: &str| rustc_hash::FxBuildHasher.hash_one(k);
        let set = self
            .hashes
            .get_or_insert_with(|| out.iter().map(|(k, _)| hash(k)).collect());
        !set.insert(hash(key)) && out.iter().any(|(k, _)| k == key)
    }
}

/// Reads the value of `key` into `out`: refused when `key` is there already, and an
/// error within the value names `key`.
fn member<'de, A: MapAccess<'de>>(
    strict: Strict<'_>,
    map: &mut A,
    keys: &mut Keys,
    out: &mut Members<'de>,
    key: Cow<'de, str>,
) -> Result<(), A::Error> {
    if keys.repeated(out, &key) {
        return Err(strict.duplicate(key.into_owned()));
    }
    match map.next_value_seed(strict) {
        Ok(v) => {
            out.push((key, v));
            Ok(())
        }
        Err(err) => {
            strict.within(|| key.into_owned());
            Err(err)
        }
    }
}

/// Delegates the visits of every value but an object to [`Strict`].
macro_rules! other_values {
    ($wrap:expr) => {
        fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
            Ok($wrap(Value::Bool(v)))
        }

        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok($wrap(Value::Number(v.into())))
        }

        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok($wrap(Value::Number(v.into())))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            self.0.visit_f64(v).map($wrap)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            self.0.visit_str(v).map($wrap)
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            self.0.visit_string(v).map($wrap)
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }

        fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self.0).map($wrap)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            self.0.visit_seq(seq).map($wrap)
        }
    };
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = (Parsed<'de>, Option<Properties<'de>>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    other_values!(|v| (Parsed::Other(v), None));

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let strict = self.0;
        let mut out: Members<'de> = Vec::with_capacity(4);
        let mut keys = Keys::default();
        let mut props = None;
        while let Some(key) = map.next_key_seed(Key)? {
            strict.check_len(&key)?;
            if key == "properties" {
                if props.is_some() {
                    return Err(strict.duplicate(key.into_owned()));
                }
                match map.next_value_seed(PropsSeed(strict)) {
                    Ok(p) => props = Some(p),
                    Err(err) => {
                        strict.within(|| key.into_owned());
                        return Err(err);
                    }
                }
                continue;
            }
            member(strict, &mut map, &mut keys, &mut out, key)?;
        }
        Ok((Parsed::Object(out), props))
    }
}

impl<'de> DeserializeSeed<'de> for PropsSeed<'_> {
    type Value = Properties<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Properties<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PropsSeed<'_> {
    type Value = Properties<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    other_values!(Properties::Other);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Properties<'de>, A::Error> {
        let strict = self.0;
        let mut keys = Keys::default();
        let mut out: Members<'de> = Vec::with_capacity(32);
        while let Some(key) = map.next_key_seed(Key)? {
            strict.check_len(&key)?;
            member(strict, &mut map, &mut keys, &mut out, key)?;
        }
        Ok(Properties::Members(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The feature form gives the generic parse's value, with `properties`
    /// apart, and exactly its errors (field, reason, position), for every
    /// case below.
    #[test]
    fn the_feature_form_is_the_generic_parse() {
        // A feature whose properties have 20 keys, then `tail`.
        let many = |tail: &str| {
            let keys: Vec<String> = (0..20).map(|i| format!("\"k{i}\":{i}")).collect();
            format!("{{\"properties\":{{{}{tail}", keys.join(","))
        };
        let texts = [
            r#"{"type":"Feature","id":"a","geometry":null,"properties":{"b":1,"a":[1,{"x":null}],"c":"\u00e9"}}"#,
            r#"{"properties":null,"type":"Feature"}"#,
            r#"{"type":"Feature"}"#,
            r#"{"properties":[1,2],"id":3}"#,
            r#"{"properties":"x"}"#,
            r#"{"properties":{}}"#,
            r#"[1,2,{"properties":{"a":1,"a":2}}]"#,
            r#""just a string""#,
            r#"12.5"#,
            r#"null"#,
            r#"true"#,
            r#"{"properties":{"a":1},"properties":{"b":2}}"#,
            r#"{"properties":{"a":1},"x":1,"properties":null}"#,
            r#"{"properties":{"classification":"x","n":{"a":1,"a":2}}}"#,
            r#"{"properties":{"classification":"x","y":2,"classification":"public"}}"#,
            r#"{"properties":{"0123456789abcdef":1}}"#,
            r#"{"properties":{"a":"0123456789abcdef"}}"#,
            r#"{"properties":{"a":[1,"0123456789abcdef"]}}"#,
            r#"{"0123456789abcdef":1}"#,
            r#"{"type":"Feature","type":"Feature"}"#,
            r#"{"properties":{"a":1e999}}"#,
            r#"{"properties":{"a":1,}}"#,
            r#"{"properties":{"a":1}"#,
            r#"{"properties":{"a":1}} x"#,
            r#"{"geometry":{"type":"Point","coordinates":[1,2],"type":"x"},"properties":{}}"#,
            "{\n\"properties\": {\n  \"a\": 1,\n  \"a\": 2}}",
            // Beyond the few keys compared one by one: through the hashes.
            &many(",\"k3\":0}}"),
            &many("}}"),
            &format!("{{{}}}", &many(",\"k19\":{\"k1\":1,\"k1\":2}}")[15..]),
            r#"{"properties":{"\u0061":1,"a":2}}"#,
            r#"{"\u0070roperties":{"a":1},"properties":{}}"#,
        ];
        let start = Some(TextPos { line: 4, column: 9 });
        for text in texts {
            let text: &str = text;
            for at in [None, start] {
                let generic = parse_at(text, 15, at);
                let feature = parse_feature_at(text, 15, at);
                match (generic, feature) {
                    (Ok(g), Ok((top, props))) => {
                        let object = |m: Members<'_>| {
                            Value::Object(m.into_iter().map(|(k, v)| (k.into_owned(), v)).collect())
                        };
                        let mut v = match top {
                            Parsed::Object(m) => object(m),
                            Parsed::Other(v) => v,
                        };
                        let props = props.map(|p| match p {
                            Properties::Members(m) => object(m),
                            Properties::Other(v) => v,
                        });
                        if let (Value::Object(o), Some(p)) = (&mut v, props) {
                            o.insert("properties".into(), p);
                        }
                        // Maps compare whatever their order.
                        assert_eq!(g, v, "{text}");
                    }
                    (Err(g), Err(f)) => assert_eq!(g, f, "{text}"),
                    (g, f) => panic!("{text}: {g:?} vs {f:?}"),
                }
            }
        }
        // The members keep their order, not a sorted one.
        let (_, p) =
            parse_feature_at(r#"{"properties":{"z":1,"a":2,"m":3}}"#, 100, None).expect("valid");
        let Some(Properties::Members(m)) = p else {
            panic!("{p:?}")
        };
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn same_value_as_serde_json() {
        let text =
            r#"{"a":[1,-2,3.5,1e300,true,null,"x\u00e9"],"b":{"c":{}},"d":18446744073709551615}"#;
        let want: Value = serde_json::from_str(text).expect("json");
        assert_eq!(parse(text, 100).expect("strict"), want);
    }

    #[test]
    fn duplicate_keys_are_named_wherever_they_are() {
        let e = parse(
            r#"{"type":"Feature","properties":{"classification":"strictly-confidential","x":1,"classification":"public"}}"#,
            100,
        )
        .unwrap_err();
        assert_eq!(e.field, "properties.classification");
        assert!(
            e.reason
                .contains("duplicate key \"classification\" in properties"),
            "{}",
            e.reason
        );
        assert_eq!((e.line, e.column), (1, 95));
        let e = parse(
            r#"{"geometry":{"type":"Point","coordinates":[1,2]},"geometry":null}"#,
            100,
        )
        .unwrap_err();
        assert_eq!(e.field, "geometry");
        assert!(e.reason.contains("in the feature"), "{}", e.reason);
        let e = parse(r#"{"a":[{"b":1},{"b":2,"b":3}]}"#, 100).unwrap_err();
        assert_eq!(e.field, "a.[1].b");
        // Syntax errors are as serde_json gives them.
        let e = parse(r#"{"a":1e999}"#, 100).unwrap_err();
        assert_eq!(e.field, "(feature)");
        assert!(
            e.reason.contains("number out of range at line 1 column"),
            "{}",
            e.reason
        );
        assert!(e.reason.ends_with("of the feature"), "{}", e.reason);
        // With the feature's start in the input, positions are the input's:
        // the first line shifts by the start column, later lines do not.
        let start = Some(TextPos { line: 7, column: 5 });
        let e = parse_at(r#"{"a":1e999}"#, 100, start).unwrap_err();
        assert_eq!((e.line, e.column), (7, 5 + 10 - 1));
        assert!(
            e.reason.ends_with("line 7 column 14 of the input"),
            "{}",
            e.reason
        );
        let e = parse_at("{\n\"a\":1,\n  \"a\":2}", 100, start).unwrap_err();
        assert_eq!(e.line, 9);
        assert!(e.reason.contains("duplicate key"), "{}", e.reason);
        assert!(parse("{\"a\":NaN}", 100).is_err());
    }

    #[test]
    fn a_repeated_key_is_found_in_objects_of_every_size() {
        // Keys that share length and first and last bytes share a bit of the
        // mask, so the comparison behind it is exercised as well.
        let pool = [
            "ab", "ax", "aab", "acb", "adb", "b", "", "key_a", "key_b", "kez_a",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for round in 0..2_000 {
            let n = 1 + next(40);
            let mut keys: Vec<String> = (0..n)
                .map(|i| format!("{}{}", pool[next(pool.len())], i % (1 + next(30))))
                .collect();
            if round % 3 == 0 {
                let (a, b) = (next(n), next(n));
                keys[a] = keys[b].clone();
            }
            let unique = keys.iter().collect::<std::collections::HashSet<_>>().len() == n;
            let body: Vec<String> = keys.iter().map(|k| format!("\"{k}\":1")).collect();
            let text = format!("{{\"properties\":{{{}}}}}", body.join(","));
            assert_eq!(parse(&text, 100).is_ok(), unique, "{text}");
        }
    }

    #[test]
    fn long_strings_are_refused() {
        assert!(parse(r#"{"narrative":"0123456789"}"#, 10).is_ok());
        let e = parse(r#"{"properties":{"narrative":"0123456789a"}}"#, 10).unwrap_err();
        assert_eq!(e.field, "properties.narrative");
        assert!(e.reason.contains("11 bytes"), "{}", e.reason);
        // Keys too.
        assert!(parse(r#"{"0123456789a":1}"#, 10).is_err());
    }
}
