//! LOCK_BATCH_MQ (41) / UNLOCK_BATCH_MQ (42) with raw frames, as an orderly Java consumer sends
//! them: one client of a group owns a queue at a time; locks are renewed by their owner, expire
//! after the configured lifetime and are released when the owner's connection closes.

use crate::common;

use std::time::Duration;

use common::*;
use ferromq_net::Client;
use ferromq_remoting::body::lock::{LockBatchRequestBody, LockBatchResponseBody, MessageQueue};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

const GROUP: &str = "orderly-group";

fn mq(queue_id: i32) -> MessageQueue {
    MessageQueue {
        broker_name: "broker-a".into(),
        queue_id,
        topic: "Ordered".into(),
    }
}

fn body(client_id: &str, queues: &[i32]) -> LockBatchRequestBody {
    LockBatchRequestBody {
        client_id: client_id.into(),
        consumer_group: GROUP.into(),
        mq_set: queues.iter().map(|q| mq(*q)).collect(),
        only_this_broker: false,
    }
}

/// Sends LOCK_BATCH_MQ; returns the granted queue ids, sorted.
async fn lock(client: &Client, client_id: &str, queues: &[i32]) -> Vec<i32> {
    let resp = call(
        client,
        RemotingCommand::request(RequestCode::LOCK_BATCH_MQ)
            .with_body(body(client_id, queues).to_json()),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let granted =
        LockBatchResponseBody::from_json(resp.body.as_deref().expect("lock response body"))
            .expect("LockBatchResponseBody");
    let mut ids: Vec<i32> = granted
        .lock_ok_mq_set
        .iter()
        .map(|q| {
            assert_eq!(
                (q.topic.as_str(), q.broker_name.as_str()),
                ("Ordered", "broker-a")
            );
            q.queue_id
        })
        .collect();
    ids.sort_unstable();
    ids
}

async fn unlock(client: &Client, client_id: &str, queues: &[i32]) {
    let resp = call(
        client,
        RemotingCommand::request(RequestCode::UNLOCK_BATCH_MQ)
            .with_body(body(client_id, queues).to_json()),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    assert!(resp.body.is_none(), "{resp:?}");
}

/// Retries `lock` until it grants exactly `want`, within 10 s.
async fn lock_eventually(client: &Client, client_id: &str, queues: &[i32], want: &[i32]) {
    let what = format!("{client_id} to get {want:?}");
    ferromq_testkit::eventually_ok(Duration::from_secs(10), &what, || async {
        let got = lock(client, client_id, queues).await;
        if got == want {
            Ok(())
        } else {
            Err(format!("{client_id} still gets {got:?}, wants {want:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn one_owner_per_queue_until_it_unlocks() {
    let cluster = TestCluster::start().await;
    let (a, b) = (cluster.broker_client().await, cluster.broker_client().await);

    assert_eq!(lock(&a, "client-a", &[0, 1]).await, [0, 1]);
    // Held queues are refused to another client; free ones are granted.
    assert_eq!(lock(&b, "client-b", &[1, 2, 3]).await, [2, 3]);
    // Renewal by the owner, even over another connection, keeps the lock.
    assert_eq!(lock(&b, "client-a", &[0, 1]).await, [0, 1]);
    assert_eq!(lock(&a, "client-b", &[0, 1, 2]).await, [2]);
    // Another group locks independently.
    let mut other = body("client-b", &[0]);
    other.consumer_group = "another-group".into();
    let resp = call(
        &b,
        RemotingCommand::request(RequestCode::LOCK_BATCH_MQ).with_body(other.to_json()),
    )
    .await;
    let granted = LockBatchResponseBody::from_json(resp.body.as_deref().expect("body"))
        .expect("response body");
    assert_eq!(granted.lock_ok_mq_set, [mq(0)]);

    // Unlocking someone else's queue does nothing; unlocking one's own frees it.
    unlock(&b, "client-b", &[0, 1]).await;
    assert_eq!(lock(&b, "client-b", &[0, 1]).await, Vec::<i32>::new());
    unlock(&a, "client-a", &[1]).await;
    assert_eq!(lock(&b, "client-b", &[0, 1]).await, [1]);

    cluster.shutdown().await;
}

#[tokio::test]
async fn a_lock_not_renewed_expires_after_the_configured_lifetime() {
    let cluster = TestCluster::start_with(|c| c.rebalance_lock_max_live_ms = 1_000).await;
    let (a, b) = (cluster.broker_client().await, cluster.broker_client().await);

    assert_eq!(lock(&a, "client-a", &[0]).await, [0]);
    assert_eq!(lock(&b, "client-b", &[0]).await, Vec::<i32>::new());
    // client-a stays connected but stops renewing: the lock lapses and client-b takes it.
    lock_eventually(&b, "client-b", &[0], &[0]).await;
    assert_eq!(lock(&a, "client-a", &[0]).await, Vec::<i32>::new());

    cluster.shutdown().await;
}

#[tokio::test]
async fn locks_are_released_when_the_owner_disconnects() {
    // The default 60 s lifetime: only the disconnect can free the queues within the test.
    let cluster = TestCluster::start().await;
    let (a, b) = (cluster.broker_client().await, cluster.broker_client().await);

    assert_eq!(lock(&a, "client-a", &[0, 1]).await, [0, 1]);
    assert_eq!(lock(&b, "client-b", &[0, 1]).await, Vec::<i32>::new());
    a.shutdown().await;
    lock_eventually(&b, "client-b", &[0, 1], &[0, 1]).await;

    cluster.shutdown().await;
}

#[tokio::test]
async fn bad_lock_bodies_are_refused_with_a_remark() {
    let cluster = TestCluster::start().await;
    let client = cluster.broker_client().await;
    let cases: [(RequestCode, Option<&[u8]>); 4] = [
        (RequestCode::LOCK_BATCH_MQ, None),
        (RequestCode::LOCK_BATCH_MQ, Some(b"{not json")),
        (RequestCode::UNLOCK_BATCH_MQ, Some(b"[1,2]")),
        (
            RequestCode::LOCK_BATCH_MQ,
            Some(br#"{"consumerGroup":"","clientId":"c","mqSet":[]}"#),
        ),
    ];
    for (code, payload) in cases {
        let mut cmd = RemotingCommand::request(code);
        if let Some(p) = payload {
            cmd = cmd.with_body(bytes::Bytes::copy_from_slice(p));
        }
        let resp = call(&client, cmd).await;
        assert_eq!(
            resp.response_code(),
            ResponseCode::INVALID_PARAMETER,
            "{code:?} {resp:?}"
        );
        assert!(
            resp.remark.as_deref().is_some_and(|r| r.contains("body")),
            "{resp:?}"
        );
    }
    // The connection still serves requests.
    assert_eq!(lock(&client, "client-a", &[0]).await, [0]);
    cluster.shutdown().await;
}
