//! ferromq's storage engine: RocketMQ's storage pyramid, synchronous, with no networking.
//!
//! Layout of the crate:
//! - [`commit_log`]: one append-only log of every topic's records, in fixed-size segment files.
//! - [`flush`] / [`completion`]: ASYNC_FLUSH background flushing and SYNC_FLUSH group commit; an
//!   append's [`Durable`] resolves once an fdatasync covers it; [`flush_stats`] its histograms.
//! - [`consume_queue`]: per topic-queue 20-byte entries (log offset, size, tag code) pointing into the log.
//! - [`index`]: hashed lookup of records by message key and unique id.
//! - [`dispatch`]: the thread that follows the log and fills consume queues and index ("reput").
//! - [`read`]: the pull path (queue offset range, tag filter, stored bytes as they are).
//! - [`recovery`] / [`checkpoint`]: start fast after a clean shutdown; after a crash, cut the torn
//!   tail at the last valid record and rebuild what points past it.
//! - [`retention`] / [`maintenance`]: expiring old segments, periodic checkpoints.
//! - [`io`]: the file-layer seam; [`segment`] is the real disk, [`sim`] a simulated one that loses
//!   unsynced bytes on a simulated power cut.
//!
//! [`StoreHandle`] owns the threads; [`Store`] is the cheap, clonable handle for reads and writes.
#![warn(clippy::pedantic)]
#![allow(clippy::module_name_repetitions)]
// Docs name RocketMQ's modes and files as operators know them (SYNC_FLUSH, ASYNC_FLUSH, RocketMQ).
#![allow(clippy::doc_markdown)]
// The file-layer traits return plain `io::Error`s whose meaning is the OS's; documenting each is noise.
#![allow(clippy::missing_errors_doc)]

pub mod checkpoint;
pub mod clock;
pub mod commit_log;
pub mod completion;
pub mod config;
pub mod consume_queue;
pub(crate) mod dispatch;
pub mod error;
pub mod flush;
pub mod flush_stats;
pub mod index;
pub mod io;
pub(crate) mod maintenance;
pub mod read;
pub mod recovery;
pub mod retention;
pub mod segment;
pub mod sim;
pub(crate) mod truncate;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, Entry, RecordDraft};
use parking_lot::{Mutex, RwLock};

pub use crate::commit_log::{Appended, ReplicaAppend};
pub use crate::completion::Durable;
pub use crate::config::{FlushMode, IoMode, StoreConfig};
pub use crate::dispatch::ArrivalListener;
pub use crate::error::{Result, StoreError};
pub use crate::read::{GetResult, GetStatus, QueueRead, TagFilter};
pub use crate::recovery::RecoveryStats;
pub use crate::retention::RetentionReport;

use crate::clock::{Clock, SystemClock};
use crate::commit_log::CommitLog;
use crate::consume_queue::ConsumeQueues;
use crate::dispatch::{DispatchContext, DispatchState, Dispatcher};
use crate::flush::Flusher;
use crate::index::Index;
use crate::io::FileLayer;
use crate::maintenance::Maintenance;

/// Called with the written offset after each append (see [`Store::add_write_listener`]).
pub type WriteListener = Arc<dyn Fn(u64) + Send + Sync>;

/// What a put returns: where each record landed, and when it is durable.
#[derive(Debug)]
pub struct PutResult {
    pub records: Vec<Appended>,
    /// Resolves when the records survive a power loss (at once under ASYNC_FLUSH).
    pub durable: Durable,
}

/// State shared by the handles and the store's threads.
pub(crate) struct Shared {
    pub config: StoreConfig,
    pub layer: Arc<dyn FileLayer>,
    pub clock: Arc<dyn Clock>,
    pub log: Arc<CommitLog>,
    pub cqs: Arc<ConsumeQueues>,
    pub index: Arc<Index>,
    pub flusher: Flusher,
    pub dispatch: Arc<DispatchState>,
    pub listeners: Arc<RwLock<Vec<ArrivalListener>>>,
    pub write_listeners: Arc<RwLock<Vec<WriteListener>>>,
    pub retention_lock: Mutex<()>,
    pub closed: AtomicBool,
    /// Refuses `put`/`put_batch` while replicated appends go on (a replica, a fenced master).
    pub read_only: AtomicBool,
}

/// Reads and writes; clone freely.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.shared.config.root_dir)
            .finish_non_exhaustive()
    }
}

