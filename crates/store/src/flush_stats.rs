//! What the flush thread measures for metrics scrapers: how much each group-commit sync covered and
//! how long each fdatasync took.
//!
//! Recorded by the flush thread only, once per sync (not per message), into fixed arrays of atomic
//! buckets: no lock, no allocation. A scrape reads them with relaxed loads; a sync recorded while a
//! scrape reads may show in some buckets and not yet in the sum, which the next scrape settles.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (inclusive) of the messages-per-sync buckets, then `+Inf`.
pub const BATCH_MESSAGES_BUCKETS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/// Upper bounds (inclusive, bytes) of the bytes-per-sync buckets, then `+Inf`.
pub const BATCH_BYTES_BUCKETS: &[u64] = &[
    1 << 10,
    4 << 10,
    16 << 10,
    64 << 10,
    256 << 10,
    1 << 20,
    4 << 20,
    16 << 20,
    64 << 20,
];

/// Upper bounds (inclusive, microseconds) of the sync duration buckets, then `+Inf`: from a fast
/// NVMe fdatasync (tens of µs) to a stalled disk (a second).
pub const FSYNC_MICROS_BUCKETS: &[u64] = &[
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000,
];

/// Room for the longest bucket list above plus `+Inf`.
const MAX_BUCKETS: usize = 16;

/// A histogram over fixed bucket bounds, in atomics.
#[derive(Debug)]
pub struct AtomicHistogram {
    bounds: &'static [u64],
    /// Count per bucket (not cumulative); index `bounds.len()` is `+Inf`.
    buckets: [AtomicU64; MAX_BUCKETS],
    sum: AtomicU64,
}

impl AtomicHistogram {
    /// # Panics
    /// If `bounds` has more than 15 entries (a programming error caught by the tests).
    #[must_use]
    pub fn new(bounds: &'static [u64]) -> Self {
        assert!(bounds.len() < MAX_BUCKETS, "too many histogram buckets");
        Self {
            bounds,
            buckets: Default::default(),
            sum: AtomicU64::new(0),
        }
    }

    /// Counts one observation of `value`.
    pub fn observe(&self, value: u64) {
        let bucket = self
            .bounds
            .iter()
            .position(|&le| value <= le)
            .unwrap_or(self.bounds.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// The counts so far.
    #[must_use]
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds,
            counts: self.buckets[..=self.bounds.len()]
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            sum: self.sum.load(Ordering::Relaxed),
        }
    }
}

/// A histogram as read by a scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Upper bounds of the buckets, `+Inf` implied after the last.
    pub bounds: &'static [u64],
    /// Count per bucket, not cumulative: one more than `bounds`.
    pub counts: Vec<u64>,
    /// Sum of the observed values.
    pub sum: u64,
}

impl HistogramSnapshot {
    /// Number of observations.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// The flush thread's histograms.
#[derive(Debug)]
pub struct FlushStats {
    /// `SYNC_FLUSH` only: messages whose appends one group-commit sync completed (a batch put counts
    /// each of its messages, a replicated chunk each of its records).
    pub batch_messages: AtomicHistogram,
    /// Bytes each sync made durable (the flushed offset's advance), in both flush modes.
    pub batch_bytes: AtomicHistogram,
    /// Duration of each commit-log sync, in microseconds, in both flush modes.
    pub fsync_micros: AtomicHistogram,
}

impl Default for FlushStats {
    fn default() -> Self {
        Self {
            batch_messages: AtomicHistogram::new(BATCH_MESSAGES_BUCKETS),
            batch_bytes: AtomicHistogram::new(BATCH_BYTES_BUCKETS),
            fsync_micros: AtomicHistogram::new(FSYNC_MICROS_BUCKETS),
        }
    }
}

impl FlushStats {
    pub(crate) fn synced(&self, took: Duration, bytes: u64) {
        self.fsync_micros
            .observe(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
        if bytes > 0 {
            self.batch_bytes.observe(bytes);
        }
    }

    /// The three histograms now.
    #[must_use]
    pub fn snapshot(&self) -> FlushStatsSnapshot {
        FlushStatsSnapshot {
            batch_messages: self.batch_messages.snapshot(),
            batch_bytes: self.batch_bytes.snapshot(),
            fsync_micros: self.fsync_micros.snapshot(),
        }
    }
}

/// [`FlushStats`] as read by a scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushStatsSnapshot {
    pub batch_messages: HistogramSnapshot,
    pub batch_bytes: HistogramSnapshot,
    pub fsync_micros: HistogramSnapshot,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_first_bucket_that_holds_them() {
        let h = AtomicHistogram::new(&[1, 4, 16]);
        for v in [0, 1, 2, 4, 5, 16, 17, 1000] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.counts, vec![2, 2, 2, 2]);
        assert_eq!(s.sum, 1045);
        assert_eq!(s.count(), 8);
    }

    #[test]
    fn every_bucket_list_fits() {
        let stats = FlushStats::default();
        let s = stats.snapshot();
        assert_eq!(s.fsync_micros.counts.len(), FSYNC_MICROS_BUCKETS.len() + 1);
        stats.synced(Duration::from_secs(5), 0);
        let s = stats.snapshot();
        assert_eq!(s.fsync_micros.counts.last(), Some(&1));
        assert_eq!(
            s.batch_bytes.count(),
            0,
            "a sync of nothing new has no batch"
        );
    }
}
