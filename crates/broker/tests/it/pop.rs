//! POP consumption over the wire with the headers a Java 5.x client sends: every message popped and
//! acked exactly once, redelivery after the invisible time with the next attempt, a longer
//! invisible time, refused handles, dead-lettering after the last attempt, FIFO, long polling, and
//! nothing lost across a clean restart or a SIGKILL of the broker process.
//!
//! The crash test's broker runs in a child: this same test binary re-executed with an environment
//! variable naming the data folder.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use ferromq_broker::{Broker, BrokerConfig, BrokerHandle};
use ferromq_model::properties;
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::body::pop::{BatchAck, BatchAckMessageRequestBody};
use ferromq_remoting::body::records;
use ferromq_remoting::body::subscription_group::SubscriptionGroupConfig;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::offset::{OffsetResponseHeader, QueryConsumerOffsetRequestHeader};
use ferromq_remoting::headers::pop::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ChangeInvisibleTimeResponseHeader,
    PopMessageRequestHeader, PopMessageResponseHeader,
};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_store::FlushMode;
use tokio::net::TcpListener;

const CHILD_ENV: &str = "FERROMQ_POP_CRASH_CHILD_DIR";

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("ms fit")
}

/// One popped message as a Java client reads it.
#[derive(Debug, Clone)]
struct Popped {
    queue_id: u32,
    offset: u64,
    body: String,
    props: String,
    reconsume_times: i32,
    /// `POP_CK`: the receipt handle.
    handle: String,
    /// When the response arrived.
    at_ms: u64,
}

#[derive(Debug, Clone, Copy)]
struct Pop<'a> {
    group: &'a str,
    topic: &'a str,
    queue_id: i32,
    max: i32,
    invisible_ms: i64,
    poll_ms: i64,
    fifo: bool,
}

impl<'a> Pop<'a> {
    fn new(group: &'a str, topic: &'a str) -> Self {
        Pop {
            group,
            topic,
            queue_id: -1,
            max: 32,
            invisible_ms: 30_000,
            // Sends return before the consume queue has the message: the first pops wait for it.
            poll_ms: 5_000,
            fifo: false,
        }
    }

    fn request(&self) -> RemotingCommand {
        RemotingCommand::request(RequestCode::POP_MESSAGE).with_header(&PopMessageRequestHeader {
            consumer_group: self.group.into(),
            topic: self.topic.into(),
            queue_id: self.queue_id,
            max_msg_nums: self.max,
            invisible_time: self.invisible_ms,
            poll_time: self.poll_ms,
            born_time: i64::try_from(now_ms()).expect("fits"),
            init_mode: 0,
            exp_type: Some("TAG".into()),
            exp: Some("*".into()),
            order: Some(self.fifo),
            attempt_id: None,
        })
    }

    async fn run(&self, c: &Client) -> Vec<Popped> {
        let timeout = Duration::from_millis(u64::try_from(self.poll_ms).expect("positive"))
            + Duration::from_secs(10);
        let resp = c.request(self.request(), timeout).await.expect("response");
        let at_ms = now_ms();
        let h: PopMessageResponseHeader = resp.decode_header().expect("pop header");
        match resp.response_code() {
            ResponseCode::SUCCESS => {}
            ResponseCode::PULL_NOT_FOUND | ResponseCode::POLLING_TIMEOUT => return Vec::new(),
            other => panic!("pop answered {other:?}: {resp:?}"),
        }
        assert_eq!(h.invisible_time, self.invisible_ms);
        let body = resp.body.as_deref().expect("records");
        records::decode(body, true)
            .expect("valid records")
            .into_iter()
            .map(|r| {
                assert_eq!(r.topic, self.topic);
                Popped {
                    queue_id: r.queue_id,
                    offset: r.queue_offset,
                    body: String::from_utf8(r.body.to_vec()).expect("utf8"),
                    props: r.properties.to_owned(),
                    reconsume_times: r.reconsume_times,
                    handle: properties::get(r.properties, "POP_CK")
                        .expect("every popped message carries its handle")
                        .to_owned(),
                    at_ms,
                }
            })
            .collect()
    }
}

/// The pop without waiting.
fn now(pop: Pop<'_>) -> Pop<'_> {
    Pop { poll_ms: 0, ..pop }
}

/// The queue id and offset Java clients read from a handle (fields 7 and 8).
fn handle_position(handle: &str) -> (i32, i64) {
    let f: Vec<&str> = handle.split(' ').collect();
    (
        f[6].parse().expect("queue id"),
        f[7].parse().expect("offset"),
    )
}

async fn ack(c: &Client, group: &str, topic: &str, handle: &str) -> RemotingCommand {
    let (queue_id, offset) = handle_position(handle);
    call(
        c,
        RemotingCommand::request(RequestCode::ACK_MESSAGE).with_header(&AckMessageRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id,
            extra_info: handle.into(),
            offset,
            broker_name: None,
        }),
    )
    .await
}

