//! Transaction messages, stored the way a Java broker stores them so the data stays readable by both:
//!
//! - a half message (property `TRAN_MSG=true` on send) goes to `RMQ_SYS_TRANS_HALF_TOPIC` queue 0 with
//!   its real topic and queue in `REAL_TOPIC` / `REAL_QID`; consumers of the real topic cannot see it
//!   (`half` says which sends are half messages);
//! - END_TRANSACTION commits (re-puts it to the real topic) or rolls back, and in both cases writes an
//!   op message to `RMQ_SYS_TRANS_OP_HALF_TOPIC` whose body is the half message's queue offset, tag
//!   `d` (`crate::service`, END_TRANSACTION);
//! - a background scan asks a producer of the group (CHECK_TRANSACTION_STATE) about half messages
//!   without an op message once they are older than `transactionTimeOut`, at most
//!   `transactionCheckMax` times, then moves them to `TRANS_CHECK_MAX_TIME_TOPIC`
//!   (`crate::tasks::transaction_check`).
//!
//! The scan's progress through both queues is kept as consumer offsets of the system group
//! `CID_RMQ_SYS_TRANS`, like Java, so it survives restarts with the other offsets.

pub(crate) mod half;
pub mod meters;
pub mod relay;

use std::collections::{HashSet, VecDeque};

use bytes::Bytes;
use ferromq_model::properties::{self, NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR};
use ferromq_model::record::{self, Entry, RecordView};
use ferromq_store::Store;
use parking_lot::Mutex;

use crate::error::BrokerError;

/// Where half messages wait for their outcome.
pub const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// One op message per ended half message.
pub const OP_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Half messages discarded after `transactionCheckMax` unanswered checks.
pub const CHECK_MAX_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// The system group whose offsets record how far the scan got.
pub const SYSTEM_GROUP: &str = "CID_RMQ_SYS_TRANS";
/// Tag of op messages ("remove").
pub const REMOVE_TAG: &str = "d";
/// How many times a half message has been checked.
pub const CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
/// Producer's minimum age, in seconds, before the first check.
pub const CHECK_IMMUNITY_SECS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";

/// How many ended transaction ids are remembered.
const ENDED_CAPACITY: usize = 100_000;

/// Transaction ids (`UNIQ_KEY`s) recently committed or rolled back. A half message may be checked
/// again while the answer to an earlier check is on its way; remembering the outcome keeps a second
/// answer from committing the message twice. In memory only: after a restart the op messages alone
/// decide, as in Java.
#[derive(Debug, Default)]
pub struct Ended {
    inner: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl Ended {
    /// Records `id`; false when it had ended already.
    pub(crate) fn insert(&self, id: &str) -> bool {
        let mut guard = self.inner.lock();
        let (set, order) = &mut *guard;
        if !set.insert(id.to_owned()) {
            return false;
        }
        order.push_back(id.to_owned());
        if order.len() > ENDED_CAPACITY {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.inner.lock().0.contains(id)
    }
}

/// Reads and verifies the record at a commit-log offset.
pub(crate) fn read_record(store: &Store, physical_offset: u64) -> Result<Bytes, BrokerError> {
    Ok(store.read_record(physical_offset)?)
}

/// Decodes a record returned by the store.
pub(crate) fn view(bytes: &Bytes) -> Result<RecordView<'_>, BrokerError> {
    match record::read(bytes, false) {
        Ok(Entry::Message(v)) => Ok(v),
        Ok(Entry::Blank { .. }) => Err(BrokerError::Missing("no message at this offset".into())),
        Err(e) => Err(BrokerError::Missing(format!("unreadable message: {e}"))),
    }
}

/// `props` without the entries named in `remove` or `set`, followed by the `set` entries.
pub(crate) fn edit_properties(props: &str, remove: &[&str], set: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(props.len() + 64);
    for (name, value) in properties::iter(props) {
        if remove.contains(&name) || set.iter().any(|(n, _)| *n == name) {
            continue;
        }
        out.push_str(name);
        out.push(NAME_VALUE_SEPARATOR);
        out.push_str(value);
        out.push(PROPERTY_SEPARATOR);
    }
    out.push_str(&properties::encode(set.iter().copied()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_replace_remove_and_keep_order() {
        let p = properties::encode([("A", "1"), ("B", "2"), ("C", "3")]);
        let e = edit_properties(&p, &["B"], &[("A", "9"), ("D", "4")]);
        assert_eq!(e, properties::encode([("C", "3"), ("A", "9"), ("D", "4")]));
        assert_eq!(edit_properties("", &["X"], &[]), "");
    }

    #[test]
    fn java_keys_configure_the_check() {
        let c = crate::java_conf::parse(
            "transactionCheckInterval=100\ntransactionTimeOut=200\ntransactionCheckMax=3\n",
            "broker.conf",
        )
        .expect("parses");
        assert_eq!(
            (
                c.transaction_check_interval_ms,
                c.transaction_timeout_ms,
                c.transaction_check_max
            ),
            (100, 200, 3)
        );
        let d = crate::BrokerConfig::default();
        assert_eq!(
            (
                d.transaction_check_interval_ms,
                d.transaction_timeout_ms,
                d.transaction_check_max
            ),
            (30_000, 6_000, 15)
        );
        let zero = crate::BrokerConfig {
            transaction_check_interval_ms: 0,
            ..d
        };
        assert!(zero.validate().is_err());
    }

    #[test]
    fn ended_transactions_are_remembered_once() {
        let ended = Ended::default();
        assert!(ended.insert("a"));
        assert!(!ended.insert("a"));
        assert!(ended.contains("a"));
        assert!(!ended.contains("b"));
    }
}
