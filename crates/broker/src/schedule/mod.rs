//! Delayed delivery: 4.x delay levels and 5.x timer messages.
//!
//! Layout:
//! - here: [`reroute`], the one send-path function that parks a delayed message in a schedule topic,
//!   and [`ScheduleHandle`], which owns the two delivery threads.
//! - [`levels`]: the `messageDelayLevel` table (part of the configuration, re-exported here).
//! - `delay`: level delivery from `SCHEDULE_TOPIC_XXXX` (one queue per level, offsets in
//!   `config/delayOffset.json`).
//! - `timer/`: the 5.x timer: messages parked in `rmq_sys_wheel_timer`, indexed by an on-disk
//!   append-only timer log whose entries are chained per wheel slot; only the slot heads are in memory.
//! - [`recall`]: recall handles, and the cancel markers a recall stores for the timer.
//! - `wake`: the condition variable that delivery threads sleep on.
//!
//! Both paths store the delayed message itself in the commit log first (the send is acknowledged on
//! that), then move it to its real topic and queue when due by storing a copy there. Progress is
//! persisted after the copy, so a crash repeats a delivery rather than losing it (at least once).

mod delay;
pub mod recall;
mod redirect;
mod timer;
pub use timer::meters::{TimerCounts, TimerMeters};
mod wake;

use std::sync::Arc;
use std::thread::JoinHandle;

use ferromq_model::properties::{self, keys, SendProps};
use ferromq_model::record::{
    SYSFLAG_TRANSACTION_MASK, SYSFLAG_TRANSACTION_PREPARED, SYSFLAG_TRANSACTION_ROLLBACK,
};
use ferromq_store::Store;
use tracing::warn;

pub use crate::config::delay_levels::{self as levels, DelayLevels};
use crate::config::BrokerConfig;
use crate::error::BrokerError;
pub(crate) use delay::{
    mirror_offsets as mirror_delay_offsets, offsets_json as delay_offsets_json,
};
pub(crate) use wake::Wake;

/// Where delay-level messages wait: queue `level - 1`.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Where timer messages wait, in queue 0.
pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";

/// Properties of delayed messages beyond the model's common keys.
pub mod props {
    /// Absolute delivery time (ms since the epoch) of a parked timer message.
    pub use ferromq_model::properties::keys::TIMER_OUT_MS;
    /// When the timer took the message in, and when it let it out (ms since the epoch).
    pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
    pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
    /// Older clients' name for an absolute delivery time.
    pub use ferromq_model::properties::keys::START_DELIVER_TIME;
}

/// What the schedule needs at send time, derived once from the configuration.
#[derive(Debug)]
pub struct Schedule {
    pub levels: DelayLevels,
    pub timer_enabled: bool,
    pub timer_max_delay_ms: i64,
    /// Woken when a message lands in the schedule topic / the timer topic.
    pub(crate) delay_wake: Arc<Wake>,
    pub(crate) timer_wake: Arc<Wake>,
    /// Where due deliveries are traced (set by the broker before delivery starts).
    pub(crate) trace: std::sync::OnceLock<Arc<crate::trace::Recorder>>,
    /// What the timer wheel did, for metrics.
    pub timer_meters: Arc<TimerMeters>,
}

impl Schedule {
    /// # Errors
    /// A `messageDelayLevel` that does not parse.
    pub fn new(config: &BrokerConfig) -> Result<Self, BrokerError> {
        let levels = DelayLevels::parse(&config.message_delay_level)
            .map_err(|e| BrokerError::MessageIllegal(e.to_string()))?;
        Ok(Self {
            levels,
            timer_enabled: config.timer_wheel_enable,
            timer_max_delay_ms: i64::try_from(config.timer_max_delay_sec.saturating_mul(1000))
                .unwrap_or(i64::MAX),
            delay_wake: Arc::default(),
            timer_wake: Arc::default(),
            trace: std::sync::OnceLock::new(),
            timer_meters: Arc::default(),
        })
    }
}

/// Where a message is stored: its own topic and queue, or a schedule topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub topic: String,
    pub queue_id: u32,
    pub properties: String,
    /// For the timer: when the message is due (ms since the epoch).
    pub deliver_ms: Option<i64>,
}

