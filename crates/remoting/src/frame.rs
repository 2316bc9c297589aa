//! Splitting a byte stream into frames, and writing frames.
//!
//! ```text
//! +-------------+---------------------------+------------------+--------------+
//! | length: i32 | type << 24 | header_len   | header           | body         |
//! |             |  (i32, big-endian)        | header_len bytes | the rest     |
//! +-------------+---------------------------+------------------+--------------+
//!   length = 4 + header_len + body_len  (bytes after the length field)
//! ```
//!
//! The decoder validates the two leading integers as soon as they are available, before waiting for
//! (or allocating) the rest, so an oversized or garbled frame is refused after 8 bytes.

use bytes::{BufMut, Bytes, BytesMut};

use crate::command::RemotingCommand;
use crate::error::{DecodeError, EncodeError};
use crate::header::{self, SerializeType};

/// Bytes of the length field.
pub const LENGTH_FIELD_LEN: usize = 4;
/// Bytes of the length field plus the header-length field.
pub const PREFIX_LEN: usize = 8;
/// Java's `com.rocketmq.remoting.frameMaxLength` default: 16 MiB, counting the length field.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;
/// The header length is a 24-bit field.
pub const MAX_HEADER_LEN: usize = 0x00FF_FFFF;

/// Size limits enforced by the decoder before it allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted frame, length field included (Java's `LengthFieldBasedFrameDecoder` counts
    /// it the same way). Java peers refuse frames above 16 MiB, so larger values only help between
    /// ferromq processes.
    pub max_frame_len: usize,
    /// Largest accepted header. Java bounds it only by the frame and the 24-bit field.
    pub max_header_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_header_len: MAX_HEADER_LEN,
        }
    }
}

/// What the 8-byte prefix of a frame says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Prefix {
    /// Whole frame, length field included.
    frame_len: usize,
    header_len: usize,
    serialize_type: SerializeType,
}

fn be_i32(b: &[u8]) -> Option<i32> {
    let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(a))
}

/// Validates the length field alone; `Ok(None)` when fewer than 4 bytes are buffered.
fn check_length(buf: &[u8], limits: &Limits) -> Result<Option<usize>, DecodeError> {
    let Some(len) = be_i32(buf) else {
        return Ok(None);
    };
    let body_and_header = usize::try_from(len)
        .ok()
        .filter(|&n| n >= LENGTH_FIELD_LEN)
        .ok_or(DecodeError::BadFrameLength(len))?;
    let frame_len = body_and_header + LENGTH_FIELD_LEN;
    if frame_len > limits.max_frame_len {
        return Err(DecodeError::FrameTooLarge {
            len: frame_len as u64,
            max: limits.max_frame_len,
        });
    }
    Ok(Some(frame_len))
}

/// Validates the 8-byte prefix; `Ok(None)` when it is not fully buffered yet.
fn check_prefix(buf: &[u8], limits: &Limits) -> Result<Option<Prefix>, DecodeError> {
    let Some(frame_len) = check_length(buf, limits)? else {
        return Ok(None);
    };
    let Some(meta) = buf.get(LENGTH_FIELD_LEN..).and_then(be_i32) else {
        return Ok(None);
    };
    let [ty, ..] = meta.to_be_bytes();
    let serialize_type = SerializeType::try_from(ty)?;
    let header_len = usize::try_from(meta & 0x00FF_FFFF).unwrap_or(MAX_HEADER_LEN);
    if header_len > limits.max_header_len {
        return Err(DecodeError::HeaderTooLarge {
            len: header_len,
            max: limits.max_header_len,
        });
    }
    let available = frame_len - PREFIX_LEN;
    if header_len > available {
        return Err(DecodeError::HeaderOverrun {
            header_len,
            available,
        });
    }
    Ok(Some(Prefix {
        frame_len,
        header_len,
        serialize_type,
    }))
}

/// The total length (length field included) of the frame at the start of `buf`, once its length
/// field is buffered; lets a transport reserve space or skip ahead.
///
/// # Errors
/// As [`decode_frame`], for the checks that the buffered prefix allows.
pub fn frame_len(buf: &[u8], limits: &Limits) -> Result<Option<usize>, DecodeError> {
    check_prefix(buf, limits)?;
    check_length(buf, limits)
}

