//! The delay-level table (`messageDelayLevel`): level `n` (1-based) waits the `n`-th duration.
//!
//! Java's syntax is a space-separated list of `<number><unit>` with units `s`, `m`, `h`, `d`. We also
//! accept `ms`, so tests and latency-sensitive setups can use sub-second levels.

use std::time::Duration;

/// The default table of RocketMQ, levels 1 to 18.
pub const DEFAULT_LEVELS: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

/// Why a level table is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    #[error("messageDelayLevel is empty")]
    Empty,
    #[error("messageDelayLevel entry {entry:?}: {why}")]
    BadEntry { entry: String, why: &'static str },
}

/// Parsed delay levels; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayLevels {
    delays: Vec<Duration>,
}

impl DelayLevels {
    /// Parses `"1s 5s 10s ..."`.
    ///
    /// # Errors
    /// An empty table, an entry without a known unit or with a zero or non-numeric amount.
    pub fn parse(text: &str) -> Result<Self, LevelError> {
        let delays = text
            .split_whitespace()
            .map(parse_entry)
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() {
            return Err(LevelError::Empty);
        }
        Ok(Self { delays })
    }

    /// Number of levels; the highest level.
    #[must_use]
    pub fn max_level(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX)
    }

    /// The delay of `level`, clamped into `1..=max_level` as the Java broker does.
    #[must_use]
    pub fn delay(&self, level: u32) -> Duration {
        let index = level.clamp(1, self.max_level()) as usize - 1;
        self.delays[index]
    }

    /// Every level with its delay, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, Duration)> + '_ {
        (1..).zip(self.delays.iter().copied())
    }
}

impl Default for DelayLevels {
    fn default() -> Self {
        Self::parse(DEFAULT_LEVELS).expect("the default table parses")
    }
}

fn parse_entry(entry: &str) -> Result<Duration, LevelError> {
    let bad = |why| LevelError::BadEntry {
        entry: entry.to_owned(),
        why,
    };
    let digits = entry
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| bad("no unit (ms, s, m, h or d)"))?;
    let (amount, unit) = entry.split_at(digits);
    let amount: u64 = amount.parse().map_err(|_| bad("not a number"))?;
    if amount == 0 {
        return Err(bad("a delay must be positive"));
    }
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad("unknown unit (ms, s, m, h or d)")),
    };
    amount
        .checked_mul(unit_ms)
        .map(Duration::from_millis)
        .ok_or_else(|| bad("too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_has_java_levels() {
        let l = DelayLevels::default();
        assert_eq!(l.max_level(), 18);
        assert_eq!(l.delay(1), Duration::from_secs(1));
        assert_eq!(l.delay(5), Duration::from_secs(60));
        assert_eq!(l.delay(18), Duration::from_secs(7200));
        // Out-of-range levels clamp like Java's send path.
        assert_eq!(l.delay(0), Duration::from_secs(1));
        assert_eq!(l.delay(99), Duration::from_secs(7200));
    }

    #[test]
    fn millisecond_and_day_units() {
        let l = DelayLevels::parse(" 100ms  2s 1d ").expect("parses");
        let all: Vec<_> = l.iter().collect();
        assert_eq!(
            all,
            vec![
                (1, Duration::from_millis(100)),
                (2, Duration::from_secs(2)),
                (3, Duration::from_secs(86_400)),
            ]
        );
    }

    #[test]
    fn refuses_bad_tables() {
        assert_eq!(DelayLevels::parse("  "), Err(LevelError::Empty));
        for bad in ["5", "5x", "s", "0s", "1.5s", "-1s", "99999999999999999999d"] {
            assert!(DelayLevels::parse(bad).is_err(), "{bad}");
        }
    }
}
