//! SQL92 subscriptions over raw protocol: pulls return exactly the messages whose properties match,
//! a pull over a long run of non-matching messages still moves forward, and bad expressions are
//! refused at CHECK_CLIENT_CONFIG, heartbeat and pull time with the position of the problem.

use crate::common;

use common::*;
use ferromq_model::properties;
use ferromq_remoting::body::admin::CheckClientRequestBody;
use ferromq_remoting::body::heartbeat::{
    ConsumeType, ConsumerData, ConsumerListByGroupResponseBody, HeartbeatData, MessageModel,
    SubscriptionData,
};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::heartbeat::GetConsumerListByGroupRequestHeader;
use ferromq_remoting::headers::offset::{GetMaxOffsetRequestHeader, OffsetResponseHeader};
use ferromq_remoting::headers::pull::{
    sys_flag, PullMessageRequestHeader, PullMessageResponseHeader,
};
use ferromq_remoting::headers::send::SendMessageRequestHeaderV2;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

const SQL: &str = "region = 'eu' AND price BETWEEN 20 AND 60 AND TAGS <> 'T1'";

/// Message `i`: body `m{i}`, tag `T{i % 3}`, region eu/us alternating, and a price except on every
/// tenth message.
fn message_props(i: usize) -> String {
    let tag = format!("T{}", i % 3);
    let region = if i.is_multiple_of(2) { "eu" } else { "us" };
    let price = i.to_string();
    let uniq = format!("U{i}");
    let mut entries = vec![
        ("UNIQ_KEY", uniq.as_str()),
        ("TAGS", tag.as_str()),
        ("region", region),
    ];
    if !i.is_multiple_of(10) {
        entries.push(("price", price.as_str()));
    }
    properties::encode(entries)
}

/// What [`SQL`] selects, computed independently of the broker.
fn expected_match(i: usize) -> bool {
    i.is_multiple_of(2) && !i.is_multiple_of(10) && (20..=60).contains(&i) && i % 3 != 1
}

/// Sends messages `range` to queue 0 of `topic` in batches.
async fn send_range(
    c: &ferromq_net::Client,
    topic: &str,
    range: std::ops::Range<usize>,
    props: fn(usize) -> String,
) {
    let end = range.end;
    let all: Vec<(Vec<u8>, String)> = range
        .map(|i| (format!("m{i}").into_bytes(), props(i)))
        .collect();
    for chunk in all.chunks(200) {
        let list: Vec<(&[u8], &str)> = chunk
            .iter()
            .map(|(b, p)| (b.as_slice(), p.as_str()))
            .collect();
        let mut h = send_header(topic, 0, &properties::encode([("WAIT", "true")]));
        h.batch = Some(true);
        let resp = call(
            c,
            RemotingCommand::request(RequestCode::SEND_BATCH_MESSAGE)
                .with_header(&SendMessageRequestHeaderV2(h))
                .with_body(batch_body(&list)),
        )
        .await;
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    }
    wait_dispatched(c, topic, end).await;
}

/// Appends reach the consume queue in the background: waits (with a deadline) until queue 0 of
/// `topic` holds `count` entries.
async fn wait_dispatched(c: &ferromq_net::Client, topic: &str, count: usize) {
    let what = format!("{count} entries in {topic}");
    ferromq_testkit::eventually_ok(T, &what, || async {
        let resp = call(
            c,
            RemotingCommand::request(RequestCode::GET_MAX_OFFSET).with_header(
                &GetMaxOffsetRequestHeader {
                    topic: topic.into(),
                    queue_id: 0,
                    committed: true,
                },
            ),
        )
        .await;
        let h: OffsetResponseHeader = resp.decode_header().expect("offset");
        if usize::try_from(h.offset).is_ok_and(|o| o >= count) {
            Ok(())
        } else {
            Err(format!("{topic}: only {} entries", h.offset))
        }
    })
    .await;
}

/// A pull of queue 0 carrying an SQL92 `expression`, or (`None`) relying on the group's heartbeat.
fn sql_pull_with(
    group: &str,
    topic: &str,
    offset: i64,
    expression: Option<&str>,
) -> RemotingCommand {
    RemotingCommand::request(RequestCode::PULL_MESSAGE).with_header(&PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id: 0,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: if expression.is_some() {
            sys_flag::SUBSCRIPTION
        } else {
            0
        },
        subscription: expression.map(str::to_owned),
        expression_type: Some("SQL92".into()),
        ..PullMessageRequestHeader::default()
    })
}

