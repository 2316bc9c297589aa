//! The dispatcher ("reput"): follows the commit log and builds consume-queue and index entries.
//!
//! One code path serves both runtime and recovery: [`dispatch_record`] turns one stored record into its
//! consume-queue entry and index keys. At runtime a thread reads the log in large chunks up to the
//! visible offset (the written offset under ASYNC_FLUSH, the flushed offset under SYNC_FLUSH, so no
//! consumer ever sees a message that a power loss could take back) and tells arrival listeners which
//! queues grew, which is what wakes long-polling consumers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use ferromq_model::hash::tag_code;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::{
    self, Entry, RecordError, RecordView, SYSFLAG_TRANSACTION_MASK, SYSFLAG_TRANSACTION_ROLLBACK,
};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::commit_log::CommitLog;
use crate::consume_queue::{ConsumeQueues, CqEntry};
use crate::error::Result;
use crate::index::Index;

/// Bytes read from the commit log per step.
const CHUNK_BYTES: usize = 4 << 20;
/// Safety net: the dispatcher re-checks the log this often even without a wake-up.
const IDLE_RECHECK: Duration = Duration::from_millis(200);
/// After dispatching, the dispatcher looks again this much later before it goes idle and waits to be
/// kicked (see `run`).
const BUSY_NAP: Duration = Duration::from_millis(1);

/// Called after records are dispatched: `(topic, queue_id, max_offset)` for every queue that grew.
pub type ArrivalListener = Arc<dyn Fn(&str, u32, u64) + Send + Sync>;

/// Writes the consume-queue entry and index keys of the record stored at `offset`.
pub(crate) fn dispatch_record(
    cqs: &ConsumeQueues,
    index: &Index,
    offset: u64,
    rec: &RecordView<'_>,
) -> Result<()> {
    let keys = RecordKeys::of(rec);
    if rec.is_queue_visible() {
        cqs.get_or_create(rec.topic, rec.queue_id)?
            .put(rec.queue_offset, cq_entry(offset, rec, keys.tag))?;
    }
    index_keys(index, offset, rec, &keys)
}

/// What dispatch needs from a record's properties, found in one pass over them.
struct RecordKeys<'a> {
    tag: Option<&'a str>,
    uniq: Option<&'a str>,
    business: Option<&'a str>,
}

impl<'a> RecordKeys<'a> {
    fn of(rec: &RecordView<'a>) -> RecordKeys<'a> {
        let [tag, uniq, business] =
            properties::get_all(rec.properties, [keys::TAGS, keys::UNIQ_KEY, keys::KEYS]);
        RecordKeys {
            tag,
            uniq,
            business,
        }
    }
}

/// The consume-queue entry of a queue-visible record stored at `offset`, tagged `tag`.
fn cq_entry(offset: u64, rec: &RecordView<'_>, tag: Option<&str>) -> CqEntry {
    CqEntry {
        physical_offset: offset,
        size: rec.total_size,
        tag_code: tag_code(tag),
    }
}

/// Writes the index keys of the record stored at `offset`: its unique key and business keys.
fn index_keys(
    index: &Index,
    offset: u64,
    rec: &RecordView<'_>,
    keys: &RecordKeys<'_>,
) -> Result<()> {
    // A rolled-back half message must not be found by key.
    if rec.sys_flag & SYSFLAG_TRANSACTION_MASK != SYSFLAG_TRANSACTION_ROLLBACK {
        if let Some(uniq) = keys.uniq {
            index.put(rec.topic, uniq, offset, rec.store_timestamp)?;
        }
        for key in properties::split_keys(keys.business.unwrap_or("")) {
            index.put(rec.topic, key, offset, rec.store_timestamp)?;
        }
    }
    Ok(())
}

/// State shared between the dispatcher thread, the append path and readers.
#[derive(Debug, Default)]
pub(crate) struct DispatchState {
    /// Every record below this physical offset has its consume-queue and index entries.
    pub dispatched: AtomicU64,
    kicked: Mutex<bool>,
    wake: Condvar,
    /// The dispatcher is about to sleep or sleeping: only then does a kick need the lock. Paired with
    /// SeqCst fences (kick: publish, fence, read `idle`; dispatcher: set `idle`, fence, re-read the
    /// visible offset), so either the kicker sees `idle` or the dispatcher sees the new offset.
    idle: AtomicBool,
    progressed: Condvar,
    progress_lock: Mutex<()>,
    stop: AtomicBool,
}

impl DispatchState {
    pub fn new(dispatched: u64) -> Self {
        let s = DispatchState::default();
        s.dispatched.store(dispatched, Ordering::Release);
        s
    }

