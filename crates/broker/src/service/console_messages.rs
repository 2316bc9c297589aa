//! The console's message search: by key, by message id (unique key or offset id), by store-time
//! range on one queue; each message decoded with a body preview that is safe to show whatever the
//! body holds, and the broker-side trace of a message as a list of steps.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bytes::Bytes;
use ferromq_model::msg_id::{decode_offset_msg_id, offset_msg_id};
use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, Entry};
use ferromq_store::{QueueRead, TagFilter};
use serde::Serialize;

use super::BrokerService;
use crate::error::BrokerError;
use crate::names;

/// Most body bytes a preview carries as text; the rest is cut.
pub const PREVIEW_TEXT_BYTES: usize = 4096;
/// Most body bytes a preview carries as hex (each shown as two characters).
pub const PREVIEW_HEX_BYTES: usize = 1024;
/// Most messages one search answers.
pub const MAX_SEARCH_RESULTS: usize = 64;
/// Widest store-time range a search accepts: a queue's index is walked message by message
/// within it, so an unbounded range on a large queue would read far more than an operator needs.
pub const MAX_RANGE_MS: i64 = 7 * 24 * 3600 * 1000;

/// The start of a body, as text when it is UTF-8 and as hex otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BodyPreview {
    /// The whole body's size in bytes.
    pub size: usize,
    /// `utf8` or `hex`.
    pub encoding: &'static str,
    /// Raw text (the page escapes it when showing it), or lowercase hex.
    pub text: String,
    /// Only the first bytes are in `text`.
    pub truncated: bool,
}

impl BodyPreview {
    /// A preview of `body`: the first [`PREVIEW_TEXT_BYTES`] when they are UTF-8 (a character cut
    /// in two by the limit is dropped), else the first [`PREVIEW_HEX_BYTES`] in hex.
    #[must_use]
    pub fn of(body: &[u8]) -> Self {
        let head = &body[..body.len().min(PREVIEW_TEXT_BYTES)];
        let text = match std::str::from_utf8(head) {
            Ok(t) => Some(t),
            // Invalid only because the limit cut the last character: keep what is whole.
            Err(e) if e.error_len().is_none() && head.len() < body.len() => {
                std::str::from_utf8(&head[..e.valid_up_to()]).ok()
            }
            Err(_) => None,
        };
        match text {
            Some(t) => Self {
                size: body.len(),
                encoding: "utf8",
                truncated: t.len() < body.len(),
                text: t.to_owned(),
            },
            None => {
                let head = &body[..body.len().min(PREVIEW_HEX_BYTES)];
                let mut hex = String::with_capacity(head.len() * 2);
                for b in head {
                    let _ = write!(hex, "{b:02x}");
                }
                Self {
                    size: body.len(),
                    encoding: "hex",
                    truncated: head.len() < body.len(),
                    text: hex,
                }
            }
        }
    }
}

/// A stored message as the console shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleMessage {
    /// The unique key (what clients call the message id), else the offset id.
    pub msg_id: String,
    pub offset_msg_id: String,
    pub topic: String,
    pub queue_id: u32,
    pub queue_offset: u64,
    pub commit_log_offset: u64,
    pub born_timestamp: i64,
    pub store_timestamp: i64,
    pub born_host: String,
    pub store_host: String,
    pub reconsume_times: i32,
    pub tags: Option<String>,
    pub keys: Vec<String>,
    pub properties: BTreeMap<String, String>,
    pub body: BodyPreview,
}

/// Decodes one stored record.
///
/// # Errors
/// `Missing` for bytes that are not a message record.
pub(super) fn decode(bytes: &[u8]) -> Result<ConsoleMessage, BrokerError> {
    let Ok(Entry::Message(v)) = record::read(bytes, false) else {
        return Err(BrokerError::Missing("stored record does not decode".into()));
    };
    let offset_id = offset_msg_id(v.store_host, v.physical_offset);
    Ok(ConsoleMessage {
        msg_id: crate::trace::msg_id_of(v.properties, || offset_id.clone()),
        offset_msg_id: offset_id,
        topic: v.topic.to_owned(),
        queue_id: v.queue_id,
        queue_offset: v.queue_offset,
        commit_log_offset: v.physical_offset,
        born_timestamp: v.born_timestamp,
        store_timestamp: v.store_timestamp,
        born_host: v.born_host.to_string(),
        store_host: v.store_host.to_string(),
        reconsume_times: v.reconsume_times,
        tags: properties::get(v.properties, keys::TAGS).map(str::to_owned),
        keys: properties::business_keys(v.properties)
            .map(str::to_owned)
            .collect(),
        properties: properties::iter(v.properties)
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        body: BodyPreview::of(v.body),
    })
}

