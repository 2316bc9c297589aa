//! `RemotingCommand`: the one message type of the protocol, used for requests and responses alike.

use std::collections::BTreeMap;
use std::str::FromStr;

use bytes::Bytes;

use crate::codes::{RequestCode, ResponseCode};
use crate::error::DecodeError;
use crate::header::SerializeType;
use crate::headers::CustomHeader;
use crate::language::LanguageCode;
use crate::version;

/// The custom-header map (`extFields`). All values are strings on the wire. A `BTreeMap` keeps
/// encoding deterministic, which golden tests and fuzz round trips rely on; Java does not care.
pub type ExtFields = BTreeMap<String, String>;

/// `flag` bit 0: this command is a response.
pub const FLAG_RESPONSE: i32 = 0x1;
/// `flag` bit 1: a oneway request; the receiver must not answer it.
pub const FLAG_ONEWAY: i32 = 0x2;

/// One request or response.
///
/// Fields are public: the wire allows any combination, and the transport, broker and name server all
/// need to read and set them. The constructors fill what Java peers expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotingCommand {
    /// A [`RequestCode`] in requests, a [`ResponseCode`] in responses.
    pub code: i32,
    pub language: LanguageCode,
    /// The sender's `MQVersion` ordinal (see [`crate::version`]).
    pub version: i32,
    /// Correlates a response with its request; the responder copies it.
    pub opaque: i32,
    /// Bit field: [`FLAG_RESPONSE`], [`FLAG_ONEWAY`]; other bits are preserved as received.
    pub flag: i32,
    /// Human-readable error text; absent on success.
    pub remark: Option<String>,
    pub ext_fields: ExtFields,
    /// `None` when the frame carried no body bytes (Java sends a zero-length body as `null`).
    pub body: Option<Bytes>,
    /// The header encoding this command arrived in (or will preferably be sent in).
    pub serialize_type: SerializeType,
}

impl Default for RemotingCommand {
    fn default() -> Self {
        Self {
            code: 0,
            language: LanguageCode::Java,
            version: version::CURRENT,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: ExtFields::new(),
            body: None,
            serialize_type: SerializeType::Json,
        }
    }
}

impl RemotingCommand {
    /// A request with the current version and opaque 0 (the transport assigns opaques).
    #[must_use]
    pub fn request(code: impl Into<RequestCode>) -> Self {
        Self {
            code: code.into().0,
            ..Self::default()
        }
    }

    /// The response to `request`: same opaque, response flag set, JSON header (always understood).
    #[must_use]
    pub fn response_to(
        request: &RemotingCommand,
        code: impl Into<ResponseCode>,
        remark: Option<String>,
    ) -> Self {
        Self {
            code: code.into().0,
            opaque: request.opaque,
            flag: FLAG_RESPONSE,
            remark,
            // Answered in the header encoding the request came in, as Java does.
            serialize_type: request.serialize_type,
            ..Self::default()
        }
    }

    /// Adds the fields of a typed custom header to `ext_fields` (overwriting equal keys).
    #[must_use]
    pub fn with_header(mut self, header: &impl CustomHeader) -> Self {
        header.write_ext_fields(&mut self.ext_fields);
        self
    }

    /// Sets one extra `extFields` entry (e.g. `MSG_REGION` on send responses).
    #[must_use]
    pub fn with_ext(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.ext_fields.insert(key.into(), value.into());
        self
    }

    #[must_use]
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    #[must_use]
    pub fn with_opaque(mut self, opaque: i32) -> Self {
        self.opaque = opaque;
        self
    }

    #[must_use]
    pub fn with_remark(mut self, remark: impl Into<String>) -> Self {
        self.remark = Some(remark.into());
        self
    }

    /// Marks a request as oneway: the receiver will not answer.
    #[must_use]
    pub fn oneway(mut self) -> Self {
        self.flag |= FLAG_ONEWAY;
        self
    }

    #[must_use]
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    #[must_use]
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    /// `code` read as a request code (meaningful when `!is_response()`).
    #[must_use]
    pub fn request_code(&self) -> RequestCode {
        RequestCode(self.code)
    }

    /// `code` read as a response code (meaningful when `is_response()`).
    #[must_use]
    pub fn response_code(&self) -> ResponseCode {
        ResponseCode(self.code)
    }

    /// Decodes the typed custom header from `ext_fields`.
    ///
    /// # Errors
    /// `MissingField` or `BadField` naming the offending key.
    pub fn decode_header<H: CustomHeader>(&self) -> Result<H, DecodeError> {
        H::from_ext_fields(&self.ext_fields)
    }

    /// The raw value of one `extFields` entry.
    #[must_use]
    pub fn ext(&self, key: &str) -> Option<&str> {
        self.ext_fields.get(key).map(String::as_str)
    }

    /// One `extFields` entry parsed with `FromStr`; `Ok(None)` when absent.
    ///
    /// # Errors
    /// `BadField` when present but unparsable.
    pub fn ext_parse<T: FromStr>(&self, key: &'static str) -> Result<Option<T>, DecodeError> {
        self.ext(key)
            .map(|raw| {
                raw.parse().map_err(|_| DecodeError::BadField {
                    name: key,
                    value: raw.to_owned(),
                })
            })
            .transpose()
    }

    /// One `extFields` entry read as Java's `Boolean.parseBoolean` does (only "true", any case, is
    /// true); `None` when absent.
    #[must_use]
    pub fn ext_bool(&self, key: &str) -> Option<bool> {
        self.ext(key).map(|v| v.eq_ignore_ascii_case("true"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_copies_opaque_and_sets_flag() {
        let req = RemotingCommand::request(RequestCode::HEART_BEAT)
            .with_opaque(42)
            .oneway();
        assert!(req.is_oneway());
        assert!(!req.is_response());
        let resp = RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None);
        assert_eq!(resp.opaque, 42);
        assert!(resp.is_response());
        assert!(!resp.is_oneway());
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
        assert_eq!(resp.version, version::CURRENT);
        assert_eq!(resp.language, LanguageCode::Java);
    }

    #[test]
    fn typed_ext_accessors() {
        let cmd = RemotingCommand::request(RequestCode::PULL_MESSAGE)
            .with_ext("queueId", "3")
            .with_ext("bad", "x")
            .with_ext("flagOn", "TRUE");
        assert_eq!(cmd.ext_parse::<i32>("queueId"), Ok(Some(3)));
        assert_eq!(cmd.ext_parse::<i32>("absent"), Ok(None));
        assert_eq!(
            cmd.ext_parse::<i64>("bad"),
            Err(DecodeError::BadField {
                name: "bad",
                value: "x".into()
            })
        );
        assert_eq!(cmd.ext_bool("flagOn"), Some(true));
        assert_eq!(cmd.ext_bool("bad"), Some(false));
    }
}
