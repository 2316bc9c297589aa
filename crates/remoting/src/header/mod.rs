//! The two encodings of the command header, selected per frame by the high byte of the header-length
//! field: [`json`] (type 0, the Java default) and [`rocketmq`] (type 1, a compact binary layout).
//!
//! A receiver must decode both; Java servers answer in their own configured type, not the request's.

pub mod json;
pub mod rocketmq;

use bytes::BytesMut;

use crate::command::RemotingCommand;
use crate::error::{DecodeError, EncodeError};

/// How a frame's header is serialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SerializeType {
    /// fastjson text; carries any `i32` code.
    #[default]
    Json,
    /// `RocketMQSerializable`: `code` and `version` are 16-bit.
    RocketMq,
}

impl SerializeType {
    /// The byte stored in the top 8 bits of the header-length field.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Json => 0,
            Self::RocketMq => 1,
        }
    }

    /// The name Java prints in `serializeTypeCurrentRPC`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "JSON",
            Self::RocketMq => "ROCKETMQ",
        }
    }
}

impl TryFrom<u8> for SerializeType {
    type Error = DecodeError;

    fn try_from(code: u8) -> Result<Self, DecodeError> {
        match code {
            0 => Ok(Self::Json),
            1 => Ok(Self::RocketMq),
            other => Err(DecodeError::BadSerializeType(other)),
        }
    }
}

/// Decodes a header area into a command without a body. The command's `serialize_type` is set to `ty`.
///
/// # Errors
/// Any malformation of the header; never panics.
pub fn decode(ty: SerializeType, header: &[u8]) -> Result<RemotingCommand, DecodeError> {
    let mut cmd = match ty {
        SerializeType::Json => json::decode(header)?,
        SerializeType::RocketMq => rocketmq::decode(header)?,
    };
    cmd.serialize_type = ty;
    Ok(cmd)
}

/// Appends the header of `cmd` in encoding `ty` (ignoring `cmd.body` and `cmd.serialize_type`).
///
/// # Errors
/// When a field cannot be represented in `ty` (see [`EncodeError`]).
pub fn encode(
    cmd: &RemotingCommand,
    ty: SerializeType,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    match ty {
        SerializeType::Json => {
            json::encode(cmd, out);
            Ok(())
        }
        SerializeType::RocketMq => rocketmq::encode(cmd, out),
    }
}
