//! What producers send ([`Message`]) and where messages live ([`MessageQueue`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ferromq_model::properties::{self, keys};
use ferromq_remoting::body::lock::MessageQueue as WireQueue;

/// One queue of a topic on one broker.
///
/// Ordered as Java's `MessageQueue.compareTo`: topic, broker name, queue id, with names compared
/// by UTF-16 code units (Java `String` order), so sorted lists agree with Java clients in a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageQueue {
    pub topic: String,
    pub broker_name: String,
    pub queue_id: u32,
}

impl MessageQueue {
    #[must_use]
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: u32) -> Self {
        Self {
            topic: topic.into(),
            broker_name: broker_name.into(),
            queue_id,
        }
    }

    /// The JSON form used in admin and lock bodies.
    #[must_use]
    pub fn to_wire(&self) -> WireQueue {
        WireQueue {
            broker_name: self.broker_name.clone(),
            // Queue ids come from i32 counts on the wire, so they always fit.
            queue_id: i32::try_from(self.queue_id).unwrap_or(i32::MAX),
            topic: self.topic.clone(),
        }
    }

    /// From the JSON form; `None` for a negative queue id.
    #[must_use]
    pub fn from_wire(q: &WireQueue) -> Option<Self> {
        Some(Self {
            topic: q.topic.clone(),
            broker_name: q.broker_name.clone(),
            queue_id: u32::try_from(q.queue_id).ok()?,
        })
    }
}

/// Java `String.compareTo`: UTF-16 code unit order.
pub(crate) fn java_str_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

impl Ord for MessageQueue {
    fn cmp(&self, other: &Self) -> Ordering {
        java_str_cmp(&self.topic, &other.topic)
            .then_with(|| java_str_cmp(&self.broker_name, &other.broker_name))
            .then_with(|| self.queue_id.cmp(&other.queue_id))
    }
}

impl PartialOrd for MessageQueue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for MessageQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}#{}", self.topic, self.broker_name, self.queue_id)
    }
}

/// A message to send: topic, body, user flag and properties (system keys such as `TAGS`, `KEYS`,
/// `DELAY` and user keys alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub body: Bytes,
    /// Opaque to the broker; stored and returned as is.
    pub flag: i32,
    pub properties: BTreeMap<String, String>,
}

impl Message {
    #[must_use]
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            body: body.into(),
            flag: 0,
            properties: BTreeMap::new(),
        }
    }

    /// Sets the tag (`TAGS`), which consumers filter on.
    #[must_use]
    pub fn with_tag(self, tag: impl Into<String>) -> Self {
        self.with_property(keys::TAGS, tag)
    }

    /// Sets the business keys (`KEYS`, space-separated), which the broker indexes for queries.
    #[must_use]
    pub fn with_keys<I, K>(self, keys_iter: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let joined = keys_iter
            .into_iter()
            .map(|k| k.as_ref().to_owned())
            .filter(|k| !k.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        self.with_property(keys::KEYS, joined)
    }

    /// Delays delivery by a 4.x delay level (1 = 1 s … 18 = 2 h with the default level table).
    #[must_use]
    pub fn with_delay_level(self, level: u8) -> Self {
        self.with_property(keys::DELAY_TIME_LEVEL, level.to_string())
    }

    /// Delivers at `at` (5.x timer messages, `TIMER_DELIVER_MS`).
    #[must_use]
    pub fn with_delivery_time(self, at: SystemTime) -> Self {
        let ms = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.with_property(keys::TIMER_DELIVER_MS, ms.to_string())
    }

    /// Delivers `delay` after the broker receives the message (5.x timer messages,
    /// `TIMER_DELAY_MS`). The broker refuses delays beyond its `timerMaxDelaySec`.
    #[must_use]
    pub fn with_delivery_delay(self, delay: std::time::Duration) -> Self {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.with_property(keys::TIMER_DELAY_MS, ms.to_string())
    }

    /// Sets any property. The wire drops properties with an empty name or value, so those are not
    /// stored here either.
    #[must_use]
    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        if !name.is_empty() && !value.is_empty() {
            self.properties.insert(name, value);
        }
        self
    }

    #[must_use]
    pub fn with_flag(mut self, flag: i32) -> Self {
        self.flag = flag;
        self
    }

    #[must_use]
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }

    #[must_use]
    pub fn tag(&self) -> Option<&str> {
        self.property(keys::TAGS)
    }

    /// The business keys.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        ferromq_model::properties::split_keys(self.property(keys::KEYS).unwrap_or(""))
    }

    /// The `UNIQ_KEY` (set by the producer when sending).
    #[must_use]
    pub fn uniq_key(&self) -> Option<&str> {
        self.property(keys::UNIQ_KEY)
    }

    /// The property string as it travels.
    #[must_use]
    pub(crate) fn encoded_properties(&self) -> String {
        properties::encode(
            self.properties
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_set_system_properties() {
        let at = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        let m = Message::new("T", "b")
            .with_tag("TagA")
            .with_keys(["k1", "", "k2"])
            .with_delay_level(3)
            .with_delivery_time(at)
            .with_property("color", "red")
            .with_property("empty", "");
        assert_eq!(m.tag(), Some("TagA"));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["k1", "k2"]);
        assert_eq!(m.property("DELAY"), Some("3"));
        assert_eq!(m.property("TIMER_DELIVER_MS"), Some("1700000000123"));
        let d = Message::new("T", b"x".to_vec())
            .with_delivery_delay(std::time::Duration::from_millis(1500));
        assert_eq!(d.property("TIMER_DELAY_MS"), Some("1500"));
        assert_eq!(m.property("empty"), None);
        let wire = m.encoded_properties();
        assert_eq!(properties::get(&wire, "color"), Some("red"));
        assert_eq!(properties::get(&wire, "KEYS"), Some("k1 k2"));
    }

    #[test]
    fn queues_sort_like_java() {
        let mut qs = [
            MessageQueue::new("T", "b", 1),
            MessageQueue::new("T", "a", 10),
            MessageQueue::new("T", "a", 2),
            MessageQueue::new("S", "z", 0),
            // U+10000 sorts after U+FF21 in UTF-8 but before it in UTF-16.
            MessageQueue::new("\u{10000}", "a", 0),
            MessageQueue::new("\u{FF21}", "a", 0),
        ];
        qs.sort();
        let names: Vec<String> = qs.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "S@z#0",
                "T@a#2",
                "T@a#10",
                "T@b#1",
                "\u{10000}@a#0",
                "\u{FF21}@a#0"
            ]
        );
    }
}