async fn ack_ok(c: &Client, group: &str, topic: &str, m: &Popped) {
    let resp = ack(c, group, topic, &m.handle).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
}

/// CHANGE_MESSAGE_INVISIBLETIME; on success, the new handle built the way the Java client builds it.
async fn change_invisible(
    c: &Client,
    group: &str,
    topic: &str,
    handle: &str,
    invisible_ms: i64,
) -> Result<String, RemotingCommand> {
    let (queue_id, offset) = handle_position(handle);
    let broker = handle.split(' ').nth(5).expect("broker name").to_owned();
    let resp = call(
        c,
        RemotingCommand::request(RequestCode::CHANGE_MESSAGE_INVISIBLETIME).with_header(
            &ChangeInvisibleTimeRequestHeader {
                consumer_group: group.into(),
                topic: topic.into(),
                queue_id,
                extra_info: handle.into(),
                offset,
                invisible_time: invisible_ms,
                broker_name: None,
            },
        ),
    )
    .await;
    if resp.response_code() != ResponseCode::SUCCESS {
        return Err(resp);
    }
    let h: ChangeInvisibleTimeResponseHeader = resp.decode_header().expect("header");
    Ok(format!(
        "{offset} {} {} {} 0 {broker} {queue_id} {offset}",
        h.pop_time, h.invisible_time, h.revive_qid
    ))
}

async fn committed(c: &Client, group: &str, topic: &str, queue_id: i32) -> i64 {
    let resp = call(
        c,
        RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET).with_header(
            &QueryConsumerOffsetRequestHeader {
                consumer_group: group.into(),
                topic: topic.into(),
                queue_id,
                set_zero_if_not_found: None,
            },
        ),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let h: OffsetResponseHeader = resp.decode_header().expect("header");
    h.offset
}

async fn send_bodies(c: &Client, topic: &str, queue_id: i32, bodies: &[String]) {
    for b in bodies {
        let resp = send_v2(c, topic, queue_id, Some("TagA"), b.as_bytes()).await;
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    }
}

async fn set_retry_max_times(c: &Client, group: &str, times: i32) {
    let config = SubscriptionGroupConfig {
        retry_max_times: times,
        ..SubscriptionGroupConfig::named(group)
    };
    let resp = call(
        c,
        RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(config.to_json()),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
}

/// Pops (without acking) until `n` messages came, long-polling in between.
async fn pop_n(c: &Client, pop: &Pop<'_>, n: usize) -> Vec<Popped> {
    let mut got = Vec::new();
    let end = now_ms() + 20_000;
    while got.len() < n {
        assert!(now_ms() < end, "only {} of {n} popped: {got:?}", got.len());
        got.extend(pop.run(c).await);
    }
    got
}

#[tokio::test]
async fn every_message_is_popped_and_acked_exactly_once_in_queue_order() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "PopAll", 2).await;
    let mut sent = BTreeSet::new();
    for q in 0..2 {
        let bodies: Vec<String> = (0..15).map(|i| format!("q{q}-m{i}")).collect();
        send_bodies(&c, "PopAll", q, &bodies).await;
        sent.extend(bodies);
    }
    let pop = Pop {
        max: 8,
        poll_ms: 2_000,
        ..Pop::new("cg", "PopAll")
    };
    let got = pop_n(&c, &pop, 30).await;
    for m in &got {
        ack_ok(&c, "cg", "PopAll", m).await;
        assert_eq!(m.reconsume_times, 0, "a first delivery: {m:?}");
        assert_eq!(properties::get(&m.props, "TAGS"), Some("TagA"));
    }
    let bodies: Vec<&str> = got.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies.iter().copied().collect::<BTreeSet<_>>().len(),
        30,
        "no duplicates: {bodies:?}"
    );
    assert_eq!(
        bodies
            .iter()
            .map(|b| (*b).to_owned())
            .collect::<BTreeSet<_>>(),
        sent
    );
    for q in 0..2u32 {
        let in_queue: Vec<&Popped> = got.iter().filter(|m| m.queue_id == q).collect();
        let expected: Vec<String> = (0..15).map(|i| format!("q{q}-m{i}")).collect();
        let seen: Vec<String> = in_queue.iter().map(|m| m.body.clone()).collect();
        assert_eq!(seen, expected, "queue {q} in order");
        let offsets: Vec<u64> = in_queue.iter().map(|m| m.offset).collect();
        assert_eq!(offsets, (0..15).collect::<Vec<u64>>());
    }
    // Nothing more, and the group's progress reads like a pull consumer's.
    assert!(now(Pop::new("cg", "PopAll")).run(&c).await.is_empty());
    for q in 0..2 {
        assert_eq!(committed(&c, "cg", "PopAll", q).await, 15);
    }
    // A second ack of the same message is refused.
    let resp = ack(&c, "cg", "PopAll", &got[0].handle).await;
    assert_eq!(resp.response_code(), ResponseCode::NO_MESSAGE, "{resp:?}");
    cluster.shutdown().await;
}