/// Owns the store's threads; shut it down to flush and checkpoint (dropping it does the same).
#[derive(Debug)]
pub struct StoreHandle {
    store: Store,
    dispatcher: Dispatcher,
    maintenance: Maintenance,
    recovery: RecoveryStats,
    shut_down: bool,
}

impl StoreHandle {
    /// Opens (or creates) the store on the real disk, recovering as needed.
    ///
    /// # Errors
    /// Invalid configuration, unreadable or foreign files, I/O errors.
    pub fn open(config: StoreConfig) -> Result<StoreHandle> {
        let layer: Arc<dyn FileLayer> = Arc::new(segment::DiskLayer::new(
            config.io_mode.resolve(config.flush_mode),
        ));
        Self::open_with(config, layer, Arc::new(SystemClock))
    }

    /// Opens the store on a given file layer and clock (tests, simulations).
    ///
    /// # Errors
    /// As [`StoreHandle::open`].
    pub fn open_with(
        config: StoreConfig,
        layer: Arc<dyn FileLayer>,
        clock: Arc<dyn Clock>,
    ) -> Result<StoreHandle> {
        config.validate()?;
        let (rec, recovery) = recovery::recover(&config, &layer, &clock)?;
        checkpoint::mark_running(layer.as_ref(), &config.root_dir)?;
        let dispatch = Arc::new(DispatchState::new(rec.dispatched));
        let sync = config.flush_mode == FlushMode::SyncFlush;
        let kick = dispatch.clone();
        let flusher = Flusher::start(rec.log.clone(), &config, Arc::new(move |_| kick.kick()));
        let write_listeners: Arc<RwLock<Vec<WriteListener>>> = Arc::default();
        let listeners = write_listeners.clone();
        rec.log.on_written(Box::new(move |end| {
            for l in listeners.read().iter() {
                l(end);
            }
        }));
        let shared = Arc::new(Shared {
            config,
            layer,
            clock,
            log: rec.log,
            cqs: rec.cqs,
            index: rec.index,
            flusher,
            dispatch,
            listeners: Arc::new(RwLock::new(Vec::new())),
            write_listeners,
            retention_lock: Mutex::new(()),
            closed: AtomicBool::new(false),
            read_only: AtomicBool::new(false),
        });
        let log = shared.log.clone();
        let visible: Box<dyn Fn() -> u64 + Send> = if sync {
            Box::new(move || log.flushed_offset())
        } else {
            Box::new(move || log.written_offset())
        };
        let dispatcher = Dispatcher::start(DispatchContext {
            log: shared.log.clone(),
            cqs: shared.cqs.clone(),
            index: shared.index.clone(),
            state: shared.dispatch.clone(),
            listeners: shared.listeners.clone(),
            visible,
        })
        .map_err(|e| StoreError::io(&shared.config.root_dir, e))?;
        let maintenance = Maintenance::start(shared.clone())
            .map_err(|e| StoreError::io(&shared.config.root_dir, e))?;
        Ok(StoreHandle {
            store: Store { shared },
            dispatcher,
            maintenance,
            recovery,
            shut_down: false,
        })
    }

    /// Cuts the closed store at `config.root_dir` back to commit-log offset `offset` (an entry
    /// boundary): every record from there on is removed, and the next open drops the consume-queue and
    /// index entries that pointed at them. For a former master that must follow a new one whose log
    /// ends at `offset`. Returns the bytes removed (an upper bound).
    ///
    /// # Errors
    /// Invalid configuration, foreign files, I/O errors.
    pub fn truncate_log(config: &StoreConfig, offset: u64) -> Result<u64> {
        let layer: Arc<dyn FileLayer> = Arc::new(segment::DiskLayer::new(
            config.io_mode.resolve(config.flush_mode),
        ));
        Self::truncate_log_with(
            config,
            &layer,
            &(Arc::new(SystemClock) as Arc<dyn Clock>),
            offset,
        )
    }

    /// [`StoreHandle::truncate_log`] on a given file layer and clock.
    ///
    /// # Errors
    /// As [`StoreHandle::truncate_log`].
    pub fn truncate_log_with(
        config: &StoreConfig,
        layer: &Arc<dyn FileLayer>,
        clock: &Arc<dyn Clock>,
        offset: u64,
    ) -> Result<u64> {
        truncate::truncate_log(config, layer, clock, offset)
    }

