//! Which member of the broker group a consumer should pull a queue from next: the
//! `suggestWhichBrokerId` of every pull response (RocketMQ's slave reads).
//!
//! A consumer whose pulls lag the commit log's end by more than `accessMessageInMemoryMaxRatio`
//! percent of the machine's memory reads pages no longer cached, which costs the master disk reads
//! that slow every producer. With `slaveReadEnable` such a consumer is sent to the group's
//! `whichBrokerWhenConsumeSlowly` (a replica, id 1 by default); once it has caught up it is sent
//! back to the group's `brokerId` (the master by default). Without `slaveReadEnable` everyone is
//! sent to the master, by replicas too: they still answer pulls (a consumer falls back on them when
//! the master is down), but point the consumer home.

use std::sync::OnceLock;

use ferromq_remoting::body::route::MASTER_ID;

use crate::state::State;

/// Memory assumed when `/proc/meminfo` cannot be read (RocketMQ's own fallback, 24 GiB).
const FALLBACK_MEMORY_BYTES: u64 = 24 << 30;

/// Whether this broker serves as a replica of its group right now (in controller mode the role
/// changes at run time). Every role check of the pull path goes through here.
pub(crate) fn is_replica(s: &State) -> bool {
    !s.role.is_master()
}

/// The machine's physical memory in bytes, read once.
pub(crate) fn total_memory() -> u64 {
    static TOTAL: OnceLock<u64> = OnceLock::new();
    *TOTAL.get_or_init(|| {
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| mem_total(&text))
            .unwrap_or(FALLBACK_MEMORY_BYTES)
    })
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes (the file counts in KiB).
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let amount: u64 = words.next()?.parse().ok()?;
    let factor = match words.next() {
        Some("kB" | "KB" | "KiB") => 1024,
        None => 1,
        Some(_) => return None,
    };
    amount.checked_mul(factor).filter(|b| *b > 0)
}

/// RocketMQ's `suggestPullingFromSlave`: the last pulled record starts more than `ratio` percent
/// of `memory` bytes before the commit log's end.
pub(crate) fn reads_from_disk(log_end: u64, pulled: u64, memory: u64, ratio_percent: u8) -> bool {
    let in_memory = u128::from(memory) * u128::from(ratio_percent) / 100;
    u128::from(log_end.saturating_sub(pulled)) > in_memory
}

/// The settings [`suggest`] decides by, gathered so the decision stays a pure function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Inputs {
    pub replica: bool,
    pub slave_read_enable: bool,
    /// The consumer reads from disk (see [`reads_from_disk`]).
    pub slow: bool,
    /// The group's `brokerId`: where a consumer that keeps up reads.
    pub group_broker_id: i64,
    /// The group's `whichBrokerWhenConsumeSlowly`.
    pub group_slow_broker_id: i64,
}

/// The broker id to put in the response's `suggestWhichBrokerId`.
pub(crate) fn suggest(i: Inputs) -> i64 {
    match (i.slave_read_enable, i.slow, i.replica) {
        (false, _, _) => MASTER_ID,
        (true, true, _) => i.group_slow_broker_id,
        // A replica sends a consumer that caught up back to the master (RocketMQ does so while the
        // master is registered; a consumer that cannot reach it stays here anyway).
        (true, false, true) => MASTER_ID,
        (true, false, false) => i.group_broker_id,
    }
}

/// The commit-log offset a stored record starts at (its header's physical offset field).
pub(crate) fn record_position(record: &[u8]) -> Option<u64> {
    let field: [u8; 8] = record.get(28..36)?.try_into().ok()?;
    Some(u64::from_be_bytes(field))
}

/// The suggestion for a pull of `group` whose last record starts at `pulled` (`None`: nothing
/// was read, the consumer is not behind).
pub(crate) fn suggestion_for(s: &State, group: &str, pulled: Option<u64>) -> i64 {
    if !s.config.slave_read_enable {
        return MASTER_ID;
    }
    let slow = pulled.is_some_and(|p| {
        reads_from_disk(
            s.store.written_offset(),
            p,
            total_memory(),
            s.config.access_message_in_memory_max_ratio,
        )
    });
    let defaults = ferromq_remoting::body::subscription_group::SubscriptionGroupConfig::default();
    let (group_broker_id, group_slow_broker_id) = s.subscriptions.get(group).map_or(
        (
            defaults.broker_id,
            defaults.which_broker_when_consume_slowly,
        ),
        |g| (g.broker_id, g.which_broker_when_consume_slowly),
    );
    suggest(Inputs {
        replica: is_replica(s),
        slave_read_enable: true,
        slow,
        group_broker_id,
        group_slow_broker_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_total_in_bytes() {
        let text = "MemTotal:       16314640 kB\nMemFree:         1000000 kB\n";
        assert_eq!(mem_total(text), Some(16_314_640 * 1024));
        assert_eq!(mem_total("MemFree: 5 kB\n"), None);
        assert_eq!(mem_total("MemTotal: lots kB\n"), None);
        assert_eq!(mem_total("MemTotal: 0 kB\n"), None);
        assert_eq!(mem_total("MemTotal: 5 pages\n"), None);
        assert!(total_memory() > 0);
    }

    #[test]
    fn disk_reads_start_past_the_ratio() {
        let gib = 1u64 << 30;
        // 40% of 10 GiB is 4 GiB: exactly 4 GiB behind is still in memory, a byte more is not.
        assert!(!reads_from_disk(10 * gib, 6 * gib, 10 * gib, 40));
        assert!(reads_from_disk(10 * gib + 1, 6 * gib, 10 * gib, 40));
        // Ratio 0: any lag at all reads from disk; none does not.
        assert!(reads_from_disk(101, 100, gib, 0));
        assert!(!reads_from_disk(100, 100, gib, 0));
        // A position past the end (a replica's log behind its reader) is no lag.
        assert!(!reads_from_disk(100, 200, gib, 0));
        assert!(!reads_from_disk(u64::MAX, 0, u64::MAX, 100));
    }

    #[test]
    fn suggestion_table() {
        let base = Inputs {
            replica: false,
            slave_read_enable: true,
            slow: false,
            group_broker_id: 0,
            group_slow_broker_id: 1,
        };
        let cases = [
            (base, 0),
            (Inputs { slow: true, ..base }, 1),
            (
                Inputs {
                    slow: true,
                    group_slow_broker_id: 2,
                    ..base
                },
                2,
            ),
            (
                Inputs {
                    group_broker_id: 3,
                    ..base
                },
                3,
            ),
            (
                Inputs {
                    slave_read_enable: false,
                    slow: true,
                    ..base
                },
                0,
            ),
            (
                Inputs {
                    replica: true,
                    slow: true,
                    ..base
                },
                1,
            ),
            (
                Inputs {
                    replica: true,
                    group_broker_id: 3,
                    ..base
                },
                0,
            ),
            (
                Inputs {
                    replica: true,
                    slave_read_enable: false,
                    slow: true,
                    ..base
                },
                0,
            ),
        ];
        for (inputs, want) in cases {
            assert_eq!(suggest(inputs), want, "{inputs:?}");
        }
    }

    #[test]
    fn position_of_a_record() {
        let mut record = vec![0u8; 40];
        record[28..36].copy_from_slice(&0x0102_0304_0506_0708u64.to_be_bytes());
        assert_eq!(record_position(&record), Some(0x0102_0304_0506_0708));
        assert_eq!(record_position(&record[..30]), None);
    }
}
