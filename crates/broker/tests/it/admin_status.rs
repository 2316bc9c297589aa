//! What mqadmin's `statsAll` and `getConsumerStatus` ask a broker: VIEW_BROKER_STATS_DATA (315)
//! and INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223), which the broker answers by asking each
//! consumer (GET_CONSUMER_STATUS_FROM_CLIENT, 221); and `consumerStatus`'s
//! GET_CONSUMER_RUNNING_INFO (307), relayed to the consumer it names.

use crate::common;

use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use ferromq_net::{Client, ClientConfig, Handler, RequestContext};
use ferromq_remoting::body::admin::{BrokerStatsData, GetConsumerStatusBody};
use ferromq_remoting::body::heartbeat::{
    ConsumeType, ConsumerData, HeartbeatData, MessageModel, SubscriptionData,
};
use ferromq_remoting::body::lock::MessageQueue;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::admin::{
    GetConsumerRunningInfoRequestHeader, GetConsumerStatusRequestHeader,
    ViewBrokerStatsDataRequestHeader,
};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

fn view_stats(name: &str, key: &str) -> RemotingCommand {
    RemotingCommand::request(RequestCode::VIEW_BROKER_STATS_DATA).with_header(
        &ViewBrokerStatsDataRequestHeader {
            stats_name: name.into(),
            stats_key: key.into(),
        },
    )
}

async fn stats(c: &Client, name: &str, key: &str) -> BrokerStatsData {
    let r = call(c, view_stats(name, key)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    BrokerStatsData::from_json(r.body.as_deref().expect("body")).expect("stats data")
}

#[tokio::test]
async fn view_broker_stats_counts_puts_per_topic_and_pulls_per_topic_and_group() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "StatsT", 1).await;
    for i in 0..3 {
        let r = send_v2(&c, "StatsT", 0, None, format!("s{i}").as_bytes()).await;
        assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    }
    // `pull_all` pulls as group "cg"
    assert_eq!(pull_all(&c, "StatsT", 0, "*", 3).await.len(), 3);

    let put = stats(&c, "TOPIC_PUT_NUMS", "StatsT").await;
    assert_eq!(
        (put.stats_minute.sum, put.stats_hour.sum, put.stats_day.sum),
        (3, 3, 3)
    );
    assert!(put.stats_minute.tps > 0.0, "{put:?}");
    assert!(
        (put.stats_day.avgpt - 1.0).abs() < 1e-9,
        "one message per send: {put:?}"
    );
    let size = stats(&c, "TOPIC_PUT_SIZE", "StatsT").await;
    assert!(size.stats_day.sum > 3 * 2, "stored bytes: {size:?}");
    let got = stats(&c, "GROUP_GET_NUMS", "StatsT@cg").await;
    assert_eq!(got.stats_day.sum, 3);

    // nothing counted for this key, and a statistic ferromq does not keep: Java's answer
    for (name, key) in [
        ("GROUP_GET_NUMS", "StatsT@other"),
        ("SNDBCK_PUT_NUMS", "StatsT"),
    ] {
        let r = call(&c, view_stats(name, key)).await;
        assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR, "{r:?}");
        assert_eq!(
            r.remark.as_deref(),
            Some(format!("The stats <{name}> <{key}> not exist").as_str())
        );
    }
}

/// A consumer that reports fixed offsets when the broker asks for its status, and its client id
/// as its running info.
struct Reports(Vec<(i32, i64)>);

#[async_trait]
impl Handler for Reports {
    async fn handle(&self, _ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        if req.code == RequestCode::GET_CONSUMER_RUNNING_INFO.0 {
            let h: GetConsumerRunningInfoRequestHeader = req.decode_header().expect("header");
            let info = format!("{{\"running\":\"{}\"}}", h.client_id);
            return Some(
                RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None).with_body(info),
            );
        }
        if req.code != RequestCode::GET_CONSUMER_STATUS_FROM_CLIENT.0 {
            return None;
        }
        let h: GetConsumerStatusRequestHeader = req.decode_header().expect("header");
        let body = GetConsumerStatusBody {
            message_queue_table: self.0.iter().map(|&(q, o)| (mq(&h.topic, q), o)).collect(),
            ..GetConsumerStatusBody::default()
        };
        Some(
            RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None)
                .with_body(body.to_json()),
        )
    }
}

