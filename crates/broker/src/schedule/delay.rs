//! Delay-level delivery: one thread walks the `SCHEDULE_TOPIC_XXXX` queues (queue `level - 1`).
//!
//! Within one level every message waits the same delay, so a queue is in due order: the thread
//! looks at each queue's head, moves every due message to its real topic, and sleeps until the
//! earliest head that is not due yet (or until a new delayed message arrives). A message's due time
//! is its store time plus the level's delay, so messages parked before a restart keep their time.
//!
//! Progress (the next queue offset per level) is written to `config/delayOffset.json` after the
//! moved copies are stored and durable: a crash in between delivers those messages again, never
//! loses them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use ferromq_model::properties::keys;
use ferromq_model::record::{self, Entry};
use ferromq_store::{Durable, GetStatus, QueueRead, Store, TagFilter};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use super::redirect;
use super::{now_ms, DelayLevels, Schedule, SCHEDULE_TOPIC};
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::persist;

/// Messages read per queue per step.
const BATCH: usize = 64;
/// Longest sleep: a safety net for clock jumps and missed wake-ups.
const MAX_IDLE: Duration = Duration::from_secs(1);
/// Pause after a failed put before trying again (disk full, store closing).
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// `delayOffset.json`, as the Java broker names it: level → next queue offset.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DelayOffsets {
    offset_table: BTreeMap<u32, u64>,
}

/// Where the level progress lives.
fn offsets_path(config: &BrokerConfig) -> PathBuf {
    config.config_dir().join("delayOffset.json")
}

fn read_offsets(path: &std::path::Path) -> Result<DelayOffsets, BrokerError> {
    match persist::read_optional(path)? {
        Some(bytes) => {
            serde_json::from_slice::<DelayOffsets>(&bytes).map_err(|e| BrokerError::CorruptFile {
                path: path.to_owned(),
                detail: e.to_string(),
            })
        }
        None => Ok(DelayOffsets::default()),
    }
}

/// `delayOffset.json` as it is now, for GET_ALL_DELAY_OFFSET (RocketMQ answers the file's text).
///
/// # Errors
/// An unreadable or corrupt file.
pub(crate) fn offsets_json(config: &BrokerConfig) -> Result<Vec<u8>, BrokerError> {
    let offsets = read_offsets(&offsets_path(config))?;
    serde_json::to_vec(&offsets).map_err(|e| BrokerError::BadBody(e.to_string()))
}

/// A replica takes its master's level progress (`body` of GET_ALL_DELAY_OFFSET), so that, promoted,
/// it does not deliver again what the master already delivered. Read back by the delivery thread
/// while the store is read-only.
///
/// # Errors
/// A body that is not level progress; writing the file.
pub(crate) fn mirror_offsets(config: &BrokerConfig, body: &[u8]) -> Result<(), BrokerError> {
    let offsets: DelayOffsets =
        serde_json::from_slice(body).map_err(|e| BrokerError::BadBody(e.to_string()))?;
    let path = offsets_path(config);
    if read_offsets(&path).is_ok_and(|cur| cur.offset_table == offsets.offset_table) {
        return Ok(());
    }
    let bytes =
        serde_json::to_vec_pretty(&offsets).map_err(|e| BrokerError::BadBody(e.to_string()))?;
    persist::write_atomic(&path, &bytes)
}

