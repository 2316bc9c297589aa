//! A counter over the last minute, hour and day, for the statistics an operator reads with
//! mqadmin `statsAll` (VIEW_BROKER_STATS_DATA).
//!
//! Each window is a ring of buckets (60 one-second, 60 one-minute, 24 one-hour); a bucket
//! remembers which period it counts, so a stale one is simply ignored or reset on reuse, and
//! nothing has to run in the background. Unlike Java's `StatsItem`, which samples its counters
//! every 10 seconds / 10 minutes / hour, what was just added is seen at once.

/// One window's totals: what was added (`sum`), per second of the window (`tps`) and per add
/// (`avgpt`, e.g. messages per send).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WindowTotals {
    pub sum: u64,
    pub tps: f64,
    pub avgpt: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    period: u64,
    sum: u64,
    adds: u64,
}

#[derive(Debug, Clone)]
struct Ring<const N: usize> {
    period_ms: u64,
    buckets: [Bucket; N],
}

impl<const N: usize> Ring<N> {
    fn new(period_ms: u64) -> Self {
        Self {
            period_ms,
            buckets: [Bucket::default(); N],
        }
    }

    fn slot(period: u64) -> usize {
        // N is at most 60: the remainder fits in usize
        usize::try_from(period % N as u64).unwrap_or(0)
    }

    fn add(&mut self, now_ms: u64, n: u64) {
        let period = now_ms / self.period_ms;
        let b = &mut self.buckets[Self::slot(period)];
        if b.period != period {
            *b = Bucket {
                period,
                sum: 0,
                adds: 0,
            };
        }
        b.sum += n;
        b.adds += 1;
    }

    /// Sum and adds of the buckets of the last N periods up to now's.
    fn totals(&self, now_ms: u64) -> (u64, u64) {
        self.totals_last(now_ms, N as u64)
    }

    /// Sum and adds of the buckets of the last `periods` (at most N) periods up to now's.
    fn totals_last(&self, now_ms: u64, periods: u64) -> (u64, u64) {
        let now = now_ms / self.period_ms;
        self.buckets
            .iter()
            .filter(|b| b.period <= now && b.period + periods > now && b.adds > 0)
            .fold((0, 0), |(s, a), b| (s + b.sum, a + b.adds))
    }

    fn span_ms(&self) -> u64 {
        self.period_ms * N as u64
    }
}

/// Additions over the last minute, hour and day.
#[derive(Debug, Clone)]
pub struct RollingCounter {
    created_ms: u64,
    seconds: Ring<60>,
    minutes: Ring<60>,
    hours: Ring<24>,
}

impl RollingCounter {
    #[must_use]
    pub fn new(now_ms: u64) -> Self {
        Self {
            created_ms: now_ms,
            seconds: Ring::new(1_000),
            minutes: Ring::new(60_000),
            hours: Ring::new(3_600_000),
        }
    }

    pub fn add(&mut self, now_ms: u64, n: u64) {
        self.seconds.add(now_ms, n);
        self.minutes.add(now_ms, n);
        self.hours.add(now_ms, n);
    }

    #[must_use]
    pub fn last_minute(&self, now_ms: u64) -> WindowTotals {
        self.window(&self.seconds.totals(now_ms), self.seconds.span_ms(), now_ms)
    }

    #[must_use]
    pub fn last_hour(&self, now_ms: u64) -> WindowTotals {
        self.window(&self.minutes.totals(now_ms), self.minutes.span_ms(), now_ms)
    }

    #[must_use]
    pub fn last_day(&self, now_ms: u64) -> WindowTotals {
        self.window(&self.hours.totals(now_ms), self.hours.span_ms(), now_ms)
    }

