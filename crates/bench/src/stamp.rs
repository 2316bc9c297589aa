//! The stamp a bench producer writes at the start of each body, so that a consumer (in this
//! process or another one on a machine with a synchronised clock) can tell the run, the message
//! and when it was meant to be sent:
//!
//! ```text
//! bytes  0..8   magic "FMQBENCH"
//! bytes  8..16  run id, u64 little-endian (random per bench run)
//! bytes 16..24  sequence number, u64 little-endian (0, 1, 2, ... over all producers of the run)
//! bytes 24..32  intended send time, u64 little-endian, nanoseconds since the Unix epoch
//! ```
//!
//! The rest of the body is random bytes. Bodies shorter than [`STAMP_LEN`] carry no stamp.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MAGIC: &[u8; 8] = b"FMQBENCH";
pub const STAMP_LEN: usize = 32;

/// What a stamped body says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub run_id: u64,
    pub seq: u64,
    /// Nanoseconds since the Unix epoch.
    pub sent_unix_ns: u64,
}

impl Stamp {
    /// Overwrites the first [`STAMP_LEN`] bytes of `body`; false (and `body` untouched) when the
    /// body is too short to carry a stamp.
    pub fn write(&self, body: &mut [u8]) -> bool {
        let Some(head) = body.get_mut(..STAMP_LEN) else {
            return false;
        };
        head[..8].copy_from_slice(MAGIC);
        head[8..16].copy_from_slice(&self.run_id.to_le_bytes());
        head[16..24].copy_from_slice(&self.seq.to_le_bytes());
        head[24..32].copy_from_slice(&self.sent_unix_ns.to_le_bytes());
        true
    }

    /// The stamp at the start of `body`, if it has one.
    pub fn read(body: &[u8]) -> Option<Stamp> {
        let head = body.get(..STAMP_LEN)?;
        if &head[..8] != MAGIC {
            return None;
        }
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&head[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        Some(Stamp {
            run_id: word(8),
            seq: word(16),
            sent_unix_ns: word(24),
        })
    }
}

/// Nanoseconds since the Unix epoch of `at` (0 before 1970, saturating in 2554).
pub fn unix_ns(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos()
        .try_into()
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_leave_the_rest_alone() {
        let stamp = Stamp {
            run_id: 0x0123_4567_89AB_CDEF,
            seq: 42,
            sent_unix_ns: 1_700_000_000_123_456_789,
        };
        let mut body = vec![0xEE; 40];
        assert!(stamp.write(&mut body));
        assert_eq!(&body[..8], b"FMQBENCH");
        assert_eq!(&body[16..24], &42u64.to_le_bytes());
        assert_eq!(&body[32..], &[0xEE; 8]);
        assert_eq!(Stamp::read(&body), Some(stamp));
    }

    #[test]
    fn short_or_foreign_bodies_have_no_stamp() {
        let stamp = Stamp {
            run_id: 1,
            seq: 2,
            sent_unix_ns: 3,
        };
        let mut short = vec![7u8; STAMP_LEN - 1];
        assert!(!stamp.write(&mut short));
        assert_eq!(short, vec![7u8; STAMP_LEN - 1]);
        assert_eq!(Stamp::read(&short), None);
        assert_eq!(
            Stamp::read(b"hello, this is not a bench message body"),
            None
        );
        assert_eq!(Stamp::read(&[]), None);
    }

    #[test]
    fn unix_ns_counts_from_the_epoch() {
        assert_eq!(unix_ns(UNIX_EPOCH), 0);
        assert_eq!(unix_ns(UNIX_EPOCH + Duration::from_micros(5)), 5_000);
        assert_eq!(unix_ns(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
