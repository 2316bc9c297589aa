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

use bytes::{BufMut, BytesMut};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::command::{ExtFields, RemotingCommand};
use crate::error::DecodeError;
use crate::header::SerializeType;
use crate::language::LanguageCode;

/// Decodes a complete JSON header area.
///
/// # Errors
/// `InvalidJson` when the text is not a JSON object, `BadField` when a known property has a value of
/// the wrong type.
pub fn decode(header: &[u8]) -> Result<RemotingCommand, DecodeError> {
    let value: Value =
        serde_json::from_slice(header).map_err(|e| DecodeError::InvalidJson(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(DecodeError::InvalidJson(
            "header is not a JSON object".into(),
        ));
    };
    Ok(RemotingCommand {
        code: int_field(&obj, "code")?,
        language: language_field(&obj)?,
        // A missing version reads as 0 in Java (the field's default).
        version: int_field(&obj, "version")?,
        opaque: int_field(&obj, "opaque")?,
        flag: int_field(&obj, "flag")?,
        remark: present(&obj, "remark").map(scalar_text),
        ext_fields: ext_fields(&obj)?,
        body: None,
        serialize_type: SerializeType::Json,
    })
}

/// A property that is present and not `null`.
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn bad(name: &'static str, v: &Value) -> DecodeError {
    DecodeError::BadField {
        name,
        value: v.to_string(),
    }
}

/// An `int` property: a JSON integer, an integral float or a decimal string, as fastjson accepts.
/// Absent or `null` is 0, the Java field default.
fn int_field(obj: &Map<String, Value>, name: &'static str) -> Result<i32, DecodeError> {
    let Some(v) = present(obj, name) else {
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
fn language_field(obj: &Map<String, Value>) -> Result<LanguageCode, DecodeError> {
    let Some(v) = present(obj, "language") else {
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

fn ext_fields(obj: &Map<String, Value>) -> Result<ExtFields, DecodeError> {
    let Some(v) = present(obj, "extFields") else {
        return Ok(ExtFields::new());
    };
    let Value::Object(map) = v else {
        return Err(bad("extFields", v));
    };
    let mut out = ExtFields::new();
    for (k, v) in map {
        // A null value is a Java null: the custom header sees the field as absent.
        if !v.is_null() {
            out.insert(k.clone(), scalar_text(v));
        }
    }
    Ok(out)
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