    /// The read/write handle.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What opening the store found.
    #[must_use]
    pub fn recovery(&self) -> &RecoveryStats {
        &self.recovery
    }

    /// Stops accepting writes, syncs everything, dispatches the rest, writes a clean checkpoint.
    ///
    /// # Errors
    /// When the final sync or checkpoint fails (the next open then recovers as after a crash).
    pub fn shutdown(mut self) -> Result<()> {
        self.close()
    }

    fn close(&mut self) -> Result<()> {
        if self.shut_down {
            return Ok(());
        }
        self.shut_down = true;
        let shared = &self.store.shared;
        shared.closed.store(true, Ordering::Release);
        let flushed = shared.flusher.shutdown();
        self.dispatcher.shutdown();
        self.maintenance.shutdown();
        flushed?;
        maintenance::write_checkpoint(shared, true)?;
        checkpoint::mark_clean(shared.layer.as_ref(), &shared.config.root_dir)
    }
}

impl Drop for StoreHandle {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(error = %e, "store shutdown failed");
        }
    }
}

impl Store {
    /// Appends one message.
    ///
    /// # Errors
    /// A message too large or malformed, a full disk, a poisoned or closed store.
    pub fn put(&self, draft: &RecordDraft<'_>) -> Result<PutResult> {
        self.put_batch(std::slice::from_ref(draft))
    }

    /// Appends messages as one contiguous write into one segment.
    ///
    /// # Errors
    /// As [`Store::put`]; a batch larger than a segment is refused.
    pub fn put_batch(&self, drafts: &[RecordDraft<'_>]) -> Result<PutResult> {
        let s = &self.shared;
        if s.closed.load(Ordering::Acquire) {
            return Err(StoreError::ShutDown);
        }
        if s.read_only.load(Ordering::Acquire) {
            return Err(StoreError::ReadOnly);
        }
        if let Some(why) = s.flusher.poisoned() {
            return Err(StoreError::Poisoned(why));
        }
        let outcome = s.log.append(drafts)?;
        let durable = s.flusher.durable(outcome.end_offset, drafts.len() as u64);
        if s.config.flush_mode == FlushMode::AsyncFlush {
            s.dispatch.kick();
        }
        Ok(PutResult {
            records: outcome.records,
            durable,
        })
    }

    /// Refuses (`true`) or accepts again new messages through [`Store::put`] and
    /// [`Store::put_batch`] (they fail with `ReadOnly`); [`Store::append_replicated`] is not affected.
    /// A broker that is not its group's master sets it, so nothing it runs (sends, delayed
    /// deliveries, transaction checks, trace records) can write a record its master does not have.
    pub fn set_read_only(&self, read_only: bool) {
        self.shared.read_only.store(read_only, Ordering::Release);
    }

    /// Whether [`Store::set_read_only`] refuses new messages now.
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.shared.read_only.load(Ordering::Acquire)
    }

    /// Writes bytes copied from another store's commit log at the same offsets (a replica following
    /// its master): the whole entries at the start of `data`, which belongs at `offset`. Consume queues
    /// and index follow as for [`Store::put`]; the [`Durable`] resolves per this store's flush mode.
    ///
    /// # Errors
    /// `ReplicaOffset` when `offset` is not this log's written offset (see
    /// [`commit_log::CommitLog::append_replicated`]); `CorruptRecord`; a full disk; a poisoned or
    /// closed store.
    pub fn append_replicated(&self, offset: u64, data: &[u8]) -> Result<(ReplicaAppend, Durable)> {
        let s = &self.shared;
        if s.closed.load(Ordering::Acquire) {
            return Err(StoreError::ShutDown);
        }
        if let Some(why) = s.flusher.poisoned() {
            return Err(StoreError::Poisoned(why));
        }
        let appended = s.log.append_replicated(offset, data)?;
        let durable = s.flusher.durable(appended.end_offset, appended.records);
        if s.config.flush_mode == FlushMode::AsyncFlush {
            s.dispatch.kick();
        }
        Ok((appended, durable))
    }

