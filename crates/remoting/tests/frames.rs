//! Frames end to end through the public API: golden bytes built from the documented layout, round
//! trips in both header encodings, incremental input, limits, and hostile input.

use bytes::{Bytes, BytesMut};
use ferromq_remoting::headers::route::GetRouteInfoRequestHeader;
use ferromq_remoting::{
    decode_frame, decode_frame_buf, encode_frame, frame_len, CustomHeader, DecodeError, ExtFields,
    LanguageCode, Limits, RemotingCommand, RequestCode, SerializeType,
};
use proptest::prelude::*;

/// `GET_ROUTEINFO_BY_TOPIC` for `TopicTest`, opaque 3, version 479, JAVA: the reference's worked
/// example.
fn route_request() -> RemotingCommand {
    RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC)
        .with_opaque(3)
        .with_header(&GetRouteInfoRequestHeader {
            topic: "TopicTest".into(),
            accept_standard_json_only: None,
        })
}

const JAVA_JSON_HEADER: &str = r#"{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":3,"serializeTypeCurrentRPC":"JSON","version":479}"#;

#[test]
fn golden_json_frame_matches_java() {
    assert_eq!(JAVA_JSON_HEADER.len(), 131);
    let mut expected = vec![0x00, 0x00, 0x00, 0x87, 0x00, 0x00, 0x00, 0x83];
    expected.extend_from_slice(JAVA_JSON_HEADER.as_bytes());
    assert_eq!(expected.len(), 139);

    let mut out = BytesMut::new();
    encode_frame(&route_request(), SerializeType::Json, &mut out).expect("encodes");
    assert_eq!(&out[..], &expected[..]);

    let (cmd, used) = decode_frame(&expected, &Limits::default())
        .expect("valid")
        .expect("complete");
    assert_eq!(used, 139);
    assert_eq!(cmd, route_request());
}

#[test]
fn golden_rocketmq_frame_matches_java() {
    let mut expected: Vec<u8> = vec![
        0x00, 0x00, 0x00, 0x2d, // total_len 45
        0x01, 0x00, 0x00, 0x29, // type 1, header_len 41
        0x00, 0x69, // code 105
        0x00, // JAVA
        0x01, 0xdf, // version 479
        0x00, 0x00, 0x00, 0x03, // opaque
        0x00, 0x00, 0x00, 0x00, // flag
        0x00, 0x00, 0x00, 0x00, // no remark
        0x00, 0x00, 0x00, 0x14, // ext_len 20
        0x00, 0x05,
    ];
    expected.extend_from_slice(b"topic");
    expected.extend_from_slice(&[0x00, 0x00, 0x00, 0x09]);
    expected.extend_from_slice(b"TopicTest");
    assert_eq!(expected.len(), 49);

    let mut out = BytesMut::new();
    encode_frame(&route_request(), SerializeType::RocketMq, &mut out).expect("encodes");
    assert_eq!(&out[..], &expected[..]);

    let (cmd, used) = decode_frame(&expected, &Limits::default())
        .expect("valid")
        .expect("complete");
    assert_eq!(used, 49);
    assert_eq!(cmd.serialize_type, SerializeType::RocketMq);
    assert_eq!(
        GetRouteInfoRequestHeader::from_ext_fields(&cmd.ext_fields)
            .expect("header")
            .topic,
        "TopicTest"
    );
    assert_eq!(
        RemotingCommand {
            serialize_type: SerializeType::Json,
            ..cmd
        },
        route_request()
    );
}

#[test]
fn java_response_with_body_decodes() {
    let header = br#"{"code":0,"flag":1,"language":"JAVA","opaque":3,"serializeTypeCurrentRPC":"JSON","version":479}"#;
    let body = br#"{"topicList":["T"]}"#;
    let mut frame = Vec::new();
    let total = i32::try_from(4 + header.len() + body.len()).expect("small");
    frame.extend_from_slice(&total.to_be_bytes());
    frame.extend_from_slice(&i32::try_from(header.len()).expect("small").to_be_bytes());
    frame.extend_from_slice(header);
    frame.extend_from_slice(body);
    let (cmd, _) = decode_frame(&frame, &Limits::default())
        .expect("valid")
        .expect("complete");
    assert!(cmd.is_response());
    assert_eq!(cmd.remark, None);
    assert_eq!(cmd.body.as_deref(), Some(&body[..]));
}

