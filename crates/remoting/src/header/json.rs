//! The JSON header (serialize type 0), as fastjson writes and reads `RemotingCommand`.
//!
//! Java emits the properties sorted by name, omits nulls and writes the language by name:
//!
//! ```text
//! {"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":3,"serializeTypeCurrentRPC":"JSON","version":479}
//! ```
//!
//! The encoder reproduces that byte for byte. The decoder is as forgiving as fastjson: unknown
//! properties are ignored, properties may come in any order or repeat (last wins), numbers may be
//! quoted, `null` means "absent", an unknown language name is not an error, and `extFields` values
//! may be numbers or booleans.

use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::command::{ExtFields, RemotingCommand};
use crate::error::DecodeError;
use crate::header::SerializeType;
use crate::language::LanguageCode;

/// Decodes a complete JSON header area.
///
/// The object is read in one pass straight into the command: `extFields` entries become the map's
/// strings as they are parsed, and only the few top-level scalars pass through a [`Value`]. (Parsing
/// the whole header into a `Value` first, then copying its `extFields` into the map, cost about as
/// much as the rest of a send request's handling.)
///
/// # Errors
/// `InvalidJson` when the text is not a JSON object, `BadField` when a known property has a value of
/// the wrong type.
pub fn decode(header: &[u8]) -> Result<RemotingCommand, DecodeError> {
    let raw: RawHeader =
        serde_json::from_slice(header).map_err(|e| DecodeError::InvalidJson(e.to_string()))?;
    let ext_fields = match raw.ext_fields {
        None => ExtFields::new(),
        Some(RawExt::Map(map)) => map,
        Some(RawExt::Other(v)) => return Err(bad("extFields", &v)),
    };
    Ok(RemotingCommand {
        code: int_field(raw.code.as_ref(), "code")?,
        language: language_field(raw.language.as_ref())?,
        // A missing version reads as 0 in Java (the field's default).
        version: int_field(raw.version.as_ref(), "version")?,
        opaque: int_field(raw.opaque.as_ref(), "opaque")?,
        flag: int_field(raw.flag.as_ref(), "flag")?,
        remark: present(raw.remark.as_ref()).map(scalar_text),
        ext_fields,
        body: None,
        serialize_type: SerializeType::Json,
    })
}

/// The properties of a header object this decoder reads; a repeated property keeps its last value
/// (as a JSON object parsed into a map would), unknown ones are skipped unparsed.
#[derive(Default)]
struct RawHeader {
    code: Option<Value>,
    language: Option<Value>,
    version: Option<Value>,
    opaque: Option<Value>,
    flag: Option<Value>,
    remark: Option<Value>,
    ext_fields: Option<RawExt>,
}

/// A top-level property name, matched without copying it.
enum Key {
    Code,
    Language,
    Version,
    Opaque,
    Flag,
    Remark,
    ExtFields,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a property name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "code" => Key::Code,
                    "language" => Key::Language,
                    "version" => Key::Version,
                    "opaque" => Key::Opaque,
                    "flag" => Key::Flag,
                    "remark" => Key::Remark,
                    "extFields" => Key::ExtFields,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// `extFields`: an object read straight into the map (null values dropped: a Java null is an absent
/// field), `null`, or anything else, kept for the error.
enum RawExt {
    Map(ExtFields),
    Other(Value),
}

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;
        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = RawHeader;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
                let mut h = RawHeader::default();
                while let Some(key) = map.next_key::<Key>()? {
                    let slot = match key {
                        Key::Code => &mut h.code,
                        Key::Language => &mut h.language,
                        Key::Version => &mut h.version,
                        Key::Opaque => &mut h.opaque,
                        Key::Flag => &mut h.flag,
                        Key::Remark => &mut h.remark,
                        Key::ExtFields => {
                            h.ext_fields = map.next_value::<Option<RawExt>>()?;
                            continue;
                        }
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value::<Value>()?);
                }
                Ok(h)
            }
        }
        d.deserialize_map(HeaderVisitor)
    }
}

