//! Timer counters for metrics scrapers (Apache's `rocketmq_timer_enqueue_total`,
//! `rocketmq_timer_dequeue_total`, `rocketmq_timing_messages`, `rocketmq_timer_enqueue_lag`).
//! Written by the timer thread alone, relaxed atomics read by a scrape.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the timer wheel did since the broker started.
#[derive(Debug, Default)]
pub struct TimerMeters {
    enqueued: AtomicU64,
    dequeued: AtomicU64,
    timing: AtomicU64,
    enqueue_offset: AtomicU64,
}

/// [`TimerMeters`] as read by a scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimerCounts {
    /// Timer messages taken into the wheel.
    pub enqueued: u64,
    /// Timer messages delivered to their real topic.
    pub dequeued: u64,
    /// Timer messages in the wheel, waiting for their time.
    pub timing: u64,
    /// Next queue offset of the timer topic the wheel takes in.
    pub enqueue_offset: u64,
}

impl TimerMeters {
    /// Recovery found `pending` messages in the wheel, and will take in from `offset`.
    pub(super) fn recovered(&self, pending: u64, offset: u64) {
        self.timing.store(pending, Ordering::Relaxed);
        self.enqueue_offset.store(offset, Ordering::Relaxed);
    }

    pub(super) fn enqueued(&self, next_offset: u64) {
        self.enqueued.fetch_add(1, Ordering::Relaxed);
        self.timing.fetch_add(1, Ordering::Relaxed);
        self.enqueue_offset.store(next_offset, Ordering::Relaxed);
    }

    /// The intake skipped to `offset` (an unreadable or cancelling entry).
    pub(super) fn skipped_to(&self, offset: u64) {
        self.enqueue_offset.store(offset, Ordering::Relaxed);
    }

    /// A message left the wheel: `delivered` to its topic, or dropped (recalled, unreadable).
    pub(super) fn left(&self, delivered: bool) {
        if delivered {
            self.dequeued.fetch_add(1, Ordering::Relaxed);
        }
        // One writer (the timer thread): no lost update between the load and the store.
        let timing = self.timing.load(Ordering::Relaxed);
        self.timing
            .store(timing.saturating_sub(1), Ordering::Relaxed);
    }

    #[must_use]
    pub fn counts(&self) -> TimerCounts {
        TimerCounts {
            enqueued: self.enqueued.load(Ordering::Relaxed),
            dequeued: self.dequeued.load(Ordering::Relaxed),
            timing: self.timing.load(Ordering::Relaxed),
            enqueue_offset: self.enqueue_offset.load(Ordering::Relaxed),
        }
    }
}