#[test]
fn every_strict_prefix_needs_more_bytes() {
    for ty in [SerializeType::Json, SerializeType::RocketMq] {
        let mut out = BytesMut::new();
        encode_frame(&route_request().with_body(&b"payload"[..]), ty, &mut out).expect("encodes");
        for cut in 0..out.len() {
            assert_eq!(
                decode_frame(&out[..cut], &Limits::default()),
                Ok(None),
                "cut at {cut}"
            );
        }
        assert_eq!(
            frame_len(&out[..4], &Limits::default()),
            Ok(Some(out.len()))
        );
        assert_eq!(frame_len(&out[..3], &Limits::default()), Ok(None));
    }
}

#[test]
fn oversized_frame_is_refused_from_its_length_alone() {
    // Only the length field is present: a decoder that allocated first would ask for 2 GiB.
    let buf = 0x7fff_fff0_i32.to_be_bytes();
    assert_eq!(
        decode_frame(&buf, &Limits::default()),
        Err(DecodeError::FrameTooLarge {
            len: 0x7fff_fff4,
            max: 16 * 1024 * 1024
        })
    );
    let mut bm = BytesMut::from(&buf[..]);
    assert!(decode_frame_buf(&mut bm, &Limits::default()).is_err());
    assert!(bm.capacity() < 1024, "nothing reserved for a refused frame");

    // Java counts the length field: 16 MiB - 4 after it is the largest accepted frame.
    let max: i32 = 16 * 1024 * 1024 - 4;
    assert_eq!(
        decode_frame(&max.to_be_bytes(), &Limits::default()),
        Ok(None)
    );
    assert!(decode_frame(&(max + 1).to_be_bytes(), &Limits::default()).is_err());
}

#[test]
fn malformed_prefixes_are_refused() {
    let limits = Limits::default();
    let frame = |len: i32, meta: u32| {
        let mut v = len.to_be_bytes().to_vec();
        v.extend_from_slice(&meta.to_be_bytes());
        v
    };
    assert_eq!(
        decode_frame(&frame(-1, 0), &limits),
        Err(DecodeError::BadFrameLength(-1))
    );
    assert_eq!(
        decode_frame(&frame(3, 0), &limits),
        Err(DecodeError::BadFrameLength(3))
    );
    assert_eq!(
        decode_frame(&frame(100, 0x0200_0010), &limits),
        Err(DecodeError::BadSerializeType(2))
    );
    assert_eq!(
        decode_frame(&frame(100, 0x0000_0061), &limits),
        Err(DecodeError::HeaderOverrun {
            header_len: 97,
            available: 96
        })
    );
    let small = Limits {
        max_header_len: 16,
        ..Limits::default()
    };
    assert_eq!(
        decode_frame(&frame(100, 0x0000_0020), &small),
        Err(DecodeError::HeaderTooLarge { len: 32, max: 16 })
    );
}

#[test]
fn buffer_decoding_shares_the_body_and_consumes_exactly_one_frame() {
    let first = route_request().with_body(Bytes::from_static(b"first body"));
    let second = route_request().with_opaque(4);
    let mut buf = BytesMut::new();
    encode_frame(&first, SerializeType::RocketMq, &mut buf).expect("encodes");
    encode_frame(&second, SerializeType::Json, &mut buf).expect("encodes");

    let a = decode_frame_buf(&mut buf, &Limits::default())
        .expect("valid")
        .expect("complete");
    assert_eq!(a.body, first.body);
    let b = decode_frame_buf(&mut buf, &Limits::default())
        .expect("valid")
        .expect("complete");
    assert_eq!(b, second);
    assert!(buf.is_empty());
    assert_eq!(decode_frame_buf(&mut buf, &Limits::default()), Ok(None));
}

#[test]
fn failed_encode_appends_nothing() {
    let mut out = BytesMut::from(&b"keep"[..]);
    let pop = RemotingCommand::request(RequestCode::POP_MESSAGE);
    assert!(encode_frame(&pop, SerializeType::RocketMq, &mut out).is_err());
    assert_eq!(&out[..], b"keep");
    // JSON carries any code.
    encode_frame(&pop, SerializeType::Json, &mut out).expect("encodes");
    let (back, _) = decode_frame(&out[4..], &Limits::default())
        .expect("valid")
        .expect("complete");
    assert_eq!(back.request_code(), RequestCode::POP_MESSAGE);
}

