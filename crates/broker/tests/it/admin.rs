//! Admin requests as mqadmin sends them, and a SYNC_FLUSH broker.

use crate::common;

use common::*;
use ferromq_remoting::body::admin::{ConsumeStats, TopicStatsTable};
use ferromq_remoting::body::lists::KvTable;
use ferromq_remoting::body::register::{TopicConfig, TopicConfigSerializeWrapper};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::admin::{GetConsumeStatsRequestHeader, TopicRequestHeader};
use ferromq_remoting::headers::offset::UpdateConsumerOffsetRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_store::config::FlushMode;

fn topic_request(code: RequestCode, topic: &str) -> RemotingCommand {
    RemotingCommand::request(code).with_header(&TopicRequestHeader {
        topic: topic.into(),
    })
}

#[tokio::test]
async fn topic_admin_and_statistics() {
    let cluster = TestCluster::start_with(|c| c.flush_disk_type = FlushMode::SyncFlush).await;
    let c = cluster.broker_client().await;
    create_topic(&c, "Adm", 2).await;
    for i in 0..3 {
        let r = send_v2(&c, "Adm", 1, None, format!("a{i}").as_bytes()).await;
        assert_eq!(
            r.response_code(),
            ResponseCode::SUCCESS,
            "sync flush send: {r:?}"
        );
    }
    // Queues grow when the dispatcher catches up; a long-polling pull waits for that.
    let got = pull_all(&c, "Adm", 1, "*", 3).await;
    let offsets: Vec<u64> = got.iter().map(|m| m.0).collect();
    assert_eq!(offsets, [0, 1, 2]);

    let r = call(&c, topic_request(RequestCode::GET_TOPIC_CONFIG, "Adm")).await;
    let t = TopicConfig::from_json(r.body.as_deref().expect("body")).expect("topic config");
    assert_eq!((t.read_queue_nums, t.perm), (2, 6));

    let r = call(
        &c,
        RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG),
    )
    .await;
    let all =
        TopicConfigSerializeWrapper::from_json(r.body.as_deref().expect("body")).expect("wrapper");
    assert!(all.topic_config_table.contains_key("Adm"));
    assert!(all.topic_config_table.contains_key("TBW102"));

    let r = call(&c, topic_request(RequestCode::GET_TOPIC_STATS_INFO, "Adm")).await;
    let stats = TopicStatsTable::from_json(r.body.as_deref().expect("body")).expect("stats");
    let maxes: Vec<i64> = stats.offset_table.values().map(|o| o.max_offset).collect();
    assert_eq!(maxes, [0, 3]);

    let commit = RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET).with_header(
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: "cg".into(),
            topic: "Adm".into(),
            queue_id: 1,
            commit_offset: 1,
        },
    );
    assert_eq!(
        call(&c, commit).await.response_code(),
        ResponseCode::SUCCESS
    );
    let r = call(
        &c,
        RemotingCommand::request(RequestCode::GET_CONSUME_STATS).with_header(
            &GetConsumeStatsRequestHeader {
                consumer_group: "cg".into(),
                topic: None,
                topic_list: None,
            },
        ),
    )
    .await;
    let cs = ConsumeStats::from_json(r.body.as_deref().expect("body")).expect("consume stats");
    let q1 = cs
        .offset_table
        .iter()
        .find(|(mq, _)| mq.queue_id == 1)
        .map(|(_, o)| *o)
        .expect("queue 1");
    assert_eq!((q1.broker_offset, q1.consumer_offset), (3, 1));

    let r = call(
        &c,
        RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO),
    )
    .await;
    let kv = KvTable::from_json(r.body.as_deref().expect("body")).expect("kv");
    assert_eq!(
        kv.table.get("msgPutTotalTodayNow").map(String::as_str),
        Some("3")
    );

    let r = call(
        &c,
        topic_request(RequestCode::DELETE_TOPIC_IN_BROKER, "Adm"),
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let r = call(&c, topic_request(RequestCode::GET_TOPIC_CONFIG, "Adm")).await;
    assert_eq!(r.response_code(), ResponseCode::TOPIC_NOT_EXIST);
    cluster.shutdown().await;
}