    /// Whole commit-log entries from `offset`, about `max_len` bytes, for a replica to pass to
    /// [`Store::append_replicated`]; and the offset the next chunk starts at. Empty at the written offset.
    ///
    /// # Errors
    /// `OffsetOutOfRange` outside the readable log (a replica behind the minimum offset must start
    /// over from it); `CorruptRecord` when `offset` is not an entry boundary.
    pub fn replication_chunk(&self, offset: u64, max_len: usize) -> Result<(Bytes, u64)> {
        self.shared.log.entries_from(offset, max_len)
    }

    /// Registers a listener called with the new written offset each time appended bytes reach the
    /// log file (before they are durable): from the appending thread, or under `SYNC_FLUSH`'s
    /// write-behind from the flush thread. It must be quick. Replication wakes on it.
    pub fn add_write_listener(&self, listener: WriteListener) {
        self.shared.write_listeners.write().push(listener);
    }

    /// Stored bytes of `size` at `physical_offset`.
    ///
    /// # Errors
    /// `OffsetOutOfRange` outside the readable log.
    pub fn read(&self, physical_offset: u64, size: u32) -> Result<Bytes> {
        self.shared.log.read(physical_offset, size as usize)
    }

    /// The whole record starting at `physical_offset`, verified.
    ///
    /// # Errors
    /// `OffsetOutOfRange`, or `CorruptRecord` when no valid record starts there.
    pub fn read_record(&self, physical_offset: u64) -> Result<Bytes> {
        let head = self.shared.log.read(physical_offset, 8)?;
        let (size, magic) = record::peek(&head).map_err(|source| StoreError::CorruptRecord {
            offset: physical_offset,
            source,
        })?;
        // The offset may come from a client (a message id): check what it points at before reading
        // `size` bytes, so a guessed offset inside a body cannot make us allocate up to a segment.
        if magic != record::MAGIC_V1 && magic != record::MAGIC_V2 {
            return Err(StoreError::CorruptRecord {
                offset: physical_offset,
                source: record::RecordError::BadMagic(magic),
            });
        }
        if size as usize > self.shared.config.max_message_bytes {
            return Err(StoreError::CorruptRecord {
                offset: physical_offset,
                source: record::RecordError::BadSize(i64::from(size)),
            });
        }
        let bytes = self.shared.log.read(physical_offset, size as usize)?;
        match record::read(&bytes, true) {
            Ok(Entry::Message(_)) => Ok(bytes),
            Ok(Entry::Blank { .. }) => Err(StoreError::CorruptRecord {
                offset: physical_offset,
                source: record::RecordError::Malformed("blank marker, not a record"),
            }),
            Err(source) => Err(StoreError::CorruptRecord {
                offset: physical_offset,
                source,
            }),
        }
    }

    /// Messages of one queue from a queue offset; see [`QueueRead`] and [`GetStatus`].
    ///
    /// # Errors
    /// I/O errors reading the queue or the log.
    pub fn get_messages(&self, query: &QueueRead<'_>) -> Result<GetResult> {
        read::get_messages(&self.shared.log, &self.shared.cqs, query)
    }

    /// First readable queue offset (0 for an unknown queue).
    #[must_use]
    pub fn min_queue_offset(&self, topic: &str, queue_id: u32) -> u64 {
        self.shared
            .cqs
            .get(topic, queue_id)
            .map_or(0, |q| q.min_offset())
    }

    /// Next queue offset to be written (0 for an unknown queue).
    #[must_use]
    pub fn max_queue_offset(&self, topic: &str, queue_id: u32) -> u64 {
        self.shared
            .cqs
            .get(topic, queue_id)
            .map_or(0, |q| q.max_offset())
    }