impl<'de> Deserialize<'de> for RawExt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ExtVisitor;
        impl<'de> Visitor<'de> for ExtVisitor {
            type Value = RawExt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the extFields object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawExt, A::Error> {
                let mut out = ExtFields::new();
                while let Some(key) = map.next_key::<String>()? {
                    match map.next_value::<ExtText>()?.0 {
                        Some(text) => {
                            out.insert(key, text);
                        }
                        None => {
                            out.remove(&key);
                        }
                    }
                }
                Ok(RawExt::Map(out))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawExt, E> {
                Ok(RawExt::Other(Value::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawExt, E> {
                Ok(RawExt::Other(Value::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawExt, E> {
                Ok(RawExt::Other(Value::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawExt, E> {
                Ok(RawExt::Other(Value::from(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawExt, E> {
                Ok(RawExt::Other(Value::String(v.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawExt, A::Error> {
                Value::deserialize(SeqAccessDeserializer::new(seq)).map(RawExt::Other)
            }
        }
        d.deserialize_any(ExtVisitor)
    }
}

/// An `extFields` value as the string a custom header reads (see [`scalar_text`]); `None` for null.
struct ExtText(Option<String>);

impl<'de> Deserialize<'de> for ExtText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = ExtText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExtText, E> {
                Ok(ExtText(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ExtText, E> {
                Ok(ExtText(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ExtText, E> {
                Ok(ExtText(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ExtText, E> {
                Ok(ExtText(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExtText, E> {
                Ok(ExtText(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ExtText, E> {
                // The JSON text of the number, as the value form writes it.
                Ok(ExtText(Some(Value::from(v).to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ExtText, E> {
                Ok(ExtText(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<ExtText, E> {
                Ok(ExtText(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ExtText, A::Error> {
                let v = Value::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(ExtText(Some(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ExtText, A::Error> {
                let v = Value::deserialize(MapAccessDeserializer::new(map))?;
                Ok(ExtText(Some(v.to_string())))
            }
        }
        d.deserialize_any(TextVisitor)
    }
}

/// A property that is present and not `null`.
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn bad(name: &'static str, v: &Value) -> DecodeError {
    DecodeError::BadField {
        name,
        value: v.to_string(),
    }
}

/// An `int` property: a JSON integer, an integral float or a decimal string, as fastjson accepts.
/// Absent or `null` is 0, the Java field default.
fn int_field(v: Option<&Value>, name: &'static str) -> Result<i32, DecodeError> {
    let Some(v) = present(v) else {
        return Ok(0);
    };
    let parsed = match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => i32::try_from(i).ok(),
            None => n.as_f64().and_then(integral_i32),
        },
        Value::String(s) => s.trim().parse::<i32>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| bad(name, v))
}

/// `105.0` → 105; fractional or out-of-range values are rejected.
fn integral_i32(f: f64) -> Option<i32> {
    let in_range = (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&f);
    #[allow(clippy::cast_possible_truncation)] // integral and range-checked just above
    let i = f as i32;
    (in_range && f.fract() == 0.0).then_some(i)
}

/// The language: a Java constant name, or a code number (fastjson maps integers to enums by ordinal,
/// which equals the code for this enum). An unknown name becomes `OTHER` (Java: `null`).
fn language_field(v: Option<&Value>) -> Result<LanguageCode, DecodeError> {
    let Some(v) = present(v) else {
        return Ok(LanguageCode::Java);
    };
    match v {
        Value::String(s) => Ok(LanguageCode::from_name(s).unwrap_or(LanguageCode::Other)),
        Value::Number(n) => n
            .as_u64()
            .and_then(|c| u8::try_from(c).ok())
            .map(LanguageCode::from)
            .ok_or_else(|| bad("language", v)),
        _ => Err(bad("language", v)),
    }
}

/// Text of a scalar: strings as they are, numbers and booleans as their JSON text (fastjson converts
/// them the same way when the target is a `String`). Arrays and objects keep their JSON text too.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The properties Java writes, in fastjson's (alphabetical) order.
#[derive(Serialize)]
struct JsonHeader<'a> {
    code: i32,
    #[serde(rename = "extFields", skip_serializing_if = "ExtFields::is_empty")]
    ext_fields: &'a ExtFields,
    flag: i32,
    language: JsonLanguage,
    opaque: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    remark: Option<&'a str>,
    #[serde(rename = "serializeTypeCurrentRPC")]
    serialize_type: &'static str,
    version: i32,
}

/// Known languages by name; an unknown code as its number, which fastjson maps back by ordinal.
struct JsonLanguage(LanguageCode);

impl Serialize for JsonLanguage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.name() {
            Some(name) => s.serialize_str(name),
            None => s.serialize_u8(self.0.code()),
        }
    }
}

/// Appends the JSON header of `cmd`.
///
/// # Panics
/// Never: the header holds only integers and strings, written into memory.
pub fn encode(cmd: &RemotingCommand, out: &mut BytesMut) {
    let header = JsonHeader {
        code: cmd.code,
        ext_fields: &cmd.ext_fields,
        flag: cmd.flag,
        language: JsonLanguage(cmd.language),
        opaque: cmd.opaque,
        remark: cmd.remark.as_deref(),
        serialize_type: SerializeType::Json.name(),
        version: cmd.version,
    };
    // Writing plain integers and strings into memory cannot fail: there are no non-string map keys,
    // no custom serializers that error, and the writer is infallible.
    serde_json::to_writer(out.writer(), &header).expect("JSON header serialization is infallible");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_what_other_writers_emit() {
        let text = br#"{"version":"479","code":105.0,"opaque":7,"flag":0,"language":"NOPE",
            "remark":null,"extFields":{"topic":"T","queueId":3,"order":true,"gone":null},
            "serializeTypeCurrentRPC":"JSON","somethingNew":[1,2],"opaque":8}"#;
        let cmd = decode(text).expect("lenient decode");
        assert_eq!(cmd.code, 105);
        assert_eq!(cmd.version, 479);
        assert_eq!(cmd.opaque, 8, "a repeated property: last one wins");
        assert_eq!(cmd.language, LanguageCode::Other);
        assert_eq!(cmd.remark, None);
        assert_eq!(cmd.ext("queueId"), Some("3"));
        assert_eq!(cmd.ext("order"), Some("true"));
        assert_eq!(cmd.ext("gone"), None);
    }

    #[test]
    fn ext_fields_keep_the_last_value_and_the_text_of_nested_values() {
        let text = br#"{"extFields":{"a":"x","a":null,"b":null,"b":"y","n":[1,{"k":2}],
            "o":{"k":"v"},"f":1.5,"big":18446744073709551615,"neg":-3},"remark":"r","remark":null,
            "extFields2":{"ignored":1},"code":"12"}"#;
        let cmd = decode(text).expect("decodes");
        assert_eq!(cmd.ext("a"), None, "a later null removes the value");
        assert_eq!(cmd.ext("b"), Some("y"));
        assert_eq!(cmd.ext("n"), Some(r#"[1,{"k":2}]"#));
        assert_eq!(cmd.ext("o"), Some(r#"{"k":"v"}"#));
        assert_eq!(cmd.ext("f"), Some("1.5"));
        assert_eq!(cmd.ext("big"), Some("18446744073709551615"));
        assert_eq!(cmd.ext("neg"), Some("-3"));
        assert_eq!(cmd.ext_fields.len(), 6);
        assert_eq!(cmd.remark, None);
        assert_eq!(cmd.code, 12);
        for bad_ext in [
            &br#"{"extFields":"x"}"#[..],
            br#"{"extFields":3}"#,
            br#"{"extFields":true}"#,
        ] {
            assert!(
                matches!(
                    decode(bad_ext),
                    Err(DecodeError::BadField {
                        name: "extFields",
                        ..
                    })
                ),
                "{}",
                String::from_utf8_lossy(bad_ext)
            );
        }
        let cmd = decode(br#"{"extFields":null,"language":null}"#).expect("nulls are absent");
        assert!(cmd.ext_fields.is_empty());
        assert_eq!(cmd.language, LanguageCode::Java);
        assert!(matches!(
            decode(br#"{"code":1} x"#),
            Err(DecodeError::InvalidJson(_))
        ));
    }

    #[test]
    fn missing_properties_take_java_defaults() {
        let cmd = decode(b"{}").expect("empty object is a valid header");
        assert_eq!(cmd.code, 0);
        assert_eq!(cmd.version, 0);
        assert_eq!(cmd.language, LanguageCode::Java);
        assert!(cmd.ext_fields.is_empty());
    }

    #[test]
    fn rejects_non_objects_and_out_of_range_numbers() {
        assert!(matches!(decode(b"[1]"), Err(DecodeError::InvalidJson(_))));
        assert!(matches!(
            decode(b"{\"code\":"),
            Err(DecodeError::InvalidJson(_))
        ));
        assert!(matches!(
            decode(br#"{"code":4294967296}"#),
            Err(DecodeError::BadField { name: "code", .. })
        ));
        assert!(matches!(
            decode(br#"{"extFields":[]}"#),
            Err(DecodeError::BadField {
                name: "extFields",
                ..
            })
        ));
    }

    #[test]
    fn unknown_language_code_survives_as_a_number() {
        let cmd = RemotingCommand {
            language: LanguageCode::Unknown(42),
            ..RemotingCommand::default()
        };
        let mut out = BytesMut::new();
        encode(&cmd, &mut out);
        assert!(std::str::from_utf8(&out)
            .expect("utf8")
            .contains("\"language\":42"));
        assert_eq!(
            decode(&out).expect("decodes").language,
            LanguageCode::Unknown(42)
        );
    }
}