    /// Additions per second over the last 10 seconds, minute and 10 minutes: the three figures
    /// of `putTps` / `getTransferredTps` in RocketMQ's runtime info.
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    pub fn rates(&self, now_ms: u64) -> [f64; 3] {
        let rate = |sum: u64, span_ms: u64| {
            let covered_ms = now_ms.saturating_sub(self.created_ms).clamp(1_000, span_ms);
            sum as f64 * 1_000.0 / covered_ms as f64
        };
        [
            rate(self.seconds.totals_last(now_ms, 10).0, 10_000),
            rate(self.seconds.totals(now_ms).0, 60_000),
            rate(self.minutes.totals_last(now_ms, 10).0, 600_000),
        ]
    }

    /// The rate is over the part of the window the counter has existed for (at least a second),
    /// so a counter created a few seconds ago does not report a rate sixty times too low.
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    fn window(&self, &(sum, adds): &(u64, u64), span_ms: u64, now_ms: u64) -> WindowTotals {
        let covered_ms = now_ms.saturating_sub(self.created_ms).clamp(1_000, span_ms);
        WindowTotals {
            sum,
            tps: sum as f64 * 1_000.0 / covered_ms as f64,
            avgpt: if adds == 0 {
                0.0
            } else {
                sum as f64 / adds as f64
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn counts_what_was_just_added_in_every_window() {
        let mut c = RollingCounter::new(T0);
        c.add(T0, 3);
        c.add(T0 + 10, 1);
        for w in [
            c.last_minute(T0 + 10),
            c.last_hour(T0 + 10),
            c.last_day(T0 + 10),
        ] {
            assert_eq!(w.sum, 4);
            assert!((w.avgpt - 2.0).abs() < 1e-9, "{w:?}");
            // less than a second old: the rate is over one second
            assert!((w.tps - 4.0).abs() < 1e-9, "{w:?}");
        }
    }

    #[test]
    fn rates_cover_ten_seconds_a_minute_and_ten_minutes() {
        let mut c = RollingCounter::new(T0);
        c.add(T0, 600);
        c.add(T0 + 55_000, 100);
        let [ten, minute, ten_minutes] = c.rates(T0 + 59_000);
        // Only the second addition is in the last 10 s; both in the minute, which the counter
        // has existed for 59 s of.
        assert!((ten - 10.0).abs() < 1e-9, "{ten}");
        assert!((minute - 700.0 / 59.0).abs() < 1e-9, "{minute}");
        assert!((ten_minutes - 700.0 / 59.0).abs() < 1e-9, "{ten_minutes}");
        let [ten, minute, ten_minutes] = c.rates(T0 + 300_000);
        assert!(ten.abs() < 1e-9 && minute.abs() < 1e-9, "{ten} {minute}");
        assert!((ten_minutes - 700.0 / 300.0).abs() < 1e-9, "{ten_minutes}");
    }

    #[test]
    fn old_additions_leave_the_shorter_windows() {
        let mut c = RollingCounter::new(T0);
        c.add(T0, 5);
        c.add(T0 + 30_000, 1);
        let later = T0 + 61_000;
        assert_eq!(c.last_minute(later).sum, 1);
        assert_eq!(c.last_hour(later).sum, 6);
        assert_eq!(c.last_day(later).sum, 6);

        let next_hours = T0 + 2 * 3_600_000;
        assert_eq!(c.last_minute(next_hours).sum, 0);
        assert_eq!(c.last_hour(next_hours).sum, 0);
        assert_eq!(c.last_day(next_hours).sum, 6);
        assert_eq!(c.last_day(T0 + 25 * 3_600_000).sum, 0);
    }

    #[test]
    fn a_reused_bucket_starts_from_zero() {
        let mut c = RollingCounter::new(T0);
        c.add(T0, 7);
        // the same one-second slot, a minute later
        c.add(T0 + 60_000, 2);
        assert_eq!(c.last_minute(T0 + 60_000).sum, 2);
        assert_eq!(c.last_hour(T0 + 60_000).sum, 9);
        let w = c.last_minute(T0 + 60_000);
        assert!((w.tps - 2.0 / 60.0).abs() < 1e-9, "{w:?}");
    }

    #[test]
    fn an_empty_counter_reports_zeros() {
        let c = RollingCounter::new(T0);
        assert_eq!(c.last_day(T0 + 5_000), WindowTotals::default());
    }
}
