//! Errors of the codec: one enum for bytes that cannot be decoded, one for commands that cannot be
//! represented on the wire.

use ferromq_model::record::RecordError;

/// Why bytes received from a peer are not a valid frame, header or body.
///
/// A frame-level error (length, header length, serialize type) leaves the stream unsynchronised: the
/// Java peers close the connection in that case, and so should the transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The declared frame (length field included) is bigger than the configured limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge { len: u64, max: usize },
    /// The length field is negative or too small to hold the header-length field.
    #[error("frame length field {0} is negative or smaller than 4")]
    BadFrameLength(i32),
    /// The header is bigger than the configured limit.
    #[error("header of {len} bytes exceeds the limit of {max} bytes")]
    HeaderTooLarge { len: usize, max: usize },
    /// The header length points past the end of the frame.
    #[error("header length {header_len} exceeds the {available} bytes left in the frame")]
    HeaderOverrun { header_len: usize, available: usize },
    /// The high byte of the header-length field is neither 0 (JSON) nor 1 (ROCKETMQ).
    #[error("unknown header serialize type {0}")]
    BadSerializeType(u8),
    /// A length inside a header or body points past the end of its enclosing area.
    #[error("{what} needs {needed} bytes but only {available} are left")]
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    /// A length field inside a header or body is negative.
    #[error("{what} has negative length {len}")]
    NegativeLength { what: &'static str, len: i64 },
    /// Text that must be UTF-8 is not.
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// A JSON header or body does not parse (even after the fastjson normalisation).
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// A required custom-header (`extFields`) or JSON field is absent.
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    /// A field is present but its value cannot be parsed as the expected type.
    #[error("field `{name}` has invalid value {value:?}")]
    BadField { name: &'static str, value: String },
    /// A stored message record (pull/query/view body) is malformed.
    #[error("bad message record: {0}")]
    BadRecord(#[from] RecordError),
}

/// Why a command cannot be encoded in the requested serialize type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The ROCKETMQ binary header carries `code` and `version` as 16-bit integers (the POP codes
    /// 2000xx, for example, only fit in a JSON header).
    #[error("{field} {value} does not fit the 16-bit ROCKETMQ header field; use JSON")]
    DoesNotFitI16 { field: &'static str, value: i32 },
    /// An `extFields` key longer than an `i16` length can express.
    #[error("extFields key of {len} bytes is longer than 32767")]
    KeyTooLong { len: usize },
    /// The header does not fit the 24-bit header-length field.
    #[error("header of {len} bytes does not fit the 24-bit header length")]
    HeaderTooLarge { len: usize },
    /// The whole frame does not fit the `i32` length field.
    #[error("frame of {len} bytes does not fit the 32-bit length field")]
    FrameTooLarge { len: usize },
    /// A batch message's properties are longer than the `i16` length field allows.
    #[error("batch message properties of {len} bytes are longer than 32767")]
    PropertiesTooLong { len: usize },
}
