//! The message property string: `name \x01 value \x02` for every entry.
//!
//! Parsing follows the Java reader: an entry counts only with a non-empty name and a non-empty value.

/// Separates a name from its value.
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Ends every entry.
pub const PROPERTY_SEPARATOR: char = '\u{2}';

/// System property keys the store and broker act on.
pub mod keys {
    pub const KEYS: &str = "KEYS";
    pub const TAGS: &str = "TAGS";
    pub const UNIQ_KEY: &str = "UNIQ_KEY";
    pub const WAIT_STORE_MSG_OK: &str = "WAIT";
    pub const DELAY_TIME_LEVEL: &str = "DELAY";
    pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
    pub const REAL_TOPIC: &str = "REAL_TOPIC";
    pub const REAL_QUEUE_ID: &str = "REAL_QID";
    pub const TRANSACTION_PREPARED: &str = "TRAN_MSG";
    pub const PRODUCER_GROUP: &str = "PGROUP";
    pub const CLUSTER: &str = "CLUSTER";
    pub const MSG_REGION: &str = "MSG_REGION";
    pub const TRACE_SWITCH: &str = "TRACE_ON";
    pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
    pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
    pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
    pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
    pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
    pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
    pub const TRANSACTION_ID: &str = "__transactionId__";
    /// Absolute delivery time (ms since the epoch) of a message parked by the timer.
    pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
    /// Older clients' name for an absolute delivery time.
    pub const START_DELIVER_TIME: &str = "__STARTDELIVERTIME";
    /// Request-reply: the requesting client's id, where the broker pushes the reply.
    pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
    /// Request-reply: matches a reply to its request.
    pub const CORRELATION_ID: &str = "CORRELATION_ID";
    /// Request-reply: when the broker pushed the reply (ms since the epoch).
    pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
}

/// The system properties the send path acts on (unique key, cluster, transaction flag, delay level,
/// timers), found in one pass over a message's property string instead of one scan per rule.
/// Values are as stored; each rule parses the one it needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendProps<'a> {
    pub uniq_key: Option<&'a str>,
    pub cluster: Option<&'a str>,
    pub transaction_prepared: Option<&'a str>,
    pub delay_level: Option<&'a str>,
    pub timer_delay_sec: Option<&'a str>,
    pub timer_delay_ms: Option<&'a str>,
    pub timer_deliver_ms: Option<&'a str>,
    pub start_deliver_time: Option<&'a str>,
    pub timer_out_ms: Option<&'a str>,
}

impl<'a> SendProps<'a> {
    /// Each field as [`get`] would find it.
    #[must_use]
    pub fn scan(props: &'a str) -> Self {
        let [uniq_key, cluster, transaction_prepared, delay_level, timer_delay_sec, timer_delay_ms, timer_deliver_ms, start_deliver_time, timer_out_ms] =
            get_all(
                props,
                [
                    keys::UNIQ_KEY,
                    keys::CLUSTER,
                    keys::TRANSACTION_PREPARED,
                    keys::DELAY_TIME_LEVEL,
                    keys::TIMER_DELAY_SEC,
                    keys::TIMER_DELAY_MS,
                    keys::TIMER_DELIVER_MS,
                    keys::START_DELIVER_TIME,
                    keys::TIMER_OUT_MS,
                ],
            );
        Self {
            uniq_key,
            cluster,
            transaction_prepared,
            delay_level,
            timer_delay_sec,
            timer_delay_ms,
            timer_deliver_ms,
            start_deliver_time,
            timer_out_ms,
        }
    }
}

/// Iterates the valid `(name, value)` entries of a property string, in stored order.
pub fn iter(props: &str) -> impl Iterator<Item = (&str, &str)> {
    props.split(PROPERTY_SEPARATOR).filter_map(|entry| {
        let (name, value) = entry.split_once(NAME_VALUE_SEPARATOR)?;
        (!name.is_empty() && !value.is_empty()).then_some((name, value))
    })
}

/// The value of `name`, if present; a later duplicate wins, as a Java `HashMap` fill would.
#[must_use]
pub fn get<'a>(props: &'a str, name: &str) -> Option<&'a str> {
    iter(props)
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .last()
}

/// The values of several names in one pass over the string, each as [`get`] finds it.
#[must_use]
pub fn get_all<'a, const N: usize>(props: &'a str, names: [&str; N]) -> [Option<&'a str>; N] {
    let mut out = [None; N];
    for (name, value) in iter(props) {
        if let Some(i) = names.iter().position(|n| *n == name) {
            out[i] = Some(value);
        }
    }
    out
}

/// Encodes entries into a property string. Entries with an empty name or value are dropped, because the
/// reader would drop them anyway.
#[must_use]
pub fn encode<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in entries {
        if name.is_empty() || value.is_empty() {
            continue;
        }
        out.push_str(name);
        out.push(NAME_VALUE_SEPARATOR);
        out.push_str(value);
        out.push(PROPERTY_SEPARATOR);
    }
    out
}

/// The space-separated business keys of `KEYS`, empties skipped.
pub fn business_keys(props: &str) -> impl Iterator<Item = &str> {
    split_keys(get(props, keys::KEYS).unwrap_or(""))
}

/// The words of a `KEYS` value: space-separated, empties skipped.
pub fn split_keys(value: &str) -> impl Iterator<Item = &str> {
    value.split(' ').filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_all_agrees_with_get() {
        let s = "A\u{1}1\u{2}B\u{1}2\u{2}A\u{1}3\u{2}\u{1}x\u{2}C\u{1}\u{2}";
        let names = ["A", "B", "C", "D"];
        assert_eq!(get_all(s, names), names.map(|n| get(s, n)));
        assert_eq!(get_all(s, names), [Some("3"), Some("2"), None, None]);
    }

    #[test]
    fn send_props_agree_with_get() {
        let s = encode([
            (keys::UNIQ_KEY, "U1"),
            (keys::DELAY_TIME_LEVEL, "3"),
            (keys::TIMER_DELAY_MS, "500"),
            (keys::START_DELIVER_TIME, "42"),
            (keys::DELAY_TIME_LEVEL, "4"),
        ]);
        let p = SendProps::scan(&s);
        assert_eq!(p.uniq_key, get(&s, keys::UNIQ_KEY));
        assert_eq!(p.delay_level, Some("4"), "a later duplicate wins");
        assert_eq!(p.timer_delay_ms, Some("500"));
        assert_eq!(p.start_deliver_time, Some("42"));
        assert_eq!(
            (p.cluster, p.timer_out_ms, p.transaction_prepared),
            (None, None, None)
        );
        assert_eq!(SendProps::scan(""), SendProps::default());
    }

    #[test]
    fn round_trip_and_java_rules() {
        let s = encode([
            ("TAGS", "TagA"),
            ("KEYS", "k1 k2"),
            ("EMPTY", ""),
            ("", "x"),
        ]);
        assert_eq!(s, "TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}");
        assert_eq!(get(&s, "TAGS"), Some("TagA"));
        assert_eq!(get(&s, "EMPTY"), None);
        assert_eq!(business_keys(&s).collect::<Vec<_>>(), vec!["k1", "k2"]);
        // Malformed segments are skipped, not fatal.
        let odd = "junk\u{2}A\u{1}\u{2}B\u{1}b\u{2}";
        assert_eq!(iter(odd).collect::<Vec<_>>(), vec![("B", "b")]);
    }
}
