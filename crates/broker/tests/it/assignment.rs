//! Server-side queue assignment over the wire, as a Java 5.x remoting consumer with
//! `clientRebalance = false` uses it: QUERY_ASSIGNMENT shares a topic's queues among the group's
//! live consumers with the strategy the client names, SET_MESSAGE_REQUEST_MODE switches a group to
//! POP (and survives a restart, and reaches a replica), GET_ALL_MESSAGE_REQUEST_MODE lists the
//! modes, and bad requests get a code and a remark.

use crate::common;

use std::collections::BTreeSet;

use common::*;
use ferromq_broker::BrokerRole;
use ferromq_net::Client;
use ferromq_remoting::body::assignment::{
    MessageRequestMode, MessageRequestModeWrapper, QueryAssignmentRequestBody,
    QueryAssignmentResponseBody, SetMessageRequestModeRequestBody,
};
use ferromq_remoting::body::heartbeat::{
    ConsumeType, ConsumerData, HeartbeatData, MessageModel, SubscriptionData,
};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_testkit::{eventually, TestCluster};

/// A consumer of `group` subscribed to `topic`, registered on its own connection.
async fn join(cluster: &TestCluster, client_id: &str, group: &str, topic: &str) -> Client {
    let c = cluster.broker_client().await;
    let data = HeartbeatData {
        client_id: client_id.into(),
        consumer_data_set: vec![ConsumerData {
            group_name: group.into(),
            consume_type: Some(ConsumeType::ConsumePassively),
            message_model: Some(MessageModel::Clustering),
            subscription_data_set: vec![SubscriptionData {
                topic: topic.into(),
                sub_version: 1,
                ..SubscriptionData::default()
            }],
            ..ConsumerData::default()
        }],
        ..HeartbeatData::default()
    };
    let resp = call(
        &c,
        RemotingCommand::request(RequestCode::HEART_BEAT).with_body(data.to_json()),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    c
}

/// One assigned queue: (queue id, mode).
type Assigned = BTreeSet<(i32, MessageRequestMode)>;

async fn query_raw(
    c: &Client,
    group: &str,
    topic: &str,
    client_id: &str,
    strategy: &str,
    model: MessageModel,
) -> Option<Assigned> {
    let body = QueryAssignmentRequestBody {
        topic: topic.into(),
        consumer_group: group.into(),
        client_id: client_id.into(),
        strategy_name: strategy.into(),
        message_model: Some(model),
    };
    let resp = call(
        c,
        RemotingCommand::request(RequestCode::QUERY_ASSIGNMENT).with_body(body.to_json()),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let answer = QueryAssignmentResponseBody::from_json(resp.body.as_deref().expect("a body"))
        .expect("json");
    answer.message_queue_assignments.map(|list| {
        list.into_iter()
            .map(|a| {
                assert_eq!(a.message_queue.topic, topic);
                assert_eq!(a.message_queue.broker_name, "broker-a");
                (a.message_queue.queue_id, a.mode)
            })
            .collect()
    })
}

async fn query(c: &Client, group: &str, topic: &str, client_id: &str, strategy: &str) -> Assigned {
    query_raw(
        c,
        group,
        topic,
        client_id,
        strategy,
        MessageModel::Clustering,
    )
    .await
    .expect("a usable assignment")
}

fn pull(ids: impl IntoIterator<Item = i32>) -> Assigned {
    ids.into_iter()
        .map(|q| (q, MessageRequestMode::Pull))
        .collect()
}

fn pop(ids: impl IntoIterator<Item = i32>) -> Assigned {
    ids.into_iter()
        .map(|q| (q, MessageRequestMode::Pop))
        .collect()
}

fn set_mode_cmd(topic: &str, group: &str, mode: &str, share: i32) -> RemotingCommand {
    let body = format!(
        r#"{{"consumerGroup":"{group}","mode":"{mode}","popShareQueueNum":{share},"topic":"{topic}"}}"#
    );
    RemotingCommand::request(RequestCode::SET_MESSAGE_REQUEST_MODE).with_body(body.into_bytes())
}

async fn set_mode(c: &Client, topic: &str, group: &str, mode: &str, share: i32) {
    let resp = call(c, set_mode_cmd(topic, group, mode, share)).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
}

async fn all_modes(c: &Client) -> MessageRequestModeWrapper {
    let resp = call(
        c,
        RemotingCommand::request(RequestCode::GET_ALL_MESSAGE_REQUEST_MODE),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    MessageRequestModeWrapper::from_json(resp.body.as_deref().expect("a body")).expect("json")
}

#[tokio::test]
async fn pull_mode_shares_the_queues_among_the_live_consumers_by_the_named_strategy() {
    let cluster = TestCluster::start().await;
    let admin = cluster.broker_client().await;
    create_topic(&admin, "Assigned", 8).await;
    let _a = join(&cluster, "c-a", "cg", "Assigned").await;
    let b = join(&cluster, "c-b", "cg", "Assigned").await;
    let _c = join(&cluster, "c-c", "cg", "Assigned").await;

    // AVG over the sorted client ids: contiguous runs, the first ones longer.
    assert_eq!(
        query(&admin, "cg", "Assigned", "c-a", "AVG").await,
        pull(0..3)
    );
    assert_eq!(
        query(&admin, "cg", "Assigned", "c-b", "AVG").await,
        pull(3..6)
    );
    assert_eq!(
        query(&admin, "cg", "Assigned", "c-c", "AVG").await,
        pull(6..8)
    );
    assert_eq!(
        query(&admin, "cg", "Assigned", "c-b", "AVG_BY_CIRCLE").await,
        pull([1, 4, 7])
    );
    // Not a member: nothing. Broadcasting: everything.
    assert_eq!(
        query(&admin, "cg", "Assigned", "c-x", "AVG").await,
        pull([])
    );
    assert_eq!(
        query_raw(
            &admin,
            "cg",
            "Assigned",
            "c-x",
            "AVG",
            MessageModel::Broadcasting
        )
        .await,
        Some(pull(0..8))
    );
    // No usable answer (the client keeps what it has): an unknown strategy, topic or group.
    for (group, topic, strategy) in [
        ("cg", "Assigned", "CONSISTENT_HASH"),
        ("cg", "NoSuchTopic", "AVG"),
        ("nobody", "Assigned", "AVG"),
    ] {
        assert_eq!(
            query_raw(
                &admin,
                group,
                topic,
                "c-a",
                strategy,
                MessageModel::Clustering
            )
            .await,
            None,
            "{group} {topic} {strategy}"
        );
    }

    // A consumer leaves: the others share its queues.
    drop(b);
    eventually(T, "c-b's queues shared out", || {
        let admin = &admin;
        async move {
            let got = query(admin, "cg", "Assigned", "c-a", "AVG").await;
            (got == pull(0..4)).then_some(())
        }
    })
    .await;
    assert_eq!(
        query(&admin, "cg", "Assigned", "c-c", "AVG").await,
        pull(4..8)
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_group_switched_to_pop_is_assigned_pop_queues_and_the_mode_survives_a_restart() {
    let mut cluster = TestCluster::start().await;
    let admin = cluster.broker_client().await;
    create_topic(&admin, "PopMode", 8).await;
    let clients: Vec<Client> = {
        let mut v = Vec::new();
        for id in ["c0", "c1", "c2", "c3"] {
            v.push(join(&cluster, id, "cg", "PopMode").await);
        }
        v
    };
    assert_eq!(
        query(&admin, "cg", "PopMode", "c1", "AVG").await,
        pull([2, 3])
    );

    // Share 0: every consumer pops every queue (queue id -1: any queue of this broker).
    set_mode(&admin, "PopMode", "cg", "POP", 0).await;
    assert_eq!(query(&admin, "cg", "PopMode", "c1", "AVG").await, pop([-1]));
    // Share 1: its own queues and the next consumer's, wrapping round the sorted ids.
    set_mode(&admin, "PopMode", "cg", "POP", 1).await;
    assert_eq!(query(&admin, "cg", "PopMode", "c1", "AVG").await, pop(2..6));
    assert_eq!(
        query(&admin, "cg", "PopMode", "c3", "AVG").await,
        pop([6, 7, 0, 1])
    );
    // Share at least the number of other consumers: every queue again.
    set_mode(&admin, "PopMode", "cg", "POP", 3).await;
    assert_eq!(query(&admin, "cg", "PopMode", "c3", "AVG").await, pop([-1]));
    // Another group on the same topic is untouched.
    let _other = join(&cluster, "o0", "other", "PopMode").await;
    assert_eq!(
        query(&admin, "other", "PopMode", "o0", "AVG").await,
        pull(0..8)
    );

    let modes = all_modes(&admin).await;
    let set = &modes.message_request_mode_map["PopMode"]["cg"];
    assert_eq!(set.mode, Some(MessageRequestMode::Pop));
    assert_eq!(set.pop_share_queue_num, 3);
    assert_eq!(modes.message_request_mode_map["PopMode"].len(), 1);

    drop((admin, clients));
    cluster.restart_broker(0).await;
    let admin = cluster.broker_client().await;
    let _c0 = join(&cluster, "c0", "cg", "PopMode").await;
    assert_eq!(query(&admin, "cg", "PopMode", "c0", "AVG").await, pop([-1]));
    assert_eq!(all_modes(&admin).await, modes);
    // And back to pulling.
    set_mode(&admin, "PopMode", "cg", "PULL", 0).await;
    assert_eq!(
        query(&admin, "cg", "PopMode", "c0", "AVG").await,
        pull(0..8)
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn bad_mode_requests_get_a_code_and_a_remark() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    let resp = call(&c, set_mode_cmd("%RETRY%cg", "cg", "POP", 0)).await;
    assert_eq!(resp.response_code(), ResponseCode::NO_PERMISSION);
    assert_eq!(
        resp.remark.as_deref(),
        Some("retry topic is not allowed to set mode")
    );
    for (cmd, what) in [
        (set_mode_cmd("T", "cg", "PUSH", 0), "unknown mode"),
        (set_mode_cmd("", "cg", "POP", 0), "empty topic"),
        (set_mode_cmd("T", "", "POP", 0), "empty group"),
        (
            RemotingCommand::request(RequestCode::SET_MESSAGE_REQUEST_MODE),
            "no body",
        ),
        (
            RemotingCommand::request(RequestCode::SET_MESSAGE_REQUEST_MODE)
                .with_body(b"{not json".to_vec()),
            "garbled body",
        ),
        (
            RemotingCommand::request(RequestCode::QUERY_ASSIGNMENT),
            "no query body",
        ),
        (
            RemotingCommand::request(RequestCode::QUERY_ASSIGNMENT)
                .with_body(br#"{"topic":"T","consumerGroup":"cg","clientId":"c"}"#.to_vec()),
            "no message model",
        ),
    ] {
        let resp = call(&c, cmd).await;
        assert_eq!(
            resp.response_code(),
            ResponseCode::INVALID_PARAMETER,
            "{what}: {resp:?}"
        );
        assert!(resp.remark.is_some_and(|r| !r.is_empty()), "{what}");
    }
    // Nothing of that was stored, and the broker still answers.
    assert_eq!(all_modes(&c).await, MessageRequestModeWrapper::default());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_mirrors_the_request_modes() {
    let master = TestCluster::start_with(|c| {
        c.broker_role = BrokerRole::AsyncMaster;
        c.ha_listen_port = Some(0);
    })
    .await;
    let ns = master.ns().local_addr().to_string();
    let ha = master.broker().ha_addr().expect("HA listener").to_string();
    let m = master.broker_client().await;
    create_topic(&m, "Mirrored", 2).await;
    let replica = start_replica(&master.dir().join("replica"), &ns, 1, |c| {
        c.ha_master_address = Some(ha.clone());
    })
    .await;
    set_mode(&m, "Mirrored", "cg", "POP", 0).await;
    let r = client_of(&replica).await;
    let wanted = all_modes(&m).await;
    eventually(T, "the modes mirrored", || {
        let (r, wanted) = (&r, &wanted);
        async move { (all_modes(r).await == *wanted).then_some(()) }
    })
    .await;
    replica.shutdown().await;
    master.shutdown().await;
}

/// Every assignment of a query: (broker, queue id, mode).
async fn query_everywhere(
    c: &Client,
    group: &str,
    topic: &str,
    client_id: &str,
) -> Vec<(String, i32, MessageRequestMode)> {
    let body = QueryAssignmentRequestBody {
        topic: topic.into(),
        consumer_group: group.into(),
        client_id: client_id.into(),
        strategy_name: "AVG".into(),
        message_model: Some(MessageModel::Clustering),
    };
    let resp = call(
        c,
        RemotingCommand::request(RequestCode::QUERY_ASSIGNMENT).with_body(body.to_json()),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let answer = QueryAssignmentResponseBody::from_json(resp.body.as_deref().expect("a body"))
        .expect("json");
    let mut got: Vec<_> = answer
        .message_queue_assignments
        .expect("a usable assignment")
        .into_iter()
        .map(|a| {
            (
                a.message_queue.broker_name,
                a.message_queue.queue_id,
                a.mode,
            )
        })
        .collect();
    got.sort();
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queues_of_every_broker_of_the_topic_are_shared_out() {
    let cluster = TestCluster::builder()
        .brokers(["broker-a", "broker-b"])
        .start()
        .await;
    assert_eq!(
        create_topic_on_cluster(&cluster.namesrv(), "Spread", 2).await,
        2
    );
    let admin = cluster.broker_client().await;
    let _a = join(&cluster, "c-a", "cg", "Spread").await;
    let _b = join(&cluster, "c-b", "cg", "Spread").await;
    let pulled = |b: &str, q: i32| (b.to_owned(), q, MessageRequestMode::Pull);
    // Asked of broker-a, which learns broker-b's queues from the name server's route.
    eventually(T, "both brokers' queues shared out", || {
        let admin = &admin;
        async move {
            let got = query_everywhere(admin, "cg", "Spread", "c-b").await;
            (got == [pulled("broker-b", 0), pulled("broker-b", 1)]).then_some(())
        }
    })
    .await;
    assert_eq!(
        query_everywhere(&admin, "cg", "Spread", "c-a").await,
        [pulled("broker-a", 0), pulled("broker-a", 1)]
    );
    set_mode(&admin, "Spread", "cg", "POP", 0).await;
    let popped = |b: &str| (b.to_owned(), -1, MessageRequestMode::Pop);
    assert_eq!(
        query_everywhere(&admin, "cg", "Spread", "c-a").await,
        [popped("broker-a"), popped("broker-b")]
    );
    cluster.shutdown().await;
}

#[test]
fn the_set_body_is_what_java_writes() {
    let body = SetMessageRequestModeRequestBody::from_json(
        br#"{"consumerGroup":"cg","mode":"POP","popShareQueueNum":0,"topic":"T"}"#,
    )
    .expect("decodes");
    assert_eq!(body.mode, Some(MessageRequestMode::Pop));
}