/// Decodes the frame at the start of `buf`, copying its body.
///
/// Returns `Ok(None)` when more bytes are needed, otherwise the command and the number of bytes it
/// occupied. Never panics, whatever `buf` holds.
///
/// # Errors
/// A [`DecodeError`]; the stream cannot be resynchronised after one and should be closed.
pub fn decode_frame(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(RemotingCommand, usize)>, DecodeError> {
    let Some(p) = check_prefix(buf, limits)? else {
        return Ok(None);
    };
    let Some(frame) = buf.get(..p.frame_len) else {
        return Ok(None);
    };
    let cmd = decode_complete(frame, p, Bytes::copy_from_slice)?;
    Ok(Some((cmd, p.frame_len)))
}

/// Decodes the frame at the start of `buf` and removes it from the buffer; the body shares the
/// buffer's allocation instead of being copied. For transports that read into a `BytesMut`.
///
/// # Errors
/// As [`decode_frame`]; on error the buffer is left untouched.
pub fn decode_frame_buf(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<RemotingCommand>, DecodeError> {
    let Some(p) = check_prefix(buf, limits)? else {
        return Ok(None);
    };
    // No `reserve` for the announced size: eight bytes from a peer must not cost 16 MiB of memory.
    // The transport grows the buffer as data actually arrives.
    if buf.len() < p.frame_len {
        return Ok(None);
    }
    // Decode first so a malformed frame leaves the buffer as it was.
    let body_at = PREFIX_LEN + p.header_len;
    let mut cmd = decode_complete(&buf[..p.frame_len], p, |_| Bytes::new())?;
    let frame = buf.split_to(p.frame_len).freeze();
    cmd.body = (p.frame_len > body_at).then(|| frame.slice(body_at..));
    Ok(Some(cmd))
}

fn decode_complete(
    frame: &[u8],
    p: Prefix,
    body: impl FnOnce(&[u8]) -> Bytes,
) -> Result<RemotingCommand, DecodeError> {
    let body_at = PREFIX_LEN + p.header_len;
    let header_bytes = frame
        .get(PREFIX_LEN..body_at)
        .ok_or(DecodeError::HeaderOverrun {
            header_len: p.header_len,
            available: frame.len().saturating_sub(PREFIX_LEN),
        })?;
    let mut cmd = header::decode(p.serialize_type, header_bytes)?;
    cmd.body = frame.get(body_at..).filter(|b| !b.is_empty()).map(body);
    Ok(cmd)
}

/// Appends `cmd` as one frame with its header in encoding `ty`. An empty body is written as no body.
///
/// On error nothing is appended.
///
/// # Errors
/// When the command cannot be represented: see [`EncodeError`].
pub fn encode_frame(
    cmd: &RemotingCommand,
    ty: SerializeType,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let start = out.len();
    out.put_bytes(0, PREFIX_LEN);
    if let Err(e) = header::encode(cmd, ty, out) {
        out.truncate(start);
        return Err(e);
    }
    let header_len = out.len() - start - PREFIX_LEN;
    let body = cmd.body.as_deref().unwrap_or_default();
    let checked = check_encoded(ty, header_len, body.len());
    let (length, meta) = match checked {
        Ok(v) => v,
        Err(e) => {
            out.truncate(start);
            return Err(e);
        }
    };
    out[start..start + LENGTH_FIELD_LEN].copy_from_slice(&length.to_be_bytes());
    out[start + LENGTH_FIELD_LEN..start + PREFIX_LEN].copy_from_slice(&meta.to_be_bytes());
    out.put_slice(body);
    Ok(())
}

/// The length field and the header-meta field for a frame of these sizes.
fn check_encoded(
    ty: SerializeType,
    header_len: usize,
    body_len: usize,
) -> Result<(i32, i32), EncodeError> {
    if header_len > MAX_HEADER_LEN {
        return Err(EncodeError::HeaderTooLarge { len: header_len });
    }
    let after_length = LENGTH_FIELD_LEN
        .checked_add(header_len)
        .and_then(|n| n.checked_add(body_len))
        .ok_or(EncodeError::FrameTooLarge { len: usize::MAX })?;
    let length = i32::try_from(after_length)
        .map_err(|_| EncodeError::FrameTooLarge { len: after_length })?;
    // Bounded by MAX_HEADER_LEN above, so it fits in the low 24 bits.
    let header_len =
        i32::try_from(header_len).map_err(|_| EncodeError::HeaderTooLarge { len: header_len })?;
    Ok((length, (i32::from(ty.code()) << 24) | header_len))
}
