//! One index file, laid out as `RocketMQ`'s `IndexFile`, big-endian.
//!
//! ```text
//! 0             header: i64 beginTimestamp, i64 endTimestamp, i64 beginPhyOffset,
//!                       i64 endPhyOffset, i32 hashSlotCount, i32 indexCount (starts at 1)
//! 40            slots × i32: number of the newest entry whose key hashes there (0 = none)
//! 40 + slots×4  entries × 20 bytes: i32 keyHash, i64 phyOffset, i32 timeDiffSeconds,
//!                                   i32 prevIndex
//! ```
//!
//! Two deliberate differences from Java's file, both invisible to its reader:
//! - `hashSlotCount` holds the number of slots of the file (Java counts used slots, a statistic),
//!   so a file stays readable after `index_hash_slots` changes.
//! - Entry 0, which Java never uses, holds `b"FMQI"` and the entry count that the last flush made
//!   durable. After a power cut, entries at or past it may be torn; recovery cuts them off there.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Result, StoreError};
use crate::io::{FileKind, FileLayer, SegmentFile, ZEROS};

const HEADER: u64 = 40;
const ENTRY: u64 = 20;
const MARK: &[u8; 4] = b"FMQI";
/// Entries read per step when scanning backwards.
const SCAN_CHUNK: u32 = 16 * 1024;

/// The 40-byte header, kept in memory and rewritten with every put.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Header {
    pub begin_ts: i64,
    pub end_ts: i64,
    pub begin_phy: u64,
    pub end_phy: u64,
    pub slots: u32,
    pub count: u32,
}

/// One 20-byte entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    key_hash: i32,
    phy: u64,
    time_diff: i32,
    prev: u32,
}

// On-disk conversions: RocketMQ's fields are signed; offsets stay below 2^63, counts below 2^31.
#[allow(
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    reason = "signed on-disk fields"
)]
mod codec {
    use super::{Entry, Header};

    fn i64_at(b: &[u8], at: usize) -> i64 {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[at..at + 8]);
        i64::from_be_bytes(x)
    }

    fn i32_at(b: &[u8], at: usize) -> i32 {
        i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    pub(super) fn header(h: &Header) -> [u8; 40] {
        let mut b = [0u8; 40];
        b[0..8].copy_from_slice(&h.begin_ts.to_be_bytes());
        b[8..16].copy_from_slice(&h.end_ts.to_be_bytes());
        b[16..24].copy_from_slice(&(h.begin_phy as i64).to_be_bytes());
        b[24..32].copy_from_slice(&(h.end_phy as i64).to_be_bytes());
        b[32..36].copy_from_slice(&(h.slots as i32).to_be_bytes());
        b[36..40].copy_from_slice(&(h.count as i32).to_be_bytes());
        b
    }

    pub(super) fn read_header(b: &[u8; 40]) -> Header {
        Header {
            begin_ts: i64_at(b, 0),
            end_ts: i64_at(b, 8),
            begin_phy: i64_at(b, 16) as u64,
            end_phy: i64_at(b, 24) as u64,
            slots: i32_at(b, 32) as u32,
            count: i32_at(b, 36) as u32,
        }
    }

    pub(super) fn entry(e: &Entry) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[0..4].copy_from_slice(&e.key_hash.to_be_bytes());
        b[4..12].copy_from_slice(&(e.phy as i64).to_be_bytes());
        b[12..16].copy_from_slice(&e.time_diff.to_be_bytes());
        b[16..20].copy_from_slice(&(e.prev as i32).to_be_bytes());
        b
    }

    pub(super) fn read_entry(b: &[u8]) -> Entry {
        Entry {
            key_hash: i32_at(b, 0),
            phy: i64_at(b, 4) as u64,
            time_diff: i32_at(b, 12),
            prev: i32_at(b, 16) as u32,
        }
    }
}

const ZERO: Entry = Entry {
    key_hash: 0,
    phy: 0,
    time_diff: 0,
    prev: 0,
};

/// Entry 0's content: the mark and the count of durable entries.
pub(super) fn mark_bytes(count: u32) -> [u8; 20] {
    let mut mark = [0u8; 20];
    mark[0..4].copy_from_slice(MARK);
    mark[4..8].copy_from_slice(&count.to_be_bytes());
    mark
}

/// One open index file.
#[derive(Debug)]
pub(super) struct IndexFile {
    pub seq: u64,
    pub path: PathBuf,
    pub file: Arc<dyn SegmentFile>,
    pub h: Header,
    max_entries: u32,
    /// Entries below this were durable at the last flush (from entry 0).
    pub flushed: u32,
    /// The entry area is in the page cache up to here (written, or zeroed ahead by `append`).
    warmed: u64,
}