fn sql_pull(group: &str, topic: &str, offset: i64, expression: &str) -> RemotingCommand {
    sql_pull_with(group, topic, offset, Some(expression))
}

/// Pulls queue 0 from `offset` until `end`, returning the bodies and the responses' codes.
async fn pull_until(
    c: &ferromq_net::Client,
    req: impl Fn(i64) -> RemotingCommand,
    end: i64,
) -> (Vec<String>, Vec<(ResponseCode, i64)>) {
    let mut bodies = Vec::new();
    let mut steps = Vec::new();
    let mut offset = 0;
    while offset < end {
        let resp = call(c, req(offset)).await;
        let h: PullMessageResponseHeader = resp.decode_header().expect("pull header");
        match resp.response_code() {
            ResponseCode::SUCCESS => {
                for (_, body, _, _) in decode(resp.body.as_deref().expect("body")) {
                    bodies.push(String::from_utf8(body).expect("utf-8 body"));
                }
            }
            ResponseCode::PULL_RETRY_IMMEDIATELY => {}
            other => panic!("unexpected pull answer {other:?}: {resp:?}"),
        }
        assert!(
            h.next_begin_offset > offset,
            "no progress at {offset}: {resp:?}"
        );
        steps.push((resp.response_code(), h.next_begin_offset));
        offset = h.next_begin_offset;
    }
    (bodies, steps)
}

#[tokio::test]
async fn sql_pull_returns_exactly_the_matching_messages() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "Prices", 1).await;
    send_range(&c, "Prices", 0..100, message_props).await;

    let (bodies, _) = pull_until(&c, |o| sql_pull("cg", "Prices", o, SQL), 100).await;
    let want: Vec<String> = (0..100)
        .filter(|&i| expected_match(i))
        .map(|i| format!("m{i}"))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(bodies, want);

    // Properties the message does not have never match, whatever the comparison.
    let (none, _) = pull_until(
        &c,
        |o| sql_pull("cg", "Prices", o, "color = 'red' OR color <> 'red'"),
        100,
    )
    .await;
    assert!(none.is_empty(), "{none:?}");
    // IS NULL selects exactly the messages without a price.
    let (unpriced, _) = pull_until(&c, |o| sql_pull("cg", "Prices", o, "price IS NULL"), 100).await;
    let want: Vec<String> = (0..100).step_by(10).map(|i| format!("m{i}")).collect();
    assert_eq!(unpriced, want);
    cluster.shutdown().await;
}

#[tokio::test]
async fn long_runs_of_non_matching_messages_still_advance_the_offset() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "Sparse", 1).await;
    // 2,000 messages; only every 700th has hit = 'yes', so most pulls see nothing matching.
    let props = |i: usize| {
        let hit = if i % 700 == 699 { "yes" } else { "no" };
        properties::encode([("UNIQ_KEY", format!("U{i}").as_str()), ("hit", hit)])
    };
    send_range(&c, "Sparse", 0..2000, props).await;
    let (bodies, steps) =
        pull_until(&c, |o| sql_pull("cg", "Sparse", o, "hit = 'yes'"), 2000).await;
    assert_eq!(bodies, ["m699", "m1399"]);
    // A pull that finds nothing answers PULL_RETRY_IMMEDIATELY after scanning its window, and the
    // next one starts where it stopped.
    // Each pull looks at up to 800 queue entries.
    assert_eq!(
        steps,
        [
            (ResponseCode::SUCCESS, 800),
            (ResponseCode::SUCCESS, 1600),
            (ResponseCode::PULL_RETRY_IMMEDIATELY, 2000),
        ]
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_held_sql_pull_is_answered_by_the_first_matching_arrival() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "Held", 1).await;
    let puller = cluster.broker_client().await;
    let mut held = sql_pull("cg", "Held", 0, "hit = 'yes'");
    let mut h: PullMessageRequestHeader = held.decode_header().expect("own header");
    h.sys_flag |= sys_flag::SUSPEND;
    h.suspend_timeout_millis = 5_000;
    held = RemotingCommand::request(RequestCode::PULL_MESSAGE).with_header(&h);
    let pending = tokio::spawn(async move { call(&puller, held).await });
    // Three messages that do not match, then one that does: a pull held while the first three
    // arrive keeps waiting instead of answering "nothing matched".
    let props = |i: usize| {
        let hit = if i == 3 { "yes" } else { "no" };
        properties::encode([("UNIQ_KEY", format!("U{i}").as_str()), ("hit", hit)])
    };
    send_range(&c, "Held", 0..3, props).await;
    send_range(&c, "Held", 3..4, props).await;
    let resp = pending.await.expect("pull task");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let h: PullMessageResponseHeader = resp.decode_header().expect("pull header");
    assert_eq!(h.next_begin_offset, 4);
    let got: Vec<Vec<u8>> = decode(resp.body.as_deref().expect("body"))
        .into_iter()
        .map(|m| m.1)
        .collect();
    assert_eq!(got, [b"m3".to_vec()]);
    cluster.shutdown().await;
}

