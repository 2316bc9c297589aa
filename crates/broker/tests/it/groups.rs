//! Consumer groups and offsets: heartbeats register members (and tell the others to rebalance),
//! offsets committed by pull or update survive a restart, messages are found by key and by id.

use crate::common;

use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use ferromq_model::msg_id::decode_offset_msg_id;
use ferromq_net::{Client, ClientConfig, Handler, RequestContext};
use ferromq_remoting::body::heartbeat::{
    ConsumeType, ConsumerData, ConsumerListByGroupResponseBody, HeartbeatData, MessageModel,
    ProducerData, SubscriptionData,
};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::heartbeat::{
    GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader,
};
use ferromq_remoting::headers::offset::{
    GetMaxOffsetRequestHeader, OffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use ferromq_remoting::headers::pull::{sys_flag, PullMessageRequestHeader};
use ferromq_remoting::headers::query::{QueryMessageRequestHeader, ViewMessageRequestHeader};
use ferromq_remoting::headers::send::SendMessageResponseHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio::sync::mpsc;

fn heartbeat(client_id: &str, group: &str, topic: &str) -> RemotingCommand {
    let data = HeartbeatData {
        client_id: client_id.into(),
        consumer_data_set: vec![ConsumerData {
            group_name: group.into(),
            consume_type: Some(ConsumeType::ConsumePassively),
            message_model: Some(MessageModel::Clustering),
            subscription_data_set: vec![SubscriptionData {
                topic: topic.into(),
                sub_string: "*".into(),
                sub_version: 1,
                ..SubscriptionData::default()
            }],
            ..ConsumerData::default()
        }],
        producer_data_set: vec![ProducerData {
            group_name: "CLIENT_INNER_PRODUCER".into(),
        }],
        ..HeartbeatData::default()
    };
    RemotingCommand::request(RequestCode::HEART_BEAT).with_body(data.to_json())
}

fn consumer_list(group: &str) -> RemotingCommand {
    RemotingCommand::request(RequestCode::GET_CONSUMER_LIST_BY_GROUP).with_header(
        &GetConsumerListByGroupRequestHeader {
            consumer_group: group.into(),
        },
    )
}

/// Forwards the codes of broker → client requests.
struct Recorder(mpsc::UnboundedSender<i32>);

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, _ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        let _ = self.0.send(req.code);
        None
    }
}

