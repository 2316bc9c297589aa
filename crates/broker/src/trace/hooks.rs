//! The calls the request paths make to record trace events: one line at each place, the details
//! here. Each takes the recorder (`None` when tracing is off), never the broker's whole state.

use ferromq_model::msg_id::offset_msg_id;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, Entry, RecordDraft, RecordView};
use ferromq_store::Appended;

use super::Recorder;
use super::{msg_id_of, now_ms, Event, Kind};
use crate::names;

/// Records `event` when tracing is on; the event is only built then.
fn record(recorder: Option<&Recorder>, event: impl FnOnce() -> Event) {
    if let Some(r) = recorder {
        r.record(event());
    }
}

/// A message stored from `draft` (as sent) at `at`, in `stored_topic` (differs when it was parked
/// for a delay). The kind follows from where it went: a retry topic → Retried (parked or not),
/// parked → Delayed, a dead-letter topic → DeadLettered, else Stored.
pub(crate) fn stored(
    recorder: Option<&Recorder>,
    draft: &RecordDraft<'_>,
    stored_topic: &str,
    at: &Appended,
) {
    record(recorder, || {
        let parked = || {
            let level = properties::get(draft.properties, keys::DELAY_TIME_LEVEL).unwrap_or("");
            format!("parkedIn={stored_topic} delayLevel={level}")
        };
        let (kind, detail) = if names::is_retry_topic(draft.topic) {
            let mut d = format!("reconsumeTimes={}", draft.reconsume_times);
            if stored_topic != draft.topic {
                d = format!("{d} {}", parked());
            }
            (Kind::Retried, d)
        } else if stored_topic != draft.topic {
            (Kind::Delayed, parked())
        } else if draft.topic.starts_with("%DLQ%") {
            (
                Kind::DeadLettered,
                format!("reconsumeTimes={}", draft.reconsume_times),
            )
        } else {
            (Kind::Stored, format!("bodyLength={}", draft.body.len()))
        };
        Event {
            kind,
            at_ms: at.store_timestamp,
            msg_id: msg_id_of(draft.properties, || {
                offset_msg_id(draft.store_host, at.physical_offset)
            }),
            topic: draft.topic.to_owned(),
            queue_id: draft.queue_id,
            queue_offset: at.queue_offset,
            group: properties::get(draft.properties, "PGROUP")
                .unwrap_or_default()
                .to_owned(),
            peer: draft.born_host.to_string(),
            detail,
        }
    });
}

/// A transaction's half message stored invisibly.
pub(crate) fn half_stored(recorder: Option<&Recorder>, draft: &RecordDraft<'_>, at: &Appended) {
    record(recorder, || Event {
        kind: Kind::HalfStored,
        at_ms: at.store_timestamp,
        msg_id: msg_id_of(draft.properties, || {
            offset_msg_id(draft.store_host, at.physical_offset)
        }),
        topic: draft.topic.to_owned(),
        queue_id: draft.queue_id,
        queue_offset: 0,
        group: properties::get(draft.properties, "PGROUP")
            .unwrap_or_default()
            .to_owned(),
        peer: draft.born_host.to_string(),
        detail: String::new(),
    });
}

/// The records of a pull response body, handed to `peer` of consumer `group`.
pub(crate) fn delivered(
    recorder: Option<&Recorder>,
    group: &str,
    peer: std::net::SocketAddr,
    body: &[u8],
) {
    let Some(r) = recorder else {
        return;
    };
    let now = now_ms();
    let peer = peer.to_string();
    let mut at = 0;
    while at < body.len() {
        let Ok(Entry::Message(v)) = record::read(&body[at..], false) else {
            return;
        };
        at += v.total_size as usize;
        r.record(Event {
            kind: Kind::Delivered,
            at_ms: now,
            msg_id: msg_id_of(v.properties, || {
                offset_msg_id(v.store_host, v.physical_offset)
            }),
            topic: v.topic.to_owned(),
            queue_id: v.queue_id,
            queue_offset: v.queue_offset,
            group: group.to_owned(),
            peer: peer.clone(),
            detail: format!("reconsumeTimes={}", v.reconsume_times),
        });
    }
}

/// A step about a stored message (`view`) that writes no record of its own in its topic: a
/// send-back, a transaction outcome or check, a discard.
pub(crate) fn step(
    recorder: Option<&Recorder>,
    kind: Kind,
    view: &RecordView<'_>,
    group: &str,
    peer: &str,
    detail: String,
) {
    record(recorder, || Event {
        kind,
        at_ms: now_ms(),
        msg_id: msg_id_of(view.properties, || {
            offset_msg_id(view.store_host, view.physical_offset)
        }),
        topic: properties::get(view.properties, keys::REAL_TOPIC)
            .unwrap_or(view.topic)
            .to_owned(),
        queue_id: view.queue_id,
        queue_offset: view.queue_offset,
        group: group.to_owned(),
        peer: peer.to_owned(),
        detail,
    });
}

/// A parked (delayed or timed) message delivered to its real topic by the delivery threads, which
/// hold no `State`.
pub(crate) fn due(recorder: Option<&Recorder>, draft: &RecordDraft<'_>, at: Option<&Appended>) {
    let (Some(r), Some(at)) = (recorder, at) else {
        return;
    };
    r.record(Event {
        kind: Kind::Stored,
        at_ms: at.store_timestamp,
        msg_id: msg_id_of(draft.properties, || {
            offset_msg_id(draft.store_host, at.physical_offset)
        }),
        topic: draft.topic.to_owned(),
        queue_id: draft.queue_id,
        queue_offset: at.queue_offset,
        group: String::new(),
        peer: String::new(),
        detail: "from=schedule".to_owned(),
    });
}
