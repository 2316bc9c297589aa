//! The maintenance thread: periodic checkpoints and retention passes.
//!
//! A checkpoint records `safe = min(dispatched, flushed)`: the consume queues and index are flushed first,
//! so after any crash everything they hold below `safe` is durable and agrees with a durable log.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::checkpoint::Checkpoint;
use crate::error::Result;
use crate::retention::{run_pass, RetentionReport, RetentionScope};
use crate::Shared;

/// Flushes consume queues and index, then writes the checkpoint. `clean` marks a clean shutdown.
pub(crate) fn write_checkpoint(shared: &Shared, clean: bool) -> Result<()> {
    let flushed = shared.log.flushed_offset();
    let dispatched = shared.dispatch.dispatched.load(Ordering::Acquire);
    shared.cqs.flush_all()?;
    shared.index.flush()?;
    let cp = Checkpoint {
        commit_log_flushed: flushed,
        dispatched: dispatched.min(flushed),
        index_end: shared.index.end_offset(),
        clean_shutdown: clean,
        written_at_ms: shared.clock.now_millis(),
    };
    cp.store(shared.layer.as_ref(), &shared.config.root_dir)
}

/// One retention pass over the shared store.
pub(crate) fn retention_pass(shared: &Shared, force_time: bool) -> Result<RetentionReport> {
    // Only one pass at a time: the admin path and the thread may race.
    let _g = shared.retention_lock.lock();
    run_pass(
        &RetentionScope {
            cfg: &shared.config,
            layer: shared.layer.as_ref(),
            clock: shared.clock.as_ref(),
            log: &shared.log,
            cqs: &shared.cqs,
            index: &shared.index,
            dispatched: shared.dispatch.dispatched.load(Ordering::Acquire),
        },
        force_time,
    )
}

#[derive(Debug, Default)]
struct Stop {
    flag: Mutex<bool>,
    cv: Condvar,
}

/// Owns the maintenance thread.
#[derive(Debug)]
pub(crate) struct Maintenance {
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

impl Maintenance {
    pub fn start(shared: Arc<Shared>) -> std::io::Result<Maintenance> {
        let stop = Arc::new(Stop::default());
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ferromq-store-maint".into())
            .spawn(move || run(&shared, &s))?;
        Ok(Maintenance {
            stop,
            thread: Some(thread),
        })
    }

    pub fn shutdown(&mut self) {
        *self.stop.flag.lock() = true;
        self.stop.cv.notify_all();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("store maintenance thread panicked");
            }
        }
    }
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(shared: &Shared, stop: &Stop) {
    let cp_every = Duration::from_millis(shared.config.checkpoint_interval_ms.max(10));
    let ret_every = Duration::from_millis(shared.config.retention_check_interval_ms.max(10));
    let mut next_cp = Instant::now() + cp_every;
    let mut next_ret = Instant::now() + ret_every;
    loop {
        {
            let mut stopped = stop.flag.lock();
            if !*stopped {
                let _ = stop.cv.wait_until(&mut stopped, next_cp.min(next_ret));
            }
            if *stopped {
                return;
            }
        }
        let now = Instant::now();
        if now >= next_cp {
            if let Err(e) = write_checkpoint(shared, false) {
                tracing::error!(error = %e, "checkpoint failed");
            }
            next_cp = now + cp_every;
        }
        if now >= next_ret {
            if let Err(e) = retention_pass(shared, false) {
                tracing::error!(error = %e, "retention pass failed");
            }
            next_ret = now + ret_every;
        }
    }
}
