//! Client identity: the client id sent in heartbeats, and the `UNIQ_KEY` message id producers
//! generate (RocketMQ's `MessageClientIDSetter` format).
//!
//! `UNIQ_KEY` = upper-case hex of 16 bytes:
//!
//! ```text
//! 0   4  client IPv4 address (a fake one derived from the clock when the host has none)
//! 4   2  process id, low 16 bits
//! 6   4  Java writes its class loader's hash here; we write a random value fixed per process
//! 10  4  milliseconds since the start of the current month
//! 14  2  per-process counter (wraps)
//! ```
//!
//! Java counts the month in the client's local time zone; we count it in UTC, since nothing reads the
//! field back but a tool's "nearly the time" guess, and this crate has no time-zone database.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
#[must_use]
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A random 64-bit value (std's per-process hash keys, mixed with the clock).
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_i64(now_ms());
    h.finish()
}

static LOCAL_IP: OnceLock<IpAddr> = OnceLock::new();

/// Learns the address other hosts see this host by: the source address the kernel picks for the route
/// to `name_server` (a UDP `connect` only consults the routing table; no packet is sent). The first
/// client of the process decides; a name server on loopback gives loopback.
pub fn learn_local_ip(name_server: &str) {
    let probe = || -> std::io::Result<IpAddr> {
        let target: std::net::SocketAddr = name_server
            .parse()
            .map_err(|_| std::io::Error::other("name server address is not ip:port"))?;
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        s.connect(target)?;
        Ok(s.local_addr()?.ip())
    };
    if let Ok(ip) = probe() {
        let _ = LOCAL_IP.set(ip);
    }
}

/// This host's address as learnt by [`learn_local_ip`], loopback before that.
#[must_use]
pub fn local_ip() -> IpAddr {
    *LOCAL_IP.get_or_init(|| IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// A client id in Java's form, `<ip>@<instance>`; the default instance name is `<pid>#<nanos>` so
/// that two clients in one process are distinct consumers of a group.
#[must_use]
pub fn new_client_id(instance_name: Option<&str>) -> String {
    let instance = match instance_name {
        Some(name) => name.to_owned(),
        None => {
            // Strictly increasing, so two clients created in the same nanosecond still differ.
            static LAST: AtomicU64 = AtomicU64::new(0);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            let prev = LAST
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                    Some(now.max(last + 1))
                })
                .unwrap_or(now);
            format!("{}#{}", std::process::id(), now.max(prev + 1))
        }
    };
    format!("{}@{instance}", local_ip())
}

struct UniqIdState {
    prefix: String,
    counter: AtomicU16,
}

fn uniq_state() -> &'static UniqIdState {
    static STATE: OnceLock<UniqIdState> = OnceLock::new();
    STATE.get_or_init(|| {
        let ip = match local_ip() {
            IpAddr::V4(v4) => v4.octets(),
            // Java's fake address: bytes 4..8 of the current time in ms.
            IpAddr::V6(_) => {
                let b = now_ms().to_be_bytes();
                [b[4], b[5], b[6], b[7]]
            }
        };
        let mut fixed = Vec::with_capacity(10);
        fixed.extend_from_slice(&ip);
        // Truncation intended: Java keeps the low 16 bits of the pid.
        #[allow(clippy::cast_possible_truncation)]
        fixed.extend_from_slice(&(std::process::id() as u16).to_be_bytes());
        #[allow(clippy::cast_possible_truncation)]
        fixed.extend_from_slice(&(random_u64() as u32).to_be_bytes());
        UniqIdState {
            prefix: hex(&fixed),
            counter: AtomicU16::new(0),
        }
    })
}

/// A new `UNIQ_KEY`.
#[must_use]
pub fn new_uniq_id() -> String {
    let state = uniq_state();
    let now = now_ms();
    // Truncation intended: Java casts the month-relative milliseconds to an int.
    #[allow(clippy::cast_possible_truncation)]
    let since_month = (now - month_start_ms(now)) as i32;
    let counter = state.counter.fetch_add(1, Ordering::Relaxed);
    let mut tail = [0u8; 6];
    tail[..4].copy_from_slice(&since_month.to_be_bytes());
    tail[4..].copy_from_slice(&counter.to_be_bytes());
    let mut id = String::with_capacity(32);
    id.push_str(&state.prefix);
    id.push_str(&hex(&tail));
    id
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// Midnight UTC of the first day of the month containing `ms`.
fn month_start_ms(ms: i64) -> i64 {
    const DAY_MS: i64 = 86_400_000;
    let days = ms.div_euclid(DAY_MS);
    let (y, m, _) = civil_from_days(days);
    days_from_civil(y, m, 1) * DAY_MS
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Day count since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_start_is_first_midnight_utc() {
        // 2024-02-29T12:00:00Z → 2024-02-01T00:00:00Z.
        assert_eq!(month_start_ms(1_709_208_000_000), 1_706_745_600_000);
        // 1970-01-01 itself.
        assert_eq!(month_start_ms(5), 0);
        // 2023-12-31T23:59:59.999Z → 2023-12-01.
        assert_eq!(month_start_ms(1_704_067_199_999), 1_701_388_800_000);
        assert_eq!(civil_from_days(days_from_civil(2000, 3, 1)), (2000, 3, 1));
    }

    #[test]
    fn uniq_ids_are_32_hex_and_distinct() {
        let a = new_uniq_id();
        let b = new_uniq_id();
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        assert_ne!(a, b);
        // Same process prefix: ip, pid and the per-process value.
        assert_eq!(a[..20], b[..20]);
    }

    #[test]
    fn client_ids_have_ip_and_instance() {
        let id = new_client_id(Some("inst"));
        assert!(id.ends_with("@inst"), "{id}");
        assert_ne!(new_client_id(None), new_client_id(None));
    }
}
