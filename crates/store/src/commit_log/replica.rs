//! The replica's write path: bytes copied from another broker's commit log, written at the same
//! offsets, so both logs are byte for byte the same and every physical offset (and offset message id)
//! means the same record on both.
//!
//! The bytes arrive in chunks cut anywhere, so each call takes the longest prefix of whole entries and
//! says how much it took; the caller keeps the rest for the next call. Every record is checked as
//! recovery checks it (size, magic, fields, body CRC, physical offset = position) before a byte of it
//! is written: a replica never stores what its own recovery would cut.
//!
//! The source side is [`CommitLog::entries_from`]: whole entries from an offset, ending after a
//! segment's blank marker, whose padding is never sent.

use std::sync::atomic::Ordering;

use ferromq_model::record::{self, Entry, RecordError, BLANK_LEN};

use super::{CommitLog, Segment, Writer};
use crate::error::{Result, StoreError};

/// What one [`CommitLog::append_replicated`] call wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaAppend {
    /// Bytes of the input written (whole entries); the rest begins with an incomplete entry.
    pub consumed: usize,
    /// The written offset after the call.
    pub end_offset: u64,
    /// Message records among the consumed bytes.
    pub records: u64,
}

/// The entries of one segment found at the start of a chunk.
struct Run {
    /// Bytes of whole entries.
    len: usize,
    /// The run ended with a blank marker: the segment is full.
    full: bool,
    records: u64,
    /// A bad entry right after the run; only reported when the run is empty.
    error: Option<(u64, RecordError)>,
}

impl CommitLog {
    /// Writes the whole entries at the start of `data`, which must be the bytes of another log from
    /// `offset` on. `offset` must be this log's written offset, except on an empty log, which may start
    /// at any segment boundary (the source's older segments may be gone).
    ///
    /// Queue offsets are taken from the records, so appends made here later (after a promotion)
    /// continue each queue where the source left it.
    ///
    /// # Errors
    /// `ReplicaOffset` when `offset` is not where this log continues; `CorruptRecord` when the first
    /// entry is invalid (entries before a bad one are written and the error comes on the next call);
    /// `Poisoned`; `Io`; `DiskFull`.
    pub fn append_replicated(&self, offset: u64, data: &[u8]) -> Result<ReplicaAppend> {
        if let Some(reason) = self.poisoned() {
            return Err(StoreError::Poisoned(reason));
        }
        // Local appends still staged (a master that just turned replica) go first.
        self.commit()?;
        let mut w = self.writer.lock();
        if !w.recovered {
            return Err(StoreError::Config(
                "commit log appended to before recover()".into(),
            ));
        }
        let written = self.written_offset();
        if w.active.is_none() && offset != written && offset.is_multiple_of(self.segment_bytes) {
            // An empty log adopts the source's start.
            self.written.store(offset, Ordering::Release);
            self.flushed.store(offset, Ordering::Release);
            self.min.store(offset, Ordering::Release);
        } else if offset != written {
            return Err(StoreError::ReplicaOffset {
                expected: written,
                got: offset,
            });
        }
        let mut consumed = 0usize;
        let mut records = 0u64;
        while consumed < data.len() {
            let seg = self.active_for_replica(&mut w)?;
            let pos = self.written_offset();
            let run = self.scan_run(&mut w, &seg, pos, &data[consumed..]);
            if run.len == 0 {
                match run.error {
                    Some((at, source)) if consumed == 0 => {
                        return Err(StoreError::CorruptRecord { offset: at, source })
                    }
                    _ => break,
                }
            }
            // After a blank marker the log continues at the next segment's base: the rest of the full
            // segment is padding, never sent (see `Store::replication_chunk`).
            let end = if run.full {
                seg.base + self.segment_bytes
            } else {
                pos + run.len as u64
            };
            self.prep.claim(end);
            seg.file
                .write_at(pos - seg.base, &data[consumed..consumed + run.len])
                .map_err(|e| StoreError::io(self.segment_path(seg.base), e))?;
            self.written.store(end, Ordering::Release);
            self.prep.appended(end);
            consumed += run.len;
            records += run.records;
            if run.full {
                self.roll_for_replica(&mut w, &seg)?;
            } else if run.error.is_some() {
                break;
            }
        }
        drop(w);
        let end_offset = self.written_offset();
        self.published(end_offset);
        Ok(ReplicaAppend {
            consumed,
            end_offset,
            records,
        })
    }

    /// The active segment, created at the written offset for an empty log.
    fn active_for_replica(&self, w: &mut Writer) -> Result<Segment> {
        if let Some(seg) = &w.active {
            return Ok(seg.clone());
        }
        let (seg, slot) = self.take_or_create(self.written_offset())?;
        self.segments.write().push_back(seg.clone());
        drop(slot);
        self.dir_dirty.store(true, Ordering::Release);
        w.active = Some(seg.clone());
        Ok(seg)
    }

