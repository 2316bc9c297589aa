//! Continuous sends with a ledger of every attempt, and the check of a topic's contents against it.
//!
//! Every attempt sends a new numbered body exactly once (the producer does not retry), so a body
//! can be stored at most once: the ledger says exactly how often each body may appear (0 or 1)
//! and which bodies must appear (those answered SEND_OK).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferromq_client::consumer::{PullConsumer, PullConsumerConfig, PullStatus};
use ferromq_client::{Message, Producer, ProducerConfig, SendStatus};
use ferromq_model::msg_id::decode_offset_msg_id;
use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// SEND_OK from the broker at `store_host`: must never be lost.
    Acked { store_host: String },
    /// Stored by `store_host` but not replicated as asked (SLAVE_NOT_AVAILABLE, FLUSH_SLAVE_TIMEOUT,
    /// FLUSH_DISK_TIMEOUT): may be there or not, once at most.
    Stored { store_host: String },
    /// No answer or a refusal: may be there (the broker stored it before it died) or not.
    Failed(String),
}

/// One send attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub body: String,
    pub sent_at: Instant,
    pub done_at: Instant,
    pub outcome: Outcome,
    /// Commit-log offset the broker stored it at, when it said so.
    pub offset: Option<u64>,
}

impl Attempt {
    /// The broker that took the write (acknowledged or only stored), if any.
    pub fn writer(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Acked { store_host } | Outcome::Stored { store_host } => Some(store_host),
            Outcome::Failed(_) => None,
        }
    }

    pub fn acked_by(&self, addr: &str) -> bool {
        matches!(&self.outcome, Outcome::Acked { store_host } if store_host == addr)
    }
}

/// Every attempt so far, in order.
pub type Ledger = Arc<Mutex<Vec<Attempt>>>;

/// A producer task sending numbered bodies to `topic` one after another until stopped.
pub struct Sender {
    pub ledger: Ledger,
    token: CancellationToken,
    task: JoinHandle<()>,
}

impl Sender {
    pub async fn start(namesrv: &str, topic: &str) -> Sender {
        let producer = Producer::start(ProducerConfig {
            namesrv_addrs: vec![namesrv.to_owned()],
            group: "failover_producer".into(),
            send_timeout: Duration::from_secs(2),
            // One attempt per body: the ledger then bounds how often each body may be stored.
            retries_on_failure: 0,
            route_refresh_interval: Duration::from_millis(200),
            ..ProducerConfig::default()
        })
        .await
        .expect("producer");
        let ledger = Ledger::default();
        let token = CancellationToken::new();
        let task = tokio::spawn(send_loop(
            producer,
            topic.to_owned(),
            ledger.clone(),
            token.clone(),
        ));
        Sender {
            ledger,
            token,
            task,
        }
    }

    /// The attempts so far.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.ledger.lock().clone()
    }

    /// Stops after the attempt in flight; returns every attempt.
    pub async fn stop(self) -> Vec<Attempt> {
        self.token.cancel();
        self.task.await.expect("send task");
        let attempts = self.ledger.lock().clone();
        attempts
    }
}

async fn send_loop(producer: Producer, topic: String, ledger: Ledger, token: CancellationToken) {
    let mut seq = 0u64;
    while !token.is_cancelled() {
        let body = format!("f-{seq:07}");
        seq += 1;
        let sent_at = Instant::now();
        let mut offset = None;
        let outcome = match producer.send(Message::new(&topic, body.clone())).await {
            Ok(r) => {
                let stored_at = decode_offset_msg_id(&r.offset_msg_id);
                offset = stored_at.map(|(_, o)| o);
                let store_host = stored_at.map(|(a, _)| a.to_string()).unwrap_or_default();
                if r.status == SendStatus::SendOk {
                    Outcome::Acked { store_host }
                } else {
                    Outcome::Stored { store_host }
                }
            }
            Err(e) => Outcome::Failed(e.to_string()),
        };
        let failed = matches!(outcome, Outcome::Failed(_));
        ledger.lock().push(Attempt {
            body,
            sent_at,
            done_at: Instant::now(),
            outcome,
            offset,
        });
        // Pacing, not synchronisation: a few hundred sends a second are plenty, and a dead
        // master answers at once with a connection error.
        let pause = if failed { 20 } else { 3 };
        tokio::select! {
            () = token.cancelled() => {}
            () = tokio::time::sleep(Duration::from_millis(pause)) => {}
        }
    }
    producer.shutdown().await;
}