    /// Tells the dispatcher that the visible offset may have moved.
    pub fn kick(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if !self.idle.load(Ordering::Relaxed) {
            return;
        }
        let mut k = self.kicked.lock();
        *k = true;
        self.wake.notify_one();
    }

    /// Blocks until everything below `offset` is dispatched or `timeout` passes; true when reached.
    pub fn wait_dispatched(&self, offset: u64, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut g = self.progress_lock.lock();
        while self.dispatched.load(Ordering::Acquire) < offset {
            if self.progressed.wait_until(&mut g, deadline).timed_out() {
                return self.dispatched.load(Ordering::Acquire) >= offset;
            }
        }
        true
    }

    fn advance(&self, to: u64) {
        self.dispatched.store(to, Ordering::Release);
        let _g = self.progress_lock.lock();
        self.progressed.notify_all();
    }
}

/// What the dispatcher thread needs.
pub(crate) struct DispatchContext {
    pub log: Arc<CommitLog>,
    pub cqs: Arc<ConsumeQueues>,
    pub index: Arc<Index>,
    pub state: Arc<DispatchState>,
    pub listeners: Arc<RwLock<Vec<ArrivalListener>>>,
    /// The offset consumers may see up to.
    pub visible: Box<dyn Fn() -> u64 + Send>,
}

/// Owns the dispatcher thread.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    state: Arc<DispatchState>,
    thread: Option<JoinHandle<()>>,
}

impl Dispatcher {
    pub fn start(ctx: DispatchContext) -> std::io::Result<Dispatcher> {
        let state = ctx.state.clone();
        let thread = std::thread::Builder::new()
            .name("ferromq-dispatch".into())
            .spawn(move || run(&ctx))?;
        Ok(Dispatcher {
            state,
            thread: Some(thread),
        })
    }

