//! Long polling: a parked pull is answered as soon as a message arrives, and with PULL_NOT_FOUND
//! when its hold time runs out.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use ferromq_remoting::headers::pull::PullMessageResponseHeader;
use ferromq_remoting::ResponseCode;

#[tokio::test]
async fn parked_pull_returns_when_a_message_arrives() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "LP", 1).await;

    let started = Instant::now();
    // Held for up to 20 s unless woken.
    let pull = tokio::spawn({
        let c = c.clone();
        async move { call(&c, pull_request("cg", "LP", 0, 0, "*", Some(20_000))).await }
    });
    while cluster.broker().parked_pulls() == 0 {
        tokio::task::yield_now().await;
    }
    let sent = send_v2(&c, "LP", 0, None, b"wake").await;
    assert_eq!(sent.response_code(), ResponseCode::SUCCESS);
    let resp = pull.await.expect("pull task");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let got = decode(resp.body.as_deref().expect("body"));
    assert_eq!(got[0].1, b"wake");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woken, not timed out"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn parked_pull_times_out_with_not_found() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "Quiet", 1).await;
    let sent = send_v2(&c, "Quiet", 0, None, b"one").await;
    assert_eq!(sent.response_code(), ResponseCode::SUCCESS);
    // Read past the message, then wait at the end of the queue.
    let first = pull_all(&c, "Quiet", 0, "*", 1).await;
    assert_eq!(first.len(), 1);
    let resp = call(&c, pull_request("cg", "Quiet", 0, 1, "*", Some(200))).await;
    assert_eq!(resp.response_code(), ResponseCode::PULL_NOT_FOUND);
    let h: PullMessageResponseHeader = resp.decode_header().expect("header");
    assert_eq!((h.next_begin_offset, h.max_offset), (1, 1));
    // A message for another queue's tag filter does not wake a filtered pull by mistake: the
    // filtered pull sees a non-matching message and asks to retry from further on.
    let sent = send_v2(&c, "Quiet", 0, Some("Other"), b"two").await;
    assert_eq!(sent.response_code(), ResponseCode::SUCCESS);
    let resp = call(&c, pull_request("cg", "Quiet", 0, 1, "Mine", Some(5_000))).await;
    assert!(
        [
            ResponseCode::PULL_RETRY_IMMEDIATELY,
            ResponseCode::PULL_NOT_FOUND
        ]
        .contains(&resp.response_code()),
        "{resp:?}"
    );
    cluster.shutdown().await;
}
