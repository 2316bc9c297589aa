//! Time as the store sees it, injectable so retention and time lookups are testable.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now_millis(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}

/// Hour of the day (0-23, UTC) of a millisecond timestamp; `delete_when` hours are UTC.
#[must_use]
pub fn hour_of_day(millis: i64) -> u32 {
    u32::try_from((millis.div_euclid(3_600_000)).rem_euclid(24)).unwrap_or(0)
}