#[tokio::test]
async fn an_unacked_message_comes_back_after_its_invisible_time_with_the_next_attempt() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "PopRetry", 1).await;
    send_bodies(&c, "PopRetry", 0, &["again".to_owned()]).await;
    let pop = Pop {
        invisible_ms: 1_000,
        poll_ms: 5_000,
        ..Pop::new("cg", "PopRetry")
    };
    let first = pop.run(&c).await;
    assert_eq!(first.len(), 1);
    // The broker's pop time, from the handle (`<offset> <popTime> ...`).
    let popped_at: u64 = first[0]
        .handle
        .split(' ')
        .nth(1)
        .expect("pop time")
        .parse()
        .expect("number");
    assert_eq!(first[0].reconsume_times, 0);
    // Invisible now.
    assert!(now(Pop::new("cg", "PopRetry")).run(&c).await.is_empty());
    let second = pop_n(&c, &pop, 1).await;
    assert_eq!(second[0].body, "again");
    assert_eq!(second[0].offset, first[0].offset);
    assert_eq!(second[0].reconsume_times, 1, "the second attempt");
    assert!(
        second[0].at_ms >= popped_at + 1_000,
        "redelivered before its invisible time ended"
    );
    // The first handle is stale now; the second acks.
    let resp = ack(&c, "cg", "PopRetry", &first[0].handle).await;
    assert_eq!(resp.response_code(), ResponseCode::NO_MESSAGE, "{resp:?}");
    assert!(resp.remark.as_deref().unwrap_or("").contains("stale"));
    ack_ok(&c, "cg", "PopRetry", &second[0]).await;
    assert_eq!(committed(&c, "cg", "PopRetry", 0).await, 1);
    cluster.shutdown().await;
}

#[tokio::test]
async fn changing_the_invisible_time_extends_it_and_replaces_the_handle() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "PopChange", 1).await;
    send_bodies(&c, "PopChange", 0, &["slow".to_owned()]).await;
    let pop = Pop {
        invisible_ms: 300,
        ..Pop::new("cg", "PopChange")
    };
    let first = pop.run(&c).await;
    assert_eq!(first.len(), 1);
    let changed_at = now_ms();
    let new_handle = change_invisible(&c, "cg", "PopChange", &first[0].handle, 4_000)
        .await
        .expect("changed");
    // Past the first invisible time, the message stays invisible (unless this machine stalled past
    // the new one).
    let waited = Pop {
        poll_ms: 1_500,
        ..Pop::new("cg", "PopChange")
    }
    .run(&c)
    .await;
    if let Some(m) = waited.first() {
        assert!(m.at_ms >= changed_at + 4_000, "came back early: {m:?}");
    }
    // The old handle no longer works; neither does a change on it.
    let resp = ack(&c, "cg", "PopChange", &first[0].handle).await;
    assert_eq!(resp.response_code(), ResponseCode::NO_MESSAGE, "{resp:?}");
    let refused = change_invisible(&c, "cg", "PopChange", &first[0].handle, 1_000).await;
    assert_eq!(
        refused.expect_err("stale").response_code(),
        ResponseCode::NO_MESSAGE
    );
    if waited.is_empty() {
        let resp = ack(&c, "cg", "PopChange", &new_handle).await;
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
        assert_eq!(committed(&c, "cg", "PopChange", 0).await, 1);
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn forged_and_garbled_handles_are_refused_with_a_code_and_a_remark() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "PopForge", 1).await;
    send_bodies(&c, "PopForge", 0, &["mine".to_owned()]).await;
    let got = Pop::new("cg", "PopForge").run(&c).await;
    assert_eq!(got.len(), 1);
    let real = got[0].handle.clone();
    let f: Vec<&str> = real.split(' ').collect();
    let token: u32 = f[3].parse().expect("token");
    let forged_token = format!(
        "{} {} {} {} 0 {} {} {}",
        f[0],
        f[1],
        f[2],
        (token + 1) % 1_000_000,
        f[5],
        f[6],
        f[7]
    );
    let other_broker = real.replace(f[5], "someone-else");
    for (handle, code) in [
        ("", ResponseCode::INVALID_PARAMETER),
        ("garbage", ResponseCode::INVALID_PARAMETER),
        ("1 2 3 4 0 b 0 1 2 3 4", ResponseCode::INVALID_PARAMETER),
        ("-1 2 3 4 0 b 0 -1", ResponseCode::INVALID_PARAMETER),
        (other_broker.as_str(), ResponseCode::INVALID_PARAMETER),
        (forged_token.as_str(), ResponseCode::NO_MESSAGE),
    ] {
        let resp = call(
            &c,
            RemotingCommand::request(RequestCode::ACK_MESSAGE).with_header(
                &AckMessageRequestHeader {
                    consumer_group: "cg".into(),
                    topic: "PopForge".into(),
                    queue_id: 0,
                    extra_info: handle.into(),
                    offset: 0,
                    broker_name: None,
                },
            ),
        )
        .await;
        assert_eq!(resp.response_code(), code, "{handle:?}: {resp:?}");
        assert!(
            !resp.remark.as_deref().unwrap_or("").is_empty(),
            "a remark says why: {resp:?}"
        );
    }
    // Another group cannot ack it with the real handle either.
    let resp = ack(&c, "other", "PopForge", &real).await;
    assert_eq!(resp.response_code(), ResponseCode::NO_MESSAGE, "{resp:?}");
    // Out-of-range requests are refused, the connection keeps working.
    let bad = Pop {
        invisible_ms: 0,
        ..Pop::new("cg", "PopForge")
    };
    let resp = call(&c, bad.request()).await;
    assert_eq!(resp.response_code(), ResponseCode::INVALID_PARAMETER);
    let bad = Pop {
        max: 0,
        ..Pop::new("cg", "PopForge")
    };
    let resp = call(&c, bad.request()).await;
    assert_eq!(resp.response_code(), ResponseCode::INVALID_PARAMETER);
    let resp = call(&c, RemotingCommand::request(RequestCode::POP_MESSAGE)).await;
    assert_eq!(resp.response_code(), ResponseCode::INVALID_PARAMETER);
    // The owner still acks.
    let resp = ack(&c, "cg", "PopForge", &real).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    cluster.shutdown().await;
}