/// Rewrites a message that asks for delayed delivery so it is stored in a schedule topic; every
/// put path that stores a client's message (send, batch, send-back of retries) calls this first.
///
/// - `DELAY` level > 0: to `SCHEDULE_TOPIC_XXXX`, queue `level - 1` (levels above the table clamp
///   to the highest), with `REAL_TOPIC`/`REAL_QID`. Timer properties are then dropped, as in Java.
/// - `TIMER_DELAY_SEC`, `TIMER_DELAY_MS`, `TIMER_DELIVER_MS` or `__STARTDELIVERTIME` in the
///   future: to `rmq_sys_wheel_timer` queue 0 with `TIMER_OUT_MS` = the delivery time. A time in
///   the past or now is delivered at once. More than `timerMaxDelaySec` ahead, an unparsable value,
///   or timers switched off are refused.
/// - Anything else, and transaction half/rollback messages: `None`, stored as sent.
///
/// `found` is `props_in` scanned once by the caller ([`SendProps::scan`]).
///
/// # Errors
/// `MessageIllegal` for a bad or too distant timer, `Unsupported` when timers are disabled.
pub fn reroute(
    schedule: &Schedule,
    topic: &str,
    queue_id: u32,
    sys_flag: i32,
    props_in: &str,
    found: &SendProps<'_>,
    now_ms: i64,
) -> Result<Option<Target>, BrokerError> {
    // Prepared/rolled-back halves wait for their commit; the commit itself is rerouted.
    if matches!(
        sys_flag & SYSFLAG_TRANSACTION_MASK,
        SYSFLAG_TRANSACTION_PREPARED | SYSFLAG_TRANSACTION_ROLLBACK
    ) {
        return Ok(None);
    }
    if topic == TIMER_TOPIC || topic == SCHEDULE_TOPIC {
        return Ok(None);
    }
    let level = found
        .delay_level
        .and_then(|l| l.trim().parse::<i64>().ok())
        .unwrap_or(0);
    if level > 0 {
        let level = u32::try_from(level)
            .unwrap_or(u32::MAX)
            .min(schedule.levels.max_level());
        let kept = redirect::strip(
            props_in,
            &[
                keys::TIMER_DELIVER_MS,
                keys::TIMER_DELAY_SEC,
                keys::TIMER_DELAY_MS,
                keys::DELAY_TIME_LEVEL,
            ],
        );
        let level_text = level.to_string();
        let qid_text = queue_id.to_string();
        let properties = kept
            + &properties::encode([
                (keys::DELAY_TIME_LEVEL, level_text.as_str()),
                (keys::REAL_TOPIC, topic),
                (keys::REAL_QUEUE_ID, qid_text.as_str()),
            ]);
        return Ok(Some(Target {
            topic: SCHEDULE_TOPIC.to_owned(),
            queue_id: level - 1,
            properties,
            deliver_ms: None,
        }));
    }
    // Already through the timer once (Java's double check): delivered as it is.
    if found.timer_out_ms.is_some() {
        return Ok(None);
    }
    let Some(deliver_ms) = timer_deliver_ms(found, now_ms)? else {
        return Ok(None);
    };
    if !schedule.timer_enabled {
        return Err(BrokerError::Unsupported(
            "accurate timer message is not enabled, timerWheelEnable is false".into(),
        ));
    }
    if deliver_ms <= now_ms {
        return Ok(None);
    }
    if deliver_ms - now_ms > schedule.timer_max_delay_ms {
        return Err(BrokerError::MessageIllegal(format!(
            "timer message illegal, the delay time should not be bigger than the max delay {}ms",
            schedule.timer_max_delay_ms
        )));
    }
    let kept = redirect::strip(props_in, &[props::TIMER_OUT_MS]);
    let out_text = deliver_ms.to_string();
    let qid_text = queue_id.to_string();
    let properties = kept
        + &properties::encode([
            (props::TIMER_OUT_MS, out_text.as_str()),
            (keys::REAL_TOPIC, topic),
            (keys::REAL_QUEUE_ID, qid_text.as_str()),
        ]);
    Ok(Some(Target {
        topic: TIMER_TOPIC.to_owned(),
        queue_id: 0,
        properties,
        deliver_ms: Some(deliver_ms),
    }))
}

/// The absolute delivery time a timer property asks for, if any (Java's precedence: delay in
/// seconds, delay in ms, then the absolute time).
fn timer_deliver_ms(found: &SendProps<'_>, now_ms: i64) -> Result<Option<i64>, BrokerError> {
    let parse = |key: &str, value: Option<&str>| -> Result<Option<i64>, BrokerError> {
        value
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    BrokerError::MessageIllegal(format!(
                        "timer message illegal, {key}={v:?} is not a number"
                    ))
                })
            })
            .transpose()
    };
    if let Some(sec) = parse(keys::TIMER_DELAY_SEC, found.timer_delay_sec)? {
        return Ok(Some(now_ms.saturating_add(sec.saturating_mul(1000))));
    }
    if let Some(ms) = parse(keys::TIMER_DELAY_MS, found.timer_delay_ms)? {
        return Ok(Some(now_ms.saturating_add(ms)));
    }
    if let Some(at) = parse(keys::TIMER_DELIVER_MS, found.timer_deliver_ms)? {
        return Ok(Some(at));
    }
    parse(props::START_DELIVER_TIME, found.start_deliver_time)
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Owns the delivery threads; [`ScheduleHandle::shutdown`] stops and joins them (before the store
/// closes, so no delivery is cut in half).
#[derive(Debug)]
pub struct ScheduleHandle {
    schedule: Arc<Schedule>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl ScheduleHandle {
    /// Starts level delivery and (when enabled) the timer, and hooks their wake-ups to the store.
    ///
    /// # Errors
    /// Unreadable progress files or timer files.
    pub fn start(
        config: &BrokerConfig,
        schedule: Arc<Schedule>,
        store: &Store,
    ) -> Result<Self, BrokerError> {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (delay_wake, timer_wake) = (schedule.delay_wake.clone(), schedule.timer_wake.clone());
        store.add_arrival_listener(Arc::new(move |topic: &str, _queue: u32, _max: u64| {
            if topic == SCHEDULE_TOPIC {
                delay_wake.notify();
            } else if topic == TIMER_TOPIC {
                timer_wake.notify();
            }
        }));
        let mut threads = vec![delay::spawn(
            config,
            &schedule,
            store.clone(),
            stop.clone(),
        )?];
        if config.timer_wheel_enable {
            threads.push(timer::spawn(
                config,
                &schedule,
                store.clone(),
                stop.clone(),
            )?);
        }
        Ok(Self {
            schedule,
            stop,
            threads,
        })
    }

    /// Stops and joins the delivery threads. Blocking: call from a blocking context.
    pub fn shutdown(mut self) {
        self.signal_stop();
        for t in std::mem::take(&mut self.threads) {
            if t.join().is_err() {
                warn!("a delivery thread panicked");
            }
        }
    }

    fn signal_stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        self.schedule.delay_wake.notify();
        self.schedule.timer_wake.notify();
    }
}

impl Drop for ScheduleHandle {
    /// A handle dropped without `shutdown` (a failed start) still stops its threads.
    fn drop(&mut self) {
        self.signal_stop();
    }
}

#[cfg(test)]
mod tests;
