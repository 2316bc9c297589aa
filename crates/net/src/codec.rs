//! A `tokio_util` codec over the pure frame functions of `ferromq_remoting::frame`.
//!
//! Decoding accepts both header encodings (the frame's type byte says which). Encoding uses the
//! configured type, falling back to JSON for commands the binary header cannot carry (codes or
//! versions beyond 16 bits), so a ROCKETMQ-configured peer can still send POP requests.

use bytes::{Bytes, BytesMut};
use ferromq_remoting::{
    decode_frame_buf, encode_frame, frame_len, EncodeError, Limits, RemotingCommand, SerializeType,
};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::NetError;

/// How much buffer to reserve ahead for a partially received frame. Bounded so that a length
/// field alone (eight bytes from a peer) cannot make us allocate 16 MiB.
const RESERVE_STEP: usize = 256 * 1024;

/// Frames ↔ [`RemotingCommand`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct RemotingCodec {
    limits: Limits,
    serialize_type: SerializeType,
}

impl RemotingCodec {
    /// A codec that refuses frames beyond `limits` and writes headers in `serialize_type`.
    #[must_use]
    pub fn new(limits: Limits, serialize_type: SerializeType) -> Self {
        Self {
            limits,
            serialize_type,
        }
    }
}

impl Decoder for RemotingCodec {
    type Item = RemotingCommand;
    type Error = NetError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RemotingCommand>, NetError> {
        if let Some(cmd) = decode_frame_buf(src, &self.limits)? {
            return Ok(Some(cmd));
        }
        // Incomplete: grow the buffer towards the announced size, a bounded step at a time.
        if let Some(total) = frame_len(src, &self.limits)? {
            let missing = total.saturating_sub(src.len());
            src.reserve(missing.min(RESERVE_STEP));
        }
        Ok(None)
    }
}

impl Encoder<RemotingCommand> for RemotingCodec {
    type Error = NetError;

    fn encode(&mut self, item: RemotingCommand, dst: &mut BytesMut) -> Result<(), NetError> {
        encode_into(&item, self.serialize_type, dst).map_err(NetError::from)
    }
}

impl Encoder<&RemotingCommand> for RemotingCodec {
    type Error = NetError;

    fn encode(&mut self, item: &RemotingCommand, dst: &mut BytesMut) -> Result<(), NetError> {
        encode_into(item, self.serialize_type, dst).map_err(NetError::from)
    }
}

/// Appends one frame for `cmd` in `ty`, or in JSON when the binary header cannot carry it; `dst`
/// is left as it was on error.
pub(crate) fn encode_into(
    cmd: &RemotingCommand,
    ty: SerializeType,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    match encode_frame(cmd, ty, dst) {
        Err(EncodeError::DoesNotFitI16 { .. }) if ty == SerializeType::RocketMq => {
            encode_frame(cmd, SerializeType::Json, dst)
        }
        other => other,
    }
}

/// One frame for `cmd` as an owned buffer, ready for a connection's writer.
///
/// # Errors
/// When the command cannot be represented (see [`EncodeError`]).
pub fn encode_command(cmd: &RemotingCommand, ty: SerializeType) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::with_capacity(256 + cmd.body.as_ref().map_or(0, Bytes::len));
    encode_into(cmd, ty, &mut buf)?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_remoting::{DecodeError, RequestCode};

    fn request() -> RemotingCommand {
        RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC)
            .with_ext("topic", "TopicTest")
            .with_opaque(3)
            .with_body(&b"payload"[..])
    }

    #[test]
    fn round_trips_split_at_every_byte() {
        for ty in [SerializeType::Json, SerializeType::RocketMq] {
            let frame = encode_command(&request(), ty).expect("encodes");
            for cut in 0..frame.len() {
                let mut codec = RemotingCodec::default();
                let mut buf = BytesMut::from(&frame[..cut]);
                assert!(codec.decode(&mut buf).expect("prefix is fine").is_none());
                buf.extend_from_slice(&frame[cut..]);
                let mut got = codec.decode(&mut buf).expect("decodes").expect("complete");
                got.serialize_type = SerializeType::Json;
                assert_eq!(got, request());
                assert!(buf.is_empty());
            }
        }
    }

    #[test]
    fn oversized_frame_fails_after_the_prefix() {
        let mut codec = RemotingCodec::new(
            Limits {
                max_frame_len: 1024,
                ..Limits::default()
            },
            SerializeType::Json,
        );
        let mut buf = BytesMut::from(&[0u8, 0, 0x10, 0, 0, 0, 0, 10][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(NetError::Decode(DecodeError::FrameTooLarge { .. }))
        ));
    }

    #[test]
    fn binary_header_falls_back_to_json_for_wide_codes() {
        let pop = RemotingCommand::request(RequestCode(200_050)).with_opaque(1);
        let frame = encode_command(&pop, SerializeType::RocketMq).expect("falls back");
        assert_eq!(frame[4], 0, "JSON type byte");
        let mut codec = RemotingCodec::default();
        let mut out = BytesMut::new();
        codec
            .encode(&pop, &mut out)
            .expect("JSON codec encodes too");
        assert_eq!(&out[..], &frame[..]);
    }
}
