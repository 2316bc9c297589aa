//! Producing and consuming over raw protocol: sends in all three encodings, pulls with and without
//! a tag filter, auto-created topics routed by the name server, errors that keep the connection.

use crate::common;

use bytes::Bytes;
use common::*;
use ferromq_model::msg_id::decode_offset_msg_id;
use ferromq_model::properties;
use ferromq_remoting::body::route::TopicRouteData;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::admin::TopicRequestHeader;
use ferromq_remoting::headers::route::GetRouteInfoRequestHeader;
use ferromq_remoting::headers::send::{SendMessageRequestHeaderV2, SendMessageResponseHeader};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[tokio::test]
async fn sends_in_every_encoding_and_pulls_back_in_order() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;

    // v1: long header names.
    let p1 = props(Some("TagA"), Some("k1 k2"), "U1");
    let resp = call(
        &c,
        RemotingCommand::request(RequestCode::SEND_MESSAGE)
            .with_header(&send_header("Orders", 1, &p1))
            .with_body(Bytes::from_static(b"m1")),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let h: SendMessageResponseHeader = resp.decode_header().expect("send header");
    assert_eq!((h.queue_id, h.queue_offset), (1, 0));
    assert_eq!(h.transaction_id.as_deref(), Some("U1"));
    assert_eq!(resp.ext("MSG_REGION"), Some("DefaultRegion"));
    assert_eq!(resp.ext("TRACE_ON"), Some("true"));
    let (host, _) = decode_offset_msg_id(&h.msg_id).expect("offset msg id");
    assert_eq!(host, cluster.broker().advertised_addr());

    // v2: compact names.
    let resp = send_v2(&c, "Orders", 1, Some("TagB"), b"m2").await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let h: SendMessageResponseHeader = resp.decode_header().expect("send header");
    assert_eq!(h.queue_offset, 1);

    // Batch: three messages, consecutive offsets, comma-joined ids.
    let (pa, pb, pc) = (
        props(Some("TagA"), None, "B1"),
        props(None, Some("kb"), "B2"),
        props(Some("TagC"), None, "B3"),
    );
    let mut bh = send_header("Orders", 1, &props(None, None, "WRAPPER"));
    bh.batch = Some(true);
    let resp = call(
        &c,
        RemotingCommand::request(RequestCode::SEND_BATCH_MESSAGE)
            .with_header(&SendMessageRequestHeaderV2(bh))
            .with_body(batch_body(&[(b"b1", &pa), (b"b2", &pb), (b"b3", &pc)])),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let h: SendMessageResponseHeader = resp.decode_header().expect("send header");
    assert_eq!(h.queue_offset, 2);
    assert_eq!(h.msg_id.split(',').count(), 3);

    let got = pull_all(&c, "Orders", 1, "*", 5).await;
    let bodies: Vec<&[u8]> = got.iter().map(|m| m.1.as_slice()).collect();
    assert_eq!(bodies, [&b"m1"[..], b"m2", b"b1", b"b2", b"b3"]);
    let offsets: Vec<u64> = got.iter().map(|m| m.0).collect();
    assert_eq!(offsets, [0, 1, 2, 3, 4]);
    assert!(got.iter().all(|m| m.3 == "Orders"));
    let p = &got[0].2;
    assert_eq!(properties::get(p, "TAGS"), Some("TagA"));
    assert_eq!(properties::get(p, "KEYS"), Some("k1 k2"));
    assert_eq!(properties::get(p, "UNIQ_KEY"), Some("U1"));
    assert_eq!(properties::get(p, "CLUSTER"), Some("DefaultCluster"));
    // As Java's broker does: the region and trace switch on every stored message, batch members too
    // (the 5.x Java client's consumer trace skips a message without MSG_REGION).
    for m in &got {
        assert_eq!(
            properties::get(&m.2, "MSG_REGION"),
            Some("DefaultRegion"),
            "{m:?}"
        );
        assert_eq!(properties::get(&m.2, "TRACE_ON"), Some("true"), "{m:?}");
    }
    // Batch members keep their own properties, not the wrapper's.
    assert_eq!(properties::get(&got[3].2, "UNIQ_KEY"), Some("B2"));
    assert_eq!(properties::get(&got[3].2, "KEYS"), Some("kb"));

    // Tag filter: only TagA.
    let tag_a = pull_all(&c, "Orders", 1, "TagA", 2).await;
    let bodies: Vec<&[u8]> = tag_a.iter().map(|m| m.1.as_slice()).collect();
    assert_eq!(bodies, [&b"m1"[..], b"b1"]);
    let resp = call(&c, pull_request("cg", "Orders", 1, 0, "TagA || TagC", None)).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    let bodies: Vec<Vec<u8>> = decode(resp.body.as_deref().expect("body"))
        .into_iter()
        .map(|m| m.1)
        .collect();
    assert_eq!(bodies, [b"m1".to_vec(), b"b1".to_vec(), b"b3".to_vec()]);

    cluster.shutdown().await;
}

/// Java clients 4.9.x send the property string without the separator after its last entry; the
/// broker's own additions (`CLUSTER`) must not run into that last value.
#[tokio::test]
async fn properties_without_a_trailing_separator_keep_their_last_value() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    let sent = "UNIQ_KEY\u{1}J1\u{2}KEYS\u{1}k9\u{2}TAGS\u{1}TagV";
    let resp = call(
        &c,
        RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
            .with_header(&SendMessageRequestHeaderV2(send_header(
                "JavaProps",
                0,
                sent,
            )))
            .with_body(Bytes::from_static(b"j1")),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    assert!(cluster.broker().wait_readable(T).await, "indexed");
    let resp = call(&c, pull_request("cg", "JavaProps", 0, 0, "TagV", None)).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let got = decode(resp.body.as_deref().expect("body"));
    assert_eq!(got.len(), 1, "the tag filter finds the message");
    let p = &got[0].2;
    assert_eq!(properties::get(p, "TAGS"), Some("TagV"));
    assert_eq!(properties::get(p, "KEYS"), Some("k9"));
    assert_eq!(properties::get(p, "UNIQ_KEY"), Some("J1"));
    assert_eq!(properties::get(p, "CLUSTER"), Some("DefaultCluster"));
    cluster.shutdown().await;
}

#[tokio::test]
async fn auto_created_topic_is_routed_by_the_name_server() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    let ns = cluster.ns_client().await;
    let route = |topic: &str| {
        RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC).with_header(
            &GetRouteInfoRequestHeader {
                topic: topic.into(),
                accept_standard_json_only: Some(true),
            },
        )
    };
    // TBW102 is registered at start, so producers can find a broker for a new topic.
    let tbw = call(&ns, route("TBW102")).await;
    assert_eq!(tbw.response_code(), ResponseCode::SUCCESS, "{tbw:?}");
    let tbw = TopicRouteData::from_json(tbw.body.as_deref().expect("body")).expect("route");
    assert_eq!(tbw.queue_datas[0].perm, 7);

    let mut changes = cluster.ns().route_changes();
    let resp = send_v2(&c, "NewTopic", -1, None, b"x").await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let found = tokio::time::timeout(T, async {
        loop {
            let r = call(&ns, route("NewTopic")).await;
            if r.response_code() == ResponseCode::SUCCESS {
                return TopicRouteData::from_json(r.body.as_deref().expect("body")).expect("route");
            }
            changes.changed().await.expect("name server alive");
        }
    })
    .await
    .expect("route appears");
    let q = &found.queue_datas[0];
    assert_eq!((q.read_queue_nums, q.write_queue_nums, q.perm), (4, 4, 6));
    assert_eq!(
        found.broker_datas[0].master_addr(),
        Some(cluster.broker().advertised_addr().to_string().as_str())
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn errors_are_answered_and_the_connection_stays_usable() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;

    let resp = call(&c, RemotingCommand::request(9999)).await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED
    );
    assert_eq!(
        resp.remark.as_deref(),
        Some(" request type 9999 not supported by ferromq")
    );

    let resp = send_v2(&c, "bad topic!", 0, None, b"x").await;
    assert_eq!(resp.response_code(), ResponseCode::INVALID_PARAMETER);
    assert!(resp.remark.expect("remark").contains("illegal characters"));

    let resp = send_v2(&c, "SCHEDULE_TOPIC_XXXX", 0, None, b"x").await;
    assert_eq!(resp.response_code(), ResponseCode::NO_PERMISSION);

    let resp = send_v2(&c, "Q", 99, None, b"x").await;
    assert_eq!(resp.response_code(), ResponseCode::INVALID_PARAMETER);

    // A header with a missing required field.
    let resp = call(&c, RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)).await;
    assert_eq!(resp.response_code(), ResponseCode::INVALID_PARAMETER);

    let resp = call(
        &c,
        RemotingCommand::request(RequestCode::GET_TOPIC_CONFIG).with_header(&TopicRequestHeader {
            topic: "Nope".into(),
        }),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::TOPIC_NOT_EXIST);

    let resp = call(&c, pull_request("cg", "Nope", 0, 0, "*", None)).await;
    assert_eq!(resp.response_code(), ResponseCode::TOPIC_NOT_EXIST);

    // Out-of-range offsets on an existing queue.
    create_topic(&c, "Q", 2).await;
    let resp = call(&c, pull_request("cg", "Q", 0, 5, "*", None)).await;
    assert_eq!(resp.response_code(), ResponseCode::PULL_OFFSET_MOVED);
    let resp = call(&c, pull_request("cg", "Q", 0, 0, "*", None)).await;
    assert_eq!(resp.response_code(), ResponseCode::PULL_NOT_FOUND);
    let resp = call(&c, pull_request("cg", "Q", 7, 0, "*", None)).await;
    assert_eq!(resp.response_code(), ResponseCode::INVALID_PARAMETER);

    // Still fine after all that.
    let resp = send_v2(&c, "Q", 0, None, b"ok").await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_malformed_frame_only_closes_its_own_connection() {
    let cluster = TestCluster::start().await;
    let good = cluster.broker_client().await;
    let mut bad = tokio::net::TcpStream::connect(cluster.broker().local_addr())
        .await
        .expect("connect");
    // Frame of 12 bytes whose header claims 1000 bytes.
    bad.write_all(&[0, 0, 0, 12, 0, 0, 0x03, 0xE8, 1, 2, 3, 4, 5, 6, 7, 8])
        .await
        .expect("write");
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(T, bad.read(&mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "the broker closes the connection");
    let resp = send_v2(&good, "Fine", 0, None, b"x").await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    cluster.shutdown().await;
}
