//! Startup: find where the log really ends, hand every record after the trusted point to the caller,
//! and erase whatever follows the last valid record (fjall-style truncate-to-last-valid).

use std::sync::atomic::Ordering;

use ferromq_model::record::{self, Entry, RecordError, RecordView, BLANK_LEN};

use super::{CommitLog, Segment};
use crate::error::{Result, StoreError};

/// What [`CommitLog::recover`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Where the log ends: the first append goes here.
    pub valid_end: u64,
    /// Bytes discarded after `valid_end` — an upper bound (the rest of its segment plus every later
    /// segment). 0 when the log simply ended at zero bytes and no later segment held data.
    pub truncated_bytes: u64,
    /// Valid message records scanned, each passed to the callback.
    pub records_scanned: u64,
}

/// Why the scan of one segment stopped.
enum Stop {
    /// A blank marker at this offset: the segment is full, the log continues in the next one.
    Blank(u64),
    /// No valid entry at this offset. `None`: eight zero bytes, the log simply ends here.
    End(u64, Option<RecordError>),
}

/// Segments are scanned in reads of this size (or of one record, when larger).
const SCAN_CHUNK: u64 = 4 << 20;
/// The smallest unit a disk writes atomically: a torn write loses whole sectors.
const SECTOR_LEN: usize = 512;
const SECTOR: u64 = SECTOR_LEN as u64;

/// True when a record that otherwise checks out lost a sector after its body. The body CRC covers only
/// the body: when a record's last sectors never reached the disk (its write was torn by a power cut),
/// its topic or properties read as zeros the checks above cannot see. A sector of the topic or
/// properties that is all zeros gives it away: topics never hold a NUL, and properties
/// (`name\x01value\x02`...) never hold one where a sector starts. The length fields may be zero.
fn torn_tail(pos: u64, v: &RecordView<'_>) -> bool {
    let end = pos + u64::from(v.total_size);
    let props_start = end - v.properties.len() as u64;
    let topic_end = props_start - 2;
    let topic_start = topic_end - v.topic.len() as u64;
    let zeroed = |start: u64, bytes: &[u8]| {
        let mut b = start.next_multiple_of(SECTOR);
        while b < start + bytes.len() as u64 {
            #[allow(clippy::cast_possible_truncation)] // Within `bytes`.
            let from = (b - start) as usize;
            let to = bytes.len().min(from + SECTOR_LEN);
            if bytes[from..to].iter().all(|&x| x == 0) {
                return true;
            }
            b += SECTOR;
        }
        false
    };
    v.topic.bytes().any(|c| c == 0)
        || zeroed(topic_start, v.topic.as_bytes())
        || zeroed(props_start, v.properties.as_bytes())
}

