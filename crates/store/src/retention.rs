//! Retention: which commit-log segments to delete, and deleting them with everything that points at them.
//!
//! A segment expires when its newest record is older than `file_reserved_hours`; the newest record of a
//! segment is older than the first record of the segment after it, so that record's store time is used
//! (no file modification times, which copies and restores would change). Expired segments are deleted
//! only at the `delete_when` hours, unless the disk is fuller than `disk_max_used_ratio`, in which case
//! the oldest segments go whatever their age. The active segment and segments not yet dispatched are
//! never deleted. Consume queues and index files follow the log's new minimum offset. A reader holding
//! a segment keeps it readable until it lets go (files are reference counted).

use crate::clock::{hour_of_day, Clock};
use crate::commit_log::CommitLog;
use crate::config::StoreConfig;
use crate::consume_queue::ConsumeQueues;
use crate::error::{Result, StoreError};
use crate::index::Index;
use crate::io::FileLayer;

/// Why a segment is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    Expired,
    DiskFull,
}

/// What one retention pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Bases of the deleted commit-log segments and why.
    pub deleted: Vec<(u64, DeleteReason)>,
    /// The commit log's first offset afterwards.
    pub min_offset: u64,
}

/// The parts a retention pass works on.
pub(crate) struct RetentionScope<'a> {
    pub cfg: &'a StoreConfig,
    pub layer: &'a dyn FileLayer,
    pub clock: &'a dyn Clock,
    pub log: &'a CommitLog,
    pub cqs: &'a ConsumeQueues,
    pub index: &'a Index,
    pub dispatched: u64,
}

/// At most this many segments go per pass, so one pass never stalls the maintenance thread for long.
const MAX_DELETES_PER_PASS: usize = 16;

/// One retention pass. `force_time` ignores the `delete_when` hours (used by tests and admin commands).
pub(crate) fn run_pass(s: &RetentionScope<'_>, force_time: bool) -> Result<RetentionReport> {
    let now = s.clock.now_millis();
    let in_window = force_time
        || s.cfg
            .delete_hours()
            .unwrap_or_default()
            .contains(&hour_of_day(now));
    let reserved_ms =
        i64::try_from(s.cfg.file_reserved_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX);
    let mut report = RetentionReport::default();
    for _ in 0..MAX_DELETES_PER_PASS {
        let bases = s.log.segment_bases();
        // The active segment is the last one; a segment is deletable only when its successor exists and
        // everything in it has been dispatched.
        let (Some(&oldest), Some(&next)) = (bases.first(), bases.get(1)) else {
            break;
        };
        if next > s.dispatched {
            break;
        }
        let disk_full = s.cfg.disk_max_used_ratio < 1.0
            && s.layer
                .disk_used_ratio(&s.cfg.root_dir)
                .map_err(|e| StoreError::io(&s.cfg.root_dir, e))?
                > s.cfg.disk_max_used_ratio;
        let expired = in_window
            && s.log
                .first_store_timestamp(next)
                .is_some_and(|t| now.saturating_sub(t) > reserved_ms);
        let reason = if disk_full {
            DeleteReason::DiskFull
        } else if expired {
            DeleteReason::Expired
        } else {
            break;
        };
        match s.log.remove_oldest_segment()? {
            Some(base) => {
                debug_assert_eq!(base, oldest);
                tracing::info!(segment = base, ?reason, "deleted commit-log segment");
                report.deleted.push((base, reason));
            }
            None => break,
        }
    }
    report.min_offset = s.log.min_offset();
    if !report.deleted.is_empty() {
        for cq in s.cqs.all() {
            cq.delete_before_physical(report.min_offset)?;
        }
        s.index.delete_before_physical(report.min_offset)?;
    }
    Ok(report)
}
