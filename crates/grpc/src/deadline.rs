//! The time a client gives a call, from its `grpc-timeout` header: a long poll must answer within
//! it. Some clients set the call's deadline to exactly the long-polling time they ask for (the
//! crates.io Rust client 5.0 does); waiting the whole poll would answer just after the client gave
//! up, and what the poll popped would stay invisible for nobody. RocketMQ's proxy likewise polls
//! for at most the remaining time less a reserve.

use std::time::Duration;

use tonic::metadata::MetadataMap;

/// Kept back from the client's deadline for the answer to reach it (the proxy's
/// `longPollingReserveTimeInMillis` default).
pub(crate) const RESERVE: Duration = Duration::from_millis(100);

/// The time left for the call, if the client set a deadline (and it is well-formed).
pub(crate) fn remaining(metadata: &MetadataMap) -> Option<Duration> {
    parse(metadata.get("grpc-timeout")?.to_str().ok()?)
}

/// `grpc-timeout`: at most 8 ASCII digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
fn parse(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_and_nothing_malformed() {
        assert_eq!(parse("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse("2999m"), Some(Duration::from_millis(2999)));
        assert_eq!(parse("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse("5u"), Some(Duration::from_micros(5)));
        assert_eq!(parse("7n"), Some(Duration::from_nanos(7)));
        for bad in ["", "S", "3", "3s", "-3S", "123456789S", "3 S", "é"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
