//! CONSUMER_SEND_MSG_BACK and END_TRANSACTION over the wire with Java-shaped headers: dead-letter
//! routing (explicitly, by reconsume times on a plain retry send), what a dead letter keeps, and
//! refusals of bad input with a response code and a remark.

use crate::common;

use bytes::Bytes;
use common::*;
use ferromq_model::msg_id::decode_offset_msg_id;
use ferromq_model::properties;
use ferromq_remoting::headers::send::{
    ConsumerSendMsgBackRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
};
use ferromq_remoting::headers::transaction::EndTransactionRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

fn send_back_request(offset: i64, group: &str, delay_level: i32) -> RemotingCommand {
    RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK).with_header(
        &ConsumerSendMsgBackRequestHeader {
            offset,
            group: group.into(),
            delay_level,
            origin_msg_id: Some("ignored".into()),
            origin_topic: Some("T".into()),
            unit_mode: false,
            max_reconsume_times: None,
            broker_name: None,
        },
    )
}

#[tokio::test]
async fn negative_delay_level_sends_straight_to_the_dlq_keeping_everything() {
    let cluster = TestCluster::start().await;
    let client = cluster.broker_client().await;
    create_topic(&client, "T", 1).await;
    let resp = send_v2(&client, "T", 0, Some("TagA"), b"payload").await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    let sent: SendMessageResponseHeader = resp.decode_header().expect("header");
    let (_, offset) = decode_offset_msg_id(&sent.msg_id).expect("offset id");

    let resp = call(&client, send_back_request(offset as i64, "cg", -1)).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let dead = pull_all(&client, "%DLQ%cg", 0, "*", 1).await;
    assert_eq!(dead.len(), 1);
    let (_, body, props, topic) = &dead[0];
    assert_eq!(topic, "%DLQ%cg");
    assert_eq!(body, b"payload");
    assert_eq!(properties::get(props, "TAGS"), Some("TagA"));
    assert_eq!(properties::get(props, "UNIQ_KEY"), Some("UNIQ-payload"));
    assert_eq!(properties::get(props, "RETRY_TOPIC"), Some("T"));
    assert_eq!(
        properties::get(props, "ORIGIN_MESSAGE_ID"),
        Some(sent.msg_id.as_str())
    );
    assert_eq!(properties::get(props, "DELAY"), None);
    cluster.shutdown().await;
}