/// How far `append` keeps the entry area zeroed in the page cache ahead of the next entry: the first
/// store into an uncached page of a fully allocated file goes through the file system's read path,
/// several times slower than writing the page with `pwrite` (see `commit_log::prepare`).
const WARM_AHEAD: u64 = ZEROS.len() as u64;

impl IndexFile {
    pub fn create(
        layer: &dyn FileLayer,
        path: PathBuf,
        seq: u64,
        slots: u32,
        max_entries: u32,
    ) -> Result<Self> {
        let len = HEADER + u64::from(slots) * 4 + u64::from(max_entries) * ENTRY;
        let file = layer
            .create(&path, len, FileKind::Index)
            .map_err(|e| StoreError::io(&path, e))?;
        let mut f = IndexFile {
            seq,
            path,
            file,
            h: Header {
                slots,
                count: 1,
                ..Header::default()
            },
            max_entries,
            flushed: 1,
            warmed: 0,
        };
        // The slot table is written all over from the first entry on: warm it whole.
        let slots_end = f.entry_pos(1);
        let mut at = 0;
        while at < slots_end {
            #[allow(clippy::cast_possible_truncation)] // At most WARM_AHEAD.
            let n = (slots_end - at).min(WARM_AHEAD) as usize;
            f.file
                .prefill(at, &ZEROS[..n])
                .map_err(|e| StoreError::io(&f.path, e))?;
            at += n as u64;
        }
        f.warmed = slots_end;
        f.write_header()?;
        Ok(f)
    }

    /// Opens an existing file; `Err(detail)` when it is not a usable index file.
    pub fn open(
        layer: &dyn FileLayer,
        path: PathBuf,
        seq: u64,
    ) -> Result<std::result::Result<Self, String>> {
        let file = layer
            .open(&path, FileKind::Index)
            .map_err(|e| StoreError::io(&path, e))?;
        let len = file.len();
        if len < HEADER + 4 + 2 * ENTRY {
            return Ok(Err(format!("{len} bytes is too short for an index file")));
        }
        let mut hb = [0u8; 40];
        file.read_at(0, &mut hb)
            .map_err(|e| StoreError::io(&path, e))?;
        let h = codec::read_header(&hb);
        let body = len
            .checked_sub(HEADER + u64::from(h.slots) * 4)
            .filter(|_| h.slots > 0 && h.slots < 1 << 31);
        let Some(max_entries) = body
            .filter(|b| b % ENTRY == 0)
            .and_then(|b| u32::try_from(b / ENTRY).ok())
        else {
            return Ok(Err(format!(
                "header says {} slots, which does not fit {len} bytes",
                h.slots
            )));
        };
        if h.count == 0 || h.count > max_entries || max_entries < 2 {
            return Ok(Err(format!(
                "entry count {} outside 1..={max_entries}",
                h.count
            )));
        }
        let mut f = IndexFile {
            seq,
            path,
            file,
            h,
            max_entries,
            flushed: 1,
            warmed: 0,
        };
        f.warmed = f.entry_pos(f.h.count);
        let mut mark = [0u8; 20];
        f.file
            .read_at(f.entry_pos(0), &mut mark)
            .map_err(|e| StoreError::io(&f.path, e))?;
        if &mark[0..4] == MARK {
            f.flushed = u32::from_be_bytes([mark[4], mark[5], mark[6], mark[7]]).clamp(1, h.count);
        }
        Ok(Ok(f))
    }

    pub fn is_full(&self) -> bool {
        self.h.count >= self.max_entries
    }

    pub fn is_empty(&self) -> bool {
        self.h.count <= 1
    }

    /// Adds one entry at the head of its slot's chain.
    pub fn append(&mut self, key_hash: i32, phy: u64, ts: i64) -> Result<()> {
        if self.is_empty() {
            (self.h.begin_ts, self.h.end_ts, self.h.begin_phy) = (ts, ts, phy);
        }
        let k = self.h.count;
        self.warm_for(k)?;
        let slot = self.slot_pos(key_hash);
        // A head at or past `count` is a leftover of a cut tail: the chain restarts here.
        let prev = Some(self.read_u32(slot)?).filter(|&p| p < k).unwrap_or(0);
        let secs = ts.saturating_sub(self.h.begin_ts).max(0) / 1000;
        let time_diff = i32::try_from(secs).unwrap_or(i32::MAX);
        let bytes = codec::entry(&Entry {
            key_hash,
            phy,
            time_diff,
            prev,
        });
        // Entry before slot before header: a reader following the slot finds a complete entry.
        self.write(self.entry_pos(k), &bytes)?;
        self.write(slot, &k.to_be_bytes())?;
        self.h.count = k + 1;
        self.h.end_phy = phy;
        self.h.end_ts = self.h.end_ts.max(ts);
        self.write_header()
    }

