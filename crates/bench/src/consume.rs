//! The receiving side of the network benches: `--consumers` push consumers in one group, and the
//! bookkeeping of what they receive: latency from the stamp's due time to the receipt, distinct
//! messages per run, duplicates.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use ferromq_client::consumer::{ConsumeFrom, ConsumeStatus, PushConsumer, PushConsumerConfig};
use ferromq_client::MessageExt;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::cpu::{self, process_cpu_time};
use super::meter::{Meter, Progress, Recorder, RECV};
use super::net_args::{Limit, NetBenchArgs};
use super::net_report::{Latency, Summary};
use super::stamp::{unix_ns, Stamp};
use super::topic;

/// How long the consumers may take to be assigned every queue of the topic.
const ASSIGN_WAIT: Duration = Duration::from_secs(30);
const ASSIGN_POLL: Duration = Duration::from_millis(20);
/// Group of `bench consume` unless --group.
const DEFAULT_GROUP: &str = "ferromq_bench";
/// How often `bench consume --messages` checks whether the topic went quiet.
const IDLE_CHECK: Duration = Duration::from_millis(100);
/// Messages per pull and per callback: large enough that the callback hop is not the cost.
const BATCH: u32 = 32;

/// Which stamped messages count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Only this run's (e2e); others are counted as foreign and otherwise ignored.
    Run(u64),
    /// Every message (consume).
    All,
}

/// What the consumers received so far.
#[derive(Debug)]
pub struct Receipts {
    accept: Accept,
    /// Run id → bitset of the sequence numbers seen.
    seen: Mutex<HashMap<u64, Vec<u64>>>,
    distinct: AtomicU64,
    duplicates: AtomicU64,
    foreign: AtomicU64,
    last_receipt: Mutex<Option<Instant>>,
    /// Signalled when `distinct` + unstamped receipts reach `target`.
    target: AtomicU64,
    reached: Notify,
    unstamped: AtomicU64,
}

impl Receipts {
    pub fn new(accept: Accept) -> Arc<Receipts> {
        Arc::new(Receipts {
            accept,
            seen: Mutex::new(HashMap::new()),
            distinct: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            foreign: AtomicU64::new(0),
            last_receipt: Mutex::new(None),
            target: AtomicU64::new(u64::MAX),
            reached: Notify::new(),
            unstamped: AtomicU64::new(0),
        })
    }