pub(super) fn spawn(
    config: &BrokerConfig,
    schedule: &Arc<Schedule>,
    store: Store,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>, BrokerError> {
    let path = offsets_path(config);
    let offsets = read_offsets(&path)?;
    let mut run = LevelDelivery {
        levels: schedule.levels.clone(),
        trace: schedule.trace.get().cloned(),
        store,
        path,
        offsets,
    };
    let schedule = schedule.clone();
    std::thread::Builder::new()
        .name("delay-levels".into())
        .spawn(move || {
            while !stop.load(Ordering::Acquire) {
                let idle = run.step(&stop);
                schedule.delay_wake.wait(idle);
            }
        })
        .map_err(|e| BrokerError::io("delay-levels thread", e))
}

struct LevelDelivery {
    levels: DelayLevels,
    trace: Option<Arc<crate::trace::Recorder>>,
    store: Store,
    path: PathBuf,
    offsets: DelayOffsets,
}

/// What one pass over a level found.
enum Head {
    /// Nothing parked past the offset.
    Empty,
    /// The next message is due at this time (ms since the epoch).
    DueAt(i64),
    /// The store refused a put; try again shortly.
    Failed,
}

impl LevelDelivery {
    /// Delivers everything due on every level; returns how long to sleep.
    fn step(&mut self, stop: &AtomicBool) -> Duration {
        if self.store.is_read_only() {
            // Not the master (controller mode): follow the progress mirrored from the master,
            // to start from there if this broker is promoted.
            match read_offsets(&self.path) {
                Ok(offsets) => self.offsets = offsets,
                Err(e) => debug!(error = %e, "mirrored delay progress unreadable"),
            }
            return RETRY_PAUSE;
        }
        let mut sleep = MAX_IDLE;
        let levels: Vec<(u32, Duration)> = self.levels.iter().collect();
        for (level, delay) in levels {
            if stop.load(Ordering::Acquire) {
                break;
            }
            let wait = match self.deliver_level(level, delay) {
                Head::Empty => MAX_IDLE,
                Head::DueAt(due) => {
                    Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0))
                }
                Head::Failed => RETRY_PAUSE,
            };
            sleep = sleep.min(wait);
        }
        sleep
    }

    fn deliver_level(&mut self, level: u32, delay: Duration) -> Head {
        let queue_id = level - 1;
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        loop {
            let from = self.offsets.offset_table.get(&level).copied().unwrap_or(0);
            let filter = TagFilter::All;
            let read = self.store.get_messages(&QueueRead {
                topic: SCHEDULE_TOPIC,
                queue_id,
                from,
                max_msgs: BATCH,
                max_bytes: 4 << 20,
                filter: &filter,
            });
            let got = match read {
                Ok(got) => got,
                Err(e) => {
                    warn!(level, error = %e, "reading the schedule queue failed");
                    return Head::Failed;
                }
            };
            if got.messages.is_empty() {
                // Behind the queue's start (retention) or past its end (a queue cut by recovery):
                // continue from where the store says the queue is.
                if matches!(
                    got.status,
                    GetStatus::OffsetTooSmall | GetStatus::OffsetOverflowBadly
                ) && got.next_offset != from
                {
                    self.set_offset(level, got.next_offset);
                    continue;
                }
                return Head::Empty;
            }
            let now = now_ms();
            let mut next = from;
            let mut last: Option<Durable> = None;
            let mut head = None;
            for (bytes, &queue_offset) in got.messages.iter().zip(&got.queue_offsets) {
                let Ok(Entry::Message(parked)) = record::read(bytes, false) else {
                    warn!(level, queue_offset, "unreadable parked message skipped");
                    next = queue_offset + 1;
                    continue;
                };
                let due = parked.store_timestamp.saturating_add(delay_ms);
                if due > now {
                    head = Some(due);
                    break;
                }
                match redirect::restore(&parked, &[keys::DELAY_TIME_LEVEL], &[]) {
                    Some(to) => match self.store.put(&redirect::draft(&parked, &to)) {
                        Ok(put) => {
                            crate::trace::hooks::due(
                                self.trace.as_deref(),
                                &redirect::draft(&parked, &to),
                                put.records.first(),
                            );
                            last = Some(put.durable);
                        }
                        Err(e) => {
                            warn!(level, queue_offset, error = %e, "delayed message not delivered yet");
                            let _ = self.commit(level, next, last);
                            return Head::Failed;
                        }
                    },
                    None => warn!(
                        level,
                        queue_offset, "parked message without REAL_TOPIC/REAL_QID dropped"
                    ),
                }
                next = queue_offset + 1;
            }
            if !self.commit(level, next, last) {
                return Head::Failed;
            }
            if let Some(due) = head {
                return Head::DueAt(due);
            }
        }
    }

    /// Records `next` as the level's offset once the copies stored before it are durable.
    fn commit(&mut self, level: u32, next: u64, last: Option<Durable>) -> bool {
        if let Some(durable) = last {
            if let Err(e) = durable.wait() {
                warn!(level, error = %e, "delivered copies not durable; progress not saved");
                return false;
            }
        }
        self.set_offset(level, next);
        true
    }

    fn set_offset(&mut self, level: u32, next: u64) {
        let old = self.offsets.offset_table.insert(level, next);
        if old == Some(next) {
            return;
        }
        debug!(level, next, "delay progress");
        let result = serde_json::to_vec_pretty(&self.offsets)
            .map_err(|e| BrokerError::BadBody(e.to_string()))
            .and_then(|bytes| persist::write_atomic(&self.path, &bytes));
        if let Err(e) = result {
            warn!(error = %e, "persisting delay progress failed");
        }
    }
}