fn check_config(group: &str, topic: &str, expression: &str) -> RemotingCommand {
    let body = CheckClientRequestBody {
        client_id: "c1".into(),
        group: group.into(),
        namespace: None,
        subscription_data: SubscriptionData {
            topic: topic.into(),
            sub_string: expression.into(),
            expression_type: "SQL92".into(),
            ..SubscriptionData::default()
        },
    };
    RemotingCommand::request(RequestCode::CHECK_CLIENT_CONFIG).with_body(body.to_json())
}

fn consumer(group: &str, topic: &str, expression: &str) -> ConsumerData {
    ConsumerData {
        group_name: group.into(),
        consume_type: Some(ConsumeType::ConsumePassively),
        message_model: Some(MessageModel::Clustering),
        subscription_data_set: vec![SubscriptionData {
            topic: topic.into(),
            sub_string: expression.into(),
            expression_type: "SQL92".into(),
            sub_version: 1,
            ..SubscriptionData::default()
        }],
        ..ConsumerData::default()
    }
}

fn heartbeat(consumers: Vec<ConsumerData>) -> RemotingCommand {
    let data = HeartbeatData {
        client_id: "c1".into(),
        consumer_data_set: consumers,
        ..HeartbeatData::default()
    };
    RemotingCommand::request(RequestCode::HEART_BEAT).with_body(data.to_json())
}

async fn members(c: &ferromq_net::Client, group: &str) -> Option<Vec<String>> {
    let resp = call(
        c,
        RemotingCommand::request(RequestCode::GET_CONSUMER_LIST_BY_GROUP).with_header(
            &GetConsumerListByGroupRequestHeader {
                consumer_group: group.into(),
            },
        ),
    )
    .await;
    (resp.response_code() == ResponseCode::SUCCESS).then(|| {
        ConsumerListByGroupResponseBody::from_json(resp.body.as_deref().expect("body"))
            .expect("list")
            .consumer_id_list
    })
}

#[tokio::test]
async fn bad_expressions_are_refused_with_their_position() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "Prices", 1).await;
    send_range(&c, "Prices", 0..100, message_props).await;

    // CHECK_CLIENT_CONFIG: what clients ask before starting an SQL92 consumer.
    let ok = call(&c, check_config("cg", "Prices", SQL)).await;
    assert_eq!(ok.response_code(), ResponseCode::SUCCESS, "{ok:?}");
    let bad = call(&c, check_config("cg", "Prices", "price >")).await;
    assert_eq!(bad.response_code(), ResponseCode::SUBSCRIPTION_PARSE_FAILED);
    let remark = bad.remark.unwrap_or_default();
    assert!(
        remark.contains("line 1, column 8") && remark.contains("price >"),
        "{remark}"
    );

    // Pull with the subscription in the request.
    let bad = call(&c, sql_pull("cg", "Prices", 0, "region = NULL")).await;
    assert_eq!(bad.response_code(), ResponseCode::SUBSCRIPTION_PARSE_FAILED);
    let remark = bad.remark.unwrap_or_default();
    assert!(remark.contains("line 1, column 10"), "{remark}");

    // Heartbeat: the consumer with the bad expression is not registered, the good one is.
    let resp = call(
        &c,
        heartbeat(vec![
            consumer("bad-group", "Prices", "region = 'eu' AND AND"),
            consumer("good-group", "Prices", SQL),
        ]),
    )
    .await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::SUBSCRIPTION_PARSE_FAILED
    );
    let remark = resp.remark.unwrap_or_default();
    assert!(
        remark.contains("bad-group") && remark.contains("column 19"),
        "{remark}"
    );
    assert_eq!(members(&c, "bad-group").await, None);
    assert_eq!(members(&c, "good-group").await, Some(vec!["c1".to_owned()]));

    // A pull without the subscription flag uses the registered SQL92 subscription.
    let (bodies, _) = pull_until(&c, |o| sql_pull_with("good-group", "Prices", o, None), 100).await;
    let want: Vec<String> = (0..100)
        .filter(|&i| expected_match(i))
        .map(|i| format!("m{i}"))
        .collect();
    assert_eq!(bodies, want);
    cluster.shutdown().await;
}