fn language() -> impl Strategy<Value = LanguageCode> {
    any::<u8>().prop_map(LanguageCode::from)
}

/// Entries; `non_empty` keeps keys and values non-empty (ROCKETMQ drops empty ones, like Java).
fn ext_fields(non_empty: bool) -> impl Strategy<Value = ExtFields> {
    prop::collection::btree_map(
        prop::string::string_regex(if non_empty {
            "\\PC{1,12}"
        } else {
            "\\PC{0,12}"
        })
        .expect("regex"),
        prop::string::string_regex(if non_empty {
            "\\PC{1,24}"
        } else {
            "\\PC{0,24}"
        })
        .expect("regex"),
        0..6,
    )
}

/// Commands that survive the given encoding unchanged: ROCKETMQ carries 16-bit codes/versions and
/// reads empty strings as null.
fn command(ty: SerializeType) -> impl Strategy<Value = RemotingCommand> {
    let binary = ty == SerializeType::RocketMq;
    let code = if binary {
        any::<i16>().prop_map(i32::from).boxed()
    } else {
        any::<i32>().boxed()
    };
    let version = if binary {
        any::<i16>().prop_map(i32::from).boxed()
    } else {
        any::<i32>().boxed()
    };
    let remark = if binary { "\\PC{1,40}" } else { "\\PC{0,40}" };
    (
        code,
        language(),
        version,
        any::<i32>(),
        any::<i32>(),
        proptest::option::of(remark),
        ext_fields(binary),
        proptest::option::of(prop::collection::vec(any::<u8>(), 1..64)),
    )
        .prop_map(
            move |(code, language, version, opaque, flag, remark, ext_fields, body)| {
                RemotingCommand {
                    code,
                    language,
                    version,
                    opaque,
                    flag,
                    remark,
                    ext_fields,
                    body: body.map(Bytes::from),
                    serialize_type: ty,
                }
            },
        )
}

fn assert_round_trip(cmd: &RemotingCommand) -> Result<(), TestCaseError> {
    let mut out = BytesMut::new();
    encode_frame(cmd, cmd.serialize_type, &mut out).expect("encodable by construction");
    let (back, used) = decode_frame(&out, &Limits::default())
        .expect("valid")
        .expect("complete");
    prop_assert_eq!(used, out.len());
    prop_assert_eq!(&back, cmd);
    let mut buf = out.clone();
    prop_assert_eq!(
        decode_frame_buf(&mut buf, &Limits::default()),
        Ok(Some(back))
    );
    Ok(())
}

proptest! {
    #[test]
    fn json_frames_round_trip(cmd in command(SerializeType::Json)) {
        assert_round_trip(&cmd)?;
    }

    #[test]
    fn rocketmq_frames_round_trip(cmd in command(SerializeType::RocketMq)) {
        assert_round_trip(&cmd)?;
    }

    #[test]
    fn decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_frame(&bytes, &Limits::default());
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = decode_frame_buf(&mut buf, &Limits::default());
    }

    /// Valid prefixes with arbitrary headers: the header decoders see hostile input too.
    #[test]
    fn header_decoders_never_panic(ty in 0u8..2, header in prop::collection::vec(any::<u8>(), 0..256), body in prop::collection::vec(any::<u8>(), 0..16)) {
        let mut frame = Vec::new();
        let total = i32::try_from(4 + header.len() + body.len()).expect("small");
        frame.extend_from_slice(&total.to_be_bytes());
        let meta = (i32::from(ty) << 24) | i32::try_from(header.len()).expect("small");
        frame.extend_from_slice(&meta.to_be_bytes());
        frame.extend_from_slice(&header);
        frame.extend_from_slice(&body);
        if let Ok(Some((cmd, _))) = decode_frame(&frame, &Limits::default()) {
            // Whatever decoded must re-encode and decode to itself.
            let mut out = BytesMut::new();
            encode_frame(&cmd, cmd.serialize_type, &mut out).expect("decoded commands re-encode");
            let (again, _) = decode_frame(&out, &Limits::default()).expect("valid").expect("complete");
            prop_assert_eq!(again, cmd);
        }
    }
}
