//! The console's charts: one sample of the broker's message totals and lag every ten seconds,
//! kept for the last hour in a ring owned by one background task. Rates come from the difference
//! of consecutive samples, so a page reload or a second browser costs nothing.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use ferromq_broker::service::MetricsSnapshot;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::Target;

/// Time between samples.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Samples kept: one hour.
pub const CAPACITY: usize = 360;

/// One point of the charts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Point {
    pub at_ms: i64,
    /// Messages stored per second since the previous sample (0 for the first).
    pub tps_in: f64,
    /// Messages delivered per second since the previous sample.
    pub tps_out: f64,
    /// Messages stored past every group's committed offset, summed.
    pub lag: u64,
}

/// Totals at one moment, to difference with the next.
#[derive(Debug, Clone, Default)]
struct Totals {
    at_ms: i64,
    stored: BTreeMap<String, u64>,
    delivered: BTreeMap<String, u64>,
}

/// Per-second rates of one topic over the last interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rates {
    pub tps_in: f64,
    pub tps_out: f64,
}

#[derive(Debug, Default)]
struct Inner {
    points: VecDeque<Point>,
    last: Option<Totals>,
    topics: BTreeMap<String, Rates>,
}

/// The ring the sampler fills and the API reads.
#[derive(Debug, Default)]
pub struct Charts {
    inner: Mutex<Inner>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^53
fn rate(now: u64, before: u64, secs: f64) -> f64 {
    now.saturating_sub(before) as f64 / secs
}

impl Charts {
    /// Adds a sample of `m` taken at `at_ms`, dropping the oldest beyond [`CAPACITY`].
    pub fn record(&self, m: &MetricsSnapshot, at_ms: i64) {
        let mut totals = Totals {
            at_ms,
            ..Totals::default()
        };
        for t in &m.topics {
            *totals.stored.entry(t.topic.clone()).or_default() += t.messages;
        }
        for g in &m.groups {
            *totals.delivered.entry(g.topic.clone()).or_default() += g.messages;
        }
        let lag = m.lags.iter().map(|l| l.lag_messages).sum();
        let mut inner = self.inner.lock();
        let mut point = Point {
            at_ms,
            tps_in: 0.0,
            tps_out: 0.0,
            lag,
        };
        if let Some(last) = &inner.last {
            #[allow(clippy::cast_precision_loss)]
            let secs = ((at_ms - last.at_ms).max(1) as f64) / 1000.0;
            let mut topics = BTreeMap::new();
            for (topic, n) in &totals.stored {
                let before = last.stored.get(topic).copied().unwrap_or(0);
                topics
                    .entry(topic.clone())
                    .or_insert_with(Rates::default)
                    .tps_in = rate(*n, before, secs);
            }
            for (topic, n) in &totals.delivered {
                let before = last.delivered.get(topic).copied().unwrap_or(0);
                topics
                    .entry(topic.clone())
                    .or_insert_with(Rates::default)
                    .tps_out = rate(*n, before, secs);
            }
            point.tps_in = topics.values().map(|r| r.tps_in).sum();
            point.tps_out = topics.values().map(|r| r.tps_out).sum();
            inner.topics = topics;
        }
        inner.last = Some(totals);
        inner.points.push_back(point);
        while inner.points.len() > CAPACITY {
            inner.points.pop_front();
        }
    }

    /// Every sample kept, oldest first.
    pub fn points(&self) -> Vec<Point> {
        self.inner.lock().points.iter().copied().collect()
    }

    /// The latest rates of each topic (empty before the second sample).
    pub fn topic_rates(&self) -> BTreeMap<String, Rates> {
        self.inner.lock().topics.clone()
    }

    /// The latest point, if any.
    pub fn latest(&self) -> Option<Point> {
        self.inner.lock().points.back().copied()
    }
}

/// Samples `target` into `charts` every `every` until `stop`; a first sample at once.
pub fn spawn(
    target: Arc<RwLock<Target>>,
    charts: Arc<Charts>,
    every: Duration,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Target::Broker(service) = target.read().clone() else {
                continue;
            };
            // Lag reads the store: off the async workers, as a scrape does.
            match tokio::task::spawn_blocking(move || service.metrics()).await {
                Ok(m) => charts.record(&m, now_ms()),
                Err(e) => debug!(error = %e, "chart sample failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use ferromq_broker::meters::{GroupCounts, TopicCounts};
    use ferromq_broker::service::{NodeInfo, QueueLag, StorageInfo};
    use ferromq_broker::BrokerRole;

    use super::*;

    fn snapshot(stored: u64, delivered: u64, lag: u64) -> MetricsSnapshot {
        MetricsSnapshot {
            node: NodeInfo {
                cluster: "c".into(),
                broker_name: "b".into(),
                broker_id: 0,
                role: BrokerRole::AsyncMaster,
            },
            topics: vec![TopicCounts {
                topic: "T".into(),
                messages: stored,
                bytes: 0,
                size_buckets: Vec::new(),
            }],
            groups: vec![GroupCounts {
                topic: "T".into(),
                group: "g".into(),
                messages: delivered,
                bytes: 0,
            }],
            lags: vec![QueueLag {
                group: "g".into(),
                topic: "T".into(),
                queue_id: 0,
                lag_messages: lag,
                lag_ms: 0,
                inflight: 0,
                queueing_ms: 0,
            }],
            storage: StorageInfo {
                log_bytes: 0,
                flush_behind: 0,
                dispatch_behind: 0,
            },
            replicas: Vec::new(),
            transactions: Vec::new(),
            timer: None,
            flush: ferromq_broker::service::FlushStatsSnapshot::default(),
            rpc: Vec::new(),
            grpc: Vec::new(),
            message_types: BTreeMap::new(),
        }
    }

    #[test]
    fn rates_are_differences_over_the_interval_and_the_ring_keeps_an_hour() {
        let c = Charts::default();
        c.record(&snapshot(100, 40, 60), 1_000);
        assert_eq!(c.points()[0].tps_in, 0.0, "no rate from one sample");
        c.record(&snapshot(300, 140, 160), 11_000);
        let p = c.latest().expect("point");
        assert_eq!((p.tps_in, p.tps_out, p.lag), (20.0, 10.0, 160));
        assert_eq!(
            c.topic_rates().get("T").copied(),
            Some(Rates {
                tps_in: 20.0,
                tps_out: 10.0
            })
        );
        for i in 0..CAPACITY as i64 {
            c.record(&snapshot(300, 140, 0), 21_000 + i * 10_000);
        }
        let points = c.points();
        assert_eq!(points.len(), CAPACITY);
        assert_eq!(points[0].at_ms, 21_000, "the oldest two dropped");
    }
}
