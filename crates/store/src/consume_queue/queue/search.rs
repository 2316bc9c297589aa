//! Binary searches over a queue's entries, which are in commit-log order: by store time (consumers
//! seeking a timestamp), and by commit-log offset to cut the tail (recovery) or the head
//! (retention).

use super::{ConsumeQueue, Result};

impl ConsumeQueue {
    /// Drops trailing entries whose record does not end at or below `log_end` (the commit log lost
    /// them, or recovery distrusts them), zeroing them on disk. Unwritten entries in that tail go
    /// too.
    ///
    /// # Errors
    /// I/O errors from the layer.
    pub fn truncate_to_log_end(&self, log_end: u64) -> Result<()> {
        let mut s = self.state.lock();
        if s.b.min >= s.b.max || s.b.last.is_some_and(|e| e.physical_end() <= log_end) {
            return Ok(());
        }
        // Entries are in commit-log order, so "ends past log_end or unwritten" holds for a suffix.
        let (mut lo, mut hi) = (s.b.min, s.b.max);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self
                .entry_locked(&mut s, mid)?
                .is_some_and(|e| e.physical_end() <= log_end)
            {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        tracing::debug!(topic = %self.topic, queue = self.queue_id, from = lo, "truncating consume queue");
        self.truncate_locked(&mut s, lo)
    }

    /// The first queue offset whose record was stored at or after `ts` (ms): `max_offset()` if
    /// none, `min_offset()` if `ts` precedes everything. `store_time(physical_offset, size)` reads
    /// a record's store timestamp; `None` (record gone) counts as older than `ts`.
    ///
    /// # Errors
    /// I/O errors from the layer.
    pub fn offset_by_time(
        &self,
        ts: i64,
        store_time: &dyn Fn(u64, u32) -> Option<i64>,
    ) -> Result<u64> {
        let (mut lo, mut hi) = {
            let s = self.state.lock();
            (s.b.min, s.b.max)
        };
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let t = self
                .get(mid)?
                .and_then(|e| store_time(e.physical_offset, e.size));
            if t.is_some_and(|t| t >= ts) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok(lo)
    }

    /// Retention: deletes whole files whose entries all point below `min_physical` (never the last
    /// file) and advances `min_offset` to the first entry at or above `min_physical`.
    ///
    /// `min_offset` is not persisted: after a restart it is recomputed from the files, so call this
    /// again with the commit log's minimum once the store is open.
    ///
    /// # Errors
    /// I/O errors from the layer.
    pub fn delete_before_physical(&self, min_physical: u64) -> Result<()> {
        let mut s = self.state.lock();
        while s.b.files.len() > 1 {
            let first = s.b.files[0];
            let last_of_file = first + self.per_file - 1;
            if self
                .entry_locked(&mut s, last_of_file)?
                .is_none_or(|e| e.physical_offset >= min_physical)
            {
                break;
            }
            self.remove_file(first)?;
            tracing::debug!(topic = %self.topic, queue = self.queue_id, first, "deleted expired consume-queue file");
            s.b.files.remove(0);
            s.b.min = s.b.min.max(first + self.per_file);
            s.pending.dir = true;
        }
        let (mut lo, mut hi) = (s.b.min, s.b.max);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self
                .entry_locked(&mut s, mid)?
                .is_some_and(|e| e.physical_offset >= min_physical)
            {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        s.b.min = lo;
        Ok(())
    }
}
