//! Reading a consume queue's messages: the pull path.
//!
//! Returns stored record bytes as they are on disk (a pull response body is their concatenation), with
//! the status and next/min/max offsets RocketMQ's pull protocol needs for every case.

use std::collections::HashSet;

use bytes::Bytes;

use crate::commit_log::CommitLog;
use crate::consume_queue::{ConsumeQueues, CqEntry};
use crate::error::Result;

/// Most consume-queue entries looked at per call when a tag filter skips entries; RocketMQ scans a
/// 16,000-byte window of 20-byte entries.
const MAX_SCANNED_ENTRIES: usize = 800;
/// Adjacent records are read with one call up to this many bytes.
const MAX_COALESCED_READ: usize = 1 << 20;

/// Which messages a read returns, by the tag code stored in the consume queue.
#[derive(Debug, Clone, Default)]
pub enum TagFilter {
    /// Every message.
    #[default]
    All,
    /// Only messages whose tag code (Java hash of the tag) is in the set.
    Codes(HashSet<i64>),
}

impl TagFilter {
    fn accepts(&self, tag_code: i64) -> bool {
        match self {
            TagFilter::All => true,
            TagFilter::Codes(set) => set.contains(&tag_code),
        }
    }
}

/// How a queue read went; mirrors RocketMQ's `GetMessageStatus` so the broker can map it one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetStatus {
    /// At least one message is returned.
    Found,
    /// Entries were scanned but none passed the filter; `next_offset` skips them.
    NoMatchedMessage,
    /// The entries found point at commit-log data already deleted by retention.
    OffsetFoundNull,
    /// The requested offset is beyond the queue's end.
    OffsetOverflowBadly,
    /// The requested offset is exactly the queue's end: nothing new yet.
    OffsetOverflowOne,
    /// The requested offset is below the queue's first entry.
    OffsetTooSmall,
    /// No such queue.
    NoMatchedLogicQueue,
    /// The queue exists but is empty.
    NoMessageInQueue,
}

/// Result of [`crate::Store::get_messages`].
#[derive(Debug, Clone)]
pub struct GetResult {
    pub status: GetStatus,
    /// Stored records, in queue order.
    pub messages: Vec<Bytes>,
    /// Queue offset of each returned record (same order as `messages`).
    pub queue_offsets: Vec<u64>,
    /// Where the next read should start.
    pub next_offset: u64,
    pub min_offset: u64,
    pub max_offset: u64,
}

impl GetResult {
    fn empty(status: GetStatus, next_offset: u64, min_offset: u64, max_offset: u64) -> Self {
        GetResult {
            status,
            messages: Vec::new(),
            queue_offsets: Vec::new(),
            next_offset,
            min_offset,
            max_offset,
        }
    }
}

/// Reads up to `max_msgs` messages / about `max_bytes` bytes from `topic`/`queue_id` at `from`.
pub(crate) fn get_messages(
    log: &CommitLog,
    cqs: &ConsumeQueues,
    query: &QueueRead<'_>,
) -> Result<GetResult> {
    let Some(cq) = cqs.get(query.topic, query.queue_id) else {
        return Ok(GetResult::empty(GetStatus::NoMatchedLogicQueue, 0, 0, 0));
    };
    let (min, max) = (cq.min_offset(), cq.max_offset());
    let from = query.from;
    if max == 0 {
        return Ok(GetResult::empty(GetStatus::NoMessageInQueue, 0, min, max));
    }
    if from < min {
        return Ok(GetResult::empty(GetStatus::OffsetTooSmall, min, min, max));
    }
    if from == max {
        return Ok(GetResult::empty(
            GetStatus::OffsetOverflowOne,
            from,
            min,
            max,
        ));
    }
    if from > max {
        return Ok(GetResult::empty(
            GetStatus::OffsetOverflowBadly,
            max,
            min,
            max,
        ));
    }
    let max_msgs = query.max_msgs.max(1);
    let scan = MAX_SCANNED_ENTRIES.max(max_msgs);
    let entries = cq.read(from, scan)?;
    let log_min = log.min_offset();
    let mut picked: Vec<(u64, CqEntry)> = Vec::new();
    let mut bytes = 0usize;
    let mut next = from;
    let mut removed = 0usize;
    for (i, e) in entries.iter().enumerate() {
        if picked.len() >= max_msgs || (bytes > 0 && bytes + e.size as usize > query.max_bytes) {
            break;
        }
        next = from + i as u64 + 1;
        if e.physical_offset < log_min {
            removed += 1;
            continue;
        }
        if query.filter.accepts(e.tag_code) {
            bytes += e.size as usize;
            picked.push((from + i as u64, *e));
        }
    }
    if picked.is_empty() {
        let status = if removed > 0 && removed as u64 == next - from {
            GetStatus::OffsetFoundNull
        } else {
            GetStatus::NoMatchedMessage
        };
        return Ok(GetResult::empty(status, next, min, max));
    }
    let (messages, queue_offsets) = read_records(log, &picked)?;
    Ok(GetResult {
        status: GetStatus::Found,
        messages,
        queue_offsets,
        next_offset: next,
        min_offset: min,
        max_offset: max,
    })
}

/// Reads the picked records, one read per run of physically adjacent records.
// Runs are bounded by MAX_COALESCED_READ, so offsets within a run fit usize.
#[allow(clippy::cast_possible_truncation)]
fn read_records(log: &CommitLog, picked: &[(u64, CqEntry)]) -> Result<(Vec<Bytes>, Vec<u64>)> {
    let mut messages = Vec::with_capacity(picked.len());
    let mut offsets = Vec::with_capacity(picked.len());
    let mut i = 0;
    while i < picked.len() {
        let start = picked[i].1.physical_offset;
        let mut end = start + u64::from(picked[i].1.size);
        let mut j = i + 1;
        while j < picked.len()
            && picked[j].1.physical_offset == end
            && (end - start) as usize + picked[j].1.size as usize <= MAX_COALESCED_READ
        {
            end += u64::from(picked[j].1.size);
            j += 1;
        }
        let run = log.read(start, (end - start) as usize)?;
        for (qo, e) in &picked[i..j] {
            let at = (e.physical_offset - start) as usize;
            messages.push(run.slice(at..at + e.size as usize));
            offsets.push(*qo);
        }
        i = j;
    }
    Ok((messages, offsets))
}

/// What to read from a queue.
#[derive(Debug, Clone)]
pub struct QueueRead<'a> {
    pub topic: &'a str,
    pub queue_id: u32,
    pub from: u64,
    pub max_msgs: usize,
    pub max_bytes: usize,
    pub filter: &'a TagFilter,
}