    /// Distinct messages received (stamped ones by run and sequence, plus every unstamped one).
    pub fn received(&self) -> u64 {
        self.distinct.load(Ordering::Relaxed) + self.unstamped.load(Ordering::Relaxed)
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    pub fn foreign(&self) -> u64 {
        self.foreign.load(Ordering::Relaxed)
    }

    pub fn last_receipt(&self) -> Option<Instant> {
        *self.last_receipt.lock()
    }

    /// Resolves once [`received`](Self::received) reaches `target`.
    pub async fn wait_for(&self, target: u64) {
        self.target.store(target, Ordering::Relaxed);
        loop {
            let notified = self.reached.notified();
            if self.received() >= target {
                return;
            }
            notified.await;
        }
    }

    /// Books one callback's messages.
    fn book(&self, msgs: &[MessageExt], recorder: &Recorder) {
        self.book_bodies(msgs.iter().map(|m| &m.body[..]), recorder);
    }

    /// Books received bodies, whatever protocol brought them.
    pub(crate) fn book_bodies<'a>(
        &self,
        bodies: impl Iterator<Item = &'a [u8]>,
        recorder: &Recorder,
    ) {
        let now_wall = unix_ns(SystemTime::now());
        for body in bodies {
            let bytes = body.len() as u64;
            let Some(stamp) = Stamp::read(body) else {
                if self.accept == Accept::All {
                    self.unstamped.fetch_add(1, Ordering::Relaxed);
                    recorder.count(1, bytes);
                } else {
                    self.foreign.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            };
            if matches!(self.accept, Accept::Run(run) if run != stamp.run_id) {
                self.foreign.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if !self.first_sight(stamp.run_id, stamp.seq) {
                self.duplicates.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.distinct.fetch_add(1, Ordering::Relaxed);
            let latency = Duration::from_nanos(now_wall.saturating_sub(stamp.sent_unix_ns));
            recorder.record(latency, 1, bytes);
        }
        *self.last_receipt.lock() = Some(Instant::now());
        if self.received() >= self.target.load(Ordering::Relaxed) {
            self.reached.notify_waiters();
        }
    }

    /// Marks (run, seq) as seen; false when it was already.
    fn first_sight(&self, run: u64, seq: u64) -> bool {
        let mut seen = self.seen.lock();
        let bits = seen.entry(run).or_default();
        let (word, bit) = (usize::try_from(seq / 64).unwrap_or(usize::MAX), seq % 64);
        if word >= bits.len() {
            bits.resize(word + 1 + word / 2, 0);
        }
        let fresh = bits[word] & (1 << bit) == 0;
        bits[word] |= 1 << bit;
        fresh
    }
}

/// The consumers of one bench run.
#[derive(Debug)]
pub struct Consumers {
    members: Vec<PushConsumer>,
}

impl Consumers {
    /// Starts `--consumers` members of `group` subscribed to the whole topic and waits until they
    /// share all `queues` readable queues between them (each queue's start offset is fixed by then,
    /// so nothing sent afterwards is missed when starting from the end).
    pub async fn start(
        args: &NetBenchArgs,
        group: &str,
        from: ConsumeFrom,
        queues: u32,
        receipts: &Arc<Receipts>,
        meter: &Arc<Meter>,
    ) -> Result<Consumers> {
        let access = args.access.resolve()?;
        let mut members = Vec::new();
        for i in 0..args.consumers {
            let mut config = PushConsumerConfig::new(args.namesrv_addrs(), group)
                .subscribe(args.topic.clone(), "*");
            config.consume_from = from;
            config.pull_batch_size = BATCH;
            config.consume_batch_max = BATCH as usize;
            config.instance_name = Some(format!("bench-{}-{i}", std::process::id()));
            config.tls = access.tls.clone();
            config.credentials = access.credentials.clone();
            let receipts = receipts.clone();
            let recorder = meter.recorder();
            let consumer = PushConsumer::start(config, move |msgs| {
                receipts.book(&msgs, &recorder);
                ConsumeStatus::ConsumeSuccess
            })
            .await
            .context("starting a consumer")?;
            members.push(consumer);
        }
        let consumers = Consumers { members };
        consumers.wait_assigned(&args.topic, queues).await;
        Ok(consumers)
    }

    /// Waits until every queue of `topic` is owned by exactly one member: while a queue moves
    /// between members both may pull it, and messages sent then can arrive twice.
    async fn wait_assigned(&self, topic: &str, queues: u32) {
        let deadline = Instant::now() + ASSIGN_WAIT;
        loop {
            let mut owned: Vec<_> = self
                .members
                .iter()
                .flat_map(PushConsumer::assigned_queues)
                .filter(|q| q.topic == topic)
                .collect();
            let claims = owned.len();
            owned.sort();
            owned.dedup();
            if claims == owned.len() && owned.len() == queues as usize {
                return;
            }
            if Instant::now() >= deadline {
                warn!(
                    claims,
                    distinct = owned.len(),
                    queues,
                    "the group has not settled on one owner per queue; starting anyway"
                );
                return;
            }
            tokio::time::sleep(ASSIGN_POLL).await;
            // Members that joined after another's rebalance learn of each other here rather than
            // at the next periodic rebalance.
            for c in &self.members {
                c.rebalance().await;
            }
        }
    }

    /// Stops every member (committing its offsets).
    pub async fn shutdown(self) {
        for c in self.members {
            c.shutdown().await;
        }
    }
}

/// `bench consume`: joins the group and counts what arrives, for `--seconds`, or until
/// `--messages` arrived (or nothing did for `--drain-seconds`).
pub async fn bench(args: &NetBenchArgs, interrupt: CancellationToken) -> Result<Summary> {
    let queues = topic::ensure(
        &args.namesrv_addrs(),
        &args.access.resolve()?,
        &args.topic,
        args.queues,
    )
    .await?;
    let group = args.group.as_deref().unwrap_or(DEFAULT_GROUP);
    let from = if args.from_first {
        ConsumeFrom::FirstOffset
    } else {
        ConsumeFrom::LastOffset
    };
    let receipts = Receipts::new(Accept::All);
    let meter = Meter::new(RECV);
    // The clock starts before the group forms: with --from-first the members consume as soon as
    // they own a queue.
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let progress = Progress::start(vec![meter.clone()], started, args.quiet);
    let consumers = match Consumers::start(args, group, from, queues, &receipts, &meter).await {
        Ok(c) => c,
        Err(e) => {
            progress.finish().await;
            return Err(e);
        }
    };
    let ended = match args.limit() {
        Limit::Duration(d) => {
            tokio::select! {
                () = tokio::time::sleep_until((started + d).into()) => {}
                () = interrupt.cancelled() => {}
            }
            Instant::now()
        }
        Limit::Messages(n) => {
            let idle = Duration::from_secs_f64(args.drain_seconds);
            let wait = receipts.wait_for(n);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    () = &mut wait => break,
                    () = interrupt.cancelled() => break,
                    () = tokio::time::sleep(IDLE_CHECK) => {}
                }
                let last = receipts.last_receipt().unwrap_or(started);
                if last.elapsed() >= idle {
                    warn!(
                        received = receipts.received(),
                        wanted = n,
                        "nothing arrived for --drain-seconds; stopping"
                    );
                    break;
                }
            }
            receipts.last_receipt().unwrap_or_else(Instant::now)
        }
    };
    let cpu = cpu::used_since(cpu_before);
    let totals = progress.finish().await;
    consumers.shutdown().await;
    let received = receipts.received();
    let mut summary = Summary::new("consume", args);
    summary.received = received;
    summary.duplicates = receipts.duplicates();
    summary.latency = Latency::of(&totals[0]);
    summary.set_rates(
        received,
        meter.bytes(),
        ended.duration_since(started),
        cpu,
        received,
    );
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn message(body: Vec<u8>) -> MessageExt {
        MessageExt {
            topic: "T".into(),
            broker_name: "b".into(),
            queue_id: 0,
            queue_offset: 0,
            commit_log_offset: 0,
            store_timestamp: 0,
            born_timestamp: 0,
            born_host: ([127, 0, 0, 1], 1).into(),
            store_host: ([127, 0, 0, 1], 2).into(),
            body: Bytes::from(body),
            flag: 0,
            sys_flag: 0,
            body_crc: 0,
            properties: Default::default(),
            msg_id: String::new(),
            offset_msg_id: String::new(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    fn stamped(run_id: u64, seq: u64) -> MessageExt {
        let mut body = vec![0u8; 48];
        Stamp {
            run_id,
            seq,
            sent_unix_ns: unix_ns(SystemTime::now()),
        }
        .write(&mut body);
        message(body)
    }

    #[test]
    fn a_run_counts_distinct_messages_duplicates_and_foreign_ones() {
        let meter = Meter::new(RECV);
        let r = Receipts::new(Accept::Run(5));
        let rec = meter.recorder();
        r.book(&[stamped(5, 0), stamped(5, 1), stamped(5, 1000)], &rec);
        r.book(
            &[stamped(5, 1), stamped(6, 2), message(b"plain".to_vec())],
            &rec,
        );
        assert_eq!(r.received(), 3);
        assert_eq!(r.duplicates(), 1);
        assert_eq!(r.foreign(), 2);
        assert_eq!(
            meter.msgs(),
            3,
            "only this run's distinct messages are metered"
        );
        assert!(r.last_receipt().is_some());
    }

    #[test]
    fn consume_mode_accepts_every_run_and_unstamped_bodies() {
        let meter = Meter::new(RECV);
        let r = Receipts::new(Accept::All);
        let rec = meter.recorder();
        r.book(
            &[stamped(1, 0), stamped(2, 0), message(b"plain".to_vec())],
            &rec,
        );
        r.book(&[stamped(2, 0)], &rec);
        assert_eq!((r.received(), r.duplicates(), r.foreign()), (3, 1, 0));
    }

    #[tokio::test]
    async fn waiting_for_a_count_resolves_when_it_is_reached() {
        let meter = Meter::new(RECV);
        let r = Receipts::new(Accept::Run(1));
        let rec = meter.recorder();
        let waiter = tokio::spawn({
            let r = r.clone();
            async move { r.wait_for(2).await }
        });
        r.book(&[stamped(1, 0)], &rec);
        r.book(&[stamped(1, 1)], &rec);
        tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("resolves once two messages are in")
            .expect("no panic");
    }
}