/// A store-time range: `end` not before `begin`, neither negative, at most [`MAX_RANGE_MS`].
fn check_range(begin_ms: i64, end_ms: i64) -> Result<(), BrokerError> {
    if begin_ms < 0 || end_ms < begin_ms {
        return Err(BrokerError::BadBody(format!(
            "time range {begin_ms}..{end_ms} is not a range of times since the epoch"
        )));
    }
    if end_ms - begin_ms > MAX_RANGE_MS {
        return Err(BrokerError::BadBody(format!(
            "time range of {} h is wider than the {} h a search may cover",
            (end_ms - begin_ms) / 3_600_000,
            MAX_RANGE_MS / 3_600_000
        )));
    }
    Ok(())
}

/// A step of a message's broker-side trace.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceStep {
    pub kind: &'static str,
    pub at_ms: i64,
    pub topic: String,
    pub queue_id: u32,
    pub queue_offset: u64,
    pub group: String,
    pub peer: String,
    pub detail: String,
}

impl BrokerService {
    fn existing_topic(&self, topic: &str) -> Result<(), BrokerError> {
        names::validate_topic(topic)?;
        self.topic(topic).map(|_| ())
    }

    /// Messages of `topic` stored under business key `key` (newest index entries first, at most
    /// [`MAX_SEARCH_RESULTS`]), over the whole index.
    ///
    /// # Errors
    /// A bad or unknown topic, an empty key, store failures.
    pub fn console_by_key(
        &self,
        topic: &str,
        key: &str,
    ) -> Result<Vec<ConsoleMessage>, BrokerError> {
        self.existing_topic(topic)?;
        if key.is_empty() {
            return Err(BrokerError::BadBody("the key is empty".into()));
        }
        let found = self
            .state
            .store
            .query_by_key(topic, key, MAX_SEARCH_RESULTS, 0, i64::MAX)?;
        let mut out: Vec<ConsoleMessage> = found
            .iter()
            .filter_map(|b| decode(b).ok())
            // The index holds hashes: a collision lists another key's message.
            .filter(|m| m.keys.iter().any(|k| k == key))
            .collect();
        out.sort_by_key(|m| (m.store_timestamp, m.commit_log_offset));
        Ok(out)
    }

    /// The message with id `id`: an offset message id (found directly in the log), or a unique
    /// key, which needs `topic`.
    ///
    /// # Errors
    /// `NotFound`; a unique key without a topic; a bad or unknown topic.
    pub fn console_by_id(
        &self,
        id: &str,
        topic: Option<&str>,
    ) -> Result<Vec<ConsoleMessage>, BrokerError> {
        if id.is_empty() || id.len() > 128 {
            return Err(BrokerError::BadBody(
                "a message id is 1 to 128 characters".into(),
            ));
        }
        let s = &*self.state;
        if let Some((_, offset)) = decode_offset_msg_id(id) {
            if let Ok(bytes) = s.store.read_record(offset) {
                let m = decode(&bytes)?;
                if topic.is_none_or(|t| t == m.topic) {
                    return Ok(vec![m]);
                }
            }
        }
        let Some(topic) = topic.filter(|t| !t.is_empty()) else {
            return Err(BrokerError::NotFound(format!(
                "no message at offset id {id}; give the topic to look it up as a unique key"
            )));
        };
        self.existing_topic(topic)?;
        let found = s
            .store
            .query_by_key(topic, id, MAX_SEARCH_RESULTS, 0, i64::MAX)?;
        let out: Vec<ConsoleMessage> = found
            .iter()
            .filter_map(|b| decode(b).ok())
            .filter(|m| m.msg_id == id)
            .collect();
        if out.is_empty() {
            return Err(BrokerError::NotFound(format!("no message {id} in {topic}")));
        }
        Ok(out)
    }

