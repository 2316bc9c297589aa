//! Arbitrary bytes into the frame decoder. Whatever decodes must re-encode (in the encoding it
//! arrived in) and decode to the same command, and both decoder entry points must agree.
#![no_main]

use bytes::BytesMut;
use ferromq_remoting::{decode_frame, decode_frame_buf, encode_frame, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let decoded = decode_frame(data, &limits);

    let mut buf = BytesMut::from(data);
    let from_buf = decode_frame_buf(&mut buf, &limits);
    match (&decoded, &from_buf) {
        (Ok(Some((cmd, used))), Ok(Some(other))) => {
            assert_eq!(cmd, other, "slice and buffer decoders disagree");
            assert_eq!(
                buf.len(),
                data.len() - used,
                "buffer decoder consumed a different length"
            );
        }
        (Ok(None), Ok(None)) | (Err(_), Err(_)) => {}
        _ => panic!("slice and buffer decoders disagree: {decoded:?} vs {from_buf:?}"),
    }

    if let Ok(Some((cmd, _))) = decoded {
        let mut out = BytesMut::new();
        encode_frame(&cmd, cmd.serialize_type, &mut out).expect("a decoded command re-encodes");
        let (again, used) = decode_frame(&out, &limits)
            .expect("a re-encoded command decodes")
            .expect("a re-encoded command is complete");
        assert_eq!(used, out.len());
        assert_eq!(again, cmd);
    }
});
