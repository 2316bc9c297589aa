//! Recalling a timer message before it is delivered.
//!
//! A send that parks a message in the timer answers with a recall handle: base64url (with padding)
//! of `"v1 <real topic> <broker name> <delivery ms> <unique key>"`, the layout Apache RocketMQ
//! 5.3 uses, so a handle reads the same whichever broker wrote it. The handle is not a secret:
//! whoever may write to the topic may recall its timer messages, as in Apache RocketMQ.
//!
//! A recall stores a *cancel marker* in the timer topic: a message with no body of its own whose
//! `TIMER_DEL_UNIQKEY` names the message to drop and whose `TIMER_OUT_MS` is the same delivery
//! time. The timer takes markers in like any timer message, so they are as durable (and
//! replicated) as the messages they cancel, and chains them into the same wheel slot; when that
//! slot comes, every message a marker of the slot names is dropped instead of delivered.

pub use crate::error::RecallError;
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;

/// Property of a cancel marker: the unique key of the timer message it cancels.
pub const DEL_UNIQ_KEY: &str = "TIMER_DEL_UNIQKEY";

const VERSION: &str = "v1";

/// What a recall handle names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallHandle {
    /// The topic the message is for (not the timer topic).
    pub topic: String,
    pub broker_name: String,
    /// When the message is due (ms since the epoch).
    pub deliver_ms: i64,
    /// The message's `UNIQ_KEY` (its v5 message id).
    pub uniq_key: String,
}

impl RecallHandle {
    /// The handle's text form.
    #[must_use]
    pub fn encode(&self) -> String {
        let raw = format!(
            "{VERSION} {} {} {} {}",
            self.topic, self.broker_name, self.deliver_ms, self.uniq_key
        );
        URL_SAFE.encode(raw)
    }

    /// Reads a handle; anything not written by [`RecallHandle::encode`] (or Apache RocketMQ) is
    /// `Malformed`.
    ///
    /// # Errors
    /// `RecallError::Malformed`.
    pub fn decode(text: &str) -> Result<Self, RecallError> {
        if text.is_empty() {
            return Err(RecallError::Malformed("empty"));
        }
        let bytes = URL_SAFE
            .decode(text.trim())
            .map_err(|_| RecallError::Malformed("not base64url"))?;
        let raw = String::from_utf8(bytes).map_err(|_| RecallError::Malformed("not UTF-8"))?;
        let mut items = raw.split(' ');
        if items.next() != Some(VERSION) {
            return Err(RecallError::Malformed("unknown version"));
        }
        let (Some(topic), Some(broker_name), Some(deliver), Some(uniq_key), None) = (
            items.next(),
            items.next(),
            items.next(),
            items.next(),
            items.next(),
        ) else {
            return Err(RecallError::Malformed("wrong number of fields"));
        };
        if topic.is_empty() || broker_name.is_empty() || uniq_key.is_empty() {
            return Err(RecallError::Malformed("empty field"));
        }
        let deliver_ms = deliver
            .parse()
            .map_err(|_| RecallError::Malformed("delivery time is not a number"))?;
        Ok(Self {
            topic: topic.to_owned(),
            broker_name: broker_name.to_owned(),
            deliver_ms,
            uniq_key: uniq_key.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle() -> RecallHandle {
        RecallHandle {
            topic: "orders".into(),
            broker_name: "broker-a".into(),
            deliver_ms: 1_888_825_600_000,
            uniq_key: "7F0000010001".into(),
        }
    }

    #[test]
    fn round_trips_and_reads_the_apache_layout() {
        assert_eq!(RecallHandle::decode(&handle().encode()), Ok(handle()));
        // What Apache RocketMQ's HandleV1.buildHandle("orders", "broker-a", "1888825600000",
        // "7F0000010001") writes.
        let apache = URL_SAFE.encode("v1 orders broker-a 1888825600000 7F0000010001");
        assert_eq!(RecallHandle::decode(&apache), Ok(handle()));
    }

    #[test]
    fn refuses_what_it_did_not_write() {
        for bad in [
            String::new(),
            "%%%".into(),
            URL_SAFE.encode("v2 a b 1 d"),
            URL_SAFE.encode("v1 a b 1"),
            URL_SAFE.encode("v1 a b 1 d e"),
            URL_SAFE.encode("v1 a b soon d"),
            URL_SAFE.encode("v1  b 1 d"),
            URL_SAFE.encode([0xff, 0xfe]),
        ] {
            assert!(
                matches!(RecallHandle::decode(&bad), Err(RecallError::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}
