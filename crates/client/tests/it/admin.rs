//! The admin API against an in-process cluster.

use crate::common;

use common::*;
use ferromq_client::admin::{Admin, AdminConfig, GroupSpec, TopicSpec};
use ferromq_client::{ClientError, Message, MessageQueue, Producer};
use ferromq_remoting::ResponseCode;

async fn admin(cluster: &TestCluster) -> Admin {
    Admin::start(AdminConfig {
        namesrv_addrs: vec![cluster.namesrv()],
        ..AdminConfig::default()
    })
    .await
    .expect("admin")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn topics_clusters_and_messages() {
    let cluster = TestCluster::start().await;
    let admin = admin(&cluster).await;

    let brokers = admin.cluster_list().await.expect("cluster list");
    assert_eq!(brokers.len(), 1);
    let b = &brokers[0];
    assert_eq!(
        (b.cluster.as_str(), b.broker_name.as_str(), b.broker_id),
        ("DefaultCluster", "broker-a", 0)
    );
    assert_eq!(b.addr, cluster.broker().advertised_addr().to_string());
    assert!(!b.runtime.as_ref().expect("runtime info").is_empty());

    let spec = TopicSpec {
        read_queue_nums: 3,
        write_queue_nums: 3,
        ..TopicSpec::new("AdminTopic")
    };
    let written = admin
        .create_topic("DefaultCluster", &spec)
        .await
        .expect("create");
    assert_eq!(written, [cluster.broker().advertised_addr().to_string()]);
    let route = eventually("route of the new topic", || async {
        admin.topic_route("AdminTopic").await.ok()
    })
    .await;
    assert_eq!(route.queue_datas.len(), 1);
    assert_eq!(route.queue_datas[0].read_queue_nums, 3);
    assert_eq!(route.queue_datas[0].write_queue_nums, 3);
    assert!(admin
        .topic_list()
        .await
        .expect("list")
        .contains(&"AdminTopic".to_owned()));
    let err = admin
        .create_topic("NoSuchCluster", &spec)
        .await
        .expect_err("unknown cluster");
    assert!(matches!(err, ClientError::InvalidArgument(_)), "{err}");

    // Messages: by key, by unique id, by offset id, by queue offset; topic status.
    let producer = Producer::start(cluster.producer_config())
        .await
        .expect("producer");
    let mq = MessageQueue::new("AdminTopic", "broker-a", 1);
    let mut results = Vec::new();
    for i in 0..3 {
        let m = Message::new("AdminTopic", format!("body-{i}"))
            .with_keys([format!("key-{i}"), "common".into()]);
        results.push(producer.send_to_queue(m, &mq).await.expect("send"));
    }
    let status = eventually("topic status", || async {
        let s = admin.topic_status("AdminTopic").await.expect("status");
        (s.get(&mq).map(|q| q.max_offset) == Some(3)).then_some(s)
    })
    .await;
    assert_eq!(status.len(), 3);
    assert!(status[&mq].last_update_timestamp > 0);
    assert_eq!(
        status[&MessageQueue::new("AdminTopic", "broker-a", 0)].max_offset,
        0
    );

    let by_key = eventually("index", || async {
        let m = admin
            .query_messages_by_key("AdminTopic", "key-1", 32)
            .await
            .expect("query");
        (!m.is_empty()).then_some(m)
    })
    .await;
    assert_eq!(by_key.len(), 1);
    assert_eq!(&by_key[0].body[..], b"body-1");
    assert_eq!(
        admin
            .query_messages_by_key("AdminTopic", "common", 32)
            .await
            .expect("q")
            .len(),
        3
    );
    assert!(admin
        .query_messages_by_key("AdminTopic", "absent", 32)
        .await
        .expect("q")
        .is_empty());

    let by_offset_id = admin
        .query_message_by_id("AdminTopic", &results[2].offset_msg_id)
        .await
        .expect("by offset id")
        .expect("found");
    assert_eq!(&by_offset_id.body[..], b"body-2");
    assert_eq!(by_offset_id.broker_name, "broker-a");
    let by_uniq = admin
        .query_message_by_id("AdminTopic", &results[0].msg_id)
        .await
        .expect("by unique key")
        .expect("found");
    assert_eq!(&by_uniq.body[..], b"body-0");
    let at = admin
        .query_message_by_offset(&mq, 1)
        .await
        .expect("by offset")
        .expect("found");
    assert_eq!(&at.body[..], b"body-1");
    assert_eq!(
        admin
            .query_message_by_offset(&mq, 3)
            .await
            .expect("past end"),
        None
    );

    // Consumer groups: created where the broker supports it, refused with its code otherwise.
    match admin
        .create_consumer_group("DefaultCluster", &GroupSpec::new("admin-group"))
        .await
    {
        Ok(()) => {}
        Err(e) => assert_eq!(
            e.code(),
            Some(ResponseCode::REQUEST_CODE_NOT_SUPPORTED),
            "{e}"
        ),
    }

    admin
        .delete_topic("DefaultCluster", "AdminTopic")
        .await
        .expect("delete");
    let err = admin.topic_route("AdminTopic").await.expect_err("deleted");
    assert_eq!(err.code(), Some(ResponseCode::TOPIC_NOT_EXIST), "{err}");

    producer.shutdown().await;
    admin.shutdown().await;
    cluster.shutdown().await;
}
