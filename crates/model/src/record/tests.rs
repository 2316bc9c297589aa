use super::*;
use proptest::prelude::*;

fn v4(a: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port)
}

fn draft<'a>(topic: &'a str, body: &'a [u8], props: &'a str) -> RecordDraft<'a> {
    RecordDraft {
        topic,
        queue_id: 3,
        flag: 7,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_123,
        born_host: v4([10, 0, 0, 1], 50_000),
        store_host: v4([127, 0, 0, 1], 10_911),
        reconsume_times: 2,
        prepared_transaction_offset: 0,
        body,
        properties: props,
    }
}

/// Built field by field from the documented layout, independent of the encoder.
#[test]
fn golden_bytes_ipv4_v1() {
    let d = draft("T", b"hi", "A\u{1}b\u{2}");
    let mut out = Vec::new();
    let len = encode(&d, 1 << 20, &mut out).expect("encodes");
    patch_store_fields(&mut out, 5, 4096, 1_700_000_000_999);

    let mut g = Vec::new();
    g.extend_from_slice(&(84u32 + 4 + 2 + 1 + 1 + 2 + 4).to_be_bytes());
    g.extend_from_slice(&[0xDA, 0xA3, 0x20, 0xA7]);
    g.extend_from_slice(&(crc32fast::hash(b"hi") & 0x7FFF_FFFF).to_be_bytes());
    g.extend_from_slice(&3i32.to_be_bytes());
    g.extend_from_slice(&7i32.to_be_bytes());
    g.extend_from_slice(&5i64.to_be_bytes());
    g.extend_from_slice(&4096i64.to_be_bytes());
    g.extend_from_slice(&0i32.to_be_bytes());
    g.extend_from_slice(&1_700_000_000_123i64.to_be_bytes());
    g.extend_from_slice(&[10, 0, 0, 1]);
    g.extend_from_slice(&50_000i32.to_be_bytes());
    g.extend_from_slice(&1_700_000_000_999i64.to_be_bytes());
    g.extend_from_slice(&[127, 0, 0, 1]);
    g.extend_from_slice(&10_911i32.to_be_bytes());
    g.extend_from_slice(&2i32.to_be_bytes());
    g.extend_from_slice(&0i64.to_be_bytes());
    g.extend_from_slice(&2i32.to_be_bytes());
    g.extend_from_slice(b"hi");
    g.push(1);
    g.extend_from_slice(b"T");
    g.extend_from_slice(&4i16.to_be_bytes());
    g.extend_from_slice(b"A\x01b\x02");
    assert_eq!(len, g.len());
    assert_eq!(out, g);
}

#[test]
fn long_topic_uses_v2_and_ipv6_sets_flags() {
    let topic = "t".repeat(200);
    let mut d = draft(&topic, b"x", "");
    d.store_host = "[::1]:10911".parse().expect("addr");
    let mut out = Vec::new();
    encode(&d, 1 << 20, &mut out).expect("encodes");
    patch_store_fields(&mut out, 1, 2, 3);
    match read(&out, true).expect("decodes") {
        Entry::Message(v) => {
            assert_eq!(v.topic, topic);
            assert_eq!(v.sys_flag & SYSFLAG_STOREHOST_V6, SYSFLAG_STOREHOST_V6);
            assert_eq!(v.store_host, d.store_host);
            assert_eq!(v.store_timestamp, 3);
        }
        Entry::Blank { .. } => panic!("not a blank"),
    }
    assert_eq!(peek(&out).expect("peek").1, MAGIC_V2);
}

#[test]
fn rejects_flipped_body_and_truncation() {
    let mut out = Vec::new();
    encode(&draft("T", b"hello", ""), 1 << 20, &mut out).expect("encodes");
    assert!(matches!(
        read(&out[..out.len() - 1], true),
        Err(RecordError::Truncated { .. })
    ));
    let body_pos = 84 + 4;
    out[body_pos] ^= 1;
    assert!(matches!(read(&out, true), Err(RecordError::BadCrc { .. })));
    assert!(read(&out, false).is_ok());
}

#[test]
fn blank_marker_reads_back() {
    let m = blank_marker(100);
    assert_eq!(read(&m, true), Ok(Entry::Blank { remaining: 100 }));
}

#[test]
fn too_large_is_an_error() {
    let body = vec![0u8; 1000];
    let mut out = Vec::new();
    assert!(matches!(
        encode(&draft("T", &body, ""), 500, &mut out),
        Err(EncodeError::TooLarge { .. })
    ));
}

proptest! {
    #[test]
    fn round_trip(topic in "[a-zA-Z0-9_%-]{1,300}", body in proptest::collection::vec(any::<u8>(), 0..512),
                  props in "[a-z]{0,40}", qo in any::<u64>(), po in any::<u64>(), ts in any::<i64>(),
                  flag in any::<i32>(), qid in 0u32..1024) {
        let mut d = draft(&topic, &body, &props);
        d.flag = flag;
        d.queue_id = qid;
        let mut out = Vec::new();
        let len = encode(&d, usize::MAX, &mut out).expect("encodes");
        patch_store_fields(&mut out, qo, po, ts);
        prop_assert_eq!(len, out.len());
        match read(&out, true).expect("decodes") {
            Entry::Message(v) => {
                prop_assert_eq!(v.topic, topic.as_str());
                prop_assert_eq!(v.body, &body[..]);
                prop_assert_eq!(v.properties, props.as_str());
                prop_assert_eq!(v.queue_offset, qo);
                prop_assert_eq!(v.physical_offset, po);
                prop_assert_eq!(v.store_timestamp, ts);
                prop_assert_eq!(v.flag, flag);
                prop_assert_eq!(v.queue_id, qid);
            }
            Entry::Blank { .. } => prop_assert!(false, "decoded a blank"),
        }
    }

    #[test]
    fn never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = read(&bytes, true);
    }
}