#[tokio::test]
async fn after_the_last_attempt_the_message_goes_to_the_dlq_intact() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "PopDlq", 1).await;
    // One retry: two deliveries, then the dead-letter queue.
    set_retry_max_times(&c, "dg", 1).await;
    send_bodies(&c, "PopDlq", 0, &["doomed".to_owned(), "fine".to_owned()]).await;
    let pop = Pop {
        invisible_ms: 300,
        poll_ms: 3_000,
        ..Pop::new("dg", "PopDlq")
    };
    let first = pop_n(&c, &pop, 2).await;
    let fine = first.iter().find(|m| m.body == "fine").expect("fine");
    ack_ok(&c, "dg", "PopDlq", fine).await;
    let second = pop_n(&c, &pop, 1).await;
    assert_eq!(second[0].body, "doomed");
    assert_eq!(second[0].reconsume_times, 1);
    // Not acked again: it ends in %DLQ%dg, body and properties intact.
    let raw = ferromq_testkit::eventually(Duration::from_secs(10), "a dead letter", || {
        let c = &c;
        async move {
            let resp = call(c, pull_request("x", "%DLQ%dg", 0, 0, "*", None)).await;
            (resp.response_code() == ResponseCode::SUCCESS).then_some(resp)
        }
    })
    .await;
    let dead = common::decode(raw.body.as_deref().expect("body"));
    let (_, body, props, topic) = &dead[0];
    assert_eq!(topic, "%DLQ%dg");
    assert_eq!(body, b"doomed");
    assert_eq!(properties::get(props, "TAGS"), Some("TagA"));
    assert_eq!(properties::get(props, "UNIQ_KEY"), Some("UNIQ-doomed"));
    assert_eq!(properties::get(props, "DLQ_ORIGIN_TOPIC"), Some("PopDlq"));
    assert_eq!(properties::get(props, "POP_CK"), None);
    let rec = records::decode(raw.body.as_deref().expect("body"), true).expect("records");
    assert_eq!(rec[0].reconsume_times, 2, "both deliveries counted");
    // Never delivered again, and the group is done with the queue.
    assert!(now(Pop::new("dg", "PopDlq")).run(&c).await.is_empty());
    ferromq_testkit::eventually(Duration::from_secs(10), "offset committed", || {
        let c = &c;
        async move { (committed(c, "dg", "PopDlq", 0).await == 2).then_some(()) }
    })
    .await;
    let resp = ack(&c, "dg", "PopDlq", &second[0].handle).await;
    assert_eq!(resp.response_code(), ResponseCode::NO_MESSAGE, "{resp:?}");
    cluster.shutdown().await;
}