#[tokio::test]
async fn plain_retry_send_past_the_maximum_goes_to_the_dlq() {
    let cluster = TestCluster::start().await;
    let client = cluster.broker_client().await;
    let send = |reconsume: i32, max: Option<i32>, body: &'static [u8]| {
        let mut h = send_header(
            "%RETRY%cg2",
            -1,
            &properties::encode([("UNIQ_KEY", "U1"), ("DELAY", "5"), ("RETRY_TOPIC", "T")]),
        );
        h.reconsume_times = Some(reconsume);
        h.max_reconsume_times = max;
        RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
            .with_header(&SendMessageRequestHeaderV2(h))
            .with_body(Bytes::from_static(body))
    };
    // 3 > 2: dead letter. 16 is within the default maximum (16): stays a retry message.
    let resp = call(&client, send(3, Some(2), b"dead")).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let dead = pull_all(&client, "%DLQ%cg2", 0, "*", 1).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1, b"dead");
    assert_eq!(properties::get(&dead[0].2, "DELAY"), None);
    assert_eq!(properties::get(&dead[0].2, "RETRY_TOPIC"), Some("T"));
    let resp = call(&client, send(16, None, b"retry")).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let resp = call(&client, pull_request("cg", "%DLQ%cg2", 0, 1, "*", None)).await;
    assert_ne!(
        resp.response_code(),
        ResponseCode::SUCCESS,
        "only the first one is a dead letter: {resp:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_codes_and_remarks() {
    let cluster = TestCluster::start().await;
    let client = cluster.broker_client().await;
    create_topic(&client, "T", 1).await;

    let resp = call(&client, send_back_request(123_456_789, "cg", 0)).await;
    assert_eq!(resp.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(
        resp.remark
            .as_deref()
            .unwrap_or("")
            .contains("look message by offset failed"),
        "{resp:?}"
    );
    let resp = call(&client, send_back_request(0, "bad group!", 0)).await;
    assert_eq!(resp.response_code(), ResponseCode::INVALID_PARAMETER);
    let resp = call(
        &client,
        RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::INVALID_PARAMETER);

    // A half message, then END_TRANSACTION with wrong details.
    let props = properties::encode([("UNIQ_KEY", "H1"), ("TRAN_MSG", "true"), ("PGROUP", "pg")]);
    let resp = call(
        &client,
        RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
            .with_header(&SendMessageRequestHeaderV2(send_header("T", 0, &props)))
            .with_body(Bytes::from_static(b"half")),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let half: SendMessageResponseHeader = resp.decode_header().expect("header");
    let (_, half_offset) = decode_offset_msg_id(&half.msg_id).expect("offset id");
    let end = |group: &str, offset: i64, table: i64, decision: i32| {
        RemotingCommand::request(RequestCode::END_TRANSACTION).with_header(
            &EndTransactionRequestHeader {
                topic: Some("T".into()),
                producer_group: group.into(),
                tran_state_table_offset: table,
                commit_log_offset: offset,
                commit_or_rollback: decision,
                from_transaction_check: false,
                msg_id: "H1".into(),
                transaction_id: Some("H1".into()),
                broker_name: None,
            },
        )
    };
    let half_offset = half_offset as i64;
    for (req, remark) in [
        (
            end("pg", 999_999, half.queue_offset, 8),
            "Find prepared transaction message failed",
        ),
        (
            end("other", half_offset, half.queue_offset, 8),
            "The producer group wrong",
        ),
        (
            end("pg", half_offset, half.queue_offset + 5, 8),
            "The transaction state table offset wrong",
        ),
    ] {
        let resp = call(&client, req).await;
        assert_eq!(resp.response_code(), ResponseCode::SYSTEM_ERROR, "{resp:?}");
        assert_eq!(resp.remark.as_deref(), Some(remark));
    }
    // Nothing became visible; a real commit does.
    let resp = call(&client, pull_request("cg", "T", 0, 0, "*", None)).await;
    assert_ne!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let resp = call(&client, end("pg", half_offset, half.queue_offset, 8)).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let visible = pull_all(&client, "T", 0, "*", 1).await;
    assert_eq!(visible.len(), 1);
    assert_eq!(visible[0].1, b"half");
    assert_eq!(properties::get(&visible[0].2, "TRAN_MSG"), None);
    assert_eq!(properties::get(&visible[0].2, "REAL_TOPIC"), None);
    // The same transaction again is not committed twice.
    let resp = call(&client, end("pg", half_offset, half.queue_offset, 8)).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    send_v2(&client, "T", 0, None, b"after").await;
    let visible = pull_all(&client, "T", 0, "*", 2).await;
    let bodies: Vec<&[u8]> = visible.iter().map(|v| v.1.as_slice()).collect();
    assert_eq!(bodies, vec![&b"half"[..], &b"after"[..]]);
    cluster.shutdown().await;
}

#[tokio::test]
async fn unknown_group_is_refused_when_groups_are_not_auto_created() {
    let cluster = TestCluster::start_with(|c| c.auto_create_subscription_group = false).await;
    let client = cluster.broker_client().await;
    create_topic(&client, "T", 1).await;
    let resp = send_v2(&client, "T", 0, None, b"m").await;
    let sent: SendMessageResponseHeader = resp.decode_header().expect("header");
    let (_, offset) = decode_offset_msg_id(&sent.msg_id).expect("offset id");
    let resp = call(&client, send_back_request(offset as i64, "nobody", 0)).await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
        "{resp:?}"
    );
    assert!(resp.remark.as_deref().unwrap_or("").contains("nobody"));
    cluster.shutdown().await;
}
