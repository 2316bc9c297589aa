//! The ROCKETMQ binary header (`RocketMQSerializable`), serialize type 1.
//!
//! ```text
//! off  size  field
//!   0  2     code      i16 (codes above 32767 cannot be carried)
//!   2  1     language  code byte
//!   3  2     version   i16
//!   5  4     opaque    i32
//!   9  4     flag      i32
//!  13  4     remark length (0 = no remark), then the UTF-8 remark
//!   …  4     extFields area length (≤ 0 = none), then entries:
//!            i16 key length, key, i32 value length, value   (all UTF-8)
//! ```
//!
//! Java reads a zero-length string as `null`, so empty remarks and entries with an empty key or value
//! do not survive this encoding; the decoder drops such entries as Java's header mapping would.

use bytes::{BufMut, BytesMut};

use crate::command::{ExtFields, RemotingCommand};
use crate::cursor::Cursor;
use crate::error::{DecodeError, EncodeError};
use crate::language::LanguageCode;

/// Bytes of the fixed part: code, language, version, opaque, flag, remark length, ext length.
const FIXED_LEN: usize = 2 + 1 + 2 + 4 + 4 + 4 + 4;

/// Decodes a complete ROCKETMQ header area.
///
/// Bytes after the extFields area are ignored, as Java does.
///
/// # Errors
/// `Truncated`/`NegativeLength` when a length points outside the header, `InvalidUtf8` for bad text.
pub fn decode(header: &[u8]) -> Result<RemotingCommand, DecodeError> {
    let mut c = Cursor::new(header);
    // Java reads these as `short` and widens with sign extension; do the same so a re-encode is exact.
    let code = i32::from(c.i16("header code")?);
    let language = LanguageCode::from(c.u8("header language")?);
    let version = i32::from(c.i16("header version")?);
    let opaque = c.i32("header opaque")?;
    let flag = c.i32("header flag")?;
    let remark_len = c.len_i32("header remark")?;
    let remark = match remark_len {
        0 => None,
        n => Some(c.str(n, "header remark")?.to_owned()),
    };
    // Java skips the map for any non-positive length rather than failing.
    let ext_len = c.i32("header extFields length")?;
    let ext_fields = match usize::try_from(ext_len) {
        Ok(n) if n > 0 => decode_map(c.take(n, "header extFields")?)?,
        _ => ExtFields::new(),
    };
    Ok(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields,
        body: None,
        serialize_type: crate::header::SerializeType::RocketMq,
    })
}

fn decode_map(area: &[u8]) -> Result<ExtFields, DecodeError> {
    let mut c = Cursor::new(area);
    let mut map = ExtFields::new();
    while c.remaining() > 0 {
        let key_len = c.len_i16("extFields key")?;
        let key = c.str(key_len, "extFields key")?;
        let val_len = c.len_i32("extFields value")?;
        let value = c.str(val_len, "extFields value")?;
        // A zero length is Java's null; a null key or value never reaches a custom header.
        if !key.is_empty() && !value.is_empty() {
            map.insert(key.to_owned(), value.to_owned());
        }
    }
    Ok(map)
}

/// Appends the ROCKETMQ header of `cmd`.
///
/// # Errors
/// `DoesNotFitI16` for a code or version outside `i16`, `KeyTooLong` for a key over 32767 bytes,
/// `HeaderTooLarge` when a length overflows `i32`.
pub fn encode(cmd: &RemotingCommand, out: &mut BytesMut) -> Result<(), EncodeError> {
    let code = i16::try_from(cmd.code).map_err(|_| EncodeError::DoesNotFitI16 {
        field: "code",
        value: cmd.code,
    })?;
    let version = i16::try_from(cmd.version).map_err(|_| EncodeError::DoesNotFitI16 {
        field: "version",
        value: cmd.version,
    })?;
    let remark = cmd.remark.as_deref().unwrap_or("");
    let ext_len = map_len(&cmd.ext_fields)?;
    out.reserve(FIXED_LEN + remark.len() + ext_len);
    out.put_i16(code);
    out.put_u8(cmd.language.code());
    out.put_i16(version);
    out.put_i32(cmd.opaque);
    out.put_i32(cmd.flag);
    out.put_i32(len_i32(remark.len())?);
    out.put_slice(remark.as_bytes());
    out.put_i32(len_i32(ext_len)?);
    for (k, v) in &cmd.ext_fields {
        // `map_len` already checked the key fits.
        out.put_i16(i16::try_from(k.len()).map_err(|_| EncodeError::KeyTooLong { len: k.len() })?);
        out.put_slice(k.as_bytes());
        out.put_i32(len_i32(v.len())?);
        out.put_slice(v.as_bytes());
    }
    Ok(())
}

fn map_len(map: &ExtFields) -> Result<usize, EncodeError> {
    map.iter().try_fold(0usize, |acc, (k, v)| {
        if i16::try_from(k.len()).is_err() {
            return Err(EncodeError::KeyTooLong { len: k.len() });
        }
        acc.checked_add(2 + k.len() + 4 + v.len())
            .ok_or(EncodeError::HeaderTooLarge { len: usize::MAX })
    })
}

fn len_i32(len: usize) -> Result<i32, EncodeError> {
    i32::try_from(len).map_err(|_| EncodeError::HeaderTooLarge { len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_lengths_past_the_header() {
        let mut h = vec![0, 105, 0, 1, 0xdf, 0, 0, 0, 3, 0, 0, 0, 0];
        h.extend_from_slice(&100i32.to_be_bytes()); // remark of 100 bytes, none present
        assert!(matches!(decode(&h), Err(DecodeError::Truncated { .. })));
        let mut h2 = h[..13].to_vec();
        h2.extend_from_slice(&(-5i32).to_be_bytes());
        assert!(matches!(
            decode(&h2),
            Err(DecodeError::NegativeLength { .. })
        ));
    }

    #[test]
    fn empty_entries_are_dropped_like_java_nulls() {
        let mut h = vec![0, 10, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let entries: &[u8] = &[0, 1, b'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'x'];
        h.extend_from_slice(&i32::try_from(entries.len()).expect("small").to_be_bytes());
        h.extend_from_slice(entries);
        let cmd = decode(&h).expect("valid header");
        assert!(cmd.ext_fields.is_empty());
        assert_eq!(cmd.remark, None);
    }

    #[test]
    fn codes_above_i16_are_refused() {
        let cmd = RemotingCommand::request(200_050);
        let mut out = BytesMut::new();
        assert_eq!(
            encode(&cmd, &mut out),
            Err(EncodeError::DoesNotFitI16 {
                field: "code",
                value: 200_050
            })
        );
    }
}