impl CommitLog {
    /// Scans from `from` to the first invalid entry, calling `on_record(offset, record)` for every
    /// valid message (blank markers lead to the next segment); then erases the rest of that segment,
    /// deletes every later segment, syncs, and sets the written and flushed offsets to the end found.
    /// Appends are refused until this ran once.
    ///
    /// `from` must be a record boundary (0, a segment base, or an offset recorded as dispatched): a
    /// non-boundary offset reads as garbage, and everything after it is cut. An offset below the oldest
    /// segment starts at that segment; one at or beyond the end of the last segment starts at the last
    /// segment's base (the files are shorter than the caller believed, so rescan what exists).
    ///
    /// A record is valid when its size, magic, fields and body CRC check out and its physical-offset
    /// field equals its position.
    ///
    /// # Errors
    /// `Io` when reading, zeroing, syncing or deleting fails; the log is then unusable until a retry.
    pub fn recover(
        &self,
        from: u64,
        on_record: &mut dyn FnMut(u64, &RecordView<'_>),
    ) -> Result<RecoveryReport> {
        let mut w = self.writer.lock();
        let segs: Vec<Segment> = self.segments.read().iter().cloned().collect();
        let (Some(first), Some(last)) = (segs.first(), segs.last()) else {
            w.recovered = true;
            w.active = None;
            let end = self.written_offset();
            return Ok(RecoveryReport {
                valid_end: end,
                truncated_bytes: 0,
                records_scanned: 0,
            });
        };
        let log_end = last.base + self.segment_bytes;
        let start = if from < first.base {
            tracing::warn!(
                from,
                min = first.base,
                "recovery starts below the oldest segment; scanning from it"
            );
            first.base
        } else if from >= log_end {
            tracing::warn!(
                from,
                log_end,
                "recovery starts past the log files; rescanning the last segment"
            );
            last.base
        } else {
            from
        };
        #[allow(clippy::cast_possible_truncation)] // An index into `segs`.
        let first_idx = ((start - first.base) / self.segment_bytes) as usize;
        let mut idx = first_idx;
        let mut pos = start;
        let mut scanned = 0u64;
        let (valid_end, reason) = loop {
            match self.scan_segment(&segs[idx], pos, on_record, &mut scanned)? {
                Stop::Blank(_) if idx + 1 < segs.len() => {
                    idx += 1;
                    pos = segs[idx].base;
                }
                // A full last segment whose successor did not survive: drop the marker, roll again later.
                Stop::Blank(at) => break (at, None),
                Stop::End(at, reason) => break (at, reason),
            }
        };
        let truncated = self.cut_after(&segs, idx, valid_end, reason.as_ref())?;
        for s in &segs[first_idx..=idx] {
            // What we scanned may still sit dirty in the page cache (process crash): make it durable
            // before calling it flushed.
            s.file
                .sync()
                .map_err(|e| StoreError::io(self.segment_path(s.base), e))?;
        }
        self.segments.write().truncate(idx + 1);
        self.written.store(valid_end, Ordering::Release);
        self.flushed.store(valid_end, Ordering::Release);
        w.active = Some(segs[idx].clone());
        w.recovered = true;
        Ok(RecoveryReport {
            valid_end,
            truncated_bytes: truncated,
            records_scanned: scanned,
        })
    }

    /// Reads records of `seg` from `pos` until a blank marker or an invalid entry.
    fn scan_segment(
        &self,
        seg: &Segment,
        mut pos: u64,
        on_record: &mut dyn FnMut(u64, &RecordView<'_>),
        scanned: &mut u64,
    ) -> Result<Stop> {
        let seg_end = seg.base + self.segment_bytes;
        let mut buf: Vec<u8> = Vec::new();
        let mut buf_start = pos;
        loop {
            if seg_end - pos < BLANK_LEN as u64 {
                // Appends always leave room for a marker, so only a full segment without one ends here.
                return Ok(Stop::End(pos, None));
            }
            #[allow(clippy::cast_possible_truncation)]
            // Within `buf`, which is at most one segment.
            let off = (pos - buf_start) as usize;
            if off + BLANK_LEN > buf.len() {
                buf_start = pos;
                self.fill(seg, pos, SCAN_CHUNK, &mut buf)?;
                continue;
            }
            match record::read(&buf[off..], true) {
                Ok(Entry::Message(v)) if v.physical_offset != pos => {
                    let e =
                        RecordError::Malformed("physical offset field disagrees with the position");
                    return Ok(Stop::End(pos, Some(e)));
                }
                Ok(Entry::Message(v)) if torn_tail(pos, &v) => {
                    let e = RecordError::Malformed(
                        "a zeroed sector in topic or properties: torn write",
                    );
                    return Ok(Stop::End(pos, Some(e)));
                }
                Ok(Entry::Message(v)) => {
                    on_record(pos, &v);
                    *scanned += 1;
                    pos += u64::from(v.total_size);
                }
                Ok(Entry::Blank { remaining }) if pos + u64::from(remaining) == seg_end => {
                    return Ok(Stop::Blank(pos));
                }
                Ok(Entry::Blank { remaining }) => {
                    return Ok(Stop::End(
                        pos,
                        Some(RecordError::BadSize(i64::from(remaining))),
                    ));
                }
                Err(RecordError::Truncated { needed, .. })
                    if buf_start + (buf.len() as u64) < seg_end =>
                {
                    buf_start = pos;
                    self.fill(seg, pos, SCAN_CHUNK.max(needed as u64), &mut buf)?;
                }
                Err(_) if buf[off..off + BLANK_LEN].iter().all(|&b| b == 0) => {
                    return Ok(Stop::End(pos, None));
                }
                Err(e) => return Ok(Stop::End(pos, Some(e))),
            }
        }
    }

    /// Replaces `buf` with up to `want` bytes of `seg` from `pos` (never past the segment end).
    fn fill(&self, seg: &Segment, pos: u64, want: u64, buf: &mut Vec<u8>) -> Result<()> {
        let len = want.min(seg.base + self.segment_bytes - pos);
        let len =
            usize::try_from(len).map_err(|_| StoreError::Config("segment too large".into()))?;
        buf.clear();
        buf.resize(len, 0);
        seg.file
            .read_at(pos - seg.base, buf)
            .map_err(|e| StoreError::io(self.segment_path(seg.base), e))
    }

    /// Erases `segs[idx]` from `valid_end` on and deletes every later segment; returns the bytes cut
    /// (see [`RecoveryReport::truncated_bytes`]).
    fn cut_after(
        &self,
        segs: &[Segment],
        idx: usize,
        valid_end: u64,
        reason: Option<&RecordError>,
    ) -> Result<u64> {
        let seg = &segs[idx];
        let later = &segs[idx + 1..];
        let seg_end = seg.base + self.segment_bytes;
        let later_has_data = later.iter().any(|s| {
            let mut head = [0u8; BLANK_LEN];
            s.file
                .read_at(0, &mut head)
                .map_or(true, |()| head != [0; BLANK_LEN])
        });
        let truncated = if reason.is_none() && !later_has_data {
            0
        } else {
            seg_end - valid_end + later.len() as u64 * self.segment_bytes
        };
        if truncated > 0 {
            tracing::warn!(
                valid_end,
                truncated_bytes = truncated,
                removed_segments = later.len(),
                reason = reason.map(ToString::to_string),
                "commit log truncated after its last valid record"
            );
        }
        // Erase even a clean end: pages past a hole may have survived a power loss.
        let path = self.segment_path(seg.base);
        seg.file
            .zero_range(valid_end - seg.base, seg_end - valid_end)
            .map_err(|e| StoreError::io(&path, e))?;
        seg.file.sync().map_err(|e| StoreError::io(&path, e))?;
        // Newest first, so an interrupted cut still leaves a contiguous log.
        for s in later.iter().rev() {
            let p = self.segment_path(s.base);
            self.layer.remove(&p).map_err(|e| StoreError::io(&p, e))?;
        }
        if !later.is_empty() {
            self.layer
                .sync_dir(&self.dir)
                .map_err(|e| StoreError::io(&self.dir, e))?;
        }
        Ok(truncated)
    }
}

impl CommitLog {
    /// Removes every byte from `offset` on: zeroes the rest of its segment and deletes the later
    /// segments (newest first). For a store about to follow another log that ends at `offset`, before
    /// [`CommitLog::recover`]. Returns the bytes removed (upper bound, as in [`RecoveryReport`]).
    ///
    /// `offset` must be an entry boundary (the end of a record both logs hold); an offset below the
    /// oldest segment empties the log down to that segment's base.
    ///
    /// # Errors
    /// `Io` when zeroing, syncing or deleting fails; the log then still holds a contiguous prefix.
    pub fn cut_at(&self, offset: u64) -> Result<u64> {
        let _w = self.writer.lock();
        let segs: Vec<Segment> = self.segments.read().iter().cloned().collect();
        let (Some(first), Some(last)) = (segs.first(), segs.last()) else {
            return Ok(0);
        };
        if offset >= last.base + self.segment_bytes {
            return Ok(0);
        }
        let offset = offset.max(first.base);
        #[allow(clippy::cast_possible_truncation)] // An index into `segs`.
        let idx = ((offset - first.base) / self.segment_bytes) as usize;
        let removed = self.segment_bytes - (offset - segs[idx].base)
            + (segs.len() - idx - 1) as u64 * self.segment_bytes;
        self.cut_after(&segs, idx, offset, None)?;
        self.segments.write().truncate(idx + 1);
        tracing::warn!(
            offset,
            removed_bytes = removed,
            "commit log cut to follow another log"
        );
        Ok(removed)
    }
}