#[tokio::test]
async fn heartbeats_register_consumers_and_notify_members() {
    let cluster = TestCluster::start().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let first = Client::connect(
        cluster.broker().local_addr().to_string(),
        ClientConfig {
            handler: Arc::new(Recorder(tx)),
            ..ClientConfig::default()
        },
    )
    .await
    .expect("connect");
    let second = cluster.broker_client().await;

    let resp = call(&first, consumer_list("cg1")).await;
    assert_eq!(resp.response_code(), ResponseCode::SYSTEM_ERROR);

    let resp = call(&first, heartbeat("10.0.0.1@a", "cg1", "TopicA")).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    // The first member is told too (a new channel joined).
    assert_eq!(
        rx.recv().await,
        Some(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED.0)
    );
    let resp = call(&second, heartbeat("10.0.0.2@b", "cg1", "TopicA")).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    assert_eq!(
        rx.recv().await,
        Some(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED.0)
    );

    let resp = call(&second, consumer_list("cg1")).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    let ids = ConsumerListByGroupResponseBody::from_json(resp.body.as_deref().expect("body"))
        .expect("body parses")
        .consumer_id_list;
    assert_eq!(ids, ["10.0.0.1@a", "10.0.0.2@b"]);

    // The retry topic exists now.
    let resp = call(&second, pull_request("cg1", "%RETRY%cg1", 0, 0, "*", None)).await;
    assert_eq!(resp.response_code(), ResponseCode::PULL_NOT_FOUND);
    // Without the subscription flag the registered subscription is used.
    create_topic(&second, "TopicA", 1).await;
    let mut pull = pull_request("cg1", "TopicA", 0, 0, "*", None);
    pull.ext_fields.insert("sysFlag".into(), "0".into());
    assert_eq!(
        call(&second, pull).await.response_code(),
        ResponseCode::PULL_NOT_FOUND
    );
    let mut pull = pull_request("cgX", "TopicA", 0, 0, "*", None);
    pull.ext_fields.insert("sysFlag".into(), "0".into());
    assert_eq!(
        call(&second, pull).await.response_code(),
        ResponseCode::SUBSCRIPTION_NOT_EXIST
    );

    let resp = call(
        &second,
        RemotingCommand::request(RequestCode::UNREGISTER_CLIENT).with_header(
            &UnregisterClientRequestHeader {
                client_id: "10.0.0.2@b".into(),
                producer_group: None,
                consumer_group: Some("cg1".into()),
            },
        ),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    assert_eq!(
        rx.recv().await,
        Some(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED.0)
    );
    let resp = call(&second, consumer_list("cg1")).await;
    let ids = ConsumerListByGroupResponseBody::from_json(resp.body.as_deref().expect("body"))
        .expect("body parses")
        .consumer_id_list;
    assert_eq!(ids, ["10.0.0.1@a"]);

    // A closed connection leaves the group.
    first.shutdown().await;
    let gone = tokio::time::timeout(T, async {
        loop {
            let r = call(&second, consumer_list("cg1")).await;
            if r.response_code() == ResponseCode::SYSTEM_ERROR {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(gone.is_ok(), "closed connection is unregistered");
    cluster.shutdown().await;
}

fn query_offset(group: &str, topic: &str, queue: i32) -> RemotingCommand {
    RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET).with_header(
        &QueryConsumerOffsetRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id: queue,
            set_zero_if_not_found: Some(false),
        },
    )
}

#[tokio::test]
async fn offsets_and_messages_survive_a_restart() {
    let mut cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "Durable", 2).await;
    for i in 0..3 {
        let r = send_v2(&c, "Durable", 1, None, format!("d{i}").as_bytes()).await;
        assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    }
    assert_eq!(
        call(&c, query_offset("cg", "Durable", 1))
            .await
            .response_code(),
        ResponseCode::QUERY_NOT_FOUND
    );
    let update = RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET).with_header(
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: "cg".into(),
            topic: "Durable".into(),
            queue_id: 1,
            commit_offset: 2,
        },
    );
    assert_eq!(
        call(&c, update).await.response_code(),
        ResponseCode::SUCCESS
    );
    // A pull carrying a commit for queue 0.
    let pull = RemotingCommand::request(RequestCode::PULL_MESSAGE).with_header(
        &PullMessageRequestHeader {
            consumer_group: "cg".into(),
            topic: "Durable".into(),
            queue_id: 0,
            queue_offset: 0,
            max_msg_nums: 32,
            sys_flag: sys_flag::COMMIT_OFFSET | sys_flag::SUBSCRIPTION,
            commit_offset: 5,
            subscription: Some("*".into()),
            ..PullMessageRequestHeader::default()
        },
    );
    call(&c, pull).await;

    cluster.restart_broker(0).await;
    let c = cluster.broker_client().await;
    for (queue, want) in [(1, 2), (0, 5)] {
        let r = call(&c, query_offset("cg", "Durable", queue)).await;
        assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
        let h: OffsetResponseHeader = r.decode_header().expect("offset");
        assert_eq!(h.offset, want);
    }
    let max = call(
        &c,
        RemotingCommand::request(RequestCode::GET_MAX_OFFSET).with_header(
            &GetMaxOffsetRequestHeader {
                topic: "Durable".into(),
                queue_id: 1,
                committed: true,
            },
        ),
    )
    .await;
    let h: OffsetResponseHeader = max.decode_header().expect("offset");
    assert_eq!(h.offset, 3);
    let got = pull_all(&c, "Durable", 1, "*", 3).await;
    assert_eq!(got[2].1, b"d2");
    cluster.shutdown().await;
}

#[tokio::test]
async fn finds_messages_by_key_and_by_offset_id() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    let p = props(Some("T"), Some("order-42 other"), "UK1");
    let resp = call(
        &c,
        RemotingCommand::request(RequestCode::SEND_MESSAGE)
            .with_header(&send_header("Keys", 0, &p))
            .with_body(bytes::Bytes::from_static(b"keyed")),
    )
    .await;
    let sent: SendMessageResponseHeader = resp.decode_header().expect("send header");
    // The index is written by the store's dispatcher right after the consume queue.
    pull_all(&c, "Keys", 0, "*", 1).await;

    let query = |key: &str| {
        RemotingCommand::request(RequestCode::QUERY_MESSAGE).with_header(
            &QueryMessageRequestHeader {
                topic: "Keys".into(),
                key: key.into(),
                max_num: 32,
                begin_timestamp: 0,
                end_timestamp: i64::MAX,
                unique_key_query: Some(false),
            },
        )
    };
    let r = tokio::time::timeout(T, async {
        loop {
            let r = call(&c, query("order-42")).await;
            if r.response_code() != ResponseCode::QUERY_NOT_FOUND {
                return r;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("indexed in time");
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert!(r.ext("indexLastUpdateTimestamp").is_some());
    let found = decode(r.body.as_deref().expect("body"));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1, b"keyed");
    let r = call(&c, query("missing")).await;
    assert_eq!(r.response_code(), ResponseCode::QUERY_NOT_FOUND);

    let (_, offset) = decode_offset_msg_id(&sent.msg_id).expect("offset id");
    let view = |offset: i64| {
        RemotingCommand::request(RequestCode::VIEW_MESSAGE_BY_ID).with_header(
            &ViewMessageRequestHeader {
                topic: None,
                offset,
            },
        )
    };
    let r = call(&c, view(i64::try_from(offset).expect("offset"))).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(decode(r.body.as_deref().expect("body"))[0].1, b"keyed");
    let r = call(&c, view(123_456_789)).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    cluster.shutdown().await;
}
