//! Server-side message trace: every step a message takes on this broker (stored, delivered to which
//! client, sent back, retried, dead-lettered, delayed, transaction outcome) is written to the trace
//! topic, so its path can be shown from its id alone, whether or not a client traced it. Clients'
//! own traces (RocketMQ's `Pub`, `SubBefore`, ...) go to the same topic through ordinary sends.
//!
//! - `ferromq_model::trace`: the events and their text form. [`recorder`]: batching them into the
//!   trace topic.
//! - [`lookup`]: a message's events, oldest first.

pub(crate) mod hooks;
pub mod recorder;

use ferromq_model::properties;
use ferromq_model::record::{self, Entry};
use ferromq_store::Store;

pub use ferromq_model::trace::{Event, Kind};
pub use recorder::Recorder;

/// RocketMQ's default trace topic (`msgTraceTopicName`).
pub const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The message id to trace a stored record by: its UNIQ_KEY property, else `fallback` (the offset
/// message id).
#[must_use]
pub fn msg_id_of(props: &str, fallback: impl FnOnce() -> String) -> String {
    properties::get(props, properties::keys::UNIQ_KEY).map_or_else(fallback, str::to_owned)
}

/// Every broker event recorded for `msg_id`, oldest first (up to `max` trace messages read).
///
/// # Errors
/// Store errors reading the index or the log.
pub fn lookup(store: &Store, msg_id: &str, max: usize) -> ferromq_store::Result<Vec<Event>> {
    let mut out = Vec::new();
    for bytes in store.query_by_key(TRACE_TOPIC, msg_id, max, 0, i64::MAX)? {
        let Ok(Entry::Message(v)) = record::read(&bytes, false) else {
            continue;
        };
        let Ok(body) = std::str::from_utf8(v.body) else {
            continue;
        };
        out.extend(
            Event::decode_all(body)
                .into_iter()
                .filter(|e| e.msg_id == msg_id),
        );
    }
    out.sort_by_key(|e| (e.at_ms, e.kind));
    Ok(out)
}
