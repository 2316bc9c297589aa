//! Consume queues: per (topic, queue id), a dense array of fixed 20-byte entries pointing into the
//! commit log, so a consumer can find its n-th message without scanning the log.
//!
//! On disk (the layout of `RocketMQ`): `<root>/consumequeue/<topic>/<queueId>/<20-digit byte
//! offset>`, each file holding `entries_per_file` entries. Queue offset `n` lives at byte `n × 20`
//! of the queue, i.e. in the file named `⌊n / entries_per_file⌋ × entries_per_file × 20`. An entry
//! is big-endian `i64 commitLogOffset, i32 size, i64 tagCode`; an all-zero entry means "not
//! written" (a real record never has size 0). Files are created sparse, so a queue that starts
//! mid-file (after retention deleted everything older) just has leading zero entries.
//!
//! - [`queue`]: one queue ([`ConsumeQueue`]): put, read, flush; `queue/search.rs` holds its binary
//!   searches (offset by time, recovery truncation, retention).
//! - [`scan`]: rebuilding a queue's bounds from its files at startup, with corruption checks.
//! - [`registry`]: every queue of the store ([`ConsumeQueues`]).
//! - `open_files`: the store-wide cap on open queue files (an LRU of active handles).
#![forbid(unsafe_code)]

mod open_files;
mod queue;
mod registry;
mod scan;
#[cfg(test)]
mod tests;

pub use queue::ConsumeQueue;
pub use registry::ConsumeQueues;

/// Bytes per entry.
pub(crate) const ENTRY_BYTES: u64 = 20;

/// One consume-queue entry: where a message is in the commit log and its tag code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CqEntry {
    /// Commit-log offset of the record.
    pub physical_offset: u64,
    /// Record length in bytes (never 0).
    pub size: u32,
    /// Java hash of the tag (see `ferromq_model::hash::tag_code`); for scheduled topics a delivery
    /// time.
    pub tag_code: i64,
}

impl CqEntry {
    /// Commit-log offset just past the record.
    #[must_use]
    pub fn physical_end(&self) -> u64 {
        self.physical_offset + u64::from(self.size)
    }

    // The casts below are the documented on-disk conversions: offsets are u64 in the engine and
    // RocketMQ's signed i64/i32 on disk; values never reach the sign bit (2^63 bytes, 2^31-byte
    // records).
    #[allow(
        clippy::cast_possible_wrap,
        reason = "on-disk signed fields, see comment above"
    )]
    pub(crate) fn encode(&self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[0..8].copy_from_slice(&(self.physical_offset as i64).to_be_bytes());
        b[8..12].copy_from_slice(&(self.size as i32).to_be_bytes());
        b[12..20].copy_from_slice(&self.tag_code.to_be_bytes());
        b
    }

    /// Decodes one entry; `None` for an all-zero ("not written") entry.
    #[allow(clippy::cast_sign_loss, reason = "on-disk signed fields, see `encode`")]
    pub(crate) fn decode(b: &[u8]) -> Option<CqEntry> {
        let b: &[u8; 20] = b.get(..20)?.try_into().ok()?;
        if b.iter().all(|&x| x == 0) {
            return None;
        }
        let mut i64b = [0u8; 8];
        i64b.copy_from_slice(&b[0..8]);
        let physical_offset = i64::from_be_bytes(i64b) as u64;
        let size = i32::from_be_bytes([b[8], b[9], b[10], b[11]]) as u32;
        i64b.copy_from_slice(&b[12..20]);
        Some(CqEntry {
            physical_offset,
            size,
            tag_code: i64::from_be_bytes(i64b),
        })
    }
}

/// A 20-digit zero-padded file name, as `RocketMQ` writes them.
pub(crate) fn file_name(n: u64) -> String {
    format!("{n:020}")
}

/// Parses a 20-digit file name; `None` for anything else.
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    if name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}