    /// Messages of one queue stored within `[begin_ms, end_ms]`, oldest first, at most `max`
    /// (clamped to [`MAX_SEARCH_RESULTS`]).
    ///
    /// # Errors
    /// A bad or unknown topic or queue, a bad or too wide range, store failures.
    pub fn console_by_time(
        &self,
        topic: &str,
        queue_id: i32,
        begin_ms: i64,
        end_ms: i64,
        max: usize,
    ) -> Result<Vec<ConsoleMessage>, BrokerError> {
        self.existing_topic(topic)?;
        check_range(begin_ms, end_ms)?;
        let config = self.topic(topic)?;
        let queues = config.read_queue_nums.max(config.write_queue_nums);
        if queue_id < 0 || queue_id >= queues {
            return Err(BrokerError::BadQueueId {
                topic: topic.to_owned(),
                queue_id,
                queues,
            });
        }
        let from = self.offset_by_time(topic, queue_id, begin_ms, super::Boundary::Lower)?;
        let q = queue_id.unsigned_abs();
        let end = self.state.store.max_queue_offset(topic, q);
        let max = max.clamp(1, MAX_SEARCH_RESULTS);
        let mut out = Vec::new();
        let mut next = from;
        while next < end && out.len() < max {
            let got = self.read_queue(topic, q, next, max - out.len())?;
            if got.is_empty() {
                break;
            }
            for (offset, bytes) in got {
                next = offset + 1;
                let m = decode(&bytes)?;
                if m.store_timestamp > end_ms {
                    return Ok(out);
                }
                if m.store_timestamp >= begin_ms {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    /// Up to `max` stored records of a queue from `from`, with their queue offsets.
    pub(super) fn read_queue(
        &self,
        topic: &str,
        queue_id: u32,
        from: u64,
        max: usize,
    ) -> Result<Vec<(u64, Bytes)>, BrokerError> {
        let got = self.state.store.get_messages(&QueueRead {
            topic,
            queue_id,
            from,
            max_msgs: max,
            max_bytes: 64 << 20,
            filter: &TagFilter::All,
        })?;
        Ok(got.queue_offsets.into_iter().zip(got.messages).collect())
    }

    /// The broker-side trace of message `msg_id` (its unique key, or offset id), oldest first;
    /// empty when tracing is off or nothing was recorded.
    ///
    /// # Errors
    /// A bad id, store failures.
    pub fn console_trace(&self, msg_id: &str) -> Result<Vec<TraceStep>, BrokerError> {
        if msg_id.is_empty() || msg_id.len() > 128 {
            return Err(BrokerError::BadBody(
                "a message id is 1 to 128 characters".into(),
            ));
        }
        let events = crate::trace::lookup(&self.state.store, msg_id, MAX_SEARCH_RESULTS)?;
        Ok(events
            .into_iter()
            .map(|e| TraceStep {
                kind: e.kind.name(),
                at_ms: e.at_ms,
                topic: e.topic,
                queue_id: e.queue_id,
                queue_offset: e.queue_offset,
                group: e.group,
                peer: e.peer,
                detail: e.detail,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_text_hex_and_cut_characters() {
        let p = BodyPreview::of(b"<b>hi</b>");
        assert_eq!(
            (p.encoding, p.text.as_str(), p.truncated),
            ("utf8", "<b>hi</b>", false)
        );

        let p = BodyPreview::of(&[0xff, 0x00, 0x41]);
        assert_eq!(
            (p.encoding, p.text.as_str(), p.truncated),
            ("hex", "ff0041", false)
        );

        // A two-byte character straddling the limit is dropped, not shown as hex.
        let mut body = vec![b'a'; PREVIEW_TEXT_BYTES - 1];
        body.extend_from_slice("é".as_bytes());
        body.extend_from_slice(b"tail");
        let p = BodyPreview::of(&body);
        assert_eq!(p.encoding, "utf8");
        assert_eq!(p.text.len(), PREVIEW_TEXT_BYTES - 1);
        assert!(p.truncated);
        assert_eq!(p.size, body.len());

        let big = vec![0xfe_u8; 10 * PREVIEW_HEX_BYTES];
        let p = BodyPreview::of(&big);
        assert_eq!(
            (p.encoding, p.text.len(), p.truncated),
            ("hex", 2 * PREVIEW_HEX_BYTES, true)
        );
    }

    #[test]
    fn ranges_are_checked() {
        assert!(check_range(0, 10).is_ok());
        assert!(check_range(10, 0).is_err());
        assert!(check_range(-1, 0).is_err());
        assert!(check_range(0, MAX_RANGE_MS + 1).is_err());
    }
}
