//! Opening a store: find where the durable data ends and make consume queues and index agree with it.
//!
//! The commit log is the only source of truth. The checkpoint names a physical offset `safe` below which
//! the log was durable and the consume queues and index were flushed complete. Recovery scans the log
//! from `safe` (or from the start when there is no trustworthy checkpoint), checking every record's size,
//! magic and body CRC, stops at the first bad one and cuts the log there. Consume-queue and index entries
//! past `safe` are treated as suspect after a crash (their pages may be torn), dropped, and rebuilt by
//! the same dispatch function the runtime uses.

use std::path::Path;
use std::sync::Arc;

use crate::checkpoint::{self, Checkpoint};
use crate::clock::Clock;
use crate::commit_log::CommitLog;
use crate::config::StoreConfig;
use crate::consume_queue::ConsumeQueues;
use crate::dispatch::dispatch_record;
use crate::error::{Result, StoreError};
use crate::index::Index;
use crate::io::FileLayer;

/// The recovered parts of a store, consistent with each other.
pub(crate) struct Recovered {
    pub log: Arc<CommitLog>,
    pub cqs: Arc<ConsumeQueues>,
    pub index: Arc<Index>,
    /// Everything below is in the consume queues and index (= the log's end).
    pub dispatched: u64,
}

/// What happened while opening, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryStats {
    /// The previous run shut down cleanly.
    pub clean: bool,
    /// Where the log scan started.
    pub scanned_from: u64,
    /// Where the valid log ends.
    pub log_end: u64,
    /// Bytes of torn or corrupt tail removed.
    pub truncated_bytes: u64,
    /// Records re-dispatched into consume queues and index.
    pub records_replayed: u64,
    /// Consume queues and index were rebuilt from scratch because their files were unusable.
    pub rebuilt_queues: bool,
}

pub(crate) fn recover(
    cfg: &StoreConfig,
    layer: &Arc<dyn FileLayer>,
    clock: &Arc<dyn Clock>,
) -> Result<(Recovered, RecoveryStats)> {
    let root = cfg.root_dir.as_path();
    layer
        .create_dir_all(root)
        .map_err(|e| StoreError::io(root, e))?;
    let clean = checkpoint::was_clean(layer.as_ref(), root);
    let cp = Checkpoint::load(layer.as_ref(), root)?;
    let log = Arc::new(CommitLog::open(cfg, layer.clone(), clock.clone())?);

    let (cqs, index, rebuilt) = match load_queues(cfg, layer, root) {
        Ok((cqs, index)) => (cqs, index, false),
        Err(e @ (StoreError::CorruptConsumeQueue { .. } | StoreError::ForeignFile { .. })) => {
            // The queues are derived data: rather than refuse to start or serve a damaged queue, rebuild
            // them all from the log, which is what they index.
            tracing::error!(error = %e, "consume queues or index unusable; rebuilding them from the commit log");
            wipe_derived(layer.as_ref(), root)?;
            let (cqs, index) = load_queues(cfg, layer, root)?;
            (cqs, index, true)
        }
        Err(e) => return Err(e),
    };

    let log_min = log.min_offset();
    let trusted = match (&cp, rebuilt) {
        (Some(cp), false) => cp.dispatched.max(log_min),
        _ => log_min,
    };
    // A brand-new store (no checkpoint, no log) has nothing to recover: it counts as clean.
    let fresh = cp.is_none() && log.segment_bases().is_empty();
    let clean = fresh || (clean && cp.as_ref().is_some_and(|c| c.clean_shutdown));
    // After a crash anything the queues hold past `trusted` may be torn: cut it and rebuild it.
    let index_from = index.truncate_to_log_end(trusted)?;
    for cq in cqs.all() {
        cq.truncate_to_log_end(trusted)?;
    }
    let from = trusted.min(index_from).max(log_min);

    let mut replayed = 0u64;
    let mut failure: Option<StoreError> = None;
    let report = log.recover(from, &mut |offset, rec| {
        if failure.is_some() {
            return;
        }
        match dispatch_record(&cqs, &index, offset, rec) {
            Ok(()) => replayed += 1,
            Err(e) => failure = Some(e),
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    // The log may have ended below what the queues pointed at (a torn tail): drop those entries too.
    // Queue minimums are not stored: derive them from the log's first offset.
    for cq in cqs.all() {
        cq.truncate_to_log_end(report.valid_end)?;
        cq.delete_before_physical(log_min)?;
    }
    log.set_next_queue_offsets(cqs.next_offsets());
    cqs.flush_all()?;
    index.flush()?;

    let stats = RecoveryStats {
        clean,
        scanned_from: from,
        log_end: report.valid_end,
        truncated_bytes: report.truncated_bytes,
        records_replayed: replayed,
        rebuilt_queues: rebuilt,
    };
    if clean {
        tracing::info!(
            log_end = stats.log_end,
            replayed,
            "store opened after a clean shutdown"
        );
    } else {
        tracing::warn!(
            log_end = stats.log_end,
            scanned_from = from,
            truncated_bytes = stats.truncated_bytes,
            replayed,
            "store recovered after an unclean shutdown"
        );
    }
    Ok((
        Recovered {
            log,
            cqs,
            index,
            dispatched: report.valid_end,
        },
        stats,
    ))
}

fn load_queues(
    cfg: &StoreConfig,
    layer: &Arc<dyn FileLayer>,
    root: &Path,
) -> Result<(Arc<ConsumeQueues>, Arc<Index>)> {
    let cap = cfg.open_queue_files_cap();
    tracing::debug!(cap, "open consume-queue files capped");
    let cqs = ConsumeQueues::load(root, layer.clone(), cfg.consume_queue_entries_per_file, cap)?;
    let index = Index::open(
        root,
        layer.clone(),
        cfg.index_hash_slots,
        cfg.index_max_entries,
    )?;
    Ok((Arc::new(cqs), Arc::new(index)))
}

/// Deletes every consume-queue and index file (never the commit log).
fn wipe_derived(layer: &dyn FileLayer, root: &Path) -> Result<()> {
    for dir in ["consumequeue", "index"] {
        remove_tree(layer, &root.join(dir))?;
    }
    Ok(())
}

fn remove_tree(layer: &dyn FileLayer, dir: &Path) -> Result<()> {
    for name in layer.list(dir).map_err(|e| StoreError::io(dir, e))? {
        let p = dir.join(&name);
        if layer.list(&p).is_ok_and(|v| !v.is_empty()) {
            remove_tree(layer, &p)?;
        }
        if layer.remove(&p).is_err() {
            layer.remove_dir(&p).map_err(|e| StoreError::io(&p, e))?;
        }
    }
    Ok(())
}
