//! A network partition between the master and everything else: the master runs in its own network
//! namespace, joined to the root namespace (name server, controllers, replica) by a veth pair that
//! the test takes down. Within its lease the isolated master refuses writes, the controllers elect
//! the replica, and at no moment do both brokers take writes: the test probes both with sends all
//! along (the isolated one over a second veth pair that stays up) and checks, by the store
//! timestamps of what each took, that the old master's last write precedes the new master's first.
//! Once the link is back the old master rejoins as replica, the writes it took alone are gone, and
//! it ends with the same commit log, byte for byte; no acknowledged probe is lost.
//!
//! Needs root and iproute2 for `ip netns`: without them it says so and does not run, unless
//! `FERROMQ_REQUIRE_NETNS` is set (CI sets it and runs as root). Times are printed as
//! `failover: ...` lines.

use crate::cluster;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cluster::group::{Group, SETTLE};
use cluster::netns::Netns;
use cluster::traffic::{self, Attempt, Ledger, Outcome};
use cluster::{wait_for, BrokerSpec};
use ferromq_model::msg_id::decode_offset_msg_id;
use ferromq_model::record::{self, Entry};
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::headers::query::ViewMessageRequestHeader;
use ferromq_remoting::headers::send::{SendMessageRequestHeader, SendMessageRequestHeaderV2};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio_util::sync::CancellationToken;

const TOPIC: &str = "FailoverPartition";
/// The brokers' `controller_lease_ms` (the default).
const LEASE: Duration = Duration::from_millis(2500);
/// Longer than the brokers' `sync_flush_timeout_ms` (2 s): a master that stored a probe always
/// answers before it, so every write it took is attributed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Sends numbered probes to one broker directly (not through routes) until stopped, recording
/// each attempt under the broker's advertised address `name`.
fn probe(
    target: String,
    name: String,
    ledger: Ledger,
    token: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = Client::new(target, ClientConfig::default());
        let mut seq = 0u32;
        while !token.is_cancelled() {
            let body = format!("p-{name}-{seq:06}");
            let header = SendMessageRequestHeader {
                producer_group: "partition_probe".into(),
                topic: TOPIC.into(),
                default_topic: "TBW102".into(),
                default_topic_queue_nums: 4,
                queue_id: i32::try_from(seq % 4).expect("small"),
                sys_flag: 0,
                born_timestamp: 0,
                flag: 0,
                properties: Some(String::new()),
                reconsume_times: Some(0),
                unit_mode: Some(false),
                batch: Some(false),
                max_reconsume_times: None,
                broker_name: Some(cluster::GROUP.into()),
            };
            seq += 1;
            let cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
                .with_header(&SendMessageRequestHeaderV2(header))
                .with_body(Bytes::from(body.clone()));
            let sent_at = Instant::now();
            let answer = client.request(cmd, PROBE_TIMEOUT).await;
            let offset = answer
                .as_ref()
                .ok()
                .and_then(|r| r.ext("msgId"))
                .and_then(decode_offset_msg_id)
                .map(|(_, o)| o);
            let outcome = match answer {
                Ok(r) => match r.response_code() {
                    ResponseCode::SUCCESS => Outcome::Acked {
                        store_host: name.clone(),
                    },
                    ResponseCode::FLUSH_DISK_TIMEOUT
                    | ResponseCode::FLUSH_SLAVE_TIMEOUT
                    | ResponseCode::SLAVE_NOT_AVAILABLE => Outcome::Stored {
                        store_host: name.clone(),
                    },
                    code => {
                        Outcome::Failed(format!("refused: {code} {}", r.remark.unwrap_or_default()))
                    }
                },
                Err(e) => Outcome::Failed(format!("no answer: {e}")),
            };
            ledger.lock().push(Attempt {
                body,
                sent_at,
                done_at: Instant::now(),
                outcome,
                offset,
            });
            tokio::select! {
                () = token.cancelled() => {}
                () = tokio::time::sleep(Duration::from_millis(15)) => {}
            }
        }
        client.shutdown().await;
    })
}