    /// Whether the entries at `phy` at the head of the key's chain include this key (a replayed
    /// put).
    pub fn holds(&self, key_hash: i32, phy: u64) -> Result<bool> {
        let mut k = self.read_u32(self.slot_pos(key_hash))?;
        while k > 0 && k < self.h.count {
            let e = self.entry(k)?;
            if e.phy != phy {
                return Ok(false);
            }
            if e.key_hash == key_hash {
                return Ok(true);
            }
            k = if e.prev < k { e.prev } else { 0 };
        }
        Ok(false)
    }

    /// Appends to `out` the offsets of the key's entries stored within `[begin, end]`, newest
    /// first, until `out` holds `max`. Times have second precision: an entry counts as stored
    /// anywhere in its second, so nothing in range is missed.
    pub fn lookup(
        &self,
        key_hash: i32,
        begin: i64,
        end: i64,
        max: usize,
        out: &mut Vec<u64>,
    ) -> Result<()> {
        let mut k = self.read_u32(self.slot_pos(key_hash))?;
        while k > 0 && k < self.h.count && out.len() < max {
            let e = self.entry(k)?;
            let t = self
                .h
                .begin_ts
                .saturating_add(i64::from(e.time_diff.max(0)) * 1000);
            if t.saturating_add(999) < begin {
                break; // the chain runs newest to oldest: everything further is older still
            }
            if e.key_hash == key_hash && t <= end && out.last() != Some(&e.phy) {
                out.push(e.phy);
            }
            // Links always point to older entries; anything else is damage, and must not loop.
            k = if e.prev < k { e.prev } else { 0 };
        }
        Ok(())
    }

    /// Recovery: keeps only entries that were durable at the last flush and point below `bound`,
    /// and repairs slot heads that pointed past the cut. Returns whether entries remain, and
    /// whether entries were dropped only for not being durable (they may point below `bound`: the
    /// caller must re-feed from an offset it trusts).
    pub fn cut(&mut self, bound: u64) -> Result<(bool, bool)> {
        // Durable entries are in log order: the first one at or past `bound` is found by bisection.
        let durable = self.flushed.min(self.h.count);
        let (mut lo, mut hi) = (1u32, durable);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid)?.phy < bound {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let keep = lo;
        let unflushed_lost = keep == durable && keep < self.h.count;
        if keep <= 1 {
            return Ok((false, unflushed_lost));
        }
        let last = self.entry(keep - 1)?;
        self.h.end_phy = last.phy;
        // Seconds precision: the true time may be up to 999 ms later; err on the late side.
        let t = self
            .h
            .begin_ts
            .saturating_add(i64::from(last.time_diff.max(0)) * 1000 + 999);
        self.h.end_ts = self.h.end_ts.min(t);
        self.h.count = keep;
        self.flushed = keep;
        self.repair_slots()?;
        self.write_header()?;
        self.write_mark(keep)?;
        self.file
            .sync()
            .map_err(|e| StoreError::io(&self.path, e))?;
        Ok((true, unflushed_lost))
    }

    /// Points every slot whose head is at or past `count` at its newest entry below `count`: first
    /// by following the chain through entries that look intact, else by scanning backwards.
    pub fn repair_slots(&mut self) -> Result<()> {
        let count = self.h.count;
        let mut unresolved: HashSet<u32> = HashSet::new();
        let mut buf = vec![0u8; 64 * 1024];
        let slots_bytes = u64::from(self.h.slots) * 4;
        let mut at = 0u64;
        while at < slots_bytes {
            let n = usize::try_from((slots_bytes - at).min(buf.len() as u64)).unwrap_or(buf.len());
            self.file
                .read_at(HEADER + at, &mut buf[..n])
                .map_err(|e| StoreError::io(&self.path, e))?;
            for (i, s) in buf[..n].chunks_exact(4).enumerate() {
                let head = u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
                if head >= count {
                    let slot = u32::try_from(at / 4).unwrap_or(0) + u32::try_from(i).unwrap_or(0);
                    match self.follow_intact(slot, head)? {
                        Some(k) => self.write(HEADER + u64::from(slot) * 4, &k.to_be_bytes())?,
                        None => {
                            unresolved.insert(slot);
                        }
                    }
                }
            }
            at += n as u64;
        }
        if unresolved.is_empty() {
            return Ok(());
        }
        tracing::warn!(path = %self.path.display(), slots = unresolved.len(), "rebuilding torn index slot heads");
        let mut k = count;
        while k > 1 && !unresolved.is_empty() {
            let from = k.saturating_sub(SCAN_CHUNK).max(1);
            let mut chunk = vec![0u8; usize::try_from(u64::from(k - from) * ENTRY).unwrap_or(0)];
            self.file
                .read_at(self.entry_pos(from), &mut chunk)
                .map_err(|e| StoreError::io(&self.path, e))?;
            for (i, raw) in chunk.chunks_exact(20).enumerate().rev() {
                let e = codec::read_entry(raw);
                let slot = self.slot_of(e.key_hash);
                if unresolved.remove(&slot) {
                    let idx = from + u32::try_from(i).unwrap_or(0);
                    self.write(HEADER + u64::from(slot) * 4, &idx.to_be_bytes())?;
                }
            }
            k = from;
        }
        for slot in unresolved {
            self.write(HEADER + u64::from(slot) * 4, &0u32.to_be_bytes())?;
        }
        Ok(())
    }

