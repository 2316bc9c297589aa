//! The CPU time this process used, so a bench can say what it costs per message and show that the
//! load generator is not the bottleneck.

use std::time::Duration;

/// User + system CPU time of the whole process (all threads) so far, from `/proc/self/stat`; `None`
/// where that file does not exist (not Linux) or cannot be read.
pub fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let ticks = parse_user_sys_ticks(&stat)?;
    let per_second = rustix::param::clock_ticks_per_second();
    if per_second == 0 {
        return None;
    }
    Some(Duration::from_secs_f64(ticks as f64 / per_second as f64))
}

/// CPU time since `before` (a [`process_cpu_time`] reading), zero when it cannot be read.
pub fn used_since(before: Option<Duration>) -> Duration {
    match (before, process_cpu_time()) {
        (Some(b), Some(a)) => a.saturating_sub(b),
        _ => Duration::ZERO,
    }
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name (field 2) is
/// in parentheses and may itself contain spaces and parentheses, so fields are counted after the
/// last `)`.
fn parse_user_sys_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Fields after the name start at field 3 (state), so utime (14) is the 12th of them.
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_system_ticks_are_fields_14_and_15() {
        let line = "4242 (odd) name) S 1 4242 4242 0 -1 4194304 500 0 0 0 1234 56 0 0 20 0 3 0 \
                    100 1000000 200 18446744073709551615";
        assert_eq!(parse_user_sys_ticks(line), Some(1234 + 56));
        assert_eq!(parse_user_sys_ticks("garbage"), None);
        assert_eq!(parse_user_sys_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn the_real_stat_file_parses_on_linux() {
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(process_cpu_time().is_some());
        }
    }
}
