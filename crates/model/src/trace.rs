//! One step of a message's life on a broker, and its text form in the trace topic (written by the
//! broker, read by admin tools).
//!
//! The form follows RocketMQ's client trace data (fields split by `\u{1}`, entries ended by
//! `\u{2}`), with type names of our own (`Broker...`), which RocketMQ's trace readers skip:
//! `Broker<Kind>␁<time ms>␁<msg id>␁<topic>␁<queue id>␁<queue offset>␁<group>␁<peer>␁<detail>␂`.

use std::fmt::Write as _;

/// Field separator (RocketMQ's `CONTENT_SPLITOR`).
pub const FIELD: char = '\u{1}';
/// Entry terminator (RocketMQ's `FIELD_SPLITOR`).
pub const ENTRY: char = '\u{2}';

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Stored in its topic (from a producer, or re-put by a delay, retry or commit).
    Stored,
    /// Handed to a consumer in a pull response.
    Delivered,
    /// A consumer sent it back for a retry (detail: reconsume count, delay level).
    SentBack,
    /// Stored in a retry topic, to be delivered again later.
    Retried,
    /// Moved to the group's dead-letter queue.
    DeadLettered,
    /// Parked until a delay level or delivery time (detail: when).
    Delayed,
    /// A transaction's half message, stored invisibly.
    HalfStored,
    /// A transaction committed (the message became visible) or rolled back.
    Committed,
    RolledBack,
    /// The broker asked a producer for a transaction's state.
    Checked,
    /// A half message dropped after the maximum number of checks.
    Discarded,
}

impl Kind {
    const ALL: [Kind; 11] = [
        Kind::Stored,
        Kind::Delivered,
        Kind::SentBack,
        Kind::Retried,
        Kind::DeadLettered,
        Kind::Delayed,
        Kind::HalfStored,
        Kind::Committed,
        Kind::RolledBack,
        Kind::Checked,
        Kind::Discarded,
    ];

    /// The type name written in the trace topic.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Kind::Stored => "BrokerStored",
            Kind::Delivered => "BrokerDelivered",
            Kind::SentBack => "BrokerSentBack",
            Kind::Retried => "BrokerRetried",
            Kind::DeadLettered => "BrokerDeadLettered",
            Kind::Delayed => "BrokerDelayed",
            Kind::HalfStored => "BrokerHalfStored",
            Kind::Committed => "BrokerCommitted",
            Kind::RolledBack => "BrokerRolledBack",
            Kind::Checked => "BrokerChecked",
            Kind::Discarded => "BrokerDiscarded",
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One traced step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub at_ms: i64,
    /// The message's unique id (UNIQ_KEY), or its offset id when it has none.
    pub msg_id: String,
    pub topic: String,
    pub queue_id: u32,
    pub queue_offset: u64,
    /// Producer or consumer group, when known.
    pub group: String,
    /// The client's address, when a client caused it.
    pub peer: String,
    /// Kind-specific details, `key=value` pairs separated by spaces.
    pub detail: String,
}

/// Separators cannot appear inside a field: replace them.
fn clean(out: &mut String, field: &str) {
    out.extend(
        field
            .chars()
            .map(|c| if c == FIELD || c == ENTRY { ' ' } else { c }),
    );
}

impl Event {
    /// Appends this event's entry to `out`.
    pub fn encode(&self, out: &mut String) {
        out.push_str(self.kind.name());
        let _ = write!(out, "{FIELD}{}{FIELD}", self.at_ms);
        clean(out, &self.msg_id);
        out.push(FIELD);
        clean(out, &self.topic);
        let _ = write!(
            out,
            "{FIELD}{}{FIELD}{}{FIELD}",
            self.queue_id, self.queue_offset
        );
        clean(out, &self.group);
        out.push(FIELD);
        clean(out, &self.peer);
        out.push(FIELD);
        clean(out, &self.detail);
        out.push(ENTRY);
    }

    /// The broker entries of a trace body; client entries (`Pub`, `SubBefore`, ...) and malformed
    /// ones are skipped.
    #[must_use]
    pub fn decode_all(body: &str) -> Vec<Event> {
        body.split(ENTRY).filter_map(Event::decode).collect()
    }

    fn decode(entry: &str) -> Option<Event> {
        let f: Vec<&str> = entry.split(FIELD).collect();
        let [kind, at, msg_id, topic, queue_id, queue_offset, group, peer, detail] = f[..] else {
            return None;
        };
        Some(Event {
            kind: Kind::from_name(kind)?,
            at_ms: at.parse().ok()?,
            msg_id: msg_id.to_owned(),
            topic: topic.to_owned(),
            queue_id: queue_id.parse().ok()?,
            queue_offset: queue_offset.parse().ok()?,
            group: group.to_owned(),
            peer: peer.to_owned(),
            detail: detail.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: Kind, detail: &str) -> Event {
        Event {
            kind,
            at_ms: 1_700_000_000_123,
            msg_id: "7F0000010001".into(),
            topic: "Orders".into(),
            queue_id: 3,
            queue_offset: 42,
            group: "cg".into(),
            peer: "127.0.0.1:50000".into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn entries_round_trip_and_client_entries_are_skipped() {
        let mut body = String::new();
        event(Kind::Stored, "").encode(&mut body);
        // A client's Pub entry in the same body.
        body.push_str("Pub\u{1}1\u{1}r\u{1}pg\u{1}Orders\u{1}id\u{2}");
        event(Kind::SentBack, "reconsume=1 level=4").encode(&mut body);
        assert_eq!(
            Event::decode_all(&body),
            vec![
                event(Kind::Stored, ""),
                event(Kind::SentBack, "reconsume=1 level=4")
            ]
        );
    }

    #[test]
    fn separators_inside_fields_are_replaced() {
        let mut body = String::new();
        event(Kind::Delivered, "a\u{1}b\u{2}c").encode(&mut body);
        assert_eq!(Event::decode_all(&body)[0].detail, "a b c");
    }
}