#[tokio::test]
async fn fifo_holds_the_next_message_of_a_queue_until_the_previous_is_acked() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "PopFifo", 1).await;
    let bodies: Vec<String> = (0..3).map(|i| format!("f{i}")).collect();
    send_bodies(&c, "PopFifo", 0, &bodies).await;
    let pop = Pop {
        max: 1,
        fifo: true,
        ..Pop::new("cg", "PopFifo")
    };
    let a = pop.run(&c).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].body, "f0");
    assert!(now(pop).run(&c).await.is_empty(), "f1 waits for f0's ack");
    // A waiting FIFO pop is answered when the ack unblocks the queue.
    let waiting = {
        let c2 = cluster.broker_client().await;
        tokio::spawn(async move {
            Pop {
                max: 1,
                fifo: true,
                poll_ms: 10_000,
                ..Pop::new("cg", "PopFifo")
            }
            .run(&c2)
            .await
        })
    };
    let broker = cluster.broker();
    ferromq_testkit::eventually_holds(Duration::from_secs(10), "pop parked", || {
        broker.parked_pulls() > 0
    })
    .await;
    ack_ok(&c, "cg", "PopFifo", &a[0]).await;
    let b = waiting.await.expect("joined");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].body, "f1");
    ack_ok(&c, "cg", "PopFifo", &b[0]).await;
    let last = pop.run(&c).await;
    assert_eq!(last[0].body, "f2");
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_long_polling_pop_returns_when_a_message_arrives() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "PopWait", 4).await;
    let waiting = {
        let c2 = cluster.broker_client().await;
        tokio::spawn(async move {
            Pop {
                poll_ms: 20_000,
                ..Pop::new("cg", "PopWait")
            }
            .run(&c2)
            .await
        })
    };
    let broker = cluster.broker();
    ferromq_testkit::eventually_holds(Duration::from_secs(10), "pop parked", || {
        broker.parked_pulls() >= 4
    })
    .await;
    send_bodies(&c, "PopWait", 2, &["hello".to_owned()]).await;
    let got = waiting.await.expect("joined");
    assert_eq!(
        got.len(),
        1,
        "answered by the arrival, not the end of the poll"
    );
    assert_eq!((got[0].body.as_str(), got[0].queue_id), ("hello", 2));
    cluster.shutdown().await;
}

#[tokio::test]
async fn batch_ack_acks_what_it_names() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "PopBatch", 1).await;
    let bodies: Vec<String> = (0..3).map(|i| format!("b{i}")).collect();
    send_bodies(&c, "PopBatch", 0, &bodies).await;
    let mut got = pop_n(&c, &Pop::new("cg", "PopBatch"), 3).await;
    got.sort_by_key(|m| m.offset);
    // One entry per message, as the Java client groups by the handle's start offset.
    let acks = got[..2]
        .iter()
        .map(|m| {
            let f: Vec<&str> = m.handle.split(' ').collect();
            BatchAck {
                consumer_group: "cg".into(),
                topic: "PopBatch".into(),
                retry: Some("0".into()),
                start_offset: f[0].parse().expect("offset"),
                queue_id: 0,
                revive_queue_id: f[3].parse().expect("token"),
                pop_time: f[1].parse().expect("pop time"),
                invisible_time: f[2].parse().expect("invisible"),
                bits: vec![1],
            }
        })
        .collect();
    let body = BatchAckMessageRequestBody {
        broker_name: None,
        acks,
    };
    let resp = call(
        &c,
        RemotingCommand::request(RequestCode::BATCH_ACK_MESSAGE).with_body(body.to_json()),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    assert_eq!(committed(&c, "cg", "PopBatch", 0).await, 2);
    let resp = ack(&c, "cg", "PopBatch", &got[0].handle).await;
    assert_eq!(resp.response_code(), ResponseCode::NO_MESSAGE);
    ack_ok(&c, "cg", "PopBatch", &got[2]).await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_restart_redelivers_exactly_what_was_not_acked() {
    let mut cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "PopRestart", 1).await;
    let bodies: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    send_bodies(&c, "PopRestart", 0, &bodies).await;
    let got = pop_n(&c, &Pop::new("cg", "PopRestart"), 10).await;
    let acked: BTreeSet<String> = ["r0", "r1", "r2", "r3", "r4", "r7"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    for m in got.iter().filter(|m| acked.contains(&m.body)) {
        ack_ok(&c, "cg", "PopRestart", m).await;
    }
    drop(c);
    cluster.restart_broker(0).await;
    let c = cluster.broker_client().await;
    let again = drain(&c, "cg", "PopRestart").await;
    // Exactly what was not acked: r7 was acked above the lowest unacked offset (r5), and the ack
    // journal keeps it from coming back.
    let expected: BTreeMap<String, usize> = ["r5", "r6", "r8", "r9"]
        .into_iter()
        .map(|b| (b.to_owned(), 1))
        .collect();
    assert_eq!(again, expected);
    assert_eq!(committed(&c, "cg", "PopRestart", 0).await, 10);
    cluster.shutdown().await;
}

#[tokio::test]
async fn delivery_attempts_keep_counting_across_restarts_and_the_last_dead_letters() {
    let mut cluster = TestCluster::start().await;
    let mut c = cluster.broker_client().await;
    create_topic(&c, "PopAttempts", 1).await;
    // Three deliveries, then the dead-letter queue.
    set_retry_max_times(&c, "ag", 2).await;
    send_bodies(
        &c,
        "PopAttempts",
        0,
        &["again".to_owned(), "done".to_owned()],
    )
    .await;
    // Invisible far beyond the test: only the restarts bring the message back.
    let pop = Pop {
        invisible_ms: 600_000,
        ..Pop::new("ag", "PopAttempts")
    };
    let first = pop_n(&c, &pop, 2).await;
    let done = first.iter().find(|m| m.body == "done").expect("done");
    ack_ok(&c, "ag", "PopAttempts", done).await;
    assert!(first.iter().all(|m| m.reconsume_times == 0), "{first:?}");
    for attempt in 2..=3 {
        drop(c);
        cluster.restart_broker(0).await;
        c = cluster.broker_client().await;
        let got = pop_n(&c, &pop, 1).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].body, "again");
        assert_eq!(got[0].reconsume_times, attempt - 1, "attempt {attempt}");
    }
    drop(c);
    cluster.restart_broker(0).await;
    let c = cluster.broker_client().await;
    // The third delivery was the last: after this restart it is dead-lettered, not delivered.
    let after = Pop {
        poll_ms: 500,
        ..pop
    };
    assert!(after.run(&c).await.is_empty());
    let raw = ferromq_testkit::eventually(Duration::from_secs(10), "a dead letter", || {
        let c = &c;
        async move {
            let resp = call(c, pull_request("x", "%DLQ%ag", 0, 0, "*", None)).await;
            (resp.response_code() == ResponseCode::SUCCESS).then_some(resp)
        }
    })
    .await;
    let rec = records::decode(raw.body.as_deref().expect("body"), true).expect("records");
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].body, &b"again"[..]);
    assert_eq!(rec[0].reconsume_times, 3, "the three deliveries counted");
    ferromq_testkit::eventually(Duration::from_secs(10), "offset committed", || {
        let c = &c;
        async move { (committed(c, "ag", "PopAttempts", 0).await == 2).then_some(()) }
    })
    .await;
    cluster.shutdown().await;
}