/// Every body stored in `topic`, read from the start of each queue through the current master.
pub async fn read_topic(namesrv: &str, topic: &str) -> Vec<String> {
    let consumer = PullConsumer::start(PullConsumerConfig {
        namesrv_addrs: vec![namesrv.to_owned()],
        group: "failover_reader".into(),
        ..PullConsumerConfig::default()
    })
    .await
    .expect("consumer");
    let queues = consumer.fetch_queues(topic).await.expect("queues");
    assert!(!queues.is_empty(), "{topic} has queues");
    let mut bodies = Vec::new();
    for mq in &queues {
        // Read up to the end the master reports, polling as a consumer does: a pull served by a
        // replica that is a moment behind may answer "no new message" early.
        let end = consumer.max_offset(mq).await.expect("max offset");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut queue = Vec::new();
        let mut offset = 0;
        while offset < end {
            let r = consumer.pull(mq, offset, 64, "*").await.expect("pull");
            queue.extend(
                r.messages
                    .iter()
                    .map(|m| String::from_utf8(m.body.to_vec()).expect("utf8 body")),
            );
            if matches!(r.status, PullStatus::NoNewMsg) || r.next_offset == offset {
                assert!(
                    Instant::now() < deadline,
                    "{mq}: pulls stop at offset {offset}, the queue ends at {end}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            offset = offset.max(r.next_offset);
        }
        check_order(&queue);
        bodies.extend(queue);
    }
    consumer.shutdown().await;
    bodies
}

/// Each sender numbers its bodies `<sender>-<n>` and sends one at a time, so within a queue every
/// sender's numbers must increase: a failover may drop unacknowledged messages, never reorder.
fn check_order(queue: &[String]) {
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for body in queue {
        let (sender, n) = body.rsplit_once('-').expect("numbered body");
        let n: u64 = n.parse().expect("body number");
        if let Some(prev) = last.insert(sender, n) {
            assert!(
                prev < n,
                "{sender}-{n} stored after {sender}-{prev} in one queue"
            );
        }
    }
}

/// What a topic held compared with the ledger.
#[derive(Debug, Default)]
pub struct Tally {
    pub acked: usize,
    pub stored_unacked: usize,
    pub failed: usize,
    /// Not-acknowledged attempts that are in the topic anyway.
    pub unacked_present: usize,
    /// Why attempts failed: the error text with digits blanked (addresses, offsets), and how often.
    pub failures: BTreeMap<String, usize>,
}

/// Asserts that every acknowledged body is in `bodies`, that no body appears more often than it
/// was sent (once), and that nothing else is there.
pub fn check_against(attempts: &[Attempt], bodies: &[String]) -> Tally {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for b in bodies {
        *counts.entry(b.as_str()).or_default() += 1;
    }
    let mut tally = Tally::default();
    let mut lost = Vec::new();
    for a in attempts {
        let n = counts.remove(a.body.as_str()).unwrap_or(0);
        assert!(n <= 1, "{} sent once, stored {n} times", a.body);
        match a.outcome {
            Outcome::Acked { .. } => {
                tally.acked += 1;
                if n == 0 {
                    lost.push(a.body.clone());
                }
            }
            Outcome::Stored { .. } => tally.stored_unacked += 1,
            Outcome::Failed(ref why) => {
                tally.failed += 1;
                let kind: String = why
                    .chars()
                    .map(|c| if c.is_ascii_digit() { '#' } else { c })
                    .take(100)
                    .collect();
                *tally.failures.entry(kind).or_default() += 1;
            }
        }
        if n == 1 && !matches!(a.outcome, Outcome::Acked { .. }) {
            tally.unacked_present += 1;
        }
    }
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost: {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    assert!(
        counts.is_empty(),
        "bodies that were never sent: {:?}",
        counts.keys().take(20).collect::<Vec<_>>()
    );
    tally
}