    /// Dispatches what is visible now, then stops the thread.
    pub fn shutdown(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        self.state.kick();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("dispatcher thread panicked");
            }
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(ctx: &DispatchContext) {
    let mut pos = ctx.state.dispatched.load(Ordering::Acquire);
    let mut scratch = Vec::new();
    // Whether the last look found records: then the next one comes after a nap (see below).
    let mut busy = false;
    loop {
        // An empty replica adopts its source's start offset: nothing below it exists to dispatch.
        let min = ctx.log.min_offset();
        if pos < min {
            pos = min;
            ctx.state.advance(pos);
        }
        let limit = (ctx.visible)();
        if pos >= limit {
            if ctx.state.stop.load(Ordering::Acquire) {
                return;
            }
            if busy {
                // Caught up while records keep coming: look again after a nap instead of
                // sleeping until kicked. Kicked, every append is a futex wake-up of this thread
                // (and often a context switch on the appender's CPU); napping, one timer wake-up
                // serves whatever arrived meanwhile, and appenders see `idle` false and never
                // take the lock. Consumers see new records at most one nap later, as with
                // RocketMQ's reput service, which polls every millisecond.
                busy = false;
                std::thread::sleep(BUSY_NAP);
                continue;
            }
            let mut kicked = ctx.state.kicked.lock();
            ctx.state.idle.store(true, Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::SeqCst);
            if !*kicked && pos >= (ctx.visible)() && !ctx.state.stop.load(Ordering::Acquire) {
                let _ = ctx.state.wake.wait_for(&mut kicked, IDLE_RECHECK);
            }
            ctx.state.idle.store(false, Ordering::Relaxed);
            *kicked = false;
            continue;
        }
        match step(ctx, pos, limit, &mut scratch) {
            Ok(next) => {
                busy = true;
                pos = next;
                ctx.state.advance(pos);
            }
            Err(e) => {
                // The log below the visible offset was written by us; failing to parse it is a bug or
                // a disk fault. Stop advancing (never skip a record) and say where, retrying slowly.
                tracing::error!(offset = pos, error = %e, "dispatch failed; consume queues stall here");
                if ctx.state.stop.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

fn put_run(
    ctx: &DispatchContext,
    (topic, queue_id): (&str, u32),
    run: &(u64, Vec<CqEntry>),
) -> Result<()> {
    ctx.cqs
        .get_or_create(topic, queue_id)?
        .put_run(run.0, &run.1)
}

/// What parsing one chunk found.
enum Parsed {
    /// Dispatched everything up to this position.
    To(u64),
    /// The first record alone is larger than the chunk: read at least this much.
    Needs(usize),
}

/// Dispatches the records in one chunk starting at `pos`; returns the new position. `scratch` is the
/// dispatcher's read buffer, kept between steps (used only when the log is not mapped).
fn step(ctx: &DispatchContext, pos: u64, limit: u64, scratch: &mut Vec<u8>) -> Result<u64> {
    let mut want = CHUNK_BYTES;
    for _attempt in 0..2 {
        match ctx.log.visit_chunk(pos, want, limit, scratch, |chunk| {
            dispatch_chunk(ctx, pos, chunk)
        })?? {
            Parsed::To(next) => return Ok(next),
            Parsed::Needs(needed) => want = needed,
        }
    }
    Err(crate::error::StoreError::CorruptRecord {
        offset: pos,
        source: RecordError::Malformed("record extends past the readable log"),
    })
}

/// Dispatches the whole records at the start of `chunk`, which begins at `pos`.
fn dispatch_chunk(ctx: &DispatchContext, pos: u64, chunk: &[u8]) -> Result<Parsed> {
    let mut off = 0usize;
    // Per queue, the consecutive entries of this chunk not written yet: each queue gets one write per
    // chunk (a write per entry cost more than the rest of dispatch together).
    let mut runs: HashMap<(&str, u32), (u64, Vec<CqEntry>)> = HashMap::new();
    while off < chunk.len() {
        match record::read(&chunk[off..], false) {
            Ok(Entry::Message(rec)) => {
                let offset = pos + off as u64;
                let keys = RecordKeys::of(&rec);
                index_keys(&ctx.index, offset, &rec, &keys)?;
                if rec.is_queue_visible() {
                    let entry = cq_entry(offset, &rec, keys.tag);
                    match runs.get_mut(&(rec.topic, rec.queue_id)) {
                        Some((first, run)) if *first + run.len() as u64 == rec.queue_offset => {
                            run.push(entry);
                        }
                        Some(run) => {
                            // Not the next offset (a queue written over): keep the order.
                            put_run(ctx, (rec.topic, rec.queue_id), run)?;
                            *run = (rec.queue_offset, vec![entry]);
                        }
                        None => {
                            runs.insert((rec.topic, rec.queue_id), (rec.queue_offset, vec![entry]));
                        }
                    }
                }
                off += rec.total_size as usize;
            }
            Ok(Entry::Blank { remaining }) => {
                off += remaining as usize;
                break;
            }
            Err(RecordError::Truncated { needed, .. }) if off == 0 && needed > chunk.len() => {
                return Ok(Parsed::Needs(needed));
            }
            Err(RecordError::Truncated { .. }) => break,
            Err(source) => {
                return Err(crate::error::StoreError::CorruptRecord {
                    offset: pos + off as u64,
                    source,
                });
            }
        }
    }
    for (&key, run) in &runs {
        put_run(ctx, key, run)?;
    }
    if !runs.is_empty() {
        let listeners = ctx.listeners.read();
        for ((topic, queue_id), (first, run)) in runs {
            let max = first + run.len() as u64;
            for l in listeners.iter() {
                l(topic, queue_id, max);
            }
        }
    }
    Ok(Parsed::To(pos + off as u64))
}
