//! `RocketMQ` "remoting" wire codec: pure, no I/O, never panics on input.
//!
//! Layout (one concept per module):
//!
//! - [`frame`]: split a byte stream into length-prefixed frames and write them; [`Limits`] are
//!   checked before anything is allocated.
//! - [`command`]: [`RemotingCommand`], the single request/response type (code, flag, opaque, version,
//!   language, remark, `extFields`, body).
//! - [`header`]: the two header encodings, [`header::json`] (type 0) and [`header::rocketmq`]
//!   (type 1, binary).
//! - [`codes`]: [`RequestCode`] and [`ResponseCode`].
//! - [`language`], [`version`]: the `language` and `version` header fields.
//! - [`headers`]: typed custom headers ↔ `extFields`, one file per protocol area.
//! - [`body`]: JSON bodies (with fastjson's quirks), the batch-send body and the stored-record bodies
//!   of pull/query responses.
//! - [`error`]: [`DecodeError`] and [`EncodeError`].
#![forbid(unsafe_code)]
#![warn(clippy::pedantic)]

pub mod body;
pub mod codes;
pub mod command;
mod cursor;
pub mod error;
pub mod frame;
pub mod header;
pub mod headers;
pub mod language;
pub mod version;

pub use codes::{RequestCode, ResponseCode};
pub use command::{ExtFields, RemotingCommand, FLAG_ONEWAY, FLAG_RESPONSE};
pub use error::{DecodeError, EncodeError};
pub use frame::{decode_frame, decode_frame_buf, encode_frame, frame_len, Limits};
pub use header::SerializeType;
pub use headers::CustomHeader;
pub use language::LanguageCode;