/// The store timestamp (the broker's clock, ms) of the message at commit-log `offset` on the broker
/// at `addr`: when that broker took the write.
async fn store_time(addr: &str, offset: u64) -> i64 {
    let client = Client::new(addr, ClientConfig::default());
    let resp = client
        .request(
            RemotingCommand::request(RequestCode::VIEW_MESSAGE_BY_ID).with_header(
                &ViewMessageRequestHeader {
                    topic: None,
                    offset: i64::try_from(offset).expect("offset"),
                },
            ),
            Duration::from_secs(3),
        )
        .await
        .expect("view message");
    client.shutdown().await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let body = resp.body.expect("record");
    match record::read(&body, true).expect("valid record") {
        Entry::Message(v) => v.store_timestamp,
        other => panic!("not a message at {offset}: {other:?}"),
    }
}

/// Waits until `n` attempts sent after `since` satisfy `pred`; returns the first one.
async fn wait_probes(
    ledger: &Ledger,
    what: &str,
    since: Instant,
    n: usize,
    pred: impl Fn(&Attempt) -> bool,
) -> Attempt {
    wait_for(what, SETTLE, || {
        let hits: Vec<Attempt> = ledger
            .lock()
            .iter()
            .filter(|a| a.sent_at >= since && pred(a))
            .cloned()
            .collect();
        let first = (hits.len() >= n).then(|| hits[0].clone());
        async move { first }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_master_stops_before_the_replica_takes_over() {
    let Some(net) = Netns::create() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let master = BrokerSpec {
        id: 1,
        role: "SYNC_MASTER",
        // Reachable over both pairs; published with its link address.
        listen: SocketAddr::new([0, 0, 0, 0].into(), 0),
        advertised_ip: Some(net.link_ns_ip),
        netns: Some(net.name.clone()),
    };
    let replica = BrokerSpec {
        id: 2,
        role: "SYNC_MASTER",
        listen: SocketAddr::new(net.link_root_ip, 0),
        advertised_ip: None,
        netns: None,
    };
    let mut group = Group::start(dir.path(), net.link_root_ip, 1, [master, replica], TOPIC).await;
    let old = group.broker(1).addr.clone();
    let new = group.broker(2).addr.clone();
    let old_port = old.parse::<SocketAddr>().expect("addr").port();
    let old_via_probe = SocketAddr::new(net.probe_ns_ip, old_port).to_string();

    let ledger = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let token = CancellationToken::new();
    let tasks = [
        probe(
            old_via_probe.clone(),
            old.clone(),
            ledger.clone(),
            token.clone(),
        ),
        probe(new.clone(), new.clone(), ledger.clone(), token.clone()),
    ];
    let start = Instant::now();
    wait_probes(&ledger, "SEND_OK from the master", start, 30, |a| {
        a.acked_by(&old)
    })
    .await;

    net.cut();
    let cut = Instant::now();
    let refused = wait_probes(
        &ledger,
        "the isolated master refusing writes",
        cut,
        1,
        |a| {
            a.body.starts_with(&format!("p-{old}-"))
                && matches!(&a.outcome, Outcome::Failed(why) if why.starts_with("refused"))
        },
    )
    .await;
    let taken = wait_probes(&ledger, "writes taken by the replica", cut, 20, |a| {
        a.writer() == Some(new.as_str())
    })
    .await;
    eprintln!(
        "failover: partition: cut -> isolated master refuses {} ms, -> new master takes writes {} ms",
        refused.done_at.duration_since(cut).as_millis(),
        taken.done_at.duration_since(cut).as_millis()
    );

    // Both brokers run on this host, so their store timestamps share one clock: the last write
    // the old master took must be older than the first one the new master took. (Answer times
    // cannot show this: a SYNC_MASTER may answer a write it took long before, after waiting for its
    // replica in vain.)
    let attempts = ledger.lock().clone();
    let offsets = |addr: &str| {
        let mut o: Vec<u64> = attempts
            .iter()
            .filter(|a| a.writer() == Some(addr))
            .filter_map(|a| a.offset)
            .collect();
        o.sort_unstable();
        o
    };
    // The log is appended in time order: the last write is among the highest offsets, the first
    // among the lowest.
    let mut last_old = i64::MIN;
    for offset in offsets(&old).into_iter().rev().take(5) {
        last_old = last_old.max(store_time(&old_via_probe, offset).await);
    }
    let mut first_new = i64::MAX;
    for offset in offsets(&new).into_iter().take(5) {
        first_new = first_new.min(store_time(&new, offset).await);
    }
    assert!(
        last_old < first_new,
        "both took writes: the old master until {last_old} ms, the new one from {first_new} ms"
    );
    eprintln!(
        "failover: partition: store times: the old master's last write {} ms before the new \
         master's first",
        first_new - last_old
    );
    let first_new_answer = attempts
        .iter()
        .filter(|a| a.writer() == Some(new.as_str()))
        .map(|a| a.done_at)
        .min()
        .expect("the new master took writes");
    let last_old_answer = attempts
        .iter()
        .filter(|a| a.writer() == Some(old.as_str()))
        .map(|a| a.done_at)
        .max()
        .expect("the old master took writes");
    // The lease counts from a heartbeat sent before the cut: no write sent later than that (plus
    // the time to handle it) may be taken.
    let last_old_sent = attempts
        .iter()
        .filter(|a| a.writer() == Some(old.as_str()))
        .map(|a| a.sent_at)
        .max()
        .expect("the old master took writes");
    assert!(
        last_old_sent.saturating_duration_since(cut) < LEASE + Duration::from_millis(500),
        "the isolated master took a write sent {} ms after the cut",
        last_old_sent.saturating_duration_since(cut).as_millis()
    );
    eprintln!(
        "failover: partition: the old master answered its last write {} ms after the cut, the \
         new one its first {} ms after it",
        last_old_answer.saturating_duration_since(cut).as_millis(),
        first_new_answer.saturating_duration_since(cut).as_millis()
    );

    net.heal();
    let healed = Instant::now();
    let rejoined = group.wait_role(1, "SLAVE", SETTLE).await;
    group.wait_in_sync(1).await;
    eprintln!(
        "failover: partition healed -> old master reports SLAVE after {} ms, in sync after {} ms",
        rejoined.as_millis(),
        healed.elapsed().as_millis()
    );
    wait_probes(
        &ledger,
        "SEND_OK from the new master after the heal",
        healed,
        20,
        |a| a.acked_by(&new),
    )
    .await;
    assert_eq!(group.wait_master(2).await, 2, "one election");
    group.wait_route(2, 1).await;

    token.cancel();
    for t in tasks {
        t.await.expect("probe task");
    }
    let attempts = ledger.lock().clone();
    let bodies = traffic::read_topic(&group.namesrv.addr, TOPIC).await;
    let tally = traffic::check_against(&attempts, &bodies);
    // Nothing written to the isolated master after the cut reached the replica, so rejoining
    // must have cut all of it from the old master's log.
    let orphaned: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.sent_at >= cut && a.writer() == Some(old.as_str()))
        .collect();
    for a in &orphaned {
        assert!(
            !bodies.contains(&a.body),
            "{} was only on the isolated master, yet survived",
            a.body
        );
    }
    eprintln!(
        "failover: partition: {} probes, {} SEND_OK (all present), {} stored unacknowledged \
         ({} of them by the isolated master after the cut, all cut from its log on rejoining), \
         {} refused or unanswered",
        attempts.len(),
        tally.acked,
        tally.stored_unacked,
        orphaned.len(),
        tally.failed
    );
    let end = group.wait_converged().await;
    group.stop_and_compare(end);
    drop(group);
    drop(net);
}
