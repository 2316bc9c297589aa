//! Cutting a store back to an offset while it is closed: what a former master does before it follows
//! the new one, whose log ends where the two last agreed.
//!
//! The checkpoint is lowered to the cut first and the store marked as not cleanly stopped, so the next
//! open drops every consume-queue and index entry past the cut and recovers from there, even when the
//! cut itself is interrupted by a crash (the log then still holds its whole prefix, and the next cut
//! or recovery finishes the job).

use std::sync::Arc;

use crate::checkpoint::{self, Checkpoint};
use crate::clock::Clock;
use crate::commit_log::CommitLog;
use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use crate::io::FileLayer;

pub(crate) fn truncate_log(
    config: &StoreConfig,
    layer: &Arc<dyn FileLayer>,
    clock: &Arc<dyn Clock>,
    offset: u64,
) -> Result<u64> {
    config.validate()?;
    let root = config.root_dir.as_path();
    layer
        .create_dir_all(root)
        .map_err(|e| StoreError::io(root, e))?;
    checkpoint::mark_running(layer.as_ref(), root)?;
    if let Some(cp) = Checkpoint::load(layer.as_ref(), root)? {
        Checkpoint {
            commit_log_flushed: cp.commit_log_flushed.min(offset),
            dispatched: cp.dispatched.min(offset),
            index_end: cp.index_end.min(offset),
            clean_shutdown: false,
            written_at_ms: clock.now_millis(),
        }
        .store(layer.as_ref(), root)?;
    }
    let log = CommitLog::open(config, layer.clone(), clock.clone())?;
    log.cut_at(offset)
}