/// Pops and acks until a pop finds nothing; returns how often each body came.
async fn drain(c: &Client, group: &str, topic: &str) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    loop {
        let got = Pop {
            poll_ms: 500,
            ..Pop::new(group, topic)
        }
        .run(c)
        .await;
        if got.is_empty() {
            return seen;
        }
        for m in got {
            ack_ok(c, group, topic, &m).await;
            *seen.entry(m.body).or_default() += 1;
        }
    }
}

async fn start(config: BrokerConfig) -> BrokerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    Broker::start(config, listener)
        .await
        .expect("broker starts")
}

fn crash_config(dir: &Path) -> BrokerConfig {
    // A test may slow the offset writes down by leaving the interval in the folder.
    let offsets_every = std::fs::read_to_string(dir.join(OFFSET_FLUSH_FILE))
        .map_or(100, |ms| ms.trim().parse().expect("a number of ms"));
    BrokerConfig {
        store_root_dir: dir.join("store"),
        commit_log_file_size: 8 << 20,
        flush_disk_type: FlushMode::SyncFlush,
        flush_consumer_offset_interval_ms: offsets_every,
        ..BrokerConfig::default()
    }
}

const OFFSET_FLUSH_FILE: &str = "offset-flush-ms";

/// The child: a SYNC_FLUSH broker on the folder from the environment, serving until killed.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Should the parent die without killing us, its end of our stdin closes: exit then.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    rt.block_on(async move {
        let broker = start(crash_config(Path::new(&dir))).await;
        println!("READY {}", broker.local_addr());
        std::future::pending::<()>().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_message_and_redelivers_exactly_what_was_not_acked() {
    const N: usize = 40;
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) =
        common::spawn_crash_child("pop::crash_child", CHILD_ENV, dir.path()).await;
    let c = Client::connect(addr, ClientConfig::default())
        .await
        .expect("connect");
    create_topic(&c, "PopCrash", 2).await;
    let mut bodies = BTreeSet::new();
    for q in 0..2 {
        let list: Vec<String> = (0..N / 2).map(|i| format!("q{q}-c{i}")).collect();
        send_bodies(&c, "PopCrash", q, &list).await;
        bodies.extend(list);
    }
    // At the kill: the first half of each queue acked in order (moving the committed offset),
    // and of the second half every message but each third (acks above the lowest unacked offset);
    // the rest in flight.
    let got = pop_n(&c, &Pop::new("cg", "PopCrash"), N).await;
    let mut acked = BTreeSet::new();
    let half = u64::try_from(N / 4).expect("small");
    let mut ordered = got.clone();
    ordered.sort_by_key(|m| (m.queue_id, m.offset));
    for m in ordered
        .iter()
        .filter(|m| m.offset < half || m.offset % 3 != 0)
    {
        ack_ok(&c, "cg", "PopCrash", m).await;
        acked.insert(m.body.clone());
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    drop(c);

    let broker = start(crash_config(dir.path())).await;
    let c = Client::connect(broker.local_addr().to_string(), ClientConfig::default())
        .await
        .expect("connect");
    // Every ack was journaled before it was answered: none comes back, though the kill most likely
    // beat the write of the committed offsets.
    let expected: BTreeMap<String, usize> = bodies
        .iter()
        .filter(|b| !acked.contains(*b))
        .map(|b| (b.clone(), 1))
        .collect();
    // What was in flight comes back as its second delivery: the attempt survived the kill.
    let redelivered = pop_n(&c, &Pop::new("cg", "PopCrash"), expected.len()).await;
    let mut again: BTreeMap<String, usize> = BTreeMap::new();
    for m in &redelivered {
        assert_eq!(m.reconsume_times, 1, "{m:?}");
        ack_ok(&c, "cg", "PopCrash", m).await;
        *again.entry(m.body.clone()).or_default() += 1;
    }
    for (body, n) in drain(&c, "cg", "PopCrash").await {
        *again.entry(body).or_default() += n;
    }
    assert_eq!(again, expected);
    broker.shutdown().await;
}

