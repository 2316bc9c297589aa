//! The offset message id: store host address, port and physical offset, as upper-case hex.
//!
//! Tools decode it to find which broker holds a message and where, so it must embed the broker's
//! advertised address.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Renders the offset message id (32 hex characters for IPv4, 56 for IPv6).
#[must_use]
pub fn offset_msg_id(store_host: SocketAddr, physical_offset: u64) -> String {
    let mut bytes = Vec::with_capacity(28);
    match store_host.ip() {
        IpAddr::V4(ip) => bytes.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => bytes.extend_from_slice(&ip.octets()),
    }
    bytes.extend_from_slice(&i32::from(store_host.port()).to_be_bytes());
    bytes.extend_from_slice(&physical_offset.to_be_bytes());
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// Decodes an offset message id, or `None` when `id` is not one.
#[must_use]
pub fn decode_offset_msg_id(id: &str) -> Option<(SocketAddr, u64)> {
    let bytes = decode_hex(id)?;
    let (ip, rest): (IpAddr, &[u8]) = match bytes.len() {
        16 => {
            let o: [u8; 4] = bytes[..4].try_into().ok()?;
            (IpAddr::V4(Ipv4Addr::from(o)), &bytes[4..])
        }
        28 => {
            let o: [u8; 16] = bytes[..16].try_into().ok()?;
            (IpAddr::V6(Ipv6Addr::from(o)), &bytes[16..])
        }
        _ => return None,
    };
    let port = u16::try_from(i32::from_be_bytes(rest[..4].try_into().ok()?)).ok()?;
    let offset = u64::from_be_bytes(rest[4..12].try_into().ok()?);
    Some((SocketAddr::new(ip, port), offset))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_v4_and_v6() {
        let a: SocketAddr = "192.168.0.1:10911".parse().expect("addr");
        let id = offset_msg_id(a, 0x1234);
        assert_eq!(id, "C0A8000100002A9F0000000000001234");
        assert_eq!(decode_offset_msg_id(&id), Some((a, 0x1234)));
        let b: SocketAddr = "[::1]:10911".parse().expect("addr");
        let id6 = offset_msg_id(b, 9);
        assert_eq!(id6.len(), 56);
        assert_eq!(decode_offset_msg_id(&id6), Some((b, 9)));
        assert_eq!(decode_offset_msg_id("zz"), None);
    }
}
