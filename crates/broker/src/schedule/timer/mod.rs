//! 5.x timer messages: a timing wheel whose entries live on disk.
//!
//! A timer message is stored (and acknowledged) in `rmq_sys_wheel_timer` queue 0 with its delivery
//! time in `TIMER_OUT_MS`. One thread then:
//!
//! 1. takes new messages in from that queue and appends, for each, an entry (slot, delivery time,
//!    commit-log offset, size, previous entry of the slot) to the timer log (`log`), chaining it
//!    into its wheel slot (`wheel`: only the first/last position per slot is in memory);
//! 2. when the clock reaches a slot, walks the slot's chain, and stores each message again in its
//!    real topic and queue as soon as its own delivery time has come (so never early, whatever the
//!    slot width). Delivery times beyond the wheel's span are chained into the span's last slot and,
//!    when that slot comes, chained again further on: no message is rewritten, only a 40-byte entry;
//!    A recall's cancel marker (see `super::recall`) is chained like a message; loading a slot
//!    collects the unique keys its markers name, and those messages are dropped, not delivered;
//! 3. every `timerFlushIntervalMs`, once the copies stored so far are durable, syncs the log and
//!    writes `timer/checkpoint.json`: the next queue offset to take in, the log's valid end, the
//!    first slot not yet fully delivered, and the oldest log position still needed.
//!
//! Restart: the log is cut to the checkpoint's end, the slot heads are rebuilt by scanning from the
//! oldest needed position, and the queue is read again from the checkpoint's offset. Whatever was
//! done after the checkpoint is done again: a delivery can repeat, none is lost.

mod log;
pub mod meters;
mod wheel;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, Entry};
use ferromq_store::{Durable, QueueRead, Store, TagFilter};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use self::log::{LogEntry, TimerLog, NONE};
use self::wheel::Wheel;
use super::{now_ms, props, recall, redirect, Schedule, TIMER_TOPIC};
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::persist;

/// Messages taken in from the timer topic per read.
const BATCH: usize = 256;
/// Most messages taken in per step before delivering again, so intake never starves delivery.
const INTAKE_PER_STEP: usize = 4096;
/// Longest sleep: a safety net for clock jumps and missed wake-ups.
const MAX_IDLE: Duration = Duration::from_secs(1);
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// `timer/checkpoint.json`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    /// Next queue offset of the timer topic to take in.
    enqueue_offset: u64,
    /// The timer log is valid (synced) below this position.
    log_end: u64,
    /// Start of the first slot not fully delivered.
    cursor_ms: i64,
    /// No pending entry lies below this log position.
    scan_from: u64,
}