    /// After a blank marker filled `full`: the next segment becomes the active one at once, as a roll
    /// in [`CommitLog::append`] does, so a later append (here or after a promotion) never finds a full
    /// active segment.
    fn roll_for_replica(&self, w: &mut Writer, full: &Segment) -> Result<()> {
        let (next, slot) = self.take_or_create(full.base + self.segment_bytes)?;
        self.segments.write().push_back(next.clone());
        drop(slot);
        self.dir_dirty.store(true, Ordering::Release);
        w.active = Some(next);
        Ok(())
    }

    /// Whole entries of this log from `offset` (a record boundary or a segment base), about `max_len`
    /// bytes (more when the first record is larger), for a replica; and the offset that follows them.
    /// A chunk stops after a blank marker, and the next one starts at the next segment's base. Empty
    /// when `offset` is the written offset.
    ///
    /// # Errors
    /// `OffsetOutOfRange` below the minimum or above the written offset; `CorruptRecord` when no
    /// entry starts at `offset`; `Io`.
    pub fn entries_from(&self, offset: u64, max_len: usize) -> Result<(bytes::Bytes, u64)> {
        let seg_end = offset - offset % self.segment_bytes + self.segment_bytes;
        let mut chunk = self.read_chunk(offset, max_len.max(BLANK_LEN), u64::MAX)?;
        let mut len = 0usize;
        loop {
            let rest = &chunk[len..];
            match record::peek(rest) {
                Err(_) if len > 0 => break,
                Err(_) => return Ok((chunk.slice(0..0), offset)),
                Ok((_, record::BLANK_MAGIC)) => {
                    return Ok((chunk.slice(0..len + BLANK_LEN), seg_end));
                }
                Ok((size, magic)) if magic == record::MAGIC_V1 || magic == record::MAGIC_V2 => {
                    let size = size as usize;
                    if size < record::MIN_RECORD_LEN || size > self.max_message_bytes {
                        return Err(self.bad_entry(offset + len as u64, size));
                    }
                    if rest.len() >= size {
                        len += size;
                        continue;
                    }
                    if len > 0 {
                        break;
                    }
                    // The first record alone is larger than `max_len`: read exactly it.
                    chunk = self.read(offset, size)?;
                    len = size;
                    break;
                }
                Ok((size, _)) => return Err(self.bad_entry(offset + len as u64, size as usize)),
            }
        }
        Ok((chunk.slice(0..len), offset + len as u64))
    }

    fn bad_entry(&self, offset: u64, size: usize) -> StoreError {
        let source = match self.read(offset, BLANK_LEN).map(|h| record::peek(&h)) {
            Ok(Ok((_, magic))) if magic != record::MAGIC_V1 && magic != record::MAGIC_V2 => {
                RecordError::BadMagic(magic)
            }
            _ => RecordError::BadSize(i64::try_from(size).unwrap_or(i64::MAX)),
        };
        StoreError::CorruptRecord { offset, source }
    }

    /// Checks the entries at the start of `data` (which belongs at `pos` in `seg`) up to the first
    /// incomplete or invalid one or the segment's blank marker, and records the queue offsets of the
    /// messages among them.
    fn scan_run(&self, w: &mut Writer, seg: &Segment, start: u64, data: &[u8]) -> Run {
        let seg_end = seg.base + self.segment_bytes;
        let mut run = Run {
            len: 0,
            full: false,
            records: 0,
            error: None,
        };
        let mut pos = start;
        while run.len < data.len() {
            let fail = |e: RecordError| Some((pos, e));
            match record::read(&data[run.len..], true) {
                Ok(Entry::Message(v)) => {
                    let size = u64::from(v.total_size);
                    if v.physical_offset != pos {
                        run.error = fail(RecordError::Malformed(
                            "physical offset field disagrees with the position",
                        ));
                        break;
                    }
                    // Appends always leave room for the segment's blank marker.
                    if pos + size + BLANK_LEN as u64 > seg_end {
                        run.error = fail(RecordError::Malformed(
                            "record crosses the end of its segment",
                        ));
                        break;
                    }
                    if v.is_queue_visible() {
                        let next = v.queue_offset + 1;
                        let queues = w.queue_offsets.entry(v.topic.to_owned()).or_default();
                        let slot = queues.entry(v.queue_id).or_insert(next);
                        *slot = (*slot).max(next);
                    }
                    run.records += 1;
                    #[allow(clippy::cast_possible_truncation)] // Below the segment size.
                    {
                        run.len += size as usize;
                    }
                    pos += size;
                }
                Ok(Entry::Blank { remaining }) if pos + u64::from(remaining) == seg_end => {
                    run.len += BLANK_LEN;
                    run.full = true;
                    break;
                }
                Ok(Entry::Blank { remaining }) => {
                    run.error = fail(RecordError::BadSize(i64::from(remaining)));
                    break;
                }
                Err(RecordError::Truncated { .. }) => break,
                Err(e) => {
                    run.error = fail(e);
                    break;
                }
            }
        }
        run
    }
}