fn mq(topic: &str, queue_id: i32) -> MessageQueue {
    MessageQueue {
        broker_name: "broker-a".into(),
        queue_id,
        topic: topic.into(),
    }
}

async fn consumer(cluster: &TestCluster, client_id: &str, reports: Vec<(i32, i64)>) -> Client {
    let c = Client::connect(
        cluster.broker().local_addr().to_string(),
        ClientConfig {
            handler: Arc::new(Reports(reports)),
            ..ClientConfig::default()
        },
    )
    .await
    .expect("connect");
    let data = HeartbeatData {
        client_id: client_id.into(),
        consumer_data_set: vec![ConsumerData {
            group_name: "status_cg".into(),
            consume_type: Some(ConsumeType::ConsumePassively),
            message_model: Some(MessageModel::Clustering),
            subscription_data_set: vec![SubscriptionData {
                topic: "StatusT".into(),
                sub_string: "*".into(),
                sub_version: 1,
                ..SubscriptionData::default()
            }],
            ..ConsumerData::default()
        }],
        ..HeartbeatData::default()
    };
    let r = call(
        &c,
        RemotingCommand::request(RequestCode::HEART_BEAT).with_body(data.to_json()),
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    c
}

fn consumer_status(group: &str, client: Option<&str>) -> RemotingCommand {
    RemotingCommand::request(RequestCode::INVOKE_BROKER_TO_GET_CONSUMER_STATUS).with_header(
        &GetConsumerStatusRequestHeader {
            topic: "StatusT".into(),
            group: group.into(),
            client_addr: client.map(str::to_owned),
        },
    )
}

#[tokio::test]
async fn consumer_status_gathers_what_each_consumer_reports() {
    let cluster = TestCluster::start().await;
    let admin = cluster.broker_client().await;
    let _a = consumer(&cluster, "10.0.0.1@a", vec![(0, 5)]).await;
    let _b = consumer(&cluster, "10.0.0.2@b", vec![(1, 7), (2, 0)]).await;

    let r = call(&admin, consumer_status("status_cg", None)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let all = GetConsumerStatusBody::from_json(r.body.as_deref().expect("body")).expect("body");
    let table: Vec<(String, Vec<(MessageQueue, i64)>)> = all
        .consumer_table
        .into_iter()
        .map(|(id, offsets)| (id, offsets.0.into_iter().collect()))
        .collect();
    assert_eq!(
        table,
        [
            ("10.0.0.1@a".to_owned(), vec![(mq("StatusT", 0), 5)]),
            (
                "10.0.0.2@b".to_owned(),
                vec![(mq("StatusT", 1), 7), (mq("StatusT", 2), 0)]
            ),
        ]
    );

    // only the named client is asked
    let r = call(&admin, consumer_status("status_cg", Some("10.0.0.2@b"))).await;
    let one = GetConsumerStatusBody::from_json(r.body.as_deref().expect("body")).expect("body");
    assert_eq!(
        one.consumer_table.keys().collect::<Vec<_>>(),
        ["10.0.0.2@b"]
    );

    let r = call(&admin, consumer_status("nobody", None)).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR, "{r:?}");
    assert_eq!(
        r.remark.as_deref(),
        Some("No Any Consumer online in the consumer group: [nobody]")
    );
}

fn running_info(client: &str) -> RemotingCommand {
    RemotingCommand::request(RequestCode::GET_CONSUMER_RUNNING_INFO).with_header(
        &GetConsumerRunningInfoRequestHeader {
            consumer_group: "status_cg".into(),
            client_id: client.into(),
            jstack_enable: false,
        },
    )
}

#[tokio::test]
async fn consumer_running_info_is_relayed_to_the_named_consumer() {
    let cluster = TestCluster::start().await;
    let admin = cluster.broker_client().await;
    let _a = consumer(&cluster, "10.0.0.1@a", vec![]).await;
    let _b = consumer(&cluster, "10.0.0.2@b", vec![]).await;

    for id in ["10.0.0.1@a", "10.0.0.2@b"] {
        let r = call(&admin, running_info(id)).await;
        assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
        assert_eq!(
            r.body.as_deref(),
            Some(format!(r#"{{"running":"{id}"}}"#).as_bytes())
        );
    }
    let r = call(&admin, running_info("10.0.0.3@gone")).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR, "{r:?}");
    assert_eq!(
        r.remark.as_deref(),
        Some("The Consumer <status_cg> <10.0.0.3@gone> not online")
    );
}