pub(super) fn spawn(
    config: &BrokerConfig,
    schedule: &Arc<Schedule>,
    store: Store,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>, BrokerError> {
    let mut timer = Timer::open(config, store)?;
    timer.trace = schedule.trace.get().cloned();
    schedule
        .timer_meters
        .recovered(timer.recovered_pending, timer.enqueue_offset);
    timer.meters = schedule.timer_meters.clone();
    let schedule = schedule.clone();
    std::thread::Builder::new()
        .name("timer-wheel".into())
        .spawn(move || {
            while !stop.load(Ordering::Acquire) {
                let idle = timer.step();
                schedule.timer_wake.wait(idle);
            }
            timer.checkpoint();
        })
        .map_err(|e| BrokerError::io("timer-wheel thread", e))
}

/// A message whose slot has come, waiting for its own delivery time.
#[derive(Debug, Clone, Copy)]
struct Due {
    deliver_ms: i64,
    phys: u64,
}

struct Timer {
    store: Store,
    log: TimerLog,
    wheel: Wheel,
    precision_ms: i64,
    cursor_ms: i64,
    enqueue_offset: u64,
    /// The cursor slot's messages, latest first, once the clock has reached the slot.
    loaded: Option<Vec<Due>>,
    /// Unique keys the cursor slot's cancel markers name: recalled, never delivered.
    cancelled: HashSet<String>,
    checkpoint_path: PathBuf,
    flush_interval: Duration,
    last_checkpoint: Instant,
    /// Something changed since the last checkpoint.
    dirty: bool,
    /// Resolves when the copies stored so far are durable.
    last_put: Option<Durable>,
    /// Where due deliveries are traced.
    trace: Option<Arc<crate::trace::Recorder>>,
    /// Shared with the broker's metrics.
    meters: Arc<meters::TimerMeters>,
    /// Messages recovery found in the wheel.
    recovered_pending: u64,
}

impl Timer {
    fn open(config: &BrokerConfig, store: Store) -> Result<Self, BrokerError> {
        let dir = config.store_root_dir.join("timer");
        let checkpoint_path = dir.join("checkpoint.json");
        let precision_ms = i64::try_from(config.timer_precision_ms.max(1)).unwrap_or(1000);
        let slots = usize::try_from(config.timer_roll_window_slot.max(2)).unwrap_or(2);
        let wheel = Wheel::new(slots, precision_ms);
        let cp = match persist::read_optional(&checkpoint_path)? {
            Some(bytes) => serde_json::from_slice::<Checkpoint>(&bytes).map_err(|e| {
                BrokerError::CorruptFile {
                    path: checkpoint_path.clone(),
                    detail: e.to_string(),
                }
            })?,
            None => Checkpoint {
                enqueue_offset: 0,
                log_end: 0,
                cursor_ms: wheel.slot_of(now_ms()),
                scan_from: 0,
            },
        };
        let log_dir = dir.join("log");
        let log = TimerLog::open(&log_dir, config.mapped_file_size_timer_log, cp.log_end)
            .map_err(|e| BrokerError::io(&log_dir, e))?;
        let mut timer = Self {
            store,
            log,
            wheel,
            precision_ms,
            cursor_ms: cp.cursor_ms,
            enqueue_offset: cp.enqueue_offset,
            loaded: None,
            cancelled: HashSet::new(),
            checkpoint_path,
            flush_interval: Duration::from_millis(config.timer_flush_interval_ms.max(1)),
            last_checkpoint: Instant::now(),
            dirty: false,
            last_put: None,
            trace: None,
            meters: Arc::default(),
            recovered_pending: 0,
        };
        let (mut pending, mut waiting) = (0u64, 0u64);
        let (cursor, wheel) = (timer.cursor_ms, &mut timer.wheel);
        timer
            .log
            .scan(cp.scan_from, |pos, e| {
                if e.slot_ms >= cursor {
                    wheel.link(e.slot_ms, pos);
                    pending += 1;
                    if !e.cancel {
                        waiting += 1;
                    }
                }
            })
            .map_err(|e| BrokerError::io(&log_dir, e))?;
        timer.recovered_pending = waiting;
        info!(
            pending,
            cursor_ms = cp.cursor_ms,
            enqueue_offset = cp.enqueue_offset,
            "timer wheel recovered"
        );
        Ok(timer)
    }

    /// Takes new timers in and delivers what is due; returns how long to sleep.
    fn step(&mut self) -> Duration {
        let more = match self.intake() {
            Ok(more) => more,
            Err(e) => {
                warn!(error = %e, "timer intake failed");
                return RETRY_PAUSE;
            }
        };
        let sleep = match self.deliver_due() {
            Ok(sleep) => sleep,
            Err(e) => {
                warn!(error = %e, "timer delivery failed; retrying");
                RETRY_PAUSE
            }
        };
        if self.last_checkpoint.elapsed() >= self.flush_interval {
            self.checkpoint();
        }
        let until_checkpoint = self
            .flush_interval
            .saturating_sub(self.last_checkpoint.elapsed());
        if more {
            Duration::ZERO
        } else if self.dirty {
            sleep.min(until_checkpoint)
        } else {
            sleep
        }
    }

    /// Reads the timer topic from the intake offset; true when more is waiting.
    fn intake(&mut self) -> Result<bool, BrokerError> {
        let filter = TagFilter::All;
        let mut taken = 0;
        while taken < INTAKE_PER_STEP {
            let got = self.store.get_messages(&QueueRead {
                topic: TIMER_TOPIC,
                queue_id: 0,
                from: self.enqueue_offset,
                max_msgs: BATCH,
                max_bytes: 8 << 20,
                filter: &filter,
            })?;
            if got.messages.is_empty() {
                if got.next_offset != self.enqueue_offset
                    && got.status != ferromq_store::GetStatus::OffsetOverflowOne
                {
                    warn!(
                        from = self.enqueue_offset,
                        to = got.next_offset,
                        "timer intake offset corrected"
                    );
                    self.enqueue_offset = got.next_offset;
                    self.meters.skipped_to(self.enqueue_offset);
                    continue;
                }
                return Ok(false);
            }
            for (bytes, &queue_offset) in got.messages.iter().zip(&got.queue_offsets) {
                if let Ok(Entry::Message(m)) = record::read(bytes, false) {
                    let deliver_ms = properties::get(m.properties, props::TIMER_OUT_MS)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(m.store_timestamp);
                    let size = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                    let cancel = properties::get(m.properties, recall::DEL_UNIQ_KEY).is_some();
                    self.place(deliver_ms, m.physical_offset, size, cancel)?;
                    if !cancel {
                        self.meters.enqueued(queue_offset + 1);
                    }
                } else {
                    warn!(queue_offset, "unreadable timer message skipped");
                }
                self.enqueue_offset = queue_offset + 1;
                self.meters.skipped_to(self.enqueue_offset);
                taken += 1;
            }
            self.dirty = true;
        }
        Ok(true)
    }

    /// Chains a timer into its slot: the cursor slot at the earliest, the wheel's last slot at the
    /// latest (it is chained again when that slot comes).
    fn place(
        &mut self,
        deliver_ms: i64,
        phys: u64,
        size: u32,
        cancel: bool,
    ) -> Result<(), BrokerError> {
        let last_slot = self.cursor_ms + self.wheel.span_ms() - self.precision_ms;
        let slot_ms = self
            .wheel
            .slot_of(deliver_ms)
            .clamp(self.cursor_ms, last_slot);
        let entry = LogEntry {
            slot_ms,
            deliver_ms,
            phys,
            prev: self.wheel.last(slot_ms).unwrap_or(NONE),
            size,
            cancel,
        };
        let pos = self
            .log
            .append(&entry)
            .map_err(|e| BrokerError::io("timer log", e))?;
        self.wheel.link(slot_ms, pos);
        if slot_ms == self.cursor_ms {
            if cancel && self.loaded.is_some() {
                // The slot is being delivered: the marker takes effect for what is still waiting.
                if let Some(key) = cancelled_key(&self.store, phys) {
                    self.cancelled.insert(key);
                }
            } else if let Some(loaded) = &mut self.loaded {
                let due = Due { deliver_ms, phys };
                // Latest first: insert keeping the order, so the next due is at the end.
                let at = loaded.partition_point(|d| d.deliver_ms > deliver_ms);
                loaded.insert(at, due);
            }
        }
        Ok(())
    }

    /// Delivers every due timer; returns how long until the next may be due.
    fn deliver_due(&mut self) -> Result<Duration, BrokerError> {
        if self.store.is_read_only() {
            // Not the master (controller mode): the master delivers; look again later.
            return Ok(RETRY_PAUSE);
        }
        loop {
            let now = now_ms();
            if self.loaded.is_none() {
                if now < self.cursor_ms {
                    return Ok(millis(self.cursor_ms - now));
                }
                self.load_cursor_slot()?;
            }
            let loaded = self.loaded.as_mut().expect("loaded just above");
            while let Some(next) = loaded.last().copied() {
                if next.deliver_ms > now {
                    return Ok(millis(next.deliver_ms - now));
                }
                let delivered = deliver(
                    &self.store,
                    self.trace.as_deref(),
                    next.phys,
                    &self.cancelled,
                    &mut self.last_put,
                )?;
                loaded.pop();
                self.meters.left(delivered);
                self.dirty = true;
            }
            self.wheel.clear(self.cursor_ms);
            self.cursor_ms += self.precision_ms;
            self.loaded = None;
            self.cancelled.clear();
        }
    }

    /// Walks the cursor slot's chain: timers due within the slot are loaded, later ones (beyond
    /// the span when placed) are chained further on.
    fn load_cursor_slot(&mut self) -> Result<(), BrokerError> {
        let slot_end = self.cursor_ms + self.precision_ms;
        let mut due = Vec::new();
        let mut later = Vec::new();
        let mut cancelled = HashSet::new();
        let mut pos = self.wheel.last(self.cursor_ms).unwrap_or(NONE);
        while let Some(e) = self
            .log
            .read(pos)
            .map_err(|e| BrokerError::io("timer log", e))?
        {
            if e.slot_ms != self.cursor_ms {
                break;
            }
            if e.deliver_ms >= slot_end {
                later.push(e);
            } else if e.cancel {
                cancelled.extend(cancelled_key(&self.store, e.phys));
            } else {
                due.push(Due {
                    deliver_ms: e.deliver_ms,
                    phys: e.phys,
                });
            }
            pos = e.prev;
        }
        due.sort_by_key(|d| std::cmp::Reverse(d.deliver_ms));
        self.loaded = Some(due);
        self.cancelled = cancelled;
        for e in later.into_iter().rev() {
            self.place(e.deliver_ms, e.phys, e.size, e.cancel)?;
            self.dirty = true;
        }
        Ok(())
    }

    /// Makes progress durable: the copies first, then the log, then the checkpoint naming both.
    fn checkpoint(&mut self) {
        self.last_checkpoint = Instant::now();
        if !self.dirty {
            return;
        }
        if let Some(put) = self.last_put.take() {
            if let Err(e) = put.wait() {
                warn!(error = %e, "delivered timers not durable; checkpoint postponed");
                return;
            }
        }
        if let Err(e) = self.log.sync() {
            warn!(error = %e, "timer log sync failed; checkpoint postponed");
            return;
        }
        let scan_from = self
            .wheel
            .oldest_needed(self.cursor_ms)
            .unwrap_or(self.log.end());
        let cp = Checkpoint {
            enqueue_offset: self.enqueue_offset,
            log_end: self.log.end(),
            cursor_ms: self.cursor_ms,
            scan_from,
        };
        let written = serde_json::to_vec(&cp)
            .map_err(|e| BrokerError::BadBody(e.to_string()))
            .and_then(|b| persist::write_atomic(&self.checkpoint_path, &b));
        match written {
            Ok(()) => {
                self.dirty = false;
                if let Err(e) = self.log.drop_before(scan_from) {
                    warn!(error = %e, "deleting old timer log segments failed");
                }
            }
            Err(e) => warn!(error = %e, "timer checkpoint failed"),
        }
    }
}

/// The unique key the cancel marker at `phys` names; `None` when it is unreadable (retention took
/// it: the message it cancelled, stored before it, is gone as well).
fn cancelled_key(store: &Store, phys: u64) -> Option<String> {
    let bytes = store.read_record(phys).ok()?;
    let Ok(Entry::Message(marker)) = record::read(&bytes, false) else {
        return None;
    };
    properties::get(marker.properties, recall::DEL_UNIQ_KEY).map(str::to_owned)
}

/// Stores the parked message at `phys` again in its real topic and queue, unless it was recalled
/// (its unique key is in `cancelled`); true when it was stored.
fn deliver(
    store: &Store,
    trace: Option<&crate::trace::Recorder>,
    phys: u64,
    cancelled: &HashSet<String>,
    last_put: &mut Option<Durable>,
) -> Result<bool, BrokerError> {
    let bytes = match store.read_record(phys) {
        Ok(b) => b,
        Err(e) => {
            // Retention removed it, or the log was cut: nothing left to deliver.
            warn!(phys, error = %e, "timer message no longer readable; dropped");
            return Ok(false);
        }
    };
    let Ok(Entry::Message(parked)) = record::read(&bytes, false) else {
        return Ok(false);
    };
    if !cancelled.is_empty() {
        if let Some(uniq) = properties::get(parked.properties, keys::UNIQ_KEY) {
            if cancelled.contains(uniq) {
                info!(phys, uniq, "recalled timer message dropped");
                return Ok(false);
            }
        }
    }
    let now = now_ms().to_string();
    let Some(to) = redirect::restore(
        &parked,
        &[
            keys::TIMER_DELIVER_MS,
            keys::TIMER_DELAY_SEC,
            keys::TIMER_DELAY_MS,
            props::START_DELIVER_TIME,
        ],
        &[(props::TIMER_DEQUEUE_MS, now.as_str())],
    ) else {
        warn!(phys, "timer message without REAL_TOPIC/REAL_QID dropped");
        return Ok(false);
    };
    let draft = redirect::draft(&parked, &to);
    let put = store.put(&draft)?;
    crate::trace::hooks::due(trace, &draft, put.records.first());
    *last_put = Some(put.durable);
    Ok(true)
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(MAX_IDLE)
}