    /// Queue ids that have a consume queue for `topic`.
    #[must_use]
    pub fn queue_ids(&self, topic: &str) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .shared
            .cqs
            .queues_of(topic)
            .iter()
            .map(|q| q.queue_id())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// First queue offset whose message was stored at or after `timestamp_ms`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn queue_offset_by_time(
        &self,
        topic: &str,
        queue_id: u32,
        timestamp_ms: i64,
    ) -> Result<u64> {
        let Some(cq) = self.shared.cqs.get(topic, queue_id) else {
            return Ok(0);
        };
        cq.offset_by_time(timestamp_ms, &|offset, size| self.store_time(offset, size))
    }

    /// Store time of the message at `queue_offset`, if readable.
    ///
    /// # Errors
    /// I/O errors.
    pub fn message_store_time(
        &self,
        topic: &str,
        queue_id: u32,
        queue_offset: u64,
    ) -> Result<Option<i64>> {
        let Some(cq) = self.shared.cqs.get(topic, queue_id) else {
            return Ok(None);
        };
        Ok(cq
            .get(queue_offset)?
            .and_then(|e| self.store_time(e.physical_offset, e.size)))
    }

    /// Store time of the oldest readable message of a queue.
    ///
    /// # Errors
    /// I/O errors.
    pub fn earliest_message_time(&self, topic: &str, queue_id: u32) -> Result<Option<i64>> {
        self.message_store_time(topic, queue_id, self.min_queue_offset(topic, queue_id))
    }

    fn store_time(&self, offset: u64, size: u32) -> Option<i64> {
        let bytes = self.shared.log.read(offset, size as usize).ok()?;
        match record::read(&bytes, false) {
            Ok(Entry::Message(r)) => Some(r.store_timestamp),
            _ => None,
        }
    }

    /// Records of `topic` indexed under `key` (a `KEYS` word or a `UNIQ_KEY`) stored within
    /// `[begin_ms, end_ms]`, newest first, at most `max` (honoured exactly; no hidden cap). Hash
    /// collisions are filtered out here: every returned record really carries the key.
    ///
    /// # Errors
    /// I/O errors.
    pub fn query_by_key(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Bytes>> {
        let mut out = Vec::new();
        let mut want = max;
        // Collisions can eat into the budget: ask again with more room until enough survive the check.
        loop {
            let offsets = self
                .shared
                .index
                .query(topic, key, want, begin_ms, end_ms)?;
            out.clear();
            for off in &offsets {
                let Ok(bytes) = self.read_record(*off) else {
                    continue;
                };
                if record_has_key(&bytes, topic, key) {
                    out.push(bytes);
                    if out.len() == max {
                        return Ok(out);
                    }
                }
            }
            if offsets.len() < want || want >= max.saturating_mul(8) {
                return Ok(out);
            }
            want = want.saturating_mul(2);
        }
    }

    /// Deletes a topic's consume queues (its records stay in the log until retention).
    ///
    /// # Errors
    /// I/O errors.
    pub fn delete_topic(&self, topic: &str) -> Result<()> {
        self.shared.log.forget_topic(topic);
        self.shared.cqs.remove_topic(topic)
    }

    /// Registers a listener called after new messages become visible in a queue.
    pub fn add_arrival_listener(&self, listener: ArrivalListener) {
        self.shared.listeners.write().push(listener);
    }

    /// End of the last complete write.
    #[must_use]
    pub fn written_offset(&self) -> u64 {
        self.shared.log.written_offset()
    }

    /// Everything below is durable.
    #[must_use]
    pub fn flushed_offset(&self) -> u64 {
        self.shared.log.flushed_offset()
    }

    /// The flush thread's histograms (group-commit batch sizes, sync durations) so far.
    #[must_use]
    pub fn flush_stats(&self) -> flush_stats::FlushStatsSnapshot {
        self.shared.flusher.stats().snapshot()
    }

    /// Everything below is visible in consume queues and index.
    #[must_use]
    pub fn dispatched_offset(&self) -> u64 {
        self.shared.dispatch.dispatched.load(Ordering::Acquire)
    }

    /// First readable commit-log offset.
    #[must_use]
    pub fn min_physical_offset(&self) -> u64 {
        self.shared.log.min_offset()
    }

    /// Waits until everything below `offset` is dispatched; true when it was within `timeout`.
    #[must_use]
    pub fn wait_dispatched(&self, offset: u64, timeout: Duration) -> bool {
        self.shared.dispatch.wait_dispatched(offset, timeout)
    }

    /// Runs a retention pass now; `ignore_delete_hours` skips the `delete_when` window check.
    ///
    /// # Errors
    /// I/O errors deleting files.
    pub fn run_retention(&self, ignore_delete_hours: bool) -> Result<RetentionReport> {
        maintenance::retention_pass(&self.shared, ignore_delete_hours)
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &StoreConfig {
        &self.shared.config
    }
}

fn record_has_key(bytes: &[u8], topic: &str, key: &str) -> bool {
    match record::read(bytes, false) {
        Ok(Entry::Message(r)) => {
            r.topic == topic
                && (properties::get(r.properties, keys::UNIQ_KEY) == Some(key)
                    || properties::business_keys(r.properties).any(|k| k == key))
        }
        _ => false,
    }
}
