//! JSON bodies as Java writes and reads them (fastjson 1.2.83).
//!
//! We always **emit** standard JSON; Java accepts it. We **accept** what fastjson emits by default,
//! which is not always standard JSON: map keys that are numbers (`{0:"10.0.0.1:10911"}`) or objects
//! (`{{"brokerName":"b","queueId":0,"topic":"T"}:5}`) are written unquoted. When standard parsing
//! fails, [`normalise`] rewrites such keys into JSON strings (an object key becomes a string holding
//! its JSON text) and parsing is retried; integer-keyed maps then deserialize from the quoted keys.
//!
//! Other fastjson leniencies handled by the helpers below: `null` for a collection, unknown enum
//! names (Java reads them as `null`), and longs written as strings.

use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// A body carried as JSON. Decoding is tolerant of fastjson output; encoding is standard JSON.
pub trait JsonBody: Serialize + DeserializeOwned {
    /// Parses a body as a Java peer (or any JSON writer) sends it.
    ///
    /// # Errors
    /// `InvalidJson` with the parser's message.
    fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }

    /// Standard JSON, with numeric map keys quoted.
    fn to_json(&self) -> Bytes {
        encode(self)
    }
}

/// Parses JSON, retrying once after [`normalise`] if the text is not standard JSON.
///
/// # Errors
/// `InvalidJson` when neither the text nor its normalised form parses into `T`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(first) => match normalise(bytes) {
            Some(fixed) => {
                serde_json::from_slice(&fixed).map_err(|e| DecodeError::InvalidJson(e.to_string()))
            }
            None => Err(DecodeError::InvalidJson(first.to_string())),
        },
    }
}

/// Standard JSON for a body type.
///
/// # Panics
/// Never for the body types of this crate: they contain only strings, integers, booleans, sequences
/// and maps keyed by strings or integers, which `serde_json` always serializes into memory.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("body types always serialize to JSON"))
}

#[derive(Debug, Clone, Copy)]
enum Container {
    Object { expect_key: bool },
    Array,
}

/// Rewrites unquoted object keys into JSON strings; `None` when there was nothing to rewrite or the
/// text is too broken to tell keys apart (an unterminated string or an unbalanced key).
///
/// Works on bytes with an explicit stack, so hostile nesting cannot overflow the call stack; the
/// depth limit of `serde_json` applies when the result is parsed.
#[must_use]
pub fn normalise(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() + 32);
    let mut stack: Vec<Container> = Vec::new();
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if let Some(Container::Object { expect_key }) = stack.last_mut() {
            if *expect_key && !b.is_ascii_whitespace() && b != b'}' {
                *expect_key = false;
                let end = match b {
                    b'"' => {
                        let end = string_end(input, i)?;
                        out.extend_from_slice(input.get(i..end)?);
                        end
                    }
                    b'{' | b'[' => {
                        let end = balanced_end(input, i)?;
                        push_json_string(&mut out, input.get(i..end)?)?;
                        changed = true;
                        end
                    }
                    _ => {
                        let end = bare_end(input, i);
                        if end == i {
                            return None;
                        }
                        push_json_string(&mut out, input.get(i..end)?)?;
                        changed = true;
                        end
                    }
                };
                i = end;
                continue;
            }
        }
        match b {
            b'"' => {
                let end = string_end(input, i)?;
                out.extend_from_slice(input.get(i..end)?);
                i = end;
                continue;
            }
            b'{' => stack.push(Container::Object { expect_key: true }),
            b'[' => stack.push(Container::Array),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Container::Object { expect_key }) = stack.last_mut() {
                    *expect_key = true;
                }
            }
            _ => {}
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

/// Index just past the string starting with the quote at `start`.
fn string_end(input: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while let Some(&b) = input.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Index just past the object or array starting at `start`.
fn balanced_end(input: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while let Some(&b) = input.get(i) {
        match b {
            b'"' => {
                i = string_end(input, i)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index just past a bare key token (a number or an identifier).
fn bare_end(input: &[u8], start: usize) -> usize {
    let mut i = start;
    while let Some(&b) = input.get(i) {
        if b.is_ascii_whitespace() || matches!(b, b':' | b',' | b'}' | b']') {
            break;
        }
        i += 1;
    }
    i
}

fn push_json_string(out: &mut Vec<u8>, raw: &[u8]) -> Option<()> {
    let text = std::str::from_utf8(raw).ok()?;
    serde_json::to_writer(out, text).ok()
}

/// `#[serde(deserialize_with)]`: `null` reads as the default (fastjson leaves the field's
/// initialiser in place; other writers emit explicit nulls for empty collections).
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `#[serde(deserialize_with)]`: an enum name Java does not know reads as `None`, as fastjson maps
/// it to `null`, instead of failing the whole body.
pub(crate) fn lenient_enum<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

/// `#[serde(deserialize_with)]`: a long as a JSON number or a decimal string (fastjson's
/// `BrowserCompatible` output writes longs beyond 2^53 as strings); `null` reads as 0.
pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(LenientI64(PhantomData))
}

struct LenientI64(PhantomData<i64>);

impl Visitor<'_> for LenientI64 {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a decimal string")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom("integer out of range for a long"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        v.trim()
            .parse()
            .map_err(|_| E::custom(format!("not a long: {v:?}")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn quotes_numeric_and_identifier_keys() {
        let fixed = normalise(br#"{0:"a", -1 : "b",x:{1:2}}"#).expect("rewritten");
        assert_eq!(
            std::str::from_utf8(&fixed).expect("utf8"),
            r#"{"0":"a", "-1" : "b","x":{"1":2}}"#
        );
        let m: BTreeMap<i64, String> = decode(br#"{0:"a",1:"b"}"#).expect("parses");
        assert_eq!(m.get(&1).map(String::as_str), Some("b"));
    }

    #[test]
    fn object_keys_become_strings_of_their_json() {
        let text = br#"{{"brokerName":"b","queueId":0,"topic":"T"}:5,{"brokerName":"c","queueId":1,"topic":"T"}:6}"#;
        let m: BTreeMap<String, i64> = decode(text).expect("parses");
        assert_eq!(
            m.get(r#"{"brokerName":"b","queueId":0,"topic":"T"}"#),
            Some(&5)
        );
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn leaves_standard_json_and_strings_alone() {
        assert_eq!(normalise(br#"{"a":"{0:1}","b":[1,{"c":2}]}"#), None);
    }

    #[test]
    fn gives_up_on_broken_text() {
        assert_eq!(normalise(br#"{"a"#), None);
        assert_eq!(normalise(br#"{{"a":1"#), None);
        assert!(decode::<BTreeMap<String, String>>(b"{,}").is_err());
    }

    #[derive(Debug, Deserialize)]
    struct Lenient {
        #[serde(default, deserialize_with = "lenient_i64")]
        n: i64,
        #[serde(default, deserialize_with = "null_as_default")]
        v: Vec<i32>,
    }

    #[test]
    fn lenient_helpers() {
        let l: Lenient = decode(br#"{"n":"9007199254740993","v":null}"#).expect("parses");
        assert_eq!(l.n, 9_007_199_254_740_993);
        assert!(l.v.is_empty());
        let l: Lenient = decode(br#"{"n":null}"#).expect("parses");
        assert_eq!(l.n, 0);
    }
}
