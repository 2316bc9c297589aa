//! Topic and group naming rules (RocketMQ `TopicValidator`) and the derived system names.

use crate::error::BrokerError;

/// The template topic producers fall back to; auto-created topics copy it.
pub const AUTO_CREATE_TOPIC: &str = "TBW102";
/// Prefix of a consumer group's retry topic.
pub const RETRY_PREFIX: &str = "%RETRY%";
/// Prefix of a consumer group's dead-letter topic.
pub const DLQ_PREFIX: &str = "%DLQ%";

const TOPIC_MAX_LEN: usize = 127;
/// Retry and DLQ topics add a prefix to a group name, so they may be longer.
const SYSTEM_TOPIC_MAX_LEN: usize = 255;
const GROUP_MAX_LEN: usize = 120;

/// System topics clients may not send to directly.
const NOT_ALLOWED_SEND: &[&str] = &[
    "SCHEDULE_TOPIC_XXXX",
    "SCHEDULE_TOPIC_XXXX_V2",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "SELF_TEST_TOPIC",
    "OFFSET_MOVED_EVENT",
];

fn legal_chars(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
}

/// Checks a topic name: `^[%|a-zA-Z0-9_-]+$`, at most 127 characters (255 for retry/DLQ topics).
///
/// # Errors
/// `InvalidName` with Java's remark.
pub fn validate_topic(topic: &str) -> Result<(), BrokerError> {
    let bad = |reason| {
        Err(BrokerError::InvalidName {
            name: topic.to_owned(),
            reason,
        })
    };
    if topic.trim().is_empty() {
        return bad("The specified topic is blank.");
    }
    if !legal_chars(topic) {
        return bad(
            "The specified topic contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$",
        );
    }
    let max = if is_retry_or_dlq(topic) {
        SYSTEM_TOPIC_MAX_LEN
    } else {
        TOPIC_MAX_LEN
    };
    if topic.len() > max {
        return bad("The specified topic is longer than topic max length.");
    }
    Ok(())
}

/// Checks a consumer or producer group name: same characters as topics, at most 120.
///
/// # Errors
/// `InvalidName` with a remark naming the rule.
pub fn validate_group(group: &str) -> Result<(), BrokerError> {
    let bad = |reason| {
        Err(BrokerError::InvalidName {
            name: group.to_owned(),
            reason,
        })
    };
    if group.trim().is_empty() {
        return bad("The specified group is blank.");
    }
    if !legal_chars(group) {
        return bad(
            "The specified group contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$",
        );
    }
    if group.len() > GROUP_MAX_LEN {
        return bad("The specified group is longer than group max length 120.");
    }
    Ok(())
}

/// Whether clients are refused when sending to `topic`.
#[must_use]
pub fn is_not_allowed_send(topic: &str) -> bool {
    NOT_ALLOWED_SEND.contains(&topic)
}

/// `%RETRY%<group>`.
#[must_use]
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_PREFIX}{group}")
}

#[must_use]
pub fn is_retry_topic(topic: &str) -> bool {
    topic.starts_with(RETRY_PREFIX)
}

fn is_retry_or_dlq(topic: &str) -> bool {
    topic.starts_with(RETRY_PREFIX) || topic.starts_with(DLQ_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_rules() {
        assert!(validate_topic("TopicTest").is_ok());
        assert!(validate_topic("%RETRY%cg-1|x_y").is_ok());
        assert!(validate_topic("").is_err());
        assert!(validate_topic("a b").is_err());
        assert!(validate_topic("topic.with.dots").is_err());
        assert!(validate_topic(&"t".repeat(127)).is_ok());
        assert!(validate_topic(&"t".repeat(128)).is_err());
        assert!(validate_topic(&format!("%RETRY%{}", "g".repeat(120))).is_ok());
        assert!(is_not_allowed_send("SCHEDULE_TOPIC_XXXX"));
        assert!(!is_not_allowed_send("TBW102"));
    }

    #[test]
    fn group_rules() {
        assert!(validate_group("cg1").is_ok());
        assert!(validate_group("g@1").is_err());
        assert!(validate_group(&"g".repeat(121)).is_err());
        assert_eq!(retry_topic("cg"), "%RETRY%cg");
        assert!(is_retry_topic("%RETRY%cg"));
    }
}
