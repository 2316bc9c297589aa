//! Receipt handles: what a consumer gets with each popped message and hands back to ack it or to
//! change its invisible time.
//!
//! The text is RocketMQ's "extra info", because Java remoting clients parse it (they read the broker
//! name, queue id and offset out of it and rebuild it after a change of invisible time):
//!
//! ```text
//! <offset> <popTime> <invisibleTime> <token> 0 <brokerName> <queueId> <offset>
//! ```
//!
//! Java's fourth field is the revive queue id; here it carries a random per-delivery token, so a
//! handle is valid only for the delivery it was issued for (see `leases`). The fifth field is the
//! topic kind (`0`: a normal topic; this broker pops no retry topics). A gRPC proxy may append the
//! commit-log offset as a ninth field; it is accepted and ignored.

use std::fmt;

/// Longest handle text accepted, well above any real one, so garbage is refused before parsing.
const MAX_LEN: usize = 512;

/// A parsed receipt handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptHandle {
    pub broker_name: String,
    pub queue_id: u32,
    /// The message's queue offset.
    pub offset: u64,
    /// When the delivery (or the last change of invisible time) happened, ms since the epoch.
    pub pop_time_ms: u64,
    pub invisible_ms: u64,
    /// Identifies the delivery; non-negative so Java's `Integer.parseInt` reads it.
    pub token: u32,
}

/// Why a handle text was refused before any lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed receipt handle: {0}")]
pub struct MalformedHandle(pub &'static str);

impl ReceiptHandle {
    /// The largest token: Java parses the field as an `int`.
    pub const MAX_TOKEN: u32 = i32::MAX.unsigned_abs();

    /// Reads a handle text.
    ///
    /// # Errors
    /// Anything that is not a handle this broker could have written.
    pub fn parse(text: &str) -> Result<Self, MalformedHandle> {
        if text.len() > MAX_LEN {
            return Err(MalformedHandle("too long"));
        }
        let fields: Vec<&str> = text.split(' ').collect();
        if !(8..=9).contains(&fields.len()) {
            return Err(MalformedHandle("expected 8 space-separated fields"));
        }
        let number = |i: usize, what: &'static str| -> Result<u64, MalformedHandle> {
            let f = fields[i];
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return Err(MalformedHandle(what));
            }
            f.parse().map_err(|_| MalformedHandle(what))
        };
        let check_offset = number(0, "bad start offset")?;
        let pop_time_ms = number(1, "bad pop time")?;
        let invisible_ms = number(2, "bad invisible time")?;
        let token = u32::try_from(number(3, "bad token")?)
            .ok()
            .filter(|t| *t <= Self::MAX_TOKEN)
            .ok_or(MalformedHandle("bad token"))?;
        if fields[4] != "0" {
            return Err(MalformedHandle("unknown topic kind"));
        }
        let broker_name = fields[5];
        if broker_name.is_empty() {
            return Err(MalformedHandle("empty broker name"));
        }
        let queue_id = u32::try_from(number(6, "bad queue id")?)
            .ok()
            .filter(|q| i32::try_from(*q).is_ok())
            .ok_or(MalformedHandle("bad queue id"))?;
        let offset = number(7, "bad queue offset")?;
        if check_offset != offset {
            return Err(MalformedHandle("start offset and queue offset differ"));
        }
        if fields.len() == 9 {
            number(8, "bad commit-log offset")?;
        }
        Ok(Self {
            broker_name: broker_name.to_owned(),
            queue_id,
            offset,
            pop_time_ms,
            invisible_ms,
            token,
        })
    }
}

impl fmt::Display for ReceiptHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{o} {} {} {} 0 {} {} {o}",
            self.pop_time_ms,
            self.invisible_ms,
            self.token,
            self.broker_name,
            self.queue_id,
            o = self.offset
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> ReceiptHandle {
        ReceiptHandle {
            broker_name: "broker-a".into(),
            queue_id: 3,
            offset: 42,
            pop_time_ms: 1_700_000_000_000,
            invisible_ms: 30_000,
            token: 12_345,
        }
    }

    #[test]
    fn text_is_java_extra_info() {
        let text = sample().to_string();
        assert_eq!(text, "42 1700000000000 30000 12345 0 broker-a 3 42");
        assert_eq!(ReceiptHandle::parse(&text), Ok(sample()));
    }

    #[test]
    fn a_ninth_commit_log_offset_is_accepted() {
        let text = format!("{} 9000", sample());
        assert_eq!(ReceiptHandle::parse(&text), Ok(sample()));
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "x",
            "42 1 2 3 0 b 3",
            "42 1 2 3 1 b 3 42",
            "42 1 2 -3 0 b 3 42",
            "42 1 2 3 0 b -1 42",
            "41 1 2 3 0 b 3 42",
            "42 1 2 3 0  3 42",
            "42 1 2 99999999999 0 b 3 42",
            "42 1 2 3 0 b 3 42 x",
            "+42 1 2 3 0 b 3 +42",
            "42 1 2 3 0 b 3 42 1 2",
        ] {
            assert!(ReceiptHandle::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ReceiptHandle::parse(&"1 ".repeat(400)).is_err());
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused(text in ".{0,600}") {
            let _ = ReceiptHandle::parse(&text);
        }

        #[test]
        fn near_miss_texts_never_panic(fields in proptest::collection::vec("[0-9a-z-]{0,22}", 0..10)) {
            let _ = ReceiptHandle::parse(&fields.join(" "));
        }

        #[test]
        fn round_trips(
            queue_id in 0u32..=i32::MAX.unsigned_abs(),
            offset: u64,
            pop_time_ms: u64,
            invisible_ms: u64,
            token in 0u32..=ReceiptHandle::MAX_TOKEN,
            broker_name in "[A-Za-z0-9_-]{1,20}",
        ) {
            let h = ReceiptHandle { broker_name, queue_id, offset, pop_time_ms, invisible_ms, token };
            prop_assert_eq!(ReceiptHandle::parse(&h.to_string()), Ok(h));
        }
    }
}
