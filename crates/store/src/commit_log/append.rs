//! The write path: encode outside the lock; under it assign offsets, then write once and publish,
//! or, under write-behind (`SYNC_FLUSH`), stage the bytes for the sync that acknowledges them.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::Ordering;

use ferromq_model::record::{
    self, EncodeError, RecordDraft, BLANK_LEN, SYSFLAG_TRANSACTION_MASK,
    SYSFLAG_TRANSACTION_PREPARED, SYSFLAG_TRANSACTION_ROLLBACK,
};

use super::{CommitLog, Segment, Writer};
use crate::error::{Result, StoreError};
use crate::io::FileKind;

/// Where one appended record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub physical_offset: u64,
    /// 0 for prepared and rolled-back transaction records, which get no queue entry.
    pub queue_offset: u64,
    pub size: u32,
    pub store_timestamp: i64,
}

/// The result of one append call: its records in order, contiguous in one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    pub records: Vec<Appended>,
    /// The written offset after this append: durable once the flushed offset reaches it.
    pub end_offset: u64,
}

thread_local! {
    /// Each appending thread's encode buffer, reused from append to append.
    static ENCODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// An encode buffer grown past this by a large batch is given back rather than kept.
const KEPT_BUFFER: usize = 1 << 20;

/// The next queue offsets a batch takes, per topic and queue id. A batch nearly always goes to one
/// queue, so the first counter lives inline and a single append allocates nothing here.
#[derive(Default)]
struct BatchCounters<'a> {
    first: Option<(&'a str, u32, u64)>,
    more: Vec<(&'a str, u32, u64)>,
}

impl<'a> BatchCounters<'a> {
    /// The next queue offset of `topic`/`queue_id` for this batch; `start` gives the log's next
    /// one the first time a queue is seen.
    fn take(&mut self, topic: &'a str, queue_id: u32, start: impl FnOnce() -> u64) -> u64 {
        let same = |c: &&mut (&str, u32, u64)| c.0 == topic && c.1 == queue_id;
        let found = self.first.as_mut().filter(same).or_else(|| {
            self.more
                .iter_mut()
                .find(|c| c.0 == topic && c.1 == queue_id)
        });
        let counter = if let Some(c) = found {
            c
        } else {
            let c = (topic, queue_id, start());
            if self.first.is_none() {
                self.first.insert(c)
            } else {
                self.more.push(c);
                self.more.last_mut().expect("just pushed")
            }
        };
        counter.2 += 1;
        counter.2 - 1
    }

    /// Every queue's next offset after the batch.
    fn into_iter(self) -> impl Iterator<Item = (&'a str, u32, u64)> {
        self.first.into_iter().chain(self.more)
    }
}

/// Mirrors `RecordView::is_queue_visible` for a draft.
fn queue_visible(sys_flag: i32) -> bool {
    !matches!(
        sys_flag & SYSFLAG_TRANSACTION_MASK,
        SYSFLAG_TRANSACTION_PREPARED | SYSFLAG_TRANSACTION_ROLLBACK
    )
}

impl CommitLog {
    /// Appends `drafts` as one contiguous write in one segment, assigning queue offsets (dense per topic
    /// and queue id, from 0; none for prepared or rolled-back transaction records), physical offsets and
    /// the store timestamp. When the batch does not fit the active segment's tail, the tail gets a
    /// blank marker and the batch starts a new segment.
    ///
    /// On error nothing was published: no reader sees a byte of the batch and the queue counters are
    /// unchanged. (The one visible trace is a roll: the old segment may end with a blank marker and an
    /// empty new segment may exist, which is a valid log.)
    ///
    /// # Errors
    /// `BadMessage` for a record over `max_message_bytes` or a batch over one segment; `Poisoned` after
    /// a failed sync; `DiskFull` when a new segment cannot be allocated; `Io`; `Config` when called
    /// before [`CommitLog::recover`] on a non-empty log.
    pub fn append(&self, drafts: &[RecordDraft<'_>]) -> Result<AppendOutcome> {
        if let Some(reason) = self.poisoned() {
            return Err(StoreError::Poisoned(reason));
        }
        if drafts.is_empty() {
            return Ok(AppendOutcome {
                records: Vec::new(),
                end_offset: self.written_offset(),
            });
        }
        ENCODED.with_borrow_mut(|buf| {
            buf.clear();
            let outcome = self.append_with(drafts, buf);
            if buf.capacity() > KEPT_BUFFER {
                *buf = Vec::new();
            }
            outcome
        })
    }

    /// [`CommitLog::append`] with `buf` as the encode buffer.
    fn append_with(&self, drafts: &[RecordDraft<'_>], buf: &mut Vec<u8>) -> Result<AppendOutcome> {
        buf.reserve(drafts.iter().map(record::encoded_len).sum());
        let mut records = Vec::with_capacity(drafts.len());
        for d in drafts {
            let size = record::encode(d, self.max_message_bytes, buf)?;
            #[allow(clippy::cast_possible_truncation)]
            // `encode` bounds a record to `max_message_bytes`.
            records.push(Appended {
                physical_offset: 0,
                queue_offset: 0,
                size: size as u32,
                store_timestamp: 0,
            });
        }
        let total = buf.len() as u64;
        if total + BLANK_LEN as u64 > self.segment_bytes {
            #[allow(clippy::cast_possible_truncation)]
            // Segments are below 2 GiB (checked at open).
            let max = (self.segment_bytes - BLANK_LEN as u64) as usize;
            return Err(StoreError::BadMessage(EncodeError::TooLarge {
                len: buf.len(),
                max,
            }));
        }

        let mut w = self.writer.lock();
        if !w.recovered {
            return Err(StoreError::Config(
                "commit log appended to before recover()".into(),
            ));
        }
        let (seg, pos) = self.position_for(&mut w, total)?;
        let now = self.clock.now_millis();
        // Counters for this batch only; merged into the table once the write succeeded.
        let mut next = BatchCounters::default();
        let mut at = 0usize;
        for (d, r) in drafts.iter().zip(&mut records) {
            let queue_offset = if queue_visible(d.sys_flag) {
                next.take(d.topic, d.queue_id, || {
                    w.queue_offsets
                        .get(d.topic)
                        .and_then(|m| m.get(&d.queue_id))
                        .copied()
                        .unwrap_or(0)
                })
            } else {
                0
            };
            let physical_offset = pos + at as u64;
            let n = r.size as usize;
            record::patch_store_fields(&mut buf[at..at + n], queue_offset, physical_offset, now);
            r.physical_offset = physical_offset;
            r.queue_offset = queue_offset;
            r.store_timestamp = now;
            at += n;
        }
        let end = pos + total;
        self.prep.claim(end);
        if self.write_behind {
            w.stage(&seg, pos, buf);
        } else {
            seg.file
                .write_at(pos - seg.base, buf)
                .map_err(|e| StoreError::io(self.segment_path(seg.base), e))?;
            self.written.store(end, Ordering::Release);
        }
        w.end = end;
        for (topic, queue_id, n) in next.into_iter() {
            match w.queue_offsets.get_mut(topic) {
                Some(m) => m.insert(queue_id, n),
                None => w
                    .queue_offsets
                    .entry(topic.to_owned())
                    .or_default()
                    .insert(queue_id, n),
            };
        }
        drop(w);
        if !self.write_behind {
            self.published(end);
        }
        self.prep.appended(end);
        Ok(AppendOutcome {
            records,
            end_offset: end,
        })
    }

    /// The segment and offset where a batch of `total` bytes goes, rolling to a new segment when it
    /// does not fit (keeping room for a blank marker after it).
    fn position_for(&self, w: &mut Writer, total: u64) -> Result<(Segment, u64)> {
        // Staged appends (write-behind) are ahead of `written`.
        let pos = self.written.load(Ordering::Acquire).max(w.end);
        let Some(active) = w.active.clone() else {
            // Empty log: the first segment starts where the log does.
            let (seg, slot) = self.take_or_create(pos)?;
            self.segments.write().push_back(seg.clone());
            drop(slot);
            self.dir_dirty.store(true, Ordering::Release);
            w.active = Some(seg.clone());
            return Ok((seg, pos));
        };
        let used = pos - active.base;
        if used + total + BLANK_LEN as u64 <= self.segment_bytes {
            return Ok((active, pos));
        }
        let (next, slot) = self.take_or_create(active.base + self.segment_bytes)?;
        let remaining = self.segment_bytes - used;
        // Every append leaves at least BLANK_LEN bytes free, so the marker always fits.
        #[allow(clippy::cast_possible_truncation)] // Below the segment size, which is below 2 GiB.
        let marker = record::blank_marker(remaining as u32);
        // The marker and the batch after it: no zeros may land there any more.
        self.prep.claim(next.base + total);
        if self.write_behind {
            w.stage(&active, pos, &marker);
        } else if let Err(e) = active.file.write_at(used, &marker) {
            let _ = self.layer.remove(&self.segment_path(next.base));
            return Err(StoreError::io(self.segment_path(active.base), e));
        }
        // List the segment before `written` passes its base (see `sync`), and before releasing the
        // preparation slot (see `prepare.rs`).
        self.segments.write().push_back(next.clone());
        drop(slot);
        self.dir_dirty.store(true, Ordering::Release);
        if !self.write_behind {
            self.written.store(next.base, Ordering::Release);
        }
        w.end = next.base;
        w.active = Some(next.clone());
        tracing::debug!(base = next.base, "commit log rolled to a new segment");
        Ok((next.clone(), next.base))
    }

    /// Creates the (preallocated, zeroed) segment file starting at `base`.
    pub(super) fn new_segment(&self, base: u64) -> Result<Segment> {
        let path = self.segment_path(base);
        let file = match self
            .layer
            .create(&path, self.segment_bytes, FileKind::CommitLog)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Left by a roll that failed after creating it: nothing in it was ever published.
                let f = self
                    .layer
                    .open(&path, FileKind::CommitLog)
                    .map_err(|e| StoreError::io(&path, e))?;
                if f.len() != self.segment_bytes {
                    return Err(StoreError::ForeignFile {
                        path,
                        detail: format!(
                            "leftover segment is {} bytes, expected {}",
                            f.len(),
                            self.segment_bytes
                        ),
                    });
                }
                f.zero_range(0, self.segment_bytes)
                    .map_err(|e| StoreError::io(&path, e))?;
                f
            }
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        Ok(Segment { base, file })
    }
}