    /// Follows the chain from a head past the cut while entries look intact; the first index below
    /// the cut, or `None` when the chain is damaged. (A torn entry can still pass the checks; the
    /// cost is older entries of one slot becoming unreachable, never a wrong answer: callers
    /// re-check keys.)
    fn follow_intact(&self, slot: u32, mut k: u32) -> Result<Option<u32>> {
        while k >= self.h.count {
            if k >= self.max_entries {
                return Ok(None);
            }
            let e = self.entry(k)?;
            // A lost page reads as zeros and a torn entry as a mix: an entry past the cut must
            // point at or after the last kept record, belong to this slot and link backwards.
            let misplaced = e.key_hash < 0 || self.slot_of(e.key_hash) != slot;
            if misplaced || e.prev >= k || e.phy < self.h.end_phy || e == ZERO {
                return Ok(None);
            }
            k = e.prev;
        }
        Ok(Some(k))
    }

    /// Records that entries below `count` are durable; call only after a sync covered them.
    pub fn write_mark(&self, count: u32) -> Result<()> {
        self.write(self.mark_pos(), &mark_bytes(count))
    }

    /// Where the durable-count mark lives (entry 0).
    pub fn mark_pos(&self) -> u64 {
        self.entry_pos(0)
    }

    fn write_header(&self) -> Result<()> {
        self.write(0, &codec::header(&self.h))
    }

    fn entry(&self, k: u32) -> Result<Entry> {
        let mut b = [0u8; 20];
        self.file
            .read_at(self.entry_pos(k), &mut b)
            .map_err(|e| StoreError::io(&self.path, e))?;
        Ok(codec::read_entry(&b))
    }

    fn read_u32(&self, pos: u64) -> Result<u32> {
        let mut b = [0u8; 4];
        self.file
            .read_at(pos, &mut b)
            .map_err(|e| StoreError::io(&self.path, e))?;
        Ok(u32::from_be_bytes(b))
    }

    /// Zeroes the entry area ahead of entry `k` when `k` reaches the end of what is warm. Only bytes
    /// at or past entry `k` are written: nothing valid lives there (at most a cut tail's leftovers,
    /// which readers never follow past `count`).
    fn warm_for(&mut self, k: u32) -> Result<()> {
        let end = self.entry_pos(k) + ENTRY;
        while self.warmed < end {
            let from = self.warmed.max(self.entry_pos(k));
            // To the next multiple of the chunk: at most one chunk per write.
            let to = (from / WARM_AHEAD + 1)
                .saturating_mul(WARM_AHEAD)
                .min(self.file.len());
            #[allow(clippy::cast_possible_truncation)] // At most WARM_AHEAD.
            let len = (to - from) as usize;
            self.file
                .prefill(from, &ZEROS[..len])
                .map_err(|e| StoreError::io(&self.path, e))?;
            self.warmed = to;
        }
        Ok(())
    }

    fn write(&self, pos: u64, bytes: &[u8]) -> Result<()> {
        self.file
            .write_at(pos, bytes)
            .map_err(|e| StoreError::io(&self.path, e))
    }

    #[allow(
        clippy::cast_sign_loss,
        reason = "key hashes are made non-negative by `key_hash`"
    )]
    fn slot_of(&self, key_hash: i32) -> u32 {
        (key_hash as u32) % self.h.slots
    }

    fn slot_pos(&self, key_hash: i32) -> u64 {
        HEADER + u64::from(self.slot_of(key_hash)) * 4
    }

    fn entry_pos(&self, k: u32) -> u64 {
        HEADER + u64::from(self.h.slots) * 4 + u64::from(k) * ENTRY
    }
}