/// The journal is rewritten once it grew by `COMPACT_AFTER` lines, keeping only what lies above
/// each queue's committed offset; that offset reaches its file only every few seconds. A kill
/// between the two once made the broker deliver again every message acked below the new offset
/// (tens of thousands under load): the rewrite must not drop what the offset file does not cover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_the_journal_was_rewritten_redelivers_no_acked_message() {
    use ferromq_broker::pop::journal::COMPACT_AFTER;
    // a delivery line and an ack line each: enough for one rewrite
    let n = usize::try_from(COMPACT_AFTER / 2).expect("small") + 100;
    let dir = tempfile::tempdir().expect("tempdir");
    // offsets written only at shutdown, which a kill skips
    std::fs::write(dir.path().join(OFFSET_FLUSH_FILE), "3600000").expect("write");
    let (mut child, addr) =
        common::spawn_crash_child("pop::crash_child", CHILD_ENV, dir.path()).await;
    let c = Client::connect(addr, ClientConfig::default())
        .await
        .expect("connect");
    create_topic(&c, "PopRewrite", 1).await;
    let bodies: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    send_bodies(&c, "PopRewrite", 0, &bodies).await;
    let acked = drain(&c, "cg", "PopRewrite").await;
    assert_eq!(acked.len(), n);
    assert!(acked.values().all(|times| *times == 1), "{acked:?}");
    // the revive pass rewrote the journal: far fewer lines than were appended
    let journal = dir.path().join("store/config/popAcks.log");
    ferromq_testkit::eventually_holds(Duration::from_secs(30), "the journal rewritten", || {
        std::fs::read_to_string(&journal).is_ok_and(|t| t.lines().count() < n)
    })
    .await;
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    drop(c);

    let broker = start(crash_config(dir.path())).await;
    let c = Client::connect(broker.local_addr().to_string(), ClientConfig::default())
        .await
        .expect("connect");
    let again = drain(&c, "cg", "PopRewrite").await;
    assert!(
        again.is_empty(),
        "{} acked messages delivered again",
        again.len()
    );
    broker.shutdown().await;
}

