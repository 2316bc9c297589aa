//! `UNIQ_KEY` for messages sent without one, in the layout of Java's `MessageClientIDSetter`:
//! IP (4 or 16 bytes) + pid (2) + a per-process random (4) + milliseconds (4) + counter (2), as
//! upper-case hex. Clients treat it as an opaque string; only its uniqueness matters.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

fn process_salt() -> u32 {
    static SALT: OnceLock<u32> = OnceLock::new();
    *SALT.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        nanos ^ std::process::id().rotate_left(16)
    })
}

/// A fresh unique id for a message stored by `host`.
#[must_use]
pub fn generate(host: SocketAddr) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut bytes = Vec::with_capacity(28);
    match host.ip() {
        IpAddr::V4(ip) => bytes.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => bytes.extend_from_slice(&ip.octets()),
    }
    bytes.extend_from_slice(&(std::process::id() as u16).to_be_bytes());
    bytes.extend_from_slice(&process_salt().to_be_bytes());
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    // The low 32 bits: Java uses the time since the start of the month, also 32 bits.
    bytes.extend_from_slice(&(millis as u32).to_be_bytes());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    bytes.extend_from_slice(&(n as u16).to_be_bytes());
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_chars_and_differ() {
        let host: SocketAddr = "10.0.0.1:10911".parse().expect("addr");
        let a = generate(host);
        let b = generate(host);
        assert_eq!(a.len(), 32);
        assert!(a.starts_with("0A000001"));
        assert_ne!(a, b);
    }
}