/// The protocol-neutral calls a v5 gRPC adapter makes, on a broker that also serves remoting.
#[tokio::test]
async fn service_calls_pop_change_and_dead_letter_on_request() {
    use ferromq_broker::error::BrokerError;
    use ferromq_broker::service::{PopRequest, Subscription};

    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "PopSvc", 1).await;
    send_bodies(&c, "PopSvc", 0, &["give-up".to_owned(), "keep".to_owned()]).await;
    let service = cluster.broker().service();
    let request = PopRequest {
        group: "sg".into(),
        topic: "PopSvc".into(),
        queue_id: Some(0),
        max_messages: 2,
        invisible: Duration::from_secs(30),
        poll: Some(Duration::from_secs(5)),
        subscription: Subscription::Expression {
            expression: Some("TagA".into()),
            kind: Some("TAG".into()),
        },
        fifo: false,
        client: "127.0.0.1:1".parse().expect("addr"),
    };
    let mut got = Vec::new();
    while got.len() < 2 {
        got.extend(service.pop(request.clone()).await.expect("pops"));
    }
    let give_up = &got[0];
    assert_eq!(&give_up.body[..], b"give-up");
    assert_eq!(give_up.delivery_attempt, 1);
    assert_eq!(give_up.msg_id, "UNIQ-give-up");
    assert_eq!(
        give_up.properties.get("TAGS").map(String::as_str),
        Some("TagA")
    );
    assert!(give_up.invisible_until_ms >= give_up.pop_time_ms + 30_000);

    let renewed = service
        .change_invisible("sg", "PopSvc", &got[1].handle, Duration::from_secs(60))
        .expect("changed");
    assert!(matches!(
        service.ack("sg", "PopSvc", &got[1].handle),
        Err(BrokerError::StaleReceiptHandle(_))
    ));
    assert!(matches!(
        service.change_invisible("sg", "PopSvc", &renewed, Duration::from_secs(86_400 * 365)),
        Err(BrokerError::InvalidArgument(_))
    ));
    assert!(matches!(
        service.ack("sg", "PopSvc", "not a handle"),
        Err(BrokerError::BadReceiptHandle(_))
    ));
    service.ack("sg", "PopSvc", &renewed).expect("acked");

    service
        .forward_to_dlq("sg", "PopSvc", &give_up.handle)
        .expect("dead-lettered");
    assert!(matches!(
        service.ack("sg", "PopSvc", &give_up.handle),
        Err(BrokerError::StaleReceiptHandle(_))
    ));
    let raw = ferromq_testkit::eventually(Duration::from_secs(10), "a dead letter", || {
        let c = &c;
        async move {
            let resp = call(c, pull_request("x", "%DLQ%sg", 0, 0, "*", None)).await;
            (resp.response_code() == ResponseCode::SUCCESS).then_some(resp)
        }
    })
    .await;
    let dead = common::decode(raw.body.as_deref().expect("body"));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1, b"give-up");
    assert_eq!(committed(&c, "sg", "PopSvc", 0).await, 2);
    let empty = PopRequest {
        poll: None,
        ..request
    };
    assert!(service.pop(empty).await.expect("pops").is_empty());
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_filtered_pop_delivers_only_matching_messages_and_skips_the_rest() {
    let cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "PopTags", 1).await;
    for (i, tag) in ["A", "B", "A", "B", "B", "A"].into_iter().enumerate() {
        let resp = send_v2(&c, "PopTags", 0, Some(tag), format!("{tag}{i}").as_bytes()).await;
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    }
    let pop = Pop::new("tg", "PopTags");
    let request = |exp: &str| {
        let mut cmd = pop.request();
        cmd.ext_fields.insert("exp".into(), exp.into());
        cmd
    };
    let mut got = Vec::new();
    let end = now_ms() + 20_000;
    while got.len() < 3 {
        assert!(now_ms() < end, "only {got:?}");
        let resp = c
            .request(request("A"), Duration::from_secs(15))
            .await
            .expect("response");
        if resp.response_code() == ResponseCode::SUCCESS {
            got.extend(common::decode(resp.body.as_deref().expect("body")));
        }
    }
    let bodies: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8(r.1.clone()).expect("utf8"))
        .collect();
    assert_eq!(bodies, ["A0", "A2", "A5"]);
    for (_, _, props, _) in &got {
        let handle = properties::get(props, "POP_CK").expect("handle");
        let resp = ack(&c, "tg", "PopTags", handle).await;
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    }
    // The B messages count as consumed for this group.
    assert_eq!(committed(&c, "tg", "PopTags", 0).await, 6);
    cluster.shutdown().await;
}

/// INVOKE_BROKER_TO_RESET_OFFSET (as mqadmin `resetOffsetByTime` or the console sends it) moves
/// where a POP group's next pop starts, also after the group popped and acked: what it had in
/// flight is forgotten (an old handle is refused) and every message from the new offset comes
/// again, once. The reset is journaled: after a restart, the acks from before it do not hide
/// messages the reset brought back.
#[tokio::test]
async fn a_reset_moves_where_the_next_pop_starts_even_across_a_restart() {
    async fn reset_to_start(c: &Client) {
        let resp = call(
            c,
            RemotingCommand::request(RequestCode::INVOKE_BROKER_TO_RESET_OFFSET).with_header(
                &ferromq_remoting::headers::admin::ResetOffsetRequestHeader {
                    group: "cg".into(),
                    topic: "PopReset".into(),
                    queue_id: -1,
                    offset: None,
                    timestamp: 0,
                    is_force: true,
                },
            ),
        )
        .await;
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    }
    let mut cluster = TestCluster::start().await;
    let c = cluster.broker_client().await;
    create_topic(&c, "PopReset", 1).await;
    let bodies: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    send_bodies(&c, "PopReset", 0, &bodies).await;
    let got = pop_n(&c, &Pop::new("cg", "PopReset"), 10).await;
    for m in got
        .iter()
        .filter(|m| ["r0", "r1", "r7"].contains(&m.body.as_str()))
    {
        ack_ok(&c, "cg", "PopReset", m).await;
    }
    let every: BTreeMap<String, usize> = bodies.iter().map(|b| (b.clone(), 1)).collect();

    reset_to_start(&c).await;
    assert_eq!(committed(&c, "cg", "PopReset", 0).await, 0);
    let in_flight = got.iter().find(|m| m.body == "r5").expect("r5");
    let resp = ack(&c, "cg", "PopReset", &in_flight.handle).await;
    assert_eq!(resp.response_code(), ResponseCode::NO_MESSAGE, "{resp:?}");
    assert_eq!(drain(&c, "cg", "PopReset").await, every);
    assert_eq!(committed(&c, "cg", "PopReset", 0).await, 10);

    // Everything acked, then reset again and restarted: all of it comes once more.
    reset_to_start(&c).await;
    drop(c);
    cluster.restart_broker(0).await;
    let c = cluster.broker_client().await;
    assert_eq!(drain(&c, "cg", "PopReset").await, every);
    cluster.shutdown().await;
}
